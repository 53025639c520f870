/* Sorting by rank: element i's place is the number of elements that must come before it
   (smaller ones, and equal ones with a smaller index: a stable sort). Two fused reductions,
   O(n^2) work per row — simple and exact, right for the row lengths of top-k and argsort in
   models; a bitonic network would be the next step for long rows. */
#include "tensor.h"

/* move axis to the end: returns the permuted tensor and fills the inverse order */
static cg_tensor *axis_last(cg_tensor *a, int ax, cg_axes *inverse) {
  int nd = a->u->shape.ndim;
  cg_axes order = {nd, {0}};
  for (int i = 0, j = 0; i < nd; i++)
    if (i != ax) order.v[j++] = i;
  order.v[nd - 1] = ax;
  inverse->n = nd;
  for (int i = 0; i < nd; i++) inverse->v[order.v[i]] = i;
  return cg_permute(a, order);
}

static cg_shape with_last(cg_shape s, int64_t a, int64_t b) { /* (..., n) -> (..., a, b) */
  s.d[s.ndim - 1] = a;
  s.var[s.ndim - 1] = NULL;
  s.d[s.ndim] = b;
  s.var[s.ndim] = NULL;
  s.ndim++;
  return s;
}

static cg_tensor *sort_impl(cg_tensor *a, int axis, int descending, cg_tensor **indices) {
  CG_CHECK(a);
  if (indices) *indices = NULL;
  int nd = a->u->shape.ndim;
  if (nd == 0 || nd + 1 > CG_MAX_DIMS) {
    cg_set_error("sort: need 1 to %d dimensions", CG_MAX_DIMS - 1);
    return NULL;
  }
  int ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  cg_axes inv;
  cg_tensor *x = axis_last(a, ax, &inv);
  CG_CHECK(x);
  cg_shape s = x->u->shape;
  int64_t n = s.d[nd - 1];
  cg_tensor *xi = cg_reshape(x, with_last(s, n, 1)), *xj = cg_reshape(x, with_last(s, 1, n));
  cg_tensor *idx = cg_arange(0, (double)n, 1, CG_I32);
  cg_tensor *ii = cg_reshape(idx, CG_SHAPE(n, 1)), *jj = cg_reshape(idx, CG_SHAPE(1, n));
  cg_tensor *before = descending ? cg_gt(xj, xi) : cg_lt(xj, xi);
  cg_tensor *tie = cg_and(cg_eq(xj, xi), cg_lt(jj, ii));
  cg_tensor *rank = cg_sum(cg_cast(cg_or(before, tie), CG_I32), CG_AXES(-1), 0); /* (..., n) */
  /* place[..., i, r] = (rank_i == r); the r-th value is the x_i placed there */
  cg_tensor *place = cg_eq(cg_reshape(rank, with_last(s, n, 1)), jj);
  cg_tensor *zero = cg_scalar_like(x, 0);
  cg_tensor *vals = cg_sum(cg_where(place, xi, zero), CG_AXES(-2), 0);
  if (indices) {
    cg_tensor *pos = cg_sum(cg_where(place, cg_cast(ii, CG_I32), tconst_like(x, 0, CG_I32)), CG_AXES(-2), 0);
    *indices = cg_keep(cg_permute(pos, inv));
  }
  if (x->u->dtype == CG_BOOL) vals = cg_cast(vals, CG_BOOL);
  return cg_permute(vals, inv);
}

/* indices (if wanted) are int32 and owned like the result */
cg_tensor *cg_sort(cg_tensor *a, int axis, int descending, cg_tensor **indices) {
  cg_scope_push();
  cg_tensor *r = sort_impl(a, axis, descending, indices);
  cg_keep(r);
  cg_scope_pop(); /* *indices was kept out of this scope by sort_impl */
  return r;
}

cg_tensor *cg_argsort(cg_tensor *a, int axis, int descending) {
  cg_tensor *idx = NULL;
  cg_scope_push();
  cg_tensor *v = sort_impl(a, axis, descending, &idx);
  (void)v;
  cg_scope_pop();
  return idx;
}

static cg_tensor *topk_impl(cg_tensor *a, int64_t k, int axis, int largest, cg_tensor **indices) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  if (k < 0 || k > a->u->shape.d[ax]) {
    cg_set_error("topk: k = %lld is out of range for an axis of size %lld", (long long)k,
                 (long long)a->u->shape.d[ax]);
    return NULL;
  }
  cg_tensor *idx = NULL, *v = cg_sort(a, ax, largest, indices ? &idx : NULL);
  if (indices) *indices = cg_keep(cg_slice(idx, ax, 0, k, 1));
  return cg_slice(v, ax, 0, k, 1);
}
cg_tensor *cg_topk(cg_tensor *a, int64_t k, int axis, int largest, cg_tensor **indices) {
  cg_scope_push();
  cg_tensor *r = topk_impl(a, k, axis, largest, indices);
  cg_keep(r);
  cg_scope_pop();
  return r;
}
