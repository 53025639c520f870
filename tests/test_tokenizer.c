/* Tokenizers: llama.cpp's tokenizer test vectors (ggml-vocab-*.gguf with .inp/.out) encoded and
   compared id for id, and decoded back where the family is lossless; the llama-spm vectors again
   on llama-2-tiny-random.gguf (same vocabulary, intact in CI); small hand-made vocabularies that
   pin each algorithm's rules; hostile metadata and input that must give clear errors.
   Vocab directory: $CGRAD_VOCAB_DIR, else <repo>/../shared/testdata/llm/vocab. A vocabulary
   file that is absent or rejected by the reader is SKIPPED with its reason printed. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

#ifndef CGRAD_SOURCE_DIR
#define CGRAD_SOURCE_DIR "."
#endif

static char tmp_path[256];

/* ---- reading the test vectors ---- */
static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *b = malloc(cap);
  for (size_t r; b && (r = fread(b + len, 1, cap - 1 - len, f)) > 0;) {
    len += r;
    if (len == cap - 1) b = realloc(b, cap *= 2);
  }
  fclose(f);
  if (b) b[len] = 0;
  *n = len;
  return b;
}

/* Inputs are separated by "\n__ggml_vocab_test__\n" (the file also ends with one). */
static int split_inputs(char *s, size_t n, char **item, size_t *len, int max) {
  static const char sep[] = "\n__ggml_vocab_test__\n";
  int k = 0;
  char *p = s, *end = s + n;
  while (p < end && k < max) {
    char *q = strstr(p, sep);
    if (!q) break;
    item[k] = p, len[k++] = (size_t)(q - p);
    p = q + sizeof sep - 1;
  }
  return k;
}

/* Expected ids: one line per input, empty lines included. */
static int split_lines(char *s, char **line, int max) {
  int k = 0;
  for (char *p = s; p && *p && k < max;) {
    line[k++] = p;
    p = strchr(p, '\n');
    if (p) *p++ = 0;
  }
  return k;
}

static int parse_ids(const char *line, int32_t *ids, int max) {
  int n = 0;
  char *e;
  for (const char *p = line; n < max;) {
    long v = strtol(p, &e, 10);
    if (e == p) break;
    ids[n++] = (int32_t)v, p = e;
  }
  return n;
}

static const char *vocab_dir(void) {
  const char *d = getenv("CGRAD_VOCAB_DIR");
  return d && *d ? d : CGRAD_SOURCE_DIR "/../shared/testdata/llm/vocab";
}

/* Encode every input of `vectors` (.inp/.out prefix) with tk; returns the number that match. */
static int run_vectors(cg_tokenizer *tk, const char *vectors, const char *label, int lossless, int *total) {
  char p[1024];
  size_t ni, no;
  snprintf(p, sizeof p, "%s.inp", vectors);
  char *inp = slurp(p, &ni);
  snprintf(p, sizeof p, "%s.out", vectors);
  char *out = slurp(p, &no);
  enum { MAXV = 256 };
  char *item[MAXV];
  size_t len[MAXV];
  char *line[MAXV];
  int n = inp ? split_inputs(inp, ni, item, len, MAXV) : 0, pass = 0;
  int nl = out ? split_lines(out, line, MAXV) : 0;
  if (n != nl) th_fail(__FILE__, __LINE__, "%s: %d inputs but %d expected lines", label, n, nl);
  *total = n;
  for (int i = 0; i < n && i < nl; i++) {
    int32_t want[512], got[512];
    char back[4096];
    int nw = parse_ids(line[i], want, 512);
    int ng = cg_tokenize(tk, item[i], len[i], 0, 0, got, 512);
    int ok = ng == nw && !memcmp(got, want, (size_t)(ng > 0 ? ng : 0) * sizeof *got);
    if (ok && lossless) {
      int nb = cg_detokenize(tk, got, ng, 0, back, sizeof back);
      ok = nb == (int)len[i] && !memcmp(back, item[i], len[i]);
      if (!ok) th_fail(__FILE__, __LINE__, "%s input %d: decode gives '%.*s'", label, i, nb > 0 ? nb : 0, back);
    } else if (!ok) {
      th_fail(__FILE__, __LINE__, "%s input %d '%.*s': %d ids (want %d) %s", label, i, (int)len[i], item[i], ng, nw,
              ng < 0 ? cg_last_error() : "");
      for (int k = 0; k < ng && k < 40; k++) fprintf(stderr, " %d", (int)got[k]);
      fprintf(stderr, "  (got)\n");
    }
    pass += ok;
  }
  free(inp), free(out);
  return pass;
}

/* The shared copies were damaged by a lossy UTF-8 decode (bad bytes became EF BF BD); an intact
   file that fails to load is a bug, not a skip. */
static int has_fffd(const char *path) {
  size_t n;
  char *b = slurp(path, &n);
  int found = b && memmem(b, n, "\xEF\xBF\xBD", 3) != NULL;
  free(b);
  return found;
}

/* Lossless families: SentencePiece and byte-level BPE decode back to the input exactly. */
static void check_vocab(const char *name) {
  char gg[1024], vec[1024];
  snprintf(gg, sizeof gg, "%s/ggml-vocab-%s.gguf", vocab_dir(), name);
  snprintf(vec, sizeof vec, "%s/ggml-vocab-%s.gguf", vocab_dir(), name);
  if (access(gg, R_OK)) {
    printf("SKIP %s: absent\n", gg);
    return;
  }
  cg_clear_error();
  cg_tokenizer *tk = cg_tokenizer_load(gg);
  if (!tk) {
    int damaged = has_fffd(gg), unbuilt = strstr(cg_last_error(), "built without") != NULL;
    printf("SKIP %s: rejected (%s)%s\n", gg, cg_last_error(), damaged ? " [contains U+FFFD: damaged copy]" : "");
    if (!damaged && !unbuilt) th_fail(__FILE__, __LINE__, "intact %s fails to load: %s", gg, cg_last_error());
    return;
  }
  int total, lossless = strcmp(name, "bert-bge") != 0; /* WordPiece lowercases and drops accents */
  int pass = run_vectors(tk, vec, name, lossless, &total);
  printf("%-15s %d/%d vectors pass\n", name, pass, total);
  CHECK(total > 0);
  cg_tokenizer_free(tk);
}

static void test_tokenizer_vectors(void) {
  static const char *names[] = {"bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                "llama-spm", "mpt", "phi-3", "refact", "starcoder"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) check_vocab(names[i]);
}

/* The same LLaMA-2 vocabulary, from a whole (intact) model file, against the llama-spm vectors. */
static void test_tokenizer_spm_tiny_random(void) {
  const char *gg = CGRAD_SOURCE_DIR "/../shared/testdata/llm/llama-2-tiny-random.gguf";
  char vec[1024], inp[1100];
  snprintf(vec, sizeof vec, "%s/ggml-vocab-llama-spm.gguf", vocab_dir());
  snprintf(inp, sizeof inp, "%s.inp", vec);
  if (access(gg, R_OK) || access(inp, R_OK)) {
    printf("SKIP llama-2-tiny-random: %s absent\n", access(gg, R_OK) ? gg : inp);
    return;
  }
  cg_tokenizer *tk = cg_tokenizer_load(gg);
  CHECK(tk != NULL);
  if (!tk) return;
  int total, pass = run_vectors(tk, vec, "llama-2-tiny-random", 1, &total);
  printf("llama-2-tiny-random (llama-spm vectors) %d/%d vectors pass\n", pass, total);
  CHECK(total > 0);
  int32_t ids[16];
  CHECK_EQ_INT(cg_tokenize(tk, "Hello", 5, 1, 0, ids, 16), 2); /* BOS + "▁Hello" */
  CHECK_EQ_INT(ids[0], 1);
  CHECK_EQ_INT(ids[1], 15043);
  cg_tokenizer_free(tk);
}

/* ---- hand-made GGUF vocabularies ---- */
typedef struct { unsigned char *b; size_t n, cap; uint64_t nkv; } wbuf;
static void put(wbuf *w, const void *p, size_t n) {
  if (w->n + n > w->cap) w->b = realloc(w->b, w->cap = 2 * (w->n + n) + 256);
  memcpy(w->b + w->n, p, n), w->n += n;
}
static void u32(wbuf *w, uint32_t v) { for (int i = 0; i < 4; i++) put(w, &(uint8_t){(uint8_t)(v >> 8 * i)}, 1); }
static void u64(wbuf *w, uint64_t v) { for (int i = 0; i < 8; i++) put(w, &(uint8_t){(uint8_t)(v >> 8 * i)}, 1); }
static void str(wbuf *w, const char *s) { u64(w, strlen(s)), put(w, s, strlen(s)); }
static void key(wbuf *w, const char *k, uint32_t type) { str(w, k), u32(w, type), w->nkv++; }
static void kv_str(wbuf *w, const char *k, const char *v) { key(w, k, 8), str(w, v); }
static void kv_u32(wbuf *w, const char *k, uint32_t v) { key(w, k, 4), u32(w, v); }
static void kv_bool(wbuf *w, const char *k, int v) { key(w, k, 7), put(w, &(uint8_t){(uint8_t)v}, 1); }
static void kv_strs(wbuf *w, const char *k, const char *const *v, int n) {
  key(w, k, 9), u32(w, 8), u64(w, (uint64_t)n);
  for (int i = 0; i < n; i++) str(w, v[i]);
}
static void kv_nums(wbuf *w, const char *k, uint32_t type, const void *v, int n) { /* int32 (5) or float32 (6) */
  key(w, k, 9), u32(w, type), u64(w, (uint64_t)n);
  for (int i = 0; i < n; i++) u32(w, ((const uint32_t *)v)[i]);
}
static void begin(wbuf *w) { w->n = 0, w->nkv = 0, u32(w, 0x46554747u), u32(w, 3), u64(w, 0), u64(w, 0); }
/* Patch the kv count, write the file, load its tokenizer. */
static cg_tokenizer *finish(wbuf *w, size_t keep) {
  for (int i = 0; i < 8; i++) w->b[16 + i] = (uint8_t)(w->nkv >> 8 * i);
  unlink(tmp_path); /* a fresh file: ext4 flushes a truncated-and-rewritten one on close (slow) */
  FILE *f = fopen(tmp_path, "wb");
  fwrite(w->b, 1, keep < w->n ? keep : w->n, f);
  fclose(f);
  cg_clear_error();
  return cg_tokenizer_load(tmp_path);
}

/* SPM: ids 0 <unk>, 1 <s>, 2 </s>, 3 <0xC3>, 4 <0xA9>, then pieces with scores. */
static const char *SPM_TOK[] = {"<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "\xE2\x96\x81", "a", "b", "c", "ab", "bc",
                                "\xE2\x96\x81" "a", "\xE2\x96\x81" "ab"};
static const float SPM_SCORE[] = {0, 0, 0, 0, 0, -5, -6, -6, -6, -1, -2, -3, -0.5f};
static const int32_t SPM_TYPE[] = {2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1};
#define NSPM 13
static void spm_file(wbuf *w, int n_scores) {
  begin(w);
  kv_str(w, "tokenizer.ggml.model", "llama");
  kv_strs(w, "tokenizer.ggml.tokens", SPM_TOK, NSPM);
  kv_nums(w, "tokenizer.ggml.scores", 6, SPM_SCORE, n_scores);
  kv_nums(w, "tokenizer.ggml.token_type", 5, SPM_TYPE, NSPM);
  kv_bool(w, "tokenizer.ggml.add_eos_token", 1);
}

static void test_tokenizer_spm_rules(void) {
  wbuf w = {0};
  spm_file(&w, NSPM);
  cg_tokenizer *tk = finish(&w, SIZE_MAX);
  CHECK(tk != NULL);
  if (!tk) return;
  int32_t ids[16];
  /* "▁abc": "ab" (-1) beats "bc" (-2) and "▁a" (-3); then "▁ab" (-0.5) forms; c stays */
  CHECK_EQ_INT(cg_tokenize(tk, "abc", 3, 0, 0, ids, 16), 2);
  CHECK(ids[0] == 12 && ids[1] == 8);
  /* add_special: BOS (default for SPM) and EOS (add_eos_token); the count is returned in full
     even when the buffer is smaller, and only the buffer is written */
  ids[1] = -7;
  CHECK_EQ_INT(cg_tokenize(tk, "abc", 3, 1, 0, ids, 1), 4);
  CHECK(ids[0] == 1 && ids[1] == -7);
  /* é has no piece: byte fallback to <0xC3> <0xA9> */
  CHECK_EQ_INT(cg_tokenize(tk, "\xC3\xA9", 2, 0, 0, ids, 16), 3);
  CHECK(ids[0] == 5 && ids[1] == 3 && ids[2] == 4);
  /* "<s>" is BOS only with parse_special; the text after a special gets the prefix space again */
  CHECK_EQ_INT(cg_tokenize(tk, "<s>ab", 5, 0, 1, ids, 16), 2);
  CHECK(ids[0] == 1 && ids[1] == 12);
  int n = cg_tokenize(tk, "<s>ab", 5, 0, 0, ids, 16);
  CHECK(n > 2 && ids[0] != 1);
  /* decode: "▁" is a space (the prefix one dropped), byte tokens are bytes, <s> only on request */
  char out[64];
  int32_t seq[] = {1, 12, 8, 5, 3, 4};
  CHECK_EQ_INT(cg_detokenize(tk, seq, 6, 0, out, sizeof out), 6);
  CHECK(!strcmp(out, "abc \xC3\xA9"));
  CHECK_EQ_INT(cg_detokenize(tk, seq, 6, 1, out, sizeof out), 10);
  CHECK(!strcmp(out, "<s> abc \xC3\xA9"));
  CHECK_EQ_INT(cg_detokenize(tk, seq, 6, 1, out, 4), 10); /* truncated, NUL-terminated */
  CHECK(!strcmp(out, "<s>"));
  CHECK_EQ_INT(cg_tokenize(tk, "", 0, 0, 0, ids, 16), 0);
  CHECK_EQ_INT(cg_tokenizer_vocab_size(tk), NSPM);
  CHECK(cg_tokenizer_bos(tk) == 1 && cg_tokenizer_eos(tk) == 2);
  cg_tokenizer_free(tk);
  free(w.b);
}

/* Byte-level BPE: merges apply by rank; a space is "Ġ" (U+0120) in the byte alphabet. */
static void test_tokenizer_bpe_rules(void) {
  static const char *tok[] = {"a", "b", "c", "ab", "abc", "\xC4\xA0", "\xC4\xA0" "a", "<|endoftext|>"};
  static const int32_t type[] = {1, 1, 1, 1, 1, 1, 1, 3};
  static const char *merges[] = {"a b", "ab c", "\xC4\xA0 a"};
  wbuf w = {0};
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "gpt2");
  kv_str(&w, "tokenizer.ggml.pre", "gpt-2");
  kv_strs(&w, "tokenizer.ggml.tokens", tok, 8);
  kv_nums(&w, "tokenizer.ggml.token_type", 5, type, 8);
  kv_strs(&w, "tokenizer.ggml.merges", merges, 3);
  kv_u32(&w, "tokenizer.ggml.eos_token_id", 7);
  cg_tokenizer *tk = finish(&w, SIZE_MAX);
  free(w.b);
  if (!tk && strstr(cg_last_error(), "PCRE2")) {
    printf("SKIP bpe rules: %s\n", cg_last_error());
    return;
  }
  CHECK(tk != NULL);
  if (!tk) return;
  int32_t ids[16];
  /* "abc" -> a b c -> ab c -> abc; " ab" -> Ġ a b: "a b" (rank 0) before "Ġ a" (rank 2) -> Ġ ab */
  CHECK_EQ_INT(cg_tokenize(tk, "abc ab", 6, 0, 0, ids, 16), 3);
  CHECK(ids[0] == 4 && ids[1] == 5 && ids[2] == 3);
  CHECK_EQ_INT(cg_tokenize(tk, "a<|endoftext|>", 14, 0, 1, ids, 16), 2);
  CHECK(ids[0] == 0 && ids[1] == 7);
  char out[64];
  CHECK_EQ_INT(cg_detokenize(tk, ids, 2, 0, out, sizeof out), 1);
  int32_t seq[] = {4, 5, 3};
  CHECK_EQ_INT(cg_detokenize(tk, seq, 3, 0, out, sizeof out), 6);
  CHECK(!strcmp(out, "abc ab"));
  cg_tokenizer_free(tk);
}

/* WordPiece: lowercase, accents stripped, punctuation split, longest match, [UNK], [CLS]/[SEP]. */
static void test_tokenizer_wpm_rules(void) {
  static const char *tok[] = {"[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81hello", "\xE2\x96\x81hel", "lo",
                              "\xE2\x96\x81,", "\xE2\x96\x81" "cafe", "\xE2\x96\x81" "caf", "e"};
  static const int32_t type[] = {3, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  wbuf w = {0};
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "bert");
  kv_strs(&w, "tokenizer.ggml.tokens", tok, 10);
  kv_nums(&w, "tokenizer.ggml.token_type", 5, type, 10);
  kv_u32(&w, "tokenizer.ggml.unknown_token_id", 0);
  kv_u32(&w, "tokenizer.ggml.cls_token_id", 1);
  kv_u32(&w, "tokenizer.ggml.seperator_token_id", 2);
  cg_tokenizer *tk = finish(&w, SIZE_MAX);
  free(w.b);
  if (!tk && strstr(cg_last_error(), "utf8proc")) {
    printf("SKIP wordpiece rules: %s\n", cg_last_error());
    return;
  }
  CHECK(tk != NULL);
  if (!tk) return;
  int32_t ids[16];
  const char *text = "H\xC3\xA9llo, CAF\xC3\x89 xyz helloe";
  int n = cg_tokenize(tk, text, strlen(text), 1, 0, ids, 16);
  int32_t want[] = {1, 3, 6, 7, 0, 3, 9, 2}; /* "helloe": ▁hello + e, not ▁hel + lo + e */
  CHECK_EQ_INT(n, 8);
  CHECK(n == 8 && !memcmp(ids, want, sizeof want));
  char out[64];
  CHECK(cg_detokenize(tk, want + 1, 3, 0, out, sizeof out) > 0 && !strcmp(out, "hello , cafe"));
  cg_tokenizer_free(tk);
}

/* Hostile or incomplete metadata and bad input: a clear error, never a crash. */
static void expect_load_error(wbuf *w, const char *msg) {
  cg_tokenizer *tk = finish(w, SIZE_MAX);
  CHECK(tk == NULL);
  if (!strstr(cg_last_error(), msg)) th_fail(__FILE__, __LINE__, "error '%s' lacks '%s'", cg_last_error(), msg);
  cg_tokenizer_free(tk);
}

static void test_tokenizer_bad_metadata(void) {
  wbuf w = {0};
  begin(&w);
  kv_strs(&w, "tokenizer.ggml.tokens", SPM_TOK, NSPM);
  expect_load_error(&w, "tokenizer.ggml.model");
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "t5");
  expect_load_error(&w, "unsupported tokenizer model 't5'");
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "llama");
  kv_nums(&w, "tokenizer.ggml.tokens", 5, SPM_TYPE, NSPM);
  expect_load_error(&w, "not an array of strings");
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "llama");
  kv_strs(&w, "tokenizer.ggml.tokens", SPM_TOK, 0);
  expect_load_error(&w, "vocabulary size");
  spm_file(&w, NSPM - 1);
  expect_load_error(&w, "tokenizer.ggml.scores has 12 entries for 13 tokens");
  spm_file(&w, NSPM);
  kv_u32(&w, "tokenizer.ggml.bos_token_id", 13);
  expect_load_error(&w, "outside the vocabulary");
  spm_file(&w, NSPM);
  kv_str(&w, "tokenizer.ggml.add_bos_token", "yes");
  expect_load_error(&w, "not an integer");
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "gpt2");
  kv_strs(&w, "tokenizer.ggml.tokens", SPM_TOK, NSPM);
  expect_load_error(&w, "tokenizer.ggml.merges");
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "gpt2");
  kv_strs(&w, "tokenizer.ggml.tokens", SPM_TOK, NSPM);
  kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"ab"}, 1);
  expect_load_error(&w, "no space");
  begin(&w);
  kv_str(&w, "tokenizer.ggml.model", "gpt2");
  kv_str(&w, "tokenizer.ggml.pre", "no-such-pre");
  kv_strs(&w, "tokenizer.ggml.tokens", SPM_TOK, NSPM);
  kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"a b"}, 1);
  cg_tokenizer *tk = finish(&w, SIZE_MAX);
  CHECK(tk == NULL && (strstr(cg_last_error(), "unknown pre-tokenizer 'no-such-pre'") || strstr(cg_last_error(), "PCRE2")));
  /* every truncation of a valid file fails cleanly */
  spm_file(&w, NSPM);
  for (size_t keep = 0; keep < w.n; keep += 7) {
    tk = finish(&w, keep);
    CHECK(tk == NULL && cg_last_error()[0]);
    cg_tokenizer_free(tk);
  }
  CHECK(cg_tokenizer_load("/nonexistent/vocab.gguf") == NULL && strstr(cg_last_error(), "/nonexistent/vocab.gguf"));
  CHECK(cg_tokenizer_from_gguf(NULL) == NULL);
  free(w.b);
}

/* Every byte of a small vocabulary file mutated in turn: load fails cleanly or the tokenizer works
   (ASan/UBSan builds run this too). */
static void test_tokenizer_mutated_files(void) {
  wbuf w = {0};
  spm_file(&w, NSPM);
  kv_str(&w, "tokenizer.ggml.pre", "gpt-2");
  kv_strs(&w, "tokenizer.ggml.merges", (const char *[]){"a b", "ab c"}, 2);
  int loaded = 0, rejected = 0;
  for (size_t i = 0; i < w.n; i++)
    for (int v = 0; v < 3; v++) {
      unsigned char old = w.b[i];
      w.b[i] = v == 0 ? (unsigned char)~old : v == 1 ? 0 : (unsigned char)(old + 1);
      cg_tokenizer *tk = finish(&w, SIZE_MAX);
      w.b[i] = old;
      if (!tk) {
        rejected++;
        CHECK(cg_last_error()[0] != 0);
        continue;
      }
      loaded++;
      int32_t ids[64];
      char out[256];
      int n = cg_tokenize(tk, "abc \xC3\xA9<s>ab", 11, 1, 1, ids, 64);
      if (n >= 0 && n <= 64) CHECK(cg_detokenize(tk, ids, n, 1, out, sizeof out) >= 0);
      cg_tokenizer_free(tk);
    }
  printf("mutations: %d loaded, %d rejected\n", loaded, rejected);
  CHECK(loaded > 0 && rejected > 0);
  free(w.b);
}

static void test_tokenizer_bad_input(void) {
  wbuf w = {0};
  spm_file(&w, NSPM);
  cg_tokenizer *tk = finish(&w, SIZE_MAX);
  free(w.b);
  CHECK(tk != NULL);
  if (!tk) return;
  int32_t ids[8];
  char out[8];
  static const char *bad[] = {"a\xFF", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ab\x80"};
  for (int i = 0; i < 6; i++) {
    CHECK_EQ_INT(cg_tokenize(tk, bad[i], strlen(bad[i]), 1, 1, ids, 8), -1);
    CHECK(strstr(cg_last_error(), "not valid UTF-8") != NULL);
  }
  CHECK_EQ_INT(cg_tokenize(NULL, "a", 1, 0, 0, ids, 8), -1);
  CHECK_EQ_INT(cg_tokenize(tk, NULL, 1, 0, 0, ids, 8), -1);
  CHECK_EQ_INT(cg_tokenize(tk, "a", 1, 0, 0, NULL, 8), -1);
  CHECK_EQ_INT(cg_tokenize(tk, "ab", 2, 0, 0, NULL, 0), 1); /* counting only */
  CHECK_EQ_INT(cg_detokenize(tk, (int32_t[]){5, 13}, 2, 0, out, 8), -1);
  CHECK(strstr(cg_last_error(), "outside the vocabulary") != NULL);
  CHECK_EQ_INT(cg_detokenize(tk, (int32_t[]){-1}, 1, 0, out, 8), -1);
  CHECK(cg_tokenizer_token_text(tk, 13) == NULL && !strcmp(cg_tokenizer_token_text(tk, 1), "<s>"));
  cg_tokenizer_free(tk);
}

int main(int argc, char **argv) {
  snprintf(tmp_path, sizeof tmp_path, "/tmp/cgrad-tok-%d.gguf", (int)getpid());
  static const th_test tests[] = {
    {"tokenizer_vectors", test_tokenizer_vectors},
    {"tokenizer_spm_tiny_random", test_tokenizer_spm_tiny_random},
    {"tokenizer_spm_rules", test_tokenizer_spm_rules},
    {"tokenizer_bpe_rules", test_tokenizer_bpe_rules},
    {"tokenizer_wpm_rules", test_tokenizer_wpm_rules},
    {"tokenizer_bad_metadata", test_tokenizer_bad_metadata},
    {"tokenizer_bad_input", test_tokenizer_bad_input},
    {"tokenizer_mutated_files", test_tokenizer_mutated_files},
    {NULL, NULL}};
  int rc = th_run(tests, argc, argv);
  unlink(tmp_path);
  return rc;
}
