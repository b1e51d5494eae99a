/*
 * insn_count.c - a QEMU 7.2 (plugin API v1) TCG plugin that counts executed
 * guest instructions: in total, within address ranges or named symbols, and
 * as a mnemonic histogram per range/symbol.
 *
 * Build (host shared library; the API declarations are in qemu_plugin_api.h):
 *   gcc -O2 -shared -fPIC -fvisibility=hidden -o libinsn.so insn_count.c
 * Run:
 *   qemu-aarch64 -L /usr/aarch64-linux-gnu \
 *       -plugin ./libinsn.so,sym=hlf_f32_gemv_acc,range=0x400000-0x401000:main \
 *       -d plugin -D report.txt ./prog args...
 *
 * Arguments (comma-separated after the library name; each may repeat):
 *   range=LO-HI[:LABEL]  count instructions with LO <= address < HI (hex with
 *                        0x, or decimal); LABEL names it in the report
 *   sym=NAME             count instructions inside ELF symbol NAME (QEMU's
 *                        own symbol lookup: the binary must not be stripped)
 *   hist=on|off          mnemonic histogram per range/symbol, or of the whole
 *                        program (region -1) when none is given (default on)
 *   outfile=PATH         write the report to PATH instead of QEMU's log
 *   mem=on|off           (default off) the Cortex-A73 model's inputs: count
 *                        instructions by class and feed every guest load and
 *                        store through a two-level cache model (below)
 *
 * Report (one record per line, fields separated by single spaces):
 *   insn_count total COUNT
 *   insn_count region INDEX LABEL LO HI COUNT    (LO HI are "sym sym" for sym=)
 *   insn_count hist INDEX MNEMONIC COUNT         (INDEX -1: whole program)
 *   insn_count class NAME COUNT                  (mem=on; whole program)
 *   insn_count cache NAME COUNT                  (mem=on; whole program)
 *
 * mem=on: every executed instruction is put in one class from its
 * disassembly (fpsimd: any FP/SIMD register operand and not a load, store
 * or branch; load; store; prfm; branch; int: the rest).  Every load/store
 * access (QEMU splits a vector access into pieces of at most 8 or 16 bytes;
 * each piece is one access here) looks up the 64-byte lines it touches in an
 * L1D of 64 KiB, 4-way, and on a miss in an L2 of 2 MiB, 16-way (LRU, write
 * back, write allocate, L2 not inclusive of L1); a dirty victim of L1 is
 * written into L2 (allocated there without a fill), a dirty victim of L2 is a
 * DRAM write.  Counters (one per line looked up): l1_hit, l1_miss, l2_hit,
 * l2_miss (a line fill from DRAM), l1_writeback, l2_writeback, and per access
 * loads, stores, load_bytes, store_bytes.  PRFM is a no-op in QEMU with no
 * memory callback and API v1 cannot read its address register, so prefetches
 * are only counted as instructions (the line arrives with its demand access).
 * There is no hardware prefetcher and no TLB.  The model is whole-program and
 * single-threaded (a multi-threaded guest would race on it).
 *
 * Counting is done with inline 64-bit adds generated into the translated
 * code (no helper calls): the total per translation block, the regions and
 * histogram per instruction.  Counts are exact for a single-threaded guest;
 * a block left early by an exception (e.g. a fault) still counts in full in
 * the total.  Inline adds are not atomic, so a multi-threaded guest may lose
 * a few counts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* Limits: regions given on the command line, distinct (region, mnemonic). */
#define MAX_REGIONS 64
#define HIST_SLOTS 8192 /* power of two; open addressing, never resized */
#define MNEMONIC_MAX 24

/* A range (lo <= pc < hi) or a symbol to count in. */
typedef struct region {
    uint64_t lo, hi;
    const char *label;  /* argv string: QEMU keeps argv alive */
    int is_sym;         /* 1: match qemu_plugin_insn_symbol() == label */
    uint64_t count;     /* executed instructions (inline add target) */
} region;

/* One histogram bucket; its count is an inline-add target, so slots never move. */
typedef struct hist_slot {
    int used;
    int region;
    char mnemonic[MNEMONIC_MAX];
    uint64_t count;
} hist_slot;

static region regions[MAX_REGIONS];
static int n_regions;
static int want_hist = 1;
static const char *out_path;
static uint64_t total_count;
static hist_slot *hist;           /* HIST_SLOTS entries, or NULL */
static uint64_t hist_overflow;    /* instructions whose slot could not be made */

/* FNV-1a over the region index and the mnemonic. */
static uint32_t hist_hash(int r, const char *mn) {
    uint32_t h = 2166136261u ^ (uint32_t)r;
    for (; *mn; mn++) {
        h = (h ^ (unsigned char)*mn) * 16777619u;
    }
    return h;
}

/* The counter of (region r, mnemonic mn), creating it; NULL if the table is full. */
static uint64_t *hist_counter(int r, const char *mn) {
    uint32_t i = hist_hash(r, mn) & (HIST_SLOTS - 1);
    for (uint32_t probe = 0; probe < HIST_SLOTS; probe++, i = (i + 1) & (HIST_SLOTS - 1)) {
        hist_slot *s = &hist[i];
        if (!s->used) {
            s->used = 1;
            s->region = r;
            snprintf(s->mnemonic, sizeof s->mnemonic, "%s", mn);
            return &s->count;
        }
        if (s->region == r && strcmp(s->mnemonic, mn) == 0) {
            return &s->count;
        }
    }
    return NULL;
}

/* First whitespace-delimited token of a disassembly line ("fmla v0.4s, ..."). */
static void mnemonic_of(const char *disas, char out[MNEMONIC_MAX]) {
    size_t k = 0;
    while (*disas == ' ' || *disas == '\t') {
        disas++;
    }
    while (disas[k] && disas[k] != ' ' && disas[k] != '\t' && k + 1 < MNEMONIC_MAX) {
        out[k] = disas[k];
        k++;
    }
    out[k] = '\0';
    if (k == 0) {
        snprintf(out, MNEMONIC_MAX, "?");
    }
}

/* ---------------------------------------------------------------------------
 * mem=on: instruction classes and the cache model (see the header comment)
 * ------------------------------------------------------------------------- */

enum insn_class { CLS_FPSIMD, CLS_LOAD, CLS_STORE, CLS_PRFM, CLS_BRANCH, CLS_INT, N_CLASSES };
static const char *const class_names[N_CLASSES] = {"fpsimd", "load",   "store",
                                                   "prfm",   "branch", "int"};
static uint64_t class_count[N_CLASSES];
static int want_mem;

#define LINE_SHIFT 6 /* 64-byte lines in both levels */

typedef struct cache_level {
    unsigned sets, ways; /* sets: a power of two */
    uint64_t *tag;       /* line number + 1, 0 = invalid; [set * ways + way] */
    uint64_t *stamp;     /* last use (LRU: the smallest stamp is the victim) */
    unsigned char *dirty;
} cache_level;

static cache_level l1d, l2c;
static uint64_t lru_clock;

enum cache_counter {
    C_L1_HIT, C_L1_MISS, C_L2_HIT, C_L2_MISS, C_L1_WB, C_L2_WB,
    C_LOADS, C_STORES, C_LOAD_BYTES, C_STORE_BYTES, N_CACHE_COUNTERS
};
static const char *const cache_names[N_CACHE_COUNTERS] = {
    "l1_hit", "l1_miss", "l2_hit", "l2_miss", "l1_writeback", "l2_writeback",
    "loads", "stores", "load_bytes", "store_bytes"};
static uint64_t cache_count[N_CACHE_COUNTERS];

static int cache_init(cache_level *c, unsigned bytes, unsigned ways) {
    c->ways = ways;
    c->sets = bytes >> LINE_SHIFT;
    c->sets /= ways;
    c->tag = calloc((size_t)c->sets * ways, sizeof *c->tag);
    c->stamp = calloc((size_t)c->sets * ways, sizeof *c->stamp);
    c->dirty = calloc((size_t)c->sets * ways, 1);
    return c->tag && c->stamp && c->dirty ? 0 : -1;
}

/*
 * Looks line up in c.  A hit refreshes its LRU stamp and returns 1; a miss
 * puts the line in the LRU way and returns 0, reporting a valid dirty victim
 * in *victim (else *victim = 0; victims are line + 1).  make_dirty marks it.
 */
static int cache_touch(cache_level *c, uint64_t line, int make_dirty, uint64_t *victim) {
    const unsigned set = (unsigned)line & (c->sets - 1);
    uint64_t *tag = c->tag + (size_t)set * c->ways;
    uint64_t *stamp = c->stamp + (size_t)set * c->ways;
    unsigned char *dirty = c->dirty + (size_t)set * c->ways;
    unsigned lru = 0;
    *victim = 0;
    for (unsigned w = 0; w < c->ways; w++) {
        if (tag[w] == line + 1) {
            stamp[w] = ++lru_clock;
            dirty[w] |= (unsigned char)make_dirty;
            return 1;
        }
        if (stamp[w] < stamp[lru]) {
            lru = w;
        }
    }
    if (tag[lru] != 0 && dirty[lru]) {
        *victim = tag[lru];
    }
    tag[lru] = line + 1;
    stamp[lru] = ++lru_clock;
    dirty[lru] = (unsigned char)make_dirty;
    return 0;
}

/* One line of a load (store = 0) or store through L1 and L2. */
static void line_access(uint64_t line, int store) {
    uint64_t victim, victim2;
    if (cache_touch(&l1d, line, store, &victim)) {
        cache_count[C_L1_HIT]++;
        return;
    }
    cache_count[C_L1_MISS]++;
    /* The fill: from L2, else from DRAM (into L2 as well). */
    if (cache_touch(&l2c, line, 0, &victim2)) {
        cache_count[C_L2_HIT]++;
    } else {
        cache_count[C_L2_MISS]++;
        if (victim2) {
            cache_count[C_L2_WB]++;
        }
    }
    /* The dirty line L1 gave up is written into L2 (a full line: no fill). */
    if (victim) {
        cache_count[C_L1_WB]++;
        if (!cache_touch(&l2c, victim - 1, 1, &victim2) && victim2) {
            cache_count[C_L2_WB]++;
        }
    }
}

static void vcpu_mem(unsigned int vcpu_index, qemu_plugin_meminfo_t info, uint64_t vaddr,
                     void *userdata) {
    const uint64_t size = 1ull << qemu_plugin_mem_size_shift(info);
    const int store = qemu_plugin_mem_is_store(info) ? 1 : 0;
    const uint64_t last = (vaddr + size - 1) >> LINE_SHIFT;
    (void)vcpu_index;
    (void)userdata;
    cache_count[store ? C_STORES : C_LOADS]++;
    cache_count[store ? C_STORE_BYTES : C_LOAD_BYTES] += size;
    for (uint64_t line = vaddr >> LINE_SHIFT; line <= last; line++) {
        line_access(line, store);
    }
}

/* A register operand token of the FP/SIMD file: v0, q1, d2, s3, h4, b5 (v0.4s, v1.s[0] too). */
static int is_fpsimd_reg(const char *t, size_t n) {
    size_t k = 1;
    if (n < 2 || strchr("vqdshb", t[0]) == NULL) {
        return 0;
    }
    while (k < n && t[k] >= '0' && t[k] <= '9') {
        k++;
    }
    return k > 1 && (k == n || t[k] == '.');
}

static int starts(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The class of one instruction from its disassembly ("fmla v0.4s, v1.4s, v2.s[0]"). */
static enum insn_class classify(const char *disas) {
    char mn[MNEMONIC_MAX];
    const char *p;
    mnemonic_of(disas, mn);
    if (starts(mn, "prfm") || starts(mn, "prfum")) {
        return CLS_PRFM;
    }
    if (mn[0] == 'l' && mn[1] == 'd') { /* ld1, ldr, ldp, ldur, ldxr, ldar, ldadd, ... */
        return CLS_LOAD;
    }
    if (mn[0] == 's' && mn[1] == 't') { /* st1, str, stp, stur, stxr, stlr, ... */
        return CLS_STORE;
    }
    if (strcmp(mn, "b") == 0 || starts(mn, "b.") || strcmp(mn, "bl") == 0 ||
        strcmp(mn, "br") == 0 || strcmp(mn, "blr") == 0 || strcmp(mn, "ret") == 0 ||
        starts(mn, "cbz") || starts(mn, "cbnz") || starts(mn, "tbz") || starts(mn, "tbnz")) {
        return CLS_BRANCH;
    }
    if (mn[0] == 'f') { /* fmla, fadd, fcvt, fmov, ... (a float op even on w/x operands) */
        return CLS_FPSIMD;
    }
    p = disas;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    p += strlen(mn) <= strlen(p) ? strlen(mn) : strlen(p);
    while (*p) {
        size_t n = 0;
        while (p[n] && (p[n] == '.' || (p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'z'))) {
            n++;
        }
        if (n > 0 && is_fpsimd_reg(p, n)) {
            return CLS_FPSIMD;
        }
        p += n > 0 ? n : 1;
    }
    return CLS_INT;
}

/* Translation: attach the inline counters to the block and its instructions. */
static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    const size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total_count, n);
    if (want_mem) {
        for (size_t i = 0; i < n; i++) {
            struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            char *d = qemu_plugin_insn_disas(insn);
            const enum insn_class c = classify(d ? d : "?");
            free(d);
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &class_count[c], 1);
            qemu_plugin_register_vcpu_mem_cb(insn, vcpu_mem, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_RW, NULL);
        }
    }
    if (n_regions == 0 && hist == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint64_t pc = qemu_plugin_insn_vaddr(insn);
        const char *sym = NULL;
        int sym_looked_up = 0;
        char mn[MNEMONIC_MAX];
        int have_mn = 0;

        /* No range/symbol given: the histogram covers every instruction. */
        if (n_regions == 0) {
            char *d = qemu_plugin_insn_disas(insn);
            uint64_t *c;
            mnemonic_of(d ? d : "?", mn);
            free(d);
            c = hist_counter(-1, mn);
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       c ? c : &hist_overflow, 1);
            continue;
        }
        for (int r = 0; r < n_regions; r++) {
            region *g = &regions[r];
            int hit;
            if (g->is_sym) {
                if (!sym_looked_up) {
                    sym = qemu_plugin_insn_symbol(insn);
                    sym_looked_up = 1;
                }
                hit = sym != NULL && strcmp(sym, g->label) == 0;
            } else {
                hit = pc >= g->lo && pc < g->hi;
            }
            if (!hit) {
                continue;
            }
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64,
                                                       &g->count, 1);
            if (hist != NULL) {
                uint64_t *c;
                if (!have_mn) {
                    char *d = qemu_plugin_insn_disas(insn);
                    mnemonic_of(d ? d : "?", mn);
                    free(d);
                    have_mn = 1;
                }
                c = hist_counter(r, mn);
                qemu_plugin_register_vcpu_insn_exec_inline(
                    insn, QEMU_PLUGIN_INLINE_ADD_U64, c ? c : &hist_overflow, 1);
            }
        }
    }
}

/* Emits one report line to the output file or QEMU's log. */
static void emit(FILE *f, const char *line) {
    if (f != NULL) {
        fputs(line, f);
    } else {
        qemu_plugin_outs(line);
    }
}

/* At exit: print the report. */
static void plugin_exit(qemu_plugin_id_t id, void *userdata) {
    char line[256];
    FILE *f = NULL;
    (void)id;
    (void)userdata;
    if (out_path != NULL) {
        f = fopen(out_path, "w");
        if (f == NULL) {
            snprintf(line, sizeof line, "insn_count: cannot write %s\n", out_path);
            qemu_plugin_outs(line);
        }
    }
    snprintf(line, sizeof line, "insn_count total %" PRIu64 "\n", total_count);
    emit(f, line);
    for (int r = 0; r < n_regions; r++) {
        const region *g = &regions[r];
        if (g->is_sym) {
            snprintf(line, sizeof line, "insn_count region %d %s sym sym %" PRIu64 "\n", r,
                     g->label, g->count);
        } else {
            snprintf(line, sizeof line,
                     "insn_count region %d %s 0x%" PRIx64 " 0x%" PRIx64 " %" PRIu64 "\n", r,
                     g->label, g->lo, g->hi, g->count);
        }
        emit(f, line);
    }
    if (want_mem) {
        for (int c = 0; c < N_CLASSES; c++) {
            snprintf(line, sizeof line, "insn_count class %s %" PRIu64 "\n", class_names[c],
                     class_count[c]);
            emit(f, line);
        }
        for (int c = 0; c < N_CACHE_COUNTERS; c++) {
            snprintf(line, sizeof line, "insn_count cache %s %" PRIu64 "\n", cache_names[c],
                     cache_count[c]);
            emit(f, line);
        }
    }
    if (hist != NULL) {
        for (int i = 0; i < HIST_SLOTS; i++) {
            if (hist[i].used && hist[i].count > 0) {
                snprintf(line, sizeof line, "insn_count hist %d %s %" PRIu64 "\n",
                         hist[i].region, hist[i].mnemonic, hist[i].count);
                emit(f, line);
            }
        }
        if (hist_overflow > 0) {
            snprintf(line, sizeof line, "insn_count hist -2 (overflow) %" PRIu64 "\n",
                     hist_overflow);
            emit(f, line);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* Parses "LO-HI[:LABEL]" into g; returns 0 on success. */
static int parse_range(const char *spec, region *g) {
    char *end;
    g->lo = strtoull(spec, &end, 0);
    if (end == spec || *end != '-') {
        return -1;
    }
    spec = end + 1;
    g->hi = strtoull(spec, &end, 0);
    if (end == spec || (*end != '\0' && *end != ':') || g->hi <= g->lo) {
        return -1;
    }
    g->label = *end == ':' && end[1] != '\0' ? end + 1 : "range";
    g->is_sym = 0;
    return 0;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
    char msg[256];
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "range=", 6) == 0 || strncmp(a, "sym=", 4) == 0) {
            region *g;
            if (n_regions == MAX_REGIONS) {
                qemu_plugin_outs("insn_count: too many range=/sym= arguments\n");
                return -1;
            }
            g = &regions[n_regions];
            if (a[0] == 'r') {
                if (parse_range(a + 6, g) != 0) {
                    snprintf(msg, sizeof msg, "insn_count: bad range '%s' (want LO-HI[:LABEL])\n",
                             a + 6);
                    qemu_plugin_outs(msg);
                    return -1;
                }
            } else {
                g->label = a + 4;
                g->is_sym = 1;
            }
            n_regions++;
        } else if (strcmp(a, "hist=on") == 0) {
            want_hist = 1;
        } else if (strcmp(a, "hist=off") == 0) {
            want_hist = 0;
        } else if (strcmp(a, "mem=on") == 0) {
            want_mem = 1;
        } else if (strcmp(a, "mem=off") == 0) {
            want_mem = 0;
        } else if (strncmp(a, "outfile=", 8) == 0) {
            out_path = a + 8;
        } else {
            snprintf(msg, sizeof msg, "insn_count: unknown argument '%s'\n", a);
            qemu_plugin_outs(msg);
            return -1;
        }
    }
    if (want_mem && (cache_init(&l1d, 64 * 1024, 4) != 0 || cache_init(&l2c, 2048 * 1024, 16) != 0)) {
        return -1;
    }
    if (want_hist) {
        hist = calloc(HIST_SLOTS, sizeof *hist);
        if (hist == NULL) {
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_atexit_cb(id, plugin_exit, NULL);
    return 0;
}
