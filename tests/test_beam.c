/* BEAM search: results agree with double-precision references and with the heuristics' kernels,
   a cached choice makes the next realize search-free, a damaged cache file means searching again
   (never a crash), BEAM=0 is the heuristics alone. On DEV=INTERP, BEAM searches nothing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/base.h"
#include "engine/beam.h"
#include "harness.h"

static int on_cpu(void) { return !strcmp(cg_default_device(), "CPU"); }

/* deterministic values in [-1, 1), exactly representable as float */
static float val(int64_t i, int seed) {
  uint64_t x = (uint64_t)i * 2654435761u + (uint64_t)seed * 40503u;
  x ^= x >> 13;
  x *= 0x5bd1e995u;
  return (float)((x >> 7) % 4096) / 2048.0f - 1.0f;
}

static cg_tensor *input(int64_t rows, int64_t cols, int seed) {
  float *h = malloc((size_t)(rows * cols) * sizeof *h);
  for (int64_t i = 0; i < rows * cols; i++) h[i] = val(i, seed);
  cg_tensor *t = cg_from_data(h, CG_F32, CG_SHAPE(rows, cols), NULL);
  free(h);
  return t;
}

/* BEAM state as a fresh process sees it: nothing in memory, the files in CACHEDIR */
static void forget_in_memory(void) {
  cg_beam_cache_clear();
  cg_kernel_cache_clear();
}

/* apply fn (if any) to every file in CACHEDIR whose name starts with prefix; how many */
static int each_file(const char *prefix, void (*fn)(const char *path)) {
  const char *dir = cg_get_config().cachedir;
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (fn) fn(path);
    n++;
  }
  closedir(d);
  return n;
}

static void remove_file(const char *path) { unlink(path); }

/* a clean start: no choice on disk or in memory, BEAM width n */
static void start(int n) {
  each_file("beam-", remove_file);
  forget_in_memory();
  cg_env_set_beam(n);
}

/* ---- the graph: a matmul, a softmax, a row sum and an elementwise a*b+c ---- */
enum { M = 64, K = 96, N = 128, SR = 32, SC = 256 };

typedef struct { float *mm, *sm, *rs, *ew; } results;

static void run_graph(results *r) {
  cg_scope_push();
  cg_tensor *a = input(M, K, 1), *b = input(K, N, 2), *x = input(SR, SC, 3);
  cg_tensor *outs[4] = {cg_matmul(a, b), cg_softmax(x, -1), cg_sum(x, CG_AXES(1), 0),
                        cg_add(cg_mul(x, x), cg_neg(x))};
  CHECK(cg_realize_all(outs, 4) == 0);
  r->mm = th_floats(outs[0]);
  r->sm = th_floats(outs[1]);
  r->rs = th_floats(outs[2]);
  r->ew = th_floats(outs[3]);
  cg_scope_pop();
}

static void free_results(results *r) {
  free(r->mm);
  free(r->sm);
  free(r->rs);
  free(r->ew);
}

/* every value against a double-precision recomputation */
static void check_references(const results *r) {
  double worst = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double acc = 0;
      for (int k = 0; k < K; k++) acc += (double)val(i * K + k, 1) * val(k * N + j, 2);
      worst = th_worst(worst, fabs(r->mm[i * N + j] - acc));
    }
  CHECK(worst < 1e-4);
  for (int i = 0; i < SR; i++) {
    double mx = -1e30, sum = 0, rowsum = 0;
    for (int j = 0; j < SC; j++) mx = fmax(mx, val(i * SC + j, 3));
    for (int j = 0; j < SC; j++) sum += exp(val(i * SC + j, 3) - mx), rowsum += val(i * SC + j, 3);
    for (int j = 0; j < SC; j++) CHECK_CLOSE(r->sm[i * SC + j], exp(val(i * SC + j, 3) - mx) / sum, 1e-5);
    CHECK_CLOSE(r->rs[i], rowsum, 1e-5);
    for (int j = 0; j < SC; j++) {
      float v = val(i * SC + j, 3); /* float + - * without contraction: exact */
      CHECK(r->ew[i * SC + j] == v * v + -v);
    }
  }
}

static cg_stats delta(cg_stats before) {
  cg_stats now = cg_get_stats();
  now.beam_searches -= before.beam_searches;
  now.beam_runs -= before.beam_runs;
  now.beam_hits -= before.beam_hits;
  now.beam_rejected -= before.beam_rejected;
  now.kernels_run -= before.kernels_run;
  now.kernels_compiled -= before.kernels_compiled;
  now.kernels_cached -= before.kernels_cached;
  return now;
}

static void test_beam_zero_is_the_heuristics(void) {
  start(0);
  cg_stats s0 = cg_get_stats();
  results r;
  run_graph(&r);
  check_references(&r);
  cg_stats d = delta(s0);
  CHECK_EQ_INT(d.beam_searches + d.beam_runs + d.beam_hits, 0);
  CHECK_EQ_INT(each_file("beam-", remove_file), 0);
  free_results(&r);
}

static void test_beam_results_match_heuristics_and_references(void) {
  start(0);
  results h, b;
  run_graph(&h);
  start(2);
  cg_stats s0 = cg_get_stats();
  run_graph(&b);
  cg_stats d = delta(s0);
  check_references(&b);
  CHECK_EQ_INT(d.beam_rejected, 0);
  if (on_cpu()) CHECK(d.beam_searches >= 4); /* every kernel of the graph was searched */
  else CHECK_EQ_INT(d.beam_searches + d.beam_runs, 0);
  /* elementwise results are bit-identical whatever the opts; reductions may sum in other orders */
  CHECK(memcmp(h.ew, b.ew, SR * SC * sizeof(float)) == 0);
  for (int i = 0; i < M * N; i++) CHECK_CLOSE(b.mm[i], h.mm[i], 1e-5);
  for (int i = 0; i < SR; i++) CHECK_CLOSE(b.rs[i], h.rs[i], 1e-5);
  free_results(&h);
  free_results(&b);
  start(0);
}

static void test_beam_cached_choice_makes_second_run_search_free(void) {
  start(2);
  results r1, r2;
  run_graph(&r1);
  forget_in_memory(); /* as a new process: only CACHEDIR remembers */
  cg_stats s0 = cg_get_stats();
  run_graph(&r2);
  cg_stats d = delta(s0);
  CHECK_EQ_INT(d.beam_searches, 0);
  CHECK_EQ_INT(d.beam_runs, 0);
  if (on_cpu()) CHECK(d.beam_hits >= 4);
  check_references(&r2);
  CHECK(memcmp(r1.mm, r2.mm, M * N * sizeof(float)) == 0); /* the same kernels ran */
  free_results(&r1);
  free_results(&r2);
  start(0);
}

/* BEAM compiles many candidates per kernel (15-21 here); the losers' files are deleted as the
   search ends (no run loads them again): the cache keeps at most two compiled files per kernel
   that ran, the winner and the heuristics' kernel (compiled before the search, what BEAM=0 runs
   load), and a second run (a new process) compiles nothing */
static void test_beam_keeps_only_the_winners_files(void) {
  if (!on_cpu()) return;
  start(2);
  each_file("cpu-", remove_file);
  forget_in_memory();
  cg_stats s0 = cg_get_stats();
  results r1, r2;
  run_graph(&r1);
  cg_stats d = delta(s0);
  int files = each_file("cpu-", NULL);
  CHECK(d.beam_searches >= 4);
  if (!(files > 0 && files <= 2 * d.kernels_run))
    th_fail(__FILE__, __LINE__, "%d kernel files in the cache after %d kernels ran", files, (int)d.kernels_run);
  forget_in_memory();
  s0 = cg_get_stats();
  run_graph(&r2);
  d = delta(s0);
  CHECK_EQ_INT(d.kernels_compiled, 0);
  CHECK(memcmp(r1.mm, r2.mm, M * N * sizeof(float)) == 0);
  free_results(&r1);
  free_results(&r2);
  start(0);
}

/* damage: cut every file in half, or flip a byte of its list (the checksum no longer matches) */
static void truncate_half(const char *path) {
  FILE *f = fopen(path, "rb");
  char buf[512];
  size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  f = fopen(path, "wb");
  if (f) fwrite(buf, 1, n / 2, f), fclose(f);
}

static void flip_byte(const char *path) {
  FILE *f = fopen(path, "r+b");
  if (!f) return;
  fseek(f, 14, SEEK_SET); /* inside the first action line, past the header */
  fputc('Z', f);
  fclose(f);
}

static void empty_file(const char *path) {
  FILE *f = fopen(path, "wb");
  if (f) fclose(f);
}

static void check_damage_means_search(void (*damage)(const char *)) {
  start(2);
  results r1, r2;
  run_graph(&r1);
  int files = each_file("beam-", damage);
  if (on_cpu()) CHECK(files >= 4);
  forget_in_memory();
  cg_stats s0 = cg_get_stats();
  run_graph(&r2);
  cg_stats d = delta(s0);
  CHECK(!cg_has_error());
  if (on_cpu()) CHECK_EQ_INT(d.beam_searches, files);
  check_references(&r2);
  free_results(&r1);
  free_results(&r2);
  start(0);
}

static void test_beam_truncated_cache_file_searches_again(void) { check_damage_means_search(truncate_half); }
static void test_beam_corrupted_cache_file_searches_again(void) { check_damage_means_search(flip_byte); }
static void test_beam_empty_cache_file_searches_again(void) { check_damage_means_search(empty_file); }

int main(int argc, char **argv) {
  th_test tests[] = {
    {"beam_zero_is_the_heuristics", test_beam_zero_is_the_heuristics},
    {"beam_results_match_heuristics_and_references", test_beam_results_match_heuristics_and_references},
    {"beam_cached_choice_makes_second_run_search_free", test_beam_cached_choice_makes_second_run_search_free},
    {"beam_keeps_only_the_winners_files", test_beam_keeps_only_the_winners_files},
    {"beam_truncated_cache_file_searches_again", test_beam_truncated_cache_file_searches_again},
    {"beam_corrupted_cache_file_searches_again", test_beam_corrupted_cache_file_searches_again},
    {"beam_empty_cache_file_searches_again", test_beam_empty_cache_file_searches_again},
    {NULL, NULL},
  };
  return th_run(tests, argc, argv);
}
