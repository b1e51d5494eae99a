/*
 * hlf_ops.h - small element-wise helpers and data movement used by the
 * generated layer code.
 */
#ifndef HLF_OPS_H
#define HLF_OPS_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>
#include <string.h>

#include "hlf_config.h"

/* Clamp x to [-c, c]: the ONNX `clip` attribute, applied to gate inputs. */
static inline void hlf_f32_vclip(size_t n, float *x, float c) {
    for (size_t i = 0; i < n; i++) {
        x[i] = x[i] > c ? c : (x[i] < -c ? -c : x[i]);
    }
}

/* x[i] += p[i] * c[i]: a peephole term P (.) C. */
static inline void hlf_f32_vmuladd(size_t n, float *x, const float *p, const float *c) {
    for (size_t i = 0; i < n; i++) {
        x[i] += p[i] * c[i];
    }
}

/* x[i] += y[i]: rows of a fused product added to their destination. */
static inline void hlf_f32_vadd(size_t n, float *x, const float *y) {
    for (size_t i = 0; i < n; i++) {
        x[i] += y[i];
    }
}

/*
 * out = transpose(in, perm): in has `rank` dims; out's dim i is in's dim
 * perm[i].  Both dense, C order.  rank <= HLF_MAX_RANK.
 */
void hlf_transpose_f32(int rank, const long *dims, const int *perm, const float *in, float *out);

#endif /* HLF_OPS_H */
