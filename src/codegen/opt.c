/* Heuristic optimizations on the lowered kernel graph. Both the C backend and the interpreter
   run the optimized program, so opts never change which results the two backends agree on.

   UNROLL of a reduce: the innermost reduce range r (size N) becomes r1*K + u, with u an UPCAST
   range of K lanes, each lane its own accumulator. The C compiler may not reorder a float sum,
   so K independent accumulators are what lets it use vector registers and hide add latency. */
#include <stdio.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/rewrite.h"
#include "opt.h"

typedef struct { uop *from, *to; } subst;

static uop *substitute_rule(uop_ctx *c, uop *u, void *ctx) {
  (void)c;
  subst *s = ctx;
  return u == s->from ? s->to : NULL;
}

static uop *substitute(uop_ctx *c, uop *root, uop *from, uop *to) {
  subst s = {from, to};
  cg_rule r = substitute_rule;
  return graph_rewrite(c, root, &r, 1, &s);
}

static int lanes_for(int dtype) { return cg_dtype_size(dtype) >= 8 ? 8 : 16; }

typedef struct { cg_lowered *l; int applied; } unroller;

static uop *unroll_reduce(uop_ctx *c, uop *u, void *ctx) {
  unroller *un = ctx;
  if (u->op != OP_REDUCE || u->src[u->nsrc - 1]->ival2 != RANGE_REDUCE) return NULL;
  uop *r = u->src[u->nsrc - 1];
  int64_t n = r->vmax + 1, k = lanes_for(u->dtype);
  if (r->src[0]->op != OP_CONST || n % k || n < 2 * k || u->nsrc + 1 > 9) return NULL;
  cg_lowered *l = un->l;
  uop *e1 = uop_const_int(c, CG_I64, n / k), *ek = uop_const_int(c, CG_I64, k);
  uop *r1 = uop_new(c, OP_RANGE, CG_I64, &e1, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_REDUCE}, NULL);
  uop *lane = uop_new(c, OP_RANGE, CG_I64, &ek, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_UPCAST}, NULL);
  uop *idx = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, r1, ek), lane);
  uop *src[10];
  src[0] = cg_simplify(c, substitute(c, u->src[0], r, idx));
  for (int i = 1; i < u->nsrc - 1; i++) src[i] = u->src[i];
  src[u->nsrc - 1] = r1;
  src[u->nsrc] = lane;
  un->applied++;
  return uop_new(c, OP_REDUCE, u->dtype, src, u->nsrc + 1, (uop_arg){.ival = u->ival}, NULL);
}

void cg_optimize(cg_lowered *l) {
  l->opts[0] = 0;
  if (cg_env_get()->noopt) return;
  unroller un = {l, 0};
  cg_rule r = unroll_reduce;
  l->sink = graph_rewrite(l->c, l->sink, &r, 1, &un);
  if (un.applied) snprintf(l->opts, sizeof l->opts, "UNROLL reduce x%d lanes (%d reduces)",
                           lanes_for(l->param_dtype[0]), un.applied);
}

void cg_opt_describe(const cg_lowered *l, cg_sbuf *out) {
  cg_sbuf_printf(out, "opts: %s (%d output loops)\n", l->opts[0] ? l->opts : "none", l->nglobal);
}
