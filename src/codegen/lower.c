/* Lowering a kernel: evaluate the tensor graph "at an index". value(node, idx, valid) returns the
   kernel-graph expression for node's element at index vector idx, where valid is the condition
   under which that element is actually read (padding makes some reads invalid). */
#include <stdlib.h>
#include <string.h>
#include "../ir/rewrite.h"
#include "../tensor/tensor.h"
#include "lower.h"

typedef struct {
  cg_schedule *s;
  uop *root;
  cg_lowered *out;
  uop_ctx *c;
  cg_ptrmap memo;       /* key node (see memo_key) -> value */
  cg_ptrmap params;     /* stored tensor node -> PARAM node */
  int next_range;
  int failed;
} lowerer;

static uop *idx_const(lowerer *L, int64_t v) { return uop_const_int(L->c, CG_I64, v); }
static uop *add(lowerer *L, uop *a, uop *b) { return uop_alu(L->c, OP_ADD, a->dtype, a, b); }
static uop *mul(lowerer *L, uop *a, uop *b) { return uop_alu(L->c, OP_MUL, a->dtype, a, b); }
static uop *land(lowerer *L, uop *a, uop *b) {
  if (!a) return b;
  if (!b) return a;
  return uop_alu(L->c, OP_AND, CG_BOOL, a, b);
}

static uop *var_node(lowerer *L, cg_variable *v, int dtype) {
  cg_lowered *o = L->out;
  int k = 0;
  while (k < o->nvars && o->vars[k] != v) k++;
  if (k == o->nvars) {
    if (o->nvars == 16) {
      cg_set_error("kernel reads more than 16 variables");
      L->failed = 1;
      return idx_const(L, 0);
    }
    o->vars[o->nvars++] = v;
  }
  uop_arg a = {.ival = v->min, .ival2 = v->max, .ptr = v};
  return uop_new(L->c, OP_DEFINE_VAR, dtype, NULL, 0, a, NULL);
}

/* a loop over dim i of shape s: to a constant, or to a variable's value */
static uop *new_range(lowerer *L, cg_shape s, int i, int kind) {
  uop *end = s.var[i] ? var_node(L, s.var[i], CG_I64) : idx_const(L, s.d[i]);
  uop_arg a = {.ival = L->next_range++, .ival2 = kind};
  return uop_new(L->c, OP_RANGE, CG_I64, &end, 1, a, NULL);
}

static int unit_dim(cg_shape s, int i) { return s.d[i] == 1 && !s.var[i]; }

/* row-major linear index of idx within shape */
static uop *linear_index(lowerer *L, uop **idx, cg_shape shape) {
  uop *lin = idx_const(L, 0);
  int64_t stride = 1;
  for (int i = shape.ndim - 1; i >= 0; i--) {
    if (shape.d[i] != 1) lin = add(L, lin, mul(L, idx[i], idx_const(L, stride)));
    stride *= shape.d[i];
  }
  return lin;
}

static uop *memo_key(lowerer *L, uop *node, uop **idx, int n, uop *valid) {
  uop *src[CG_MAX_DIMS + 1];
  memcpy(src, idx, n * sizeof(uop *));
  int ns = n;
  if (valid) src[ns++] = valid;
  return uop_new(L->c, OP_SINK, valid ? 1 : 0, src, ns, (uop_arg){.ival = -1, .ptr = node}, NULL);
}

static uop *value(lowerer *L, uop *node, uop **idx, uop *valid);

static uop *param_for(lowerer *L, uop *node) {
  uop *p = cg_ptrmap_get(&L->params, node);
  if (p) return p;
  cg_lowered *o = L->out;
  if (o->nparams >= 64) {
    cg_set_error("kernel reads more than 63 buffers");
    L->failed = 1;
    return NULL;
  }
  int k = o->nparams++;
  o->param_slot[k] = cg_schedule_slot(L->s, node);
  o->param_dtype[k] = node->dtype;
  o->param_numel[k] = shape_numel(node->shape);
  p = uop_new(L->c, OP_PARAM, node->dtype, NULL, 0, (uop_arg){.ival = k}, NULL);
  cg_ptrmap_put(&L->params, node, p);
  return p;
}

/* the index stays inside the buffer wherever it is evaluated (its bounds, from the ranges) */
static int always_in_bounds(const uop *index, cg_shape shape) {
  int64_t n = 1;
  for (int i = 0; i < shape.ndim; i++) {
    if (shape.var[i]) return 0;
    n *= shape.d[i];
  }
  return index->vmin >= 0 && index->vmax < n;
}

/* A load under padding is gated by `valid` so that it never reads outside its buffer; the pad
   itself selects 0 outside (lower_pad's WHERE), so a load that cannot leave its buffer (a
   per-channel vector next to a padded image) loads ungated: no condition per element, and a
   loop-invariant one is hoisted out of the loops it does not use. */
static uop *load(lowerer *L, uop *node, uop **idx, uop *valid) {
  uop *p = param_for(L, node);
  if (!p) return idx_const(L, 0);
  uop *src[3] = {p, linear_index(L, idx, node->shape), valid};
  if (valid && always_in_bounds(src[1], node->shape)) valid = NULL;
  return uop_new(L->c, OP_LOAD, node->dtype, src, valid ? 3 : 2, (uop_arg){0}, NULL);
}

/* A reshape that only adds or removes size-1 dims maps indices one to one: no linear index,
   so no div/mod (which would not simplify for the negative indices padding produces). */
static int unit_only_reshape(cg_shape in, cg_shape out, int *map) {
  int j = 0;
  for (int i = 0; i < in.ndim; i++) {
    map[i] = -1;
    if (in.d[i] == 1 && !in.var[i]) continue;
    while (j < out.ndim && out.d[j] == 1 && !out.var[j]) j++;
    if (j == out.ndim || out.d[j] != in.d[i] || out.var[j] != in.var[i]) return 0;
    map[i] = j++;
  }
  while (j < out.ndim && out.d[j] == 1 && !out.var[j]) j++;
  return j == out.ndim;
}

static uop *lower_reshape(lowerer *L, uop *node, uop **idx, uop *valid) {
  cg_shape in = node->src[0]->shape;
  uop *nidx[CG_MAX_DIMS];
  int map[CG_MAX_DIMS];
  if (unit_only_reshape(in, node->shape, map)) {
    for (int i = 0; i < in.ndim; i++) nidx[i] = map[i] < 0 ? idx_const(L, 0) : idx[map[i]];
    return value(L, node->src[0], nidx, valid);
  }
  uop *lin = linear_index(L, idx, node->shape);
  int64_t stride = 1;
  for (int i = in.ndim - 1; i >= 0; i--) {
    uop *q = stride == 1 ? lin : uop_alu(L->c, OP_IDIV, CG_I64, lin, idx_const(L, stride));
    nidx[i] = in.d[i] == 1 ? idx_const(L, 0)
              : i == 0      ? q
                            : uop_alu(L->c, OP_MOD, CG_I64, q, idx_const(L, in.d[i]));
    stride *= in.d[i];
  }
  return value(L, node->src[0], nidx, valid);
}

static uop *lower_pad(lowerer *L, uop *node, uop **idx, uop *valid) {
  cg_shape in = node->src[0]->shape;
  uop *nidx[CG_MAX_DIMS], *inside = NULL;
  for (int i = 0; i < in.ndim; i++) {
    int64_t before = node->v[2 * i], after = node->v[2 * i + 1];
    nidx[i] = before ? add(L, idx[i], idx_const(L, -before)) : idx[i];
    if (before) { /* idx >= before  <=>  !(idx < before) */
      uop *lt = uop_alu(L->c, OP_CMPLT, CG_BOOL, idx[i], idx_const(L, before));
      inside = land(L, inside, uop_alu(L->c, OP_CMPNE, CG_BOOL, lt, uop_const_int(L->c, CG_BOOL, 1)));
    }
    if (after)
      inside = land(L, inside, uop_alu(L->c, OP_CMPLT, CG_BOOL, idx[i], idx_const(L, before + in.d[i])));
  }
  uop *v = value(L, node->src[0], nidx, land(L, valid, inside));
  if (!inside) return v;
  uop *zero = cg_dtype_is_float(node->dtype) ? uop_const_float(L->c, node->dtype, 0)
                                             : uop_const_int(L->c, node->dtype, 0);
  return uop_where(L->c, inside, v, zero);
}

static uop *lower_reduce(lowerer *L, uop *node, uop **idx, uop *valid) {
  cg_shape in = node->src[0]->shape;
  uop *nidx[CG_MAX_DIMS], *src[CG_MAX_DIMS + 1];
  int n = 1;
  for (int i = 0; i < in.ndim; i++) {
    if (!node->v[i]) { nidx[i] = idx[i]; continue; }
    if (unit_dim(in, i)) { nidx[i] = idx_const(L, 0); continue; }
    nidx[i] = src[n++] = new_range(L, in, i, RANGE_REDUCE);
  }
  src[0] = value(L, node->src[0], nidx, valid);
  if (n == 1) return src[0];
  return uop_new(L->c, OP_REDUCE, node->dtype, src, n, (uop_arg){.ival = node->ival}, NULL);
}

static uop *lower_movement(lowerer *L, uop *node, uop **idx, uop *valid) {
  cg_shape in = node->src[0]->shape;
  uop *nidx[CG_MAX_DIMS];
  switch (node->op) {
  case OP_RESHAPE: return lower_reshape(L, node, idx, valid);
  case OP_PAD: return lower_pad(L, node, idx, valid);
  case OP_PERMUTE:
    for (int i = 0; i < in.ndim; i++) nidx[node->v[i]] = idx[i];
    break;
  case OP_EXPAND:
    for (int i = 0; i < in.ndim; i++) nidx[i] = unit_dim(in, i) ? idx_const(L, 0) : idx[i];
    break;
  case OP_SHRINK:
    for (int i = 0; i < in.ndim; i++)
      nidx[i] = node->v[2 * i] ? add(L, idx[i], idx_const(L, node->v[2 * i])) : idx[i];
    break;
  case OP_FLIP:
    for (int i = 0; i < in.ndim; i++)
      nidx[i] = node->v[i] ? add(L, idx_const(L, in.d[i] - 1), mul(L, idx[i], idx_const(L, -1)))
                           : idx[i];
    break;
  }
  return value(L, node->src[0], nidx, valid);
}

static uop *lower_leaf(lowerer *L, uop *node, uop **idx) {
  switch (node->op) {
  case OP_CONST:
    return cg_dtype_is_float(node->dtype) ? uop_const_float(L->c, node->dtype, node->fval)
                                          : uop_const_int(L->c, node->dtype, node->ival);
  case OP_IOTA: return uop_alu(L->c, OP_CAST, node->dtype, idx[0], NULL);
  default: return var_node(L, node->ptr, node->dtype); /* DEFINE_VAR */
  }
}

static uop *value(lowerer *L, uop *node, uop **idx, uop *valid) {
  if (node != L->root && (node->op == OP_BUFFER || node->realized || cg_schedule_slot(L->s, node) >= 0))
    return load(L, node, idx, valid); /* the scheduler gave every stored node a slot */
  uop *key = memo_key(L, node, idx, node->shape.ndim, valid);
  uop *hit = cg_ptrmap_get(&L->memo, key);
  if (hit) return hit;
  uop *r, *src[3];
  if (node->op == OP_CONST || node->op == OP_IOTA || node->op == OP_DEFINE_VAR) r = lower_leaf(L, node, idx);
  else if (cg_op_is_movement(node->op)) r = lower_movement(L, node, idx, valid);
  else if (node->op == OP_REDUCE_AXIS) r = lower_reduce(L, node, idx, valid);
  else if (node->op == OP_CONTIGUOUS || node->op == OP_DETACH || node->op == OP_GRAD_FN) r = value(L, node->src[0], idx, valid);
  else {
    for (int i = 0; i < node->nsrc; i++) src[i] = value(L, node->src[i], idx, valid);
    r = uop_new(L->c, node->op, node->dtype, src, node->nsrc, (uop_arg){0}, NULL);
  }
  cg_ptrmap_put(&L->memo, key, r);
  return r;
}

int cg_lower(cg_schedule *s, cg_sched_item *it, cg_lowered *out) {
  memset(out, 0, sizeof *out);
  lowerer L = {.s = s, .root = it->root, .out = out, .c = uop_arena_new()};
  out->c = L.c;
  uop *root = it->root;
  param_for(&L, root); /* parameter 0: the output */
  uop *idx[CG_MAX_DIMS];
  for (int i = 0; i < root->shape.ndim; i++) {
    if (unit_dim(root->shape, i)) { idx[i] = idx_const(&L, 0); continue; }
    out->global_size[out->nglobal] = root->shape.d[i];
    idx[i] = out->global_range[out->nglobal++] = new_range(&L, root->shape, i, RANGE_GLOBAL);
  }
  uop *v = value(&L, root, idx, NULL);
  uop *src[3] = {cg_ptrmap_get(&L.params, root), linear_index(&L, idx, root->shape), v};
  uop *store = uop_new(L.c, OP_STORE, root->dtype, src, 3, (uop_arg){0}, NULL);
  out->sink = cg_simplify(L.c, uop_new(L.c, OP_SINK, 0, &store, 1, (uop_arg){0}, NULL));
  out->next_range = L.next_range;
  out->tile_dim = -1;
  cg_ptrmap_free(&L.memo);
  cg_ptrmap_free(&L.params);
  it->nins = out->nparams - 1;
  free(it->ins); /* lowered again (BEAM candidates, NVRTC_CHECK): same parameters */
  it->ins = cg_xmalloc((out->nparams) * sizeof(int));
  for (int i = 1; i < out->nparams; i++) it->ins[i - 1] = out->param_slot[i];
  if (L.failed) { cg_lowered_free(out); return -1; }
  return 0;
}

void cg_lowered_free(cg_lowered *l) {
  uop_arena_free(l->c);
  l->c = NULL;
}
