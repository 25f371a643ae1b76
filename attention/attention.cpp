// attention.cpp — what every variant shares (see attention.h): the packed-projection split,
// the q/k/v shape check, the seed option, and the "no one-token decoding" defaults.
#include "attention/attention.h"

#include "core/util/error.h"

namespace attnlab::attention {

Tensor Attention::forward_packed(const Tensor& qkv, int64_t heads) {
    check(qkv.dim() == 3 && heads > 0 && qkv.size(2) % (3 * heads) == 0, "attention: packed qkv ",
          to_string(qkv.shape()), " with ", heads, " heads: expected [B, N, 3·heads·D]");
    const int64_t B = qkv.size(0), N = qkv.size(1), D = qkv.size(2) / (3 * heads);
    // [B, N, 3C] -> [B, N, 3, H, D] -> [3, B, H, N, D]; q, k, v are strided views (no copies)
    Tensor heads_first = qkv.reshape({B, N, 3, heads, D}).permute({2, 0, 3, 1, 4});
    return forward(heads_first.narrow(0, 0, 1).squeeze(0), heads_first.narrow(0, 1, 1).squeeze(0),
                   heads_first.narrow(0, 2, 1).squeeze(0));
}

void check_qkv(const char* who, const Tensor& q, const Tensor& k, const Tensor& v) {
    check(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, who, ": q, k, v must be [B, H, N, D], got ",
          to_string(q.shape()), ", ", to_string(k.shape()), ", ", to_string(v.shape()));
    check(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3), who, ": q ",
          to_string(q.shape()), " and k ", to_string(k.shape()), " differ in B, H or D");
    check(k.size(0) == v.size(0) && k.size(1) == v.size(1) && k.size(2) == v.size(2), who, ": k ",
          to_string(k.shape()), " and v ", to_string(v.shape()), " differ in B, H or N");
}

uint64_t resolve_seed(const char* who, int64_t seed) {
    check(seed >= -1, who, ": option seed=", seed, " is invalid; use a seed >= 0, or -1 to draw one from the global generator");
    return seed >= 0 ? uint64_t(seed) : uint64_t(default_generator().randint(int64_t(1) << 62));
}

std::unique_ptr<DecodeState> Attention::begin_decoding(int64_t, int64_t, int64_t, int64_t) const {
    throw Error(cat(describe(), " has no one-token decoding step; generate by re-running forward on the prefix"));
}

Tensor Attention::decode_step(DecodeState&, const Tensor&, const Tensor&, const Tensor&) const {
    throw Error(cat(describe(), " has no one-token decoding step (decode_step called without begin_decoding)"));
}

}  // namespace attnlab::attention
