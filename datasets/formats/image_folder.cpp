// image_folder.cpp — scanning root/<class>/<image> and decoding every image
// into one ImageDataset (layout in image_folder.h).
#include "datasets/formats/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <vector>

#include "core/util/error.h"
#include "datasets/formats/image_io.h"

namespace attnlab::datasets {

namespace fs = std::filesystem;

static bool is_image_file(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char ch) { return char(std::tolower(ch)); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

template <class Keep>
static std::vector<fs::path> sorted_entries(const fs::path& dir, Keep keep) {
    std::vector<fs::path> out;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir))
        if (keep(entry)) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

ImageDataset load_image_folder(const std::string& root, int64_t channels, int64_t height,
                               int64_t width) {
    std::error_code ec;
    check(fs::is_directory(root, ec), "load_image_folder: '", root,
          "' is not a directory; expected root/<class name>/<image files>");
    std::vector<fs::path> class_dirs =
        sorted_entries(root, [](const fs::directory_entry& e) {
            return e.is_directory() && e.path().filename().string().front() != '.';  // skip .git etc.
        });
    check(!class_dirs.empty(), "load_image_folder: '", root,
          "' has no subfolders; expected one subfolder of images per class");

    ImageDataset out;
    out.channels = channels, out.height = height, out.width = width;
    const size_t image_bytes = size_t(channels * height * width);
    for (size_t label = 0; label < class_dirs.size(); ++label) {
        const fs::path& class_dir = class_dirs[label];
        out.class_names.push_back(class_dir.filename().string());
        std::vector<fs::path> files = sorted_entries(class_dir, [](const fs::directory_entry& e) {
            return e.is_regular_file() && is_image_file(e.path());
        });
        check(!files.empty(), "load_image_folder: class folder '", class_dir.string(),
              "' has no image files (.png, .jpg, .jpeg, .bmp)");
        for (const fs::path& file : files) {
            std::vector<uint8_t> image = load_image_bytes(file.string(), channels, height, width);
            out.pixels.insert(out.pixels.end(), image.begin(), image.begin() + ptrdiff_t(image_bytes));
            out.labels.push_back(int64_t(label));
        }
    }
    return out;
}

}  // namespace attnlab::datasets
