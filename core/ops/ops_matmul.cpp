// ops_matmul.cpp — matrix products on OpenBLAS sgemm.
//
// matmul: C[b] = A[b] · B[b] for every batch index b (batch dims broadcast).
//   dA = dC · Bᵀ,  dB = Aᵀ · dC   (then summed over broadcast batch dims)
// linear: y = x Wᵀ + bias with x [R, Cin], W [Cout, Cin]:
//   dx = dy W,  dW = dyᵀ x,  dbias = Σ_rows dy
// A matrix operand whose last two dims are row-major or transposed (a .T()
// view) goes to sgemm as is, with the transpose flag; other layouts are copied.
// Cost: 2·M·N·K flops per batch entry; output memory M·N per batch entry.
#include "core/autograd/autograd.h"
#include "core/kernels/blas.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

// How one operand's matrices sit in memory: element (i, j) of matrix b is at
// base + batch_offset(b) + (trans ? j·ld + i : i·ld + j).
struct MatrixLayout {
    Tensor storage;  // keeps the data alive (the operand or a contiguous copy)
    bool trans = false;
    int64_t ld = 0;
};

static MatrixLayout matrix_layout(const Tensor& t) {
    int64_t r = t.size(-2), c = t.size(-1);
    int64_t sr = t.strides()[size_t(t.dim() - 2)], sc = t.strides()[size_t(t.dim() - 1)];
    if ((sc == 1 || c == 1) && sr >= std::max<int64_t>(c, 1)) return {t, false, sr};
    if ((sr == 1 || r == 1) && sc >= std::max<int64_t>(r, 1)) return {t, true, sc};
    Tensor copy = contiguous(t.detach());
    return {copy, false, std::max<int64_t>(c, 1)};
}

// One sgemm per matrix of the broadcast batch into c ([batch, M, N], contiguous); small
// matrices: several per thread (OpenBLAS stays single-threaded inside).
static void gemm_each_matrix(const MatrixLayout& la, const MatrixLayout& lb, const Shape& batch, int64_t M, int64_t N,
                             int64_t K, Tensor& c) {
    Shape a_full = batch, b_full = batch;
    a_full.insert(a_full.end(), {M, K});
    b_full.insert(b_full.end(), {K, N});
    Strides sa = detail::broadcast_strides(la.storage, a_full);
    Strides sb = detail::broadcast_strides(lb.storage, b_full);
    const float* pa = la.storage.data();
    const float* pb = lb.storage.data();
    float* pc = c.data();
    auto offset_of = [&](int64_t idx, const Strides& s) {
        int64_t off = 0;
        for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {
            off += (idx % batch[size_t(d)]) * s[size_t(d)];
            idx /= batch[size_t(d)];
        }
        return off;
    };
    int64_t grain = 2 * M * N * K >= (1 << 22) ? 1 : std::max<int64_t>(1, (1 << 22) / std::max<int64_t>(2 * M * N * K, 1));
    parallel_for(0, numel(batch), grain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
            gemm(la.trans, lb.trans, M, N, K, 1.f, pa + offset_of(i, sa), la.ld, pb + offset_of(i, sb), lb.ld, 0.f,
                 pc + i * M * N, N);
    });
}

// Core product for a, b with dim >= 2 and matching inner dims; result contiguous.
static Tensor batched_gemm(const Tensor& a, const Tensor& b) {
    int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
    Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
    Shape out_shape = batch;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor c = Tensor::empty(out_shape);
    if (c.numel() == 0) return c;
    profiler::add_flops(2.0 * double(numel(batch)) * double(M) * double(N) * double(K));

    // A batch of row-major A matrices stacked over M times a single B: one big GEMM.
    if (b.dim() == 2 && a.is_contiguous()) {
        MatrixLayout lb = matrix_layout(b);
        gemm(false, lb.trans, numel(batch) * M, N, K, 1.f, a.data(), std::max<int64_t>(K, 1), lb.storage.data(),
             lb.ld, 0.f, c.data(), N);
        return c;
    }
    MatrixLayout la = matrix_layout(a), lb = matrix_layout(b);
    gemm_each_matrix(la, lb, batch, M, N, K, c);
    return c;
}

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
    PROFILE_SCOPE("matmul");
    detail::check_float("matmul", a_in);
    detail::check_float("matmul", b_in);
    check(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: operands must have at least one dim, got ",
          to_string(a_in.shape()), " x ", to_string(b_in.shape()));
    check(a_in.size(-1) == b_in.size(b_in.dim() == 1 ? 0 : -2), "matmul: ", to_string(a_in.shape()), " x ",
          to_string(b_in.shape()), ": inner dimensions ", a_in.size(-1), " and ",
          b_in.size(b_in.dim() == 1 ? 0 : -2), " differ");
    // NumPy promotion of vectors: [K] -> [1, K] on the left, [K] -> [K, 1] on the right.
    if (a_in.dim() == 1) return squeeze(matmul(unsqueeze(a_in, 0), b_in), -2);
    if (b_in.dim() == 1) return squeeze(matmul(a_in, unsqueeze(b_in, 1)), -1);
    const Tensor& a = a_in;
    const Tensor& b = b_in;
    Tensor c = batched_gemm(a, b);
    bool ga = a.requires_grad(), gb = b.requires_grad();
    return record("matmul", c, {a, b}, [a = a.detach(), b = b.detach(), ga, gb](const Tensor& dc) {
        Tensor da, db;
        if (ga) da = sum_to(matmul(dc, transpose(b, -1, -2)), a.shape());
        if (gb) {
            if (b.dim() == 2 && a.dim() > 2)  // Σ_batch A_iᵀ dC_i as one GEMM over stacked rows
                db = matmul(transpose(reshape(a, {-1, a.size(-1)}), 0, 1), reshape(dc, {-1, dc.size(-1)}));
            else
                db = sum_to(matmul(transpose(a, -1, -2), dc), b.shape());
        }
        return std::vector<Tensor>{da, db};
    });
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    PROFILE_SCOPE("linear");
    detail::check_float("linear", x);
    detail::check_float("linear", weight);
    check(weight.dim() == 2, "linear: weight must be [out, in], got ", to_string(weight.shape()));
    check(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ", to_string(x.shape()),
          " does not match weight ", to_string(weight.shape()), " (expected last dim ", weight.size(1), ")");
    int64_t Cin = weight.size(1), Cout = weight.size(0);
    if (bias.defined())
        check(bias.dim() == 1 && bias.size(0) == Cout, "linear: bias ", to_string(bias.shape()), " for weight ",
              to_string(weight.shape()), " (expected [", Cout, "])");
    Tensor x2 = contiguous(x.detach());
    int64_t R = x.numel() / std::max<int64_t>(Cin, 1);
    Shape out_shape = x.shape();
    out_shape.back() = Cout;
    Tensor y = Tensor::empty(out_shape);
    float* py = y.data();
    float beta = 0.f;
    if (bias.defined()) {  // preload every row with the bias, then accumulate the product
        Tensor bc = contiguous(bias.detach());
        const float* pb = bc.data();
        parallel_for(0, R, 256, [&](int64_t lo, int64_t hi) {
            for (int64_t r = lo; r < hi; ++r) std::copy(pb, pb + Cout, py + r * Cout);
        });
        beta = 1.f;
    }
    MatrixLayout lw = matrix_layout(weight);
    profiler::add_flops(2.0 * double(R) * double(Cin) * double(Cout));
    gemm(false, !lw.trans, R, Cout, Cin, 1.f, x2.data(), std::max<int64_t>(Cin, 1), lw.storage.data(), lw.ld, beta, py,
         Cout);
    bool gx = x.requires_grad(), gw = weight.requires_grad(), gbias = bias.requires_grad();
    return record("linear", y, {x, weight, bias},
                  [x2, w = weight.detach(), xshape = x.shape(), R, Cin, Cout, gx, gw, gbias](const Tensor& dy_in) {
                      Tensor dy = contiguous(reshape(dy_in, {R, Cout}));
                      Tensor dx, dw, db;
                      if (gx) dx = reshape(matmul(dy, w), xshape);                       // [R,Cout]·[Cout,Cin]
                      if (gw) dw = matmul(transpose(dy, 0, 1), reshape(x2, {R, Cin}));  // [Cout,R]·[R,Cin]
                      if (gbias) db = sum(dy, {0});
                      return std::vector<Tensor>{dx, dw, db};
                  });
}

}  // namespace attnlab
