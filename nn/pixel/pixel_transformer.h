// pixel_transformer.h — a decoder-only transformer over the pixels of an image,
// trained as an autoregressive density model (Image Transformer, Parmar et al.
// 2018; "Transformers are RNNs", Katharopoulos et al. 2020, section 4.2).
//
// An image is a sequence of N = H·W·C tokens (pixel_tokens.h). Pixel t is
// predicted from pixels < t (teacher forcing: the inputs are the targets
// shifted right by one, behind a start token):
//   inputs = [start, x_0, ..., x_{N-2}]                  Int64 [B, N], start = 256
//   h      = embed(inputs) + pos                         [B, N, C]
//   h      = TransformerBlock(causal attention) × depth  pre-norm, as nn/layers/transformer_block.h
//   logits = head(LayerNorm(h))                          [B, N, 256]
//   p(x_t | x_<t) = softmax(logits_t);  loss = cross-entropy (bits/dim: bits_per_dim.h)
// The attention variant comes from the registry and must support causal masks
// (its "causal" option is forced on). Cost per image, forward: depth·16·N·C²
// (projections and MLP at mlp_ratio 2) + 2·N·C·256 (head) flops, plus the
// attention: causal softmax 2·N²·C per block, linear_elu O(N·C·D).
//
// Decoding one token at a time (generation): begin_decoding() + step() keep, per
// block, the attention's own decoding state (Attention::begin_decoding/decode_step,
// attention/attention.h): a KV cache (softmax: O(t·C) per token at position t) or
// the RNN state S [H,D,D], z [H,D] of linear attention (linear_elu: O(C·D) per
// token, constant in t). step() gives the same logits as forward() on the prefix.
#pragma once
#include <nlohmann/json.hpp>

#include "attention/attention.h"
#include "nn/layers/embedding.h"
#include "nn/pixel/pixel_tokens.h"
#include "nn/layers/transformer_block.h"

namespace attnlab::nn {

struct PixelTransformerConfig {
    int64_t channels = 1, height = 28, width = 28;  // the image; N = H·W·C tokens
    int64_t dim = 64, depth = 2, heads = 4;
    double mlp_ratio = 2.0;
    double dropout = 0.0;
    std::string attention = "softmax";  // any registry variant with a "causal" option
    attention::Options attention_options;

    int64_t seq_len() const { return channels * height * width; }
    int64_t mlp_hidden() const { return int64_t(double(dim) * mlp_ratio + 0.5); }
    void validate() const;  // throws naming the bad field and what is allowed
    nlohmann::json to_json() const;
    static PixelTransformerConfig from_json(const nlohmann::json& j);  // validates
};

// Names of the registry variants with a causal option (what a pixel transformer can use).
std::vector<std::string> causal_attention_names();

// How a model can decode one token at a time: its attention's decoding() — KVCache
// (softmax), Recurrent (linear_elu), or None (only by re-running forward on the prefix).
using StepKind = attention::Decoding;
const char* step_kind_name(StepKind k);  // "kv-cache", "recurrent", "none"

// The decoding state of every block for B sequences being generated together.
struct DecodingState {
    std::vector<std::unique_ptr<attention::DecodeState>> layers;  // per block: its attention's state
    int64_t batch = 0;
    int64_t position = 0;  // tokens consumed so far
};

class PixelTransformer : public UnaryModule {
public:
    explicit PixelTransformer(const PixelTransformerConfig& cfg);

    // Teacher forcing: pixels Int64 [B, N] (values 0..255) -> logits [B, N, 256];
    // logits[:, t] depend on pixels[:, <t] only.
    Tensor forward(const Tensor& pixels) override;
    // [start, pixels[:, :-1]]: Int64 [B, L] -> [B, L].
    static Tensor shift_right(const Tensor& pixels);
    // The final-norm hidden states for inputs Int64 [B, L] (start token first, L <= N) -> [B, L, C].
    Tensor hidden(const Tensor& inputs);

    StepKind step_kind() const;
    // A fresh state for B sequences; throws if step_kind() is None.
    DecodingState begin_decoding(int64_t B) const;
    // One token: inputs Int64 [B] (the start token at position 0, then the previous
    // pixel) -> logits [B, 256] for the pixel at state.position; advances the state.
    // Inference only (runs without autograd); the model must be in eval mode.
    Tensor step(DecodingState& state, const Tensor& inputs);

    std::string describe() const override;

    PixelTransformerConfig config;
    std::shared_ptr<Embedding> embed;  // 257 rows: pixel values 0..255, then the start token
    std::shared_ptr<PositionalEmbedding> pos_embed;
    std::vector<std::shared_ptr<TransformerBlock>> blocks;
    std::shared_ptr<LayerNorm> norm;
    std::shared_ptr<Linear> head;

    static constexpr int64_t kStartToken = kPixelLevels;

private:
    Tensor block_step(TransformerBlock& block, DecodingState& state, size_t layer, const Tensor& x);
};

}  // namespace attnlab::nn
