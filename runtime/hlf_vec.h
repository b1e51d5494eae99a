/*
 * hlf_vec.h - the portable kernels' SIMD vector type (GCC/clang vector
 * extension), sized to the target's native registers.
 *
 * A packed panel column holds HLF_NR floats (hlf_kernels.h).  A vector type
 * of HLF_NR floats wider than the hardware's registers (16 floats without
 * AVX-512) has no machine mode: GCC keeps it in memory and the kernels run
 * several times slower.  So a panel column is HLF_VPP vectors of HLF_VW
 * floats, HLF_VW the widest the compiler targets (and at most HLF_NR):
 *   AVX-512F: 16, AVX: 8, otherwise (SSE2, NEON, ...): 4.
 * Internal to the portable kernels (the kernels/f32-*-scalar.c files).
 */
#ifndef HLF_VEC_H
#define HLF_VEC_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <string.h>

#include "hlf_kernels.h"

#if defined(__GNUC__) || defined(__clang__)
#define HLF_HAVE_VEC 1

#if defined(__AVX512F__)
#define HLF_VW_NATIVE 16
#elif defined(__AVX__)
#define HLF_VW_NATIVE 8
#else
#define HLF_VW_NATIVE 4
#endif

/* Floats per vector, and vectors per panel column. */
#define HLF_VW (HLF_NR < HLF_VW_NATIVE ? HLF_NR : HLF_VW_NATIVE)
#define HLF_VPP (HLF_NR / HLF_VW)

#if HLF_NR % 4 != 0
#error "the portable vector kernels need HLF_NR to be a multiple of 4"
#endif

typedef float hlf_vec __attribute__((vector_size(HLF_VW * sizeof(float))));

/* An unaligned vector load (memcpy: no alignment or aliasing assumptions;
 * compiles to one load instruction). */
#define HLF_VLOAD(dst, p) memcpy(&(dst), (p), sizeof(hlf_vec))

/* y[0:rows] += the HLF_NR floats of acc[0:HLF_VPP] (rows <= HLF_NR): vector
 * adds for a full panel, element by element for the last, partial one. */
#define HLF_ADD_PANEL(y, acc, rows)                                     \
    do {                                                                \
        if ((rows) == HLF_NR) {                                         \
            for (int v_ = 0; v_ < HLF_VPP; v_++) {                      \
                hlf_vec y_;                                             \
                HLF_VLOAD(y_, (y) + v_ * HLF_VW);                       \
                y_ += (acc)[v_];                                        \
                memcpy((y) + v_ * HLF_VW, &y_, sizeof y_);              \
            }                                                           \
        } else {                                                        \
            float out_[HLF_NR];                                         \
            memcpy(out_, (acc), sizeof out_);                           \
            for (size_t r_ = 0; r_ < (rows); r_++) {                    \
                (y)[r_] += out_[r_];                                    \
            }                                                           \
        }                                                               \
    } while (0)

/* Four floats: one SSE / NEON register, the unit of the short panel's rows. */
typedef float hlf_vec4 __attribute__((vector_size(4 * sizeof(float))));
#endif /* __GNUC__ || __clang__ */

/*
 * y[0:r] += A . x[0:n] for the short last panel of a packed matrix (r rows,
 * column j at a + j*r, hlf_kernels.h).  Rows four at a time (one 4-float
 * vector per column, four columns in flight), the last 0-3 one at a time
 * with four partial sums.  Never reads past a[r*n - 1] or x[n - 1].
 */
static inline void hlf_gemv_short_panel(size_t r, size_t n, const float *HLF_RESTRICT a,
                                        const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    size_t i = 0;
#ifdef HLF_HAVE_VEC
    for (; i + 4 <= r; i += 4) {
        hlf_vec4 acc[4] = {{0}, {0}, {0}, {0}};
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            for (int c = 0; c < 4; c++) {
                hlf_vec4 w;
                memcpy(&w, a + (j + (size_t)c) * r + i, sizeof w);
                acc[c] += w * x[j + (size_t)c];
            }
        }
        for (; j < n; j++) {
            hlf_vec4 w;
            memcpy(&w, a + j * r + i, sizeof w);
            acc[0] += w * x[j];
        }
        const hlf_vec4 sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        for (int k = 0; k < 4; k++) {
            y[i + (size_t)k] += sum[k];
        }
    }
#endif
    for (; i < r; i++) {
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            for (int c = 0; c < 4; c++) {
                s[c] += a[(j + (size_t)c) * r + i] * x[j + (size_t)c];
            }
        }
        for (; j < n; j++) {
            s[0] += a[j * r + i] * x[j];
        }
        y[i] += (s[0] + s[1]) + (s[2] + s[3]);
    }
}

#endif /* HLF_VEC_H */
