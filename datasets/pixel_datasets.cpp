// pixel_datasets.cpp — see pixel_datasets.h.
#include "datasets/pixel_datasets.h"

#include <filesystem>

#include "core/util/error.h"
#include "datasets/formats/idx.h"

namespace attnlab::datasets {

namespace fs = std::filesystem;

std::vector<std::string> pixel_dataset_names() { return {"fashion-mnist", "mnist", "cifar10"}; }

// The first of <dir>/<prefix>{-,.}<kind>-ubyte{,.gz} that exists.
static std::string find_idx(const std::string& dir, const std::string& prefix, const std::string& kind) {
    for (const char* sep : {"-", "."})
        for (const char* ext : {"", ".gz"}) {
            fs::path p = fs::path(dir) / (prefix + sep + kind + "-ubyte" + ext);
            if (fs::is_regular_file(p)) return p.string();
        }
    throw Error(cat("MNIST: cannot find '", prefix, "-", kind, "-ubyte' (or .gz) in directory '", dir,
                    "'; pass the directory holding the official MNIST IDX files with --data DIR"));
}

ImageDataset load_pixel_dataset(const std::string& name, const std::string& dir, Split split) {
    if (name == "fashion-mnist") return load_fashion_mnist(split, dir.empty() ? kFashionMnistDir : dir);
    if (name == "mnist") {
        check(!dir.empty(), "MNIST is not installed with attnlab: pass the directory holding the official IDX files ",
              "(train-images-idx3-ubyte.gz, ...) with --data DIR");
        const std::string prefix = split == Split::Train ? "train" : "t10k";
        std::vector<std::string> digits;
        for (int d = 0; d < 10; ++d) digits.push_back(std::to_string(d));
        const std::string images = find_idx(dir, prefix, "images-idx3");
        const std::string labels = find_idx(dir, prefix, "labels-idx1");
        return load_idx_dataset(images, labels, digits);
    }
    if (name == "cifar10") return load_cifar10(resolve_cifar10_dir(dir), split);
    throw Error(cat("unknown dataset '", name, "'; valid datasets: ", join(pixel_dataset_names())));
}

std::string resolve_pixel_dataset_dir(const std::string& name, const std::string& dir) {
    std::string d = dir;
    if (name == "fashion-mnist" && d.empty()) d = kFashionMnistDir;
    if (name == "cifar10") d = resolve_cifar10_dir(dir);
    return d.empty() ? d : fs::absolute(d).lexically_normal().string();
}

}  // namespace attnlab::datasets
