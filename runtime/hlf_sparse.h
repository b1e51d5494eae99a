/*
 * hlf_sparse.h - sparse matrix kernels for weight matrices that are mostly
 * zeros (magnitude-pruned models): the pruning baseline the paper compares
 * HLF with (hlf-paper.txt §4).  hlfgen emits the index arrays and values as
 * static const data (hlfgen/sparse.py packs them); nothing is allocated.
 *
 * Two formats, each with a GEMV (one vector, y[0:m] += A.x) and a GEMM over
 * nv vectors (the input projection of all time steps):
 *
 * CSR (compressed sparse rows), for unstructured sparsity:
 *   row i's nonzeros are values[row_ptr[i] .. row_ptr[i+1]-1], in columns
 *   col_idx[row_ptr[i] .. row_ptr[i+1]-1] (any order; hlfgen writes them
 *   ascending).  row_ptr has m + 1 entries, row_ptr[0] = 0.  An empty row has
 *   row_ptr[i] == row_ptr[i+1].
 *
 * BCSR with br x 1 blocks (block compressed rows, a column of br rows):
 *   rows are grouped in mb = ceil(m / br) block rows; block row b covers rows
 *   b*br .. b*br+br-1.  Its blocks are k = block_ptr[b] .. block_ptr[b+1]-1:
 *   block k holds, for column block_col[k], the br weights of those rows,
 *   contiguous at values[k*br .. k*br+br-1] (rows past m are zero).  This is
 *   one column of a packed panel (hlf_kernels.h) with the all-zero columns
 *   left out: one block times one x value updates br outputs with a vertical
 *   multiply-add, no horizontal reduction.  br = 4 or 8 have vectorized code
 *   (one / two q-registers on NEON); other br are computed by plain loops.
 *
 * Column indices are 16-bit, so n <= 65536 (hlfgen keeps wider matrices
 * dense).  Which implementation is linked follows HLF_KERNELS as for the
 * dense kernels: kernels/f32-sp*-scalar.c (portable C) or -neon.c.
 */
#ifndef HLF_SPARSE_H
#define HLF_SPARSE_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>
#include <stdint.h>

#include "hlf_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[0:m] += A . x  (A m x n in CSR) */
void hlf_f32_spmv_csr_acc(size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, float *HLF_RESTRICT y);

/* For v = 0..nv-1:  y[v*ldy + 0:m] += A . x[v*ldx + ...]  (A in CSR) */
void hlf_f32_spmm_csr_acc(size_t nv, size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx,
                          const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, size_t ldx,
                          float *HLF_RESTRICT y, size_t ldy);

/* y[0:m] += A . x  (A m x n in BCSR, br x 1 blocks) */
void hlf_f32_spmv_bcsr_acc(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, float *HLF_RESTRICT y);

/* For v = 0..nv-1:  y[v*ldy + 0:m] += A . x[v*ldx + ...]  (A in BCSR) */
void hlf_f32_spmm_bcsr_acc(size_t nv, size_t m, size_t br,
                           const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, size_t ldx,
                           float *HLF_RESTRICT y, size_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* HLF_SPARSE_H */
