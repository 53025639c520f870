/* Environment knobs (tinygrad's names), read once into one struct. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base.h"

static cg_env env;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static int env_int(const char *name, int dflt) {
  const char *v = getenv(name);
  return (v && *v) ? atoi(v) : dflt;
}

static void env_str(char *dst, size_t n, const char *name, const char *dflt) {
  const char *v = getenv(name);
  snprintf(dst, n, "%s", (v && *v) ? v : dflt);
}

static void env_load(void) {
  env.debug = env_int("DEBUG", 0);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  env.threads = env_int("THREADS", ncpu > 0 ? (int)ncpu : 1);
  if (env.threads < 1) env.threads = 1;
  env.noopt = env_int("NOOPT", 0);
  env.beam = env_int("BEAM", 0);
  const char *home = getenv("HOME");
  char dflt[480];
  snprintf(dflt, sizeof dflt, "%s/.cache/cgrad", home ? home : "/tmp");
  env_str(env.cachedir, sizeof env.cachedir, "CACHEDIR", dflt);
  env_str(env.cc, sizeof env.cc, "CC", "cc");
  env_str(env.device, sizeof env.device, "DEV", "CPU");
  env_str(env.nvrtc_check, sizeof env.nvrtc_check, "NVRTC_CHECK", "");
  env.allow_tf32 = env_int("ALLOW_TF32", 0);
  env.profile = env_int("PROFILE", 0);
}

const cg_env *cg_env_get(void) {
  pthread_once(&env_once, env_load);
  return &env;
}

void cg_env_set_profile(int on) {
  cg_env_get();
  env.profile = on != 0;
}

void cg_set_profiling(int on) { cg_env_set_profile(on); }

void cg_env_set_beam(int n) {
  cg_env_get();
  env.beam = n < 0 ? 0 : n;
}

void cg_env_set_threads(int n) {
  cg_env_get();
  env.threads = n < 1 ? 1 : n;
}

cg_config cg_get_config(void) {
  const cg_env *e = cg_env_get();
  return (cg_config){e->debug, e->threads, e->noopt, e->beam, e->cachedir, e->cc, e->device};
}
