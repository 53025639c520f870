#!/usr/bin/python3
"""Which of tinygrad's documented Tensor names cgrad's Tensor has.

Reads the name list <repo>/../shared/reference/tinygrad-tensor-api.txt (skips, with a message, when
it is absent), prints the names cgrad's `Tensor` lacks per section, and fails if one of REQUIRED
is missing. Creation functions are checked as attributes of Tensor (tinygrad has them as
static/class methods). Works as `pytest tests/test_api_names.py` and as a plain script.
Env: CGRAD_LIB (library path, read by the package).
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))

from cgrad import Tensor  # noqa: E402

API_LIST = os.path.join(REPO, "..", "shared", "reference", "tinygrad-tensor-api.txt")

REQUIRED = {
    "creation": "empty zeros ones full zeros_like ones_like full_like arange linspace eye rand randn randint "
                "randperm uniform normal glorot_uniform kaiming_uniform kaiming_normal manual_seed",
    "elementwise": None,   # every name in the list's [elementwise] section
    "reduce": "sum prod max min mean var std argmax argmin any all logsumexp cumsum cumprod cummax softmax "
              "log_softmax",
    "movement/indexing": "reshape view permute transpose T flatten unflatten squeeze unsqueeze expand repeat "
                         "repeat_interleave pad shrink flip roll cat stack split chunk __getitem__ __setitem__ "
                         "assign gather scatter scatter_reduce masked_fill one_hot tril triu topk sort",
    "linalg/nn": "dot matmul linear einsum conv2d conv_transpose2d max_pool2d avg_pool2d interpolate batchnorm "
                 "layernorm rmsnorm dropout cross_entropy nll_loss sparse_categorical_crossentropy "
                 "binary_crossentropy binary_crossentropy_logits scaled_dot_product_attention sequential",
}


def read_sections(path):
    """{section: [names]} from the reference list ('# ' comments, '[section]' headers)."""
    sections, cur = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = line[1:-1]
                sections.setdefault(cur, [])
            elif cur is not None:
                sections[cur].append(line)
    return sections


def required_names(sections):
    out = {}
    for group, names in REQUIRED.items():
        out[group] = sections.get("elementwise", []) if names is None else names.split()
    return out


def report():
    """(printed lines, missing required names); None when the list is absent."""
    if not os.path.exists(API_LIST):
        return None
    sections = read_sections(API_LIST)
    lines, total, have = [], 0, 0
    for sec, names in sections.items():
        missing = [n for n in names if not hasattr(Tensor, n)]
        total += len(names)
        have += len(names) - len(missing)
        lines.append(f"[{sec}] {len(names) - len(missing)}/{len(names)}"
                     + (f"; missing: {' '.join(missing)}" if missing else ""))
    lines.append(f"tinygrad names present: {have}/{total}")
    req_missing = []
    for group, names in required_names(sections).items():
        miss = [n for n in names if not hasattr(Tensor, n)]
        req_missing += [f"{group}: {n}" for n in miss]
    return lines, req_missing


def test_required_names():
    r = report()
    if r is None:
        import pytest
        pytest.skip(f"{API_LIST} is absent")
    lines, req_missing = r
    print("\n".join(lines))
    assert not req_missing, "required names missing from Tensor: " + ", ".join(req_missing)


def main():
    r = report()
    if r is None:
        print(f"skipped: {API_LIST} is absent")
        return 0
    lines, req_missing = r
    print("\n".join(lines))
    if req_missing:
        print("REQUIRED names missing from Tensor:")
        for m in req_missing:
            print(f"  {m}")
        return 1
    print("all required names present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
