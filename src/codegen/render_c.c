/* The C dialect. Every value is a local named after its instruction; float16/bfloat16 values live
   in float registers and are rounded after each operation, so results equal true half arithmetic
   (and the interpreter). Signed narrow ints wrap through unsigned math (no C overflow UB). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ir/uop.h"
#include "render.h"

static const char *prelude =
    "typedef unsigned short half_bits;\n"
    "static inline float h2f(half_bits h) { unsigned s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f,"
    " m = h & 0x3ff, x;\n"
    "  if (e == 0x1f) x = s | 0x7f800000u | m << 13; else if (e) x = s | (e + 112) << 23 | m << 13;\n"
    "  else if (!m) x = s; else { int k = -1; do { m <<= 1; k++; } while (!(m & 0x400));"
    " x = s | (unsigned)(112 - k) << 23 | (m & 0x3ff) << 13; }\n"
    "  float f; __builtin_memcpy(&f, &x, 4); return f; }\n"
    "static inline half_bits f2h(float f) { unsigned x; __builtin_memcpy(&x, &f, 4);"
    " unsigned s = (x >> 16) & 0x8000, m = x & 0x7fffff; int e = (int)((x >> 23) & 0xff);\n"
    "  if (e == 0xff) return (half_bits)(s | 0x7c00 | (m ? 0x200 : 0)); e = e - 127 + 15;\n"
    "  if (e >= 31) return (half_bits)(s | 0x7c00);\n"
    "  if (e <= 0) { if (e < -10) return (half_bits)s; m |= 0x800000; int sh = 14 - e;"
    " unsigned h = m >> sh, r = m & ((1u << sh) - 1), hf = 1u << (sh - 1);"
    " if (r > hf || (r == hf && (h & 1))) h++; return (half_bits)(s | h); }\n"
    "  unsigned h = (unsigned)e << 10 | m >> 13, r = m & 0x1fff;"
    " if (r > 0x1000 || (r == 0x1000 && (h & 1))) h++; return (half_bits)(s | h); }\n"
    "static inline float bf2f(half_bits h) { unsigned x = (unsigned)h << 16; float f;"
    " __builtin_memcpy(&f, &x, 4); return f; }\n"
    "static inline half_bits f2bf(float f) { unsigned x; __builtin_memcpy(&x, &f, 4);"
    " if ((x & 0x7fffffffu) > 0x7f800000u) return (half_bits)((x >> 16) | 0x40);"
    " x += 0x7fff + ((x >> 16) & 1); return (half_bits)(x >> 16); }\n"
    "static inline float rh(float f) { return h2f(f2h(f)); }\n"
    "static inline float rbf(float f) { return bf2f(f2bf(f)); }\n";

/* type of a value register */
static const char *reg_type(int dt) {
  if (dt == CG_F16 || dt == CG_BF16) return "float";
  return cg_dtype_get(dt)->ctype;
}

static int is_half(int dt) { return dt == CG_F16 || dt == CG_BF16; }
static const char *fsuffix(int dt) { return dt == CG_F64 ? "" : "f"; }

static void render_const(cg_sbuf *b, const cg_inst *in) {
  if (cg_dtype_is_float(in->dtype)) {
    const char *cast = in->dtype == CG_F64 ? "(double)" : "(float)";
    if (isnan(in->fval)) cg_sbuf_printf(b, "%s__builtin_nan(\"\")", cast);
    else if (isinf(in->fval)) cg_sbuf_printf(b, "%s%s__builtin_inf()", cast, in->fval < 0 ? "-" : "");
    else cg_sbuf_printf(b, "%s%a", cast, in->fval);
  } else if (cg_dtype_is_unsigned(in->dtype) || in->dtype == CG_BOOL) {
    cg_sbuf_printf(b, "(%s)%lluULL", reg_type(in->dtype), (unsigned long long)in->ival);
  } else if (in->ival == INT64_MIN) {
    cg_sbuf_printf(b, "(%s)(-9223372036854775807LL-1)", reg_type(in->dtype));
  } else {
    cg_sbuf_printf(b, "(%s)%lldLL", reg_type(in->dtype), (long long)in->ival);
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

static void render_core(cg_sbuf *b, const alu_expr *e) {
  const char *t = reg_type(e->dt), *a = e->a, *c = e->c;
  int dt = e->dt, bits = cg_dtype_size(dt) * 8;
  switch (e->op) {
  case OP_EXP2: case OP_LOG2: case OP_SIN: case OP_SQRT:
    cg_sbuf_printf(b, "__builtin_%s%s(%s)", math_fn(e->op), fsuffix(dt), a); break;
  case OP_RECIP: cg_sbuf_printf(b, "(%s)1/%s", t, a); break;
  case OP_NEG:
    if (wraps(dt)) cg_sbuf_printf(b, "(%s)(0ULL-(unsigned long long)%s)", t, a);
    else cg_sbuf_printf(b, "-%s", a);
    break;
  case OP_ADD: case OP_MUL: {
    const char *o = e->op == OP_ADD ? "+" : "*";
    if (wraps(dt)) cg_sbuf_printf(b, "(%s)((unsigned long long)%s%s(unsigned long long)%s)", t, a, o, c);
    else cg_sbuf_printf(b, "%s%s%s", a, o, c);
    break;
  }
  case OP_IDIV: case OP_MOD: {
    const char *o = e->op == OP_IDIV ? "/" : "%";
    if (e->c_safe_divisor) cg_sbuf_printf(b, "%s%s%s", a, o, c);
    else if (cg_dtype_is_unsigned(dt)) cg_sbuf_printf(b, "(%s?%s%s%s:0)", c, a, o, c);
    else if (e->op == OP_IDIV)
      cg_sbuf_printf(b, "(%s==0?(%s)0:%s==-1?(%s)(0ULL-(unsigned long long)%s):%s/%s)", c, t, c, t, a, a, c);
    else cg_sbuf_printf(b, "(%s==0||%s==-1?(%s)0:%s%%%s)", c, c, t, a, c);
    break;
  }
  case OP_MAX:
    if (cg_dtype_is_float(dt)) cg_sbuf_printf(b, "((%s!=%s||%s>%s)?%s:%s)", a, a, a, c, a, c);
    else cg_sbuf_printf(b, "(%s>%s?%s:%s)", a, c, a, c);
    break;
  case OP_CMPLT: cg_sbuf_printf(b, "(%s<%s)", a, c); break;
  case OP_CMPNE: cg_sbuf_printf(b, "(%s!=%s)", a, c); break;
  case OP_AND: cg_sbuf_printf(b, "(%s)(%s&%s)", t, a, c); break;
  case OP_OR: cg_sbuf_printf(b, "(%s)(%s|%s)", t, a, c); break;
  case OP_XOR: cg_sbuf_printf(b, "(%s)(%s^%s)", t, a, c); break;
  case OP_SHL: cg_sbuf_printf(b, "(%s)((unsigned long long)%s<<(%s&%d))", t, a, c, bits - 1); break;
  case OP_SHR: cg_sbuf_printf(b, "(%s)(%s>>(%s&%d))", t, a, c, bits - 1); break;
  case OP_WHERE: cg_sbuf_printf(b, "(%s?%s:%s)", a, c, e->w); break;
  case OP_CAST:
    if (dt == CG_BOOL) cg_sbuf_printf(b, "(%s!=0)", a);
    else if (is_half(dt)) cg_sbuf_printf(b, "%s((float)%s)", dt == CG_F16 ? "rh" : "rbf", a);
    else cg_sbuf_printf(b, "(%s)%s", t, a);
    break;
  case OP_BITCAST: {
    /* go through the stored bit pattern of the source type */
    int sdt = e->sdt;
    const char *sbits = is_half(sdt) ? (sdt == CG_F16 ? "f2h" : "f2bf") : "";
    if (is_half(dt)) cg_sbuf_printf(b, "%s((half_bits)%s(%s))", dt == CG_F16 ? "h2f" : "bf2f", sbits, a);
    else if (is_half(sdt)) cg_sbuf_printf(b, "(%s)%s(%s)", t, sbits, a);
    else cg_sbuf_printf(b, "({%s x_; %s y_ = %s; __builtin_memcpy(&x_, &y_, sizeof x_); x_;})", t, reg_type(sdt), a);
    break;
  }
  }
}

/* half results are rounded after every op so they equal true half arithmetic */
static void render_expr(cg_sbuf *b, const alu_expr *e) {
  int round = is_half(e->dt) && e->op != OP_CAST && e->op != OP_BITCAST && e->op != OP_WHERE;
  if (round) cg_sbuf_printf(b, "%s(", e->dt == CG_F16 ? "rh" : "rbf");
  render_core(b, e);
  if (round) cg_sbuf_printf(b, ")");
}

static void render_alu(cg_sbuf *b, const cg_program *p, const cg_inst *in) {
  char a[24], c[24], w[24];
  snprintf(a, sizeof a, "v%d", in->src[0]);
  snprintf(c, sizeof c, "v%d", in->src[1]);
  snprintf(w, sizeof w, "v%d", in->src[2]);
  const cg_inst *d = in->nsrc > 1 ? &p->ins[in->src[1]] : NULL;
  alu_expr e = {in->op, in->dtype, in->nsrc ? p->ins[in->src[0]].dtype : in->dtype, a, c, w,
                d && d->op == OP_CONST && d->ival != 0 && d->ival != -1};
  render_expr(b, &e);
}

static const char *load_conv(int dt) { return dt == CG_F16 ? "h2f" : dt == CG_BF16 ? "bf2f" : ""; }
static const char *store_conv(int dt) { return dt == CG_F16 ? "f2h" : dt == CG_BF16 ? "f2bf" : ""; }

static void acc_init(cg_sbuf *b, int dt, int op) {
  if (op == OP_ADD) cg_sbuf_printf(b, "0");
  else if (op == OP_MUL) cg_sbuf_printf(b, "1");
  else if (cg_dtype_is_float(dt)) cg_sbuf_printf(b, "-__builtin_inf()");
  else if (cg_dtype_is_unsigned(dt) || dt == CG_BOOL) cg_sbuf_printf(b, "0");
  else cg_sbuf_printf(b, "(%s)(1ULL<<%d)", reg_type(dt), cg_dtype_size(dt) * 8 - 1);
}

static void render_ins(cg_sbuf *b, const cg_program *p, int i, int *depth) {
  const cg_inst *in = &p->ins[i];
  int d = *depth * 2 + 2;
  switch (in->op) {
  case OP_PARAM: return; /* declared at the top */
  case OP_CONST:
    cg_sbuf_printf(b, "%*sconst %s v%d = ", d, "", reg_type(in->dtype), i);
    render_const(b, in);
    cg_sbuf_printf(b, ";\n");
    return;
  case OP_DEFINE_VAR:
    cg_sbuf_printf(b, "%*sconst %s v%d = (%s)vars[%lld];\n", d, "", reg_type(in->dtype), i,
                   reg_type(in->dtype), (long long)in->ival2);
    return;
  case OP_RANGE:
    if (in->ival2 == RANGE_UPCAST) cg_sbuf_printf(b, "%*s#pragma GCC unroll %lld\n", d, "", (long long)p->ins[in->src[0]].ival);
    if (i == p->thread_ins)
      cg_sbuf_printf(b, "%*sfor (long long v%d = start; v%d < end; v%d++) {\n", d, "", i, i, i);
    else
      cg_sbuf_printf(b, "%*sfor (long long v%d = 0; v%d < v%d; v%d++) {\n", d, "", i, i, in->src[0], i);
    (*depth)++;
    return;
  case OP_ENDRANGE:
    (*depth)--;
    cg_sbuf_printf(b, "%*s}\n", d - 2, "");
    return;
  case OP_DEFINE_ACC:
    if (in->ival2 > 1) {
      cg_sbuf_printf(b, "%*s%s v%d[%lld];\n%*sfor (int l = 0; l < %lld; l++) v%d[l] = ", d, "",
                     reg_type(in->dtype), i, (long long)in->ival2, d, "", (long long)in->ival2, i);
    } else {
      cg_sbuf_printf(b, "%*s%s v%d = ", d, "", reg_type(in->dtype), i);
    }
    acc_init(b, in->dtype, (int)in->ival);
    cg_sbuf_printf(b, ";\n");
    return;
  case OP_ASSIGN: { /* acc (or its lane) = acc op value */
    char acc[48], val[24];
    if (in->nsrc == 3) snprintf(acc, sizeof acc, "v%d[v%d]", in->src[0], in->src[2]);
    else snprintf(acc, sizeof acc, "v%d", in->src[0]);
    snprintf(val, sizeof val, "v%d", in->src[1]);
    alu_expr e = {(int)in->ival, in->dtype, in->dtype, acc, val, NULL, 0};
    cg_sbuf_printf(b, "%*s%s = ", d, "", acc);
    render_expr(b, &e);
    cg_sbuf_printf(b, ";\n");
    return;
  }
  case OP_REDUCE: /* read one accumulator lane, or fold the lanes in lane order */
    if (in->ival2 < 0) {
      cg_sbuf_printf(b, "%*sconst %s v%d = v%d[v%d];\n", d, "", reg_type(in->dtype), i, in->src[0], in->src[1]);
      return;
    }
    cg_sbuf_printf(b, "%*s%s v%d = v%d[0];\n", d, "", reg_type(in->dtype), i, in->src[0]);
    for (int64_t l = 1; l < in->ival2; l++) {
      char self[24], lane[48];
      snprintf(self, sizeof self, "v%d", i);
      snprintf(lane, sizeof lane, "v%d[%lld]", in->src[0], (long long)l);
      alu_expr e = {(int)in->ival, in->dtype, in->dtype, self, lane, NULL, 0};
      cg_sbuf_printf(b, "%*sv%d = ", d, "", i);
      render_expr(b, &e);
      cg_sbuf_printf(b, ";\n");
    }
    return;
  case OP_LOAD: {
    int pk = (int)p->ins[in->src[0]].ival;
    cg_sbuf_printf(b, "%*sconst %s v%d = ", d, "", reg_type(in->dtype), i);
    if (in->nsrc == 3) cg_sbuf_printf(b, "v%d ? %s(data%d[v%d]) : 0;\n", in->src[2], load_conv(in->dtype), pk, in->src[1]);
    else cg_sbuf_printf(b, "%s(data%d[v%d]);\n", load_conv(in->dtype), pk, in->src[1]);
    return;
  }
  case OP_STORE:
    cg_sbuf_printf(b, "%*sdata%lld[v%d] = %s(v%d);\n", d, "", (long long)p->ins[in->src[0]].ival,
                   in->src[1], store_conv(in->dtype), in->src[2]);
    return;
  default:
    cg_sbuf_printf(b, "%*sconst %s v%d = ", d, "", reg_type(in->dtype), i);
    render_alu(b, p, in);
    cg_sbuf_printf(b, ";\n");
  }
}

char *cg_render_c(const cg_program *p) {
  cg_sbuf b = {0};
  cg_sbuf_printf(&b, "%s\nvoid %s(void **bufs, const long long *vars, long long start, long long end) {\n",
                 prelude, p->name);
  for (int k = 0; k < p->nparams; k++) {
    const char *t = cg_dtype_get(p->params[k].dtype)->ctype;
    cg_sbuf_printf(&b, "  %s%s *restrict data%d = (%s *)bufs[%d];\n", k ? "const " : "", t, k, t, k);
  }
  cg_sbuf_printf(&b, "  (void)vars; (void)start; (void)end;\n");
  int depth = 0;
  for (int i = 0; i < p->nins; i++) render_ins(&b, p, i, &depth);
  cg_sbuf_printf(&b, "}\n");
  return b.s;
}
