/* WordPiece (tokenizer.ggml.model "bert"): BERT's basic tokenization, then greedy longest-match
   subwords. GGUF stores the vocabulary with "▁" in front of word-initial pieces and continuation
   pieces bare (HF's "##x" is "x"), so a word w is matched as the string "▁" + w.
   Normalization needs Unicode tables (NFD decomposition, lowercase, general categories); they
   come from utf8proc, a small C library, rather than ICU, whose C++ runtime and 30 MB data
   library would be the biggest dependency of the project for three table lookups. */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#ifdef CGRAD_HAVE_UTF8PROC
#include <utf8proc.h>

static int is_space(uint32_t c, int cat) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || cat == UTF8PROC_CATEGORY_ZS ||
         cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}
static int is_control(uint32_t c, int cat) {
  return c == 0 || c == 0xFFFD || cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS || cat == UTF8PROC_CATEGORY_CN;
}
/* BERT splits every punctuation character off, ASCII symbols such as $ + < = > ^ ` | ~ included. */
static int is_punct(uint32_t c, int cat) {
  int p = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
  int s = cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
  return p || (c < 0x7F && s);
}
/* The CJK ideograph blocks of BERT's _is_chinese_char (each ideograph is a word of its own). */
static int is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Greedy longest match of "▁" + word; a word with an unmatched position becomes [UNK]. */
static int wordpiece(const cg_tokenizer *t, const char *w, size_t n, tok_ids *out) {
  size_t start = out->n;
  for (size_t i = 0; i < n;) {
    size_t j = n - i < (size_t)t->max_len ? n : i + (size_t)t->max_len;
    int32_t id = -1;
    for (; j > i && (id = tok_map_get(&t->vocab, w + i, j - i)) < 0; j--) {}
    if (id < 0) {
      out->n = start;
      break;
    }
    if (tok_ids_push(out, id)) return -1;
    i = j;
  }
  return out->n == start && t->unk >= 0 ? tok_ids_push(out, t->unk) : 0;
}

/* Words accumulate in `word` (starting with "▁"); flush ends the current one. */
static int flush(const cg_tokenizer *t, tok_str *word, tok_ids *out) {
  int rc = word->n > 3 ? wordpiece(t, word->v, word->n, out) : 0;
  word->n = 0;
  return rc ? rc : tok_str_put(word, "\xE2\x96\x81", 3);
}

static int basic_and_wordpiece(const cg_tokenizer *t, const uint8_t *s, size_t n, tok_ids *out) {
  tok_str word = {0};
  int rc = tok_str_put(&word, "\xE2\x96\x81", 3);
  for (size_t i = 0; !rc && i < n;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t l = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
    if (l <= 0) break; /* cannot happen: utf8proc produced this text from validated input */
    i += (size_t)l;
    int cat = utf8proc_category(c);
    char buf[4];
    if (is_space((uint32_t)c, cat)) rc = flush(t, &word, out);
    else if (is_control((uint32_t)c, cat) || cat == UTF8PROC_CATEGORY_MN) continue; /* Mn: accents, after NFD */
    else if (is_punct((uint32_t)c, cat) || is_cjk((uint32_t)c)) {
      int l = tok_utf8_put((uint32_t)utf8proc_tolower(c), buf);
      rc = flush(t, &word, out);
      if (!rc) rc = tok_str_put(&word, buf, (size_t)l);
      if (!rc) rc = flush(t, &word, out);
    } else rc = tok_str_put(&word, buf, (size_t)tok_utf8_put((uint32_t)utf8proc_tolower(c), buf));
  }
  if (!rc) rc = flush(t, &word, out);
  free(word.v);
  return rc;
}

int tok_wpm_available(void) { return 0; }

int tok_wpm_encode(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out) {
  utf8proc_uint8_t *nfd = NULL;
  utf8proc_ssize_t m = n ? utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &nfd,
                                        UTF8PROC_DECOMPOSE | UTF8PROC_STABLE)
                         : 0;
  if (m < 0) {
    cg_set_error("tokenizer: NFD normalization failed: %s", utf8proc_errmsg(m));
    return -1;
  }
  int rc = basic_and_wordpiece(t, nfd, (size_t)m, out);
  free(nfd);
  return rc;
}
#else
int tok_wpm_available(void) {
  cg_set_error("tokenizer: WordPiece (bert) needs Unicode normalization, but cgrad was built without utf8proc "
               "(install libutf8proc-dev and rebuild)");
  return -1;
}
int tok_wpm_encode(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out) {
  (void)t, (void)s, (void)n, (void)out;
  return tok_wpm_available();
}
#endif
