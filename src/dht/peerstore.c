/* The peer store over SQLite: see peerstore.h for the model, and the schema below. */
#define _POSIX_C_SOURCE 200809L
#include "dht/peerstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "crypto/sha3.h"
#include "lib/wire.h"

#define KEY_LEN 32
#define GROUP_MAX (1 + NN_ADDR_HOST_MAX + 2)
#define WHY_MAX 768

/* Schema version 1. Addresses are stored in their wire form (docs/PROTOCOL.md 6.1), IPv4-mapped
 * IPv6 addresses as IPv4. grp: network group of addr; bkey: ban key of addr (its host); src_grp:
 * group of whoever told us. Reputation is per key, so inbound peers that are not in addrs have
 * one too: a host's key starts with its address type (4, 6, 0x0d, 0x0e) and is never 32 bytes
 * long; a node's key is its 32-byte node id (so addrs.node_id joins it); the anonymous peers of a
 * host have 0xff followed by the host's key. Times are Unix seconds, 0 = never. */
static const char schema_v1[] = "CREATE TABLE meta("
                                "  name TEXT PRIMARY KEY,"
                                "  value BLOB NOT NULL"
                                ") WITHOUT ROWID;"
                                "CREATE TABLE addrs("
                                "  id INTEGER PRIMARY KEY,"
                                "  addr BLOB NOT NULL UNIQUE,"
                                "  grp BLOB NOT NULL,"
                                "  bkey BLOB NOT NULL,"
                                "  src_grp BLOB NOT NULL,"
                                "  node_id BLOB CHECK (node_id IS NULL OR length(node_id) = 32),"
                                "  first_seen INTEGER NOT NULL,"
                                "  last_seen INTEGER NOT NULL,"
                                "  last_attempt INTEGER NOT NULL DEFAULT 0,"
                                "  last_success INTEGER NOT NULL DEFAULT 0,"
                                "  attempts INTEGER NOT NULL DEFAULT 0,"
                                "  failures INTEGER NOT NULL DEFAULT 0,"
                                "  tbl INTEGER NOT NULL CHECK (tbl IN (0, 1))," /* 0 new, 1 tried */
                                "  bucket INTEGER NOT NULL,"
                                "  slot INTEGER NOT NULL,"
                                "  UNIQUE (tbl, bucket, slot)"
                                ");"
                                "CREATE INDEX addrs_grp ON addrs(grp);"
                                "CREATE INDEX addrs_bkey ON addrs(bkey);"
                                "CREATE TABLE reputation("
                                "  bkey BLOB PRIMARY KEY,"
                                "  standing INTEGER NOT NULL DEFAULT 0,"
                                "  ban_until INTEGER NOT NULL DEFAULT 0,"
                                "  ban_count INTEGER NOT NULL DEFAULT 0,"
                                "  ban_reason TEXT,"
                                "  updated INTEGER NOT NULL"
                                ") WITHOUT ROWID;"
                                "CREATE INDEX reputation_updated ON reputation(updated);"
                                "CREATE TABLE anchors("
                                "  pos INTEGER PRIMARY KEY,"
                                "  addr BLOB NOT NULL,"
                                "  bkey BLOB NOT NULL"
                                ");";

#define ROW_COLS                                                                                                       \
  "SELECT a.id, a.addr, a.grp, a.bkey, a.src_grp, a.node_id, a.first_seen, a.last_seen,"                               \
  " a.last_attempt, a.last_success, a.attempts, a.failures, a.tbl, a.bucket, a.slot,"                                  \
  " r.standing, r.ban_until FROM addrs a LEFT JOIN reputation r ON r.bkey = a.bkey "

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_ROW_BY_ADDR,
  Q_ROW_BY_SLOT,
  Q_INSERT,
  Q_DELETE,
  Q_MOVE,
  Q_TOUCH,
  Q_ATTEMPT,
  Q_SUCCEED,
  Q_FAIL,
  Q_REP_GET,
  Q_REP_PUT,
  Q_REP_COUNT,
  Q_REP_PRUNE,
  Q_COUNT,
  Q_COUNT_GROUP,
  Q_CANDIDATES,
  Q_ANCHOR_CLEAR,
  Q_ANCHOR_ADD,
  Q_ANCHOR_LIST,
  Q_ANCHOR_DROP,
  Q_META_GET,
  NQ
};

static const char *const sql_text[NQ] = {
  [Q_BEGIN] = "BEGIN IMMEDIATE",
  [Q_COMMIT] = "COMMIT",
  [Q_ROLLBACK] = "ROLLBACK",
  [Q_ROW_BY_ADDR] = ROW_COLS "WHERE a.addr = ?1",
  [Q_ROW_BY_SLOT] = ROW_COLS "WHERE a.tbl = ?1 AND a.bucket = ?2 AND a.slot = ?3",
  [Q_INSERT] = "INSERT INTO addrs(addr, grp, bkey, src_grp, node_id, first_seen, last_seen,"
               " last_attempt, last_success, attempts, failures, tbl, bucket, slot)"
               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
  [Q_DELETE] = "DELETE FROM addrs WHERE id = ?1",
  [Q_MOVE] = "UPDATE addrs SET tbl = ?2, bucket = ?3, slot = ?4 WHERE id = ?1",
  [Q_TOUCH] = "UPDATE addrs SET last_seen = max(last_seen, ?2) WHERE id = ?1",
  [Q_ATTEMPT] = "UPDATE addrs SET attempts = attempts + 1, last_attempt = ?2 WHERE addr = ?1",
  [Q_SUCCEED] = "UPDATE addrs SET last_seen = max(last_seen, ?2), last_success = ?2, failures = 0,"
                " node_id = coalesce(?3, node_id) WHERE id = ?1",
  [Q_FAIL] = "UPDATE addrs SET failures = failures + 1, last_attempt = max(last_attempt, ?2)"
             " WHERE addr = ?1",
  [Q_REP_GET] = "SELECT standing, ban_until, ban_count FROM reputation WHERE bkey = ?1",
  [Q_REP_PUT] = "INSERT INTO reputation(bkey, standing, ban_until, ban_count, ban_reason, updated)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(bkey) DO UPDATE SET"
                " standing = excluded.standing, ban_until = excluded.ban_until,"
                " ban_count = excluded.ban_count,"
                " ban_reason = coalesce(excluded.ban_reason, ban_reason),"
                " updated = excluded.updated",
  [Q_REP_COUNT] = "SELECT count(*) FROM reputation",
  [Q_REP_PRUNE] = "DELETE FROM reputation WHERE bkey IN (SELECT bkey FROM reputation"
                  " WHERE ban_until <= ?1 ORDER BY updated LIMIT ?2)",
  [Q_COUNT] = "SELECT tbl, count(*) FROM addrs GROUP BY tbl",
  [Q_COUNT_GROUP] = "SELECT tbl, count(*) FROM addrs WHERE grp = ?1 GROUP BY tbl",
  [Q_CANDIDATES] = "SELECT a.addr, a.grp, a.tbl FROM addrs a LEFT JOIN reputation r"
                   " ON r.bkey = a.bkey LEFT JOIN reputation n ON n.bkey = a.node_id"
                   " WHERE coalesce(r.ban_until, 0) <= ?1 AND coalesce(n.ban_until, 0) <= ?1"
                   " AND (a.last_attempt = 0"
                   "      OR a.last_attempt + min(?2 << min(a.failures, 20), ?3) <= ?1)"
                   " ORDER BY a.id",
  [Q_ANCHOR_CLEAR] = "DELETE FROM anchors",
  [Q_ANCHOR_ADD] = "INSERT INTO anchors(pos, addr, bkey) VALUES (?1, ?2, ?3)",
  [Q_ANCHOR_LIST] = "SELECT addr FROM anchors ORDER BY pos",
  [Q_ANCHOR_DROP] = "DELETE FROM anchors WHERE bkey = ?1",
  [Q_META_GET] = "SELECT value FROM meta WHERE name = ?1",
};

struct nn_peerstore_t {
  sqlite3 *db;
  sqlite3_stmt *q[NQ];
  nn_peerstore_config_t cfg;
  uint8_t key[KEY_LEN];
  char *path;
  char err[WHY_MAX];
};

/* The derived forms of one address. */
typedef struct akey_t {
  nn_addr_t addr; /* canonical: IPv4-mapped IPv6 as IPv4 */
  uint8_t wire[NN_ADDR_WIRE_MAX];
  size_t wire_len;
  uint8_t grp[GROUP_MAX];
  size_t grp_len;
  uint8_t bkey[1 + GROUP_MAX]; /* the reputation key (see the schema) */
  size_t bkey_len;
  int routable;
} akey_t;

#define ANON_TAG 0xff

/* One row of addrs, with its host's reputation. */
typedef struct row_t {
  int64_t id;
  nn_peerstore_entry_t e;
  uint8_t wire[NN_ADDR_WIRE_MAX];
  size_t wire_len;
  uint8_t grp[GROUP_MAX];
  size_t grp_len;
  uint8_t bkey[GROUP_MAX];
  size_t bkey_len;
  uint64_t ban_until;
} row_t;

typedef struct rep_t {
  int exists;
  int32_t standing;
  uint64_t ban_until;
  uint32_t ban_count;
} rep_t;

/* ---- errors ---------------------------------------------------------------------------------- */

const char *
nn_peerstore_file_hint(nn_err_t err)
{
  switch (err) {
  case NN_OK: return "";
  case NN_ERR_PERM: return "the peer store must be readable and writable by its owner only: run chmod 600 on it";
  case NN_ERR_VERSION:
    return "the peer store was written by a newer nepnet: upgrade nepnet, or move the file away "
           "to start with an empty peer store";
  case NN_ERR_FORMAT:
  case NN_ERR_TRUNCATED:
  case NN_ERR_TRAILING:
    return "the file is damaged or is not a nepnet peer store: move it away and nepnet starts an "
           "empty one (known peers, anchors and bans are lost)";
  case NN_ERR_NOTFOUND: return "the directory holding the peer store does not exist: create it or pass --datadir";
  case NN_ERR_NOMEM: return "out of memory";
  default:
    return "check that the data directory exists, is writable by this user and the disk is not "
           "full";
  }
}

static void
put_why(char *why, size_t why_len, const char *file, nn_err_t err, const char *detail)
{
  if (!why || !why_len)
    return;
  snprintf(why, why_len, "peer store %s: %s%s%s%s; %s", file, nn_err_str(err), detail && *detail ? " (" : "",
           detail ? detail : "", detail && *detail ? ")" : "", nn_peerstore_file_hint(err));
}

static nn_err_t
map_rc(int rc)
{
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_ROW:
  case SQLITE_DONE: return NN_OK;
  case SQLITE_NOMEM: return NN_ERR_NOMEM;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
  case SQLITE_FORMAT:
  case SQLITE_MISMATCH:
  case SQLITE_CONSTRAINT: return NN_ERR_FORMAT;
  case SQLITE_PERM:
  case SQLITE_READONLY:
  case SQLITE_AUTH: return NN_ERR_PERM;
  default: return NN_ERR_IO;
  }
}

/* Record the SQLite error of the last call on ps and return its nn_err_t. */
static nn_err_t
db_fail(nn_peerstore_t *ps, int rc)
{
  nn_err_t err = map_rc(rc);
  if (!err)
    err = NN_ERR_IO;
  put_why(ps->err, sizeof(ps->err), ps->path, err, sqlite3_errmsg(ps->db));
  return err;
}

static nn_err_t
ps_fail(nn_peerstore_t *ps, nn_err_t err, const char *detail)
{
  put_why(ps->err, sizeof(ps->err), ps->path, err, detail);
  return err;
}

const char *
nn_peerstore_last_error(const nn_peerstore_t *ps)
{
  return ps ? ps->err : "";
}

/* ---- statements ------------------------------------------------------------------------------ */

static sqlite3_stmt *
stmt(nn_peerstore_t *ps, int which)
{
  sqlite3_stmt *s = ps->q[which];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

/* Step a statement that returns no rows. */
static nn_err_t
run(nn_peerstore_t *ps, sqlite3_stmt *s)
{
  int rc = sqlite3_step(s);
  nn_err_t err = rc == SQLITE_DONE ? NN_OK : db_fail(ps, rc);
  sqlite3_reset(s);
  return err;
}

/* Step a query: 1 with a row, 0 when done, -1 on error (*err set). */
static int
next_row(nn_peerstore_t *ps, sqlite3_stmt *s, nn_err_t *err)
{
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  *err = db_fail(ps, rc);
  return -1;
}

static void
bind_blob(sqlite3_stmt *s, int i, const uint8_t *p, size_t n)
{
  sqlite3_bind_blob(s, i, p, (int)n, SQLITE_TRANSIENT);
}

static void
bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
  sqlite3_bind_int64(s, i, (sqlite3_int64)(v > INT64_MAX ? INT64_MAX : v));
}

static uint64_t
col_u64(sqlite3_stmt *s, int i)
{
  sqlite3_int64 v = sqlite3_column_int64(s, i);
  return v < 0 ? 0 : (uint64_t)v;
}

static nn_err_t
col_blob(sqlite3_stmt *s, int i, uint8_t *out, size_t cap, size_t *len)
{
  const void *p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  if (n < 0 || (size_t)n > cap || (n > 0 && !p))
    return NN_ERR_FORMAT;
  if (n)
    memcpy(out, p, (size_t)n);
  *len = (size_t)n;
  return NN_OK;
}

static nn_err_t
txn_begin(nn_peerstore_t *ps)
{
  return run(ps, stmt(ps, Q_BEGIN));
}

/* Commit if err is NN_OK, roll back otherwise; returns the first error. */
static nn_err_t
txn_end(nn_peerstore_t *ps, nn_err_t err)
{
  if (!err) {
    err = run(ps, stmt(ps, Q_COMMIT));
    if (!err)
      return NN_OK;
  }
  if (!sqlite3_get_autocommit(ps->db)) {
    char keep[WHY_MAX];
    memcpy(keep, ps->err, sizeof(keep)); /* report the first error, not the rollback's */
    run(ps, stmt(ps, Q_ROLLBACK));
    memcpy(ps->err, keep, sizeof(keep));
  }
  return err;
}

/* ---- addresses, groups, buckets -------------------------------------------------------------- */

static nn_err_t
addr_keys(const nn_addr_t *in, akey_t *k)
{
  static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  nn_wire_writer_t w;
  size_t hl;

  memset(k, 0, sizeof(*k));
  hl = nn_addr_host_len(in->type);
  if (!hl)
    return NN_ERR_ARG;
  if (in->type == NN_ADDR_IPV6 && memcmp(in->host, mapped, 12) == 0)
    k->addr = nn_addr_ipv4(in->host + 12, in->port);
  else {
    k->addr.type = in->type;
    memcpy(k->addr.host, in->host, hl);
    k->addr.port = in->port;
  }
  nn_wire_writer_init_fixed(&w, k->wire, sizeof(k->wire));
  if (nn_addr_put(&w, &k->addr) || w.err)
    return NN_ERR_ARG;
  k->wire_len = w.len;
  k->routable = nn_addr_is_public(&k->addr);
  if (k->routable) {
    k->grp_len = nn_addr_group(&k->addr, NN_PEERSTORE_GROUP_V4_BITS, NN_PEERSTORE_GROUP_V6_BITS, k->grp);
    k->bkey_len = nn_addr_group(&k->addr, 32, NN_PEERSTORE_BAN_V6_BITS, k->bkey);
  } else {
    /* Loopback and private addresses (devnets): each address and port is a group and a host. */
    memcpy(k->grp, k->wire, k->wire_len);
    k->grp_len = k->wire_len;
    memcpy(k->bkey, k->wire, k->wire_len);
    k->bkey_len = k->wire_len;
  }
  if (k->addr.port == 0)
    k->routable = 0;
  return NN_OK;
}

static nn_err_t
decode_addr(const uint8_t *wire, size_t len, nn_addr_t *out)
{
  nn_wire_reader_t r;
  nn_wire_reader_init(&r, wire, len);
  nn_addr_get(&r, out);
  return nn_wire_finish(&r) ? NN_ERR_FORMAT : NN_OK;
}

/* The first 8 bytes, big-endian, of SHA3-256(buf). */
static nn_err_t
h64(const uint8_t *buf, size_t len, uint64_t *out)
{
  nn_hash_t h;
  nn_err_t err = nn_sha3_256(&h, buf, len);
  *out = err ? 0 : nn_be64_get(h.b);
  OPENSSL_cleanse(&h, sizeof(h));
  return err;
}

typedef struct hbuf_t {
  uint8_t b[16 + KEY_LEN + 2 * (1 + GROUP_MAX) + 8];
  size_t n;
} hbuf_t;

static void
hb_start(hbuf_t *h, const char *domain, const uint8_t key[KEY_LEN])
{
  size_t dl = strlen(domain);
  memcpy(h->b, domain, dl);
  memcpy(h->b + dl, key, KEY_LEN);
  h->n = dl + KEY_LEN;
}

static void
hb_var(hbuf_t *h, const uint8_t *p, size_t n)
{
  h->b[h->n++] = (uint8_t)n;
  memcpy(h->b + h->n, p, n);
  h->n += n;
}

static void
hb_u32(hbuf_t *h, uint32_t v)
{
  nn_be32_put(h->b + h->n, v);
  h->n += 4;
}

static nn_err_t
hb_mod(hbuf_t *h, uint32_t mod, uint32_t *out)
{
  uint64_t v;
  nn_err_t err = h64(h->b, h->n, &v);
  OPENSSL_cleanse(h, sizeof(*h));
  *out = (uint32_t)(v % mod);
  return err;
}

static nn_err_t
new_bucket(const nn_peerstore_t *ps, const uint8_t *grp, size_t grp_len, const uint8_t *src, size_t src_len,
           uint32_t *bucket)
{
  hbuf_t h;
  uint32_t i;
  nn_err_t err;

  hb_start(&h, "nepnet-ps-new1", ps->key);
  hb_var(&h, grp, grp_len);
  hb_var(&h, src, src_len);
  if ((err = hb_mod(&h, NN_PEERSTORE_NEW_BUCKETS_PER_SOURCE_GROUP, &i)))
    return err;
  hb_start(&h, "nepnet-ps-new2", ps->key);
  hb_var(&h, src, src_len);
  hb_u32(&h, i);
  return hb_mod(&h, NN_PEERSTORE_NEW_BUCKETS, bucket);
}

static nn_err_t
tried_bucket(const nn_peerstore_t *ps, const uint8_t *wire, size_t wire_len, const uint8_t *grp, size_t grp_len,
             uint32_t *bucket)
{
  hbuf_t h;
  uint32_t i;
  nn_err_t err;

  hb_start(&h, "nepnet-ps-tried1", ps->key);
  hb_var(&h, wire, wire_len);
  if ((err = hb_mod(&h, NN_PEERSTORE_TRIED_BUCKETS_PER_GROUP, &i)))
    return err;
  hb_start(&h, "nepnet-ps-tried2", ps->key);
  hb_var(&h, grp, grp_len);
  hb_u32(&h, i);
  return hb_mod(&h, NN_PEERSTORE_TRIED_BUCKETS, bucket);
}

static nn_err_t
bucket_slot(const nn_peerstore_t *ps, int table, uint32_t bucket, const uint8_t *wire, size_t wire_len, uint32_t *slot)
{
  hbuf_t h;
  hb_start(&h, "nepnet-ps-slot", ps->key);
  h.b[h.n++] = (uint8_t)table;
  hb_u32(&h, bucket);
  hb_var(&h, wire, wire_len);
  return hb_mod(&h, NN_PEERSTORE_BUCKET_SIZE, slot);
}

/* ---- rows ------------------------------------------------------------------------------------ */

static nn_err_t
read_row(sqlite3_stmt *s, row_t *r)
{
  nn_err_t err;
  size_t nlen = 0;

  memset(r, 0, sizeof(*r));
  r->id = sqlite3_column_int64(s, 0);
  if ((err = col_blob(s, 1, r->wire, sizeof(r->wire), &r->wire_len)) ||
      (err = col_blob(s, 2, r->grp, sizeof(r->grp), &r->grp_len)) ||
      (err = col_blob(s, 3, r->bkey, sizeof(r->bkey), &r->bkey_len)) ||
      (err = col_blob(s, 4, r->e.source_group, sizeof(r->e.source_group), &r->e.source_group_len)))
    return err;
  if ((err = decode_addr(r->wire, r->wire_len, &r->e.addr)))
    return err;
  if (sqlite3_column_type(s, 5) != SQLITE_NULL) {
    if ((err = col_blob(s, 5, r->e.node_id.b, sizeof(r->e.node_id.b), &nlen)))
      return err;
    if (nlen != NN_NODE_ID_LEN)
      return NN_ERR_FORMAT;
    r->e.has_node_id = 1;
  }
  r->e.first_seen = col_u64(s, 6);
  r->e.last_seen = col_u64(s, 7);
  r->e.last_attempt = col_u64(s, 8);
  r->e.last_success = col_u64(s, 9);
  r->e.attempts = (uint32_t)col_u64(s, 10);
  r->e.failures = (uint32_t)col_u64(s, 11);
  r->e.table = sqlite3_column_int(s, 12) ? NN_PEERSTORE_TRIED : NN_PEERSTORE_NEW;
  r->e.bucket = (uint32_t)col_u64(s, 13);
  r->e.slot = (uint32_t)col_u64(s, 14);
  r->e.standing = sqlite3_column_int(s, 15);
  r->ban_until = col_u64(s, 16);
  return NN_OK;
}

/* Run a row query already bound: *found = 0 if there is no row. */
static nn_err_t
fetch_row(nn_peerstore_t *ps, sqlite3_stmt *s, row_t *r, int *found)
{
  nn_err_t err = NN_OK;
  int got = next_row(ps, s, &err);

  *found = 0;
  if (got == 1) {
    if ((err = read_row(s, r)))
      ps_fail(ps, err, "an address row is malformed");
    else
      *found = 1;
  }
  sqlite3_reset(s);
  return err;
}

static nn_err_t
row_by_addr(nn_peerstore_t *ps, const akey_t *k, row_t *r, int *found)
{
  sqlite3_stmt *s = stmt(ps, Q_ROW_BY_ADDR);
  bind_blob(s, 1, k->wire, k->wire_len);
  return fetch_row(ps, s, r, found);
}

static nn_err_t
row_by_slot(nn_peerstore_t *ps, int table, uint32_t bucket, uint32_t slot, row_t *r, int *found)
{
  sqlite3_stmt *s = stmt(ps, Q_ROW_BY_SLOT);
  sqlite3_bind_int(s, 1, table);
  sqlite3_bind_int64(s, 2, bucket);
  sqlite3_bind_int64(s, 3, slot);
  return fetch_row(ps, s, r, found);
}

static nn_err_t
insert_row(nn_peerstore_t *ps, const row_t *r)
{
  sqlite3_stmt *s = stmt(ps, Q_INSERT);
  bind_blob(s, 1, r->wire, r->wire_len);
  bind_blob(s, 2, r->grp, r->grp_len);
  bind_blob(s, 3, r->bkey, r->bkey_len);
  bind_blob(s, 4, r->e.source_group, r->e.source_group_len);
  if (r->e.has_node_id)
    bind_blob(s, 5, r->e.node_id.b, NN_NODE_ID_LEN);
  bind_u64(s, 6, r->e.first_seen);
  bind_u64(s, 7, r->e.last_seen);
  bind_u64(s, 8, r->e.last_attempt);
  bind_u64(s, 9, r->e.last_success);
  bind_u64(s, 10, r->e.attempts);
  bind_u64(s, 11, r->e.failures);
  sqlite3_bind_int(s, 12, (int)r->e.table);
  sqlite3_bind_int64(s, 13, r->e.bucket);
  sqlite3_bind_int64(s, 14, r->e.slot);
  return run(ps, s);
}

static nn_err_t
delete_row(nn_peerstore_t *ps, int64_t id)
{
  sqlite3_stmt *s = stmt(ps, Q_DELETE);
  sqlite3_bind_int64(s, 1, id);
  return run(ps, s);
}

/* Core's IsTerrible: an entry a newcomer may replace. */
static int
is_terrible(const row_t *r, uint64_t now)
{
  const nn_peerstore_entry_t *e = &r->e;
  if (e->last_attempt && e->last_attempt <= now && now - e->last_attempt < 60)
    return 0;
  if (r->ban_until > now)
    return 1;
  if (e->last_seen > now + 600)
    return 1;
  if (now >= e->last_seen && now - e->last_seen > NN_PEERSTORE_HORIZON_S)
    return 1;
  if (e->last_success == 0 && e->failures >= NN_PEERSTORE_RETRIES)
    return 1;
  if (e->last_success && now >= e->last_success && now - e->last_success > NN_PEERSTORE_MIN_FAIL_S &&
      e->failures >= NN_PEERSTORE_MAX_FAILURES)
    return 1;
  return 0;
}

/* ---- reputation ------------------------------------------------------------------------------ */

static nn_err_t
rep_get(nn_peerstore_t *ps, const akey_t *k, rep_t *rep)
{
  sqlite3_stmt *s = stmt(ps, Q_REP_GET);
  nn_err_t err = NN_OK;
  int got;

  memset(rep, 0, sizeof(*rep));
  bind_blob(s, 1, k->bkey, k->bkey_len);
  got = next_row(ps, s, &err);
  if (got == 1) {
    rep->exists = 1;
    rep->standing = sqlite3_column_int(s, 0);
    rep->ban_until = col_u64(s, 1);
    rep->ban_count = (uint32_t)col_u64(s, 2);
  }
  sqlite3_reset(s);
  return err;
}

static nn_err_t
rep_put(nn_peerstore_t *ps, const akey_t *k, const rep_t *rep, const char *reason, uint64_t now)
{
  sqlite3_stmt *s = stmt(ps, Q_REP_PUT);
  nn_err_t err;

  bind_blob(s, 1, k->bkey, k->bkey_len);
  sqlite3_bind_int(s, 2, rep->standing);
  bind_u64(s, 3, rep->ban_until);
  bind_u64(s, 4, rep->ban_count);
  if (reason)
    sqlite3_bind_text(s, 5, reason, -1, SQLITE_TRANSIENT);
  bind_u64(s, 6, now);
  if ((err = run(ps, s)) || rep->exists)
    return err;
  /* A new host: keep the table bounded, dropping the least recently updated unbanned hosts. */
  s = stmt(ps, Q_REP_COUNT);
  int got = next_row(ps, s, &err);
  sqlite3_int64 count = got == 1 ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (err || count <= NN_PEERSTORE_REPUTATION_MAX)
    return err;
  s = stmt(ps, Q_REP_PRUNE);
  bind_u64(s, 1, now);
  sqlite3_bind_int64(s, 2, count - NN_PEERSTORE_REPUTATION_MAX);
  return run(ps, s);
}

static int32_t
clamp_standing(int64_t v)
{
  if (v < NN_PEERSTORE_STANDING_MIN)
    return NN_PEERSTORE_STANDING_MIN;
  if (v > NN_PEERSTORE_STANDING_MAX)
    return NN_PEERSTORE_STANDING_MAX;
  return (int32_t)v;
}

static nn_err_t
drop_anchors(nn_peerstore_t *ps, const akey_t *k)
{
  sqlite3_stmt *s = stmt(ps, Q_ANCHOR_DROP);
  bind_blob(s, 1, k->bkey, k->bkey_len);
  return run(ps, s);
}

/* ---- open and close -------------------------------------------------------------------------- */

void
nn_peerstore_config_default(nn_peerstore_config_t *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  cfg->ban_threshold = -100;
  cfg->ban_seconds = 86400;
  cfg->ban_max_seconds = 30u * 86400u;
  cfg->ban_forget_seconds = 30u * 86400u;
  cfg->retry_seconds = 60;
  cfg->retry_max_seconds = 6u * 3600u;
  cfg->synchronous_full = 0;
  cfg->allow_nonpublic = 0;
  cfg->busy_timeout_ms = 5000;
}

/* Permissions and magic of an existing file, before SQLite sees it. */
static nn_err_t
check_existing(const char *path, int *exists, char *detail, size_t dlen)
{
  static const char magic[16] = "SQLite format 3";
  char head[16];
  struct stat st;
  nn_err_t err = NN_ERR_IO;
  int fd;

  *exists = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return NN_OK;
    snprintf(detail, dlen, "%s", errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    return errno == ELOOP ? NN_ERR_FORMAT : errno == EACCES ? NN_ERR_PERM : NN_ERR_IO;
  }
  *exists = 1;
  if (fstat(fd, &st) != 0) {
    snprintf(detail, dlen, "%s", strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(detail, dlen, "not a regular file");
    err = NN_ERR_FORMAT;
    goto out;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    snprintf(detail, dlen, "mode %04o", (unsigned)(st.st_mode & 07777));
    err = NN_ERR_PERM;
    goto out;
  }
  /* An empty file is a database that was never written (a crash right after creation). */
  if (st.st_size > 0) {
    ssize_t n = st.st_size < 100 ? -1 : pread(fd, head, sizeof(head), 0);
    if (n != (ssize_t)sizeof(head) || memcmp(head, magic, sizeof(head)) != 0) {
      snprintf(detail, dlen, "not an SQLite database");
      err = NN_ERR_FORMAT;
      goto out;
    }
  }
  err = NN_OK;
out:
  close(fd);
  return err;
}

/* The -wal and -shm files hold the same data: same rule. */
static nn_err_t
check_companion(const char *path, const char *suffix, char *name, size_t name_len, char *detail, size_t dlen)
{
  struct stat st;
  snprintf(name, name_len, "%s%s", path, suffix);
  if (lstat(name, &st) != 0)
    return errno == ENOENT ? NN_OK : NN_ERR_IO;
  if (!S_ISREG(st.st_mode)) {
    snprintf(detail, dlen, "not a regular file");
    return NN_ERR_FORMAT;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    snprintf(detail, dlen, "mode %04o", (unsigned)(st.st_mode & 07777));
    return NN_ERR_PERM;
  }
  return NN_OK;
}

/* Run a one-row pragma and copy its text result. */
static int
pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  out[0] = 0;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      const unsigned char *t = sqlite3_column_text(s, 0);
      snprintf(out, cap, "%s", t ? (const char *)t : "");
      for (char *c = out; *c; c++)
        *c = *c == '\n' ? ' ' : *c; /* quick_check reports several lines */
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  return rc;
}

static nn_err_t
create_schema(nn_peerstore_t *ps, const nn_rng_t *rng, char *detail, size_t dlen)
{
  sqlite3_stmt *s = NULL;
  char *msg = NULL;
  nn_err_t err;
  int rc;

  if ((err = nn_rng_fill(rng, ps->key, KEY_LEN))) {
    snprintf(detail, dlen, "no randomness for the bucket key");
    return err;
  }
  rc = sqlite3_exec(ps->db, schema_v1, NULL, NULL, &msg);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(ps->db, "INSERT INTO meta(name, value) VALUES ('bucket_key', ?1)", -1, &s, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_blob(s, 1, ps->key, KEY_LEN, SQLITE_STATIC);
    rc = sqlite3_step(s);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(s);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(ps->db, "PRAGMA user_version = 1", NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    snprintf(detail, dlen, "creating the schema: %s", msg ? msg : sqlite3_errmsg(ps->db));
    sqlite3_free(msg);
    return map_rc(rc) ? map_rc(rc) : NN_ERR_IO;
  }
  return NN_OK;
}

static nn_err_t
sq_detail(nn_peerstore_t *ps, int rc, char *detail, size_t dlen)
{
  nn_err_t err = map_rc(rc);
  snprintf(detail, dlen, "%s", sqlite3_errmsg(ps->db));
  return err ? err : NN_ERR_IO;
}

/* The schema version: this build's (*empty = 0), or 0 with no tables at all, a file to create
 * the schema in (*empty = 1); anything else is an error. */
static nn_err_t
schema_state(nn_peerstore_t *ps, int *empty, char *detail, size_t dlen)
{
  char text[64];
  long version;
  int rc;

  *empty = 0;
  if ((rc = pragma_text(ps->db, "PRAGMA user_version", text, sizeof(text))) != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  version = strtol(text, NULL, 10);
  if (version == NN_PEERSTORE_SCHEMA_VERSION)
    return NN_OK;
  if (version != 0) {
    snprintf(detail, dlen, "schema version %ld, this build reads version %d", version, NN_PEERSTORE_SCHEMA_VERSION);
    return version > NN_PEERSTORE_SCHEMA_VERSION ? NN_ERR_VERSION : NN_ERR_FORMAT;
  }
  if ((rc = pragma_text(ps->db, "SELECT count(*) FROM sqlite_schema", text, sizeof(text))) != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  if (strcmp(text, "0") != 0) {
    snprintf(detail, dlen, "an SQLite database, but not a peer store (schema version 0)");
    return NN_ERR_FORMAT;
  }
  *empty = 1;
  return NN_OK;
}

/* The database and its -wal/-shm, before SQLite sees them. \a file names the one a refusal is
 * about, and is left at the database's path on success. */
static nn_err_t
check_files(nn_peerstore_t *ps, int *exists, char *file, size_t file_len, char *detail, size_t dlen)
{
  nn_err_t err;
  snprintf(file, file_len, "%s", ps->path);
  if ((err = check_existing(ps->path, exists, detail, dlen)))
    return err;
  if ((err = check_companion(ps->path, "-wal", file, file_len, detail, dlen)) ||
      (err = check_companion(ps->path, "-shm", file, file_len, detail, dlen)))
    return err;
  snprintf(file, file_len, "%s", ps->path);
  return NN_OK;
}

/* Created here at 0600 so that SQLite (and its -wal/-shm, which take the database's mode) never
 * makes it with the umask's permissions. */
static nn_err_t
create_file(const char *path, char *detail, size_t dlen)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    snprintf(detail, dlen, "cannot create it: %s", strerror(errno));
    return errno == ENOENT ? NN_ERR_NOTFOUND : errno == EACCES ? NN_ERR_PERM : NN_ERR_IO;
  }
  if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
    snprintf(detail, dlen, "%s", strerror(errno));
    close(fd);
    return NN_ERR_IO;
  }
  close(fd);
  return NN_OK;
}

/* Open the connection with settings that hold whatever the file says: no symlinks, no schema-
 * defined code trusted, cells checked as they are read. */
static nn_err_t
connect_db(nn_peerstore_t *ps, char *detail, size_t dlen)
{
  int rc = sqlite3_open_v2(ps->path, &ps->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
  if (rc != SQLITE_OK) {
    snprintf(detail, dlen, "%s", ps->db ? sqlite3_errmsg(ps->db) : "cannot open");
    return map_rc(rc) ? map_rc(rc) : NN_ERR_IO;
  }
  sqlite3_extended_result_codes(ps->db, 1);
  sqlite3_busy_timeout(ps->db, ps->cfg.busy_timeout_ms);
  sqlite3_db_config(ps->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
  sqlite3_db_config(ps->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
  sqlite3_exec(ps->db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
  return NN_OK;
}

/* Read-only checks first, so that a damaged, foreign or newer file is refused before anything is
 * written to it (switching to WAL mode would write its header). */
static nn_err_t
check_db(nn_peerstore_t *ps, int *empty, char *detail, size_t dlen)
{
  char text[256];
  int rc = pragma_text(ps->db, "PRAGMA quick_check", text, sizeof(text));
  if (rc != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  if (strcmp(text, "ok") != 0) {
    snprintf(detail, dlen, "integrity check: %.120s", text);
    return NN_ERR_FORMAT;
  }
  return schema_state(ps, empty, detail, dlen);
}

static nn_err_t
set_pragmas(nn_peerstore_t *ps, char *detail, size_t dlen)
{
  char text[256];
  char sync_sql[48];
  int rc = pragma_text(ps->db, "PRAGMA journal_mode = WAL", text, sizeof(text));
  if (rc != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  if (strcmp(text, "wal") != 0) {
    snprintf(detail, dlen, "cannot switch to WAL mode (journal mode %s)", text);
    return NN_ERR_IO;
  }
  snprintf(sync_sql, sizeof(sync_sql), "PRAGMA synchronous = %s", ps->cfg.synchronous_full ? "FULL" : "NORMAL");
  rc = sqlite3_exec(ps->db, sync_sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(ps->db, "PRAGMA journal_size_limit = 4194304; PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  return NN_OK;
}

/* A file with no tables gets the schema. Checked again inside the transaction: of two processes
 * creating the file at once, one creates the schema and the other finds it. */
static nn_err_t
init_schema(nn_peerstore_t *ps, const nn_rng_t *rng, char *detail, size_t dlen)
{
  int empty = 0, rc;
  nn_err_t err;

  if ((rc = sqlite3_exec(ps->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  err = schema_state(ps, &empty, detail, dlen);
  if (!err && empty)
    err = create_schema(ps, rng, detail, dlen);
  rc = sqlite3_exec(ps->db, err ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  if (!err && rc != SQLITE_OK)
    return sq_detail(ps, rc, detail, dlen);
  return err;
}

static nn_err_t
prepare_all(nn_peerstore_t *ps, char *detail, size_t dlen)
{
  for (int i = 0; i < NQ; i++) {
    int rc = sqlite3_prepare_v3(ps->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &ps->q[i], NULL);
    if (rc != SQLITE_OK) {
      /* The version matched but a table or column is missing: not a file we wrote. */
      snprintf(detail, dlen, "schema: %s", sqlite3_errmsg(ps->db));
      return (rc & 0xff) == SQLITE_ERROR ? NN_ERR_FORMAT : (map_rc(rc) ? map_rc(rc) : NN_ERR_IO);
    }
  }
  return NN_OK;
}

/* The secret bucket key, written with the schema. */
static nn_err_t
load_key(nn_peerstore_t *ps, char *detail, size_t dlen)
{
  sqlite3_stmt *s = stmt(ps, Q_META_GET);
  size_t klen = 0;
  nn_err_t err;
  int rc;

  sqlite3_bind_text(s, 1, "bucket_key", -1, SQLITE_STATIC);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    err = col_blob(s, 0, ps->key, sizeof(ps->key), &klen);
  else if (rc == SQLITE_DONE)
    err = NN_ERR_FORMAT;
  else
    err = map_rc(rc) ? map_rc(rc) : NN_ERR_IO;
  sqlite3_reset(s);
  if (!err && klen != KEY_LEN)
    err = NN_ERR_FORMAT;
  if (err) {
    snprintf(detail, dlen, "the bucket key is missing or malformed");
    return err;
  }
  return NN_OK;
}

static nn_err_t
open_db(nn_peerstore_t *ps, const nn_rng_t *rng, char *file, size_t file_len, char *detail, size_t dlen)
{
  int exists = 0, empty = 0;
  nn_err_t err;

  if ((err = check_files(ps, &exists, file, file_len, detail, dlen)))
    return err;
  if (!exists && (err = create_file(ps->path, detail, dlen)))
    return err;
  if ((err = connect_db(ps, detail, dlen)) || (err = check_db(ps, &empty, detail, dlen)) ||
      (err = set_pragmas(ps, detail, dlen)))
    return err;
  if (empty && (err = init_schema(ps, rng, detail, dlen)))
    return err;
  if ((err = prepare_all(ps, detail, dlen)))
    return err;
  return load_key(ps, detail, dlen);
}

nn_err_t
nn_peerstore_open(nn_peerstore_t **out, const char *path, const nn_peerstore_config_t *cfg, const nn_rng_t *rng,
                  char *why, size_t why_len)
{
  nn_peerstore_t *ps;
  char detail[384] = "";
  char file[4096];
  nn_err_t err;

  if (why && why_len)
    why[0] = 0;
  *out = NULL;
  if (!path || !*path) {
    put_why(why, why_len, "(no path)", NN_ERR_ARG, "empty path");
    return NN_ERR_ARG;
  }
  if (!(ps = calloc(1, sizeof(*ps))) || !(ps->path = strdup(path))) {
    free(ps);
    put_why(why, why_len, path, NN_ERR_NOMEM, NULL);
    return NN_ERR_NOMEM;
  }
  if (cfg)
    ps->cfg = *cfg;
  else
    nn_peerstore_config_default(&ps->cfg);
  if (ps->cfg.ban_seconds == 0 || ps->cfg.ban_max_seconds < ps->cfg.ban_seconds || ps->cfg.retry_seconds > UINT32_MAX ||
      ps->cfg.retry_max_seconds > UINT32_MAX) {
    nn_peerstore_close(ps);
    put_why(why, why_len, path, NN_ERR_ARG, "invalid configuration");
    return NN_ERR_ARG;
  }
  snprintf(file, sizeof(file), "%s", path);
  if ((err = open_db(ps, rng, file, sizeof(file), detail, sizeof(detail)))) {
    put_why(why, why_len, file, err, detail);
    nn_peerstore_close(ps);
    return err;
  }
  *out = ps;
  return NN_OK;
}

void
nn_peerstore_close(nn_peerstore_t *ps)
{
  if (!ps)
    return;
  for (int i = 0; i < NQ; i++)
    sqlite3_finalize(ps->q[i]);
  sqlite3_close(ps->db); /* the last connection checkpoints the WAL into the file */
  OPENSSL_cleanse(ps->key, sizeof(ps->key));
  free(ps->path);
  free(ps);
}

nn_err_t
nn_peerstore_check(nn_peerstore_t *ps)
{
  char text[256];
  int rc = pragma_text(ps->db, "PRAGMA integrity_check", text, sizeof(text));
  if (rc != SQLITE_OK)
    return db_fail(ps, rc);
  if (strcmp(text, "ok") != 0)
    return ps_fail(ps, NN_ERR_FORMAT, text);
  return NN_OK;
}

/* ---- events ---------------------------------------------------------------------------------- */

nn_err_t
nn_peerstore_add(nn_peerstore_t *ps, const nn_addr_t *addr, const nn_addr_t *source, uint64_t now_s,
                 nn_peerstore_add_result_t *result)
{
  nn_peerstore_add_result_t res = NN_PEERSTORE_UNROUTABLE;
  akey_t k, src;
  row_t r, occ;
  rep_t rep;
  uint32_t bucket, slot;
  int found;
  nn_err_t err;

  if (result)
    *result = NN_PEERSTORE_UNROUTABLE;
  if (addr_keys(addr, &k) || (source && addr_keys(source, &src)))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if (!source)
    src = k;
  if (k.addr.port == 0 || (!k.routable && !ps->cfg.allow_nonpublic))
    return NN_OK;
  if ((err = txn_begin(ps)))
    return err;
  if ((err = rep_get(ps, &k, &rep)))
    goto out;
  if (rep.ban_until > now_s) {
    res = NN_PEERSTORE_BANNED;
    goto out;
  }
  if ((err = row_by_addr(ps, &k, &r, &found)))
    goto out;
  if (found) {
    sqlite3_stmt *s = stmt(ps, Q_TOUCH);
    sqlite3_bind_int64(s, 1, r.id);
    bind_u64(s, 2, now_s);
    if (!(err = run(ps, s)))
      res = NN_PEERSTORE_UPDATED;
    goto out;
  }
  if ((err = new_bucket(ps, k.grp, k.grp_len, src.grp, src.grp_len, &bucket)) ||
      (err = bucket_slot(ps, NN_PEERSTORE_NEW, bucket, k.wire, k.wire_len, &slot)))
    goto out;
  if ((err = row_by_slot(ps, NN_PEERSTORE_NEW, bucket, slot, &occ, &found)))
    goto out;
  if (found) {
    if (!is_terrible(&occ, now_s)) {
      res = NN_PEERSTORE_COLLISION;
      goto out;
    }
    if ((err = delete_row(ps, occ.id)))
      goto out;
  }
  memset(&r, 0, sizeof(r));
  r.e.addr = k.addr;
  memcpy(r.wire, k.wire, k.wire_len);
  r.wire_len = k.wire_len;
  memcpy(r.grp, k.grp, k.grp_len);
  r.grp_len = k.grp_len;
  memcpy(r.bkey, k.bkey, k.bkey_len);
  r.bkey_len = k.bkey_len;
  memcpy(r.e.source_group, src.grp, src.grp_len);
  r.e.source_group_len = src.grp_len;
  r.e.first_seen = r.e.last_seen = now_s;
  r.e.table = NN_PEERSTORE_NEW;
  r.e.bucket = bucket;
  r.e.slot = slot;
  if (!(err = insert_row(ps, &r)))
    res = NN_PEERSTORE_ADDED;
out:
  err = txn_end(ps, err);
  if (!err && result)
    *result = res;
  return err;
}

nn_err_t
nn_peerstore_get(nn_peerstore_t *ps, const nn_addr_t *addr, nn_peerstore_entry_t *out)
{
  akey_t k;
  row_t r;
  int found;
  nn_err_t err;

  memset(out, 0, sizeof(*out));
  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if ((err = row_by_addr(ps, &k, &r, &found)))
    return err;
  if (!found)
    return NN_ERR_NOTFOUND;
  *out = r.e;
  return NN_OK;
}

/* An UPDATE of one address by its wire form, in a transaction; NN_ERR_NOTFOUND if unknown. */
static nn_err_t
update_addr(nn_peerstore_t *ps, int which, const nn_addr_t *addr, uint64_t now_s)
{
  sqlite3_stmt *s;
  akey_t k;
  nn_err_t err;

  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if ((err = txn_begin(ps)))
    return err;
  s = stmt(ps, which);
  bind_blob(s, 1, k.wire, k.wire_len);
  bind_u64(s, 2, now_s);
  if (!(err = run(ps, s)) && sqlite3_changes(ps->db) == 0)
    err = NN_ERR_NOTFOUND;
  return txn_end(ps, err);
}

nn_err_t
nn_peerstore_attempt(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s)
{
  return update_addr(ps, Q_ATTEMPT, addr, now_s);
}

nn_err_t
nn_peerstore_failure(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s)
{
  return update_addr(ps, Q_FAIL, addr, now_s);
}

nn_err_t
nn_peerstore_success(nn_peerstore_t *ps, const nn_addr_t *addr, const nn_node_id_t *node_id, uint64_t now_s,
                     int *in_tried)
{
  sqlite3_stmt *s;
  akey_t k;
  row_t r, occ, other;
  rep_t rep;
  uint32_t tb, ts, nb, ns;
  int found, evicted = 0, tried = 0;
  nn_err_t err;

  if (in_tried)
    *in_tried = 0;
  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if ((err = txn_begin(ps)))
    return err;
  if ((err = row_by_addr(ps, &k, &r, &found)))
    goto out;
  if (!found) {
    err = NN_ERR_NOTFOUND;
    goto out;
  }
  s = stmt(ps, Q_SUCCEED);
  sqlite3_bind_int64(s, 1, r.id);
  bind_u64(s, 2, now_s);
  if (node_id)
    bind_blob(s, 3, node_id->b, NN_NODE_ID_LEN);
  if ((err = run(ps, s)))
    goto out;
  /* A good session slowly restores standing. */
  if ((err = rep_get(ps, &k, &rep)))
    goto out;
  rep.standing = clamp_standing((int64_t)rep.standing + 1);
  if ((err = rep_put(ps, &k, &rep, NULL, now_s)))
    goto out;
  if (r.e.table == NN_PEERSTORE_TRIED) {
    tried = 1;
    goto out;
  }
  if ((err = tried_bucket(ps, r.wire, r.wire_len, r.grp, r.grp_len, &tb)) ||
      (err = bucket_slot(ps, NN_PEERSTORE_TRIED, tb, r.wire, r.wire_len, &ts)))
    goto out;
  if ((err = row_by_slot(ps, NN_PEERSTORE_TRIED, tb, ts, &occ, &found)))
    goto out;
  if (found) {
    if (!is_terrible(&occ, now_s))
      goto out; /* the entry stays in new, with its success recorded */
    if ((err = delete_row(ps, occ.id)))
      goto out;
    evicted = 1;
  }
  s = stmt(ps, Q_MOVE);
  sqlite3_bind_int64(s, 1, r.id);
  sqlite3_bind_int(s, 2, NN_PEERSTORE_TRIED);
  sqlite3_bind_int64(s, 3, tb);
  sqlite3_bind_int64(s, 4, ts);
  if ((err = run(ps, s)))
    goto out;
  tried = 1;
  if (evicted) {
    /* Like Core, the displaced tried entry goes back to new, if its slot there is free. */
    if ((err = new_bucket(ps, occ.grp, occ.grp_len, occ.e.source_group, occ.e.source_group_len, &nb)) ||
        (err = bucket_slot(ps, NN_PEERSTORE_NEW, nb, occ.wire, occ.wire_len, &ns)) ||
        (err = row_by_slot(ps, NN_PEERSTORE_NEW, nb, ns, &other, &found)))
      goto out;
    if (!found) {
      occ.e.table = NN_PEERSTORE_NEW;
      occ.e.bucket = nb;
      occ.e.slot = ns;
      err = insert_row(ps, &occ);
    }
  }
out:
  err = txn_end(ps, err);
  if (!err && in_tried)
    *in_tried = tried;
  return err;
}

/* ---- reputation and bans --------------------------------------------------------------------- */

/* A node's reputation key is its id; an anonymous peer's is its host's, tagged. */
static void
node_key(const nn_node_id_t *id, akey_t *k)
{
  memset(k, 0, sizeof(*k));
  memcpy(k->bkey, id->b, NN_NODE_ID_LEN);
  k->bkey_len = NN_NODE_ID_LEN;
}

static nn_err_t
anon_key(const nn_addr_t *addr, akey_t *k)
{
  if (addr_keys(addr, k))
    return NN_ERR_ARG;
  memmove(k->bkey + 1, k->bkey, k->bkey_len);
  k->bkey[0] = ANON_TAG;
  k->bkey_len++;
  return NN_OK;
}

static nn_err_t
penalize_key(nn_peerstore_t *ps, const akey_t *k, int32_t points, const char *reason, uint64_t now_s, int *banned)
{
  rep_t rep;
  int ban = 0;
  nn_err_t err;

  if (banned)
    *banned = 0;
  if (points <= 0)
    return ps_fail(ps, NN_ERR_ARG, "penalty points must be positive");
  if ((err = txn_begin(ps)))
    return err;
  if ((err = rep_get(ps, k, &rep)))
    goto out;
  rep.standing = clamp_standing((int64_t)rep.standing - points);
  if (rep.standing < ps->cfg.ban_threshold && rep.ban_until <= now_s) {
    uint32_t count = rep.ban_count;
    uint64_t dur = ps->cfg.ban_seconds;
    if (rep.ban_until && now_s - rep.ban_until > ps->cfg.ban_forget_seconds)
      count = 0; /* the last ban is long past: start over */
    for (uint32_t i = 0; i < count && dur < ps->cfg.ban_max_seconds; i++)
      dur *= 2;
    if (dur > ps->cfg.ban_max_seconds)
      dur = ps->cfg.ban_max_seconds;
    rep.ban_until = now_s + dur;
    rep.ban_count = count + 1;
    rep.standing = 0; /* the ban is the punishment; afterwards the host starts again from 0 */
    ban = 1;
  }
  if ((err = rep_put(ps, k, &rep, ban ? (reason ? reason : "misbehaviour") : NULL, now_s)))
    goto out;
  if (ban && k->addr.type)
    err = drop_anchors(ps, k); /* a host's ban; a node's keeps its addresses from being selected */
out:
  err = txn_end(ps, err);
  if (!err && banned)
    *banned = ban;
  return err;
}

nn_err_t
nn_peerstore_penalize(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t points, const char *reason, uint64_t now_s,
                      int *banned)
{
  akey_t k;
  if (banned)
    *banned = 0;
  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  return penalize_key(ps, &k, points, reason, now_s, banned);
}

nn_err_t
nn_peerstore_penalize_node(nn_peerstore_t *ps, const nn_node_id_t *id, int32_t points, const char *reason,
                           uint64_t now_s, int *banned)
{
  akey_t k;
  node_key(id, &k);
  return penalize_key(ps, &k, points, reason, now_s, banned);
}

nn_err_t
nn_peerstore_penalize_anon(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t points, const char *reason,
                           uint64_t now_s, int *banned)
{
  akey_t k;
  if (banned)
    *banned = 0;
  if (anon_key(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  k.addr.type = 0; /* anchors are identified nodes: nothing to drop */
  return penalize_key(ps, &k, points, reason, now_s, banned);
}

nn_err_t
nn_peerstore_reward(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t points, uint64_t now_s)
{
  akey_t k;
  rep_t rep;
  nn_err_t err;

  if (points <= 0)
    return ps_fail(ps, NN_ERR_ARG, "reward points must be positive");
  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if ((err = txn_begin(ps)))
    return err;
  if (!(err = rep_get(ps, &k, &rep))) {
    rep.standing = clamp_standing((int64_t)rep.standing + points);
    err = rep_put(ps, &k, &rep, NULL, now_s);
  }
  return txn_end(ps, err);
}

static nn_err_t
standing_key(nn_peerstore_t *ps, const akey_t *k, int32_t *standing)
{
  rep_t rep;
  nn_err_t err;
  if (!(err = rep_get(ps, k, &rep)))
    *standing = rep.standing;
  return err;
}

nn_err_t
nn_peerstore_standing(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t *standing)
{
  akey_t k;
  *standing = 0;
  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  return standing_key(ps, &k, standing);
}

nn_err_t
nn_peerstore_node_standing(nn_peerstore_t *ps, const nn_node_id_t *id, int32_t *standing)
{
  akey_t k;
  *standing = 0;
  node_key(id, &k);
  return standing_key(ps, &k, standing);
}

nn_err_t
nn_peerstore_anon_standing(nn_peerstore_t *ps, const nn_addr_t *addr, int32_t *standing)
{
  akey_t k;
  *standing = 0;
  if (anon_key(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  return standing_key(ps, &k, standing);
}

nn_err_t
nn_peerstore_ban(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t until_s, const char *reason, uint64_t now_s)
{
  akey_t k;
  rep_t rep;
  nn_err_t err;

  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if ((err = txn_begin(ps)))
    return err;
  if ((err = rep_get(ps, &k, &rep)))
    goto out;
  rep.ban_until = until_s;
  if ((err = rep_put(ps, &k, &rep, until_s ? (reason ? reason : "banned") : NULL, now_s)))
    goto out;
  if (until_s > now_s)
    err = drop_anchors(ps, &k);
out:
  return txn_end(ps, err);
}

static nn_err_t
banned_key(nn_peerstore_t *ps, const akey_t *k, uint64_t now_s, int *banned, uint64_t *until_s, uint32_t *ban_count)
{
  rep_t rep;
  nn_err_t err;
  if ((err = rep_get(ps, k, &rep)))
    return err;
  *banned = rep.ban_until > now_s;
  if (until_s)
    *until_s = rep.ban_until;
  if (ban_count)
    *ban_count = rep.ban_count;
  return NN_OK;
}

nn_err_t
nn_peerstore_is_banned(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s, int *banned, uint64_t *until_s,
                       uint32_t *ban_count)
{
  akey_t k;
  *banned = 0;
  if (until_s)
    *until_s = 0;
  if (ban_count)
    *ban_count = 0;
  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  return banned_key(ps, &k, now_s, banned, until_s, ban_count);
}

nn_err_t
nn_peerstore_node_banned(nn_peerstore_t *ps, const nn_node_id_t *id, uint64_t now_s, int *banned, uint64_t *until_s,
                         uint32_t *ban_count)
{
  akey_t k;
  *banned = 0;
  node_key(id, &k);
  return banned_key(ps, &k, now_s, banned, until_s, ban_count);
}

nn_err_t
nn_peerstore_anon_banned(nn_peerstore_t *ps, const nn_addr_t *addr, uint64_t now_s, int *banned)
{
  akey_t k;
  *banned = 0;
  if (anon_key(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  return banned_key(ps, &k, now_s, banned, NULL, NULL);
}

/* ---- selection ------------------------------------------------------------------------------- */

typedef struct cand_t {
  nn_addr_t addr;
  uint8_t grp[GROUP_MAX];
  uint8_t grp_len;
} cand_t;

typedef struct pool_t {
  cand_t *c;
  size_t n, cap;
  size_t next; /* c[0..next) are drawn (partial Fisher-Yates) */
} pool_t;

static nn_err_t
rand_below(const nn_rng_t *rng, uint64_t k, uint64_t *out)
{
  uint8_t b[8];
  nn_err_t err = nn_rng_fill(rng, b, sizeof(b));
  /* k is at most a few tens of thousands: the modulo bias (k / 2^64) is negligible. */
  *out = err ? 0 : nn_be64_get(b) % k;
  return err;
}

static nn_err_t
pool_push(pool_t *p, const cand_t *c)
{
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 256;
    cand_t *m = realloc(p->c, cap * sizeof(*m));
    if (!m)
      return NN_ERR_NOMEM;
    p->c = m;
    p->cap = cap;
  }
  p->c[p->n++] = *c;
  return NN_OK;
}

static int
group_used(const cand_t *chosen, size_t n, const cand_t *c)
{
  for (size_t i = 0; i < n; i++)
    if (chosen[i].grp_len == c->grp_len && memcmp(chosen[i].grp, c->grp, c->grp_len) == 0)
      return 1;
  return 0;
}

/* Draw uniformly from what is left of \a p, skipping groups already chosen; *ok = 0 if none. */
static nn_err_t
pool_draw(pool_t *p, const nn_rng_t *rng, const cand_t *chosen, size_t nchosen, cand_t *out, int *ok)
{
  *ok = 0;
  while (p->next < p->n) {
    uint64_t j;
    nn_err_t err = rand_below(rng, p->n - p->next, &j);
    if (err)
      return err;
    cand_t t = p->c[p->next + j];
    p->c[p->next + j] = p->c[p->next];
    p->c[p->next++] = t;
    if (!group_used(chosen, nchosen, &t)) {
      *out = t;
      *ok = 1;
      return NN_OK;
    }
  }
  return NN_OK;
}

nn_err_t
nn_peerstore_select(nn_peerstore_t *ps, size_t n, uint64_t now_s, const nn_rng_t *rng, nn_addr_t *out, size_t *got)
{
  pool_t pool[2];
  cand_t *chosen = NULL;
  sqlite3_stmt *s;
  size_t nchosen = 0;
  nn_err_t err = NN_OK;
  int row;

  *got = 0;
  if (n == 0)
    return NN_OK;
  memset(pool, 0, sizeof(pool));
  if (!(chosen = calloc(n, sizeof(*chosen))))
    return NN_ERR_NOMEM;
  s = stmt(ps, Q_CANDIDATES);
  bind_u64(s, 1, now_s);
  bind_u64(s, 2, ps->cfg.retry_seconds);
  bind_u64(s, 3, ps->cfg.retry_max_seconds);
  while ((row = next_row(ps, s, &err)) == 1) {
    uint8_t wire[NN_ADDR_WIRE_MAX];
    size_t wl = 0, gl = 0;
    cand_t c;
    memset(&c, 0, sizeof(c));
    if ((err = col_blob(s, 0, wire, sizeof(wire), &wl)) || (err = col_blob(s, 1, c.grp, sizeof(c.grp), &gl)) ||
        (err = decode_addr(wire, wl, &c.addr))) {
      ps_fail(ps, err, "an address row is malformed");
      break;
    }
    c.grp_len = (uint8_t)gl;
    if ((err = pool_push(&pool[sqlite3_column_int(s, 2) ? 1 : 0], &c)))
      break;
  }
  sqlite3_reset(s);
  while (!err && nchosen < n) {
    uint64_t coin = 0;
    int ok = 0, t;
    if ((err = rand_below(rng, 2, &coin)))
      break;
    t = (int)coin; /* 1: tried, 0: new; the other one when this one has nothing left */
    if ((err = pool_draw(&pool[t], rng, chosen, nchosen, &chosen[nchosen], &ok)))
      break;
    if (!ok && (err = pool_draw(&pool[!t], rng, chosen, nchosen, &chosen[nchosen], &ok)))
      break;
    if (!ok)
      break;
    out[nchosen] = chosen[nchosen].addr;
    nchosen++;
  }
  free(pool[0].c);
  free(pool[1].c);
  free(chosen);
  if (!err)
    *got = nchosen;
  return err;
}

/* ---- anchors --------------------------------------------------------------------------------- */

nn_err_t
nn_peerstore_set_anchors(nn_peerstore_t *ps, const nn_addr_t *addrs, size_t n)
{
  akey_t k[NN_PEERSTORE_ANCHORS_MAX];
  nn_err_t err;

  if (n > NN_PEERSTORE_ANCHORS_MAX)
    return ps_fail(ps, NN_ERR_ARG, "more anchors than NN_PEERSTORE_ANCHORS_MAX");
  for (size_t i = 0; i < n; i++)
    if (addr_keys(&addrs[i], &k[i]))
      return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  if ((err = txn_begin(ps)))
    return err;
  err = run(ps, stmt(ps, Q_ANCHOR_CLEAR));
  for (size_t i = 0; !err && i < n; i++) {
    sqlite3_stmt *s = stmt(ps, Q_ANCHOR_ADD);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)i);
    bind_blob(s, 2, k[i].wire, k[i].wire_len);
    bind_blob(s, 3, k[i].bkey, k[i].bkey_len);
    err = run(ps, s);
  }
  return txn_end(ps, err);
}

nn_err_t
nn_peerstore_get_anchors(nn_peerstore_t *ps, nn_addr_t *out, size_t max, size_t *got)
{
  sqlite3_stmt *s = stmt(ps, Q_ANCHOR_LIST);
  nn_err_t err = NN_OK;
  size_t n = 0;

  *got = 0;
  while (n < max && next_row(ps, s, &err) == 1) {
    uint8_t wire[NN_ADDR_WIRE_MAX];
    size_t wl = 0;
    if ((err = col_blob(s, 0, wire, sizeof(wire), &wl)) || (err = decode_addr(wire, wl, &out[n]))) {
      ps_fail(ps, err, "an anchor row is malformed");
      break;
    }
    n++;
  }
  sqlite3_reset(s);
  if (!err)
    *got = n;
  return err;
}

/* ---- counting -------------------------------------------------------------------------------- */

static nn_err_t
count_rows(nn_peerstore_t *ps, sqlite3_stmt *s, size_t *n_new, size_t *n_tried)
{
  size_t c[2] = { 0, 0 };
  nn_err_t err = NN_OK;

  while (next_row(ps, s, &err) == 1)
    c[sqlite3_column_int(s, 0) ? 1 : 0] = (size_t)col_u64(s, 1);
  sqlite3_reset(s);
  if (n_new)
    *n_new = err ? 0 : c[0];
  if (n_tried)
    *n_tried = err ? 0 : c[1];
  return err;
}

nn_err_t
nn_peerstore_count(nn_peerstore_t *ps, size_t *n_new, size_t *n_tried)
{
  return count_rows(ps, stmt(ps, Q_COUNT), n_new, n_tried);
}

nn_err_t
nn_peerstore_count_group(nn_peerstore_t *ps, const nn_addr_t *addr, size_t *n_new, size_t *n_tried)
{
  sqlite3_stmt *s;
  akey_t k;

  if (addr_keys(addr, &k))
    return ps_fail(ps, NN_ERR_ARG, "unknown address type");
  s = stmt(ps, Q_COUNT_GROUP);
  bind_blob(s, 1, k.grp, k.grp_len);
  return count_rows(ps, s, n_new, n_tried);
}
