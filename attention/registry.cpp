// registry.cpp — the table of attention variants: one line each.
#include "attention/registry.h"

#include "attention/sparse/bigbird.h"
#include "attention/kernel/efficient.h"
#include "attention/kernel/linear.h"
#include "attention/kernel/linear_elu.h"
#include "attention/low_rank/linformer.h"
#include "attention/sparse/longformer.h"
#include "attention/low_rank/nystrom.h"
#include "attention/kernel/performer.h"
#include "attention/hashing/reformer.h"
#include "attention/kernel/rfa.h"
#include "attention/sparse/sparse_fixed.h"
#include "attention/softmax/softmax.h"
#include "attention/sparse/sparse_strided.h"
#include "attention/kernel/taylor.h"
#include "core/util/error.h"

namespace attnlab::attention {

template <class T>
static std::shared_ptr<Attention> create(const Options& o, const AttentionContext& c) {
    return std::make_shared<T>(o, c);
}

const std::vector<VariantInfo>& attention_variants() {
    static const std::vector<VariantInfo> table = {
        // name, one-line description, complexity, options {name, default, help}, factory
        {"softmax", "full scaled dot-product attention softmax(QKᵀ/√D)V", "O(N²D) time, O(ND) memory (fused, FlashAttention-style)",
         {{"causal", false, "token i attends to tokens j ≤ i only"}}, create<SoftmaxAttention>},
        {"linear", "softmax-free attention reassociated as Q(KᵀV)/D", "O(ND²) time, O(D²) memory (causal O(ND))",
         {{"causal", false, "token i attends to tokens j ≤ i only"}}, create<LinearAttention>},
        {"linear_elu", "Katharopoulos et al. 2020: φ(x)=elu(x)+1, φ(Q)(φ(K)ᵀV) row-normalized", "O(ND²) time, O(ND) memory",
         {{"causal", false, "token i attends to tokens j ≤ i only"}, {"eps", 1e-6, "added to the normalizer"}},
         create<LinearEluAttention>},
        {"efficient", "Shen et al. 2021: softmax_rows(Q)(softmax_cols(K)ᵀV)", "O(ND²) time, O(ND) memory", {},
         create<EfficientAttention>},
        {"taylor", "Li et al. 2020: first-order Taylor sim 1+q̂·k̂ (unit q, k), row-normalized", "O(ND²) time, O(ND) memory",
         {{"causal", false, "token i attends to tokens j ≤ i only"}, {"eps", 1e-6, "added to the normalizer"}},
         create<TaylorAttention>},
        {"linformer", "Wang et al. 2020: softmax(Q(EK)ᵀ/√D)(FV), learned E, F ∈ R^{k×N}", "O(NkD) time, O(Nk) memory",
         {{"k", int64_t(32), "projected length (clamped to N)"}, {"share_kv", false, "use one projection E = F"}},
         create<LinformerAttention>},
        {"rfa", "Random Feature Attention: sin/cos random Fourier features of L2-normalized q, k ≈ softmax(q̂k̂ᵀ/σ²)V",
         "O(N·M·D) time, O(N·M + N·D) memory",
         {{"features", int64_t(64), "number M of random frequencies (feature dim 2M)"},
          {"sigma", 1.0, "kernel width σ: W ~ N(0, σ⁻²I), approximates softmax(q̂·k̂/σ²)"},
          {"redraw", false, "draw new frequencies at every training forward"},
          {"seed", int64_t(-1), "seed of the frequencies; -1 draws one from the global generator"},
          {"causal", false, "token i attends to tokens j ≤ i only (prefix sums)"}},
         create<RandomFeatureAttention>},
        {"performer", "Performer FAVOR+: positive orthogonal random features exp(Wx − ‖x‖²/2) ≈ softmax(QKᵀ/√D)V",
         "O(N·M·D) time, O(N·M + N·D) memory",
         {{"features", int64_t(64), "number M of random features"},
          {"redraw_interval", int64_t(0), "draw a new projection every this many training forwards; 0 = never"},
          {"seed", int64_t(-1), "seed of the projection; -1 draws one from the global generator"},
          {"causal", false, "token i attends to tokens j ≤ i only (prefix sums)"},
          {"orthogonal", true, "orthogonal rows of W (false: i.i.d. Gaussian rows)"},
          {"trig", false, "trigonometric features sin/cos(Wx)·exp(‖x‖²/2): signed, for measuring the approximation"}},
         create<PerformerAttention>},
        {"nystrom", "Nyströmformer: segment-mean landmarks, softmax(QK̃ᵀ)·pinv(softmax(Q̃K̃ᵀ))·softmax(Q̃Kᵀ)V",
         "O(N·m·D + m³) time, O(N·m + N·D + m²) memory",
         {{"landmarks", int64_t(16), "number m of landmarks (segment means), 1 ≤ m ≤ N"},
          {"pinv_iterations", int64_t(6), "iterations of the pseudoinverse iteration"},
          {"conv_kernel", int64_t(0), "odd kernel size of the depthwise convolution skip on V; 0 = off"}},
         create<NystromAttention>},
        {"sparse_strided", "Child et al. 2019, strided: j with |i−j| < l or l | i−j (both factorized heads merged)",
         "O(N(3l+N/l)D) time, O(N(3l+N/l)) memory; O(N√N·D) at l=√N",
         {{"stride", int64_t(0), "l: window and stride (0 = ⌈√N⌉ of the model's N)"}, {"causal", false, "token i attends to tokens j ≤ i only"}},
         create<SparseStridedAttention>},
        {"sparse_fixed", "Child et al. 2019, fixed: j in i's block of l or among the last c columns of any block (merged)",
         "O(N(l+cN/l)D) time, O(N(l+cN/l)) memory; O(N√N·D) at l=√N",
         {{"stride", int64_t(0), "l: block length (0 = ⌈√N⌉ of the model's N)"}, {"summary", int64_t(1), "c: summary columns per block, 1 ≤ c ≤ l"},
          {"causal", false, "token i attends to tokens j ≤ i only"}},
         create<SparseFixedAttention>},
        {"longformer", "Beltagy et al. 2020: sliding window of w/2 each side (dilation d) + g global tokens",
         "O(N(2w+g)D) time, O(N(2w+g)) memory",
         {{"window", int64_t(8), "w: even, w/2 tokens on each side"}, {"dilation", int64_t(1), "d: window step"},
          {"global_tokens", int64_t(1), "g: the first g tokens attend to and are attended by all"},
          {"causal", false, "token i attends to tokens j ≤ i only"}},
         create<LongformerAttention>},
        {"bigbird", "Zaheer et al. 2020 (ITC): blocks of b see 3 neighbour blocks, g global and r random blocks",
         "O(Nb(3+g+r)D) time, O(Nb(3+g+r)) memory",
         {{"block", int64_t(8), "b: block size"}, {"global_blocks", int64_t(1), "g: the first g blocks are global"},
          {"random_blocks", int64_t(2), "r: random key blocks per query block"},
          {"redraw", false, "draw new random blocks at every training forward"},
          {"seed", int64_t(-1), "random blocks seed (-1: drawn from the global generator)"},
          {"causal", false, "token i attends to tokens j ≤ i only"}},
         create<BigBirdAttention>},
        {"reformer", "Kitaev et al. 2020: shared-QK LSH attention, sorted by hash bucket, chunks see themselves + previous",
         "O(n_h·N(b/2+2m)D) time, O(n_h·N(2m+D)) memory",
         {{"buckets", int64_t(8), "b: hash buckets (1 or even)"}, {"n_hashes", int64_t(2), "n_h: hash rounds"},
          {"chunk", int64_t(32), "m: chunk length in sorted order (clamped to N)"},
          {"redraw", true, "draw new rotations at every training forward"},
          {"seed", int64_t(-1), "rotations seed (-1: drawn from the global generator)"}},
         create<ReformerAttention>},
    };
    return table;
}

std::vector<std::string> attention_names() {
    std::vector<std::string> names;
    for (const VariantInfo& v : attention_variants()) names.push_back(v.name);
    return names;
}

const VariantInfo& attention_info(const std::string& name) {
    std::string valid;
    for (const VariantInfo& v : attention_variants()) {
        if (v.name == name) return v;
        valid += (valid.empty() ? "" : ", ") + v.name;
    }
    throw Error(cat("unknown attention variant '", name, "'; valid variants: ", valid));
}

// Options whose size grows a step's memory: upper bounds for N tokens of the values a user
// gave (defaults are small), checked when the model's sequence length is known, so that e.g.
// stride=100000 on 65 tokens fails at once instead of allocating gigabytes. (reformer's chunk
// and bigbird's block are clamped to N by the variants: one chunk or block of all tokens.)
static void check_sizes_for_sequence(const std::string& name, const Options& given, int64_t N) {
    struct Bound {
        const char* variant;
        const char* option;
        int64_t max;
        const char* why;
    };
    const Bound bounds[] = {
        {"sparse_strided", "stride", N, "at most N"},      {"sparse_fixed", "stride", N, "at most N"},
        {"longformer", "window", 2 * N, "at most 2N"},     {"longformer", "global_tokens", N, "at most N"},
        {"bigbird", "global_blocks", N, "at most N"},
        {"bigbird", "random_blocks", N, "at most N"},      {"nystrom", "landmarks", N, "at most N"},
        {"linformer", "k", N, "at most N"},                {"reformer", "buckets", 2 * N, "at most 2N"},
        {"performer", "features", 65536, "at most 65536"}, {"rfa", "features", 65536, "at most 65536"},
        {"nystrom", "conv_kernel", N, "at most N"},
    };
    for (const Bound& b : bounds) {
        if (name != b.variant || !given.has(b.option)) continue;
        const int64_t v = given.get_int(b.option);
        check(v <= b.max, "attention ", name, ": option ", b.option, "=", v, " is too large for a sequence of ", N,
              " tokens (", b.why, " = ", b.max, ")");
    }
}

std::shared_ptr<Attention> make_attention(const std::string& name, const Options& opts, const AttentionContext& ctx) {
    const VariantInfo& info = attention_info(name);
    Options full;
    for (const OptionSpec& spec : info.options) full.set(spec.name, spec.default_value);
    for (const auto& [key, value] : opts.values()) {
        const OptionSpec* spec = nullptr;
        for (const OptionSpec& s : info.options)
            if (s.name == key) spec = &s;
        if (!spec) {
            std::string valid;
            for (const OptionSpec& s : info.options) valid += (valid.empty() ? "" : ", ") + s.name;
            throw Error(cat("unknown option '", key, "' for attention ", name, "; valid options: ",
                            valid.empty() ? "(none)" : valid));
        }
        bool int_for_float = std::holds_alternative<double>(spec->default_value) && std::holds_alternative<int64_t>(value);
        check(value.index() == spec->default_value.index() || int_for_float, "attention ", name, " option '", key,
              "' must be a ", option_type_name(spec->default_value), ", got ", option_type_name(value), " ",
              option_to_string(value));
        full.set(key, int_for_float ? OptionValue(double(std::get<int64_t>(value))) : value);
    }
    if (ctx.seq_len > 0) check_sizes_for_sequence(name, opts, ctx.seq_len);
    return info.create(full, ctx);
}

}  // namespace attnlab::attention
