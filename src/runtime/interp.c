/* The reference interpreter: executes a program instruction by instruction with the scalar
   semantics of ir/alu.c. Slow and obviously correct; every index is bounds-checked, so a
   lowering bug shows up as an error here instead of silent garbage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "../base/base.h"
#include "../ir/alu.h"
#include "../ir/uop.h"
#include "device.h"
#include "host_mem.h"

static int interp_available(void) { return 1; }

/* What "compiling" means here: tables the executor needs. */
typedef struct {
  int *exit_of;         /* RANGE index -> its ENDRANGE index */
  int *lane_base;       /* DEFINE_ACC with lanes -> offset of its lanes */
  int nlanes;
} interp_kernel;

static void *interp_compile(cg_program *p, char **err, int *cached) {
  (void)err;
  *cached = 1;
  interp_kernel *k = cg_xcalloc(1, sizeof *k);
  k->exit_of = cg_xcalloc(p->nins ? p->nins : 1, sizeof(int));
  k->lane_base = cg_xcalloc(p->nins ? p->nins : 1, sizeof(int));
  for (int i = 0; i < p->nins; i++) {
    if (p->ins[i].op == OP_ENDRANGE) k->exit_of[p->ins[i].src[0]] = i;
    if (p->ins[i].op == OP_DEFINE_ACC) {
      k->lane_base[i] = k->nlanes;
      k->nlanes += p->ins[i].ival2 > 0 ? (int)p->ins[i].ival2 : 0; /* one lane too: the executor seeds it */
    }
  }
  return k;
}

static void interp_release(void *handle) {
  interp_kernel *k = handle;
  free(k->exit_of);
  free(k->lane_base);
  free(k);
}

static cg_val acc_init(int op, int dt) {
  cg_val init = {0};
  if (cg_dtype_is_float(dt)) init.f = op == OP_ADD ? 0 : op == OP_MUL ? 1 : -__builtin_inf();
  else if (op == OP_MUL) init.i = 1;
  else if (op == OP_MAX && !cg_dtype_is_unsigned(dt) && dt != CG_BOOL)
    init.i = cg_dtype_wrap_int(dt, (int64_t)(1ULL << (cg_dtype_size(dt) * 8 - 1)));
  return init;
}

static int bad_index(cg_program *p, int k, int64_t idx) {
  cg_set_error("INTERP: kernel %s reads/writes buffer %d out of bounds (index %lld of %lld)",
               p->name, k, (long long)idx, (long long)p->params[k].numel);
  return -1;
}

/* bufs with a zeroed scratch array for each local param (stage_output.c); NULL: out of memory */
static void **with_scratch(const cg_program *p, void **bufs) {
  void **all = calloc((size_t)p->nparams, sizeof *all);
  for (int k = 0; all && k < p->nparams; k++) {
    const cg_param *prm = &p->params[k];
    all[k] = prm->local ? calloc((size_t)prm->numel, (size_t)cg_dtype_size(prm->dtype)) : bufs[k];
    if (!all[k]) {
      for (int j = 0; j < k; j++)
        if (p->params[j].local) free(all[j]);
      free(all);
      return NULL;
    }
  }
  return all;
}

static void free_scratch(const cg_program *p, void **all) {
  for (int k = 0; k < p->nparams; k++)
    if (p->params[k].local) free(all[k]);
  free(all);
}

static int interp_run(const interp_kernel *k, cg_program *p, void **bufs, const int64_t *vars);

static int interp_launch(void *handle, cg_program *p, void **bufs, const int64_t *vars) {
  void **all = with_scratch(p, bufs);
  if (!all) {
    cg_set_error("INTERP: out of memory for the scratch of kernel %s", p->name);
    return -1;
  }
  int rc = interp_run(handle, p, all, vars);
  free_scratch(p, all);
  return rc;
}

static int interp_run(const interp_kernel *k, cg_program *p, void **bufs, const int64_t *vars) {
  const int *exit_of = k->exit_of;
  cg_val *reg = cg_xcalloc(p->nins ? p->nins : 1, sizeof(cg_val));
  cg_val *lanes = cg_xcalloc(k->nlanes ? k->nlanes : 1, sizeof(cg_val));
  int64_t *ends = cg_xcalloc(p->nins ? p->nins : 1, sizeof(int64_t));
  int rc = 0;
  for (int pc = 0; pc < p->nins && rc == 0;) {
    const cg_inst *in = &p->ins[pc];
    cg_val a = in->nsrc > 0 ? reg[in->src[0]] : (cg_val){0};
    cg_val b = in->nsrc > 1 ? reg[in->src[1]] : (cg_val){0};
    cg_val c = in->nsrc > 2 ? reg[in->src[2]] : (cg_val){0};
    switch (in->op) {
    case OP_PARAM: break;
    case OP_CONST: reg[pc] = cg_dtype_is_float(in->dtype) ? (cg_val){.f = in->fval} : (cg_val){.i = in->ival}; break;
    case OP_DEFINE_VAR: reg[pc].i = vars[in->ival2]; break;
    case OP_RANGE:
      reg[pc].i = 0;
      ends[pc] = a.i;
      if (reg[pc].i >= ends[pc]) { pc = exit_of[pc] + 1; continue; }
      break;
    case OP_ENDRANGE: {
      int r = in->src[0];
      if (++reg[r].i < ends[r]) { pc = r + 1; continue; }
      break;
    }
    case OP_DEFINE_ACC:
      reg[pc] = acc_init((int)in->ival, in->dtype);
      for (int l = 0; l < in->ival2; l++) lanes[k->lane_base[pc] + l] = reg[pc];
      break;
    case OP_ASSIGN: {
      cg_val *acc = in->nsrc == 3 ? &lanes[k->lane_base[in->src[0]] + c.i] : &reg[in->src[0]];
      if (cg_assign_is_fma(p, in)) { /* one rounding, as the renderers do */
        const cg_inst *mul = &p->ins[in->src[1]];
        double x = reg[mul->src[0]].f, y = reg[mul->src[1]].f;
        acc->f = in->dtype == CG_F64 ? fma(x, y, acc->f) : (double)fmaf((float)x, (float)y, (float)acc->f);
        break;
      }
      *acc = cg_alu_eval((int)in->ival, in->dtype, in->dtype, *acc, b, c);
      break;
    }
    case OP_REDUCE: { /* read lane src[1], or fold lanes in lane order, as the C renderer does */
      const cg_val *ln = &lanes[k->lane_base[in->src[0]]];
      if (in->ival2 < 0) { reg[pc] = ln[b.i]; break; }
      reg[pc] = ln[0];
      for (int l = 1; l < in->ival2; l++) reg[pc] = cg_alu_eval((int)in->ival, in->dtype, in->dtype, reg[pc], ln[l], c);
      break;
    }
    case OP_LOAD: {
      int k = (int)p->ins[in->src[0]].ival;
      if (in->nsrc == 3 && !c.i) { reg[pc] = (cg_val){0}; break; }
      if (b.i < 0 || b.i >= p->params[k].numel) { rc = bad_index(p, k, b.i); break; }
      reg[pc] = cg_val_load(in->dtype, (char *)bufs[k] + b.i * cg_dtype_size(in->dtype));
      break;
    }
    case OP_STORE: {
      int k = (int)p->ins[in->src[0]].ival;
      if (in->nsrc == 4 && !reg[in->src[3]].i) break; /* gated off */
      if (b.i < 0 || b.i >= p->params[k].numel) { rc = bad_index(p, k, b.i); break; }
      cg_val_store(in->dtype, (char *)bufs[k] + b.i * cg_dtype_size(in->dtype), c);
      break;
    }
    default:
      reg[pc] = cg_alu_eval(in->op, in->dtype, in->nsrc ? p->ins[in->src[0]].dtype : in->dtype, a, b, c);
    }
    pc++;
  }
  free(reg);
  free(lanes);
  free(ends);
  return rc;
}

cg_device cg_device_interp = {
  .name = "INTERP",
  .available = interp_available,
  .alloc = cg_host_alloc,
  .free = cg_host_free,
  .copyin = cg_host_copy,
  .copyout = cg_host_copy,
  .compile = interp_compile,
  .launch = interp_launch,
  .release = interp_release,
};
