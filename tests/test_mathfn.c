/* cg_exp2f / cg_log2f (src/ir/mathfn.h): the float32 exp2 and log2 of generated C kernels and the
   interpreter. Accuracy against libm's double exp2/log2 over a sweep of float bit patterns (every
   61st of all 2^32: about 70 million inputs, every binade), special values exactly, and the
   device kernels (CPU or INTERP) bit-identical to the C function. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "harness.h"

#define CG_MATHFN(...) __VA_ARGS__
#include "ir/mathfn.h"

#define MAX_ULP 2.0
#define SWEEP_STRIDE 61u

static float from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* |y - ref| in units of the float ulp at ref (subnormal ulp below 2^-126); inf ref: exact */
static double ulp_error(float y, double ref) {
  if (isinf((float)ref)) return isinf(y) && (y > 0) == (ref > 0) ? 0 : INFINITY;
  int e;
  frexp(ref, &e);
  double ulp = ref == 0 ? 0x1p-149 : fmax(ldexp(1.0, e - 24), 0x1p-149);
  return fabs((double)y - ref) / ulp;
}

typedef struct { const char *name; float (*fn)(float); double (*ref)(double); float lo, hi; } mathfn;
static const mathfn fns[] = {
  {"exp2", cg_exp2f, exp2, -160.0f, 140.0f}, /* beyond: 0 or inf, checked as special values */
  {"log2", cg_log2f, log2, 0.0f, INFINITY},  /* every positive float, subnormals included */
};

static void sweep(const mathfn *m) {
  double worst = 0;
  float worst_x = 0;
  long n = 0;
  for (uint64_t b = 0; b < (1ULL << 32); b += SWEEP_STRIDE) {
    float x = from_bits((uint32_t)b);
    if (!(x > m->lo && x < m->hi)) continue;
    double err = ulp_error(m->fn(x), m->ref(x));
    n++;
    if (err > worst) { worst = err; worst_x = x; }
  }
  printf("  %s: %ld inputs, max error %.3f ulp (at %a)\n", m->name, n, worst, worst_x);
  CHECK(worst <= MAX_ULP);
}

static void test_exp2_accuracy(void) { sweep(&fns[0]); }
static void test_log2_accuracy(void) { sweep(&fns[1]); }

/* the same result as libm, to the bit (NaN: any NaN) */
static int same_as_libm(float y, double ref) {
  if (isnan(ref)) return isnan(y);
  return bits_of(y) == bits_of((float)ref);
}

static void test_special_values(void) {
  const float xs[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1.0f, 2.0f, 0.5f, 128.0f,
                      -149.0f, -150.0f, -151.0f, -126.0f, 127.0f, -1.0f, 1e30f, -1e30f,
                      0x1p-149f, 0x1p-126f, 0x1.fffffep127f, 1024.0f, 0x1p23f, -0x1p23f};
  for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
    float x = xs[i];
    float e = cg_exp2f(x), l = cg_log2f(x);
    if (!same_as_libm(e, exp2(x))) th_fail(__FILE__, __LINE__, "exp2(%a) = %a, libm %a", x, e, exp2(x));
    if (!same_as_libm(l, log2(x))) th_fail(__FILE__, __LINE__, "log2(%a) = %a, libm %a", x, l, log2(x));
  }
  /* around the overflow and underflow edges: never a wrong infinity or a lost zero */
  CHECK(isinf(cg_exp2f(128.0f)) && cg_exp2f(0x1.fffffep6f) < INFINITY);
  CHECK(cg_exp2f(-149.0f) == 0x1p-149f && cg_exp2f(-151.0f) == 0.0f);
}

/* a kernel on the test's device computes exactly what the C function computes (the C dialect's
   devices: a GPU's exp2 is its own, checked against NumPy/PyTorch by the op suites) */
static void test_device_matches_function(void) {
  enum { N = 4096 };
  const char *dev = cg_default_device();
  if (strcmp(dev, "CPU") && strcmp(dev, "INTERP")) {
    printf("skip device_matches_function on %s: its kernels use the device's own exp2/log2\n", dev);
    return;
  }
  static float xs[N], out[N];
  for (int i = 0; i < N; i++) xs[i] = from_bits((uint32_t)i * 1048573u); /* spread over all bits */
  xs[0] = NAN;
  xs[1] = -INFINITY;
  for (int f = 0; f < 2; f++) {
    cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(N), NULL);
    cg_tensor *y = f == 0 ? cg_exp2(x) : cg_log2(x);
    CHECK(cg_to_data(y, out, sizeof out) == 0);
    int mismatches = 0;
    for (int i = 0; i < N; i++) {
      float want = f == 0 ? cg_exp2f(xs[i]) : cg_log2f(xs[i]);
      mismatches += isnan(want) ? !isnan(out[i]) : bits_of(out[i]) != bits_of(want);
    }
    CHECK_EQ_INT(mismatches, 0);
  }
}

int main(int argc, char **argv) {
  static const th_test tests[] = {
    {"exp2_accuracy", test_exp2_accuracy},
    {"log2_accuracy", test_log2_accuracy},
    {"special_values", test_special_values},
    {"device_matches_function", test_device_matches_function},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
