// file_kind.h — what a path is before a reader opens it, and file bytes made safe to print. Opening a FIFO blocks until
// someone writes to it, and a directory "opens" but reads as nothing, so every file
// reader first checks that its path is a regular file and otherwise says what it is.
//
//   require_regular_file(path, "safetensors");  // throws: "safetensors: 'x' is a FIFO (named pipe), not a regular file"
#pragma once
#include <string>
#include <string_view>

namespace attnlab {

// "a regular file", "a directory", "a FIFO (named pipe)", "a socket", "a character device",
// "a block device", "a broken symbolic link", "something that does not exist" (symlinks followed).
std::string file_kind(const std::string& path);
bool is_regular_file(const std::string& path);
// Throws Error "<who>: '<path>' is <kind>, not a regular file" (or "does not exist") unless it is one.
void require_regular_file(const std::string& path, const std::string& who);

// `text` with control bytes and invalid UTF-8 shown as \xNN, so that an error message that
// quotes a corrupt file never writes raw binary to the terminal. Valid UTF-8 is kept.
std::string printable(std::string_view text);

}  // namespace attnlab
