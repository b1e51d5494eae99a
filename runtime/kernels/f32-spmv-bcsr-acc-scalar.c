/*
 * f32-spmv-bcsr-acc-scalar.c - y[0:m] += A . x, A in BCSR with br x 1 blocks
 * (hlf_sparse.h).
 *
 * Portable C99.  A block (br weights of one column) times one x value
 * updates the br outputs of its block row: a vertical multiply-add, as the
 * dense panel kernel, over the kept columns only.  With GCC or clang, br = 4
 * and br = 8 use vectors of br floats (vector_size extension); four
 * accumulators (blocks k % 4) hide the multiply-add latency.  Other br, and
 * other compilers, run plain loops.
 */
#include <string.h>

#include "hlf_sparse.h"

/* Any br: plain loops, one output row at a time. */
static void spmv_bcsr_generic(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                              const uint16_t *HLF_RESTRICT block_col,
                              const float *HLF_RESTRICT values,
                              const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    for (size_t row0 = 0, b = 0; row0 < m; row0 += br, b++) {
        const size_t rows = m - row0 < br ? m - row0 : br;
        for (size_t r = 0; r < rows; r++) {
            float acc = 0.0f;
            for (size_t k = block_ptr[b]; k < block_ptr[b + 1]; k++) {
                acc += values[k * br + r] * x[block_col[k]];
            }
            y[row0 + r] += acc;
        }
    }
}

#if defined(__GNUC__) || defined(__clang__)
typedef float hlf_v4 __attribute__((vector_size(4 * sizeof(float))));
typedef float hlf_v8 __attribute__((vector_size(8 * sizeof(float))));

/* Weights of block k (br = BR floats) times x[block_col[k]] into acc. */
#define BLOCK_FMA(VT, acc, k, BR)                                       \
    do {                                                                \
        VT w_;                                                          \
        memcpy(&w_, values + (k) * (BR), sizeof w_);                    \
        (acc) += w_ * x[block_col[k]];                                  \
    } while (0)

/* One block row of br = BR (vector type VT): y[0:rows] += sum of blocks k0..k1-1. */
#define SPMV_BLOCK_ROW(VT, BR)                                          \
    do {                                                                \
        VT acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};              \
        size_t k = k0;                                                  \
        for (; k + 4 <= k1; k += 4) {                                   \
            BLOCK_FMA(VT, acc0, k, BR);                                 \
            BLOCK_FMA(VT, acc1, k + 1, BR);                             \
            BLOCK_FMA(VT, acc2, k + 2, BR);                             \
            BLOCK_FMA(VT, acc3, k + 3, BR);                             \
        }                                                               \
        for (; k < k1; k++) {                                           \
            BLOCK_FMA(VT, acc0, k, BR);                                 \
        }                                                               \
        acc0 = (acc0 + acc1) + (acc2 + acc3);                           \
        float out[BR];                                                  \
        memcpy(out, &acc0, sizeof out);                                 \
        for (size_t r = 0; r < rows; r++) {                             \
            y[row0 + r] += out[r];                                      \
        }                                                               \
    } while (0)

#if !defined(__AVX__)
/* br = 8 where 8 floats are wider than a vector register: each block
 * is two 4-float halves (SSE, NEON).  A vector type wider than the registers has no
 * machine mode, and GCC would keep the accumulators in memory. */
#define BLOCK_FMA_HALVES(lo, hi, k)                                     \
    do {                                                                \
        hlf_v4 wl_, wh_;                                                \
        memcpy(&wl_, values + (k) * 8, sizeof wl_);                     \
        memcpy(&wh_, values + (k) * 8 + 4, sizeof wh_);                 \
        const float xk_ = x[block_col[k]];                              \
        (lo) += wl_ * xk_;                                              \
        (hi) += wh_ * xk_;                                              \
    } while (0)

static void spmv_block_row8(size_t k0, size_t k1, size_t rows, const uint16_t *HLF_RESTRICT block_col,
                            const float *HLF_RESTRICT values, const float *HLF_RESTRICT x,
                            float *HLF_RESTRICT y) {
    hlf_v4 a0l = {0}, a0h = {0}, a1l = {0}, a1h = {0};
    size_t k = k0;
    for (; k + 2 <= k1; k += 2) {
        BLOCK_FMA_HALVES(a0l, a0h, k);
        BLOCK_FMA_HALVES(a1l, a1h, k + 1);
    }
    for (; k < k1; k++) {
        BLOCK_FMA_HALVES(a0l, a0h, k);
    }
    a0l += a1l;
    a0h += a1h;
    float out[8];
    memcpy(out, &a0l, sizeof a0l);
    memcpy(out + 4, &a0h, sizeof a0h);
    for (size_t r = 0; r < rows; r++) {
        y[r] += out[r];
    }
}
#define SPMV_BLOCK_ROW8() spmv_block_row8(k0, k1, rows, block_col, values, x, y + row0)
#else
#define SPMV_BLOCK_ROW8() SPMV_BLOCK_ROW(hlf_v8, 8)
#endif

void hlf_f32_spmv_bcsr_acc(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    if (br == 8) {
        for (size_t row0 = 0, b = 0; row0 < m; row0 += 8, b++) {
            const size_t rows = m - row0 < 8 ? m - row0 : 8;
            const size_t k0 = block_ptr[b], k1 = block_ptr[b + 1];
            SPMV_BLOCK_ROW8();
        }
    } else if (br == 4) {
        for (size_t row0 = 0, b = 0; row0 < m; row0 += 4, b++) {
            const size_t rows = m - row0 < 4 ? m - row0 : 4;
            const size_t k0 = block_ptr[b], k1 = block_ptr[b + 1];
            SPMV_BLOCK_ROW(hlf_v4, 4);
        }
    } else {
        spmv_bcsr_generic(m, br, block_ptr, block_col, values, x, y);
    }
}
#else
void hlf_f32_spmv_bcsr_acc(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    spmv_bcsr_generic(m, br, block_ptr, block_col, values, x, y);
}
#endif
