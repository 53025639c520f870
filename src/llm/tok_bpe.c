/* Byte-level BPE (tokenizer.ggml.model "gpt2": GPT-2, StarCoder, Falcon, MPT, DeepSeek...): the
   pre-tokenizer splits the text into words, each word's bytes are spelled in GPT-2's printable
   byte alphabet, then adjacent symbols merge in the order of tokenizer.ggml.merges (rank 0
   first) and each final symbol is looked up in the vocabulary. */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"

/* Merges are stored as "left right"; look the pair up by that spelling. */
static int bpe_prio(const cg_tokenizer *t, const char *a, size_t la, size_t lb, double *p) {
  char small[256], *key = small;
  size_t kn = la + lb + 1;
  if (kn > sizeof small && !(key = malloc(kn))) return -1;
  memcpy(key, a, la);
  key[la] = ' ';
  memcpy(key + la + 1, a + la, lb);
  int32_t rank = tok_map_get(&t->merges, key, kn);
  if (key != small) free(key);
  if (rank < 0) return -1;
  *p = rank;
  return 0;
}

/* The word's bytes spelled in the GPT-2 alphabet (each byte becomes 1 or 2 UTF-8 bytes). */
static char *byte_encode(const char *s, size_t n, size_t *out_n) {
  char *e = malloc(2 * n + 1);
  if (!e) {
    cg_set_error("tokenizer: out of memory");
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += (size_t)tok_utf8_put(tok_byte_to_cp((uint8_t)s[i]), e + k);
  *out_n = k;
  return e;
}

/* A final symbol missing from the vocabulary (an incomplete vocabulary) falls back to its
   characters one by one; a character that is not a token either becomes the unknown token. */
static int emit_symbol(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out) {
  int32_t id = tok_map_get(&t->vocab, s, n);
  if (id >= 0) return tok_ids_push(out, id);
  uint32_t cp;
  for (size_t i = 0; i < n;) {
    int l = tok_utf8_next((const unsigned char *)s + i, n - i, &cp);
    if (!l) l = 1;
    id = tok_map_get(&t->vocab, s + i, (size_t)l);
    if (id < 0) id = t->unk;
    if (id >= 0 && tok_ids_push(out, id)) return -1;
    i += (size_t)l;
  }
  return 0;
}

static int encode_word(const cg_tokenizer *t, const char *w, size_t n, tok_ids *out) {
  size_t en, *off, *len, nsym;
  char *e = byte_encode(w, n, &en);
  if (!e) return -1;
  int rc;
  int32_t whole = t->ignore_merges ? tok_map_get(&t->vocab, e, en) : -1;
  if (whole >= 0) rc = tok_ids_push(out, whole); /* llama-3 style: a word in the vocabulary is kept whole */
  else if (!(rc = tok_merge(t, e, en, bpe_prio, &off, &len, &nsym))) {
    for (size_t i = 0; !rc && i < nsym; i++)
      if (len[i]) rc = emit_symbol(t, e + off[i], len[i], out);
    free(off), free(len);
  }
  free(e);
  return rc;
}

int tok_bpe_encode(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out) {
  tok_span *sp;
  size_t nsp;
  if (tok_pretok_split(t, s, n, &sp, &nsp)) return -1;
  int rc = 0;
  for (size_t i = 0; !rc && i < nsp; i++) rc = encode_word(t, s + sp[i].off, sp[i].len, out);
  free(sp);
  return rc;
}
