/* Tokenizer internals shared by the files of src/llm/tok_*.c. The public face is cg_tokenizer in
   cgrad.h; everything here is private to the tokenizer. Ids are int32 (vocabularies are < 2^31).
   After loading, a tokenizer is only read, so threads may encode with one tokenizer at once. */
#ifndef CG_TOK_INTERNAL_H
#define CG_TOK_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "cgrad.h"

/* Token types as GGUF stores them in tokenizer.ggml.token_type (llama.cpp's numbering). */
enum { TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };
/* Tokenizer families, from tokenizer.ggml.model. */
enum { TOK_SPM, TOK_BPE, TOK_WPM };
#define TOK_MAX_REGEX 8

/* ---- string -> int32 hash map (open addressing; keys point into memory owned elsewhere) ---- */
typedef struct { const char *s; uint32_t len; int32_t val; } tok_slot;
typedef struct { tok_slot *slots; uint32_t cap; } tok_map;
int tok_map_init(tok_map *m, size_t n);          /* room for n keys; -1 (error set) on OOM */
/* Insert s[0..len) -> val; a key inserted again takes the later value (as llama.cpp's map does). */
void tok_map_put(tok_map *m, const char *s, uint32_t len, int32_t val);
int32_t tok_map_get(const tok_map *m, const char *s, size_t len);  /* value, or -1 */
void tok_map_free(tok_map *m);

/* ---- growable buffers ---- */
typedef struct { int32_t *v; size_t n, cap; } tok_ids;
typedef struct { char *v; size_t n, cap; } tok_str;
int tok_ids_push(tok_ids *a, int32_t id);        /* -1 (error set) on OOM */
int tok_str_put(tok_str *s, const char *p, size_t n);

/* ---- UTF-8 ---- */
/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if invalid (overlong,
   surrogate, beyond U+10FFFF, truncated). *cp gets the code point. */
int tok_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
int tok_utf8_put(uint32_t cp, char out[4]);      /* bytes written (1..4) */
/* 0 if s is valid UTF-8, else -1 with an error naming the byte offset. */
int tok_utf8_check(const char *s, size_t n);
/* GPT-2's byte <-> printable-code-point table: bytes that are printable Latin-1 map to
   themselves, the rest to U+0100 onwards, so every byte string is valid, space-free text. */
uint32_t tok_byte_to_cp(uint8_t b);
int tok_cp_to_byte(uint32_t cp);                 /* the byte, or -1 if cp is not in the table */

/* ---- the tokenizer ---- */
struct cg_tokenizer {
  int kind;                   /* TOK_SPM / TOK_BPE / TOK_WPM */
  int32_t n;                  /* vocabulary size */
  char *arena;                /* every token text, NUL-separated */
  const char **text;          /* text[id] in arena */
  uint32_t *len;              /* byte length of text[id] */
  float *score;               /* SPM merge scores (0 when absent) */
  uint8_t *type;              /* TT_* */
  uint8_t *rstrip;            /* 1: whitespace after this special is swallowed when parsed */
  tok_map vocab;              /* text -> id */
  char *merge_arena;          /* BPE merges "left right", NUL-separated */
  tok_map merges;             /* "left right" -> rank */
  int32_t bos, eos, unk, sep, pad;   /* -1 = none */
  int add_bos, add_eos, add_space_prefix, ignore_merges;
  int32_t byte_id[256];       /* SPM: id of <0xXX>; -1 if absent */
  int32_t *specials;          /* control/user-defined/unknown ids, longest text first */
  int nspecials;
  int max_len;                /* longest token text in bytes */
  char pre[64];               /* pre-tokenizer name (BPE) */
  void *regex[TOK_MAX_REGEX]; /* compiled pre-tokenizer regexes (pcre2_code *) */
  int nregex;
};

/* Load every field from GGUF metadata (tok_load.c). */
int tok_load(cg_tokenizer *t, const cg_gguf *f);
/* Family-specific encoders of one fragment of plain text (no specials inside); append ids. */
int tok_spm_encode(const cg_tokenizer *t, const char *s, size_t n, int prefix_space, tok_ids *out);
int tok_bpe_encode(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out);
int tok_wpm_encode(const cg_tokenizer *t, const char *s, size_t n, tok_ids *out);
int tok_wpm_available(void); /* 0, or -1 with an error when built without utf8proc */
/* Pre-tokenizer (tok_pretok.c): compile the regexes named by t->pre; split s into pieces. */
int tok_pretok_init(cg_tokenizer *t);
void tok_pretok_free(cg_tokenizer *t);
typedef struct { size_t off, len; } tok_span;
int tok_pretok_split(const cg_tokenizer *t, const char *s, size_t n, tok_span **spans, size_t *nspans);

/* Merge loop shared by SPM and BPE (tok_merge.c): the text s[0..n) starts as one symbol per
   UTF-8 character; the adjacent pair with the best priority (lowest value, then leftmost) is
   merged while any pair has a priority. prio returns 0 and sets *p for a mergeable pair of
   texts a[0..la) + a[la..la+lb) (contiguous), or -1 if the pair cannot merge. On return
   sym_len[i] > 0 marks the surviving symbols: symbol i spans s[sym_off[i] .. + sym_len[i]). */
typedef int (*tok_prio_fn)(const cg_tokenizer *t, const char *a, size_t la, size_t lb, double *p);
int tok_merge(const cg_tokenizer *t, const char *s, size_t n, tok_prio_fn prio, size_t **sym_off, size_t **sym_len,
              size_t *nsym);
#endif
