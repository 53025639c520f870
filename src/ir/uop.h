/* UOp: the one node type of every graph in cgrad, immutable and hash-consed per context, so
   structural equality is pointer equality. The tensor graph lives in the global context
   (refcounted); each kernel is lowered into an arena context that is freed in one go. */
#ifndef CG_UOP_H
#define CG_UOP_H
#include <stdint.h>
#include "../base/base.h"
#include "dtype.h"

#define CG_OPS(X)                                                                                \
  /* unary */ X(EXP2) X(LOG2) X(SIN) X(SQRT) X(RECIP) X(NEG) X(CAST) X(BITCAST)                 \
  /* binary */ X(ADD) X(MUL) X(IDIV) X(MOD) X(MAX) X(CMPLT) X(CMPNE) X(AND) X(OR) X(XOR)       \
  X(SHL) X(SHR)                                                                                  \
  /* ternary */ X(WHERE)                                                                         \
  /* reduce over axes (tensor graph): ival = ADD/MUL/MAX, v = axes flags */ X(REDUCE_AXIS)      \
  /* movement (tensor graph) */ X(RESHAPE) X(PERMUTE) X(EXPAND) X(PAD) X(SHRINK) X(FLIP)       \
  /* buffers */ X(CONST) X(BUFFER) X(COPY) X(CONTIGUOUS) X(DEFINE_VAR) X(DETACH)                 \
  /* src[0]'s value; the gradient w.r.t. src[1..] comes from the cg_grad_fn in ptr */ X(GRAD_FN)  \
  /* the element's index along a 1-D tensor (arange's leaf) */ X(IOTA)                          \
  /* kernel graph */ X(RANGE) X(REDUCE) X(PARAM) X(LOAD) X(STORE) X(SINK)                       \
  /* linear program only */ X(DEFINE_ACC) X(ASSIGN) X(ENDRANGE)

typedef enum {
#define X(name) OP_##name,
  CG_OPS(X)
#undef X
  OP_COUNT
} cg_op;

const char *cg_op_name(int op);
static inline int cg_op_is_unary(int op) { return op <= OP_BITCAST; }
static inline int cg_op_is_binary(int op) { return op >= OP_ADD && op <= OP_SHR; }
static inline int cg_op_is_alu(int op) { return op <= OP_WHERE; }
static inline int cg_op_is_movement(int op) { return op >= OP_RESHAPE && op <= OP_FLIP; }
static inline int cg_op_is_commutative(int op) {
  return op == OP_ADD || op == OP_MUL || op == OP_MAX || op == OP_CMPNE || op == OP_AND ||
         op == OP_OR || op == OP_XOR;
}

/* range kinds (RANGE.ival2): UPCAST lanes of an output dim, UNROLL lanes of a reduce (each its
   own accumulator, folded after the loop) */
enum { RANGE_GLOBAL, RANGE_REDUCE, RANGE_UPCAST, RANGE_UNROLL };

typedef struct uop_ctx uop_ctx;
typedef struct uop uop;
struct uop {
  uint8_t op, dtype, nsrc;
  uint8_t has_var;           /* depends on a DEFINE_VAR (its value can change) */
  uint8_t needs_grad;        /* tensor graph: a gradient target is at or below this node */
  int32_t refcnt;            /* global context only */
  uint64_t hash;
  uop **src;
  int64_t ival, ival2;       /* const int bits / reduce op / range id+kind / param index */
  double fval;               /* const float value */
  int nv;
  int64_t *v;                /* shape-like argument (new shape, permutation, pairs, axes) */
  void *ptr;                 /* BUFFER: cg_buffer*, DEFINE_VAR: cg_variable* */
  /* derived, not part of identity */
  cg_shape shape;            /* tensor graph: shape of the value */
  int64_t vmin, vmax;        /* kernel graph: bounds of integer values */
  uop *realized;             /* tensor graph: BUFFER node holding this node's value, if any */
  int dev;                   /* tensor graph: device index of the value */
  uop *next;                 /* intern-table chain */
  uop_ctx *ctx;
};

/* Argument bundle for construction. */
typedef struct {
  int64_t ival, ival2;
  double fval;
  int nv;
  const int64_t *v;
  void *ptr;
} uop_arg;

uop_ctx *uop_global(void);                   /* the refcounted tensor-graph context */
uop_ctx *uop_arena_new(void);                /* a throwaway context for one kernel */
void uop_arena_free(uop_ctx *c);
void uop_global_shutdown(void);              /* free the intern table at exit */
size_t uop_global_live(void);                /* live nodes in the global context (leak checks) */
void uop_global_histogram(size_t counts[OP_COUNT]); /* live nodes per op (leak hunting) */

/* Intern a node. In the global context the result is a new reference (release with uop_unref);
   sources gain a reference held by the node. `shape` is stored only when the node is new. */
uop *uop_new(uop_ctx *c, int op, int dtype, uop *const *src, int nsrc, uop_arg arg,
             const cg_shape *shape);
uop *uop_ref(uop *u);
void uop_unref(uop *u);
/* Hook called when a global BUFFER or DEFINE_VAR node dies (releases what ptr holds). */
extern void (*uop_release_ptr)(uop *u);

/* kernel-graph helpers (arena contexts) */
uop *uop_const_int(uop_ctx *c, int dtype, int64_t v);
uop *uop_const_float(uop_ctx *c, int dtype, double v);
uop *uop_alu(uop_ctx *c, int op, int dtype, uop *a, uop *b);     /* b may be NULL for unary */
uop *uop_where(uop_ctx *c, uop *cond, uop *a, uop *b);
int uop_is_const(const uop *u);
int uop_is_const_int(const uop *u, int64_t v);
void uop_print(const uop *u, cg_sbuf *out);                      /* indented tree dump */
#endif
