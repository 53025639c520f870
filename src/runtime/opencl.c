/* The OpenCL backend: libOpenCL.so.1 through dlopen and our own prototypes; the first device of
   the first platform that has one (CL:N picks the N-th device over all platforms). Kernels are
   built from source per process (the driver caches binaries: PoCL does on disk). One in-order
   queue; reads back to the host block, so they wait for earlier kernels. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "block_cache.h"
#include "device.h"

typedef int32_t cl_int;
typedef uint32_t cl_uint;
typedef void *cl_platform_id, *cl_device_id, *cl_context, *cl_command_queue, *cl_mem, *cl_program,
    *cl_kernel;
enum {
  CL_DEVICE_TYPE_ALL = -1, CL_PROGRAM_BUILD_LOG = 0x1183,
  CL_MEM_READ_WRITE = 1, CL_TRUE = 1, CL_MEM_OBJECT_ALLOCATION_FAILURE = -4, CL_OUT_OF_RESOURCES = -5,
};

static struct {
  cl_int (*platforms)(cl_uint, cl_platform_id *, cl_uint *);
  cl_int (*devices)(cl_platform_id, uint64_t, cl_uint, cl_device_id *, cl_uint *);
  cl_context (*context)(const intptr_t *, cl_uint, const cl_device_id *, void *, void *, cl_int *);
  cl_command_queue (*queue)(cl_context, cl_device_id, uint64_t, cl_int *);
  cl_mem (*buffer)(cl_context, uint64_t, size_t, void *, cl_int *);
  cl_int (*release_mem)(cl_mem);
  cl_int (*write)(cl_command_queue, cl_mem, cl_uint, size_t, size_t, const void *, cl_uint, const void *, void *);
  cl_int (*read)(cl_command_queue, cl_mem, cl_uint, size_t, size_t, void *, cl_uint, const void *, void *);
  cl_int (*copy)(cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const void *, void *);
  cl_program (*program)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
  cl_int (*build)(cl_program, cl_uint, const cl_device_id *, const char *, void *, void *);
  cl_int (*build_info)(cl_program, cl_device_id, cl_uint, size_t, void *, size_t *);
  cl_kernel (*kernel)(cl_program, const char *, cl_int *);
  cl_int (*set_arg)(cl_kernel, cl_uint, size_t, const void *);
  cl_int (*enqueue)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *,
                    cl_uint, const void *, void *);
  cl_int (*finish)(cl_command_queue);
  cl_int (*release_kernel)(cl_kernel);
  cl_int (*release_program)(cl_program);
} cl;

static struct {
  int ok;
  cl_device_id dev;
  cl_context ctx;
  cl_command_queue q;
  char why[200];
} ocl;
static pthread_once_t cl_once = PTHREAD_ONCE_INIT;
static int wanted_ordinal;
static cg_block_cache blocks = CG_BLOCK_CACHE_INIT((size_t)1 << 30);
static _Thread_local double last_seconds; /* DEBUG: the last launch, enqueue to finish */

static int load_symbols(void *dl) {
  struct { void *dst; const char *sym; } syms[] = {
    {&cl.platforms, "clGetPlatformIDs"}, {&cl.devices, "clGetDeviceIDs"},
    {&cl.context, "clCreateContext"}, {&cl.queue, "clCreateCommandQueue"}, {&cl.buffer, "clCreateBuffer"},
    {&cl.release_mem, "clReleaseMemObject"}, {&cl.write, "clEnqueueWriteBuffer"},
    {&cl.read, "clEnqueueReadBuffer"}, {&cl.copy, "clEnqueueCopyBuffer"}, {&cl.program, "clCreateProgramWithSource"},
    {&cl.build, "clBuildProgram"}, {&cl.build_info, "clGetProgramBuildInfo"}, {&cl.kernel, "clCreateKernel"},
    {&cl.set_arg, "clSetKernelArg"}, {&cl.enqueue, "clEnqueueNDRangeKernel"}, {&cl.finish, "clFinish"},
    {&cl.release_kernel, "clReleaseKernel"}, {&cl.release_program, "clReleaseProgram"},
  };
  for (size_t i = 0; i < sizeof syms / sizeof *syms; i++) {
    void *f = dlsym(dl, syms[i].sym);
    if (!f) return -1;
    memcpy(syms[i].dst, &f, sizeof f);
  }
  return 0;
}

/* the wanted_ordinal-th device over all platforms */
static int pick_device(void) {
  cl_platform_id plats[16];
  cl_uint np = 0;
  if (cl.platforms(16, plats, &np) != 0 || np == 0) return -1;
  int seen = 0;
  for (cl_uint i = 0; i < np && i < 16; i++) {
    cl_device_id devs[16];
    cl_uint nd = 0;
    if (cl.devices(plats[i], (uint64_t)CL_DEVICE_TYPE_ALL, 16, devs, &nd) != 0) continue;
    for (cl_uint j = 0; j < nd && j < 16; j++, seen++)
      if (seen == wanted_ordinal) { ocl.dev = devs[j]; return 0; }
  }
  return -1;
}

static void cl_load(void) {
  void *dl = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!dl) { snprintf(ocl.why, sizeof ocl.why, "libOpenCL.so.1 not found (install ocl-icd-libopencl1 and a driver)"); return; }
  if (load_symbols(dl)) { snprintf(ocl.why, sizeof ocl.why, "libOpenCL.so.1 lacks OpenCL 1.2 entry points"); return; }
  if (pick_device()) { snprintf(ocl.why, sizeof ocl.why, "no OpenCL device %d (is a driver such as pocl-opencl-icd installed?)", wanted_ordinal); return; }
  cl_int e = 0;
  ocl.ctx = cl.context(NULL, 1, &ocl.dev, NULL, NULL, &e);
  if (!e) ocl.q = cl.queue(ocl.ctx, ocl.dev, 0, &e);
  if (e) { snprintf(ocl.why, sizeof ocl.why, "OpenCL context/queue creation failed (error %d)", e); return; }
  ocl.ok = 1;
}

static int cl_available(void) {
  pthread_once(&cl_once, cl_load);
  if (!ocl.ok) cg_set_error("CL: %s", ocl.why);
  return ocl.ok;
}

static int cl_select(int ordinal) {
  if (ocl.ok && ordinal != wanted_ordinal) {
    cg_set_error("CL:%d: this process already uses CL:%d (one OpenCL device per process)", ordinal, wanted_ordinal);
    return -1;
  }
  wanted_ordinal = ordinal;
  return 0;
}

static int check(cl_int e, const char *what) {
  if (!e) return 0;
  cg_set_error("OpenCL %s failed (error %d)", what, e);
  return -1;
}

static size_t block_size(size_t n) { return n ? (n + 255) & ~(size_t)255 : 256; }
static void raw_free(void *p, size_t n) { (void)n; cl.release_mem(p); }

static void *cl_alloc(size_t n) {
  size_t sz = block_size(n);
  void *p = cg_block_cache_take(&blocks, sz);
  if (p) return p;
  cl_int e = 0;
  cl_mem m = cl.buffer(ocl.ctx, CL_MEM_READ_WRITE, sz, NULL, &e);
  if ((e == CL_MEM_OBJECT_ALLOCATION_FAILURE || e == CL_OUT_OF_RESOURCES) && cg_block_cache_drain(&blocks, raw_free))
    m = cl.buffer(ocl.ctx, CL_MEM_READ_WRITE, sz, NULL, &e);
  return e ? NULL : m;
}

static void cl_free(void *p, size_t n) {
  if (p && !cg_block_cache_put(&blocks, p, block_size(n))) raw_free(p, n);
}

static int cl_copyin(void *dst, const void *src, size_t n) {
  return n ? check(cl.write(ocl.q, dst, CL_TRUE, 0, n, src, 0, NULL, NULL), "write to device") : 0;
}

static int cl_copyout(void *dst, const void *src, size_t n) {
  return n ? check(cl.read(ocl.q, (cl_mem)src, CL_TRUE, 0, n, dst, 0, NULL, NULL), "read from device") : 0;
}

static int cl_copy(void *dst, const void *src, size_t n) {
  return check(cl.copy(ocl.q, (cl_mem)src, dst, 0, 0, n, 0, NULL, NULL), "copy on device");
}

typedef struct { cl_program prog; cl_kernel k; pthread_mutex_t mu; } cl_kernel_handle;

static char *build_log(cl_program prog) {
  size_t n = 0;
  cl.build_info(prog, ocl.dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
  char *log = cg_xcalloc(1, n + 1);
  if (n) cl.build_info(prog, ocl.dev, CL_PROGRAM_BUILD_LOG, n, log, NULL);
  return log;
}

static void *cl_compile(cg_program *p, char **err, int *cached) {
  *cached = 0;
  cl_int e = 0;
  const char *src = p->source;
  cl_program prog = cl.program(ocl.ctx, 1, &src, NULL, &e);
  if (e) { *err = cg_xstrdup("clCreateProgramWithSource failed"); return NULL; }
  /* IEEE division and square root, as on the other backends */
  if (cl.build(prog, 1, &ocl.dev, "-cl-fp32-correctly-rounded-divide-sqrt", NULL, NULL) != 0) {
    char *log = build_log(prog);
    size_t n = strlen(log) + strlen(p->name) + 64;
    *err = cg_xmalloc(n);
    snprintf(*err, n, "OpenCL build of %s failed: %s", p->name, log);
    free(log);
    cl.release_program(prog);
    return NULL;
  }
  cl_kernel k = cl.kernel(prog, p->name, &e);
  if (e) {
    *err = cg_xstrdup("clCreateKernel failed");
    cl.release_program(prog);
    return NULL;
  }
  cl_kernel_handle *h = cg_xcalloc(1, sizeof *h);
  h->prog = prog;
  h->k = k;
  pthread_mutex_init(&h->mu, NULL);
  return h;
}

/* setting arguments and enqueueing is one step per kernel object: the mutex keeps two threads
   launching the same kernel from mixing arguments */
static int cl_launch(void *handle, cg_program *p, void **bufs, const int64_t *vars) {
  cl_kernel_handle *h = handle;
  int64_t count = cg_gpu_global_count(p, vars);
  if (count <= 0) return 0;
  size_t local = (size_t)p->local_size;
  size_t global = p->group_size ? (size_t)count * local : ((size_t)count + local - 1) / local * local;
  cl_int e = 0;
  pthread_mutex_lock(&h->mu);
  for (int i = 0; i < p->nparams && !e; i++) e = cl.set_arg(h->k, (cl_uint)i, sizeof(cl_mem), &bufs[i]);
  for (int i = 0; i < p->nvars && !e; i++) {
    int64_t v = vars[i];
    e = cl.set_arg(h->k, (cl_uint)(p->nparams + i), sizeof v, &v);
  }
  double t0 = cg_now();
  if (!e) e = cl.enqueue(ocl.q, h->k, 1, NULL, &global, &local, 0, NULL, NULL);
  if (!e && (cg_env_get()->debug >= 1 || cg_env_get()->profile)) { /* DEBUG: wait, so the time is the kernel's */
    e = cl.finish(ocl.q);
    last_seconds = cg_now() - t0;
  }
  pthread_mutex_unlock(&h->mu);
  char what[200];
  snprintf(what, sizeof what, "launch of %s", p->name);
  return check(e, what);
}

static void cl_release(void *handle) {
  cl_kernel_handle *h = handle;
  if (!h) return;
  cl.release_kernel(h->k);
  cl.release_program(h->prog);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

static int cl_sync(void) { return check(cl.finish(ocl.q), "finish"); }
static double cl_kernel_seconds(void) { return last_seconds; }

cg_device cg_device_cl = {
  .name = "CL",
  .available = cl_available,
  .alloc = cl_alloc,
  .free = cl_free,
  .copyin = cl_copyin,
  .copyout = cl_copyout,
  .copy = cl_copy,
  .compile = cl_compile,
  .launch = cl_launch,
  .release = cl_release,
  .dialect = &cg_dialect_opencl,
  .sync = cl_sync,
  .select = cl_select,
  .kernel_seconds = cl_kernel_seconds,
};
