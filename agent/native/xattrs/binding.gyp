{
  "targets": [
    {
      "target_name": "vigil_xattrs",
      "sources": ["xattrs.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
