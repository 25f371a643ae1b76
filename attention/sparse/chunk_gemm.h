// chunk_gemm.h — the scores of a few rows against keys held as transposed chunks of 8 tokens, for
// the key-lanes blocks of the block-sparse kernel (block_sparse_key_lanes.cpp), whose keys are whole
// chunks (bigbird with blocks of 8):
//   S[r·lds + 8c + j] = alpha · Σ_{d<k} A[r·lda + d] · chunks[c][d·8 + j]      r < m, c < nc, j < 8
// chunks[c] is [k, 8]: 8 consecutive tokens' rows transposed (one contiguous 8·k floats), so a
// block's Kbᵀ is read where it lies, chunk by chunk, instead of being copied into one tile.
// Rows in blocks of up to 8, chunks two at a time: 16 accumulators of 8 floats, per step 2 loads,
// 8 broadcasts and 16 multiply-adds. (An 8-float vector is half an AVX-512 register: no loss of
// multiply-add throughput on cores that run 512-bit operations as two halves, as this machine's
// AMD EPYC does; half of it elsewhere.) Time O(m·8·nc·k), no allocation.
#pragma once
#include <cstdint>
#include <cstring>

namespace attnlab::attention::chunk {

constexpr int64_t kWidth = 8;  // tokens per chunk
typedef float Vec8 __attribute__((vector_size(4 * kWidth)));

// R rows × C chunks of S.
template <int R, int C>
inline void scores_block(int64_t k, float alpha, const float* A, int64_t lda, const float* const* chunks, float* S,
                         int64_t lds) {
    Vec8 acc[R][C];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int c = 0; c < C; ++c) acc[r][c] = Vec8{};
    for (int64_t d = 0; d < k; ++d) {
        Vec8 b[C];
#pragma GCC unroll 2
        for (int c = 0; c < C; ++c) std::memcpy(&b[c], chunks[c] + d * kWidth, sizeof(Vec8));
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const float a = A[r * lda + d];
#pragma GCC unroll 2
            for (int c = 0; c < C; ++c) acc[r][c] += a * b[c];
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
        for (int c = 0; c < C; ++c) {
            const Vec8 x = alpha * acc[r][c];
            std::memcpy(S + r * lds + c * kWidth, &x, sizeof x);
        }
}

// R rows, all nc chunks: pairs, then the odd one.
template <int R>
inline void scores_rows(int64_t nc, int64_t k, float alpha, const float* A, int64_t lda, const float* const* chunks,
                        float* S, int64_t lds) {
    int64_t c = 0;
    for (; c + 2 <= nc; c += 2) scores_block<R, 2>(k, alpha, A, lda, chunks + c, S + c * kWidth, lds);
    if (c < nc) scores_block<R, 1>(k, alpha, A, lda, chunks + c, S + c * kWidth, lds);
}

// S [m, 8·nc] (row stride lds) = alpha · A [m, k] times the chunks side by side.
inline void scores(int64_t m, int64_t nc, int64_t k, float alpha, const float* A, int64_t lda,
                   const float* const* chunks, float* S, int64_t lds) {
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) scores_rows<8>(nc, k, alpha, A + i * lda, lda, chunks, S + i * lds, lds);
    const float* a = A + i * lda;
    float* s = S + i * lds;
    switch (m - i) {
        case 7: scores_rows<7>(nc, k, alpha, a, lda, chunks, s, lds); break;
        case 6: scores_rows<6>(nc, k, alpha, a, lda, chunks, s, lds); break;
        case 5: scores_rows<5>(nc, k, alpha, a, lda, chunks, s, lds); break;
        case 4: scores_rows<4>(nc, k, alpha, a, lda, chunks, s, lds); break;
        case 3: scores_rows<3>(nc, k, alpha, a, lda, chunks, s, lds); break;
        case 2: scores_rows<2>(nc, k, alpha, a, lda, chunks, s, lds); break;
        case 1: scores_rows<1>(nc, k, alpha, a, lda, chunks, s, lds); break;
        default: break;
    }
}

}  // namespace attnlab::attention::chunk
