// cifar.cpp — reading and checking CIFAR-10/100 binary files (format in cifar.h).
// A file is read whole, checked (size, labels), then its records are copied
// into an ImageDataset: O(file size) time, file size + dataset of memory.
#include "datasets/formats/cifar.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/util/error.h"
#include "core/util/file_kind.h"

namespace attnlab::datasets {

namespace fs = std::filesystem;

const char* split_name(Split split) { return split == Split::Train ? "train" : "test"; }

static const char* kHowToGetCifar10 =
    "Get CIFAR-10 with `make data` (downloads the binary version into data/cifar-10-batches-bin), "
    "or point to an existing copy with --data DIR or the environment variable $CIFAR10_DIR.";

// What a record looks like: `label_bytes` leading label bytes, of which byte
// `label_byte` is the label we keep, then 3072 pixel bytes.
struct RecordFormat {
    const char* dataset;    // "CIFAR-10" / "CIFAR-100"
    int64_t label_bytes;    // 1 / 2
    int64_t label_byte;     // which of them is the label
    const char* label_kind; // for messages: "label" / "fine label" / "coarse label"
    int64_t record_bytes() const { return label_bytes + kCifarImageBytes; }
};

static std::vector<uint8_t> read_whole_file(const std::string& path, const char* dataset,
                                            const char* how_to_get) {
    std::error_code ec;
    if (fs::exists(path, ec)) require_regular_file(path, dataset);  // a FIFO would block, a directory read as empty
    if (!fs::is_regular_file(path, ec)) {
        fs::path dir = fs::path(path).parent_path();
        std::string where = dir.empty() ? std::string("the current directory")
                                        : "directory '" + dir.string() + "'";
        if (!dir.empty() && !fs::is_directory(dir, ec)) where += " (which does not exist)";
        throw Error(cat(dataset, ": cannot find file '", fs::path(path).filename().string(), "' in ",
                        where, ". ", how_to_get));
    }
    std::ifstream in(path, std::ios::binary);
    check(bool(in), dataset, ": cannot open '", path, "' for reading");
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    in.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(size_t(size > 0 ? size : 0));
    in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size()));
    check(bool(in), dataset, ": error reading '", path, "' (", bytes.size(), " bytes expected)");
    return bytes;
}

static ImageDataset parse_records(const std::vector<uint8_t>& bytes, const std::string& path,
                                  const RecordFormat& format,
                                  std::vector<std::string> class_names) {
    const int64_t record = format.record_bytes();
    const int64_t size = int64_t(bytes.size());
    check(size > 0, format.dataset, ": file '", path, "' is empty (0 bytes); expected records of ",
          record, " bytes (", format.label_bytes, " label byte(s) + ", kCifarImageBytes,
          " pixel bytes)");
    if (size % record != 0) {
        std::string hint;
        if (format.label_bytes == 1 && size % (record + 1) == 0)
            hint = " (its size is a multiple of 3074: is it a CIFAR-100 file?)";
        if (format.label_bytes == 2 && size % (record - 1) == 0)
            hint = " (its size is a multiple of 3073: is it a CIFAR-10 file?)";
        throw Error(cat(format.dataset, ": file '", path, "' has ", size,
                        " bytes, not a multiple of the record size ", record, " (",
                        format.label_bytes, " label byte(s) + ", kCifarImageBytes,
                        " pixel bytes): ", size / record, " whole records and ", size % record,
                        " bytes left over; the file looks truncated or is not a ",
                        format.dataset, " binary file", hint));
    }
    const int64_t n = size / record;
    const int64_t num_classes = int64_t(class_names.size());

    ImageDataset out;
    out.channels = 3, out.height = kCifarSide, out.width = kCifarSide;
    out.class_names = std::move(class_names);
    out.labels.resize(size_t(n));
    out.pixels.resize(size_t(n * kCifarImageBytes));
    for (int64_t i = 0; i < n; ++i) {
        const uint8_t* rec = bytes.data() + i * record;
        int64_t label = rec[format.label_byte];
        check(label < num_classes, format.dataset, ": file '", path, "', record ", i, " (byte offset ",
              i * record, ") has ", format.label_kind, " ", label, "; expected 0..",
              num_classes - 1);
        out.labels[size_t(i)] = label;
        std::copy_n(rec + format.label_bytes, kCifarImageBytes,
                    out.pixels.data() + i * kCifarImageBytes);
    }
    return out;
}

// One name per line; blank lines and trailing spaces/CRs ignored.
static std::vector<std::string> read_names_file(const fs::path& path, size_t expected,
                                                const char* dataset) {
    std::ifstream in(path);
    check(bool(in), dataset, ": cannot open '", path.string(), "'");
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        if (!line.empty()) names.push_back(line);
    }
    check(names.size() == expected, dataset, ": '", path.string(), "' lists ", names.size(),
          " class names, expected ", expected);
    return names;
}

// ---- CIFAR-10 --------------------------------------------------------------

static const RecordFormat kCifar10Format{"CIFAR-10", 1, 0, "label"};

std::vector<std::string> cifar10_standard_class_names() {
    return {"airplane", "automobile", "bird", "cat", "deer",
            "dog",      "frog",       "horse", "ship", "truck"};
}

std::vector<std::string> cifar10_class_names(const std::string& dir) {
    fs::path meta = fs::path(dir) / "batches.meta.txt";
    std::error_code ec;
    if (!fs::is_regular_file(meta, ec)) return cifar10_standard_class_names();
    return read_names_file(meta, 10, "CIFAR-10");
}

ImageDataset load_cifar10_file(const std::string& path) {
    std::vector<uint8_t> bytes = read_whole_file(path, "CIFAR-10", kHowToGetCifar10);
    std::string dir = fs::path(path).parent_path().string();
    return parse_records(bytes, path, kCifar10Format, cifar10_class_names(dir.empty() ? "." : dir));
}

ImageDataset load_cifar10(const std::string& dir, Split split) {
    std::vector<std::string> files;
    if (split == Split::Train)
        for (int b = 1; b <= 5; ++b) files.push_back(cat("data_batch_", b, ".bin"));
    else
        files.push_back("test_batch.bin");
    std::vector<std::string> names = cifar10_class_names(dir);
    ImageDataset out;
    for (const std::string& file : files) {
        std::string path = (fs::path(dir) / file).string();
        out.append(parse_records(read_whole_file(path, "CIFAR-10", kHowToGetCifar10), path,
                                 kCifar10Format, names));
    }
    return out;
}

std::string resolve_cifar10_dir(const std::string& cli_value) {
    if (!cli_value.empty()) return cli_value;
    if (const char* env = std::getenv("CIFAR10_DIR"); env && *env) return env;
    return "data/cifar-10-batches-bin";
}

// ---- CIFAR-100 -------------------------------------------------------------

static const char* kHowToGetCifar100 =
    "CIFAR-100 (binary version) is https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz; "
    "extract it and pass the cifar-100-binary directory.";

static RecordFormat cifar100_format(Cifar100Labels kind) {
    return kind == Cifar100Labels::Fine ? RecordFormat{"CIFAR-100", 2, 1, "fine label"}
                                        : RecordFormat{"CIFAR-100", 2, 0, "coarse label"};
}

std::vector<std::string> cifar100_standard_class_names(Cifar100Labels kind) {
    if (kind == Cifar100Labels::Coarse)
        return {"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
                "household_electrical_devices", "household_furniture", "insects",
                "large_carnivores", "large_man-made_outdoor_things",
                "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
                "medium_mammals", "non-insect_invertebrates", "people", "reptiles",
                "small_mammals", "trees", "vehicles_1", "vehicles_2"};
    return {"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
            "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
            "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
            "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest",
            "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower",
            "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
            "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
            "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
            "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew",
            "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
            "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
            "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree",
            "wolf", "woman", "worm"};
}

static std::vector<std::string> cifar100_class_names(const std::string& dir, Cifar100Labels kind) {
    bool fine = kind == Cifar100Labels::Fine;
    fs::path file = fs::path(dir) / (fine ? "fine_label_names.txt" : "coarse_label_names.txt");
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return cifar100_standard_class_names(kind);
    return read_names_file(file, fine ? 100 : 20, "CIFAR-100");
}

ImageDataset load_cifar100_file(const std::string& path, Cifar100Labels kind) {
    std::vector<uint8_t> bytes = read_whole_file(path, "CIFAR-100", kHowToGetCifar100);
    std::string dir = fs::path(path).parent_path().string();
    return parse_records(bytes, path, cifar100_format(kind),
                         cifar100_class_names(dir.empty() ? "." : dir, kind));
}

ImageDataset load_cifar100(const std::string& dir, Split split, Cifar100Labels kind) {
    std::string path = (fs::path(dir) / (split == Split::Train ? "train.bin" : "test.bin")).string();
    return parse_records(read_whole_file(path, "CIFAR-100", kHowToGetCifar100), path,
                         cifar100_format(kind), cifar100_class_names(dir, kind));
}

}  // namespace attnlab::datasets
