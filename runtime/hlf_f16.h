/*
 * hlf_f16.h - IEEE binary16 -> binary32 conversion for the portable fp16
 * kernels (kernels/f16-*-scalar.c); internal to them.
 *
 * A half h = s | e(5) | f(10) with e < 31 (the weights are finite:
 * hlfgen/quant.py checks) is exactly float_bits((h & 0x7fff) << 13) * 2^112,
 * with the sign bit OR-ed in: the shift puts e and f in place with the
 * exponent bias 15 instead of 127, and the multiply by 2^(127-15) fixes the
 * bias (exact, also for subnormal halves, which become subnormal floats
 * first and normal ones after the multiply).  Shift, AND, multiply and OR
 * vectorize on every SIMD ISA; the result is the same as FCVTL's.
 */
#ifndef HLF_F16_H
#define HLF_F16_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stdint.h>
#include <string.h>

#include "hlf_vec.h"

#define HLF_F16_BIAS_FIX 0x1p112f /* 2^(127 - 15) */

static inline float hlf_f16_to_f32(uint16_t h) {
    const uint32_t mag = (uint32_t)(h & 0x7fffu) << 13;
    float f;
    memcpy(&f, &mag, sizeof f);
    f *= HLF_F16_BIAS_FIX;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits |= (uint32_t)(h & 0x8000u) << 16;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/*
 * y[0:r] += A . x for the short last panel of a packed fp16 matrix (the m % HLF_NR
 * rows, r < HLF_NR): r halves per column, no padding (hlf_qkernels.h).
 */
static inline void hlf_f16_short_panel_acc(size_t r, size_t n, const uint16_t *a, const float *x, float *y) {
    float acc[HLF_NR] = {0};
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < r; i++) {
            acc[i] += hlf_f16_to_f32(a[j * r + i]) * x[j];
        }
    }
    for (size_t i = 0; i < r; i++) {
        y[i] += acc[i];
    }
}

#ifdef HLF_HAVE_VEC
typedef uint16_t hlf_hvec __attribute__((vector_size(HLF_VW * sizeof(uint16_t))));
typedef uint32_t hlf_uvec __attribute__((vector_size(HLF_VW * sizeof(uint32_t))));

/* HLF_VW halves at p (unaligned) as one float vector. */
static inline hlf_vec hlf_f16_load(const uint16_t *p) {
    hlf_hvec h;
    memcpy(&h, p, sizeof h);
    const hlf_uvec u = __builtin_convertvector(h, hlf_uvec);
    const hlf_uvec mag = (u & 0x7fffu) << 13;
    hlf_vec f;
    memcpy(&f, &mag, sizeof f);
    f *= HLF_F16_BIAS_FIX;
    hlf_uvec bits;
    memcpy(&bits, &f, sizeof bits);
    bits |= (u & 0x8000u) << 16;
    memcpy(&f, &bits, sizeof f);
    return f;
}
#endif

#endif /* HLF_F16_H */
