// weights_probe.cpp — a test program run under `mpirun -np 2` by
// tests/nn/test_distributed_weights.cpp. It builds the same small model on
// every rank, checks that data-parallel training's weight checksum
// (MpiDataParallel::check_same_weights, an FNV-1a hash of every parameter's
// bytes compared across ranks) passes, then moves one weight of rank 1 by one
// float ulp and checks that every rank now stops with an error naming itself.
// Prints one line per rank and check; exits 0 only when both checks behaved.
#include <cmath>
#include <cstdio>

#include "core/util/error.h"
#include "core/util/rng.h"
#include "nn/distributed/mpi_data_parallel.h"
#include "nn/distributed/runtime.h"
#include "nn/layers/linear.h"

using namespace attnlab;

int main(int argc, char** argv) {
    distributed::init(argc, argv);
    manual_seed(7);  // the same initialization on every rank
    nn::Linear model(16, 8);
    distributed::MpiDataParallel dp(model);
    const int rank = dp.rank();
    int failures = 0;

    try {
        dp.check_same_weights();
        std::printf("rank %d: identical weights pass\n", rank);
    } catch (const Error& e) {
        std::printf("rank %d: identical weights rejected: %s\n", rank, e.what());
        ++failures;
    }

    if (rank == 1) {
        float* w = model.weight.data();
        w[5] = std::nextafter(w[5], INFINITY);
    }
    try {
        dp.check_same_weights();
        std::printf("rank %d: a one-ulp difference went unnoticed\n", rank);
        ++failures;
    } catch (const Error& e) {
        std::printf("rank %d: detected: %s\n", rank, e.what());
    }
    std::fflush(stdout);
    distributed::finalize();
    return failures == 0 ? 0 : 1;
}
