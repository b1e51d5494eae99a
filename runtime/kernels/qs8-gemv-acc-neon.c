/*
 * qs8-gemv-acc-neon.c - hlf_qs8_gemv_acc for AArch64 ARMv8.0 (no SDOT):
 * int8 weights in the 16-column cells of hlf_qkernels.h, int8 x, int32
 * accumulation, fp32 scaling per panel.
 *
 * Per cell (8 rows x 16 columns = 128 MACs): 2 LD1x4 (the 128 weight
 * bytes), 1 LDR q (16 entries of x, shared by the 8 rows), and per row
 *   SMULL  v.8h, w.8b,  x.8b     products of columns 0-7
 *   SMLAL2 v.8h, w.16b, x.16b    + products of columns 8-15 (|sum| <= 32258)
 *   SADALP acc.4s, v.8h          pairwise into the row's int32 accumulator
 * = 24 + 3 + loop = 0.22 instructions/MAC, half of the fp32 kernel's FMLA
 * form (0.40).  This is gemmlowp/ruy's non-dotprod form: the alternative in
 * the fp32 panel layout (SXTL the 8 weights of a column to int16, SMLAL by a
 * lane of x into int32: 3 instructions per 8 MACs plus loads, about 0.42)
 * is no better than fp32, because an int8 multiply by a lane does not exist.
 * The per-panel reduction (6 ADDP, 2 SCVTF, the scale multiply and the y
 * update) is O(m).  Measured with the QEMU plugin (bench/quant.py kernels),
 * see docs/quantization.md.
 */
#include <arm_neon.h>

#include "../hlf_qkernels.h"

#if HLF_NR != 8
#error "qs8-gemv-acc-neon.c is written for HLF_NR == 8"
#endif

/* acc += row w (16 int8) . xq (16 int8), as 4 partial int32 sums. */
#define QS8_ROW(acc, w, xq) \
    acc = vpadalq_s16(acc, vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(xq)), w, xq))

void hlf_qs8_gemv_acc(size_t m, size_t n, const int8_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      float x_scale, float *HLF_RESTRICT y) {
    const size_t cells = HLF_QS8_PADDED(n) / HLF_QS8_KC;
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        int32x4_t s0 = vdupq_n_s32(0), s1 = vdupq_n_s32(0), s2 = vdupq_n_s32(0), s3 = vdupq_n_s32(0);
        int32x4_t s4 = vdupq_n_s32(0), s5 = vdupq_n_s32(0), s6 = vdupq_n_s32(0), s7 = vdupq_n_s32(0);
        const int8_t *xp = xq;
        for (size_t k = cells; k != 0; k--) {
            const int8x16_t xv = vld1q_s8(xp);
            /* Single-register loads (LDP q pairs): LD1x4 needs 4
             * consecutive registers, which costs register moves. */
            QS8_ROW(s0, vld1q_s8(a), xv);
            QS8_ROW(s1, vld1q_s8(a + 16), xv);
            QS8_ROW(s2, vld1q_s8(a + 32), xv);
            QS8_ROW(s3, vld1q_s8(a + 48), xv);
            QS8_ROW(s4, vld1q_s8(a + 64), xv);
            QS8_ROW(s5, vld1q_s8(a + 80), xv);
            QS8_ROW(s6, vld1q_s8(a + 96), xv);
            QS8_ROW(s7, vld1q_s8(a + 112), xv);
            xp += HLF_QS8_KC;
            a += 128;
        }
        /* Row sums: ADDP trees give rows 0-3 and 4-7 in one register each. */
        const int32x4_t r03 = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
        const int32x4_t r47 = vpaddq_s32(vpaddq_s32(s4, s5), vpaddq_s32(s6, s7));
        /* y += (a_scale[r] * x_scale) * sum (a_scale is padded to whole panels) */
        const float32x4_t lo = vmulq_f32(vmulq_n_f32(vld1q_f32(a_scale + row0), x_scale), vcvtq_f32_s32(r03));
        const float32x4_t hi = vmulq_f32(vmulq_n_f32(vld1q_f32(a_scale + row0 + 4), x_scale), vcvtq_f32_s32(r47));
        float *yp = y + row0;
        if (m - row0 >= HLF_NR) {
            vst1q_f32(yp, vaddq_f32(vld1q_f32(yp), lo));
            vst1q_f32(yp + 4, vaddq_f32(vld1q_f32(yp + 4), hi));
        } else {
            float buf[HLF_NR];
            vst1q_f32(buf, lo);
            vst1q_f32(buf + 4, hi);
            for (size_t r = 0; r < m - row0; r++) {
                yp[r] += buf[r];
            }
        }
    }
}
