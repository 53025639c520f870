/* Reference scalar semantics for every ALU op. */
#include <math.h>
#include <string.h>
#include "alu.h"
#include "uop.h"

/* the generated C kernels' float exp2/log2, so CPU and INTERP results are bit-identical */
#define CG_MATHFN(...) __VA_ARGS__
#include "mathfn.h"

static int bits_of(int dt) { return cg_dtype_get(dt)->size * 8; }
static int is_unsigned(int dt) { return dt == CG_BOOL || cg_dtype_get(dt)->is_unsigned; }

static cg_val int_val(int dt, uint64_t bits) { return (cg_val){.i = cg_dtype_wrap_int(dt, (int64_t)bits)}; }
static cg_val flt_val(int dt, double v) { return (cg_val){.f = cg_dtype_round_float(dt, v)}; }

static int int_lt(int dt, int64_t a, int64_t b) {
  return is_unsigned(dt) ? (uint64_t)a < (uint64_t)b : a < b;
}

static cg_val int_div(int dt, int64_t a, int64_t b, int mod) {
  if (b == 0) return int_val(dt, 0);
  if (is_unsigned(dt)) return int_val(dt, mod ? (uint64_t)a % (uint64_t)b : (uint64_t)a / (uint64_t)b);
  if (b == -1) return int_val(dt, mod ? 0 : (uint64_t)0 - (uint64_t)a);
  return int_val(dt, (uint64_t)(mod ? a % b : a / b));
}

static double to_double(int dt, cg_val v) {
  if (cg_dtype_is_float(dt)) return v.f;
  return is_unsigned(dt) ? (double)(uint64_t)v.i : (double)v.i;
}

static cg_val cast_val(int to, int from, cg_val v) {
  if (cg_dtype_is_float(to)) return flt_val(to, to_double(from, v));
  if (to == CG_BOOL) return (cg_val){.i = cg_dtype_is_float(from) ? v.f != 0 : v.i != 0};
  if (!cg_dtype_is_float(from)) return int_val(to, (uint64_t)v.i);
  double f = v.f;
  if (isnan(f)) return int_val(to, 0);
  /* out-of-range float->int is undefined in C; clamp so the reference never traps */
  if (is_unsigned(to)) {
    if (f <= -1.0) return int_val(to, (uint64_t)(int64_t)(f < -9.2e18 ? -9.2e18 : f));
    return int_val(to, f >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)f);
  }
  if (f >= 9.2233720368547758e18) return int_val(to, (uint64_t)INT64_MAX);
  if (f <= -9.2233720368547758e18) return int_val(to, (uint64_t)INT64_MIN);
  return int_val(to, (uint64_t)(int64_t)f);
}

static uint64_t raw_bits(int dt, cg_val v) {
  if (!cg_dtype_is_float(dt)) return (uint64_t)v.i & (bits_of(dt) == 64 ? ~0ULL : (1ULL << bits_of(dt)) - 1);
  unsigned char buf[8] = {0};
  cg_val_store(dt, buf, v);
  uint64_t r = 0;
  memcpy(&r, buf, 8);
  return r & (bits_of(dt) == 64 ? ~0ULL : (1ULL << bits_of(dt)) - 1);
}

static cg_val bitcast_val(int to, int from, cg_val v) {
  uint64_t bits = raw_bits(from, v);
  unsigned char buf[8];
  memcpy(buf, &bits, 8);
  return cg_val_load(to, buf);
}

static cg_val float_op(int op, int dt, double a, double b) {
  switch (op) {
  case OP_EXP2: return flt_val(dt, dt == CG_F64 ? exp2(a) : cg_exp2f((float)a));
  case OP_LOG2: return flt_val(dt, dt == CG_F64 ? log2(a) : cg_log2f((float)a));
  case OP_SIN: return flt_val(dt, sin(a));
  case OP_SQRT: return flt_val(dt, sqrt(a));
  case OP_RECIP: return flt_val(dt, 1.0 / a);
  case OP_NEG: return flt_val(dt, -a);
  case OP_ADD: return flt_val(dt, a + b);
  case OP_MUL: return flt_val(dt, a * b);
  case OP_MAX: return flt_val(dt, (a != a || a > b) ? a : b); /* NaN propagates, as rendered */
  default: return flt_val(dt, NAN);
  }
}

static cg_val int_op(int op, int dt, int64_t a, int64_t b) {
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  int sh = (int)(ub & (uint64_t)(bits_of(dt) - 1));
  switch (op) {
  case OP_NEG: return int_val(dt, 0 - ua);
  case OP_ADD: return int_val(dt, ua + ub);
  case OP_MUL: return int_val(dt, ua * ub);
  case OP_IDIV: return int_div(dt, a, b, 0);
  case OP_MOD: return int_div(dt, a, b, 1);
  case OP_MAX: return int_lt(dt, a, b) ? (cg_val){.i = b} : (cg_val){.i = a};
  case OP_AND: return int_val(dt, ua & ub);
  case OP_OR: return int_val(dt, ua | ub);
  case OP_XOR: return int_val(dt, ua ^ ub);
  case OP_SHL: return int_val(dt, ua << sh);
  case OP_SHR:
    return is_unsigned(dt) ? int_val(dt, ua >> sh) : int_val(dt, (uint64_t)(a >> sh));
  default: return int_val(dt, 0);
  }
}

cg_val cg_alu_eval(int op, int dtype, int src_dtype, cg_val a, cg_val b, cg_val c) {
  switch (op) {
  case OP_WHERE: return a.i ? b : c;
  case OP_CAST: return cast_val(dtype, src_dtype, a);
  case OP_BITCAST: return bitcast_val(dtype, src_dtype, a);
  case OP_CMPLT:
    return (cg_val){.i = cg_dtype_is_float(src_dtype) ? a.f < b.f : int_lt(src_dtype, a.i, b.i)};
  case OP_CMPNE:
    return (cg_val){.i = cg_dtype_is_float(src_dtype) ? a.f != b.f : a.i != b.i};
  default: break;
  }
  if (cg_dtype_is_float(dtype)) return float_op(op, dtype, a.f, b.f);
  return int_op(op, dtype, a.i, b.i);
}

cg_val cg_val_load(int dt, const void *p) {
  cg_val v = {0};
  switch (dt) {
  case CG_BOOL: v.i = *(const uint8_t *)p != 0; break;
  case CG_I8: v.i = *(const int8_t *)p; break;
  case CG_U8: v.i = *(const uint8_t *)p; break;
  case CG_I16: { int16_t x; memcpy(&x, p, 2); v.i = x; break; }
  case CG_U16: { uint16_t x; memcpy(&x, p, 2); v.i = x; break; }
  case CG_I32: { int32_t x; memcpy(&x, p, 4); v.i = x; break; }
  case CG_U32: { uint32_t x; memcpy(&x, p, 4); v.i = x; break; }
  case CG_I64: case CG_U64: memcpy(&v.i, p, 8); break;
  case CG_F16: { uint16_t x; memcpy(&x, p, 2); v.f = cg_f16_to_f32(x); break; }
  case CG_BF16: { uint16_t x; memcpy(&x, p, 2); v.f = cg_bf16_to_f32(x); break; }
  case CG_F32: { float x; memcpy(&x, p, 4); v.f = x; break; }
  case CG_F64: memcpy(&v.f, p, 8); break;
  }
  return v;
}

void cg_val_store(int dt, void *p, cg_val v) {
  switch (dt) {
  case CG_BOOL: *(uint8_t *)p = v.i != 0; break;
  case CG_I8: case CG_U8: *(uint8_t *)p = (uint8_t)v.i; break;
  case CG_I16: case CG_U16: { uint16_t x = (uint16_t)v.i; memcpy(p, &x, 2); break; }
  case CG_I32: case CG_U32: { uint32_t x = (uint32_t)v.i; memcpy(p, &x, 4); break; }
  case CG_I64: case CG_U64: memcpy(p, &v.i, 8); break;
  case CG_F16: { uint16_t x = cg_f32_to_f16((float)v.f); memcpy(p, &x, 2); break; }
  case CG_BF16: { uint16_t x = cg_f32_to_bf16((float)v.f); memcpy(p, &x, 2); break; }
  case CG_F32: { float x = (float)v.f; memcpy(p, &x, 4); break; }
  case CG_F64: memcpy(p, &v.f, 8); break;
  }
}
