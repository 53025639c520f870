/* Tensor cores for half matmuls. The kernel graph must be exactly
     STORE(out, affine(m, n, batch), [CAST] REDUCE_ADD(f32 of (A[affine] * B[affine]), k))
   with A and B float16 (or both bfloat16) loads without gates: then each warp computes a 16x8
   tile of the output with mma.sync m16n8k16, loading its fragments straight from global memory
   through the strides (correct for any layout; fast loads through shared memory are the GPU
   matmul issue's). Products are exact and sums float32, as in cuBLAS. Fragment layouts are the
   PTX ISA's: A row-major rows g, g+8 / columns 2t, 2t+1, +8; B columns g / rows 2t, 2t+1, +8;
   C rows g, g+8 / columns 2t, 2t+1 (g = lane / 4, t = lane % 4). */
#include <stdio.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/uop.h"
#include "tensor_cores.h"

enum { NR = CG_MAX_DIMS + 1 };  /* coefficients: the output loops, then the reduce range */

typedef struct { uop *ranges[NR]; int nr; } range_set;

static int range_slot(const range_set *rs, const uop *r) {
  for (int i = 0; i < rs->nr; i++)
    if (rs->ranges[i] == r) return i;
  return -1;
}

/* idx = base + sum coef[i] * range[i], or 0 when it is anything else (div, mod, gates) */
static int affine(const uop *u, const range_set *rs, int64_t *coef, int64_t *base) {
  if (u->op == OP_CONST) { *base += u->ival; return 1; }
  if (u->op == OP_RANGE) {
    int s = range_slot(rs, u);
    if (s < 0) return 0;
    coef[s] += 1;
    return 1;
  }
  if (u->op == OP_ADD) return affine(u->src[0], rs, coef, base) && affine(u->src[1], rs, coef, base);
  if (u->op == OP_MUL && u->src[1]->op == OP_CONST && u->src[0]->op == OP_RANGE) {
    int s = range_slot(rs, u->src[0]);
    if (s < 0) return 0;
    coef[s] += u->src[1]->ival;
    return 1;
  }
  return 0;
}

static int is_half_load(const uop *u) {
  return u->op == OP_LOAD && u->nsrc == 2 && (u->dtype == CG_F16 || u->dtype == CG_BF16);
}

static int is_f32_load(const uop *u) { return u->op == OP_LOAD && u->nsrc == 2 && u->dtype == CG_F32; }

/* the two half loads whose product the reduce sums, in either spelling of the float32 cast */
static int product_loads(const uop *body, const uop **a, const uop **b) {
  if (body->op == OP_CAST && body->dtype == CG_F32 && body->src[0]->op == OP_MUL) {
    const uop *m = body->src[0];
    *a = m->src[0];
    *b = m->src[1];
  } else if (body->op == OP_MUL && body->dtype == CG_F32 && body->src[0]->op == OP_CAST &&
             body->src[1]->op == OP_CAST) {
    *a = body->src[0]->src[0];
    *b = body->src[1]->src[0];
  } else if (body->op == OP_MUL && cg_env_get()->allow_tf32) { /* float32 through TF32 */
    *a = body->src[0];
    *b = body->src[1];
    return is_f32_load(*a) && is_f32_load(*b);
  } else {
    return 0;
  }
  return is_half_load(*a) && is_half_load(*b) && (*a)->dtype == (*b)->dtype;
}

/* m: the innermost output loop only A follows, n: the innermost only B follows; the rest are
   batch loops (a batch that only one operand has, as in (B, M, K) @ (K, N), included) */
static int assign_loops(const cg_lowered *l, const int64_t *ca, const int64_t *cb, int *m, int *n) {
  *m = *n = -1;
  for (int g = 0; g < l->nglobal; g++) {
    if (ca[g] && !cb[g]) *m = g;
    if (cb[g] && !ca[g]) *n = g;
  }
  return *m >= 0 && *n >= 0;
}

int cg_tc_match(const cg_lowered *l, cg_tc_plan *tc) {
  const uop *store = l->sink->src[0], *v = store->src[2];
  int out_dt = store->dtype;
  if (out_dt != CG_F32 && out_dt != CG_F16 && out_dt != CG_BF16) return 0;
  int casts[4], ncast = 0;
  for (; v->op == OP_CAST && ncast < 4; v = v->src[0]) {
    if (v->dtype != CG_F32 && v->dtype != CG_F16 && v->dtype != CG_BF16) return 0;
    casts[ncast++] = v->dtype;
  }
  if (v->op != OP_REDUCE || v->ival != OP_ADD || v->dtype != CG_F32 || v->nsrc != 2) return 0;
  const uop *a, *b, *r = v->src[1];
  if (!product_loads(v->src[0], &a, &b) || r->src[0]->op != OP_CONST) return 0;
  range_set rs = {{0}, l->nglobal + 1};
  for (int g = 0; g < l->nglobal; g++) {
    if (l->global_range[g]->src[0]->op != OP_CONST) return 0;
    rs.ranges[g] = l->global_range[g];
  }
  rs.ranges[l->nglobal] = (uop *)r;
  int64_t ca[NR] = {0}, cb[NR] = {0}, co[NR] = {0};
  memset(tc, 0, sizeof *tc);
  if (!affine(a->src[1], &rs, ca, &tc->a_base) || !affine(b->src[1], &rs, cb, &tc->b_base) ||
      !affine(store->src[1], &rs, co, &tc->o_base))
    return 0;
  int m, n, kr = l->nglobal;
  if (!ca[kr] || !cb[kr] || co[kr] || !assign_loops(l, ca, cb, &m, &n)) return 0;
  tc->in_dtype = a->dtype;
  tc->out_dtype = out_dt;
  tc->a_param = (int)a->src[0]->ival;
  tc->b_param = (int)b->src[0]->ival;
  tc->m = l->global_size[m];
  tc->n = l->global_size[n];
  tc->k = r->src[0]->ival;
  tc->a_m = ca[m], tc->a_k = ca[kr];
  tc->b_k = cb[kr], tc->b_n = cb[n];
  tc->o_m = co[m], tc->o_n = co[n];
  if (tc->m % 16 || tc->n % 8 || tc->k % (tc->in_dtype == CG_F32 ? 8 : 16)) return 0;
  for (int i = 0; i < ncast; i++) tc->round_to[i] = casts[ncast - 1 - i];
  tc->nround = ncast;
  for (int g = 0; g < l->nglobal; g++) {
    if (g == m || g == n) continue;
    tc->batch[tc->nbatch] = l->global_size[g];
    tc->a_batch[tc->nbatch] = ca[g];
    tc->b_batch[tc->nbatch] = cb[g];
    tc->o_batch[tc->nbatch++] = co[g];
  }
  return 1;
}

static const char *elem(int dt) { return dt == CG_F32 ? "float" : "unsigned short"; }

static void signature(cg_sbuf *b, const cg_program *p) {
  cg_sbuf_printf(b, "extern \"C\" __global__ void %s(", p->name);
  for (int k = 0; k < p->nparams; k++)
    cg_sbuf_printf(b, "%s%s%s *__restrict__ data%d", k ? ", " : "", k ? "const " : "", elem(p->params[k].dtype), k);
  cg_sbuf_printf(b, ") {\n");
}

/* warp index -> tile (tm, tn) and batch offsets, innermost loop first */
static void tile_offsets(cg_sbuf *b, const cg_tc_plan *tc) {
  cg_sbuf_printf(b, "  long long w = warp;\n  const long long tn = w %% %lld; w /= %lld;\n", (long long)(tc->n / 8), (long long)(tc->n / 8));
  cg_sbuf_printf(b, "  const long long tm = w %% %lld; w /= %lld;\n", (long long)(tc->m / 16), (long long)(tc->m / 16));
  cg_sbuf_printf(b, "  long long ao = %lldLL + tm*%lldLL, bo = %lldLL + tn*%lldLL, oo = %lldLL + tm*%lldLL + tn*%lldLL;\n",
                 (long long)tc->a_base, (long long)(16 * tc->a_m), (long long)tc->b_base, (long long)(8 * tc->b_n),
                 (long long)tc->o_base, (long long)(16 * tc->o_m), (long long)(8 * tc->o_n));
  for (int i = tc->nbatch - 1; i >= 0; i--)
    cg_sbuf_printf(b, "  { const long long bi = w %% %lld; w /= %lld; ao += bi*%lldLL; bo += bi*%lldLL; oo += bi*%lldLL; }\n",
                   (long long)tc->batch[i], (long long)tc->batch[i], (long long)tc->a_batch[i],
                   (long long)tc->b_batch[i], (long long)tc->o_batch[i]);
}

#define MMA_OPERANDS                                                                             \
  "                 : \"+f\"(c0), \"+f\"(c1), \"+f\"(c2), \"+f\"(c3)\n"                                  \
  "                 : \"r\"(a0), \"r\"(a1), \"r\"(a2), \"r\"(a3), \"r\"(b0), \"r\"(b1));\n"

/* m16n8k16: two halves per register */
static void half_loop(cg_sbuf *b, const cg_tc_plan *tc, const char *ty) {
  cg_sbuf_printf(b,
      "  for (long long k0 = 0; k0 < %lldLL; k0 += 16) {\n"
      "    const long long ka = ao + k0*%lldLL, kb = bo + k0*%lldLL;\n"
      "    const unsigned int a0 = LA(g, 2*t) | LA(g, 2*t+1) << 16, a1 = LA(g+8, 2*t) | LA(g+8, 2*t+1) << 16;\n"
      "    const unsigned int a2 = LA(g, 2*t+8) | LA(g, 2*t+9) << 16, a3 = LA(g+8, 2*t+8) | LA(g+8, 2*t+9) << 16;\n"
      "    const unsigned int b0 = LB(2*t, g) | LB(2*t+1, g) << 16, b1 = LB(2*t+8, g) | LB(2*t+9, g) << 16;\n"
      "    asm volatile(\"mma.sync.aligned.m16n8k16.row.col.f32.%s.%s.f32 {%%0,%%1,%%2,%%3}, {%%4,%%5,%%6,%%7}, {%%8,%%9}, {%%0,%%1,%%2,%%3};\"\n"
      MMA_OPERANDS "  }\n",
      (long long)tc->k, (long long)tc->a_k, (long long)tc->b_k, ty, ty);
}

/* m16n8k8 TF32 (ALLOW_TF32=1): one value per register, rounded to TF32 */
static void tf32_loop(cg_sbuf *b, const cg_tc_plan *tc) {
  cg_sbuf_printf(b,
      "  for (long long k0 = 0; k0 < %lldLL; k0 += 8) {\n"
      "    const long long ka = ao + k0*%lldLL, kb = bo + k0*%lldLL;\n"
      "    const unsigned int a0 = TF(LA(g, t)), a1 = TF(LA(g+8, t)), a2 = TF(LA(g, t+4)), a3 = TF(LA(g+8, t+4));\n"
      "    const unsigned int b0 = TF(LB(t, g)), b1 = TF(LB(t+4, g));\n"
      "    asm volatile(\"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%%0,%%1,%%2,%%3}, {%%4,%%5,%%6,%%7}, {%%8,%%9}, {%%0,%%1,%%2,%%3};\"\n"
      MMA_OPERANDS "  }\n",
      (long long)tc->k, (long long)tc->a_k, (long long)tc->b_k);
}

char *cg_tc_render(cg_program *p, const cg_tc_plan *tc) {
  int64_t warps = (tc->m / 16) * (tc->n / 8);
  for (int i = 0; i < tc->nbatch; i++) warps *= tc->batch[i];
  p->group_size = 0;
  p->local_size = 128;
  p->launch_threads = warps * 32;
  const char *ty = tc->in_dtype == CG_BF16 ? "bf16" : "f16";
  char conv[64] = "";
  int n = 0;
  n += snprintf(conv + n, sizeof conv - n, "%s", tc->out_dtype == CG_F16 ? "f2h" : tc->out_dtype == CG_BF16 ? "f2bf" : "");
  for (int i = tc->nround - 1; i >= 0; i--) /* outermost cast applied last */
    if (tc->round_to[i] != CG_F32) n += snprintf(conv + n, sizeof conv - n, "(%s", tc->round_to[i] == CG_F16 ? "rh" : "rbf");
  int open = 0;
  for (int i = 0; i < tc->nround; i++) open += tc->round_to[i] != CG_F32;
  char close[8] = "";
  for (int i = 0; i < open && i < 7; i++) close[i] = ')';
  cg_sbuf b = {0};
  cg_sbuf_printf(&b, "%s\n", cg_dialect_cuda.prelude);
  if (tc->in_dtype == CG_F32)
    cg_sbuf_printf(&b, "CGFN unsigned int TF(float x) { unsigned int r; asm(\"cvt.rna.tf32.f32 %%0, %%1;\" : \"=r\"(r) : \"f\"(x)); return r; }\n");
  signature(&b, p);
  cg_sbuf_printf(&b, "  const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;\n"
                     "  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;\n"
                     "  if (warp >= %lldLL) return;\n", (long long)warps);
  tile_offsets(&b, tc);
  const char *ld = tc->in_dtype == CG_F32 ? "" : "(unsigned int)";
  cg_sbuf_printf(&b, "#define LA(r, c) %sdata%d[ka + (long long)(r)*%lldLL + (long long)(c)*%lldLL]\n",
                 ld, tc->a_param, (long long)tc->a_m, (long long)tc->a_k);
  cg_sbuf_printf(&b, "#define LB(k, c) %sdata%d[kb + (long long)(k)*%lldLL + (long long)(c)*%lldLL]\n",
                 ld, tc->b_param, (long long)tc->b_k, (long long)tc->b_n);
  cg_sbuf_printf(&b, "  float c0 = 0, c1 = 0, c2 = 0, c3 = 0;\n");
  if (tc->in_dtype == CG_F32) tf32_loop(&b, tc);
  else half_loop(&b, tc, ty);
  cg_sbuf_printf(&b,
      "  const long long r0 = oo + (long long)g*%lldLL + (long long)(2*t)*%lldLL, r8 = r0 + 8*%lldLL;\n"
      "  data0[r0] = %s(c0%s); data0[r0 + %lldLL] = %s(c1%s); data0[r8] = %s(c2%s); data0[r8 + %lldLL] = %s(c3%s);\n}\n",
      (long long)tc->o_m, (long long)tc->o_n, (long long)tc->o_m, conv, close, (long long)tc->o_n, conv, close,
      conv, close, (long long)tc->o_n, conv, close);
  return b.s;
}
