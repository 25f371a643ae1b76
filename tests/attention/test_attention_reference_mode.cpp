// test_attention_reference_mode.cpp — under reference_mode() (core/util/reference_mode.h) every
// variant with a fused fast path takes its composed reference path, as its own `reference`
// switch does.
#include "attention/hashing/reformer.h"
#include "attention/kernel/efficient.h"
#include "attention/kernel/linear.h"
#include "attention/kernel/linear_elu.h"
#include "attention/kernel/performer.h"
#include "attention/kernel/rfa.h"
#include "attention/kernel/taylor.h"
#include "attention/low_rank/linformer.h"
#include "attention/low_rank/nystrom.h"
#include "attention/sparse/sparse_pattern.h"
#include "core/util/reference_mode.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

// The variant's `reference` switch, or nullptr when it has no fused fast path.
static bool* reference_switch(attention::Attention& a) {
    if (auto* p = dynamic_cast<attention::PerformerAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::RandomFeatureAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::LinearEluAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::LinearAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::TaylorAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::EfficientAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::ReformerAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::SparsePatternAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::NystromAttention*>(&a)) return &p->reference;
    if (auto* p = dynamic_cast<attention::LinformerAttention*>(&a)) return &p->reference;
    return nullptr;
}

TEST_CASE("reference mode runs every fused variant's composed path, exactly as its reference switch",
          "[attention][reference]") {
    const int64_t N = 12, D = 8;
    int64_t fused = 0;
    for (const std::string& name : attention::attention_names()) {
        attention::Options opts;
        for (const attention::OptionSpec& s : attention::attention_info(name).options)
            if (s.name == "seed") opts.set("seed", int64_t(5));
            else if (s.name == "landmarks") opts.set("landmarks", int64_t(4));  // nystrom's default 16 > N
        auto attn = attention::make_attention(name, opts, {N, D, 2});
        attn->eval();
        bool* reference = reference_switch(*attn);
        if (!reference) continue;
        ++fused;
        INFO(name);
        NoGradGuard no_grad;
        QKV x = random_qkv(2, 2, N, D, 13);
        ReferenceModeGuard on(true);
        Tensor by_mode = attn->forward(x.q, x.k, x.v);
        *reference = true;
        Tensor by_switch = attn->forward(x.q, x.k, x.v);
        REQUIRE(by_mode.to_vector() == by_switch.to_vector());  // the same composed ops, bit for bit
    }
    REQUIRE(fused == 13);  // linear, linear_elu, taylor, rfa, performer, efficient, the four sparse ones, reformer, nystrom, linformer
}
