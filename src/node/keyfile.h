/**
 * \file keyfile.h
 * \brief The identity key file format (docs/PROTOCOL.md, "Identity key file").
 *
 * The parser is separate from the file I/O so that it can be fuzzed and tested on bytes.
 */
#ifndef NN_NODE_KEYFILE_H
#define NN_NODE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/identity.h"

#define NN_KEYFILE_MAGIC "NEPNETID"
#define NN_KEYFILE_VERSION 1
#define NN_KEYFILE_ALG_MLDSA87_SEED 0x0087
#define NN_KEYFILE_LEN 108

/** Serialize \a id into exactly NN_KEYFILE_LEN bytes. */
nn_err_t nn_keyfile_encode(uint8_t out[NN_KEYFILE_LEN], const nn_identity_t *id);
/**
 * Parse and fully check a key file image: magic, version, algorithm, length, checksum, and
 * that the seed regenerates the recorded node id. On success \a *out is the identity.
 */
nn_err_t nn_keyfile_decode(const uint8_t *buf, size_t len, nn_identity_t **out);

#endif
