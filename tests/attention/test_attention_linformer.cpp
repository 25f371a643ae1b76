// test_attention_linformer.cpp — Linformer softmax(Q(EK)ᵀ/√D)(FV) (Wang et al., 2020).
#include "attention/low_rank/linformer.h"
#include "attention/low_rank/linformer_kernel.h"
#include "attention/reference/low_rank.h"
#include "core/kernels/parallel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::LinformerAttention> make_linformer(const attention::Options& opts, int64_t N) {
    return std::dynamic_pointer_cast<attention::LinformerAttention>(attention::make_attention("linformer", opts, {N, 4, 2}));
}

TEST_CASE("linformer with k=N and identity projections equals softmax attention", "[attention][linformer]") {
    const int64_t N = 7;
    auto attn = make_linformer({{"k", N}}, N);
    std::vector<float> eye(size_t(N * N), 0.f);
    for (int64_t i = 0; i < N; ++i) eye[size_t(i * N + i)] = 1.f;
    copy_(attn->E, Tensor::from_vector(eye, {N, N}));
    copy_(attn->F, Tensor::from_vector(eye, {N, N}));
    QKV x = random_qkv(2, 2, N, 4, 1, 2.f);
    require_close(attn->forward(x.q, x.k, x.v), attention::make_attention("softmax")->forward(x.q, x.k, x.v), 1e-5f);
}

TEST_CASE("linformer equals its dense form softmax((QKᵀ)Eᵀ/√D)(FV)", "[attention][linformer]") {
    auto attn = make_linformer({{"k", int64_t(5)}}, 11);
    QKV x = random_qkv(2, 3, 11, 4, 6, 1.5f);
    require_close(attn->forward(x.q, x.k, x.v), attention::dense_linformer(attn->E, attn->F, x.q, x.k, x.v), 1e-5f);
}

TEST_CASE("gradcheck: linformer, q, k, v and the projections E and F", "[attention][linformer][gradcheck]") {
    check_attention_gradients("linformer", {{"k", int64_t(3)}});
    check_attention_gradients("linformer", {{"k", int64_t(3)}, {"share_kv", true}});
}

TEST_CASE("linformer registers E and F of shape [k, N], or one with share_kv", "[attention][linformer]") {
    auto separate = make_linformer({{"k", int64_t(3)}}, 10);
    REQUIRE(separate->named_parameters().size() == 2);
    REQUIRE(separate->E.shape() == Shape{3, 10});
    REQUIRE(separate->F.shape() == Shape{3, 10});
    auto shared = make_linformer({{"k", int64_t(3)}, {"share_kv", true}}, 10);
    REQUIRE(shared->named_parameters().size() == 1);
    REQUIRE(shared->num_parameters() == 30);
}

TEST_CASE("linformer clamps k to the sequence length", "[attention][linformer]") {
    REQUIRE(make_linformer({}, 10)->proj_len == 10);  // default k = 32
    REQUIRE(make_linformer({}, 65)->proj_len == 32);
}

TEST_CASE("linformer needs seq_len and inputs of exactly that length", "[attention][linformer]") {
    REQUIRE_THROWS_WITH(attention::make_attention("linformer", {}, {0, 4, 2}), Catch::Contains("seq_len must be > 0"));
    REQUIRE_THROWS_WITH(attention::make_attention("linformer", {{"k", int64_t(0)}}, {8, 4, 2}),
                        Catch::Contains("option k must be >= 1, got 0"));
    auto attn = make_linformer({}, 8);
    QKV x = random_qkv(1, 2, 6, 4, 1);
    REQUIRE_THROWS_WITH(attn->forward(x.q, x.k, x.v), Catch::Contains("built for seq_len 8 tokens, got k/v with N = 6"));
}

TEST_CASE("linformer memory grows linearly in N at fixed k", "[attention][linformer][memory]") {
    check_memory_subquadratic("linformer");
}

// q, k, v as strided views of a packed [B, N, 3, H, D] projection, as MultiHeadAttention passes them.
static QKV packed_views(int64_t B, int64_t H, int64_t N, int64_t D, uint64_t seed) {
    Generator g(seed);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g) * 1.5f;
    Tensor heads = qkv.permute({2, 0, 3, 1, 4});
    return {heads.narrow(0, 0, 1).squeeze(0), heads.narrow(0, 1, 1).squeeze(0), heads.narrow(0, 2, 1).squeeze(0)};
}

TEST_CASE("linformer fused op equals its composed reference, outputs and gradients of q, k, v, E and F",
          "[attention][linformer][fused]") {
    for (bool share_kv : {false, true})
        for (auto [N, k] : {std::pair<int64_t, int64_t>{1, 1}, {11, 5}, {150, 32}, {70, 70}}) {
            INFO("N=" << N << " k=" << k << " share_kv=" << share_kv);
            auto attn = make_linformer({{"k", k}, {"share_kv", share_kv}}, N);
            std::vector<Tensor> param_grads[2];
            auto run = [&](bool reference, const Tensor& q, const Tensor& kk, const Tensor& v) {
                attn->reference = reference;
                attn->zero_grad();
                return attn->forward(q, kk, v);
            };
            for (const QKV& x : {random_qkv(2, 3, N, 8, uint64_t(N), 1.5f), packed_views(2, 2, N, 8, uint64_t(N) + 1)}) {
                check_fast_path_equals_reference(run, x, 1e-4f);
                for (int reference = 0; reference < 2; ++reference) {  // the projections' gradients
                    QKV y{x.q.detach(), x.k.detach(), x.v.detach()};
                    Tensor out = run(reference == 1, y.q, y.k, y.v);
                    Generator g(11);
                    out.backward(Tensor::randn(out.shape(), g));
                    param_grads[reference].clear();
                    for (Tensor& p : attn->parameters()) param_grads[reference].push_back(p.grad().clone());
                }
                for (size_t i = 0; i < param_grads[0].size(); ++i) require_close(param_grads[0][i], param_grads[1][i], 1e-4f);
            }
        }
}

TEST_CASE("gradcheck: linformer fused op across chunk boundaries, N queries and Nk keys, shared projection",
          "[attention][linformer][fused][gradcheck]") {
    Generator g(21);
    auto input = [&](Shape s) { return away_from_zero(Tensor::randn(s, g), 0.03f); };
    Tensor q = input({1, 2, 70, 3}), k = input({1, 2, 9, 3}), v = input({1, 2, 9, 2}), E = input({4, 9}), F = input({4, 9});
    require_gradcheck([](const std::vector<Tensor>& in) { return attention::linformer_attention_fused(in[0], in[1], in[2], in[3], in[4]); },
                      {q, k, v, E, F});
    require_gradcheck([](const std::vector<Tensor>& in) { return attention::linformer_attention_fused(in[0], in[1], in[2], in[3], in[3]); },
                      {q, k, v, E});
}

TEST_CASE("linformer fused gradients of q, k, v, E and F do not depend on the number of threads",
          "[attention][linformer][fused]") {
    auto attn = make_linformer({{"k", int64_t(8)}}, 150);
    const int saved = num_threads();
    std::vector<float> grads[2];
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        attn->zero_grad();
        QKV x = random_qkv(2, 3, 150, 8, 4);
        Tensor out = attn->forward(x.q, x.k, x.v);
        Generator g(5);
        out.backward(Tensor::randn(out.shape(), g));
        for (const Tensor& t : {out, x.q.grad(), x.k.grad(), x.v.grad(), attn->E.grad(), attn->F.grad()}) {
            std::vector<float> a = t.detach().contiguous().to_vector();
            grads[threads - 1].insert(grads[threads - 1].end(), a.begin(), a.end());
        }
    }
    set_num_threads(saved);
    REQUIRE(grads[0] == grads[1]);
}
