"""Quantized GGUF tensors against the `gguf` Python package (llama.cpp's own reference code):
dequantization of every supported type within 1 ULP (quantized by the package where it can,
random blocks with sane f16 scales otherwise), quantization bit-identical where the package
quantizes, `cgrad quantize` output read back by GGUFReader, and the C writer read by the package.

Needs the package in <repo>/.venv (made by scripts/deps.sh); prints SKIP when it is absent.
Run: CGRAD_LIB=build/libcgrad.so .venv/bin/python tests/test_gguf_quant.py
"""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import gguf
    from gguf import GGMLQuantizationType as Q, GGUFValueType as V
except ImportError as e:
    print(f"SKIP test_gguf_quant: the gguf package is not installed ({e}); run scripts/deps.sh")
    sys.exit(0)
import cg_ctypes as cg

ROWS, COLS = 4096, 256
# f16 scale fields (byte offsets in a block) of each type: set to sane values in random blocks
SCALES = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0], Q.Q2_K: [80, 82],
          Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}
PACKAGE_QUANTIZES = [Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def setup():
    lib = cg.load()
    P, I, T = ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p
    protos = {
        "cg_dequantize": (T, [T, I, cg.Shape]),
        "cg_quantize_rows": (I, [I, P, ctypes.c_int64, ctypes.c_int64, P, ctypes.c_size_t]),
        "cg_gguf_writer_new": (P, []),
        "cg_gguf_writer_free": (None, [P]),
        "cg_gguf_writer_scalar": (I, [P, ctypes.c_char_p, I, P]),
        "cg_gguf_writer_string": (I, [P, ctypes.c_char_p, ctypes.c_char_p]),
        "cg_gguf_writer_array": (I, [P, ctypes.c_char_p, I, ctypes.c_uint64]),
        "cg_gguf_writer_tensor": (I, [P, ctypes.c_char_p, I, I, P, P, ctypes.c_size_t]),
        "cg_gguf_writer_save": (I, [P, ctypes.c_char_p]),
    }
    for name, (res, args) in protos.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def cg_dequantize(lib, raw, qtype, shape):
    with cg.scope():
        b = cg.tensor(np.ascontiguousarray(raw).reshape(-1))
        t = cg.Tensor(lib.cg_dequantize(b.ptr, int(qtype), cg.shape(shape)), "cg_dequantize")
        return cg.numpy(t)


def ulp_diff(a, b):
    """elementwise distance in float32 ULPs (NaN == NaN counts as 0)"""
    def ordered(x):
        i = x.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    d = np.abs(ordered(a) - ordered(b))
    return np.where(np.isnan(a) & np.isnan(b), 0, d)


def random_blocks(rng, qtype):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    if qtype == Q.F32:
        return rng.standard_normal((ROWS, COLS)).astype(np.float32).view(np.uint8)
    raw = rng.integers(0, 256, (ROWS * COLS // block, size), dtype=np.uint8)
    for off in SCALES.get(qtype, []):   # |scale| in [2^-10, 2), either sign
        h = (rng.integers(0x1400, 0x4000, raw.shape[0]) | (rng.integers(0, 2, raw.shape[0]) << 15)).astype(np.uint16)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(-1, 2)
    return raw.reshape(ROWS, -1)


def test_dequant(lib, rng):
    types = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
    x = (rng.standard_normal((ROWS, COLS)) * rng.uniform(0.01, 3, (ROWS, 1))).astype(np.float32)
    for qt in types:
        inputs = [("random blocks", random_blocks(rng, qt))]
        if qt in PACKAGE_QUANTIZES:
            inputs.append(("package-quantized", gguf.quants.quantize(x, qt)))
        if qt == Q.F16:   # every half bit pattern
            inputs.append(("all f16 patterns", np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.uint8).reshape(256, -1)))
        for what, raw in inputs:
            raw = np.ascontiguousarray(raw).view(np.uint8)   # F16/BF16 come as halves
            shape = gguf.quants.quant_shape_from_byte_shape(raw.shape, qt)
            ref = gguf.quants.dequantize(raw, qt).astype(np.float32)
            got = cg_dequantize(lib, raw, qt, shape)
            d = ulp_diff(got, ref)
            check(got.shape == ref.shape and d.max() <= 1,
                  f"dequantize {qt.name:5s} {what:18s} {ref.size} values: max ULP {d.max()}, "
                  f"{int((d > 0).sum())} differ")


def quantize_rows(lib, x, qt):
    block, size = gguf.GGML_QUANT_SIZES[qt]
    out = np.zeros((x.shape[0], x.shape[1] // block * size), dtype=np.uint8)
    x = np.ascontiguousarray(x, dtype=np.float32)
    rc = lib.cg_quantize_rows(int(qt), x.ctypes.data, x.shape[0], x.shape[1], out.ctypes.data, out.nbytes)
    assert rc == 0, cg.last_error()
    return out


def test_quantize(lib, rng):
    x = (rng.standard_normal((ROWS, COLS)) * rng.uniform(0.001, 10, (ROWS, 1))).astype(np.float32)
    x[0] = 0                                              # all-zero blocks
    x[1] = 0.5                                            # constant blocks
    x[2] = np.round(x[2] * 4) / 4                         # many ties
    x[3, ::7] = -x[3].max()                               # negative extremes, repeated
    for qt in PACKAGE_QUANTIZES:
        ref = np.ascontiguousarray(gguf.quants.quantize(x, qt)).view(np.uint8)
        got = quantize_rows(lib, x, qt)
        nblocks = got.size // gguf.GGML_QUANT_SIZES[qt][1]
        diff = int((got.reshape(nblocks, -1) != ref.reshape(nblocks, -1)).any(axis=1).sum())
        check(diff == 0, f"quantize {qt.name:5s} {x.size} values: {diff} of {nblocks} blocks differ from gguf.quants.quantize")
    for qt, tol in [(Q.Q4_K, 0.12), (Q.Q6_K, 0.03)]:  # no package quantizer: round trip error only
        y = gguf.quants.dequantize(quantize_rows(lib, x, qt), qt)
        rel = np.sqrt(((y - x) ** 2).sum(axis=1) / np.maximum((x ** 2).sum(axis=1), 1e-30))
        check(rel.max() < tol, f"quantize {qt.name:5s} round trip: max relative RMS error per row {rel.max():.4f} (< {tol})")


METADATA = [  # key, value, type, element type
    ("test.u8", 200, V.UINT8, None), ("test.i8", -5, V.INT8, None), ("test.u16", 60000, V.UINT16, None),
    ("test.i16", -30000, V.INT16, None), ("test.u32", 4000000000, V.UINT32, None),
    ("test.i32", -2000000000, V.INT32, None), ("test.f32", 1.5, V.FLOAT32, None), ("test.bool", True, V.BOOL, None),
    ("test.str", "hello é", V.STRING, None), ("test.u64", 2**63 + 5, V.UINT64, None),
    ("test.i64", -(2**40), V.INT64, None), ("test.f64", 3.25, V.FLOAT64, None),
    ("test.arr_i32", [1, -2, 3], V.ARRAY, V.INT32), ("test.arr_str", ["a", "bc", ""], V.ARRAY, V.STRING),
    ("test.nested", [[1, 2], [3]], V.ARRAY, V.ARRAY),
    ("general.file_type", 0, V.UINT32, None),
]

# expected error (relative RMS over the tensor) of each type on Gaussian data, with margin
TOL = {Q.Q8_0: 0.01, Q.Q6_K: 0.03, Q.Q5_0: 0.06, Q.Q5_1: 0.05, Q.Q4_0: 0.12, Q.Q4_1: 0.1, Q.Q4_K: 0.1, Q.F16: 1e-3, Q.F32: 0}


def fields(reader):
    return {k: (f.types, f.contents()) for k, f in reader.fields.items() if not k.startswith("GGUF.")}


def test_quantize_file(rng, tmp, cgrad_bin):
    src = os.path.join(tmp, "in.gguf")
    w = gguf.GGUFWriter(src, "llama")
    for key, val, vt, st in METADATA:
        w.add_key_value(key, val, vt, sub_type=st)
    tensors = {"blk.0.attn_q.weight": (512, 256), "blk.0.ffn_down.weight": (64, 96),   # 96: no K-quant rows
               "blk.0.odd.weight": (8, 40), "blk.0.attn_norm.weight": (256,)}           # 40: not even 32
    data = {n: (rng.standard_normal(s) * 0.1).astype(np.float32) for n, s in tensors.items()}
    for n, a in data.items():
        w.add_tensor(n, a)
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    in_fields = fields(gguf.GGUFReader(src))
    ftype = {"Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "Q4_K": 14, "Q6_K": 18}
    for name, code in ftype.items():
        qt = Q[name]
        dst = os.path.join(tmp, f"out-{name}.gguf")
        r = subprocess.run([cgrad_bin, "quantize", src, dst, name], capture_output=True, text=True)
        check(r.returncode == 0, f"cgrad quantize {name}: exit {r.returncode} {r.stderr.strip()}")
        if r.returncode:
            continue
        rd = gguf.GGUFReader(dst)
        out = fields(rd)
        same = all(out.get(k) == v for k, v in in_fields.items() if k != "general.file_type")
        check(same and out["general.file_type"][1] == code and out["general.quantization_version"][1] == 2,
              f"{name}: every metadata key read back by GGUFReader, general.file_type {out['general.file_type'][1]}")
        fallback = {"Q4_K": Q.Q5_0, "Q6_K": Q.Q8_0}.get(name, qt)
        want = {"blk.0.attn_q.weight": qt, "blk.0.ffn_down.weight": fallback, "blk.0.odd.weight": Q.F16,
                "blk.0.attn_norm.weight": Q.F32}
        for t in rd.tensors:
            ok_type = t.tensor_type == want[t.name]
            y = gguf.quants.dequantize(t.data, t.tensor_type).reshape(data[t.name].shape)
            x = data[t.name]
            rel = float(np.sqrt(((y - x) ** 2).sum() / (x ** 2).sum()))
            exact = ""
            if t.tensor_type in PACKAGE_QUANTIZES:   # bytes as the package would write them
                exact = ", bytes == gguf.quants.quantize" if np.array_equal(np.asarray(t.data).reshape(-1), gguf.quants.quantize(x, t.tensor_type).reshape(-1)) else ", BYTES DIFFER"
            check(ok_type and rel <= TOL[t.tensor_type] and "DIFFER" not in exact,
                  f"{name}: {t.name} as {t.tensor_type.name} (want {want[t.name].name}), relative error {rel:.4f}{exact}")
    # already-quantized input: the Q8_0 file requantized (dequantized by cgrad first)
    for name in ["Q4_K", "Q4_0"]:
        src8, dst = os.path.join(tmp, "out-Q8_0.gguf"), os.path.join(tmp, f"requant-{name}.gguf")
        r = subprocess.run([cgrad_bin, "quantize", src8, dst, name], capture_output=True, text=True)
        rd = gguf.GGUFReader(dst) if r.returncode == 0 else None
        t = rd and {t.name: t for t in rd.tensors}["blk.0.attn_q.weight"]
        if not t:
            check(False, f"cgrad quantize Q8_0 file -> {name}: exit {r.returncode} {r.stderr.strip()}")
            continue
        x = data[t.name]
        y = gguf.quants.dequantize(t.data, t.tensor_type).reshape(x.shape)
        rel = float(np.sqrt(((y - x) ** 2).sum() / (x ** 2).sum()))
        src_rd = {t.name: t for t in gguf.GGUFReader(src8).tensors}[t.name]
        exact = ""
        if name == "Q4_0":   # same bytes as the package quantizing the Q8_0 values
            x8 = gguf.quants.dequantize(src_rd.data, Q.Q8_0)
            exact = ", bytes == gguf.quants.quantize(dequantized Q8_0)" if np.array_equal(
                np.asarray(t.data).reshape(-1), gguf.quants.quantize(x8, Q.Q4_0).reshape(-1)) else ", BYTES DIFFER"
        check(t.tensor_type == Q[name] and rel <= TOL[Q[name]] and "DIFFER" not in exact,
              f"Q8_0 file requantized to {name}: relative error {rel:.4f} to the original{exact}")


def test_quantize_real_file(tmp, cgrad_bin):
    """llama.cpp's tiny F16 llama (rows of 8 and 32): 32000-string vocab copied, fallbacks applied"""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../shared/testdata/llm/llama-2-tiny-random.gguf")
    if not os.path.exists(src):
        print("SKIP real file: ../shared/testdata/llm/llama-2-tiny-random.gguf is absent")
        return
    dst = os.path.join(tmp, "tiny-q4k.gguf")
    r = subprocess.run([cgrad_bin, "quantize", src, dst, "Q4_K"], capture_output=True, text=True)
    check(r.returncode == 0, f"cgrad quantize llama-2-tiny-random.gguf Q4_K: exit {r.returncode} {r.stderr.strip()}")
    if r.returncode:
        return
    a, b = gguf.GGUFReader(src), gguf.GGUFReader(dst)
    fa, fb = fields(a), fields(b)
    check([k for k in fa if fa[k] != fb.get(k)] == ["general.file_type"] and fb["general.file_type"][1] == 14,
          "real file: every metadata key copied (vocab of 32000), general.file_type 14")
    ok = True
    for x, y in zip(a.tensors, b.tensors):
        want = Q.Q5_0 if x.shape[0] == 32 and len(x.shape) == 2 else x.tensor_type  # rows of 8: F16 kept
        ok &= x.name == y.name and y.tensor_type == want
        ok &= y.tensor_type != x.tensor_type or np.array_equal(np.asarray(x.data), np.asarray(y.data))
    check(ok, "real file: rows of 8 stay F16 (copied), rows of 32 fall back to Q5_0, norms stay F32")


def test_writer(lib, tmp):
    path = os.path.join(tmp, "writer.gguf").encode()
    w = lib.cg_gguf_writer_new()
    ok = True
    for key, val, vt, st in METADATA:
        k = key.encode()
        if vt == V.STRING:
            ok &= lib.cg_gguf_writer_string(w, k, val.encode()) == 0
        elif vt == V.ARRAY:
            ok &= write_array(lib, w, k, val, st)
        else:
            ok &= write_scalar(lib, w, k, vt, val)
    ok &= write_scalar(lib, w, b"general.alignment", V.UINT32, 64)
    ok &= lib.cg_gguf_writer_array(w, b"test.empty", int(V.INT32), 0) == 0   # (GGUFWriter cannot write one)
    x = np.arange(96, dtype=np.float32).reshape(3, 32)
    q = gguf.quants.quantize(x, Q.Q8_0)
    ok &= lib.cg_gguf_writer_tensor(w, b"a", 0, 2, (ctypes.c_int64 * 2)(32, 3), x.ctypes.data, x.nbytes) == 0
    ok &= lib.cg_gguf_writer_tensor(w, b"b", 8, 2, (ctypes.c_int64 * 2)(32, 3), q.ctypes.data, q.nbytes) == 0
    # errors: duplicate key, wrong element type, wrong size: nothing is written for them
    bad = [lib.cg_gguf_writer_string(w, b"test.str", b"again"),
           lib.cg_gguf_writer_tensor(w, b"c", 8, 2, (ctypes.c_int64 * 2)(32, 3), q.ctypes.data, q.nbytes - 1)]
    ok &= all(b == -1 for b in bad)
    ok &= lib.cg_gguf_writer_save(w, path) == 0
    lib.cg_gguf_writer_free(w)
    check(ok, "C writer: every value type, nested arrays, alignment 64, errors refused")
    rd = gguf.GGUFReader(path.decode())
    out = fields(rd)
    want = {key: val for key, val, _, _ in METADATA}
    want["test.empty"] = []
    want["test.nested"] = [1, 2, 3]   # GGUFReader.contents() flattens nested arrays
    got = {k: v[1] for k, v in out.items()}
    wrong = [k for k, v in want.items() if got.get(k) != v]
    same = not wrong
    if wrong:
        print("  wrong:", [(k, got.get(k), want[k]) for k in wrong])
    ta, tb = rd.tensors
    check(same and got["general.alignment"] == 64 and ta.data_offset % 64 == 0 and tb.data_offset % 64 == 0
          and np.array_equal(np.asarray(ta.data), x) and np.array_equal(gguf.quants.dequantize(tb.data, Q.Q8_0), gguf.quants.dequantize(q, Q.Q8_0)),
          "C writer: GGUFReader reads back every key, value and tensor")


def write_scalar(lib, w, key, vt, val):
    ct = {V.UINT8: ctypes.c_uint8, V.INT8: ctypes.c_int8, V.UINT16: ctypes.c_uint16, V.INT16: ctypes.c_int16,
          V.UINT32: ctypes.c_uint32, V.INT32: ctypes.c_int32, V.FLOAT32: ctypes.c_float, V.BOOL: ctypes.c_uint8,
          V.UINT64: ctypes.c_uint64, V.INT64: ctypes.c_int64, V.FLOAT64: ctypes.c_double}[vt]
    v = ct(val)
    return lib.cg_gguf_writer_scalar(w, key, int(vt), ctypes.byref(v)) == 0


def write_array(lib, w, key, vals, st):
    if st == V.ARRAY:
        ok = lib.cg_gguf_writer_array(w, key, int(V.ARRAY), len(vals)) == 0
        for inner in vals:
            ok &= write_array(lib, w, None, inner, V.INT32)
        return ok
    ok = lib.cg_gguf_writer_array(w, key, int(st), len(vals)) == 0
    for v in vals:
        ok &= lib.cg_gguf_writer_string(w, None, v.encode()) == 0 if st == V.STRING else write_scalar(lib, w, None, st, v)
    return ok


def main():
    lib = setup()
    rng = np.random.default_rng(1234)
    cgrad_bin = os.path.join(os.path.dirname(os.path.abspath(os.environ.get("CGRAD_LIB", "build/libcgrad.so"))), "cgrad")
    with tempfile.TemporaryDirectory() as tmp:
        test_dequant(lib, rng)
        test_quantize(lib, rng)
        test_writer(lib, tmp)
        test_quantize_file(rng, tmp, cgrad_bin)
        test_quantize_real_file(tmp, cgrad_bin)
    print(f"{len(failures)} failures" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
