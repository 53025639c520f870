/* Streaming stores (src/codegen/render.c, opt.c): a float32 output of at least
   CG_STREAM_MIN_BYTES that its kernel does not read back is written with streaming stores from
   8-lane vector code, and the kernel ends with a fence. An elementwise kernel and a row kernel
   (layernorm's last pass) get them; a small output and softmax (whose sum pass stages its
   values in the output) do not. Values against host loops on every backend; the opts and the
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

/* softmax's last pass reads the exponentials its sum pass staged in the output: no streaming */
static void test_softmax_keeps_its_staged_output(void) {
  int64_t n = (int64_t)ROWS * COLS;
  float *x = pattern(n, 5);
  CHECK(x != NULL);
  if (!x) return;
  cg_tensor *y = cg_softmax(cg_from_data(x, CG_F32, CG_SHAPE(ROWS, COLS), NULL), -1);
  check_streaming(y, "UNROLL 16", 0);
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
      worst = fmax(worst, fabs(got[(int64_t)r * COLS + j] - e) / e);
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
      {"layernorm_last_pass_streams", test_layernorm_last_pass_streams},
      {"softmax_keeps_its_staged_output", test_softmax_keeps_its_staged_output},
      {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
