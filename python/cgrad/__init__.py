"""cgrad: tinygrad's Tensor API over libcgrad.so (a thin ctypes layer; see include/cgrad.h).

    from cgrad import Tensor, dtypes, Device, GlobalCounters
    x = Tensor([[1., 2.], [3., 4.]])
    print((x @ x.T).relu().sum(axis=1).tolist())
"""
from .device import Device, GlobalCounters
from .dtype import DType, dtypes
from .tensor import Tensor
from . import nn  # noqa: E402  (cgrad.nn, .nn.optim, .nn.state)
from .engine.jit import TinyJit  # noqa: E402  (also cgrad.engine.jit.TinyJit, as tinygrad)

__all__ = ["Tensor", "dtypes", "DType", "Device", "GlobalCounters", "nn", "TinyJit"]
