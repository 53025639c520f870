#ifndef CG_KERNEL_CACHE_H
#define CG_KERNEL_CACHE_H
#include <stdint.h>
#include "engine.h"
void *cg_kernel_cache_get(int dev, uint64_t key);
void cg_kernel_cache_put(int dev, uint64_t key, void *handle);
#endif
