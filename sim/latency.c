#include "sim/latency.h"

/* Europe, North America, Asia, South America, Oceania, Africa */
static const uint16_t weight[SIM_REGIONS] = { 40, 30, 15, 7, 4, 4 }; /* percent */
static const char *const names[SIM_REGIONS] = { "eu", "na", "as", "sa", "oc", "af" };
/* Base inter-region RTT (ms), symmetric. */
static const uint16_t base[SIM_REGIONS][SIM_REGIONS] = {
  /*        eu   na   as   sa   oc   af */
  /* eu */ { 35,  90, 180, 190, 260, 120 },
  /* na */ { 90,  45, 160, 130, 170, 210 },
  /* as */ {180, 160,  50, 290, 120, 240 },
  /* sa */ {190, 130, 290,  40, 280, 280 },
  /* oc */ {260, 170, 120, 280,  30, 290 },
  /* af */ {120, 210, 240, 280, 290,  50 },
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

static uint64_t
mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t
sim_rtt_ms(uint64_t seed, uint32_t a, uint8_t ra, uint32_t b, uint8_t rb)
{
  uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
  uint64_t h = mix(seed ^ mix(((uint64_t)lo << 32) | hi));
  double b0 = base[ra][rb];
  if (ra == rb)
    b0 = 20.0 + (double)(h % 41); /* 20..60 ms within a region */
  /* jitter -15% .. +25%, right-skewed: square a uniform value */
  double u = (double)((h >> 16) % 10000) / 10000.0;
  double j = -0.15 + 0.40 * u * u;
  double rtt = b0 * (1.0 + j);
  if (rtt < 20) rtt = 20;
  if (rtt > 300) rtt = 300;
  return (uint32_t)rtt;
}
