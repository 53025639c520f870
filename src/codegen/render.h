/* Renderers: print a program as source in a C-family dialect. */
#ifndef CG_RENDER_H
#define CG_RENDER_H
#include "program.h"

/* C for the CPU backend: `void NAME(void **bufs, const long long *vars, long long start,
   long long end)`, where [start, end) is this thread's share of the outermost loop. */
char *cg_render_c(const cg_program *p);
#endif
