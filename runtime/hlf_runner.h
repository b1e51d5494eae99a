/*
 * hlf_runner.h - the generic part of every generated <name>_run program.
 *
 * The generated runner (templates/runner.c.j2) describes the model's graph
 * inputs and outputs in an hlf_model_desc, with static buffers sized for the
 * build-time maxima, and calls hlf_runner_main().  No malloc anywhere.
 *
 * Command line (the runner contract):
 *   <name>_run --input NAME=PATH.npy [--input ...] --out-dir DIR [--repeat N]
 *              [--stream]
 */
#ifndef HLF_RUNNER_H
#define HLF_RUNNER_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>
#include <stdint.h>

#include "hlf_config.h" /* HLF_MAX_RANK, enum hlf_dtype (generated from hlfgen/config.py) */

/* enum hlf_dtype: the runner accepts int64 .npy for an int32 input (narrowed)
 * and int32 .npy for an int64 input (widened). */

/* At most this many run-time dimensions (symbols) per model. */
#define HLF_MAX_DIMS 16

/* dims[i] of an extent that is an expression of the run-time dimensions
 * (e.g. (T - 5) / 2 + 1): the model's extents() computes it. */
#define HLF_DIM_EXPR (-2147483647L - 1L)

/*
 * A graph input or output.  dims[i] >= 0 is a static extent; dims[i] < 0 is
 * (-dims[i]) * D where D is run-time dimension sym[i] (legacy descriptions
 * without run_dims: the sequence length T, 1 <= T <= max_seq_len);
 * HLF_DIM_EXPR is an expression (hlf_model_desc.extents).
 */
typedef struct hlf_tensor_desc {
    const char *name;
    int dtype;                 /* enum hlf_dtype */
    int rank;
    long dims[HLF_MAX_RANK];
    int optional;              /* inputs only: may be omitted */
    void *buffer;              /* static storage for max_seq_len */
    size_t capacity;           /* elements the buffer holds */
    void *step_buffer;         /* static storage for one time step (T = 1),
                                  used by --stream; NULL if it cannot stream */
    int sym[HLF_MAX_RANK];     /* dims[i] < 0: which run-time dimension */
    const char *shape_text;    /* the declared shape for messages; NULL: from dims */
} hlf_tensor_desc;

/*
 * run(): runs the whole sequence of length seq_len from the initial state.
 * inputs[i] is NULL for an omitted optional input; outputs[i] points to the
 * output buffers.  Returns 0 on success, non-zero on bad arguments.
 */
typedef int (*hlf_run_fn)(int seq_len, const void *const *inputs, void *const *outputs);

/*
 * step(): streaming; consumes one time step (inputs with T = 1) and keeps the
 * recurrent state; reset() sets the state from the initial-state inputs
 * (NULL entries: zeros).  step/reset may be NULL when the model cannot stream
 * (e.g. a reverse or bidirectional layer).
 */
typedef int (*hlf_step_fn)(const void *const *inputs, void *const *outputs);
typedef int (*hlf_reset_fn)(const void *const *inputs);

/* run_dims(): the whole run with every run-time dimension given, dims[k] for
 * dimension k (<name>_run_dims).  extents(): the extents of graph input i
 * (tensor = i) or output i (tensor = num_inputs + i) for dims, into out. */
typedef int (*hlf_run_dims_fn)(const int *dims, const void *const *inputs, void *const *outputs);
typedef void (*hlf_extents_fn)(int tensor, const int *dims, long *out);

typedef struct hlf_model_desc {
    const char *name;
    int max_seq_len;
    int num_inputs;
    int num_outputs;
    hlf_tensor_desc *inputs;
    hlf_tensor_desc *outputs;
    hlf_run_fn run;
    hlf_step_fn step;
    hlf_reset_fn reset;
    /* Several run-time dimensions (run_dims != NULL; else the one T above). */
    int num_dims;
    const char *const *dim_names;
    const int *max_dims;
    hlf_run_dims_fn run_dims;
    hlf_extents_fn extents;
    int seq_dim;               /* the dimension --stream steps through; -1: none */
} hlf_model_desc;

/* Parses argv, reads the .npy inputs, runs, writes DIR/<output>.npy.
 * Returns the process exit code (0 ok, 2 usage or input error, 1 run error). */
int hlf_runner_main(int argc, char **argv, const hlf_model_desc *model);

#endif /* HLF_RUNNER_H */
