/* libFuzzer target for the GGUF reader: every input is written to a file, opened, and every
   accessor is called on everything the reader accepted (metadata of each type, arrays, tensor
   infos and data). A crash, an ASan report or a hang is a bug: a hostile file must only ever
   produce an error. Build and run with `make fuzz` (part of `make test-full`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cgrad.h"

static void touch_kv(const cg_gguf *f, int64_t i) {
  const char *key = cg_gguf_kv_key(f, i);
  int64_t v;
  double d;
  cg_gguf_get_int(f, key, &v);
  cg_gguf_get_float(f, key, &d);
  cg_gguf_get_string(f, key);
  int64_t n = cg_gguf_array_len(f, key);
  cg_gguf_array_type(f, key);
  for (int64_t k = 0; k < n && k < 64; k++) {
    cg_gguf_array_int(f, key, k, &v);
    cg_gguf_array_float(f, key, k, &d);
    cg_gguf_array_string(f, key, k);
  }
  cg_gguf_array_int(f, key, n, &v); /* one past the end: an error */
}

static unsigned touch_tensor(const cg_gguf *f, int64_t i) {
  const char *name;
  int type, nd;
  int64_t dims[4];
  uint64_t off, nbytes;
  if (cg_gguf_tensor_info(f, i, &name, &type, &nd, dims, &off, &nbytes)) return 0;
  const unsigned char *p = cg_gguf_tensor_data(f, i);
  unsigned sum = cg_gguf_find_tensor(f, name) == i;
  if (p && nbytes) sum += p[0] + p[nbytes - 1]; /* first and last byte must be inside the map */
  return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/cgrad-fuzz-%d.gguf", (int)getpid());
  FILE *o = fopen(path, "wb");
  if (!o) return 0;
  fwrite(data, 1, size, o);
  fclose(o);
  cg_gguf *f = cg_gguf_open(path);
  if (f) {
    cg_gguf_version(f);
    cg_gguf_alignment(f);
    for (int64_t i = 0; i < cg_gguf_kv_count(f); i++) touch_kv(f, i);
    volatile unsigned sum = 0;
    for (int64_t i = 0; i < cg_gguf_tensor_count(f); i++) sum += touch_tensor(f, i);
    (void)sum;
    cg_gguf_close(f);
  }
  unlink(path);
  return 0;
}
