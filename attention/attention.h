// attention.h — the one interface every attention variant implements.
//
// The surrounding MultiHeadAttention layer projects tokens to queries, keys and
// values and splits heads (forward_packed); a variant only sees
//     q, k, v : [B, H, N, D]   ->   output : [B, H, N, D]
// (B batch, H heads, N tokens, D head dim; inputs may be strided views).
// Variants are Modules, so they may own parameters (Linformer's projections)
// or buffers (random features), and they know train/eval mode.
//
// To add a variant: write attention/<name>.{h,cpp} with a class deriving from
// Attention and a constructor (const Options&, const AttentionContext&), then
// add one line to the table in attention/registry.cpp.
#pragma once
#include <initializer_list>

#include "attention/options.h"
#include "core/util/rng.h"
#include "core/module/module.h"

namespace attnlab::attention {

// What a variant may need to know about where it is used.
struct AttentionContext {
    int64_t seq_len = 0;    // N, fixed by the model (Linformer's projections need it)
    int64_t head_dim = 0;   // D
    int64_t num_heads = 0;  // H
};

class Attention : public nn::Module {
public:
    // q, k, v [B, H, N, D] -> [B, H, N, D]
    virtual Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) = 0;
    Tensor operator()(const Tensor& q, const Tensor& k, const Tensor& v) { return forward(q, k, v); }
    // The packed projection qkv [B, N, 3·H·D] ([B, N, (q|k|v), H, D]) -> [B, H, N, D].
    // By default: split into strided q, k, v views and call forward; a variant
    // with a fused kernel may take the packed tensor whole (softmax does).
    virtual Tensor forward_packed(const Tensor& qkv, int64_t heads);

    bool causal = false;  // token i attends only to tokens j ≤ i (variants that support it)
};

// A variant's own Generator as random_state() {seed, offset, extra...}, and back
// (set_random_state): what makes --resume exact for variants that redraw.
inline nn::RandomState generator_state(const Generator& g, std::initializer_list<uint64_t> extra = {}) {
    nn::RandomState s{g.seed(), g.offset()};
    s.insert(s.end(), extra);
    return s;
}
inline void restore_generator(Generator& g, const nn::RandomState& s, size_t expected_size, const char* who) {
    check(s.size() == expected_size, who, ": random state needs ", expected_size, " values, got ", s.size());
    g.set_state(s[0], s[1]);
}

// Checks q, k, v are [B, H, N, D] with matching B, H, D and k/v lengths; `who` names the variant.
void check_qkv(const char* who, const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace attnlab::attention
