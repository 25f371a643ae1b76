// Reformer LSH attention: shared-QK, hashing, sorted chunks, rounds combined by logsumexp; the
// fused op and its packed-qkv entry against the composed reference.
#include <atomic>
#include <cmath>

#include "attention/hashing/reformer.h"
#include "attention/head_rows.h"
#include "core/util/reference_mode.h"
#include "tests/support/sparse_attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::ReformerAttention> reformer(const attention::Options& opts, int64_t D = 8) {
    return std::dynamic_pointer_cast<attention::ReformerAttention>(attention::make_attention("reformer", opts, {0, D, 2}));
}

// Shared-QK keys: the unit-length queries.
static Tensor unit(const Tensor& q) { return q / sqrt(sum(q * q, {-1}, true)); }

// Every token attends to every other one, and to itself only when it is alone (N = 1).
static Tensor all_but_self(int64_t N) {
    std::vector<bool> blocked(size_t(N * N), false);
    for (int64_t i = 0; i < N; ++i) blocked[size_t(i * N + i)] = N > 1;
    return Tensor::from_bools(blocked, {N, N});
}

TEST_CASE("reformer with one bucket and one chunk equals shared-QK softmax without self, for 1 and 3 rounds",
          "[attention][reformer]") {
    for (int64_t rounds : {1, 3}) {
        for (int64_t N : {1, 2, 13}) {
            INFO("rounds=" << rounds << " N=" << N);
            auto attn = reformer({{"buckets", int64_t(1)}, {"n_hashes", rounds}, {"chunk", N}});
            attn->eval();
            QKV x = random_qkv(2, 3, N, 8, uint64_t(N), 2.f);
            require_equals_masked(*attn, x, all_but_self(N), unit(x.q));
        }
    }
}

TEST_CASE("reformer equals softmax over the union of the keys its rounds attend to", "[attention][reformer]") {
    // Several buckets, rounds and chunks: keys found by several rounds must count once (the
    // −log c_ij correction), so the result is exactly a masked softmax over the union.
    struct Case {
        int64_t N, buckets, rounds, chunk;
    };
    for (Case c : {Case{24, 4, 3, 4}, Case{23, 2, 2, 5}, Case{30, 8, 1, 6}, Case{17, 6, 4, 3}}) {
        INFO("N=" << c.N << " buckets=" << c.buckets << " rounds=" << c.rounds << " chunk=" << c.chunk);
        auto attn = reformer({{"buckets", c.buckets}, {"n_hashes", c.rounds}, {"chunk", c.chunk}, {"seed", int64_t(7)}});
        attn->eval();
        QKV x = random_qkv(2, 2, c.N, 8, uint64_t(c.N), 2.f);
        Tensor blocked = attention::dense_reformer_blocked(*attn, x.q);
        int64_t attended = blocked.numel() - int64_t(sum(blocked.to(DType::Float32)).item());
        REQUIRE(attended < blocked.numel() / 2);  // genuinely sparse
        require_equals_masked(*attn, x, blocked, unit(x.q));
    }
}

TEST_CASE("reformer keeps the shape and stays finite with several buckets and rounds", "[attention][reformer]") {
    auto attn = reformer({{"buckets", int64_t(8)}, {"n_hashes", int64_t(4)}, {"chunk", int64_t(8)}}, 16);
    QKV x = random_qkv(3, 4, 65, 16, 2, 3.f);
    Tensor out = attn->forward(x.q, x.k, x.v);
    REQUIRE(out.shape() == Shape{3, 4, 65, 16});
    for (float y : out.to_vector()) REQUIRE(std::isfinite(y));
    sum(out).backward();
    for (float g : x.q.grad().to_vector()) REQUIRE(std::isfinite(g));
    REQUIRE_FALSE(x.k.grad().defined());  // shared QK: the k input is not used
}

TEST_CASE("reformer rotations: a buffer, fixed in eval, redrawn in training with redraw", "[attention][reformer]") {
    QKV x = random_qkv(1, 2, 32, 8, 6);
    auto attn = reformer({{"chunk", int64_t(4)}, {"seed", int64_t(1)}});
    REQUIRE(attn->named_buffers().size() == 1);
    REQUIRE(attn->rotations.shape() == Shape{2, 8, 4});
    std::vector<float> R = attn->rotations.to_vector();
    attn->eval();
    Tensor a = attn->forward(x.q, x.k, x.v), b = attn->forward(x.q, x.k, x.v);
    REQUIRE(a.to_vector() == b.to_vector());
    REQUIRE(attn->rotations.to_vector() == R);
    attn->train();
    Tensor c = attn->forward(x.q, x.k, x.v);
    REQUIRE(attn->rotations.to_vector() != R);
    REQUIRE(c.to_vector() != a.to_vector());
    auto fixed = reformer({{"chunk", int64_t(4)}, {"seed", int64_t(1)}, {"redraw", false}});
    REQUIRE(fixed->rotations.to_vector() == R);  // same seed, same rotations
    fixed->forward(x.q, x.k, x.v);
    REQUIRE(fixed->rotations.to_vector() == R);
}

TEST_CASE("gradcheck: reformer with fixed rotations (several buckets, rounds, chunks)", "[attention][reformer][gradcheck]") {
    // The hashes are piecewise constant in q; with these seeds no ±eps step crosses a bucket boundary.
    check_attention_gradients("reformer", {{"buckets", int64_t(4)}, {"n_hashes", int64_t(2)}, {"chunk", int64_t(3)},
                                           {"seed", int64_t(3)}}, 10, 4);
    check_attention_gradients("reformer", {{"buckets", int64_t(1)}, {"n_hashes", int64_t(1)}, {"chunk", int64_t(6)}}, 6, 4);
}

TEST_CASE("reformer memory grows linearly with N", "[attention][reformer][memory]") {
    // chunk 32, 2 rounds: scores 2·N·64 per head; softmax would give ~4
    REQUIRE(peak_ratio("reformer", {{"seed", int64_t(0)}}) < 2.5);
}

TEST_CASE("reformer rejects bad options", "[attention][reformer][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("reformer", {{"buckets", int64_t(5)}}),
                        Catch::Contains("reformer: buckets must be 1 or an even number ≥ 2 (argmax over [xR; −xR]), got 5"));
    REQUIRE_THROWS_WITH(attention::make_attention("reformer", {{"n_hashes", int64_t(0)}}),
                        Catch::Contains("reformer: n_hashes must be ≥ 1, got 0"));
    REQUIRE_THROWS_WITH(attention::make_attention("reformer", {{"chunk", int64_t(0)}}),
                        Catch::Contains("reformer: chunk must be ≥ 1, got 0"));
    QKV x = random_qkv(1, 1, 4, 4, 1);
    REQUIRE_THROWS_WITH(reformer({}, 8)->forward(x.q, x.k, x.v),
                        Catch::Contains("reformer: rotations drawn for head dim 8, got q [1,1,4,4]"));
}

TEST_CASE("reformer fused op equals its composed reference, outputs and gradients", "[attention][reformer][fused]") {
    struct Case {
        int64_t N, buckets, n_hashes, chunk;
    };
    for (Case c : {Case{1, 2, 1, 4}, Case{37, 4, 2, 8}, Case{64, 8, 3, 16}, Case{50, 1, 1, 64}}) {
        INFO("N=" << c.N << " buckets=" << c.buckets << " n_hashes=" << c.n_hashes << " chunk=" << c.chunk);
        auto attn = std::dynamic_pointer_cast<attention::ReformerAttention>(attention::make_attention(
            "reformer", {{"buckets", c.buckets}, {"n_hashes", c.n_hashes}, {"chunk", c.chunk}, {"redraw", false},
                         {"seed", int64_t(4)}}));
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            attn->reference = reference;
            return attn->forward(q, k, v);
        };
        check_fast_path_equals_reference(run, random_qkv(2, 2, c.N, 8, uint64_t(c.N), 1.5f), 1e-5f);
    }
}

// Random buckets: the fused op without the hashing, so that finite differences never move a
// token to another bucket.
static std::shared_ptr<attention::LshHashes> random_hashes(int64_t BH, int64_t nh, int64_t N, int64_t m,
                                                           int64_t buckets, uint64_t seed) {
    Generator g(seed);
    auto x = std::make_shared<attention::LshHashes>();
    x->bucket.resize(size_t(BH * nh * N));
    for (int32_t& b : x->bucket) b = int32_t(g.randint(buckets));
    x->nh = nh, x->buckets = buckets, x->m = m;
    return x;
}

TEST_CASE("with a rehash the fused LSH chunk op keeps no buckets and gives the same output and gradients",
          "[attention][reformer][fused]") {
    QKV x = random_qkv(2, 2, 37, 8, 21);
    auto kept = random_hashes(2 * 2, 2, 37, 8, 4, 5);
    const std::vector<int32_t> buckets = kept->bucket;
    std::atomic<int64_t> rehashes{0};  // the heads are hashed on several threads at once
    auto with_rehash = [&](bool keep_buckets) {
        auto h = std::make_shared<attention::LshHashes>(*kept);
        if (!keep_buckets) h->bucket.clear();  // every head hashed on demand, forward and backward
        h->rehash = [&](int64_t bh, int32_t* out) {
            ++rehashes;
            std::copy(buckets.begin() + bh * 2 * 37, buckets.begin() + (bh + 1) * 2 * 37, out);
        };
        return h;
    };
    std::shared_ptr<attention::LshHashes> cases[3] = {kept, with_rehash(true), with_rehash(false)};
    const int64_t expected_rehashes[3] = {0, 4, 8};  // per head: none; the backward; forward and backward
    Tensor grads[3][2], outs[3];
    for (int i = 0; i < 3; ++i) {
        INFO("case " << i);
        rehashes = 0;
        QKV y{x.q.detach().requires_grad_(), x.k.detach(), x.v.detach().requires_grad_()};
        outs[i] = attention::lsh_chunk_attention(y.q, y.v, cases[i]);
        if (i > 0) CHECK(cases[i].use_count() == 1);  // the op holds no reference to the buckets
        outs[i].backward(Tensor::ones(outs[i].shape()));
        grads[i][0] = y.q.grad(), grads[i][1] = y.v.grad();
        CHECK(rehashes == expected_rehashes[i]);
        CHECK(outs[i].to_vector() == outs[0].to_vector());  // bit for bit
        CHECK(grads[i][0].to_vector() == grads[0][0].to_vector());
        CHECK(grads[i][1].to_vector() == grads[0][1].to_vector());
    }
}

TEST_CASE("gradcheck: the fused LSH chunk op in q and v, with random buckets",
          "[attention][reformer][fused][gradcheck]") {
    struct Case {
        int64_t N, buckets, n_hashes, chunk;
    };
    for (Case c : {Case{9, 2, 2, 3}, Case{7, 3, 3, 2}, Case{6, 1, 1, 6}, Case{10, 2, 1, 4}}) {
        INFO("N=" << c.N << " buckets=" << c.buckets << " n_hashes=" << c.n_hashes << " chunk=" << c.chunk);
        auto hashes = random_hashes(2 * 2, c.n_hashes, c.N, c.chunk, c.buckets, uint64_t(c.N));
        QKV x = random_qkv(2, 2, c.N, 4, 77);
        require_gradcheck([&](const std::vector<Tensor>& in) { return attention::lsh_chunk_attention(in[0], in[1], hashes); },
                          {x.q, x.v});
    }
}

TEST_CASE("the fused LSH chunk op rejects buckets that do not fit q or the bucket count", "[attention][reformer][errors]") {
    QKV x = random_qkv(1, 2, 5, 4, 1);
    auto hashes = random_hashes(2, 2, 5, 2, 3, 1);
    hashes->bucket[3] = 3;
    REQUIRE_THROWS_WITH(attention::lsh_chunk_attention(x.q, x.v, hashes),
                        Catch::Contains("lsh_chunk_attention: bucket 3 outside 0 … 2"));
    REQUIRE_THROWS_WITH(attention::lsh_chunk_attention(x.q, x.v, random_hashes(1, 2, 5, 2, 3, 1)),
                        Catch::Contains("lsh_chunk_attention: 10 buckets (2 rounds) and chunk 2 for q [1,2,5,4]: "
                                        "expected B·H·n_h·N buckets and 1 ≤ chunk ≤ N"));
}

// out and the gradient of qkv [B, N, 3·H·D] for out·w: packed (whole) or through the split views.
static std::pair<Tensor, Tensor> run_reformer_packed(attention::Attention& attn, const Tensor& qkv_init, int64_t H,
                                                     bool packed) {
    Tensor qkv = qkv_init.detach().clone().requires_grad_();
    Tensor out;
    if (packed) {
        out = attn.forward_packed(qkv, H);
    } else {
        auto [q, k, v] = attention::split_packed_qkv(qkv, H);
        out = attn.forward(q, k, v);
    }
    Generator g(7);
    (out * Tensor::randn(out.shape(), g)).sum().backward();
    return {out.detach(), qkv.grad()};
}

TEST_CASE("reformer forward_packed equals forward on the split views, output and qkv gradient",
          "[attention][reformer][fused][packed]") {
    const int64_t B = 2, H = 2, D = 8;
    for (int64_t N : {2, 37, 70}) {  // 4 buckets need N ≥ 2
        INFO("N=" << N);
        auto attn = attention::make_attention(
            "reformer", {{"buckets", int64_t(4)}, {"n_hashes", int64_t(2)}, {"chunk", int64_t(8)}, {"seed", int64_t(4)}},
            {N, D, H});
        attn->eval();  // no redraw between the two runs
        Generator g(uint64_t(N) + 5);
        Tensor qkv = Tensor::randn({B, N, 3 * H * D}, g) * 1.5f;
        auto [out_packed, grad_packed] = run_reformer_packed(*attn, qkv, H, true);
        auto [out_split, grad_split] = run_reformer_packed(*attn, qkv, H, false);
        REQUIRE(grad_packed.shape() == qkv.shape());
        REQUIRE(out_packed.contiguous().to_vector() == out_split.contiguous().to_vector());
        REQUIRE(grad_packed.contiguous().to_vector() == grad_split.contiguous().to_vector());
    }
}

TEST_CASE("reformer forward_packed in reference mode runs the composed ops on the split views",
          "[attention][reformer][fused][packed]") {
    const int64_t B = 1, H = 2, N = 70, D = 8;
    auto attn = attention::make_attention(
        "reformer", {{"buckets", int64_t(4)}, {"n_hashes", int64_t(3)}, {"chunk", int64_t(16)}, {"seed", int64_t(4)}},
        {N, D, H});
    attn->eval();
    Generator g(9);
    Tensor qkv = Tensor::randn({B, N, 3 * H * D}, g);
    auto [fast_out, fast_grad] = run_reformer_packed(*attn, qkv, H, true);
    ReferenceModeGuard on(true);
    auto [ref_out, ref_grad] = run_reformer_packed(*attn, qkv, H, true);
    require_close(fast_out, ref_out, 1e-4f);
    require_close(fast_grad, ref_grad, 1e-4f);
}

TEST_CASE("gradcheck: the packed fused LSH chunk op in qkv, with random buckets",
          "[attention][reformer][fused][packed][gradcheck]") {
    const int64_t B = 2, H = 2, N = 9, D = 4;
    auto hashes = random_hashes(B * H, 2, N, 3, 2, 11);
    Generator g(13);
    Tensor qkv = Tensor::randn({B, N, 3 * H * D}, g).requires_grad_();
    require_gradcheck([&](const std::vector<Tensor>& in) { return attention::lsh_chunk_attention_packed(in[0], H, hashes); },
                      {qkv});
}
