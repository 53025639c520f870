/* The kernel cache directory. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../base/base.h"
#include "disk_cache.h"

int cg_mkdirs(const char *path) {
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') { *p = 0; mkdir(tmp, 0755); *p = '/'; }
  return mkdir(tmp, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

void cg_cache_path(char *out, size_t n, const char *prefix, uint64_t key, const char *suffix) {
  snprintf(out, n, "%s/%s-%016llx%s", cg_env_get()->cachedir, prefix, (unsigned long long)key, suffix);
}

char *cg_cache_read(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (n > 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = cg_xmalloc((size_t)n);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    *size = (size_t)n;
  }
  fclose(f);
  return buf;
}

static atomic_int tmp_counter;

int cg_cache_write(const char *path, const void *data, size_t size) {
  if (cg_mkdirs(cg_env_get()->cachedir) != 0) return -1;
  char tmp[700];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d-%d", path, (int)getpid(), atomic_fetch_add(&tmp_counter, 1));
  FILE *f = fopen(tmp, "wb");
  if (!f) return -1;
  int ok = fwrite(data, 1, size, f) == size;
  ok &= fclose(f) == 0;
  if (ok && rename(tmp, path) == 0) return 0;
  unlink(tmp);
  return -1;
}
