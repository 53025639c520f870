/* safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
   shape and byte range, then the data. The file is mmap'ed; every header field is checked
   against the file before any tensor is read, so a truncated or lying file is an error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgrad.h"
#include "json.h"
#include "mapped_file.h"

typedef struct {
  char *name;
  cg_dtype dtype;
  cg_shape shape;
  uint64_t begin, end;  /* within the data section */
} st_entry;

struct cg_safetensors {
  unsigned char *map;
  size_t size;
  const unsigned char *data;
  uint64_t data_size;
  st_entry *entries;
  int n;
  json *header;
};

static const char *st_names[CG_NUM_DTYPES] = {
  [CG_BOOL] = "BOOL", [CG_I8] = "I8", [CG_U8] = "U8", [CG_I16] = "I16", [CG_U16] = "U16",
  [CG_I32] = "I32", [CG_U32] = "U32", [CG_I64] = "I64", [CG_U64] = "U64", [CG_F16] = "F16",
  [CG_BF16] = "BF16", [CG_F32] = "F32", [CG_F64] = "F64"};

static int dtype_of(const char *s) {
  for (int i = 0; i < CG_NUM_DTYPES; i++)
    if (!strcmp(s, st_names[i])) return i;
  return -1;
}

static int bad(const char *path, const char *what, const char *name) {
  cg_set_error("safetensors %s: %s%s%s", path, what, name ? ": " : "", name ? name : "");
  return -1;
}

static int parse_entry(const char *path, const char *name, const json *v, uint64_t data_size, st_entry *e) {
  const json *dt = json_get(v, "dtype"), *sh = json_get(v, "shape"), *off = json_get(v, "data_offsets");
  if (!dt || dt->kind != JSON_STRING || dtype_of(dt->str) < 0) return bad(path, "missing or unknown dtype", name);
  if (!sh || sh->kind != JSON_ARRAY || sh->len > CG_MAX_DIMS) return bad(path, "bad shape", name);
  if (!off || off->kind != JSON_ARRAY || off->len != 2) return bad(path, "bad data_offsets", name);
  e->dtype = (cg_dtype)dtype_of(dt->str);
  e->shape = (cg_shape){(int)sh->len, {0}, {0}};
  uint64_t bytes = (uint64_t)cg_dtype_size(e->dtype);
  for (size_t i = 0; i < sh->len; i++) {
    const json *d = sh->items[i];
    if (d->kind != JSON_NUMBER || !d->is_int || d->ival < 0) return bad(path, "bad dimension", name);
    e->shape.d[i] = d->ival;
    if (d->ival && bytes > UINT64_MAX / (uint64_t)d->ival) return bad(path, "tensor too large", name);
    bytes *= (uint64_t)d->ival;
  }
  for (int i = 0; i < 2; i++)
    if (off->items[i]->kind != JSON_NUMBER || !off->items[i]->is_int || off->items[i]->ival < 0)
      return bad(path, "bad data_offsets", name);
  e->begin = (uint64_t)off->items[0]->ival;
  e->end = (uint64_t)off->items[1]->ival;
  if (e->begin > e->end || e->end > data_size) return bad(path, "data_offsets outside the file", name);
  if (e->end - e->begin != bytes) return bad(path, "data_offsets do not match dtype and shape", name);
  e->name = strdup(name);
  return e->name ? 0 : bad(path, "out of memory", NULL);
}

static int parse_header(cg_safetensors *f, const char *path, const char *text, size_t n) {
  char err[160];
  f->header = json_parse(text, n, err, sizeof err);
  if (!f->header) return bad(path, err, NULL);
  if (f->header->kind != JSON_OBJECT) return bad(path, "header is not a JSON object", NULL);
  f->entries = calloc(f->header->len + 1, sizeof(st_entry));
  if (!f->entries) return bad(path, "out of memory", NULL);
  for (size_t i = 0; i < f->header->len; i++) {
    const char *name = f->header->keys[i];
    if (!strcmp(name, "__metadata__")) {
      const json *m = f->header->items[i];
      if (m->kind != JSON_OBJECT) return bad(path, "__metadata__ is not an object", NULL);
      for (size_t k = 0; k < m->len; k++)
        if (m->items[k]->kind != JSON_STRING) return bad(path, "__metadata__ values must be strings", m->keys[k]);
      continue;
    }
    for (int k = 0; k < f->n; k++)
      if (!strcmp(f->entries[k].name, name)) return bad(path, "duplicate tensor name", name);
    if (parse_entry(path, name, f->header->items[i], f->data_size, &f->entries[f->n])) return -1;
    f->n++;
  }
  return 0;
}

cg_safetensors *cg_safetensors_open(const char *path) {
  cg_safetensors *f = calloc(1, sizeof *f);
  if (!f) {
    cg_set_error("safetensors: out of memory");
    return NULL;
  }
  int rc = map_file("safetensors", path, 8, &f->map, &f->size);
  uint64_t hlen = 0;
  if (!rc) {
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->map[i];
    if (hlen > f->size - 8 || hlen > (100u << 20)) rc = bad(path, "header length beyond the file", NULL);
  }
  if (!rc) {
    f->data = f->map + 8 + hlen;
    f->data_size = f->size - 8 - hlen;
    rc = parse_header(f, path, (const char *)f->map + 8, (size_t)hlen);
  }
  if (rc) {
    cg_safetensors_close(f);
    return NULL;
  }
  return f;
}

int cg_safetensors_count(const cg_safetensors *f) { return f ? f->n : 0; }
const char *cg_safetensors_name(const cg_safetensors *f, int i) {
  return f && i >= 0 && i < f->n ? f->entries[i].name : NULL;
}

const char *cg_safetensors_metadata(const cg_safetensors *f, const char *key) {
  const json *m = f ? json_get(f->header, "__metadata__") : NULL, *v = json_get(m, key);
  return v ? v->str : NULL;
}

cg_tensor *cg_safetensors_get(const cg_safetensors *f, const char *name, const char *device) {
  for (int i = 0; f && i < f->n; i++)
    if (!strcmp(f->entries[i].name, name))
      return cg_from_data(f->data + f->entries[i].begin, f->entries[i].dtype, f->entries[i].shape, device);
  cg_set_error("safetensors: no tensor named '%s'", name ? name : "(null)");
  return NULL;
}

void cg_safetensors_close(cg_safetensors *f) {
  if (!f) return;
  for (int i = 0; i < f->n; i++) free(f->entries[i].name);
  free(f->entries);
  json_free(f->header);
  if (f->map) munmap(f->map, f->size);
  free(f);
}

/* ---- writing ---- */
static void json_string(FILE *o, const char *s) {
  fputc('"', o);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(o, "\\%c", c);
    else if (c < 0x20) fprintf(o, "\\u%04x", c);
    else fputc(c, o);
  }
  fputc('"', o);
}

/* Write names[i] -> ts[i] (realized first) and string metadata pairs; the file appears only
   when complete (written to a temporary name, then renamed). */
int cg_safetensors_save(const char *path, const char *const *names, cg_tensor *const *ts, int n,
                        const char *const *meta_kv, int nmeta) {
  if (!path || n < 0 || (n && (!names || !ts)) || nmeta < 0 || (nmeta && !meta_kv)) {
    cg_set_error("safetensors save: bad arguments");
    return -1;
  }
  if (cg_realize_all((cg_tensor **)ts, n) != 0) return -1;
  char *header = NULL;
  size_t hsize = 0;
  FILE *h = open_memstream(&header, &hsize);
  if (!h) return bad(path, "out of memory", NULL);
  fputc('{', h);
  if (nmeta) {
    fputs("\"__metadata__\":{", h);
    for (int i = 0; i < nmeta; i++) {
      if (i) fputc(',', h);
      json_string(h, meta_kv[2 * i]);
      fputc(':', h);
      json_string(h, meta_kv[2 * i + 1]);
    }
    fputc('}', h);
  }
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    cg_shape s = cg_get_shape(ts[i]);
    uint64_t bytes = (uint64_t)cg_numel(ts[i]) * (uint64_t)cg_dtype_size(cg_get_dtype(ts[i]));
    if (i || nmeta) fputc(',', h);
    json_string(h, names[i]);
    fprintf(h, ":{\"dtype\":\"%s\",\"shape\":[", st_names[cg_get_dtype(ts[i])]);
    for (int d = 0; d < s.ndim; d++) fprintf(h, "%s%lld", d ? "," : "", (long long)s.d[d]);
    fprintf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
    off += bytes;
  }
  fputc('}', h);
  while ((ftell(h) % 8) != 0) fputc(' ', h); /* keep the data 8-byte aligned */
  fclose(h);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
  FILE *o = fopen(tmp, "wb");
  int rc = o ? 0 : bad(path, "cannot create file", NULL);
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hsize >> (8 * i));
  if (!rc && (fwrite(len8, 1, 8, o) != 8 || fwrite(header, 1, hsize, o) != hsize)) rc = bad(path, "write failed", NULL);
  for (int i = 0; i < n && !rc; i++) {
    size_t bytes = (size_t)cg_numel(ts[i]) * (size_t)cg_dtype_size(cg_get_dtype(ts[i]));
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf || cg_to_data(ts[i], buf, bytes) != 0 || fwrite(buf, 1, bytes, o) != bytes) rc = -1;
    free(buf);
  }
  if (o && fclose(o) != 0) rc = bad(path, "write failed", NULL);
  if (!rc && rename(tmp, path) != 0) rc = bad(path, "cannot rename into place", NULL);
  if (rc) unlink(tmp);
  free(header);
  return rc;
}
