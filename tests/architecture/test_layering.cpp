// test_layering.cpp — the include graph runs one way, bottom to top:
//
//   core (tensor, autograd, ops, kernels, util)
//     → core/module (Module, init: what the attention interface needs)
//       → attention, datasets (siblings: neither includes the other)
//         → nn (layers, models, optim, io, train, study, pixel)
//           → nn/distributed (MPI, only for the apps run under mpirun)
//             → apps
//
// The test reads every source file's #include "..." lines and fails, naming the
// file and the include, when one points to a layer above (or to a sibling).
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/helpers.h"

namespace fs = std::filesystem;

namespace {

struct Layer {
    std::string name;
    int rank;
};

// The layer of a repository path such as "nn/layers/linear.h".
Layer layer_of(const std::string& path) {
    auto starts = [&](const char* prefix) { return path.rfind(prefix, 0) == 0; };
    if (starts("core/module/")) return {"core/module", 1};
    if (starts("core/")) return {"core", 0};
    if (starts("attention/")) return {"attention", 2};
    if (starts("datasets/")) return {"datasets", 2};
    if (starts("nn/distributed/")) return {"nn/distributed", 4};
    if (starts("nn/")) return {"nn", 3};
    if (starts("apps/")) return {"apps", 5};
    return {"", -1};  // tests/, bench/ and system headers are not layered
}

std::vector<std::string> quoted_includes(const fs::path& file) {
    static const std::regex include_line(R"(^\s*#\s*include\s+"([^"]+)\")");
    std::vector<std::string> out;
    std::ifstream in(file);
    std::string line;
    std::smatch m;
    while (std::getline(in, line))
        if (std::regex_search(line, m, include_line)) out.push_back(m[1]);
    return out;
}

}  // namespace

TEST_CASE("no source file includes a layer above its own, or a sibling layer", "[architecture]") {
    const fs::path root = ATTNLAB_SOURCE_DIR;
    int files = 0, edges = 0;
    std::vector<std::string> upward;
    for (const char* top : {"core", "attention", "datasets", "nn", "apps"}) {
        for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
            const std::string ext = entry.path().extension().string();
            if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp")) continue;
            const std::string path = fs::relative(entry.path(), root).generic_string();
            const Layer from = layer_of(path);
            ++files;
            for (const std::string& inc : quoted_includes(entry.path())) {
                const Layer to = layer_of(inc);
                if (to.rank < 0) continue;
                ++edges;
                if (to.rank > from.rank || (to.rank == from.rank && to.name != from.name))
                    upward.push_back(path + " (" + from.name + ") includes " + inc + " (" + to.name + ")");
            }
        }
    }
    INFO(files << " files, " << edges << " includes between layers checked");
    for (const std::string& u : upward) UNSCOPED_INFO(u);
    REQUIRE(files > 100);
    REQUIRE(upward.empty());
}
