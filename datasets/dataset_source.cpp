// dataset_source.cpp — see dataset_source.h.
#include "datasets/dataset_source.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/util/error.h"
#include "datasets/formats/idx.h"
#include "datasets/formats/image_folder.h"

namespace attnlab::datasets {

namespace fs = std::filesystem;

const std::vector<std::string>& dataset_kind_names() {
    static const std::vector<std::string> names = {"cifar10", "cifar100", "cifar100-coarse", "fashion-mnist", "folder"};
    return names;
}

DatasetKind parse_dataset_kind(const std::string& name) {
    const std::vector<std::string>& names = dataset_kind_names();
    auto it = std::find(names.begin(), names.end(), name);
    check(it != names.end(), "unknown dataset '", name, "'; expected one of: ", join(names));
    return DatasetKind(it - names.begin());  // names are listed in the enum's order
}

// A folder dataset's root for a split: DIR/train and DIR/test when DIR/train exists, else DIR is the training set.
static std::string folder_root(const std::string& dir, Split split) {
    bool split_layout = fs::is_directory(fs::path(dir) / "train");
    if (split == Split::Train) return split_layout ? (fs::path(dir) / "train").string() : dir;
    return (fs::path(dir) / "test").string();
}

int64_t native_image_size(DatasetKind kind) {
    switch (kind) {
    case DatasetKind::FashionMnist: return 28;
    case DatasetKind::Folder: return 0;
    default: return kCifarSide;
    }
}

bool has_test_split(DatasetKind kind, const std::string& dir) {
    return kind != DatasetKind::Folder || fs::is_directory(folder_root(dir, Split::Test));
}

ImageDataset load_dataset(DatasetKind kind, const std::string& dir, Split split, int64_t image_size) {
    if (kind != DatasetKind::Folder)
        check(image_size == native_image_size(kind), dataset_kind_names()[size_t(kind)], " images are ",
              native_image_size(kind), " x ", native_image_size(kind), "; an image size of ", image_size,
              " needs --dataset folder");
    switch (kind) {
    case DatasetKind::Cifar10: return load_cifar10(dir, split);
    case DatasetKind::Cifar100: return load_cifar100(dir, split, Cifar100Labels::Fine);
    case DatasetKind::Cifar100Coarse: return load_cifar100(dir, split, Cifar100Labels::Coarse);
    case DatasetKind::FashionMnist: return load_fashion_mnist(split, dir.empty() ? kFashionMnistDir : dir);
    case DatasetKind::Folder: {
        std::string root = folder_root(dir, split);
        check(split == Split::Train || fs::is_directory(root), "folder dataset ", dir, " has no test/ subfolder (expected ",
              dir, "/train/<class>/<images> and ", dir, "/test/<class>/<images>)");
        return load_image_folder(root, 3, image_size, image_size);
    }
    }
    throw Error("load_dataset: unknown dataset kind");
}

Normalization channel_statistics(const ImageDataset& dataset) {
    check(dataset.size() > 0, "channel_statistics: empty dataset");
    const int64_t C = dataset.channels, plane = dataset.height * dataset.width;
    std::vector<double> sum(size_t(C), 0.0), sum_sq(size_t(C), 0.0);
    for (int64_t i = 0; i < dataset.size(); ++i) {
        const uint8_t* image = dataset.image(i);
        for (int64_t c = 0; c < C; ++c) {
            int64_t s = 0, s2 = 0;  // exact integer sums within one plane
            for (int64_t p = 0; p < plane; ++p) {
                int64_t v = image[c * plane + p];
                s += v, s2 += v * v;
            }
            sum[size_t(c)] += double(s), sum_sq[size_t(c)] += double(s2);
        }
    }
    Normalization norm;
    const double n = double(dataset.size()) * double(plane);
    for (int64_t c = 0; c < C; ++c) {
        double mean = sum[size_t(c)] / n / 255.0;
        double var = std::max(0.0, sum_sq[size_t(c)] / n / (255.0 * 255.0) - mean * mean);
        norm.mean.push_back(float(mean));
        norm.std.push_back(float(std::max(std::sqrt(var), 1e-3)));  // a constant channel must not divide by 0
    }
    return norm;
}

Normalization normalization_for(DatasetKind kind, const ImageDataset& train) {
    return kind == DatasetKind::Cifar10 ? Normalization::cifar10() : channel_statistics(train);
}

void relabel_by_name(ImageDataset& dataset, const std::vector<std::string>& class_names, const std::string& what) {
    std::vector<int64_t> to_new;
    for (const std::string& name : dataset.class_names) {
        auto it = std::find(class_names.begin(), class_names.end(), name);
        check(it != class_names.end(), what, ": class '", name, "' is not one of the model's classes (", join(class_names),
              ")");
        to_new.push_back(int64_t(it - class_names.begin()));
    }
    for (int64_t& label : dataset.labels) label = to_new[size_t(label)];
    dataset.class_names = class_names;
}

}  // namespace attnlab::datasets
