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

#if defined(__F16C__)
#include <immintrin.h>
#define HLF_F16_HW 1 /* VCVTPH2PS */
#elif defined(__AVX512F__)
#include <immintrin.h>
#endif

static inline float hlf_f16_to_f32(uint16_t h) {
#ifdef HLF_F16_HW
    return _cvtsh_ss(h);
#else
    const uint32_t mag = (uint32_t)(h & 0x7fffu) << 13;
    float f;
    memcpy(&f, &mag, sizeof f);
    f *= HLF_F16_BIAS_FIX;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits |= (uint32_t)(h & 0x8000u) << 16;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

#ifdef HLF_HAVE_VEC
typedef uint16_t hlf_hvec __attribute__((vector_size(HLF_VW * sizeof(uint16_t))));
typedef uint32_t hlf_uvec __attribute__((vector_size(HLF_VW * sizeof(uint32_t))));

/*
 * HLF_VW halves at p (unaligned) as one float vector: one VCVTPH2PS with F16C
 * (or AVX-512F for 16 halves).  Otherwise the bit arithmetic above on the
 * sign-extended half: (int32)(int16)h << 13 has h's exponent and fraction in
 * place and its sign in bit 31 (bits 28-30 copies of it, masked off), and the
 * multiply by 2^112 keeps the sign - four instructions instead of seven.
 */
static inline hlf_vec hlf_f16_load(const uint16_t *p) {
#if defined(__AVX512F__) && HLF_VW == 16
    return (hlf_vec)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p));
#elif defined(HLF_F16_HW) && HLF_VW == 8
    return (hlf_vec)_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
#elif defined(HLF_F16_HW) && HLF_VW == 4
    return (hlf_vec)_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(const void *)p));
#else
    typedef int16_t hvec_s __attribute__((vector_size(HLF_VW * sizeof(int16_t))));
    typedef int32_t ivec_s __attribute__((vector_size(HLF_VW * sizeof(int32_t))));
    hvec_s h;
    memcpy(&h, p, sizeof h);
    const hlf_uvec bits = ((hlf_uvec)__builtin_convertvector(h, ivec_s) << 13) & 0x8fffe000u;
    hlf_vec f;
    memcpy(&f, &bits, sizeof f);
    return f * HLF_F16_BIAS_FIX;
#endif
}
#endif

/*
 * y[0:r] += A . x for the short last panel of a packed fp16 matrix (the m % HLF_NR
 * rows, r < HLF_NR): r halves per column, no padding (hlf_qkernels.h).  One
 * multiply-add chain per row over j = 0..n-1; with vectors, rows four at a time
 * (the same chain per row).
 */
static inline void hlf_f16_short_panel_acc(size_t r, size_t n, const uint16_t *a, const float *x, float *y) {
    size_t i0 = 0;
#ifdef HLF_HAVE_VEC
    const size_t r4 = r / 4 * 4;
    if (r4 > 0) {
        hlf_vec4 acc[HLF_NR / 4];
        for (size_t g = 0; g < r4 / 4; g++) {
            acc[g] = (hlf_vec4){0};
        }
        for (size_t j = 0; j < n; j++) {
            const float xj = x[j];
            for (size_t g = 0; g < r4 / 4; g++) {
                hlf_vec4 w;
#ifdef HLF_F16_HW
                w = (hlf_vec4)_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(const void *)(a + j * r + 4 * g)));
#else
                typedef uint16_t hvec4 __attribute__((vector_size(4 * sizeof(uint16_t))));
                typedef uint32_t uvec4 __attribute__((vector_size(4 * sizeof(uint32_t))));
                hvec4 h;
                memcpy(&h, a + j * r + 4 * g, sizeof h);
                const uvec4 u = __builtin_convertvector(h, uvec4);
                const uvec4 mag = (u & 0x7fffu) << 13;
                memcpy(&w, &mag, sizeof w);
                w *= HLF_F16_BIAS_FIX;
                uvec4 bits;
                memcpy(&bits, &w, sizeof bits);
                bits |= (u & 0x8000u) << 16;
                memcpy(&w, &bits, sizeof w);
#endif
                acc[g] += w * xj;
            }
        }
        for (size_t g = 0; g < r4 / 4; g++) {
            for (int k = 0; k < 4; k++) {
                y[4 * g + (size_t)k] += acc[g][k];
            }
        }
        i0 = r4;
    }
#endif
    float acc[HLF_NR] = {0};
    for (size_t j = 0; j < n; j++) {
        for (size_t i = i0; i < r; i++) {
            acc[i] += hlf_f16_to_f32(a[j * r + i]) * x[j];
        }
    }
    for (size_t i = i0; i < r; i++) {
        y[i] += acc[i];
    }
}

#endif /* HLF_F16_H */
