"""dtypes with tinygrad's names; each wraps the C enum value (cg_dtype)."""
import numpy as np

from ._lib import lib


class DType:
    """An element type. `value` is the cg_dtype enum; name and size come from the C library."""
    __slots__ = ("value", "name", "itemsize", "fmt")

    def __init__(self, value, fmt):
        self.value, self.fmt = value, fmt
        self.name = lib.cg_dtype_name(value).decode()
        self.itemsize = lib.cg_dtype_size(value)

    @property
    def bitsize(self): return 8 * self.itemsize if self.value != 0 else 1
    @property
    def base(self): return self
    def scalar(self): return self
    def __repr__(self): return f"dtypes.{self.name}"
    def __reduce__(self): return (to_dtype, (self.name,))
    @property
    def np(self):
        """The NumPy dtype holding this type's values (None for bfloat16)."""
        return _TO_NP.get(self.value)


class dtypes:
    """tinygrad's `dtypes` namespace."""
    bool = DType(0, "?")
    int8, uint8 = DType(1, "b"), DType(2, "B")
    int16, uint16 = DType(3, "h"), DType(4, "H")
    int32, uint32 = DType(5, "i"), DType(6, "I")
    int64, uint64 = DType(7, "q"), DType(8, "Q")
    float16, bfloat16 = DType(9, "e"), DType(10, None)
    float32, float64 = DType(11, "f"), DType(12, "d")
    half, float, double = float16, float32, float64
    char, short, int, long = int8, int16, int32, int64
    uchar, ushort, uint, ulong = uint8, uint16, uint32, uint64
    default_float = float32
    default_int = int32
    floats = (float16, bfloat16, float32, float64)
    uints = (uint8, uint16, uint32, uint64)
    sints = (int8, int16, int32, int64)
    ints = uints + sints
    all = floats + ints + (bool,)

    @staticmethod
    def is_float(x): return bool(lib.cg_dtype_is_float(to_dtype(x).value))
    @staticmethod
    def is_int(x): return bool(lib.cg_dtype_is_int(to_dtype(x).value))
    @staticmethod
    def is_unsigned(x): return bool(lib.cg_dtype_is_unsigned(to_dtype(x).value))
    @staticmethod
    def is_bool(x): return to_dtype(x) is dtypes.bool

    @staticmethod
    def from_py(x):
        """The dtype tinygrad gives a Python value (lists: the widest of their elements)."""
        if isinstance(x, (list, tuple)):
            return max((dtypes.from_py(v) for v in x), key=lambda d: d.value, default=dtypes.default_float)
        if isinstance(x, float):
            return dtypes.default_float
        return dtypes.bool if isinstance(x, bool) else dtypes.default_int

    @staticmethod
    def from_np(npdtype):
        """The dtype of a NumPy dtype; TypeError if cgrad has none."""
        try:
            return _FROM_NP[np.dtype(npdtype)]
        except (KeyError, TypeError):
            raise TypeError(f"no cgrad dtype for NumPy dtype {npdtype}") from None


_ALL = [dtypes.bool, dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16, dtypes.int32,
        dtypes.uint32, dtypes.int64, dtypes.uint64, dtypes.float16, dtypes.bfloat16, dtypes.float32,
        dtypes.float64]
_NP = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
       np.float16, None, np.float32, np.float64]
_TO_NP = {d.value: np.dtype(n) for d, n in zip(_ALL, _NP) if n is not None}
_FROM_NP = {np.dtype(n): d for d, n in zip(_ALL, _NP) if n is not None}


def from_value(v):
    """The DType of a cg_dtype enum value."""
    return _ALL[v]


def to_dtype(x):
    """A DType from a DType or a name ("float32", "float", "half", ...)."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        d = getattr(dtypes, x.lower(), None)
        if isinstance(d, DType):
            return d
        v = lib.cg_dtype_from_name(x.encode())
        if v >= 0:
            return _ALL[v]
        raise TypeError(f"unknown dtype {x!r}")
    raise TypeError(f"expected a dtype, got {x!r}")


def least_upper_dtype(*ds):
    """tinygrad's promotion of several dtypes (cg_promote)."""
    out = to_dtype(ds[0])
    for d in ds[1:]:
        out = _ALL[lib.cg_promote(out.value, to_dtype(d).value)]
    return out
