// pixel_helpers.h — tiny pixel transformers and token images for the [pixel] tests.
#pragma once
#include "core/util/rng.h"
#include "nn/pixel/pixel_transformer.h"

namespace attnlab::testing {

// A PixelTransformer on C x H x W images small enough for finite differences.
inline std::shared_ptr<nn::PixelTransformer> tiny_pixel_model(const std::string& attention, uint64_t seed = 0,
                                                              int64_t C = 1, int64_t H = 3, int64_t W = 4,
                                                              int64_t dim = 16, int64_t depth = 2, int64_t heads = 2) {
    nn::PixelTransformerConfig cfg;
    cfg.channels = C, cfg.height = H, cfg.width = W;
    cfg.dim = dim, cfg.depth = depth, cfg.heads = heads;
    cfg.attention = attention;
    manual_seed(seed);
    auto model = std::make_shared<nn::PixelTransformer>(cfg);
    // Larger weights than the 0.02 init, so every path through the model matters in the tests.
    Generator g(seed + 99);
    for (Tensor& p : model->parameters())
        if (p.dim() >= 2) copy_(p, Tensor::randn(p.shape(), g, 0.f, 0.3f));
    model->eval();
    return model;
}

// Random pixel tokens Int64 [B, N] in [0, 256).
inline Tensor random_pixels(int64_t B, int64_t N, uint64_t seed) {
    Generator g(seed);
    std::vector<int64_t> v(size_t(B * N));
    for (int64_t& x : v) x = g.randint(256);
    return Tensor::from_indices(v, {B, N});
}

}  // namespace attnlab::testing
