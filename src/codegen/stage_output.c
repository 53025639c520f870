/* Staging through the output (CPU): a fused row kernel such as softmax computes exp(x - max)
   twice, once in the loop that sums it and again in the output loop that scales it by 1/sum.
   The first loop can store each value into the output element that the output loop will write
   for the same index, and the output loop then reads it back (the row is still in L1) instead of
   recomputing it: the transcendental runs once per element instead of twice.

   Works on the linearized program. The output loop c and a reduce loop R before it (siblings in
   the same enclosing loop) must cover the same indices: R itself, or R*K + L with L an UNROLL
   lane loop of K lanes inside R (the unrolled form). A value E in c's body matches E' in R's body
   when both are the same instructions over the same outside values, with c in place of that
   index; the output index matches an index computed in R's body the same way. The output must
   have E's dtype (the round trip is exact) and the kernel must not read its output otherwise.

   Where c's whole range fits STAGE_LOCAL_BYTES, the values go to a scratch array of the launch's
   own (a local param, rendered as a stack array) at c's index instead: the output is then only
   written, once, and a big one streams (render.c): the store need not read each line for
   ownership first, as staging through the output did. Softmax 4096^2: 9.8-13.1 -> 8.2-11.4 ms.
   (A softmax over one row, whose reduce loops run in every part of the thread loop, is staged in
   scratch or not at all.) */
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "render.h"
#include "stage_output.h"

enum { MAX_DEPTH = 48, STAGE_LOCAL_BYTES = 32 << 10 }; /* scratch: the L1 of most cores */

typedef struct {
  const cg_program *p;
  int c;      /* the output loop's RANGE */
  int x;      /* the instruction in R's body that stands for c's index */
  int r;      /* the reduce loop's RANGE */
} twin;

static int pure_value(int op) {
  return op != OP_RANGE && op != OP_ENDRANGE && op != OP_DEFINE_ACC && op != OP_ASSIGN && op != OP_REDUCE &&
         op != OP_STORE && op != OP_DEFINE_VAR;
}

/* a (in c's body or before it) and b (in R's body or before it) hold the same value for c = x */
static int same_value(const twin *t, int a, int b, int depth) {
  if (a == t->c) return b == t->x;
  if (b == t->x || depth > MAX_DEPTH) return 0;
  if (a < t->c) return a == b && a < t->r; /* defined before both loops */
  const cg_inst *ia = &t->p->ins[a], *ib = &t->p->ins[b];
  if (b < t->r || ia->op != ib->op || ia->dtype != ib->dtype || ia->nsrc != ib->nsrc || ia->ival != ib->ival ||
      ia->ival2 != ib->ival2 || ia->fval != ib->fval || !pure_value(ia->op))
    return 0;
  for (int s = 0; s < ia->nsrc; s++)
    if (!same_value(t, ia->src[s], ib->src[s], depth + 1)) return 0;
  return 1;
}

typedef struct {
  int *encl;  /* innermost RANGE enclosing each instruction, -1 at the top */
  int *end;   /* ENDRANGE of each RANGE */
} loops;

static loops find_loops(const cg_program *p) {
  loops L = {cg_xmalloc((size_t)p->nins * sizeof(int)), cg_xmalloc((size_t)p->nins * sizeof(int))};
  int stack[64], depth = 0;
  for (int i = 0; i < p->nins; i++) {
    const cg_inst *in = &p->ins[i];
    if (in->op == OP_ENDRANGE && depth) L.end[stack[--depth]] = i;
    L.encl[i] = depth ? stack[depth - 1] : -1;
    if (in->op == OP_RANGE && depth < 64) stack[depth++] = i;
  }
  return L;
}

static int inside(const loops *L, int i, int range) {
  for (int k = L->encl[i]; k >= 0; k = L->encl[k])
    if (k == range) return 1;
  return 0;
}

/* x stands for R's whole index: R itself (no lanes), or R*K + L for an UNROLL loop L in R */
static int covers(const cg_program *p, const loops *L, int r, int x, int64_t n) {
  if (x == r) return cg_loop_trip(p, r) == n;
  const cg_inst *in = &p->ins[x];
  if (in->op != OP_ADD) return 0;
  for (int s = 0; s < 2; s++) {
    const cg_inst *m = &p->ins[in->src[s]];
    int lane = in->src[1 - s];
    if (m->op != OP_MUL || p->ins[lane].op != OP_RANGE || p->ins[lane].ival2 != RANGE_UNROLL || L->encl[lane] != r)
      continue;
    int k = m->src[0] == r ? m->src[1] : m->src[1] == r ? m->src[0] : -1;
    if (k >= 0 && p->ins[k].op == OP_CONST && p->ins[k].ival == cg_loop_trip(p, lane) &&
        cg_loop_trip(p, r) * cg_loop_trip(p, lane) == n)
      return 1;
  }
  return 0;
}

static int expensive(int op) { return op == OP_EXP2 || op == OP_LOG2 || op == OP_SIN || op == OP_SQRT; }

/* insert `in` at position q: later instructions and references to them move up by one */
static void insert_at(cg_program *p, int q, cg_inst in) {
  p->ins = cg_xrealloc(p->ins, (size_t)(p->nins + 1) * sizeof(cg_inst));
  memmove(&p->ins[q + 1], &p->ins[q], (size_t)(p->nins - q) * sizeof(cg_inst));
  p->ins[q] = in;
  p->nins++;
  for (int i = q + 1; i < p->nins; i++)
    for (int s = 0; s < p->ins[i].nsrc; s++)
      if (p->ins[i].src[s] >= q) p->ins[i].src[s]++;
  if (p->thread_ins >= q) p->thread_ins++;
}

typedef struct { int e, e2, s2; } match; /* E in c, E' and the output index S' in R */

/* E' and S' in R's body for E and the store index S, with x standing for c's index */
static int find_twins(const twin *t, const loops *L, int st, match *m) {
  const cg_program *p = t->p;
  for (int e = t->c + 1; e < st; e++) {
    if (!expensive(p->ins[e].op) || p->ins[e].dtype != p->params[0].dtype) continue;
    for (int e2 = t->r + 1; e2 < L->end[t->r]; e2++) {
      if (p->ins[e2].op != p->ins[e].op || !same_value(t, e, e2, 0)) continue;
      for (int s2 = t->r + 1; s2 < L->end[t->r]; s2++) {
        /* S' must be in scope where E' is: in E''s loop, or before it in an enclosing one */
        int scope = L->encl[s2] == L->encl[e2] || (s2 < e2 && inside(L, e2, L->encl[s2]));
        if (scope && same_value(t, p->ins[st].src[1], s2, 0)) {
          *m = (match){e, e2, s2};
          return 1;
        }
      }
    }
  }
  return 0;
}

/* instruction a holds its value at instruction e2 (R's body): a loop around e2, or a value in
   e2's loop or before it in an enclosing one (or at the top) */
static int in_scope_at(const cg_program *p, const loops *L, int a, int e2) {
  if (p->ins[a].op == OP_RANGE) return inside(L, e2, a);
  return L->encl[a] == L->encl[e2] || (a < e2 && (L->encl[a] < 0 || inside(L, e2, L->encl[a])));
}

/* a new local param of n elements of dt, its PARAM instruction the first (every instruction
   index moves up by one) */
static void add_local_param(cg_program *p, int dt, int64_t n) {
  p->params = cg_xrealloc(p->params, (size_t)(p->nparams + 1) * sizeof(cg_param));
  p->params[p->nparams] = (cg_param){.dtype = dt, .numel = n, .written = 1, .local = 1};
  insert_at(p, 0, (cg_inst){.op = OP_PARAM, .dtype = (uint8_t)dt, .ival = p->nparams++});
}

/* E becomes a load at ls from param pk, and E' is stored at ss after the later of E' and ss */
static void stage(cg_program *p, const match *m, int pk, int ls, int ss, int dt, int st_dtype) {
  cg_inst load = {.op = OP_LOAD, .dtype = (uint8_t)dt, .nsrc = 2, .src = {pk, ls}};
  cg_inst store = {.op = OP_STORE, .dtype = (uint8_t)st_dtype, .nsrc = 3, .src = {pk, ss, m->e2}};
  p->ins[m->e] = load;
  insert_at(p, (m->e2 > ss ? m->e2 : ss) + 1, store);
}

static int output_is_only_written(const cg_program *p, int *store) {
  *store = -1;
  for (int i = 0; i < p->nins; i++) {
    const cg_inst *in = &p->ins[i];
    int param0 = (in->op == OP_LOAD || in->op == OP_STORE) && p->ins[in->src[0]].ival == 0;
    if (in->op == OP_LOAD && param0) return 0;
    if (in->op == OP_STORE) {
      if (*store >= 0 || !param0 || in->nsrc != 3) return 0;
      *store = i;
    }
  }
  return *store >= 0;
}

int cg_stage_through_output(cg_program *p) {
  int st, dt = p->params[0].dtype, staged = 0;
  if ((dt != CG_F32 && dt != CG_F64) || !output_is_only_written(p, &st) || p->ins[p->ins[st].src[2]].dtype != dt)
    return 0;
  loops L = find_loops(p);
  int c = L.encl[st];
  if (c >= 0 && p->ins[c].ival2 == RANGE_GLOBAL && cg_loop_trip(p, c) > 0) {
    match m;
    for (int r = 0; r < c && !staged; r++) {
      if (p->ins[r].op != OP_RANGE || p->ins[r].ival2 != RANGE_REDUCE || L.encl[r] != L.encl[c]) continue;
      for (int x = r; x < L.end[r] && !staged; x++) {
        twin t = {p, c, x, r};
        if (!covers(p, &L, r, x, cg_loop_trip(p, c)) || !find_twins(&t, &L, st, &m)) continue;
        int st_dtype = p->ins[st].dtype;
        /* R outside the thread loop (a softmax over one row: its loop is the thread loop) runs in
           every part of the launch: staged in the output, each part's values would overwrite the
           other parts' finished outputs */
        int per_part = p->thread_ins >= 0 && !inside(&L, r, p->thread_ins);
        int local = cg_loop_trip(p, c) * cg_dtype_size(dt) <= STAGE_LOCAL_BYTES && in_scope_at(p, &L, x, m.e2) &&
                    p->nparams < CG_MAX_PARAMS;
        if (!local && per_part) continue;
        if (local) {
          add_local_param(p, dt, cg_loop_trip(p, c)); /* instruction 0; every index below moves up by one */
          match m1 = {m.e + 1, m.e2 + 1, m.s2 + 1};
          stage(p, &m1, 0, c + 1, x + 1, dt, st_dtype);
        } else {
          stage(p, &m, p->ins[st].src[0], p->ins[st].src[1], m.s2, dt, st_dtype);
          p->reads_output = 1;
        }
        staged = 1;
      }
    }
  }
  free(L.encl);
  free(L.end);
  return staged;
}
