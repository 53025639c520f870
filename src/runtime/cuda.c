/* The CUDA backend: the driver API (libcuda.so.1) through dlopen and our own prototypes, kernels
   compiled by NVRTC for the device's own architecture into CUBIN (cached on disk), launched on
   the default stream. Launches are asynchronous; copies back to the host wait for them. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "block_cache.h"
#include "device.h"
#include "disk_cache.h"
#include "nvrtc.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUevent;
enum { ATTR_CC_MAJOR = 75, ATTR_CC_MINOR = 76, ERR_OUT_OF_MEMORY = 2 };

static struct {
  CUresult (*init)(unsigned);
  CUresult (*device_count)(int *);
  CUresult (*device_get)(int *, int);
  CUresult (*device_attr)(int *, int, int);
  CUresult (*ctx_retain)(CUcontext *, int);
  CUresult (*ctx_set)(CUcontext);
  CUresult (*ctx_sync)(void);
  CUresult (*mem_alloc)(CUdeviceptr *, size_t);
  CUresult (*mem_free)(CUdeviceptr);
  CUresult (*htod)(CUdeviceptr, const void *, size_t);
  CUresult (*dtoh)(void *, CUdeviceptr, size_t);
  CUresult (*dtod)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*module_load)(CUmodule *, const void *);
  CUresult (*module_fn)(CUfunction *, CUmodule, const char *);
  CUresult (*module_unload)(CUmodule);
  CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                     void *, void **, void **);
  CUresult (*error_string)(CUresult, const char **);
  CUresult (*event_create)(CUevent *, unsigned);
  CUresult (*event_record)(CUevent, void *);
  CUresult (*event_sync)(CUevent);
  CUresult (*event_elapsed)(float *, CUevent, CUevent);
} cu;

static struct {
  int ok, ordinal;
  CUcontext ctx;
  CUevent timing[2];        /* DEBUG: around each launch */
  char arch[16];
  char why[256];            /* why CUDA is not available */
} gpu;
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static int wanted_ordinal;  /* CUDA:N picks device N before first use */
static cg_block_cache blocks = CG_BLOCK_CACHE_INIT((size_t)4 << 30);

static const char *cu_error(CUresult r) {
  const char *s = NULL;
  if (cu.error_string) cu.error_string(r, &s);
  return s ? s : "unknown CUDA error";
}

static int load_symbols(void *dl) {
  struct { void *dst; const char *sym; } syms[] = {
    {&cu.init, "cuInit"}, {&cu.device_count, "cuDeviceGetCount"}, {&cu.device_get, "cuDeviceGet"},
    {&cu.device_attr, "cuDeviceGetAttribute"},
    {&cu.ctx_retain, "cuDevicePrimaryCtxRetain"}, {&cu.ctx_set, "cuCtxSetCurrent"},
    {&cu.ctx_sync, "cuCtxSynchronize"}, {&cu.mem_alloc, "cuMemAlloc_v2"}, {&cu.mem_free, "cuMemFree_v2"},
    {&cu.htod, "cuMemcpyHtoD_v2"}, {&cu.dtoh, "cuMemcpyDtoH_v2"}, {&cu.dtod, "cuMemcpyDtoD_v2"}, {&cu.module_load, "cuModuleLoadData"},
    {&cu.module_fn, "cuModuleGetFunction"}, {&cu.module_unload, "cuModuleUnload"},
    {&cu.launch, "cuLaunchKernel"}, {&cu.error_string, "cuGetErrorString"},
    {&cu.event_create, "cuEventCreate"}, {&cu.event_record, "cuEventRecord"},
    {&cu.event_sync, "cuEventSynchronize"}, {&cu.event_elapsed, "cuEventElapsedTime"},
  };
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    void *f = dlsym(dl, syms[i].sym);
    if (!f) return -1;
    memcpy(syms[i].dst, &f, sizeof f);
  }
  return 0;
}

static void cu_load(void) {
  void *dl = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!dl) { snprintf(gpu.why, sizeof gpu.why, "no NVIDIA driver (libcuda.so.1 not found)"); return; }
  if (load_symbols(dl)) { snprintf(gpu.why, sizeof gpu.why, "libcuda.so.1 lacks the driver API"); return; }
  int n = 0, dev, major = 0, minor = 0;
  CUresult r = cu.init(0);
  if (!r) r = cu.device_count(&n);
  if (r || n == 0) { snprintf(gpu.why, sizeof gpu.why, "no CUDA device (%s)", r ? cu_error(r) : "count 0"); return; }
  if (wanted_ordinal >= n) { snprintf(gpu.why, sizeof gpu.why, "CUDA:%d asked for, %d device(s) present", wanted_ordinal, n); return; }
  if ((r = cu.device_get(&dev, wanted_ordinal)) || (r = cu.ctx_retain(&gpu.ctx, dev)) || (r = cu.ctx_set(gpu.ctx))) {
    snprintf(gpu.why, sizeof gpu.why, "CUDA device %d: %s", wanted_ordinal, cu_error(r));
    return;
  }
  cu.device_attr(&major, ATTR_CC_MAJOR, dev);
  cu.device_attr(&minor, ATTR_CC_MINOR, dev);
  snprintf(gpu.arch, sizeof gpu.arch, "sm_%d%d", major, minor);
  cu.event_create(&gpu.timing[0], 0);
  cu.event_create(&gpu.timing[1], 0);
  gpu.ordinal = wanted_ordinal;
  gpu.ok = 1;
}

static int cuda_available(void) {
  pthread_once(&cu_once, cu_load);
  if (!gpu.ok) cg_set_error("CUDA: %s", gpu.why);
  return gpu.ok;
}

static int cuda_select(int ordinal) {
  if (gpu.ok && ordinal != gpu.ordinal) {
    cg_set_error("CUDA:%d: this process already uses CUDA:%d (one CUDA device per process)", ordinal, gpu.ordinal);
    return -1;
  }
  wanted_ordinal = ordinal;
  return 0;
}

static int check(CUresult r, const char *what) {
  if (!r) return 0;
  cg_set_error("CUDA %s: %s", what, cu_error(r));
  return -1;
}

static void raw_free(void *p, size_t n) { (void)n; cu.mem_free((CUdeviceptr)(uintptr_t)p); }

static void *cuda_alloc(size_t n) {
  size_t sz = n ? (n + 255) & ~(size_t)255 : 256;
  void *p = cg_block_cache_take(&blocks, sz);
  if (p) return p;
  cu.ctx_set(gpu.ctx);
  CUdeviceptr d = 0;
  CUresult r = cu.mem_alloc(&d, sz);
  if (r == ERR_OUT_OF_MEMORY && cg_block_cache_drain(&blocks, raw_free)) r = cu.mem_alloc(&d, sz);
  return r ? NULL : (void *)(uintptr_t)d; /* NULL: the caller reports out of memory */
}

static void cuda_free(void *p, size_t n) {
  size_t sz = n ? (n + 255) & ~(size_t)255 : 256;
  if (p && !cg_block_cache_put(&blocks, p, sz)) raw_free(p, sz);
}

static int cuda_copyin(void *dst, const void *src, size_t n) {
  cu.ctx_set(gpu.ctx);
  return n ? check(cu.htod((CUdeviceptr)(uintptr_t)dst, src, n), "copy to device") : 0;
}

static int cuda_copyout(void *dst, const void *src, size_t n) {
  cu.ctx_set(gpu.ctx);
  return n ? check(cu.dtoh(dst, (CUdeviceptr)(uintptr_t)src, n), "copy from device (or an earlier kernel)") : 0;
}

static int cuda_copy(void *dst, const void *src, size_t n) {
  cu.ctx_set(gpu.ctx);
  return check(cu.dtod((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src, n), "copy on device");
}

typedef struct { CUmodule mod; CUfunction fn; } cuda_kernel;

/* CUBIN from the disk cache, else NVRTC (and into the cache) */
static char *cubin_for(cg_program *p, size_t *n, char **err, int *cached) {
  char path[700];
  uint64_t key = cg_hash_bytes(gpu.arch, strlen(gpu.arch), p->key ^ 0x6375646175ULL);
  const char *nvrtc = cg_nvrtc_version() ? cg_nvrtc_version() : "";
  key = cg_hash_bytes(nvrtc, strlen(nvrtc), key);
  cg_cache_path(path, sizeof path, "cuda", key, ".cubin");
  char *bin = cg_cache_read(path, n);
  *cached = bin != NULL;
  if (bin) return bin;
  bin = cg_nvrtc_compile(p->source, p->name, gpu.arch, 0, n, err);
  if (bin) cg_cache_write(path, bin, *n); /* a cache that cannot be written only costs time */
  return bin;
}

static void *cuda_compile(cg_program *p, char **err, int *cached) {
  size_t n = 0;
  char *bin = cubin_for(p, &n, err, cached);
  if (!bin) return NULL;
  cuda_kernel *k = cg_xcalloc(1, sizeof *k);
  cu.ctx_set(gpu.ctx);
  CUresult r = cu.module_load(&k->mod, bin);
  if (!r) r = cu.module_fn(&k->fn, k->mod, p->name);
  free(bin);
  if (r) {
    char msg[300];
    snprintf(msg, sizeof msg, "CUDA: loading kernel %s: %s", p->name, cu_error(r));
    *err = cg_xstrdup(msg);
    if (k->mod) cu.module_unload(k->mod);
    free(k);
    return NULL;
  }
  return k;
}

static int cuda_launch(void *handle, cg_program *p, void **bufs, const int64_t *vars) {
  cuda_kernel *k = handle;
  int64_t count = cg_gpu_global_count(p, vars);
  if (count <= 0) return 0;
  int64_t blocks_x = p->group_size ? count : (count + p->local_size - 1) / p->local_size;
  if (blocks_x > 0x7fffffff) {
    cg_set_error("CUDA: kernel %s needs %lld blocks (limit 2^31-1)", p->name, (long long)blocks_x);
    return -1;
  }
  void *args[64 + 16];
  CUdeviceptr ptrs[64];
  long long vals[16];
  int na = 0;
  for (int i = 0; i < p->nparams; i++) { ptrs[i] = (CUdeviceptr)(uintptr_t)bufs[i]; args[na++] = &ptrs[i]; }
  for (int i = 0; i < p->nvars; i++) { vals[i] = vars[i]; args[na++] = &vals[i]; }
  cu.ctx_set(gpu.ctx);
  char what[200];
  snprintf(what, sizeof what, "launch of %s", p->name);
  int timed = (cg_env_get()->debug >= 1 || cg_env_get()->profile);
  if (timed) cu.event_record(gpu.timing[0], NULL);
  int rc = check(cu.launch(k->fn, (unsigned)blocks_x, 1, 1, (unsigned)p->local_size, 1, 1, 0, NULL, args, NULL), what);
  if (timed) cu.event_record(gpu.timing[1], NULL);
  return rc;
}

static double cuda_kernel_seconds(void) {
  float ms = 0;
  if (check(cu.event_sync(gpu.timing[1]), "kernel (timed with DEBUG)")) return -1;
  cu.event_elapsed(&ms, gpu.timing[0], gpu.timing[1]);
  return ms * 1e-3;
}

static void cuda_release(void *handle) {
  cuda_kernel *k = handle;
  if (!k) return;
  cu.module_unload(k->mod);
  free(k);
}

static int cuda_sync(void) {
  cu.ctx_set(gpu.ctx);
  return check(cu.ctx_sync(), "synchronize (a kernel failed)");
}

cg_device cg_device_cuda = {
  .name = "CUDA",
  .available = cuda_available,
  .alloc = cuda_alloc,
  .free = cuda_free,
  .copyin = cuda_copyin,
  .copyout = cuda_copyout,
  .copy = cuda_copy,
  .compile = cuda_compile,
  .launch = cuda_launch,
  .release = cuda_release,
  .dialect = &cg_dialect_cuda,
  .sync = cuda_sync,
  .select = cuda_select,
  .kernel_seconds = cuda_kernel_seconds,
};
