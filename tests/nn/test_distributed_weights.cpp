// test_distributed_weights.cpp — data-parallel training proves that every rank
// holds the same weights: the periodic checksum passes on identical weights and
// catches a one-ulp difference on one rank, on every rank (tests/mpi/weights_probe.cpp
// run under mpirun). Skipped, with a message, where mpirun is missing.
#include "tests/support/helpers.h"
#include "tests/support/mpirun.h"
#include "tests/support/run_command.h"

using namespace attnlab::testing;

TEST_CASE("the weight checksum passes equal weights and catches a one-ulp drift on one rank", "[distributed][mpi]") {
    if (!have_mpirun()) {
        WARN("skipped: mpirun not found (Debian: apt-get install openmpi-bin)");
        return;
    }
    const RunResult r = run_command(mpirun(2) + ATTNLAB_BINARY_DIR + "/tests/weights_probe", 60);
    const std::string& out = r.output;
    INFO(out);
    REQUIRE(r.exit_code == 0);
    for (const char* rank : {"rank 0", "rank 1"}) {
        REQUIRE_THAT(out, Catch::Contains(std::string(rank) + ": identical weights pass"));
        REQUIRE_THAT(out, Catch::Contains(std::string(rank) + ": detected: data-parallel training: the weights of " +
                                          rank + " differ from another rank's"));
    }
}
