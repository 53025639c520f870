/* Tensor cores: a float16/bfloat16 matmul kernel (a reduce of products of two strided half loads)
   rendered for NVIDIA mma.sync m16n8k16, one warp per 16x8 output tile. */
#ifndef CG_TENSOR_CORES_H
#define CG_TENSOR_CORES_H
#include "lower.h"
#include "program.h"

typedef struct {
  int in_dtype, out_dtype;         /* CG_F16 or CG_BF16; the output's */
  int round_to[4], nround;         /* casts between the float32 sum and the output, innermost first */
  int a_param, b_param;            /* parameter slots of the two operands */
  int64_t m, n, k;                 /* problem size */
  int64_t a_base, a_m, a_k;        /* element offset and strides of A[m, k] */
  int64_t b_base, b_k, b_n;        /* ... of B[k, n] */
  int64_t o_base, o_m, o_n;        /* ... of the output */
  int nbatch;                      /* other output loops (batch), outermost first */
  int64_t batch[CG_MAX_DIMS], a_batch[CG_MAX_DIMS], b_batch[CG_MAX_DIMS], o_batch[CG_MAX_DIMS];
} cg_tc_plan;

/* 1 and the plan if the kernel is such a matmul with M%16, N%8, K%16 == 0 and affine indices. */
int cg_tc_match(const cg_lowered *l, cg_tc_plan *tc);
/* CUDA source for the plan under p's name and parameters; sets p->launch_threads/local_size. */
char *cg_tc_render(cg_program *p, const cg_tc_plan *tc);
#endif
