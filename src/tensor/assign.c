/* Assignment: write a value into a tensor's existing buffer, so everything holding that buffer
   (optimizer state, a KV cache, a JIT capture) sees the new contents. */
#include "../engine/engine.h"
#include "../runtime/device.h"
#include "tensor.h"

static int reads_buffer(uop *u, cg_buffer *b, cg_ptrmap *seen) {
  if (cg_ptrmap_get(seen, u)) return 0;
  cg_ptrmap_put(seen, u, (void *)1);
  uop *stored = u->op == OP_BUFFER ? u : u->realized;
  if (stored && stored->ptr == b) return 1;
  if (stored) return 0;
  for (int i = 0; i < u->nsrc; i++)
    if (reads_buffer(u->src[i], b, seen)) return 1;
  return 0;
}

static int assign_scoped(cg_tensor *dst, cg_tensor *src) {
  if (!dst || !src) return -1;
  if (shape_has_var(dst->u->shape)) {
    cg_set_error("assign: the target has a variable shape");
    return -1;
  }
  if (cg_realize(dst) != 0) return -1;
  uop *stored = dst->u->op == OP_BUFFER ? dst->u : dst->u->realized;
  cg_buffer *b = stored->ptr;
  cg_tensor *v = cg_expand(cg_cast(src, dst->u->dtype), dst->u->shape);
  if (!v) return -1;
  if (v->u->dev != dst->u->dev) v = cg_to(v, cg_get_device(dst));
  /* a value that reads the target itself is computed aside first, then copied in */
  cg_ptrmap seen = {0};
  int hazard = reads_buffer(v->u, b, &seen);
  cg_ptrmap_free(&seen);
  if (hazard && (!(v = cg_contiguous(v)) || cg_realize(v) != 0)) return -1;
  if (cg_realize_into(v, b) != 0) return -1;
  /* the new contents get a node of their own: cached results of the old ones stay valid */
  cg_buffer_ref(b);
  b->version++;
  uop *fresh = tnode(OP_BUFFER, dst->u->dtype, NULL, 0, (uop_arg){.ival = b->version, .ptr = b}, dst->u->shape);
  fresh->needs_grad = dst->requires_grad;
  uop_unref(dst->u);
  dst->u = fresh;
  return 0;
}

int cg_assign(cg_tensor *dst, cg_tensor *src) {
  cg_scope_push();
  int rc = assign_scoped(dst, src);
  cg_scope_pop();
  return rc;
}

/* dst[region] = src: the region is written, the rest kept (a where over the whole tensor) */
static int assign_region_scoped(cg_tensor *dst, const int64_t (*region)[2], int n, cg_tensor *src) {
  if (!dst || !src) return -1;
  cg_tensor *part = cg_shrink(dst, region, n); /* validates the region */
  if (!part) return -1;
  cg_tensor *v = cg_expand(cg_cast(src, dst->u->dtype), part->u->shape);
  if (!v) return -1;
  int64_t pad[CG_MAX_DIMS][2];
  for (int i = 0; i < n; i++) pad[i][0] = region[i][0], pad[i][1] = dst->u->shape.d[i] - region[i][1];
  cg_tensor *mask = cg_pad(cg_full(part->u->shape, 1, CG_BOOL), pad, n, 0);
  if (mask) mask = cg_to(mask, cg_get_device(dst));
  return assign_scoped(dst, cg_where(mask, cg_pad(v, pad, n, 0), dst));
}

int cg_assign_region(cg_tensor *dst, const int64_t (*region)[2], int n, cg_tensor *src) {
  cg_scope_push();
  int rc = assign_region_scoped(dst, region, n, src);
  cg_scope_pop();
  return rc;
}
