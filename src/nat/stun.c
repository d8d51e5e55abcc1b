/* STUN messages (stun.h): the framing of RFC 8489 section 5 and its attributes. */
#include "nat/stun.h"

#include <isa-l/crc.h>
#include <openssl/crypto.h>
#include <string.h>

#include "crypto/legacy.h"
#include "lib/wire.h"

#define FINGERPRINT_XOR 0x5354554Eu

static int
is_xor_type(uint16_t type)
{
  return type == NN_STUN_A_XOR_MAPPED_ADDRESS || type == NN_STUN_A_XOR_PEER_ADDRESS ||
         type == NN_STUN_A_XOR_RELAYED_ADDRESS;
}

/* The 14-bit type: method bits M11..M0 around the class bits C1 (bit 8) and C0 (bit 4). */
static uint16_t
type_of(uint16_t method, uint8_t cls)
{
  return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((cls & 1) << 4) |
                    ((cls & 2) << 7));
}

int
nn_stun_is(const uint8_t *buf, size_t len)
{
  return len >= NN_STUN_HDR_LEN && !(buf[0] & 0xC0) && nn_be32_get(buf + 4) == NN_STUN_MAGIC &&
         nn_be16_get(buf + 2) == len - NN_STUN_HDR_LEN && !(nn_be16_get(buf + 2) & 3);
}

nn_err_t
nn_stun_parse(nn_stun_msg_t *m, const uint8_t *buf, size_t len)
{
  nn_wire_reader_t r;
  uint16_t type, mlen;
  uint32_t cookie;
  nn_err_t err;

  memset(m, 0, sizeof(*m));
  m->mi = m->mi256 = m->fp = -1;
  if (len > NN_STUN_MAX_MSG)
    return NN_ERR_TOO_LONG;
  nn_wire_reader_init(&r, buf, len);
  if ((err = nn_wire_get_u16(&r, &type)) || (err = nn_wire_get_u16(&r, &mlen)) ||
      (err = nn_wire_get_u32(&r, &cookie)) || (err = nn_wire_get_bytes(&r, m->tid, NN_STUN_TID_LEN)))
    return err;
  if ((type & 0xC000) || cookie != NN_STUN_MAGIC || (mlen & 3) || mlen != len - NN_STUN_HDR_LEN)
    return NN_ERR_FORMAT;
  m->buf = buf;
  m->len = len;
  m->cls = (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
  m->method = (uint16_t)((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
  while (nn_wire_remaining(&r)) {
    uint16_t at, alen;
    const uint8_t *v;
    if (m->fp >= 0) /* FINGERPRINT comes last */
      return NN_ERR_FORMAT;
    if ((err = nn_wire_get_u16(&r, &at)) || (err = nn_wire_get_u16(&r, &alen)) ||
        (err = nn_wire_get_view(&r, alen, &v)) || (err = nn_wire_skip(&r, (4 - (alen & 3)) & 3)))
      return err;
    /* after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count; after
     * MESSAGE-INTEGRITY-SHA256 only FINGERPRINT */
    if ((m->mi >= 0 && at != NN_STUN_A_MESSAGE_INTEGRITY_SHA256 && at != NN_STUN_A_FINGERPRINT) ||
        (m->mi256 >= 0 && at != NN_STUN_A_FINGERPRINT))
      continue;
    if ((at == NN_STUN_A_MESSAGE_INTEGRITY && alen != 20) ||
        (at == NN_STUN_A_MESSAGE_INTEGRITY_SHA256 && (alen < 16 || alen > 32 || (alen & 3))) ||
        (at == NN_STUN_A_FINGERPRINT && alen != 4))
      return NN_ERR_FORMAT;
    if (m->nattrs == NN_STUN_MAX_ATTRS)
      return NN_ERR_TOO_LONG;
    if (at == NN_STUN_A_MESSAGE_INTEGRITY)
      m->mi = m->nattrs;
    else if (at == NN_STUN_A_MESSAGE_INTEGRITY_SHA256)
      m->mi256 = m->nattrs;
    else if (at == NN_STUN_A_FINGERPRINT)
      m->fp = m->nattrs;
    m->attrs[m->nattrs].type = at;
    m->attrs[m->nattrs].len = alen;
    m->attrs[m->nattrs].off = (uint16_t)(v - buf);
    m->nattrs++;
  }
  return NN_OK;
}

const nn_stun_attr_t *
nn_stun_find(const nn_stun_msg_t *m, uint16_t type)
{
  for (uint16_t i = 0; i < m->nattrs; i++)
    if (m->attrs[i].type == type)
      return &m->attrs[i];
  return NULL;
}

nn_err_t
nn_stun_get_addr(const nn_stun_msg_t *m, uint16_t type, nn_addr_t *out)
{
  const nn_stun_attr_t *a = nn_stun_find(m, type);
  uint8_t host[16], mask[16];
  if (!a)
    return NN_ERR_NOTFOUND;
  const uint8_t *v = nn_stun_value(m, a);
  if (a->len < 4)
    return NN_ERR_FORMAT;
  uint8_t family = v[1];
  uint16_t port = nn_be16_get(v + 2);
  size_t hlen = family == 1 ? 4 : family == 2 ? 16 : 0;
  if (!hlen || a->len != 4 + hlen)
    return NN_ERR_FORMAT;
  memcpy(host, v + 4, hlen);
  if (is_xor_type(type)) {
    nn_be32_put(mask, NN_STUN_MAGIC);
    memcpy(mask + 4, m->tid, NN_STUN_TID_LEN);
    port ^= (uint16_t)(NN_STUN_MAGIC >> 16);
    for (size_t i = 0; i < hlen; i++)
      host[i] ^= mask[i];
  }
  *out = hlen == 4 ? nn_addr_ipv4(host, port) : nn_addr_ipv6(host, port);
  return NN_OK;
}

nn_err_t
nn_stun_get_u32(const nn_stun_msg_t *m, uint16_t type, uint32_t *out)
{
  const nn_stun_attr_t *a = nn_stun_find(m, type);
  if (!a)
    return NN_ERR_NOTFOUND;
  if (a->len != 4)
    return NN_ERR_FORMAT;
  *out = nn_be32_get(nn_stun_value(m, a));
  return NN_OK;
}

nn_err_t
nn_stun_get_error(const nn_stun_msg_t *m, unsigned *code, const uint8_t **reason, size_t *reason_len)
{
  const nn_stun_attr_t *a = nn_stun_find(m, NN_STUN_A_ERROR_CODE);
  if (!a)
    return NN_ERR_NOTFOUND;
  const uint8_t *v = nn_stun_value(m, a);
  if (a->len < 4 || a->len > 4 + NN_STUN_MAX_REASON)
    return NN_ERR_FORMAT;
  unsigned cls = v[2] & 7, num = v[3];
  if (cls < 3 || cls > 6 || num > 99)
    return NN_ERR_FORMAT;
  *code = cls * 100 + num;
  *reason = v + 4;
  *reason_len = a->len - 4u;
  return NN_OK;
}

/* The message up to attribute \a at with its length field counting through that attribute, as
 * the integrity and fingerprint checks see it. */
static void
prefix_header(const nn_stun_msg_t *m, const nn_stun_attr_t *at, uint8_t hdr[NN_STUN_HDR_LEN])
{
  size_t end = at->off + ((at->len + 3u) & ~3u);
  memcpy(hdr, m->buf, NN_STUN_HDR_LEN);
  nn_be16_put(hdr + 2, (uint16_t)(end - NN_STUN_HDR_LEN));
}

static uint32_t
fingerprint(const uint8_t hdr[NN_STUN_HDR_LEN], const uint8_t *rest, size_t rest_len)
{
  uint32_t crc = crc32_gzip_refl(0, hdr, NN_STUN_HDR_LEN);
  return crc32_gzip_refl(crc, rest, rest_len) ^ FINGERPRINT_XOR;
}

nn_err_t
nn_stun_check_fingerprint(const nn_stun_msg_t *m)
{
  uint8_t hdr[NN_STUN_HDR_LEN];
  if (m->fp < 0)
    return NN_ERR_NOTFOUND;
  const nn_stun_attr_t *a = &m->attrs[m->fp];
  prefix_header(m, a, hdr);
  uint32_t want = fingerprint(hdr, m->buf + NN_STUN_HDR_LEN, a->off - 4u - NN_STUN_HDR_LEN);
  return nn_be32_get(nn_stun_value(m, a)) == want ? NN_OK : NN_ERR_VERIFY;
}

/* HMAC over the message before attribute \a a, its length field counting through \a a. */
static nn_err_t
integrity(const nn_stun_msg_t *m, const nn_stun_attr_t *a, int sha256, const uint8_t *key, size_t key_len,
          uint8_t out[32])
{
  uint8_t hdr[NN_STUN_HDR_LEN], buf[NN_STUN_MAX_MSG];
  size_t n = a->off - 4u;
  prefix_header(m, a, hdr);
  memcpy(buf, hdr, NN_STUN_HDR_LEN);
  memcpy(buf + NN_STUN_HDR_LEN, m->buf + NN_STUN_HDR_LEN, n - NN_STUN_HDR_LEN);
  return sha256 ? nn_hmac_sha256(out, key, key_len, buf, n) : nn_hmac_sha1(out, key, key_len, buf, n);
}

static nn_err_t
check_integrity(const nn_stun_msg_t *m, int idx, int sha256, const uint8_t *key, size_t key_len)
{
  uint8_t mac[32];
  nn_err_t err;
  if (idx < 0)
    return NN_ERR_NOTFOUND;
  const nn_stun_attr_t *a = &m->attrs[idx];
  if ((err = integrity(m, a, sha256, key, key_len, mac)))
    goto out;
  err = CRYPTO_memcmp(mac, nn_stun_value(m, a), a->len) ? NN_ERR_VERIFY : NN_OK;
out:
  OPENSSL_cleanse(mac, sizeof(mac));
  return err;
}

nn_err_t
nn_stun_check_integrity(const nn_stun_msg_t *m, const uint8_t *key, size_t key_len)
{
  return check_integrity(m, m->mi, 0, key, key_len);
}

nn_err_t
nn_stun_check_integrity_sha256(const nn_stun_msg_t *m, const uint8_t *key, size_t key_len)
{
  return check_integrity(m, m->mi256, 1, key, key_len);
}

nn_err_t
nn_stun_longterm_key(uint8_t out[16], const char *username, const char *realm, const char *password)
{
  size_t u = strlen(username), r = strlen(realm), p = strlen(password);
  uint8_t buf[3 * 513];
  nn_err_t err;
  if (u > 512 || r > 512 || p > 512)
    return NN_ERR_TOO_LONG;
  memcpy(buf, username, u);
  buf[u] = ':';
  memcpy(buf + u + 1, realm, r);
  buf[u + 1 + r] = ':';
  memcpy(buf + u + r + 2, password, p);
  err = nn_md5(out, buf, u + r + p + 2);
  OPENSSL_cleanse(buf, sizeof(buf));
  return err;
}

/* ---- building ---- */

void
nn_stun_build_init(nn_stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                   const uint8_t tid[NN_STUN_TID_LEN])
{
  b->buf = buf;
  b->cap = cap > NN_STUN_MAX_MSG ? NN_STUN_MAX_MSG : cap;
  b->len = 0;
  b->err = NN_OK;
  if (b->cap < NN_STUN_HDR_LEN || method > 0x0FFF || cls > 3) {
    b->err = b->cap < NN_STUN_HDR_LEN ? NN_ERR_NOSPACE : NN_ERR_ARG;
    return;
  }
  nn_be16_put(buf, type_of(method, cls));
  nn_be16_put(buf + 2, 0);
  nn_be32_put(buf + 4, NN_STUN_MAGIC);
  memcpy(buf + 8, tid, NN_STUN_TID_LEN);
  b->len = NN_STUN_HDR_LEN;
}

/* Room for an attribute of \a len value bytes; its value's place, with the header and padding
 * written and the message's length field counting it. */
static uint8_t *
attr_room(nn_stun_builder_t *b, uint16_t type, size_t len)
{
  size_t padded = (len + 3) & ~(size_t)3;
  if (b->err)
    return NULL;
  if (len > 0xFFFF || b->len + 4 + padded > b->cap) {
    b->err = NN_ERR_NOSPACE;
    return NULL;
  }
  uint8_t *p = b->buf + b->len;
  nn_be16_put(p, type);
  nn_be16_put(p + 2, (uint16_t)len);
  memset(p + 4 + len, 0, padded - len);
  b->len += 4 + padded;
  nn_be16_put(b->buf + 2, (uint16_t)(b->len - NN_STUN_HDR_LEN));
  return p + 4;
}

void
nn_stun_add(nn_stun_builder_t *b, uint16_t type, const uint8_t *val, size_t len)
{
  uint8_t *p = attr_room(b, type, len);
  if (p && len)
    memcpy(p, val, len);
}

void
nn_stun_add_u32(nn_stun_builder_t *b, uint16_t type, uint32_t v)
{
  uint8_t *p = attr_room(b, type, 4);
  if (p)
    nn_be32_put(p, v);
}

void
nn_stun_add_addr(nn_stun_builder_t *b, uint16_t type, const nn_addr_t *a)
{
  size_t hlen = a->type == NN_ADDR_IPV4 ? 4 : a->type == NN_ADDR_IPV6 ? 16 : 0;
  uint8_t mask[16];
  if (!hlen) {
    if (!b->err)
      b->err = NN_ERR_ARG;
    return;
  }
  uint8_t *p = attr_room(b, type, 4 + hlen);
  if (!p)
    return;
  p[0] = 0;
  p[1] = hlen == 4 ? 1 : 2;
  nn_be16_put(p + 2, a->port);
  memcpy(p + 4, a->host, hlen);
  if (is_xor_type(type)) {
    nn_be32_put(mask, NN_STUN_MAGIC);
    memcpy(mask + 4, b->buf + 8, NN_STUN_TID_LEN);
    nn_be16_put(p + 2, (uint16_t)(a->port ^ (NN_STUN_MAGIC >> 16)));
    for (size_t i = 0; i < hlen; i++)
      p[4 + i] ^= mask[i];
  }
}

void
nn_stun_add_error(nn_stun_builder_t *b, unsigned code, const char *reason)
{
  size_t rl = strlen(reason);
  if (code < 300 || code > 699 || rl > NN_STUN_MAX_REASON) {
    if (!b->err)
      b->err = NN_ERR_ARG;
    return;
  }
  uint8_t *p = attr_room(b, NN_STUN_A_ERROR_CODE, 4 + rl);
  if (!p)
    return;
  p[0] = p[1] = 0;
  p[2] = (uint8_t)(code / 100);
  p[3] = (uint8_t)(code % 100);
  memcpy(p + 4, reason, rl);
}

static void
add_mac(nn_stun_builder_t *b, int sha256, const uint8_t *key, size_t key_len)
{
  uint8_t mac[32];
  size_t before = b->len, n = sha256 ? 32 : 20;
  uint8_t *p = attr_room(b, sha256 ? NN_STUN_A_MESSAGE_INTEGRITY_SHA256 : NN_STUN_A_MESSAGE_INTEGRITY, n);
  if (!p)
    return;
  /* the length field already counts this attribute, as the MAC must see it */
  nn_err_t err =
    sha256 ? nn_hmac_sha256(mac, key, key_len, b->buf, before) : nn_hmac_sha1(mac, key, key_len, b->buf, before);
  if (err)
    b->err = err;
  else
    memcpy(p, mac, n);
  OPENSSL_cleanse(mac, sizeof(mac));
}

void
nn_stun_add_integrity(nn_stun_builder_t *b, const uint8_t *key, size_t key_len)
{
  add_mac(b, 0, key, key_len);
}

void
nn_stun_add_integrity_sha256(nn_stun_builder_t *b, const uint8_t *key, size_t key_len)
{
  add_mac(b, 1, key, key_len);
}

void
nn_stun_add_fingerprint(nn_stun_builder_t *b)
{
  size_t before = b->len;
  uint8_t *p = attr_room(b, NN_STUN_A_FINGERPRINT, 4);
  if (p)
    nn_be32_put(p, fingerprint(b->buf, b->buf + NN_STUN_HDR_LEN, before - NN_STUN_HDR_LEN));
}

nn_err_t
nn_stun_build_finish(nn_stun_builder_t *b, size_t *len)
{
  if (b->err)
    return b->err;
  *len = b->len;
  return NN_OK;
}
