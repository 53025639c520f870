/* Base utilities shared by every room: errors, knobs, hashing, growable strings, thread pool. */
#ifndef CG_BASE_H
#define CG_BASE_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "cgrad.h"

/* errors (thread-local message) */
void cg_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cg_has_error(void);

/* environment knobs, read once */
typedef struct {
  int debug, threads, noopt, beam;
  int allow_tf32;           /* ALLOW_TF32=1: float32 matmuls on tensor cores in TF32 (off, as PyTorch) */
  int profile;              /* PROFILE=1: time each GPU kernel on the device (events) into the stats */
  char cachedir[512], cc[128], device[32];
  char nvrtc_check[16];     /* NVRTC_CHECK=sm_90: also compile every new kernel as CUDA (no GPU) */
} cg_env;
const cg_env *cg_env_get(void);
void cg_env_set_threads(int n);
void cg_env_set_profile(int on);
void cg_env_set_beam(int n);       /* BEAM width from now on (tests compare widths in one process) */

/* hashing */
uint64_t cg_hash_bytes(const void *p, size_t n, uint64_t seed);
static inline uint64_t cg_hash_mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

/* pointer-keyed hash map (open addressing, keys are non-NULL) */
typedef struct { const void **keys; void **vals; size_t cap, len; } cg_ptrmap;
void *cg_ptrmap_get(const cg_ptrmap *m, const void *key);
void cg_ptrmap_put(cg_ptrmap *m, const void *key, void *val);
void cg_ptrmap_free(cg_ptrmap *m);

/* growable string */
typedef struct { char *s; size_t len, cap; } cg_sbuf;
void cg_sbuf_printf(cg_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cg_sbuf_puts(cg_sbuf *b, const char *text);   /* append a plain string */
void cg_sbuf_free(cg_sbuf *b);

/* persistent thread pool: run fn(ctx, i) for i in [0, n) on all workers, return when done */
typedef void (*cg_task_fn)(void *ctx, int i);
void cg_pool_run(cg_task_fn fn, void *ctx, int n);
int cg_pool_threads(void);
void cg_pool_shutdown(void);

/* monotonic time in seconds */
double cg_now(void);

/* xmalloc: allocation failure of internal bookkeeping is an invariant violation */
void *cg_xmalloc(size_t n);
void *cg_xcalloc(size_t n, size_t sz);
void *cg_xrealloc(void *p, size_t n);
char *cg_xstrdup(const char *s);
#endif
