// idx.h — the IDX format of MNIST and Fashion-MNIST (LeCun et al.).
//
// Format (all integers big-endian):
//   magic: 0x00 0x00 <type> <ndims>, type 0x08 = unsigned byte (the only one
//          used by these data sets); images are 0x00000803, labels 0x00000801
//   ndims uint32 sizes, then prod(sizes) values, row-major, nothing after.
// Files may be gzip-compressed (.gz); zlib reads plain files transparently.
// Cost: one pass over the (decompressed) bytes; 47 MB for Fashion-MNIST train.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/formats/cifar.h"  // Split
#include "datasets/image_dataset.h"

namespace attnlab::datasets {

struct IdxArray {
    std::vector<int64_t> dims;    // e.g. [60000, 28, 28]
    std::vector<uint8_t> values;  // prod(dims) bytes, row-major
};

// Reads an unsigned-byte IDX file (plain or .gz). Throws naming the file when
// the magic, the dimensions or the amount of data is wrong.
IdxArray read_idx_file(const std::string& path);

// Images [N, H, W] + labels [N] -> ImageDataset with channels 1. The counts
// must agree; labels must be < class_names.size() (when class_names is empty,
// names "0", "1", ... up to the largest label are made up).
ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path,
                              std::vector<std::string> class_names = {});

// Fashion-MNIST (Xiao et al., 2017): 60000 train / 10000 test 28x28 grey images
// of 10 clothing classes. Default dir: Debian's dataset-fashion-mnist package.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
std::vector<std::string> fashion_mnist_class_names();
ImageDataset load_fashion_mnist(Split split, const std::string& dir = kFashionMnistDir);

}  // namespace attnlab::datasets
