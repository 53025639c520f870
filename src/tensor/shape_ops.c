/* More views and layout helpers composed from movement ops. */
#include <math.h>
#include "tensor.h"

/* split dim `axis` into the dims of `sizes` (one may be -1) */
static cg_tensor *unflatten_impl(cg_tensor *a, int axis, cg_shape sizes) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  if (nd - 1 + sizes.ndim > CG_MAX_DIMS) {
    cg_set_error("unflatten: too many dimensions");
    return NULL;
  }
  cg_shape s = {0, {0}, {0}};
  for (int i = 0; i < nd; i++) {
    if (i != ax) { s.d[s.ndim++] = a->u->shape.d[i]; continue; }
    int64_t known = 1;
    int infer = -1;
    for (int j = 0; j < sizes.ndim; j++) {
      if (sizes.d[j] == -1) infer = s.ndim;
      else known *= sizes.d[j];
      s.d[s.ndim++] = sizes.d[j];
    }
    if (infer >= 0) s.d[infer] = known ? a->u->shape.d[i] / known : 0;
  }
  return cg_reshape(a, s);
}
cg_tensor *cg_unflatten(cg_tensor *a, int axis, cg_shape sizes) { SCOPED(unflatten_impl(a, axis, sizes)); }

/* each element repeated `repeats` times along axis: (.., n, ..) -> (.., n, r, ..) -> merge */
static cg_tensor *repeat_interleave_impl(cg_tensor *a, int64_t repeats, int axis) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  if (repeats < 0 || nd + 1 > CG_MAX_DIMS) {
    cg_set_error("repeat_interleave: repeats must be >= 0");
    return NULL;
  }
  cg_shape s = a->u->shape, grown = {nd + 1, {0}, {0}}, out = s;
  for (int i = 0, j = 0; i < nd; i++) {
    grown.d[j++] = s.d[i];
    if (i == ax) grown.d[j++] = repeats;
  }
  cg_shape ones = grown;
  ones.d[ax + 1] = 1;
  out.d[ax] = s.d[ax] * repeats;
  return cg_reshape(cg_expand(cg_reshape(a, ones), grown), out);
}
cg_tensor *cg_repeat_interleave(cg_tensor *a, int64_t repeats, int axis) { SCOPED(repeat_interleave_impl(a, repeats, axis)); }

/* 1-D -> square matrix with it on the diagonal `k` */
static cg_tensor *diag_impl(cg_tensor *a, int64_t k) {
  CG_CHECK(a);
  if (a->u->shape.ndim != 1) {
    cg_set_error("diag: needs a 1-D tensor");
    return NULL;
  }
  int64_t n = a->u->shape.d[0], m = n + (k < 0 ? -k : k);
  cg_tensor *i = cg_reshape(cg_arange(0, (double)m, 1, CG_I32), CG_SHAPE(m, 1));
  cg_tensor *j = cg_reshape(cg_arange(0, (double)m, 1, CG_I32), CG_SHAPE(1, m));
  cg_tensor *on = cg_eq(cg_add_s(i, (double)k), j);
  int64_t pad[1][2] = {{k < 0 ? -k : 0, k > 0 ? k : 0}}; /* row i holds a[i] (k >= 0) or a[i+k] */
  cg_tensor *row = cg_reshape(cg_pad(a, pad, 1, 0), CG_SHAPE(m, 1));
  return cg_where(on, row, cg_scalar_like(a, 0));
}
cg_tensor *cg_diag(cg_tensor *a, int64_t k) { SCOPED(diag_impl(a, k)); }

/* the main diagonal of the last two dims: a strided view (pad a column, reshape, take column 0) */
static cg_tensor *diagonal_impl(cg_tensor *a) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim;
  if (nd < 2) {
    cg_set_error("diagonal: needs at least 2 dimensions");
    return NULL;
  }
  int64_t r = a->u->shape.d[nd - 2], c = a->u->shape.d[nd - 1], n = r < c ? r : c;
  int64_t sh[CG_MAX_DIMS][2];
  for (int i = 0; i < nd; i++) sh[i][0] = 0, sh[i][1] = a->u->shape.d[i];
  sh[nd - 2][1] = n;
  sh[nd - 1][1] = n;
  cg_tensor *sq = cg_shrink(a, sh, nd); /* (.., n, n) */
  CG_CHECK(sq);
  if (n == 0) return cg_reshape(sq, (cg_shape){nd - 1, {0}, {0}});
  cg_shape flat = sq->u->shape;
  flat.ndim = nd - 1;
  flat.d[nd - 2] = n * n;
  int64_t pad[CG_MAX_DIMS][2] = {{0}};
  pad[nd - 2][1] = n; /* n*n + n = n*(n+1): row i starts at i*(n+1), the diagonal element */
  cg_tensor *p = cg_pad(cg_reshape(sq, flat), pad, nd - 1, 0);
  cg_shape split = flat;
  split.ndim = nd;
  split.d[nd - 2] = n;
  split.d[nd - 1] = n + 1;
  int64_t take[CG_MAX_DIMS][2];
  for (int i = 0; i < nd; i++) take[i][0] = 0, take[i][1] = split.d[i];
  take[nd - 1][1] = 1;
  cg_shape out = split;
  out.ndim = nd - 1;
  return cg_reshape(cg_shrink(cg_reshape(p, split), take, nd), out);
}
cg_tensor *cg_diagonal(cg_tensor *a) { SCOPED(diagonal_impl(a)); }

/* |a - b| <= atol + rtol * |b| (NaNs equal if equal_nan) */
static cg_tensor *isclose_impl(cg_tensor *a, cg_tensor *b, double rtol, double atol, int equal_nan) {
  CG_CHECK(a, b);
  /* d <= tol as IEEE does it (false for NaN), not as !(tol < d) */
  cg_tensor *d = cg_abs(cg_sub(a, b)), *tol = cg_add_s(cg_mul_s(cg_abs(b), rtol), atol);
  cg_tensor *close = cg_or(cg_lt(d, tol), cg_eq(d, tol));
  close = cg_or(close, cg_eq(a, b)); /* infinities */
  if (equal_nan) close = cg_or(close, cg_and(cg_isnan(a), cg_isnan(b)));
  return close;
}
cg_tensor *cg_isclose(cg_tensor *a, cg_tensor *b, double rtol, double atol, int equal_nan) {
  SCOPED(isclose_impl(a, b, rtol, atol, equal_nan));
}

static cg_tensor *randperm_impl(int64_t n, cg_dtype dt) {
  if (n < 0) {
    cg_set_error("randperm: negative size");
    return NULL;
  }
  return cg_cast(cg_argsort(cg_rand(CG_SHAPE(n), CG_F32), 0, 0), dt);
}
cg_tensor *cg_randperm(int64_t n, cg_dtype dt) { SCOPED(randperm_impl(n, dt)); }

/* grids of n 1-D tensors, "ij" indexing; fills out[0..n) */
int cg_meshgrid(cg_tensor **ts, int n, cg_tensor **out) {
  if (n <= 0 || n > CG_MAX_DIMS || !ts || !out) {
    cg_set_error("meshgrid: 1 to %d tensors", CG_MAX_DIMS);
    return -1;
  }
  cg_shape full = {n, {0}, {0}};
  for (int i = 0; i < n; i++) {
    if (!ts[i] || ts[i]->u->shape.ndim != 1) {
      cg_set_error("meshgrid: every input must be 1-D");
      return -1;
    }
    full.d[i] = ts[i]->u->shape.d[0];
  }
  for (int i = 0; i < n; i++) {
    cg_shape s = full;
    for (int j = 0; j < n; j++) s.d[j] = j == i ? full.d[j] : 1;
    out[i] = cg_expand(cg_reshape(ts[i], s), full);
    if (!out[i]) return -1;
  }
  return 0;
}
