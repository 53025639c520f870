/* Fusion and caching: kernel counts of common patterns, with their values checked. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static cg_tensor *vec(const float *v, int64_t n) { return cg_from_data(v, CG_F32, CG_SHAPE(n), NULL); }

static void test_fusion_elementwise_chain_10_ops_is_1_kernel(void) {
  float xs[5] = {-2, -1, 0, 1, 2};
  cg_tensor *x = vec(xs, 5), *y = x;
  /* ten elementwise ops */
  y = cg_add_s(y, 1);
  y = cg_mul_s(y, 2);
  y = cg_sub_s(y, 3);
  y = cg_maximum(y, x);
  y = cg_mul(y, y);
  y = cg_add(y, x);
  y = cg_neg(y);
  y = cg_mul_s(y, 0.5);
  y = cg_add_s(y, 10);
  y = cg_abs(y);
  CHECK_EQ_INT(cg_count_kernels(&y, 1), 1);
  float expect[5];
  for (int i = 0; i < 5; i++) {
    float v = ((xs[i] + 1) * 2 - 3);
    v = v > xs[i] ? v : xs[i];
    v = -(v * v + xs[i]) * 0.5f + 10;
    expect[i] = fabsf(v);
  }
  CHECK(th_max_diff(y, expect, 5) == 0);
}

static void test_fusion_relu_linear_is_1_kernel(void) {
  float xs[6] = {1, -2, 3, 0.5f, 2, -1}, ws[6] = {1, 0, -1, 2, 0.5f, -0.5f}, bs[2] = {0.25f, -4};
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(2, 3), NULL);
  cg_tensor *w = cg_from_data(ws, CG_F32, CG_SHAPE(3, 2), NULL);
  cg_tensor *b = vec(bs, 2);
  cg_tensor *y = cg_relu(cg_add(cg_matmul(x, w), b));
  CHECK_EQ_INT(cg_count_kernels(&y, 1), 1);
  float expect[4];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      float s = 0;
      for (int k = 0; k < 3; k++) s += xs[i * 3 + k] * ws[k * 2 + j];
      s += bs[j];
      expect[i * 2 + j] = s > 0 ? s : 0;
    }
  CHECK(th_max_diff(y, expect, 4) < 1e-6);
}

static void test_fusion_sum_of_product_is_1_kernel(void) {
  float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};
  cg_tensor *s = cg_sum(cg_mul(vec(a, 4), vec(b, 4)), CG_ALL, 0);
  CHECK_EQ_INT(cg_count_kernels(&s, 1), 1);
  CHECK_CLOSE(cg_item(s), 70, 0);
}

static void test_fusion_softmax_at_most_3_kernels(void) {
  float xs[6] = {1, 2, 3, -1, 0, 1};
  cg_tensor *y = cg_softmax(cg_from_data(xs, CG_F32, CG_SHAPE(2, 3), NULL), -1);
  int k = cg_count_kernels(&y, 1);
  CHECK(k >= 1 && k <= 3);
  float expect[6];
  for (int r = 0; r < 2; r++) {
    double m = -1e30, s = 0;
    for (int c = 0; c < 3; c++) m = fmax(m, xs[r * 3 + c]);
    for (int c = 0; c < 3; c++) s += exp(xs[r * 3 + c] - m);
    for (int c = 0; c < 3; c++) expect[r * 3 + c] = (float)(exp(xs[r * 3 + c] - m) / s);
  }
  CHECK(th_max_diff(y, expect, 6) < 1e-6);
}

/* A row kernel's second pass over a row prefetches the next row (src/codegen/prefetch.c): the
   hint is in the C source, and the values are softmax's */
static void test_fusion_softmax_prefetches_next_row(void) {
  enum { R = 8, C = 256 };
  float xs[R * C], expect[R * C];
  for (int i = 0; i < R * C; i++) xs[i] = (float)((i * 37) % 101) / 25.0f - 2.0f;
  cg_tensor *y = cg_softmax(cg_from_data(xs, CG_F32, CG_SHAPE(R, C), NULL), -1);
  if (!strcmp(cg_default_device(), "CPU")) {
    char *src = th_c_source_of(y);
    /* one row ahead: 256 floats of 4 bytes */
    CHECK(src && strstr(src, "__builtin_prefetch((const void *)((unsigned long long)data1 + ") != NULL);
    CHECK(src && strstr(src, " + 256LL) * 4), 0, 2);") != NULL);
    free(src);
  }
  for (int r = 0; r < R; r++) {
    double m = -1e30, s = 0;
    for (int c = 0; c < C; c++) m = fmax(m, xs[r * C + c]);
    for (int c = 0; c < C; c++) s += exp(xs[r * C + c] - m);
    for (int c = 0; c < C; c++) expect[r * C + c] = (float)(exp(xs[r * C + c] - m) / s);
  }
  CHECK(th_max_diff(y, expect, R * C) < 1e-6);
}

static void test_fusion_layernorm_at_most_3_kernels(void) {
  float xs[8] = {1, 2, 3, 4, -1, 0, 5, 10};
  cg_tensor *y = cg_layernorm(cg_from_data(xs, CG_F32, CG_SHAPE(2, 4), NULL), -1, 1e-5);
  int k = cg_count_kernels(&y, 1);
  CHECK(k >= 1 && k <= 3);
  float expect[8];
  for (int r = 0; r < 2; r++) {
    double m = 0, v = 0;
    for (int c = 0; c < 4; c++) m += xs[r * 4 + c] / 4.0;
    for (int c = 0; c < 4; c++) v += (xs[r * 4 + c] - m) * (xs[r * 4 + c] - m) / 4.0;
    for (int c = 0; c < 4; c++) expect[r * 4 + c] = (float)((xs[r * 4 + c] - m) / sqrt(v + 1e-5));
  }
  CHECK(th_max_diff(y, expect, 8) < 1e-5);
}

static void test_fusion_transposed_view_realizes_nothing_extra(void) {
  float xs[6] = {1, 2, 3, 4, 5, 6};
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(2, 3), NULL);
  cg_tensor *t = cg_transpose(x, 0, 1);
  CHECK_EQ_INT(cg_count_kernels(&t, 1), 1); /* just the copy into a contiguous buffer */
  float expect[6] = {1, 4, 2, 5, 3, 6};
  cg_reset_stats();
  CHECK(th_max_diff(t, expect, 6) == 0);
  CHECK_EQ_INT(cg_get_stats().kernels_run, 1);
  /* reading x itself runs nothing */
  cg_reset_stats();
  CHECK(th_max_diff(x, xs, 6) == 0);
  CHECK_EQ_INT(cg_get_stats().kernels_run, 0);
}

static void test_fusion_shared_reduce_computed_once(void) {
  float xs[4] = {1, 2, 3, 4};
  cg_tensor *x = vec(xs, 4);
  cg_tensor *s = cg_sum(x, CG_ALL, 0);       /* used by two outputs */
  cg_tensor *a = cg_mul(x, s), *b = cg_add(x, s);
  cg_tensor *both[2] = {a, b};
  CHECK_EQ_INT(cg_count_kernels(both, 2), 3); /* s once, then a and b */
  float ea[4] = {10, 20, 30, 40}, eb[4] = {11, 12, 13, 14};
  CHECK(cg_realize_all(both, 2) == 0);
  CHECK(th_max_diff(a, ea, 4) == 0);
  CHECK(th_max_diff(b, eb, 4) == 0);
}

/* e over three full-size buffers feeds a sum and a max: stored once and read by both reduces,
   not recomputed from a, b and c in each */
static void test_fusion_shared_costly_expression_stored_once(void) {
  float as[4] = {1, 2, 3, 4}, bs[4] = {2, 1, 2, 1}, cs[4] = {0, 1, 0, -9};
  cg_tensor *a = vec(as, 4), *b = vec(bs, 4), *c = vec(cs, 4);
  cg_tensor *e = cg_add(cg_mul(a, b), c); /* 2, 3, 6, -5 */
  cg_tensor *outs[2] = {cg_sum(e, CG_ALL, 0), cg_max(e, CG_ALL, 0)};
  CHECK_EQ_INT(cg_count_kernels(outs, 2), 3); /* e, then the two reduces */
  float esum[1] = {6}, emax[1] = {6};
  CHECK(cg_realize_all(outs, 2) == 0);
  CHECK(th_max_diff(outs[0], esum, 1) == 0);
  CHECK(th_max_diff(outs[1], emax, 1) == 0);
}

/* an affine map of one buffer by short vectors (batchnorm's forward) is cheaper to recompute
   than to store: each reduce reads x and computes it inline */
static void test_fusion_shared_affine_map_recomputed(void) {
  float xs[32], ws[2] = {2, -1}, bs[2] = {1, 0};
  for (int i = 0; i < 32; i++) xs[i] = (float)(i + 1);
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(16, 2), NULL);
  cg_tensor *w = cg_from_data(ws, CG_F32, CG_SHAPE(2), NULL), *b = cg_from_data(bs, CG_F32, CG_SHAPE(2), NULL);
  cg_tensor *y = cg_add(cg_mul(x, w), b); /* columns 2x+1 and -x */
  cg_tensor *outs[2] = {cg_sum(y, CG_AXES(0), 0), cg_max(y, CG_AXES(0), 0)};
  CHECK_EQ_INT(cg_count_kernels(outs, 2), 2);
  float esum[2] = {528, -272}, emax[2] = {63, -2}; /* 2*(1+3+..+31)+16, -(2+4+..+32) */
  CHECK(cg_realize_all(outs, 2) == 0);
  CHECK(th_max_diff(outs[0], esum, 2) == 0);
  CHECK(th_max_diff(outs[1], emax, 2) == 0);
}

static void test_cache_warm_run_compiles_nothing(void) {
  float xs[3] = {1, 2, 3};
  cg_tensor *y = cg_exp(cg_mul_s(vec(xs, 3), 0.125));
  CHECK(cg_realize(y) == 0);
  /* drop the in-process cache: the kernels must now come from the disk cache */
  cg_shutdown();
  cg_reset_stats();
  cg_tensor *z = cg_exp(cg_mul_s(vec(xs, 3), 0.125));
  CHECK(cg_realize(z) == 0);
  CHECK_EQ_INT(cg_get_stats().kernels_compiled, 0);
  CHECK_EQ_INT(cg_get_stats().kernels_run, 1);
  float expect[3];
  for (int i = 0; i < 3; i++) expect[i] = expf(xs[i] * 0.125f);
  CHECK(th_max_diff(z, expect, 3) < 1e-6);
}

static void test_variable_new_value_compiles_nothing(void) {
  float xs[4] = {1, 2, 3, 4};
  cg_variable *v = cg_variable_new("step", 0, 100);
  CHECK(v != NULL);
  cg_tensor *x = vec(xs, 4);
  CHECK(cg_variable_bind(v, 3) == 0);
  cg_tensor *y = cg_add(x, cg_cast(cg_variable_tensor(v), CG_F32));
  float e1[4] = {4, 5, 6, 7}, e2[4] = {51, 52, 53, 54};
  CHECK(th_max_diff(y, e1, 4) == 0);
  cg_reset_stats();
  CHECK(cg_variable_bind(v, 50) == 0);
  cg_tensor *y2 = cg_add(x, cg_cast(cg_variable_tensor(v), CG_F32));
  CHECK(th_max_diff(y2, e2, 4) == 0);
  CHECK_EQ_INT(cg_get_stats().kernels_compiled + cg_get_stats().kernels_cached, 0);
  CHECK_EQ_INT(cg_get_stats().kernels_run, 1);
  CHECK(cg_variable_bind(v, 101) == -1); /* outside its range */
  cg_variable_free(v);
}

static void test_stats_count_flops_and_bytes(void) {
  static float xs[1000];
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(1000), NULL);
  cg_tensor *y = cg_add(x, x); /* constants would fold away at compile time */
  cg_reset_stats();
  CHECK(cg_realize(y) == 0);
  cg_stats s = cg_get_stats();
  CHECK_EQ_INT(s.kernels_run, 1);
  CHECK(s.flops >= 1000);
  CHECK(s.bytes >= 4000);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"fusion_elementwise_chain_10_ops_is_1_kernel", test_fusion_elementwise_chain_10_ops_is_1_kernel},
    {"fusion_relu_linear_is_1_kernel", test_fusion_relu_linear_is_1_kernel},
    {"fusion_sum_of_product_is_1_kernel", test_fusion_sum_of_product_is_1_kernel},
    {"fusion_softmax_at_most_3_kernels", test_fusion_softmax_at_most_3_kernels},
    {"fusion_softmax_prefetches_next_row", test_fusion_softmax_prefetches_next_row},
    {"fusion_layernorm_at_most_3_kernels", test_fusion_layernorm_at_most_3_kernels},
    {"fusion_transposed_view_realizes_nothing_extra", test_fusion_transposed_view_realizes_nothing_extra},
    {"fusion_shared_reduce_computed_once", test_fusion_shared_reduce_computed_once},
    {"fusion_shared_costly_expression_stored_once", test_fusion_shared_costly_expression_stored_once},
    {"fusion_shared_affine_map_recomputed", test_fusion_shared_affine_map_recomputed},
    {"cache_warm_run_compiles_nothing", test_cache_warm_run_compiles_nothing},
    {"variable_new_value_compiles_nothing", test_variable_new_value_compiles_nothing},
    {"stats_count_flops_and_bytes", test_stats_count_flops_and_bytes},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
