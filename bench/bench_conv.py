#!/usr/bin/python3
"""make bench: each convolution of the demo CNN (tools/train.c), forward and both backward passes,
in cgrad and in PyTorch (Debian's, oneDNN) with the same thread count, measured in this run.

usage: /usr/bin/python3 bench/bench_conv.py BUILD_DIR

Prints one JSON object per line on stdout, like bench_core.py:
    {"name": "conv2_16x14x14_to_32_input_grad", "value": ms, "unit": "ms", "ref_name": "pytorch",
     "ref_value": ms, "ratio": ref_value / value, "gflops": ..., "ref_gflops": ...}
ratio > 1 means cgrad is faster. Both sides run at batch 256 with THREADS threads (default: every
core); each figure is the best of several runs after warm-up, in five rounds that alternate cgrad
and PyTorch (best_of_rounds): cgrad replays the pass under the JIT
(kernels compiled and cached, no graph or schedule work in the timing), PyTorch calls
aten.convolution_backward for one gradient at a time. The first run also checks cgrad's values
against PyTorch's, so a fast wrong kernel cannot pass unnoticed.

Every line carries "beam": 0 (the heuristics' opts) or "beam": BEAM_WIDTH: after the BEAM=0
pass the script runs itself again with BEAM on (BEAM is read when the library loads, so in a
process of its own; its first call of each pass searches, the timed calls replay the choices,
which stay cached in CACHEDIR for later runs).
"""
import json
import os
import subprocess
import sys
import time

BATCH = 256
# (name, in channels, out channels, height/width) of the demo CNN's convolutions: 3x3, padding 1
LAYERS = [("conv1", 1, 16, 28), ("conv2", 16, 32, 14)]
PASSES = ("forward", "input_grad", "weight_grad")
REPS, BUDGET_S, ROUNDS = 15, 2.0, 5
BEAM_WIDTH = 2


def note(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def best_ms(fn):
    """Best wall time of fn() in ms over up to REPS runs (within BUDGET_S), after two warm-ups."""
    fn()
    fn()
    best, t_end = float("inf"), time.perf_counter() + BUDGET_S
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            break
    return best * 1e3


def best_of_rounds(ours_fn, ref_fn):
    """Best times of both, measured in ROUNDS alternating rounds: load from other processes on a
    shared machine drifts over seconds, and a sequential pair would hand one side a slow moment.
    (Alternating single calls is no good: PyTorch's OpenMP threads spin after each call and take
    the cores cgrad's next call needs.)"""
    ours = ref = float("inf")
    for _ in range(ROUNDS):
        ours = min(ours, best_ms(ours_fn))
        ref = min(ref, best_ms(ref_fn))
    return ours, ref


def flops(cin, cout, hw):
    """Multiply-adds of one pass as 2 FLOPs each (every pass does the same count)."""
    return 2.0 * BATCH * cout * hw * hw * cin * 9


def torch_passes(torch, x, w, g):
    """{pass: fn} computing exactly that pass in PyTorch."""
    F = torch.nn.functional
    cb = torch.ops.aten.convolution_backward
    args = ([1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    return {
        "forward": lambda: F.conv2d(x, w, padding=1),
        "input_grad": lambda: cb(g, x, w, None, *args, [True, False, False])[0],
        "weight_grad": lambda: cb(g, x, w, None, *args, [False, True, False])[1],
    }


def cgrad_passes(Tensor, TinyJit, x, w, g):
    """{pass: fn} replaying that pass alone under the JIT (fn returns the realized result)."""
    def fwd(x, w):
        return x.conv2d(w, padding=1).realize()

    def dx(x, w, g):
        return (x.conv2d(w, padding=1) * g).sum().gradient(x)[0].realize()

    def dw(x, w, g):
        return (x.conv2d(w, padding=1) * g).sum().gradient(w)[0].realize()

    jf, jx, jw = TinyJit(fwd), TinyJit(dx), TinyJit(dw)
    return {"forward": lambda: jf(x, w), "input_grad": lambda: jx(x, w, g),
            "weight_grad": lambda: jw(x, w, g)}


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    threads = int(os.environ.get("THREADS", os.cpu_count() or 1))
    os.environ["THREADS"] = str(threads)
    os.environ.setdefault("CGRAD_LIB", os.path.join(os.path.abspath(build), "libcgrad.so"))
    os.environ.setdefault("CACHEDIR", os.path.join(os.path.abspath(build), "bench-cache"))
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import numpy as np
    import torch
    from cgrad import Tensor
    from cgrad.engine.jit import TinyJit
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    beam = int(os.environ.get("BEAM", "0"))
    if not beam:
        print(json.dumps({"name": "machine", "threads": threads, "torch": torch.__version__,
                          "mkldnn": torch.backends.mkldnn.is_available(), "batch": BATCH}), flush=True)
    failed = 0
    for name, cin, cout, hw in LAYERS:
        xn = rng.standard_normal((BATCH, cin, hw, hw), dtype=np.float32)
        wn = rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) / 3
        gn = rng.standard_normal((BATCH, cout, hw, hw), dtype=np.float32)
        tp = torch_passes(torch, *(torch.from_numpy(a) for a in (xn, wn, gn)))
        cp = cgrad_passes(Tensor, TinyJit, Tensor(xn, requires_grad=True), Tensor(wn, requires_grad=True), Tensor(gn))
        for p in PASSES:
            want, got = tp[p]().numpy(), cp[p]().numpy()
            err = float(np.max(np.abs(want - got)) / (np.max(np.abs(want)) + 1e-30))
            if not err < 1e-4:
                note(f"{name} {p}: cgrad differs from PyTorch (max relative error {err:.3g})")
                failed = 1
            ours, ref = best_of_rounds(cp[p], tp[p])
            gf = flops(cin, cout, hw) / 1e9
            print(json.dumps({"name": f"{name}_{cin}x{hw}x{hw}_to_{cout}_{p}", "value": round(ours, 3),
                              "unit": "ms", "ref_name": "pytorch", "ref_value": round(ref, 3),
                              "ratio": round(ref / ours, 3), "gflops": round(gf / ours * 1e3, 2),
                              "ref_gflops": round(gf / ref * 1e3, 2), "max_rel_err": float(f"{err:.3g}"),
                              "beam": beam}),
                  flush=True)
    if not beam:  # the BEAM pass, in a process of its own
        env = dict(os.environ, BEAM=str(BEAM_WIDTH))
        failed |= subprocess.run([sys.executable, os.path.abspath(__file__), build], env=env).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
