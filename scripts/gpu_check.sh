#!/usr/bin/env bash
# On the GPU machine (device tool): build, then run the named parts with DEV=CUDA, logs to $OUT.
# usage: scripts/gpu_check.sh PART...   parts: sanity oom ctests optests pytests tc train bench bench_noopt benchquick
# It has no network and no apt: the build uses what is there; Fashion-MNIST comes in .data/.
set -u
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
PY=${PY:-python3}
export CACHEDIR=/tmp/cgrad-cache DEV=CUDA
export CGRAD_LIB=$PWD/build/libcgrad.so
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
# configure once, then an incremental build every call (the machine keeps build/ while warm)
{ [ -f build/CMakeCache.txt ] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release; } >"$OUT/build.log" 2>&1 &&
  cmake --build build -j 16 >>"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
# without zlib the loader reads raw IDX files: unpack them under the same names
if ! grep -q CGRAD_HAVE_ZLIB build/CMakeFiles/cgrad_obj.dir/flags.make 2>/dev/null && [ -d .data/fashion-mnist ]; then
  mkdir -p /tmp/fmnist && for f in .data/fashion-mnist/*.gz; do gunzip -c "$f" >/tmp/fmnist/$(basename "$f"); done
  export CGRAD_DATA=/tmp/fmnist
fi
run() { # name timeout command...
  local name=$1 t=$2; shift 2
  local t0=$(date +%s)
  timeout "$t" "$@" >"$OUT/$name.log" 2>&1; local rc=$?
  echo "== $name rc=$rc $(( $(date +%s) - t0 ))s: $(tail -1 "$OUT/$name.log")"
}
for part in "$@"; do
  case $part in
  sanity) run sanity 60 $PY -c "
import sys; sys.path.insert(0, 'python')
from cgrad import Tensor
a = Tensor([1., 2., 3.]); print((a * 2 + 1).tolist(), a.sum().item(), a.softmax().tolist())" ;;
  oom) run oom 60 $PY -c "
import sys; sys.path.insert(0, 'python')
from cgrad import Tensor
a = Tensor([1., 2., 3.]).realize()
try:
    Tensor.zeros(60_000_000_000).contiguous().realize()   # 240 GB: more than the card has
    print('FAIL: no error')
except (MemoryError, RuntimeError) as e:
    print('out-of-memory error:', e)
print('after OOM:', (a * 2).tolist(), Tensor.ones(1000).sum().item())" ;;
  ctests) for t in build/test_*; do [ -x "$t" ] && run "c_$(basename "$t")" 120 "$t"; done ;;
  optests) run torch_ops 500 $PY tests/test_torch.py ;;
  pytests) run numpy 300 $PY tests/test_numpy.py
           run python_api 120 env PYTHONPATH=python $PY tests/test_python_api.py
           run python_nn 120 env PYTHONPATH=python $PY tests/test_python_nn.py
           run optim 120 $PY tests/test_optim_torch.py
           run python_jit 120 env PYTHONPATH=python $PY tests/test_python_jit.py ;;
  train) run train 500 ./build/cgrad train fashion-mnist --device CUDA ;;
  bench) run bench 400 $PY bench/bench_gpu.py
         run bench_tf32 200 env ALLOW_TF32=1 $PY bench/bench_gpu.py --matmul-only ;;
  bench_noopt) run bench_noopt 300 env NOOPT=1 $PY bench/bench_gpu.py --memory-only ;;
  tc) run tc 200 $PY tests/test_matmul_dtypes.py
      run tc_tf32 200 env ALLOW_TF32=1 $PY tests/test_matmul_dtypes.py ;;
  benchquick) run benchquick 200 $PY bench/bench_gpu.py --quick ;;
  esac
done
