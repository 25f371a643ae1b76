// atomic_file.cpp — see atomic_file.h.
#include "nn/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/util/error.h"
#include "core/util/file_kind.h"

namespace attnlab::nn {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
    tmp_ = path_ + ".tmp-" + std::to_string(long(::getpid()));
    file_ = std::fopen(tmp_.c_str(), "wb");
    check(file_ != nullptr, "cannot create '", tmp_, "': ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (file_) std::fclose(file_);
    if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
    check(file_ != nullptr, "write to '", path_, "' after commit");
    if (bytes == 0) return;
    // errno is read after the call: check()'s arguments are evaluated in no set order.
    const bool written = std::fwrite(data, 1, bytes, file_) == bytes;
    const int err = errno;
    check(written, "cannot write ", bytes, " bytes to '", tmp_, "': ", std::strerror(err));
}

void AtomicFile::commit() {
    check(file_ != nullptr, "commit of '", path_, "' twice");
    bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    int err = errno;
    ok = (std::fclose(file_) == 0) && ok;
    file_ = nullptr;
    check(ok, "cannot flush '", tmp_, "' to disk: ", std::strerror(err ? err : errno));
    const bool renamed = std::rename(tmp_.c_str(), path_.c_str()) == 0;
    err = errno;
    check(renamed, "cannot rename '", tmp_, "' to '", path_, "': ", std::strerror(err));
    committed_ = true;
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    fsync_directory(parent.empty() ? "." : parent.string());
}

void write_file_atomic(const std::string& path, std::string_view content) {
    AtomicFile f(path);
    f.write(content.data(), content.size());
    f.commit();
}

std::string read_text_file(const std::string& path) {
    require_regular_file(path, "read");  // a FIFO would block, a directory reads as nothing
    std::FILE* f = std::fopen(path.c_str(), "rb");
    check(f != nullptr, "cannot open '", path, "': ", std::strerror(errno));
    std::string out;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    bool failed = std::ferror(f);
    std::fclose(f);
    check(!failed, "cannot read '", path, "'");
    return out;
}

void fsync_directory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    check(fd >= 0, "cannot open directory '", dir, "' to fsync it: ", std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    check(rc == 0, "cannot fsync directory '", dir, "': ", std::strerror(err));
}

}  // namespace attnlab::nn
