/*
 * f16-gemv-acc-neon.c - hlf_f16_gemv_acc for AArch64 (ARMv8.0, arm_neon.h,
 * C99): fp16 weights in the 8-row panels of hlf_kernels.h, fp32 arithmetic.
 *
 * The Cortex-A73 has no FP16 arithmetic (that is ARMv8.2), only the
 * conversions of ARMv8.0: a panel column is 8 halves = one q-register,
 * widened by FCVTL (rows 0-3) and FCVTL2 (rows 4-7) and multiplied by a lane
 * of x with FMLA.  Inner loop, 8 columns x 8 rows = 64 MACs: 8 columns of
 * halves (128 bytes; GCC 12 emits LDP/LDR q), 2 LDR q (x), 16 FCVTL(2), 16
 * FMLA, address and loop: about 46 instructions in GCC 12's code, 0.727
 * instructions/MAC measured for whole calls against 0.34 for fp32 (the
 * conversions), for half the weight bytes.  Measured with the QEMU plugin (bench/quant.py
 * kernels, whole calls, GCC 12 -O2 -mcpu=cortex-a73): see docs/quantization.md.
 * 8 accumulators (4 column phases x 2 halves of the panel) hide the FMLA
 * latency.  Column tails: 4 at a time, then 1 at a time, so x is never read
 * past x[n-1].  The last m % 8 rows are one short panel packed without
 * padding (hlf_qkernels.h), done by f16_short_panel below (NEON; the scalar
 * hlf_f16_short_panel_acc, about 48 instructions/MAC with its integer
 * widening, only for the last column).
 */
#include <arm_neon.h>

#include "../hlf_f16.h"
#include "../hlf_qkernels.h"

#if HLF_NR != 8
#error "f16-gemv-acc-neon.c is written for HLF_NR == 8 (one q-register of halves per panel column)"
#endif

#define F16_LO(w) vcvt_f32_f16(vget_low_f16(vreinterpretq_f16_u16(w)))
#define F16_HI(w) vcvt_high_f32_f16(vreinterpretq_f16_u16(w))

/* acc{c}{l,h} += column w (8 halves) * lane l of xq */
#define F16_COL(w, xq, l, al, ah)                     \
    do {                                              \
        al = vfmaq_laneq_f32(al, F16_LO(w), xq, l);   \
        ah = vfmaq_laneq_f32(ah, F16_HI(w), xq, l);   \
    } while (0)

/*
 * y[0:r] += the short last panel (r = 1..7 rows; column j is the r halves at
 * a + j*r) times x.  r = 1: the row is contiguous, 8 halves per LDR q, FCVTL
 * and FCVTL2, FMLA by vector.  r = 2..7: per column, rows 0-3 as 4 halves
 * (LDR d, FCVTL, FMLA by lane; halves past row r-1 belong to the next
 * column and their lanes are dropped) and rows 4-7 the same when r > 4;
 * columns while a fifth follows, so no load passes the last column's end,
 * the rest scalar.  About 1-2 instructions/MAC instead of 48.
 */
static void f16_short_panel(size_t r, size_t n, const uint16_t *HLF_RESTRICT a,
                            const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    float sum[HLF_NR] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    size_t j = 0;
    if (r == 1) {
        float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
        for (; j + 8 <= n; j += 8) {
            const uint16x8_t w = vld1q_u16(a + j);
            s0 = vfmaq_f32(s0, F16_LO(w), vld1q_f32(x + j));
            s1 = vfmaq_f32(s1, F16_HI(w), vld1q_f32(x + j + 4));
        }
        sum[0] = vaddvq_f32(vaddq_f32(s0, s1));
    } else {
        float32x4_t lo0 = vdupq_n_f32(0.0f), lo1 = vdupq_n_f32(0.0f);
        float32x4_t hi0 = vdupq_n_f32(0.0f), hi1 = vdupq_n_f32(0.0f);
#define F16_Q4(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)))
        if (r <= 4) {
            for (; j + 5 <= n; j += 4) {
                const float32x4_t xq = vld1q_f32(x + j);
                const uint16_t *c = a + j * r;
                lo0 = vfmaq_laneq_f32(lo0, F16_Q4(c), xq, 0);
                lo1 = vfmaq_laneq_f32(lo1, F16_Q4(c + r), xq, 1);
                lo0 = vfmaq_laneq_f32(lo0, F16_Q4(c + 2 * r), xq, 2);
                lo1 = vfmaq_laneq_f32(lo1, F16_Q4(c + 3 * r), xq, 3);
            }
        } else {
            for (; j + 5 <= n; j += 4) {
                const float32x4_t xq = vld1q_f32(x + j);
                const uint16_t *c = a + j * r;
                lo0 = vfmaq_laneq_f32(lo0, F16_Q4(c), xq, 0);
                hi0 = vfmaq_laneq_f32(hi0, F16_Q4(c + 4), xq, 0);
                lo1 = vfmaq_laneq_f32(lo1, F16_Q4(c + r), xq, 1);
                hi1 = vfmaq_laneq_f32(hi1, F16_Q4(c + r + 4), xq, 1);
                lo0 = vfmaq_laneq_f32(lo0, F16_Q4(c + 2 * r), xq, 2);
                hi0 = vfmaq_laneq_f32(hi0, F16_Q4(c + 2 * r + 4), xq, 2);
                lo1 = vfmaq_laneq_f32(lo1, F16_Q4(c + 3 * r), xq, 3);
                hi1 = vfmaq_laneq_f32(hi1, F16_Q4(c + 3 * r + 4), xq, 3);
            }
        }
#undef F16_Q4
        vst1q_f32(sum, vaddq_f32(lo0, lo1));
        vst1q_f32(sum + 4, vaddq_f32(hi0, hi1));
    }
    /* y += the sums, then the columns j..n-1 through the scalar panel code. */
    for (size_t i = 0; i < r; i++) {
        y[i] += sum[i];
    }
    if (j < n) {
        hlf_f16_short_panel_acc(r, n - j, a + j * r, x + j, y);
    }
}

/*
 * y[0:m] += a[0:m] * xs: a matrix of one column (an HLF B of rank 1, stored
 * fp16 in the int8 and fp16 builds), whose packed panels are a[0:m] in row
 * order.  An axpy: per 16 rows two LDR q of halves, 4 FCVTL(2), 4 FMLA, LDP
 * and STP of y, the loop (about 1 instruction/MAC) instead of a panel
 * set-up and reduction per 8 rows (9 instructions/MAC at 79 x 1).
 */
static void f16_axpy_column(size_t m, const uint16_t *HLF_RESTRICT a, float xs,
                            float *HLF_RESTRICT y) {
    const float32x4_t xv = vdupq_n_f32(xs);
    size_t i = 0;
    for (; i + 16 <= m; i += 16) {
        const uint16x8_t w0 = vld1q_u16(a + i);
        const uint16x8_t w1 = vld1q_u16(a + i + 8);
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), F16_LO(w0), xv));
        vst1q_f32(y + i + 4, vfmaq_f32(vld1q_f32(y + i + 4), F16_HI(w0), xv));
        vst1q_f32(y + i + 8, vfmaq_f32(vld1q_f32(y + i + 8), F16_LO(w1), xv));
        vst1q_f32(y + i + 12, vfmaq_f32(vld1q_f32(y + i + 12), F16_HI(w1), xv));
    }
    for (; i + 4 <= m; i += 4) {
        const float32x4_t w = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(a + i)));
        vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), w, xv));
    }
    for (; i < m; i++) {
        y[i] += hlf_f16_to_f32(a[i]) * xs;
    }
}

void hlf_f16_gemv_acc(size_t m, size_t n, const uint16_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    if (n == 1) { /* one column: the panels are a[0:m] in row order */
        f16_axpy_column(m, a, x[0], y);
        return;
    }
    size_t row0 = 0;
    for (; row0 + HLF_NR <= m; row0 += HLF_NR) {
        float32x4_t a0l = vdupq_n_f32(0.0f), a0h = vdupq_n_f32(0.0f);
        float32x4_t a1l = vdupq_n_f32(0.0f), a1h = vdupq_n_f32(0.0f);
        float32x4_t a2l = vdupq_n_f32(0.0f), a2h = vdupq_n_f32(0.0f);
        float32x4_t a3l = vdupq_n_f32(0.0f), a3h = vdupq_n_f32(0.0f);
        const float *xp = x;
        size_t k = n;
        for (; k >= 8; k -= 8) {
            const float32x4_t x0 = vld1q_f32(xp);
            const float32x4_t x1 = vld1q_f32(xp + 4);
            F16_COL(vld1q_u16(a), x0, 0, a0l, a0h);
            F16_COL(vld1q_u16(a + 8), x0, 1, a1l, a1h);
            F16_COL(vld1q_u16(a + 16), x0, 2, a2l, a2h);
            F16_COL(vld1q_u16(a + 24), x0, 3, a3l, a3h);
            F16_COL(vld1q_u16(a + 32), x1, 0, a0l, a0h);
            F16_COL(vld1q_u16(a + 40), x1, 1, a1l, a1h);
            F16_COL(vld1q_u16(a + 48), x1, 2, a2l, a2h);
            F16_COL(vld1q_u16(a + 56), x1, 3, a3l, a3h);
            xp += 8;
            a += 64;
        }
        if (k >= 4) {
            const float32x4_t x0 = vld1q_f32(xp);
            F16_COL(vld1q_u16(a), x0, 0, a0l, a0h);
            F16_COL(vld1q_u16(a + 8), x0, 1, a1l, a1h);
            F16_COL(vld1q_u16(a + 16), x0, 2, a2l, a2h);
            F16_COL(vld1q_u16(a + 24), x0, 3, a3l, a3h);
            xp += 4;
            a += 32;
            k -= 4;
        }
        for (; k > 0; k--) {
            const float32x4_t xs = vld1q_dup_f32(xp++);
            const uint16x8_t w = vld1q_u16(a);
            a += 8;
            a0l = vfmaq_f32(a0l, F16_LO(w), xs);
            a0h = vfmaq_f32(a0h, F16_HI(w), xs);
        }
        const float32x4_t lo = vaddq_f32(vaddq_f32(a0l, a1l), vaddq_f32(a2l, a3l));
        const float32x4_t hi = vaddq_f32(vaddq_f32(a0h, a1h), vaddq_f32(a2h, a3h));
        float *yp = y + row0;
        vst1q_f32(yp, vaddq_f32(vld1q_f32(yp), lo));
        vst1q_f32(yp + 4, vaddq_f32(vld1q_f32(yp + 4), hi));
    }
    if (row0 < m) { /* the short last panel: m % 8 rows, unpadded */
        f16_short_panel(m - row0, n, a, x, y + row0);
    }
}
