/* Persistent thread pool. Workers sleep on a condition variable; cg_pool_run hands out task
   indices through an atomic counter and the caller works too, so n tasks use every core. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "base.h"

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_t *workers;
  int nworkers, running, generation, stop;
  cg_task_fn fn;
  void *ctx;
  int ntasks;
  atomic_int next;
  int active;
} pool_t;

static pool_t pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                      PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0, 0, NULL, NULL, 0, 0, 0};

static void drain(void) {
  for (int i; (i = atomic_fetch_add(&pool.next, 1)) < pool.ntasks;) pool.fn(pool.ctx, i);
}

static void *worker(void *arg) {
  (void)arg;
  int seen = 0;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (!pool.stop && pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.mu);
    if (pool.stop) break;
    seen = pool.generation;
    pthread_mutex_unlock(&pool.mu);
    drain();
    pthread_mutex_lock(&pool.mu);
    if (--pool.active == 0) pthread_cond_signal(&pool.done);
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

/* Kernels keep scratch arrays on the stack (src/codegen/fuse_prologue.c: up to 256 KiB a kernel):
   the workers' stacks are set, not left to the platform's default (musl's is 128 KiB). */
enum { CG_POOL_STACK_BYTES = 8 << 20 };

static void pool_start(int n) {
  pool.workers = cg_xcalloc(n, sizeof(pthread_t));
  pool.nworkers = 0;
  pthread_attr_t attr;
  int sized = pthread_attr_init(&attr) == 0;
  if (sized) pthread_attr_setstacksize(&attr, CG_POOL_STACK_BYTES);
  for (int i = 0; i < n; i++)
    if (pthread_create(&pool.workers[pool.nworkers], sized ? &attr : NULL, worker, NULL) == 0) pool.nworkers++;
  if (sized) pthread_attr_destroy(&attr);
  pool.running = 1;
}

int cg_pool_threads(void) { return cg_env_get()->threads; }

void cg_pool_run(cg_task_fn fn, void *ctx, int n) {
  int threads = cg_pool_threads();
  if (n <= 1 || threads <= 1) {
    for (int i = 0; i < n; i++) fn(ctx, i);
    return;
  }
  pthread_mutex_lock(&pool.mu);
  if (!pool.running) pool_start(threads - 1);
  pool.fn = fn;
  pool.ctx = ctx;
  pool.ntasks = n;
  atomic_store(&pool.next, 0);
  pool.active = pool.nworkers;
  pool.generation++;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  drain();
  pthread_mutex_lock(&pool.mu);
  while (pool.active > 0) pthread_cond_wait(&pool.done, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
}

void cg_pool_shutdown(void) {
  pthread_mutex_lock(&pool.mu);
  if (!pool.running) { pthread_mutex_unlock(&pool.mu); return; }
  pool.stop = 1;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < pool.nworkers; i++) pthread_join(pool.workers[i], NULL);
  free(pool.workers);
  pool.workers = NULL;
  pool.running = 0;
  pool.stop = 0;
}

int cg_set_threads(int n) {
  if (n < 1) return -1;
  cg_pool_shutdown();
  cg_env_set_threads(n);
  return 0;
}
