/* The INNER opt (src/codegen/opt.c): a kernel whose loads are unit-stride along an output dim
   other than the last runs that dim innermost (a transpose copy reads rows, not columns), and a
   reduce kernel may then take the new last dim as vector lanes (UPCAST), a copy transpose 8x8
   blocks in registers (TRANSPOSE), and a plain relayout copy runs its outer loops in its
   source's order (ORDER), a short last dim as unrolled lanes (UPCAST). Values against host
   loops; the chosen opts pinned on the C backends. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static int c_dialect(void) { return !strcmp(cg_default_device(), "CPU") || !strcmp(cg_default_device(), "INTERP"); }

static float *iota_values(int64_t n) {
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) v[i] = (float)(i % 1009) * 0.25f - 100.0f;
  return v;
}

/* y = x^T stored: the load follows y's first dim, which goes innermost; 8x8 blocks are loaded
   along it, transposed in registers and stored along y's rows (TRANSPOSE) */
static void test_transpose_copy_reads_rows(void) {
  enum { M = 96, N = 200 };
  float *x = iota_values(M * N);
  cg_tensor *y = cg_contiguous(cg_transpose(cg_from_data(x, CG_F32, CG_SHAPE(M, N), NULL), 0, 1));
  char opts[256];
  th_opts_of(y, opts, sizeof opts);
  if (c_dialect()) CHECK(!strcmp(opts, "INNER 0, TRANSPOSE 0"));
  float *got = th_floats(y);
  CHECK(got != NULL);
  int bad = 0;
  for (int j = 0; got && j < N; j++)
    for (int i = 0; i < M; i++) bad += got[j * M + i] != x[i * N + j];
  CHECK_EQ_INT(bad, 0);
  free(got);
  free(x);
}

/* sum over the first axis of (P, A, B, C) stored as (C, A, B): the partials are unit-stride
   along C, which goes innermost and becomes 16 vector lanes */
static void test_reduce_of_relaid_partials(void) {
  enum { P = 24, A = 5, B = 3, C = 32 };
  float *x = iota_values(P * A * B * C);
  cg_tensor *t = cg_from_data(x, CG_F32, CG_SHAPE(P, A, B, C), NULL);
  cg_tensor *y = cg_contiguous(cg_permute(cg_sum(t, CG_AXES(0), 0), CG_AXES(2, 0, 1)));
  char opts[256];
  th_opts_of(y, opts, sizeof opts);
  if (c_dialect()) CHECK(!strcmp(opts, "INNER 0, UPCAST 16"));
  float *got = th_floats(y);
  CHECK(got != NULL);
  double worst = 0;
  for (int c = 0; got && c < C; c++)
    for (int a = 0; a < A; a++)
      for (int b = 0; b < B; b++) {
        double want = 0;
        for (int p = 0; p < P; p++) want += x[((p * A + a) * B + b) * C + c];
        double e = fabs(got[(c * A + a) * B + b] - want);
        worst = th_worst(worst, e);
      }
  CHECK(worst <= 1e-3);
  free(got);
  free(x);
}

/* matmul's packing of A, (N, K) stored as (K/KC, N/4, KC, 4): ORDER puts the 4-row groups
   outermost, so the source is read row group by row group, and the 4 rows are unrolled lanes
   (UPCAST 4): each step reads the 4 rows at one column and writes them side by side */
static void test_packing_copy_reads_in_order(void) {
  enum { N = 64, K = 1024, KC = 256 };
  float *x = iota_values(N * K);
  cg_tensor *t = cg_reshape(cg_from_data(x, CG_F32, CG_SHAPE(N, K), NULL), CG_SHAPE(N / 4, 4, K / KC, KC));
  cg_tensor *y = cg_contiguous(cg_permute(t, CG_AXES(2, 0, 3, 1)));
  char opts[256];
  th_opts_of(y, opts, sizeof opts);
  if (c_dialect()) CHECK(!strcmp(opts, "ORDER 1, UPCAST 4"));
  float *got = th_floats(y);
  CHECK(got != NULL);
  int bad = 0;
  for (int kb = 0; got && kb < K / KC; kb++)
    for (int g = 0; g < N / 4; g++)
      for (int k = 0; k < KC; k++)
        for (int r = 0; r < 4; r++)
          bad += got[((kb * (N / 4) + g) * KC + k) * 4 + r] != x[(g * 4 + r) * K + kb * KC + k];
  CHECK_EQ_INT(bad, 0);
  free(got);
  free(x);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"transpose_copy_reads_rows", test_transpose_copy_reads_rows},
    {"reduce_of_relaid_partials", test_reduce_of_relaid_partials},
    {"packing_copy_reads_in_order", test_packing_copy_reads_in_order},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
