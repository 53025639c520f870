# cgrad: `make demo` runs the main example, `make test` builds and runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PY ?= /usr/bin/python3
export CGRAD_LIB := $(CURDIR)/$(BUILD)/libcgrad.so

.PHONY: all deps build demo demo-fusion test test-c test-asan test-py test-full bench clean

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
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_torch.py
	DEV=INTERP CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_torch.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_api_names.py
	CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_train_resume.py

test: test-c test-py test-asan

test-full: test
	CGRAD_FULL=1 CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_numpy.py
	CGRAD_FULL=1 CACHEDIR=$(CURDIR)/$(BUILD)/test-cache-py $(PY) tests/test_train_resume.py

bench: build
	@$(PY) bench/bench_core.py ./$(BUILD)
	@$(PY) bench/bench_train.py ./$(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
