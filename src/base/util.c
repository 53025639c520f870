/* Small containers: hashing, pointer map, string builder, checked allocation, clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base.h"

uint64_t cg_hash_bytes(const void *p, size_t n, uint64_t seed) {
  const unsigned char *c = p;
  uint64_t h = 1469598103934665603ULL ^ seed; /* FNV-1a, then a final mix */
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ULL;
  return cg_hash_mix(h, n);
}

static size_t ptr_slot(const void *k, size_t cap) {
  return (size_t)cg_hash_mix(0, (uint64_t)(uintptr_t)k) & (cap - 1);
}

void *cg_ptrmap_get(const cg_ptrmap *m, const void *key) {
  if (!m->cap) return NULL;
  for (size_t i = ptr_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return m->vals[i];
    if (!m->keys[i]) return NULL;
  }
}

static void ptrmap_grow(cg_ptrmap *m) {
  cg_ptrmap n = {cg_xcalloc(m->cap ? m->cap * 2 : 64, sizeof(void *)), NULL,
                 m->cap ? m->cap * 2 : 64, 0};
  n.vals = cg_xcalloc(n.cap, sizeof(void *));
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i]) cg_ptrmap_put(&n, m->keys[i], m->vals[i]);
  cg_ptrmap_free(m);
  *m = n;
}

void cg_ptrmap_put(cg_ptrmap *m, const void *key, void *val) {
  if ((m->len + 1) * 2 > m->cap) ptrmap_grow(m);
  for (size_t i = ptr_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) { m->vals[i] = val; return; }
    if (!m->keys[i]) { m->keys[i] = key; m->vals[i] = val; m->len++; return; }
  }
}

void cg_ptrmap_free(cg_ptrmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

static void sbuf_reserve(cg_sbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  b->cap = (b->len + extra + 1) * 2;
  b->s = cg_xrealloc(b->s, b->cap);
}

/* format straight into the free space; only a result that does not fit is formatted twice
   (rendering kernels is on every realize's path) */
void cg_sbuf_printf(cg_sbuf *b, const char *fmt, ...) {
  sbuf_reserve(b, 256);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= b->cap - b->len) {
    sbuf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, n + 1, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
}

void cg_sbuf_puts(cg_sbuf *b, const char *text) {
  size_t n = strlen(text);
  sbuf_reserve(b, n);
  memcpy(b->s + b->len, text, n + 1);
  b->len += n;
}

void cg_sbuf_free(cg_sbuf *b) {
  free(b->s);
  memset(b, 0, sizeof *b);
}

double cg_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *check(void *p) {
  if (!p) { fprintf(stderr, "cgrad: out of host memory\n"); abort(); }
  return p;
}
void *cg_xmalloc(size_t n) { return check(malloc(n ? n : 1)); }
void *cg_xcalloc(size_t n, size_t sz) { return check(calloc(n ? n : 1, sz ? sz : 1)); }
void *cg_xrealloc(void *p, size_t n) { return check(realloc(p, n ? n : 1)); }
char *cg_xstrdup(const char *s) { return check(strdup(s)); }
