# Thin front end over CMake. A fresh Debian 12 machine needs only `make test`
# or `make train`: both install missing packages and build first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test test-asan bench clean help

all: build

help:
	@echo "make deps       install missing Debian packages (apt-get; sudo when not root)"
	@echo "make build      configure and build (Release, -march=native) into $(BUILD)/"
	@echo "make test       deps + build + run every test (ctest)"
	@echo "make test-asan  the test suite under AddressSanitizer + UBSan in $(ASAN_BUILD)/"
	@echo "make bench      operator benchmarks (GFLOP/s, GB/s)"
	@echo "make data       download CIFAR-10 into data/cifar-10-batches-bin"
	@echo "make clean      remove build directories"

deps:
	@scripts/install_deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Sanitized build: leaks (LeakSanitizer) and undefined behaviour fail the run.
# Tests tagged [slow] (long trainings) are left out to keep CI short.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNLAB_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE slow

bench: build
	$(BUILD)/apps/bench_ops

.PHONY: data
data:
	@scripts/get_cifar10.sh data

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
