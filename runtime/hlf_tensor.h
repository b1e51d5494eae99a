/*
 * hlf_tensor.h - operators on runtime tensors of any element type, called by
 * the generated code (templates/ops/): batched MatMul of two runtime tensors,
 * reductions, LayerNormalization, comparisons and logic on bool tensors,
 * Where, Cast, Range, TopK, ScatterElements.
 *
 * Plain C99, no allocation.  Tensors are dense, C order.  Every extent is a
 * function argument (the generated code passes C expressions of the run-time
 * dimensions), so the same call serves any symbolic size.  Broadcasting uses
 * the convention of hlf_f32_binary (hlf_nn.h): the output has `rank` dims
 * `dims`, and bit i of an operand's `full` mask is set when the operand spans
 * dims[i] on axis i, clear when it has extent 1 there (the generator
 * right-aligns operands and merges axes, hlfgen/ops/util.coalesce).
 *
 * Element types (enum hlf_elem): float32, int32, int64, and bool, which is
 * stored as one uint8_t per element holding 0 or 1 (what ONNX and numpy
 * store; comparisons and logic write exactly 0 or 1).
 *
 * Data-dependent errors (an index out of range) make a function return -1,
 * which the generated <name>_run() returns to its caller; shapes are checked
 * at build time.
 */
#ifndef HLF_TENSOR_H
#define HLF_TENSOR_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>
#include <stdint.h>

#include "hlf_config.h"
#include "hlf_nn.h" /* enum hlf_binary_op */

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of runtime tensors. */
enum hlf_elem {
    HLF_ELEM_F32 = 0,
    HLF_ELEM_I32 = 1,
    HLF_ELEM_I64 = 2,
    HLF_ELEM_BOOL = 3 /* uint8_t, 0 or 1 */
};

/* ---------------------------------------------------------------- MatMul */

/*
 * ONNX MatMul of two runtime tensors (numpy matmul): for every index of the
 * broadcast batch axes (brank dims bdims, masks a_full / b_full as above),
 * C[m x n] = A[m x k] . B[k x n].  A's batch blocks are m*k floats apart over
 * its own (non-broadcast) batch axes, B's k*n, C's m*n; C is overwritten.
 * 1-D operands are handled by the generator (a vector is a 1 x k or k x 1
 * matrix with the same data).  brank may be 0 (one product).
 */
void hlf_f32_matmul(int brank, const long *bdims, unsigned a_full, unsigned b_full, size_t m, size_t k,
                    size_t n, const float *a, const float *b, float *c);

/*
 * One product C[m x n] = A[m x k] . B[k x n] with leading dimensions (row
 * strides, in floats) lda, ldb, ldc.  Blocks of 4 rows of C by two vectors
 * of columns are held in registers; the loop over column blocks is outside,
 * so a k x (block) strip of B stays in cache while every row block passes.
 */
void hlf_f32_matmul_2d(size_t m, size_t k, size_t n, const float *a, size_t lda, const float *b, size_t ldb,
                       float *c, size_t ldc);

/* ------------------------------------------------------------- reductions */

enum hlf_reduce_op {
    HLF_REDUCE_SUM = 0,
    HLF_REDUCE_MEAN = 1,
    HLF_REDUCE_MAX = 2,
    HLF_REDUCE_MIN = 3,
    HLF_REDUCE_PROD = 4,
    HLF_REDUCE_L1 = 5,         /* sum |x| */
    HLF_REDUCE_L2 = 6,         /* sqrt(sum x^2) */
    HLF_REDUCE_SUM_SQUARE = 7  /* sum x^2 */
};

/*
 * ONNX Reduce*: x has `rank` dims `dims`; bit i of rmask set: axis i is
 * reduced.  y holds the kept axes in order (keepdims only changes the shape,
 * not the data).  An empty reduction (an extent 0) gives the operator's
 * identity (0 for sums, 1 for Prod, -inf / +inf for Max / Min).  Integer
 * versions: Mean truncates as integer division, L2 is not offered.
 */
void hlf_f32_reduce(int op, int rank, const long *dims, unsigned rmask, const float *x, float *y);
void hlf_i64_reduce(int op, int rank, const long *dims, unsigned rmask, const int64_t *x, int64_t *y);
void hlf_i32_reduce(int op, int rank, const long *dims, unsigned rmask, const int32_t *x, int32_t *y);

/* ---------------------------------------------------- LayerNormalization */

/*
 * ONNX LayerNormalization over the last n elements of each of `outer` rows:
 * y = (x - mean) / sqrt(var + epsilon) * scale + bias (var: the biased
 * variance; mean and var accumulated in double).  bias, mean and inv_std may
 * be NULL; mean / inv_std receive one value per row (the optional outputs
 * Mean and InvStdDev).  scale and bias have n elements.
 */
void hlf_f32_layernorm(size_t outer, size_t n, const float *x, const float *scale, const float *bias,
                       float epsilon, float *y, float *mean, float *inv_std);

/* ------------------------------------------------ comparisons, logic, Where */

enum hlf_compare_op {
    HLF_LESS = 0,
    HLF_LESS_EQUAL = 1,
    HLF_GREATER = 2,
    HLF_GREATER_EQUAL = 3,
    HLF_EQUAL = 4
};

/* out = a OP b (bool) with broadcasting; a and b of element type `elem`. */
void hlf_compare(int op, int elem, int rank, const long *dims, const void *a, unsigned a_full, const void *b,
                 unsigned b_full, uint8_t *out);

enum hlf_logic_op { HLF_AND = 0, HLF_OR = 1, HLF_XOR = 2 };

/* out = a OP b on bool tensors with broadcasting (inputs: zero is false). */
void hlf_logic(int op, int rank, const long *dims, const uint8_t *a, unsigned a_full, const uint8_t *b,
               unsigned b_full, uint8_t *out);

/* ONNX Not: y[i] = !x[i]. */
void hlf_not(size_t n, const uint8_t *x, uint8_t *y);

/*
 * ONNX Where: out = cond ? x : y, three-way broadcasting; x, y and out have
 * elements of elem_bytes (1, 4 or 8 take a typed loop, others memcpy).
 */
void hlf_where(int rank, const long *dims, const uint8_t *cond, unsigned c_full, const void *x, unsigned x_full,
               const void *y, unsigned y_full, size_t elem_bytes, void *out);

/*
 * Integer Add, Sub, Mul, Div, Max, Min (enum hlf_binary_op of hlf_nn.h;
 * Pow and PRelu are not offered) with broadcasting, C semantics (Div
 * truncates toward zero, as onnxruntime).  A division by zero gives 0
 * instead of a trap.
 */
void hlf_i64_binary(int op, int rank, const long *dims, const int64_t *a, unsigned a_full, const int64_t *b,
                    unsigned b_full, int64_t *out);
void hlf_i32_binary(int op, int rank, const long *dims, const int32_t *a, unsigned a_full, const int32_t *b,
                    unsigned b_full, int32_t *out);

/* --------------------------------------------------------- Cast, Range */

/*
 * ONNX Cast of n elements between the enum hlf_elem types: to bool is
 * x != 0 (NaN is true), from bool 0 or 1, float to integer truncates toward
 * zero (C conversion, as onnxruntime).  x and y must not overlap unless the
 * types are the same size.
 */
void hlf_cast(int from, int to, size_t n, const void *x, void *y);

/* ONNX Range: y[i] = start + i*delta for i < n, accumulated as onnxruntime
 * (each element is the previous plus delta). */
void hlf_f32_range(size_t n, float start, float delta, float *y);
void hlf_i64_range(size_t n, int64_t start, int64_t delta, int64_t *y);
void hlf_i32_range(size_t n, int32_t start, int32_t delta, int32_t *y);

/* ------------------------------------------------------------------ TopK */

/*
 * ONNX TopK over the middle axis of an [outer, n, inner] view: the k largest
 * (largest != 0) or smallest values, in order (largest first, or smallest
 * first), ties by the lower index first; values and int64 indices are
 * [outer, k, inner].  Returns 0, or -1 when k > n.  (sorted=0 allows any
 * order: this order is one.)
 */
int hlf_f32_topk(size_t outer, size_t n, size_t inner, size_t k, int largest, const float *x, float *values,
                 int64_t *indices);
int hlf_i64_topk(size_t outer, size_t n, size_t inner, size_t k, int largest, const int64_t *x, int64_t *values,
                 int64_t *indices);
int hlf_i32_topk(size_t outer, size_t n, size_t inner, size_t k, int largest, const int32_t *x, int32_t *values,
                 int64_t *indices);

/* ------------------------------------------------------- ScatterElements */

enum hlf_scatter_reduction {
    HLF_SCATTER_NONE = 0,
    HLF_SCATTER_ADD = 1,
    HLF_SCATTER_MUL = 2,
    HLF_SCATTER_MAX = 3,
    HLF_SCATTER_MIN = 4
};

/*
 * ONNX ScatterElements: out = data, then for every position p of indices
 * (rank dims idims, each <= data's dims), out[p with axis coordinate
 * replaced by indices[p]] = updates[p] (reduction NONE), or combined with
 * it (ADD, MUL, MAX, MIN).  Indices may be negative (+ dims[axis]).
 * elem: enum hlf_elem of data/updates/out; idx_i64: indices are int64
 * (else int32).  out may be data (in place).  Returns 0, or -1 (out
 * partly written) when an index is outside [-dims[axis], dims[axis] - 1].
 * With duplicate indices and NONE, the last update wins (onnxruntime's
 * order).
 */
int hlf_scatter_elements(int elem, int reduction, int rank, const long *dims, const long *idims, int axis,
                         const void *data, const void *indices, int idx_i64, const void *updates, void *out);

#ifdef __cplusplus
}
#endif

#endif /* HLF_TENSOR_H */
