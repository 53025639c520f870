"""tinygrad's nn layers over cgrad's Tensor: each holds Tensor attributes with tinygrad's names
(weight, bias, running_mean, ...) and its __call__ is composed of Tensor methods (C calls).

    from cgrad import Tensor, nn
    l1, l2 = nn.Linear(784, 128), nn.Linear(128, 10)
    opt = nn.optim.Adam(nn.state.get_parameters([l1, l2]))

Parameters are created with requires_grad=True and PyTorch's default initialization
(uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; Embedding: glorot_uniform as
tinygrad). BatchNorm's running statistics are updated lazily (cg_replace, as cg_nn_batchnorm
does): realize them with the loss (e.g. `loss.realize(*bn_buffers)`) before the optimizer step.
"""
import ctypes
import math

from .._lib import check_rc, lib
from ..dtype import dtypes
from ..tensor import Tensor, _wrap


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


def _bias(n, bound, bias):
    return Tensor.uniform(n, low=-bound, high=bound, requires_grad=True) if bias else None


class Linear:
    """y = x @ weight.T + bias; weight (out_features, in_features) as torch/tinygrad."""

    def __init__(self, in_features, out_features, bias=True):
        bound = 1 / math.sqrt(in_features)
        self.weight = Tensor.uniform(out_features, in_features, low=-bound, high=bound, requires_grad=True)
        self.bias = _bias(out_features, bound, bias)

    def __call__(self, x):
        return x.linear(self.weight.T, self.bias)


class Conv2d:
    """Convolution over len(kernel_size) spatial dims (an int kernel_size: 2), NCHW."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True):
        self.kernel_size = _tuple(kernel_size, 2)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} must be "
                             f"divisible by groups={groups}")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        bound = 1 / math.sqrt(in_channels // groups * math.prod(self.kernel_size))
        self.weight = Tensor.uniform(out_channels, in_channels // groups, *self.kernel_size,
                                     low=-bound, high=bound, requires_grad=True)
        self.bias = _bias(out_channels, bound, bias)

    def __call__(self, x):
        return x.conv2d(self.weight, self.bias, groups=self.groups, stride=self.stride,
                        dilation=self.dilation, padding=self.padding)


def Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
    """A Conv2d with one spatial dim (tinygrad's Conv1d): x (N, C, L)."""
    return Conv2d(in_channels, out_channels, _tuple(kernel_size, 1), stride, padding, dilation, groups, bias)


class ConvTranspose2d(Conv2d):
    """Transposed convolution; weight (in_channels, out_channels/groups, *kernel_size)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 dilation=1, groups=1, bias=True):
        self.kernel_size = _tuple(kernel_size, 2)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} must be "
                             f"divisible by groups={groups}")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.output_padding = output_padding
        bound = 1 / math.sqrt(out_channels // groups * math.prod(self.kernel_size))   # torch's fan_in
        self.weight = Tensor.uniform(in_channels, out_channels // groups, *self.kernel_size,
                                     low=-bound, high=bound, requires_grad=True)
        self.bias = _bias(out_channels, bound, bias)

    def __call__(self, x):
        return x.conv_transpose2d(self.weight, self.bias, groups=self.groups, stride=self.stride,
                                  dilation=self.dilation, padding=self.padding,
                                  output_padding=self.output_padding)


def ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                    dilation=1, groups=1, bias=True):
    return ConvTranspose2d(in_channels, out_channels, _tuple(kernel_size, 1), stride, padding,
                           output_padding, dilation, groups, bias)


class BatchNorm:
    """Batch normalization over axis 1 of (N, C, ...). While Tensor.training it normalizes with the
    batch statistics and updates running_mean/running_var in place (momentum average, unbiased
    variance, as torch); otherwise it uses the running statistics."""

    def __init__(self, sz, eps=1e-5, affine=True, track_running_stats=True, momentum=0.1):
        self.eps, self.track_running_stats, self.momentum = eps, track_running_stats, momentum
        self.weight = Tensor.ones(sz, requires_grad=True) if affine else None
        self.bias = Tensor.zeros(sz, requires_grad=True) if affine else None
        if track_running_stats:
            self.running_mean, self.running_var = Tensor.zeros(sz).realize(), Tensor.ones(sz).realize()
        self.num_batches_tracked = Tensor.zeros((), dtype=dtypes.int64).realize()   # torch's (and new tinygrad's)

    def calc_stats(self, x):
        """(mean, biased variance) per channel: the running ones in eval, else the batch's."""
        if self.track_running_stats and not Tensor.training:
            return self.running_mean, self.running_var
        axes = tuple(a for a in range(x.ndim) if a != 1)
        return x.mean(axis=axes), x.var(axis=axes, correction=0)

    def __call__(self, x):
        if not Tensor.training:
            batch_mean, batch_var = self.calc_stats(x)
            return x.batchnorm(self.weight, self.bias, batch_mean, (batch_var + self.eps).rsqrt())
        # batch statistics: cg_batchnorm_train's closed-form gradient (two reductions over the
        # gradient where differentiating the composed formula takes four) and its statistics,
        # detached, for the running averages
        mean, var = ctypes.c_void_p(), ctypes.c_void_p()
        y = _wrap(lib.cg_batchnorm_train(x._ptr, None if self.weight is None else self.weight._ptr,
                                         None if self.bias is None else self.bias._ptr, self.eps,
                                         ctypes.byref(mean), ctypes.byref(var)))
        m, v = _wrap(mean.value), _wrap(var.value)
        if self.track_running_stats:
            n = x.numel() // x.shape[1]
            with Tensor.test():                       # no gradient graph for the statistics
                # written into their own buffers when realized (stable state for TinyJit)
                rm = self.running_mean * (1 - self.momentum) + m * self.momentum
                rv = self.running_var * (1 - self.momentum) + v * (self.momentum * n / max(n - 1, 1))
                nb = self.num_batches_tracked + 1
                for dst, val in ((self.running_mean, rm), (self.running_var, rv), (self.num_batches_tracked, nb)):
                    check_rc(lib.cg_assign_lazy(dst._ptr, val._ptr))
        return y


BatchNorm2d = BatchNorm1d = BatchNorm3d = BatchNorm


class LayerNorm:
    """Normalize over the trailing len(normalized_shape) dims, then weight * x + bias."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.axis = tuple(-1 - i for i in range(len(self.normalized_shape)))
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight, self.bias = ((Tensor.ones(*self.normalized_shape, requires_grad=True),
                                   Tensor.zeros(*self.normalized_shape, requires_grad=True))
                                  if elementwise_affine else (None, None))

    def __call__(self, x):
        if x.shape[-len(self.normalized_shape):] != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape}: input shape {x.shape}")
        x = x.layernorm(axis=self.axis, eps=self.eps)
        return x if not self.elementwise_affine else x * self.weight + self.bias


class LayerNorm2d(LayerNorm):
    """LayerNorm over the channels of (N, C, H, W)."""

    def __call__(self, x):
        return super().__call__(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class RMSNorm:
    """x / sqrt(mean(x^2, last dim) + eps) * weight (cg_rmsnorm)."""

    def __init__(self, dim, eps=1e-6, elementwise_affine=True):
        self.eps = eps
        self.weight = Tensor.ones(dim, requires_grad=True) if elementwise_affine else None

    def _norm(self, x):
        return Tensor._wrap(lib.cg_rmsnorm(x._ptr, -1, float(self.eps)))

    def __call__(self, x):
        x = self._norm(x)
        return x if self.weight is None else x * self.weight


class GroupNorm:
    """Normalize each of num_groups channel groups of (N, C, ...), then per-channel affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        if num_channels % num_groups:
            raise ValueError(f"num_channels={num_channels} must be divisible by num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = Tensor.ones(num_channels, requires_grad=True) if affine else None
        self.bias = Tensor.zeros(num_channels, requires_grad=True) if affine else None

    def __call__(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}): input shape {x.shape}")
        x = x.reshape(x.shape[0], self.num_groups, -1).layernorm(eps=self.eps).reshape(x.shape)
        if self.weight is None or self.bias is None:
            return x
        per_channel = (1, -1) + (1,) * (x.ndim - 2)
        return x * self.weight.reshape(per_channel) + self.bias.reshape(per_channel)


class InstanceNorm:
    """Normalize each channel of each example over its spatial dims."""

    def __init__(self, num_features, eps=1e-5, affine=True):
        self.num_features, self.eps = num_features, eps
        self.weight = Tensor.ones(num_features, requires_grad=True) if affine else None
        self.bias = Tensor.zeros(num_features, requires_grad=True) if affine else None

    def __call__(self, x):
        x = x.reshape(x.shape[0], self.num_features, -1).layernorm(eps=self.eps).reshape(x.shape)
        if self.weight is None or self.bias is None:
            return x
        per_channel = (1, -1) + (1,) * (x.ndim - 2)
        return x * self.weight.reshape(per_channel) + self.bias.reshape(per_channel)


class Embedding:
    """Rows of weight (vocab_size, embed_size) for integer indices of any shape."""

    def __init__(self, vocab_size, embed_size):
        self.vocab_sz, self.embed_sz = vocab_size, embed_size
        self.weight = Tensor.glorot_uniform(vocab_size, embed_size, requires_grad=True)

    def __call__(self, idx):
        if not isinstance(idx, Tensor):
            idx = Tensor(idx, dtype=dtypes.int32)
        return self.weight[idx]


class Dropout:
    """Zero elements with probability p (scaling by 1/(1-p)) while Tensor.training."""

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p

    def __call__(self, x):
        return x.dropout(self.p)


from . import optim, state  # noqa: E402  (cgrad.nn.optim / cgrad.nn.state, as tinygrad)

__all__ = ["Linear", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "BatchNorm", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "LayerNorm", "LayerNorm2d", "RMSNorm", "GroupNorm", "InstanceNorm",
           "Embedding", "Dropout", "optim", "state"]
