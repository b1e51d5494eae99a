/*
 * f32-gemm-acc-scalar.c - y[v] += A . x[v] for nv vectors, A packed in
 * HLF_NR-row panels.
 *
 * Portable C99 (vector_size extension under GCC/clang, as the GEMV).  Four
 * vectors share one pass over each panel, so the weights are streamed once
 * per four vectors (input projections over all time steps).
 */
#include <string.h>

#include "hlf_kernels.h"

/* Vectors per pass over the weights. */
#define VEC_BLOCK 4

#if defined(__GNUC__) || defined(__clang__)
typedef float hlf_vnr __attribute__((vector_size(HLF_NR * sizeof(float))));

/* y[0:rows] += acc[0:rows] (acc by pointer: vectors by value trip -Wpsabi). */
static inline void add_rows(float *y, const hlf_vnr *acc, size_t rows) {
    float out[HLF_NR];
    memcpy(out, acc, sizeof out);
    for (size_t r = 0; r < rows; r++) {
        y[r] += out[r];
    }
}

void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    /* Panel-outer order: one panel (HLF_NR x n weights) stays in cache while
     * every vector passes over it, so the weights come from memory once. */
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        const float *panel = a_packed + row0 * n;
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        size_t v = 0;
        for (; v + VEC_BLOCK <= nv; v += VEC_BLOCK) {
            const float *x0 = x + v * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
            const float *a = panel;
            hlf_vnr acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
            for (size_t j = 0; j < n; j++) {
                hlf_vnr w;
                memcpy(&w, a, sizeof w);
                acc0 += w * x0[j];
                acc1 += w * x1[j];
                acc2 += w * x2[j];
                acc3 += w * x3[j];
                a += HLF_NR;
            }
            float *y0 = y + v * ldy + row0;
            add_rows(y0, &acc0, rows);
            add_rows(y0 + ldy, &acc1, rows);
            add_rows(y0 + 2 * ldy, &acc2, rows);
            add_rows(y0 + 3 * ldy, &acc3, rows);
        }
        for (; v < nv; v++) { /* remaining vectors: this panel's rows one vector at a time */
            hlf_f32_gemv_acc(rows, n, panel, x + v * ldx, y + v * ldy + row0);
        }
    }
}
#else
void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    for (size_t v = 0; v < nv; v++) {
        hlf_f32_gemv_acc(m, n, a_packed, x + v * ldx, y + v * ldy);
    }
}
#endif
