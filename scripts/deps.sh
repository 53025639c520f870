#!/usr/bin/env bash
# Installs what cgrad's build, tests and benches need from Debian, once: packages already present
# are skipped, so every `make` target may call this. On a machine without apt or network (the GPU
# machine) it installs nothing and says what is missing; tests that need an absent piece skip.
# Then a venv at .venv (seeing Debian's packages) gets PyPI's `gguf` (llama.cpp's reference
# Python code, for tests/test_gguf_quant.py), once; without PyPI that test skips.
set -u
cd "$(dirname "$0")/.."
python_venv() {
  [ -x .venv/bin/python ] && .venv/bin/python -c "import gguf" 2>/dev/null && return 0
  [ -x .venv/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv 2>/dev/null ||
    { echo "deps: could not make .venv (python3-venv missing?); gguf tests will skip" >&2; return 0; }
  .venv/bin/pip install -q --disable-pip-version-check --timeout 15 gguf >/tmp/cgrad-venv.log 2>&1 ||
    echo "deps: could not install gguf from PyPI (see /tmp/cgrad-venv.log); gguf tests will skip" >&2
  return 0
}
PKGS=(build-essential cmake pkg-config zlib1g-dev libpcre2-dev libutf8proc-dev
      python3 python3-numpy python3-pytest python3-torch
      libopenblas0-pthread clang libclang-rt-14-dev
      ocl-icd-libopencl1 pocl-opencl-icd
      dataset-fashion-mnist)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then python_venv; exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: apt-get not available; missing: ${missing[*]} (continuing)" >&2; python_venv; exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/cgrad-deps.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/cgrad-deps.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/cgrad-deps.log 2>&1 ||
    { echo "deps: could not install some packages (see /tmp/cgrad-deps.log); continuing" >&2; }
fi
python_venv
exit 0
