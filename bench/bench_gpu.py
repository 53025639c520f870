#!/usr/bin/env python3
"""cgrad on a GPU against PyTorch on the same GPU, in the same process.

usage: [ALLOW_TF32=1] python3 bench/bench_gpu.py [--device CUDA] [--quick] [--matmul-only | --memory-only]

Prints one JSON object per line: {"name", "value", "unit", "ref_name", "ref_value", "ratio"}.
Bandwidth counts the bytes each op must move at least (inputs read once, output written once),
the same count for cgrad and PyTorch; a matmul counts 2*M*N*K operations. PyTorch is timed with
CUDA events around many back-to-back calls. cgrad is reported twice: its kernels' device time
(events per kernel, Device.set_profiling) and wall clock over back-to-back calls ended by a
synchronize, which includes cgrad's host overhead (graph building, scheduling, lowering and
rendering per call) whenever that is the bottleneck.
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
DEVICE = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "CUDA"
QUICK = "--quick" in sys.argv
os.environ.setdefault("DEV", DEVICE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from cgrad import Device, GlobalCounters, Tensor, dtypes  # noqa: E402

ROWS, COLS = (4096, 4096) if QUICK else (16384, 4096)
MM = 1024 if QUICK else 4096


def emit(name, value, unit, ref_name, ref_value):
    ratio = value / ref_value if value and ref_value else None
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, "ref_name": ref_name,
                      "ref_value": round(ref_value, 2), "ratio": None if ratio is None else round(ratio, 3)}),
          flush=True)


def time_torch(fn, iters):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / iters


def time_cgrad(fn, iters):
    fn().realize()
    Device.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn().realize()
    Device.synchronize()
    return (time.perf_counter() - t0) / iters


def kernel_time_cgrad(fn, iters):
    """Seconds per call spent in kernels, timed on the device with events (no host overhead)."""
    fn().realize()
    Device.synchronize()
    Device.set_profiling(True)
    t0 = GlobalCounters.time_sum_s
    for _ in range(iters):
        fn().realize()
    t = (GlobalCounters.time_sum_s - t0) / iters
    Device.set_profiling(False)
    return t


def to_cg(x):
    return Tensor(x.cpu().numpy(), device=DEVICE)


def check(name, got, want, tol):
    got = np.asarray(got, dtype=np.float64)
    want = want.double().cpu().numpy()
    err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30)
    if not err < tol:
        raise SystemExit(f"bench_gpu: {name} wrong: relative error {err:.3g} (tolerance {tol})")


def memory_bound():
    g = torch.Generator(device="cuda").manual_seed(0)
    a, b, c = (torch.randn(ROWS, COLS, device="cuda", generator=g) for _ in range(3))
    nbytes = a.numel() * 4
    copy_t = time_torch(lambda: a.clone(), 50)
    copy_bw = 2 * nbytes / copy_t / 1e9
    emit("copy bandwidth (torch clone)", copy_bw, "GB/s", "torch", copy_bw)
    ca, cb, cc = to_cg(a), to_cg(b), to_cg(c)
    check("a*b+c", (ca * cb + cc).numpy(), a * b + c, 1e-6)
    check("sum", [ca.sum().item()], (a.double().sum()).reshape(1), 1e-4)
    check("softmax", ca.softmax(-1).numpy(), torch.softmax(a.double(), -1), 1e-5)
    check("layernorm", ca.layernorm(-1).numpy(), torch.nn.functional.layer_norm(a.double(), (COLS,)), 1e-5)
    cases = [
        ("a*b+c", 4 * nbytes, lambda: ca * cb + cc, lambda: a * b + c, "copy", copy_bw),
        ("sum", nbytes, lambda: ca.sum(), lambda: a.sum(), "copy", copy_bw),
        ("softmax", 2 * nbytes, lambda: ca.softmax(-1), lambda: torch.softmax(a, -1), "torch", None),
        ("layernorm", 2 * nbytes, lambda: ca.layernorm(-1),
         lambda: torch.nn.functional.layer_norm(a, (COLS,)), "torch", None),
    ]
    for name, moved, cg_fn, torch_fn, ref, ref_bw in cases:
        wall_bw = moved / time_cgrad(cg_fn, 30) / 1e9
        bw = moved / kernel_time_cgrad(cg_fn, 30) / 1e9
        torch_bw = moved / time_torch(torch_fn, 30) / 1e9
        ref_name = "torch copy" if ref == "copy" else "torch"
        emit(f"{name} {ROWS}x{COLS} fp32, kernels (torch {torch_bw:.0f} GB/s)", bw, "GB/s", ref_name,
             ref_bw if ref_bw else torch_bw)
        emit(f"{name} {ROWS}x{COLS} fp32, wall clock with cgrad's host overhead", wall_bw, "GB/s", ref_name,
             ref_bw if ref_bw else torch_bw)


TF32 = os.environ.get("ALLOW_TF32") == "1"  # cgrad's knob; PyTorch gets the same setting


def matmuls():
    torch.backends.cuda.matmul.allow_tf32 = TF32
    for tname, tdt, cdt, tol in [("tf32" if TF32 else "fp32", torch.float32, dtypes.float32, 3e-3 if TF32 else 1e-4),
                                 ("fp16", torch.float16, dtypes.float16, 1e-2),
                                 ("bf16", torch.bfloat16, dtypes.bfloat16, 2e-2)]:
        g = torch.Generator(device="cuda").manual_seed(1)
        a = torch.randn(MM, MM, device="cuda", generator=g).to(tdt)
        b = torch.randn(MM, MM, device="cuda", generator=g).to(tdt)
        ca, cb = to_cg(a.float()).cast(cdt).realize(), to_cg(b.float()).cast(cdt).realize()
        check(f"matmul {tname}", (ca @ cb).float().numpy(), a.double() @ b.double(), tol)
        flops = 2 * MM ** 3
        t_cg = time_cgrad(lambda: ca @ cb, 3)
        t_torch = time_torch(lambda: a @ b, 20)
        emit(f"matmul {MM} {tname}", flops / t_cg / 1e12, "TFLOPS", "cuBLAS (torch)", flops / t_torch / 1e12)


if __name__ == "__main__":
    print(json.dumps({"name": "machine", "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                      "device": DEVICE}), flush=True)
    if "--matmul-only" not in sys.argv:
        memory_bound()
    if "--memory-only" not in sys.argv:
        matmuls()
