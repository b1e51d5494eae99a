/*
 * hlf_activations_neon.h - AArch64 NEON sigmoid and tanh, 4 lanes at a time.
 * Included by hlf_activations.h when HLF_USE_NEON is defined; defines
 * hlf_f32_vsigmoid and hlf_f32_vtanh with the portable versions' signature
 * (alpha and beta are ignored), plus the per-register helpers
 * hlf_neon_sigmoid_f32x4 / hlf_neon_tanh_f32x4 for fused generated code.
 *
 * Method (no table, no libm):
 *   e^t for t <= 0:  t = n*ln2 + r, n = round(t/ln2), |r| <= ln2/2 (Cody-Waite
 *   two-constant reduction with FMA); e^r - 1 = r + r^2*P(r), P a degree-4
 *   minimax polynomial (max relative error 1.7e-8 with float coefficients);
 *   2^n built in the exponent field.
 *   sigmoid(x): z = |x|, e = e^-z = 2^n + 2^n*(e^r - 1),  f = e/(1 + e)
 *               (IEEE division), sigmoid = f for x < 0, 1 - f otherwise.
 *   tanh(x):    z = min(|x|, 9.5), em1 = e^-2z - 1 = (2^n - 1) + 2^n*(e^r - 1),
 *               tanh = -em1/(2 + em1), sign copied from x.  Computing e^-2z - 1
 *               directly (not 1 - e^-2z) keeps small |x| accurate relative to
 *               the result: tanh(x) == x for subnormal x.
 *
 * Special values (all covered by tests/test_neon_kernels.py):
 *   sigmoid(+-0) = 0.5, sigmoid(+inf) = 1, sigmoid(-inf) = +0, sigmoid(NaN) = NaN;
 *   sigmoid(x) = 0 for x < -87.33654 (the exact result is below FLT_MIN:
 *   results are not produced as subnormals), sigmoid(x) = 1 for x > 17.33
 *   (the float nearest to the exact result is 1).
 *   tanh(+-0) = +-0, tanh(+-inf) = +-1, tanh(NaN) = NaN, tanh(x) = x for
 *   subnormal x, |tanh(x)| = 1 for |x| >= 9.5.
 * Subnormal inputs are handled exactly as long as the FPCR does not flush to
 * zero (the AArch64 Linux default).
 *
 * Measured accuracy against float64 (qemu-aarch64; every 64th float bit
 * pattern with |x| <= 100, both signs = 35M inputs, plus the special values;
 * tests/test_neon_kernels.py re-checks 2^21 points on every run):
 *   sigmoid: max abs error 7.1e-8; max relative error 1.7e-7 (2.4 ulp)
 *            wherever sigmoid(x) >= FLT_MIN
 *   tanh:    max abs error 1.5e-7; max relative error 1.8e-7 (2.5 ulp)
 *            wherever |tanh(x)| >= FLT_MIN
 * The portable libm versions in hlf_activations.h measure 8.9e-8 / 1.0e-7
 * max abs error by the same test.
 */
#ifndef HLF_ACTIVATIONS_NEON_H
#define HLF_ACTIVATIONS_NEON_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <arm_neon.h>
#include <stddef.h>

/* log2(e); ln(2) = HLF_NEON_LN2_HI + HLF_NEON_LN2_LO, HI = ln(2) rounded to
 * float.  For |t| <= 87.4, t - n*HI by one fused multiply-subtract is exact:
 * t and n*HI are multiples of 2^-25 and their difference is below 1/2. */
#define HLF_NEON_LOG2E 0x1.715476p+0f
#define HLF_NEON_LN2_HI 0x1.62e430p-1f
#define HLF_NEON_LN2_LO -0x1.05c610p-29f

/* e^r - 1 = r + r^2 * (C2 + C3 r + C4 r^2 + C5 r^3 + C6 r^4), |r| <= ln2/2. */
#define HLF_NEON_EXPM1_C2 0x1.fffffep-2f
#define HLF_NEON_EXPM1_C3 0x1.5554b0p-3f
#define HLF_NEON_EXPM1_C4 0x1.555674p-5f
#define HLF_NEON_EXPM1_C5 0x1.122768p-7f
#define HLF_NEON_EXPM1_C6 0x1.6bec08p-10f

/* Exponent bias of binary32 and the position of its exponent field. */
#define HLF_NEON_F32_EXP_BIAS 127
#define HLF_NEON_F32_MANT_BITS 23

/* |x| above which sigmoid(-|x|) < FLT_MIN: ln(2^-126).  The reduction needs
 * n >= -126, which holds up to here. */
#define HLF_NEON_SIGMOID_CUTOFF 0x1.5d589ep+6f /* 87.33654 */

/* |x| from which tanh(x) rounds to +-1 (exactly: above 9.011). */
#define HLF_NEON_TANH_SAT 9.5f

/*
 * For t in [-87.34, 0] (or NaN): *s = 2^n and *pm1 = e^r - 1 with
 * t = n*ln2 + r, so that e^t = s + s*pm1 and e^t - 1 = (s - 1) + s*pm1.
 */
static inline void hlf_neon_exp_split(float32x4_t t, float32x4_t *s, float32x4_t *pm1) {
    /* n = round(t / ln2); r = t - n*ln2 in two steps (the first is exact). */
    const float32x4_t n = vrndnq_f32(vmulq_f32(t, vdupq_n_f32(HLF_NEON_LOG2E)));
    float32x4_t r = vfmsq_f32(t, n, vdupq_n_f32(HLF_NEON_LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(HLF_NEON_LN2_LO));

    /* 2^n: (n + bias) in the exponent field (n in [-126, 0] here). */
    const int32_t bias = HLF_NEON_F32_EXP_BIAS;
    const int32x4_t biased = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(bias));
    *s = vreinterpretq_f32_s32(vshlq_n_s32(biased, HLF_NEON_F32_MANT_BITS));

    /* e^r - 1 = r + r^2 * P(r), P by Horner. */
    float32x4_t p = vfmaq_f32(vdupq_n_f32(HLF_NEON_EXPM1_C5), r, vdupq_n_f32(HLF_NEON_EXPM1_C6));
    p = vfmaq_f32(vdupq_n_f32(HLF_NEON_EXPM1_C4), r, p);
    p = vfmaq_f32(vdupq_n_f32(HLF_NEON_EXPM1_C3), r, p);
    p = vfmaq_f32(vdupq_n_f32(HLF_NEON_EXPM1_C2), r, p);
    *pm1 = vfmaq_f32(r, vmulq_f32(r, r), p);
}

/* Sigmoid(x) = 1/(1 + e^-x) of four lanes. */
static inline float32x4_t hlf_neon_sigmoid_f32x4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);

    /* e = e^-|x| (garbage beyond the cutoff: cleared below). */
    float32x4_t s, pm1;
    hlf_neon_exp_split(vnegq_f32(vabsq_f32(x)), &s, &pm1);
    const float32x4_t e = vfmaq_f32(s, s, pm1);

    /* f = sigmoid(-|x|) = e/(1 + e); +0 where |x| > cutoff (incl. inf).  A
     * NaN compares false and stays NaN. */
    float32x4_t f = vdivq_f32(e, vaddq_f32(one, e));
    const uint32x4_t beyond = vcagtq_f32(x, vdupq_n_f32(HLF_NEON_SIGMOID_CUTOFF));
    f = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(f), beyond));

    /* sigmoid(x) = f for x < 0, 1 - f for x >= 0 (and NaN). */
    return vbslq_f32(vcltzq_f32(x), f, vsubq_f32(one, f));
}

/* Tanh(x) of four lanes. */
static inline float32x4_t hlf_neon_tanh_f32x4(float32x4_t x) {
    /* z = min(|x|, saturation); FMIN keeps a NaN. */
    const float32x4_t z = vminq_f32(vabsq_f32(x), vdupq_n_f32(HLF_NEON_TANH_SAT));

    /* em1 = e^-2z - 1. */
    float32x4_t s, pm1;
    hlf_neon_exp_split(vmulq_f32(z, vdupq_n_f32(-2.0f)), &s, &pm1);
    const float32x4_t em1 = vfmaq_f32(vsubq_f32(s, vdupq_n_f32(1.0f)), s, pm1);

    /* tanh(z) = -em1/(2 + em1) = (1 - e^-2z)/(1 + e^-2z). */
    const float32x4_t t = vdivq_f32(vnegq_f32(em1), vaddq_f32(vdupq_n_f32(2.0f), em1));

    /* Sign of x (also gives tanh(-0) = -0). */
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    return vbslq_f32(sign, x, t);
}

/* Applies f to x[0:n] in place; the last n % 4 go through a padded register. */
#define HLF_NEON_ACT_LOOP(f)                        \
    size_t i = 0;                                   \
    for (; i + 4 <= n; i += 4) {                    \
        vst1q_f32(x + i, f(vld1q_f32(x + i)));      \
    }                                               \
    if (i < n) {                                    \
        float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};    \
        for (size_t k = 0; i + k < n; k++) {        \
            buf[k] = x[i + k];                      \
        }                                           \
        vst1q_f32(buf, f(vld1q_f32(buf)));          \
        for (size_t k = 0; i + k < n; k++) {        \
            x[i + k] = buf[k];                      \
        }                                           \
    }                                               \
    (void)alpha;                                    \
    (void)beta

/* Sigmoid(x) = 1/(1 + e^-x) */
static inline void hlf_f32_vsigmoid(size_t n, float *x, float alpha, float beta) {
    HLF_NEON_ACT_LOOP(hlf_neon_sigmoid_f32x4);
}

/* Tanh(x) */
static inline void hlf_f32_vtanh(size_t n, float *x, float alpha, float beta) {
    HLF_NEON_ACT_LOOP(hlf_neon_tanh_f32x4);
}

#endif /* HLF_ACTIVATIONS_NEON_H */
