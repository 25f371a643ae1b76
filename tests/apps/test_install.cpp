// test_install.cpp — attnlab as another project uses it: `cmake --install`
// into a fresh prefix, then the out-of-tree project tests/fixtures/outside_project
// (find_package(attnlab REQUIRED), one target linking attnlab::attnlab) is
// configured, built and run against it. Compiles one small file: ~20 s.
// Skipped (with the reason) where cmake is not on the PATH.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/helpers.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace attnlab::testing;
namespace fs = std::filesystem;

TEST_CASE("an out-of-tree project finds the installed attnlab with find_package, builds and runs", "[apps][install]") {
    if (std::system("command -v cmake > /dev/null 2>&1") != 0) {
        WARN("skipped: cmake not found on the PATH (Debian: apt-get install cmake)");
        return;
    }
    TempDir dir;
    const std::string prefix = dir.file("prefix"), build = dir.file("build");
    RunResult install = run_command("cmake --install " + std::string(ATTNLAB_BINARY_DIR) + " --prefix " + prefix, 120);
    INFO(install.output);
    REQUIRE(install.exit_code == 0);
    REQUIRE(fs::exists(prefix + "/include/core/core.h"));
    REQUIRE(fs::exists(prefix + "/include/nn/layers/linear.h"));
    REQUIRE_FALSE(fs::exists(prefix + "/include/nn/distributed"));  // MPI stays inside attnlab's own apps

    const std::string project = std::string(ATTNLAB_SOURCE_DIR) + "/tests/fixtures/outside_project";
    RunResult configure = run_command("cmake -S " + project + " -B " + build + " -DCMAKE_BUILD_TYPE=Release" +
                                          " -DCMAKE_PREFIX_PATH=" + prefix, 120);
    INFO(configure.output);
    REQUIRE(configure.exit_code == 0);
    RunResult compile = run_command("cmake --build " + build, 300);
    INFO(compile.output);
    REQUIRE(compile.exit_code == 0);
    RunResult outside = run_command(build + "/outside", 60);
    INFO(outside.output);
    REQUIRE(outside.exit_code == 0);
    REQUIRE_THAT(outside.output, Catch::Contains("outside: loss"));
}
