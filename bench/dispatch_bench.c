/*
 * dispatch-bench: how fast the memory core finds a section, how much a
 * commit costs, and what an extra CPU costs (docs/performance.md).
 *
 *   build/bench/dispatch-bench            a table
 *   build/bench/dispatch-bench --json     one JSON object per line
 *   build/bench/dispatch-bench --quick    fewer iterations (smoke run)
 *
 * Cases:
 *   lookup         dispatch_lookup() on an address space's dispatch, random
 *                  addresses that hit mapped regions; baseline: binary search
 *                  over the sorted region start addresses.
 *   lookup-cpu     the same addresses through a CPU view's (layered) dispatch.
 *   commit-move    mr_set_address() of one region outside a transaction (one
 *                  commit); baseline: flatview_render() + dispatch_new() of
 *                  the whole root.
 *   commit-move-cpus  the same with N CPU views layered on the map; baseline:
 *                  the same move with no CPU views.
 *   cpu-memory     heap growth per CPU view (glibc mallinfo2) and each view's
 *                  dispatch_memory_size(); baseline: the memory of the global
 *                  map's own dispatch (what a CPU would cost if it had an
 *                  unshared one).
 *   apic-relocate  cpu_view_set_apic_base() of one CPU (one commit);
 *                  baseline: rendering that CPU's root from scratch.
 *
 * Targets are informative: the program exits 0 whether they are met or not.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "softmmu/cpu_view.h"
#include "bench/bench_devices.h"

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */

static gboolean opt_json;
static gboolean opt_quick;

typedef struct BenchParams {
    unsigned samples;      /* timed samples per measurement; the median is reported */
    double min_sample_ns;  /* each sample runs at least this long */
} BenchParams;

static BenchParams params;

#define NUM_LOOKUP_ADDRS (1u << 16)  /* power of two: the index is masked */

/* Layout of the machine maps the cases run on. */
#define LOW_RAM_SIZE   (64ull << 20)      /* RAM at 0 */
#define LOW_BASE       0xc0000000ull      /* MMIO/RAM regions below 4 GiB from here... */
#define LOW_LIMIT      0xfe000000ull      /* ...up to here (the APIC bases lie above) */
#define HIGH_BASE      0x100000000ull     /* regions above 4 GiB from here */
#define MOVE_AWAY_ADDR 0x8000000000ull    /* a free slot the moved region jumps to */
#define APIC_SIZE      0x1000ull
#define APIC_BASE_A    0xfee00000ull
#define APIC_BASE_B    0xfef00000ull

static const guint lookup_map_sizes[] = { 16, 1000, 10000 };
static const guint cpu_map_sizes[] = { 16, 10000 };
static const guint cpu_counts[] = { 1, 16, 256 };

/* Targets stated by the issue (informative). */
#define TARGET_LOOKUP_NS       20.0
#define TARGET_LOOKUP_REGIONS  10000u
#define TARGET_CPU_BYTES       4096.0
#define TARGET_APIC_US         5.0
#define TARGET_FLAT_RATIO      2.0   /* "flat in the map size": our reading, see docs */

/* ------------------------------------------------------------------------ */
/* Utilities                                                                 */

static volatile uint64_t sink;

static uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: a fixed seed gives the same maps and addresses every run */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

typedef void (*BenchOp)(void *ctx, uint64_t n);

/* Per-op figures of the last measure() call, from mem_render_stats(). */
static double last_full_renders_per_op;
static double last_overlay_renders_per_op;

/*
 * Run op(ctx, n) for growing n until one call lasts min_sample_ns (this is
 * also the warm-up), then take `samples` timed calls at that n. Returns the
 * median time per operation in ns.
 */
static double measure(BenchOp op, void *ctx)
{
    uint64_t n = 1;
    for (;;) {
        double t0 = now_ns();
        op(ctx, n);
        double dt = now_ns() - t0;
        if (dt >= params.min_sample_ns) {
            break;
        }
        double scale = dt > 0 ? params.min_sample_ns * 1.2 / dt : 1000.0;
        if (scale < 2.0) {
            scale = 2.0;
        } else if (scale > 1000.0) {
            scale = 1000.0;
        }
        n = (uint64_t)((double)n * scale);
    }

    double *t = g_new(double, params.samples);
    MemRenderStats before, after;
    mem_render_stats(&before);
    for (unsigned i = 0; i < params.samples; i++) {
        double t0 = now_ns();
        op(ctx, n);
        t[i] = (now_ns() - t0) / (double)n;
    }
    mem_render_stats(&after);
    double ops = (double)n * params.samples;
    last_full_renders_per_op = (double)(after.full_renders - before.full_renders) / ops;
    last_overlay_renders_per_op = (double)(after.overlay_renders - before.overlay_renders) / ops;

    qsort(t, params.samples, sizeof(*t), cmp_double);
    double med = params.samples % 2 ? t[params.samples / 2]
                                    : (t[params.samples / 2 - 1] + t[params.samples / 2]) / 2;
    g_free(t);
    return med;
}

/* Reports from the core (overlaps, clipping) are unexpected here: count them. */
static unsigned num_reports;

static void count_report(const char *message, void *opaque)
{
    (void)opaque;
    if (num_reports++ < 5) {
        fprintf(stderr, "dispatch-bench: core report: %s\n", message);
    }
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

typedef enum CaseId {
    CASE_LOOKUP,
    CASE_LOOKUP_CPU,
    CASE_COMMIT,
    CASE_COMMIT_CPUS,
    CASE_CPU_MEMORY,
    CASE_APIC,
    NUM_CASES
} CaseId;

static const char *const case_names[NUM_CASES] = {
    [CASE_LOOKUP] = "lookup",
    [CASE_LOOKUP_CPU] = "lookup-cpu",
    [CASE_COMMIT] = "commit-move",
    [CASE_COMMIT_CPUS] = "commit-move-cpus",
    [CASE_CPU_MEMORY] = "cpu-memory",
    [CASE_APIC] = "apic-relocate",
};

typedef struct Result {
    CaseId id;
    const char *metric;
    guint regions;         /* 0: not applicable */
    int cpus;              /* -1: not applicable */
    double value;
    const char *unit;
    const char *baseline;  /* NULL: no baseline */
    double baseline_value;
    bool has_target;
    double target;         /* value <= target passes */
    bool has_renders;
    double full_renders;   /* per operation */
    double overlay_renders;
} Result;

static GArray *results;

static Result *add_result(CaseId id, const char *metric, guint regions, int cpus, double value,
                          const char *unit)
{
    Result r = {
        .id = id, .metric = metric, .regions = regions, .cpus = cpus,
        .value = value, .unit = unit,
    };
    g_array_append_val(results, r);
    return &g_array_index(results, Result, results->len - 1);
}

static void set_baseline(Result *r, const char *name, double value)
{
    r->baseline = name;
    r->baseline_value = value;
}

static void set_target(Result *r, double target)
{
    r->has_target = true;
    r->target = target;
}

static void set_renders(Result *r)
{
    r->has_renders = true;
    r->full_renders = last_full_renders_per_op;
    r->overlay_renders = last_overlay_renders_per_op;
}

static int unit_precision(const char *unit)
{
    if (!strcmp(unit, "ns")) {
        return 1;
    }
    if (!strcmp(unit, "B")) {
        return 0;
    }
    return 2;
}

static char *format_target(const Result *r)
{
    if (!r->has_target) {
        return g_strdup("-");
    }
    return g_strdup_printf("<= %g %s", r->target, r->unit);
}

static void print_table(void)
{
    printf("%-16s %7s %5s %-18s %10s %-4s %-20s %10s %8s %9s %-11s %s\n",
           "case", "regions", "cpus", "metric", "value", "unit", "baseline", "base value",
           "ratio", "renders", "target", "status");
    for (int c = 0; c < NUM_CASES; c++) {
        for (guint i = 0; i < results->len; i++) {
            const Result *r = &g_array_index(results, Result, i);
            if ((int)r->id != c) {
                continue;
            }
            int prec = unit_precision(r->unit);
            char regions[16], cpus[16], base[32], ratio[32], renders[32];
            if (r->regions) {
                snprintf(regions, sizeof(regions), "%u", r->regions);
            } else {
                snprintf(regions, sizeof(regions), "-");
            }
            if (r->cpus >= 0) {
                snprintf(cpus, sizeof(cpus), "%d", r->cpus);
            } else {
                snprintf(cpus, sizeof(cpus), "-");
            }
            if (r->baseline) {
                snprintf(base, sizeof(base), "%.*f", prec, r->baseline_value);
                snprintf(ratio, sizeof(ratio), "%.3g", r->value / r->baseline_value);
            } else {
                snprintf(base, sizeof(base), "-");
                snprintf(ratio, sizeof(ratio), "-");
            }
            if (r->has_renders) {
                snprintf(renders, sizeof(renders), "%.3g/%.3g", r->full_renders,
                         r->overlay_renders);
            } else {
                snprintf(renders, sizeof(renders), "-");
            }
            char *target = format_target(r);
            printf("%-16s %7s %5s %-18s %10.*f %-4s %-20s %10s %8s %9s %-11s %s\n",
                   case_names[r->id], regions, cpus, r->metric, prec, r->value, r->unit,
                   r->baseline ? r->baseline : "-", base, ratio, renders, target,
                   r->has_target ? (r->value <= r->target ? "PASS" : "MISS") : "-");
            g_free(target);
        }
    }
    printf("\nratio = value / base value; renders = full/overlay renders per operation;\n"
           "targets are informative. Mode: %s (%u samples, median reported).\n",
           opt_quick ? "--quick" : "full", params.samples);
}

static void print_json(void)
{
    for (int c = 0; c < NUM_CASES; c++) {
        for (guint i = 0; i < results->len; i++) {
            const Result *r = &g_array_index(results, Result, i);
            if ((int)r->id != c) {
                continue;
            }
            GString *s = g_string_new(NULL);
            g_string_append_printf(s, "{\"bench\":\"dispatch\",\"case\":\"%s\",\"metric\":\"%s\","
                                      "\"value\":%.10g,\"unit\":\"%s\"",
                                   case_names[r->id], r->metric, r->value, r->unit);
            if (r->regions) {
                g_string_append_printf(s, ",\"regions\":%u", r->regions);
            }
            if (r->cpus >= 0) {
                g_string_append_printf(s, ",\"cpus\":%d", r->cpus);
            }
            if (r->baseline) {
                g_string_append_printf(s, ",\"baseline\":\"%s\",\"baseline_value\":%.10g,"
                                          "\"ratio\":%.10g",
                                       r->baseline, r->baseline_value,
                                       r->value / r->baseline_value);
            }
            if (r->has_renders) {
                g_string_append_printf(s, ",\"full_renders_per_op\":%.10g,"
                                          "\"overlay_renders_per_op\":%.10g",
                                       r->full_renders, r->overlay_renders);
            }
            if (r->has_target) {
                char *target = format_target(r);
                g_string_append_printf(s, ",\"target\":\"%s\",\"target_value\":%.10g,"
                                          "\"status\":\"%s\"",
                                       target, r->target,
                                       r->value <= r->target ? "PASS" : "MISS");
                g_free(target);
            }
            g_string_append_printf(s, ",\"quick\":%s}", opt_quick ? "true" : "false");
            puts(s->str);
            g_string_free(s, TRUE);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Machine maps                                                              */

typedef struct MapRegion {
    uint64_t start;
    uint64_t size;
    MemRegion *mr;  /* borrowed: the root holds it */
} MapRegion;

typedef struct Map {
    guint n;              /* regions besides the RAM at 0 */
    MemRegion *root;
    AddressSpace *as;
    MapRegion *regs;      /* n + 1 entries; [0] is the RAM at 0 */
    uint64_t *starts;     /* the n + 1 start addresses, sorted */
    uint64_t *addrs;      /* NUM_LOOKUP_ADDRS addresses inside mapped regions */
    guint *addr_reg;      /* which entry of regs each address hits */
} Map;

static void die_on_error(GError *err, const char *what)
{
    if (err) {
        fprintf(stderr, "dispatch-bench: %s: %s\n", what, err->message);
        exit(1);
    }
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/*
 * A global container (2^64) with RAM at 0 and `n` MMIO/RAM regions of mixed
 * sizes: 4 KiB and 64 KiB MMIO, 4 KiB and 64 KiB RAM, 0x100-byte MMIO (which
 * leaves sub-page pieces), naturally aligned with small gaps, three quarters
 * from 0xc0000000 up and a quarter above 4 GiB.
 */
static Map *map_new(guint n)
{
    Map *m = g_new0(Map, 1);
    GError *err = NULL;
    uint64_t rng = 0x6d6d7573696d0000ull + n;
    char name[32];

    m->n = n;
    m->regs = g_new0(MapRegion, n + 1);

    mem_transaction_begin();
    m->root = mr_new_container("system", MEM_SIZE_FULL, &err);
    die_on_error(err, "container");
    MemRegion *ram = mr_new_ram("ram0", LOW_RAM_SIZE, &err);
    die_on_error(err, "ram0");
    mr_add_subregion(m->root, 0, ram, &err);
    die_on_error(err, "add ram0");
    m->regs[0] = (MapRegion){ 0, LOW_RAM_SIZE, ram };
    mr_unref(ram);

    uint64_t low = LOW_BASE, high = HIGH_BASE;
    for (guint i = 1; i <= n; i++) {
        unsigned kind = rng_next(&rng) % 8;
        uint64_t size, gap;
        bool is_ram = false;
        switch (kind) {
        case 0: case 1: case 2: size = 0x1000; break;           /* MMIO 4 KiB */
        case 3: case 4: size = 0x10000; break;                  /* MMIO 64 KiB */
        case 5: size = 0x1000; is_ram = true; break;            /* RAM 4 KiB */
        case 6: size = 0x10000; is_ram = true; break;           /* RAM 64 KiB */
        default: size = 0x100; break;                           /* MMIO sub-page */
        }
        if (size < DISPATCH_PAGE_SIZE) {
            gap = 0x100 * (1 + rng_next(&rng) % 4);
        } else {
            gap = DISPATCH_PAGE_SIZE * (rng_next(&rng) % 4);
        }
        uint64_t *cursor = (rng_next(&rng) % 4 == 0) ? &high : &low;
        if (cursor == &low && align_up(low, size) + size > LOW_LIMIT) {
            cursor = &high;
        }
        uint64_t addr = align_up(*cursor, size);
        *cursor = addr + size + gap;
        g_assert(*cursor < MOVE_AWAY_ADDR);

        MemRegion *mr;
        if (is_ram) {
            snprintf(name, sizeof(name), "ram%u", i);
            mr = mr_new_ram(name, size, &err);
        } else {
            snprintf(name, sizeof(name), "mmio%u", i);
            mr = mr_new_mmio(name, size, &bench_filler_ops, NULL, &err);
        }
        die_on_error(err, "region");
        mr_add_subregion(m->root, addr, mr, &err);
        die_on_error(err, "add region");
        m->regs[i] = (MapRegion){ addr, size, mr };
        mr_unref(mr);
    }
    mem_transaction_commit();

    m->as = as_new("system", m->root, &err);
    die_on_error(err, "as_new");

    m->starts = g_new(uint64_t, n + 1);
    for (guint i = 0; i <= n; i++) {
        m->starts[i] = m->regs[i].start;
    }
    qsort(m->starts, n + 1, sizeof(*m->starts), cmp_u64);

    /* Random addresses that hit mapped regions: a random region (the RAM at
     * 0 counts as one), a random offset in it. */
    m->addrs = g_new(uint64_t, NUM_LOOKUP_ADDRS);
    m->addr_reg = g_new(guint, NUM_LOOKUP_ADDRS);
    for (guint i = 0; i < NUM_LOOKUP_ADDRS; i++) {
        guint r = rng_next(&rng) % (n + 1);
        m->addr_reg[i] = r;
        m->addrs[i] = m->regs[r].start + rng_next(&rng) % m->regs[r].size;
    }
    return m;
}

static void map_free(Map *m)
{
    as_free(m->as);
    mr_unref(m->root);
    g_free(m->regs);
    g_free(m->starts);
    g_free(m->addrs);
    g_free(m->addr_reg);
    g_free(m);
}

/* The benchmark must measure what it claims: check that the lookups find the
 * regions the addresses were drawn from (not timed). */
static void check_lookups(const Map *m, const Dispatch *d, const char *what)
{
    guint bad = 0;
    for (guint i = 0; i < NUM_LOOKUP_ADDRS; i += 7) {
        const MemSection *s = dispatch_section(d, dispatch_lookup(d, m->addrs[i], NULL));
        if (!s || s->mr != m->regs[m->addr_reg[i]].mr) {
            if (bad++ < 3) {
                fprintf(stderr, "dispatch-bench: %s, %u regions: 0x%" PRIx64 " "
                        "resolves to %s, expected %s\n", what, m->n, m->addrs[i],
                        s && s->mr ? mr_name(s->mr) : "(unassigned)",
                        mr_name(m->regs[m->addr_reg[i]].mr));
            }
        }
    }
    if (bad) {
        fprintf(stderr, "dispatch-bench: %s, %u regions: %u wrong lookups\n", what, m->n, bad);
    }
}

/* ------------------------------------------------------------------------ */
/* CPU views                                                                 */

static CpuView *cpu_new(const Map *m, unsigned index)
{
    GError *err = NULL;
    char name[32];
    snprintf(name, sizeof(name), "apic%u", index);
    MemRegion *apic = mr_new_mmio(name, APIC_SIZE, &bench_filler_ops, NULL, &err);
    die_on_error(err, "apic");
    CpuViewConfig cfg = {
        .cpu_index = index,
        .global_map = m->root,
        .apic = apic,  /* owned by the view from here on */
        .apic_base = APIC_BASE_A,
    };
    CpuView *cv = cpu_view_new(&cfg, &err);
    die_on_error(err, "cpu_view_new");
    return cv;
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

typedef struct LookupCtx {
    const Dispatch *d;
    const uint64_t *addrs;
    const uint64_t *starts;
    guint nstarts;
} LookupCtx;

static void op_lookup(void *opaque, uint64_t n)
{
    const LookupCtx *c = opaque;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += dispatch_lookup(c->d, c->addrs[i & (NUM_LOOKUP_ADDRS - 1)], NULL);
    }
    sink += sum;
}

/* The obvious alternative: the last region starting at or below addr. */
static inline guint bsearch_starts(const uint64_t *a, guint n, uint64_t addr)
{
    guint lo = 0, hi = n;  /* a[0] == 0 <= addr */
    while (hi - lo > 1) {
        guint mid = lo + (hi - lo) / 2;
        if (a[mid] <= addr) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static void op_bsearch(void *opaque, uint64_t n)
{
    const LookupCtx *c = opaque;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += bsearch_starts(c->starts, c->nstarts, c->addrs[i & (NUM_LOOKUP_ADDRS - 1)]);
    }
    sink += sum;
}

typedef struct MoveCtx {
    MemRegion *mr;
    uint64_t home;
    bool away;
} MoveCtx;

static void op_move(void *opaque, uint64_t n)
{
    MoveCtx *c = opaque;
    for (uint64_t i = 0; i < n; i++) {
        c->away = !c->away;
        mr_set_address(c->mr, c->away ? MOVE_AWAY_ADDR : c->home);  /* one commit */
    }
}

static void op_full_render(void *opaque, uint64_t n)
{
    MemRegion *root = opaque;
    for (uint64_t i = 0; i < n; i++) {
        FlatView *fv = flatview_render(root);
        Dispatch *d = dispatch_new(fv);
        sink += dispatch_num_sections(d);
        flatview_unref(fv);
        dispatch_unref(d);
    }
}

typedef struct ApicCtx {
    CpuView *cv;
    bool at_b;
} ApicCtx;

static void op_apic(void *opaque, uint64_t n)
{
    ApicCtx *c = opaque;
    for (uint64_t i = 0; i < n; i++) {
        c->at_b = !c->at_b;
        cpu_view_set_apic_base(c->cv, c->at_b ? APIC_BASE_B : APIC_BASE_A);  /* one commit */
    }
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

/* Case 1: address-to-section lookup, and the same through a CPU view. */
static void bench_lookup(const Map *m)
{
    const Dispatch *d = as_dispatch(m->as);
    check_lookups(m, d, "lookup");
    LookupCtx c = { d, m->addrs, m->starts, m->n + 1 };
    double base = measure(op_bsearch, &c);
    double v = measure(op_lookup, &c);
    Result *r = add_result(CASE_LOOKUP, "ns_per_lookup", m->n, -1, v, "ns");
    set_baseline(r, "bsearch-starts", base);
    if (m->n == TARGET_LOOKUP_REGIONS) {
        set_target(r, TARGET_LOOKUP_NS);
    }

    CpuView *cv = cpu_new(m, 0);
    const Dispatch *cd = as_dispatch(cpu_view_as(cv));
    check_lookups(m, cd, "lookup-cpu");
    LookupCtx cc = { cd, m->addrs, m->starts, m->n + 1 };
    v = measure(op_lookup, &cc);
    r = add_result(CASE_LOOKUP_CPU, "ns_per_lookup", m->n, 1, v, "ns");
    set_baseline(r, "bsearch-starts", base);
    cpu_view_free(cv);
}

/* Case 2: one region moved outside a transaction: one commit. */
static double bench_commit(const Map *m)
{
    guint pick = m->n / 2 + 1;  /* a region in the middle of the creation order */
    MoveCtx c = { m->regs[pick].mr, m->regs[pick].start, false };
    double base = measure(op_full_render, m->root);
    double v = measure(op_move, &c);
    if (c.away) {
        op_move(&c, 1);  /* leave the map as built */
    }
    Result *r = add_result(CASE_COMMIT, "us_per_commit", m->n, -1, v / 1e3, "us");
    set_renders(r);
    set_baseline(r, "full-render", base / 1e3);
    return v / 1e3;
}

/* Per map size, for the flatness rows. */
static double bytes_per_cpu_at[G_N_ELEMENTS(cpu_map_sizes)];
static double apic_us_at[G_N_ELEMENTS(cpu_map_sizes)];

/* Cases 3 and 4, and the commit with CPU views attached. */
static void bench_cpus(const Map *m, guint map_idx, double commit_us)
{
    double full_dispatch_bytes = (double)dispatch_memory_size(as_dispatch(m->as));
    double apic_base_us = -1;

    for (guint k = 0; k < G_N_ELEMENTS(cpu_counts); k++) {
        unsigned ncpu = cpu_counts[k];
        CpuView **cvs = g_new0(CpuView *, ncpu);

        /* Case 3: heap growth per CPU view, APIC region included. */
        size_t before = heap_in_use();
        for (unsigned i = 0; i < ncpu; i++) {
            cvs[i] = cpu_new(m, i);
        }
        size_t after = heap_in_use();
        double per_cpu = ((double)after - (double)before) / ncpu;
        Result *r = add_result(CASE_CPU_MEMORY, "heap_bytes_per_cpu", m->n, (int)ncpu, per_cpu,
                               "B");
        set_baseline(r, "unshared-dispatch", full_dispatch_bytes);
        set_target(r, TARGET_CPU_BYTES);
        r = add_result(CASE_CPU_MEMORY, "dispatch_bytes", m->n, (int)ncpu,
                       (double)dispatch_memory_size(as_dispatch(cpu_view_as(cvs[ncpu - 1]))),
                       "B");
        set_baseline(r, "unshared-dispatch", full_dispatch_bytes);
        if (k == G_N_ELEMENTS(cpu_counts) - 1) {
            bytes_per_cpu_at[map_idx] = per_cpu;
        }

        /* Baseline for case 4, once per map: render one CPU's root from
         * scratch, as a design without a shared base would on every change. */
        if (apic_base_us < 0) {
            apic_base_us = measure(op_full_render, cpu_view_root(cvs[0])) / 1e3;
        }

        /* Case 4: relocate one CPU's APIC, one commit each. */
        ApicCtx ac = { cvs[ncpu / 2], false };
        double v = measure(op_apic, &ac) / 1e3;
        r = add_result(CASE_APIC, "us_per_relocation", m->n, (int)ncpu, v, "us");
        set_renders(r);
        set_baseline(r, "full-render-cpu-root", apic_base_us);
        set_target(r, TARGET_APIC_US);
        if (k == G_N_ELEMENTS(cpu_counts) - 1) {
            apic_us_at[map_idx] = v;
        }
        if (ac.at_b) {
            op_apic(&ac, 1);
        }

        /* A global change with CPU views attached: the shared map should be
         * rendered once, not once per CPU. */
        guint pick = m->n / 2 + 1;
        MoveCtx mc = { m->regs[pick].mr, m->regs[pick].start, false };
        v = measure(op_move, &mc) / 1e3;
        if (mc.away) {
            op_move(&mc, 1);
        }
        r = add_result(CASE_COMMIT_CPUS, "us_per_commit", m->n, (int)ncpu, v, "us");
        set_renders(r);
        set_baseline(r, "commit-no-cpus", commit_us);

        for (unsigned i = 0; i < ncpu; i++) {
            cpu_view_free(cvs[i]);
        }
        g_free(cvs);
    }
}

static void add_flatness_rows(void)
{
    guint last = G_N_ELEMENTS(cpu_map_sizes) - 1;
    int ncpu = (int)cpu_counts[G_N_ELEMENTS(cpu_counts) - 1];
    if (bytes_per_cpu_at[0] > 0) {
        Result *r = add_result(CASE_CPU_MEMORY, "flatness", cpu_map_sizes[last], ncpu,
                               bytes_per_cpu_at[last] / bytes_per_cpu_at[0], "x");
        set_target(r, TARGET_FLAT_RATIO);
    }
    if (apic_us_at[0] > 0) {
        Result *r = add_result(CASE_APIC, "flatness", cpu_map_sizes[last], ncpu,
                               apic_us_at[last] / apic_us_at[0], "x");
        set_target(r, TARGET_FLAT_RATIO);
    }
}

/* ------------------------------------------------------------------------ */

static bool is_cpu_map_size(guint n, guint *idx)
{
    for (guint i = 0; i < G_N_ELEMENTS(cpu_map_sizes); i++) {
        if (cpu_map_sizes[i] == n) {
            *idx = i;
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    static const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
          "Print one JSON object per result line instead of a table", NULL },
        { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick,
          "Fewer iterations (a smoke run of a few seconds)", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("- memory-core dispatch benchmark");
    g_option_context_set_summary(ctx,
        "Measures address-to-section lookup, commit after one change, memory per CPU view\n"
        "and per-CPU APIC relocation, each against a baseline run in the same process.\n"
        "Prints a table, or JSON lines with --json. Targets are informative: exit status 0.");
    g_option_context_set_description(ctx, "See docs/performance.md.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "dispatch-bench: %s\n", err->message);
        g_error_free(err);
        g_option_context_free(ctx);
        return 1;
    }
    g_option_context_free(ctx);
    if (argc > 1) {
        fprintf(stderr, "dispatch-bench: unexpected argument '%s' (see --help)\n", argv[1]);
        return 1;
    }

    params.samples = opt_quick ? 3 : 11;
    params.min_sample_ns = opt_quick ? 2e6 : 50e6;
    mem_set_report_handler(count_report, NULL);
    results = g_array_new(FALSE, TRUE, sizeof(Result));

    double t0 = now_ns();
    for (guint s = 0; s < G_N_ELEMENTS(lookup_map_sizes); s++) {
        guint n = lookup_map_sizes[s], idx;
        if (isatty(STDERR_FILENO)) {
            fprintf(stderr, "dispatch-bench: %u regions...\n", n);
        }
        Map *m = map_new(n);
        bench_lookup(m);
        double commit_us = bench_commit(m);
        if (is_cpu_map_size(n, &idx)) {
            bench_cpus(m, idx, commit_us);
        }
        map_free(m);
    }
    add_flatness_rows();

    if (opt_json) {
        print_json();
    } else {
        print_table();
        printf("Total run time %.1f s.\n", (now_ns() - t0) / 1e9);
    }
    if (num_reports) {
        fprintf(stderr, "dispatch-bench: the core reported %u unexpected events\n", num_reports);
    }
    g_array_free(results, TRUE);
    return 0;
}
