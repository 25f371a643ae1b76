// file_kind.cpp — see file_kind.h.
#include "core/util/file_kind.h"

#include <filesystem>

#include "core/util/error.h"

namespace attnlab {

namespace fs = std::filesystem;

std::string file_kind(const std::string& path) {
    std::error_code ec;
    switch (fs::status(path, ec).type()) {
        case fs::file_type::regular: return "a regular file";
        case fs::file_type::directory: return "a directory";
        case fs::file_type::fifo: return "a FIFO (named pipe)";
        case fs::file_type::socket: return "a socket";
        case fs::file_type::character: return "a character device";
        case fs::file_type::block: return "a block device";
        case fs::file_type::not_found:
            return fs::is_symlink(fs::symlink_status(path, ec)) ? "a broken symbolic link" : "something that does not exist";
        default: return "not a file that can be read";
    }
}

bool is_regular_file(const std::string& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

void require_regular_file(const std::string& path, const std::string& who) {
    if (is_regular_file(path)) return;
    std::string kind = file_kind(path);
    if (kind == "something that does not exist") throw Error(cat(who, ": '", path, "' does not exist"));
    throw Error(cat(who, ": '", path, "' is ", kind, ", not a regular file"));
}

// Length of the valid UTF-8 sequence starting at text[i] (2-4 bytes), or 0.
static size_t utf8_length(std::string_view text, size_t i) {
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b = byte(i);
    size_t n = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    return n;
}

std::string printable(std::string_view text) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < text.size();) {
        const unsigned char b = static_cast<unsigned char>(text[i]);
        if (b >= 0x20 && b < 0x7F) {
            out += char(b), ++i;
        } else if (size_t n = b >= 0x80 ? utf8_length(text, i) : 0) {
            out.append(text.substr(i, n)), i += n;
        } else {
            out += "\\x", out += hex[b >> 4], out += hex[b & 15], ++i;
        }
    }
    return out;
}

}  // namespace attnlab
