#include "sim/latency.h"

#include "sim/seedkey.h"

/* Europe, North America, Asia, South America, Oceania, Africa */
static const uint16_t weight[SIM_REGIONS] = { 40, 30, 15, 7, 4, 4 }; /* percent */
static const char *const names[SIM_REGIONS] = { "eu", "na", "as", "sa", "oc", "af" };
/* Base inter-region RTT (ms), symmetric. */
static const uint16_t base[SIM_REGIONS][SIM_REGIONS] = {
  /*        eu   na   as   sa   oc   af */
  /* eu */ { 35, 90, 180, 190, 260, 120 },
  /* na */ { 90, 45, 160, 130, 170, 210 },
  /* as */ { 180, 160, 50, 290, 120, 240 },
  /* sa */ { 190, 130, 290, 40, 280, 280 },
  /* oc */ { 260, 170, 120, 280, 30, 290 },
  /* af */ { 120, 210, 240, 280, 290, 50 },
};

uint8_t
sim_region_pick(uint32_t r)
{
  uint32_t x = r % 100, acc = 0;
  for (uint8_t i = 0; i < SIM_REGIONS; i++) {
    acc += weight[i];
    if (x < acc)
      return i;
  }
  return 0;
}

const char *
sim_region_name(uint8_t region)
{
  return region < SIM_REGIONS ? names[region] : "?";
}

nn_err_t
sim_latency_init(sim_latency_t *l, uint64_t seed)
{
  return sim_seedkey_init(&l->pair, seed, "nnsim-latency");
}

void
sim_latency_free(sim_latency_t *l)
{
  nn_keyhash_free(&l->pair);
}

uint32_t
sim_rtt_ms(sim_latency_t *l, uint32_t a, uint8_t ra, uint32_t b, uint8_t rb)
{
  uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
  uint64_t h = nn_keyhash_u64(&l->pair, ((uint64_t)lo << 32) | hi);
  double b0 = base[ra][rb];
  if (ra == rb)
    b0 = 20.0 + (double)(h % 41); /* 20..60 ms within a region */
  /* jitter -15% .. +25%, right-skewed: square a uniform value */
  double u = (double)((h >> 16) % 10000) / 10000.0;
  double j = -0.15 + 0.40 * u * u;
  double rtt = b0 * (1.0 + j);
  if (rtt < 20)
    rtt = 20;
  if (rtt > 300)
    rtt = 300;
  return (uint32_t)rtt;
}
