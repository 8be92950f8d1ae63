/*
 * Extended attributes of a path, never following a symlink (the l*xattr calls), for the mirror engine: Node has no
 * API for them, and POSIX ACLs, Samba's stored Windows ACLs (security.NTACL) and file capabilities live there.
 * Synchronous on purpose: the agent calls them from its worker threads, a few microseconds each.
 *
 *   list(path)              -> [[name, Buffer], ...] in the kernel's order; [] when there are none
 *   set(path, name, value)  -> undefined
 *   remove(path, name)      -> true, or false when the path had no such attribute
 *
 * Errors are thrown as Node's own are: an Error whose code is the errno's name (ENOENT, ENOTSUP, EPERM, ...), with
 * syscall and path.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>

/* A value or a list that grew between the call asking its size and the call reading it is read again. */
#define SIZE_RACE_RETRIES 8
#define MAX_PATH_BYTES 4096

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

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
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
static char *string_arg(napi_env env, napi_value value, const char *what, size_t max_bytes) {
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
static int path_and_name(napi_env env, napi_value *args, char **path, char **name) {
  *path = string_arg(env, args[0], "path", MAX_PATH_BYTES);
  if (*path == NULL) return 0;
  *name = string_arg(env, args[1], "name", XATTR_NAME_MAX);
  if (*name != NULL) return 1;
  free(*path);
  return 0;
}

static int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *args) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok) return 0;
  if (argc < expected) {
    char message[64];
    snprintf(message, sizeof message, "expected %zu arguments, got %zu", expected, argc);
    napi_throw_type_error(env, "ERR_MISSING_ARGS", message);
    return 0;
  }
  return 1;
}

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

static napi_value list(napi_env env, napi_callback_info info) {
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

static napi_value set(napi_env env, napi_callback_info info) {
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

static napi_value remove_attribute(napi_env env, napi_callback_info info) {
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

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor functions[] = {
    { "list", NULL, list, NULL, NULL, NULL, napi_enumerable, NULL },
    { "set", NULL, set, NULL, NULL, NULL, napi_enumerable, NULL },
    { "remove", NULL, remove_attribute, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
