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
  if (src->u == dst->u) return 0; /* its own value: nothing to write */
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
  tensor_take_buffer(dst, b);
  return 0;
}

/* the new contents get a node of their own: cached results of the old ones stay valid */
void tensor_take_buffer(cg_tensor *t, cg_buffer *b) {
  cg_buffer_ref(b);
  b->version++;
  uop *fresh = tnode(OP_BUFFER, t->u->dtype, NULL, 0, (uop_arg){.ival = b->version, .ptr = b}, t->u->shape);
  fresh->needs_grad = t->requires_grad;
  uop_unref(t->u);
  t->u = fresh;
  if (t->into) cg_buffer_unref(t->into);
  t->into = NULL;
}

/* tinygrad's lazy assign: dst takes src's value now, and the realize that computes it writes it
   into dst's current buffer (the engine decides whether in place or through a copy). */
int cg_assign_lazy(cg_tensor *dst, cg_tensor *src) {
  if (!dst || !src) return -1;
  if (!shape_eq(dst->u->shape, src->u->shape) || dst->u->dtype != src->u->dtype || dst->u->dev != src->u->dev) {
    char a[128], b[128];
    shape_str(dst->u->shape, a, sizeof a);
    shape_str(src->u->shape, b, sizeof b);
    cg_set_error("assign: %s %s on %s cannot take %s %s on %s", a, cg_dtype_name(dst->u->dtype),
                 cg_device_get(dst->u->dev)->name, b, cg_dtype_name(src->u->dtype), cg_device_get(src->u->dev)->name);
    return -1;
  }
  if (shape_has_var(dst->u->shape)) {
    cg_set_error("assign: the target has a variable shape");
    return -1;
  }
  if (src->u == dst->u) return 0; /* its own value: nothing to write */
  uop *stored = dst->u->op == OP_BUFFER ? dst->u : dst->u->realized;
  cg_buffer *b = dst->into ? dst->into : stored ? stored->ptr : NULL;
  if (b) cg_buffer_ref(b);
  if (cg_replace(dst, src) != 0) { /* clears a pending assignment */
    if (b) cg_buffer_unref(b);
    return -1;
  }
  dst->into = b; /* NULL for a dst that was never stored: a plain replace */
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
