// attention.h — the one interface every attention variant implements.
//
// The surrounding MultiHeadAttention layer projects tokens to queries, keys and
// values and splits heads (forward_packed); a variant only sees
//     q, k, v : [B, H, N, D]   ->   output : [B, H, N, D]
// (B batch, H heads, N tokens, D head dim; inputs may be strided views).
// Variants are Modules, so they may own parameters (Linformer's projections)
// or buffers (random features), and they know train/eval mode.
//
// To add a variant: write attention/<family>/<name>.{h,cpp} with a class deriving from
// Attention (a sparse pattern: from SparsePatternAttention, sparse/sparse_pattern.h) and a
// constructor (const Options&, const AttentionContext&) that passes the options to
// Attention(opts), add one line to the table in attention/registry.cpp (its options and their
// defaults are declared there and nowhere else), and a dense O(N²) version of it to
// attention/reference/ for the tests.
//
// The causal prefix contract. A variant with causal = true computes output i from tokens ≤ i
// only, and from nothing else that depends on N: its outputs at positions 0..t-1 of a run on N
// tokens equal its outputs on the t-token prefix alone. (A position weight taken from the input
// length, as in a first cosFormer draft, breaks it, and with it generation by re-running the
// model on the prefix.) tests/attention/test_attention_causal_contract.cpp checks it for every
// registered variant with a causal option.
//
// Decoding. A causal variant may offer a one-token step for generation (decoding() ≠ None):
// begin_decoding() makes the state for B sequences, then decode_step() takes token t's q, k, v
// [B, H, D] and returns its output [B, H, D], equal to the causal forward's at position t.
#pragma once
#include <initializer_list>
#include <memory>

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

// How a variant can decode one token at a time.
enum class Decoding {
    None,       // only by re-running forward on the prefix
    KVCache,    // keys and values so far, O(t·D) per token and head (softmax)
    Recurrent,  // a fixed-size state, O(D²) per token and head (linear_elu)
};

// A variant's per-sequence decoding state (its KV cache or recurrent state).
struct DecodeState {
    virtual ~DecodeState() = default;
};

class Attention : public nn::Module {
public:
    Attention() = default;
    // Reads the "causal" option when the variant has one: the one place `causal` is set from options.
    explicit Attention(const Options& opts) : causal(opts.has("causal") && opts.get_bool("causal")) {}

    // q, k, v [B, H, N, D] -> [B, H, N, D]
    virtual Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) = 0;
    Tensor operator()(const Tensor& q, const Tensor& k, const Tensor& v) { return forward(q, k, v); }
    // The packed projection qkv [B, N, 3·H·D] ([B, N, (q|k|v), H, D]) -> [B, H, N, D].
    // By default: split into strided q, k, v views and call forward; a variant
    // with a fused kernel may take the packed tensor whole (softmax does).
    virtual Tensor forward_packed(const Tensor& qkv, int64_t heads);

    bool causal = false;  // token i attends only to tokens j ≤ i (variants that support it)

    // One-token decoding (see the top of this file); by default there is none.
    virtual Decoding decoding() const { return Decoding::None; }
    // A fresh state for B sequences of up to N tokens, H heads of dim D; throws when decoding() is None.
    virtual std::unique_ptr<DecodeState> begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const;
    // q_t, k_t, v_t [B, H, D] -> out_t [B, H, D]; advances `state`. Inference only.
    virtual Tensor decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const;
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

// The `seed` option of variants that draw random numbers (features, blocks, rotations): a seed
// ≥ 0 is used as is; -1 draws one from default_generator(), so that every layer gets its own
// and a run is still reproducible under manual_seed(). `who` names the variant in errors.
uint64_t resolve_seed(const char* who, int64_t seed);

// Checks q, k, v are [B, H, N, D] with matching B, H, D and k/v lengths; `who` names the variant.
void check_qkv(const char* who, const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace attnlab::attention
