/* Host memory: 64-byte aligned for vector loads, with a cache of freed blocks by exact size.
   A fresh multi-megabyte block costs a page fault per 4 KiB on first touch, which would halve
   the speed of memory-bound kernels that write new outputs every step. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "host_mem.h"

enum { CACHE_SLOTS = 64 };
#define CACHE_LIMIT ((size_t)1 << 30)
typedef struct { void *p; size_t n; } block;
static block cache[CACHE_SLOTS];
static int ncached;
static size_t cached_bytes;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static size_t rounded(size_t n) { return n ? (n + 63) & ~(size_t)63 : 64; }

void *cg_host_alloc(size_t n) {
  size_t sz = rounded(n);
  pthread_mutex_lock(&mu);
  for (int i = 0; i < ncached; i++)
    if (cache[i].n == sz) {
      void *p = cache[i].p;
      cached_bytes -= sz;
      cache[i] = cache[--ncached];
      pthread_mutex_unlock(&mu);
      return p;
    }
  pthread_mutex_unlock(&mu);
  void *p = NULL;
  return posix_memalign(&p, 64, sz) ? NULL : p;
}

void cg_host_free(void *p, size_t n) {
  size_t sz = rounded(n);
  if (!p) return;
  pthread_mutex_lock(&mu);
  if (sz >= 4096 && ncached < CACHE_SLOTS && cached_bytes + sz <= CACHE_LIMIT) {
    cache[ncached++] = (block){p, sz};
    cached_bytes += sz;
    p = NULL;
  }
  pthread_mutex_unlock(&mu);
  free(p);
}

void cg_host_cache_clear(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < ncached; i++) free(cache[i].p);
  ncached = 0;
  cached_bytes = 0;
  pthread_mutex_unlock(&mu);
}

int cg_host_copy(void *dst, const void *src, size_t n) {
  if (n) memcpy(dst, src, n);
  return 0;
}
