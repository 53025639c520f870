"""cgrad.nn, cgrad.nn.optim and cgrad.nn.state (python/cgrad/nn) against PyTorch (Debian 1.13):
layers with the same weights (forward and gradients), BatchNorm's running statistics, optimizer
steps, LAMB against its formula in NumPy, safetensors files, state-dict names and errors.

    PYTHONPATH=python python3 tests/test_python_nn.py     # exits 1 on a failure
    python3 -m pytest tests/test_python_nn.py

The library comes from $CGRAD_LIB, else build/libcgrad.so. CACHEDIR defaults to a fresh temp dir.
"""
import gc
import json
import os
import struct
import sys
import tempfile
import traceback

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))
os.environ.setdefault("CACHEDIR", tempfile.mkdtemp(prefix="cgrad-nntest-"))

from cgrad import Tensor, dtypes, nn  # noqa: E402
from cgrad.nn.optim import SGD, Adam, AdamW, LAMB  # noqa: E402
from cgrad.nn.state import (get_parameters, get_state_dict, load_state_dict, safe_load,  # noqa: E402
                            safe_metadata, safe_save)

import torch  # noqa: E402

RNG = np.random.default_rng(0)
ATOL, RTOL = 1e-5, 1e-4


def close(got, ref, what="", rtol=RTOL, atol=ATOL):
    got = got.numpy() if isinstance(got, Tensor) else np.asarray(got)
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    assert np.allclose(got, ref, rtol=rtol, atol=atol), \
        f"{what}: max abs diff {np.abs(got.astype(np.float64) - ref).max()}"


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def copy_weights(cg_layer, torch_layer):
    """torch's state dict into the cgrad layer through load_state_dict (strict)."""
    load_state_dict(cg_layer, {k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})


def compare_layer(cg_layer, torch_layer, x, what, int_input=False):
    """Same weights; forward output, gradient of the input and of every parameter."""
    copy_weights(cg_layer, torch_layer)
    if int_input:
        xt, xc = torch.tensor(x), Tensor(x)
    else:
        xt, xc = torch.tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    yt, yc = torch_layer(xt), cg_layer(xc)
    close(yc, yt, f"{what} forward")
    r = randn(*yt.shape)
    (yt * torch.tensor(r)).sum().backward()
    (yc * Tensor(r)).sum().backward()
    if not int_input:
        close(xc.grad, xt.grad, f"{what} d/dx")
    tgrads = {k: p.grad for k, p in torch_layer.named_parameters()}
    cgsd = get_state_dict(cg_layer)
    for k, g in tgrads.items():
        assert cgsd[k].requires_grad, f"{what}: {k} has no requires_grad"
        close(cgsd[k].grad, g, f"{what} d/d{k}")


# ---- layers against torch.nn -----------------------------------------------------------------
def test_linear():
    torch.manual_seed(0)
    compare_layer(nn.Linear(5, 3), torch.nn.Linear(5, 3), randn(4, 5), "Linear")
    compare_layer(nn.Linear(5, 3, bias=False), torch.nn.Linear(5, 3, bias=False), randn(2, 4, 5), "Linear nobias")


def test_conv():
    torch.manual_seed(0)
    compare_layer(nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3), randn(2, 3, 7, 6), "Conv2d")
    compare_layer(nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
                  torch.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2),
                  randn(2, 4, 9, 8), "Conv2d strided grouped")
    compare_layer(nn.Conv2d(3, 2, 1, bias=False), torch.nn.Conv2d(3, 2, 1, bias=False), randn(1, 3, 4, 4),
                  "Conv2d 1x1")
    compare_layer(nn.Conv1d(3, 5, 3, stride=2, padding=1), torch.nn.Conv1d(3, 5, 3, stride=2, padding=1),
                  randn(2, 3, 11), "Conv1d")
    compare_layer(nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                  torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                  randn(2, 4, 5, 5), "ConvTranspose2d")
    compare_layer(nn.ConvTranspose2d(4, 6, 2, groups=2, bias=False),
                  torch.nn.ConvTranspose2d(4, 6, 2, groups=2, bias=False), randn(1, 4, 3, 3),
                  "ConvTranspose2d grouped")


def test_norms():
    torch.manual_seed(0)
    for tl, cl in ((torch.nn.LayerNorm(6), nn.LayerNorm(6)),
                   (torch.nn.LayerNorm((3, 6), eps=1e-3), nn.LayerNorm((3, 6), eps=1e-3))):
        with torch.no_grad():                 # non-trivial affine parameters
            tl.weight.copy_(torch.randn(tl.weight.shape)), tl.bias.copy_(torch.randn(tl.bias.shape))
        compare_layer(cl, tl, randn(4, 3, 6) * 3 + 1, f"LayerNorm{cl.normalized_shape}")
    compare_layer(nn.LayerNorm(6, elementwise_affine=False), torch.nn.LayerNorm(6, elementwise_affine=False),
                  randn(4, 6), "LayerNorm no affine")
    tg, cg = torch.nn.GroupNorm(2, 6), nn.GroupNorm(2, 6)
    with torch.no_grad():
        tg.weight.copy_(torch.randn(6)), tg.bias.copy_(torch.randn(6))
    compare_layer(cg, tg, randn(3, 6, 4, 5) * 2 - 1, "GroupNorm")
    compare_layer(nn.GroupNorm(3, 6, affine=False), torch.nn.GroupNorm(3, 6, affine=False), randn(2, 6, 7),
                  "GroupNorm no affine")


def test_rmsnorm():
    """torch 1.13 has no RMSNorm: its formula in torch ops gives the reference."""
    x, w = randn(3, 4, 8), randn(8)
    layer = nn.RMSNorm(8, eps=1e-6)
    load_state_dict(layer, {"weight": w})
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = xt * torch.rsqrt(xt.pow(2).mean(-1, keepdim=True) + 1e-6) * wt
    xc = Tensor(x, requires_grad=True)
    yc = layer(xc)
    close(yc, yt, "RMSNorm forward")
    r = randn(3, 4, 8)
    (yt * torch.tensor(r)).sum().backward()
    (yc * Tensor(r)).sum().backward()
    close(xc.grad, xt.grad, "RMSNorm d/dx")
    close(layer.weight.grad, wt.grad, "RMSNorm d/dweight")


def test_embedding():
    torch.manual_seed(0)
    idx = RNG.integers(0, 10, (3, 5)).astype(np.int64)
    te = torch.nn.Embedding(10, 4)
    compare_layer(nn.Embedding(10, 4), te, idx.astype(np.int32), "Embedding", int_input=True)


def test_batchnorm():
    """Training steps (batch statistics, running stats updated in place, gradients), then eval."""
    torch.manual_seed(0)
    for shape, tb in (((4, 3, 5, 5), torch.nn.BatchNorm2d(3, momentum=0.2)),
                      ((6, 3), torch.nn.BatchNorm1d(3, momentum=0.2))):
        cb = nn.BatchNorm2d(3, momentum=0.2)
        with torch.no_grad():
            tb.weight.copy_(torch.randn(3)), tb.bias.copy_(torch.randn(3))
        copy_weights(cb, tb)
        rm, rv = cb.running_mean, cb.running_var
        tb.train()
        with Tensor.train():
            for step in range(3):
                x = randn(*shape) * 2 + step
                tb.zero_grad(), setattr(cb.weight, "grad", None), setattr(cb.bias, "grad", None)
                xt, xc = torch.tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
                yt, yc = tb(xt), cb(xc)
                r = randn(*shape)
                (yt * torch.tensor(r)).sum().backward()
                (yc * Tensor(r)).sum().backward()
                yc.realize(cb.running_mean, cb.running_var, cb.num_batches_tracked)
                close(yc, yt, f"BatchNorm{shape} train step {step}")
                close(xc.grad, xt.grad, f"BatchNorm{shape} d/dx step {step}", atol=1e-4)
                close(cb.weight.grad, tb.weight.grad, f"BatchNorm{shape} d/dweight", atol=1e-4)
                close(cb.bias.grad, tb.bias.grad, f"BatchNorm{shape} d/dbias", atol=1e-4)
                close(cb.running_mean, tb.running_mean, f"BatchNorm{shape} running_mean step {step}")
                close(cb.running_var, tb.running_var, f"BatchNorm{shape} running_var step {step}")
        assert cb.running_mean is rm and cb.running_var is rv, "running stats lost their identity"
        assert cb.num_batches_tracked.item() == tb.num_batches_tracked.item() == 3
        tb.eval()
        assert not Tensor.training
        x = randn(*shape)
        close(cb(Tensor(x)), tb(torch.tensor(x)), f"BatchNorm{shape} eval")
        before = cb.running_mean.numpy()
        cb(Tensor(x)).realize()
        close(cb.running_mean, before, "BatchNorm eval must not update running_mean")
    # no running stats: batch statistics in eval too
    tb, cb = torch.nn.BatchNorm2d(2, affine=False, track_running_stats=False), \
        nn.BatchNorm(2, affine=False, track_running_stats=False)
    x = randn(3, 2, 4, 4)
    close(cb(Tensor(x)), tb(torch.tensor(x)), "BatchNorm no running stats")


def test_dropout():
    x = Tensor.ones(1000, 100)
    d = nn.Dropout(0.3)
    close(d(x), np.ones((1000, 100)), "Dropout in eval is the identity")
    with Tensor.train():
        y = d(x).numpy()
    frac = (y == 0).mean()
    assert abs(frac - 0.3) < 0.01, f"Dropout zeroed {frac}"
    assert np.allclose(y[y != 0], 1 / 0.7), "Dropout scale"


def test_default_init():
    """PyTorch's bounds: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases."""
    Tensor.manual_seed(1)
    layer = nn.Linear(400, 300)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.shape == (300, 400) and b.shape == (300,)
    bound = 1 / 20
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound and w.min() < -0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 1e-3, w.std()
    assert b.max() <= bound and b.min() >= -bound
    c = nn.Conv2d(8, 16, 3, groups=2)
    assert c.weight.shape == (16, 4, 3, 3)
    assert np.abs(c.weight.numpy()).max() <= 1 / 6
    assert all(t.requires_grad for t in get_parameters([layer, c]))
    bn = nn.BatchNorm(5)
    close(bn.weight, np.ones(5), "bn weight"), close(bn.running_var, np.ones(5), "bn running_var")
    assert not bn.running_mean.requires_grad and not bn.num_batches_tracked.requires_grad


# ---- optimizers ------------------------------------------------------------------------------
class _TorchMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = torch.nn.Linear(4, 6), torch.nn.Linear(6, 3)

    def forward(self, x):
        return self.l2(self.l1(x).tanh())


class _MLP:
    def __init__(self):
        self.l1, self.l2 = nn.Linear(4, 6), nn.Linear(6, 3)

    def __call__(self, x):
        return self.l2(self.l1(x).tanh())


X, Y = randn(8, 4), RNG.integers(0, 3, 8)


def _run_torch(make, steps):
    torch.manual_seed(3)
    m = _TorchMLP()
    opt = make(m.parameters())
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(m(torch.tensor(X)), torch.tensor(Y)).backward()
        opt.step()
    return m


def _run_cg(make, steps, torch_init):
    m = _MLP()
    load_state_dict(m, {k: v.detach().numpy() for k, v in torch_init.state_dict().items()})
    params = get_parameters(m)
    ids = [id(p) for p in params]
    opt = make(params)
    x, y = Tensor(X), Tensor(Y.astype(np.int32))
    for _ in range(steps):
        opt.zero_grad()
        m(x).cross_entropy(y).backward()
        opt.step()
    assert [id(p) for p in get_parameters(m)] == ids, "parameters lost their identity"
    return m


OPTIMIZERS = [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1), lambda p: SGD(p, lr=0.1)),
    ("sgd momentum wd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
     lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("sgd nesterov", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05),
     lambda p: SGD(p, lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01), lambda p: Adam(p, lr=0.01)),
    ("adam betas", lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6),
     lambda p: Adam(p, lr=0.02, b1=0.8, b2=0.99, eps=1e-6)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), lambda p: AdamW(p, lr=0.01, weight_decay=0.1)),
    ("adamw default wd", lambda p: torch.optim.AdamW(p, lr=0.01), lambda p: AdamW(p, lr=0.01)),
]


def test_optimizers_vs_torch():
    for name, tmake, cmake in OPTIMIZERS:
        for steps in (1, 5):
            init = _run_torch(tmake, 0)
            tm, cm = _run_torch(tmake, steps), _run_cg(cmake, steps, init)
            csd = get_state_dict(cm)
            for k, v in tm.state_dict().items():
                close(csd[k], v, f"{name} {steps} steps: {k}")


def test_lamb_formula():
    """LAMB (torch 1.13 has none) against its formula in NumPy, torch computing the gradients."""
    lr, b1, b2, eps, wd = 0.05, 0.9, 0.99, 1e-6, 0.1
    init = _run_torch(lambda p: torch.optim.SGD(p, lr=0), 0)
    ref = {k: v.detach().numpy().astype(np.float64) for k, v in init.state_dict().items()}
    m = {k: np.zeros_like(v) for k, v in ref.items()}
    v2 = {k: np.zeros_like(v) for k, v in ref.items()}
    steps = 4
    for t in range(1, steps + 1):
        tm = _TorchMLP().double()
        tm.load_state_dict({k: torch.tensor(v) for k, v in ref.items()})
        torch.nn.functional.cross_entropy(tm(torch.tensor(X, dtype=torch.float64)), torch.tensor(Y)).backward()
        for k, p in tm.named_parameters():
            g = p.grad.numpy()
            m[k] = b1 * m[k] + (1 - b1) * g
            v2[k] = b2 * v2[k] + (1 - b2) * g * g
            r = (m[k] / (1 - b1 ** t)) / (np.sqrt(v2[k] / (1 - b2 ** t)) + eps) + wd * ref[k]
            pn, rn = np.linalg.norm(ref[k]), np.linalg.norm(r)
            ref[k] = ref[k] - lr * (pn / rn if pn > 0 and rn > 0 else 1.0) * r
    cm = _run_cg(lambda p: LAMB(p, lr=lr, b1=b1, b2=b2, eps=eps, weight_decay=wd), steps, init)
    for k, v in get_state_dict(cm).items():
        close(v, ref[k], f"LAMB {k}")
    # LAMB(adam=True) is AdamW
    tm = _run_torch(lambda p: torch.optim.AdamW(p, lr=0.01, eps=1e-6, weight_decay=0.0), 3)
    cm = _run_cg(lambda p: LAMB(p, lr=0.01, adam=True), 3, init)
    for k, v in tm.state_dict().items():
        close(get_state_dict(cm)[k], v, f"LAMB(adam=True) {k}")


def test_optimizer_api():
    w = Tensor(randn(3, 3))                         # no requires_grad: the optimizer sets it
    opt = SGD([w, w], lr=0.5)
    assert w.requires_grad and len(opt.params) == 1
    assert abs(opt.lr - 0.5) < 1e-12
    opt.lr = 0.25
    assert abs(opt.lr - 0.25) < 1e-12
    w0 = w.numpy()
    (w * w).sum().backward()
    opt.step()
    close(w, w0 - 0.25 * 2 * w0, "SGD step with lr set")
    assert opt.steps == 1
    opt.zero_grad()
    assert w.grad is None
    opt.step()                                      # no gradient: parameter unchanged
    close(w, w0 - 0.25 * 2 * w0, "step without gradients")
    # the optimizer keeps its parameters alive: the model may go away
    m = _MLP()
    opt = Adam(get_parameters(m), lr=0.1)
    p0 = opt.params[0]
    del m
    gc.collect()
    x = Tensor(X)
    loss = (x.linear(p0.T) ** 2).mean()
    loss.backward()
    opt.step()
    assert np.isfinite(p0.numpy()).all()
    del opt
    gc.collect()
    for bad, err in (([], ValueError), ([Tensor([1, 2])], TypeError), ([np.zeros(3)], TypeError)):
        try:
            SGD(bad)
        except err:
            pass
        else:
            raise AssertionError(f"SGD({bad!r}) did not raise {err.__name__}")


# ---- state dicts -----------------------------------------------------------------------------
class _Net:
    def __init__(self):
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm(2)
        self.layers = [nn.Linear(4, 4), nn.Linear(4, 2, bias=False)]
        self.heads = {"a": nn.LayerNorm(2)}
        self.scale = 3.0                            # not a Tensor: skipped


def test_state_dict_names():
    net = _Net()
    sd = get_state_dict(net)
    assert list(sd) == ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                        "bn.num_batches_tracked", "layers.0.weight", "layers.0.bias", "layers.1.weight",
                        "heads.a.weight", "heads.a.bias"], list(sd)
    assert sd["layers.0.weight"] is net.layers[0].weight
    params = get_parameters(net)
    assert len(params) == 9 and all(p.requires_grad for p in params)
    assert not any(p is net.bn.running_mean for p in params)
    assert list(get_state_dict(net.layers, prefix="model.")) == ["model.0.weight", "model.0.bias", "model.1.weight"]
    # torch's names match for the same structure
    tnet = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    assert list(get_state_dict([nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)])) == list(tnet.state_dict())


def _expect(err, fn, *words):
    try:
        fn()
    except err as e:
        for w in words:
            assert w in str(e), f"{err.__name__} message {str(e)!r} lacks {w!r}"
        return
    raise AssertionError(f"no {err.__name__}")


def test_load_state_dict():
    net = _Net()
    sd = {k: v.numpy() + 1 for k, v in get_state_dict(net).items()}
    w = net.conv.weight
    load_state_dict(net, sd)
    assert net.conv.weight is w and w.requires_grad
    for k, v in get_state_dict(net).items():
        close(v, sd[k], f"loaded {k}")
    # Tensors as values; device/dtype kept
    load_state_dict(net.layers[1], {"weight": Tensor(randn(2, 4))})
    # errors: nothing is written when a check fails
    before = net.conv.weight.numpy()
    bad = dict(sd, **{"conv.weight": sd["conv.weight"] * 0})
    del bad["conv.bias"]
    _expect(KeyError, lambda: load_state_dict(net, bad), "missing", "conv.bias")
    _expect(KeyError, lambda: load_state_dict(net, dict(sd, extra=np.zeros(1))), "unexpected", "extra")
    shaped = dict(sd, **{"layers.0.weight": np.zeros((4, 5), np.float32), "conv.weight": sd["conv.weight"] * 0})
    _expect(ValueError, lambda: load_state_dict(net, shaped), "layers.0.weight", "(4, 4)", "(4, 5)")
    _expect(TypeError, lambda: load_state_dict(net.layers[1], {"weight": Tensor(randn(2, 4)).cast(dtypes.float16)}),
            "dtype")
    close(net.conv.weight, before, "a failed load wrote nothing")
    # strict=False: missing and unexpected keys are skipped
    load_state_dict(net, {"conv.bias": np.array([5, 6], np.float32), "nope": np.zeros(2)}, strict=False)
    close(net.conv.bias, [5, 6], "non-strict load")
    close(net.conv.weight, before, "non-strict load left the rest")


# ---- safetensors ---------------------------------------------------------------------------------
def test_safetensors_roundtrip():
    d = tempfile.mkdtemp(prefix="cgrad-nn-st-")
    fn = os.path.join(d, "t.safetensors")
    vals = {"a.weight": randn(3, 4), "b": np.arange(6, dtype=np.int32).reshape(2, 3),
            "half": randn(5).astype(np.float16), "u8": np.arange(7, dtype=np.uint8),
            "i64": np.array([-1, 2**40], np.int64), "scalar": np.float32(2.5) * np.ones((), np.float32),
            "lazy": None}
    ts = {k: Tensor(v) for k, v in vals.items() if v is not None}
    ts["lazy"] = Tensor(vals["a.weight"]) * 2 + 1          # unrealized: saved realized
    vals["lazy"] = vals["a.weight"] * 2 + 1
    safe_save(ts, fn, metadata={"format": "pt", "epoch": 3})
    back = safe_load(fn)
    assert sorted(back) == sorted(vals)
    for k, v in vals.items():
        assert back[k].dtype is ts[k].dtype, (k, back[k].dtype, ts[k].dtype)
        close(back[k], v, f"safetensors {k}", atol=0, rtol=0)
    assert safe_metadata(fn) == {"format": "pt", "epoch": "3"}
    safe_save({"x": Tensor([1.0])}, fn)                      # overwrite, no metadata
    assert list(safe_load(fn)) == ["x"] and safe_metadata(fn) == {}
    # a model's state dict: save, load into a fresh model
    net, net2 = _Net(), _Net()
    safe_save(get_state_dict(net), fn)
    load_state_dict(net2, safe_load(fn))
    for k, v in get_state_dict(net).items():
        close(get_state_dict(net2)[k], v.numpy(), f"model round trip {k}", atol=0, rtol=0)


def test_safetensors_handmade():
    """A file written by hand (the format: u64 header length, JSON header, data)."""
    d = tempfile.mkdtemp(prefix="cgrad-nn-st-")
    fn = os.path.join(d, "hand.safetensors")
    a = np.array([[1.5, -2.0], [3.25, 4.0]], np.float32)
    b = np.array([7, -8, 9], np.int16)
    c = np.array([0.5, 1.5], np.float64)
    blobs, header, off = [], {"__metadata__": {"who": "hand"}}, 0
    for name, arr, dt in (("a", a, "F32"), ("nested.b", b, "I16"), ("c", c, "F64")):
        raw = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hjson = json.dumps(header).encode()
    hjson += b" " * (-len(hjson) % 8)
    with open(fn, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs))
    back = safe_load(fn)
    assert sorted(back) == ["a", "c", "nested.b"]
    close(back["a"], a, "hand a", atol=0, rtol=0)
    close(back["nested.b"], b, "hand b", atol=0, rtol=0)
    assert back["nested.b"].dtype is dtypes.int16 and back["c"].dtype is dtypes.float64
    close(back["c"], c, "hand c", atol=0, rtol=0)
    assert safe_metadata(fn) == {"who": "hand"}
    # broken files: clear errors
    with open(fn, "r+b") as f:
        f.truncate(8 + len(hjson) + 4)
    _expect(Exception, lambda: safe_load(fn))
    _expect(Exception, lambda: safe_load(os.path.join(d, "missing.safetensors")))


TESTS = [v for k, v in list(globals().items()) if k.startswith("test_") and callable(v)]

if __name__ == "__main__":
    failed = 0
    for t in TESTS:
        Tensor.training = False
        try:
            t()
            print(f"ok   {t.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {t.__name__}")
            traceback.print_exc()
    print(f"{len(TESTS) - failed}/{len(TESTS)} passed")
    sys.exit(1 if failed else 0)
