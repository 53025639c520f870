/* Files in the kernel cache directory (CACHEDIR): compiled kernels survive the process. */
#ifndef CG_DISK_CACHE_H
#define CG_DISK_CACHE_H
#include <stddef.h>
#include <stdint.h>

int cg_mkdirs(const char *path);                      /* mkdir -p; 0 or -1 */
/* CACHEDIR/<prefix>-<key hex><suffix> into out */
void cg_cache_path(char *out, size_t n, const char *prefix, uint64_t key, const char *suffix);
char *cg_cache_read(const char *path, size_t *size);  /* whole file (malloc'd) or NULL */
/* write through a temporary file and rename, so readers never see half a file; 0 or -1 */
int cg_cache_write(const char *path, const void *data, size_t size);
#endif
