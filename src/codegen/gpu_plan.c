/* How a program runs on a GPU: one thread per output element, or, for a reduce kernel with few
   outputs and long reductions (softmax rows, a loss, a weight gradient, the partials of a full
   sum), one work-group per output that shares each reduction (DESIGN's GROUP opt). */
#include "../ir/uop.h"
#include "render.h"

/* 512-thread groups measured 1.1x faster than 256 on an H100 for 4096-long softmax rows */
enum { THREADS_PER_BLOCK = 256, MAX_GROUP = 512, MIN_GROUP = 32, UNKNOWN_SIZE = 1 << 20 };

static int64_t trip_count(const cg_program *p, const cg_inst *range, const int64_t *vars) {
  const cg_inst *end = &p->ins[range->src[0]];
  if (end->op == OP_CONST) return end->ival;
  return vars ? vars[end->ival2] : UNKNOWN_SIZE;
}

/* The first reduce loop that is not inside another reduce loop, or nins. Output loops after it
   are "inner": the reduce was fused into a consumer that broadcasts it along them (softmax). */
int cg_gpu_first_reduce(const cg_program *p) {
  for (int i = 0; i < p->nins; i++)
    if (p->ins[i].op == OP_RANGE && p->ins[i].ival2 == RANGE_REDUCE) return i;
  return p->nins;
}

int64_t cg_gpu_global_count(const cg_program *p, const int64_t *vars) {
  if (p->launch_threads) return p->launch_threads;
  int64_t n = 1;
  int end = p->group_size ? cg_gpu_first_reduce(p) : p->nins; /* groups: outer loops only */
  for (int i = 0; i < end; i++)
    if (p->ins[i].op == OP_RANGE && p->ins[i].ival2 == RANGE_GLOBAL) n *= trip_count(p, &p->ins[i], vars);
  return n;
}

/* the lanes of the UNROLL loop directly inside reduce loop r (4 consecutive elements a step), or 1 */
static int64_t unrolled_lanes(const cg_program *p, int r) {
  for (int k = r + 1; k < p->nins; k++) {
    const cg_inst *in = &p->ins[k];
    if (in->op == OP_ENDRANGE && in->src[0] == r) break;
    if (in->op == OP_RANGE) return in->ival2 == RANGE_UNROLL ? trip_count(p, in, NULL) : 1;
  }
  return 1;
}

/* the longest reduce loop (in elements) that is not inside another reduce loop */
static int64_t longest_top_reduce(const cg_program *p) {
  int64_t longest = 0;
  int depth = 0;
  for (int i = 0; i < p->nins; i++) {
    const cg_inst *in = &p->ins[i];
    if (in->op == OP_RANGE && in->ival2 == RANGE_REDUCE) {
      int64_t n = trip_count(p, in, NULL) * unrolled_lanes(p, i);
      if (!depth && n > longest) longest = n;
      depth++;
    } else if (in->op == OP_ENDRANGE && p->ins[in->src[0]].ival2 == RANGE_REDUCE) {
      depth--;
    }
  }
  return longest;
}

static int has_inner_outputs(const cg_program *p) {
  for (int i = cg_gpu_first_reduce(p); i < p->nins; i++)
    if (p->ins[i].op == OP_RANGE && p->ins[i].ival2 == RANGE_GLOBAL) return 1;
  return 0;
}

void cg_gpu_plan(cg_program *p) {
  p->group_size = 0;
  p->local_size = THREADS_PER_BLOCK;
  int64_t outputs = cg_gpu_global_count(p, NULL), longest = longest_top_reduce(p);
  /* groups pay when per-thread reductions would leave the GPU idle or read rows uncoalesced;
     with inner output loops they are a must (one thread per element would redo the reduce) */
  if (!has_inner_outputs(p) && (longest < 128 || outputs > (1 << 17))) return;
  int g = MAX_GROUP;
  while (g > MIN_GROUP && (int64_t)g * 4 > longest) g /= 2;
  p->group_size = p->local_size = g;
}
