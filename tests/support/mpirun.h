// mpirun.h — launching test programs under Open MPI's mpirun, as CI needs it:
// root allowed, more ranks than cores, no pinning (the cores are shared).
// Under the sanitizers, LeakSanitizer is off in the ranks: Open MPI keeps
// allocations from MPI_Init to exit that it reports as leaks.
#pragma once
#include <cstdlib>
#include <string>

namespace attnlab::testing {

inline bool have_mpirun() { return std::system("command -v mpirun > /dev/null 2>&1") == 0; }

// "mpirun ... -np RANKS " — the program and its arguments follow.
inline std::string mpirun(int ranks) {
#ifdef ATTNLAB_SANITIZE
    const std::string env = "-x ASAN_OPTIONS=detect_leaks=0 ";
#else
    const std::string env;
#endif
    return "mpirun --allow-run-as-root --oversubscribe --bind-to none " + env + "-np " + std::to_string(ranks) + " ";
}

}  // namespace attnlab::testing
