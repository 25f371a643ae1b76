// head_rows.h — raw row access into one head of a [B, H, N, X] tensor, for the
// fused attention kernels (block_sparse_kernel.cpp, feature_map_attention.cpp)
// that walk rows themselves instead of going through ops.
#pragma once
#include <array>
#include <vector>

#include "core/ops/ops.h"
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// Rows of one head of a [B, H, N, X] tensor with unit stride in X; head bh = b·H + h.
struct HeadRows {
    float* base;
    int64_t H, stride_b, stride_h, row;
    explicit HeadRows(const Tensor& t)
        : base(t.data()), H(t.size(1)), stride_b(t.strides()[0]), stride_h(t.strides()[1]), row(t.strides()[2]) {}
    float* at(int64_t bh, int64_t i) const { return base + (bh / H) * stride_b + (bh % H) * stride_h + i * row; }
};

// A [B, H, N, X] output tensor whose memory is laid out [B, N, H, X] (zero-filled when `zeroed`):
// the layout MultiHeadAttention merges heads in, so its permute + reshape to [B, N, H·X] is a
// view, not a copy, and one buffer serves both the kernel's backward and the output projection
// (the fused softmax writes its output the same way).
inline Tensor heads_output(int64_t B, int64_t H, int64_t N, int64_t X, bool zeroed = false) {
    Tensor t = zeroed ? Tensor::zeros({B, N, H, X}) : Tensor::empty({B, N, H, X});
    return t.permute({0, 2, 1, 3});
}

// Asks for the cache lines of rows [begin, end) (of `cols` floats) of head bh ahead of their
// use: rows of a strided view (q, k, v of the packed projection are 3·H·D floats apart) are
// not found by the hardware prefetcher in time. No-op for an empty range.
inline void prefetch_rows(const HeadRows& X, int64_t bh, int64_t begin, int64_t end, int64_t cols) {
    for (int64_t i = begin; i < end; ++i) {
        const char* p = reinterpret_cast<const char*>(X.at(bh, i));
        for (int64_t b = 0; b < cols * int64_t(sizeof(float)); b += 64) __builtin_prefetch(p + b);
    }
}

// q, k, v [B, H, N, D] as strided views of a packed projection qkv [B, N, 3·heads·D] (laid
// out [B, N, 3, heads, D]), as Attention::forward_packed splits it: no copies.
inline std::array<Tensor, 3> split_packed_qkv(const Tensor& qkv, int64_t heads) {
    check(qkv.dim() == 3 && heads > 0 && qkv.size(2) % (3 * heads) == 0, "attention: packed qkv ",
          to_string(qkv.shape()), " with ", heads, " heads: expected [B, N, 3·heads·D]");
    const int64_t B = qkv.size(0), N = qkv.size(1), D = qkv.size(2) / (3 * heads);
    Tensor heads_first = qkv.reshape({B, N, 3, heads, D}).permute({2, 0, 3, 1, 4});
    return {heads_first.narrow(0, 0, 1).squeeze(0), heads_first.narrow(0, 1, 1).squeeze(0),
            heads_first.narrow(0, 2, 1).squeeze(0)};
}

// The three gradients of a fused op: dq, dk, dv [B,H,N,·] apart, or, for a packed call
// (heads > 0), the views of one gradient of the packed qkv's shape [B, N, 3·H·D]. Left
// uninitialized: the op's backward must write every element (no zero-fill).
struct QkvGrads {
    Tensor packed, dq, dk, dv;
    QkvGrads(const Tensor& q, const Tensor& k, const Tensor& v, const Shape& packed_shape, int64_t heads) {
        if (heads > 0) {
            packed = Tensor::empty(packed_shape);
            auto views = split_packed_qkv(packed, heads);
            dq = views[0], dk = views[1], dv = views[2];
        } else {
            dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
        }
    }
    // What the op's backward returns: {packed} or {dq, dk, dv}.
    std::vector<Tensor> list() const { return packed.defined() ? std::vector<Tensor>{packed} : std::vector<Tensor>{dq, dk, dv}; }
};

// Checks q, k [B,H,N,D] and v [B,H,N,Dv] share B, H, N (and q, k their D); `who` names the op.
inline void check_fused_qkv(const char* who, const Tensor& q, const Tensor& k, const Tensor& v) {
    check(q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && q.shape() == k.shape() && v.size(0) == q.size(0) &&
              v.size(1) == q.size(1) && v.size(2) == q.size(2),
          who, ": expected q, k [B,H,N,D] and v [B,H,N,Dv] with the same B, H, N, got ", to_string(q.shape()), ", ",
          to_string(k.shape()), ", ", to_string(v.shape()));
}

// t itself when its last dimension has unit stride, else a contiguous copy.
inline Tensor unit_last_stride(const Tensor& t) { return t.strides().back() == 1 ? t : contiguous(t); }

}  // namespace attnlab::attention
