// helpers.cpp — locating the shared data beside the repository.
#include "tests/support/helpers.h"

#include <filesystem>

namespace attnlab::testing {

std::string shared_data(const std::string& relative) {
    namespace fs = std::filesystem;
    fs::path p = fs::path(ATTNLAB_SOURCE_DIR) / ".." / "shared" / "data" / relative;
    return fs::exists(p) ? fs::canonical(p).string() : "";
}

}  // namespace attnlab::testing
