/* The public tokenizer API: load from GGUF, encode (special tokens first, then the family's
   encoder on each stretch of plain text), decode (pieces back to bytes), free. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"

cg_tokenizer *cg_tokenizer_from_gguf(const cg_gguf *f) {
  if (!f) {
    cg_set_error("tokenizer: no GGUF file");
    return NULL;
  }
  cg_tokenizer *t = calloc(1, sizeof *t);
  if (!t) {
    cg_set_error("tokenizer: out of memory");
    return NULL;
  }
  if (tok_load(t, f)) {
    cg_tokenizer_free(t);
    return NULL;
  }
  return t;
}

cg_tokenizer *cg_tokenizer_load(const char *path) {
  cg_gguf *f = cg_gguf_open(path);
  cg_tokenizer *t = f ? cg_tokenizer_from_gguf(f) : NULL;
  cg_gguf_close(f);
  return t;
}

void cg_tokenizer_free(cg_tokenizer *t) {
  if (!t) return;
  tok_pretok_free(t);
  tok_map_free(&t->vocab);
  tok_map_free(&t->merges);
  free(t->arena), free(t->text), free(t->len), free(t->score), free(t->type), free(t->rstrip);
  free(t->merge_arena), free(t->specials);
  free(t);
}

int32_t cg_tokenizer_vocab_size(const cg_tokenizer *t) { return t ? t->n : 0; }
int32_t cg_tokenizer_bos(const cg_tokenizer *t) { return t ? t->bos : -1; }
int32_t cg_tokenizer_eos(const cg_tokenizer *t) { return t ? t->eos : -1; }
const char *cg_tokenizer_token_text(const cg_tokenizer *t, int32_t id) {
  return t && id >= 0 && id < t->n ? t->text[id] : NULL;
}

/* ---- special tokens: split the text into raw stretches and special-token ids ---- */
typedef struct { size_t off, len; int32_t id; } frag; /* id -1: raw text s[off..off+len) */
typedef struct { frag *v; size_t n, cap; } frags;

static int frag_push(frags *a, size_t off, size_t len, int32_t id) {
  if (id < 0 && !len) return 0;
  if (a->n == a->cap) {
    size_t c = a->cap ? 2 * a->cap : 16;
    frag *v = realloc(a->v, c * sizeof *v);
    if (!v) {
      cg_set_error("tokenizer: out of memory");
      return -1;
    }
    a->v = v, a->cap = c;
  }
  a->v[a->n++] = (frag){off, len, id};
  return 0;
}

/* Cut every occurrence of special token id out of the raw fragment f. */
static int split_on(const cg_tokenizer *t, const char *s, frag f, int32_t id, frags *out) {
  size_t pos = f.off, end = f.off + f.len, l = t->len[id];
  const char *m;
  while (pos < end && (m = memmem(s + pos, end - pos, t->text[id], l))) {
    size_t at = (size_t)(m - s);
    if (frag_push(out, pos, at - pos, -1) || frag_push(out, at, l, id)) return -1;
    pos = at + l;
    while (t->rstrip[id] && pos < end && isspace((unsigned char)s[pos])) pos++;
  }
  return frag_push(out, pos, end - pos, -1);
}

/* Control and unknown tokens are recognized only with parse_special; user-defined ones always
   (HF tokenizers treats added tokens that way). */
static int partition(const cg_tokenizer *t, const char *s, size_t n, int parse_special, frags *cur) {
  frags next = {0};
  int rc = frag_push(cur, 0, n, -1);
  for (int k = 0; !rc && k < t->nspecials; k++) {
    int32_t id = t->specials[k];
    if (!parse_special && t->type[id] != TT_USER) continue;
    next.n = 0;
    for (size_t i = 0; !rc && i < cur->n; i++)
      rc = cur->v[i].id >= 0 ? frag_push(&next, cur->v[i].off, cur->v[i].len, cur->v[i].id)
                             : split_on(t, s, cur->v[i], id, &next);
    frags tmp = *cur;
    *cur = next, next = tmp;
  }
  free(next.v);
  return rc;
}

/* ---- encoding ---- */
static int push_special(const cg_tokenizer *t, int32_t id, const char *what, tok_ids *out) {
  if (id < 0) {
    cg_set_error("tokenizer: the vocabulary asks for a %s token but has none", what);
    return -1;
  }
  (void)t;
  return tok_ids_push(out, id);
}

static int encode_frags(const cg_tokenizer *t, const char *s, const frags *fr, tok_ids *out) {
  int prev_special = 1; /* SPM puts the prefix space before text that starts the input or follows a special */
  for (size_t i = 0; i < fr->n; i++) {
    const frag *f = &fr->v[i];
    int rc = f->id >= 0                ? tok_ids_push(out, f->id)
             : t->kind == TOK_SPM ? tok_spm_encode(t, s + f->off, f->len, t->add_space_prefix && prev_special, out)
             : t->kind == TOK_BPE ? tok_bpe_encode(t, s + f->off, f->len, out)
                                  : tok_wpm_encode(t, s + f->off, f->len, out);
    if (rc) return -1;
    prev_special = f->id >= 0;
  }
  return 0;
}

static int encode(const cg_tokenizer *t, const char *s, size_t n, int add_special, int parse_special, tok_ids *out) {
  frags fr = {0};
  int rc = n ? partition(t, s, n, parse_special, &fr) : 0;
  int bos = add_special && (t->kind == TOK_WPM || t->add_bos);
  int eos = add_special && t->kind != TOK_WPM && t->add_eos;
  if (!rc && bos) rc = push_special(t, t->bos, t->kind == TOK_WPM ? "[CLS]" : "BOS", out);
  if (!rc) rc = encode_frags(t, s, &fr, out);
  if (!rc && eos) rc = push_special(t, t->eos, "EOS", out);
  if (!rc && add_special && t->kind == TOK_WPM) rc = push_special(t, t->sep, "[SEP]", out);
  free(fr.v);
  return rc;
}

int cg_tokenize(cg_tokenizer *t, const char *text, size_t len, int add_special, int parse_special, int32_t *out,
                int max) {
  if (!t || (!text && len) || max < 0 || (max && !out)) {
    cg_set_error("cg_tokenize: %s", !t ? "no tokenizer" : !text && len ? "no text" : "bad output buffer");
    return -1;
  }
  if (tok_utf8_check(text, len)) return -1;
  tok_ids ids = {0};
  if (encode(t, text, len, add_special, parse_special, &ids)) {
    free(ids.v);
    return -1;
  }
  if (ids.n > INT_MAX) {
    free(ids.v);
    cg_set_error("cg_tokenize: more than INT_MAX tokens");
    return -1;
  }
  size_t k = ids.n < (size_t)max ? ids.n : (size_t)max;
  if (k) memcpy(out, ids.v, k * sizeof *out);
  free(ids.v);
  return (int)ids.n;
}

/* ---- decoding ---- */
/* The bytes of one token: SPM "▁" is a space and <0xXX> a byte; byte-level BPE text is GPT-2's
   byte alphabet; control/unknown tokens render only when asked. */
static int piece(const cg_tokenizer *t, int32_t id, int render_special, tok_str *o) {
  const char *s = t->text[id];
  size_t n = t->len[id];
  int ty = t->type[id];
  if (ty == TT_CONTROL || ty == TT_UNKNOWN) return render_special ? tok_str_put(o, s, n) : 0;
  if (ty == TT_USER) return tok_str_put(o, s, n);
  if (t->kind == TOK_SPM && ty == TT_BYTE && n == 6 && !strncmp(s, "<0x", 3)) {
    char b = (char)strtol(s + 3, NULL, 16);
    return tok_str_put(o, &b, 1);
  }
  int rc = 0;
  for (size_t i = 0; !rc && i < n;) {
    uint32_t cp;
    int l = tok_utf8_next((const unsigned char *)s + i, n - i, &cp);
    if (!l) l = 1, cp = 0xFFFD;
    int b = t->kind == TOK_BPE ? tok_cp_to_byte(cp) : -1;
    char c = (char)b;
    if (b >= 0) rc = tok_str_put(o, &c, 1);
    else if (t->kind != TOK_BPE && cp == 0x2581) rc = tok_str_put(o, " ", 1);
    else rc = tok_str_put(o, s + i, (size_t)l);
    i += (size_t)l;
  }
  return rc;
}

int cg_detokenize(cg_tokenizer *t, const int32_t *ids, int n, int render_special, char *out, int cap) {
  if (!t || n < 0 || (n && !ids) || cap < 0 || (cap && !out)) {
    cg_set_error("cg_detokenize: %s", !t ? "no tokenizer" : "bad arguments");
    return -1;
  }
  tok_str o = {0};
  int rc = tok_str_put(&o, "", 0);
  for (int i = 0; !rc && i < n; i++) {
    if (ids[i] < 0 || ids[i] >= t->n) {
      cg_set_error("cg_detokenize: token id %d at position %d is outside the vocabulary (%d tokens)", (int)ids[i], i,
                   (int)t->n);
      rc = -1;
    } else rc = piece(t, ids[i], render_special, &o);
  }
  /* SPM's prefix space and WordPiece's word-start mark are not part of the text */
  int strip = !rc && o.n && o.v[0] == ' ' && ((t->kind == TOK_SPM && t->add_space_prefix) || t->kind == TOK_WPM);
  if (!rc && o.n - (size_t)strip > INT_MAX - 1) rc = -1, cg_set_error("cg_detokenize: text longer than INT_MAX");
  if (rc) {
    free(o.v);
    return -1;
  }
  size_t len = o.n - (size_t)strip;
  if (cap) {
    size_t k = len < (size_t)cap - 1 ? len : (size_t)cap - 1;
    memcpy(out, o.v + strip, k);
    out[k] = 0;
  }
  free(o.v);
  return (int)len;
}
