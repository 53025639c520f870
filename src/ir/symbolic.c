/* Symbolic simplifier rules for kernel graphs (arena contexts): constant folding, integer
   identities, bound-based folds and div/mod algebra on index expressions. Integer ADD/MUL wrap,
   so they form a ring and identities like x*2+x*3 == x*5 hold for any values; rules that need
   true-integer reasoning (IDIV, MOD, compares) first prove from bounds that nothing wraps.
   Floats only get constant folding and WHERE folds: their algebra is not exact (-0.0, NaN). */
#include "alu.h"
#include "rewrite.h"

/* ---- small helpers ---- */
static int is_int(int dt) { return !cg_dtype_is_float(dt); }
/* integer arithmetic dtypes (bool has no useful ADD/MUL algebra) */
static int is_arith(int dt) { return is_int(dt) && dt != CG_BOOL; }
static int is_cint(const uop *u) { return u->op == OP_CONST && is_int(u->dtype); }
static int is_pos_cint(const uop *u) { return is_cint(u) && u->ival > 0; }
static int64_t wrap(int dt, int64_t v) { return cg_dtype_wrap_int(dt, v); }
static int64_t wadd(int dt, int64_t a, int64_t b) { return wrap(dt, (int64_t)((uint64_t)a + (uint64_t)b)); }
static int64_t wmul(int dt, int64_t a, int64_t b) { return wrap(dt, (int64_t)((uint64_t)a * (uint64_t)b)); }
static int64_t gcd64(int64_t a, int64_t b) {
  a = a < 0 ? -a : a;
  b = b < 0 ? -b : b;
  while (b) { int64_t t = a % b; a = b; b = t; }
  return a;
}

/* compute_bounds reasons in signed terms, which is wrong for uint64 values with the top bit
   set, so bound-based rules never trust a uint64 node or operand. */
static int bounds_trusted(const uop *u) {
  if (u->dtype == CG_U64) return 0;
  for (int i = 0; i < u->nsrc; i++)
    if (u->src[i]->dtype == CG_U64) return 0;
  return 1;
}

static void dtype_range(int dt, int64_t *lo, int64_t *hi) {
  const cg_dtype_info *d = cg_dtype_get(dt);
  int bits = d->size * 8;
  if (dt == CG_BOOL) { *lo = 0; *hi = 1; }
  else if (bits == 64) { *lo = d->is_unsigned ? 0 : INT64_MIN; *hi = INT64_MAX; }
  else if (d->is_unsigned) { *lo = 0; *hi = (int64_t)((1ULL << bits) - 1); }
  else { *lo = -(int64_t)(1ULL << (bits - 1)); *hi = (int64_t)((1ULL << (bits - 1)) - 1); }
}

/* ---- linear form: sum of k_i * t_i + cst ---- */
#define LIN_MAX 64
typedef struct { uop *t; int64_t k; } term;
typedef struct {
  int dt, n, ok;
  int64_t cst;
  term v[LIN_MAX];
} lin;

static void lin_add_term(lin *l, uop *t, int64_t k) {
  for (int i = 0; i < l->n; i++)
    if (l->v[i].t == t) { l->v[i].k = wadd(l->dt, l->v[i].k, k); return; }
  if (l->n == LIN_MAX) { l->ok = 0; return; }
  l->v[l->n++] = (term){t, k};
}

/* Accumulate k*u into l, descending through ADD and MUL-by-constant of the same dtype. */
static void lin_flatten(lin *l, uop *u, int64_t k, int depth) {
  if (!l->ok) return;
  if (depth > LIN_MAX) { l->ok = 0; return; }
  if (is_cint(u)) { l->cst = wadd(l->dt, l->cst, wmul(l->dt, k, u->ival)); return; }
  if (u->dtype == l->dt && u->op == OP_ADD) {
    lin_flatten(l, u->src[0], k, depth + 1);
    lin_flatten(l, u->src[1], k, depth + 1);
    return;
  }
  if (u->dtype == l->dt && u->op == OP_MUL && is_cint(u->src[1])) {
    lin_flatten(l, u->src[0], wmul(l->dt, k, u->src[1]->ival), depth + 1);
    return;
  }
  if (u->dtype == l->dt && u->op == OP_MUL && is_cint(u->src[0])) {
    lin_flatten(l, u->src[1], wmul(l->dt, k, u->src[0]->ival), depth + 1);
    return;
  }
  lin_add_term(l, u, k);
}

static int lin_of(lin *l, uop *u) {
  l->dt = u->dtype;
  l->n = 0;
  l->ok = 1;
  l->cst = 0;
  lin_flatten(l, u, 1, 0);
  return l->ok;
}

/* True-integer bounds of the linear form; 0 if any step overflows or leaves the dtype's range
   (then the wrapped value may differ from the true sum and div/mod reasoning is unsound). */
static int lin_bounds(const lin *l, int64_t *lo, int64_t *hi) {
  int64_t a = l->cst, b = l->cst, dlo, dhi;
  for (int i = 0; i < l->n; i++) {
    const term *t = &l->v[i];
    if (!t->k) continue;
    if (!bounds_trusted(t->t) || t->t->dtype == CG_U64) return 0;
    int64_t x, y;
    if (__builtin_mul_overflow(t->t->vmin, t->k, &x) || __builtin_mul_overflow(t->t->vmax, t->k, &y))
      return 0;
    if (x > y) { int64_t s = x; x = y; y = s; }
    if (__builtin_add_overflow(a, x, &a) || __builtin_add_overflow(b, y, &b)) return 0;
  }
  dtype_range(l->dt, &dlo, &dhi);
  if (a < dlo || b > dhi) return 0;
  *lo = a;
  *hi = b;
  return 1;
}

/* Rebuild as a left-leaning ADD chain in term order, constant last. */
static uop *lin_build(uop_ctx *c, const lin *l) {
  uop *acc = NULL;
  for (int i = 0; i < l->n; i++) {
    const term *t = &l->v[i];
    if (!t->k) continue;
    uop *x = t->k == 1 ? t->t : uop_alu(c, OP_MUL, l->dt, t->t, uop_const_int(c, l->dt, t->k));
    acc = acc ? uop_alu(c, OP_ADD, l->dt, acc, x) : x;
  }
  if (!acc) return uop_const_int(c, l->dt, l->cst);
  return l->cst ? uop_alu(c, OP_ADD, l->dt, acc, uop_const_int(c, l->dt, l->cst)) : acc;
}

/* ---- rules ---- */

/* Any ALU op on constants: evaluate with the shared scalar semantics. */
static uop *r_const_fold(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (!cg_op_is_alu(u->op) || !u->nsrc) return NULL;
  cg_val v[3] = {{0}, {0}, {0}};
  for (int i = 0; i < u->nsrc; i++) {
    uop *s = u->src[i];
    if (s->op != OP_CONST) return NULL;
    if (cg_dtype_is_float(s->dtype)) v[i].f = s->fval;
    else v[i].i = s->ival;
  }
  cg_val r = cg_alu_eval(u->op, u->dtype, u->src[0]->dtype, v[0], v[1], v[2]);
  return cg_dtype_is_float(u->dtype) ? uop_const_float(c, u->dtype, r.f)
                                     : uop_const_int(c, u->dtype, r.i);
}

/* WHERE with a constant condition or equal branches: exact for every dtype. */
static uop *r_where(uop_ctx *c, uop *u, void *rctx) {
  (void)c, (void)rctx;
  if (u->op != OP_WHERE) return NULL;
  uop *cond = u->src[0];
  if (u->src[1] == u->src[2]) return u->src[1];
  if (cond->op != OP_CONST) return NULL;
  int t = cg_dtype_is_float(cond->dtype) ? cond->fval != 0 : cond->ival != 0;
  return t ? u->src[1] : u->src[2];
}

/* An integer node whose bounds pin a single value is that constant (RANGE of size 1 too;
   DEFINE_VAR and LOAD are left alone: their bounds are promises, not proofs of a value). */
static uop *r_bounds_fold(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (!(cg_op_is_alu(u->op) || u->op == OP_RANGE) || !is_int(u->dtype)) return NULL;
  if (!bounds_trusted(u) || u->vmin != u->vmax) return NULL;
  return uop_const_int(c, u->dtype, u->vmin);
}

/* Integer compares decided by disjoint or ordered ranges; also x<x and x!=x. */
static uop *r_cmp_bounds(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (u->op != OP_CMPLT && u->op != OP_CMPNE) return NULL;
  uop *a = u->src[0], *b = u->src[1];
  if (!is_int(a->dtype) || !bounds_trusted(u)) return NULL;
  if (a == b) return uop_const_int(c, u->dtype, 0);
  if (u->op == OP_CMPLT) {
    if (a->vmax < b->vmin) return uop_const_int(c, u->dtype, 1);
    if (a->vmin >= b->vmax) return uop_const_int(c, u->dtype, 0);
    return NULL;
  }
  if (a->vmax < b->vmin || b->vmax < a->vmin) return uop_const_int(c, u->dtype, 1);
  return NULL;
}

/* MAX of integers decided by ordered ranges, or of a value with itself. */
static uop *r_max_bounds(uop_ctx *c, uop *u, void *rctx) {
  (void)c, (void)rctx;
  if (u->op != OP_MAX || !is_int(u->dtype) || !bounds_trusted(u)) return NULL;
  uop *a = u->src[0], *b = u->src[1];
  if (a == b || a->vmin >= b->vmax) return a;
  if (b->vmin >= a->vmax) return b;
  return NULL;
}

/* Canonical order for integer commutative ops: the constant goes second, so the rules below
   only look at src[1]. */
static uop *r_const_second(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (!cg_op_is_commutative(u->op) || u->nsrc != 2 || !is_int(u->src[0]->dtype)) return NULL;
  if (u->src[0]->op != OP_CONST || u->src[1]->op == OP_CONST) return NULL;
  uop *s[2] = {u->src[1], u->src[0]};
  return uop_replace_src(c, u, s, 2);
}

/* Integer/bool identities with a constant second operand. */
static uop *r_identity(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (u->nsrc != 2 || !is_int(u->dtype) || !is_cint(u->src[1])) return NULL;
  uop *x = u->src[0];
  int64_t k = u->src[1]->ival, ones = wrap(u->dtype, -1);
  if (!is_int(x->dtype)) return NULL;
  switch (u->op) {
  case OP_ADD: case OP_OR: case OP_XOR: case OP_SHL: case OP_SHR:
    if (k == 0) return x;
    if (u->op == OP_OR && k == ones) return u->src[1];
    return NULL;
  case OP_MUL: return k == 1 ? x : k == 0 ? u->src[1] : NULL;
  case OP_AND: return k == ones ? x : k == 0 ? u->src[1] : NULL;
  case OP_IDIV: return k == 1 ? x : NULL;
  case OP_MOD: return k == 1 ? uop_const_int(c, u->dtype, 0) : NULL;
  case OP_CMPNE: return x->dtype == CG_BOOL && k == 0 ? x : NULL;
  default: return NULL;
  }
}

/* x * 1.0 -> x for floats: exact in IEEE arithmetic (NaN, infinities and -0.0 come through
   unchanged). A gradient seeded with ones brings it (the sum's backward times g). */
static uop *r_float_identity(uop_ctx *c, uop *u, void *rctx) {
  (void)c, (void)rctx;
  if (u->op != OP_MUL || u->nsrc != 2 || !cg_dtype_is_float(u->dtype)) return NULL;
  for (int i = 0; i < 2; i++) {
    const uop *k = u->src[i], *x = u->src[1 - i];
    if (k->op == OP_CONST && k->dtype == u->dtype && k->fval == 1.0 && x->dtype == u->dtype) return u->src[1 - i];
  }
  return NULL;
}

/* (x+c1)+c2 -> x+(c1+c2) and (x*c1)*c2 -> x*(c1*c2): wrapping constants keep ring identity. */
static uop *r_assoc_const(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if ((u->op != OP_ADD && u->op != OP_MUL) || !is_arith(u->dtype) || !is_cint(u->src[1]))
    return NULL;
  uop *a = u->src[0];
  if (a->op != u->op || a->dtype != u->dtype || !is_cint(a->src[1])) return NULL;
  int64_t k = u->op == OP_ADD ? wadd(u->dtype, a->src[1]->ival, u->src[1]->ival)
                              : wmul(u->dtype, a->src[1]->ival, u->src[1]->ival);
  return uop_alu(c, u->op, u->dtype, a->src[0], uop_const_int(c, u->dtype, k));
}

/* (x+y)*c -> x*c + y*c, so sums stay flat and like terms can meet. */
static uop *r_distribute(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (u->op != OP_MUL || !is_arith(u->dtype) || !is_cint(u->src[1])) return NULL;
  uop *a = u->src[0], *k = u->src[1];
  if (a->op != OP_ADD || a->dtype != u->dtype) return NULL;
  return uop_alu(c, OP_ADD, u->dtype, uop_alu(c, OP_MUL, u->dtype, a->src[0], k),
                 uop_alu(c, OP_MUL, u->dtype, a->src[1], k));
}

/* y when r = y % d is the remainder that pairs with the quotient q = x // D: y = x and d = D, or
   y = x // a with a*d = D (the quotient's x // (a*d) is (x // a) // d, folded by r_idiv: the
   digits of a flattened index, x%7 + ((x//7)%7)*7 + (x//49)*49). NULL otherwise. */
static uop *divmod_partner(const uop *q, const uop *r) {
  if (r->op != OP_MOD || !is_pos_cint(r->src[1])) return NULL;
  uop *y = r->src[0];
  int64_t d = r->src[1]->ival, D = q->src[1]->ival, ad;
  if (y == q->src[0] && d == D) return y;
  if (y->op == OP_IDIV && y->src[0] == q->src[0] && is_pos_cint(y->src[1]) &&
      !__builtin_mul_overflow(y->src[1]->ival, d, &ad) && ad == D)
    return y;
  return NULL;
}

/* In a linear form, replace (x//D)*d*m + (y%d)*m by y*m (y = x with D = d, or x//a with
   D = a*d). C's truncating division guarantees (y/d)*d + y%d == y for every y and
   (x/a)/d == x/(a*d) for positive a and d, so no sign condition is needed. Returns 1 if it
   changed. */
static int lin_recombine_divmod(lin *l) {
  int changed = 0;
  for (int i = 0; i < l->n && l->ok; i++) {
    uop *q = l->v[i].t;
    if (!l->v[i].k || q->op != OP_IDIV || !is_pos_cint(q->src[1])) continue;
    for (int j = 0; j < l->n; j++) {
      uop *y = l->v[j].k ? divmod_partner(q, l->v[j].t) : NULL;
      if (!y) continue;
      int64_t d = l->v[j].t->src[1]->ival, m = l->v[j].k, md;
      if (__builtin_mul_overflow(m, d, &md) || l->v[i].k != md) continue;
      l->v[i].k = l->v[j].k = 0;
      lin_flatten(l, y, m, 0);
      changed = 1;
      break;
    }
  }
  return changed;
}

/* Normalize integer sums: flatten, merge like terms, drop zero terms, recombine div/mod pairs.
   Returns NULL when the rebuilt chain is the node itself, which keeps the rewrite finite. */
static uop *r_sum_normalize(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (u->op != OP_ADD || !is_arith(u->dtype)) return NULL;
  lin l;
  if (!lin_of(&l, u)) return NULL;
  while (lin_recombine_divmod(&l)) {}
  if (!l.ok) return NULL;
  uop *r = lin_build(c, &l);
  return r == u ? NULL : r;
}

/* Split x = d*P + R term by term: each coefficient k -> (k/d, k%d) truncating, the constant
   with a floor remainder so R's constant lands in [0, d). */
static void lin_split(const lin *x, int64_t d, lin *p, lin *r) {
  *p = *r = (lin){.dt = x->dt, .ok = 1};
  for (int i = 0; i < x->n; i++) {
    int64_t k = x->v[i].k;
    p->v[p->n++] = (term){x->v[i].t, k / d};
    r->v[r->n++] = (term){x->v[i].t, k % d};
  }
  int64_t q = x->cst / d, cr = x->cst % d;
  if (cr < 0) cr += d, q -= 1; /* floor division, written so it cannot overflow */
  r->cst = cr;
  p->cst = q;
}

/* x = a*X + Y with a > 1 dividing d, X >= 0 and 0 <= Y < a, where X gathers the terms whose
   coefficients a divides (divided by a) and Y the others and the constant: then
   x//d = X//(d/a) and x%d = a*(X%(d/a)) + Y. A flattened index over a window layout, (28h + w)//56
   with w < 28, is h//2. a is tried from each coefficient's gcd with d, largest first; 0 if none
   fits. */
static int64_t lin_factor(const lin *l, int64_t d, lin *X, lin *Y) {
  int64_t best = 0, lo, hi;
  for (int i = 0; i < l->n; i++) {
    int64_t a = gcd64(l->v[i].k < 0 ? -l->v[i].k : l->v[i].k, d);
    if (a <= 1 || a <= best) continue;
    lin x = {.dt = l->dt, .ok = 1}, y = {.dt = l->dt, .ok = 1, .cst = l->cst};
    for (int j = 0; j < l->n; j++) {
      if (l->v[j].k % a == 0) x.v[x.n++] = (term){l->v[j].t, l->v[j].k / a};
      else y.v[y.n++] = l->v[j];
    }
    if (!y.n || !lin_bounds(&y, &lo, &hi) || lo < 0 || hi >= a || !lin_bounds(&x, &lo, &hi) || lo < 0) continue;
    best = a;
    *X = x;
    *Y = y;
  }
  return best;
}

/* x//d with d > 0: (x//a)//d -> x//(a*d); (x%(d*m))//d -> (x//d)%m for x >= 0;
   x = d*P + R with x, R >= 0 -> P + R//d (R//d dropped when R < d); a*X + Y -> X//(d/a)
   (lin_factor); common factors of the whole sum and d cancel: (g*S)//(g*e) -> S//e for S >= 0. */
static uop *r_idiv(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (u->op != OP_IDIV || !is_arith(u->dtype) || !is_pos_cint(u->src[1]) || !bounds_trusted(u))
    return NULL;
  int dt = u->dtype;
  uop *x = u->src[0];
  int64_t d = u->src[1]->ival, ad, dlo, dhi;
  dtype_range(dt, &dlo, &dhi);
  if (x->op == OP_IDIV && is_pos_cint(x->src[1]) &&
      !__builtin_mul_overflow(x->src[1]->ival, d, &ad) && ad <= dhi)
    return uop_alu(c, OP_IDIV, dt, x->src[0], uop_const_int(c, dt, ad)); /* trunc nests exactly */
  if (x->op == OP_MOD && is_pos_cint(x->src[1]) && x->src[1]->ival % d == 0 && x->src[0]->vmin >= 0)
    return uop_alu(c, OP_MOD, dt, uop_alu(c, OP_IDIV, dt, x->src[0], u->src[1]),
                   uop_const_int(c, dt, x->src[1]->ival / d));
  lin l, p, r;
  int64_t lo, hi, rlo, rhi;
  if (!lin_of(&l, x) || !lin_bounds(&l, &lo, &hi) || lo < 0) return NULL;
  lin_split(&l, d, &p, &r);
  int pulled = p.cst != 0;
  for (int i = 0; i < p.n; i++) pulled |= p.v[i].k != 0;
  if (pulled && lin_bounds(&r, &rlo, &rhi) && rlo >= 0) {
    uop *pn = lin_build(c, &p);
    if (rhi < d) return pn;
    return uop_alu(c, OP_ADD, dt, pn, uop_alu(c, OP_IDIV, dt, lin_build(c, &r), u->src[1]));
  }
  int64_t a = lin_factor(&l, d, &p, &r);
  if (a) return a == d ? lin_build(c, &p) : uop_alu(c, OP_IDIV, dt, lin_build(c, &p), uop_const_int(c, dt, d / a));
  int64_t g = gcd64(d, l.cst);
  for (int i = 0; i < l.n; i++) g = gcd64(g, l.v[i].k);
  if (g <= 1) return NULL;
  for (int i = 0; i < l.n; i++) l.v[i].k /= g;
  l.cst /= g;
  return uop_alu(c, OP_IDIV, dt, lin_build(c, &l), uop_const_int(c, dt, d / g));
}

/* x%d with d > 0 and x >= 0: x < d -> x; (x%a)%d -> x%d when d divides a; reduce every
   coefficient and the constant modulo d when the reduced sum R stays >= 0 (x-R is a
   multiple of d and both are non-negative, so truncating mod agrees); a*X + Y ->
   a*(X%(d/a)) + Y (lin_factor). */
static uop *r_mod(uop_ctx *c, uop *u, void *rctx) {
  (void)rctx;
  if (u->op != OP_MOD || !is_arith(u->dtype) || !is_pos_cint(u->src[1]) || !bounds_trusted(u))
    return NULL;
  int dt = u->dtype;
  uop *x = u->src[0];
  int64_t d = u->src[1]->ival;
  if (x->vmin < 0) return NULL;
  if (x->vmax < d) return x;
  if (x->op == OP_MOD && is_pos_cint(x->src[1]) && x->src[1]->ival % d == 0)
    return uop_alu(c, OP_MOD, dt, x->src[0], u->src[1]);
  lin l, p, r;
  int64_t lo, hi, rlo, rhi;
  if (!lin_of(&l, x) || !lin_bounds(&l, &lo, &hi) || lo < 0) return NULL;
  lin_split(&l, d, &p, &r);
  int changed = r.cst != l.cst;
  for (int i = 0; i < l.n; i++) changed |= r.v[i].k != l.v[i].k;
  if (changed && lin_bounds(&r, &rlo, &rhi) && rlo >= 0) return uop_alu(c, OP_MOD, dt, lin_build(c, &r), u->src[1]);
  int64_t a = lin_factor(&l, d, &p, &r); /* a*(X % (d/a)) + Y */
  if (!a || a == d) return NULL;
  uop *xm = uop_alu(c, OP_MOD, dt, lin_build(c, &p), uop_const_int(c, dt, d / a));
  return uop_alu(c, OP_ADD, dt, uop_alu(c, OP_MUL, dt, xm, uop_const_int(c, dt, a)), lin_build(c, &r));
}

const cg_rule cg_symbolic_rules[] = {
    r_const_fold, r_where,    r_bounds_fold,   r_cmp_bounds, r_max_bounds, r_const_second,
    r_identity,   r_assoc_const, r_distribute, r_sum_normalize, r_idiv,    r_mod,
    r_float_identity,
};
const int cg_symbolic_nrules = (int)(sizeof cg_symbolic_rules / sizeof cg_symbolic_rules[0]);
