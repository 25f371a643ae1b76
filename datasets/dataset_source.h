// dataset_source.h — the image sets the apps can train on, chosen by name:
//
//   cifar10          DIR/data_batch_{1..5}.bin, DIR/test_batch.bin   (cifar.h)
//   cifar100         DIR/train.bin, DIR/test.bin, 100 fine classes    (cifar.h)
//   cifar100-coarse  the same files, 20 superclasses
//   fashion-mnist    DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]  (idx.h; default DIR:
//                    Debian's dataset-fashion-mnist package), 28 x 28 grey
//   folder           DIR/train/<class>/<images> and, optionally, DIR/test/<class>/<images>;
//                    or DIR/<class>/<images> (training images only)  (image_folder.h)
//
// CIFAR images are 32 x 32 RGB, Fashion-MNIST's 28 x 28 grey; a folder's images
// are resized to image_size x image_size (RGB). Normalization: CIFAR-10's fixed per-channel statistics
// for cifar10, the training set's own mean and standard deviation otherwise
// (one pass over its bytes, O(N·C·H·W)).
#pragma once
#include <string>
#include <vector>

#include "datasets/formats/cifar.h"
#include "datasets/image_dataset.h"
#include "datasets/augment/transforms.h"

namespace attnlab::datasets {

enum class DatasetKind { Cifar10, Cifar100, Cifar100Coarse, FashionMnist, Folder };

// "cifar10", "cifar100", "cifar100-coarse", "fashion-mnist", "folder"; an unknown name is an error listing them.
DatasetKind parse_dataset_kind(const std::string& name);
const std::vector<std::string>& dataset_kind_names();

// The side of the kind's images (32 or 28); 0 for folders (any size).
int64_t native_image_size(DatasetKind kind);

// Whether `dir` holds a test split for this kind (CIFAR: always, the loader
// then checks the file; folder: a test/ subfolder).
bool has_test_split(DatasetKind kind, const std::string& dir);

// The train or test split; image_size is used by folders only (other kinds
// must be asked for their native size). An empty dir for fashion-mnist: the default.
ImageDataset load_dataset(DatasetKind kind, const std::string& dir, Split split, int64_t image_size);

// Per-channel mean and standard deviation of the pixels (as values in [0, 1]).
Normalization channel_statistics(const ImageDataset& dataset);

// The normalization a model trained on `train` of this kind uses (see above).
Normalization normalization_for(DatasetKind kind, const ImageDataset& train);

// Relabels `dataset` so that its labels index `class_names` (matched by name;
// its own classes must all be among them). Error names `what` and the known classes.
void relabel_by_name(ImageDataset& dataset, const std::vector<std::string>& class_names, const std::string& what);

}  // namespace attnlab::datasets
