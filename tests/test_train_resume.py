"""Training checkpoints: a run saved at step k and resumed gives the same losses as a run that was
never interrupted (the checkpoint holds weights, optimizer and BatchNorm state, RNG state and the
data position). With CGRAD_FULL=1 also: resident memory after 1000 steps within 5% of after 100.
Needs Debian's dataset-fashion-mnist (or CGRAD_DATA); skips with a message without it."""
import os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("CGRAD_CLI", os.path.join(ROOT, "build", "cgrad"))
DATA = [os.environ.get("CGRAD_DATA"), os.path.join(ROOT, ".data", "fashion-mnist"), "/usr/share/datasets/fashion-mnist"]

def have_data():
    return any(d and os.path.exists(os.path.join(d, "train-images-idx3-ubyte.gz")) for d in DATA)

def run(*args):
    env = dict(os.environ, THREADS=os.environ.get("THREADS", "2"))
    out = subprocess.run([CLI, "train", "fashion-mnist", "--log-steps", "1", *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"cgrad train {' '.join(args)} failed: {out.stderr[-500:]}")
    steps = {}
    for line in out.stdout.splitlines():
        if line.startswith("step "):
            f = line.split()
            steps[int(f[1])] = (float(f[3]), int(f[5]))
    return steps

def test_resume_gives_the_same_losses():
    with tempfile.TemporaryDirectory() as d:
        ck = os.path.join(d, "ck.safetensors")
        whole = run("--batch", "32", "--max-steps", "16")
        first = run("--batch", "32", "--max-steps", "8", "--save", ck)
        rest = run("--batch", "32", "--max-steps", "16", "--resume", ck)
    assert sorted(first) == list(range(8)) and sorted(rest) == list(range(8, 16)), (first.keys(), rest.keys())
    for k in range(16):
        a = whole[k][0]
        b = (first if k < 8 else rest)[k][0]
        assert abs(a - b) <= 1e-5 * abs(a), f"step {k}: uninterrupted {a} vs resumed {b}"
    print(f"  resume: steps 8..15 match the uninterrupted run (loss {whole[15][0]:.6f} at step 15)")

def test_memory_constant_over_1000_steps():
    steps = run("--batch", "16", "--max-steps", "1000")
    r100, r1000 = steps[99][1], steps[999][1]
    print(f"  rss after 100 steps {r100} KiB, after 1000 {r1000} KiB")
    assert r1000 <= r100 * 1.05, (r100, r1000)

if __name__ == "__main__":
    if not have_data():
        print("test_train_resume: Fashion-MNIST not found (install dataset-fashion-mnist or set CGRAD_DATA); skipped")
        sys.exit(0)
    tests = [test_resume_gives_the_same_losses]
    if os.environ.get("CGRAD_FULL"):
        tests.append(test_memory_constant_over_1000_steps)
    failed = 0
    for t in tests:
        try:
            t()
            print("ok  ", t.__name__)
        except Exception as e:  # report and go on
            failed += 1
            print("FAIL", t.__name__, e)
    sys.exit(1 if failed else 0)
