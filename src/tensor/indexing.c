/* Indexing and shape helpers composed in the front end: gather as a one-hot compare and sum,
   triangular masks, running sums, logical reductions, views that add or drop dims, tiling,
   rolling, splitting and nearest/linear resizing. Each composed op's body is its formula. */
#include <math.h>
#include <stdlib.h>
#include "cgrad.h"
#include "tensor.h"


static int room(cg_tensor *x, int extra, const char *who) {
  if (x->u->shape.ndim + extra <= CG_MAX_DIMS) return 1;
  cg_set_error("%s: needs %d more dims than the %d of its input (at most %d)", who, extra,
               x->u->shape.ndim, CG_MAX_DIMS);
  return 0;
}

/* 0, 1, ..., n-1 as int32 on x's device */
static cg_tensor *arange_on(int64_t n, cg_tensor *x) {
  return cg_to(cg_arange(0, (double)n, 1, CG_I32), cg_get_device(x));
}

/* ---- views that add, drop or merge dims ---- */
static cg_tensor *unsqueeze_impl(cg_tensor *x, int axis) {
  CG_CHECK(x);
  int ax = norm_axis(axis, x->u->shape.ndim + 1);
  if (ax < 0 || !room(x, 1, "unsqueeze")) return NULL;
  return cg_reshape(x, shape_splice(x->u->shape, ax, 0, (int64_t[]){1}, 1));
}
cg_tensor *cg_unsqueeze(cg_tensor *x, int axis) { SCOPED(unsqueeze_impl(x, axis)); }

static cg_tensor *squeeze_impl(cg_tensor *x, int axis) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim;
  if (nd == 0 && (axis == 0 || axis == -1)) return cg_reshape(x, x->u->shape);
  int ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  if (x->u->shape.d[ax] != 1 || x->u->shape.var[ax]) return cg_reshape(x, x->u->shape);
  return cg_reshape(x, shape_splice(x->u->shape, ax, 1, NULL, 0));
}
cg_tensor *cg_squeeze(cg_tensor *x, int axis) { SCOPED(squeeze_impl(x, axis)); }

static cg_tensor *flatten_impl(cg_tensor *x, int start, int end) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim;
  if (nd == 0) return cg_reshape(x, CG_SHAPE(1));
  int s = norm_axis(start, nd), e = norm_axis(end, nd);
  if (s < 0 || e < 0) return NULL;
  if (s > e) {
    cg_set_error("flatten: start dim %d comes after end dim %d", start, end);
    return NULL;
  }
  int64_t n = 1;
  for (int i = s; i <= e; i++) n *= x->u->shape.d[i];
  return cg_reshape(x, shape_splice(x->u->shape, s, e - s + 1, &n, 1));
}
cg_tensor *cg_flatten(cg_tensor *x, int start, int end) { SCOPED(flatten_impl(x, start, end)); }

/* tile one axis at a time: (.., d, ..) -> (.., 1, d, ..) -> (.., r, d, ..) -> (.., r*d, ..) */
static cg_tensor *repeat_impl(cg_tensor *x, const int64_t *reps, int n) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim;
  if (!reps || n < nd || n > CG_MAX_DIMS) {
    cg_set_error("repeat: need between %d and %d repeats, got %d", nd, CG_MAX_DIMS, n);
    return NULL;
  }
  cg_shape s = x->u->shape;
  for (int i = 0; i < n - nd; i++) s = shape_splice(s, 0, 0, (int64_t[]){1}, 1);
  x = cg_reshape(x, s);
  for (int i = 0; i < n; i++) {
    if (reps[i] < 0) {
      cg_set_error("repeat: negative count %lld", (long long)reps[i]);
      return NULL;
    }
    if (reps[i] == 1) continue;
    if (!x || !room(x, 1, "repeat")) return NULL;
    cg_shape c = x->u->shape;
    int64_t d = c.d[i];
    x = cg_reshape(x, shape_splice(c, i, 1, (int64_t[]){1, d}, 2));
    x = cg_expand(x, shape_splice(c, i, 1, (int64_t[]){reps[i], d}, 2));
    x = cg_reshape(x, shape_splice(c, i, 1, (int64_t[]){reps[i] * d}, 1));
  }
  return x;
}
cg_tensor *cg_repeat(cg_tensor *x, const int64_t *repeats, int n) { SCOPED(repeat_impl(x, repeats, n)); }

/* the last `shift` elements moved to the front: cat(x[n-shift:], x[:n-shift]) */
static cg_tensor *roll_impl(cg_tensor *x, int64_t shift, int axis) {
  CG_CHECK(x);
  int ax = norm_axis(axis, x->u->shape.ndim);
  if (ax < 0) return NULL;
  int64_t n = x->u->shape.d[ax];
  shift = n ? ((shift % n) + n) % n : 0;
  if (!shift) return cg_reshape(x, x->u->shape);
  cg_tensor *parts[2] = {cg_slice(x, ax, n - shift, CG_END, 1), cg_slice(x, ax, 0, n - shift, 1)};
  return cg_cat(parts, 2, ax);
}
cg_tensor *cg_roll(cg_tensor *x, int64_t shift, int axis) { SCOPED(roll_impl(x, shift, axis)); }

int cg_split(cg_tensor *x, const int64_t *sizes, int n, int axis, cg_tensor **out) {
  if (!x) return -1;
  int ax = norm_axis(axis, x->u->shape.ndim);
  if (ax < 0) return -1;
  int64_t total = 0;
  int negative = 0;
  for (int i = 0; sizes && i < n; i++) {
    negative |= sizes[i] < 0;
    total += sizes[i];
  }
  if (!sizes || !out || n < 1 || negative || total != x->u->shape.d[ax]) {
    cg_set_error("split: %d sizes that are >= 0 and sum to the axis size %lld are needed", n,
                 (long long)x->u->shape.d[ax]);
    return -1;
  }
  cg_scope_push();
  int64_t at = 0;
  int ok = 1;
  for (int i = 0; i < n; i++) {
    out[i] = cg_keep(cg_slice(x, ax, at, at + sizes[i], 1));
    ok &= out[i] != NULL;
    at += sizes[i];
  }
  cg_scope_pop();
  return ok ? n : -1;
}

int cg_chunk(cg_tensor *x, int chunks, int axis, cg_tensor **out) {
  if (!x) return -1;
  int ax = norm_axis(axis, x->u->shape.ndim);
  if (ax < 0) return -1;
  if (chunks < 1) {
    cg_set_error("chunk: need at least 1 chunk, got %d", chunks);
    return -1;
  }
  int64_t len = x->u->shape.d[ax], size = (len + chunks - 1) / chunks, n = size ? (len + size - 1) / size : 1;
  int64_t *sizes = malloc(n * sizeof *sizes);
  if (!sizes) return -1;
  for (int64_t i = 0; i < n; i++) sizes[i] = i + 1 < n ? size : len - size * (n - 1);
  int r = cg_split(x, sizes, (int)n, ax, out);
  free(sizes);
  return r;
}

/* ---- gather and masks ---- */
/* out[.., i, ..] = x[.., index[.., i, ..], ..] along dim: x shrunk to index's shape except along
   dim, moved to a new last axis, and summed where that axis equals the index (one-hot) */
static cg_tensor *gather_impl(cg_tensor *x, int dim, cg_tensor *index) {
  CG_CHECK(x, index);
  cg_shape xs = x->u->shape, is = index->u->shape;
  int nd = xs.ndim, ax = nd ? norm_axis(dim, nd) : -1;
  if (nd == 0 || ax < 0) {
    if (nd == 0) cg_set_error("gather: input needs at least 1 dim");
    return NULL;
  }
  int ok = is.ndim == nd && cg_dtype_is_int(index->u->dtype) && room(x, 1, "gather");
  int64_t arg[CG_MAX_DIMS][2];
  for (int i = 0; ok && i < nd; i++) {
    int same = shape_dim_eq(is, i, xs, i); /* also a shared variable dim */
    ok = i == ax || same || (is.d[i] <= xs.d[i] && !is.var[i] && !xs.var[i]);
    arg[i][0] = 0;
    arg[i][1] = i == ax || same ? xs.d[i] : is.d[i];
  }
  if (!ok) {
    char a[128], b[128];
    shape_str(xs, a, sizeof a);
    shape_str(is, b, sizeof b);
    cg_set_error("gather: index %s %s must be integers with the rank of input %s and no larger "
                 "outside dim %d", cg_dtype_name(index->u->dtype), b, a, dim);
    return NULL;
  }
  cg_tensor *xv = cg_transpose(cg_unsqueeze(cg_shrink(x, arg, nd), -1), -1, ax);
  cg_tensor *hit = cg_eq(cg_unsqueeze(index, -1), arange_on(xs.d[ax], x));
  cg_tensor *picked = cg_where(hit, xv, tconst_like(x, 0, x->u->dtype));
  return cg_cast(cg_sum(picked, CG_AXES(-1), 0), x->u->dtype);
}
cg_tensor *cg_gather(cg_tensor *x, int dim, cg_tensor *index) { SCOPED(gather_impl(x, dim, index)); }

/* keep x where column - row >= diagonal (triu) or column - row <= diagonal (tril) */
static cg_tensor *tri_impl(cg_tensor *x, int64_t diagonal, int upper) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim;
  if (nd < 2) {
    cg_set_error("%s: input needs at least 2 dims", upper ? "triu" : "tril");
    return NULL;
  }
  int64_t r = x->u->shape.d[nd - 2], c = x->u->shape.d[nd - 1];
  cg_tensor *rows = cg_cast(cg_reshape(arange_on(r, x), CG_SHAPE(r, 1)), CG_I64);
  cg_tensor *diff = cg_sub(cg_cast(cg_reshape(arange_on(c, x), CG_SHAPE(1, c)), CG_I64), rows);
  cg_tensor *d = tconst_like(x, (double)diagonal, CG_I64);
  cg_tensor *keep = upper ? cg_ge(diff, d) : cg_le(diff, d);
  return cg_where(keep, x, tconst_like(x, 0, x->u->dtype));
}
static cg_tensor *tril_impl(cg_tensor *x, int64_t diagonal) { return tri_impl(x, diagonal, 0); }
static cg_tensor *triu_impl(cg_tensor *x, int64_t diagonal) { return tri_impl(x, diagonal, 1); }
cg_tensor *cg_tril(cg_tensor *x, int64_t diagonal) { SCOPED(tril_impl(x, diagonal)); }
cg_tensor *cg_triu(cg_tensor *x, int64_t diagonal) { SCOPED(triu_impl(x, diagonal)); }

static cg_tensor *masked_fill_impl(cg_tensor *x, cg_tensor *mask, double value) {
  CG_CHECK(x, mask);
  return cg_where(mask, tconst_like(x, value, x->u->dtype), x);
}
cg_tensor *cg_masked_fill(cg_tensor *x, cg_tensor *mask, double value) { SCOPED(masked_fill_impl(x, mask, value)); }

/* ---- running reductions ---- */
static double identity_of(int op, cg_dtype dt) {
  if (op == OP_ADD) return 0;
  if (op == OP_MUL) return 1;
  if (cg_dtype_is_float(dt)) return -INFINITY;
  if (dt == CG_BOOL || cg_dtype_is_unsigned(dt)) return 0;
  return -ldexp(1, 8 * cg_dtype_size(dt) - 1);
}

static cg_tensor *reduce_op(int op, cg_tensor *x, cg_axes axes) {
  return op == OP_ADD ? cg_sum(x, axes, 0) : op == OP_MUL ? cg_prod(x, axes, 0) : cg_max(x, axes, 0);
}

static cg_tensor *combine(int op, cg_tensor *a, cg_tensor *b) {
  return op == OP_ADD ? cg_add(a, b) : op == OP_MUL ? cg_mul(a, b) : cg_maximum(a, b);
}

/* along the last axis: windows (..., n, n) with [i, j] = x[j] where j <= i (j < i when
   exclusive) and the identity elsewhere, reduced over j */
static cg_tensor *cum_last(int op, cg_tensor *x, int exclusive) {
  CG_CHECK(x);
  int64_t n = x->u->shape.d[x->u->shape.ndim - 1];
  cg_tensor *rows = cg_reshape(arange_on(n, x), CG_SHAPE(n, 1)), *cols = arange_on(n, x);
  cg_tensor *keep = exclusive ? cg_lt(cols, rows) : cg_le(cols, rows);
  cg_tensor *id = tconst_like(x, identity_of(op, x->u->dtype), x->u->dtype);
  return reduce_op(op, cg_where(keep, cg_unsqueeze(x, -2), id), CG_AXES(-1));
}

/* long axes in two stages (tinygrad's _split_cumalu): running op inside blocks of 256, then an
   exclusive running op over the block totals added to every block */
static cg_tensor *cum_split(int op, cg_tensor *x) {
  enum { B = 256 };
  cg_shape s = x->u->shape;
  int64_t n = s.d[s.ndim - 1], nb = (n + B - 1) / B;
  int64_t p[CG_MAX_DIMS][2] = {{0}};
  p[s.ndim - 1][0] = nb * B - n;
  cg_tensor *t = cg_pad(x, p, s.ndim, identity_of(op, x->u->dtype));
  cg_tensor *blocks = cum_last(op, cg_reshape(t, shape_splice(s, s.ndim - 1, 1, (int64_t[]){nb, B}, 2)), 0);
  CG_CHECK(blocks);
  cg_tensor *last = cg_squeeze(cg_slice(blocks, -1, B - 1, B, 1), -1);
  cg_tensor *base = cum_last(op, last, 1);
  CG_CHECK(base);
  cg_tensor *r = combine(op, blocks, cg_expand(cg_unsqueeze(base, -1), blocks->u->shape));
  return cg_slice(cg_flatten(r, -2, -1), -1, nb * B - n, CG_END, 1);
}

static cg_tensor *cumulative(int op, cg_tensor *x, int axis, const char *who) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim;
  if (nd == 0) return cg_reshape(x, x->u->shape);
  int ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  int64_t n = x->u->shape.d[ax];
  if (x->u->shape.var[ax]) {
    cg_set_error("%s: axis %d has a variable size", who, axis);
    return NULL;
  }
  if (n == 0) return cg_reshape(x, x->u->shape);
  if (!room(x, n > 512 ? 2 : 1, who)) return NULL;
  cg_tensor *t = cg_transpose(x, ax, -1);
  return cg_transpose(n > 512 ? cum_split(op, t) : cum_last(op, t, 0), ax, -1);
}
static cg_tensor *cumsum_impl(cg_tensor *x, int axis) { return cumulative(OP_ADD, x, axis, "cumsum"); }
static cg_tensor *cumprod_impl(cg_tensor *x, int axis) { return cumulative(OP_MUL, x, axis, "cumprod"); }
static cg_tensor *cummax_impl(cg_tensor *x, int axis) { return cumulative(OP_MAX, x, axis, "cummax"); }
cg_tensor *cg_cumsum(cg_tensor *x, int axis) { SCOPED(cumsum_impl(x, axis)); }
cg_tensor *cg_cumprod(cg_tensor *x, int axis) { SCOPED(cumprod_impl(x, axis)); }
cg_tensor *cg_cummax(cg_tensor *x, int axis) { SCOPED(cummax_impl(x, axis)); }

/* ---- index and logical reductions ---- */
/* argmax of an order-reversed copy: not for bool, ~x for ints (no overflow), -x for floats */
static cg_tensor *argmin_impl(cg_tensor *x, int axis, int keepdim) {
  CG_CHECK(x);
  cg_dtype dt = x->u->dtype;
  cg_tensor *inv = dt == CG_BOOL ? cg_not(x)
                   : cg_dtype_is_int(dt) ? cg_xor(x, tconst_like(x, -1, dt))
                                         : cg_neg(x);
  return cg_argmax(inv, axis, keepdim);
}
cg_tensor *cg_argmin(cg_tensor *x, int axis, int keepdim) { SCOPED(argmin_impl(x, axis, keepdim)); }

static cg_tensor *truth(cg_tensor *x) {
  return x->u->dtype == CG_BOOL ? x : cg_ne(x, tconst_like(x, 0, x->u->dtype));
}
/* a count of true elements, so an empty reduction is false (max over nothing is not) */
static cg_tensor *any_impl(cg_tensor *x, cg_axes axes, int keepdim) {
  CG_CHECK(x);
  cg_tensor *n = cg_sum(cg_cast(truth(x), CG_I32), axes, keepdim);
  CG_CHECK(n);
  return cg_ne(n, tconst_like(n, 0, CG_I32));
}
static cg_tensor *all_impl(cg_tensor *x, cg_axes axes, int keepdim) {
  CG_CHECK(x);
  return cg_not(cg_any(cg_not(truth(x)), axes, keepdim));
}
cg_tensor *cg_any(cg_tensor *x, cg_axes axes, int keepdim) { SCOPED(any_impl(x, axes, keepdim)); }
cg_tensor *cg_all(cg_tensor *x, cg_axes axes, int keepdim) { SCOPED(all_impl(x, axes, keepdim)); }

/* ---- resizing ---- */
/* x gathered along ax at src (a float32 (out) vector of source positions, >= 0): nearest takes
   floor(src); linear mixes floor and floor+1 (clamped) by the fraction */
static cg_tensor *resample_axis(cg_tensor *x, int ax, cg_tensor *src, int64_t out, int linear) {
  CG_CHECK(x, src);
  cg_shape s = x->u->shape, col = {s.ndim, {0}, {0}};
  int64_t in = s.d[ax];
  for (int i = 0; i < s.ndim; i++) col.d[i] = i == ax ? out : 1;
  cg_shape full = shape_splice(s, ax, 1, &out, 1);
  cg_tensor *lo = cg_minimum(cg_cast(src, CG_I32), tconst_like(x, (double)(in - 1), CG_I32));
  cg_tensor *glo = cg_gather(x, ax, cg_expand(cg_reshape(lo, col), full));
  if (!linear) return glo;
  cg_tensor *hi = cg_minimum(cg_add_s(lo, 1), tconst_like(x, (double)(in - 1), CG_I32));
  cg_tensor *ghi = cg_gather(x, ax, cg_expand(cg_reshape(hi, col), full));
  cg_tensor *frac = cg_reshape(cg_sub(src, cg_cast(lo, CG_F32)), col);
  cg_tensor *one = tconst_like(x, 1, CG_F32);
  return cg_add(cg_mul(glo, cg_sub(one, frac)), cg_mul(ghi, frac));
}

static cg_tensor *interpolate_impl(cg_tensor *x, const int64_t *size, int n, int mode, int align_corners) {
  CG_CHECK(x);
  int nd = x->u->shape.ndim;
  if (!size || n < 1 || n > nd || (mode != CG_INTERP_NEAREST && mode != CG_INTERP_LINEAR) ||
      (align_corners && mode != CG_INTERP_LINEAR)) {
    cg_set_error("interpolate: need 1..%d sizes, mode 0 (nearest) or 1 (linear), align_corners "
                 "only with linear", nd);
    return NULL;
  }
  int linear = mode == CG_INTERP_LINEAR;
  if (linear && !cg_dtype_is_float(x->u->dtype)) x = cg_cast(x, CG_F32);
  for (int j = n - 1; j >= 0; j--) {
    CG_CHECK(x);
    int ax = nd - n + j;
    int64_t in = x->u->shape.d[ax], out = size[j];
    if (out < 1 || in < 1 || x->u->shape.var[ax]) {
      cg_set_error("interpolate: cannot resize a dim of size %lld to %lld", (long long)in, (long long)out);
      return NULL;
    }
    cg_tensor *dst = cg_cast(arange_on(out, x), CG_F32), *src;
    if (linear && align_corners) {
      src = cg_mul_s(dst, out > 1 ? (double)(float)((double)(in - 1) / (double)(out - 1)) : 0);
    } else {
      double scale = (double)(float)((double)in / (double)out);
      src = linear ? cg_maximum(cg_sub_s(cg_mul_s(cg_add_s(dst, 0.5), scale), 0.5), tconst_like(x, 0, CG_F32))
                   : cg_mul_s(dst, scale);
    }
    x = resample_axis(x, ax, src, out, linear);
  }
  return x;
}
cg_tensor *cg_interpolate(cg_tensor *x, const int64_t *size, int n, int mode, int align_corners) {
  SCOPED(interpolate_impl(x, size, n, mode, align_corners));
}
