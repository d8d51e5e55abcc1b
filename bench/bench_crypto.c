/*
 * bench_crypto: the "crypto floor" every later layer is measured against. For each primitive,
 * per-operation median and mean (ML-DSA signing is heavy-tailed, so both) and ops/s from the
 * median. Each operation runs for a fixed time budget after a warm-up.
 *
 *   bench_crypto [--seconds S] [--csv FILE]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef struct ctx_t {
  nn_mlkem_key_t *mk;
  nn_mlkem_ct_t mct;
  nn_mldsa_key_t *dk;
  nn_mldsa_sig_t sig;
  nn_hybrid_key_t hk;
  nn_hybrid_ct_t hct;
  nn_x25519_sk_t xsk;
  nn_x25519_pk_t xpk;
  nn_secp_sk_t ssk;
  nn_ellswift_pk_t spk, spk2;
  uint8_t kem_enc[NN_KEMELEON_EK_LEN];
  nn_aead_t aead;
  uint8_t *buf;
  size_t len;
} ctx_t;

static double
now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void
check(nn_err_t err, const char *what)
{
  if (err) {
    fprintf(stderr, "bench_crypto: %s failed: %s\n", what, nn_err_str(err));
    exit(1);
  }
}

/* ---- the operations ---- */
static void
op_sha3_32(ctx_t *c)
{
  nn_hash_t h;
  check(nn_sha3_256(&h, c->buf, 32), "sha3");
}
static void
op_sha3_13k(ctx_t *c)
{
  nn_hash_t h;
  check(nn_sha3_256(&h, c->buf, 13011), "sha3");
}
static void
op_sha3_512(ctx_t *c)
{
  nn_hash512_t h;
  check(nn_sha3_512(&h, c->buf, 64), "sha3-512");
}
static void
op_hkdf_extract(ctx_t *c)
{
  nn_secret_t p;
  check(nn_hkdf_extract(&p, c->buf, 16, c->buf, 64), "hkdf");
}
static void
op_hkdf_expand(ctx_t *c)
{
  nn_secret_t p = { { 1 } };
  uint8_t out[32];
  check(nn_hkdf_expand(out, 32, &p, c->buf, 40), "hkdf");
}
static void
op_gcm(ctx_t *c)
{
  nn_aead_nonce_t n = { { 0 } };
  check(nn_aead_seal(&c->aead, &n, NULL, 0, c->buf, c->len, c->buf), "gcm");
}
static void
op_x_keygen(ctx_t *c)
{
  check(nn_x25519_keygen(&c->xsk, &c->xpk, NULL), "x25519");
}
static void
op_x_shared(ctx_t *c)
{
  nn_secret_t s;
  check(nn_x25519_shared(&s, &c->xsk, &c->xpk), "x25519");
}
static void
op_mk_keygen(ctx_t *c)
{
  nn_mlkem_key_t *k;
  (void)c;
  check(nn_mlkem_keygen(&k, NULL), "mlkem");
  nn_mlkem_key_free(k);
}
static void
op_mk_encaps(ctx_t *c)
{
  nn_secret_t s;
  check(nn_mlkem_encaps(&c->mct, &s, nn_mlkem_public(c->mk), NULL), "mlkem");
}
static void
op_mk_decaps(ctx_t *c)
{
  nn_secret_t s;
  check(nn_mlkem_decaps(&s, c->mk, &c->mct), "mlkem");
}
static void
op_md_keygen(ctx_t *c)
{
  nn_mldsa_key_t *k;
  nn_mldsa_seed_t seed;
  memcpy(seed.b, c->buf, 32);
  c->buf[0]++;
  check(nn_mldsa_keygen_from_seed(&k, &seed), "mldsa");
  nn_mldsa_key_free(k);
}
static void
op_md_sign(ctx_t *c)
{
  check(nn_mldsa_sign(&c->sig, c->dk, (const uint8_t *)"b", 1, c->buf, 64, NULL), "mldsa");
  c->buf[0]++;
}
static void
op_md_verify(ctx_t *c)
{
  check(nn_mldsa_verify(nn_mldsa_public(c->dk), (const uint8_t *)"b", 1, c->buf, 64, &c->sig), "mldsa verify");
}
static void
op_h_keygen(ctx_t *c)
{
  nn_hybrid_key_t k;
  (void)c;
  check(nn_hybrid_keygen(&k, NULL), "hybrid");
  nn_hybrid_key_clear(&k);
}
static void
op_h_encaps(ctx_t *c)
{
  nn_secret_t s;
  check(nn_hybrid_encaps(&c->hct, &s, &c->hk.pk, NULL), "hybrid");
}
static void
op_h_decaps(ctx_t *c)
{
  nn_secret_t s;
  check(nn_hybrid_decaps(&s, &c->hk, &c->hct), "hybrid");
}

static void
op_x_key_new_shared(ctx_t *c)
{
  nn_x25519_key_t *k;
  nn_x25519_pk_t pk;
  nn_secret_t s;
  check(nn_x25519_key_new(&k, &pk, NULL), "x25519");
  check(nn_x25519_key_shared(&s, k, &c->xpk), "x25519");
  nn_x25519_key_free(k);
}
static void
op_es_keygen(ctx_t *c)
{
  check(nn_ellswift_keygen(&c->ssk, &c->spk, NULL), "ellswift");
}
static void
op_es_shared(ctx_t *c)
{
  nn_secret_t s;
  check(nn_ellswift_shared(&s, &c->ssk, &c->spk, &c->spk2, 1), "ellswift");
}
static void
op_es_both(ctx_t *c)
{
  op_es_keygen(c);
  op_es_shared(c);
}
static void
op_kem_encode(ctx_t *c)
{
  check(nn_kemeleon_encode_ek(c->kem_enc, nn_mlkem_public(c->mk), NULL), "kemeleon");
}
static void
op_kem_decode(ctx_t *c)
{
  nn_mlkem_pk_t ek;
  check(nn_kemeleon_decode_ek(&ek, c->kem_enc), "kemeleon");
}

static FILE *csv;

static double
run(const char *name, void (*fn)(ctx_t *), ctx_t *c, double budget, size_t bytes)
{
  size_t cap = 1 << 20, n = 0;
  double *t = malloc(cap * sizeof(*t)), start, sum = 0;
  for (int i = 0; i < 3; i++)
    fn(c); /* warm-up: first calls fetch algorithms from the provider */
  start = now();
  while ((now() - start < budget || n < 5) && n < cap) {
    double t0 = now();
    fn(c);
    t[n] = now() - t0;
    sum += t[n++];
  }
  qsort(t, n, sizeof(*t), cmp);
  double med = t[n / 2], mean = sum / (double)n;
  printf("%-34s %10.2f %10.2f %12.0f", name, med * 1e6, mean * 1e6, 1.0 / med);
  if (bytes)
    printf("   %7.2f GB/s", (double)bytes / med / 1e9);
  printf("   (n=%zu)\n", n);
  if (csv)
    fprintf(csv, "%s,%.3f,%.3f,%.0f,%zu\n", name, med * 1e6, mean * 1e6, 1.0 / med, n);
  free(t);
  return med;
}

int
main(int argc, char **argv)
{
  double budget = 0.4;
  ctx_t c;
  nn_aead_key_t key = { { 7 } };
  nn_mldsa_seed_t seed = { { 3 } };
  nn_secret_t s;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
      budget = atof(argv[++i]);
    } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
      if (!(csv = fopen(argv[++i], "w"))) {
        perror(argv[i]);
        return 1;
      }
      fprintf(csv, "operation,median_us,mean_us,ops_per_s,n\n");
    } else {
      printf("usage: bench_crypto [--seconds S] [--csv FILE]\n"
             "  --seconds S  time budget per operation (default 0.4)\n"
             "  --csv FILE   also write the results as CSV\n");
      return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
    }
  }
  memset(&c, 0, sizeof(c));
  c.buf = calloc(1, 1 << 20);
  check(nn_mlkem_keygen(&c.mk, NULL), "setup");
  check(nn_mlkem_encaps(&c.mct, &s, nn_mlkem_public(c.mk), NULL), "setup");
  check(nn_mldsa_keygen_from_seed(&c.dk, &seed), "setup");
  check(nn_mldsa_sign(&c.sig, c.dk, (const uint8_t *)"b", 1, c.buf, 64, NULL), "setup");
  check(nn_hybrid_keygen(&c.hk, NULL), "setup");
  check(nn_hybrid_encaps(&c.hct, &s, &c.hk.pk, NULL), "setup");
  check(nn_x25519_keygen(&c.xsk, &c.xpk, NULL), "setup");
  check(nn_aead_init(&c.aead, &key), "setup");

  printf("nepnet %s, OpenSSL %s; %.1f s per operation\n", nn_version(), nn_openssl_version(), budget);
  printf("%-34s %10s %10s %12s\n", "operation", "median us", "mean us", "ops/s");
  run("SHA3-256 32 B", op_sha3_32, &c, budget, 0);
  run("SHA3-256 13011 B (seed transcript)", op_sha3_13k, &c, budget, 0);
  run("SHA3-512 64 B", op_sha3_512, &c, budget, 0);
  run("HKDF-SHA3-256 extract (64 B IKM)", op_hkdf_extract, &c, budget, 0);
  run("HKDF-SHA3-256 expand (32 B)", op_hkdf_expand, &c, budget, 0);
  static const size_t sizes[] = { 64, 1024, 16384, 65536, 1 << 20 };
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char name[64];
    c.len = sizes[i];
    snprintf(name, sizeof(name), "AES-256-GCM seal %zu B", sizes[i]);
    run(name, op_gcm, &c, budget, sizes[i]);
  }
  memset(c.buf, 0, 64);
  run("X25519 keygen", op_x_keygen, &c, budget, 0);
  run("X25519 shared secret", op_x_shared, &c, budget, 0);
  run("ML-KEM-1024 keygen", op_mk_keygen, &c, budget, 0);
  run("ML-KEM-1024 encaps", op_mk_encaps, &c, budget, 0);
  run("ML-KEM-1024 decaps", op_mk_decaps, &c, budget, 0);
  run("ML-DSA-87 keygen (from seed)", op_md_keygen, &c, budget, 0);
  run("ML-DSA-87 sign (64 B, hedged)", op_md_sign, &c, budget, 0);
  memset(c.buf, 0, 64);
  check(nn_mldsa_sign(&c.sig, c.dk, (const uint8_t *)"b", 1, c.buf, 64, NULL), "setup");
  run("ML-DSA-87 verify", op_md_verify, &c, budget, 0);
  run("hybrid KEM keygen", op_h_keygen, &c, budget, 0);
  run("hybrid KEM encaps", op_h_encaps, &c, budget, 0);
  run("hybrid KEM decaps", op_h_decaps, &c, budget, 0);

  /* issue 19: the encodings that make the handshake's keys look uniform, against what they
   * replace, in the same run */
  check(nn_ellswift_keygen(&c.ssk, &c.spk2, NULL), "setup");
  double x = run("X25519 key pair + shared (one side)", op_x_key_new_shared, &c, budget, 0);
  run("ElligatorSwift keygen (secp256k1)", op_es_keygen, &c, budget, 0);
  run("ElligatorSwift x-only ECDH", op_es_shared, &c, budget, 0);
  double es = run("ElligatorSwift keygen + ECDH (one side)", op_es_both, &c, budget, 0);
  double ke = run("Kemeleon encode ML-KEM-1024 key", op_kem_encode, &c, budget, 0);
  double kd = run("Kemeleon decode ML-KEM-1024 key", op_kem_decode, &c, budget, 0);
  printf("one handshake side, classical half: ElligatorSwift / X25519 = %.2fx (%+.1f us); "
         "Kemeleon adds %.1f us (initiator) and %.1f us (responder)\n",
         es / x, (es - x) * 1e6, ke * 1e6, kd * 1e6);

  nn_aead_free(&c.aead);
  nn_hybrid_key_clear(&c.hk);
  nn_mldsa_key_free(c.dk);
  nn_mlkem_key_free(c.mk);
  free(c.buf);
  if (csv)
    fclose(csv);
  return 0;
}
