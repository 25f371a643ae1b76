// reformer.cpp — see reformer.h. The integer work (hashing, sorting, which sorted slot sees
// which) runs without gradients in plain loops; the float work is the fused op
// (reformer_kernel.cpp), or (reference) differentiable ops on rows gathered from the flattened
// [B·H·N, D] tensors, so that its backward is their composition.
#include "attention/hashing/reformer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "attention/hashing/reformer_kernel.h"
#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

namespace {

// logsumexp over the last dim, keepdim: the normalizer z of softmax(s) = exp(s − z).
Tensor logsumexp_last(const Tensor& s) {
    Tensor mx = max(s, -1, true).detach();  // every row has a finite entry
    return log(sum(exp(s - mx), {-1}, true)) + mx;
}

}  // namespace

ReformerAttention::ReformerAttention(const Options& opts, const AttentionContext& ctx)
    : buckets(opts.get_int("buckets")),
      n_hashes(opts.get_int("n_hashes")),
      chunk(opts.get_int("chunk")),
      redraw(opts.get_bool("redraw")),
      gen_(resolve_seed("reformer", opts.get_int("seed"))) {
    check(buckets == 1 || (buckets >= 2 && buckets % 2 == 0), "reformer: buckets must be 1 or an even number ≥ 2 "
          "(argmax over [xR; −xR]), got ", buckets);
    check(n_hashes >= 1, "reformer: n_hashes must be ≥ 1, got ", n_hashes);
    check(chunk >= 1, "reformer: chunk must be ≥ 1, got ", chunk);
    rotations = register_buffer("rotations", Tensor::zeros({n_hashes, 0, buckets / 2}));
    if (ctx.head_dim > 0) draw_rotations(ctx.head_dim);
}

std::string ReformerAttention::describe() const {
    return cat("ReformerAttention(buckets=", buckets, ", n_hashes=", n_hashes, ", chunk=", chunk, ")");
}

void ReformerAttention::draw_rotations(int64_t D) {
    rotations = Tensor::randn({n_hashes, D, buckets / 2}, gen_);
    set_buffer("rotations", rotations);
}

namespace {

// The rotations of every round side by side, [D, cols] with cols = n_h·b/2 rounded up to whole
// vectors (n_h·b/2 is often below one vector, and a product narrower than a vector runs as
// scalar code): R[d, r·b/2 + c] = rotations[r, d, c], zero beyond.
struct SideBySide {
    std::vector<float> R;
    int64_t cols, half, nh;
    SideBySide(const Tensor& rotations) : half(rotations.size(2)), nh(rotations.size(0)) {
        const int64_t D = rotations.size(1);
        cols = (nh * half + small::kLanes - 1) / small::kLanes * small::kLanes;
        R.assign(size_t(D * cols), 0.f);
        const Tensor rc = contiguous(rotations);
        const float* rot = rc.data();
        for (int64_t r = 0; r < nh; ++r)
            for (int64_t d = 0; d < D; ++d)
                std::copy(rot + (r * D + d) * half, rot + (r * D + d + 1) * half, R.data() + d * cols + r * half);
    }
};

// The buckets of head bh, [n_h, N] into out: x R for the head's rows, then per round the argmax
// over [xR_r ; −xR_r] (the first maximum wins); all 0 with one bucket. xr: scratch.
void hash_head(const HeadRows& Q, int64_t bh, int64_t N, int64_t D, const SideBySide& s, std::vector<float>& xr,
               int32_t* out) {
    if (s.half == 0) return std::fill(out, out + s.nh * N, 0);  // one bucket: no rotation to apply
    xr.resize(size_t(N * s.cols));
    small::gemm<false>(N, s.cols, D, 1.f, Q.at(bh, 0), Q.row, s.R.data(), s.cols, false, xr.data(), s.cols);
    for (int64_t i = 0; i < N; ++i)
        for (int64_t r = 0; r < s.nh; ++r) {
            const float* xi = xr.data() + i * s.cols + r * s.half;
            float best = -std::numeric_limits<float>::infinity();
            int32_t arg = 0;
            for (int64_t c = 0; c < s.half; ++c)
                if (xi[c] > best) best = xi[c], arg = int32_t(c);
            for (int64_t c = 0; c < s.half; ++c)
                if (-xi[c] > best) best = -xi[c], arg = int32_t(s.half + c);
            out[r * N + i] = arg;
        }
}

}  // namespace

std::vector<int32_t> ReformerAttention::hash(const Tensor& q) {
    check(rotations.size(1) == q.size(3), "reformer: rotations drawn for head dim ", rotations.size(1), ", got q ",
          to_string(q.shape()));
    const int64_t BH = q.size(0) * q.size(1), N = q.size(2), D = q.size(3);
    std::vector<int32_t> bucket(size_t(BH * n_hashes * N));
    const SideBySide side(rotations);
    Tensor x = unit_last_stride(q.detach());
    HeadRows Q(x);
    parallel_for(0, BH, 1, [&](int64_t lo, int64_t hi) {
        std::vector<float> xr;  // one head's x R, [N, cols]
        for (int64_t bh = lo; bh < hi; ++bh) hash_head(Q, bh, N, D, side, xr, bucket.data() + bh * n_hashes * N);
    });
    return bucket;
}

std::shared_ptr<LshHashes> ReformerAttention::hashes_for(const Tensor& q, bool all_buckets) {
    const int64_t N = q.size(2), D = q.size(3);
    check(rotations.size(1) == D || rotations.size(1) == 0, "reformer: rotations drawn for head dim ",
          rotations.size(1), ", got q ", to_string(q.shape()));
    if (rotations.size(1) == 0 || (redraw && is_training())) draw_rotations(D);
    auto x = std::make_shared<LshHashes>();
    x->nh = n_hashes, x->buckets = buckets, x->m = std::min(chunk, N);
    if (all_buckets) {
        x->bucket = hash(q);
        return x;
    }
    // Each head's buckets on demand, for the fused op's forward and again its backward: from q
    // (which it keeps anyway) and these rotations (a redraw replaces `rotations`, not this copy).
    auto side = std::make_shared<const SideBySide>(rotations);
    Tensor rows = unit_last_stride(q.detach());
    x->rehash = [side, rows, N, D](int64_t bh, int32_t* out) {
        std::vector<float> xr;
        hash_head(HeadRows(rows), bh, N, D, *side, xr, out);
    };
    return x;
}

Tensor ReformerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("reformer attention", q, k, v);
    check(k.size(2) == q.size(2), "reformer attention: self-attention only (shared QK), got ", q.size(2),
          " queries and ", k.size(2), " keys");
    const bool fused = !reference && !reference_mode();
    auto hashes = hashes_for(q, /*all_buckets=*/!fused);
    if (fused) return lsh_chunk_attention(q, v, hashes);
    return composed(q, v, *hashes);
}

Tensor ReformerAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    if (reference || reference_mode()) return Attention::forward_packed(qkv, heads);
    Tensor q = split_packed_qkv(qkv, heads)[0];  // k and q have one length: self-attention
    return lsh_chunk_attention_packed(qkv, heads, hashes_for(q, /*all_buckets=*/false));
}

namespace {

// Which rows the composed reference gathers, and the bias on every (query slot, key slot)
// score: −log c_ij where attended (0 with one round), −inf elsewhere. Per (batch·head, round)
// the tokens are sorted by bucket and cut into nc chunks of m; key slots 0..m−1 are the
// previous chunk, m..2m−1 the own chunk.
struct ChunkLayout {
    Tensor qidx;  // [BH·nh·nc·m]: the row of Q in each query slot (sorted order)
    Tensor kidx;  // [BH·nh·nc·2m]: the row of K and V in each key slot
    Tensor oidx;  // [BH·nh·N]: the query slot of token i in round r, to put outputs back in order
    Tensor bias;  // [B, H, nh, nc, m, 2m]
};

// One (batch·head, round)'s slots: `row` = bh·nh + r, `ord` the round's tokens in sorted order.
void fill_round(ChunkLayout& L, const LshRounds& rounds, int64_t bh, int64_t r, int64_t N, int64_t m,
                int64_t nc) {
    int64_t *pq = L.qidx.data_as<int64_t>(), *pk = L.kidx.data_as<int64_t>(), *po = L.oidx.data_as<int64_t>();
    const int32_t* ord = rounds.order.data() + r * N;
    const int64_t row = bh * rounds.nh + r, nh = rounds.nh;
    const float inf = std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < N; ++i) po[row * N + i] = row * nc * m + rounds.pos[size_t(r * N + i)];
    for (int64_t c = 0; c < nc; ++c) {
        for (int64_t s = 0; s < 2 * m; ++s) {
            int64_t kp = (c - 1) * m + s;  // sorted position of key slot s
            pk[(row * nc + c) * 2 * m + s] = bh * N + (kp >= 0 && kp < N ? ord[kp] : ord[c * m]);
        }
        for (int64_t a = 0; a < m; ++a) {
            const int64_t p = c * m + a;  // sorted position of the query
            float* b = L.bias.data() + ((row * nc + c) * m + a) * 2 * m;
            pq[(row * nc + c) * m + a] = bh * N + (p < N ? ord[p] : ord[c * m]);
            for (int64_t s = 0; s < 2 * m; ++s) {
                int64_t kp = (c - 1) * m + s;
                if (p >= N) b[s] = s == m ? 0.f : -inf;  // padding query: one dummy key, output unused
                else if (kp < 0 || kp >= N || !rounds.attends(r, ord[p], ord[kp])) b[s] = -inf;
                else b[s] = nh == 1 ? 0.f : -std::log(float(rounds.count(ord[p], ord[kp])));
            }
        }
    }
}

ChunkLayout chunk_layout(const LshHashes& hashes, int64_t B, int64_t H, int64_t N) {
    const int64_t BH = B * H, nh = hashes.nh, m = hashes.m, nc = (N + m - 1) / m;
    ChunkLayout L{Tensor::empty({BH * nh * nc * m}, DType::Int64), Tensor::empty({BH * nh * nc * 2 * m}, DType::Int64),
                  Tensor::empty({BH * nh * N}, DType::Int64), Tensor::empty({B, H, nh, nc, m, 2 * m})};
    parallel_for(0, BH, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t bh = lo; bh < hi; ++bh) {
            LshRounds rounds(hashes.bucket.data() + bh * nh * N, nh, N, m, hashes.buckets);
            for (int64_t r = 0; r < nh; ++r) fill_round(L, rounds, bh, r, N, m, nc);
        }
    });
    return L;
}

}  // namespace

// The readable reference: every round's chunks gathered into tensors by index_select, and the
// rest differentiable ops (the integer work, which rows and which bias, in plain loops above).
Tensor ReformerAttention::composed(const Tensor& q, const Tensor& v, const LshHashes& hashes) {
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3), BH = B * H, nh = hashes.nh;
    const int64_t m = hashes.m, nc = (N + m - 1) / m;
    const ChunkLayout L = chunk_layout(hashes, B, H, N);
    const float scale = 1.f / std::sqrt(float(D));
    Tensor qf = reshape(q, {BH * N, D}), vf = reshape(v, {BH * N, D});
    Tensor kf = qf * rsqrt(sum(qf * qf, {-1}, true) + 1e-12f);              // shared QK: unit queries
    Tensor sq = index_select(qf, 0, L.qidx).view({B, H, nh, nc, m, D});
    Tensor sk = index_select(kf, 0, L.kidx).view({B, H, nh, nc, 2 * m, D});
    Tensor sv = index_select(vf, 0, L.kidx).view({B, H, nh, nc, 2 * m, D});
    Tensor s = matmul(sq, sk.transpose(-2, -1)) * scale + L.bias;            // [B,H,nh,nc,m,2m]
    Tensor o = matmul(softmax(s, -1), sv);                                  // [B,H,nh,nc,m,D]
    Tensor z = logsumexp_last(s);                                           // [B,H,nh,nc,m,1]
    // back to token order, then the rounds weighted by softmax_r(z^(r))
    Tensor ot = index_select(o.view({BH * nh * nc * m, D}), 0, L.oidx).view({B, H, nh, N, D});
    Tensor zt = index_select(z.view({BH * nh * nc * m, 1}), 0, L.oidx).view({B, H, nh, N, 1});
    return sum(softmax(zt, 2) * ot, {2});
}

}  // namespace attnlab::attention
