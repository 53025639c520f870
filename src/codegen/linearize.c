/* Linearize: nodes go into blocks (one per open loop); an item is a node or a nested block.
   A node is appended to the innermost open block whose range it depends on, before any block
   still open inside it, so its sources are always defined before it. */
#include <stdlib.h>
#include <string.h>
#include "linearize.h"

typedef struct block block;
typedef struct { uop *u; block *child; } item;
struct block {
  uop *range;           /* NULL for the function body */
  item *items;
  int n, cap;
  block *parent;
  block *open[CG_MAX_DIMS * 2 + 2]; /* children still being filled, latest last */
  int nopen;
  cg_ptrmap placed;     /* nodes already emitted in this block */
};

typedef struct {
  uop_ctx *c;
  cg_ptrmap lane_of;    /* REDUCE -> the lane index (UPCAST output ranges) its accumulator follows */
  cg_ptrmap deps;       /* node -> uint64 mask of range ids it depends on (+ bit 63 marker) */
  block **all;
  int nall;
} linearizer;

static block *block_new(linearizer *L, block *parent, uop *range) {
  block *b = cg_xcalloc(1, sizeof *b);
  b->parent = parent;
  b->range = range;
  L->all = cg_xrealloc(L->all, (L->nall + 1) * sizeof(block *));
  L->all[L->nall++] = b;
  return b;
}

/* Append to b, but before any of its loops that are still open: what is emitted now is needed
   by the innermost open loop. Each new open loop sits before the older ones, so the latest
   opened is the earliest of them in item order. */
static void block_insert(block *b, item it) {
  if (b->n == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 16;
    b->items = cg_xrealloc(b->items, b->cap * sizeof(item));
  }
  int at = b->n;
  if (b->nopen)
    for (at = 0; b->items[at].child != b->open[b->nopen - 1]; at++) {}
  memmove(&b->items[at + 1], &b->items[at], (b->n - at) * sizeof(item));
  b->items[at] = it;
  b->n++;
}

#define DEPS_MARK (1ULL << 63)
static uint64_t deps_of(linearizer *L, uop *u) {
  uint64_t d = (uint64_t)(uintptr_t)cg_ptrmap_get(&L->deps, u);
  if (d) return d & ~DEPS_MARK;
  if (u->op == OP_RANGE) d = 1ULL << (u->ival < 62 ? u->ival : 62);
  for (int i = 0; i < u->nsrc; i++) d |= deps_of(L, u->src[i]);
  if (u->op == OP_REDUCE)
    for (int i = 1; i < u->nsrc; i++) d &= ~(1ULL << (u->src[i]->ival < 62 ? u->src[i]->ival : 62));
  cg_ptrmap_put(&L->deps, u, (void *)(uintptr_t)(d | DEPS_MARK));
  return d;
}

static block *target_block(linearizer *L, uop *u, block *cur) {
  uint64_t d = deps_of(L, u);
  for (block *b = cur; b; b = b->parent)
    if (!b->parent || (b->range && (d >> (b->range->ival < 62 ? b->range->ival : 62) & 1))) return b;
  return cur;
}

static void emit(linearizer *L, uop *u, block *cur);

static block *open_loop(linearizer *L, block *parent, uop *range) {
  emit(L, range->src[0], parent);
  block *b = block_new(L, parent, range);
  block_insert(parent, (item){NULL, b});
  parent->open[parent->nopen++] = b;
  return b;
}

static void close_loop(block *b) { b->parent->nopen--; }

/* Lanes of a reduce's accumulator: the size of its own UNROLL range (the last source: an
   unrolled reduce, folded at the end), or of the UPCAST output range it follows (one
   accumulator per output lane, read back lane by lane), else 1. */
static int64_t reduce_lanes(const uop *u, const uop *lane_range) {
  const uop *last = u->src[u->nsrc - 1];
  if (lane_range) return lane_range->vmax + 1;
  return u->nsrc > 1 && last->ival2 == RANGE_UNROLL ? last->vmax + 1 : 1;
}

static uop *acc_of(uop_ctx *c, uop *u, const uop *lane_range) {
  uop_arg a = {.ival = u->ival, .ival2 = reduce_lanes(u, lane_range)};
  return uop_new(c, OP_DEFINE_ACC, u->dtype, &u, 1, a, NULL);
}

/* The UPCAST output loops around block t, outermost first (t's own loop last); their count. */
static int upcast_nest(block *t, uop **lanes) {
  int n = 0;
  for (block *b = t; b->range && b->range->ival2 == RANGE_UPCAST; b = b->parent) n++;
  block *b = t;
  for (int i = n - 1; i >= 0; i--, b = b->parent) lanes[i] = b->range;
  return n;
}

/* A reduce placed in UPCAST output loops U1..Un (a register tile when n = 2): its accumulator
   gets one lane per combination of their values (lane index U1*|U2|... + Un) and goes outside
   them with its loops; U1..Un are opened again innermost, so the body runs for all lanes back to
   back (vector registers), and the reduce's value is read per lane inside the outer Un. A value
   that depends on U1 only (a matmul's A element) lands in the inner U1 loop, outside Un. */
static void emit_reduce(linearizer *L, uop *u, block *t) {
  uop *lanes[CG_MAX_DIMS];
  int nl = upcast_nest(t, lanes);
  block *home = t;
  for (int i = 0; i < nl; i++) home = home->parent;
  uop *lane = nl ? lanes[0] : NULL; /* the lane index: a range, or an expression over ranges */
  for (int i = 1; i < nl; i++)
    lane = uop_alu(L->c, OP_ADD, CG_I64,
                   uop_alu(L->c, OP_MUL, CG_I64, lane, uop_const_int(L->c, CG_I64, lanes[i]->vmax + 1)), lanes[i]);
  if (lane) cg_ptrmap_put(&L->lane_of, u, lane);
  uop *acc = acc_of(L->c, u, lane);
  block_insert(home, (item){acc, NULL});
  block *inner = home, *loops[2 * CG_MAX_DIMS + 2];
  int nloops = 0;
  for (int i = 1; i < u->nsrc; i++) inner = loops[nloops++] = open_loop(L, inner, u->src[i]);
  for (int i = 0; i < nl; i++) inner = loops[nloops++] = open_loop(L, inner, lanes[i]);
  emit(L, u->src[0], inner);
  if (nl > 1) emit(L, lane, inner);
  uop *lane_idx = lane ? lane : u->src[u->nsrc - 1];
  uop *as[3] = {acc, u->src[0], lane_idx};
  int nas = reduce_lanes(u, lane) > 1 ? 3 : 2; /* the lane index selects the accumulator */
  block_insert(inner, (item){uop_new(L->c, OP_ASSIGN, u->dtype, as, nas, (uop_arg){.ival = u->ival}, NULL), NULL});
  for (int i = nloops - 1; i >= 0; i--) close_loop(loops[i]);
  if (nl > 1) emit(L, lane, t); /* the index again, for the read below */
  block_insert(t, (item){u, NULL}); /* the reduce's value: after its loops (per lane in U) */
}

static void emit(linearizer *L, uop *u, block *cur) {
  if (u->op == OP_RANGE) return; /* defined by its loop */
  block *t = target_block(L, u, cur);
  if (cg_ptrmap_get(&t->placed, u)) return;
  cg_ptrmap_put(&t->placed, u, (void *)1);
  if (u->op == OP_REDUCE) { emit_reduce(L, u, t); return; }
  for (int i = 0; i < u->nsrc; i++) emit(L, u->src[i], cur);
  if (u->op != OP_SINK) block_insert(t, (item){u, NULL});
}

/* ---- flatten blocks into instructions ---- */
typedef struct {
  cg_program *p;
  const cg_ptrmap *lane_of;
  int cap;
  cg_ptrmap index;      /* node -> latest instruction index + 1 */
  double trip;          /* product of enclosing loop sizes */
} flattener;

static int add_ins(flattener *F, cg_inst in) {
  cg_program *p = F->p;
  if (p->nins == F->cap) {
    F->cap = F->cap ? F->cap * 2 : 64;
    p->ins = cg_xrealloc(p->ins, F->cap * sizeof(cg_inst));
  }
  p->ins[p->nins] = in;
  return p->nins++;
}

static int idx_of(flattener *F, uop *u) { return (int)(intptr_t)cg_ptrmap_get(&F->index, u) - 1; }

static void flatten_node(flattener *F, uop *u) {
  cg_inst in = {.op = u->op, .dtype = u->dtype, .ival = u->ival, .ival2 = u->ival2, .fval = u->fval};
  if (u->op == OP_REDUCE) {
    uop *lane = cg_ptrmap_get(F->lane_of, u);
    int acc = idx_of(F, acc_of(u->ctx, u, lane));
    if (reduce_lanes(u, lane) == 1) { /* the value is the accumulator itself */
      cg_ptrmap_put(&F->index, u, (void *)(intptr_t)(acc + 1));
      return;
    }
    in.nsrc = lane ? 2 : 1;
    in.src[0] = acc;
    in.src[1] = lane ? idx_of(F, lane) : 0;
    in.ival2 = lane ? -1 : reduce_lanes(u, NULL); /* -1: read lane src[1]; else fold lanes */
    int at = add_ins(F, in);
    cg_ptrmap_put(&F->index, u, (void *)(intptr_t)(at + 1));
    return;
  }
  if (u->op == OP_DEFINE_ACC) in.nsrc = 0;
  else {
    in.nsrc = u->nsrc;
    for (int i = 0; i < u->nsrc && i < 4; i++) in.src[i] = idx_of(F, u->src[i]);
  }
  if (u->op == OP_DEFINE_VAR) {
    cg_program *p = F->p;
    int k = 0;
    while (k < p->nvars && p->vars[k] != u->ptr) k++;
    in.ival2 = k; /* argument slot */
  }
  /* FLOPs: value arithmetic and accumulation, not index math (int64 is the index type) */
  if ((cg_op_is_alu(u->op) || u->op == OP_ASSIGN) && u->dtype != CG_I64 && u->dtype != CG_BOOL)
    F->p->flops += F->trip;
  int at = add_ins(F, in);
  cg_ptrmap_put(&F->index, u, (void *)(intptr_t)(at + 1));
}

static void flatten(flattener *F, block *b) {
  for (int i = 0; i < b->n; i++) {
    item it = b->items[i];
    if (it.u) { flatten_node(F, it.u); continue; }
    uop *r = it.child->range;
    cg_inst in = {.op = OP_RANGE, .dtype = CG_I64, .nsrc = 1, .src = {idx_of(F, r->src[0])},
                  .ival = r->ival, .ival2 = r->ival2};
    int at = add_ins(F, in);
    cg_ptrmap_put(&F->index, r, (void *)(intptr_t)(at + 1));
    double saved = F->trip;
    F->trip *= (double)(r->vmax + 1);
    flatten(F, it.child);
    F->trip = saved;
    add_ins(F, (cg_inst){.op = OP_ENDRANGE, .nsrc = 1, .src = {at}});
  }
}

cg_program *cg_linearize(const cg_lowered *l) {
  linearizer L = {.c = l->c};
  block *body = block_new(&L, NULL, NULL), *cur = body;
  /* open the output loops, outermost first, in range-id order */
  uop *store = l->sink->src[0];
  for (int g = 0; g < l->nglobal; g++) cur = open_loop(&L, cur, l->global_range[g]);
  emit(&L, l->sink, cur);
  (void)store;

  cg_program *p = cg_xcalloc(1, sizeof *p);
  p->nparams = l->nparams;
  p->params = cg_xcalloc(l->nparams, sizeof(cg_param));
  for (int i = 0; i < l->nparams; i++)
    p->params[i] = (cg_param){.dtype = l->param_dtype[i], .numel = l->param_numel[i], .written = i == 0};
  p->nvars = l->nvars;
  p->vars = cg_xcalloc(l->nvars ? l->nvars : 1, sizeof(void *));
  memcpy(p->vars, l->vars, l->nvars * sizeof(void *));
  flattener F = {.p = p, .lane_of = &L.lane_of, .trip = 1};
  flatten(&F, body);
  p->thread_ins = -1;
  p->thread_var = -1;
  for (int i = 0; i < p->nins; i++)
    if (p->ins[i].op == OP_RANGE && p->ins[i].ival2 == RANGE_GLOBAL) {
      p->thread_ins = i;
      p->thread_size = l->global_size[0];
      /* a symbolic outer loop is split by its bound value at launch */
      const cg_inst *end = &p->ins[p->ins[i].src[0]];
      p->thread_var = end->op == OP_DEFINE_VAR ? (int)end->ival2 : -1;
      break;
    }
  for (int i = 0; i < l->nparams; i++)
    p->bytes += (double)l->param_numel[i] * cg_dtype_size(l->param_dtype[i]);
  /* a kernel that loads from its output (KBLOCK's partial sums) must not run in place */
  for (int i = 0; i < p->nins; i++)
    if (p->ins[i].op == OP_LOAD && p->ins[p->ins[i].src[0]].ival == 0) p->reads_output = 1;
  cg_ptrmap_free(&F.index);
  cg_ptrmap_free(&L.deps);
  cg_ptrmap_free(&L.lane_of);
  for (int i = 0; i < L.nall; i++) {
    free(L.all[i]->items);
    cg_ptrmap_free(&L.all[i]->placed);
    free(L.all[i]);
  }
  free(L.all);
  return p;
}

void cg_program_free(cg_program *p) {
  if (!p) return;
  free(p->ins);
  free(p->params);
  free(p->vars);
  free(p->source);
  free(p->ast_dump);
  free(p);
}
