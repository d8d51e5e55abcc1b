/**
 * \file file.h
 * \brief Private files (keys, tokens): read with a permission check, written atomically at 0600.
 */
#ifndef NN_LIB_FILE_H
#define NN_LIB_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "nepnet/error.h"

/**
 * Read the regular file \a path into \a buf (at most \a cap bytes). Fails with NN_ERR_PERM if
 * group or others have any access to it, NN_ERR_TOO_LONG if it is larger than \a cap,
 * NN_ERR_NOTFOUND if it does not exist, NN_ERR_IO otherwise (errno is kept).
 */
nn_err_t nn_file_read_private(const char *path, uint8_t *buf, size_t cap, size_t *len);
/** The same, allowing the permission bits in \a allow (e.g. S_IRGRP for a token an operators'
 *  group may read); any other group or other bit is NN_ERR_PERM. */
nn_err_t nn_file_read_mode(const char *path, uint8_t *buf, size_t cap, size_t *len, unsigned allow);

/**
 * Create or replace \a path with \a len bytes at mode 0600: written to a temporary file in the
 * same directory, fsynced, then renamed, so a crash leaves the old file or the new one.
 */
nn_err_t nn_file_write_private(const char *path, const uint8_t *data, size_t len);

/**
 * Create \a path with \a len bytes at mode 0600, only if it does not exist (NN_ERR_EXISTS
 * otherwise): written and fsynced under a temporary name, then hard-linked into place. Two
 * processes that both found no file can both call this; one wins, the other learns so and reads
 * the winner's file, and an identity or token is never replaced.
 */
nn_err_t nn_file_create_private(const char *path, const uint8_t *data, size_t len);

/** Create directory \a path (mode 0700) if it does not exist. */
nn_err_t nn_dir_ensure_private(const char *path);

#endif
