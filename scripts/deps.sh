#!/usr/bin/env bash
# Installs what cgrad's build, tests and benches need from Debian, once: packages already present
# are skipped, so every `make` target may call this. On a machine without apt or network (the GPU
# machine) it installs nothing and says what is missing; tests that need an absent piece skip.
set -u
PKGS=(build-essential cmake pkg-config zlib1g-dev libpcre2-dev libutf8proc-dev
      python3 python3-numpy python3-pytest python3-torch
      libopenblas0-pthread
      ocl-icd-libopencl1 pocl-opencl-icd
      dataset-fashion-mnist)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: apt-get not available; missing: ${missing[*]} (continuing)" >&2; exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/cgrad-deps.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/cgrad-deps.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/cgrad-deps.log 2>&1 ||
    { echo "deps: could not install some packages (see /tmp/cgrad-deps.log); continuing" >&2; }
fi
exit 0
