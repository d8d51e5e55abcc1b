/*
 * The channel: framing of handshake messages and records on a byte stream, the output queue,
 * message fragmentation and reassembly, and the public sans-I/O API. The handshake steps
 * themselves are in handshake.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "transport/chan_int.h"

const char *
nn_close_reason_str(nn_close_reason_t r)
{
  switch (r) {
  case NN_CLOSE_NONE: return "open";
  case NN_CLOSE_LOCAL: return "closed locally";
  case NN_CLOSE_PEER: return "closed by peer";
  case NN_CLOSE_PROTOCOL: return "protocol violation (malformed or unexpected message)";
  case NN_CLOSE_AUTH: return "authentication failed (tampering, a relay, or another network)";
  case NN_CLOSE_WRONG_ID: return "peer is not the expected node id";
  case NN_CLOSE_TIMEOUT: return "handshake timed out";
  case NN_CLOSE_TOO_LARGE: return "record or message above the maximum size";
  case NN_CLOSE_ID_REQUIRED: return "peer requires an identified initiator";
  case NN_CLOSE_VERSION: return "unsupported protocol version";
  case NN_CLOSE_INTERNAL: return "internal error (memory or crypto library)";
  case NN_CLOSE_COOKIE: return "bad DoS cookie";
  case NN_CLOSE_UNSUPPORTED: return "a message kind the receiver does not speak";
  case NN_CLOSE_SLOW: return "too slow: our replies unread, or a message not finished in time";
  }
  return "unknown reason";
}

nn_err_t
nn_chan_out_reserve(nn_chan_t *c, size_t n, uint8_t **p)
{
  *p = NULL;
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  if (n > c->out_cap - c->out_len) {
    /* compact first; grow only if still short */
    if (c->out_off) {
      memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
      c->out_len -= c->out_off;
      c->out_off = 0;
    }
    if (n > c->out_cap - c->out_len) {
      size_t want = c->out_cap ? c->out_cap : 4096;
      while (want < c->out_len + n)
        want *= 2;
      uint8_t *nb = realloc(c->out, want); /* ciphertext only: no wipe needed */
      if (!nb)
        return NN_ERR_NOMEM;
      c->out = nb;
      c->out_cap = want;
    }
  }
  *p = c->out + c->out_len;
  c->out_len += n;
  return NN_OK;
}

static void
report(nn_chan_t *c, nn_chan_event_t ev)
{
  if (c->cfg.on_event)
    c->cfg.on_event(c->cfg.ctx, ev);
}

static void
drop_handshake(nn_chan_t *c)
{
  nn_hs_free(c->hs);
  c->hs = NULL;
}

/* Seal one record into the output queue. On failure nothing stays queued: the reserved bytes
 * (uninitialised heap, or a half-written record) must never reach the wire. */
static nn_err_t
queue_record(nn_chan_t *c, nn_rec_type_t type, const uint8_t *content, size_t len, size_t pad)
{
  size_t n = nn_rec_wire_len(len, pad);
  uint8_t *p;
  nn_err_t err = nn_chan_out_reserve(c, n, &p);
  if (!err && (err = nn_rec_seal(&c->tx, type, content, len, pad, p)))
    c->out_len -= n;
  return err;
}

static void
shaped_drop(nn_chan_t *c)
{
  while (c->sq) {
    nn_chan_smsg_t *m = c->sq;
    c->sq = m->next;
    OPENSSL_cleanse(m->b, m->len);
    free(m);
  }
  c->sq_tail = &c->sq;
  c->sq_bytes = 0;
}

static void
close_with(nn_chan_t *c, nn_close_reason_t reason, int tell_peer)
{
  if (c->st == NN_ST_CLOSED)
    return;
  shaped_drop(c); /* unsent: the CLOSE goes now, not after them */
  if (tell_peer && c->st == NN_ST_OPEN) {
    uint8_t code = (uint8_t)reason;
    (void)queue_record(c, NN_REC_CLOSE, &code, 1, 0);
  }
  c->st = NN_ST_CLOSED;
  c->reason = reason;
  drop_handshake(c);
  nn_wire_writer_free(&c->msg);
  c->msg_active = 0;
  report(c, NN_CHAN_EV_CLOSED);
}

void
nn_chan_fail(nn_chan_t *c, nn_close_reason_t reason)
{
  close_with(c, reason, 1);
}

void
nn_chan_close(nn_chan_t *c, nn_close_reason_t reason)
{
  close_with(c, reason ? reason : NN_CLOSE_LOCAL, 1);
}

void
nn_chan_established(nn_chan_t *c)
{
  drop_handshake(c);
  c->st = NN_ST_OPEN;
  c->was_open = 1;
  c->deadline = UINT64_MAX;
  report(c, NN_CHAN_EV_ESTABLISHED);
}

nn_err_t
nn_chan_new(nn_chan_t **out, const nn_chan_config_t *cfg, uint64_t now_ms)
{
  nn_chan_t *c;
  nn_err_t err = NN_OK;

  *out = NULL;
  if ((cfg->role == NN_CHAN_RESPONDER && !cfg->identity) ||
      (cfg->max_message && cfg->max_message < NN_CHAN_MIN_MAX_MESSAGE))
    return NN_ERR_ARG;
  if (!(c = calloc(1, sizeof(*c))))
    return NN_ERR_NOMEM;
  c->cfg = *cfg;
  if (!c->cfg.max_message)
    c->cfg.max_message = NN_CHAN_DEFAULT_MAX_MESSAGE;
  if (!c->cfg.rekey_interval)
    c->cfg.rekey_interval = NN_REC_DEFAULT_REKEY;
  if (c->cfg.rekey_interval > (1u << 24))
    c->cfg.rekey_interval = 1u << 24;
  if (!c->cfg.handshake_timeout_ms)
    c->cfg.handshake_timeout_ms = NN_CHAN_DEFAULT_HS_TIMEOUT_MS;
  c->sq_tail = &c->sq;
  c->sq_max = c->cfg.shape_queue_max ? c->cfg.shape_queue_max : 2 * (size_t)c->cfg.max_message;
  c->deadline = now_ms + c->cfg.handshake_timeout_ms;
  c->msg1_deadline = c->cfg.msg1_timeout_ms ? now_ms + c->cfg.msg1_timeout_ms : UINT64_MAX;
  if (cfg->role == NN_CHAN_INITIATOR) {
    c->st = NN_ST_I_WAIT_MSG2;
    err = nn_hs_start_initiator(c);
  } else {
    c->st = NN_ST_R_WAIT_MSG1;
    if (!(c->hs = calloc(1, sizeof(*c->hs))))
      err = NN_ERR_NOMEM;
  }
  if (err) {
    nn_chan_free(c);
    return err;
  }
  *out = c;
  return NN_OK;
}

void
nn_chan_free(nn_chan_t *c)
{
  if (!c)
    return;
  drop_handshake(c);
  shaped_drop(c);
  nn_rec_dir_clear(&c->tx);
  nn_rec_dir_clear(&c->rx);
  nn_wire_writer_free(&c->msg);
  if (c->in) {
    OPENSSL_cleanse(c->in, c->in_cap); /* may hold decrypted plaintext */
    free(c->in);
  }
  free(c->out);
  OPENSSL_cleanse(c, sizeof(*c));
  free(c);
}

/* ---- receiving ---- */

size_t
nn_chan_partial(const nn_chan_t *c)
{
  /* what it holds, not what it used: a message in reassembly and a record (or handshake
   * frame) not yet whole; both buffers are gone once nothing is partly received */
  return c ? (c->msg_active ? c->msg.cap : 0) + (c->in ? c->in_cap : 0) : 0;
}

static void
deliver(nn_chan_t *c, const uint8_t *msg, size_t len)
{
  if (c->cfg.on_message)
    c->cfg.on_message(c->cfg.ctx, msg, len);
}

static void
on_record(nn_chan_t *c, uint8_t type, const uint8_t *content, size_t len)
{
  switch (type) {
  case NN_REC_PAD: return;
  case NN_REC_CLOSE: close_with(c, NN_CLOSE_PEER, 0); return;
  case NN_REC_DATA_MORE:
  case NN_REC_DATA_END:
    if (!c->msg_active) {
      if (type == NN_REC_DATA_END) {
        if (len > c->cfg.max_message) { /* the cap holds for one-record messages too */
          nn_chan_fail(c, NN_CLOSE_TOO_LARGE);
          return;
        }
        deliver(c, content, len); /* one-record message: no reassembly copy */
        return;
      }
      nn_wire_writer_init_dynamic(&c->msg, c->cfg.max_message);
      c->msg_active = 1;
    }
    if (nn_wire_put_bytes(&c->msg, content, len)) {
      nn_chan_fail(c, c->msg.err == NN_ERR_NOSPACE ? NN_CLOSE_TOO_LARGE : NN_CLOSE_INTERNAL);
      return;
    }
    if (type == NN_REC_DATA_END) {
      /* Take the buffer out of the channel first: a callback that closes the channel must not
       * free the message it is still reading. */
      size_t n;
      uint8_t *m = nn_wire_writer_steal(&c->msg, &n);
      c->msg_active = 0;
      deliver(c, m, n);
      OPENSSL_cleanse(m, n);
      free(m);
    }
    return;
  }
}

/* How many bytes the unit (frame or record) that starts in c->in needs in total; 0 if the header
 * itself is not complete. Fails the channel on an illegal length. */
static size_t
unit_size(nn_chan_t *c)
{
  if (c->st == NN_ST_OPEN) {
    size_t ct_len;
    nn_err_t err;
    if (c->in_len < NN_REC_HDR_LEN)
      return 0;
    if ((err = nn_rec_open_header(&c->rx, c->in, &ct_len))) {
      nn_chan_fail(c, err == NN_ERR_TOO_LONG ? NN_CLOSE_TOO_LARGE : NN_CLOSE_PROTOCOL);
      return 0;
    }
    return NN_REC_HDR_LEN + ct_len;
  }
  if (c->in_len < NN_HS_FRAME_HDR)
    return 0;
  size_t n = nn_be16_get(c->in);
  if (n == 0 || n > NN_HS_MAX_FRAME) {
    nn_chan_fail(c, n ? NN_CLOSE_TOO_LARGE : NN_CLOSE_PROTOCOL);
    return 0;
  }
  return NN_HS_FRAME_HDR + n;
}

/* Open the record of \a total bytes at \a unit (header, then ciphertext) into c->in (which may be
 * where it already lies) and act on it. */
static void
open_record(nn_chan_t *c, const uint8_t *unit, size_t total)
{
  uint8_t type;
  const uint8_t *content;
  size_t len;
  nn_err_t err = nn_rec_open_to(&c->rx, unit, unit + NN_REC_HDR_LEN, total - NN_REC_HDR_LEN, c->in + NN_REC_HDR_LEN,
                                &type, &content, &len);
  if (err) {
    nn_chan_fail(c, err == NN_ERR_VERIFY ? NN_CLOSE_AUTH : NN_CLOSE_PROTOCOL);
    return;
  }
  on_record(c, type, content, len);
}

static void
process_unit(nn_chan_t *c, size_t total)
{
  if (c->st != NN_ST_OPEN) {
    nn_hs_on_frame(c, c->in + NN_HS_FRAME_HDR, total - NN_HS_FRAME_HDR);
    return;
  }
  open_record(c, c->in, total);
}

static nn_err_t
in_room(nn_chan_t *c, size_t need)
{
  if (need <= c->in_cap)
    return NN_OK;
  uint8_t *nb = malloc(need);
  if (!nb)
    return NN_ERR_NOMEM;
  if (c->in) {
    memcpy(nb, c->in, c->in_len);
    OPENSSL_cleanse(c->in, c->in_cap);
    free(c->in);
  }
  c->in = nb;
  c->in_cap = need;
  return NN_OK;
}

nn_err_t
nn_chan_recv(nn_chan_t *c, const uint8_t *data, size_t len, uint64_t now_ms)
{
  size_t hdr;
  nn_chan_tick(c, now_ms);
  while (c->st != NN_ST_CLOSED) {
    /* Header first, into a small allocation: the full size is known only after checking it. */
    hdr = c->st == NN_ST_OPEN ? NN_REC_HDR_LEN : NN_HS_FRAME_HDR;
    size_t total = unit_size(c);
    /* Judge a header as soon as it is complete, even when no body byte follows in this call: a
     * peer that sends an illegal length and then stalls is closed now, not at the next byte. */
    if (c->st == NN_ST_CLOSED || !len)
      break;
    size_t want = total ? total : hdr;
    if (c->st == NN_ST_OPEN && c->in_len == 0 && len >= NN_REC_HDR_LEN) {
      /* A record that starts here: if it is all here, decrypt it straight from the caller's
       * buffer into c->in instead of copying it there first (the bulk-transfer path). */
      size_t ct_len;
      nn_err_t err = nn_rec_open_header(&c->rx, data, &ct_len);
      if (err) {
        nn_chan_fail(c, err == NN_ERR_TOO_LONG ? NN_CLOSE_TOO_LARGE : NN_CLOSE_PROTOCOL);
        break;
      }
      if (len >= NN_REC_HDR_LEN + ct_len) {
        if (in_room(c, NN_REC_HDR_LEN + ct_len)) {
          nn_chan_fail(c, NN_CLOSE_INTERNAL);
          break;
        }
        open_record(c, data, NN_REC_HDR_LEN + ct_len);
        data += NN_REC_HDR_LEN + ct_len;
        len -= NN_REC_HDR_LEN + ct_len;
        continue;
      }
    }
    if (in_room(c, want)) {
      nn_chan_fail(c, NN_CLOSE_INTERNAL);
      break;
    }
    size_t take = want - c->in_len < len ? want - c->in_len : len;
    memcpy(c->in + c->in_len, data, take);
    c->in_len += take;
    data += take;
    len -= take;
    if (!total)
      continue; /* header now complete (or still short): size it on the next pass */
    if (c->in_len == total) {
      process_unit(c, total);
      c->in_len = 0;
    }
  }
  /* Idle channels keep no receive buffer: memory per idle connection stays small. */
  if (c->in && (c->in_len == 0 || c->st == NN_ST_CLOSED)) {
    OPENSSL_cleanse(c->in, c->in_cap);
    free(c->in);
    c->in = NULL;
    c->in_cap = c->in_len = 0;
  }
  return c->st == NN_ST_CLOSED && c->reason != NN_CLOSE_PEER && c->reason != NN_CLOSE_LOCAL ? NN_ERR_VERIFY : NN_OK;
}

/* ---- sending ---- */

static size_t
pad_for(const nn_chan_t *c, size_t len)
{
  if (!c->cfg.pad_to)
    return 0;
  size_t pad = (c->cfg.pad_to - len % c->cfg.pad_to) % c->cfg.pad_to;
  return pad > NN_REC_MAX_PAD ? NN_REC_MAX_PAD : pad;
}

/* Shaped: the message waits for the records the ticks make. */
static nn_err_t
shaped_queue(nn_chan_t *c, const uint8_t *msg, size_t len)
{
  nn_chan_smsg_t *m;
  if (c->sq_bytes + len > c->sq_max)
    return NN_ERR_NOSPACE;
  if (!(m = malloc(sizeof(*m) + len)))
    return NN_ERR_NOMEM;
  m->next = NULL;
  m->len = len;
  m->off = 0;
  memcpy(m->b, msg, len);
  *c->sq_tail = m;
  c->sq_tail = &m->next;
  c->sq_bytes += len;
  return NN_OK;
}

/* One record of a shaped channel: NN_CHAN_SHAPE_CONTENT bytes of the oldest message, or a decoy. */
static nn_err_t
shaped_record(nn_chan_t *c)
{
  nn_chan_smsg_t *m = c->sq;
  if (!m)
    return queue_record(c, NN_REC_PAD, NULL, 0, NN_CHAN_SHAPE_CONTENT);
  size_t n = m->len - m->off < NN_CHAN_SHAPE_CONTENT ? m->len - m->off : NN_CHAN_SHAPE_CONTENT;
  int last = m->off + n == m->len;
  nn_err_t err =
    queue_record(c, last ? NN_REC_DATA_END : NN_REC_DATA_MORE, m->b + m->off, n, NN_CHAN_SHAPE_CONTENT - n);
  if (err)
    return err;
  m->off += n;
  c->sq_bytes -= n;
  if (last) {
    if (!(c->sq = m->next))
      c->sq_tail = &c->sq;
    OPENSSL_cleanse(m->b, m->len);
    free(m);
  }
  return NN_OK;
}

size_t
nn_chan_queued(const nn_chan_t *c)
{
  return c ? c->sq_bytes : 0;
}

nn_err_t
nn_chan_send(nn_chan_t *c, const uint8_t *msg, size_t len)
{
  if (c->st != NN_ST_OPEN)
    return NN_ERR_ARG;
  if (len > c->info.peer_max_message)
    return NN_ERR_TOO_LONG;
  if (c->cfg.shape_interval_ms)
    return len ? shaped_queue(c, msg, len) : NN_ERR_ARG;
  do {
    size_t n = len > NN_REC_MAX_CONTENT ? NN_REC_MAX_CONTENT : len;
    size_t pad = pad_for(c, n);
    nn_err_t err = queue_record(c, n == len ? NN_REC_DATA_END : NN_REC_DATA_MORE, msg, n, pad);
    if (err) {
      nn_chan_fail(c, NN_CLOSE_INTERNAL);
      return err;
    }
    msg += n;
    len -= n;
  } while (len);
  return NN_OK;
}

nn_err_t
nn_chan_send_decoy(nn_chan_t *c, size_t len)
{
  nn_err_t err;
  if (c->st != NN_ST_OPEN)
    return NN_ERR_ARG;
  if (len > NN_REC_MAX_PAD)
    len = NN_REC_MAX_PAD;
  if ((err = queue_record(c, NN_REC_PAD, NULL, 0, len)))
    nn_chan_fail(c, NN_CLOSE_INTERNAL);
  return err;
}

void
nn_chan_output(const nn_chan_t *c, const uint8_t **data, size_t *len)
{
  *data = c->out ? c->out + c->out_off : NULL;
  *len = c->out_len - c->out_off;
}

void
nn_chan_output_consume(nn_chan_t *c, size_t n)
{
  if (n > c->out_len - c->out_off)
    n = c->out_len - c->out_off;
  c->out_off += n;
  if (c->out_off == c->out_len) {
    free(c->out); /* nothing pending: an idle channel holds no output buffer */
    c->out = NULL;
    c->out_off = c->out_len = c->out_cap = 0;
  }
}

void
nn_chan_tick(nn_chan_t *c, uint64_t now_ms)
{
  if (c->st != NN_ST_OPEN && c->st != NN_ST_CLOSED && now_ms >= nn_chan_deadline(c))
    close_with(c, NN_CLOSE_TIMEOUT, 0);
  if (c->st != NN_ST_OPEN || !c->cfg.shape_interval_ms || now_ms < c->next_slot_ms)
    return;
  /* one record per slot; a driver that woke late catches up by a few, not by a burst that
   * would stand out */
  uint64_t iv = c->cfg.shape_interval_ms;
  if (!c->next_slot_ms || now_ms - c->next_slot_ms > 4 * iv)
    c->next_slot_ms = now_ms;
  for (int k = 0; k < 4 && c->next_slot_ms <= now_ms; k++) {
    /* a link that does not drain gets nothing more: its slots pass (the stream shows a stall,
     * not our choice), and nothing piles up behind it */
    if (c->out_len - c->out_off >= 4 * nn_rec_wire_len(NN_CHAN_SHAPE_CONTENT, 0)) {
      c->next_slot_ms += iv;
      continue;
    }
    if (shaped_record(c)) {
      nn_chan_fail(c, NN_CLOSE_INTERNAL);
      return;
    }
    c->next_slot_ms += iv;
  }
}

uint64_t
nn_chan_deadline(const nn_chan_t *c)
{
  if (c->st == NN_ST_OPEN && c->cfg.shape_interval_ms)
    return c->next_slot_ms;
  if (c->st == NN_ST_OPEN || c->st == NN_ST_CLOSED)
    return UINT64_MAX;
  if (c->st == NN_ST_R_WAIT_MSG1 && c->msg1_deadline < c->deadline)
    return c->msg1_deadline;
  return c->deadline;
}

int
nn_chan_is_established(const nn_chan_t *c)
{
  return c->st == NN_ST_OPEN;
}
int
nn_chan_is_closed(const nn_chan_t *c)
{
  return c->st == NN_ST_CLOSED;
}
int
nn_chan_cookie_sent(const nn_chan_t *c)
{
  return c->hs && c->hs->cookie_sent;
}
nn_close_reason_t
nn_chan_close_reason(const nn_chan_t *c)
{
  return c->reason;
}

const nn_chan_info_t *
nn_chan_info(const nn_chan_t *c)
{
  return c->was_open ? &c->info : NULL;
}
