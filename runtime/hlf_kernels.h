/*
 * hlf_kernels.h - the matrix kernels generated models call.
 *
 * Every weight matrix is packed at build time (hlfgen/pack.py) into panels of
 * HLF_NR rows: panel p holds, for column j = 0..n-1, the HLF_NR weights
 * A[p*HLF_NR + r][j] (r = 0..HLF_NR-1) next to each other.  The last
 * m % HLF_NR rows, if any, form one short panel laid out the same way with
 * m % HLF_NR floats per column, so nothing is padded.  The kernel streams
 * one panel column at a time and updates HLF_NR outputs with one vector multiply-accumulate (XNNPACK's "1xNR" GEMV
 * layout): no horizontal reductions, so it vectorizes without -ffast-math.
 *
 * Which implementation is linked is chosen by the build (CMake HLF_KERNELS):
 *   scalar - portable C99 (kernels/f32-gemv-acc-scalar.c), auto-vectorized
 *   neon   - arm_neon.h intrinsics for AArch64 (kernels/f32-gemv-acc-neon.c)
 * On x86-64 the default build compiles the portable kernels once per
 * instruction set and picks one at run time (hlf_dispatch.h).
 */
#ifndef HLF_KERNELS_H
#define HLF_KERNELS_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rows per packed panel: set by the generated CMakeLists.txt to the value
 * the weights were packed with (hlfgen/pack.py); the NEON kernels need 8. */
#ifndef HLF_NR
#define HLF_NR 8
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HLF_RESTRICT __restrict__
#define HLF_ALIGNED(n) __attribute__((aligned(n)))
#else
#define HLF_RESTRICT
#define HLF_ALIGNED(n)
#endif

/*
 * Floats of a packed fp32 m x n matrix: m / HLF_NR full panels, then the last
 * r = m % HLF_NR rows as one short panel with r floats per column (no zero
 * rows: hlfgen/pack.py).
 */
#define HLF_F32_PACKED_SIZE(m, n) ((m) * (n))

/*
 * y[0:m] += A . x[0:n]          (A m x n, packed)
 * One GEMV: a dense block A'.x, the C.x or the B.t of Algorithm 1.
 */
void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y);

/*
 * For v = 0..nv-1:  y[v*ldy + 0:m] += A . x[v*ldx + 0:n]
 * Input projections over all time steps: the weights are streamed once for
 * several vectors.
 */
void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* HLF_KERNELS_H */
