/* cpuinfo_shim: an LD_PRELOAD library that shows a guest program under qemu-user a chosen CPU.
 *
 * qemu-user passes the host's /proc/cpuinfo and /sys/devices/system/cpu through to the guest: an
 * x86 host's, on which onnxruntime's CPU detection (the cpuinfo library) crashes, and whose cache
 * and frequency files would make the guest's choices depend on the host.  With HLF_CPUINFO_ROOT=DIR
 * in the guest's environment, every open of /proc/cpuinfo or of a path under
 * /sys/devices/system/cpu/ opens DIR followed by that path instead (a file absent from DIR is
 * absent for the guest: ENOENT).  `hlfgen bench --ort-aarch64` writes DIR with a one-core
 * Cortex-A73's /proc/cpuinfo and possible / present / kernel_max = 0.
 *
 * Build: aarch64-linux-gnu-gcc -O2 -shared -fPIC -o cpuinfo_shim.so cpuinfo_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *redirect(const char *path, char *buf, size_t len)
{
    const char *root = getenv("HLF_CPUINFO_ROOT");
    if (!root || !path)
        return path;
    if (strcmp(path, "/proc/cpuinfo") != 0 && strncmp(path, "/sys/devices/system/cpu/", 24) != 0)
        return path;
    if ((size_t)snprintf(buf, len, "%s%s", root, path) >= len)
        return path;
    return buf;
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef FILE *(*fopen_fn)(const char *, const char *);

/* The next definition of NAME (libc's), looked up once. */
#define NEXT(name, type)         \
    static type next_##name;     \
    if (!next_##name)            \
        next_##name = (type)dlsym(RTLD_NEXT, #name)

static int mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    NEXT(open, open_fn);
    return next_open(redirect(path, buf, sizeof buf), flags, mode);
}

int open64(const char *path, int flags, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    NEXT(open64, open_fn);
    return next_open64(redirect(path, buf, sizeof buf), flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    NEXT(openat, openat_fn);
    return next_openat(dirfd, redirect(path, buf, sizeof buf), flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, flags);
    int mode = mode_arg(flags, ap);
    va_end(ap);
    NEXT(openat64, openat_fn);
    return next_openat64(dirfd, redirect(path, buf, sizeof buf), flags, mode);
}

int __open_2(const char *path, int flags)
{
    char buf[4096];
    NEXT(__open_2, open2_fn);
    return next___open_2(redirect(path, buf, sizeof buf), flags);
}

int __open64_2(const char *path, int flags)
{
    char buf[4096];
    NEXT(__open64_2, open2_fn);
    return next___open64_2(redirect(path, buf, sizeof buf), flags);
}

FILE *fopen(const char *path, const char *mode)
{
    char buf[4096];
    NEXT(fopen, fopen_fn);
    return next_fopen(redirect(path, buf, sizeof buf), mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    char buf[4096];
    NEXT(fopen64, fopen_fn);
    return next_fopen64(redirect(path, buf, sizeof buf), mode);
}
