"""TinyJit over cg_jit (include/cgrad.h): the decorated function runs normally on its first call,
is captured (every kernel launch and copy recorded in C) on its second, and from then on is not
called at all: its kernels are replayed with the new input tensors' buffers.

    @TinyJit
    def step(x, y):
        opt.zero_grad()
        loss = model(x).sparse_categorical_crossentropy(y).backward()
        loss.realize(*[p.grad for p in params])   # the loss reads the weights before the update
        opt.step()
        return loss

The Tensor arguments (positional, then keyword arguments by name) are the inputs; they must keep
their shapes and dtypes (else ValueError). Other arguments, and any Python-side logic, are frozen
at the capture. The return value is a Tensor, a tuple/list of Tensors, or None; after a replay
its Tensors read the new results.
"""
import ctypes
import functools

from .._lib import JIT_FN, check, error, lib, ptr_array
from ..tensor import Tensor, _wrap

MAX_OUTPUTS = 64


class TinyJit:
    def __init__(self, fxn):
        self.fxn, self.cnt = fxn, 0
        self._jit = None
        self._cb = JIT_FN(self._trampoline)   # must outlive the C jit
        self._jit = check(lib.cg_jit_new(ctypes.cast(self._cb, ctypes.c_void_p), None))
        self._call, self._exc, self._ret, self._outs, self._kind = None, None, None, [], None
        functools.update_wrapper(self, fxn)

    def __del__(self, _free=lib.cg_jit_free if lib.has("cg_jit_free") else None):
        if getattr(self, "_jit", None) and _free is not None:
            _free(self._jit)
            self._jit = None

    def __get__(self, obj, objtype=None):
        """Decorating a method: bind the instance (tinygrad does the same)."""
        return self if obj is None else functools.partial(self.__call__, obj)

    @property
    def kernels(self):
        """Kernel launches per replay (0 before the capture)."""
        return lib.cg_jit_kernels(self._jit)

    def _trampoline(self, _userdata, _inputs, _n, outputs, max_out):
        """Called from C on the warm-up and capture calls: run the Python function."""
        try:
            args, kwargs = self._call
            ret = self.fxn(*args, **kwargs)
            outs = [ret] if isinstance(ret, Tensor) else [] if ret is None else list(ret)
            if not all(isinstance(t, Tensor) for t in outs):
                raise TypeError("a TinyJit function must return a Tensor, a tuple/list of Tensors or None")
            if len(outs) > max_out:
                raise ValueError(f"a TinyJit function returns at most {max_out} Tensors")
            for i, t in enumerate(outs):
                outputs[i] = t._ptr
            self._ret, self._outs = ret, outs   # alive until C has realized them
            return len(outs)
        except BaseException as e:  # noqa: BLE001 (re-raised by __call__; C must not unwind)
            self._exc = e
            return -1

    def __call__(self, *args, **kwargs):
        tensors = [a for a in args if isinstance(a, Tensor)] + \
                  [kwargs[k] for k in sorted(kwargs) if isinstance(kwargs[k], Tensor)]
        arr, out = ptr_array([t._ptr for t in tensors]), (ctypes.c_void_p * MAX_OUTPUTS)()
        self._call = (args, kwargs)
        try:
            n = lib.cg_jit_call(self._jit, arr, len(tensors), out, MAX_OUTPUTS)
        finally:
            self._call = None
        if self._exc is not None:
            exc, self._exc = self._exc, None
            lib.cg_clear_error()
            raise exc
        if n < 0:
            raise error()
        self.cnt += 1
        if self.cnt <= 2:                       # the function ran: its own return value
            ret, self._ret, self._outs = self._ret, None, []
            self._kind = None if ret is None else Tensor if isinstance(ret, Tensor) else type(ret)
            return ret
        outs = [_wrap(out[i]) for i in range(n)]   # new Tensors on the captured output buffers
        return None if self._kind is None else outs[0] if self._kind is Tensor else self._kind(outs)

    def reset(self):
        """Forget the capture: the next two calls run the function again."""
        lib.cg_jit_free(self._jit)
        self._jit = check(lib.cg_jit_new(ctypes.cast(self._cb, ctypes.c_void_p), None))
        self.cnt = 0
