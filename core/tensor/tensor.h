// tensor.h — the N-d tensor: a shared Storage viewed through shape, strides, offset.
//
// Element (i0, ..., ik) lives at storage[offset + i0*s0 + ... + ik*sk]. Views
// (reshape, transpose, permute, slice, expand) make a new Tensor that shares
// the Storage with different shape/strides/offset, so they cost no copy.
// A Tensor is a cheap handle (like torch.Tensor): copying it shares the data.
//
// Autograd lives on the same object: a tensor that requires_grad records the
// op that produced it (grad_fn); backward() walks those records in reverse
// and accumulates d(output)/d(leaf) into each leaf's grad(). See autograd.h.
//
// Quick tour:
//   Generator rng(0);
//   Tensor w = Tensor::randn({3, 2}, rng).requires_grad_();
//   Tensor y = (x.matmul(w) + b).relu().sum();
//   y.backward();              // w.grad() now holds dy/dw
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/tensor/shape.h"
#include "core/tensor/storage.h"

namespace attnlab {

enum class DType : uint8_t { Float32, Int64, Bool };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

class Generator;
struct Node;
struct TensorImpl;

class Tensor {
public:
    Tensor() = default;  // an undefined tensor (like an empty optional)
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // ---- creation -------------------------------------------------------
    static Tensor empty(const Shape& shape, DType dtype = DType::Float32);  // uninitialized
    static Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
    static Tensor ones(const Shape& shape);
    static Tensor full(const Shape& shape, float value);
    static Tensor scalar(float value);  // 0-d tensor
    static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
    static Tensor from_indices(const std::vector<int64_t>& values, const Shape& shape);  // Int64
    static Tensor from_bools(const std::vector<bool>& values, const Shape& shape);      // Bool
    static Tensor arange(int64_t n);                                    // 0, 1, ..., n-1 (Float32)
    static Tensor randn(const Shape& shape, Generator& gen, float mean = 0.f, float std = 1.f);
    static Tensor rand(const Shape& shape, Generator& gen, float low = 0.f, float high = 1.f);
    // Normal(mean, std) truncated to [mean + a*std, mean + b*std] by resampling.
    static Tensor trunc_normal(const Shape& shape, Generator& gen, float std = 1.f, float a = -2.f,
                               float b = 2.f);

    // ---- inspection -----------------------------------------------------
    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const;
    const Strides& strides() const;
    int64_t offset() const;
    int64_t dim() const;
    int64_t size(int64_t d) const;  // negative d counts from the end
    int64_t numel() const;
    DType dtype() const;
    bool is_contiguous() const;
    std::string str() const;  // "Tensor[2,3] f32" plus values when small

    // Pointer to element (0, ..., 0). data() requires Float32; data_as<T>() checks T.
    float* data() const;
    template <class T>
    T* data_as() const;
    float item() const;                      // single-element tensor -> float
    std::vector<float> to_vector() const;    // row-major copy, converted to float
    std::vector<int64_t> to_indices() const; // row-major copy, converted to int64
    float at(const std::vector<int64_t>& index) const;

    // Contiguous copy, recorded like any op: the copy's gradient flows back to
    // this tensor. detach().clone() gives a copy with no history.
    Tensor clone() const;
    Tensor contiguous() const;  // this if already contiguous, else a copy (differentiable)
    Tensor to(DType dtype) const;  // dtype conversion (no gradient)

    // ---- autograd -------------------------------------------------------
    bool requires_grad() const;
    Tensor& requires_grad_(bool on = true);  // only on leaves; returns *this
    bool is_leaf() const;                    // not produced by a recorded op
    Tensor grad() const;                     // accumulated gradient (undefined if none)
    void set_grad(const Tensor& g);
    void zero_grad();                        // fills grad with zeros, keeping its buffer
    std::string grad_fn_name() const;        // "matmul", or "" for leaves
    std::shared_ptr<Node> grad_fn() const;
    // Backward from this tensor. Scalar: upstream gradient 1. Otherwise pass
    // grad_output of the same shape. The graph is freed unless retain_graph.
    void backward(bool retain_graph = false) const;
    void backward(const Tensor& grad_output, bool retain_graph = false) const;
    Tensor detach() const;  // same data, no history, requires_grad false

    // ---- ops as methods (each calls the free function of ops.h; tensor.cpp) --
    Tensor operator-() const;
    Tensor matmul(const Tensor& other) const;
    Tensor relu() const;
    Tensor gelu() const;
    Tensor exp() const;
    Tensor log() const;
    Tensor sqrt() const;
    Tensor tanh() const;
    Tensor sigmoid() const;
    Tensor abs() const;
    Tensor pow(float exponent) const;
    Tensor sum() const;
    Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
    Tensor mean() const;
    Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
    Tensor max(int64_t dim, bool keepdim = false) const;
    Tensor softmax(int64_t dim) const;
    Tensor log_softmax(int64_t dim) const;
    Tensor reshape(const Shape& shape) const;
    Tensor view(const Shape& shape) const;
    Tensor transpose(int64_t d0, int64_t d1) const;
    Tensor permute(const std::vector<int64_t>& dims) const;
    Tensor expand(const Shape& shape) const;
    Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
    Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
    Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
    Tensor unsqueeze(int64_t dim) const;
    Tensor squeeze(int64_t dim) const;
    Tensor T() const;  // transpose of the last two dims

    std::shared_ptr<TensorImpl> impl() const { return impl_; }
    TensorImpl* raw() const { return impl_.get(); }

private:
    std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Strides strides;
    int64_t offset = 0;  // in elements
    DType dtype = DType::Float32;

    bool requires_grad = false;
    Tensor grad;                     // accumulated gradient (leaves)
    std::shared_ptr<Node> grad_fn;   // the op that produced this tensor (non-leaves)
};

// A view of `base`'s storage with another shape/strides/offset (no autograd link).
Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, float s);
Tensor operator-(const Tensor& a, float s);
Tensor operator*(const Tensor& a, float s);
Tensor operator/(const Tensor& a, float s);
Tensor operator+(float s, const Tensor& a);
Tensor operator-(float s, const Tensor& a);
Tensor operator*(float s, const Tensor& a);
Tensor operator/(float s, const Tensor& a);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

template <class T>
T* Tensor::data_as() const {
    check(defined(), "data_as: undefined tensor");
    check(sizeof(T) == dtype_size(impl_->dtype), "data_as: element size ", sizeof(T),
          " does not match dtype ", dtype_name(impl_->dtype));
    return static_cast<T*>(impl_->storage->data) + impl_->offset;
}

}  // namespace attnlab
