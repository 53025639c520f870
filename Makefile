# cgrad: `make demo` runs the main example, `make test` builds and runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PY ?= /usr/bin/python3
export CGRAD_LIB := $(CURDIR)/$(BUILD)/libcgrad.so
# Without a GPU, every kernel the CPU op suite runs is also rendered as CUDA and compiled by NVRTC
# for sm_90 (when the CUDA toolkit is there), so a CUDA rendering bug fails `make test`.
NVRTC_CHECK := $(shell (ldconfig -p | grep -q libnvrtc.so || ls /usr/local/cuda/lib64/libnvrtc.so* >/dev/null 2>&1) && echo NVRTC_CHECK=sm_90)
CL_OK := ./$(BUILD)/cgrad info | grep -q '^  CL  *available'

FUZZ_SECONDS ?= 60
VENV_PY := $(CURDIR)/.venv/bin/python

.PHONY: all deps build demo demo-fusion test test-c test-asan test-py test-full fuzz bench clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCGRAD_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/cgrad train fashion-mnist

demo-fusion: build
	DEBUG=2 ./$(BUILD)/mlp_forward

test-c: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCGRAD_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

test-py: build
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_numpy.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_optim_torch.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py PYTHONPATH=python $(PY) tests/test_python_api.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py PYTHONPATH=python $(PY) tests/test_python_nn.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py PYTHONPATH=python $(PY) tests/test_python_jit.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(NVRTC_CHECK) $(PY) tests/test_torch.py
	DEV=INTERP CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_torch.py
	@if $(CL_OK); then DEV=CL CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_torch.py --every 5; \
	  DEV=CL CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py PYTHONPATH=python $(PY) tests/test_python_api.py; \
	else echo "SKIP DEV=CL tests: no OpenCL device (install pocl-opencl-icd)"; fi
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_api_names.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_train_resume.py
	@if [ -x $(VENV_PY) ]; then CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(VENV_PY) tests/test_gguf_quant.py; \
	 else echo "SKIP tests/test_gguf_quant.py: no .venv (scripts/deps.sh makes it when PyPI is reachable)"; fi

test: test-c test-py test-asan

test-full: test fuzz
	DEV=CL CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_torch.py
	CGRAD_FULL=1 CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_numpy.py
	CGRAD_FULL=1 CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_train_resume.py

# libFuzzer on the GGUF reader for FUZZ_SECONDS (the mutated-file corpus test stays in `make test`).
fuzz: deps
	@command -v clang >/dev/null || { echo "SKIP fuzz: clang not installed"; exit 0; }; \
	 mkdir -p $(BUILD)/fuzz-corpus && cp tests/fuzz_corpus_gguf/* $(BUILD)/fuzz-corpus/ && \
	 clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
	   tests/fuzz_gguf.c $(wildcard src/*/*.c) -lm -ldl -lpthread -o $(abspath $(BUILD))/fuzz_gguf && \
	 $(abspath $(BUILD))/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 $(BUILD)/fuzz-corpus

bench: build
	@$(PY) bench/bench_core.py ./$(BUILD)
	@$(PY) bench/bench_conv.py ./$(BUILD)
	@$(PY) bench/bench_train.py ./$(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
