/* Unit test of the symbolic simplifier: exact results of known rewrites (by pointer equality,
   thanks to hash-consing) and a brute-force check that random index expressions keep their
   value at every point of their ranges. */
#include <stdio.h>
#include <stdlib.h>
#include "ir/alu.h"
#include "ir/rewrite.h"

static int failures;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) { fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #cond); failures++; } \
  } while (0)

static uop_ctx *C;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static int rnd(int n) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return (int)(rng_state % (uint64_t)n);
}
static int DT = CG_I64; /* dtype of the test's integer constants */
static uop *ci(int64_t v) { return uop_const_int(C, DT, v); }
static int64_t pick_big(void) { /* large multipliers exercise the no-overflow guards (int32) */
  static const int64_t v[] = {1 << 20, (1 << 29) + 3, 1 << 30, 65536 * 3};
  return v[rnd(4)];
}
static uop *add(uop *a, uop *b) { return uop_alu(C, OP_ADD, a->dtype, a, b); }
static uop *mul(uop *a, uop *b) { return uop_alu(C, OP_MUL, a->dtype, a, b); }
static uop *idiv(uop *a, uop *b) { return uop_alu(C, OP_IDIV, a->dtype, a, b); }
static uop *mod(uop *a, uop *b) { return uop_alu(C, OP_MOD, a->dtype, a, b); }
static uop *range(int id, int64_t n) {
  uop *end = uop_const_int(C, CG_I64, n);
  return uop_new(C, OP_RANGE, CG_I64, &end, 1, (uop_arg){.ival = id, .ival2 = RANGE_GLOBAL}, NULL);
}
static uop *S(uop *u) { return cg_simplify(C, u); }

static void dump(const char *what, uop *u) {
  cg_sbuf sb = {0};
  uop_print(u, &sb);
  fprintf(stderr, "%s:\n%s", what, sb.s ? sb.s : "");
  cg_sbuf_free(&sb);
}
#define EXPECT(expr, want)                                          \
  do {                                                              \
    uop *got_ = S(expr), *want_ = (want);                           \
    if (got_ != want_) {                                            \
      fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #expr); \
      dump("got", got_), dump("want", want_);                       \
      failures++;                                                   \
    }                                                               \
  } while (0)

/* ---- reference evaluator: RANGE id i takes vals[i] ---- */
static cg_val eval(uop *u, const int64_t *vals) {
  cg_val v[3] = {{0}, {0}, {0}};
  switch (u->op) {
  case OP_CONST: return cg_dtype_is_float(u->dtype) ? (cg_val){.f = u->fval} : (cg_val){.i = u->ival};
  case OP_RANGE: return (cg_val){.i = vals[u->ival]};
  default: break;
  }
  for (int i = 0; i < u->nsrc; i++) v[i] = eval(u->src[i], vals);
  return cg_alu_eval(u->op, u->dtype, u->src[0]->dtype, v[0], v[1], v[2]);
}

static void test_exact(void) {
  uop *x = range(0, 10), *y = range(1, 4), *g = range(2, 40), *h = range(3, 100);
  /* div/mod folding */
  EXPECT(idiv(add(mul(x, ci(4)), y), ci(4)), x);
  EXPECT(mod(add(mul(x, ci(4)), y), ci(4)), y);
  EXPECT(add(mul(idiv(g, ci(8)), ci(8)), mod(g, ci(8))), g);
  EXPECT(add(mod(g, ci(8)), mul(idiv(g, ci(8)), ci(8))), g);
  EXPECT(add(mul(mod(idiv(g, ci(8)), ci(5)), ci(8)), mod(g, ci(8))), g);
  /* the digits of a flattened (c, h, w) index put back together (a reshape of a stored map) */
  uop *fl = range(6, 1568);
  EXPECT(add(add(mod(fl, ci(7)), mul(mod(idiv(fl, ci(7)), ci(7)), ci(7))), mul(idiv(fl, ci(49)), ci(49))), fl);
  EXPECT(add(mul(idiv(fl, ci(49)), ci(98)), mul(mod(idiv(fl, ci(7)), ci(7)), ci(14))), mul(idiv(fl, ci(7)), ci(14)));
  EXPECT(mod(h, ci(100)), h);
  EXPECT(idiv(h, ci(100)), ci(0));
  EXPECT(idiv(idiv(h, ci(2)), ci(5)), idiv(h, ci(10)));
  EXPECT(mod(mod(h, ci(12)), ci(4)), mod(h, ci(4)));
  EXPECT(idiv(mod(h, ci(12)), ci(4)), mod(idiv(h, ci(4)), ci(3)));
  EXPECT(idiv(add(mul(x, ci(8)), ci(5)), ci(4)), add(mul(x, ci(2)), ci(1)));
  EXPECT(idiv(mul(x, ci(6)), ci(4)), add(x, idiv(x, ci(2))));  /* 6x = 4x + 2x; 2x//4 = x//2 */
  EXPECT(idiv(add(mul(x, ci(6)), mul(y, ci(2))), ci(4)), add(x, idiv(add(x, y), ci(2))));
  /* a window layout's flat index: (28h + w)//56 = h//2 and (28h + w)%56 = 28(h%2) + w, w < 28 */
  uop *wh = range(4, 28), *ww = range(5, 28);
  EXPECT(idiv(add(mul(wh, ci(28)), ww), ci(56)), idiv(wh, ci(2)));
  EXPECT(mod(add(mul(wh, ci(28)), ww), ci(56)), add(mul(mod(wh, ci(2)), ci(28)), ww));
  EXPECT(idiv(add(mul(wh, ci(28)), ww), ci(28)), wh);
  /* constant folding, int32 wrap, truncating division */
  EXPECT(add(ci(3), ci(4)), ci(7));
  uop *big = uop_const_int(C, CG_I32, INT32_MAX);
  EXPECT(uop_alu(C, OP_ADD, CG_I32, big, uop_const_int(C, CG_I32, 1)), uop_const_int(C, CG_I32, INT32_MIN));
  EXPECT(idiv(ci(7), ci(-2)), ci(-3));
  EXPECT(mod(ci(-7), ci(2)), ci(-1));
  EXPECT(uop_alu(C, OP_MUL, CG_F32, uop_const_float(C, CG_F32, 1.5), uop_const_float(C, CG_F32, 2)),
         uop_const_float(C, CG_F32, 3.0));
  /* identities and sums */
  EXPECT(add(x, ci(0)), x);
  EXPECT(add(ci(0), x), x);
  EXPECT(mul(x, ci(0)), ci(0));
  EXPECT(mul(ci(1), x), x);
  EXPECT(add(add(x, ci(3)), ci(4)), add(x, ci(7)));
  EXPECT(mul(mul(x, ci(3)), ci(4)), mul(x, ci(12)));
  EXPECT(add(mul(x, ci(2)), mul(x, ci(3))), mul(x, ci(5)));
  EXPECT(add(add(x, y), mul(x, ci(-1))), y);
  EXPECT(mul(add(x, ci(3)), ci(2)), add(mul(x, ci(2)), ci(6)));
  EXPECT(add(x, add(y, ci(2))), add(add(x, y), ci(2)));
  /* bounds */
  uop *r4 = range(4, 4);
  EXPECT(uop_alu(C, OP_CMPLT, CG_BOOL, r4, ci(10)), uop_const_int(C, CG_BOOL, 1));
  EXPECT(uop_alu(C, OP_CMPLT, CG_BOOL, r4, ci(0)), uop_const_int(C, CG_BOOL, 0));
  EXPECT(uop_alu(C, OP_CMPNE, CG_BOOL, r4, ci(7)), uop_const_int(C, CG_BOOL, 1));
  EXPECT(range(5, 1), ci(0));
  EXPECT(uop_alu(C, OP_MAX, CG_I64, r4, ci(5)), ci(5));
  /* bool identities and WHERE */
  uop *b = uop_alu(C, OP_CMPLT, CG_BOOL, x, y), *t = uop_const_int(C, CG_BOOL, 1),
      *f = uop_const_int(C, CG_BOOL, 0);
  EXPECT(uop_alu(C, OP_AND, CG_BOOL, b, t), b);
  EXPECT(uop_alu(C, OP_AND, CG_BOOL, f, b), f);
  EXPECT(uop_alu(C, OP_OR, CG_BOOL, b, f), b);
  EXPECT(uop_alu(C, OP_OR, CG_BOOL, b, t), t);
  EXPECT(uop_alu(C, OP_CMPNE, CG_BOOL, b, f), b);
  EXPECT(uop_where(C, t, x, y), x);
  EXPECT(uop_where(C, f, x, y), y);
  EXPECT(uop_where(C, b, x, x), x);
  /* left alone: not provable, or float (but x * 1.0, exact in IEEE arithmetic) */
  uop *keep = idiv(add(mul(x, ci(3)), y), ci(4));
  EXPECT(keep, keep);
  uop *neg = idiv(add(x, ci(-3)), ci(2)); /* x-3 may be negative: no pulling out */
  EXPECT(neg, neg);
  uop *fx = uop_alu(C, OP_CAST, CG_F32, x, NULL);
  uop *fm = uop_alu(C, OP_MUL, CG_F32, fx, uop_const_float(C, CG_F32, 1.0));
  EXPECT(fm, fx);
  EXPECT(uop_alu(C, OP_MUL, CG_F32, uop_const_float(C, CG_F32, 1.0), fx), fx);
  uop *fh = uop_alu(C, OP_MUL, CG_F32, fx, uop_const_float(C, CG_F32, 0.5)); /* not 1: kept */
  EXPECT(fh, fh);
  for (int dt = CG_F16; dt <= CG_F64; dt++) { /* every float dtype; a mixed-dtype product is kept */
    if (!cg_dtype_is_float(dt)) continue;
    uop *xd = uop_alu(C, OP_CAST, dt, x, NULL);
    EXPECT(uop_alu(C, OP_MUL, dt, xd, uop_const_float(C, dt, 1.0)), xd);
  }
  uop *mixed = uop_alu(C, OP_MUL, CG_F32, uop_alu(C, OP_CAST, CG_F16, x, NULL), uop_const_float(C, CG_F32, 1.0));
  EXPECT(mixed, mixed);
  uop *fa = uop_alu(C, OP_ADD, CG_F32, fx, uop_const_float(C, CG_F32, 0.0));
  EXPECT(fa, fa);
}

/* ---- brute force over random index expressions ---- */

static uop *rand_expr(uop **rs, int nr, int depth) {
  if (depth == 0 || rnd(5) == 0) return rnd(6) ? rs[rnd(nr)] : ci(rnd(9) - 2);
  uop *a = rand_expr(rs, nr, depth - 1);
  switch (rnd(6)) {
  case 0: return add(a, rand_expr(rs, nr, depth - 1));
  case 1: return mul(a, ci(DT == CG_I32 && rnd(3) == 0 ? pick_big() : rnd(9) - 3));
  case 2: return idiv(a, ci(rnd(8) + 1));
  case 3: return mod(a, ci(rnd(8) + 1));
  case 4: { /* the div/mod recombination shape, possibly scaled */
    uop *d = ci(rnd(6) + 1), *k = ci(rnd(3) + 1);
    if (rnd(2)) return add(mul(mul(idiv(a, d), d), k), mul(mod(a, d), k));
    int64_t a2 = rnd(4) + 1; /* (a//a2)%d paired with a//(a2*d) */
    return add(mul(mul(idiv(a, ci(a2 * d->ival)), d), k), mul(mod(idiv(a, ci(a2)), d), k));
  }
  default: return add(mul(a, ci(rnd(4) + 1)), rand_expr(rs, nr, depth - 1));
  }
}

static int count_nodes(uop *u) {
  int n = 1;
  for (int i = 0; i < u->nsrc; i++) n += count_nodes(u->src[i]);
  return n;
}

static void test_brute(int dt) {
  const int64_t sizes[3] = {5, 7, 12};
  uop *rs[3];
  DT = dt;
  for (int i = 0; i < 3; i++) {
    rs[i] = range(10 + i, sizes[i]);
    if (dt != CG_I64) rs[i] = uop_alu(C, OP_CAST, dt, rs[i], NULL);
  }
  int64_t vals[16] = {0};
  long shrunk = 0, before = 0;
  for (int trial = 0; trial < 3000; trial++) {
    int nr = 2 + rnd(2);
    uop *e = rand_expr(rs, nr, 2 + rnd(4)), *s = S(e);
    before += count_nodes(e);
    shrunk += count_nodes(s);
    int bad = 0;
    for (int64_t a = 0; a < sizes[0] && !bad; a++)
      for (int64_t b = 0; b < sizes[1] && !bad; b++)
        for (int64_t c = 0; c < (nr > 2 ? sizes[2] : 1) && !bad; c++) {
          vals[10] = a, vals[11] = b, vals[12] = c;
          int64_t want = eval(e, vals).i, got = eval(s, vals).i;
          if (want != got) {
            fprintf(stderr, "brute mismatch at (%lld,%lld,%lld): want %lld got %lld\n", (long long)a,
                    (long long)b, (long long)c, (long long)want, (long long)got);
            dump("original", e), dump("simplified", s);
            bad = 1;
            failures++;
          }
          CHECK(s->vmin <= got && got <= s->vmax);
        }
    CHECK(S(s) == s); /* simplification reaches a fixed point */
  }
  printf("brute force %s: %ld nodes before, %ld after\n", cg_dtype_name(dt), before, shrunk);
}

int main(void) {
  C = uop_arena_new();
  test_exact();
  test_brute(CG_I64);
  test_brute(CG_I32);
  DT = CG_I64;
  uop_arena_free(C);
  if (failures) { fprintf(stderr, "%d failure(s)\n", failures); return 1; }
  printf("test_symbolic: all passed\n");
  return 0;
}
