/* Train a small CNN on Fashion-MNIST, the readable version of `cgrad train fashion-mnist`
   (which adds a progress bar, checkpoints and options). One epoch, Adam, batch 128. */
#include <stdio.h>
#include <stdlib.h>
#include "cgrad.h"

#define DATA "/usr/share/datasets/fashion-mnist/"
#define BATCH 128

static cg_module *model(void) {
  cg_module *layers[] = {
    cg_nn_conv2d(1, 16, 3, 1, 1, 0), cg_nn_batchnorm(16, 1e-5, 0.1), cg_nn_relu(), cg_nn_max_pool2d(2, 0),
    cg_nn_conv2d(16, 32, 3, 1, 1, 0), cg_nn_batchnorm(32, 1e-5, 0.1), cg_nn_relu(), cg_nn_max_pool2d(2, 0),
    cg_nn_flatten(), cg_nn_linear(32 * 7 * 7, 10, 1)};
  return cg_nn_sequential(layers, 10);
}

/* one step: forward, loss, backward; realize loss, gradients and batchnorm state together */
static double step(cg_module *net, cg_optim *opt, cg_tensor **params, int np, cg_tensor *x, cg_tensor *y) {
  cg_tensor *loss = cg_cross_entropy(cg_module_forward(net, x), y, CG_REDUCTION_MEAN, 0);
  if (cg_backward(loss)) return -1;
  cg_tensor *todo[64];
  int n = cg_module_state_dict(net, NULL, NULL, 0, todo, 32);
  for (int i = 0; i < np; i++) todo[n++] = cg_grad(params[i]);
  todo[n++] = loss;
  if (cg_realize_all(todo, n) || cg_optim_step(opt)) return -1;
  cg_optim_zero_grad(opt);
  return cg_item(loss);
}

static double accuracy(cg_module *net, cg_dataset *test) {
  int64_t correct = 0, idx[1000];
  int was = cg_set_training(0), grad = cg_set_grad_enabled(0);
  for (int64_t s = 0; s < cg_dataset_len(test); s += 1000) {
    cg_scope_push();
    for (int i = 0; i < 1000; i++) idx[i] = s + i;
    cg_tensor *x, *y;
    cg_dataset_batch(test, idx, 1000, &x, &y);
    cg_tensor *hits = cg_sum(cg_cast(cg_eq(cg_argmax(cg_module_forward(net, x), 1, 0), y), CG_I32), CG_ALL, 0);
    correct += (int64_t)cg_item(hits);
    cg_scope_pop();
  }
  cg_set_training(was);
  cg_set_grad_enabled(grad);
  return (double)correct / (double)cg_dataset_len(test);
}

int main(void) {
  cg_dataset *train = cg_idx_load(DATA "train-images-idx3-ubyte.gz", DATA "train-labels-idx1-ubyte.gz");
  cg_dataset *test = cg_idx_load(DATA "t10k-images-idx3-ubyte.gz", DATA "t10k-labels-idx1-ubyte.gz");
  if (!train || !test) {
    fprintf(stderr, "%s\n", cg_last_error());
    return 1;
  }
  cg_manual_seed(0);
  cg_module *net = model();
  cg_tensor *params[32];
  int np = cg_module_parameters(net, params, 32);
  cg_optim *opt = cg_adam(params, np, 2e-3, 0.9, 0.999, 1e-8);
  int64_t n = cg_dataset_len(train), *order = malloc(sizeof(int64_t) * n);
  for (int64_t i = 0; i < n; i++) order[i] = i;
  for (int64_t i = n - 1; i > 0; i--) { /* shuffle */
    int64_t j = rand() % (i + 1), t = order[i];
    order[i] = order[j], order[j] = t;
  }
  cg_set_training(1);
  for (int64_t s = 0; s + BATCH <= n; s += BATCH) {
    cg_scope_push();
    cg_tensor *x, *y;
    cg_dataset_batch(train, order + s, BATCH, &x, &y);
    double loss = step(net, opt, params, np, x, y);
    cg_scope_pop();
    if (loss < 0) { fprintf(stderr, "%s\n", cg_last_error()); return 1; }
    if ((s / BATCH) % 50 == 0) printf("step %lld loss %.4f\n", (long long)(s / BATCH), loss);
  }
  printf("test accuracy: %.4f\n", accuracy(net, test));
  free(order);
  cg_optim_free(opt);
  cg_module_free(net);
  cg_dataset_free(train);
  cg_dataset_free(test);
  cg_shutdown();
  return 0;
}
