"""Tensor's neural-network ops (tinygrad names): convolution, pooling, normalization, dropout,
attention, losses, one_hot, interpolate. Each is one C call; Python converts the arguments."""
from ._lib import int64s, lib, only_defaults

_REDUCTION = {"none": 0, "mean": 1, "sum": 2}   # CG_REDUCTION_*


def _reduction(r):
    if r not in _REDUCTION:
        raise ValueError(f"reduction={r!r} must be one of 'mean', 'sum', 'none'")
    return _REDUCTION[r]


def _per_dim(v, n, name):
    """An int, or n ints (one per spatial dim) -> n ints."""
    vals = [v] * n if isinstance(v, int) else list(v)
    if len(vals) != n:
        raise ValueError(f"{name}={v!r}: expected an int or {n} ints")
    return vals


def _padding(padding, n):
    """tinygrad's padding: an int, n ints (per dim) or 2n ints (flat, last dim first). libcgrad
    pads symmetrically, so 2n values must come in equal pairs."""
    if isinstance(padding, int) or len(padding) != 2 * n:
        return _per_dim(padding, n, "padding")
    pairs = [(padding[i], padding[i + 1]) for i in range(2 * n - 2, -1, -2)]
    if any(a != b for a, b in pairs):
        raise NotImplementedError(f"padding={padding!r}: libcgrad pads symmetrically only")
    return [a for a, _ in pairs]


def _ptr(t):
    return None if t is None else t._ptr


class NNMixin:
    """Mixed into Tensor; methods use self._wrap(ptr) to make a Tensor of a C handle."""
    __slots__ = ()

    def conv2d(self, weight, bias=None, groups=1, stride=1, dilation=1, padding=0, dtype=None):
        """Convolution over the last weight.ndim-2 dims (1 to 3 spatial dims), NCHW."""
        only_defaults("conv2d", dtype=(dtype, None))
        n = weight.ndim - 2
        return self._wrap(lib.cg_conv(self._ptr, weight._ptr, _ptr(bias), n,
                                      int64s(_per_dim(stride, n, "stride")), int64s(_padding(padding, n)),
                                      int64s(_per_dim(dilation, n, "dilation")), int(groups)))

    def conv_transpose2d(self, weight, bias=None, groups=1, stride=1, dilation=1, padding=0, output_padding=0):
        n = weight.ndim - 2
        return self._wrap(lib.cg_conv_transpose(
            self._ptr, weight._ptr, _ptr(bias), n, int64s(_per_dim(stride, n, "stride")),
            int64s(_padding(padding, n)), int64s(_per_dim(output_padding, n, "output_padding")),
            int64s(_per_dim(dilation, n, "dilation")), int(groups)))

    def _pool_args(self, kernel_size, stride, padding):
        k = _per_dim(kernel_size, 2, "kernel_size") if isinstance(kernel_size, int) else list(kernel_size)
        n = len(k)
        s = None if stride is None else int64s(_per_dim(stride, n, "stride"))
        return n, int64s(k), s, int64s(_padding(padding, n))

    def max_pool2d(self, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False,
                   return_indices=False):
        only_defaults("max_pool2d", ceil_mode=(ceil_mode, False), return_indices=(return_indices, False))
        n, k, s, p = self._pool_args(kernel_size, stride, padding)
        return self._wrap(lib.cg_max_pool(self._ptr, n, k, s, p, int64s(_per_dim(dilation, n, "dilation"))))

    def avg_pool2d(self, kernel_size=(2, 2), stride=None, dilation=1, padding=0, ceil_mode=False,
                   count_include_pad=True):
        only_defaults("avg_pool2d", dilation=(dilation, 1), ceil_mode=(ceil_mode, False))
        n, k, s, p = self._pool_args(kernel_size, stride, padding)
        return self._wrap(lib.cg_avg_pool(self._ptr, n, k, s, p, int(count_include_pad)))

    def linear(self, weight, bias=None, dtype=None):
        """self @ weight + bias, weight (in, out) as tinygrad (1-D weight: elementwise)."""
        only_defaults("linear", dtype=(dtype, None))
        if weight.ndim == 1:
            x = self.mul(weight)
            return x if bias is None else x.add(bias)
        wt = weight.T                                      # cg_linear takes torch's (out, in)
        return self._wrap(lib.cg_linear(self._ptr, wt._ptr, _ptr(bias)))

    def batchnorm(self, weight, bias, mean, invstd, axis=1):
        only_defaults("batchnorm", axis=(axis, 1))
        return self._wrap(lib.cg_batchnorm(self._ptr, _ptr(weight), _ptr(bias), mean._ptr, invstd._ptr))

    def dropout(self, p=0.5):
        """Zero elements with probability p and scale by 1/(1-p) while Tensor.training."""
        return self._wrap(lib.cg_dropout(self._ptr, float(p), int(bool(type(self).training))))

    def scaled_dot_product_attention(self, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                     enable_gqa=False):
        only_defaults("scaled_dot_product_attention", enable_gqa=(enable_gqa, False))
        if dropout_p and type(self).training:
            raise NotImplementedError("scaled_dot_product_attention: dropout_p in training")
        if is_causal and attn_mask is not None:
            raise RuntimeError("cannot set attn_mask when is_causal=True")
        return self._wrap(lib.cg_scaled_dot_product_attention(self._ptr, key._ptr, value._ptr,
                                                              _ptr(attn_mask), int(is_causal)))

    def cross_entropy(self, Y, reduction="mean", label_smoothing=0.0):
        """self: logits (N, C, ...) or (C,); Y: class indices or probabilities (torch)."""
        return self._wrap(lib.cg_cross_entropy(self._ptr, Y._ptr, _reduction(reduction), float(label_smoothing)))

    def nll_loss(self, Y, weight=None, ignore_index=None, reduction="mean"):
        only_defaults("nll_loss", weight=(weight, None))
        ignore = -1 if ignore_index is None else int(ignore_index)   # None: no label is negative
        return self._wrap(lib.cg_nll_loss(self._ptr, Y._ptr, _reduction(reduction), ignore))

    def sparse_categorical_crossentropy(self, Y, ignore_index=-1, label_smoothing=0.0, reduction="mean"):
        return self._wrap(lib.cg_sparse_categorical_crossentropy(
            self._ptr, Y._ptr, int(ignore_index), float(label_smoothing), _reduction(reduction)))

    def binary_crossentropy(self, Y, reduction="mean"):
        return self._wrap(lib.cg_binary_crossentropy(self._ptr, Y._ptr, _reduction(reduction)))

    def binary_crossentropy_logits(self, Y, reduction="mean", pos_weight=None):
        only_defaults("binary_crossentropy_logits", pos_weight=(pos_weight, None))
        return self._wrap(lib.cg_binary_crossentropy_logits(self._ptr, Y._ptr, _reduction(reduction)))

    def one_hot(self, num_classes=-1):
        """int32 (..., num_classes); -1 infers max(labels)+1 (this realizes self)."""
        return self._wrap(lib.cg_one_hot(self._ptr, int(num_classes)))

    def interpolate(self, size, mode="linear", align_corners=False):
        """Resize the last len(size) dims; mode "linear" or "nearest"."""
        modes = {"nearest": 0, "linear": 1}                 # CG_INTERP_*
        if mode not in modes:
            raise NotImplementedError(f"interpolate mode={mode!r}: libcgrad has 'nearest' and 'linear'")
        return self._wrap(lib.cg_interpolate(self._ptr, int64s(size), len(size), modes[mode], int(align_corners)))
