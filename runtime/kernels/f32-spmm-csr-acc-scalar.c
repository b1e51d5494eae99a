/*
 * f32-spmm-csr-acc-scalar.c - y[v] += A . x[v] for nv vectors, A in CSR
 * (hlf_sparse.h).
 *
 * Portable C99.  Four vectors share each pass over a row's nonzeros, so the
 * values and column indices are read once per four vectors (the input
 * projection over all time steps); one accumulator per vector.  Left-over
 * vectors use the GEMV.
 */
#include "hlf_sparse.h"

/* Vectors per pass over the nonzeros. */
#define VEC_BLOCK 4

void hlf_f32_spmm_csr_acc(size_t nv, size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, size_t ldx,
                          float *HLF_RESTRICT y, size_t ldy) {
    size_t v = 0;
    for (; v + VEC_BLOCK <= nv; v += VEC_BLOCK) {
        const float *x0 = x + v * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        float *y0 = y + v * ldy, *y1 = y0 + ldy, *y2 = y1 + ldy, *y3 = y2 + ldy;
        size_t k = row_ptr[0];
        for (size_t i = 0; i < m; i++) {
            const size_t end = row_ptr[i + 1];
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            for (; k < end; k++) {
                const float w = values[k];
                const size_t j = col_idx[k];
                a0 += w * x0[j];
                a1 += w * x1[j];
                a2 += w * x2[j];
                a3 += w * x3[j];
            }
            y0[i] += a0;
            y1[i] += a1;
            y2[i] += a2;
            y3[i] += a3;
        }
    }
    for (; v < nv; v++) { /* remaining vectors: one GEMV each */
        hlf_f32_spmv_csr_acc(m, row_ptr, col_idx, values, x + v * ldx, y + v * ldy);
    }
}
