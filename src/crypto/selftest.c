/*
 * The start-up self-test: a handful of published vectors, small enough to embed, and the round
 * trips that catch a miswired build (wrong provider, wrong parameter names) before a node talks
 * to anyone. The complete known-answer suites live in tests/.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>

#include "nepnet/nepnet.h"
#include "crypto/aead.h"
#include "crypto/ellswift.h"
#include "crypto/hkdf.h"
#include "crypto/hybrid.h"
#include "crypto/kemeleon.h"
#include "crypto/mldsa.h"
#include "crypto/mlkem.h"
#include "crypto/sha3.h"
#include "crypto/x25519.h"
#include "lib/clock.h"
#include "lib/hex.h"

const char *
nn_version(void)
{
  return NEPNET_VERSION;
}
const char *
nn_openssl_version(void)
{
  return OpenSSL_version(OPENSSL_VERSION_STRING);
}

/* Decode a compile-time hex constant; a typo here is a build bug, reported as NN_ERR_ARG. */
#define HEX(buf, s)                                                                                                    \
  do {                                                                                                                 \
    if (nn_hex_decode((buf), sizeof(buf), (s)))                                                                        \
      return NN_ERR_ARG;                                                                                               \
  } while (0)

static nn_err_t
expect(const void *got, const void *want, size_t n)
{
  return CRYPTO_memcmp(got, want, n) == 0 ? NN_OK : NN_ERR_VERIFY;
}

static nn_err_t
kat_sha3(void)
{
  uint8_t want[32];
  nn_hash_t h;
  /* FIPS 202, SHA3-256 of the empty string */
  HEX(want, "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
  if (nn_sha3_256(&h, (const uint8_t *)"", 0))
    return NN_ERR_CRYPTO;
  return expect(h.b, want, 32);
}

static nn_err_t
kat_hkdf(void)
{
  uint8_t ikm[22], salt[13], info[10], want[42], okm[42], prk[32];
  /* RFC 5869, test case 1 */
  memset(ikm, 0x0b, sizeof(ikm));
  HEX(salt, "000102030405060708090a0b0c");
  HEX(info, "f0f1f2f3f4f5f6f7f8f9");
  HEX(want, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  if (nn_hkdf_extract_md("SHA256", prk, 32, salt, sizeof(salt), ikm, sizeof(ikm)) ||
      nn_hkdf_expand_md("SHA256", okm, sizeof(okm), prk, 32, info, sizeof(info)))
    return NN_ERR_CRYPTO;
  return expect(okm, want, sizeof(want));
}

static nn_err_t
kat_gcm(void)
{
  nn_aead_key_t key;
  nn_aead_nonce_t iv;
  uint8_t pt[16] = { 0 }, want[32], out[32];
  nn_aead_t a = { 0 };
  nn_err_t err;
  /* GCM specification, test case 14 */
  memset(&key, 0, sizeof(key));
  memset(&iv, 0, sizeof(iv));
  HEX(want, "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  if (!(err = nn_aead_init(&a, &key)) && !(err = nn_aead_seal(&a, &iv, NULL, 0, pt, 16, out)))
    err = expect(out, want, 32);
  if (!err) {
    out[3] ^= 1; /* a flipped ciphertext bit must not open */
    err = nn_aead_open(&a, &iv, NULL, 0, out, 32, pt) == NN_ERR_VERIFY ? NN_OK : NN_ERR_VERIFY;
  }
  nn_aead_free(&a);
  return err;
}

static nn_err_t
kat_x25519(void)
{
  nn_x25519_sk_t a;
  nn_x25519_pk_t b;
  nn_secret_t ss;
  uint8_t want[32];
  nn_err_t err;
  /* RFC 7748, section 6.1 */
  HEX(a.b, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  HEX(b.b, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  HEX(want, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  if (!(err = nn_x25519_shared(&ss, &a, &b)))
    err = expect(ss.b, want, 32);
  OPENSSL_cleanse(&a, sizeof(a));
  OPENSSL_cleanse(&ss, sizeof(ss));
  return err;
}

static nn_err_t
kat_ellswift(void)
{
  nn_secp_sk_t sk;
  nn_ellswift_pk_t ours, theirs;
  nn_secret_t ss;
  uint8_t want[32];
  nn_err_t err;
  nn_secp_selftest();
  /* BIP324, packet_encoding_test_vectors.csv, row 1: the x coordinate before BIP324's hash */
  HEX(sk.b, "e79f04ad4c684525ff3e3cf7c19f4cdb11193d387d7f3fe82a948a0c3165f5fe");
  HEX(ours.b, "4eff53ea1945e57b5d170565e760d771e5d496101c1005c302fd687af80d8b85"
              "8c5a681c474fc4c0546ee464a1b95899ecb9d4f50c2c0854fe029fc054ae6777");
  HEX(theirs.b, "824a1da0530fa695b95b375fee2a56ec96ce375ddd2fcf8367cc8ec1c0b751a3"
                "304bbef5dc96543acaac50c24be8cb39906ef8521727de0c6e96c2060a026bd7");
  HEX(want, "961fa6c9491bde887a6e67898c9335579d1931b435af16d969f3c9f12e58c698");
  if (!(err = nn_ellswift_shared(&ss, &sk, &ours, &theirs, 1)))
    err = expect(ss.b, want, 32);
  OPENSSL_cleanse(&sk, sizeof(sk));
  OPENSSL_cleanse(&ss, sizeof(ss));
  return err;
}

/* Kemeleon: a fresh ML-KEM-1024 key encodes and decodes back to itself */
static nn_err_t
roundtrip_kemeleon(void)
{
  nn_mlkem_key_t *k = NULL;
  nn_mlkem_pk_t back;
  uint8_t enc[NN_KEMELEON_EK_LEN];
  nn_err_t err;
  if (!(err = nn_mlkem_keygen(&k, NULL)) && !(err = nn_kemeleon_encode_ek(enc, nn_mlkem_public(k), NULL)) &&
      !(err = nn_kemeleon_decode_ek(&back, enc)))
    err = expect(back.b, nn_mlkem_public(k)->b, sizeof(back.b));
  nn_mlkem_key_free(k);
  return err;
}

static nn_err_t
kat_mlkem(void)
{
  nn_mlkem_seed_t seed;
  uint8_t m[32], pk_hash[32], ct_hash[32], want_ss[32];
  nn_mlkem_key_t *k = NULL;
  nn_mlkem_ct_t ct;
  nn_secret_t ss, ss2;
  nn_hash_t h;
  nn_err_t err;
  /* FIPS 203 official vector 0 (keygen and encaps); pk and ct compared by their SHA3-256 */
  HEX(seed.b, "7c9935a0b07694aa0c6d10e4db6b1add2fd81a25ccb148032dcd739936737f2d"
              "8626ed79d451140800e03b59b956f8210e556067407d13dc90fa9e8b872bfb8f");
  HEX(pk_hash, "ebbe41cd4dea489dedd00e76ae0bcf54aa8550202920eb64d5892ad02b13f2e5");
  HEX(m, "147c03f7a5bebba406c8fae1874d7f13c80efe79a3a9a874cc09fe76f6997615");
  HEX(ct_hash, "507dcdae0432f558189a09c5e79fd69896e2f830e37ae4d598b00566e55f20f5");
  HEX(want_ss, "489dd1e9c2be4af3482bdb35bb26ce760e6e414da6ecbe489985748a825f1cd6");
  if ((err = nn_mlkem_keygen_from_seed(&k, &seed)) || (err = nn_sha3_256(&h, nn_mlkem_public(k)->b, NN_MLKEM_PK_LEN)) ||
      (err = expect(h.b, pk_hash, 32)) || (err = nn_mlkem_encaps_m(&ct, &ss, nn_mlkem_public(k), m)) ||
      (err = nn_sha3_256(&h, ct.b, sizeof(ct.b))) || (err = expect(h.b, ct_hash, 32)) ||
      (err = expect(ss.b, want_ss, 32)) || (err = nn_mlkem_decaps(&ss2, k, &ct)) || (err = expect(ss2.b, want_ss, 32)))
    goto out;
  /* Implicit rejection: a tampered ciphertext decapsulates to a different secret. */
  ct.b[0] ^= 1;
  if ((err = nn_mlkem_decaps(&ss2, k, &ct)))
    goto out;
  err = CRYPTO_memcmp(ss2.b, want_ss, 32) != 0 ? NN_OK : NN_ERR_VERIFY;
out:
  nn_mlkem_key_free(k);
  OPENSSL_cleanse(&seed, sizeof(seed));
  OPENSSL_cleanse(&ss, sizeof(ss));
  OPENSSL_cleanse(&ss2, sizeof(ss2));
  return err;
}

static nn_err_t
kat_mldsa(void)
{
  static const uint8_t ctx[] = "nepnet-selftest";
  static const uint8_t msg[] = "post-quantum";
  nn_mldsa_seed_t seed;
  nn_mldsa_key_t *k = NULL;
  nn_mldsa_sig_t *sig = OPENSSL_malloc(sizeof(*sig)); /* 4.6 KB: keep it off the stack */
  uint8_t pk_hash[32];
  nn_hash_t h;
  nn_err_t err;
  /* NIST ACVP ML-DSA-87 keyGen tcId 51; pk compared by its SHA3-256 */
  if (!sig)
    return NN_ERR_NOMEM;
  if (nn_hex_decode(seed.b, 32, "5ac4d695186486c11d21f0300dbda6f38b8d1fa07a254549b64422d44b1aac42") ||
      nn_hex_decode(pk_hash, 32, "cdecfb630efc18dd7d82bc487715810bc7eea181d8bbc7eaf2571ae6e160f30b")) {
    err = NN_ERR_ARG;
    goto out;
  }
  if ((err = nn_mldsa_keygen_from_seed(&k, &seed)) || (err = nn_sha3_256(&h, nn_mldsa_public(k)->b, NN_MLDSA_PK_LEN)) ||
      (err = expect(h.b, pk_hash, 32)) ||
      (err = nn_mldsa_sign(sig, k, ctx, sizeof(ctx) - 1, msg, sizeof(msg) - 1, NULL)) ||
      (err = nn_mldsa_verify(nn_mldsa_public(k), ctx, sizeof(ctx) - 1, msg, sizeof(msg) - 1, sig)))
    goto out;
  /* Wrong context string and a flipped signature bit must both fail. */
  if (nn_mldsa_verify(nn_mldsa_public(k), ctx, sizeof(ctx) - 2, msg, sizeof(msg) - 1, sig) != NN_ERR_VERIFY) {
    err = NN_ERR_VERIFY;
    goto out;
  }
  sig->b[100] ^= 0x10;
  if (nn_mldsa_verify(nn_mldsa_public(k), ctx, sizeof(ctx) - 1, msg, sizeof(msg) - 1, sig) != NN_ERR_VERIFY)
    err = NN_ERR_VERIFY;
out:
  nn_mldsa_key_free(k);
  OPENSSL_cleanse(&seed, sizeof(seed));
  OPENSSL_free(sig);
  return err;
}

static nn_err_t
roundtrip_hybrid(void)
{
  nn_hybrid_key_t k;
  nn_hybrid_ct_t ct;
  nn_secret_t a, b;
  nn_err_t err;

  if ((err = nn_hybrid_keygen(&k, NULL)))
    return err;
  if ((err = nn_hybrid_encaps(&ct, &a, &k.pk, NULL)) || (err = nn_hybrid_decaps(&b, &k, &ct)) ||
      (err = expect(a.b, b.b, 32)))
    goto out;
  ct.x.b[5] ^= 1; /* either half tampered: the combined secret differs */
  if ((err = nn_hybrid_decaps(&b, &k, &ct)) == NN_OK)
    err = CRYPTO_memcmp(a.b, b.b, 32) != 0 ? NN_OK : NN_ERR_VERIFY;
  else
    err = NN_OK; /* a tampered X25519 key may also be rejected outright */
out:
  nn_hybrid_key_clear(&k);
  OPENSSL_cleanse(&a, sizeof(a));
  OPENSSL_cleanse(&b, sizeof(b));
  return err;
}

nn_err_t
nn_selftest_run(nn_selftest_cb cb, void *arg)
{
  static const struct {
    const char *name;
    nn_err_t (*fn)(void);
  } tests[] = {
    { "SHA3-256 (FIPS 202)", kat_sha3 },
    { "HKDF (RFC 5869)", kat_hkdf },
    { "AES-256-GCM (GCM spec TC14) + tamper", kat_gcm },
    { "X25519 (RFC 7748)", kat_x25519 },
    { "secp256k1 ElligatorSwift ECDH (BIP324)", kat_ellswift },
    { "Kemeleon ML-KEM-1024 key encoding round trip", roundtrip_kemeleon },
    { "ML-KEM-1024 (FIPS 203 KAT) + implicit rejection", kat_mlkem },
    { "ML-DSA-87 (FIPS 204 KAT) + sign/verify/tamper", kat_mldsa },
    { "hybrid X25519+ML-KEM-1024 round trip + tamper", roundtrip_hybrid },
  };
  nn_err_t first = NN_OK;

  if (OPENSSL_VERSION_NUMBER < 0x30500000L || OpenSSL_version_num() < 0x30500000L)
    return NN_ERR_VERSION;
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
    double t0 = (double)nn_mono_us();
    nn_err_t err = tests[i].fn();
    if (cb)
      cb(arg, tests[i].name, err, (double)nn_mono_us() - t0);
    if (err && !first)
      first = err;
  }
  return first;
}
