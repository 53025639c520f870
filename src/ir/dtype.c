/* dtypes: one table row each, plus tinygrad's promotion lattice. */
#include <math.h>
#include <string.h>
#include "dtype.h"

static const cg_dtype_info table[CG_NUM_DTYPES] = {
  [CG_BOOL] = {"bool", "bool", "unsigned char", 1, 0, 1, 0},
  [CG_I8] = {"int8", "i8", "signed char", 1, 0, 0, 1},
  [CG_U8] = {"uint8", "u8", "unsigned char", 1, 0, 1, 2},
  [CG_I16] = {"int16", "i16", "short", 2, 0, 0, 3},
  [CG_U16] = {"uint16", "u16", "unsigned short", 2, 0, 1, 4},
  [CG_I32] = {"int32", "i32", "int", 4, 0, 0, 5},
  [CG_U32] = {"uint32", "u32", "unsigned int", 4, 0, 1, 6},
  [CG_I64] = {"int64", "i64", "long long", 8, 0, 0, 7},
  [CG_U64] = {"uint64", "u64", "unsigned long long", 8, 0, 1, 8},
  [CG_F16] = {"float16", "f16", "unsigned short", 2, 1, 0, 11},
  [CG_BF16] = {"bfloat16", "bf16", "unsigned short", 2, 1, 0, 12},
  [CG_F32] = {"float32", "f32", "float", 4, 1, 0, 13},
  [CG_F64] = {"float64", "f64", "double", 8, 1, 0, 14},
};

/* Direct parents in tinygrad's lattice (fp8 left out: int64/uint64 go straight to the halfs). */
static const unsigned parents[CG_NUM_DTYPES] = {
  [CG_BOOL] = 1u << CG_I8 | 1u << CG_U8,
  [CG_I8] = 1u << CG_I16,
  [CG_U8] = 1u << CG_I16 | 1u << CG_U16,
  [CG_I16] = 1u << CG_I32,
  [CG_U16] = 1u << CG_I32 | 1u << CG_U32,
  [CG_I32] = 1u << CG_I64,
  [CG_U32] = 1u << CG_I64 | 1u << CG_U64,
  [CG_I64] = 1u << CG_F16 | 1u << CG_BF16,
  [CG_U64] = 1u << CG_F16 | 1u << CG_BF16,
  [CG_F16] = 1u << CG_F32,
  [CG_BF16] = 1u << CG_F32,
  [CG_F32] = 1u << CG_F64,
  [CG_F64] = 0,
};

int cg_dtype_valid(int dt) { return dt >= 0 && dt < CG_NUM_DTYPES; }
const cg_dtype_info *cg_dtype_get(cg_dtype dt) { return &table[dt]; }
const char *cg_dtype_name(cg_dtype dt) { return cg_dtype_valid(dt) ? table[dt].name : "?"; }
int cg_dtype_size(cg_dtype dt) { return cg_dtype_valid(dt) ? table[dt].size : 0; }
int cg_dtype_is_float(cg_dtype dt) { return cg_dtype_valid(dt) && table[dt].is_float; }
int cg_dtype_is_int(cg_dtype dt) {
  return cg_dtype_valid(dt) && dt != CG_BOOL && !table[dt].is_float;
}
int cg_dtype_is_unsigned(cg_dtype dt) { return cg_dtype_is_int(dt) && table[dt].is_unsigned; }

int cg_dtype_from_name(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < CG_NUM_DTYPES; i++)
    if (!strcmp(name, table[i].name) || !strcmp(name, table[i].short_name)) return i;
  if (!strcmp(name, "half")) return CG_F16;
  if (!strcmp(name, "float")) return CG_F32;
  if (!strcmp(name, "double")) return CG_F64;
  if (!strcmp(name, "int")) return CG_I32;
  return -1;
}

static unsigned ancestors(cg_dtype dt) {
  unsigned set = 1u << dt;
  for (int i = 0; i < CG_NUM_DTYPES; i++)
    if (parents[dt] >> i & 1) set |= ancestors((cg_dtype)i);
  return set;
}

cg_dtype cg_promote(cg_dtype a, cg_dtype b) {
  unsigned common = ancestors(a) & ancestors(b);
  int best = CG_F64;
  for (int i = 0; i < CG_NUM_DTYPES; i++)
    if ((common >> i & 1) && table[i].priority < table[best].priority) best = i;
  return (cg_dtype)best;
}

int64_t cg_dtype_wrap_int(cg_dtype dt, int64_t v) {
  uint64_t u = (uint64_t)v;
  switch (table[dt].size) {
  case 1: return dt == CG_BOOL ? (v != 0) : table[dt].is_unsigned ? (int64_t)(uint8_t)u : (int8_t)u;
  case 2: return table[dt].is_unsigned ? (int64_t)(uint16_t)u : (int16_t)u;
  case 4: return table[dt].is_unsigned ? (int64_t)(uint32_t)u : (int32_t)u;
  default: return v;
  }
}

uint16_t cg_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
  int exp = (int)((x >> 23) & 0xff);
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  int e = exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) { /* subnormal or zero */
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = (uint32_t)e << 10 | mant >> 13, rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: fine */
  return (uint16_t)(sign | h);
}

float cg_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
  if (exp == 0x1f) x = sign | 0x7f800000 | mant << 13;
  else if (exp) x = sign | (exp - 15 + 127) << 23 | mant << 13;
  else if (!mant) x = sign;
  else {
    int e = -1;
    do { mant <<= 1; e++; } while (!(mant & 0x400));
    x = sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

uint16_t cg_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

float cg_bf16_to_f32(uint16_t h) {
  uint32_t x = (uint32_t)h << 16;
  float f;
  memcpy(&f, &x, 4);
  return f;
}

double cg_dtype_round_float(cg_dtype dt, double v) {
  switch (dt) {
  case CG_F64: return v;
  case CG_F32: return (float)v;
  case CG_F16: return cg_f16_to_f32(cg_f32_to_f16((float)v));
  case CG_BF16: return cg_bf16_to_f32(cg_f32_to_bf16((float)v));
  default: return v;
  }
}
