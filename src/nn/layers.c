/* nn layers: a module is a kind, its named tensors and a few settings; forward is one function
   per kind, picked from a table. Parameters are float32 tensors with requires_grad; buffers (a
   BatchNorm's running statistics) are state without gradients. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgrad.h"

enum { M_LINEAR, M_CONV, M_BATCHNORM, M_LAYERNORM, M_RMSNORM, M_GROUPNORM, M_EMBEDDING, M_DROPOUT,
       M_RELU, M_MAXPOOL, M_AVGPOOL, M_FLATTEN, M_SEQUENTIAL, M_CONV_T, M_COUNT };

#define MAX_TENSORS 4
struct cg_module {
  int kind;
  const char *names[MAX_TENSORS];   /* "weight", "bias", "running_mean", ... */
  cg_tensor *t[MAX_TENSORS];
  int is_param[MAX_TENSORS];
  int nt;
  int64_t k[3], stride[3], pad[3], dil[3];
  int nspatial, groups;
  double eps, momentum, p;
  cg_module **children;
  int nchildren;
};

/* Tensor.training: what dropout and batchnorm do (the front end's one mode switch) */
static int training_mode;
int cg_set_training(int on) {
  int prev = training_mode;
  training_mode = on;
  return prev;
}
int cg_is_training(void) { return training_mode; }

static cg_module *module(int kind) {
  cg_module *m = calloc(1, sizeof *m);
  if (m) m->kind = kind;
  return m;
}

/* add a tensor the module owns (out of every scope) */
static int add(cg_module *m, const char *name, cg_tensor *t, int param) {
  if (!t || (param && cg_set_requires_grad(t, 1) != 0)) return -1;
  if (!param && cg_realize(t) != 0) return -1;
  m->names[m->nt] = name;
  m->t[m->nt] = cg_own(t);
  m->is_param[m->nt++] = param;
  return 0;
}

static cg_module *finish(cg_module *m, int ok) {
  if (ok) return m;
  cg_module_free(m);
  return NULL;
}

/* PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases */
static cg_tensor *init_uniform(cg_shape s, int64_t fan_in) {
  double b = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0;
  return cg_uniform(s, -b, b, CG_F32);
}

cg_module *cg_nn_linear(int64_t in, int64_t out, int bias) {
  cg_module *m = module(M_LINEAR);
  if (!m || in <= 0 || out <= 0) { cg_set_error("Linear: sizes must be positive"); return finish(m, 0); }
  cg_scope_push();
  int ok = !add(m, "weight", init_uniform(CG_SHAPE(out, in), in), 1) &&
           (!bias || !add(m, "bias", init_uniform(CG_SHAPE(out), in), 1));
  cg_scope_pop();
  return finish(m, ok);
}

static cg_module *conv_like(int kind, int nspatial, int64_t cin, int64_t cout, const int64_t *k, const int64_t *stride,
                            const int64_t *pad, int groups, int bias) {
  cg_module *m = module(kind);
  if (!m || nspatial < 1 || nspatial > 3 || cin <= 0 || cout <= 0 || groups < 1 || cin % groups || cout % groups) {
    cg_set_error("Conv: bad sizes (channels must divide by groups; 1-3 spatial dims)");
    return finish(m, 0);
  }
  m->nspatial = nspatial;
  m->groups = groups;
  cg_shape ws = {2 + nspatial, {0}, {0}};
  int64_t fan_in = (kind == M_CONV ? cin : cout) / groups;
  ws.d[0] = kind == M_CONV ? cout : cin;
  ws.d[1] = kind == M_CONV ? cin / groups : cout / groups;
  for (int i = 0; i < nspatial; i++) {
    m->k[i] = k[i];
    m->stride[i] = stride ? stride[i] : 1;
    m->pad[i] = pad ? pad[i] : 0;
    m->dil[i] = 1;
    ws.d[2 + i] = k[i];
    fan_in *= k[i];
  }
  cg_scope_push();
  int ok = !add(m, "weight", init_uniform(ws, fan_in), 1) &&
           (!bias || !add(m, "bias", init_uniform(CG_SHAPE(cout), fan_in), 1));
  cg_scope_pop();
  return finish(m, ok);
}

cg_module *cg_nn_conv(int nspatial, int64_t cin, int64_t cout, const int64_t *kernel, const int64_t *stride,
                      const int64_t *padding, int groups, int bias) {
  return conv_like(M_CONV, nspatial, cin, cout, kernel, stride, padding, groups, bias);
}
cg_module *cg_nn_conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int bias) {
  int64_t kk[2] = {k, k}, ss[2] = {stride, stride}, pp[2] = {padding, padding};
  return conv_like(M_CONV, 2, cin, cout, kk, ss, pp, 1, bias);
}
cg_module *cg_nn_conv1d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int bias) {
  return conv_like(M_CONV, 1, cin, cout, &k, &stride, &padding, 1, bias);
}
cg_module *cg_nn_conv_transpose2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int bias) {
  int64_t kk[2] = {k, k}, ss[2] = {stride, stride}, pp[2] = {padding, padding};
  return conv_like(M_CONV_T, 2, cin, cout, kk, ss, pp, 1, bias);
}

static cg_module *norm_like(int kind, int64_t c, double eps, int affine, int bias) {
  cg_module *m = module(kind);
  if (!m || c <= 0) { cg_set_error("norm layer: size must be positive"); return finish(m, 0); }
  m->eps = eps;
  cg_scope_push();
  int ok = !affine || (!add(m, "weight", cg_ones(CG_SHAPE(c), CG_F32), 1) &&
                       (!bias || !add(m, "bias", cg_zeros(CG_SHAPE(c), CG_F32), 1)));
  cg_scope_pop();
  return finish(m, ok);
}

cg_module *cg_nn_batchnorm(int64_t c, double eps, double momentum) {
  cg_module *m = norm_like(M_BATCHNORM, c, eps, 1, 1);
  if (!m) return NULL;
  m->momentum = momentum;
  cg_scope_push();
  int ok = !add(m, "running_mean", cg_zeros(CG_SHAPE(c), CG_F32), 0) &&
           !add(m, "running_var", cg_ones(CG_SHAPE(c), CG_F32), 0);
  cg_scope_pop();
  return finish(m, ok);
}
cg_module *cg_nn_layernorm(int64_t c, double eps) { return norm_like(M_LAYERNORM, c, eps, 1, 1); }
cg_module *cg_nn_rmsnorm(int64_t c, double eps) { return norm_like(M_RMSNORM, c, eps, 1, 0); }
cg_module *cg_nn_groupnorm(int groups, int64_t c, double eps) {
  if (groups < 1 || c % groups) { cg_set_error("GroupNorm: channels must divide by groups"); return NULL; }
  cg_module *m = norm_like(M_GROUPNORM, c, eps, 1, 1);
  if (m) m->groups = groups;
  return m;
}

cg_module *cg_nn_embedding(int64_t vocab, int64_t dim) {
  cg_module *m = module(M_EMBEDDING);
  if (!m || vocab <= 0 || dim <= 0) { cg_set_error("Embedding: sizes must be positive"); return finish(m, 0); }
  cg_scope_push();
  int ok = !add(m, "weight", cg_randn(CG_SHAPE(vocab, dim), CG_F32), 1);
  cg_scope_pop();
  return finish(m, ok);
}

cg_module *cg_nn_dropout(double p) {
  cg_module *m = module(M_DROPOUT);
  if (m) m->p = p;
  return m;
}
cg_module *cg_nn_relu(void) { return module(M_RELU); }
cg_module *cg_nn_flatten(void) { return module(M_FLATTEN); }
cg_module *cg_nn_max_pool2d(int64_t k, int64_t stride) {
  cg_module *m = module(M_MAXPOOL);
  if (m) m->k[0] = m->k[1] = k, m->stride[0] = m->stride[1] = stride ? stride : k;
  return m;
}
cg_module *cg_nn_avg_pool2d(int64_t k, int64_t stride) {
  cg_module *m = module(M_AVGPOOL);
  if (m) m->k[0] = m->k[1] = k, m->stride[0] = m->stride[1] = stride ? stride : k;
  return m;
}

cg_module *cg_nn_sequential(cg_module **mods, int n) {
  cg_module *m = module(M_SEQUENTIAL);
  if (!m || n < 0) return finish(m, 0);
  for (int i = 0; i < n; i++)
    if (!mods[i]) { /* a failed child: free the others and report */
      for (int j = 0; j < n; j++) cg_module_free(mods[j]);
      cg_set_error("Sequential: layer %d could not be made", i);
      return finish(m, 0);
    }
  m->children = malloc((n ? n : 1) * sizeof *m->children);
  memcpy(m->children, mods, n * sizeof *mods);
  m->nchildren = n;
  return m;
}

/* ---- forward, one function per kind ---- */
static cg_tensor *get(const cg_module *m, const char *name) {
  for (int i = 0; i < m->nt; i++)
    if (!strcmp(m->names[i], name)) return m->t[i];
  return NULL;
}

/* shape (1, C, 1, ...) for per-channel vectors against x */
static cg_tensor *per_channel(cg_tensor *v, int ndim) {
  cg_shape s = {ndim, {0}, {0}};
  for (int i = 0; i < ndim; i++) s.d[i] = 1;
  s.d[1] = cg_numel(v);
  return cg_reshape(v, s);
}

static cg_tensor *fwd_batchnorm(cg_module *m, cg_tensor *x) {
  int nd = cg_ndim(x);
  if (nd < 2) { cg_set_error("BatchNorm: input needs (N, C, ...)"); return NULL; }
  cg_tensor *rm = get(m, "running_mean"), *rv = get(m, "running_var");
  if (!training_mode) return cg_batchnorm(x, get(m, "weight"), get(m, "bias"), rm, cg_rsqrt(cg_add_s(rv, m->eps)));
  cg_tensor *dm = NULL, *dv = NULL;
  cg_tensor *y = cg_batchnorm_train(x, get(m, "weight"), get(m, "bias"), m->eps, &dm, &dv);
  if (!y) return NULL;
  int64_t n = cg_numel(x) / (cg_numel(dm) ? cg_numel(dm) : 1);
  /* running statistics follow PyTorch: momentum average, unbiased variance; assigned into their
     own buffers when realized (stable state for a JIT replay) */
  int was = cg_set_grad_enabled(0);
  cg_assign_lazy(rm, cg_add(cg_mul_s(rm, 1 - m->momentum), cg_mul_s(dm, m->momentum)));
  cg_assign_lazy(rv, cg_add(cg_mul_s(rv, 1 - m->momentum), cg_mul_s(dv, m->momentum * n / (n > 1 ? n - 1 : 1))));
  cg_set_grad_enabled(was);
  return y;
}

static cg_tensor *affine_last(cg_module *m, cg_tensor *y) {
  cg_tensor *w = get(m, "weight"), *b = get(m, "bias");
  if (w) y = cg_mul(y, w);
  return b ? cg_add(y, b) : y;
}

static cg_tensor *fwd_groupnorm(cg_module *m, cg_tensor *x) {
  cg_shape s = cg_get_shape(x);
  if (s.ndim < 2) { cg_set_error("GroupNorm: input needs (N, C, ...)"); return NULL; }
  cg_tensor *g = cg_reshape(x, CG_SHAPE(s.d[0], m->groups, -1));
  cg_tensor *y = cg_reshape(cg_layernorm(g, -1, m->eps), s);
  return cg_add(cg_mul(y, per_channel(get(m, "weight"), s.ndim)), per_channel(get(m, "bias"), s.ndim));
}

static cg_tensor *fwd_sequential(cg_module *m, cg_tensor *x) {
  for (int i = 0; i < m->nchildren && x; i++) x = cg_module_forward(m->children[i], x);
  return x;
}

cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x) {
  if (!m || !x) return NULL;
  switch (m->kind) {
  case M_LINEAR: return cg_linear(x, get(m, "weight"), get(m, "bias"));
  case M_CONV: return cg_conv(x, get(m, "weight"), get(m, "bias"), m->nspatial, m->stride, m->pad, m->dil, m->groups);
  case M_CONV_T: return cg_conv_transpose(x, get(m, "weight"), get(m, "bias"), m->nspatial, m->stride, m->pad, NULL, m->dil, m->groups);
  case M_BATCHNORM: return fwd_batchnorm(m, x);
  case M_LAYERNORM: return affine_last(m, cg_layernorm(x, -1, m->eps));
  case M_RMSNORM: return affine_last(m, cg_rmsnorm(x, -1, m->eps));
  case M_GROUPNORM: return fwd_groupnorm(m, x);
  case M_EMBEDDING: return cg_index_select(get(m, "weight"), 0, x);
  case M_DROPOUT: return cg_dropout(x, m->p, training_mode);
  case M_RELU: return cg_relu(x);
  case M_MAXPOOL: return cg_max_pool2d(x, m->k, m->stride, NULL);
  case M_AVGPOOL: return cg_avg_pool2d(x, m->k, m->stride, NULL);
  case M_FLATTEN: return cg_flatten(x, 1, -1);
  case M_SEQUENTIAL: return fwd_sequential(m, x);
  default: cg_set_error("module: unknown kind"); return NULL;
  }
}

/* ---- state: parameters and named tensors ("0.weight", "1.running_mean", ...) ---- */
static int collect(cg_module *m, const char *prefix, int params_only, const char **names, char *namebuf,
                   size_t nbsize, size_t *used, cg_tensor **out, int k, int cap) {
  for (int i = 0; i < m->nt; i++) {
    if (params_only && !m->is_param[i]) continue;
    if (k < cap) {
      out[k] = m->t[i];
      if (names && namebuf) {
        int len = snprintf(namebuf + *used, nbsize - *used, "%s%s", prefix, m->names[i]);
        names[k] = namebuf + *used;
        *used += (size_t)len + 1;
        if (*used > nbsize) *used = nbsize;
      }
    }
    k++;
  }
  for (int c = 0; c < m->nchildren; c++) {
    char p[128];
    snprintf(p, sizeof p, "%s%d.", prefix, c);
    k = collect(m->children[c], p, params_only, names, namebuf, nbsize, used, out, k, cap);
  }
  return k;
}

int cg_module_parameters(cg_module *m, cg_tensor **out, int cap) {
  size_t used = 0;
  return m ? collect(m, "", 1, NULL, NULL, 0, &used, out, 0, cap) : 0;
}

int cg_module_state_dict(cg_module *m, const char **names, char *namebuf, size_t nbsize, cg_tensor **out, int cap) {
  size_t used = 0;
  return m ? collect(m, "", 0, names, namebuf, nbsize, &used, out, 0, cap) : 0;
}

void cg_module_free(cg_module *m) {
  if (!m) return;
  for (int i = 0; i < m->nt; i++) cg_free(m->t[i]);
  for (int i = 0; i < m->nchildren; i++) cg_module_free(m->children[i]);
  free(m->children);
  free(m);
}
