// test_attention_kernel_packed.cpp — the kernel-family variants with a fused op take the packed
// qkv projection whole (forward_packed, as MultiHeadAttention calls them): their output and the
// gradient of qkv equal, bit for bit, those of forward on its split q, k, v views (the gradient
// is written into qkv's slices by the kernel instead of three gradients added into zeros).
#include "attention/attention.h"
#include "attention/registry.h"
#include "core/util/reference_mode.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

// out and the gradient of qkv [B, N, 3·H·D] for out·w, packed (whole) or through the split views.
static std::pair<Tensor, Tensor> run_packed(attention::Attention& attn, const Tensor& qkv_init, int64_t H, bool packed) {
    const int64_t B = qkv_init.size(0), N = qkv_init.size(1), D = qkv_init.size(2) / (3 * H);
    Tensor qkv = qkv_init.detach().clone().requires_grad_();
    Tensor out;
    if (packed) {
        out = attn.forward_packed(qkv, H);
    } else {
        Tensor heads = qkv.reshape({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});
        out = attn.forward(heads.narrow(0, 0, 1).squeeze(0), heads.narrow(0, 1, 1).squeeze(0),
                           heads.narrow(0, 2, 1).squeeze(0));
    }
    Generator g(7);
    (out * Tensor::randn(out.shape(), g)).sum().backward();
    return {out.detach(), qkv.grad()};
}

TEST_CASE("kernel-family forward_packed equals forward on the split views, output and qkv gradient",
          "[attention][kernel][packed]") {
    const int64_t B = 2, H = 2, D = 8;
    for (const std::string name : {"linear_elu", "taylor", "rfa", "performer", "efficient"})
        for (bool causal : {false, true}) {
            if (name == "efficient" && causal) continue;  // no causal form
            for (int64_t N : {1, 70, 150}) {
                INFO(name << " causal=" << causal << " N=" << N);
                attention::Options opts;
                if (name != "efficient") opts.set("causal", causal);
                if (name == "rfa" || name == "performer") opts.set("seed", int64_t(3));
                auto attn = attention::make_attention(name, opts, {N, D, H});
                attn->eval();  // no redraw between the two runs
                Generator g(uint64_t(N) + 5);
                Tensor qkv = Tensor::randn({B, N, 3 * H * D}, g) * 1.5f;
                auto [out_packed, grad_packed] = run_packed(*attn, qkv, H, true);
                auto [out_split, grad_split] = run_packed(*attn, qkv, H, false);
                REQUIRE(out_packed.shape() == out_split.shape());
                REQUIRE(grad_packed.shape() == qkv.shape());
                REQUIRE(out_packed.contiguous().to_vector() == out_split.contiguous().to_vector());
                REQUIRE(grad_packed.contiguous().to_vector() == grad_split.contiguous().to_vector());
            }
        }
}

TEST_CASE("kernel-family forward_packed in reference mode runs the composed ops on the split views",
          "[attention][kernel][packed]") {
    const int64_t B = 1, H = 2, N = 70, D = 8;
    for (const std::string name : {"linear_elu", "taylor", "rfa", "performer", "efficient"}) {
        INFO(name);
        attention::Options opts;
        if (name == "rfa" || name == "performer") opts.set("seed", int64_t(3));
        auto attn = attention::make_attention(name, opts, {N, D, H});
        attn->eval();
        Generator g(9);
        Tensor qkv = Tensor::randn({B, N, 3 * H * D}, g);
        auto [fast_out, fast_grad] = run_packed(*attn, qkv, H, true);
        ReferenceModeGuard on(true);
        auto [ref_out, ref_grad] = run_packed(*attn, qkv, H, true);
        require_close(fast_out, ref_out, 1e-4f);
        require_close(fast_grad, ref_grad, 1e-4f);
    }
}
