/* Reverse-mode autograd over the tensor graph. Each primitive has one gradient rule (written with
   cg_* ops, so the backward graph is lazy and fuses like the forward one); every composed op
   differentiates for free. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "tensor.h"

/* Tensors marked with cg_set_requires_grad, for cg_backward to fill (the front end's registry,
   like tinygrad's set of live tensors), and the no-grad switch. */
static cg_tensor **targets;
static int ntargets, cap_targets;
static _Thread_local int grad_off;

int grad_enabled(void) { return !grad_off; }

int cg_set_grad_enabled(int on) {
  int prev = !grad_off;
  grad_off = !on;
  return prev;
}

void autograd_forget(cg_tensor *t) {
  for (int i = 0; i < ntargets; i++)
    if (targets[i] == t) { targets[i] = targets[--ntargets]; break; }
  if (!ntargets) { free(targets); targets = NULL; cap_targets = 0; }
}

int autograd_targets(cg_tensor *const **out) {
  *out = targets;
  return ntargets;
}

int cg_requires_grad(const cg_tensor *t) { return t && (t->requires_grad || t->u->needs_grad); }

int cg_set_requires_grad(cg_tensor *t, int on) {
  if (!t) return -1;
  if (on && !cg_dtype_is_float(t->u->dtype)) {
    cg_set_error("requires_grad: only float tensors can have gradients (got %s)", cg_dtype_name(t->u->dtype));
    return -1;
  }
  if (!on) {
    if (t->requires_grad) {
      autograd_forget(t);
      if (t->u->op == OP_BUFFER) t->u->needs_grad = 0; /* its own leaf: nothing flows from it now */
    }
    t->requires_grad = 0;
    return 0;
  }
  if (t->requires_grad) return 0;
  /* a gradient target must be its own node: realize it into a buffer of its own */
  if (t->u->op != OP_BUFFER && cg_realize(t) != 0) return -1;
  t->u->needs_grad = 1;
  t->requires_grad = 1;
  if (ntargets == cap_targets) {
    cap_targets = cap_targets ? cap_targets * 2 : 16;
    targets = cg_xrealloc(targets, cap_targets * sizeof *targets);
  }
  targets[ntargets++] = t;
  return 0;
}

cg_tensor *cg_grad(const cg_tensor *t) { return t ? t->grad : NULL; }

void cg_zero_grad(cg_tensor *t) {
  if (!t || !t->grad) return;
  cg_tensor *g = t->grad;
  t->grad = NULL;
  uop_unref(g->u);
  free(g);
}

cg_tensor *cg_detach(cg_tensor *t) {
  CG_CHECK(t);
  return tmake(OP_DETACH, t->u->dtype, &t->u, 1, (uop_arg){0}, t->u->shape);
}

cg_tensor *with_grad_rule(cg_tensor *value, cg_tensor *const *inputs, int n, const grad_rule *rule,
                          const int64_t *params, int nparams) {
  CG_CHECK(value);
  uop *src[3] = {value->u};
  int need = 0;
  for (int i = 0; i < n; i++) {
    CG_CHECK(inputs[i]);
    src[1 + i] = inputs[i]->u;
    need |= inputs[i]->u->needs_grad;
  }
  if (!need || !grad_enabled()) return value;
  uop_arg a = {.ptr = (void *)rule, .v = params, .nv = nparams};
  return tmake(OP_GRAD_FN, value->u->dtype, src, 1 + n, a, value->u->shape);
}

/* ---- the gradient rules ---- */
static cg_tensor *T(uop *u) { return tensor_wrap(uop_ref(u)); }
static cg_tensor *fc(cg_tensor *like, double v) { return tconst_like(like, v, like->u->dtype); }

static cg_tensor *sum_to(cg_tensor *g, cg_shape shape) { /* undo an EXPAND: sum the grown axes */
  cg_axes ax = {0, {0}};
  for (int i = 0; i < shape.ndim; i++)
    if (shape.d[i] == 1 && !shape.var[i] && (g->u->shape.d[i] != 1 || g->u->shape.var[i])) ax.v[ax.n++] = i;
  return ax.n ? cg_sum(g, ax, 1) : g;
}

static cg_axes reduced_axes(const uop *u) {
  cg_axes ax = {0, {0}};
  for (int i = 0; i < u->nv; i++)
    if (u->v[i]) ax.v[ax.n++] = i;
  return ax;
}

/* Gradients of u's sources given g = d loss / d u; d[i] stays NULL where none flows. */
static void rule(uop *u, cg_tensor *g, cg_tensor **d) {
  cg_tensor *x = u->nsrc > 0 ? T(u->src[0]) : NULL, *y = u->nsrc > 1 ? T(u->src[1]) : NULL;
  cg_tensor *out = T(u);
  switch (u->op) {
  case OP_ADD: d[0] = g; d[1] = g; break;
  case OP_MUL: d[0] = cg_mul(g, y); d[1] = cg_mul(g, x); break;
  case OP_NEG: d[0] = cg_neg(g); break;
  case OP_RECIP: d[0] = cg_neg(cg_mul(g, cg_mul(out, out))); break;
  case OP_SQRT: d[0] = cg_div(g, cg_mul_s(out, 2)); break;
  case OP_EXP2: d[0] = cg_mul(g, cg_mul(out, fc(out, M_LN2))); break;
  case OP_LOG2: d[0] = cg_div(g, cg_mul(x, fc(x, M_LN2))); break;
  case OP_SIN: d[0] = cg_mul(g, cg_cos(x)); break;
  case OP_MAX: { /* ties share the gradient, as tinygrad does */
    cg_tensor *half = cg_mul_s(g, 0.5), *zero = cg_zeros(CG_SCALAR_SHAPE, g->u->dtype);
    zero = cg_to(zero, cg_get_device(g));
    cg_tensor *tie = cg_eq(x, y);
    d[0] = cg_where(cg_gt(x, y), g, cg_where(tie, half, zero));
    d[1] = cg_where(cg_lt(x, y), g, cg_where(tie, half, zero));
    break;
  }
  case OP_WHERE: {
    cg_tensor *zero = cg_full_like(g, 0), *c = x;
    d[1] = cg_where(c, g, zero);
    d[2] = cg_where(c, zero, g);
    break;
  }
  case OP_CAST: if (cg_dtype_is_float(u->src[0]->dtype)) d[0] = cg_cast(g, u->src[0]->dtype); break;
  case OP_CONTIGUOUS: d[0] = g; break;
  case OP_COPY: d[0] = cg_to(g, cg_get_device(x)); break;
  case OP_RESHAPE: d[0] = cg_reshape(g, u->src[0]->shape); break;
  case OP_PERMUTE: {
    cg_axes inv = {(int)u->nv, {0}};
    for (int i = 0; i < u->nv; i++) inv.v[u->v[i]] = i;
    d[0] = cg_permute(g, inv);
    break;
  }
  case OP_EXPAND: d[0] = sum_to(g, u->src[0]->shape); break;
  case OP_PAD: case OP_SHRINK: {
    int nd = u->src[0]->shape.ndim;
    int64_t p[CG_MAX_DIMS][2];
    for (int i = 0; i < nd; i++) {
      int64_t a = u->v[2 * i], b = u->v[2 * i + 1], n = u->src[0]->shape.d[i];
      if (u->op == OP_PAD) p[i][0] = a, p[i][1] = a + n;        /* shrink back */
      else p[i][0] = a, p[i][1] = n - b;                        /* pad back */
    }
    d[0] = u->op == OP_PAD ? cg_shrink(g, p, nd) : cg_pad(g, p, nd, 0);
    break;
  }
  case OP_FLIP: {
    cg_axes ax = {0, {0}};
    for (int i = 0; i < u->nv; i++)
      if (u->v[i]) ax.v[ax.n++] = i;
    d[0] = cg_flip(g, ax);
    break;
  }
  case OP_REDUCE_AXIS: {
    cg_shape in = u->src[0]->shape;
    if (u->ival == OP_ADD) d[0] = cg_expand(g, in);
    else if (u->ival == OP_MUL) { /* prod of the others: out/x, or the product of the nonzero
                                     ones where x is the only zero, else 0 */
      cg_axes ax = reduced_axes(u);
      cg_tensor *zero = cg_zeros_like(x), *is0 = cg_eq(x, zero);
      cg_tensor *nz = cg_prod(cg_where(is0, cg_ones_like(x), x), ax, 1);
      cg_tensor *zeros = cg_sum(cg_cast(is0, CG_I32), ax, 1);
      cg_tensor *one_zero = cg_expand(cg_eq(zeros, tconst_like(zeros, 1, CG_I32)), in);
      cg_tensor *others = cg_where(is0, cg_where(one_zero, cg_expand(nz, in), zero), cg_div(cg_expand(out, in), x));
      d[0] = cg_mul(cg_expand(g, in), others);
    }
    else { /* MAX: split among the elements equal to the max */
      cg_tensor *hit = cg_cast(cg_eq(x, cg_expand(out, in)), g->u->dtype);
      cg_tensor *count = cg_sum(hit, reduced_axes(u), 1);
      d[0] = cg_mul(hit, cg_expand(cg_div(g, count), in));
    }
    break;
  }
  case OP_GRAD_FN: ((const grad_rule *)u->ptr)->backward(u, g, d); break;
  default: break; /* comparisons, bit ops, integer math, leaves: no gradient */
  }
}

/* ---- graph walk ---- */
typedef struct { uop **order; int n, cap; cg_ptrmap seen; } topo;

static void visit(topo *t, uop *u) {
  if (!u->needs_grad || cg_ptrmap_get(&t->seen, u)) return;
  cg_ptrmap_put(&t->seen, u, (void *)1);
  for (int i = 0; i < u->nsrc; i++) visit(t, u->src[i]);
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 64;
    t->order = cg_xrealloc(t->order, t->cap * sizeof(uop *));
  }
  t->order[t->n++] = u;
}

/* Fill grads (node -> gradient tensor, in the current scope) for everything loss depends on. */
static int propagate(cg_tensor *loss, cg_ptrmap *grads) {
  if (cg_numel(loss) != 1) {
    cg_set_error("backward: the loss must have exactly one element, not %lld", (long long)cg_numel(loss));
    return -1;
  }
  if (!loss->u->needs_grad) {
    cg_set_error("backward: the loss does not depend on any tensor that requires grad");
    return -1;
  }
  topo t = {0};
  visit(&t, loss->u);
  cg_ptrmap_put(grads, loss->u, cg_full_like(loss, 1));
  int rc = 0;
  for (int i = t.n - 1; i >= 0 && !rc; i--) {
    uop *u = t.order[i];
    cg_tensor *g = cg_ptrmap_get(grads, u), *d[3] = {0};
    if (!g) continue;
    rule(u, g, d);
    for (int k = 0; k < u->nsrc && k < 3; k++) {
      if (!d[k] || !u->src[k]->needs_grad) continue;
      cg_tensor *prev = cg_ptrmap_get(grads, u->src[k]);
      cg_tensor *sum = prev ? cg_add(prev, d[k]) : d[k];
      if (!sum) { rc = -1; break; }
      cg_ptrmap_put(grads, u->src[k], sum);
    }
  }
  cg_ptrmap_free(&t.seen);
  free(t.order);
  return rc;
}

int cg_backward(cg_tensor *loss) {
  if (!loss) return -1;
  int was = cg_set_grad_enabled(0); /* the backward graph itself needs no gradients */
  cg_scope_push();
  cg_ptrmap grads = {0};
  int rc = propagate(loss, &grads);
  for (int i = 0; i < ntargets && !rc; i++) {
    cg_tensor *t = targets[i], *g = cg_ptrmap_get(&grads, t->u);
    if (!g) continue;
    if (t->grad) g = cg_add(T(t->grad->u), g);
    if (!g) { rc = -1; break; }
    cg_zero_grad(t);
    t->grad = tensor_wrap_owned(uop_ref(g->u));
  }
  cg_ptrmap_free(&grads);
  cg_scope_pop();
  cg_set_grad_enabled(was);
  return rc;
}

int cg_gradient(cg_tensor *loss, cg_tensor **ts, int n, cg_tensor **out) {
  if (!loss || n < 0 || (n && (!ts || !out))) return -1;
  for (int i = 0; i < n; i++) {
    out[i] = NULL;
    if (!ts[i]) return -1;
  }
  int was = cg_set_grad_enabled(0);
  cg_scope_push();
  cg_ptrmap grads = {0};
  int rc = propagate(loss, &grads);
  for (int i = 0; i < n && !rc; i++) {
    cg_tensor *g = cg_ptrmap_get(&grads, ts[i]->u);
    out[i] = g ? T(g->u) : cg_full_like(ts[i], 0); /* a handle of its own per target */
    if (!out[i]) rc = -1;
    else cg_keep(out[i]);
  }
  cg_ptrmap_free(&grads);
  cg_scope_pop();
  cg_set_grad_enabled(was);
  return rc;
}
