/* UOp interning, reference counting, arenas and bounds of integer expressions. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "uop.h"

struct uop_ctx {
  int arena;
  uop **table;
  size_t cap, len;
  char **chunks;             /* arena memory */
  size_t nchunks, used, chunk_cap;
};

static const char *op_names[] = {
#define X(name) #name,
    CG_OPS(X)
#undef X
};
const char *cg_op_name(int op) { return op >= 0 && op < OP_COUNT ? op_names[op] : "?"; }

void (*uop_release_ptr)(uop *u);
static uop_ctx global_ctx;
uop_ctx *uop_global(void) { return &global_ctx; }
size_t uop_global_live(void) { return global_ctx.len; }

void uop_global_histogram(size_t counts[OP_COUNT]) {
  for (int i = 0; i < OP_COUNT; i++) counts[i] = 0;
  for (size_t i = 0; i < global_ctx.cap; i++)
    for (uop *e = global_ctx.table[i]; e; e = e->next) counts[e->op]++;
}

uop_ctx *uop_arena_new(void) {
  uop_ctx *c = cg_xcalloc(1, sizeof *c);
  c->arena = 1;
  return c;
}

void uop_arena_free(uop_ctx *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nchunks; i++) free(c->chunks[i]);
  free(c->chunks);
  free(c->table);
  free(c);
}

void uop_global_shutdown(void) {
  free(global_ctx.table);
  memset(&global_ctx, 0, sizeof global_ctx);
}

static void *ctx_alloc(uop_ctx *c, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (!c->arena) return cg_xcalloc(1, n);
  if (!c->nchunks || c->used + n > c->chunk_cap) {
    size_t cap = n > 65536 ? n : 65536;
    c->chunks = cg_xrealloc(c->chunks, (c->nchunks + 1) * sizeof(char *));
    c->chunks[c->nchunks++] = cg_xcalloc(1, cap);
    c->used = 0;
    c->chunk_cap = cap;
  }
  void *p = c->chunks[c->nchunks - 1] + c->used;
  c->used += n;
  return p;
}

static uint64_t hash_of(int op, int dtype, uop *const *src, int nsrc, const uop_arg *a) {
  uint64_t h = cg_hash_mix((uint64_t)op, (uint64_t)dtype);
  for (int i = 0; i < nsrc; i++) h = cg_hash_mix(h, src[i]->hash);
  uint64_t fbits;
  memcpy(&fbits, &a->fval, 8);
  h = cg_hash_mix(cg_hash_mix(cg_hash_mix(h, (uint64_t)a->ival), (uint64_t)a->ival2), fbits);
  h = cg_hash_mix(h, (uint64_t)(uintptr_t)a->ptr);
  for (int i = 0; i < a->nv; i++) h = cg_hash_mix(h, (uint64_t)a->v[i]);
  return cg_hash_mix(h, (uint64_t)a->nv);
}

static int same(const uop *u, int op, int dtype, uop *const *src, int nsrc, const uop_arg *a) {
  if (u->op != op || u->dtype != dtype || u->nsrc != nsrc || u->ival != a->ival ||
      u->ival2 != a->ival2 || u->ptr != a->ptr || u->nv != a->nv)
    return 0;
  if (memcmp(&u->fval, &a->fval, sizeof(double))) return 0;
  for (int i = 0; i < nsrc; i++)
    if (u->src[i] != src[i]) return 0;
  return !a->nv || !memcmp(u->v, a->v, a->nv * sizeof(int64_t));
}

static void table_insert(uop_ctx *c, uop *u) {
  if ((c->len + 1) * 4 > c->cap * 3) {
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    uop **nt = cg_xcalloc(ncap, sizeof(uop *));
    for (size_t i = 0; i < c->cap; i++)
      for (uop *e = c->table[i], *nx; e; e = nx) {
        nx = e->next;
        e->next = nt[e->hash & (ncap - 1)];
        nt[e->hash & (ncap - 1)] = e;
      }
    free(c->table);
    c->table = nt;
    c->cap = ncap;
  }
  u->next = c->table[u->hash & (c->cap - 1)];
  c->table[u->hash & (c->cap - 1)] = u;
  c->len++;
}

/* ---- bounds of integer kernel expressions ---- */
static void dtype_bounds(int dt, int64_t *lo, int64_t *hi) {
  switch (dt) {
  case CG_BOOL: *lo = 0; *hi = 1; return;
  case CG_I8: *lo = INT8_MIN; *hi = INT8_MAX; return;
  case CG_U8: *lo = 0; *hi = UINT8_MAX; return;
  case CG_I16: *lo = INT16_MIN; *hi = INT16_MAX; return;
  case CG_U16: *lo = 0; *hi = UINT16_MAX; return;
  case CG_I32: *lo = INT32_MIN; *hi = INT32_MAX; return;
  case CG_U32: *lo = 0; *hi = UINT32_MAX; return;
  default: *lo = INT64_MIN; *hi = INT64_MAX; return;
  }
}

static int mul_ok(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }

static void compute_bounds(uop *u) {
  int64_t lo, hi;
  dtype_bounds(u->dtype, &lo, &hi);
  uop *a = u->nsrc > 0 ? u->src[0] : NULL, *b = u->nsrc > 1 ? u->src[1] : NULL;
  int64_t r[4];
  switch (u->op) {
  case OP_CONST: if (!cg_dtype_is_float(u->dtype)) lo = hi = u->ival; break;
  case OP_RANGE: lo = 0; hi = a->vmax - 1; break;
  case OP_DEFINE_VAR: lo = u->ival; hi = u->ival2; break;
  case OP_CMPLT: case OP_CMPNE: lo = 0; hi = 1; break;
  case OP_ADD:
    if (!__builtin_add_overflow(a->vmin, b->vmin, &r[0]) &&
        !__builtin_add_overflow(a->vmax, b->vmax, &r[1]) && r[0] >= lo && r[1] <= hi)
      lo = r[0], hi = r[1];
    break;
  case OP_MUL:
    if (mul_ok(a->vmin, b->vmin, &r[0]) && mul_ok(a->vmin, b->vmax, &r[1]) &&
        mul_ok(a->vmax, b->vmin, &r[2]) && mul_ok(a->vmax, b->vmax, &r[3])) {
      int64_t mn = r[0], mx = r[0];
      for (int i = 1; i < 4; i++) mn = r[i] < mn ? r[i] : mn, mx = r[i] > mx ? r[i] : mx;
      if (mn >= lo && mx <= hi) lo = mn, hi = mx;
    }
    break;
  case OP_IDIV:
    if (b->vmin == b->vmax && b->vmin > 0) lo = a->vmin / b->vmin, hi = a->vmax / b->vmin;
    break;
  case OP_MOD:
    if (b->vmin == b->vmax && b->vmin > 0) {
      int64_t c = b->vmin;
      if (a->vmin >= 0) lo = 0, hi = a->vmax < c - 1 ? a->vmax : c - 1;
      else lo = -(c - 1), hi = c - 1;
    }
    break;
  case OP_MAX:
    lo = a->vmin > b->vmin ? a->vmin : b->vmin;
    hi = a->vmax > b->vmax ? a->vmax : b->vmax;
    break;
  case OP_WHERE:
    lo = u->src[1]->vmin < u->src[2]->vmin ? u->src[1]->vmin : u->src[2]->vmin;
    hi = u->src[1]->vmax > u->src[2]->vmax ? u->src[1]->vmax : u->src[2]->vmax;
    break;
  case OP_CAST:
    if (!cg_dtype_is_float(a->dtype) && a->vmin >= lo && a->vmax <= hi) lo = a->vmin, hi = a->vmax;
    break;
  case OP_AND:
    if (u->dtype == CG_BOOL) break;
    if (b->vmin == b->vmax && b->vmin >= 0) lo = 0, hi = b->vmin;
    break;
  default: break;
  }
  u->vmin = lo;
  u->vmax = hi;
}

uop *uop_new(uop_ctx *c, int op, int dtype, uop *const *src, int nsrc, uop_arg arg,
             const cg_shape *shape) {
  uint64_t h = hash_of(op, dtype, src, nsrc, &arg);
  if (c->cap)
    for (uop *e = c->table[h & (c->cap - 1)]; e; e = e->next)
      if (e->hash == h && same(e, op, dtype, src, nsrc, &arg)) return c->arena ? e : uop_ref(e);
  uop *u = ctx_alloc(c, sizeof *u);
  u->op = (uint8_t)op;
  u->dtype = (uint8_t)dtype;
  u->nsrc = (uint8_t)nsrc;
  u->hash = h;
  u->ctx = c;
  u->refcnt = 1;
  u->src = nsrc ? ctx_alloc(c, nsrc * sizeof(uop *)) : NULL;
  u->has_var = op == OP_DEFINE_VAR;
  for (int i = 0; i < nsrc; i++) {
    u->src[i] = c->arena ? src[i] : uop_ref(src[i]);
    u->has_var |= src[i]->has_var;
  }
  u->ival = arg.ival;
  u->ival2 = arg.ival2;
  u->fval = arg.fval;
  u->ptr = arg.ptr;
  u->nv = arg.nv;
  if (arg.nv) {
    u->v = ctx_alloc(c, arg.nv * sizeof(int64_t));
    memcpy(u->v, arg.v, arg.nv * sizeof(int64_t));
  }
  if (shape) u->shape = *shape;
  if (c->arena) compute_bounds(u);
  table_insert(c, u);
  return u;
}

uop *uop_ref(uop *u) {
  if (u && !u->ctx->arena) u->refcnt++;
  return u;
}

static void table_remove(uop_ctx *c, uop *u) {
  uop **pp = &c->table[u->hash & (c->cap - 1)];
  while (*pp != u) pp = &(*pp)->next;
  *pp = u->next;
  c->len--;
}

void uop_unref(uop *u) {
  /* iterative over a worklist: long chains must not overflow the C stack */
  uop *stack_small[64], **stack = stack_small;
  size_t n = 0, cap = 64;
  if (!u || u->ctx->arena) return;
  stack[n++] = u;
  while (n) {
    uop *x = stack[--n];
    if (--x->refcnt > 0) continue;
    table_remove(x->ctx, x);
    if (uop_release_ptr && (x->op == OP_BUFFER || x->op == OP_DEFINE_VAR)) uop_release_ptr(x);
    size_t need = n + x->nsrc + 1;
    if (need > cap) {
      uop **ns = cg_xmalloc(need * 2 * sizeof(uop *));
      memcpy(ns, stack, n * sizeof(uop *));
      if (stack != stack_small) free(stack);
      stack = ns;
      cap = need * 2;
    }
    for (int i = 0; i < x->nsrc; i++) stack[n++] = x->src[i];
    if (x->realized) stack[n++] = x->realized;
    free(x->src);
    free(x->v);
    free(x);
  }
  if (stack != stack_small) free(stack);
}

uop *uop_const_int(uop_ctx *c, int dtype, int64_t v) {
  return uop_new(c, OP_CONST, dtype, NULL, 0, (uop_arg){.ival = cg_dtype_wrap_int(dtype, v)}, NULL);
}

uop *uop_const_float(uop_ctx *c, int dtype, double v) {
  if (!cg_dtype_is_float(dtype)) return uop_const_int(c, dtype, (int64_t)v);
  return uop_new(c, OP_CONST, dtype, NULL, 0, (uop_arg){.fval = cg_dtype_round_float(dtype, v)},
                 NULL);
}

uop *uop_alu(uop_ctx *c, int op, int dtype, uop *a, uop *b) {
  uop *s[2] = {a, b};
  return uop_new(c, op, dtype, s, b ? 2 : 1, (uop_arg){0}, NULL);
}

uop *uop_where(uop_ctx *c, uop *cond, uop *a, uop *b) {
  uop *s[3] = {cond, a, b};
  return uop_new(c, OP_WHERE, a->dtype, s, 3, (uop_arg){0}, NULL);
}

int uop_is_const(const uop *u) { return u->op == OP_CONST; }
int uop_is_const_int(const uop *u, int64_t v) {
  return u->op == OP_CONST && !cg_dtype_is_float(u->dtype) && u->ival == v;
}

static void print_rec(const uop *u, cg_sbuf *out, int depth, cg_ptrmap *seen) {
  cg_sbuf_printf(out, "%*s%s %s", depth * 2, "", cg_op_name(u->op), cg_dtype_name(u->dtype));
  if (u->op == OP_CONST)
    cg_dtype_is_float(u->dtype) ? cg_sbuf_printf(out, " %g", u->fval)
                                : cg_sbuf_printf(out, " %lld", (long long)u->ival);
  else if (u->op == OP_RANGE || u->op == OP_PARAM || u->op == OP_REDUCE || u->op == OP_REDUCE_AXIS)
    cg_sbuf_printf(out, " arg=%lld", (long long)u->ival);
  if (u->nv) {
    cg_sbuf_printf(out, " [");
    for (int i = 0; i < u->nv; i++) cg_sbuf_printf(out, "%s%lld", i ? "," : "", (long long)u->v[i]);
    cg_sbuf_printf(out, "]");
  }
  if (cg_ptrmap_get(seen, u)) { cg_sbuf_printf(out, " (seen)\n"); return; }
  cg_ptrmap_put(seen, u, (void *)1);
  cg_sbuf_printf(out, "\n");
  for (int i = 0; i < u->nsrc; i++) print_rec(u->src[i], out, depth + 1, seen);
}

void uop_print(const uop *u, cg_sbuf *out) {
  cg_ptrmap seen = {0};
  print_rec(u, out, 0, &seen);
  cg_ptrmap_free(&seen);
}
