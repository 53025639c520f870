# Expected values for tests/test_nn_ops.c (torch 1.13 / numpy, float32), from the same
# deterministic inputs as the test's filled(). Run with Debian's python:
#   /usr/bin/python3 tests/gen_nn_ops_expected.py
# and paste the printed arrays over the "expected values" block of the test.
import numpy as np, torch, torch.nn.functional as F
torch.set_default_dtype(torch.float32)

def fill(shape, seed):
    n = int(np.prod(shape))
    i = np.arange(n)
    return torch.tensor((((i * 37 + seed * 11) % 101) - 50) / 32.0, dtype=torch.float32).reshape(shape)

def emit(name, t):
    a = np.asarray(t, dtype=np.float64).reshape(-1)
    vals = ", ".join("%.9g" % v if np.isfinite(v) else ("-INFINITY" if v < 0 else "INFINITY") for v in a)
    # wrap lines
    out, line = [], "static const float %s[%d] = {" % (name, len(a))
    for tok in vals.split(", "):
        if len(line) + len(tok) + 2 > 100:
            out.append(line.rstrip()); line = "  "
        line += tok + ", "
    out.append(line.rstrip(", ") + "};")
    print("\n".join(out))

x = fill((1, 2, 5, 5), 1); w = fill((3, 2, 3, 3), 2); b = fill((3,), 3)
emit("conv2d_s2p1", F.conv2d(x, w, b, stride=2, padding=1))
emit("conv2d_s2p1_relu", F.relu(F.conv2d(x, w, b, stride=2, padding=1)))
x = fill((1, 4, 4, 4), 4); w = fill((4, 2, 3, 3), 5)
emit("conv2d_g2d2p2", F.conv2d(x, w, None, stride=1, padding=2, dilation=2, groups=2))
emit("conv2d_g2d2p2s2", F.conv2d(x, w, None, stride=2, padding=2, dilation=2, groups=2))
x = fill((1, 2, 7), 6); w = fill((2, 2, 3), 7); b = fill((2,), 8)
emit("conv1d_s2p1", F.conv1d(x, w, b, stride=2, padding=1))
x = fill((1, 2, 4, 4, 4), 9); w = fill((2, 2, 2, 2, 2), 10)
emit("conv3d", F.conv3d(x, w, None, stride=1, padding=(1, 0, 0)))
x = fill((1, 2, 3, 3), 11); w = fill((2, 1, 3, 3), 12); b = fill((1,), 13)
emit("convt2d_s2p1o1", F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1))
x = fill((1, 4, 3, 3), 14); w = fill((4, 1, 2, 2), 15)
emit("convt2d_g2", F.conv_transpose2d(x, w, None, stride=1, padding=0, groups=2))
x = fill((1, 2, 5, 5), 16)
emit("maxpool_k3s2p1", F.max_pool2d(x, 3, 2, 1))
emit("avgpool_k3s2p1", F.avg_pool2d(x, 3, 2, 1))
emit("avgpool_k3s2p1_nopad", F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
emit("maxpool_k2", F.max_pool2d(x, 2))
emit("maxpool_k2s1d2", F.max_pool2d(x, 2, 1, 0, dilation=2))
x = fill((2, 3), 17); w = fill((4, 3), 18); b = fill((4,), 19)
emit("linear", F.linear(x, w, b))
# losses
lg = fill((3, 5), 20); tg = torch.tensor([1, 0, 4])
emit("ce_mean_ls", F.cross_entropy(lg, tg, label_smoothing=0.1).reshape(1))
emit("ce_none", F.cross_entropy(lg, tg, reduction="none"))
emit("ce_sum", F.cross_entropy(lg, tg, reduction="sum").reshape(1))
lg2 = fill((2, 3, 2), 21); tg2 = torch.tensor([[2, -100], [0, 1]])
emit("ce_spatial_ignore_ls", F.cross_entropy(lg2, tg2, label_smoothing=0.2).reshape(1))
emit("ce_spatial_none", F.cross_entropy(lg2, tg2, reduction="none"))
pr = torch.softmax(fill((3, 5), 22), 1)
emit("ce_prob_ls", F.cross_entropy(lg, pr, label_smoothing=0.1).reshape(1))
lp = torch.log_softmax(lg, 1); tg3 = torch.tensor([1, 3, 4])
emit("nll_ignore3", F.nll_loss(lp, tg3, ignore_index=3).reshape(1))
lg4 = fill((2, 2, 4), 23); tg4 = torch.tensor([[3, 0], [1, 2]])
emit("sparse_ce_ls_ign2", F.cross_entropy(lg4.reshape(4, 4), tg4.reshape(4), ignore_index=2, label_smoothing=0.3).reshape(1))
p = torch.sigmoid(fill((6,), 24)); y = torch.tensor([0, 1, 1, 0, 0.5, 1])
emit("bce_mean", F.binary_cross_entropy(p, y).reshape(1))
p0 = torch.tensor([0.0, 1.0, 0.5]); y0 = torch.tensor([1.0, 0.0, 1.0])
emit("bce_clamp_none", F.binary_cross_entropy(p0, y0, reduction="none"))
z = fill((6,), 25) * 8
emit("bce_logits_none", F.binary_cross_entropy_with_logits(z, y, reduction="none"))
x = fill((3, 4), 26); x[1] = -float("inf")
emit("logsumexp_ax1", torch.logsumexp(x, 1))
x = fill((3, 4), 27)
emit("std_ax0", torch.std(x, 0))
emit("std_all_c0", torch.std(x, unbiased=False).reshape(1))
# sdpa (torch 1.13 has no F.scaled_dot_product_attention): numpy formula
q = fill((2, 3, 4), 28).numpy(); k = fill((2, 3, 4), 29).numpy(); v = fill((2, 3, 4), 30).numpy()
s = q @ k.transpose(0, 2, 1) / np.sqrt(4.0)
s = np.where(np.tril(np.ones((3, 3), bool)), s, -np.inf)
e = np.exp(s - s.max(-1, keepdims=True)); a = e / e.sum(-1, keepdims=True)
emit("sdpa_causal", a @ v)
# indexing
x = fill((3, 4), 31); idx = torch.tensor([[0, 2], [3, 1], [1, 1]])
emit("gather_d1", torch.gather(x, 1, idx))
idx0 = torch.tensor([[2, 0, 1, 2], [0, 1, 2, 0]])
emit("gather_d0", torch.gather(x, 0, idx0))
x = fill((2, 3), 32)
emit("repeat_2_1_2", x.repeat(2, 1, 2))
x = fill((1, 1, 2, 3), 33)
emit("interp_nearest_3x7", F.interpolate(x, size=(3, 7), mode="nearest"))
emit("interp_bilinear_4x5", F.interpolate(x, size=(4, 5), mode="bilinear", align_corners=False))
emit("interp_bilinear_ac_3x4", F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=True))
x = fill((2, 5), 34)
emit("cumsum_ax1", torch.cumsum(x, 1))
emit("cummax_ax0", torch.cummax(x, 0).values)
emit("cumprod_ax1", torch.cumprod(x, 1))
# backward through conv2d -> relu -> max_pool2d -> cross_entropy
x = fill((1, 2, 5, 5), 1).requires_grad_(); w = fill((3, 2, 3, 3), 2).requires_grad_(); b = fill((3,), 3).requires_grad_()
m = F.max_pool2d(F.relu(F.conv2d(x, w, b, stride=2, padding=1)), 2, 1)
loss = F.cross_entropy(m.reshape(1, 12), torch.tensor([5]), label_smoothing=0.1)
loss.backward()
emit("cnn_loss", loss.detach().reshape(1))
emit("cnn_grad_x", x.grad)
emit("cnn_grad_w", w.grad)
emit("cnn_grad_b", b.grad)
