/* Lowering: one scheduled kernel (a tensor-graph root) becomes a kernel graph of RANGEs, LOADs,
   index math, REDUCEs and a STORE, in an arena context. Movement ops become index expressions;
   padding becomes a validity condition that guards the load. */
#ifndef CG_LOWER_H
#define CG_LOWER_H
#include "../schedule/schedule.h"

typedef struct {
  uop_ctx *c;
  uop *sink;            /* SINK(STORE) */
  int nparams;
  int param_slot[64];   /* schedule slot of each parameter (0 = output) */
  int param_dtype[64];
  int64_t param_numel[64];
  void *vars[16];       /* cg_variable* read by the kernel */
  int nvars;
  int nglobal;          /* output ranges, outermost first, are RANGE ids 0..nglobal-1 */
  int64_t global_size[CG_MAX_DIMS];   /* maximum trip counts */
  uop *global_range[CG_MAX_DIMS];     /* their RANGE nodes (end: a CONST or a DEFINE_VAR) */
  int next_range;       /* first unused RANGE id (opts add ranges) */
  int tile_dim;         /* TILE: global_range index of the column-block loop, or -1 */
  char opts[256];       /* applied optimizations, for DEBUG=3 */
} cg_lowered;

/* Lower item `it` of schedule `s`; -1 with an error set on failure. */
int cg_lower(cg_schedule *s, cg_sched_item *it, cg_lowered *out);
void cg_lowered_free(cg_lowered *l);
#endif
