/* The device table: every backend is a row of function pointers; buffers are refcounted. */
#ifndef CG_DEVICE_H
#define CG_DEVICE_H
#include <stddef.h>
#include <stdint.h>
#include "../codegen/program.h"
#include "../codegen/render.h"

typedef struct cg_device cg_device;
typedef struct {
  int dev;                 /* index in the device table */
  void *ptr;
  size_t nbytes;
  int refcnt;
  int version;             /* bumped by each assignment: a new BUFFER node per content */
} cg_buffer;

struct cg_device {
  const char *name;
  int (*available)(void);                      /* 1 if this backend can run here */
  void *(*alloc)(size_t nbytes);               /* NULL when out of memory */
  void (*free)(void *p, size_t nbytes);
  int (*copyin)(void *dst, const void *src, size_t n);   /* host -> device */
  int (*copyout)(void *dst, const void *src, size_t n);  /* device -> host */
  int (*copy)(void *dst, const void *src, size_t n);     /* within the device (NULL: via host) */
  /* Turn a program into something launchable; NULL with *err (malloc'd) on failure.
     Must be thread-safe: new kernels compile in parallel. `cached` is set when no compiler ran. */
  void *(*compile)(cg_program *p, char **err, int *cached);
  int (*launch)(void *handle, cg_program *p, void **bufs, const int64_t *vars);
  void (*release)(void *handle);
  /* release a kernel compiled moments ago and delete its disk cache entry (BEAM's losing
     candidates, which no run will load again); NULL: release only */
  void (*discard)(void *handle);
  const cg_dialect *dialect;                   /* NULL: C, with the CPU opts */
  int (*sync)(void);                           /* wait for queued work (NULL: synchronous) */
  int (*select)(int ordinal);                  /* "NAME:N" picks device N (NULL: only 0) */
  double (*kernel_seconds)(void);              /* DEBUG: the last launch's device time; -1 on error */
  /* Hash of what makes this device's kernels and their speed differ (compiler, CPU features), for
     the BEAM cache key; NULL: BEAM does not search on this device. */
  uint64_t (*ident)(void);
  /* Run only iterations [0, n) of the outermost (thread-split) loop: BEAM's cheap first look at a
     candidate (NULL: launches cannot be cut). */
  int (*launch_prefix)(void *handle, cg_program *p, void **bufs, const int64_t *vars, int64_t n);
};

int cg_device_lookup(const char *name);        /* index in the table, or -1 (sets error) */
cg_device *cg_device_get(int idx);
int cg_device_default_index(void);

cg_buffer *cg_buffer_new(int dev, size_t nbytes); /* NULL (and error) when out of memory */
/* Copy n bytes between buffers of any devices (on one device without a trip through the host). */
int cg_buffer_copy(cg_buffer *dst, const cg_buffer *src, size_t n);
void cg_buffer_ref(cg_buffer *b);
void cg_buffer_unref(cg_buffer *b);

extern cg_device cg_device_cpu, cg_device_interp, cg_device_cuda, cg_device_cl;

/* Compile CUDA source with NVRTC for `arch` (e.g. "sm_90") without a GPU; 0, or -1 and *err. */
int cg_nvrtc_check(const char *source, const char *arch, char **err);
#endif
