/* Software prefetch (CPU): a register tile's output, the next row of a row kernel, the next slab
   of a fused copy's source (each section below says why).

   A register tile's output.

   A KBLOCK tile (opt.c) adds its block's sums to the partial sums already in the output: it
   loads its 4 x 16 output values only after its reduce loop, ~1000 cycles of FMAs. Those values
   were written one k block (a whole pass over the output's panel) earlier, so they come from L3
   or memory, and the loads stall the tile's stores. Prefetching the tile's output lines at the
   tile's start (when its accumulators are set to zero) hides that wait behind the reduce: the
   4096^3 matmul went from 66 to 78 GFLOPS on one thread, 126 -> 135 on two. A tile that only
   stores still needs its lines for writing (read for ownership): the 1024^3 kernel alone, 10
   runs each on two threads, median 138 -> 157 GFLOPS (best 173 both); whole matmuls and conv2's
   passes moved by less than this shared machine's noise.

   The output index is rendered as a C expression over the values already in scope at the
   accumulator, with the lane loops of the load (the tile's rows and columns) as small loops of
   their own: every row, and the first and last column (a row's 16 floats may straddle two cache
   lines). A hint only: nothing changes the results, and the interpreter has nothing to mirror.

   Row-ahead prefetch: a row kernel (softmax, layernorm) makes several passes over each row of
   its thread's share. The first pass streams the row in from memory; the later ones find it in
   L1 and compute (softmax's exp, layernorm's normalize), and meanwhile memory sits idle: the
   hardware prefetcher only follows misses. So the second pass over a row also prefetches the
   next row, one line per step. Softmax 4096x4096 on two threads: 13.3-14.7 -> 11.0-14.5 ms
   (kernel alone). */
#include <stdio.h>
#include <stdlib.h>
#include "../base/base.h"
#include "../ir/dtype.h"
#include "../ir/uop.h"
#include "render.h"

enum { MAX_LANE_LOOPS = 4, MAX_PREFETCHES = 64, MAX_EXPR_DEPTH = 24, LINE_BYTES = 64 };

typedef struct {
  const cg_program *p;
  int acc;                        /* the accumulator's DEFINE_ACC: where the prefetch goes */
  int lanes[MAX_LANE_LOOPS], nlanes;
  int64_t steps[MAX_LANE_LOOPS];  /* output prefetch: the step through each lane loop (lane_step) */
  int lanes_at_zero;              /* lane loop variables render as 0 (the step's first lane) */
} prefetch_site;

/* instruction j holds its value where the accumulator is defined: defined before it, in a loop
   that is still open there (a loop variable: its own loop still open) */
static int in_scope(const prefetch_site *s, int j) {
  if (j >= s->acc) return 0;
  int loop = s->p->ins[j].op == OP_RANGE ? j : cg_enclosing_loop(s->p, j);
  for (int k = cg_enclosing_loop(s->p, s->acc); loop >= 0; k = cg_enclosing_loop(s->p, k)) {
    if (k == loop) return 1;
    if (k < 0) return 0;
  }
  return 1; /* defined at the top */
}

static int lane_slot(const prefetch_site *s, int j) {
  for (int k = 0; k < s->nlanes; k++)
    if (s->lanes[k] == j) return k;
  return -1;
}

/* index instruction j as an expression of in-scope values and the lane loops' variables;
   0 if it needs anything else */
static int render_index(const prefetch_site *s, int j, cg_sbuf *b, int depth) {
  const cg_inst *in = &s->p->ins[j];
  if (lane_slot(s, j) >= 0 && s->lanes_at_zero) {
    cg_sbuf_puts(b, "0LL");
    return 1;
  }
  if (lane_slot(s, j) >= 0 || in_scope(s, j)) {
    cg_sbuf_printf(b, lane_slot(s, j) >= 0 ? "p%d" : "v%d", j);
    return 1;
  }
  if (in->op == OP_CONST && in->dtype == CG_I64) {
    cg_sbuf_printf(b, "%lldLL", (long long)in->ival);
    return 1;
  }
  if ((in->op != OP_ADD && in->op != OP_MUL) || in->dtype != CG_I64 || depth > MAX_EXPR_DEPTH) return 0;
  cg_sbuf_puts(b, "(");
  if (!render_index(s, in->src[0], b, depth + 1)) return 0;
  cg_sbuf_puts(b, in->op == OP_ADD ? " + " : " * ");
  if (!render_index(s, in->src[1], b, depth + 1)) return 0;
  cg_sbuf_puts(b, ")");
  return 1;
}

/* the first load or store of the output after the accumulator, in the same loop (-1: none) */
static int output_access_after(const cg_program *p, int acc) {
  int open = 0;
  for (int j = acc + 1; j < p->nins; j++) {
    const cg_inst *in = &p->ins[j];
    if (in->op == OP_RANGE) open++;
    if (in->op == OP_ENDRANGE && open-- == 0) return -1; /* the accumulator's loop ends */
    if ((in->op == OP_LOAD || in->op == OP_STORE) && p->ins[in->src[0]].ival == 0) return j;
  }
  return -1;
}

/* the step through lane loop k's lanes: lanes a cache line or more apart (a matmul tile's rows,
   a channel tile's output channels, opt.c COLS) each get a prefetch; lanes closer together (a
   row's columns) their first and last (a run of them may straddle two lines), or the first only
   where the run is a few bytes (a channel tile's 2 pixels: a straddle is rare, the hardware has
   it) or the store gated (WIDEN: its last lanes may lie past the output). */
static int64_t lane_stride(const cg_program *p, int access, int loop) {
  int64_t coef = cg_lane_coef(p, p->ins[access].src[1], loop);
  return (coef < 0 ? -coef : coef) * cg_dtype_size(p->params[0].dtype);
}

static int64_t lane_step(const cg_program *p, int access, int loop) {
  int64_t trip = cg_loop_trip(p, loop), stride = lane_stride(p, access, loop);
  int gated = p->ins[access].op == OP_STORE && p->ins[access].nsrc == 4;
  if (stride >= LINE_BYTES) return 1;
  return gated || stride * (trip - 1) < LINE_BYTES / 4 ? trip : trip > 1 ? trip - 1 : 1;
}

/* A tile whose innermost lanes are lines apart (a channel tile's output channels) writes each
   line a few values: with 2 (TILE 2x32, conv2's forward: 64 stores on 32 lines a tile) the stores
   waited on their lines, and prefetching them at the tile's start took the kernel alone, one
   thread, 7.6 -> 6.3-6.7 ms; with 4 (TILE 4x16) the prefetches cost more than they saved (conv2's
   input gradient 7.6 -> 8.1 ms, conv1's forward 1.7-2.4 -> 2.8). So only runs of up to 2. */
enum { FAR_LANES_MAX_RUN = 2 };
static int far_lanes_worth_it(const prefetch_site *s, int access) {
  if (lane_stride(s->p, access, s->lanes[s->nlanes - 1]) < LINE_BYTES) return 1; /* not far apart */
  int64_t run = 1;
  for (int k = 0; k + 1 < s->nlanes; k++) run *= cg_loop_trip(s->p, s->lanes[k]);
  return run <= FAR_LANES_MAX_RUN;
}

/* the lane loops between the access and the accumulator's loop, outermost first (0: none, not
   all constant UPCAST loops, or too many prefetches; a staged kernel's store in its reduce loop
   is not in lane loops: its values are in L1 anyway) */
static int find_lane_loops(prefetch_site *s, int access) {
  int outer = cg_enclosing_loop(s->p, s->acc), count = 1, n = 0, rev[MAX_LANE_LOOPS];
  int64_t rev_steps[MAX_LANE_LOOPS];
  for (int k = cg_enclosing_loop(s->p, access); k != outer; k = cg_enclosing_loop(s->p, k)) {
    int64_t trip = k >= 0 ? cg_loop_trip(s->p, k) : 0;
    if (k < 0 || n == MAX_LANE_LOOPS || s->p->ins[k].ival2 != RANGE_UPCAST || trip < 1) return 0;
    rev_steps[n] = lane_step(s->p, access, k);
    count *= (int)((trip + rev_steps[n] - 1) / rev_steps[n]);
    rev[n++] = k;
  }
  for (int k = 0; k < n; k++) s->lanes[k] = rev[n - 1 - k], s->steps[k] = rev_steps[n - 1 - k];
  s->nlanes = n;
  return n > 0 && count <= MAX_PREFETCHES;
}

int cg_render_output_prefetch(const cg_program *p, int acc, cg_sbuf *b, const char *indent) {
  int access = output_access_after(p, acc);
  prefetch_site s = {.p = p, .acc = acc};
  if (access < 0 || !find_lane_loops(&s, access) || !far_lanes_worth_it(&s, access)) return 0;
  cg_sbuf expr = {0};
  int ok = render_index(&s, p->ins[access].src[1], &expr, 0);
  if (ok) {
    cg_sbuf_puts(b, indent);
    for (int k = 0; k < s.nlanes; k++) {
      int64_t trip = cg_loop_trip(p, s.lanes[k]), step = s.steps[k];
      cg_sbuf_printf(b, "for (long long p%d = 0; p%d < %lld; p%d += %lld) ", s.lanes[k], s.lanes[k],
                     (long long)trip, s.lanes[k], (long long)step);
    }
    cg_sbuf_printf(b, "__builtin_prefetch(data0 + %s, 1);\n", expr.s);
  }
  cg_sbuf_free(&expr);
  return ok;
}

/* ---- row-ahead prefetch ---- */

enum { MIN_STEP_BYTES = 32 }; /* at most two prefetches per 64-byte line */

static int loads_param(const cg_program *p, int loop, int param) {
  for (int j = loop + 1, end = cg_loop_end(p, loop); j < end; j++)
    if (p->ins[j].op == OP_LOAD && p->ins[p->ins[j].src[0]].ival == param) return 1;
  return 0;
}

/* the loops directly in the thread loop before `loop` that load param */
static int earlier_passes(const cg_program *p, int loop, int param) {
  int n = 0;
  for (int k = p->thread_ins + 1; k < loop; k++)
    if (p->ins[k].op == OP_RANGE && cg_enclosing_loop(p, k) == p->thread_ins) {
      n += loads_param(p, k, param);
      k = cg_loop_end(p, k);
    }
  return n;
}

/* lane loops between instruction j and loop (innermost first does not matter: all render 0) */
static int collect_lanes(prefetch_site *s, int j, int loop) {
  s->nlanes = 0;
  for (int k = cg_enclosing_loop(s->p, j); k != loop; k = cg_enclosing_loop(s->p, k)) {
    if (k < 0 || s->nlanes == MAX_LANE_LOOPS) return 0;
    s->lanes[s->nlanes++] = k;
  }
  return 1;
}

int cg_render_row_prefetch(const cg_program *p, int loop, cg_sbuf *b, const char *indent) {
  int t = p->thread_ins;
  if (t < 0 || loop == t || cg_enclosing_loop(p, loop) != t) return 0;
  for (int j = loop + 1, end = cg_loop_end(p, loop); j < end; j++) {
    const cg_inst *in = &p->ins[j];
    if (in->op != OP_LOAD) continue;
    int param = (int)p->ins[in->src[0]].ival, size = cg_dtype_get(p->params[param].dtype)->size;
    int64_t row = cg_lane_coef(p, in->src[1], t), step = cg_lane_coef(p, in->src[1], loop);
    /* the next row starts on another line; the pass steps through its row */
    if (p->params[param].written || row * size < LINE_BYTES || step * size < MIN_STEP_BYTES ||
        earlier_passes(p, loop, param) != 1)
      continue;
    prefetch_site s = {.p = p, .acc = loop + 1, .lanes_at_zero = 1};
    cg_sbuf expr = {0};
    int ok = collect_lanes(&s, j, loop) && render_index(&s, in->src[1], &expr, 0);
    /* the address in integers: past the last row it lies beyond the buffer (a prefetch never
       faults, but pointer arithmetic there would be undefined) */
    if (ok)
      cg_sbuf_printf(b, "%s__builtin_prefetch((const void *)((unsigned long long)data%d + (unsigned long long)(%s + %lldLL) * %d), 0, 2);\n",
                     indent, param, expr.s, (long long)row, size);
    cg_sbuf_free(&expr);
    if (ok) return 1;
  }
  return 0;
}

/* ---- next-slab prefetch ----
   A copy run inside its reader (fuse_prologue.c) reads its slab of the source at the start of
   each thread iteration (conv2's input gradient: a sample's output gradient, 25 KB) straight
   from memory: the hardware prefetcher follows the copy's misses only while it runs, and the
   reader's compute between two copies leaves memory idle. So each tile of the reader (its first
   accumulator in the thread loop's body) prefetches its share of the next iteration's slab, a
   few lines a tile, and the next copy finds it in cache: conv2's input gradient kernel, one
   thread, five alternating runs, 7.6-8.6 -> 7.0-7.4 ms (the copy had cost 1.6 ms of it); its
   weight gradient (two copies, blocks of 4 samples) best 8.0 -> 7.1 ms; its forward (half the
   slab) unchanged. The last iteration's prefetches land
   past the thread's share: harmless (another thread's slab, or nothing: a prefetch never faults,
   and the address is integer arithmetic). */
enum { MAX_SLAB_SOURCES = 4, MAX_SLAB_LINES_PER_TILE = 32 };

typedef struct { int param; int64_t coef, lo, hi; } slab_source;

/* the loop directly inside the thread loop around instruction i (-1: none) */
static int top_loop(const cg_program *p, int i) {
  int t = p->thread_ins, k = cg_enclosing_loop(p, i);
  while (k >= 0 && k != t && cg_enclosing_loop(p, k) != t) k = cg_enclosing_loop(p, k);
  return k == t ? -1 : k;
}

static int stores_local(const cg_program *p, int loop) {
  for (int j = loop + 1, end = cg_loop_end(p, loop); j < end; j++)
    if (p->ins[j].op == OP_STORE && p->params[p->ins[p->ins[j].src[0]].ival].local) return 1;
  return 0;
}

/* Whether index i is loop t times a constant plus values that do not move with t (a block
   reader's copy index: (t*k + j)*part + ...); the constant in *coef. memo: per instruction, 0
   unknown, 1 affine (coefs[i]), 2 not. */
typedef struct { const cg_program *p; int t; char *memo; int64_t *coefs; } affine_ctx;

static int affine_in(affine_ctx *A, int i, int64_t *coef) {
  const cg_inst *in = &A->p->ins[i];
  *coef = i == A->t;
  if (i <= A->t || in->op == OP_CONST || in->op == OP_RANGE) return 1;
  if (A->memo[i]) {
    *coef = A->coefs[i];
    return A->memo[i] == 1;
  }
  int64_t c[4] = {0}, r = 0; /* cg_inst's sources */
  int ok = 1, moves = 0;
  for (int s = 0; s < in->nsrc && s < 4 && ok; s++) {
    ok = affine_in(A, in->src[s], &c[s]);
    moves |= c[s] != 0;
  }
  if (ok && moves) {
    const cg_inst *k0 = &A->p->ins[in->src[0]], *k1 = in->nsrc > 1 ? &A->p->ins[in->src[1]] : NULL;
    int ints = in->dtype == CG_I64 && in->nsrc == 2;
    if (ints && in->op == OP_ADD) ok = !__builtin_add_overflow(c[0], c[1], &r);
    else if (ints && in->op == OP_MUL && k1->op == OP_CONST) ok = !__builtin_mul_overflow(c[0], k1->ival, &r);
    else if (ints && in->op == OP_MUL && k0->op == OP_CONST) ok = !__builtin_mul_overflow(c[1], k0->ival, &r);
    else ok = 0;
  }
  A->memo[i] = ok ? 1 : 2, A->coefs[i] = r;
  *coef = r;
  return ok;
}

/* the inputs that loops filling a scratch (a fused copy) read before `before`, each a slab that
   moves with the thread loop: coef elements an iteration, [lo, hi] within it */
static void add_source(slab_source *src, int *n, int param, int64_t coef, cg_interval b) {
  int k = 0;
  while (k < *n && src[k].param != param) k++;
  if (k == *n && *n < MAX_SLAB_SOURCES) src[(*n)++] = (slab_source){param, coef, b.lo, b.hi};
  else if (k < *n && src[k].coef == coef) {
    src[k].lo = b.lo < src[k].lo ? b.lo : src[k].lo;
    src[k].hi = b.hi > src[k].hi ? b.hi : src[k].hi;
  }
}

static int slab_sources(const cg_program *p, int before, slab_source *src) {
  cg_interval *iv = cg_index_bounds(p, p->thread_ins);
  affine_ctx A = {p, p->thread_ins, cg_xcalloc((size_t)p->nins + 1, 1),
                  cg_xcalloc((size_t)p->nins + 1, sizeof(int64_t))};
  int n = 0;
  /* the loops directly inside the thread loop that fill a scratch, each walked once */
  for (int top = p->thread_ins + 1, end = top; top < before; top = end + 1) {
    end = p->ins[top].op == OP_RANGE ? cg_loop_end(p, top) : top;
    if (end == top || !stores_local(p, top)) continue;
    for (int j = top + 1; j < end; j++) {
      const cg_inst *in = &p->ins[j];
      int param = in->op == OP_LOAD ? (int)p->ins[in->src[0]].ival : -1;
      if (param < 0 || p->params[param].local || p->params[param].written) continue;
      int64_t coef;
      cg_interval b = iv[in->src[1]];
      if (!affine_in(&A, in->src[1], &coef) || coef <= 0 || !b.ok || b.hi < 0) continue;
      b.lo = b.lo < 0 ? 0 : b.lo; /* a padded copy's gated loads reach before the slab */
      add_source(src, &n, param, coef, b);
    }
  }
  /* a slab is at most coef elements: more (a padded copy's gated loads reach past both ends) is
     cut to coef; far more is strided reads (the thread loop along an inner dim): no slab */
  int kept = 0;
  for (int k = 0; k < n; k++) {
    if (src[k].hi - src[k].lo >= 2 * src[k].coef) continue;
    if (src[k].hi - src[k].lo >= src[k].coef) src[k].hi = src[k].lo + src[k].coef - 1;
    src[kept++] = src[k];
  }
  free(A.memo);
  free(A.coefs);
  free(iv);
  return kept;
}

/* the tile counter of acc within its top loop (every loop between them a plain output loop of
   constant trip, and acc the first accumulator there): its expression into b, *tiles the count */
static int tile_counter(const cg_program *p, int acc, int top, cg_sbuf *b, int64_t *tiles) {
  int loops[8], n = 0;
  for (int k = cg_enclosing_loop(p, acc); k >= 0 && n < 8; k = cg_enclosing_loop(p, k)) {
    if (p->ins[k].ival2 != RANGE_GLOBAL || cg_loop_trip(p, k) < 1) return 0;
    loops[n++] = k;
    if (k == top) break;
  }
  if (!n || loops[n - 1] != top) return 0;
  /* Horner's form, outermost first: ((v_top * t1 + v1) * t2 + v2) */
  *tiles = cg_loop_trip(p, top);
  for (int k = 0; k < n - 1; k++) cg_sbuf_puts(b, "(");
  cg_sbuf_printf(b, "v%d", top);
  for (int k = n - 2; k >= 0; k--) {
    cg_sbuf_printf(b, " * %lldLL + v%d)", (long long)cg_loop_trip(p, loops[k]), loops[k]);
    *tiles *= cg_loop_trip(p, loops[k]);
  }
  return 1;
}

/* acc is the first accumulator in its loop directly inside the thread loop (that loop in *top) */
static int first_acc_of_tile(const cg_program *p, int acc, int *top) {
  *top = p->thread_ins >= 0 ? top_loop(p, acc) : -1;
  if (*top < 0) return 0;
  for (int j = *top + 1; j < acc; j++)
    if (p->ins[j].op == OP_DEFINE_ACC) return 0;
  return 1;
}

int cg_render_slab_prefetch(const cg_program *p, int acc, cg_sbuf *b, const char *indent) {
  int top, t = p->thread_ins;
  if (!first_acc_of_tile(p, acc, &top)) return 0;
  slab_source src[MAX_SLAB_SOURCES];
  int n = slab_sources(p, top, src), done = 0;
  int64_t tiles = 0;
  cg_sbuf counter = {0};
  if (n && tile_counter(p, acc, top, &counter, &tiles))
    for (int k = 0; k < n; k++) {
      int size = cg_dtype_size(p->params[src[k].param].dtype);
      int64_t lines = ((src[k].hi - src[k].lo + 1) * size + LINE_BYTES - 1) / LINE_BYTES + 1;
      int64_t per = (lines + tiles - 1) / tiles;
      per = per > MAX_SLAB_LINES_PER_TILE ? MAX_SLAB_LINES_PER_TILE : per;
      cg_sbuf_printf(b, "%sfor (long long pf = 0; pf < %lld; pf++) ", indent, (long long)per);
      cg_sbuf_printf(b, "__builtin_prefetch((const void *)((unsigned long long)data%d + ", src[k].param);
      cg_sbuf_printf(b, "(unsigned long long)((v%d + 1) * %lldLL + %lldLL) * %d + ", t, (long long)src[k].coef,
                     (long long)src[k].lo, size);
      cg_sbuf_printf(b, "(unsigned long long)(%s * %lldLL + pf) * %d), 0, 3);\n", counter.s, (long long)per, LINE_BYTES);
      done++;
    }
  cg_sbuf_free(&counter);
  return done;
}
