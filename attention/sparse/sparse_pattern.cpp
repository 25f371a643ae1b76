// sparse_pattern.cpp — see sparse_pattern.h.
#include "attention/sparse/sparse_pattern.h"

#include "core/util/reference_mode.h"

namespace attnlab::attention {

std::shared_ptr<const std::vector<SparseLayout>> SparsePatternAttention::layouts(int64_t N, bool fused) {
    prepare(N);
    std::vector<int64_t> state = pattern_state();
    if (layouts_n_ != N || layouts_causal_ != causal || layouts_state_ != state) {
        layouts_.reset(), fused_.reset();  // an op in flight keeps its own
        layouts_n_ = N, layouts_causal_ = causal, layouts_state_ = std::move(state);
    }
    std::shared_ptr<const std::vector<SparseLayout>>& L = fused ? fused_ : layouts_;
    if (!L) L = std::make_shared<const std::vector<SparseLayout>>(fused ? make_fused_layouts(N) : make_layouts(N));
    return L;
}

Tensor SparsePatternAttention::composed(const Tensor& q, const Tensor& k, const Tensor& v,
                                        const std::vector<SparseLayout>& L) const {
    check(L.size() == 1, name_, " attention: the default composed path takes one layout, got ", L.size());
    return sparse_attention_reference(q, k, v, L[0]);
}

Tensor SparsePatternAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv(cat(name_, " attention").c_str(), q, k, v);
    check(q.size(2) == k.size(2), name_, " attention: self-attention only, got ", q.size(2), " queries and ",
          k.size(2), " keys");
    if (reference || reference_mode()) return composed(q, k, v, *layouts(q.size(2), false));
    return sparse_attention(q, k, v, layouts(q.size(2), true));
}

}  // namespace attnlab::attention
