// error.h — the exception type of attnlab (and its out-of-memory kind) and helpers to throw it.
//
// Every user-facing check throws attnlab::Error with a message that names the
// operation and states what was expected and what was found, e.g.
//   "matmul: [128,64] x [32,10]: inner dimensions 64 and 32 differ".
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace attnlab {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A tensor that does not fit: the system refused the memory, or it would pass the limit set
// with set_storage_limit (core/tensor/storage.h). Callers that can go on without the failed
// work (the attention study records such a variant as a row) catch this type only.
struct OutOfMemoryError : Error {
    using Error::Error;
};

// Concatenates any streamable arguments into one message.
template <class... Args>
std::string cat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

// "a, b, c": the names a message lists as the valid choices.
inline std::string join(const std::vector<std::string>& names, const std::string& separator = ", ") {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : separator) + n;
    return out;
}

// check(cond, "op: ", detail, ...) throws Error(cat(...)) when cond is false.
template <class... Args>
inline void check(bool cond, const Args&... args) {
    if (!cond) throw Error(cat(args...));
}

}  // namespace attnlab
