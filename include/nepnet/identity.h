/**
 * \file nepnet/identity.h
 * \brief A node's long-term identity: an ML-DSA-87 key pair and its node id.
 *
 * The node id is SHA3-256 of the FIPS 204 public key encoding. The secret part is the 32-byte
 * FIPS 204 seed; the key file stores that seed (see docs/PROTOCOL.md, "Identity key file").
 */
#ifndef NEPNET_IDENTITY_H
#define NEPNET_IDENTITY_H

#include "nepnet/error.h"
#include "nepnet/types.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The shared library exports these and nothing else (it is built with -fvisibility=hidden). */
#pragma GCC visibility push(default)

typedef struct nn_identity_t nn_identity_t;

/** Derive the identity of \a seed (deterministic: same seed, same node id). */
nn_err_t nn_identity_from_seed(nn_identity_t **out, const nn_mldsa_seed_t *seed);
/** A new identity from the system CSPRNG. */
nn_err_t nn_identity_generate(nn_identity_t **out);
const nn_node_id_t *nn_identity_node_id(const nn_identity_t *id);
const nn_mldsa_pk_t *nn_identity_public_key(const nn_identity_t *id);
/** Wipe and free; accepts NULL. */
void nn_identity_free(nn_identity_t *id);

/** node id = SHA3-256(pk). */
nn_err_t nn_node_id_from_public_key(nn_node_id_t *out, const nn_mldsa_pk_t *pk);
/** 64 lower-case hex digits and a NUL. */
void nn_node_id_to_hex(const nn_node_id_t *id, char out[2 * NN_NODE_ID_LEN + 1]);

/**
 * Load the identity key file at \a path. Refuses (NN_ERR_PERM) a file that group or others can
 * access, and reports a truncated, corrupted or unknown-version file as an error: it never
 * silently replaces an identity.
 */
nn_err_t nn_identity_load(const char *path, nn_identity_t **out);
/** Write \a id to \a path atomically with mode 0600. */
nn_err_t nn_identity_save(const char *path, const nn_identity_t *id);
/**
 * Load \a path, or create and save a new identity if (and only if) the file does not exist.
 * \a created (may be NULL) tells which happened.
 */
nn_err_t nn_identity_load_or_create(const char *path, nn_identity_t **out, int *created);
/** What an operator should do about \a err from the calls above (one sentence). */
const char *nn_identity_file_hint(nn_err_t err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
