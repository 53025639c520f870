/* More elementwise functions, each a formula over the primitives (tinygrad's list). */
#include <math.h>
#include "tensor.h"

static cg_tensor *flt(cg_tensor *a) {
  return a && !cg_dtype_is_float(a->u->dtype) ? cg_cast(a, CG_F32) : a;
}
static cg_tensor *k(cg_tensor *like, double v) { return tconst_like(like, v, like->u->dtype); }

static cg_tensor *log10_impl(cg_tensor *a) { a = flt(a); CG_CHECK(a); return cg_mul(cg_log2(a), k(a, log10(2.0))); }
cg_tensor *cg_log10(cg_tensor *a) { SCOPED(log10_impl(a)); }
static cg_tensor *tan_impl(cg_tensor *a) { return cg_div(cg_sin(a), cg_cos(a)); }
cg_tensor *cg_tan(cg_tensor *a) { SCOPED(tan_impl(a)); }
static cg_tensor *square_impl(cg_tensor *a) { return cg_mul(a, a); }
cg_tensor *cg_square(cg_tensor *a) { SCOPED(square_impl(a)); }

/* Abramowitz & Stegun 4.4.46: asin on [0, 1] to ~2e-8, odd extension */
static cg_tensor *asin_impl(cg_tensor *a) {
  static const double c[8] = {-0.0012624911, 0.0066700901, -0.0170881256, 0.0308918810,
                              -0.0501743046, 0.0889789874, -0.2145988016, 1.5707963050};
  a = flt(a);
  CG_CHECK(a);
  cg_tensor *x = cg_abs(a), *p = k(a, c[0]);
  for (int i = 1; i < 8; i++) p = cg_add(cg_mul(p, x), k(a, c[i]));
  cg_tensor *r = cg_sub(k(a, M_PI / 2), cg_mul(cg_sqrt(cg_sub(k(a, 1), x)), p));
  return cg_where(cg_lt(a, k(a, 0)), cg_neg(r), r);
}
cg_tensor *cg_asin(cg_tensor *a) { SCOPED(asin_impl(a)); }
static cg_tensor *acos_impl(cg_tensor *a) { a = flt(a); CG_CHECK(a); return cg_sub(k(a, M_PI / 2), cg_asin(a)); }
cg_tensor *cg_acos(cg_tensor *a) { SCOPED(acos_impl(a)); }
static cg_tensor *atan_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  return cg_asin(cg_div(a, cg_sqrt(cg_add_s(cg_mul(a, a), 1))));
}
cg_tensor *cg_atan(cg_tensor *a) { SCOPED(atan_impl(a)); }

/* rounding: through int64 where the value has a fraction; larger floats are integers already */
static cg_tensor *trunc_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (!cg_dtype_is_float(a->u->dtype)) return cg_mul_s(a, 1);
  cg_tensor *t = cg_cast(cg_cast(a, CG_I64), a->u->dtype);
  double big = a->u->dtype == CG_F64 ? 4503599627370496.0 : a->u->dtype == CG_F32 ? 8388608.0 : 1024.0;
  return cg_where(cg_lt(cg_abs(a), k(a, big)), t, a);
}
cg_tensor *cg_trunc(cg_tensor *a) { SCOPED(trunc_impl(a)); }
static cg_tensor *floor_impl(cg_tensor *a) {
  cg_tensor *t = cg_trunc(a);
  CG_CHECK(t);
  return cg_where(cg_gt(t, a), cg_sub_s(t, 1), t);
}
cg_tensor *cg_floor(cg_tensor *a) { SCOPED(floor_impl(a)); }
static cg_tensor *ceil_impl(cg_tensor *a) {
  cg_tensor *t = cg_trunc(a);
  CG_CHECK(t);
  return cg_where(cg_lt(t, a), cg_add_s(t, 1), t);
}
cg_tensor *cg_ceil(cg_tensor *a) { SCOPED(ceil_impl(a)); }
/* half to even, as PyTorch and NumPy */
static cg_tensor *round_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (!cg_dtype_is_float(a->u->dtype)) return cg_mul_s(a, 1);
  cg_tensor *r = cg_floor(cg_add_s(a, 0.5));
  cg_tensor *tie = cg_eq(cg_sub(r, a), k(a, 0.5));
  cg_tensor *odd = cg_ne(cg_sub(r, cg_mul_s(cg_floor(cg_mul_s(r, 0.5)), 2)), k(a, 0));
  return cg_where(cg_and(tie, odd), cg_sub_s(r, 1), r);
}
cg_tensor *cg_round(cg_tensor *a) { SCOPED(round_impl(a)); }

static cg_tensor *isnan_impl(cg_tensor *a) { return cg_ne(a, a); }
cg_tensor *cg_isnan(cg_tensor *a) { SCOPED(isnan_impl(a)); }
static cg_tensor *isinf_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (!cg_dtype_is_float(a->u->dtype)) return cg_ne(a, a);
  return cg_or(cg_eq(a, k(a, INFINITY)), cg_eq(a, k(a, -INFINITY)));
}
cg_tensor *cg_isinf(cg_tensor *a) { SCOPED(isinf_impl(a)); }
static cg_tensor *isfinite_impl(cg_tensor *a) { return cg_not(cg_or(cg_isinf(a), cg_isnan(a))); }
cg_tensor *cg_isfinite(cg_tensor *a) { SCOPED(isfinite_impl(a)); }

static cg_tensor *lerp_impl(cg_tensor *a, cg_tensor *b, cg_tensor *w) { return cg_add(a, cg_mul(cg_sub(b, a), w)); }
cg_tensor *cg_lerp(cg_tensor *a, cg_tensor *b, cg_tensor *w) { SCOPED(lerp_impl(a, b, w)); }
static cg_tensor *clamp_impl(cg_tensor *a, double lo, double hi) {
  return cg_minimum(cg_maximum(a, cg_scalar_like(a, lo)), cg_scalar_like(a, hi));
}
cg_tensor *cg_clamp(cg_tensor *a, double lo, double hi) { SCOPED(clamp_impl(a, lo, hi)); }

/* -1, 0 or 1; NaN stays NaN (x*0 carries it) */
static cg_tensor *sign_impl(cg_tensor *a) {
  CG_CHECK(a);
  cg_tensor *z = cg_scalar_like(a, 0), *s = cg_where(cg_gt(a, z), cg_scalar_like(a, 1),
                                                     cg_where(cg_lt(a, z), cg_scalar_like(a, -1), z));
  return cg_dtype_is_float(a->u->dtype) ? cg_add(s, cg_mul(a, z)) : s;
}
cg_tensor *cg_sign(cg_tensor *a) { SCOPED(sign_impl(a)); }

/* log(1 + exp(x)) without overflow: max(x, 0) + log(1 + exp(-|x|)) */
static cg_tensor *softplus_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  return cg_add(cg_relu(a), cg_log(cg_add_s(cg_exp(cg_neg(cg_abs(a))), 1)));
}
cg_tensor *cg_softplus(cg_tensor *a) { SCOPED(softplus_impl(a)); }
static cg_tensor *logsigmoid_impl(cg_tensor *a) { return cg_neg(cg_softplus(cg_neg(a))); }
cg_tensor *cg_logsigmoid(cg_tensor *a) { SCOPED(logsigmoid_impl(a)); }
static cg_tensor *hardsigmoid_impl(cg_tensor *a) {
  cg_tensor *x = cg_add_s(cg_mul_s(flt(a), 1.0 / 6.0), 0.5);
  return cg_sub(cg_relu(x), cg_relu(cg_sub_s(x, 1)));
}
cg_tensor *cg_hardsigmoid(cg_tensor *a) { SCOPED(hardsigmoid_impl(a)); }
static cg_tensor *elu_impl(cg_tensor *a, double alpha) {
  a = flt(a);
  CG_CHECK(a);
  return cg_where(cg_gt(a, k(a, 0)), a, cg_mul_s(cg_sub_s(cg_exp(a), 1), alpha));
}
cg_tensor *cg_elu(cg_tensor *a, double alpha) { SCOPED(elu_impl(a, alpha)); }
static cg_tensor *celu_impl(cg_tensor *a, double alpha) {
  a = flt(a);
  CG_CHECK(a);
  return cg_where(cg_gt(a, k(a, 0)), a, cg_mul_s(cg_sub_s(cg_exp(cg_div_s(a, alpha)), 1), alpha));
}
cg_tensor *cg_celu(cg_tensor *a, double alpha) { SCOPED(celu_impl(a, alpha)); }
static cg_tensor *selu_impl(cg_tensor *a) {
  return cg_mul_s(cg_elu(a, 1.6732632423543772848170429916717), 1.0507009873554804934193349852946);
}
cg_tensor *cg_selu(cg_tensor *a) { SCOPED(selu_impl(a)); }
static cg_tensor *relu6_impl(cg_tensor *a) { return cg_sub(cg_relu(a), cg_relu(cg_sub_s(a, 6))); }
cg_tensor *cg_relu6(cg_tensor *a) { SCOPED(relu6_impl(a)); }
static cg_tensor *hardswish_impl(cg_tensor *a) { return cg_div_s(cg_mul(a, cg_relu6(cg_add_s(a, 3))), 6); }
cg_tensor *cg_hardswish(cg_tensor *a) { SCOPED(hardswish_impl(a)); }
static cg_tensor *hardtanh_impl(cg_tensor *a, double lo, double hi) { return cg_clamp(a, lo, hi); }
cg_tensor *cg_hardtanh(cg_tensor *a, double lo, double hi) { SCOPED(hardtanh_impl(a, lo, hi)); }
static cg_tensor *leaky_relu_impl(cg_tensor *a, double slope) {
  CG_CHECK(a);
  return cg_where(cg_gt(a, cg_scalar_like(a, 0)), a, cg_mul_s(a, slope));
}
cg_tensor *cg_leaky_relu(cg_tensor *a, double slope) { SCOPED(leaky_relu_impl(a, slope)); }
static cg_tensor *quick_gelu_impl(cg_tensor *a) { return cg_mul(a, cg_sigmoid(cg_mul_s(a, 1.702))); }
cg_tensor *cg_quick_gelu(cg_tensor *a) { SCOPED(quick_gelu_impl(a)); }
static cg_tensor *mish_impl(cg_tensor *a) { return cg_mul(a, cg_tanh(cg_softplus(a))); }
cg_tensor *cg_mish(cg_tensor *a) { SCOPED(mish_impl(a)); }
static cg_tensor *softsign_impl(cg_tensor *a) { return cg_div(a, cg_add_s(cg_abs(a), 1)); }
cg_tensor *cg_softsign(cg_tensor *a) { SCOPED(softsign_impl(a)); }

static cg_tensor *sinh_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  return cg_mul_s(cg_sub(cg_exp(a), cg_exp(cg_neg(a))), 0.5);
}
cg_tensor *cg_sinh(cg_tensor *a) { SCOPED(sinh_impl(a)); }
static cg_tensor *cosh_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  return cg_mul_s(cg_add(cg_exp(a), cg_exp(cg_neg(a))), 0.5);
}
cg_tensor *cg_cosh(cg_tensor *a) { SCOPED(cosh_impl(a)); }
static cg_tensor *atanh_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  return cg_mul_s(cg_log(cg_div(cg_add_s(a, 1), cg_sub(k(a, 1), a))), 0.5);
}
cg_tensor *cg_atanh(cg_tensor *a) { SCOPED(atanh_impl(a)); }
static cg_tensor *asinh_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  /* odd symmetry keeps precision for negative x */
  cg_tensor *x = cg_abs(a), *r = cg_log(cg_add(x, cg_sqrt(cg_add_s(cg_mul(x, x), 1))));
  return cg_where(cg_lt(a, k(a, 0)), cg_neg(r), r);
}
cg_tensor *cg_asinh(cg_tensor *a) { SCOPED(asinh_impl(a)); }
static cg_tensor *acosh_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  return cg_log(cg_add(a, cg_sqrt(cg_sub_s(cg_mul(a, a), 1))));
}
cg_tensor *cg_acosh(cg_tensor *a) { SCOPED(acosh_impl(a)); }

/* Abramowitz & Stegun 7.1.26, |error| < 1.5e-7 */
static cg_tensor *erf_impl(cg_tensor *a) {
  a = flt(a);
  CG_CHECK(a);
  cg_tensor *x = cg_abs(a), *t = cg_recip(cg_add_s(cg_mul_s(x, 0.3275911), 1));
  static const double c[5] = {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592};
  cg_tensor *p = k(a, c[0]);
  for (int i = 1; i < 5; i++) p = cg_add(cg_mul(p, t), k(a, c[i]));
  cg_tensor *y = cg_sub(k(a, 1), cg_mul(cg_mul(p, t), cg_exp(cg_neg(cg_mul(x, x)))));
  return cg_where(cg_lt(a, k(a, 0)), cg_neg(y), y);
}
cg_tensor *cg_erf(cg_tensor *a) { SCOPED(erf_impl(a)); }

/* C's fmod: the remainder has the sign of a */
static cg_tensor *fmod_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (!cg_dtype_is_float(cg_promote(a->u->dtype, b->u->dtype))) return cg_mod(a, b);
  return cg_sub(a, cg_mul(cg_trunc(cg_div(a, b)), b));
}
cg_tensor *cg_fmod(cg_tensor *a, cg_tensor *b) { SCOPED(fmod_impl(a, b)); }
static cg_tensor *bitwise_not_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (a->u->dtype == CG_BOOL) return cg_not(a);
  return cg_xor(a, tconst_like(a, -1, a->u->dtype));
}
cg_tensor *cg_bitwise_not(cg_tensor *a) { SCOPED(bitwise_not_impl(a)); }
/* |a| with b's sign; 1/b tells -0.0 from +0.0 */
static cg_tensor *copysign_impl(cg_tensor *a, cg_tensor *b) {
  a = flt(a);
  b = flt(b);
  CG_CHECK(a, b);
  cg_tensor *neg = cg_or(cg_lt(b, k(b, 0)), cg_lt(cg_recip(b), k(b, 0)));
  return cg_where(neg, cg_neg(cg_abs(a)), cg_abs(a));
}
cg_tensor *cg_copysign(cg_tensor *a, cg_tensor *b) { SCOPED(copysign_impl(a, b)); }
static cg_tensor *logaddexp_impl(cg_tensor *a, cg_tensor *b) {
  cg_tensor *m = cg_maximum(flt(a), flt(b));
  return cg_add(m, cg_log(cg_add(cg_exp(cg_sub(a, m)), cg_exp(cg_sub(b, m)))));
}
cg_tensor *cg_logaddexp(cg_tensor *a, cg_tensor *b) { SCOPED(logaddexp_impl(a, b)); }
