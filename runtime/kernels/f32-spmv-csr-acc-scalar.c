/*
 * f32-spmv-csr-acc-scalar.c - y[0:m] += A . x, A in CSR (hlf_sparse.h).
 *
 * Portable C99.  Each row is a dot product of its nonzeros with x gathered
 * by column index; four independent partial sums (nonzeros k % 4) hide the
 * multiply-add latency, and are added in a fixed order, so the result does
 * not depend on the compiler's choices (no -ffast-math needed).
 */
#include "hlf_sparse.h"

void hlf_f32_spmv_csr_acc(size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    size_t k = row_ptr[0];
    for (size_t i = 0; i < m; i++) {
        const size_t end = row_ptr[i + 1];
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (; k + 4 <= end; k += 4) {
            a0 += values[k] * x[col_idx[k]];
            a1 += values[k + 1] * x[col_idx[k + 1]];
            a2 += values[k + 2] * x[col_idx[k + 2]];
            a3 += values[k + 3] * x[col_idx[k + 3]];
        }
        for (; k < end; k++) {
            a0 += values[k] * x[col_idx[k]];
        }
        y[i] += (a0 + a1) + (a2 + a3);
    }
}
