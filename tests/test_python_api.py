"""The Python package (python/cgrad): tinygrad's Tensor API over libcgrad.so, checked against
NumPy and PyTorch.

    PYTHONPATH=python python3 tests/test_python_api.py     # every test on CPU, then on INTERP
    DEV=INTERP python3 -m pytest tests/test_python_api.py  # one device under pytest

The library comes from $CGRAD_LIB, else build/libcgrad.so. CACHEDIR defaults to a fresh temp dir.
"""
import gc
import os
import subprocess
import sys
import tempfile
import traceback

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))
os.environ.setdefault("CACHEDIR", tempfile.mkdtemp(prefix="cgrad-pytest-"))

import cgrad  # noqa: E402
from cgrad import Device, GlobalCounters, Tensor, dtypes  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the NumPy checks still run
    torch = None

ALL_DTYPES = [dtypes.bool, dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16, dtypes.int32,
              dtypes.uint32, dtypes.int64, dtypes.uint64, dtypes.float16, dtypes.bfloat16,
              dtypes.float32, dtypes.float64]
RNG = np.random.default_rng(0)


def close(t, ref, rtol=1e-5, atol=1e-6):
    """t (a Tensor) holds ref's values and shape."""
    got = t.numpy() if isinstance(t, Tensor) else np.asarray(t)
    ref = ref.detach().numpy() if torch is not None and isinstance(ref, torch.Tensor) else np.asarray(ref)
    assert got.shape == ref.shape, f"shape {got.shape} != {ref.shape}"
    np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), rtol=rtol, atol=atol)


def raises(exc, fn, match=None):
    try:
        fn()
    except exc as e:
        assert match is None or match in str(e), f"message {str(e)!r} lacks {match!r}"
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"expected {exc.__name__}, got {type(e).__name__}: {e}") from e
    raise AssertionError(f"expected {exc.__name__}, nothing raised")


def randf(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


# ---- package surface -------------------------------------------------------------------------
def test_exports():
    assert cgrad.Tensor is Tensor and cgrad.dtypes.float32 is dtypes.float32
    assert dtypes.float is dtypes.float32 and dtypes.half is dtypes.float16 and dtypes.double is dtypes.float64
    assert dtypes.default_float is dtypes.float32 and dtypes.default_int is dtypes.int32
    assert [d.itemsize for d in ALL_DTYPES] == [1, 1, 1, 2, 2, 4, 4, 8, 8, 2, 2, 4, 8]
    assert repr(dtypes.float32) == "dtypes.float32" and dtypes.is_float(dtypes.bfloat16)
    assert dtypes.is_int(dtypes.uint8) and dtypes.is_unsigned(dtypes.uint64) and not dtypes.is_int(dtypes.bool)
    assert Tensor([1], dtype="float16").dtype is dtypes.float16
    assert isinstance(Device.DEFAULT, str) and Device.DEFAULT in ("CPU", "INTERP", "CUDA", "CL")
    assert Tensor.training is False and Tensor.no_grad is False
    # a symbol missing from the loaded library fails only where it is used
    raises(NotImplementedError, lambda: cgrad._lib.lib.cg_not_in_the_library, "cg_not_in_the_library")


def test_library_loads_with_system_python():
    has_numpy = subprocess.run(["/usr/bin/python3", "-c", "import numpy"], capture_output=True).returncode == 0
    if not has_numpy:  # the GPU machine's /usr/bin/python3 is bare; its python3 is another one
        print("SKIP test_library_loads_with_system_python: /usr/bin/python3 has no numpy")
        return
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    code = "from cgrad import Tensor; print((Tensor([1.,2.])*2).tolist())"
    out = subprocess.run(["/usr/bin/python3", "-c", code], env=env, capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert out.stdout.strip() == "[2.0, 4.0]", out


# ---- construction and reading back -------------------------------------------------------------
def test_construct_each_dtype():
    for dt in ALL_DTYPES:
        vals = [[0, 1, 1], [1, 0, 1]] if dt is dtypes.bool else [[0, 1, 2], [3, 100, 7]]
        t = Tensor(vals, dtype=dt)
        assert t.dtype is dt and t.shape == (2, 3)
        ref = np.array(vals, dtype=np.float32 if dt is dtypes.bfloat16 else dt.np)
        np.testing.assert_array_equal(t.numpy(), ref)
        assert t.tolist() == ref.tolist()
        if dt.np is not None:                                    # from an ndarray of that dtype
            back = Tensor(ref)
            assert back.dtype is dt and back.numpy().dtype == ref.dtype
            np.testing.assert_array_equal(back.numpy(), ref)
        scalar = Tensor(1, dtype=dt)
        assert scalar.shape == () and scalar.dtype is dt and scalar.item() == 1
        assert type(scalar.item()) is (bool if dt is dtypes.bool else float if dt in dtypes.floats else int)


def test_construct_inference():
    assert Tensor([1, 2]).dtype is dtypes.int32
    assert Tensor([1, 2.5]).dtype is dtypes.float32
    assert Tensor([True, False]).dtype is dtypes.bool
    assert Tensor((1.0, 2.0)).dtype is dtypes.float32
    assert Tensor([]).shape == (0,) and Tensor([]).dtype is dtypes.float32
    assert Tensor(3).dtype is dtypes.int32 and Tensor(3.0).dtype is dtypes.float32 and Tensor(True).dtype is dtypes.bool
    assert Tensor(np.float64(2.5)).dtype is dtypes.float64 and Tensor(np.arange(3.0)).dtype is dtypes.float64
    assert Tensor(np.int64(7)).item() == 7 and Tensor(np.array(5, dtype=np.int16)).shape == ()
    assert Tensor(b"\x01\x02").dtype is dtypes.uint8 and Tensor(b"\x01\x02").tolist() == [1, 2]
    assert Tensor([2**40], dtype=dtypes.int64).item() == 2**40
    assert Tensor(2**60, dtype=dtypes.int64).item() == 2**60
    strided = np.arange(12, dtype=np.float32).reshape(3, 4).T          # not C-contiguous
    np.testing.assert_array_equal(Tensor(strided).numpy(), strided)
    np.testing.assert_array_equal(Tensor(np.zeros((2, 0, 3))).numpy(), np.zeros((2, 0, 3)))
    assert Tensor([[1, 2]], dtype=dtypes.float16).numpy().dtype == np.float16
    assert Tensor([1.5, -2.5], dtype=dtypes.int32).tolist() == [1, -2]        # cast truncates
    assert Tensor([1.0, 2.5, -3.0], dtype=dtypes.bfloat16).tolist() == [1.0, 2.5, -3.0]
    assert Tensor([1.0], device="interp").device == "INTERP"
    raises(TypeError, lambda: Tensor("abc"))
    raises(TypeError, lambda: Tensor(np.array([1 + 2j])))
    raises(TypeError, lambda: Tensor([1], dtype="complex64"))


def test_read_back():
    t = Tensor([[1.5, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]] and Tensor(2.5).tolist() == 2.5
    assert t[0, 0].item() == 1.5 and isinstance(Tensor(3).item(), int) and Tensor(True).item() is True
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().dtype == np.float32
    assert t.data().tolist() == t.tolist()
    e = raises(ValueError, lambda: t.item(), "needs exactly 1")
    assert "4 elements" in str(e)
    assert t.realize() is t and t.realize(Tensor([1]) + 1) is t


def test_properties():
    t = Tensor.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple) and t.ndim == 3 and t.numel() == 24
    assert t.size() == (2, 3, 4) and t.size(-1) == 4 and t.element_size() == 4 and t.nbytes() == 96
    assert len(t) == 2 and t.is_floating_point() and not Tensor([1]).is_floating_point()
    assert t.device == Device.DEFAULT and t.dtype is dtypes.float32
    assert "(2, 3, 4)" in repr(t) and "float32" in repr(t)
    raises(TypeError, lambda: bool(Tensor([1])))
    raises(TypeError, lambda: len(Tensor(1)))
    assert len({t, Tensor([1])}) == 2                            # hashable by identity
    assert [r.tolist() for r in Tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]


# ---- elementwise --------------------------------------------------------------------------------
def test_binary_ops_vs_numpy():
    a, b = randf(3, 4), randf(3, 4, lo=0.5, hi=2.0)
    ta, tb = Tensor(a), Tensor(b)
    close(ta + tb, a + b)
    close(ta - tb, a - b)
    close(ta * tb, a * b)
    close(ta / tb, a / b)
    close(tb ** ta, b ** a, rtol=1e-5)
    close(ta.maximum(tb), np.maximum(a, b))
    close(ta.minimum(tb), np.minimum(a, b))
    close(ta + Tensor(b[0]), a + b[0])                             # broadcasting
    close(ta * 3, a * 3)
    close(3 * ta, 3 * a)
    close(2 - ta, 2 - a)
    close(1 / tb, 1 / b)
    close(2 ** ta, 2.0 ** a, rtol=1e-5)
    close(tb ** 2, b ** 2, rtol=0, atol=0)                        # x**2 is exact
    close(ta / 4, a / 4)
    close(-ta, -a)
    close(abs(ta), np.abs(a))
    close(ta.abs(), np.abs(a))
    close(ta @ tb.T, a @ b.T, rtol=1e-5)
    for op in ("__lt__", "__gt__", "__le__", "__ge__", "__eq__", "__ne__"):
        for other, ref_other in ((tb, b), (0.5, 0.5)):
            got = getattr(ta, op)(other)
            assert got.dtype is dtypes.bool
            np.testing.assert_array_equal(got.numpy(), getattr(a, op)(ref_other))
    np.testing.assert_array_equal((1 < ta).numpy(), 1 < a)


def test_integer_and_bitwise_ops():
    a = np.array([[-7, -2, 0], [3, 5, 12]], dtype=np.int32)
    t = Tensor(a)
    assert (t + 1).tolist() == (a + 1).tolist() and (10 - t).tolist() == (10 - a).tolist()
    assert (t * t).tolist() == (a * a).tolist()
    close(t / 2, a / 2)
    assert t.div(2, rounding_mode="trunc").tolist() == np.trunc(a / 2).astype(np.int32).tolist()
    assert t.fmod(5).tolist() == np.fmod(a, 5).tolist()
    assert (t & 6).tolist() == (a & 6).tolist() and (t | 1).tolist() == (a | 1).tolist()
    assert (t ^ 5).tolist() == (a ^ 5).tolist() and (~t).tolist() == (~a).tolist()
    assert (6 & t).tolist() == (6 & a).tolist()
    assert (t << 2).tolist() == (a << 2).tolist() and (t >> 1).tolist() == (a >> 1).tolist()
    u = Tensor(np.array([0, 1, 255], dtype=np.uint8))
    assert (~u).tolist() == [255, 254, 0] and (u + 1).tolist() == [1, 2, 0]
    b = Tensor([True, False, True])
    assert (b & True).tolist() == [True, False, True] and (b | False).tolist() == [True, False, True]
    assert (~b).tolist() == [False, True, False] and b.logical_not().tolist() == [False, True, False]
    assert Tensor([0, 3]).logical_not().tolist() == [True, False]
    assert (Tensor([7, -7, 7, -7]) // Tensor([2, 2, -2, -2])).tolist() == [3, -4, -4, 3]   # floors
    assert (Tensor([7, -7, 7, -7]) % Tensor([2, 2, -2, -2])).tolist() == [1, 1, -1, -1]
    close(Tensor([7.0, -7.0]) // 2, np.array([3.0, -4.0]))
    close(Tensor([7.0, -7.0]).div(2, rounding_mode="trunc"), np.array([3.0, -3.0]))


def test_scalar_dtype_promotion():
    """tinygrad's rules: a Python scalar takes a float tensor's dtype, an int tensor's dtype when it
    is an int; otherwise its own (int32, float32, bool); tensors promote by least upper dtype."""
    cases = [(dtypes.int32, 1.5, dtypes.float32), (dtypes.int32, 2.0, dtypes.float32),
             (dtypes.int8, 1, dtypes.int8), (dtypes.uint8, 1, dtypes.uint8), (dtypes.int64, 1, dtypes.int64),
             (dtypes.float16, 1.5, dtypes.float16), (dtypes.float16, 2, dtypes.float16),
             (dtypes.bfloat16, 1, dtypes.bfloat16), (dtypes.float64, 1, dtypes.float64),
             (dtypes.bool, 1, dtypes.int32), (dtypes.bool, 2.5, dtypes.float32)]
    for dt, scalar, want in cases:
        x = Tensor([1, 0], dtype=dt)
        assert (x + scalar).dtype is want, (dt, scalar, (x + scalar).dtype)
        assert (scalar + x).dtype is want and (x * scalar).dtype is want
    assert (Tensor([True]) & True).dtype is dtypes.bool
    assert (Tensor([1, 2]) < 1.5).tolist() == [True, False]
    assert (Tensor([1, 2]) + 1.5).tolist() == [2.5, 3.5]
    assert (Tensor([250], dtype=dtypes.uint8) + 10).tolist() == [4]                   # wraps
    assert (Tensor([1], dtype=dtypes.int32) + Tensor([1.0], dtype=dtypes.float16)).dtype is dtypes.float16
    assert (Tensor([1], dtype=dtypes.int8) + Tensor([1], dtype=dtypes.uint8)).dtype is dtypes.int16
    assert (Tensor([1, 2]) / 2).dtype is dtypes.float32
    assert (Tensor([1.0]) + np.float32(2)).tolist() == [3.0]
    raises(TypeError, lambda: Tensor([1.0]) + "a")


def test_inplace_operators():
    y = Tensor([1.0, 2.0])
    alias = y
    y += 1
    assert y is alias and alias.tolist() == [2.0, 3.0]
    y *= 2
    y -= 1
    y /= 2
    assert alias.tolist() == [1.5, 2.5]
    y **= 2
    assert alias.tolist() == [2.25, 6.25]
    x = Tensor.zeros(2, 3)
    x += Tensor([1.0, 2.0, 3.0])                              # the result is broadcast
    assert x.shape == (2, 3) and x.tolist() == [[1, 2, 3], [1, 2, 3]]
    m = Tensor([[1.0, 2.0], [3.0, 4.0]])
    m @= Tensor.eye(2) * 2
    assert m.tolist() == [[2, 4], [6, 8]]
    i = Tensor([1, 2, 3])
    i <<= 1
    i |= 1
    i &= 7
    i ^= 2
    i >>= 1
    assert i.tolist() == [((((v << 1) | 1) & 7) ^ 2) >> 1 for v in (1, 2, 3)]
    j = Tensor([1, 2])
    raises(RuntimeError, lambda: j.__iadd__(1.5), "dtype mismatch")  # tinygrad: assign keeps the dtype
    assert j.tolist() == [1, 2]
    lazy = Tensor([1.0]) * 3
    before = lazy
    for _ in range(3):
        lazy += lazy
    assert before.item() == 24.0


def test_assign_and_setitem():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    alias = t
    assert t.assign(Tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])) is t
    assert alias.tolist() == [[0, 0, 0], [1, 1, 1]]
    t.assign(7.0)
    assert t.tolist() == [[7, 7, 7], [7, 7, 7]]
    raises(RuntimeError, lambda: t.assign(Tensor([1, 2, 3])), "dtype mismatch")
    ref = np.arange(12, dtype=np.float32).reshape(3, 4)
    s = Tensor(ref.copy())
    s[0] = 100
    s[1:, 2:] = Tensor([[-1.0, -2.0], [-3.0, -4.0]])
    s[-1, 0] = 9
    s[..., 1] = Tensor([5.0, 6.0, 7.0])
    ref[0] = 100
    ref[1:, 2:] = [[-1, -2], [-3, -4]]
    ref[-1, 0] = 9
    ref[..., 1] = [5, 6, 7]
    np.testing.assert_array_equal(s.numpy(), ref)
    raises(NotImplementedError, lambda: s.__setitem__(slice(None, None, 2), 0))


def test_unary_vs_torch():
    if torch is None:
        return
    x = randf(4, 5, lo=-3, hi=3)
    pos, unit, big = randf(4, 5, lo=0.1, hi=4), randf(4, 5, lo=-0.95, hi=0.95), randf(4, 5, lo=1.0, hi=4)
    tx = torch.tensor(x)
    cases = {
        "exp": (x, torch.exp), "exp2": (x, lambda v: 2 ** v), "log": (pos, torch.log), "log2": (pos, torch.log2),
        "log10": (pos, torch.log10), "sqrt": (pos, torch.sqrt), "rsqrt": (pos, torch.rsqrt),
        "sin": (x, torch.sin), "cos": (x, torch.cos), "tan": (unit, torch.tan), "asin": (unit, torch.asin),
        "acos": (unit, torch.acos), "atan": (x, torch.atan), "sinh": (x, torch.sinh), "cosh": (x, torch.cosh),
        "tanh": (x, torch.tanh), "asinh": (x, torch.asinh), "acosh": (big, torch.acosh),
        "atanh": (unit, torch.atanh), "erf": (x, torch.erf), "trunc": (x, torch.trunc),
        "floor": (x, torch.floor), "ceil": (x, torch.ceil), "round": (x, torch.round),
        "sigmoid": (x, torch.sigmoid), "relu": (x, torch.relu), "relu6": (x * 3, F.relu6),
        "gelu": (x, lambda v: F.gelu(v, approximate="tanh")), "silu": (x, F.silu), "swish": (x, F.silu),
        "mish": (x, F.mish), "softsign": (x, F.softsign), "hardswish": (x * 2, F.hardswish),
        "hardsigmoid": (x * 2, F.hardsigmoid), "logsigmoid": (x, F.logsigmoid), "softplus": (x, F.softplus),
        "selu": (x, F.selu), "elu": (x, F.elu), "celu": (x, F.celu), "leaky_relu": (x, F.leaky_relu),
        "hardtanh": (x, F.hardtanh), "quick_gelu": (x, lambda v: v * torch.sigmoid(1.702 * v)),
        "square": (x, torch.square), "sign": (x, torch.sign), "abs": (x, torch.abs), "neg": (x, torch.neg),
        "reciprocal": (pos, torch.reciprocal),
    }
    for name, (inp, ref) in cases.items():
        close(getattr(Tensor(inp), name)(), ref(torch.tensor(inp)), rtol=2e-5, atol=2e-6)
    close(Tensor(x).elu(0.5), F.elu(tx, 0.5), rtol=2e-5, atol=2e-6)
    close(Tensor(x).leaky_relu(0.2), F.leaky_relu(tx, 0.2))
    close(Tensor(x).hardtanh(-0.5, 2.0), F.hardtanh(tx, -0.5, 2.0))
    special = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)
    assert Tensor(special).isnan().tolist() == [True, False, False, False]
    assert Tensor(special).isinf().tolist() == [False, True, True, False]
    assert Tensor(special).isfinite().tolist() == [False, False, False, True]
    close(Tensor(x).gelu(approximate="none"), F.gelu(torch.tensor(x)), rtol=1e-5, atol=1e-6)


def test_where_clip_lerp_and_others():
    a, b = randf(3, 4), randf(3, 4)
    ta, tb = Tensor(a), Tensor(b)
    close((ta > 0).where(ta, tb), np.where(a > 0, a, b))
    close((ta > 0).where(ta, 0.0), np.where(a > 0, a, 0))
    close((ta > 0).where(1.0, tb), np.where(a > 0, 1, b))
    assert (ta > 0).where(1, 0).dtype is dtypes.int32
    close(ta.clip(-0.5, 0.5), np.clip(a, -0.5, 0.5))
    close(ta.clamp(min_=0.0), np.maximum(a, 0))
    close(ta.clip(max_=tb), np.minimum(a, b))
    raises(RuntimeError, lambda: ta.clip())
    close(ta.lerp(tb, 0.25), a + (b - a) * 0.25)
    close(ta.copysign(tb), np.copysign(a, b))
    close(ta.logaddexp(tb), np.logaddexp(a, b), rtol=1e-5)
    assert ta.isclose(ta + 1e-7).numpy().all() and not ta.isclose(ta + 1).numpy().any()
    assert ta[0].allclose(ta[0] + 1e-7).item() is True and ta[0].allclose(ta[0] + 1).item() is False


def test_cast_and_bitcast():
    f = Tensor([1.7, -2.7, 3.0])
    assert f.cast(dtypes.int32).tolist() == [1, -2, 3] and f.int().dtype is dtypes.int32
    assert f.half().dtype is dtypes.float16 and f.double().dtype is dtypes.float64
    assert f.long().dtype is dtypes.int64 and f.short().dtype is dtypes.int16
    assert f.bool().tolist() == [True, True, True] and f.bfloat16().dtype is dtypes.bfloat16
    assert Tensor([1, 2]).float().dtype is dtypes.float32 and f.cast("uint8").dtype is dtypes.uint8
    ref = np.array([1.0, -2.5], dtype=np.float32)
    np.testing.assert_array_equal(Tensor(ref).bitcast(dtypes.int32).numpy(), ref.view(np.int32))
    np.testing.assert_array_equal(Tensor(ref.view(np.uint32)).bitcast(dtypes.float32).numpy(), ref)


# ---- reductions -----------------------------------------------------------------------------------
def test_reductions_vs_numpy():
    a = randf(3, 4, 5)
    t = Tensor(a)
    for axis in (None, 0, 1, -1, (0, 2), (1, 2)):
        for keepdim in (False, True):
            kw = dict(axis=axis, keepdims=keepdim)
            close(t.sum(axis=axis, keepdim=keepdim), a.sum(**kw), rtol=1e-5, atol=1e-5)
            close(t.max(axis=axis, keepdim=keepdim), a.max(**kw))
            close(t.min(axis=axis, keepdim=keepdim), a.min(**kw))
            close(t.mean(axis=axis, keepdim=keepdim), a.mean(**kw), rtol=1e-5, atol=1e-6)
            close(t.prod(axis=axis, keepdim=keepdim), a.prod(**kw), rtol=1e-4, atol=1e-6)
            for corr in (0, 1):
                close(t.var(axis=axis, keepdim=keepdim, correction=corr), a.var(ddof=corr, **kw), rtol=1e-4, atol=1e-6)
                close(t.std(axis=axis, keepdim=keepdim, correction=corr), a.std(ddof=corr, **kw), rtol=1e-4, atol=1e-6)
    v, m = t.var_mean(axis=1)
    close(v, a.var(axis=1, ddof=1), rtol=1e-4)
    close(m, a.mean(axis=1), rtol=1e-5)
    s, m = t.std_mean()
    close(s, a.std(ddof=1), rtol=1e-4)
    i = Tensor(np.array([[3, 1, 3], [0, 5, 5]], dtype=np.int32))
    assert i.sum().item() == 17 and i.sum(axis=0).tolist() == [3, 6, 8] and i.sum().dtype is dtypes.int32
    assert i.max(axis=1).tolist() == [3, 5] and i.argmax().item() == 4
    assert i.argmax(axis=1).tolist() == [0, 1] and i.argmax(axis=0, keepdim=True).tolist() == [[0, 1, 1]]
    assert Tensor(a).argmax().item() == int(a.argmax())
    assert i.argmax().dtype is dtypes.int32
    assert Tensor([True, False]).sum().dtype is dtypes.int32
    assert Tensor([1], dtype=dtypes.uint8).sum().dtype is dtypes.uint32
    assert Tensor([1.0], dtype=dtypes.float16).sum().dtype is dtypes.float16
    assert i.sum(dtype=dtypes.float32).dtype is dtypes.float32
    b = Tensor([[True, False], [True, True]])
    assert b.any().item() is True and b.all(axis=1).tolist() == [False, True]
    assert Tensor([0, 2]).any().item() is True and Tensor([0, 2]).all().item() is False


def test_all_of_2d_bool():
    """C bug on CPU (gcc 12 vectorizes the bool min kernel r_r2_r2 wrongly): min -> 254."""
    b = Tensor([[True, False], [True, True]])
    assert b.all().item() is False and b.min().item() is False
    a = Tensor(randf(3, 4))
    assert a.allclose(a + 1e-7).item() is True


def test_softmax_layernorm_vs_torch():
    if torch is None:
        return
    a = randf(2, 3, 5)
    ta, t = torch.tensor(a), Tensor(a)
    close(t.softmax(), torch.softmax(ta, -1), rtol=1e-5)
    close(t.softmax(axis=1), torch.softmax(ta, 1), rtol=1e-5)
    close(t.log_softmax(), torch.log_softmax(ta, -1), rtol=1e-5, atol=1e-5)
    close(t.log_softmax(0), torch.log_softmax(ta, 0), rtol=1e-5, atol=1e-5)
    close(t.layernorm(), F.layer_norm(ta, (5,), eps=1e-5), rtol=1e-4, atol=1e-5)
    close(t.layernorm(axis=(-2, -1), eps=1e-3), F.layer_norm(ta, (3, 5), eps=1e-3), rtol=1e-4, atol=1e-5)
    ref0 = (ta - ta.mean(0, keepdim=True)) / (ta.var(0, unbiased=False, keepdim=True) + 1e-5).sqrt()
    close(t.layernorm(axis=0), ref0, rtol=1e-4, atol=1e-5)
    assert t.softmax(dtype=dtypes.float64).dtype is dtypes.float64


def test_matmul():
    a, b = randf(3, 4), randf(4, 5)
    close(Tensor(a) @ Tensor(b), a @ b, rtol=1e-5, atol=1e-5)
    close(Tensor(a).matmul(Tensor(b)), a @ b, rtol=1e-5, atol=1e-5)
    close(Tensor(b).matmul(Tensor(a), reverse=True), a @ b, rtol=1e-5, atol=1e-5)
    close(Tensor(a).dot(Tensor(b)), a @ b, rtol=1e-5, atol=1e-5)
    c = randf(2, 3, 4)
    close(Tensor(c) @ Tensor(b), c @ b, rtol=1e-5, atol=1e-5)
    close(Tensor(b[:, 0]) @ Tensor(b), b[:, 0] @ b, rtol=1e-5, atol=1e-5)
    close(Tensor(a) @ Tensor(b[:, 0]), a @ b[:, 0], rtol=1e-5, atol=1e-5)
    close(Tensor(c).linear(Tensor(b), Tensor(b[0])), c @ b + b[0], rtol=1e-5, atol=1e-5)
    close(Tensor.einsum("ij,jk->ik", Tensor(a), Tensor(b)), a @ b, rtol=1e-5, atol=1e-5)
    raises(ValueError, lambda: Tensor(a) @ Tensor(a), "do not align")


# ---- movement and indexing -------------------------------------------------------------------------
def test_movement_vs_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor(a)
    close(t.reshape(6, 4), a.reshape(6, 4))
    close(t.reshape((4, -1)), a.reshape(4, -1))
    close(t.reshape(None, 12), a.reshape(2, 12))
    close(t.view(-1), a.reshape(-1))
    close(t.permute(2, 0, 1), a.transpose(2, 0, 1))
    close(t.permute((1, 0, 2)), a.transpose(1, 0, 2))
    close(t.transpose(), a.transpose(1, 0, 2))
    close(t.transpose(-1, 0), a.swapaxes(-1, 0))
    close(Tensor(a[0]).T, a[0].T)
    close(Tensor(a[:, :1]).expand(2, 5, 4), np.broadcast_to(a[:, :1], (2, 5, 4)))
    close(Tensor(a[:, :1]).expand(-1, 3, None), np.broadcast_to(a[:, :1], (2, 3, 4)))
    close(Tensor(a[0, 0]).expand(2, 4), np.broadcast_to(a[0, 0], (2, 4)))
    close(t.pad(((0, 0), (1, 2), (3, 0))), np.pad(a, ((0, 0), (1, 2), (3, 0))))
    close(t.pad((1, 1), value=-1.0), np.pad(a, ((0, 0), (0, 0), (1, 1)), constant_values=-1))
    close(t.pad((1, 2, 3, 4)), np.pad(a, ((0, 0), (3, 4), (1, 2))))
    close(t.pad((None, (1, 0), None)), np.pad(a, ((0, 0), (1, 0), (0, 0))))
    close(t.pad((2, 2), mode="reflect"), np.pad(a, ((0, 0), (0, 0), (2, 2)), mode="reflect"))
    close(t.pad((1, 1), mode="replicate"), np.pad(a, ((0, 0), (0, 0), (1, 1)), mode="edge"))
    close(t.pad((1, 1), mode="circular"), np.pad(a, ((0, 0), (0, 0), (1, 1)), mode="wrap"))
    close(t.shrink(((0, 1), None, (1, 3))), a[0:1, :, 1:3])
    close(t.flip(0), a[::-1])
    close(t.flip((0, 2)), a[::-1, :, ::-1])
    close(t.flatten(), a.reshape(-1))
    close(t.flatten(1), a.reshape(2, 12))
    close(t.flatten(0, 1), a.reshape(6, 4))
    assert Tensor(1.0).flatten().shape == (1,)
    assert t.unsqueeze(0).shape == (1, 2, 3, 4) and t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert t.unsqueeze(1).shape == (2, 1, 3, 4)
    assert Tensor.zeros(1, 3, 1).squeeze().shape == (3,) and Tensor.zeros(1, 3, 1).squeeze(-1).shape == (1, 3)
    assert Tensor.zeros(2, 3).squeeze(0).shape == (2, 3)
    assert t.unflatten(2, (2, 2)).shape == (2, 3, 2, 2)
    close(t.contiguous(), a)
    close(t.clone(), a)
    close(t.cat(t, dim=1), np.concatenate([a, a], 1))
    close(Tensor.cat(t, t, t), np.concatenate([a, a, a]))
    close(Tensor.stack(t, t, dim=0), np.stack([a, a]))
    close(t.stack(t, dim=-1), np.stack([a, a], -1))
    close(Tensor([1, 2]).repeat_interleave(3), np.repeat([1, 2], 3))
    close(t.repeat_interleave(2, dim=1), np.repeat(a, 2, axis=1))
    close(Tensor(a[0, :3, :3]).diagonal(), np.diagonal(a[0, :3, :3]))
    close(t.diagonal(dim1=1, dim2=2), np.diagonal(a, axis1=1, axis2=2))
    close(Tensor([1, 2, 3]).diag(), np.diag([1, 2, 3]))
    gx, gy = Tensor([1, 2, 3]).meshgrid(Tensor([4, 5]))
    rx, ry = np.meshgrid([1, 2, 3], [4, 5], indexing="ij")
    close(gx, rx)
    close(gy, ry)
    gx, gy = Tensor([1, 2, 3]).meshgrid(Tensor([4, 5]), indexing="xy")
    rx, ry = np.meshgrid([1, 2, 3], [4, 5], indexing="xy")
    close(gx, rx)
    close(gy, ry)
    moved = t.to("INTERP" if t.device == "CPU" else "CPU")
    assert moved.device != t.device and moved.tolist() == a.tolist() and t.to(t.device) is t


def test_getitem_vs_numpy():
    a = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4)
    t = Tensor(a)
    s = slice
    cases = [0, -1, 1, (0, 1), (1, -1, 2), (-2, -3, -4), s(None), s(1, None), s(None, None, -1),
             (s(None), s(None, None, 2)), (Ellipsis, 1), (None, 0), (0, None, s(1, 3)), Ellipsis,
             (s(None, None, -2), Ellipsis, s(3, 0, -1)), (1, Ellipsis, None), s(-100, 100), s(5, 1),
             (s(None), 1, s(None, None, 3)), (s(None), s(1, 100, 2), -1), (None, Ellipsis, None),
             (s(1, 2), s(0, 3, 2), s(-1, None, -1)), (s(None, None, -1), s(None, None, -1), s(None, None, -3)),
             ([1, 0],), (s(None), [2, 0, 2]), (Ellipsis, [[0, 3], [1, 2]]), (s(None), s(None), [1, 3]),
             np.int64(1), (np.int32(-1), 2)]
    for idx in cases:
        got, ref = t[idx], a[idx]
        assert got.shape == ref.shape, (idx, got.shape, ref.shape)
        np.testing.assert_array_equal(got.numpy(), ref, err_msg=str(idx))
    assert t[Tensor([1, 0])].tolist() == a[[1, 0]].tolist()
    assert t[0, 1, 2].item() == a[0, 1, 2]
    raises(IndexError, lambda: t[2], "out of bounds")
    raises(IndexError, lambda: t[0, -4], "out of bounds")
    raises(IndexError, lambda: t[0, 0, 0, 0], "too many indices")
    raises(IndexError, lambda: t[..., 0, ...], "single ellipsis")
    raises(IndexError, lambda: t["a"])
    raises(ValueError, lambda: t[::0], "step")
    assert [r.tolist() for r in t[0]] == a[0].tolist()


def test_indexing_helpers_vs_numpy():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = Tensor(a)
    idx = np.array([[0, 2], [1, 0], [3, 3]], dtype=np.int32)
    np.testing.assert_array_equal(t.gather(1, Tensor(idx)).numpy(), np.take_along_axis(a, idx, 1))
    np.testing.assert_array_equal(t.tril().numpy(), np.tril(a))
    np.testing.assert_array_equal(t.triu(1).numpy(), np.triu(a, 1))
    np.testing.assert_array_equal(t.masked_fill(t > 5, -1).numpy(), np.where(a > 5, -1, a))
    np.testing.assert_array_equal(t.masked_fill(t > 5, Tensor(-a)).numpy(), np.where(a > 5, -a, a))
    close(t.cumsum(), np.cumsum(a, 0))
    close(t.cumsum(1), np.cumsum(a, 1))
    close(Tensor(a[:, :3] / 4 + 1).cumprod(1), np.cumprod(a[:, :3] / 4 + 1, 1), rtol=1e-5)
    b = randf(3, 5)
    assert Tensor(b).argmin().item() == int(b.argmin()) and Tensor(b).argmin(1).tolist() == b.argmin(1).tolist()
    assert Tensor(b).argmin(0, keepdim=True).shape == (1, 5)
    close(Tensor(b).logsumexp(), np.log(np.exp(b).sum()), rtol=1e-5)
    close(Tensor(b).logsumexp(1, keepdim=True), np.log(np.exp(b).sum(1, keepdims=True)), rtol=1e-5)
    np.testing.assert_array_equal(t.repeat(2, 1).numpy(), np.tile(a, (2, 1)))
    np.testing.assert_array_equal(t.repeat((1, 2, 2)).numpy(), np.tile(a, (1, 2, 2)))
    np.testing.assert_array_equal(t.roll(1, 0).numpy(), np.roll(a, 1, 0))
    np.testing.assert_array_equal(t.roll((1, -1), (0, 1)).numpy(), np.roll(a, (1, -1), (0, 1)))
    np.testing.assert_array_equal(t.roll(5).numpy(), np.roll(a, 5))
    parts = t.split(3, dim=1)
    assert [p.shape for p in parts] == [(3, 3), (3, 1)] and isinstance(parts, tuple)
    parts = t.split([1, 2])
    assert [p.tolist() for p in parts] == [a[:1].tolist(), a[1:].tolist()]
    chunks = t.chunk(2, dim=1)
    assert [c.tolist() for c in chunks] == [a[:, :2].tolist(), a[:, 2:].tolist()]
    assert Tensor([0, 2, 1]).one_hot(3).tolist() == np.eye(3, dtype=np.int32)[[0, 2, 1]].tolist()
    assert Tensor([0, 2]).one_hot().shape == (2, 3)
    assert t.sequential([lambda x: x + 1, lambda x: x * 2]).tolist() == ((a + 1) * 2).tolist()
    raises(ValueError, lambda: t.split([1, 1]), "split")


def test_nn_ops_vs_torch():
    if torch is None:
        return
    x, w, bias = randf(2, 3, 7, 6), randf(4, 3, 3, 3), randf(4)
    tx, tw, tb = torch.tensor(x), torch.tensor(w), torch.tensor(bias)
    close(Tensor(x).conv2d(Tensor(w)), F.conv2d(tx, tw), rtol=1e-4, atol=1e-4)
    close(Tensor(x).conv2d(Tensor(w), Tensor(bias), stride=2, padding=1),
          F.conv2d(tx, tw, tb, stride=2, padding=1), rtol=1e-4, atol=1e-4)
    close(Tensor(x).conv2d(Tensor(w), padding=(1, 2), dilation=(2, 1)),
          F.conv2d(tx, tw, padding=(1, 2), dilation=(2, 1)), rtol=1e-4, atol=1e-4)
    close(Tensor(x).conv2d(Tensor(w), padding=(2, 2, 1, 1)), F.conv2d(tx, tw, padding=(1, 2)), rtol=1e-4, atol=1e-4)
    raises(NotImplementedError, lambda: Tensor(x).conv2d(Tensor(w), padding=(1, 0, 0, 0)))
    wg = randf(6, 1, 3, 3)
    close(Tensor(x).conv2d(Tensor(wg), groups=3), F.conv2d(tx, torch.tensor(wg), groups=3), rtol=1e-4, atol=1e-4)
    w1 = randf(4, 3, 3)
    close(Tensor(x[:, :, 0]).conv2d(Tensor(w1)), F.conv1d(tx[:, :, 0], torch.tensor(w1)), rtol=1e-4, atol=1e-4)
    wt = randf(3, 2, 3, 3)
    close(Tensor(x).conv_transpose2d(Tensor(wt), stride=2, padding=1, output_padding=1),
          F.conv_transpose2d(tx, torch.tensor(wt), stride=2, padding=1, output_padding=1), rtol=1e-4, atol=1e-4)
    close(Tensor(x).max_pool2d(), F.max_pool2d(tx, 2))
    close(Tensor(x).max_pool2d((3, 2), stride=1, padding=1), F.max_pool2d(tx, (3, 2), 1, 1))
    close(Tensor(x).avg_pool2d(), F.avg_pool2d(tx, 2), rtol=1e-5)
    close(Tensor(x).avg_pool2d(3, stride=2, padding=1), F.avg_pool2d(tx, 3, 2, 1), rtol=1e-5)
    close(Tensor(x).avg_pool2d(3, stride=2, padding=1, count_include_pad=False),
          F.avg_pool2d(tx, 3, 2, 1, count_include_pad=False), rtol=1e-5)
    lin_w, lin_b = randf(6, 5), randf(5)
    close(Tensor(x[0, 0]).linear(Tensor(lin_w), Tensor(lin_b)), x[0, 0] @ lin_w + lin_b, rtol=1e-5, atol=1e-5)
    close(Tensor(x[0, 0]).linear(Tensor(lin_w[:, 0])), x[0, 0] * lin_w[:, 0])
    mean, invstd, g = randf(3), randf(3, lo=0.5, hi=2), randf(3)
    ref = (x - mean[None, :, None, None]) * (g * invstd)[None, :, None, None] + bias[:3][None, :, None, None]
    close(Tensor(x).batchnorm(Tensor(g), Tensor(bias[:3]), Tensor(mean), Tensor(invstd)), ref, rtol=1e-5, atol=1e-5)
    q, k, v = randf(2, 4, 8), randf(2, 6, 8), randf(2, 6, 8)
    tq, tk, tv = torch.tensor(q), torch.tensor(k), torch.tensor(v)

    def sdpa(q, k, v, mask=None):  # torch 1.13 has no F.scaled_dot_product_attention
        s = q @ k.transpose(-2, -1) / np.sqrt(q.shape[-1])
        return torch.softmax(s if mask is None else s.masked_fill(~mask, -np.inf), -1) @ v
    close(Tensor(q).scaled_dot_product_attention(Tensor(k), Tensor(v)), sdpa(tq, tk, tv), rtol=1e-4, atol=1e-5)
    mask = RNG.uniform(size=(4, 6)) > 0.3
    mask[:, 0] = True
    close(Tensor(q).scaled_dot_product_attention(Tensor(k), Tensor(v), attn_mask=Tensor(mask)),
          sdpa(tq, tk, tv, torch.tensor(mask)), rtol=1e-4, atol=1e-5)
    close(Tensor(q).scaled_dot_product_attention(Tensor(q), Tensor(q), is_causal=True),
          sdpa(tq, tq, tq, torch.ones(4, 4, dtype=torch.bool).tril()), rtol=1e-4, atol=1e-5)
    logits, labels = randf(5, 4), np.array([0, 3, 1, 1, 2], dtype=np.int32)
    tl, ty = torch.tensor(logits), torch.tensor(labels.astype(np.int64))
    for red in ("mean", "sum", "none"):
        close(Tensor(logits).cross_entropy(Tensor(labels), reduction=red),
              F.cross_entropy(tl, ty, reduction=red), rtol=1e-5, atol=1e-6)
        close(Tensor(logits).log_softmax().nll_loss(Tensor(labels), reduction=red),
              F.nll_loss(torch.log_softmax(tl, -1), ty, reduction=red), rtol=1e-5, atol=1e-6)
    close(Tensor(logits).cross_entropy(Tensor(labels), label_smoothing=0.1),
          F.cross_entropy(tl, ty, label_smoothing=0.1), rtol=1e-5)
    close(Tensor(logits).sparse_categorical_crossentropy(Tensor(labels)), F.cross_entropy(tl, ty), rtol=1e-5)
    ign = labels.copy()
    ign[1] = -1
    close(Tensor(logits).sparse_categorical_crossentropy(Tensor(ign)),
          F.cross_entropy(tl, torch.tensor(ign.astype(np.int64)), ignore_index=-1), rtol=1e-5)
    close(Tensor(logits).log_softmax().nll_loss(Tensor(ign), ignore_index=-1),
          F.nll_loss(torch.log_softmax(tl, -1), torch.tensor(ign.astype(np.int64)), ignore_index=-1), rtol=1e-5)
    p, y = randf(6, lo=0.05, hi=0.95), (RNG.uniform(size=6) > 0.5).astype(np.float32)
    close(Tensor(p).binary_crossentropy(Tensor(y)), F.binary_cross_entropy(torch.tensor(p), torch.tensor(y)), rtol=1e-5)
    close(Tensor(logits[0]).binary_crossentropy_logits(Tensor(y[:4]), reduction="sum"),
          F.binary_cross_entropy_with_logits(tl[0], torch.tensor(y[:4]), reduction="sum"), rtol=1e-5)
    raises(ValueError, lambda: Tensor(logits).cross_entropy(Tensor(labels), reduction="avg"), "reduction")
    img = randf(1, 2, 3, 4)
    close(Tensor(img).interpolate((6, 8), mode="nearest"),
          F.interpolate(torch.tensor(img), size=(6, 8), mode="nearest"))
    close(Tensor(img).interpolate((5, 7), align_corners=True),
          F.interpolate(torch.tensor(img), size=(5, 7), mode="bilinear", align_corners=True), rtol=1e-5, atol=1e-6)
    ones = Tensor.ones(1000)
    assert ones.dropout(0.5).tolist() == [1.0] * 1000                  # not training: identity
    with Tensor.train():
        kept = ones.dropout(0.25).numpy()
    assert np.allclose(kept[kept != 0], 4 / 3) and 0.6 < (kept > 0).mean() < 0.9


def test_replace_and_to_():
    w = Tensor([1.0, 2.0], requires_grad=True)
    alias = w
    w.replace(Tensor([3.0, 4.0]))
    assert alias.tolist() == [3.0, 4.0] and w.requires_grad
    raises(ValueError, lambda: w.replace(Tensor([1.0])), "replace")
    other = "INTERP" if Device.DEFAULT == "CPU" else "CPU"
    t = Tensor([1, 2])
    assert t.to_(other) is t and t.device == other and t.tolist() == [1, 2]


# ---- creation ----------------------------------------------------------------------------------
def test_creation():
    assert Tensor.zeros(2, 3).tolist() == [[0.0] * 3] * 2 and Tensor.zeros((2, 3)).shape == (2, 3)
    assert Tensor.ones(2, dtype=dtypes.int8).tolist() == [1, 1] and Tensor.ones(2).dtype is dtypes.float32
    assert Tensor.full((2,), 3).dtype is dtypes.int32 and Tensor.full((2,), 3.5).tolist() == [3.5, 3.5]
    assert Tensor.full((1,), True).dtype is dtypes.bool and Tensor.full(3, 1.0).shape == (3,)
    assert Tensor.arange(5).tolist() == list(range(5)) and Tensor.arange(5).dtype is dtypes.int32
    assert Tensor.arange(2, 8, 2).tolist() == [2, 4, 6] and Tensor.arange(5, 0, -2).tolist() == [5, 3, 1]
    close(Tensor.arange(0, 1, 0.25), np.arange(0, 1, 0.25))
    assert Tensor.arange(0, 1, 0.25).dtype is dtypes.float32
    assert Tensor.arange(3, dtype=dtypes.float64).dtype is dtypes.float64
    assert Tensor.eye(3).tolist() == np.eye(3).tolist() and Tensor.eye(2, dtype=dtypes.int32).dtype is dtypes.int32
    assert Tensor.empty(2, 3).shape == (2, 3) and Tensor.empty(2, dtype=dtypes.int16).dtype is dtypes.int16
    base = Tensor([[1, 2, 3]])
    assert base.zeros_like().tolist() == [[0, 0, 0]] and base.zeros_like().dtype is dtypes.int32
    assert base.ones_like(dtype=dtypes.float32).tolist() == [[1.0, 1.0, 1.0]]
    assert base.full_like(7).tolist() == [[7, 7, 7]] and base.empty_like().shape == (1, 3)
    assert Tensor([1.0, 2.0]).rand_like().shape == (2,) and Tensor([1.0]).randn_like().dtype is dtypes.float32
    close(Tensor.linspace(0, 1, 5), np.linspace(0, 1, 5))
    Tensor.manual_seed(123)
    r1 = Tensor.rand(1000).numpy()
    Tensor.manual_seed(123)
    r2 = Tensor.rand(1000).numpy()
    np.testing.assert_array_equal(r1, r2)
    assert 0 <= r1.min() and r1.max() < 1 and abs(r1.mean() - 0.5) < 0.05
    assert Tensor.rand(2, 3).shape == (2, 3) and Tensor.rand((4,), dtype=dtypes.float16).dtype is dtypes.float16
    n = Tensor.randn(20000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    u = Tensor.uniform(5000, low=-3, high=-1).numpy()
    assert u.min() >= -3 and u.max() < -1
    nn_ = Tensor.normal(5000, mean=4, std=0.5).numpy()
    assert abs(nn_.mean() - 4) < 0.1 and abs(nn_.std() - 0.5) < 0.1
    ri = Tensor.randint(1000, low=2, high=5)
    assert ri.dtype is dtypes.int32 and set(ri.tolist()) <= {2, 3, 4}
    assert sorted(Tensor.randperm(10).tolist()) == list(range(10))
    for init in (Tensor.scaled_uniform, Tensor.glorot_uniform, Tensor.kaiming_uniform, Tensor.kaiming_normal):
        assert init(8, 4).shape == (8, 4)
    assert Tensor.kaiming_uniform(64, 32, a=0.5).abs().max().item() < 1.0
    other = "INTERP" if Device.DEFAULT == "CPU" else "CPU"
    for t in (Tensor.zeros(2, device=other), Tensor.arange(3, device=other), Tensor.rand(2, device=other),
              Tensor.eye(2, device=other), Tensor(1.5, device=other), base.full_like(1, device=other)):
        assert t.device == other
    assert Device.DEFAULT != other                               # creation does not change it
    assert Tensor.eye(2, 3).tolist() == np.eye(2, 3).tolist()
    raises(ValueError, lambda: Tensor.zeros(*(1,) * 9), "at most 8")


def test_sort_topk_scatter():
    a = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, -1.0, 5.0, 4.0]], dtype=np.float32)
    v, i = Tensor(a).sort()
    np.testing.assert_array_equal(v.numpy(), np.sort(a, -1))
    np.testing.assert_array_equal(i.numpy(), np.argsort(a, -1, kind="stable"))
    v, i = Tensor(a).sort(dim=0, descending=True)
    np.testing.assert_array_equal(v.numpy(), -np.sort(-a, 0))
    np.testing.assert_array_equal(Tensor(a).argsort().numpy(), np.argsort(a, -1, kind="stable"))
    v, i = Tensor(a).topk(2)
    np.testing.assert_array_equal(v.numpy(), [[3, 2], [5, 4]])
    np.testing.assert_array_equal(i.numpy(), [[0, 2], [2, 3]])
    v, i = Tensor(a).topk(1, dim=0, largest=False)
    np.testing.assert_array_equal(v.numpy(), [[0, -1, 2, 1]])
    if torch is not None:
        x, idx, src = torch.zeros(3, 5), torch.tensor([[0, 1, 2, 0, 1]]), torch.arange(1.0, 6).reshape(1, 5)
        close(Tensor.zeros(3, 5).scatter(0, Tensor(idx.numpy().astype(np.int32)), Tensor(src.numpy())), x.scatter(0, idx, src))
        close(Tensor.zeros(3, 5).scatter(0, Tensor(idx.numpy().astype(np.int32)), 2.0), x.scatter(0, idx, 2.0))
        ones = torch.ones(3, 5)
        for red in ("sum", "prod", "amax", "amin", "mean"):
            ref = ones.scatter_reduce(0, idx, src, red, include_self=True)
            close(Tensor.ones(3, 5).scatter_reduce(0, Tensor(idx.numpy().astype(np.int32)), Tensor(src.numpy()), red), ref)


# ---- autograd ----------------------------------------------------------------------------------
def test_autograd_vs_torch():
    if torch is None:
        return
    x, w1, b1, w2 = randf(4, 3), randf(3, 5), randf(5), randf(5, 2)
    labels = np.array([0, 1, 1, 0])
    tw1, tb1, tw2 = (Tensor(v, requires_grad=True) for v in (w1, b1, w2))
    rw1, rb1, rw2 = (torch.tensor(v, requires_grad=True) for v in (w1, b1, w2))
    onehot = np.eye(2, dtype=np.float32)[labels]
    loss = -((Tensor(x) @ tw1 + tb1).relu().matmul(tw2).log_softmax(-1) * Tensor(onehot)).sum() / 4
    ref = F.cross_entropy((torch.tensor(x) @ rw1 + rb1).relu() @ rw2, torch.tensor(labels))
    assert tw1.requires_grad and loss.requires_grad and not Tensor(x).requires_grad
    close(loss, ref, rtol=1e-5)
    assert loss.backward() is loss
    ref.backward()
    for t, r in ((tw1, rw1), (tb1, rb1), (tw2, rw2)):
        close(t.grad, r.grad, rtol=1e-4, atol=1e-6)
    loss.backward()                                          # gradients accumulate
    close(tw2.grad, 2 * rw2.grad, rtol=1e-4, atol=1e-6)
    tw2.grad = None
    assert tw2.grad is None
    g1, g2 = loss.gradient(tw1, tw2)
    close(g1, rw1.grad, rtol=1e-4, atol=1e-6)
    close(g2, rw2.grad, rtol=1e-4, atol=1e-6)
    d = tw1.detach()
    assert not d.requires_grad and not (d * 2).requires_grad
    y = tw1 * 2
    y += 1                                                   # rebinding keeps the graph
    tw1.grad = None
    y.sum().backward()
    close(tw1.grad, np.full((3, 5), 2.0))
    raises(TypeError, lambda: Tensor([1, 2], requires_grad=True), "float")
    raises(ValueError, lambda: (tw1 * 2).backward(), "one element")


def test_requires_grad_can_be_unset():
    """C bug: cg_set_requires_grad(t, 0) leaves t's node needs_grad, so cg_requires_grad stays 1."""
    p = Tensor([1.0, 2.0])
    assert not p.requires_grad
    p.requires_grad = True
    assert p.requires_grad
    p.requires_grad = False
    assert not p.requires_grad


def test_no_grad_and_training_flags():
    w = Tensor([1.0, 2.0], requires_grad=True)
    Tensor.no_grad = True
    try:
        assert Tensor.no_grad is True and not (w * 2).requires_grad
    finally:
        Tensor.no_grad = False
    assert (w * 2).requires_grad
    with Tensor.test():
        assert Tensor.no_grad and not (w * 2).requires_grad
    assert not Tensor.no_grad
    with Tensor.train():
        assert Tensor.training is True
        with Tensor.train(False):
            assert Tensor.training is False
        assert Tensor.training is True
    assert Tensor.training is False

    @Tensor.train()
    def step(): return Tensor.training
    assert step() is True and Tensor.training is False


# ---- errors, devices, counters, memory -------------------------------------------------------------
def test_errors_carry_c_messages():
    x = Tensor([[1, 2, 3], [4, 5, 6]])
    cases = [
        (lambda: x.reshape(4, 4), ValueError, "reshape: cannot reshape (2, 3) (6 elements) to (4, 4)"),
        (lambda: x.sum(axis=3), IndexError, "axis 3 is out of range for a tensor with 2 dimensions"),
        (lambda: x.permute(0, 0), ValueError, "permute: axis 0 repeated"),
        (lambda: x.shrink(((0, 5), (0, 1))), IndexError, "out of bounds"),
        (lambda: x.bitcast(dtypes.int8), TypeError, "bitcast: cannot reinterpret int32 as int8"),
        (lambda: Tensor([1.0]) << 1, TypeError, "shifts need integer tensors"),
        (lambda: Tensor([1.0]) & Tensor([1.0]), TypeError, "needs integer or bool tensors"),
        (lambda: Tensor([1, 2]) + Tensor([1, 2, 3]), ValueError, "cannot broadcast shapes (2,) and (3,)"),
        (lambda: x.to("NOPE"), RuntimeError, "unknown device 'NOPE'"),
        (lambda: x @ x, ValueError, "do not align"),
        (lambda: x.expand(3, 3), ValueError, "expand"),
        (lambda: x.pad(((0, 0),)), ValueError, "pad: got 1 pairs"),
        (lambda: Tensor.cat(x, Tensor([1])), ValueError, "cat"),
        (lambda: x.topk(4), IndexError, "out of range"),
        (lambda: x.item(), ValueError, "needs exactly 1"),
    ]
    for fn, exc, msg in cases:
        raises(exc, fn, msg)
    other = "INTERP" if Device.DEFAULT == "CPU" else "CPU"
    raises(RuntimeError, lambda: x + x.to(other), "different devices")
    raises(RuntimeError, lambda: setattr(Device, "DEFAULT", "NOPE"), "unknown device")
    (x + 1).realize()                                        # a failure leaves no state behind


def test_device_default():
    start = Device.DEFAULT
    other = "INTERP" if start == "CPU" else "CPU"
    try:
        Device.DEFAULT = other.lower()
        assert Device.DEFAULT == other
        t = Tensor([1.0, 2.0]) + 1
        assert t.device == other and Tensor.zeros(2).device == other and t.tolist() == [2.0, 3.0]
    finally:
        Device.DEFAULT = start
    assert Device.DEFAULT == start and Tensor([1]).device == start
    assert Device.canonicalize("cpu") == "CPU" and Device.canonicalize("cuda:0") == "CUDA"
    assert Device.canonicalize("cuda:1") == "CUDA:1" and Device.canonicalize(None) == start
    assert {"CPU", "INTERP"} <= set(Device.get_available_devices())


def test_global_counters():
    GlobalCounters.reset()
    assert GlobalCounters.kernel_count == 0 and GlobalCounters.global_ops == 0
    assert GlobalCounters.global_mem == 0 and GlobalCounters.time_sum_s == 0
    a = Tensor(randf(64))
    (a * 3 + 1).realize()
    assert GlobalCounters.kernel_count == 1
    assert GlobalCounters.global_ops >= 128 and GlobalCounters.global_mem >= 2 * 64 * 4
    assert GlobalCounters.time_sum_s >= 0 and isinstance(GlobalCounters.global_ops, int)
    ((a * 3 + 1).sum() + a.max()).realize()
    assert GlobalCounters.kernel_count >= 2
    GlobalCounters.reset()
    assert GlobalCounters.kernel_count == 0


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_does_not_grow():
    x = Tensor(randf(4, 4))
    w = Tensor(randf(4, 4), requires_grad=True)

    def work(n):
        for i in range(n):
            y = ((x @ w).relu() * 2 + 1).sum(axis=1)
            z = x[1:3, ::2].T.reshape(-1)
            acc = Tensor([1.0, 2.0])
            acc += z[:2]
            if i % 10 == 0:
                y.realize(acc)
                (y.sum()).backward()
                w.grad = None
        gc.collect()

    work(1000)                                               # warm up caches and allocators
    before = _rss()
    work(10000)
    grown = _rss() - before
    assert grown < 4 << 20, f"RSS grew by {grown / 2**20:.1f} MiB over 10k iterations"


# ---- runner ------------------------------------------------------------------------------------
def _run_all():
    tests = [(name, fn) for name, fn in sorted(globals().items()) if name.startswith("test_") and callable(fn)]
    devices = [os.environ["DEV"]] if os.environ.get("DEV") else ["CPU", "INTERP"]
    failed = 0
    for dev in devices:
        Device.DEFAULT = dev
        for name, fn in tests:
            try:
                fn()
                print(f"ok   {dev:6s} {name}")
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAIL {dev:6s} {name}: {type(e).__name__}: {e}")
                print("     " + "     ".join(traceback.format_exc().splitlines(True)[-6:]))
    print(f"{len(tests) * len(devices) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_run_all())
