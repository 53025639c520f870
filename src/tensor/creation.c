/* Creation: tensors from host data, constants, iota/arange, eye. */
#include <math.h>
#include <string.h>
#include "../runtime/device.h"
#include "tensor.h"

static int valid_dtype(int dt, const char *who) {
  if (cg_dtype_valid(dt)) return 1;
  cg_set_error("%s: unknown dtype %d", who, dt);
  return 0;
}

cg_tensor *cg_from_data(const void *data, cg_dtype dt, cg_shape shape, const char *device) {
  if (!valid_dtype(dt, "cg_from_data") || !shape_check(shape, "cg_from_data")) return NULL;
  if (shape_has_var(shape)) {
    cg_set_error("cg_from_data: data needs a concrete shape (no variables)");
    return NULL;
  }
  int dev = device ? cg_device_lookup(device) : cg_device_default_index();
  if (dev < 0) return NULL;
  size_t n = (size_t)shape_numel(shape) * cg_dtype_size(dt);
  if (n && !data) {
    cg_set_error("cg_from_data: data is NULL");
    return NULL;
  }
  cg_buffer *b = cg_buffer_new(dev, n);
  if (!b) return NULL;
  if (n && cg_device_get(dev)->copyin(b->ptr, data, n) != 0) {
    cg_buffer_unref(b);
    return NULL;
  }
  /* the node takes over the buffer reference */
  return tmake(OP_BUFFER, dt, NULL, 0, (uop_arg){.ptr = b}, shape);
}

cg_tensor *tconst(double v, cg_dtype dt, int dev) {
  uop_arg a = {.ival2 = dev};
  if (cg_dtype_is_float(dt)) a.fval = cg_dtype_round_float(dt, v);
  else if (dt == CG_BOOL) a.ival = v != 0;
  else if (cg_dtype_is_unsigned(dt) && v >= 9223372036854775808.0)
    a.ival = (int64_t)(uint64_t)v;
  else a.ival = cg_dtype_wrap_int(dt, (int64_t)v);
  return tmake(OP_CONST, dt, NULL, 0, a, CG_SCALAR_SHAPE);
}

cg_tensor *tconst_like(cg_tensor *t, double v, cg_dtype dt) {
  return t ? tconst(v, dt, t->u->dev) : NULL;
}

cg_tensor *cg_scalar(double value, cg_dtype dt) {
  if (!valid_dtype(dt, "cg_scalar")) return NULL;
  return tconst(value, dt, cg_device_default_index());
}

static cg_tensor *broadcast_to(cg_tensor *t, cg_shape shape) {
  cg_shape ones = shape;
  for (int i = 0; i < ones.ndim; i++) shape_set(&ones, i, 1);
  return cg_expand(cg_reshape(t, ones), shape);
}

static cg_tensor *full_impl(cg_shape shape, double value, cg_dtype dt) {
  if (!valid_dtype(dt, "cg_full") || !shape_check(shape, "cg_full")) return NULL;
  shape = shape_norm(shape);
  return broadcast_to(cg_scalar(value, dt), shape);
}
cg_tensor *cg_full(cg_shape shape, double value, cg_dtype dt) { SCOPED(full_impl(shape, value, dt)); }

cg_tensor *cg_zeros(cg_shape shape, cg_dtype dt) { return cg_full(shape, 0, dt); }
cg_tensor *cg_ones(cg_shape shape, cg_dtype dt) { return cg_full(shape, 1, dt); }

static cg_tensor *full_like_impl(cg_tensor *t, double value) {
  CG_CHECK(t);
  return broadcast_to(tconst_like(t, value, t->u->dtype), t->u->shape);
}
cg_tensor *cg_full_like(cg_tensor *t, double value) { SCOPED(full_like_impl(t, value)); }

/* iota(n): the index of each element, a leaf the lowering turns into the loop index. */
static cg_tensor *iota(int64_t n, cg_dtype dt, int dev) {
  return tmake(OP_IOTA, dt, NULL, 0, (uop_arg){.ival = n, .ival2 = dev}, CG_SHAPE(n));
}

static cg_tensor *arange_impl(double start, double stop, double step, cg_dtype dt) {
  if (!valid_dtype(dt, "cg_arange")) return NULL;
  if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
    cg_set_error("cg_arange: step must be nonzero and bounds finite");
    return NULL;
  }
  double len = ceil((stop - start) / step);
  int64_t n = len > 0 ? (int64_t)len : 0;
  int dev = cg_device_default_index();
  cg_dtype idt = n > INT32_MAX ? CG_I64 : CG_I32;
  cg_tensor *i = iota(n, idt, dev);
  if (cg_dtype_is_float(dt)) {
    cg_tensor *f = cg_cast(i, dt);
    return cg_add(cg_mul(f, tconst(step, dt, dev)), tconst(start, dt, dev));
  }
  cg_tensor *r = cg_add(cg_mul(i, tconst(step, idt, dev)), tconst(start, idt, dev));
  return cg_cast(r, dt);
}
cg_tensor *cg_arange(double start, double stop, double step, cg_dtype dt) { SCOPED(arange_impl(start, stop, step, dt)); }

static cg_tensor *eye_impl(int64_t n, cg_dtype dt) {
  if (!valid_dtype(dt, "cg_eye")) return NULL;
  if (n < 0) {
    cg_set_error("cg_eye: negative size %lld", (long long)n);
    return NULL;
  }
  cg_tensor *i = iota(n, n > INT32_MAX ? CG_I64 : CG_I32, cg_device_default_index());
  return cg_cast(cg_eq(cg_reshape(i, CG_SHAPE(n, 1)), cg_reshape(i, CG_SHAPE(1, n))), dt);
}
cg_tensor *cg_eye(int64_t n, cg_dtype dt) { SCOPED(eye_impl(n, dt)); }

/* A buffer whose contents are whatever the allocator gave (no kernel runs). */
cg_tensor *cg_empty(cg_shape shape, cg_dtype dt) {
  if (!valid_dtype(dt, "cg_empty") || !shape_check(shape, "cg_empty")) return NULL;
  if (shape_has_var(shape)) return cg_zeros(shape, dt);
  int dev = cg_device_default_index();
  cg_buffer *b = cg_buffer_new(dev, (size_t)shape_numel(shape) * cg_dtype_size(dt));
  if (!b) return NULL;
  return tmake(OP_BUFFER, dt, NULL, 0, (uop_arg){.ptr = b}, shape);
}

cg_tensor *cg_zeros_like(cg_tensor *t) { return cg_full_like(t, 0); }
cg_tensor *cg_ones_like(cg_tensor *t) { return cg_full_like(t, 1); }

static cg_tensor *linspace_impl(double start, double stop, int64_t steps, cg_dtype dt) {
  if (steps < 0) {
    cg_set_error("linspace: negative number of steps");
    return NULL;
  }
  if (steps == 1) return cg_full(CG_SHAPE(1), start, dt);
  cg_tensor *i = cg_arange(0, (double)steps, 1, CG_F32);
  return cg_cast(cg_add_s(cg_mul_s(i, (stop - start) / (double)(steps - 1)), start), dt);
}
cg_tensor *cg_linspace(double start, double stop, int64_t steps, cg_dtype dt) { SCOPED(linspace_impl(start, stop, steps, dt)); }
