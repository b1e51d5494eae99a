/*
 * qs8-quantize-neon.c - hlf_qs8_quantize for AArch64: max |x| with
 * FABS/FMAX (4 lanes), then FMUL by 127 / max, FCVTNS (round half to even,
 * as rintf in the portable kernel) and two saturating narrows, 16 entries at
 * a time; zero padding to HLF_QS8_PADDED(n).
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "../hlf_qkernels.h"

void hlf_qs8_quantize(size_t nv, size_t n, const float *HLF_RESTRICT x, size_t ldx,
                      int8_t *HLF_RESTRICT q, size_t ldq, float *HLF_RESTRICT scale) {
    const size_t np = HLF_QS8_PADDED(n);
    for (size_t v = 0; v < nv; v++) {
        const float *xv = x + v * ldx;
        int8_t *qv = q + v * ldq;
        float32x4_t mx = vdupq_n_f32(0.0f);
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            mx = vmaxq_f32(mx, vabsq_f32(vld1q_f32(xv + j)));
        }
        float amax = vmaxvq_f32(mx);
        for (; j < n; j++) {
            const float a = fabsf(xv[j]);
            amax = a > amax ? a : amax;
        }
        if (amax == 0.0f) {
            scale[v] = 0.0f;
            memset(qv, 0, np);
            continue;
        }
        const float inv = 127.0f / amax;
        scale[v] = amax / 127.0f;
        j = 0;
        for (; j + 16 <= n; j += 16) {
            const int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xv + j), inv));
            const int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xv + j + 4), inv));
            const int32x4_t q2 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xv + j + 8), inv));
            const int32x4_t q3 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(xv + j + 12), inv));
            const int16x8_t h01 = vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1));
            const int16x8_t h23 = vcombine_s16(vqmovn_s32(q2), vqmovn_s32(q3));
            vst1q_s8(qv + j, vcombine_s8(vqmovn_s16(h01), vqmovn_s16(h23)));
        }
        for (; j < n; j++) {
            qv[j] = (int8_t)vcvtns_s32_f32(xv[j] * inv);
        }
        memset(qv + n, 0, np - n);
    }
}
