/*
 * hlf_runner.c - hlf_runner_main(): the command line runner shared by every
 * generated <name>_run program (contract in hlf_runner.h).
 *
 *   <name>_run --input NAME=PATH.npy [--input ...] --out-dir DIR
 *              [--repeat N] [--stream]
 *
 * Run-time dimensions (the sequence length T, and any other symbol of the
 * model): every dims[i] < 0 of a given input is (-dims[i]) * D for the
 * dimension D = sym[i], so D is read off the input files' shapes; it must be
 * an integer in 1..max and the same for all inputs.  A dimension no given
 * input fixes takes its maximum.  Extents that are expressions
 * (HLF_DIM_EXPR) are then checked against the model's extents().  Legacy
 * descriptions (run_dims == NULL) have the one dimension T, 1..max_seq_len.
 *
 * Outputs go to DIR/<name>.npy (DIR is created if missing, one level);
 * bytes of the output name outside [A-Za-z0-9._-] become '_', and when several
 * outputs get the same file name each gets "~<output index>" appended
 * (hlfgen/cnames.py output_stems: the same rule).
 *
 * --stream feeds the sequence through reset() and step(): the T axis of a
 * streamed tensor must be its only dynamic dim, with coefficient 1, and the
 * tensor needs a step_buffer.  Inputs without a T axis are passed whole;
 * outputs without a T axis are passed whole too, so they hold the last
 * step's value.
 *
 * Every error is one line "<program>: error: ..." on stderr; the exit code
 * is 2 for usage / input errors and 1 when run(), reset() or step() fails.
 * No heap allocation: all storage is static or fixed-size on the stack.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L     /* clock_gettime, mkdir */
#endif

#include "hlf_runner.h"
#include "hlf_npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef HLF_RUNNER_MAX_TENSORS
#define HLF_RUNNER_MAX_TENSORS 64   /* graph inputs / outputs supported */
#endif
#define RUNNER_PATH_LEN 4096        /* longest output file path */
#define RUNNER_TEXT_LEN 256         /* shape strings and name lists */
#define RUNNER_MAX_REPEAT 1000000000L
#define RUNNER_DIR_MODE 0777        /* before the umask */

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2

#define NO_AXIS (-1)                /* a tensor without a (streamable) T axis */

#if defined(__GNUC__) || defined(__clang__)
#define RUNNER_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define RUNNER_PRINTF(fmt, args)
#endif

/* The state of one invocation. */
typedef struct runner {
    const char *prog;                               /* for messages */
    const hlf_model_desc *model;
    const char *paths[HLF_RUNNER_MAX_TENSORS];      /* --input; NULL if absent */
    const char *out_dir;
    long repeat;                                    /* 0: --repeat not given */
    int stream;
    int num_dims;                                   /* run-time dimensions */
    const char *dim_names[HLF_MAX_DIMS];
    int max_dims[HLF_MAX_DIMS];
    int seq_dim;                                    /* streamed dimension, -1: none */
    int dims[HLF_MAX_DIMS];                         /* their values for this run */
    const char *dim_source[HLF_MAX_DIMS];           /* input each came from */
    int seq_len;                                    /* dims[seq_dim] (--stream) */
    const void *inputs[HLF_RUNNER_MAX_TENSORS];     /* NULL: omitted */
    void *outputs[HLF_RUNNER_MAX_TENSORS];
    const void *step_inputs[HLF_RUNNER_MAX_TENSORS];
    void *step_outputs[HLF_RUNNER_MAX_TENSORS];
} runner;

/* ------------------------------------------------------------------------ */
/* Messages and shapes                                                      */

/* Prints "<prog>: error: <message>" as one line; returns code. */
static int fail(const runner *r, int code, const char *fmt, ...) RUNNER_PRINTF(3, 4);
static int fail(const runner *r, int code, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: error: ", r->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/* The name of run-time dimension k, for messages. */
static const char *dim_name(const runner *r, int k)
{
    return k >= 0 && k < r->num_dims && r->dim_names[k] != NULL ? r->dim_names[k] : "?";
}

/* Formats dims as "[T, 2, 3]" (negative entries as D or k*D of dimension sym[i];
 * sym NULL: all static) into buf. */
static const char *format_dims(const runner *r, const long *dims, const int *sym, int rank,
                               char *buf, size_t len)
{
    size_t n = 0;
    int i;
    n += (size_t)snprintf(buf, len, "[");
    for (i = 0; i < rank && n < len; i++) {
        const char *sep = i + 1 < rank ? ", " : "";
        const char *d = sym != NULL ? dim_name(r, sym[i]) : "?";
        if (dims[i] == HLF_DIM_EXPR)
            n += (size_t)snprintf(buf + n, len - n, "(expr)%s", sep);
        else if (dims[i] == -1)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", d, sep);
        else if (dims[i] < 0)
            n += (size_t)snprintf(buf + n, len - n, "%ld*%s%s", -dims[i], d, sep);
        else
            n += (size_t)snprintf(buf + n, len - n, "%ld%s", dims[i], sep);
    }
    if (n < len)
        snprintf(buf + n, len - n, "]");
    return buf;
}

/* The declared shape of t for messages. */
static const char *format_shape(const runner *r, const hlf_tensor_desc *t, char *buf, size_t len)
{
    if (t->shape_text != NULL) {
        snprintf(buf, len, "%s", t->shape_text);
        return buf;
    }
    return format_dims(r, t->dims, t->sym, t->rank, buf, len);
}

/* Whether the tensor has a dim that depends on T. */
static int has_seq_dim(const hlf_tensor_desc *t)
{
    int i;
    for (i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return 1;
    return 0;
}

/* The streamable T axis: the only dynamic dim, equal to the streamed dimension; else NO_AXIS. */
static int stream_axis(const runner *r, const hlf_tensor_desc *t)
{
    int axis = NO_AXIS;
    int i;
    for (i = 0; i < t->rank; i++) {
        if (t->dims[i] >= 0)
            continue;
        if (axis != NO_AXIS || t->dims[i] != -1 || t->sym[i] != r->seq_dim)
            return NO_AXIS;
        axis = i;
    }
    return axis;
}

/* The extents of tensor `index` (inputs first, then outputs) for the run-time dimensions dims. */
static void tensor_extents(const runner *r, int index, const int *dims, long *out)
{
    const hlf_model_desc *m = r->model;
    const hlf_tensor_desc *t = index < m->num_inputs ? &m->inputs[index] : &m->outputs[index - m->num_inputs];
    int i;
    for (i = 0; i < t->rank; i++)
        out[i] = t->dims[i] >= 0 ? t->dims[i] : t->dims[i] == HLF_DIM_EXPR ? 0 : -t->dims[i] * dims[t->sym[i]];
    if (m->extents != NULL)
        m->extents(index, dims, out);
}

/* Number of elements of tensor `index` for the run-time dimensions dims. */
static size_t tensor_count(const runner *r, int index, const int *dims)
{
    const hlf_model_desc *m = r->model;
    const hlf_tensor_desc *t = index < m->num_inputs ? &m->inputs[index] : &m->outputs[index - m->num_inputs];
    long shape[HLF_MAX_RANK];
    size_t count = 1;
    int i;
    tensor_extents(r, index, dims, shape);
    for (i = 0; i < t->rank; i++)
        count *= (size_t)(shape[i] > 0 ? shape[i] : 0);
    return count;
}

/* ------------------------------------------------------------------------ */
/* --help                                                                   */

/* Longest tensor name, for aligning the --help columns. */
static int name_width(const hlf_tensor_desc *t, int n, int width)
{
    int i;
    for (i = 0; i < n; i++) {
        int len = (int)strlen(t[i].name);
        if (len > width)
            width = len;
    }
    return width;
}

/* Prints one tensor line of --help. */
static void print_tensor(const runner *r, FILE *out, const hlf_tensor_desc *t, int width, const char *note)
{
    char shape[RUNNER_TEXT_LEN];
    fprintf(out, "  %-*s  %-7s  %s%s\n", width, t->name, hlf_dtype_name(t->dtype),
            format_shape(r, t, shape, sizeof shape), note);
}

/* Prints the usage text listing the model's inputs and outputs. */
static void print_usage(const runner *r, FILE *out)
{
    const hlf_model_desc *m = r->model;
    int width = name_width(m->outputs, m->num_outputs, name_width(m->inputs, m->num_inputs, 4));
    int i;
    fprintf(out, "usage: %s --input NAME=PATH.npy [--input ...] --out-dir DIR"
                 " [--repeat N] [--stream]\n\n", r->prog);
    if (m->run_dims == NULL) {
        fprintf(out, "Runs model '%s'. T is the sequence length, 1 <= T <= %d, read off the\n"
                     "inputs' shapes (T = %d when no given input has a T axis).\n\ninputs:\n",
                m->name, m->max_seq_len, m->max_seq_len);
    } else {
        fprintf(out, "Runs model '%s'. Run-time dimensions, read off the inputs' shapes (the\n"
                     "maximum when no given input fixes one):", m->name);
        for (i = 0; i < r->num_dims; i++)
            fprintf(out, "%s %s 1..%d", i > 0 ? "," : "", dim_name(r, i), r->max_dims[i]);
        fprintf(out, "%s\n\ninputs:\n", r->num_dims > 0 ? "" : " none");
    }
    for (i = 0; i < m->num_inputs; i++)
        print_tensor(r, out, &m->inputs[i], width, m->inputs[i].optional ? "  (optional)" : "");
    fprintf(out, "outputs (written to DIR/<name>.npy, characters outside [A-Za-z0-9._-]"
                 " replaced by '_', ~<index> appended to names that collide):\n");
    for (i = 0; i < m->num_outputs; i++)
        print_tensor(r, out, &m->outputs[i], width, "");
    fprintf(out, "\noptions:\n"
                 "  --input NAME=PATH.npy  a graph input: little-endian, C order, .npy 1.0-3.0;\n"
                 "                         float32 inputs need '<f4', integer ones '<i4' or '<i8'\n"
                 "  --out-dir DIR          output directory (created if missing)\n"
                 "  --repeat N             run N times after one untimed warm-up run,\n"
                 "                         print 'mean_us=<us per run> repeat=N'\n"
                 "  --stream               feed one time step at a time (reset() + step())%s\n"
                 "  --help                 show this text\n",
            m->step != NULL && m->reset != NULL ? "" : "; not supported by this model");
}

/* ------------------------------------------------------------------------ */
/* Command line                                                             */

/* Whether argv asks for --help (checked before anything else). */
static int wants_help(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/*
 * Matches argv[*i] against option name, as "name VALUE" or "name=VALUE".
 * Returns 1 and sets *value on a match, 0 if it is another option, -1 if
 * the value is missing.
 */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0)
        return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

/* Index of the input whose name followed by '=' starts arg (longest), or -1. */
static int match_input(const hlf_model_desc *m, const char *arg)
{
    int best = -1;
    size_t best_len = 0;
    int i;
    for (i = 0; i < m->num_inputs; i++) {
        size_t len = strlen(m->inputs[i].name);
        if (strncmp(arg, m->inputs[i].name, len) == 0 && arg[len] == '='
            && (best < 0 || len > best_len)) {
            best = i;
            best_len = len;
        }
    }
    return best;
}

/* Lists the input names, comma separated, into buf (truncated if long). */
static const char *input_names(const hlf_model_desc *m, char *buf, size_t len)
{
    size_t n = 0;
    int i;
    buf[0] = '\0';
    for (i = 0; i < m->num_inputs && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i > 0 ? ", " : "", m->inputs[i].name);
    return buf;
}

/* Handles the value of one --input NAME=PATH option. */
static int parse_input(runner *r, const char *arg)
{
    char names[RUNNER_TEXT_LEN];
    const char *eq = strchr(arg, '=');
    int i = match_input(r->model, arg);
    if (eq == NULL)
        return fail(r, EXIT_USAGE, "--input expects NAME=PATH.npy, got '%s'", arg);
    if (i < 0)
        return fail(r, EXIT_USAGE, "unknown input '%.*s' (model inputs: %s)", (int)(eq - arg),
                    arg, input_names(r->model, names, sizeof names));
    if (r->paths[i] != NULL)
        return fail(r, EXIT_USAGE, "input '%s' given more than once", r->model->inputs[i].name);
    r->paths[i] = arg + strlen(r->model->inputs[i].name) + 1;
    if (r->paths[i][0] == '\0')
        return fail(r, EXIT_USAGE, "input '%s': empty path", r->model->inputs[i].name);
    return 0;
}

/* Handles the value of --repeat N (an integer >= 1). */
static int parse_repeat(runner *r, const char *text)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < 1 || n > RUNNER_MAX_REPEAT)
        return fail(r, EXIT_USAGE, "--repeat expects an integer in 1..%ld, got '%s'",
                    RUNNER_MAX_REPEAT, text);
    r->repeat = n;
    return 0;
}

/* Handles argv[*i] (and its value); returns 0 or an exit code. */
static int parse_option(runner *r, int argc, char **argv, int *i)
{
    const char *value = NULL;
    int found;
    if (strcmp(argv[*i], "--stream") == 0) {
        r->stream = 1;
        return 0;
    }
    if ((found = option_value(argc, argv, i, "--input", &value)) != 0)
        return found < 0 ? fail(r, EXIT_USAGE, "--input needs NAME=PATH.npy")
                         : parse_input(r, value);
    if ((found = option_value(argc, argv, i, "--out-dir", &value)) != 0) {
        if (found < 0 || value[0] == '\0')
            return fail(r, EXIT_USAGE, "--out-dir needs a directory");
        r->out_dir = value;
        return 0;
    }
    if ((found = option_value(argc, argv, i, "--repeat", &value)) != 0)
        return found < 0 ? fail(r, EXIT_USAGE, "--repeat needs a count") : parse_repeat(r, value);
    return fail(r, EXIT_USAGE, "unknown argument '%s' (see --help)", argv[*i]);
}

/* Parses the whole command line into r. */
static int parse_args(runner *r, int argc, char **argv)
{
    int i;
    int code;
    for (i = 1; i < argc; i++)
        if ((code = parse_option(r, argc, argv, &i)) != 0)
            return code;
    if (r->out_dir == NULL)
        return fail(r, EXIT_USAGE, "missing --out-dir DIR (see --help)");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Model description checks                                                 */

/* Checks one tensor description against the build-time maxima. */
static int check_tensor(const runner *r, int index, const hlf_tensor_desc *t, const char *kind)
{
    int i;
    if (t->name == NULL || hlf_dtype_size(t->dtype) == 0 || t->rank < 0
        || t->rank > HLF_MAX_RANK || t->buffer == NULL)
        return fail(r, EXIT_USAGE, "invalid model description: bad %s '%s'", kind,
                    t->name != NULL ? t->name : "(null)");
    for (i = 0; i < t->rank; i++)
        if (t->dims[i] < 0 && t->dims[i] != HLF_DIM_EXPR && (t->sym[i] < 0 || t->sym[i] >= r->num_dims))
            return fail(r, EXIT_USAGE, "invalid model description: %s '%s' axis %d", kind, t->name, i);
    if (tensor_count(r, index, r->max_dims) > t->capacity)
        return fail(r, EXIT_USAGE, "invalid model description: %s '%s' buffer holds %lu "
                    "elements, needs %lu", kind, t->name, (unsigned long)t->capacity,
                    (unsigned long)tensor_count(r, index, r->max_dims));
    return 0;
}

/* The run-time dimensions of the description (legacy: the one T of max_seq_len). */
static int load_dims(runner *r)
{
    const hlf_model_desc *m = r->model;
    int k;
    if (m->run_dims == NULL) {
        r->num_dims = 1;
        r->dim_names[0] = "T";
        r->max_dims[0] = m->max_seq_len;
        r->seq_dim = 0;
        return 0;
    }
    if (m->num_dims < 0 || m->num_dims > HLF_MAX_DIMS || (m->num_dims > 0 && (m->dim_names == NULL || m->max_dims == NULL))
        || m->seq_dim < -1 || m->seq_dim >= m->num_dims)
        return fail(r, EXIT_USAGE, "invalid model description (at most %d run-time dimensions)", HLF_MAX_DIMS);
    r->num_dims = m->num_dims;
    r->seq_dim = m->seq_dim;
    for (k = 0; k < m->num_dims; k++) {
        r->dim_names[k] = m->dim_names[k];
        r->max_dims[k] = m->max_dims[k];
        if (m->max_dims[k] < 1)
            return fail(r, EXIT_USAGE, "invalid model description: dimension %s max %d", dim_name(r, k),
                        m->max_dims[k]);
    }
    return 0;
}

/* Validates the model description (catches generator bugs early). */
static int check_model(runner *r)
{
    const hlf_model_desc *m = r->model;
    int i;
    if (m->num_inputs < 0 || m->num_inputs > HLF_RUNNER_MAX_TENSORS || m->num_outputs < 0
        || m->num_outputs > HLF_RUNNER_MAX_TENSORS
        || (m->run_dims == NULL && (m->max_seq_len < 1 || m->run == NULL)))
        return fail(r, EXIT_USAGE, "invalid model description (at most %d inputs and outputs, "
                    "max_seq_len >= 1, run() set)", HLF_RUNNER_MAX_TENSORS);
    if (load_dims(r) != 0)
        return EXIT_USAGE;
    for (i = 0; i < m->num_inputs; i++)
        if (check_tensor(r, i, &m->inputs[i], "input") != 0)
            return EXIT_USAGE;
    for (i = 0; i < m->num_outputs; i++)
        if (check_tensor(r, m->num_inputs + i, &m->outputs[i], "output") != 0)
            return EXIT_USAGE;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Loading the inputs                                                       */

/* Reports a file shape that does not match the input's declared shape. */
static int shape_error(const runner *r, const hlf_tensor_desc *t, const hlf_npy_info *info)
{
    char want[RUNNER_TEXT_LEN];
    char got[RUNNER_TEXT_LEN];
    return fail(r, EXIT_USAGE, "input '%s': expected shape %s, got %s", t->name,
                format_shape(r, t, want, sizeof want),
                format_dims(r, info->shape, NULL, info->rank, got, sizeof got));
}

/* Records dimension k = value implied by input name; checks range and consistency. */
static int set_dim(runner *r, const char *name, int k, long value)
{
    const char *what = k == r->seq_dim ? "sequence length" : "dimension";
    if (value < 1 || value > r->max_dims[k])
        return fail(r, EXIT_USAGE, "input '%s': %s %s=%ld out of range 1..%d", name, what,
                    dim_name(r, k), value, r->max_dims[k]);
    if (r->dim_source[k] != NULL && value != r->dims[k])
        return fail(r, EXIT_USAGE, "input '%s': %s %s=%ld does not match %s=%d of "
                    "input '%s'", name, what, dim_name(r, k), value, dim_name(r, k), r->dims[k],
                    r->dim_source[k]);
    r->dims[k] = (int)value;
    r->dim_source[k] = name;
    return 0;
}

/*
 * Matches the file shape against the input's dims and derives the run-time
 * dimensions of its k*D axes.  Returns 0 or an exit code after reporting
 * "expected ... got ..." (expression axes are checked once all are known).
 */
static int match_shape(runner *r, const hlf_tensor_desc *t, const hlf_npy_info *info)
{
    int i;
    int code;
    if (info->rank != t->rank)
        return shape_error(r, t, info);
    for (i = 0; i < t->rank; i++) {
        long k = -t->dims[i];
        if (t->dims[i] >= 0) {
            if (info->shape[i] != t->dims[i])
                return shape_error(r, t, info);
        } else if (t->dims[i] != HLF_DIM_EXPR) {
            if (info->shape[i] % k != 0)
                return shape_error(r, t, info);
            if ((code = set_dim(r, t->name, t->sym[i], info->shape[i] / k)) != 0)
                return code;
        }
    }
    return 0;
}

/* Checks the file's element type against the input's dtype. */
static int check_dtype(const runner *r, const hlf_tensor_desc *t, const hlf_npy_info *info)
{
    int is_float = t->dtype == HLF_DTYPE_F32, is_bool = t->dtype == HLF_DTYPE_BOOL;
    int ok = is_float || is_bool ? info->dtype == t->dtype
                                 : info->dtype == HLF_DTYPE_I32 || info->dtype == HLF_DTYPE_I64;
    if (ok)
        return 0;
    return fail(r, EXIT_USAGE, "input '%s': expected %s data, got '%s'", t->name,
                is_float ? "float32 ('<f4')" : is_bool ? "bool ('|b1')" : "integer ('<i4' or '<i8')", info->descr);
}

/* Reads the header of an open input file and validates it. */
static int read_input_header(runner *r, const hlf_tensor_desc *t, const char *path, FILE *f,
                             hlf_npy_info *info)
{
    char err[HLF_NPY_ERR_LEN];
    int code;
    if (hlf_npy_read_header(f, info, err, sizeof err) != 0)
        return fail(r, EXIT_USAGE, "input '%s' (%s): %s", t->name, path, err);
    if ((code = check_dtype(r, t, info)) != 0 || (code = match_shape(r, t, info)) != 0)
        return code;
    if (info->count > t->capacity)
        return fail(r, EXIT_USAGE, "input '%s': %lu elements exceed the buffer (%lu)", t->name,
                    (unsigned long)info->count, (unsigned long)t->capacity);
    return 0;
}

/* Reads input i from its .npy file into the input's static buffer; *info gets its header. */
static int load_input(runner *r, int i, hlf_npy_info *infos)
{
    const hlf_tensor_desc *t = &r->model->inputs[i];
    const char *path = r->paths[i];
    char err[HLF_NPY_ERR_LEN];
    hlf_npy_info info;
    int code;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(r, EXIT_USAGE, "input '%s': cannot open %s: %s", t->name, path,
                    strerror(errno));
    code = read_input_header(r, t, path, f, &info);
    if (code == 0 && hlf_npy_read_data(f, &info, t->dtype, t->buffer, err, sizeof err) != 0)
        code = fail(r, EXIT_USAGE, "input '%s' (%s): %s", t->name, path, err);
    fclose(f);
    infos[i] = info;
    return code;
}

/* Checks every given input's shape against its extents for the dimensions now known. */
static int check_extents(const runner *r, const hlf_npy_info *infos)
{
    const hlf_model_desc *m = r->model;
    long shape[HLF_MAX_RANK];
    int i;
    int d;
    for (i = 0; i < m->num_inputs; i++) {
        if (r->paths[i] == NULL)
            continue;
        tensor_extents(r, i, r->dims, shape);
        for (d = 0; d < m->inputs[i].rank; d++)
            if (shape[d] != infos[i].shape[d])
                return shape_error(r, &m->inputs[i], &infos[i]);
    }
    return 0;
}

/* Loads every given input, fixes T and sets the run() pointer arrays. */
static int load_inputs(runner *r)
{
    static hlf_npy_info infos[HLF_RUNNER_MAX_TENSORS];
    const hlf_model_desc *m = r->model;
    int i;
    int code;
    for (i = 0; i < m->num_inputs; i++)
        if (r->paths[i] == NULL && !m->inputs[i].optional)
            return fail(r, EXIT_USAGE, "missing required input '%s' (--input %s=PATH.npy)",
                        m->inputs[i].name, m->inputs[i].name);
    for (i = 0; i < m->num_inputs; i++) {
        if (r->paths[i] != NULL && (code = load_input(r, i, infos)) != 0)
            return code;
        r->inputs[i] = r->paths[i] != NULL ? m->inputs[i].buffer : NULL;
    }
    for (i = 0; i < r->num_dims; i++)
        if (r->dim_source[i] == NULL)
            r->dims[i] = r->max_dims[i];
    r->seq_len = r->seq_dim >= 0 ? r->dims[r->seq_dim] : 1;
    if ((code = check_extents(r, infos)) != 0)
        return code;
    for (i = 0; i < m->num_outputs; i++)
        r->outputs[i] = m->outputs[i].buffer;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */

/* Checks that a tensor with a T axis can be streamed. */
static int check_stream_tensor(const runner *r, const hlf_tensor_desc *t, const char *kind)
{
    if (!has_seq_dim(t))
        return 0;
    if (stream_axis(r, t) == NO_AXIS || t->step_buffer == NULL)
        return fail(r, EXIT_USAGE, "--stream: %s '%s' %s cannot be streamed", kind, t->name,
                    t->step_buffer == NULL ? "has no step buffer and" : "has a T axis that");
    return 0;
}

/* Checks --stream is possible and sets the step() pointer arrays. */
static int prepare_stream(runner *r)
{
    const hlf_model_desc *m = r->model;
    int i;
    if (m->step == NULL || m->reset == NULL || r->seq_dim < 0)
        return fail(r, EXIT_USAGE, "--stream: model '%s' cannot stream (no step/reset)",
                    m->name);
    for (i = 0; i < m->num_inputs; i++) {
        const hlf_tensor_desc *t = &m->inputs[i];
        if (r->inputs[i] != NULL && check_stream_tensor(r, t, "input") != 0)
            return EXIT_USAGE;
        r->step_inputs[i] = r->inputs[i] != NULL && has_seq_dim(t) ? t->step_buffer
                                                                   : r->inputs[i];
    }
    for (i = 0; i < m->num_outputs; i++) {
        const hlf_tensor_desc *t = &m->outputs[i];
        if (check_stream_tensor(r, t, "output") != 0)
            return EXIT_USAGE;
        r->step_outputs[i] = has_seq_dim(t) ? t->step_buffer : r->outputs[i];
    }
    return 0;
}

/*
 * Copies time step `step` between the whole-sequence buffer `full` and the
 * one-step buffer of tensor t (to_step: full -> step, else step -> full).
 */
static void copy_slice(const runner *r, const hlf_tensor_desc *t, void *full, int seq_len, int step,
                       int to_step)
{
    int axis = stream_axis(r, t);
    size_t outer = 1;
    size_t inner = hlf_dtype_size(t->dtype);     /* bytes per slice row */
    size_t o;
    int i;
    for (i = 0; i < axis; i++)
        outer *= (size_t)t->dims[i];
    for (i = axis + 1; i < t->rank; i++)
        inner *= (size_t)t->dims[i];
    for (o = 0; o < outer; o++) {
        unsigned char *whole = (unsigned char *)full + (o * (size_t)seq_len + (size_t)step) * inner;
        unsigned char *one = (unsigned char *)t->step_buffer + o * inner;
        if (to_step)
            memcpy(one, whole, inner);
        else
            memcpy(whole, one, inner);
    }
}

/* Runs the whole sequence with one run() call. */
static int run_whole(const runner *r)
{
    int status = r->model->run_dims != NULL ? r->model->run_dims(r->dims, r->inputs, r->outputs)
                                            : r->model->run(r->dims[0], r->inputs, r->outputs);
    if (status != 0)
        return fail(r, EXIT_RUN_FAILED, "run() failed with status %d", status);
    return 0;
}

/* Runs the sequence step by step: reset(), then step() for t = 0..T-1. */
static int run_stream(const runner *r)
{
    const hlf_model_desc *m = r->model;
    int status = m->reset(r->inputs);
    int t;
    int i;
    if (status != 0)
        return fail(r, EXIT_RUN_FAILED, "reset() failed with status %d", status);
    for (t = 0; t < r->seq_len; t++) {
        for (i = 0; i < m->num_inputs; i++)
            if (r->inputs[i] != NULL && has_seq_dim(&m->inputs[i]))
                copy_slice(r, &m->inputs[i], m->inputs[i].buffer, r->seq_len, t, 1);
        status = m->step(r->step_inputs, r->step_outputs);
        if (status != 0)
            return fail(r, EXIT_RUN_FAILED, "step() failed at t=%d with status %d", t, status);
        for (i = 0; i < m->num_outputs; i++)
            if (has_seq_dim(&m->outputs[i]))
                copy_slice(r, &m->outputs[i], m->outputs[i].buffer, r->seq_len, t, 0);
    }
    return 0;
}

/* Runs the model once, whole or streamed. */
static int run_once(const runner *r)
{
    return r->stream ? run_stream(r) : run_whole(r);
}

/* Monotonic clock in microseconds. */
static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* Runs r->repeat times and prints the mean wall time per run.  One untimed
 * run first: it pays the page faults of the weights and warms the caches,
 * which would otherwise bias the mean of a few runs. */
static int run_timed(const runner *r)
{
    double start;
    double elapsed;
    long n;
    int code;
    if ((code = run_once(r)) != 0)
        return code;
    start = now_us();
    for (n = 0; n < r->repeat; n++)
        if ((code = run_once(r)) != 0)
            return code;
    elapsed = now_us() - start;
    printf("mean_us=%.3f repeat=%ld\n", elapsed / (double)r->repeat, r->repeat);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing the outputs                                                      */

/* c itself if it is one of [A-Za-z0-9._-], else '_'. */
static char file_char(char c)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789._-";
    return c != '\0' && strchr(safe, c) != NULL ? c : '_';
}

/* Copies name into buf, replacing characters outside [A-Za-z0-9._-] by '_'. */
static void sanitize_name(const char *name, char *buf, size_t len)
{
    size_t i;
    for (i = 0; name[i] != '\0' && i + 1 < len; i++)
        buf[i] = file_char(name[i]);
    buf[i] = '\0';
}

/* Whether two names have the same sanitized file name. */
static int same_stem(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (file_char(*a) != file_char(*b))
            return 0;
    }
    return *a == '\0' && *b == '\0';
}

/* The file name of output i: sanitized, "~i" appended if another output sanitizes the same. */
static void output_stem(const hlf_model_desc *m, int i, char *buf, size_t len)
{
    int j;
    size_t n;
    sanitize_name(m->outputs[i].name, buf, len);
    for (j = 0; j < m->num_outputs; j++) {
        if (j != i && same_stem(m->outputs[i].name, m->outputs[j].name)) {
            n = strlen(buf);
            if (n < len)
                snprintf(buf + n, len - n, "~%d", i);
            return;
        }
    }
}

/* Creates the output directory unless it already exists. */
static int make_out_dir(const runner *r)
{
    if (mkdir(r->out_dir, RUNNER_DIR_MODE) != 0 && errno != EEXIST)
        return fail(r, EXIT_USAGE, "cannot create output directory %s: %s", r->out_dir,
                    strerror(errno));
    return 0;
}

/* Writes output i to DIR/<sanitized name>.npy with T substituted. */
static int write_output(const runner *r, int i)
{
    const hlf_tensor_desc *t = &r->model->outputs[i];
    char file[RUNNER_PATH_LEN];
    char path[RUNNER_PATH_LEN];
    char err[HLF_NPY_ERR_LEN];
    long shape[HLF_MAX_RANK];
    int n;
    output_stem(r->model, i, file, sizeof file);
    n = snprintf(path, sizeof path, "%s/%s.npy", r->out_dir, file);
    if (n < 0 || (size_t)n >= sizeof path)
        return fail(r, EXIT_USAGE, "output path too long for '%s'", t->name);
    tensor_extents(r, r->model->num_inputs + i, r->dims, shape);
    if (hlf_npy_write(path, t->dtype, t->rank, shape, t->buffer, err, sizeof err) != 0)
        return fail(r, EXIT_USAGE, "output '%s': %s", t->name, err);
    return 0;
}

/* Writes every graph output. */
static int write_outputs(const runner *r)
{
    int i;
    int code;
    for (i = 0; i < r->model->num_outputs; i++)
        if ((code = write_output(r, i)) != 0)
            return code;
    return 0;
}

/* ------------------------------------------------------------------------ */

/* The program name for messages: the last component of argv[0]. */
static const char *program_name(int argc, char **argv, const hlf_model_desc *model)
{
    const char *slash;
    if (argc < 1 || argv[0] == NULL || argv[0][0] == '\0')
        return model->name != NULL ? model->name : "hlf_run";
    slash = strrchr(argv[0], '/');
    return slash != NULL ? slash + 1 : argv[0];
}

int hlf_runner_main(int argc, char **argv, const hlf_model_desc *model)
{
    static runner r;    /* static: keeps the pointer arrays off the stack */
    int code;
    memset(&r, 0, sizeof r);
    r.model = model;
    r.prog = program_name(argc, argv, model);
    if ((code = check_model(&r)) != 0)
        return code;
    if (wants_help(argc, argv)) {
        print_usage(&r, stdout);
        return 0;
    }
    if ((code = parse_args(&r, argc, argv)) != 0 || (code = load_inputs(&r)) != 0)
        return code;
    if (r.stream && (code = prepare_stream(&r)) != 0)
        return code;
    if ((code = make_out_dir(&r)) != 0)
        return code;
    code = r.repeat > 0 ? run_timed(&r) : run_once(&r);
    return code != 0 ? code : write_outputs(&r);
}
