#!/usr/bin/env python3
"""Half, bfloat16 and float32 matmuls of many layouts against float64 NumPy, on the default device.

On CUDA these shapes take the tensor-core path (mma.sync; ALLOW_TF32=1 adds float32), so this is
its correctness test on the GPU machine: batched, broadcast batch, transposed operands, shapes
that are and are not multiples of the 16x8x16 tile (those fall back to the generic kernel).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from cgrad import Device, Tensor, dtypes  # noqa: E402

TF32 = os.environ.get("ALLOW_TF32") == "1"
CASES = [  # (shape of A, shape of B, transpose A's last two dims, transpose B's)
    ((32, 48), (48, 16), False, False),
    ((64, 64), (64, 64), False, True),
    ((48, 32), (48, 24), True, False),
    ((2, 32, 48), (48, 16), False, False),
    ((3, 16, 32), (3, 32, 8), False, False),
    ((2, 2, 16, 16), (2, 2, 16, 16), False, True),
    ((20, 30), (30, 12), False, False),          # not tile multiples: generic kernel
    ((256, 512), (512, 128), False, False),
]
TOL = {"float16": 2e-3, "bfloat16": 1e-2, "float32": 3e-3 if TF32 else 1e-5}


def run():
    rng = np.random.default_rng(0)
    failed = 0
    for dt_name in ("float16", "bfloat16", "float32"):
        dt = getattr(dtypes, dt_name)
        for sa, sb, ta, tb in CASES:
            a = rng.standard_normal(sa).astype(np.float32)
            b = rng.standard_normal(sb).astype(np.float32)
            ca, cb = Tensor(a).cast(dt).realize(), Tensor(b).cast(dt).realize()  # half buffers
            if ta:
                ca, a = ca.transpose(-1, -2), np.swapaxes(a, -1, -2)
            if tb:
                cb, b = cb.transpose(-1, -2), np.swapaxes(b, -1, -2)
            # reference from the operands as the device sees them (rounded to the dtype)
            a64 = ca.float().numpy().astype(np.float64)
            b64 = cb.float().numpy().astype(np.float64)
            want = a64 @ b64
            got = (ca @ cb).float().numpy().astype(np.float64)
            err = np.linalg.norm(got - want) / np.linalg.norm(want)
            ok = got.shape == want.shape and err < TOL[dt_name]
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {dt_name:8} {sa}{'^T' if ta else ''} @ {sb}{'^T' if tb else ''}: "
                  f"relative error {err:.2e}", flush=True)
    print(f"device {Device.DEFAULT}: {len(CASES) * 3} matmuls, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
