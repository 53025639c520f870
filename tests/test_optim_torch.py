"""Optimizers against PyTorch (Debian 1.13): SGD (momentum, weight decay, nesterov), Adam, AdamW,
1 and 5 steps from the same weights and data must give the same parameters (float32 tolerance)."""
import os, sys, ctypes, numpy as np, torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cg_ctypes as C
C.load(os.environ.get("CGRAD_LIB", os.path.join(os.path.dirname(__file__), "..", "build", "libcgrad.so"))); lib = C.lib; T = ctypes.c_void_p; D = ctypes.c_double
lib.cg_set_requires_grad.argtypes = [T, ctypes.c_int]
lib.cg_backward.argtypes = [T]
lib.cg_sgd.restype = T; lib.cg_sgd.argtypes = [ctypes.POINTER(T), ctypes.c_int, D, D, D, ctypes.c_int]
lib.cg_adam.restype = T; lib.cg_adam.argtypes = [ctypes.POINTER(T), ctypes.c_int, D, D, D, D]
lib.cg_adamw.restype = T; lib.cg_adamw.argtypes = [ctypes.POINTER(T), ctypes.c_int, D, D, D, D, D]
lib.cg_optim_step.argtypes = [T]; lib.cg_optim_zero_grad.argtypes = [T]; lib.cg_optim_free.argtypes = [T]
lib.cg_optim_set_lr.argtypes = [T, D]
rng = np.random.default_rng(0)
W0 = rng.standard_normal((4, 3)).astype(np.float32); X = rng.standard_normal((5, 4)).astype(np.float32)
def torch_run(make, steps):
    w = torch.tensor(W0, requires_grad=True); opt = make([w])
    for s in range(steps):
        opt.zero_grad(); loss = (torch.tensor(X) @ w).tanh().pow(2).sum(); loss.backward(); opt.step()
    return w.detach().numpy()
def cg_run(make, steps):
    lib.cg_scope_push()
    w = C.tensor(W0); lib.cg_set_requires_grad(w.ptr, 1)
    arr = (T * 1)(w.ptr); o = make(arr)
    x = C.tensor(X)
    for s in range(steps):
        lib.cg_scope_push()
        lib.cg_optim_zero_grad(o)
        l = C.Tensor(lib.cg_mul(C.Tensor(lib.cg_tanh(C.Tensor(lib.cg_matmul(x.ptr, w.ptr)).ptr)).ptr, C.Tensor(lib.cg_tanh(C.Tensor(lib.cg_matmul(x.ptr, w.ptr)).ptr)).ptr))
        loss = C.Tensor(lib.cg_sum(l.ptr, C.axes(C.ALL), 0))
        assert lib.cg_backward(loss.ptr) == 0, C.last_error()
        assert lib.cg_optim_step(o) == 0, C.last_error()
        lib.cg_scope_pop()
    out = w.numpy(); lib.cg_optim_free(o); lib.cg_scope_pop(); return out
bad = 0
cases = [
 ("sgd", lambda p: torch.optim.SGD(p, lr=0.1), lambda a: lib.cg_sgd(a, 1, 0.1, 0, 0, 0)),
 ("sgd-mom-wd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01), lambda a: lib.cg_sgd(a, 1, 0.1, 0.9, 0.01, 0)),
 ("sgd-nesterov", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), lambda a: lib.cg_sgd(a, 1, 0.1, 0.9, 0, 1)),
 ("adam", lambda p: torch.optim.Adam(p, lr=0.01), lambda a: lib.cg_adam(a, 1, 0.01, 0.9, 0.999, 1e-8)),
 ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1), lambda a: lib.cg_adamw(a, 1, 0.01, 0.9, 0.999, 1e-8, 0.1)),
]
for name, tm, cm in cases:
    for steps in (1, 5):
        a, b = torch_run(tm, steps), cg_run(cm, steps)
        if not np.allclose(a, b, rtol=1e-5, atol=1e-6): bad += 1; print("mismatch", name, steps, np.abs(a-b).max())

# LAMB (torch 1.13 has none): the written-out formula in NumPy, with PyTorch computing gradients
lib.cg_lamb.restype = T; lib.cg_lamb.argtypes = [ctypes.POINTER(T), ctypes.c_int, D, D, D, D, D]
def lamb_reference(steps, lr=0.01, b1=0.9, b2=0.999, eps=1e-6, wd=0.01):
    w = W0.astype(np.float64); m = np.zeros_like(w); v = np.zeros_like(w)
    for t in range(1, steps + 1):
        wt = torch.tensor(w, requires_grad=True)
        (torch.tensor(X, dtype=torch.float64) @ wt).tanh().pow(2).sum().backward()
        g = wt.grad.numpy()
        m = b1 * m + (1 - b1) * g; v = b2 * v + (1 - b2) * g * g
        r = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps) + wd * w
        pn, rn = np.linalg.norm(w), np.linalg.norm(r)
        w = w - lr * (pn / rn if pn > 0 and rn > 0 else 1.0) * r
    return w
for steps in (1, 3):
    got = cg_run(lambda a: lib.cg_lamb(a, 1, 0.01, 0.9, 0.999, 1e-6, 0.01), steps)
    if not np.allclose(got, lamb_reference(steps), rtol=1e-4, atol=1e-5): bad += 1; print("mismatch lamb", steps)
# learning-rate schedules against PyTorch's schedulers, step by step
lib.cg_lr_step.restype = D; lib.cg_lr_step.argtypes = [D, ctypes.c_int64, ctypes.c_int64, D]
lib.cg_lr_cosine.restype = D; lib.cg_lr_cosine.argtypes = [D, ctypes.c_int64, ctypes.c_int64, D]
lib.cg_lr_one_cycle.restype = D; lib.cg_lr_one_cycle.argtypes = [D, ctypes.c_int64, ctypes.c_int64, D]
def torch_lrs(make, steps):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched, out = make(opt), []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    return out
for name, make, ours in [
    ("step", lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.5), lambda t: lib.cg_lr_step(0.1, t, 7, 0.5)),
    ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 30, 0.001), lambda t: lib.cg_lr_cosine(0.1, t, 30, 0.001)),
    ("one_cycle", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=30, pct_start=0.3, anneal_strategy="cos", cycle_momentum=False),
     lambda t: lib.cg_lr_one_cycle(0.1, t, 30, 0.3)),
]:
    ref = torch_lrs(make, 30)
    got = [ours(t) for t in range(30)]
    if not np.allclose(got, ref, rtol=1e-6, atol=1e-9): bad += 1; print("mismatch lr", name, got[:4], ref[:4])
print("optimizers:", "all match" if not bad else f"{bad} mismatches")
sys.exit(1 if bad else 0)
