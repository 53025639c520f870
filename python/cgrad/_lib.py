"""ctypes declarations for libcgrad.so (the C API is documented in include/cgrad.h).

`lib.cg_xxx` resolves a symbol on first use and declares its types; a symbol missing from the
loaded library raises NotImplementedError when it is called for, so the rest keeps working.
"""
import ctypes
import os

MAX_DIMS = 8            # CG_MAX_DIMS
END = 2**63 - 1         # CG_END: an open end in cg_slice


class Shape(ctypes.Structure):
    """cg_shape: {int ndim; int64_t d[8]; cg_variable *var[8];} (passed by value)."""
    _fields_ = [("ndim", ctypes.c_int), ("d", ctypes.c_int64 * MAX_DIMS),
                ("var", ctypes.c_void_p * MAX_DIMS)]


class Axes(ctypes.Structure):
    """cg_axes: {int n; int v[8];}; n == -1 means all axes."""
    _fields_ = [("n", ctypes.c_int), ("v", ctypes.c_int * MAX_DIMS)]


class Stats(ctypes.Structure):
    _fields_ = [("kernels_run", ctypes.c_int64), ("kernels_compiled", ctypes.c_int64),
                ("kernels_cached", ctypes.c_int64), ("schedules", ctypes.c_int64),
                ("buffers_new", ctypes.c_int64), ("flops", ctypes.c_double), ("bytes", ctypes.c_double), ("time_s", ctypes.c_double),
                ("beam_searches", ctypes.c_int64), ("beam_runs", ctypes.c_int64),
                ("beam_hits", ctypes.c_int64), ("beam_rejected", ctypes.c_int64)]


class Config(ctypes.Structure):
    _fields_ = [("debug", ctypes.c_int), ("threads", ctypes.c_int), ("noopt", ctypes.c_int),
                ("beam", ctypes.c_int), ("cachedir", ctypes.c_char_p), ("cc", ctypes.c_char_p),
                ("device", ctypes.c_char_p)]


_T = ctypes.c_void_p                     # cg_tensor *
_TP = ctypes.POINTER(ctypes.c_void_p)    # cg_tensor **
_I, _D, _I64, _STR = ctypes.c_int, ctypes.c_double, ctypes.c_int64, ctypes.c_char_p
_P64 = ctypes.POINTER(ctypes.c_int64)    # const int64_t * (may be NULL)

PROTOS = {  # name: (restype, argtypes)
    # dtypes
    "cg_dtype_name": (_STR, [_I]), "cg_dtype_size": (_I, [_I]), "cg_dtype_is_float": (_I, [_I]),
    "cg_dtype_is_int": (_I, [_I]), "cg_dtype_is_unsigned": (_I, [_I]),
    "cg_dtype_from_name": (_I, [_STR]), "cg_promote": (_I, [_I, _I]),
    # errors, lifetime
    "cg_last_error": (_STR, []), "cg_clear_error": (None, []), "cg_free": (None, [_T]),
    # creation
    "cg_from_data": (_T, [ctypes.c_void_p, _I, Shape, _STR]), "cg_full": (_T, [Shape, _D, _I]),
    "cg_zeros": (_T, [Shape, _I]), "cg_ones": (_T, [Shape, _I]), "cg_scalar": (_T, [_D, _I]),
    "cg_full_like": (_T, [_T, _D]), "cg_arange": (_T, [_D, _D, _D, _I]), "cg_eye": (_T, [_I64, _I]),
    "cg_manual_seed": (None, [ctypes.c_uint64]), "cg_rand": (_T, [Shape, _I]),
    "cg_randn": (_T, [Shape, _I]), "cg_empty": (_T, [Shape, _I]), "cg_randperm": (_T, [_I64, _I]),
    "cg_linspace": (_T, [_D, _D, _I64, _I]), "cg_uniform": (_T, [Shape, _D, _D, _I]),
    "cg_normal": (_T, [Shape, _D, _D, _I]), "cg_randint": (_T, [Shape, _I64, _I64, _I]),
    "cg_scaled_uniform": (_T, [Shape, _I]), "cg_glorot_uniform": (_T, [Shape, _I]),
    "cg_kaiming_uniform": (_T, [Shape, _D, _I]), "cg_kaiming_normal": (_T, [Shape, _D, _I]),
    # reading results
    "cg_realize": (_I, [_T]), "cg_realize_all": (_I, [_TP, _I]),
    "cg_to_data": (_I, [_T, ctypes.c_void_p, ctypes.c_size_t]), "cg_item": (_D, [_T]),
    "cg_ndim": (_I, [_T]), "cg_get_shape": (Shape, [_T]), "cg_numel": (_I64, [_T]),
    "cg_get_dtype": (_I, [_T]), "cg_get_device": (_STR, [_T]),
    # elementwise with arguments
    "cg_where": (_T, [_T, _T, _T]), "cg_pow_s": (_T, [_T, _D]), "cg_lerp": (_T, [_T, _T, _T]),
    "cg_clamp": (_T, [_T, _D, _D]), "cg_hardtanh": (_T, [_T, _D, _D]), "cg_elu": (_T, [_T, _D]),
    "cg_celu": (_T, [_T, _D]), "cg_leaky_relu": (_T, [_T, _D]),
    "cg_isclose": (_T, [_T, _T, _D, _D, _I]), "cg_cast": (_T, [_T, _I]), "cg_bitcast": (_T, [_T, _I]),
    # reductions
    "cg_var": (_T, [_T, Axes, _I, _D]), "cg_argmax": (_T, [_T, _I, _I]),
    "cg_softmax": (_T, [_T, _I]), "cg_log_softmax": (_T, [_T, _I]),
    "cg_layernorm": (_T, [_T, _I, _D]), "cg_index_select": (_T, [_T, _I, _T]),
    "cg_scatter": (_T, [_T, _I, _T, _T]), "cg_scatter_reduce": (_T, [_T, _I, _T, _T, _I, _I]),
    "cg_einsum": (_T, [_STR, _TP, _I]), "cg_sort": (_T, [_T, _I, _I, _TP]),
    "cg_argsort": (_T, [_T, _I, _I]), "cg_topk": (_T, [_T, _I64, _I, _I, _TP]),
    # movement
    "cg_reshape": (_T, [_T, Shape]), "cg_permute": (_T, [_T, Axes]),
    "cg_transpose": (_T, [_T, _I, _I]), "cg_expand": (_T, [_T, Shape]),
    "cg_pad": (_T, [_T, ctypes.c_void_p, _I, _D]), "cg_pad_mode": (_T, [_T, ctypes.c_void_p, _I, _I, _D]),
    "cg_shrink": (_T, [_T, ctypes.c_void_p, _I]),
    "cg_flip": (_T, [_T, Axes]), "cg_slice": (_T, [_T, _I, _I64, _I64, _I64]),
    "cg_cat": (_T, [_TP, _I, _I]), "cg_stack": (_T, [_TP, _I, _I]),
    "cg_contiguous": (_T, [_T]), "cg_to": (_T, [_T, _STR]),
    "cg_unflatten": (_T, [_T, _I, Shape]), "cg_repeat_interleave": (_T, [_T, _I64, _I]),
    "cg_diag": (_T, [_T, _I64]), "cg_diagonal": (_T, [_T]), "cg_meshgrid": (_I, [_TP, _I, _TP]),
    "cg_assign": (_I, [_T, _T]), "cg_assign_region": (_I, [_T, ctypes.c_void_p, _I, _T]),
    # composed ops with arguments
    "cg_logsumexp": (_T, [_T, Axes, _I]), "cg_std": (_T, [_T, Axes, _I, _D]),
    "cg_any": (_T, [_T, Axes, _I]), "cg_all": (_T, [_T, Axes, _I]), "cg_argmin": (_T, [_T, _I, _I]),
    "cg_cumsum": (_T, [_T, _I]), "cg_cumprod": (_T, [_T, _I]), "cg_cummax": (_T, [_T, _I]),
    "cg_floordiv": (_T, [_T, _T]), "cg_floormod": (_T, [_T, _T]), "cg_eye_nm": (_T, [_I64, _I64, _I]),
    "cg_logcumsumexp": (_T, [_T, _I]), "cg_unfold": (_T, [_T, _I, _I64, _I64]), "cg_nonzero": (_T, [_T]),
    "cg_masked_select": (_T, [_T, _T]), "cg_multinomial": (_T, [_T, _I64, _I]), "cg_rmsnorm": (_T, [_T, _I, _D]),
    "cg_gather": (_T, [_T, _I, _T]), "cg_tril": (_T, [_T, _I64]), "cg_triu": (_T, [_T, _I64]),
    "cg_masked_fill": (_T, [_T, _T, _D]), "cg_flatten": (_T, [_T, _I, _I]),
    "cg_squeeze": (_T, [_T, _I]), "cg_unsqueeze": (_T, [_T, _I]), "cg_repeat": (_T, [_T, _P64, _I]),
    "cg_roll": (_T, [_T, _I64, _I]), "cg_split": (_I, [_T, _P64, _I, _I, _TP]),
    "cg_chunk": (_I, [_T, _I, _I, _TP]), "cg_interpolate": (_T, [_T, _P64, _I, _I, _I]),
    "cg_replace": (_I, [_T, _T]), "cg_one_hot": (_T, [_T, _I64]), "cg_assign_lazy": (_I, [_T, _T]),
    # nn
    "cg_conv": (_T, [_T, _T, _T, _I, _P64, _P64, _P64, _I]),
    "cg_conv_transpose": (_T, [_T, _T, _T, _I, _P64, _P64, _P64, _P64, _I]),
    "cg_max_pool": (_T, [_T, _I, _P64, _P64, _P64, _P64]),
    "cg_avg_pool": (_T, [_T, _I, _P64, _P64, _P64, _I]),
    "cg_linear": (_T, [_T, _T, _T]), "cg_batchnorm": (_T, [_T, _T, _T, _T, _T]),
    "cg_batchnorm_train": (_T, [_T, _T, _T, _D, _TP, _TP]),
    "cg_dropout": (_T, [_T, _D, _I]), "cg_scaled_dot_product_attention": (_T, [_T, _T, _T, _T, _I]),
    "cg_cross_entropy": (_T, [_T, _T, _I, _D]), "cg_nll_loss": (_T, [_T, _T, _I, _I64]),
    "cg_sparse_categorical_crossentropy": (_T, [_T, _T, _I64, _D, _I]),
    "cg_binary_crossentropy": (_T, [_T, _T, _I]), "cg_binary_crossentropy_logits": (_T, [_T, _T, _I]),
    "cg_set_training": (_I, [_I]), "cg_is_training": (_I, []),
    # autograd
    "cg_set_requires_grad": (_I, [_T, _I]), "cg_requires_grad": (_I, [_T]),
    "cg_backward": (_I, [_T]), "cg_grad": (_T, [_T]), "cg_zero_grad": (None, [_T]),
    "cg_gradient": (_I, [_T, _TP, _I, _TP]), "cg_detach": (_T, [_T]),
    "cg_set_grad_enabled": (_I, [_I]),
    # devices and stats
    "cg_default_device": (_STR, []), "cg_set_default_device": (_I, [_STR]),
    "cg_synchronize": (_I, [_STR]), "cg_set_profiling": (None, [_I]),
    "cg_device_count": (_I, []), "cg_device_name": (_STR, [_I]),
    "cg_device_available": (_I, [_STR]), "cg_get_stats": (Stats, []), "cg_reset_stats": (None, []),
    "cg_count_kernels": (_I, [_TP, _I]), "cg_get_config": (Config, []),
    # nn layers, optimizers (cg_optim *: a void pointer), safetensors files (cgrad.nn)
    "cg_rmsnorm": (_T, [_T, _I, _D]),
    "cg_sgd": (ctypes.c_void_p, [_TP, _I, _D, _D, _D, _I]),
    "cg_adam": (ctypes.c_void_p, [_TP, _I, _D, _D, _D, _D]),
    "cg_adamw": (ctypes.c_void_p, [_TP, _I, _D, _D, _D, _D, _D]),
    "cg_lamb": (ctypes.c_void_p, [_TP, _I, _D, _D, _D, _D, _D]),
    "cg_optim_step": (_I, [ctypes.c_void_p]), "cg_optim_zero_grad": (None, [ctypes.c_void_p]),
    "cg_optim_set_lr": (_I, [ctypes.c_void_p, _D]), "cg_optim_get_lr": (_D, [ctypes.c_void_p]),
    "cg_optim_steps": (_I64, [ctypes.c_void_p]), "cg_optim_free": (None, [ctypes.c_void_p]),
    "cg_optim_state": (_I, [ctypes.c_void_p, _TP, _I]),
    "cg_clip_grad_norm": (_D, [_TP, _I, _D]),
    "cg_safetensors_open": (ctypes.c_void_p, [_STR]), "cg_safetensors_count": (_I, [ctypes.c_void_p]),
    "cg_safetensors_name": (_STR, [ctypes.c_void_p, _I]),
    "cg_safetensors_metadata": (_STR, [ctypes.c_void_p, _STR]),
    "cg_safetensors_get": (_T, [ctypes.c_void_p, _STR, _STR]),
    "cg_safetensors_close": (None, [ctypes.c_void_p]),
    "cg_safetensors_save": (_I, [_STR, ctypes.POINTER(_STR), _TP, _I, ctypes.POINTER(_STR), _I]),
    # JIT (cg_jit *: a void pointer; the function is a JIT_FN callback)
    "cg_jit_new": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_void_p]),
    "cg_jit_call": (_I, [ctypes.c_void_p, _TP, _I, _TP, _I]),
    "cg_jit_kernels": (_I, [ctypes.c_void_p]), "cg_jit_copies": (_I, [ctypes.c_void_p]),
    "cg_jit_free": (None, [ctypes.c_void_p]),
}
# cg_jit_fn: int (*)(void *userdata, cg_tensor **inputs, int n, cg_tensor **outputs, int max_out)
JIT_FN = ctypes.CFUNCTYPE(_I, ctypes.c_void_p, _TP, _I, _TP, _I)
for _n in ("add", "sub", "mul", "div", "idiv", "mod", "pow", "maximum", "minimum", "lt", "gt", "le",
           "ge", "eq", "ne", "and", "or", "xor", "shl", "shr", "matmul", "fmod", "copysign",
           "logaddexp"):
    PROTOS["cg_" + _n] = (_T, [_T, _T])
for _n in ("neg", "recip", "exp", "exp2", "log", "log2", "sqrt", "rsqrt", "sin", "cos", "tanh",
           "sigmoid", "relu", "gelu", "silu", "abs", "not", "log10", "tan", "asin", "acos", "atan",
           "sinh", "cosh", "atanh", "asinh", "acosh", "erf", "trunc", "floor", "ceil", "round",
           "isnan", "isinf", "isfinite", "square", "sign", "softplus", "logsigmoid", "hardsigmoid",
           "selu", "relu6", "hardswish", "quick_gelu", "mish", "softsign", "bitwise_not",
           "zeros_like", "ones_like", "rand_like", "randn_like"):
    PROTOS["cg_" + _n] = (_T, [_T])
for _n in ("sum", "prod", "max", "min", "mean"):
    PROTOS["cg_" + _n] = (_T, [_T, Axes, _I])


def _candidates():
    if os.environ.get("CGRAD_LIB"):
        return [os.environ["CGRAD_LIB"]]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    built = os.path.join(repo, "build", "libcgrad.so")
    return ([built] if os.path.exists(built) else []) + ["libcgrad.so"]


class _Lib:
    """The loaded library; attributes are its functions, typed from PROTOS on first use."""

    def __init__(self):
        errors = []
        for path in _candidates():
            try:
                self._dll, self.path = ctypes.CDLL(path), path
                return
            except OSError as e:
                errors.append(f"{path}: {e}")
        raise ImportError("cgrad: cannot load libcgrad.so (build it with `make`, or set "
                          "CGRAD_LIB): " + "; ".join(errors))

    def has(self, name):
        return hasattr(self._dll, name)

    def __getattr__(self, name):
        if not name.startswith("cg_"):
            raise AttributeError(name)
        try:
            fn = getattr(self._dll, name)
        except AttributeError:
            raise NotImplementedError(f"{name} is not in {self.path} (not implemented in this "
                                      "build of libcgrad)") from None
        fn.restype, fn.argtypes = PROTOS[name]
        setattr(self, name, fn)
        return fn


lib = _Lib()


# ---- errors: a NULL/-1 from C becomes an exception carrying cg_last_error() ---------------------
def _exception_type(msg):
    m = msg.lower()
    if "out of memory" in m:
        return MemoryError
    if any(k in m for k in ("device", "compile", "kernel", "dlopen")):
        return RuntimeError
    if any(k in m for k in ("dtype", "needs integer", "need integer", "float type", "floats only",
                            "float tensors", "bitcast", "reinterpret")):
        return TypeError
    if any(k in m for k in ("out of range", "out of bounds", "index")):
        return IndexError
    return ValueError


def error():
    """The exception for the last C failure (and clears it)."""
    raw = lib.cg_last_error()
    msg = raw.decode(errors="replace") if raw else "libcgrad call failed (no message)"
    lib.cg_clear_error()
    return _exception_type(msg)(msg)


def check(ptr):
    """ptr, or raise the C error if it is NULL."""
    if not ptr:
        raise error()
    return ptr


def check_rc(rc):
    """Raise the C error for a status of -1."""
    if rc != 0:
        raise error()


# ---- argument builders -----------------------------------------------------------------------
def argfix(*x):
    """tinygrad's argfix: f((2, 3)) and f(2, 3) both give (2, 3)."""
    if x and isinstance(x[0], (tuple, list)):
        if len(x) != 1:
            raise ValueError(f"bad arguments {x}")
        return tuple(x[0])
    return x


def only_defaults(name, **given):
    """Raise for non-default arguments (given as name=(value, default)) the C function lacks."""
    for k, (v, default) in given.items():
        if v is not default and (not isinstance(v, type(default)) or v != default):
            raise NotImplementedError(f"{name}({k}={v!r}): libcgrad supports only {k}={default!r}")


def int64s(values):
    """A ctypes int64 array (for `const int64_t *` arguments)."""
    values = [int(v) for v in values]
    return (ctypes.c_int64 * max(len(values), 1))(*values)


def shape_arg(dims):
    dims = [int(d) for d in dims]
    if len(dims) > MAX_DIMS:
        raise ValueError(f"{len(dims)} dimensions (at most {MAX_DIMS})")
    return Shape(len(dims), (ctypes.c_int64 * MAX_DIMS)(*dims))


def axes_arg(axis):
    """None -> all axes; an int or a sequence of ints."""
    if axis is None:
        return Axes(-1, (ctypes.c_int * MAX_DIMS)())
    ax = [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]
    if len(ax) > MAX_DIMS:
        raise ValueError(f"{len(ax)} axes (at most {MAX_DIMS})")
    return Axes(len(ax), (ctypes.c_int * MAX_DIMS)(*ax))


def pairs_arg(pairs):
    """[(a, b), ...] -> a flat int64 array for `const int64_t (*)[2]`."""
    flat = [int(v) for p in pairs for v in p]
    return (ctypes.c_int64 * max(len(flat), 2))(*flat)


def ptr_array(ptrs):
    return (ctypes.c_void_p * max(len(ptrs), 1))(*ptrs)


def shape_tuple(s):
    return tuple(s.d[i] for i in range(s.ndim))
