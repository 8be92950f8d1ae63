/* The agent's native module: what Node lacks that the mirror engine needs. Synchronous calls, safe in worker threads. */
#include "native.h"

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor functions[] = {
    { "listXattrs", NULL, xattr_list, NULL, NULL, NULL, napi_enumerable, NULL },
    { "setXattr", NULL, xattr_set, NULL, NULL, NULL, napi_enumerable, NULL },
    { "removeXattr", NULL, xattr_remove, NULL, NULL, NULL, napi_enumerable, NULL },
    { "seekData", NULL, seek_data, NULL, NULL, NULL, napi_enumerable, NULL },
    { "seekHole", NULL, seek_hole, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
