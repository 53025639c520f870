/* A cache of freed device blocks by exact size: device allocators (cuMemAlloc, clCreateBuffer)
   are slow and synchronizing, and a training step frees and allocates the same sizes each time. */
#ifndef CG_BLOCK_CACHE_H
#define CG_BLOCK_CACHE_H
#include <pthread.h>
#include <stddef.h>

enum { CG_BLOCK_SLOTS = 128 };
typedef struct {
  struct { void *p; size_t n; } slot[CG_BLOCK_SLOTS];
  int n;
  size_t bytes, limit;
  pthread_mutex_t mu;
} cg_block_cache;

#define CG_BLOCK_CACHE_INIT(limit_bytes) {.limit = (limit_bytes), .mu = PTHREAD_MUTEX_INITIALIZER}

void *cg_block_cache_take(cg_block_cache *c, size_t n);        /* a cached block of n bytes, or NULL */
int cg_block_cache_put(cg_block_cache *c, void *p, size_t n);  /* 1 if kept; 0: the caller frees it */
/* free every cached block with `release`; returns how many */
int cg_block_cache_drain(cg_block_cache *c, void (*release)(void *p, size_t n));
#endif
