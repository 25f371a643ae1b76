// image_io.cpp — stb_image / stb_image_resize / stb_image_write behind small
// functions with attnlab errors (see image_io.h). The stb implementations come
// from Debian's libstb; only the declarations are included here.
#include "datasets/formats/image_io.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>

#include "core/util/error.h"
#include "core/util/file_kind.h"

namespace attnlab::datasets {

namespace fs = std::filesystem;

namespace {

// A corrupt header can claim a gigapixel image from a few bytes (stb decodes missing data as
// black): refuse before decoding. No format packs more than ~8,300 pixels per byte (deflate's
// 1032:1 on 1-bit PNG), and 64 Mpixel is above any camera photo.
void refuse_implausible_size(const std::string& path) {
    constexpr int64_t kMaxPixels = int64_t(1) << 26, kMaxPixelsPerByte = 16384;
    int file_w = 0, file_h = 0, file_channels = 0;
    std::error_code ec;
    if (stbi_info(path.c_str(), &file_w, &file_h, &file_channels)) {
        const int64_t pixels = int64_t(file_w) * file_h, bytes = int64_t(fs::file_size(path, ec));
        check(pixels <= kMaxPixels && pixels <= kMaxPixelsPerByte * bytes + (int64_t(1) << 20), "load_image: '", path,
              "' claims ", file_w, "x", file_h, " pixels in a file of ", bytes, " bytes (a corrupt header?)");
    }
}

using Decoded = std::unique_ptr<stbi_uc, void (*)(void*)>;

// The file's pixels, interleaved [h, w, channels], and its size.
Decoded decode(const std::string& path, int64_t channels, int& file_w, int& file_h) {
    int file_channels = 0;
    Decoded decoded(stbi_load(path.c_str(), &file_w, &file_h, &file_channels, int(channels)), stbi_image_free);
    if (!decoded) {
        const char* reason = stbi_failure_reason();
        throw Error(cat("load_image: cannot decode '", path, "': ", reason ? reason : "unknown error",
                        " (stb_image reads PNG, JPEG, BMP, GIF, TGA, PSD, PNM, HDR)"));
    }
    return decoded;
}

// Interleaved [h, w, C] at the target size: a copy, or a resize.
std::vector<uint8_t> at_target_size(const std::string& path, const stbi_uc* decoded, int file_w, int file_h,
                                    int64_t channels, int64_t height, int64_t width) {
    std::vector<uint8_t> hwc;
    if (file_w == width && file_h == height) {
        hwc.assign(decoded, decoded + height * width * channels);
    } else {
        hwc.resize(size_t(height * width * channels));
        int ok = stbir_resize_uint8(decoded, file_w, file_h, 0, hwc.data(), int(width), int(height), 0,
                                    int(channels));
        check(ok != 0, "load_image: cannot resize '", path, "' from ", file_h, "x", file_w, " to ", height, "x",
              width);
    }
    return hwc;
}

}  // namespace

std::vector<uint8_t> load_image_bytes(const std::string& path, int64_t channels, int64_t height,
                                      int64_t width) {
    check(channels >= 1 && channels <= 4, "load_image: channels must be 1..4, got ", channels,
          " (for '", path, "')");
    check(height > 0 && width > 0, "load_image: target size must be positive, got ", height, "x",
          width, " (for '", path, "')");
    std::error_code ec;
    if (fs::exists(path, ec)) require_regular_file(path, "load_image");  // a FIFO would block
    check(fs::is_regular_file(path, ec), "load_image: cannot find file '", path, "'");
    refuse_implausible_size(path);
    int file_w = 0, file_h = 0;
    Decoded decoded = decode(path, channels, file_w, file_h);
    std::vector<uint8_t> hwc = at_target_size(path, decoded.get(), file_w, file_h, channels, height, width);

    std::vector<uint8_t> chw(hwc.size());  // planar [C, h, w]
    const int64_t plane = height * width;
    for (int64_t p = 0; p < plane; ++p)
        for (int64_t c = 0; c < channels; ++c) chw[size_t(c * plane + p)] = hwc[size_t(p * channels + c)];
    return chw;
}

Tensor load_image(const std::string& path, int64_t channels, int64_t height, int64_t width) {
    std::vector<uint8_t> bytes = load_image_bytes(path, channels, height, width);
    Tensor out = Tensor::empty({channels, height, width});
    float* dst = out.data();
    for (size_t i = 0; i < bytes.size(); ++i) dst[i] = float(bytes[i]) * (1.f / 255.f);
    return out;
}

// A name beside `path` that no other writer (thread or process) uses.
static std::string temporary_name(const std::string& path) {
    static std::atomic<uint64_t> counter{0};
    return cat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
}

void write_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height,
               int64_t channels) {
    check(channels >= 1 && channels <= 4, "write_png: channels must be 1..4, got ", channels,
          " (for '", path, "')");
    check(width > 0 && height > 0, "write_png: size must be positive, got ", height, "x", width,
          " (for '", path, "')");
    std::error_code kind_ec;
    check(!fs::exists(path, kind_ec) || fs::is_regular_file(path, kind_ec), "write_png: '", path, "' is ",
          file_kind(path), "; give the name of a PNG file to write, like samples.png");
    std::string tmp = temporary_name(path);
    int ok = stbi_write_png(tmp.c_str(), int(width), int(height), int(channels), pixels,
                            int(width * channels));
    std::error_code ec;
    if (!ok) {
        fs::remove(tmp, ec);
        fs::path dir = fs::path(path).parent_path();
        throw Error(cat("write_png: cannot write '", path, "'",
                        !dir.empty() && !fs::is_directory(dir, ec)
                            ? cat(" (directory '", dir.string(), "' does not exist)")
                            : std::string(" (no permission or disk full?)")));
    }
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp, ec);
        throw Error(cat("write_png: cannot move the finished file to '", path, "': ", ec.message()));
    }
}

void write_png_grid(const std::string& path, const Tensor& images, int64_t columns,
                    int64_t padding, uint8_t background) {
    check(images.defined() && images.dim() == 4 && images.dtype() == DType::Float32,
          "write_png_grid: expected a float tensor [N, C, H, W], got ",
          images.defined() ? cat(to_string(images.shape()), " ", dtype_name(images.dtype()))
                           : std::string("an undefined tensor"),
          " (for '", path, "')");
    const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
    check(c == 1 || c == 3 || c == 4, "write_png_grid: expected 1, 3 or 4 channels, got shape ",
          to_string(images.shape()), " (for '", path, "')");
    check(n > 0 && columns > 0 && padding >= 0, "write_png_grid: need N > 0, columns > 0, padding >= 0; got N=",
          n, ", columns=", columns, ", padding=", padding, " (for '", path, "')");

    Tensor x = images.detach().contiguous();
    const float* src = x.data();
    const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
    const int64_t grid_w = cols * (w + padding) + padding, grid_h = rows * (h + padding) + padding;
    std::vector<uint8_t> grid(size_t(grid_w * grid_h * c), background);
    for (int64_t i = 0; i < n; ++i) {
        const int64_t top = padding + (i / cols) * (h + padding);
        const int64_t left = padding + (i % cols) * (w + padding);
        const float* image = src + i * c * h * w;
        for (int64_t y = 0; y < h; ++y)
            for (int64_t xx = 0; xx < w; ++xx)
                for (int64_t ch = 0; ch < c; ++ch) {
                    float v = image[(ch * h + y) * w + xx];
                    v = v > 0.f ? (v < 1.f ? v : 1.f) : 0.f;  // clamp; NaN -> 0
                    grid[size_t(((top + y) * grid_w + left + xx) * c + ch)] = uint8_t(v * 255.f + 0.5f);
                }
    }
    write_png(path, grid.data(), grid_w, grid_h, c);
}

}  // namespace attnlab::datasets
