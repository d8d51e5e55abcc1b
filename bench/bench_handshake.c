/*
 * bench_handshake: the cost of the secure-channel handshake, as ratios against the crypto floor
 * measured in the same run (the machines we measure on are shared and noisy).
 *
 *  1. CPU per side. An initiator and a responder are wired back to back in memory; each side's
 *     nn_chan_new / nn_chan_recv / nn_chan_output_consume calls are timed with
 *     CLOCK_THREAD_CPUTIME_ID. Interleaved with those handshakes (one of each per round), the
 *     primitive operations each side performs are timed on two floors:
 *       - wrapper floor: through the same src/crypto wrappers the channel calls. It answers "is
 *         the handshake's own code (state machine, framing, copies) cheap", but a wrapper's waste
 *         is in both sides of that ratio, so it cannot show;
 *       - direct floor: the same operations as direct OpenSSL 3.5 EVP calls, written as a C
 *         programmer would for speed: algorithms fetched, keygen contexts initialised and
 *         long-lived keys made once outside the timed region, each operation doing exactly the
 *         work one connection needs (same inputs, same output sizes; the set-up checks that both
 *         floors produce the same bytes). This floor is what the wrappers and the handshake
 *         together are measured against (issue 11: X25519 re-imported its key, and so recomputed
 *         its public key, at every derive).
 *     Per side and mode: handshake CPU / each floor, for medians and for means separately (ML-DSA
 *     signing is heavy-tailed: rejection sampling); per primitive: wrapper / direct. Targets:
 *     <= 1.15 against the wrapper floor, <= 1.25 against the direct floor.
 *  2. Bytes on the wire per handshake, each direction, from nn_chan_info().
 *  3. Handshakes per second per core over loopback TCP: client and server threads with plain
 *     blocking sockets drive the sans-I/O channel directly (read -> nn_chan_recv, write
 *     nn_chan_output). Sequential (one at a time, each mode) and concurrent (K client and K
 *     server threads). Rate per core = handshakes / CPU seconds of the whole process (both
 *     sides, user + kernel); the wall-clock rate is printed beside it.
 *
 * In TCP mode the CPU spent inside the channel's own calls is also timed per thread ("chan"), so
 * the socket cost and any slowdown of the same code between threads (cold caches after a wait)
 * show apart.
 *
 *   bench_handshake [--rounds N] [--handshakes N] [--conc K] [--quick] [--only mem|tcp]
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "nepnet/channel.h"
#include "nepnet/nepnet.h"
#include "crypto/aead.h"
#include "crypto/aesblock.h"
#include "crypto/hkdf.h"
#include "crypto/hybrid.h"
#include "crypto/identity.h"
#include "crypto/mldsa.h"
#include "crypto/sha3.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* Sizes of what the handshake hashes, seals and opens (docs/PROTOCOL.md section 5). */
#define MSG1_FRAME 1622                        /* 2 + 1 + 1 + 32 + 1568 + 16 + 2 */
#define PARAMS_LEN (1 + 4 + 4)                 /* flags, max_message, rekey_interval */
#define ID_PART (PARAMS_LEN + NN_MLDSA_PK_LEN) /* 2601: what a signature covers */
#define SIG_PART (NN_MLDSA_SIG_LEN + 2)        /* 4629: signature + empty padding */
#define PAYLOAD_ID (ID_PART + SIG_PART)        /* 7230: msg2 and msg3 payloads (an anonymous msg3 is padded) */

static double
mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
cpu_thread(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double
cpu_process(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
now_ms(void)
{
  return (uint64_t)(mono() * 1000.0);
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
    fprintf(stderr, "bench_handshake: %s failed: %s\n", what, nn_err_str(err));
    exit(1);
  }
}

static void
die(const char *what)
{
  fprintf(stderr, "bench_handshake: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* A series of samples (seconds): median and mean. */
typedef struct series_t {
  double *v;
  size_t n, cap;
} series_t;

static void
series_add(series_t *s, double x)
{
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 1024;
    if (!(s->v = realloc(s->v, s->cap * sizeof(*s->v))))
      die("realloc");
  }
  s->v[s->n++] = x;
}

static double
series_median(series_t *s)
{
  if (!s->n)
    return 0;
  double *t = malloc(s->n * sizeof(*t));
  memcpy(t, s->v, s->n * sizeof(*t));
  qsort(t, s->n, sizeof(*t), cmp);
  double m = s->n % 2 ? t[s->n / 2] : 0.5 * (t[s->n / 2 - 1] + t[s->n / 2]);
  free(t);
  return m;
}

static double
series_mean(const series_t *s)
{
  double sum = 0;
  for (size_t i = 0; i < s->n; i++)
    sum += s->v[i];
  return s->n ? sum / (double)s->n : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Shared fixtures: two identities (node-level, not per connection).                          */

static nn_identity_t *id_i, *id_r;

/* ------------------------------------------------------------------------------------------ */
/* 1a. One handshake in memory, CPU per side.                                                  */

typedef struct hs_result_t {
  double cpu_i, cpu_r;
  uint64_t i_sent, i_recv, r_sent, r_recv;
  int ok;
} hs_result_t;

/* Move what \a from wants to send into \a to; the receive is charged to the receiver, the
 * consume (freeing the sender's output buffer) to the sender. */
static void
move(nn_chan_t *from, double *cpu_from, nn_chan_t *to, double *cpu_to)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(from, &d, &n);
  if (!n)
    return;
  double t0 = cpu_thread();
  (void)nn_chan_recv(to, d, n, 0);
  double t1 = cpu_thread();
  nn_chan_output_consume(from, n);
  double t2 = cpu_thread();
  *cpu_to += t1 - t0;
  *cpu_from += t2 - t1;
}

static hs_result_t
handshake_mem(int anon)
{
  nn_chan_config_t ci = { 0 }, cr = { 0 };
  nn_chan_t *ci_ch = NULL, *cr_ch = NULL;
  hs_result_t res = { 0 };
  double t0;

  ci.role = NN_CHAN_INITIATOR;
  ci.network = NN_NET_REGTEST;
  ci.identity = anon ? NULL : id_i;
  ci.expected_peer = nn_identity_node_id(id_r);
  cr.role = NN_CHAN_RESPONDER;
  cr.network = NN_NET_REGTEST;
  cr.identity = id_r;

  t0 = cpu_thread();
  check(nn_chan_new(&cr_ch, &cr, 0), "responder new");
  res.cpu_r += cpu_thread() - t0;
  t0 = cpu_thread();
  check(nn_chan_new(&ci_ch, &ci, 0), "initiator new");
  res.cpu_i += cpu_thread() - t0;

  move(ci_ch, &res.cpu_i, cr_ch, &res.cpu_r); /* msg1 */
  move(cr_ch, &res.cpu_r, ci_ch, &res.cpu_i); /* msg2 */
  move(ci_ch, &res.cpu_i, cr_ch, &res.cpu_r); /* msg3 */

  const nn_chan_info_t *ii = nn_chan_info(ci_ch), *ri = nn_chan_info(cr_ch);
  res.ok = nn_chan_is_established(ci_ch) && nn_chan_is_established(cr_ch) && ii && ri &&
           !memcmp(ii->session_id, ri->session_id, 32) && ri->peer_identified == !anon;
  if (res.ok) {
    res.i_sent = ii->handshake_bytes_sent;
    res.i_recv = ii->handshake_bytes_received;
    res.r_sent = ri->handshake_bytes_sent;
    res.r_recv = ri->handshake_bytes_received;
  }
  nn_chan_free(ci_ch);
  nn_chan_free(cr_ch);
  return res;
}

/* ------------------------------------------------------------------------------------------ */
/* 1b. The primitive operations, twice: through the same wrappers, and as direct OpenSSL calls. */

static void
ossl(int ok, const char *what)
{
  if (!ok) {
    fprintf(stderr, "bench_handshake: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
  }
}

/* What the direct floor keeps across connections, made outside the timed region: the
 * algorithms fetched once (a name-based fetch inside a timed call is the kind of waste this floor
 * exists to expose), keygen contexts initialised once, an HKDF context with its digest set once
 * (duplicated per key schedule), and the long-lived key objects. */
typedef struct dx_t {
  EVP_KDF *hkdf;
  EVP_KDF_CTX *hkdf_tmpl; /* digest SHA3-256 already set */
  EVP_SIGNATURE *mldsa;
  EVP_MD *sha3;
  EVP_CIPHER *gcm, *ecb;
  EVP_PKEY_CTX *x_gen, *m_gen; /* X25519 and ML-KEM-1024 keygen */
  EVP_PKEY *dsa;               /* the responder's identity key (from the same seed as id_r) */
  EVP_PKEY *xk, *mk;           /* a fixed initiator ephemeral pair ... */
  uint8_t pk_x[NN_X25519_LEN], pk_m[NN_MLKEM_PK_LEN];
  uint8_t ct_x[NN_X25519_LEN], ct_m[NN_MLKEM_CT_LEN]; /* ... and a ciphertext to it */
  uint8_t sig[NN_MLDSA_SIG_LEN];
  /* record contexts a timed operation leaves behind (freed untimed) */
  EVP_CIPHER_CTX *rec_gcm[2], *rec_ecb[2];
} dx_t;

enum { WRAP, DIRECT }; /* the two floors */

typedef struct fx_t {
  nn_hybrid_key_t hk; /* a fixed initiator ephemeral key ... */
  nn_hybrid_ct_t hct; /* ... and a ciphertext to it */
  const nn_mldsa_key_t *dsa;
  const nn_mldsa_pk_t *dsa_pk;
  uint8_t sign_msg[32]; /* changes every round: a fresh transcript hash, as in the handshake */
  uint8_t vfy_msg[32];
  nn_mldsa_sig_t vfy_sig;
  nn_aead_key_t key;
  nn_aead_nonce_t nonce;
  uint8_t aad[32];
  uint8_t *pt, *ct, *out; /* a payload, its sealed form, scratch */
  uint8_t secret[32];
  /* each floor's last output, so the set-up can check that both do the same work */
  uint8_t last_hkdf[2][32], last_th[2][32], last_ss[32]; /* last_ss: the direct floor only */
  /* contexts a timed operation leaves behind (freed untimed, as nn_chan_free does later) */
  nn_aead_t rec_aead[2];
  nn_aesblock_t rec_block[2];
  dx_t d;
} fx_t;

static const char ctx_sig[] = "nepnet/v1 responder"; /* "nepnet/v1 initiator" has the same length */

static void
op_hybrid_keygen(fx_t *f)
{
  nn_hybrid_key_t k;
  (void)f;
  check(nn_hybrid_keygen(&k, NULL), "hybrid keygen");
  nn_hybrid_key_clear(&k); /* the handshake drops its ephemeral key inside the timed calls */
}

static void
op_hybrid_encaps(fx_t *f)
{
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  check(nn_hybrid_encaps(&ct, &ss, &f->hk.pk, NULL), "hybrid encaps");
}

static void
op_hybrid_decaps(fx_t *f)
{
  nn_secret_t ss;
  check(nn_hybrid_decaps(&ss, &f->hk, &f->hct), "hybrid decaps");
}

static void
op_mldsa_sign(fx_t *f)
{
  nn_mldsa_sig_t *sig = malloc(sizeof(*sig));
  check(nn_mldsa_sign(sig, f->dsa, (const uint8_t *)ctx_sig, 19, f->sign_msg, 32, NULL), "ML-DSA sign");
  free(sig);
}

static void
op_mldsa_verify(fx_t *f)
{
  check(nn_mldsa_verify(f->dsa_pk, (const uint8_t *)ctx_sig, 19, f->vfy_msg, 32, &f->vfy_sig), "ML-DSA verify");
}

static void
op_node_id(fx_t *f)
{
  nn_node_id_t id;
  check(nn_node_id_from_public_key(&id, f->dsa_pk), "node id");
}

/* The handshake's key schedule on either side: handshake keys (1 extract + 4 expands), traffic
 * secrets and session id (1 extract + 3 expands), record keys of both directions (2 x 3 expands). */
static const char *hs_labels[4] = { "nepnet/v1 hs key r2i", "nepnet/v1 hs iv r2i", "nepnet/v1 hs key i2r",
                                    "nepnet/v1 hs iv i2r" };
static const char *rec_labels[3] = { "nepnet/v1 record key", "nepnet/v1 record iv", "nepnet/v1 record len" };
static const size_t hs_out[4] = { 32, 12, 32, 12 }, rec_out[3] = { 32, 12, 32 };

static void
op_hkdf(fx_t *f)
{
  nn_secret_t prk, prk2, ts;
  uint8_t info[64 + 32], out[32];

  check(nn_hkdf_extract(&prk, (const uint8_t *)"nepnet/v1NEPR", 13, f->secret, 32), "hkdf");
  for (int i = 0; i < 4; i++) {
    size_t l = strlen(hs_labels[i]);
    memcpy(info, hs_labels[i], l);
    memcpy(info + l, f->aad, 32);
    check(nn_hkdf_expand(out, hs_out[i], &prk, info, l + 32), "hkdf");
  }
  check(nn_hkdf_extract(&prk2, prk.b, 32, f->aad, 32), "hkdf");
  check(nn_hkdf_expand(ts.b, 32, &prk2, (const uint8_t *)"nepnet/v1 traffic i2r", 21), "hkdf");
  check(nn_hkdf_expand(out, 32, &prk2, (const uint8_t *)"nepnet/v1 traffic r2i", 21), "hkdf");
  check(nn_hkdf_expand(out, 32, &prk2, (const uint8_t *)"nepnet/v1 session id", 20), "hkdf");
  for (int d = 0; d < 2; d++)
    for (int i = 0; i < 3; i++)
      check(nn_hkdf_expand(out, rec_out[i], &ts, (const uint8_t *)rec_labels[i], strlen(rec_labels[i])), "hkdf");
  memcpy(f->last_hkdf[WRAP], out, 32);
}

/* Record-layer contexts of both directions: AES-GCM key + length-mask AES key each. */
static void
rec_setup(fx_t *f)
{
  for (int d = 0; d < 2; d++) {
    check(nn_aead_init(&f->rec_aead[d], &f->key), "aead init");
    check(nn_aesblock_init(&f->rec_block[d], f->key.b), "aesblock init");
  }
}

/* Either floor's record contexts (untimed). */
static void
rec_cleanup(fx_t *f)
{
  for (int d = 0; d < 2; d++) {
    nn_aead_free(&f->rec_aead[d]);
    nn_aesblock_free(&f->rec_block[d]);
    EVP_CIPHER_CTX_free(f->d.rec_gcm[d]);
    EVP_CIPHER_CTX_free(f->d.rec_ecb[d]);
    f->d.rec_gcm[d] = f->d.rec_ecb[d] = NULL;
  }
}

/* Initiator: open msg2's payload, seal msg3's (its own context, re-keyed), record keys. msg3's
 * payload has the same size in both modes (an anonymous one is padded to an identified one's). */
static void
op_aes_initiator(fx_t *f)
{
  nn_aead_t a = { 0 };
  check(nn_aead_init(&a, &f->key), "aead init");
  check(nn_aead_open(&a, &f->nonce, f->aad, 32, f->ct, PAYLOAD_ID + NN_AEAD_TAG_LEN, f->out), "aead open");
  check(nn_aead_init(&a, &f->key), "aead init");
  check(nn_aead_seal(&a, &f->nonce, f->aad, 32, f->pt, PAYLOAD_ID, f->out), "aead seal");
  nn_aead_free(&a);
  rec_setup(f);
}

/* Responder: seal msg2's payload; open msg3's (a second context); record keys. */
static void
op_aes_responder(fx_t *f)
{
  nn_aead_t a = { 0 }, b = { 0 };
  check(nn_aead_init(&a, &f->key), "aead init");
  check(nn_aead_seal(&a, &f->nonce, f->aad, 32, f->pt, PAYLOAD_ID, f->out), "aead seal");
  nn_aead_free(&a);
  check(nn_aead_init(&b, &f->key), "aead init");
  check(nn_aead_open(&b, &f->nonce, f->aad, 32, f->ct, PAYLOAD_ID + NN_AEAD_TAG_LEN, f->out), "aead open");
  nn_aead_free(&b);
  rec_setup(f);
}

/* The running SHA3-256 transcript: the same updates and peeks as handshake.c. \a msg3_signed is
 * what msg3's signature covers (ID_PART identified, PARAMS_LEN anonymous), \a peek_i whether
 * this side takes the hash the initiator signs (the responder always does, to verify or skip). */
static void
transcript(fx_t *f, size_t msg3_signed, int peek_i)
{
  nn_sha3_t h;
  nn_hash_t t;
  uint8_t *b = f->pt;
  check(nn_sha3_init(&h), "sha3");
  check(nn_sha3_update(&h, (const uint8_t *)"nepnet/v1/handshake", 19), "sha3");
  check(nn_sha3_update(&h, b, 4), "sha3");
  check(nn_sha3_update(&h, b, MSG1_FRAME), "sha3");
  check(nn_sha3_update(&h, b, 3), "sha3");
  check(nn_sha3_update(&h, b, NN_X25519_LEN), "sha3");
  check(nn_sha3_update(&h, b, NN_MLKEM_CT_LEN), "sha3");
  check(nn_sha3_peek(&h, &t), "sha3"); /* TH1 */
  check(nn_sha3_update(&h, b, ID_PART), "sha3");
  check(nn_sha3_peek(&h, &t), "sha3"); /* TH_R */
  check(nn_sha3_update(&h, b, SIG_PART), "sha3");
  check(nn_sha3_peek(&h, &t), "sha3"); /* TH2 */
  check(nn_sha3_update(&h, b, 3), "sha3");
  check(nn_sha3_update(&h, b, msg3_signed), "sha3");
  if (peek_i)
    check(nn_sha3_peek(&h, &t), "sha3"); /* TH_I */
  check(nn_sha3_update(&h, b, PAYLOAD_ID - msg3_signed), "sha3");
  check(nn_sha3_peek(&h, &t), "sha3"); /* TH3 */
  nn_sha3_free(&h);
  memcpy(f->last_th[WRAP], t.b, 32);
}

static void
op_th_i_mutual(fx_t *f)
{
  transcript(f, ID_PART, 1);
}
static void
op_th_i_anon(fx_t *f)
{
  transcript(f, PARAMS_LEN, 0);
}
/* The responder's work is the same in both modes: the same bytes, TH_I always taken. */
static void
op_th_responder(fx_t *f)
{
  transcript(f, ID_PART, 1);
}

/* ---- the same operations as direct OpenSSL calls ---- */

static void
d_sha3_update(EVP_MD_CTX *h, const uint8_t *p, size_t n)
{
  ossl(EVP_DigestUpdate(h, p, n) == 1, "direct SHA3 update");
}

/* The hybrid combiner (hybrid.h): SHA3-256(ss_M || ss_X || ct_X || pk_X || ct_M || pk_M || label). */
static void
d_combine(dx_t *d, uint8_t ss[32], const uint8_t ss_m[32], const uint8_t ss_x[32], const uint8_t *ct_x,
          const uint8_t *pk_x, const uint8_t *ct_m, const uint8_t *pk_m)
{
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  unsigned int n = 0;
  ossl(h && EVP_DigestInit_ex2(h, d->sha3, NULL) == 1, "direct combine init");
  d_sha3_update(h, ss_m, 32);
  d_sha3_update(h, ss_x, 32);
  d_sha3_update(h, ct_x, NN_X25519_LEN);
  d_sha3_update(h, pk_x, NN_X25519_LEN);
  d_sha3_update(h, ct_m, NN_MLKEM_CT_LEN);
  d_sha3_update(h, pk_m, NN_MLKEM_PK_LEN);
  d_sha3_update(h, (const uint8_t *)NN_HYBRID_LABEL, strlen(NN_HYBRID_LABEL));
  ossl(EVP_DigestFinal_ex(h, ss, &n) == 1 && n == 32, "direct combine final");
  EVP_MD_CTX_free(h);
}

/* X25519(mine, peer): the peer's public key arrives as bytes. */
static void
d_x25519(uint8_t ss[32], EVP_PKEY *mine, const uint8_t peer_pub[NN_X25519_LEN])
{
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, NN_X25519_LEN);
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
  size_t n = 32;
  ossl(peer && c, "direct X25519 peer key");
  ossl(EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 && EVP_PKEY_derive(c, ss, &n) == 1 &&
         n == 32,
       "direct X25519 derive");
  EVP_PKEY_CTX_free(c);
  EVP_PKEY_free(peer);
}

/* A fresh key from a kept keygen context, its public key extracted as bytes (the wire needs them). */
static EVP_PKEY *
d_keygen(EVP_PKEY_CTX *gen, uint8_t *pub, size_t publen, const char *what)
{
  EVP_PKEY *k = NULL;
  size_t n = publen;
  ossl(EVP_PKEY_keygen(gen, &k) == 1 && EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == publen, what);
  return k;
}

/* Hybrid encapsulation to (pk_x, pk_m): ephemeral X25519 + derive, ML-KEM encapsulate, combine. */
static void
d_encaps(dx_t *d, uint8_t ss[32], uint8_t ct_x[NN_X25519_LEN], uint8_t ct_m[NN_MLKEM_CT_LEN], const uint8_t *pk_x,
         const uint8_t *pk_m)
{
  uint8_t ss_x[32], ss_m[32];
  size_t ctlen = NN_MLKEM_CT_LEN, sslen = 32;
  EVP_PKEY *ek = d_keygen(d->x_gen, ct_x, NN_X25519_LEN, "direct X25519 keygen");
  d_x25519(ss_x, ek, pk_x);
  EVP_PKEY_free(ek);
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, "ML-KEM-1024", NULL, pk_m, NN_MLKEM_PK_LEN);
  EVP_PKEY_CTX *c = peer ? EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL) : NULL;
  ossl(c && EVP_PKEY_encapsulate_init(c, NULL) == 1 && EVP_PKEY_encapsulate(c, ct_m, &ctlen, ss_m, &sslen) == 1 &&
         ctlen == NN_MLKEM_CT_LEN && sslen == 32,
       "direct ML-KEM encapsulate");
  EVP_PKEY_CTX_free(c);
  EVP_PKEY_free(peer);
  d_combine(d, ss, ss_m, ss_x, ct_x, pk_x, ct_m, pk_m);
}

static void
d_hybrid_keygen(fx_t *f)
{
  uint8_t pk_x[NN_X25519_LEN], pk_m[NN_MLKEM_PK_LEN];
  EVP_PKEY *xk = d_keygen(f->d.x_gen, pk_x, sizeof(pk_x), "direct X25519 keygen");
  EVP_PKEY *mk = d_keygen(f->d.m_gen, pk_m, sizeof(pk_m), "direct ML-KEM keygen");
  EVP_PKEY_free(xk);
  EVP_PKEY_free(mk);
}

static void
d_hybrid_encaps(fx_t *f)
{
  uint8_t ct_x[NN_X25519_LEN], ct_m[NN_MLKEM_CT_LEN];
  d_encaps(&f->d, f->last_ss, ct_x, ct_m, f->d.pk_x, f->d.pk_m);
}

static void
d_hybrid_decaps(fx_t *f)
{
  dx_t *d = &f->d;
  uint8_t ss_x[32], ss_m[32];
  size_t sslen = 32;
  d_x25519(ss_x, d->xk, d->ct_x);
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, d->mk, NULL);
  ossl(c && EVP_PKEY_decapsulate_init(c, NULL) == 1 &&
         EVP_PKEY_decapsulate(c, ss_m, &sslen, d->ct_m, NN_MLKEM_CT_LEN) == 1 && sslen == 32,
       "direct ML-KEM decapsulate");
  EVP_PKEY_CTX_free(c);
  d_combine(d, f->last_ss, ss_m, ss_x, d->ct_x, d->pk_x, d->ct_m, d->pk_m);
}

/* Pure ML-DSA with a context string, hedged (OpenSSL draws rnd itself, as the wrapper does with
 * RAND_priv_bytes): the wrapper's parameters minus its explicit entropy. */
static void
d_mldsa_sign(fx_t *f)
{
  OSSL_PARAM p[2] = { OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_CONTEXT_STRING, (void *)ctx_sig, 19),
                      OSSL_PARAM_construct_end() };
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, f->d.dsa, NULL);
  size_t n = sizeof(f->d.sig);
  ossl(c && EVP_PKEY_sign_message_init(c, f->d.mldsa, p) == 1 && EVP_PKEY_sign(c, f->d.sig, &n, f->sign_msg, 32) == 1 &&
         n == NN_MLDSA_SIG_LEN,
       "direct ML-DSA sign");
  EVP_PKEY_CTX_free(c);
}

/* The signer's public key arrives as bytes in the payload. */
static void
d_mldsa_verify(fx_t *f)
{
  OSSL_PARAM p[2] = { OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_CONTEXT_STRING, (void *)ctx_sig, 19),
                      OSSL_PARAM_construct_end() };
  EVP_PKEY *pk = EVP_PKEY_new_raw_public_key_ex(NULL, "ML-DSA-87", NULL, f->dsa_pk->b, NN_MLDSA_PK_LEN);
  EVP_PKEY_CTX *c = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
  ossl(c && EVP_PKEY_verify_message_init(c, f->d.mldsa, p) == 1 &&
         EVP_PKEY_verify(c, f->vfy_sig.b, NN_MLDSA_SIG_LEN, f->vfy_msg, 32) == 1,
       "direct ML-DSA verify");
  EVP_PKEY_CTX_free(c);
  EVP_PKEY_free(pk);
}

static void
d_node_id(fx_t *f)
{
  uint8_t id[32];
  unsigned int n = 0;
  ossl(EVP_Digest(f->dsa_pk->b, NN_MLDSA_PK_LEN, id, &n, f->d.sha3, NULL) == 1 && n == 32, "direct node id");
}

static void
d_kdf(EVP_KDF_CTX *c, int mode, uint8_t *out, size_t outlen, const uint8_t *key, const char *name, const uint8_t *in,
      size_t inlen)
{
  OSSL_PARAM p[4] = { OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
                      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, 32),
                      OSSL_PARAM_construct_octet_string(name, (void *)in, inlen), OSSL_PARAM_construct_end() };
  ossl(EVP_KDF_derive(c, out, outlen, p) == 1, "direct HKDF");
}

/* op_hkdf's 2 extracts and 13 expands (same inputs and sizes) on one context per key schedule. */
static void
d_hkdf(fx_t *f)
{
  const int xtr = EVP_KDF_HKDF_MODE_EXTRACT_ONLY, xpd = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  EVP_KDF_CTX *c = EVP_KDF_CTX_dup(f->d.hkdf_tmpl);
  uint8_t prk[32], prk2[32], ts[32], info[64 + 32], out[32];

  ossl(c != NULL, "direct HKDF context");
  d_kdf(c, xtr, prk, 32, f->secret, OSSL_KDF_PARAM_SALT, (const uint8_t *)"nepnet/v1NEPR", 13);
  for (int i = 0; i < 4; i++) {
    size_t l = strlen(hs_labels[i]);
    memcpy(info, hs_labels[i], l);
    memcpy(info + l, f->aad, 32);
    d_kdf(c, xpd, out, hs_out[i], prk, OSSL_KDF_PARAM_INFO, info, l + 32);
  }
  d_kdf(c, xtr, prk2, 32, f->aad, OSSL_KDF_PARAM_SALT, prk, 32);
  d_kdf(c, xpd, ts, 32, prk2, OSSL_KDF_PARAM_INFO, (const uint8_t *)"nepnet/v1 traffic i2r", 21);
  d_kdf(c, xpd, out, 32, prk2, OSSL_KDF_PARAM_INFO, (const uint8_t *)"nepnet/v1 traffic r2i", 21);
  d_kdf(c, xpd, out, 32, prk2, OSSL_KDF_PARAM_INFO, (const uint8_t *)"nepnet/v1 session id", 20);
  for (int d = 0; d < 2; d++)
    for (int i = 0; i < 3; i++)
      d_kdf(c, xpd, out, rec_out[i], ts, OSSL_KDF_PARAM_INFO, (const uint8_t *)rec_labels[i], strlen(rec_labels[i]));
  EVP_KDF_CTX_free(c); /* cleanses the key copy it holds */
  memcpy(f->last_hkdf[DIRECT], out, 32);
}

/* One AES-256-GCM seal (enc) or open of the PAYLOAD_ID-byte payload, key and nonce in one init;
 * \a cipher NULL re-keys a context that already has it. */
static void
d_gcm(fx_t *f, EVP_CIPHER_CTX *c, const EVP_CIPHER *cipher, int enc)
{
  const uint8_t *in = enc ? f->pt : f->ct;
  uint8_t tag[NN_AEAD_TAG_LEN];
  int n = 0;
  if (!enc)
    memcpy(tag, f->ct + PAYLOAD_ID, NN_AEAD_TAG_LEN);
  ossl(EVP_CipherInit_ex2(c, cipher, f->key.b, f->nonce.b, enc, NULL) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, f->aad, 32) == 1 && EVP_CipherUpdate(c, f->out, &n, in, PAYLOAD_ID) == 1,
       "direct AES-GCM");
  if (!enc)
    ossl(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, NN_AEAD_TAG_LEN, tag) == 1, "direct AES-GCM set tag");
  ossl(EVP_CipherFinal_ex(c, f->out + PAYLOAD_ID, &n) == 1, enc ? "direct AES-GCM seal" : "direct AES-GCM open");
  if (enc)
    ossl(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, NN_AEAD_TAG_LEN, f->out + PAYLOAD_ID) == 1,
         "direct AES-GCM get tag");
}

static EVP_CIPHER_CTX *
d_cipher_ctx(const EVP_CIPHER *cipher, const uint8_t *key)
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  ossl(c && EVP_EncryptInit_ex2(c, cipher, key, NULL, NULL) == 1, "direct cipher init");
  return c;
}

static void
d_rec_setup(fx_t *f)
{
  for (int d = 0; d < 2; d++) {
    f->d.rec_gcm[d] = d_cipher_ctx(f->d.gcm, f->key.b);
    f->d.rec_ecb[d] = d_cipher_ctx(f->d.ecb, f->key.b);
    ossl(EVP_CIPHER_CTX_set_padding(f->d.rec_ecb[d], 0) == 1, "direct ECB padding");
  }
}

/* As op_aes_initiator: open msg2's payload, then seal msg3's under a fresh key schedule (the
 * same context), record contexts. */
static void
d_aes_initiator(fx_t *f)
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  ossl(c != NULL, "direct AES-GCM context");
  d_gcm(f, c, f->d.gcm, 0);
  d_gcm(f, c, NULL, 1);
  EVP_CIPHER_CTX_free(c);
  d_rec_setup(f);
}

/* As op_aes_responder: seal msg2's payload, open msg3's (two contexts), record contexts. */
static void
d_aes_responder(fx_t *f)
{
  for (int enc = 1; enc >= 0; enc--) {
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    ossl(c != NULL, "direct AES-GCM context");
    d_gcm(f, c, f->d.gcm, enc);
    EVP_CIPHER_CTX_free(c);
  }
  d_rec_setup(f);
}

/* A running hash's value, the context going on (EVP_MD_CTX_dup, as nn_sha3_peek's copy). */
static void
d_peek(EVP_MD_CTX *h, uint8_t out[32])
{
  EVP_MD_CTX *c = EVP_MD_CTX_dup(h);
  unsigned int n = 0;
  ossl(c && EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32, "direct transcript peek");
  EVP_MD_CTX_free(c);
}

static void
d_transcript(fx_t *f, size_t msg3_signed, int peek_i)
{
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  uint8_t *b = f->pt, t[32];
  ossl(h && EVP_DigestInit_ex2(h, f->d.sha3, NULL) == 1, "direct transcript init");
  d_sha3_update(h, (const uint8_t *)"nepnet/v1/handshake", 19);
  d_sha3_update(h, b, 4);
  d_sha3_update(h, b, MSG1_FRAME);
  d_sha3_update(h, b, 3);
  d_sha3_update(h, b, NN_X25519_LEN);
  d_sha3_update(h, b, NN_MLKEM_CT_LEN);
  d_peek(h, t); /* TH1 */
  d_sha3_update(h, b, ID_PART);
  d_peek(h, t); /* TH_R */
  d_sha3_update(h, b, SIG_PART);
  d_peek(h, t); /* TH2 */
  d_sha3_update(h, b, 3);
  d_sha3_update(h, b, msg3_signed);
  if (peek_i)
    d_peek(h, t); /* TH_I */
  d_sha3_update(h, b, PAYLOAD_ID - msg3_signed);
  d_peek(h, t); /* TH3 */
  EVP_MD_CTX_free(h);
  memcpy(f->last_th[DIRECT], t, 32);
}

static void
d_th_i_mutual(fx_t *f)
{
  d_transcript(f, ID_PART, 1);
}
static void
d_th_i_anon(fx_t *f)
{
  d_transcript(f, PARAMS_LEN, 0);
}
static void
d_th_responder(fx_t *f)
{
  d_transcript(f, ID_PART, 1);
}

enum {
  OP_H_KEYGEN,
  OP_H_ENCAPS,
  OP_H_DECAPS,
  OP_SIGN,
  OP_VERIFY,
  OP_NODE_ID,
  OP_HKDF,
  OP_AES_I,
  OP_AES_R,
  OP_TH_I_MUT,
  OP_TH_I_ANON,
  OP_TH_R,
  N_OPS
};

typedef struct op_t {
  const char *name;
  void (*fn[2])(fx_t *);   /* [WRAP], [DIRECT] */
  void (*cleanup)(fx_t *); /* untimed */
  series_t s[2];
} op_t;

static op_t ops[N_OPS] = {
  [OP_H_KEYGEN] = { "hybrid keygen (X25519 + ML-KEM-1024)", { op_hybrid_keygen, d_hybrid_keygen }, NULL, { { 0 } } },
  [OP_H_ENCAPS] = { "hybrid encaps (X25519 kg+dh, ML-KEM enc)",
                    { op_hybrid_encaps, d_hybrid_encaps },
                    NULL,
                    { { 0 } } },
  [OP_H_DECAPS] = { "hybrid decaps (X25519 dh, ML-KEM dec)", { op_hybrid_decaps, d_hybrid_decaps }, NULL, { { 0 } } },
  [OP_SIGN] = { "ML-DSA-87 sign (32 B, hedged)", { op_mldsa_sign, d_mldsa_sign }, NULL, { { 0 } } },
  [OP_VERIFY] = { "ML-DSA-87 verify (32 B)", { op_mldsa_verify, d_mldsa_verify }, NULL, { { 0 } } },
  [OP_NODE_ID] = { "node id: SHA3-256 of pk (2592 B)", { op_node_id, d_node_id }, NULL, { { 0 } } },
  [OP_HKDF] = { "HKDF-SHA3-256: 2 extract + 13 expand", { op_hkdf, d_hkdf }, NULL, { { 0 } } },
  [OP_AES_I] = { "AES-GCM initiator", { op_aes_initiator, d_aes_initiator }, rec_cleanup, { { 0 } } },
  [OP_AES_R] = { "AES-GCM responder", { op_aes_responder, d_aes_responder }, rec_cleanup, { { 0 } } },
  [OP_TH_I_MUT] = { "transcript SHA3 initiator, mutual", { op_th_i_mutual, d_th_i_mutual }, NULL, { { 0 } } },
  [OP_TH_I_ANON] = { "transcript SHA3 initiator, anonymous", { op_th_i_anon, d_th_i_anon }, NULL, { { 0 } } },
  [OP_TH_R] = { "transcript SHA3 responder", { op_th_responder, d_th_responder }, NULL, { { 0 } } },
};

/* Which primitives each side performs, per mode (-1 ends a list). */
static const int prims_i_mutual[] = { OP_H_KEYGEN, OP_H_DECAPS, OP_VERIFY,   OP_SIGN, OP_NODE_ID,
                                      OP_HKDF,     OP_AES_I,    OP_TH_I_MUT, -1 };
static const int prims_i_anon[] = {
  OP_H_KEYGEN, OP_H_DECAPS, OP_VERIFY, OP_NODE_ID, OP_HKDF, OP_AES_I, OP_TH_I_ANON, -1
};
static const int prims_r_mutual[] = { OP_H_ENCAPS, OP_SIGN, OP_VERIFY, OP_NODE_ID, OP_HKDF, OP_AES_R, OP_TH_R, -1 };
static const int prims_r_anon[] = { OP_H_ENCAPS, OP_SIGN, OP_HKDF, OP_AES_R, OP_TH_R, -1 };

static EVP_PKEY_CTX *
d_keygen_ctx(const char *alg)
{
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
  ossl(c && EVP_PKEY_keygen_init(c) == 1, "direct keygen context");
  return c;
}

static void
d_fixtures(fx_t *f, const nn_mldsa_seed_t *dsa_seed)
{
  dx_t *d = &f->d;
  uint8_t ss[32], pk[NN_MLDSA_PK_LEN];
  size_t n = sizeof(pk);
  OSSL_PARAM p[2];

  ossl((d->hkdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) && (d->hkdf_tmpl = EVP_KDF_CTX_new(d->hkdf)) &&
         (d->mldsa = EVP_SIGNATURE_fetch(NULL, "ML-DSA-87", NULL)) &&
         (d->sha3 = EVP_MD_fetch(NULL, "SHA3-256", NULL)) && (d->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) &&
         (d->ecb = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL)),
       "direct fetch");
  p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA3-256", 0);
  p[1] = OSSL_PARAM_construct_end();
  ossl(EVP_KDF_CTX_set_params(d->hkdf_tmpl, p) == 1, "direct HKDF digest");
  d->x_gen = d_keygen_ctx("X25519");
  d->m_gen = d_keygen_ctx("ML-KEM-1024");

  /* The responder's identity key, from id_r's seed: the same key the wrapper signs with. */
  EVP_PKEY_CTX *g = d_keygen_ctx("ML-DSA-87");
  p[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_ML_DSA_SEED, (void *)dsa_seed->b, NN_MLDSA_SEED_LEN);
  ossl(EVP_PKEY_CTX_set_params(g, p) == 1 && EVP_PKEY_generate(g, &d->dsa) == 1 &&
         EVP_PKEY_get_raw_public_key(d->dsa, pk, &n) == 1 && n == NN_MLDSA_PK_LEN &&
         !memcmp(pk, f->dsa_pk->b, NN_MLDSA_PK_LEN),
       "direct ML-DSA key (the same as the identity's)");
  EVP_PKEY_CTX_free(g);

  d->xk = d_keygen(d->x_gen, d->pk_x, NN_X25519_LEN, "direct X25519 keygen");
  d->mk = d_keygen(d->m_gen, d->pk_m, NN_MLKEM_PK_LEN, "direct ML-KEM keygen");
  d_encaps(d, ss, d->ct_x, d->ct_m, d->pk_x, d->pk_m);
  d_hybrid_decaps(f);
  ossl(!memcmp(ss, f->last_ss, 32), "direct hybrid round trip");
  /* A kept keygen context draws a fresh key each time (the ephemeral in ct_x came from x_gen too). */
  uint8_t pk_m2[NN_MLKEM_PK_LEN];
  EVP_PKEY_free(d_keygen(d->m_gen, pk_m2, sizeof(pk_m2), "direct ML-KEM keygen"));
  ossl(memcmp(d->pk_x, d->ct_x, NN_X25519_LEN) && memcmp(d->pk_m, pk_m2, NN_MLKEM_PK_LEN), "direct keygen: fresh keys");
}

/* Both floors do the same cryptographic work: equal outputs where the inputs are equal. */
static void
cross_check(fx_t *f)
{
  nn_hybrid_ct_t ct;
  nn_secret_t ss;
  nn_mldsa_sig_t sig;

  /* A direct encapsulation to the wrapper's key decapsulates to the same secret there. */
  d_encaps(&f->d, f->last_ss, ct.x.b, ct.m.b, f->hk.pk.x.b, f->hk.pk.m.b);
  check(nn_hybrid_decaps(&ss, &f->hk, &ct), "cross-check decaps");
  ossl(!memcmp(ss.b, f->last_ss, 32), "cross-check: direct hybrid KEM = wrapper's");
  d_mldsa_sign(f);
  memcpy(sig.b, f->d.sig, NN_MLDSA_SIG_LEN);
  check(nn_mldsa_verify(f->dsa_pk, (const uint8_t *)ctx_sig, 19, f->sign_msg, 32, &sig),
        "cross-check: direct signature");
  op_hkdf(f);
  d_hkdf(f);
  ossl(!memcmp(f->last_hkdf[WRAP], f->last_hkdf[DIRECT], 32), "cross-check: direct HKDF = wrapper's");
  uint8_t *sealed = malloc(PAYLOAD_ID + NN_AEAD_TAG_LEN);
  if (!sealed)
    die("malloc");
  op_aes_initiator(f);
  memcpy(sealed, f->out, PAYLOAD_ID + NN_AEAD_TAG_LEN);
  rec_cleanup(f);
  d_aes_initiator(f);
  ossl(!memcmp(sealed, f->out, PAYLOAD_ID + NN_AEAD_TAG_LEN), "cross-check: direct AES-GCM = wrapper's");
  free(sealed);
  rec_cleanup(f);
  for (int k = OP_TH_I_MUT; k <= OP_TH_R; k++) {
    ops[k].fn[WRAP](f);
    ops[k].fn[DIRECT](f);
    ossl(!memcmp(f->last_th[WRAP], f->last_th[DIRECT], 32), "cross-check: direct transcript = wrapper's");
  }
}

static void
d_fixtures_free(dx_t *d)
{
  EVP_KDF_CTX_free(d->hkdf_tmpl);
  EVP_KDF_free(d->hkdf);
  EVP_SIGNATURE_free(d->mldsa);
  EVP_MD_free(d->sha3);
  EVP_CIPHER_free(d->gcm);
  EVP_CIPHER_free(d->ecb);
  EVP_PKEY_CTX_free(d->x_gen);
  EVP_PKEY_CTX_free(d->m_gen);
  EVP_PKEY_free(d->dsa);
  EVP_PKEY_free(d->xk);
  EVP_PKEY_free(d->mk);
}

static void
fixtures(fx_t *f, const nn_mldsa_seed_t *dsa_seed)
{
  nn_secret_t ss;
  memset(f, 0, sizeof(*f));
  check(nn_hybrid_keygen(&f->hk, NULL), "setup");
  check(nn_hybrid_encaps(&f->hct, &ss, &f->hk.pk, NULL), "setup");
  f->dsa = nn_identity_key(id_r);
  f->dsa_pk = nn_identity_public_key(id_r);
  memset(f->vfy_msg, 0x5a, 32);
  check(nn_mldsa_sign(&f->vfy_sig, f->dsa, (const uint8_t *)ctx_sig, 19, f->vfy_msg, 32, NULL), "setup");
  memset(f->key.b, 0x42, 32);
  memset(f->nonce.b, 0x24, 12);
  memset(f->aad, 0x11, 32);
  memset(f->secret, 0x77, 32);
  f->pt = calloc(1, 16384);
  f->ct = malloc(PAYLOAD_ID + NN_AEAD_TAG_LEN);
  f->out = malloc(16384);
  if (!f->pt || !f->ct || !f->out)
    die("malloc");
  nn_aead_t a = { 0 };
  check(nn_aead_init(&a, &f->key), "setup");
  check(nn_aead_seal(&a, &f->nonce, f->aad, 32, f->pt, PAYLOAD_ID, f->ct), "setup");
  nn_aead_free(&a);
  d_fixtures(f, dsa_seed);
  cross_check(f);
}

static void
fixtures_free(fx_t *f)
{
  nn_hybrid_key_clear(&f->hk);
  d_fixtures_free(&f->d);
  free(f->pt);
  free(f->ct);
  free(f->out);
}

/* Sum of the medians (or means) of a list of primitives, on floor \a fl. */
static double
prim_sum(const int *list, int fl, int use_mean)
{
  double s = 0;
  for (; *list >= 0; list++)
    s += use_mean ? series_mean(&ops[*list].s[fl]) : series_median(&ops[*list].s[fl]);
  return s;
}

/* Median over rounds of the sum of the primitives' samples taken in that round: the
 * distribution of a sum, like the handshake's own (the median of a sum of right-skewed times
 * such as ML-DSA signing exceeds the sum of their medians). */
static double
prim_round_sum_median(const int *list, int fl)
{
  series_t sum = { 0 };
  size_t n = ops[list[0]].s[fl].n;
  for (size_t r = 0; r < n; r++) {
    double t = 0;
    for (const int *k = list; *k >= 0; k++)
      t += ops[*k].s[fl].v[r];
    series_add(&sum, t);
  }
  double m = series_median(&sum);
  free(sum.v);
  return m;
}

/* ------------------------------------------------------------------------------------------ */
/* 3. Loopback TCP.                                                                            */

static int
send_all(int fd, const uint8_t *p, size_t n)
{
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int
flush_chan(int fd, nn_chan_t *c, double *chan_cpu)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(c, &d, &n);
  if (n) {
    if (send_all(fd, d, n))
      return -1;
    double t0 = cpu_thread();
    nn_chan_output_consume(c, n);
    *chan_cpu += cpu_thread() - t0;
  }
  return 0;
}

/* Run the handshake on a connected socket until established (0) or failed (-1). The CPU spent
 * inside the channel's own calls is added to \a chan_cpu (the rest is socket I/O). */
static int
drive(int fd, nn_chan_t *c, double *chan_cpu)
{
  uint8_t buf[65536];
  if (flush_chan(fd, c, chan_cpu))
    return -1;
  while (!nn_chan_is_established(c) && !nn_chan_is_closed(c)) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    double t0 = cpu_thread();
    (void)nn_chan_recv(c, buf, (size_t)n, now_ms());
    *chan_cpu += cpu_thread() - t0;
    if (flush_chan(fd, c, chan_cpu))
      return -1;
  }
  return nn_chan_is_established(c) ? 0 : -1;
}

static void
nodelay(int fd)
{
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

typedef struct tcp_job_t {
  int listen_fd;
  struct sockaddr_in addr;
  int anon;
  size_t count; /* handshakes this thread does */
  size_t failures;
  double cpu;      /* this thread's CPU seconds */
  double chan_cpu; /* of which inside nn_chan_new / nn_chan_recv / nn_chan_output_consume */
} tcp_job_t;

static void *
tcp_server(void *arg)
{
  tcp_job_t *j = arg;
  double c0 = cpu_thread();
  for (size_t k = 0; k < j->count; k++) {
    int fd = accept(j->listen_fd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) {
        k--;
        continue;
      }
      die("accept");
    }
    nodelay(fd);
    nn_chan_config_t cr = { 0 };
    nn_chan_t *c;
    cr.role = NN_CHAN_RESPONDER;
    cr.network = NN_NET_REGTEST;
    cr.identity = id_r;
    double t0 = cpu_thread();
    check(nn_chan_new(&c, &cr, now_ms()), "responder new");
    j->chan_cpu += cpu_thread() - t0;
    if (drive(fd, c, &j->chan_cpu))
      j->failures++;
    close(fd); /* the client waits for this EOF: handshakes are strictly one after another */
    nn_chan_free(c);
  }
  j->cpu = cpu_thread() - c0;
  return NULL;
}

static void *
tcp_client(void *arg)
{
  tcp_job_t *j = arg;
  double c0 = cpu_thread();
  for (size_t k = 0; k < j->count; k++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      die("socket");
    nodelay(fd);
    if (connect(fd, (struct sockaddr *)&j->addr, sizeof(j->addr)))
      die("connect");
    nn_chan_config_t ci = { 0 };
    nn_chan_t *c;
    ci.role = NN_CHAN_INITIATOR;
    ci.network = NN_NET_REGTEST;
    ci.identity = j->anon ? NULL : id_i;
    ci.expected_peer = nn_identity_node_id(id_r);
    double t0 = cpu_thread();
    check(nn_chan_new(&c, &ci, now_ms()), "initiator new");
    j->chan_cpu += cpu_thread() - t0;
    if (drive(fd, c, &j->chan_cpu))
      j->failures++;
    uint8_t b[64];
    while (read(fd, b, sizeof(b)) > 0) /* the server's close: it has processed msg3 */
      ;
    close(fd);
    nn_chan_free(c);
  }
  j->cpu = cpu_thread() - c0;
  return NULL;
}

typedef struct tcp_result_t {
  double wall, cpu, cpu_client, cpu_server, chan_cpu, user, sys;
  size_t n, failures;
} tcp_result_t;

static double
tv(struct timeval t)
{
  return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

static tcp_result_t
tcp_run(size_t n, int conc, int anon)
{
  int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = { 0 };
  socklen_t alen = sizeof(a);
  tcp_job_t *srv = calloc((size_t)conc, sizeof(*srv)), *cli = calloc((size_t)conc, sizeof(*cli));
  pthread_t *ts = calloc((size_t)conc, sizeof(*ts)), *tc = calloc((size_t)conc, sizeof(*tc));
  tcp_result_t r = { 0 };
  struct rusage u0, u1;

  if (lfd < 0)
    die("socket");
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 512) || getsockname(lfd, (struct sockaddr *)&a, &alen))
    die("listen");

  getrusage(RUSAGE_SELF, &u0);
  double w0 = mono(), p0 = cpu_process();
  for (int k = 0; k < conc; k++) {
    size_t share = n / (size_t)conc + ((size_t)k < n % (size_t)conc);
    srv[k] = (tcp_job_t){ .listen_fd = lfd, .anon = anon, .count = share };
    cli[k] = (tcp_job_t){ .addr = a, .anon = anon, .count = share };
    pthread_create(&ts[k], NULL, tcp_server, &srv[k]);
    pthread_create(&tc[k], NULL, tcp_client, &cli[k]);
  }
  for (int k = 0; k < conc; k++) {
    pthread_join(tc[k], NULL);
    pthread_join(ts[k], NULL);
    r.cpu_client += cli[k].cpu;
    r.cpu_server += srv[k].cpu;
    r.chan_cpu += cli[k].chan_cpu + srv[k].chan_cpu;
    r.failures += cli[k].failures + srv[k].failures;
  }
  r.wall = mono() - w0;
  r.cpu = cpu_process() - p0;
  getrusage(RUSAGE_SELF, &u1);
  r.user = tv(u1.ru_utime) - tv(u0.ru_utime);
  r.sys = tv(u1.ru_stime) - tv(u0.ru_stime);
  r.n = n;
  close(lfd);
  free(srv);
  free(cli);
  free(ts);
  free(tc);
  return r;
}

/* ------------------------------------------------------------------------------------------ */

static const char *mode_name[2] = { "mutual", "anonymous" };

/* The in-memory part: CPU per side against its primitives, and bytes on the wire. Returns the
 * mean CPU of a whole handshake (both sides) per mode in \a hs_mean_total. */
static void
mem_part(size_t rounds, fx_t *f, double hs_mean_total[2])
{
  /* warm-up: provider algorithm fetches, allocator */
  for (int w = 0; w < 5; w++) {
    (void)handshake_mem(0);
    (void)handshake_mem(1);
    for (int k = 0; k < 2 * N_OPS; k++) {
      ops[k % N_OPS].fn[k / N_OPS](f);
      if (ops[k % N_OPS].cleanup)
        ops[k % N_OPS].cleanup(f);
    }
  }

  series_t hs[2][2] = { { { 0 } } }; /* [anon][side: 0 initiator, 1 responder] */
  hs_result_t bytes[2] = { { 0 } };
  size_t bad = 0;
  for (size_t r = 0; r < rounds; r++) {
    for (int anon = 0; anon < 2; anon++) {
      hs_result_t h = handshake_mem(anon);
      if (!h.ok) {
        bad++;
        continue;
      }
      series_add(&hs[anon][0], h.cpu_i);
      series_add(&hs[anon][1], h.cpu_r);
      bytes[anon] = h;
    }
    /* a fresh message to sign each round: as in the handshake, where it is a transcript hash */
    nn_hash_t m;
    check(nn_sha3_256(&m, (const uint8_t *)&r, sizeof(r)), "sha3");
    memcpy(f->sign_msg, m.b, 32);
    /* every op on both floors, the order rotated: no op always follows the same one */
    for (int k0 = 0; k0 < 2 * N_OPS; k0++) {
      int slot = (int)((k0 + r) % (2 * N_OPS)), k = slot % N_OPS, fl = slot / N_OPS;
      double t0 = cpu_thread();
      ops[k].fn[fl](f);
      double t1 = cpu_thread();
      series_add(&ops[k].s[fl], t1 - t0);
      if (ops[k].cleanup)
        ops[k].cleanup(f);
    }
  }
  if (bad) {
    fprintf(stderr, "bench_handshake: %zu in-memory handshakes failed\n", bad);
    exit(1);
  }

  printf("primitive operations: through the src/crypto wrappers (as the channel calls them) and as direct "
         "OpenSSL EVP calls\n");
  printf("  %-42s %10s %10s %10s %10s %8s\n", "operation", "wrap med", "wrap mean", "direct med", "dir. mean",
         "wrap/dir");
  for (int k = 0; k < N_OPS; k++) {
    double wm = series_median(&ops[k].s[WRAP]), dm = series_median(&ops[k].s[DIRECT]);
    printf("  %-42s %10.1f %10.1f %10.1f %10.1f %8.3f\n", ops[k].name, wm * 1e6, series_mean(&ops[k].s[WRAP]) * 1e6,
           dm * 1e6, series_mean(&ops[k].s[DIRECT]) * 1e6, wm / dm);
  }
  printf("  (us; wrap/dir = wrapper median / direct median: what the wrapper itself costs)\n");

  printf("\nhandshake CPU per side (in-memory pair: nn_chan_new + nn_chan_recv + output_consume) vs "
         "the sum of that side's primitives, on each floor\n");
  printf("  %-9s %-9s %-8s | %8s %8s %6s %8s %6s | %8s %8s %6s | %s\n", "mode", "side", "floor", "hs med", "sum med",
         "ratio", "med sum", "ratio", "hs mean", "sum mean", "ratio", "target (medians, means)");
  static const char *side_name[2] = { "initiator", "responder" }, *floor_name[2] = { "wrappers", "direct" };
  static const double target[2] = { 1.15, 1.25 };
  const int *lists[2][2] = { { prims_i_mutual, prims_r_mutual }, { prims_i_anon, prims_r_anon } };
  for (int anon = 0; anon < 2; anon++)
    for (int s = 0; s < 2; s++) {
      double hm = series_median(&hs[anon][s]), ha = series_mean(&hs[anon][s]);
      hs_mean_total[anon] += ha;
      for (int fl = 0; fl < 2; fl++) {
        double pm = prim_sum(lists[anon][s], fl, 0), pa = prim_sum(lists[anon][s], fl, 1);
        double ps = prim_round_sum_median(lists[anon][s], fl);
        printf("  %-9s %-9s %-8s | %8.1f %8.1f %6.3f %8.1f %6.3f | %8.1f %8.1f %6.3f | <= %.2f: %s, %s\n",
               fl ? "" : mode_name[anon], fl ? "" : side_name[s], floor_name[fl], hm * 1e6, pm * 1e6, hm / pm, ps * 1e6,
               hm / ps, ha * 1e6, pa * 1e6, ha / pa, target[fl], hm / pm <= target[fl] ? "met" : "MISSED",
               ha / pa <= target[fl] ? "met" : "MISSED");
      }
    }
  printf("  (us; sum med = sum of the primitives' medians; med sum = median over rounds of the sum of\n"
         "   the primitives' samples of that round; sum mean = sum of their means; target: of ratio\n"
         "   hs / sum med and of ratio hs mean / sum mean)\n");
  printf("  (primitives: initiator = hybrid keygen + hybrid decaps + verify [+ sign] + node id + HKDF\n"
         "   + AES-GCM + transcript; responder = hybrid encaps + sign [+ verify + node id] + HKDF + AES-GCM\n"
         "   + transcript; [..] = mutual only)\n");

  /* The primitive model above assumes these message sizes; say so if the protocol moved on. */
  size_t want_i = MSG1_FRAME + 3 + PAYLOAD_ID + NN_AEAD_TAG_LEN;
  size_t want_r = 3 + NN_X25519_LEN + NN_MLKEM_CT_LEN + PAYLOAD_ID + NN_AEAD_TAG_LEN;
  for (int anon = 0; anon < 2; anon++)
    if (bytes[anon].i_sent != want_i || bytes[anon].r_sent != want_r)
      printf("  WARNING: %s handshake sizes differ from this benchmark's model of the protocol "
             "(%zu / %zu expected): update the primitive lists\n",
             mode_name[anon], want_i, want_r);

  printf("\nbytes on the wire per handshake (nn_chan_info handshake_bytes_sent / _received)\n");
  printf("  %-10s %16s %16s %16s %16s %10s\n", "mode", "initiator sent", "initiator recv", "responder sent",
         "responder recv", "total");
  for (int anon = 0; anon < 2; anon++) {
    hs_result_t *b = &bytes[anon];
    printf("  %-10s %16llu %16llu %16llu %16llu %10llu%s\n", mode_name[anon], (unsigned long long)b->i_sent,
           (unsigned long long)b->i_recv, (unsigned long long)b->r_sent, (unsigned long long)b->r_recv,
           (unsigned long long)(b->i_sent + b->r_sent),
           b->i_sent == b->r_recv && b->r_sent == b->i_recv ? "" : "  (sides disagree!)");
  }

  for (int k = 0; k < N_OPS; k++)
    for (int fl = 0; fl < 2; fl++)
      free(ops[k].s[fl].v);
  for (int a = 0; a < 2; a++)
    for (int s = 0; s < 2; s++)
      free(hs[a][s].v);
}

int
main(int argc, char **argv)
{
  size_t rounds = 1000, tcp_n = 1000;
  int conc = 4, do_mem = 1, do_tcp = 1;
  nn_mldsa_seed_t sa, sb;
  fx_t f;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--handshakes") && i + 1 < argc) {
      tcp_n = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--conc") && i + 1 < argc) {
      conc = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--quick")) {
      rounds = 100;
      tcp_n = 100;
    } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
      i++;
      do_mem = !strcmp(argv[i], "mem");
      do_tcp = !strcmp(argv[i], "tcp");
    } else {
      printf(
        "usage: bench_handshake [--rounds N] [--handshakes N] [--conc K] [--quick]\n"
        "  --rounds N      in-memory rounds: one handshake per mode + every primitive, both floors (default 1000)\n"
        "  --handshakes N  handshakes per loopback TCP run (default 1000)\n"
        "  --conc K        client and server threads of the concurrent TCP run (default 4)\n"
        "  --quick         --rounds 100 --handshakes 100\n"
        "  --only mem|tcp  run only the in-memory part or only the TCP part (for profiling)\n");
      return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
    }
  }
  if (rounds < 1 || tcp_n < 1 || conc < 1) {
    fprintf(stderr, "bench_handshake: counts must be positive\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(sa.b, 0xa1, 32);
  memset(sb.b, 0xb2, 32);
  check(nn_identity_from_seed(&id_i, &sa), "identity");
  check(nn_identity_from_seed(&id_r, &sb), "identity");
  fixtures(&f, &sb);

  printf("bench_handshake: nepnet %s, OpenSSL %s\n", nn_version(), nn_openssl_version());
  printf("CPU time: CLOCK_THREAD_CPUTIME_ID; %zu rounds, each = 1 mutual + 1 anonymous in-memory "
         "handshake + each primitive once per floor (interleaved)\n\n",
         rounds);

  double hs_mean_total[2] = { 0 };
  if (do_mem)
    mem_part(rounds, &f, hs_mean_total);
  if (!do_tcp)
    goto done;

  printf("\nloopback TCP, blocking sockets on 127.0.0.1, client and server threads driving the channel\n"
         "(hs/s/core = handshakes / CPU seconds of the process, user + kernel, both sides)\n");
  printf("  %-24s %5s %7s %9s %7s %7s %6s %9s %9s %9s %8s\n", "run", "n", "wall s", "hs/s wall", "CPU s", "user s",
         "sys s", "hs/s/core", "CPU/hs ms", "chan ms", "vs mem");
  struct {
    const char *name;
    int conc, anon;
  } runs[3] = {
    { "sequential, mutual", 1, 0 },
    { "sequential, anonymous", 1, 1 },
    { "concurrent, mutual", conc, 0 },
  };
  for (int k = 0; k < 3; k++) {
    tcp_result_t t = tcp_run(tcp_n, runs[k].conc, runs[k].anon);
    char name[64];
    snprintf(name, sizeof(name), "%s", runs[k].name);
    if (runs[k].conc > 1)
      snprintf(name, sizeof(name), "%s x%d", runs[k].name, runs[k].conc);
    printf("  %-24s %5zu %7.2f %9.1f %7.2f %7.2f %6.2f %9.1f %9.3f %9.3f %8.3f%s\n", name, t.n, t.wall,
           (double)t.n / t.wall, t.cpu, t.user, t.sys, (double)t.n / t.cpu, t.cpu / (double)t.n * 1e3,
           t.chan_cpu / (double)t.n * 1e3,
           hs_mean_total[runs[k].anon] ? t.cpu / (double)t.n / hs_mean_total[runs[k].anon] : 0.0,
           t.failures ? "  FAILURES" : "");
    if (t.failures)
      fprintf(stderr, "bench_handshake: %zu TCP handshakes failed\n", t.failures);
  }
  printf("  (CPU/hs: process CPU per handshake; chan: of which inside the channel's calls, both sides;\n"
         "   vs mem: CPU/hs / (initiator + responder mean CPU of the in-memory handshakes above))\n");

done:
  fixtures_free(&f);
  nn_identity_free(id_i);
  nn_identity_free(id_r);
  return 0;
}
