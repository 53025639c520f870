"""Tensor: tinygrad's Tensor API as a thin ctypes layer over libcgrad.so.

Every op is a C call (include/cgrad.h); Python only converts arguments. A Tensor owns one C
tensor handle and frees it (cg_free) when it is garbage-collected, so a temporary Tensor must be
held in a variable while its handle is passed to C (never `f(g()._ptr)`). Elementwise functions that
are one C call each are attached from the tables at the end of this file.
"""
import contextlib
import ctypes
import operator

import numpy as np

from ._lib import (END, argfix, axes_arg, check, check_rc, error, int64s, lib, only_defaults,
                   pairs_arg, ptr_array, shape_arg, shape_tuple)
from .creation import CreationMixin, on_device
from .ops_nn import NNMixin
from .device import Device
from .dtype import dtypes, from_value, to_dtype

_CONST = (bool, int, float)
_state = {"no_grad": False, "training": False}


def _wrap(ptr):
    """A Tensor owning the C handle ptr (raises the C error when ptr is NULL)."""
    check(ptr)
    t = Tensor.__new__(Tensor)
    t._ptr = ptr
    return t


def _ptrs(ts):
    return ptr_array([t._ptr for t in ts])


def _resolve_dim(dim, ndim, extra=False):
    total = max(ndim + int(extra), 1)
    if not -total <= dim < total:
        raise IndexError(f"dim={dim} out of range [{-total}, {total - 1}]")
    return dim + total if dim < 0 else dim


def _from_python(data, dt, dev):
    """A Tensor holding a Python/NumPy value, as dtype dt (None: inferred) on device dev."""
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if isinstance(data, _CONST):
        dt = dt or dtypes.from_py(data)
        if not isinstance(data, int) or abs(data) < 2**53:        # exact as a double
            with on_device(dev):
                return _wrap(lib.cg_scalar(float(data), dt.value))  # a constant, like tinygrad
        data = np.asarray(data)
    if isinstance(data, bytes):
        arr, src = np.frombuffer(data, np.uint8), dtypes.uint8
    elif isinstance(data, (list, tuple)):
        arr = np.array(data)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"can't create a Tensor from {type(data).__name__} of {arr.dtype}")
        src = {"b": dtypes.bool, "f": dtypes.default_float}.get(arr.dtype.kind, dtypes.default_int)
    elif isinstance(data, np.ndarray):
        arr, src = data, dtypes.from_np(data.dtype)
    else:
        raise TypeError(f"can't create a Tensor from {type(data).__name__}")
    dt = dt or src
    store = dt if dt.np is not None else dtypes.float32           # bfloat16: cast in C below
    arr = np.asarray(arr, dtype=store.np, order="C")
    t = _wrap(lib.cg_from_data(arr.ctypes.data if arr.size else None, store.value,
                               shape_arg(arr.shape), dev.encode() if dev else None))
    return t if store is dt else t.cast(dt)


class _TensorMeta(type):
    """Class attributes of Tensor that are C library state."""

    @property
    def no_grad(cls):
        """True while no graph for gradients is built (cg_set_grad_enabled(0))."""
        return _state["no_grad"]

    @no_grad.setter
    def no_grad(cls, value):
        if bool(value) != _state["no_grad"]:
            lib.cg_set_grad_enabled(0 if value else 1)
            _state["no_grad"] = bool(value)

    @property
    def training(cls):
        """Training mode (dropout is active): cg_is_training/cg_set_training."""
        return bool(lib.cg_is_training()) if lib.has("cg_is_training") else _state["training"]

    @training.setter
    def training(cls, value):
        _state["training"] = bool(value)
        if lib.has("cg_set_training"):
            lib.cg_set_training(int(bool(value)))


class Tensor(CreationMixin, NNMixin, metaclass=_TensorMeta):
    """A lazy tensor: ops build a graph; realize()/numpy()/tolist() run it."""
    __slots__ = ("_ptr", "__weakref__")

    class train(contextlib.ContextDecorator):
        """`with Tensor.train():` sets Tensor.training for the block."""
        def __init__(self, mode=True): self.mode = mode
        def __enter__(self): self.prev, Tensor.training = Tensor.training, self.mode
        def __exit__(self, *exc): Tensor.training = self.prev

    class test(contextlib.ContextDecorator):
        """`with Tensor.test():` sets Tensor.no_grad for the block."""
        def __init__(self, mode=True): self.mode = mode
        def __enter__(self): self.prev, Tensor.no_grad = Tensor.no_grad, self.mode
        def __exit__(self, *exc): Tensor.no_grad = self.prev

    def __init__(self, data, device=None, dtype=None, requires_grad=None):
        self._ptr = None
        t = _from_python(data, None if dtype is None else to_dtype(dtype),
                         None if device is None else Device.canonicalize(device))
        self._ptr, t._ptr = t._ptr, None
        if requires_grad:
            self.requires_grad = True

    def __del__(self, _free=lib.cg_free):
        if self._ptr:
            _free(self._ptr)
            self._ptr = None

    # ---- properties ------------------------------------------------------------------------------
    @property
    def shape(self): return shape_tuple(lib.cg_get_shape(self._ptr))
    @property
    def dtype(self): return from_value(lib.cg_get_dtype(self._ptr))
    @property
    def device(self): return lib.cg_get_device(self._ptr).decode()
    @property
    def ndim(self): return lib.cg_ndim(self._ptr)
    def numel(self): return lib.cg_numel(self._ptr)
    def element_size(self): return self.dtype.itemsize
    def nbytes(self): return self.numel() * self.element_size()
    def is_floating_point(self): return self.dtype in dtypes.floats

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[_resolve_dim(dim, self.ndim)]

    def __repr__(self):
        return f"<Tensor shape={self.shape} dtype={self.dtype!r} device={self.device!r}>"

    def __hash__(self): return id(self)
    def __bool__(self): raise TypeError("__bool__ on Tensor is not defined")

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # ---- running and reading ---------------------------------------------------------------------
    def realize(self, *lst):
        """Compute this tensor (and lst, in one schedule) now."""
        if lst:
            check_rc(lib.cg_realize_all(_ptrs((self,) + lst), 1 + len(lst)))
        else:
            check_rc(lib.cg_realize(self._ptr))
        return self

    def numpy(self):
        """The values as a NumPy array (bfloat16 comes back as float32)."""
        if self.dtype is dtypes.bfloat16:
            return self.float().numpy()
        out = np.empty(self.shape, dtype=self.dtype.np)
        check_rc(lib.cg_to_data(self._ptr, out.ctypes.data if out.size else None, out.nbytes))
        return out

    def tolist(self): return self.numpy().tolist()
    def data(self): return memoryview(self.numpy())

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            lib.cg_item(self._ptr)            # sets the C error message
            raise error()
        return self.numpy().item()

    # ---- autograd ---------------------------------------------------------------------------------
    @property
    def requires_grad(self): return bool(lib.cg_requires_grad(self._ptr))

    @requires_grad.setter
    def requires_grad(self, value): check_rc(lib.cg_set_requires_grad(self._ptr, int(bool(value))))

    @property
    def grad(self):
        """The accumulated gradient (a new handle to it), or None."""
        g = lib.cg_grad(self._ptr)
        return _wrap(lib.cg_to(g, lib.cg_get_device(g))) if g else None

    @grad.setter
    def grad(self, value):
        if value is not None:
            raise NotImplementedError("only `t.grad = None` is supported (no C API sets a gradient)")
        lib.cg_zero_grad(self._ptr)

    def backward(self):
        """Accumulate d self / d t into t.grad for every t with requires_grad."""
        check_rc(lib.cg_backward(self._ptr))
        return self

    def gradient(self, *targets):
        """[d self / d t for t in targets] as new tensors."""
        out = ptr_array([None] * len(targets))
        check_rc(lib.cg_gradient(self._ptr, _ptrs(targets), len(targets), out))
        return [_wrap(p) for p in out[:len(targets)]]

    def detach(self): return _wrap(lib.cg_detach(self._ptr))

    @staticmethod
    def _wrap(ptr): return _wrap(ptr)

    def _grad_target(self, requires_grad):
        if requires_grad:
            self.requires_grad = True
        return self

    # ---- elementwise --------------------------------------------------------------------------------
    def _const(self, y):
        """A 0-d tensor for the Python scalar y on self's device, with tinygrad's dtype rule:
        self's dtype if self is float, or self is int and y is int; else y's own dtype."""
        if isinstance(y, np.generic):
            y = y.item()
        if not isinstance(y, _CONST):
            raise TypeError(f"unsupported operand type for Tensor: {type(y).__name__}")
        x = self.dtype
        dt = x if x in dtypes.floats or (x in dtypes.ints and isinstance(y, int)) else dtypes.from_py(y)
        with on_device(self.device):
            return _wrap(lib.cg_scalar(float(y), dt.value))

    def _binop(self, fn, x, reverse=False):
        y = x if isinstance(x, Tensor) else self._const(x)
        a, b = (y, self) if reverse else (self, y)
        return _wrap(fn(a._ptr, b._ptr))

    def add(self, x, reverse=False): return self._binop(lib.cg_add, x, reverse)
    def sub(self, x, reverse=False): return self._binop(lib.cg_sub, x, reverse)
    def mul(self, x, reverse=False): return self._binop(lib.cg_mul, x, reverse)
    def maximum(self, x): return self._binop(lib.cg_maximum, x)
    def minimum(self, x): return self._binop(lib.cg_minimum, x)
    def eq(self, x): return self._binop(lib.cg_eq, x)
    def ne(self, x): return self._binop(lib.cg_ne, x)
    def bitwise_and(self, x, reverse=False): return self._binop(lib.cg_and, x, reverse)
    def bitwise_or(self, x, reverse=False): return self._binop(lib.cg_or, x, reverse)
    def bitwise_xor(self, x, reverse=False): return self._binop(lib.cg_xor, x, reverse)
    def lshift(self, x, reverse=False): return self._binop(lib.cg_shl, x, reverse)
    def rshift(self, x, reverse=False): return self._binop(lib.cg_shr, x, reverse)
    def fmod(self, x): return self._binop(lib.cg_fmod, x)
    def mod(self, x, reverse=False):
        """Python's %: the remainder has the divisor's sign (tinygrad's mod)."""
        return self._binop(lib.cg_floormod, x, reverse)
    def __mod__(self, x): return self.mod(x)
    def __rmod__(self, x): return self.mod(x, True)
    def copysign(self, other): return self._binop(lib.cg_copysign, other)
    def logaddexp(self, other): return self._binop(lib.cg_logaddexp, other)

    def pow(self, x, reverse=False):
        if not reverse and not isinstance(x, Tensor) and self.dtype in dtypes.floats:
            return _wrap(lib.cg_pow_s(self._ptr, float(x)))     # exact x**2, sqrt for x**0.5
        return self._binop(lib.cg_pow, x, reverse)

    def div(self, x, reverse=False, rounding_mode=None):
        """True division; rounding_mode "trunc" or "floor" rounds the quotient."""
        if rounding_mode not in (None, "trunc", "floor"):
            raise RuntimeError(f"rounding_mode={rounding_mode!r} is not supported")
        a, b = (x if isinstance(x, Tensor) else self._const(x)), self
        a, b = (a, b) if reverse else (b, a)
        ints = a.dtype in dtypes.ints and b.dtype in dtypes.ints
        if ints and rounding_mode == "trunc":
            return _wrap(lib.cg_idiv(a._ptr, b._ptr))
        if ints and rounding_mode == "floor":
            return _wrap(lib.cg_floordiv(a._ptr, b._ptr))
        q = _wrap(lib.cg_div(a._ptr, b._ptr))
        return q if rounding_mode is None else q.trunc() if rounding_mode == "trunc" else q.floor()

    def where(self, x, y):
        """self ? x : y (self is the condition)."""
        if isinstance(x, Tensor):
            y = y if isinstance(y, Tensor) else x._const(y)
        elif isinstance(y, Tensor):
            x = y._const(x)
        else:
            x, y = self._const(x), self._const(y)
        return _wrap(lib.cg_where(self._ptr, x._ptr, y._ptr))

    def lerp(self, end, weight):
        w = weight if isinstance(weight, Tensor) else self._const(weight)
        return _wrap(lib.cg_lerp(self._ptr, end._ptr, w._ptr))

    def clamp(self, min_=None, max_=None):
        if min_ is None and max_ is None:
            raise RuntimeError("at least one of 'min_' or 'max_' must not be None")
        if isinstance(min_, _CONST) and isinstance(max_, _CONST):
            return _wrap(lib.cg_clamp(self._ptr, float(min_), float(max_)))
        x = self if min_ is None else self.maximum(min_)
        return x if max_ is None else x.minimum(max_)

    def clip(self, min_=None, max_=None): return self.clamp(min_, max_)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        o = other if isinstance(other, Tensor) else self._const(other)
        return _wrap(lib.cg_isclose(self._ptr, o._ptr, float(rtol), float(atol), int(equal_nan)))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return self.isclose(other, rtol, atol, equal_nan).all()

    def logical_not(self):
        x = self if self.dtype is dtypes.bool else self.cast(dtypes.bool)
        return _wrap(lib.cg_not(x._ptr))

    def gelu(self, approximate="tanh"):
        if approximate == "none":  # the exact form, through cg_erf
            return self * 0.5 * ((self * (2 ** -0.5)).erf() + 1)
        only_defaults("gelu", approximate=(approximate, "tanh"))
        return _wrap(lib.cg_gelu(self._ptr))

    def isinf(self, detect_positive=True, detect_negative=True):
        if detect_positive and detect_negative:
            return _wrap(lib.cg_isinf(self._ptr))
        pos, neg = (self == float("inf")), (self == float("-inf"))
        return (pos if detect_positive else pos & False) | (neg if detect_negative else neg & False)

    def softplus(self, beta=1.0):
        if beta == 1.0:
            return _wrap(lib.cg_softplus(self._ptr))
        return (self * beta).softplus() * (1.0 / beta)

    def hardsigmoid(self, alpha=1 / 6, beta=0.5):
        only_defaults("hardsigmoid", alpha=(alpha, 1 / 6), beta=(beta, 0.5))
        return _wrap(lib.cg_hardsigmoid(self._ptr))

    def selu(self, alpha=1.67326, gamma=1.0507):
        only_defaults("selu", alpha=(alpha, 1.67326), gamma=(gamma, 1.0507))
        return _wrap(lib.cg_selu(self._ptr))

    def elu(self, alpha=1.0): return _wrap(lib.cg_elu(self._ptr, float(alpha)))
    def celu(self, alpha=1.0): return _wrap(lib.cg_celu(self._ptr, float(alpha)))
    def leaky_relu(self, neg_slope=0.01): return _wrap(lib.cg_leaky_relu(self._ptr, float(neg_slope)))

    def hardtanh(self, min_val=-1, max_val=1):
        return _wrap(lib.cg_hardtanh(self._ptr, float(min_val), float(max_val)))

    def cast(self, dtype): return _wrap(lib.cg_cast(self._ptr, to_dtype(dtype).value))
    def bitcast(self, dtype): return _wrap(lib.cg_bitcast(self._ptr, to_dtype(dtype).value))
    def float(self): return self.cast(dtypes.float32)
    def half(self): return self.cast(dtypes.float16)
    def double(self): return self.cast(dtypes.float64)
    def bfloat16(self): return self.cast(dtypes.bfloat16)
    def int(self): return self.cast(dtypes.int32)
    def long(self): return self.cast(dtypes.int64)
    def short(self): return self.cast(dtypes.int16)
    def bool(self): return self.cast(dtypes.bool)

    # ---- operators (in-place forms rebind this handle to the new lazy value) ---------------------
    def __neg__(self): return self.neg()
    def __abs__(self): return self.abs()
    def __invert__(self): return self.bitwise_not()
    def __add__(self, x): return self.add(x)
    def __sub__(self, x): return self.sub(x)
    def __mul__(self, x): return self.mul(x)
    def __truediv__(self, x): return self.div(x)
    def __floordiv__(self, x): return self.div(x, rounding_mode="floor")
    def __pow__(self, x): return self.pow(x)
    def __matmul__(self, x): return self.matmul(x)
    def __and__(self, x): return self.bitwise_and(x)
    def __or__(self, x): return self.bitwise_or(x)
    def __xor__(self, x): return self.bitwise_xor(x)
    def __lshift__(self, x): return self.lshift(x)
    def __rshift__(self, x): return self.rshift(x)
    def __radd__(self, x): return self.add(x, True)
    def __rsub__(self, x): return self.sub(x, True)
    def __rmul__(self, x): return self.mul(x, True)
    def __rtruediv__(self, x): return self.div(x, True)
    def __rfloordiv__(self, x): return self.div(x, True, rounding_mode="floor")
    def __rpow__(self, x): return self.pow(x, True)
    def __rmatmul__(self, x): return self.matmul(x, True)
    def __rand__(self, x): return self.bitwise_and(x, True)
    def __ror__(self, x): return self.bitwise_or(x, True)
    def __rxor__(self, x): return self.bitwise_xor(x, True)
    def __rlshift__(self, x): return self.lshift(x, True)
    def __rrshift__(self, x): return self.rshift(x, True)
    def __iadd__(self, x): return self._rebind(self.add(x))
    def __isub__(self, x): return self._rebind(self.sub(x))
    def __imul__(self, x): return self._rebind(self.mul(x))
    def __itruediv__(self, x): return self._rebind(self.div(x))
    def __ifloordiv__(self, x): return self._rebind(self.__floordiv__(x))
    def __ipow__(self, x): return self._rebind(self.pow(x))
    def __imatmul__(self, x): return self._rebind(self.matmul(x))
    def __iand__(self, x): return self._rebind(self.bitwise_and(x))
    def __ior__(self, x): return self._rebind(self.bitwise_or(x))
    def __ixor__(self, x): return self._rebind(self.bitwise_xor(x))
    def __ilshift__(self, x): return self._rebind(self.lshift(x))
    def __irshift__(self, x): return self._rebind(self.rshift(x))
    def __lt__(self, x): return self._binop(lib.cg_lt, x)
    def __gt__(self, x): return self._binop(lib.cg_gt, x)
    def __le__(self, x): return self._binop(lib.cg_le, x)
    def __ge__(self, x): return self._binop(lib.cg_ge, x)
    def __eq__(self, x): return self._binop(lib.cg_eq, x)
    def __ne__(self, x): return self._binop(lib.cg_ne, x)

    def _rebind(self, new):
        """In-place op: this tensor takes the new lazy value, keeping requires_grad and grad."""
        if new.dtype is not self.dtype:
            raise RuntimeError(f"assign dtype mismatch {self.dtype} != {new.dtype}")
        return self.replace(new.expand(self.shape))

    def replace(self, x):
        """Take x's (lazy) value, keeping this tensor's identity (cg_replace: same shape and dtype)."""
        check_rc(lib.cg_replace(self._ptr, x._ptr))
        return self

    def _value(self, x):
        """x as a Tensor on self's device and of self's dtype (tinygrad's assign rules)."""
        if not isinstance(x, Tensor):
            return Tensor(x, device=self.device, dtype=self.dtype)
        if x.dtype is not self.dtype:
            raise RuntimeError(f"assign dtype mismatch {self.dtype} != {x.dtype}")
        if x.device != self.device:
            raise RuntimeError(f"assign device mismatch {self.device} != {x.device}")
        return x

    def assign(self, x):
        """Write x into this tensor's buffer now (cg_assign): every holder of it sees the value."""
        v = self._value(x)            # a local: the handle must outlive the C call
        check_rc(lib.cg_assign(self._ptr, v._ptr))
        return self

    # ---- reductions ----------------------------------------------------------------------------------
    def _reduce(self, fn, axis, keepdim):
        return _wrap(fn(self._ptr, axes_arg(axis), int(keepdim)))

    def sum(self, axis=None, keepdim=False, dtype=None):
        return (self if dtype is None else self.cast(dtype))._reduce(lib.cg_sum, axis, keepdim)

    def prod(self, axis=None, keepdim=False, dtype=None):
        return (self if dtype is None else self.cast(dtype))._reduce(lib.cg_prod, axis, keepdim)

    def max(self, axis=None, keepdim=False): return self._reduce(lib.cg_max, axis, keepdim)
    def min(self, axis=None, keepdim=False): return self._reduce(lib.cg_min, axis, keepdim)
    def mean(self, axis=None, keepdim=False): return self._reduce(lib.cg_mean, axis, keepdim)
    def any(self, axis=None, keepdim=False): return self._reduce(lib.cg_any, axis, keepdim)
    def all(self, axis=None, keepdim=False): return self._reduce(lib.cg_all, axis, keepdim)

    def var(self, axis=None, keepdim=False, correction=1):
        return _wrap(lib.cg_var(self._ptr, axes_arg(axis), int(keepdim), float(correction)))

    def std(self, axis=None, keepdim=False, correction=1):
        return _wrap(lib.cg_std(self._ptr, axes_arg(axis), int(keepdim), float(correction)))

    def logsumexp(self, axis=None, keepdim=False): return self._reduce(lib.cg_logsumexp, axis, keepdim)

    def var_mean(self, axis=None, keepdim=False, correction=1):
        return self.var(axis, keepdim, correction), self.mean(axis, keepdim)

    def std_mean(self, axis=None, keepdim=False, correction=1):
        return self.std(axis, keepdim, correction), self.mean(axis, keepdim)

    def argmax(self, axis=None, keepdim=False):
        if axis is None:
            return self.flatten().argmax(0)
        return _wrap(lib.cg_argmax(self._ptr, int(axis), int(keepdim)))

    def argmin(self, axis=None, keepdim=False):
        if axis is None:
            return self.flatten().argmin(0)
        return _wrap(lib.cg_argmin(self._ptr, int(axis), int(keepdim)))

    def cumsum(self, axis=0): return _wrap(lib.cg_cumsum(self._ptr, int(axis)))
    def cummax(self, axis=0):
        """(running maximum, index where it was last reached) along axis, as tinygrad."""
        values = _wrap(lib.cg_cummax(self._ptr, int(axis)))
        n = self.shape[axis] if self.ndim else 1
        shape = [1] * self.ndim
        if self.ndim:
            shape[axis] = n
        pos = Tensor.arange(n).reshape(*shape) if self.ndim else Tensor(0)
        hit = (self == values).where(pos.expand(*self.shape) if self.ndim else pos, -1)
        return values, _wrap(lib.cg_cummax(hit._ptr, int(axis)))
    def cummin(self, axis=0):
        values, idx = (-self).cummax(axis)
        return -values, idx
    def logcumsumexp(self, axis=0): return _wrap(lib.cg_logcumsumexp(self._ptr, int(axis)))
    def unfold(self, dim, size, step): return _wrap(lib.cg_unfold(self._ptr, int(dim), int(size), int(step)))
    def nonzero(self): return _wrap(lib.cg_nonzero(self._ptr))
    def masked_select(self, mask): return _wrap(lib.cg_masked_select(self._ptr, mask._ptr))
    def multinomial(self, num_samples=1, replacement=False):
        return _wrap(lib.cg_multinomial(self._ptr, int(num_samples), int(bool(replacement))))
    def rmsnorm(self, axis=-1, eps=1e-6):
        """x / sqrt(mean(x^2) + eps) over `axis` (an int, or trailing axes as a tuple)."""
        if not isinstance(axis, int):
            axis = min(a + self.ndim if a < 0 else a for a in axis)
        return _wrap(lib.cg_rmsnorm(self._ptr, int(axis), float(eps)))
    def cumprod(self, axis): return _wrap(lib.cg_cumprod(self._ptr, int(axis)))

    def softmax(self, axis=-1, dtype=None):
        x = self if dtype is None else self.cast(dtype)       # (a local keeps the handle alive)
        return _wrap(lib.cg_softmax(x._ptr, int(axis)))

    def log_softmax(self, axis=-1, dtype=None):
        x = self if dtype is None else self.cast(dtype)
        return _wrap(lib.cg_log_softmax(x._ptr, int(axis)))

    def layernorm(self, axis=-1, eps=1e-5):
        """Normalize over `axis` (an int or a tuple; libcgrad needs the trailing axes)."""
        axes, nd = ([axis] if isinstance(axis, int) else list(axis)), self.ndim
        norm = sorted(a + nd if a < 0 else a for a in axes)
        bad = [a for a in axes if not -nd <= a < nd]
        if not bad and norm != list(range(norm[0], nd)):  # other axes: the same formula by ops
            y = self - self.mean(axis=tuple(norm), keepdim=True)
            return y * (y * y).mean(axis=tuple(norm), keepdim=True).add(eps).rsqrt()
        return _wrap(lib.cg_layernorm(self._ptr, bad[0] if bad else norm[0], float(eps)))

    def matmul(self, x, reverse=False, dtype=None):
        a, b = (x, self) if reverse else (self, x)
        if dtype is not None:
            a, b = a.cast(dtype), b.cast(dtype)
        return _wrap(lib.cg_matmul(a._ptr, b._ptr))

    def dot(self, w, dtype=None): return self.matmul(w, dtype=dtype)

    @staticmethod
    def einsum(formula, *operands):
        ts = argfix(*operands)
        return _wrap(lib.cg_einsum(formula.encode(), _ptrs(ts), len(ts)))

    def _with_indices(self, fn, *args):
        idx = ctypes.c_void_p()
        vals = _wrap(fn(self._ptr, *args, ctypes.byref(idx)))
        return vals, _wrap(idx.value)

    def sort(self, dim=-1, descending=False):
        """(values, int32 indices), stable."""
        return self._with_indices(lib.cg_sort, int(dim), int(descending))

    def argsort(self, dim=-1, descending=False):
        return _wrap(lib.cg_argsort(self._ptr, int(dim), int(descending)))

    def topk(self, k, dim=-1, largest=True, sorted_=True):
        """(values, int32 indices) of the k largest (smallest) along dim, sorted."""
        return self._with_indices(lib.cg_topk, int(k), int(dim), int(largest))

    def scatter(self, dim, index, src, reduce=None):
        if reduce not in (None, "add", "multiply"):
            raise TypeError(f"reduce={reduce!r} must be one of None, 'multiply', or 'add'")
        if not isinstance(src, Tensor):
            src = index.full_like(src, dtype=self.dtype)
        elif reduce:
            raise TypeError("non-scalar src is not supported with reduce arg. use scatter_reduce")
        if reduce:
            return self.scatter_reduce(dim, index, src, "sum" if reduce == "add" else "prod")
        return _wrap(lib.cg_scatter(self._ptr, int(dim), index._ptr, src._ptr))

    def scatter_reduce(self, dim, index, src, reduce, include_self=True):
        modes = {"sum": 1, "prod": 2, "amax": 3, "amin": 4, "mean": 5}    # CG_SCATTER_*
        if reduce not in modes:
            raise TypeError(f"reduce={reduce!r} must be one of {', '.join(modes)}")
        return _wrap(lib.cg_scatter_reduce(self._ptr, int(dim), index._ptr, src._ptr,
                                           modes[reduce], int(include_self)))

    # ---- movement --------------------------------------------------------------------------------------
    def reshape(self, shape, *args):
        cur = self.shape
        new = [cur[i] if s is None else s for i, s in enumerate(argfix(shape, *args))]
        return _wrap(lib.cg_reshape(self._ptr, shape_arg(new)))

    def view(self, shape, *args): return self.reshape(shape, *args)

    def expand(self, shape, *args):
        new = [-1 if s is None else s for s in argfix(shape, *args)]
        return _wrap(lib.cg_expand(self._ptr, shape_arg(new)))

    def permute(self, order, *args): return _wrap(lib.cg_permute(self._ptr, axes_arg(argfix(order, *args))))
    def flip(self, axis, *args): return _wrap(lib.cg_flip(self._ptr, axes_arg(argfix(axis, *args))))
    def transpose(self, dim0=1, dim1=0): return _wrap(lib.cg_transpose(self._ptr, int(dim0), int(dim1)))
    @property
    def T(self): return self.transpose()

    def pad(self, padding, mode="constant", value=0.0):
        """Flat (torch order: last dim first) or one (before, after)/None pair per dim."""
        modes = {"constant": 0, "reflect": 1, "replicate": 2, "circular": 3}   # CG_PAD_*
        if mode not in modes:
            raise NotImplementedError(f"mode={mode!r} is not supported")
        if all(isinstance(p, int) for p in padding):
            if len(padding) % 2:
                raise ValueError("Flat padding must have even number of pads")
            pairs = [(padding[i], padding[i + 1]) for i in range(len(padding) - 2, -1, -2)]
            pairs = [(0, 0)] * (self.ndim - len(pairs)) + pairs
        else:
            pairs = [(0, 0) if p is None else p for p in padding]
        if any(b < 0 or a < 0 for b, a in pairs):  # negative amounts crop first (tinygrad)
            shape = self.shape
            crop = [(max(-b, 0), shape[i] - max(-a, 0)) for i, (b, a) in enumerate(pairs)]
            return self.shrink(crop).pad([(max(b, 0), max(a, 0)) for b, a in pairs], mode, value)
        return _wrap(lib.cg_pad_mode(self._ptr, pairs_arg(pairs), len(pairs), modes[mode], float(value)))

    def shrink(self, arg):
        """One (begin, end) or None per dim."""
        shape = self.shape
        pairs = [(0, shape[i] if i < len(shape) else 0) if p is None else p for i, p in enumerate(arg)]
        return _wrap(lib.cg_shrink(self._ptr, pairs_arg(pairs), len(pairs)))

    def flatten(self, start_dim=0, end_dim=-1):
        return _wrap(lib.cg_flatten(self._ptr, int(start_dim), int(end_dim)))

    def unflatten(self, dim, sizes): return _wrap(lib.cg_unflatten(self._ptr, int(dim), shape_arg(sizes)))

    def unsqueeze(self, dim): return _wrap(lib.cg_unsqueeze(self._ptr, int(dim)))

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        return _wrap(lib.cg_squeeze(self._ptr, int(dim)))

    def repeat(self, repeats, *args):
        reps = argfix(repeats, *args)
        return _wrap(lib.cg_repeat(self._ptr, int64s(reps), len(reps)))

    def roll(self, shifts, dims=None):
        """torch.roll: dims None rolls the flattened tensor."""
        if dims is None:
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shifts, dims = ((shifts,), (dims,)) if isinstance(dims, int) else (tuple(argfix(shifts)), tuple(dims))
        if len(shifts) != len(dims):
            raise RuntimeError(f"shifts ({len(shifts)}) and dims ({len(dims)}) must have the same length")
        x = self
        for s, d in zip(shifts, dims):
            x = _wrap(lib.cg_roll(x._ptr, int(s), int(d)))
        return x

    def split(self, sizes, dim=0):
        """Views of `sizes` along dim (an int: pieces of that size, the last may be smaller)."""
        if isinstance(sizes, int):
            n = self.shape[_resolve_dim(dim, self.ndim)]
            sizes = [min(sizes, n - i) for i in range(0, n, max(sizes, 1))] or [0]
        out = ptr_array([None] * len(sizes))
        n = lib.cg_split(self._ptr, int64s(sizes), len(sizes), int(dim), out)
        if n < 0:
            raise error()
        return tuple(_wrap(p) for p in out[:n])

    def chunk(self, chunks, dim=0):
        out = ptr_array([None] * max(int(chunks), 1))
        n = lib.cg_chunk(self._ptr, int(chunks), int(dim), out)
        if n < 0:
            raise error()
        return [_wrap(p) for p in out[:n]]

    def gather(self, dim, index): return _wrap(lib.cg_gather(self._ptr, int(dim), index._ptr))
    def tril(self, diagonal=0): return _wrap(lib.cg_tril(self._ptr, int(diagonal)))
    def triu(self, diagonal=0): return _wrap(lib.cg_triu(self._ptr, int(diagonal)))

    def sequential(self, ll):
        """Apply the callables in ll in order."""
        x = self
        for f in ll:
            x = f(x)
        return x

    def masked_fill(self, mask, value):
        if isinstance(value, Tensor):
            return mask.where(value, self)
        return _wrap(lib.cg_masked_fill(self._ptr, mask._ptr, float(value)))

    def repeat_interleave(self, repeats, dim=None):
        x = self.flatten() if dim is None else self
        return _wrap(lib.cg_repeat_interleave(x._ptr, int(repeats), 0 if dim is None else int(dim)))

    def diag(self): return _wrap(lib.cg_diag(self._ptr, 0))

    def diagonal(self, offset=0, dim1=0, dim2=1):
        only_defaults("diagonal", offset=(offset, 0))
        nd = self.ndim
        d1, d2 = _resolve_dim(dim1, nd), _resolve_dim(dim2, nd)
        x = self.permute([d for d in range(nd) if d not in (d1, d2)] + [d1, d2])   # C: last two dims
        return _wrap(lib.cg_diagonal(x._ptr))

    def meshgrid(self, *args, indexing="ij"):
        if indexing not in ("ij", "xy"):
            raise RuntimeError(f"indexing={indexing!r} must be 'ij' or 'xy'")
        ts = (self,) + args
        out = ptr_array([None] * len(ts))
        check_rc(lib.cg_meshgrid(_ptrs(ts), len(ts), out))
        grids = [_wrap(p) for p in out[:len(ts)]]
        return tuple(g.transpose(0, 1) for g in grids) if indexing == "xy" and len(ts) > 1 else tuple(grids)

    def contiguous(self): return _wrap(lib.cg_contiguous(self._ptr))
    def clone(self): return self.contiguous()

    def to(self, device):
        device = Device.canonicalize(device)
        return self if device == self.device else _wrap(lib.cg_to(self._ptr, device.encode()))

    def to_(self, device):
        """Move to device in place (this tensor object takes the copy)."""
        moved = self.to(device)
        return self if moved is self else self.replace(moved)

    def cat(self, *args, dim=0):
        ts = (self,) + args
        return _wrap(lib.cg_cat(_ptrs(ts), len(ts), int(dim)))

    def stack(self, *args, dim=0):
        ts = (self,) + args
        return _wrap(lib.cg_stack(_ptrs(ts), len(ts), int(dim)))

    # ---- indexing ---------------------------------------------------------------------------------
    def _parse_index(self, indices):
        """tinygrad's index normalization: a list of int | slice | None | Tensor, one per dim."""
        idx = list(indices) if isinstance(indices, tuple) else [indices]
        for k, i in enumerate(idx):
            if isinstance(i, list):
                idx[k] = i = Tensor(i, device=self.device)
            if not (i is None or i is Ellipsis or isinstance(i, (slice, Tensor)) or
                    (isinstance(i, (int, np.integer)) and not isinstance(i, bool))):
                raise IndexError(f"{type(i).__name__} indexing is not supported")
        ell = [k for k, i in enumerate(idx) if i is Ellipsis]      # (`is`: Tensor == is elementwise)
        if len(ell) > 1:
            raise IndexError("indices can only have a single ellipsis")
        nd, nreal = self.ndim, sum(1 for i in idx if i is not None and i is not Ellipsis)
        if nreal > nd:
            raise IndexError(f"too many indices ({nreal}) for {nd}D")
        fill = ell[0] if ell else len(idx)
        idx[fill:fill + 1] = [slice(None)] * (nd - nreal)
        return idx

    def __getitem__(self, indices):
        """ints, slices (with steps), None, Ellipsis and one integer Tensor/list index."""
        idx = self._parse_index(indices)
        if sum(isinstance(i, Tensor) for i in idx) > 1:
            raise NotImplementedError("indexing with more than one tensor")
        t, axis, keep, tensor_at = self, 0, [], None     # keep: source axis per output dim (None: new)
        for i in idx:
            if i is None:
                keep.append(None)
                continue
            if isinstance(i, Tensor):
                tensor_at = (len(keep), i)
                keep.append(axis)
            elif isinstance(i, slice):
                if i != slice(None):
                    start, stop = (END if v is None else operator.index(v) for v in (i.start, i.stop))
                    step = 1 if i.step is None else operator.index(i.step)
                    t = _wrap(lib.cg_slice(t._ptr, axis, start, stop, step))
                keep.append(axis)
            else:
                i = operator.index(i)
                b = i + t.shape[axis] if i < 0 else i
                t = t.shrink([(b, b + 1) if a == axis else None for a in range(self.ndim)])
            axis += 1
        shape = t.shape
        out = tuple(1 if k is None else shape[k] for k in keep)
        t = t if out == shape and t is not self else t.reshape(out)
        return t if tensor_at is None else _wrap(lib.cg_index_select(t._ptr, tensor_at[0], tensor_at[1]._ptr))

    def __setitem__(self, indices, v):
        """self[ints and step-1 slices] = v, written into the buffer now (cg_assign_region)."""
        region, view, shape, axis = [], [], self.shape, 0     # view: the shape self[indices] has
        for i in self._parse_index(indices):
            if i is None:
                continue
            if isinstance(i, slice):
                start, stop, step = i.indices(shape[axis])
                if step != 1:
                    raise NotImplementedError("setitem with a slice step other than 1")
                region.append((start, max(start, stop)))
                view.append(region[-1][1] - start)
            elif isinstance(i, Tensor):
                raise NotImplementedError("setitem with a tensor index")
            else:
                i = operator.index(i)
                b = i + shape[axis] if i < 0 else i
                region.append((b, b + 1))
            axis += 1
        v = self._value(v).expand(view).reshape([e - b for b, e in region])   # broadcast as numpy
        check_rc(lib.cg_assign_region(self._ptr, pairs_arg(region), len(region), v._ptr))


def _unary(cname, name, doc):
    def op(self):
        return _wrap(getattr(lib, cname)(self._ptr))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


# tinygrad name -> (C function, docstring): elementwise ops that are one C call with no arguments
_UNARY = {
    "neg": ("cg_neg", "-self"), "reciprocal": ("cg_recip", "1 / self"), "exp": ("cg_exp", "e ** self"),
    "exp2": ("cg_exp2", "2 ** self"), "log": ("cg_log", "natural logarithm"),
    "log2": ("cg_log2", "base-2 logarithm"), "log10": ("cg_log10", "base-10 logarithm"),
    "sqrt": ("cg_sqrt", "square root"), "rsqrt": ("cg_rsqrt", "1 / sqrt(self)"),
    "sin": ("cg_sin", "sine"), "cos": ("cg_cos", "cosine"), "tan": ("cg_tan", "tangent"),
    "asin": ("cg_asin", "arcsine"), "acos": ("cg_acos", "arccosine"), "atan": ("cg_atan", "arctangent"),
    "sinh": ("cg_sinh", "hyperbolic sine"), "cosh": ("cg_cosh", "hyperbolic cosine"),
    "tanh": ("cg_tanh", "hyperbolic tangent"), "asinh": ("cg_asinh", "inverse hyperbolic sine"),
    "acosh": ("cg_acosh", "inverse hyperbolic cosine"), "atanh": ("cg_atanh", "inverse hyperbolic tangent"),
    "erf": ("cg_erf", "error function"), "trunc": ("cg_trunc", "round toward zero"),
    "floor": ("cg_floor", "round down"), "ceil": ("cg_ceil", "round up"),
    "round": ("cg_round", "round half to even"), "isnan": ("cg_isnan", "self is NaN (bool)"),
    "isfinite": ("cg_isfinite", "self is finite (bool)"), "square": ("cg_square", "self * self"),
    "sign": ("cg_sign", "-1, 0 or 1"), "abs": ("cg_abs", "|self|"),
    "bitwise_not": ("cg_bitwise_not", "~self (logical not for bool)"),
    "sigmoid": ("cg_sigmoid", "1 / (1 + exp(-self))"), "relu": ("cg_relu", "max(self, 0)"),
    "relu6": ("cg_relu6", "min(max(self, 0), 6)"), "silu": ("cg_silu", "self * sigmoid(self)"),
    "swish": ("cg_silu", "self * sigmoid(self)"), "hardswish": ("cg_hardswish", "self * relu6(self + 3) / 6"),
    "quick_gelu": ("cg_quick_gelu", "self * sigmoid(1.702 * self)"),
    "mish": ("cg_mish", "self * tanh(softplus(self))"),
    "softsign": ("cg_softsign", "self / (1 + |self|)"), "logsigmoid": ("cg_logsigmoid", "log(sigmoid(self))"),
}
for _name, (_cname, _doc) in _UNARY.items():
    setattr(Tensor, _name, _unary(_cname, _name, _doc))
