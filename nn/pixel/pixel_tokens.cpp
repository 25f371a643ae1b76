// pixel_tokens.cpp — see pixel_tokens.h.
#include "nn/pixel/pixel_tokens.h"

namespace attnlab::nn {

Tensor image_tokens(const datasets::ImageDataset& set, const std::vector<int64_t>& indices) {
    const int64_t C = set.channels, H = set.height, W = set.width, N = C * H * W;
    check(N > 0, "image_tokens: the dataset has no pixels (", C, "x", H, "x", W, ")");
    Tensor out = Tensor::empty({int64_t(indices.size()), N}, DType::Int64);
    int64_t* dst = out.data_as<int64_t>();
    for (size_t i = 0; i < indices.size(); ++i) {
        const int64_t idx = indices[i];
        check(idx >= 0 && idx < set.size(), "image_tokens: image index ", idx, " out of range [0, ", set.size(), ")");
        const uint8_t* img = set.image(idx);
        int64_t* row = dst + int64_t(i) * N;
        for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < H * W; ++p) row[p * C + c] = img[c * H * W + p];
    }
    return out;
}

Tensor image_tokens(const datasets::ImageDataset& set, int64_t begin, int64_t count) {
    check(begin >= 0 && count >= 0 && begin + count <= set.size(), "image_tokens: images [", begin, ", ",
          begin + count, ") out of range [0, ", set.size(), ")");
    std::vector<int64_t> indices(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) indices[size_t(i)] = begin + i;
    return image_tokens(set, indices);
}

Tensor tokens_to_images(const Tensor& tokens_in, int64_t C, int64_t H, int64_t W) {
    check(tokens_in.defined() && tokens_in.dtype() == DType::Int64 && tokens_in.dim() == 2 &&
              tokens_in.size(1) == C * H * W,
          "tokens_to_images: expected Int64 tokens [B, ", C * H * W, "] for ", C, "x", H, "x", W, " images, got ",
          tokens_in.defined() ? dtype_name(tokens_in.dtype()) : "undefined", " ",
          tokens_in.defined() ? to_string(tokens_in.shape()) : "");
    Tensor tokens = tokens_in.contiguous();
    const int64_t B = tokens.size(0), N = C * H * W;
    Tensor out = Tensor::empty({B, C, H, W});
    const int64_t* src = tokens.data_as<int64_t>();
    float* dst = out.data();
    for (int64_t b = 0; b < B; ++b)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < H * W; ++p) {
                int64_t v = src[b * N + p * C + c];
                check(v >= 0 && v < kPixelLevels, "tokens_to_images: token ", v, " is not a pixel value in [0, 255]");
                dst[(b * C + c) * H * W + p] = float(v) / 255.f;
            }
    return out;
}

}  // namespace attnlab::nn
