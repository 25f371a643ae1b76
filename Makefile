# Thin front end over CMake. A fresh Debian 12 machine needs only `make test`
# or `make train`: both install missing packages and build first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build test test-asan bench bench-compare bench-study-speed bench-memory bench-data-parallel data train study clean help

# CIFAR-10: data/cifar-10-batches-bin, else $$CIFAR10_DIR, else the shared copy beside the repo.
CIFAR10_DIR ?= $(firstword $(wildcard data/cifar-10-batches-bin ../shared/data/cifar-10-batches-bin) data/cifar-10-batches-bin)
export CIFAR10_DIR

all: build

help:
	@echo "make deps       install missing Debian packages (apt-get; sudo when not root)"
	@echo "make build      configure and build (Release, -march=native) into $(BUILD)/"
	@echo "make test       deps + build + run every test (ctest)"
	@echo "make test-asan  the test suite under AddressSanitizer + UBSan in $(ASAN_BUILD)/"
	@echo "make bench      op benchmarks (GFLOP/s vs sgemm, GB/s vs memcpy) + attention time/memory vs N"
	@echo "make bench-compare  the same ViT trained in attnlab and PyTorch: images/s, GFLOP/s, RSS, ratios"
	@echo "make bench-study-speed  the study's speed columns for every variant, measured on this one machine"
	@echo "make bench-memory  peak memory of a training step per attention variant (257 tokens)"
	@echo "make bench-data-parallel  1 process x 2 threads vs 2 MPI ranks, allreduce cost, projection to 64 machines"
	@echo "make train      deps + build + train the recommended ViT on CIFAR-10 (runs/vit-cifar10)"
	@echo "make study      every attention variant on the same budget -> results/study.md + plots"
	@echo "make data       download + md5-check CIFAR-10 (binary) into data/ (needs internet)"
	@echo "make clean      remove build directories"

deps:
	@scripts/install_deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Sanitized build: leaks (LeakSanitizer) and undefined behaviour fail the run.
# One process runs every test case except those tagged [slow] (long trainings).
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNLAB_SANITIZE=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ./attnlab_tests "~[slow]" --durations no

bench: build
	$(BUILD)/apps/bench_ops
	$(BUILD)/apps/bench_attention --out results

# attnlab vs PyTorch (installs python3-torch when missing); a benchmark, not a test.
bench-compare: build
	/usr/bin/python3 bench/compare_pytorch.py --build $(BUILD) $(ARGS)

# every attention variant's train/infer images/s in the study's ViT, one machine, one run
bench-study-speed: build
	/usr/bin/python3 bench/study_speed.py --build $(BUILD) $(ARGS)

# peak RSS and peak tensor memory of one training step per variant, ViT at patch 2 (257 tokens)
bench-memory: build
	bench/train_memory.sh $(BUILD) 2 128

# data-parallel training over MPI: results/data_parallel.jsonl and the projection (results/data_parallel.md)
bench-data-parallel: build
	bench/data_parallel.sh $(BUILD) results

train: build
	$(BUILD)/apps/vit_train --checkpoint runs/vit-cifar10 --trivial-augment --drop-path 0 $(ARGS)

study: build
	$(BUILD)/apps/attention_study --seeds 0,1,2 --out results $(ARGS)

data:
	@scripts/get_cifar10.sh data

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
