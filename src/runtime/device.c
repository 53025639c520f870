/* The device table (one of the few process-wide tables) and refcounted buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../base/base.h"
#include "device.h"

static cg_device *table[] = {&cg_device_cpu, &cg_device_interp, &cg_device_cuda, &cg_device_cl};
enum { NDEV = sizeof table / sizeof *table };

int cg_device_count(void) { return NDEV; }
const char *cg_device_name(int i) { return i >= 0 && i < NDEV ? table[i]->name : NULL; }
cg_device *cg_device_get(int idx) { return table[idx >= 0 && idx < NDEV ? idx : 0]; }

/* ":N" after a backend's name */
static int select_ordinal(cg_device *d, const char *suffix) {
  if (!*suffix) return d->select ? d->select(0) : 0;
  char *end;
  long k = strtol(suffix + 1, &end, 10);
  if (*end || end == suffix + 1 || k < 0 || k > 64) {
    cg_set_error("bad device index '%s' (write NAME or NAME:N)", suffix);
    return -1;
  }
  if (d->select) return d->select((int)k);
  if (k != 0) {
    cg_set_error("device %s has only index 0", d->name);
    return -1;
  }
  return 0;
}

int cg_device_lookup(const char *name) {
  if (!name) {
    cg_set_error("device name is NULL");
    return -1;
  }
  size_t n = strcspn(name, ":"); /* "CUDA:1" names device 1 of a backend */
  for (int i = 0; i < NDEV; i++)
    if (strlen(table[i]->name) == n && !strncasecmp(name, table[i]->name, n)) {
      if (select_ordinal(table[i], name + n) != 0) return -1;
      if (!table[i]->available()) {
        char why[300];
        snprintf(why, sizeof why, "%s", cg_has_error() ? cg_last_error() : "");
        cg_set_error("device %s is not available on this machine%s%s", table[i]->name, *why ? ": " : "", why);
        return -1;
      }
      return i;
    }
  cg_set_error("unknown device '%s' (known: CPU, INTERP, CUDA, CL)", name);
  return -1;
}

int cg_device_open(const char *name) { return cg_device_lookup(name) < 0 ? -1 : 0; }

int cg_device_available(const char *name) {
  int i = cg_device_lookup(name);
  if (i < 0) cg_clear_error();
  return i >= 0;
}

static _Thread_local int default_dev = -1;

int cg_device_default_index(void) {
  if (default_dev < 0) {
    default_dev = cg_device_lookup(cg_env_get()->device);
    if (default_dev < 0) default_dev = 0; /* fall back to the CPU; DEV= typo shows in `cgrad info` */
  }
  return default_dev;
}

const char *cg_default_device(void) { return table[cg_device_default_index()]->name; }

int cg_set_default_device(const char *name) {
  int i = cg_device_lookup(name);
  if (i < 0) return -1;
  default_dev = i;
  return 0;
}

cg_buffer *cg_buffer_new(int dev, size_t nbytes) {
  cg_device *d = cg_device_get(dev);
  void *p = d->alloc(nbytes);
  if (!p) {
    cg_set_error("%s: out of memory allocating %zu bytes", d->name, nbytes);
    return NULL;
  }
  cg_buffer *b = cg_xcalloc(1, sizeof *b);
  *b = (cg_buffer){dev, p, nbytes, 1, 0};
  return b;
}

int cg_buffer_copy(cg_buffer *dst, const cg_buffer *src, size_t n) {
  cg_device *sd = cg_device_get(src->dev), *dd = cg_device_get(dst->dev);
  if (!n) return 0;
  if (src->dev == dst->dev && sd->copy) return sd->copy(dst->ptr, src->ptr, n);
  void *tmp = cg_xmalloc(n);
  int rc = sd->copyout(tmp, src->ptr, n);
  if (!rc) rc = dd->copyin(dst->ptr, tmp, n);
  free(tmp);
  return rc;
}

void cg_buffer_ref(cg_buffer *b) { b->refcnt++; }

void cg_buffer_unref(cg_buffer *b) {
  if (!b || --b->refcnt > 0) return;
  cg_device_get(b->dev)->free(b->ptr, b->nbytes);
  free(b);
}

int cg_synchronize(const char *name) {
  int i = name ? cg_device_lookup(name) : cg_device_default_index();
  if (i < 0) return -1;
  return table[i]->sync ? table[i]->sync() : 0;
}
