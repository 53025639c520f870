/* Bad input gives NULL (or -1) and a clear message; NULL propagates; nothing else breaks. */
#include <string.h>
#include "harness.h"

#define CHECK_ERR(expr, needle)                                                                  \
  do {                                                                                           \
    cg_clear_error();                                                                            \
    cg_tensor *e_ = (expr);                                                                      \
    CHECK(e_ == NULL);                                                                           \
    if (!strstr(cg_last_error(), needle))                                                        \
      th_fail(__FILE__, __LINE__, "error '%s' lacks '%s'", cg_last_error(), needle);             \
  } while (0)

static cg_tensor *m23(void) {
  float xs[6] = {1, 2, 3, 4, 5, 6};
  return cg_from_data(xs, CG_F32, CG_SHAPE(2, 3), NULL);
}

static void test_error_shape_mismatch(void) {
  CHECK_ERR(cg_add(m23(), cg_ones(CG_SHAPE(4), CG_F32)), "broadcast");
  CHECK_ERR(cg_matmul(m23(), m23()), "align");
  CHECK_ERR(cg_reshape(m23(), CG_SHAPE(4, 2)), "reshape");
  CHECK_ERR(cg_expand(m23(), CG_SHAPE(4, 3)), "expand");
  cg_tensor *parts[2] = {m23(), cg_ones(CG_SHAPE(3, 3), CG_F32)};
  CHECK_ERR(cg_cat(parts, 2, 1), "differ");
}

static void test_error_bad_axis(void) {
  CHECK_ERR(cg_sum(m23(), CG_AXES(2), 0), "axis 2");
  CHECK_ERR(cg_sum(m23(), CG_AXES(-3), 0), "axis -3");
  CHECK_ERR(cg_permute(m23(), CG_AXES(0, 0)), "repeated");
  CHECK_ERR(cg_permute(m23(), CG_AXES(0)), "axes");
  CHECK_ERR(cg_softmax(m23(), 5), "axis");
  CHECK_ERR(cg_transpose(m23(), 0, 7), "axis");
}

static void test_error_bad_dtype(void) {
  CHECK_ERR(cg_cast(m23(), (cg_dtype)99), "dtype");
  CHECK_ERR(cg_zeros(CG_SHAPE(2), (cg_dtype)-1), "dtype");
  CHECK_ERR(cg_bitcast(m23(), CG_F64), "bitcast");
  CHECK_ERR(cg_shl(m23(), m23()), "integer");
  CHECK_ERR(cg_idiv(m23(), m23()), "integer");
  CHECK_ERR(cg_rand(CG_SHAPE(2), CG_I32), "float");
  CHECK(cg_dtype_from_name("float33") == -1);
}

static void test_error_out_of_range_slice(void) {
  int64_t bad[2][2] = {{0, 3}, {0, 3}};
  CHECK_ERR(cg_shrink(m23(), bad, 2), "out of bounds");
  int64_t neg[2][2] = {{-1, 0}, {0, 0}};
  CHECK_ERR(cg_pad(m23(), neg, 2, 0), "negative");
  CHECK_ERR(cg_slice(m23(), 0, 0, 2, 0), "step");
  CHECK_ERR(cg_slice(m23(), 4, 0, 2, 1), "axis");
  /* Python clamps out-of-range slice bounds: a[5:9] of 3 elements is empty, not an error */
  cg_tensor *e = cg_slice(m23(), 1, 5, 9, 1);
  CHECK(e && cg_numel(e) == 0);
}

static void test_error_null_propagates(void) {
  cg_tensor *bad = cg_reshape(m23(), CG_SHAPE(7));
  CHECK(bad == NULL);
  const char *first = cg_last_error();
  CHECK(strstr(first, "reshape") != NULL);
  cg_tensor *chain = cg_relu(cg_add(cg_exp(bad), m23()));
  CHECK(chain == NULL);
  CHECK(strstr(cg_last_error(), "reshape") != NULL); /* the first failure is what the user sees */
  CHECK(cg_realize(chain) == -1);
  CHECK(isnan(cg_item(chain)));
  float out[6];
  CHECK(cg_to_data(chain, out, sizeof out) == -1);
}

static void test_error_output_too_small(void) {
  float out[2];
  CHECK(cg_to_data(m23(), out, sizeof out) == -1);
  CHECK(strstr(cg_last_error(), "bytes") != NULL);
  CHECK(isnan(cg_item(m23())));
}

static void test_error_unknown_device(void) {
  float x = 1;
  CHECK_ERR(cg_from_data(&x, CG_F32, CG_SHAPE(1), "TPU"), "unknown device");
  CHECK(cg_set_default_device("nope") == -1);
  CHECK(cg_device_available("CPU") == 1);
}

static void test_error_variable_range(void) {
  CHECK(cg_variable_new("bad name", 0, 1) == NULL);
  CHECK(cg_variable_new("x", 5, 1) == NULL);
  cg_variable *v = cg_variable_new("pos", 0, 10);
  CHECK(cg_variable_bind(v, 11) == -1);
  CHECK(strstr(cg_last_error(), "outside") != NULL);
  CHECK(cg_variable_value(v) == 0);
  cg_variable_free(v);
}

static void test_error_leaves_tensors_intact(void) {
  /* a failed op changes nothing: the inputs still realize to their values */
  cg_tensor *x = m23();
  CHECK(cg_matmul(x, x) == NULL);
  float expect[6] = {1, 2, 3, 4, 5, 6};
  CHECK(th_max_diff(x, expect, 6) == 0);
  cg_tensor *y = cg_mul_s(x, 2);
  CHECK(cg_reshape(y, CG_SHAPE(5)) == NULL);
  float e2[6] = {2, 4, 6, 8, 10, 12};
  CHECK(th_max_diff(y, e2, 6) == 0);
}

static void test_error_out_of_memory_realize_is_atomic(void) {
  cg_tensor *x = cg_mul_s(m23(), 3);
  cg_tensor *huge = cg_add_s(cg_zeros(CG_SHAPE(1LL << 22, 1LL << 22), CG_F32), 1); /* 64 TiB */
  cg_tensor *both[2] = {x, huge};
  CHECK(cg_realize_all(both, 2) == -1);
  CHECK(strstr(cg_last_error(), "out of memory") != NULL);
  /* nothing ran, nothing changed: x is still lazy and still correct */
  float expect[6] = {3, 6, 9, 12, 15, 18};
  CHECK(th_max_diff(x, expect, 6) == 0);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"error_shape_mismatch", test_error_shape_mismatch},
    {"error_bad_axis", test_error_bad_axis},
    {"error_bad_dtype", test_error_bad_dtype},
    {"error_out_of_range_slice", test_error_out_of_range_slice},
    {"error_null_propagates", test_error_null_propagates},
    {"error_output_too_small", test_error_output_too_small},
    {"error_unknown_device", test_error_unknown_device},
    {"error_variable_range", test_error_variable_range},
    {"error_leaves_tensors_intact", test_error_leaves_tensors_intact},
    {"error_out_of_memory_realize_is_atomic", test_error_out_of_memory_realize_is_atomic},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
