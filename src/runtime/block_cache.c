/* Freed blocks by exact size, bounded in count and bytes. */
#include "block_cache.h"

void *cg_block_cache_take(cg_block_cache *c, size_t n) {
  void *p = NULL;
  pthread_mutex_lock(&c->mu);
  for (int i = 0; i < c->n; i++)
    if (c->slot[i].n == n) {
      p = c->slot[i].p;
      c->bytes -= n;
      c->slot[i] = c->slot[--c->n];
      break;
    }
  pthread_mutex_unlock(&c->mu);
  return p;
}

int cg_block_cache_put(cg_block_cache *c, void *p, size_t n) {
  int kept = 0;
  pthread_mutex_lock(&c->mu);
  if (c->n < CG_BLOCK_SLOTS && c->bytes + n <= c->limit) {
    c->slot[c->n].p = p;
    c->slot[c->n++].n = n;
    c->bytes += n;
    kept = 1;
  }
  pthread_mutex_unlock(&c->mu);
  return kept;
}

int cg_block_cache_drain(cg_block_cache *c, void (*release)(void *p, size_t n)) {
  pthread_mutex_lock(&c->mu);
  int n = c->n;
  for (int i = 0; i < c->n; i++) release(c->slot[i].p, c->slot[i].n);
  c->n = 0;
  c->bytes = 0;
  pthread_mutex_unlock(&c->mu);
  return n;
}
