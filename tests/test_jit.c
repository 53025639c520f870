/* The JIT: a training step captured on its second call and replayed afterwards gives the same
   weights as running it eagerly, without calling the function, building graph nodes,
   scheduling or compiling; wrong input shapes/dtypes are errors; memory stays constant.
   Also the in-place assignment it relies on (cg_assign_lazy) and its hazard rule. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "ir/uop.h"

enum { IN = 12, HID = 16, OUT = 5, BATCH = 8, STEPS = 5 };

typedef struct {
  cg_tensor *params[3];   /* w1, b1, w2 */
  cg_optim *opt;
  int calls;              /* how often the step function body ran */
} mlp;

static void mlp_init(mlp *m, int adam) {
  memset(m, 0, sizeof *m);
  cg_manual_seed(7);
  m->params[0] = cg_own(cg_mul_s(cg_randn(CG_SHAPE(IN, HID), CG_F32), 0.3));
  m->params[1] = cg_own(cg_zeros(CG_SHAPE(HID), CG_F32));
  m->params[2] = cg_own(cg_mul_s(cg_randn(CG_SHAPE(HID, OUT), CG_F32), 0.3));
  for (int i = 0; i < 3; i++) cg_set_requires_grad(m->params[i], 1);
  m->opt = adam ? cg_adam(m->params, 3, 0.01, 0.9, 0.999, 1e-8) : cg_sgd(m->params, 3, 0.05, 0.9, 0, 0);
}

static void mlp_free(mlp *m) {
  cg_optim_free(m->opt);
  for (int i = 0; i < 3; i++) cg_free(m->params[i]);
}

/* forward, backward, loss realized with the gradients (it reads the old weights), then the step */
static int mlp_step(void *ud, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  mlp *m = ud;
  (void)n, (void)max_out;
  m->calls++;
  cg_tensor *h = cg_relu(cg_add(cg_matmul(in[0], m->params[0]), m->params[1]));
  cg_tensor *loss = cg_cross_entropy(cg_matmul(h, m->params[2]), in[1], CG_REDUCTION_MEAN, 0);
  if (!loss || cg_backward(loss) != 0) return -1;
  cg_tensor *todo[4] = {loss, cg_grad(m->params[0]), cg_grad(m->params[1]), cg_grad(m->params[2])};
  if (cg_realize_all(todo, 4) != 0 || cg_optim_step(m->opt) != 0) return -1;
  cg_optim_zero_grad(m->opt);
  out[0] = loss;
  return 1;
}

static void batch(int k, cg_tensor **x, cg_tensor **y) {
  float xs[BATCH * IN];
  int32_t ys[BATCH];
  for (int i = 0; i < BATCH * IN; i++) xs[i] = (float)(((i + 7 * k) * 37) % 23) / 23.0f - 0.5f;
  for (int i = 0; i < BATCH; i++) ys[i] = (i * 3 + k) % OUT;
  *x = cg_from_data(xs, CG_F32, CG_SHAPE(BATCH, IN), NULL);
  *y = cg_from_data(ys, CG_I32, CG_SHAPE(BATCH), NULL);
}

static void train_matches_eager(int adam) {
  mlp eager, jitted;
  mlp_init(&eager, adam);
  mlp_init(&jitted, adam);
  cg_jit *jit = cg_jit_new(mlp_step, &jitted);
  float *w0 = th_floats(jitted.params[0]);
  double loss_e[STEPS], loss_j[STEPS];
  for (int k = 0; k < STEPS; k++) {
    cg_scope_push();
    cg_tensor *in[2], *out[1];
    batch(k, &in[0], &in[1]);
    CHECK(mlp_step(&eager, in, 2, out, 1) == 1);
    loss_e[k] = cg_item(out[0]);
    cg_tensor *in2[2];
    batch(k, &in2[0], &in2[1]); /* new input buffers every step */
    CHECK(cg_jit_call(jit, in2, 2, out, 1) == 1);
    loss_j[k] = cg_item(out[0]);
    cg_scope_pop();
  }
  CHECK_EQ_INT(jitted.calls, 2); /* warm-up and capture only */
  CHECK(cg_jit_kernels(jit) > 0);
  for (int k = 0; k < STEPS; k++) CHECK_CLOSE(loss_j[k], loss_e[k], 1e-6);
  CHECK(th_max_diff(jitted.params[0], w0, IN * HID) > 1e-3); /* it did train */
  free(w0);
  for (int i = 0; i < 3; i++) {
    float *a = th_floats(eager.params[i]);
    int64_t n = cg_numel(eager.params[i]);
    CHECK(th_max_diff(jitted.params[i], a, (int)n) <= 1e-6);
    free(a);
  }
  cg_jit_free(jit);
  mlp_free(&eager);
  mlp_free(&jitted);
}

static void test_jit_adam_weights_match_eager_after_5_steps(void) { train_matches_eager(1); }
static void test_jit_sgd_momentum_weights_match_eager_after_5_steps(void) { train_matches_eager(0); }

static void test_jit_replay_builds_and_compiles_nothing(void) {
  mlp m;
  mlp_init(&m, 1);
  cg_jit *jit = cg_jit_new(mlp_step, &m);
  for (int k = 0; k < 6; k++) {
    cg_scope_push();
    cg_tensor *in[2], *out[1];
    batch(k, &in[0], &in[1]);
    size_t live = uop_global_live();
    if (k >= 2) cg_reset_stats();
    CHECK(cg_jit_call(jit, in, 2, out, 1) == 1);
    if (k >= 2) {
      cg_stats st = cg_get_stats();
      CHECK_EQ_INT(st.kernels_compiled + st.kernels_cached, 0);
      CHECK_EQ_INT(st.schedules, 0);
      CHECK_EQ_INT(st.kernels_run, cg_jit_kernels(jit));
      CHECK_EQ_INT(cg_jit_copies(jit), 0); /* Adam writes m, v and w in place */
      CHECK_EQ_INT(uop_global_live(), live + 1); /* the output's buffer node, nothing else */
    }
    cg_scope_pop();
  }
  CHECK_EQ_INT(m.calls, 2);
  cg_jit_free(jit);
  mlp_free(&m);
}

static void test_jit_wrong_shape_or_dtype_is_an_error(void) {
  mlp m;
  mlp_init(&m, 0);
  cg_jit *jit = cg_jit_new(mlp_step, &m);
  cg_tensor *in[2], *out[1];
  for (int k = 0; k < 3; k++) {
    batch(k, &in[0], &in[1]);
    CHECK(cg_jit_call(jit, in, 2, out, 1) == 1);
  }
  cg_tensor *bad[2] = {cg_zeros(CG_SHAPE(BATCH + 1, IN), CG_F32), in[1]};
  CHECK(cg_jit_call(jit, bad, 2, out, 1) == -1);
  CHECK(strstr(cg_last_error(), "input 0") && strstr(cg_last_error(), "(9, 12)"));
  bad[0] = in[0], bad[1] = cg_cast(in[1], CG_I64);
  CHECK(cg_jit_call(jit, bad, 2, out, 1) == -1);
  CHECK(strstr(cg_last_error(), "int64"));
  CHECK(cg_jit_call(jit, in, 1, out, 1) == -1);
  CHECK(cg_jit_call(jit, in, 2, out, 1) == 1); /* still usable */
  CHECK_EQ_INT(m.calls, 2);
  cg_jit_free(jit);
  mlp_free(&m);
}

static void test_jit_memory_constant_over_many_replays(void) {
  int replays = strcmp(cg_default_device(), "INTERP") ? 1000 : 100;
  mlp m;
  mlp_init(&m, 1);
  cg_jit *jit = cg_jit_new(mlp_step, &m);
  size_t live = 0;
  long rss = 0;
  for (int k = 0; k < replays + 10; k++) {
    if (k == 10) live = uop_global_live(), rss = th_rss_kb();
    cg_scope_push();
    cg_tensor *in[2], *out[1];
    batch(k % 3, &in[0], &in[1]);
    CHECK(cg_jit_call(jit, in, 2, out, 1) == 1);
    cg_scope_pop();
  }
  CHECK_EQ_INT(uop_global_live(), live);
#ifndef __SANITIZE_ADDRESS__
  CHECK(th_rss_kb() <= rss + 512);
#else
  (void)rss;
#endif
  cg_jit_free(jit);
  mlp_free(&m);
}

/* a function of a bound variable: the sum of x[:n] */
static int prefix_sum(void *ud, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  (void)n, (void)max_out;
  out[0] = cg_sum(cg_shrink_to(in[0], 0, 0, ud), CG_ALL, 0);
  return 1;
}

static void test_jit_variable_values_are_launch_arguments(void) {
  float xs[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(10), NULL), *out[1];
  cg_variable *v = cg_variable_new("jit_n", 1, 10);
  cg_jit *jit = cg_jit_new(prefix_sum, v);
  int ns[5] = {3, 4, 10, 1, 7};
  for (int k = 0; k < 5; k++) {
    CHECK(cg_variable_bind(v, ns[k]) == 0);
    CHECK(cg_jit_call(jit, &x, 1, out, 1) == 1);
    CHECK_CLOSE(cg_item(out[0]), ns[k] * (ns[k] + 1) / 2, 1e-6);
  }
  cg_jit_free(jit);
  cg_variable_free(v);
}

static int scale_add(void *ud, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  (void)n, (void)max_out;
  (*(int *)ud)++;
  out[0] = cg_add(cg_mul_s(in[0], 2), in[1]);
  out[1] = cg_sum(in[0], CG_ALL, 0);
  return 2;
}

static void test_jit_outputs_read_the_new_values(void) {
  int calls = 0;
  cg_jit *jit = cg_jit_new(scale_add, &calls);
  for (int k = 0; k < 5; k++) {
    float a[3] = {(float)k, 1, 2}, b[3] = {1, 1, (float)-k};
    cg_tensor *in[2] = {cg_from_data(a, CG_F32, CG_SHAPE(3), NULL), cg_from_data(b, CG_F32, CG_SHAPE(3), NULL)};
    cg_tensor *out[2];
    CHECK(cg_jit_call(jit, in, 2, out, 2) == 2);
    float expect[3] = {2.0f * k + 1, 3, 4.0f - k};
    CHECK(th_max_diff(out[0], expect, 3) == 0);
    CHECK_CLOSE(cg_item(out[1]), k + 3, 0);
  }
  CHECK_EQ_INT(calls, 2);
  cg_jit_free(jit);
}

/* an update by cg_replace gives the weight a new buffer: the capture must refuse it */
static int replace_step(void *ud, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  cg_tensor *w = ud;
  (void)n, (void)max_out;
  cg_tensor *y = cg_sum(cg_mul(in[0], w), CG_ALL, 0);
  if (cg_realize(y) != 0) return -1;
  int was = cg_set_grad_enabled(0);
  cg_tensor *nw = cg_add_s(w, 1);
  int rc = cg_realize(nw) || cg_replace(w, nw);
  cg_set_grad_enabled(was);
  out[0] = y;
  return rc ? -1 : 1;
}

static void test_jit_refuses_a_parameter_given_a_new_buffer(void) {
  cg_tensor *w = cg_ones(CG_SHAPE(3), CG_F32), *x = cg_ones(CG_SHAPE(3), CG_F32), *out[1];
  CHECK(cg_set_requires_grad(w, 1) == 0);
  cg_jit *jit = cg_jit_new(replace_step, w);
  CHECK(cg_jit_call(jit, &x, 1, out, 1) == 1);
  CHECK(cg_jit_call(jit, &x, 1, out, 1) == -1);
  CHECK(strstr(cg_last_error(), "in place") != NULL);
  cg_jit_free(jit);
}

static void test_assign_lazy_in_place_and_through_a_copy(void) {
  float xs[4] = {1, 2, 3, 4};
  cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(4), NULL);
  cg_tensor *alias = cg_reshape(x, CG_SHAPE(4)); /* holds x's buffer */
  cg_realize(alias);
  CHECK(cg_assign_lazy(x, cg_mul_s(x, 2)) == 0); /* elementwise: written in place */
  CHECK(cg_realize(x) == 0);
  float e1[4] = {2, 4, 6, 8};
  CHECK(th_max_diff(x, e1, 4) == 0);
  CHECK(cg_assign_lazy(x, cg_add(x, cg_flip(x, CG_AXES(0)))) == 0); /* reads other elements */
  CHECK(cg_realize(x) == 0);
  float e2[4] = {10, 10, 10, 10};
  CHECK(th_max_diff(x, e2, 4) == 0);
  /* a value read after the write in the same realize sees the old contents */
  cg_tensor *old_sum = cg_sum(x, CG_ALL, 0);
  CHECK(cg_assign_lazy(x, cg_add_s(x, 1)) == 0);
  cg_tensor *both[2] = {x, old_sum};
  CHECK(cg_realize_all(both, 2) == 0);
  CHECK_CLOSE(cg_item(old_sum), 40, 0);
  float e3[4] = {11, 11, 11, 11};
  CHECK(th_max_diff(x, e3, 4) == 0);
  CHECK(th_max_diff(alias, e3, 4) == 0); /* the same buffer */
  CHECK(cg_assign_lazy(x, cg_zeros(CG_SHAPE(3), CG_F32)) == -1);
}

int main(int argc, char **argv) {
  th_test tests[] = {
    {"test_jit_adam_weights_match_eager_after_5_steps", test_jit_adam_weights_match_eager_after_5_steps},
    {"test_jit_sgd_momentum_weights_match_eager_after_5_steps", test_jit_sgd_momentum_weights_match_eager_after_5_steps},
    {"test_jit_replay_builds_and_compiles_nothing", test_jit_replay_builds_and_compiles_nothing},
    {"test_jit_wrong_shape_or_dtype_is_an_error", test_jit_wrong_shape_or_dtype_is_an_error},
    {"test_jit_memory_constant_over_many_replays", test_jit_memory_constant_over_many_replays},
    {"test_jit_variable_values_are_launch_arguments", test_jit_variable_values_are_launch_arguments},
    {"test_jit_outputs_read_the_new_values", test_jit_outputs_read_the_new_values},
    {"test_jit_refuses_a_parameter_given_a_new_buffer", test_jit_refuses_a_parameter_given_a_new_buffer},
    {"test_assign_lazy_in_place_and_through_a_copy", test_assign_lazy_in_place_and_through_a_copy},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
