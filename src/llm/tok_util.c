/* Small pieces the tokenizers share: a string -> id hash map, growable buffers, strict UTF-8
   decoding and GPT-2's byte <-> code point table. */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"

/* FNV-1a: short keys, good spread, no tables. */
static uint32_t hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

int tok_map_init(tok_map *m, size_t n) {
  m->slots = NULL, m->cap = 0;
  if (n > (1u << 29)) { /* the table must never fill up, or a probe would not end */
    cg_set_error("tokenizer: %zu entries are too many", n);
    return -1;
  }
  uint32_t cap = 16;
  while (cap < 2 * n + 1) cap *= 2; /* load factor <= 1/2 keeps probes short */
  m->slots = calloc(cap, sizeof *m->slots);
  m->cap = m->slots ? cap : 0;
  if (!m->slots) cg_set_error("tokenizer: out of memory");
  return m->slots ? 0 : -1;
}

static tok_slot *probe(const tok_map *m, const char *s, size_t len) {
  uint32_t i = hash(s, len) & (m->cap - 1);
  while (m->slots[i].s && !(m->slots[i].len == len && !memcmp(m->slots[i].s, s, len))) i = (i + 1) & (m->cap - 1);
  return &m->slots[i];
}

void tok_map_put(tok_map *m, const char *s, uint32_t len, int32_t val) {
  tok_slot *e = probe(m, s, len);
  e->s = s, e->len = len, e->val = val;
}

int32_t tok_map_get(const tok_map *m, const char *s, size_t len) {
  if (!m->cap) return -1;
  const tok_slot *e = probe(m, s, len);
  return e->s ? e->val : -1;
}

void tok_map_free(tok_map *m) {
  free(m->slots);
  m->slots = NULL, m->cap = 0;
}

static int grow(void **v, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *p = realloc(*v, c * elem);
  if (!p) {
    cg_set_error("tokenizer: out of memory");
    return -1;
  }
  *v = p, *cap = c;
  return 0;
}

int tok_ids_push(tok_ids *a, int32_t id) {
  if (grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v)) return -1;
  a->v[a->n++] = id;
  return 0;
}

int tok_str_put(tok_str *s, const char *p, size_t n) {
  if (grow((void **)&s->v, &s->cap, s->n + n + 1, 1)) return -1;
  memcpy(s->v + s->n, p, n);
  s->n += n;
  s->v[s->n] = 0;
  return 0;
}

int tok_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  if (!n) return 0;
  unsigned c = s[0];
  int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (!len || (size_t)len > n) return 0;
  uint32_t v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = v << 6 | (s[i] & 0x3F);
  }
  static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min_cp[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

int tok_utf8_put(uint32_t cp, char out[4]) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12), out[1] = (char)(0x80 | (cp >> 6 & 0x3F)), out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18), out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F)), out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

int tok_utf8_check(const char *s, size_t n) {
  uint32_t cp;
  for (size_t i = 0; i < n;) {
    int l = tok_utf8_next((const unsigned char *)s + i, n - i, &cp);
    if (!l) {
      cg_set_error("tokenizer: input is not valid UTF-8 (bad byte 0x%02x at offset %zu)", (unsigned char)s[i], i);
      return -1;
    }
    i += (size_t)l;
  }
  return 0;
}

/* Printable bytes keep their code point; the other 68 take U+0100.. in byte order:
   0x00-0x20 -> U+0100-U+0120, 0x7F-0xA0 -> U+0121-U+0142, 0xAD -> U+0143. */
uint32_t tok_byte_to_cp(uint8_t b) {
  if (b <= 0x20) return 0x100u + b;
  if (b >= 0x7F && b <= 0xA0) return b + 0xA2u;
  if (b == 0xAD) return 0x143;
  return b;
}

int tok_cp_to_byte(uint32_t cp) {
  if (cp <= 0xFF) return (cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) ? -1 : (int)cp;
  if (cp <= 0x120) return (int)(cp - 0x100);
  if (cp <= 0x142) return (int)(cp - 0xA2);
  return cp == 0x143 ? 0xAD : -1;
}
