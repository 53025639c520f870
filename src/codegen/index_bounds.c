/* Facts about a linearized program's loops and integer values: trip counts and index bounds by
   interval arithmetic. fuse_prologue.c proves a copy's slabs with the bounds, prefetch.c sizes the
   next slab's prefetch with them. */
#include <stdlib.h>
#include "../base/base.h"
#include "../ir/uop.h"
#include "render.h"

int64_t cg_loop_trip(const cg_program *p, int r) {
  const cg_inst *e = &p->ins[p->ins[r].src[0]];
  return e->op == OP_CONST ? e->ival : -1;
}

cg_interval *cg_index_bounds(const cg_program *p, int zero) {
  cg_interval *iv = cg_xcalloc((size_t)p->nins + 1, sizeof *iv);
  for (int i = 0; i < p->nins; i++) {
    const cg_inst *in = &p->ins[i];
    cg_interval a = in->nsrc > 0 ? iv[in->src[0]] : (cg_interval){0}, b = in->nsrc > 1 ? iv[in->src[1]] : (cg_interval){0};
    int64_t t = in->op == OP_RANGE ? cg_loop_trip(p, i) : 0, x[4];
    if (in->op == OP_CONST && in->dtype == CG_I64) iv[i] = (cg_interval){in->ival, in->ival, 1};
    else if (in->op == OP_RANGE && t > 0) iv[i] = (cg_interval){0, i == zero ? 0 : t - 1, 1};
    else if (in->op == OP_ADD && in->dtype == CG_I64 && a.ok && b.ok &&
             !__builtin_add_overflow(a.lo, b.lo, &x[0]) && !__builtin_add_overflow(a.hi, b.hi, &x[1]))
      iv[i] = (cg_interval){x[0], x[1], 1};
    else if (in->op == OP_MUL && in->dtype == CG_I64 && a.ok && b.ok && !__builtin_mul_overflow(a.lo, b.lo, &x[0]) &&
             !__builtin_mul_overflow(a.lo, b.hi, &x[1]) && !__builtin_mul_overflow(a.hi, b.lo, &x[2]) &&
             !__builtin_mul_overflow(a.hi, b.hi, &x[3])) {
      cg_interval r = {x[0], x[0], 1};
      for (int k = 1; k < 4; k++) r.lo = x[k] < r.lo ? x[k] : r.lo, r.hi = x[k] > r.hi ? x[k] : r.hi;
      iv[i] = r;
    } else if ((in->op == OP_IDIV || in->op == OP_MOD) && in->dtype == CG_I64 && a.ok && b.ok && a.lo >= 0 &&
               b.lo == b.hi && b.lo > 0) { /* SQUARE's q / s and q % s (src/codegen/opt.c) */
      int64_t c = b.lo;
      iv[i] = in->op == OP_IDIV ? (cg_interval){a.lo / c, a.hi / c, 1}
              : a.hi / c == a.lo / c ? (cg_interval){a.lo % c, a.hi % c, 1} : (cg_interval){0, c - 1, 1};
    }
  }
  return iv;
}
