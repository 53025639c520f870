/* SentencePiece-style BPE (tokenizer.ggml.model "llama": LLaMA 1/2, phi-3, baichuan...): spaces
   become U+2581 "▁" (plus one in front of the text when add_space_prefix), then adjacent pieces
   merge greedily by the score of the piece they form, and a character no piece covers falls back
   to its UTF-8 bytes as <0xXX> tokens. */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"

/* Only ordinary pieces take part in merges: control tokens such as "<s>" or byte tokens such as
   "<0x41>" must not be formed out of plain text (SentencePiece behaves the same way). */
static int is_piece(const cg_tokenizer *t, int32_t id) {
  return id >= 0 && (t->type[id] == TT_NORMAL || t->type[id] == TT_USER || t->type[id] == TT_UNDEFINED);
}

static int spm_prio(const cg_tokenizer *t, const char *a, size_t la, size_t lb, double *p) {
  int32_t id = tok_map_get(&t->vocab, a, la + lb);
  if (!is_piece(t, id)) return -1;
  *p = -(double)t->score[id]; /* highest score merges first */
  return 0;
}

/* Text with every ' ' replaced by "▁", and one "▁" in front when asked. */
static char *escape_spaces(const char *s, size_t n, int prefix, size_t *out_n) {
  size_t spaces = (size_t)prefix;
  for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
  char *e = malloc(n + 2 * spaces + 1);
  if (!e) {
    cg_set_error("tokenizer: out of memory");
    return NULL;
  }
  size_t k = 0;
  if (prefix) memcpy(e, "\xE2\x96\x81", 3), k = 3;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ') memcpy(e + k, "\xE2\x96\x81", 3), k += 3;
    else e[k++] = s[i];
  }
  *out_n = k;
  return e;
}

/* A symbol that is not a piece is written as its bytes (unknown if the vocabulary lacks them). */
static int emit_symbol(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out) {
  int32_t id = tok_map_get(&t->vocab, s, n);
  if (is_piece(t, id)) return tok_ids_push(out, id);
  for (size_t i = 0; i < n; i++) {
    int32_t b = t->byte_id[(unsigned char)s[i]];
    if (b < 0) b = t->unk;
    if (b >= 0 && tok_ids_push(out, b)) return -1;
  }
  return 0;
}

int tok_spm_encode(const cg_tokenizer *t, const char *s, size_t n, int prefix_space, tok_ids *out) {
  size_t en, *off, *len, nsym;
  char *e = escape_spaces(s, n, prefix_space, &en);
  if (!e) return -1;
  int rc = tok_merge(t, e, en, spm_prio, &off, &len, &nsym);
  if (!rc) {
    for (size_t i = 0; !rc && i < nsym; i++)
      if (len[i]) rc = emit_symbol(t, e + off[i], len[i], out);
    free(off), free(len);
  }
  free(e);
  return rc;
}
