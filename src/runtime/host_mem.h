/* Host memory for the CPU and interpreter backends. */
#ifndef CG_HOST_MEM_H
#define CG_HOST_MEM_H
#include <stddef.h>
void *cg_host_alloc(size_t n);            /* 64-byte aligned; NULL when out of memory */
void cg_host_free(void *p, size_t n);     /* n: the size it was allocated with */
int cg_host_copy(void *dst, const void *src, size_t n);
void cg_host_cache_clear(void);           /* return cached blocks to the system */
#endif
