#include "crypto/hybrid.h"

#include <string.h>

#include <openssl/crypto.h>

#include "crypto/sha3.h"

nn_err_t
nn_hybrid_combine(nn_secret_t *ss, const nn_secret_t *ss_m, const nn_secret_t *ss_x, const nn_hybrid_ct_t *ct,
                  const nn_hybrid_pk_t *pk)
{
  nn_sha3_t h;
  nn_hash_t out;
  nn_err_t err;

  if ((err = nn_sha3_init(&h)))
    return err;
  if ((err = nn_sha3_update(&h, ss_m->b, sizeof(ss_m->b))) || (err = nn_sha3_update(&h, ss_x->b, sizeof(ss_x->b))) ||
      (err = nn_sha3_update(&h, ct->x.b, sizeof(ct->x.b))) || (err = nn_sha3_update(&h, pk->x.b, sizeof(pk->x.b))) ||
      (err = nn_sha3_update(&h, ct->m.b, sizeof(ct->m.b))) || (err = nn_sha3_update(&h, pk->m.b, sizeof(pk->m.b))) ||
      (err = nn_sha3_update(&h, (const uint8_t *)NN_HYBRID_LABEL, strlen(NN_HYBRID_LABEL)))) {
    nn_sha3_free(&h);
    return err;
  }
  if (!(err = nn_sha3_final(&h, &out)))
    memcpy(ss->b, out.b, sizeof(ss->b));
  OPENSSL_cleanse(&out, sizeof(out));
  return err;
}

nn_err_t
nn_hybrid_keygen(nn_hybrid_key_t *k, const nn_rng_t *rng)
{
  nn_err_t err;

  memset(k, 0, sizeof(*k));
  if ((err = nn_x25519_key_new(&k->xkey, &k->pk.x, rng)) || (err = nn_mlkem_keygen(&k->mkey, rng))) {
    nn_hybrid_key_clear(k);
    return err;
  }
  k->pk.m = *nn_mlkem_public(k->mkey);
  return NN_OK;
}

void
nn_hybrid_key_clear(nn_hybrid_key_t *k)
{
  if (!k)
    return;
  nn_mlkem_key_free(k->mkey);
  nn_x25519_key_free(k->xkey);
  OPENSSL_cleanse(k, sizeof(*k));
}

nn_err_t
nn_hybrid_encaps(nn_hybrid_ct_t *ct, nn_secret_t *ss, const nn_hybrid_pk_t *pk, const nn_rng_t *rng)
{
  nn_x25519_key_t *ek = NULL;
  nn_secret_t ss_x, ss_m;
  nn_err_t err;

  if ((err = nn_x25519_key_new(&ek, &ct->x, rng)) || (err = nn_x25519_key_shared(&ss_x, ek, &pk->x)) ||
      (err = nn_mlkem_encaps(&ct->m, &ss_m, &pk->m, rng)))
    goto out;
  err = nn_hybrid_combine(ss, &ss_m, &ss_x, ct, pk);
out:
  nn_x25519_key_free(ek);
  OPENSSL_cleanse(&ss_x, sizeof(ss_x));
  OPENSSL_cleanse(&ss_m, sizeof(ss_m));
  if (err)
    OPENSSL_cleanse(ss, sizeof(*ss));
  return err;
}

nn_err_t
nn_hybrid_decaps(nn_secret_t *ss, const nn_hybrid_key_t *k, const nn_hybrid_ct_t *ct)
{
  nn_secret_t ss_x, ss_m;
  nn_err_t err;

  if ((err = nn_x25519_key_shared(&ss_x, k->xkey, &ct->x)) || (err = nn_mlkem_decaps(&ss_m, k->mkey, &ct->m)))
    goto out;
  err = nn_hybrid_combine(ss, &ss_m, &ss_x, ct, &k->pk);
out:
  OPENSSL_cleanse(&ss_x, sizeof(ss_x));
  OPENSSL_cleanse(&ss_m, sizeof(ss_m));
  if (err)
    OPENSSL_cleanse(ss, sizeof(*ss));
  return err;
}
