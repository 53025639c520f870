/* A copy run inside its reader's thread loop, one slab at a time (CPU and the interpreter).

   A stride-1 convolution reads a padded copy of its input (src/tensor/nn_ops.c's flat layout):
   a kernel of its own that writes the padded image of every sample to memory (4.5 MB for conv2,
   9 MB for its input gradient), which the convolution then reads back, 0.4-0.9 ms of a 4-5 ms
   pass on this machine. Both kernels split a loop over the samples across threads: in iteration
   n the convolution reads only a slab of S elements, which the copy's iterations n*k .. n*k+k-1
   wrote (k = 1 for a convolution's forward, a sample a slab; k samples for the weight gradient's
   blocks of samples). So the fused kernel runs, in each iteration of the reader's thread loop,
   the copy's loop body k times into a scratch array of S elements (a local param: a stack array
   in C) and then the reader's body reading the scratch: the padded image never leaves L1/L2.
   Several copies may run inside one reader, each into its own scratch.

   Both programs are linearized already; the fused one takes the reader's instructions before its
   thread loop, then the copy's (its params renumbered after the reader's, its output param the
   scratch), then the thread loop with the copy's body followed by the reader's body. Accesses to
   the slab move by -n*S. Everything is checked on the programs: constant thread trip counts, the
   copy's k times the reader's, every store of the copy's iteration m at m*(S/k) + an offset
   proven (by interval arithmetic over the index) to lie in [0, S/k), and every read of the
   reader's iteration n at n*S + an offset in [0, S). The schedule-level checks (the copy's
   output read by this reader alone, not kept, its inputs unchanged until the reader runs) are the
   engine's (src/engine/realize.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/dtype.h"
#include "fuse_prologue.h"
#include "render.h"

/* The scratch (a stack array of each launch part) must stay in cache beside what the reader keeps
   there. A reader whose iteration is one copy iteration (a sample: the convolutions' forward and
   input gradient) wants it near L1 (32 KiB here): conv2's forward (a 17 KiB slab) got 14% faster;
   its input gradient (34 KiB) was 4% slower with the row tile (two unaligned vector loads of the
   slab per step) and is 3% faster with the channel tile (broadcasts of a few rows' pixels).
   A reader whose iteration sums a block of copy iterations (the weight gradient's blocks of
   samples, sized by src/tensor/nn_ops.c to sit in L2) reads its operands from L2 anyway: conv2's
   weight gradient with its padded x (70 KiB a block) and its channels-last g (112 KiB) fused:
   7.0 -> 5.8 ms. (k > 1 stands for "a block reader": a reader whose thread loop is coarser than
   its copy's; the engine's readers of that kind are the weight gradient's.) Every scratch of one
   kernel together stays within FUSE_STACK_BYTES: the pool's threads get stacks of
   CG_POOL_STACK_BYTES (src/base/threadpool.c), and the thread that calls realize runs parts too. */
enum { FUSE_SCRATCH_BYTES = 48 << 10, FUSE_BLOCK_SCRATCH_BYTES = 128 << 10, FUSE_STACK_BYTES = 256 << 10 };

static int64_t local_bytes(const cg_program *p) {
  int64_t n = 0;
  for (int k = 0; k < p->nparams; k++)
    if (p->params[k].local) n += p->params[k].numel * cg_dtype_size(p->params[k].dtype);
  return n;
}

/* a slab of `bytes` filled by k copy iterations fits beside the reader's other scratch */
static int scratch_fits(const cg_program *cons, int64_t bytes, int64_t k) {
  return bytes <= (k > 1 ? FUSE_BLOCK_SCRATCH_BYTES : FUSE_SCRATCH_BYTES) && local_bytes(cons) + bytes <= FUSE_STACK_BYTES;
}

/* every access (stores when `stores`, else loads) of param k indexes n*slab + [0, slab) with n
   the thread loop (n*slab a plain term of the index sum, cg_lane_coef, so the rest does not use
   n and is bounded with n pinned to 0), and there is at
   least one; the other kind of access to k there is none. That the copy writes all of its slab
   needs no proof: a kernel stores every element of its output once, and iteration n can store
   only into slab n. */
static int slab_accesses(const cg_program *p, int k, int stores, int64_t slab) {
  cg_interval *iv = cg_index_bounds(p, p->thread_ins);
  int n = 0, ok = 1;
  for (int i = 0; i < p->nins && ok; i++) {
    const cg_inst *in = &p->ins[i];
    if ((in->op != OP_LOAD && in->op != OP_STORE) || p->ins[in->src[0]].ival != k) continue;
    cg_interval b = iv[in->src[1]];
    ok = (in->op == OP_STORE) == stores && cg_lane_coef(p, in->src[1], p->thread_ins) == slab && b.ok && b.lo >= 0 &&
         b.hi < slab;
    n++;
  }
  free(iv);
  return ok && n > 0;
}

/* the end of the thread loop, with nothing after it but the program's end */
static int thread_loop_last(const cg_program *p) {
  int end = cg_loop_end(p, p->thread_ins);
  return end == p->nins - 1 ? end : -1;
}

static int has_vars(const cg_program *p) { return p->nvars > 0 || p->group_size || p->launch_threads; }

static int has_reduce(const cg_program *p) {
  for (int i = 0; i < p->nins; i++)
    if (p->ins[i].op == OP_DEFINE_ACC) return 1;
  return 0;
}

typedef struct {
  cg_inst *ins;
  int n;
} builder;

static int emit(builder *b, cg_inst in) {
  b->ins[b->n] = in;
  return b->n++;
}

/* in with its sources renumbered by map */
static cg_inst remapped(cg_inst in, const int *map) {
  for (int s = 0; s < in.nsrc; s++) in.src[s] = map[in.src[s]];
  return in;
}

/* instructions [from, to) of p into b, sources renumbered through map (filled as they go); an
   access to param `slab_param` indexes the scratch: its index plus `base` (-thread * slab) */
static void emit_range(builder *b, const cg_program *p, int from, int to, int *map, int slab_param, int base) {
  for (int i = from; i < to; i++) {
    cg_inst in = remapped(p->ins[i], map);
    const cg_inst *orig = &p->ins[i];
    if ((orig->op == OP_LOAD || orig->op == OP_STORE) && p->ins[orig->src[0]].ival == slab_param)
      in.src[1] = emit(b, (cg_inst){.op = OP_ADD, .dtype = CG_I64, .nsrc = 2, .src = {in.src[1], base}});
    map[i] = emit(b, in);
  }
}

/* the loop over the k copy iterations of reader iteration t: the copy's thread variable is
   t*k + j (its accesses, at (t*k + j)*part + [0, part), land in the slab at j*part + [0, part)).
   Returns the loop's RANGE. */
static int copy_loop(builder *b, const cg_program *prod, int t, int64_t k, int *mp) {
  int kc = emit(b, (cg_inst){.op = OP_CONST, .dtype = CG_I64, .ival = k});
  /* a plain loop (range ids are not read once a program is linearized) */
  int j = emit(b, (cg_inst){.op = OP_RANGE, .dtype = CG_I64, .nsrc = 1, .src = {kc}, .ival2 = RANGE_GLOBAL});
  int tk = emit(b, (cg_inst){.op = OP_MUL, .dtype = CG_I64, .nsrc = 2, .src = {t, kc}});
  mp[prod->thread_ins] = emit(b, (cg_inst){.op = OP_ADD, .dtype = CG_I64, .nsrc = 2, .src = {tk, j}});
  return j;
}

cg_program *cg_fuse_prologue(const cg_program *prod, const cg_program *cons, int slab_param) {
  if (prod->thread_ins < 0 || cons->thread_ins < 0 || prod->thread_var >= 0 || cons->thread_var >= 0 ||
      cons->thread_size <= 0 || prod->thread_size <= 0 || prod->thread_size % cons->thread_size || has_vars(prod) || local_bytes(prod) > 0 ||
      has_vars(cons) || prod->reads_output || has_reduce(prod) || !has_reduce(cons) ||
      slab_param <= 0 || slab_param >= cons->nparams || cons->nparams + prod->nparams - 1 > CG_MAX_PARAMS ||
      thread_loop_last(prod) < 0 || thread_loop_last(cons) < 0 || prod->params[0].dtype != cons->params[slab_param].dtype)
    return NULL;
  /* the copy's thread loop may run k times the reader's: k copy iterations fill one slab */
  int64_t total = prod->params[0].numel, k = prod->thread_size / cons->thread_size, part = total / prod->thread_size,
          slab = part * k;
  if (part <= 0 || part * prod->thread_size != total || !scratch_fits(cons, slab * cg_dtype_size(prod->params[0].dtype), k) ||
      !slab_accesses(prod, 0, 1, part) || !slab_accesses(cons, slab_param, 0, slab))
    return NULL;
  int xparam_ins = -1; /* the reader's PARAM instruction for the slab's buffer */
  for (int i = 0; i < cons->thread_ins; i++)
    if (cons->ins[i].op == OP_PARAM && cons->ins[i].ival == slab_param) xparam_ins = i;
  if (xparam_ins < 0) return NULL;

  cg_program *f = cg_xcalloc(1, sizeof *f);
  *f = *cons;
  f->source = NULL, f->key = 0, f->vars = NULL;
  f->ast_dump = cons->ast_dump ? cg_xstrdup(cons->ast_dump) : NULL; /* DEBUG=3: the reader's opts */
  size_t len = strlen(cons->name), room = sizeof f->name - 3;
  memcpy(f->name, cons->name, len < room ? len : room);
  memcpy(f->name + (len < room ? len : room), "_f", 3);
  f->nparams = cons->nparams + prod->nparams - 1;
  f->params = cg_xmalloc((size_t)f->nparams * sizeof *f->params);
  memcpy(f->params, cons->params, (size_t)cons->nparams * sizeof *f->params);
  memcpy(f->params + cons->nparams, prod->params + 1, (size_t)(prod->nparams - 1) * sizeof *f->params);
  f->params[slab_param] = (cg_param){.dtype = prod->params[0].dtype, .numel = slab, .written = 1, .local = 1};
  f->flops = cons->flops + prod->flops;
  double slab_bytes = 2.0 * (double)total * cg_dtype_size(prod->params[0].dtype);
  f->bytes = cons->bytes + prod->bytes > slab_bytes ? cons->bytes + prod->bytes - slab_bytes : 0;

  /* every instruction copied once, a slab access's new index before it, -thread * slab (2) and
     the k copy iterations' loop (5) */
  builder b = {cg_xmalloc((size_t)(2 * (prod->nins + cons->nins) + 7) * sizeof(cg_inst)), 0};
  int *mc = cg_xcalloc((size_t)cons->nins + 1, sizeof(int)), *mp = cg_xcalloc((size_t)prod->nins + 1, sizeof(int));
  emit_range(&b, cons, 0, cons->thread_ins, mc, -1, 0);
  for (int i = 0; i < prod->thread_ins; i++) {
    cg_inst in = remapped(prod->ins[i], mp);
    if (in.op == OP_PARAM && in.ival == 0) {
      mp[i] = mc[xparam_ins];
      continue;
    }
    if (in.op == OP_PARAM) in.ival += cons->nparams - 1;
    mp[i] = emit(&b, in);
  }
  int t = emit(&b, remapped(cons->ins[cons->thread_ins], mc));
  mc[cons->thread_ins] = mp[prod->thread_ins] = t;
  f->thread_ins = t;
  int neg = emit(&b, (cg_inst){.op = OP_CONST, .dtype = CG_I64, .ival = -slab});
  int base = emit(&b, (cg_inst){.op = OP_MUL, .dtype = CG_I64, .nsrc = 2, .src = {t, neg}});
  int inner = k > 1 ? copy_loop(&b, prod, t, k, mp) : -1;
  emit_range(&b, prod, prod->thread_ins + 1, thread_loop_last(prod), mp, 0, base);
  if (inner >= 0) emit(&b, (cg_inst){.op = OP_ENDRANGE, .nsrc = 1, .src = {inner}});
  emit_range(&b, cons, cons->thread_ins + 1, cons->nins, mc, slab_param, base);
  free(mc);
  free(mp);
  f->ins = b.ins;
  f->nins = b.n;
  return f;
}
