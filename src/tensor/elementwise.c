/* Elementwise ops: the ALU primitives with broadcasting and promotion, and what is composed
   from them (each composed op's body is its formula). */
#include <math.h>
#include <stdio.h>
#include "tensor.h"

int tbroadcast(cg_tensor **a, cg_tensor **b) {
  cg_shape sa = (*a)->u->shape, sb = (*b)->u->shape, out = {0};
  out.ndim = sa.ndim > sb.ndim ? sa.ndim : sb.ndim;
  for (int i = 0; i < out.ndim; i++) {
    int ia = i - (out.ndim - sa.ndim), ib = i - (out.ndim - sb.ndim);
    int64_t da = ia < 0 ? 1 : sa.d[ia], db = ib < 0 ? 1 : sb.d[ib];
    cg_variable *va = ia < 0 ? NULL : sa.var[ia], *vb = ib < 0 ? NULL : sb.var[ib];
    int a_one = da == 1 && !va, b_one = db == 1 && !vb;
    if (!(da == db && va == vb) && !a_one && !b_one) {
      char x[128], y[128];
      shape_str(sa, x, sizeof x);
      shape_str(sb, y, sizeof y);
      cg_set_error("cannot broadcast shapes %s and %s", x, y);
      return -1;
    }
    out.d[i] = a_one ? db : da;
    out.var[i] = a_one ? vb : va;
  }
  if (!shape_eq(sa, out)) *a = cg_expand(*a, out);
  if (!shape_eq(sb, out)) *b = cg_expand(*b, out);
  return *a && *b ? 0 : -1;
}

static int promote_pair(cg_tensor **a, cg_tensor **b) {
  if ((*a)->u->dtype == (*b)->u->dtype) return 0;
  cg_dtype dt = cg_promote((*a)->u->dtype, (*b)->u->dtype);
  *a = cg_cast(*a, dt);
  *b = cg_cast(*b, dt);
  return *a && *b ? 0 : -1;
}

static cg_tensor *alu2(int op, int dtype, cg_tensor *a, cg_tensor *b) {
  uop *s[2] = {a->u, b->u};
  return tmake(op, dtype, s, 2, (uop_arg){0}, a->u->shape);
}

cg_tensor *tbinary(int op, cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (promote_pair(&a, &b) || tbroadcast(&a, &b)) return NULL;
  int out = (op == OP_CMPLT || op == OP_CMPNE) ? CG_BOOL : a->u->dtype;
  return alu2(op, out, a, b);
}

cg_tensor *tunary(int op, cg_tensor *a) {
  CG_CHECK(a);
  return tmake(op, a->u->dtype, &a->u, 1, (uop_arg){0}, a->u->shape);
}

/* float ops on ints compute in the default float, as tinygrad does */
static cg_tensor *as_float(cg_tensor *a) {
  return a && !cg_dtype_is_float(a->u->dtype) ? cg_cast(a, CG_F32) : a;
}

static cg_tensor *need_int(cg_tensor *a, const char *who) {
  if (a && (cg_dtype_is_float(a->u->dtype))) {
    cg_set_error("%s needs integer or bool tensors, got %s", who, cg_dtype_name(a->u->dtype));
    return NULL;
  }
  return a;
}

static cg_tensor *scalar_like_impl(cg_tensor *a, double v) {
  CG_CHECK(a);
  cg_dtype dt = a->u->dtype;
  int integral = v == floor(v) && fabs(v) < 9.2e18;
  if (dt == CG_BOOL) dt = integral ? (v == 0 || v == 1 ? CG_BOOL : CG_I32) : CG_F32;
  else if (!cg_dtype_is_float(dt) && !integral) dt = CG_F32;
  return tconst_like(a, v, dt);
}
cg_tensor *cg_scalar_like(cg_tensor *a, double v) { SCOPED(scalar_like_impl(a, v)); }

cg_tensor *cg_add(cg_tensor *a, cg_tensor *b) { return tbinary(OP_ADD, a, b); }
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b) { return tbinary(OP_MUL, a, b); }
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b) { return tbinary(OP_MAX, a, b); }
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b) { return tbinary(OP_CMPLT, a, b); }
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b) { return tbinary(OP_CMPNE, a, b); }
static cg_tensor *gt_impl(cg_tensor *a, cg_tensor *b) { return cg_lt(b, a); }
static cg_tensor *ge_impl(cg_tensor *a, cg_tensor *b) { return cg_not(cg_lt(a, b)); }
static cg_tensor *le_impl(cg_tensor *a, cg_tensor *b) { return cg_not(cg_lt(b, a)); }
static cg_tensor *eq_impl(cg_tensor *a, cg_tensor *b) { return cg_not(cg_ne(a, b)); }
static cg_tensor *and_impl(cg_tensor *a, cg_tensor *b) { return tbinary(OP_AND, need_int(a, "and"), need_int(b, "and")); }
static cg_tensor *or_impl(cg_tensor *a, cg_tensor *b) { return tbinary(OP_OR, need_int(a, "or"), need_int(b, "or")); }
static cg_tensor *xor_impl(cg_tensor *a, cg_tensor *b) { return tbinary(OP_XOR, need_int(a, "xor"), need_int(b, "xor")); }
static cg_tensor *idiv_impl(cg_tensor *a, cg_tensor *b) { return tbinary(OP_IDIV, need_int(a, "idiv"), need_int(b, "idiv")); }
static cg_tensor *mod_impl(cg_tensor *a, cg_tensor *b) { return tbinary(OP_MOD, need_int(a, "mod"), need_int(b, "mod")); }

static cg_tensor *shift(int op, cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (!cg_dtype_is_int(a->u->dtype) || !cg_dtype_is_int(b->u->dtype)) {
    cg_set_error("shifts need integer tensors, got %s and %s", cg_dtype_name(a->u->dtype),
                 cg_dtype_name(b->u->dtype));
    return NULL;
  }
  b = cg_cast(b, a->u->dtype); /* the shifted operand keeps its dtype */
  if (tbroadcast(&a, &b)) return NULL;
  return alu2(op, a->u->dtype, a, b);
}
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b) { SCOPED(gt_impl(a, b)); }
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b) { SCOPED(ge_impl(a, b)); }
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b) { SCOPED(le_impl(a, b)); }
cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b) { SCOPED(eq_impl(a, b)); }
cg_tensor *cg_and(cg_tensor *a, cg_tensor *b) { SCOPED(and_impl(a, b)); }
cg_tensor *cg_or(cg_tensor *a, cg_tensor *b) { SCOPED(or_impl(a, b)); }
cg_tensor *cg_xor(cg_tensor *a, cg_tensor *b) { SCOPED(xor_impl(a, b)); }
cg_tensor *cg_idiv(cg_tensor *a, cg_tensor *b) { SCOPED(idiv_impl(a, b)); }
cg_tensor *cg_mod(cg_tensor *a, cg_tensor *b) { SCOPED(mod_impl(a, b)); }
static cg_tensor *shl_impl(cg_tensor *a, cg_tensor *b) { return shift(OP_SHL, a, b); }
static cg_tensor *shr_impl(cg_tensor *a, cg_tensor *b) { return shift(OP_SHR, a, b); }

static cg_tensor *neg_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (a->u->dtype == CG_BOOL) return cg_not(a);
  return tunary(OP_NEG, a);
}
cg_tensor *cg_shl(cg_tensor *a, cg_tensor *b) { SCOPED(shl_impl(a, b)); }
cg_tensor *cg_shr(cg_tensor *a, cg_tensor *b) { SCOPED(shr_impl(a, b)); }
cg_tensor *cg_neg(cg_tensor *a) { SCOPED(neg_impl(a)); }
static cg_tensor *sub_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (promote_pair(&a, &b)) return NULL;
  return cg_add(a, cg_neg(b));
}
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b) { SCOPED(sub_impl(a, b)); }
cg_tensor *cg_recip(cg_tensor *a) { return tunary(OP_RECIP, as_float(a)); }
static cg_tensor *div_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  if (promote_pair(&a, &b)) return NULL;
  return cg_mul(as_float(a), cg_recip(b));
}
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b) { SCOPED(div_impl(a, b)); }
static cg_tensor *minimum_impl(cg_tensor *a, cg_tensor *b) { return cg_where(cg_lt(a, b), a, b); }

static cg_tensor *not_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (a->u->dtype != CG_BOOL) a = cg_ne(a, cg_scalar_like(a, 0));
  return cg_ne(a, tconst_like(a, 1, CG_BOOL));
}
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b) { SCOPED(minimum_impl(a, b)); }
cg_tensor *cg_not(cg_tensor *a) { SCOPED(not_impl(a)); }

static cg_tensor *where_impl(cg_tensor *cond, cg_tensor *a, cg_tensor *b) {
  CG_CHECK(cond, a, b);
  if (cond->u->dtype != CG_BOOL) cond = cg_ne(cond, cg_scalar_like(cond, 0));
  if (promote_pair(&a, &b) || tbroadcast(&a, &b) || tbroadcast(&cond, &a) || tbroadcast(&cond, &b))
    return NULL;
  uop *s[3] = {cond->u, a->u, b->u};
  return tmake(OP_WHERE, a->u->dtype, s, 3, (uop_arg){0}, a->u->shape);
}
cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b) { SCOPED(where_impl(cond, a, b)); }

static cg_tensor *cast_impl(cg_tensor *a, cg_dtype dt) {
  CG_CHECK(a);
  if (!cg_dtype_valid(dt)) {
    cg_set_error("cast: unknown dtype %d", (int)dt);
    return NULL;
  }
  if (a->u->dtype == dt) return tensor_wrap(uop_ref(a->u));
  return tmake(OP_CAST, dt, &a->u, 1, (uop_arg){0}, a->u->shape);
}
cg_tensor *cg_cast(cg_tensor *a, cg_dtype dt) { SCOPED(cast_impl(a, dt)); }

static cg_tensor *bitcast_impl(cg_tensor *a, cg_dtype dt) {
  CG_CHECK(a);
  if (!cg_dtype_valid(dt) || cg_dtype_size(dt) != cg_dtype_size(a->u->dtype) || dt == CG_BOOL ||
      a->u->dtype == CG_BOOL) {
    cg_set_error("bitcast: cannot reinterpret %s as %s (sizes must match, no bool)",
                 cg_dtype_name(a->u->dtype), cg_dtype_name(dt));
    return NULL;
  }
  if (a->u->dtype == dt) return tensor_wrap(uop_ref(a->u));
  return tmake(OP_BITCAST, dt, &a->u, 1, (uop_arg){0}, a->u->shape);
}
cg_tensor *cg_bitcast(cg_tensor *a, cg_dtype dt) { SCOPED(bitcast_impl(a, dt)); }

/* ---- scalar forms ---- */
static cg_tensor *add_s_impl(cg_tensor *a, double v) { return cg_add(a, cg_scalar_like(a, v)); }
static cg_tensor *sub_s_impl(cg_tensor *a, double v) { return cg_sub(a, cg_scalar_like(a, v)); }
static cg_tensor *mul_s_impl(cg_tensor *a, double v) { return cg_mul(a, cg_scalar_like(a, v)); }
static cg_tensor *div_s_impl(cg_tensor *a, double v) { return cg_div(a, cg_scalar_like(a, v)); }
static cg_tensor *pow_s_impl(cg_tensor *a, double v) {
  CG_CHECK(a);
  if (v == 2) return cg_mul(a, a);
  if (v == 1) return cg_mul_s(a, 1);
  if (v == 0.5 && cg_dtype_is_float(a->u->dtype)) return cg_sqrt(a);
  return cg_pow(a, cg_scalar_like(a, v));
}
cg_tensor *cg_add_s(cg_tensor *a, double v) { SCOPED(add_s_impl(a, v)); }
cg_tensor *cg_sub_s(cg_tensor *a, double v) { SCOPED(sub_s_impl(a, v)); }
cg_tensor *cg_mul_s(cg_tensor *a, double v) { SCOPED(mul_s_impl(a, v)); }
cg_tensor *cg_div_s(cg_tensor *a, double v) { SCOPED(div_s_impl(a, v)); }
cg_tensor *cg_pow_s(cg_tensor *a, double v) { SCOPED(pow_s_impl(a, v)); }

/* ---- transcendental and activation functions ---- */
static cg_tensor *fconst(cg_tensor *a, double v) { return tconst_like(a, v, a->u->dtype); }

cg_tensor *cg_exp2(cg_tensor *a) { return tunary(OP_EXP2, as_float(a)); }
cg_tensor *cg_log2(cg_tensor *a) { return tunary(OP_LOG2, as_float(a)); }
cg_tensor *cg_sqrt(cg_tensor *a) { return tunary(OP_SQRT, as_float(a)); }
cg_tensor *cg_sin(cg_tensor *a) { return tunary(OP_SIN, as_float(a)); }
static cg_tensor *exp_impl(cg_tensor *a) {
  a = as_float(a);
  CG_CHECK(a);
  return cg_exp2(cg_mul(a, fconst(a, 1.0 / M_LN2)));
}
cg_tensor *cg_exp(cg_tensor *a) { SCOPED(exp_impl(a)); }
static cg_tensor *log_impl(cg_tensor *a) {
  a = as_float(a);
  CG_CHECK(a);
  return cg_mul(cg_log2(a), fconst(a, M_LN2));
}
cg_tensor *cg_log(cg_tensor *a) { SCOPED(log_impl(a)); }
static cg_tensor *rsqrt_impl(cg_tensor *a) { return cg_recip(cg_sqrt(a)); }
static cg_tensor *cos_impl(cg_tensor *a) {
  a = as_float(a);
  CG_CHECK(a);
  return cg_sin(cg_sub(fconst(a, M_PI / 2), a));
}
cg_tensor *cg_rsqrt(cg_tensor *a) { SCOPED(rsqrt_impl(a)); }
cg_tensor *cg_cos(cg_tensor *a) { SCOPED(cos_impl(a)); }
static cg_tensor *sigmoid_impl(cg_tensor *a) {
  a = as_float(a);
  CG_CHECK(a);
  return cg_recip(cg_add(fconst(a, 1), cg_exp(cg_neg(a))));
}
cg_tensor *cg_sigmoid(cg_tensor *a) { SCOPED(sigmoid_impl(a)); }
static cg_tensor *tanh_impl(cg_tensor *a) {
  a = as_float(a);
  CG_CHECK(a);
  return cg_sub(cg_mul_s(cg_sigmoid(cg_mul_s(a, 2)), 2), fconst(a, 1));
}
cg_tensor *cg_tanh(cg_tensor *a) { SCOPED(tanh_impl(a)); }
/* where(x <= 0, 0, x) with IEEE comparisons: NaN passes through and the gradient at 0 is 0, as in
   PyTorch */
static cg_tensor *relu_impl(cg_tensor *a) {
  CG_CHECK(a);
  cg_tensor *zero = cg_scalar_like(a, 0);
  return cg_where(cg_or(cg_lt(a, zero), cg_eq(a, zero)), zero, a);
}
cg_tensor *cg_relu(cg_tensor *a) { SCOPED(relu_impl(a)); }
static cg_tensor *silu_impl(cg_tensor *a) { return cg_mul(a, cg_sigmoid(a)); }
static cg_tensor *gelu_impl(cg_tensor *a) {
  a = as_float(a);
  CG_CHECK(a);
  cg_tensor *inner = cg_mul_s(cg_add(a, cg_mul_s(cg_mul(cg_mul(a, a), a), 0.044715)),
                              sqrt(2.0 / M_PI));
  return cg_mul(cg_mul_s(a, 0.5), cg_add_s(cg_tanh(inner), 1));
}
cg_tensor *cg_silu(cg_tensor *a) { SCOPED(silu_impl(a)); }
cg_tensor *cg_gelu(cg_tensor *a) { SCOPED(gelu_impl(a)); }
static cg_tensor *abs_impl(cg_tensor *a) {
  CG_CHECK(a);
  if (a->u->dtype == CG_BOOL || cg_dtype_is_unsigned(a->u->dtype)) return cg_mul_s(a, 1);
  return cg_where(cg_lt(a, cg_scalar_like(a, 0)), cg_neg(a), a);
}
cg_tensor *cg_abs(cg_tensor *a) { SCOPED(abs_impl(a)); }

/* a**b for floats: exp2(b*log2|a|), with the sign of odd integer powers of negative bases,
   NaN for non-integer powers of negative bases, and a**0 == 1. */
static cg_tensor *pow_impl(cg_tensor *a, cg_tensor *b) {
  CG_CHECK(a, b);
  cg_dtype dt = cg_promote(a->u->dtype, b->u->dtype);
  if (cg_dtype_is_int(dt)) { /* integer powers stay integers: exact through float64 up to 2^53 */
    cg_tensor *f = cg_pow(cg_cast(a, CG_F64), cg_cast(b, CG_F64));
    return cg_cast(cg_round(f), dt);
  }
  if (!cg_dtype_is_float(dt)) dt = CG_F32;
  a = cg_cast(a, dt);
  b = cg_cast(b, dt);
  CG_CHECK(a, b);
  cg_tensor *mag = cg_exp2(cg_mul(b, cg_log2(cg_abs(a))));
  cg_tensor *bi = cg_cast(b, CG_I64);
  cg_tensor *is_int = cg_eq(cg_cast(bi, dt), b);
  cg_tensor *odd = cg_ne(cg_mod(bi, tconst_like(bi, 2, CG_I64)), tconst_like(bi, 0, CG_I64));
  cg_tensor *neg = cg_lt(a, fconst(a, 0));
  cg_tensor *r = cg_where(cg_and(neg, odd), cg_neg(mag), mag);
  r = cg_where(cg_and(neg, cg_not(is_int)), fconst(a, NAN), r);
  return cg_where(cg_eq(b, fconst(b, 0)), fconst(a, 1), r);
}
cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b) { SCOPED(pow_impl(a, b)); }
