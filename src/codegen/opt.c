/* Heuristic optimizations. */
#include "opt.h"

void cg_optimize(cg_lowered *l) { (void)l; }

void cg_opt_describe(const cg_lowered *l, cg_sbuf *out) {
  cg_sbuf_printf(out, "opts: none (%d output loops)\n", l->nglobal);
}
