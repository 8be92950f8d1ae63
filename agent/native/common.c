/* What the agent's native calls share: arguments checked as Node checks its own, errors thrown as Node throws its own. */
#include "native.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>

static const char *errno_name(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTSUP: return "ENOTSUP";
    case ENODATA: return "ENODATA";
    case ERANGE: return "ERANGE";
    case E2BIG: return "E2BIG";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EROFS: return "EROFS";
    case EBADF: return "EBADF";
    case ENOMEM: return "ENOMEM";
    default: return "EUNKNOWN";
  }
}

static void set_string(napi_env env, napi_value object, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, object, key, v);
}

napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  char message[MAX_PATH_BYTES + 128];
  snprintf(message, sizeof message, "%s: %s, %s '%s'", errno_name(err), strerror(err), syscall, path);
  napi_value code, text, error;
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok
      || napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok
      || napi_create_error(env, code, text, &error) != napi_ok) {
    napi_throw_error(env, NULL, message);
    return NULL;
  }
  set_string(env, error, "syscall", syscall);
  set_string(env, error, "path", path);
  napi_value errnum;
  if (napi_create_int32(env, -err, &errnum) == napi_ok) napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

/* A string argument as a NUL-terminated copy the caller frees; NULL (and a TypeError thrown) when it is none. */
char *string_arg(napi_env env, napi_value value, const char *what, size_t max_bytes) {
  size_t length;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a string", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return NULL;
  }
  if (length == 0 || length > max_bytes) {
    char message[96];
    snprintf(message, sizeof message, "%s must be 1 to %zu bytes, not %zu", what, max_bytes, length);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return NULL;
  }
  char *copy = malloc(length + 1);
  if (copy == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, value, copy, length + 1, NULL);
  if (strlen(copy) != length) {
    free(copy);
    char message[96];
    snprintf(message, sizeof message, "%s must not contain NUL", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
    return NULL;
  }
  return copy;
}

/* The first two arguments as a path and an attribute's name, both for the caller to free; 0 (nothing to free) on a bad one. */
int path_and_name(napi_env env, napi_value *args, char **path, char **name) {
  *path = string_arg(env, args[0], "path", MAX_PATH_BYTES);
  if (*path == NULL) return 0;
  *name = string_arg(env, args[1], "name", XATTR_NAME_MAX);
  if (*name != NULL) return 1;
  free(*path);
  return 0;
}

int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *args) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return 0;
  if (argc < expected) {
    char message[96];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", expected, argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", message);
    return 0;
  }
  return 1;
}

