/* Padding by reflection, replication or wrap-around: each a cat of slices of the input. */
#include "tensor.h"

static cg_tensor *edge_piece(cg_tensor *a, int ax, int64_t n, int64_t amount, int before, int mode) {
  switch (mode) {
  case CG_PAD_REFLECT: /* mirror without repeating the edge */
    return before ? cg_flip(cg_slice(a, ax, 1, amount + 1, 1), CG_AXES(ax))
                  : cg_flip(cg_slice(a, ax, n - amount - 1, n - 1, 1), CG_AXES(ax));
  case CG_PAD_REPLICATE: {
    cg_tensor *e = before ? cg_slice(a, ax, 0, 1, 1) : cg_slice(a, ax, n - 1, n, 1);
    if (!e) return NULL;
    cg_shape s = e->u->shape;
    s.d[ax] = amount;
    return cg_expand(e, s);
  }
  default: /* circular */
    return before ? cg_slice(a, ax, n - amount, n, 1) : cg_slice(a, ax, 0, amount, 1);
  }
}

static cg_tensor *pad_mode_impl(cg_tensor *a, const int64_t (*pad)[2], int npad, int mode, double value) {
  CG_CHECK(a);
  if (mode == CG_PAD_CONSTANT) return cg_pad(a, pad, npad, value);
  if (mode < 0 || mode > CG_PAD_CIRCULAR) {
    cg_set_error("pad: unknown mode %d", mode);
    return NULL;
  }
  if (npad != a->u->shape.ndim) {
    cg_set_error("pad: got %d pairs for a tensor with %d dimensions", npad, a->u->shape.ndim);
    return NULL;
  }
  cg_tensor *x = a;
  for (int ax = 0; ax < npad; ax++) {
    int64_t n = x->u->shape.d[ax], b = pad[ax][0], e = pad[ax][1];
    if (!b && !e) continue;
    int64_t limit = mode == CG_PAD_REFLECT ? n - 1 : mode == CG_PAD_CIRCULAR ? n : INT64_MAX;
    if (b < 0 || e < 0 || b > limit || e > limit || (mode == CG_PAD_REPLICATE && n == 0)) {
      cg_set_error("pad: padding (%lld, %lld) is too large for axis %d of size %lld in this mode",
                   (long long)b, (long long)e, ax, (long long)n);
      return NULL;
    }
    cg_tensor *parts[3];
    int k = 0;
    if (b) parts[k++] = edge_piece(x, ax, n, b, 1, mode);
    parts[k++] = x;
    if (e) parts[k++] = edge_piece(x, ax, n, e, 0, mode);
    x = cg_cat(parts, k, ax);
    CG_CHECK(x);
  }
  return x == a ? cg_reshape(a, a->u->shape) : x;
}
cg_tensor *cg_pad_mode(cg_tensor *a, const int64_t (*pad)[2], int npad, int mode, double value) {
  SCOPED(pad_mode_impl(a, pad, npad, mode, value));
}
