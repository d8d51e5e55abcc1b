/**
 * \file stemtrace.h
 * \brief The devnet's stem trace (regtest only): each node records what it did with the stems
 * of others (who sent one, the relay it went on to, or that it was fluffed here), so that
 * `nepnet devnet trace ID` can join the nodes' records into the real stem path.
 *
 * A node on mainnet or testnet never makes one (node.c creates it on regtest alone): a seized
 * node must not hold the paths of others' transactions. Memory only, the last NN_STEMTRACE_MAX
 * records.
 *
 * Threads: none. No globals.
 */
#ifndef NN_NODE_STEMTRACE_H
#define NN_NODE_STEMTRACE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "nepnet/error.h"
#include "nepnet/types.h"
#include "crypto/types.h"

#define NN_STEMTRACE_MAX 4096

typedef struct nn_stemtrace_t nn_stemtrace_t;

nn_err_t nn_stemtrace_new(nn_stemtrace_t **out);
void nn_stemtrace_free(nn_stemtrace_t *t);
/** Record what happened to the stem \a id here: \a what is "forwarded" (to \a to), "dropped"
 *  (\a to could not take it), "fluffed" (the stem phase ended here) or "embargo" (our embargo
 *  timer broadcast it). \a from / \a to may be NULL (unknown, anonymous, none). */
void nn_stemtrace_add(nn_stemtrace_t *t, const nn_hash_t *id, const nn_node_id_t *from, const nn_node_id_t *to,
                      const char *what, uint64_t unix_ms);
/** {"id": ID, "records": [{"from", "to", "what", "unix_ms"}...]} for \a id, oldest first (empty
 *  when this node never saw its stem). A new reference; NULL when out of memory. */
json_t *nn_stemtrace_json(const nn_stemtrace_t *t, const nn_hash_t *id);

#endif
