{
  "targets": [
    {
      "target_name": "vigil_native",
      "sources": ["module.c", "common.c", "xattrs.c", "holes.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
