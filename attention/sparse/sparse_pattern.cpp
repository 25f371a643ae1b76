// sparse_pattern.cpp — see sparse_pattern.h.
#include "attention/sparse/sparse_pattern.h"

#include "core/util/reference_mode.h"

namespace attnlab::attention {

const std::vector<SparseLayout>& SparsePatternAttention::layouts(int64_t N) {
    prepare(N);
    std::vector<int64_t> state = pattern_state();
    if (layouts_ && layouts_n_ == N && layouts_causal_ == causal && layouts_state_ == state) return *layouts_;
    layouts_ = std::make_shared<const std::vector<SparseLayout>>(make_layouts(N));  // a new one: an op in flight keeps the old
    layouts_n_ = N, layouts_causal_ = causal, layouts_state_ = std::move(state);
    return *layouts_;
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
    const std::vector<SparseLayout>& L = layouts(q.size(2));
    if (reference || reference_mode()) return composed(q, k, v, L);
    return sparse_attention(q, k, v, layouts_);
}

}  // namespace attnlab::attention
