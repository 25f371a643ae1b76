// ops_binary.cpp — element-wise functions of two broadcasting tensors,
// z = f(a, b), with gradients da = sum_to(dz · ∂f/∂a, shape(a)) and likewise
// for b: a broadcast input receives the sum of the gradients of all the
// positions it was copied to. Also comparisons and the in-place helpers.
// Cost: O(numel(z)) time.
#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

using detail::map_binary;

Tensor add(const Tensor& a, const Tensor& b) {
    PROFILE_SCOPE("elementwise (add/sub/mul/div)");  // ∂/∂a = 1, ∂/∂b = 1
    Tensor z = map_binary(a, b, [](float x, float y) { return x + y; }, "add");
    return record("add", z, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& dz) {
        return std::vector<Tensor>{sum_to(dz, sa), sum_to(dz, sb)};
    });
}

Tensor sub(const Tensor& a, const Tensor& b) {
    PROFILE_SCOPE("elementwise (add/sub/mul/div)");  // ∂/∂a = 1, ∂/∂b = -1
    Tensor z = map_binary(a, b, [](float x, float y) { return x - y; }, "sub");
    return record("sub", z, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& dz) {
        return std::vector<Tensor>{sum_to(dz, sa), sum_to(neg(dz), sb)};
    });
}

Tensor mul(const Tensor& a, const Tensor& b) {
    PROFILE_SCOPE("elementwise (add/sub/mul/div)");  // ∂/∂a = b, ∂/∂b = a
    Tensor z = map_binary(a, b, [](float x, float y) { return x * y; }, "mul");
    bool ga = a.requires_grad(), gb = b.requires_grad();
    return record("mul", z, {a, b}, [a = a.detach(), b = b.detach(), ga, gb](const Tensor& dz) {
        return std::vector<Tensor>{ga ? sum_to(mul(dz, b), a.shape()) : Tensor(),
                                   gb ? sum_to(mul(dz, a), b.shape()) : Tensor()};
    });
}

Tensor div(const Tensor& a, const Tensor& b) {
    PROFILE_SCOPE("elementwise (add/sub/mul/div)");  // ∂/∂a = 1/b, ∂/∂b = -a/b²
    Tensor z = map_binary(a, b, [](float x, float y) { return x / y; }, "div");
    bool ga = a.requires_grad(), gb = b.requires_grad();
    return record("div", z, {a, b}, [a = a.detach(), b = b.detach(), ga, gb](const Tensor& dz) {
        Tensor da, db;
        if (ga) da = sum_to(div(dz, b), a.shape());
        if (gb) db = sum_to(neg(div(mul(dz, a), mul(b, b))), b.shape());
        return std::vector<Tensor>{da, db};
    });
}

Tensor pow(const Tensor& a, const Tensor& b) {  // ∂/∂a = b a^(b-1), ∂/∂b = a^b ln a
    Tensor z = map_binary(a, b, [](float x, float y) { return std::pow(x, y); }, "pow");
    bool ga = a.requires_grad(), gb = b.requires_grad();
    return record("pow", z, {a, b}, [a = a.detach(), b = b.detach(), z = z.detach(), ga, gb](const Tensor& dz) {
        Tensor da, db;
        if (ga) da = sum_to(mul(dz, map_binary(a, b, [](float x, float y) { return y * std::pow(x, y - 1.f); }, "pow")),
                            a.shape());
        if (gb) db = sum_to(mul(dz, mul(z, log(a))), b.shape());
        return std::vector<Tensor>{da, db};
    });
}

// max(a, b): the gradient goes to the larger input, half to each on a tie.
static Tensor select_larger(const char* name, const Tensor& a, const Tensor& b, bool larger) {
    float sign = larger ? 1.f : -1.f;
    Tensor z = map_binary(a, b, [sign](float x, float y) { return sign * x >= sign * y ? x : y; }, name);
    return record(name, z, {a, b}, [a = a.detach(), b = b.detach(), sign, name](const Tensor& dz) {
        Tensor wa = map_binary(a, b, [sign](float x, float y) { return sign * x > sign * y ? 1.f : x == y ? 0.5f : 0.f; }, name);
        return std::vector<Tensor>{sum_to(mul(dz, wa), a.shape()), sum_to(mul(dz, 1.f - wa), b.shape())};
    });
}

Tensor maximum(const Tensor& a, const Tensor& b) { return select_larger("maximum", a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return select_larger("minimum", a, b, false); }

// ---- comparisons: Bool results, no gradient ---------------------------------

template <class F>
static Tensor compare(const char* name, const Tensor& a, const Tensor& b, F f) {
    Tensor af = a.to(DType::Float32), bf = b.to(DType::Float32);
    return map_binary(af, bf, [f](float x, float y) { return f(x, y) ? 1.f : 0.f; }, name).to(DType::Bool);
}

Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, [](float x, float y) { return x == y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, [](float x, float y) { return x > y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, [](float x, float y) { return x < y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, [](float x, float y) { return x >= y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, [](float x, float y) { return x <= y; }); }

Tensor logical_not(const Tensor& mask) {
    check(mask.dtype() == DType::Bool, "logical_not: expected a bool tensor, got ", dtype_name(mask.dtype()));
    return detail::map_unary(mask.to(DType::Float32), [](float x) { return x != 0.f ? 0.f : 1.f; }).to(DType::Bool);
}

// ---- in-place helpers (not recorded) ---------------------------------------

void add_(const Tensor& dst, const Tensor& src, float alpha) {
    PROFILE_SCOPE("add_ (in place)");
    detail::check_float("add_", dst);
    detail::check_float("add_", src);
    check(broadcast_shapes(dst.shape(), src.shape(), "add_") == dst.shape(), "add_: cannot add ",
          to_string(src.shape()), " into ", to_string(dst.shape()));
    float* pd = dst.data();
    const float* ps = src.data();
    if (dst.shape() == src.shape() && dst.is_contiguous() && src.is_contiguous()) {
        parallel_for(0, dst.numel(), 1 << 15, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) pd[i] += alpha * ps[i];
        });
        return;
    }
    detail::for_each_row<2>(dst.shape(), {dst.strides(), detail::broadcast_strides(src, dst.shape())},
                            [&](auto off, int64_t n, auto st) {
                                for (int64_t i = 0; i < n; ++i) pd[off[0] + i * st[0]] += alpha * ps[off[1] + i * st[1]];
                            });
}

void mul_(const Tensor& dst, float s) {
    detail::check_float("mul_", dst);
    float* pd = dst.data();
    detail::for_each_row<1>(dst.shape(), {dst.strides()}, [&](auto off, int64_t n, auto st) {
        for (int64_t i = 0; i < n; ++i) pd[off[0] + i * st[0]] *= s;
    });
}

void fill_(const Tensor& dst, float value) {
    detail::check_float("fill_", dst);
    float* pd = dst.data();
    detail::for_each_row<1>(dst.shape(), {dst.strides()}, [&](auto off, int64_t n, auto st) {
        for (int64_t i = 0; i < n; ++i) pd[off[0] + i * st[0]] = value;
    });
}

void copy_(const Tensor& dst, const Tensor& src) {
    check(broadcast_shapes(dst.shape(), src.shape(), "copy_") == dst.shape(), "copy_: cannot copy ",
          to_string(src.shape()), " into ", to_string(dst.shape()));
    detail::copy_elements(dst, src);
}

}  // namespace attnlab
