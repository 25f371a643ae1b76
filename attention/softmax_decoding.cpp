// softmax_decoding.cpp — see softmax_decoding.h.
#include "attention/softmax_decoding.h"

#include "core/util/error.h"

namespace attnlab::attention {

namespace {
struct KVCacheState : DecodeState {
    KVCache cache;
};
}  // namespace

std::unique_ptr<DecodeState> DecodingSoftmaxAttention::begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const {
    if (decoding() == Decoding::None) return Attention::begin_decoding(B, H, N, D);
    auto st = std::make_unique<KVCacheState>();
    st->cache = KVCache::empty(B, H, N, D);
    return st;
}

Tensor DecodingSoftmaxAttention::decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t,
                                             const Tensor& v_t) const {
    auto* st = dynamic_cast<KVCacheState*>(&state);
    check(st != nullptr, "softmax decode_step: the state was not made by this variant's begin_decoding");
    return step(st->cache, q_t, k_t, v_t);
}

}  // namespace attnlab::attention
