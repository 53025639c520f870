/* Devices: GPU backends either run and agree with the CPU, or fail with a clear reason (no driver,
   no device) and no crash; bad device names are errors; reduces broadcast along the last axis
   fuse into their consumer (softmax and layernorm are one kernel each). */
#include <stdlib.h>
#include <string.h>
#include "harness.h"

enum { ROWS = 37, COLS = 300 };

static cg_tensor *input(const char *device) {
  static float data[ROWS * COLS];
  for (int i = 0; i < ROWS * COLS; i++) data[i] = (float)((i * 37) % 101) / 17.0f - 3;
  return cg_from_data(data, CG_F32, CG_SHAPE(ROWS, COLS), device);
}

/* softmax rows, the column sums and a matmul on `device` equal the CPU's */
static void compare_with_cpu(const char *device) {
  cg_tensor *x = input(device), *c = input("CPU");
  CHECK(x != NULL);
  cg_tensor *got[3] = {cg_softmax(x, -1), cg_sum(x, CG_AXES(0), 0), cg_matmul(x, cg_transpose(x, 0, 1))};
  cg_tensor *want[3] = {cg_softmax(c, -1), cg_sum(c, CG_AXES(0), 0), cg_matmul(c, cg_transpose(c, 0, 1))};
  for (int k = 0; k < 3; k++) {
    float *g = th_floats(got[k]), *w = th_floats(want[k]);
    int64_t n = cg_numel(want[k]);
    double worst = 0;
    for (int64_t i = 0; g && w && i < n; i++) worst = th_worst(worst, fabs(g[i] - w[i]) / (1 + fabs(w[i])));
    CHECK(g && w && worst < 1e-5);
    free(g);
    free(w);
  }
}

/* out = f(x) on `device`, as float32 values on the host */
static float *run_on(const char *device, cg_tensor *(*f)(cg_tensor *)) {
  static float data[ROWS * COLS];
  for (int i = 0; i < ROWS * COLS; i++) data[i] = (float)((i * 53) % 97) / 13.0f - 3;
  cg_tensor *x = cg_from_data(data, CG_F32, CG_SHAPE(ROWS, COLS), device);
  return x ? th_floats(cg_cast(f(x), CG_F32)) : NULL;
}

/* Shapes at the edges of the GPU's 4-wide vector loads and stores (render.c, vector_access.c):
   aligned rows, views that start one element in (not 16-byte aligned: scalar access), half and
   int16 storage, unrolled row sums, an in-place update; each equals the CPU's result exactly. */
static cg_tensor *aligned_madd(cg_tensor *x) { return cg_add(cg_mul(x, x), x); }
static cg_tensor *offset_view(cg_tensor *x) {
  int64_t cut[2][2] = {{1, ROWS}, {1, 1 + 256}}; /* 256 columns from column 1: misaligned rows */
  return cg_mul(cg_shrink(x, cut, 2), cg_full_like(cg_shrink(x, cut, 2), 3.0));
}
static cg_tensor *half_add(cg_tensor *x) { cg_tensor *h = cg_cast(x, CG_F16); return cg_add(h, h); }
static cg_tensor *int16_mul(cg_tensor *x) { cg_tensor *i = cg_cast(x, CG_I16); return cg_mul(i, i); }
static cg_tensor *row_sums(cg_tensor *x) { return cg_sum(cg_exp(x), CG_AXES(1), 0); }
static cg_tensor *in_place(cg_tensor *x) {
  cg_tensor *y = cg_contiguous(cg_mul(x, x));
  if (cg_realize(y) || cg_assign(y, cg_add(y, x))) return NULL;
  return y;
}

static void compare_vector_access(const char *device) {
  cg_tensor *(*cases[])(cg_tensor *) = {aligned_madd, offset_view, half_add, int16_mul, row_sums, in_place};
  int64_t counts[] = {ROWS * COLS, (ROWS - 1) * 256, ROWS * COLS, ROWS * COLS, ROWS, ROWS * COLS};
  for (int k = 0; k < 6; k++) {
    float *g = run_on(device, cases[k]), *w = run_on("CPU", cases[k]);
    CHECK(g && w);
    int same = 1;
    float tol = k == 4 ? 1e-5f : 0; /* exp differs in the last bits between devices */
    for (int64_t i = 0; g && w && i < counts[k]; i++) same &= fabsf(g[i] - w[i]) <= tol * fabsf(w[i]);
    if (!same) th_fail(__FILE__, __LINE__, "vector access case %d differs on %s", k, device);
    free(g);
    free(w);
  }
}

static void test_gpu_backends_run_or_say_why(void) {
  const char *gpus[] = {"CUDA", "CL"};
  for (int i = 0; i < 2; i++) {
    if (cg_device_open(gpus[i]) == 0) {
      compare_with_cpu(gpus[i]);
      compare_vector_access(gpus[i]);
      continue;
    }
    CHECK(strstr(cg_last_error(), gpus[i]) != NULL); /* the reason names the device */
    CHECK(input(gpus[i]) == NULL);                    /* using it is an error, not a crash */
    CHECK(strstr(cg_last_error(), "not available") != NULL);
  }
}

static void test_bad_device_names(void) {
  CHECK(cg_device_open("NOPE") == -1);
  CHECK(strstr(cg_last_error(), "unknown device") != NULL);
  CHECK(cg_device_open("CPU:x") == -1);
  CHECK(strstr(cg_last_error(), "bad device index") != NULL);
  CHECK(cg_device_open("CPU:1") == -1);
  CHECK(cg_device_open("CPU:0") == 0);
}

static void test_row_reduces_fuse_into_consumer(void) {
  cg_tensor *x = input(NULL);
  cg_tensor *sm = cg_softmax(x, -1), *ln = cg_layernorm(x, -1, 1e-5);
  CHECK_EQ_INT(cg_count_kernels(&sm, 1), 1);
  CHECK_EQ_INT(cg_count_kernels(&ln, 1), 1);
  /* along axis 0 the reduce would be recomputed per row: it stays its own kernel */
  cg_tensor *sm0 = cg_softmax(x, 0);
  CHECK(cg_count_kernels(&sm0, 1) > 1);
  /* and the fused kernels compute the right thing: rows of a softmax sum to 1 */
  float *s = th_floats(cg_sum(sm, CG_AXES(1), 0));
  for (int r = 0; s && r < ROWS; r++) CHECK_CLOSE(s[r], 1.0, 1e-5);
  free(s);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"gpu_backends_run_or_say_why", test_gpu_backends_run_or_say_why},
    {"bad_device_names", test_bad_device_names},
    {"row_reduces_fuse_into_consumer", test_row_reduces_fuse_into_consumer},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
