/* A copy run inside its reader's thread loop (src/codegen/fuse_prologue.c, src/engine/realize.c):
   a stride-1 convolution's padded copy of its input, slab by slab, into a scratch array. Values
   against a double host loop; launches counted by the stats (the schedule still has the copy). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static int fuses(void) { return !strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP"); }

static const int64_t ONE[2] = {1, 1};

/* conv2d 3x3 of fresh x and w: its value checked, and `launches` kernels run for it where the
   schedule has `scheduled` (CPU and INTERP; GPUs run what they schedule) */
static void check_conv(int N, int CI, int CO, int H, int W, int scheduled, int launches) {
  float *x = th_values((int64_t)N * CI * H * W, 1), *w = th_values((int64_t)CO * CI * 9, 2);
  cg_tensor *y = cg_conv2d(cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL),
                           cg_from_data(w, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL), NULL, ONE, ONE, ONE, 1);
  if (fuses()) CHECK_EQ_INT(cg_count_kernels(&y, 1), scheduled); /* GPUs keep the windows */
  int64_t before = cg_get_stats().kernels_run;
  CHECK(cg_realize(y) == 0);
  if (fuses()) CHECK_EQ_INT(cg_get_stats().kernels_run - before, launches);
  float *got = th_floats(y);
  double e = got ? th_conv3x3_error(got, x, w, N, CI, CO, H, W) : INFINITY;
  if (!(e < 1e-5)) th_fail(__FILE__, __LINE__, "conv2d (%d, %d, %d, %d, %d): relative error %g", N, CI, CO, H, W, e);
  free(got);
  free(x);
  free(w);
}

/* conv2's forward: the weight's channels-last copy, the padded copy of x (a 17 KiB slab a
   sample) and the convolution are scheduled; the padded copy runs inside the convolution */
static void test_padded_copy_runs_inside(void) { check_conv(5, 16, 32, 14, 14, 3, 2); }

/* its input gradient's shape (34 KiB a sample): fused too, beside the weight's channels-last copy;
   with 48 input channels (52 KiB) the slab would not stay near L1, so both kernels run (the row
   tile: a tile's weights, 48 x 9 x 16 floats, do not fit the channel tile's 24 KiB) */
static void test_big_slab_runs_apart(void) {
  check_conv(3, 32, 16, 14, 14, 3, 2);
  check_conv(3, 48, 16, 14, 14, 2, 2);
}

/* conv2's input gradient: the fused kernel's copy reads a sample's g (25 KB) from memory at each
   iteration's start, so each tile of the convolution prefetches its share of the next sample's
   (src/codegen/prefetch.c cg_render_slab_prefetch): 6272 floats a sample, 393 lines over 49 tiles
   (2 x 2 squares of 14 x 14 pixels), 9 a tile */
static void test_fused_reader_prefetches_next_slab(void) {
  if (!fuses()) return;
  int N = 3, CI = 16, CO = 32, H = 14, W = 14;
  float *x = th_values((int64_t)N * CI * H * W, 3), *w = th_values(CO * CI * 9, 4);
  float *g = th_values((int64_t)N * CO * H * W, 5);
  cg_tensor *tx = cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL);
  CHECK(cg_set_requires_grad(tx, 1) == 0);
  cg_tensor *y = cg_conv2d(tx, cg_from_data(w, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL), NULL, ONE, ONE, ONE, 1);
  CHECK(cg_backward(cg_sum(cg_mul(y, cg_from_data(g, CG_F32, CG_SHAPE(N, CO, H, W), NULL)), CG_ALL, 0)) == 0);
  char *src = th_fused_c_source_of(cg_grad(tx));
  const char *pf = src ? strstr(src, "__builtin_prefetch((const void *)((unsigned long long)data") : NULL;
  if (!pf || !strstr(pf, " + 1) * 6272LL + 0LL) * 4 + ") || !strstr(src, "for (long long pf = 0; pf < 9; pf++)"))
    th_fail(__FILE__, __LINE__, "no prefetch of the next sample's g in the fused input gradient");
  free(src);
  free(x);
  free(w);
  free(g);
}

/* the same padded x read by two convolutions (one stored value, two readers): not fused */
static void test_shared_copy_runs_apart(void) {
  int N = 2, CI = 4, CO = 8, H = 6, W = 7;
  float *x = th_values((int64_t)N * CI * H * W, 3), *w1 = th_values(CO * CI * 9, 4), *w2 = th_values(CO * CI * 9, 5);
  cg_tensor *tx = cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL);
  cg_tensor *y[2] = {cg_conv2d(tx, cg_from_data(w1, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL), NULL, ONE, ONE, ONE, 1),
                     cg_conv2d(tx, cg_from_data(w2, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL), NULL, ONE, ONE, ONE, 1)};
  int scheduled = cg_count_kernels(y, 2);
  int64_t before = cg_get_stats().kernels_run;
  CHECK(cg_realize_all(y, 2) == 0);
  if (fuses()) CHECK_EQ_INT(cg_get_stats().kernels_run - before, scheduled);
  const float *ws[2] = {w1, w2};
  for (int k = 0; k < 2; k++) {
    float *got = th_floats(y[k]);
    double e = got ? th_conv3x3_error(got, x, ws[k], N, CI, CO, H, W) : INFINITY;
    if (!(e < 1e-5)) th_fail(__FILE__, __LINE__, "conv %d: relative error %g", k, e);
    free(got);
  }
  free(x);
  free(w1);
  free(w2);
}

/* The padded copy is a CONTIGUOUS value, kept for later realizes where it runs as a kernel; fused,
   it is never written, so the next realize that needs it computes it again: a second
   convolution of the same x (same padded copy) must see x's values, not a stale buffer. And an
   assignment of a convolution of x back into x reads x's old values. */
static void test_fused_copy_is_not_kept(void) {
  int N = 2, CI = 8, CO = 8, H = 6, W = 14;
  float *x = th_values((int64_t)N * CI * H * W, 6), *w1 = th_values(CO * CI * 9, 7), *w2 = th_values(CO * CI * 9, 8);
  cg_tensor *tx = cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL);
  cg_tensor *tw1 = cg_from_data(w1, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL);
  cg_tensor *tw2 = cg_from_data(w2, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL);
  const float *ws[2] = {w1, w2};
  cg_tensor *tws[2] = {tw1, tw2};
  for (int k = 0; k < 2; k++) {
    cg_tensor *y = cg_conv2d(tx, tws[k], NULL, ONE, ONE, ONE, 1);
    float *got = th_floats(y);
    double e = got ? th_conv3x3_error(got, x, ws[k], N, CI, CO, H, W) : INFINITY;
    if (!(e < 1e-5)) th_fail(__FILE__, __LINE__, "conv %d: relative error %g", k, e);
    free(got);
  }
  /* x = conv(x, w1): the expected values from the old x */
  float *expect = malloc((size_t)N * CO * H * W * sizeof *expect);
  cg_tensor *y = cg_conv2d(tx, tw1, NULL, ONE, ONE, ONE, 1);
  float *first = th_floats(y);
  CHECK(first != NULL);
  if (first) memcpy(expect, first, (size_t)N * CO * H * W * sizeof *expect);
  CHECK(cg_assign(tx, cg_conv2d(tx, tw1, NULL, ONE, ONE, ONE, 1)) == 0);
  CHECK(cg_realize(tx) == 0);
  CHECK(th_max_diff(tx, expect, N * CO * H * W) == 0);
  free(first);
  free(expect);
  free(x);
  free(w1);
  free(w2);
}

/* d sum(conv(x, w) * g) / dw against a double host loop, relative to each output's sum of |terms| */
static double weight_grad_error(const float *got, const float *x, const float *g, int N, int CI, int CO, int H, int W) {
  double worst = 0;
  for (int co = 0; co < CO; co++)
    for (int ci = 0; ci < CI; ci++)
      for (int t = 0; t < 9; t++) {
        double sum = 0, mag = 0;
        for (int n = 0; n < N; n++)
          for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
              int r = i + t / 3 - 1, c = j + t % 3 - 1;
              if (r < 0 || r >= H || c < 0 || c >= W) continue;
              double v = (double)g[(((int64_t)n * CO + co) * H + i) * W + j] * x[(((int64_t)n * CI + ci) * H + r) * W + c];
              sum += v, mag += fabs(v);
            }
        double e = fabs(got[((int64_t)co * CI + ci) * 9 + t] - sum) / (mag > 0 ? mag : 1);
        worst = th_worst(worst, e);
      }
  return worst;
}

/* The weight gradient sums blocks of samples (nn_ops.c weight_grad_blocks: 4 of conv2's samples
   a block, sized for L2), so one iteration of its thread loop reads k = 4 iterations of the
   padded-x copy and of g's channels-last copy: both copies run inside it, k iterations each,
   into two scratch slabs (70 and 112 KiB), and their outputs are never allocated. 8 samples: two
   blocks, then the blocks' sum. */
static void test_block_slabs_run_inside(void) {
  int N = 8, CI = 16, CO = 32, H = 14, W = 14;
  float *x = th_values((int64_t)N * CI * H * W, 9), *w = th_values(CO * CI * 9, 10),
        *g = th_values((int64_t)N * CO * H * W, 11);
  cg_tensor *tx = cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL);
  cg_tensor *tw = cg_from_data(w, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL);
  CHECK(cg_set_requires_grad(tw, 1) == 0);
  cg_tensor *y = cg_conv2d(tx, tw, NULL, ONE, ONE, ONE, 1);
  CHECK(cg_backward(cg_sum(cg_mul(y, cg_from_data(g, CG_F32, CG_SHAPE(N, CO, H, W), NULL)), CG_ALL, 0)) == 0);
  cg_tensor *dw = cg_grad(tw);
  int scheduled = cg_count_kernels(&dw, 1);
  cg_stats before = cg_get_stats();
  CHECK(cg_realize(dw) == 0);
  cg_stats after = cg_get_stats();
  if (fuses()) CHECK_EQ_INT(after.kernels_run - before.kernels_run, scheduled - 2);
  /* the copies' outputs get no buffer: the partial sums' and the gradient's only */
  if (fuses()) CHECK_EQ_INT(after.buffers_new - before.buffers_new, scheduled - 2);
  float *got = th_floats(dw);
  double e = got ? weight_grad_error(got, x, g, N, CI, CO, H, W) : INFINITY;
  if (!(e < 1e-5)) th_fail(__FILE__, __LINE__, "weight gradient: relative error %g", e);
  free(got);
  free(x);
  free(w);
  free(g);
}

/* The training step's loss (tools/train.c): per-example cross-entropy weighted and averaged,
   its gradient realized with the loss in one schedule. There a copy (the per-example scale of
   the gradient) runs inside a kernel that already keeps values in a scratch array of its own
   (src/codegen/stage_output.c): the copy's inputs must still meet their arguments past that
   scratch (it crashed). The gradient of the logits against a double host loop. */
static void test_copy_into_kernel_with_scratch(void) {
  enum { B = 64, C = 10 };
  float *logit = th_values(B * C, 12), weight[B];
  int32_t label[B];
  double wsum = 0;
  for (int i = 0; i < B; i++) /* some labels ignored (-100): the copy reads them */
    label[i] = i % 7 == 3 ? -100 : (i * 7) % C, weight[i] = i % 5 ? 1.0f : 0.0f, wsum += weight[i];
  cg_tensor *tl = cg_from_data(logit, CG_F32, CG_SHAPE(B, C), NULL);
  cg_tensor *tw = cg_from_data(weight, CG_F32, CG_SHAPE(B), NULL);
  CHECK(cg_set_requires_grad(tl, 1) == 0);
  cg_tensor *losses = cg_cross_entropy(cg_mul(tl, cg_full(CG_SHAPE(1), 1.5, CG_F32)),
                                       cg_from_data(label, CG_I32, CG_SHAPE(B), NULL), CG_REDUCTION_NONE, 0);
  cg_tensor *loss = cg_div(cg_sum(cg_mul(losses, tw), CG_ALL, 0), cg_sum(tw, CG_ALL, 0));
  CHECK(cg_backward(loss) == 0);
  cg_tensor *all[2] = {cg_grad(tl), loss};
  int scheduled = cg_count_kernels(all, 2);
  int64_t before = cg_get_stats().kernels_run;
  CHECK(cg_realize_all(all, 2) == 0);
  if (fuses()) CHECK_EQ_INT(cg_get_stats().kernels_run - before, scheduled - 1); /* the copy ran inside */
  float *got = th_floats(all[0]);
  double worst = got ? 0 : INFINITY;
  for (int i = 0; i < B && got; i++) {
    double m = -INFINITY, z = 0;
    for (int c = 0; c < C; c++) m = fmax(m, 1.5 * logit[i * C + c]);
    for (int c = 0; c < C; c++) z += exp(1.5 * logit[i * C + c] - m);
    for (int c = 0; c < C; c++) {
      double p = exp(1.5 * logit[i * C + c] - m) / z, d = 1.5 * (p - (c == label[i])) * weight[i] / wsum;
      if (label[i] == -100) d = 0;
      double e = fabs(got[i * C + c] - d);
      worst = th_worst(worst, e);
    }
  }
  if (!(worst < 1e-6)) th_fail(__FILE__, __LINE__, "cross-entropy gradient: error %g", worst);
  free(got);
  free(logit);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"padded_copy_runs_inside", test_padded_copy_runs_inside},
    {"big_slab_runs_apart", test_big_slab_runs_apart},
    {"fused_reader_prefetches_next_slab", test_fused_reader_prefetches_next_slab},
    {"shared_copy_runs_apart", test_shared_copy_runs_apart},
    {"fused_copy_is_not_kept", test_fused_copy_is_not_kept},
    {"block_slabs_run_inside", test_block_slabs_run_inside},
    {"copy_into_kernel_with_scratch", test_copy_into_kernel_with_scratch},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
