/*
 * hlf_nn.h - the non-recurrent operators of whole models (embedding lookup,
 * broadcasting element-wise ops, Softmax, ArgMax, Slice, Concat, Expand),
 * called by the generated code (templates/ops/).
 *
 * Plain C99, no allocation.  Tensors are dense, C order.  Extents that depend
 * on the run-time sequence length T are computed by the caller; shapes are
 * checked at build time (hlfgen/ops/), so only data-dependent conditions are
 * checked here: an out-of-range Gather index makes the function return -1,
 * which the generated <name>_run()/<name>_step() return to their caller.
 */
#ifndef HLF_NN_H
#define HLF_NN_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "hlf_config.h"

#define HLF_NN_MAX_RANK HLF_MAX_RANK /* hlfgen/config.py MAX_RANK */

/*
 * ONNX Gather: out[o, i, :] = data[o, idx[i], :] for o < outer, i < nidx,
 * rows of `inner_bytes` bytes; data has n rows per outer index.  Indices may
 * be negative (idx + n, as ONNX allows).  Returns 0, or -1 (nothing
 * meaningful written) when an index is outside [-n, n-1].
 */
int hlf_gather_i64(size_t outer, size_t n, size_t inner_bytes, const void *data,
                   size_t nidx, const int64_t *idx, void *out);
int hlf_gather_i32(size_t outer, size_t n, size_t inner_bytes, const void *data,
                   size_t nidx, const int32_t *idx, void *out);

/* Binary element-wise operators of hlf_f32_binary. */
enum hlf_binary_op {
    HLF_ADD = 0,
    HLF_SUB = 1,
    HLF_MUL = 2,
    HLF_DIV = 3,
    HLF_POW = 4,
    HLF_MAX = 5,
    HLF_MIN = 6,
    HLF_PRELU = 7 /* a >= 0 ? a : a * b */
};

/*
 * out = a OP b with numpy (ONNX multidirectional) broadcasting.  The output
 * has `rank` dims `dims`; bit i of a_full (b_full) is set when a (b) has the
 * full extent dims[i] on axis i, clear when a has extent 1 there (broadcast).
 * a and b are dense over their own (non-broadcast) axes.
 */
void hlf_f32_binary(int op, int rank, const long *dims, const float *a, unsigned a_full,
                    const float *b, unsigned b_full, float *out);

/* Strides (elements) of an operand dense over the axes whose bit is set in
 * full, 0 on the others (where it is broadcast): dims are the output's. */
void hlf_broadcast_strides(int rank, const long *dims, unsigned full, long *stride);

/* ONNX Expand: out (dims) = in broadcast, in_full as in hlf_f32_binary;
 * elements of elem bytes. */
void hlf_broadcast(int rank, const long *dims, const void *in, unsigned in_full, size_t elem, void *out);

/*
 * ONNX Softmax / LogSoftmax over the middle axis of an [outer, n, inner]
 * view: y = exp(x - max) / sum(exp(x - max)), or x - max - log(sum(...)).
 * x and y may be the same buffer.
 */
void hlf_f32_softmax(size_t outer, size_t n, size_t inner, const float *x, float *y, int log_softmax);

/*
 * ONNX ArgMax / ArgMin over the middle axis of [outer, n, inner]: the first
 * (or with select_last, the last) index of the maximum (minimum) value.
 */
void hlf_f32_argmax(size_t outer, size_t n, size_t inner, const float *x, int64_t *y, int select_last,
                    int is_min);

/*
 * ONNX Slice (opset 10+ rule): for each axis, start/end are resolved against
 * the extent (negative: + extent; then clamped to [0, n] for step > 0, to
 * [0, n-1] / [-1, n-1] for step < 0) and the output takes
 * ceil((end - start) / step) elements.  Axes not sliced have start 0, end
 * INT64_MAX, step 1.  Returns 0, or -1 when the resolved output extents
 * differ from out_dims (a build-time shape the run-time T contradicts).
 */
int hlf_slice(int rank, const long *dims, const int64_t *starts, const int64_t *ends, const int64_t *steps,
              const long *out_dims, size_t elem, const void *in, void *out);

/*
 * One input of ONNX Concat: for o < outer, copies chunk bytes from
 * in + o*chunk to out + o*row + offset (row: bytes of one output row from
 * the concatenation axis on).
 */
void hlf_concat_part(size_t outer, size_t chunk, size_t row, size_t offset, const void *in, void *out);

#endif /* HLF_NN_H */
