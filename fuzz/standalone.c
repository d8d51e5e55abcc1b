/*
 * Driver for builds without libFuzzer (gcc): replays the seed inputs given as files, then runs
 * a fixed number of inputs mutated from them by a seeded generator. Deterministic, so CI failures
 * reproduce; the clang build uses real coverage-guided libFuzzer instead.
 *
 *   fuzz_X [-n ITERATIONS] [-s SEED] [FILE...]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
next(uint64_t *s)
{
  /* splitmix64: a test-input generator, not cryptography */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int
main(int argc, char **argv)
{
  long iters = 20000;
  uint64_t seed = 1;
  uint8_t *seeds[64];
  size_t lens[64], nseeds = 0;
  int i;

  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      iters = atol(argv[++i]);
    } else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      seed = strtoull(argv[++i], NULL, 0);
    } else if (nseeds < 64) {
      FILE *f = fopen(argv[i], "rb");
      if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[i]);
        return 2;
      }
      seeds[nseeds] = malloc(1 << 16);
      lens[nseeds] = fread(seeds[nseeds], 1, 1 << 16, f);
      fclose(f);
      LLVMFuzzerTestOneInput(seeds[nseeds], lens[nseeds]);
      nseeds++;
    }
  }
  uint8_t *buf = malloc(1 << 16);
  for (long it = 0; it < iters; it++) {
    size_t len;
    if (nseeds && next(&seed) % 4) {
      size_t k = next(&seed) % nseeds;
      len = lens[k];
      memcpy(buf, seeds[k], len);
      for (int m = 0, nm = 1 + (int)(next(&seed) % 8); m < nm && len; m++) {
        size_t pos = next(&seed) % len;
        switch (next(&seed) % 4) {
        case 0: buf[pos] ^= (uint8_t)(1u << (next(&seed) % 8)); break;
        case 1: buf[pos] = (uint8_t)next(&seed); break;
        case 2: len = pos; break; /* truncate */
        case 3:
          if (len < (1 << 16) - 1)
            buf[len++] = (uint8_t)next(&seed);
          break;
        }
      }
    } else {
      len = next(&seed) % 512;
      for (size_t j = 0; j < len; j++)
        buf[j] = (uint8_t)next(&seed);
    }
    LLVMFuzzerTestOneInput(buf, len);
  }
  printf("%ld inputs, %zu seeds: no crash\n", iters, nseeds);
  free(buf);
  for (size_t k = 0; k < nseeds; k++)
    free(seeds[k]);
  return 0;
}
