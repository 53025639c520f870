/* Tensor handles, scopes, node construction and the accessors of cgrad.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../engine/engine.h"
#include "../ir/alu.h"
#include "../runtime/device.h"
#include "tensor.h"

/* Scope stack: each level lists the tensors it owns. Per thread, like the error message. */
typedef struct { cg_tensor **items; int n, cap; } scope_list;
static _Thread_local scope_list *scopes;
static _Thread_local int nscopes, scopes_cap;

void cg_scope_push(void) {
  if (nscopes == scopes_cap) {
    scopes_cap = scopes_cap ? scopes_cap * 2 : 8;
    scopes = cg_xrealloc(scopes, scopes_cap * sizeof *scopes);
  }
  scopes[nscopes++] = (scope_list){0};
}

static void tensor_destroy(cg_tensor *t) {
  if (t->requires_grad) autograd_forget(t);
  if (t->grad) tensor_destroy(t->grad);
  if (t->into) cg_buffer_unref(t->into);
  uop_unref(t->u);
  free(t);
}

void cg_scope_pop(void) {
  if (!nscopes) return;
  scope_list *s = &scopes[--nscopes];
  for (int i = 0; i < s->n; i++)
    if (s->items[i]) tensor_destroy(s->items[i]);
  free(s->items);
  if (!nscopes) { free(scopes); scopes = NULL; scopes_cap = 0; }
}

static void scope_add(cg_tensor *t, int depth) {
  t->scope = depth;
  if (!depth) return;
  scope_list *s = &scopes[depth - 1];
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->items = cg_xrealloc(s->items, s->cap * sizeof *s->items);
  }
  s->items[s->n++] = t;
}

int cg_replace(cg_tensor *dst, cg_tensor *src) {
  if (!dst || !src) return -1;
  if (!shape_eq(dst->u->shape, src->u->shape) || dst->u->dtype != src->u->dtype) {
    char a[128], b[128];
    shape_str(dst->u->shape, a, sizeof a);
    shape_str(src->u->shape, b, sizeof b);
    cg_set_error("replace: %s %s cannot take the value of %s %s", a, cg_dtype_name(dst->u->dtype), b,
                 cg_dtype_name(src->u->dtype));
    return -1;
  }
  uop *old = dst->u;
  if (dst->into) cg_buffer_unref(dst->into); /* a new value replaces a pending assignment */
  dst->into = NULL;
  dst->u = uop_ref(src->u);
  if (dst->requires_grad && dst->u->op == OP_BUFFER) dst->u->needs_grad = 1;
  uop_unref(old);
  return 0;
}

/* forget t's entry in its scope's list (searching from the newest: usually just made) */
static void scope_detach(cg_tensor *t) {
  if (t->scope <= 0 || t->scope > nscopes) return;
  scope_list *s = &scopes[t->scope - 1];
  for (int i = s->n - 1; i >= 0; i--)
    if (s->items[i] == t) { s->items[i] = NULL; break; }
}

cg_tensor *cg_keep(cg_tensor *t) {
  if (t && t->scope > 0) {
    scope_detach(t);
    scope_add(t, t->scope - 1);
  }
  return t;
}

cg_tensor *cg_own(cg_tensor *t) {
  if (t) {
    scope_detach(t);
    t->scope = 0;
  }
  return t;
}

void cg_free(cg_tensor *t) {
  if (t && t->scope == 0) tensor_destroy(t);
}

/* BUFFER and DEFINE_VAR nodes own what their ptr names */
static void release_ptr(uop *u) {
  if (u->op == OP_BUFFER) cg_buffer_unref(u->ptr);
  else cg_variable_free(u->ptr);
}

static cg_tensor *wrap_at(uop *u, int depth) {
  uop_release_ptr = release_ptr;
  if (!u) return NULL;
  cg_tensor *t = cg_xcalloc(1, sizeof *t);
  t->u = u;
  scope_add(t, depth);
  return t;
}

cg_tensor *tensor_wrap(uop *u) { return wrap_at(u, nscopes); }
cg_tensor *tensor_wrap_owned(uop *u) { return wrap_at(u, 0); }

static int node_device(uop *const *src, int n, int op, const uop_arg *arg) {
  if (op == OP_CONST || op == OP_IOTA || op == OP_DEFINE_VAR || op == OP_COPY) return (int)arg->ival2;
  if (op == OP_BUFFER) return ((cg_buffer *)arg->ptr)->dev;
  int dev = -1;
  for (int i = 0; i < n; i++) {
    if (dev >= 0 && src[i]->dev != dev) return -3;
    dev = src[i]->dev;
  }
  return dev;
}

uop *tnode(int op, int dtype, uop *const *src, int n, uop_arg arg, cg_shape shape) {
  int dev = node_device(src, n, op, &arg);
  if (dev == -3) {
    cg_set_error("%s: operands are on different devices (%s and %s)", cg_op_name(op),
                 cg_device_get(src[0]->dev)->name, cg_device_get(src[1]->dev)->name);
    return NULL;
  }
  uop *u = uop_new(uop_global(), op, dtype, src, n, arg, &shape);
  if (dev >= 0) u->dev = dev;
  if (grad_enabled() && op != OP_DETACH)
    for (int i = 0; i < n; i++) u->needs_grad |= src[i]->needs_grad;
  return u;
}

cg_tensor *tmake(int op, int dtype, uop *const *src, int n, uop_arg arg, cg_shape shape) {
  return tensor_wrap(tnode(op, dtype, src, n, arg, shape));
}

int64_t shape_numel(cg_shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.d[i];
  return n;
}

int64_t shape_numel_now(cg_shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.ndim; i++) n *= s.var[i] ? s.var[i]->value : s.d[i];
  return n;
}

int shape_dim_eq(cg_shape a, int i, cg_shape b, int j) { return a.d[i] == b.d[j] && a.var[i] == b.var[j]; }

int shape_eq(cg_shape a, cg_shape b) {
  if (a.ndim != b.ndim) return 0;
  for (int i = 0; i < a.ndim; i++)
    if (!shape_dim_eq(a, i, b, i)) return 0;
  return 1;
}

int shape_check(cg_shape s, const char *who) {
  if (s.ndim < 0 || s.ndim > CG_MAX_DIMS) {
    cg_set_error("%s: %d dimensions (at most %d)", who, s.ndim, CG_MAX_DIMS);
    return 0;
  }
  for (int i = 0; i < s.ndim; i++)
    if (s.d[i] < 0 && !s.var[i]) {
      cg_set_error("%s: negative dimension %lld", who, (long long)s.d[i]);
      return 0;
    }
  return 1;
}

int shape_has_var(cg_shape s) {
  for (int i = 0; i < s.ndim; i++)
    if (s.var[i]) return 1;
  return 0;
}

void shape_set(cg_shape *s, int i, int64_t d) {
  s->d[i] = d;
  s->var[i] = NULL;
}

cg_shape shape_splice(cg_shape s, int at, int nrm, const int64_t *ins, int nins) {
  cg_shape r = {0, {0}, {0}};
  for (int i = 0; i < at; i++) r.d[r.ndim] = s.d[i], r.var[r.ndim++] = s.var[i];
  for (int i = 0; i < nins; i++) r.d[r.ndim++] = ins[i];
  for (int i = at + nrm; i < s.ndim; i++) r.d[r.ndim] = s.d[i], r.var[r.ndim++] = s.var[i];
  return r;
}

cg_shape shape_norm(cg_shape s) {
  for (int i = 0; i < s.ndim && i < CG_MAX_DIMS; i++)
    if (s.var[i]) s.d[i] = s.var[i]->max;
  return s;
}

int movement_srcs(uop *x, cg_shape out, uop **src) {
  int n = 0;
  src[n++] = x;
  for (int i = 0; i < out.ndim; i++) {
    if (!out.var[i]) continue;
    int dup = 0;
    for (int k = 1; k < n; k++) dup |= src[k]->ptr == out.var[i];
    if (dup) continue;
    cg_tensor *v = cg_variable_tensor(out.var[i]); /* scope-owned; the node keeps its own ref */
    src[n++] = v ? v->u : x;
  }
  return n;
}

void shape_str(cg_shape s, char *buf, size_t n) {
  size_t len = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < s.ndim && len < n; i++) {
    if (s.var[i]) len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", s.var[i]->name);
    else len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)s.d[i]);
  }
  if (len < n) snprintf(buf + len, n - len, s.ndim == 1 ? ",)" : ")");
}

int norm_axis(int axis, int ndim) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= (ndim ? ndim : 1)) {
    cg_set_error("axis %d is out of range for a tensor with %d dimensions", axis, ndim);
    return -1;
  }
  return a;
}

int cg_ndim(const cg_tensor *t) { return t ? t->u->shape.ndim : -1; }
cg_shape cg_get_shape(const cg_tensor *t) {
  if (!t) return CG_SCALAR_SHAPE;
  cg_shape s = t->u->shape;
  for (int i = 0; i < s.ndim; i++)
    if (s.var[i]) s.d[i] = s.var[i]->value;
  return s;
}
int64_t cg_numel(const cg_tensor *t) { return t ? shape_numel_now(t->u->shape) : 0; }
cg_dtype cg_get_dtype(const cg_tensor *t) { return t ? (cg_dtype)t->u->dtype : CG_F32; }
const char *cg_get_device(const cg_tensor *t) { return t ? cg_device_get(t->u->dev)->name : NULL; }

int cg_realize(cg_tensor *t) { return cg_realize_all(&t, 1); }

/* Copy the region [0, value) of every symbolic dim out of a buffer laid out at max extents. */
static void copy_region(unsigned char *dst, const unsigned char *src, cg_shape s, int dim, size_t esz,
                        size_t *written) {
  if (dim == s.ndim) {
    memcpy(dst + *written, src, esz);
    *written += esz;
    return;
  }
  size_t stride = esz;
  for (int i = dim + 1; i < s.ndim; i++) stride *= (size_t)s.d[i];
  int64_t n = s.var[dim] ? s.var[dim]->value : s.d[dim];
  for (int64_t i = 0; i < n; i++) copy_region(dst, src + i * stride, s, dim + 1, esz, written);
}

int cg_to_data(cg_tensor *t, void *out, size_t nbytes) {
  if (!t) return -1;
  size_t esz = (size_t)cg_dtype_size(cg_get_dtype(t)), need = (size_t)cg_numel(t) * esz;
  if (nbytes < need) {
    cg_set_error("cg_to_data: output holds %zu bytes, tensor needs %zu", nbytes, need);
    return -1;
  }
  if (cg_realize(t) != 0) return -1;
  if (!need) return 0;
  cg_buffer *b = (t->u->op == OP_BUFFER ? t->u : t->u->realized)->ptr;
  if (!shape_has_var(t->u->shape)) return cg_device_get(b->dev)->copyout(out, b->ptr, need);
  unsigned char *full = cg_xmalloc(b->nbytes);
  int rc = cg_device_get(b->dev)->copyout(full, b->ptr, b->nbytes);
  size_t written = 0;
  if (!rc) copy_region(out, full, t->u->shape, 0, esz, &written);
  free(full);
  return rc;
}

double cg_item(cg_tensor *t) {
  if (!t) return NAN;
  if (cg_numel(t) != 1) {
    cg_set_error("cg_item: tensor has %lld elements, needs exactly 1", (long long)cg_numel(t));
    return NAN;
  }
  unsigned char buf[8];
  if (cg_to_data(t, buf, sizeof buf) != 0) return NAN;
  cg_val v = cg_val_load(t->u->dtype, buf);
  if (cg_dtype_is_float(t->u->dtype)) return v.f;
  return cg_dtype_is_unsigned(t->u->dtype) ? (double)(uint64_t)v.i : (double)v.i;
}

static void print_rec(const unsigned char *data, cg_shape s, int dim, int64_t *off, int dt) {
  if (dim == s.ndim) {
    cg_val v = cg_val_load(dt, data + *off * cg_dtype_size(dt));
    (*off)++;
    if (cg_dtype_is_float(dt)) printf("%.6g", v.f);
    else if (cg_dtype_is_unsigned(dt)) printf("%llu", (unsigned long long)v.i);
    else printf("%lld", (long long)v.i);
    return;
  }
  printf("[");
  for (int64_t i = 0; i < s.d[dim]; i++) {
    if (i) printf(", ");
    print_rec(data, s, dim + 1, off, dt);
  }
  printf("]");
}

void cg_print(cg_tensor *t) {
  if (!t) { printf("<error: %s>\n", cg_last_error()); return; }
  cg_shape now = cg_get_shape(t);
  size_t n = (size_t)cg_numel(t) * cg_dtype_size(cg_get_dtype(t));
  unsigned char *buf = cg_xmalloc(n);
  if (cg_to_data(t, buf, n) == 0) {
    int64_t off = 0;
    print_rec(buf, now, 0, &off, t->u->dtype);
    printf(" %s\n", cg_dtype_name(cg_get_dtype(t)));
  } else {
    printf("<error: %s>\n", cg_last_error());
  }
  free(buf);
}
