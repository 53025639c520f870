/* A long loop of realizes holds constant memory: graph nodes and buffers are released. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "ir/uop.h"

static void step(cg_tensor **w, cg_tensor *x) {
  cg_scope_push();
  cg_tensor *y = cg_softmax(cg_matmul(x, *w), -1);
  cg_tensor *g = cg_mul_s(cg_sum(y, CG_AXES(0), 0), 1e-3);
  cg_tensor *nw = cg_sub(*w, cg_reshape(g, CG_SHAPE(1, 16)));
  if (cg_realize(nw) != 0) th_fail(__FILE__, __LINE__, "realize: %s", cg_last_error());
  cg_keep(nw);
  cg_scope_pop();
  cg_free(*w);
  *w = nw;
}

static void test_memory_constant_over_many_steps(void) {
  int steps = strcmp(cg_default_device(), "INTERP") ? 300 : 40;
  cg_scope_pop(); /* kept tensors must be caller-owned so cg_free releases them */
  cg_tensor *x = cg_keep(cg_rand(CG_SHAPE(8, 16), CG_F32));
  cg_tensor *w = cg_keep(cg_rand(CG_SHAPE(16, 16), CG_F32));
  for (int i = 0; i < 10; i++) step(&w, x);
  size_t nodes = uop_global_live(), before[OP_COUNT], after[OP_COUNT];
  uop_global_histogram(before);
  long rss = th_rss_kb();
  for (int i = 0; i < steps; i++) step(&w, x);
  CHECK_EQ_INT(uop_global_live(), nodes);
  uop_global_histogram(after);
  for (int op = 0; op < OP_COUNT; op++)
    if (after[op] != before[op]) fprintf(stderr, "  live %s nodes: %zu -> %zu\n", cg_op_name(op), before[op], after[op]);
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine holds freed memory; LeakSanitizer checks instead */
  CHECK(th_rss_kb() <= rss + 512); /* allow allocator noise, not growth per step */
#else
  (void)rss;
#endif
  cg_free(w);
  cg_free(x);
  cg_scope_push();
}

static void test_memory_unscoped_ops_free_their_temporaries(void) {
  size_t before = uop_global_live();
  cg_scope_pop(); /* leave the harness scope: this test owns its tensors by hand */
  cg_tensor *a = cg_ones(CG_SHAPE(4, 4), CG_F32);
  cg_tensor *s = cg_softmax(a, -1); /* composed of ~10 ops, only s survives */
  cg_tensor *l = cg_layernorm(s, -1, 1e-5);
  CHECK(cg_realize(l) == 0);
  cg_free(l);
  cg_free(s);
  cg_free(a);
  cg_scope_push();
  CHECK_EQ_INT(uop_global_live(), before);
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"memory_constant_over_many_steps", test_memory_constant_over_many_steps},
    {"memory_unscoped_ops_free_their_temporaries", test_memory_unscoped_ops_free_their_temporaries},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
