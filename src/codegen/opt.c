/* Heuristic optimizations on the lowered kernel graph. Both the C backend and the interpreter
   run the optimized program, so opts never change which results the two backends agree on.

   UNROLL of a reduce: the innermost reduce range r (size N) becomes r1*K + u, with u an UPCAST
   range of K lanes, each lane its own accumulator. The C compiler may not reorder a float sum,
   so K independent accumulators are what lets it use vector registers and hide add latency. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/rewrite.h"
#include "opt.h"

static int lanes_for(int dtype) { return cg_dtype_size(dtype) >= 8 ? 8 : 16; }

/* lanes: a fixed lane count that must divide the range and read consecutive elements along it
   (GPU: four lanes are one vector load), or 0 for the CPU rule (the widest up to max_lanes that
   divides) */
typedef struct { cg_lowered *l; int applied, lanes, max_lanes; } unroller;

static int unit_loads_along(uop *u, uop *r, int64_t block);
static int has_op(uop *u, int op, cg_ptrmap *seen);

/* The lane count reduce u would be unrolled by, or 0 if it does not fit.
   Only floats: the compiler already vectorizes integer reductions (wrapping adds reassociate),
   and gcc 12.2 -O2 -mavx2 miscompiles the unrolled-lane pattern for int accumulators (a sum of
   4096 int8 ones gave 2048; tests/test_numpy.py keeps the case). */
static int64_t unroll_lanes(const unroller *un, uop *u) {
  if (u->op != OP_REDUCE || u->src[u->nsrc - 1]->ival2 != RANGE_REDUCE || !cg_dtype_is_float(u->dtype))
    return 0;
  uop *r = u->src[u->nsrc - 1];
  int64_t n = r->vmax + 1, k = un->lanes;
  if (!k) k = un->max_lanes < lanes_for(u->dtype) ? un->max_lanes : lanes_for(u->dtype);
  while (!un->lanes && k > 4 && n % k) k--; /* the widest lane count that divides the range */
  if (r->src[0]->op != OP_CONST || n % k || n < 2 * k || u->nsrc + 1 > 9) return 0; /* r1 >= 2: a size-1 range would fold away */
  if (un->lanes && !unit_loads_along(u->src[0], r, k)) return 0;
  return k;
}

static uop *unroll_reduce(uop_ctx *c, uop *u, void *ctx) {
  unroller *un = ctx;
  int64_t k = unroll_lanes(un, u);
  if (!k) return NULL;
  uop *r = u->src[u->nsrc - 1];
  int64_t n = r->vmax + 1;
  cg_lowered *l = un->l;
  uop *e1 = uop_const_int(c, CG_I64, n / k), *ek = uop_const_int(c, CG_I64, k);
  uop *r1 = uop_new(c, OP_RANGE, CG_I64, &e1, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_REDUCE}, NULL);
  uop *lane = uop_new(c, OP_RANGE, CG_I64, &ek, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_UNROLL}, NULL);
  uop *idx = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, r1, ek), lane);
  uop *src[10];
  src[0] = cg_simplify(c, uop_substitute(c, u->src[0], r, idx));
  for (int i = 1; i < u->nsrc - 1; i++) src[i] = u->src[i];
  src[u->nsrc - 1] = r1;
  src[u->nsrc] = lane;
  un->applied++;
  return uop_new(c, OP_REDUCE, u->dtype, src, u->nsrc + 1, (uop_arg){.ival = u->ival}, NULL);
}

/* some reduce in u would be unrolled (the rewrite's test, without rewriting) */
static int unroll_fits(const unroller *un, uop *u, cg_ptrmap *seen) {
  if (cg_ptrmap_get(seen, u)) return 0;
  cg_ptrmap_put(seen, u, (void *)1);
  if (unroll_lanes(un, u)) return 1;
  for (int i = 0; i < u->nsrc; i++)
    if (unroll_fits(un, u->src[i], seen)) return 1;
  return 0;
}

/* ---- UPCAST of the last output dim in reduce kernels ----
   g (size N) becomes g1*K + u with u an UPCAST range: every reduce in the kernel that depends on
   g then keeps K accumulators (one per output lane) and runs its body for all K lanes back to
   back, which the compiler turns into vector code when g is the unit-stride index of a load
   (a matmul's B[k, j]). */
static int depends_on(uop *u, uop *r, cg_ptrmap *memo);
static int64_t reduce_length(uop *u, cg_ptrmap *seen);
enum { MAX_WINDOW = 16 }; /* a reduce this short is a pooling window */
enum { MIN_INNER = 8 };   /* INNER: a shorter dim gives the vectorizer too little */

/* a REDUCE whose value changes along r (a matmul's dot products along j; not a softmax's row
   max, which the consumer broadcasts along r) */
static int find_reduce_along(uop *u, uop *r, cg_ptrmap *seen, cg_ptrmap *memo) {
  if (cg_ptrmap_get(seen, u)) return 0;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == OP_REDUCE && depends_on(u, r, memo)) return 1;
  for (int i = 0; i < u->nsrc; i++)
    if (find_reduce_along(u->src[i], r, seen, memo)) return 1;
  return 0;
}

static int depends_on(uop *u, uop *r, cg_ptrmap *memo) {
  if (u == r) return 1;
  void *m = cg_ptrmap_get(memo, u);
  if (m) return m == (void *)2;
  int d = 0;
  for (int i = 0; i < u->nsrc && !d; i++) d = depends_on(u->src[i], r, memo);
  cg_ptrmap_put(memo, u, (void *)(intptr_t)(d ? 2 : 1));
  return d;
}

/* r, or r % c with c a multiple of block (a layout packed in blocks of columns), is a term of
   the index sum: `block` consecutive lanes of r from a multiple of block read consecutive
   elements */
static int is_unit_term(uop *idx, uop *r, int64_t block) {
  if (idx == r) return 1;
  if (idx->op == OP_MOD && idx->src[0] == r && idx->src[1]->op == OP_CONST && idx->src[1]->ival % block == 0)
    return 1;
  return idx->op == OP_ADD && (is_unit_term(idx->src[0], r, block) || is_unit_term(idx->src[1], r, block));
}

/* r*s with 1 < s <= MAX_STRIDE is a term of the index sum (a pooling window's step) */
enum { MAX_STRIDE = 2 };
static int is_strided_term(uop *idx, uop *r) {
  if (idx->op == OP_MUL && idx->src[0] == r && idx->src[1]->op == OP_CONST && idx->src[1]->ival > 1 &&
      idx->src[1]->ival <= MAX_STRIDE)
    return 1;
  return idx->op == OP_ADD && (is_strided_term(idx->src[0], r) || is_strided_term(idx->src[1], r));
}

/* Count loads whose index depends on r: *good with unit stride (in blocks), *bad otherwise
   (a stride of at most MAX_STRIDE counts as good where block is 0: see upcast_output_lanes). */
static void load_strides(uop *u, uop *r, int64_t block, cg_ptrmap *seen, cg_ptrmap *memo, int *good, int *bad) {
  if (cg_ptrmap_get(seen, u)) return;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == OP_LOAD && depends_on(u->src[1], r, memo)) {
    if (block ? is_unit_term(u->src[1], r, block) : is_unit_term(u->src[1], r, 1) || is_strided_term(u->src[1], r))
      (*good)++;
    else (*bad)++;
  }
  for (int i = 0; i < u->nsrc; i++) load_strides(u->src[i], r, block, seen, memo, good, bad);
}

/* output range d (size n = g1 * k) becomes g1*k + u: g1 stays at d, the UPCAST range u of k
   lanes goes innermost */
static void split_output(cg_lowered *l, int d, int64_t k) {
  uop *g = l->global_range[d];
  int64_t n = g->vmax + 1;
  uop_ctx *c = l->c;
  uop *e1 = uop_const_int(c, CG_I64, n / k), *ek = uop_const_int(c, CG_I64, k);
  uop *g1 = uop_new(c, OP_RANGE, CG_I64, &e1, 1, (uop_arg){.ival = g->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *lane = uop_new(c, OP_RANGE, CG_I64, &ek, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_UPCAST}, NULL);
  uop *idx = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, g1, ek), lane);
  l->sink = cg_simplify(c, uop_substitute(c, l->sink, g, idx));
  l->global_range[d] = g1;
  l->global_size[d] = n / k;
  l->global_range[l->nglobal] = lane;
  l->global_size[l->nglobal++] = k;
}

static void split_last_output(cg_lowered *l, int64_t k) { split_output(l, l->nglobal - 1, k); }

/* output loop `from` moves inward to position `to` (>= from), the loops between move out one */
static void move_output_dim(cg_lowered *l, int from, int to) {
  uop *g = l->global_range[from];
  int64_t size = l->global_size[from];
  for (int k = from; k < to; k++) {
    l->global_range[k] = l->global_range[k + 1];
    l->global_size[k] = l->global_size[k + 1];
  }
  l->global_range[to] = g;
  l->global_size[to] = size;
}

/* some load along r, and every one reads consecutive elements in blocks */
static int unit_loads_along(uop *u, uop *r, int64_t block) {
  cg_ptrmap seen = {0}, memo = {0};
  int good = 0, bad = 0;
  load_strides(u, r, block, &seen, &memo, &good, &bad);
  cg_ptrmap_free(&seen);
  cg_ptrmap_free(&memo);
  return good && !bad;
}

static int has_upcast(const cg_lowered *l) {
  for (int d = 0; d < l->nglobal; d++)
    if (l->global_range[d]->ival2 == RANGE_UPCAST) return 1;
  return 0;
}

/* UPCAST of the last output dim by k fits: a constant trip count that k divides, a float output
   (integer lanes meet the gcc bug above), no UPCAST range yet */
static int upcast_fits(cg_lowered *l, int64_t k) {
  if (l->nglobal == 0 || l->nglobal >= CG_MAX_DIMS || has_upcast(l) || !cg_dtype_is_float(l->param_dtype[0]))
    return 0;
  uop *g = l->global_range[l->nglobal - 1];
  int64_t n = g->vmax + 1;
  return g->src[0]->op == OP_CONST && k >= 2 && n % k == 0 && n >= k;
}

/* the heuristic's lane count for the last output dim, or 0 where an UPCAST does not pay */
static int upcast_output_lanes(cg_lowered *l) {
  if (l->nglobal == 0) return 0;
  uop *g = l->global_range[l->nglobal - 1];
  int64_t n = g->vmax + 1, k = lanes_for(l->param_dtype[0]);
  while (k > 4 && n % k) k--; /* the widest lane count that divides the dim (14 -> 14, 28 -> 14) */
  if (!upcast_fits(l, k)) return 0;
  /* worth it only when every load that follows g reads consecutive elements (no gathers) */
  cg_ptrmap seen = {0}, seen2 = {0}, memo = {0}, seen3 = {0};
  int good = 0, bad = 0, has_reduce = find_reduce_along(l->sink, g, &seen, &memo);
  /* a window reduce (pooling: a few steps) reads along g with the window's stride: its lanes
     are loads of every other element, which the compiler pairs into vector loads and shuffles,
     and are still better than scalar max chains of a few steps each */
  int64_t len = reduce_length(l->sink, &seen3);
  if (has_reduce) load_strides(l->sink, g, len <= MAX_WINDOW ? 0 : k, &seen2, &memo, &good, &bad);
  cg_ptrmap_free(&seen3);
  cg_ptrmap_free(&seen);
  cg_ptrmap_free(&seen2);
  cg_ptrmap_free(&memo);
  return has_reduce && good && !bad ? (int)k : 0;
}

/* ---- register tile for matmul-shaped kernels: UPCAST of the last two output dims ----
   gi (rows, size M) and gj (cols, size N) become gi1*TM + ui and gj1*TN + uj with UPCAST ranges
   ui (TM lanes) and uj (TN lanes): every reduce along both keeps a TM x TN tile of accumulators,
   and each step of the reduce loop runs all lanes back to back (the linearizer nests uj in ui,
   so a row's value is loaded once per ui, outside uj). Unrolled, the TN unit-stride loads along
   gj become vector loads shared by the TM rows, and the row's value (independent of gj) one
   broadcast shared by the TN columns: per reduce step TN/8 + TM loads for TM*TN/8 vector
   mul+adds, where a 1 x TN tile needed TN/8 + 1 loads for TN/8. TM*TN/8 = 8 accumulators leave
   registers for the B vectors, the broadcast and the product (16 ymm registers). */
enum { TILE_M = 4, TILE_N = 16 };

/* every load that follows gi ignores gj: a broadcast along the tile's columns (memo_i and
   memo_j are depends_on's memos for gi and gj) */
static int loads_ignore(uop *u, uop *gi, uop *gj, cg_ptrmap *seen, cg_ptrmap *memo_i, cg_ptrmap *memo_j) {
  if (cg_ptrmap_get(seen, u)) return 1;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == OP_LOAD && depends_on(u->src[1], gi, memo_i) && depends_on(u->src[1], gj, memo_j)) return 0;
  for (int i = 0; i < u->nsrc; i++)
    if (!loads_ignore(u->src[i], gi, gj, seen, memo_i, memo_j)) return 0;
  return 1;
}

/* reduces along both dims, unit-stride loads along gj (in blocks of tn), loads along gi
   broadcast along gj */
static int is_matmul_shaped(cg_lowered *l, uop *gi, uop *gj, int64_t tn) {
  cg_ptrmap seen[4] = {{0}}, memo_i = {0}, memo_j = {0};
  int good = 0, bad = 0;
  int ok = find_reduce_along(l->sink, gj, &seen[0], &memo_j) && find_reduce_along(l->sink, gi, &seen[1], &memo_i);
  if (ok) load_strides(l->sink, gj, tn, &seen[2], &memo_j, &good, &bad);
  ok = ok && good && !bad && loads_ignore(l->sink, gi, gj, &seen[3], &memo_i, &memo_j);
  for (int i = 0; i < 4; i++) cg_ptrmap_free(&seen[i]);
  cg_ptrmap_free(&memo_i);
  cg_ptrmap_free(&memo_j);
  return ok;
}

/* trip count of the first reduce found (a matmul's K), 0 if none */
static int64_t reduce_length(uop *u, cg_ptrmap *seen) {
  if (cg_ptrmap_get(seen, u)) return 0;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == OP_REDUCE) {
    int64_t len = 1;
    for (int i = 1; i < u->nsrc; i++) len *= u->src[i]->vmax + 1;
    return len;
  }
  for (int i = 0; i < u->nsrc; i++) {
    int64_t len = reduce_length(u->src[i], seen);
    if (len) return len;
  }
  return 0;
}

/* column panels per block: as many as fit BLOCK_BYTES of L2 together (K x tn floats each),
   a power of two that divides the panel count, leaving at least MIN_BLOCKS blocks for the
   threads to share (the block loop is the outermost, the one split across threads) */
enum { BLOCK_BYTES = 256 << 10, MIN_BLOCKS = 4 };
static int64_t panels_per_block(int64_t cols, int64_t tn, int64_t k) {
  int64_t panels = cols / tn, jb = 1;
  while (jb * 2 * k * tn * 4 <= BLOCK_BYTES && panels % (jb * 2) == 0 && panels / (jb * 2) >= MIN_BLOCKS)
    jb *= 2;
  return jb;
}

/* a tm x tn register tile with output dim d as its rows fits once the column count is n: f32,
   constant row and column counts they divide, matmul-shaped */
static int tile_fits_at(cg_lowered *l, int d, int64_t tm, int64_t tn, int64_t n) {
  if (l->nglobal < 2 || l->nglobal + 3 > CG_MAX_DIMS || l->param_dtype[0] != CG_F32 || has_upcast(l) || tm < 1 ||
      tn < 1 || d < 0 || d >= l->nglobal - 1)
    return 0;
  uop *gi = l->global_range[d], *gj = l->global_range[l->nglobal - 1];
  int64_t m = gi->vmax + 1;
  return gi->src[0]->op == OP_CONST && gj->src[0]->op == OP_CONST && m % tm == 0 && n % tn == 0 &&
         is_matmul_shaped(l, gi, gj, tn);
}

static int tile_fits(cg_lowered *l, int64_t tm, int64_t tn) {
  return l->nglobal >= 2 && tile_fits_at(l, l->nglobal - 2, tm, tn, l->global_range[l->nglobal - 1]->vmax + 1);
}

/* ROWS: output dim d moves to second to last, where the tile takes its rows (a convolution's
   output channels, out of (N, Cout, H, W), whose loads broadcast along W where H's do not) */
static int apply_rows(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  if (has_upcast(l) || l->tile_dim >= 0 || o.amt < 0 || o.amt >= l->nglobal - 2) return 0;
  move_output_dim(l, o.amt, l->nglobal - 2);
  return 1;
}

/* COLS: output dim d moves to the last, where the tile takes its columns (a convolution's output
   channels, whose weight is stored channels-last by src/tensor/nn_ops.c: the tile's vectors then
   run along them, with its rows the pixels) */
static int apply_cols(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  if (has_upcast(l) || l->tile_dim >= 0 || o.amt < 0 || o.amt >= l->nglobal - 1) return 0;
  move_output_dim(l, o.amt, l->nglobal - 1);
  return 1;
}

/* The channel tile: TM x TN with output dim d as its columns (COLS d), where the plain tile does
   not fit the last dim as it is: 2 rows x 4 vectors (32 columns), else 4 rows x 2 vectors (16):
   8 accumulators, per reduce step TN/8 vector loads and TM broadcasts. Each vector serves the
   tile's few rows only, so the columns' operand for the whole reduce (K x TN floats) must stay in
   L1 (src/tensor/nn_ops.c stores a convolution's weight for it only then): a longer reduce keeps
   the other tiles and their K blocking. The rows (the last dim: a convolution's pixels of one
   output row) are taken as they are where a tile divides them, else widened (WIDEN first) to a
   multiple of TM; better, where the rows and the dim above them are even, the tile's 4 rows are
   2 x 2 squares of pixels (SQUARE 2 first): conv2's input gradient (16 channels, 14 x 14 pixels)
   gets 4 x 16 with no pixel computed in vain, where widened rows (14 run as 16) cost 1/7 more.
   The output dim it takes (-1 if none fits), *tm, *tn, *wide (the rows, widened or not) and
   *square (the rows in squares with the dim above them). */
static const int64_t channel_tiles[][2] = {{2, 32}, {4, 16}};
enum { CHANNEL_TILE_BYTES = 24 << 10 };
enum { WIDEN_MAX_WASTE = 4 }; /* WIDEN: at most a quarter more columns */
enum { SQUARE_SIDE = 2 };     /* SQUARE's side in the channel tile: 2 x 2 pixels for its 4 rows */
static int64_t channel_tile_of(int64_t cols_dim, int64_t rows, int64_t above, int64_t reduce, int64_t *tn,
                               int64_t *wide, int *square) {
  /* pass 0: the rows as they are; 1: squares of the rows and the dim above; 2: widened rows */
  for (int pass = 0; pass < 3; pass++)
    for (size_t t = 0; t < sizeof channel_tiles / sizeof *channel_tiles; t++) {
      int64_t tm = channel_tiles[t][0], w = (rows + tm - 1) / tm * tm;
      int shape_fits = pass == 0 ? w == rows
                       : pass == 1 ? w != rows && tm == SQUARE_SIDE * SQUARE_SIDE && rows % SQUARE_SIDE == 0 &&
                                         above > 0 && above % SQUARE_SIDE == 0
                                   : w != rows && (w - rows) * WIDEN_MAX_WASTE <= rows;
      *tn = channel_tiles[t][1], *wide = pass == 2 ? w : rows, *square = pass == 1;
      if (shape_fits && reduce >= 2 && reduce * *tn * 4 <= CHANNEL_TILE_BYTES && cols_dim % *tn == 0) return tm;
    }
  return 0;
}

int cg_channel_tile_rows(int64_t cols_dim, int64_t rows, int64_t above, int64_t reduce, int64_t *wide) {
  int64_t tn;
  int square;
  return (int)channel_tile_of(cols_dim, rows, above, reduce, &tn, wide, &square);
}

static int64_t widen_fits(cg_lowered *l, int64_t multiple);

static int channel_tile_dim(cg_lowered *l, int64_t *tm, int64_t *tn, int64_t *wide, int *square) {
  if (l->nglobal < 3 || has_upcast(l) || l->tile_dim >= 0 || l->param_dtype[0] != CG_F32 ||
      l->nglobal + 3 > CG_MAX_DIMS || l->global_range[l->nglobal - 1]->src[0]->op != OP_CONST)
    return -1;
  cg_ptrmap seen = {0};
  int64_t k = reduce_length(l->sink, &seen);
  cg_ptrmap_free(&seen);
  int last = l->nglobal - 1;
  uop *rows_dim = l->global_range[last], *up = l->global_range[last - 1];
  int64_t rows = rows_dim->vmax + 1;
  for (int d = last - 1; d >= 1; d--) { /* not the outermost: the threads' loop */
    uop *gd = l->global_range[d];
    if (gd->src[0]->op != OP_CONST) continue;
    /* squares take the dim above the rows along (not the columns; SQUARE adds an output dim);
       where they do not fit, the rows as they are or widened */
    int squares = d != last - 1 && up->src[0]->op == OP_CONST && l->nglobal + 4 <= CG_MAX_DIMS;
    for (int with_squares = squares; with_squares >= 0; with_squares--) {
      *tm = channel_tile_of(gd->vmax + 1, rows, with_squares ? up->vmax + 1 : 0, k, tn, wide, square);
      if (*tm && is_matmul_shaped(l, rows_dim, gd, *tn) && (!*square || is_matmul_shaped(l, up, gd, *tn)) &&
          (*wide == rows || widen_fits(l, *tm) == *wide))
        return d;
    }
  }
  return -1;
}

/* the tile, with the column panels in blocks of jb (1: no blocking); tile_fits was checked */
static void tile_apply(cg_lowered *l, int64_t tile_m, int64_t tile_n, int64_t jb) {
  int di = l->nglobal - 2, dj = l->nglobal - 1;
  uop *gi = l->global_range[di], *gj = l->global_range[dj];
  int64_t m = gi->vmax + 1, n = gj->vmax + 1;
  uop_ctx *c = l->c;
  uop *em = uop_const_int(c, CG_I64, m / tile_m), *en = uop_const_int(c, CG_I64, n / tile_n);
  uop *tm = uop_const_int(c, CG_I64, tile_m), *tn = uop_const_int(c, CG_I64, tile_n);
  uop *gi1 = uop_new(c, OP_RANGE, CG_I64, &em, 1, (uop_arg){.ival = gi->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *gj1 = uop_new(c, OP_RANGE, CG_I64, &en, 1, (uop_arg){.ival = gj->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *ui = uop_new(c, OP_RANGE, CG_I64, &tm, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_UPCAST}, NULL);
  uop *uj = uop_new(c, OP_RANGE, CG_I64, &tn, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_UPCAST}, NULL);
  uop *row = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, gi1, tm), ui);
  uop *col = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, gj1, tn), uj);
  l->sink = cg_simplify(c, uop_substitute(c, uop_substitute(c, l->sink, gi, row), gj, col));
  /* column tiles outside row tiles: a block of B panels (K x tn each) is reused by every row
     tile while it is in cache, and A's rows stream through, each row tile's K x tm slice
     read once per panel of the block while it is still in L1 */
  uop *ej = uop_const_int(c, CG_I64, jb), *eb = uop_const_int(c, CG_I64, n / tile_n / jb);
  uop *gj2 = uop_new(c, OP_RANGE, CG_I64, &eb, 1, (uop_arg){.ival = gj->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *gjb = uop_new(c, OP_RANGE, CG_I64, &ej, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_GLOBAL}, NULL);
  if (jb > 1) l->sink = cg_simplify(c, uop_substitute(c, l->sink, gj1, uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, gj2, ej), gjb)));
  else gj2 = gj1;
  l->global_range[di] = gj2;
  l->global_size[di] = n / tile_n / jb;
  l->tile_dim = di;
  l->global_range[dj] = gi1;
  l->global_size[dj] = m / tile_m;
  if (jb > 1) {
    l->global_range[l->nglobal] = gjb;
    l->global_size[l->nglobal++] = jb;
  }
  l->global_range[l->nglobal] = ui;
  l->global_size[l->nglobal++] = tile_m;
  l->global_range[l->nglobal] = uj;
  l->global_size[l->nglobal++] = tile_n;
}

/* ---- a wider last output dim with a gated store (WIDEN) ----
   A convolution on the flat padded layout (src/tensor/nn_ops.c) computes each output row at W'
   positions, W' (16 for conv2's 14 columns) a multiple of the tile's 16 columns, and used to
   store all of them and crop the W real ones in a copy of its own. Now the cropped output is the
   kernel's: its last dim (14) is run as 16, every load staying inside its buffer (checked on the
   index bounds), and the store gated to the real columns (a masked vector store in the C
   renderer): the tile fits and the crop copy (0.7 ms of conv2's forward) is gone. The lanes
   past the gate compute values nobody stores. */

static int loads_in_bounds(cg_lowered *l, uop *u, cg_ptrmap *seen) {
  if (cg_ptrmap_get(seen, u)) return 1;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == OP_LOAD) {
    uop *idx = u->src[1];
    int64_t k = u->src[0]->ival;
    if (k < 0 || k >= l->nparams || idx->vmin < 0 || idx->vmax >= l->param_numel[k]) return 0;
  }
  for (int i = 0; i < u->nsrc; i++)
    if (!loads_in_bounds(l, u->src[i], seen)) return 0;
  return 1;
}

/* the last dim's new size, a multiple of `multiple` (0: it is one already, or widening does not
   fit: a gated or non-float store, a variable size, too many wasted columns) */
static int64_t widened_size(cg_lowered *l, int64_t multiple) {
  uop *store = l->sink->src[0], *g = l->nglobal ? l->global_range[l->nglobal - 1] : NULL;
  if (!g || multiple < 2 || has_upcast(l) || l->tile_dim >= 0 || store->op != OP_STORE || store->nsrc != 3 ||
      g->src[0]->op != OP_CONST)
    return 0;
  int64_t n = g->vmax + 1, wide = (n + multiple - 1) / multiple * multiple;
  return wide == n || (wide - n) * WIDEN_MAX_WASTE > n ? 0 : wide;
}

/* l's sink with its last dim run to `wide` (the new range in *gw) and the store gated to the old
   size; NULL if some load would leave its buffer. l itself is unchanged. */
static uop *widened_sink(cg_lowered *l, int64_t wide, uop **gw) {
  uop_ctx *c = l->c;
  uop *g = l->global_range[l->nglobal - 1], *store = l->sink->src[0], *ew = uop_const_int(c, CG_I64, wide);
  *gw = uop_new(c, OP_RANGE, CG_I64, &ew, 1, (uop_arg){.ival = g->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *gate = uop_alu(c, OP_CMPLT, CG_BOOL, *gw, uop_const_int(c, CG_I64, g->vmax + 1));
  uop *src[4] = {store->src[0], store->src[1], store->src[2], gate};
  for (int i = 1; i < 3; i++) src[i] = uop_substitute(c, src[i], g, *gw);
  uop *st = uop_new(c, OP_STORE, store->dtype, src, 4, (uop_arg){0}, NULL);
  uop *sink = cg_simplify(c, uop_replace_src(c, l->sink, &st, 1));
  cg_ptrmap seen = {0};
  int ok = loads_in_bounds(l, sink, &seen);
  cg_ptrmap_free(&seen);
  return ok ? sink : NULL;
}

/* widening to a multiple of `multiple` fits: the new size (0: it does not) */
static int64_t widen_fits(cg_lowered *l, int64_t multiple) {
  uop *gw;
  int64_t wide = widened_size(l, multiple);
  return wide && widened_sink(l, wide, &gw) ? wide : 0;
}

/* ---- K blocking of a register tile (KBLOCK) ----
   At large K a tile's reduce reads a K x 16 panel of B and a K x 4 slice of A per tile; once a
   panel outgrows L2, A streams from memory once per panel. KBLOCK cuts the reduce range r into
   blocks, r = kb*KC + ki, and makes kb an output-side loop just inside the tile's column-block
   loop (the one split across threads): each block's tiles reuse a KC x 16*PANEL block of B from
   L2 and KC x 4 slices of A from L1. The tile's partial sums live in the output between blocks:
       out = (kb > 0 ? out : 0) + sum over the block      (the epilogue only at the last block)
   so the kernel reads its output back (never in place: program.h reads_output). Matmul
   operands are packed block-major (src/tensor/reduce.c), which shows in B's index as r // KC
   and r % KC: the block length comes from there. (Tried and dropped: a two-range reduce, a
   convolution's weight gradient over samples x positions, with the samples as the blocks:
   conv2's tile went from 4.4 to 5.3 ms.) */

static void find_ops(uop *u, int op, cg_ptrmap *seen, uop **found, int *count) {
  if (cg_ptrmap_get(seen, u)) return;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == op && (*count)++ == 0) *found = u;
  for (int i = 0; i < u->nsrc; i++) find_ops(u->src[i], op, seen, found, count);
}

/* the kernel's one node of kind op (its REDUCE, a copy's LOAD); NULL if none or several */
static uop *single_op(cg_lowered *l, int op) {
  cg_ptrmap seen = {0};
  uop *found = NULL;
  int count = 0;
  find_ops(l->sink, op, &seen, &found, &count);
  cg_ptrmap_free(&seen);
  return count == 1 ? found : NULL;
}

/* c of an index term r // c or r % c (the block length of a block-major layout), or 0 */
static int64_t layout_block(uop *u, uop *r, cg_ptrmap *seen) {
  if (cg_ptrmap_get(seen, u)) return 0;
  cg_ptrmap_put(seen, u, (void *)1);
  if ((u->op == OP_IDIV || u->op == OP_MOD) && u->src[0] == r && u->src[1]->op == OP_CONST) return u->src[1]->ival;
  for (int i = 0; i < u->nsrc; i++) {
    int64_t c = layout_block(u->src[i], r, seen);
    if (c) return c;
  }
  return 0;
}

/* the block length KBLOCK would use for this kernel's reduce (0: none fits), with room for
   `dims` more output loops (1 for the block loop once tiled; 3 before: the tile's 2 as well) */
static int64_t kblock_length(cg_lowered *l, int dims, uop **red_out) {
  uop *red = single_op(l, OP_REDUCE), *store = l->sink->src[0];
  if (!red || red->nsrc != 2 || red->ival != OP_ADD || red->dtype != CG_F32 ||
      l->nglobal + dims > CG_MAX_DIMS || store->op != OP_STORE || store->nsrc != 3 || store->src[2]->dtype != CG_F32)
    return 0;
  uop *r = red->src[1];
  cg_ptrmap seen = {0};
  int64_t kc = r->src[0]->op == OP_CONST ? layout_block(red->src[0], r, &seen) : 0, k = r->vmax + 1;
  cg_ptrmap_free(&seen);
  if (kc < 2 || k % kc || k / kc < 2) return 0;
  *red_out = red;
  return kc;
}

/* a new output loop at position `at`, the loops from there on move in one */
static void insert_output_dim(cg_lowered *l, int at, uop *range, int64_t size) {
  for (int d = l->nglobal; d > at; d--) {
    l->global_range[d] = l->global_range[d - 1];
    l->global_size[d] = l->global_size[d - 1];
  }
  l->global_range[at] = range;
  l->global_size[at] = size;
  l->nglobal++;
}

static void kblock_apply(cg_lowered *l, uop *red, int64_t kc) {
  uop_ctx *c = l->c;
  uop *r = red->src[1], *store = l->sink->src[0];
  int64_t blocks = (r->vmax + 1) / kc;
  uop *eb = uop_const_int(c, CG_I64, blocks), *ec = uop_const_int(c, CG_I64, kc);
  uop *kb = uop_new(c, OP_RANGE, CG_I64, &eb, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_GLOBAL}, NULL);
  uop *ki = uop_new(c, OP_RANGE, CG_I64, &ec, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_REDUCE}, NULL);
  uop *k = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, kb, ec), ki);
  uop *rsrc[2] = {cg_simplify(c, uop_substitute(c, red->src[0], r, k)), ki};
  uop *part = uop_new(c, OP_REDUCE, red->dtype, rsrc, 2, (uop_arg){.ival = red->ival}, NULL);
  /* the earlier blocks' sum, read back from the output (nothing to read in the first block) */
  uop *first = uop_alu(c, OP_CMPNE, CG_BOOL, kb, uop_const_int(c, CG_I64, 0));
  uop *lsrc[3] = {store->src[0], store->src[1], first};
  uop *prev = uop_new(c, OP_LOAD, CG_F32, lsrc, 3, (uop_arg){0}, NULL);
  uop *sum = uop_alu(c, OP_ADD, CG_F32, prev, part);
  uop *val = store->src[2] == red ? sum : uop_substitute(c, store->src[2], red, sum);
  if (val != sum) /* the epilogue (bias, activation...) once the sum is complete */
    val = uop_where(c, uop_alu(c, OP_CMPLT, CG_BOOL, kb, uop_const_int(c, CG_I64, blocks - 1)), sum, val);
  uop *ssrc[3] = {store->src[0], store->src[1], val};
  uop *st = uop_replace_src(c, store, ssrc, 3);
  l->sink = cg_simplify(c, uop_replace_src(c, l->sink, &st, 1));
  insert_output_dim(l, l->tile_dim + 1, kb, blocks);
}

/* ---- row blocks of a K-blocked tile (ROWBLOCK) ----
   After KBLOCK a tile's loops run (column block, k block, row tile, panel): each row tile's
   K x 4 slice of A stays in L1 while the panels of the k block's B (KC x 16 floats each) stream
   from L2, 16 KiB a tile. ROWBLOCK rb cuts the row tiles into blocks of rb and runs a block's
   tiles inside the panel loop, (column block, k block, row block, panel, row tile): now a panel
   of B stays in L1 for rb tiles and the block's slices of A (rb x 4 KiB) come from L2, the
   loads from L2 a quarter of what they were (GotoBLAS's order of the loops). The 4096^3 kernel
   alone on two threads, six alternating runs each: 839-1032 -> 816-965 ms (medians 915 -> 895;
   a hand-written version of the same order earlier: medians 900 -> 819). */
enum { ROW_BLOCK = 16 };

static int rowblock_fits(cg_lowered *l, int64_t rb) {
  int t = l->tile_dim;
  /* (.., column block, k block, row tiles, panel, tile rows, tile cols) as TILE, PANEL, KBLOCK leave them */
  if (t < 0 || rb < 2 || l->nglobal != t + 6 || l->nglobal + 1 > CG_MAX_DIMS) return 0;
  uop *kb = l->global_range[t + 1], *rows = l->global_range[t + 2], *panel = l->global_range[t + 3];
  return kb->ival2 == RANGE_GLOBAL && rows->ival2 == RANGE_GLOBAL && panel->ival2 == RANGE_GLOBAL &&
         rows->src[0]->op == OP_CONST && (rows->vmax + 1) % rb == 0;
}

static int apply_rowblock(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  if (!rowblock_fits(l, o.amt)) return 0;
  uop_ctx *c = l->c;
  int t = l->tile_dim;
  uop *rows = l->global_range[t + 2];
  int64_t n = rows->vmax + 1, rb = o.amt;
  uop *eo = uop_const_int(c, CG_I64, n / rb), *ei = uop_const_int(c, CG_I64, rb);
  uop *outer = uop_new(c, OP_RANGE, CG_I64, &eo, 1, (uop_arg){.ival = rows->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *inner = uop_new(c, OP_RANGE, CG_I64, &ei, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_GLOBAL}, NULL);
  uop *idx = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, outer, ei), inner);
  l->sink = cg_simplify(c, uop_substitute(c, l->sink, rows, idx));
  l->global_range[t + 2] = outer, l->global_size[t + 2] = n / rb;
  insert_output_dim(l, t + 4, inner, rb);
  return 1;
}

/* ---- loop order (INNER) ----
   The innermost output loop is the last output dim, where the store is unit-stride. A relayout
   (a transpose, channels-last copies) reads along another dim: each load there is a gather, a
   gated one for a padded view. With that dim innermost the loads are consecutive (gcc vectorizes
   them) and the stores strided, within a block that stays in L1: conv2's channels-last copy of
   its output gradient (256 x 224 x 32) 4.3 -> 2.4 ms a thread. In a reduce kernel the new last
   dim can then be UPCAST: a sum of 64 partial weight gradients laid out (64, ..., cout), stored
   (cout, ...), read each partial's lines once instead of once per cout (0.69 -> 0.1 ms). */

/* the output dim to put innermost (-1: keep the order): the innermost dim along which every
   load that moves is unit-stride, when none is along the last dim */
static int inner_dim(cg_lowered *l) {
  if (l->nglobal < 2 || has_upcast(l) || l->tile_dim >= 0) return -1;
  int pick = -1;
  for (int d = l->nglobal - 1; d >= 0 && pick < 0; d--) {
    cg_ptrmap seen = {0}, memo = {0};
    int good = 0, bad = 0;
    load_strides(l->sink, l->global_range[d], 1, &seen, &memo, &good, &bad);
    cg_ptrmap_free(&seen);
    cg_ptrmap_free(&memo);
    if (good && !bad) pick = d;
    else if (d == l->nglobal - 1 && good) return -1; /* some load is consecutive already */
  }
  return pick == l->nglobal - 1 || (pick >= 0 && l->global_size[pick] < MIN_INNER) ? -1 : pick;
}

static void move_innermost(cg_lowered *l, int d) { move_output_dim(l, d, l->nglobal - 1); }

static int apply_inner(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  if (has_upcast(l) || l->tile_dim >= 0 || o.amt < 0 || o.amt >= l->nglobal - 1) return 0;
  move_innermost(l, o.amt);
  return 1;
}

/* ---- loop order of a copy (ORDER) ----
   A relayout that reads and writes whole runs (matmul's packed operands: A as (k/256, n/4, 256,
   4), B as (k/256, m/16, 256, 16)) walks its output in order, and so reads its source in short
   runs far apart: 1 KB of each of 4 rows, 64 bytes of each of 256 rows, which the hardware
   prefetchers serve poorly (6-8 GB/s). With the outer loops sorted by their stride in the
   source (largest first; the innermost loop stays) the source is read front to back and the
   writes go to a few runs at a time: the packing copies of a 4096^3 matmul 16 -> 9.5 ms (A) and
   10.5 -> 8.8 ms (B) on 2 threads. */
enum { MIN_OUTER = 4 }; /* the outermost loop is split across threads: keep enough iterations */

/* coefficient of r in index u when u is a sum of r*c terms and terms without r; -1 otherwise */
static int64_t linear_coef(uop *u, uop *r, cg_ptrmap *memo) {
  if (u == r) return 1;
  if (!depends_on(u, r, memo)) return 0;
  if (u->op == OP_ADD) {
    int64_t a = linear_coef(u->src[0], r, memo), b = a < 0 ? -1 : linear_coef(u->src[1], r, memo);
    return b < 0 ? -1 : a + b;
  }
  if (u->op == OP_MUL && u->src[1]->op == OP_CONST && u->src[1]->ival > 0) {
    int64_t a = linear_coef(u->src[0], r, memo);
    return a < 0 ? -1 : a * u->src[1]->ival;
  }
  return -1;
}

/* the outer loops' strides in the copy's one ungated load (0: not a plain copy) */
static int copy_strides(cg_lowered *l, int64_t *stride) {
  cg_ptrmap seen = {0};
  uop *load = single_op(l, OP_LOAD);
  int ok = load && !has_op(l->sink, OP_REDUCE, &seen);
  cg_ptrmap_free(&seen);
  ok = ok && load->nsrc == 2 && !has_upcast(l) && l->tile_dim < 0;
  for (int d = 0; ok && d < l->nglobal - 1; d++) {
    cg_ptrmap memo = {0};
    stride[d] = linear_coef(load->src[1], l->global_range[d], &memo);
    cg_ptrmap_free(&memo);
    ok = stride[d] > 0 && l->global_range[d]->src[0]->op == OP_CONST; /* a broadcast keeps its order */
  }
  return ok;
}

/* the outer loops by descending source stride (stable); 0 if that is the order already or the
   outermost would be too short to share */
static int copy_order(cg_lowered *l, int *perm) {
  int64_t stride[CG_MAX_DIMS];
  int n = l->nglobal - 1, moved = 0;
  if (n < 2 || !copy_strides(l, stride)) return 0;
  for (int d = 0; d < n; d++) perm[d] = d;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && stride[perm[j]] > stride[perm[j - 1]]; j--) {
      int t = perm[j];
      perm[j] = perm[j - 1];
      perm[j - 1] = t;
      moved = 1;
    }
  return moved && l->global_size[perm[0]] >= MIN_OUTER;
}

static int apply_order(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)o, (void)next;
  int perm[CG_MAX_DIMS];
  if (!copy_order(l, perm)) return 0;
  uop *range[CG_MAX_DIMS];
  int64_t size[CG_MAX_DIMS];
  for (int d = 0; d < l->nglobal - 1; d++) range[d] = l->global_range[perm[d]], size[d] = l->global_size[perm[d]];
  memcpy(l->global_range, range, (size_t)(l->nglobal - 1) * sizeof *range);
  memcpy(l->global_size, size, (size_t)(l->nglobal - 1) * sizeof *size);
  return 1;
}

/* A copy whose output's last dim is short (matmul's packed A: 4 rows interleaved, (n/4, k, 4))
   runs that dim as unrolled lanes in source order (ORDER, then UPCAST): each step reads 4 rows
   at one column and writes 16 contiguous bytes, every row read front to back. Moving the long
   unit-stride source dim innermost instead (INNER) gave 4-byte stores 16 bytes apart: the pack
   for 1024^3 took 1.07 -> 0.38 ms (BEAM found this list first). 0: not such a copy. */
enum { MAX_SHORT_COPY = 8 };

static int short_copy_lanes(cg_lowered *l) {
  int64_t stride[CG_MAX_DIMS];
  if (l->nglobal < 2 || !copy_strides(l, stride)) return 0;
  int64_t n = l->global_range[l->nglobal - 1]->vmax + 1;
  return n <= MAX_SHORT_COPY && upcast_fits(l, n) ? (int)n : 0;
}

/* ---- padded copies: UPCAST for masked vector loads ----
   An elementwise float32 kernel whose loads are gated along its last dim (a padded copy: a
   convolution's flat padded input, a cat) stays scalar in gcc, one gate test and one load per
   element. With the last dim UPCAST the C renderer loads 8 lanes under a mask (cg_simd_plan):
   conv2's padded gradient copy 3.4 -> 0.8 ms a thread. Only kernels made of what the masked
   rendering handles: float32 loads, constants, add/mul/neg, selects, and bool index tests. */
static int padded_copy_ops(uop *u, uop *g, int *gated, cg_ptrmap *seen, cg_ptrmap *memo) {
  if (cg_ptrmap_get(seen, u)) return 1;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->dtype == CG_I64 || u->op == OP_RANGE || u->op == OP_PARAM || u->op == OP_CONST || u->op == OP_DEFINE_VAR)
    return 1; /* index math and leaves */
  switch (u->op) {
  case OP_LOAD:
    if (u->dtype != CG_F32) return 0;
    if (u->nsrc == 3 && depends_on(u->src[2], g, memo)) *gated = 1;
    return u->nsrc < 3 || padded_copy_ops(u->src[2], g, gated, seen, memo);
  case OP_ADD: case OP_MUL: case OP_NEG: case OP_WHERE:
    if (u->dtype != CG_F32) return 0;
    break;
  case OP_CMPLT: case OP_CMPNE: case OP_AND: case OP_OR:
    if (u->dtype != CG_BOOL) return 0;
    break;
  case OP_SINK: case OP_STORE: break;
  default: return 0;
  }
  for (int i = 0; i < u->nsrc; i++)
    if (!padded_copy_ops(u->src[i], g, gated, seen, memo)) return 0;
  return 1;
}

/* 8-lane vector code's UPCAST of a dim of n: two vectors a step where n allows */
static int64_t vector_lanes(int64_t n) { return n % 16 == 0 ? 16 : 8; }

/* lanes for a padded copy's last dim (0: not one) */
static int padded_copy_lanes(cg_lowered *l) {
  if (l->nglobal == 0 || l->param_dtype[0] != CG_F32 || l->tile_dim >= 0) return 0;
  uop *g = l->global_range[l->nglobal - 1];
  int64_t k = vector_lanes(g->vmax + 1);
  if (!upcast_fits(l, k)) return 0;
  cg_ptrmap seen = {0}, memo = {0};
  int gated = 0, ok = padded_copy_ops(l->sink, g, &gated, &seen, &memo);
  cg_ptrmap_free(&seen);
  cg_ptrmap_free(&memo);
  return ok && gated ? (int)k : 0;
}

/* ---- streamed outputs: UPCAST for vector stores that stream ----
   An output of CG_STREAM_MIN_BYTES or more leaves the cache before anyone reads it; the C
   renderer then writes it with streaming stores, which its vector code (cg_simd_plan) emits. So
   an elementwise kernel, or a row kernel's last pass (layernorm: reduces per row, none along the
   last dim), gets its last dim as 8-lane vector code where every value along it is one that
   code computes: a*b+c over 16M floats 11 -> 8.7 ms, layernorm 4096^2 8.0 -> 6.2 ms. Not
   softmax's exp (its sum pass stages the values, stage_output.c, and the renderer then runs the
   last pass as vector code itself), nor float compares (relu): the vector plan would refuse them
   and leave 16 scalar lanes. */

/* every value along g is one the vector code computes (float32 ungated loads, add, mul, neg;
   index math); values that do not change along g (a row's reduce) are broadcast */
static int vector_ops_along(uop *u, uop *g, cg_ptrmap *seen, cg_ptrmap *memo) {
  if (cg_ptrmap_get(seen, u) || !depends_on(u, g, memo) || u->dtype == CG_I64 || u->op == OP_RANGE) return 1;
  cg_ptrmap_put(seen, u, (void *)1);
  int ok = ((u->op == OP_LOAD && u->nsrc == 2) || u->op == OP_ADD || u->op == OP_MUL || u->op == OP_NEG) &&
           u->dtype == CG_F32;
  for (int i = 0; ok && i < u->nsrc; i++) ok = vector_ops_along(u->src[i], g, seen, memo);
  return ok;
}

/* lanes for a kernel whose output streams (0: not one): float32 and big enough, no reduce along
   its last dim, unit-stride loads along it (in blocks of the lanes), vector_ops_along */
static int streamed_lanes(cg_lowered *l) {
  if (l->nglobal == 0 || l->param_dtype[0] != CG_F32 || !cg_streamed_f32(l->param_numel[0]) ||
      l->sink->src[0]->op != OP_STORE || l->sink->src[0]->nsrc != 3)
    return 0;
  uop *g = l->global_range[l->nglobal - 1];
  int64_t k = vector_lanes(g->vmax + 1);
  if (!upcast_fits(l, k)) return 0;
  cg_ptrmap seen = {0}, seen2 = {0}, seen3 = {0}, memo = {0};
  int good = 0, bad = 0, ok = !find_reduce_along(l->sink, g, &seen, &memo);
  if (ok) load_strides(l->sink, g, k, &seen2, &memo, &good, &bad);
  ok = ok && good && !bad && vector_ops_along(l->sink->src[0]->src[2], g, &seen3, &memo);
  cg_ptrmap_free(&seen);
  cg_ptrmap_free(&seen2);
  cg_ptrmap_free(&seen3);
  cg_ptrmap_free(&memo);
  return ok ? (int)k : 0;
}

/* ---- actions: one function per kind, each returning 1 if applied, 0 if it does not fit ----
   `next` is the action after o (a PANEL parameterizes the TILE before it), or NULL. */
typedef int (*opt_apply_fn)(cg_lowered *l, cg_opt o, const cg_opt *next);

static int apply_tile(cg_lowered *l, cg_opt o, const cg_opt *next) {
  int64_t jb = next && next->kind == CG_OPT_PANEL ? next->amt : 1;
  if (!tile_fits(l, o.amt, o.amt2) || (next && next->kind == CG_OPT_PANEL && jb < 2)) return 0;
  int64_t panels = (l->global_range[l->nglobal - 1]->vmax + 1) / o.amt2;
  if (panels % jb) return 0;
  tile_apply(l, o.amt, o.amt2, jb);
  return 1;
}

static int apply_panel(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)l, (void)o, (void)next;
  return 1; /* applied by the TILE before it; cg_opts_apply rejects a PANEL anywhere else */
}

static int apply_upcast(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  if (!upcast_fits(l, o.amt)) return 0;
  split_last_output(l, o.amt);
  return 1;
}

/* With UPCAST (before or after it) a reduce keeps the UPCAST lanes (linearize.c), and the UNROLL
   range is an inner loop of the reduce that C unrolls: still a different loop shape to time. */
static int apply_unroll(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  unroller un = {l, 0, 0, o.amt};
  cg_ptrmap seen = {0};
  int fits = o.amt >= 2 && unroll_fits(&un, l->sink, &seen);
  cg_ptrmap_free(&seen);
  if (!fits) return 0;
  cg_rule r = unroll_reduce;
  l->sink = graph_rewrite(l->c, l->sink, &r, 1, &un);
  return un.applied > 0;
}

/* ---- 8x8 transposing blocks (TRANSPOSE) ----
   After INNER a relayout reads along its last dim and stores along another one, d, one element
   at a time 4*stride bytes apart. Both cut into 8 lanes (d's lanes outside the last's), the C
   renderer loads 8 vectors along the last dim, transposes them in registers and stores 8
   vectors along d (cg_simd_plan's transposing store). */
enum { TRANSPOSE_LANES = 8 };
static int transpose_fits(cg_lowered *l, int d) {
  cg_ptrmap seen = {0};
  int reduces = has_op(l->sink, OP_REDUCE, &seen);
  cg_ptrmap_free(&seen);
  if (reduces || has_upcast(l) || l->param_dtype[0] != CG_F32 || d < 0 || d >= l->nglobal - 1 ||
      l->nglobal + 2 > CG_MAX_DIMS)
    return 0;
  uop *gd = l->global_range[d], *gl = l->global_range[l->nglobal - 1], *store = l->sink->src[0];
  return gd->src[0]->op == OP_CONST && gl->src[0]->op == OP_CONST && (gd->vmax + 1) % TRANSPOSE_LANES == 0 &&
         (gl->vmax + 1) % TRANSPOSE_LANES == 0 && store->op == OP_STORE && store->nsrc == 3 && is_unit_term(store->src[1], gd, 1) &&
         unit_loads_along(l->sink, gl, 1);
}

static int apply_transpose(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  if (!transpose_fits(l, o.amt)) return 0;
  int last = l->nglobal - 1;
  split_output(l, o.amt, TRANSPOSE_LANES); /* d's lanes first: the outer lane loop */
  split_output(l, last, TRANSPOSE_LANES);
  /* d's blocks innermost of the output loops: the blocks that complete one run of output rows
     come back to back, while those rows are in L1 */
  move_output_dim(l, o.amt, l->nglobal - 3);
  return 1;
}

static int apply_widen(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  int64_t wide = widened_size(l, o.amt);
  uop *gw, *sink = wide ? widened_sink(l, wide, &gw) : NULL;
  if (!sink) return 0;
  l->sink = sink;
  l->global_range[l->nglobal - 1] = gw;
  l->global_size[l->nglobal - 1] = wide;
  return 1;
}

/* ---- squares of the last two output dims (SQUARE) ----
   (A, B) -> (A/s, B/s, s*s) with a = a1*s + q/s, b = b1*s + q%s: a tile whose rows are the new
   last dim runs s x s squares of (a convolution's) pixels, where rows along b alone would not
   divide B. The square's index math is constant once the C compiler unrolls the tile's rows. */
static int apply_square(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  int n = l->nglobal;
  int64_t s = o.amt;
  if (s < 2 || n < 3 || n + 1 > CG_MAX_DIMS || has_upcast(l) || l->tile_dim >= 0) return 0;
  uop *ga = l->global_range[n - 2], *gb = l->global_range[n - 1];
  if (ga->src[0]->op != OP_CONST || gb->src[0]->op != OP_CONST || (ga->vmax + 1) % s || (gb->vmax + 1) % s) return 0;
  uop_ctx *c = l->c;
  uop *es = uop_const_int(c, CG_I64, s), *ea = uop_const_int(c, CG_I64, (ga->vmax + 1) / s);
  uop *eb = uop_const_int(c, CG_I64, (gb->vmax + 1) / s), *eq = uop_const_int(c, CG_I64, s * s);
  uop *a1 = uop_new(c, OP_RANGE, CG_I64, &ea, 1, (uop_arg){.ival = ga->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *b1 = uop_new(c, OP_RANGE, CG_I64, &eb, 1, (uop_arg){.ival = gb->ival, .ival2 = RANGE_GLOBAL}, NULL);
  uop *q = uop_new(c, OP_RANGE, CG_I64, &eq, 1, (uop_arg){.ival = l->next_range++, .ival2 = RANGE_GLOBAL}, NULL);
  uop *a = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, a1, es), uop_alu(c, OP_IDIV, CG_I64, q, es));
  uop *b = uop_alu(c, OP_ADD, CG_I64, uop_alu(c, OP_MUL, CG_I64, b1, es), uop_alu(c, OP_MOD, CG_I64, q, es));
  l->sink = cg_simplify(c, uop_substitute(c, uop_substitute(c, l->sink, ga, a), gb, b));
  l->global_range[n - 2] = a1, l->global_size[n - 2] = (ga->vmax + 1) / s;
  l->global_range[n - 1] = b1, l->global_size[n - 1] = (gb->vmax + 1) / s;
  l->global_range[n] = q, l->global_size[n] = s * s;
  l->nglobal++;
  return 1;
}

static int apply_kblock(cg_lowered *l, cg_opt o, const cg_opt *next) {
  (void)next;
  uop *red = NULL;
  int64_t kc = l->tile_dim < 0 ? 0 : kblock_length(l, 1, &red);
  if (!kc || (o.amt && kc != o.amt)) return 0; /* amt 0: the kernel's own block length */
  kblock_apply(l, red, kc);
  return 1;
}

static const struct { const char *name; opt_apply_fn apply; } opt_kinds[CG_OPT_NKINDS] = {
  [CG_OPT_TILE] = {"TILE", apply_tile},
  [CG_OPT_PANEL] = {"PANEL", apply_panel},
  [CG_OPT_UPCAST] = {"UPCAST", apply_upcast},
  [CG_OPT_UNROLL] = {"UNROLL", apply_unroll},
  [CG_OPT_KBLOCK] = {"KBLOCK", apply_kblock},
  [CG_OPT_INNER] = {"INNER", apply_inner},
  [CG_OPT_TRANSPOSE] = {"TRANSPOSE", apply_transpose},
  [CG_OPT_ORDER] = {"ORDER", apply_order},
  [CG_OPT_WIDEN] = {"WIDEN", apply_widen},
  [CG_OPT_ROWS] = {"ROWS", apply_rows},
  [CG_OPT_COLS] = {"COLS", apply_cols},
  [CG_OPT_SQUARE] = {"SQUARE", apply_square},
  [CG_OPT_ROWBLOCK] = {"ROWBLOCK", apply_rowblock},
};

/* Kinds that may not come earlier in a list than each kind. A TILE starts a list (it needs the
   plain output dims); UNROLL after TILE would unroll the tile's reduce loop, which the C renderer
   already unrolls 4 steps, and makes gcc take seconds on the code; one UPCAST, one UNROLL; KBLOCK
   needs a TILE before it (checked when applied) and comes after its PANEL; INNER comes first. */
#define BIT(k) (1u << (k))
static const unsigned not_after[CG_OPT_NKINDS] = {
  [CG_OPT_TILE] = BIT(CG_OPT_TILE) | BIT(CG_OPT_PANEL) | BIT(CG_OPT_UPCAST) | BIT(CG_OPT_UNROLL) | BIT(CG_OPT_KBLOCK) | BIT(CG_OPT_INNER),
  [CG_OPT_PANEL] = BIT(CG_OPT_PANEL) | BIT(CG_OPT_UPCAST) | BIT(CG_OPT_UNROLL) | BIT(CG_OPT_KBLOCK),
  [CG_OPT_UPCAST] = BIT(CG_OPT_TILE) | BIT(CG_OPT_UPCAST),
  [CG_OPT_UNROLL] = BIT(CG_OPT_TILE) | BIT(CG_OPT_UNROLL) | BIT(CG_OPT_INNER),
  [CG_OPT_KBLOCK] = BIT(CG_OPT_KBLOCK) | BIT(CG_OPT_UPCAST) | BIT(CG_OPT_UNROLL) | BIT(CG_OPT_INNER),
  [CG_OPT_INNER] = ~0u, /* first or not at all */
  [CG_OPT_TRANSPOSE] = ~BIT(CG_OPT_INNER), /* after INNER only */
  [CG_OPT_ORDER] = ~BIT(CG_OPT_INNER), /* after INNER only */
  [CG_OPT_WIDEN] = ~BIT(CG_OPT_ROWS), /* first, or after ROWS */
  [CG_OPT_ROWS] = ~0u, /* first or not at all */
  [CG_OPT_COLS] = ~(BIT(CG_OPT_WIDEN) | BIT(CG_OPT_SQUARE)), /* first, or after the channel tile's WIDEN or SQUARE */
  [CG_OPT_SQUARE] = ~0u, /* first or not at all */
  [CG_OPT_ROWBLOCK] = ~(BIT(CG_OPT_TILE) | BIT(CG_OPT_PANEL) | BIT(CG_OPT_KBLOCK)), /* right after KBLOCK */
};

int cg_opts_apply(cg_lowered *l, const cg_opt_list *list) {
  unsigned earlier = 0;
  for (int i = 0; i < list->n; i++) {
    cg_opt o = list->o[i];
    const cg_opt *next = i + 1 < list->n ? &list->o[i + 1] : NULL;
    if (o.kind < 0 || o.kind >= CG_OPT_NKINDS || (earlier & not_after[o.kind])) return -1;
    /* a PANEL parameterizes the TILE right before it */
    if (o.kind == CG_OPT_PANEL && (i == 0 || list->o[i - 1].kind != CG_OPT_TILE)) return -1;
    if (!opt_kinds[o.kind].apply(l, o, next)) return -1;
    earlier |= BIT(o.kind);
  }
  cg_opts_format(list, l->opts, sizeof l->opts);
  return 0;
}

enum { UNROLL_LANES = 16 }; /* capped per reduce by lanes_for (8 for doubles) */

static void push(cg_opt_list *list, int kind, int amt, int amt2) {
  list->o[list->n++] = (cg_opt){kind, amt, amt2};
}

void cg_opts_choose(cg_lowered *l, cg_opt_list *out) {
  out->n = 0;
  /* a tile after moving its rows' dim next to the columns and widening the columns */
  int64_t wide = 0, rows = -1;
  int64_t ctm = 0, ctn = 0, cwide = 0;
  int csquare = 0, plain = tile_fits(l, TILE_M, TILE_N);
  int channels = plain ? -1 : channel_tile_dim(l, &ctm, &ctn, &cwide, &csquare);
  if (channels >= 0) {
    if (csquare) push(out, CG_OPT_SQUARE, SQUARE_SIDE, 0);
    else if (cwide != l->global_range[l->nglobal - 1]->vmax + 1) push(out, CG_OPT_WIDEN, (int)ctm, 0);
    push(out, CG_OPT_COLS, channels, 0);
    push(out, CG_OPT_TILE, (int)ctm, (int)ctn);
    return;
  }
  if (!plain && l->nglobal >= 2) {
    wide = widen_fits(l, TILE_N);
    int64_t cols = wide ? wide : l->global_range[l->nglobal - 1]->vmax + 1;
    for (int d = l->nglobal - 2; d >= 0 && rows < 0; d--)
      if (tile_fits_at(l, d, TILE_M, TILE_N, cols)) rows = d;
    if (rows >= 0 && rows != l->nglobal - 2) push(out, CG_OPT_ROWS, (int)rows, 0);
    if (rows >= 0 && wide) push(out, CG_OPT_WIDEN, TILE_N, 0);
    if (rows < 0) wide = 0;
  }
  if (out->n || plain) {
    push(out, CG_OPT_TILE, TILE_M, TILE_N);
    uop *red = NULL;
    cg_ptrmap seen = {0};
    /* the tile adds 2 output loops, a PANEL 1, KBLOCK 1 */
    int64_t kc = wide ? 0 : kblock_length(l, 3, &red), k = kc ? kc : reduce_length(l->sink, &seen);
    cg_ptrmap_free(&seen);
    int64_t jb = panels_per_block(wide ? wide : l->global_range[l->nglobal - 1]->vmax + 1, TILE_N, k); /* WIDEN's */
    if (kc && l->nglobal + 4 > CG_MAX_DIMS) jb = 1;
    if (jb > 1) push(out, CG_OPT_PANEL, (int)jb, 0);
    if (kc) push(out, CG_OPT_KBLOCK, (int)kc, 0);
    /* the row tiles in blocks, run with the panels (a plain tile: its rows the dim before last) */
    int64_t row_tiles = (l->global_range[l->nglobal - 2]->vmax + 1) / TILE_M;
    if (plain && kc && jb > 1 && l->nglobal + 5 <= CG_MAX_DIMS && row_tiles % ROW_BLOCK == 0)
      push(out, CG_OPT_ROWBLOCK, ROW_BLOCK, 0);
    return;
  }
  int perm[CG_MAX_DIMS], lanes = short_copy_lanes(l);
  if (lanes) {
    if (copy_order(l, perm)) push(out, CG_OPT_ORDER, 1, 0);
    push(out, CG_OPT_UPCAST, lanes, 0);
    return;
  }
  /* INNER (then UPCAST of the new last dim, TRANSPOSE or ORDER); the order is restored after */
  int inner = inner_dim(l);
  uop *order_saved[CG_MAX_DIMS];
  int64_t sizes[CG_MAX_DIMS];
  memcpy(order_saved, l->global_range, sizeof order_saved);
  memcpy(sizes, l->global_size, sizeof sizes);
  int transpose = 0;
  if (inner >= 0) {
    push(out, CG_OPT_INNER, inner, 0);
    move_innermost(l, inner);
    transpose = transpose_fits(l, l->nglobal - 2); /* the store's dim, last before INNER */
  }
  int up = transpose ? 0 : upcast_output_lanes(l);
  int order = !up && !transpose && copy_order(l, perm); /* the order as INNER leaves it */
  memcpy(l->global_range, order_saved, sizeof order_saved);
  memcpy(l->global_size, sizes, sizeof sizes);
  if (up) push(out, CG_OPT_UPCAST, up, 0);
  if (transpose) push(out, CG_OPT_TRANSPOSE, l->nglobal - 2, 0);
  if (order) push(out, CG_OPT_ORDER, 1, 0);
  if (inner >= 0 || up || order) return;
  int masked = padded_copy_lanes(l);
  if (masked) {
    push(out, CG_OPT_UPCAST, masked, 0);
    return;
  }
  int streamed = streamed_lanes(l);
  if (streamed) push(out, CG_OPT_UPCAST, streamed, 0);
  unroller un = {l, 0, 0, UNROLL_LANES};
  cg_ptrmap seen = {0};
  if (unroll_fits(&un, l->sink, &seen)) push(out, CG_OPT_UNROLL, UNROLL_LANES, 0);
  cg_ptrmap_free(&seen);
}

void cg_optimize(cg_lowered *l) {
  l->opts[0] = 0;
  if (cg_env_get()->noopt) return;
  cg_opt_list list;
  cg_opts_choose(l, &list);
  /* the heuristics only choose actions that fit; should one not, the kernel runs unoptimized
     rather than half-optimized (actions only add uops to the arena: the copy restores l) */
  cg_lowered before = *l;
  if (cg_opts_apply(l, &list) != 0) {
    char text[256];
    if (cg_env_get()->debug) fprintf(stderr, "opts %s did not apply: kernel left unoptimized\n", cg_opts_format(&list, text, sizeof text));
    *l = before;
    assert(!"the heuristics chose opts that do not fit");
  }
}

const char *cg_opts_format(const cg_opt_list *list, char *buf, size_t n) {
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < list->n && at < n; i++) {
    cg_opt o = list->o[i];
    const char *name = o.kind >= 0 && o.kind < CG_OPT_NKINDS ? opt_kinds[o.kind].name : "?";
    int w = o.kind == CG_OPT_TILE ? snprintf(buf + at, n - at, "%s%s %dx%d", i ? ", " : "", name, o.amt, o.amt2)
                                  : snprintf(buf + at, n - at, "%s%s %d", i ? ", " : "", name, o.amt);
    at += w > 0 ? (size_t)w : 0;
  }
  if (!list->n) snprintf(buf, n, "none");
  return buf;
}

int cg_opt_kind_from_name(const char *name) {
  for (int k = 0; k < CG_OPT_NKINDS; k++)
    if (!strcmp(opt_kinds[k].name, name)) return k;
  return -1;
}

const char *cg_opt_kind_name(int kind) {
  return kind >= 0 && kind < CG_OPT_NKINDS ? opt_kinds[kind].name : NULL;
}

void cg_opt_describe(const cg_lowered *l, cg_sbuf *out) {
  cg_sbuf_printf(out, "opts: %s (%d output loops)\n", l->opts[0] ? l->opts : "none", l->nglobal);
}

/* ---- GPU: four consecutive elements per thread ----
   An elementwise kernel whose last output dim is unit-stride in its store and in every load
   along it takes 4 outputs per thread, and a reduce over unit-stride loads 4 elements per step:
   the renderer turns each such group of 4 into one 16-byte load or store (render.c). */
enum { GPU_LANES = 4 };

static int has_op(uop *u, int op, cg_ptrmap *seen) {
  if (cg_ptrmap_get(seen, u)) return 0;
  cg_ptrmap_put(seen, u, (void *)1);
  if (u->op == op) return 1;
  for (int i = 0; i < u->nsrc; i++)
    if (has_op(u->src[i], op, seen)) return 1;
  return 0;
}

static int gpu_upcast_elementwise(cg_lowered *l) {
  if (l->nglobal == 0 || l->nglobal >= CG_MAX_DIMS || cg_dtype_size(l->param_dtype[0]) > 4) return 0;
  uop *g = l->global_range[l->nglobal - 1], *store = l->sink->src[0];
  int64_t n = g->vmax + 1;
  if (g->src[0]->op != OP_CONST || n % GPU_LANES || store->op != OP_STORE || !is_unit_term(store->src[1], g, GPU_LANES))
    return 0;
  cg_ptrmap seen = {0}, seen2 = {0}, memo = {0};
  int good = 0, bad = 0, reduces = has_op(l->sink, OP_REDUCE, &seen);
  load_strides(l->sink, g, GPU_LANES, &seen2, &memo, &good, &bad);
  cg_ptrmap_free(&seen);
  cg_ptrmap_free(&seen2);
  cg_ptrmap_free(&memo);
  if (reduces || bad) return 0;
  split_last_output(l, GPU_LANES);
  return 1;
}

/* a reduce that some output range does not change: a row reduce fused into the consumer that
   broadcasts it (softmax, layernorm) */
static int reduce_broadcast_in_kernel(cg_lowered *l) {
  cg_ptrmap seen = {0};
  int reduces = has_op(l->sink, OP_REDUCE, &seen), broadcast = 0;
  cg_ptrmap_free(&seen);
  for (int d = 0; d < l->nglobal && reduces && !broadcast; d++) {
    cg_ptrmap memo = {0};
    seen = (cg_ptrmap){0};
    broadcast = !find_reduce_along(l->sink, l->global_range[d], &seen, &memo); /* d only broadcasts them */
    cg_ptrmap_free(&seen);
    cg_ptrmap_free(&memo);
  }
  return broadcast;
}

void cg_optimize_gpu(cg_lowered *l) {
  l->opts[0] = 0;
  if (cg_env_get()->noopt) return;
  if (gpu_upcast_elementwise(l)) {
    snprintf(l->opts, sizeof l->opts, "UPCAST output x%d (vector access)", GPU_LANES);
    return;
  }
  /* fused row kernels stay scalar: on an H200, layernorm 16384x4096 ran at 3090 GB/s with its
     two row reduces unrolled for vector loads and 3610 GB/s without (softmax: no difference) */
  if (reduce_broadcast_in_kernel(l)) return;
  unroller un = {l, 0, GPU_LANES, 0};
  cg_rule r = unroll_reduce;
  l->sink = graph_rewrite(l->c, l->sink, &r, 1, &un);
  if (un.applied) snprintf(l->opts, sizeof l->opts, "UNROLL reduce x%d lanes (%d reduces, vector loads)", GPU_LANES, un.applied);
}
