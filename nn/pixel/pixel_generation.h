// pixel_generation.h — sampling images from a PixelTransformer, token by token,
// along three paths that compute the same distribution at different costs
// (per image of N tokens, C channels, depth L, head dim D; position t):
//
//   recurrent (linear_elu): step() with the RNN state S, z per block and head —
//              O(L·(C² + C·D)) per token, constant in t: O(N) per image.
//   kv-cache  (softmax):    step() with the keys and values so far —
//              O(L·(C² + t·C)) per token: O(N²) per image. The fair softmax baseline.
//   uncached  (any causal variant): re-runs the whole model on the prefix for
//              every new token — O(L·(t·C² + t²·C)) per token: O(N³) per image.
//              The naive baseline ("Transformers are RNNs", table 2).
//
// Sampling: p = softmax(logits / temperature), one uniform draw per image and
// sampled token from a seeded Generator in a fixed order, so every path draws
// the same numbers and, from the same seed, gives the same images up to float
// rounding. Completion: a prefix of P tokens (the top rows) is fed as given and
// only tokens P..N-1 are sampled. Runs without autograd, in eval mode; the B
// images of a call are generated together (batched matrix products).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/util/rng.h"
#include "nn/pixel/pixel_transformer.h"

namespace attnlab::nn {

enum class GenerationPath { Recurrent, KVCache, Uncached };
const char* generation_path_name(GenerationPath p);            // "recurrent", "kv-cache", "uncached"
GenerationPath parse_generation_path(const std::string& name);  // throws listing the valid names
// The paths `model` supports: its one-token step (if any), then uncached.
std::vector<GenerationPath> supported_paths(const PixelTransformer& model);
// Throws naming the model's attention and the paths it supports.
void check_path_supported(const PixelTransformer& model, GenerationPath path);

struct GenerateOptions {
    GenerationPath path = GenerationPath::Uncached;
    float temperature = 1.f;  // > 0
    uint64_t seed = 0;
    std::function<void(int64_t done, int64_t total)> on_token;  // after each token position
};

// Samples B images: Int64 tokens [B, N]. With `prefix` Int64 [B, P] (0 <= P < N),
// the first P tokens are the prefix's and the rest are sampled (completion).
Tensor generate(PixelTransformer& model, int64_t B, const GenerateOptions& options, const Tensor& prefix = Tensor());

// What a path computes when fed given pixels: [B, L] -> logits [B, L, 256], where
// logits[:, t] come after consuming [start, pixels[:, <t]]. Equals forward(pixels)
// on the first L positions up to rounding (what the tests check).
Tensor path_logits(PixelTransformer& model, const Tensor& pixels, GenerationPath path);

// One draw per row of logits [B, K]: x_b ~ softmax(logits_b / temperature) by inverse CDF.
std::vector<int64_t> sample_rows(const Tensor& logits, float temperature, Generator& gen);

struct GenerationTiming {
    GenerationPath path = GenerationPath::Uncached;
    int64_t images = 0, tokens_per_image = 0;
    double seconds = 0;      // wall clock
    double cpu_seconds = 0;  // CPU time of the process (all threads): robust to other load on the machine
    double images_per_second() const { return seconds > 0 ? double(images) / seconds : 0; }
    double images_per_cpu_second() const { return cpu_seconds > 0 ? double(images) / cpu_seconds : 0; }
};

// Process CPU time in seconds (CLOCK_PROCESS_CPUTIME_ID).
double process_cpu_seconds();

// Generates `images` complete images in batches of `batch` and times it (wall clock and CPU time).
GenerationTiming time_generation(PixelTransformer& model, GenerationPath path, int64_t images, int64_t batch,
                                 uint64_t seed, const std::function<void(int64_t done, int64_t total)>& on_token = {});

}  // namespace attnlab::nn
