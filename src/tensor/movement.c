/* Movement ops: views that cost nothing until a kernel reads them as index math. */
#include <stdio.h>
#include <string.h>
#include "../runtime/device.h"
#include "tensor.h"

static cg_tensor *movement(int op, cg_tensor *a, const int64_t *v, int nv, cg_shape out) {
  uop *src[CG_MAX_DIMS + 1];
  int n = (op == OP_RESHAPE || op == OP_EXPAND) ? movement_srcs(a->u, out, src) : (src[0] = a->u, 1);
  return tmake(op, a->u->dtype, src, n, (uop_arg){.nv = nv, .v = v}, out);
}

/* the dims other than concrete 1s, in order, must match: symbolic dims cannot be split/merged */
static int same_non_unit_dims(cg_shape a, cg_shape b) {
  int i = 0, j = 0;
  for (;;) {
    while (i < a.ndim && a.d[i] == 1 && !a.var[i]) i++;
    while (j < b.ndim && b.d[j] == 1 && !b.var[j]) j++;
    if (i == a.ndim || j == b.ndim) return i == a.ndim && j == b.ndim;
    if (!shape_dim_eq(a, i++, b, j++)) return 0;
  }
}

/* reject an op on a symbolic dim that only works with concrete sizes */
static int concrete_axis(cg_tensor *a, int axis, const char *who) {
  if (!a->u->shape.var[axis]) return 1;
  cg_set_error("%s: axis %d has the variable size %s; only concrete axes can be changed this way",
               who, axis, a->u->shape.var[axis]->name);
  return 0;
}

static cg_tensor *same(cg_tensor *a) { return tensor_wrap(uop_ref(a->u)); }

static cg_tensor *reshape_impl(cg_tensor *a, cg_shape shape) {
  CG_CHECK(a);
  if (shape.ndim < 0 || shape.ndim > CG_MAX_DIMS) {
    cg_set_error("reshape: %d dimensions (at most %d)", shape.ndim, CG_MAX_DIMS);
    return NULL;
  }
  if (shape_has_var(shape) || shape_has_var(a->u->shape)) {
    shape = shape_norm(shape);
    if (!same_non_unit_dims(shape, a->u->shape)) {
      cg_set_error("reshape: a tensor with variable dims can only gain or lose size-1 dims");
      return NULL;
    }
    if (shape_eq(shape, a->u->shape)) return same(a);
    return movement(OP_RESHAPE, a, shape.d, shape.ndim, shape);
  }
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.ndim; i++) {
    if (shape.d[i] == -1 && infer < 0) { infer = i; continue; }
    if (shape.d[i] < 0) {
      cg_set_error("reshape: invalid dimension %lld", (long long)shape.d[i]);
      return NULL;
    }
    known *= shape.d[i];
  }
  int64_t n = shape_numel(a->u->shape);
  if (infer >= 0) shape.d[infer] = known ? n / known : 0;
  if (shape_numel(shape) != n) {
    char x[128], y[128];
    shape_str(a->u->shape, x, sizeof x);
    shape_str(shape, y, sizeof y);
    cg_set_error("reshape: cannot reshape %s (%lld elements) to %s", x, (long long)n, y);
    return NULL;
  }
  if (shape_eq(shape, a->u->shape)) return same(a);
  return movement(OP_RESHAPE, a, shape.d, shape.ndim, shape);
}
cg_tensor *cg_reshape(cg_tensor *a, cg_shape shape) { SCOPED(reshape_impl(a, shape)); }

static cg_tensor *permute_impl(cg_tensor *a, cg_axes order) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, seen[CG_MAX_DIMS] = {0};
  if (order.n != nd) {
    cg_set_error("permute: got %d axes for a tensor with %d dimensions", order.n, nd);
    return NULL;
  }
  int64_t perm[CG_MAX_DIMS];
  cg_shape out = {nd, {0}, {0}};
  int identity = 1;
  for (int i = 0; i < nd; i++) {
    int ax = norm_axis(order.v[i], nd);
    if (ax < 0) return NULL;
    if (seen[ax]++) {
      cg_set_error("permute: axis %d repeated", order.v[i]);
      return NULL;
    }
    perm[i] = ax;
    out.d[i] = a->u->shape.d[ax];
    out.var[i] = a->u->shape.var[ax];
    identity &= ax == i;
  }
  if (identity) return same(a);
  return movement(OP_PERMUTE, a, perm, nd, out);
}
cg_tensor *cg_permute(cg_tensor *a, cg_axes order) { SCOPED(permute_impl(a, order)); }

static cg_tensor *transpose_impl(cg_tensor *a, int d0, int d1) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim;
  int x = norm_axis(d0, nd), y = norm_axis(d1, nd);
  if (x < 0 || y < 0) return NULL;
  cg_axes order = {nd, {0}};
  for (int i = 0; i < nd; i++) order.v[i] = i;
  order.v[x] = y;
  order.v[y] = x;
  return cg_permute(a, order);
}
cg_tensor *cg_transpose(cg_tensor *a, int d0, int d1) { SCOPED(transpose_impl(a, d0, d1)); }

static cg_tensor *expand_impl(cg_tensor *a, cg_shape shape) {
  CG_CHECK(a);
  cg_shape in = a->u->shape;
  if (shape.ndim < in.ndim || shape.ndim > CG_MAX_DIMS) {
    cg_set_error("expand: cannot expand %d dimensions to %d", in.ndim, shape.ndim);
    return NULL;
  }
  shape = shape_norm(shape);
  int lead = shape.ndim - in.ndim;
  cg_shape padded = {shape.ndim, {0}, {0}};
  for (int i = 0; i < shape.ndim; i++) {
    int k = i - lead;
    int64_t d = k < 0 ? 1 : in.d[k];
    cg_variable *v = k < 0 ? NULL : in.var[k];
    if (shape.d[i] == -1 && !shape.var[i]) shape.d[i] = d, shape.var[i] = v;
    int unit = d == 1 && !v;
    if (!unit && !(d == shape.d[i] && v == shape.var[i])) {
      char x[128], y[128];
      shape_str(in, x, sizeof x);
      shape_str(shape, y, sizeof y);
      cg_set_error("expand: cannot expand %s to %s", x, y);
      return NULL;
    }
    padded.d[i] = d;
    padded.var[i] = v;
  }
  cg_tensor *r = lead ? cg_reshape(a, padded) : a;
  CG_CHECK(r);
  if (shape_eq(shape, r->u->shape)) return r == a ? same(a) : r;
  return movement(OP_EXPAND, r, shape.d, shape.ndim, shape);
}
cg_tensor *cg_expand(cg_tensor *a, cg_shape shape) { SCOPED(expand_impl(a, shape)); }

static cg_tensor *pad_impl(cg_tensor *a, const int64_t (*pad)[2], int npad, double value) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim;
  if (npad != nd) {
    cg_set_error("pad: got %d pairs for a tensor with %d dimensions", npad, nd);
    return NULL;
  }
  int64_t flat[2 * CG_MAX_DIMS];
  cg_shape out = a->u->shape;
  int any = 0;
  for (int i = 0; i < nd; i++) {
    if (pad[i][0] < 0 || pad[i][1] < 0) {
      cg_set_error("pad: negative padding on axis %d (use shrink)", i);
      return NULL;
    }
    if ((pad[i][0] || pad[i][1]) && !concrete_axis(a, i, "pad")) return NULL;
    flat[2 * i] = pad[i][0];
    flat[2 * i + 1] = pad[i][1];
    out.d[i] += pad[i][0] + pad[i][1];
    any |= pad[i][0] || pad[i][1];
  }
  if (!any) return same(a);
  cg_tensor *padded = movement(OP_PAD, a, flat, 2 * nd, out);
  if (value == 0) return padded;
  /* pad fills zeros; other values come from a padded mask */
  cg_tensor *mask = cg_pad(cg_full(a->u->shape, 1, CG_BOOL), pad, npad, 0);
  if (mask) mask = cg_to(mask, cg_get_device(a));
  return cg_where(mask, padded, cg_scalar_like(a, value));
}
cg_tensor *cg_pad(cg_tensor *a, const int64_t (*pad)[2], int npad, double value) { SCOPED(pad_impl(a, pad, npad, value)); }

static cg_tensor *shrink_impl(cg_tensor *a, const int64_t (*arg)[2], int narg) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim;
  if (narg != nd) {
    cg_set_error("shrink: got %d pairs for a tensor with %d dimensions", narg, nd);
    return NULL;
  }
  int64_t flat[2 * CG_MAX_DIMS];
  cg_shape out = a->u->shape;
  int any = 0;
  for (int i = 0; i < nd; i++) {
    if (arg[i][0] < 0 || arg[i][1] < arg[i][0] || arg[i][1] > a->u->shape.d[i]) {
      cg_set_error("shrink: range [%lld, %lld) is out of bounds for axis %d of size %lld",
                   (long long)arg[i][0], (long long)arg[i][1], i, (long long)a->u->shape.d[i]);
      return NULL;
    }
    if ((arg[i][0] || arg[i][1] != a->u->shape.d[i]) && !concrete_axis(a, i, "shrink")) return NULL;
    flat[2 * i] = arg[i][0];
    flat[2 * i + 1] = arg[i][1];
    out.d[i] = arg[i][1] - arg[i][0];
    any |= arg[i][0] != 0 || arg[i][1] != a->u->shape.d[i];
  }
  if (!any) return same(a);
  return movement(OP_SHRINK, a, flat, 2 * nd, out);
}
cg_tensor *cg_shrink(cg_tensor *a, const int64_t (*arg)[2], int narg) { SCOPED(shrink_impl(a, arg, narg)); }

static cg_tensor *flip_impl(cg_tensor *a, cg_axes axes) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim;
  int64_t flags[CG_MAX_DIMS] = {0};
  int n = axes.n < 0 ? nd : axes.n, any = 0;
  for (int i = 0; i < n; i++) {
    int ax = axes.n < 0 ? i : norm_axis(axes.v[i], nd);
    if (ax < 0 || !concrete_axis(a, ax, "flip")) return NULL;
    flags[ax] ^= 1;
    any = 1;
  }
  if (!any) return same(a);
  return movement(OP_FLIP, a, flags, nd, a->u->shape);
}
cg_tensor *cg_flip(cg_tensor *a, cg_axes axes) { SCOPED(flip_impl(a, axes)); }

/* a[start:stop:step] along one axis, Python semantics */
static cg_tensor *slice_impl(cg_tensor *a, int axis, int64_t start, int64_t stop, int64_t step) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0) return NULL;
  if (step == 0) {
    cg_set_error("slice: step cannot be zero");
    return NULL;
  }
  int64_t n = a->u->shape.d[ax];
  if (step < 0) { /* walk the flipped axis forward: index i maps to n-1-i */
    int64_t fs = start == CG_END ? 0 : (start < 0 ? -start - 1 : n - 1 - start);
    int64_t fe = stop == CG_END ? n : (stop < 0 ? -stop - 1 : n - 1 - stop);
    if (fs < 0) fs = 0;
    return cg_slice(cg_flip(a, CG_AXES(ax)), ax, fs, fe < fs ? fs : fe, -step);
  }
  int64_t s = start == CG_END ? 0 : start < 0 ? start + n : start;
  int64_t e = stop == CG_END ? n : stop < 0 ? stop + n : stop;
  s = s < 0 ? 0 : s > n ? n : s;
  e = e < s ? s : e > n ? n : e;
  int64_t range[CG_MAX_DIMS][2];
  for (int i = 0; i < nd; i++) range[i][0] = 0, range[i][1] = a->u->shape.d[i];
  range[ax][0] = s;
  range[ax][1] = e;
  cg_tensor *r = cg_shrink(a, range, nd);
  if (step == 1 || !r) return r;
  /* stride by padding to a multiple of step, splitting the axis and keeping column 0 */
  int64_t len = e - s, count = (len + step - 1) / step, padpair[CG_MAX_DIMS][2] = {{0}};
  padpair[ax][1] = count * step - len;
  r = cg_pad(r, padpair, nd, 0);
  CG_CHECK(r);
  cg_shape split = {nd + 1, {0}, {0}};
  for (int i = 0, j = 0; i < nd; i++) {
    if (i == ax) { split.d[j++] = count; split.d[j++] = step; continue; }
    split.var[j] = r->u->shape.var[i];
    split.d[j++] = r->u->shape.d[i];
  }
  r = cg_reshape(r, split);
  int64_t keep[CG_MAX_DIMS][2];
  for (int i = 0; i <= nd; i++) keep[i][0] = 0, keep[i][1] = split.d[i];
  keep[ax + 1][1] = 1;
  r = cg_shrink(r, keep, nd + 1);
  cg_shape out = a->u->shape;
  out.d[ax] = count;
  return cg_reshape(r, out);
}
cg_tensor *cg_slice(cg_tensor *a, int axis, int64_t start, int64_t stop, int64_t step) { SCOPED(slice_impl(a, axis, start, stop, step)); }

static cg_tensor *cat_impl(cg_tensor **ts, int n, int axis) {
  if (n <= 0 || !ts) {
    cg_set_error("cat: no tensors given");
    return NULL;
  }
  for (int i = 0; i < n; i++) CG_CHECK(ts[i]);
  cg_shape base = ts[0]->u->shape;
  int ax = norm_axis(axis, base.ndim);
  if (ax < 0) return NULL;
  for (int i = 0; i < n; i++)
    if (!concrete_axis(ts[i], ax, "cat")) return NULL;
  int64_t total = 0;
  cg_dtype dt = ts[0]->u->dtype;
  for (int i = 0; i < n; i++) {
    cg_shape s = ts[i]->u->shape;
    int ok = s.ndim == base.ndim;
    for (int d = 0; ok && d < s.ndim; d++) ok = d == ax || shape_dim_eq(s, d, base, d);
    if (!ok) {
      char x[128], y[128];
      shape_str(base, x, sizeof x);
      shape_str(s, y, sizeof y);
      cg_set_error("cat: shapes %s and %s differ outside axis %d", x, y, ax);
      return NULL;
    }
    total += s.d[ax];
    dt = cg_promote(dt, ts[i]->u->dtype);
  }
  /* each piece padded to the full length; the sum of disjoint pads is one fused kernel */
  cg_tensor *acc = NULL;
  int64_t offset = 0;
  for (int i = 0; i < n; i++) {
    int64_t p[CG_MAX_DIMS][2] = {{0}};
    p[ax][0] = offset;
    p[ax][1] = total - offset - ts[i]->u->shape.d[ax];
    offset += ts[i]->u->shape.d[ax];
    cg_tensor *piece = cg_pad(cg_cast(ts[i], dt), p, base.ndim, 0);
    acc = acc ? (dt == CG_BOOL ? cg_or(acc, piece) : cg_add(acc, piece)) : piece;
  }
  return acc;
}
cg_tensor *cg_cat(cg_tensor **ts, int n, int axis) { SCOPED(cat_impl(ts, n, axis)); }

static cg_tensor *stack_impl(cg_tensor **ts, int n, int axis) {
  if (n <= 0 || !ts) {
    cg_set_error("stack: no tensors given");
    return NULL;
  }
  for (int i = 0; i < n; i++) CG_CHECK(ts[i]);
  int nd = ts[0]->u->shape.ndim, ax = norm_axis(axis, nd + 1);
  if (ax < 0) return NULL;
  cg_tensor *parts[256];
  if (n > 256) {
    cg_set_error("stack: at most 256 tensors");
    return NULL;
  }
  for (int i = 0; i < n; i++) {
    cg_shape s = ts[i]->u->shape, u = {s.ndim + 1, {0}, {0}};
    for (int d = 0, j = 0; d <= s.ndim; d++) {
      if (d == ax) { u.d[d] = 1; continue; }
      u.var[d] = s.var[j];
      u.d[d] = s.d[j++];
    }
    parts[i] = cg_reshape(ts[i], u);
    CG_CHECK(parts[i]);
  }
  return cg_cat(parts, n, ax);
}
cg_tensor *cg_stack(cg_tensor **ts, int n, int axis) { SCOPED(stack_impl(ts, n, axis)); }

cg_tensor *cg_contiguous(cg_tensor *a) {
  CG_CHECK(a);
  return tmake(OP_CONTIGUOUS, a->u->dtype, &a->u, 1, (uop_arg){0}, a->u->shape);
}

cg_tensor *cg_to(cg_tensor *a, const char *device) {
  CG_CHECK(a);
  int dev = cg_device_lookup(device);
  if (dev < 0) return NULL;
  if (dev == a->u->dev) return same(a);
  return tmake(OP_COPY, a->u->dtype, &a->u, 1, (uop_arg){.ival2 = dev}, a->u->shape);
}

/* a[begin:end] along axis with end a variable: a SHRINK whose size is symbolic. The variable's
   DEFINE_VAR node is a source, so the view depends on (and keeps alive) the variable. */
static cg_tensor *shrink_to_impl(cg_tensor *a, int axis, int64_t begin, cg_variable *end) {
  CG_CHECK(a);
  int nd = a->u->shape.ndim, ax = norm_axis(axis, nd);
  if (ax < 0 || !concrete_axis(a, ax, "shrink_to")) return NULL;
  if (!end || begin < 0 || begin > end->min || end->max > a->u->shape.d[ax]) {
    cg_set_error("shrink_to: need 0 <= begin <= the variable's min and its max <= %lld",
                 (long long)a->u->shape.d[ax]);
    return NULL;
  }
  int64_t flat[2 * CG_MAX_DIMS];
  cg_shape out = a->u->shape;
  for (int i = 0; i < nd; i++) flat[2 * i] = 0, flat[2 * i + 1] = a->u->shape.d[i];
  flat[2 * ax] = begin;
  flat[2 * ax + 1] = end->max;
  out.d[ax] = end->max - begin;
  out.var[ax] = end;
  if (begin) { /* begin shifts the symbolic size: express only the common case */
    cg_set_error("shrink_to: begin must be 0 for now (the size is the variable itself)");
    return NULL;
  }
  uop *src[2];
  cg_tensor *v = cg_variable_tensor(end);
  CG_CHECK(v);
  src[0] = a->u;
  src[1] = v->u;
  return tmake(OP_SHRINK, a->u->dtype, src, 2, (uop_arg){.nv = 2 * nd, .v = flat}, out);
}
cg_tensor *cg_shrink_to(cg_tensor *a, int axis, int64_t begin, cg_variable *end) { SCOPED(shrink_to_impl(a, axis, begin, end)); }
