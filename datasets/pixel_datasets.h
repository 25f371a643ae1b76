// pixel_datasets.h — the image sets the pixel models train on, by name.
//
//   fashion-mnist  28x28x1 =  784 tokens; Debian's dataset-fashion-mnist (or --data DIR)
//   mnist          28x28x1 =  784 tokens; the official IDX files in a directory the user supplies:
//                  train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
//                  t10k-labels-idx1-ubyte (each plain or .gz; "-idx3" may also be ".idx3")
//   cifar10        32x32x3 = 3072 tokens; the binary version (--data DIR, else $CIFAR10_DIR,
//                  else data/cifar-10-batches-bin)
// Cost: reading the files once.
#pragma once
#include <string>
#include <vector>

#include "datasets/formats/cifar.h"
#include "datasets/image_dataset.h"

namespace attnlab::datasets {

std::vector<std::string> pixel_dataset_names();  // fashion-mnist, mnist, cifar10
// Throws listing the names when `name` is unknown, and naming the files when they are missing.
ImageDataset load_pixel_dataset(const std::string& name, const std::string& dir, Split split);
// The absolute directory load_pixel_dataset reads for (name, dir), to record in a checkpoint
// ("" for mnist without a directory).
std::string resolve_pixel_dataset_dir(const std::string& name, const std::string& dir);

}  // namespace attnlab::datasets
