/* The generic rewrite driver and the symbolic simplifier built on it. */
#ifndef CG_REWRITE_H
#define CG_REWRITE_H
#include "uop.h"

/* A rule looks at one node whose sources are already rewritten; it returns a replacement node
   (in the same arena context) or NULL when it does not apply. */
typedef uop *(*cg_rule)(uop_ctx *c, uop *u, void *rctx);

/* Rewrite bottom-up to a fixed point: sources first, then rules on the node until none applies;
   a replacement is itself rewritten. Memoized by pointer (hash-consing makes that exact). */
uop *graph_rewrite(uop_ctx *c, uop *root, const cg_rule *rules, int nrules, void *rctx);

/* Rebuild u with new sources (same op, dtype and argument). */
uop *uop_replace_src(uop_ctx *c, uop *u, uop *const *src, int nsrc);

/* root with every occurrence of node `from` replaced by `to`. */
uop *uop_substitute(uop_ctx *c, uop *root, uop *from, uop *to);

/* Symbolic simplification of integer index math and boolean guards (constant folding,
   identities, bound-based folds, div/mod rules such as (x*4+y)//4 -> x for 0<=y<4). */
uop *cg_simplify(uop_ctx *c, uop *root);
/* The rule table cg_simplify uses, for composing with other rules. */
extern const cg_rule cg_symbolic_rules[];
extern const int cg_symbolic_nrules;
#endif
