/*
 * `nepnet nat ...`: NAT behaviour discovery against any RFC 5780 STUN server (coturn, a nepnet
 * node) and a standalone STUN server, over real UDP sockets: the cores of src/nat driven by a
 * poll() loop, so an operator can ask "what NAT am I behind" without a running node, and the
 * tests can check both against coturn.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/commands.h"
#include "lib/clock.h"
#include "nat/natdisc.h"
#include "nat/stunsrv.h"

static const char usage[] =
  "usage: nepnet nat discover --server HOST:PORT [--local HOST:PORT] [--rto-ms MS] [--tries N]\n"
  "       nepnet nat stun-server --listen HOST:PORT [--alt HOST:PORT] [--seconds S] [--quiet]\n"
  "\n"
  "nepnet nat discover\n"
  "  Find the mapping and filtering behaviour (RFC 4787) of the NAT in front of one UDP socket,\n"
  "  with RFC 5780's tests against a STUN server that has two addresses (coturn started with two\n"
  "  --listening-ip, or `nepnet nat stun-server --alt`). Prints the mapped address, both\n"
  "  behaviours, the classic name and what they mean for hole punching.\n"
  "  --server HOST:PORT  the server's primary address (an IP literal; [v6]:port for IPv6)\n"
  "  --local HOST:PORT   the socket's address (default: any address, a port the kernel picks)\n"
  "  --rto-ms MS         first retransmission timeout (default 500, RFC 8489)\n"
  "  --tries N           sends per test that should be answered (default 7; filtering tests 3)\n"
  "\n"
  "nepnet nat stun-server\n"
  "  Answer STUN Binding requests as a nepnet node does (per-host and total budgets). With --alt\n"
  "  it listens on four sockets, LISTEN's and ALT's addresses with LISTEN's and ALT's ports, and\n"
  "  honours RFC 5780's CHANGE-REQUEST; on exit (SIGINT, SIGTERM or --seconds) it prints what it\n"
  "  answered and refused.\n"
  "  --listen HOST:PORT  the primary address A1:P1\n"
  "  --alt HOST:PORT     the alternate address A2:P2 (another IP and another port)\n"
  "  --seconds S         stop after S seconds (default: run until a signal)\n"
  "  --quiet             no line per answer\n";

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
  (void)sig;
  stop_flag = 1;
}

static int
open_udp(const nn_addr_t *a, nn_addr_t *bound, const char *what)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  char s[NN_ADDR_STR_MAX];
  nn_addr_format(a, s);
  if (!nn_addr_to_sockaddr(a, &ss, &sl)) {
    fprintf(stderr, "nepnet nat: %s %s is not an IP address and port\n", what, s);
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl)) {
    fprintf(stderr, "nepnet nat: cannot bind %s %s: %s (is the address on an interface of this host, the port free?)\n",
            what, s, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  sl = sizeof(ss);
  if (bound &&
      (getsockname(fd, (struct sockaddr *)&ss, &sl) || !nn_addr_from_sockaddr((struct sockaddr *)&ss, bound))) {
    close(fd);
    return -1;
  }
  return fd;
}

static int
parse_addr(const char *flag, const char *arg, nn_addr_t *out)
{
  if (nn_addr_parse(out, arg) || (out->type != NN_ADDR_IPV4 && out->type != NN_ADDR_IPV6)) {
    fprintf(stderr, "nepnet nat: --%s wants an IP address and port (1.2.3.4:3478 or [2001:db8::1]:3478), got '%s'\n",
            flag, arg);
    return 2;
  }
  return 0;
}

/* ---- discover ---- */

typedef struct disc_io_t {
  int fd;
} disc_io_t;

static void
disc_send(void *ctx, const nn_addr_t *to, const uint8_t *msg, size_t len)
{
  disc_io_t *io = ctx;
  struct sockaddr_storage ss;
  socklen_t sl;
  if (nn_addr_to_sockaddr(to, &ss, &sl))
    (void)sendto(io->fd, msg, len, 0, (struct sockaddr *)&ss, sl);
}

/* The local address a packet to \a server leaves from: connect a UDP socket (nothing is sent). */
static void
local_towards(const nn_addr_t *server, nn_addr_t *local)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd;
  if (!nn_addr_to_sockaddr(server, &ss, &sl) || (fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0)
    return;
  if (!connect(fd, (struct sockaddr *)&ss, sl)) {
    sl = sizeof(ss);
    nn_addr_t a;
    if (!getsockname(fd, (struct sockaddr *)&ss, &sl) && nn_addr_from_sockaddr((struct sockaddr *)&ss, &a))
      memcpy(local->host, a.host, sizeof(a.host));
  }
  close(fd);
}

static const char *
classic_name(const nn_natdisc_result_t *r)
{
  if (r->mapping == NN_NAT_MAP_NONE)
    return r->filtering == NN_NAT_FILTER_EIF ? "no NAT, open" : "no NAT, behind a firewall";
  if (r->mapping == NN_NAT_MAP_APDM || r->mapping == NN_NAT_MAP_ADM)
    return "symmetric";
  if (r->mapping != NN_NAT_MAP_EIM)
    return "unknown";
  return r->filtering == NN_NAT_FILTER_EIF   ? "full cone"
         : r->filtering == NN_NAT_FILTER_ADF ? "restricted cone"
                                             : "port-restricted cone";
}

static int
discover(int argc, char **argv)
{
  static const struct option opts[] = {
    { "server", required_argument, NULL, 's' }, { "local", required_argument, NULL, 'l' },
    { "rto-ms", required_argument, NULL, 'r' }, { "tries", required_argument, NULL, 't' },
    { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 }
  };
  nn_natdisc_cfg_t cfg;
  nn_addr_t local;
  int c, have_server = 0, have_local = 0;
  nn_natdisc_cfg_default(&cfg);
  memset(&local, 0, sizeof(local));
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 's':
      if (parse_addr("server", optarg, &cfg.server))
        return 2;
      have_server = 1;
      break;
    case 'l':
      if (parse_addr("local", optarg, &local))
        return 2;
      have_local = 1;
      break;
    case 'r':
      cfg.rto_ms = (uint32_t)strtoul(optarg, &end, 10);
      if (!*optarg || *end || !cfg.rto_ms || cfg.rto_ms > 60000) {
        fprintf(stderr, "nepnet nat: --rto-ms wants 1-60000, got '%s'\n", optarg);
        return 2;
      }
      break;
    case 't':
      cfg.tries = (unsigned)strtoul(optarg, &end, 10);
      if (!*optarg || *end || !cfg.tries || cfg.tries > 16) {
        fprintf(stderr, "nepnet nat: --tries wants 1-16, got '%s'\n", optarg);
        return 2;
      }
      break;
    case 'h': fputs(usage, stdout); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  if (!have_server) {
    fprintf(stderr, "nepnet nat discover: which STUN server? (--server HOST:PORT)\n\n%s", usage);
    return 2;
  }
  if (!have_local) {
    static const uint8_t any[16] = { 0 };
    local = cfg.server.type == NN_ADDR_IPV4 ? nn_addr_ipv4(any, 0) : nn_addr_ipv6(any, 0);
  }
  disc_io_t io;
  if ((io.fd = open_udp(&local, &local, "--local")) < 0)
    return 1;
  if (nn_addr_is_any(&local))
    local_towards(&cfg.server, &local);
  cfg.local = local;
  nn_natdisc_io_t dio = { disc_send, &io };
  nn_natdisc_t *d;
  nn_natdisc_result_t r;
  char s[NN_ADDR_STR_MAX];
  nn_addr_format(&local, s);
  printf("local socket %s\n", s);
  if (nn_natdisc_new(&d, &cfg, &dio, nn_mono_ms())) {
    close(io.fd);
    return 1;
  }
  for (;;) {
    nn_natdisc_result(d, &r);
    if (r.state != NN_NATDISC_RUNNING)
      break;
    uint64_t now = nn_mono_ms(), dl = nn_natdisc_deadline(d);
    struct pollfd p = { io.fd, POLLIN, 0 };
    int wait = dl > now ? (int)(dl - now > 60000 ? 60000 : dl - now) : 0;
    if (poll(&p, 1, wait) > 0) {
      uint8_t buf[2048];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof(ss);
      nn_addr_t from;
      ssize_t n = recvfrom(io.fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
      if (n > 0 && nn_addr_from_sockaddr((struct sockaddr *)&ss, &from))
        (void)nn_natdisc_input(d, &from, buf, (size_t)n, nn_mono_ms());
    }
    nn_natdisc_tick(d, nn_mono_ms());
  }
  nn_natdisc_free(d);
  close(io.fd);
  if (r.state == NN_NATDISC_FAILED) {
    nn_addr_format(&cfg.server, s);
    fprintf(stderr,
            "nepnet nat discover: no answer from %s after %u requests in %.1f s (is it a STUN server, is UDP "
            "to it blocked?)\n",
            s, r.requests, r.elapsed_ms / 1000.0);
    return 1;
  }
  nn_addr_format(&r.mapped, s);
  printf("mapped address %s\n", s);
  if (r.state == NN_NATDISC_PARTIAL) {
    printf("the server has no second address (no OTHER-ADDRESS): mapping and filtering unknown\n");
    return 0;
  }
  nn_addr_format(&r.other, s);
  printf("server's other address %s\n", s);
  printf("mapping %s\nfiltering %s\nclassic name: %s\n", nn_nat_mapping_name(r.mapping),
         nn_nat_filtering_name(r.filtering), classic_name(&r));
  printf("%s\n", r.mapping == NN_NAT_MAP_NONE && r.filtering == NN_NAT_FILTER_EIF
                   ? "reachable: others can reach this address directly"
                 : r.mapping == NN_NAT_MAP_EIM || r.mapping == NN_NAT_MAP_NONE
                   ? "hole punching works with peers whose NAT maps independently of the destination"
                   : "hole punching fails against another destination-dependent NAT: a relay is needed there");
  printf("requests %u, %.1f s\n", r.requests, r.elapsed_ms / 1000.0);
  return 0;
}

/* ---- stun-server ---- */

static int
stun_server(int argc, char **argv)
{
  static const struct option opts[] = {
    { "listen", required_argument, NULL, 'l' },  { "alt", required_argument, NULL, 'a' },
    { "seconds", required_argument, NULL, 's' }, { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 }
  };
  nn_stunsrv_cfg_t cfg;
  nn_addr_t alt;
  int c, have_listen = 0, have_alt = 0, quiet = 0, fds[NN_STUNSRV_SOCKETS] = { -1, -1, -1, -1 };
  double seconds = 0;
  nn_stunsrv_cfg_default(&cfg);
  optind = 2;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'l':
      if (parse_addr("listen", optarg, &cfg.addr[0]))
        return 2;
      have_listen = 1;
      break;
    case 'a':
      if (parse_addr("alt", optarg, &alt))
        return 2;
      have_alt = 1;
      break;
    case 's':
      seconds = strtod(optarg, &end);
      if (end == optarg || *end || !(seconds > 0 && seconds <= 86400)) {
        fprintf(stderr, "nepnet nat: --seconds wants a number in (0, 86400], got '%s'\n", optarg);
        return 2;
      }
      break;
    case 'q': quiet = 1; break;
    case 'h': fputs(usage, stdout); return 0;
    default: fputs(usage, stderr); return 2;
    }
  }
  if (!have_listen) {
    fprintf(stderr, "nepnet nat stun-server: where? (--listen HOST:PORT)\n\n%s", usage);
    return 2;
  }
  if (have_alt) {
    if (alt.type != cfg.addr[0].type || nn_addr_same_host(&alt, &cfg.addr[0]) || alt.port == cfg.addr[0].port) {
      fprintf(stderr, "nepnet nat stun-server: --alt needs another address of the same family and another port "
                      "than --listen\n");
      return 2;
    }
    cfg.addr[1] = cfg.addr[0];
    cfg.addr[1].port = alt.port;
    cfg.addr[2] = alt;
    cfg.addr[2].port = cfg.addr[0].port;
    cfg.addr[3] = alt;
  }
  nn_stunsrv_t *srv;
  if (nn_stunsrv_new(&srv, &cfg))
    return 1;
  int rc = 1;
  struct pollfd p[NN_STUNSRV_SOCKETS];
  unsigned np = 0;
  for (unsigned i = 0; i < NN_STUNSRV_SOCKETS; i++)
    if (cfg.addr[i].type) {
      if ((fds[i] = open_udp(&cfg.addr[i], NULL, "--listen/--alt")) < 0)
        goto out;
      char s[NN_ADDR_STR_MAX];
      nn_addr_format(&cfg.addr[i], s);
      printf("listening on %s\n", s);
    }
  fflush(stdout);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  uint64_t until = seconds > 0 ? nn_mono_ms() + (uint64_t)(seconds * 1000) : UINT64_MAX;
  while (!stop_flag && nn_mono_ms() < until) {
    np = 0;
    unsigned which[NN_STUNSRV_SOCKETS];
    for (unsigned i = 0; i < NN_STUNSRV_SOCKETS; i++)
      if (fds[i] >= 0) {
        p[np].fd = fds[i];
        p[np].events = POLLIN;
        which[np++] = i;
      }
    if (poll(p, np, 200) <= 0)
      continue;
    for (unsigned k = 0; k < np; k++) {
      if (!(p[k].revents & POLLIN))
        continue;
      uint8_t buf[2048], ans[NN_STUNSRV_MAX_ANSWER];
      struct sockaddr_storage ss;
      socklen_t sl = sizeof(ss);
      nn_addr_t from;
      size_t alen;
      unsigned out_sock;
      ssize_t n = recvfrom(p[k].fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);
      if (n <= 0 || !nn_addr_from_sockaddr((struct sockaddr *)&ss, &from))
        continue;
      if (nn_stunsrv_input(srv, which[k], &from, buf, (size_t)n, nn_mono_ms(), ans, &alen, &out_sock)) {
        (void)sendto(fds[out_sock], ans, alen, 0, (struct sockaddr *)&ss, sl);
        if (!quiet) {
          char a[NN_ADDR_STR_MAX], o[NN_ADDR_STR_MAX];
          nn_addr_format(&from, a);
          nn_addr_format(&cfg.addr[out_sock], o);
          printf("answered %s from %s\n", a, o);
          fflush(stdout);
        }
      }
    }
  }
  nn_stunsrv_stats_t st;
  nn_stunsrv_stats(srv, &st);
  printf("answered %llu, errors sent %llu, not STUN %llu, malformed %llu, not a Binding request %llu, over a host's "
         "budget %llu, over the server's %llu\n",
         (unsigned long long)st.answered, (unsigned long long)st.errors_sent, (unsigned long long)st.not_stun,
         (unsigned long long)st.malformed, (unsigned long long)st.not_binding_request,
         (unsigned long long)st.rate_limited, (unsigned long long)st.overloaded);
  rc = 0;
out:
  for (unsigned i = 0; i < NN_STUNSRV_SOCKETS; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  nn_stunsrv_free(srv);
  return rc;
}

int
nepnet_cmd_nat(int argc, char **argv)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && !strcmp(argv[1], "discover"))
    return discover(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "stun-server"))
    return stun_server(argc, argv);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "nepnet nat: which? (discover, stun-server)\n\n%s", usage);
  return 2;
}
