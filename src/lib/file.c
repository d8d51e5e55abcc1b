#define _POSIX_C_SOURCE 200809L
#include "lib/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nn_err_t
nn_file_read_private(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
  return nn_file_read_mode(path, buf, cap, len, 0);
}

nn_err_t
nn_file_read_mode(const char *path, uint8_t *buf, size_t cap, size_t *len, unsigned allow)
{
  struct stat st;
  nn_err_t err = NN_ERR_IO;
  size_t got = 0;
  int fd;

  *len = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return errno == ENOENT ? NN_ERR_NOTFOUND : NN_ERR_IO;
  /* fstat on the open descriptor: what we check is what we read. */
  if (fstat(fd, &st) != 0)
    goto out;
  if (!S_ISREG(st.st_mode)) {
    err = NN_ERR_FORMAT;
    goto out;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO) & ~(mode_t)allow) {
    err = NN_ERR_PERM;
    goto out;
  }
  if ((uint64_t)st.st_size > cap) {
    err = NN_ERR_TOO_LONG;
    goto out;
  }
  while (got < cap) {
    ssize_t n = read(fd, buf + got, cap - got);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      goto out;
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  /* The file grew between fstat and read: refuse rather than truncate silently. */
  if (got == cap && (uint64_t)st.st_size < cap) {
    err = NN_ERR_TOO_LONG;
    goto out;
  }
  *len = got;
  err = NN_OK;
out:
  close(fd);
  return err;
}

static nn_err_t
write_all(int fd, const uint8_t *p, size_t n)
{
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return NN_ERR_IO;
    }
    p += w;
    n -= (size_t)w;
  }
  return NN_OK;
}

/* Write a private temporary file beside \a path, then either rename it over \a path or, when
 * \a replace is 0, link it there (which fails if \a path exists: no window in which two
 * processes each create their own and one replaces the other's). */
static nn_err_t
write_private(const char *path, const uint8_t *data, size_t len, int replace)
{
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16), *dircopy = NULL;
  nn_err_t err = NN_ERR_IO;
  int fd = -1;

  if (!tmp)
    return NN_ERR_NOMEM;
  snprintf(tmp, plen + 16, "%s.tmp%05d", path, (int)(getpid() % 100000));
  unlink(tmp);
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    goto out;
  /* umask cannot widen 0600, but a pre-set ACL or odd filesystem might: be explicit. */
  if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) || fsync(fd) != 0)
    goto out;
  if (close(fd) != 0) {
    fd = -1;
    goto out;
  }
  fd = -1;
  if (replace ? rename(tmp, path) != 0 : link(tmp, path) != 0) {
    if (!replace && errno == EEXIST)
      err = NN_ERR_EXISTS;
    goto out;
  }
  if (!replace)
    unlink(tmp);
  if ((dircopy = strdup(path))) {
    int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
  err = NN_OK;
out:
  if (fd >= 0)
    close(fd);
  if (err) {
    int saved = errno;
    unlink(tmp);
    errno = saved;
  }
  free(tmp);
  free(dircopy);
  return err;
}

nn_err_t
nn_file_write_private(const char *path, const uint8_t *data, size_t len)
{
  return write_private(path, data, len, 1);
}

nn_err_t
nn_file_create_private(const char *path, const uint8_t *data, size_t len)
{
  return write_private(path, data, len, 0);
}

nn_err_t
nn_dir_ensure_private(const char *path)
{
  struct stat st;
  if (mkdir(path, 0700) == 0)
    return NN_OK;
  if (errno != EEXIST)
    return errno == ENOENT ? NN_ERR_NOTFOUND : NN_ERR_IO;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return NN_ERR_IO;
  return NN_OK;
}
