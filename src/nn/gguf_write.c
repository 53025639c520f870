/* GGUF v3 writer. Metadata is serialized as it is added (into one growing buffer), after each
   value is checked: key present and unique at the top level, element types matching the open
   array, counts honoured. Tensors are copied in and laid out on save, each at an offset that is
   a multiple of general.alignment (default 32). Saving writes a temporary file next to the
   target and renames it into place, so a failure never leaves a half-written file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ggml_types.h"
#include "gguf_internal.h"

enum { T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64, T_COUNT };
static const int scalar_size[T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
#define MAX_DEPTH 4

typedef struct { unsigned char *p; size_t n, cap; } bytes;

typedef struct {
  char *name;
  int type, ndim;
  int64_t dims[4];
  unsigned char *data;
  size_t nbytes;
} wtensor;

struct cg_gguf_writer {
  bytes kv;
  uint64_t nkv;
  char **keys;
  struct { int etype; uint64_t left; } open[MAX_DEPTH];
  int depth;
  uint32_t alignment;
  wtensor *ts;
  int nt;
};

static int put(bytes *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n) cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q) {
      cg_set_error("gguf writer: out of memory");
      return -1;
    }
    b->p = q, b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}
static int put_le(bytes *b, uint64_t v, int n) {
  unsigned char le[8];
  for (int i = 0; i < n; i++) le[i] = (unsigned char)(v >> 8 * i);
  return put(b, le, (size_t)n);
}
static int put_str(bytes *b, const char *s) { return put_le(b, strlen(s), 8) || put(b, s, strlen(s)); }

cg_gguf_writer *cg_gguf_writer_new(void) {
  cg_gguf_writer *w = calloc(1, sizeof *w);
  if (!w) cg_set_error("gguf writer: out of memory");
  else w->alignment = 32;
  return w;
}

void cg_gguf_writer_free(cg_gguf_writer *w) {
  if (!w) return;
  for (uint64_t i = 0; i < w->nkv; i++) free(w->keys[i]);
  for (int i = 0; i < w->nt; i++) free(w->ts[i].name), free(w->ts[i].data);
  free(w->keys);
  free(w->ts);
  free(w->kv.p);
  free(w);
}

static int has_key(const cg_gguf_writer *w, const char *key) {
  for (uint64_t i = 0; i < w->nkv; i++)
    if (!strcmp(w->keys[i], key)) return 1;
  return 0;
}

/* Check that a value of `type` may come next (with `key` at the top level, without inside an
   array); nothing is written unless it may. */
static int may_add(const cg_gguf_writer *w, const char *key, int type) {
  if (!w) {
    cg_set_error("gguf writer: NULL writer");
    return -1;
  }
  if (type < 0 || type >= T_COUNT) {
    cg_set_error("gguf writer: unknown value type %d for '%s'", type, key ? key : "(array element)");
    return -1;
  }
  if (w->depth) {
    if (key) cg_set_error("gguf writer: '%s' given while an array still expects %llu values", key,
                          (unsigned long long)w->open[w->depth - 1].left);
    else if (type != w->open[w->depth - 1].etype)
      cg_set_error("gguf writer: array element of type %d in an array of type %d", type, w->open[w->depth - 1].etype);
    return key || type != w->open[w->depth - 1].etype ? -1 : 0;
  }
  if (!key || !*key) {
    cg_set_error("gguf writer: a metadata value needs a key (no array is open)");
    return -1;
  }
  if (has_key(w, key)) {
    cg_set_error("gguf writer: duplicate metadata key '%s'", key);
    return -1;
  }
  return 0;
}

/* The key and type of a top-level pair, or the count of an array element. */
static int begin_value(cg_gguf_writer *w, const char *key, int type) {
  if (w->depth) {
    w->open[w->depth - 1].left--;
    return 0;
  }
  char *k = strdup(key);
  char **keys = k ? realloc(w->keys, (size_t)(w->nkv + 1) * sizeof *keys) : NULL;
  if (!keys || put_str(&w->kv, key) || put_le(&w->kv, (uint64_t)type, 4)) {
    free(k);
    if (keys) w->keys = keys;
    cg_set_error("gguf writer: out of memory");
    return -1;
  }
  w->keys = keys;
  w->keys[w->nkv++] = k;
  return 0;
}

/* Close the arrays whose values are all written. */
static void end_value(cg_gguf_writer *w) {
  while (w->depth && !w->open[w->depth - 1].left) w->depth--;
}

int cg_gguf_writer_scalar(cg_gguf_writer *w, const char *key, int type, const void *value) {
  if (may_add(w, key, type)) return -1;
  if (!scalar_size[type] || !value) {
    cg_set_error("gguf writer: '%s' is not a number or bool (or has no value)", key ? key : "(array element)");
    return -1;
  }
  uint64_t v = 0;
  memcpy(&v, value, (size_t)scalar_size[type]); /* little-endian host, as the format */
  if (type == T_BOOL && v > 1) {
    cg_set_error("gguf writer: bool '%s' must be 0 or 1", key ? key : "(array element)");
    return -1;
  }
  int is_align = !w->depth && !strcmp(key, "general.alignment");
  if (is_align && (type != T_U32 || !v || (v & (v - 1)))) {
    cg_set_error("gguf writer: general.alignment must be a uint32 power of two");
    return -1;
  }
  if (begin_value(w, key, type) || put_le(&w->kv, v, scalar_size[type])) return -1;
  if (is_align) w->alignment = (uint32_t)v;
  end_value(w);
  return 0;
}

int cg_gguf_writer_string(cg_gguf_writer *w, const char *key, const char *s) {
  if (may_add(w, key, T_STR)) return -1;
  if (!s) {
    cg_set_error("gguf writer: NULL string for '%s'", key ? key : "(array element)");
    return -1;
  }
  if (begin_value(w, key, T_STR) || put_str(&w->kv, s)) return -1;
  end_value(w);
  return 0;
}

int cg_gguf_writer_array(cg_gguf_writer *w, const char *key, int etype, uint64_t count) {
  if (may_add(w, key, T_ARR)) return -1;
  if (etype < 0 || etype >= T_COUNT || (etype == T_ARR && w->depth + 1 >= MAX_DEPTH)) {
    cg_set_error("gguf writer: bad array element type %d (or arrays nested too deeply) for '%s'", etype,
                 key ? key : "(array element)");
    return -1;
  }
  if (begin_value(w, key, T_ARR) || put_le(&w->kv, (uint64_t)etype, 4) || put_le(&w->kv, count, 8)) return -1;
  if (count) {
    w->open[w->depth].etype = etype, w->open[w->depth].left = count;
    w->depth++;
  }
  end_value(w);
  return 0;
}

int cg_gguf_writer_copy_kv(cg_gguf_writer *w, const cg_gguf *f, int64_t i) {
  const char *key;
  int type;
  const unsigned char *value;
  uint64_t n;
  if (gguf_kv_raw(f, i, &key, &type, &value, &n)) return -1;
  if (w && !w->depth && has_key(w, key)) return 0;
  if (type == T_U32 && !strcmp(key, "general.alignment")) return cg_gguf_writer_scalar(w, key, type, value);
  if (may_add(w, key, type) || begin_value(w, key, type) || put(&w->kv, value, (size_t)n)) return -1;
  return 0;
}

int cg_gguf_writer_tensor(cg_gguf_writer *w, const char *name, int type, int ndim, const int64_t *dims,
                          const void *data, size_t nbytes) {
  if (!w || !name || !dims || (!data && nbytes)) {
    cg_set_error("gguf writer: bad tensor arguments");
    return -1;
  }
  for (int i = 0; i < w->nt; i++)
    if (!strcmp(w->ts[i].name, name)) {
      cg_set_error("gguf writer: duplicate tensor name '%s'", name);
      return -1;
    }
  int64_t numel = 1;
  for (int d = 0; d < ndim && d < 4; d++) {
    if (dims[d] <= 0 || numel > INT64_MAX / dims[d]) {
      cg_set_error("gguf writer: tensor '%s' has a bad dimension", name);
      return -1;
    }
    numel *= dims[d];
  }
  if (ndim < 1 || ndim > 4) {
    cg_set_error("gguf writer: tensor '%s' needs 1 to 4 dimensions", name);
    return -1;
  }
  int64_t want = cg_ggml_row_size(type, dims[0]);
  if (want < 0 || (uint64_t)want * (uint64_t)(numel / dims[0]) != nbytes) {
    if (want >= 0) cg_set_error("gguf writer: tensor '%s' has %zu bytes, its type and shape need %llu", name,
                                nbytes, (unsigned long long)want * (unsigned long long)(numel / dims[0]));
    return -1;
  }
  wtensor *ts = realloc(w->ts, (size_t)(w->nt + 1) * sizeof *ts);
  if (ts) w->ts = ts;
  wtensor t = {strdup(name), type, ndim, {1, 1, 1, 1}, malloc(nbytes ? nbytes : 1), nbytes};
  if (!ts || !t.name || !t.data) {
    free(t.name), free(t.data);
    cg_set_error("gguf writer: out of memory for tensor '%s'", name);
    return -1;
  }
  memcpy(t.dims, dims, (size_t)ndim * sizeof *dims);
  memcpy(t.data, data, nbytes);
  w->ts[w->nt++] = t;
  return 0;
}

static uint64_t pad_to(uint64_t n, uint64_t a) { return (a - n % a) % a; }

/* header, metadata and tensor infos (offsets laid out with padding) */
static int header(const cg_gguf_writer *w, bytes *h) {
  int bad = put_le(h, 0x46554747u, 4) || put_le(h, 3, 4) || put_le(h, (uint64_t)w->nt, 8) || put_le(h, w->nkv, 8) ||
            put(h, w->kv.p, w->kv.n);
  uint64_t off = 0;
  for (int i = 0; i < w->nt && !bad; i++) {
    const wtensor *t = &w->ts[i];
    bad = put_str(h, t->name) || put_le(h, (uint64_t)t->ndim, 4);
    for (int d = 0; d < t->ndim && !bad; d++) bad = put_le(h, (uint64_t)t->dims[d], 8);
    bad = bad || put_le(h, (uint64_t)t->type, 4) || put_le(h, off, 8);
    off += t->nbytes + pad_to(t->nbytes, w->alignment);
  }
  static const unsigned char zeros[64];
  for (uint64_t p = pad_to(h->n, w->alignment); p && !bad; p -= p < 64 ? p : 64) bad = put(h, zeros, p < 64 ? p : 64);
  return bad ? -1 : 0;
}

static int write_all(FILE *o, const cg_gguf_writer *w, const bytes *h) {
  static const unsigned char zeros[64];
  if (fwrite(h->p, 1, h->n, o) != h->n) return -1;
  for (int i = 0; i < w->nt; i++) {
    if (fwrite(w->ts[i].data, 1, w->ts[i].nbytes, o) != w->ts[i].nbytes) return -1;
    for (uint64_t p = pad_to(w->ts[i].nbytes, w->alignment); p; p -= p < 64 ? p : 64)
      if (fwrite(zeros, 1, p < 64 ? p : 64, o) != (p < 64 ? p : 64)) return -1;
  }
  return 0;
}

int cg_gguf_writer_save(cg_gguf_writer *w, const char *path) {
  if (!w || !path) {
    cg_set_error("gguf writer: bad save arguments");
    return -1;
  }
  if (w->depth) {
    cg_set_error("gguf writer: an array still expects %llu values", (unsigned long long)w->open[w->depth - 1].left);
    return -1;
  }
  bytes h = {0};
  if (header(w, &h)) {
    free(h.p);
    return -1;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
  FILE *o = fopen(tmp, "wb");
  int rc = o ? 0 : -1;
  if (!o) cg_set_error("gguf writer: cannot create %s", tmp);
  if (o && write_all(o, w, &h)) rc = -1, cg_set_error("gguf writer: write to %s failed", tmp);
  if (o && fclose(o) != 0 && !rc) rc = -1, cg_set_error("gguf writer: write to %s failed", tmp);
  if (!rc && rename(tmp, path) != 0) rc = -1, cg_set_error("gguf writer: cannot rename %s to %s", tmp, path);
  if (rc && o) unlink(tmp);
  free(h.p);
  return rc;
}
