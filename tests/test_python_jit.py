"""TinyJit (python/cgrad/engine/jit.py over cg_jit): a jitted training step gives the same weights
as the eager one, the Python body does not run on replay, replays compile nothing and launch
exactly the captured kernels, wrong shapes/dtypes raise, memory stays constant.
Run: PYTHONPATH=python CGRAD_LIB=build/libcgrad.so python3 tests/test_python_jit.py"""
import sys

import numpy as np

from cgrad import GlobalCounters, Tensor, TinyJit, nn
from cgrad.engine.jit import TinyJit as TinyJit2
from cgrad.nn.state import get_parameters


class Net:
    def __init__(self):
        Tensor.manual_seed(3)
        self.l1, self.bn, self.l2 = nn.Linear(12, 16), nn.BatchNorm(16), nn.Linear(16, 5)

    def __call__(self, x):
        return self.l2(self.bn(self.l1(x)).relu())


def batch(k):
    rng = np.random.default_rng(k)
    return Tensor(rng.standard_normal((8, 12)).astype(np.float32)), Tensor(rng.integers(0, 5, 8).astype(np.int32))


def make_step(model, opt, counter):
    params = get_parameters(model)

    def step(x, y):
        counter[0] += 1
        opt.zero_grad()
        loss = model(x).sparse_categorical_crossentropy(y).backward()
        loss.realize(*[p.grad for p in params], model.bn.running_mean, model.bn.running_var)
        opt.step()
        return loss
    return step


def train(jit, steps=5):
    Tensor.training = True
    model = Net()
    opt = nn.optim.Adam(get_parameters(model), lr=0.01)
    counter = [0]
    step = make_step(model, opt, counter)
    if jit:
        step = TinyJit(step)
    losses = [step(*batch(k)).item() for k in range(steps)]
    Tensor.training = False
    return model, losses, counter[0], step


def test_weights_match_eager():
    (me, le, _, _), (mj, lj, calls, jit) = train(False), train(True)
    assert calls == 2, calls
    np.testing.assert_allclose(lj, le, rtol=1e-6)
    for a, b in zip(get_parameters(me), get_parameters(mj)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mj.bn.running_mean.numpy(), me.bn.running_mean.numpy(), rtol=1e-6, atol=1e-7)
    assert jit.kernels > 0


def test_replay_compiles_nothing():
    _, _, _, jit = train(True, steps=3)
    x, y = batch(9)
    x.realize(), y.realize()
    GlobalCounters.reset()
    loss = jit(x, y)
    assert GlobalCounters.kernels_compiled == 0
    assert GlobalCounters.kernel_count == jit.kernels, (GlobalCounters.kernel_count, jit.kernels)
    assert np.isfinite(loss.item())


def test_outputs_structure_and_new_values():
    calls = [0]

    @TinyJit2
    def f(a, b, scale=2.0):
        calls[0] += 1
        return a * scale + b, (a - b).sum()

    for k in range(5):
        a, b = np.arange(4, dtype=np.float32) + k, np.full(4, -k, dtype=np.float32)
        s, t = f(Tensor(a), Tensor(b))
        np.testing.assert_array_equal(s.numpy(), a * 2 + b)
        assert t.item() == (a - b).sum()
    assert calls[0] == 2


def test_wrong_shape_or_dtype_raises():
    f = TinyJit(lambda a: (a * 2).sum())
    for _ in range(3):
        f(Tensor.ones(4, 3))
    for bad in (Tensor.ones(5, 3), Tensor.ones(4, 3).cast("int32")):
        try:
            f(bad)
        except ValueError as e:
            assert "input 0" in str(e), e
        else:
            raise AssertionError("no error for " + str(bad.shape))
    assert f(Tensor.full((4, 3), 2.0)).item() == 48


def test_exception_in_body_propagates():
    @TinyJit
    def f(a):
        raise KeyError("boom")
    try:
        f(Tensor.ones(2))
    except KeyError:
        pass
    else:
        raise AssertionError("the exception was swallowed")


def test_memory_constant_over_replays():
    import resource
    _, _, _, jit = train(True, steps=3)
    x, y = batch(1)
    for _ in range(20):
        jit(x, y)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(500):
        jit(x, y)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    assert grown < 2048, f"max RSS grew {grown} KiB over 500 replays"


if __name__ == "__main__":
    tests = [v for k, v in list(globals().items()) if k.startswith("test_")]
    failed = 0
    for t in tests:
        try:
            t()
            print("ok  ", t.__name__)
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL", t.__name__, type(e).__name__, e)
    print(f"{len(tests) - failed}/{len(tests)} passed")
    sys.exit(1 if failed else 0)
