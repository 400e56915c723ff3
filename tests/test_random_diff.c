/*
 * Randomized differential test of the memory core.
 *
 * Thousands of random region trees and random mutation sequences, each from
 * a fixed seed, are resolved two ways that must agree at every probed
 * address:
 *   1. the real thing: the address space's dispatch (dispatch_lookup +
 *      dispatch_section), its flat view, and as_read/as_write through it;
 *   2. a deliberately naive reference resolver (ref_region() below) that
 *      walks the region tree for one address at a time, using nothing but
 *      the public introspection API (mr_child in render order, mr_addr,
 *      mr_size, mr_enabled, mr_kind, mr_alias_target/offset, mr_readonly),
 *      with 128-bit arithmetic so nothing can overflow.
 *
 * Semantics the reference implements (memory-semantics.md §1-§3):
 *   - a region covers [addr, addr + size) of its parent, clipped to the
 *     parent's size; a disabled region covers nothing (this includes an
 *     alias's target: a disabled target shows nothing through its aliases);
 *   - a container tries its children in mr_child() order (priority
 *     descending, newest first among equals); the first child that covers
 *     the address *and resolves it to a leaf* wins; a container where no
 *     child resolves is transparent, so lower siblings show through;
 *   - an alias at relative address x continues in its target at
 *     alias_offset + x, clipped to the target's size;
 *   - RAM, ROM, MMIO and ROMD regions are leaves: (leaf, offset) is the
 *     answer; the flat range is read-only iff the leaf or an alias on the
 *     path is read-only (a ROM reports mr_readonly() == true).
 * Child order itself is checked against the order the test added them in.
 *
 * Also checked after every mutation (or outermost commit), per address
 * space: as_flatview() == flatview_render(root); the fresh render sorted,
 * disjoint and merged; each section's readonly/romd_mode/dirty_log_mask;
 * dispatch_lookup()'s `last` (the reference agrees at `last` and inside the
 * run, and last + 1 is another section); 1- and 8-byte as_read_val() and
 * as_read() of up to 64 bytes straddling sections, byte for byte; 1-byte
 * writes (RAM written, read-only RAM/ROM refused with MEM_ACCESS_ERROR and
 * unchanged, MMIO callbacks called, holes MEM_DECODE_ERROR). Inside a
 * transaction no dispatch may change. Refused calls (HAS_PARENT, CYCLE,
 * NOT_CHILD, size 0, resizing RAM) must leave the rendering unchanged, and
 * mr_check_overlaps() must count equal-priority overlapping sibling pairs.
 * For CPU views: changing one CPU's overlay rebuilds no other dispatch, and
 * a global-map change renders no more full trees than there are shared
 * roots (never once per CPU).
 *
 * Three scenarios, each looping over seeds 1..N:
 *   tree_diff     one random tree, one or two address spaces on its root;
 *   layered_diff  a tree T and a view root V = { alias of all of T at 0,
 *                 lowest priority } + random overlays, both with address
 *                 spaces (the shared-rendering path of address_space.h),
 *                 everything mutated at random, including the alias;
 *   cpu_view_diff a random global map, 1-4 CPU views with APIC pages and
 *                 SMRAM windows, APIC moves/enables, SMRAM toggles and
 *                 global mutations; each CPU is checked against the
 *                 reference on cpu_view_root() AND against an independent
 *                 model built from the CPU's configuration alone.
 *
 * On failure the message names the scenario, seed, step and address, with
 * expected vs got, and the full operation log of that seed plus a dump of
 * the trees is printed. Reproduce one seed with
 *   CK_RUN_CASE=<tree|layered|cpu> MMUSIM_RDIFF_SEED=<seed> tests/test_random_diff
 * Other knobs: MMUSIM_RDIFF_SEEDS=<n> (run seeds 1..n in every scenario),
 * MMUSIM_RDIFF_STEPS=<n> (mutations per seed), MMUSIM_RDIFF_VERBOSE=1 (trace),
 * MMUSIM_RDIFF_DUMP=1 (dump each world when it is done); under ASan,
 * MMUSIM_RDIFF_LEAKCHECK=<k> runs LeakSanitizer every k seeds (default 32).
 */
#include <check.h>
#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/dispatch.h"
#include "softmmu/flatview.h"
#include "softmmu/region.h"

typedef unsigned __int128 u128;
typedef __int128 s128;
#define TWO64 (((u128)1) << 64)

#if defined(__SANITIZE_ADDRESS__)
#define RD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RD_SANITIZED 1
#endif
#endif
#ifndef RD_SANITIZED
#define RD_SANITIZED 0
#endif
#if RD_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

/* ------------------------------------------------------------------ */
/* PRNG: splitmix64, self-contained so every platform gives the same runs. */

typedef struct Rng {
    uint64_t s;
} Rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_next(Rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

/* Uniform-ish in [0, n); n == 0 means [0, 2^64). */
static uint64_t rng_below(Rng *r, uint64_t n)
{
    uint64_t v = rng_next(r);
    return n ? v % n : v;
}

/* Uniform-ish in [0, n) for n <= 2^64. */
static uint64_t rng_below128(Rng *r, u128 n)
{
    if (n >= TWO64) {
        return rng_next(r);
    }
    return n ? rng_below(r, (uint64_t)n) : 0;
}

static bool rng_chance(Rng *r, unsigned num, unsigned den)
{
    return rng_below(r, den) < num;
}

/* ------------------------------------------------------------------ */
/* Formatting helpers. */

static inline u128 sz128(const MemRegion *mr)
{
    uint64_t s = mr_size(mr);
    return s == MEM_SIZE_FULL ? TWO64 : (u128)s;
}

static inline u128 size_val128(uint64_t s)
{
    return s == MEM_SIZE_FULL ? TWO64 : (u128)s;
}

/* Hex of a signed 128-bit value (used for absolute bases that may be < 0 or >= 2^64). */
static const char *fmt_s128(char *buf, size_t n, s128 v)
{
    bool neg = v < 0;
    u128 u = neg ? (u128)(-v) : (u128)v;
    uint64_t hi = (uint64_t)(u >> 64), lo = (uint64_t)u;
    if (hi) {
        snprintf(buf, n, "%s0x%" PRIx64 "%016" PRIx64, neg ? "-" : "", hi, lo);
    } else {
        snprintf(buf, n, "%s0x%" PRIx64, neg ? "-" : "", lo);
    }
    return buf;
}

static const char *fmt_size(char *buf, size_t n, uint64_t size)
{
    if (size == MEM_SIZE_FULL) {
        snprintf(buf, n, "2^64");
    } else {
        snprintf(buf, n, "0x%" PRIx64, size);
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* Failure context: scenario, seed, step, operation log, trees to dump. */

typedef struct World World;

static struct {
    const char *scenario;
    const char *tcase;  /* Check case name, for CK_RUN_CASE */
    uint64_t seed;
    int step;           /* -1 while building the initial tree */
    GString *log;       /* every operation of this seed, in order */
    World *world;       /* for the dump */
    bool verbose;
    bool dump;          /* dump every world at its end (MMUSIM_RDIFF_DUMP=1) */
} cx;

static void dump_world(GString *out, World *w);

static void oplog(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void oplog(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gchar *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (cx.log) {
        g_string_append_printf(cx.log, "  [step %d] %s\n", cx.step, s);
    }
    if (cx.verbose) {
        fprintf(stderr, "[%s seed %" PRIu64 " step %d] %s\n", cx.scenario, cx.seed, cx.step, s);
    }
    g_free(s);
}

static void fail_at(const char *file, int line, const char *fmt, ...) G_GNUC_PRINTF(3, 4)
    G_GNUC_NORETURN;
static void fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gchar *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr,
            "\n=== test_random_diff FAILURE: scenario=%s seed=%" PRIu64 " step=%d (%s:%d)\n"
            "%s\n"
            "reproduce: CK_RUN_CASE=%s MMUSIM_RDIFF_SEED=%" PRIu64 " tests/test_random_diff"
            "  (add MMUSIM_RDIFF_VERBOSE=1 to trace)\n",
            cx.scenario ? cx.scenario : "?", cx.seed, cx.step, file, line, msg,
            cx.tcase ? cx.tcase : "?", cx.seed);
    if (cx.log) {
        fprintf(stderr, "--- operations of this seed ---\n%s", cx.log->str);
    }
    if (cx.world) {
        GString *d = g_string_new("");
        dump_world(d, cx.world);
        fprintf(stderr, "--- region trees at failure ---\n%s", d->str);
        g_string_free(d, TRUE);
    }
    fprintf(stderr, "=== end of failure report\n");
    fflush(stderr);
    ck_abort_msg("%s seed %" PRIu64 " step %d: %s", cx.scenario ? cx.scenario : "?", cx.seed,
                 cx.step, msg);
    abort(); /* not reached */
}

#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)

/* ------------------------------------------------------------------ */
/* Devices: tiny MMIO/ROMD ops whose bytes depend on (device id, offset). */

typedef struct Dev {
    unsigned id;
    unsigned nwrites;
    uint64_t w_off, w_val;
    unsigned w_size;
} Dev;

static uint8_t dev_byte(unsigned id, uint64_t off)
{
    return (uint8_t)mix64(((uint64_t)id << 48) ^ off ^ 0x5bd1e995ull);
}

static MemResult dev_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                          MemAttrs attrs)
{
    (void)attrs;
    Dev *d = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size && i < 8; i++) {
        v |= (uint64_t)dev_byte(d->id, offset + i) << (8 * i);
    }
    *value = v;
    return MEM_OK;
}

static MemResult dev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                           MemAttrs attrs)
{
    (void)attrs;
    Dev *d = opaque;
    d->nwrites++;
    d->w_off = offset;
    d->w_val = value;
    d->w_size = size;
    return MEM_OK;
}

static const MemRegionOps dev_ops = {
    .read = dev_read,
    .write = dev_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
};

/* RAM/ROM/ROMD backing: distinct bytes per region and offset. */
static void fill_backing(MemRegion *mr, unsigned id)
{
    uint8_t *p = mr_ram_ptr(mr);
    if (!p) {
        FAIL("%s: RAM-backed region without mr_ram_ptr()", mr_name(mr));
    }
    uint64_t size = mr_size(mr);
    uint64_t salt = mix64((uint64_t)id * 0x2545f4914f6cdd1dull);
    for (uint64_t off = 0; off < size; off += 8) {
        uint64_t v = salt ^ (off * 0x9e3779b97f4a7c15ull) ^ (off >> 5);
        uint64_t n = size - off < 8 ? size - off : 8;
        memcpy(p + off, &v, n);
    }
}

/* ------------------------------------------------------------------ */
/* The world: every region of one seed, its address spaces and CPUs. */

typedef struct CpuState {
    CpuView *cv;
    unsigned index;
    MemRegion *apic;  /* owned by the view */
    Dev *apic_dev;
    bool apic_enabled;
    MemRegion *smram; /* one of the world's regions, or NULL */
    uint64_t smram_addr;
    uint64_t smram_win; /* window size */
    bool smram_visible;
} CpuState;

typedef struct Space {
    AddressSpace *as;
    MemRegion *root;
    MemAttrs attrs;
    CpuState *cpu; /* NULL for plain address spaces */
    uint64_t gen_at_begin;
} Space;

struct World {
    Rng rng;
    GPtrArray *regions;  /* every region made by the test: the creator's reference */
    GPtrArray *roots;    /* address-space roots: never children, never disabled or moved */
    GPtrArray *devs;     /* Dev*, freed last */
    GHashTable *seq;     /* region -> order the test last added it (for the order check) */
    uint64_t add_seq;
    unsigned next_id;
    unsigned max_regions;
    unsigned tx_depth;
    GPtrArray *spaces;   /* Space* */
    CpuState cpus[4];
    unsigned ncpu;
    MemRegion *global;   /* cpu scenario: the global map */
    bool no_root_resize;
    bool rendered_by_test; /* the last mutation called flatview_render itself */
};

static bool is_root(World *w, const MemRegion *mr)
{
    for (guint i = 0; i < w->roots->len; i++) {
        if (g_ptr_array_index(w->roots, i) == mr) {
            return true;
        }
    }
    return false;
}

static bool kind_is_leaf(MemRegionKind k)
{
    return k == MR_KIND_RAM || k == MR_KIND_ROM || k == MR_KIND_MMIO || k == MR_KIND_ROMD;
}

static bool kind_has_ram(MemRegionKind k)
{
    return k == MR_KIND_RAM || k == MR_KIND_ROM || k == MR_KIND_ROMD;
}

/* ------------------------------------------------------------------ */
/* The naive reference resolver. */

typedef struct Hit {
    MemRegion *mr;
    uint64_t off;
    bool ro;
} Hit;

/*
 * Resolve relative address x inside `mr` (x is relative to mr's own start).
 * Returns true with *h set if a leaf serves x, false for "nothing here"
 * (which lets lower-priority siblings show through).
 */
static bool ref_region(MemRegion *mr, u128 x, bool ro, Hit *h, int depth)
{
    if (depth > 200) {
        FAIL("reference resolver: nesting deeper than 200 at %s (cycle?)", mr_name(mr));
    }
    if (!mr_enabled(mr) || x >= sz128(mr)) {
        return false;
    }
    MemRegionKind k = mr_kind(mr);
    if (k == MR_KIND_CONTAINER) {
        guint n = mr_num_children(mr);
        for (guint i = 0; i < n; i++) {
            MemRegion *c = mr_child(mr, i);
            u128 a = mr_addr(c);
            if (x < a) {
                continue;
            }
            /* x < size(mr) already, so the parent's clip holds for c too. */
            if (ref_region(c, x - a, ro, h, depth + 1)) {
                return true;
            }
        }
        return false;
    }
    if (k == MR_KIND_ALIAS) {
        MemRegion *t = mr_alias_target(mr);
        if (!t) {
            FAIL("alias %s has no target", mr_name(mr));
        }
        return ref_region(t, (u128)mr_alias_offset(mr) + x, ro || mr_readonly(mr), h, depth + 1);
    }
    if (kind_is_leaf(k)) {
        h->mr = mr;
        h->off = (uint64_t)x;
        h->ro = ro || mr_readonly(mr);
        return true;
    }
    FAIL("reference resolver: unexpected kind %s for %s", mr_kind_name(k), mr_name(mr));
}

static bool ref_resolve(MemRegion *root, uint64_t addr, Hit *h)
{
    memset(h, 0, sizeof(*h));
    return ref_region(root, addr, false, h, 0);
}

static const char *fmt_hit(char *buf, size_t n, bool hit, MemRegion *mr, uint64_t off, bool ro)
{
    if (!hit || !mr) {
        snprintf(buf, n, "hole");
    } else {
        snprintf(buf, n, "%s+0x%" PRIx64 "%s", mr_name(mr), off, ro ? " (ro)" : "");
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* Dumps for failure reports. */

static void dump_region(GString *s, MemRegion *mr, s128 base, int depth, unsigned *budget)
{
    char b1[64], b2[40];
    if (*budget == 0) {
        return;
    }
    (*budget)--;
    if (depth > 16) {
        g_string_append_printf(s, "%*s...\n", depth * 2, "");
        return;
    }
    g_string_append_printf(s, "%*s%s: %s addr=0x%" PRIx64 " size=%s prio=%d abs=%s%s%s",
                           depth * 2, "", mr_name(mr), mr_kind_name(mr_kind(mr)), mr_addr(mr),
                           fmt_size(b2, sizeof(b2), mr_size(mr)), mr_priority(mr),
                           fmt_s128(b1, sizeof(b1), base), mr_enabled(mr) ? "" : " DISABLED",
                           mr_readonly(mr) ? " RO" : "");
    if (mr_kind(mr) == MR_KIND_ALIAS) {
        g_string_append_printf(s, " -> %s +0x%" PRIx64, mr_name(mr_alias_target(mr)),
                               mr_alias_offset(mr));
    }
    if (mr_kind(mr) == MR_KIND_ROMD) {
        g_string_append_printf(s, " romd_mode=%d", mr_romd_mode(mr));
    }
    g_string_append(s, "\n");
    for (guint i = 0; i < mr_num_children(mr); i++) {
        MemRegion *c = mr_child(mr, i);
        dump_region(s, c, base + (s128)mr_addr(c), depth + 1, budget);
    }
}

static void dump_fv(GString *s, const char *title, const FlatView *fv)
{
    guint n = flatview_num_ranges(fv);
    g_string_append_printf(s, "%s: %u ranges\n", title, n);
    for (guint i = 0; i < n && i < 80; i++) {
        const FlatRange *r = flatview_range(fv, i);
        g_string_append_printf(s, "  [%016" PRIx64 "-%016" PRIx64 "] %s +0x%" PRIx64 "%s%s dl=%u\n",
                               r->start, r->last, r->mr ? mr_name(r->mr) : "(null)",
                               r->offset_in_region, r->readonly ? " ro" : "",
                               r->romd_mode ? " romd" : "", r->dirty_log_mask);
    }
    if (n > 80) {
        g_string_append(s, "  ...\n");
    }
}

static void dump_world(GString *out, World *w)
{
    unsigned budget = 400;
    for (guint i = 0; i < w->spaces->len; i++) {
        Space *sp = g_ptr_array_index(w->spaces, i);
        g_string_append_printf(out, "address space %s (root %s):\n", as_name(sp->as),
                               mr_name(sp->root));
        if (sp->cpu) {
            CpuState *c = sp->cpu;
            g_string_append_printf(out,
                                   "  cpu %u: apic %s base=0x%" PRIx64 " enabled=%d; smram %s "
                                   "at 0x%" PRIx64 " win 0x%" PRIx64 " visible=%d\n",
                                   c->index, c->apic ? mr_name(c->apic) : "-",
                                   cpu_view_apic_base(c->cv), c->apic_enabled,
                                   c->smram ? mr_name(c->smram) : "-", c->smram_addr,
                                   c->smram_win, c->smram_visible);
        }
        dump_region(out, sp->root, 0, 1, &budget);
    }
    g_string_append(out, "detached regions (no parent, not a root):\n");
    for (guint i = 0; i < w->regions->len; i++) {
        MemRegion *mr = g_ptr_array_index(w->regions, i);
        if (!mr_parent(mr) && !is_root(w, mr)) {
            dump_region(out, mr, 0, 1, &budget);
        }
    }
    if (w->spaces->len) {
        Space *sp = g_ptr_array_index(w->spaces, 0);
        FlatView *fv = flatview_render(sp->root);
        dump_fv(out, "fresh render of the first space's root", fv);
        flatview_unref(fv);
    }
}

/* ------------------------------------------------------------------ */
/* Region creation. */

static MemRegion *w_new(World *w, MemRegionKind kind, uint64_t size, MemRegion *target,
                        uint64_t offset)
{
    unsigned id = ++w->next_id;
    char name[32];
    char b[40];
    GError *err = NULL;
    MemRegion *mr = NULL;
    Dev *d = NULL;
    switch (kind) {
    case MR_KIND_CONTAINER:
        snprintf(name, sizeof(name), "c%u", id);
        mr = mr_new_container(name, size, &err);
        break;
    case MR_KIND_RAM:
        snprintf(name, sizeof(name), "ram%u", id);
        mr = mr_new_ram(name, size, &err);
        break;
    case MR_KIND_ROM:
        snprintf(name, sizeof(name), "rom%u", id);
        mr = mr_new_rom(name, size, &err);
        break;
    case MR_KIND_MMIO:
        snprintf(name, sizeof(name), "io%u", id);
        d = g_new0(Dev, 1);
        d->id = id;
        g_ptr_array_add(w->devs, d);
        mr = mr_new_mmio(name, size, &dev_ops, d, &err);
        break;
    case MR_KIND_ROMD:
        snprintf(name, sizeof(name), "romd%u", id);
        d = g_new0(Dev, 1);
        d->id = id;
        g_ptr_array_add(w->devs, d);
        mr = mr_new_romd(name, size, &dev_ops, d, &err);
        break;
    case MR_KIND_ALIAS:
        snprintf(name, sizeof(name), "al%u", id);
        mr = mr_new_alias(name, target, offset, size, &err);
        break;
    default:
        FAIL("w_new: bad kind");
    }
    if (!mr) {
        FAIL("creating %s (%s, size %s) failed: %s", name, mr_kind_name(kind),
             fmt_size(b, sizeof(b), size), err ? err->message : "no GError");
    }
    if (err) {
        FAIL("creating %s succeeded but set a GError: %s", name, err->message);
    }
    if (mr_size(mr) != size || mr_kind(mr) != kind || !mr_enabled(mr) || mr_parent(mr)) {
        FAIL("new region %s: size/kind/enabled/parent not as created", name);
    }
    if (kind_has_ram(kind)) {
        fill_backing(mr, id);
    }
    if (kind == MR_KIND_ALIAS) {
        oplog("%s = alias of %s offset 0x%" PRIx64 " size %s", name, mr_name(target), offset,
              fmt_size(b, sizeof(b), size));
    } else {
        oplog("%s = %s size %s", name, mr_kind_name(kind), fmt_size(b, sizeof(b), size));
    }
    g_ptr_array_add(w->regions, mr);
    return mr;
}

/* ------------------------------------------------------------------ */
/* Random choices. */

/* Region sizes. RAM-backed ones stay small; others are sometimes huge.
 * `big_weight` (out of 20) is how often a size of 2^20 or more comes out. */
enum { SZ_BACKED = 0, SZ_MMIO = 1, SZ_ANY = 4 };

static uint64_t gen_size(World *w, unsigned big_weight)
{
    static const uint64_t common[] = { 0x10, 0x100, 0x1000, 0x800, 0x2000, 0x10000,
                                       0x400, 0x3000, 0x20, 0x8 };
    Rng *r = &w->rng;
    if (big_weight && rng_below(r, 20) < big_weight) {
        switch (rng_below(r, 6)) {
        case 0: case 1: return 1ull << (20 + rng_below(r, 44));
        case 2: return MEM_SIZE_FULL;
        case 3: return 0ull - 0x1000; /* 2^64 - 0x1000 */
        case 4: return 1 + rng_below(r, UINT64_MAX - 1);
        default: return (1 + rng_below(r, 0x10)) << 20;
        }
    }
    switch (rng_below(r, 10)) {
    case 0: case 1: case 2: case 3:
        return common[rng_below(r, G_N_ELEMENTS(common))];
    case 4:
        return 1 + rng_below(r, 0x40);
    case 5:
        return 1 + rng_below(r, 0x3000);
    case 6:
        return (1 + rng_below(r, 0x20)) * 0x1000;
    case 7:
        return (1 + rng_below(r, 0x100)) * 0x10;
    case 8:
        return 0x1000 + rng_below(r, 0x4000);
    default:
        return rng_chance(r, 1, 6) ? 0x100000 : 0x8000;
    }
}

static MemRegion *random_child(World *w, MemRegion *c)
{
    guint n = mr_num_children(c);
    return n ? mr_child(c, (guint)rng_below(&w->rng, n)) : NULL;
}

/* An address for a child of `size` bytes in `parent` (NULL: anywhere). */
static uint64_t gen_addr(World *w, MemRegion *parent, uint64_t size)
{
    Rng *r = &w->rng;
    u128 P = parent ? sz128(parent) : TWO64;
    u128 S = size_val128(size);
    static const uint64_t aligns[] = { 1, 0x10, 0x100, 0x1000, 0x1000, 0x10000 };
    uint64_t align = aligns[rng_below(r, G_N_ELEMENTS(aligns))];
    switch (rng_below(r, 24)) {
    case 0: case 1:
        return 0;
    case 2: case 3: case 4: case 5: case 6: case 20: case 21: case 22: case 23:
        /* a dense zone near 0, so siblings overlap */
        return rng_below128(r, P < 0x40000 ? P : 0x40000) & ~(align - 1);
    case 7:
        return rng_below128(r, P < 0x4000 ? P : 0x4000) & ~(align - 1);
    case 8: case 9: { /* flush with the parent's end */
        static const int64_t d[] = { 0, 0, 0, -0x10, 0x10, -1, 1, -0x800 };
        s128 a = S <= P ? (s128)(P - S) : 0;
        a += d[rng_below(r, G_N_ELEMENTS(d))];
        return (uint64_t)a;
    }
    case 10: case 11: case 12: case 13: case 14: { /* relative to a sibling */
        MemRegion *sib = parent ? random_child(w, parent) : NULL;
        if (!sib) {
            return rng_below128(r, P < 0x40000 ? P : 0x40000);
        }
        s128 a = mr_addr(sib);
        u128 ss = sz128(sib);
        switch (rng_below(r, 8)) {
        case 0: break;
        case 1: a += (s128)(ss / 2); break;
        case 2: a += (s128)ss; break;
        case 3: a += (s128)ss - 1; break;
        case 4: a -= (s128)(S / 2); break;
        case 5: a -= (s128)S; break;
        case 6: a -= 1; break;
        default: a += (s128)rng_below(r, 0x100); break;
        }
        return (uint64_t)a;
    }
    case 15: /* the top of the 64-bit space */
        return rng_chance(r, 1, 2) ? 0xfffffffffffff000ull + rng_below(r, 0x1000)
                                   : (uint64_t)(TWO64 - (S < TWO64 ? S : 1));
    case 16: /* beyond the parent (if it is smaller than 2^64): invisible */
        return (uint64_t)(P + rng_below(r, 0x10000));
    case 17:
        return rng_next(r);
    default:
        return rng_below128(r, P) & ~(align - 1);
    }
}

static int gen_prio(World *w)
{
    return (int)rng_below(&w->rng, 6) - 2; /* [-2, 3] */
}

/* Pick a random region satisfying f (NULL if none). */
typedef bool (*RegionFilter)(World *w, MemRegion *mr);

static MemRegion *pick(World *w, RegionFilter f)
{
    MemRegion *chosen = NULL;
    unsigned seen = 0;
    for (guint i = 0; i < w->regions->len; i++) {
        MemRegion *mr = g_ptr_array_index(w->regions, i);
        if (f && !f(w, mr)) {
            continue;
        }
        seen++;
        if (rng_below(&w->rng, seen) == 0) {
            chosen = mr;
        }
    }
    return chosen;
}

static bool f_any(World *w, MemRegion *mr) { (void)w; (void)mr; return true; }
static bool f_nonroot(World *w, MemRegion *mr) { return !is_root(w, mr); }
static bool f_attached(World *w, MemRegion *mr) { (void)w; return mr_parent(mr) != NULL; }
static bool f_detached(World *w, MemRegion *mr) { return !mr_parent(mr) && !is_root(w, mr); }
static bool f_container(World *w, MemRegion *mr)
{
    (void)w;
    return mr_kind(mr) == MR_KIND_CONTAINER;
}
static bool f_alias(World *w, MemRegion *mr) { (void)w; return mr_kind(mr) == MR_KIND_ALIAS; }
static bool f_resizable(World *w, MemRegion *mr)
{
    MemRegionKind k = mr_kind(mr);
    if (is_root(w, mr) && w->no_root_resize) {
        return false;
    }
    return k == MR_KIND_CONTAINER || k == MR_KIND_ALIAS || k == MR_KIND_MMIO;
}
static bool f_fixed_size(World *w, MemRegion *mr) { (void)w; return kind_has_ram(mr_kind(mr)); }
static bool f_ro_able(World *w, MemRegion *mr)
{
    (void)w;
    MemRegionKind k = mr_kind(mr);
    return k == MR_KIND_RAM || k == MR_KIND_ALIAS || k == MR_KIND_MMIO;
}
static bool f_romd(World *w, MemRegion *mr) { (void)w; return mr_kind(mr) == MR_KIND_ROMD; }
static bool f_backed(World *w, MemRegion *mr) { (void)w; return kind_has_ram(mr_kind(mr)); }
static bool f_ram(World *w, MemRegion *mr) { (void)w; return mr_kind(mr) == MR_KIND_RAM; }

/* Can `to` be reached from `from` through children and alias targets? */
static bool reaches_rec(MemRegion *from, MemRegion *to, GHashTable *seen)
{
    if (from == to) {
        return true;
    }
    if (!g_hash_table_add(seen, from)) {
        return false;
    }
    if (mr_kind(from) == MR_KIND_ALIAS) {
        return reaches_rec(mr_alias_target(from), to, seen);
    }
    for (guint i = 0; i < mr_num_children(from); i++) {
        if (reaches_rec(mr_child(from, i), to, seen)) {
            return true;
        }
    }
    return false;
}

static bool reaches(MemRegion *from, MemRegion *to)
{
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    bool r = reaches_rec(from, to, seen);
    g_hash_table_destroy(seen);
    return r;
}

/* Add x to c (the caller checked there is no cycle). */
static void do_add(World *w, MemRegion *c, MemRegion *x, uint64_t addr, bool with_prio, int prio)
{
    GError *err = NULL;
    bool ok;
    if (with_prio) {
        oplog("add %s to %s at 0x%" PRIx64 " prio %d", mr_name(x), mr_name(c), addr, prio);
        ok = mr_add_subregion_overlap(c, addr, x, prio, &err);
    } else {
        oplog("add %s to %s at 0x%" PRIx64 " (no prio)", mr_name(x), mr_name(c), addr);
        ok = mr_add_subregion(c, addr, x, &err);
    }
    if (!ok) {
        FAIL("adding %s to %s at 0x%" PRIx64 " failed: %s", mr_name(x), mr_name(c), addr,
             err ? err->message : "no GError");
    }
    if (mr_parent(x) != c || mr_addr(x) != addr || mr_priority(x) != (with_prio ? prio : 0)) {
        FAIL("after adding %s to %s: parent %s addr 0x%" PRIx64 " prio %d", mr_name(x),
             mr_name(c), mr_parent(x) ? mr_name(mr_parent(x)) : "none", mr_addr(x),
             mr_priority(x));
    }
    g_hash_table_insert(w->seq, x, GSIZE_TO_POINTER((gsize)++w->add_seq));
}

static void add_somewhere(World *w, MemRegion *c, MemRegion *x)
{
    if (reaches(x, c)) {
        oplog("(not adding %s to %s: would be a cycle)", mr_name(x), mr_name(c));
        return;
    }
    uint64_t addr = gen_addr(w, c, mr_size(x));
    bool with_prio = rng_chance(&w->rng, 3, 5);
    do_add(w, c, x, addr, with_prio, with_prio ? gen_prio(w) : 0);
}

static MemRegion *gen_alias(World *w)
{
    Rng *r = &w->rng;
    MemRegion *t = pick(w, f_nonroot);
    if (!t) {
        return NULL;
    }
    u128 T = sz128(t);
    uint64_t off;
    switch (rng_below(r, 8)) {
    case 0: case 1: case 2: off = 0; break;
    case 3: case 4: off = rng_below128(r, T); break;
    case 5: off = (uint64_t)(T > 0x100 ? T - rng_below(r, 0x100) - 1 : 0); break;
    case 6: off = (uint64_t)(T + rng_below(r, 0x100)); break;
    default: off = rng_below128(r, T) & ~0xfffull; break;
    }
    uint64_t size;
    if (rng_chance(r, 2, 5) && (u128)off < T) {
        u128 s = T - off;
        size = s >= TWO64 ? MEM_SIZE_FULL : (uint64_t)s;
    } else {
        size = gen_size(w, SZ_ANY);
    }
    return w_new(w, MR_KIND_ALIAS, size, t, off);
}

static void populate(World *w, MemRegion *c, int depth);

static MemRegion *gen_region(World *w, int depth)
{
    Rng *r = &w->rng;
    unsigned k = (unsigned)rng_below(r, 100);
    MemRegion *mr;
    if (k < 20 && depth < 4) {
        mr = w_new(w, MR_KIND_CONTAINER, gen_size(w, SZ_ANY), NULL, 0);
        populate(w, mr, depth);
    } else if (k < 48) {
        mr = w_new(w, MR_KIND_RAM, gen_size(w, SZ_BACKED), NULL, 0);
    } else if (k < 52) {
        mr = w_new(w, MR_KIND_ROM, gen_size(w, SZ_BACKED), NULL, 0);
    } else if (k < 72) {
        mr = w_new(w, MR_KIND_MMIO, gen_size(w, SZ_MMIO), NULL, 0);
    } else if (k < 76) {
        mr = w_new(w, MR_KIND_ROMD, gen_size(w, SZ_BACKED), NULL, 0);
    } else {
        mr = gen_alias(w);
        if (!mr) {
            mr = w_new(w, MR_KIND_RAM, gen_size(w, SZ_BACKED), NULL, 0);
        }
    }
    return mr;
}

/*
 * A window onto part of x, placed exactly over that part in x's own parent:
 * the same region shows on both sides of each window edge with contiguous
 * offsets, so the flat view must merge where the attributes match and keep
 * the pieces apart where they don't (a read-only window).
 */
static void add_window(World *w, MemRegion *x)
{
    Rng *r = &w->rng;
    u128 X = sz128(x);
    uint64_t k = rng_below128(r, X);
    if (rng_chance(r, 1, 2)) {
        k &= ~0xfull;
    }
    u128 room = X - k;
    uint64_t s = 1 + rng_below128(r, room < 0x3000 ? room : 0x3000);
    MemRegion *a = w_new(w, MR_KIND_ALIAS, s, x, k);
    if (rng_chance(r, 1, 2)) {
        mr_set_readonly(a, true);
        oplog("readonly %s (before adding)", mr_name(a));
    }
    do_add(w, mr_parent(x), a, mr_addr(x) + k, true, mr_priority(x) + (int)rng_below(r, 2));
}

static void populate(World *w, MemRegion *c, int depth)
{
    unsigned n = depth == 0 ? 4 + (unsigned)rng_below(&w->rng, 11)
                            : (unsigned)rng_below(&w->rng, depth == 1 ? 7 : 5);
    for (unsigned i = 0; i < n && w->regions->len < w->max_regions; i++) {
        MemRegion *x = gen_region(w, depth + 1);
        if (rng_chance(&w->rng, 1, 12)) {
            mr_set_enabled(x, false);
            oplog("disable %s (before adding)", mr_name(x));
        }
        if (rng_chance(&w->rng, 1, 16) && f_ro_able(w, x)) {
            mr_set_readonly(x, true);
            oplog("readonly %s (before adding)", mr_name(x));
        }
        add_somewhere(w, c, x);
        if (mr_parent(x) == c && rng_chance(&w->rng, 1, 5)) {
            add_window(w, x);
        }
    }
}

/* Place a few regions where they stress the top of the space and page sharing. */
static void add_edge_regions(World *w, MemRegion *root)
{
    Rng *r = &w->rng;
    if (mr_size(root) == MEM_SIZE_FULL && rng_chance(r, 2, 3)) {
        MemRegion *x = w_new(w, rng_chance(r, 1, 2) ? MR_KIND_RAM : MR_KIND_MMIO,
                             rng_chance(r, 1, 2) ? 0x1000 : 0x10 << rng_below(r, 8), NULL, 0);
        uint64_t a = rng_chance(r, 1, 2) ? 0xfffffffffffff000ull
                                         : 0ull - mr_size(x) - 0x10 * rng_below(r, 4);
        do_add(w, root, x, a, true, gen_prio(w));
    }
    if (rng_chance(r, 1, 2)) {
        /* Several sub-page regions sharing one page. */
        uint64_t page = rng_below128(r, sz128(root)) & ~0xfffull;
        unsigned n = 2 + (unsigned)rng_below(r, 4);
        for (unsigned i = 0; i < n; i++) {
            MemRegion *x = w_new(w, rng_chance(r, 1, 2) ? MR_KIND_RAM : MR_KIND_MMIO,
                                 0x10 << rng_below(r, 6), NULL, 0);
            do_add(w, root, x, page + 0x10 * rng_below(r, 0x100), true, gen_prio(w));
        }
    }
}

/* ------------------------------------------------------------------ */
/* Checks. */

static void check_child_order(World *w)
{
    for (guint i = 0; i < w->regions->len; i++) {
        MemRegion *c = g_ptr_array_index(w->regions, i);
        guint n = mr_num_children(c);
        if (mr_kind(c) != MR_KIND_CONTAINER && n) {
            FAIL("%s is a %s with %u children", mr_name(c), mr_kind_name(mr_kind(c)), n);
        }
        for (guint j = 0; j < n; j++) {
            MemRegion *a = mr_child(c, j);
            if (mr_parent(a) != c) {
                FAIL("%s is child #%u of %s but mr_parent says %s", mr_name(a), j, mr_name(c),
                     mr_parent(a) ? mr_name(mr_parent(a)) : "none");
            }
            if (j + 1 < n) {
                MemRegion *b = mr_child(c, j + 1);
                if (mr_priority(a) < mr_priority(b)) {
                    FAIL("children of %s out of priority order: %s (prio %d) before %s (prio %d)",
                         mr_name(c), mr_name(a), mr_priority(a), mr_name(b), mr_priority(b));
                }
                gpointer sa = g_hash_table_lookup(w->seq, a), sb = g_hash_table_lookup(w->seq, b);
                if (mr_priority(a) == mr_priority(b) && sa && sb &&
                    GPOINTER_TO_SIZE(sa) < GPOINTER_TO_SIZE(sb)) {
                    FAIL("children of %s at equal priority %d not newest first: %s added before "
                         "%s but listed first",
                         mr_name(c), mr_priority(a), mr_name(a), mr_name(b));
                }
            }
        }
    }
}

/* mr_check_overlaps: pairs of enabled siblings at equal priority whose
 * [addr, addr+size) ranges (clipped at 2^64) intersect. */
static void check_overlap_count(MemRegion *c)
{
    guint n = mr_num_children(c), expect = 0;
    for (guint i = 0; i < n; i++) {
        MemRegion *a = mr_child(c, i);
        for (guint j = i + 1; j < n; j++) {
            MemRegion *b = mr_child(c, j);
            if (!mr_enabled(a) || !mr_enabled(b) || mr_priority(a) != mr_priority(b)) {
                continue;
            }
            u128 a0 = mr_addr(a), a1 = a0 + sz128(a); /* [a0, a1) */
            u128 b0 = mr_addr(b), b1 = b0 + sz128(b);
            if (a0 < b1 && b0 < a1) {
                expect++;
            }
        }
    }
    guint got = mr_check_overlaps(c);
    if (got != expect) {
        FAIL("mr_check_overlaps(%s) = %u, expected %u", mr_name(c), got, expect);
    }
}

static void add_pt(GArray *pts, s128 p)
{
    if (p >= 0 && p < (s128)TWO64) {
        uint64_t v = (uint64_t)p;
        g_array_append_val(pts, v);
    }
}

/* Boundaries of every region reachable from mr (through aliases too), at
 * absolute addresses: start-1, start, last, last+1. */
static void collect_points(MemRegion *mr, s128 base, GArray *pts, int depth, unsigned *budget)
{
    if (*budget == 0 || depth > 12) {
        return;
    }
    (*budget)--;
    s128 s = (s128)sz128(mr);
    add_pt(pts, base - 1);
    add_pt(pts, base);
    add_pt(pts, base + s - 1);
    add_pt(pts, base + s);
    if (mr_kind(mr) == MR_KIND_ALIAS) {
        collect_points(mr_alias_target(mr), base - (s128)mr_alias_offset(mr), pts, depth + 1,
                       budget);
    } else {
        for (guint i = 0; i < mr_num_children(mr); i++) {
            MemRegion *c = mr_child(mr, i);
            collect_points(c, base + (s128)mr_addr(c), pts, depth + 1, budget);
        }
    }
}

/* Coverage counters, printed per scenario so a silently weak run shows. */
static struct {
    uint64_t checks, probes, mapped, via_alias_or_nested, ranges, multi_reads, writes, steps_in_tx;
    uint64_t subpage;
} st;

static unsigned n_probe_max = 96;
static unsigned n_random_probes = 24;

static void check_access(World *w, Space *sp, uint64_t addr, bool hit, const Hit *h);

/* The dispatch and the reference must agree at addr. */
static void check_addr(World *w, Space *sp, Dispatch *d, uint64_t addr)
{
    char be[96], bg[96], bx[96];
    uint64_t last = 0;
    uint32_t idx = dispatch_lookup(d, addr, &last);
    const MemSection *s = dispatch_section(d, idx);
    if (!s) {
        FAIL("%s: dispatch_lookup(0x%" PRIx64 ") returned index %u with no section",
             as_name(sp->as), addr, idx);
    }
    if (addr < s->start || addr > s->last) {
        FAIL("%s: dispatch_lookup(0x%" PRIx64 ") gave section #%u [0x%" PRIx64 "-0x%" PRIx64
             "] that does not contain it",
             as_name(sp->as), addr, idx, s->start, s->last);
    }
    if (last < addr || last > s->last) {
        FAIL("%s: dispatch_lookup(0x%" PRIx64 ") gave last=0x%" PRIx64
             " outside its section [0x%" PRIx64 "-0x%" PRIx64 "]",
             as_name(sp->as), addr, last, s->start, s->last);
    }
    Hit h;
    bool hit = ref_resolve(sp->root, addr, &h);
    st.probes++;
    if (hit) {
        st.mapped++;
        if (mr_parent(h.mr) != sp->root) {
            st.via_alias_or_nested++;
        }
        if (s->last - s->start < 0xfff) {
            st.subpage++;
        }
    }
    uint64_t goff = s->offset_in_region + (addr - s->start);
    if (hit != (s->mr != NULL) || (hit && (h.mr != s->mr || h.off != goff))) {
        FAIL("%s: address 0x%" PRIx64 ": expected %s, dispatch gave %s (section #%u [0x%" PRIx64
             "-0x%" PRIx64 "])",
             as_name(sp->as), addr, fmt_hit(be, sizeof(be), hit, h.mr, h.off, h.ro),
             fmt_hit(bg, sizeof(bg), s->mr != NULL, s->mr, goff, s->readonly), idx, s->start,
             s->last);
    }
    if (hit) {
        if (h.ro != s->readonly) {
            FAIL("%s: address 0x%" PRIx64 " (%s): expected readonly=%d, section says %d",
                 as_name(sp->as), addr, fmt_hit(be, sizeof(be), hit, h.mr, h.off, h.ro), h.ro,
                 s->readonly);
        }
        if (mr_kind(h.mr) == MR_KIND_ROMD && s->romd_mode != mr_romd_mode(h.mr)) {
            FAIL("%s: address 0x%" PRIx64 " (%s): section romd_mode=%d, region says %d",
                 as_name(sp->as), addr, mr_name(h.mr), s->romd_mode, mr_romd_mode(h.mr));
        }
        if (kind_has_ram(mr_kind(h.mr)) && s->dirty_log_mask != mr_dirty_log_mask(h.mr)) {
            FAIL("%s: address 0x%" PRIx64 " (%s): section dirty_log_mask=0x%x, region 0x%x",
                 as_name(sp->as), addr, mr_name(h.mr), s->dirty_log_mask,
                 mr_dirty_log_mask(h.mr));
        }
    }
    /* The run [addr, last] is served by this one section: the reference must
     * agree at its end and in its middle, with contiguous offsets. */
    if (last != addr) {
        uint64_t probes[2] = { last, addr + 1 + rng_below(&w->rng, last - addr) };
        for (int k = 0; k < 2; k++) {
            uint64_t p = probes[k];
            Hit h2;
            bool hit2 = ref_resolve(sp->root, p, &h2);
            if (hit2 != hit || (hit && (h2.mr != h.mr || h2.off != h.off + (p - addr)))) {
                FAIL("%s: dispatch_lookup(0x%" PRIx64 ") says [0x%" PRIx64 "-0x%" PRIx64
                     "] is one run starting at %s, so 0x%" PRIx64 " would be %s; the reference "
                     "gives %s there",
                     as_name(sp->as), addr, addr, last,
                     fmt_hit(be, sizeof(be), hit, h.mr, h.off, h.ro), p,
                     fmt_hit(bx, sizeof(bx), hit, h.mr, h.off + (p - addr), h.ro),
                     fmt_hit(bg, sizeof(bg), hit2, h2.mr, h2.off, h2.ro));
            }
        }
    }
    /* ...and the run is maximal: the next address is another section. */
    if (last != UINT64_MAX) {
        uint32_t idx2 = dispatch_lookup(d, last + 1, NULL);
        if (idx2 == idx) {
            FAIL("%s: dispatch_lookup(0x%" PRIx64 ") gave last=0x%" PRIx64
                 " but 0x%" PRIx64 " is still section #%u",
                 as_name(sp->as), addr, last, last + 1, idx);
        }
    }
    check_access(w, sp, addr, hit, &h);
}

/* Expected byte at addr per the reference (false: unassigned). */
static bool expected_byte(Space *sp, uint64_t addr, uint8_t *out)
{
    Hit h;
    if (!ref_resolve(sp->root, addr, &h)) {
        *out = 0xff;
        return false;
    }
    MemRegionKind k = mr_kind(h.mr);
    if (k == MR_KIND_RAM || k == MR_KIND_ROM || (k == MR_KIND_ROMD && mr_romd_mode(h.mr))) {
        *out = ((const uint8_t *)mr_ram_ptr(h.mr))[h.off];
    } else {
        const Dev *dv = mr_opaque(h.mr);
        *out = dev_byte(dv->id, h.off);
    }
    return true;
}

static void check_access(World *w, Space *sp, uint64_t addr, bool hit, const Hit *h)
{
    Rng *r = &w->rng;
    char be[96];
    /* One byte. */
    uint64_t v = 0x1234;
    MemResult res = as_read_val(sp->as, addr, sp->attrs, 1, MEM_LITTLE_ENDIAN, &v);
    uint8_t eb;
    bool mapped = expected_byte(sp, addr, &eb);
    MemResult eres = mapped ? MEM_OK : MEM_DECODE_ERROR;
    if (res != eres || v != eb) {
        FAIL("%s: 1-byte read at 0x%" PRIx64 " (%s): expected %s value 0x%02x, got %s 0x%" PRIx64,
             as_name(sp->as), addr, fmt_hit(be, sizeof(be), hit, h->mr, h->off, h->ro),
             mem_result_name(eres), eb, mem_result_name(res), v);
    }
    /* An 8-byte value or a longer buffer, possibly straddling sections. */
    if (rng_chance(r, 1, 4) && addr <= UINT64_MAX - 7) {
        uint64_t exp = 0;
        bool all = true;
        for (unsigned i = 0; i < 8; i++) {
            uint8_t b;
            all &= expected_byte(sp, addr + i, &b);
            exp |= (uint64_t)b << (8 * i);
        }
        v = 0;
        res = as_read_val(sp->as, addr, sp->attrs, 8, MEM_LITTLE_ENDIAN, &v);
        eres = all ? MEM_OK : MEM_DECODE_ERROR;
        if (res != eres || v != exp) {
            FAIL("%s: 8-byte read at 0x%" PRIx64 ": expected %s 0x%016" PRIx64
                 ", got %s 0x%016" PRIx64,
                 as_name(sp->as), addr, mem_result_name(eres), exp, mem_result_name(res), v);
        }
    }
    if (rng_chance(r, 1, 16)) {
        uint64_t len = 1 + rng_below(r, 64);
        uint64_t a = addr - rng_below(r, len);
        if (a <= UINT64_MAX - (len - 1)) {
            uint8_t buf[64], exp[64];
            bool all = true;
            for (uint64_t i = 0; i < len; i++) {
                all &= expected_byte(sp, a + i, &exp[i]);
            }
            memset(buf, 0x5a, sizeof(buf));
            res = as_read(sp->as, a, sp->attrs, buf, len);
            eres = all ? MEM_OK : MEM_DECODE_ERROR;
            if (res != eres || memcmp(buf, exp, len) != 0) {
                uint64_t i = 0;
                while (i < len && buf[i] == exp[i]) {
                    i++;
                }
                FAIL("%s: %" PRIu64 "-byte as_read at 0x%" PRIx64 ": expected %s, got %s; "
                     "first differing byte at 0x%" PRIx64 ": expected 0x%02x got 0x%02x",
                     as_name(sp->as), len, a, mem_result_name(eres), mem_result_name(res),
                     a + i, i < len ? exp[i] : 0, i < len ? buf[i] : 0);
            }
        }
    }
    /* Accesses that wrap past 2^64 or are absurdly sized must not crash
     * (the result is not specified; ASan/UBSan builds check the rest). */
    if (rng_chance(r, 1, 64)) {
        uint8_t buf[16];
        uint64_t wv = 0;
        (void)as_read(sp->as, UINT64_MAX - rng_below(r, 8), sp->attrs, buf, sizeof(buf));
        (void)as_read_val(sp->as, UINT64_MAX - rng_below(r, 4), sp->attrs, 8, MEM_BIG_ENDIAN,
                          &wv);
        (void)as_read_val(sp->as, addr, sp->attrs, 3, MEM_LITTLE_ENDIAN, &wv);
        (void)as_read(sp->as, addr, sp->attrs, buf, 0);
    }
    /* A one-byte write. */
    if (rng_chance(r, 1, 8)) {
        uint8_t val = (uint8_t)rng_next(r);
        if (!hit) {
            res = as_write_val(sp->as, addr, sp->attrs, 1, MEM_LITTLE_ENDIAN, val);
            if (res != MEM_DECODE_ERROR) {
                FAIL("%s: write to unassigned 0x%" PRIx64 " gave %s, expected decode error",
                     as_name(sp->as), addr, mem_result_name(res));
            }
            return;
        }
        MemRegionKind k = mr_kind(h->mr);
        if (k == MR_KIND_RAM || k == MR_KIND_ROM) {
            uint8_t *p = (uint8_t *)mr_ram_ptr(h->mr) + h->off;
            uint8_t old = *p;
            if (val == old) {
                val ^= 0xff;
            }
            res = as_write_val(sp->as, addr, sp->attrs, 1, MEM_LITTLE_ENDIAN, val);
            bool ro = h->ro || k == MR_KIND_ROM;
            if (ro && (res != MEM_ACCESS_ERROR || *p != old)) {
                FAIL("%s: write to read-only %s at 0x%" PRIx64 " gave %s and byte 0x%02x->0x%02x; "
                     "expected access error, unchanged",
                     as_name(sp->as), fmt_hit(be, sizeof(be), hit, h->mr, h->off, h->ro), addr,
                     mem_result_name(res), old, *p);
            }
            if (!ro && (res != MEM_OK || *p != val)) {
                FAIL("%s: write 0x%02x to %s at 0x%" PRIx64 " gave %s, byte now 0x%02x",
                     as_name(sp->as), val, fmt_hit(be, sizeof(be), hit, h->mr, h->off, h->ro),
                     addr, mem_result_name(res), *p);
            }
            *p = old;
        } else if (!h->ro) {
            /* MMIO, or a ROM device (whose writes always go to its callbacks). A
             * read-only path onto MMIO is left alone: region.h only says the
             * flag is recorded there. */
            Dev *dv = mr_opaque(h->mr);
            unsigned before = dv->nwrites;
            res = as_write_val(sp->as, addr, sp->attrs, 1, MEM_LITTLE_ENDIAN, val);
            if (res != MEM_OK || dv->nwrites != before + 1 || dv->w_off != h->off ||
                dv->w_size != 1 || dv->w_val != val) {
                FAIL("%s: write 0x%02x to %s at 0x%" PRIx64 " gave %s; device saw %u writes, "
                     "last off 0x%" PRIx64 " size %u val 0x%" PRIx64,
                     as_name(sp->as), val, fmt_hit(be, sizeof(be), hit, h->mr, h->off, h->ro),
                     addr, mem_result_name(res), dv->nwrites - before, dv->w_off, dv->w_size,
                     dv->w_val);
            }
        }
    }
}

/* Flat view of the space == fresh render; fresh render well formed. */
static void check_flatview(Space *sp, FlatView *fresh)
{
    FlatView *cur = as_flatview(sp->as);
    if (!cur) {
        FAIL("%s: as_flatview is NULL", as_name(sp->as));
    }
    if (!flatview_equal(cur, fresh)) {
        GString *s = g_string_new("");
        dump_fv(s, "as_flatview", cur);
        dump_fv(s, "flatview_render(root)", fresh);
        FAIL("%s: as_flatview differs from flatview_render(root)\n%s", as_name(sp->as), s->str);
    }
    guint n = flatview_num_ranges(fresh);
    for (guint i = 0; i < n; i++) {
        const FlatRange *a = flatview_range(fresh, i);
        if (!a->mr || !kind_is_leaf(mr_kind(a->mr)) || a->start > a->last) {
            FAIL("%s: fresh render range #%u [0x%" PRIx64 "-0x%" PRIx64 "] is malformed",
                 as_name(sp->as), i, a->start, a->last);
        }
        if (i + 1 < n) {
            const FlatRange *b = flatview_range(fresh, i + 1);
            if (b->start <= a->last) {
                FAIL("%s: fresh render ranges #%u and #%u overlap or are unsorted",
                     as_name(sp->as), i, i + 1);
            }
            if (a->last + 1 == b->start && a->mr == b->mr &&
                a->offset_in_region + (a->last - a->start) + 1 == b->offset_in_region &&
                a->readonly == b->readonly && a->romd_mode == b->romd_mode &&
                a->dirty_log_mask == b->dirty_log_mask) {
                FAIL("%s: fresh render ranges #%u and #%u [0x%" PRIx64 "..0x%" PRIx64
                     "] continue %s with the same attributes but are not merged",
                     as_name(sp->as), i, i + 1, a->start, b->last, mr_name(a->mr));
            }
        }
    }
}

static void cpu_model_check(World *w, Space *sp, Dispatch *d, uint64_t addr);

static void check_space(World *w, Space *sp)
{
    Rng *r = &w->rng;
    Dispatch *d = as_dispatch(sp->as);
    if (!d) {
        FAIL("%s: as_dispatch is NULL", as_name(sp->as));
    }
    if (as_root(sp->as) != sp->root) {
        FAIL("%s: as_root is not the root it was created with", as_name(sp->as));
    }
    FlatView *fresh = flatview_render(sp->root);
    check_flatview(sp, fresh);
    st.checks++;
    st.ranges += flatview_num_ranges(fresh);

    GArray *pts = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    unsigned budget = 256;
    collect_points(sp->root, 0, pts, 0, &budget);
    guint nr = flatview_num_ranges(fresh);
    for (guint i = 0; i < nr; i++) {
        const FlatRange *fr = flatview_range(fresh, i);
        add_pt(pts, (s128)fr->start - 1);
        add_pt(pts, fr->start);
        add_pt(pts, fr->last);
        add_pt(pts, (s128)fr->last + 1);
    }
    if (sp->cpu) {
        for (unsigned i = 0; i < w->ncpu; i++) {
            uint64_t b = cpu_view_apic_base(w->cpus[i].cv);
            add_pt(pts, (s128)b - 1);
            add_pt(pts, b);
            add_pt(pts, (s128)b + 0xfff);
            add_pt(pts, (s128)b + 0x1000);
            add_pt(pts, (s128)w->cpus[i].smram_addr);
        }
    }
    /* Keep at most n_probe_max of them, chosen at random. */
    while (pts->len > n_probe_max) {
        guint k = (guint)rng_below(r, pts->len);
        g_array_remove_index_fast(pts, k);
    }
    u128 rs = sz128(sp->root);
    for (unsigned i = 0; i < n_random_probes; i++) {
        uint64_t a;
        switch (rng_below(r, 4)) {
        case 0: a = rng_next(r); break;
        case 1: a = rng_below128(r, rs); break;
        case 2: a = rng_below128(r, rs < 0x200000 ? rs : 0x200000); break;
        default:
            a = pts->len ? g_array_index(pts, uint64_t, rng_below(r, pts->len)) +
                               rng_below(r, 0x40) - 0x20
                         : rng_next(r);
            break;
        }
        g_array_append_val(pts, a);
    }
    for (guint i = 0; i < pts->len; i++) {
        uint64_t a = g_array_index(pts, uint64_t, i);
        check_addr(w, sp, d, a);
        if (sp->cpu) {
            cpu_model_check(w, sp, d, a);
        }
    }
    g_array_free(pts, TRUE);
    flatview_unref(fresh);
}

static void check_all(World *w)
{
    if (mem_transaction_depth() != w->tx_depth) {
        FAIL("mem_transaction_depth() = %u, the test opened %u", mem_transaction_depth(),
             w->tx_depth);
    }
    check_child_order(w);
    for (guint i = 0; i < w->spaces->len; i++) {
        check_space(w, g_ptr_array_index(w->spaces, i));
    }
}

/* Inside a transaction nothing is re-rendered: dispatches stay as they were. */
static void check_unchanged_in_tx(World *w)
{
    if (mem_transaction_depth() != w->tx_depth) {
        FAIL("mem_transaction_depth() = %u, the test opened %u", mem_transaction_depth(),
             w->tx_depth);
    }
    for (guint i = 0; i < w->spaces->len; i++) {
        Space *sp = g_ptr_array_index(w->spaces, i);
        uint64_t g = dispatch_generation(as_dispatch(sp->as));
        if (g != sp->gen_at_begin) {
            FAIL("%s: dispatch changed (generation %" PRIu64 " -> %" PRIu64
                 ") inside a transaction",
                 as_name(sp->as), sp->gen_at_begin, g);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Mutations. */

static void tx_begin(World *w)
{
    if (w->tx_depth == 0) {
        for (guint i = 0; i < w->spaces->len; i++) {
            Space *sp = g_ptr_array_index(w->spaces, i);
            sp->gen_at_begin = dispatch_generation(as_dispatch(sp->as));
        }
    }
    w->tx_depth++;
    oplog("transaction begin (depth %u)", w->tx_depth);
    mem_transaction_begin();
}

static void tx_commit(World *w)
{
    oplog("transaction commit (depth %u)", w->tx_depth);
    w->tx_depth--;
    mem_transaction_commit();
}

static void expect_error(GError **err, bool ok, MemErrorCode code, const char *what)
{
    if (ok) {
        FAIL("%s succeeded, expected error %d", what, (int)code);
    }
    if (!*err || (*err)->domain != MEM_ERROR || (*err)->code != (int)code) {
        FAIL("%s: expected MEM_ERROR code %d, got %s (code %d)", what, (int)code,
             *err ? (*err)->message : "no GError", *err ? (*err)->code : -1);
    }
    g_clear_error(err);
}

/* Calls that must be refused, leaving everything unchanged. */
static void mutate_invalid(World *w)
{
    Rng *r = &w->rng;
    GError *err = NULL;
    char what[160];
    FlatView *before = NULL;
    Space *sp = w->spaces->len ? g_ptr_array_index(w->spaces, 0) : NULL;
    if (sp) {
        before = flatview_render(sp->root);
        w->rendered_by_test = true;
    }
    switch (rng_below(r, 7)) {
    case 0: { /* add a region that already has a parent */
        MemRegion *x = pick(w, f_attached);
        MemRegion *c = pick(w, f_container);
        if (!x || !c || reaches(x, c)) {
            break;
        }
        MemRegion *old = mr_parent(x);
        uint64_t oa = mr_addr(x);
        snprintf(what, sizeof(what), "adding %s (child of %s) to %s", mr_name(x), mr_name(old),
                 mr_name(c));
        oplog("invalid: %s", what);
        expect_error(&err, mr_add_subregion_overlap(c, 0, x, 1, &err), MEM_ERROR_HAS_PARENT,
                     what);
        if (mr_parent(x) != old || mr_addr(x) != oa) {
            FAIL("%s: refused, but the region moved", what);
        }
        break;
    }
    case 1: { /* a detached region into something it reaches (children or alias) */
        MemRegion *x = pick(w, f_detached);
        if (!x) {
            break;
        }
        MemRegion *c = NULL;
        for (int tries = 0; tries < 8 && !c; tries++) {
            MemRegion *y = pick(w, f_container);
            if (y && reaches(x, y)) {
                c = y;
            }
        }
        if (!c) {
            break;
        }
        snprintf(what, sizeof(what), "adding %s into %s, which it reaches", mr_name(x),
                 mr_name(c));
        oplog("invalid: %s", what);
        expect_error(&err, mr_add_subregion(c, 0, x, &err), MEM_ERROR_CYCLE, what);
        if (mr_parent(x)) {
            FAIL("%s: refused, but it has a parent now", what);
        }
        break;
    }
    case 2: { /* delete from a container it is not a child of */
        MemRegion *x = pick(w, f_nonroot);
        MemRegion *c = pick(w, f_container);
        if (!x || !c || mr_parent(x) == c) {
            break;
        }
        snprintf(what, sizeof(what), "deleting %s from %s (not its parent)", mr_name(x),
                 mr_name(c));
        oplog("invalid: %s", what);
        expect_error(&err, mr_del_subregion(c, x, &err), MEM_ERROR_NOT_CHILD, what);
        break;
    }
    case 3: { /* size 0 */
        MemRegion *x = pick(w, f_resizable);
        if (!x) {
            break;
        }
        uint64_t os = mr_size(x);
        snprintf(what, sizeof(what), "resizing %s to 0", mr_name(x));
        oplog("invalid: %s", what);
        expect_error(&err, mr_set_size(x, 0, &err), MEM_ERROR_INVALID_ARGUMENT, what);
        if (mr_size(x) != os) {
            FAIL("%s: refused, but the size changed", what);
        }
        break;
    }
    case 4: { /* resize RAM-backed */
        MemRegion *x = pick(w, f_fixed_size);
        if (!x) {
            break;
        }
        uint64_t os = mr_size(x);
        snprintf(what, sizeof(what), "resizing %s %s", mr_kind_name(mr_kind(x)), mr_name(x));
        oplog("invalid: %s", what);
        expect_error(&err, mr_set_size(x, os * 2, &err), MEM_ERROR_INVALID_ARGUMENT, what);
        if (mr_size(x) != os) {
            FAIL("%s: refused, but the size changed", what);
        }
        break;
    }
    case 5: { /* alias offset / romd mode of the wrong kind */
        MemRegion *x = pick(w, f_any);
        if (!x || mr_kind(x) == MR_KIND_ALIAS || mr_kind(x) == MR_KIND_ROMD) {
            break;
        }
        snprintf(what, sizeof(what), "alias offset / romd mode of %s %s",
                 mr_kind_name(mr_kind(x)), mr_name(x));
        oplog("invalid: %s", what);
        expect_error(&err, mr_set_alias_offset(x, 0x10, &err), MEM_ERROR_INVALID_ARGUMENT,
                     what);
        expect_error(&err, mr_set_romd_mode(x, false, &err), MEM_ERROR_INVALID_ARGUMENT, what);
        break;
    }
    default: { /* size 0 at creation */
        oplog("invalid: regions of size 0");
        MemRegion *x = mr_new_ram("zero", 0, &err);
        if (x) {
            FAIL("mr_new_ram(size 0) succeeded");
        }
        expect_error(&err, false, MEM_ERROR_INVALID_ARGUMENT, "mr_new_ram(size 0)");
        x = mr_new_container("zero", 0, &err);
        if (x) {
            FAIL("mr_new_container(size 0) succeeded");
        }
        expect_error(&err, false, MEM_ERROR_INVALID_ARGUMENT, "mr_new_container(size 0)");
        break;
    }
    }
    if (before) {
        FlatView *after = flatview_render(sp->root);
        if (!flatview_equal(before, after)) {
            FAIL("a refused call changed the rendering of %s", mr_name(sp->root));
        }
        flatview_unref(after);
        flatview_unref(before);
    }
}

static void mutate_tree(World *w)
{
    Rng *r = &w->rng;
    GError *err = NULL;
    char b[40];
    unsigned k = (unsigned)rng_below(r, 100);
    if (k < 16) { /* add: a window over an attached region, a detached region, or a new one */
        MemRegion *y = rng_chance(r, 1, 4) ? pick(w, f_attached) : NULL;
        if (y && w->regions->len < w->max_regions + 16) {
            add_window(w, y);
        } else {
            MemRegion *c = pick(w, f_container);
            MemRegion *x = rng_chance(r, 1, 2) ? pick(w, f_detached) : NULL;
            if (!x && w->regions->len < w->max_regions + 16) {
                x = gen_region(w, 2 + (int)rng_below(r, 2));
            }
            if (c && x && !mr_parent(x)) {
                add_somewhere(w, c, x);
            }
        }
    } else if (k < 28) { /* delete */
        MemRegion *x = pick(w, f_attached);
        if (x) {
            oplog("del %s from %s", mr_name(x), mr_name(mr_parent(x)));
            if (!mr_del_subregion(mr_parent(x), x, &err)) {
                FAIL("mr_del_subregion(%s) failed: %s", mr_name(x), err ? err->message : "?");
            }
            if (mr_parent(x)) {
                FAIL("deleted %s still has a parent", mr_name(x));
            }
        }
    } else if (k < 40) { /* enable / disable */
        MemRegion *x = pick(w, f_nonroot);
        if (x) {
            bool en = !mr_enabled(x);
            oplog("%s %s", en ? "enable" : "disable", mr_name(x));
            mr_set_enabled(x, en);
            if (mr_enabled(x) != en) {
                FAIL("mr_set_enabled(%s, %d) did not stick", mr_name(x), en);
            }
        }
    } else if (k < 54) { /* move */
        MemRegion *x = pick(w, f_nonroot);
        if (x) {
            uint64_t a = gen_addr(w, mr_parent(x), mr_size(x));
            oplog("move %s to 0x%" PRIx64, mr_name(x), a);
            mr_set_address(x, a);
            if (mr_addr(x) != a) {
                FAIL("mr_set_address(%s) did not stick", mr_name(x));
            }
        }
    } else if (k < 62) { /* alias offset */
        MemRegion *x = pick(w, f_alias);
        if (x) {
            u128 T = sz128(mr_alias_target(x));
            uint64_t off;
            switch (rng_below(r, 4)) {
            case 0: off = 0; break;
            case 1: off = rng_below128(r, T); break;
            case 2: off = mr_alias_offset(x) + (rng_below(r, 0x2000) - 0x1000); break;
            default: off = rng_below128(r, T) & ~0xfffull; break;
            }
            oplog("alias offset of %s = 0x%" PRIx64, mr_name(x), off);
            if (!mr_set_alias_offset(x, off, &err)) {
                FAIL("mr_set_alias_offset(%s, 0x%" PRIx64 ") failed: %s", mr_name(x), off,
                     err ? err->message : "?");
            }
            if (mr_alias_offset(x) != off) {
                FAIL("mr_set_alias_offset(%s) did not stick", mr_name(x));
            }
        }
    } else if (k < 70) { /* resize */
        MemRegion *x = pick(w, f_resizable);
        if (x) {
            uint64_t s = gen_size(w, mr_kind(x) == MR_KIND_MMIO ? SZ_MMIO : SZ_ANY);
            oplog("resize %s to %s", mr_name(x), fmt_size(b, sizeof(b), s));
            if (!mr_set_size(x, s, &err)) {
                FAIL("mr_set_size(%s) failed: %s", mr_name(x), err ? err->message : "?");
            }
            if (mr_size(x) != s) {
                FAIL("mr_set_size(%s) did not stick", mr_name(x));
            }
        }
    } else if (k < 76) { /* readonly */
        MemRegion *x = pick(w, f_ro_able);
        if (x) {
            bool ro = !mr_readonly(x);
            oplog("readonly %s = %d", mr_name(x), ro);
            mr_set_readonly(x, ro);
            if (mr_readonly(x) != ro) {
                FAIL("mr_set_readonly(%s) did not stick", mr_name(x));
            }
        }
    } else if (k < 79) { /* romd mode */
        MemRegion *x = pick(w, f_romd);
        if (x) {
            bool m = !mr_romd_mode(x);
            oplog("romd mode %s = %d", mr_name(x), m);
            if (!mr_set_romd_mode(x, m, &err) || mr_romd_mode(x) != m) {
                FAIL("mr_set_romd_mode(%s, %d) failed", mr_name(x), m);
            }
        }
    } else if (k < 82) { /* dirty logging */
        MemRegion *x = pick(w, f_backed);
        if (x) {
            unsigned client = (unsigned)rng_below(r, 3);
            bool en = !(mr_dirty_log_mask(x) & (1u << client));
            oplog("dirty log %s client %u = %d", mr_name(x), client, en);
            if (!mr_set_dirty_log(x, client, en, &err)) {
                FAIL("mr_set_dirty_log(%s) failed: %s", mr_name(x), err ? err->message : "?");
            }
        }
    } else if (k < 87) { /* priority change: delete and re-add */
        MemRegion *x = pick(w, f_attached);
        if (x) {
            MemRegion *c = mr_parent(x);
            uint64_t a = rng_chance(r, 1, 2) ? mr_addr(x) : gen_addr(w, c, mr_size(x));
            oplog("re-add %s", mr_name(x));
            mr_ref(x);
            if (!mr_del_subregion(c, x, &err)) {
                FAIL("mr_del_subregion(%s) failed", mr_name(x));
            }
            do_add(w, c, x, a, true, gen_prio(w));
            mr_unref(x);
        }
    } else if (k < 90) {
        mutate_invalid(w);
    } else if (k < 92) {
        MemRegion *c = pick(w, f_container);
        if (c) {
            check_overlap_count(c);
        }
    } else if (k < 96) {
        if (w->tx_depth < 3) {
            tx_begin(w);
        }
    } else {
        if (w->tx_depth > 0) {
            tx_commit(w);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Worlds. */

static void report_sink(const char *message, void *opaque)
{
    (void)message;
    (*(unsigned *)opaque)++;
}

static unsigned n_reports;

static void world_init(World *w, uint64_t seed, const char *scenario)
{
    memset(w, 0, sizeof(*w));
    /* Each scenario gets its own stream for the same seed number. */
    w->rng.s = mix64(seed * 0x5851f42d4c957f2dull + 0x14057b7ef767814full +
                     g_str_hash(scenario));
    w->regions = g_ptr_array_new();
    w->roots = g_ptr_array_new();
    w->devs = g_ptr_array_new_with_free_func(g_free);
    w->seq = g_hash_table_new(NULL, NULL);
    w->spaces = g_ptr_array_new_with_free_func(g_free);
    w->max_regions = 48;
    cx.scenario = scenario;
    cx.seed = seed;
    cx.step = -1;
    if (cx.log) {
        g_string_truncate(cx.log, 0);
    } else {
        cx.log = g_string_new("");
    }
    cx.world = w;
}

static Space *world_add_space(World *w, MemRegion *root, const char *name, MemAttrs attrs,
                              CpuState *cpu, AddressSpace *as)
{
    GError *err = NULL;
    if (!as) {
        as = as_new(name, root, &err);
        if (!as) {
            FAIL("as_new(%s) failed: %s", name, err ? err->message : "?");
        }
        oplog("address space %s on %s", name, mr_name(root));
    }
    Space *sp = g_new0(Space, 1);
    sp->as = as;
    sp->root = root;
    sp->attrs = attrs;
    sp->cpu = cpu;
    g_ptr_array_add(w->spaces, sp);
    return sp;
}

static void world_free(World *w)
{
    while (w->tx_depth) {
        tx_commit(w);
    }
    if (cx.dump) {
        GString *d = g_string_new("");
        dump_world(d, w);
        fprintf(stderr, "--- %s seed %" PRIu64 " at the end ---\n%s", cx.scenario, cx.seed,
                d->str);
        g_string_free(d, TRUE);
    }
    for (guint i = 0; i < w->spaces->len; i++) {
        Space *sp = g_ptr_array_index(w->spaces, i);
        if (!sp->cpu) {
            as_free(sp->as);
        }
    }
    for (unsigned i = 0; i < w->ncpu; i++) {
        cpu_view_free(w->cpus[i].cv);
    }
    for (guint i = 0; i < w->regions->len; i++) {
        mr_unref(g_ptr_array_index(w->regions, i));
    }
    g_ptr_array_free(w->spaces, TRUE);
    g_ptr_array_free(w->regions, TRUE);
    g_ptr_array_free(w->roots, TRUE);
    g_ptr_array_free(w->devs, TRUE);
    g_hash_table_destroy(w->seq);
    cx.world = NULL;
}

static uint64_t gen_root_size(World *w)
{
    switch (rng_below(&w->rng, 8)) {
    case 0: case 1: case 2: return MEM_SIZE_FULL;
    case 3: return 1ull << 32;
    case 4: return 1ull << 20;
    case 5: return 0x10000;
    case 6: return 1ull << 48;
    default: return 0x1000 + rng_below(&w->rng, 1ull << 24);
    }
}

static MemRegion *make_root(World *w, uint64_t size)
{
    MemRegion *root = w_new(w, MR_KIND_CONTAINER, size, NULL, 0);
    g_ptr_array_add(w->roots, root);
    return root;
}

/* Run the mutation loop; `extra` does scenario-specific mutations (may be NULL). */
static void run_steps(World *w, unsigned steps, bool (*extra)(World *w))
{
    cx.step = 0;
    check_all(w);
    for (unsigned s = 1; s <= steps; s++) {
        cx.step = (int)s;
        if (!extra || !extra(w)) {
            mutate_tree(w);
        }
        if (w->tx_depth == 0) {
            check_all(w);
        } else {
            check_unchanged_in_tx(w);
        }
    }
    while (w->tx_depth) {
        tx_commit(w);
    }
    cx.step = (int)steps + 1;
    check_all(w);
}

static unsigned cfg_steps = 30;

/* Scenario 1: one random tree. */
static void run_tree_seed(uint64_t seed)
{
    World w;
    world_init(&w, seed, "tree_diff");
    MemRegion *root = make_root(&w, gen_root_size(&w));
    populate(&w, root, 0);
    add_edge_regions(&w, root);
    world_add_space(&w, root, "as0", mem_attrs_cpu(0), NULL, NULL);
    if (rng_chance(&w.rng, 1, 8)) {
        world_add_space(&w, root, "as0bis", mem_attrs_device(1), NULL, NULL);
    }
    run_steps(&w, cfg_steps, NULL);
    world_free(&w);
}

/* Scenario 2: a view root layering overlays over an alias of a whole tree. */
static void run_layered_seed(uint64_t seed)
{
    World w;
    world_init(&w, seed, "layered_diff");
    MemRegion *t = make_root(&w, gen_root_size(&w));
    populate(&w, t, 0);
    add_edge_regions(&w, t);
    uint64_t ts = mr_size(t);
    uint64_t vs = rng_chance(&w.rng, 3, 4) ? ts : gen_root_size(&w);
    MemRegion *v = make_root(&w, vs);
    MemRegion *a = w_new(&w, MR_KIND_ALIAS, ts, t, 0);
    do_add(&w, v, a, 0, true, rng_chance(&w.rng, 3, 4) ? -2 : gen_prio(&w));
    unsigned n = 1 + (unsigned)rng_below(&w.rng, 4);
    for (unsigned i = 0; i < n; i++) {
        MemRegion *x = gen_region(&w, 2);
        if (!reaches(x, v)) {
            do_add(&w, v, x, gen_addr(&w, v, mr_size(x)), true, (int)rng_below(&w.rng, 4));
        }
    }
    world_add_space(&w, t, "asT", mem_attrs_cpu(0), NULL, NULL);
    world_add_space(&w, v, "asV", mem_attrs_cpu(1), NULL, NULL);
    if (rng_chance(&w.rng, 1, 4)) {
        /* A second view on the same tree. */
        MemRegion *v2 = make_root(&w, ts);
        MemRegion *a2 = w_new(&w, MR_KIND_ALIAS, ts, t, 0);
        do_add(&w, v2, a2, 0, true, 0);
        MemRegion *x = gen_region(&w, 3);
        if (!reaches(x, v2)) {
            do_add(&w, v2, x, gen_addr(&w, v2, mr_size(x)), true, 1);
        }
        world_add_space(&w, v2, "asV2", mem_attrs_cpu(2), NULL, NULL);
    }
    run_steps(&w, cfg_steps, NULL);
    world_free(&w);
}

/* ------------------------------------------------------------------ */
/* Scenario 3: per-CPU views. */

/*
 * Independent model of one CPU's view from its configuration alone
 * (cpu_view.h): its APIC page (prio 2) over its SMRAM window (prio 1) over
 * the global map (prio 0), all clipped to the CPU root.
 */
static bool cpu_model(World *w, CpuState *c, uint64_t addr, Hit *h)
{
    memset(h, 0, sizeof(*h));
    MemRegion *root = cpu_view_root(c->cv);
    if ((u128)addr >= sz128(root)) {
        return false;
    }
    uint64_t base = cpu_view_apic_base(c->cv);
    if (c->apic && c->apic_enabled && addr >= base && (u128)addr < (u128)base + 0x1000) {
        h->mr = c->apic;
        h->off = addr - base;
        return true;
    }
    if (c->smram && c->smram_visible && addr >= c->smram_addr &&
        (u128)addr < (u128)c->smram_addr + c->smram_win) {
        if (ref_region(c->smram, addr - c->smram_addr, false, h, 0)) {
            return true;
        }
    }
    return ref_region(w->global, addr, false, h, 0);
}

static void cpu_model_check(World *w, Space *sp, Dispatch *d, uint64_t addr)
{
    char be[96], bg[96];
    CpuState *c = sp->cpu;
    Hit h;
    bool hit = cpu_model(w, c, addr, &h);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, NULL));
    uint64_t goff = s->offset_in_region + (addr - s->start);
    if (hit != (s->mr != NULL) || (hit && (h.mr != s->mr || h.off != goff || h.ro != s->readonly))) {
        FAIL("cpu %u (%s): address 0x%" PRIx64 ": the CPU model expects %s, dispatch gave %s",
             c->index, as_name(sp->as), addr, fmt_hit(be, sizeof(be), hit, h.mr, h.off, h.ro),
             fmt_hit(bg, sizeof(bg), s->mr != NULL, s->mr, goff, s->readonly));
    }
    /* Nobody else's APIC, ever; and the global (device) space never sees any. */
    for (unsigned i = 0; i < w->ncpu; i++) {
        if (&w->cpus[i] != c && s->mr && s->mr == w->cpus[i].apic) {
            FAIL("cpu %u sees cpu %u's APIC at 0x%" PRIx64, c->index, w->cpus[i].index, addr);
        }
    }
}

static void check_cpu_state(World *w)
{
    for (unsigned i = 0; i < w->ncpu; i++) {
        CpuState *c = &w->cpus[i];
        if (cpu_view_apic_enabled(c->cv) != c->apic_enabled ||
            cpu_view_smram_visible(c->cv) != c->smram_visible || cpu_view_index(c->cv) != c->index) {
            FAIL("cpu %u: getters disagree with what was set (apic %d/%d smram %d/%d)", c->index,
                 cpu_view_apic_enabled(c->cv), c->apic_enabled, cpu_view_smram_visible(c->cv),
                 c->smram_visible);
        }
    }
}

static uint64_t gen_apic_base(World *w)
{
    Rng *r = &w->rng;
    u128 G = sz128(w->global);
    switch (rng_below(r, 9)) {
    case 0: case 1: return 0xfee00000ull;
    case 2: case 3: return rng_below128(r, G) & ~0xfffull;
    case 4: return rng_below128(r, G);                          /* unaligned */
    case 5: return 0xfffffffffffff000ull;
    case 6: return (uint64_t)(G > 0x1000 ? G - 0x1000 : 0) + rng_below(r, 0x2000);
    case 7: return 0xa0000ull + 0x1000 * rng_below(r, 0x20);   /* over SMRAM */
    default: return rng_next(r);
    }
}

static void snapshot_gens(World *w, uint64_t *gens)
{
    for (guint i = 0; i < w->spaces->len; i++) {
        Space *sp = g_ptr_array_index(w->spaces, i);
        gens[i] = dispatch_generation(as_dispatch(sp->as));
    }
}

/* One CPU's overlay changed: nobody else's dispatch may have. */
static void check_only_cpu_changed(World *w, const uint64_t *gens, CpuState *c)
{
    if (w->tx_depth) {
        return;
    }
    for (guint i = 0; i < w->spaces->len; i++) {
        Space *sp = g_ptr_array_index(w->spaces, i);
        if (sp->cpu != c && dispatch_generation(as_dispatch(sp->as)) != gens[i]) {
            FAIL("changing cpu %u's overlay rebuilt the dispatch of %s", c->index,
                 as_name(sp->as));
        }
    }
}

static bool mutate_cpu(World *w)
{
    Rng *r = &w->rng;
    if (!rng_chance(r, 2, 5) || w->ncpu == 0) {
        return false; /* a global-map mutation instead */
    }
    CpuState *c = &w->cpus[rng_below(r, w->ncpu)];
    uint64_t gens[16];
    snapshot_gens(w, gens);
    switch (rng_below(r, 3)) {
    case 0: {
        uint64_t b = gen_apic_base(w);
        oplog("cpu %u: apic base 0x%" PRIx64, c->index, b);
        cpu_view_set_apic_base(c->cv, b);
        uint64_t got = cpu_view_apic_base(c->cv);
        if (c->apic && (u128)b + 0x1000 <= sz128(cpu_view_root(c->cv)) && got != b) {
            FAIL("cpu %u: apic base set to 0x%" PRIx64 " (inside the root) reads back 0x%" PRIx64,
                 c->index, b, got);
        }
        break;
    }
    case 1: {
        bool en = !c->apic_enabled;
        oplog("cpu %u: apic %s", c->index, en ? "enabled" : "disabled");
        cpu_view_set_apic_enabled(c->cv, en);
        c->apic_enabled = c->apic ? en : false; /* no APIC: nothing to enable */
        break;
    }
    default: {
        bool v = !c->smram_visible;
        oplog("cpu %u: smram %s", c->index, v ? "visible" : "hidden");
        cpu_view_set_smram_visible(c->cv, v);
        c->smram_visible = c->smram ? v : false; /* no SMRAM: nothing to show */
        break;
    }
    }
    check_only_cpu_changed(w, gens, c);
    check_cpu_state(w);
    return true;
}

/* A global change renders the shared map once, not once per CPU (§3). */
static bool mutate_cpu_or_global(World *w)
{
    if (mutate_cpu(w)) {
        return true;
    }
    MemRenderStats before, after;
    mem_render_stats(&before);
    unsigned depth = w->tx_depth;
    w->rendered_by_test = false;
    mutate_tree(w);
    mem_render_stats(&after);
    /* The global map is one shared rendering; the plain "sys" space may in
     * turn layer on a region its root happens to alias whole at 0 (that is
     * a second shared tree). Per-CPU full renders would exceed this. */
    uint64_t bound = 1 + (w->spaces->len - w->ncpu);
    if (depth == 0 && w->tx_depth == 0 && !w->rendered_by_test &&
        after.commits <= before.commits + 1 &&
        after.full_renders > before.full_renders + bound) {
        FAIL("one global mutation rendered %" PRIu64 " full trees (at most %" PRIu64
             " expected with %u CPUs)",
             after.full_renders - before.full_renders, bound, w->ncpu);
    }
    return true;
}

static void run_cpu_seed(uint64_t seed)
{
    World w;
    world_init(&w, seed, "cpu_view_diff");
    Rng *r = &w.rng;
    w.no_root_resize = true;
    w.max_regions = 32;
    static const uint64_t gsizes[] = { MEM_SIZE_FULL, MEM_SIZE_FULL, 1ull << 32, 1ull << 36 };
    MemRegion *g = make_root(&w, gsizes[rng_below(r, G_N_ELEMENTS(gsizes))]);
    w.global = g;
    /* Realistic anchors: RAM at 0, something at the VGA window, a BAR on the APIC page. */
    MemRegion *low = w_new(&w, MR_KIND_RAM, 0x100000, NULL, 0);
    do_add(&w, g, low, 0, false, 0);
    if (rng_chance(r, 1, 2)) {
        MemRegion *vga = w_new(&w, MR_KIND_MMIO, 0x20000, NULL, 0);
        do_add(&w, g, vga, 0xa0000, true, 1);
    }
    if (rng_chance(r, 1, 2)) {
        MemRegion *bar = w_new(&w, MR_KIND_MMIO, 0x1000 << rng_below(r, 3), NULL, 0);
        do_add(&w, g, bar, 0xfee00000ull, true, (int)rng_below(r, 4));
    }
    populate(&w, g, 0);
    add_edge_regions(&w, g);
    world_add_space(&w, g, "sys", mem_attrs_device(7), NULL, NULL);

    w.ncpu = 1 + (unsigned)rng_below(r, 4);
    for (unsigned i = 0; i < w.ncpu; i++) {
        CpuState *c = &w.cpus[i];
        c->index = i;
        CpuViewConfig cfg = { .cpu_index = i, .global_map = g };
        if (rng_chance(r, 4, 5)) {
            MemRegion *sm = rng_chance(r, 1, 2) ? pick(&w, f_ram) : NULL;
            if (!sm) {
                sm = w_new(&w, MR_KIND_RAM, 0x20000, NULL, 0);
            }
            c->smram = sm;
            cfg.smram = sm;
            cfg.smram_addr = rng_chance(r, 1, 2) ? 0xa0000 : rng_below128(r, sz128(g)) & ~0xfffull;
            switch (rng_below(r, 8)) {
            case 0: case 1: case 2: case 3: cfg.smram_size = 0; break;
            case 7: cfg.smram_size = mr_size(sm) + 0x1000; break; /* beyond: clipped */
            default: cfg.smram_size = 1 + rng_below(r, mr_size(sm)); break;
            }
            c->smram_addr = cfg.smram_addr;
            c->smram_win = cfg.smram_size ? cfg.smram_size : mr_size(sm);
        }
        if (rng_chance(r, 7, 8)) {
            Dev *d = g_new0(Dev, 1);
            d->id = 1000 + i;
            g_ptr_array_add(w.devs, d);
            char name[32];
            snprintf(name, sizeof(name), "apic%u", i);
            GError *err = NULL;
            c->apic = mr_new_mmio(name, 0x1000, &dev_ops, d, &err);
            if (!c->apic) {
                FAIL("creating %s failed", name);
            }
            c->apic_dev = d;
            cfg.apic = c->apic;
            cfg.apic_base = rng_chance(r, 2, 3) ? 0xfee00000ull : gen_apic_base(&w);
        }
        GError *err = NULL;
        oplog("cpu %u: new view, smram %s at 0x%" PRIx64 " size 0x%" PRIx64
              ", apic %s at 0x%" PRIx64,
              i, cfg.smram ? mr_name(cfg.smram) : "-", cfg.smram_addr, cfg.smram_size,
              cfg.apic ? mr_name(cfg.apic) : "-", cfg.apic_base);
        c->cv = cpu_view_new(&cfg, &err);
        if (!c->cv) {
            FAIL("cpu_view_new(%u) failed: %s", i, err ? err->message : "?");
        }
        c->apic_enabled = cpu_view_apic_enabled(c->cv);
        c->smram_visible = cpu_view_smram_visible(c->cv);
        if (mr_size(cpu_view_root(c->cv)) != mr_size(g)) {
            FAIL("cpu %u: root size 0x%" PRIx64 " is not the global map's 0x%" PRIx64, i,
                 mr_size(cpu_view_root(c->cv)), mr_size(g));
        }
        if (c->apic && c->apic_enabled &&
            (u128)cfg.apic_base + 0x1000 <= sz128(g) &&
            cpu_view_apic_base(c->cv) != cfg.apic_base) {
            FAIL("cpu %u: apic base 0x%" PRIx64 " reads back as 0x%" PRIx64, i, cfg.apic_base,
                 cpu_view_apic_base(c->cv));
        }
        char name[32];
        snprintf(name, sizeof(name), "cpu%u", i);
        world_add_space(&w, cpu_view_root(c->cv), name, mem_attrs_cpu(i), c,
                        cpu_view_as(c->cv));
        if (as_name(cpu_view_as(c->cv)) == NULL) {
            FAIL("cpu %u: address space without a name", i);
        }
        /* Start in a random state. */
        if (rng_chance(r, 1, 2)) {
            bool v = !c->smram_visible;
            oplog("cpu %u: smram %s", i, v ? "visible" : "hidden");
            cpu_view_set_smram_visible(c->cv, v);
            c->smram_visible = c->smram ? v : false;
        }
    }
    check_cpu_state(&w);
    run_steps(&w, cfg_steps, mutate_cpu_or_global);
    world_free(&w);
}

/* ------------------------------------------------------------------ */
/* Deterministic anchors: the reference itself on the spec's must-pass case. */

static void gleb_case(int pci_prio, int ram_prio, bool bar_a_wins)
{
    World w;
    world_init(&w, 0, "gleb_example");
    MemRegion *root = make_root(&w, MEM_SIZE_FULL);
    MemRegion *pci = w_new(&w, MR_KIND_CONTAINER, 0x30000, NULL, 0);
    MemRegion *bar_a = w_new(&w, MR_KIND_MMIO, 0x1000, NULL, 0);
    MemRegion *bar_b = w_new(&w, MR_KIND_MMIO, 0x1000, NULL, 0);
    MemRegion *ram = w_new(&w, MR_KIND_RAM, 0x20000, NULL, 0);
    do_add(&w, pci, bar_a, 0x1000, false, 0);
    do_add(&w, pci, bar_b, 0x20000, false, 0);
    do_add(&w, root, pci, 0, true, pci_prio);
    do_add(&w, root, ram, 0, true, ram_prio);
    Space *sp = world_add_space(&w, root, "gleb", mem_attrs_cpu(0), NULL, NULL);
    Hit h;
    ck_assert(ref_resolve(root, 0, &h) && h.mr == ram && h.off == 0);
    ck_assert(ref_resolve(root, 0x1000, &h) && h.mr == (bar_a_wins ? bar_a : ram) &&
              h.off == (bar_a_wins ? 0 : 0x1000));
    ck_assert(ref_resolve(root, 0x20000, &h) && h.mr == bar_b && h.off == 0);
    ck_assert(ref_resolve(root, 0x20fff, &h) && h.mr == bar_b && h.off == 0xfff);
    ck_assert(!ref_resolve(root, 0x21000, &h));
    ck_assert(!ref_resolve(root, 0x30000, &h));
    cx.step = 0;
    check_space(&w, sp);
    world_free(&w);
}

START_TEST(test_gleb_reference)
{
    cx.tcase = "gleb";
    mem_set_report_handler(report_sink, &n_reports);
    gleb_case(1, 0, true);  /* PCI over RAM: BAR A at 0x1000 */
    gleb_case(0, 1, false); /* swapped: RAM at 0x1000 */
    mem_set_report_handler(NULL, NULL);
    g_string_free(cx.log, TRUE);
    cx.log = NULL;
}
END_TEST

/* ------------------------------------------------------------------ */
/* Seed loops. */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? g_ascii_strtoull(s, NULL, 0) : dflt;
}

/* Seeds per scenario: scaled down under sanitizers. */
static unsigned n_tree_seeds = RD_SANITIZED ? 1000 : 2000;
static unsigned n_layered_seeds = RD_SANITIZED ? 600 : 1200;
static unsigned n_cpu_seeds = RD_SANITIZED ? 500 : 800;

static void run_seeds(const char *name, const char *tcase, void (*fn)(uint64_t), unsigned n)
{
    cx.tcase = tcase;
    memset(&st, 0, sizeof(st));
    uint64_t one = env_u64("MMUSIM_RDIFF_SEED", 0);
    uint64_t scale = env_u64("MMUSIM_RDIFF_SEEDS", 0);
    cfg_steps = (unsigned)env_u64("MMUSIM_RDIFF_STEPS", 30);
    cx.verbose = env_u64("MMUSIM_RDIFF_VERBOSE", 0) != 0;
    cx.dump = env_u64("MMUSIM_RDIFF_DUMP", 0) != 0;
    n_reports = 0;
    mem_set_report_handler(report_sink, &n_reports);
    gint64 t0 = g_get_monotonic_time();
    uint64_t first = 1, last = scale ? scale : n;
    if (one) {
        first = last = one;
    }
#if RD_SANITIZED
    /* Everything of a seed is freed when it ends, so LeakSanitizer can name
     * the seeds that leak (otherwise it only reports at exit, without one).
     * A check costs ~10 ms: every MMUSIM_RDIFF_LEAKCHECK seeds (default 32). */
    uint64_t leak_every = env_u64("MMUSIM_RDIFF_LEAKCHECK", 32);
    uint64_t clean_upto = first - 1;
#endif
    for (uint64_t seed = first; seed <= last; seed++) {
        fn(seed);
#if RD_SANITIZED
        if (leak_every && (seed == last || (seed - first + 1) % leak_every == 0)) {
            if (__lsan_do_recoverable_leak_check()) {
                cx.seed = seed;
                cx.step = (int)cfg_steps + 1;
                g_string_truncate(cx.log, 0);
                FAIL("LeakSanitizer: memory still allocated after every address space, CPU "
                     "view and region was freed, leaked by one of seeds %" PRIu64 "..%" PRIu64
                     " (report above). Find the first leaking seed with: CK_RUN_CASE=%s "
                     "MMUSIM_RDIFF_SEEDS=%" PRIu64 " MMUSIM_RDIFF_LEAKCHECK=1",
                     clean_upto + 1, seed, cx.tcase, seed);
            }
            clean_upto = seed;
        }
#endif
    }
    fprintf(stderr, "test_random_diff: %s: seeds %" PRIu64 "..%" PRIu64 " x %u steps OK "
            "(%.2f s, %u reports)\n",
            name, first, last, cfg_steps, (g_get_monotonic_time() - t0) / 1e6, n_reports);
    fprintf(stderr, "  %" PRIu64 " space checks (avg %.1f flat ranges), %" PRIu64
            " probes: %" PRIu64 " mapped (%" PRIu64 " nested/aliased, %" PRIu64
            " in sub-page sections)\n",
            st.checks, st.checks ? (double)st.ranges / st.checks : 0.0, st.probes, st.mapped,
            st.via_alias_or_nested, st.subpage);
    mem_set_report_handler(NULL, NULL);
    if (cx.log) {
        g_string_free(cx.log, TRUE);
        cx.log = NULL;
    }
}

START_TEST(test_tree_diff)
{
    run_seeds("tree_diff", "tree", run_tree_seed, n_tree_seeds);
}
END_TEST

START_TEST(test_layered_diff)
{
    run_seeds("layered_diff", "layered", run_layered_seed, n_layered_seeds);
}
END_TEST

START_TEST(test_cpu_view_diff)
{
    run_seeds("cpu_view_diff", "cpu", run_cpu_seed, n_cpu_seeds);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *t)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

int main(void)
{
    Suite *s = suite_create("random_diff");
    add_case(s, "gleb", test_gleb_reference);
    add_case(s, "tree", test_tree_diff);
    add_case(s, "layered", test_layered_diff);
    add_case(s, "cpu", test_cpu_view_diff);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
