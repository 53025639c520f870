/* A linearized kernel: instructions in execution order, each naming earlier instructions as
   sources. The C renderer prints it; the interpreter executes it. */
#ifndef CG_PROGRAM_H
#define CG_PROGRAM_H
#include <stdint.h>
#include "../ir/uop.h"

typedef struct {
  uint8_t op, dtype, nsrc;
  int32_t src[4];       /* a STORE's 4th: its gate (only opt.c's WIDEN makes one) */
  int64_t ival, ival2;  /* CONST bits / range id, kind / param index / acc op */
  double fval;
} cg_inst;

enum { CG_MAX_PARAMS = 64 }; /* a kernel's params, local ones included (lower.c, beam.h) */

typedef struct {
  int dtype;
  int64_t numel;        /* elements the kernel may touch */
  int written;          /* 1 for the output */
  int local;            /* a scratch array of numel elements each launch has to itself
                           (stage_output.c, fuse_prologue.c), not a kernel argument */
} cg_param;

typedef struct cg_program {
  char name[128];
  cg_inst *ins;
  int nins;
  cg_param *params;
  int nparams;
  void **vars;          /* cg_variable* in argument order */
  int nvars;
  int thread_ins;       /* instruction index of the thread-split RANGE, or -1 */
  int64_t thread_size;  /* its trip count (split across the pool) */
  int thread_var;       /* argument slot of a variable trip count, or -1 */
  double flops, bytes;  /* estimates per launch */
  int group_size;       /* GPU: threads sharing each top-level reduce (0: one thread per output) */
  int local_size;       /* GPU: threads per work-group */
  int64_t launch_threads; /* GPU: fixed thread count (tensor-core tiles), or 0: from the loops */
  int reads_output;     /* the kernel reads its output back (staged values): never run in place */
  char *source;         /* rendered C (CPU dialect) */
  uint64_t key;         /* hash of the source */
  char *ast_dump;       /* DEBUG=3 text */
} cg_program;

/* An output at least this big is written with streaming stores (CPU; render.c) and its
   elementwise kernel gets 8-lane vector code for them (opt.c): it leaves the cache before
   anyone reads it, so the store need not first read the line for ownership (a third of an
   elementwise kernel's memory traffic). The L3 of one core complex here (Zen 3) and of many
   desktop parts; a CPU with more L3 would keep somewhat larger outputs. */
enum { CG_STREAM_MIN_BYTES = 32 << 20 };
static inline int cg_streamed_f32(int64_t numel) { return (double)numel * 4 >= CG_STREAM_MIN_BYTES; }

void cg_program_free(cg_program *p);

/* ASSIGN `in` accumulates a product (acc += a * b in float32/64): the renderers and the
   interpreter both compute it as one fused multiply-add, acc = fma(a, b, acc), so they agree
   exactly (one rounding, as BLAS libraries do); a matmul's or convolution's inner step is then
   one instruction. */
static inline int cg_assign_is_fma(const cg_program *p, const cg_inst *in) {
  const cg_inst *v = &p->ins[in->src[1]];
  return in->op == OP_ASSIGN && in->ival == OP_ADD && (in->dtype == CG_F32 || in->dtype == CG_F64) &&
         v->op == OP_MUL && v->dtype == in->dtype && p->ins[v->src[0]].dtype == in->dtype &&
         p->ins[v->src[1]].dtype == in->dtype;
}
#endif
