/* GGUF (v2/v3): a little-endian header, typed metadata key/value pairs, tensor infos, then an
   aligned data section. The file is mmap'ed; every count, length, type, dimension and offset is
   checked against the file before it is used, so a truncated or lying file is an error, never an
   out-of-bounds read. Strings are copied (NUL-terminated) into one arena; numbers are read from
   the map on demand. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgrad.h"
#include "ggml_types.h"
#include "gguf_internal.h"
#include "mapped_file.h"

enum { T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64, T_COUNT };
#define MAX_COUNT (1u << 20)
#define MAX_DEPTH 4

typedef struct {
  uint64_t key;            /* arena offset */
  int type, etype;         /* value type; element type for arrays */
  uint64_t count;          /* array length */
  const unsigned char *raw; /* scalar value or first array element, in the map */
  uint64_t str;            /* arena offset of a string value */
  uint64_t *strs;          /* arena offsets of a string array's elements */
  uint64_t vstart, vend;   /* the value's bytes in the map (for copying it to a writer) */
} gkv;

typedef struct {
  uint64_t name;
  int type, ndim;
  int64_t dims[4];
  uint64_t offset, nbytes;
} gtensor;

struct cg_gguf {
  unsigned char *map;
  size_t size;
  const char *path;
  int version;
  char *arena;
  uint64_t arena_len, arena_cap;
  gkv *kvs;
  uint64_t nkv;
  gtensor *ts;
  uint64_t nt;
  int *kv_sorted, *t_sorted;
  uint64_t alignment;
  const unsigned char *data;
  uint64_t data_size;
};

typedef struct { cg_gguf *f; uint64_t pos; } rd;

static const int scalar_size[T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char *value_names[T_COUNT] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                           "bool", "string", "array", "uint64", "int64", "float64"};

const char *cg_gguf_ggml_type_name(int type) {
  const ggml_type_info *t = ggml_type_find(type);
  return t ? t->name : "?";
}

const char *cg_gguf_value_type_name(int type) { return type >= 0 && type < T_COUNT ? value_names[type] : "?"; }

static int bad(const cg_gguf *f, const char *what, const char *name) {
  cg_set_error("gguf %s: %s%s%s", f->path, what, name ? ": " : "", name ? name : "");
  return -1;
}

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static int need(rd *r, uint64_t n, const char *what) {
  if (n > r->f->size - r->pos) return bad(r->f, "truncated file reading", what);
  return 0;
}
static int rd_u32(rd *r, uint32_t *v, const char *what) {
  if (need(r, 4, what)) return -1;
  *v = (uint32_t)le(r->f->map + r->pos, 4);
  r->pos += 4;
  return 0;
}
static int rd_u64(rd *r, uint64_t *v, const char *what) {
  if (need(r, 8, what)) return -1;
  *v = le(r->f->map + r->pos, 8);
  r->pos += 8;
  return 0;
}

/* Copy a gguf string (u64 length + bytes) into the arena; *off gets its offset (if off). */
static int rd_str(rd *r, uint64_t *off, const char *what) {
  uint64_t n;
  if (rd_u64(r, &n, what)) return -1;
  if (n > r->f->size - r->pos) return bad(r->f, "string length beyond the file", what);
  if (off) {
    cg_gguf *f = r->f;
    if (f->arena_len + n + 1 > f->arena_cap) {
      uint64_t cap = f->arena_cap ? f->arena_cap : 4096;
      while (cap < f->arena_len + n + 1) cap *= 2;
      char *a = realloc(f->arena, (size_t)cap);
      if (!a) return bad(f, "out of memory", NULL);
      f->arena = a, f->arena_cap = cap;
    }
    memcpy(f->arena + f->arena_len, f->map + r->pos, (size_t)n);
    f->arena[f->arena_len + n] = 0;
    *off = f->arena_len;
    f->arena_len += n + 1;
  }
  r->pos += n;
  return 0;
}

/* Validate (and skip) one value of `type`; fills kv for a top-level value. */
static int rd_value(rd *r, int type, int depth, gkv *kv, const char *key) {
  cg_gguf *f = r->f;
  if (type < 0 || type >= T_COUNT) return bad(f, "unknown metadata value type", key);
  if (type == T_STR) return rd_str(r, kv ? &kv->str : NULL, key);
  if (type != T_ARR) {
    if (need(r, (uint64_t)scalar_size[type], key)) return -1;
    if (type == T_BOOL && f->map[r->pos] > 1) return bad(f, "bool value not 0 or 1", key);
    if (kv) kv->raw = f->map + r->pos;
    r->pos += (uint64_t)scalar_size[type];
    return 0;
  }
  if (depth >= MAX_DEPTH) return bad(f, "arrays nested too deeply", key);
  uint32_t et;
  uint64_t count;
  if (rd_u32(r, &et, key) || rd_u64(r, &count, key)) return -1;
  if (et >= T_COUNT) return bad(f, "unknown array element type", key);
  uint64_t min_size = et == T_STR ? 8 : et == T_ARR ? 12 : (uint64_t)scalar_size[et];
  if (count > (f->size - r->pos) / min_size) return bad(f, "array length beyond the file", key);
  if (kv) {
    kv->etype = (int)et, kv->count = count, kv->raw = f->map + r->pos;
    if (et == T_STR && count) {
      kv->strs = malloc((size_t)count * sizeof *kv->strs);
      if (!kv->strs) return bad(f, "out of memory", NULL);
    }
  }
  if (et != T_STR && et != T_ARR && et != T_BOOL) { /* fixed-size elements: one check */
    r->pos += count * min_size;
    return 0;
  }
  for (uint64_t i = 0; i < count; i++)
    if (et == T_STR ? rd_str(r, kv ? &kv->strs[i] : NULL, key) : rd_value(r, (int)et, depth + 1, NULL, key))
      return -1;
  return 0;
}

static _Thread_local const cg_gguf *sort_ctx; /* qsort has no context argument */
static int cmp_kv(const void *a, const void *b) {
  return strcmp(sort_ctx->arena + sort_ctx->kvs[*(const int *)a].key, sort_ctx->arena + sort_ctx->kvs[*(const int *)b].key);
}
static int cmp_t(const void *a, const void *b) {
  return strcmp(sort_ctx->arena + sort_ctx->ts[*(const int *)a].name, sort_ctx->arena + sort_ctx->ts[*(const int *)b].name);
}

/* Sort indices by name and reject duplicates. */
static int *sorted_index(cg_gguf *f, uint64_t n, int is_kv) {
  int *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
  if (!idx) { bad(f, "out of memory", NULL); return NULL; }
  for (uint64_t i = 0; i < n; i++) idx[i] = (int)i;
  sort_ctx = f;
  qsort(idx, (size_t)n, sizeof *idx, is_kv ? cmp_kv : cmp_t);
  for (uint64_t i = 1; i < n; i++) {
    const char *a = f->arena + (is_kv ? f->kvs[idx[i - 1]].key : f->ts[idx[i - 1]].name);
    const char *b = f->arena + (is_kv ? f->kvs[idx[i]].key : f->ts[idx[i]].name);
    if (!strcmp(a, b)) {
      bad(f, is_kv ? "duplicate metadata key" : "duplicate tensor name", a);
      free(idx);
      return NULL;
    }
  }
  return idx;
}

static int find(const cg_gguf *f, const char *name, int is_kv) {
  if (!f || !name) return -1;
  int64_t lo = 0, hi = (int64_t)(is_kv ? f->nkv : f->nt) - 1;
  const int *idx = is_kv ? f->kv_sorted : f->t_sorted;
  while (lo <= hi) {
    int64_t mid = (lo + hi) / 2;
    int c = strcmp(f->arena + (is_kv ? f->kvs[idx[mid]].key : f->ts[idx[mid]].name), name);
    if (!c) return idx[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

static int parse_tensor(rd *r, gtensor *t) {
  cg_gguf *f = r->f;
  uint32_t nd, type;
  if (rd_str(r, &t->name, "tensor name") || rd_u32(r, &nd, "tensor info")) return -1;
#define NAME (f->arena + t->name)
  if (nd < 1 || nd > 4) return bad(f, "tensor must have 1 to 4 dimensions", NAME);
  t->ndim = (int)nd;
  uint64_t numel = 1;
  for (uint32_t d = 0; d < nd; d++) {
    uint64_t v;
    if (rd_u64(r, &v, NAME)) return -1;
    if (v == 0 || v > (uint64_t)INT64_MAX) return bad(f, "bad tensor dimension", NAME);
    if (numel > (uint64_t)INT64_MAX / v) return bad(f, "tensor too large", NAME);
    numel *= v;
    t->dims[d] = (int64_t)v;
  }
  if (rd_u32(r, &type, NAME) || rd_u64(r, &t->offset, NAME)) return -1;
  const ggml_type_info *gt = ggml_type_find((int)type);
  if (!gt) return bad(f, "unknown ggml tensor type", NAME);
  t->type = (int)type;
  if ((uint64_t)t->dims[0] % (uint64_t)gt->blck)
    return bad(f, "first dimension not a multiple of the type's block size", NAME);
  uint64_t blocks = numel / (uint64_t)gt->blck;
  if (blocks > UINT64_MAX / (uint64_t)gt->bytes) return bad(f, "tensor too large", NAME);
  t->nbytes = blocks * (uint64_t)gt->bytes;
#undef NAME
  return 0;
}

static int parse(cg_gguf *f) {
  rd r = {f, 0};
  uint32_t magic, version;
  uint64_t nt, nkv;
  if (f->size < 24) return bad(f, "file too short for a header", NULL);
  if (rd_u32(&r, &magic, "magic") || magic != 0x46554747u) return bad(f, "not a GGUF file (bad magic)", NULL);
  if (rd_u32(&r, &version, "version")) return -1;
  if (version != 2 && version != 3) {
    char v[32];
    snprintf(v, sizeof v, "%u", version);
    return bad(f, "unsupported version", v);
  }
  f->version = (int)version;
  if (rd_u64(&r, &nt, "tensor count") || rd_u64(&r, &nkv, "metadata count")) return -1;
  /* each kv needs >= 13 bytes, each tensor info >= 28 */
  if (nkv > MAX_COUNT || nkv > (f->size - r.pos) / 13) return bad(f, "metadata count too large for the file", NULL);
  if (nt > MAX_COUNT || nt > (f->size - r.pos) / 28) return bad(f, "tensor count too large for the file", NULL);
  f->kvs = calloc((size_t)(nkv ? nkv : 1), sizeof *f->kvs);
  f->ts = calloc((size_t)(nt ? nt : 1), sizeof *f->ts);
  if (!f->kvs || !f->ts) return bad(f, "out of memory", NULL);
  for (uint64_t i = 0; i < nkv; i++) {
    gkv *kv = &f->kvs[i];
    uint32_t type;
    if (rd_str(&r, &kv->key, "metadata key")) return -1;
    f->nkv = i + 1;
    if (rd_u32(&r, &type, f->arena + kv->key)) return -1;
    kv->type = (int)type;
    kv->vstart = r.pos;
    if (rd_value(&r, (int)type, 0, kv, f->arena + kv->key)) return -1;
    kv->vend = r.pos;
  }
  if (!(f->kv_sorted = sorted_index(f, f->nkv, 1))) return -1;
  f->alignment = 32;
  int ai = find(f, "general.alignment", 1);
  if (ai >= 0) {
    if (f->kvs[ai].type != T_U32) return bad(f, "general.alignment is not a uint32", NULL);
    f->alignment = le(f->kvs[ai].raw, 4);
    if (!f->alignment || (f->alignment & (f->alignment - 1))) return bad(f, "general.alignment not a power of two", NULL);
  }
  for (uint64_t i = 0; i < nt; i++) {
    f->nt = i + 1;
    if (parse_tensor(&r, &f->ts[i])) return -1;
  }
  if (!(f->t_sorted = sorted_index(f, f->nt, 0))) return -1;
  uint64_t start = r.pos + (f->alignment - r.pos % f->alignment) % f->alignment;
  if (start > f->size) {
    if (nt) return bad(f, "data section beyond the file", NULL);
    start = f->size;
  }
  f->data = f->map + start;
  f->data_size = f->size - start;
  for (uint64_t i = 0; i < nt; i++) {
    gtensor *t = &f->ts[i];
    if (t->offset % f->alignment) return bad(f, "tensor offset not aligned", f->arena + t->name);
    if (t->offset > f->data_size || t->nbytes > f->data_size - t->offset)
      return bad(f, "tensor data beyond the file", f->arena + t->name);
  }
  return 0;
}

cg_gguf *cg_gguf_open(const char *path) {
  if (!path) {
    cg_set_error("gguf: no path");
    return NULL;
  }
  cg_gguf *f = calloc(1, sizeof *f);
  char *p = strdup(path);
  if (!f || !p) {
    free(f);
    free(p);
    cg_set_error("gguf %s: out of memory", path);
    return NULL;
  }
  f->path = p;
  int rc = map_file("gguf", path, 24, &f->map, &f->size);
  if (!rc) rc = parse(f);
  if (rc) {
    cg_gguf_close(f);
    return NULL;
  }
  return f;
}

void cg_gguf_close(cg_gguf *f) {
  if (!f) return;
  for (uint64_t i = 0; f->kvs && i < f->nkv; i++) free(f->kvs[i].strs);
  free(f->kvs);
  free(f->ts);
  free(f->kv_sorted);
  free(f->t_sorted);
  free(f->arena);
  if (f->map) munmap(f->map, f->size);
  free((char *)f->path);
  free(f);
}

int cg_gguf_version(const cg_gguf *f) { return f ? f->version : 0; }
int64_t cg_gguf_kv_count(const cg_gguf *f) { return f ? (int64_t)f->nkv : 0; }
int64_t cg_gguf_tensor_count(const cg_gguf *f) { return f ? (int64_t)f->nt : 0; }
uint64_t cg_gguf_alignment(const cg_gguf *f) { return f ? f->alignment : 0; }

const char *cg_gguf_kv_key(const cg_gguf *f, int64_t i) {
  return f && i >= 0 && (uint64_t)i < f->nkv ? f->arena + f->kvs[i].key : NULL;
}
int cg_gguf_kv_type(const cg_gguf *f, int64_t i) {
  return f && i >= 0 && (uint64_t)i < f->nkv ? f->kvs[i].type : -1;
}
int64_t cg_gguf_find_key(const cg_gguf *f, const char *key) { return find(f, key, 1); }

static const gkv *lookup(const cg_gguf *f, const char *key, int want_array) {
  int i = find(f, key, 1);
  if (i < 0) {
    cg_set_error("gguf: no metadata key '%s'", key ? key : "(null)");
    return NULL;
  }
  if (want_array && f->kvs[i].type != T_ARR) {
    cg_set_error("gguf: metadata '%s' is not an array", key);
    return NULL;
  }
  return &f->kvs[i];
}

/* a number of type `type` at p, as int64 (ok=0) or an error */
static int num_int(int type, const unsigned char *p, int64_t *out, const char *key) {
  uint64_t u = le(p, scalar_size[type]);
  switch (type) {
  case T_U8: case T_U16: case T_U32: case T_BOOL: *out = (int64_t)u; return 0;
  case T_I8: *out = (int8_t)u; return 0;
  case T_I16: *out = (int16_t)u; return 0;
  case T_I32: *out = (int32_t)u; return 0;
  case T_I64: *out = (int64_t)u; return 0;
  case T_U64:
    if (u > (uint64_t)INT64_MAX) break;
    *out = (int64_t)u;
    return 0;
  default: break;
  }
  cg_set_error("gguf: metadata '%s' is not an integer (or does not fit int64)", key);
  return -1;
}
static int num_float(int type, const unsigned char *p, double *out, const char *key) {
  if (type == T_F32) {
    uint32_t u = (uint32_t)le(p, 4);
    float x;
    memcpy(&x, &u, 4);
    *out = x;
    return 0;
  }
  if (type == T_F64) {
    uint64_t u = le(p, 8);
    memcpy(out, &u, 8);
    return 0;
  }
  if (type == T_U64) {
    *out = (double)le(p, 8);
    return 0;
  }
  int64_t v;
  if (type < 0 || type >= T_COUNT || !scalar_size[type] || num_int(type, p, &v, key)) {
    cg_set_error("gguf: metadata '%s' is not a number", key);
    return -1;
  }
  *out = (double)v;
  return 0;
}

int cg_gguf_get_int(const cg_gguf *f, const char *key, int64_t *out) {
  const gkv *kv = lookup(f, key, 0);
  if (!kv || !out) return -1;
  if (!scalar_size[kv->type] || kv->type == T_F32 || kv->type == T_F64) {
    cg_set_error("gguf: metadata '%s' is not an integer", key);
    return -1;
  }
  return num_int(kv->type, kv->raw, out, key);
}
int cg_gguf_get_float(const cg_gguf *f, const char *key, double *out) {
  const gkv *kv = lookup(f, key, 0);
  if (!kv || !out) return -1;
  return num_float(kv->type, kv->raw, out, key);
}
const char *cg_gguf_get_string(const cg_gguf *f, const char *key) {
  const gkv *kv = lookup(f, key, 0);
  if (!kv) return NULL;
  if (kv->type != T_STR) {
    cg_set_error("gguf: metadata '%s' is not a string", key);
    return NULL;
  }
  return f->arena + kv->str;
}
int64_t cg_gguf_array_len(const cg_gguf *f, const char *key) {
  const gkv *kv = lookup(f, key, 1);
  return kv ? (int64_t)kv->count : -1;
}
int cg_gguf_array_type(const cg_gguf *f, const char *key) {
  const gkv *kv = lookup(f, key, 1);
  return kv ? kv->etype : -1;
}
static const gkv *array_elem(const cg_gguf *f, const char *key, int64_t i) {
  const gkv *kv = lookup(f, key, 1);
  if (kv && (i < 0 || (uint64_t)i >= kv->count)) {
    cg_set_error("gguf: index %lld out of range for metadata '%s'", (long long)i, key);
    return NULL;
  }
  return kv;
}
const char *cg_gguf_array_string(const cg_gguf *f, const char *key, int64_t i) {
  const gkv *kv = array_elem(f, key, i);
  if (!kv) return NULL;
  if (kv->etype != T_STR) {
    cg_set_error("gguf: metadata '%s' is not an array of strings", key);
    return NULL;
  }
  return f->arena + kv->strs[i];
}
int cg_gguf_array_int(const cg_gguf *f, const char *key, int64_t i, int64_t *out) {
  const gkv *kv = array_elem(f, key, i);
  if (!kv || !out) return -1;
  if (!scalar_size[kv->etype] || kv->etype == T_F32 || kv->etype == T_F64) {
    cg_set_error("gguf: metadata '%s' is not an array of integers", key);
    return -1;
  }
  return num_int(kv->etype, kv->raw + (uint64_t)i * (uint64_t)scalar_size[kv->etype], out, key);
}
int cg_gguf_array_float(const cg_gguf *f, const char *key, int64_t i, double *out) {
  const gkv *kv = array_elem(f, key, i);
  if (!kv || !out) return -1;
  if (!scalar_size[kv->etype]) {
    cg_set_error("gguf: metadata '%s' is not an array of numbers", key);
    return -1;
  }
  return num_float(kv->etype, kv->raw + (uint64_t)i * (uint64_t)scalar_size[kv->etype], out, key);
}

int cg_gguf_tensor_info(const cg_gguf *f, int64_t i, const char **name, int *ggml_type, int *ndim, int64_t dims[4],
                        uint64_t *offset, uint64_t *nbytes) {
  if (!f || i < 0 || (uint64_t)i >= f->nt) {
    cg_set_error("gguf: tensor index %lld out of range", (long long)i);
    return -1;
  }
  const gtensor *t = &f->ts[i];
  if (name) *name = f->arena + t->name;
  if (ggml_type) *ggml_type = t->type;
  if (ndim) *ndim = t->ndim;
  if (dims)
    for (int d = 0; d < 4; d++) dims[d] = d < t->ndim ? t->dims[d] : 1;
  if (offset) *offset = t->offset;
  if (nbytes) *nbytes = t->nbytes;
  return 0;
}
int64_t cg_gguf_find_tensor(const cg_gguf *f, const char *name) { return find(f, name, 0); }

const void *cg_gguf_tensor_data(const cg_gguf *f, int64_t i) {
  if (!f || i < 0 || (uint64_t)i >= f->nt) {
    cg_set_error("gguf: tensor index %lld out of range", (long long)i);
    return NULL;
  }
  return f->data + f->ts[i].offset;
}

cg_tensor *cg_gguf_get_f32(const cg_gguf *f, const char *name) {
  int i = find(f, name, 0);
  if (i < 0) {
    cg_set_error("gguf: no tensor named '%s'", name ? name : "(null)");
    return NULL;
  }
  const gtensor *t = &f->ts[i];
  cg_dtype dt = t->type == 0 ? CG_F32 : t->type == 1 ? CG_F16 : t->type == 30 ? CG_BF16 : CG_NUM_DTYPES;
  if (dt == CG_NUM_DTYPES) {
    cg_set_error("gguf: tensor '%s' has type %s, not F32/F16/BF16", name, cg_gguf_ggml_type_name(t->type));
    return NULL;
  }
  cg_shape s = {t->ndim, {0}, {0}};
  for (int d = 0; d < t->ndim; d++) s.d[d] = t->dims[t->ndim - 1 - d]; /* ggml is innermost-first */
  return cg_from_data(f->data + t->offset, dt, s, NULL);
}

int gguf_kv_raw(const cg_gguf *f, int64_t i, const char **key, int *type, const unsigned char **value, uint64_t *n) {
  if (!f || i < 0 || (uint64_t)i >= f->nkv) {
    cg_set_error("gguf: metadata index %lld out of range", (long long)i);
    return -1;
  }
  const gkv *kv = &f->kvs[i];
  *key = f->arena + kv->key, *type = kv->type, *value = f->map + kv->vstart, *n = kv->vend - kv->vstart;
  return 0;
}
