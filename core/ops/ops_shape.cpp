// ops_shape.cpp — views and layout changes. A view shares storage and only
// rewrites shape/strides/offset (O(1)); its backward maps the gradient back:
//   reshape/view ↔ reshape back      transpose/permute ↔ inverse permutation
//   expand ↔ sum_to the original     slice/narrow/pad ↔ scatter into zeros / crop
//   concat/stack ↔ slices of the gradient
// contiguous/clone copy (O(numel)) and pass the gradient through unchanged.
#include <algorithm>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

static Shape infer_shape(const Shape& shape, int64_t total, const Tensor& x, const char* op) {
    Shape out = shape;
    int64_t known = 1, infer = -1;
    for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == -1) {
            check(infer < 0, op, ": only one dim may be -1 in ", to_string(shape));
            infer = int64_t(i);
        } else {
            check(out[i] >= 0, op, ": invalid size ", out[i], " in ", to_string(shape));
            known *= out[i];
        }
    }
    if (infer >= 0) {
        check(known > 0 && total % known == 0, op, ": cannot reshape ", to_string(x.shape()), " (", total,
              " elements) into ", to_string(shape));
        out[size_t(infer)] = total / known;
    }
    check(numel(out) == total, op, ": cannot reshape ", to_string(x.shape()), " (", total, " elements) into ",
          to_string(shape), " (", numel(out), " elements)");
    return out;
}

// Strides that let `shape` view x's memory without copying, or empty if impossible
// (a dim being split or merged must be contiguous within itself).
static bool view_strides(const Tensor& x, const Shape& shape, Strides& out) {
    const Shape& old_shape = x.shape();
    const Strides& old_strides = x.strides();
    if (x.numel() == 0 || old_shape.empty()) {
        out = contiguous_strides(shape);
        return true;
    }
    out.assign(shape.size(), 0);
    int64_t view_d = int64_t(shape.size()) - 1;
    int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
    for (int64_t td = int64_t(old_shape.size()) - 1; td >= 0; --td) {
        tensor_numel *= old_shape[size_t(td)];
        if (td == 0 || (old_shape[size_t(td - 1)] != 1 && old_strides[size_t(td - 1)] != tensor_numel * chunk_base)) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[size_t(view_d)] == 1)) {
                out[size_t(view_d)] = view_numel * chunk_base;
                view_numel *= shape[size_t(view_d)];
                --view_d;
            }
            if (view_numel != tensor_numel) return false;
            if (td > 0) {
                chunk_base = old_strides[size_t(td - 1)];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return view_d == -1;
}

Tensor view(const Tensor& x, const Shape& shape_in) {
    check(x.defined(), "view: undefined tensor");
    Shape shape = infer_shape(shape_in, x.numel(), x, "view");
    Strides strides;
    check(view_strides(x, shape, strides), "view: cannot view ", to_string(x.shape()), " with strides ",
          to_string(x.strides()), " as ", to_string(shape), " without a copy; use reshape");
    Tensor y = make_view(x, shape, strides, x.offset());
    return record("view", y, {x}, [s = x.shape()](const Tensor& dy) { return std::vector<Tensor>{reshape(dy, s)}; });
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
    check(x.defined(), "reshape: undefined tensor");
    Shape shape = infer_shape(shape_in, x.numel(), x, "reshape");
    Strides strides;
    if (view_strides(x, shape, strides)) return view(x, shape);
    return view(contiguous(x), shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
    check(int64_t(dims.size()) == x.dim(), "permute: ", dims.size(), " dims given for a ", x.dim(), "-d tensor");
    Shape shape(dims.size());
    Strides strides(dims.size());
    std::vector<int64_t> inverse(dims.size(), -1);
    for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = normalize_dim(dims[i], x.dim(), "permute");
        check(inverse[size_t(d)] < 0, "permute: dim ", d, " repeated");
        inverse[size_t(d)] = int64_t(i);
        shape[i] = x.shape()[size_t(d)];
        strides[i] = x.strides()[size_t(d)];
    }
    Tensor y = make_view(x, shape, strides, x.offset());
    return record("permute", y, {x}, [inverse](const Tensor& dy) { return std::vector<Tensor>{permute(dy, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
    int64_t a = normalize_dim(d0, x.dim(), "transpose"), b = normalize_dim(d1, x.dim(), "transpose");
    std::vector<int64_t> order(size_t(x.dim()));
    for (int64_t i = 0; i < x.dim(); ++i) order[size_t(i)] = i;
    std::swap(order[size_t(a)], order[size_t(b)]);
    return permute(x, order);
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
    check(int64_t(shape_in.size()) >= x.dim(), "expand: cannot expand ", to_string(x.shape()), " to fewer dims ",
          to_string(shape_in));
    size_t lead = shape_in.size() - size_t(x.dim());
    Shape shape = shape_in;
    Strides strides(shape.size(), 0);
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i < lead) {
            check(shape[i] >= 0, "expand: new leading dim ", i, " cannot be ", shape[i]);
            continue;
        }
        int64_t have = x.shape()[i - lead];
        if (shape[i] == -1) shape[i] = have;
        check(have == shape[i] || have == 1, "expand: cannot expand ", to_string(x.shape()), " to ",
              to_string(shape_in), " (dim ", i, ": ", have, " vs ", shape[i], ")");
        strides[i] = have == 1 && shape[i] != 1 ? 0 : x.strides()[i - lead];
    }
    Tensor y = make_view(x, shape, strides, x.offset());
    return record("expand", y, {x}, [s = x.shape()](const Tensor& dy) { return std::vector<Tensor>{sum_to(dy, s)}; });
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
    int64_t d = normalize_dim(dim, x.dim(), "slice");
    check(step > 0, "slice: step must be positive, got ", step);
    int64_t n = x.shape()[size_t(d)];
    auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };  // Python rules
    start = clamp(start), end = std::max(clamp(end), start);
    Shape shape = x.shape();
    Strides strides = x.strides();
    shape[size_t(d)] = (end - start + step - 1) / step;
    strides[size_t(d)] *= step;
    Tensor y = make_view(x, shape, strides, x.offset() + start * x.strides()[size_t(d)]);
    auto region = [d, start, end, step](const Tensor& like_x) { return slice(like_x, d, start, end, step); };
    y = record("slice", y, {x}, [s = x.shape(), region](const Tensor& dy) {
        Tensor dx = Tensor::zeros(s);
        copy_(region(dx), dy);
        return std::vector<Tensor>{dx};
    });
    if (y.raw()->grad_fn)  // the engine may add dy into the slice of an existing gradient instead
        y.raw()->grad_fn->grad_region = region;
    return y;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
    int64_t d = normalize_dim(dim, x.dim(), "narrow");
    int64_t n = x.shape()[size_t(d)];
    check(start >= 0 && length >= 0 && start + length <= n, "narrow: [", start, ", ", start + length,
          ") out of range for dim ", d, " of size ", n, " in ", to_string(x.shape()));
    return slice(x, d, start, start + length);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
    if (x.dim() == 0) return reshape(x, {1});
    int64_t s = normalize_dim(start_dim, x.dim(), "flatten"), e = normalize_dim(end_dim, x.dim(), "flatten");
    check(s <= e, "flatten: start_dim ", start_dim, " after end_dim ", end_dim);
    Shape shape(x.shape().begin(), x.shape().begin() + s);
    int64_t merged = 1;
    for (int64_t i = s; i <= e; ++i) merged *= x.shape()[size_t(i)];
    shape.push_back(merged);
    shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
    return reshape(x, shape);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
    int64_t d = normalize_dim(dim, x.dim() + 1, "unsqueeze");
    Shape shape = x.shape();
    shape.insert(shape.begin() + d, 1);
    return view(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t dim) {  // no-op when that dim is not 1 (as in PyTorch)
    int64_t d = normalize_dim(dim, x.dim(), "squeeze");
    if (x.shape()[size_t(d)] != 1) return x;
    Shape shape = x.shape();
    shape.erase(shape.begin() + d);
    return view(x, shape);
}

Tensor clone(const Tensor& x) {
    PROFILE_SCOPE("copy (clone/contiguous)");
    check(x.defined(), "clone: undefined tensor");
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    detail::copy_elements(y, x);
    return record("clone", y, {x}, [](const Tensor& dy) { return std::vector<Tensor>{dy}; });
}

Tensor contiguous(const Tensor& x) {
    check(x.defined(), "contiguous: undefined tensor");
    if (x.is_contiguous()) return x;
    return clone(x);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
    PROFILE_SCOPE("concat");
    check(!xs.empty(), "concat: no tensors given");
    const Tensor& first = xs[0];
    int64_t d = normalize_dim(dim, first.dim(), "concat");
    Shape shape = first.shape();
    shape[size_t(d)] = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        const Tensor& t = xs[i];
        check(t.dim() == first.dim() && t.dtype() == first.dtype(), "concat: tensor ", i, " ", to_string(t.shape()),
              " ", dtype_name(t.dtype()), " does not match tensor 0 ", to_string(first.shape()), " ",
              dtype_name(first.dtype()));
        for (int64_t k = 0; k < t.dim(); ++k)
            check(k == d || t.shape()[size_t(k)] == first.shape()[size_t(k)], "concat: tensor ", i, " ",
                  to_string(t.shape()), " differs from tensor 0 ", to_string(first.shape()), " outside dim ", d);
        shape[size_t(d)] += t.shape()[size_t(d)];
    }
    Tensor y = Tensor::empty(shape, first.dtype());
    std::vector<int64_t> sizes;
    int64_t at = 0;
    for (const Tensor& t : xs) {
        int64_t n = t.shape()[size_t(d)];
        detail::copy_elements(slice(y.detach(), d, at, at + n), t);
        sizes.push_back(n);
        at += n;
    }
    return record("concat", y, xs, [d, sizes](const Tensor& dy) {
        std::vector<Tensor> grads;
        int64_t pos = 0;
        for (int64_t n : sizes) {
            grads.push_back(slice(dy, d, pos, pos + n));
            pos += n;
        }
        return grads;
    });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
    check(!xs.empty(), "stack: no tensors given");
    int64_t d = normalize_dim(dim, xs[0].dim() + 1, "stack");
    std::vector<Tensor> expanded;
    for (size_t i = 0; i < xs.size(); ++i) {
        check(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " ", to_string(xs[i].shape()),
              " differs from tensor 0 ", to_string(xs[0].shape()));
        expanded.push_back(unsqueeze(xs[i], d));
    }
    return concat(expanded, d);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, float value) {
    detail::check_float("pad", x);
    check(pads.size() % 2 == 0 && int64_t(pads.size() / 2) <= x.dim(), "pad: ", pads.size(),
          " pad values for a ", x.dim(), "-d tensor (need an even count, at most 2 per dim)");
    Shape shape = x.shape();
    std::vector<int64_t> before(size_t(x.dim()), 0);
    for (size_t i = 0; i < pads.size() / 2; ++i) {
        size_t d = size_t(x.dim()) - 1 - i;
        check(pads[2 * i] >= 0 && pads[2 * i + 1] >= 0, "pad: negative padding is not supported");
        before[d] = pads[2 * i];
        shape[d] += pads[2 * i] + pads[2 * i + 1];
    }
    Tensor y = Tensor::full(shape, value);
    Tensor inner = y.detach();
    for (int64_t d = 0; d < x.dim(); ++d) inner = narrow(inner, d, before[size_t(d)], x.shape()[size_t(d)]);
    detail::copy_elements(inner, x);
    return record("pad", y, {x}, [before, s = x.shape()](const Tensor& dy) {
        Tensor g = dy;
        for (int64_t d = 0; d < int64_t(s.size()); ++d) g = narrow(g, d, before[size_t(d)], s[size_t(d)]);
        return std::vector<Tensor>{g};
    });
}

}  // namespace attnlab
