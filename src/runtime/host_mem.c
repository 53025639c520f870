/* Host memory shared by the CPU and interpreter backends: 64-byte aligned for vector loads. */
#include <stdlib.h>
#include <string.h>
#include "host_mem.h"

void *cg_host_alloc(size_t n) {
  void *p = NULL;
  size_t sz = (n + 63) & ~(size_t)63;
  if (posix_memalign(&p, 64, sz ? sz : 64)) return NULL;
  return p;
}
void cg_host_free(void *p) { free(p); }
int cg_host_copy(void *dst, const void *src, size_t n) {
  if (n) memcpy(dst, src, n);
  return 0;
}
