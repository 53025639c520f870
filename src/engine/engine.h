/* The engine: realize (schedule, lower, compile, allocate, run, commit) and its stats. */
#ifndef CG_ENGINE_H
#define CG_ENGINE_H
#include "../codegen/program.h"
#include "../runtime/device.h"
#include "cgrad.h"

/* Counters behind cg_get_stats. */
void cg_stats_add_run(const cg_program *p, double seconds);
void cg_stats_add_compile(int cached);
void cg_stats_add_schedule(void);
void cg_stats_add_buffer(void);
void cg_stats_add_beam(int searches, int runs, int hits, int rejected);
/* Realize t's value into an existing buffer of the same size (assignment). */
int cg_realize_into(cg_tensor *t, cg_buffer *out);
/* Free the compiled-kernel cache (cg_shutdown). */
void cg_kernel_cache_clear(void);
#endif
