#include "harness.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codegen/fuse_prologue.h"
#include "codegen/opt.h"
#include "codegen/render.h"
#include "engine/beam.h"
#include "tensor/tensor.h"

int th_failures;
static const char *current;

void th_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL %s (%s:%d): ", current, file, line);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  th_failures++;
}

float *th_floats(cg_tensor *t) {
  int64_t n = cg_numel(t);
  float *out = calloc(n ? n : 1, sizeof(float));
  if (cg_to_data(cg_cast(t, CG_F32), out, n * sizeof(float)) != 0)
    th_fail(__FILE__, __LINE__, "to_data failed: %s", cg_last_error());
  return out;
}

double th_max_diff(cg_tensor *t, const float *expect, int n) {
  if (!t || cg_numel(t) != n) return INFINITY;
  float *got = th_floats(t);
  double m = 0;
  for (int i = 0; i < n; i++) {
    double d = fabs((double)got[i] - expect[i]);
    if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
  }
  free(got);
  return m;
}

float *th_values(int64_t n, int seed) {
  float *v = malloc((size_t)n * sizeof *v);
  for (int64_t i = 0; i < n; i++) {
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ULL + (uint64_t)seed * 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 31, x *= 0x94D049BB133111EBULL, x ^= x >> 29;
    v[i] = (float)((double)(x >> 40) / (double)(1 << 23)) - 1.0f;
  }
  return v;
}

double th_conv3x3_error(const float *got, const float *x, const float *w, int N, int CI, int CO, int H, int W) {
  double worst = 0;
  for (int n = 0; n < N; n++)
    for (int co = 0; co < CO; co++)
      for (int h = 0; h < H; h++)
        for (int v = 0; v < W; v++) {
          double acc = 0, mag = 0;
          for (int ci = 0; ci < CI; ci++)
            for (int kh = 0; kh < 3; kh++)
              for (int kw = 0; kw < 3; kw++) {
                int ih = h + kh - 1, iw = v + kw - 1;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                double t = (double)x[(((int64_t)n * CI + ci) * H + ih) * W + iw] * w[((co * CI + ci) * 3 + kh) * 3 + kw];
                acc += t, mag += fabs(t);
              }
          double e = fabs(got[(((int64_t)n * CO + co) * H + h) * W + v] - acc) / (mag + 1e-30);
          worst = th_worst(worst, e);
        }
  return worst;
}

int th_run(const th_test *tests, int argc, char **argv) {
  int ran = 0;
  for (const th_test *t = tests; t->name; t++) {
    if (argc > 1 && !strstr(t->name, argv[1])) continue;
    current = t->name;
    int before = th_failures;
    cg_clear_error();
    cg_scope_push();
    t->fn();
    cg_scope_pop();
    printf("%s %s [%s]\n", th_failures == before ? "ok  " : "FAIL", t->name, cg_default_device());
    ran++;
  }
  cg_shutdown();
  printf("%d tests, %d failed checks\n", ran, th_failures);
  return th_failures ? 1 : 0;
}

long th_rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

void th_opts_of(cg_tensor *t, char *out, size_t n) {
  cg_schedule s = {0};
  uop *root = t->u;
  snprintf(out, n, "?");
  if (cg_schedule_build(&s, &root, 1) == 0 && s.nitems > 0) {
    cg_lowered l;
    if (cg_lower(&s, &s.items[s.nitems - 1], &l) == 0) {
      cg_optimize(&l);
      snprintf(out, n, "%s", l.opts);
      cg_lowered_free(&l);
    }
  }
  cg_schedule_free(&s);
}

char *th_c_source_of(cg_tensor *t) {
  cg_schedule s = {0};
  uop *root = t->u;
  char *src = NULL;
  if (cg_schedule_build(&s, &root, 1) == 0 && s.nitems > 0) {
    cg_program *p = cg_build_program(&s, &s.items[s.nitems - 1], &cg_dialect_c, NULL, NULL);
    if (p) {
      src = p->source;
      p->source = NULL;
      cg_program_free(p);
    }
  }
  cg_schedule_free(&s);
  return src;
}

char *th_fused_c_source_of(cg_tensor *t) {
  cg_schedule s = {0};
  uop *root = t->u;
  char *src = NULL;
  if (cg_schedule_build(&s, &root, 1) == 0 && s.nitems > 0) {
    cg_sched_item *reader = &s.items[s.nitems - 1];
    cg_program *cons = cg_build_program(&s, reader, &cg_dialect_c, NULL, NULL);
    for (int k = 0; cons && !src && k < reader->nins; k++)
      for (int i = 0; i + 1 < s.nitems && !src; i++) {
        if (s.items[i].out != reader->ins[k] || s.items[i].is_copy) continue;
        cg_program *prod = cg_build_program(&s, &s.items[i], &cg_dialect_c, NULL, NULL);
        cg_program *f = prod ? cg_fuse_prologue(prod, cons, k + 1) : NULL;
        if (f) src = cg_render(f, &cg_dialect_c);
        cg_program_free(f);
        cg_program_free(prod);
      }
    cg_program_free(cons);
  }
  cg_schedule_free(&s);
  return src;
}
