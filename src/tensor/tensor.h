/* Front-end internals: a tensor is a handle on a tensor-graph UOp. */
#ifndef CG_TENSOR_H
#define CG_TENSOR_H
#include "../ir/uop.h"
#include "../runtime/device.h"
#include "cgrad.h"

struct cg_tensor {
  uop *u;              /* the lazy value (a BUFFER node once realized) */
  int scope;           /* depth of the owning scope; 0 = owned by the caller */
  int requires_grad;   /* a gradient target (cg_set_requires_grad) */
  cg_tensor *grad;     /* accumulated gradient, owned by this tensor */
  cg_buffer *into;     /* pending cg_assign_lazy: the buffer the next realize writes (a ref) */
};

struct cg_variable {
  char name[48];
  int64_t min, max, value;
  int refcnt;          /* the handle plus DEFINE_VAR nodes using it */
};

/* Wrap a new node reference into a tensor registered in the current scope (NULL passes). */
cg_tensor *tensor_wrap(uop *u);
cg_tensor *tensor_wrap_owned(uop *u);                        /* not in any scope */
/* t now reads b's new contents through a fresh BUFFER node; a pending assignment is done. */
void tensor_take_buffer(cg_tensor *t, cg_buffer *b);
void autograd_forget(cg_tensor *t);                          /* t is being destroyed */
int autograd_targets(cg_tensor *const **out);                /* the requires_grad registry */
int grad_enabled(void);
/* Build a tensor-graph node from tensors' nodes; the device comes from the sources. */
uop *tnode(int op, int dtype, uop *const *src, int n, uop_arg arg, cg_shape shape);
cg_tensor *tmake(int op, int dtype, uop *const *src, int n, uop_arg arg, cg_shape shape);
cg_tensor *tconst(double v, cg_dtype dt, int dev);          /* 0-d constant on a device */
cg_tensor *tconst_like(cg_tensor *t, double v, cg_dtype dt); /* same device as t, 0-d */
cg_tensor *tunary(int op, cg_tensor *a);                     /* same dtype */
cg_tensor *tbinary(int op, cg_tensor *a, cg_tensor *b);      /* broadcast + promote */
int tbroadcast(cg_tensor **a, cg_tensor **b);                /* in place, -1 on error */
int64_t shape_numel(cg_shape s);          /* elements at the maximum extents (allocation size) */
int64_t shape_numel_now(cg_shape s);      /* elements at the variables' bound values */
int shape_eq(cg_shape a, cg_shape b);     /* same dims and same variables */
int shape_has_var(cg_shape s);
int shape_check(cg_shape s, const char *who); /* 1 if valid, else 0 with an error */
void shape_set(cg_shape *s, int i, int64_t d); /* a concrete dim */
int shape_dim_eq(cg_shape a, int i, cg_shape b, int j);
/* Normalize a user shape: a symbolic dim's d is its variable's max. */
cg_shape shape_norm(cg_shape s);
/* s with dims [at, at+nrm) replaced by the concrete dims ins[0..nins) (others keep variables) */
cg_shape shape_splice(cg_shape s, int at, int nrm, const int64_t *ins, int nins);
/* Sources for a movement node whose shape may name variables: x plus one DEFINE_VAR node per
   variable (the node then keeps them alive and depends on them). Returns the count. */
int movement_srcs(uop *x, cg_shape out, uop **src);
int norm_axis(int axis, int ndim);                           /* -1 and error if out of range */
void shape_str(cg_shape s, char *buf, size_t n);
cg_tensor *treduce(int op, cg_tensor *a, cg_axes axes, int keepdim);
/* A composed op with its own gradient rule (a GRAD_FN node): backward fills d[i] = d loss /
   d src[i] for i >= 1 given g = d loss / d node (src[0] is the forward value); the node's v holds
   the op's integer parameters. */
typedef struct { const char *name; void (*backward)(const uop *node, cg_tensor *g, cg_tensor **d); } grad_rule;
/* value (built with gradients off), differentiated by rule w.r.t. inputs (at most 2); value
   itself where no input needs a gradient */
cg_tensor *with_grad_rule(cg_tensor *value, cg_tensor *const *inputs, int n, const grad_rule *rule,
                          const int64_t *params, int nparams);
uint64_t rng_next_key(void);
/* Run a composed op in its own scope: its temporaries die, only the result moves out. */
#define SCOPED(expr)                                                                             \
  do {                                                                                           \
    cg_scope_push();                                                                             \
    cg_tensor *r_ = (expr);                                                                      \
    cg_keep(r_);                                                                                 \
    cg_scope_pop();                                                                              \
    return r_;                                                                                   \
  } while (0)
#define CG_CHECK(...)                                                                            \
  do {                                                                                           \
    cg_tensor *chk_[] = {__VA_ARGS__};                                                           \
    for (size_t i_ = 0; i_ < sizeof chk_ / sizeof *chk_; i_++)                                   \
      if (!chk_[i_]) return NULL;                                                                \
  } while (0)
#endif
