/* NVRTC through our own prototypes: no CUDA headers or link-time dependency. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "device.h"
#include "nvrtc.h"

typedef void *nvrtc_prog;
static struct {
  void *dl;
  int (*create)(nvrtc_prog *, const char *, const char *, int, const char *const *, const char *const *);
  int (*compile)(nvrtc_prog, int, const char *const *);
  int (*log_size)(nvrtc_prog, size_t *);
  int (*log)(nvrtc_prog, char *);
  int (*cubin_size)(nvrtc_prog, size_t *);
  int (*cubin)(nvrtc_prog, char *);
  int (*destroy)(nvrtc_prog *);
  int (*version)(int *, int *);
  char version_str[16];
} nv;
static pthread_once_t nv_once = PTHREAD_ONCE_INIT;

/* sonames first (ldconfig), then the toolkit's usual home */
static const char *nvrtc_names[] = {
  "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2",
  "/usr/local/cuda/lib64/libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so.13",
  "/usr/local/cuda/lib64/libnvrtc.so.12",
};

static void nv_load(void) {
  for (size_t i = 0; i < sizeof nvrtc_names / sizeof *nvrtc_names && !nv.dl; i++)
    nv.dl = dlopen(nvrtc_names[i], RTLD_NOW | RTLD_LOCAL);
  if (!nv.dl) return;
  struct { void *dst; const char *sym; } syms[] = {
    {&nv.create, "nvrtcCreateProgram"}, {&nv.compile, "nvrtcCompileProgram"},
    {&nv.log_size, "nvrtcGetProgramLogSize"}, {&nv.log, "nvrtcGetProgramLog"},
    {&nv.cubin_size, "nvrtcGetCUBINSize"}, {&nv.cubin, "nvrtcGetCUBIN"},
    {&nv.destroy, "nvrtcDestroyProgram"}, {&nv.version, "nvrtcVersion"},
  };
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    void *f = dlsym(nv.dl, syms[i].sym);
    if (!f) { dlclose(nv.dl); nv.dl = NULL; return; }
    memcpy(syms[i].dst, &f, sizeof f);
  }
  int major = 0, minor = 0;
  nv.version(&major, &minor);
  snprintf(nv.version_str, sizeof nv.version_str, "%d.%d", major, minor);
}

const char *cg_nvrtc_version(void) {
  pthread_once(&nv_once, nv_load);
  return nv.dl ? nv.version_str : NULL;
}

static char *program_log(nvrtc_prog prog) {
  size_t n = 0;
  nv.log_size(prog, &n);
  char *log = cg_xcalloc(1, n + 1);
  if (n) nv.log(prog, log);
  return log;
}

char *cg_nvrtc_compile(const char *source, const char *name, const char *arch, int fmad,
                       size_t *size, char **err) {
  if (!cg_nvrtc_version()) {
    *err = cg_xstrdup("NVRTC not found (looked for libnvrtc.so.13/.12/.11.2); install the CUDA toolkit");
    return NULL;
  }
  char arch_opt[64];
  snprintf(arch_opt, sizeof arch_opt, "--gpu-architecture=%s", arch);
  /* no fused multiply-add by default: results then match the CPU and the interpreter */
  const char *opts[] = {arch_opt, fmad ? "--fmad=true" : "--fmad=false", "-w"};
  nvrtc_prog prog;
  if (nv.create(&prog, source, name, 0, NULL, NULL) != 0) {
    *err = cg_xstrdup("nvrtcCreateProgram failed");
    return NULL;
  }
  char *cubin = NULL;
  if (nv.compile(prog, 3, opts) != 0) {
    *err = program_log(prog);
  } else if (nv.cubin_size(prog, size) != 0 || !*size) {
    *err = cg_xstrdup("NVRTC produced no CUBIN (is the architecture a real one, like sm_90?)");
  } else {
    cubin = cg_xmalloc(*size);
    nv.cubin(prog, cubin);
  }
  nv.destroy(&prog);
  return cubin;
}

int cg_nvrtc_check(const char *source, const char *arch, char **err) {
  size_t n;
  char *cubin = cg_nvrtc_compile(source, "check.cu", arch, 0, &n, err);
  free(cubin);
  return cubin ? 0 : -1;
}
