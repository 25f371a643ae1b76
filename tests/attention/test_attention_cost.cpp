// Analytic cost of the attention variants (attention/cost.h): the sparse pattern counts
// equal the allowed pairs of each variant's own dense pattern, and the formulas scale as
// the registry's complexity says.
#include "attention/sparse/bigbird.h"
#include "attention/cost.h"
#include "attention/sparse/longformer.h"
#include "attention/sparse/sparse_fixed.h"
#include "attention/sparse/sparse_strided.h"
#include "attention/reference/sparse.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

// Allowed (query, key) pairs of a dense Bool mask, true = blocked.
static int64_t allowed_pairs(const Tensor& blocked) {
    int64_t n = 0;
    for (int64_t i = 0; i < blocked.size(0); ++i)
        for (int64_t j = 0; j < blocked.size(1); ++j) n += blocked.at({i, j}) == 0.f;
    return n;
}

// Made without a model length, so that stride 0 is ⌈√N⌉ of each input's N.
template <class T>
static std::shared_ptr<T> make(const std::string& name, const attention::Options& opts) {
    return std::dynamic_pointer_cast<T>(attention::make_attention(name, opts, {0, 8, 2}));
}

TEST_CASE("sparse pair counts equal the allowed pairs of each variant's own pattern", "[attention][cost]") {
    for (bool causal : {false, true})
        for (int64_t N : {1, 7, 23, 64}) {
            INFO("N=" << N << " causal=" << causal);
            for (int64_t stride : {0, 1, 3, 5}) {
                auto s = make<attention::SparseStridedAttention>("sparse_strided", {{"stride", stride}, {"causal", causal}});
                REQUIRE(attention::sparse_strided_pairs(N, stride, causal) == allowed_pairs(attention::dense_blocked(*s, N)));
            }
            for (int64_t stride : {0, 4})
                for (int64_t summary : {1, 2}) {
                    if (stride == 0 && summary > attention::ceil_sqrt(N)) continue;
                    auto f = make<attention::SparseFixedAttention>(
                        "sparse_fixed", {{"stride", stride}, {"summary", summary}, {"causal", causal}});
                    REQUIRE(attention::sparse_fixed_pairs(N, stride, summary, causal) == allowed_pairs(attention::dense_blocked(*f, N)));
                }
            for (int64_t dilation : {1, 2})
                for (int64_t g : {0, 1, 3}) {
                    auto l = make<attention::LongformerAttention>(
                        "longformer", {{"window", int64_t(4)}, {"dilation", dilation}, {"global_tokens", g}, {"causal", causal}});
                    REQUIRE(attention::longformer_pairs(N, 4, dilation, g, causal) == allowed_pairs(attention::dense_blocked(*l, N)));
                }
        }
}

TEST_CASE("bigbird pair count equals its pattern's when the block divides N", "[attention][cost]") {
    for (bool causal : {false, true})
        for (int64_t N : {8, 32, 64}) {
            INFO("N=" << N << " causal=" << causal);
            auto b = make<attention::BigBirdAttention>(
                "bigbird", {{"block", int64_t(4)}, {"global_blocks", int64_t(1)}, {"random_blocks", int64_t(2)},
                            {"causal", causal}, {"seed", int64_t(3)}});
            REQUIRE(attention::bigbird_pairs(N, 4, 1, 2, causal) == allowed_pairs(attention::dense_blocked(*b, N)));
        }
}

TEST_CASE("attention cost: softmax is 4·B·H·N²·D forward, backward twice that, traffic O(N·D)", "[attention][cost]") {
    attention::AttentionCost c = attention::attention_cost("softmax", {}, 2, 3, 100, 8);
    REQUIRE(c.flops_forward == Approx(4.0 * 6 * 100 * 100 * 8));
    REQUIRE(c.flops_backward == Approx(2 * c.flops_forward));
    REQUIRE(c.bytes_forward == Approx(4.0 * (4 * 6 * 100 * 8 + 6 * 100)));  // q, k, v, out and the row lse
    attention::AttentionCost causal = attention::attention_cost("softmax", {{"causal", true}}, 2, 3, 100, 8);
    REQUIRE(causal.flops_forward == Approx(c.flops_forward * 101 / 200));
}

TEST_CASE("attention cost grows with N as the registry's complexity says", "[attention][cost]") {
    for (const std::string& name : attention::attention_names()) {
        INFO(name);
        double f1 = attention::attention_cost(name, {}, 1, 4, 4096, 32).flops();
        double f2 = attention::attention_cost(name, {}, 1, 4, 8192, 32).flops();
        REQUIRE(f1 > 0);
        const double growth = f2 / f1;
        if (name == "softmax") REQUIRE(growth == Approx(4.0));
        else if (name == "sparse_strided" || name == "sparse_fixed") REQUIRE((growth > 2.5 && growth < 3.2));  // N^1.5
        else REQUIRE((growth > 1.9 && growth < 2.1));                                                         // linear in N
    }
}

TEST_CASE("attention cost of an unknown variant is an error naming it", "[attention][cost]") {
    REQUIRE_THROWS_WITH(attention::attention_cost("nope", {}, 1, 1, 8, 4), Catch::Contains("nope"));
}
