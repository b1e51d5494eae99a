/*
 * f32-gemm-acc-scalar.c - y[v] += A . x[v] for nv vectors, A packed in
 * HLF_NR-row panels.
 *
 * Portable C99.  Four vectors share one pass over each panel, so the weights
 * are streamed once per four vectors (input projections over all steps).
 */
#include "hlf_kernels.h"

/* Vectors per pass over the weights. */
#define VEC_BLOCK 4

void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    size_t v = 0;
    for (; v + VEC_BLOCK <= nv; v += VEC_BLOCK) {
        const float *x0 = x + v * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        const float *a = a_packed;
        for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
            float acc0[HLF_NR] = {0}, acc1[HLF_NR] = {0}, acc2[HLF_NR] = {0}, acc3[HLF_NR] = {0};
            for (size_t j = 0; j < n; j++) {
                const float w0 = x0[j], w1 = x1[j], w2 = x2[j], w3 = x3[j];
                for (int r = 0; r < HLF_NR; r++) {
                    acc0[r] += a[r] * w0;
                    acc1[r] += a[r] * w1;
                    acc2[r] += a[r] * w2;
                    acc3[r] += a[r] * w3;
                }
                a += HLF_NR;
            }
            const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
            float *y0 = y + v * ldy + row0;
            for (size_t r = 0; r < rows; r++) {
                y0[r] += acc0[r];
                y0[ldy + r] += acc1[r];
                y0[2 * ldy + r] += acc2[r];
                y0[3 * ldy + r] += acc3[r];
            }
        }
    }
    for (; v < nv; v++) {  /* remaining vectors: one GEMV each */
        hlf_f32_gemv_acc(m, n, a_packed, x + v * ldx, y + v * ldy);
    }
}
