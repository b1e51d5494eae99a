/*
 * f32-spmv-csr-acc-neon.c - y[0:m] += A . x, A in CSR (hlf_sparse.h), for
 * AArch64 with arm_neon.h intrinsics (C99).
 *
 * There is no gather on AArch64 NEON: every nonzero costs a load of its
 * column index (LDRH) and a load of x at that index, whatever the code.  The
 * inner loop takes 8 nonzeros per iteration: the 8 values are two
 * q-registers (one LDP q); the 8 gathered x values are put into two
 * q-registers (LDR s for lane 0, LD1 {v.s}[k] or LDR s + INS for lanes 1-3),
 * then 2 vector FMLA into two accumulators.  ~3.5 instructions per nonzero,
 * against 0.4 per multiply-accumulate for the dense panel GEMV: CSR pays off
 * only below ~10% density (hlfgen/sparse.py's cost model has the measured
 * numbers).  Row tails (nonzeros % 8) go 4, then 1 at a time.  The partial
 * sums are added in a fixed order.
 */
#include <arm_neon.h>
#include <math.h>
#include <stddef.h>

#include "../hlf_sparse.h"

/* x[c[0..3]] as one q-register. */
static inline float32x4_t gather4(const float *HLF_RESTRICT x, const uint16_t *HLF_RESTRICT c) {
    float32x4_t g = vdupq_n_f32(x[c[0]]);
    g = vsetq_lane_f32(x[c[1]], g, 1);
    g = vsetq_lane_f32(x[c[2]], g, 2);
    g = vsetq_lane_f32(x[c[3]], g, 3);
    return g;
}

void hlf_f32_spmv_csr_acc(size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    const uint16_t *c = col_idx + row_ptr[0];
    const float *v = values + row_ptr[0];
    for (size_t i = 0; i < m; i++) {
        size_t cnt = row_ptr[i + 1] - row_ptr[i];
        float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
        for (size_t q = cnt / 8; q != 0; q--) {
            const float32x4_t w0 = vld1q_f32(v), w1 = vld1q_f32(v + 4);
            const float32x4_t g0 = gather4(x, c), g1 = gather4(x, c + 4);
            v += 8;
            c += 8;
            acc0 = vfmaq_f32(acc0, w0, g0);
            acc1 = vfmaq_f32(acc1, w1, g1);
        }
        cnt %= 8;
        if (cnt >= 4) {
            acc0 = vfmaq_f32(acc0, vld1q_f32(v), gather4(x, c));
            v += 4;
            c += 4;
            cnt -= 4;
        }
        float s = vaddvq_f32(vaddq_f32(acc0, acc1));
        for (; cnt > 0; cnt--) {
            s = fmaf(*v++, x[*c++], s);
        }
        y[i] += s;
    }
}
