/*
 * bench_listener: how many handshakes one nepnetd serves, and how much of the machine it uses
 * for them, with its handshake crypto on the event loop's thread (--workers 0, what nepnetd did
 * before the pool), on one worker, and on one worker per core.
 *
 * For each pool size, in rotating order, --rounds times:
 *   1. nepnetd starts (regtest, a listener on loopback, the per-address limits off, the control
 *      API off) with --workers W;
 *   2. --clients client processes each run handshakes back to back for --seconds: connect,
 *      the sans-I/O channel (nepnet/channel.h) as an initiator over a blocking socket, anonymous
 *      by default (--mutual: with an identity of its own, which the listener verifies), then
 *      shutdown and wait for the listener's end, so a handshake counts once the listener has
 *      read msg3 and closed: what it served, not what the client sent;
 *   3. the listener's CPU (utime + stime from /proc, the whole process and its event loop's
 *      thread apart) over the window, the handshakes the clients completed, their own CPU.
 * Rates and CPU per handshake are compared within each round (the machine is shared and the
 * clients share its cores with the listener): per round, rate(pool) / rate(other), and the
 * medians and ranges of those ratios are printed.
 * Then idle: nepnetd without clients for --idle-s seconds with each pool size: CPU and VmRSS.
 *
 * What the CPU per handshake predicts for a machine of K cores that serves only handshakes
 * (clients elsewhere): rate(K) <= min(K / listener CPU per handshake, 1 / loop CPU per
 * handshake); the second bound is the event loop's share, which a pool does not spread.
 *
 *   bench_listener [--clients N] [--seconds S] [--rounds R] [--workers LIST] [--mutual]
 *                  [--idle-s S] [--dir DIR] [--nepnetd PATH]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "nepnet/channel.h"
#include "nepnet/identity.h"
#include "nepnet/nepnet.h"

#define MAX_POOLS 8
#define MAX_ROUNDS 64
#define MAX_CLIENTS 64

static double
mono(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t
now_ms(void)
{
  return (uint64_t)(mono() * 1000.0);
}

static int
cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof(*v), cmp_d);
  return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

/* ---- /proc ---- */

/* utime + stime, in clock ticks, of /proc/PID/stat or /proc/PID/task/TID/stat. */
static int
stat_ticks(const char *path, unsigned long long *ticks)
{
  char line[1024];
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  if (!fgets(line, sizeof(line), f)) {
    fclose(f);
    return -1;
  }
  fclose(f);
  const char *s = strrchr(line, ')');
  unsigned long long ut = 0, st = 0;
  if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  *ticks = ut + st;
  return 0;
}

typedef struct usage_t {
  unsigned long long all, loop; /* ticks: the process, its main (event loop) thread */
  long rss_kib;
  int threads;
} usage_t;

static int
proc_usage(pid_t pid, usage_t *u)
{
  char p[96], line[256];
  memset(u, 0, sizeof(*u));
  u->rss_kib = -1;
  snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
  if (stat_ticks(p, &u->all))
    return -1;
  snprintf(p, sizeof(p), "/proc/%d/task/%d/stat", (int)pid, (int)pid); /* the main thread runs the loop */
  if (stat_ticks(p, &u->loop))
    return -1;
  snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
  FILE *f = fopen(p, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f)) {
    if (!strncmp(line, "VmRSS:", 6))
      u->rss_kib = strtol(line + 6, NULL, 10);
    else if (!strncmp(line, "Threads:", 8))
      u->threads = (int)strtol(line + 8, NULL, 10);
  }
  fclose(f);
  return 0;
}

/* ---- the listener ---- */

static const char *nepnetd_path = NEPNET_NEPNETD;
static const char *dir = "build/bench-listener";
static int port;

static int
free_port(void)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { 0 };
  socklen_t alen = sizeof(a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &alen)) {
    perror("bench_listener: finding a free port");
    exit(1);
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int
dial(void)
{
  struct sockaddr_in a = { 0 };
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

static pid_t
listener_start(unsigned workers)
{
  char wbuf[16], lbuf[64], logp[600];
  snprintf(wbuf, sizeof(wbuf), "%u", workers);
  snprintf(lbuf, sizeof(lbuf), "127.0.0.1:%d", port);
  snprintf(logp, sizeof(logp), "%s/nepnetd.log", dir);
  pid_t pid = fork();
  if (pid < 0) {
    perror("bench_listener: fork");
    exit(1);
  }
  if (pid == 0) {
    if (!freopen(logp, "a", stderr) || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
      _exit(126);
    execl(nepnetd_path, nepnetd_path, "--datadir", dir, "--network", "regtest", "--listen", lbuf, "--api", "off",
          "--workers", wbuf, "--listen-max-per-ip", "0", "--listen-ip-rate", "0", "--listen-half-open-per-group", "0",
          "--max-inbound-per-host", "0", "--log-level", "warn", (char *)NULL);
    fprintf(stderr, "bench_listener: exec %s: %s\n", nepnetd_path, strerror(errno));
    _exit(127);
  }
  /* ready when it accepts */
  for (int i = 0; i < 400; i++) {
    int fd = dial();
    if (fd >= 0) {
      close(fd);
      return pid;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      fprintf(stderr, "bench_listener: nepnetd exited at start; see %s\n", logp);
      exit(1);
    }
    usleep(25000);
  }
  fprintf(stderr, "bench_listener: nepnetd did not listen on %s within 10 s; see %s\n", lbuf, logp);
  kill(pid, SIGKILL);
  exit(1);
}

static void
listener_stop(pid_t pid)
{
  int st;
  kill(pid, SIGTERM);
  for (int i = 0; i < 200; i++) {
    if (waitpid(pid, &st, WNOHANG) == pid)
      return;
    usleep(25000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
}

/* ---- a client process ---- */

typedef struct client_report_t {
  uint64_t handshakes, failures;
  double cpu_s;
} client_report_t;

static int
flush_out(nn_chan_t *ch, int fd)
{
  const uint8_t *d;
  size_t n;
  nn_chan_output(ch, &d, &n);
  while (n) {
    ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    nn_chan_output_consume(ch, (size_t)w);
    nn_chan_output(ch, &d, &n);
  }
  return 0;
}

/* One handshake; 1 once the listener has read msg3 and closed. */
static int
one_handshake(const nn_identity_t *id, uint8_t *buf, size_t cap)
{
  int fd = dial(), ok = 0;
  nn_chan_t *ch = NULL;
  nn_chan_config_t cfg = { 0 };
  if (fd < 0)
    return 0;
  cfg.role = NN_CHAN_INITIATOR;
  cfg.network = NN_NET_REGTEST;
  cfg.identity = id; /* NULL: anonymous */
  if (nn_chan_new(&ch, &cfg, now_ms()) != NN_OK || flush_out(ch, fd))
    goto out;
  while (!nn_chan_is_established(ch)) {
    ssize_t n = read(fd, buf, cap);
    if (n <= 0 || nn_chan_recv(ch, buf, (size_t)n, now_ms()) != NN_OK || nn_chan_is_closed(ch) || flush_out(ch, fd))
      goto out;
  }
  /* msg3 is out: end our side, and wait for the listener to end its (it has read msg3 then) */
  shutdown(fd, SHUT_WR);
  for (;;) {
    ssize_t n = read(fd, buf, cap);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ok = n == 0 || errno == ECONNRESET;
      break;
    }
  }
out:
  nn_chan_free(ch);
  close(fd);
  return ok;
}

static void
client_main(int wfd, double seconds, int mutual, unsigned seed)
{
  client_report_t r = { 0 };
  /* The load generator as cheap as it can be (the CPU it saves goes to the listener): the same
   * heap setting nepnetd has, so a handshake does not fault its pages back in every time. */
  (void)mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
  nn_identity_t *id = NULL;
  uint8_t *buf = malloc(1 << 16);
  if (mutual) {
    nn_mldsa_seed_t s;
    memset(s.b, (int)(seed + 1), sizeof(s.b));
    if (nn_identity_from_seed(&id, &s) != NN_OK)
      _exit(1);
  }
  double end = mono() + seconds;
  while (buf && mono() < end) {
    if (one_handshake(id, buf, 1 << 16))
      r.handshakes++;
    else
      r.failures++;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  r.cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
            (double)ru.ru_stime.tv_usec * 1e-6;
  if (write(wfd, &r, sizeof(r)) != (ssize_t)sizeof(r))
    _exit(1);
  nn_identity_free(id);
  free(buf);
  _exit(0);
}

/* ---- one measured run ---- */

typedef struct run_t {
  double rate;        /* handshakes per second of wall clock */
  double cores;       /* listener CPU seconds per wall second */
  double ms_per_hs;   /* listener CPU per handshake */
  double loop_ms;     /* ... of which its event loop's thread */
  double client_ms;   /* the clients' CPU per handshake */
  uint64_t hs, fails; /* in all */
} run_t;

static long hz;

static run_t
run_once(unsigned workers, unsigned clients, double seconds, int mutual)
{
  run_t r = { 0 };
  pid_t l = listener_start(workers);
  usleep(300000); /* let it settle: first DHT round, timers */
  int p[2];
  if (pipe(p)) {
    perror("bench_listener: pipe");
    exit(1);
  }
  usage_t u0, u1;
  proc_usage(l, &u0);
  double t0 = mono();
  pid_t kids[MAX_CLIENTS];
  for (unsigned i = 0; i < clients; i++) {
    if ((kids[i] = fork()) == 0) {
      close(p[0]);
      client_main(p[1], seconds, mutual, i);
    }
  }
  close(p[1]);
  double ccpu = 0;
  for (unsigned i = 0; i < clients; i++) {
    client_report_t cr;
    if (read(p[0], &cr, sizeof(cr)) != (ssize_t)sizeof(cr)) {
      fprintf(stderr, "bench_listener: a client died; see %s/nepnetd.log\n", dir);
      exit(1);
    }
    r.hs += cr.handshakes;
    r.fails += cr.failures;
    ccpu += cr.cpu_s;
  }
  double wall = mono() - t0;
  proc_usage(l, &u1);
  for (unsigned i = 0; i < clients; i++)
    waitpid(kids[i], NULL, 0);
  close(p[0]);
  listener_stop(l);
  double cpu = (double)(u1.all - u0.all) / (double)hz, loop = (double)(u1.loop - u0.loop) / (double)hz;
  r.rate = (double)r.hs / wall;
  r.cores = cpu / wall;
  r.ms_per_hs = r.hs ? cpu * 1000.0 / (double)r.hs : 0;
  r.loop_ms = r.hs ? loop * 1000.0 / (double)r.hs : 0;
  r.client_ms = r.hs ? ccpu * 1000.0 / (double)r.hs : 0;
  return r;
}

static void
idle_once(unsigned workers, unsigned idle_s, double *cpu_pct, long *rss, int *threads)
{
  pid_t l = listener_start(workers);
  usage_t u0, u1;
  sleep(2);
  proc_usage(l, &u0);
  double t0 = mono();
  sleep(idle_s);
  proc_usage(l, &u1);
  double wall = mono() - t0;
  listener_stop(l);
  *cpu_pct = 100.0 * (double)(u1.all - u0.all) / (double)hz / wall;
  *rss = u1.rss_kib;
  *threads = u1.threads;
}

static int
parse_pools(const char *s, unsigned *w, int *n)
{
  char *end;
  *n = 0;
  while (*s) {
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || v > 256 || *n == MAX_POOLS)
      return -1;
    w[(*n)++] = (unsigned)v;
    s = *end == ',' ? end + 1 : end;
    if (*end && *end != ',')
      return -1;
  }
  return *n ? 0 : -1;
}

static void
usage(FILE *f)
{
  fprintf(f, "usage: bench_listener [--clients N] [--seconds S] [--rounds R] [--workers LIST] [--mutual]\n"
             "                      [--idle-s S] [--dir DIR] [--nepnetd PATH]\n"
             "  --clients N     client processes, each running handshakes back to back (4)\n"
             "  --seconds S     length of each measured run (8)\n"
             "  --rounds R      runs of every pool size, in rotating order (5)\n"
             "  --workers LIST  pool sizes to compare, comma-separated; 0 = the event loop's thread\n"
             "                  does the crypto (default 0,1,CORES)\n"
             "  --mutual        clients prove an identity (default: anonymous initiators)\n"
             "  --idle-s S      idle CPU and RSS, measured for S seconds per pool size (10; 0 = skip)\n"
             "  --dir DIR       nepnetd's data directory and log (build/bench-listener)\n"
             "  --nepnetd PATH  the daemon to measure (the one built beside this benchmark)\n");
}

int
main(int argc, char **argv)
{
  static const struct option opts[] = {
    { "clients", required_argument, NULL, 'c' }, { "seconds", required_argument, NULL, 's' },
    { "rounds", required_argument, NULL, 'r' },  { "workers", required_argument, NULL, 'w' },
    { "mutual", no_argument, NULL, 'm' },        { "idle-s", required_argument, NULL, 'i' },
    { "dir", required_argument, NULL, 'd' },     { "nepnetd", required_argument, NULL, 'D' },
    { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
  };
  unsigned clients = 4, rounds = 5, idle_s = 10, pools[MAX_POOLS];
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  double seconds = 8;
  int npools = 3, mutual = 0, c;
  pools[0] = 0;
  pools[1] = 1;
  pools[2] = cores > 1 ? (unsigned)cores : 2;
  if (pools[2] == 1)
    npools = 2;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': clients = (unsigned)atoi(optarg); break;
    case 's': seconds = atof(optarg); break;
    case 'r': rounds = (unsigned)atoi(optarg); break;
    case 'w':
      if (parse_pools(optarg, pools, &npools)) {
        fprintf(stderr, "bench_listener: --workers wants up to %d comma-separated sizes in 0-256, got '%s'\n",
                MAX_POOLS, optarg);
        return 2;
      }
      break;
    case 'm': mutual = 1; break;
    case 'i': idle_s = (unsigned)atoi(optarg); break;
    case 'd': dir = optarg; break;
    case 'D': nepnetd_path = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!clients || clients > MAX_CLIENTS || !rounds || rounds > MAX_ROUNDS || !(seconds > 0)) {
    fprintf(stderr, "bench_listener: --clients 1-%d, --rounds 1-%d, --seconds > 0\n", MAX_CLIENTS, MAX_ROUNDS);
    return 2;
  }
  if (access(nepnetd_path, X_OK)) {
    fprintf(stderr, "bench_listener: no nepnetd at %s (build it, or pass --nepnetd PATH)\n", nepnetd_path);
    return 1;
  }
  if (mkdir(dir, 0700) && errno != EEXIST) {
    fprintf(stderr, "bench_listener: cannot create %s: %s\n", dir, strerror(errno));
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  hz = sysconf(_SC_CLK_TCK);
  port = free_port();
  double load[3] = { 0 };
  getloadavg(load, 3);
  printf("bench_listener: %u %s client processes against one nepnetd on 127.0.0.1:%d, %u rounds of %.0f s, "
         "%ld cores, load average %.2f %.2f %.2f\n",
         clients, mutual ? "mutual" : "anonymous", port, rounds, seconds, cores, load[0], load[1], load[2]);
  printf("  (the clients share the cores with the listener; CPU from /proc in %ld Hz ticks)\n\n", hz);

  static run_t res[MAX_ROUNDS][MAX_POOLS];
  printf("  %5s %7s %9s %7s %9s %9s %9s %7s\n", "round", "workers", "hs/s", "cores", "ms/hs", "loop ms", "client ms",
         "failed");
  for (unsigned r = 0; r < rounds; r++) {
    for (int k = 0; k < npools; k++) {
      int i = (int)((k + r) % (unsigned)npools); /* rotating order */
      run_t *x = &res[r][i];
      *x = run_once(pools[i], clients, seconds, mutual);
      printf("  %5u %7u %9.1f %7.2f %9.3f %9.3f %9.3f %7llu\n", r + 1, pools[i], x->rate, x->cores, x->ms_per_hs,
             x->loop_ms, x->client_ms, (unsigned long long)x->fails);
      fflush(stdout);
    }
  }

  printf("\n  medians over %u rounds\n", rounds);
  printf("  %7s %9s %7s %9s %9s %9s\n", "workers", "hs/s", "cores", "ms/hs", "loop ms", "client ms");
  double med[MAX_POOLS][5], v[MAX_ROUNDS];
  for (int i = 0; i < npools; i++) {
    for (int f = 0; f < 5; f++) {
      for (unsigned r = 0; r < rounds; r++) {
        const run_t *x = &res[r][i];
        v[r] = f == 0 ? x->rate : f == 1 ? x->cores : f == 2 ? x->ms_per_hs : f == 3 ? x->loop_ms : x->client_ms;
      }
      med[i][f] = median(v, (int)rounds);
    }
    printf("  %7u %9.1f %7.2f %9.3f %9.3f %9.3f\n", pools[i], med[i][0], med[i][1], med[i][2], med[i][3], med[i][4]);
  }

  /* paired ratios: the largest pool against each other size, round by round */
  int big = 0;
  for (int i = 1; i < npools; i++)
    if (pools[i] > pools[big])
      big = i;
  printf("\n  paired ratios, workers %u against each other size (median [min, max] over rounds)\n", pools[big]);
  for (int i = 0; i < npools; i++) {
    if (i == big)
      continue;
    double rr[MAX_ROUNDS], cr[MAX_ROUNDS];
    for (unsigned r = 0; r < rounds; r++) {
      rr[r] = res[r][i].rate > 0 ? res[r][big].rate / res[r][i].rate : 0;
      cr[r] = res[r][i].ms_per_hs > 0 ? res[r][big].ms_per_hs / res[r][i].ms_per_hs : 0;
    }
    double rmed = median(rr, (int)rounds), cmed = median(cr, (int)rounds);
    printf("  vs %u: handshakes/s x%.2f [%.2f, %.2f]   listener CPU per handshake x%.3f [%.3f, %.3f]\n", pools[i], rmed,
           rr[0], rr[rounds - 1], cmed, cr[0], cr[rounds - 1]);
    if (pools[i] == 1)
      printf("    target: > 1.3x the handshakes/s of one worker: %s; CPU per handshake <= 1.05x: %s\n",
             rmed > 1.3 ? "met" : "NOT MET", cmed <= 1.05 ? "met" : "NOT MET");
  }
  printf("  target: the listener uses > 1.2 cores with workers %u: %.2f, %s\n", pools[big], med[big][1],
         med[big][1] > 1.2 ? "met" : "NOT MET");

  /* what the measured costs predict for machines that only serve handshakes */
  double ms = med[big][2], loop = med[big][3];
  printf("\n  prediction for a listener whose clients are elsewhere (CPU per handshake %.3f ms, of which the\n"
         "  event loop's thread %.3f ms; a pool spreads the rest):\n",
         ms, loop);
  for (int k = 2; k <= 16; k *= 2) {
    double by_cpu = ms > 0 ? (double)k * 1000.0 / ms : 0, by_loop = loop > 0 ? 1000.0 / loop : 0;
    double pred = by_loop > 0 && by_loop < by_cpu ? by_loop : by_cpu;
    printf("    %2d cores: %7.0f handshakes/s (cores %7.0f, loop thread %7.0f)%s\n", k, pred, by_cpu, by_loop,
           by_loop > 0 && by_loop < by_cpu ? "  <- bound by the loop thread" : "");
  }

  if (idle_s) {
    printf("\n  idle (no clients, %u s after a 2 s settle)\n", idle_s);
    printf("  %7s %9s %9s %8s\n", "workers", "CPU %", "RSS KiB", "threads");
    for (int i = 0; i < npools; i++) {
      double pct;
      long rss;
      int th;
      idle_once(pools[i], idle_s, &pct, &rss, &th);
      printf("  %7u %9.3f %9ld %8d\n", pools[i], pct, rss, th);
    }
  }
  getloadavg(load, 3);
  printf("\nload average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  return 0;
}
