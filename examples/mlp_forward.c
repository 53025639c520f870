/* A two-layer MLP forward pass: shows cgrad fusing relu(x@W1+b1) into one kernel.
   Run with DEBUG=2 to see each kernel, its time, GFLOPS and GB/s. */
#include <stdio.h>
#include "cgrad.h"

int main(void) {
  cg_scope_push();
  cg_manual_seed(0);
  cg_tensor *x = cg_rand(CG_SHAPE(64, 784), CG_F32);
  cg_tensor *w1 = cg_mul_s(cg_randn(CG_SHAPE(784, 128), CG_F32), 0.05);
  cg_tensor *b1 = cg_zeros(CG_SHAPE(128), CG_F32);
  cg_tensor *w2 = cg_mul_s(cg_randn(CG_SHAPE(128, 10), CG_F32), 0.1);
  cg_tensor *params[] = {x, w1, w2};
  if (cg_realize_all(params, 3) != 0) {
    fprintf(stderr, "error: %s\n", cg_last_error());
    return 1;
  }
  cg_reset_stats();
  cg_tensor *h = cg_relu(cg_add(cg_matmul(x, w1), b1));      /* one fused kernel */
  cg_tensor *probs = cg_softmax(cg_matmul(h, w2), -1);        /* matmul+softmax: 3 kernels */
  cg_tensor *pred = cg_argmax(probs, -1, 0);
  int32_t labels[64];
  if (cg_to_data(pred, labels, sizeof labels) != 0) {
    fprintf(stderr, "error: %s\n", cg_last_error());
    return 1;
  }
  cg_stats s = cg_get_stats();
  printf("predicted classes of the first 8 rows:");
  for (int i = 0; i < 8; i++) printf(" %d", labels[i]);
  printf("\nkernels run: %lld (compiled %lld, from disk cache %lld), %.3f ms, %.2f MFLOP\n",
         (long long)s.kernels_run, (long long)s.kernels_compiled, (long long)s.kernels_cached,
         s.time_s * 1e3, s.flops * 1e-6);
  cg_scope_pop();
  cg_shutdown();
  return 0;
}
