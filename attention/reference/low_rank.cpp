// low_rank.cpp — see low_rank.h.
#include "attention/reference/low_rank.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops/ops.h"
#include "core/util/error.h"

namespace attnlab::attention {

Tensor dense_linformer(const Tensor& E, const Tensor& F, const Tensor& q, const Tensor& k, const Tensor& v) {
    Tensor scores = matmul(matmul(q, k.transpose(-2, -1)), E.T()) * (1.f / std::sqrt(float(q.size(-1))));  // [B,H,N,k]
    return matmul(softmax(scores, -1), matmul(F, v));
}

namespace {

using Matrix = std::vector<std::vector<double>>;  // rows

Matrix zeros(size_t rows, size_t cols) { return Matrix(rows, std::vector<double>(cols, 0.0)); }

Matrix product(const Matrix& a, const Matrix& b) {
    Matrix c = zeros(a.size(), b[0].size());
    for (size_t i = 0; i < a.size(); ++i)
        for (size_t l = 0; l < b.size(); ++l)
            for (size_t j = 0; j < b[0].size(); ++j) c[i][j] += a[i][l] * b[l][j];
    return c;
}

// s·I − X for a square X.
Matrix scaled_identity_minus(double s, const Matrix& x) {
    Matrix r = zeros(x.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i)
        for (size_t j = 0; j < x.size(); ++j) r[i][j] = (i == j ? s : 0.0) - x[i][j];
    return r;
}

// Row-wise softmax of (a · bᵀ) · scale.
Matrix softmax_scores(const Matrix& a, const Matrix& b, double scale) {
    Matrix s = zeros(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        double mx = -INFINITY, total = 0;
        for (size_t j = 0; j < b.size(); ++j) {
            for (size_t d = 0; d < a[i].size(); ++d) s[i][j] += a[i][d] * b[j][d] * scale;
            mx = std::max(mx, s[i][j]);
        }
        for (double& x : s[i]) total += (x = std::exp(x - mx));
        for (double& x : s[i]) x /= total;
    }
    return s;
}

// Means of m contiguous segments of the rows: segment s holds rows [s·N/m, (s+1)·N/m).
Matrix segment_means(const Matrix& x, size_t m) {
    const size_t N = x.size();
    Matrix means = zeros(m, x[0].size());
    for (size_t s = 0; s < m; ++s) {
        const size_t lo = s * N / m, hi = (s + 1) * N / m;
        for (size_t i = lo; i < hi; ++i)
            for (size_t d = 0; d < x[i].size(); ++d) means[s][d] += x[i][d] / double(hi - lo);
    }
    return means;
}

Matrix pseudoinverse(const Matrix& a, int64_t iterations) {
    const size_t m = a.size();
    double norm_1 = 0, norm_inf = 0;  // max column sum, max row sum
    for (size_t i = 0; i < m; ++i) {
        double row = 0, col = 0;
        for (size_t j = 0; j < m; ++j) row += std::abs(a[i][j]), col += std::abs(a[j][i]);
        norm_inf = std::max(norm_inf, row), norm_1 = std::max(norm_1, col);
    }
    Matrix z = zeros(m, m);
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < m; ++j) z[i][j] = a[j][i] / (norm_1 * norm_inf);
    for (int64_t it = 0; it < iterations; ++it) {
        Matrix az = product(a, z);
        Matrix inner = scaled_identity_minus(15, product(az, scaled_identity_minus(7, az)));
        Matrix outer = scaled_identity_minus(13, product(az, inner));
        z = product(z, outer);
        for (auto& row : z)
            for (double& x : row) x *= 0.25;
    }
    return z;
}

Matrix head_matrix(const std::vector<float>& t, size_t offset, size_t N, size_t D) {
    Matrix x = zeros(N, D);
    for (size_t i = 0; i < N; ++i)
        for (size_t d = 0; d < D; ++d) x[i][d] = t[offset + i * D + d];
    return x;
}

}  // namespace

Tensor dense_nystrom(const Tensor& q, const Tensor& k, const Tensor& v, int64_t m, int64_t iterations) {
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    check(k.size(2) == N && m >= 1 && m <= N, "dense_nystrom: needs N queries = N keys and 1 <= m <= N");
    const std::vector<float> qv = q.contiguous().to_vector(), kv = k.contiguous().to_vector(),
                             vv = v.contiguous().to_vector();
    std::vector<float> out(qv.size());
    const double scale = 1.0 / std::sqrt(double(D));
    for (int64_t bh = 0; bh < B * H; ++bh) {
        const size_t off = size_t(bh * N * D);
        Matrix Q = head_matrix(qv, off, N, D), K = head_matrix(kv, off, N, D), V = head_matrix(vv, off, N, D);
        Matrix Ql = segment_means(Q, m), Kl = segment_means(K, m);
        Matrix approx = product(product(softmax_scores(Q, Kl, scale), pseudoinverse(softmax_scores(Ql, Kl, scale), iterations)),
                                softmax_scores(Ql, K, scale));  // Â [N, N]
        Matrix o = product(approx, V);
        for (int64_t i = 0; i < N; ++i)
            for (int64_t d = 0; d < D; ++d) out[off + size_t(i * D + d)] = float(o[i][d]);
    }
    return Tensor::from_vector(out, q.shape());
}

}  // namespace attnlab::attention
