// cost.cpp — see cost.h. One function per variant, each the formula its header states.
#include "attention/cost.h"

#include <algorithm>
#include <functional>
#include <map>

#include "attention/sparse/block_sparse.h"
#include "attention/registry.h"
#include "core/util/error.h"

namespace attnlab::attention {

namespace {

// The sizes every formula uses: P = B·H heads, E = P·N·D floats in one [B,H,N,D] tensor.
struct Sizes {
    double P, N, D, E;
};

// Products of `forward_flops`, the input/output traffic of cost.h, plus `saved`
// floats the forward writes and the backward reads (and `params` floats of
// learned parameters, read twice and their gradient written once).
AttentionCost make_cost(const Sizes& s, double forward_flops, double saved = 0, double params = 0) {
    AttentionCost c;
    c.flops_forward = forward_flops;
    c.flops_backward = 2 * forward_flops;
    c.bytes_forward = 4 * (4 * s.E + saved + params);
    c.bytes_backward = 4 * (8 * s.E + saved + 2 * params);
    return c;
}

// Softmax attention over `pairs` (query, key) pairs per head: s = q·k, out += p·v.
AttentionCost pairs_cost(const Sizes& s, double pairs) { return make_cost(s, 4 * s.P * pairs * s.D, s.P * s.N); }

double causal_pairs(double N) { return N * (N + 1) / 2; }

using CostFn = std::function<AttentionCost(const Sizes&, const Options&)>;

const std::map<std::string, CostFn>& cost_table() {
    static const std::map<std::string, CostFn> table = {
        {"softmax",  // 4·P·N²·D (causal: N(N+1)/2 pairs)
         [](const Sizes& s, const Options& o) {
             return pairs_cost(s, o.get_bool("causal") ? causal_pairs(s.N) : s.N * s.N);
         }},
        {"linear",  // Kᵀ V and Q (KᵀV): 4·P·N·D² (causal: the same per token)
         [](const Sizes& s, const Options&) { return make_cost(s, 4 * s.E * s.D); }},
        {"linear_elu",  // 4·P·N·D² + 2·P·N·D for the normalizer φ(q_i)·z
         [](const Sizes& s, const Options&) { return make_cost(s, 4 * s.E * s.D + 2 * s.E); }},
        {"efficient",  // ρ_k(K)ᵀ V and ρ_q(Q)(…): 4·P·N·D²
         [](const Sizes& s, const Options&) { return make_cost(s, 4 * s.E * s.D); }},
        {"taylor",  // 4·P·N·D² + 2·P·N·D for the normalizer
         [](const Sizes& s, const Options&) { return make_cost(s, 4 * s.E * s.D + 2 * s.E); }},
        {"performer",  // features W q, W k: 4·P·N·M·D; φ(K)ᵀV, φ(Q)(…): 4·P·N·M·D; normalizer 2·P·N·M
         [](const Sizes& s, const Options& o) {
             double M = double(o.get_int("features"));
             return make_cost(s, 8 * s.E * M + 2 * s.P * s.N * M);
         }},
        {"rfa",  // features W q̂, W k̂: 4·P·N·M·D; 2M-dim φ in the products: 8·P·N·M·D; normalizer 4·P·N·M
         [](const Sizes& s, const Options& o) {
             double M = double(o.get_int("features"));
             return make_cost(s, 12 * s.E * M + 4 * s.P * s.N * M);
         }},
        // nystrom: Q K̃ᵀ, Q̃ Kᵀ, B̃ V, F̃ (…): 8·P·N·m·D; Q̃ K̃ᵀ, Ã⁺(…): 4·P·m²·D; pinv: 8·it·P·m³ (4 m×m
        // products per iteration); landmark means 2·P·N·D; the convolution skip 2·k·P·N·D
        {"nystrom",
         [](const Sizes& s, const Options& o) {
             double m = double(std::min<int64_t>(o.get_int("landmarks"), int64_t(s.N)));
             double it = double(o.get_int("pinv_iterations")), conv = double(o.get_int("conv_kernel"));
             return make_cost(s, 8 * s.E * m + 4 * s.P * m * m * s.D + 8 * it * s.P * m * m * m + 2 * s.E +
                                     2 * conv * s.E);
         }},
        {"linformer",  // E K, F V, Q (EK)ᵀ, P (FV): 8·P·N·k·D; + the [k, N] projections
         [](const Sizes& s, const Options& o) {
             double k = double(std::min<int64_t>(o.get_int("k"), int64_t(s.N)));
             return make_cost(s, 8 * s.E * k, 0, (o.get_bool("share_kv") ? 1 : 2) * k * s.N);
         }},
        {"sparse_strided",
         [](const Sizes& s, const Options& o) {
             return pairs_cost(s, double(sparse_strided_pairs(int64_t(s.N), o.get_int("stride"), o.get_bool("causal"))));
         }},
        {"sparse_fixed",
         [](const Sizes& s, const Options& o) {
             return pairs_cost(s, double(sparse_fixed_pairs(int64_t(s.N), o.get_int("stride"), o.get_int("summary"),
                                                            o.get_bool("causal"))));
         }},
        {"longformer",
         [](const Sizes& s, const Options& o) {
             return pairs_cost(s, double(longformer_pairs(int64_t(s.N), o.get_int("window"), o.get_int("dilation"),
                                                          o.get_int("global_tokens"), o.get_bool("causal"))));
         }},
        {"bigbird",
         [](const Sizes& s, const Options& o) {
             return pairs_cost(s, double(bigbird_pairs(int64_t(s.N), o.get_int("block"), o.get_int("global_blocks"),
                                                       o.get_int("random_blocks"), o.get_bool("causal"))));
         }},
        {"reformer",  // hashing P·n_h·N·D·b; per round every query scores its chunk and the previous: N·2m − m² pairs
         [](const Sizes& s, const Options& o) {
             double nh = double(o.get_int("n_hashes")), b = double(o.get_int("buckets"));
             double m = double(std::min<int64_t>(o.get_int("chunk"), int64_t(s.N)));
             double pairs = s.N * 2 * m - m * m;
             return make_cost(s, nh * (s.E * b + 4 * s.P * pairs * s.D), 2 * nh * s.P * s.N);
         }},
    };
    return table;
}

}  // namespace

AttentionCost attention_cost(const std::string& name, const Options& opts, int64_t B, int64_t H, int64_t N, int64_t D) {
    const VariantInfo& info = attention_info(name);  // unknown name -> error listing the valid ones
    Options full;
    for (const OptionSpec& spec : info.options) full.set(spec.name, spec.default_value);
    for (const auto& [key, value] : opts.values()) full.set(key, value);
    auto fn = cost_table().find(name);
    check(fn != cost_table().end(), "attention_cost: no cost formula for variant '", name, "' (add one to attention/cost.cpp)");
    const double P = double(B) * double(H);
    return fn->second(Sizes{P, double(N), double(D), P * double(N) * double(D)}, full);
}

int64_t sparse_strided_pairs(int64_t N, int64_t stride, bool causal) {
    const int64_t l = stride > 0 ? stride : ceil_sqrt(N);
    int64_t pairs = 0;
    for (int64_t i = 0; i < N; ++i) {  // |i − j| < l, or l divides i − j; j = i is in both
        if (causal) pairs += std::min(i, l - 1) + i / l + 1;
        else pairs += std::min(i, l - 1) + std::min(N - 1 - i, l - 1) + (N - i % l + l - 1) / l;
    }
    return pairs;
}

int64_t sparse_fixed_pairs(int64_t N, int64_t stride, int64_t summary, bool causal) {
    const int64_t l = stride > 0 ? stride : ceil_sqrt(N), c = summary;
    auto summaries_in = [&](int64_t start) { return std::max<int64_t>(0, std::min(N - start, l) - (l - c)); };
    int64_t all_summaries = 0;
    for (int64_t start = 0; start < N; start += l) all_summaries += summaries_in(start);
    int64_t pairs = 0;
    for (int64_t i = 0; i < N; ++i) {  // i's own block, and the last c columns of every block
        const int64_t start = i / l * l;
        if (causal) pairs += (i - start + 1) + (i / l) * c;
        else pairs += std::min(N - start, l) + all_summaries - summaries_in(start);
    }
    return pairs;
}

int64_t longformer_pairs(int64_t N, int64_t window, int64_t dilation, int64_t global_tokens, bool causal) {
    const int64_t g = std::min(global_tokens, N), half = window / 2;
    int64_t pairs = 0;
    for (int64_t i = 0; i < N; ++i) {
        if (i < g) {  // a global token sees everything
            pairs += causal ? i + 1 : N;
            continue;
        }
        pairs += g;  // the global tokens, then the non-global window keys
        for (int64_t t = -half; t <= (causal ? 0 : half); ++t) {
            const int64_t j = i + t * dilation;
            if (j >= g && j < N) ++pairs;
        }
    }
    return pairs;
}

int64_t bigbird_pairs(int64_t N, int64_t block, int64_t global_blocks, int64_t random_blocks, bool causal) {
    const int64_t b = block, nb = (N + b - 1) / b, g = std::min(global_blocks, nb);
    auto size_of = [&](int64_t t) { return std::min(b, N - t * b); };
    int64_t global_keys = 0;
    for (int64_t t = 0; t < g; ++t) global_keys += size_of(t);
    int64_t pairs = 0;
    for (int64_t i = 0; i < N; ++i) {
        const int64_t t = i / b;
        if (t < g) {  // a global block sees everything
            pairs += causal ? i + 1 : N;
            continue;
        }
        int64_t keys = global_keys, pool = 0, window_blocks = 0;  // pool: the blocks the random ones are drawn from
        for (int64_t s = std::max(g, t - 1); s <= std::min(nb - 1, t + 1); ++s)
            if (!causal || s < t) keys += size_of(s);
        if (causal) keys += i - t * b + 1;  // own block up to i
        for (int64_t s = std::max(g, t - 1); s <= std::min(nb - 1, t + 1); ++s) ++window_blocks;
        pool = causal ? std::max<int64_t>(0, t - 1 - g) : nb - g - window_blocks;  // s ∈ [g, t−2] when causal
        keys += std::min(random_blocks, pool) * b;
        pairs += keys;
    }
    return pairs;
}

}  // namespace attnlab::attention
