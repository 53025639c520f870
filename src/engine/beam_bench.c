/* BEAM's test bench: a kernel's parameters as scratch device buffers (never the real ones: a
   kernel may read its own output in place, and a candidate must not clobber live data), inputs
   filled with deterministic values, and each candidate's output compared with the default
   kernel's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/alu.h"
#include "../ir/dtype.h"
#include "../tensor/tensor.h"
#include "beam.h"

static uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* Floats in [-1, 1) (no overflow in exp or products; a log of a negative is NaN in every
   candidate alike), integers in [-8, 8] or [0, 16], bools 0/1. Division by zero is defined in
   generated code (0), so no value can trap. */
static cg_val scratch_value(int dt, uint64_t r) {
  cg_val v = {0};
  if (cg_dtype_is_float(dt)) v.f = (double)(r >> 11) * (2.0 / 9007199254740992.0) - 1.0;
  else if (dt == CG_BOOL) v.i = (int64_t)(r & 1);
  else v.i = (int64_t)(r % 17) - (cg_dtype_is_unsigned(dt) ? 0 : 8);
  return v;
}

static int fill_input(cg_beam_bench *b, int k, const cg_param *prm) {
  size_t size = (size_t)cg_dtype_size(prm->dtype);
  char *host = cg_xmalloc(b->nbytes[k]);
  for (int64_t e = 0; e < prm->numel; e++)
    cg_val_store(prm->dtype, host + (size_t)e * size, scratch_value(prm->dtype, splitmix((uint64_t)e * 64 + (uint64_t)k)));
  int rc = b->dv->copyin(b->ptr[k], host, b->nbytes[k]);
  free(host);
  return rc;
}

int cg_beam_bench_init(cg_beam_bench *b, int dev, const cg_program *p) {
  memset(b, 0, sizeof *b);
  b->dv = cg_device_get(dev);
  b->nparams = p->nparams;
  b->out_dtype = p->params[0].dtype;
  for (int k = 0; k < p->nvars; k++) b->vars[k] = ((cg_variable *)p->vars[k])->value;
  for (int k = 0; k < p->nparams; k++) {
    const cg_param *prm = &p->params[k];
    if (prm->local) continue; /* the kernel's own scratch, not an argument */
    b->nbytes[k] = (size_t)(prm->numel > 0 ? prm->numel : 1) * (size_t)cg_dtype_size(prm->dtype);
    if (!(b->ptr[k] = b->dv->alloc(b->nbytes[k])) || (k > 0 && fill_input(b, k, prm) != 0)) {
      cg_set_error("BEAM: out of memory for scratch buffers of kernel %s", p->name);
      cg_beam_bench_free(b);
      return -1;
    }
  }
  b->got = cg_xmalloc(b->nbytes[0]);
  return 0;
}

void cg_beam_bench_free(cg_beam_bench *b) {
  for (int k = 0; k < b->nparams; k++)
    if (b->ptr[k]) b->dv->free(b->ptr[k], b->nbytes[k]);
  free(b->want);
  free(b->got);
  memset(b, 0, sizeof *b);
}

double cg_beam_run(cg_beam_bench *b, void *handle, cg_program *p) {
  double t0 = cg_now();
  if (b->dv->launch(handle, p, b->ptr, b->vars) != 0) return -1;
  if (b->dv->sync && b->dv->sync() != 0) return -1;
  return cg_now() - t0;
}

enum { PROBE_PARTS = 16 };

double cg_beam_probe(cg_beam_bench *b, void *handle, cg_program *p) {
  if (!b->dv->launch_prefix || p->thread_ins < 0) return -1;
  int64_t size = p->thread_var >= 0 ? b->vars[p->thread_var] : p->thread_size;
  int64_t n = size / PROBE_PARTS, threads = cg_pool_threads();
  if (n < threads) n = threads; /* as wide as the real launch */
  if (n * 2 > size) return -1;  /* no cheaper than the run itself */
  double best = INFINITY;
  for (int r = 0; r < 2; r++) { /* the better of two: one sample on a shared machine misleads */
    double t0 = cg_now();
    if (b->dv->launch_prefix(handle, p, b->ptr, b->vars, n) != 0) return -1;
    if (b->dv->sync && b->dv->sync() != 0) return -1;
    double t = cg_now() - t0;
    if (t < best) best = t;
  }
  return best * (double)size / (double)n;
}

/* Relative tolerance by output dtype: candidates sum in other orders (UNROLL lanes), so floats
   agree to a few thousand ulps of the output's scale, not bit for bit. A wrong index or lane
   gives errors of the order of the values themselves. */
static double tolerance(int dt) {
  return dt == CG_F64 ? 1e-9 : dt == CG_F32 ? 1e-4 : 2e-2;
}

static double largest(int dt, const char *data, int64_t n) {
  double m = 0;
  for (int64_t e = 0; e < n; e++) {
    double v = fabs(cg_val_load(dt, data + e * cg_dtype_size(dt)).f);
    if (isfinite(v) && v > m) m = v;
  }
  return m;
}

/* worst |got - want| in units of the tolerance's bound (> 1: disagrees); integers exactly */
static double worst_error(const cg_beam_bench *b) {
  int dt = b->out_dtype, size = cg_dtype_size(dt);
  int64_t n = (int64_t)(b->nbytes[0] / (size_t)size);
  if (!cg_dtype_is_float(dt)) return memcmp(b->got, b->want, b->nbytes[0]) ? INFINITY : 0;
  double worst = 0, tol = tolerance(dt);
  for (int64_t e = 0; e < n; e++) {
    double g = cg_val_load(dt, b->got + e * size).f, w = cg_val_load(dt, b->want + e * size).f;
    if (isnan(g) && isnan(w)) continue;
    if (isnan(g) || isnan(w)) return INFINITY;
    if (g == w) continue; /* infinities too */
    double err = fabs(g - w) / (tol * (fabs(w) + b->scale) + 1e-300);
    if (err > worst) worst = err;
  }
  return worst;
}

double cg_beam_run_checked(cg_beam_bench *b, void *handle, cg_program *p, double *err) {
  *err = 0;
  memset(b->got, 0, b->nbytes[0]);
  if (b->dv->copyin(b->ptr[0], b->got, b->nbytes[0]) != 0) return -1;
  double t = cg_beam_run(b, handle, p);
  if (t < 0 || b->dv->copyout(b->got, b->ptr[0], b->nbytes[0]) != 0) return -1;
  if (!b->want) { /* the default kernel: the reference */
    b->want = cg_xmalloc(b->nbytes[0]);
    memcpy(b->want, b->got, b->nbytes[0]);
    if (cg_dtype_is_float(b->out_dtype))
      b->scale = largest(b->out_dtype, b->want, (int64_t)(b->nbytes[0] / (size_t)cg_dtype_size(b->out_dtype)));
    return t;
  }
  *err = worst_error(b);
  return *err > 1 ? -2 : t;
}
