/* The JIT's capture hooks: realize reports every launch and copy to the capture in progress on
   this thread (if any). */
#ifndef CG_JIT_H
#define CG_JIT_H
#include "../codegen/program.h"
#include "../runtime/device.h"

/* 1 if a capture took ownership of p (the caller must not free it). */
int cg_jit_record_launch(int dev, void *handle, cg_program *p, cg_buffer **args, int nargs);
void cg_jit_record_copy(cg_buffer *src, cg_buffer *dst);
#endif
