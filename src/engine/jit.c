/* The JIT (tinygrad's TinyJit): call 1 of a step function runs it normally (compiling its
   kernels), call 2 runs it while realize reports every kernel launch and buffer copy here, and
   later calls replay that list with the new inputs' buffers swapped into the argument slots
   where the capture had the old ones: no graph, schedule, lowering or compile per step.
   The capture holds a reference on every buffer it names, so intermediates keep their memory
   and each replay reuses it; persistent state is valid to replay because it is assigned in place
   (cg_assign_lazy) and so lives in the same buffers every step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../tensor/tensor.h"
#include "engine.h"
#include "inplace.h"
#include "jit.h"

typedef struct {
  int input;            /* >= 0: the call's input buffer number `input`; else buf */
  cg_buffer *buf;       /* a captured buffer (a reference) */
} jit_arg;

typedef struct {
  cg_program *prog;     /* NULL for a copy (args[0] = source, args[1] = destination) */
  void *handle;         /* owned by the kernel cache */
  int dev, nargs;
  jit_arg *args;
} jit_entry;

typedef struct { cg_shape shape; int dtype, dev; } jit_sig;

struct cg_jit {
  cg_jit_fn fn;
  void *userdata;
  int calls;            /* completed calls: 0 warm-up next, 1 capture next, then replays */
  int nin, nout;
  jit_sig *in, *out;
  jit_arg *outs;        /* where each output lives after a replay */
  jit_entry *entries;
  int nentries, nkernels;
  cg_buffer **capture_in; /* the inputs' buffers during the capture */
};

/* The capture in progress on this thread, if any (global mutable state: set only by
   cg_jit_call for the duration of its capture call). */
static _Thread_local cg_jit *capturing;

static cg_buffer *stored_buf(const cg_tensor *t) {
  uop *st = t->u->op == OP_BUFFER ? t->u : t->u->realized;
  return st ? st->ptr : NULL;
}

static jit_entry *new_entry(cg_jit *j, int dev, int nargs) {
  j->entries = cg_xrealloc(j->entries, (j->nentries + 1) * sizeof *j->entries);
  jit_entry *e = &j->entries[j->nentries++];
  *e = (jit_entry){.dev = dev, .nargs = nargs, .args = cg_xcalloc(nargs, sizeof(jit_arg))};
  return e;
}

static jit_arg capture_arg(cg_buffer *b) { /* NULL: a scratch's place (realize.c's fused copies) */
  if (b) cg_buffer_ref(b);
  return (jit_arg){-1, b};
}

int cg_jit_record_launch(int dev, void *handle, cg_program *p, cg_buffer **args, int nargs) {
  cg_jit *j = capturing;
  if (!j) return 0;
  jit_entry *e = new_entry(j, dev, nargs);
  e->prog = p;
  e->handle = handle;
  for (int k = 0; k < nargs; k++) e->args[k] = capture_arg(args[k]);
  for (int k = 0; k < p->nvars; k++) ((cg_variable *)p->vars[k])->refcnt++; /* read at replay */
  j->nkernels++;
  return 1;
}

void cg_jit_record_copy(cg_buffer *src, cg_buffer *dst) {
  cg_jit *j = capturing;
  if (!j) return;
  jit_entry *e = new_entry(j, dst->dev, 2);
  e->args[0] = capture_arg(src);
  e->args[1] = capture_arg(dst);
}

static void release_arg(jit_arg *a) {
  if (a->buf) cg_buffer_unref(a->buf);
  a->buf = NULL;
}

static void drop_capture(cg_jit *j) {
  for (int i = 0; i < j->nentries; i++) {
    jit_entry *e = &j->entries[i];
    for (int k = 0; k < e->nargs; k++) release_arg(&e->args[k]);
    for (int k = 0; e->prog && k < e->prog->nvars; k++) cg_variable_free(e->prog->vars[k]);
    cg_program_free(e->prog);
    free(e->args);
  }
  free(j->entries);
  for (int i = 0; j->outs && i < j->nout; i++) release_arg(&j->outs[i]);
  free(j->outs);
  j->entries = NULL, j->outs = NULL;
  j->nentries = j->nkernels = 0;
}

cg_jit *cg_jit_new(cg_jit_fn fn, void *userdata) {
  if (!fn) {
    cg_set_error("cg_jit_new: NULL function");
    return NULL;
  }
  cg_jit *j = cg_xcalloc(1, sizeof *j);
  j->fn = fn;
  j->userdata = userdata;
  return j;
}

void cg_jit_free(cg_jit *j) {
  if (!j) return;
  drop_capture(j);
  free(j->in);
  free(j->out);
  free(j);
}

int cg_jit_kernels(const cg_jit *j) { return j ? j->nkernels : 0; }
int cg_jit_copies(const cg_jit *j) { return j ? j->nentries - j->nkernels : 0; }

/* ---- inputs: same signature every call, realized into buffers ---- */
static jit_sig sig_of(const cg_tensor *t) { return (jit_sig){t->u->shape, t->u->dtype, t->u->dev}; }

static void sig_str(jit_sig s, char *buf, size_t n) {
  char sh[128];
  shape_str(s.shape, sh, sizeof sh);
  snprintf(buf, n, "%s %s on %s", sh, cg_dtype_name(s.dtype), cg_device_get(s.dev)->name);
}

static int check_inputs(cg_jit *j, cg_tensor **in, int n) {
  for (int i = 0; i < n; i++)
    if (!in[i]) {
      if (!cg_has_error()) cg_set_error("jit: input %d is NULL", i);
      return -1;
    }
  if (j->calls == 0) return 0;
  if (n != j->nin) {
    cg_set_error("jit: called with %d inputs, but was first called with %d", n, j->nin);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    jit_sig s = sig_of(in[i]);
    if (shape_eq(s.shape, j->in[i].shape) && s.dtype == j->in[i].dtype && s.dev == j->in[i].dev) continue;
    char got[200], want[200];
    sig_str(s, got, sizeof got);
    sig_str(j->in[i], want, sizeof want);
    cg_set_error("jit: input %d is %s, but the captured function takes %s (a jit replays fixed "
                 "input shapes and types: use another jit, or a bound variable for a changing size)", i, got, want);
    return -1;
  }
  return 0;
}

static int realize_inputs(cg_tensor **in, int n) {
  for (int i = 0; i < n; i++)
    if (!stored_buf(in[i]) && cg_realize(in[i]) != 0) return -1;
  return 0;
}

/* ---- the three kinds of call ---- */
static int call_fn(cg_jit *j, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  int nout = j->fn(j->userdata, in, n, out, max_out);
  if (nout < 0 || nout > max_out) {
    if (nout > max_out) cg_set_error("jit: the function returned %d outputs, room for %d", nout, max_out);
    else if (!cg_has_error()) cg_set_error("jit: the function failed");
    return -1;
  }
  for (int i = 0; i < nout; i++)
    if (!out[i]) {
      if (!cg_has_error()) cg_set_error("jit: output %d is NULL", i);
      return -1;
    }
  return cg_realize_all(out, nout) ? -1 : nout;
}

static int warm_up(cg_jit *j, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  int nout = call_fn(j, in, n, out, max_out);
  if (nout < 0) return -1;
  j->nin = n;
  j->in = cg_xcalloc(n ? n : 1, sizeof *j->in);
  for (int i = 0; i < n; i++) j->in[i] = sig_of(in[i]);
  return nout;
}

/* buffers the capture saw as inputs become input numbers (the capture lets go of them) */
static void bind_inputs(cg_jit *j, jit_arg *a) {
  for (int i = 0; i < j->nin && a->input < 0 && a->buf; i++)
    if (a->buf == j->capture_in[i]) {
      release_arg(a);
      a->input = i;
    }
}

static int finish_capture(cg_jit *j, cg_tensor **out, int nout) {
  j->nout = nout;
  j->outs = cg_xcalloc(nout ? nout : 1, sizeof *j->outs);
  j->out = cg_xcalloc(nout ? nout : 1, sizeof *j->out);
  for (int i = 0; i < nout; i++) {
    cg_buffer *b = stored_buf(out[i]);
    if (!b) {
      cg_set_error("jit: output %d has no buffer after realize", i);
      return -1;
    }
    j->outs[i] = capture_arg(b);
    j->out[i] = sig_of(out[i]);
    bind_inputs(j, &j->outs[i]);
  }
  for (int e = 0; e < j->nentries; e++)
    for (int k = 0; k < j->entries[e].nargs; k++) bind_inputs(j, &j->entries[e].args[k]);
  return 0;
}

/* Parameters (requires_grad tensors) must keep their buffers across a captured step: one given
   a new buffer (cg_replace) or left unrealized would make every replay read stale weights. */
typedef struct { cg_tensor *t; cg_buffer *buf; } param_snap;

static int snapshot_params(param_snap **out) {
  cg_tensor *const *ts;
  int n = autograd_targets(&ts);
  *out = cg_xcalloc(n ? n : 1, sizeof **out);
  for (int i = 0; i < n; i++) (*out)[i] = (param_snap){ts[i], stored_buf(ts[i])};
  return n;
}

static int uses_buffer(const cg_jit *j, const cg_buffer *b) {
  for (int e = 0; e < j->nentries; e++)
    for (int k = 0; k < j->entries[e].nargs; k++)
      if (j->entries[e].args[k].buf == b) return 1;
  return 0;
}

static int check_params(const cg_jit *j, const param_snap *snap, int n) {
  cg_tensor *const *ts;
  int now = autograd_targets(&ts);
  for (int i = 0; i < n; i++) {
    int alive = 0;
    for (int k = 0; k < now && !alive; k++) alive = ts[k] == snap[i].t;
    if (!alive || !snap[i].buf || stored_buf(snap[i].t) == snap[i].buf || !uses_buffer(j, snap[i].buf)) continue;
    cg_set_error("jit: the function gave a %s parameter a new buffer (or left its update unrealized); "
                 "update state in place (cg_assign_lazy, as the optimizers do) so a replay sees it",
                 cg_dtype_name(snap[i].t->u->dtype));
    return -1;
  }
  return 0;
}

static int capture(cg_jit *j, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  cg_buffer **bufs = cg_xcalloc(n ? n : 1, sizeof *bufs);
  for (int i = 0; i < n; i++) bufs[i] = stored_buf(in[i]);
  j->capture_in = bufs;
  param_snap *snap;
  int nsnap = snapshot_params(&snap);
  capturing = j;
  int nout = call_fn(j, in, n, out, max_out);
  capturing = NULL;
  if (nout >= 0 && check_params(j, snap, nsnap) != 0) nout = -1;
  free(snap);
  if (nout >= 0 && finish_capture(j, out, nout) != 0) nout = -1;
  j->capture_in = NULL;
  free(bufs);
  if (nout < 0) drop_capture(j); /* the next call captures again */
  if (cg_env_get()->debug >= 1 && nout >= 0)
    fprintf(stderr, "*** jit: captured %d kernels and %d copies\n", j->nkernels, j->nentries - j->nkernels);
  return nout;
}

static cg_buffer *resolve(const jit_arg *a, cg_tensor **in) {
  return a->input >= 0 ? stored_buf(in[a->input]) : a->buf;
}

static int replay_entry(jit_entry *e, cg_tensor **in) {
  if (!e->prog) return cg_copy_recorded(resolve(&e->args[0], in), resolve(&e->args[1], in));
  void *ptrs[64];
  int64_t vars[16];
  for (int k = 0; k < e->nargs; k++) {
    cg_buffer *b = resolve(&e->args[k], in);
    ptrs[k] = b ? b->ptr : NULL;
  }
  for (int k = 0; k < e->prog->nvars; k++) vars[k] = ((cg_variable *)e->prog->vars[k])->value;
  double t0 = cg_now();
  if (cg_device_get(e->dev)->launch(e->handle, e->prog, ptrs, vars) != 0) return -1;
  cg_stats_add_run(e->prog, cg_now() - t0);
  return 0;
}

static int replay(cg_jit *j, cg_tensor **in, cg_tensor **out, int max_out) {
  if (j->nout > max_out) {
    cg_set_error("jit: the captured function has %d outputs, room for %d", j->nout, max_out);
    return -1;
  }
  double t0 = cg_now();
  for (int e = 0; e < j->nentries; e++)
    if (replay_entry(&j->entries[e], in) != 0) return -1;
  for (int i = 0; i < j->nout; i++) { /* a fresh node per replay: the buffer has new contents */
    cg_buffer *b = resolve(&j->outs[i], in);
    cg_buffer_ref(b);
    b->version++;
    uop_arg arg = {.ival = b->version, .ptr = b};
    out[i] = tensor_wrap(tnode(OP_BUFFER, j->out[i].dtype, NULL, 0, arg, j->out[i].shape));
    if (!out[i]) return -1;
  }
  if (cg_env_get()->debug >= 2)
    fprintf(stderr, "*** jit: replayed %d kernels and %d copies in %.3f ms\n", j->nkernels, j->nentries - j->nkernels,
            (cg_now() - t0) * 1e3);
  return j->nout;
}

int cg_jit_call(cg_jit *j, cg_tensor **in, int n, cg_tensor **out, int max_out) {
  if (!j || n < 0 || max_out < 0 || (n && !in) || (max_out && !out)) {
    cg_set_error("cg_jit_call: bad arguments");
    return -1;
  }
  if (capturing) {
    cg_set_error("cg_jit_call: a jit cannot run inside another jit's capture");
    return -1;
  }
  if (check_inputs(j, in, n) != 0 || realize_inputs(in, n) != 0) return -1;
  int rc = j->calls == 0 ? warm_up(j, in, n, out, max_out)
           : j->calls == 1 ? capture(j, in, n, out, max_out)
                           : replay(j, in, out, max_out);
  if (rc >= 0) j->calls++;
  return rc;
}
