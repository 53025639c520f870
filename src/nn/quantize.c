/* Reference quantizers for the 32-element block types (ggml's quantize_row_*_ref, which the gguf
   Python package reproduces bit for bit), half conversions, and cg_quantize_rows. Plain C on the
   CPU: quantizing is a one-off tool step, not a kernel. */
#include <math.h>
#include <string.h>
#include "ggml_types.h"

uint16_t f32_to_f16(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;                   /* NaN stays (a quiet) NaN */
  if (a >= 0x477ff000u) return sign | 0x7c00;                  /* rounds to >= 65520: inf */
  if (a < 0x38800000u) return sign | (uint16_t)rintf(fabsf(x) * 16777216.0f); /* subnormal */
  a -= 0x38000000u;                                            /* rebias the exponent */
  return sign | (uint16_t)((a + 0xfffu + (a >> 13 & 1)) >> 13); /* round half to even */
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = h >> 10 & 0x1f, m = h & 0x3ff, u;
  if (e == 0) {
    float f = ldexpf((float)m, -24);
    return sign ? -f : f;
  }
  u = e == 31 ? sign | 0x7f800000u | m << 13 : sign | (e + 112) << 23 | m << 13;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put_half(unsigned char *p, float x) { put16(p, f32_to_f16(x)); }

void q_f32(const float *x, unsigned char *out, int64_t nb) { memcpy(out, x, (size_t)nb * 4); }
void q_f16(const float *x, unsigned char *out, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) put_half(out + 2 * i, x[i]);
}
/* round to nearest even on the bits; NaN made quiet (ggml_compute_fp32_to_bf16) */
void q_bf16(const float *x, unsigned char *out, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    uint16_t h = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)(u >> 16 | 64)
                                                 : (uint16_t)((u + 0x7fffu + (u >> 16 & 1)) >> 16);
    put16(out + 2 * i, h);
  }
}

/* the element of largest magnitude (the first one on ties), keeping its sign */
static float signed_absmax(const float *x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; j++)
    if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
  return max;
}
static void min_max(const float *x, int n, float *mn, float *mx) {
  *mn = INFINITY, *mx = -INFINITY;
  for (int j = 0; j < n; j++) *mn = fminf(*mn, x[j]), *mx = fmaxf(*mx, x[j]);
}

static int round_clamp(float v) { return !(v > -128) ? -128 : v > 127 ? 127 : (int)roundf(v); }

void q_q8_0(const float *x, unsigned char *out, int64_t nb) {
  for (int64_t i = 0; i < nb; i++, x += 32, out += 34) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    put_half(out, d);
    for (int j = 0; j < 32; j++) out[2 + j] = (unsigned char)(int8_t)round_clamp(x[j] * id);
  }
}

/* 4/5-bit values q[32] into nibbles (element j low, j + 16 high) and, for 5 bits, qh bits */
static void pack_32(const int *q, unsigned char *qs, unsigned char *qh) {
  uint32_t h = 0;
  for (int j = 0; j < 16; j++) {
    qs[j] = (unsigned char)((q[j] & 15) | (q[j + 16] & 15) << 4);
    h |= (uint32_t)(q[j] >> 4 & 1) << j | (uint32_t)(q[j + 16] >> 4 & 1) << (j + 16);
  }
  if (qh)
    for (int b = 0; b < 4; b++) qh[b] = (unsigned char)(h >> 8 * b);
}

/* (int)v clamped to [0, top]; NaN and overflow give an edge instead of undefined behaviour */
static int trunc_to(float v, int top) { return !(v >= 0) ? 0 : v >= (float)top ? top : (int)v; }

/* symmetric: d = max / -half (half = 8 or 16), q = min(top, (int)(x/d + half + 0.5)) */
static void q_sym(const float *x, unsigned char *out, int64_t nb, int bits) {
  int half = 1 << (bits - 1), top = (1 << bits) - 1, size = bits == 4 ? 18 : 22;
  for (int64_t i = 0; i < nb; i++, x += 32, out += size) {
    float d = signed_absmax(x, 32) / (float)-half, id = d ? 1.0f / d : 0.0f;
    int q[32];
    for (int j = 0; j < 32; j++) {
      q[j] = trunc_to(x[j] * id + ((float)half + 0.5f), top);
    }
    put_half(out, d);
    pack_32(q, out + size - 16, bits == 5 ? out + 2 : NULL);
  }
}
/* affine: d = (max - min) / top, m = min, q = min(top, (int)((x - min)/d + 0.5)) */
static void q_affine(const float *x, unsigned char *out, int64_t nb, int bits) {
  int top = (1 << bits) - 1, size = bits == 4 ? 20 : 24;
  for (int64_t i = 0; i < nb; i++, x += 32, out += size) {
    float mn, mx;
    min_max(x, 32, &mn, &mx);
    float d = (mx - mn) / (float)top, id = d ? 1.0f / d : 0.0f;
    int q[32];
    for (int j = 0; j < 32; j++) {
      q[j] = trunc_to((x[j] - mn) * id + 0.5f, top);
    }
    put_half(out, d);
    put_half(out + 2, mn);
    pack_32(q, out + size - 16, bits == 5 ? out + 4 : NULL);
  }
}
void q_q4_0(const float *x, unsigned char *out, int64_t nb) { q_sym(x, out, nb, 4); }
void q_q5_0(const float *x, unsigned char *out, int64_t nb) { q_sym(x, out, nb, 5); }
void q_q4_1(const float *x, unsigned char *out, int64_t nb) { q_affine(x, out, nb, 4); }
void q_q5_1(const float *x, unsigned char *out, int64_t nb) { q_affine(x, out, nb, 5); }

int cg_quantize_rows(int type, const float *src, int64_t nrows, int64_t row_len, void *dst, size_t dst_size) {
  const ggml_type_info *g = ggml_type_find(type);
  if (!g || !g->quant) {
    cg_set_error("quantize: cannot produce ggml type %s", g ? g->name : "(unknown)");
    return -1;
  }
  int64_t row = cg_ggml_row_size(type, row_len);
  if (row < 0 || nrows < 0 || !src || !dst) {
    if (row >= 0) cg_set_error("quantize: bad arguments");
    return -1;
  }
  if (nrows && (uint64_t)row > dst_size / (uint64_t)nrows) {
    cg_set_error("quantize: destination too small (%zu bytes for %lld rows of %lld)", dst_size,
                 (long long)nrows, (long long)row);
    return -1;
  }
  g->quant(src, dst, nrows * (row_len / g->blck));
  return 0;
}
