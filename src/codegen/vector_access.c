/* Which loads and stores of a GPU program can move 4 elements at once. A lane loop (UPCAST or
   UNROLL range, trip count a multiple of 4) whose body reads data[base + lane], with base a
   multiple of 4 that does not change with the lane, reads 4 consecutive, 16-byte-aligned (for 4-byte
   elements) values every 4 lanes: one vector load at lanes 0, 4, ... serves the next three.
   Buffers are whole device allocations (256-byte aligned; kernels never get offset pointers),
   so base % 4 == 0 is all the alignment takes.

   CPU: a float load in a fully unrolled UPCAST lane loop (trip a multiple of 8) reading
   data[base + lane], inside a register tile's row loop (UPCAST too) that it does not follow,
   takes 8 lanes at once (any alignment) into a vector held in a register (cg_vload8 in the C
   prelude), shared by the tile's rows. gcc's SLP vectorizer builds that vector load itself but then
   folds it into every FMA that uses it: in a 4x16 register tile each column vector was loaded
   once per row, 12 loads per 8 FMAs, load-bound at about a third of the FMA rate. Not in a
   1 x 16 tile (no rows to share it): there the asm left gcc's SLP worse off (3x slower). */
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/uop.h"
#include "render.h"

enum { VEC = 4, CPU_VEC = 8, BIG_DIVISOR = 1 << 30 };

/* a number that always divides the value of instruction i (1 when nothing is known) */
static int64_t known_divisor(const cg_program *p, int i) {
  const cg_inst *in = &p->ins[i];
  switch (in->op) {
  case OP_CONST: return in->ival == 0 ? BIG_DIVISOR : in->ival < 0 ? -in->ival : in->ival;
  case OP_MUL: {
    int64_t a = known_divisor(p, in->src[0]), b = known_divisor(p, in->src[1]);
    return a >= BIG_DIVISOR || b >= BIG_DIVISOR || a * b >= BIG_DIVISOR ? BIG_DIVISOR : a * b;
  }
  case OP_ADD: {
    int64_t a = known_divisor(p, in->src[0]), b = known_divisor(p, in->src[1]);
    while (b) { int64_t t = a % b; a = b; b = t; } /* gcd */
    return a;
  }
  default: return 1;
  }
}

/* memo[i]: 0 unknown, 1 no, 2 yes; instructions before r cannot use it (execution order) */
static int uses(const cg_program *p, int i, int r, char *memo) {
  if (i == r) return 1;
  if (i < r) return 0;
  if (!memo[i]) {
    const cg_inst *in = &p->ins[i];
    int u = 0;
    for (int s = 0; s < in->nsrc && !u; s++) u = uses(p, in->src[s], r, memo);
    memo[i] = (char)(u ? 2 : 1);
  }
  return memo[i] == 2;
}

/* the index is a sum in which lane r appears once, alone, and every other term is a multiple
   of align that does not depend on r; *lane_terms counts the r terms */
static int aligned_plus_lane(const cg_program *p, int idx, int r, int64_t align, int *lane_terms, char *memo) {
  if (idx == r) return ++*lane_terms == 1;
  const cg_inst *in = &p->ins[idx];
  if (in->op == OP_ADD)
    return aligned_plus_lane(p, in->src[0], r, align, lane_terms, memo) &&
           aligned_plus_lane(p, in->src[1], r, align, lane_terms, memo);
  return !uses(p, idx, r, memo) && known_divisor(p, idx) % align == 0;
}

/* 2- and 4-byte elements (OpenCL's vload4 has no overload for `signed char`, and byte tensors
   are rarely the bandwidth that matters) */
static int vector_size_ok(int dtype) { int s = cg_dtype_size(dtype); return s == 2 || s == 4; }

/* Which lane loop serves instruction i (-1: none); loops[0..depth) are the loops open at i,
   innermost last; memo is scratch of p->nins bytes for `uses`. */
typedef int (*lane_pick)(const cg_program *p, int i, const int *loops, int depth, char *memo);

static int *scan_accesses(const cg_program *p, lane_pick pick) {
  int *lane_of = cg_xmalloc((size_t)(p->nins ? p->nins : 1) * sizeof(int));
  char *memo = cg_xmalloc((size_t)(p->nins ? p->nins : 1));
  int loops[64], depth = 0;
  for (int i = 0; i < p->nins; i++) {
    const cg_inst *in = &p->ins[i];
    if (in->op == OP_RANGE && depth < 64) loops[depth++] = i;
    if (in->op == OP_ENDRANGE && depth) depth--;
    lane_of[i] = pick(p, i, loops, depth, memo);
  }
  free(memo);
  return lane_of;
}

/* GPU: a load or store directly in a lane loop of a multiple of 4 lanes, at base + lane with
   base a multiple of 4 */
static int gpu_lane(const cg_program *p, int i, const int *loops, int depth, char *memo) {
  const cg_inst *in = &p->ins[i];
  int load = in->op == OP_LOAD && in->nsrc == 2, store = in->op == OP_STORE && in->nsrc == 3 && !p->group_size;
  if (!depth || !(load || store)) return -1;
  const cg_inst *r = &p->ins[loops[depth - 1]]; /* the innermost open loop: the lane loop */
  const cg_inst *end = &p->ins[r->src[0]];
  int lanes = 0, dt = store ? p->ins[in->src[2]].dtype : in->dtype;
  if ((r->ival2 != RANGE_UPCAST && r->ival2 != RANGE_UNROLL) || end->op != OP_CONST || end->ival % VEC ||
      !vector_size_ok(store ? p->params[p->ins[in->src[0]].ival].dtype : dt))
    return -1;
  memset(memo, 0, (size_t)p->nins);
  return aligned_plus_lane(p, in->src[1], loops[depth - 1], VEC, &lanes, memo) && lanes == 1 ? loops[depth - 1] : -1;
}

int *cg_vector_accesses(const cg_program *p) { return scan_accesses(p, gpu_lane); }

/* CPU tile: a float32 load in the tile's column lane loop r (inside the row loop `row`, which
   the load does not follow), unit-stride in r */
static int cpu_lane(const cg_program *p, int i, const int *loops, int depth, char *memo) {
  const cg_inst *in = &p->ins[i];
  if (depth < 2 || in->op != OP_LOAD || in->nsrc != 2 || in->dtype != CG_F32 ||
      p->params[p->ins[in->src[0]].ival].dtype != CG_F32)
    return -1;
  const cg_inst *r = &p->ins[loops[depth - 1]], *end = &p->ins[r->src[0]], *row = &p->ins[loops[depth - 2]];
  if (r->ival2 != RANGE_UPCAST || row->ival2 != RANGE_UPCAST || end->op != OP_CONST || end->ival % CPU_VEC)
    return -1;
  int lanes = 0;
  memset(memo, 0, (size_t)p->nins);
  if (aligned_plus_lane(p, in->src[1], loops[depth - 1], 1, &lanes, memo) && lanes == 1 &&
      !uses(p, in->src[1], loops[depth - 2], memo))
    return loops[depth - 1];
  return -1;
}

int *cg_cpu_vector_loads(const cg_program *p) { return scan_accesses(p, cpu_lane); }

const char *cg_vector_type(int dtype) {
  static const char *const names[] = {
    [CG_I16] = "short4", [CG_U16] = "ushort4",
    [CG_F16] = "ushort4", [CG_BF16] = "ushort4", [CG_I32] = "int4", [CG_U32] = "uint4", [CG_F32] = "float4",
  };
  return dtype >= 0 && dtype < (int)(sizeof names / sizeof *names) ? names[dtype] : NULL;
}

/* ---- CPU: lane loops rendered as 8-wide vector code ----
   A fully unrolled UPCAST lane loop r (trip a multiple of 8) runs 8 lanes per step, every value
   that changes with r one cg_f32x8, when its body is nothing but: index sums (computed once per
   step, at the step's first lane), float32 loads of data[base + r], float32 adds, multiplies,
   negations and selects, accumulator updates and reads at lane base + r (base a multiple of 8),
   float32 stores to data[base + r], and conditions on the lanes' indices: base + r compared with
   a bound that does not change with r is a mask of lanes (cg_i32x8), masks combine with and/or
   and not, and gate loads (masked vector loads) and selects. A store at base + u + r*stride,
   with u an 8-lane loop right around an 8-lane r (a transpose's blocks), collects the 8 vectors
   of u, transposes them in registers after u's loop and stores 8 unit-stride vectors. gcc's SLP
   vectorizer finds the same vectors in the simple cases, but in a 4x16 register tile it often
   builds the last row from shuffles and scalar FMAs, with an accumulator spilled (a K-blocked
   2048^3 matmul: 46 instead of 150 GFLOPS); written as vectors, the loop is what was meant. */

static int simd_alu(const cg_inst *in) {
  return in->dtype == CG_F32 && (in->op == OP_ADD || in->op == OP_MUL || in->op == OP_NEG);
}

/* the lane index of an accumulator update or read: base + r with base a multiple of 8 */
static int simd_lane(const cg_program *p, int idx, int r, char *memo) {
  int lanes = 0;
  return aligned_plus_lane(p, idx, r, CPU_VEC, &lanes, memo) && lanes == 1;
}

/* a unit-stride access index: base + r, any base */
static int simd_index(const cg_program *p, int idx, int r, char *memo) {
  int lanes = 0;
  return aligned_plus_lane(p, idx, r, 1, &lanes, memo) && lanes == 1;
}

/* the coefficient of r in an index sum where r appears once, alone or times a constant, and no
   other term uses it; 0 otherwise */
static int64_t lane_coef_in(const cg_program *p, int idx, int r, int *terms, char *memo) {
  const cg_inst *in = &p->ins[idx];
  if (idx == r) return ++*terms == 1 ? 1 : 0;
  if (in->op == OP_ADD) {
    int64_t a = lane_coef_in(p, in->src[0], r, terms, memo), b = lane_coef_in(p, in->src[1], r, terms, memo);
    if (*terms > 1) return 0;
    return a ? a : b;
  }
  if (in->op == OP_MUL && (in->src[0] == r || in->src[1] == r)) {
    const cg_inst *k = &p->ins[in->src[in->src[0] == r ? 1 : 0]];
    if (k->op != OP_CONST) *terms = 2; /* r times a value: not a plain term either */
    return k->op == OP_CONST && ++*terms == 1 ? k->ival : 0;
  }
  if (uses(p, idx, r, memo)) *terms = 2; /* r somewhere else: not a plain term */
  return 0;
}

int64_t cg_lane_coef(const cg_program *p, int idx, int r) {
  char *memo = cg_xcalloc((size_t)p->nins + 1, 1);
  int terms = 0;
  int64_t c = lane_coef_in(p, idx, r, &terms, memo);
  free(memo);
  return terms == 1 ? c : 0;
}

int cg_loop_end(const cg_program *p, int r) {
  int k = r + 1;
  while (k < p->nins && !(p->ins[k].op == OP_ENDRANGE && p->ins[k].src[0] == r)) k++;
  return k;
}

int cg_enclosing_loop(const cg_program *p, int i) {
  int depth = 0;
  for (int k = i - 1; k >= 0; k--) {
    if (p->ins[k].op == OP_ENDRANGE) depth++;
    else if (p->ins[k].op == OP_RANGE && depth-- == 0) return k;
  }
  return -1;
}

/* the lane loop directly around loop r, when both run 8 lanes (a transposing store's pair) */
static int outer_lane_loop(const cg_program *p, int r) {
  const cg_inst *in = &p->ins[r];
  if (in->ival2 != RANGE_UPCAST || p->ins[in->src[0]].op != OP_CONST || p->ins[in->src[0]].ival != CPU_VEC) return -1;
  int k = cg_enclosing_loop(p, r);
  if (k < 0) return -1;
  const cg_inst *o = &p->ins[k];
  return o->ival2 == RANGE_UPCAST && p->ins[o->src[0]].op == OP_CONST && p->ins[o->src[0]].ival == CPU_VEC ? k : -1;
}

/* a store at base + outer lane + r * stride: 8 of them transpose into 8 unit-stride vectors */
static int transposing_store(const cg_program *p, const cg_inst *in, int r) {
  int outer = outer_lane_loop(p, r);
  return outer >= 0 && cg_lane_coef(p, in->src[1], outer) == 1 && cg_lane_coef(p, in->src[1], r) > 1;
}

/* the one side of a comparison that uses r, as a unit-stride index (0 or 1), else -1 */
static int lane_side(const cg_program *p, const cg_inst *in, int r, char *memo) {
  int u0 = uses(p, in->src[0], r, memo), u1 = uses(p, in->src[1], r, memo);
  if (u0 == u1 || p->ins[in->src[0]].dtype != CG_I64) return -1;
  return simd_index(p, in->src[u0 ? 0 : 1], r, memo) ? (u0 ? 0 : 1) : -1;
}

/* a bool that uses r, as an 8-lane mask: an index compared with a bound, masks combined */
static int simd_mask(const cg_program *p, int k, int r, char *memo) {
  const cg_inst *in = &p->ins[k];
  if (in->dtype != CG_BOOL) return 0;
  switch (in->op) {
  case OP_CMPLT: return lane_side(p, in, r, memo) >= 0;
  case OP_CMPNE: /* mask != const: a negation or the mask itself */
    return p->ins[in->src[1]].op == OP_CONST && p->ins[in->src[1]].dtype == CG_BOOL && !uses(p, in->src[1], r, memo);
  case OP_AND: case OP_OR: return 1;
  default: return 0;
  }
}

/* instruction k of loop r's body, which uses r: its vector kind, or 0 if it has none */
static int simd_inst(const cg_program *p, int k, int r, char *memo) {
  const cg_inst *in = &p->ins[k];
  switch (in->op) {
  case OP_ADD:
    if (in->dtype == CG_I64) return CG_SIMD_BASE; /* index sums stay scalar */
    return simd_alu(in) ? CG_SIMD_VEC : 0;
  case OP_MUL: /* an index times a constant: accepted only where its consumer's index form is */
    if (in->dtype == CG_I64) return p->ins[in->src[1]].op == OP_CONST || p->ins[in->src[0]].op == OP_CONST ? CG_SIMD_BASE : 0;
    return simd_alu(in) ? CG_SIMD_VEC : 0;
  case OP_NEG: return simd_alu(in) ? CG_SIMD_VEC : 0;
  case OP_WHERE: return in->dtype == CG_F32 ? CG_SIMD_VEC : 0;
  case OP_CMPLT: case OP_CMPNE: case OP_AND: case OP_OR: return simd_mask(p, k, r, memo) ? CG_SIMD_MASK : 0;
  case OP_LOAD:
    return in->dtype == CG_F32 && p->params[p->ins[in->src[0]].ival].dtype == CG_F32 &&
           simd_index(p, in->src[1], r, memo) ? CG_SIMD_VEC : 0; /* a gate that uses r is a mask */
  case OP_STORE:
    if (p->params[p->ins[in->src[0]].ival].dtype != CG_F32 || p->ins[in->src[2]].dtype != CG_F32) return 0;
    if (simd_index(p, in->src[1], r, memo)) return CG_SIMD_VEC; /* a gate that uses r is a mask */
    return in->nsrc == 3 && transposing_store(p, in, r) ? CG_SIMD_TSTORE : 0;
  case OP_ASSIGN: {
    const cg_inst *acc = &p->ins[in->src[0]];
    return in->nsrc == 3 && in->ival == OP_ADD && in->dtype == CG_F32 && acc->ival2 % CPU_VEC == 0 &&
           simd_lane(p, in->src[2], r, memo) ? CG_SIMD_VEC : 0;
  }
  case OP_REDUCE:
    return in->ival2 < 0 && in->dtype == CG_F32 && p->ins[in->src[0]].ival2 % CPU_VEC == 0 &&
           simd_lane(p, in->src[1], r, memo) ? CG_SIMD_VEC : 0;
  default: return 0;
  }
}

/* loop r (a RANGE instruction) and its body qualify: every instruction that uses r has a vector
   form (so an index that uses r only reaches accesses simd_inst accepted: any other use of it,
   a cast or a comparison, uses r too and has none) */
static int simd_loop_ok(const cg_program *p, int r, int plain_loops, char *memo) {
  const cg_inst *in = &p->ins[r], *end = &p->ins[in->src[0]];
  int kind_ok = in->ival2 == RANGE_UPCAST || (plain_loops && in->ival2 == RANGE_GLOBAL && r != p->thread_ins);
  if (!kind_ok || end->op != OP_CONST || end->ival % CPU_VEC || end->ival < CPU_VEC) return 0;
  memset(memo, 0, (size_t)p->nins);
  for (int k = r + 1; k < p->nins; k++) {
    const cg_inst *b = &p->ins[k];
    if (b->op == OP_ENDRANGE && b->src[0] == r) return 1;
    if (b->op == OP_RANGE) return 0; /* innermost loops only */
    if (uses(p, k, r, memo) && !simd_inst(p, k, r, memo)) return 0;
    /* a mask feeds only masks, gates and selects (not a float value or an index) */
    if (b->op != OP_LOAD && b->op != OP_WHERE && b->op != OP_STORE && b->dtype != CG_BOOL)
      for (int s = 0; s < b->nsrc; s++)
        if (p->ins[b->src[s]].dtype == CG_BOOL && uses(p, b->src[s], r, memo)) return 0;
  }
  return 0;
}

char *cg_simd_plan(const cg_program *p, int plain_loops) {
  char *kind = cg_xcalloc((size_t)p->nins + 1, 1), *memo = cg_xmalloc((size_t)p->nins + 1);
  for (int r = 0; r < p->nins; r++) {
    if (p->ins[r].op != OP_RANGE || !simd_loop_ok(p, r, plain_loops, memo)) continue;
    kind[r] = CG_SIMD_LOOP;
    memset(memo, 0, (size_t)p->nins);
    for (int k = r + 1, end = cg_loop_end(p, r); k < end; k++) {
      const cg_inst *in = &p->ins[k];
      int kk = uses(p, k, r, memo) ? simd_inst(p, k, r, memo) : 0;
      if (!kk) continue;
      kind[k] = (char)kk;
      if (kk == CG_SIMD_TSTORE) kind[outer_lane_loop(p, r)] = CG_SIMD_TOUTER;
      if (in->op == OP_ASSIGN) kind[in->src[0]] = CG_SIMD_ACC;
      if (in->op == OP_REDUCE) kind[in->src[0]] = CG_SIMD_ACC;
    }
  }
  free(memo);
  return kind;
}
