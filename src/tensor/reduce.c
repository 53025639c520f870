/* Reductions: REDUCE_AXIS (ADD, MUL, MAX) and what is composed from it. */
#include <math.h>
#include "../runtime/device.h"
#include "tensor.h"

/* Accumulate small ints in 32 bits and halfs in float32, as tinygrad and PyTorch do. */
static cg_dtype acc_dtype(cg_dtype dt, int op) {
  if (op == OP_MAX) return dt;
  if (dt == CG_BOOL || dt == CG_I8 || dt == CG_I16) return CG_I32;
  if (dt == CG_U8 || dt == CG_U16) return CG_U32;
  if (dt == CG_F16 || dt == CG_BF16) return CG_F32;
  return dt;
}

static int axes_flags(cg_axes axes, int nd, int64_t *flags) {
  for (int i = 0; i < nd; i++) flags[i] = axes.n < 0;
  for (int i = 0; i < axes.n; i++) {
    int ax = norm_axis(axes.v[i], nd);
    if (ax < 0) return -1;
    flags[ax] = 1;
  }
  return 0;
}

/* A big reduction into few outputs cannot use every core: split the largest reduced axis N into
   (P, N/P), reduce the N/P part into a buffer of P partials per output (P-way parallel), then
   reduce the partials (tinygrad's split_reduceop, and DESIGN's GROUP opt for CPUs). */
static int64_t split_factor(int64_t n) {
  for (int64_t p = 1024; p >= 16; p--)
    if (n % p == 0 && n / p >= 256) return p;
  return 0;
}

static uop *reduce_node(int op, uop *src, const int64_t *flags) {
  cg_shape kept = src->shape;
  for (int i = 0; i < kept.ndim; i++)
    if (flags[i]) shape_set(&kept, i, 1);
  uop_arg arg = {.ival = op, .nv = kept.ndim, .v = flags};
  return tnode(OP_REDUCE_AXIS, src->dtype, &src, 1, arg, kept);
}

/* Adjacent reduced axes merge into one (a reshape), so a full sum of a matrix splits its whole
   length rather than one row axis (coalesced reads, and enough partials for every core). */
static cg_tensor *merge_reduced_axes(cg_tensor *a, const int64_t *flags, int64_t *mflags) {
  cg_shape s = a->u->shape, m = {0, {0}, {0}};
  for (int i = 0; i < s.ndim; i++) {
    if (i > 0 && flags[i] && flags[i - 1]) {
      m.d[m.ndim - 1] *= s.d[i];
      continue;
    }
    mflags[m.ndim] = flags[i];
    m.d[m.ndim++] = s.d[i];
  }
  return m.ndim == s.ndim ? a : cg_reshape(a, m);
}

static cg_tensor *split_reduce(int op, cg_tensor *a, const int64_t *in_flags, cg_shape kept) {
  cg_shape s = a->u->shape;
  int64_t out = shape_numel(kept), total = shape_numel(s), flags[CG_MAX_DIMS];
  if (s.ndim >= CG_MAX_DIMS || out * 64 > total || total < 65536 || out > 1024 || shape_has_var(s))
    return NULL;
  a = merge_reduced_axes(a, in_flags, flags);
  CG_CHECK(a);
  s = a->u->shape;
  int ax = -1;
  for (int i = 0; i < s.ndim; i++)
    if (flags[i] && (ax < 0 || s.d[i] > s.d[ax])) ax = i;
  int64_t p = split_factor(s.d[ax]);
  if (!p) return NULL;
  cg_shape split = {s.ndim + 1, {0}, {0}};
  int64_t f1[CG_MAX_DIMS], f2[CG_MAX_DIMS];
  for (int i = 0, j = 0; i < s.ndim; i++, j++) {
    split.d[j] = i == ax ? p : s.d[i];
    f1[j] = flags[i] && i != ax;
    f2[j] = 0;
    if (i == ax) {
      split.d[++j] = s.d[i] / p;
      f1[j] = 1;
      f2[j - 1] = 1;
      f2[j] = 0;
    }
  }
  cg_tensor *x = cg_reshape(a, split);
  CG_CHECK(x);
  cg_tensor *partial = cg_contiguous(tensor_wrap(reduce_node(op, x->u, f1)));
  CG_CHECK(partial);
  cg_tensor *r = tensor_wrap(reduce_node(op, partial->u, f2));
  return cg_reshape(r, kept);
}

cg_tensor *treduce(int op, cg_tensor *a, cg_axes axes, int keepdim) {
  CG_CHECK(a);
  /* bools reduce as int32: gcc 12 -O2 -mavx2 miscompiles vectorized unsigned-char max loops over
     comparison results (all() of [[1,0],[1,1]] gave 254) */
  if (a->u->dtype == CG_BOOL) return cg_cast(treduce(op, cg_cast(a, CG_I32), axes, keepdim), CG_BOOL);
  /* half sums accumulate in float32, as PyTorch and tinygrad do: a half accumulator drops every
     addend below its last bit (and emulated half rounding per step is slow) */
  int dt = a->u->dtype;
  if (op == OP_ADD && (dt == CG_F16 || dt == CG_BF16))
    return cg_cast(treduce(op, cg_cast(a, CG_F32), axes, keepdim), dt);
  int nd = a->u->shape.ndim;
  int64_t flags[CG_MAX_DIMS];
  if (axes_flags(axes, nd, flags)) return NULL;
  cg_shape kept = a->u->shape, dropped = {0, {0}, {0}};
  int any = 0;
  for (int i = 0; i < nd; i++) {
    if (flags[i]) {
      any |= kept.d[i] != 1 || kept.var[i];
      shape_set(&kept, i, 1);
    } else {
      dropped.var[dropped.ndim] = kept.var[i];
      dropped.d[dropped.ndim++] = kept.d[i];
    }
  }
  cg_tensor *r;
  if (!any || nd == 0) {
    r = tensor_wrap(uop_ref(a->u));
  } else {
    r = split_reduce(op, a, flags, kept);
    if (!r) r = tensor_wrap(reduce_node(op, a->u, flags));
  }
  return keepdim ? r : cg_reshape(r, dropped);
}

static cg_tensor *reduce_acc(int op, cg_tensor *a, cg_axes axes, int keepdim) {
  CG_CHECK(a);
  cg_dtype dt = a->u->dtype, acc = acc_dtype(dt, op);
  cg_tensor *r = treduce(op, cg_cast(a, acc), axes, keepdim);
  return (dt == CG_F16 || dt == CG_BF16) ? cg_cast(r, dt) : r;
}

static cg_tensor *sum_impl(cg_tensor *a, cg_axes axes, int keepdim) { return reduce_acc(OP_ADD, a, axes, keepdim); }
static cg_tensor *prod_impl(cg_tensor *a, cg_axes axes, int keepdim) { return reduce_acc(OP_MUL, a, axes, keepdim); }
static cg_tensor *max_impl(cg_tensor *a, cg_axes axes, int keepdim) { return treduce(OP_MAX, a, axes, keepdim); }

static cg_tensor *min_impl(cg_tensor *a, cg_axes axes, int keepdim) {
  CG_CHECK(a);
  cg_dtype dt = a->u->dtype;
  if (dt == CG_BOOL) return cg_not(cg_max(cg_not(a), axes, keepdim));
  if (cg_dtype_is_unsigned(dt)) { /* ~max(~x): negation would wrap */
    cg_tensor *ones = tconst_like(a, -1, dt);
    return cg_xor(cg_max(cg_xor(a, ones), axes, keepdim), ones);
  }
  return cg_neg(cg_max(cg_neg(a), axes, keepdim));
}
cg_tensor *cg_sum(cg_tensor *a, cg_axes axes, int keepdim) { SCOPED(sum_impl(a, axes, keepdim)); }
cg_tensor *cg_prod(cg_tensor *a, cg_axes axes, int keepdim) { SCOPED(prod_impl(a, axes, keepdim)); }
cg_tensor *cg_max(cg_tensor *a, cg_axes axes, int keepdim) { SCOPED(max_impl(a, axes, keepdim)); }
cg_tensor *cg_min(cg_tensor *a, cg_axes axes, int keepdim) { SCOPED(min_impl(a, axes, keepdim)); }

/* The number of reduced elements as a 0-d float tensor: a constant, or a product with the
   variables of symbolic dims (so a mean stays right for every bound value). */
static cg_tensor *reduced_count(cg_tensor *a, cg_axes axes, cg_dtype dt, double minus) {
  int nd = a->u->shape.ndim;
  int64_t flags[CG_MAX_DIMS], n = 1;
  if (axes_flags(axes, nd, flags)) return NULL;
  cg_tensor *count = NULL;
  for (int i = 0; i < nd; i++) {
    if (!flags[i]) continue;
    if (!a->u->shape.var[i]) { n *= a->u->shape.d[i]; continue; }
    cg_tensor *v = cg_cast(cg_variable_tensor(a->u->shape.var[i]), dt);
    count = count ? cg_mul(count, v) : v;
  }
  cg_tensor *c = tconst_like(a, (double)n, dt);
  count = count ? cg_mul(count, c) : c;
  return minus ? cg_sub(count, tconst_like(a, minus, dt)) : count;
}

static cg_tensor *mean_impl(cg_tensor *a, cg_axes axes, int keepdim) {
  CG_CHECK(a);
  cg_dtype out = cg_dtype_is_float(a->u->dtype) ? a->u->dtype : CG_F32;
  cg_tensor *n = reduced_count(a, axes, out, 0);
  CG_CHECK(n);
  return cg_div(cg_cast(cg_sum(a, axes, keepdim), out), n);
}
cg_tensor *cg_mean(cg_tensor *a, cg_axes axes, int keepdim) { SCOPED(mean_impl(a, axes, keepdim)); }

static cg_tensor *var_impl(cg_tensor *a, cg_axes axes, int keepdim, double correction) {
  CG_CHECK(a);
  cg_tensor *x = cg_dtype_is_float(a->u->dtype) ? a : cg_cast(a, CG_F32);
  cg_tensor *d = cg_sub(x, cg_mean(x, axes, 1));
  cg_tensor *s = cg_sum(cg_mul(d, d), axes, keepdim);
  CG_CHECK(s);
  /* n - correction, clamped at 0 (PyTorch gives inf/nan there) */
  cg_tensor *denom = cg_maximum(reduced_count(a, axes, s->u->dtype, correction), tconst_like(s, 0, s->u->dtype));
  return cg_div(s, denom);
}
cg_tensor *cg_var(cg_tensor *a, cg_axes axes, int keepdim, double correction) { SCOPED(var_impl(a, axes, keepdim, correction)); }

/* index of the first maximum: (x == max) * (n - i), then n - max of that */
static cg_tensor *argmax_impl(cg_tensor *a, int axis, int keepdim) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim;
  if (nd == 0) return cg_cast(cg_mul_s(cg_cast(a, CG_I32), 0), CG_I32);
  int ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  if (a->u->shape.var[ax]) {
    cg_set_error("argmax: axis %d has a variable size", axis);
    return NULL;
  }
  int64_t n = a->u->shape.d[ax];
  cg_shape col = {nd, {0}, {0}};
  for (int i = 0; i < nd; i++) col.d[i] = i == ax ? n : 1;
  cg_tensor *rev = cg_reshape(cg_arange((double)n, 0, -1, CG_I32), col);
  if (rev) rev = cg_to(rev, cg_get_device(a));
  cg_tensor *hit = cg_eq(a, cg_max(a, CG_AXES(ax), 1));
  cg_tensor *best = cg_max(cg_mul(cg_cast(hit, CG_I32), rev), CG_AXES(ax), keepdim);
  return cg_sub(tconst_like(a, (double)n, CG_I32), best);
}
cg_tensor *cg_argmax(cg_tensor *a, int axis, int keepdim) { SCOPED(argmax_impl(a, axis, keepdim)); }

static cg_tensor *softmax_impl(cg_tensor *a, int axis) {
  CG_CHECK(a);
  cg_tensor *x = cg_dtype_is_float(a->u->dtype) ? a : cg_cast(a, CG_F32);
  cg_tensor *e = cg_exp(cg_sub(x, cg_max(x, CG_AXES(axis), 1)));
  return cg_div(e, cg_sum(e, CG_AXES(axis), 1));
}
cg_tensor *cg_softmax(cg_tensor *a, int axis) { SCOPED(softmax_impl(a, axis)); }

static cg_tensor *log_softmax_impl(cg_tensor *a, int axis) {
  CG_CHECK(a);
  cg_tensor *x = cg_dtype_is_float(a->u->dtype) ? a : cg_cast(a, CG_F32);
  cg_tensor *m = cg_sub(x, cg_max(x, CG_AXES(axis), 1));
  return cg_sub(m, cg_log(cg_sum(cg_exp(m), CG_AXES(axis), 1)));
}
cg_tensor *cg_log_softmax(cg_tensor *a, int axis) { SCOPED(log_softmax_impl(a, axis)); }

static cg_tensor *layernorm_impl(cg_tensor *a, int axis, double eps) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  cg_axes axes = {nd - ax, {0}};
  for (int i = ax; i < nd; i++) axes.v[i - ax] = i;
  cg_tensor *x = cg_dtype_is_float(a->u->dtype) ? a : cg_cast(a, CG_F32);
  cg_tensor *d = cg_sub(x, cg_mean(x, axes, 1));
  cg_tensor *v = cg_mean(cg_mul(d, d), axes, 1);
  return cg_mul(d, cg_rsqrt(cg_add_s(v, eps)));
}
cg_tensor *cg_layernorm(cg_tensor *a, int axis, double eps) { SCOPED(layernorm_impl(a, axis, eps)); }

static cg_shape insert_unit(cg_shape s, int at) {
  for (int i = s.ndim; i > at; i--) s.d[i] = s.d[i - 1], s.var[i] = s.var[i - 1];
  shape_set(&s, at, 1);
  s.ndim++;
  return s;
}

static cg_shape remove_dim(cg_shape s, int at) {
  for (int i = at; i + 1 < s.ndim; i++) s.d[i] = s.d[i + 1], s.var[i] = s.var[i + 1];
  s.ndim--;
  return s;
}

/* CPU (and INTERP, which runs the same kernels): a large matmul reads its operands through
   packed copies laid out for the codegen's register tile (src/codegen/opt.c), each copy its own
   kernel (a contiguous), O(k*(n+m)) against the matmul's O(n*k*m):
   - w (..., k, m) as (..., m/16, k, 16): the tile reads a k x 16 panel of w per step of 16
     columns; packed, the panel is one contiguous run that stays in L2 and prefetches well;
     unpacked it is k lines 4*m bytes apart, which for power-of-two m all fall into a few sets.
   - x (..., n, k) as (..., n/4, k, 4): the tile's 4 rows read 4 values per step of k; packed,
     they are adjacent and the tile reads one stream (4 streams 4*k bytes apart alias in L1):
     49 -> 70 GFLOPS a thread for 1024^3 (Zen 3, gcc 12).
   At large k a panel outgrows L2 and A streams from memory once per panel, so k is also cut
   into blocks of PACK_KC, block-major: w as (..., k/KC, m/16, KC, 16), x as (..., k/KC, n/4, KC,
   4). The codegen's KBLOCK then runs the k blocks as an outer loop (the tile's partial sums kept
   in the output), and every block's panels and row slices are contiguous: 4096^3 56 -> 72
   GFLOPS a thread. (Panels of one block k-major but 4*k*16 bytes apart all map to the same
   cache sets and evict each other: the hand-written kernel gained nothing without it.)
   Only a stored operand (a buffer, or a view of one) is packed: packing a computed w (a dequant,
   say) would store it instead of fusing it into the matmul. */
enum { PACK_COLS = 16, PACK_ROWS = 4, PACK_MIN = 128, PACK_KC = 256, PACK_KBLOCK_MIN = 2048 };

static int is_stored_view(const uop *u) {
  while (cg_op_is_movement(u->op) && !u->realized) u = u->src[0];
  return u->op == OP_BUFFER || u->realized;
}

/* the packed copy of t: t's last two dims split into `split` (4 dims), permuted by `perm`,
   stored, and viewed back as t's shape */
static cg_tensor *pack_copy(cg_tensor *t, const int64_t split[4], const int perm[4]) {
  cg_shape s = t->u->shape, sp = s;
  int nd = s.ndim;
  sp.ndim = nd + 2;
  cg_axes to = {nd + 2, {0}}, back = {nd + 2, {0}};
  for (int i = 0; i < nd + 2; i++) to.v[i] = i;
  for (int i = 0; i < 4; i++) {
    sp.d[nd - 2 + i] = split[i];
    sp.var[nd - 2 + i] = NULL;
    to.v[nd - 2 + i] = nd - 2 + perm[i];
  }
  for (int i = 0; i < nd + 2; i++) back.v[to.v[i]] = i;
  cg_tensor *packed = cg_contiguous(cg_permute(cg_reshape(t, sp), to));
  return cg_reshape(cg_permute(packed, back), s);
}

/* k is cut into blocks (block-major layouts) */
static int k_blocked(int64_t k) { return k >= PACK_KBLOCK_MIN && k % PACK_KC == 0; }

static int packable(const cg_tensor *t) {
  cg_shape s = t->u->shape;
  int nd = s.ndim;
  return is_stored_view(t->u) && nd + 2 <= CG_MAX_DIMS && !s.var[nd - 1] && !s.var[nd - 2] &&
         cg_dtype_is_float(t->u->dtype);
}

static cg_tensor *pack_columns(cg_tensor *w, int64_t rows) {
  cg_shape s = w->u->shape;
  int nd = s.ndim;
  cg_device *d = cg_device_get(w->u->dev);
  if ((d != &cg_device_cpu && d != &cg_device_interp) || !packable(w) || s.d[nd - 1] % PACK_COLS ||
      s.d[nd - 1] < PACK_MIN || s.d[nd - 2] < PACK_MIN || rows < PACK_MIN)
    return w;
  int64_t k = s.d[nd - 2], m = s.d[nd - 1];
  if (k_blocked(k)) /* (kb, KC, m/16, 16) -> (kb, m/16, KC, 16) */
    return pack_copy(w, (int64_t[]){k / PACK_KC, PACK_KC, m / PACK_COLS, PACK_COLS}, (int[]){0, 2, 1, 3});
  /* (1, k, m/16, 16) -> (m/16, 1, k, 16) */
  return pack_copy(w, (int64_t[]){1, k, m / PACK_COLS, PACK_COLS}, (int[]){2, 0, 1, 3});
}

/* Packed only alongside w (a matmul big enough for the tile and the packing), and only stored. */
static cg_tensor *pack_rows(cg_tensor *x) {
  cg_shape s = x->u->shape;
  int nd = s.ndim;
  if (!packable(x) || s.d[nd - 2] % PACK_ROWS || s.d[nd - 2] < PACK_MIN) return x;
  int64_t n = s.d[nd - 2], k = s.d[nd - 1];
  if (k_blocked(k)) /* (n/4, 4, kb, KC) -> (kb, n/4, KC, 4) */
    return pack_copy(x, (int64_t[]){n / PACK_ROWS, PACK_ROWS, k / PACK_KC, PACK_KC}, (int[]){2, 0, 3, 1});
  /* (n/4, 4, 1, k) -> (n/4, 1, k, 4) */
  return pack_copy(x, (int64_t[]){n / PACK_ROWS, PACK_ROWS, 1, k}, (int[]){0, 2, 3, 1});
}

/* x (..., n, k) @ w (..., k, m): (..., n, 1, k) * (..., 1, m, k), summed over k */
static cg_tensor *matmul_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  int na = a->u->shape.ndim, nb = b->u->shape.ndim;
  if (na == 0 || nb == 0) {
    cg_set_error("matmul: both operands need at least 1 dimension");
    return NULL;
  }
  if (na + 2 > CG_MAX_DIMS || nb + 2 > CG_MAX_DIMS) {
    cg_set_error("matmul: too many dimensions");
    return NULL;
  }
  cg_tensor *x = na == 1 ? cg_reshape(a, insert_unit(a->u->shape, 0)) : a;
  cg_tensor *w = nb == 1 ? cg_reshape(b, insert_unit(b->u->shape, 1)) : b;
  CG_CHECK(x, w);
  cg_shape sx = x->u->shape, sw = w->u->shape;
  if (!shape_dim_eq(sx, sx.ndim - 1, sw, sw.ndim - 2)) {
    char p[128], q[128];
    shape_str(a->u->shape, p, sizeof p);
    shape_str(b->u->shape, q, sizeof q);
    cg_set_error("matmul: shapes %s and %s do not align (%lld != %lld)", p, q,
                 (long long)sx.d[sx.ndim - 1], (long long)sw.d[sw.ndim - 2]);
    return NULL;
  }
  cg_tensor *packed_w = pack_columns(w, sx.var[sx.ndim - 2] ? 0 : sx.d[sx.ndim - 2]);
  if (packed_w != w) x = pack_rows(x);
  w = packed_w;
  CG_CHECK(x, w);
  cg_tensor *wt = cg_transpose(w, -1, -2);
  CG_CHECK(wt);
  cg_tensor *xr = cg_reshape(x, insert_unit(sx, sx.ndim - 1));
  cg_tensor *wr = cg_reshape(wt, insert_unit(wt->u->shape, wt->u->shape.ndim - 2));
  cg_tensor *r = cg_sum(cg_mul(xr, wr), CG_AXES(-1), 0);
  CG_CHECK(r);
  cg_shape out = r->u->shape;
  if (na == 1) out = remove_dim(out, out.ndim - 2);
  if (nb == 1) out = remove_dim(out, out.ndim - 1);
  if (a->u->dtype == CG_BOOL && b->u->dtype == CG_BOOL) r = cg_cast(r, CG_BOOL);
  return cg_reshape(r, out);
}
cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b) { SCOPED(matmul_impl(a, b)); }
