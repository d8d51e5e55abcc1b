#include "transport/record.h"

#include <string.h>

#include <openssl/crypto.h>

#include "crypto/hkdf.h"
#include "lib/wire.h"

static nn_err_t
expand(uint8_t *out, size_t n, const nn_secret_t *secret, const char *label)
{
  return nn_hkdf_expand(out, n, secret, (const uint8_t *)label, strlen(label));
}

/* Derive key, IV and length key from the current secret. */
static nn_err_t
load_secret(nn_rec_dir_t *d)
{
  nn_aead_key_t key;
  uint8_t lkey[32];
  nn_err_t err;

  if ((err = expand(key.b, sizeof(key.b), &d->secret, "nepnet/v1 record key")) ||
      (err = expand(d->iv.b, sizeof(d->iv.b), &d->secret, "nepnet/v1 record iv")) ||
      (err = expand(lkey, sizeof(lkey), &d->secret, "nepnet/v1 record len")) || (err = nn_aead_init(&d->aead, &key)) ||
      (err = nn_aesblock_init(&d->lenc, lkey)))
    goto out;
out:
  OPENSSL_cleanse(&key, sizeof(key));
  OPENSSL_cleanse(lkey, sizeof(lkey));
  return err;
}

nn_err_t
nn_rec_dir_init(nn_rec_dir_t *d, const nn_secret_t *traffic_secret, uint64_t rekey_interval)
{
  memset(d, 0, sizeof(*d));
  d->secret = *traffic_secret;
  d->rekey_interval = rekey_interval ? rekey_interval : NN_REC_DEFAULT_REKEY;
  return load_secret(d);
}

void
nn_rec_dir_clear(nn_rec_dir_t *d)
{
  if (!d)
    return;
  nn_aead_free(&d->aead);
  nn_aesblock_free(&d->lenc);
  OPENSSL_cleanse(d, sizeof(*d));
}

/* One-way step: the old secret is gone, so a later compromise cannot read earlier records. */
static nn_err_t
ratchet(nn_rec_dir_t *d)
{
  nn_secret_t next;
  nn_err_t err = expand(next.b, sizeof(next.b), &d->secret, "nepnet/v1 record next");
  if (!err) {
    d->secret = next;
    d->seq = 0;
    d->epoch++;
    err = load_secret(d);
  }
  OPENSSL_cleanse(&next, sizeof(next));
  return err;
}

static nn_err_t
advance(nn_rec_dir_t *d)
{
  return ++d->seq >= d->rekey_interval ? ratchet(d) : NN_OK;
}

static void
nonce_for(const nn_rec_dir_t *d, nn_aead_nonce_t *n)
{
  *n = d->iv;
  for (int i = 0; i < 8; i++)
    n->b[4 + i] ^= (uint8_t)(d->seq >> (56 - 8 * i));
}

static nn_err_t
len_mask(nn_rec_dir_t *d, uint8_t mask[3])
{
  uint8_t in[16] = { 0 }, out[16];
  nn_be64_put(in, d->seq);
  nn_err_t err = nn_aesblock_encrypt(&d->lenc, in, out);
  memcpy(mask, out, 3);
  return err;
}

nn_err_t
nn_rec_seal(nn_rec_dir_t *d, nn_rec_type_t type, const uint8_t *content, size_t len, size_t pad, uint8_t *out)
{
  static const uint8_t zeros[NN_REC_MAX_PAD];
  uint8_t inner[NN_REC_INNER_LEN], mask[3];
  nn_aead_nonce_t nonce;
  nn_err_t err;

  if (len > NN_REC_MAX_CONTENT || pad > NN_REC_MAX_PAD)
    return NN_ERR_ARG;
  size_t ct_len = NN_REC_INNER_LEN + len + pad + NN_AEAD_TAG_LEN;
  if ((err = len_mask(d, mask)))
    return err;
  out[0] = (uint8_t)(ct_len >> 16) ^ mask[0];
  out[1] = (uint8_t)(ct_len >> 8) ^ mask[1];
  out[2] = (uint8_t)ct_len ^ mask[2];
  inner[0] = (uint8_t)type;
  inner[1] = (uint8_t)(len >> 16);
  inner[2] = (uint8_t)(len >> 8);
  inner[3] = (uint8_t)len;
  nn_iov_t parts[3] = { { inner, sizeof(inner) }, { content, len }, { zeros, pad } };
  nonce_for(d, &nonce);
  if ((err = nn_aead_seal_iov(&d->aead, &nonce, out, NN_REC_HDR_LEN, parts, 3, out + NN_REC_HDR_LEN)))
    return err;
  return advance(d);
}

nn_err_t
nn_rec_open_header(nn_rec_dir_t *d, const uint8_t hdr[NN_REC_HDR_LEN], size_t *ct_len)
{
  uint8_t mask[3];
  nn_err_t err = len_mask(d, mask);
  *ct_len = 0;
  if (err)
    return err;
  size_t n = ((size_t)(hdr[0] ^ mask[0]) << 16) | ((size_t)(hdr[1] ^ mask[1]) << 8) | (hdr[2] ^ mask[2]);
  if (n > NN_REC_MAX_CT)
    return NN_ERR_TOO_LONG;
  if (n < NN_REC_MIN_CT)
    return NN_ERR_FORMAT;
  *ct_len = n;
  return NN_OK;
}

nn_err_t
nn_rec_open_to(nn_rec_dir_t *d, const uint8_t hdr[NN_REC_HDR_LEN], const uint8_t *ct, size_t ct_len, uint8_t *out,
               uint8_t *type, const uint8_t **content, size_t *len)
{
  nn_aead_nonce_t nonce;
  nn_err_t err;

  *content = NULL;
  *len = 0;
  if (ct_len < NN_REC_MIN_CT || ct_len > NN_REC_MAX_CT)
    return NN_ERR_FORMAT;
  nonce_for(d, &nonce);
  if ((err = nn_aead_open(&d->aead, &nonce, hdr, NN_REC_HDR_LEN, ct, ct_len, out)))
    return err;
  size_t pt_len = ct_len - NN_AEAD_TAG_LEN;
  size_t clen = ((size_t)out[1] << 16) | ((size_t)out[2] << 8) | out[3];
  if (out[0] > NN_REC_CLOSE || clen > pt_len - NN_REC_INNER_LEN || clen > NN_REC_MAX_CONTENT)
    return NN_ERR_FORMAT;
  *type = out[0];
  *content = out + NN_REC_INNER_LEN;
  *len = clen;
  return advance(d);
}

nn_err_t
nn_rec_open(nn_rec_dir_t *d, const uint8_t hdr[NN_REC_HDR_LEN], uint8_t *ct, size_t ct_len, uint8_t *type,
            const uint8_t **content, size_t *len)
{
  return nn_rec_open_to(d, hdr, ct, ct_len, ct, type, content, len);
}
