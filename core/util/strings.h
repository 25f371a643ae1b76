// strings.h — splitting a list option ("0,1,2") into its parts.
#pragma once
#include <string>
#include <vector>

namespace attnlab {

// "a,b,,c" split at ',' -> {"a", "b", "", "c"}: the parts of a list option, empty ones kept
// (so the caller decides whether "0,,1" is an error); "" -> {""}.
inline std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts(1);
    for (char c : text) {
        if (c == separator) parts.emplace_back();
        else parts.back().push_back(c);
    }
    return parts;
}

}  // namespace attnlab
