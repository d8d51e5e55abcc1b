#include "node/keyfile.h"

#include <string.h>

#include <openssl/crypto.h>

#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "lib/file.h"
#include "lib/wire.h"

#define BODY_LEN (NN_KEYFILE_LEN - NN_HASH_LEN)

nn_err_t
nn_keyfile_encode(uint8_t out[NN_KEYFILE_LEN], const nn_identity_t *id)
{
  nn_wire_writer_t w;
  nn_hash_t check;
  nn_err_t err;

  nn_wire_writer_init_fixed(&w, out, NN_KEYFILE_LEN);
  nn_wire_put_bytes(&w, (const uint8_t *)NN_KEYFILE_MAGIC, 8);
  nn_wire_put_u16(&w, NN_KEYFILE_VERSION);
  nn_wire_put_u16(&w, NN_KEYFILE_ALG_MLDSA87_SEED);
  nn_wire_put_bytes(&w, nn_identity_seed(id)->b, NN_MLDSA_SEED_LEN);
  nn_wire_put_bytes(&w, nn_identity_node_id(id)->b, NN_NODE_ID_LEN);
  if ((err = w.err) || (err = nn_sha3_256(&check, out, BODY_LEN)))
    return err;
  return nn_wire_put_bytes(&w, check.b, NN_HASH_LEN);
}

nn_err_t
nn_keyfile_decode(const uint8_t *buf, size_t len, nn_identity_t **out)
{
  nn_wire_reader_t r;
  uint8_t magic[8];
  uint16_t version = 0, alg = 0;
  nn_mldsa_seed_t seed;
  nn_node_id_t recorded;
  nn_hash_t check, want;
  nn_identity_t *id = NULL;
  nn_err_t err;

  *out = NULL;
  nn_wire_reader_init(&r, buf, len);
  nn_wire_get_bytes(&r, magic, sizeof(magic));
  nn_wire_get_u16(&r, &version);
  if ((err = r.err))
    goto out;
  if (memcmp(magic, NN_KEYFILE_MAGIC, sizeof(magic)) != 0) {
    err = NN_ERR_FORMAT;
    goto out;
  }
  /* Version before length: a newer file may legitimately be longer. */
  if (version != NN_KEYFILE_VERSION) {
    err = NN_ERR_VERSION;
    goto out;
  }
  nn_wire_get_u16(&r, &alg);
  nn_wire_get_bytes(&r, seed.b, sizeof(seed.b));
  nn_wire_get_bytes(&r, recorded.b, sizeof(recorded.b));
  nn_wire_get_bytes(&r, check.b, sizeof(check.b));
  if ((err = nn_wire_finish(&r)))
    goto out;
  if ((err = nn_sha3_256(&want, buf, BODY_LEN)))
    goto out;
  if (CRYPTO_memcmp(want.b, check.b, NN_HASH_LEN) != 0) {
    err = NN_ERR_VERIFY;
    goto out;
  }
  if (alg != NN_KEYFILE_ALG_MLDSA87_SEED) {
    err = NN_ERR_FORMAT;
    goto out;
  }
  if ((err = nn_identity_from_seed(&id, &seed)))
    goto out;
  if (CRYPTO_memcmp(nn_identity_node_id(id)->b, recorded.b, NN_NODE_ID_LEN) != 0) {
    err = NN_ERR_VERIFY;
    goto out;
  }
  *out = id;
  id = NULL;
out:
  nn_identity_free(id);
  OPENSSL_cleanse(&seed, sizeof(seed));
  return err;
}

nn_err_t
nn_identity_load(const char *path, nn_identity_t **out)
{
  /* One byte of slack so that an over-long file is reported as such, not cut to size. */
  uint8_t buf[NN_KEYFILE_LEN + 1];
  size_t len = 0;
  nn_err_t err;

  *out = NULL;
  err = nn_file_read_private(path, buf, sizeof(buf), &len);
  if (err == NN_ERR_TOO_LONG)
    err = NN_ERR_TRAILING;
  if (!err)
    err = nn_keyfile_decode(buf, len, out);
  OPENSSL_cleanse(buf, sizeof(buf));
  return err;
}

nn_err_t
nn_identity_save(const char *path, const nn_identity_t *id)
{
  uint8_t buf[NN_KEYFILE_LEN];
  nn_err_t err = nn_keyfile_encode(buf, id);
  if (!err)
    err = nn_file_write_private(path, buf, sizeof(buf));
  OPENSSL_cleanse(buf, sizeof(buf));
  return err;
}

nn_err_t
nn_identity_load_or_create(const char *path, nn_identity_t **out, int *created)
{
  nn_err_t err = nn_identity_load(path, out);
  uint8_t buf[NN_KEYFILE_LEN];

  if (created)
    *created = 0;
  if (err != NN_ERR_NOTFOUND)
    return err;
  if ((err = nn_identity_generate(out)))
    return err;
  if (!(err = nn_keyfile_encode(buf, *out)))
    err = nn_file_create_private(path, buf, sizeof(buf));
  OPENSSL_cleanse(buf, sizeof(buf));
  if (err) {
    nn_identity_free(*out);
    *out = NULL;
    /* another process created it between our look and our write: its identity is the one */
    return err == NN_ERR_EXISTS ? nn_identity_load(path, out) : err;
  }
  if (created)
    *created = 1;
  return NN_OK;
}

const char *
nn_identity_file_hint(nn_err_t err)
{
  switch (err) {
  case NN_OK: return "";
  case NN_ERR_PERM: return "the key file must be readable by its owner only: run chmod 600 on it";
  case NN_ERR_VERSION: return "the key file was written by a newer nepnet: upgrade nepnet to use it";
  case NN_ERR_TRUNCATED:
  case NN_ERR_TRAILING:
  case NN_ERR_FORMAT:
  case NN_ERR_VERIFY:
    return "the key file is damaged: restore it from a backup, or move it away to start with a "
           "new identity (the node id changes)";
  case NN_ERR_NOTFOUND: return "the directory holding the key file does not exist: create it or pass --datadir";
  default: return "check that the data directory exists and is writable by this user";
  }
}
