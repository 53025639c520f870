/* `cgrad train fashion-mnist`: a small CNN (two conv blocks with batchnorm and pooling, then a
   linear head) trained with Adam on the real Fashion-MNIST files, with a progress bar, resumable
   checkpoints and a test-set evaluation whose accuracy is the last line printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cgrad.h"
#include "train.h"

#define MAX_STATE 64

typedef struct {
  int epochs, batch, log_steps, jit;   /* jit: capture the step once and replay it (JIT=0: off) */
  int64_t max_steps;   /* stop after this global step (tests), 0 = run all epochs */
  double lr;
  const char *device, *save, *resume, *data;
  uint64_t seed;
} options;

typedef struct {
  cg_module *model;
  cg_optim *opt;
  cg_tensor *params[MAX_STATE];
  int nparams;
  cg_dataset *train, *test;
  int64_t *perm;
  int64_t epoch, step, global_step;   /* data position */
  cg_jit *jit;                        /* the captured training step (NULL with JIT=0) */
} trainer;

static cg_module *make_model(void) {
  cg_module *layers[] = {
    cg_nn_conv2d(1, 16, 3, 1, 1, 0), cg_nn_batchnorm(16, 1e-5, 0.1), cg_nn_relu(), cg_nn_max_pool2d(2, 0),
    cg_nn_conv2d(16, 32, 3, 1, 1, 0), cg_nn_batchnorm(32, 1e-5, 0.1), cg_nn_relu(), cg_nn_max_pool2d(2, 0),
    cg_nn_flatten(), cg_nn_linear(32 * 7 * 7, 10, 1)};
  return cg_nn_sequential(layers, sizeof layers / sizeof *layers);
}

/* the epoch's example order: Fisher-Yates driven by splitmix64(seed, epoch) */
static void shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)epoch + 1;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    int64_t j = (int64_t)(z % (uint64_t)(i + 1)), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static const char *data_dir(const options *o) {
  static const char *candidates[] = {NULL, ".data/fashion-mnist", "/usr/share/datasets/fashion-mnist"};
  candidates[0] = o->data ? o->data : getenv("CGRAD_DATA");
  for (int i = 0; i < 3; i++) {
    char p[512];
    if (!candidates[i]) continue;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", candidates[i]);
    if (access(p, R_OK) == 0) return candidates[i];
  }
  return NULL;
}

static cg_dataset *load_split(const char *dir, const char *split) {
  char img[600], lab[600];
  snprintf(img, sizeof img, "%s/%s-images-idx3-ubyte.gz", dir, split);
  snprintf(lab, sizeof lab, "%s/%s-labels-idx1-ubyte.gz", dir, split);
  return cg_idx_load(img, lab);
}

/* ---- checkpoints: model state, optimizer state, RNG and data position in one safetensors ---- */
static int save_checkpoint(trainer *t, const options *o) {
  const char *names[2 * MAX_STATE];
  char namebuf[4096];
  cg_tensor *ts[2 * MAX_STATE];
  int n = cg_module_state_dict(t->model, names, namebuf, sizeof namebuf, ts, MAX_STATE);
  cg_tensor *st[MAX_STATE];
  int ns = cg_optim_state(t->opt, st, MAX_STATE);
  static char optnames[MAX_STATE][32];
  for (int i = 0; i < ns && n < 2 * MAX_STATE; i++) {
    snprintf(optnames[i], sizeof optnames[i], "optim.%d", i);
    names[n] = optnames[i];
    ts[n++] = st[i];
  }
  uint64_t seed, ctr;
  cg_rng_get_state(&seed, &ctr);
  char v[5][32];
  snprintf(v[0], 32, "%lld", (long long)t->epoch);
  snprintf(v[1], 32, "%lld", (long long)t->step);
  snprintf(v[2], 32, "%lld", (long long)t->global_step);
  snprintf(v[3], 32, "%llu", (unsigned long long)seed);
  snprintf(v[4], 32, "%llu", (unsigned long long)ctr);
  const char *meta[] = {"epoch", v[0], "step", v[1], "global_step", v[2], "rng_seed", v[3], "rng_counter", v[4],
                        "data_seed", NULL};
  char ds[32];
  snprintf(ds, sizeof ds, "%llu", (unsigned long long)o->seed);
  meta[11] = ds;
  return cg_safetensors_save(o->save, names, ts, n, meta, 6);
}

static int load_checkpoint(trainer *t, const char *path) {
  cg_safetensors *f = cg_safetensors_open(path);
  if (!f) return -1;
  const char *names[2 * MAX_STATE];
  char namebuf[4096];
  cg_tensor *ts[2 * MAX_STATE];
  int n = cg_module_state_dict(t->model, names, namebuf, sizeof namebuf, ts, MAX_STATE), rc = 0;
  cg_tensor *st[MAX_STATE];
  int ns = cg_optim_state(t->opt, st, MAX_STATE);
  for (int i = 0; i < n + ns && !rc; i++) {
    char on[32];
    snprintf(on, sizeof on, "optim.%d", i - n);
    cg_tensor *dst = i < n ? ts[i] : st[i - n], *src = cg_safetensors_get(f, i < n ? names[i] : on, NULL);
    rc = src ? cg_replace(dst, src) : -1;
    cg_free(src);
  }
  const char *keys[] = {"epoch", "step", "global_step", "rng_seed", "rng_counter"};
  uint64_t vals[5] = {0};
  for (int i = 0; i < 5 && !rc; i++) {
    const char *v = cg_safetensors_metadata(f, keys[i]);
    if (!v) { cg_set_error("checkpoint %s lacks '%s'", path, keys[i]); rc = -1; }
    else vals[i] = strtoull(v, NULL, 10);
  }
  if (!rc) {
    t->epoch = (int64_t)vals[0], t->step = (int64_t)vals[1], t->global_step = (int64_t)vals[2];
    cg_rng_set_state(vals[3], vals[4]);
    cg_tensor *all[2 * MAX_STATE];
    memcpy(all, ts, n * sizeof *ts);
    memcpy(all + n, st, ns * sizeof *st);
    rc = cg_realize_all(all, n + ns);
  }
  cg_safetensors_close(f);
  return rc;
}

/* ---- one training step ---- */
/* Forward, backward and Adam update of one batch: inputs x, y and the per-example weight (0 for
   the wrapped-around tail of a short last batch, so every batch has one shape and one JIT serves
   them all); outputs the mean loss and the weighted count of correct predictions. Under the JIT
   this body runs twice (warm-up, capture) and is replayed afterwards. */
static int step_fn(void *ud, cg_tensor **in, int nin, cg_tensor **out, int max_out) {
  trainer *t = ud;
  (void)nin, (void)max_out;
  cg_tensor *x = in[0], *y = in[1], *weight = in[2];
  cg_tensor *logits = cg_module_forward(t->model, x);
  cg_tensor *losses = cg_cross_entropy(logits, y, CG_REDUCTION_NONE, 0);
  cg_tensor *loss = cg_div(cg_sum(cg_mul(losses, weight), CG_ALL, 0), cg_sum(weight, CG_ALL, 0));
  cg_tensor *correct = cg_sum(cg_mul(cg_cast(cg_eq(cg_argmax(logits, 1, 0), y), CG_F32), weight), CG_ALL, 0);
  if (!loss || !correct || cg_backward(loss) != 0) return -1;
  /* loss, gradients and batchnorm statistics in one schedule (the loss reads the weights before
     the update overwrites them in place); then the optimizer's kernels */
  cg_tensor *all[3 * MAX_STATE];
  const char *names[2 * MAX_STATE];
  char namebuf[4096];
  int k = cg_module_state_dict(t->model, names, namebuf, sizeof namebuf, all, MAX_STATE);
  for (int i = 0; i < t->nparams; i++) all[k++] = cg_grad(t->params[i]);
  all[k++] = loss;
  all[k++] = correct;
  int rc = cg_realize_all(all, k);
  if (!rc) rc = cg_optim_step(t->opt);
  cg_optim_zero_grad(t->opt);
  out[0] = loss, out[1] = correct;
  return rc ? -1 : 2;
}

static int train_step(trainer *t, const options *o, int64_t steps_per_epoch, double *loss_out, double *acc_out) {
  int64_t n = cg_dataset_len(t->train), idx[4096];
  int valid = 0;
  for (int i = 0; i < o->batch; i++) { /* a short last batch wraps around, with zero weight */
    int64_t k = t->step * o->batch + i;
    idx[i] = t->perm[k % n];
    valid += k < n;
  }
  cg_scope_push();
  cg_tensor *in[3], *out[2];
  if (cg_dataset_batch(t->train, idx, o->batch, &in[0], &in[1])) { cg_scope_pop(); return -1; }
  float w[4096];
  for (int i = 0; i < o->batch; i++) w[i] = i < valid ? 1.0f : 0.0f;
  in[2] = cg_from_data(w, CG_F32, CG_SHAPE(o->batch), NULL);
  /* the learning rate is a buffer the captured kernels read: set it before the (replayed) step */
  int rc = cg_optim_set_lr(t->opt, cg_lr_cosine(o->lr, t->global_step, steps_per_epoch * o->epochs, o->lr * 0.02));
  if (!rc) rc = (t->jit ? cg_jit_call(t->jit, in, 3, out, 2) : step_fn(t, in, 3, out, 2)) == 2 ? 0 : -1;
  if (!rc) *loss_out = cg_item(out[0]), *acc_out = cg_item(out[1]) / valid;
  cg_scope_pop();
  return rc;
}

static double evaluate(trainer *t) {
  int was = cg_set_training(0), nb = 1000;
  int64_t n = cg_dataset_len(t->test), correct = 0, idx[1000];
  int grad = cg_set_grad_enabled(0);
  for (int64_t s = 0; s < n; s += nb) {
    int m = (int)(n - s < nb ? n - s : nb);
    for (int i = 0; i < nb; i++) idx[i] = s + (i < m ? i : 0); /* same shape every batch */
    cg_scope_push();
    cg_tensor *x, *y;
    if (cg_dataset_batch(t->test, idx, nb, &x, &y) == 0) {
      cg_tensor *hit = cg_cast(cg_eq(cg_argmax(cg_module_forward(t->model, x), 1, 0), y), CG_I32);
      int32_t h[1000];
      if (cg_to_data(hit, h, sizeof h) == 0)
        for (int i = 0; i < m; i++) correct += h[i];
    }
    cg_scope_pop();
  }
  cg_set_grad_enabled(grad);
  cg_set_training(was);
  return (double)correct / (double)n;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void progress(int64_t step, int64_t total, int64_t epoch, int epochs, double loss, double acc, double t0) {
  double el = (double)clock_gettime_s() - t0, rate = step > 0 ? (double)step / el : 0;
  double eta = rate > 0 ? (double)(total - step) / rate : 0;
  if (isatty(2)) {
    int w = 24, fill = (int)(w * step / (total ? total : 1));
    fprintf(stderr, "\repoch %lld/%d [%.*s%*s] %lld/%lld loss %.4f acc %.3f %.1f steps/s ETA %.0fs ",
            (long long)epoch + 1, epochs, fill, "========================", w - fill, "", (long long)step,
            (long long)total, loss, acc, rate, eta);
  } else if (step % 50 == 0 || step == total) {
    fprintf(stderr, "epoch %lld/%d step %lld/%lld loss %.4f acc %.3f %.1f steps/s ETA %.0fs\n", (long long)epoch + 1,
            epochs, (long long)step, (long long)total, loss, acc, rate, eta);
  }
}

static int parse(int argc, char **argv, options *o) {
  const char *jit = getenv("JIT");
  *o = (options){.epochs = 2, .batch = 128, .lr = 3e-3, .seed = 42, .jit = !jit || atoi(jit) != 0};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { fprintf(stderr, "train: %s needs a value\n", a); return -1; }
    if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
    else if (!strcmp(a, "--batch")) o->batch = atoi(v);
    else if (!strcmp(a, "--lr")) o->lr = atof(v);
    else if (!strcmp(a, "--device")) o->device = v;
    else if (!strcmp(a, "--save")) o->save = v;
    else if (!strcmp(a, "--resume")) o->resume = v;
    else if (!strcmp(a, "--data")) o->data = v;
    else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--max-steps")) o->max_steps = atoll(v);
    else if (!strcmp(a, "--log-steps")) o->log_steps = atoi(v);
    else { fprintf(stderr, "train: unknown option %s\n", a); return -1; }
    i++;
  }
  if (o->epochs < 1 || o->batch < 1 || o->batch > 4096 || !(o->lr > 0)) {
    fprintf(stderr, "train: need --epochs >= 1, 1 <= --batch <= 4096, --lr > 0\n");
    return -1;
  }
  return 0;
}

int cmd_train(int argc, char **argv) {
  options o;
  if (argc < 1 || strcmp(argv[0], "fashion-mnist")) {
    fprintf(stderr, "usage: cgrad train fashion-mnist [--epochs N] [--batch B] [--lr X] [--device D] "
                    "[--save FILE] [--resume FILE] [--data DIR] [--seed S] [--max-steps N] [--log-steps 1]\n");
    return 2;
  }
  if (parse(argc - 1, argv + 1, &o)) return 2;
  if (o.device && cg_set_default_device(o.device)) { fprintf(stderr, "train: %s\n", cg_last_error()); return 1; }
  const char *dir = data_dir(&o);
  if (!dir) {
    fprintf(stderr, "train: Fashion-MNIST not found (install dataset-fashion-mnist, or pass --data DIR)\n");
    return 1;
  }
  trainer t = {0};
  cg_manual_seed(o.seed);
  t.train = load_split(dir, "train");
  t.test = t.train ? load_split(dir, "t10k") : NULL;
  t.model = t.test ? make_model() : NULL;
  if (t.model) {
    t.nparams = cg_module_parameters(t.model, t.params, MAX_STATE);
    t.opt = cg_adam(t.params, t.nparams, o.lr, 0.9, 0.999, 1e-8);
  }
  int rc = t.opt ? 0 : -1;
  if (!rc && o.resume) rc = load_checkpoint(&t, o.resume);
  if (!rc && o.jit) t.jit = cg_jit_new(step_fn, &t);
  int64_t n = cg_dataset_len(t.train), per_epoch = (n + o.batch - 1) / o.batch;
  t.perm = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  cg_set_training(1);
  double t0 = (double)clock_gettime_s();
  int64_t start_step = t.global_step;
  for (; !rc && t.epoch < o.epochs; t.epoch++, t.step = 0) {
    shuffle(t.perm, n, o.seed, t.epoch);
    double loss = 0, acc = 0;
    for (; !rc && t.step < per_epoch; t.step++, t.global_step++) {
      if (o.max_steps && t.global_step >= o.max_steps) break;
      rc = train_step(&t, &o, per_epoch, &loss, &acc);
      if (!rc && o.log_steps) printf("step %lld loss %.9g rss_kb %ld\n", (long long)t.global_step, loss, rss_kb());
      if (!rc) progress(t.global_step - start_step + 1, per_epoch * o.epochs - start_step, t.epoch, o.epochs, loss, acc, t0);
    }
    if (o.max_steps && t.global_step >= o.max_steps) break;
    if (isatty(2)) fprintf(stderr, "\n");
  }
  if (!rc && o.save) rc = save_checkpoint(&t, &o);
  if (!rc && !o.max_steps) printf("test accuracy: %.4f\n", evaluate(&t));
  if (rc) fprintf(stderr, "train: %s\n", cg_last_error());
  free(t.perm);
  cg_jit_free(t.jit);
  cg_optim_free(t.opt);
  cg_module_free(t.model);
  cg_dataset_free(t.train);
  cg_dataset_free(t.test);
  return rc ? 1 : 0;
}
