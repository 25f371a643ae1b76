// ops_index.cpp — masking, prefix sums, gathering by index, sorting.
//
// masked_fill: y = mask ? v : x            dx = dy · !mask
// where:       y = c ? a : b               da = dy · c,  db = dy · !c
// cumsum:      y_i = Σ_{j≤i} x_j           dx_i = Σ_{j≥i} dy_j (a reversed cumsum)
// gather:      y[.., j, ..] = x[.., idx[.., j, ..], ..]    dx = scatter-add of dy
// index_select / embedding: pick whole slices; dx = index-add of dy
// argmax, argsort, topk: integer results, no gradient.
// Costs: O(numel) except argsort/topk, O(n log n) per row.
#include <algorithm>
#include <numeric>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

static void check_bool(const char* op, const Tensor& m) {
    check(m.defined() && m.dtype() == DType::Bool, op, ": mask must be a bool tensor, got ",
          m.defined() ? dtype_name(m.dtype()) : "undefined");
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, float value) {
    PROFILE_SCOPE("masked_fill");
    detail::check_float("masked_fill", x);
    check_bool("masked_fill", mask);
    check(broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape(), "masked_fill: mask ",
          to_string(mask.shape()), " does not broadcast to ", to_string(x.shape()));
    Tensor keep = detail::map_unary(mask.to(DType::Float32), [](float m) { return m != 0.f ? 0.f : 1.f; });
    Tensor y = detail::map_binary(x, keep, [value](float a, float k) { return k != 0.f ? a : value; }, "masked_fill");
    return record("masked_fill", y, {x}, [keep, s = x.shape()](const Tensor& dy) {
        return std::vector<Tensor>{sum_to(mul(dy, keep), s)};
    });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
    check_bool("where", cond);
    Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
    Tensor c = expand(cond.to(DType::Float32), shape);
    Tensor chosen_a = detail::map_binary(c, expand(a.detach(), shape), [](float k, float x) { return k * x; }, "where");
    Tensor y = detail::map_binary(c, expand(b.detach(), shape), [](float k, float x) { return k != 0.f ? 0.f : x; }, "where");
    add_(y, chosen_a);
    return record("where", y, {cond, a, b}, [c, sa = a.shape(), sb = b.shape()](const Tensor& dy) {
        Tensor not_c = detail::map_unary(c, [](float k) { return 1.f - k; });
        return std::vector<Tensor>{Tensor(), sum_to(mul(dy, c), sa), sum_to(mul(dy, not_c), sb)};
    });
}

// Prefix sums along the last dim of contiguous rows; reversed: suffix sums.
static void cumsum_rows(const float* x, float* y, int64_t rows, int64_t n, bool reverse) {
    parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            double s = 0.0;
            if (!reverse)
                for (int64_t i = 0; i < n; ++i) y[r * n + i] = float(s += x[r * n + i]);
            else
                for (int64_t i = n; i-- > 0;) y[r * n + i] = float(s += x[r * n + i]);
        }
    });
}

static Tensor cumsum_along(const Tensor& x, int64_t d, bool reverse) {
    bool last = d == x.dim() - 1;
    Tensor xt = contiguous(last ? x : transpose(x, d, -1));
    Tensor yt = Tensor::empty(xt.shape());
    int64_t n = xt.size(-1);
    cumsum_rows(xt.data(), yt.data(), xt.numel() / std::max<int64_t>(n, 1), n, reverse);
    return last ? yt : contiguous(transpose(yt, d, -1));
}

Tensor cumsum(const Tensor& x, int64_t dim) {
    detail::check_float("cumsum", x);
    int64_t d = normalize_dim(dim, x.dim(), "cumsum");
    Tensor y = cumsum_along(x.detach(), d, false);
    return record("cumsum", y, {x}, [d](const Tensor& dy) { return std::vector<Tensor>{cumsum_along(dy, d, true)}; });
}

// Offset of every element of a contiguous `shape` in a tensor with `strides`,
// with dimension `skip` left out (set to 0).
static void for_each_index(const Shape& shape, const std::function<void(const std::vector<int64_t>&, int64_t)>& f) {
    std::vector<int64_t> idx(shape.size(), 0);
    int64_t n = numel(shape);
    for (int64_t flat = 0; flat < n; ++flat) {
        f(idx, flat);
        for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
            if (++idx[size_t(d)] < shape[size_t(d)]) break;
            idx[size_t(d)] = 0;
        }
    }
}

static void check_index(const char* op, const Tensor& index) {
    check(index.defined() && index.dtype() == DType::Int64, op, ": index must be an int64 tensor, got ",
          index.defined() ? dtype_name(index.dtype()) : "undefined");
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
    detail::check_float("gather", x);
    check_index("gather", index);
    int64_t d = normalize_dim(dim, x.dim(), "gather");
    check(index.dim() == x.dim(), "gather: index ", to_string(index.shape()), " must have as many dims as input ",
          to_string(x.shape()));
    for (int64_t k = 0; k < x.dim(); ++k)
        check(k == d || index.size(k) <= x.size(k), "gather: index ", to_string(index.shape()),
              " larger than input ", to_string(x.shape()), " at dim ", k);
    Tensor idx = contiguous(index);
    const int64_t* pi = idx.data_as<int64_t>();
    const float* px = x.data();
    Tensor y = Tensor::empty(index.shape());
    float* py = y.data();
    int64_t n = x.size(d);
    for_each_index(index.shape(), [&](const std::vector<int64_t>& i, int64_t flat) {
        int64_t j = pi[flat];
        check(j >= 0 && j < n, "gather: index ", j, " out of range for dim ", d, " of size ", n);
        int64_t off = 0;
        for (size_t k = 0; k < i.size(); ++k) off += (int64_t(k) == d ? j : i[k]) * x.strides()[k];
        py[flat] = px[off];
    });
    return record("gather", y, {x, index}, [idx, d, s = x.shape()](const Tensor& dy_in) {
        Tensor dy = contiguous(dy_in), dx = Tensor::zeros(s);
        const int64_t* pi = idx.data_as<int64_t>();
        const Strides st = dx.strides();
        for_each_index(idx.shape(), [&](const std::vector<int64_t>& i, int64_t flat) {
            int64_t off = 0;
            for (size_t k = 0; k < i.size(); ++k) off += (int64_t(k) == d ? pi[flat] : i[k]) * st[k];
            dx.data()[off] += dy.data()[flat];
        });
        return std::vector<Tensor>{dx, Tensor()};
    });
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
    PROFILE_SCOPE("index_select");
    detail::check_float("index_select", x);
    check_index("index_select", index);
    check(index.dim() == 1, "index_select: index must be 1-D, got ", to_string(index.shape()));
    int64_t d = normalize_dim(dim, x.dim(), "index_select");
    Tensor xc = contiguous(x.detach());
    std::vector<int64_t> ids = index.to_indices();
    const int64_t n = x.size(d);
    for (int64_t j : ids)
        if (j < 0 || j >= n)  // (not check(): its message arguments would be built for every index)
            throw Error(cat("index_select: index ", j, " out of range for dim ", d, " of size ", n, " in ",
                            to_string(x.shape())));
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < d; ++k) outer *= x.size(k);
    for (int64_t k = d + 1; k < x.dim(); ++k) inner *= x.size(k);
    const int64_t K = int64_t(ids.size());
    Shape shape = x.shape();
    shape[size_t(d)] = K;
    Tensor y = Tensor::empty(shape);
    const float* px = xc.data();
    float* py = y.data();
    parallel_for(0, outer * K, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t ok = lo; ok < hi; ++ok) {
            int64_t o = ok / K, k = ok % K;
            std::copy_n(px + (o * n + ids[size_t(k)]) * inner, inner, py + ok * inner);
        }
    });
    return record("index_select", y, {x, index}, [ids, s = x.shape(), outer, inner, n, K](const Tensor& dy_in) {
        Tensor dy = contiguous(dy_in), dx = Tensor::zeros(s);
        const float* pg = dy.data();
        float* pd = dx.data();
        parallel_for(0, outer, 1, [&](int64_t lo, int64_t hi) {  // repeated ids add up, serially per row
            for (int64_t o = lo; o < hi; ++o)
                for (int64_t k = 0; k < K; ++k) {
                    float* dst = pd + (o * n + ids[size_t(k)]) * inner;
                    const float* src = pg + (o * K + k) * inner;
                    for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
                }
        });
        return std::vector<Tensor>{dx, Tensor()};
    });
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
    check(weight.defined() && weight.dim() == 2, "embedding: weight must be [V, C], got ",
          weight.defined() ? to_string(weight.shape()) : "undefined");
    check_index("embedding", ids);
    Shape shape = ids.shape();
    shape.push_back(weight.size(1));
    return reshape(index_select(weight, 0, reshape(ids, {-1})), shape);
}

// Per-row helper: x with `dim` moved last, as contiguous [rows, n].
static Tensor rows_last(const Tensor& x, int64_t d) {
    return contiguous(d == x.dim() - 1 ? x.detach() : transpose(x.detach(), d, -1));
}

static Tensor restore_dim(const Tensor& yt, int64_t d, int64_t nd) {
    return d == nd - 1 ? yt : contiguous(transpose(yt, d, -1));
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
    detail::check_float("argmax", x);
    int64_t d = normalize_dim(dim, x.dim(), "argmax");
    int64_t n = x.size(d);
    check(n > 0, "argmax: empty dim ", d, " in ", to_string(x.shape()));
    Tensor xt = rows_last(x, d);
    Shape shape = xt.shape();
    shape.back() = 1;
    Tensor out = Tensor::empty(shape, DType::Int64);
    const float* px = xt.data();
    int64_t* po = out.data_as<int64_t>();
    for (int64_t r = 0; r < out.numel(); ++r) {
        const float* row = px + r * n;
        po[r] = int64_t(std::max_element(row, row + n) - row);
    }
    out = restore_dim(out, d, x.dim());
    return keepdim ? out : squeeze(out, d);
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
    detail::check_float("argsort", x);
    int64_t d = normalize_dim(dim, x.dim(), "argsort");
    int64_t n = x.size(d);
    Tensor xt = rows_last(x, d);
    Tensor out = Tensor::empty(xt.shape(), DType::Int64);
    const float* px = xt.data();
    int64_t* po = out.data_as<int64_t>();
    int64_t rows = n == 0 ? 0 : xt.numel() / n;
    parallel_for(0, rows, 16, [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            const float* row = px + r * n;
            int64_t* o = po + r * n;
            std::iota(o, o + n, int64_t(0));
            if (descending) std::stable_sort(o, o + n, [row](int64_t a, int64_t b) { return row[a] > row[b]; });
            else std::stable_sort(o, o + n, [row](int64_t a, int64_t b) { return row[a] < row[b]; });
        }
    });
    return restore_dim(out, d, x.dim());
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
    detail::check_float("topk", x);
    int64_t d = normalize_dim(dim, x.dim(), "topk");
    check(k >= 0 && k <= x.size(d), "topk: k=", k, " out of range for dim ", d, " of size ", x.size(d));
    Tensor order = argsort(x, d, largest);
    Tensor idx = contiguous(narrow(order, d, 0, k));
    NoGradGuard no_grad;
    return {gather(x.detach(), d, idx), idx};
}

}  // namespace attnlab
