/*
 * The hostile suite's tools (issue 10): a real nepnetd started and stopped, its memory read from
 * /proc, its API and metrics, and secure channels driven by hand over plain sockets (the attacker
 * decides when to read and what to send, byte by byte), each from a chosen loopback source
 * address (127.0.0.0/8 is all ours: 127.X.Y.Z stands for a host in its own /24).
 */
#ifndef NN_TESTS_HOSTILE_H
#define NN_TESTS_HOSTILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nepnet/channel.h"
#include "nepnet/identity.h"
#include "nepnet/types.h"

/* A nepnetd under attack. */
typedef struct hnode_t {
  pid_t pid;
  char dir[256];
  char api[96];
  char token[128];
  nn_node_id_t id;
  uint16_t port; /* listening on 127.0.0.1 */
} hnode_t;

/* Start nepnetd (default settings but for regtest, loopback listener and API, any free ports)
 * with \a extra (NULL-terminated, may be NULL); 0 on success. */
int hnode_start(hnode_t *n, const char *nepnetd, const char *const *extra);
/* SIGTERM, wait (10 s, then SIGKILL), remove its directory: its exit status (0: a clean stop;
 * a sanitizer's report or a crash is not), with its log's tail on stderr otherwise. */
int hnode_stop(hnode_t *n);
/* VmRSS or VmHWM ("VmRSS:", "VmHWM:") of the node in KiB, 0 if unreadable. */
size_t hnode_mem_kib(const hnode_t *n, const char *field);
/* The value of one metric line ("nepnet_bans_total", or with labels), or -1. */
double hnode_metric(const hnode_t *n, const char *name);
/* One API request with the token (or none, \a with_token 0) and extra raw headers; HTTP status. */
int hnode_api(const hnode_t *n, const char *method, const char *path, int with_token, char **body);

uint64_t hmono_ms(void);

/* A TCP connection from \a src (an IPv4 loopback address) to the node, blocking connect, then
 * non-blocking; -1 on failure. */
int hconnect(const hnode_t *n, const char *src);

/* A secure channel over a socket, driven by hand. */
typedef struct hchan_t {
  int fd;
  nn_chan_t *c;
  int established, closed, io_error;
  /* the messages received, if kept (keep != 0): the last one, and a count */
  int keep;
  uint8_t last[65536];
  size_t last_len;
  uint64_t received;
  /* every message, if set (the relay attack reads several kinds as they come) */
  void (*on_msg)(struct hchan_t *h, const uint8_t *msg, size_t len);
  void *user;
} hchan_t;

/* Connect from \a src and run the handshake (identified with \a id, anonymous with NULL) for up
 * to \a timeout_ms; 0 once established. */
int hchan_open(hchan_t *h, const hnode_t *n, const char *src, const nn_identity_t *id, int timeout_ms);
/* Queue one message and write what the socket takes now (the rest waits in the channel). */
int hchan_send(hchan_t *h, const uint8_t *msg, size_t len);
/* Write pending output (and, with \a read, read and process input) for up to \a ms, or until
 * \a until(h) is true. */
void hchan_pump(hchan_t *h, int read, int ms, int (*until)(const hchan_t *h));
/* Bytes of output the channel holds that the socket has not taken. */
size_t hchan_pending(const hchan_t *h);
void hchan_close(hchan_t *h);

/* A DHT PING over a new identified channel from \a src: 1 if the PONG came back in time. */
int hlegit_ping(const hnode_t *n, const char *src, const nn_identity_t *id);

#endif
