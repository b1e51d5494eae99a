/* hlf_ops.c - data movement for the generated code (ONNX Transpose). */
#include "hlf_ops.h"

void hlf_transpose_f32(int rank, const long *dims, const int *perm, const float *in, float *out) {
    long in_stride[HLF_MAX_RANK], out_dims[HLF_MAX_RANK];
    long stride[HLF_MAX_RANK], idx[HLF_MAX_RANK] = {0};
    long total = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_stride[i] = total;
        total *= dims[i];
    }
    /* stride[i]: step in `in` when out's index i advances */
    for (int i = 0; i < rank; i++) {
        out_dims[i] = dims[perm[i]];
        stride[i] = in_stride[perm[i]];
    }
    long src = 0;
    for (long o = 0; o < total; o++) {
        out[o] = in[src];
        for (int i = rank - 1; i >= 0; i--) {  /* odometer increment of idx */
            src += stride[i];
            if (++idx[i] < out_dims[i]) {
                break;
            }
            src -= stride[i] * out_dims[i];
            idx[i] = 0;
        }
    }
}
