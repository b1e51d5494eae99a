/*
 * hlf_activations.h - the ONNX RNN activation functions, in place over a
 * vector: x[i] = f(x[i]) for i < n.
 *
 * All share one signature, hlf_f32_v<name>(n, x, alpha, beta), so the
 * generator can emit any of them; functions without parameters ignore alpha
 * and beta.  Formulas are the ONNX LSTM/GRU/RNN specification's list.
 *
 * Every loop vectorizes (branch-free C; no libm call inside) except
 * Softplus, which calls log1pf/expf.  GCC needs -fno-trapping-math for it
 * (the generated CMakeLists.txt sets it): otherwise it will not turn the
 * selects on float comparisons into vector blends.  Sigmoid, tanh, ScaledTanh and Elu use
 * the polynomial e^t below (NEON intrinsics for sigmoid and tanh when
 * HLF_USE_NEON is defined: hlf_activations_neon.h).
 *
 * Error against libm in double precision, measured by tests/test_activations.py
 * over [-100, 100] plus +-0, subnormals, +-3e38, +-inf (host gcc/clang and
 * aarch64 portable/NEON under qemu; absolute where |f| <= 1, else relative):
 *   Sigmoid 6.3e-8, Tanh 1.5e-7, ScaledTanh 1.3e-7 (alpha 0.7), Elu 5.1e-8,
 *   Softplus 4.8e-7, HardSigmoid 5.4e-8, Softsign 8.8e-8; the piecewise-linear
 *   ones within float rounding of alpha*x.  NaN gives NaN except for Relu and
 *   ThresholdedRelu, which give 0 (onnxruntime does the same).
 */
#ifndef HLF_ACTIVATIONS_H
#define HLF_ACTIVATIONS_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hlf_kernels.h"

/*
 * Portable sigmoid, tanh and e^t - 1: the algorithm of hlf_activations_neon.h
 * written branch-free in scalar C, so compilers vectorize the loops (no libm
 * call inside).  e^t for t <= 0: t = n*ln2 + r, |r| <= ln2/2, e^r - 1 by a
 * degree-6 polynomial, 2^n built in the exponent field.  Same accuracy as the
 * NEON version: max abs error 7.1e-8 (sigmoid), 1.5e-7 (tanh).
 */
#define HLF_LOG2E 0x1.715476p+0f
/* ln(2) = HLF_LN2_HI + HLF_LN2_LO with HI short (9 significant bits), so
 * n*HI is exact for |n| < 2^15 even where the compiler does not fuse the
 * multiply-subtract (Cody-Waite, constants as in Cephes). */
#define HLF_LN2_HI 0.693359375f
#define HLF_LN2_LO -2.12194440e-4f
#define HLF_EXPM1_C2 0x1.fffffep-2f
#define HLF_EXPM1_C3 0x1.5554b0p-3f
#define HLF_EXPM1_C4 0x1.555674p-5f
#define HLF_EXPM1_C5 0x1.122768p-7f
#define HLF_EXPM1_C6 0x1.6bec08p-10f
#define HLF_ROUND_MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */
#define HLF_SIGMOID_CUTOFF 0x1.5d589ep+6f /* 87.33654: beyond, sigmoid(-|x|) < FLT_MIN */
#define HLF_TANH_SAT 9.5f                 /* |tanh(x)| rounds to 1 from here on */

/* For t in [-87.34, 0]: *s = 2^n, return e^r - 1, with t = n*ln2 + r. */
static inline float hlf_exp_split(float t, float *s) {
    const float n = (t * HLF_LOG2E + HLF_ROUND_MAGIC) - HLF_ROUND_MAGIC;
    float r = t - n * HLF_LN2_HI;
    r = r - n * HLF_LN2_LO;
    const int32_t bits = ((int32_t)n + 127) << 23;
    memcpy(s, &bits, sizeof bits);
    float p = HLF_EXPM1_C5 + r * HLF_EXPM1_C6;
    p = HLF_EXPM1_C4 + r * p;
    p = HLF_EXPM1_C3 + r * p;
    p = HLF_EXPM1_C2 + r * p;
    return r + (r * r) * p;
}

/* e^t - 1 for t <= 0 (Elu); -1 below -87.3 where e^t < FLT_MIN. */
static inline float hlf_expm1_neg(float t) {
    const float z = t > -HLF_SIGMOID_CUTOFF ? t : -HLF_SIGMOID_CUTOFF; /* NaN -> cutoff */
    float s;
    const float pm1 = hlf_exp_split(z, &s);
    const float em1 = (s - 1.0f) + s * pm1;
    return t != t ? t : em1;
}

static inline float hlf_sigmoid_poly(float x) {
    const float z = fabsf(x) < HLF_SIGMOID_CUTOFF ? fabsf(x) : HLF_SIGMOID_CUTOFF; /* NaN -> cutoff */
    float s;
    const float pm1 = hlf_exp_split(-z, &s);
    const float e = s + s * pm1;
    float f = e / (1.0f + e);
    f = fabsf(x) > HLF_SIGMOID_CUTOFF ? 0.0f : f;
    f = x != x ? x : f; /* NaN stays NaN */
    /* Both arms computed, then a select: branch-free for the vectorizer. */
    const float one_minus_f = 1.0f - f;
    return x < 0.0f ? f : one_minus_f;
}

static inline float hlf_tanh_poly(float x) {
    const float z = fabsf(x) < HLF_TANH_SAT ? fabsf(x) : HLF_TANH_SAT; /* NaN -> SAT */
    float s;
    const float pm1 = hlf_exp_split(-2.0f * z, &s);
    const float em1 = (s - 1.0f) + s * pm1;
    const float t = -em1 / (2.0f + em1);
    return x != x ? x : copysignf(t, x); /* NaN stays NaN */
}

/* Softplus(x) = log(1 + e^x), stable for large |x| */
static inline float hlf_softplus(float x) {
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

#define HLF_ACT_LOOP(expr)                 \
    for (size_t i = 0; i < n; i++) {       \
        const float v = x[i];              \
        x[i] = (expr);                     \
    }                                      \
    (void)alpha;                           \
    (void)beta

/* Relu(x) = max(0, x) */
static inline void hlf_f32_vrelu(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(v > 0.0f ? v : 0.0f);
}

/* Affine(x) = alpha*x + beta */
static inline void hlf_f32_vaffine(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(alpha * v + beta);
}

/* LeakyRelu(x) = x if x >= 0 else alpha*x */
static inline void hlf_f32_vleakyrelu(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(v >= 0.0f ? v : alpha * v);
}

/* ThresholdedRelu(x) = x if x >= alpha else 0 */
static inline void hlf_f32_vthresholdedrelu(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(v >= alpha ? v : 0.0f);
}

/* ScaledTanh(x) = alpha*Tanh(beta*x) */
static inline void hlf_f32_vscaledtanh(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(alpha * hlf_tanh_poly(beta * v));
}

/* HardSigmoid(x) = min(max(alpha*x + beta, 0), 1) */
static inline float hlf_hardsigmoid(float x, float alpha, float beta) {
    const float y = alpha * x + beta;
    return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
}

static inline void hlf_f32_vhardsigmoid(size_t n, float *x, float alpha, float beta) {
    /* ternaries, not fminf/fmaxf: NaN propagates, as in onnxruntime */
    HLF_ACT_LOOP(hlf_hardsigmoid(v, alpha, beta));
}

/* Elu(x) = x if x >= 0 else alpha*(e^x - 1) */
static inline float hlf_elu(float x, float alpha) {
    const float neg = alpha * hlf_expm1_neg(x >= 0.0f ? 0.0f : x); /* both arms computed, then a select; NaN stays NaN */
    return x >= 0.0f ? x : neg;
}

static inline void hlf_f32_velu(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_elu(v, alpha));
}

/* Softsign(x) = x/(1 + |x|); +-1 from 2^24 on (also for +-inf, where the
 * quotient would be NaN) */
#define HLF_SOFTSIGN_SAT 16777216.0f
static inline float hlf_softsign(float x) {
    const float q = x / (1.0f + fabsf(x)); /* both arms computed, then a select */
    return fabsf(x) >= HLF_SOFTSIGN_SAT ? copysignf(1.0f, x) : q;
}
static inline void hlf_f32_vsoftsign(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_softsign(v));
}

/* Softplus(x) = log(1 + e^x) */
static inline void hlf_f32_vsoftplus(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_softplus(v));
}

/* Sigmoid and tanh out of line (kernels/f32-vact-<isa>.c): what the run-time
 * dispatched build calls, one copy per instruction set. */
void hlf_f32_sigmoid(size_t n, float *x, float alpha, float beta);
void hlf_f32_tanh(size_t n, float *x, float alpha, float beta);

#if defined(HLF_USE_NEON)
#include "hlf_activations_neon.h"
#elif defined(HLF_DISPATCH)
/* A run-time dispatched x86-64 build (hlf_dispatch.h): sigmoid and tanh, the
 * costly ones, are the functions below compiled per instruction set
 * (kernels/f32-vact-scalar.c), called through hlf_dispatch.c. */
static inline void hlf_f32_vsigmoid(size_t n, float *x, float alpha, float beta) {
    hlf_f32_sigmoid(n, x, alpha, beta);
}

static inline void hlf_f32_vtanh(size_t n, float *x, float alpha, float beta) {
    hlf_f32_tanh(n, x, alpha, beta);
}
#else
/* Sigmoid(x) = 1/(1 + e^-x) */
static inline void hlf_f32_vsigmoid(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_sigmoid_poly(v));
}

/* Tanh(x) */
static inline void hlf_f32_vtanh(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_tanh_poly(v));
}
#endif

#endif /* HLF_ACTIVATIONS_H */
