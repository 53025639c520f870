/* BEAM=n: search opt lists (codegen/opt.h) for a kernel by timing them on its device.

   Search: round 1 times the heuristics' list (the default, and the reference every candidate's
   output is checked against) and every single action of the table below that fits the kernel;
   each later round extends the n fastest lists of the round before by one more action. It stops
   when a round finds nothing faster than the best so far, when no list can grow, or when the
   kernel's time budget is spent. A beam rather than every list: the space is small on the CPU
   today (about 20 lists a matmul), but each new action kind (GPU LOCAL and GROUP sizes, more
   UPCAST axes) multiplies it, and a beam keeps the cost at width x actions per round.

   The empty list is not a candidate when the heuristics chose opts: those opts exist because the
   plain loop is many times slower on such kernels (a matmul without a register tile runs
   ~20x slower), and one run of it on a large kernel could cost seconds that no budget check can
   interrupt. Each candidate is compiled (all of a round in parallel), run once into a zeroed
   scratch output and compared with the default's output (a disagreement is a code generation
   bug: reported, never chosen), then timed a few times; the minimum counts, and the winner is
   confirmed against the default by runs taking turns (see confirm). On a slow kernel a
   candidate first runs the first 1/16 of its outermost loop: one predicted 3x slower than the best
   so far stops there (a matmul's reduce UNROLLed without a tile runs 30x slower than the tile:
   seconds a run at 2048, which a budget checked between runs could not take back). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "beam.h"
#include "kernel_cache.h"

#define BUDGET_S 30.0   /* wall time for one kernel's search, compiles included */
#define RUNS_S 0.05     /* runs of a candidate stop after this much kernel time (at least MIN_RUNS) */
#define SLOW_CUTOFF 3.0 /* a checked run this many times the best so far is not timed further */
#define PROBE_MIN_S 0.005 /* a probe first where the best so far is this slow: overheads are small */
#define WIN_MARGIN 0.97 /* a candidate must beat the default by 3%, so noise does not switch kernels */
enum { MIN_RUNS = 2, MAX_RUNS = 10, MAX_CANDIDATES = 128 };
enum { BEAM_MAX_OPTS = 4 }; /* the search grows lists up to this long (the heuristics' may be longer) */

/* The single actions a list can be extended by (each is offered where it fits). Tiles up to 32
   accumulator vectors; UNROLL past 16 lanes and UPCAST past 32 only add register pressure;
   KBLOCK 0 takes the kernel's own block length (the packed operands' blocks: opt.c). */
static const cg_opt actions[] = {
  {CG_OPT_TILE, 2, 16}, {CG_OPT_TILE, 4, 8},  {CG_OPT_TILE, 4, 16}, {CG_OPT_TILE, 4, 32},
  {CG_OPT_TILE, 8, 8},  {CG_OPT_TILE, 8, 16}, {CG_OPT_TILE, 2, 32},
  {CG_OPT_PANEL, 2, 0}, {CG_OPT_PANEL, 4, 0}, {CG_OPT_PANEL, 8, 0}, {CG_OPT_PANEL, 16, 0}, {CG_OPT_PANEL, 32, 0},
  {CG_OPT_UPCAST, 4, 0}, {CG_OPT_UPCAST, 8, 0}, {CG_OPT_UPCAST, 16, 0}, {CG_OPT_UPCAST, 32, 0},
  {CG_OPT_UNROLL, 4, 0}, {CG_OPT_UNROLL, 8, 0}, {CG_OPT_UNROLL, 16, 0},
  {CG_OPT_KBLOCK, 0, 0}, {CG_OPT_ROWBLOCK, 8, 0}, {CG_OPT_ROWBLOCK, 16, 0}, {CG_OPT_ROWBLOCK, 32, 0},
  {CG_OPT_INNER, 0, 0}, {CG_OPT_INNER, 1, 0}, {CG_OPT_INNER, 2, 0}, {CG_OPT_INNER, 3, 0},
  {CG_OPT_ORDER, 1, 0},
};
enum { NACTIONS = sizeof actions / sizeof *actions };

typedef struct {
  cg_opt_list opts;
  cg_program *prog;
  void *handle;
  int owned;            /* compiled by the search: released unless it wins */
  int fresh;            /* compiled by this search, not loaded from disk: a loser's file is deleted */
  char *err;            /* compile error */
  double t;             /* best seconds; INFINITY when untimed, dropped or failed */
  double estimate;      /* seconds a probe predicted, when that dropped the candidate */
} candidate;

typedef struct {
  cg_schedule *s;
  cg_sched_item *it;
  int dev;
  const cg_dialect *d;
  candidate c[MAX_CANDIDATES];
  int n;
  cg_beam_bench bench;
  double start;
  int runs, rejected;
} search;

static const cg_dialect *dialect_of(int dev) {
  const cg_dialect *d = cg_device_get(dev)->dialect;
  return d ? d : &cg_dialect_c;
}

/* GPUs need their own action table and device timing; until then BEAM searches the CPU */
int cg_beam_active(int dev) {
  const cg_env *e = cg_env_get();
  return e->beam > 0 && !e->noopt && cg_device_get(dev)->ident && !dialect_of(dev)->gpu;
}

static int debug(void) { return cg_env_get()->debug; }

/* a kernel built from a cached choice */
static cg_program *hit(cg_program *p, const cg_opt_list *chosen) {
  char text[128];
  if (debug() >= 2) fprintf(stderr, "*** BEAM %-32s cached: %s\n", p->name, cg_opts_format(chosen, text, sizeof text));
  cg_stats_add_beam(0, 0, 1, 0);
  return p;
}

cg_program *cg_beam_prepare(cg_schedule *s, cg_sched_item *it, int dev, uint64_t *key, int *search) {
  const cg_dialect *d = dialect_of(dev);
  cg_opt_list none = {0}, chosen;
  cg_program *plain = cg_build_program(s, it, d, &none, NULL);
  if (!plain) return NULL;
  *key = cg_beam_key(plain->source, dev);
  *search = !cg_beam_lookup(*key, 1, &chosen);
  if (!*search && chosen.n == 0) return hit(plain, &chosen); /* the plain kernel won */
  cg_program_free(plain);
  if (*search) return cg_build_program(s, it, d, NULL, NULL);
  int fits;
  cg_program *p = cg_build_program(s, it, d, &chosen, &fits);
  if (p) return hit(p, &chosen);
  if (fits) return NULL; /* lowering failed: the error is set */
  *search = 1;           /* a cached list that no longer fits (the opts changed): search again */
  return cg_build_program(s, it, d, NULL, NULL);
}

/* ---- building and compiling candidates ---- */

static void free_candidate(search *S, candidate *c, int keep_prog) {
  cg_device *d = cg_device_get(S->dev);
  if (c->owned && c->handle) (c->fresh && d->discard ? d->discard : d->release)(c->handle);
  if (!keep_prog) cg_program_free(c->prog);
  free(c->err);
  memset(c, 0, sizeof *c);
}

/* a candidate for list opts unless it does not fit or renders like one already built; 1 if added */
static int add_candidate(search *S, const cg_opt_list *opts) {
  if (S->n == MAX_CANDIDATES) return 0;
  int fits;
  cg_program *p = cg_build_program(S->s, S->it, S->d, opts, &fits);
  if (!p) {
    cg_clear_error(); /* a list that fails to lower is only a candidate less */
    return 0;
  }
  p->key = cg_hash_bytes(p->source, strlen(p->source), 0);
  for (int i = 0; i < S->n; i++)
    if (S->c[i].prog->key == p->key) {
      cg_program_free(p);
      return 0;
    }
  S->c[S->n++] = (candidate){.opts = *opts, .prog = p, .t = INFINITY};
  return 1;
}

typedef struct { search *S; int *todo; } compile_ctx;

static void compile_one(void *vctx, int i) {
  compile_ctx *cc = vctx;
  candidate *c = &cc->S->c[cc->todo[i]];
  int cached;
  c->handle = cg_device_get(cc->S->dev)->compile(c->prog, &c->err, &cached);
  c->owned = c->handle != NULL;
  c->fresh = c->owned && !cached;
}

/* compile candidates [from, to) that no earlier realize loaded, in parallel */
static void compile_range(search *S, int from, int to) {
  int todo[MAX_CANDIDATES], ntodo = 0;
  for (int i = from; i < to; i++)
    if (!(S->c[i].handle = cg_kernel_cache_get(S->dev, S->c[i].prog->key))) todo[ntodo++] = i;
  compile_ctx cc = {S, todo};
  cg_pool_run(compile_one, &cc, ntodo);
}

/* ---- timing ---- */

static int over_budget(const search *S) { return cg_now() - S->start > BUDGET_S; }

static void report_mismatch(search *S, candidate *c, double err) {
  char text[128];
  fprintf(stderr, "cgrad: BEAM: kernel %s with opts %s disagrees with the default kernel (error %.3g x the "
          "tolerance): a code generation bug; candidate dropped\n", c->prog->name,
          cg_opts_format(&c->opts, text, sizeof text), err);
  S->rejected++;
}

/* The checked run is the first sample; more follow while they are cheap (at least MIN_RUNS in
   all, at most MAX_RUNS, until RUNS_S of kernel time is spent); c->t is the minimum. A checked run
   SLOW_CUTOFF times slower than the best so far ends the candidate. */
static void time_candidate(search *S, candidate *c, double best) {
  if (isfinite(best) && best > PROBE_MIN_S) {
    double estimate = cg_beam_probe(&S->bench, c->handle, c->prog);
    S->runs += estimate >= 0 ? 2 : 0;
    if (estimate > SLOW_CUTOFF * best) {
      c->estimate = estimate;
      return;
    }
  }
  double err, t = cg_beam_run_checked(&S->bench, c->handle, c->prog, &err);
  S->runs++;
  if (t == -2) report_mismatch(S, c, err);
  if (t < 0) return;
  c->t = t;
  if (isfinite(best) && t > SLOW_CUTOFF * best) return;
  double spent = t;
  for (int r = 1; r < MAX_RUNS && (r < MIN_RUNS || spent < RUNS_S); r++) {
    double tr = cg_beam_run(&S->bench, c->handle, c->prog);
    S->runs++;
    if (tr < 0) return;
    spent += tr;
    if (tr < c->t) c->t = tr;
  }
}

static double best_time(const search *S) {
  double best = INFINITY;
  for (int i = 0; i < S->n; i++)
    if (S->c[i].t < best) best = S->c[i].t;
  return best;
}

static void debug_candidate(const candidate *c) {
  char text[128];
  cg_opts_format(&c->opts, text, sizeof text);
  if (c->err) fprintf(stderr, "***   BEAM %-28s compile failed: %.200s\n", text, c->err);
  else if (isfinite(c->t)) fprintf(stderr, "***   BEAM %-28s %10.3f ms\n", text, c->t * 1e3);
  else if (c->estimate > 0) fprintf(stderr, "***   BEAM %-28s ~%9.3f ms (first 1/16 run: dropped)\n", text, c->estimate * 1e3);
  else fprintf(stderr, "***   BEAM %-28s not timed\n", text);
}

/* compile and time candidates [from, n); their best time */
static double run_round(search *S, int from) {
  compile_range(S, from, S->n);
  double best = INFINITY;
  for (int i = from; i < S->n && !over_budget(S); i++) {
    candidate *c = &S->c[i];
    if (c->handle) time_candidate(S, c, best_time(S));
    if (c->t < best) best = c->t;
    if (debug() >= 3) debug_candidate(c);
  }
  return best;
}

/* ---- the beam ---- */

/* indices of the `width` fastest candidates in [from, to) */
static int pick_beam(const search *S, int from, int to, int width, int *out) {
  int n = 0;
  for (int w = 0; w < width; w++) {
    int best = -1;
    for (int i = from; i < to; i++) {
      int taken = 0;
      for (int k = 0; k < n; k++) taken |= out[k] == i;
      if (!taken && isfinite(S->c[i].t) && (best < 0 || S->c[i].t < S->c[best].t)) best = i;
    }
    if (best < 0) break;
    out[n++] = best;
  }
  return n;
}

/* every list of the beam, grown by each action; the number added */
static int grow(search *S, const int *beam, int nbeam) {
  int added = 0;
  for (int b = 0; b < nbeam; b++) {
    cg_opt_list parent = S->c[beam[b]].opts;
    if (parent.n >= BEAM_MAX_OPTS) continue;
    for (int a = 0; a < NACTIONS; a++) {
      cg_opt_list child = parent;
      child.o[child.n++] = actions[a];
      added += add_candidate(S, &child);
    }
  }
  return added;
}

/* the heuristics' list for the kernel (what the default program was built with) */
static int default_opts(search *S, cg_opt_list *out) {
  cg_lowered l;
  if (cg_lower(S->s, S->it, &l) != 0) return -1;
  cg_opts_choose(&l, out);
  cg_lowered_free(&l);
  return 0;
}

/* Load from other processes can flatter a candidate or slow the default, each timed once at its
   own moment: the winner and the default run again alternately (same conditions for both), and
   the winner must still beat the default by the margin on those runs alone. */
static int confirm(search *S, int win) {
  double t[2] = {INFINITY, INFINITY}, spent = 0;
  candidate *c[2] = {&S->c[0], &S->c[win]};
  for (int r = 0; r < MAX_RUNS && (r < MIN_RUNS + 1 || spent < RUNS_S); r++)
    for (int k = 0; k < 2; k++) {
      double tr = cg_beam_run(&S->bench, c[k]->handle, c[k]->prog);
      S->runs++;
      if (tr < 0) return 0;
      spent += tr;
      if (tr < t[k]) t[k] = tr;
    }
  c[0]->t = t[0];
  c[1]->t = t[1];
  return t[1] < WIN_MARGIN * t[0] ? win : 0;
}

/* round 1's lists besides the default: every single action that fits */
static void add_singles(search *S) {
  for (int a = 0; a < NACTIONS; a++) {
    cg_opt_list one = {1, {actions[a]}};
    add_candidate(S, &one);
  }
}

/* rounds until one finds nothing faster; the winner's index (0: the default, already timed) */
static int run_search(search *S) {
  int beam[MAX_CANDIDATES], width = cg_env_get()->beam, from = 1, beam_from = 0;
  double best = INFINITY;
  while (!over_budget(S)) {
    double round_best = run_round(S, from);
    if (beam_from == 0 && S->c[0].t < round_best) round_best = S->c[0].t; /* round 1 has the default */
    if (!(round_best < best)) break;
    best = round_best;
    int nbeam = pick_beam(S, beam_from, S->n, width, beam);
    beam_from = from = S->n;
    if (!grow(S, beam, nbeam)) break;
  }
  int win = 0;
  for (int i = 1; i < S->n; i++)
    if (S->c[i].t < S->c[win].t) win = i;
  return win ? confirm(S, win) : 0;
}

static void debug_result(const search *S, int win, double seconds) {
  if (debug() < 2) return;
  char w[128], d[128];
  const candidate *cw = &S->c[win], *c0 = &S->c[0];
  fprintf(stderr, "*** BEAM %-32s searched %d candidates in %.2f s (%d runs): %s %.3f ms; default %s %.3f ms (%.2fx)\n",
          c0->prog->name, S->n, seconds, S->runs, cg_opts_format(&cw->opts, w, sizeof w), cw->t * 1e3,
          cg_opts_format(&c0->opts, d, sizeof d), c0->t * 1e3, cw->t > 0 ? c0->t / cw->t : 0);
}

/* Candidate `win` replaces the default in *prog / *handle; the kernel cache owns its handle. */
static void take(search *S, int win, cg_program **prog, void **handle) {
  candidate *c = &S->c[win];
  if (c->owned) cg_kernel_cache_put(S->dev, c->prog->key, c->handle);
  c->owned = 0;
  *prog = c->prog;
  *handle = c->handle;
}

/* the same kernel appeared earlier in this schedule and was searched: compile its choice */
static void use_cached(search *S, const cg_opt_list *cached, cg_program **prog, void **handle) {
  if (!add_candidate(S, cached)) return; /* renders as the default */
  compile_range(S, 1, 2);
  if (S->c[1].handle) take(S, 1, prog, handle);
  free_candidate(S, &S->c[1], S->c[1].handle != NULL);
}

/* time the default and the candidates; store and take the winner. 0, or -1 if the default
   could not be timed on scratch buffers */
static int search_and_take(search *S, uint64_t key, cg_program **prog, void **handle) {
  if (default_opts(S, &S->c[0].opts) != 0) return -1;
  add_singles(S);
  if (S->n == 1) { /* nothing else fits: nothing to time */
    cg_beam_store(key, &S->c[0].opts);
    return 0;
  }
  if (cg_beam_bench_init(&S->bench, S->dev, *prog) != 0) return -1;
  time_candidate(S, &S->c[0], INFINITY);
  int rc = -1;
  if (isfinite(S->c[0].t)) {
    int win = run_search(S);
    debug_result(S, win, cg_now() - S->start);
    cg_beam_store(key, &S->c[win].opts);
    if (win) take(S, win, prog, handle);
    rc = 0;
  }
  cg_beam_bench_free(&S->bench);
  return rc;
}

int cg_beam_search(cg_schedule *s, cg_sched_item *it, int dev, uint64_t key, cg_program **prog, void **handle) {
  search *S = cg_xcalloc(1, sizeof *S);
  *S = (search){.s = s, .it = it, .dev = dev, .d = dialect_of(dev), .start = cg_now()};
  S->c[0] = (candidate){.prog = *prog, .handle = *handle, .t = INFINITY};
  S->n = 1;
  cg_opt_list cached;
  int rc = 0, searched = !cg_beam_lookup(key, 0, &cached);
  if (!searched) use_cached(S, &cached, prog, handle);
  else rc = search_and_take(S, key, prog, handle);
  for (int i = 1; i < S->n; i++) free_candidate(S, &S->c[i], S->c[i].prog == *prog);
  cg_clear_error(); /* a failed search keeps the default: nothing for the caller to report */
  cg_stats_add_beam(searched, S->runs, !searched, S->rejected);
  free(S);
  return rc;
}
