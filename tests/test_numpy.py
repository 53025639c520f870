#!/usr/bin/python3
"""cgrad vs NumPy: every op checked against independently computed NumPy values.

Run with Debian's python (it has numpy):
    CGRAD_LIB=build/libcgrad.so /usr/bin/python3 tests/test_numpy.py [-v] [-k SUBSTRING]

Each case runs once on CPU and once on INTERP (a few cases compare the two devices and run once).
Covers: elementwise binary/unary ops over every dtype, dtype promotion, casts and bitcasts,
reductions, matmul, movement ops, creation and random numbers, empty and 0-d tensors,
non-contiguous views (transpose/permute/steps/flip/pad/shrink) and broadcasting as inputs, and
random composite graphs where CPU and INTERP must agree.

Env: CGRAD_LIB (library path), CGRAD_FULL=1 (extra and larger cases).
Prints one line per failure and a summary "N cases, M failed"; exits 1 on any unexpected failure.
"""
import math
import os
import sys
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cg_ctypes as cg  # noqa: E402
from cg_ctypes import (ALL, ALL_DTYPES, BF16, BOOL, F16, F32, F64, FLOATS, I8, I16, I32,  # noqa: E402
                       I64, INTS, U8, U16, U32, U64, as_dtype, is_float, is_int, is_unsigned)

FULL = os.environ.get("CGRAD_FULL") == "1"
DEVICES = ("CPU", "INTERP")
BOTH = "CPU+INTERP"  # a case that uses both devices itself and runs once
NUMERIC = INTS + FLOATS  # every dtype but bool
EXACT = None  # tolerance meaning "bit-for-bit equal values" (NaN == NaN)

# Cases that fail because of known library bugs: (case name, device or None for both).
# A failing case listed here is reported as XFAIL and does not fail the run.
# (case, device or None) -> why it is expected to fail; empty when everything works
KNOWN_BUGS = {}

np.seterr(all="ignore")  # wrapping integer arithmetic and inf/nan are intended


def dn(dt): return cg.NAMES[dt]


# ===================================================================== framework ==============
class Ctx:
    """What a case function gets: a deterministic RNG, the device, and check()."""

    def __init__(self, name, device):
        self.name, self.device = name, device
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.errors = []
        self.checks = 0

    def check(self, t, want, dt=None, tol=EXACT, what=""):
        """Compare tensor t with NumPy `want`: shape, dtype (if dt given) and values.
        tol: EXACT or (rtol, atol). Records a failure and keeps going."""
        self.checks += 1
        label = f"{what}: " if what else ""
        want = np.asarray(want)
        if dt is not None:
            if t.dtype != dt:
                self.errors.append(f"{label}dtype {dn(t.dtype)}, expected {dn(dt)}")
            want = as_dtype(want, dt)
        got = t.numpy()
        msg = compare(got, want, tol)
        if msg:
            self.errors.append(label + msg)
        return got

    def expect(self, cond, msg):
        self.checks += 1
        if not cond:
            self.errors.append(msg)


def compare(got, want, tol):
    """None if got matches want, else a description of the first mismatch."""
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.size == 0:
        return None
    if tol is EXACT and got.dtype.kind in "biu" and want.dtype.kind in "biu":
        ok = (got == want) if got.dtype == want.dtype else \
            (got.astype(object) == want.astype(object)).astype(bool)
    else:
        g, w = got.astype(np.float64), want.astype(np.float64)
        both_nan = np.isnan(g) & np.isnan(w)
        if tol is EXACT:
            ok = (g == w) | both_nan
        else:
            rtol, atol = tol
            ok = (np.abs(g - w) <= atol + rtol * np.abs(w)) | (g == w) | both_nan
    if ok.all():
        return None
    bad = np.argwhere(~ok)
    first = tuple(int(i) for i in bad[0])
    gv, wv = got[first] if got.ndim else got[()], want[first] if want.ndim else want[()]
    detail = ""
    if tol is not EXACT or got.dtype.kind == "f":
        g, w = got.astype(np.float64), want.astype(np.float64)
        with np.errstate(all="ignore"):
            err = np.abs(g - w)[~ok]
            rel = (np.abs(g - w) / np.maximum(np.abs(w), 1e-300))[~ok]
        detail = f"; max abs err {np.nanmax(err) if err.size else 0:.3g}, " \
                 f"max rel err {np.nanmax(rel) if rel.size else 0:.3g}, tol {tol}"
    return (f"{len(bad)} of {got.size} values differ; first at {first}: got {gv!r}, "
            f"want {wv!r}{detail}")


CASES = []  # (name, fn, devices)


def case(name, fn, devices=DEVICES):
    assert all(name != c[0] for c in CASES), f"duplicate case name {name}"
    CASES.append((name, fn, devices))


def run_case(name, fn, device):
    ctx = Ctx(name, device)
    if device != BOTH:
        cg.set_device(device)
    try:
        with cg.scope():
            fn(ctx)
    except cg.CgError as e:
        ctx.errors.append(f"error: {e}")
    except Exception as e:  # a bug in the test or an unexpected crash path
        import traceback
        ctx.errors.append(f"exception {type(e).__name__}: {e}\n" + traceback.format_exc())
    finally:
        cg.set_device("CPU")
    return ctx


# ===================================================================== data ===================
def values(rng, dt, shape, kind="any"):
    """Random test values of cgrad dtype `dt` (in cg.NP representation).
    kind picks a domain (see the table below) so that each op stays well defined."""
    shape = tuple(shape)
    if dt == BOOL:
        return rng.random(shape) < 0.5
    if is_float(dt):
        if kind in ("small", "intexp"):
            x = rng.integers(-3, 4, shape).astype(np.float64)
        elif kind == "pos":
            x = rng.uniform(0.1, 4.0, shape)
        elif kind == "exponent":
            x = rng.uniform(-3.0, 3.0, shape)
        elif kind in ("nonzero", "divisor"):
            x = rng.uniform(0.5, 10.0, shape) * rng.choice([-1.0, 1.0], shape)
        else:  # any, arith, mulsafe, full
            x = rng.uniform(-10.0, 10.0, shape)
        return as_dtype(x, dt)
    info = np.iinfo(cg.NP[dt])
    nbits = info.bits
    imax = int(info.max)
    if is_unsigned(dt):
        lo, hi = {
            "small": (0, 6), "intexp": (0, 4), "divisor": (1, min(imax, 10**6)),
            "shift": (0, nbits - 1), "nonzero": (1, imax),
        }.get(kind, (0, imax))  # any/arith/mulsafe/full/shiftee/shr: the whole range (wraps)
    else:
        lo, hi = {
            "small": (-3, 3), "intexp": (-3, 4), "full": (int(info.min), imax),
            "arith": (-(imax // 2), imax // 2), "mulsafe": (-math.isqrt(imax), math.isqrt(imax)),
            "divisor": (-12, 12), "shiftee": (0, 15), "shr": (0, imax),
            "shift": (0, nbits - 5),  # 15 << (bits-5) still fits: no signed overflow
            "nonzero": (-imax, imax),
        }.get(kind, (-imax, imax))  # any: avoid INT_MIN so that neg/abs are defined
    x = rng.integers(lo, hi, size=shape, dtype=cg.NP[dt], endpoint=True)
    if kind in ("divisor", "nonzero"):
        x[x == 0] = 1
    return x


# A layout is a way of producing a (4, 6)-broadcastable operand from a base array: views and
# broadcasts that must give the same values as NumPy's. (name, base shape, numpy fn, cgrad fn)
LAYOUTS = [
    ("transposed", (6, 4), lambda a: a.T, lambda t: t.T),
    ("row_bcast", (6,), lambda a: a, lambda t: t),
    ("step2", (8, 6), lambda a: a[::2], lambda t: t.slice(0, None, None, 2)),
    ("col_bcast", (4, 1), lambda a: a, lambda t: t),
    ("negstep", (4, 12), lambda a: a[:, ::-2], lambda t: t.slice(1, None, None, -2)),
    ("scalar0d", (), lambda a: a, lambda t: t),
    ("flipped", (4, 6), lambda a: a[::-1, ::-1], lambda t: t.flip((0, -1))),
    ("expanded", (1, 6), lambda a: np.broadcast_to(a, (4, 6)), lambda t: t.expand(4, 6)),
    ("permuted3d", (2, 4, 3), lambda a: a.transpose(1, 0, 2).reshape(4, 6),
     lambda t: t.permute(1, 0, 2).reshape(4, 6)),
    ("shrunk", (6, 8), lambda a: a[1:5, 2:8], lambda t: t.shrink(((1, 5), (2, 8)))),
    ("padded", (2, 4), lambda a: np.pad(a, ((1, 1), (1, 1)), constant_values=1),
     lambda t: t.pad(((1, 1), (1, 1)), 1.0)),
    ("neg_axis_T", (4, 3, 2), lambda a: np.swapaxes(a, -1, -2).reshape(4, 6)[::-1],
     lambda t: t.transpose(-1, -2).reshape(4, 6).flip(-2)),
]
FULL_LAYOUTS = [l for l in LAYOUTS if l[0] not in ("row_bcast", "col_bcast", "scalar0d", "expanded")]


def layout_operand(ctx, dt, kind, layout):
    """(numpy view, cgrad view) of fresh random data through `layout`."""
    name, base_shape, np_fn, cg_fn = layout
    base = values(ctx.rng, dt, base_shape, kind)
    return np_fn(base), cg_fn(cg.tensor(base, dt))


# ===================================================================== tolerances =============
# Float tolerances (rtol, atol) per dtype for ops whose result is one rounding away from exact.
ROUNDED = {F16: (1e-3, 1e-6), BF16: (8e-3, 1e-30), F32: EXACT, F64: EXACT}
# x/y is computed as x * (1/y): two roundings.
DIVISION = {F16: (2e-3, 1e-6), BF16: (1.6e-2, 1e-30), F32: (2.5e-7, 0), F64: (5e-16, 0)}
# pow = exp2(y*log2|x|): the rounding of y*log2|x| is amplified by |y*log2 x|*ln2.
POW = {F16: (1e-2, 1e-3), BF16: (5e-2, 1e-2), F32: (1e-5, 1e-6), F64: (1e-12, 1e-14)}


def tol_for(table, dt):
    return table[dt] if is_float(dt) else EXACT


# ===================================================================== binary ops =============
def trunc_div(a, b):
    """C integer division (toward zero), computed exactly in a's dtype."""
    a, b = np.broadcast_arrays(a, b)
    if a.dtype.kind == "u":
        return a // b
    q = a // b
    fix = (a % b != 0) & ((a < 0) != (b < 0))
    return (q + fix.astype(q.dtype)).astype(a.dtype)


def float_ref(fn):
    """Reference for a float op: compute in float64 (then rounded to the result dtype)."""
    return lambda *xs: fn(*[np.asarray(x, dtype=np.float64) for x in xs])


# (case name, method, reference, dtypes, domain of a, domain of b, tolerance table or EXACT)
BINARY_OPS = [
    ("add", "add", np.add, NUMERIC, "arith", "arith", ROUNDED),
    ("sub", "sub", np.subtract, NUMERIC, "arith", "arith", ROUNDED),
    ("mul", "mul", np.multiply, NUMERIC, "mulsafe", "mulsafe", ROUNDED),
    ("div", "div", np.divide, FLOATS, "any", "nonzero", DIVISION),
    ("maximum", "maximum", np.maximum, ALL_DTYPES, "any", "any", EXACT),
    ("minimum", "minimum", np.minimum, ALL_DTYPES, "any", "any", EXACT),
    ("idiv", "idiv", trunc_div, INTS, "any", "divisor", EXACT),
    ("mod", "mod", np.fmod, INTS, "any", "divisor", EXACT),
    ("shl", "shl", np.left_shift, INTS, "shiftee", "shift", EXACT),
    ("shr", "shr", np.right_shift, INTS, "shr", "shift", EXACT),
    ("and", "and_", np.bitwise_and, INTS + [BOOL], "full", "full", EXACT),
    ("or", "or_", np.bitwise_or, INTS + [BOOL], "full", "full", EXACT),
    ("xor", "xor", np.bitwise_xor, INTS + [BOOL], "full", "full", EXACT),
    ("pow", "pow", np.power, FLOATS, "pos", "exponent", POW),
    ("pow_negbase_intexp", "pow", np.power, FLOATS, "any", "intexp", POW),
]


def binary_ref(fn, a, b, dt):
    if is_float(dt):
        return float_ref(fn)(a, b)
    return fn(np.asarray(a).astype(cg.NP[dt]), np.asarray(b).astype(cg.NP[dt]))


def make_binary_case(idx, name, method, ref, dt, dom_a, dom_b, tol_table):
    tol = tol_for(tol_table, dt) if tol_table is not EXACT else EXACT
    # Rotate through layouts so that every op/dtype pair sees different views and broadcasts.
    la = LAYOUTS[(idx * 5 + dt) % len(LAYOUTS)]
    lb = LAYOUTS[(idx * 3 + 2 * dt + 1) % len(LAYOUTS)]

    def fn(ctx):
        a, b = values(ctx.rng, dt, (4, 6), dom_a), values(ctx.rng, dt, (4, 6), dom_b)
        out = getattr(cg.tensor(a, dt), method)(cg.tensor(b, dt))
        ctx.check(out, binary_ref(ref, a, b, dt), dt, tol, "contiguous")
        (av, at), (bv, bt) = layout_operand(ctx, dt, dom_a, la), layout_operand(ctx, dt, dom_b, lb)
        out = getattr(at, method)(bt)
        ctx.check(out, binary_ref(ref, av, bv, dt), dt, tol, f"{la[0]} op {lb[0]}")
    return fn


for _i, (_name, _method, _ref, _dts, _da, _db, _tol) in enumerate(BINARY_OPS):
    for _dt in _dts:
        case(f"binary/{_name}[{dn(_dt)}]",
             make_binary_case(_i, _name, _method, _ref, _dt, _da, _db, _tol))

# comparisons: all six per dtype; small integer values so that ties are common
COMPARISONS = [("lt", np.less), ("gt", np.greater), ("le", np.less_equal),
               ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]


def make_compare_case(dt):
    def fn(ctx):
        for k, (op, ref) in enumerate(COMPARISONS):
            la, lb = LAYOUTS[(k + dt) % len(LAYOUTS)], LAYOUTS[(3 * k + dt + 5) % len(LAYOUTS)]
            (av, at), (bv, bt) = layout_operand(ctx, dt, "small", la), \
                layout_operand(ctx, dt, "small", lb)
            ctx.check(getattr(at, op)(bt), ref(av, bv), BOOL, EXACT, f"{op} {la[0]},{lb[0]}")
    return fn


for _dt in ALL_DTYPES:
    case(f"binary/compare[{dn(_dt)}]", make_compare_case(_dt))


def make_compare_full_case(dt):
    # the whole range: unsigned values with the top bit set, INT_MIN, and exact ties
    def fn(ctx):
        a = values(ctx.rng, dt, (5, 8), "full")
        b = values(ctx.rng, dt, (5, 8), "full")
        info = np.iinfo(cg.NP[dt])
        a[0, :4] = [info.min, info.max, info.max, info.min]
        b[0, :4] = [info.max, info.min, info.max, info.min]
        b[1] = a[1]
        for op, ref in COMPARISONS:
            ctx.check(getattr(cg.tensor(a, dt), op)(cg.tensor(b, dt)), ref(a, b), BOOL, EXACT, op)
        ctx.check(cg.tensor(a, dt).maximum(cg.tensor(b, dt)), np.maximum(a, b), dt, EXACT, "maximum")
        ctx.check(cg.tensor(a, dt).minimum(cg.tensor(b, dt)), np.minimum(a, b), dt, EXACT, "minimum")
    return fn


for _dt in INTS:
    case(f"binary/compare_full_range[{dn(_dt)}]", make_compare_full_case(_dt))


def div_int(ctx):
    # true division of integer tensors gives float32
    a = values(ctx.rng, I32, (4, 6), "mulsafe")
    b = values(ctx.rng, I32, (4, 6), "divisor")
    ctx.check(cg.tensor(a).div(cg.tensor(b)), a.astype(np.float64) / b, F32, DIVISION[F32], "int32")
    u = values(ctx.rng, U8, (6,))
    ctx.check(cg.tensor(u).div(cg.tensor(np.uint8(7))), u.astype(np.float64) / 7, F32,
              DIVISION[F32], "uint8 / 0-d uint8")


case("binary/div_int", div_int)


def make_where_case(dt):
    def fn(ctx):
        c = ctx.rng.random((4, 6)) < 0.5
        a, b = values(ctx.rng, dt, (4, 6)), values(ctx.rng, dt, (4, 6))
        ctx.check(cg.tensor(c).where(cg.tensor(a, dt), cg.tensor(b, dt)), np.where(c, a, b), dt,
                  EXACT, "contiguous")
        # broadcast condition (4,1), a as a transposed view, b a 0-d tensor
        c = ctx.rng.random((4, 1)) < 0.5
        (av, at) = layout_operand(ctx, dt, "any", LAYOUTS[0])
        b0 = values(ctx.rng, dt, ())
        ctx.check(cg.tensor(c).where(at, cg.tensor(b0, dt)), np.where(c, av, b0), dt, EXACT,
                  "broadcast views")
    return fn


for _dt in ALL_DTYPES:
    case(f"binary/where[{dn(_dt)}]", make_where_case(_dt))


def where_mixed(ctx):
    # non-bool condition means "nonzero"; a and b of different dtypes are promoted
    c = np.array([[0, 3, -1], [2, 0, 0]], dtype=np.int32)
    a = np.array([1, -2, 3], dtype=np.int8)
    b = np.array([[0.5], [-1.5]], dtype=np.float32)
    ctx.check(cg.tensor(c).where(cg.tensor(a), cg.tensor(b)),
              np.where(c != 0, a.astype(np.float32), b), F32, EXACT, "int cond, int8/float32")
    cf = np.array([0.0, -0.0, 0.5, np.nan], dtype=np.float32)
    ctx.check(cg.tensor(cf).where(cg.tensor(np.int16(7)), cg.tensor(np.int16(-7))),
              np.where(cf != 0, 7, -7).astype(np.int16), I16, EXACT, "float cond")


case("binary/where_mixed", where_mixed)


# ===================================================================== promotion ==============
def tinygrad_promote(a, b):
    """tinygrad's least_upper_dtype on its promotion lattice (fp8 types left out), written
    independently: the least-priority common ancestor."""
    lattice = {BOOL: [I8, U8], I8: [I16], I16: [I32], I32: [I64], I64: [F16, BF16],
               U8: [I16, U16], U16: [I32, U32], U32: [I64, U64], U64: [F16, BF16],
               F16: [F32], BF16: [F32], F32: [F64], F64: []}

    def ups(d):
        out, todo = {d}, [d]
        while todo:
            for p in lattice[todo.pop()]:
                if p not in out:
                    out.add(p)
                    todo.append(p)
        return out
    return min(ups(a) & ups(b))  # the enum order is tinygrad's priority order


def promotion_table(ctx):
    named = [(I8, U8, I16), (I32, F16, F16), (U32, I32, I64), (BOOL, I8, I8), (F16, BF16, F32),
             (U8, U16, U16), (I16, U16, I32), (U64, I64, F16), (I64, F32, F32), (BOOL, F64, F64),
             (U64, U8, U64), (BF16, I32, BF16), (BOOL, BOOL, BOOL)]
    for a, b, want in named:
        ctx.expect(cg.promote(a, b) == want,
                   f"cg_promote({dn(a)}, {dn(b)}) = {dn(cg.promote(a, b))}, expected {dn(want)}")
    for a in ALL_DTYPES:
        for b in ALL_DTYPES:
            want = tinygrad_promote(a, b)
            ctx.expect(cg.promote(a, b) == want,
                       f"cg_promote({dn(a)}, {dn(b)}) = {dn(cg.promote(a, b))}, expected {dn(want)}")


def promotion_result_dtypes(ctx):
    # the dtype of op results (no realization needed)
    ts = {dt: cg.zeros((2,), dt) for dt in ALL_DTYPES}
    for a in ALL_DTYPES:
        for b in ALL_DTYPES:
            want = tinygrad_promote(a, b)
            for op in ("add", "mul", "maximum"):
                if want == BOOL and op != "maximum":
                    continue
                got = getattr(ts[a], op)(ts[b]).dtype
                ctx.expect(got == want, f"{op}({dn(a)}, {dn(b)}) -> {dn(got)}, expected {dn(want)}")
            ctx.expect(ts[a].lt(ts[b]).dtype == BOOL, f"lt({dn(a)}, {dn(b)}) is not bool")
            got = ts[BOOL].where(ts[a], ts[b]).dtype
            ctx.expect(got == want, f"where(c, {dn(a)}, {dn(b)}) -> {dn(got)}, expected {dn(want)}")
        if a != BOOL:
            got = ts[a].div(ts[a]).dtype
            want = a if is_float(a) else F32
            ctx.expect(got == want, f"div({dn(a)}, {dn(a)}) -> {dn(got)}, expected {dn(want)}")


def promotion_values(ctx):
    pairs = [  # (a values, a dtype, b values, b dtype, op)
        ([-100, 5, 127], I8, [200, 255, 0], U8, "add"),        # int16
        ([100000, -7, 3], I32, [0.5, 2.0, -1.25], F16, "add"),  # float16
        ([4000000000, 1, 0], U32, [-5, -1, 2147483647], I32, "add"),  # int64
        ([True, False, True], BOOL, [-3, 4, 127], I8, "mul"),   # int8
        ([0.1, 1.5, -2.0], F16, [0.1, 3.0, 1e30], BF16, "add"),  # float32
        ([5, 0, 255], U8, [10, 65535, 1], U16, "sub"),          # uint16, wraps
        ([-2, 3, 1000], I16, [3, 60000, 7], U16, "mul"),        # int32
        ([1, 2, 3], I64, [0.25, -0.5, 1.0], F32, "mul"),        # float32
        ([7, -9, 11], I8, [2.0, 4.0, -8.0], F64, "div"),        # float64
    ]
    for av, adt, bv, bdt, op in pairs:
        want_dt = tinygrad_promote(adt, bdt)
        a, b = as_dtype(np.array(av), adt), as_dtype(np.array(bv), bdt)
        ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op]
        if is_float(want_dt):
            want = ref(as_dtype(a, want_dt).astype(np.float64), as_dtype(b, want_dt).astype(np.float64))
        else:
            want = ref(a.astype(cg.NP[want_dt]), b.astype(cg.NP[want_dt]))
        out = getattr(cg.tensor(a, adt), op)(cg.tensor(b, bdt))
        ctx.check(out, want, want_dt, tol_for(DIVISION if op == "div" else ROUNDED, want_dt),
                  f"{dn(adt)} {op} {dn(bdt)}")


case("promotion/table", promotion_table)
case("promotion/result_dtypes", promotion_result_dtypes)
case("promotion/values", promotion_values)


def scalar_forms(ctx):
    x = values(ctx.rng, F32, (3, 4))
    t = cg.tensor(x)
    f32 = np.float32
    ctx.check(t.add_s(1.5), x + f32(1.5), F32, EXACT, "f32 + 1.5")
    ctx.check(t.sub_s(-2), x - f32(-2), F32, EXACT, "f32 - (-2)")
    ctx.check(t.mul_s(0.1), x * f32(0.1), F32, EXACT, "f32 * 0.1")
    ctx.check(t.div_s(3), x.astype(np.float64) / 3, F32, DIVISION[F32], "f32 / 3")
    i = values(ctx.rng, I32, (3, 4), "mulsafe")
    ti = cg.tensor(i)
    ctx.check(ti.add_s(7), i + np.int32(7), I32, EXACT, "i32 + 7 stays int32")
    ctx.check(ti.mul_s(-3), i * np.int32(-3), I32, EXACT, "i32 * -3 stays int32")
    ctx.check(ti.add_s(0.5), i.astype(np.float32) + f32(0.5), F32, EXACT, "i32 + 0.5 -> float32")
    ctx.check(ti.div_s(4), i.astype(np.float64) / 4, F32, DIVISION[F32], "i32 / 4 -> float32")
    u = np.array([250, 3, 255], dtype=np.uint8)
    ctx.check(cg.tensor(u).add_s(10), u + np.uint8(10), U8, EXACT, "u8 + 10 wraps")
    h = values(ctx.rng, F16, (5,))
    ctx.check(cg.tensor(h).add_s(0.1), (h.astype(np.float64) + float(np.float16(0.1))), F16,
              ROUNDED[F16], "f16 + 0.1 stays float16")
    p = values(ctx.rng, F32, (6,), "pos")
    for e in (2, 3, 0.5, -1, 0, 1, 1.5):
        ctx.check(cg.tensor(p).pow_s(e), p.astype(np.float64) ** e, F32, POW[F32], f"pos ** {e}")
    n = np.array([-2.0, -1.5, -0.5, 0.0, 0.5, 3.0], dtype=np.float32)
    for e in (2, 3, -1, 0):
        ctx.check(cg.tensor(n).pow_s(e), n.astype(np.float64) ** e, F32, POW[F32], f"neg ** {e}")


case("binary/scalar_forms", scalar_forms)


# ===================================================================== unary ops ==============
def gelu_ref(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def sigmoid_ref(x):
    return 1 / (1 + np.exp(-x))


# float32 (rtol, atol) of transcendental ops; exp is computed as exp2(x*log2(e)), cos as
# sin(pi/2 - x), tanh as 2*sigmoid(2x) - 1 (tinygrad's formulas), which bounds what we can ask.
# (name, reference in float64, domain (lo, hi), float32 tolerance; EXACT for exact ops)
UNARY_OPS = [
    ("neg", np.negative, (-10, 10), EXACT),
    ("recip", lambda x: 1 / x, "nonzero", (2.5e-7, 0)),
    ("exp", np.exp, (-10, 10), (2e-6, 0)),
    ("exp2", np.exp2, (-20, 20), (1e-6, 0)),
    ("log", np.log, (0.01, 100), (2e-6, 1e-7)),
    ("log2", np.log2, (0.01, 100), (1e-6, 1e-7)),
    ("sqrt", np.sqrt, (0, 100), (1.5e-7, 0)),
    ("rsqrt", lambda x: 1 / np.sqrt(x), (0.01, 100), (3e-7, 0)),
    ("sin", np.sin, (-10, 10), (1e-5, 1e-6)),
    ("cos", np.cos, (-10, 10), (1e-5, 2e-6)),
    ("tanh", np.tanh, (-5, 5), (1e-5, 1e-6)),
    ("sigmoid", sigmoid_ref, (-15, 15), (5e-6, 1e-7)),
    ("relu", lambda x: np.maximum(x, 0), (-10, 10), EXACT),
    ("gelu", gelu_ref, (-5, 5), (1e-5, 1e-6)),
    ("silu", lambda x: x * sigmoid_ref(x), (-10, 10), (1e-5, 1e-6)),
    ("abs", np.abs, (-10, 10), EXACT),
]
# Other float dtypes: float64 is held to near double precision; float16/bfloat16 results of
# composite formulas go through several half-precision roundings (about 4 ulp).
UNARY_TOL = {F64: (1e-12, 1e-13), F16: (4e-3, 4e-3), BF16: (3e-2, 3e-2)}
# In half precision the rounding of an intermediate argument (x*log2(e) for exp, pi/2 - x for
# cos) is amplified by the argument's size: keep |x| smaller there.
HALF_DOMAIN = {"exp": (-4, 4), "exp2": (-6, 6), "sin": (-4, 4), "cos": (-4, 4),
               "sigmoid": (-6, 6), "silu": (-6, 6)}


def unary_values(rng, dt, domain, shape):
    if domain == "nonzero":
        return values(rng, dt, shape, "nonzero")
    lo, hi = domain
    return as_dtype(rng.uniform(lo, hi, shape), dt)


def make_unary_case(k, op, ref, domain, tol32, dt):
    tol = EXACT if tol32 is EXACT else (tol32 if dt == F32 else UNARY_TOL[dt])
    lay = FULL_LAYOUTS[(k + dt) % len(FULL_LAYOUTS)]
    if dt in (F16, BF16):
        domain = HALF_DOMAIN.get(op, domain)

    def fn(ctx):
        x = unary_values(ctx.rng, dt, domain, (4, 6))
        ctx.check(getattr(cg.tensor(x, dt), op)(), float_ref(ref)(x), dt, tol, "contiguous")
        base = unary_values(ctx.rng, dt, domain, lay[1])
        ctx.check(getattr(lay[3](cg.tensor(base, dt)), op)(), float_ref(ref)(lay[2](base)), dt,
                  tol, lay[0])
    return fn


for _k, (_op, _ref, _dom, _tol) in enumerate(UNARY_OPS):
    for _dt in FLOATS:
        case(f"unary/{_op}[{dn(_dt)}]", make_unary_case(_k, _op, _ref, _dom, _tol, _dt))


def unary_int(ctx):
    for dt in INTS:
        x = values(ctx.rng, dt, (3, 5), "any")
        ctx.check(cg.tensor(x, dt).neg(), np.negative(x), dt, EXACT, f"neg {dn(dt)}")
        ctx.check(cg.tensor(x, dt).relu(), np.maximum(x, 0).astype(x.dtype), dt, EXACT,
                  f"relu {dn(dt)}")
        ctx.check(cg.tensor(x, dt).abs(), np.abs(x), dt, EXACT, f"abs {dn(dt)}")
    b = ctx.rng.random((7,)) < 0.5
    ctx.check(cg.tensor(b).not_(), ~b, BOOL, EXACT, "not bool")
    ctx.check(cg.tensor(b).neg(), ~b, BOOL, EXACT, "neg bool is not")


def unary_int_to_float(ctx):
    # float functions of integer tensors compute in float32
    i = values(ctx.rng, I32, (4, 3), "small")
    ctx.check(cg.tensor(i).exp(), np.exp(i.astype(np.float64)), F32, (2e-6, 0), "exp int32")
    u = values(ctx.rng, U8, (4, 3))
    ctx.check(cg.tensor(u).sqrt(), np.sqrt(u.astype(np.float64)), F32, (1.5e-7, 0), "sqrt uint8")
    s = values(ctx.rng, I8, (4, 3), "small")
    ctx.check(cg.tensor(s).sigmoid(), sigmoid_ref(s.astype(np.float64)), F32, (5e-6, 1e-7),
              "sigmoid int8")
    ctx.check(cg.tensor(s).recip(), 1 / s.astype(np.float64), F32, (2.5e-7, 0), "recip int8")


case("unary/int_ops", unary_int)
case("unary/int_to_float", unary_int_to_float)

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1e-30, 1.0, -1.0]
SPECIAL_OPS = [("exp", np.exp), ("exp2", np.exp2), ("log", np.log), ("log2", np.log2),
               ("sqrt", np.sqrt), ("rsqrt", lambda x: 1 / np.sqrt(x)), ("recip", lambda x: 1 / x),
               ("sigmoid", sigmoid_ref), ("tanh", np.tanh), ("relu", lambda x: np.maximum(x, 0)),
               ("abs", np.abs), ("neg", np.negative)]


def make_special_case(dt):
    def fn(ctx):
        x = np.array(SPECIAL, dtype=cg.NP[dt])
        for op, ref in SPECIAL_OPS:
            # (tanh = 2*sigmoid(2x)-1 loses tiny x entirely: allow an absolute error)
            tol = (1e-5, 1e-7 if op == "tanh" else 0) if dt == F32 else \
                (1e-12, 1e-15 if op == "tanh" else 0)
            ctx.check(getattr(cg.tensor(x, dt), op)(), float_ref(ref)(x), dt, tol, op)
    return fn


for _dt in (F32, F64):
    case(f"unary/special_values[{dn(_dt)}]", make_special_case(_dt))


# ===================================================================== casts ==================
FLOAT_MAX = {F16: 65504.0, BF16: 3.3895e38, F32: 3.4028e38, F64: 1.79e308}
CAST_POOL = [0, 1, -1, 2, 3, 7, -7, 100, -100, 127, -128, 200, 255, 256, 1000, -1000, 30000,
             -30000, 65504, 65535, 70000, 2**31 - 1, -2**31, 2**32 + 5, 2**40, -2**40, 2**53,
             -2**63, 2**63 + 2**11, 2**64 - 2**12,  # exact in float64: uint64 top bit
             0.5, -0.5, 2.5, -2.5, 1.75, 0.1, 1 / 3, -0.25, 1e10, 1e-3, 6e-5, 1e-8]


def cast_sources(dt):
    """The pool values representable in dt, as (numpy array of dt, exact python values)."""
    if dt == BOOL:
        arr = np.array([False, True])
        return arr, [0, 1]
    if is_int(dt):
        info = np.iinfo(cg.NP[dt])
        vals = [int(v) for v in CAST_POOL if float(v).is_integer() and info.min <= int(v) <= info.max]
        arr = np.array(vals, dtype=cg.NP[dt])
        return arr, vals
    vals = [v for v in CAST_POOL if abs(v) <= FLOAT_MAX[dt]]
    arr = as_dtype(np.array(vals, dtype=np.float64), dt)
    return arr, [float(v) for v in arr]


def cast_target_ok(x, dst):
    if dst == BOOL:
        return True
    if is_float(dst):
        return abs(x) <= FLOAT_MAX[dst]
    info = np.iinfo(cg.NP[dst])
    return info.min <= math.trunc(x) <= info.max


def cast_expected(xs, dst):
    if dst == BOOL:
        return np.array([x != 0 for x in xs], dtype=bool)
    if is_int(dst):
        return np.array([math.trunc(x) for x in xs], dtype=cg.NP[dst])
    return as_dtype(np.array([float(x) for x in xs], dtype=np.float64), dst)


def make_cast_case(src):
    def fn(ctx):
        arr, xs = cast_sources(src)
        for dst in ALL_DTYPES:
            keep = [i for i, x in enumerate(xs) if cast_target_ok(x, dst)]
            sub = arr[keep]
            t = cg.tensor(sub, src)
            # alternate contiguous and flipped (non-contiguous) sources
            if dst % 2:
                t, sub = t.flip(0), sub[::-1]
                keep = keep[::-1]
            ctx.check(t.cast(dst), cast_expected([xs[i] for i in keep], dst), dst, EXACT,
                      f"{dn(src)} -> {dn(dst)} of {[xs[i] for i in keep]}")
    return fn


for _dt in ALL_DTYPES:
    case(f"cast/from[{dn(_dt)}]", make_cast_case(_dt))


def cast_wrap_and_overflow(ctx):
    # integer narrowing wraps modulo 2^bits (two's complement), as NumPy's astype
    i32 = np.array([300, -1, 255, 256, -129, 70000, -70000], dtype=np.int32)
    for dst in (U8, I8, I16, U16):
        ctx.check(cg.tensor(i32).cast(dst), i32.astype(cg.NP[dst]), dst, EXACT, f"int32 -> {dn(dst)}")
    i64 = np.array([2**40 + 3, -2**35 - 1, 2**63 - 1], dtype=np.int64)
    for dst in (I32, U32, U16):
        ctx.check(cg.tensor(i64).cast(dst), i64.astype(cg.NP[dst]), dst, EXACT, f"int64 -> {dn(dst)}")
    u64 = np.array([2**64 - 1, 2**63, 12345], dtype=np.uint64)
    for dst in (I64, I8, U32):
        ctx.check(cg.tensor(u64).cast(dst), u64.astype(cg.NP[dst]), dst, EXACT, f"uint64 -> {dn(dst)}")
    ctx.check(cg.tensor(u64).cast(F64), u64.astype(np.float64), F64, EXACT, "uint64 -> float64")
    # float narrowing overflows to inf
    f = np.array([1e10, -1e10, 65519.0, 65520.0, 1e-10], dtype=np.float32)
    ctx.check(cg.tensor(f).cast(F16), f.astype(np.float16), F16, EXACT, "float32 -> float16")
    d = np.array([1e300, -1e300, 1e-300, 0.1], dtype=np.float64)
    ctx.check(cg.tensor(d).cast(F32), d.astype(np.float32), F32, EXACT, "float64 -> float32")
    ctx.check(cg.tensor(d).cast(BF16), as_dtype(d, BF16), BF16, EXACT, "float64 -> bfloat16")


case("cast/wrap_and_overflow", cast_wrap_and_overflow)


def bitcasts(ctx):
    f = values(ctx.rng, F32, (3, 4)) * np.float32(1e3)
    f[0, 0], f[0, 1] = -0.0, np.inf
    ctx.check(cg.tensor(f).bitcast(I32), f.view(np.int32), I32, EXACT, "float32 -> int32")
    ctx.check(cg.tensor(f).T.bitcast(U32), f.T.copy().view(np.uint32), U32, EXACT,
              "float32 (transposed) -> uint32")
    bits = f.view(np.int32)
    got = cg.tensor(bits).bitcast(F32).numpy()
    ctx.expect(got.dtype == np.float32 and np.array_equal(got.view(np.int32), bits),
               "int32 -> float32 bits differ")
    got = cg.tensor(bits.view(np.uint32)).flip(1).bitcast(F32).numpy()
    ctx.expect(np.array_equal(got.view(np.uint32), bits.view(np.uint32)[:, ::-1]),
               "uint32 (flipped) -> float32 bits differ")
    h = values(ctx.rng, F16, (10,))
    h[0], h[1] = -0.0, np.float16(6e-5)  # -0 and a subnormal
    ctx.check(cg.tensor(h).bitcast(I16), h.view(np.int16), I16, EXACT, "float16 -> int16")
    ctx.check(cg.tensor(h).bitcast(U16), h.view(np.uint16), U16, EXACT, "float16 -> uint16")
    got = cg.tensor(h.view(np.int16)).bitcast(F16).numpy()
    ctx.expect(np.array_equal(got.view(np.int16), h.view(np.int16)), "int16 -> float16 bits differ")
    d = values(ctx.rng, F64, (4,))
    ctx.check(cg.tensor(d).bitcast(I64), d.view(np.int64), I64, EXACT, "float64 -> int64")
    # bitcast of a computed value (not just a load)
    ctx.check(cg.tensor(f).add_s(1).bitcast(I32), (f + np.float32(1)).view(np.int32), I32, EXACT,
              "float32 (x+1) -> int32")


case("cast/bitcast", bitcasts)


# ===================================================================== reductions =============
def np_axis(ax):
    return None if ax is ALL else ax


REDUCE_AXES = [(0,), (-1,), (1,), (0, 2), (-2, -1), ALL]
REDUCE_OPS = [
    # name, cgrad(t, axes, keepdim), numpy(a, axes, keepdim) in float64, domain (lo, hi), rtol
    ("sum", lambda t, ax, k: t.sum(ax, k), lambda a, ax, k: a.sum(axis=ax, keepdims=k), (-1, 1)),
    ("prod", lambda t, ax, k: t.prod(ax, k), lambda a, ax, k: a.prod(axis=ax, keepdims=k), (0.7, 1.4)),
    ("max", lambda t, ax, k: t.max(ax, k), lambda a, ax, k: a.max(axis=ax, keepdims=k), (-1, 1)),
    ("min", lambda t, ax, k: t.min(ax, k), lambda a, ax, k: a.min(axis=ax, keepdims=k), (-1, 1)),
    ("mean", lambda t, ax, k: t.mean(ax, k), lambda a, ax, k: a.mean(axis=ax, keepdims=k), (-1, 1)),
    ("var0", lambda t, ax, k: t.var(ax, k, 0), lambda a, ax, k: a.var(axis=ax, keepdims=k), (-2, 2)),
    ("var1", lambda t, ax, k: t.var(ax, k, 1),
     lambda a, ax, k: a.var(axis=ax, keepdims=k, ddof=1), (-2, 2)),
]


def reduce_tol(name, a, ax):
    n = a.size if ax is ALL else int(np.prod([a.shape[i] for i in ax]))
    if name in ("max", "min"):
        return EXACT
    if name == "prod":
        return (2e-7 * n, 0)
    return (1e-5, 1e-7 * n * float(np.abs(a).max()))


def make_reduce_case(name, cg_fn, np_fn, domain, ax):
    def fn(ctx):
        shape = (3, 4, 5) if not FULL else (9, 16, 25)
        a = ctx.rng.uniform(*domain, shape).astype(np.float32)
        ax_np = np_axis(ax)
        tol = reduce_tol(name, a, ax if ax is ALL else tuple(i % 3 for i in ax))
        ref = np_fn(a.astype(np.float64), ax_np, False)
        ctx.check(cg_fn(cg.tensor(a), ax, False), ref, F32, tol, "contiguous, keepdim=0")
        # the same values through a permuted view, keepdim=1
        base = np.ascontiguousarray(a.transpose(2, 0, 1))  # (5,3,4); base.transpose(1,2,0) == a
        t = cg.tensor(base).permute(1, 2, 0)
        ctx.check(cg_fn(t, ax, True), np_fn(a.astype(np.float64), ax_np, True), F32, tol,
                  "permuted view, keepdim=1")
    return fn


for _name, _cgf, _npf, _dom in REDUCE_OPS:
    for _ax in REDUCE_AXES:
        _axn = "all" if _ax is ALL else ",".join(map(str, _ax))
        case(f"reduce/{_name}[axes={_axn}]", make_reduce_case(_name, _cgf, _npf, _dom, _ax))

# tinygrad's accumulation dtypes for sum
SUM_DTYPE = {BOOL: I32, I8: I32, I16: I32, I32: I32, I64: I64, U8: U32, U16: U32, U32: U32,
             U64: U64, F16: F16, BF16: BF16, F32: F32, F64: F64}
SUM_RANGE = {I8: "full", U8: "full", I16: "full", U16: "full", I32: "mulsafe", U32: "small",
             I64: "mulsafe", U64: "mulsafe"}


def make_sum_dtype_case(dt):
    def fn(ctx):
        a = values(ctx.rng, dt, (4, 6), SUM_RANGE.get(dt, "any"))
        if dt == U32:
            a = ctx.rng.integers(0, 10**8, (4, 6)).astype(np.uint32)
        acc = SUM_DTYPE[dt]
        wide = np.float64 if is_float(dt) else (np.uint64 if is_unsigned(dt) else np.int64)
        # float sums: rounding error relative to sum(|a|), not to the (cancelling) result
        scale = float(np.abs(a.astype(np.float64)).sum()) if is_float(dt) else 0
        tol = {F16: (1e-3, 1e-3 * scale), BF16: (8e-3, 8e-3 * scale), F32: (1e-6, 2e-7 * scale),
               F64: (1e-12, 1e-15 * scale)}.get(dt, EXACT)
        for ax, keep in (((1,), False), ((0,), True), (ALL, False)):
            ref = a.astype(wide).sum(axis=np_axis(ax), keepdims=keep)
            ctx.check(cg.tensor(a, dt).sum(ax, keep), ref, acc, tol, f"sum axes={ax} keepdim={keep}")
        # a flipped view, negative axis
        ref = a[:, ::-1].astype(wide).sum(axis=-1)
        ctx.check(cg.tensor(a, dt).flip(1).sum(-1), ref, acc, tol, "sum of flipped view, axis -1")
    return fn


def make_maxmin_dtype_case(dt):
    def fn(ctx):
        a = values(ctx.rng, dt, (5, 4), "full")
        if dt == BOOL:  # make sure a column of all-False and one of all-True exist
            a[:, 0], a[:, 1] = False, True
        t = cg.tensor(a, dt)
        for ax, keep in (((0,), False), ((-1,), True), (ALL, False)):
            ctx.check(t.max(ax, keep), a.max(axis=np_axis(ax), keepdims=keep), dt, EXACT,
                      f"max axes={ax} keepdim={keep}")
            ctx.check(t.min(ax, keep), a.min(axis=np_axis(ax), keepdims=keep), dt, EXACT,
                      f"min axes={ax} keepdim={keep}")
        ctx.check(t.T.min(0), a.T.min(axis=0), dt, EXACT, "min of transposed view")
    return fn


for _dt in ALL_DTYPES:
    case(f"reduce/sum_dtype[{dn(_dt)}]", make_sum_dtype_case(_dt))
    case(f"reduce/maxmin_dtype[{dn(_dt)}]", make_maxmin_dtype_case(_dt))


def sum_accumulator_width(ctx):
    # sums whose total does not fit the input dtype: the accumulator must be wider
    # (data from buffers, so that the loops really run; constants could be folded)
    ctx.check(cg.tensor(np.full(300, 127, np.int8)).sum(0), np.int32(300 * 127), I32, EXACT,
              "int8 127s")
    ctx.check(cg.tensor(np.full(300, 255, np.uint8)).sum(0), np.uint32(300 * 255), U32, EXACT,
              "uint8 255s")
    ctx.check(cg.tensor(np.full((3, 40), 30000, np.int16)).sum(1), np.full(3, 40 * 30000), I32,
              EXACT, "int16")
    # float16 accumulates in float32: adding 1 to 2048 in float16 would get stuck at 2048
    ctx.check(cg.tensor(np.ones(4096, np.float16)).sum(ALL), np.float16(4096), F16, EXACT,
              "float16 ones")
    ctx.check(cg.tensor(np.ones(4096, np.float32), BF16).sum(ALL), np.float32(4096), BF16, EXACT,
              "bfloat16 ones")
    ctx.check(cg.tensor(np.ones((64, 64), np.float16)).mean(ALL), np.float16(1), F16, EXACT,
              "float16 mean")
    b = ctx.rng.random((3, 1000)) < 0.3
    ctx.check(cg.tensor(b).sum(-1), b.sum(-1), I32, EXACT, "random bools")


def sum_long_int8_bool(ctx):
    # long 1-d sums of 1-byte ints into int32 (several sizes: different loop splits)
    for n in ((4096,) if ctx.device == "INTERP" else (4096, 65536, 100_000)):
        ctx.check(cg.tensor(np.ones(n, bool)).sum(ALL), np.int32(n), I32, EXACT, f"{n} bool ones")
        ctx.check(cg.tensor(np.ones(n, np.int8)).sum(0), np.int32(n), I32, EXACT, f"{n} int8 ones")
        r = values(ctx.rng, I8, (n,), "full")
        ctx.check(cg.tensor(r).sum(0), r.astype(np.int64).sum(), I32, EXACT, f"{n} random int8")


case("reduce/sum_accumulator_width", sum_accumulator_width)
case("reduce/sum_long_int8_bool", sum_long_int8_bool)


def make_prod_dtype_case(dt):
    # The result dtype of prod on small ints is not part of the documented API: values only.
    def fn(ctx):
        a = values(ctx.rng, dt, (3, 4), "small") if not is_float(dt) else \
            as_dtype(ctx.rng.uniform(0.5, 2.0, (3, 4)), dt)
        if dt == BOOL:
            a[0] = True
        t = cg.tensor(a, dt).prod(-1)
        got = t.numpy()
        want = a.astype(np.float64).prod(axis=-1)
        tol = {F16: (2e-3, 0), BF16: (1.6e-2, 0)}.get(dt, (1e-6, 0) if is_float(dt) else EXACT)
        msg = compare(got.astype(np.float64), want, tol)
        ctx.expect(msg is None, f"prod axis -1 ({dn(dt)} -> {dn(t.dtype)}): {msg}")
        if is_float(dt):
            ctx.expect(t.dtype == dt, f"prod dtype {dn(t.dtype)}, expected {dn(dt)}")
    return fn


for _dt in (BOOL, I8, U8, I32, I64, U64, F16, BF16, F64):
    case(f"reduce/prod_dtype[{dn(_dt)}]", make_prod_dtype_case(_dt))


def mean_var_int(ctx):
    a = values(ctx.rng, I32, (4, 5), "mulsafe")
    ctx.check(cg.tensor(a).mean(1), a.astype(np.float64).mean(axis=1), F32, (1e-6, 0), "mean int32")
    u = values(ctx.rng, U8, (4, 5))
    ctx.check(cg.tensor(u).var(0, False, 1), u.astype(np.float64).var(axis=0, ddof=1), F32,
              (1e-5, 0), "var uint8")
    h = values(ctx.rng, F16, (4, 5))
    ctx.check(cg.tensor(h).mean(ALL), h.astype(np.float64).mean(), F16, (1e-3, 1e-3), "mean float16")
    ctx.check(cg.tensor(h, F16).var(-1, True, 0), h.astype(np.float64).var(axis=-1, keepdims=True),
              F16, (5e-3, 1e-2), "var float16")
    d = values(ctx.rng, F64, (4, 5))
    ctx.check(cg.tensor(d).var((0, 1), False, 1), d.var(ddof=1), F64, (1e-12, 0), "var float64 all")


case("reduce/mean_var_other_dtypes", mean_var_int)


def argmax_cases(ctx):
    # small integer values: many ties; argmax must give the first maximum
    a = ctx.rng.integers(0, 4, (3, 4, 5)).astype(np.float32)
    t = cg.tensor(a)
    for axis in (0, 1, 2, -1, -3):
        for keep in (False, True):
            want = np.argmax(a, axis=axis)
            if keep:
                want = np.expand_dims(want, axis)
            ctx.check(t.argmax(axis, keep), want, I32, EXACT, f"axis={axis} keepdim={keep}")
    neg = -ctx.rng.uniform(1, 5, (6, 7)).astype(np.float32)
    ctx.check(cg.tensor(neg).argmax(1), np.argmax(neg, 1), I32, EXACT, "all negative")
    ctx.check(cg.tensor(a).flip(2).argmax(-1), np.argmax(a[:, :, ::-1], -1), I32, EXACT,
              "flipped view with ties")
    ctx.check(cg.tensor(a).permute(2, 0, 1).argmax(0), np.argmax(a.transpose(2, 0, 1), 0), I32,
              EXACT, "permuted view")
    for dt in (I32, U8, F16, I64, BF16, F64):
        x = values(ctx.rng, dt, (4, 9), "small" if dt != U8 else "full")
        ctx.check(cg.tensor(x, dt).argmax(-1), np.argmax(x, -1), I32, EXACT, f"{dn(dt)}")
    big = ctx.rng.permutation(300).astype(np.float32).reshape(3, 100)
    ctx.check(cg.tensor(big).argmax(1), np.argmax(big, 1), I32, EXACT, "length 100")


case("reduce/argmax", argmax_cases)


def np_softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(a, axis):
    m = a - a.max(axis=axis, keepdims=True)
    return m - np.log(np.exp(m).sum(axis=axis, keepdims=True))


def make_softmax_case(fn_name, ref, axis):
    def fn(ctx):
        a = ctx.rng.uniform(-5, 5, (3, 4, 5)).astype(np.float32)
        tol = (1e-5, 1e-6)
        ctx.check(getattr(cg.tensor(a), fn_name)(axis), ref(a.astype(np.float64), axis), F32, tol,
                  "float32")
        big = a * np.float32(200)  # large values: needs the max subtraction
        ctx.check(getattr(cg.tensor(big), fn_name)(axis), ref(big.astype(np.float64), axis), F32,
                  (1e-5, 1e-5 if fn_name == "log_softmax" else 1e-6), "x*200")
        d = a.astype(np.float64).transpose(1, 2, 0)
        ctx.check(getattr(cg.tensor(np.ascontiguousarray(d.transpose(2, 0, 1))).permute(1, 2, 0),
                          fn_name)(axis), ref(d, axis), F64, (1e-12, 1e-14), "float64 permuted view")
    return fn


for _axis in (-1, 0, 1):
    case(f"reduce/softmax[axis={_axis}]", make_softmax_case("softmax", np_softmax, _axis))
    case(f"reduce/log_softmax[axis={_axis}]", make_softmax_case("log_softmax", np_log_softmax, _axis))


def np_layernorm(a, axis, eps):
    axes = tuple(range(axis % a.ndim, a.ndim))
    m = a.mean(axis=axes, keepdims=True)
    v = ((a - m) ** 2).mean(axis=axes, keepdims=True)
    return (a - m) / np.sqrt(v + eps)


def layernorm_cases(ctx):
    a = ctx.rng.uniform(-3, 3, (4, 8)).astype(np.float32) + np.float32(2)
    ctx.check(cg.tensor(a).layernorm(-1, 1e-5), np_layernorm(a.astype(np.float64), -1, 1e-5), F32,
              (1e-5, 1e-5), "axis -1")
    b = ctx.rng.uniform(-3, 3, (2, 3, 4)).astype(np.float32)
    ctx.check(cg.tensor(b).layernorm(1, 1e-3), np_layernorm(b.astype(np.float64), 1, 1e-3), F32,
              (1e-5, 1e-5), "axis 1 (over the last two)")
    ctx.check(cg.tensor(b).T.layernorm(-1, 1e-5),
              np_layernorm(np.swapaxes(b, -1, -2).astype(np.float64), -1, 1e-5), F32, (1e-5, 1e-5),
              "transposed view")


case("reduce/layernorm", layernorm_cases)


# ===================================================================== matmul =================
def matmul_tol(k):
    return (1e-5, 1e-6 * k)


MATMULS = [
    # name, a shape (or (base shape, view fn pair)), b shape
    ("1d@1d", (5,), (5,)),
    ("2d@1d", (3, 5), (5,)),
    ("1d@2d", (5,), (5, 4)),
    ("2d@2d", (3, 5), (5, 4)),
    ("3d@3d", (2, 3, 5), (2, 5, 4)),
    ("bcast_batch", (1, 3, 4), (2, 4, 5)),
    ("2d@3d", (3, 4), (2, 4, 5)),
    ("4d@2d", (2, 2, 3, 4), (4, 6)),
    ("1d@3d", (4,), (2, 4, 3)),
]
if FULL:
    MATMULS.append(("large", (64, 128), (128, 48)))


def make_matmul_case(sa, sb):
    def fn(ctx):
        a = ctx.rng.uniform(-1, 1, sa).astype(np.float32)
        b = ctx.rng.uniform(-1, 1, sb).astype(np.float32)
        ctx.check(cg.tensor(a).matmul(cg.tensor(b)), a.astype(np.float64) @ b.astype(np.float64),
                  F32, matmul_tol(sa[-1]))
    return fn


for _name, _sa, _sb in MATMULS:
    case(f"matmul/{_name}", make_matmul_case(_sa, _sb))


def matmul_views(ctx):
    a = ctx.rng.uniform(-1, 1, (5, 3)).astype(np.float32)  # used as a.T: (3,5)
    b = ctx.rng.uniform(-1, 1, (4, 5)).astype(np.float32)  # used as b.T: (5,4)
    want = a.T.astype(np.float64) @ b.T.astype(np.float64)
    ctx.check(cg.tensor(a).T.matmul(cg.tensor(b).T), want, F32, matmul_tol(5), "a.T @ b.T")
    want = a.T.astype(np.float64) @ b[::-1].T.astype(np.float64)
    ctx.check(cg.tensor(a).T.matmul(cg.tensor(b).flip(0).T), want, F32, matmul_tol(5),
              "a.T @ flip(b).T")
    c = ctx.rng.uniform(-1, 1, (10, 6)).astype(np.float32)
    want = c[::2, ::-1].astype(np.float64) @ c[1::2].T.astype(np.float64)
    ctx.check(cg.tensor(c).slice(0, None, None, 2).flip(1).matmul(
        cg.tensor(c).slice(0, 1, None, 2).T), want, F32, matmul_tol(6), "stepped views")
    x = ctx.rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32)
    want = x.astype(np.float64) @ np.swapaxes(x, -1, -2).astype(np.float64)
    ctx.check(cg.tensor(x).matmul(cg.tensor(x).transpose(-1, -2)), want, F32, matmul_tol(4),
              "x @ x^T batched")


def matmul_dtypes(ctx):
    a = ctx.rng.integers(-100, 100, (3, 4)).astype(np.int32)
    b = ctx.rng.integers(-100, 100, (4, 2)).astype(np.int32)
    ctx.check(cg.tensor(a).matmul(cg.tensor(b)), a @ b, I32, EXACT, "int32")
    d = ctx.rng.uniform(-1, 1, (3, 7))
    e = ctx.rng.uniform(-1, 1, (7, 2))
    ctx.check(cg.tensor(d).matmul(cg.tensor(e)), d @ e, F64, (1e-13, 1e-14), "float64")
    h = as_dtype(ctx.rng.uniform(-1, 1, (3, 4)), F16)
    f = ctx.rng.uniform(-1, 1, (4, 2)).astype(np.float32)
    ctx.check(cg.tensor(h).matmul(cg.tensor(f)), h.astype(np.float64) @ f, F32, matmul_tol(4),
              "float16 @ float32 -> float32")
    h2 = as_dtype(ctx.rng.uniform(-1, 1, (4, 3)), F16)
    ctx.check(cg.tensor(h).matmul(cg.tensor(h2)), h.astype(np.float64) @ h2.astype(np.float64),
              F16, (2e-3, 2e-3), "float16 @ float16")


case("matmul/views", matmul_views)
case("matmul/dtypes", matmul_dtypes)


# ===================================================================== movement ===============
# (name, base shape, cgrad chain, numpy chain); data = distinct float32 values
MOVEMENT = [
    ("reshape(-1)", (2, 3, 4), lambda t: t.reshape(4, -1), lambda a: a.reshape(4, -1)),
    ("reshape(-1) first", (2, 3, 4), lambda t: t.reshape(-1, 2, 2), lambda a: a.reshape(-1, 2, 2)),
    ("reshape flat of permuted", (2, 3, 4), lambda t: t.permute(2, 0, 1).reshape(-1),
     lambda a: a.transpose(2, 0, 1).reshape(-1)),
    ("reshape split of transposed", (6, 4), lambda t: t.T.reshape(2, 2, 3, 2),
     lambda a: a.T.reshape(2, 2, 3, 2)),
    ("permute(2,0,1)", (2, 3, 4), lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ("permute twice", (2, 3, 4, 5), lambda t: t.permute(3, 1, 0, 2).permute(2, 0, 3, 1),
     lambda a: a.transpose(3, 1, 0, 2).transpose(2, 0, 3, 1)),
    ("transpose(-1,0)", (2, 3, 4), lambda t: t.transpose(-1, 0), lambda a: np.swapaxes(a, -1, 0)),
    ("expand (3,1)->(2,3,4)", (3, 1), lambda t: t.expand(2, 3, 4),
     lambda a: np.broadcast_to(a, (2, 3, 4))),
    ("expand with -1", (3, 1), lambda t: t.expand(2, -1, 4), lambda a: np.broadcast_to(a, (2, 3, 4))),
    ("expand then permute", (1, 4), lambda t: t.expand(3, 4).T, lambda a: np.broadcast_to(a, (3, 4)).T),
    ("pad value 7.5", (2, 3), lambda t: t.pad(((1, 2), (0, 3)), 7.5),
     lambda a: np.pad(a, ((1, 2), (0, 3)), constant_values=7.5)),
    ("pad zeros 3d", (2, 3, 2), lambda t: t.pad(((0, 0), (2, 1), (1, 1))),
     lambda a: np.pad(a, ((0, 0), (2, 1), (1, 1)))),
    ("pad -inf", (3, 3), lambda t: t.pad(((1, 1), (1, 1)), -np.inf),
     lambda a: np.pad(a, ((1, 1), (1, 1)), constant_values=-np.inf)),
    ("pad of transposed", (2, 5), lambda t: t.T.pad(((1, 0), (0, 2)), -1.0),
     lambda a: np.pad(a.T, ((1, 0), (0, 2)), constant_values=-1)),
    ("shrink", (4, 5), lambda t: t.shrink(((1, 3), (0, 5))), lambda a: a[1:3, 0:5]),
    ("shrink 3d", (4, 5, 6), lambda t: t.shrink(((0, 4), (2, 3), (1, 5))), lambda a: a[:, 2:3, 1:5]),
    ("flip(0)", (3, 4), lambda t: t.flip(0), lambda a: a[::-1]),
    ("flip(-1)", (2, 3, 4), lambda t: t.flip(-1), lambda a: a[..., ::-1]),
    ("flip(0,2)", (2, 3, 4), lambda t: t.flip((0, 2)), lambda a: a[::-1, :, ::-1]),
    ("flip(all)", (2, 3, 4), lambda t: t.flip(ALL), lambda a: a[::-1, ::-1, ::-1]),
    ("flip twice", (3, 4), lambda t: t.flip(1).flip(1), lambda a: a),
    ("chain x.T[::2] + 1", (5, 6), lambda t: t.T.slice(0, None, None, 2) + 1.0,
     lambda a: a.T[::2] + np.float32(1)),
    ("chain flip(permute)[1:, ::-2] * 2", (3, 4, 5),
     lambda t: t.permute(2, 0, 1).flip(1).slice(0, 1).slice(2, None, None, -2) * 2.0,
     lambda a: a.transpose(2, 0, 1)[:, ::-1][1:, :, ::-2] * np.float32(2)),
    ("chain pad(flip) shrink sum", (4, 5),
     lambda t: t.flip(0).pad(((2, 2), (1, 0)), 3.0).shrink(((1, 7), (0, 6))).sum(0),
     lambda a: np.pad(a[::-1], ((2, 2), (1, 0)), constant_values=3)[1:7, 0:6].sum(0)),
    ("chain expand permute reshape", (3, 1, 4),
     lambda t: t.expand(3, 2, 4).permute(2, 1, 0).contiguous().reshape(8, 3),
     lambda a: np.broadcast_to(a, (3, 2, 4)).transpose(2, 1, 0).reshape(8, 3)),
    ("chain stepped slice reshape", (8, 3), lambda t: t.slice(0, None, None, 2).reshape(-1),
     lambda a: a[::2].reshape(-1)),
    ("chain pad then step", (7, 2), lambda t: t.pad(((2, 0), (0, 0)), 9.0).slice(0, None, None, 3),
     lambda a: np.pad(a, ((2, 0), (0, 0)), constant_values=9)[::3]),
    ("chain x - mean(x.T)", (4, 6), lambda t: t - t.T.mean(1),
     lambda a: a - a.T.astype(np.float64).mean(1)),
    ("chain slice of slice", (9, 4), lambda t: t.slice(0, 1, -1, 2).slice(0, None, None, -1).slice(1, -3),
     lambda a: a[1:-1:2][::-1][:, -3:]),
    ("chain reshape of expanded", (1, 3), lambda t: t.expand(4, 3).reshape(2, 6),
     lambda a: np.broadcast_to(a, (4, 3)).reshape(2, 6)),
]


def make_movement_case(base_shape, cg_fn, np_fn):
    def fn(ctx):
        a = ctx.rng.permutation(int(np.prod(base_shape))).astype(np.float32).reshape(base_shape)
        want = np_fn(a)
        tol = EXACT if want.dtype == np.float32 else (1e-6, 1e-5)
        ctx.check(cg_fn(cg.tensor(a)), want, F32, tol)
    return fn


for _name, _shape, _cgf, _npf in MOVEMENT:
    case(f"movement/{_name}", make_movement_case(_shape, _cgf, _npf))

# Python slices a[start:stop:step] on axis 1 of a (2, 7, 3) tensor (None = open end)
SLICES = [(None, None, 2), (1, None, 2), (None, None, -1), (None, None, -2), (5, 1, -1),
          (5, 1, -2), (-2, None, -3), (-1, -8, -1), (2, -2, 3), (-100, 100, 1), (100, -100, -1),
          (6, None, -4), (None, 3, -1), (3, 3, 1), (1, 7, 10), (-3, None, None), (4, 1, 1),
          (None, -100, -1), (0, None, 7)]


def make_slice_case(s, axis):
    start, stop, step = s

    def fn(ctx):
        a = np.arange(42, dtype=np.int32).reshape(2, 7, 3)
        want = a[:, start:stop:step]
        t = cg.tensor(a).slice(axis, start, stop, 1 if step is None else step)
        ctx.check(t, want, I32, EXACT, f"a[:, {start}:{stop}:{step}] (axis {axis})")
    return fn


for _i, _s in enumerate(SLICES):
    case(f"movement/slice[{_s[0]}:{_s[1]}:{_s[2]}]", make_slice_case(_s, 1 if _i % 2 else -2))

CAT_SHAPES = {0: [(2, 3, 4), (1, 3, 4), (3, 3, 4)], 1: [(2, 3, 4), (2, 1, 4), (2, 2, 4)],
              2: [(2, 3, 4), (2, 3, 1), (2, 3, 2)], -1: [(2, 3, 1), (2, 3, 4)],
              -3: [(1, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2)]}


def make_cat_case(axis, shapes):
    def fn(ctx):
        pieces = [values(ctx.rng, F32, s) for s in shapes]
        ctx.check(cg.cat([cg.tensor(p) for p in pieces], axis), np.concatenate(pieces, axis), F32)
    return fn


for _axis, _shapes in CAT_SHAPES.items():
    case(f"movement/cat[axis={_axis}]", make_cat_case(_axis, _shapes))


def cat_special(ctx):
    a, b = values(ctx.rng, F32, (3, 2)), values(ctx.rng, F32, (2, 3))
    ctx.check(cg.cat([cg.tensor(a).T, cg.tensor(b).flip(1)], 0), np.concatenate([a.T, b[:, ::-1]], 0),
              F32, EXACT, "views")
    i = values(ctx.rng, I32, (2, 2))
    ctx.check(cg.cat([cg.tensor(i), cg.tensor(a[:2])], 1),
              np.concatenate([i.astype(np.float32), a[:2]], 1), F32, EXACT, "int32 + float32 promotes")
    bl = ctx.rng.random((2, 3)) < 0.5
    ctx.check(cg.cat([cg.tensor(bl), cg.tensor(~bl)], -1), np.concatenate([bl, ~bl], -1), BOOL,
              EXACT, "bool")
    s = np.array([np.inf, -np.inf, np.nan, -0.0], dtype=np.float32)
    ctx.check(cg.cat([cg.tensor(s), cg.tensor(s[::-1].copy())], 0), np.concatenate([s, s[::-1]]),
              F32, EXACT, "inf/nan pieces")
    u = np.array([2**64 - 1, 2**63 + 1], dtype=np.uint64)
    ctx.check(cg.cat([cg.tensor(u), cg.tensor(u[::-1].copy())], 0), np.concatenate([u, u[::-1]]),
              U64, EXACT, "uint64 big values")


case("movement/cat_special", cat_special)


def make_stack_case(axis):
    def fn(ctx):
        pieces = [values(ctx.rng, F32, (2, 3)) for _ in range(3)]
        ts = [cg.tensor(pieces[0]), cg.tensor(pieces[1]).flip(0), cg.tensor(pieces[2].T.copy()).T]
        want = np.stack([pieces[0], pieces[1][::-1], pieces[2]], axis)
        ctx.check(cg.stack(ts, axis), want, F32)
    return fn


for _axis in (0, 1, 2, -1):
    case(f"movement/stack[axis={_axis}]", make_stack_case(_axis))


def make_views_dtype_case(dt):
    # the same chain of views over every dtype: loads/stores of each element size, pads with 1
    def fn(ctx):
        a = values(ctx.rng, dt, (3, 5), "full")
        t = cg.tensor(a, dt).permute(1, 0).flip(0).pad(((1, 0), (0, 2)), 1.0).slice(1, None, None, -2)
        want = np.pad(a.T[::-1], ((1, 0), (0, 2)), constant_values=1)[:, ::-2]
        ctx.check(t, want, dt, EXACT, "permute/flip/pad/slice")
        c = cg.cat([cg.tensor(a, dt).T, cg.tensor(a, dt).slice(1, None, None, 2).T], 0)
        ctx.check(c, np.concatenate([a.T, a[:, ::2].T], 0), dt, EXACT, "cat of views")
        ctx.check(cg.tensor(a, dt).reshape(5, 3).expand(2, 5, 3).contiguous(),
                  np.broadcast_to(a.reshape(5, 3), (2, 5, 3)), dt, EXACT, "reshape/expand/contiguous")
    return fn


for _dt in ALL_DTYPES:
    case(f"movement/views[{dn(_dt)}]", make_views_dtype_case(_dt))


# ===================================================================== creation ===============
ARANGES = [(0, 10, 1, F32), (10, 0, -1.5, F32), (0.5, 3.2, 0.3, F64), (-5, 5, 2, I32),
           (5, -5, -3, I64), (0, 250, 7, U8), (-3.5, 3, 0.5, F16), (1, 2, 0.125, BF16),
           (0, 0, 1, F32), (3, 0, 1, I32), (-7, 7, 1, I8), (100, 0, -10, U16)]


def arange_cases(ctx):
    for start, stop, step, dt in ARANGES:
        n = max(0, math.ceil((stop - start) / step))
        want = start + np.arange(n, dtype=np.float64) * step  # value i is start + i*step
        tol = EXACT if not is_float(dt) else {F16: (1e-3, 0), BF16: (8e-3, 0), F32: (1.2e-7, 1e-7),
                                              F64: (2.3e-16, 1e-16)}[dt]
        ctx.check(cg.arange(start, stop, step, dt), want, dt, tol, f"arange({start}, {stop}, {step}, {dn(dt)})")


def eye_cases(ctx):
    for n, dt in ((0, F32), (1, I32), (4, F32), (3, BOOL), (5, U8), (2, BF16)):
        ctx.check(cg.eye(n, dt), np.eye(n), dt, EXACT, f"eye({n}, {dn(dt)})")


FULL_VALUES = {BOOL: 1, I8: -3, U8: 200, I16: -30000, U16: 65000, I32: -2**31, U32: 2**32 - 1,
               I64: -(2**62 + 2**10), U64: 1.5 * 2**63, F16: 2.5, BF16: -0.375, F32: 1e-3, F64: 1 / 3}


def make_full_case(dt):
    def fn(ctx):
        v = FULL_VALUES[dt]
        vv = np.array(int(v) if not is_float(dt) else v)
        ctx.check(cg.full((2, 3), v, dt), np.full((2, 3), as_dtype(vv, dt)), dt, EXACT, "full")
        ctx.check(cg.zeros((3, 1, 2), dt), np.zeros((3, 1, 2)), dt, EXACT, "zeros")
        ctx.check(cg.ones((4,), dt), np.ones(4), dt, EXACT, "ones")
        ctx.check(cg.scalar(v, dt), as_dtype(vv, dt), dt, EXACT, "scalar (0-d)")
        like = cg.tensor(values(ctx.rng, dt, (2, 2)), dt).T
        ctx.check(like.full_like(0), np.zeros((2, 2)), dt, EXACT, "full_like")
        ctx.check(cg.full((2, 2), v, dt).maximum(cg.zeros((2,), dt)),
                  np.maximum(np.full((2, 2), as_dtype(vv, dt)), 0).astype(cg.NP[dt]), dt, EXACT,
                  "full used in an op")
    return fn


case("creation/arange", arange_cases)
case("creation/eye", eye_cases)
for _dt in ALL_DTYPES:
    case(f"creation/full[{dn(_dt)}]", make_full_case(_dt))


def rand_stats(ctx):
    n = 100_000 if ctx.device == "CPU" else 4096
    if FULL:
        n *= 10
    cg.manual_seed(42)
    x = cg.rand((n,)).numpy()
    sd = math.sqrt(1 / 12 / n)  # standard error of the mean
    ctx.expect(x.dtype == np.float32 and x.shape == (n,), f"rand: {x.dtype} {x.shape}")
    ctx.expect(x.min() >= 0 and x.max() < 1, f"rand outside [0,1): min {x.min()} max {x.max()}")
    ctx.expect(abs(x.mean() - 0.5) < 6 * sd, f"rand mean {x.mean()} (n={n})")
    ctx.expect(abs(x.var() - 1 / 12) < 0.1 / 12 + 6 / math.sqrt(n) * 0.075,
               f"rand var {x.var()}, expected 1/12")
    hist = np.histogram(x, bins=10, range=(0, 1))[0] / n
    ctx.expect(np.all(np.abs(hist - 0.1) < 6 * math.sqrt(0.09 / n)), f"rand histogram {hist}")
    ctx.expect(len(np.unique(x)) > 0.9 * n if n <= 100_000 else True, "rand repeats many values")
    # successive draws differ, reseeding repeats
    y = cg.rand((n,)).numpy()
    ctx.expect(not np.array_equal(x, y), "two rand() calls gave the same values")
    cg.manual_seed(42)
    ctx.expect(np.array_equal(cg.rand((n,)).numpy(), x), "manual_seed(42) did not reproduce rand")
    cg.manual_seed(7)
    z = cg.randn((n,)).numpy()
    ctx.expect(np.isfinite(z).all(), "randn has non-finite values")
    ctx.expect(abs(z.mean()) < 6 / math.sqrt(n), f"randn mean {z.mean()} (n={n})")
    ctx.expect(abs(z.std() - 1) < 6 / math.sqrt(2 * n), f"randn std {z.std()} (n={n})")
    ctx.expect(abs(np.mean(np.abs(z) < 1) - 0.6827) < 6 * math.sqrt(0.22 / n),
               f"randn P(|z|<1) = {np.mean(np.abs(z) < 1)}")


def rand_shapes_dtypes(ctx):
    cg.manual_seed(3)
    for dt in (F16, BF16, F64):
        t = cg.rand((3, 5), dt)
        x = t.numpy()
        ctx.expect(t.dtype == dt and x.shape == (3, 5), f"rand {dn(dt)}: {dn(t.dtype)} {x.shape}")
        ctx.expect(x.min() >= 0 and x.max() <= 1, f"rand {dn(dt)} out of range: {x}")
        # (rounding to a narrower float may round 1-2^-24 up to 1.0; values < 1 before the cast)
    e = cg.rand((3, 0))
    ctx.expect(e.shape == (3, 0) and e.numpy().shape == (3, 0), f"rand((3,0)) shape {e.shape}")
    s = cg.rand(())
    ctx.expect(s.shape == () and 0 <= s.numpy() < 1, f"rand(()) = {s.numpy()} shape {s.shape}")
    r = cg.randn((2, 3, 4))
    ctx.expect(r.shape == (2, 3, 4) and np.isfinite(r.numpy()).all(), "randn 3-d")
    try:
        cg.rand((2,), I32)
        ctx.expect(False, "rand with an int dtype did not fail")
    except cg.CgError:
        pass


def rand_same_on_devices(ctx):
    out = {}
    for dev in DEVICES:
        cg.set_device(dev)
        cg.manual_seed(1234)
        u = cg.rand((64, 64)).numpy()
        n = cg.randn((33, 7)).numpy()
        out[dev] = (u, n)
    (u0, n0), (u1, n1) = out["CPU"], out["INTERP"]
    msg = compare(u1, u0, EXACT)
    ctx.expect(msg is None, f"rand INTERP vs CPU: {msg}")
    msg = compare(n1, n0, (1e-6, 1e-6))
    ctx.expect(msg is None, f"randn INTERP vs CPU: {msg}")


case("creation/rand_stats", rand_stats)
case("creation/rand_shapes_dtypes", rand_shapes_dtypes)
case("creation/rand_same_seed_cpu_interp", rand_same_on_devices, (BOTH,))


# ===================================================================== empty and 0-d ==========
def empty_elementwise(ctx):
    a = np.zeros((0, 3), dtype=np.float32)
    t = cg.tensor(a)
    ctx.check(t.add(t), a + a, F32, EXACT, "(0,3)+(0,3)")
    r = values(ctx.rng, F32, (3,))
    ctx.check(t.add(cg.tensor(r)), a + r, F32, EXACT, "(0,3)+(3,) broadcast")
    ctx.check(cg.tensor(np.zeros((3, 0), np.int32)).mul(cg.tensor(np.int32(5))), np.zeros((3, 0)),
              I32, EXACT, "(3,0)*0-d")
    ctx.check(cg.tensor(np.zeros((1, 0), np.float32)).add(cg.tensor(np.ones((4, 1), np.float32))),
              np.zeros((4, 0)), F32, EXACT, "(1,0)+(4,1) -> (4,0)")
    ctx.check(t.exp(), np.exp(a), F32, EXACT, "exp")
    ctx.check(t.cast(I8), a.astype(np.int8), I8, EXACT, "cast")
    ctx.check(t.lt(t), a < a, BOOL, EXACT, "lt")
    ctx.check(cg.tensor(a < 1).where(t, t), a, F32, EXACT, "where")


def empty_reduce(ctx):
    a = np.zeros((0, 3), dtype=np.float32)
    t = cg.tensor(a)
    ctx.check(t.sum(0), a.sum(0), F32, EXACT, "sum axis 0 of (0,3)")
    ctx.check(t.sum(1), a.sum(1), F32, EXACT, "sum axis 1 of (0,3)")
    ctx.check(t.sum(ALL), a.sum(), F32, EXACT, "sum all")
    ctx.check(t.sum(ALL, True), a.sum(keepdims=True), F32, EXACT, "sum all keepdim")
    ctx.check(t.prod(0), a.prod(0), F32, EXACT, "prod axis 0")
    ctx.check(t.mean(0), np.full(3, np.nan), F32, EXACT, "mean axis 0 is nan")
    ctx.check(t.max(1), np.zeros((0,)), F32, EXACT, "max over the non-empty axis")
    ctx.check(cg.tensor(np.zeros((0, 4), np.int8)).sum(0), np.zeros(4), I32, EXACT, "int8 sum -> int32")
    ctx.check(cg.tensor(np.zeros((2, 0, 3), bool)).sum((0, 1)), np.zeros(3), I32, EXACT, "bool sum")


def empty_movement(ctx):
    a = np.zeros((0, 3), dtype=np.float32)
    t = cg.tensor(a)
    ctx.check(t.reshape(3, 0), a.reshape(3, 0), F32, EXACT, "reshape")
    ctx.check(t.permute(1, 0), a.T, F32, EXACT, "permute")
    ctx.check(t.pad(((1, 1), (0, 0)), 5.0), np.pad(a, ((1, 1), (0, 0)), constant_values=5), F32,
              EXACT, "pad empty")
    b = values(ctx.rng, F32, (4, 5))
    ctx.check(cg.tensor(b).shrink(((2, 2), (0, 5))), b[2:2], F32, EXACT, "shrink to empty")
    ctx.check(cg.tensor(b).slice(0, 3, 1), b[3:1], F32, EXACT, "slice to empty")
    c = values(ctx.rng, F32, (2, 3))
    ctx.check(cg.cat([t, cg.tensor(c)], 0), np.concatenate([a, c], 0), F32, EXACT, "cat with empty")
    ctx.check(cg.tensor(np.zeros((0, 1), np.float32)).expand(0, 4), np.zeros((0, 4)), F32, EXACT,
              "expand")
    ctx.check(t.flip(0), a, F32, EXACT, "flip")
    ctx.check(cg.tensor(np.zeros((2, 0, 3), np.int64)), np.zeros((2, 0, 3)), I64, EXACT, "from_data")


def empty_matmul_creation(ctx):
    a, b = np.zeros((2, 0), np.float32), np.zeros((0, 3), np.float32)
    ctx.check(cg.tensor(a).matmul(cg.tensor(b)), np.zeros((2, 3)), F32, EXACT, "(2,0)@(0,3) = zeros")
    c = values(ctx.rng, F32, (4, 3))
    ctx.check(cg.tensor(np.zeros((0, 4), np.float32)).matmul(cg.tensor(c)), np.zeros((0, 3)), F32,
              EXACT, "(0,4)@(4,3)")
    ctx.check(cg.arange(0, 0, 1, F32), np.zeros(0), F32, EXACT, "arange empty")
    ctx.check(cg.eye(0, I32), np.zeros((0, 0)), I32, EXACT, "eye(0)")
    ctx.check(cg.full((0, 2), 3.0, F32), np.zeros((0, 2)), F32, EXACT, "full")


def zero_d_elementwise(ctx):
    s = np.float32(2.5)
    t = cg.tensor(s)
    ctx.expect(t.shape == (), f"0-d from_data has shape {t.shape}")
    ctx.check(t.add(t), np.float32(5), F32, EXACT, "0d+0d")
    x = values(ctx.rng, F32, (2, 3))
    ctx.check(t.mul(cg.tensor(x)), s * x, F32, EXACT, "0d*(2,3)")
    ctx.check(cg.tensor(x).T.sub(t), x.T - s, F32, EXACT, "(3,2)view-0d")
    ctx.check(t.exp(), np.exp(np.float64(s)), F32, (2e-6, 0), "exp")
    ctx.check(t.cast(I32), np.int32(2), I32, EXACT, "cast")
    ctx.check(t.lt(cg.scalar(3, F32)), np.bool_(True), BOOL, EXACT, "lt")
    ctx.check(cg.scalar(1, BOOL).where(cg.tensor(x), t), x, F32, EXACT, "0d cond where")
    big = np.int64(2**62 + 1)
    ctx.check(cg.tensor(big).add(cg.scalar(1, I64)), big + 1, I64, EXACT, "int64 0d")
    ctx.expect(cg.scalar(3, I8).dtype == I8, "scalar dtype")
    item = cg.tensor(np.float64(-1.25)).item()
    ctx.expect(item == -1.25, f"cg_item = {item}")


def zero_d_reduce_movement(ctx):
    s = np.float32(-4.0)
    t = cg.tensor(s)
    ctx.check(t.sum(ALL), s, F32, EXACT, "sum all")
    ctx.check(t.sum(ALL, True), s, F32, EXACT, "sum all keepdim")
    ctx.check(t.max(ALL), s, F32, EXACT, "max")
    ctx.check(t.mean(ALL), s, F32, EXACT, "mean")
    ctx.check(t.argmax(0), np.int32(0), I32, EXACT, "argmax")
    ctx.check(t.reshape(1, 1, 1), s.reshape(1, 1, 1), F32, EXACT, "reshape up")
    ctx.check(t.reshape(1, 1).reshape(), s, F32, EXACT, "reshape back to 0-d")
    ctx.check(t.expand(2, 3), np.full((2, 3), s), F32, EXACT, "expand")
    ctx.check(t.permute(), s, F32, EXACT, "permute ()")
    ctx.check(t.flip(ALL), s, F32, EXACT, "flip all")
    v = values(ctx.rng, F32, (5,))
    ctx.check(cg.tensor(v).matmul(cg.tensor(v)), np.dot(v.astype(np.float64), v), F32,
              matmul_tol(5), "1d@1d is 0-d")
    ctx.check(cg.tensor(v).sum(0), v.astype(np.float64).sum(), F32, (1e-6, 1e-6), "1-d sum to 0-d")
    ctx.check(cg.stack([t, t.neg()], 0), np.array([s, -s]), F32, EXACT, "stack 0-d")


case("empty/elementwise", empty_elementwise)
case("empty/reduce", empty_reduce)
case("empty/movement", empty_movement)
case("empty/matmul_creation", empty_matmul_creation)
case("zero_d/elementwise", zero_d_elementwise)
case("zero_d/reduce_movement", zero_d_reduce_movement)


def errors_are_reported(ctx):
    # invalid calls return NULL with a message instead of crashing
    a = cg.tensor(np.zeros((2, 3), np.float32))
    bad = [("broadcast (2,3)+(4,)", lambda: a.add(cg.tensor(np.zeros(4, np.float32)))),
           ("reshape to 7", lambda: a.reshape(7)),
           ("matmul (2,3)@(2,3)", lambda: a.matmul(a)),
           ("axis 5", lambda: a.sum(5)),
           ("shift float", lambda: a.shl(a)),
           ("bitcast f32->i16", lambda: a.bitcast(I16)),
           ("slice step 0", lambda: a.slice(0, None, None, 0)),
           ("shrink out of range", lambda: a.shrink(((0, 3), (0, 3))))]
    for what, f in bad:
        try:
            f()
            ctx.expect(False, f"{what}: no error")
        except cg.CgError as e:
            ctx.expect(len(str(e)) > 30, f"{what}: empty message")


case("api/errors", errors_are_reported)


def realized_reuse(ctx):
    # tensors that were realized feed later graphs, alone and mixed with lazy ones
    a, b = values(ctx.rng, F32, (4, 6)), values(ctx.rng, F32, (4, 6))
    x = cg.tensor(a).add(cg.tensor(b))
    ctx.check(x, a + b, F32, EXACT, "x = a + b")
    y = x.mul_s(2)
    ctx.check(y, (a + b) * np.float32(2), F32, EXACT, "y = 2x (x realized)")
    z = x.T.add(y.T).sub(cg.tensor(a).T)
    ctx.check(z, ((a + b) + (a + b) * np.float32(2)).T - a.T, F32, EXACT, "views of realized x, y")
    s = x.sum(1)
    ctx.check(s, (a + b).astype(np.float64).sum(1), F32, (1e-6, 1e-5), "sum of realized")
    ctx.check(x.sub(s.reshape(4, 1)), (a + b) - (a + b).astype(np.float64).sum(1, keepdims=True),
              F32, (1e-6, 1e-5), "x - realized sum")
    c = cg.tensor(a).contiguous()
    ctx.check(c.flip(0).add(c), a[::-1] + a, F32, EXACT, "contiguous then flip")
    # the same lazy tensor realized twice, and a realized constant reused
    w = cg.tensor(a).mul(cg.tensor(b))
    ctx.check(w, a * b, F32, EXACT, "w first time")
    ctx.check(w, a * b, F32, EXACT, "w second time")


def to_device(ctx):
    other = "INTERP" if ctx.device == "CPU" else "CPU"
    a = values(ctx.rng, F32, (3, 5))
    t = cg.tensor(a).T.to(other)
    ctx.expect(t.device == other, f"cg_to gave device {t.device}, expected {other}")
    ctx.check(t, a.T, F32, EXACT, f"copy to {other}")
    ctx.check(t.exp().to(ctx.device).add_s(1), np.exp(a.T.astype(np.float64)) + 1, F32, (2e-6, 0),
              "compute there, copy back")
    i = values(ctx.rng, I64, (4,), "full")
    ctx.check(cg.tensor(i).to(other), i, I64, EXACT, "int64 copy")


case("api/realized_reuse", realized_reuse)
case("api/to_device", to_device)


# Larger tensors with odd sizes (remainder loops, several threads on CPU); small on INTERP.
def sized(ctx, cpu_shape, interp_shape):
    return cpu_shape if ctx.device == "CPU" else interp_shape


def scale_elementwise(ctx):
    shape = sized(ctx, (257, 129), (17, 33))
    a, b = values(ctx.rng, F32, shape), values(ctx.rng, F32, shape)
    t = cg.tensor(a).mul(cg.tensor(b)).add(cg.tensor(a).T.T).sub_s(1.5)
    ctx.check(t, a * b + a - np.float32(1.5), F32, EXACT, "a*b + a - 1.5")
    bt = cg.tensor(np.ascontiguousarray(b.T)).T
    ctx.check(cg.tensor(a).maximum(bt).exp(), np.exp(np.maximum(a, b).astype(np.float64)), F32,
              (2e-6, 0), "exp(max(a, transposed view))")
    i = values(ctx.rng, I32, shape, "full")
    ctx.check(cg.tensor(i).xor(cg.tensor(i).shr(cg.tensor(np.int32(3)))),
              i ^ (i >> np.int32(3)), I32, EXACT, "int32 xor/shr")


def scale_reduce(ctx):
    shape = sized(ctx, (301, 517), (31, 53))
    a = values(ctx.rng, F32, shape)
    scale = float(np.abs(a).sum())
    for ax in (0, 1, -1, ALL):
        ctx.check(cg.tensor(a).sum(ax), a.astype(np.float64).sum(axis=np_axis(ax)), F32,
                  (1e-5, 2e-7 * scale), f"sum axis {ax if ax is not ALL else 'all'}")
    ctx.check(cg.tensor(a).max(0), a.max(0), F32, EXACT, "max axis 0")
    ctx.check(cg.tensor(a).T.min(1), a.T.min(1), F32, EXACT, "min of transposed axis 1")
    ctx.check(cg.tensor(a).argmax(1), np.argmax(a, 1), I32, EXACT, "argmax axis 1")
    ctx.check(cg.tensor(a).softmax(-1), np_softmax(a.astype(np.float64), -1), F32, (1e-5, 1e-7),
              "softmax")
    ctx.check(cg.tensor(a).var(0), a.astype(np.float64).var(0, ddof=1), F32, (1e-5, 1e-6), "var")
    i = values(ctx.rng, I64, shape, "mulsafe")
    ctx.check(cg.tensor(i).sum(0), i.sum(0), I64, EXACT, "int64 sum")


def scale_matmul(ctx):
    m, k, n = sized(ctx, (65, 129, 33), (9, 17, 5))
    a = values(ctx.rng, F32, (m, k)) / np.float32(10)
    b = values(ctx.rng, F32, (k, n)) / np.float32(10)
    ctx.check(cg.tensor(a).matmul(cg.tensor(b)), a.astype(np.float64) @ b, F32, (1e-5, 1e-6 * k))
    ctx.check(cg.tensor(np.ascontiguousarray(b.T)).T.T.matmul(cg.tensor(a).T),
              b.T.astype(np.float64) @ a.T, F32, (1e-5, 1e-6 * k), "transposed operands")


case("scale/elementwise", scale_elementwise)
case("scale/reduce", scale_reduce)
case("scale/matmul", scale_matmul)


# ===================================================================== CPU vs INTERP ==========
# Random composite graphs built from the same instruction list on both devices.
# (name, arity, cgrad fn, numpy fn). EXACT_OPS keep float32 results bit-exact everywhere.
def _shift_cg(t): return t.pad(((1, 0), (0, 0))).shrink(((0, 4), (0, 5)))
def _shift_np(a): return np.pad(a, ((1, 0), (0, 0)))[:4]


EXACT_OPS = [
    ("add", 2, lambda a, b: a.add(b), np.add),
    ("sub", 2, lambda a, b: a.sub(b), np.subtract),
    ("mul", 2, lambda a, b: a.mul(b), np.multiply),
    ("neg", 1, lambda a: a.neg(), np.negative),
    ("half", 1, lambda a: a.mul_s(0.5), lambda a: a * 0.5),
    ("flip0", 1, lambda a: a.flip(0), lambda a: a[::-1]),
    ("flip1", 1, lambda a: a.flip(1), lambda a: a[:, ::-1]),
    ("shift", 1, _shift_cg, _shift_np),
    ("maximum", 2, lambda a, b: a.maximum(b), np.maximum),
    ("where_lt", 3, lambda a, b, c: a.lt(b).where(a, c), lambda a, b, c: np.where(a < b, a, c)),
    ("T_contig_T", 1, lambda a: a.T.contiguous().T, lambda a: a),
    ("roll_cat", 1, lambda a: cg.cat([a.slice(1, 2), a.slice(1, None, 2)], 1),
     lambda a: np.concatenate([a[:, 2:], a[:, :2]], 1)),
]
FLOAT_OPS = EXACT_OPS + [
    ("exp", 1, lambda a: a.mul_s(0.1).exp(), lambda a: np.exp(a * 0.1)),
    ("sin", 1, lambda a: a.sin(), np.sin),
    ("sqrt_abs", 1, lambda a: a.abs().sqrt(), lambda a: np.sqrt(np.abs(a))),
    ("log_abs1", 1, lambda a: a.abs().add_s(1).log(), lambda a: np.log(np.abs(a) + 1)),
    ("tanh", 1, lambda a: a.tanh(), np.tanh),
    ("sigmoid", 1, lambda a: a.sigmoid(), sigmoid_ref),
    ("div", 2, lambda a, b: a.div(b.abs().add_s(1)), lambda a, b: a / (np.abs(b) + 1)),
    ("center", 1, lambda a: a.sub(a.mean(1, True)), lambda a: a - a.mean(1, keepdims=True)),
    ("sub_max", 1, lambda a: a.sub(a.max(0, True)), lambda a: a - a.max(0, keepdims=True)),
    ("matmul", 1, lambda a: a.matmul(a.T.matmul(a).mul_s(0.1)), lambda a: a @ (a.T @ a * 0.1)),
    ("softmax", 1, lambda a: a.softmax(1), lambda a: np_softmax(a, 1)),
]


def random_program(rng, ops, n_ops):
    prog = []
    n_nodes = 3
    for _ in range(n_ops):
        k = int(rng.integers(len(ops)))
        arity = ops[k][1]
        # prefer recent nodes so the graph is deep, but reuse old ones too (fan-out)
        args = [max(0, n_nodes - int(rng.geometric(0.5))) if rng.random() < 0.7
                else int(rng.integers(n_nodes)) for _ in range(arity)]
        prog.append((k, args))
        n_nodes += 1
    return prog


def run_program(prog, ops, leaves, on_numpy):
    """Evaluate prog on NumPy arrays (on_numpy) or on cgrad tensors of the default device."""
    nodes = list(leaves) if on_numpy else [cg.tensor(x) for x in leaves]
    used = set()
    for k, args in prog:
        fn = ops[k][3] if on_numpy else ops[k][2]
        nodes.append(fn(*[nodes[i] for i in args]))
        used.update(args)
    # the output adds up every result nothing else used, so that every op counts
    sinks = [nodes[i] for i in range(len(leaves), len(nodes)) if i not in used]
    out = sinks[0]
    for x in sinks[1:]:
        out = out + x if on_numpy else out.add(x)
    return out


def make_graph_case(seed, exact):
    ops = EXACT_OPS if exact else FLOAT_OPS

    def fn(ctx):
        rng = np.random.default_rng(seed)
        prog = random_program(rng, ops, 10 if not FULL else 25)
        leaves = [rng.uniform(-2, 2, (4, 5)).astype(np.float32) for _ in range(3)]
        desc = " ".join(f"{ops[k][0]}{tuple(a)}" for k, a in prog)
        got = {}
        for dev in DEVICES:
            cg.set_device(dev)
            got[dev] = run_program(prog, ops, leaves, False).numpy()
        if exact:  # float32 NumPy gives the same bits
            want = run_program(prog, ops, leaves, True)
            for dev in DEVICES:
                msg = compare(got[dev], want.astype(np.float32), EXACT)
                ctx.expect(msg is None, f"{dev} vs NumPy float32 [{desc}]: {msg}")
            msg = compare(got["INTERP"], got["CPU"], EXACT)
        else:
            want = run_program(prog, ops, [x.astype(np.float64) for x in leaves], True)
            scale = 1 + float(np.nanmax(np.abs(want)))
            for dev in DEVICES:
                msg = compare(got[dev], want, (1e-4, 1e-4 * scale))
                ctx.expect(msg is None, f"{dev} vs NumPy float64 [{desc}]: {msg}")
            msg = compare(got["INTERP"], got["CPU"], (1e-6, 1e-6 * scale))
        ctx.expect(msg is None, f"INTERP vs CPU [{desc}]: {msg}")
    return fn


for _seed in range(6 if not FULL else 20):
    case(f"graph/exact[seed={_seed}]", make_graph_case(_seed, True), (BOTH,))
    case(f"graph/float[seed={_seed}]", make_graph_case(100 + _seed, False), (BOTH,))


# ===================================================================== main ===================
# A crash (e.g. a segfault in the library) must not hide the remaining cases: the cases run in a
# worker process; when it dies, the running case is reported as crashed and a new worker goes on
# from the next one.
def selected_runs(pattern):
    devices = [d for d in DEVICES if cg.device_available(d)]
    return [(name, fn, dev) for name, fn, devs in CASES if pattern in name
            for dev in devs if dev == BOTH or dev in devices]


def is_known(name, dev):
    return (name, dev) in KNOWN_BUGS or (name, None) in KNOWN_BUGS


def worker(pattern, start, verbose):
    """Run cases from index `start`, reporting to the supervisor through @@ lines."""
    runs = selected_runs(pattern)
    for i in range(start, len(runs)):
        name, fn, dev = runs[i]
        print(f"@@BEGIN {i}", flush=True)
        t1 = time.time()
        ctx = run_case(name, fn, dev)
        tag = ("XFAIL" if is_known(name, dev) else "FAIL") if ctx.errors else "ok"
        for e in ctx.errors:
            print(f"{tag} [{dev}] {name}: {e}", flush=True)
        if verbose:
            print(f"{tag:5} [{dev}] {name} ({time.time() - t1:.2f}s)", flush=True)
        print(f"@@END {i} {tag} {ctx.checks}", flush=True)
    return 0


def supervise(args):
    import subprocess
    runs = selected_runs(args.k)
    t0 = time.time()
    status = {}  # run index -> ok/FAIL/XFAIL/CRASH
    checks = 0
    start = 0
    while start < len(runs):
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(start), "-k", args.k]
        if args.v:
            cmd.append("-v")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        current = None
        for line in proc.stdout:
            if line.startswith("@@BEGIN "):
                current = int(line.split()[1])
            elif line.startswith("@@END "):
                _, i, tag, n = line.split()
                status[int(i)] = tag
                checks += int(n)
                current = None
            else:
                print(line, end="", flush=True)
        rc = proc.wait()
        if current is None:
            if rc != 0:
                print(f"FAIL worker exited with status {rc} outside a case", flush=True)
                status[-1] = "FAIL"
            break
        name, _, dev = runs[current]
        tag = "XFAIL" if is_known(name, dev) else "FAIL"
        print(f"{tag} [{dev}] {name}: crashed ({'signal ' + str(-rc) if rc < 0 else 'exit ' + str(rc)})",
              flush=True)
        status[current] = tag
        start = current + 1
    failed = sum(v == "FAIL" for v in status.values())
    xfailed = sum(v == "XFAIL" for v in status.values())
    hit = {(runs[i][0], d) for i, v in status.items() if v == "XFAIL" and i >= 0
           for d in (runs[i][2], None) if (runs[i][0], d) in KNOWN_BUGS}
    if hit:
        print("known bugs (expected failures, listed in KNOWN_BUGS):")
        for key in sorted(hit, key=str):
            print(f"  {key[0]} [{key[1] or 'all devices'}]: {KNOWN_BUGS[key]}")
    for i, (name, _, dev) in enumerate(runs):
        if status.get(i) == "ok" and is_known(name, dev):
            print(f"XPASS [{dev}] {name}: listed in KNOWN_BUGS but passes now")
    print(f"{len(runs)} cases ({checks} checks), {failed} failed"
          f"{f', {xfailed} expected failures' if xfailed else ''} in {time.time() - t0:.1f}s")
    return 1 if failed else 0


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("-v", action="store_true", help="print every case")
    ap.add_argument("--list", action="store_true", help="list the cases")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.list:
        for name, _, devs in CASES:
            print(name, "" if devs == DEVICES else devs)
        return 0
    try:
        cg.load()
    except OSError as e:
        print(f"cannot load libcgrad ({e}); build it and/or set CGRAD_LIB", file=sys.stderr)
        return 1
    if args.worker is not None:
        return worker(args.k, args.worker, args.v)
    return supervise(args)


if __name__ == "__main__":
    sys.exit(main())
