/* einsum: line every operand up on one global order of letters (output letters first), multiply
   with broadcasting, sum the letters that are not in the output. */
#include <stdio.h>
#include <string.h>
#include "tensor.h"

typedef struct {
  char letters[27];     /* global order: output letters, then summed ones */
  int nletters, nout;
  int64_t size[26];
} einsum_plan;

static int letter_index(const einsum_plan *p, char c) {
  const char *at = strchr(p->letters, c);
  return at ? (int)(at - p->letters) : -1;
}

static int add_letter(einsum_plan *p, char c) {
  if (c < 'a' || c > 'z') {
    cg_set_error("einsum: subscripts must be letters a-z (got '%c'; '...' is not supported)", c);
    return -1;
  }
  if (letter_index(p, c) < 0) p->letters[p->nletters++] = c;
  return 0;
}

/* the terms of "ab,bc->ac" into terms[] (at most n), and the output term */
static int parse(const char *spec, char terms[][CG_MAX_DIMS + 1], int n, char *out, einsum_plan *p) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  char *arrow = strstr(buf, "->"), *lhs = buf;
  if (arrow) *arrow = 0;
  int count = 0;
  for (char *tok = strtok(lhs, ","); tok; tok = strtok(NULL, ","), count++) {
    while (*tok == ' ') tok++;
    if (count >= n || strlen(tok) > CG_MAX_DIMS) {
      cg_set_error("einsum: '%s' needs one term per operand (%d given), each at most %d letters", spec, n, CG_MAX_DIMS);
      return -1;
    }
    snprintf(terms[count], CG_MAX_DIMS + 1, "%s", tok);
    char *sp = strchr(terms[count], ' ');
    if (sp) *sp = 0;
  }
  if (count != n) {
    cg_set_error("einsum: '%s' has %d terms for %d operands", spec, count, n);
    return -1;
  }
  if (arrow) {
    snprintf(out, CG_MAX_DIMS + 1, "%s", arrow + 2);
  } else { /* implicit output: letters used exactly once, alphabetically */
    int uses[26] = {0}, k = 0;
    for (int i = 0; i < n; i++)
      for (const char *c = terms[i]; *c; c++)
        if (*c >= 'a' && *c <= 'z') uses[*c - 'a']++;
    for (int c = 0; c < 26 && k < CG_MAX_DIMS; c++)
      if (uses[c] == 1) out[k++] = (char)('a' + c);
    out[k] = 0;
  }
  for (const char *c = out; *c; c++)
    if (*c != ' ' && add_letter(p, *c)) return -1;
  p->nout = p->nletters;
  for (int i = 0; i < n; i++)
    for (const char *c = terms[i]; *c; c++)
      if (add_letter(p, *c)) return -1;
  if (p->nletters > CG_MAX_DIMS) {
    cg_set_error("einsum: at most %d distinct letters", CG_MAX_DIMS);
    return -1;
  }
  return 0;
}

/* operand t with subscripts term, as a tensor over all letters (size 1 where absent) */
static cg_tensor *line_up(cg_tensor *t, const char *term, einsum_plan *p) {
  int nd = (int)strlen(term);
  if (nd != t->u->shape.ndim) {
    cg_set_error("einsum: term '%s' has %d letters for a tensor with %d dimensions", term, nd, t->u->shape.ndim);
    return NULL;
  }
  int pos[CG_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    for (int j = 0; j < i; j++)
      if (term[j] == term[i]) {
        cg_set_error("einsum: repeated letter '%c' within one term is not supported", term[i]);
        return NULL;
      }
    pos[i] = letter_index(p, term[i]);
    int64_t d = t->u->shape.d[i];
    int64_t *known = &p->size[term[i] - 'a'];
    if (*known && *known != d && d != 1 && *known != 1) {
      cg_set_error("einsum: letter '%c' has sizes %lld and %lld", term[i], (long long)*known, (long long)d);
      return NULL;
    }
    if (!*known || *known == 1) *known = d;
  }
  cg_axes order = {nd, {0}};
  for (int i = 0, k = 0; i < p->nletters; i++) /* operand dims in global order */
    for (int j = 0; j < nd; j++)
      if (pos[j] == i) order.v[k++] = j;
  cg_tensor *x = cg_permute(t, order);
  cg_shape full = {p->nletters, {0}, {0}};
  for (int i = 0; i < p->nletters; i++) full.d[i] = 1;
  for (int j = 0; j < nd; j++) full.d[pos[j]] = t->u->shape.d[j];
  return cg_reshape(x, full);
}

static cg_tensor *einsum_impl(const char *spec, cg_tensor **ts, int n) {
  if (!spec || n <= 0 || n > 8 || !ts) {
    cg_set_error("einsum: need a subscript string and 1 to 8 operands");
    return NULL;
  }
  for (int i = 0; i < n; i++) CG_CHECK(ts[i]);
  einsum_plan p = {0};
  char terms[8][CG_MAX_DIMS + 1], out[CG_MAX_DIMS + 1] = "";
  if (parse(spec, terms, n, out, &p)) return NULL;
  cg_tensor *prod = NULL;
  for (int i = 0; i < n; i++) {
    cg_tensor *x = line_up(ts[i], terms[i], &p);
    CG_CHECK(x);
    prod = prod ? cg_mul(prod, x) : x;
  }
  CG_CHECK(prod);
  cg_axes summed = {0, {0}};
  for (int i = p.nout; i < p.nletters; i++) summed.v[summed.n++] = i;
  cg_tensor *r = summed.n ? cg_sum(prod, summed, 0) : prod;
  CG_CHECK(r);
  cg_shape s = r->u->shape; /* broadcast size-1 output letters to their sizes */
  for (int i = 0; i < p.nout; i++) s.d[i] = p.size[p.letters[i] - 'a'];
  return cg_expand(r, s);
}
cg_tensor *cg_einsum(const char *spec, cg_tensor **ts, int n) { SCOPED(einsum_impl(spec, ts, n)); }
