/* In-place targets (assignment, optimizer state, BatchNorm statistics): a value that must end in
   an existing buffer B is written there by its own kernel when that is safe, so a step updates
   the same buffers every time (what a JIT replay needs). Safe means no later kernel of the
   schedule reads B's old contents, and the writing kernel reads B only at the element it writes
   (Adam's m, v and w updates); otherwise the value is computed aside and copied into B after
   every kernel has run. */
#include <stdlib.h>
#include <string.h>
#include "inplace.h"
#include "engine.h"
#include "jit.h"

static cg_buffer *stored_buf(uop *u) {
  uop *st = u->op == OP_BUFFER ? u : u->realized;
  return st ? st->ptr : NULL;
}

/* 1 if item reads a slot holding b's current contents (slot `except` is b's new value) */
static int reads_old(cg_schedule *s, cg_sched_item *it, cg_buffer *b, int except) {
  if (it->is_copy) {
    int k = cg_schedule_slot(s, it->root->src[0]);
    return k >= 0 && k != except && s->bufs[k].existing && s->bufs[k].buf == b;
  }
  for (int i = 0; i < it->nins; i++) {
    cg_sched_buf *in = &s->bufs[it->ins[i]];
    if (it->ins[i] != except && in->existing && in->buf == b) return 1;
  }
  return 0;
}

/* 1 if root's kernel reads b at another element than the one it writes: a path from the root
   to b that passes a movement op (other than a reshape, which keeps the linear index) or a
   reduction. Stops at other kernels' outputs. */
static int reads_elsewhere(cg_schedule *s, uop *u, uop *root, cg_buffer *b, int moved, cg_ptrmap *seen) {
  intptr_t mark = moved ? 2 : 1, had = (intptr_t)cg_ptrmap_get(seen, u);
  if (had & mark) return 0;
  cg_ptrmap_put(seen, u, (void *)(had | mark));
  if (u != root && stored_buf(u)) return moved && stored_buf(u) == b;
  if (u != root && cg_schedule_slot(s, u) >= 0) return 0;
  int m = moved || u->op == OP_REDUCE_AXIS || (cg_op_is_movement(u->op) && u->op != OP_RESHAPE);
  for (int i = 0; i < u->nsrc; i++)
    if (reads_elsewhere(s, u->src[i], root, b, m, seen)) return 1;
  return 0;
}

static int writer_of(cg_schedule *s, int slot) {
  for (int i = 0; i < s->nitems; i++)
    if (s->items[i].out == slot) return i;
  return -1;
}

static int safe_in_place(cg_schedule *s, int slot, cg_buffer *b) {
  cg_sched_buf *t = &s->bufs[slot];
  int w = writer_of(s, slot);
  if (w < 0 || t->existing || t->nbytes != b->nbytes || t->dev != b->dev) return 0;
  for (int k = w + 1; k < s->nitems; k++)
    if (reads_old(s, &s->items[k], b, slot)) return 0;
  if (!reads_old(s, &s->items[w], b, slot)) return 1;
  cg_ptrmap seen = {0};
  int bad = s->items[w].is_copy || s->items[w].reads_output || reads_elsewhere(s, t->node, t->node, b, 0, &seen);
  cg_ptrmap_free(&seen);
  return !bad;
}

static void add_copy(cg_inplace *pl, int slot, cg_buffer *dst) {
  pl->copies = cg_xrealloc(pl->copies, (pl->ncopies + 1) * sizeof *pl->copies);
  pl->copies[pl->ncopies++] = (cg_post_copy){slot, dst};
}

/* a copy's source must not be a buffer this realize overwrites (e.g. two tensors swapped) */
static int check_copies(cg_schedule *s, uop **targets, int n, cg_buffer **into, cg_inplace *pl) {
  for (int c = 0; c < pl->ncopies; c++) {
    cg_sched_buf *src = &s->bufs[pl->copies[c].slot];
    if (!src->existing) continue;
    for (int i = 0; i < n; i++)
      if (into[i] && into[i] == src->buf && into[i] != pl->copies[c].dst && stored_buf(targets[i]) != into[i]) {
        cg_set_error("assign: a value is read from a buffer that the same realize overwrites");
        return -1;
      }
  }
  return 0;
}

int cg_inplace_plan(cg_schedule *s, uop **targets, int n, cg_buffer **into, cg_inplace *pl) {
  memset(pl, 0, sizeof *pl);
  for (int i = 0; into && i < n; i++) {
    if (!into[i]) continue;
    int slot = cg_schedule_slot(s, targets[i]);
    cg_sched_buf *t = &s->bufs[slot];
    if (t->buf == into[i]) continue; /* already there */
    if (safe_in_place(s, slot, into[i])) {
      t->buf = into[i];
      t->existing = 1; /* neither allocated nor released by the engine */
    } else {
      add_copy(pl, slot, into[i]);
    }
  }
  return check_copies(s, targets, n, into, pl);
}

int cg_inplace_finish(cg_schedule *s, cg_inplace *pl, int run) {
  int rc = 0;
  for (int c = 0; run && c < pl->ncopies && !rc; c++)
    rc = cg_copy_recorded(s->bufs[pl->copies[c].slot].buf, pl->copies[c].dst);
  free(pl->copies);
  memset(pl, 0, sizeof *pl);
  return rc;
}

int cg_copy_recorded(cg_buffer *src, cg_buffer *dst) {
  if (src == dst || !dst->nbytes) return 0;
  int rc = cg_buffer_copy(dst, src, dst->nbytes);
  if (!rc) cg_jit_record_copy(src, dst);
  return rc;
}
