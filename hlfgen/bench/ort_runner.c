/* ort_runner: run an ONNX model N times through onnxruntime's C API (for `hlfgen bench --ort-aarch64`).
 *
 *   ort_runner LIBONNXRUNTIME MODEL.onnx --repeat N [--out-dir DIR] --input NAME D0,D1,... FILE.bin ...
 *
 * Loads LIBONNXRUNTIME with dlopen, creates one session (1 intra-op and 1 inter-op thread, sequential
 * execution, all graph optimizations: as the bench's host onnxruntime column), feeds each float32 input
 * from its raw little-endian FILE (C order, shape D0,D1,...), runs the model N times and writes each
 * output of the last run to DIR/NAME.bin (raw float32) and its shape to DIR/NAME.shape.  Under qemu
 * with the instruction-count plugin, the count at N = 2 minus the count at N = 1 is one run.
 *
 * No onnxruntime header: onnxruntime ships none with the npm package, so the few declarations used are
 * written here.  Only functions of API version 1 (onnxruntime 1.0) are used and API version 1 is what
 * is asked of OrtGetApiBase()->GetApi: the OrtApi table is append-only (a function's slot never
 * changes between releases), so the slot numbers below, those of onnxruntime 1.0's
 * onnxruntime_c_api.h, hold for every release.  The runner checks itself: the input and output names
 * it reads back from the session must be those it was given / a non-empty set.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtValue OrtValue;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtAllocator OrtAllocator;
typedef struct OrtRunOptions OrtRunOptions;

enum { ORT_LOGGING_LEVEL_WARNING = 2 };
enum { ORT_SEQUENTIAL = 0 };
enum { ORT_ENABLE_ALL = 99 };
enum { ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT = 1 };
enum { OrtArenaAllocator = 1 };
enum { OrtMemTypeDefault = 0 };

typedef struct OrtApi OrtApi;
typedef struct OrtApiBase {
    const OrtApi *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

/* Slots of OrtApi (API version 1): each entry is a function pointer. */
enum {
    SLOT_GetErrorMessage = 2,
    SLOT_CreateEnv = 3,
    SLOT_DisableTelemetryEvents = 6,
    SLOT_CreateSession = 7,
    SLOT_Run = 9,
    SLOT_CreateSessionOptions = 10,
    SLOT_SetSessionExecutionMode = 13,
    SLOT_SetSessionGraphOptimizationLevel = 23,
    SLOT_SetIntraOpNumThreads = 24,
    SLOT_SetInterOpNumThreads = 25,
    SLOT_SessionGetInputCount = 30,
    SLOT_SessionGetOutputCount = 31,
    SLOT_SessionGetInputName = 36,
    SLOT_SessionGetOutputName = 37,
    SLOT_CreateTensorWithDataAsOrtValue = 49,
    SLOT_GetTensorMutableData = 51,
    SLOT_GetDimensionsCount = 61,
    SLOT_GetDimensions = 62,
    SLOT_GetTensorShapeElementCount = 64,
    SLOT_GetTensorTypeAndShape = 65,
    SLOT_CreateCpuMemoryInfo = 69,
    SLOT_GetAllocatorWithDefaultOptions = 78,
    SLOT_ReleaseValue = 96,
    SLOT_ReleaseTensorTypeAndShapeInfo = 99,
};

static void *const *api;

#define FN(slot, ret, ...) ((ret(*)(__VA_ARGS__))api[SLOT_##slot])

static void check(OrtStatus *st, const char *what)
{
    if (st) {
        const char *msg = FN(GetErrorMessage, const char *, const OrtStatus *)(st);
        fprintf(stderr, "ort_runner: %s: %s\n", what, msg);
        exit(1);
    }
}

#define MAX_IO 16

static void *read_file(const char *path, size_t want)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "ort_runner: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    void *buf = malloc(want ? want : 1);
    size_t got = fread(buf, 1, want, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != want || extra != EOF) {
        fprintf(stderr, "ort_runner: %s does not hold %zu bytes\n", path, want);
        exit(1);
    }
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s LIBONNXRUNTIME MODEL --repeat N [--out-dir DIR] "
                        "--input NAME D0,D1,... FILE ...\n", argv[0]);
        return 2;
    }
    const char *lib = argv[1], *model = argv[2], *out_dir = NULL;
    long repeat = 1;
    const char *in_names[MAX_IO];
    int64_t in_shapes[MAX_IO][8];
    size_t in_rank[MAX_IO], n_in = 0;
    const char *in_files[MAX_IO];
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--out-dir") && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (!strcmp(argv[i], "--input") && i + 3 < argc && n_in < MAX_IO) {
            in_names[n_in] = argv[++i];
            char *p = argv[++i];
            size_t r = 0;
            while (*p && r < 8) {
                in_shapes[n_in][r++] = strtoll(p, &p, 10);
                if (*p == ',')
                    p++;
            }
            in_rank[n_in] = r;
            in_files[n_in++] = argv[++i];
        } else {
            fprintf(stderr, "ort_runner: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (repeat < 1) {
        fprintf(stderr, "ort_runner: --repeat must be >= 1\n");
        return 2;
    }

    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "ort_runner: %s\n", dlerror());
        return 1;
    }
    const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(h, "OrtGetApiBase");
    if (!get_base) {
        fprintf(stderr, "ort_runner: no OrtGetApiBase in %s\n", lib);
        return 1;
    }
    const OrtApiBase *base = get_base();
    api = (void *const *)base->GetApi(1);
    if (!api) {
        fprintf(stderr, "ort_runner: onnxruntime %s has no API version 1\n", base->GetVersionString());
        return 1;
    }

    OrtEnv *env;
    check(FN(CreateEnv, OrtStatus *, int, const char *, OrtEnv **)(ORT_LOGGING_LEVEL_WARNING, "ort_runner", &env),
          "CreateEnv");
    /* No telemetry: its background work depends on the wall clock (and would be counted). */
    check(FN(DisableTelemetryEvents, OrtStatus *, const OrtEnv *)(env), "DisableTelemetryEvents");
    OrtSessionOptions *so;
    check(FN(CreateSessionOptions, OrtStatus *, OrtSessionOptions **)(&so), "CreateSessionOptions");
    check(FN(SetIntraOpNumThreads, OrtStatus *, OrtSessionOptions *, int)(so, 1), "SetIntraOpNumThreads");
    check(FN(SetInterOpNumThreads, OrtStatus *, OrtSessionOptions *, int)(so, 1), "SetInterOpNumThreads");
    check(FN(SetSessionExecutionMode, OrtStatus *, OrtSessionOptions *, int)(so, ORT_SEQUENTIAL),
          "SetSessionExecutionMode");
    check(FN(SetSessionGraphOptimizationLevel, OrtStatus *, OrtSessionOptions *, int)(so, ORT_ENABLE_ALL),
          "SetSessionGraphOptimizationLevel");
    OrtSession *sess;
    check(FN(CreateSession, OrtStatus *, const OrtEnv *, const char *, const OrtSessionOptions *, OrtSession **)(
              env, model, so, &sess),
          "CreateSession");

    OrtAllocator *alloc;
    check(FN(GetAllocatorWithDefaultOptions, OrtStatus *, OrtAllocator **)(&alloc), "GetAllocatorWithDefaultOptions");
    size_t n_model_in, n_out;
    check(FN(SessionGetInputCount, OrtStatus *, const OrtSession *, size_t *)(sess, &n_model_in), "SessionGetInputCount");
    check(FN(SessionGetOutputCount, OrtStatus *, const OrtSession *, size_t *)(sess, &n_out), "SessionGetOutputCount");
    if (n_model_in != n_in || n_out < 1 || n_out > MAX_IO) {
        fprintf(stderr, "ort_runner: the model has %zu inputs and %zu outputs, %zu inputs given\n", n_model_in,
                n_out, n_in);
        return 1;
    }
    for (size_t i = 0; i < n_in; i++) {
        char *name;
        check(FN(SessionGetInputName, OrtStatus *, const OrtSession *, size_t, OrtAllocator *, char **)(sess, i, alloc,
                                                                                                      &name),
              "SessionGetInputName");
        int found = 0;
        for (size_t j = 0; j < n_in; j++)
            found |= !strcmp(name, in_names[j]);
        if (!found) {
            fprintf(stderr, "ort_runner: the model's input %s was not given\n", name);
            return 1;
        }
    }
    char *out_names[MAX_IO];
    for (size_t i = 0; i < n_out; i++)
        check(FN(SessionGetOutputName, OrtStatus *, const OrtSession *, size_t, OrtAllocator *, char **)(
                  sess, i, alloc, &out_names[i]),
              "SessionGetOutputName");

    OrtMemoryInfo *mem;
    check(FN(CreateCpuMemoryInfo, OrtStatus *, int, int, OrtMemoryInfo **)(OrtArenaAllocator, OrtMemTypeDefault, &mem),
          "CreateCpuMemoryInfo");
    OrtValue *inputs[MAX_IO];
    for (size_t i = 0; i < n_in; i++) {
        size_t n = 1;
        for (size_t d = 0; d < in_rank[i]; d++)
            n *= (size_t)in_shapes[i][d];
        void *data = read_file(in_files[i], n * sizeof(float));
        check(FN(CreateTensorWithDataAsOrtValue, OrtStatus *, const OrtMemoryInfo *, void *, size_t, const int64_t *,
                 size_t, int, OrtValue **)(mem, data, n * sizeof(float), in_shapes[i], in_rank[i],
                                           ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &inputs[i]),
              "CreateTensorWithDataAsOrtValue");
    }

    OrtValue *outputs[MAX_IO];
    for (long r = 0; r < repeat; r++) {
        memset(outputs, 0, sizeof outputs);
        check(FN(Run, OrtStatus *, OrtSession *, const OrtRunOptions *, const char *const *, const OrtValue *const *,
                 size_t, const char *const *, size_t, OrtValue **)(sess, NULL, in_names, (const OrtValue *const *)inputs,
                                                                  n_in, (const char *const *)out_names, n_out, outputs),
              "Run");
        if (r + 1 < repeat)
            for (size_t i = 0; i < n_out; i++)
                FN(ReleaseValue, void, OrtValue *)(outputs[i]);
    }

    if (out_dir) {
        for (size_t i = 0; i < n_out; i++) {
            OrtTensorTypeAndShapeInfo *info;
            check(FN(GetTensorTypeAndShape, OrtStatus *, const OrtValue *, OrtTensorTypeAndShapeInfo **)(outputs[i],
                                                                                                        &info),
                  "GetTensorTypeAndShape");
            size_t count, rank;
            int64_t dims[8];
            check(FN(GetTensorShapeElementCount, OrtStatus *, const OrtTensorTypeAndShapeInfo *, size_t *)(info, &count),
                  "GetTensorShapeElementCount");
            check(FN(GetDimensionsCount, OrtStatus *, const OrtTensorTypeAndShapeInfo *, size_t *)(info, &rank),
                  "GetDimensionsCount");
            if (rank > 8) {
                fprintf(stderr, "ort_runner: output %s has rank %zu\n", out_names[i], rank);
                return 1;
            }
            check(FN(GetDimensions, OrtStatus *, const OrtTensorTypeAndShapeInfo *, int64_t *, size_t)(info, dims, rank),
                  "GetDimensions");
            FN(ReleaseTensorTypeAndShapeInfo, void, OrtTensorTypeAndShapeInfo *)(info);
            float *data;
            check(FN(GetTensorMutableData, OrtStatus *, OrtValue *, void **)(outputs[i], (void **)&data),
                  "GetTensorMutableData");
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.bin", out_dir, out_names[i]);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(data, sizeof(float), count, f) != count || fclose(f)) {
                fprintf(stderr, "ort_runner: cannot write %s\n", path);
                return 1;
            }
            snprintf(path, sizeof path, "%s/%s.shape", out_dir, out_names[i]);
            f = fopen(path, "w");
            if (!f) {
                fprintf(stderr, "ort_runner: cannot write %s\n", path);
                return 1;
            }
            for (size_t d = 0; d < rank; d++)
                fprintf(f, "%s%lld", d ? "," : "", (long long)dims[d]);
            fprintf(f, "\n");
            fclose(f);
        }
    }
    printf("onnxruntime %s: %ld runs, %zu outputs\n", base->GetVersionString(), repeat, n_out);
    return 0;
}
