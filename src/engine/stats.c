/* Run counters: kernels, compiles, FLOPs, bytes, time. */
#include "../base/base.h"
#include "engine.h"

static cg_stats stats;

void cg_stats_add_run(const cg_program *p, double seconds) {
  stats.kernels_run++;
  stats.flops += p->flops;
  stats.bytes += p->bytes;
  stats.time_s += seconds;
}
void cg_stats_add_compile(int cached) {
  if (cached) stats.kernels_cached++;
  else stats.kernels_compiled++;
}
void cg_stats_add_schedule(void) { stats.schedules++; }
void cg_stats_add_buffer(void) { stats.buffers_new++; }
void cg_stats_add_beam(int searches, int runs, int hits, int rejected) {
  stats.beam_searches += searches;
  stats.beam_runs += runs;
  stats.beam_hits += hits;
  stats.beam_rejected += rejected;
}
cg_stats cg_get_stats(void) { return stats; }
void cg_reset_stats(void) { stats = (cg_stats){0}; }
