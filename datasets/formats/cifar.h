// cifar.h — the CIFAR-10 and CIFAR-100 binary files (Krizhevsky, 2009).
//
// Format: a file is a sequence of records, no header. A CIFAR-10 record is
// 1 label byte (0..9) + 3072 pixel bytes; a CIFAR-100 record is 2 label bytes
// (coarse 0..19, fine 0..99) + 3072 pixel bytes. The pixels are 1024 red,
// 1024 green, 1024 blue values, each plane row-major 32x32 — exactly the
// [C, H, W] layout of ImageDataset, so loading is one copy per record.
//   CIFAR-10:  <dir>/data_batch_1.bin .. data_batch_5.bin (train, 5 x 10000)
//              <dir>/test_batch.bin (test, 10000), names in batches.meta.txt
//   CIFAR-100: <dir>/train.bin (50000), <dir>/test.bin (10000),
//              names in fine_label_names.txt / coarse_label_names.txt
// Cost: reading 150 MB (train) from disk plus one copy.
#pragma once
#include <string>
#include <vector>

#include "datasets/image_dataset.h"

namespace attnlab::datasets {

enum class Split { Train, Test };
const char* split_name(Split split);  // "train" / "test"

inline constexpr int64_t kCifarSide = 32;
inline constexpr int64_t kCifarImageBytes = 3 * kCifarSide * kCifarSide;  // 3072

// ---- CIFAR-10 --------------------------------------------------------------
// The 10 standard names: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck.
std::vector<std::string> cifar10_standard_class_names();
// batches.meta.txt of `dir` (one name per line) if present, else the standard names.
std::vector<std::string> cifar10_class_names(const std::string& dir);

// The training set (the five data batches, in order) or the test set.
ImageDataset load_cifar10(const std::string& dir, Split split);
// One CIFAR-10 binary file; class names from batches.meta.txt beside it, if any.
ImageDataset load_cifar10_file(const std::string& path);

// The directory to read CIFAR-10 from: `cli_value` (e.g. --data DIR) if not
// empty, else $CIFAR10_DIR if set and not empty, else data/cifar-10-batches-bin.
std::string resolve_cifar10_dir(const std::string& cli_value);

// ---- CIFAR-100 -------------------------------------------------------------
enum class Cifar100Labels { Fine, Coarse };  // 100 classes, or 20 superclasses

std::vector<std::string> cifar100_standard_class_names(Cifar100Labels kind);
ImageDataset load_cifar100(const std::string& dir, Split split,
                           Cifar100Labels kind = Cifar100Labels::Fine);
ImageDataset load_cifar100_file(const std::string& path, Cifar100Labels kind = Cifar100Labels::Fine);

}  // namespace attnlab::datasets
