/*
 * tlb-bench: what a guest memory access costs through the software TLB
 * (tlb/tlb.h), hit and miss, with and without a page walk, to RAM and to
 * MMIO, and what flushes cost (docs/performance.md).
 *
 *   build/bench/tlb-bench                 a table (about a minute)
 *   build/bench/tlb-bench --json          one JSON object per line
 *   build/bench/tlb-bench --quick         fewer/shorter samples (smoke run, < 5 s)
 *   build/bench/tlb-bench --csv F --plot F.png   sweep results as CSV / a PNG (gnuplot)
 *   build/bench/tlb-bench --only miss,mmio       some cases only (for perf record)
 *
 * Cases (each with a baseline run in the same process):
 *   hit        4-byte tlb_load / tlb_store cycling through one RAM page;
 *              baseline: the same loop as plain host loads/stores on the
 *              same host page (the guest RAM's own backing).
 *   miss       4-byte loads striding one page at a time over 16,384 pages
 *              (64 MiB), identity page walk, 256-entry table, victim 8,
 *              dynamic resize off: every access misses; baseline: the same
 *              stride over the same 64 MiB of host memory.
 *   miss-walk  the same through a 4-level x86-64 page table (4 KiB PTEs) in
 *              guest RAM, walked on every miss by the target callback, which
 *              reads (and A/D-updates) PTEs with as_read_val/as_write_val on
 *              the CPU's address space; a second row reads them through the
 *              RAM's host pointer instead.
 *   grow       the miss stride with dynamic resizing on (256 entries to
 *              start): after an untimed warm-up the table has grown between
 *              flushes to 16,384 entries and the stride hits; baseline: the
 *              native stride.
 *   mmio       tlb_load / tlb_store to a trivial MMIO device (read returns a
 *              constant, write stores to a variable); baseline: calling the
 *              same callback through a function pointer.
 *   flush      tlb_flush of a warm 256-entry table (+ 8 victims), timed one
 *              flush at a time; tlb_flush_page of resident pages; baselines:
 *              memset of a table of the same size, an inline one-entry
 *              invalidate.
 *   sweeps     map size, TLB entries, victim entries, working set x access
 *              pattern: miss rate (tlb_get_stats) and ns per access.
 *   peer       (HAVE_UNICORN) the guest loops of shared/reference/peers.md
 *              under Unicorn, next to mmusim's TLB-helper equivalents.
 *
 * Targets are informative: the program exits 0 whether they are met or not.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "tlb/tlb.h"
#include "bench/bench_devices.h"

#ifdef HAVE_UNICORN
#include <unicorn/unicorn.h>
#endif

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */

static gboolean opt_json;
static gboolean opt_quick;
static gchar *opt_csv;
static gchar *opt_plot;
static gchar *opt_only;

/* The groups --only selects from, in run order. */
static const char *const group_names[] = {
    "hit", "miss", "grow", "mmio", "flush", "smm", "sweep-entries", "sweep-victim", "sweep-ws",
    "sweep-map", "peer",
};
static bool group_on[G_N_ELEMENTS(group_names)];

/* Parse --only: names from group_names, "sweeps" for every sweep. */
static bool select_groups(const char *list)
{
    if (!list) {
        for (guint g = 0; g < G_N_ELEMENTS(group_names); g++) {
            group_on[g] = true;
        }
        return true;
    }
    char **names = g_strsplit(list, ",", -1);
    bool ok = true;
    for (char **n = names; *n; n++) {
        bool found = false;
        for (guint g = 0; g < G_N_ELEMENTS(group_names); g++) {
            if (!strcmp(*n, group_names[g]) ||
                (!strcmp(*n, "sweeps") && g_str_has_prefix(group_names[g], "sweep-"))) {
                group_on[g] = found = true;
            }
        }
        if (!found) {
            fprintf(stderr, "tlb-bench: --only: unknown case '%s'\n", *n);
            ok = false;
        }
    }
    g_strfreev(names);
    return ok;
}

static bool group_selected(const char *name)
{
    for (guint g = 0; g < G_N_ELEMENTS(group_names); g++) {
        if (!strcmp(name, group_names[g])) {
            return group_on[g];
        }
    }
    return false;
}

typedef struct BenchParams {
    unsigned samples;       /* timed samples per measurement; the median is reported */
    double min_sample_ns;   /* each sample runs at least this long */
    unsigned flush_rounds;  /* individually timed flushes per sample */
} BenchParams;

static BenchParams params;

#define PAGE_BITS      12
#define PAGE_SIZE      (1ull << PAGE_BITS)
#define PAGE_MASK      (~(PAGE_SIZE - 1))

/* Guest-physical layout of the global map. */
#define RAM_SIZE       ((256ull << 20) + (2ull << 20))  /* 256 MiB of data + page tables */
#define PT_BASE        (256ull << 20)                   /* page tables of the walk case */
#define DEV_BASE       0xb0000000ull                    /* the trivial MMIO device */
#define DEV_SIZE       0x1000ull
#define DEV_CONST      0x12345678u
#define FILL_LOW       0xc0000000ull   /* filler regions from here ... */
#define FILL_LIMIT     0xfe000000ull   /* ... to here (the APIC page lies above) */
#define FILL_HIGH      0x100000000ull  /* and above 4 GiB */
#define APIC_BASE      0xfee00000ull
#define SMRAM_BASE     0xa0000ull
#define SMRAM_SIZE     0x20000ull

/* The miss cases: a page stride over 64 MiB. */
#define MISS_PAGES     16384u
#define MISS_BYTES     ((uint64_t)MISS_PAGES << PAGE_BITS)
#define WALK_VA_BASE   0x00007f0000000000ull  /* where the walk case maps those 64 MiB */

/* The TLB geometry of every case except the entries/victim sweeps. */
#define TLB_ENTRIES    256u
#define TLB_VICTIM     8u

#define NUM_RANDOM     (1u << 20)  /* random offsets per table; power of two */
#define BASE_REGIONS   16u

static const unsigned sweep_entries[] = { 64, 128, 256, 512, 1024, 2048, 4096 };
#define SWEEP_ENTRIES_WS 2048u      /* pages, random */
static const unsigned sweep_victims[] = { 0, 1, 2, 4, 8, 16 };
#define SWEEP_VICTIM_WS  320u       /* pages, random: 64 slots of 256 hold two pages */
static const unsigned sweep_ws[] = { 16, 64, 256, 1024, 4096, 16384, 65536 };
static const unsigned sweep_regions[] = { 16, 1000, 10000 };

/* Targets stated by the issue (informative). */
#define TARGET_HIT_NS          1.5
#define TARGET_MISS_ABOVE_NS   15.0
#define TARGET_MMIO_NS         8.0
#define TARGET_FLUSH_NS        300.0
#define TARGET_MAP_FLAT        1.5

/* ------------------------------------------------------------------------ */
/* Utilities                                                                 */

static volatile uint64_t sink;

/* Make the compiler forget what it knows about x (no code is emitted): the
 * same in every loop, mmusim's and the baselines', so neither gets
 * vectorized, hoisted or folded. */
#define OPAQUE(x) __asm__ __volatile__("" : "+r"(x))

static uint64_t rng_next(uint64_t *state)
{
    /* splitmix64: a fixed seed gives the same addresses every run */
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

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Mean of the values not above 3 x the median + 50 ns: what single timings
 * with a coarse clock need (the mean dithers the clock's ~10 ns steps, the
 * cut drops interrupted rounds). Sorts v. */
static double robust_mean(double *v, unsigned n)
{
    double cut = 3 * median(v, n) + 50, sum = 0;
    unsigned k = 0;
    for (unsigned i = 0; i < n && v[i] <= cut; i++, k++) {
        sum += v[i];
    }
    return k ? sum / k : v[0];
}

static void die_on_error(GError *err, const char *what)
{
    if (err) {
        fprintf(stderr, "tlb-bench: %s: %s\n", what, err->message);
        exit(1);
    }
}

static void progress(const char *what)
{
    if (!opt_json && isatty(STDERR_FILENO)) {
        fprintf(stderr, "tlb-bench: %s...\n", what);
    }
}

/* Reports from the core and TLB faults are unexpected here: count them. */
static unsigned num_reports;
static unsigned num_faults;

static void count_report(const char *message, void *opaque)
{
    (void)opaque;
    if (num_reports++ < 5) {
        fprintf(stderr, "tlb-bench: core report: %s\n", message);
    }
}

static void bench_raise_fault(void *cpu, const TlbFault *f)
{
    (void)cpu;
    if (num_faults++ < 5) {
        fprintf(stderr, "tlb-bench: unexpected fault: kind %d at 0x%" PRIx64 " (code 0x%" PRIx64
                ")\n", (int)f->kind, f->vaddr, f->target_code);
    }
}

/* ------------------------------------------------------------------------ */
/* Measurement                                                               */

typedef void (*BenchOp)(void *ctx, uint64_t n);

static double clock_overhead_ns;   /* median cost of one now_ns() pair */

/* Run op(ctx, n) for growing n until one call lasts min_sample_ns. This is
 * also the warm-up (the last call ran at the returned n). */
static uint64_t calibrate(BenchOp op, void *ctx)
{
    uint64_t n = 1;
    for (;;) {
        double t0 = now_ns();
        op(ctx, n);
        double dt = now_ns() - t0;
        if (dt >= params.min_sample_ns) {
            return n;
        }
        double scale = dt > 0 ? params.min_sample_ns * 1.2 / dt : 1000.0;
        if (scale < 2.0) {
            scale = 2.0;
        } else if (scale > 1000.0) {
            scale = 1000.0;
        }
        n = (uint64_t)((double)n * scale);
    }
}

#define MAX_SAMPLES 16

/* One loop measured among others (run_interleaved). */
typedef struct Meas {
    BenchOp op;
    void *ctx;
    CpuTlb *t;               /* statistics over the timed samples from here (or NULL) */
    uint64_t n;              /* operations per sample; 0: calibrate */
    double s[MAX_SAMPLES];   /* ns per operation of each sample */
    double med;              /* their median */
    TlbStats stats;
    uint64_t ops;            /* operations timed in all */
} Meas;

/*
 * Measure k loops together: calibrate (and so warm up) each, then take the
 * samples round-robin, sample i of every loop before sample i + 1 of any.
 * A loop and its baseline so run at most a few hundred ms apart, under the
 * same conditions (this machine is shared), and per-sample differences are
 * meaningful (median_diff).
 */
static void run_interleaved(Meas *m, unsigned k)
{
    g_assert(params.samples <= MAX_SAMPLES);
    for (unsigned j = 0; j < k; j++) {
        if (!m[j].n) {
            m[j].n = calibrate(m[j].op, m[j].ctx);
        } else {
            m[j].op(m[j].ctx, m[j].n);  /* warm-up */
        }
    }
    for (unsigned j = 0; j < k; j++) {
        if (m[j].t) {
            tlb_reset_stats(m[j].t);
        }
    }
    for (unsigned i = 0; i < params.samples; i++) {
        for (unsigned j = 0; j < k; j++) {
            double t0 = now_ns();
            m[j].op(m[j].ctx, m[j].n);
            m[j].s[i] = (now_ns() - t0) / (double)m[j].n;
        }
    }
    for (unsigned j = 0; j < k; j++) {
        double tmp[MAX_SAMPLES];
        memcpy(tmp, m[j].s, sizeof(tmp));
        m[j].med = median(tmp, params.samples);
        m[j].ops = m[j].n * params.samples;
        if (m[j].t) {
            tlb_get_stats(m[j].t, 0, &m[j].stats);
        }
    }
}

/* Median over the samples of a - b (both from one run_interleaved). */
static double median_diff(const Meas *a, const Meas *b)
{
    double d[MAX_SAMPLES];
    for (unsigned i = 0; i < params.samples; i++) {
        d[i] = a->s[i] - b->s[i];
    }
    return median(d, params.samples);
}

typedef struct Rates {
    double miss;    /* main-table misses per access (victim hits included) */
    double walk;    /* page walks (fills) per access */
    double victim;  /* victim-table hits per access */
} Rates;

/* Rates over a measurement's timed samples; checks that every access was
 * counted exactly once (so the loop measured what it claims). */
static Rates meas_rates(const Meas *m, const char *what)
{
    const TlbStats *st = &m->stats;
    uint64_t acc = st->hits + st->misses;
    if (acc != m->ops) {
        fprintf(stderr, "tlb-bench: %s: the TLB counted %" PRIu64 " accesses, the loop made %"
                PRIu64 "\n", what, acc, m->ops);
    }
    double d = acc ? (double)acc : 1.0;
    return (Rates){ (double)st->misses / d, (double)st->fills / d, (double)st->victim_hits / d };
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

typedef struct Result {
    const char *name;      /* case */
    char params[40];       /* what the row is about, for the table */
    const char *metric;
    double value;
    const char *unit;
    const char *baseline;  /* NULL: no baseline */
    double baseline_value;
    bool has_rates;
    Rates rates;
    bool has_target;
    double target;         /* value <= target passes */
    /* For JSON; -1 / NULL: not applicable. */
    int regions, entries, victim, ws_pages;
    const char *pattern;
    const char *walk;
} Result;

static GArray *results;

static Result *add_result(const char *name, const char *params_text, const char *metric,
                          double value, const char *unit)
{
    Result r = {
        .name = name, .metric = metric, .value = value, .unit = unit,
        .regions = -1, .entries = -1, .victim = -1, .ws_pages = -1,
    };
    g_strlcpy(r.params, params_text, sizeof(r.params));
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

static void set_rates(Result *r, Rates rates)
{
    r->has_rates = true;
    r->rates = rates;
}

static void set_geometry(Result *r, int regions, int entries, int victim, int ws_pages,
                         const char *pattern)
{
    r->regions = regions;
    r->entries = entries;
    r->victim = victim;
    r->ws_pages = ws_pages;
    r->pattern = pattern;
}

/* Sweep points, for --csv and --plot. */
typedef enum Pattern { PAT_SEQ, PAT_STRIDE, PAT_RANDOM, NUM_PATTERNS } Pattern;
static const char *const pattern_names[NUM_PATTERNS] = { "sequential", "strided", "random" };

typedef struct SweepPoint {
    const char *sweep;
    unsigned regions, entries, victim, ws_pages;
    Pattern pattern;
    const char *walk;      /* "identity" or "x86-64" */
    double ns, native_ns;
    double above;          /* median per-sample difference ns - native */
    Rates rates;
} SweepPoint;

static GArray *sweep_points;

static const char *peer_note;  /* why the peer did not run, or NULL */
static char run_date[64];

static char *format_target(const Result *r)
{
    if (!r->has_target) {
        return g_strdup("-");
    }
    return g_strdup_printf("<= %g %s", r->target, r->unit);
}

static const char *status_of(const Result *r)
{
    return r->has_target ? (r->value <= r->target ? "PASS" : "MISS") : "-";
}

static void print_table(double total_s)
{
    printf("%-13s %-33s %-19s %9s %-4s %-18s %10s %7s %7s %7s %-10s %s\n", "case", "params",
           "metric", "value", "unit", "baseline", "base value", "ratio", "miss", "walks",
           "target", "status");
    for (guint i = 0; i < results->len; i++) {
        const Result *r = &g_array_index(results, Result, i);
        char base[32], ratio[32], miss[16], walk[16];
        if (r->baseline) {
            snprintf(base, sizeof(base), "%.2f", r->baseline_value);
            snprintf(ratio, sizeof(ratio), "%.3g", r->value / r->baseline_value);
        } else {
            snprintf(base, sizeof(base), "-");
            snprintf(ratio, sizeof(ratio), "-");
        }
        if (r->has_rates) {
            snprintf(miss, sizeof(miss), "%.1f%%", 100 * r->rates.miss);
            snprintf(walk, sizeof(walk), "%.1f%%", 100 * r->rates.walk);
        } else {
            snprintf(miss, sizeof(miss), "-");
            snprintf(walk, sizeof(walk), "-");
        }
        char *target = format_target(r);
        printf("%-13s %-33s %-19s %9.2f %-4s %-18s %10s %7s %7s %7s %-10s %s\n", r->name,
               r->params, r->metric, r->value, r->unit, r->baseline ? r->baseline : "-", base,
               ratio, miss, walk, target, status_of(r));
        g_free(target);
    }
    printf("\nratio = value / base value; miss = main-table misses per access (victim hits\n"
           "included), walks = page walks per access, both from tlb_get_stats() over the timed\n"
           "samples. TLB: 1 MMU index, 4 KiB pages, %u entries, %u victim entries, dynamic\n"
           "resize off (except in grow, and where a sweep says otherwise). Targets are\n"
           "informative.\n"
           "Mode: %s (%u samples of >= %.0f ms, median reported; flushes: mean of %u timed one\n"
           "by one per sample, clock overhead %.1f ns subtracted). %s\n",
           TLB_ENTRIES, TLB_VICTIM, opt_quick ? "--quick" : "full", params.samples,
           params.min_sample_ns / 1e6, params.flush_rounds, clock_overhead_ns, run_date);
    if (peer_note) {
        printf("peer: skipped (%s).\n", peer_note);
    }
    printf("Total run time %.1f s.\n", total_s);
}

static void print_json(void)
{
    for (guint i = 0; i < results->len; i++) {
        const Result *r = &g_array_index(results, Result, i);
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "{\"bench\":\"tlb\",\"case\":\"%s\",\"params\":\"%s\","
                                  "\"metric\":\"%s\",\"value\":%.10g,\"unit\":\"%s\"",
                               r->name, r->params, r->metric, r->value, r->unit);
        if (r->regions >= 0) {
            g_string_append_printf(s, ",\"regions\":%d", r->regions);
        }
        if (r->entries >= 0) {
            g_string_append_printf(s, ",\"entries\":%d", r->entries);
        }
        if (r->victim >= 0) {
            g_string_append_printf(s, ",\"victim\":%d", r->victim);
        }
        if (r->ws_pages >= 0) {
            g_string_append_printf(s, ",\"ws_pages\":%d", r->ws_pages);
        }
        if (r->pattern) {
            g_string_append_printf(s, ",\"pattern\":\"%s\"", r->pattern);
        }
        if (r->walk) {
            g_string_append_printf(s, ",\"walk\":\"%s\"", r->walk);
        }
        if (r->baseline) {
            g_string_append_printf(s, ",\"baseline\":\"%s\",\"baseline_value\":%.10g,"
                                      "\"ratio\":%.10g",
                                   r->baseline, r->baseline_value, r->value / r->baseline_value);
        }
        if (r->has_rates) {
            g_string_append_printf(s, ",\"miss_rate\":%.10g,\"walk_rate\":%.10g,"
                                      "\"victim_hit_rate\":%.10g",
                                   r->rates.miss, r->rates.walk, r->rates.victim);
        }
        if (r->has_target) {
            char *target = format_target(r);
            g_string_append_printf(s, ",\"target\":\"%s\",\"target_value\":%.10g,"
                                      "\"status\":\"%s\"",
                                   target, r->target, status_of(r));
            g_free(target);
        }
        g_string_append_printf(s, ",\"quick\":%s}", opt_quick ? "true" : "false");
        puts(s->str);
        g_string_free(s, TRUE);
    }
}

/* ------------------------------------------------------------------------ */
/* The machine                                                               */

static volatile uint32_t dev_last_write;

static MemResult dev_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                          MemAttrs attrs)
{
    (void)opaque;
    (void)offset;
    (void)size;
    (void)attrs;
    *value = DEV_CONST;
    return MEM_OK;
}

static MemResult dev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                           MemAttrs attrs)
{
    (void)opaque;
    (void)offset;
    (void)size;
    (void)attrs;
    dev_last_write = (uint32_t)value;
    return MEM_OK;
}

static const MemRegionOps dev_ops = {
    .read = dev_read,
    .write = dev_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

typedef struct Machine {
    MemRegion *root;       /* the global map */
    MemRegion *ram;        /* RAM_SIZE at 0 (borrowed: the root holds it) */
    uint8_t *ram_host;
    guint regions;         /* regions in the global map, RAM and device included */
    uint64_t rng, low, high;
    CpuView *cv;           /* CPU 0: every TLB here uses its address space */
    AddressSpace *as;
} Machine;

static Machine mach;

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Grow the global map to `total` regions (one transaction, one commit). */
static void machine_grow(guint total)
{
    GError *err = NULL;
    char name[32];
    mem_transaction_begin();
    while (mach.regions < total) {
        unsigned kind = rng_next(&mach.rng) % 8;
        uint64_t size;
        bool is_ram = false;
        switch (kind) {
        case 0: case 1: case 2: size = 0x1000; break;         /* MMIO 4 KiB */
        case 3: case 4: size = 0x10000; break;                /* MMIO 64 KiB */
        case 5: size = 0x1000; is_ram = true; break;          /* RAM 4 KiB */
        case 6: size = 0x10000; is_ram = true; break;         /* RAM 64 KiB */
        default: size = 0x100; break;                         /* MMIO sub-page */
        }
        uint64_t gap = size < PAGE_SIZE ? 0x100 * (1 + rng_next(&mach.rng) % 4)
                                        : PAGE_SIZE * (rng_next(&mach.rng) % 4);
        uint64_t *cursor = (rng_next(&mach.rng) % 4 == 0) ? &mach.high : &mach.low;
        if (cursor == &mach.low && align_up(mach.low, size) + size > FILL_LIMIT) {
            cursor = &mach.high;
        }
        uint64_t addr = align_up(*cursor, size);
        *cursor = addr + size + gap;
        snprintf(name, sizeof(name), "fill%u", mach.regions);
        MemRegion *mr = is_ram ? mr_new_ram(name, size, &err)
                               : mr_new_mmio(name, size, &bench_filler_ops, NULL, &err);
        die_on_error(err, "filler region");
        mr_add_subregion(mach.root, addr, mr, &err);
        die_on_error(err, "add filler region");
        mr_unref(mr);
        mach.regions++;
    }
    mem_transaction_commit();
}

static void machine_init(void)
{
    GError *err = NULL;
    mach.rng = 0x746c6262656e6368ull;
    mach.low = FILL_LOW;
    mach.high = FILL_HIGH;

    mem_transaction_begin();
    mach.root = mr_new_container("system", MEM_SIZE_FULL, &err);
    die_on_error(err, "container");
    MemRegion *ram = mr_new_ram("ram", RAM_SIZE, &err);
    die_on_error(err, "ram");
    mr_add_subregion(mach.root, 0, ram, &err);
    die_on_error(err, "add ram");
    mach.ram = ram;
    mr_unref(ram);
    MemRegion *dev = mr_new_mmio("dev", DEV_SIZE, &dev_ops, NULL, &err);
    die_on_error(err, "dev");
    mr_add_subregion(mach.root, DEV_BASE, dev, &err);
    die_on_error(err, "add dev");
    mr_unref(dev);
    mach.regions = 2;
    mem_transaction_commit();
    machine_grow(BASE_REGIONS);

    MemRegion *apic = mr_new_mmio("apic0", 0x1000, &bench_filler_ops, NULL, &err);
    die_on_error(err, "apic");
    CpuViewConfig cfg = {
        .cpu_index = 0,
        .global_map = mach.root,
        .apic = apic,  /* owned by the view from here on */
        .apic_base = APIC_BASE,
    };
    /* SMRAM: the RAM under 0xa0000-0xbffff, shown while CPU 0 is "in SMM"
     * (the smm case toggles it; nothing else does). */
    MemRegion *smram = mr_new_alias("smram", ram, SMRAM_BASE, SMRAM_SIZE, &err);
    die_on_error(err, "smram");
    cfg.smram = smram;
    cfg.smram_addr = SMRAM_BASE;
    mach.cv = cpu_view_new(&cfg, &err);
    die_on_error(err, "cpu_view_new");
    mr_unref(smram);
    mach.as = cpu_view_as(mach.cv);

    /* Fault the RAM in now (mr_new_ram's memory is allocated lazily), and
     * mark the first word of every data page with a value the checks know. */
    mach.ram_host = mr_ram_ptr(mach.ram);
    memset(mach.ram_host, 0, RAM_SIZE);
    for (uint64_t p = 0; p < PT_BASE >> PAGE_BITS; p++) {
        uint32_t mark = (uint32_t)p ^ 0x5a5a0000u;
        memcpy(mach.ram_host + (p << PAGE_BITS), &mark, 4);
    }
}

static void machine_free(void)
{
    cpu_view_free(mach.cv);
    mr_unref(mach.root);
}

/* ------------------------------------------------------------------------ */
/* Page walks (the target's side)                                            */

/* Paging off: virtual = physical, everything allowed. */
static bool walk_identity(void *cpu, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                          TlbTranslation *out, TlbFault *fault)
{
    (void)cpu;
    (void)access;
    (void)mmu_idx;
    (void)fault;
    out->paddr = vaddr;
    out->prot = TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC;
    out->page_size = PAGE_SIZE;
    out->attrs = mem_attrs_cpu(0);
    return true;
}

static const TlbTargetOps identity_ops = { walk_identity, bench_raise_fault, NULL };

/* x86-64 4-level paging (supervisor accesses, CR0.WP=1, NXE=1). */
#define PTE_P    0x1ull
#define PTE_RW   0x2ull
#define PTE_US   0x4ull
#define PTE_A    0x20ull
#define PTE_D    0x40ull
#define PTE_PS   0x80ull
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

typedef struct Walker {
    AddressSpace *as;   /* PTE accesses go through the CPU's address space ... */
    bool host_ptes;     /* ... or straight to the RAM's host memory */
    uint8_t *ram;
    uint64_t ram_size;
    uint64_t cr3;
    uint64_t walks;
} Walker;

static bool pte_read(Walker *w, uint64_t pa, uint64_t *pte)
{
    if (w->host_ptes) {
        if (pa > w->ram_size - 8) {
            return false;
        }
        uint64_t v;
        memcpy(&v, w->ram + pa, 8);
        *pte = GUINT64_FROM_LE(v);
        return true;
    }
    return as_read_val(w->as, pa, mem_attrs_cpu(0), 8, MEM_LITTLE_ENDIAN, pte) == MEM_OK;
}

static bool pte_write(Walker *w, uint64_t pa, uint64_t pte)
{
    if (w->host_ptes) {
        if (pa > w->ram_size - 8) {
            return false;
        }
        uint64_t v = GUINT64_TO_LE(pte);
        memcpy(w->ram + pa, &v, 8);
        return true;
    }
    return as_write_val(w->as, pa, mem_attrs_cpu(0), 8, MEM_LITTLE_ENDIAN, pte) == MEM_OK;
}

/* #PF error code bits, kept in target_code. */
#define PF_PROT  1u
#define PF_WRITE 2u
#define PF_FETCH 16u

static bool walk_x86_64(void *cpu, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                        TlbTranslation *out, TlbFault *fault)
{
    (void)mmu_idx;
    Walker *w = cpu;
    uint64_t code = (access == TLB_WRITE ? PF_WRITE : 0) | (access == TLB_EXEC ? PF_FETCH : 0);
    w->walks++;
    if ((uint64_t)((int64_t)(vaddr << 16) >> 16) != vaddr) {
        fault->target_code = UINT64_MAX;  /* non-canonical: #GP, not #PF */
        return false;
    }
    unsigned prot = TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC;
    uint64_t table = w->cr3 & PTE_ADDR;
    for (int level = 3; level >= 0; level--) {
        unsigned shift = PAGE_BITS + 9 * (unsigned)level;
        uint64_t ea = table + (((vaddr >> shift) & 511) << 3);
        uint64_t e;
        if (!pte_read(w, ea, &e)) {
            fault->target_code = code | PF_PROT;
            return false;
        }
        if (!(e & PTE_P)) {
            fault->target_code = code;
            return false;
        }
        if (!(e & PTE_RW)) {
            prot &= ~(unsigned)TLB_PROT_WRITE;
        }
        if (e & PTE_NX) {
            prot &= ~(unsigned)TLB_PROT_EXEC;
        }
        if ((access == TLB_WRITE && !(prot & TLB_PROT_WRITE)) ||
            (access == TLB_EXEC && !(prot & TLB_PROT_EXEC))) {
            fault->target_code = code | PF_PROT;
            return false;
        }
        bool leaf = level == 0 || (level <= 2 && (e & PTE_PS));
        uint64_t ne = e | PTE_A | (leaf && access == TLB_WRITE ? PTE_D : 0);
        if (ne != e && !pte_write(w, ea, ne)) {
            fault->target_code = code | PF_PROT;
            return false;
        }
        if (leaf) {
            if (!(ne & PTE_D)) {
                /* Clean page: the first write must walk again to set D. */
                prot &= ~(unsigned)TLB_PROT_WRITE;
            }
            uint64_t size = 1ull << shift;
            out->paddr = (e & PTE_ADDR & ~(size - 1)) | (vaddr & (size - 1));
            out->prot = prot;
            out->page_size = size;
            out->attrs = mem_attrs_cpu(0);
            return true;
        }
        table = e & PTE_ADDR;
    }
    return false; /* not reached: level 0 is always a leaf */
}

static const TlbTargetOps x86_64_ops = { walk_x86_64, bench_raise_fault, NULL };

static void pt_write(uint64_t pa, uint64_t v)
{
    if (as_write_val(mach.as, pa, mem_attrs_cpu(0), 8, MEM_LITTLE_ENDIAN, v) != MEM_OK) {
        fprintf(stderr, "tlb-bench: page table write at 0x%" PRIx64 " failed\n", pa);
        exit(1);
    }
}

/* Map [va, va + npages pages) to [pa, ...) with 4 KiB PTEs, A and D clear,
 * tables from PT_BASE on. Returns CR3. va must be 1 GiB aligned. */
static uint64_t build_page_tables(uint64_t va, uint64_t pa, unsigned npages)
{
    const uint64_t flags = PTE_P | PTE_RW | PTE_US;
    uint64_t pml4 = PT_BASE, pdpt = PT_BASE + PAGE_SIZE, pd = PT_BASE + 2 * PAGE_SIZE;
    uint64_t pts = PT_BASE + 3 * PAGE_SIZE;
    unsigned npt = (npages + 511) / 512;
    g_assert((va & ((1ull << 30) - 1)) == 0 && npt <= 512);
    g_assert(pts + (uint64_t)npt * PAGE_SIZE <= RAM_SIZE);
    pt_write(pml4 + ((va >> 39) & 511) * 8, pdpt | flags);
    pt_write(pdpt + ((va >> 30) & 511) * 8, pd | flags);
    for (unsigned j = 0; j < npt; j++) {
        pt_write(pd + j * 8, (pts + (uint64_t)j * PAGE_SIZE) | flags);
    }
    for (unsigned i = 0; i < npages; i++) {
        pt_write(pts + (uint64_t)i * 8, (pa + ((uint64_t)i << PAGE_BITS)) | flags);
    }
    return pml4;
}

/* The walk cases' page table: WALK_VA_BASE -> physical 0, MISS_PAGES pages. */
static uint64_t page_tables(void)
{
    static uint64_t cr3;
    if (!cr3) {
        cr3 = build_page_tables(WALK_VA_BASE, 0, MISS_PAGES);
    }
    return cr3;
}

static CpuTlb *tlb_make(const TlbTargetOps *ops, void *cpu, unsigned entries, unsigned victim)
{
    TlbConfig cfg;
    tlb_config_default(&cfg);
    cfg.entries = entries;
    cfg.victim = victim;
    cfg.dynamic_resize = false;
    cfg.min_entries = entries < 64 ? entries : 64;
    cfg.max_entries = entries > 4096 ? entries : 4096;
    GError *err = NULL;
    CpuTlb *t = tlb_new(mach.as, &cfg, ops, cpu, &err);
    die_on_error(err, "tlb_new");
    return t;
}

/* ------------------------------------------------------------------------ */
/* Loops                                                                     */

typedef struct LoopCtx {
    CpuTlb *t;
    uint64_t vbase;          /* guest virtual address of offset 0 */
    uint8_t *hbase;          /* host address of offset 0 (baselines) */
    uint64_t mask;           /* sequential/strided offsets wrap at mask + 1 */
    const uint32_t *rnd;     /* random: NUM_RANDOM offsets */
    uint64_t next;           /* index of the next access: each call continues the
                              * stream where the last one stopped, so short and long
                              * samples see the same mix of addresses */
} LoopCtx;

/* The offset of access i. Sequential: 4-byte steps; strided: one page per
 * access, offset 0 in the page (the peers' stride loop); random: a table. */
static inline __attribute__((always_inline)) uint64_t pat_off(const LoopCtx *c, Pattern p,
                                                              uint64_t i)
{
    switch (p) {
    case PAT_SEQ: return (i << 2) & c->mask;
    case PAT_STRIDE: return (i << PAGE_BITS) & c->mask;
    default: return c->rnd[i & (NUM_RANDOM - 1)];
    }
}

static inline __attribute__((always_inline)) void loop_tlb_load(LoopCtx *c, uint64_t n,
                                                                Pattern p)
{
    CpuTlb *t = c->t;
    uint64_t base = c->vbase, sum = 0, bad = 0, i0 = c->next;
    c->next = i0 + n;
    for (uint64_t i = i0; i < i0 + n; i++) {
        uint64_t off = pat_off(c, p, i);
        OPAQUE(off);
        uint64_t v;
        if (__builtin_expect(!tlb_load(t, base + off, 4, 0, 0, &v), 0)) {
            bad++;
        }
        sum += v;
    }
    sink += sum + bad;
}

static inline __attribute__((always_inline)) void loop_native_load(LoopCtx *c, uint64_t n,
                                                                   Pattern p)
{
    const uint8_t *h = c->hbase;
    uint64_t sum = 0, i0 = c->next;
    c->next = i0 + n;
    for (uint64_t i = i0; i < i0 + n; i++) {
        uint64_t off = pat_off(c, p, i);
        OPAQUE(off);
        uint32_t v;
        memcpy(&v, h + off, 4);
        sum += v;
    }
    sink += sum;
}

static void op_tlb_load_seq(void *c, uint64_t n) { loop_tlb_load(c, n, PAT_SEQ); }
static void op_tlb_load_stride(void *c, uint64_t n) { loop_tlb_load(c, n, PAT_STRIDE); }
static void op_tlb_load_random(void *c, uint64_t n) { loop_tlb_load(c, n, PAT_RANDOM); }
static void op_native_load_seq(void *c, uint64_t n) { loop_native_load(c, n, PAT_SEQ); }
static void op_native_load_stride(void *c, uint64_t n) { loop_native_load(c, n, PAT_STRIDE); }
static void op_native_load_random(void *c, uint64_t n) { loop_native_load(c, n, PAT_RANDOM); }

static const BenchOp tlb_load_ops[NUM_PATTERNS] = {
    op_tlb_load_seq, op_tlb_load_stride, op_tlb_load_random,
};
static const BenchOp native_load_ops[NUM_PATTERNS] = {
    op_native_load_seq, op_native_load_stride, op_native_load_random,
};

static void op_tlb_store_seq(void *opaque, uint64_t n)
{
    LoopCtx *c = opaque;
    CpuTlb *t = c->t;
    uint64_t base = c->vbase, bad = 0, i0 = c->next;
    c->next = i0 + n;
    for (uint64_t i = i0; i < i0 + n; i++) {
        uint64_t off = pat_off(c, PAT_SEQ, i);
        OPAQUE(off);
        if (__builtin_expect(!tlb_store(t, base + off, 4, 0, 0, (uint32_t)i), 0)) {
            bad++;
        }
    }
    sink += bad;
}

static void op_native_store_seq(void *opaque, uint64_t n)
{
    LoopCtx *c = opaque;
    uint8_t *h = c->hbase;
    uint64_t i0 = c->next;
    c->next = i0 + n;
    for (uint64_t i = i0; i < i0 + n; i++) {
        uint64_t off = pat_off(c, PAT_SEQ, i);
        OPAQUE(off);
        uint32_t v = (uint32_t)i;
        memcpy(h + off, &v, 4);
    }
    __asm__ __volatile__("" ::: "memory");
}

/* MMIO: one device register, as the peers' MMIO loops do. */
static void op_mmio_load(void *opaque, uint64_t n)
{
    const LoopCtx *c = opaque;
    CpuTlb *t = c->t;
    uint64_t sum = 0, bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t addr = c->vbase;
        OPAQUE(addr);
        uint64_t v;
        if (__builtin_expect(!tlb_load(t, addr, 4, 0, 0, &v), 0)) {
            bad++;
        }
        sum += v;
    }
    sink += sum + bad;
}

static void op_mmio_store(void *opaque, uint64_t n)
{
    const LoopCtx *c = opaque;
    CpuTlb *t = c->t;
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t addr = c->vbase;
        OPAQUE(addr);
        if (__builtin_expect(!tlb_store(t, addr, 4, 0, 0, (uint32_t)i), 0)) {
            bad++;
        }
    }
    sink += bad;
}

/* The baseline: the device's callbacks called through function pointers
 * that the compiler cannot see through (as a dispatcher holding ops would). */
static MemResult (*volatile direct_read)(void *, uint64_t, uint64_t *, unsigned, MemAttrs) =
    dev_read;
static MemResult (*volatile direct_write)(void *, uint64_t, uint64_t, unsigned, MemAttrs) =
    dev_write;

static void op_direct_read(void *opaque, uint64_t n)
{
    (void)opaque;
    uint64_t sum = 0, bad = 0;
    MemAttrs attrs = mem_attrs_cpu(0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = 0;
        OPAQUE(off);
        uint64_t v;
        if (direct_read(NULL, off, &v, 4, attrs) != MEM_OK) {
            bad++;
        }
        sum += v;
    }
    sink += sum + bad;
}

static void op_direct_write(void *opaque, uint64_t n)
{
    (void)opaque;
    uint64_t bad = 0;
    MemAttrs attrs = mem_attrs_cpu(0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = 0;
        OPAQUE(off);
        if (direct_write(NULL, off, (uint32_t)i, 4, attrs) != MEM_OK) {
            bad++;
        }
    }
    sink += bad;
}

/* Untimed: loads through t must read what the host side holds. */
static void check_loads(CpuTlb *t, uint64_t vbase, unsigned pages, const char *what)
{
    unsigned bad = 0;
    for (unsigned p = 0; p < pages; p += 97) {
        uint64_t v = 0;
        uint32_t want;
        memcpy(&want, mach.ram_host + ((uint64_t)p << PAGE_BITS), 4);
        if (!tlb_load(t, vbase + ((uint64_t)p << PAGE_BITS), 4, 0, 0, &v) || v != want) {
            if (bad++ < 3) {
                fprintf(stderr, "tlb-bench: %s: page %u reads 0x%" PRIx64 ", expected 0x%x\n",
                        what, p, v, want);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

static void bench_hit(void)
{
    progress("hit");
    CpuTlb *t = tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM);
    check_loads(t, 0, 1, "hit");
    LoopCtx cn = { .hbase = mach.ram_host, .mask = PAGE_SIZE - 1 };
    LoopCtx ct = { .t = t, .vbase = 0, .mask = PAGE_SIZE - 1 };

    Meas m[2] = { { .op = op_native_load_seq, .ctx = &cn },
                  { .op = op_tlb_load_seq, .ctx = &ct, .t = t } };
    run_interleaved(m, 2);
    Result *r = add_result("hit", "1 page, 4-byte loads", "ns_per_load", m[1].med, "ns");
    set_rates(r, meas_rates(&m[1], "hit load"));
    set_baseline(r, "native-load", m[0].med);
    set_target(r, TARGET_HIT_NS);
    set_geometry(r, -1, TLB_ENTRIES, TLB_VICTIM, 1, "sequential");

    Meas w[2] = { { .op = op_native_store_seq, .ctx = &cn },
                  { .op = op_tlb_store_seq, .ctx = &ct, .t = t } };
    run_interleaved(w, 2);
    r = add_result("hit", "1 page, 4-byte stores", "ns_per_store", w[1].med, "ns");
    set_rates(r, meas_rates(&w[1], "hit store"));
    set_baseline(r, "native-store", w[0].med);
    set_target(r, TARGET_HIT_NS);
    set_geometry(r, -1, TLB_ENTRIES, TLB_VICTIM, 1, "sequential");
    /* Put back the mark the stores overwrote. */
    uint32_t mark = 0x5a5a0000u;
    memcpy(mach.ram_host, &mark, 4);
    tlb_free(t);
}

/*
 * The page stride over 16,384 pages, four loops interleaved: the native
 * stride, the identity walk, and the 4-level walk with PTEs read through
 * as_read_val and through the host pointer.
 */
static void bench_miss(void)
{
    progress("miss");
    uint64_t cr3 = page_tables();
    Walker wa = { .as = mach.as, .host_ptes = false, .ram = mach.ram_host, .ram_size = RAM_SIZE,
                  .cr3 = cr3 };
    Walker wh = wa;
    wh.host_ptes = true;
    CpuTlb *ti = tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM);
    CpuTlb *ta = tlb_make(&x86_64_ops, &wa, TLB_ENTRIES, TLB_VICTIM);
    CpuTlb *th = tlb_make(&x86_64_ops, &wh, TLB_ENTRIES, TLB_VICTIM);
    uint64_t pa = 0;
    if (!tlb_probe(ta, WALK_VA_BASE + 5 * PAGE_SIZE + 8, TLB_READ, 0, &pa) ||
        pa != 5 * PAGE_SIZE + 8) {
        fprintf(stderr, "tlb-bench: miss-walk: the page table does not translate\n");
    }
    check_loads(ti, 0, MISS_PAGES, "miss");
    check_loads(ta, WALK_VA_BASE, MISS_PAGES, "miss-walk");
    check_loads(th, WALK_VA_BASE, MISS_PAGES, "miss-walk (host PTEs)");

    LoopCtx cn = { .hbase = mach.ram_host, .mask = MISS_BYTES - 1 };
    LoopCtx ci = { .t = ti, .vbase = 0, .mask = MISS_BYTES - 1 };
    LoopCtx ca = { .t = ta, .vbase = WALK_VA_BASE, .mask = MISS_BYTES - 1 };
    LoopCtx ch = { .t = th, .vbase = WALK_VA_BASE, .mask = MISS_BYTES - 1 };
    Meas m[4] = { { .op = op_native_load_stride, .ctx = &cn },
                  { .op = op_tlb_load_stride, .ctx = &ci, .t = ti },
                  { .op = op_tlb_load_stride, .ctx = &ca, .t = ta },
                  { .op = op_tlb_load_stride, .ctx = &ch, .t = th } };
    wa.walks = wh.walks = 0;
    run_interleaved(m, 4);
    if (wa.walks < m[2].stats.fills || wh.walks < m[3].stats.fills) {
        fprintf(stderr, "tlb-bench: miss-walk: fewer page walks than fills\n");
    }

    const char *what = "16384 pages, identity walk";
    Result *r = add_result("miss", what, "ns_per_access", m[1].med, "ns");
    set_rates(r, meas_rates(&m[1], "miss"));
    set_baseline(r, "native-stride", m[0].med);
    set_geometry(r, BASE_REGIONS, TLB_ENTRIES, TLB_VICTIM, MISS_PAGES, "strided");
    r = add_result("miss", what, "ns_above_native", median_diff(&m[1], &m[0]), "ns");
    set_target(r, TARGET_MISS_ABOVE_NS);
    set_geometry(r, BASE_REGIONS, TLB_ENTRIES, TLB_VICTIM, MISS_PAGES, "strided");

    for (int k = 2; k < 4; k++) {
        what = k == 2 ? "4-level, PTEs via as_read_val" : "4-level, PTEs via host ptr";
        r = add_result("miss-walk", what, "ns_per_access", m[k].med, "ns");
        set_rates(r, meas_rates(&m[k], "miss-walk"));
        set_baseline(r, "native-stride", m[0].med);
        set_geometry(r, BASE_REGIONS, TLB_ENTRIES, TLB_VICTIM, MISS_PAGES, "strided");
        r = add_result("miss-walk", what, "ns_above_native", median_diff(&m[k], &m[0]), "ns");
        set_geometry(r, BASE_REGIONS, TLB_ENTRIES, TLB_VICTIM, MISS_PAGES, "strided");
        /* The walk's own cost: against the identity-walk miss. */
        r = add_result("miss-walk", what, "ns_walk", median_diff(&m[k], &m[1]), "ns");
        set_geometry(r, BASE_REGIONS, TLB_ENTRIES, TLB_VICTIM, MISS_PAGES, "strided");
    }
    tlb_free(ti);
    tlb_free(ta);
    tlb_free(th);
}

/*
 * The same 16,384-page stride with dynamic resizing on (the default
 * geometry, 256 entries to start): after an untimed warm-up the table has
 * grown between flushes to cover the working set (docs/tlb.md §7), and the
 * stride hits. Baseline: the native stride.
 */
static void bench_grow(void)
{
    progress("grow");
    TlbConfig cfg;
    tlb_config_default(&cfg);
    cfg.entries = TLB_ENTRIES;
    cfg.victim = TLB_VICTIM;
    cfg.dynamic_resize = true;
    GError *err = NULL;
    CpuTlb *t = tlb_new(mach.as, &cfg, &identity_ops, NULL, &err);
    die_on_error(err, "tlb_new");
    LoopCtx ct = { .t = t, .vbase = 0, .mask = MISS_BYTES - 1 };
    for (int pass = 0; pass < 8 && tlb_entries(t, 0) < MISS_PAGES; pass++) {
        op_tlb_load_stride(&ct, MISS_PAGES);
    }
    unsigned grown = tlb_entries(t, 0);
    if (grown < MISS_PAGES) {
        fprintf(stderr, "tlb-bench: grow: the table has %u entries after warm-up\n", grown);
    }
    check_loads(t, 0, MISS_PAGES, "grow");
    LoopCtx cn = { .hbase = mach.ram_host, .mask = MISS_BYTES - 1 };
    Meas m[2] = { { .op = op_native_load_stride, .ctx = &cn },
                  { .op = op_tlb_load_stride, .ctx = &ct, .t = t } };
    run_interleaved(m, 2);
    char what[40];
    snprintf(what, sizeof(what), "16384 pages, grown to %u", grown);
    Result *r = add_result("grow", what, "ns_per_access", m[1].med, "ns");
    set_rates(r, meas_rates(&m[1], "grow"));
    set_baseline(r, "native-stride", m[0].med);
    set_geometry(r, BASE_REGIONS, (int)grown, TLB_VICTIM, MISS_PAGES, "strided");
    r = add_result("grow", what, "ns_above_native", median_diff(&m[1], &m[0]), "ns");
    set_geometry(r, BASE_REGIONS, (int)grown, TLB_VICTIM, MISS_PAGES, "strided");
    tlb_free(t);
}

static void bench_mmio(void)
{
    progress("mmio");
    CpuTlb *t = tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM);
    LoopCtx c = { .t = t, .vbase = DEV_BASE };
    uint64_t v0 = 0;
    if (!tlb_load(t, DEV_BASE, 4, 0, 0, &v0) || v0 != DEV_CONST) {
        fprintf(stderr, "tlb-bench: mmio: the device reads 0x%" PRIx64 "\n", v0);
    }

    Meas m[2] = { { .op = op_direct_read }, { .op = op_mmio_load, .ctx = &c, .t = t } };
    run_interleaved(m, 2);
    Result *r = add_result("mmio", "4-byte loads, one register", "ns_per_load", m[1].med, "ns");
    set_rates(r, meas_rates(&m[1], "mmio load"));
    set_baseline(r, "direct-callback", m[0].med);
    set_target(r, TARGET_MMIO_NS);

    Meas w[2] = { { .op = op_direct_write }, { .op = op_mmio_store, .ctx = &c, .t = t } };
    run_interleaved(w, 2);
    r = add_result("mmio", "4-byte stores, one register", "ns_per_store", w[1].med, "ns");
    set_rates(r, meas_rates(&w[1], "mmio store"));
    set_baseline(r, "direct-callback", w[0].med);
    set_target(r, TARGET_MMIO_NS);
    tlb_free(t);
}

/* --- Flushes --- */

typedef struct FlushCtx {
    CpuTlb *t;
    TlbEntry *shadow;   /* baselines: a table of the same geometry, main + victim */
} FlushCtx;

#define FLUSH_PAGES_FIRST TLB_VICTIM  /* pages 8..263 end up in the main table */

/* Fill every main entry and every victim entry: pages 0..263 through a
 * 256-entry table leave 8..263 in the table and 0..7 in the victims. */
static void warm_tlb(FlushCtx *c)
{
    uint64_t v;
    for (uint64_t p = 0; p < TLB_ENTRIES + TLB_VICTIM; p++) {
        tlb_load(c->t, p << PAGE_BITS, 4, 0, 0, &v);
    }
}

static void warm_shadow(FlushCtx *c)
{
    for (uint64_t p = 0; p < TLB_ENTRIES + TLB_VICTIM; p++) {
        uint64_t slot = p < TLB_VICTIM ? TLB_ENTRIES + p : p & (TLB_ENTRIES - 1);
        uint64_t tag = p << PAGE_BITS;
        c->shadow[slot] = (TlbEntry){ tag, tag, tag, (uintptr_t)mach.ram_host };
    }
}

static void do_flush(FlushCtx *c)
{
    tlb_flush(c->t);
}

static void do_memset(FlushCtx *c)
{
    memset(c->shadow, 0xff, (TLB_ENTRIES + TLB_VICTIM) * sizeof(TlbEntry));
    __asm__ __volatile__("" ::: "memory");
}

static void do_flush_pages(FlushCtx *c)
{
    for (uint64_t p = FLUSH_PAGES_FIRST; p < FLUSH_PAGES_FIRST + TLB_ENTRIES; p++) {
        tlb_flush_page(c->t, p << PAGE_BITS);
    }
}

/* The least a page flush must do: index, compare, clear one entry. */
static void do_invalidate_pages(FlushCtx *c)
{
    for (uint64_t p = FLUSH_PAGES_FIRST; p < FLUSH_PAGES_FIRST + TLB_ENTRIES; p++) {
        uint64_t vpage = p << PAGE_BITS;
        OPAQUE(vpage);
        TlbEntry *e = &c->shadow[(vpage >> PAGE_BITS) & (TLB_ENTRIES - 1)];
        if ((e->addr_read & PAGE_MASK) == vpage || (e->addr_write & PAGE_MASK) == vpage ||
            (e->addr_code & PAGE_MASK) == vpage) {
            memset(e, 0xff, sizeof(*e));
        }
    }
    __asm__ __volatile__("" ::: "memory");
}

/*
 * prep (untimed), then op timed on its own; `div` operations per op call.
 * Per sample: the robust mean of flush_rounds such timings, minus the clock
 * overhead. The baseline (prep_b, op_b) and mmusim (prep_v, op_v) take
 * turns sample by sample; *base and *v are the medians over the samples,
 * in ns per operation.
 */
static void time_each(void (*prep_b)(FlushCtx *), void (*op_b)(FlushCtx *),
                      void (*prep_v)(FlushCtx *), void (*op_v)(FlushCtx *), FlushCtx *c,
                      unsigned div, double *base, double *v)
{
    unsigned rounds = params.flush_rounds;
    double *d = g_new(double, rounds);
    double sb[MAX_SAMPLES], sv[MAX_SAMPLES];
    for (unsigned r = 0; r < rounds / 4 + 1; r++) {  /* warm-up */
        prep_b(c);
        op_b(c);
        prep_v(c);
        op_v(c);
    }
    for (unsigned k = 0; k < params.samples; k++) {
        for (int which = 0; which < 2; which++) {
            void (*prep)(FlushCtx *) = which ? prep_v : prep_b;
            void (*op)(FlushCtx *) = which ? op_v : op_b;
            for (unsigned r = 0; r < rounds; r++) {
                prep(c);
                double t0 = now_ns();
                op(c);
                double t1 = now_ns();
                d[r] = t1 - t0;
            }
            (which ? sv : sb)[k] = (robust_mean(d, rounds) - clock_overhead_ns) / div;
        }
    }
    *base = median(sb, params.samples);
    *v = median(sv, params.samples);
    g_free(d);
}

static void op_flush_loop(void *opaque, uint64_t n)
{
    FlushCtx *c = opaque;
    for (uint64_t i = 0; i < n; i++) {
        tlb_flush(c->t);
    }
}

static void op_memset_loop(void *opaque, uint64_t n)
{
    FlushCtx *c = opaque;
    for (uint64_t i = 0; i < n; i++) {
        do_memset(c);
    }
}

static void bench_flush(void)
{
    progress("flush");
    FlushCtx c = { tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM),
                   g_new(TlbEntry, TLB_ENTRIES + TLB_VICTIM) };
    warm_tlb(&c);
    TlbStats st;
    tlb_get_stats(c.t, 0, &st);
    if (st.fills != TLB_ENTRIES + TLB_VICTIM || tlb_peek_entry(c.t, 0, 0)->addr_read !=
        (uint64_t)TLB_ENTRIES << PAGE_BITS) {
        fprintf(stderr, "tlb-bench: flush: the table is not warm as expected\n");
    }

    double base, v;
    time_each(warm_shadow, do_memset, warm_tlb, do_flush, &c, 1, &base, &v);
    Result *r = add_result("flush", "full, warm 256+8 entries", "ns_per_flush", v, "ns");
    set_baseline(r, "memset-table", base);
    set_target(r, TARGET_FLUSH_NS);
    set_geometry(r, -1, TLB_ENTRIES, TLB_VICTIM, -1, NULL);

    /* Cross-check without per-call clock reads: flushes back to back (the
     * table is empty after the first; a flush does the same work). */
    Meas m[2] = { { .op = op_memset_loop, .ctx = &c }, { .op = op_flush_loop, .ctx = &c } };
    run_interleaved(m, 2);
    r = add_result("flush", "full, back to back", "ns_per_flush", m[1].med, "ns");
    set_baseline(r, "memset-table", m[0].med);
    set_geometry(r, -1, TLB_ENTRIES, TLB_VICTIM, -1, NULL);

    time_each(warm_shadow, do_invalidate_pages, warm_tlb, do_flush_pages, &c, TLB_ENTRIES, &base,
              &v);
    r = add_result("flush", "page, resident pages", "ns_per_flush", v, "ns");
    set_baseline(r, "inline-invalidate", base);
    set_geometry(r, -1, TLB_ENTRIES, TLB_VICTIM, -1, NULL);

    tlb_free(c.t);
    g_free(c.shadow);
}

/* --- SMM transitions --- */

/* Valid main-table entries among the warm pages. */
static unsigned count_warm(CpuTlb *t)
{
    unsigned n = 0;
    for (uint64_t p = FLUSH_PAGES_FIRST; p < TLB_ENTRIES + TLB_VICTIM; p++) {
        n += tlb_peek_entry(t, 0, p << PAGE_BITS)->addr_read == p << PAGE_BITS;
    }
    return n;
}

static double median_of(double *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    }
    return v[n / 2];
}

/*
 * Entering and leaving SMM toggles the SMRAM overlay of the CPU's root: two
 * commits, each giving the CPU a new dispatch. The TLB drops only the
 * entries under the SMRAM window and re-stamps the rest (the "by flush"
 * choice of docs/tlb.md, made precise). Each round trip is followed by the
 * guest touching its 264-page working set again. Baseline: the same with a
 * full flush after the round trip (what a flush-everything design pays,
 * refills included). Also reported: warm entries that survive.
 */
static void bench_smm(void)
{
    progress("smm");
    FlushCtx c = { tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM), NULL };
    enum { ROUNDS = 64 };
    unsigned reps = opt_quick ? 5 : 21;
    double *precise = g_new(double, reps), *full = g_new(double, reps);
    unsigned kept = 0;
    for (unsigned r = 0; r < reps; r++) {
        double t0 = 0, t1 = 0;
        for (int variant = 0; variant < 2; variant++) {
            warm_tlb(&c);
            double a = now_ns();
            for (int i = 0; i < ROUNDS; i++) {
                cpu_view_set_smram_visible(mach.cv, true);
                cpu_view_set_smram_visible(mach.cv, false);
                if (variant) {
                    tlb_flush(c.t);
                }
                warm_tlb(&c); /* the guest touches its working set again */
            }
            double b = now_ns();
            if (variant) {
                t1 = (b - a) / ROUNDS;
            } else {
                t0 = (b - a) / ROUNDS;
            }
        }
        precise[r] = t0;
        full[r] = t1;
    }
    /* Warm entries a single round trip leaves valid (those outside SMRAM). */
    warm_tlb(&c);
    cpu_view_set_smram_visible(mach.cv, true);
    cpu_view_set_smram_visible(mach.cv, false);
    kept = count_warm(c.t);
    double p = median_of(precise, reps), f = median_of(full, reps);
    Result *res = add_result("smm", "enter+exit + re-touch 264 pages", "ns_per_round_trip", p, "ns");
    set_baseline(res, "same+full-flush", f);
    set_geometry(res, -1, TLB_ENTRIES, TLB_VICTIM, -1, NULL);
    res = add_result("smm", "enter+exit, warm 256 entries", "warm_entries_kept", kept, "entries");
    set_baseline(res, "full-flush", 0);
    set_geometry(res, -1, TLB_ENTRIES, TLB_VICTIM, -1, NULL);
    g_free(precise);
    g_free(full);
    tlb_free(c.t);
}

/* --- Sweeps --- */

static uint32_t *random_offsets(unsigned ws_pages, uint64_t seed)
{
    uint32_t *a = g_new(uint32_t, NUM_RANDOM);
    uint64_t bytes = (uint64_t)ws_pages << PAGE_BITS;
    for (unsigned i = 0; i < NUM_RANDOM; i++) {
        a[i] = (uint32_t)((rng_next(&seed) % bytes) & ~3ull);
    }
    return a;
}

static void add_sweep(const char *sweep, const char *params_text, unsigned regions,
                      unsigned entries, unsigned victim, unsigned ws, Pattern p,
                      const char *walk, double ns, double native, double above, Rates rates)
{
    SweepPoint sp = { sweep, regions, entries, victim, ws, p, walk, ns, native, above, rates };
    g_array_append_val(sweep_points, sp);
    Result *r = add_result(sweep, params_text, "ns_per_access", ns, "ns");
    set_rates(r, rates);
    set_baseline(r, "native", native);
    set_geometry(r, (int)regions, (int)entries, (int)victim, (int)ws, pattern_names[p]);
    r->walk = walk;
}

/* A load pattern over the first ws pages of RAM (mapped at vbase) through t,
 * interleaved with the same pattern natively; a sweep point. Returns the
 * median per-sample difference (mmusim - native). */
static double sweep_point(const char *sweep, const char *text, CpuTlb *t, uint64_t vbase,
                          unsigned entries, unsigned victim, const char *walk, Pattern p,
                          unsigned ws, const uint32_t *rnd)
{
    uint64_t mask = ((uint64_t)ws << PAGE_BITS) - 1;
    LoopCtx cn = { .hbase = mach.ram_host, .mask = mask, .rnd = rnd };
    LoopCtx ct = { .t = t, .vbase = vbase, .mask = mask, .rnd = rnd };
    Meas m[2] = { { .op = native_load_ops[p], .ctx = &cn },
                  { .op = tlb_load_ops[p], .ctx = &ct, .t = t } };
    run_interleaved(m, 2);
    double above = median_diff(&m[1], &m[0]);
    add_sweep(sweep, text, mach.regions, entries, victim, ws, p, walk, m[1].med, m[0].med, above,
              meas_rates(&m[1], text));
    return above;
}

static void sweep_entries_run(void)
{
    progress("sweep: entries");
    uint32_t *rnd = random_offsets(SWEEP_ENTRIES_WS, 1);
    for (guint i = 0; i < G_N_ELEMENTS(sweep_entries); i++) {
        CpuTlb *t = tlb_make(&identity_ops, NULL, sweep_entries[i], TLB_VICTIM);
        char text[40];
        snprintf(text, sizeof(text), "entries=%u (ws %u, random)", sweep_entries[i],
                 SWEEP_ENTRIES_WS);
        sweep_point("sweep-entries", text, t, 0, sweep_entries[i], TLB_VICTIM, "identity",
                    PAT_RANDOM, SWEEP_ENTRIES_WS, rnd);
        tlb_free(t);
    }
    g_free(rnd);
}

/* Twice: with the identity walk (a miss is cheap, so is what a victim hit
 * saves) and with the 4-level walk through as_read_val. */
static void sweep_victim_run(void)
{
    progress("sweep: victim");
    uint32_t *rnd = random_offsets(SWEEP_VICTIM_WS, 2);
    Walker w = { .as = mach.as, .host_ptes = false, .ram = mach.ram_host, .ram_size = RAM_SIZE,
                 .cr3 = page_tables() };
    for (int walk = 0; walk < 2; walk++) {
        for (guint i = 0; i < G_N_ELEMENTS(sweep_victims); i++) {
            CpuTlb *t = walk ? tlb_make(&x86_64_ops, &w, TLB_ENTRIES, sweep_victims[i])
                             : tlb_make(&identity_ops, NULL, TLB_ENTRIES, sweep_victims[i]);
            char text[40];
            snprintf(text, sizeof(text), "victim=%u (%u, random, %s)", sweep_victims[i],
                     SWEEP_VICTIM_WS, walk ? "4-lvl" : "ident");
            sweep_point("sweep-victim", text, t, walk ? WALK_VA_BASE : 0, TLB_ENTRIES,
                        sweep_victims[i], walk ? "x86-64" : "identity", PAT_RANDOM,
                        SWEEP_VICTIM_WS, rnd);
            tlb_free(t);
        }
    }
    g_free(rnd);
}

static void sweep_ws_run(void)
{
    progress("sweep: working set x pattern");
    for (guint i = 0; i < G_N_ELEMENTS(sweep_ws); i++) {
        unsigned ws = sweep_ws[i];
        uint32_t *rnd = random_offsets(ws, 3 + i);
        for (int p = 0; p < NUM_PATTERNS; p++) {
            CpuTlb *t = tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM);
            char text[40];
            snprintf(text, sizeof(text), "ws=%u pages, %s", ws, pattern_names[p]);
            sweep_point("sweep-ws", text, t, 0, TLB_ENTRIES, TLB_VICTIM, "identity", (Pattern)p,
                        ws, rnd);
            tlb_free(t);
        }
        g_free(rnd);
    }
}

/* Last of the sweeps: it grows the global map for good. */
static void sweep_map_run(void)
{
    progress("sweep: map size");
    double cost[G_N_ELEMENTS(sweep_regions)];
    for (guint i = 0; i < G_N_ELEMENTS(sweep_regions); i++) {
        machine_grow(sweep_regions[i]);
        CpuTlb *t = tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM);
        check_loads(t, 0, MISS_PAGES, "sweep-map");
        char text[40];
        snprintf(text, sizeof(text), "regions=%u (ws %u, strided)", mach.regions, MISS_PAGES);
        cost[i] = sweep_point("sweep-map", text, t, 0, TLB_ENTRIES, TLB_VICTIM, "identity",
                              PAT_STRIDE, MISS_PAGES, NULL);
        Result *r = add_result("sweep-map", text, "ns_above_native", cost[i], "ns");
        set_geometry(r, (int)mach.regions, TLB_ENTRIES, TLB_VICTIM, MISS_PAGES, "strided");
        tlb_free(t);
    }
    guint last = G_N_ELEMENTS(sweep_regions) - 1;
    char text[40];
    snprintf(text, sizeof(text), "miss cost %u / %u regions", sweep_regions[last],
             sweep_regions[0]);
    Result *r = add_result("sweep-map", text, "flatness", cost[last] / cost[0], "x");
    set_target(r, TARGET_MAP_FLAT);
}

/* ------------------------------------------------------------------------ */
/* Peer: Unicorn                                                             */

#ifdef HAVE_UNICORN
#define UC_CODE_BASE 0x1000u
#define UC_DATA_BASE 0x10000000u
#define UC_MMIO_BASE 0x20000000u

static uint64_t uc_dev_read(uc_engine *uc, uint64_t offset, unsigned size, void *user_data)
{
    (void)uc;
    (void)offset;
    (void)size;
    (void)user_data;
    return DEV_CONST;
}

static void uc_dev_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
                         void *user_data)
{
    (void)uc;
    (void)offset;
    (void)size;
    (void)user_data;
    dev_last_write = (uint32_t)value;
}

typedef struct UcCtx {
    uc_engine *uc;
    uint32_t begin, end;
    uint32_t esi;
    unsigned errors;
} UcCtx;

static bool uc_run(UcCtx *c, uint64_t n)
{
    uint32_t ecx = (uint32_t)(n ? (n > UINT32_MAX ? UINT32_MAX : n) : 1), zero = 0;
    uc_reg_write(c->uc, UC_X86_REG_ECX, &ecx);
    uc_reg_write(c->uc, UC_X86_REG_EBX, &zero);
    uc_reg_write(c->uc, UC_X86_REG_EAX, &zero);
    uc_reg_write(c->uc, UC_X86_REG_ESI, &c->esi);
    uc_err e = uc_emu_start(c->uc, c->begin, c->end, 0, 0);
    if (e != UC_ERR_OK) {
        if (c->errors++ == 0) {
            fprintf(stderr, "tlb-bench: unicorn: %s\n", uc_strerror(e));
        }
        return false;
    }
    return true;
}

static void op_uc(void *opaque, uint64_t n)
{
    uc_run(opaque, n);
}

typedef struct PeerLoop {
    const char *what;
    uint8_t code[24];
    size_t len;
    uint32_t esi;
    uint32_t stride_mask;  /* stride loops: the MASK immediate; 0: none */
    BenchOp mmusim_op;     /* NULL: no mmusim equivalent */
    uint64_t vbase;        /* the equivalent's address (and mask) */
    uint64_t mask;
} PeerLoop;

#define STRIDE_LOOP(m) { 0x8b, 0x04, 0x1e, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0x81, 0xe3, \
                         (m) & 0xff, ((m) >> 8) & 0xff, ((m) >> 16) & 0xff, ((m) >> 24) & 0xff, \
                         0x49, 0x75, 0xee }

static void bench_peer(void)
{
    progress("peer (Unicorn)");
    static const PeerLoop loops[] = {
        { "x86-32 ALU loop", { 0x40, 0x49, 0x75, 0xfc }, 4, 0, 0, NULL, 0, 0 },
        { "load, same page", { 0x8b, 0x06, 0x49, 0x75, 0xfb }, 5, UC_DATA_BASE, 0,
          op_tlb_load_seq, 0, 0 },
        { "store, same page", { 0x89, 0x06, 0x49, 0x75, 0xfb }, 5, UC_DATA_BASE, 0,
          op_tlb_store_seq, 0, 0 },
        { "load, stride 64 pages", STRIDE_LOOP(0x0003f000u), 18, UC_DATA_BASE, 0x0003f000u,
          op_tlb_load_stride, 0, 0x3ffff },
        { "load, stride 16384 pages", STRIDE_LOOP(0x03fff000u), 18, UC_DATA_BASE, 0x03fff000u,
          op_tlb_load_stride, 0, MISS_BYTES - 1 },
        { "MMIO load", { 0x8b, 0x06, 0x49, 0x75, 0xfb }, 5, UC_MMIO_BASE, 0, op_mmio_load,
          DEV_BASE, 0 },
        { "MMIO store", { 0x89, 0x06, 0x49, 0x75, 0xfb }, 5, UC_MMIO_BASE, 0, op_mmio_store,
          DEV_BASE, 0 },
    };
    uc_engine *uc;
    uc_err e = uc_open(UC_ARCH_X86, UC_MODE_32, &uc);
    if (e != UC_ERR_OK) {
        peer_note = "uc_open failed";
        fprintf(stderr, "tlb-bench: peer: uc_open: %s\n", uc_strerror(e));
        return;
    }
    if ((e = uc_mem_map(uc, UC_CODE_BASE, 0x1000, UC_PROT_ALL)) != UC_ERR_OK ||
        (e = uc_mem_map(uc, UC_DATA_BASE, MISS_BYTES, UC_PROT_READ | UC_PROT_WRITE)) !=
            UC_ERR_OK) {
        peer_note = "uc_mem_map failed";
        fprintf(stderr, "tlb-bench: peer: uc_mem_map: %s\n", uc_strerror(e));
        uc_close(uc);
        return;
    }
    bool have_mmio = false;
#if UC_API_MAJOR >= 2  /* uc_mmio_map appeared in Unicorn 2 */
    have_mmio = uc_mmio_map(uc, UC_MMIO_BASE, 0x1000, uc_dev_read, NULL, uc_dev_write, NULL) ==
                UC_ERR_OK;
#endif

    CpuTlb *t = tlb_make(&identity_ops, NULL, TLB_ENTRIES, TLB_VICTIM);
    double alu = 0;
    for (guint k = 0; k < G_N_ELEMENTS(loops); k++) {
        const PeerLoop *l = &loops[k];
        if (l->esi == UC_MMIO_BASE && !have_mmio) {
            fprintf(stderr, "tlb-bench: peer: %s skipped: no uc_mmio_map\n", l->what);
            continue;
        }
        UcCtx uc_ctx = { uc, UC_CODE_BASE + 0x100 * k, UC_CODE_BASE + 0x100 * k +
                         (uint32_t)l->len, l->esi, 0 };
        uc_mem_write(uc, uc_ctx.begin, l->code, l->len);
        /* Check the loop runs as meant: ecx at 0, eip at the end, ebx strided. */
        uint32_t ecx = 1, eip = 0, ebx = 1;
        bool ok = uc_run(&uc_ctx, 10);
        uc_reg_read(uc, UC_X86_REG_ECX, &ecx);
        uc_reg_read(uc, UC_X86_REG_EIP, &eip);
        uc_reg_read(uc, UC_X86_REG_EBX, &ebx);
        if (!ok || ecx != 0 || eip != uc_ctx.end ||
            (l->stride_mask && ebx != ((10u * 0x1000u) & l->stride_mask))) {
            fprintf(stderr, "tlb-bench: peer: %s does not run as expected (ecx %u eip 0x%x)\n",
                    l->what, ecx, eip);
            continue;
        }
        /* Calibrate on Unicorn; run mmusim's equivalent for the same count,
         * the two taking turns sample by sample. */
        uint64_t n = calibrate(op_uc, &uc_ctx);
        LoopCtx c = { .t = t, .vbase = l->vbase, .hbase = mach.ram_host, .mask = l->mask };
        Meas mm[2] = { { .op = op_uc, .ctx = &uc_ctx, .n = n },
                       { .op = l->mmusim_op, .ctx = &c, .t = t, .n = n } };
        if (!l->mmusim_op) {
            run_interleaved(mm, 1);
            alu = mm[0].med;
            add_result("peer", l->what, "unicorn_ns_per_iter", alu, "ns");
            continue;
        }
        run_interleaved(mm, 2);
        double u = mm[0].med, m = mm[1].med;
        Result *r = add_result("peer", l->what, "ns_per_iter", m, "ns");
        set_rates(r, meas_rates(&mm[1], l->what));
        set_baseline(r, "unicorn-2.0.1", u);
        if (alu > 0) {
            r = add_result("peer", l->what, "mem_ns_per_iter", m, "ns");
            set_baseline(r, "unicorn-minus-alu", u - alu);
        }
    }
    tlb_free(t);
    uc_close(uc);
}
#endif

/* ------------------------------------------------------------------------ */
/* CSV and plot                                                              */

static bool write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return false;
    }
    fprintf(f, "sweep,regions,entries,victim,ws_pages,pattern,walk,ns_per_access,"
               "native_ns_per_access,ratio,ns_above_native,miss_rate,walk_rate,"
               "victim_hit_rate\n");
    for (guint i = 0; i < sweep_points->len; i++) {
        const SweepPoint *p = &g_array_index(sweep_points, SweepPoint, i);
        fprintf(f, "%s,%u,%u,%u,%u,%s,%s,%.4f,%.4f,%.4f,%.4f,%.6f,%.6f,%.6f\n", p->sweep,
                p->regions, p->entries, p->victim, p->ws_pages, pattern_names[p->pattern],
                p->walk, p->ns,
                p->native_ns, p->ns / p->native_ns, p->above, p->rates.miss,
                p->rates.walk, p->rates.victim);
    }
    bool ok = !ferror(f);
    if (fclose(f) != 0 || !ok) {
        perror(path);
        return false;
    }
    return true;
}

/* Points of one sweep (and one pattern, if >= 0; one walk, if not NULL). */
static void datablock(GString *s, const char *name, const char *sweep, int pattern,
                      const char *walk)
{
    g_string_append_printf(s, "$%s << EOD\n", name);
    for (guint i = 0; i < sweep_points->len; i++) {
        const SweepPoint *p = &g_array_index(sweep_points, SweepPoint, i);
        if (strcmp(p->sweep, sweep) || (pattern >= 0 && (int)p->pattern != pattern) ||
            (walk && strcmp(p->walk, walk))) {
            continue;
        }
        unsigned x = !strcmp(sweep, "sweep-map") ? p->regions
                     : !strcmp(sweep, "sweep-entries") ? p->entries
                     : !strcmp(sweep, "sweep-victim") ? p->victim : p->ws_pages;
        g_string_append_printf(s, "%u %.4f %.4f %.6f %.6f %.4f\n", x, p->ns, p->native_ns,
                               p->rates.miss, p->rates.walk, p->above);
    }
    g_string_append(s, "EOD\n");
}

static bool sweep_ran(const char *sweep)
{
    for (guint i = 0; i < sweep_points->len; i++) {
        if (!strcmp(g_array_index(sweep_points, SweepPoint, i).sweep, sweep)) {
            return true;
        }
    }
    return false;
}

/* A panel with nothing in it, for a sweep that did not run (--only). */
static void empty_panel(GString *s, const char *title)
{
    g_string_append_printf(s, "set title '%s: not run'\nunset logscale\nunset y2tics\n"
                              "unset y2label\nset xrange [0:1]\nset yrange [0:1]\n"
                              "plot -1 notitle\n", title);
}

static char *plot_script(const char *png, const char *terminal)
{
    GString *s = g_string_new(NULL);
    GString *q = g_string_new(NULL);
    for (const char *p = png; *p; p++) {
        if (*p == '\'') {
            g_string_append(q, "''");  /* a quote inside a gnuplot '...' string */
        } else {
            g_string_append_c(q, *p);
        }
    }
    datablock(s, "map", "sweep-map", -1, NULL);
    datablock(s, "ent", "sweep-entries", -1, NULL);
    datablock(s, "vic", "sweep-victim", -1, "identity");
    datablock(s, "vicw", "sweep-victim", -1, "x86-64");
    for (int p = 0; p < NUM_PATTERNS; p++) {
        char name[16];
        snprintf(name, sizeof(name), "ws%d", p);
        datablock(s, name, "sweep-ws", p, NULL);
    }
    g_string_append_printf(s,
        "set terminal %s size 1400,1000 noenhanced\n"
        "set output '%s'\n"
        "set multiplot layout 2,2 title 'mmusim tlb-bench sweeps (%s%s)'\n"
        "set grid\nset ylabel 'ns per access'\n",
        terminal, q->str, run_date, opt_quick ? ", --quick" : "");
    g_string_free(q, TRUE);

    if (sweep_ran("sweep-map")) {
        g_string_append(s,
            "set title 'Map size: stride over 16384 pages, 256 entries'\n"
            "set xlabel 'regions in the global map'\nset logscale x\nset xrange [10:20000]\n"
            "set yrange [0:*]\nset key center right\n"
            "plot $map using 1:2 with linespoints title 'mmusim', "
            "$map using 1:3 with linespoints title 'native', "
            "$map using 1:6 with linespoints title 'miss cost above native'\n");
    } else {
        empty_panel(s, "Map size");
    }
    if (sweep_ran("sweep-entries")) {
        g_string_append_printf(s,
            "set title 'TLB entries: random over %u pages, victim 8'\n"
            "set xlabel 'entries'\nunset logscale\nset logscale x 2\nset xrange [*:*]\n"
            "set yrange [0:*]\nset key top right\n"
            "set y2label 'miss rate'\nset y2range [0:1]\nset y2tics\nset ytics nomirror\n"
            "plot $ent using 1:2 with linespoints title 'mmusim ns', "
            "$ent using 1:3 with linespoints title 'native ns', "
            "$ent using 1:4 axes x1y2 with linespoints dashtype 2 title 'miss rate'\n",
            SWEEP_ENTRIES_WS);
    } else {
        empty_panel(s, "TLB entries");
    }
    if (sweep_ran("sweep-victim")) {
        g_string_append_printf(s,
            "set title 'Victim entries: random over %u pages, 256 entries'\n"
            "set xlabel 'victim entries'\nunset logscale\nset xrange [*:*]\n"
            "set yrange [0:40]\nset key top right\n"
            "set y2label 'rate'\nset y2range [0:1]\nset y2tics\nset ytics nomirror\n"
            "plot $vic using 1:2 with linespoints lc 1 title 'ns, identity walk', "
            "$vicw using 1:2 with linespoints lc 2 title 'ns, 4-level walk (as_read_val)', "
            "$vic using 1:3 with linespoints lc 3 title 'native ns', "
            "$vicw using 1:5 axes x1y2 with linespoints lc 2 dashtype 2 title 'walk rate', "
            "$vicw using 1:4 axes x1y2 with linespoints lc 4 dashtype 3 title 'miss rate'\n",
            SWEEP_VICTIM_WS);
    } else {
        empty_panel(s, "Victim entries");
    }
    if (sweep_ran("sweep-ws")) {
        g_string_append(s,
            "set title 'Working set x pattern: 256 entries, victim 8'\n"
            "set xlabel 'working set (pages)'\nunset logscale\nset logscale x 2\n"
            "set logscale y\nset xrange [*:*]\nset yrange [*:*]\nunset y2label\n"
            "unset y2tics\nset ytics mirror\nset key top left\n"
            "plot $ws0 using 1:2 with linespoints lc 1 title 'sequential', "
            "$ws0 using 1:3 with lines lc 1 dashtype 2 title 'sequential native', "
            "$ws1 using 1:2 with linespoints lc 2 title 'strided', "
            "$ws1 using 1:3 with lines lc 2 dashtype 2 title 'strided native', "
            "$ws2 using 1:2 with linespoints lc 3 title 'random', "
            "$ws2 using 1:3 with lines lc 3 dashtype 2 title 'random native'\n");
    } else {
        empty_panel(s, "Working set x pattern");
    }
    g_string_append(s, "unset multiplot\n");
    return g_string_free(s, FALSE);
}

/* Returns NULL on success, else why the plot was not written. */
static char *write_plot(const char *png)
{
    char *gnuplot = g_find_program_in_path("gnuplot");
    if (!gnuplot) {
        return g_strdup("gnuplot is not on PATH");
    }
    if (!sweep_points->len) {
        g_free(gnuplot);
        return g_strdup("no sweep ran");
    }
    char *why = NULL;
    static const char *const terminals[] = { "pngcairo", "png" };
    for (guint k = 0; k < G_N_ELEMENTS(terminals); k++) {
        GError *err = NULL;
        char *script_path = NULL;
        int fd = g_file_open_tmp("tlb-bench-XXXXXX.gp", &script_path, &err);
        if (fd < 0) {
            why = g_strdup_printf("cannot write a gnuplot script: %s", err->message);
            g_error_free(err);
            break;
        }
        close(fd);
        char *script = plot_script(png, terminals[k]);
        bool wrote = g_file_set_contents(script_path, script, -1, &err);
        g_free(script);
        if (!wrote) {
            why = g_strdup_printf("cannot write a gnuplot script: %s", err->message);
            g_error_free(err);
            g_free(script_path);
            break;
        }
        char *argv[] = { gnuplot, script_path, NULL };
        char *errout = NULL;
        int status = 0;
        bool ran = g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                                &errout, &status, &err);
        unlink(script_path);
        g_free(script_path);
        g_free(why);
        why = NULL;
        if (!ran) {
            why = g_strdup_printf("gnuplot did not run: %s", err->message);
            g_error_free(err);
        } else if (!g_spawn_check_wait_status(status, NULL)) {
            why = g_strdup_printf("gnuplot failed: %s", errout ? g_strstrip(errout) : "");
        }
        g_free(errout);
        if (!why) {
            break;
        }
    }
    g_free(gnuplot);
    return why;
}

/* ------------------------------------------------------------------------ */

static void measure_clock_overhead(void)
{
    enum { N = 2001 };
    double *d = g_new(double, N);
    for (int i = 0; i < N; i++) {
        double t0 = now_ns();
        double t1 = now_ns();
        d[i] = t1 - t0;
    }
    clock_overhead_ns = robust_mean(d, N);
    g_free(d);
}

int main(int argc, char **argv)
{
    static const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
          "Print one JSON object per result line instead of a table", NULL },
        { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick,
          "Short samples (a smoke run of a few seconds)", NULL },
        { "csv", 0, 0, G_OPTION_ARG_FILENAME, &opt_csv,
          "Write the sweep results to FILE as CSV", "FILE" },
        { "plot", 0, 0, G_OPTION_ARG_FILENAME, &opt_plot,
          "Plot the sweeps to FILE (PNG) with gnuplot, if gnuplot is on PATH", "FILE" },
        { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only,
          "Run only these cases (for profiling): hit, miss (with miss-walk), grow, mmio, flush, "
          "sweep-entries, sweep-victim, sweep-ws, sweep-map, sweeps, peer", "LIST" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("- software-TLB benchmark");
    g_option_context_set_summary(ctx,
        "Measures TLB hits, misses (with and without a 4-level page walk), MMIO through the\n"
        "TLB and flushes, each against a baseline run in the same process, sweeps map size,\n"
        "TLB and victim entries, working set and access pattern, and (when built with\n"
        "Unicorn) runs the peer guest loops. Prints a table, or JSON lines with --json.\n"
        "Targets are informative: exit status 0.");
    g_option_context_set_description(ctx, "See docs/performance.md.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "tlb-bench: %s\n", err->message);
        g_error_free(err);
        g_option_context_free(ctx);
        return 1;
    }
    g_option_context_free(ctx);
    if (argc > 1) {
        fprintf(stderr, "tlb-bench: unexpected argument '%s' (see --help)\n", argv[1]);
        return 1;
    }
    if (!select_groups(opt_only)) {
        return 1;
    }

    params.samples = opt_quick ? 5 : 11;
    params.min_sample_ns = opt_quick ? 1.5e6 : 30e6;
    params.flush_rounds = opt_quick ? 40 : 400;
    mem_set_report_handler(count_report, NULL);
    results = g_array_new(FALSE, TRUE, sizeof(Result));
    sweep_points = g_array_new(FALSE, TRUE, sizeof(SweepPoint));
    {
        GDateTime *dt = g_date_time_new_now_utc();
        char *s = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
        g_strlcpy(run_date, s, sizeof(run_date));
        g_free(s);
        g_date_time_unref(dt);
    }

    double t0 = now_ns();
    measure_clock_overhead();
    machine_init();
    static const struct { const char *name; void (*run)(void); } groups[] = {
        { "hit", bench_hit }, { "miss", bench_miss }, { "grow", bench_grow },
        { "mmio", bench_mmio }, { "flush", bench_flush }, { "smm", bench_smm },
        { "sweep-entries", sweep_entries_run }, { "sweep-victim", sweep_victim_run },
        { "sweep-ws", sweep_ws_run },
        { "sweep-map", sweep_map_run },  /* last of the map users: it grows the map */
    };
    for (guint g = 0; g < G_N_ELEMENTS(groups); g++) {
        if (group_selected(groups[g].name)) {
            groups[g].run();
        }
    }
    if (group_selected("peer")) {
#ifdef HAVE_UNICORN
        bench_peer();
#else
        peer_note = "built without Unicorn: libunicorn-dev was not found at configure time";
#endif
    }

    if (opt_json) {
        print_json();
        if (peer_note) {
            fprintf(stderr, "tlb-bench: peer: skipped (%s)\n", peer_note);
        }
    } else {
        print_table((now_ns() - t0) / 1e9);
    }
    if (opt_csv) {
        if (write_csv(opt_csv)) {
            fprintf(opt_json ? stderr : stdout, "Sweep results written to %s.\n", opt_csv);
        }
    }
    if (opt_plot) {
        char *why = write_plot(opt_plot);
        if (why) {
            fprintf(opt_json ? stderr : stdout, "Plot skipped: %s.\n", why);
            g_free(why);
        } else {
            fprintf(opt_json ? stderr : stdout, "Plot written to %s.\n", opt_plot);
        }
    }
    if (num_reports) {
        fprintf(stderr, "tlb-bench: the core reported %u unexpected events\n", num_reports);
    }
    if (num_faults) {
        fprintf(stderr, "tlb-bench: %u unexpected TLB faults\n", num_faults);
    }
    machine_free();
    g_array_free(results, TRUE);
    g_array_free(sweep_points, TRUE);
    g_free(opt_csv);
    g_free(opt_plot);
    g_free(opt_only);
    return 0;
}
