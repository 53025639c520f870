/* Optimizations on a lowered kernel's range structure (UPCAST, UNROLL, THREAD...). An opt list is
   a short sequence of parameterized actions; the heuristics choose one list per kernel, BEAM
   (engine/beam.c) times others. Every list that applies gives a correct kernel; NOOPT=1 applies
   none. */
#ifndef CG_OPT_H
#define CG_OPT_H
#include <stddef.h>
#include <stdint.h>
#include "lower.h"

typedef enum {
  CG_OPT_TILE,    /* register tile: UPCAST the last two output dims by amt (rows) x amt2 (cols) */
  CG_OPT_PANEL,   /* right after TILE: its column panels in blocks of amt (L2 blocking) */
  CG_OPT_UPCAST,  /* UPCAST the last output dim by amt lanes */
  CG_OPT_UNROLL,  /* UNROLL each float reduce's innermost range by the widest lane count <= amt */
  CG_OPT_KBLOCK,  /* after TILE: the reduce's blocks of amt steps (0: as the kernel has them) an outer loop */
  CG_OPT_INNER,   /* elementwise: output loop amt becomes the innermost (unit-stride loads) */
  CG_OPT_TRANSPOSE, /* elementwise: 8x8 blocks of output dim amt (the store's unit dim) and the last */
  CG_OPT_ORDER,   /* a copy: the outer loops by descending stride in its source (amt 1) */
  CG_OPT_WIDEN,   /* first (or after ROWS): the last output dim run to a multiple of amt, the store gated */
  CG_OPT_ROWS,    /* first: output dim amt moves next to the last (a tile's rows) */
  CG_OPT_COLS,    /* first (or after WIDEN or SQUARE): output dim amt moves to the last (a tile's columns) */
  CG_OPT_SQUARE,  /* first: the last two output dims run in amt x amt squares, (A, B) -> (A/amt, B/amt, amt*amt) */
  CG_OPT_ROWBLOCK, /* after KBLOCK: the row tiles in blocks of amt, each block's tiles inside the panel loop */
  CG_OPT_NKINDS
} cg_opt_kind;
typedef struct { int kind, amt, amt2; } cg_opt;
enum { CG_MAX_OPTS = 6 };
typedef struct { int n; cg_opt o[CG_MAX_OPTS]; } cg_opt_list;

/* The channel tile (opt.c): a register tile along an output dim of `cols_dim` elements (a
   convolution's output channels, their operand unit-stride along it) with the last dim's `rows`
   elements as its rows (run as *wide, a multiple of the tile's rows, where WIDEN pads them; the
   dim before them, `above` elements (0: none, or no room for squares), may share the tile as 2 x 2
   squares instead), for
   a reduce of `reduce` steps: the tile's rows (2 or 4), or 0 if none fits. src/tensor/nn_ops.c
   stores a convolution's weight channels-last where this says yes. */
int cg_channel_tile_rows(int64_t cols_dim, int64_t rows, int64_t above, int64_t reduce, int64_t *wide);
/* The heuristics' list for this kernel (leaves l as it was). */
void cg_opts_choose(cg_lowered *l, cg_opt_list *out);
/* Apply a list in order; -1 if an action does not fit this kernel (l is then unusable). */
int cg_opts_apply(cg_lowered *l, const cg_opt_list *list);
/* The heuristics' list, applied (none with NOOPT=1). */
void cg_optimize(cg_lowered *l);
/* "TILE 4x16, PANEL 8" ("none" for an empty list) into buf; returns buf. */
const char *cg_opts_format(const cg_opt_list *list, char *buf, size_t n);
/* Action kind names ("TILE"...) both ways; -1 / NULL when unknown. */
int cg_opt_kind_from_name(const char *name);
const char *cg_opt_kind_name(int kind);
/* The GPU's opts: 4 consecutive elements per thread (elementwise) or per reduce step, for
   16-byte vector loads and stores. */
void cg_optimize_gpu(cg_lowered *l);
/* One line per applied opt, for DEBUG=3. */
void cg_opt_describe(const cg_lowered *l, cg_sbuf *out);
#endif
