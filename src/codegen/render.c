/* The renderer, for every C-family dialect. Every value is a local named after its instruction;
   float16/bfloat16 values live in float registers and are rounded after each operation, so results
   equal true half arithmetic (and the interpreter). Signed narrow ints wrap through unsigned math
   (no C overflow UB). What differs between C, CUDA and OpenCL is looked up in the dialect.

   GPU structure: the output loops (RANGE_GLOBAL, a perfect nest at the top) are not loops but
   one flat thread index split into the loop variables. With p->group_size > 0 each output is a
   work-group: every reduce loop not inside another reduce is strided over the group's threads,
   each thread keeps partial accumulators, and a tree in local memory combines them after the
   loop so every thread holds the full value; only thread 0 stores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ir/uop.h"
#include "render.h"

typedef struct {
  const cg_program *p;
  const cg_dialect *d;
  cg_sbuf *b;
  int depth;                 /* indentation */
  int red_depth;             /* enclosing reduce loops */
  int grouped_range;         /* instruction of the open group-strided reduce loop, or -1 */
  int first_reduce;          /* GPU: output loops after this instruction are inner loops */
  int inner_depth;           /* open inner output loops (their stores are per thread) */
  int *vec_lane;             /* GPU: lane loop of a 4-wide vector load/store, per instruction (or -1) */
  char *folded;              /* GPU: accumulators whose lanes were folded into lane 0 before a group combine */
  char *simd;                /* CPU: 8-wide vector rendering per instruction (cg_simd_plan), or NULL */
  int stream;                /* CPU: vector stores of the output stream past the cache */
  int streamed;              /* some store did: the kernel ends with a fence */
} renderer;

static int encloses_tile(const cg_program *p, int i);

/* streaming stores pay for an output the kernel does not read back and cache could not keep
   (CG_STREAM_MIN_BYTES, program.h); not a register tile's (matmul, convolution), which
   prefetches its output lines for writing (prefetch.c) and was timed that way */
static int streams_output(const cg_program *p, const cg_dialect *d) {
  if (!d->vload8 || p->reads_output || p->nparams == 0 || p->params[0].dtype != CG_F32 ||
      !cg_streamed_f32(p->params[0].numel))
    return 0;
  for (int i = 0; i < p->nins; i++)
    if (p->ins[i].op == OP_RANGE && p->ins[i].ival2 == RANGE_REDUCE && encloses_tile(p, i)) return 0;
  return 1;
}

static int simd_kind(const renderer *R, int i) { return R->simd ? R->simd[i] : 0; }

/* lane `lane` (an expression) of accumulator acc: a float, or a cg_f32x8 element */
static void acc_lane(const renderer *R, int acc, const char *lane, char *out, size_t n) {
  if (simd_kind(R, acc) == CG_SIMD_ACC) snprintf(out, n, "v%d[(%s) >> 3][(%s) & 7]", acc, lane, lane);
  else snprintf(out, n, "v%d[%s]", acc, lane);
}

static int is_half(int dt) { return dt == CG_F16 || dt == CG_BF16; }

/* type of a value register */
static const char *reg_type(const cg_dialect *d, int dt) {
  if (dt == CG_F16 || dt == CG_BF16) return "float";
  if (dt == CG_I64) return d->i64;
  if (dt == CG_U64) return d->u64;
  return cg_dtype_get(dt)->ctype;
}

static void render_const(const renderer *R, const cg_inst *in) {
  const cg_dialect *d = R->d;
  cg_sbuf *b = R->b;
  if (cg_dtype_is_float(in->dtype)) {
    const char *cast = in->dtype == CG_F64 ? "(double)" : "(float)";
    if (isnan(in->fval)) cg_sbuf_printf(b, "%s%s", cast, d->nan);
    else if (isinf(in->fval)) cg_sbuf_printf(b, "%s%s%s", cast, in->fval < 0 ? "-" : "", d->inf);
    else cg_sbuf_printf(b, "%s%a", cast, in->fval);
  } else if (cg_dtype_is_unsigned(in->dtype) || in->dtype == CG_BOOL) {
    cg_sbuf_printf(b, "(%s)%llu%s", reg_type(d, in->dtype), (unsigned long long)in->ival, d->lit_u64);
  } else if (in->ival == INT64_MIN) {
    cg_sbuf_printf(b, "(%s)(-9223372036854775807%s-1)", reg_type(d, in->dtype), d->lit_i64);
  } else {
    cg_sbuf_printf(b, "(%s)%lld%s", reg_type(d, in->dtype), (long long)in->ival, d->lit_i64);
  }
}

static const char *math_fn(int op) {
  switch (op) {
  case OP_EXP2: return "exp2";
  case OP_LOG2: return "log2";
  case OP_SIN: return "sin";
  default: return "sqrt";
  }
}

/* integer ops that could overflow are done in unsigned 64-bit and truncated back */
static int wraps(int dt) { return !cg_dtype_is_float(dt) && dt != CG_I64; }

/* operands of one ALU expression, already named (a register, a lane, an accumulator) */
typedef struct {
  int op, dt, sdt;          /* op, result dtype, first operand's dtype */
  const char *a, *c, *w;    /* operands */
  int c_safe_divisor;       /* c is a constant other than 0 and -1 */
} alu_expr;

static void render_bitcast(const renderer *R, const alu_expr *e) {
  const cg_dialect *d = R->d;
  cg_sbuf *b = R->b;
  const char *t = reg_type(d, e->dt), *a = e->a;
  int sdt = e->sdt, dt = e->dt;
  /* halves go through their stored bit pattern */
  const char *sbits = is_half(sdt) ? (sdt == CG_F16 ? "f2h" : "f2bf") : "";
  if (is_half(dt)) { cg_sbuf_printf(b, "%s((half_bits)%s(%s))", dt == CG_F16 ? "h2f" : "bf2f", sbits, a); return; }
  if (is_half(sdt)) { cg_sbuf_printf(b, "(%s)%s(%s)", t, sbits, a); return; }
  if (dt == CG_F32) cg_sbuf_printf(b, "u2f32((unsigned int)%s)", a);
  else if (dt == CG_F64) cg_sbuf_printf(b, "u2f64((%s)%s)", d->u64, a);
  else if (sdt == CG_F32) cg_sbuf_printf(b, "(%s)f2u32(%s)", t, a);
  else if (sdt == CG_F64) cg_sbuf_printf(b, "(%s)f2u64(%s)", t, a);
  else cg_sbuf_printf(b, "(%s)%s", t, a); /* integers of one size: the same bits */
}

static void render_core(const renderer *R, const alu_expr *e) {
  const cg_dialect *d = R->d;
  cg_sbuf *b = R->b;
  const char *t = reg_type(d, e->dt), *a = e->a, *c = e->c, *u = d->u64;
  int dt = e->dt, bits = cg_dtype_size(dt) * 8;
  switch (e->op) {
  case OP_EXP2: case OP_LOG2: case OP_SIN: case OP_SQRT:
    if (dt != CG_F64 && e->op == OP_EXP2 && d->exp2_f32) { cg_sbuf_printf(b, "%s(%s)", d->exp2_f32, a); break; }
    if (dt != CG_F64 && e->op == OP_LOG2 && d->log2_f32) { cg_sbuf_printf(b, "%s(%s)", d->log2_f32, a); break; }
    cg_sbuf_printf(b, "%s%s%s(%s)", d->math_prefix, math_fn(e->op),
                   d->math_f_suffix && dt != CG_F64 ? "f" : "", a);
    break;
  case OP_RECIP: cg_sbuf_printf(b, "(%s)1/%s", t, a); break;
  case OP_NEG:
    if (wraps(dt)) cg_sbuf_printf(b, "(%s)((%s)0-(%s)%s)", t, u, u, a);
    else cg_sbuf_printf(b, "-%s", a);
    break;
  case OP_ADD: case OP_MUL: {
    const char *o = e->op == OP_ADD ? "+" : "*";
    if (wraps(dt)) cg_sbuf_printf(b, "(%s)((%s)%s%s(%s)%s)", t, u, a, o, u, c);
    else cg_sbuf_printf(b, "%s%s%s", a, o, c);
    break;
  }
  case OP_IDIV: case OP_MOD: {
    const char *o = e->op == OP_IDIV ? "/" : "%";
    if (e->c_safe_divisor) cg_sbuf_printf(b, "%s%s%s", a, o, c);
    else if (cg_dtype_is_unsigned(dt)) cg_sbuf_printf(b, "(%s?%s%s%s:0)", c, a, o, c);
    else if (e->op == OP_IDIV)
      cg_sbuf_printf(b, "(%s==0?(%s)0:%s==-1?(%s)((%s)0-(%s)%s):%s/%s)", c, t, c, t, u, u, a, a, c);
    else cg_sbuf_printf(b, "(%s==0||%s==-1?(%s)0:%s%%%s)", c, c, t, a, c);
    break;
  }
  case OP_MAX:
    /* C: a non-short-circuit | keeps it one select, which gcc vectorizes (|| is a branch) */
    if (cg_dtype_is_float(dt))
      cg_sbuf_printf(b, "((%s!=%s%s%s>%s)?%s:%s)", a, a, d->gpu ? "||" : "|", a, c, a, c);
    else cg_sbuf_printf(b, "(%s>%s?%s:%s)", a, c, a, c);
    break;
  case OP_CMPLT: cg_sbuf_printf(b, "(%s<%s)", a, c); break;
  case OP_CMPNE: cg_sbuf_printf(b, "(%s!=%s)", a, c); break;
  case OP_AND: cg_sbuf_printf(b, "(%s)(%s&%s)", t, a, c); break;
  case OP_OR: cg_sbuf_printf(b, "(%s)(%s|%s)", t, a, c); break;
  case OP_XOR: cg_sbuf_printf(b, "(%s)(%s^%s)", t, a, c); break;
  case OP_SHL: cg_sbuf_printf(b, "(%s)((%s)%s<<(%s&%d))", t, u, a, c, bits - 1); break;
  case OP_SHR: cg_sbuf_printf(b, "(%s)(%s>>(%s&%d))", t, a, c, bits - 1); break;
  case OP_WHERE: cg_sbuf_printf(b, "(%s?%s:%s)", a, c, e->w); break;
  case OP_CAST:
    if (dt == CG_BOOL) cg_sbuf_printf(b, "(%s)(%s!=0)", t, a);
    else if (is_half(dt)) cg_sbuf_printf(b, "%s((float)%s)", dt == CG_F16 ? "rh" : "rbf", a);
    else cg_sbuf_printf(b, "(%s)%s", t, a);
    break;
  case OP_BITCAST: render_bitcast(R, e); break;
  }
}

/* half results are rounded after every op so they equal true half arithmetic */
static void render_expr(const renderer *R, const alu_expr *e) {
  int round = is_half(e->dt) && e->op != OP_CAST && e->op != OP_BITCAST && e->op != OP_WHERE;
  if (round) cg_sbuf_printf(R->b, "%s(", e->dt == CG_F16 ? "rh" : "rbf");
  render_core(R, e);
  if (round) cg_sbuf_printf(R->b, ")");
}

static void render_alu(const renderer *R, const cg_inst *in) {
  const cg_program *p = R->p;
  char a[24], c[24], w[24];
  snprintf(a, sizeof a, "v%d", in->src[0]);
  snprintf(c, sizeof c, "v%d", in->src[1]);
  snprintf(w, sizeof w, "v%d", in->src[2]);
  const cg_inst *dv = in->nsrc > 1 ? &p->ins[in->src[1]] : NULL;
  alu_expr e = {in->op, in->dtype, in->nsrc ? p->ins[in->src[0]].dtype : in->dtype, a, c, w,
                dv && dv->op == OP_CONST && dv->ival != 0 && dv->ival != -1};
  render_expr(R, &e);
}

static const char *load_conv(int dt) { return dt == CG_F16 ? "h2f" : dt == CG_BF16 ? "bf2f" : ""; }
static const char *store_conv(int dt) { return dt == CG_F16 ? "f2h" : dt == CG_BF16 ? "f2bf" : ""; }

static void acc_init(const renderer *R, int dt, int op) {
  cg_sbuf *b = R->b;
  if (op == OP_ADD) cg_sbuf_printf(b, "0");
  else if (op == OP_MUL) cg_sbuf_printf(b, "1");
  else if (cg_dtype_is_float(dt)) cg_sbuf_printf(b, "-%s", R->d->inf);
  else if (cg_dtype_is_unsigned(dt) || dt == CG_BOOL) cg_sbuf_printf(b, "0");
  else cg_sbuf_printf(b, "(%s)((%s)1<<%d)", reg_type(R->d, dt), R->d->u64, cg_dtype_size(dt) * 8 - 1);
}

static const char *indent_text(const renderer *R) {
  static const char spaces[] = "                                                                ";
  int n = R->depth * 2 + 2;
  return spaces + (n < (int)sizeof spaces - 1 ? (int)sizeof spaces - 1 - n : 0);
}

static void indent(renderer *R) { cg_sbuf_puts(R->b, indent_text(R)); }

/* ---- GPU: output loops from the thread index ---- */

static int global_size_operand(const cg_program *p, int range_ins, char *out, size_t n) {
  const cg_inst *end = &p->ins[p->ins[range_ins].src[0]];
  if (end->op == OP_CONST) return snprintf(out, n, "%lld", (long long)end->ival);
  return snprintf(out, n, "var%lld", (long long)end->ival2); /* a DEFINE_VAR */
}

/* v = (gidx / product of the inner output sizes) % own size */
static void render_global_index(renderer *R, int i) {
  const cg_program *p = R->p;
  char stride[512] = "1", size[32];
  size_t n = 1;
  for (int k = i + 1; k < R->first_reduce; k++) {
    const cg_inst *in = &p->ins[k];
    if (in->op != OP_RANGE || in->ival2 != RANGE_GLOBAL) continue;
    char s[32];
    global_size_operand(p, k, s, sizeof s);
    n += (size_t)snprintf(stride + n, n < sizeof stride ? sizeof stride - n : 0, "*%s", s);
  }
  global_size_operand(p, i, size, sizeof size);
  indent(R);
  cg_sbuf_printf(R->b, "const %s v%d = (%s)((gidx/(%s))%%%s);\n", R->d->i64, i, R->d->i64, stride, size);
}

/* the flat output index; without groups, threads past the last output do nothing */
static void render_gpu_entry(renderer *R) {
  const cg_program *p = R->p;
  const cg_dialect *d = R->d;
  indent(R);
  if (p->group_size) {
    cg_sbuf_printf(R->b, "const %s gidx = (%s)%s; const int lid = (int)%s;\n", d->i64, d->i64, d->group_id, d->local_id);
    return;
  }
  cg_sbuf_printf(R->b, "const %s gidx = (%s)%s*%d+%s;\n", d->i64, d->i64, d->group_id, p->local_size, d->local_id);
  indent(R);
  cg_sbuf_printf(R->b, "if (gidx < 1");
  for (int k = 0; k < p->nins; k++) {
    if (p->ins[k].op != OP_RANGE || p->ins[k].ival2 != RANGE_GLOBAL) continue;
    char s[32];
    global_size_operand(p, k, s, sizeof s);
    cg_sbuf_printf(R->b, "*%s", s);
  }
  cg_sbuf_printf(R->b, ") {\n");
  R->depth++;
}

/* one accumulator (lvalue v) combined over the group through a tree in local memory red */
static void combine_in_local_memory(renderer *R, const char *v, const char *red, const char *t, int op, int dt) {
  const cg_dialect *d = R->d;
  int gs = R->p->group_size;
  char lhs[64], rhs[64];
  snprintf(lhs, sizeof lhs, "%s[lid]", red);
  snprintf(rhs, sizeof rhs, "%s[lid+s]", red);
  alu_expr e = {op, dt, dt, lhs, rhs, NULL, 0};
  indent(R);
  cg_sbuf_printf(R->b, "%s %s %s[%d]; %s[lid] = %s; %s;\n", d->local_decl, t, red, gs, red, v, d->barrier);
  indent(R);
  cg_sbuf_printf(R->b, "for (int s = %d; s > 0; s >>= 1) { if (lid < s) %s[lid] = ", gs / 2, red);
  render_expr(R, &e);
  cg_sbuf_printf(R->b, "; %s; }\n", d->barrier);
  indent(R);
  cg_sbuf_printf(R->b, "%s = %s[0];\n", v, red);
}

/* within each warp by register exchange, then across warps through one slot per warp; every
   thread ends with bit-identical values (each exchange step combines the same two operands) */
static void combine_by_shuffle(renderer *R, const char *v, const char *red, const char *t, int op, int dt) {
  const cg_dialect *d = R->d;
  int gs = R->p->group_size;
  char other[96], slot[64];
  snprintf(other, sizeof other, d->warp_shuffle, v);
  alu_expr e = {op, dt, dt, v, "o_", NULL, 0};
  indent(R); /* the exchange runs on every lane, outside the op's conditional operands */
  cg_sbuf_printf(R->b, "for (int s = 16; s > 0; s >>= 1) { const %s o_ = %s; %s = ", t, other, v);
  render_expr(R, &e);
  cg_sbuf_printf(R->b, "; }\n");
  if (gs <= 32) return;
  indent(R);
  cg_sbuf_printf(R->b, "%s %s %s[%d]; if ((lid & 31) == 0) %s[lid >> 5] = %s; %s; %s = %s[0];\n",
                 d->local_decl, t, red, gs / 32, red, v, d->barrier, v, red);
  snprintf(slot, sizeof slot, "%s[w]", red);
  alu_expr f = {op, dt, dt, v, slot, NULL, 0};
  indent(R);
  cg_sbuf_printf(R->b, "for (int w = 1; w < %d; w++) %s = ", gs / 32, v);
  render_expr(R, &f);
  cg_sbuf_printf(R->b, ";\n");
}

/* the accumulators assigned inside the loop [start, end): each is combined across the group; an
   unrolled one's lanes are first folded into lane 0 (one combine instead of one per lane) */
static void render_group_combine(renderer *R, int start, int end) {
  const cg_program *p = R->p;
  for (int i = start; i < end; i++) {
    const cg_inst *in = &p->ins[i];
    if (in->op != OP_ASSIGN) continue;
    int acc = in->src[0], seen = acc > start; /* an accumulator of a loop inside this one */
    for (int j = start; j < i && !seen; j++) seen = p->ins[j].op == OP_ASSIGN && p->ins[j].src[0] == acc;
    if (seen) continue;
    int dt = p->ins[acc].dtype, op = (int)p->ins[acc].ival;
    const char *t = reg_type(R->d, dt);
    char v[24], red[24];
    snprintf(v, sizeof v, p->ins[acc].ival2 > 1 ? "v%d[0]" : "v%d", acc);
    snprintf(red, sizeof red, "red%d", acc);
    for (int64_t l = 1; l < p->ins[acc].ival2; l++) {
      char lane[48];
      snprintf(lane, sizeof lane, "v%d[%lld]", acc, (long long)l);
      alu_expr e = {op, dt, dt, v, lane, NULL, 0};
      indent(R);
      cg_sbuf_printf(R->b, "%s = ", v);
      render_expr(R, &e);
      cg_sbuf_printf(R->b, ";\n");
    }
    R->folded[acc] = 1;
    int word = is_half(dt) || cg_dtype_size(dt) >= 4; /* shuffles move 32- and 64-bit registers */
    if (R->d->warp_shuffle && word && p->group_size % 32 == 0) combine_by_shuffle(R, v, red, t, op, dt);
    else combine_in_local_memory(R, v, red, t, op, dt);
  }
}

/* ---- loops ---- */

/* A reduce loop whose body holds an UPCAST output loop: a register tile of accumulators. C
   unrolls it 4 steps: the 4x16 matmul tile ran at ~35 GFLOPS a thread rolled, ~53 unrolled
   (Zen 3, gcc 12): more independent loads and mul+adds in flight per loop iteration. */
enum { TILE_LOOP_UNROLL = 4 };
static int encloses_tile(const cg_program *p, int i) {
  for (int k = i + 1, end = cg_loop_end(p, i); k < end; k++)
    if (p->ins[k].op == OP_RANGE && p->ins[k].ival2 == RANGE_UPCAST) return 1;
  return 0;
}

/* loop i holds a lane loop rendered 8 lanes a step */
static int encloses_simd_loop(const renderer *R, int i) {
  for (int k = i + 1, end = cg_loop_end(R->p, i); k < end; k++)
    if (simd_kind(R, k) == CG_SIMD_LOOP) return 1;
  return 0;
}

/* the innermost loop of kind `kind` (cg_simd_plan) around instruction i, or -1 */
static int enclosing_simd(const renderer *R, int i, int kind) {
  int k = cg_enclosing_loop(R->p, i);
  while (k >= 0 && simd_kind(R, k) != kind) k = cg_enclosing_loop(R->p, k);
  return k;
}

/* for each transposing store in loop i's body: before the loop, its 8 vectors and base index;
   after it, the 8x8 transpose and 8 unit-stride stores (cg_simd_plan) */
static void transposed_stores(renderer *R, int i, int after) {
  const cg_program *p = R->p;
  int first = 1;
  for (int k = i + 1, end = cg_loop_end(p, i); k < end; k++) {
    if (simd_kind(R, k) != CG_SIMD_TSTORE) continue;
    const cg_inst *in = &p->ins[k];
    if (after || !first) indent(R); /* the loop's own line was indented already */
    first = 0;
    if (!after) {
      cg_sbuf_printf(R->b, "cg_f32x8 tr%d[8]; long long tb%d = 0;\n", k, k);
      continue;
    }
    long long stride = (long long)cg_lane_coef(p, in->src[1], enclosing_simd(R, k, CG_SIMD_LOOP));
    cg_sbuf_printf(R->b, "cg_transpose8(tr%d);\n", k);
    indent(R);
    cg_sbuf_printf(R->b, "%s 8\n", R->d->unroll);
    indent(R);
    cg_sbuf_printf(R->b, "for (int l = 0; l < 8; l++) cg_vstore8(data%lld + tb%d + l * %lldLL, tr%d[l]);\n",
                   (long long)p->ins[in->src[0]].ival, k, stride, k);
  }
}

/* constant trip count of loop i, or a large number for a symbolic one */
static int64_t tile_loop_trip(const cg_program *p, int i) {
  int64_t trip = cg_loop_trip(p, i);
  return trip < 0 ? INT64_MAX : trip;
}

/* gcc vectorizes a rolled lane loop only when its body is straight loads and arithmetic: a gated
   load or index division (a convolution's transposed gradient) leaves it scalar, with the
   accumulators in memory (2.5x slower than unrolled there) */
static int lane_loop_vectorizes(const cg_program *p, int i) {
  for (int k = i + 1, end = cg_loop_end(p, i); k < end; k++) {
    const cg_inst *in = &p->ins[k];
    if ((in->op == OP_LOAD && in->nsrc == 3) || in->op == OP_IDIV || in->op == OP_MOD) return 0;
  }
  return 1;
}

/* GPU: the 4-element registers of the vector loads and stores in lane loop i (vector_access.c) */
static void declare_vectors(renderer *R, int i) {
  const cg_program *p = R->p;
  int any = 0;
  for (int k = i + 1, end = cg_loop_end(p, i); k < end; k++) {
    if (R->vec_lane[k] != i) continue;
    const char *vt = R->d->gpu ? cg_vector_type(p->params[p->ins[p->ins[k].src[0]].ival].dtype) : "cg_f32x8";
    cg_sbuf_printf(R->b, "%s vec%d; ", vt, k);
    any = 1;
  }
  if (any) {
    cg_sbuf_puts(R->b, "\n");
    indent(R);
  }
}

static void render_range(renderer *R, int i) {
  const cg_program *p = R->p;
  const cg_inst *in = &p->ins[i];
  const char *ll = R->d->i64;
  if (R->d->gpu && in->ival2 == RANGE_GLOBAL && i < R->first_reduce) {
    render_global_index(R, i);
    return;
  }
  if (R->d->gpu && in->ival2 == RANGE_GLOBAL) { /* an inner output loop: group-strided */
    indent(R);
    if (R->inner_depth++ == 0)
      cg_sbuf_printf(R->b, "for (%s v%d = lid; v%d < v%d; v%d += %d) {\n", ll, i, i, in->src[0], i, p->group_size);
    else
      cg_sbuf_printf(R->b, "for (%s v%d = 0; v%d < v%d; v%d++) {\n", ll, i, i, in->src[0], i);
    R->depth++;
    return;
  }
  indent(R);
  /* C leaves an unrolled reduce's lane loop rolled: gcc then vectorizes it as one contiguous
     loop (a select or exp2 per lane included), where the unrolled lanes became a strided,
     shuffle-heavy vectorization of the loop around them, or none (a NaN-propagating max) */
  int tile = R->d->tile_barrier && in->ival2 == RANGE_REDUCE && encloses_tile(p, i);
  /* a short one (a convolution's taps) stays rolled: fully unrolled, gcc's SLP vectorizer pairs
     the steps' overlapping loads instead of the tile's columns (a 4x16 conv tile: 11 -> 27
     GFLOPS a thread with its 3-step tap loop rolled) */
  int short_tile = tile && !R->d->gpu && tile_loop_trip(p, i) <= TILE_LOOP_UNROLL;
  /* ...unless the tile is written as vectors (no SLP to mislead): unrolled, its steps interleave
     without loop overhead (the conv2 forward tile: 10.6 -> 8.0 ms a thread) */
  int unrolled_taps = short_tile && encloses_simd_loop(R, i);
  int roll = in->ival2 == RANGE_UNROLL && !R->d->gpu && lane_loop_vectorizes(p, i);
  if (simd_kind(R, i) == CG_SIMD_LOOP) { /* 8 lanes a step (cg_simd_plan) */
    int64_t trip = p->ins[in->src[0]].ival;
    if (in->ival2 == RANGE_UPCAST) { /* unrolled; a plain loop (a streamed last pass) stays a loop */
      cg_sbuf_printf(R->b, "%s %lld\n", R->d->unroll, (long long)trip / 8);
      indent(R);
    }
    cg_sbuf_printf(R->b, "for (%s v%d = 0; v%d < v%d; v%d += 8) {\n", ll, i, i, in->src[0], i);
    R->depth++;
    return;
  }
  if (R->vec_lane) declare_vectors(R, i);
  if (simd_kind(R, i) == CG_SIMD_TOUTER) {
    transposed_stores(R, i, 0);
    indent(R);
  }
  if (in->ival2 == RANGE_UPCAST || (in->ival2 == RANGE_UNROLL && !roll)) {
    cg_sbuf_printf(R->b, "%s %lld\n", R->d->unroll, (long long)p->ins[in->src[0]].ival);
    indent(R);
  } else if (tile) {
    cg_sbuf_printf(R->b, "%s %d\n", R->d->unroll,
                   unrolled_taps ? (int)tile_loop_trip(p, i) : short_tile ? 1 : TILE_LOOP_UNROLL);
    indent(R);
  }
  if (R->d->gpu && p->group_size && in->ival2 == RANGE_REDUCE && !R->red_depth && !R->inner_depth) {
    R->grouped_range = i;
    cg_sbuf_printf(R->b, "for (%s v%d = lid; v%d < v%d; v%d += %d) {\n", ll, i, i, in->src[0], i, p->group_size);
  } else if (!R->d->gpu && i == p->thread_ins) {
    cg_sbuf_printf(R->b, "for (%s v%d = start; v%d < end; v%d++) {\n", ll, i, i, i);
  } else {
    cg_sbuf_printf(R->b, "for (%s v%d = 0; v%d < v%d; v%d++) {\n", ll, i, i, in->src[0], i);
  }
  R->red_depth += in->ival2 == RANGE_REDUCE;
  R->depth++;
  if (!R->d->gpu && (in->ival2 == RANGE_REDUCE || in->ival2 == RANGE_GLOBAL))
    cg_render_row_prefetch(p, i, R->b, indent_text(R));
  if (tile && !unrolled_taps) {
    indent(R);
    cg_sbuf_printf(R->b, "%s\n", R->d->tile_barrier);
  }
}

static void render_endrange(renderer *R, int i) {
  const cg_inst *r = &R->p->ins[R->p->ins[i].src[0]];
  if (R->d->gpu && r->ival2 == RANGE_GLOBAL && R->p->ins[i].src[0] < R->first_reduce)
    return; /* the thread index covers it */
  if (R->d->gpu && r->ival2 == RANGE_GLOBAL) {
    R->inner_depth--;
    R->depth--;
    indent(R);
    cg_sbuf_printf(R->b, "}\n");
    return;
  }
  R->depth--;
  R->red_depth -= r->ival2 == RANGE_REDUCE;
  indent(R);
  cg_sbuf_printf(R->b, "}\n");
  if (simd_kind(R, R->p->ins[i].src[0]) == CG_SIMD_TOUTER) transposed_stores(R, R->p->ins[i].src[0], 1);
  if (R->p->ins[i].src[0] == R->grouped_range) {
    render_group_combine(R, R->grouped_range, i);
    R->grouped_range = -1;
  }
}

/* ---- instructions ---- */

static void render_define_acc(renderer *R, int i, const cg_inst *in) {
  const char *t = reg_type(R->d, in->dtype);
  indent(R);
  if (simd_kind(R, i) == CG_SIMD_ACC) {
    cg_sbuf_printf(R->b, "cg_f32x8 v%d[%lld];\n", i, (long long)in->ival2 / 8);
    indent(R);
    cg_sbuf_printf(R->b, "for (int l = 0; l < %lld; l++) v%d[l] = cg_splat8(", (long long)in->ival2 / 8, i);
    acc_init(R, in->dtype, (int)in->ival);
    cg_sbuf_printf(R->b, ");\n");
    cg_render_output_prefetch(R->p, i, R->b, indent_text(R));
    cg_render_slab_prefetch(R->p, i, R->b, indent_text(R));
    return;
  }
  if (in->ival2 > 1) {
    cg_sbuf_printf(R->b, "%s v%d[%lld];\n", t, i, (long long)in->ival2);
    indent(R);
    cg_sbuf_printf(R->b, "for (int l = 0; l < %lld; l++) v%d[l] = ", (long long)in->ival2, i);
  } else {
    cg_sbuf_printf(R->b, "%s v%d = ", t, i);
  }
  acc_init(R, in->dtype, (int)in->ival);
  cg_sbuf_printf(R->b, ";\n");
  if (in->ival2 > 1 && !R->d->gpu) cg_render_output_prefetch(R->p, i, R->b, indent_text(R));
  if (!R->d->gpu) cg_render_slab_prefetch(R->p, i, R->b, indent_text(R));
}

static void render_assign(renderer *R, const cg_inst *in) { /* acc (or its lane) = acc op value */
  char acc[96], val[24], lane[24];
  snprintf(lane, sizeof lane, "v%d", in->src[2]);
  if (in->nsrc == 3) acc_lane(R, in->src[0], lane, acc, sizeof acc);
  else snprintf(acc, sizeof acc, "v%d", in->src[0]);
  indent(R);
  if (cg_assign_is_fma(R->p, in)) {
    const cg_inst *mul = &R->p->ins[in->src[1]];
    cg_sbuf_printf(R->b, "%s = %s(v%d, v%d, %s);\n", acc, in->dtype == CG_F64 ? R->d->fma_f64 : R->d->fma_f32,
                   mul->src[0], mul->src[1], acc);
    return;
  }
  snprintf(val, sizeof val, "v%d", in->src[1]);
  alu_expr e = {(int)in->ival, in->dtype, in->dtype, acc, val, NULL, 0};
  cg_sbuf_printf(R->b, "%s = ", acc);
  render_expr(R, &e);
  cg_sbuf_printf(R->b, ";\n");
}

static void render_reduce(renderer *R, int i, const cg_inst *in) { /* one lane, or fold lanes */
  const char *t = reg_type(R->d, in->dtype);
  indent(R);
  char lane[96], at[24];
  if (in->ival2 < 0) {
    snprintf(at, sizeof at, "v%d", in->src[1]);
    acc_lane(R, in->src[0], at, lane, sizeof lane);
    cg_sbuf_printf(R->b, "const %s v%d = %s;\n", t, i, lane);
    return;
  }
  acc_lane(R, in->src[0], "0", lane, sizeof lane);
  cg_sbuf_printf(R->b, "%s v%d = %s;\n", t, i, lane);
  for (int64_t l = 1; l < in->ival2 && !(R->folded && R->folded[in->src[0]]); l++) {
    char self[24];
    snprintf(self, sizeof self, "v%d", i);
    snprintf(at, sizeof at, "%lld", (long long)l);
    acc_lane(R, in->src[0], at, lane, sizeof lane);
    alu_expr e = {(int)in->ival, in->dtype, in->dtype, self, lane, NULL, 0};
    indent(R);
    cg_sbuf_printf(R->b, "v%d = ", i);
    render_expr(R, &e);
    cg_sbuf_printf(R->b, ";\n");
  }
}

/* lanes 0, 4, ... load 4 elements into vecI; the others read their component (after the loop is
   unrolled, every lane index is a constant and the selects fold away) */
static void render_vector_load(renderer *R, int i, int param) {
  const cg_inst *in = &R->p->ins[i];
  if (!R->d->gpu) { /* lanes 0, 8, ...: 8 floats into a register (vector_access.c) */
    int lane = R->vec_lane[i];
    indent(R);
    cg_sbuf_printf(R->b, "const float v%d = (v%d & 7) ? vec%d[v%d & 7] : (vec%d = %s(data%d + v%d))[0];\n",
                   i, lane, i, lane, i, R->d->vload8, param, in->src[1]);
    return;
  }
  const char *vt = cg_vector_type(R->p->params[param].dtype);
  int lane = R->vec_lane[i];
  indent(R);
  cg_sbuf_printf(R->b, "const %s v%d = %s((v%d & 3) ? CG_VGET(vec%d, v%d & 3) : (vec%d = CG_VLOAD(%s, data%d + v%d)).x);\n",
                 reg_type(R->d, in->dtype), i, load_conv(in->dtype), lane, i, lane, i, vt, param, in->src[1]);
}

/* each lane fills its component of vecI; the last of every 4 stores them together */
static void render_vector_store(renderer *R, int i) {
  const cg_inst *in = &R->p->ins[i];
  long long param = R->p->ins[in->src[0]].ival;
  const char *vt = cg_vector_type(R->p->params[param].dtype);
  int lane = R->vec_lane[i];
  indent(R);
  cg_sbuf_printf(R->b, "CG_VSET(vec%d, v%d & 3, %s(v%d)); if ((v%d & 3) == 3) CG_VSTORE(%s, data%lld + v%d - 3, vec%d);\n",
                 i, lane, store_conv(in->dtype), in->src[2], lane, vt, param, in->src[1], i);
}

/* ---- 8-wide vector code (cg_simd_plan) ---- */

/* value k as a vector operand: a scalar is broadcast */
static const char *simd_operand(const renderer *R, int k, char *buf, size_t n) {
  snprintf(buf, n, simd_kind(R, k) == CG_SIMD_VEC ? "v%d" : "cg_splat8(v%d)", k);
  return buf;
}

/* mask k as a mask operand: a scalar bool becomes all lanes or none */
static const char *mask_operand(const renderer *R, int k, char *buf, size_t n) {
  snprintf(buf, n, simd_kind(R, k) == CG_SIMD_MASK ? "v%d" : "cg_mask8(v%d)", k);
  return buf;
}

/* the lane index side of a comparison (an index computed at the step's first lane, or the lane
   loop itself): lane l holds that value + l */
static int lane_index_side(const renderer *R, const cg_inst *in) {
  int k0 = simd_kind(R, in->src[0]);
  return k0 == CG_SIMD_BASE || k0 == CG_SIMD_LOOP ? 0 : 1;
}

static void render_simd_mask(renderer *R, int i, const cg_inst *in) {
  char a[40], c[40];
  cg_sbuf_printf(R->b, "const cg_i32x8 v%d = ", i);
  switch (in->op) {
  case OP_CMPLT: /* idx + l < b  <=>  l < b - idx;  b < idx + l  <=>  l > b - idx */
    if (lane_index_side(R, in) == 0)
      cg_sbuf_printf(R->b, "cg_lanes_lt(v%d - v%d);\n", in->src[1], in->src[0]);
    else
      cg_sbuf_printf(R->b, "cg_lanes_gt(v%d - v%d);\n", in->src[0], in->src[1]);
    return;
  case OP_CMPNE: /* mask != true: its negation; mask != false: itself */
    cg_sbuf_printf(R->b, R->p->ins[in->src[1]].ival ? "~v%d;\n" : "v%d;\n", in->src[0]);
    return;
  default:
    cg_sbuf_printf(R->b, "%s %s %s;\n", mask_operand(R, in->src[0], a, sizeof a), in->op == OP_AND ? "&" : "|",
                   mask_operand(R, in->src[1], c, sizeof c));
  }
}

static void render_simd(renderer *R, int i) {
  const cg_program *p = R->p;
  const cg_inst *in = &p->ins[i];
  char a[40], c[40], w[40], acc[48];
  indent(R);
  if (in->dtype == CG_BOOL) {
    render_simd_mask(R, i, in);
    return;
  }
  switch (in->op) {
  case OP_LOAD: {
    int pk = (int)p->ins[in->src[0]].ival;
    if (in->nsrc == 3 && simd_kind(R, in->src[2]) == CG_SIMD_MASK)
      cg_sbuf_printf(R->b, "const cg_f32x8 v%d = cg_maskload8(data%d + v%d, v%d);\n", i, pk, in->src[1], in->src[2]);
    else if (in->nsrc == 3)
      cg_sbuf_printf(R->b, "const cg_f32x8 v%d = v%d ? cg_vload8(data%d + v%d) : cg_splat8(0.0f);\n", i, in->src[2], pk, in->src[1]);
    else cg_sbuf_printf(R->b, "const cg_f32x8 v%d = cg_vload8(data%d + v%d);\n", i, pk, in->src[1]);
    return;
  }
  case OP_WHERE:
    simd_operand(R, in->src[1], c, sizeof c);
    simd_operand(R, in->src[2], w, sizeof w);
    if (simd_kind(R, in->src[0]) == CG_SIMD_MASK)
      cg_sbuf_printf(R->b, "const cg_f32x8 v%d = cg_select8(v%d, %s, %s);\n", i, in->src[0], c, w);
    else cg_sbuf_printf(R->b, "const cg_f32x8 v%d = v%d ? %s : %s;\n", i, in->src[0], c, w);
    return;
  case OP_STORE:
    if (simd_kind(R, i) == CG_SIMD_TSTORE) { /* lane u's vector; the stores follow u's loop */
      int u = enclosing_simd(R, i, CG_SIMD_TOUTER);
      cg_sbuf_printf(R->b, "tr%d[v%d] = %s; if (v%d == 0) tb%d = v%d;\n", i, u, simd_operand(R, in->src[2], a, sizeof a),
                     u, i, in->src[1]);
      return;
    }
    if (in->nsrc == 4 && simd_kind(R, in->src[3]) == CG_SIMD_MASK) { /* gated lane by lane */
      cg_sbuf_printf(R->b, "cg_maskstore8(data%lld + v%d, v%d, %s);\n", (long long)p->ins[in->src[0]].ival,
                     in->src[1], in->src[3], simd_operand(R, in->src[2], a, sizeof a));
      return;
    }
    if (in->nsrc == 4) cg_sbuf_printf(R->b, "if (v%d) ", in->src[3]);
    int stream = R->stream && in->nsrc == 3 && p->ins[in->src[0]].ival == 0; /* the output, not a scratch */
    R->streamed |= stream;
    cg_sbuf_printf(R->b, "%s(data%lld + v%d, %s);\n", stream ? "cg_vstream8" : "cg_vstore8",
                   (long long)p->ins[in->src[0]].ival, in->src[1], simd_operand(R, in->src[2], a, sizeof a));
    return;
  case OP_ASSIGN:
    snprintf(acc, sizeof acc, "v%d[v%d >> 3]", in->src[0], in->src[2]);
    if (cg_assign_is_fma(p, in)) {
      const cg_inst *mul = &p->ins[in->src[1]];
      cg_sbuf_printf(R->b, "%s = cg_fma8(%s, %s, %s);\n", acc, simd_operand(R, mul->src[0], a, sizeof a),
                     simd_operand(R, mul->src[1], c, sizeof c), acc);
    } else {
      cg_sbuf_printf(R->b, "%s = %s + %s;\n", acc, acc, simd_operand(R, in->src[1], a, sizeof a));
    }
    return;
  case OP_REDUCE:
    cg_sbuf_printf(R->b, "const cg_f32x8 v%d = v%d[v%d >> 3];\n", i, in->src[0], in->src[1]);
    return;
  default: { /* ADD, MUL, NEG of float32 */
    alu_expr e = {in->op, in->dtype, in->dtype, simd_operand(R, in->src[0], a, sizeof a),
                  in->nsrc > 1 ? simd_operand(R, in->src[1], c, sizeof c) : NULL, NULL, 0};
    cg_sbuf_printf(R->b, "const cg_f32x8 v%d = ", i);
    render_core(R, &e);
    cg_sbuf_printf(R->b, ";\n");
  }
  }
}

static void render_ins(renderer *R, int i) {
  const cg_program *p = R->p;
  const cg_inst *in = &p->ins[i];
  const char *t = reg_type(R->d, in->dtype);
  if (simd_kind(R, i) == CG_SIMD_VEC || simd_kind(R, i) == CG_SIMD_MASK || simd_kind(R, i) == CG_SIMD_TSTORE) {
    render_simd(R, i);
    return;
  }
  switch (in->op) {
  case OP_PARAM: return; /* declared in the signature */
  case OP_RANGE: render_range(R, i); return;
  case OP_ENDRANGE: render_endrange(R, i); return;
  case OP_DEFINE_ACC: render_define_acc(R, i, in); return;
  case OP_ASSIGN: render_assign(R, in); return;
  case OP_REDUCE: render_reduce(R, i, in); return;
  case OP_CONST:
    indent(R);
    cg_sbuf_printf(R->b, "const %s v%d = ", t, i);
    render_const(R, in);
    cg_sbuf_printf(R->b, ";\n");
    return;
  case OP_DEFINE_VAR:
    indent(R);
    if (R->d->gpu) cg_sbuf_printf(R->b, "const %s v%d = (%s)var%lld;\n", t, i, t, (long long)in->ival2);
    else cg_sbuf_printf(R->b, "const %s v%d = (%s)vars[%lld];\n", t, i, t, (long long)in->ival2);
    return;
  case OP_LOAD: {
    int pk = (int)p->ins[in->src[0]].ival;
    if (R->vec_lane && R->vec_lane[i] >= 0) {
      render_vector_load(R, i, pk);
      return;
    }
    indent(R);
    cg_sbuf_printf(R->b, "const %s v%d = ", t, i);
    if (in->nsrc == 3) cg_sbuf_printf(R->b, "v%d ? %s(data%d[v%d]) : 0;\n", in->src[2], load_conv(in->dtype), pk, in->src[1]);
    else cg_sbuf_printf(R->b, "%s(data%d[v%d]);\n", load_conv(in->dtype), pk, in->src[1]);
    return;
  }
  case OP_STORE:
    if (R->vec_lane && R->vec_lane[i] >= 0) {
      render_vector_store(R, i);
      return;
    }
    indent(R);
    if (R->d->gpu && p->group_size && !R->inner_depth) cg_sbuf_printf(R->b, "if (lid == 0) ");
    if (in->nsrc == 4) cg_sbuf_printf(R->b, "if (v%d) ", in->src[3]);
    cg_sbuf_printf(R->b, "data%lld[v%d] = %s(v%d);\n", (long long)p->ins[in->src[0]].ival, in->src[1],
                   store_conv(in->dtype), in->src[2]);
    return;
  default:
    indent(R);
    cg_sbuf_printf(R->b, "const %s v%d = ", t, i);
    render_alu(R, in);
    cg_sbuf_printf(R->b, ";\n");
  }
}

/* storage type of a buffer element */
static const char *elem_type(const cg_dialect *d, int dt) {
  if (dt == CG_I64) return d->i64;
  if (dt == CG_U64) return d->u64;
  return cg_dtype_get(dt)->ctype;
}

static void render_signature(const renderer *R) {
  const cg_program *p = R->p;
  const cg_dialect *d = R->d;
  cg_sbuf *b = R->b;
  if (!d->gpu) {
    cg_sbuf_printf(b, "void %s(void **bufs, const long long *vars, long long start, long long end) {\n", p->name);
    for (int k = 0; k < p->nparams; k++) {
      const char *t = elem_type(d, p->params[k].dtype);
      /* this launch's scratch (stage_output.c, fuse_prologue.c), used through a restrict
         pointer: indexed as an array, gcc kept a reduce's accumulators in memory beside it (a
         store and a load each step: conv1's weight gradient with its slabs fused 4.5 -> 12.7 ms) */
      if (p->params[k].local)
        cg_sbuf_printf(b, "  %s scratch%d[%lld] __attribute__((aligned(64)));\n  %s *restrict data%d = scratch%d;\n", t,
                       k, (long long)p->params[k].numel, t, k, k);
      else cg_sbuf_printf(b, "  %s%s *restrict data%d = (%s *)bufs[%d];\n", k ? "const " : "", t, k, t, k);
    }
    cg_sbuf_printf(b, "  (void)vars; (void)start; (void)end;\n");
    return;
  }
  cg_sbuf_printf(b, "%s %s(", d->kernel_decl, p->name);
  for (int k = 0; k < p->nparams; k++)
    cg_sbuf_printf(b, "%s%s%s%s *%s data%d", k ? ", " : "", d->global_ptr, k ? "const " : "",
                   elem_type(d, p->params[k].dtype), d->restrict_kw, k);
  for (int k = 0; k < p->nvars; k++) cg_sbuf_printf(b, ", %s var%d", d->i64, k);
  cg_sbuf_printf(b, ") {\n");
}

char *cg_render(const cg_program *p, const cg_dialect *d) {
  cg_sbuf b = {0};
  int stream = streams_output(p, d);
  renderer R = {p, d, &b, 0, 0, -1, d->gpu && p->group_size ? cg_gpu_first_reduce(p) : p->nins, 0,
                d->gpu ? cg_vector_accesses(p) : d->vload8 ? cg_cpu_vector_loads(p) : NULL,
                d->gpu ? cg_xcalloc((size_t)p->nins + 1, 1) : NULL, d->vload8 ? cg_simd_plan(p, stream) : NULL,
                stream, 0};
  cg_sbuf_puts(&b, d->prelude);
  cg_sbuf_puts(&b, "\n");
  render_signature(&R);
  if (d->gpu) render_gpu_entry(&R);
  for (int i = 0; i < p->nins; i++) render_ins(&R, i);
  if (R.streamed) cg_sbuf_printf(&b, "  cg_stream_fence();\n");
  if (d->gpu && !p->group_size) cg_sbuf_printf(&b, "  }\n");
  cg_sbuf_printf(&b, "}\n");
  free(R.vec_lane);
  free(R.folded);
  free(R.simd);
  return b.s;
}
