"""Training throughput: the Fashion-MNIST CNN (forward + backward + Adam step, batch 256) in
images/s, next to PyTorch running the same model with the same number of threads, measured in
this run. Prints one JSON line. Usage: bench_train.py BUILD_DIR"""
import json, os, subprocess, sys, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
threads = int(os.environ.get("THREADS", os.cpu_count() or 1))
BATCH, WARM, STEPS = 256, 5, 25

def cgrad_images_per_s():
    env = dict(os.environ, THREADS=str(threads), CACHEDIR=os.path.join(build, "bench-cache"))
    def run(steps):
        t0 = time.perf_counter()
        out = subprocess.run([os.path.join(build, "cgrad"), "train", "fashion-mnist", "--batch", str(BATCH),
                              "--max-steps", str(steps)], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-300:])
        return time.perf_counter() - t0
    run(WARM)  # compile and cache every kernel
    # the difference of two runs cancels start-up (loading data, building the model)
    return (STEPS - WARM) * BATCH / (run(STEPS) - run(WARM))

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
    ours, ref = cgrad_images_per_s(), torch_images_per_s()
    print(json.dumps({"name": "train_fashion_mnist_cnn_b256", "value": round(ours, 1), "unit": "images/s",
                      "ref_name": "pytorch_same_model", "ref_value": round(ref, 1), "ratio": round(ours / ref, 3),
                      "threads": threads}))
