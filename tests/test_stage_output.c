/* Staging (src/codegen/stage_output.c): softmax's exp is stored by the loop that sums it and read
   back by the output loop, from a scratch array of the launch's own where the row fits 32 KiB,
   else through the output. Results against a double-precision softmax, for rows that take the
   unrolled lanes and rows that do not, rows staged in scratch and through the output; assigning
   a tensor its own softmax reads the old values; half outputs (where the round trip would round)
   are left alone but stay right. CPU and INTERP run the same program. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static float *inputs(int rows, int cols) {
  float *v = malloc((size_t)rows * cols * sizeof *v);
  for (int i = 0; i < rows * cols; i++) v[i] = (float)((i * 7919) % 1000) / 125.0f - 4.0f;
  return v;
}

/* largest relative error of got against softmax(x) along rows, in double precision */
static double softmax_error(const float *got, const float *x, int rows, int cols) {
  double worst = 0;
  for (int r = 0; r < rows; r++) {
    const float *row = x + (size_t)r * cols;
    double m = -INFINITY, sum = 0;
    for (int c = 0; c < cols; c++) m = fmax(m, row[c]);
    for (int c = 0; c < cols; c++) sum += exp((double)row[c] - m);
    for (int c = 0; c < cols; c++) {
      double want = exp((double)row[c] - m) / sum;
      worst = th_worst(worst, fabs(got[(size_t)r * cols + c] - want) / want);
    }
  }
  return worst;
}


static void check_softmax(int rows, int cols) {
  float *x = inputs(rows, cols);
  cg_tensor *t = cg_from_data(x, CG_F32, CG_SHAPE(rows, cols), NULL);
  cg_tensor *s = cg_softmax(t, -1);
  CHECK_EQ_INT(cg_count_kernels(&s, 1), 1);
  float *got = th_floats(s);
  CHECK(got && softmax_error(got, x, rows, cols) < 2e-6);
  free(got);
  free(x);
}

static void test_softmax_rows(void) {
  check_softmax(64, 256);  /* 16 unrolled lanes */
  check_softmax(37, 300);  /* 15 lanes */
  check_softmax(5, 7);     /* too short to unroll: the reduce loop itself is the index */
  check_softmax(3, 9000);  /* 36 KB a row: through the output */
}

/* a softmax over one row (1-D): its reduce loops run before the thread loop, in every part of
   the launch, so staging in the output would let each part overwrite the others' results (they
   were off by a factor of hundreds): in scratch where it fits, else not staged. A prime length
   has no unrolled lanes: one accumulator sums the row, whose float32 rounding error grows to
   n * 2^-24 (n = 40009: 1.3e-5 seen, the same on CPU and INTERP) */
static void check_softmax_1d(int n, double tol) {
  float *x = inputs(1, n);
  cg_tensor *s = cg_softmax(cg_from_data(x, CG_F32, CG_SHAPE(n), NULL), -1);
  float *got = th_floats(s);
  CHECK(got && softmax_error(got, x, 1, n) < tol);
  free(got);
  free(x);
}

static void test_softmax_one_row(void) {
  check_softmax_1d(4096, 2e-6);              /* scratch, 16 lanes */
  check_softmax_1d(4099, 2e-6);              /* scratch, the loop is the index */
  check_softmax_1d(40000, 2e-6);             /* too long for scratch: not staged */
  check_softmax_1d(40009, 40009 * 0x1p-24);  /* not staged, one accumulator */
}

/* b * softmax(w) assigned to b: one kernel, staged in scratch, that reads b only at the element
   it writes, so it may run in place */
static void test_assign_product_with_softmax(void) {
  enum { ROWS = 8, COLS = 512 };
  float *x = inputs(ROWS, COLS), *bv = inputs(ROWS, COLS), *sm = malloc(ROWS * COLS * sizeof *sm);
  for (int i = 0; i < ROWS * COLS; i++) bv[i] = bv[(i * 31) % (ROWS * COLS)] * 0.5f + 1.0f;
  cg_tensor *w = cg_from_data(x, CG_F32, CG_SHAPE(ROWS, COLS), NULL);
  cg_tensor *b = cg_from_data(bv, CG_F32, CG_SHAPE(ROWS, COLS), NULL);
  float *s = th_floats(cg_softmax(w, -1));
  CHECK(s && sm && cg_assign(b, cg_mul(b, cg_softmax(w, -1))) == 0);
  float *got = th_floats(b);
  double worst = 0;
  for (int i = 0; got && s && i < ROWS * COLS; i++) worst = th_worst(worst, fabs(got[i] - (double)bv[i] * s[i]) / (fabs((double)bv[i] * s[i]) + 1e-30)); /* some b are 0 */
  CHECK(got && worst < 1e-6);
  free(got), free(s), free(sm), free(bv), free(x);
}

/* where the values go, in the rendered C: a scratch array of the row's length, or the output
   (read back: `data0[`on the right of an assignment) */
static void check_staged_in(int cols, int scratch) {
  float *x = inputs(2, cols);
  char *src = th_c_source_of(cg_softmax(cg_from_data(x, CG_F32, CG_SHAPE(2, cols), NULL), -1));
  char array[64];
  snprintf(array, sizeof array, "float scratch2[%d] __attribute__((aligned(64)));", cols);
  CHECK(src != NULL);
  CHECK_EQ_INT(src && strstr(src, array) != NULL, scratch);
  CHECK_EQ_INT(src && strstr(src, "= (data0[") != NULL, !scratch);
  free(src);
  free(x);
}

static void test_staged_in_scratch_or_output(void) {
  check_staged_in(256, 1);
  check_staged_in(9000, 0);
}

static void assign_own_softmax(int rows, int cols) {
  float *x = inputs(rows, cols);
  cg_tensor *t = cg_from_data(x, CG_F32, CG_SHAPE(rows, cols), NULL);
  CHECK(cg_assign(t, cg_softmax(t, -1)) == 0);
  float *got = th_floats(t);
  CHECK(got && softmax_error(got, x, rows, cols) < 2e-6);
  free(got);
  free(x);
}

static void test_assign_own_softmax_reads_old_values(void) {
  assign_own_softmax(16, 512);  /* staged in scratch */
  assign_own_softmax(2, 9000);  /* through the output */
}

static void test_half_output_not_staged_but_right(void) {
  enum { ROWS = 8, COLS = 256 };
  float *x = inputs(ROWS, COLS);
  cg_tensor *t = cg_cast(cg_from_data(x, CG_F32, CG_SHAPE(ROWS, COLS), NULL), CG_F16);
  float *rounded = th_floats(cg_cast(t, CG_F32)); /* the half inputs, exactly */
  float *got = th_floats(cg_cast(cg_softmax(t, -1), CG_F32));
  /* half arithmetic rounds x - max, the exp argument, exp and the quotient: a few 2^-11 each */
  CHECK(got && rounded && softmax_error(got, rounded, ROWS, COLS) < 1e-2);
  free(got);
  free(rounded);
  free(x);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"softmax_rows", test_softmax_rows},
    {"staged_in_scratch_or_output", test_staged_in_scratch_or_output},
    {"softmax_one_row", test_softmax_one_row},
    {"assign_product_with_softmax", test_assign_product_with_softmax},
    {"assign_own_softmax_reads_old_values", test_assign_own_softmax_reads_old_values},
    {"half_output_not_staged_but_right", test_half_output_not_staged_but_right},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
