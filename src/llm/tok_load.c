/* Reading a tokenizer out of GGUF metadata (the tokenizer.ggml.* keys): the vocabulary, its
   types and scores, BPE merges, special token ids and flags. Every array length and id is
   checked, so hostile metadata gives an error naming the key, never an out-of-range access.
   Defaults per family follow llama.cpp, so files that omit a key behave the same there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"

#define KEY(k) "tokenizer.ggml." k

static int fail(const char *what, const char *key) {
  cg_set_error("tokenizer: %s%s%s", what, key ? ": " : "", key ? key : "");
  return -1;
}

static void *alloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) cg_set_error("tokenizer: out of memory");
  return p;
}

/* An optional per-token array must have one entry per token. */
static int optional_array(const cg_gguf *f, const char *key, int64_t n) {
  if (cg_gguf_find_key(f, key) < 0) return 0;
  int64_t len = cg_gguf_array_len(f, key);
  if (len < 0) return -1;
  if (len != n) {
    cg_set_error("tokenizer: %s has %lld entries for %lld tokens", key, (long long)len, (long long)n);
    return -1;
  }
  return 1;
}

static int load_texts(cg_tokenizer *t, const cg_gguf *f) {
  int64_t n = cg_gguf_array_len(f, KEY("tokens"));
  if (n < 0) return -1;
  if (n == 0 || n > INT32_MAX) return fail("vocabulary size out of range", KEY("tokens"));
  t->n = (int32_t)n;
  size_t total = 0;
  for (int32_t i = 0; i < t->n; i++) {
    const char *s = cg_gguf_array_string(f, KEY("tokens"), i);
    if (!s) return -1;
    total += strlen(s) + 1;
  }
  t->arena = alloc(total, 1);
  t->text = alloc((size_t)n, sizeof *t->text);
  t->len = alloc((size_t)n, sizeof *t->len);
  if (!t->arena || !t->text || !t->len || tok_map_init(&t->vocab, (size_t)n)) return -1;
  char *p = t->arena;
  for (int32_t i = 0; i < t->n; i++) {
    const char *s = cg_gguf_array_string(f, KEY("tokens"), i);
    size_t l = strlen(s);
    memcpy(p, s, l + 1);
    t->text[i] = p, t->len[i] = (uint32_t)l;
    if (l) tok_map_put(&t->vocab, p, (uint32_t)l, i); /* a repeated text maps to its last id */
    if ((int)l > t->max_len) t->max_len = (int)l;
    p += l + 1;
  }
  return 0;
}

static int load_types_scores(cg_tokenizer *t, const cg_gguf *f) {
  t->type = alloc((size_t)t->n, 1);
  t->rstrip = alloc((size_t)t->n, 1);
  t->score = alloc((size_t)t->n, sizeof *t->score);
  if (!t->type || !t->rstrip || !t->score) return -1;
  int has_types = optional_array(f, KEY("token_type"), t->n), has_scores = optional_array(f, KEY("scores"), t->n);
  if (has_types < 0 || has_scores < 0) return -1;
  for (int32_t i = 0; i < t->n; i++) {
    int64_t ty = TT_NORMAL;
    double sc = 0;
    if (has_types && cg_gguf_array_int(f, KEY("token_type"), i, &ty)) return -1;
    if (has_scores && cg_gguf_array_float(f, KEY("scores"), i, &sc)) return -1;
    t->type[i] = ty >= TT_NORMAL && ty <= TT_BYTE ? (uint8_t)ty : TT_UNDEFINED;
    t->score[i] = (float)sc;
  }
  return 0;
}

static int load_merges(cg_tokenizer *t, const cg_gguf *f) {
  int64_t n = cg_gguf_array_len(f, KEY("merges"));
  if (n < 0) return -1;
  if (n > INT32_MAX) return fail("too many merges", KEY("merges"));
  size_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    const char *s = cg_gguf_array_string(f, KEY("merges"), i);
    if (!s) return -1;
    total += strlen(s) + 1;
  }
  if (!(t->merge_arena = alloc(total, 1)) || tok_map_init(&t->merges, (size_t)n)) return -1;
  char *p = t->merge_arena;
  for (int64_t i = 0; i < n; i++) {
    const char *s = cg_gguf_array_string(f, KEY("merges"), i);
    size_t l = strlen(s);
    if (!strchr(s + (l > 0), ' ')) {
      cg_set_error("tokenizer: merge %lld ('%s') has no space between its two parts", (long long)i, s);
      return -1;
    }
    memcpy(p, s, l + 1);
    if (tok_map_get(&t->merges, p, l) < 0) tok_map_put(&t->merges, p, (uint32_t)l, (int32_t)i); /* first rank wins */
    p += l + 1;
  }
  return 0;
}

/* An optional id key; a present one must name a token. */
static int special_id(const cg_tokenizer *t, const cg_gguf *f, const char *key, int32_t *id) {
  if (*id >= t->n) *id = -1; /* a family default the vocabulary is too small for */
  if (cg_gguf_find_key(f, key) < 0) return 0;
  int64_t v;
  if (cg_gguf_get_int(f, key, &v)) return -1;
  if (v < 0 || v >= t->n) {
    cg_set_error("tokenizer: %s = %lld is outside the vocabulary (%d tokens)", key, (long long)v, (int)t->n);
    return -1;
  }
  *id = (int32_t)v;
  return 0;
}

static int flag(const cg_gguf *f, const char *key, int *out) {
  int64_t v;
  if (cg_gguf_find_key(f, key) < 0) return 0;
  if (cg_gguf_get_int(f, key, &v)) return -1;
  *out = v != 0;
  return 0;
}

/* Family defaults (llama.cpp's), then the file's own keys. */
static int load_specials(cg_tokenizer *t, const cg_gguf *f) {
  int32_t cls = 101;
  t->bos = t->eos = t->unk = t->sep = t->pad = -1;
  if (t->kind == TOK_SPM) t->bos = 1, t->eos = 2, t->unk = 0, t->add_bos = 1, t->add_space_prefix = 1;
  if (t->kind == TOK_BPE) t->bos = 11, t->eos = 11;
  if (t->kind == TOK_WPM) t->unk = 100, t->sep = 102, t->pad = 0, t->add_bos = 1;
  if (special_id(t, f, KEY("bos_token_id"), &t->bos) || special_id(t, f, KEY("eos_token_id"), &t->eos) ||
      special_id(t, f, KEY("unknown_token_id"), &t->unk) || special_id(t, f, KEY("seperator_token_id"), &t->sep) ||
      special_id(t, f, KEY("padding_token_id"), &t->pad) || special_id(t, f, KEY("cls_token_id"), &cls))
    return -1;
  if (t->kind == TOK_WPM) t->bos = cls; /* BERT's "BOS" is [CLS]; [SEP] closes the input */
  if (flag(f, KEY("add_bos_token"), &t->add_bos) || flag(f, KEY("add_eos_token"), &t->add_eos) ||
      flag(f, KEY("add_space_prefix"), &t->add_space_prefix))
    return -1;
  return 0;
}

static int cmp_len_desc(const void *a, const void *b, void *ctx) {
  const uint32_t *len = ctx;
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return len[x] != len[y] ? (len[x] < len[y] ? 1 : -1) : (x > y) - (x < y);
}

/* Control, user-defined and unknown tokens are found in the raw text before anything else,
   longest first. Phi-3's specials swallow the whitespace after them, as its HF config says. */
static int collect_specials(cg_tokenizer *t, const cg_gguf *f) {
  if (!(t->specials = alloc((size_t)t->n, sizeof *t->specials))) return -1;
  for (int32_t i = 0; i < t->n; i++)
    if (t->len[i] && (t->type[i] == TT_CONTROL || t->type[i] == TT_USER || t->type[i] == TT_UNKNOWN))
      t->specials[t->nspecials++] = i;
  qsort_r(t->specials, (size_t)t->nspecials, sizeof *t->specials, cmp_len_desc, t->len);
  const char *name = cg_gguf_find_key(f, "general.name") >= 0 ? cg_gguf_get_string(f, "general.name") : NULL;
  if (name && (strcasestr(name, "phi-3") || strcasestr(name, "phi3"))) {
    for (int i = 0; i < t->nspecials; i++) t->rstrip[t->specials[i]] = 1;
    static const char *keep[] = {"<unk>", "<s>", "<|endoftext|>"};
    for (int k = 0; k < 3; k++) {
      int32_t id = tok_map_get(&t->vocab, keep[k], strlen(keep[k]));
      if (id >= 0) t->rstrip[id] = 0;
    }
  }
  return 0;
}

/* SPM byte fallback: <0xXX> tokens (or, lacking one, the byte itself as a one-character token). */
static void byte_tokens(cg_tokenizer *t) {
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    t->byte_id[b] = tok_map_get(&t->vocab, name, 6);
    char c = (char)b;
    if (t->byte_id[b] < 0 && b < 0x80) t->byte_id[b] = tok_map_get(&t->vocab, &c, 1);
  }
}

int tok_load(cg_tokenizer *t, const cg_gguf *f) {
  const char *model = cg_gguf_get_string(f, KEY("model"));
  if (!model) return -1;
  if (!strcmp(model, "llama")) t->kind = TOK_SPM;
  else if (!strcmp(model, "gpt2")) t->kind = TOK_BPE;
  else if (!strcmp(model, "bert")) t->kind = TOK_WPM;
  else {
    cg_set_error("tokenizer: unsupported tokenizer model '%s' (supported: llama, gpt2, bert)", model);
    return -1;
  }
  if (load_texts(t, f) || load_types_scores(t, f) || load_specials(t, f) || collect_specials(t, f)) return -1;
  byte_tokens(t);
  if (t->kind == TOK_WPM) return tok_wpm_available();
  if (t->kind != TOK_BPE) return 0;
  const char *pre = cg_gguf_find_key(f, KEY("pre")) >= 0 ? cg_gguf_get_string(f, KEY("pre")) : "default";
  if (!pre) return -1;
  snprintf(t->pre, sizeof t->pre, "%s", pre);
  return load_merges(t, f) || tok_pretok_init(t);
}
