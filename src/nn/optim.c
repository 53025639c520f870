/* Optimizers (tinygrad's and PyTorch's formulas). A step builds every new parameter and state
   value lazily and realizes them in one schedule (so the update fuses into a few kernels per
   parameter), written into the tensors' own buffers (cg_assign_lazy). The learning rate and
   Adam's beta powers live in device buffers, so changing them compiles nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"

enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_LAMB };

struct cg_optim {
  int kind, n, nesterov;
  double momentum, wd, b1, b2, eps, lr_value;
  cg_tensor **params;
  cg_tensor **m, **v;        /* per-parameter state (momentum buffer, or Adam moments) */
  cg_tensor *lr, *b1_t, *b2_t;
  int64_t steps;
};

static cg_tensor *scalar_buffer(double v) { /* owned by the optimizer, whatever the scope */
  float f = (float)v;
  return cg_own(cg_from_data(&f, CG_F32, CG_SCALAR_SHAPE, NULL));
}

static cg_optim *make(int kind, cg_tensor **params, int n, double lr) {
  if (!params || n <= 0) {
    cg_set_error("optimizer: no parameters");
    return NULL;
  }
  for (int i = 0; i < n; i++)
    if (!params[i] || !cg_requires_grad(params[i]) || cg_get_dtype(params[i]) != CG_F32) {
      cg_set_error("optimizer: parameter %d must be a float32 tensor that requires grad", i);
      return NULL;
    }
  cg_optim *o = calloc(1, sizeof *o);
  o->kind = kind;
  o->n = n;
  o->lr_value = lr;
  o->params = malloc(n * sizeof *o->params);
  memcpy(o->params, params, n * sizeof *params);
  o->m = calloc(n, sizeof *o->m);
  o->v = calloc(n, sizeof *o->v);
  o->lr = scalar_buffer(lr);
  o->b1_t = scalar_buffer(1);
  o->b2_t = scalar_buffer(1);
  return o;
}

static cg_tensor *zeros_state(cg_tensor *p) {
  cg_tensor *z = cg_own(cg_zeros_like(p));
  cg_realize(z);
  return z;
}

cg_optim *cg_sgd(cg_tensor **params, int n, double lr, double momentum, double weight_decay, int nesterov) {
  cg_optim *o = make(OPT_SGD, params, n, lr);
  if (!o) return NULL;
  o->momentum = momentum;
  o->wd = weight_decay;
  o->nesterov = nesterov;
  for (int i = 0; i < n && momentum; i++) o->m[i] = zeros_state(params[i]);
  return o;
}

static cg_optim *adam_like(int kind, cg_tensor **params, int n, double lr, double b1, double b2, double eps, double wd) {
  cg_optim *o = make(kind, params, n, lr);
  if (!o) return NULL;
  o->b1 = b1, o->b2 = b2, o->eps = eps, o->wd = wd;
  for (int i = 0; i < n; i++) o->m[i] = zeros_state(params[i]), o->v[i] = zeros_state(params[i]);
  return o;
}

cg_optim *cg_adam(cg_tensor **params, int n, double lr, double b1, double b2, double eps) {
  return adam_like(OPT_ADAM, params, n, lr, b1, b2, eps, 0);
}
cg_optim *cg_adamw(cg_tensor **params, int n, double lr, double b1, double b2, double eps, double wd) {
  return adam_like(OPT_ADAMW, params, n, lr, b1, b2, eps, wd);
}
cg_optim *cg_lamb(cg_tensor **params, int n, double lr, double b1, double b2, double eps, double wd) {
  return adam_like(OPT_LAMB, params, n, lr, b1, b2, eps, wd);
}

/* new values for parameter i (and its state) appended to vals/dsts */
static int update_one(cg_optim *o, int i, cg_tensor *b1_t, cg_tensor *b2_t, cg_tensor **dst, cg_tensor **val, int *k) {
  cg_tensor *p = o->params[i], *g = cg_grad(p);
  if (!g) return 0; /* no gradient reached this parameter */
  if (o->kind == OPT_SGD) {
    if (o->wd) g = cg_add(g, cg_mul_s(p, o->wd));
    if (o->momentum) {
      cg_tensor *b = cg_add(cg_mul_s(o->m[i], o->momentum), g);
      dst[*k] = o->m[i], val[(*k)++] = b;
      g = o->nesterov ? cg_add(g, cg_mul_s(b, o->momentum)) : b;
    }
    dst[*k] = p, val[(*k)++] = cg_sub(p, cg_mul(g, o->lr));
    return 0;
  }
  cg_tensor *m = cg_add(cg_mul_s(o->m[i], o->b1), cg_mul_s(g, 1 - o->b1));
  cg_tensor *v = cg_add(cg_mul_s(o->v[i], o->b2), cg_mul_s(cg_mul(g, g), 1 - o->b2));
  cg_tensor *mhat = cg_div(m, cg_sub(cg_ones_like(b1_t), b1_t));
  cg_tensor *vhat = cg_div(v, cg_sub(cg_ones_like(b2_t), b2_t));
  cg_tensor *r = cg_div(mhat, cg_add_s(cg_sqrt(vhat), o->eps));
  if (o->wd) r = cg_add(r, cg_mul_s(p, o->wd));
  if (o->kind == OPT_LAMB) { /* trust ratio ||p|| / ||r||, 1 where either is 0 */
    cg_tensor *pn = cg_sqrt(cg_sum(cg_mul(p, p), CG_ALL, 0)), *rn = cg_sqrt(cg_sum(cg_mul(r, r), CG_ALL, 0));
    cg_tensor *zero = cg_zeros_like(pn), *ok = cg_and(cg_gt(pn, zero), cg_gt(rn, zero));
    r = cg_mul(r, cg_where(ok, cg_div(pn, rn), cg_ones_like(pn)));
  }
  dst[*k] = o->m[i], val[(*k)++] = m;
  dst[*k] = o->v[i], val[(*k)++] = v;
  dst[*k] = p, val[(*k)++] = cg_sub(p, cg_mul(r, o->lr));
  return 0;
}

int cg_optim_step(cg_optim *o) {
  if (!o) return -1;
  int was = cg_set_grad_enabled(0);
  cg_scope_push();
  int cap = 3 * o->n + 2, k = 0, rc = 0;
  cg_tensor **dst = malloc(cap * sizeof *dst), **val = malloc(cap * sizeof *val);
  cg_tensor *b1_t = o->b1_t, *b2_t = o->b2_t;
  if (o->kind != OPT_SGD) { /* beta powers for this step's bias correction */
    b1_t = cg_mul_s(o->b1_t, o->b1);
    b2_t = cg_mul_s(o->b2_t, o->b2);
    dst[k] = o->b1_t, val[k++] = b1_t;
    dst[k] = o->b2_t, val[k++] = b2_t;
  }
  for (int i = 0; i < o->n && !rc; i++) rc = update_one(o, i, b1_t, b2_t, dst, val, &k);
  for (int i = 0; i < k && !rc; i++)
    if (!val[i]) rc = -1;
  /* in place: parameters and state keep their buffers, so a JIT capture of a step replays */
  for (int i = 0; i < k && !rc; i++) rc = cg_assign_lazy(dst[i], val[i]);
  if (!rc) rc = cg_realize_all(dst, k);
  if (!rc) o->steps++;
  free(dst);
  free(val);
  cg_scope_pop();
  cg_set_grad_enabled(was);
  return rc;
}

void cg_optim_zero_grad(cg_optim *o) {
  for (int i = 0; o && i < o->n; i++) cg_zero_grad(o->params[i]);
}

int cg_optim_set_lr(cg_optim *o, double lr) {
  if (!o) return -1;
  float f = (float)lr;
  cg_tensor *v = cg_from_data(&f, CG_F32, CG_SCALAR_SHAPE, NULL);
  int rc = v ? cg_assign(o->lr, v) : -1; /* a copy into the buffer kernels read: nothing to compile */
  cg_free(v);
  if (!rc) o->lr_value = lr;
  return rc;
}

double cg_optim_get_lr(const cg_optim *o) { return o ? o->lr_value : NAN; }
int64_t cg_optim_steps(const cg_optim *o) { return o ? o->steps : 0; }

/* state tensors for checkpoints: m then v per parameter (NULL where unused), then beta powers */
int cg_optim_state(cg_optim *o, cg_tensor **out, int cap) {
  int k = 0;
  for (int i = 0; o && i < o->n; i++) {
    if (o->m[i] && k < cap) out[k++] = o->m[i];
    if (o->v[i] && k < cap) out[k++] = o->v[i];
  }
  if (o && o->kind != OPT_SGD && k + 2 <= cap) out[k++] = o->b1_t, out[k++] = o->b2_t;
  return k;
}

void cg_optim_free(cg_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->n; i++) cg_free(o->m[i]), cg_free(o->v[i]);
  cg_free(o->lr);
  cg_free(o->b1_t);
  cg_free(o->b2_t);
  free(o->params);
  free(o->m);
  free(o->v);
  free(o);
}

/* scale every gradient so their global L2 norm is at most max_norm; returns the norm */
double cg_clip_grad_norm(cg_tensor **params, int n, double max_norm) {
  int was = cg_set_grad_enabled(0);
  cg_scope_push();
  cg_tensor *total = NULL;
  for (int i = 0; i < n; i++) {
    cg_tensor *g = cg_grad(params[i]);
    if (!g) continue;
    cg_tensor *s = cg_sum(cg_mul(g, g), CG_ALL, 0);
    total = total ? cg_add(total, s) : s;
  }
  double norm = total ? sqrt(cg_item(total)) : 0;
  if (norm > max_norm && norm > 0)
    for (int i = 0; i < n; i++) {
      cg_tensor *g = cg_grad(params[i]);
      if (g) cg_replace(g, cg_mul_s(g, max_norm / (norm + 1e-6)));
    }
  cg_scope_pop();
  cg_set_grad_enabled(was);
  return norm;
}

/* learning-rate schedules: the rate for step t of `total` */
double cg_lr_step(double lr, int64_t t, int64_t step_size, double gamma) {
  return lr * pow(gamma, (double)(step_size > 0 ? t / step_size : 0));
}
double cg_lr_cosine(double lr, int64_t t, int64_t total, double min_lr) {
  double f = total > 0 ? (double)(t < total ? t : total) / (double)total : 1;
  return min_lr + (lr - min_lr) * 0.5 * (1 + cos(M_PI * f));
}
double cg_lr_one_cycle(double max_lr, int64_t t, int64_t total, double pct_start) {
  /* PyTorch's OneCycleLR (cosine, div_factor 25, final_div_factor 1e4): up from max/25 until step
     pct*total-1, then down to max/25/1e4 at step total-1 */
  double start = max_lr / 25, end = start / 1e4, up = pct_start * (double)total - 1, last = (double)total - 1;
  if ((double)t <= up) return start + (max_lr - start) * 0.5 * (1 - cos(M_PI * (up > 0 ? t / up : 1)));
  double f = last > up ? ((double)t - up) / (last - up) : 1;
  return end + (max_lr - end) * 0.5 * (1 + cos(M_PI * (f > 1 ? 1 : f)));
}
