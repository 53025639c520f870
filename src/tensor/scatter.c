/* Index-driven ops written as compare-and-reduce (tinygrad's way): an index tensor becomes a
   one-hot mask against arange(n), and selecting or scattering is a masked sum. No data-dependent
   addressing reaches the kernels, so everything fuses and differentiates. */
#include <math.h>
#include "tensor.h"

static cg_tensor *wrap_negative(cg_tensor *idx, int64_t n) { /* Python's negative indices */
  cg_tensor *i = cg_cast(idx, CG_I32);
  return cg_where(cg_lt(i, cg_scalar_like(i, 0)), cg_add_s(i, (double)n), i);
}

static int check_index(cg_tensor *idx, const char *who) {
  if (idx && !cg_dtype_is_int(idx->u->dtype)) {
    cg_set_error("%s: indices must be an integer tensor, got %s", who, cg_dtype_name(idx->u->dtype));
    return 0;
  }
  return idx != NULL;
}

/* x.index_select(axis, idx) for idx of any shape: out = x[..., idx, ...] */
static cg_tensor *index_select_impl(cg_tensor *x, int axis, cg_tensor *idx) {
  CG_CHECK(x, idx);
  if (!check_index(idx, "index")) return NULL;
  int nd = x->u->shape.ndim, ax = norm_axis(axis, nd), ni = idx->u->shape.ndim;
  if (ax < 0) return NULL;
  if (nd + ni > CG_MAX_DIMS) {
    cg_set_error("index: the result would have more than %d dimensions", CG_MAX_DIMS);
    return NULL;
  }
  int64_t n = x->u->shape.d[ax];
  /* x as (pre, 1.., n, post): idx dims go where axis was, n becomes the last reduced axis */
  cg_shape xs = {0, {0}, {0}}, is = {0, {0}, {0}};
  for (int i = 0; i < ax; i++) xs.d[xs.ndim++] = x->u->shape.d[i], is.d[is.ndim++] = 1;
  for (int i = 0; i < ni; i++) xs.d[xs.ndim++] = 1, is.d[is.ndim++] = idx->u->shape.d[i];
  xs.d[xs.ndim++] = n;
  is.d[is.ndim++] = 1;
  for (int i = ax + 1; i < nd; i++) xs.d[xs.ndim++] = x->u->shape.d[i], is.d[is.ndim++] = 1;
  cg_shape ar = is;
  for (int i = 0; i < ar.ndim; i++) ar.d[i] = 1;
  ar.d[ax + ni] = n;
  cg_tensor *hit = cg_eq(cg_reshape(wrap_negative(idx, n), is), cg_reshape(cg_arange(0, (double)n, 1, CG_I32), ar));
  cg_tensor *sel = cg_where(hit, cg_reshape(x, xs), cg_scalar_like(x, 0));
  cg_tensor *r = cg_sum(sel, CG_AXES(ax + ni), 0);
  return x->u->dtype == CG_BOOL ? cg_cast(r, CG_BOOL) : cg_cast(r, x->u->dtype);
}
cg_tensor *cg_index_select(cg_tensor *x, int axis, cg_tensor *idx) { SCOPED(index_select_impl(x, axis, idx)); }

/* ---- scatter: torch semantics along dim d ---- */
typedef struct { cg_tensor *hit, *mask, *vals; int d; } scatter_parts;

/* mask[..., p_d, k, ...] = index[..., p_d, ...] == k (k over x's size at d), values alongside */
static int scatter_setup(cg_tensor *x, int dim, cg_tensor *index, cg_tensor *src, scatter_parts *sp) {
  int nd = x->u->shape.ndim, d = norm_axis(dim, nd);
  if (d < 0 || !check_index(index, "scatter")) return -1;
  if (index->u->shape.ndim != nd || src->u->shape.ndim != nd || nd + 1 > CG_MAX_DIMS) {
    cg_set_error("scatter: index and src need the same number of dimensions as the input");
    return -1;
  }
  int64_t region[CG_MAX_DIMS][2];
  for (int i = 0; i < nd; i++) {
    int64_t ii = index->u->shape.d[i];
    if (ii > src->u->shape.d[i] || (i != d && ii > x->u->shape.d[i])) {
      cg_set_error("scatter: index dim %d (%lld) exceeds src or input", i, (long long)ii);
      return -1;
    }
    region[i][0] = 0;
    region[i][1] = ii;
  }
  int64_t n = x->u->shape.d[d];
  cg_shape ext = index->u->shape; /* (…, I_d, 1, …) with the k axis after d */
  for (int i = nd; i > d + 1; i--) ext.d[i] = ext.d[i - 1];
  ext.d[d + 1] = 1;
  ext.ndim = nd + 1;
  cg_shape ks = {nd + 1, {0}, {0}};
  for (int i = 0; i <= nd; i++) ks.d[i] = 1;
  ks.d[d + 1] = n;
  sp->mask = cg_eq(cg_reshape(wrap_negative(index, n), ext), cg_reshape(cg_arange(0, (double)n, 1, CG_I32), ks));
  sp->vals = cg_reshape(cg_shrink(cg_cast(src, x->u->dtype), region, nd), ext);
  sp->d = d;
  sp->hit = cg_max(cg_cast(sp->mask, CG_I32), CG_AXES(d), 0); /* any index lands here */
  return sp->mask && sp->vals && sp->hit ? 0 : -1;
}

/* grow a (…, n, …) reduction over index positions to x's shape (no hit outside the index) */
static cg_tensor *to_input_shape(cg_tensor *t, cg_tensor *x, double fill) {
  int nd = x->u->shape.ndim;
  int64_t pad[CG_MAX_DIMS][2];
  for (int i = 0; i < nd; i++) pad[i][0] = 0, pad[i][1] = x->u->shape.d[i] - t->u->shape.d[i];
  return cg_pad(t, pad, nd, fill);
}

enum { RED_NONE, RED_SUM, RED_PROD, RED_AMAX, RED_AMIN, RED_MEAN };

static cg_tensor *scatter_reduce_impl(cg_tensor *x, int dim, cg_tensor *index, cg_tensor *src, int red, int include_self) {
  CG_CHECK(x, index, src);
  if (red < RED_NONE || red > RED_MEAN) {
    cg_set_error("scatter_reduce: unknown reduction %d", red);
    return NULL;
  }
  scatter_parts sp;
  if (scatter_setup(x, dim, index, src, &sp)) return NULL;
  cg_tensor *hit = cg_ne(to_input_shape(sp.hit, x, 0), tconst_like(x, 0, CG_I32)), *r;
  int d = sp.d;
  cg_tensor *zero = cg_scalar_like(x, 0);
  double lowest = cg_dtype_is_float(x->u->dtype) ? -INFINITY : -9.2e18;
  switch (red) {
  case RED_PROD: {
    cg_tensor *p = to_input_shape(cg_prod(cg_where(sp.mask, sp.vals, cg_scalar_like(x, 1)), CG_AXES(d), 0), x, 1);
    r = include_self ? cg_mul(x, p) : p;
    break;
  }
  case RED_AMAX: case RED_AMIN: {
    cg_tensor *v = red == RED_AMAX ? sp.vals : cg_neg(sp.vals);
    cg_tensor *m = to_input_shape(cg_max(cg_where(sp.mask, v, cg_scalar_like(x, lowest)), CG_AXES(d), 0), x, 0);
    if (red == RED_AMIN) m = cg_neg(m);
    r = !include_self ? m : red == RED_AMAX ? cg_maximum(x, m) : cg_minimum(x, m);
    break;
  }
  default: { /* NONE and SUM add the values landing on a spot; NONE replaces x there */
    cg_tensor *s = to_input_shape(cg_sum(cg_where(sp.mask, sp.vals, zero), CG_AXES(d), 0), x, 0);
    s = cg_cast(s, x->u->dtype);
    if (red == RED_MEAN) {
      cg_tensor *cnt = to_input_shape(cg_sum(cg_cast(sp.mask, CG_I32), CG_AXES(d), 0), x, 0);
      cg_tensor *num = include_self ? cg_add(s, x) : s;
      cg_tensor *den = cg_cast(include_self ? cg_add_s(cnt, 1) : cnt, x->u->dtype);
      r = cg_dtype_is_float(x->u->dtype) ? cg_div(num, den) : cg_idiv(num, den);
    } else {
      r = (red == RED_SUM && include_self) ? cg_add(x, s) : s;
    }
  }
  }
  return cg_where(hit, cg_cast(r, x->u->dtype), x);
}
cg_tensor *cg_scatter_reduce(cg_tensor *x, int dim, cg_tensor *index, cg_tensor *src, int reduce, int include_self) {
  SCOPED(scatter_reduce_impl(x, dim, index, src, reduce, include_self));
}
cg_tensor *cg_scatter(cg_tensor *x, int dim, cg_tensor *index, cg_tensor *src) {
  SCOPED(scatter_reduce_impl(x, dim, index, src, RED_NONE, 0));
}
