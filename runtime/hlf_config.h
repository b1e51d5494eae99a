/*
 * hlf_config.h - constants shared by hlfgen (hlfgen/config.py) and the C runtime.
 * Generated from hlfgen/config.py: do not edit; change config.py instead.
 */
#ifndef HLF_CONFIG_H
#define HLF_CONFIG_H

/* Highest tensor rank (hlfgen refuses higher ranks at build time). */
#define HLF_MAX_RANK 8
/* Alignment in bytes of weights, arena and scratch (HLF_ALIGNED). */
#define HLF_ALIGN_BYTES 64
/* Rows per weight panel of the NEON kernels (HLF_NR default). */
#define HLF_DEFAULT_NR 8
/* Output positions per im2col pass of Conv (runtime/hlf_conv.c). */
#define HLF_CONV_CHUNK 32

/* Element types of graph inputs and outputs (the runner's .npy files). */
enum hlf_dtype {
    HLF_DTYPE_F32 = 1, /* float32 */
    HLF_DTYPE_I32 = 2, /* int32 */
    HLF_DTYPE_I64 = 3, /* int64 */
    HLF_DTYPE_BOOL = 4 /* bool */
};

#endif /* HLF_CONFIG_H */
