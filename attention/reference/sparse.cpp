// sparse.cpp — see sparse.h.
#include "attention/reference/sparse.h"

#include <algorithm>

#include "attention/softmax/reference.h"
#include "core/ops/ops.h"

namespace attnlab::attention {

Tensor dense_blocked(SparsePatternAttention& attn, int64_t N) {
    attn.prepare(N);
    return pattern_mask(N, [&](int64_t i, int64_t j) { return attn.allowed(i, j, N); });
}

Tensor dense_sparse(SparsePatternAttention& attn, const Tensor& q, const Tensor& k, const Tensor& v) {
    return masked_softmax_attention(q, k, v, dense_blocked(attn, q.size(2)));
}

// attends[i·N + j] |= round r's A_i holds j, for one (batch, head); h = the round's buckets [N].
static void add_round(const int32_t* h, int64_t N, int64_t m, std::vector<bool>& attends) {
    std::vector<int64_t> order(static_cast<size_t>(N)), pos(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) order[size_t(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return h[a] < h[b]; });
    for (int64_t p = 0; p < N; ++p) pos[size_t(order[size_t(p)])] = p;
    for (int64_t i = 0; i < N; ++i) {
        bool alone = true;
        for (int64_t j = 0; j < N; ++j) {
            const int64_t ci = pos[size_t(i)] / m, cj = pos[size_t(j)] / m;
            if (j != i && h[i] == h[j] && (cj == ci || cj == ci - 1)) attends[size_t(i * N + j)] = true, alone = false;
        }
        if (alone) attends[size_t(i * N + i)] = true;
    }
}

Tensor dense_reformer_blocked(ReformerAttention& attn, const Tensor& q) {
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), m = std::min(attn.chunk, N), nh = attn.n_hashes;
    std::vector<int32_t> bucket = attn.hash(q);  // [B·H, n_h, N]
    std::vector<bool> blocked(size_t(B * H * N * N));
    for (int64_t bh = 0; bh < B * H; ++bh) {
        std::vector<bool> attends(size_t(N * N), false);
        for (int64_t r = 0; r < nh; ++r) add_round(bucket.data() + (bh * nh + r) * N, N, m, attends);
        for (int64_t c = 0; c < N * N; ++c) blocked[size_t(bh * N * N + c)] = !attends[size_t(c)];
    }
    return Tensor::from_bools(blocked, {B, H, N, N});
}

Tensor dense_reformer(ReformerAttention& attn, const Tensor& q, const Tensor& v) {
    Tensor keys = q / sqrt(sum(q * q, {-1}, true));
    return masked_softmax_attention(q, keys, v, dense_reformer_blocked(attn, q));
}

}  // namespace attnlab::attention
