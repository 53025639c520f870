/* Optimizations on a lowered kernel's range structure (UPCAST, UNROLL, THREAD...), chosen by
   heuristics per kernel; NOOPT=1 turns them off. */
#ifndef CG_OPT_H
#define CG_OPT_H
#include "lower.h"

void cg_optimize(cg_lowered *l);
/* The GPU's opts: 4 consecutive elements per thread (elementwise) or per reduce step, for
   16-byte vector loads and stores. */
void cg_optimize_gpu(cg_lowered *l);
/* One line per applied opt, for DEBUG=3. */
void cg_opt_describe(const cg_lowered *l, cg_sbuf *out);
#endif
