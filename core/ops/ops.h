// ops.h — every tensor operation of attnlab, as plain functions.
//
// Each differentiable op is defined in one place together with its backward
// (see the ops_*.cpp files). Shapes follow PyTorch: broadcasting binary ops,
// negative dims count from the end, keepdim keeps reduced dims as size 1.
// Names used in comments: B batch, N tokens, C channels, H heads, D head dim.
//
// File map:
//   ops_unary.cpp    neg exp log sqrt rsqrt abs tanh sigmoid relu gelu elu sin cos pow(x,p) scalar ops
//   ops_binary.cpp   add sub mul div pow(a,b) maximum minimum (broadcasting), comparisons, in-place add_/fill_
//   ops_reduce.cpp   sum mean max min (over all or along dims)
//   ops_matmul.cpp   matmul (2-D, batched, broadcast-batched via sgemm), linear
//   ops_shape.cpp    reshape view transpose permute expand slice narrow flatten (un)squeeze
//                    contiguous clone concat stack pad
//   ops_softmax.cpp  softmax log_softmax (fused, stable)
//   ops_norm.cpp     layer_norm (fused)
//   ops_loss.cpp     cross_entropy (fused, label smoothing)
//   ops_random.cpp   dropout
//   ops_index.cpp    masked_fill where cumsum gather index_select embedding argmax argsort topk
//   ops_attention.cpp scaled_dot_product_attention (fused, FlashAttention-style) and its
//                    composed reference, which reference mode selects (ATTNLAB_REFERENCE=1)
#pragma once
#include <utility>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab {

class Generator;

// ---- element-wise, one input (ops_unary.cpp) ------------------------------
enum class GeluApprox { None, Tanh };  // exact erf form, or the tanh approximation
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x)
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, GeluApprox approx = GeluApprox::None);
Tensor elu(const Tensor& x, float alpha = 1.f);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor pow(const Tensor& x, float exponent);
Tensor add_scalar(const Tensor& x, float s);
Tensor mul_scalar(const Tensor& x, float s);

// ---- element-wise, two inputs, broadcasting (ops_binary.cpp) ---------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // a > 0 where b's gradient is needed
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons give Bool tensors and carry no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& mask);
// In-place, never recorded by autograd: dst += src (src broadcast to dst), dst *= s, dst = v, dst = src.
void add_(const Tensor& dst, const Tensor& src, float alpha = 1.f);
void mul_(const Tensor& dst, float s);
void fill_(const Tensor& dst, float value);
void copy_(const Tensor& dst, const Tensor& src);

// ---- reductions (ops_reduce.cpp) ------------------------------------------
Tensor sum(const Tensor& x);  // over all elements -> 0-d
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// max/min: gradient flows to the maximal (minimal) entries, split evenly on ties.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int64_t dim, bool keepdim = false);
// Sums a broadcast gradient back down to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- matrix products (ops_matmul.cpp) --------------------------------------
// [..., M, K] x [..., K, N] -> [..., M, N]; batch dims broadcast; 1-D operands
// are promoted as in NumPy. Transposed views are passed to sgemm without copies.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., C_in], weight [C_out, C_in], bias [C_out] (may be undefined) -> [..., C_out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- shape and layout (ops_shape.cpp) --------------------------------------
// reshape/view: one entry may be -1 (inferred). view never copies and throws if
// the layout does not allow it; reshape copies only when it must.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor view(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a size
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
// Pads the last pads.size()/2 dims: pads = {last_before, last_after, prev_before, prev_after, ...}
// as in torch.nn.functional.pad (constant mode).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value = 0.f);

// ---- fused nn kernels (ops_softmax.cpp, ops_norm.cpp, ops_loss.cpp, ops_random.cpp)
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// Normalizes over the last dim: (x - mean) / sqrt(var + eps) * weight + bias.
// weight and bias [C] may be undefined (no affine transform).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);
enum class Reduction { Mean, Sum, None };
// logits [B, K], targets Int64 [B] in [0, K). Label smoothing eps mixes the
// one-hot target with the uniform distribution: q = (1-eps)·onehot + eps/K.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, float label_smoothing = 0.f,
                     Reduction reduction = Reduction::Mean);
// Zeroes each element with probability p and scales the rest by 1/(1-p); identity when !training.
Tensor dropout(const Tensor& x, float p, bool training, Generator& gen);

// ---- fused attention (ops_attention.cpp) -----------------------------------
// softmax(s·Q Kᵀ [+ causal mask]) V for q [B,H,N,D], k and v [B,H,M,D], without
// forming the N×M matrix (memory O((N+M)·D) per head). scale 0 means 1/√D.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false,
                                    float scale = 0.f);
// The same on the packed output of a qkv projection, [B, N, 3·heads·D] laid out
// [B, N, (q|k|v), heads, D]; returns [B, heads, N, D]. Its backward writes the
// one gradient [B, N, 3·heads·D] directly (no split, zero fill and re-adding).
Tensor scaled_dot_product_attention_packed(const Tensor& qkv, int64_t heads, bool causal = false, float scale = 0.f);
// The composed form, softmax(masked_fill(s·Q Kᵀ, future, -inf)) V from matmul and
// softmax (PyTorch's "math" backend), forming the N×M matrix: what both fused ops
// run in reference mode (ATTNLAB_REFERENCE=1, core/util/reference_mode.h).
Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false,
                                              float scale = 0.f);

// ---- indexing (ops_index.cpp) -----------------------------------------------
Tensor masked_fill(const Tensor& x, const Tensor& mask, float value);  // mask Bool, broadcast to x
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);    // cond Bool; all broadcast
Tensor cumsum(const Tensor& x, int64_t dim);
// out[i][j] = x[i][index[i][j]] along `dim` (index Int64, same rank as x).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Picks the slices x.select(dim, index[k]) for a 1-D Int64 index.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// weight [V, C], ids Int64 [...] -> [..., C]
Tensor embedding(const Tensor& weight, const Tensor& ids);
// No gradient; results are Int64.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);  // stable
// The k largest (or smallest) entries along dim, sorted; {values, indices}. No gradient.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);

}  // namespace attnlab
