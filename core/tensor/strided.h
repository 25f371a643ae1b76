// strided.h — internal helpers: walking several strided operands row by row,
// and element-wise maps with contiguous fast paths.
//
// for_each_row visits every index of `shape` for K operands that each have
// their own strides (0 for broadcast dims). Adjacent dims that are contiguous
// in every operand are merged first, so a contiguous tensor becomes one long
// row. The callback gets the K element offsets of a row's first element, the
// row length and the K inner strides. Rows are split across threads.
#pragma once
#include <array>

#include "core/kernels/parallel.h"
#include "core/tensor/tensor.h"

namespace attnlab::detail {

template <size_t K>
struct RowLayout {
    Shape shape;                       // merged shape, last dim = row
    std::array<Strides, K> strides;    // per operand, merged
};

template <size_t K>
RowLayout<K> merge_dims(const Shape& shape, const std::array<Strides, K>& strides) {
    RowLayout<K> out;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;  // size-1 dims never move the offset
        bool mergeable = !out.shape.empty();
        for (size_t k = 0; k < K && mergeable; ++k)
            mergeable = out.strides[k].back() == strides[k][d] * shape[d];
        if (mergeable) {
            out.shape.back() *= shape[d];
            for (size_t k = 0; k < K; ++k) out.strides[k].back() = strides[k][d];
        } else {
            out.shape.push_back(shape[d]);
            for (size_t k = 0; k < K; ++k) out.strides[k].push_back(strides[k][d]);
        }
    }
    if (out.shape.empty()) {  // a single element
        out.shape.push_back(1);
        for (size_t k = 0; k < K; ++k) out.strides[k].push_back(0);
    }
    return out;
}

// row(const std::array<int64_t,K>& offsets, int64_t length, const std::array<int64_t,K>& inner_strides)
template <size_t K, class Row>
void for_each_row(const Shape& shape, const std::array<Strides, K>& strides, Row row) {
    if (numel(shape) == 0) return;
    RowLayout<K> L = merge_dims<K>(shape, strides);
    const int64_t nd = int64_t(L.shape.size());
    const int64_t len = L.shape.back();
    const int64_t rows = numel(L.shape) / len;
    std::array<int64_t, K> inner;
    for (size_t k = 0; k < K; ++k) inner[k] = L.strides[k].back();
    int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(len, 1));
    parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
        // odometer over the outer dims, started at row r0
        std::vector<int64_t> idx(size_t(std::max<int64_t>(nd - 1, 0)));
        std::array<int64_t, K> off{};
        int64_t r = r0;
        for (int64_t d = nd - 2; d >= 0; --d) {
            idx[size_t(d)] = r % L.shape[size_t(d)];
            r /= L.shape[size_t(d)];
            for (size_t k = 0; k < K; ++k) off[k] += idx[size_t(d)] * L.strides[k][size_t(d)];
        }
        for (int64_t rr = r0; rr < r1; ++rr) {
            row(off, len, inner);
            for (int64_t d = nd - 2; d >= 0; --d) {  // advance the odometer
                for (size_t k = 0; k < K; ++k) off[k] += L.strides[k][size_t(d)];
                if (++idx[size_t(d)] < L.shape[size_t(d)]) break;
                for (size_t k = 0; k < K; ++k) off[k] -= L.strides[k][size_t(d)] * L.shape[size_t(d)];
                idx[size_t(d)] = 0;
            }
        }
    });
}

inline void check_float(const char* op, const Tensor& x) {
    check(x.defined(), op, ": undefined tensor");
    check(x.dtype() == DType::Float32, op, ": expected a float32 tensor, got ", dtype_name(x.dtype()), " ",
          to_string(x.shape()));
}

// Strides of `t` broadcast to `shape` (0 where t has size 1 or lacks the dim).
Strides broadcast_strides(const Tensor& t, const Shape& shape);

// The element loops of map_unary / map_binary, in functions of their own on
// restrict pointers: inlined into parallel_for's serial path, GCC 12 left them scalar.
template <class F>
[[gnu::noinline]] void unary_loop(const float* __restrict x, float* __restrict y, int64_t n, const F& f) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// kind 0: y = f(a[i], b[i]);  1: y = f(a[i], b[0]);  2: y = f(a[0], b[i])
template <int kind, class F>
[[gnu::noinline]] void binary_loop(const float* __restrict a, const float* __restrict b, float* __restrict y,
                                   int64_t n, const F& f) {
    if constexpr (kind == 0) {
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
    } else if constexpr (kind == 1) {
        const float b0 = b[0];
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b0);
    } else {
        const float a0 = a[0];
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) y[i] = f(a0, b[i]);
    }
}

// y[i] = f(x[i]) into a new contiguous Float32 tensor.
template <class F>
Tensor map_unary(const Tensor& x, F f) {
    Tensor y = Tensor::empty(x.shape());
    float* py = y.data();
    const float* px = x.data();
    if (x.is_contiguous()) {
        parallel_for(0, x.numel(), 1 << 15, [&](int64_t b, int64_t e) { unary_loop(px + b, py + b, e - b, f); });
    } else {
        for_each_row<2>(x.shape(), {x.strides(), y.strides()}, [&](auto off, int64_t n, auto st) {
            for (int64_t i = 0; i < n; ++i) py[off[1] + i * st[1]] = f(px[off[0] + i * st[0]]);
        });
    }
    return y;
}

// out[i] = f(a[i], b[i]) with broadcasting, into a new contiguous Float32 tensor.
template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, F f, const char* op) {
    check(a.dtype() == DType::Float32 && b.dtype() == DType::Float32, op, ": expected float32 tensors, got ",
          dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
    Shape shape = a.shape() == b.shape() ? a.shape() : broadcast_shapes(a.shape(), b.shape(), op);
    Tensor out = Tensor::empty(shape);
    float* po = out.data();
    const float* pa = a.data();
    const float* pb = b.data();
    if (a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous()) {
        parallel_for(0, out.numel(), 1 << 15, [&](int64_t s, int64_t e) { binary_loop<0>(pa + s, pb + s, po + s, e - s, f); });
        return out;
    }
    for_each_row<3>(shape, {broadcast_strides(a, shape), broadcast_strides(b, shape), out.strides()},
                    [&](auto off, int64_t n, auto st) {
                        const float* ra = pa + off[0];
                        const float* rb = pb + off[1];
                        float* ro = po + off[2];
                        if (st[0] == 1 && st[1] == 1 && st[2] == 1)
                            binary_loop<0>(ra, rb, ro, n, f);
                        else if (st[0] == 1 && st[1] == 0 && st[2] == 1)
                            binary_loop<1>(ra, rb, ro, n, f);
                        else if (st[0] == 0 && st[1] == 1 && st[2] == 1)
                            binary_loop<2>(ra, rb, ro, n, f);
                        else
                            for (int64_t i = 0; i < n; ++i) ro[i * st[2]] = f(ra[i * st[0]], rb[i * st[1]]);
                    });
    return out;
}

// Copies src (any layout, any dtype of the same element size) into dst of the same shape.
void copy_elements(const Tensor& dst, const Tensor& src);

}  // namespace attnlab::detail
