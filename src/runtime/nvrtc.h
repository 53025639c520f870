/* NVRTC, loaded with dlopen by soname (any major version): CUDA C source -> CUBIN for one
   architecture. Works without a GPU, so CI compiles every CUDA kernel it renders. */
#ifndef CG_NVRTC_H
#define CG_NVRTC_H
#include <stddef.h>

/* CUBIN bytes (malloc'd, *size set) or NULL with *err (malloc'd: the compiler log). */
char *cg_nvrtc_compile(const char *source, const char *name, const char *arch, int fmad,
                       size_t *size, char **err);
const char *cg_nvrtc_version(void);   /* "13.0", or NULL when NVRTC is not found */
#endif
