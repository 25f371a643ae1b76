// softmax.cpp — see softmax.h. The composed form
//   masked_fill(Q Kᵀ/√D, future, -inf) -> softmax -> · V
// is attention::masked_softmax_attention in reference.cpp; here the fused op,
// which runs that composition instead in reference mode (ATTNLAB_REFERENCE=1).
#include "attention/softmax/softmax.h"

#include "core/ops/ops.h"

namespace attnlab::attention {

SoftmaxAttention::SoftmaxAttention(const Options& opts, const AttentionContext&) : Attention(opts) {}

Tensor SoftmaxAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("softmax attention", q, k, v);
    return scaled_dot_product_attention(q, k, v, causal);
}

Tensor SoftmaxAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    return scaled_dot_product_attention_packed(qkv, heads, causal);
}

KVCache KVCache::empty(int64_t B, int64_t H, int64_t capacity, int64_t D) {
    check(B > 0 && H > 0 && capacity > 0 && D > 0, "KVCache: sizes must be positive, got B=", B, " H=", H,
          " capacity=", capacity, " D=", D);
    return {Tensor::empty({B, H, capacity, D}), Tensor::empty({B, H, capacity, D}), 0};
}

Tensor SoftmaxAttention::step(KVCache& cache, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const {
    check(q_t.dim() == 3 && q_t.shape() == k_t.shape() && k_t.shape() == v_t.shape(),
          "softmax step: expected q_t, k_t, v_t [B,H,D], got ", to_string(q_t.shape()), ", ", to_string(k_t.shape()),
          ", ", to_string(v_t.shape()));
    const int64_t B = q_t.size(0), H = q_t.size(1), D = q_t.size(2);
    check(cache.k.defined() && cache.v.defined() && cache.k.dim() == 4 && cache.k.size(0) == B &&
              cache.k.size(1) == H && cache.k.size(3) == D && cache.v.shape() == cache.k.shape(),
          "softmax step: cache ", cache.k.defined() ? to_string(cache.k.shape()) : "undefined",
          " does not match [B,H,capacity,D] = [", B, ",", H, ",capacity,", D, "]; start from KVCache::empty");
    const int64_t t = cache.length;
    check(t < cache.k.size(2), "softmax step: the KV cache is full (capacity ", cache.k.size(2), " tokens)");
    copy_(cache.k.narrow(2, t, 1).squeeze(2), k_t);
    copy_(cache.v.narrow(2, t, 1).squeeze(2), v_t);
    cache.length = t + 1;
    // The one query attends to every cached row (all are ≤ t), so no mask is needed.
    Tensor out = scaled_dot_product_attention(unsqueeze(q_t, 2), cache.k.narrow(2, 0, t + 1),
                                              cache.v.narrow(2, 0, t + 1), false);  // [B,H,1,D]
    return out.squeeze(2);
}

namespace {
struct KVCacheState : DecodeState {
    KVCache cache;
};
}  // namespace

std::unique_ptr<DecodeState> SoftmaxAttention::begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const {
    if (decoding() == Decoding::None) return Attention::begin_decoding(B, H, N, D);
    auto st = std::make_unique<KVCacheState>();
    st->cache = KVCache::empty(B, H, N, D);
    return st;
}

Tensor SoftmaxAttention::decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t,
                                     const Tensor& v_t) const {
    auto* st = dynamic_cast<KVCacheState*>(&state);
    check(st != nullptr, "softmax decode_step: the state was not made by this variant's begin_decoding");
    return step(st->cache, q_t, k_t, v_t);
}

}  // namespace attnlab::attention
