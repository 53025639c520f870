/* Host memory: 64-byte aligned for vector loads, with a cache of freed blocks by exact size.
   A fresh multi-megabyte block costs a page fault per 4 KiB on first touch, which would halve
   the speed of memory-bound kernels that write new outputs every step. */
#include <stdlib.h>
#include <string.h>
#include "block_cache.h"
#include "host_mem.h"

/* small blocks are not worth keeping: malloc serves them fast enough */
enum { MIN_CACHED = 4096 };
static cg_block_cache cache = CG_BLOCK_CACHE_INIT((size_t)1 << 30);

static size_t rounded(size_t n) { return n ? (n + 63) & ~(size_t)63 : 64; }

void *cg_host_alloc(size_t n) {
  size_t sz = rounded(n);
  void *p = cg_block_cache_take(&cache, sz);
  if (p) return p;
  return posix_memalign(&p, 64, sz) ? NULL : p;
}

void cg_host_free(void *p, size_t n) {
  size_t sz = rounded(n);
  if (p && (sz < MIN_CACHED || !cg_block_cache_put(&cache, p, sz))) free(p);
}

static void release(void *p, size_t n) { (void)n; free(p); }

void cg_host_cache_clear(void) { cg_block_cache_drain(&cache, release); }

int cg_host_copy(void *dst, const void *src, size_t n) {
  if (n) memcpy(dst, src, n);
  return 0;
}
