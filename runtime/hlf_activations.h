/*
 * hlf_activations.h - the ONNX RNN activation functions, in place over a
 * vector: x[i] = f(x[i]) for i < n.
 *
 * All share one signature, hlf_f32_v<name>(n, x, alpha, beta), so the
 * generator can emit any of them; functions without parameters ignore alpha
 * and beta.  Formulas are the ONNX LSTM/GRU/RNN specification's list.
 *
 * The portable versions use libm (expf, tanhf, log1pf): correctly rounded to
 * about 1 ulp.  On AArch64 with NEON, hlf_activations_neon.h (included below
 * when HLF_USE_NEON is defined) replaces the hot ones (sigmoid, tanh) with
 * vectorized versions whose maximum error is documented there.
 */
#ifndef HLF_ACTIVATIONS_H
#define HLF_ACTIVATIONS_H

#include <math.h>
#include <stddef.h>

#include "hlf_kernels.h"

/* Sigmoid(x) = 1 / (1 + e^-x) */
static inline float hlf_sigmoid(float x) {
    /* Both branches avoid overflow of expf for large |x|. */
    if (x >= 0.0f) {
        return 1.0f / (1.0f + expf(-x));
    } else {
        const float e = expf(x);
        return e / (1.0f + e);
    }
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
    HLF_ACT_LOOP(alpha * tanhf(beta * v));
}

/* HardSigmoid(x) = min(max(alpha*x + beta, 0), 1) */
static inline void hlf_f32_vhardsigmoid(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(fminf(fmaxf(alpha * v + beta, 0.0f), 1.0f));
}

/* Elu(x) = x if x >= 0 else alpha*(e^x - 1) */
static inline void hlf_f32_velu(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(v >= 0.0f ? v : alpha * expm1f(v));
}

/* Softsign(x) = x/(1 + |x|) */
static inline void hlf_f32_vsoftsign(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(v / (1.0f + fabsf(v)));
}

/* Softplus(x) = log(1 + e^x) */
static inline void hlf_f32_vsoftplus(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_softplus(v));
}

#if defined(HLF_USE_NEON)
#include "hlf_activations_neon.h"
#else
/* Sigmoid(x) = 1/(1 + e^-x) */
static inline void hlf_f32_vsigmoid(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(hlf_sigmoid(v));
}

/* Tanh(x) */
static inline void hlf_f32_vtanh(size_t n, float *x, float alpha, float beta) {
    HLF_ACT_LOOP(tanhf(v));
}
#endif

#endif /* HLF_ACTIVATIONS_H */
