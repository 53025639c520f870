/* graph_rewrite: bottom-up, memoized, to a fixed point. */
#include "rewrite.h"

typedef struct {
  uop_ctx *c;
  const cg_rule *rules;
  int nrules;
  void *rctx;
  cg_ptrmap memo;
} rewriter;

uop *uop_replace_src(uop_ctx *c, uop *u, uop *const *src, int nsrc) {
  uop_arg a = {u->ival, u->ival2, u->fval, u->nv, u->v, u->ptr};
  return uop_new(c, u->op, u->dtype, src, nsrc, a, &u->shape);
}

typedef struct { uop *from, *to; } subst;

static uop *substitute_rule(uop_ctx *c, uop *u, void *ctx) {
  (void)c;
  subst *s = ctx;
  return u == s->from ? s->to : NULL;
}

uop *uop_substitute(uop_ctx *c, uop *root, uop *from, uop *to) {
  subst s = {from, to};
  cg_rule r = substitute_rule;
  return graph_rewrite(c, root, &r, 1, &s);
}

static uop *rewrite_node(rewriter *r, uop *u, int depth) {
  uop *done = cg_ptrmap_get(&r->memo, u);
  if (done) return done;
  uop *src[256];
  int changed = 0;
  for (int i = 0; i < u->nsrc; i++) {
    src[i] = rewrite_node(r, u->src[i], depth + 1);
    changed |= src[i] != u->src[i];
  }
  uop *x = changed ? uop_replace_src(r->c, u, src, u->nsrc) : u;
  for (int iter = 0; iter < 1000; iter++) {
    uop *y = NULL;
    for (int k = 0; k < r->nrules && !y; k++) {
      y = r->rules[k](r->c, x, r->rctx);
      if (y == x) y = NULL;
    }
    if (!y) break;
    x = depth < 2000 ? rewrite_node(r, y, depth + 1) : y;
  }
  cg_ptrmap_put(&r->memo, u, x);
  if (x != u) cg_ptrmap_put(&r->memo, x, x);
  return x;
}

uop *graph_rewrite(uop_ctx *c, uop *root, const cg_rule *rules, int nrules, void *rctx) {
  rewriter r = {c, rules, nrules, rctx, {0}};
  uop *out = rewrite_node(&r, root, 0);
  cg_ptrmap_free(&r.memo);
  return out;
}

uop *cg_simplify(uop_ctx *c, uop *root) {
  return graph_rewrite(c, root, cg_symbolic_rules, cg_symbolic_nrules, NULL);
}
