/*
 * f32-spmv-csr-acc-neon.c - y[0:m] += A . x, A in CSR (hlf_sparse.h), for
 * AArch64 with arm_neon.h intrinsics (C99).
 *
 * There is no gather on AArch64 NEON: every nonzero costs a load of its
 * column index and a load of x at that index, whatever the code.  The inner
 * loop takes 8 nonzeros per iteration:
 *   - values: two q-registers (one LDP q);
 *   - per nonzero: LDRH of the column index, LDR s of x[col] (register
 *     offset, scaled: no address arithmetic), a scalar FMLA by element of
 *     the values register into one of 4 accumulators (latency hiding);
 * = 8 LDRH + 8 LDR + 8 FMLA + 1 LDP + loop ~ 3.4 instructions per nonzero,
 * against 0.4 per multiply-accumulate for the dense panel GEMV, so CSR only
 * pays off below ~12% density (hlfgen/sparse.py's cost model measures it).
 * Row tails (nonzeros % 8) go 4 then 1 at a time.  The partial sums are
 * added in a fixed order.
 */
#include <arm_neon.h>
#include <math.h>
#include <stddef.h>

#include "../hlf_sparse.h"

void hlf_f32_spmv_csr_acc(size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    const uint16_t *c = col_idx + row_ptr[0];
    const float *v = values + row_ptr[0];
    for (size_t i = 0; i < m; i++) {
        size_t cnt = row_ptr[i + 1] - row_ptr[i];
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (; cnt >= 8; cnt -= 8) {
            const float32x4_t w0 = vld1q_f32(v);
            const float32x4_t w1 = vld1q_f32(v + 4);
            v += 8;
            a0 = vfmas_laneq_f32(a0, x[c[0]], w0, 0);
            a1 = vfmas_laneq_f32(a1, x[c[1]], w0, 1);
            a2 = vfmas_laneq_f32(a2, x[c[2]], w0, 2);
            a3 = vfmas_laneq_f32(a3, x[c[3]], w0, 3);
            a0 = vfmas_laneq_f32(a0, x[c[4]], w1, 0);
            a1 = vfmas_laneq_f32(a1, x[c[5]], w1, 1);
            a2 = vfmas_laneq_f32(a2, x[c[6]], w1, 2);
            a3 = vfmas_laneq_f32(a3, x[c[7]], w1, 3);
            c += 8;
        }
        if (cnt >= 4) {
            const float32x4_t w0 = vld1q_f32(v);
            v += 4;
            a0 = vfmas_laneq_f32(a0, x[c[0]], w0, 0);
            a1 = vfmas_laneq_f32(a1, x[c[1]], w0, 1);
            a2 = vfmas_laneq_f32(a2, x[c[2]], w0, 2);
            a3 = vfmas_laneq_f32(a3, x[c[3]], w0, 3);
            c += 4;
            cnt -= 4;
        }
        for (; cnt > 0; cnt--) {
            a0 = fmaf(*v++, x[*c++], a0);
        }
        y[i] += (a0 + a1) + (a2 + a3);
    }
}
