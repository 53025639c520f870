/* realize: schedule -> lower -> linearize -> render -> compile (in parallel, cached) -> allocate
   -> launch -> commit. Atomic: every kernel is compiled and every buffer allocated before the
   first launch, so a failure leaves every tensor as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../codegen/fuse_prologue.h"
#include "../codegen/linearize.h"
#include "../codegen/opt.h"
#include "../codegen/render.h"
#include "../codegen/stage_output.h"
#include "../codegen/tensor_cores.h"
#include "../schedule/schedule.h"
#include "../tensor/tensor.h"
#include "../runtime/host_mem.h"
#include "beam.h"
#include "inplace.h"
#include "jit.h"
#include "kernel_cache.h"

typedef struct {
  cg_program *prog;     /* NULL for copies and empty outputs */
  void *handle;
  int dev;
  int compile_needed;
  char *err;
  int cached;
  int search;           /* BEAM: not in the BEAM cache, search after the defaults compile */
  uint64_t beam_key;
} prepared;

/* E_ (elementwise) or r_ (reduce), then the output loop sizes, then r/u + the inner loop sizes;
   a variable trip count shows as the variable's name. */
static int name_loop(cg_program *p, int n, const char *prefix, const cg_inst *end) {
  if (end->op == OP_DEFINE_VAR)
    return snprintf(p->name + n, sizeof p->name - n, "_%s%s", prefix, ((cg_variable *)p->vars[end->ival2])->name);
  return snprintf(p->name + n, sizeof p->name - n, "_%s%lld", prefix, (long long)end->ival);
}

static void name_kernel(cg_program *p) {
  int reduce = 0, n = 0;
  for (int i = 0; i < p->nins; i++) reduce |= p->ins[i].op == OP_DEFINE_ACC;
  n = snprintf(p->name, sizeof p->name, "%s", reduce ? "r" : "E");
  for (int i = 0; i < p->nins && n < 90; i++) {
    const cg_inst *in = &p->ins[i];
    if (in->op != OP_RANGE) continue;
    const char *prefix = in->ival2 == RANGE_GLOBAL ? "" : in->ival2 >= RANGE_UPCAST ? "u" : "r";
    n += name_loop(p, n, prefix, &p->ins[in->src[0]]);
  }
  if (n == 1) snprintf(p->name + n, sizeof p->name - n, "_1");
}

/* lower + optimize + linearize + name one kernel; GPU dialects skip the CPU's vector opts.
   opts NULL: the heuristics; else that list, and NULL with *fits = 0 if it does not fit. */
cg_program *cg_build_program(cg_schedule *s, cg_sched_item *it, const cg_dialect *d, const cg_opt_list *opts,
                             int *fits) {
  cg_lowered l;
  if (fits) *fits = 1;
  if (cg_lower(s, it, &l) != 0) return NULL;
  cg_tc_plan tc;
  int tensor_cores = !opts && d == &cg_dialect_cuda && !cg_env_get()->noopt && cg_tc_match(&l, &tc);
  if (opts && cg_opts_apply(&l, opts) != 0) {
    if (fits) *fits = 0;
    cg_lowered_free(&l);
    return NULL;
  }
  if (!opts && !d->gpu) cg_optimize(&l);
  else if (!opts && !tensor_cores) cg_optimize_gpu(&l);
  cg_program *p = cg_linearize(&l);
  name_kernel(p);
  if (cg_env_get()->debug >= 3) {
    cg_sbuf b = {0};
    cg_opt_describe(&l, &b);
    uop_print(l.sink, &b);
    p->ast_dump = b.s;
  }
  cg_lowered_free(&l);
  if (!d->gpu && !cg_env_get()->noopt) cg_stage_through_output(p);
  if (tensor_cores) {
    p->source = cg_tc_render(p, &tc);
    return p;
  }
  if (d->gpu) cg_gpu_plan(p);
  p->source = cg_render(p, d);
  return p;
}

/* NVRTC_CHECK=sm_90: every new kernel is also rendered as CUDA and compiled by NVRTC, so CI
   without a GPU still catches CUDA rendering bugs */
static int nvrtc_check(cg_schedule *s, cg_sched_item *it) {
  const char *arch = cg_env_get()->nvrtc_check;
  cg_program *p = cg_build_program(s, it, &cg_dialect_cuda, NULL, NULL);
  if (!p) return -1;
  char *err = NULL;
  if (cg_env_get()->debug >= 4) fprintf(stderr, "NVRTC_CHECK %s:\n%s\n", p->name, p->source);
  int rc = cg_nvrtc_check(p->source, arch, &err);
  if (rc) cg_set_error("NVRTC_CHECK: kernel %s does not compile for %s: %s\n%s", p->name, arch, err ? err : "", p->source);
  free(err);
  cg_program_free(p);
  return rc;
}

static int prepare_item(cg_schedule *s, cg_sched_item *it, prepared *pr) {
  pr->dev = it->root->dev;
  if (it->is_copy || s->bufs[it->out].nbytes == 0) return 0;
  cg_device *dev = cg_device_get(pr->dev);
  const cg_dialect *d = dev->dialect ? dev->dialect : &cg_dialect_c;
  cg_program *p = cg_beam_active(pr->dev) ? cg_beam_prepare(s, it, pr->dev, &pr->beam_key, &pr->search)
                                          : cg_build_program(s, it, d, NULL, NULL);
  if (!p) return -1;
  p->key = cg_hash_bytes(p->source, strlen(p->source), 0);
  pr->prog = p;
  it->reads_output = p->reads_output;
  pr->handle = cg_kernel_cache_get(pr->dev, p->key);
  pr->compile_needed = !pr->handle;
  if (pr->compile_needed && cg_env_get()->nvrtc_check[0] && !(dev->dialect && dev->dialect->gpu))
    return nvrtc_check(s, it);
  return 0;
}

typedef struct { prepared *list; int *todo; } compile_ctx;

static void compile_one(void *vctx, int i) {
  compile_ctx *c = vctx;
  prepared *pr = &c->list[c->todo[i]];
  pr->handle = cg_device_get(pr->dev)->compile(pr->prog, &pr->err, &pr->cached);
}

/* compile distinct new kernels in parallel; duplicates wait for the first */
static int compile_all(prepared *list, int n) {
  int *todo = cg_xmalloc((n ? n : 1) * sizeof(int)), ntodo = 0, rc = 0;
  for (int i = 0; i < n; i++) {
    if (!list[i].compile_needed) continue;
    int dup = 0;
    for (int j = 0; j < ntodo && !dup; j++)
      dup = list[todo[j]].prog->key == list[i].prog->key && list[todo[j]].dev == list[i].dev;
    if (!dup) todo[ntodo++] = i;
  }
  compile_ctx c = {list, todo};
  cg_pool_run(compile_one, &c, ntodo);
  for (int j = 0; j < ntodo; j++) {
    prepared *pr = &list[todo[j]];
    if (!pr->handle) {
      if (!rc) cg_set_error("%s", pr->err ? pr->err : "kernel compile failed");
      rc = -1;
      continue;
    }
    cg_stats_add_compile(pr->cached);
    cg_kernel_cache_put(pr->dev, pr->prog->key, pr->handle);
  }
  for (int i = 0; i < n; i++) {
    free(list[i].err);
    list[i].err = NULL; /* compile_all runs again for fused kernels */
    if (list[i].compile_needed && !rc) list[i].handle = cg_kernel_cache_get(list[i].dev, list[i].prog->key);
  }
  free(todo);
  return rc;
}

/* BEAM: kernels the BEAM cache did not know are searched once their defaults are compiled (the
   realize stays atomic: a search that fails keeps the default) */
static void beam_search_all(cg_schedule *s, prepared *list) {
  for (int i = 0; i < s->nitems; i++) {
    prepared *pr = &list[i];
    if (!pr->search || !pr->prog) continue;
    cg_program *p = pr->prog;
    void *h = pr->handle;
    if (cg_beam_search(s, &s->items[i], pr->dev, pr->beam_key, &p, &h) == 0 && p != pr->prog) {
      cg_program_free(pr->prog);
      pr->prog = p;
      pr->handle = h;
    }
  }
}

/* ---- copies run inside their reader (src/codegen/fuse_prologue.c) ---- */

static int reads_slot(cg_schedule *s, const cg_sched_item *it, int slot) {
  if (it->is_copy) return cg_schedule_slot(s, it->root->src[0]) == slot;
  for (int k = 0; k < it->nins; k++)
    if (it->ins[k] == slot) return 1;
  return 0;
}

/* item i's output is a scratch item j may take over: an intermediate (not a realize target, not
   an existing buffer) that j alone reads, once; j does not write into an existing buffer (an
   assignment: the copy would then read its inputs after j overwrote some); the items between
   leave i's inputs alone. A CONTIGUOUS value is kept for later realizes; fused, it is not. */
static int fusable_pair(cg_schedule *s, uop **targets, int ntargets, int i, int j, int slot) {
  const cg_sched_buf *x = &s->bufs[slot], *out = &s->bufs[s->items[j].out];
  if (x->existing || out->existing || x->dev != out->dev) return 0;
  for (int t = 0; t < ntargets; t++)
    if (targets[t] == x->node) return 0;
  int reads = 0;
  for (int k = 0; k < s->items[j].nins; k++) reads += s->items[j].ins[k] == slot;
  if (reads != 1) return 0;
  for (int m = 0; m < s->nitems; m++)
    if (m != j && reads_slot(s, &s->items[m], slot)) return 0;
  for (int m = i + 1; m < j; m++) {
    const cg_sched_buf *w = &s->bufs[s->items[m].out];
    for (int k = 0; k < s->items[i].nins; k++) {
      const cg_sched_buf *in = &s->bufs[s->items[i].ins[k]];
      if (s->items[m].out == s->items[i].ins[k] || (w->existing && in->existing && w->buf == in->buf)) return 0;
    }
  }
  return 1;
}

static int writer_item(const cg_schedule *s, int slot, int before) {
  for (int i = 0; i < before; i++)
    if (s->items[i].out == slot && !s->items[i].is_copy) return i;
  return -1;
}

/* item j's program becomes the fused one (rendered, looked up in the kernel cache), j reads
   i's inputs too, and i runs nothing. The fused program's params are j's (its scratch arrays,
   which take no argument, last) and then i's inputs: the scratch places get `slot` (the fused
   copy's output, which gets no buffer: a NULL argument) so that i's inputs line up with their
   params. */
static void take_over(cg_schedule *s, prepared *list, int i, int j, int slot, cg_program *f) {
  cg_device *dev = cg_device_get(list[j].dev);
  f->source = cg_render(f, dev->dialect ? dev->dialect : &cg_dialect_c);
  f->key = cg_hash_bytes(f->source, strlen(f->source), 0);
  cg_sched_item *ci = &s->items[j], *pi = &s->items[i];
  int scratch = list[j].prog->nparams - 1 - ci->nins;
  ci->ins = cg_xrealloc(ci->ins, (size_t)(ci->nins + scratch + pi->nins) * sizeof(int));
  while (scratch-- > 0) ci->ins[ci->nins++] = slot;
  memcpy(ci->ins + ci->nins, pi->ins, (size_t)pi->nins * sizeof(int));
  ci->nins += pi->nins;
  cg_program_free(list[j].prog);
  cg_program_free(list[i].prog);
  list[i].prog = NULL, list[i].handle = NULL;
  list[j].prog = f;
  list[j].handle = cg_kernel_cache_get(list[j].dev, f->key);
  list[j].compile_needed = !list[j].handle;
  s->bufs[pi->out].keep = 0; /* never written: no later realize may take it as the value */
  s->bufs[pi->out].unused = 1;
}

/* Fuse every copy that fits into its reader; the fused kernels still to compile are compiled.
   CPU and the interpreter (GPUs run a kernel's iterations as threads: no slab of their own). */
static int fuse_copies(cg_schedule *s, uop **targets, int ntargets, prepared *list) {
  int fused = 0;
  for (int j = 0; j < s->nitems; j++) list[j].compile_needed = 0;
  if (cg_env_get()->noopt) return 0;
  for (int j = 0; j < s->nitems; j++) {
    cg_device *dev = cg_device_get(list[j].dev);
    if (!list[j].prog || (dev != &cg_device_cpu && dev != &cg_device_interp)) continue;
    for (int k = 0, n = s->items[j].nins; k < n; k++) {
      int slot = s->items[j].ins[k], i = writer_item(s, slot, j);
      if (i < 0 || !list[i].prog || list[i].dev != list[j].dev || !fusable_pair(s, targets, ntargets, i, j, slot)) continue;
      cg_program *f = cg_fuse_prologue(list[i].prog, list[j].prog, k + 1);
      if (!f) continue;
      take_over(s, list, i, j, slot, f);
      fused = 1;
    }
  }
  return fused ? compile_all(list, s->nitems) : 0;
}

/* allocate outputs, reusing intermediates whose last reader has run */
static int allocate(cg_schedule *s) {
  for (int i = 0; i < s->nitems; i++)
    for (int k = 0; k < s->items[i].nins; k++) s->bufs[s->items[i].ins[k]].last_use = i;
  for (int i = 0; i < s->nitems; i++)
    if (s->items[i].is_copy) s->bufs[cg_schedule_slot(s, s->items[i].root->src[0])].last_use = i;
  cg_buffer **pool = cg_xcalloc(s->nbufs ? s->nbufs : 1, sizeof *pool);
  int npool = 0, rc = 0;
  for (int i = 0; i < s->nitems && !rc; i++) {
    cg_sched_buf *out = &s->bufs[s->items[i].out];
    for (int j = 0; j < npool && !out->keep && !out->unused; j++)
      if (pool[j]->nbytes == out->nbytes && pool[j]->dev == out->dev) {
        out->buf = pool[j];
        cg_buffer_ref(out->buf);
        pool[j] = pool[--npool];
        break;
      }
    if (!out->buf && !out->unused) {
      if (!(out->buf = cg_buffer_new(out->dev, out->nbytes))) rc = -1;
      else cg_stats_add_buffer();
    }
    for (int k = 0; k < s->nbufs && !rc; k++) {
      cg_sched_buf *b = &s->bufs[k];
      if (b->last_use == i && !b->keep && !b->existing && b->buf) pool[npool++] = b->buf;
    }
  }
  free(pool); /* pooled buffers stay referenced by their slots */
  return rc;
}

static void debug_line(const cg_program *p, int dev, double sec, int n) {
  int dbg = cg_env_get()->debug, args = 0;
  if (dbg < 1) return;
  for (int k = 0; k < p->nparams; k++) args += !p->params[k].local; /* scratch is no argument */
  fprintf(stderr, "*** %-6s %4d %-32s arg %2d  time %9.3f ms", cg_device_get(dev)->name, n, p->name,
          args, sec * 1e3);
  if (dbg >= 2)
    fprintf(stderr, "  %8.2f GFLOPS  %8.2f GB/s", sec > 0 ? p->flops / sec * 1e-9 : 0,
            sec > 0 ? p->bytes / sec * 1e-9 : 0);
  fprintf(stderr, "\n");
  if (dbg >= 3 && p->ast_dump) fprintf(stderr, "%s", p->ast_dump);
  if (dbg >= 4) fprintf(stderr, "%s\n", p->source);
}

static int run_copy(cg_schedule *s, cg_sched_item *it) {
  return cg_copy_recorded(s->bufs[cg_schedule_slot(s, it->root->src[0])].buf, s->bufs[it->out].buf);
}

static void debug_summary(const cg_stats *before) {
  if (cg_env_get()->debug < 2) return;
  cg_stats now = cg_get_stats();
  double t = now.time_s - before->time_s;
  fprintf(stderr, "*** realize: %lld kernels (%lld compiled, %lld from disk), %.3f ms, %.2f GFLOPS, %.2f GB/s\n",
          (long long)(now.kernels_run - before->kernels_run),
          (long long)(now.kernels_compiled - before->kernels_compiled),
          (long long)(now.kernels_cached - before->kernels_cached), t * 1e3,
          t > 0 ? (now.flops - before->flops) / t * 1e-9 : 0, t > 0 ? (now.bytes - before->bytes) / t * 1e-9 : 0);
}

static int timed_on_device(void) { return cg_env_get()->debug >= 1 || cg_env_get()->profile; }

static int run_all(cg_schedule *s, prepared *list) {
  static int launches; /* numbering for DEBUG lines */
  for (int i = 0; i < s->nitems; i++) {
    cg_sched_item *it = &s->items[i];
    if (it->is_copy) {
      if (run_copy(s, it)) return -1;
      continue;
    }
    cg_program *p = list[i].prog;
    if (!p) continue;
    void *bufs[64];
    cg_buffer *args[64];
    int64_t vars[16];
    args[0] = s->bufs[it->out].buf;
    for (int k = 0; k < it->nins; k++) args[k + 1] = s->bufs[it->ins[k]].buf;
    for (int k = 0; k <= it->nins; k++) bufs[k] = args[k] ? args[k]->ptr : NULL; /* NULL: a scratch's place */
    for (int k = 0; k < p->nvars; k++) vars[k] = ((cg_variable *)p->vars[k])->value;
    cg_device *dv = cg_device_get(list[i].dev);
    double t0 = cg_now();
    if (dv->launch(list[i].handle, p, bufs, vars) != 0) return -1;
    double dt = cg_now() - t0;
    /* with DEBUG, queued GPU kernels are timed on the device (events), not by the launch call */
    if (timed_on_device() && dv->kernel_seconds && (dt = dv->kernel_seconds()) < 0) return -1;
    cg_stats_add_run(p, dt);
    debug_line(p, list[i].dev, dt, ++launches);
    if (cg_jit_record_launch(list[i].dev, list[i].handle, p, args, it->nins + 1)) list[i].prog = NULL;
  }
  return 0;
}

static uop *buffer_node(cg_sched_buf *b) {
  cg_buffer_ref(b->buf);
  uop *n = tnode(OP_BUFFER, b->node->dtype, NULL, 0, (uop_arg){.ptr = b->buf}, b->node->shape);
  return n;
}

static void commit(cg_schedule *s, cg_tensor **ts, int n, cg_buffer **into) {
  for (int k = 0; k < s->nbufs; k++) {
    cg_sched_buf *b = &s->bufs[k];
    /* a value that depends on a variable is a snapshot: only its own tensor keeps it */
    if (b->existing || !b->keep || b->node->realized || b->node->has_var) continue;
    b->node->realized = buffer_node(b);
  }
  for (int i = 0; i < n; i++) {
    if (into && into[i]) { /* assigned: the tensor now reads its own buffer's new contents */
      if (ts[i]->into == into[i]) tensor_take_buffer(ts[i], into[i]);
      continue;
    }
    uop *u = ts[i]->u, *stored = u->op == OP_BUFFER ? u : u->realized;
    /* a value gradients flow through keeps its graph; its value is cached in u->realized */
    if (u->needs_grad && !ts[i]->requires_grad && stored) continue;
    if (!stored && u->has_var) stored = buffer_node(&s->bufs[cg_schedule_slot(s, u)]);
    else if (stored) uop_ref(stored);
    if (stored && stored != u) {
      ts[i]->u = stored;
      uop_unref(u);
    } else if (stored) {
      uop_unref(stored);
    }
    if (ts[i]->requires_grad) ts[i]->u->needs_grad = 1; /* a gradient target's new value */
  }
}

static void cleanup(cg_schedule *s, prepared *list) {
  for (int k = 0; k < s->nbufs; k++)
    if (!s->bufs[k].existing && s->bufs[k].buf) cg_buffer_unref(s->bufs[k].buf);
  for (int i = 0; i < s->nitems; i++) cg_program_free(list[i].prog);
  free(list);
  cg_schedule_free(s);
}

/* Schedule, compile, allocate and run; into[i] (optional) is the existing buffer target i's value
   must end in (assignment). Commits results to ts when given. */
static int realize_nodes(uop **targets, int n, cg_tensor **ts, cg_buffer **into) {
  cg_schedule s;
  cg_stats before = cg_get_stats();
  if (cg_schedule_build(&s, targets, n) != 0) return -1;
  prepared *list = cg_xcalloc(s.nitems ? s.nitems : 1, sizeof *list);
  cg_inplace plan = {0};
  int rc = 0;
  for (int i = 0; i < s.nitems && !rc; i++) rc = prepare_item(&s, &s.items[i], &list[i]);
  if (!rc) rc = cg_inplace_plan(&s, targets, n, into, &plan);
  if (!rc) rc = compile_all(list, s.nitems);
  if (!rc) beam_search_all(&s, list);
  if (!rc) rc = fuse_copies(&s, targets, n, list);
  if (!rc) rc = allocate(&s);
  if (!rc && s.nitems) cg_stats_add_schedule();
  if (!rc) rc = run_all(&s, list);
  int copied = cg_inplace_finish(&s, &plan, !rc);
  if (!rc) rc = copied;
  if (!rc && ts) commit(&s, ts, n, into);
  if (!rc && s.nitems) debug_summary(&before);
  cleanup(&s, list);
  return rc;
}

static int collect_targets(cg_tensor **ts, int n, uop **targets) {
  if (n < 0 || n > 256) {
    cg_set_error("cg_realize_all: between 0 and 256 tensors");
    return -1;
  }
  for (int i = 0; i < n; i++) {
    if (!ts[i]) {
      if (!cg_has_error()) cg_set_error("cg_realize: NULL tensor");
      return -1;
    }
    targets[i] = ts[i]->u;
  }
  return 0;
}

int cg_realize_all(cg_tensor **ts, int n) {
  uop *targets[256];
  cg_buffer *into[256];
  if (collect_targets(ts, n, targets)) return -1;
  int any = 0;
  for (int i = 0; i < n; i++) any |= (into[i] = ts[i]->into) != NULL;
  return realize_nodes(targets, n, ts, any ? into : NULL);
}

/* Compute t's value straight into buffer `out` (same size), leaving t as it is. */
int cg_realize_into(cg_tensor *t, cg_buffer *out) {
  if (!t) return -1;
  uop *u = t->u;
  if (u->op == OP_BUFFER || u->realized) /* already stored: a copy */
    return cg_copy_recorded((u->op == OP_BUFFER ? u : u->realized)->ptr, out);
  return realize_nodes(&u, 1, NULL, &out);
}

int cg_count_kernels(cg_tensor **ts, int n) {
  uop *targets[256];
  if (n < 0 || n > 256) return -1;
  for (int i = 0; i < n; i++) {
    if (!ts[i]) return -1;
    targets[i] = ts[i]->u;
  }
  cg_schedule s;
  if (cg_schedule_build(&s, targets, n) != 0) return -1;
  int count = 0;
  for (int i = 0; i < s.nitems; i++) count += !s.items[i].is_copy && s.bufs[s.items[i].out].nbytes > 0;
  cg_schedule_free(&s);
  return count;
}

void cg_shutdown(void) {
  cg_beam_cache_clear();
  cg_kernel_cache_clear();
  cg_pool_shutdown();
  cg_host_cache_clear();
}
