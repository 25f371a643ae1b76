// image_folder.h — a labelled image set stored as one folder per class.
//
// Layout: root/<class name>/<file>.{png,jpg,jpeg,bmp} (extension case is
// ignored; other files and hidden folders are skipped). Classes are the subfolders sorted by
// name, label = position in that order; files within a class are sorted by
// name. Every image is decoded, converted to `channels` and resized to
// height x width (see image_io.h). Cost: one decode per file, O(N*C*H*W) bytes.
#pragma once
#include <cstdint>
#include <string>

#include "datasets/image_dataset.h"

namespace attnlab::datasets {

ImageDataset load_image_folder(const std::string& root, int64_t channels, int64_t height,
                               int64_t width);

}  // namespace attnlab::datasets
