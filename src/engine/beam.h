/* BEAM=n: time alternative opt lists of a kernel on its device, keep the fastest, and remember the
   choice in memory and on disk (CACHEDIR), keyed by the un-optimized kernel and the device. */
#ifndef CG_BEAM_H
#define CG_BEAM_H
#include "../codegen/opt.h"
#include "engine.h"

/* Lower, optimize (opts NULL: the heuristics; else that list, and NULL with *fits = 0 when it does
   not fit), linearize, name and render a scheduled kernel for dialect d (realize.c). */
cg_program *cg_build_program(cg_schedule *s, cg_sched_item *it, const cg_dialect *d, const cg_opt_list *opts,
                             int *fits);

/* 1 if BEAM searches kernels of device dev (BEAM > 0, opts on, a device that can time them). */
int cg_beam_active(int dev);
/* The kernel to compile under BEAM: the cached choice, else the heuristics' with *search = 1.
   *key is the BEAM cache key (un-optimized source, device, threads, width). */
cg_program *cg_beam_prepare(cg_schedule *s, cg_sched_item *it, int dev, uint64_t *key, int *search);
/* Search: *prog / *handle (the compiled default) are replaced by the fastest candidate that agrees
   with it, whose handle the kernel cache then owns. 0, or -1 with the default kept. */
int cg_beam_search(cg_schedule *s, cg_sched_item *it, int dev, uint64_t key, cg_program **prog, void **handle);

/* ---- the choice cache (beam_cache.c) ---- */
uint64_t cg_beam_key(const char *noopt_source, int dev);
/* 1 and *out if key was chosen before (in this process, else with disk in a valid CACHEDIR
   file), else 0. */
int cg_beam_lookup(uint64_t key, int disk, cg_opt_list *out);
void cg_beam_store(uint64_t key, const cg_opt_list *list);  /* memory and disk */
void cg_beam_cache_clear(void);                               /* memory only: disk stays */

/* ---- timing on scratch buffers (beam_bench.c) ---- */
typedef struct {
  cg_device *dv;
  int nparams, out_dtype;
  void *ptr[64];        /* device scratch buffer per parameter; 0 is the output */
  size_t nbytes[64];
  int64_t vars[16];     /* bound variables at their current values */
  char *want, *got;     /* host copies: the default kernel's output, a candidate's */
  double scale;         /* largest finite |value| in want: the tolerance's unit */
} cg_beam_bench;
/* Scratch parameters for p's kernel, inputs filled with deterministic values; -1 (error) if out of
   memory. */
int cg_beam_bench_init(cg_beam_bench *b, int dev, const cg_program *p);
void cg_beam_bench_free(cg_beam_bench *b);
/* One run into a zeroed output, then its output checked against the reference (the first call
   stores it). Seconds, -1 if the launch failed, -2 if the output disagrees (*err: worst error). */
double cg_beam_run_checked(cg_beam_bench *b, void *handle, cg_program *p, double *err);
double cg_beam_run(cg_beam_bench *b, void *handle, cg_program *p);  /* one timed run; -1 on failure */
/* A full run's seconds estimated from two runs of the first 1/16 of the outermost loop (no check),
   or -1 where the launch cannot be cut or the loop is too short for it to save time. */
double cg_beam_probe(cg_beam_bench *b, void *handle, cg_program *p);
#endif
