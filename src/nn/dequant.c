/* Dequantization of ggml blocks written with tensor ops, so that it stays lazy: a weight read by a
   matmul is unpacked inside the matmul's kernel and its float32 copy never exists in memory.
   Every function takes the raw blocks as a (nblocks, bytes) uint8 tensor and returns
   (nblocks, blck) float32. Bit fields are pulled out with shifts by an iota (one lane per field)
   and masks, in int32; half-precision scales are two bytes joined and bitcast to float16.
   The float arithmetic is ggml's own (d * q, d * q + m, dl * q - ml), so results are exact. */
#include <stddef.h>
#include "ggml_types.h"

static cg_tensor *k(double v) { return cg_scalar(v, CG_I32); }

/* bytes [off, off + n) of every block, as int32: (nb, n) */
static cg_tensor *field(cg_tensor *b, int64_t off, int64_t n) {
  int64_t nb = cg_get_shape(b).d[0];
  return cg_cast(cg_shrink(b, (const int64_t[][2]){{0, nb}, {off, off + n}}, 2), CG_I32);
}

/* the little-endian 16-bit word at byte off of every block: (nb, 1) int32 */
static cg_tensor *word16(cg_tensor *b, int64_t off) {
  return cg_or(field(b, off, 1), cg_shl(field(b, off + 1, 1), k(8)));
}

/* the float16 at byte off of every block, widened: (nb, 1) float32 */
static cg_tensor *half_at(cg_tensor *b, int64_t off) {
  return cg_cast(cg_bitcast(cg_cast(word16(b, off), CG_U16), CG_F16), CG_F32);
}

/* (..., L) -> (..., S, L): lane s holds (q >> s*step) & mask. How packed fields are spread out. */
static cg_tensor *unpack(cg_tensor *q, int lanes, int step, int mask) {
  cg_shape s = cg_get_shape(q), in = s, out = s;
  in.ndim = out.ndim = s.ndim + 1;
  in.d[s.ndim] = out.d[s.ndim] = s.d[s.ndim - 1];
  in.d[s.ndim - 1] = 1;
  out.d[s.ndim - 1] = lanes;
  cg_tensor *shift = cg_reshape(cg_arange(0, (double)lanes * step, step, CG_I32), CG_SHAPE(lanes, 1));
  return cg_and(cg_shr(cg_expand(cg_reshape(q, in), out), shift), k(mask));
}

static cg_tensor *flat(cg_tensor *t, int64_t n) { return cg_reshape(t, CG_SHAPE(cg_get_shape(t).d[0], n)); }
static cg_tensor *f32(cg_tensor *t) { return cg_cast(t, CG_F32); }
static int64_t nblocks(cg_tensor *b) { return cg_get_shape(b).d[0]; }

/* unsigned, so that a byte shifted into bit 31 is well defined in the generated C */
cg_tensor *dq_f32(cg_tensor *b) {
  cg_tensor *w = NULL;
  for (int i = 0; i < 4; i++) {
    cg_tensor *byte = cg_shl(cg_cast(field(b, i, 1), CG_U32), cg_scalar(8 * i, CG_U32));
    w = w ? cg_or(w, byte) : byte;
  }
  return cg_bitcast(w, CG_F32);
}
cg_tensor *dq_f16(cg_tensor *b) { return half_at(b, 0); }
cg_tensor *dq_bf16(cg_tensor *b) { return cg_bitcast(cg_shl(word16(b, 0), k(16)), CG_F32); }

/* 32 4-bit values: byte j holds element j (low nibble) and element j + 16 (high nibble) */
static cg_tensor *nibbles32(cg_tensor *b, int64_t off) { return flat(unpack(field(b, off, 16), 2, 4, 15), 32); }
/* 32 high bits from a little-endian uint32: bit i belongs to element i, so the bit lanes go
   inside each byte (a transpose of unpack's lane-major order) */
static cg_tensor *bits32(cg_tensor *b, int64_t off) {
  return flat(cg_transpose(unpack(field(b, off, 4), 8, 1, 1), 1, 2), 32);
}

cg_tensor *dq_q4_0(cg_tensor *b) { return cg_mul(half_at(b, 0), f32(cg_sub(nibbles32(b, 2), k(8)))); }
cg_tensor *dq_q4_1(cg_tensor *b) { return cg_add(cg_mul(half_at(b, 0), f32(nibbles32(b, 4))), half_at(b, 2)); }
cg_tensor *dq_q5_0(cg_tensor *b) {
  cg_tensor *q = cg_or(nibbles32(b, 6), cg_shl(bits32(b, 2), k(4)));
  return cg_mul(half_at(b, 0), f32(cg_sub(q, k(16))));
}
cg_tensor *dq_q5_1(cg_tensor *b) {
  cg_tensor *q = cg_or(nibbles32(b, 8), cg_shl(bits32(b, 4), k(4)));
  return cg_add(cg_mul(half_at(b, 0), f32(q)), half_at(b, 2));
}
cg_tensor *dq_q8_0(cg_tensor *b) {
  int64_t nb = nblocks(b);
  cg_tensor *q = cg_bitcast(cg_shrink(b, (const int64_t[][2]){{0, nb}, {2, 34}}, 2), CG_I8);
  return cg_mul(f32(q), half_at(b, 0));
}

/* Q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (2 bits, 4 lanes), d, dmin */
cg_tensor *dq_q2_k(cg_tensor *b) {
  int64_t nb = nblocks(b);
  cg_tensor *sc = field(b, 0, 16);
  cg_tensor *dl = cg_reshape(cg_mul(half_at(b, 80), f32(cg_and(sc, k(15)))), CG_SHAPE(nb, 16, 1));
  cg_tensor *ml = cg_reshape(cg_mul(half_at(b, 82), f32(cg_shr(sc, k(4)))), CG_SHAPE(nb, 16, 1));
  cg_tensor *q = cg_reshape(unpack(cg_reshape(field(b, 16, 64), CG_SHAPE(nb, 2, 32)), 4, 2, 3), CG_SHAPE(nb, 16, 16));
  return flat(cg_sub(cg_mul(dl, f32(q)), ml), 256);
}

/* Q3_K: hmask[32] (high bit, inverted: set means no -4), qs[64] (2 bits), scales[12] (16 6-bit
   values: low nibbles in bytes 0-7, top 2 bits in bytes 8-11), d */
cg_tensor *dq_q3_k(cg_tensor *b) {
  int64_t nb = nblocks(b);
  cg_tensor *lo = flat(unpack(field(b, 96, 8), 2, 4, 15), 16);
  cg_tensor *hi = flat(unpack(field(b, 104, 4), 4, 2, 3), 16);
  cg_tensor *sc = f32(cg_sub(cg_or(lo, cg_shl(hi, k(4))), k(32)));
  cg_tensor *dl = cg_reshape(cg_mul(half_at(b, 108), sc), CG_SHAPE(nb, 16, 1));
  cg_tensor *ql = cg_reshape(unpack(cg_reshape(field(b, 32, 64), CG_SHAPE(nb, 2, 32)), 4, 2, 3), CG_SHAPE(nb, 16, 16));
  cg_tensor *qh = cg_reshape(unpack(cg_reshape(field(b, 0, 32), CG_SHAPE(nb, 1, 32)), 8, 1, 1), CG_SHAPE(nb, 16, 16));
  cg_tensor *q = cg_sub(ql, cg_shl(cg_xor(qh, k(1)), k(2)));
  return flat(cg_mul(dl, f32(q)), 256);
}

/* get_scale_min_k4 for all 8 sub-blocks at once: the 12 bytes are three rows of four, d[4] m[4]
   md[4]; scale j<4 = d&63, j>=4 = (md&15) | (d>>6)<<4; min j<4 = m&63, j>=4 = (md>>4) | (m>>6)<<4 */
static void scale_min_k4(cg_tensor *b, cg_tensor **sc, cg_tensor **mn) {
  cg_tensor *d = field(b, 4, 4), *m = field(b, 8, 4), *md = field(b, 12, 4);
  cg_tensor *s[2] = {cg_and(d, k(63)), cg_or(cg_and(md, k(15)), cg_and(cg_shr(d, k(2)), k(48)))};
  cg_tensor *n[2] = {cg_and(m, k(63)), cg_or(cg_shr(md, k(4)), cg_and(cg_shr(m, k(2)), k(48)))};
  *sc = cg_cat(s, 2, 1);
  *mn = cg_cat(n, 2, 1);
}

/* Q4_K / Q5_K: y = d*sc[j] * q - dmin*m[j] over 8 sub-blocks of 32; qs: 4 groups of 32 bytes, low
   nibbles first; Q5_K adds a 5th bit from qh[32] (bit j of byte l for sub-block j) */
static cg_tensor *k_quant_4_5(cg_tensor *b, int64_t qs_off, int64_t qh_off) {
  int64_t nb = nblocks(b);
  cg_tensor *sc, *mn;
  scale_min_k4(b, &sc, &mn);
  cg_tensor *dl = cg_reshape(cg_mul(half_at(b, 0), f32(sc)), CG_SHAPE(nb, 8, 1));
  cg_tensor *ml = cg_reshape(cg_mul(half_at(b, 2), f32(mn)), CG_SHAPE(nb, 8, 1));
  cg_tensor *q = cg_reshape(unpack(cg_reshape(field(b, qs_off, 128), CG_SHAPE(nb, 4, 32)), 2, 4, 15), CG_SHAPE(nb, 8, 32));
  if (qh_off >= 0) {
    cg_tensor *qh = cg_reshape(unpack(cg_reshape(field(b, qh_off, 32), CG_SHAPE(nb, 1, 32)), 8, 1, 1), CG_SHAPE(nb, 8, 32));
    q = cg_or(q, cg_shl(qh, k(4)));
  }
  return flat(cg_sub(cg_mul(dl, f32(q)), ml), 256);
}
cg_tensor *dq_q4_k(cg_tensor *b) { return k_quant_4_5(b, 16, -1); }
cg_tensor *dq_q5_k(cg_tensor *b) { return k_quant_4_5(b, 48, 16); }

/* Q6_K: ql[128] (low 4 bits: 2 halves of 64 bytes, low nibbles then high), qh[64] (2 bits, 4
   lanes per half), int8 scales[16] per 16 values, d */
cg_tensor *dq_q6_k(cg_tensor *b) {
  int64_t nb = nblocks(b);
  cg_tensor *sc = f32(cg_bitcast(cg_shrink(b, (const int64_t[][2]){{0, nb}, {192, 208}}, 2), CG_I8));
  cg_tensor *dl = cg_reshape(cg_mul(half_at(b, 208), sc), CG_SHAPE(nb, 16, 1));
  cg_tensor *ql = cg_reshape(unpack(cg_reshape(field(b, 0, 128), CG_SHAPE(nb, 2, 64)), 2, 4, 15), CG_SHAPE(nb, 8, 32));
  cg_tensor *qh = cg_reshape(unpack(cg_reshape(field(b, 128, 64), CG_SHAPE(nb, 2, 32)), 4, 2, 3), CG_SHAPE(nb, 8, 32));
  cg_tensor *q = cg_reshape(cg_sub(cg_or(ql, cg_shl(qh, k(4))), k(32)), CG_SHAPE(nb, 16, 16));
  return flat(cg_mul(dl, f32(q)), 256);
}
