// atomic_file.h — write a file so that readers see the old or the new content,
// never half of it, even if the process or the machine dies midway.
//
//   write "path.tmp-<pid>"  →  fflush + fsync  →  rename over "path"  →  fsync the directory
// rename() is atomic on POSIX file systems; the fsyncs make sure the data is
// on disk before the name points at it. Cost: one extra fsync per file.
//
//   nn::AtomicFile f("run/config.json");
//   f.write(text.data(), text.size());
//   f.commit();              // without commit() the destructor removes the temporary
#pragma once
#include <cstdio>
#include <string>
#include <string_view>

namespace attnlab::nn {

class AtomicFile {
public:
    explicit AtomicFile(std::string path);  // creates the temporary file
    ~AtomicFile();                          // removes it unless committed
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t bytes);
    void commit();  // fsync, rename into place, fsync the directory

    const std::string& path() const { return path_; }

private:
    std::string path_, tmp_;
    std::FILE* file_ = nullptr;
    bool committed_ = false;
};

void write_file_atomic(const std::string& path, std::string_view content);
std::string read_text_file(const std::string& path);  // throws naming the file
// fsync a directory so that renames and creations inside it are durable.
void fsync_directory(const std::string& dir);

}  // namespace attnlab::nn
