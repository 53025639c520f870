/* The ggml type table (block sizes and bytes per block are facts of the GGML format). */
#include <stddef.h>
#include "ggml_types.h"

static const ggml_type_info types[] = {
  {CG_GGML_F32, "F32", 1, 4, dq_f32, q_f32},
  {CG_GGML_F16, "F16", 1, 2, dq_f16, q_f16},
  {CG_GGML_Q4_0, "Q4_0", 32, 18, dq_q4_0, q_q4_0},
  {CG_GGML_Q4_1, "Q4_1", 32, 20, dq_q4_1, q_q4_1},
  {CG_GGML_Q5_0, "Q5_0", 32, 22, dq_q5_0, q_q5_0},
  {CG_GGML_Q5_1, "Q5_1", 32, 24, dq_q5_1, q_q5_1},
  {CG_GGML_Q8_0, "Q8_0", 32, 34, dq_q8_0, q_q8_0},
  {CG_GGML_Q8_1, "Q8_1", 32, 36, NULL, NULL},
  {CG_GGML_Q2_K, "Q2_K", 256, 84, dq_q2_k, NULL},
  {CG_GGML_Q3_K, "Q3_K", 256, 110, dq_q3_k, NULL},
  {CG_GGML_Q4_K, "Q4_K", 256, 144, dq_q4_k, q_q4_k},
  {CG_GGML_Q5_K, "Q5_K", 256, 176, dq_q5_k, NULL},
  {CG_GGML_Q6_K, "Q6_K", 256, 210, dq_q6_k, q_q6_k},
  {CG_GGML_Q8_K, "Q8_K", 256, 292, NULL, NULL},
  {CG_GGML_BF16, "BF16", 1, 2, dq_bf16, q_bf16},
};

const ggml_type_info *ggml_type_find(int type) {
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (types[i].type == type) return &types[i];
  return NULL;
}
