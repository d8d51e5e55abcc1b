/**
 * \file nepnet/nepnet.h
 * \brief libnepnet: the post-quantum, mixnet-grade P2P privacy network for Neptune.
 *
 * Include this one header. Everything in the public API carries the nn_ prefix, takes no
 * global state, and reports failure as an nn_err_t.
 */
#ifndef NEPNET_NEPNET_H
#define NEPNET_NEPNET_H

#include "nepnet/error.h"
#include "nepnet/identity.h"
#include "nepnet/types.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The shared library exports these and nothing else (it is built with -fvisibility=hidden). */
#pragma GCC visibility push(default)

/** The library version, e.g. "0.1.0" (CMakeLists.txt's project version: the one place it is set). */
const char *nn_version(void);
/** The git commit the library was built from (12 hex digits), "" when not built from git. */
const char *nn_version_commit(void);
/** The version of the OpenSSL libcrypto this build runs on (must be >= 3.5). */
const char *nn_openssl_version(void);

/** Called once per self-test with its name, its result and how long it took. */
typedef void (*nn_selftest_cb)(void *arg, const char *name, nn_err_t result, double micros);

/**
 * Run the crypto self-test: known-answer tests for SHA3, HKDF, AES-256-GCM, X25519, ML-KEM-1024
 * and ML-DSA-87, then round trips and tamper checks of the hybrid KEM and signatures. Returns
 * NN_OK only if every check passed. \a cb may be NULL.
 */
nn_err_t nn_selftest_run(nn_selftest_cb cb, void *arg);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
