/*
 * qs8-quantize-scalar.c - hlf_qs8_quantize: dynamic symmetric int8
 * quantization of the vectors the int8 kernels read (hlf_qkernels.h).
 *
 * Portable C99.  Per vector: one pass for max |x|, one to scale, round
 * (rintf: round half to even in the default rounding mode, the same as the
 * NEON kernel's FCVTNS and numpy's rint) and narrow.  x * (127 / max) stays
 * a separate multiply (rintf takes its result), so -ffp-contract=fast cannot
 * fuse it with the rounding.  O(n) per vector against the m x n MACs of the
 * GEMV that reads it.  The max |x| pass runs in compiler vectors (hlf_vec.h;
 * a scalar MAXSS chain before): 512 floats 1.76 -> 0.70 us (gcc -O3, AVX2
 * variant; 0.17 us -march=native, 2-core Xeon of the Sapphire Rapids class),
 * the same scale and q.
 */
#include <math.h>
#include <string.h>

#include "../hlf_qkernels.h"
#include "../hlf_vec.h"

void hlf_qs8_quantize(size_t nv, size_t n, const float *HLF_RESTRICT x, size_t ldx,
                      int8_t *HLF_RESTRICT q, size_t ldq, float *HLF_RESTRICT scale) {
    const size_t np = HLF_QS8_PADDED(n);
    for (size_t v = 0; v < nv; v++) {
        const float *xv = x + v * ldx;
        int8_t *qv = q + v * ldq;
        float amax = 0.0f;
        size_t j = 0;
#ifdef HLF_HAVE_VEC
        /* max |x| in HLF_VW lanes (compare, select), then across them: a maximum is exact and
         * the x are finite, so the order does not matter. */
        typedef int32_t ivec __attribute__((vector_size(sizeof(hlf_vec))));
        hlf_vec lanes = {0};
        for (; j + HLF_VW <= n; j += HLF_VW) {
            ivec a;
            memcpy(&a, xv + j, sizeof a);
            a &= 0x7fffffff; /* fabsf */
            ivec m;
            memcpy(&m, &lanes, sizeof m);
            const ivec gt = (ivec)((hlf_vec)a > lanes);
            m = (a & gt) | (m & ~gt);
            memcpy(&lanes, &m, sizeof m);
        }
        for (int l = 0; l < HLF_VW; l++) {
            amax = lanes[l] > amax ? lanes[l] : amax;
        }
#endif
        for (; j < n; j++) {
            const float a = fabsf(xv[j]);
            amax = a > amax ? a : amax;
        }
        if (amax == 0.0f) {
            scale[v] = 0.0f;
            memset(qv, 0, np);
            continue;
        }
        /* q = round(x / s), s = max / 127: |q| <= 127 */
        const float inv = 127.0f / amax;
        scale[v] = amax / 127.0f;
        for (size_t j = 0; j < n; j++) {
            qv[j] = (int8_t)rintf(xv[j] * inv);
        }
        memset(qv + n, 0, np - n);
    }
}
