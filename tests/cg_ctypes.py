"""Minimal ctypes bindings for libcgrad, for tests (see include/cgrad.h for the C API).

    import cg_ctypes as cg
    cg.load()                         # $CGRAD_LIB, else <repo>/build/libcgrad.so
    cg.set_device("INTERP")
    with cg.scope():                  # every tensor made inside is freed at exit
        t = cg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        print(cg.numpy(t.add_s(1).sum(cg.ALL)))

Tensor wraps a cg_tensor*; an op that returns NULL raises CgError with cg_last_error().
bfloat16 has no NumPy dtype: bf16 tensors are read and written as float32 arrays holding
bf16-representable values (see bf16_round).
"""
import contextlib
import ctypes
import os

import numpy as np

MAX_DIMS = 8
END = 2**63 - 1  # CG_END

(BOOL, I8, U8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64) = range(13)
ALL_DTYPES = list(range(13))
NAMES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
         "float16", "bfloat16", "float32", "float64"]
# NumPy dtype holding the values of each cgrad dtype (bf16 values are held as float32)
NP = {BOOL: np.bool_, I8: np.int8, U8: np.uint8, I16: np.int16, U16: np.uint16, I32: np.int32,
      U32: np.uint32, I64: np.int64, U64: np.uint64, F16: np.float16, BF16: np.float32,
      F32: np.float32, F64: np.float64}
FLOATS = [F16, BF16, F32, F64]
SIGNED = [I8, I16, I32, I64]
UNSIGNED = [U8, U16, U32, U64]
INTS = SIGNED + UNSIGNED


def is_float(dt): return dt in FLOATS
def is_int(dt): return dt in INTS
def is_unsigned(dt): return dt in UNSIGNED


def bits(dt): return 8 * np.dtype(NP[dt]).itemsize if dt != BF16 else 16


def bf16_round(x):
    """float -> nearest bfloat16 (round to nearest even on the float32 bits), as float32."""
    x = np.asarray(x, dtype=np.float32)
    u = x.reshape(-1).view(np.uint32).astype(np.uint64)  # 1-d: no 0-d scalar promotion rules
    lsb = (u >> np.uint64(16)) & np.uint64(1)
    r = (u + np.uint64(0x7FFF) + lsb) & np.uint64(0xFFFF0000)
    r = np.where(np.isnan(x.reshape(-1)), u | np.uint64(0x00400000), r)
    return r.astype(np.uint32).view(np.float32).reshape(x.shape)


def as_dtype(x, dt):
    """Round/convert NumPy values to the cgrad dtype `dt` (in NP[dt] representation)."""
    x = np.asarray(x)
    if dt == BF16:
        return bf16_round(x.astype(np.float32))
    return x.astype(NP[dt])


class Shape(ctypes.Structure):
    # var[i] set makes dim i symbolic (a cg_variable*); tests only build concrete shapes
    _fields_ = [("ndim", ctypes.c_int), ("d", ctypes.c_int64 * MAX_DIMS),
                ("var", ctypes.c_void_p * MAX_DIMS)]


class Axes(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int), ("v", ctypes.c_int * MAX_DIMS)]


def shape(dims):
    dims = tuple(int(d) for d in dims)
    assert len(dims) <= MAX_DIMS
    return Shape(len(dims), (ctypes.c_int64 * MAX_DIMS)(*dims))


def axes(ax):
    if ax is ALL:
        return Axes(-1, (ctypes.c_int * MAX_DIMS)())
    ax = (ax,) if isinstance(ax, int) else tuple(ax)
    return Axes(len(ax), (ctypes.c_int * MAX_DIMS)(*ax))


ALL = object()  # CG_ALL

lib = None
_T, _P, _I, _D, _S, _A = ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_double, Shape, Axes

_PROTOS = {
    # name: (restype, argtypes)
    "cg_dtype_name": (ctypes.c_char_p, [_I]),
    "cg_promote": (_I, [_I, _I]),
    "cg_last_error": (ctypes.c_char_p, []),
    "cg_clear_error": (None, []),
    "cg_scope_push": (None, []),
    "cg_scope_pop": (None, []),
    "cg_free": (None, [_T]),
    "cg_shutdown": (None, []),
    "cg_from_data": (_T, [_P, _I, _S, ctypes.c_char_p]),
    "cg_full": (_T, [_S, _D, _I]),
    "cg_zeros": (_T, [_S, _I]),
    "cg_ones": (_T, [_S, _I]),
    "cg_scalar": (_T, [_D, _I]),
    "cg_full_like": (_T, [_T, _D]),
    "cg_arange": (_T, [_D, _D, _D, _I]),
    "cg_eye": (_T, [ctypes.c_int64, _I]),
    "cg_manual_seed": (None, [ctypes.c_uint64]),
    "cg_rand": (_T, [_S, _I]),
    "cg_randn": (_T, [_S, _I]),
    "cg_realize": (_I, [_T]),
    "cg_to_data": (_I, [_T, _P, ctypes.c_size_t]),
    "cg_item": (_D, [_T]),
    "cg_ndim": (_I, [_T]),
    "cg_get_shape": (_S, [_T]),
    "cg_numel": (ctypes.c_int64, [_T]),
    "cg_get_dtype": (_I, [_T]),
    "cg_get_device": (ctypes.c_char_p, [_T]),
    "cg_default_device": (ctypes.c_char_p, []),
    "cg_set_default_device": (_I, [ctypes.c_char_p]),
    "cg_device_available": (_I, [ctypes.c_char_p]),
    "cg_cast": (_T, [_T, _I]),
    "cg_bitcast": (_T, [_T, _I]),
    "cg_where": (_T, [_T, _T, _T]),
    "cg_pad": (_T, [_T, _P, _I, _D]),
    "cg_shrink": (_T, [_T, _P, _I]),
    "cg_reshape": (_T, [_T, _S]),
    "cg_expand": (_T, [_T, _S]),
    "cg_permute": (_T, [_T, _A]),
    "cg_transpose": (_T, [_T, _I, _I]),
    "cg_flip": (_T, [_T, _A]),
    "cg_slice": (_T, [_T, _I, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64]),
    "cg_cat": (_T, [ctypes.POINTER(_T), _I, _I]),
    "cg_stack": (_T, [ctypes.POINTER(_T), _I, _I]),
    "cg_contiguous": (_T, [_T]),
    "cg_to": (_T, [_T, ctypes.c_char_p]),
    "cg_argmax": (_T, [_T, _I, _I]),
    "cg_softmax": (_T, [_T, _I]),
    "cg_log_softmax": (_T, [_T, _I]),
    "cg_layernorm": (_T, [_T, _I, _D]),
    "cg_var": (_T, [_T, _A, _I, _D]),
}
BINARY = ["add", "sub", "mul", "div", "idiv", "mod", "pow", "maximum", "minimum", "lt", "gt",
          "le", "ge", "eq", "ne", "and", "or", "xor", "shl", "shr", "matmul"]
SCALAR = ["add_s", "sub_s", "mul_s", "div_s", "pow_s"]
UNARY = ["neg", "recip", "exp", "exp2", "log", "log2", "sqrt", "rsqrt", "sin", "cos", "tanh",
         "sigmoid", "relu", "gelu", "silu", "abs", "not"]
REDUCE = ["sum", "prod", "max", "min", "mean"]
for _n in BINARY:
    _PROTOS["cg_" + _n] = (_T, [_T, _T])
for _n in SCALAR:
    _PROTOS["cg_" + _n] = (_T, [_T, _D])
for _n in UNARY:
    _PROTOS["cg_" + _n] = (_T, [_T])
for _n in REDUCE:
    _PROTOS["cg_" + _n] = (_T, [_T, _A, _I])


def load(path=None):
    """Load libcgrad (path, else $CGRAD_LIB, else <repo>/build/libcgrad.so) and declare types."""
    global lib
    if path is None:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.environ.get("CGRAD_LIB") or os.path.join(repo, "build", "libcgrad.so")
    lib = ctypes.CDLL(path)
    for name, (res, args) in _PROTOS.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


class CgError(Exception):
    pass


def last_error():
    msg = lib.cg_last_error()
    return msg.decode() if msg else "(no message)"


def _check(ptr, what):
    if not ptr:
        raise CgError(f"{what} returned NULL: {last_error()}")
    return ptr


class Tensor:
    """A cg_tensor* owned by the current scope. Methods mirror cg_* functions."""
    __slots__ = ("ptr",)

    def __init__(self, ptr, what="op"):
        self.ptr = _check(ptr, what)

    # properties
    @property
    def shape(self):
        s = lib.cg_get_shape(self.ptr)
        return tuple(s.d[i] for i in range(s.ndim))

    @property
    def dtype(self): return lib.cg_get_dtype(self.ptr)

    @property
    def device(self): return lib.cg_get_device(self.ptr).decode()

    def numel(self): return lib.cg_numel(self.ptr)
    def item(self): return lib.cg_item(self.ptr)
    def numpy(self): return numpy(self)

    # elementwise / reductions that take an axes argument
    def cast(self, dt): return Tensor(lib.cg_cast(self.ptr, dt), "cg_cast")
    def bitcast(self, dt): return Tensor(lib.cg_bitcast(self.ptr, dt), "cg_bitcast")
    def var(self, ax=ALL, keepdim=False, correction=1.0):
        return Tensor(lib.cg_var(self.ptr, axes(ax), int(keepdim), correction), "cg_var")
    def argmax(self, axis, keepdim=False):
        return Tensor(lib.cg_argmax(self.ptr, axis, int(keepdim)), "cg_argmax")
    def softmax(self, axis): return Tensor(lib.cg_softmax(self.ptr, axis), "cg_softmax")
    def log_softmax(self, axis): return Tensor(lib.cg_log_softmax(self.ptr, axis), "cg_log_softmax")
    def layernorm(self, axis=-1, eps=1e-5):
        return Tensor(lib.cg_layernorm(self.ptr, axis, eps), "cg_layernorm")

    # movement
    def reshape(self, *dims): return Tensor(lib.cg_reshape(self.ptr, shape(dims)), "cg_reshape")
    def expand(self, *dims): return Tensor(lib.cg_expand(self.ptr, shape(dims)), "cg_expand")
    def permute(self, *order): return Tensor(lib.cg_permute(self.ptr, axes(order)), "cg_permute")
    def transpose(self, d0=0, d1=1):
        return Tensor(lib.cg_transpose(self.ptr, d0, d1), "cg_transpose")
    @property
    def T(self): return self.transpose(-2, -1)
    def where(self, a, b):  # self is the condition
        return Tensor(lib.cg_where(self.ptr, a.ptr, b.ptr), "cg_where")
    def flip(self, ax): return Tensor(lib.cg_flip(self.ptr, axes(ax)), "cg_flip")
    def pad(self, pairs, value=0.0):
        arr = (ctypes.c_int64 * (2 * max(len(pairs), 1)))(*[int(v) for p in pairs for v in p])
        return Tensor(lib.cg_pad(self.ptr, ctypes.cast(arr, _P), len(pairs), value), "cg_pad")
    def shrink(self, pairs):
        arr = (ctypes.c_int64 * (2 * max(len(pairs), 1)))(*[int(v) for p in pairs for v in p])
        return Tensor(lib.cg_shrink(self.ptr, ctypes.cast(arr, _P), len(pairs)), "cg_shrink")
    def slice(self, axis, start=None, stop=None, step=1):
        start = END if start is None else start
        stop = END if stop is None else stop
        return Tensor(lib.cg_slice(self.ptr, axis, start, stop, step), "cg_slice")
    def contiguous(self): return Tensor(lib.cg_contiguous(self.ptr), "cg_contiguous")
    def to(self, device): return Tensor(lib.cg_to(self.ptr, device.encode()), "cg_to")
    def full_like(self, v): return Tensor(lib.cg_full_like(self.ptr, v), "cg_full_like")

    # Python operators for readability in chains (tensor operands only, or scalar forms)
    def __add__(self, o): return self.add(o) if isinstance(o, Tensor) else self.add_s(o)
    def __sub__(self, o): return self.sub(o) if isinstance(o, Tensor) else self.sub_s(o)
    def __mul__(self, o): return self.mul(o) if isinstance(o, Tensor) else self.mul_s(o)
    def __truediv__(self, o): return self.div(o) if isinstance(o, Tensor) else self.div_s(o)
    def __neg__(self): return self.neg()
    def __matmul__(self, o): return self.matmul(o)


def _binary(name):
    def op(self, other):
        return Tensor(getattr(lib, "cg_" + name)(self.ptr, other.ptr), "cg_" + name)
    op.__name__ = name
    return op


def _scalar(name):
    def op(self, v):
        return Tensor(getattr(lib, "cg_" + name)(self.ptr, float(v)), "cg_" + name)
    op.__name__ = name
    return op


def _unary(name):
    def op(self):
        return Tensor(getattr(lib, "cg_" + name)(self.ptr), "cg_" + name)
    op.__name__ = name
    return op


def _reduce(name):
    def op(self, ax=ALL, keepdim=False):
        return Tensor(getattr(lib, "cg_" + name)(self.ptr, axes(ax), int(keepdim)), "cg_" + name)
    op.__name__ = name
    return op


for _n in BINARY:
    setattr(Tensor, _n + "_" if _n in ("and", "or") else _n, _binary(_n))
for _n in SCALAR:
    setattr(Tensor, _n, _scalar(_n))
for _n in UNARY:
    setattr(Tensor, _n + "_" if _n == "not" else _n, _unary(_n))
for _n in REDUCE:
    setattr(Tensor, _n, _reduce(_n))


# ---- creation -------------------------------------------------------------------------------
def tensor(values, dt=None, device=None):
    """A tensor holding `values` (a NumPy array or anything np.asarray takes) as dtype `dt`
    (default: inferred from the array). bf16: values are rounded to bf16 via float32."""
    arr = np.asarray(values)
    if dt is None:
        dt = {np.dtype(v): k for k, v in NP.items() if k != BF16}[arr.dtype]
    if dt == BF16:
        return tensor(bf16_round(arr.astype(np.float32)), F32, device).cast(BF16)
    arr = arr.astype(NP[dt], order="C")  # (not np.ascontiguousarray: it makes 0-d arrays 1-d)
    dev = device.encode() if device else None
    return Tensor(lib.cg_from_data(arr.ctypes.data if arr.size else None, dt, shape(arr.shape), dev),
                  "cg_from_data")


def full(dims, value, dt): return Tensor(lib.cg_full(shape(dims), value, dt), "cg_full")
def zeros(dims, dt): return Tensor(lib.cg_zeros(shape(dims), dt), "cg_zeros")
def ones(dims, dt): return Tensor(lib.cg_ones(shape(dims), dt), "cg_ones")
def scalar(value, dt): return Tensor(lib.cg_scalar(value, dt), "cg_scalar")
def arange(start, stop, step, dt): return Tensor(lib.cg_arange(start, stop, step, dt), "cg_arange")
def eye(n, dt): return Tensor(lib.cg_eye(n, dt), "cg_eye")
def rand(dims, dt=F32): return Tensor(lib.cg_rand(shape(dims), dt), "cg_rand")
def randn(dims, dt=F32): return Tensor(lib.cg_randn(shape(dims), dt), "cg_randn")
def manual_seed(seed): lib.cg_manual_seed(seed)


def cat(ts, axis):
    arr = (ctypes.c_void_p * len(ts))(*[t.ptr for t in ts])
    return Tensor(lib.cg_cat(arr, len(ts), axis), "cg_cat")


def stack(ts, axis):
    arr = (ctypes.c_void_p * len(ts))(*[t.ptr for t in ts])
    return Tensor(lib.cg_stack(arr, len(ts), axis), "cg_stack")


def promote(a, b): return lib.cg_promote(a, b)
def dtype_name(dt): return lib.cg_dtype_name(dt).decode()


# ---- reading results ------------------------------------------------------------------------
def numpy(t):
    """Realize t and copy it out as a NumPy array (bf16 comes back as float32)."""
    dt = t.dtype
    raw = np.empty(t.shape, dtype=np.uint16 if dt == BF16 else NP[dt])
    if lib.cg_to_data(t.ptr, raw.ctypes.data if raw.size else None, raw.nbytes) != 0:
        raise CgError(f"cg_to_data failed: {last_error()}")
    if dt == BF16:
        return (raw.reshape(-1).astype(np.uint32) << np.uint32(16)).view(np.float32).reshape(raw.shape)
    return raw


# ---- devices and scopes ---------------------------------------------------------------------
def set_device(name):
    if lib.cg_set_default_device(name.encode()) != 0:
        raise CgError(f"cg_set_default_device({name}): {last_error()}")


def device_available(name): return bool(lib.cg_device_available(name.encode()))


@contextlib.contextmanager
def scope():
    lib.cg_scope_push()
    try:
        yield
    finally:
        lib.cg_scope_pop()
