/* Reference quantizers for the K-quants cgrad writes (Q4_K, Q6_K): ggml's quantize_row_q4_K_ref
   and quantize_row_q6_K_ref without importance weights. A super-block of 256 values has 8 (Q4_K)
   or 16 (Q6_K) sub-blocks, each with its own scale found by a small search (make_qkx2 / make_qx
   below), and those scales are themselves quantized to 6 or 8 bits against one f16 scale. */
#include <math.h>
#include <string.h>
#include "ggml_types.h"

#define QK 256
#define GROUP_MAX_EPS 1e-15f

/* round to nearest, ties to even, by the float-add trick ggml uses (|v| < 2^22) */
static int nearest_int(float v) {
  if (!(fabsf(v) <= 4194303.f)) return v > 0 ? 4194303 : -4194303;
  float t = v + 12582912.f;
  int32_t i;
  memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}
static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* weighted squared error of x ~ scale * L + min */
static float fit_error(int n, const float *x, const float *w, const uint8_t *L, float scale, float min) {
  float err = 0;
  for (int i = 0; i < n; i++) {
    float diff = scale * L[i] + min - x[i];
    err += w[i] * (diff * diff);
  }
  return err;
}

/* Affine fit x ~ scale * L + min (L in 0..nmax, min <= 0): start from the min/max grid, then try
   nstep+1 slightly different grids, each refined by weighted least squares; keep the best.
   Returns scale; *neg_min gets -min. ggml's make_qkx2_quants with use_mad = false. */
static float fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                        float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    memset(L, 0, (size_t)n);
    *neg_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min), scale = 1 / iscale;
  for (int i = 0; i < n; i++) L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
  float best = fit_error(n, x, w, L, scale, min);
  uint8_t Laux[32];
  for (int is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = (uint8_t)l;
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float err = fit_error(n, x, w, Laux, this_scale, this_min);
    if (err < best) {
      memcpy(L, Laux, (size_t)n);
      best = err, scale = this_scale, min = this_min;
    }
  }
  *neg_min = -min;
  return scale;
}

/* Symmetric fit x ~ scale * (L - nmax), L in 0..2*nmax-1, weights x^2: the max-magnitude grid
   and 18 nearby grids, least-squares scale for each, keep the best. ggml's make_qx_quants with
   rmse_type 1. */
static int sym_levels(int n, int nmax, const float *x, float iscale, int8_t *L, float *sumlx, float *suml2) {
  *sumlx = *suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    if (L) L[i] = (int8_t)(l + nmax);
    float w = x[i] * x[i];
    *sumlx += w * x[i] * l;
    *suml2 += w * l * l;
  }
  return 0;
}
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++)
    if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
  if (amax < GROUP_MAX_EPS) {
    memset(L, 0, (size_t)n);
    return 0.f;
  }
  float sumlx, suml2;
  sym_levels(n, nmax, x, -nmax / max, L, &sumlx, &suml2);
  float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
  for (int is = -9; is <= 9; is++) {
    if (!is) continue;
    float iscale = -(nmax + 0.1f * is) / max;
    sym_levels(n, nmax, x, iscale, NULL, &sumlx, &suml2);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      sym_levels(n, nmax, x, iscale, L, &sumlx, &suml2);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* Q4_K's 12 scale bytes: 8 6-bit scales and 8 6-bit mins (inverse of get_scale_min_k4) */
static void pack_scale_min_k4(const uint8_t *ls, const uint8_t *lm, unsigned char *q) {
  memset(q, 0, 12);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      q[j] = ls[j], q[j + 4] = lm[j];
    } else {
      q[j + 4] = (unsigned char)((ls[j] & 15) | (lm[j] & 15) << 4);
      q[j - 4] |= (unsigned char)((ls[j] >> 4) << 6);
      q[j] |= (unsigned char)((lm[j] >> 4) << 6);
    }
  }
}

/* Q4_K block: d f16, dmin f16, scales[12], qs[128] */
static void q4_k_block(const float *x, unsigned char *y) {
  uint8_t L[QK], ls[8], lm[8];
  float scales[8], mins[8], w[32], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; j++) {
    const float *xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
    float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
    scales[j] = fit_affine(32, 15, xs, w, L + 32 * j, &mins[j], -1.f, 0.1f, 20);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; j++) {
    uint8_t s = (uint8_t)nearest_int(inv_scale * scales[j]), m = (uint8_t)nearest_int(inv_min * mins[j]);
    ls[j] = s < 63 ? s : 63;
    lm[j] = m < 63 ? m : 63;
  }
  uint16_t d = f32_to_f16(max_scale / 63.f), dmin = f32_to_f16(max_min / 63.f);
  y[0] = (unsigned char)d, y[1] = (unsigned char)(d >> 8), y[2] = (unsigned char)dmin, y[3] = (unsigned char)(dmin >> 8);
  pack_scale_min_k4(ls, lm, y + 4);
  for (int j = 0; j < 8; j++) { /* requantize against the scales as stored */
    float dj = f16_to_f32(d) * ls[j];
    if (!dj) continue;
    float dm = f16_to_f32(dmin) * lm[j];
    for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)clampi(nearest_int((x[32 * j + i] + dm) / dj), 0, 15);
  }
  unsigned char *qs = y + 16;
  for (int j = 0; j < QK; j += 64, qs += 32)
    for (int l = 0; l < 32; l++) qs[l] = (unsigned char)(L[j + l] | L[j + l + 32] << 4);
}

/* Q6_K block: ql[128], qh[64], int8 scales[16], d f16 */
static void q6_k_block(const float *x, unsigned char *y) {
  int8_t L[QK];
  float scales[16], max_scale = 0, max_abs = 0;
  for (int ib = 0; ib < 16; ib++) {
    scales[ib] = fit_symmetric(16, 32, x + 16 * ib, L + 16 * ib);
    if (fabsf(scales[ib]) > max_abs) max_abs = fabsf(scales[ib]), max_scale = scales[ib];
  }
  memset(y, 0, 210);
  if (max_abs < GROUP_MAX_EPS) return; /* all zero: d = 0 */
  float iscale = -128.f / max_scale;
  uint16_t d = f32_to_f16(1 / iscale);
  y[208] = (unsigned char)d, y[209] = (unsigned char)(d >> 8);
  int8_t *sc = (int8_t *)(y + 192);
  for (int ib = 0; ib < 16; ib++) sc[ib] = (int8_t)clampi(nearest_int(iscale * scales[ib]), -128, 127);
  for (int j = 0; j < 16; j++) {
    float dj = f16_to_f32(d) * sc[j];
    if (!dj) continue;
    for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(nearest_int(x[16 * j + i] / dj), -32, 31) + 32);
  }
  unsigned char *ql = y, *qh = y + 128;
  for (int j = 0; j < QK; j += 128, ql += 64, qh += 32)
    for (int l = 0; l < 32; l++) {
      int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
      ql[l] = (unsigned char)((q1 & 15) | (q3 & 15) << 4);
      ql[l + 32] = (unsigned char)((q2 & 15) | (q4 & 15) << 4);
      qh[l] = (unsigned char)(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
    }
}

void q_q4_k(const float *x, unsigned char *out, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) q4_k_block(x + QK * i, out + 144 * i);
}
void q_q6_k(const float *x, unsigned char *out, int64_t nb) {
  for (int64_t i = 0; i < nb; i++) q6_k_block(x + QK * i, out + 210 * i);
}
