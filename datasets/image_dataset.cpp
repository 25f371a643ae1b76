// image_dataset.cpp — slicing, selecting, appending and checking ImageDatasets.
// Every operation copies bytes: O(images taken x C*H*W).
#include "datasets/image_dataset.h"

#include <algorithm>

#include "core/util/error.h"

namespace attnlab::datasets {

static ImageDataset same_shape_empty(const ImageDataset& d) {
    ImageDataset out;
    out.channels = d.channels, out.height = d.height, out.width = d.width;
    out.class_names = d.class_names;
    return out;
}

ImageDataset ImageDataset::subset(int64_t begin, int64_t end) const {
    check(0 <= begin && begin <= end && end <= size(), "ImageDataset::subset: range [", begin, ", ",
          end, ") is not inside [0, ", size(), ")");
    ImageDataset out = same_shape_empty(*this);
    out.pixels.assign(pixels.begin() + begin * image_bytes(), pixels.begin() + end * image_bytes());
    out.labels.assign(labels.begin() + begin, labels.begin() + end);
    return out;
}

ImageDataset ImageDataset::select(const std::vector<int64_t>& indices) const {
    ImageDataset out = same_shape_empty(*this);
    const int64_t bytes = image_bytes();
    out.pixels.resize(indices.size() * size_t(bytes));
    out.labels.resize(indices.size());
    for (size_t k = 0; k < indices.size(); ++k) {
        int64_t i = indices[k];
        check(0 <= i && i < size(), "ImageDataset::select: index ", i, " (position ", k,
              ") is outside [0, ", size(), ")");
        std::copy_n(image(i), bytes, out.pixels.data() + int64_t(k) * bytes);
        out.labels[k] = labels[size_t(i)];
    }
    return out;
}

void ImageDataset::append(const ImageDataset& other) {
    if (size() == 0 && pixels.empty() && class_names.empty()) {
        *this = other;
        return;
    }
    check(other.channels == channels && other.height == height && other.width == width,
          "ImageDataset::append: images are ", other.channels, "x", other.height, "x", other.width,
          ", expected ", channels, "x", height, "x", width, " (C x H x W)");
    check(other.class_names == class_names,
          "ImageDataset::append: the two datasets have different class names");
    pixels.insert(pixels.end(), other.pixels.begin(), other.pixels.end());
    labels.insert(labels.end(), other.labels.begin(), other.labels.end());
}

std::vector<int64_t> ImageDataset::class_counts() const {
    std::vector<int64_t> counts(class_names.size(), 0);
    for (int64_t label : labels)
        if (label >= 0 && label < num_classes()) ++counts[size_t(label)];
    return counts;
}

void ImageDataset::validate(const std::string& what) const {
    check(channels > 0 && height > 0 && width > 0, what, ": image shape ", channels, "x", height,
          "x", width, " (C x H x W) has a non-positive dimension");
    check(int64_t(pixels.size()) == size() * image_bytes(), what, ": ", pixels.size(),
          " pixel bytes for ", size(), " images of ", image_bytes(), " bytes; expected ",
          size() * image_bytes());
    check(!class_names.empty(), what, ": no class names");
    for (int64_t i = 0; i < size(); ++i) {
        int64_t label = labels[size_t(i)];
        check(0 <= label && label < num_classes(), what, ": image ", i, " has label ", label,
              ", expected 0..", num_classes() - 1);
    }
}

}  // namespace attnlab::datasets
