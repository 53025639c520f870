/* Streaming stores (src/codegen/render.c, opt.c): a float32 output of at least
   CG_STREAM_MIN_BYTES that its kernel does not read back is written with streaming stores from
   8-lane vector code, and the kernel ends with a fence. An elementwise kernel and a row kernel
   (layernorm's last pass) and softmax's last pass (its exponentials staged in scratch) get them;
   a small output, relu (a compare the vector code does not take) and a register tile do not. Values against host loops on every backend; the opts and the
   rendered C pinned on the C backends. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "codegen/program.h"

enum { ROWS = 2048, COLS = 4096 }; /* 8M floats: 32 MiB, CG_STREAM_MIN_BYTES */

static int c_dialect(void) { return !strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP"); }

static float *pattern(int64_t n, int seed) {
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; v && i < n; i++) v[i] = (float)((i * (7 + seed) + seed) % 251) / 64.0f - 1.9f;
  return v;
}

/* the opts and whether the rendered C streams its stores (C backends only) */
static void check_streaming(cg_tensor *y, const char *opts_want, int streams) {
  if (!c_dialect()) return;
  char opts[256];
  th_opts_of(y, opts, sizeof opts);
  if (strcmp(opts, opts_want)) th_fail(__FILE__, __LINE__, "opts \"%s\", expected \"%s\"", opts, opts_want);
  char *src = th_c_source_of(y);
  CHECK(src != NULL);
  CHECK_EQ_INT(src && strstr(src, "cg_vstream8(data0 + ") != NULL, streams);
  CHECK_EQ_INT(src && strstr(src, "  cg_stream_fence();") != NULL, streams);
  free(src);
}

static void muladd_case(int64_t rows, const char *opts_want, int streams) {
  int64_t n = rows * COLS;
  float *a = pattern(n, 1), *b = pattern(n, 2), *c = pattern(n, 3), *want = malloc((size_t)n * sizeof *want);
  CHECK(a && b && c && want);
  if (!a || !b || !c || !want) return;
  for (int64_t i = 0; i < n; i++) want[i] = (float)((double)a[i] * b[i] + c[i]);
  cg_tensor *y = cg_add(cg_mul(cg_from_data(a, CG_F32, CG_SHAPE(rows, COLS), NULL),
                               cg_from_data(b, CG_F32, CG_SHAPE(rows, COLS), NULL)),
                        cg_from_data(c, CG_F32, CG_SHAPE(rows, COLS), NULL));
  check_streaming(y, opts_want, streams);
  CHECK(th_max_diff(y, want, (int)n) < 1e-6); /* a*b rounded to float first: one ulp of ~4 */
  free(a), free(b), free(c), free(want);
}

static void test_big_elementwise_output_streams(void) { muladd_case(ROWS, "UPCAST 16", 1); }

static void test_small_elementwise_output_does_not(void) { muladd_case(4, "none", 0); }

/* relu's compare is not vector code the plan takes: no UPCAST, gcc vectorizes it as before */
static void test_big_relu_keeps_its_loop(void) {
  int64_t n = (int64_t)ROWS * COLS;
  float *x = pattern(n, 6), *want = malloc((size_t)n * sizeof *want);
  CHECK(x && want);
  if (!x || !want) return;
  for (int64_t i = 0; i < n; i++) want[i] = x[i] > 0 ? x[i] : 0.0f;
  cg_tensor *y = cg_relu(cg_from_data(x, CG_F32, CG_SHAPE(ROWS, COLS), NULL));
  check_streaming(y, "none", 0);
  CHECK(th_max_diff(y, want, (int)n) == 0);
  free(x), free(want);
}

/* a register tile (matmul: 32 MiB out, k short enough for no K blocking) keeps its stores and
   the write prefetch of its output lines (prefetch.c): no streaming (the C source only) */
static void test_register_tile_does_not_stream(void) {
  if (!c_dialect()) return;
  cg_tensor *a = cg_contiguous(cg_full(CG_SHAPE(ROWS * 2, 64), 0.5, CG_F32));
  cg_tensor *b = cg_contiguous(cg_full(CG_SHAPE(64, COLS / 2), 0.25, CG_F32));
  CHECK(cg_realize(a) == 0 && cg_realize(b) == 0);
  char *src = th_c_source_of(cg_matmul(a, b));
  CHECK(src && strstr(src, "cg_vstore8(data0 + ") != NULL);
  CHECK(src && strstr(src, "cg_vstream8(data0 + ") == NULL);
  free(src);
}

/* layernorm over rows: the mean and variance passes as before, the last pass vector code whose
   stores stream */
static void test_layernorm_last_pass_streams(void) {
  int64_t n = (int64_t)ROWS * COLS;
  float *x = pattern(n, 4), *want = malloc((size_t)n * sizeof *want);
  CHECK(x && want);
  if (!x || !want) return;
  for (int r = 0; r < ROWS; r++) {
    const float *row = x + (int64_t)r * COLS;
    double mean = 0, var = 0;
    for (int j = 0; j < COLS; j++) mean += row[j];
    mean /= COLS;
    for (int j = 0; j < COLS; j++) var += (row[j] - mean) * (row[j] - mean);
    double rstd = 1.0 / sqrt(var / COLS + 1e-5);
    for (int j = 0; j < COLS; j++) want[(int64_t)r * COLS + j] = (float)((row[j] - mean) * rstd);
  }
  cg_tensor *y = cg_layernorm(cg_from_data(x, CG_F32, CG_SHAPE(ROWS, COLS), NULL), -1, 1e-5);
  check_streaming(y, "UPCAST 16, UNROLL 16", 1);
  CHECK(th_max_diff(y, want, (int)n) < 1e-5); /* float32 sums over 4096: 1.3e-6 seen */
  free(x), free(want);
}

/* softmax's sum pass stages its exponentials in a scratch array (stage_output.c), so its last
   pass, vector code over the row, only writes the output: it streams */
static void test_softmax_last_pass_streams(void) {
  int64_t n = (int64_t)ROWS * COLS;
  float *x = pattern(n, 5);
  CHECK(x != NULL);
  if (!x) return;
  cg_tensor *y = cg_softmax(cg_from_data(x, CG_F32, CG_SHAPE(ROWS, COLS), NULL), -1);
  check_streaming(y, "UNROLL 16", 1);
  float *got = th_floats(y);
  CHECK(got != NULL);
  double worst = 0;
  for (int r = 0; got && r < ROWS; r += 97) { /* a sample of rows */
    const float *row = x + (int64_t)r * COLS;
    double m = -INFINITY, s = 0;
    for (int j = 0; j < COLS; j++) m = fmax(m, row[j]);
    for (int j = 0; j < COLS; j++) s += exp(row[j] - m);
    for (int j = 0; j < COLS; j++) {
      double e = exp(row[j] - m) / s;
      worst = th_worst(worst, fabs(got[(int64_t)r * COLS + j] - e) / e);
    }
  }
  CHECK(worst < 1e-5);
  free(got);
  free(x);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
      {"big_elementwise_output_streams", test_big_elementwise_output_streams},
      {"small_elementwise_output_does_not", test_small_elementwise_output_does_not},
      {"big_relu_keeps_its_loop", test_big_relu_keeps_its_loop},
      {"register_tile_does_not_stream", test_register_tile_does_not_stream},
      {"layernorm_last_pass_streams", test_layernorm_last_pass_streams},
      {"softmax_last_pass_streams", test_softmax_last_pass_streams},
      {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
