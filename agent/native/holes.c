/*
 * Where a file's data lies, for reading a sparse file without reading its holes: Node has no SEEK_DATA. The
 * kernel answers from the file system's extent map; a file system that keeps no holes answers that all of it
 * is data (lseek's generic behaviour), which is still right.
 *
 *   seekData(fd, offset) -> the first offset at or after `offset` that holds data, or -1 when none does
 *   seekHole(fd, offset) -> the first offset at or after `offset` in a hole (the file's end counts as one)
 */
#define _GNU_SOURCE
#include "native.h"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static int fd_and_offset(napi_env env, napi_callback_info info, int *fd, off_t *offset) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return 0;
  int32_t given_fd;
  double given_offset;
  if (napi_get_value_int32(env, args[0], &given_fd) != napi_ok || given_fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fd must be a file descriptor");
    return 0;
  }
  /* 2^53: what a JavaScript number holds exactly. */
  if (napi_get_value_double(env, args[1], &given_offset) != napi_ok || !(given_offset >= 0 && given_offset <= 9007199254740991.0) || given_offset != (double)(int64_t)given_offset) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "offset must be a whole number from 0 to 2^53 - 1");
    return 0;
  }
  *fd = given_fd;
  *offset = (off_t)given_offset;
  return 1;
}

static napi_value seek(napi_env env, napi_callback_info info, int whence, const char *syscall) {
  int fd;
  off_t offset;
  if (!fd_and_offset(env, info, &fd, &offset)) return NULL;
  off_t found = lseek(fd, offset, whence);
  napi_value result;
  if (found < 0) {
    /* ENXIO: no data at or after the offset (SEEK_DATA), or the offset is past the end. */
    if (errno == ENXIO) {
      napi_create_double(env, -1, &result);
      return result;
    }
    char where[32];
    snprintf(where, sizeof where, "fd %d", fd);
    return throw_errno(env, errno, syscall, where);
  }
  napi_create_double(env, (double)found, &result);
  return result;
}

napi_value seek_data(napi_env env, napi_callback_info info) {
  return seek(env, info, SEEK_DATA, "lseek(SEEK_DATA)");
}

napi_value seek_hole(napi_env env, napi_callback_info info) {
  return seek(env, info, SEEK_HOLE, "lseek(SEEK_HOLE)");
}
