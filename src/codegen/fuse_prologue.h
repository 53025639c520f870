/* A copy run inside its reader's thread loop, slab by slab, into a scratch array (CPU, INTERP). */
#ifndef CG_FUSE_PROLOGUE_H
#define CG_FUSE_PROLOGUE_H
#include "program.h"

/* The program running `prod` (a copy kernel: no reduce) inside `cons`'s thread loop, each
   iteration's slab of prod's output in a local param that takes the place of cons's param
   `slab_param` (which prod's output was); prod's inputs become params after cons's. NULL where
   the two do not fit (see fuse_prologue.c). Not rendered. */
cg_program *cg_fuse_prologue(const cg_program *prod, const cg_program *cons, int slab_param);
#endif
