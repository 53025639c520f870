/* Float32 exp2 and log2 written once, compiled twice: as C here (the interpreter, tests) and as
   text in the C dialect's prelude (generated kernels), so CPU and INTERP round identically.
   libm's exp2f/log2f are calls gcc may not vectorize without -ffast-math; these are branch-free
   (every operation runs unconditionally, then selects pick a value: under the default
   -ftrapping-math gcc will not if-convert an arm that computes, like `c ? x * k : x`), so a
   loop over them becomes AVX code. Both are within 2 ulp of libm over every float
   (tests/test_mathfn.c sweeps them) and return libm's special values exactly.

   The polynomials are evaluated with fused multiply-adds (one rounding a step; one instruction
   where the CPU has FMA, a correct libm call where it does not).

   A file that includes this defines CG_MATHFN(...) first: to __VA_ARGS__ for code, or to
   #__VA_ARGS__ "\n" for the source text. So: no preprocessor lines and no comments inside. */

/* exp2: x = n + f with n = round(x), |f| <= 1/2 (exact); 2^f = 1 + f*q(f), a degree-6 minimax
   fit (relative error 6.5e-9 with these float coefficients); 2^n is built in the exponent bits,
   in two halves so results down in the subnormals round once and 2^128 (x near 128) still
   overflows to inf. n is read from the bits of x + 1.5*2^23 (its low bits hold round(x) for
   |x| < 2^22) and clamped to [-160, 140], where the result is already 0 or inf (all in unsigned
   arithmetic: n + 160 in [0, 300], halved by a shift, floor(n/2) and the rest); beyond 2^22 f
   is set to 0. Every step is integer min/max, masks and arithmetic: a clamp of x itself, as float
   compares and selects, let gcc specialize the code after it for the clamped constants and
   vectorize that as a dozen compares, masks and blends. x below -2^23 (and -inf) is first moved
   up to -2^23, an unsigned min on its bits, so x + 1.5*2^23 stays positive. NaN is restored at
   the end. (Same results as clamping x to [-160, 140] first.) */
CG_MATHFN(
static inline float cg_exp2f(float x) {
  unsigned int xb, tb, fb;
  __builtin_memcpy(&xb, &x, 4);
  unsigned int lb = xb > 0xcb000000u ? 0xcb000000u : xb;
  float xl;
  __builtin_memcpy(&xl, &lb, 4);
  float t = xl + 0x1.8p23f;
  float r = t - 0x1.8p23f;
  float f = xl - r;
  __builtin_memcpy(&tb, &t, 4);
  __builtin_memcpy(&fb, &f, 4);
  fb &= (xb & 0x7fffffffu) < 0x4a800000u ? ~0u : 0u;
  __builtin_memcpy(&f, &fb, 4);
  tb = tb < 0x4b400000u - 160 ? 0x4b400000u - 160 : tb;
  tb = tb > 0x4b400000u + 140 ? 0x4b400000u + 140 : tb;
  unsigned int up = tb - (0x4b400000u - 160);
  int n = (int)up - 160, n1 = (int)(up >> 1) - 80, n2 = n - n1;
  float p = 0x1.4308fap-13f;
  p = __builtin_fmaf(p, f, 0x1.5f07b4p-10f);
  p = __builtin_fmaf(p, f, 0x1.3b2ba0p-7f);
  p = __builtin_fmaf(p, f, 0x1.c6af6ep-5f);
  p = __builtin_fmaf(p, f, 0x1.ebfbdep-3f);
  p = __builtin_fmaf(p, f, 0x1.62e430p-1f);
  p = __builtin_fmaf(p, f, 1.0f);
  unsigned int b1 = (unsigned int)(n1 + 127) << 23, b2 = (unsigned int)(n2 + 127) << 23;
  float s1, s2;
  __builtin_memcpy(&s1, &b1, 4);
  __builtin_memcpy(&s2, &b2, 4);
  float y = (p * s1) * s2;
  return x != x ? x : y;
}
)

/* log2: x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals scaled by 2^23 first), r = m - 1
   (exact), log2(1 + r) = r * P(r), a degree-9 minimax fit; result k + r*P(r). Zero, negatives,
   inf and NaN are selected at the end: -inf, NaN, inf, NaN. The k arithmetic stays unsigned
   until the value is small, so no shift of a negative number. */
CG_MATHFN(
static inline float cg_log2f(float x) {
  int sub = x < 0x1p-126f;
  float scaled = x * 0x1p23f;
  float xs = sub ? scaled : x;
  unsigned int ix;
  __builtin_memcpy(&ix, &xs, 4);
  int k = (int)((ix - 0x3f3504f3u + 0x40000000u) >> 23) - 128;
  unsigned int im = ix - ((unsigned int)k << 23);
  float m;
  __builtin_memcpy(&m, &im, 4);
  float r = m - 1.0f;
  float p = -0x1.c25a54p-4f;
  p = __builtin_fmaf(p, r, 0x1.7d4946p-3f);
  p = __builtin_fmaf(p, r, -0x1.874becp-3f);
  p = __builtin_fmaf(p, r, 0x1.a305a8p-3f);
  p = __builtin_fmaf(p, r, -0x1.eabc88p-3f);
  p = __builtin_fmaf(p, r, 0x1.277e36p-2f);
  p = __builtin_fmaf(p, r, -0x1.715a76p-2f);
  p = __builtin_fmaf(p, r, 0x1.ec7096p-2f);
  p = __builtin_fmaf(p, r, -0x1.715470p-1f);
  p = __builtin_fmaf(p, r, 0x1.715476p+0f);
  float y = (float)(sub ? k - 23 : k) + r * p;
  unsigned int nan_bits = 0x7fc00000u, inf_bits = 0x7f800000u;
  float nan, inf;
  __builtin_memcpy(&nan, &nan_bits, 4);
  __builtin_memcpy(&inf, &inf_bits, 4);
  int is_nan = x != x, is_neg = x < 0.0f, is_zero = x == 0.0f, is_inf = x == inf;
  float special = is_inf ? inf : is_zero ? -inf : nan;
  return is_nan ? x : is_neg || is_zero || is_inf ? special : y;
}
)
