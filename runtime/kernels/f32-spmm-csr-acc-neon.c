/*
 * f32-spmm-csr-acc-neon.c - y[v] += A . x[v] for nv vectors, A in CSR
 * (hlf_sparse.h), for AArch64 with arm_neon.h intrinsics (C99).
 *
 * Four vectors share each pass over a row's nonzeros: per 4 nonzeros, one
 * LDR q of values and 4 LDRH of column indices serve 16 multiply-adds (per
 * vector: LDR s of x[col] by register offset, scalar FMLA by element), ~2.4
 * instructions per multiply-add.  Left-over vectors use the GEMV.
 */
#include <arm_neon.h>
#include <math.h>
#include <stddef.h>

#include "../hlf_sparse.h"

/* The 4 multiply-adds of column j (index register shared) by lane l of w. */
#define SPMM_NZ(j, w, l)                             \
    do {                                             \
        const size_t j_ = (j);                       \
        a0 = vfmas_laneq_f32(a0, x0[j_], w, l);      \
        a1 = vfmas_laneq_f32(a1, x1[j_], w, l);      \
        a2 = vfmas_laneq_f32(a2, x2[j_], w, l);      \
        a3 = vfmas_laneq_f32(a3, x3[j_], w, l);      \
    } while (0)

void hlf_f32_spmm_csr_acc(size_t nv, size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, size_t ldx,
                          float *HLF_RESTRICT y, size_t ldy) {
    size_t vi = 0;
    for (; vi + 4 <= nv; vi += 4) {
        const float *x0 = x + vi * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
        float *y0 = y + vi * ldy, *y1 = y0 + ldy, *y2 = y1 + ldy, *y3 = y2 + ldy;
        const uint16_t *c = col_idx + row_ptr[0];
        const float *v = values + row_ptr[0];
        for (size_t i = 0; i < m; i++) {
            size_t cnt = row_ptr[i + 1] - row_ptr[i];
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            for (size_t q = cnt / 4; q != 0; q--) {
                const float32x4_t w = vld1q_f32(v);
                v += 4;
                SPMM_NZ(c[0], w, 0);
                SPMM_NZ(c[1], w, 1);
                SPMM_NZ(c[2], w, 2);
                SPMM_NZ(c[3], w, 3);
                c += 4;
            }
            for (cnt %= 4; cnt != 0; cnt--) {
                const float w = *v++;
                const size_t j = *c++;
                a0 = fmaf(w, x0[j], a0);
                a1 = fmaf(w, x1[j], a1);
                a2 = fmaf(w, x2[j], a2);
                a3 = fmaf(w, x3[j], a3);
            }
            y0[i] += a0;
            y1[i] += a1;
            y2[i] += a2;
            y3[i] += a3;
        }
    }
    for (; vi < nv; vi++) { /* remaining vectors: one GEMV each */
        hlf_f32_spmv_csr_acc(m, row_ptr, col_idx, values, x + vi * ldx, y + vi * ldy);
    }
}
