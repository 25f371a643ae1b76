// test_attention_causal_contract.cpp — the causal prefix contract (attention/attention.h) for
// every registered variant with a causal option: with causal = true, the outputs at positions
// 0..t-1 of a run on N tokens equal the outputs on the t-token prefix,
//  - of the prefix run: a fresh instance made the same way (same options, seed and model N);
//  - of the uncached generation path: the same instance re-run on the prefix, as
//    nn/pixel/pixel_generation.cpp does for variants without a one-token step.
#include "attention/registry.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static bool has_option(const attention::VariantInfo& v, const std::string& name) {
    for (const attention::OptionSpec& s : v.options)
        if (s.name == name) return true;
    return false;
}

// causal = true, a fixed seed where the variant draws random numbers, small sizes where they matter.
static attention::Options causal_options(const attention::VariantInfo& v) {
    attention::Options o{{"causal", true}};
    if (has_option(v, "seed")) o.set("seed", int64_t(7));
    if (v.name == "longformer") o.set("window", int64_t(4));
    if (v.name == "bigbird") o.set("block", int64_t(3));
    if (v.name == "performer" || v.name == "rfa") o.set("features", int64_t(16));
    return o;
}

static Tensor prefix(const Tensor& x, int64_t t) { return x.narrow(2, 0, t); }

TEST_CASE("causal prefix contract: outputs on a prefix equal the first outputs of the full run, for every causal variant",
          "[attention][causal]") {
    const int64_t N = 14, D = 4;
    int64_t checked = 0;
    for (const attention::VariantInfo& v : attention::attention_variants()) {
        if (!has_option(v, "causal")) continue;
        ++checked;
        const attention::Options opts = causal_options(v);
        auto model = attention::make_attention(v.name, opts, {N, D, 2});
        model->eval();
        NoGradGuard no_grad;
        QKV x = random_qkv(2, 2, N, D, 31, 1.5f);
        Tensor full = model->forward(x.q, x.k, x.v);
        for (int64_t t : {1, 2, 5, 8, 13}) {
            INFO(v.name << " (" << opts.to_string() << "): prefix of " << t << " of " << N << " tokens");
            auto fresh = attention::make_attention(v.name, opts, {N, D, 2});
            fresh->eval();
            {
                INFO("prefix run (a fresh instance)");
                require_close(fresh->forward(prefix(x.q, t), prefix(x.k, t), prefix(x.v, t)), prefix(full, t), 1e-5f);
            }
            {
                INFO("uncached generation (the same instance re-run on the prefix)");
                require_close(model->forward(prefix(x.q, t), prefix(x.k, t), prefix(x.v, t)), prefix(full, t), 1e-5f);
            }
        }
    }
    REQUIRE(checked >= 10);  // softmax, linear, linear_elu, taylor, rfa, performer and the four sparse ones
}

TEST_CASE("causal variants with a one-token step give the causal forward's outputs token by token", "[attention][causal]") {
    const int64_t B = 2, H = 2, N = 9, D = 4;
    for (const std::string& name : attention::attention_names()) {
        auto attn = attention::make_attention(name, has_option(attention::attention_info(name), "causal")
                                                        ? attention::Options{{"causal", true}}
                                                        : attention::Options{},
                                              {N, D, H});
        if (attn->decoding() == attention::Decoding::None) {
            REQUIRE_THROWS_WITH(attn->begin_decoding(B, H, N, D), Catch::Contains("has no one-token decoding step"));
            continue;
        }
        INFO(name);
        attn->eval();
        NoGradGuard no_grad;
        QKV x = random_qkv(B, H, N, D, 8);
        Tensor full = attn->forward(x.q, x.k, x.v);
        std::unique_ptr<attention::DecodeState> st = attn->begin_decoding(B, H, N, D);
        for (int64_t t = 0; t < N; ++t) {
            auto at = [&](const Tensor& a) { return a.detach().narrow(2, t, 1).squeeze(2); };
            require_close(attn->decode_step(*st, at(x.q), at(x.k), at(x.v)), full.narrow(2, t, 1).squeeze(2), 1e-5f);
        }
    }
}
