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

#include "hlf_namespace.h" /* first: the model's names for the runtime */

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

#endif /* __GNUC__ || __clang__ */

#endif /* HLF_VEC_H */
