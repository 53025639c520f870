/* Differential: random graphs run on CPU and on INTERP must agree — exactly for integer ops and
   float + - *, within a few ULP for transcendental functions, within a length-scaled tolerance for
   reductions. The same graph is built twice from the same seed, once per device. */
#include <stdlib.h>
#include <string.h>
#include "harness.h"

typedef struct { uint64_t s; } rng;
static uint32_t next(rng *r) {
  r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(r->s >> 33);
}

/* kinds of graphs */
enum { EXACT, TRANSCENDENTAL, REDUCING };

/* a window of the pool (at most 7*8 elements from offset < 64 of 128) */
static cg_tensor *leaf(rng *r, cg_shape s, const float *pool) {
  return cg_from_data(pool + next(r) % 64, CG_F32, s, NULL);
}

static cg_tensor *random_graph(rng *r, int kind, const float *pool) {
  cg_shape s = CG_SHAPE(3 + next(r) % 5, 2 + next(r) % 7);
  cg_tensor *x = leaf(r, s, pool);
  for (int step = 0; step < 8; step++) {
    cg_tensor *y = leaf(r, s, pool);
    switch (next(r) % (kind == EXACT ? 6 : kind == TRANSCENDENTAL ? 9 : 11)) {
    case 0: x = cg_add(x, y); break;
    case 1: x = cg_sub(x, y); break;
    case 2: x = cg_mul(x, y); break;
    case 3: x = cg_add(x, cg_flip(y, CG_AXES(0))); break;
    case 4: x = cg_mul(cg_transpose(cg_transpose(x, 0, 1), 0, 1), cg_maximum(x, y)); break;
    case 5: x = cg_where(cg_lt(x, y), x, cg_neg(y)); break;
    case 6: x = cg_exp(cg_mul_s(x, 0.1)); break;
    case 7: x = cg_sin(x); break;
    case 8: x = cg_sqrt(cg_abs(x)); break;
    case 9: x = cg_add(x, cg_sum(y, CG_AXES(1), 1)); break;
    default: x = cg_mul(x, cg_max(y, CG_AXES(0), 1)); break;
    }
  }
  return x;
}

static void compare(int kind, double tol) {
  static float pool[128];
  for (int i = 0; i < 128; i++) pool[i] = (float)((i * 37 % 101) - 50) / 16.0f;
  for (int g = 0; g < 12; g++) {
    float *out[2];
    int64_t n = 0;
    const char *devs[2] = {"CPU", "INTERP"};
    for (int d = 0; d < 2; d++) {
      cg_set_default_device(devs[d]);
      rng r = {1000 + g * 7 + kind};
      cg_tensor *x = random_graph(&r, kind, pool);
      n = cg_numel(x);
      out[d] = th_floats(x);
    }
    cg_set_default_device(getenv("DEV") ? getenv("DEV") : "CPU");
    for (int64_t i = 0; i < n; i++) {
      double a = out[0][i], b = out[1][i];
      int same = (a == b) || (isnan(a) && isnan(b)) || fabs(a - b) <= tol * fmax(fabs(b), 1e-30);
      if (!same) {
        th_fail(__FILE__, __LINE__, "graph %d kind %d element %lld: CPU %.9g INTERP %.9g", g, kind, (long long)i, a, b);
        break;
      }
    }
    free(out[0]);
    free(out[1]);
  }
}

static void test_differential_exact_ops_agree_exactly(void) { compare(EXACT, 0); }
static void test_differential_transcendentals_within_ulps(void) { compare(TRANSCENDENTAL, 4e-7 * 8); }
static void test_differential_reductions_within_tolerance(void) { compare(REDUCING, 1e-6 * 16); }

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"differential_exact_ops_agree_exactly", test_differential_exact_ops_agree_exactly},
    {"differential_transcendentals_within_ulps", test_differential_transcendentals_within_ulps},
    {"differential_reductions_within_tolerance", test_differential_reductions_within_tolerance},
    {NULL, NULL}};
  return th_run(tests, argc, argv);
}
