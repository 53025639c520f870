/* Bound variables in shapes: a view whose size is a variable (a KV cache's filled part) runs the
   same compiled kernels for every bound value. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static float cache_data[16 * 4];

static cg_tensor *cache(void) {
  for (int i = 0; i < 64; i++) cache_data[i] = (float)((i * 7) % 11) - 5;
  return cg_from_data(cache_data, CG_F32, CG_SHAPE(16, 4), NULL);
}

/* softmax(K[:pos] @ q) by hand */
static void reference(int pos, const float *q, float *out) {
  double s[16], m = -1e30, z = 0;
  for (int i = 0; i < pos; i++) {
    s[i] = 0;
    for (int j = 0; j < 4; j++) s[i] += cache_data[i * 4 + j] * q[j];
    m = fmax(m, s[i]);
  }
  for (int i = 0; i < pos; i++) z += exp(s[i] - m);
  for (int i = 0; i < pos; i++) out[i] = (float)(exp(s[i] - m) / z);
}

static void test_variable_shape_attention_scores(void) {
  float qd[4] = {0.5f, -1, 0.25f, 2};
  cg_tensor *k = cache(), *q = cg_from_data(qd, CG_F32, CG_SHAPE(4), NULL);
  cg_variable *pos = cg_variable_new("pos", 1, 16);
  int positions[3] = {3, 7, 16};
  for (int t = 0; t < 3; t++) {
    CHECK(cg_variable_bind(pos, positions[t]) == 0);
    cg_tensor *kv = cg_shrink_to(k, 0, 0, pos);
    CHECK(kv != NULL);
    CHECK_EQ_INT(cg_get_shape(kv).d[0], positions[t]);
    CHECK_EQ_INT(cg_numel(kv), positions[t] * 4);
    cg_tensor *p = cg_softmax(cg_matmul(kv, q), -1);
    if (t == 1) cg_reset_stats();
    float expect[16], got[16];
    reference(positions[t], qd, expect);
    CHECK(cg_to_data(p, got, sizeof got) == 0);
    for (int i = 0; i < positions[t]; i++) CHECK_CLOSE(got[i], expect[i], 1e-6);
    if (t >= 1) CHECK_EQ_INT(cg_get_stats().kernels_compiled + cg_get_stats().kernels_cached, 0);
  }
  cg_variable_free(pos);
}

static void test_variable_shape_mean_uses_bound_count(void) {
  cg_variable *n = cg_variable_new("n", 1, 16);
  cg_tensor *k = cache();
  for (int v = 2; v <= 5; v += 3) {
    cg_variable_bind(n, v);
    cg_tensor *m = cg_mean(cg_shrink_to(k, 0, 0, n), CG_AXES(0), 0);
    float got[4];
    CHECK(cg_to_data(m, got, sizeof got) == 0);
    for (int j = 0; j < 4; j++) {
      double s = 0;
      for (int i = 0; i < v; i++) s += cache_data[i * 4 + j];
      CHECK_CLOSE(got[j], s / v, 1e-6);
    }
  }
  cg_variable_free(n);
}

static void test_variable_shape_elementwise_copy_out(void) {
  cg_variable *n = cg_variable_new("rows", 0, 16);
  cg_variable_bind(n, 2);
  cg_tensor *y = cg_mul_s(cg_shrink_to(cache(), 0, 0, n), 2);
  float got[8];
  CHECK(cg_to_data(y, got, sizeof got) == 0);
  for (int i = 0; i < 8; i++) CHECK(got[i] == cache_data[i] * 2);
  cg_variable_bind(n, 0); /* empty is fine too */
  CHECK_EQ_INT(cg_numel(y), 0);
  cg_variable_free(n);
}

static void test_variable_shape_errors(void) {
  cg_variable *n = cg_variable_new("m", 1, 8);
  cg_tensor *kv = cg_shrink_to(cache(), 0, 0, n);
  CHECK(cg_reshape(kv, CG_SHAPE(-1)) == NULL);         /* merging a symbolic dim */
  int64_t pad[2][2] = {{1, 0}, {0, 0}};
  CHECK(cg_pad(kv, pad, 2, 0) == NULL);
  CHECK(cg_add(kv, cg_ones(CG_SHAPE(8, 4), CG_F32)) == NULL); /* m vs 8 */
  cg_variable *big = cg_variable_new("big", 1, 99);
  CHECK(cg_shrink_to(cache(), 0, 0, big) == NULL);    /* max beyond the axis */
  CHECK(cg_reshape(kv, CG_SHAPE(1, 1, 1)) == NULL);
  cg_variable_free(big);
  cg_variable_free(n);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"variable_shape_attention_scores", test_variable_shape_attention_scores},
    {"variable_shape_mean_uses_bound_count", test_variable_shape_mean_uses_bound_count},
    {"variable_shape_elementwise_copy_out", test_variable_shape_elementwise_copy_out},
    {"variable_shape_errors", test_variable_shape_errors},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
