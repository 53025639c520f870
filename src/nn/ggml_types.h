/* One row per ggml tensor type: block geometry, the lazy dequantizer (cgrad tensor ops, so it
   fuses into whatever reads the weight) and the reference quantizer (plain C, for the tool).
   Shared by the GGUF reader, the writer, cg_dequantize and cg_quantize_rows. */
#ifndef CG_GGML_TYPES_H
#define CG_GGML_TYPES_H
#include <stdint.h>
#include "cgrad.h"

/* (nblocks, bytes) uint8 -> (nblocks, blck) float32, lazily */
typedef cg_tensor *(*ggml_dequant_fn)(cg_tensor *blocks);
/* nblocks blocks of blck floats -> nblocks * bytes bytes */
typedef void (*ggml_quant_fn)(const float *x, unsigned char *out, int64_t nblocks);

typedef struct {
  int type;
  const char *name;
  int blck, bytes;
  ggml_dequant_fn dequant;  /* NULL: the file can hold it, cgrad cannot compute with it */
  ggml_quant_fn quant;      /* NULL: cgrad cannot produce it */
} ggml_type_info;

const ggml_type_info *ggml_type_find(int type);   /* NULL for an unknown type */

/* dequantizers (dequant.c) */
cg_tensor *dq_f32(cg_tensor *b);
cg_tensor *dq_f16(cg_tensor *b);
cg_tensor *dq_bf16(cg_tensor *b);
cg_tensor *dq_q4_0(cg_tensor *b);
cg_tensor *dq_q4_1(cg_tensor *b);
cg_tensor *dq_q5_0(cg_tensor *b);
cg_tensor *dq_q5_1(cg_tensor *b);
cg_tensor *dq_q8_0(cg_tensor *b);
cg_tensor *dq_q2_k(cg_tensor *b);
cg_tensor *dq_q3_k(cg_tensor *b);
cg_tensor *dq_q4_k(cg_tensor *b);
cg_tensor *dq_q5_k(cg_tensor *b);
cg_tensor *dq_q6_k(cg_tensor *b);

/* reference quantizers (quantize.c, quantize_k.c) */
void q_f32(const float *x, unsigned char *out, int64_t nb);
void q_f16(const float *x, unsigned char *out, int64_t nb);
void q_bf16(const float *x, unsigned char *out, int64_t nb);
void q_q4_0(const float *x, unsigned char *out, int64_t nb);
void q_q4_1(const float *x, unsigned char *out, int64_t nb);
void q_q5_0(const float *x, unsigned char *out, int64_t nb);
void q_q5_1(const float *x, unsigned char *out, int64_t nb);
void q_q8_0(const float *x, unsigned char *out, int64_t nb);
void q_q4_k(const float *x, unsigned char *out, int64_t nb);
void q_q6_k(const float *x, unsigned char *out, int64_t nb);

/* IEEE half conversions with round-to-nearest-even (as numpy and ggml's F16C path) */
uint16_t f32_to_f16(float x);
float f16_to_f32(uint16_t h);
#endif
