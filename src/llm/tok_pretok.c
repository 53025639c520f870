/* Pre-tokenizers of the byte-level BPE families, chosen by tokenizer.ggml.pre. Each is a list of
   regexes (the patterns of the model's tokenizer.json, as llama.cpp lists them per type) applied
   in turn: every regex splits each current piece into its matches and the text between them, so
   the pieces always cover the text. PCRE2 runs them because the patterns need Unicode
   categories (\p{L}, \p{N}, \p{P}) and lookahead (\s+(?!\S)); without PCRE2 the BPE family
   reports that it was built without it. */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#ifdef CGRAD_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE                                                                                     \
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "  \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE                                                                                      \
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "      \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* DeepSeek-LLM spells its letter, punctuation and CJK classes out as code point ranges. */
#define DSL_LETTERS "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+"
#define DSL_PUNCT "\\s?[!-/:-~！-／：-～‘-‟　-。]+"
#define CJK_RE "[一-龥ࠀ-一가-퟿]+"

typedef struct {
  const char *names; /* '|'-separated tokenizer.ggml.pre values */
  int ignore_merges; /* llama-3 style: a word already in the vocabulary is not merged */
  const char *re[TOK_MAX_REGEX];
} pretok;

static const pretok PRETOKS[] = {
  {"default|", 0, {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]"}},
  {"gpt-2|phi-2|roberta-bpe|jina-es|jina-de|jina-v1-en|jina-v2-es|jina-v2-de|jina-v2-code|gigachat|mpt|olmo|jais",
   0, {GPT2_RE}},
  {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", 0, {"\\p{N}", GPT2_RE}},
  {"falcon", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_RE, "[0-9][0-9][0-9]"}},
  {"deepseek-llm", 0, {"[\\r\\n]", DSL_LETTERS, DSL_PUNCT, "\\s+$", CJK_RE, "\\p{N}+"}},
  {"deepseek-coder", 0, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK_RE, "\\p{N}"}},
  {"llama3|llama-v3|llama-bpe|falcon3|dbrx|smaug-bpe", 1, {LLAMA3_RE}},
  {"qwen2|deepseek-r1-qwen|stablelm2|megrez", 0, {QWEN2_RE}},
};
#define NPRETOK (int)(sizeof PRETOKS / sizeof *PRETOKS)

static int name_in(const char *name, const char *list) {
  size_t n = strlen(name);
  for (const char *p = list;; p++) {
    const char *e = strchr(p, '|');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == n && !memcmp(p, name, n)) return 1;
    if (!e) return 0;
    p = e;
  }
}

static const pretok *find_pretok(const char *name) {
  for (int i = 0; i < NPRETOK; i++)
    if (name_in(name, PRETOKS[i].names)) return &PRETOKS[i];
  return NULL;
}

#ifdef CGRAD_HAVE_PCRE2
int tok_pretok_init(cg_tokenizer *t) {
  const pretok *p = find_pretok(t->pre);
  if (!p) {
    cg_set_error("tokenizer: unknown pre-tokenizer '%s' (tokenizer.ggml.pre)", t->pre);
    return -1;
  }
  t->ignore_merges = p->ignore_merges;
  for (t->nregex = 0; t->nregex < TOK_MAX_REGEX && p->re[t->nregex]; t->nregex++) {
    int err;
    PCRE2_SIZE at;
    /* UCP: \s and friends are Unicode-aware; DOLLAR_ENDONLY: $ is the end of the piece only */
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p->re[t->nregex], PCRE2_ZERO_TERMINATED, opts, &err, &at, NULL);
    if (!re) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      cg_set_error("tokenizer: pre-tokenizer '%s' regex %d: %s at %zu", t->pre, t->nregex, (char *)msg, (size_t)at);
      return -1;
    }
    t->regex[t->nregex] = re;
  }
  return 0;
}

void tok_pretok_free(cg_tokenizer *t) {
  for (int i = 0; i < t->nregex; i++) pcre2_code_free(t->regex[i]);
  t->nregex = 0;
}

typedef struct { tok_span *v; size_t n, cap; } spans;

static int push(spans *a, size_t off, size_t len) {
  if (!len) return 0;
  if (a->n == a->cap) {
    size_t c = a->cap ? 2 * a->cap : 64;
    tok_span *v = realloc(a->v, c * sizeof *v);
    if (!v) {
      cg_set_error("tokenizer: out of memory");
      return -1;
    }
    a->v = v, a->cap = c;
  }
  a->v[a->n++] = (tok_span){off, len};
  return 0;
}

/* Split piece s[off..off+len) by re into out: the text between matches, and each match. */
static int split_piece(const pcre2_code *re, pcre2_match_data *md, const char *s, tok_span piece, spans *out) {
  const PCRE2_SPTR sub = (PCRE2_SPTR)(s + piece.off);
  size_t pos = 0, done = 0;
  while (pos <= piece.len) {
    int rc = pcre2_match(re, sub, piece.len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      cg_set_error("tokenizer: regex match failed (pcre2 error %d)", rc);
      return -1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) { /* an empty match splits nothing; step over one character */
      uint32_t cp;
      int l = tok_utf8_next(sub + ov[0], piece.len - ov[0], &cp);
      pos = ov[0] + (l ? (size_t)l : 1);
      continue;
    }
    if (push(out, piece.off + done, ov[0] - done) || push(out, piece.off + ov[0], ov[1] - ov[0])) return -1;
    done = pos = ov[1];
  }
  return push(out, piece.off + done, piece.len - done);
}

/* Match data is made per call, so threads may share one tokenizer. */
int tok_pretok_split(const cg_tokenizer *t, const char *s, size_t n, tok_span **out, size_t *nout) {
  spans cur = {0}, next = {0};
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  int rc = md ? push(&cur, 0, n) : (cg_set_error("tokenizer: out of memory"), -1);
  for (int r = 0; !rc && r < t->nregex; r++) {
    next.n = 0;
    for (size_t i = 0; !rc && i < cur.n; i++) rc = split_piece(t->regex[r], md, s, cur.v[i], &next);
    spans tmp = cur;
    cur = next, next = tmp;
  }
  free(next.v);
  pcre2_match_data_free(md);
  if (rc) {
    free(cur.v);
    return -1;
  }
  *out = cur.v, *nout = cur.n;
  return 0;
}
#else
int tok_pretok_init(cg_tokenizer *t) {
  cg_set_error("tokenizer: byte-level BPE ('%s' pre-tokenizer) needs regexes, but cgrad was built without PCRE2 "
               "(install libpcre2-dev and rebuild)", t->pre);
  return -1;
}
void tok_pretok_free(cg_tokenizer *t) { (void)t; }
int tok_pretok_split(const cg_tokenizer *t, const char *s, size_t n, tok_span **out, size_t *nout) {
  (void)t, (void)s, (void)n, (void)out, (void)nout;
  cg_set_error("tokenizer: built without PCRE2");
  return -1;
}
#endif
