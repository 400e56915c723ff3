/*
 * dma-bench: DMA throughput through the memory core, with and without the
 * reference IOMMU, against memcpy (docs/performance.md, "DMA").
 *
 *   build/bench/dma-bench            a table
 *   build/bench/dma-bench --json     one JSON object per line
 *   build/bench/dma-bench --quick    fewer, shorter samples (smoke run)
 *
 * Every transfer moves `size` bytes (64 B, 4 KiB, 64 KiB, 1 MiB) between
 * RAM and a host buffer. Operations:
 *   read       dma_read() of RAM into the host buffer
 *   write      dma_write() of the host buffer into RAM
 *   map-read   dma_map() for reading, memcpy out of the mapping, dma_unmap(),
 *              repeated until `size` bytes are done (a mapping through the
 *              IOMMU ends at its 4 KiB page)
 *   map-write  the same for writing, dma_unmap() with the bytes written
 * Paths (the device's address space):
 *   direct     system memory itself: no IOMMU
 *   iommu      the reference IOMMU (devices/iommu_ref.h) with its 16-entry
 *              IOTLB; the IOVAs are mapped page by page onto the RAM
 *   nocache    the same IOMMU with the IOTLB off (iommu_ref_set_iotlb()):
 *              every translation walks the two-level table
 * Baseline: memcpy() of the same size between the same host buffer and the
 * RAM backing, timed in the same process with its samples interleaved with
 * the case's. Reported: GB/s (1e9 bytes/s), the ratio to memcpy, ns per
 * transfer, and for the IOMMU paths translations per transfer, millions of
 * translations per second and table walks per transfer.
 *
 * Each measurement calibrates a repeat count (also the warm-up), then
 * takes `samples` timed runs and reports the median. Fixed addresses and
 * data: nothing is random. Exit status 0 unless a transfer gave a wrong
 * result (every case is checked once before it is timed).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "devices/iommu_ref.h"
#include "softmmu/dma.h"

/* ------------------------------------------------------------------------ */
/* Parameters and layout                                                     */

static gboolean opt_json;
static gboolean opt_quick;

static struct {
    unsigned samples;      /* timed samples per measurement; the median is reported */
    double min_sample_ns;  /* each sample runs at least this long */
} params;

#define MAX_SIZE   (1ull << 20)
#define RAM_SIZE   (8ull << 20)
#define SRC_PA     0x100000ull            /* source buffer in RAM */
#define DST_PA     0x400000ull            /* destination buffer in RAM */
#define ROOT_PT    0x7f0000ull            /* IOMMU root table */
#define LEAF_PT    0x7f1000ull            /* one leaf table: 4 MiB of IOVA */
#define IOVA_BASE  0x40000000ull          /* root index 0x100 */
#define SRC_IOVA   (IOVA_BASE + 0x000000) /* -> SRC_PA */
#define DST_IOVA   (IOVA_BASE + 0x200000) /* -> DST_PA */
#define REGS       0x10000000ull          /* IOMMU registers in sys */

static const uint64_t sizes[] = { 64, 4096, 65536, 1u << 20 };

typedef enum OpId { OP_READ, OP_WRITE, OP_MAP_READ, OP_MAP_WRITE, NUM_OPS } OpId;
static const char *const op_names[NUM_OPS] = { "read", "write", "map-read", "map-write" };

typedef enum PathId { PATH_DIRECT, PATH_IOMMU, PATH_NOCACHE, NUM_PATHS } PathId;
static const char *const path_names[NUM_PATHS] = { "direct", "iommu", "nocache" };

/* ------------------------------------------------------------------------ */
/* Utilities                                                                 */

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

static double median(double *t, unsigned n)
{
    qsort(t, n, sizeof(*t), cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static unsigned num_reports;

static void count_report(const char *message, void *opaque)
{
    (void)opaque;
    if (num_reports++ < 5) {
        fprintf(stderr, "dma-bench: core report: %s\n", message);
    }
}

static void die(const char *what, GError *err)
{
    fprintf(stderr, "dma-bench: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* ------------------------------------------------------------------------ */
/* The machine                                                               */

static struct {
    MemRegion *sys_root, *ram, *dev_root;
    AddressSpace *sys, *dev;
    IommuRef *iommu;
    uint8_t *host;  /* the device-side buffer */
} W;

static void pt_set(uint64_t pa, uint32_t v)
{
    uint8_t *p = (uint8_t *)mr_ram_ptr(W.ram) + pa;
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void reg_write(unsigned off, uint32_t v)
{
    if (as_write_val(W.sys, REGS + off, mem_attrs_cpu(0), 4, MEM_LITTLE_ENDIAN, v) != MEM_OK) {
        die("IOMMU register write", NULL);
    }
}

static void machine_new(void)
{
    GError *err = NULL;

    W.sys_root = mr_new_container("sys", MEM_SIZE_FULL, &err);
    W.ram = W.sys_root ? mr_new_ram("ram", RAM_SIZE, &err) : NULL;
    if (!W.ram || !mr_add_subregion(W.sys_root, 0, W.ram, &err)) {
        die("RAM", err);
    }
    W.sys = as_new("sys", W.sys_root, &err);
    if (!W.sys) {
        die("sys", err);
    }
    W.iommu = iommu_ref_new(W.sys, W.sys, &err);
    if (!W.iommu) {
        die("iommu", err);
    }
    W.dev_root = mr_new_container("dev", MEM_SIZE_FULL, &err);
    if (!W.dev_root || !mr_add_subregion(W.dev_root, 0, iommu_ref_region(W.iommu), &err) ||
        !mr_add_subregion(W.sys_root, REGS, iommu_ref_regs(W.iommu), &err)) {
        die("dev", err);
    }
    W.dev = as_new("dev", W.dev_root, &err);
    if (!W.dev) {
        die("dev", err);
    }

    /* IOVA page i of each window -> the matching RAM page (one leaf table);
     * the mapping is not the identity, so a translation bug shows. */
    pt_set(ROOT_PT + ((IOVA_BASE >> 22) & 0x3ff) * 4, (uint32_t)LEAF_PT | IOMMU_REF_PTE_VALID);
    for (uint64_t off = 0; off <= MAX_SIZE; off += 0x1000) {
        uint32_t rw = IOMMU_REF_PTE_VALID | IOMMU_REF_PTE_READ | IOMMU_REF_PTE_WRITE;
        pt_set(LEAF_PT + (((SRC_IOVA + off) >> 12) & 0x3ff) * 4, (uint32_t)(SRC_PA + off) | rw);
        pt_set(LEAF_PT + (((DST_IOVA + off) >> 12) & 0x3ff) * 4, (uint32_t)(DST_PA + off) | rw);
    }
    reg_write(IOMMU_REF_ROOT_LO, (uint32_t)ROOT_PT);
    reg_write(IOMMU_REF_ROOT_HI, 0);
    reg_write(IOMMU_REF_ENABLE, IOMMU_REF_ENABLE_ON);

    W.host = g_malloc(MAX_SIZE);
    uint8_t *ram = mr_ram_ptr(W.ram);
    for (uint64_t i = 0; i < MAX_SIZE; i++) {
        ram[SRC_PA + i] = (uint8_t)(i * 7 + 3);
        W.host[i] = (uint8_t)(i * 13 + 1);
    }
}

static void machine_free(void)
{
    as_free(W.dev);
    as_free(W.sys);
    mr_unref(W.dev_root);
    mr_unref(W.sys_root);
    mr_unref(W.ram);
    iommu_ref_free(W.iommu);
    g_free(W.host);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

typedef struct Case {
    OpId op;
    PathId path;
    uint64_t size;
    AddressSpace *as;
    uint64_t src, dst;  /* in `as` */
    bool failed;
} Case;

static void case_run(Case *c, uint64_t n)
{
    const MemAttrs attrs = mem_attrs_device(1);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t done = 0;
        switch (c->op) {
        case OP_READ:
            c->failed |= dma_read(c->as, c->src, W.host, c->size, attrs) != MEM_OK;
            break;
        case OP_WRITE:
            c->failed |= dma_write(c->as, c->dst, W.host, c->size, attrs) != MEM_OK;
            break;
        case OP_MAP_READ:
        case OP_MAP_WRITE:
            while (done < c->size) {
                bool wr = c->op == OP_MAP_WRITE;
                uint64_t len = c->size - done;
                DmaMapping *m;
                uint8_t *p = dma_map(c->as, (wr ? c->dst : c->src) + done, &len, wr, attrs, NULL,
                                     NULL, &m);
                if (!p) {
                    c->failed = true;
                    dma_unmap(m, 0);
                    break;
                }
                if (wr) {
                    memcpy(p, W.host + done, len);
                } else {
                    memcpy(W.host + done, p, len);
                }
                dma_unmap(m, wr ? len : 0);
                done += len;
            }
            break;
        default:
            break;
        }
    }
}

/* The baseline: the same bytes moved by memcpy, in the op's direction. */
static void base_run(Case *c, uint64_t n)
{
    uint8_t *ram = mr_ram_ptr(W.ram);
    bool to_ram = c->op == OP_WRITE || c->op == OP_MAP_WRITE;
    for (uint64_t k = 0; k < n; k++) {
        if (to_ram) {
            memcpy(ram + DST_PA, W.host, c->size);
        } else {
            memcpy(W.host, ram + SRC_PA, c->size);
        }
        /* Keep the copy from being optimised away or merged across iterations. */
        __asm__ volatile("" : : "r"(W.host), "r"(ram) : "memory");
    }
}

/* Run once and compare with what memcpy would have produced. */
static bool case_check(Case *c)
{
    uint8_t *ram = mr_ram_ptr(W.ram);
    bool to_ram = c->op == OP_WRITE || c->op == OP_MAP_WRITE;
    memset(to_ram ? ram + DST_PA : W.host, 0, c->size);
    case_run(c, 1);
    bool ok = !c->failed && !memcmp(ram + (to_ram ? DST_PA : SRC_PA), W.host, c->size);
    /* Restore the host pattern (a read overwrote it). */
    for (uint64_t i = 0; i < MAX_SIZE; i++) {
        W.host[i] = (uint8_t)(i * 13 + 1);
    }
    return ok;
}

typedef struct Result {
    OpId op;
    PathId path;
    uint64_t size;
    double ns;            /* per transfer, median */
    double base_ns;       /* memcpy, median */
    double translations;  /* per transfer (IOMMU paths) */
    double walks;         /* per transfer (IOMMU paths) */
} Result;

static GArray *results;

/* Calibrate n so one run of the case lasts min_sample_ns (the warm-up),
 * then alternate timed samples of the case and of the baseline so that
 * drift hits both alike. */
static void measure(Case *c, Result *r)
{
    uint64_t n = 1;
    for (;;) {
        double t0 = now_ns();
        case_run(c, n);
        base_run(c, n);
        double dt = now_ns() - t0;
        if (dt >= params.min_sample_ns) {
            break;
        }
        double scale = dt > 0 ? params.min_sample_ns * 1.2 / dt : 1000.0;
        n = (uint64_t)((double)n * (scale < 2.0 ? 2.0 : scale > 1000.0 ? 1000.0 : scale));
    }
    double *t = g_new(double, params.samples), *b = g_new(double, params.samples);
    uint64_t tr0 = iommu_ref_translations(W.iommu), w0 = iommu_ref_walks(W.iommu);
    for (unsigned i = 0; i < params.samples; i++) {
        double t0 = now_ns();
        case_run(c, n);
        double t1 = now_ns();
        base_run(c, n);
        double t2 = now_ns();
        t[i] = (t1 - t0) / (double)n;
        b[i] = (t2 - t1) / (double)n;
    }
    double ops = (double)n * params.samples;
    r->translations = (double)(iommu_ref_translations(W.iommu) - tr0) / ops;
    r->walks = (double)(iommu_ref_walks(W.iommu) - w0) / ops;
    r->ns = median(t, params.samples);
    r->base_ns = median(b, params.samples);
    g_free(t);
    g_free(b);
}

static double gbps(uint64_t size, double ns)
{
    return ns > 0 ? (double)size / ns : 0;  /* bytes per ns = GB/s */
}

static void print_table(void)
{
    printf("%-9s %-8s %8s %9s %10s %9s %7s %11s %9s %9s\n", "op", "path", "size", "GB/s",
           "memcpy", "ns/xfer", "ratio", "transl/xfer", "M transl/s", "walks/xfer");
    for (guint i = 0; i < results->len; i++) {
        const Result *r = &g_array_index(results, Result, i);
        char sz[32], tr[32], trs[32], wk[32];
        if (r->size >= (1u << 20)) {
            snprintf(sz, sizeof(sz), "%" PRIu64 " MiB", r->size >> 20);
        } else if (r->size >= 1024) {
            snprintf(sz, sizeof(sz), "%" PRIu64 " KiB", r->size >> 10);
        } else {
            snprintf(sz, sizeof(sz), "%" PRIu64 " B", r->size);
        }
        if (r->path == PATH_DIRECT) {
            snprintf(tr, sizeof(tr), "-");
            snprintf(trs, sizeof(trs), "-");
            snprintf(wk, sizeof(wk), "-");
        } else {
            snprintf(tr, sizeof(tr), "%.4g", r->translations);
            snprintf(trs, sizeof(trs), "%.1f", r->translations / r->ns * 1e3);
            snprintf(wk, sizeof(wk), "%.4g", r->walks);
        }
        printf("%-9s %-8s %8s %9.2f %10.2f %9.1f %7.3f %11s %9s %9s\n", op_names[r->op],
               path_names[r->path], sz, gbps(r->size, r->ns), gbps(r->size, r->base_ns), r->ns,
               r->base_ns / r->ns, tr, trs, wk);
    }
    printf("\nGB/s = 1e9 bytes/s; memcpy = the same size copied by memcpy in the same "
           "direction,\nsamples interleaved; ratio = DMA GB/s / memcpy GB/s. Mode: %s (%u "
           "samples, median reported).\n",
           opt_quick ? "--quick" : "full", params.samples);
}

static void print_json(void)
{
    for (guint i = 0; i < results->len; i++) {
        const Result *r = &g_array_index(results, Result, i);
        printf("{\"bench\":\"dma\",\"case\":\"%s\",\"path\":\"%s\",\"size\":%" PRIu64
               ",\"gbps\":%.6g,\"ns_per_transfer\":%.6g,\"baseline\":\"memcpy\","
               "\"baseline_gbps\":%.6g,\"ratio\":%.6g",
               op_names[r->op], path_names[r->path], r->size, gbps(r->size, r->ns), r->ns,
               gbps(r->size, r->base_ns), r->base_ns / r->ns);
        if (r->path != PATH_DIRECT) {
            printf(",\"translations_per_transfer\":%.6g,\"translations_per_s\":%.6g,"
                   "\"walks_per_transfer\":%.6g",
                   r->translations, r->translations / r->ns * 1e9, r->walks);
        }
        printf(",\"quick\":%s}\n", opt_quick ? "true" : "false");
    }
}

int main(int argc, char **argv)
{
    static const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
          "Print one JSON object per result line instead of a table", NULL },
        { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick,
          "Fewer, shorter samples (a smoke run of a few seconds)", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("- DMA throughput benchmark");
    g_option_context_set_summary(ctx,
        "Measures dma_read/dma_write and dma_map/dma_unmap throughput for 64 B to 1 MiB\n"
        "with no IOMMU, through the reference IOMMU, and through it with its IOTLB off,\n"
        "each against memcpy in the same process. Prints a table, or JSON lines with --json.");
    g_option_context_set_description(ctx, "See docs/performance.md.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "dma-bench: %s\n", err->message);
        g_error_free(err);
        g_option_context_free(ctx);
        return 1;
    }
    g_option_context_free(ctx);
    if (argc > 1) {
        fprintf(stderr, "dma-bench: unexpected argument '%s' (see --help)\n", argv[1]);
        return 1;
    }

    params.samples = opt_quick ? 3 : 7;
    params.min_sample_ns = opt_quick ? 2e6 : 25e6;
    mem_set_report_handler(count_report, NULL);
    results = g_array_new(FALSE, TRUE, sizeof(Result));
    machine_new();

    double t0 = now_ns();
    int status = 0;
    for (unsigned op = 0; op < NUM_OPS; op++) {
        for (unsigned s = 0; s < G_N_ELEMENTS(sizes); s++) {
            for (unsigned p = 0; p < NUM_PATHS; p++) {
                Case c = { .op = op, .path = p, .size = sizes[s] };
                bool via_iommu = p != PATH_DIRECT;
                c.as = via_iommu ? W.dev : W.sys;
                c.src = via_iommu ? SRC_IOVA : SRC_PA;
                c.dst = via_iommu ? DST_IOVA : DST_PA;
                iommu_ref_set_iotlb(W.iommu, p != PATH_NOCACHE);
                if (isatty(STDERR_FILENO)) {
                    fprintf(stderr, "dma-bench: %s %s %" PRIu64 "...\n", op_names[op],
                            path_names[p], sizes[s]);
                }
                if (!case_check(&c)) {
                    fprintf(stderr, "dma-bench: %s %s %" PRIu64 ": wrong result\n",
                            op_names[op], path_names[p], sizes[s]);
                    status = 1;
                    continue;
                }
                Result r = { .op = op, .path = p, .size = sizes[s] };
                measure(&c, &r);
                g_array_append_val(results, r);
            }
        }
    }

    if (opt_json) {
        print_json();
    } else {
        print_table();
        printf("Total run time %.1f s.\n", (now_ns() - t0) / 1e9);
    }
    if (num_reports) {
        fprintf(stderr, "dma-bench: the core reported %u unexpected events\n", num_reports);
    }
    machine_free();
    g_array_free(results, TRUE);
    return status;
}
