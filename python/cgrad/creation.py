"""Tensor constructors (tinygrad's creation classmethods) and the *_like methods.

The C creation functions make tensors on the default device, so `device=` makes that device the
default for the call (on_device).
"""
import contextlib

from ._lib import argfix, check_rc, lib, shape_arg
from .device import Device
from .dtype import dtypes, to_dtype


def _dt(dtype, default):
    return to_dtype(dtype).value if dtype is not None else default.value


@contextlib.contextmanager
def on_device(device):
    """Make `device` the C default device for the block (C creation functions use the default)."""
    prev = lib.cg_default_device()
    if device is None or Device.canonicalize(device).encode() == prev:
        yield
        return
    check_rc(lib.cg_set_default_device(Device.canonicalize(device).encode()))
    try:
        yield
    finally:
        lib.cg_set_default_device(prev)


class CreationMixin:
    """Mixed into Tensor: cls._wrap(ptr) makes a Tensor owning a C handle."""
    __slots__ = ()

    @classmethod
    def full(cls, shape, fill_value, dtype=None, device=None, requires_grad=None):
        dt = to_dtype(dtype) if dtype is not None else dtypes.from_py(fill_value)
        with on_device(device):
            t = cls._wrap(lib.cg_full(shape_arg(argfix(shape)), float(fill_value), dt.value))
        return t._grad_target(requires_grad)

    @classmethod
    def zeros(cls, *shape, dtype=None, device=None, requires_grad=None):
        return cls.full(argfix(*shape), 0.0, dtype or dtypes.default_float, device, requires_grad)

    @classmethod
    def ones(cls, *shape, dtype=None, device=None, requires_grad=None):
        return cls.full(argfix(*shape), 1.0, dtype or dtypes.default_float, device, requires_grad)

    @classmethod
    def _create(cls, fn, args, dtype, device, requires_grad):
        with on_device(device):
            t = cls._wrap(fn(*args, _dt(dtype, dtypes.default_float)))
        return t._grad_target(requires_grad)

    @classmethod
    def empty(cls, *shape, dtype=None, device=None, requires_grad=None):
        return cls._create(lib.cg_empty, (shape_arg(argfix(*shape)),), dtype, device, requires_grad)

    @classmethod
    def rand(cls, *shape, dtype=None, device=None, requires_grad=None, contiguous=True):
        return cls._create(lib.cg_rand, (shape_arg(argfix(*shape)),), dtype, device, requires_grad)

    @classmethod
    def randn(cls, *shape, dtype=None, device=None, requires_grad=None):
        return cls._create(lib.cg_randn, (shape_arg(argfix(*shape)),), dtype, device, requires_grad)

    @classmethod
    def uniform(cls, *shape, low=0.0, high=1.0, dtype=None, device=None, requires_grad=None):
        args = (shape_arg(argfix(*shape)), float(low), float(high))
        return cls._create(lib.cg_uniform, args, dtype, device, requires_grad)

    @classmethod
    def normal(cls, *shape, mean=0.0, std=1.0, dtype=None, device=None, requires_grad=None):
        args = (shape_arg(argfix(*shape)), float(mean), float(std))
        return cls._create(lib.cg_normal, args, dtype, device, requires_grad)

    @classmethod
    def randint(cls, *shape, low=0, high=10, dtype=dtypes.int32, device=None, requires_grad=None):
        args = (shape_arg(argfix(*shape)), int(low), int(high))
        return cls._create(lib.cg_randint, args, dtype, device, requires_grad)

    @classmethod
    def scaled_uniform(cls, *shape, dtype=None, device=None, requires_grad=None):
        return cls._create(lib.cg_scaled_uniform, (shape_arg(argfix(*shape)),), dtype, device, requires_grad)

    @classmethod
    def glorot_uniform(cls, *shape, dtype=None, device=None, requires_grad=None):
        return cls._create(lib.cg_glorot_uniform, (shape_arg(argfix(*shape)),), dtype, device, requires_grad)

    @classmethod
    def kaiming_uniform(cls, *shape, a=0.01, dtype=None, device=None, requires_grad=None):
        args = (shape_arg(argfix(*shape)), float(a))
        return cls._create(lib.cg_kaiming_uniform, args, dtype, device, requires_grad)

    @classmethod
    def kaiming_normal(cls, *shape, a=0.01, dtype=None, device=None, requires_grad=None):
        args = (shape_arg(argfix(*shape)), float(a))
        return cls._create(lib.cg_kaiming_normal, args, dtype, device, requires_grad)

    @classmethod
    def randperm(cls, n, device=None, dtype=dtypes.int32, requires_grad=None):
        return cls._create(lib.cg_randperm, (int(n),), dtype, device, requires_grad)

    @classmethod
    def linspace(cls, start, stop, steps, dtype=None, device=None, requires_grad=None):
        args = (float(start), float(stop), int(steps))
        return cls._create(lib.cg_linspace, args, dtype, device, requires_grad)

    @classmethod
    def arange(cls, start, stop=None, step=1, dtype=None, device=None, requires_grad=None):
        if stop is None:
            start, stop = 0, start
        if dtype is None:
            dtype = dtypes.default_float if any(isinstance(v, float) for v in (start, stop, step)) \
                else dtypes.default_int
        args = (float(start), float(stop), float(step))
        return cls._create(lib.cg_arange, args, dtype, device, requires_grad)

    @classmethod
    def eye(cls, n, m=None, dtype=None, device=None, requires_grad=None):
        if m is not None and m != n:
            return cls._create(lib.cg_eye_nm, (int(n), int(m)), dtype, device, requires_grad)
        return cls._create(lib.cg_eye, (int(n),), dtype, device, requires_grad)

    @staticmethod
    def manual_seed(seed=0): lib.cg_manual_seed(int(seed) & (2**64 - 1))

    def _like(self, fn, dtype, device, requires_grad, make):
        if dtype is None and device is None:
            return type(self)._wrap(fn(self._ptr))._grad_target(requires_grad)
        return make(self.shape, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def full_like(self, fill_value, dtype=None, device=None, requires_grad=None):
        if dtype is None and device is None:
            return type(self)._wrap(lib.cg_full_like(self._ptr, float(fill_value)))._grad_target(requires_grad)
        return type(self).full(self.shape, fill_value, dtype or self.dtype, device or self.device, requires_grad)

    def zeros_like(self, dtype=None, device=None, requires_grad=None):
        return self._like(lib.cg_zeros_like, dtype, device, requires_grad, type(self).zeros)

    def ones_like(self, dtype=None, device=None, requires_grad=None):
        return self._like(lib.cg_ones_like, dtype, device, requires_grad, type(self).ones)

    def empty_like(self, dtype=None, device=None, requires_grad=None):
        return type(self).empty(self.shape, dtype=dtype or self.dtype, device=device or self.device,
                            requires_grad=requires_grad)

    def rand_like(self, dtype=None, device=None, requires_grad=None):
        return self._like(lib.cg_rand_like, dtype, device, requires_grad, type(self).rand)

    def randn_like(self, dtype=None, device=None, requires_grad=None):
        return self._like(lib.cg_randn_like, dtype, device, requires_grad, type(self).randn)

