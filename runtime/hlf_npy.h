/*
 * hlf_npy.h - a small, allocation-free reader/writer for NumPy .npy files.
 *
 * Reading: format versions 1.0, 2.0 and 3.0; little-endian '<f4', '<i4' and
 * '<i8' arrays in C order.  fortran_order True and structured dtypes are
 * rejected when the header is read; other dtypes (e.g. '<f8', '>f4') are
 * reported in the header info and rejected when the data is read.  The data is converted on the fly to the requested
 * element type (f32 <- f32; i32 <- i32 or range-checked i64; i64 <- i32 or
 * i64) through a fixed-size stack buffer, so files of any size stream
 * straight into the caller's storage.
 *
 * Writing: format version 1.0, '<f4', '<i4' or '<i8', C order.
 *
 * Errors are returned as -1 with a one-line message (no trailing newline) in
 * the caller's buffer; nothing is printed.
 */
#ifndef HLF_NPY_H
#define HLF_NPY_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>
#include <stdio.h>

#include "hlf_runner.h" /* enum hlf_dtype, HLF_MAX_RANK */

#ifdef __cplusplus
extern "C" {
#endif

/* Longest header (the Python dict literal) accepted, in bytes. */
#define HLF_NPY_MAX_HEADER 4096

/* Longest descr string kept (longer ones are rejected). */
#define HLF_NPY_DESCR_LEN 32

/* Size of the error message buffers callers should pass. */
#define HLF_NPY_ERR_LEN 256

/* What an .npy header describes. */
typedef struct hlf_npy_info {
    int dtype;                  /* enum hlf_dtype of the elements; 0 if the
                                   descr is not one of '<f4', '<i4', '<i8' */
    char descr[HLF_NPY_DESCR_LEN];  /* the descr string, e.g. "<f4" */
    int rank;                   /* 0 .. HLF_MAX_RANK */
    long shape[HLF_MAX_RANK];
    size_t count;               /* number of elements (product of shape) */
} hlf_npy_info;

/* Size in bytes of one element of an enum hlf_dtype (0 if unknown). */
size_t hlf_dtype_size(int dtype);

/* Name of an enum hlf_dtype for messages ("float32", ...). */
const char *hlf_dtype_name(int dtype);

/*
 * Reads the magic, version and header of an .npy file; on success the file
 * is positioned at the first data byte.  Returns 0, or -1 with err set.
 */
int hlf_npy_read_header(FILE *f, hlf_npy_info *info, char *err, size_t err_len);

/*
 * Reads info->count elements following the header and stores them in dst as
 * dst_dtype (see the conversions above).  Returns 0, or -1 with err set
 * (truncated file, unsupported conversion, int64 value outside int32).
 */
int hlf_npy_read_data(FILE *f, const hlf_npy_info *info, int dst_dtype, void *dst,
                      char *err, size_t err_len);

/*
 * Writes the rank/shape array at data (elements of dtype, C order) to path as
 * a version 1.0 .npy file.  Returns 0, or -1 with err set.
 */
int hlf_npy_write(const char *path, int dtype, int rank, const long *shape,
                  const void *data, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* HLF_NPY_H */
