/* bench_core: times cgrad's core kernels and the machine's memcpy bandwidth in one process.
 *
 *   bench_core          run every benchmark (matmul, elementwise, softmax, sum, memcpy)
 *   bench_core kernels  the cgrad kernels only (no memcpy), then a "beam" record: the BEAM
 *                       searches, candidate runs and cache hits of the run (BEAM=n passes)
 *   bench_core first    the same kernels realized once each: first-realize latency (with BEAM
 *                       on and the choices cached by a previous run, it must time nothing)
 *   bench_core compile  realize a small mixed graph twice: first-run latency vs warm
 *
 * Prints one raw JSON record per line on stdout: {"name", "value", "unit", ...extra fields}.
 * bench/bench_core.py adds the references (NumPy, memcpy) and the ratios; this program only
 * measures, so it can also be run by hand. THREADS and CACHEDIR are read by cgrad as usual.
 *
 * Timing: every repetition builds the lazy expression again from already realized inputs and
 * realizes it, as a user's loop would. The reported value uses kernel time (cg_stats.time_s):
 * it leaves out graph building, scheduling and compiling, which the compile benchmark covers.
 * The best repetition is kept, the usual choice for throughput on a noisy shared machine. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cgrad.h"

#define ELEMS (INT64_C(1) << 24) /* 16M floats = 64 MiB: well past the 32 MiB L3 */
#define CASE_BUDGET_S 3.0        /* stop repeating a case after this much wall time */
#define MATMUL_MAX_S 80.0        /* skip matmul 2048 past this per run: the bench stays < 2 min */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- deterministic inputs: a value is a pure function of (index, seed), so checks can
        recompute any input element without keeping a host copy of the data ------------------ */
static uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* uniform in [lo, lo + 1) with 24 random bits, exactly representable as float */
static float gen(int64_t i, uint64_t seed, float lo) {
  return lo + (float)(splitmix((uint64_t)i * 0x100000001B3ull + seed) >> 40) * (1.0f / 16777216.0f);
}

/* a realized float32 tensor (outside any scope) filled by gen() */
static cg_tensor *make_input(cg_shape shape, uint64_t seed, float lo) {
  int64_t n = 1;
  for (int d = 0; d < shape.ndim; d++) n *= shape.d[d];
  float *host = malloc((size_t)n * sizeof *host);
  if (!host) return NULL;
  for (int64_t i = 0; i < n; i++) host[i] = gen(i, seed, lo);
  cg_tensor *t = cg_from_data(host, CG_F32, shape, NULL);
  free(host);
  return t;
}

/* ---- JSON output --------------------------------------------------------------------------- */
static void emit(const char *name, double value, const char *unit, const char *extra) {
  char num[32] = "null"; /* JSON has no inf or nan */
  if (isfinite(value)) snprintf(num, sizeof num, "%.6g", value);
  printf("{\"name\": \"%s\", \"value\": %s, \"unit\": \"%s\"%s%s}\n", name, num, unit,
         extra && *extra ? ", " : "", extra ? extra : "");
  fflush(stdout); /* the driver may be reading line by line */
}

/* copy s into dst (size n) as the inside of a JSON string */
static const char *json_escape(char *dst, size_t n, const char *s) {
  size_t k = 0;
  for (; s && *s && k + 3 < n; s++) {
    if (*s == '"' || *s == '\\') dst[k++] = '\\';
    dst[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
  }
  dst[k] = 0;
  return dst;
}

static void emit_error(const char *name, const char *what) {
  char msg[1024];
  printf("{\"name\": \"%s\", \"error\": \"%s\"}\n", name, json_escape(msg, sizeof msg, what));
  fflush(stdout);
}

/* ---- memcpy reference ------------------------------------------------------------------------ */
/* Copies run on persistent threads released by a barrier, so thread start-up is not timed:
   the reference is what the memory system can move, the ceiling a streaming kernel aims at. */
typedef struct {
  pthread_barrier_t start, stop;
  char *src, *dst;
  size_t bytes;
  int nthreads, quit;
} copy_team;

typedef struct { copy_team *team; int id; } copy_arg;

static void copy_slice(copy_team *t, int id) {
  size_t lo = t->bytes * (size_t)id / (size_t)t->nthreads;
  size_t hi = t->bytes * (size_t)(id + 1) / (size_t)t->nthreads;
  memcpy(t->dst + lo, t->src + lo, hi - lo);
}

static void *copy_worker(void *varg) {
  copy_arg *a = varg;
  for (;;) {
    pthread_barrier_wait(&a->team->start);
    if (a->team->quit) return NULL;
    copy_slice(a->team, a->id);
    pthread_barrier_wait(&a->team->stop);
  }
}

/* best GB/s of `reps` copies of `bytes` over `nthreads` threads, counting read + write */
static double memcpy_gbs(char *src, char *dst, size_t bytes, int nthreads, int reps) {
  copy_team team = {.src = src, .dst = dst, .bytes = bytes, .nthreads = nthreads};
  pthread_barrier_init(&team.start, NULL, (unsigned)nthreads);
  pthread_barrier_init(&team.stop, NULL, (unsigned)nthreads);
  pthread_t tid[64];
  copy_arg args[64];
  for (int i = 1; i < nthreads; i++) {
    args[i] = (copy_arg){&team, i};
    if (pthread_create(&tid[i], NULL, copy_worker, &args[i]) != 0) {
      /* the barriers count on every thread: without one the reference cannot be measured */
      fprintf(stderr, "bench_core: cannot start memcpy thread %d\n", i);
      exit(1);
    }
  }
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    pthread_barrier_wait(&team.start);
    copy_slice(&team, 0);
    pthread_barrier_wait(&team.stop);
    double dt = now_s() - t0;
    if (dt < best) best = dt;
  }
  team.quit = 1;
  pthread_barrier_wait(&team.start);
  for (int i = 1; i < nthreads; i++) pthread_join(tid[i], NULL);
  pthread_barrier_destroy(&team.start);
  pthread_barrier_destroy(&team.stop);
  return 2.0 * (double)bytes / best * 1e-9;
}

static void bench_memcpy(int threads) {
  size_t bytes = (size_t)ELEMS * sizeof(float);
  char *src = aligned_alloc(64, bytes), *dst = aligned_alloc(64, bytes);
  if (!src || !dst) {
    emit_error("memcpy", "out of memory");
    free(src);
    free(dst);
    return;
  }
  /* touch both first: page faults are not memory bandwidth */
  memset(src, 1, bytes);
  memset(dst, 2, bytes);
  char extra[64];
  snprintf(extra, sizeof extra, "\"threads\": 1, \"bytes\": %zu", bytes);
  emit("memcpy_64MiB_1thread", memcpy_gbs(src, dst, bytes, 1, 10), "GB/s", extra);
  if (threads > 64) threads = 64;
  snprintf(extra, sizeof extra, "\"threads\": %d, \"bytes\": %zu", threads, bytes);
  emit("memcpy_64MiB", memcpy_gbs(src, dst, bytes, threads, 10), "GB/s", extra);
  free(src);
  free(dst);
}

/* ---- the timing loop ------------------------------------------------------------------------- */
static int reps_cap = 1 << 30; /* `first`: one repetition per case */

typedef struct bench_case bench_case;
struct bench_case {
  const char *name, *unit;
  double work;          /* bytes moved or FLOPs done by one repetition */
  int max_reps;
  cg_tensor *in[3];     /* realized inputs, owned by the case */
  cg_tensor *(*build)(bench_case *c);           /* the lazy expression, in the current scope */
  int (*check)(bench_case *c, cg_tensor *out);  /* 0 if out holds the right values */
  int64_t n;            /* size parameter the build and check use */
};

typedef struct { double kernel_s, wall_s, first_wall_s; int reps, kernels; } case_result;

/* one repetition: build, realize, and take the kernel time from the stats delta */
static int run_rep(bench_case *c, cg_tensor **out, double *kernel_s, double *wall_s, int *kernels) {
  cg_stats s0 = cg_get_stats();
  double t0 = now_s();
  cg_tensor *t = c->build(c);
  if (!t || cg_realize(t) != 0) return -1;
  *wall_s = now_s() - t0;
  cg_stats s1 = cg_get_stats();
  *kernel_s = s1.time_s - s0.time_s;
  *kernels = (int)(s1.kernels_run - s0.kernels_run);
  *out = t;
  return 0;
}

/* repeat until max_reps or the wall budget after the first repetition is spent (always once), then
   check the last result */
static int run_case(bench_case *c, case_result *r) {
  *r = (case_result){1e30, 1e30, 0, 0, 0};
  double start = now_s();
  int rc = 0, done = 0;
  cg_scope_push();
  while (!done) {
    cg_scope_pop(); /* free the previous result before the next one is allocated */
    cg_scope_push();
    double ks, ws;
    cg_tensor *out;
    if ((rc = run_rep(c, &out, &ks, &ws, &r->kernels)) != 0) break;
    if (r->reps == 0) { /* the budget starts after the first realize (compiles, BEAM search) */
      r->first_wall_s = ws;
      start = now_s();
    }
    if (ks < r->kernel_s) r->kernel_s = ks;
    if (ws < r->wall_s) r->wall_s = ws;
    done = ++r->reps >= c->max_reps || r->reps >= reps_cap || now_s() - start >= CASE_BUDGET_S;
    if (done) rc = c->check(c, out);
  }
  cg_scope_pop();
  return rc;
}

static const char *error_text(const char *fallback) {
  const char *e = cg_last_error();
  return e && *e ? e : fallback;
}

/* measure and print one case; returns its throughput (0 on failure) */
static double report_case(bench_case *c) {
  case_result r;
  if (run_case(c, &r) != 0) {
    emit_error(c->name, error_text("wrong result (check against a host recomputation failed)"));
    cg_clear_error();
    return 0;
  }
  int per_s = !strcmp(c->unit, "GFLOPS") || !strcmp(c->unit, "GB/s");
  char extra[256];
  snprintf(extra, sizeof extra,
           "\"kernel_ms\": %.4g, \"realize_ms\": %.4g, \"first_realize_ms\": %.4g, "
           "\"reps\": %d, \"kernels\": %d, \"wall_value\": %.6g",
           r.kernel_s * 1e3, r.wall_s * 1e3, r.first_wall_s * 1e3, r.reps, r.kernels,
           c->work / r.wall_s * 1e-9);
  double value = per_s ? c->work / r.kernel_s * 1e-9 : r.kernel_s * 1e3;
  emit(c->name, value, c->unit, extra);
  return value;
}

static void free_case(bench_case *c) {
  for (int i = 0; i < 3; i++) cg_free(c->in[i]);
}

/* ---- checks: a few recomputed elements, enough to catch a wrong kernel, cheap at 16M -------- */
static int close_to(double got, double want, double tol) {
  return fabs(got - want) <= tol * (1.0 + fabs(want)) && !isnan(got);
}

/* copy out and compare sampled elements against ref(i) */
static int check_sampled(cg_tensor *out, int64_t n, double (*ref)(bench_case *, int64_t),
                         bench_case *c, double tol) {
  float *host = malloc((size_t)n * sizeof *host);
  int bad = !host || cg_to_data(out, host, (size_t)n * sizeof *host) != 0;
  for (int64_t k = 0; k < 1000 && !bad; k++) {
    int64_t i = (int64_t)(splitmix((uint64_t)k) % (uint64_t)n);
    bad = !close_to(host[i], ref(c, i), tol);
  }
  free(host);
  return bad ? -1 : 0;
}

/* ---- matmul ---------------------------------------------------------------------------------- */
static cg_tensor *build_matmul(bench_case *c) { return cg_matmul(c->in[0], c->in[1]); }

static double ref_matmul(bench_case *c, int64_t idx) {
  int64_t n = c->n, i = idx / n, j = idx % n;
  double acc = 0;
  for (int64_t k = 0; k < n; k++) acc += (double)gen(i * n + k, 1, -0.5f) * gen(k * n + j, 2, -0.5f);
  return acc;
}

static int check_matmul(bench_case *c, cg_tensor *out) {
  return check_sampled(out, c->n * c->n, ref_matmul, c, 1e-3);
}

/* returns the GFLOPS reached (0 on failure), so the caller can skip sizes that would run too long */
static double bench_matmul(int64_t n, int max_reps) {
  char name[64];
  snprintf(name, sizeof name, "matmul_fp32_%lld", (long long)n);
  bench_case c = {.name = name, .unit = "GFLOPS", .work = 2.0 * (double)n * n * n,
                  .max_reps = max_reps, .build = build_matmul, .check = check_matmul, .n = n};
  c.in[0] = make_input(CG_SHAPE(n, n), 1, -0.5f);
  c.in[1] = make_input(CG_SHAPE(n, n), 2, -0.5f);
  double gflops = 0;
  if (!c.in[0] || !c.in[1]) emit_error(name, error_text("could not build inputs"));
  else gflops = report_case(&c);
  free_case(&c);
  return gflops;
}

static void emit_skip(const char *name, const char *why) {
  printf("{\"name\": \"%s\", \"skipped\": \"%s\"}\n", name, why);
  fflush(stdout);
}

/* 512 and 1024 always run; 2048 and 4096 only if one repetition is predicted to fit
   MATMUL_MAX_S. The prediction extrapolates the last slowdown too: a cache-unfriendly matmul
   loses speed as it grows, so the smaller size's speed alone underestimates the time. */
static int fits_budget(int64_t n, double g_small, double g_smaller) {
  double slowdown = g_smaller > g_small && g_small > 0 ? g_smaller / g_small : 1.0;
  double predicted_s = g_small > 0 ? 2.0 * (double)n * n * n / (g_small / slowdown * 1e9) : 1e30;
  if (predicted_s <= MATMUL_MAX_S) return 1;
  char name[32], why[160];
  snprintf(name, sizeof name, "matmul_fp32_%lld", (long long)n);
  snprintf(why, sizeof why, "one run would take about %.0f s, extrapolated from the smaller sizes "
           "(limit %.0f s)", predicted_s, MATMUL_MAX_S);
  emit_skip(name, why);
  return 0;
}

/* Repetitions: the chances NumPy gets. bench_core.py times NumPy up to 10 runs or 1.5 s, before
   and after cgrad's runs, and keeps the best: up to 20 runs in 3 s. Each matmul here runs up to
   20 times within CASE_BUDGET_S (3 s; about 4 runs of a 4096 matmul, as NumPy's), so load from
   other processes on a shared machine gives both sides the same chances. */
enum { MATMUL_REPS = 20 };

static void bench_matmuls(void) {
  double g512 = bench_matmul(512, MATMUL_REPS);
  double g1024 = bench_matmul(1024, MATMUL_REPS);
  if (!fits_budget(2048, g1024, g512)) return;
  double g2048 = bench_matmul(2048, MATMUL_REPS);
  if (fits_budget(4096, g2048, g1024)) bench_matmul(4096, MATMUL_REPS);
}

/* ---- elementwise a*b+c ----------------------------------------------------------------------- */
static cg_tensor *build_muladd(bench_case *c) { return cg_add(cg_mul(c->in[0], c->in[1]), c->in[2]); }

static double ref_muladd(bench_case *c, int64_t i) {
  (void)c;
  return (double)(gen(i, 3, -1.f) * gen(i, 4, -1.f)) + gen(i, 5, -1.f);
}

static int check_muladd(bench_case *c, cg_tensor *out) { return check_sampled(out, c->n, ref_muladd, c, 1e-5); }

static void bench_muladd(void) {
  /* 3 arrays read + 1 written, as memcpy's 1 read + 1 written is counted */
  bench_case c = {.name = "elementwise_mul_add_16M", .unit = "GB/s", .work = 4.0 * ELEMS * 4,
                  .max_reps = 20, .build = build_muladd, .check = check_muladd, .n = ELEMS};
  for (int k = 0; k < 3; k++) c.in[k] = make_input(CG_SHAPE(ELEMS), 3 + (uint64_t)k, -1.f);
  if (!c.in[0] || !c.in[1] || !c.in[2]) emit_error(c.name, error_text("could not build inputs"));
  else report_case(&c);
  free_case(&c);
}

/* ---- softmax over the last axis of 4096x4096 ------------------------------------------------- */
static cg_tensor *build_softmax(bench_case *c) { return cg_softmax(c->in[0], -1); }

static double ref_softmax(bench_case *c, int64_t idx) {
  int64_t n = c->n, row = idx / n;
  double mx = -1e30, sum = 0;
  for (int64_t j = 0; j < n; j++) mx = fmax(mx, gen(row * n + j, 6, -4.f));
  for (int64_t j = 0; j < n; j++) sum += exp(gen(row * n + j, 6, -4.f) - mx);
  return exp(gen(idx, 6, -4.f) - mx) / sum;
}

static int check_softmax(bench_case *c, cg_tensor *out) {
  return check_sampled(out, c->n * c->n, ref_softmax, c, 1e-4);
}

static void bench_softmax(void) {
  const int64_t n = 4096;
  /* 1 read + 1 write of 64 MiB: the minimum traffic, as tinygrad and PyTorch count it */
  bench_case c = {.name = "softmax_4096x4096", .unit = "GB/s", .work = 2.0 * n * n * 4,
                  .max_reps = 10, .build = build_softmax, .check = check_softmax, .n = n};
  c.in[0] = make_input(CG_SHAPE(n, n), 6, -4.f);
  if (!c.in[0]) emit_error(c.name, error_text("could not build inputs"));
  else report_case(&c);
  free_case(&c);
}

/* ---- layernorm over the last axis of 4096x4096 (no affine) ----------------------------------- */
static cg_tensor *build_layernorm(bench_case *c) { return cg_layernorm(c->in[0], -1, 1e-5); }

static double ref_layernorm(bench_case *c, int64_t idx) {
  int64_t n = c->n, row = idx / n;
  double mean = 0, var = 0;
  for (int64_t j = 0; j < n; j++) mean += gen(row * n + j, 8, -4.f);
  mean /= (double)n;
  for (int64_t j = 0; j < n; j++) var += (gen(row * n + j, 8, -4.f) - mean) * (gen(row * n + j, 8, -4.f) - mean);
  return (gen(idx, 8, -4.f) - mean) / sqrt(var / (double)n + 1e-5);
}

static int check_layernorm(bench_case *c, cg_tensor *out) {
  return check_sampled(out, c->n * c->n, ref_layernorm, c, 1e-4);
}

static void bench_layernorm(void) {
  const int64_t n = 4096;
  bench_case c = {.name = "layernorm_4096x4096", .unit = "GB/s", .work = 2.0 * n * n * 4,
                  .max_reps = 10, .build = build_layernorm, .check = check_layernorm, .n = n};
  c.in[0] = make_input(CG_SHAPE(n, n), 8, -4.f);
  if (!c.in[0]) emit_error(c.name, error_text("could not build inputs"));
  else report_case(&c);
  free_case(&c);
}

/* ---- sum of 16M floats ----------------------------------------------------------------------- */
static cg_tensor *build_sum(bench_case *c) { return cg_sum(c->in[0], CG_ALL, 0); }

static int check_sum(bench_case *c, cg_tensor *out) {
  double want = 0;
  for (int64_t i = 0; i < c->n; i++) want += gen(i, 7, 0.f);
  /* float32 accumulation of 16M terms: a relative 1e-3 allows honest rounding, not bugs */
  return close_to(cg_item(out), want, 1e-3) ? 0 : -1;
}

static void bench_sum(void) {
  bench_case c = {.name = "sum_16M", .unit = "GB/s", .work = 1.0 * ELEMS * 4,
                  .max_reps = 20, .build = build_sum, .check = check_sum, .n = ELEMS};
  c.in[0] = make_input(CG_SHAPE(ELEMS), 7, 0.f);
  if (!c.in[0]) emit_error(c.name, error_text("could not build inputs"));
  else report_case(&c);
  free_case(&c);
}

/* ---- compile latency --------------------------------------------------------------------------- */
/* A small graph with the benchmarks' kernel kinds (elementwise, full reduce, softmax, matmul),
   realized in one schedule as a first forward pass would be. Shapes differ from the main run so
   its kernels are new in this process either way; the driver empties CACHEDIR for the cold run. */
static int realize_graph(cg_tensor **in, double *wall_s) {
  cg_scope_push();
  double t0 = now_s();
  cg_tensor *outs[4] = {
    cg_add(cg_mul(in[0], in[1]), in[2]),
    cg_sum(in[0], CG_ALL, 0),
    cg_softmax(in[3], -1),
    cg_matmul(in[3], in[3]),
  };
  int rc = cg_realize_all(outs, 4);
  *wall_s = now_s() - t0;
  cg_scope_pop();
  return rc;
}

static int bench_compile(void) {
  cg_tensor *in[4];
  for (int k = 0; k < 3; k++) in[k] = make_input(CG_SHAPE(1000, 3), 10 + (uint64_t)k, -1.f);
  in[3] = make_input(CG_SHAPE(96, 96), 13, -1.f);
  cg_reset_stats();
  double first, warm = 1e30, ws;
  int rc = realize_graph(in, &first);
  cg_stats s = cg_get_stats();
  for (int r = 0; r < 5 && !rc; r++) {
    rc = realize_graph(in, &ws);
    if (ws < warm) warm = ws;
  }
  if (rc) {
    emit_error("compile_latency", error_text("realize failed"));
  } else {
    char extra[512], cc[256];
    snprintf(extra, sizeof extra,
             "\"warm_realize_ms\": %.4g, \"kernels\": %lld, \"kernels_compiled\": %lld, "
             "\"kernels_cached\": %lld, \"compiler\": \"%s\"",
             warm * 1e3, (long long)s.kernels_run, (long long)s.kernels_compiled,
             (long long)s.kernels_cached, json_escape(cc, sizeof cc, cg_compiler_version()));
    emit("compile_latency", first * 1e3, "ms", extra);
  }
  for (int k = 0; k < 4; k++) cg_free(in[k]);
  return rc;
}

/* ---- main -------------------------------------------------------------------------------------- */
static void emit_config(void) {
  cg_config cfg = cg_get_config();
  char extra[1200], dir[512], cc[256];
  snprintf(extra, sizeof extra, "\"device\": \"%s\", \"cachedir\": \"%s\", \"compiler\": \"%s\"",
           cg_default_device(), json_escape(dir, sizeof dir, cfg.cachedir),
           json_escape(cc, sizeof cc, cg_compiler_version()));
  emit("cgrad_threads", cfg.threads, "threads", extra);
}

/* the BEAM counters and wall time of the whole run */
static void emit_beam(double wall_s) {
  cg_stats s = cg_get_stats();
  char extra[256];
  snprintf(extra, sizeof extra, "\"beam\": %d, \"searches\": %lld, \"runs\": %lld, \"hits\": %lld, \"rejected\": %lld",
           cg_get_config().beam, (long long)s.beam_searches, (long long)s.beam_runs, (long long)s.beam_hits,
           (long long)s.beam_rejected);
  emit("beam", wall_s, "s", extra);
}

static void bench_kernels_only(void) {
  bench_muladd();
  bench_sum();
  bench_softmax();
  bench_layernorm();
  bench_matmuls();
}

static void bench_kernels(void) {
  double t0 = now_s();
  emit_config();
  bench_kernels_only();
  emit_beam(now_s() - t0);
}

int main(int argc, char **argv) {
  int rc = 0;
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "compile")) {
    rc = bench_compile();
  } else if (!strcmp(mode, "kernels") || !strcmp(mode, "first")) {
    if (!strcmp(mode, "first")) reps_cap = 1;
    bench_kernels();
  } else if (argc > 1) {
    fprintf(stderr, "usage: %s [kernels|first|compile]\n", argv[0]);
    return 2;
  } else {
    emit_config();
    bench_memcpy(cg_get_config().threads);
    bench_kernels_only();
  }
  cg_shutdown();
  return rc ? 1 : 0;
}
