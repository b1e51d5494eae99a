/*
 * f32-spmm-bcsr-acc-scalar.c - y[v] += A . x[v] for nv vectors, A in BCSR
 * with br x 1 blocks (hlf_sparse.h).
 *
 * Portable C99.  Four vectors share each load of a block (the input
 * projection over all time steps streams the weights once per four
 * vectors); br = 4 and br = 8 use vectors of br floats under GCC/clang.
 * Left-over vectors, other br and other compilers use the GEMV.
 */
#include <string.h>

#include "hlf_sparse.h"

#if defined(__GNUC__) || defined(__clang__)
typedef float hlf_v4 __attribute__((vector_size(4 * sizeof(float))));
typedef float hlf_v8 __attribute__((vector_size(8 * sizeof(float))));

/* y_v[0:rows] += acc (acc by pointer: vectors by value trip -Wpsabi). */
#define ADD_ROWS(yv, acc, BR)                                           \
    do {                                                                \
        float out_[BR];                                                 \
        memcpy(out_, &(acc), sizeof out_);                              \
        for (size_t r = 0; r < rows; r++) {                             \
            (yv)[row0 + r] += out_[r];                                  \
        }                                                               \
    } while (0)

/* All block rows for the four vectors x0..x3 / y0..y3, br = BR. */
#define SPMM_4V(VT, BR)                                                 \
    do {                                                                \
        for (size_t row0 = 0, b = 0; row0 < m; row0 += (BR), b++) {     \
            const size_t rows = m - row0 < (BR) ? m - row0 : (BR);      \
            VT acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0}, w;       \
            for (size_t k = block_ptr[b]; k < block_ptr[b + 1]; k++) {  \
                const size_t j = block_col[k];                          \
                memcpy(&w, values + k * (BR), sizeof w);                \
                acc0 += w * x0[j];                                      \
                acc1 += w * x1[j];                                      \
                acc2 += w * x2[j];                                      \
                acc3 += w * x3[j];                                      \
            }                                                           \
            ADD_ROWS(y0, acc0, BR);                                     \
            ADD_ROWS(y1, acc1, BR);                                     \
            ADD_ROWS(y2, acc2, BR);                                     \
            ADD_ROWS(y3, acc3, BR);                                     \
        }                                                               \
    } while (0)

void hlf_f32_spmm_bcsr_acc(size_t nv, size_t m, size_t br,
                           const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, size_t ldx,
                           float *HLF_RESTRICT y, size_t ldy) {
    size_t v = 0;
    if (br == 8 || br == 4) {
        for (; v + 4 <= nv; v += 4) {
            const float *x0 = x + v * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
            float *y0 = y + v * ldy, *y1 = y0 + ldy, *y2 = y1 + ldy, *y3 = y2 + ldy;
            if (br == 8) {
                SPMM_4V(hlf_v8, 8);
            } else {
                SPMM_4V(hlf_v4, 4);
            }
        }
    }
    for (; v < nv; v++) { /* remaining vectors: one GEMV each */
        hlf_f32_spmv_bcsr_acc(m, br, block_ptr, block_col, values, x + v * ldx, y + v * ldy);
    }
}
#else
void hlf_f32_spmm_bcsr_acc(size_t nv, size_t m, size_t br,
                           const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, size_t ldx,
                           float *HLF_RESTRICT y, size_t ldy) {
    for (size_t v = 0; v < nv; v++) {
        hlf_f32_spmv_bcsr_acc(m, br, block_ptr, block_col, values, x + v * ldx, y + v * ldy);
    }
}
#endif
