/*
 * f32-spmv-bcsr-acc-neon.c - y[0:m] += A . x, A in BCSR with br x 1 blocks
 * (hlf_sparse.h), for AArch64 with arm_neon.h intrinsics (C99).
 *
 * A block is one column of a packed panel with the zero columns left out:
 * its br weights times x[col] update br outputs (vertical FMLA by element,
 * no reduction).  Per block: LDRH of the column, LDR s of x[col] (register
 * offset), the weights (br = 8: two q-registers, br = 4: one), br/4 FMLA.
 *   br = 8: 4 blocks per iteration (two LD1 {4 x q}): 21 instructions per
 *           iteration, ~5.7 per block measured with tails and block-row
 *           set-up = 0.72 per stored weight (dense panel GEMV: 0.40);
 *   br = 4: 4 blocks per iteration (one LD1 {4 x q}): 17 per iteration,
 *           ~4.0 per block measured = 1.0 per stored weight.
 * Four accumulator sets (blocks k % 4) hide the FMLA latency (each
 * accumulator gets one FMLA per iteration).  The last block
 * row may hold fewer than br valid rows (zero-padded weights): only the
 * valid rows of y are read and written.  Other br: plain loops.
 */
#include <arm_neon.h>
#include <stddef.h>

#include "../hlf_sparse.h"

/* y[0:rows] += acc (the 4 lanes), rows <= 4. */
static inline void add4(size_t rows, float32x4_t acc, float *HLF_RESTRICT y) {
    if (rows == 4) {
        vst1q_f32(y, vaddq_f32(vld1q_f32(y), acc));
    } else {
        float buf[4];
        vst1q_f32(buf, acc);
        for (size_t r = 0; r < rows; r++) {
            y[r] += buf[r];
        }
    }
}

static void spmv_b8(size_t m, const uint32_t *HLF_RESTRICT block_ptr,
                    const uint16_t *HLF_RESTRICT block_col, const float *HLF_RESTRICT values,
                    const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    const uint16_t *c = block_col + block_ptr[0];
    const float *v = values + (size_t)block_ptr[0] * 8;
    for (size_t row0 = 0, b = 0; row0 < m; row0 += 8, b++) {
        size_t cnt = block_ptr[b + 1] - block_ptr[b];
        float32x4_t a0l = vdupq_n_f32(0.0f), a0h = vdupq_n_f32(0.0f);
        float32x4_t a1l = vdupq_n_f32(0.0f), a1h = vdupq_n_f32(0.0f);
        float32x4_t a2l = vdupq_n_f32(0.0f), a2h = vdupq_n_f32(0.0f);
        float32x4_t a3l = vdupq_n_f32(0.0f), a3h = vdupq_n_f32(0.0f);
        for (size_t q = cnt / 4; q != 0; q--) {
            const float32x4x4_t w01 = vld1q_f32_x4(v);
            const float32x4x4_t w23 = vld1q_f32_x4(v + 16);
            const float x0 = x[c[0]], x1 = x[c[1]], x2 = x[c[2]], x3 = x[c[3]];
            v += 32;
            c += 4;
            a0l = vfmaq_n_f32(a0l, w01.val[0], x0);
            a0h = vfmaq_n_f32(a0h, w01.val[1], x0);
            a1l = vfmaq_n_f32(a1l, w01.val[2], x1);
            a1h = vfmaq_n_f32(a1h, w01.val[3], x1);
            a2l = vfmaq_n_f32(a2l, w23.val[0], x2);
            a2h = vfmaq_n_f32(a2h, w23.val[1], x2);
            a3l = vfmaq_n_f32(a3l, w23.val[2], x3);
            a3h = vfmaq_n_f32(a3h, w23.val[3], x3);
        }
        for (cnt %= 4; cnt != 0; cnt--) {
            const float x0 = x[*c++];
            a0l = vfmaq_n_f32(a0l, vld1q_f32(v), x0);
            a0h = vfmaq_n_f32(a0h, vld1q_f32(v + 4), x0);
            v += 8;
        }
        a0l = vaddq_f32(a0l, a1l);
        a0h = vaddq_f32(a0h, a1h);
        a2l = vaddq_f32(a2l, a3l);
        a2h = vaddq_f32(a2h, a3h);
        const size_t rows = m - row0 < 8 ? m - row0 : 8;
        const float32x4_t lo = vaddq_f32(a0l, a2l), hi = vaddq_f32(a0h, a2h);
        if (rows == 8) {
            vst1q_f32(y + row0, vaddq_f32(vld1q_f32(y + row0), lo));
            vst1q_f32(y + row0 + 4, vaddq_f32(vld1q_f32(y + row0 + 4), hi));
        } else {
            add4(rows < 4 ? rows : 4, lo, y + row0);
            if (rows > 4) {
                add4(rows - 4, hi, y + row0 + 4);
            }
        }
    }
}

static void spmv_b4(size_t m, const uint32_t *HLF_RESTRICT block_ptr,
                    const uint16_t *HLF_RESTRICT block_col, const float *HLF_RESTRICT values,
                    const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    const uint16_t *c = block_col + block_ptr[0];
    const float *v = values + (size_t)block_ptr[0] * 4;
    for (size_t row0 = 0, b = 0; row0 < m; row0 += 4, b++) {
        size_t cnt = block_ptr[b + 1] - block_ptr[b];
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        float32x4_t a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
        for (size_t q = cnt / 4; q != 0; q--) {
            const float32x4x4_t w = vld1q_f32_x4(v);
            const float x0 = x[c[0]], x1 = x[c[1]], x2 = x[c[2]], x3 = x[c[3]];
            v += 16;
            c += 4;
            a0 = vfmaq_n_f32(a0, w.val[0], x0);
            a1 = vfmaq_n_f32(a1, w.val[1], x1);
            a2 = vfmaq_n_f32(a2, w.val[2], x2);
            a3 = vfmaq_n_f32(a3, w.val[3], x3);
        }
        for (cnt %= 4; cnt != 0; cnt--) {
            a0 = vfmaq_n_f32(a0, vld1q_f32(v), x[*c++]);
            v += 4;
        }
        a0 = vaddq_f32(a0, a1);
        a2 = vaddq_f32(a2, a3);
        add4(m - row0 < 4 ? m - row0 : 4, vaddq_f32(a0, a2), y + row0);
    }
}

static void spmv_generic(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                         const uint16_t *HLF_RESTRICT block_col,
                         const float *HLF_RESTRICT values, const float *HLF_RESTRICT x,
                         float *HLF_RESTRICT y) {
    for (size_t row0 = 0, b = 0; row0 < m; row0 += br, b++) {
        const size_t rows = m - row0 < br ? m - row0 : br;
        for (size_t r = 0; r < rows; r++) {
            float acc = 0.0f;
            for (size_t k = block_ptr[b]; k < block_ptr[b + 1]; k++) {
                acc += values[k * br + r] * x[block_col[k]];
            }
            y[row0 + r] += acc;
        }
    }
}

void hlf_f32_spmv_bcsr_acc(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    if (br == 8) {
        spmv_b8(m, block_ptr, block_col, values, x, y);
    } else if (br == 4) {
        spmv_b4(m, block_ptr, block_col, values, x, y);
    } else {
        spmv_generic(m, br, block_ptr, block_col, values, x, y);
    }
}
