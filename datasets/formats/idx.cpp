// idx.cpp — reading IDX files through zlib (format in idx.h).
// The data part is read in chunks into a growing buffer, so a corrupt header
// that claims terabytes fails with "found only ... bytes", not with bad_alloc.
#include "datasets/formats/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/util/error.h"
#include "core/util/file_kind.h"
#include "core/tensor/shape.h"

namespace attnlab::datasets {

namespace fs = std::filesystem;

namespace {

struct GzFile {
    gzFile handle = nullptr;
    explicit GzFile(const std::string& path) : handle(gzopen(path.c_str(), "rb")) {}
    ~GzFile() {
        if (handle) gzclose(handle);
    }
    GzFile(const GzFile&) = delete;
    GzFile& operator=(const GzFile&) = delete;

    // Reads up to n bytes; returns how many were read (fewer only at the end).
    size_t read(uint8_t* out, size_t n, const std::string& path) {
        size_t done = 0;
        while (done < n) {
            unsigned chunk = unsigned(std::min<size_t>(n - done, size_t(1) << 24));
            int got = gzread(handle, out + done, chunk);
            if (got < 0) {
                int code = 0;
                const char* why = gzerror(handle, &code);
                throw Error(cat("IDX: error reading '", path, "': ", why ? why : "zlib error"));
            }
            if (got == 0) break;
            done += size_t(got);
        }
        return done;
    }
};

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

uint32_t big_endian_u32(const uint8_t* b) {
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

}  // namespace

// The header: a magic number 0x000008NN (unsigned bytes, NN dimensions), then NN big-endian sizes.
static std::vector<int64_t> read_idx_header(GzFile& file, const std::string& path) {
    uint8_t magic_bytes[4];
    size_t got = file.read(magic_bytes, 4, path);
    check(got == 4, "IDX: '", path, "' has only ", got, " bytes; expected at least a 4-byte magic number");
    uint32_t magic = big_endian_u32(magic_bytes);
    check(magic_bytes[0] == 0 && magic_bytes[1] == 0 && magic_bytes[2] == 0x08 && magic_bytes[3] >= 1,
          "IDX: '", path, "' starts with magic number ", hex32(magic),
          "; expected 0x000008NN (unsigned bytes, NN dimensions), e.g. 0x00000803 for images "
          "or 0x00000801 for labels");
    const int ndims = magic_bytes[3];
    uint8_t dim_bytes[4 * 255];
    got = file.read(dim_bytes, size_t(4 * ndims), path);
    check(got == size_t(4 * ndims), "IDX: '", path, "' ends inside its header: ", ndims,
          " dimension sizes (", 4 * ndims, " bytes) expected after the magic number, found ", got,
          " bytes");
    std::vector<int64_t> dims;
    int64_t count = 1;
    for (int d = 0; d < ndims; ++d) {
        int64_t size = big_endian_u32(dim_bytes + 4 * d);
        dims.push_back(size);
        // checked before multiplying: count * size could overflow int64 (found by the fuzz test)
        check(size == 0 || count <= (int64_t(1) << 40) / size, "IDX: '", path, "': dimensions ", to_string(dims),
              "... are implausibly large (corrupt header?)");
        count *= size;
    }
    return dims;
}

// Exactly `expected` data bytes, read in chunks: memory grows only as fast as real data arrives.
static void read_idx_values(GzFile& file, const std::string& path, IdxArray& out, size_t expected) {
    size_t have = 0;
    while (have < expected) {
        size_t want = std::min(expected - have, size_t(1) << 24);
        out.values.resize(have + want);
        size_t n = file.read(out.values.data() + have, want, path);
        have += n;
        if (n < want) break;
    }
    const int64_t header = 4 + 4 * int64_t(out.dims.size());
    check(have == expected, "IDX: '", path, "' is truncated: dimensions ", to_string(out.dims),
          " need ", expected, " bytes of data after the ", header, "-byte header, found only ", have);
    uint8_t extra;
    check(file.read(&extra, 1, path) == 0, "IDX: '", path, "' has more data than its dimensions ",
          to_string(out.dims), " describe (", expected, " bytes after the ", header,
          "-byte header expected)");
}

IdxArray read_idx_file(const std::string& path) {
    std::error_code ec;
    if (fs::exists(path, ec)) require_regular_file(path, "IDX");  // a FIFO would block, a directory read as empty
    check(fs::is_regular_file(path, ec), "IDX: cannot find file '", path, "'");
    GzFile file(path);
    check(file.handle != nullptr, "IDX: cannot open '", path, "'");
    gzbuffer(file.handle, 1 << 17);
    IdxArray out;
    out.dims = read_idx_header(file, path);
    size_t count = 1;
    for (int64_t d : out.dims) count *= size_t(d);
    read_idx_values(file, path, out, count);
    return out;
}

ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                              std::vector<std::string> class_names) {
    IdxArray images = read_idx_file(images_path);
    check(images.dims.size() == 3, "IDX: images file '", images_path, "' has ", images.dims.size(),
          " dimensions ", to_string(images.dims),
          "; expected 3 (magic 0x00000803: count, rows, columns)");
    IdxArray labels = read_idx_file(labels_path);
    check(labels.dims.size() == 1, "IDX: labels file '", labels_path, "' has ", labels.dims.size(),
          " dimensions ", to_string(labels.dims), "; expected 1 (magic 0x00000801: count)");
    check(images.dims[0] == labels.dims[0], "IDX: '", images_path, "' holds ", images.dims[0],
          " images but '", labels_path, "' holds ", labels.dims[0], " labels; they must agree");
    check(images.dims[0] > 0, "IDX: '", images_path, "' holds no images");
    check(images.dims[1] > 0 && images.dims[2] > 0, "IDX: '", images_path, "' has images of ",
          images.dims[1], "x", images.dims[2], " pixels; expected positive sizes");

    int64_t largest = *std::max_element(labels.values.begin(), labels.values.end());
    if (class_names.empty())
        for (int64_t c = 0; c <= largest; ++c) class_names.push_back(std::to_string(c));

    ImageDataset out;
    out.channels = 1, out.height = images.dims[1], out.width = images.dims[2];
    out.pixels = std::move(images.values);
    out.labels.assign(labels.values.begin(), labels.values.end());
    out.class_names = std::move(class_names);
    for (int64_t i = 0; i < out.size(); ++i)
        check(out.labels[size_t(i)] < out.num_classes(), "IDX: '", labels_path, "', label ", i,
              " is ", out.labels[size_t(i)], "; expected 0..", out.num_classes() - 1);
    return out;
}

std::vector<std::string> fashion_mnist_class_names() {
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

ImageDataset load_fashion_mnist(Split split, const std::string& dir) {
    std::string prefix = split == Split::Train ? "train" : "t10k";
    fs::path images = fs::path(dir) / (prefix + "-images-idx3-ubyte.gz");
    fs::path labels = fs::path(dir) / (prefix + "-labels-idx1-ubyte.gz");
    std::error_code ec;
    check(fs::is_regular_file(images, ec) && fs::is_regular_file(labels, ec),
          "Fashion-MNIST: cannot find '", images.filename().string(), "' and '",
          labels.filename().string(), "' in directory '", dir,
          "'. On Debian/Ubuntu: apt-get install dataset-fashion-mnist (installs them into ",
          kFashionMnistDir, ")");
    return load_idx_dataset(images.string(), labels.string(), fashion_mnist_class_names());
}

}  // namespace attnlab::datasets
