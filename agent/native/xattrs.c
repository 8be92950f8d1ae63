/*
 * Extended attributes of a path, never following a symlink (the l*xattr calls), for the mirror engine: Node has no
 * API for them, and POSIX ACLs, Samba's stored Windows ACLs (security.NTACL) and file capabilities live there.
 * Synchronous on purpose: the agent calls them from its worker threads and its main thread, a few microseconds each.
 *
 *   listXattrs(path)              -> [[name, Buffer], ...] in the kernel's order; [] when there are none
 *   setXattr(path, name, value)   -> undefined
 *   removeXattr(path, name)       -> true, or false when the path had no such attribute
 */
#include "native.h"
#include <errno.h>
#include <linux/limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

/* A value or a list that grew between the call asking its size and the call reading it is read again. */
#define SIZE_RACE_RETRIES 8

/* The names of `path`'s attributes, NUL-separated, in a buffer the caller frees; *size 0 (and NULL) for none. */
static char *read_names(const char *path, ssize_t *size, int *err) {
  for (int attempt = 0; attempt < SIZE_RACE_RETRIES; attempt++) {
    ssize_t wanted = llistxattr(path, NULL, 0);
    if (wanted < 0) {
      *err = errno;
      return NULL;
    }
    if (wanted == 0) {
      *size = 0;
      return NULL;
    }
    char *names = malloc((size_t)wanted);
    if (names == NULL) {
      *err = ENOMEM;
      return NULL;
    }
    ssize_t got = llistxattr(path, names, (size_t)wanted);
    if (got >= 0) {
      *size = got;
      return names;
    }
    free(names);
    if (errno != ERANGE) {
      *err = errno;
      return NULL;
    }
  }
  *err = ERANGE;
  return NULL;
}

/* One attribute's value as a new Buffer; *value NULL when it went away meanwhile. 0 on error (errno in *err). */
static int read_value(napi_env env, const char *path, const char *name, napi_value *value, int *err) {
  *value = NULL;
  for (int attempt = 0; attempt < SIZE_RACE_RETRIES; attempt++) {
    ssize_t wanted = lgetxattr(path, name, NULL, 0);
    if (wanted < 0) {
      if (errno == ENODATA) return 1;
      *err = errno;
      return 0;
    }
    char *bytes = malloc(wanted == 0 ? 1 : (size_t)wanted);
    if (bytes == NULL) {
      *err = ENOMEM;
      return 0;
    }
    ssize_t got = lgetxattr(path, name, bytes, (size_t)wanted);
    if (got >= 0) {
      napi_status status = napi_create_buffer_copy(env, (size_t)got, bytes, NULL, value);
      free(bytes);
      if (status != napi_ok) {
        *err = ENOMEM;
        return 0;
      }
      return 1;
    }
    free(bytes);
    if (errno == ENODATA) return 1;
    if (errno != ERANGE) {
      *err = errno;
      return 0;
    }
  }
  *err = ERANGE;
  return 0;
}

napi_value xattr_list(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return NULL;
  char *path = string_arg(env, args[0], "path", MAX_PATH_BYTES);
  if (path == NULL) return NULL;
  napi_value result;
  napi_create_array(env, &result);
  ssize_t size = 0;
  int err = 0;
  char *names = read_names(path, &size, &err);
  if (names == NULL && size == 0 && err != 0) {
    throw_errno(env, err, "llistxattr", path);
    free(path);
    return NULL;
  }
  uint32_t count = 0;
  for (ssize_t at = 0; at < size;) {
    const char *name = names + at;
    size_t length = strnlen(name, (size_t)(size - at));
    at += (ssize_t)length + 1;
    if (length == 0) continue;
    napi_value value;
    if (!read_value(env, path, name, &value, &err)) {
      throw_errno(env, err, "lgetxattr", path);
      free(names);
      free(path);
      return NULL;
    }
    if (value == NULL) continue;
    napi_value pair, key;
    napi_create_array_with_length(env, 2, &pair);
    napi_create_string_utf8(env, name, length, &key);
    napi_set_element(env, pair, 0, key);
    napi_set_element(env, pair, 1, value);
    napi_set_element(env, result, count++, pair);
  }
  free(names);
  free(path);
  return result;
}

napi_value xattr_set(napi_env env, napi_callback_info info) {
  napi_value args[3];
  if (!get_args(env, info, 3, args)) return NULL;
  bool is_buffer = false;
  napi_is_buffer(env, args[2], &is_buffer);
  if (!is_buffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "value must be a Buffer");
    return NULL;
  }
  void *data;
  size_t length;
  napi_get_buffer_info(env, args[2], &data, &length);
  char *path, *name;
  if (!path_and_name(env, args, &path, &name)) return NULL;
  if (lsetxattr(path, name, data, length, 0) != 0) throw_errno(env, errno, "lsetxattr", path);
  free(name);
  free(path);
  return NULL;
}

napi_value xattr_remove(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return NULL;
  char *path, *name;
  if (!path_and_name(env, args, &path, &name)) return NULL;
  napi_value removed = NULL;
  if (lremovexattr(path, name) == 0) napi_get_boolean(env, true, &removed);
  else if (errno == ENODATA) napi_get_boolean(env, false, &removed);
  else throw_errno(env, errno, "lremovexattr", path);
  free(name);
  free(path);
  return removed;
}

