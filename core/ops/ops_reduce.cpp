// ops_reduce.cpp — sums, means, maxima and minima over all elements or dims.
//
// sum:  y = Σ_r x[o, r]            dx[o, r] = dy[o]           (dy broadcast back)
// mean: y = (1/R) Σ_r x[o, r]      dx[o, r] = dy[o] / R
// max:  y = max_r x[o, r]          dx[o, r] = dy[o] · [x[o,r] = y[o]] / #ties
// Reduced dims are brought to the end (a copy only when they are not already
// trailing or leading), then rows are reduced with double accumulators.
// Cost: O(numel) time.
#include <algorithm>
#include <limits>
#include <set>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

// out[o] = Σ_r x[o·R + r] for a contiguous [O, R] block.
static void sum_rows(const float* x, float* out, int64_t O, int64_t R) {
    if (O == 1) {  // one long row: partial sums per thread
        int nt = num_threads();
        std::vector<double> partial(size_t(nt), 0.0);
        parallel_for_chunks(0, R, 1 << 16, [&](int chunk, int64_t b, int64_t e) {
            const float* xs = x;  // a local copy: read through the closure, GCC vectorizes x[i] as a gather
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = b; i < e; ++i) s += xs[i];
            partial[size_t(chunk)] = s;
        });
        double total = 0.0;
        for (double p : partial) total += p;
        out[0] = float(total);
        return;
    }
    parallel_for(0, O, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
            const float* row = x + o * R;
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t r = 0; r < R; ++r) s += row[r];
            out[o] = float(s);
        }
    });
}

// out[o] = Σ_r x[r·O + o] for a contiguous [R, O] block (e.g. a bias gradient).
// Threads split the rows (one partial sum per column each), so a narrow
// [8320, 128] gradient still uses every core. Each thread adds blocks of
// kFloatRows rows in float (a vector add per 8 or 16 columns, the block's sums
// stay in L1) and folds each block's sums into double accumulators: float
// rounding acts only within a 64-term sum, so long sums do not drift, and it is
// faster than converting every element to double (results/code_notes.md).
static void sum_cols(const float* x, float* out, int64_t R, int64_t O) {
    if (O >= 4096) {  // wide: threads split the columns instead
        parallel_for(0, O, 1024, [&](int64_t b, int64_t e) {
            std::vector<double> acc(size_t(e - b), 0.0);
            for (int64_t r = 0; r < R; ++r) {
                const float* row = x + r * O + b;
#pragma omp simd
                for (int64_t o = 0; o < e - b; ++o) acc[size_t(o)] += row[o];
            }
            for (int64_t o = b; o < e; ++o) out[o] = float(acc[size_t(o - b)]);
        });
        return;
    }
    constexpr int64_t kFloatRows = 64;
    const int nt = num_threads();
    std::vector<double> partial(size_t(nt) * size_t(O), 0.0);
    parallel_for_chunks(0, R, std::max<int64_t>(1, 32768 / std::max<int64_t>(O, 1)), [&](int chunk, int64_t b, int64_t e) {
        double* acc = partial.data() + size_t(chunk) * size_t(O);
        std::vector<float> block_sum(static_cast<size_t>(O));
        float* bs = block_sum.data();
        for (int64_t r0 = b; r0 < e; r0 += kFloatRows) {
            std::fill(bs, bs + O, 0.f);
            for (int64_t r = r0; r < std::min(e, r0 + kFloatRows); ++r) {
                const float* row = x + r * O;
#pragma omp simd
                for (int64_t o = 0; o < O; ++o) bs[o] += row[o];
            }
#pragma omp simd
            for (int64_t o = 0; o < O; ++o) acc[o] += bs[o];
        }
    });
    for (int64_t o = 0; o < O; ++o) {
        double s = 0.0;
        for (int t = 0; t < nt; ++t) s += partial[size_t(t) * size_t(O) + size_t(o)];
        out[o] = float(s);
    }
}

static std::vector<int64_t> normalized_dims(const std::vector<int64_t>& dims, int64_t nd, const char* op) {
    std::set<int64_t> s;
    for (int64_t d : dims) check(s.insert(normalize_dim(d, nd, op)).second, op, ": dim ", d, " repeated");
    return {s.begin(), s.end()};
}

static Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
    Shape out;
    for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
        bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
        if (!reduced) out.push_back(shape[size_t(d)]);
        else if (keepdim) out.push_back(1);
    }
    return out;
}

// Brings a gradient of the reduced shape back to x's shape (a broadcast view).
static Tensor expand_back(const Tensor& dy, const Shape& x_shape, const std::vector<int64_t>& dims, bool keepdim) {
    Tensor g = dy;
    if (!keepdim) {
        Shape kept = reduced_shape(x_shape, dims, true);
        g = reshape(g, kept);
    }
    return expand(g, x_shape);
}

// x viewed as [O, R] with the reduced dims last; returns the contiguous data and O, R.
struct RowsView {
    Tensor data;
    int64_t O, R;
    bool columns;  // true: data is [R, O] (reduced dims leading)
};

static RowsView as_rows(const Tensor& x, const std::vector<int64_t>& dims) {
    int64_t nd = x.dim(), R = 1;
    for (int64_t d : dims) R *= x.shape()[size_t(d)];
    int64_t O = x.numel() / std::max<int64_t>(R, 1);
    bool trailing = true, leading = true;
    for (size_t i = 0; i < dims.size(); ++i) {
        trailing &= dims[i] == nd - int64_t(dims.size()) + int64_t(i);
        leading &= dims[i] == int64_t(i);
    }
    if (x.is_contiguous() && trailing) return {x, O, R, false};
    if (x.is_contiguous() && leading) return {x, O, R, true};
    std::vector<int64_t> order;
    for (int64_t d = 0; d < nd; ++d)
        if (std::find(dims.begin(), dims.end(), d) == dims.end()) order.push_back(d);
    order.insert(order.end(), dims.begin(), dims.end());
    return {contiguous(permute(x.detach(), order)), O, R, false};
}

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
    PROFILE_SCOPE("sum");
    detail::check_float("sum", x);
    std::vector<int64_t> dims = normalized_dims(dims_in, x.dim(), "sum");
    Tensor y = Tensor::zeros(reduced_shape(x.shape(), dims, keepdim));
    if (x.numel() > 0) {
        RowsView v = as_rows(x, dims);
        if (v.columns) sum_cols(v.data.data(), y.data(), v.R, v.O);
        else sum_rows(v.data.data(), y.data(), v.O, v.R);
    }
    return record("sum", y, {x}, [shape = x.shape(), dims, keepdim](const Tensor& dy) {
        return std::vector<Tensor>{expand_back(dy, shape, dims, keepdim)};
    });
}

Tensor sum(const Tensor& x) {
    std::vector<int64_t> all(size_t(x.dim()));
    for (int64_t d = 0; d < x.dim(); ++d) all[size_t(d)] = d;
    return sum(x, all, false);
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
    detail::check_float("mean", x);
    std::vector<int64_t> dims = normalized_dims(dims_in, x.dim(), "mean");
    int64_t count = 1;
    for (int64_t d : dims) count *= x.shape()[size_t(d)];
    check(count > 0, "mean: reducing over an empty dimension of shape ", to_string(x.shape()));
    return mul_scalar(sum(x, dims, keepdim), 1.f / float(count));
}

Tensor mean(const Tensor& x) {
    check(x.numel() > 0, "mean: empty tensor");
    return mul_scalar(sum(x), 1.f / float(x.numel()));
}

// max/min along the given dims; the gradient is split among tied extrema.
static Tensor extremum(const char* name, const Tensor& x, std::vector<int64_t> dims, bool keepdim, bool largest) {
    detail::check_float(name, x);
    dims = normalized_dims(dims, x.dim(), name);
    for (int64_t d : dims) check(x.shape()[size_t(d)] > 0, name, ": reducing an empty dim of ", to_string(x.shape()));
    RowsView v = as_rows(x, dims);
    if (v.columns) v = {contiguous(transpose(reshape(x.detach(), {v.R, v.O}), 0, 1)), v.O, v.R, false};
    Tensor y = Tensor::empty(reduced_shape(x.shape(), dims, keepdim));
    const float* px = v.data.data();
    float* py = y.data();
    parallel_for(0, v.O, std::max<int64_t>(1, 32768 / std::max<int64_t>(v.R, 1)), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
            const float* row = px + o * v.R;
            float m = row[0];
            for (int64_t r = 1; r < v.R; ++r) m = largest ? std::max(m, row[r]) : std::min(m, row[r]);
            py[o] = m;
        }
    });
    return record(name, y, {x}, [x = x.detach(), y = y.detach(), dims, keepdim](const Tensor& dy) {
        Tensor y_full = expand_back(y, x.shape(), dims, keepdim);
        Tensor hit = eq(x, y_full).to(DType::Float32);
        Tensor count = sum(hit, dims, true);
        Tensor dy_full = expand_back(dy, x.shape(), dims, keepdim);
        return std::vector<Tensor>{div(mul(hit, dy_full), count)};
    });
}

static std::vector<int64_t> all_dims(const Tensor& x) {
    std::vector<int64_t> d(size_t(x.dim()));
    for (int64_t i = 0; i < x.dim(); ++i) d[size_t(i)] = i;
    return d;
}

Tensor max(const Tensor& x) { return extremum("max", x, all_dims(x), false, true); }
Tensor max(const Tensor& x, int64_t dim, bool keepdim) { return extremum("max", x, {dim}, keepdim, true); }
Tensor min(const Tensor& x) { return extremum("min", x, all_dims(x), false, false); }
Tensor min(const Tensor& x, int64_t dim, bool keepdim) { return extremum("min", x, {dim}, keepdim, false); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
    if (x.shape() == shape) return x;
    int64_t lead = x.dim() - int64_t(shape.size());
    check(lead >= 0, "sum_to: cannot reduce ", to_string(x.shape()), " to ", to_string(shape));
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < x.dim(); ++d) {
        if (d < lead) dims.push_back(d);
        else if (shape[size_t(d - lead)] == 1 && x.shape()[size_t(d)] != 1) dims.push_back(d);
        else check(shape[size_t(d - lead)] == x.shape()[size_t(d)], "sum_to: cannot reduce ", to_string(x.shape()),
                   " to ", to_string(shape));
    }
    return reshape(sum(x, dims, true), shape);
}

}  // namespace attnlab
