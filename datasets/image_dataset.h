// image_dataset.h — a labelled set of same-sized images held in memory as bytes.
//
// Layout: pixels is [N, C, H, W] row-major uint8 (image i starts at byte
// i*C*H*W; within an image, channel planes one after another), labels[i] is
// the class of image i and indexes class_names. Every loader of this folder
// (CIFAR, IDX, image folders) produces one; the DataLoader turns it into
// float batches. CIFAR-10 train is 50000 x 3 x 32 x 32 = 150 MB.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attnlab::datasets {

struct ImageDataset {
    int64_t channels = 0, height = 0, width = 0;
    std::vector<uint8_t> pixels;            // [N, C, H, W]
    std::vector<int64_t> labels;            // [N], each in [0, num_classes())
    std::vector<std::string> class_names;   // label -> name

    int64_t size() const { return int64_t(labels.size()); }
    int64_t image_bytes() const { return channels * height * width; }  // C*H*W
    int64_t num_classes() const { return int64_t(class_names.size()); }
    const uint8_t* image(int64_t i) const { return pixels.data() + i * image_bytes(); }

    // Images [begin, end) as a new dataset (copies; same class names).
    ImageDataset subset(int64_t begin, int64_t end) const;
    // Images at the given indices, in that order (repeats allowed).
    ImageDataset select(const std::vector<int64_t>& indices) const;
    // Appends the images of `other`, which must have the same C, H, W and class names.
    void append(const ImageDataset& other);

    // Number of images of each class, [num_classes()].
    std::vector<int64_t> class_counts() const;
    // Throws attnlab::Error naming `what` unless pixels/labels/shape agree and
    // every label is in [0, num_classes()).
    void validate(const std::string& what) const;
};

}  // namespace attnlab::datasets
