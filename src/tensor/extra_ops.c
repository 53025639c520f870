/* Python's integer // and %, and ops whose results depend on the data (nonzero, masked_select:
   their sizes are read back from the device first, as in every framework). */
#include <math.h>
#include <stdlib.h>
#include "tensor.h"

/* floor division: truncate, then step down when the signs differ and there is a remainder */
static cg_tensor *floordiv_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (cg_dtype_is_float(cg_promote(a->u->dtype, b->u->dtype))) return cg_floor(cg_div(a, b));
  cg_tensor *q = cg_idiv(a, b), *r = cg_mod(a, b);
  CG_CHECK(q, r);
  cg_tensor *zero = cg_scalar_like(r, 0);
  cg_tensor *adjust = cg_and(cg_ne(r, zero), cg_ne(cg_lt(r, zero), cg_lt(cg_cast(b, r->u->dtype), zero)));
  return cg_sub(q, cg_cast(adjust, q->u->dtype));
}
cg_tensor *cg_floordiv(cg_tensor *a, cg_tensor *b) { SCOPED(floordiv_impl(a, b)); }

/* a - floor(a / b) * b: the remainder takes b's sign */
static cg_tensor *floormod_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (cg_dtype_is_float(cg_promote(a->u->dtype, b->u->dtype))) return cg_sub(a, cg_mul(cg_floor(cg_div(a, b)), b));
  cg_tensor *r = cg_mod(a, b);
  CG_CHECK(r);
  cg_tensor *zero = cg_scalar_like(r, 0), *bb = cg_cast(b, r->u->dtype);
  cg_tensor *adjust = cg_and(cg_ne(r, zero), cg_ne(cg_lt(r, zero), cg_lt(bb, zero)));
  return cg_where(adjust, cg_add(r, bb), r);
}
cg_tensor *cg_floormod(cg_tensor *a, cg_tensor *b) { SCOPED(floormod_impl(a, b)); }

static cg_tensor *eye_nm_impl(int64_t n, int64_t m, cg_dtype dt) {
  if (n < 0 || m < 0) {
    cg_set_error("eye: negative size");
    return NULL;
  }
  cg_tensor *i = cg_reshape(cg_arange(0, (double)n, 1, CG_I32), CG_SHAPE(n, 1));
  cg_tensor *j = cg_reshape(cg_arange(0, (double)m, 1, CG_I32), CG_SHAPE(1, m));
  return cg_cast(cg_eq(i, j), dt);
}
cg_tensor *cg_eye_nm(int64_t n, int64_t m, cg_dtype dt) { SCOPED(eye_nm_impl(n, m, dt)); }

/* log(cumsum(exp(x))) shifted by the axis maximum for range */
static cg_tensor *logcumsumexp_impl(cg_tensor *x, int axis) {
  CG_CHECK(x);
  cg_tensor *m = cg_max(cg_detach(x), CG_AXES(axis), 1);
  CG_CHECK(m);
  m = cg_where(cg_isinf(m), cg_zeros_like(m), m);
  return cg_add(cg_log(cg_cumsum(cg_exp(cg_sub(x, m)), axis)), m);
}
cg_tensor *cg_logcumsumexp(cg_tensor *x, int axis) { SCOPED(logcumsumexp_impl(x, axis)); }

/* torch's unfold: windows of `size` every `step` along axis, as a new last dim */
static cg_tensor *unfold_impl(cg_tensor *x, int axis, int64_t size, int64_t step) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  int64_t n = x->u->shape.d[ax];
  if (size < 1 || step < 1 || size > n || nd + 1 > CG_MAX_DIMS) {
    cg_set_error("unfold: need 1 <= size <= %lld and step >= 1", (long long)n);
    return NULL;
  }
  int64_t count = (n - size) / step + 1;
  if (count > 256) {
    cg_set_error("unfold: at most 256 windows");
    return NULL;
  }
  cg_tensor *w[256];
  for (int64_t k = 0; k < count; k++) {
    w[k] = cg_slice(x, ax, k * step, k * step + size, 1); /* (.., size, ..) */
    cg_axes order = {nd, {0}};                             /* move the window dim last */
    for (int i = 0, j = 0; i < nd; i++)
      if (i != ax) order.v[j++] = i;
    order.v[nd - 1] = ax;
    w[k] = cg_permute(w[k], order);
    CG_CHECK(w[k]);
  }
  return cg_stack(w, (int)count, ax);
}
cg_tensor *cg_unfold(cg_tensor *x, int axis, int64_t size, int64_t step) { SCOPED(unfold_impl(x, axis, size, step)); }

/* (count, ndim) int32 coordinates of the nonzero elements, row-major order */
static cg_tensor *nonzero_impl(cg_tensor *x) {
  CG_CHECK(x);
  int64_t n = cg_numel(x);
  cg_shape s = cg_get_shape(x);
  unsigned char *nz = malloc(n ? (size_t)n : 1);
  cg_tensor *mask = cg_cast(cg_ne(x, cg_scalar_like(x, 0)), CG_BOOL);
  if (!nz || !mask || cg_to_data(mask, nz, (size_t)n) != 0) { free(nz); return NULL; }
  int64_t count = 0;
  for (int64_t i = 0; i < n; i++) count += nz[i] != 0;
  int nd = s.ndim ? s.ndim : 1;
  int32_t *coords = malloc(sizeof(int32_t) * (size_t)(count * nd + 1));
  int64_t k = 0;
  for (int64_t i = 0; i < n && coords; i++) {
    if (!nz[i]) continue;
    int64_t rest = i;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t size = s.ndim ? s.d[d] : 1;
      coords[k * nd + d] = (int32_t)(rest % size);
      rest /= size;
    }
    k++;
  }
  cg_tensor *r = coords ? cg_from_data(coords, CG_I32, CG_SHAPE(count, nd), cg_get_device(x)) : NULL;
  free(coords);
  free(nz);
  return r;
}
cg_tensor *cg_nonzero(cg_tensor *x) { SCOPED(nonzero_impl(x)); }

/* 1-D tensor of x's elements where mask (broadcast to x) is true */
static cg_tensor *masked_select_impl(cg_tensor *x, cg_tensor *mask) {
  CG_CHECK(x, mask);
  cg_tensor *m = cg_cast(mask, CG_BOOL), *xx = x;
  if (tbroadcast(&xx, &m)) return NULL;
  cg_tensor *flat = cg_reshape(xx, CG_SHAPE(-1)), *pos = cg_nonzero(cg_reshape(m, CG_SHAPE(-1)));
  CG_CHECK(flat, pos);
  return cg_index_select(flat, 0, cg_reshape(pos, CG_SHAPE(-1)));
}
cg_tensor *cg_masked_select(cg_tensor *x, cg_tensor *mask) { SCOPED(masked_select_impl(x, mask)); }

/* samples from each row of (unnormalized) probabilities: inverse CDF with replacement, Gumbel
   top-k without */
static cg_tensor *multinomial_impl(cg_tensor *p, int64_t k, int replacement) {
  CG_CHECK(p);
  int nd = p->u->shape.ndim;
  if (nd < 1 || nd > 2 || k < 1 || (!replacement && k > p->u->shape.d[nd - 1])) {
    cg_set_error("multinomial: 1-D or 2-D probabilities and 1 <= num_samples (<= classes without replacement)");
    return NULL;
  }
  cg_tensor *w = nd == 1 ? cg_reshape(p, CG_SHAPE(1, p->u->shape.d[0])) : p;
  int64_t rows = w->u->shape.d[0], c = w->u->shape.d[1];
  w = cg_cast(w, CG_F32);
  cg_tensor *r;
  if (replacement) {
    cg_tensor *cdf = cg_cumsum(cg_div(w, cg_sum(w, CG_AXES(1), 1)), 1);   /* (rows, c) */
    cg_tensor *u = cg_rand(CG_SHAPE(rows, k, 1), CG_F32);
    cg_tensor *below = cg_lt(cg_reshape(cdf, CG_SHAPE(rows, 1, c)), u);  /* (rows, k, c) */
    r = cg_sum(cg_cast(below, CG_I32), CG_AXES(2), 0);
    r = cg_minimum(r, tconst_like(r, (double)(c - 1), CG_I32));
  } else {
    cg_tensor *g = cg_neg(cg_log(cg_neg(cg_log(cg_add_s(cg_rand(CG_SHAPE(rows, c), CG_F32), 1e-20)))));
    cg_tensor *idx = NULL, *v = cg_topk(cg_add(cg_log(w), g), k, 1, 1, &idx);
    CG_CHECK(v);
    r = idx;
  }
  return nd == 1 ? cg_reshape(r, CG_SHAPE(k)) : r;
}
cg_tensor *cg_multinomial(cg_tensor *p, int64_t num_samples, int replacement) { SCOPED(multinomial_impl(p, num_samples, replacement)); }
