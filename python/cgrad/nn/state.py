"""tinygrad's nn.state: walking a model's Tensors (get_state_dict, get_parameters,
load_state_dict) and .safetensors files (safe_save, safe_load) through libcgrad's reader/writer."""
import ctypes
import json
import os
import struct
from collections import OrderedDict

import numpy as np

from .._lib import check, check_rc, lib, ptr_array
from ..device import Device
from ..tensor import Tensor


def get_state_dict(obj, prefix="", tensor_type=Tensor):
    """Every Tensor reachable from obj through attributes, lists, tuples and dicts, by dotted name
    ("l1.weight", "layers.0.bias")."""
    if isinstance(obj, tensor_type):
        return {prefix.strip("."): obj}
    if hasattr(obj, "_asdict"):                       # namedtuple
        return get_state_dict(obj._asdict(), prefix, tensor_type)
    if isinstance(obj, OrderedDict):
        return get_state_dict(dict(obj), prefix, tensor_type)
    if hasattr(obj, "__dict__"):
        return get_state_dict(obj.__dict__, prefix, tensor_type)
    state_dict = {}
    if isinstance(obj, (list, tuple)):
        for i, x in enumerate(obj):
            state_dict.update(get_state_dict(x, f"{prefix}{i}.", tensor_type))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            state_dict.update(get_state_dict(v, f"{prefix}{k}.", tensor_type))
    return state_dict


def get_parameters(obj):
    """The trainable Tensors (requires_grad) of obj, each once, in get_state_dict order."""
    seen, out = set(), []
    for t in get_state_dict(obj).values():
        if t.requires_grad and id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _as_tensor(v, like, name):
    """v (a Tensor, NumPy array, or anything with .numpy(), e.g. a torch tensor) as a Tensor of
    like's dtype on like's device; Tensors must already have like's dtype."""
    if isinstance(v, Tensor):
        if v.dtype is not like.dtype:
            raise TypeError(f"dtype mismatch for `{name}`: model has {like.dtype!r}, state dict has {v.dtype!r}")
        return v.to(like.device)
    if hasattr(v, "detach") and hasattr(v, "numpy"):   # a torch tensor
        v = v.detach().cpu().numpy()
    return Tensor(np.asarray(v), device=like.device, dtype=like.dtype)


def load_state_dict(model, state_dict, strict=True, verbose=False, consume=False, realize=True):
    """Give each Tensor of model (get_state_dict names) the value of state_dict[name], in place
    (its identity, requires_grad and optimizer references are kept). strict: every model tensor
    must be in state_dict and every state_dict key in the model. Nothing is written unless
    every key and shape checks out."""
    model_sd = get_state_dict(model)
    missing = [k for k in model_sd if k not in state_dict]
    unexpected = [k for k in state_dict if k not in model_sd]
    if strict and (missing or unexpected):
        parts = ([f"missing keys: {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected keys: {', '.join(unexpected)}"] if unexpected else [])
        raise KeyError("load_state_dict: " + "; ".join(parts))
    if verbose:
        for k in missing:
            print(f"WARNING: not loading {k}")
        for k in unexpected:
            print(f"WARNING: unused weight {k}")
    todo = []
    for k, v in model_sd.items():
        if k not in state_dict:
            continue
        src = state_dict[k]
        shape = tuple(src.shape) if hasattr(src, "shape") else np.shape(src)
        if tuple(v.shape) != tuple(shape):
            raise ValueError(f"Shape mismatch in layer `{k}`: Expected shape {v.shape}, but found "
                             f"{tuple(shape)} in state dict.")
        todo.append((k, v, _as_tensor(src, v, k)))
    for k, v, src in todo:
        v.replace(src)
        if consume:
            del state_dict[k]
    if realize and todo:
        todo[0][1].realize(*[v for _, v, _ in todo[1:]])


def safe_save(tensors, fn, metadata=None):
    """Write {name: Tensor} (and string metadata) to the .safetensors file fn (cg_safetensors_save,
    atomic)."""
    names = list(tensors)
    ts = [tensors[k] for k in names]
    for k, t in zip(names, ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"safe_save: `{k}` is a {type(t).__name__}, not a Tensor")
    meta = [s for kv in (metadata or {}).items() for s in (str(kv[0]), str(kv[1]))]
    c_names = (ctypes.c_char_p * max(len(names), 1))(*[str(k).encode() for k in names])
    c_meta = (ctypes.c_char_p * max(len(meta), 1))(*[s.encode() for s in meta])
    check_rc(lib.cg_safetensors_save(os.fsencode(fn), c_names, ptr_array([t._ptr for t in ts]), len(ts),
                                     c_meta, len(meta) // 2))


def safe_load(fn, device=None):
    """{name: Tensor} from the .safetensors file fn (cg_safetensors_open/get)."""
    f = check(lib.cg_safetensors_open(os.fsencode(fn)))
    try:
        dev = None if device is None else Device.canonicalize(device).encode()
        names = [lib.cg_safetensors_name(f, i).decode() for i in range(lib.cg_safetensors_count(f))]
        return {k: Tensor._wrap(lib.cg_safetensors_get(f, k.encode(), dev)) for k in names}
    finally:
        lib.cg_safetensors_close(f)


def safe_load_metadata(fn):
    """(None, json_len, header) of a .safetensors file: the parsed JSON header, with string
    metadata under "__metadata__" (tinygrad returns the file as its first element)."""
    with open(fn, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        return None, n, json.loads(fh.read(n))


def safe_metadata(fn):
    """The string metadata of a .safetensors file as a dict (empty if none)."""
    return dict(safe_load_metadata(fn)[2].get("__metadata__", {}))
