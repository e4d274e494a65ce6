# Build of the native kernels (workers/native/build.ts runs node-gyp on this file).
# CBLAS comes from the system: Debian's libopenblas-dev puts cblas.h and libopenblas.so on the
# default search paths; AUTOPEFT_CBLAS_CFLAGS / AUTOPEFT_CBLAS_LIBS override them elsewhere.
{
  "targets": [
    {
      "target_name": "autopeft_native",
      "sources": ["src/autopeft_native.c"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast", "<!@(node -p \"process.env.AUTOPEFT_CBLAS_CFLAGS || ''\")"],
      "cflags!": ["-O2"],
      "libraries": ["<!@(node -p \"process.env.AUTOPEFT_CBLAS_LIBS || '-lopenblas'\")", "-ldl", "-lm"]
    }
  ]
}
