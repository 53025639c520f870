/* Autograd: gradients of primitives and composed ops against hand derivations and finite
   differences (float64), accumulation, detach, no-grad, and the kernel count of an SGD step. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"

static cg_tensor *param(const double *v, cg_shape s) {
  cg_tensor *t = cg_from_data(v, CG_F64, s, NULL);
  CHECK(cg_set_requires_grad(t, 1) == 0);
  return t;
}

static void grad_values(cg_tensor *t, double *out, int n) {
  cg_tensor *g = cg_grad(t);
  CHECK(g != NULL);
  if (g) CHECK(cg_to_data(g, out, n * sizeof(double)) == 0);
}

static void test_grad_square_sum(void) {
  double xv[3] = {1, -2, 3}, g[3];
  cg_tensor *x = param(xv, CG_SHAPE(3));
  CHECK(cg_backward(cg_sum(cg_mul(x, x), CG_ALL, 0)) == 0);
  grad_values(x, g, 3);
  for (int i = 0; i < 3; i++) CHECK(g[i] == 2 * xv[i]);
}

static void test_grad_broadcast_reduced_to_input_shape(void) {
  double wv[3] = {1, 2, 3}, xv[6] = {1, 2, 3, 4, 5, 6}, g[3];
  cg_tensor *w = param(wv, CG_SHAPE(3));
  cg_tensor *x = cg_from_data(xv, CG_F64, CG_SHAPE(2, 3), NULL);
  CHECK(cg_backward(cg_sum(cg_mul(cg_add(x, w), x), CG_ALL, 0)) == 0);
  grad_values(w, g, 3);
  CHECK(cg_get_shape(cg_grad(w)).ndim == 1);
  for (int j = 0; j < 3; j++) CHECK(g[j] == xv[j] + xv[3 + j]);
}

static void test_grad_accumulates_and_zero_grad(void) {
  double xv[2] = {3, 4}, g[2];
  cg_tensor *x = param(xv, CG_SHAPE(2));
  CHECK(cg_backward(cg_sum(cg_mul_s(x, 3), CG_ALL, 0)) == 0);
  CHECK(cg_backward(cg_sum(cg_mul_s(x, 3), CG_ALL, 0)) == 0);
  grad_values(x, g, 2);
  CHECK(g[0] == 6 && g[1] == 6);
  cg_zero_grad(x);
  CHECK(cg_grad(x) == NULL);
}

static void test_grad_detach_and_no_grad(void) {
  double xv[2] = {3, 4}, g[2];
  cg_tensor *x = param(xv, CG_SHAPE(2));
  cg_tensor *y = cg_mul(cg_detach(x), x); /* d/dx = detach(x) */
  CHECK(cg_backward(cg_sum(y, CG_ALL, 0)) == 0);
  grad_values(x, g, 2);
  CHECK(g[0] == 3 && g[1] == 4);
  int was = cg_set_grad_enabled(0);
  cg_tensor *z = cg_mul(x, x);
  CHECK(!cg_requires_grad(z));
  CHECK(cg_backward(cg_sum(z, CG_ALL, 0)) == -1);
  cg_set_grad_enabled(was);
  CHECK(cg_requires_grad(cg_mul(x, x)));
}

static void test_grad_max_ties_share(void) {
  double xv[4] = {1, 5, 5, 2}, g[4];
  cg_tensor *x = param(xv, CG_SHAPE(4));
  CHECK(cg_backward(cg_max(x, CG_ALL, 0)) == 0);
  grad_values(x, g, 4);
  CHECK(g[0] == 0 && g[1] == 0.5 && g[2] == 0.5 && g[3] == 0);
}

static void test_grad_relu_at_zero_is_zero(void) {
  double xv[3] = {-1, 0, 2}, g[3];
  cg_tensor *x = param(xv, CG_SHAPE(3));
  CHECK(cg_backward(cg_sum(cg_relu(x), CG_ALL, 0)) == 0);
  grad_values(x, g, 3);
  CHECK(g[0] == 0 && g[1] == 0 && g[2] == 1);
}

/* f(x) for finite differences: a composed function touching most rules */
static cg_tensor *composed(cg_tensor *x) {
  cg_tensor *a = cg_log_softmax(cg_mul(x, cg_transpose(x, 0, 1)), -1);
  cg_tensor *b = cg_layernorm(cg_gelu(x), -1, 1e-5);
  cg_tensor *c = cg_sqrt(cg_add_s(cg_mul(cg_sin(x), cg_sigmoid(x)), 2));
  cg_tensor *d = cg_div(cg_tanh(cg_flip(x, CG_AXES(0))), cg_add_s(cg_exp(x), 1));
  int64_t p[2][2] = {{1, 0}, {0, 1}}, sh[2][2] = {{0, 3}, {1, 4}};
  cg_tensor *e = cg_shrink(cg_pad(cg_mul(x, x), p, 2, 0), sh, 2);
  cg_tensor *m = cg_max(cg_mul(x, x), CG_AXES(1), 1);
  cg_tensor *all = cg_add(cg_add(cg_add(a, b), cg_add(c, d)), cg_add(e, cg_pow_s(cg_abs(x), 1.5)));
  return cg_sum(cg_mul(all, cg_add(m, cg_matmul(x, x))), CG_ALL, 0);
}

static void test_grad_composed_matches_finite_differences(void) {
  double xv[9] = {0.3, -1.2, 0.7, 1.1, 0.05, -0.4, 0.9, -0.8, 0.25}, g[9];
  cg_tensor *x = param(xv, CG_SHAPE(3, 3));
  CHECK(cg_backward(composed(x)) == 0);
  grad_values(x, g, 9);
  for (int i = 0; i < 9; i++) {
    double h = 1e-6, p[9], m[9];
    memcpy(p, xv, sizeof p);
    memcpy(m, xv, sizeof m);
    p[i] += h;
    m[i] -= h;
    double fp = cg_item(composed(cg_from_data(p, CG_F64, CG_SHAPE(3, 3), NULL)));
    double fm = cg_item(composed(cg_from_data(m, CG_F64, CG_SHAPE(3, 3), NULL)));
    CHECK_CLOSE(g[i], (fp - fm) / (2 * h), 1e-6);
  }
}

static void test_gradient_of_targets(void) {
  double xv[2] = {2, 3}, yv[2] = {5, 7};
  cg_tensor *x = param(xv, CG_SHAPE(2)), *y = param(yv, CG_SHAPE(2));
  cg_tensor *h = cg_mul(x, y);
  cg_tensor *ts[3] = {x, y, h}, *out[3];
  CHECK(cg_gradient(cg_sum(cg_mul(h, h), CG_ALL, 0), ts, 3, out) == 0);
  double gx[2], gy[2], gh[2];
  cg_to_data(out[0], gx, sizeof gx);
  cg_to_data(out[1], gy, sizeof gy);
  cg_to_data(out[2], gh, sizeof gh);
  for (int i = 0; i < 2; i++) {
    CHECK(gh[i] == 2 * xv[i] * yv[i]);
    CHECK(gx[i] == 2 * xv[i] * yv[i] * yv[i]);
    CHECK(gy[i] == 2 * xv[i] * yv[i] * xv[i]);
  }
  CHECK(cg_grad(x) == NULL); /* gradient() does not accumulate */
}

static void test_grad_errors(void) {
  int32_t iv[2] = {1, 2};
  cg_tensor *i = cg_from_data(iv, CG_I32, CG_SHAPE(2), NULL);
  CHECK(cg_set_requires_grad(i, 1) == -1);
  double xv[2] = {1, 2};
  cg_tensor *x = param(xv, CG_SHAPE(2));
  CHECK(cg_backward(cg_mul(x, x)) == -1); /* not a scalar */
  CHECK(strstr(cg_last_error(), "one element") != NULL);
}

/* One SGD step of a 2-layer MLP: forward, backward and update realized together. */
static void test_sgd_step_mlp_kernel_count(void) {
  cg_manual_seed(1);
  cg_tensor *x = cg_rand(CG_SHAPE(16, 8), CG_F32);
  int32_t labels[16];
  for (int i = 0; i < 16; i++) labels[i] = i % 4;
  cg_tensor *y = cg_from_data(labels, CG_I32, CG_SHAPE(16), NULL);
  cg_tensor *w1 = cg_mul_s(cg_randn(CG_SHAPE(8, 32), CG_F32), 0.3), *w2 = cg_mul_s(cg_randn(CG_SHAPE(32, 4), CG_F32), 0.3);
  CHECK(cg_set_requires_grad(w1, 1) == 0 && cg_set_requires_grad(w2, 1) == 0);
  float loss0 = 0;
  for (int step = 0; step < 5; step++) {
    cg_tensor *logits = cg_matmul(cg_relu(cg_matmul(x, w1)), w2);
    /* cross entropy: -mean(log_softmax(logits)[i, y_i]) via a one-hot mask */
    cg_tensor *classes = cg_arange(0, 4, 1, CG_I32);
    cg_tensor *onehot = cg_cast(cg_eq(cg_reshape(y, CG_SHAPE(16, 1)), cg_reshape(classes, CG_SHAPE(1, 4))), CG_F32);
    cg_tensor *loss = cg_neg(cg_mean(cg_sum(cg_mul(cg_log_softmax(logits, -1), onehot), CG_AXES(1), 0), CG_ALL, 0));
    CHECK(cg_backward(loss) == 0);
    int was = cg_set_grad_enabled(0);
    cg_tensor *n1 = cg_sub(w1, cg_mul_s(cg_grad(w1), 0.5)), *n2 = cg_sub(w2, cg_mul_s(cg_grad(w2), 0.5));
    cg_tensor *all[3] = {loss, n1, n2};
    int kernels = cg_count_kernels(all, 3);
    if (step == 0) {
      printf("  SGD step of a 2-layer MLP: %d kernels\n", kernels);
      CHECK(kernels > 0 && kernels <= 12);
    }
    CHECK(cg_realize_all(all, 3) == 0);
    float l = (float)cg_item(loss);
    if (step == 0) loss0 = l;
    else CHECK(l < loss0);
    /* the update: the parameters take the new values */
    cg_zero_grad(w1);
    cg_zero_grad(w2);
    cg_tensor *t1 = w1, *t2 = w2;
    cg_set_requires_grad(t1, 0);
    cg_set_requires_grad(t2, 0);
    w1 = n1;
    w2 = n2;
    CHECK(cg_set_requires_grad(w1, 1) == 0 && cg_set_requires_grad(w2, 1) == 0);
    cg_set_grad_enabled(was);
  }
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"grad_square_sum", test_grad_square_sum},
    {"grad_broadcast_reduced_to_input_shape", test_grad_broadcast_reduced_to_input_shape},
    {"grad_accumulates_and_zero_grad", test_grad_accumulates_and_zero_grad},
    {"grad_detach_and_no_grad", test_grad_detach_and_no_grad},
    {"grad_max_ties_share", test_grad_max_ties_share},
    {"grad_relu_at_zero_is_zero", test_grad_relu_at_zero_is_zero},
    {"grad_composed_matches_finite_differences", test_grad_composed_matches_finite_differences},
    {"gradient_of_targets", test_gradient_of_targets},
    {"grad_errors", test_grad_errors},
    {"sgd_step_mlp_kernel_count", test_sgd_step_mlp_kernel_count},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
