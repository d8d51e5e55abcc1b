/* Node identity and its key file: deterministic ids, 0600 files, and every damaged, foreign or
 * unsafe file refused with an error that names the problem; never a crash, never a silent new id. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/identity.h"
#include "crypto/sha3.h"
#include "lib/file.h"
#include "node/keyfile.h"

typedef struct fixture_t {
  char dir[256];
  char path[300];
} fixture_t;

static int
setup(void **state)
{
  fixture_t *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "%s/nepnet-idtest-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(f->dir))
    return -1;
  snprintf(f->path, sizeof(f->path), "%s/identity.key", f->dir);
  *state = f;
  return 0;
}

static int
teardown(void **state)
{
  fixture_t *f = *state;
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

static void
write_raw(const char *path, const uint8_t *b, size_t n, mode_t mode)
{
  FILE *fp;
  unlink(path);
  fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(b, 1, n, fp), n);
  fclose(fp);
  assert_int_equal(chmod(path, mode), 0);
}

static void
read_raw(const char *path, uint8_t *b, size_t *n)
{
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  *n = fread(b, 1, 512, fp);
  fclose(fp);
}

static void
test_node_id_is_sha3_of_pk(void **state)
{
  (void)state;
  nn_mldsa_seed_t seed;
  nn_identity_t *a = NULL, *b = NULL;
  nn_hash_t h;
  memset(seed.b, 0x11, 32);
  assert_int_equal(nn_identity_from_seed(&a, &seed), NN_OK);
  assert_int_equal(nn_identity_from_seed(&b, &seed), NN_OK);
  assert_memory_equal(nn_identity_node_id(a)->b, nn_identity_node_id(b)->b, 32);
  assert_int_equal(nn_sha3_256(&h, nn_identity_public_key(a)->b, NN_MLDSA_PK_LEN), NN_OK);
  assert_memory_equal(nn_identity_node_id(a)->b, h.b, 32);
  nn_identity_free(b);
  seed.b[0] ^= 1;
  assert_int_equal(nn_identity_from_seed(&b, &seed), NN_OK);
  assert_memory_not_equal(nn_identity_node_id(a)->b, nn_identity_node_id(b)->b, 32);
  char hex[65];
  nn_node_id_to_hex(nn_identity_node_id(a), hex);
  assert_int_equal(strlen(hex), 64);
  nn_identity_free(a);
  nn_identity_free(b);
  nn_identity_free(NULL);
}

static void
test_create_then_load(void **state)
{
  fixture_t *f = *state;
  nn_identity_t *a = NULL, *b = NULL;
  int created = -1;
  struct stat st;
  assert_int_equal(nn_identity_load_or_create(f->path, &a, &created), NN_OK);
  assert_int_equal(created, 1);
  assert_int_equal(stat(f->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_size, NN_KEYFILE_LEN);
  assert_int_equal(nn_identity_load_or_create(f->path, &b, &created), NN_OK);
  assert_int_equal(created, 0);
  assert_memory_equal(nn_identity_node_id(a)->b, nn_identity_node_id(b)->b, 32);
  nn_identity_free(a);
  nn_identity_free(b);
}

static void
test_refuses_readable_by_others(void **state)
{
  fixture_t *f = *state;
  nn_identity_t *a = NULL;
  int created = -1;
  assert_int_equal(nn_identity_load_or_create(f->path, &a, &created), NN_OK);
  nn_identity_free(a);
  static const mode_t bad[] = { 0640, 0604, 0644, 0660, 0602, 0610 };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(chmod(f->path, bad[i]), 0);
    a = (nn_identity_t *)1;
    assert_int_equal(nn_identity_load(f->path, &a), NN_ERR_PERM);
    assert_null(a);
    /* load_or_create must not replace it either */
    assert_int_equal(nn_identity_load_or_create(f->path, &a, &created), NN_ERR_PERM);
    assert_int_equal(created, 0);
  }
  assert_int_equal(chmod(f->path, 0400), 0); /* read-only for the owner is fine */
  assert_int_equal(nn_identity_load(f->path, &a), NN_OK);
  nn_identity_free(a);
  assert_string_not_equal(nn_identity_file_hint(NN_ERR_PERM), "");
}

static void
test_every_corruption_is_an_error(void **state)
{
  fixture_t *f = *state;
  nn_identity_t *a = NULL, *b = NULL;
  uint8_t img[NN_KEYFILE_LEN], tmp[512];
  size_t n;
  assert_int_equal(nn_identity_generate(&a), NN_OK);
  assert_int_equal(nn_keyfile_encode(img, a), NN_OK);
  /* every single-bit flip in every byte */
  for (size_t i = 0; i < NN_KEYFILE_LEN; i++) {
    for (int bit = 0; bit < 8; bit += 3) {
      img[i] ^= (uint8_t)(1 << bit);
      nn_err_t err = nn_keyfile_decode(img, sizeof(img), &b);
      assert_int_not_equal(err, NN_OK);
      assert_null(b);
      img[i] ^= (uint8_t)(1 << bit);
    }
  }
  /* every truncation, and one byte too many */
  for (size_t len = 0; len < NN_KEYFILE_LEN; len++)
    assert_int_not_equal(nn_keyfile_decode(img, len, &b), NN_OK);
  memcpy(tmp, img, sizeof(img));
  tmp[NN_KEYFILE_LEN] = 0;
  assert_int_equal(nn_keyfile_decode(tmp, NN_KEYFILE_LEN + 1, &b), NN_ERR_TRAILING);
  /* the same on disk: a corrupted file is reported and left untouched */
  img[50] ^= 0x40;
  write_raw(f->path, img, sizeof(img), 0600);
  int created = -1;
  assert_int_equal(nn_identity_load_or_create(f->path, &b, &created), NN_ERR_VERIFY);
  assert_int_equal(created, 0);
  read_raw(f->path, tmp, &n);
  assert_int_equal(n, sizeof(img));
  assert_memory_equal(tmp, img, sizeof(img));
  write_raw(f->path, img, 10, 0600);
  assert_int_equal(nn_identity_load(f->path, &b), NN_ERR_TRUNCATED);
  write_raw(f->path, tmp, 300, 0600);
  assert_int_equal(nn_identity_load(f->path, &b), NN_ERR_TRAILING);
  write_raw(f->path, (const uint8_t *)"", 0, 0600);
  assert_int_equal(nn_identity_load(f->path, &b), NN_ERR_TRUNCATED);
  nn_identity_free(a);
}

static void
test_version_and_magic(void **state)
{
  (void)state;
  nn_identity_t *a = NULL, *b = NULL;
  uint8_t img[NN_KEYFILE_LEN];
  assert_int_equal(nn_identity_generate(&a), NN_OK);
  assert_int_equal(nn_keyfile_encode(img, a), NN_OK);
  assert_int_equal(nn_keyfile_decode(img, sizeof(img), &b), NN_OK);
  assert_memory_equal(nn_identity_node_id(a)->b, nn_identity_node_id(b)->b, 32);
  nn_identity_free(b);
  img[9] = 2; /* version 2: reported as such even before the checksum */
  assert_int_equal(nn_keyfile_decode(img, sizeof(img), &b), NN_ERR_VERSION);
  img[9] = 1;
  img[0] = 'X';
  assert_int_equal(nn_keyfile_decode(img, sizeof(img), &b), NN_ERR_FORMAT);
  assert_null(b);
  nn_identity_free(a);
}

static void
test_symlink_and_directory_refused(void **state)
{
  fixture_t *f = *state;
  nn_identity_t *a = NULL;
  char target[320];
  snprintf(target, sizeof(target), "%s/real.key", f->dir);
  assert_int_equal(nn_identity_generate(&a), NN_OK);
  assert_int_equal(nn_identity_save(target, a), NN_OK);
  nn_identity_free(a);
  assert_int_equal(symlink(target, f->path), 0);
  assert_int_not_equal(nn_identity_load(f->path, &a), NN_OK);
  unlink(f->path);
  assert_int_equal(mkdir(f->path, 0700), 0);
  assert_int_not_equal(nn_identity_load(f->path, &a), NN_OK);
  rmdir(f->path);
  /* a missing directory is NOTFOUND and nothing is created */
  char missing[340];
  snprintf(missing, sizeof(missing), "%s/nope/identity.key", f->dir);
  assert_int_not_equal(nn_identity_load_or_create(missing, &a, NULL), NN_OK);
}

static int
files_in(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* A file created only if absent: the second creation fails with NN_ERR_EXISTS and changes
 * nothing, and no temporary file is left behind either way. */
static void
test_create_never_replaces(void **state)
{
  fixture_t *f = *state;
  uint8_t a[8] = "first..", b[8] = "second.", got[16];
  size_t n = 0;
  assert_int_equal(nn_file_create_private(f->path, a, sizeof(a)), NN_OK);
  assert_int_equal(nn_file_create_private(f->path, b, sizeof(b)), NN_ERR_EXISTS);
  assert_int_equal(nn_file_read_private(f->path, got, sizeof(got), &n), NN_OK);
  assert_int_equal(n, sizeof(a));
  assert_memory_equal(got, a, sizeof(a));
  assert_int_equal(files_in(f->dir), 1);
}

/* Two processes start on one empty data directory at once (issue 10, item 12): each loads or
 * creates the identity, and both end with the same one; the file is never replaced. Raced
 * many times, since the window is small. */
static void
test_load_or_create_race(void **state)
{
  fixture_t *f = *state;
  for (int round = 0; round < 20; round++) {
    int fds[2][2];
    nn_node_id_t ids[2];
    pid_t pid[2];
    unlink(f->path);
    for (int k = 0; k < 2; k++) {
      assert_int_equal(pipe(fds[k]), 0);
      pid[k] = fork();
      assert_true(pid[k] >= 0);
      if (!pid[k]) {
        nn_identity_t *id = NULL;
        close(fds[k][0]);
        if (nn_identity_load_or_create(f->path, &id, NULL) != NN_OK)
          _exit(1);
        ssize_t w = write(fds[k][1], nn_identity_node_id(id)->b, NN_NODE_ID_LEN);
        _exit(w == NN_NODE_ID_LEN ? 0 : 2);
      }
      close(fds[k][1]);
    }
    for (int k = 0; k < 2; k++) {
      int status = 0;
      assert_int_equal(read(fds[k][0], ids[k].b, NN_NODE_ID_LEN), NN_NODE_ID_LEN);
      close(fds[k][0]);
      assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
      assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_memory_equal(ids[0].b, ids[1].b, NN_NODE_ID_LEN);
    nn_identity_t *now = NULL;
    assert_int_equal(nn_identity_load(f->path, &now), NN_OK);
    assert_memory_equal(nn_identity_node_id(now)->b, ids[0].b, NN_NODE_ID_LEN);
    nn_identity_free(now);
    assert_int_equal(files_in(f->dir), 1);
  }
}

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_node_id_is_sha3_of_pk),
    cmocka_unit_test_setup_teardown(test_create_then_load, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refuses_readable_by_others, setup, teardown),
    cmocka_unit_test_setup_teardown(test_every_corruption_is_an_error, setup, teardown),
    cmocka_unit_test(test_version_and_magic),
    cmocka_unit_test_setup_teardown(test_symlink_and_directory_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_create_never_replaces, setup, teardown),
    cmocka_unit_test_setup_teardown(test_load_or_create_race, setup, teardown),
  };
  return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}
