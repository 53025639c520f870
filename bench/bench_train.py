"""Training throughput: the Fashion-MNIST CNN (forward + backward + Adam step, batch 256) in
images/s, with the training step under the JIT (captured once, replayed) and without it (JIT=0:
graph, schedule and kernel lookup every step), next to PyTorch running the same model with the
same number of threads, measured in this run. Each cgrad figure is the median of REPEAT
interleaved measurements (the machine is shared, so single timings are noisy). Prints three JSON
lines: the first step's time from an empty kernel cache and from the disk cache, then the
throughput with BEAM off ("beam": 0) and with BEAM=2 (under the JIT; the PyTorch figure is the
same measurement). Usage: bench_train.py BUILD_DIR"""
import json, os, statistics, subprocess, sys, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
threads = int(os.environ.get("THREADS", os.cpu_count() or 1))
BATCH, WARM, STEPS, REPEAT = 256, 5, 25, int(os.environ.get("REPEAT", "3"))
BEAM_WIDTH = 2  # the second line's search width (kernels searched once, cached in CACHEDIR)

def cgrad_run(steps, jit, cachedir=None, beam=0):
    env = dict(os.environ, THREADS=str(threads), CACHEDIR=cachedir or os.path.join(build, "bench-cache"), JIT=str(jit),
               BEAM=str(beam))
    t0 = time.perf_counter()
    out = subprocess.run([os.path.join(build, "cgrad"), "train", "fashion-mnist", "--batch", str(BATCH),
                          "--max-steps", str(steps)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-300:])
    return time.perf_counter() - t0

def cgrad_images_per_s(jits=(1, 0), beam=0):
    """{jit: images/s}: the difference of two runs cancels start-up (data, model, capture). The
    first run compiles and caches every kernel (with BEAM on, searches each new one: the timed
    runs replay the cached choices)."""
    cgrad_run(WARM, 1, beam=beam)
    rates = {jit: [] for jit in jits}
    for _ in range(REPEAT):
        for jit in jits:
            rates[jit].append((STEPS - WARM) * BATCH / (cgrad_run(STEPS, jit, beam=beam) - cgrad_run(WARM, jit, beam=beam)))
    return {jit: statistics.median(r) for jit, r in rates.items()}

def first_run_seconds():
    """One training step from an empty kernel cache (every kernel compiled, in parallel) and again
    with the cache on disk: the compile latency a new user sees at the first `make demo`."""
    import shutil, tempfile
    cold_dir = tempfile.mkdtemp(prefix="cgrad-cold-")
    try:
        cold = cgrad_run(1, 1, cold_dir)
        warm = cgrad_run(1, 1, cold_dir)
    finally:
        shutil.rmtree(cold_dir, ignore_errors=True)
    return cold, warm

def torch_images_per_s():
    import torch, torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, y = torch.rand(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    for _ in range(WARM):
        step()
    t0 = time.perf_counter()
    for _ in range(STEPS - WARM):
        step()
    return (STEPS - WARM) * BATCH / (time.perf_counter() - t0)

if __name__ == "__main__":
    data = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    if not os.path.exists(data) and not os.environ.get("CGRAD_DATA"):
        print(json.dumps({"name": "train_fashion_mnist_cnn_b256", "value": None, "skipped": "no Fashion-MNIST"}))
        sys.exit(0)
    cold, warm = first_run_seconds()
    print(json.dumps({"name": "train_first_step_cold_cache", "value": round(cold, 2), "unit": "s",
                      "disk_cache_value": round(warm, 2), "note": "process start + data load + 1 step; "
                      "cold: every kernel compiled (in parallel), disk: every kernel loaded from the cache"}))
    ours, ref = cgrad_images_per_s(), torch_images_per_s()
    print(json.dumps({"name": "train_fashion_mnist_cnn_b256", "value": round(ours[1], 1), "unit": "images/s",
                      "no_jit_value": round(ours[0], 1), "jit_speedup": round(ours[1] / ours[0], 3),
                      "ref_name": "pytorch_same_model", "ref_value": round(ref, 1), "ratio": round(ours[1] / ref, 3),
                      "threads": threads, "repeat": REPEAT, "beam": 0}))
    beam = cgrad_images_per_s(jits=(1,), beam=BEAM_WIDTH)[1]
    print(json.dumps({"name": "train_fashion_mnist_cnn_b256", "value": round(beam, 1), "unit": "images/s",
                      "ref_name": "pytorch_same_model", "ref_value": round(ref, 1), "ratio": round(beam / ref, 3),
                      "threads": threads, "repeat": REPEAT, "beam": BEAM_WIDTH}))
