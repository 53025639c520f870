"""Train a small CNN on Fashion-MNIST with cgrad.nn: the Python version of train_fashion_mnist.c.
One epoch, Adam, batch 128, the step under TinyJit; prints the test accuracy last.

    PYTHONPATH=python python3 examples/train_fashion_mnist.py [max_steps]
"""
import gzip
import sys

import numpy as np

from cgrad import Tensor, TinyJit, nn
from cgrad.nn.state import get_parameters

DATA = "/usr/share/datasets/fashion-mnist/"
BATCH = 128


def load(images, labels):
    """IDX files: images (n, 1, 28, 28) float32 in [0, 1], labels int32."""
    with gzip.open(DATA + images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    with gzip.open(DATA + labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int32)
    return x, y


class Model:
    def __init__(self):
        self.layers = [nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm(16), Tensor.relu, Tensor.max_pool2d,
                       nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm(32), Tensor.relu, Tensor.max_pool2d,
                       lambda x: x.flatten(1), nn.Linear(32 * 7 * 7, 10)]

    def __call__(self, x):
        return x.sequential(self.layers)


def accuracy(model, x, y):
    correct = 0
    with Tensor.train(False), Tensor.test():
        for s in range(0, len(x), 1000):
            pred = model(Tensor(x[s:s + 1000])).argmax(axis=1)
            correct += (pred == Tensor(y[s:s + 1000])).cast("int32").sum().item()
    return correct / len(x)


def main():
    max_steps = int(sys.argv[1]) if len(sys.argv) > 1 else None
    x_train, y_train = load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    x_test, y_test = load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    Tensor.manual_seed(0)
    model = Model()
    params = get_parameters(model)
    buffers = [t for bn in model.layers if isinstance(bn, nn.BatchNorm)
               for t in (bn.running_mean, bn.running_var, bn.num_batches_tracked)]
    opt = nn.optim.Adam(params, lr=2e-3)
    order = np.random.default_rng(0).permutation(len(x_train))

    @TinyJit  # runs on steps 0 and 1; later steps replay the captured kernels
    def train_step(x, y):
        opt.zero_grad()
        loss = model(x).cross_entropy(y)
        loss.backward()
        # loss, gradients and batchnorm state in one schedule, then the (in-place) update
        loss.realize(*buffers, *[p.grad for p in params])
        opt.step()
        return loss

    with Tensor.train():
        for step, s in enumerate(range(0, len(order) - BATCH + 1, BATCH)):
            if max_steps is not None and step >= max_steps:
                break
            idx = order[s:s + BATCH]
            loss = train_step(Tensor(x_train[idx]), Tensor(y_train[idx]))
            if step % 50 == 0:
                print(f"step {step} loss {loss.item():.4f}", flush=True)
    print(f"test accuracy: {accuracy(model, x_test, y_test):.4f}")


if __name__ == "__main__":
    main()
