// test_distributed_weights.cpp — data-parallel training proves that every rank
// holds the same weights: the periodic checksum passes on identical weights and
// catches a one-ulp difference on one rank, on every rank (tests/mpi/weights_probe.cpp
// run under mpirun). Skipped, with a message, where mpirun is missing.
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>

#include "tests/support/helpers.h"

namespace {

std::string run_capturing(const std::string& command, int& exit_code) {
    std::string cmd = "timeout -s KILL 60 " + command + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    int status = pclose(p);
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

}  // namespace

TEST_CASE("the weight checksum passes equal weights and catches a one-ulp drift on one rank", "[distributed][mpi]") {
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
        WARN("skipped: mpirun not found (Debian: apt-get install openmpi-bin)");
        return;
    }
#ifdef ATTNLAB_SANITIZE
    const std::string env = "-x ASAN_OPTIONS=detect_leaks=0 ";  // Open MPI keeps allocations until exit
#else
    const std::string env;
#endif
    int code = 0;
    const std::string out = run_capturing("mpirun --allow-run-as-root --oversubscribe --bind-to none " + env +
                                              "-np 2 " + ATTNLAB_BINARY_DIR + "/tests/weights_probe",
                                          code);
    INFO(out);
    REQUIRE(code == 0);
    for (const char* rank : {"rank 0", "rank 1"}) {
        REQUIRE_THAT(out, Catch::Contains(std::string(rank) + ": identical weights pass"));
        REQUIRE_THAT(out, Catch::Contains(std::string(rank) + ": detected: data-parallel training: the weights of " +
                                          rank + " differ from another rank's"));
    }
}
