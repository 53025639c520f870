/* The merge loop behind SentencePiece-BPE (pairs ranked by the merged piece's score) and
   byte-level BPE (pairs ranked by merge rank): symbols in a doubly linked list, candidate pairs
   in a binary min-heap keyed by (priority, left index). A popped pair is stale when either side
   was merged since it was pushed (the lengths no longer add up), so no deletion is needed. */
#include <stdlib.h>
#include "tok_internal.h"

typedef struct { double prio; size_t left, right, size; } pair;
typedef struct { pair *v; size_t n, cap; } heap;

static int before(const pair *a, const pair *b) {
  return a->prio < b->prio || (a->prio == b->prio && a->left < b->left);
}

static int heap_push(heap *h, pair p) {
  if (h->n == h->cap) {
    size_t c = h->cap ? 2 * h->cap : 64;
    pair *v = realloc(h->v, c * sizeof *v);
    if (!v) {
      cg_set_error("tokenizer: out of memory");
      return -1;
    }
    h->v = v, h->cap = c;
  }
  size_t i = h->n++;
  for (; i && before(&p, &h->v[(i - 1) / 2]); i = (i - 1) / 2) h->v[i] = h->v[(i - 1) / 2];
  h->v[i] = p;
  return 0;
}

static pair heap_pop(heap *h) {
  pair top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
    if (!before(&h->v[c], &last)) break;
    h->v[i] = h->v[c], i = c;
  }
  if (h->n) h->v[i] = last;
  return top;
}

typedef struct {
  const cg_tokenizer *t;
  const char *s;
  size_t *off, *len, *prev, *next; /* prev/next: SIZE_MAX = none */
  tok_prio_fn prio;
  heap h;
} merger;

static int try_pair(merger *m, size_t l, size_t r) {
  if (l == SIZE_MAX || r == SIZE_MAX) return 0;
  double p;
  if (m->prio(m->t, m->s + m->off[l], m->len[l], m->len[r], &p)) return 0;
  return heap_push(&m->h, (pair){p, l, r, m->len[l] + m->len[r]});
}

/* One symbol per UTF-8 character (input was validated; a stray byte is its own symbol). */
static size_t split_chars(merger *m, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; k++) {
    uint32_t cp;
    int l = tok_utf8_next((const unsigned char *)m->s + i, n - i, &cp);
    m->off[k] = i, m->len[k] = l ? (size_t)l : 1;
    m->prev[k] = k ? k - 1 : SIZE_MAX;
    i += m->len[k];
    m->next[k] = i < n ? k + 1 : SIZE_MAX;
  }
  return k;
}

static int run(merger *m, size_t k) {
  for (size_t i = 1; i < k; i++)
    if (try_pair(m, i - 1, i)) return -1;
  while (m->h.n) {
    pair p = heap_pop(&m->h);
    size_t l = p.left, r = p.right;
    if (!m->len[l] || !m->len[r] || m->len[l] + m->len[r] != p.size) continue;
    m->len[l] += m->len[r];
    m->len[r] = 0;
    m->next[l] = m->next[r];
    if (m->next[r] != SIZE_MAX) m->prev[m->next[r]] = l;
    if (try_pair(m, m->prev[l], l) || try_pair(m, l, m->next[l])) return -1;
  }
  return 0;
}

int tok_merge(const cg_tokenizer *t, const char *s, size_t n, tok_prio_fn prio, size_t **sym_off, size_t **sym_len,
              size_t *nsym) {
  merger m = {t, s, NULL, NULL, NULL, NULL, prio, {0}};
  size_t cap = n ? n : 1;
  m.off = malloc(cap * sizeof *m.off), m.len = malloc(cap * sizeof *m.len);
  m.prev = malloc(cap * sizeof *m.prev), m.next = malloc(cap * sizeof *m.next);
  int rc = -1;
  if (!m.off || !m.len || !m.prev || !m.next) cg_set_error("tokenizer: out of memory");
  else {
    *nsym = split_chars(&m, n);
    rc = run(&m, *nsym);
  }
  free(m.prev), free(m.next), free(m.h.v);
  if (rc) {
    free(m.off), free(m.len);
    return -1;
  }
  *sym_off = m.off, *sym_len = m.len;
  return 0;
}
