"""tinygrad's optimizers over libcgrad's (cg_sgd, cg_adam, cg_adamw, cg_lamb): step() computes the
updates in C and gives each parameter its new value in place (cg_replace), so the Tensor objects
keep their identity.

    opt = nn.optim.Adam(nn.state.get_parameters(model), lr=1e-3)
    opt.zero_grad(); loss.backward(); opt.step()
"""
from .._lib import check, check_rc, lib, ptr_array
from ..dtype import dtypes
from ..tensor import Tensor


class Optimizer:
    """Holds the parameter Tensors (they must outlive the C optimizer, which keeps pointers) and
    the C optimizer, freed in __del__."""

    def __init__(self, params, make):
        self._opt = None
        seen, self.params = set(), []
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer parameters must be Tensors, not {type(p).__name__}")
            if id(p) not in seen:
                seen.add(id(p))
                self.params.append(p)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for p in self.params:
            if p.dtype is not dtypes.float32:
                raise TypeError(f"optimizer parameters must be float32 (got {p.dtype!r}, shape {p.shape})")
            if not p.requires_grad:          # tinygrad: requires_grad None becomes True
                p.requires_grad = True
        self._arr = ptr_array([p._ptr for p in self.params])
        self._opt = check(make(self._arr, len(self.params)))

    def __del__(self, _free=lib.cg_optim_free if lib.has("cg_optim_free") else None):
        if getattr(self, "_opt", None) and _free is not None:
            _free(self._opt)
            self._opt = None

    def zero_grad(self):
        """Forget the parameters' gradients (tinygrad: param.grad = None)."""
        lib.cg_optim_zero_grad(self._opt)

    def step(self):
        """Apply the gradients (parameters without one are left as they are); realizes the new
        values and the optimizer state."""
        check_rc(lib.cg_optim_step(self._opt))

    @property
    def lr(self):
        return lib.cg_optim_get_lr(self._opt)

    @lr.setter
    def lr(self, value):
        check_rc(lib.cg_optim_set_lr(self._opt, float(value)))

    @property
    def steps(self):
        """How many steps have been taken (cg_optim_steps)."""
        return lib.cg_optim_steps(self._opt)


class SGD(Optimizer):
    """torch.optim.SGD: weight decay added to the gradient, momentum buffer b = m*b + g,
    nesterov uses g + m*b."""

    def __init__(self, params, lr=0.001, momentum=0.0, weight_decay=0.0, nesterov=False, classic=False):
        if classic:
            raise NotImplementedError("SGD(classic=True): cg_sgd implements torch's momentum only")
        if nesterov and momentum <= 0:
            raise ValueError("nesterov momentum requires a momentum > 0")
        self.momentum, self.wd, self.nesterov = momentum, weight_decay, nesterov
        super().__init__(params, lambda arr, n: lib.cg_sgd(arr, n, float(lr), float(momentum),
                                                           float(weight_decay), int(bool(nesterov))))


class LAMB(Optimizer):
    """LAMB: Adam's update r = mhat / (sqrt(vhat) + eps) + wd * p scaled by the trust ratio
    ||p|| / ||r|| (1 where either norm is 0); adam=True: Adam (AdamW with weight_decay)."""

    def __init__(self, params, lr=0.001, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.0, adam=False):
        self.b1, self.b2, self.eps, self.wd, self.adam = b1, b2, eps, weight_decay, adam
        fn = lib.cg_lamb if not adam else lib.cg_adamw
        super().__init__(params, lambda arr, n: fn(arr, n, float(lr), float(b1), float(b2), float(eps),
                                                   float(weight_decay)))


class AdamW(Optimizer):
    """torch.optim.AdamW (decoupled weight decay)."""

    def __init__(self, params, lr=0.001, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01):
        self.b1, self.b2, self.eps, self.wd = b1, b2, eps, weight_decay
        super().__init__(params, lambda arr, n: lib.cg_adamw(arr, n, float(lr), float(b1), float(b2),
                                                             float(eps), float(weight_decay)))


class Adam(Optimizer):
    """torch.optim.Adam (no weight decay)."""

    def __init__(self, params, lr=0.001, b1=0.9, b2=0.999, eps=1e-8):
        self.b1, self.b2, self.eps, self.wd = b1, b2, eps, 0.0
        super().__init__(params, lambda arr, n: lib.cg_adam(arr, n, float(lr), float(b1), float(b2), float(eps)))


def clip_grad_norm_(params, max_norm):
    """Scale the gradients so their global L2 norm is at most max_norm; returns the norm before."""
    params = list(params)
    return lib.cg_clip_grad_norm(ptr_array([p._ptr for p in params]), len(params), float(max_norm))
