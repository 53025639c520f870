/* Scheduling: which nodes become buffers (kernel roots), in what order kernels run, and which
   intermediate buffers can share memory.

   Fusion rules: a kernel computes one root and inlines everything below it down to buffers and
   other roots. Roots are the realize targets, CONTIGUOUS and COPY nodes, reduces whose consumer
   reads them through an EXPAND (inlining would recompute the reduce per broadcast element) and
   reduces read by more than one kernel (computed once). Elementwise nodes are inlined:
   recomputing them is cheaper than a round trip through memory, except for a chain over several
   buffers read through an EXPAND or by the kernels of two roots (worth_a_buffer,
   shared_and_costly below).

   One EXPAND does not count: an "inner" one, which broadcasts a reduce along loops nested inside
   the loops the reduce depends on (softmax's max and sum along the last axis, layernorm's mean
   and variance). The linearizer hoists such a reduce out of the inner loops, so it runs once per
   row in the consumer's kernel: softmax is one kernel that reads each row while it is in cache,
   and a GPU runs it as one work-group per row. "Pure" below means the node's axes are looped in
   axis order, outermost first, which holds at a root and below elementwise ops, inner EXPANDs
   and reduces over trailing axes. */
#include <stdlib.h>
#include <string.h>
#include "schedule.h"

typedef struct {
  cg_schedule *s;
  uop **roots;
  int nroots, cap;
  cg_ptrmap is_root;     /* node -> 1 */
  cg_ptrmap seen[4];     /* per traversal: node -> root index + 1, per (expand, pure) state */
  cg_ptrmap reach;       /* reduce node -> first root index + 1, or -1 when shared */
  cg_ptrmap alu_reach;   /* elementwise node -> first root index + 1 */
  int added;
} planner;

static int is_stored(uop *u) { return u->op == OP_BUFFER || u->realized; }

/* sources a kernel reads: a GRAD_FN's value only (its other sources feed the backward graph) */
static int kernel_srcs(const uop *u) { return u->op == OP_GRAD_FN ? 1 : u->nsrc; }

static void add_root(planner *p, uop *u) {
  if (cg_ptrmap_get(&p->is_root, u)) return;
  cg_ptrmap_put(&p->is_root, u, (void *)1);
  if (p->nroots == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 16;
    p->roots = cg_xrealloc(p->roots, p->cap * sizeof(uop *));
  }
  p->roots[p->nroots++] = u;
  p->added = 1;
}

static int has_var(const cg_shape *s) {
  for (int i = 0; i < s->ndim; i++)
    if (s->var[i]) return 1;
  return 0;
}

static int64_t numel_of(const uop *u) {
  int64_t n = 1;
  for (int i = 0; i < u->shape.ndim; i++) n *= u->shape.d[i];
  return n;
}

/* leaves: the buffers (and other kernels' results) the expression reads; big: those of them
   with at least 1/8 of its elements (a per-channel vector is not; a pooled map is) */
typedef struct { int leaves, big, ops; int64_t numel; } expr_cost;

static void cost(planner *p, uop *u, cg_ptrmap *seen, expr_cost *c) {
  if (cg_ptrmap_get(seen, u)) return;
  cg_ptrmap_put(seen, u, (void *)1);
  if (is_stored(u) || cg_ptrmap_get(&p->is_root, u) || u->op == OP_REDUCE_AXIS) {
    c->leaves++;
    c->big += numel_of(u) * 8 >= c->numel;
    return;
  }
  if (cg_op_is_alu(u->op)) c->ops++;
  for (int i = 0; i < kernel_srcs(u); i++) cost(p, u->src[i], seen, c);
}

static expr_cost cost_of(planner *p, uop *u) {
  expr_cost c = {0, 0, 0, numel_of(u)};
  cg_ptrmap seen = {0};
  cost(p, u, &seen, &c);
  cg_ptrmap_free(&seen);
  return c;
}

/* An elementwise expression read through an EXPAND is recomputed for every broadcast copy. That
   is free for a load and a few ops, but a chain over several buffers (an activation's backward,
   say) read by a weight gradient 144 times over is not: such a node becomes a buffer. */
static int worth_a_buffer(planner *p, uop *u) {
  if (!cg_op_is_alu(u->op)) return 0;
  expr_cost c = cost_of(p, u);
  return c.leaves >= 3 || (c.leaves >= 2 && c.ops >= 6);
}

/* An elementwise expression over several large buffers read by the kernels of two roots (the
   gradient through pooling and relu feeding batchnorm's reductions and the next layer's
   backward, say) is computed once and stored: each recomputation reads all those buffers again.
   Only large leaves count: an affine map of one buffer by per-channel vectors (batchnorm's
   forward) is cheaper to recompute than to write and read back. */
static int shared_and_costly(planner *p, uop *u, int root) {
  if (!cg_op_is_alu(u->op) || has_var(&u->shape)) return 0;
  intptr_t first = (intptr_t)cg_ptrmap_get(&p->alu_reach, u);
  if (!first) {
    cg_ptrmap_put(&p->alu_reach, u, (void *)(intptr_t)(root + 1));
    return 0;
  }
  if (first == root + 1) return 0;
  expr_cost c = cost_of(p, u);
  return c.big >= 3 || (c.big >= 2 && c.ops >= 6);
}

/* axes marked in `inner` (non-unit ones) all come after every other non-unit axis */
static int trailing_axes(const cg_shape *s, const int *inner) {
  int last_outer = -1, first_inner = s->ndim;
  for (int i = 0; i < s->ndim; i++) {
    if (s->d[i] == 1) continue;
    if (inner[i] && i < first_inner) first_inner = i;
    if (!inner[i]) last_outer = i;
  }
  return first_inner > last_outer;
}

static int inner_expand(uop *u) {
  const cg_shape *in = &u->src[0]->shape, *out = &u->shape;
  if (has_var(in) || has_var(out) || in->ndim != out->ndim) return 0;
  int expanded[CG_MAX_DIMS];
  for (int i = 0; i < out->ndim; i++) expanded[i] = in->d[i] != out->d[i];
  return trailing_axes(out, expanded);
}

static int reduces_trailing_axes(uop *u) {
  const cg_shape *in = &u->src[0]->shape;
  if (has_var(in) || u->nv != in->ndim) return 0;
  int flagged[CG_MAX_DIMS];
  for (int i = 0; i < in->ndim; i++) flagged[i] = u->v[i] != 0;
  return trailing_axes(in, flagged);
}

static void visit(planner *p, uop *u, int under_expand, int pure, int root) {
  if (is_stored(u)) return;
  if (cg_ptrmap_get(&p->is_root, u) && u != p->roots[root]) return;
  cg_ptrmap *seen = &p->seen[under_expand * 2 + pure];
  if (cg_ptrmap_get(seen, u) == (void *)(intptr_t)(root + 1)) return;
  cg_ptrmap_put(seen, u, (void *)(intptr_t)(root + 1));
  if (u->op == OP_CONTIGUOUS || u->op == OP_COPY) {
    if (u != p->roots[root]) { add_root(p, u); return; }
    if (u->op == OP_COPY) {
      if (!is_stored(u->src[0])) add_root(p, u->src[0]);
      return;
    }
  }
  if (u != p->roots[root] && ((under_expand && worth_a_buffer(p, u)) || shared_and_costly(p, u, root))) {
    add_root(p, u);
    return;
  }
  if (u->op == OP_REDUCE_AXIS && u != p->roots[root]) {
    intptr_t first = (intptr_t)cg_ptrmap_get(&p->reach, u);
    if (under_expand || (first && first != root + 1)) { add_root(p, u); return; }
    cg_ptrmap_put(&p->reach, u, (void *)(intptr_t)(root + 1));
  }
  int expands = under_expand, keeps_order = pure;
  if (u->op == OP_EXPAND) {
    int inner = pure && inner_expand(u);
    expands |= !inner;
    keeps_order = inner;
  } else if (u->op == OP_REDUCE_AXIS) {
    keeps_order = pure && reduces_trailing_axes(u);
  } else if (!cg_op_is_alu(u->op)) {
    keeps_order = 0;
  }
  for (int i = 0; i < kernel_srcs(u); i++) visit(p, u->src[i], expands, keeps_order, root);
}

/* Grow the root set to a fixed point: a new root changes what the others inline. */
static void find_roots(planner *p, uop **targets, int n) {
  for (int i = 0; i < n; i++)
    if (!is_stored(targets[i])) add_root(p, targets[i]);
  while (p->added) {
    p->added = 0;
    for (int k = 0; k < 4; k++) cg_ptrmap_free(&p->seen[k]);
    cg_ptrmap_free(&p->reach);
    cg_ptrmap_free(&p->alu_reach);
    for (int r = 0; r < p->nroots; r++) visit(p, p->roots[r], 0, 1, r);
  }
}

int cg_schedule_slot(cg_schedule *s, uop *node) {
  intptr_t v = (intptr_t)cg_ptrmap_get(&s->slot_of, node);
  return v ? (int)v - 1 : -1;
}

static int add_slot(cg_schedule *s, uop *node, int existing) {
  if (s->nbufs == s->cap_bufs) {
    s->cap_bufs = s->cap_bufs ? s->cap_bufs * 2 : 16;
    s->bufs = cg_xrealloc(s->bufs, s->cap_bufs * sizeof *s->bufs);
  }
  cg_sched_buf *b = &s->bufs[s->nbufs];
  memset(b, 0, sizeof *b);
  b->node = node;
  b->existing = existing;
  b->last_use = -1;
  b->dev = node->dev;
  b->nbytes = (size_t)cg_dtype_size(node->dtype);
  for (int i = 0; i < node->shape.ndim; i++) b->nbytes *= (size_t)node->shape.d[i];
  if (existing) b->buf = (node->op == OP_BUFFER ? node : node->realized)->ptr;
  cg_ptrmap_put(&s->slot_of, node, (void *)(intptr_t)(s->nbufs + 1));
  return s->nbufs++;
}

typedef struct {
  planner *p;
  cg_ptrmap done;        /* root -> 1 once its item is placed */
  cg_ptrmap walked;      /* per-root traversal */
} orderer;

static void place(orderer *o, uop *root);

/* Find the roots and stored nodes that root's kernel reads; place those roots first. */
static void walk_inputs(orderer *o, uop *u, uop *root) {
  if (cg_ptrmap_get(&o->walked, u)) return;
  cg_ptrmap_put(&o->walked, u, (void *)1);
  cg_schedule *s = o->p->s;
  if (u != root && (is_stored(u) || cg_ptrmap_get(&o->p->is_root, u))) {
    if (is_stored(u)) {
      if (cg_schedule_slot(s, u) < 0) add_slot(s, u, 1);
    } else {
      cg_ptrmap saved = o->walked; /* placing another root walks its own graph */
      o->walked = (cg_ptrmap){0};
      place(o, u);
      cg_ptrmap_free(&o->walked);
      o->walked = saved;
    }
    return;
  }
  for (int i = 0; i < kernel_srcs(u); i++) walk_inputs(o, u->src[i], root);
}

static void place(orderer *o, uop *root) {
  if (cg_ptrmap_get(&o->done, root)) return;
  cg_ptrmap_put(&o->done, root, (void *)1);
  cg_schedule *s = o->p->s;
  for (int i = 0; i < kernel_srcs(root); i++) walk_inputs(o, root->src[i], root);
  s->items = cg_xrealloc(s->items, (s->nitems + 1) * sizeof *s->items);
  cg_sched_item *it = &s->items[s->nitems++];
  memset(it, 0, sizeof *it);
  it->root = root;
  it->is_copy = root->op == OP_COPY;
  it->out = add_slot(s, root, 0);
}

int cg_schedule_build(cg_schedule *s, uop **targets, int n) {
  memset(s, 0, sizeof *s);
  planner p = {.s = s};
  find_roots(&p, targets, n);
  orderer o = {.p = &p};
  for (int i = 0; i < n; i++) {
    if (is_stored(targets[i])) {
      if (cg_schedule_slot(s, targets[i]) < 0) add_slot(s, targets[i], 1);
      continue;
    }
    o.walked = (cg_ptrmap){0};
    place(&o, targets[i]);
    cg_ptrmap_free(&o.walked);
  }
  for (int i = 0; i < s->nbufs; i++) {
    uop *u = s->bufs[i].node;
    s->bufs[i].keep = u->op == OP_CONTIGUOUS;
    for (int t = 0; t < n; t++) s->bufs[i].keep |= targets[t] == u;
  }
  for (int k = 0; k < 4; k++) cg_ptrmap_free(&p.seen[k]);
  cg_ptrmap_free(&p.reach);
  cg_ptrmap_free(&p.alu_reach);
  cg_ptrmap_free(&p.is_root);
  cg_ptrmap_free(&o.done);
  free(p.roots);
  return 0;
}

void cg_schedule_free(cg_schedule *s) {
  for (int i = 0; i < s->nitems; i++) free(s->items[i].ins);
  free(s->items);
  free(s->bufs);
  cg_ptrmap_free(&s->slot_of);
  memset(s, 0, sizeof *s);
}
