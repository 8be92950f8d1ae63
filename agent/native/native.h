/* The agent's native calls (module.c registers them): extended attributes (xattrs.c) and a file's holes (holes.c). */
#ifndef VIGIL_NATIVE_H
#define VIGIL_NATIVE_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>

#define MAX_PATH_BYTES 4096

/*
 * Errors are thrown as Node's own are: an Error whose code is the errno's name (ENOENT, ENOTSUP, EPERM, ...), with
 * syscall and path. Returns NULL, for the caller to return.
 */
napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path);
/* The callback's first `expected` arguments into `args`; 0 (a TypeError thrown) when fewer were given. */
int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *args);
/* A string argument as a NUL-terminated copy the caller frees; NULL (and a TypeError thrown) when it is none. */
char *string_arg(napi_env env, napi_value value, const char *what, size_t max_bytes);
/* The first two arguments as a path and an attribute's name, both for the caller to free; 0 (nothing to free) on a bad one. */
int path_and_name(napi_env env, napi_value *args, char **path, char **name);

napi_value xattr_list(napi_env env, napi_callback_info info);
napi_value xattr_set(napi_env env, napi_callback_info info);
napi_value xattr_remove(napi_env env, napi_callback_info info);
napi_value seek_data(napi_env env, napi_callback_info info);
napi_value seek_hole(napi_env env, napi_callback_info info);

#endif
