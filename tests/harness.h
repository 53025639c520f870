/* A tiny test harness: TEST(name) functions registered in a table, CHECK macros that report the
   failing expression and keep going. Each test binary runs once per device (DEV=CPU, DEV=INTERP). */
#ifndef CG_TEST_HARNESS_H
#define CG_TEST_HARNESS_H
#include <math.h>
#include <stdio.h>
#include "cgrad.h"

extern int th_failures;
void th_fail(const char *file, int line, const char *fmt, ...);

#define CHECK(cond)                                                                              \
  do {                                                                                           \
    if (!(cond)) th_fail(__FILE__, __LINE__, "CHECK(%s) failed (last error: %s)", #cond,         \
                         cg_last_error());                                                       \
  } while (0)
#define CHECK_EQ_INT(a, b)                                                                       \
  do {                                                                                           \
    long long a_ = (long long)(a), b_ = (long long)(b);                                          \
    if (a_ != b_) th_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, b_);\
  } while (0)
#define CHECK_CLOSE(a, b, tol)                                                                   \
  do {                                                                                           \
    double a_ = (a), b_ = (b);                                                                   \
    if (!(fabs(a_ - b_) <= (tol) * (1 + fabs(b_))))                                              \
      th_fail(__FILE__, __LINE__, "%s == %.9g, expected %.9g (tol %g)", #a, a_, b_, (double)(tol));\
  } while (0)

/* The heuristics' opts ("TILE 4x16, PANEL 16, ...") of the kernel that computes t, the last of
   its schedule, into out ("?" if it cannot be lowered). */
void th_opts_of(cg_tensor *t, char *out, size_t n);
/* The C source rendered for the kernel that computes t, the last of its schedule (malloc'ed;
   NULL if it cannot be built). */
char *th_c_source_of(cg_tensor *t);
/* The same with the first copy that cg_fuse_prologue takes in (one of its inputs' writers, run
   inside it), NULL if none fits; realize's schedule-level checks (fusable_pair) are not asked. */
char *th_fused_c_source_of(cg_tensor *t);

typedef struct { const char *name; void (*fn)(void); } th_test;
/* Run every test in `tests` (NULL-terminated) inside its own scope; returns the exit code. */
int th_run(const th_test *tests, int argc, char **argv);
/* Copy a float32 tensor's data out (realizing it); returns a static-free malloc'd array. */
float *th_floats(cg_tensor *t);
/* Resident memory of this process in KiB (0 if /proc is unreadable). */
long th_rss_kb(void);
/* Max |a-b| between a float32 tensor and expected values. */
double th_max_diff(cg_tensor *t, const float *expect, int n);
/* n deterministic values in [-1, 1) for seed (malloc'ed). */
float *th_values(int64_t n, int seed);
/* the worse of a running worst error and e, a NaN counting as infinitely bad (fmax would drop it) */
static inline double th_worst(double worst, double e) { return isnan(e) ? INFINITY : e > worst ? e : worst; }
/* Worst error of got, a 3x3 convolution (padding 1, stride 1) of x (N, CI, H, W) by w (CO, CI,
   3, 3), against a double host loop, relative to each output's sum of |terms|. */
double th_conv3x3_error(const float *got, const float *x, const float *w, int N, int CI, int CO, int H, int W);
#endif
