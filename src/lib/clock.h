/**
 * \file clock.h
 * \brief The two clocks of a node, read in one place. Protocol cores never call these: their
 * drivers pass the time in, so the simulator can substitute virtual time.
 */
#ifndef NN_LIB_CLOCK_H
#define NN_LIB_CLOCK_H

#include <stdint.h>

/** Milliseconds of CLOCK_MONOTONIC: timers, timeouts, rates (never goes back). */
uint64_t nn_mono_ms(void);
/** Microseconds of CLOCK_MONOTONIC (benchmarks, fine-grained timing). */
uint64_t nn_mono_us(void);
/** Milliseconds since the Unix epoch (CLOCK_REALTIME): record expiry, ban times, logs. */
uint64_t nn_unix_ms(void);

#endif
