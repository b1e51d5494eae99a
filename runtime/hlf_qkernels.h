/*
 * hlf_qkernels.h - matrix kernels on quantized weights (hlfgen build
 * --quantize fp16|int8; hlfgen/quant.py packs the weights).
 *
 * fp16 (storage only): IEEE binary16 weights in exactly the fp32 panel layout
 * of hlf_kernels.h (panels of HLF_NR rows, column after column), read as
 * uint16_t bit patterns, widened to fp32 in registers (FCVTL/FCVTL2 on
 * AArch64; VCVTPH2PS on x86 with F16C, else integer bit arithmetic, in the
 * portable kernels, hlf_f16.h) and multiplied in
 * fp32.  The Cortex-A73 (ARMv8.0) has no FP16 arithmetic; the conversion is
 * exact, so only the rounding of the weights to fp16 differs from fp32.
 *
 * int8 ("qs8"): symmetric weights q in [-127, 127] with one fp32 scale per
 * row (A[r][j] ~ scale[r] * q[r][j]).  Panels of HLF_NR rows as above, but
 * inside a panel the weights are stored in cells of HLF_QS8_KC = 16 columns:
 * cell k holds, row after row, the 16 weights q[r][16k .. 16k+15] (128 bytes
 * for 8 rows), columns past n zero.  Element (i, j) of an m x n matrix is at
 *   (i / HLF_NR) * HLF_NR * HLF_QS8_PADDED(n)       panel
 *   + (j / 16) * HLF_NR * 16 + (i % HLF_NR) * 16 + j % 16.
 * This is gemmlowp/ruy's depth-major cell: the NEON kernel multiplies 16
 * weights of one row by 16 entries of x with SMULL + SMLAL2 (two int8
 * products summed in int16: |sum| <= 2 * 127 * 127 = 32258 fits, which is
 * why -128 is excluded) and SADALP into int32, 0.25 instructions per MAC
 * before loads (see kernels/qs8-gemv-acc-neon.c for the measurement).
 * The vector a kernel reads is quantized per call (hlf_qs8_quantize): one
 * scale per vector, entries q in [-127, 127], zero-padded to HLF_QS8_PADDED(n).
 */
#ifndef HLF_QKERNELS_H
#define HLF_QKERNELS_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "hlf_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Columns per int8 cell, and n rounded up to whole cells. */
#define HLF_QS8_KC 16
#define HLF_QS8_PADDED(n) ((((n) + HLF_QS8_KC - 1) / HLF_QS8_KC) * HLF_QS8_KC)
/* Bytes of a packed int8 m x n matrix; floats of its row scales. */
#define HLF_QS8_PACKED_SIZE(m, n) ((((m) + HLF_NR - 1) / HLF_NR) * HLF_NR * HLF_QS8_PADDED(n))
#define HLF_QS8_SCALES_SIZE(m) ((((m) + HLF_NR - 1) / HLF_NR) * HLF_NR)

/* y[0:m] += A . x[0:n], A fp16 (HLF_F32_PACKED_SIZE(m, n) halves: the fp32 layout, unpadded). */
void hlf_f16_gemv_acc(size_t m, size_t n, const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y);

/* For v = 0..nv-1: y[v*ldy + 0:m] += A . x[v*ldx + 0:n], A fp16. */
void hlf_f16_gemm_acc(size_t nv, size_t m, size_t n,
                      const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy);

/*
 * Dynamic symmetric quantization of nv vectors x[v*ldx + 0:n]:
 *   scale[v] = max_j |x_v[j]| / 127 (0 for an all-zero vector),
 *   q[v*ldq + j] = round_half_even(x_v[j] * (127 / max_j |x_v[j]|)),
 *   q[v*ldq + n .. HLF_QS8_PADDED(n)) = 0;   ldq >= HLF_QS8_PADDED(n).
 * x must be finite.
 */
void hlf_qs8_quantize(size_t nv, size_t n, const float *HLF_RESTRICT x, size_t ldx,
                      int8_t *HLF_RESTRICT q, size_t ldq, float *HLF_RESTRICT scale);

/*
 * y[0:m] += (a_scale[r] * x_scale) * sum_j A[r][j] * xq[j]
 * A int8 packed (HLF_QS8_PACKED_SIZE(m, n) bytes), a_scale its row scales,
 * xq HLF_QS8_PADDED(n) entries (hlf_qs8_quantize); int32 accumulation.
 */
void hlf_qs8_gemv_acc(size_t m, size_t n, const int8_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      float x_scale, float *HLF_RESTRICT y);

/* For v = 0..nv-1: the GEMV on xq[v*ldq ..] with scale x_scale[v] into y[v*ldy ..]. */
void hlf_qs8_gemm_acc(size_t nv, size_t m, size_t n, const int8_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      size_t ldq, const float *HLF_RESTRICT x_scale,
                      float *HLF_RESTRICT y, size_t ldy);

/*
 * onnxruntime's dynamic uint8 quantization (DynamicQuantizeLSTM, hlfgen/qlower.py), for the int8
 * kernels: one scale and zero point for all nv x n entries of x,
 *   range [min(x, 0), max(x, 0)], scale = range / 255 (1 for an all-zero x),
 *   zp = round_half_even(clamp(-min / scale, 0, 255)),
 *   u = clamp(round_half_even(x / scale) + zp, 0, 255),
 * stored as q = u - 128 (int8; rows ldq apart, zero-padded to HLF_QS8_PADDED(n)); scale[0..nv) = scale,
 * *off = zp - 128, so x ~ scale * (q - *off).  O(nv n): inline.
 */
static inline void hlf_qu8_quantize(size_t nv, size_t n, const float *HLF_RESTRICT x, size_t ldx,
                                    int8_t *HLF_RESTRICT q, size_t ldq, float *HLF_RESTRICT scale,
                                    float *HLF_RESTRICT off) {
    float lo = 0.0f, hi = 0.0f;
    for (size_t v = 0; v < nv; v++) {
        for (size_t j = 0; j < n; j++) {
            const float e = x[v * ldx + j];
            lo = e < lo ? e : lo;
            hi = e > hi ? e : hi;
        }
    }
    const float s = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    float zf = 0.0f - lo / s;
    zf = zf < 0.0f ? 0.0f : zf > 255.0f ? 255.0f : zf;
    const float zp = nearbyintf(zf);
    for (size_t v = 0; v < nv; v++) {
        for (size_t j = 0; j < n; j++) {
            float t = x[v * ldx + j] / s;
            t = t < -zp ? -zp : t > 255.0f - zp ? 255.0f - zp : t;
            q[v * ldq + j] = (int8_t)((int)nearbyintf(t) + (int)zp - 128);
        }
        for (size_t j = n; j < HLF_QS8_PADDED(n); j++) {
            q[v * ldq + j] = 0;
        }
        scale[v] = s;
    }
    *off = zp - 128.0f;
}

/* y[v*ldy + r] += k * c[r] for v < nv, r < m: the zero point's term of hlf_qu8_quantize'd inputs
 * (c[r] = weight scale of row r times the row's sum of weights, k = -scale * off). */
static inline void hlf_qs8_offset_acc(size_t nv, size_t m, const float *HLF_RESTRICT c, float k,
                                      float *HLF_RESTRICT y, size_t ldy) {
    for (size_t v = 0; v < nv; v++) {
        for (size_t r = 0; r < m; r++) {
            y[v * ldy + r] += k * c[r];
        }
    }
}

#ifdef __cplusplus
}
#endif

#endif /* HLF_QKERNELS_H */
