/* Strict JSON (RFC 8259) reader: recursive descent with a depth limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

typedef struct {
  const char *s;
  size_t n, pos;
  int depth;
  char *err;
  size_t errlen;
} parser;

static json *fail(parser *p, const char *what) {
  if (!p->err[0]) snprintf(p->err, p->errlen, "JSON: %s at byte %zu", what, p->pos);
  return NULL;
}

static void skip_ws(parser *p) {
  while (p->pos < p->n && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos]) p->pos++;
}

static json *node(json_kind k) {
  json *j = calloc(1, sizeof *j);
  if (j) j->kind = k;
  return j;
}

static json *parse_value(parser *p);

static int hex4(parser *p, unsigned *out) {
  if (p->pos + 4 > p->n) return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p->s[p->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) { o[0] = (char)cp; return 1; }
  if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* a string starting after its opening quote; the result is at most as long as the input */
static char *parse_chars(parser *p, size_t *len) {
  size_t start = p->pos, o = 0;
  char *out = NULL;
  while (p->pos < p->n && p->s[p->pos] != '"') p->pos += p->s[p->pos] == '\\' ? 2 : 1;
  if (p->pos >= p->n) { fail(p, "unterminated string"); return NULL; }
  size_t end = p->pos;
  if (!(out = malloc(end - start + 1))) { fail(p, "out of memory"); return NULL; }
  for (p->pos = start; p->pos < end;) {
    unsigned char c = (unsigned char)p->s[p->pos++];
    if (c < 0x20) { free(out); fail(p, "control character in string"); return NULL; }
    if (c != '\\') { out[o++] = (char)c; continue; }
    char e = p->s[p->pos++];
    const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", e);
    if (e && map && ((map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2 == 0)) { out[o++] = map[1]; continue; }
    unsigned cp;
    if (e != 'u' || hex4(p, &cp) || cp == 0) { free(out); fail(p, "bad escape in string"); return NULL; }
    if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
      unsigned lo;
      if (p->pos + 6 > end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' || (p->pos += 2, hex4(p, &lo)) ||
          lo < 0xdc00 || lo > 0xdfff) { free(out); fail(p, "bad surrogate pair"); return NULL; }
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    o += put_utf8(out + o, cp); /* \uXXXX is 6 bytes of input for at most 4 of output */
  }
  out[o] = 0;
  p->pos = end + 1;
  *len = o;
  return out;
}

static json *parse_number(parser *p) {
  size_t start = p->pos;
  int is_int = 1;
  if (p->pos < p->n && p->s[p->pos] == '-') p->pos++;
  if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return fail(p, "bad number");
  if (p->s[p->pos] == '0' && p->pos + 1 < p->n && p->s[p->pos + 1] >= '0' && p->s[p->pos + 1] <= '9')
    return fail(p, "leading zero in number");
  while (p->pos < p->n && strchr("0123456789+-.eE", p->s[p->pos]) && p->s[p->pos]) {
    if (strchr(".eE", p->s[p->pos])) is_int = 0;
    p->pos++;
  }
  char buf[64];
  if (p->pos - start >= sizeof buf) return fail(p, "number too long");
  memcpy(buf, p->s + start, p->pos - start);
  buf[p->pos - start] = 0;
  char *endp;
  json *j = node(JSON_NUMBER);
  if (!j) return fail(p, "out of memory");
  j->num = strtod(buf, &endp);
  if (*endp) { free(j); return fail(p, "bad number"); }
  j->is_int = is_int && strlen(buf) < 19; /* fits int64 */
  if (j->is_int) j->ival = strtoll(buf, NULL, 10);
  return j;
}

static json *parse_container(parser *p, int object) {
  json *j = node(object ? JSON_OBJECT : JSON_ARRAY);
  if (!j) return fail(p, "out of memory");
  size_t cap = 0;
  char close = object ? '}' : ']';
  skip_ws(p);
  if (p->pos < p->n && p->s[p->pos] == close) { p->pos++; return j; }
  for (;;) {
    char *key = NULL;
    if (object) {
      skip_ws(p);
      size_t klen;
      if (p->pos >= p->n || p->s[p->pos] != '"') { json_free(j); return fail(p, "expected a key"); }
      p->pos++;
      if (!(key = parse_chars(p, &klen))) { json_free(j); return NULL; }
      skip_ws(p);
      if (p->pos >= p->n || p->s[p->pos++] != ':') { free(key); json_free(j); return fail(p, "expected ':'"); }
    }
    json *v = parse_value(p);
    if (!v) { free(key); json_free(j); return NULL; }
    if (j->len == cap) {
      cap = cap ? cap * 2 : 8;
      json **ni = realloc(j->items, cap * sizeof *ni);
      char **nk = object ? realloc(j->keys, cap * sizeof *nk) : j->keys;
      if (!ni || (object && !nk)) { free(key); json_free(v); json_free(j); return fail(p, "out of memory"); }
      j->items = ni;
      j->keys = nk;
    }
    if (object) j->keys[j->len] = key;
    j->items[j->len++] = v;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',') { p->pos++; continue; }
    if (p->pos < p->n && p->s[p->pos] == close) { p->pos++; return j; }
    json_free(j);
    return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static json *parse_value(parser *p) {
  skip_ws(p);
  if (p->pos >= p->n) return fail(p, "unexpected end");
  if (++p->depth > 64) return fail(p, "nested too deeply");
  char c = p->s[p->pos];
  json *j = NULL;
  if (c == '{' || c == '[') { p->pos++; j = parse_container(p, c == '{'); }
  else if (c == '"') {
    p->pos++;
    size_t len;
    char *s = parse_chars(p, &len);
    if (s && (j = node(JSON_STRING))) { j->str = s; j->len = len; }
    else free(s);
  } else if (p->n - p->pos >= 4 && !strncmp(p->s + p->pos, "true", 4)) {
    p->pos += 4;
    if ((j = node(JSON_BOOL))) j->boolean = 1;
  } else if (p->n - p->pos >= 5 && !strncmp(p->s + p->pos, "false", 5)) { p->pos += 5; j = node(JSON_BOOL); }
  else if (p->n - p->pos >= 4 && !strncmp(p->s + p->pos, "null", 4)) { p->pos += 4; j = node(JSON_NULL); }
  else j = parse_number(p);
  p->depth--;
  return j;
}

json *json_parse(const char *text, size_t n, char *err, size_t errlen) {
  parser p = {text, n, 0, 0, err, errlen};
  err[0] = 0;
  json *j = parse_value(&p);
  skip_ws(&p);
  if (j && p.pos != n) {
    json_free(j);
    return fail(&p, "trailing characters");
  }
  if (!j && !err[0]) snprintf(err, errlen, "JSON: invalid");
  return j;
}

const json *json_get(const json *obj, const char *key) {
  if (!obj || obj->kind != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < obj->len; i++)
    if (!strcmp(obj->keys[i], key)) return obj->items[i];
  return NULL;
}

void json_free(json *j) {
  if (!j) return;
  for (size_t i = 0; i < j->len && j->items; i++) {
    json_free(j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->str);
  free(j);
}
