/*
 * guest-bench's shared half: options, clocks, calibration, interleaved
 * sampling and the result table, used by each guest architecture's file
 * (guest_bench.c: x86 and main; guest_bench_arm64.c: AArch64). An
 * architecture provides the engines, the loops and their checks; it hands
 * each measured job to gb_calibrate/gb_run_interleaved as a run function
 * (one checked run of n iterations, returning the timed ns) so that both
 * architectures are measured, and reported, the same way.
 */
#ifndef MMUSIM_BENCH_GUEST_BENCH_H
#define MMUSIM_BENCH_GUEST_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

typedef struct BenchParams {
    unsigned samples;       /* timed samples per measurement; the median is reported */
    double min_sample_ns;   /* the slower engine's samples last at least this long */
} BenchParams;

extern BenchParams gb_params;
/* --tlb-fixed N: the CPU's TLB has N entries per MMU index and never
 * resizes (0: the default geometry, which grows under miss pressure). */
extern unsigned gb_tlb_fixed;

double gb_now_ns(void);
/* The clock runs are timed with (thread CPU time, or wall time with --wall). */
double gb_run_clock_ns(void);
void gb_die_on_error(GError *err, const char *what);
/* "guest-bench: <what>..." on a terminal, unless --json. */
void gb_progress(const char *what);
/* Whether --only selects case `name` (true without --only). */
bool gb_is_selected(const char *name);

/* --- Measurement --- */

/* One checked run of n iterations of a job; returns the timed ns. */
typedef double (*GbRunFn)(void *job, uint64_t n);

#define GB_MAX_ITERS 0xffffffffull   /* the x86 loops count in ECX */
#define GB_MAX_SAMPLES 16

typedef struct GbMeas {
    void *job;
    GbRunFn run;
    bool *timed;             /* set while the timed samples run (statistics) */
    uint64_t n;              /* iterations per sample */
    double s[GB_MAX_SAMPLES];  /* ns per iteration of each sample */
    double med;
} GbMeas;

/* Iterations for which a run lasts the sample time (also the warm-up). */
uint64_t gb_calibrate(void *job, GbRunFn run);
/* gb_params.samples samples of each of m[0..k), taking turns; sets med. */
void gb_run_interleaved(GbMeas *m, unsigned k);
/* Median over the samples of a - b (both from one gb_run_interleaved). */
double gb_median_diff(const GbMeas *a, const GbMeas *b);

/* --- Results --- */

typedef enum TargetKind { T_NONE, T_VALUE_GE, T_RATIO_LE } TargetKind;

typedef struct GbResult {
    const char *name;        /* case */
    const char *params;
    char metric[24];
    double value;
    const char *unit;
    bool broken;             /* mmusim failed its checks: no number */
    const char *baseline;    /* NULL: none ran */
    double baseline_value;
    const char *baseline_note;  /* why the baseline is missing */
    bool has_rates;
    double miss_rate, walk_rate;  /* mmusim TLB misses / page walks per iteration */
    TargetKind target_kind;
    double target;
} GbResult;

extern bool gb_any_broken;

GbResult *gb_add_result(const char *name, const char *params, const char *metric,
                        double value, const char *unit);

/* The baseline engine, as the report describes it. */
typedef struct GbBaseline {
    const char *name;
    bool available;
    const char *note;        /* why it is not available */
} GbBaseline;

/* The table (or JSON lines with --json) of every result so far. `legend`
 * explains the columns for this architecture (printed under the table). */
void gb_print_report(const char *arch, const char *legend, const GbBaseline *uc,
                     double total_s);

#ifdef HAVE_UNICORN
#include <unicorn/unicorn.h>
/* Open Unicorn for `arch`/`mode` with [0, ram_size) mapped RWX; writes its
 * "unicorn-X.Y.Z" name into name[len]. NULL (with *note saying why, also
 * printed) when it cannot: the benchmark then reports mmusim alone. */
uc_engine *gb_uc_open(uc_arch arch, uc_mode mode, uint64_t ram_size, char *name, size_t len,
                      const char **note);
#endif

/* --- Architectures --- */

#ifdef HAVE_ARM64
/* `--arch arm64`: runs the selected AArch64 cases and reports; the exit
 * status (1 if mmusim failed a check). */
int gb_arm64_main(void);
/* The AArch64 case names, for --only's check. */
extern const char *const gb_arm64_cases[];
#endif

#endif
