#ifndef CG_HOST_MEM_H
#define CG_HOST_MEM_H
#include <stddef.h>
void *cg_host_alloc(size_t n);
void cg_host_free(void *p);
int cg_host_copy(void *dst, const void *src, size_t n);
#endif
