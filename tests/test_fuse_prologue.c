/* A copy run inside its reader's thread loop (src/codegen/fuse_prologue.c, src/engine/realize.c):
   a stride-1 convolution's padded copy of its input, slab by slab, into a scratch array. Values
   against a double host loop; launches counted by the stats (the schedule still has the copy). */
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

/* its input gradient's shape: a 34 KiB slab would not stay in L1, so both kernels run */
static void test_big_slab_runs_apart(void) { check_conv(3, 32, 16, 14, 14, 2, 2); }

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

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"padded_copy_runs_inside", test_padded_copy_runs_inside},
    {"big_slab_runs_apart", test_big_slab_runs_apart},
    {"shared_copy_runs_apart", test_shared_copy_runs_apart},
    {"fused_copy_is_not_kept", test_fused_copy_is_not_kept},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
