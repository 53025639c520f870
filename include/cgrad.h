/* cgrad — a small deep-learning framework in C: lazy tensors, kernel fusion, generated kernels.
 *
 *   #include <cgrad.h>
 *   cg_scope_push();                                  // temporaries made below die at pop
 *   float xs[6] = {1, 2, 3, 4, 5, 6};
 *   cg_tensor *x = cg_from_data(xs, CG_F32, CG_SHAPE(2, 3), NULL);
 *   cg_tensor *w = cg_randn(CG_SHAPE(3, 4), CG_F32);
 *   cg_tensor *b = cg_zeros(CG_SHAPE(4), CG_F32);
 *   cg_tensor *y = cg_relu(cg_add(cg_matmul(x, w), b));  // lazy: nothing has run yet
 *   float out[8];
 *   if (cg_to_data(y, out, sizeof out) != 0)            // runs one fused kernel
 *     fprintf(stderr, "cgrad: %s\n", cg_last_error());
 *   cg_scope_pop();
 *
 * Ownership: every function returning cg_tensor* returns a new tensor. Inside a scope the scope
 * owns it (freed by cg_scope_pop unless cg_keep moved it out); outside any scope the caller frees
 * it with cg_free. Errors: a failing op returns NULL and sets cg_last_error(); every op given a
 * NULL input returns NULL, so a chain of ops is checked once at its end.
 */
#ifndef CGRAD_H
#define CGRAD_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_MAX_DIMS 8

/* ---- dtypes ---------------------------------------------------------------------------------- */
typedef enum {
  CG_BOOL, CG_I8, CG_U8, CG_I16, CG_U16, CG_I32, CG_U32, CG_I64, CG_U64,
  CG_F16, CG_BF16, CG_F32, CG_F64, CG_NUM_DTYPES
} cg_dtype;

const char *cg_dtype_name(cg_dtype dt);          /* "float32", "int8", ... ; "?" if invalid */
int cg_dtype_size(cg_dtype dt);                   /* bytes per element; 0 if invalid */
int cg_dtype_is_float(cg_dtype dt);               /* 1 for float16/bfloat16/float32/float64 */
int cg_dtype_is_int(cg_dtype dt);                 /* 1 for signed and unsigned integers (not bool) */
int cg_dtype_is_unsigned(cg_dtype dt);            /* 1 for uint8..uint64 */
int cg_dtype_from_name(const char *name);         /* dtype for "float32"/"f32"/..., or -1 */
cg_dtype cg_promote(cg_dtype a, cg_dtype b);      /* tinygrad's least upper dtype of a and b */

/* ---- shapes and axes, passed by value --------------------------------------------------------- */
typedef struct cg_variable cg_variable;
/* A dim with var[i] set is symbolic: its extent is the variable's bound value (d[i] reports it;
   kernels compile once for every value). CG_SHAPE leaves var[] empty. */
typedef struct { int ndim; int64_t d[CG_MAX_DIMS]; cg_variable *var[CG_MAX_DIMS]; } cg_shape;
typedef struct { int n; int v[CG_MAX_DIMS]; } cg_axes;   /* n == -1 means "all axes" */
#define CG_SHAPE(...) ((cg_shape){sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}, {0}})
#define CG_SCALAR_SHAPE ((cg_shape){0, {0}, {0}})
#define CG_AXES(...) ((cg_axes){sizeof((int[]){__VA_ARGS__}) / sizeof(int), {__VA_ARGS__}})
#define CG_ALL ((cg_axes){-1, {0}})

/* ---- errors ----------------------------------------------------------------------------------- */
const char *cg_last_error(void);                  /* message of the last failure on this thread */
/* Record a failure message (printf-style), for code built on cgrad that reports its own errors. */
void cg_set_error(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;
void cg_clear_error(void);                        /* forget the last failure */

/* ---- lifetime ---------------------------------------------------------------------------------- */
typedef struct cg_tensor cg_tensor;
void cg_scope_push(void);                         /* start a scope that owns tensors created in it */
void cg_scope_pop(void);                          /* free every tensor the innermost scope owns */
cg_tensor *cg_keep(cg_tensor *t);                 /* move t to the enclosing scope (or to the caller) */
void cg_free(cg_tensor *t);                       /* release a tensor not owned by a scope */
cg_tensor *cg_own(cg_tensor *t);                  /* take t out of every scope: the caller frees it */
/* dst takes src's (lazy) value, keeping its identity (owner, requires_grad, grad); same shape and
   dtype required. How optimizers update parameters in place. */
int cg_replace(cg_tensor *dst, cg_tensor *src);
void cg_shutdown(void);                           /* free caches and the thread pool (at exit) */

/* ---- creation ---------------------------------------------------------------------------------- */
/* Copy `data` (contiguous, row-major, of `dt`) into a new tensor on `device` (NULL = default). */
cg_tensor *cg_from_data(const void *data, cg_dtype dt, cg_shape shape, const char *device);
cg_tensor *cg_full(cg_shape shape, double value, cg_dtype dt);   /* every element = value */
cg_tensor *cg_zeros(cg_shape shape, cg_dtype dt);                /* full of 0 */
cg_tensor *cg_ones(cg_shape shape, cg_dtype dt);                 /* full of 1 */
cg_tensor *cg_scalar(double value, cg_dtype dt);                 /* 0-d tensor */
cg_tensor *cg_full_like(cg_tensor *t, double value);             /* t's shape and dtype */
cg_tensor *cg_arange(double start, double stop, double step, cg_dtype dt); /* [start, stop) */
cg_tensor *cg_eye(int64_t n, cg_dtype dt);                       /* n x n identity */
cg_tensor *cg_eye_nm(int64_t n, int64_t m, cg_dtype dt);         /* n x m, ones on the diagonal */
void cg_manual_seed(uint64_t seed);                              /* reset the random stream */
void cg_rng_get_state(uint64_t *seed, uint64_t *counter);        /* for checkpoints */
void cg_rng_set_state(uint64_t seed, uint64_t counter);          /* continue a saved stream */
cg_tensor *cg_rand(cg_shape shape, cg_dtype dt);                 /* uniform [0, 1), Threefry */
cg_tensor *cg_randn(cg_shape shape, cg_dtype dt);                /* standard normal */
cg_tensor *cg_empty(cg_shape shape, cg_dtype dt);                /* uninitialized memory */
cg_tensor *cg_zeros_like(cg_tensor *t);
cg_tensor *cg_ones_like(cg_tensor *t);
cg_tensor *cg_rand_like(cg_tensor *t);
cg_tensor *cg_randn_like(cg_tensor *t);
cg_tensor *cg_randperm(int64_t n, cg_dtype dt);                  /* a random permutation of 0..n-1 */
cg_tensor *cg_linspace(double start, double stop, int64_t steps, cg_dtype dt); /* both ends */
cg_tensor *cg_uniform(cg_shape shape, double lo, double hi, cg_dtype dt);    /* [lo, hi) */
cg_tensor *cg_normal(cg_shape shape, double mean, double std, cg_dtype dt);
cg_tensor *cg_randint(cg_shape shape, int64_t lo, int64_t hi, cg_dtype dt); /* [lo, hi) */
cg_tensor *cg_scaled_uniform(cg_shape shape, cg_dtype dt);   /* U(-1,1) / sqrt(numel) */
cg_tensor *cg_glorot_uniform(cg_shape shape, cg_dtype dt);   /* U(-1,1) * sqrt(6/(fan_out+fan_in)) */
cg_tensor *cg_kaiming_uniform(cg_shape shape, double a, cg_dtype dt); /* PyTorch's formula, fan_in */
cg_tensor *cg_kaiming_normal(cg_shape shape, double a, cg_dtype dt);

/* ---- reading results ---------------------------------------------------------------------------- */
int cg_realize(cg_tensor *t);                      /* compute t now; 0 on success, -1 on error */
int cg_realize_all(cg_tensor **ts, int n);         /* realize several at once (one schedule) */
int cg_to_data(cg_tensor *t, void *out, size_t nbytes); /* realize and copy out (row-major) */
double cg_item(cg_tensor *t);                      /* value of a one-element tensor (NAN on error) */
int cg_ndim(const cg_tensor *t);                   /* number of dimensions; -1 for NULL */
cg_shape cg_get_shape(const cg_tensor *t);         /* the shape (ndim 0 for a scalar or NULL);
                                                      symbolic dims report their bound value */
int64_t cg_numel(const cg_tensor *t);              /* number of elements (at the bound values) */
cg_dtype cg_get_dtype(const cg_tensor *t);         /* element type */
const char *cg_get_device(const cg_tensor *t);     /* device name, e.g. "CPU" */
void cg_print(cg_tensor *t);                       /* realize and print to stdout */

/* ---- elementwise (NumPy broadcasting, tinygrad dtype promotion) ---------------------------------- */
cg_tensor *cg_add(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b);       /* true division (ints give float32) */
cg_tensor *cg_idiv(cg_tensor *a, cg_tensor *b);      /* integer division, truncating toward 0 */
cg_tensor *cg_mod(cg_tensor *a, cg_tensor *b);       /* integer remainder (sign of a) */
cg_tensor *cg_floordiv(cg_tensor *a, cg_tensor *b);  /* Python's //: rounds toward -inf */
cg_tensor *cg_floormod(cg_tensor *a, cg_tensor *b);  /* Python's %: the sign of b */
cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b);        /* comparisons give bool */
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_and(cg_tensor *a, cg_tensor *b);       /* bitwise / logical, ints and bools */
cg_tensor *cg_or(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_xor(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_shl(cg_tensor *a, cg_tensor *b);       /* ints only */
cg_tensor *cg_shr(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b); /* cond ? a : b */
/* A scalar takes a's dtype when a is float, or a is int and v is integral; else float32. */
cg_tensor *cg_add_s(cg_tensor *a, double v);
cg_tensor *cg_sub_s(cg_tensor *a, double v);
cg_tensor *cg_mul_s(cg_tensor *a, double v);
cg_tensor *cg_div_s(cg_tensor *a, double v);
cg_tensor *cg_pow_s(cg_tensor *a, double v);
cg_tensor *cg_scalar_like(cg_tensor *a, double v);   /* 0-d scalar with the dtype rule above */

cg_tensor *cg_neg(cg_tensor *a);
cg_tensor *cg_recip(cg_tensor *a);
cg_tensor *cg_exp(cg_tensor *a);
cg_tensor *cg_exp2(cg_tensor *a);
cg_tensor *cg_log(cg_tensor *a);
cg_tensor *cg_log2(cg_tensor *a);
cg_tensor *cg_sqrt(cg_tensor *a);
cg_tensor *cg_rsqrt(cg_tensor *a);
cg_tensor *cg_sin(cg_tensor *a);
cg_tensor *cg_cos(cg_tensor *a);
cg_tensor *cg_tanh(cg_tensor *a);
cg_tensor *cg_sigmoid(cg_tensor *a);
cg_tensor *cg_relu(cg_tensor *a);
cg_tensor *cg_gelu(cg_tensor *a);                    /* tanh approximation, as tinygrad */
cg_tensor *cg_silu(cg_tensor *a);
cg_tensor *cg_abs(cg_tensor *a);
cg_tensor *cg_not(cg_tensor *a);                     /* logical not of a bool tensor */
cg_tensor *cg_log10(cg_tensor *a);
cg_tensor *cg_tan(cg_tensor *a);
cg_tensor *cg_asin(cg_tensor *a);                    /* polynomial, |error| < 1e-7 */
cg_tensor *cg_acos(cg_tensor *a);
cg_tensor *cg_atan(cg_tensor *a);
cg_tensor *cg_sinh(cg_tensor *a);
cg_tensor *cg_cosh(cg_tensor *a);
cg_tensor *cg_atanh(cg_tensor *a);
cg_tensor *cg_asinh(cg_tensor *a);
cg_tensor *cg_acosh(cg_tensor *a);
cg_tensor *cg_erf(cg_tensor *a);                     /* polynomial, |error| < 1.5e-7 */
cg_tensor *cg_trunc(cg_tensor *a);                   /* toward zero */
cg_tensor *cg_floor(cg_tensor *a);
cg_tensor *cg_ceil(cg_tensor *a);
cg_tensor *cg_round(cg_tensor *a);                   /* half to even */
cg_tensor *cg_isnan(cg_tensor *a);
cg_tensor *cg_isinf(cg_tensor *a);
cg_tensor *cg_isfinite(cg_tensor *a);
cg_tensor *cg_square(cg_tensor *a);
cg_tensor *cg_sign(cg_tensor *a);                    /* -1, 0, 1 (NaN stays NaN) */
cg_tensor *cg_clamp(cg_tensor *a, double lo, double hi);
cg_tensor *cg_lerp(cg_tensor *a, cg_tensor *b, cg_tensor *w); /* a + (b - a) * w */
cg_tensor *cg_softplus(cg_tensor *a);                /* log(1 + exp(x)), stable */
cg_tensor *cg_logsigmoid(cg_tensor *a);
cg_tensor *cg_hardsigmoid(cg_tensor *a);
cg_tensor *cg_elu(cg_tensor *a, double alpha);
cg_tensor *cg_celu(cg_tensor *a, double alpha);
cg_tensor *cg_selu(cg_tensor *a);
cg_tensor *cg_relu6(cg_tensor *a);
cg_tensor *cg_hardswish(cg_tensor *a);
cg_tensor *cg_hardtanh(cg_tensor *a, double lo, double hi);
cg_tensor *cg_leaky_relu(cg_tensor *a, double slope);
cg_tensor *cg_quick_gelu(cg_tensor *a);              /* x * sigmoid(1.702 x) */
cg_tensor *cg_mish(cg_tensor *a);
cg_tensor *cg_softsign(cg_tensor *a);
cg_tensor *cg_fmod(cg_tensor *a, cg_tensor *b);      /* remainder with the sign of a */
cg_tensor *cg_bitwise_not(cg_tensor *a);
cg_tensor *cg_copysign(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_logaddexp(cg_tensor *a, cg_tensor *b);
/* |a - b| <= atol + rtol * |b|, as bool (NaNs equal when equal_nan) */
cg_tensor *cg_isclose(cg_tensor *a, cg_tensor *b, double rtol, double atol, int equal_nan);
cg_tensor *cg_cast(cg_tensor *a, cg_dtype dt);       /* value conversion */
cg_tensor *cg_bitcast(cg_tensor *a, cg_dtype dt);    /* reinterpret bits (same element size) */

/* ---- reductions (axes may be negative; CG_ALL reduces everything) -------------------------------- */
cg_tensor *cg_sum(cg_tensor *a, cg_axes axes, int keepdim);
cg_tensor *cg_prod(cg_tensor *a, cg_axes axes, int keepdim);
cg_tensor *cg_max(cg_tensor *a, cg_axes axes, int keepdim);
cg_tensor *cg_min(cg_tensor *a, cg_axes axes, int keepdim);
cg_tensor *cg_mean(cg_tensor *a, cg_axes axes, int keepdim);
cg_tensor *cg_var(cg_tensor *a, cg_axes axes, int keepdim, double correction);
cg_tensor *cg_argmax(cg_tensor *a, int axis, int keepdim);  /* int32 index of the first max */
cg_tensor *cg_softmax(cg_tensor *a, int axis);
cg_tensor *cg_log_softmax(cg_tensor *a, int axis);
cg_tensor *cg_layernorm(cg_tensor *a, int axis, double eps); /* normalize over axis..last */
cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b);     /* batched and broadcast like NumPy */
/* x[..., idx, ...] along axis for an integer idx of any shape (negative indices wrap). */
cg_tensor *cg_index_select(cg_tensor *x, int axis, cg_tensor *idx);
/* PyTorch's scatter along dim: out = x with src written where index points (index and src
   have x's number of dims); several writes to one spot add up (PyTorch leaves it undefined). */
cg_tensor *cg_scatter(cg_tensor *x, int dim, cg_tensor *index, cg_tensor *src);
enum { CG_SCATTER_NONE, CG_SCATTER_SUM, CG_SCATTER_PROD, CG_SCATTER_AMAX, CG_SCATTER_AMIN, CG_SCATTER_MEAN };
/* PyTorch's scatter_reduce: combine the values landing on a spot (and x's, if include_self). */
cg_tensor *cg_scatter_reduce(cg_tensor *x, int dim, cg_tensor *index, cg_tensor *src, int reduce, int include_self);
cg_tensor *cg_logcumsumexp(cg_tensor *x, int axis);  /* log(cumsum(exp(x))), stable */
cg_tensor *cg_unfold(cg_tensor *x, int axis, int64_t size, int64_t step); /* torch's windows */
/* Data-dependent sizes: these read the mask back from the device to size their result. */
cg_tensor *cg_nonzero(cg_tensor *x);                 /* (count, ndim) int32 coordinates */
cg_tensor *cg_masked_select(cg_tensor *x, cg_tensor *mask); /* 1-D: x where mask */
/* num_samples class indices per row of probabilities (int32), with or without replacement */
cg_tensor *cg_multinomial(cg_tensor *p, int64_t num_samples, int replacement);
/* Einstein summation, e.g. "bij,bjk->bik" (letters a-z; implicit output when no "->"). */
cg_tensor *cg_einsum(const char *spec, cg_tensor **ts, int n);
/* Stable sort along axis; if indices is not NULL it receives the int32 positions (a new tensor
   owned like the result). */
cg_tensor *cg_sort(cg_tensor *a, int axis, int descending, cg_tensor **indices);
cg_tensor *cg_argsort(cg_tensor *a, int axis, int descending);  /* int32 positions */
/* The k largest (or smallest) along axis, sorted; indices as in cg_sort. */
cg_tensor *cg_topk(cg_tensor *a, int64_t k, int axis, int largest, cg_tensor **indices);

/* ---- movement (views: no copy until needed) -------------------------------------------------------- */
cg_tensor *cg_reshape(cg_tensor *a, cg_shape shape); /* one dim may be -1 */
cg_tensor *cg_permute(cg_tensor *a, cg_axes order);
cg_tensor *cg_transpose(cg_tensor *a, int d0, int d1);
cg_tensor *cg_expand(cg_tensor *a, cg_shape shape);  /* size-1 dims grow; -1 keeps a dim */
/* pad[i] = {before, after} for each dim, filled with `value`. */
cg_tensor *cg_pad(cg_tensor *a, const int64_t (*pad)[2], int npad, double value);
enum { CG_PAD_CONSTANT, CG_PAD_REFLECT, CG_PAD_REPLICATE, CG_PAD_CIRCULAR };
/* pad with a mode: constant (value), reflect (mirror, edge not repeated), replicate (edge
   value), circular (wrap around); PyTorch's limits on the amounts apply. */
cg_tensor *cg_pad_mode(cg_tensor *a, const int64_t (*pad)[2], int npad, int mode, double value);
/* arg[i] = {begin, end} for each dim (0 <= begin <= end <= size). */
cg_tensor *cg_shrink(cg_tensor *a, const int64_t (*arg)[2], int narg);
cg_tensor *cg_flip(cg_tensor *a, cg_axes axes);
/* Python-style a[start:stop:step] on one axis; negative start/stop count from the end,
   step may be negative; CG_END for an open end. */
#define CG_END INT64_MAX
cg_tensor *cg_slice(cg_tensor *a, int axis, int64_t start, int64_t stop, int64_t step);
cg_tensor *cg_cat(cg_tensor **ts, int n, int axis);
cg_tensor *cg_stack(cg_tensor **ts, int n, int axis);
cg_tensor *cg_unflatten(cg_tensor *a, int axis, cg_shape sizes); /* split one dim (-1 allowed) */
cg_tensor *cg_repeat_interleave(cg_tensor *a, int64_t repeats, int axis);
cg_tensor *cg_diag(cg_tensor *a, int64_t k);         /* 1-D -> matrix with a on diagonal k */
cg_tensor *cg_diagonal(cg_tensor *a);                /* main diagonal of the last two dims */
/* "ij" grids of n 1-D tensors into out[0..n) (new tensors); -1 on error */
int cg_meshgrid(cg_tensor **ts, int n, cg_tensor **out);
cg_tensor *cg_contiguous(cg_tensor *a);              /* force a buffer (a kernel boundary) */
/* Write src (cast and broadcast to dst) into dst's own buffer, now: every holder of that buffer
   sees the new value. 0 on success, -1 on error (dst unchanged). */
int cg_assign(cg_tensor *dst, cg_tensor *src);
/* dst[region] = src, region[i] = {begin, end} per dim (Python's x[a:b, c:d] = v). */
int cg_assign_region(cg_tensor *dst, const int64_t (*region)[2], int n, cg_tensor *src);
/* tinygrad's lazy assign: dst takes src's value (same shape, dtype, device) now, and the realize
   that computes it writes it into dst's existing buffer, so state updated every step (weights,
   optimizer moments, running statistics) stays in one buffer, as a JIT replay needs. */
int cg_assign_lazy(cg_tensor *dst, cg_tensor *src);
cg_tensor *cg_to(cg_tensor *a, const char *device);  /* copy to another device */

/* ---- autograd (reverse mode; gradients are lazy tensors that fuse like any other) ------------ */
int cg_set_requires_grad(cg_tensor *t, int on);  /* mark t as a gradient target (floats only) */
int cg_requires_grad(const cg_tensor *t);        /* 1 if gradients flow to or through t */
/* d loss / d t for every tensor marked with cg_set_requires_grad that loss depends on, added to
   cg_grad(t). loss must have exactly one element. 0 on success, -1 on error. */
int cg_backward(cg_tensor *loss);
cg_tensor *cg_grad(const cg_tensor *t);          /* t's accumulated gradient, owned by t (or NULL) */
void cg_zero_grad(cg_tensor *t);                 /* forget t's gradient */
/* Gradients of a one-element loss with respect to targets (new tensors in out[i]; zeros where
   loss does not depend on a target). 0 on success, -1 on error. */
int cg_gradient(cg_tensor *loss, cg_tensor **targets, int n, cg_tensor **out);
cg_tensor *cg_detach(cg_tensor *t);              /* same value; no gradient flows through */
int cg_set_grad_enabled(int on);                 /* 0: no-grad mode (no graph for gradients);
                                                    returns the previous setting */

/* ---- loss reductions ---------------------------------------------------------------------------- */
#define CG_REDUCTION_NONE 0   /* one loss per element */
#define CG_REDUCTION_MEAN 1   /* the mean (over the non-ignored elements, where labels are ignored) */
#define CG_REDUCTION_SUM 2    /* the sum */

/* ---- convolution and pooling (NCHW; spatial dims are the last `nspatial`; NULL arrays mean
   stride 1, padding 0, dilation 1; padding is symmetric, as torch's int padding) ------------------ */
/* N-d convolution (nspatial 1..3): x (N, Cin, *in), w (Cout, Cin/groups, *k), bias (Cout) or NULL. */
cg_tensor *cg_conv(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int nspatial, const int64_t *stride,
                   const int64_t *padding, const int64_t *dilation, int groups);
/* torch.nn.functional.conv2d: x (N, Cin, H, W), w (Cout, Cin/groups, kh, kw). */
cg_tensor *cg_conv2d(cg_tensor *x, cg_tensor *w, cg_tensor *bias, const int64_t stride[2],
                     const int64_t padding[2], const int64_t dilation[2], int groups);
/* N-d transposed convolution: w (Cin, Cout/groups, *k); output_padding NULL means 0. */
cg_tensor *cg_conv_transpose(cg_tensor *x, cg_tensor *w, cg_tensor *bias, int nspatial,
                             const int64_t *stride, const int64_t *padding,
                             const int64_t *output_padding, const int64_t *dilation, int groups);
/* torch.nn.functional.conv_transpose2d. */
cg_tensor *cg_conv_transpose2d(cg_tensor *x, cg_tensor *w, cg_tensor *bias, const int64_t stride[2],
                               const int64_t padding[2], const int64_t output_padding[2],
                               const int64_t dilation[2], int groups);
/* Max over windows of the last nspatial dims (padding counts as -inf); stride NULL = kernel. */
cg_tensor *cg_max_pool(cg_tensor *x, int nspatial, const int64_t *kernel, const int64_t *stride,
                       const int64_t *padding, const int64_t *dilation);
cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2]);       /* torch max_pool2d, dilation 1 */
/* Mean over windows; count_include_pad as torch (1: padded zeros count in the divisor). */
cg_tensor *cg_avg_pool(cg_tensor *x, int nspatial, const int64_t *kernel, const int64_t *stride,
                       const int64_t *padding, int count_include_pad);
cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2]);       /* torch avg_pool2d, count_include_pad */

/* ---- layers ------------------------------------------------------------------------------------ */
cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b); /* x @ w.T + b; w (out, in); b may be NULL */
/* (x - mean) * weight * invstd + bias over axis 1; stats are (C) vectors; weight/bias may be NULL. */
cg_tensor *cg_batchnorm(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, cg_tensor *mean,
                        cg_tensor *invstd);
/* batchnorm with the batch's statistics over every axis but 1 (training); *mean and *var, when
   not NULL, receive them (detached; biased variance) for running averages. With a weight, its
   backward is the closed form (two reductions over the gradient). */
cg_tensor *cg_batchnorm_train(cg_tensor *x, cg_tensor *weight, cg_tensor *bias, double eps,
                              cg_tensor **mean, cg_tensor **var);
cg_tensor *cg_rmsnorm(cg_tensor *x, int axis, double eps); /* x / sqrt(mean(x^2) + eps) over axis..last */
cg_tensor *cg_dropout(cg_tensor *x, double p, int training); /* zero with prob. p, scale 1/(1-p) */
/* softmax(q @ k^T / sqrt(d)) @ v; mask (bool: keep where true; float: added) or NULL; is_causal
   uses a lower-triangular mask (not together with mask). */
cg_tensor *cg_scaled_dot_product_attention(cg_tensor *q, cg_tensor *k, cg_tensor *v,
                                           cg_tensor *mask, int is_causal);

/* ---- losses and statistics ---------------------------------------------------------------------- */
/* torch cross_entropy: logits (N, C, ...) or (C); target int labels (N, ...) (label -100 is
   ignored, as torch's default ignore_index) or float probabilities shaped like logits. */
cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target, int reduction, double label_smoothing);
/* torch nll_loss on log-probabilities (N, C, ...) or (C); labels equal to ignore_index are skipped. */
cg_tensor *cg_nll_loss(cg_tensor *logp, cg_tensor *target, int reduction, int64_t ignore_index);
/* tinygrad's: classes on the last axis of logits, labels (...) ints; ignore_index skipped. */
cg_tensor *cg_sparse_categorical_crossentropy(cg_tensor *logits, cg_tensor *labels, int64_t ignore_index,
                                              double label_smoothing, int reduction);
/* torch binary_cross_entropy on probabilities p (log clamped at -100, as torch). */
cg_tensor *cg_binary_crossentropy(cg_tensor *p, cg_tensor *y, int reduction);
/* torch binary_cross_entropy_with_logits: max(x,0) - x*y + log(1 + exp(-|x|)). */
cg_tensor *cg_binary_crossentropy_logits(cg_tensor *logits, cg_tensor *y, int reduction);
cg_tensor *cg_logsumexp(cg_tensor *x, cg_axes axes, int keepdim); /* log(sum(exp(x))), stable */
cg_tensor *cg_std(cg_tensor *x, cg_axes axes, int keepdim, double correction); /* sqrt(var) */
/* int32 (..., num_classes) with 1 at each label; num_classes < 0 means max(labels)+1 (realizes). */
cg_tensor *cg_one_hot(cg_tensor *labels, int64_t num_classes);

/* ---- indexing and shape helpers (nn) ----------------------------------------------------------------- */
/* torch.gather: out[i][j] = x[index[i][j]][j] (dim 0); index ints of x's rank, sizes <= x's. */
cg_tensor *cg_gather(cg_tensor *x, int dim, cg_tensor *index);
cg_tensor *cg_tril(cg_tensor *x, int64_t diagonal);   /* zero above the diagonal of the last 2 dims */
cg_tensor *cg_triu(cg_tensor *x, int64_t diagonal);   /* zero below the diagonal of the last 2 dims */
cg_tensor *cg_masked_fill(cg_tensor *x, cg_tensor *mask, double value); /* value where mask, x's dtype */
cg_tensor *cg_cumsum(cg_tensor *x, int axis);         /* running sum along axis */
cg_tensor *cg_cumprod(cg_tensor *x, int axis);        /* running product along axis */
cg_tensor *cg_cummax(cg_tensor *x, int axis);         /* running maximum along axis (values) */
cg_tensor *cg_argmin(cg_tensor *x, int axis, int keepdim); /* int32 index of the first min */
cg_tensor *cg_any(cg_tensor *x, cg_axes axes, int keepdim); /* bool: some element nonzero */
cg_tensor *cg_all(cg_tensor *x, cg_axes axes, int keepdim); /* bool: every element nonzero */
cg_tensor *cg_flatten(cg_tensor *x, int start, int end); /* merge dims start..end (inclusive) */
cg_tensor *cg_squeeze(cg_tensor *x, int axis);        /* drop axis if it has size 1 (else unchanged) */
cg_tensor *cg_unsqueeze(cg_tensor *x, int axis);      /* new size-1 axis; axis in [-ndim-1, ndim] */
/* torch repeat: tile x repeats[i] times along dim i (n >= ndim; extra leading dims are new). */
cg_tensor *cg_repeat(cg_tensor *x, const int64_t *repeats, int n);
cg_tensor *cg_roll(cg_tensor *x, int64_t shift, int axis); /* torch.roll along one axis */
/* torch.split with sizes: fills out[0..n-1] with views along axis; returns n, or -1. */
int cg_split(cg_tensor *x, const int64_t *sizes, int n, int axis, cg_tensor **out);
/* torch.chunk: up to `chunks` views of ceil(size/chunks) along axis; returns how many, or -1. */
int cg_chunk(cg_tensor *x, int chunks, int axis, cg_tensor **out);
#define CG_INTERP_NEAREST 0   /* torch 'nearest': src = floor(dst * in/out) */
#define CG_INTERP_LINEAR 1    /* torch '(bi|tri)linear' with align_corners */
/* Resize the last n dims to size[0..n-1] (torch.nn.functional.interpolate). */
cg_tensor *cg_interpolate(cg_tensor *x, const int64_t *size, int n, int mode, int align_corners);

/* ---- bound variables: symbolic integers whose value changes without recompiling ------------------ */
cg_variable *cg_variable_new(const char *name, int64_t min, int64_t max); /* names are unique per program */
int cg_variable_bind(cg_variable *v, int64_t value);           /* -1 if value is outside [min, max] */
int64_t cg_variable_value(const cg_variable *v);               /* the bound value */
cg_tensor *cg_variable_tensor(cg_variable *v);                 /* 0-d int32 tensor reading the variable */
/* a[..., begin:end, ...] on one axis where end is a variable: a view of symbolic size end-begin
   (e.g. the filled part of a KV cache); needs begin <= min and max <= the axis size. */
cg_tensor *cg_shrink_to(cg_tensor *a, int axis, int64_t begin, cg_variable *end);
void cg_variable_free(cg_variable *v);                         /* release (tensors using it keep it alive) */

/* ---- devices and stats ----------------------------------------------------------------------------- */
const char *cg_default_device(void);                 /* from DEV=, else "CPU" */
int cg_set_default_device(const char *name);         /* -1 if the device is unknown/unavailable */
int cg_device_count(void);                           /* number of registered devices */
const char *cg_device_name(int i);                   /* name of device i */
int cg_device_available(const char *name);           /* 1 if it can run kernels here */
int cg_device_open(const char *name);  /* 0 if usable, else -1 with the reason (no driver...) as error */
/* Wait until every kernel queued on the device (NULL = default) has finished; -1 if one failed. */
int cg_synchronize(const char *device);

typedef struct {
  int64_t kernels_run;       /* kernels launched */
  int64_t kernels_compiled;  /* kernels that needed a compiler run (cache misses) */
  int64_t kernels_cached;    /* kernels loaded from the on-disk cache */
  int64_t schedules;         /* realize calls that scheduled work */
  int64_t buffers_new;       /* buffers realize allocated for kernel outputs (not reused ones) */
  double flops;              /* arithmetic operations executed (estimate) */
  double bytes;              /* bytes read and written by kernels (estimate) */
  double time_s;             /* time spent in kernels */
  int64_t beam_searches;     /* kernels BEAM searched (timed candidate opt lists for) */
  int64_t beam_runs;         /* BEAM candidate launches: 0 once every kernel's choice is cached */
  int64_t beam_hits;         /* kernels whose BEAM choice came from the cache (memory or CACHEDIR) */
  int64_t beam_rejected;     /* BEAM candidates whose output disagreed with the default's: a bug */
} cg_stats;
cg_stats cg_get_stats(void);                          /* counters since start or last reset */
/* Time every GPU kernel on the device (events) into cg_stats.time_s, waiting for each (PROFILE=1). */
void cg_set_profiling(int on);
void cg_reset_stats(void);                            /* zero the counters */
/* Kernel count of the schedule that realizing ts would run, without running it (-1 on error);
   on the CPU a copy may then run inside its reader (one launch fewer: cg_stats.kernels_run). */
int cg_count_kernels(cg_tensor **ts, int n);

/* ---- JIT: capture a step's kernels once, replay them with new inputs ------------------------------- */
/* A jitted function: reads inputs[0..n), writes up to max_out result tensors to outputs and returns
   how many (or -1 with an error). On replay it is not called at all. */
typedef int (*cg_jit_fn)(void *userdata, cg_tensor **inputs, int n, cg_tensor **outputs, int max_out);
typedef struct cg_jit cg_jit;
cg_jit *cg_jit_new(cg_jit_fn fn, void *userdata);
/* Call 1 runs fn (warm-up), call 2 runs it while recording every kernel launch and copy, later calls
   replay those with the new inputs' buffers: no graph, schedule or compile. Inputs are realized
   first and must keep the shapes/dtypes/devices of call 1 (else -1 with an error). Returns the
   output count; outputs are realized (on replay: new tensors on the captured output buffers, which
   the next replay overwrites). State must be updated in place (cg_assign_lazy, the optimizers do);
   values made from host data inside fn (cg_from_data, cg_item) are constants of the capture; a
   capture that gives a requires_grad tensor a new buffer (cg_replace) fails with an error. */
int cg_jit_call(cg_jit *j, cg_tensor **inputs, int n, cg_tensor **outputs, int max_out);
int cg_jit_kernels(const cg_jit *j);                  /* kernel launches per replay (0 before capture) */
int cg_jit_copies(const cg_jit *j);                   /* buffer copies per replay */
void cg_jit_free(cg_jit *j);                          /* releases its programs and buffers */

typedef struct {
  int debug, threads, noopt, beam;
  const char *cachedir, *cc, *device;
} cg_config;
cg_config cg_get_config(void);                        /* knobs read once from the environment */
int cg_set_threads(int n);                            /* resize the CPU thread pool */
const char *cg_compiler_version(void);                /* first line of `$CC --version` */

/* ---- nn layers (modules own their tensors; PyTorch's default initialization) ---------------------- */
typedef struct cg_module cg_module;
int cg_set_training(int on);                       /* Tensor.training; returns the previous value */
int cg_is_training(void);
cg_module *cg_nn_linear(int64_t in, int64_t out, int bias);
cg_module *cg_nn_conv(int nspatial, int64_t cin, int64_t cout, const int64_t *kernel, const int64_t *stride,
                      const int64_t *padding, int groups, int bias);  /* 1-3 spatial dims */
cg_module *cg_nn_conv1d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int bias);
cg_module *cg_nn_conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int bias);
cg_module *cg_nn_conv_transpose2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t padding, int bias);
/* running statistics in training (momentum as PyTorch's), used in eval */
cg_module *cg_nn_batchnorm(int64_t channels, double eps, double momentum);
cg_module *cg_nn_layernorm(int64_t size, double eps);      /* over the last dim, affine */
cg_module *cg_nn_rmsnorm(int64_t size, double eps);        /* over the last dim, scaled */
cg_module *cg_nn_groupnorm(int groups, int64_t channels, double eps);
cg_module *cg_nn_embedding(int64_t vocab, int64_t dim);    /* int indices -> rows */
cg_module *cg_nn_dropout(double p);                        /* active in training only */
cg_module *cg_nn_relu(void);
cg_module *cg_nn_flatten(void);                            /* (N, ...) -> (N, -1) */
cg_module *cg_nn_max_pool2d(int64_t k, int64_t stride);    /* stride 0 = k */
cg_module *cg_nn_avg_pool2d(int64_t k, int64_t stride);
/* takes ownership of mods[0..n) (frees them all if one is NULL) */
cg_module *cg_nn_sequential(cg_module **mods, int n);
cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x);
/* parameters (trainable tensors) into out[0..cap); returns how many there are */
int cg_module_parameters(cg_module *m, cg_tensor **out, int cap);
/* every named tensor ("0.weight", "1.running_mean", ...): names point into namebuf */
int cg_module_state_dict(cg_module *m, const char **names, char *namebuf, size_t nbsize, cg_tensor **out, int cap);
void cg_module_free(cg_module *m);

/* ---- optimizers (update the parameters' values in place of their tensors) -------------------------- */
typedef struct cg_optim cg_optim;
/* params: float32 tensors with requires_grad; the optimizer keeps pointers, not ownership */
cg_optim *cg_sgd(cg_tensor **params, int n, double lr, double momentum, double weight_decay, int nesterov);
cg_optim *cg_adam(cg_tensor **params, int n, double lr, double b1, double b2, double eps);
cg_optim *cg_adamw(cg_tensor **params, int n, double lr, double b1, double b2, double eps, double wd);
cg_optim *cg_lamb(cg_tensor **params, int n, double lr, double b1, double b2, double eps, double wd);
int cg_optim_step(cg_optim *o);                     /* apply the gradients; 0 on success */
void cg_optim_zero_grad(cg_optim *o);               /* drop the parameters' gradients */
int cg_optim_set_lr(cg_optim *o, double lr);        /* takes effect without recompiling */
double cg_optim_get_lr(const cg_optim *o);
int64_t cg_optim_steps(const cg_optim *o);          /* steps taken */
/* the state tensors (moments, beta powers) into out[0..cap), for checkpoints; returns the count */
int cg_optim_state(cg_optim *o, cg_tensor **out, int cap);
void cg_optim_free(cg_optim *o);
/* scale gradients so their global L2 norm is at most max_norm; returns the norm before */
double cg_clip_grad_norm(cg_tensor **params, int n, double max_norm);
double cg_lr_step(double lr, int64_t t, int64_t step_size, double gamma);   /* lr * gamma^(t/step) */
double cg_lr_cosine(double lr, int64_t t, int64_t total, double min_lr);    /* cosine annealing */
double cg_lr_one_cycle(double max_lr, int64_t t, int64_t total, double pct_start); /* PyTorch OneCycleLR */

/* ---- safetensors files ------------------------------------------------------------------------------ */
typedef struct cg_safetensors cg_safetensors;
/* Map a .safetensors file and validate its whole header; NULL with an error. */
cg_safetensors *cg_safetensors_open(const char *path);
int cg_safetensors_count(const cg_safetensors *f);                     /* number of tensors */
const char *cg_safetensors_name(const cg_safetensors *f, int i);       /* name of tensor i */
const char *cg_safetensors_metadata(const cg_safetensors *f, const char *key); /* or NULL */
/* A new tensor with the named tensor's data, on device (NULL = default). */
cg_tensor *cg_safetensors_get(const cg_safetensors *f, const char *name, const char *device);
void cg_safetensors_close(cg_safetensors *f);
/* Write tensors (and nmeta key/value string pairs in meta_kv) to path, atomically. */
int cg_safetensors_save(const char *path, const char *const *names, cg_tensor *const *ts, int n,
                        const char *const *meta_kv, int nmeta);

/* ---- GGUF files ------------------------------------------------------------------------------------ */
/* GGUF v2/v3 (llama.cpp's format): typed metadata, then tensors in ggml types (F32, F16, BF16 and
   the quantized Q4_0 ... Q8_K). The file is mmap'ed and validated whole on open. Metadata value
   types: 0 uint8, 1 int8, 2 uint16, 3 int16, 4 uint32, 5 int32, 6 float32, 7 bool, 8 string,
   9 array, 10 uint64, 11 int64, 12 float64. Accessors return -1 / NULL with an error. */
typedef struct cg_gguf cg_gguf;
cg_gguf *cg_gguf_open(const char *path);                 /* NULL with an error */
void cg_gguf_close(cg_gguf *f);
int cg_gguf_version(const cg_gguf *f);                    /* 2 or 3 */
uint64_t cg_gguf_alignment(const cg_gguf *f);             /* general.alignment, default 32 */
const char *cg_gguf_value_type_name(int type);            /* "uint8", ..., "float64"; "?" */
const char *cg_gguf_ggml_type_name(int ggml_type);        /* "F32", "Q4_K", ...; "?" */
int64_t cg_gguf_kv_count(const cg_gguf *f);
const char *cg_gguf_kv_key(const cg_gguf *f, int64_t i);  /* key of pair i (file order) */
int cg_gguf_kv_type(const cg_gguf *f, int64_t i);         /* value type of pair i, or -1 */
int64_t cg_gguf_find_key(const cg_gguf *f, const char *key); /* index of key, or -1 (no error) */
int cg_gguf_get_int(const cg_gguf *f, const char *key, int64_t *out);  /* integer/bool values */
int cg_gguf_get_float(const cg_gguf *f, const char *key, double *out); /* any number */
const char *cg_gguf_get_string(const cg_gguf *f, const char *key);     /* owned by f */
int64_t cg_gguf_array_len(const cg_gguf *f, const char *key);          /* -1 if not an array */
int cg_gguf_array_type(const cg_gguf *f, const char *key);             /* element type, or -1 */
const char *cg_gguf_array_string(const cg_gguf *f, const char *key, int64_t i);
int cg_gguf_array_int(const cg_gguf *f, const char *key, int64_t i, int64_t *out);
int cg_gguf_array_float(const cg_gguf *f, const char *key, int64_t i, double *out);
int64_t cg_gguf_tensor_count(const cg_gguf *f);
int64_t cg_gguf_find_tensor(const cg_gguf *f, const char *name);       /* index, or -1 (no error) */
/* Tensor i's name, ggml type, ndim, dims (ggml order: innermost first; unused dims are 1),
   offset within the data section and size in bytes; any out pointer may be NULL. 0 or -1. */
int cg_gguf_tensor_info(const cg_gguf *f, int64_t i, const char **name, int *ggml_type, int *ndim,
                        int64_t dims[4], uint64_t *offset, uint64_t *nbytes);
const void *cg_gguf_tensor_data(const cg_gguf *f, int64_t i);          /* in the map; valid until close */
/* A new tensor (default device) with an F32/F16/BF16 tensor's data as float32/float16/bfloat16;
   its shape is the ggml dims reversed (outermost first). */
cg_tensor *cg_gguf_get_f32(const cg_gguf *f, const char *name);

/* ---- tokenizers ---------------------------------------------------------------------------------- */
/* Tokenizers read from GGUF metadata (tokenizer.ggml.*), as llama.cpp runs them: "llama"
   (SentencePiece BPE by score, byte fallback), "gpt2" (byte-level BPE with the pre-tokenizer named
   by tokenizer.ggml.pre; needs PCRE2) and "bert" (WordPiece; needs utf8proc).
     cg_tokenizer *tk = cg_tokenizer_load("model.gguf");
     int32_t ids[256];
     int n = cg_tokenize(tk, "Hello world", 11, 1, 0, ids, 256);   // n > 256: buffer too small
   A loaded tokenizer is read-only: threads may share it. */
typedef struct cg_tokenizer cg_tokenizer;
cg_tokenizer *cg_tokenizer_from_gguf(const cg_gguf *f);   /* independent of f afterwards; NULL with an error */
cg_tokenizer *cg_tokenizer_load(const char *path);        /* open a GGUF file and read its tokenizer */
void cg_tokenizer_free(cg_tokenizer *t);
/* Encode UTF-8 text[0..len) into out[0..max). add_special: BOS/EOS as the file says ([CLS]/[SEP]
   for bert); parse_special: control-token text such as "<s>" becomes that token (user-defined
   tokens always do). Returns the full count (only the first max written), or -1 with an error. */
int cg_tokenize(cg_tokenizer *t, const char *text, size_t len, int add_special, int parse_special, int32_t *out,
                int max);
/* Decode ids[0..n) to UTF-8 in out (NUL-terminated, cap bytes); control tokens only when
   render_special. Returns the full length in bytes (excluding the NUL), or -1 with an error. */
int cg_detokenize(cg_tokenizer *t, const int32_t *ids, int n, int render_special, char *out, int cap);
int32_t cg_tokenizer_vocab_size(const cg_tokenizer *t);
int32_t cg_tokenizer_bos(const cg_tokenizer *t);          /* BOS ([CLS] for bert) id, or -1 */
int32_t cg_tokenizer_eos(const cg_tokenizer *t);          /* EOS id, or -1 */
const char *cg_tokenizer_token_text(const cg_tokenizer *t, int32_t id); /* as stored; NULL if out of range */

/* ---- quantized weights (ggml block formats) ----------------------------------------------------- */
/* ggml tensor type ids, as stored in GGUF files */
enum { CG_GGML_F32 = 0, CG_GGML_F16 = 1, CG_GGML_Q4_0 = 2, CG_GGML_Q4_1 = 3, CG_GGML_Q5_0 = 6,
       CG_GGML_Q5_1 = 7, CG_GGML_Q8_0 = 8, CG_GGML_Q8_1 = 9, CG_GGML_Q2_K = 10, CG_GGML_Q3_K = 11,
       CG_GGML_Q4_K = 12, CG_GGML_Q5_K = 13, CG_GGML_Q6_K = 14, CG_GGML_Q8_K = 15, CG_GGML_BF16 = 30 };
int cg_ggml_type_from_name(const char *name);      /* "Q4_K" -> 12 (case-insensitive), or -1 */
int cg_ggml_block_size(int ggml_type);             /* elements per block (32, 256, 1...), or -1 */
/* Bytes of n elements of ggml_type (n a multiple of the block size), or -1 with an error. */
int64_t cg_ggml_row_size(int ggml_type, int64_t n);
/* Lazy float32 tensor of `shape` from raw ggml blocks in `bytes` (a uint8 tensor of exactly
   cg_ggml_row_size(type, numel) elements; the last dim a multiple of the block size). Written
   with tensor ops, so it fuses into its consumer: x @ dequant(W) is one kernel. Supported:
   F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K. */
cg_tensor *cg_dequantize(cg_tensor *bytes, int ggml_type, cg_shape shape);
/* A GGUF tensor as a lazy float32 tensor (shape: ggml dims reversed). Its bytes are copied once
   from the map into a device buffer as they are (quantized); the dequantization is lazy. */
cg_tensor *cg_gguf_tensor(const cg_gguf *f, const char *name);
/* Quantize nrows rows of row_len floats into dst (dst_size >= nrows * row size) with ggml's
   reference (non-imatrix) algorithm. Types: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q6_K. */
int cg_quantize_rows(int ggml_type, const float *src, int64_t nrows, int64_t row_len, void *dst, size_t dst_size);

/* ---- GGUF writer ------------------------------------------------------------------------------ */
/* Build a GGUF v3 file in memory, then save it atomically (temporary file + rename: an error
   leaves any existing file untouched). Value types are the reader's (0 uint8 ... 12 float64).
     cg_gguf_writer *w = cg_gguf_writer_new();
     cg_gguf_writer_string(w, "general.name", "tiny");
     cg_gguf_writer_array(w, "ids", 5, 2); cg_gguf_writer_scalar(w, NULL, 5, &a); ...(2 elems)
     cg_gguf_writer_tensor(w, "w", CG_GGML_Q8_0, 2, (int64_t[]){64, 4}, bytes, nbytes);
     cg_gguf_writer_save(w, "out.gguf"); cg_gguf_writer_free(w);
   Inside an open array, values are written with key NULL; an array of arrays takes each inner
   array by cg_gguf_writer_array(w, NULL, etype, n). Errors (-1) say which key is wrong. */
typedef struct cg_gguf_writer cg_gguf_writer;
cg_gguf_writer *cg_gguf_writer_new(void);
void cg_gguf_writer_free(cg_gguf_writer *w);
/* A number or bool of value type `type`; `value` points to that C type (uint8_t ... double). */
int cg_gguf_writer_scalar(cg_gguf_writer *w, const char *key, int type, const void *value);
int cg_gguf_writer_string(cg_gguf_writer *w, const char *key, const char *s);
int cg_gguf_writer_array(cg_gguf_writer *w, const char *key, int elem_type, uint64_t count); /* then count values */
/* Copy metadata pair i of f (any type, nested arrays too) unless the writer already has its key. */
int cg_gguf_writer_copy_kv(cg_gguf_writer *w, const cg_gguf *f, int64_t i);
/* A tensor: dims in ggml order (innermost first); data (nbytes = cg_ggml_row_size of the whole)
   is copied. general.alignment (a uint32 power of two written before save) sets the padding. */
int cg_gguf_writer_tensor(cg_gguf_writer *w, const char *name, int ggml_type, int ndim, const int64_t *dims,
                          const void *data, size_t nbytes);
int cg_gguf_writer_save(cg_gguf_writer *w, const char *path);

/* ---- data sets ------------------------------------------------------------------------------------ */
typedef struct cg_dataset cg_dataset;
/* (Fashion-)MNIST IDX image and label files, gzip-compressed or raw; NULL with an error. */
cg_dataset *cg_idx_load(const char *images_path, const char *labels_path);
int64_t cg_dataset_len(const cg_dataset *d);         /* number of examples */
/* Examples idx[0..n) as new tensors: images float32 (n, 1, rows, cols) in [0, 1], labels int32. */
int cg_dataset_batch(const cg_dataset *d, const int64_t *idx, int n, cg_tensor **images, cg_tensor **labels);
void cg_dataset_free(cg_dataset *d);

#ifdef __cplusplus
}
#endif
#endif
