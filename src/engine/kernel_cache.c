/* In-process cache of launchable kernels, keyed by device and source hash: a kernel seen
   before is neither compiled nor loaded again. */
#include <pthread.h>
#include <stdlib.h>
#include "../base/base.h"
#include "../runtime/device.h"
#include "kernel_cache.h"

typedef struct entry { uint64_t key; int dev; void *handle; struct entry *next; } entry;
static entry *buckets[1024];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

void *cg_kernel_cache_get(int dev, uint64_t key) {
  pthread_mutex_lock(&mu);
  entry *e = buckets[key & 1023];
  while (e && !(e->key == key && e->dev == dev)) e = e->next;
  pthread_mutex_unlock(&mu);
  return e ? e->handle : NULL;
}

void cg_kernel_cache_put(int dev, uint64_t key, void *handle) {
  entry *e = cg_xcalloc(1, sizeof *e);
  *e = (entry){key, dev, handle, NULL};
  pthread_mutex_lock(&mu);
  e->next = buckets[key & 1023];
  buckets[key & 1023] = e;
  pthread_mutex_unlock(&mu);
}

void cg_kernel_cache_clear(void) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < 1024; i++)
    for (entry *e = buckets[i], *n; e; e = n) {
      n = e->next;
      cg_device_get(e->dev)->release(e->handle);
      free(e);
    }
  for (int i = 0; i < 1024; i++) buckets[i] = NULL;
  pthread_mutex_unlock(&mu);
}
