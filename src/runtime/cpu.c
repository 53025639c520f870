/* The CPU backend: kernels are C compiled by the system compiler into shared objects, cached on
   disk by a key of source, flags, compiler version and CPU features, loaded with dlopen and run
   with the outermost loop split across the thread pool. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../base/base.h"
#include "device.h"
#include "disk_cache.h"
#include "host_mem.h"

extern char **environ;
typedef void (*kernel_fn)(void **bufs, const long long *vars, long long start, long long end);
typedef struct { void *dl; kernel_fn fn; uint64_t key; } cpu_kernel; /* key: its .so's name */

/* No -ffast-math: the generated code itself decides the order of float operations. GCC's
   "cheap" vectorizer cost model lets plain -O2 vectorize loops with unknown trip counts.
   -fno-trapping-math changes no result (nobody reads the FP exception flags); it lets gcc
   if-convert selects whose arms compute floats, which the branch-free cg_exp2f/cg_log2f
   (src/ir/mathfn.h) need to vectorize: jump threading otherwise splits them into branches. */
static const char *cflags[] = {"-O2", "-march=native", "-ffp-contract=off", "-fno-math-errno",
                               "-fno-trapping-math", "-fPIC", "-shared", "-w",
                               "-fvect-cost-model=cheap"};
enum { NFLAGS = sizeof cflags / sizeof *cflags };
static int nflags = NFLAGS; /* clang lacks the last flag */

static pthread_once_t ident_once = PTHREAD_ONCE_INIT;
static uint64_t toolchain_key;     /* compiler version + CPU features + flags */
static char compiler_version[256];

static void read_first_line(const char *cmd, char *out, size_t n) {
  FILE *f = popen(cmd, "r");
  out[0] = 0;
  if (!f) return;
  if (!fgets(out, (int)n, f)) out[0] = 0;
  pclose(f);
  out[strcspn(out, "\n")] = 0;
}

static void ident_init(void) {
  char cmd[300], flags[4096] = "";
  snprintf(cmd, sizeof cmd, "%s --version 2>/dev/null", cg_env_get()->cc);
  read_first_line(cmd, compiler_version, sizeof compiler_version);
  if (strstr(compiler_version, "clang")) nflags = NFLAGS - 1;
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[4096];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "flags", 5)) { snprintf(flags, sizeof flags, "%s", line); break; }
    fclose(f);
  }
  uint64_t h = cg_hash_bytes(compiler_version, strlen(compiler_version), 1);
  h = cg_hash_bytes(flags, strlen(flags), h);
  for (int i = 0; i < nflags; i++) h = cg_hash_bytes(cflags[i], strlen(cflags[i]), h);
  toolchain_key = h;
}

const char *cg_compiler_version(void) {
  pthread_once(&ident_once, ident_init);
  return compiler_version[0] ? compiler_version : "(compiler not found)";
}

static uint64_t cpu_ident(void) {
  pthread_once(&ident_once, ident_init);
  return toolchain_key;
}

static int cpu_available(void) { return 1; }

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return cg_xstrdup("");
  char *buf = cg_xcalloc(1, 4097);
  size_t n = fread(buf, 1, 4096, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* run $CC on src_path -> so_path; stderr goes to log_path */
static int run_compiler(const char *src_path, const char *so_path, const char *log_path) {
  const char *argv[NFLAGS + 6];
  int n = 0;
  argv[n++] = cg_env_get()->cc;
  for (int i = 0; i < nflags; i++) argv[n++] = cflags[i];
  argv[n++] = "-o";
  argv[n++] = so_path;
  argv[n++] = src_path;
  argv[n++] = "-lm";
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static atomic_int tmp_counter;

static void *load(const char *so_path, const char *name, uint64_t key, char **err) {
  void *dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char *e = dlerror();
    *err = cg_xstrdup(e ? e : "dlopen failed");
    return NULL;
  }
  cpu_kernel *k = cg_xcalloc(1, sizeof *k);
  k->dl = dl;
  k->key = key;
  *(void **)&k->fn = dlsym(dl, name);
  if (!k->fn) {
    *err = cg_xstrdup("kernel symbol missing from compiled object");
    dlclose(dl);
    free(k);
    return NULL;
  }
  return k;
}

static void *cpu_compile(cg_program *p, char **err, int *cached) {
  pthread_once(&ident_once, ident_init);
  const char *dir = cg_env_get()->cachedir;
  uint64_t key = cg_hash_bytes(p->source, strlen(p->source), toolchain_key);
  char so_path[700], src_path[700], tmp_so[700], log_path[700];
  cg_cache_path(so_path, sizeof so_path, "cpu", key, ".so");
  *cached = access(so_path, R_OK) == 0;
  if (*cached) {
    void *k = load(so_path, p->name, key, err);
    if (k) return k;
    free(*err); /* a damaged cache entry: rebuild it */
    *err = NULL;
    *cached = 0;
  }
  if (cg_mkdirs(dir) != 0) {
    char msg[800];
    snprintf(msg, sizeof msg, "cannot create cache directory %s: %s", dir, strerror(errno));
    *err = cg_xstrdup(msg);
    return NULL;
  }
  int uniq = atomic_fetch_add(&tmp_counter, 1);
  snprintf(src_path, sizeof src_path, "%s/tmp-%d-%d-%016llx.c", dir, (int)getpid(), uniq, (unsigned long long)key);
  snprintf(tmp_so, sizeof tmp_so, "%s/tmp-%d-%d-%016llx.so", dir, (int)getpid(), uniq, (unsigned long long)key);
  snprintf(log_path, sizeof log_path, "%s/tmp-%d-%d-%016llx.log", dir, (int)getpid(), uniq, (unsigned long long)key);
  FILE *f = fopen(src_path, "w");
  if (!f || fputs(p->source, f) < 0) {
    if (f) fclose(f);
    *err = cg_xstrdup("cannot write kernel source to the cache directory");
    return NULL;
  }
  fclose(f);
  int rc = run_compiler(src_path, tmp_so, log_path);
  void *k = NULL;
  if (rc != 0) {
    char *log = read_file(log_path);
    size_t n = strlen(log) + 200;
    *err = cg_xmalloc(n);
    snprintf(*err, n, "compiler '%s' failed on kernel %s: %s", cg_env_get()->cc, p->name, log);
    free(log);
    unlink(tmp_so);
  } else if (rename(tmp_so, so_path) == 0) {
    k = load(so_path, p->name, key, err);
  } else {
    *err = cg_xstrdup("cannot move compiled kernel into the cache");
  }
  unlink(src_path);
  unlink(log_path);
  return k;
}

typedef struct {
  cpu_kernel *k;
  void **bufs;
  const long long *vars;
  int64_t size;
  int parts;
} launch_ctx;

static void run_part(void *vctx, int i) {
  launch_ctx *c = vctx;
  int64_t lo = c->size * i / c->parts, hi = c->size * (i + 1) / c->parts;
  if (lo < hi) c->k->fn(c->bufs, c->vars, lo, hi);
}

/* iterations [0, size) of the outermost loop, split across the pool in PARTS_PER_THREAD parts a
   thread, which the threads take in turn: on a shared machine one core may run slower for a
   while (two copies of one FMA loop measured 90 and 76 GFLOPS side by side), and with one part
   each the other would wait for it at the end. (On the 2-core machine halves and quarters of a
   4096^3 matmul differed by less than its run-to-run noise.) */
enum { PARTS_PER_THREAD = 4 };
static void launch_first(cpu_kernel *k, cg_program *p, void **bufs, const int64_t *vars, int64_t size) {
  int64_t threads = cg_pool_threads(), most = threads * PARTS_PER_THREAD;
  /* small kernels are not worth waking the pool */
  int parts = (p->flops + p->bytes) < 65536 ? 1 : (int)(size < most ? size : most);
  launch_ctx c = {k, bufs, (const long long *)vars, size, parts < 1 ? 1 : parts};
  cg_pool_run(run_part, &c, c.parts);
}

static int64_t outer_size(const cg_program *p, const int64_t *vars) {
  return p->thread_ins < 0 ? 1 : p->thread_var >= 0 ? vars[p->thread_var] : p->thread_size;
}

static int cpu_launch(void *handle, cg_program *p, void **bufs, const int64_t *vars) {
  launch_first(handle, p, bufs, vars, outer_size(p, vars));
  return 0;
}

static int cpu_launch_prefix(void *handle, cg_program *p, void **bufs, const int64_t *vars, int64_t n) {
  int64_t size = outer_size(p, vars);
  launch_first(handle, p, bufs, vars, n < size ? n : size);
  return 0;
}

static void cpu_release(void *handle) {
  cpu_kernel *k = handle;
  if (!k) return;
  dlclose(k->dl);
  free(k);
}

static void cpu_discard(void *handle) {
  cpu_kernel *k = handle;
  if (!k) return;
  char so_path[700];
  cg_cache_path(so_path, sizeof so_path, "cpu", k->key, ".so");
  unlink(so_path);
  cpu_release(k);
}

cg_device cg_device_cpu = {
  .name = "CPU",
  .available = cpu_available,
  .alloc = cg_host_alloc,
  .free = cg_host_free,
  .copyin = cg_host_copy,
  .copyout = cg_host_copy,
  .compile = cpu_compile,
  .launch = cpu_launch,
  .release = cpu_release,
  .discard = cpu_discard,
  .ident = cpu_ident,
  .launch_prefix = cpu_launch_prefix,
};
