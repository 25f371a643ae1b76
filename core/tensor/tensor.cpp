// tensor.cpp — creation, inspection, printing and autograd plumbing of Tensor.
#include "core/tensor/tensor.h"

#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/rng.h"
#include "core/tensor/strided.h"

namespace attnlab {

size_t dtype_size(DType t) {
    switch (t) {
        case DType::Float32: return 4;
        case DType::Int64: return 8;
        case DType::Bool: return 1;
    }
    return 0;
}

const char* dtype_name(DType t) {
    switch (t) {
        case DType::Float32: return "float32";
        case DType::Int64: return "int64";
        case DType::Bool: return "bool";
    }
    return "?";
}

// ---- creation -----------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype) {
    for (int64_t d : shape) check(d >= 0, "empty: negative dimension in shape ", to_string(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(size_t(attnlab::numel(shape)) * dtype_size(dtype));
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    impl->dtype = dtype;
    return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
    Tensor t = empty(shape, dtype);
    std::memset(t.raw()->storage->data, 0, t.raw()->storage->bytes);
    return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
    Tensor t = empty(shape);
    float* p = t.data();
    int64_t n = t.numel();
    parallel_for(0, n, 1 << 16, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, value); });
    return t;
}

Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.f); }
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
    check(int64_t(values.size()) == attnlab::numel(shape), "from_vector: ", values.size(),
          " values do not fill shape ", to_string(shape));
    Tensor t = empty(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

Tensor Tensor::from_indices(const std::vector<int64_t>& values, const Shape& shape) {
    check(int64_t(values.size()) == attnlab::numel(shape), "from_indices: ", values.size(),
          " values do not fill shape ", to_string(shape));
    Tensor t = empty(shape, DType::Int64);
    std::copy(values.begin(), values.end(), t.data_as<int64_t>());
    return t;
}

Tensor Tensor::from_bools(const std::vector<bool>& values, const Shape& shape) {
    check(int64_t(values.size()) == attnlab::numel(shape), "from_bools: ", values.size(),
          " values do not fill shape ", to_string(shape));
    Tensor t = empty(shape, DType::Bool);
    uint8_t* p = t.data_as<uint8_t>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = values[i] ? 1 : 0;
    return t;
}

Tensor Tensor::arange(int64_t n) {
    Tensor t = empty({n});
    float* p = t.data();
    for (int64_t i = 0; i < n; ++i) p[i] = float(i);
    return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, float mean, float std) {
    Tensor t = empty(shape);
    gen.fill_normal(t.data(), t.numel(), mean, std);
    return t;
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, float low, float high) {
    Tensor t = empty(shape);
    gen.fill_uniform(t.data(), t.numel(), low, high);
    return t;
}

Tensor Tensor::trunc_normal(const Shape& shape, Generator& gen, float std, float a, float b) {
    Tensor t = empty(shape);
    gen.fill_trunc_normal(t.data(), t.numel(), std, a, b);
    return t;
}

// ---- inspection ---------------------------------------------------------

static const TensorImpl& need(const std::shared_ptr<TensorImpl>& p, const char* what) {
    check(p != nullptr, what, ": undefined tensor");
    return *p;
}

const Shape& Tensor::shape() const { return need(impl_, "shape").shape; }
const Strides& Tensor::strides() const { return need(impl_, "strides").strides; }
int64_t Tensor::offset() const { return need(impl_, "offset").offset; }
int64_t Tensor::dim() const { return int64_t(shape().size()); }
int64_t Tensor::size(int64_t d) const { return shape()[size_t(normalize_dim(d, dim(), "size"))]; }
int64_t Tensor::numel() const { return attnlab::numel(shape()); }
DType Tensor::dtype() const { return need(impl_, "dtype").dtype; }

bool Tensor::is_contiguous() const {
    const TensorImpl& t = need(impl_, "is_contiguous");
    int64_t expected = 1;
    for (size_t i = t.shape.size(); i-- > 0;) {
        if (t.shape[i] == 1) continue;
        if (t.strides[i] != expected) return false;
        expected *= t.shape[i];
    }
    return true;
}

float* Tensor::data() const {
    const TensorImpl& t = need(impl_, "data");
    check(t.dtype == DType::Float32, "data: tensor is ", dtype_name(t.dtype), ", expected float32");
    return static_cast<float*>(t.storage->data) + t.offset;
}

std::vector<float> Tensor::to_vector() const {
    Tensor c = to(DType::Float32).contiguous();
    return std::vector<float>(c.data(), c.data() + c.numel());
}

std::vector<int64_t> Tensor::to_indices() const {
    Tensor c = to(DType::Int64).contiguous();
    const int64_t* p = c.data_as<int64_t>();
    return std::vector<int64_t>(p, p + c.numel());
}

float Tensor::item() const {
    check(numel() == 1, "item: tensor of shape ", to_string(shape()), " has ", numel(), " elements, expected 1");
    return to_vector()[0];
}

float Tensor::at(const std::vector<int64_t>& index) const {
    check(int64_t(index.size()) == dim(), "at: ", index.size(), " indices for a ", dim(), "-d tensor");
    int64_t off = offset();
    for (size_t i = 0; i < index.size(); ++i) {
        check(index[i] >= 0 && index[i] < shape()[i], "at: index ", index[i], " out of range for dim ", i,
              " of size ", shape()[i]);
        off += index[i] * strides()[i];
    }
    switch (dtype()) {
        case DType::Float32: return static_cast<const float*>(impl_->storage->data)[off];
        case DType::Int64: return float(static_cast<const int64_t*>(impl_->storage->data)[off]);
        case DType::Bool: return float(static_cast<const uint8_t*>(impl_->storage->data)[off]);
    }
    return 0.f;
}

Tensor Tensor::to(DType target) const {
    if (dtype() == target) return *this;
    Tensor src = contiguous();
    Tensor out = empty(shape(), target);
    int64_t n = numel();
    auto convert = [&](auto* from) {
        if (target == DType::Float32)
            for (int64_t i = 0; i < n; ++i) out.data()[i] = float(from[i]);
        else if (target == DType::Int64)
            for (int64_t i = 0; i < n; ++i) out.data_as<int64_t>()[i] = int64_t(from[i]);
        else
            for (int64_t i = 0; i < n; ++i) out.data_as<uint8_t>()[i] = from[i] != 0;
    };
    switch (dtype()) {
        case DType::Float32: convert(src.data()); break;
        case DType::Int64: convert(src.data_as<int64_t>()); break;
        case DType::Bool: convert(src.data_as<uint8_t>()); break;
    }
    return out;
}

std::string Tensor::str() const {
    std::ostringstream os;
    os << *this;
    return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    if (!t.defined()) return os << "Tensor(undefined)";
    os << "Tensor" << to_string(t.shape()) << " " << dtype_name(t.dtype());
    if (t.requires_grad()) os << " requires_grad";
    if (!t.grad_fn_name().empty()) os << " grad_fn=" << t.grad_fn_name();
    std::vector<float> v = t.to_vector();
    os << " {";
    size_t shown = std::min<size_t>(v.size(), 16);
    for (size_t i = 0; i < shown; ++i) os << (i ? ", " : "") << std::setprecision(5) << v[i];
    if (shown < v.size()) os << ", ... (" << v.size() << " values)";
    return os << "}";
}

// ---- views --------------------------------------------------------------

Tensor make_view(const Tensor& base, Shape shape, Strides strides, int64_t offset) {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = base.raw()->storage;
    impl->shape = std::move(shape);
    impl->strides = std::move(strides);
    impl->offset = offset;
    impl->dtype = base.dtype();
    return Tensor(std::move(impl));
}

Tensor Tensor::detach() const {
    check(defined(), "detach: undefined tensor");
    return make_view(*this, shape(), strides(), offset());
}

// ---- autograd -----------------------------------------------------------

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
    check(defined(), "requires_grad_: undefined tensor");
    check(!impl_->grad_fn, "requires_grad_: only leaf tensors can change requires_grad (this one comes from ",
          impl_->grad_fn ? impl_->grad_fn->name : "", "); use detach() first");
    check(!on || dtype() == DType::Float32, "requires_grad_: only float32 tensors can require grad, got ",
          dtype_name(dtype()));
    impl_->requires_grad = on;
    return *this;
}

bool Tensor::is_leaf() const { return defined() && !impl_->grad_fn; }
Tensor Tensor::grad() const { return defined() ? impl_->grad : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
    check(defined(), "set_grad: undefined tensor");
    if (g.defined() && g.shape() != shape())
        throw Error(cat("set_grad: gradient ", to_string(g.shape()), " for tensor ", to_string(shape())));
    impl_->grad = g;
}

void Tensor::zero_grad() {
    if (defined() && impl_->grad.defined()) fill_(impl_->grad, 0.f);
}

std::string Tensor::grad_fn_name() const { return defined() && impl_->grad_fn ? impl_->grad_fn->name : ""; }
std::shared_ptr<Node> Tensor::grad_fn() const { return defined() ? impl_->grad_fn : nullptr; }

void Tensor::backward(bool retain_graph) const {
    check(defined() && numel() == 1, "backward: implicit gradient needs a single-element output, got shape ",
          defined() ? to_string(shape()) : "undefined", "; pass grad_output");
    run_backward(*this, Tensor::ones(shape()), retain_graph);
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
    run_backward(*this, grad_output, retain_graph);
}

// ---- methods forwarding to ops.h -----------------------------------------

Tensor Tensor::clone() const { return attnlab::clone(*this); }
Tensor Tensor::contiguous() const { return attnlab::contiguous(*this); }
Tensor Tensor::operator-() const { return neg(*this); }
Tensor Tensor::matmul(const Tensor& o) const { return attnlab::matmul(*this, o); }
Tensor Tensor::relu() const { return attnlab::relu(*this); }
Tensor Tensor::gelu() const { return attnlab::gelu(*this); }
Tensor Tensor::exp() const { return attnlab::exp(*this); }
Tensor Tensor::log() const { return attnlab::log(*this); }
Tensor Tensor::sqrt() const { return attnlab::sqrt(*this); }
Tensor Tensor::tanh() const { return attnlab::tanh(*this); }
Tensor Tensor::sigmoid() const { return attnlab::sigmoid(*this); }
Tensor Tensor::abs() const { return attnlab::abs(*this); }
Tensor Tensor::pow(float e) const { return attnlab::pow(*this, e); }
Tensor Tensor::sum() const { return attnlab::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return attnlab::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return attnlab::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const {
    return attnlab::mean(*this, dims, keepdim);
}
Tensor Tensor::max(int64_t dim, bool keepdim) const { return attnlab::max(*this, dim, keepdim); }
Tensor Tensor::softmax(int64_t dim) const { return attnlab::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return attnlab::log_softmax(*this, dim); }
Tensor Tensor::reshape(const Shape& s) const { return attnlab::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return attnlab::view(*this, s); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return attnlab::transpose(*this, a, b); }
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return attnlab::permute(*this, d); }
Tensor Tensor::expand(const Shape& s) const { return attnlab::expand(*this, s); }
Tensor Tensor::slice(int64_t d, int64_t s, int64_t e, int64_t st) const { return attnlab::slice(*this, d, s, e, st); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return attnlab::narrow(*this, d, s, l); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return attnlab::flatten(*this, s, e); }
Tensor Tensor::unsqueeze(int64_t d) const { return attnlab::unsqueeze(*this, d); }
Tensor Tensor::squeeze(int64_t d) const { return attnlab::squeeze(*this, d); }
Tensor Tensor::T() const { return attnlab::transpose(*this, -2, -1); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, float s) { return add_scalar(a, s); }
Tensor operator-(const Tensor& a, float s) { return add_scalar(a, -s); }
Tensor operator*(const Tensor& a, float s) { return mul_scalar(a, s); }
Tensor operator/(const Tensor& a, float s) { return mul_scalar(a, 1.f / s); }
Tensor operator+(float s, const Tensor& a) { return add_scalar(a, s); }
Tensor operator-(float s, const Tensor& a) { return add_scalar(neg(a), s); }
Tensor operator*(float s, const Tensor& a) { return mul_scalar(a, s); }
Tensor operator/(float s, const Tensor& a) { return mul_scalar(pow(a, -1.f), s); }

// ---- internal helpers shared by the op files -------------------------------

namespace detail {

Strides broadcast_strides(const Tensor& t, const Shape& shape) {
    Strides s(shape.size(), 0);
    size_t lead = shape.size() - t.shape().size();
    for (size_t i = 0; i < t.shape().size(); ++i)
        s[lead + i] = t.shape()[i] == 1 ? 0 : t.strides()[i];
    return s;
}

template <class T>
static void copy_typed(const Tensor& dst, const Tensor& src) {
    T* pd = static_cast<T*>(dst.raw()->storage->data) + dst.offset();
    const T* ps = static_cast<const T*>(src.raw()->storage->data) + src.offset();
    if (dst.shape() == src.shape() && dst.is_contiguous() && src.is_contiguous()) {
        parallel_for(0, dst.numel(), 1 << 16, [&](int64_t b, int64_t e) { std::copy(ps + b, ps + e, pd + b); });
        return;
    }
    for_each_row<2>(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())},
                    [&](auto off, int64_t n, auto st) {
                        if (st[0] == 1 && st[1] == 1) std::copy(ps + off[1], ps + off[1] + n, pd + off[0]);
                        else
                            for (int64_t i = 0; i < n; ++i) pd[off[0] + i * st[0]] = ps[off[1] + i * st[1]];
                    });
}

void copy_elements(const Tensor& dst, const Tensor& src) {
    check(dst.dtype() == src.dtype(), "copy: dtype ", dtype_name(src.dtype()), " into ", dtype_name(dst.dtype()));
    switch (dst.dtype()) {
        case DType::Float32: copy_typed<float>(dst, src); break;
        case DType::Int64: copy_typed<int64_t>(dst, src); break;
        case DType::Bool: copy_typed<uint8_t>(dst, src); break;
    }
}

}  // namespace detail
}  // namespace attnlab
