/* Random numbers: Threefry-2x32 (20 rounds) over element counters, written with cgrad's own
   integer ops, so every backend produces the same stream for the same seed. */
#include <math.h>
#include "../runtime/device.h"
#include "tensor.h"

/* The stream position: seed plus how many random tensors were made since. This and the device
   table are the front end's only process-wide state (as tinygrad's Tensor._seed). */
static uint64_t rng_seed, rng_calls;

void cg_manual_seed(uint64_t seed) {
  rng_seed = seed;
  rng_calls = 0;
}

uint64_t rng_next_key(void) { return rng_seed * 0x9e3779b97f4a7c15ULL + rng_calls++; }

void cg_rng_get_state(uint64_t *seed, uint64_t *counter) {
  if (seed) *seed = rng_seed;
  if (counter) *counter = rng_calls;
}

void cg_rng_set_state(uint64_t seed, uint64_t counter) {
  rng_seed = seed;
  rng_calls = counter;
}

static cg_tensor *u32(cg_tensor *like, uint32_t v) { return tconst_like(like, v, CG_U32); }

static cg_tensor *rotl(cg_tensor *x, int r) {
  return cg_or(cg_shl(x, u32(x, (uint32_t)r)), cg_shr(x, u32(x, (uint32_t)(32 - r))));
}

/* threefry2x32(key, (x0, x1)) -> both output words */
static void threefry(cg_tensor **x0, cg_tensor **x1, uint32_t k0, uint32_t k1) {
  static const int rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
  uint32_t ks[3] = {k0, k1, 0x1BD11BDAu ^ k0 ^ k1};
  *x0 = cg_add(*x0, u32(*x0, ks[0]));
  *x1 = cg_add(*x1, u32(*x1, ks[1]));
  for (int group = 0; group < 5; group++) {
    for (int r = 0; r < 4; r++) {
      *x0 = cg_add(*x0, *x1);
      *x1 = cg_xor(rotl(*x1, rot[(group % 2) * 4 + r]), *x0);
    }
    *x0 = cg_add(*x0, u32(*x0, ks[(group + 1) % 3]));
    *x1 = cg_add(*x1, u32(*x1, ks[(group + 2) % 3] + (uint32_t)group + 1));
  }
}

/* Two independent uniform [0,1) float32 streams of `n` elements. */
static void uniform_pair(int64_t n, cg_tensor **u0, cg_tensor **u1) {
  uint64_t key = rng_next_key();
  cg_tensor *ctr = cg_cast(cg_arange(0, (double)n, 1, n > INT32_MAX ? CG_I64 : CG_I32), CG_U32);
  cg_tensor *x0 = ctr, *x1 = ctr ? u32(ctr, (uint32_t)((uint64_t)n >> 32)) : NULL;
  if (!x0 || !x1) { *u0 = *u1 = NULL; return; }
  threefry(&x0, &x1, (uint32_t)key, (uint32_t)(key >> 32));
  /* top 24 bits -> exactly representable float32 in [0, 1) */
  cg_tensor *scale = tconst_like(ctr, 1.0 / 16777216.0, CG_F32);
  *u0 = cg_mul(cg_cast(cg_shr(x0, u32(x0, 8)), CG_F32), scale);
  *u1 = cg_mul(cg_cast(cg_shr(x1, u32(x1, 8)), CG_F32), scale);
}

static int check_float(cg_dtype dt, const char *who) {
  if (cg_dtype_is_float(dt)) return 1;
  cg_set_error("%s: dtype must be a float type, got %s", who, cg_dtype_name(dt));
  return 0;
}

static int check_shape(cg_shape shape, const char *who) {
  if (!shape_check(shape, who)) return 0;
  if (!shape_has_var(shape)) return 1;
  cg_set_error("%s: random tensors need a concrete shape (no variables)", who);
  return 0;
}

static cg_tensor *rand_impl(cg_shape shape, cg_dtype dt) {
  if (!check_float(dt, "cg_rand") || !check_shape(shape, "cg_rand")) return NULL;
  cg_tensor *u0, *u1;
  int64_t n = shape_numel(shape);
  uniform_pair(n, &u0, &u1);
  return cg_cast(cg_reshape(u0, shape), dt);
}
cg_tensor *cg_rand(cg_shape shape, cg_dtype dt) { SCOPED(rand_impl(shape, dt)); }

/* Box-Muller on the two streams */
static cg_tensor *randn_impl(cg_shape shape, cg_dtype dt) {
  if (!check_float(dt, "cg_randn") || !check_shape(shape, "cg_randn")) return NULL;
  cg_tensor *u0, *u1;
  uniform_pair(shape_numel(shape), &u0, &u1);
  CG_CHECK(u0, u1);
  cg_tensor *r = cg_sqrt(cg_mul_s(cg_log(cg_sub(cg_full_like(u0, 1), u0)), -2));
  cg_tensor *z = cg_mul(r, cg_cos(cg_mul_s(u1, 2 * M_PI)));
  return cg_cast(cg_reshape(z, shape), dt);
}
cg_tensor *cg_randn(cg_shape shape, cg_dtype dt) { SCOPED(randn_impl(shape, dt)); }

/* ---- distributions and initializers (tinygrad's names and formulas) ---- */
static int64_t fan_in(cg_shape s) {
  int64_t n = 1;
  for (int i = 1; i < s.ndim; i++) n *= s.d[i];
  return n;
}

static cg_tensor *uniform_impl(cg_shape shape, double lo, double hi, cg_dtype dt) {
  return cg_cast(cg_add_s(cg_mul_s(cg_rand(shape, CG_F32), hi - lo), lo), dt);
}
cg_tensor *cg_uniform(cg_shape shape, double lo, double hi, cg_dtype dt) { SCOPED(uniform_impl(shape, lo, hi, dt)); }

static cg_tensor *normal_impl(cg_shape shape, double mean, double std, cg_dtype dt) {
  return cg_cast(cg_add_s(cg_mul_s(cg_randn(shape, CG_F32), std), mean), dt);
}
cg_tensor *cg_normal(cg_shape shape, double mean, double std, cg_dtype dt) { SCOPED(normal_impl(shape, mean, std, dt)); }

static cg_tensor *randint_impl(cg_shape shape, int64_t lo, int64_t hi, cg_dtype dt) {
  if (hi <= lo || !cg_dtype_is_int(dt)) {
    cg_set_error("randint: need low < high and an integer dtype");
    return NULL;
  }
  cg_tensor *u = cg_cast(cg_rand(shape, CG_F32), CG_F64);
  return cg_cast(cg_add_s(cg_cast(cg_mul_s(u, (double)(hi - lo)), CG_I64), (double)lo), dt);
}
cg_tensor *cg_randint(cg_shape shape, int64_t lo, int64_t hi, cg_dtype dt) { SCOPED(randint_impl(shape, lo, hi, dt)); }

static cg_tensor *scaled_uniform_impl(cg_shape shape, cg_dtype dt) {
  return cg_mul_s(cg_uniform(shape, -1, 1, dt), pow((double)shape_numel(shape), -0.5));
}
cg_tensor *cg_scaled_uniform(cg_shape shape, cg_dtype dt) { SCOPED(scaled_uniform_impl(shape, dt)); }

static cg_tensor *glorot_uniform_impl(cg_shape shape, cg_dtype dt) {
  double fan = (double)(shape.ndim ? shape.d[0] : 1) + (double)fan_in(shape);
  return cg_mul_s(cg_uniform(shape, -1, 1, dt), sqrt(6.0 / fan));
}
cg_tensor *cg_glorot_uniform(cg_shape shape, cg_dtype dt) { SCOPED(glorot_uniform_impl(shape, dt)); }

static cg_tensor *kaiming_uniform_impl(cg_shape shape, double a, cg_dtype dt) {
  double bound = sqrt(3.0) * sqrt(2.0 / (1 + a * a)) / sqrt((double)fan_in(shape));
  return cg_uniform(shape, -bound, bound, dt);
}
cg_tensor *cg_kaiming_uniform(cg_shape shape, double a, cg_dtype dt) { SCOPED(kaiming_uniform_impl(shape, a, dt)); }

static cg_tensor *kaiming_normal_impl(cg_shape shape, double a, cg_dtype dt) {
  double std = sqrt(2.0 / (1 + a * a)) / sqrt((double)fan_in(shape));
  return cg_normal(shape, 0, std, dt);
}
cg_tensor *cg_kaiming_normal(cg_shape shape, double a, cg_dtype dt) { SCOPED(kaiming_normal_impl(shape, a, dt)); }

static cg_tensor *rand_like_impl(cg_tensor *t) {
  CG_CHECK(t);
  return cg_rand(t->u->shape, cg_dtype_is_float(t->u->dtype) ? (cg_dtype)t->u->dtype : CG_F32);
}
cg_tensor *cg_rand_like(cg_tensor *t) { SCOPED(rand_like_impl(t)); }
static cg_tensor *randn_like_impl(cg_tensor *t) {
  CG_CHECK(t);
  return cg_randn(t->u->shape, cg_dtype_is_float(t->u->dtype) ? (cg_dtype)t->u->dtype : CG_F32);
}
cg_tensor *cg_randn_like(cg_tensor *t) { SCOPED(randn_like_impl(t)); }
