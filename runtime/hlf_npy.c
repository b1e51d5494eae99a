/*
 * hlf_npy.c - allocation-free .npy reader/writer (see hlf_npy.h).
 *
 * Values are encoded and decoded byte by byte as little-endian, so the code
 * does not depend on the host byte order (it does assume IEEE-754 floats).
 */
#include "hlf_npy.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_PREAMBLE_LEN 8      /* magic + major + minor version bytes */
#define NPY_V1_LEN_BYTES 2      /* header length field of version 1.0 */
#define NPY_V2_LEN_BYTES 4      /* ... of versions 2.0 and 3.0 */
#define NPY_ALIGNMENT 64        /* numpy pads the whole preamble to this */
#define NPY_KEY_LEN 32          /* longest dict key kept */
#define NPY_CHUNK_BYTES 4096    /* conversion buffer, a multiple of 8 */

/* Bits of the keys seen in the header dict. */
#define KEY_DESCR 1u
#define KEY_FORTRAN 2u
#define KEY_SHAPE 4u
#define KEY_ALL (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE)

#if defined(__GNUC__) || defined(__clang__)
#define NPY_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define NPY_PRINTF(fmt, args)
#endif

/* Formats a one-line message into err; always returns -1. */
static int set_error(char *err, size_t err_len, const char *fmt, ...) NPY_PRINTF(3, 4);
static int set_error(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || err_len == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

size_t hlf_dtype_size(int dtype)
{
    switch (dtype) {
    case HLF_DTYPE_F32: return 4;
    case HLF_DTYPE_I32: return 4;
    case HLF_DTYPE_I64: return 8;
    case HLF_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

const char *hlf_dtype_name(int dtype)
{
    switch (dtype) {
    case HLF_DTYPE_F32: return "float32";
    case HLF_DTYPE_I32: return "int32";
    case HLF_DTYPE_I64: return "int64";
    case HLF_DTYPE_BOOL: return "bool";
    default: return "unknown";
    }
}

/* The element types a file may hold. */
static const int k_dtypes[] = {HLF_DTYPE_F32, HLF_DTYPE_I32, HLF_DTYPE_I64, HLF_DTYPE_BOOL};

/* The numpy descr string of an element type, or NULL. */
static const char *dtype_descr(int dtype)
{
    switch (dtype) {
    case HLF_DTYPE_F32: return "<f4";
    case HLF_DTYPE_I32: return "<i4";
    case HLF_DTYPE_I64: return "<i8";
    case HLF_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Little-endian encoding                                                   */

/* Reads an unsigned little-endian integer of n <= 8 bytes. */
static uint64_t load_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    size_t i;
    for (i = n; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

/* Writes the low n <= 8 bytes of v little-endian. */
static void store_le(unsigned char *p, uint64_t v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p[i] = (unsigned char)(v & 0xffu);
        v >>= 8;
    }
}

/* Decodes one stored integer element (int32 or int64) as int64. */
static int64_t decode_int(const unsigned char *p, int dtype)
{
    if (dtype == HLF_DTYPE_I32) {
        uint32_t bits = (uint32_t)load_le(p, 4);
        int32_t v;
        memcpy(&v, &bits, sizeof v);    /* two's complement reinterpretation */
        return v;
    } else {
        uint64_t bits = load_le(p, 8);
        int64_t v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
}

/* Decodes one stored float32 element. */
static float decode_f32(const unsigned char *p)
{
    uint32_t bits = (uint32_t)load_le(p, 4);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Encodes element i of the array at data (of dtype) into p. */
static void encode_element(unsigned char *p, const void *data, size_t i, int dtype)
{
    uint32_t bits32;
    uint64_t bits64;
    switch (dtype) {
    case HLF_DTYPE_F32:
        memcpy(&bits32, (const float *)data + i, sizeof bits32);
        store_le(p, bits32, 4);
        break;
    case HLF_DTYPE_I32:
        memcpy(&bits32, (const int32_t *)data + i, sizeof bits32);
        store_le(p, bits32, 4);
        break;
    case HLF_DTYPE_BOOL:
        p[0] = (unsigned char)(((const uint8_t *)data)[i] != 0);
        break;
    default:
        memcpy(&bits64, (const int64_t *)data + i, sizeof bits64);
        store_le(p, bits64, 8);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Header dict parser: {'descr': '<f4', 'fortran_order': False,             */
/*                      'shape': (3, 4), }                                  */

typedef struct cursor {
    const char *p;
    const char *end;
    char *err;
    size_t err_len;
} cursor;

/* Skips whitespace; returns the next character or '\0' at the end. */
static char peek(cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p))
        c->p++;
    return c->p < c->end ? *c->p : '\0';
}

/* Reports a syntax error at the cursor position. */
static int syntax_error(cursor *c, const char *what, const char *start)
{
    return set_error(c->err, c->err_len, "malformed .npy header: expected %s at offset %ld",
                     what, (long)(c->p - start));
}

/* Consumes the character ch (after whitespace); returns 0 or -1 if absent. */
static int accept(cursor *c, char ch)
{
    if (peek(c) != ch)
        return -1;
    c->p++;
    return 0;
}

/* Parses a quoted string ('...' or "...") into out. */
static int parse_string(cursor *c, char *out, size_t out_len)
{
    char quote = peek(c);
    size_t n = 0;
    if (quote != '\'' && quote != '"')
        return -1;
    c->p++;
    while (c->p < c->end && *c->p != quote) {
        if (n + 1 >= out_len)
            return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;                     /* closing quote */
    out[n] = '\0';
    return 0;
}

/* Parses a Python bool literal (True / False). */
static int parse_bool(cursor *c, int *value)
{
    size_t left;
    peek(c);
    left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *value = 1;
        return 0;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *value = 0;
        return 0;
    }
    return -1;
}

/* Parses a non-negative decimal integer (an optional Python 2 'L' suffix). */
static int parse_dim(cursor *c, long *value)
{
    long v = 0;
    if (!isdigit((unsigned char)peek(c)))
        return -1;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
        int digit = *c->p - '0';
        if (v > (LONG_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L')
        c->p++;
    *value = v;
    return 0;
}

/* Parses the shape tuple, e.g. "()", "(5,)" or "(5, 2, 3)". */
static int parse_shape(cursor *c, hlf_npy_info *info, const char *start)
{
    if (accept(c, '(') != 0)
        return syntax_error(c, "'(' of the shape", start);
    info->rank = 0;
    while (peek(c) != ')') {
        long dim;
        if (info->rank == HLF_MAX_RANK)
            return set_error(c->err, c->err_len, "array rank exceeds %d", HLF_MAX_RANK);
        if (parse_dim(c, &dim) != 0)
            return syntax_error(c, "a dimension", start);
        info->shape[info->rank++] = dim;
        if (accept(c, ',') != 0)
            break;
    }
    if (accept(c, ')') != 0)
        return syntax_error(c, "')' of the shape", start);
    return 0;
}

/* Records the descr string and its element type (0 if unsupported). */
static int parse_descr(cursor *c, hlf_npy_info *info, const char *start)
{
    size_t i;
    if (peek(c) == '[')
        return set_error(c->err, c->err_len, "structured arrays are not supported");
    if (parse_string(c, info->descr, sizeof info->descr) != 0)
        return syntax_error(c, "the descr string", start);
    info->dtype = 0;
    for (i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(info->descr, dtype_descr(k_dtypes[i])) == 0)
            info->dtype = k_dtypes[i];
    return 0;
}

/* Parses one "key: value" entry of the header dict; records it in *seen. */
static int parse_entry(cursor *c, hlf_npy_info *info, unsigned *seen, const char *start)
{
    char key[NPY_KEY_LEN];
    int fortran = 0;
    if (parse_string(c, key, sizeof key) != 0)
        return syntax_error(c, "a quoted key", start);
    if (accept(c, ':') != 0)
        return syntax_error(c, "':'", start);
    if (strcmp(key, "descr") == 0) {
        *seen |= KEY_DESCR;
        return parse_descr(c, info, start);
    }
    if (strcmp(key, "shape") == 0) {
        *seen |= KEY_SHAPE;
        return parse_shape(c, info, start);
    }
    if (strcmp(key, "fortran_order") == 0) {
        *seen |= KEY_FORTRAN;
        if (parse_bool(c, &fortran) != 0)
            return syntax_error(c, "True or False", start);
        if (fortran)
            return set_error(c->err, c->err_len,
                             "fortran_order True is not supported (save a C-order array, "
                             "e.g. np.ascontiguousarray)");
        return 0;
    }
    return set_error(c->err, c->err_len, "unexpected key '%s' in .npy header", key);
}

/* Multiplies out the shape into info->count, rejecting overflow. */
static int compute_count(hlf_npy_info *info, char *err, size_t err_len)
{
    size_t count = 1;
    size_t limit = SIZE_MAX / 8;    /* so that count * element size fits */
    int i;
    for (i = 0; i < info->rank; i++) {
        size_t dim = (size_t)info->shape[i];
        if (dim != 0 && count > limit / dim)
            return set_error(err, err_len, "array too large");
        count *= dim;
    }
    info->count = count;
    return 0;
}

/* Parses the header dict text[0:len] into info. */
static int parse_header_dict(const char *text, size_t len, hlf_npy_info *info,
                             char *err, size_t err_len)
{
    cursor c;
    unsigned seen = 0;
    c.p = text;
    c.end = text + len;
    c.err = err;
    c.err_len = err_len;
    if (accept(&c, '{') != 0)
        return syntax_error(&c, "'{'", text);
    while (peek(&c) != '}') {
        if (parse_entry(&c, info, &seen, text) != 0)
            return -1;
        if (accept(&c, ',') != 0)
            break;
    }
    if (accept(&c, '}') != 0)
        return syntax_error(&c, "'}'", text);
    if (seen != KEY_ALL)
        return set_error(err, err_len,
                         "malformed .npy header: needs 'descr', 'fortran_order' and 'shape'");
    return compute_count(info, err, err_len);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/* Reads the version preamble; stores the header length. */
static int read_preamble(FILE *f, size_t *header_len, char *err, size_t err_len)
{
    unsigned char pre[NPY_PREAMBLE_LEN];
    unsigned char len_bytes[NPY_V2_LEN_BYTES];
    size_t len_size;
    int major;
    if (fread(pre, 1, sizeof pre, f) != sizeof pre)
        return set_error(err, err_len, "not an .npy file (too short)");
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return set_error(err, err_len, "not an .npy file (bad magic)");
    major = pre[NPY_MAGIC_LEN];
    if (major == 1)
        len_size = NPY_V1_LEN_BYTES;
    else if (major == 2 || major == 3)
        len_size = NPY_V2_LEN_BYTES;
    else
        return set_error(err, err_len, "unsupported .npy format version %d.%d", major,
                         pre[NPY_MAGIC_LEN + 1]);
    if (fread(len_bytes, 1, len_size, f) != len_size)
        return set_error(err, err_len, "truncated .npy header");
    *header_len = (size_t)load_le(len_bytes, len_size);
    return 0;
}

int hlf_npy_read_header(FILE *f, hlf_npy_info *info, char *err, size_t err_len)
{
    char text[HLF_NPY_MAX_HEADER];
    size_t len = 0;
    if (read_preamble(f, &len, err, err_len) != 0)
        return -1;
    if (len > sizeof text)
        return set_error(err, err_len, ".npy header too long (%lu bytes, max %d)",
                         (unsigned long)len, HLF_NPY_MAX_HEADER);
    if (fread(text, 1, len, f) != len)
        return set_error(err, err_len, "truncated .npy header");
    memset(info, 0, sizeof *info);
    return parse_header_dict(text, len, info, err, err_len);
}

/* Whether elements stored as src can be read as dst. */
static int can_convert(int src, int dst)
{
    if (dst == HLF_DTYPE_F32 || dst == HLF_DTYPE_BOOL)
        return src == dst;
    return (dst == HLF_DTYPE_I32 || dst == HLF_DTYPE_I64)
           && (src == HLF_DTYPE_I32 || src == HLF_DTYPE_I64);
}

/* Converts n stored elements at src into dst[first:first + n]. */
static int convert_chunk(const unsigned char *src, int src_dtype, size_t n, void *dst,
                         int dst_dtype, size_t first, char *err, size_t err_len)
{
    size_t src_size = hlf_dtype_size(src_dtype);
    size_t i;
    for (i = 0; i < n; i++, src += src_size) {
        int64_t v;
        if (dst_dtype == HLF_DTYPE_F32) {
            ((float *)dst)[first + i] = decode_f32(src);
            continue;
        }
        if (dst_dtype == HLF_DTYPE_BOOL) { /* numpy bool: one byte, 0 or 1 */
            ((uint8_t *)dst)[first + i] = (uint8_t)(src[0] != 0);
            continue;
        }
        v = decode_int(src, src_dtype);
        if (dst_dtype == HLF_DTYPE_I64) {
            ((int64_t *)dst)[first + i] = v;
        } else if (v < INT32_MIN || v > INT32_MAX) {
            return set_error(err, err_len, "value %lld at flat index %lu does not fit in int32",
                             (long long)v, (unsigned long)(first + i));
        } else {
            ((int32_t *)dst)[first + i] = (int32_t)v;
        }
    }
    return 0;
}

int hlf_npy_read_data(FILE *f, const hlf_npy_info *info, int dst_dtype, void *dst,
                      char *err, size_t err_len)
{
    unsigned char chunk[NPY_CHUNK_BYTES];
    size_t src_size = hlf_dtype_size(info->dtype);
    size_t per_chunk = sizeof chunk / src_size;
    size_t done = 0;
    if (!can_convert(info->dtype, dst_dtype))
        return set_error(err, err_len, "'%s' data cannot be read as %s", info->descr,
                         hlf_dtype_name(dst_dtype));
    while (done < info->count) {
        size_t n = info->count - done < per_chunk ? info->count - done : per_chunk;
        size_t got = fread(chunk, src_size, n, f);
        if (got != n)
            return set_error(err, err_len, "truncated .npy data: expected %lu elements, got %lu",
                             (unsigned long)info->count, (unsigned long)(done + got));
        if (convert_chunk(chunk, info->dtype, n, dst, dst_dtype, done, err, err_len) != 0)
            return -1;
        done += n;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Formats the padded version 1.0 header dict (ending in '\n') into text. */
static int format_header(char *text, size_t size, int dtype, int rank, const long *shape,
                         size_t *len)
{
    int n = snprintf(text, size, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     dtype_descr(dtype));
    int i;
    for (i = 0; i < rank && n > 0 && (size_t)n < size; i++)
        n += snprintf(text + n, size - (size_t)n, "%ld%s", shape[i],
                      rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
    if (n > 0 && (size_t)n < size)
        n += snprintf(text + n, size - (size_t)n, "), }");
    if (n < 0 || (size_t)n >= size)
        return -1;
    /* Pad with spaces so that preamble + header + '\n' is 64-byte aligned. */
    while ((NPY_PREAMBLE_LEN + NPY_V1_LEN_BYTES + (size_t)n + 1) % NPY_ALIGNMENT != 0) {
        if ((size_t)n + 2 >= size)
            return -1;
        text[n++] = ' ';
    }
    text[n++] = '\n';
    *len = (size_t)n;
    return 0;
}

/* Writes the preamble and header; returns 0 or -1 on an I/O error. */
static int write_header(FILE *f, const char *text, size_t len)
{
    unsigned char pre[NPY_PREAMBLE_LEN + NPY_V1_LEN_BYTES];
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[NPY_MAGIC_LEN] = 1;         /* version 1.0 */
    pre[NPY_MAGIC_LEN + 1] = 0;
    store_le(pre + NPY_PREAMBLE_LEN, len, NPY_V1_LEN_BYTES);
    if (fwrite(pre, 1, sizeof pre, f) != sizeof pre)
        return -1;
    return fwrite(text, 1, len, f) == len ? 0 : -1;
}

/* Writes count elements of dtype little-endian through a chunk buffer. */
static int write_data(FILE *f, int dtype, const void *data, size_t count)
{
    unsigned char chunk[NPY_CHUNK_BYTES];
    size_t size = hlf_dtype_size(dtype);
    size_t per_chunk = sizeof chunk / size;
    size_t done = 0;
    while (done < count) {
        size_t n = count - done < per_chunk ? count - done : per_chunk;
        size_t i;
        for (i = 0; i < n; i++)
            encode_element(chunk + i * size, data, done + i, dtype);
        if (fwrite(chunk, size, n, f) != n)
            return -1;
        done += n;
    }
    return 0;
}

int hlf_npy_write(const char *path, int dtype, int rank, const long *shape,
                  const void *data, char *err, size_t err_len)
{
    char text[HLF_NPY_MAX_HEADER];
    size_t len;
    size_t count = 1;
    int i;
    int failed;
    FILE *f;
    if (dtype_descr(dtype) == NULL || rank < 0 || rank > HLF_MAX_RANK)
        return set_error(err, err_len, "cannot write %s: bad dtype or rank", path);
    if (format_header(text, sizeof text, dtype, rank, shape, &len) != 0)
        return set_error(err, err_len, "cannot write %s: header too long", path);
    for (i = 0; i < rank; i++)
        count *= (size_t)shape[i];
    f = fopen(path, "wb");
    if (f == NULL)
        return set_error(err, err_len, "cannot write %s: %s", path, strerror(errno));
    failed = write_header(f, text, len) != 0 || write_data(f, dtype, data, count) != 0;
    if (failed)
        set_error(err, err_len, "cannot write %s: %s", path, strerror(errno));
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        set_error(err, err_len, "cannot write %s: %s", path, strerror(errno));
    }
    return failed ? -1 : 0;
}
