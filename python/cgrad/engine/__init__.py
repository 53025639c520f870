"""cgrad.engine: the JIT (as tinygrad.engine.jit)."""
from .jit import TinyJit

__all__ = ["TinyJit"]
