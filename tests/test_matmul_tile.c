/* The CPU matmul path: register tile (src/codegen/opt.c), B packed into 16-column panels and A
   into 4-row panels (src/tensor/reduce.c) for large stored operands. Results against a
   double-precision host matmul, for shapes that take the tile, the packing, both or neither;
   kernel counts pin when the packing copies happen (each stored operand: +1 kernel; a computed
   operand stays fused). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* a (batch, m, k) @ b (batch, k, n), b given transposed (batch, n, k) when bt */
static double max_rel_error(const float *got, const float *a, const float *b, int batch, int m, int k,
                            int n, int bt) {
  double worst = 0;
  for (int z = 0; z < batch; z++)
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double acc = 0, mag = 0;
        for (int q = 0; q < k; q++) {
          double bv = bt ? b[((int64_t)z * n + j) * k + q] : b[((int64_t)z * k + q) * n + j];
          acc += (double)a[((int64_t)z * m + i) * k + q] * bv;
          mag += fabs((double)a[((int64_t)z * m + i) * k + q] * bv);
        }
        double e = fabs(got[((int64_t)z * m + i) * n + j] - acc) / (mag + 1e-30);
        worst = th_worst(worst, e);
      }
  return worst;
}

/* runs one case; expect_kernels < 0: don't check the count */
enum { COMPUTED_B = 1, COMPUTED_A = 2 };
static void check_case(int batch, int m, int k, int n, int bt, int computed, int expect_kernels) {
  float *a = th_values((int64_t)batch * m * k, 1), *b = th_values((int64_t)batch * k * n, 2);
  cg_tensor *ta = cg_from_data(a, CG_F32, CG_SHAPE(batch, m, k), NULL);
  cg_tensor *tb = bt ? cg_transpose(cg_from_data(b, CG_F32, CG_SHAPE(batch, n, k), NULL), 1, 2)
                     : cg_from_data(b, CG_F32, CG_SHAPE(batch, k, n), NULL);
  if (computed & COMPUTED_B) { /* a computed operand: fused, never packed */
    tb = cg_mul_s(tb, 2.0);
    for (int64_t i = 0; i < (int64_t)batch * k * n; i++) b[i] *= 2.0f; /* exact */
  }
  if (computed & COMPUTED_A) {
    ta = cg_mul_s(ta, 2.0);
    for (int64_t i = 0; i < (int64_t)batch * m * k; i++) a[i] *= 2.0f;
  }
  cg_tensor *y = cg_matmul(ta, tb);
  /* packing B is a CPU decision: GPUs read B where it is (the values are checked everywhere) */
  int c_dialect = !strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP");
  if (expect_kernels >= 0 && c_dialect) CHECK_EQ_INT(cg_count_kernels(&y, 1), expect_kernels);
  float *got = th_floats(y);
  CHECK(got != NULL);
  if (got) {
    double err = max_rel_error(got, a, b, batch, m, k, n, bt);
    if (!(err < 1e-5))
      th_fail(__FILE__, __LINE__, "%dx%dx%dx%d (bt %d): relative error %g", batch, m, k, n, bt, err);
  }
  free(got);
  free(a);
  free(b);
}

/* stored A and B: both packed (two copies, then the matmul) */
static void test_tiled_and_packed(void) { check_case(1, 128, 128, 128, 0, 0, 3); }
static void test_tiled_packed_batched_rectangular(void) { check_case(3, 132, 160, 144, 0, 0, 3); }
static void test_transposed_b_is_packed(void) { check_case(1, 128, 144, 176, 1, 0, 3); }
/* a computed B stays fused and A is then left as it is; a computed A stays fused, B is packed */
static void test_computed_b_stays_fused(void) { check_case(1, 128, 128, 128, 0, COMPUTED_B, 1); }
static void test_computed_a_stays_fused(void) { check_case(1, 128, 128, 128, 0, COMPUTED_A, 2); }
static void test_small_tiled_unpacked(void) { check_case(2, 8, 24, 32, 0, 0, 1); }
static void test_untileable_shape(void) { check_case(1, 130, 129, 131, 0, 0, 1); }

/* K >= 2048: A and B packed in blocks of 256 along k, and the tile runs the blocks as an outer
   loop with its partial sums in the output (KBLOCK); the epilogue (bias, relu) applies once */
static void test_k_blocked(void) {
  check_case(2, 128, 2048, 144, 0, 0, 3);
  if (!strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP")) {
    cg_tensor *a = cg_randn(CG_SHAPE(128, 2048), CG_F32), *b = cg_randn(CG_SHAPE(2048, 128), CG_F32);
    char opts[256];
    CHECK(cg_realize(a) == 0 && cg_realize(b) == 0);
    th_opts_of(cg_matmul(a, b), opts, sizeof opts);
    CHECK(strstr(opts, "KBLOCK 256") != NULL);
    /* the tile prefetches the partial sums it adds to while its reduce runs (prefetch.c) */
    char *src = th_c_source_of(cg_matmul(a, b));
    CHECK(src && strstr(src, "__builtin_prefetch(data0 + ") != NULL);
    free(src);
  }
}

/* K-blocked with 32 row tiles: they run in blocks of 16 inside the panel loop (ROWBLOCK), a
   panel of B reused by a block's tiles from L1; the values as before */
static void test_k_blocked_row_blocks(void) {
  check_case(1, 128, 2048, 128, 0, 0, 3);
  check_case(2, 128, 2048, 128, 0, 0, 3); /* batched: the tile's loops one dim further in */
  if (!strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP")) {
    cg_tensor *a = cg_randn(CG_SHAPE(128, 2048), CG_F32), *b = cg_randn(CG_SHAPE(2048, 128), CG_F32);
    char opts[256];
    CHECK(cg_realize(a) == 0 && cg_realize(b) == 0);
    th_opts_of(cg_matmul(a, b), opts, sizeof opts);
    if (strcmp(opts, "TILE 4x16, PANEL 2, KBLOCK 256, ROWBLOCK 16"))
      th_fail(__FILE__, __LINE__, "opts \"%s\"", opts);
  }
}

static void test_k_blocked_epilogue(void) {
  enum { M = 128, K = 2048, N = 160 };
  float *a = th_values((int64_t)M * K, 3), *b = th_values((int64_t)K * N, 4), *bias = th_values(N, 5);
  cg_tensor *ta = cg_from_data(a, CG_F32, CG_SHAPE(M, K), NULL), *tb = cg_from_data(b, CG_F32, CG_SHAPE(K, N), NULL);
  cg_tensor *y = cg_relu(cg_add(cg_matmul(ta, tb), cg_from_data(bias, CG_F32, CG_SHAPE(N), NULL)));
  int c_dialect = !strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP");
  if (c_dialect) CHECK_EQ_INT(cg_count_kernels(&y, 1), 3); /* two packed copies, one matmul */
  float *got = th_floats(y);
  CHECK(got != NULL);
  double worst = 0;
  for (int i = 0; got && i < M; i++)
    for (int j = 0; j < N; j++) {
      double acc = bias[j], mag = fabs(bias[j]);
      for (int q = 0; q < K; q++) {
        acc += (double)a[(int64_t)i * K + q] * b[(int64_t)q * N + j];
        mag += fabs((double)a[(int64_t)i * K + q] * b[(int64_t)q * N + j]);
      }
      double e = fabs(got[i * N + j] - (acc > 0 ? acc : 0)) / (mag + 1e-30);
      worst = th_worst(worst, e);
    }
  if (!(worst < 1e-5)) th_fail(__FILE__, __LINE__, "relu(a @ b + bias): relative error %g", worst);
  free(got);
  free(a);
  free(b);
  free(bias);
}

static int c_dialect(void) { return !strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP"); }

/* conv2d 3x3, padding 1, stride 1 of x (N, CI, H, W) by w (CO, CI, 3, 3), against a host loop;
   on the C backends the kernel computing it has the opts `opts`, the realize `kernels` kernels
   and the source the text `src_want` */
static void check_conv3x3(int N, int CI, int CO, int H, int W, const char *opts_want, int kernels, const char *src_want) {
  float *x = th_values((int64_t)N * CI * H * W, 6), *w = th_values((int64_t)CO * CI * 9, 7);
  cg_tensor *tx = cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL);
  cg_tensor *tw = cg_from_data(w, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL);
  const int64_t one[2] = {1, 1};
  cg_tensor *y = cg_conv2d(tx, tw, NULL, one, one, one, 1);
  if (c_dialect()) {
    char opts[256];
    th_opts_of(y, opts, sizeof opts);
    if (strcmp(opts, opts_want)) th_fail(__FILE__, __LINE__, "opts \"%s\", expected \"%s\"", opts, opts_want);
    CHECK_EQ_INT(cg_count_kernels(&y, 1), kernels);
    char *src = th_c_source_of(y);
    if (!src || !strstr(src, src_want)) th_fail(__FILE__, __LINE__, "no \"%s\" in the kernel's source", src_want);
    free(src);
  }
  float *got = th_floats(y);
  CHECK(got != NULL);
  double worst = got ? th_conv3x3_error(got, x, w, N, CI, CO, H, W) : INFINITY;
  if (!(worst < 1e-5)) th_fail(__FILE__, __LINE__, "conv2d: relative error %g", worst);
  free(got);
  free(x);
  free(w);
}

/* The flat-layout convolution's kernel stores the cropped output itself: its output channels
   become the tile's rows (ROWS) and each row's 14 pixels run as 16 with the store gated
   (WIDEN, 8 lanes at a time); two kernels, the padded copy of x and the convolution. Here where
   no channel tile fits: 24 output channels, neither 16k nor 32k */
static void test_conv_rows_widened(void) {
  check_conv3x3(2, 32, 24, 6, 14, "ROWS 1, WIDEN 16, TILE 4x16", 2, "cg_maskstore8(data0 + ");
  /* one sample: its dim is dropped when lowered and the channels are the threads' loop */
  check_conv3x3(1, 16, 32, 14, 14, "ROWS 0, WIDEN 16, TILE 4x16", 2, "cg_maskstore8(data0 + ");
}

/* 32 output channels: the weight is stored channels-last (src/tensor/nn_ops.c) and the tile runs
   along the output channels (COLS), 2 pixels x 32 channels (or 4 x 16), one vector load of 8
   channels' weights; three kernels, the weight's copy, the padded copy of x and the convolution
   (which stores the cropped output itself: no crop copy, whatever the reduce's length) */
static void test_conv_channel_tile(void) {
  check_conv3x3(3, 16, 32, 14, 14, "COLS 1, TILE 2x32", 3, "cg_fma8(cg_splat8(");
  check_conv3x3(2, 8, 64, 5, 6, "COLS 1, TILE 2x32", 3, "cg_fma8(cg_splat8(");
  check_conv3x3(2, 1, 32, 4, 6, "COLS 1, TILE 2x32", 3, "cg_fma8(cg_splat8("); /* a reduce of 9 */
  /* 16 output channels (conv1 of the demo: one input channel, 28 columns): 4 pixels x 16 */
  check_conv3x3(2, 1, 16, 5, 28, "COLS 1, TILE 4x16", 3, "cg_fma8(cg_splat8(");
  /* 16 output channels, rows of 14 pixels that 4 does not divide: the tile's 4 rows are 2 x 2
     squares of pixels (SQUARE 2; conv2's input gradient of the demo has this shape), the square's
     row and column from its lane (q / 2, q % 2) */
  check_conv3x3(3, 32, 16, 14, 14, "SQUARE 2, COLS 1, TILE 4x16", 3, "%v");
  /* 32 output channels whose 2 x 32 tile's weights (32 x 9 x 32 floats, 36 KiB) would not stay
     in L1: 4 x 16 (18 KiB) */
  check_conv3x3(2, 32, 32, 6, 14, "SQUARE 2, COLS 1, TILE 4x16", 3, "%v");
  /* an odd number of rows: no squares; each row's 14 pixels run as 16 (WIDEN 4), the store gated */
  check_conv3x3(2, 32, 16, 7, 14, "WIDEN 4, COLS 1, TILE 4x16", 3, "cg_fma8(cg_splat8(");
}

/* the line of src holding `what` (a copy; NULL if none) */
static char *line_with(const char *src, const char *what) {
  const char *at = src ? strstr(src, what) : NULL;
  if (!at) return NULL;
  const char *b = at, *e = strchr(at, '\n');
  while (b > src && b[-1] != '\n') b--;
  size_t n = e ? (size_t)(e - b) : strlen(b);
  char *line = malloc(n + 1);
  if (line) memcpy(line, b, n), line[n] = 0;
  return line;
}

/* The channel tile's 64 stores land on 32 lines (one per output channel, 784 bytes apart): the
   kernel prefetches those lines at the tile's start, each channel's (every lane of the 32), its
   2 pixels' run once (src/codegen/prefetch.c lane_step) */
static void test_conv_channel_tile_prefetches_its_lines(void) {
  if (!c_dialect()) return;
  float *x = th_values(3 * 16 * 14 * 14, 6), *w = th_values(32 * 16 * 9, 7);
  const int64_t one[2] = {1, 1};
  cg_tensor *y = cg_conv2d(cg_from_data(x, CG_F32, CG_SHAPE(3, 16, 14, 14), NULL),
                           cg_from_data(w, CG_F32, CG_SHAPE(32, 16, 3, 3), NULL), NULL, one, one, one, 1);
  char *src = th_c_source_of(y), *line = line_with(src, "__builtin_prefetch(data0 + ");
  if (!line || !strstr(line, " < 32; ") || !strstr(line, " < 2; ") || !strstr(line, " += 2) for") ||
      !strstr(line, " += 1) __builtin_prefetch"))
    th_fail(__FILE__, __LINE__, "the channel tile's output prefetch: \"%s\"", line ? line : "(none)");
  free(line);
  free(src);
  free(x);
  free(w);
}

/* float64 with 32 output channels: no channel tile (its vectors are float32) and no weight copy;
   the values against the host loop (float32 inputs, exact in float64) */
static void test_conv_f64_no_channel_tile(void) {
  int N = 2, CI = 16, CO = 32, H = 6, W = 14;
  float *x = th_values((int64_t)N * CI * H * W, 8), *w = th_values((int64_t)CO * CI * 9, 9);
  cg_tensor *tx = cg_cast(cg_from_data(x, CG_F32, CG_SHAPE(N, CI, H, W), NULL), CG_F64);
  cg_tensor *tw = cg_cast(cg_from_data(w, CG_F32, CG_SHAPE(CO, CI, 3, 3), NULL), CG_F64);
  const int64_t one[2] = {1, 1};
  CHECK(cg_realize(tx) == 0 && cg_realize(tw) == 0);
  cg_tensor *y = cg_conv2d(tx, tw, NULL, one, one, one, 1);
  if (c_dialect()) {
    char opts[256];
    th_opts_of(y, opts, sizeof opts);
    if (strstr(opts, "COLS")) th_fail(__FILE__, __LINE__, "float64 conv got \"%s\"", opts);
    CHECK_EQ_INT(cg_count_kernels(&y, 1), 2); /* the padded copy and the convolution: no weight copy */
  }
  float *got = th_floats(cg_cast(y, CG_F32));
  double e = got ? th_conv3x3_error(got, x, w, N, CI, CO, H, W) : INFINITY;
  if (!(e < 1e-6)) th_fail(__FILE__, __LINE__, "float64 conv2d: relative error %g", e);
  free(got);
  free(x);
  free(w);
}

/* 130 columns widened to 144: 9 panels of 16, none blocked (the panel count is the widened one;
   counted before widening it was 8 and a PANEL 2 did not fit) */
static void test_conv_widened_panels(void) {
  check_conv3x3(1, 8, 4, 3, 130, "ROWS 0, WIDEN 16, TILE 4x16", 2, "cg_maskstore8(data0 + ");
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"tiled_and_packed", test_tiled_and_packed},
    {"tiled_packed_batched_rectangular", test_tiled_packed_batched_rectangular},
    {"transposed_b_is_packed", test_transposed_b_is_packed},
    {"computed_b_stays_fused", test_computed_b_stays_fused},
    {"computed_a_stays_fused", test_computed_a_stays_fused},
    {"small_tiled_unpacked", test_small_tiled_unpacked},
    {"untileable_shape", test_untileable_shape},
    {"k_blocked", test_k_blocked},
    {"k_blocked_row_blocks", test_k_blocked_row_blocks},
    {"k_blocked_epilogue", test_k_blocked_epilogue},
    {"conv_rows_widened", test_conv_rows_widened},
    {"conv_channel_tile", test_conv_channel_tile},
    {"conv_channel_tile_prefetches_its_lines", test_conv_channel_tile_prefetches_its_lines},
    {"conv_f64_no_channel_tile", test_conv_f64_no_channel_tile},
    {"conv_widened_panels", test_conv_widened_panels},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
