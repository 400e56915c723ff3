/*
 * guest-bench: the guest loops of shared/reference/peers.md run on mmusim's
 * x86 CPU (the whole interpreter: decode cache, jump cache, TLB, page walk,
 * MMIO dispatch) and, when Unicorn is installed, on Unicorn in the same
 * process, the two taking turns sample by sample (docs/performance.md).
 *
 *   build/bench/guest-bench               a table (about 20 s)
 *   build/bench/guest-bench --json        one JSON object per line
 *   build/bench/guest-bench --quick       fewer/shorter samples (smoke run, about 1 s)
 *   build/bench/guest-bench --only pg-miss-16384   some cases only (for perf record)
 *   build/bench/guest-bench --arch arm64  the guest architecture: x86 (the default) or arm64
 *                                         (the AArch64 loops: guest_bench_arm64.c)
 *   build/bench/guest-bench --wall        time with the wall clock, not the thread's CPU time
 *
 * Method: the machine is built once per engine. A run sets the registers
 * (EIP at the loop, ECX = iteration count, ESI/EDI/EBX), runs to the hlt
 * and reads the registers back; that is what is timed, nothing subtracted.
 * Per case: a few checked trial runs, then each engine is calibrated (the
 * count grows until a run lasts the sample time, confirmed by a second run)
 * and both use the smaller count, so the slower engine's samples last the
 * sample time; then 15 samples (5 with --quick) of each engine, taking
 * turns; the median ns per iteration is reported. Runs are timed with
 * CLOCK_THREAD_CPUTIME_ID (see gb_run_clock_ns).
 *
 * The machine (both engines, the same guest-physical layout):
 *   0x00010000  the loops, one per 4 KiB page (loop k at 0x10000 + k * 0x1000)
 *   0x00100000  page directory (32-bit paging), then 32 page tables: 4 KiB
 *               PTEs identity-mapping the first 128 MiB, P|RW|US, A/D clear
 *   0x00800000  the word the same-page store loop writes
 *   0x04000000  64 MiB of data: 16,384 pages, the first word of page i holds
 *               0x5a5a0000 ^ i (loads are checked against it)
 *   0x08000000  end of RAM (128 MiB)
 *   0xfe000000  a 4 KiB MMIO device: reads return 0x12345678, writes are kept
 * mmusim: one X86Cpu in flat 32-bit protected mode (CS/DS/ES/SS base 0,
 * limit 4 GiB, CPL 0, no IDT: any exception ends the run as a triple fault,
 * which the checks report). Unicorn: UC_MODE_32, uc_mem_map of the same
 * 128 MiB, uc_mmio_map of the device.
 *
 * The loops (x86-32 bytes; every loop ends with hlt, f4: mmusim runs it to
 * X86_EXIT_HALTED, Unicorn stops there with uc_emu_start's `until`):
 *   alu            40 49 75 fc                     inc eax; dec ecx; jnz
 *   load           8b 06 49 75 fb                  mov eax,[esi]; dec ecx; jnz
 *   store          89 06 49 75 fb                  mov [esi],eax; dec ecx; jnz
 *   stride-64,     8b 04 1e 81 c3 00 10 00 00 81 e3 <MASK> 49 75 ee
 *   stride-16384                     mov eax,[esi+ebx]; add ebx,0x1000; and ebx,MASK;
 *                                    dec ecx; jnz  (MASK 0x0003f000 / 0x03fff000)
 *   mmio-load/-store  the load/store loops with esi at the device
 * and with CR0.PG|PE and CR3 at the identity map (4 KiB PTEs):
 *   pg-hot-16,     01 0c 3e 81 c7 00 10 00 00 81 e7 <MASK> 49 75 ee
 *   pg-miss-16384                    add [esi+edi],ecx; add edi,0x1000; and edi,MASK;
 *                                    dec ecx; jnz  (MASK 0x0000f000 / 0x03fff000)
 *   pg-flush       01 0c 3e 81 c7 00 10 00 00 81 e7 00 f0 00 00 75 06 0f 20 d8 0f 22 d8
 *                  49 75 e6        the 16-page loop, with mov eax,cr3; mov cr3,eax
 *                                  each time edi wraps to 0 (every 16 touches)
 * and c-mix, real compiler output: bench/cprog/cmix.c (CRC32, quicksort,
 * FNV-1a, a sieve, a bytecode interpreter) compiled by gcc -O2 -m32 into a
 * flat image at 0x200000 (stack below 0x300000, work buffer at 0x400000,
 * paging off), against Unicorn and against the same source compiled into
 * this program (native), each run checked against the native checksum.
 *
 * Every run is checked, so that a broken CPU cannot produce a fast number:
 * ECX = 0 and the CPU stopped at the hlt (mmusim: X86_EXIT_HALTED with
 * exactly the instruction count the loop implies); EAX = count (alu), the
 * page mark (loads), the device constant (MMIO loads); the stored word
 * (store), the device's write count and last value (MMIO stores); EBX/EDI
 * = the final stride offset; the sum of the touched words grew by
 * count * (count + 1) / 2 (paging loops, checked at the end of each case);
 * EAX = CR3 after the flush loop. A failed mmusim check makes the row
 * "BROKEN" and the exit status 1; a Unicorn that cannot run a loop gives
 * "n/a" for that baseline.
 *
 * Targets (informative; the exit status does not depend on them):
 *   alu: >= 200 M guest instructions/s; stride over 16,384 pages: mmusim's
 *   ns per iteration <= 1/3 of Unicorn's (paging off, and the paging-on
 *   loop too); same-page store: <= 1/5 of Unicorn's.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "targets/x86/x86_cpu.h"
#include "tlb/tlb.h"

#include "guest_bench.h"
#include "cmix.h"   /* bench/cprog: c-mix's workload, also run natively */

#ifdef HAVE_UNICORN
#include <unicorn/unicorn.h>
#endif

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */

static gboolean opt_json;
static gboolean opt_quick;
static gchar *opt_only;
static gchar *opt_jit;
static X86JitMode opt_jit_mode = X86_JIT_ON;
static gint opt_tlb_fixed;
unsigned gb_tlb_fixed;
static gchar *opt_arch;

BenchParams gb_params;

#define PAGE_SIZE      0x1000u

/* Guest-physical layout (both engines). */
#define RAM_SIZE       0x08000000u   /* 128 MiB */
#define CODE_BASE      0x00010000u   /* loop k at CODE_BASE + k * PAGE_SIZE */
#define PT_BASE        0x00100000u   /* page directory, then the page tables */
#define PT_TABLES      (RAM_SIZE >> 22)  /* 32 page tables of 1024 PTEs: 128 MiB */
#define STORE_ADDR     0x00800000u   /* the same-page store's word */
#define DATA_BASE      0x04000000u   /* 16,384 marked data pages */
#define DATA_PAGES     16384u
#define DEV_BASE       0xfe000000u
#define DEV_SIZE       0x1000u
#define DEV_CONST      0x12345678u

#define PTE_FLAGS      ((uint32_t)(X86_PTE_P | X86_PTE_RW | X86_PTE_US))

/* Targets stated by the issue (informative). */
#define TARGET_ALU_MIPS        200.0
#define TARGET_STRIDE_RATIO    (1.0 / 3.0)
#define TARGET_STORE_RATIO     (1.0 / 5.0)

static uint32_t page_mark(uint32_t data_page)
{
    return data_page ^ 0x5a5a0000u;
}

/* ------------------------------------------------------------------------ */
/* The loops                                                                 */

typedef enum LoopKind {
    K_ALU, K_LOAD, K_STORE, K_STRIDE, K_MMIO_LOAD, K_MMIO_STORE, K_ADD, K_FLUSH,
} LoopKind;

typedef struct GuestLoop {
    const char *name;        /* the case */
    const char *params;      /* for the table */
    const char *metric;      /* what one iteration is called: ns_per_<metric> */
    LoopKind kind;
    bool paging;             /* run with CR0.PG and CR3 at the identity map */
    uint8_t code[32];        /* ending with hlt */
    unsigned len;
    unsigned insns;          /* instructions per iteration (the flush loop: + 2 per 16) */
    uint32_t esi;
    uint32_t mask;           /* stride/add loops: the MASK immediate */
    /* Targets: ratio mmusim/Unicorn of ns per iteration, M instructions/s. */
    double ratio_target;     /* 0: none */
    double mips_target;      /* 0: none */
} GuestLoop;

#define LE32(m) (uint8_t)((m) & 0xff), (uint8_t)(((m) >> 8) & 0xff), \
                (uint8_t)(((m) >> 16) & 0xff), (uint8_t)(((m) >> 24) & 0xff)
#define STRIDE_LOOP(m) { 0x8b, 0x04, 0x1e, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00, 0x81, 0xe3, \
                         LE32(m), 0x49, 0x75, 0xee, 0xf4 }
#define ADD_LOOP(m)    { 0x01, 0x0c, 0x3e, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, 0x81, 0xe7, \
                         LE32(m), 0x49, 0x75, 0xee, 0xf4 }

static const GuestLoop loops[] = {
    { "alu", "paging off, 40 49 75 fc", "iter", K_ALU, false,
      { 0x40, 0x49, 0x75, 0xfc, 0xf4 }, 5, 3, 0, 0, 0, TARGET_ALU_MIPS },
    { "load", "paging off, same page", "iter", K_LOAD, false,
      { 0x8b, 0x06, 0x49, 0x75, 0xfb, 0xf4 }, 6, 3, DATA_BASE, 0, 0, 0 },
    { "store", "paging off, same page", "iter", K_STORE, false,
      { 0x89, 0x06, 0x49, 0x75, 0xfb, 0xf4 }, 6, 3, STORE_ADDR, 0, TARGET_STORE_RATIO, 0 },
    { "stride-64", "paging off, load, 64 pages", "iter", K_STRIDE, false,
      STRIDE_LOOP(0x0003f000u), 19, 5, DATA_BASE, 0x0003f000u, 0, 0 },
    { "stride-16384", "paging off, load, 16384 pages", "iter", K_STRIDE, false,
      STRIDE_LOOP(0x03fff000u), 19, 5, DATA_BASE, 0x03fff000u, TARGET_STRIDE_RATIO, 0 },
    { "mmio-load", "paging off, device callback", "iter", K_MMIO_LOAD, false,
      { 0x8b, 0x06, 0x49, 0x75, 0xfb, 0xf4 }, 6, 3, DEV_BASE, 0, 0, 0 },
    { "mmio-store", "paging off, device callback", "iter", K_MMIO_STORE, false,
      { 0x89, 0x06, 0x49, 0x75, 0xfb, 0xf4 }, 6, 3, DEV_BASE, 0, 0, 0 },
    { "pg-hot-16", "4K PTEs, add [m], 16 pages", "touch", K_ADD, true,
      ADD_LOOP(0x0000f000u), 19, 5, DATA_BASE, 0x0000f000u, 0, 0 },
    { "pg-flush", "4K PTEs, 16 pages, CR3 / 16", "iter", K_FLUSH, true,
      { 0x01, 0x0c, 0x3e, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, 0x81, 0xe7, LE32(0x0000f000u),
        0x75, 0x06, 0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x49, 0x75, 0xe6, 0xf4 },
      27, 6, DATA_BASE, 0x0000f000u, 0, 0 },
    { "pg-miss-16384", "4K PTEs, add [m], 16384 pages", "miss", K_ADD, true,
      ADD_LOOP(0x03fff000u), 19, 5, DATA_BASE, 0x03fff000u, TARGET_STRIDE_RATIO, 0 },
};
#define NUM_LOOPS G_N_ELEMENTS(loops)

/* Measured together (interleaved): the flush loop with the hot loop it is
 * compared to. Indexes into loops[]. */
static const int groups[][2] = {
    { 0, -1 }, { 1, -1 }, { 2, -1 }, { 3, -1 }, { 4, -1 }, { 5, -1 }, { 6, -1 }, { 7, 8 },
    { 9, -1 },
};

static uint32_t loop_addr(const GuestLoop *l)
{
    return CODE_BASE + (uint32_t)(l - loops) * PAGE_SIZE;
}

/* Instructions one run of n iterations retires, hlt included. */
static uint64_t loop_insns(const GuestLoop *l, uint64_t n)
{
    return l->insns * n + (l->kind == K_FLUSH ? 2 * (n / 16) : 0) + 1;
}

/* Average instructions per iteration (for M instructions/s). */
static double loop_insns_per_iter(const GuestLoop *l)
{
    return l->insns + (l->kind == K_FLUSH ? 2.0 / 16.0 : 0.0);
}

/* ------------------------------------------------------------------------ */
/* Utilities                                                                 */

double gb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * The clock runs are timed with: by default the calling thread's CPU time.
 * Both engines run the guest in this thread, and on a shared 2-core machine
 * a long sample is often preempted while a short one slips between other
 * processes' time slices: wall time would charge the waiting to whichever
 * engine's samples are longer (the slower one's, at equal iteration
 * counts). --wall times with CLOCK_MONOTONIC instead.
 */
static gboolean opt_wall;

double gb_run_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(opt_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
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

void gb_die_on_error(GError *err, const char *what)
{
    if (err) {
        fprintf(stderr, "guest-bench: %s: %s\n", what, err->message);
        exit(1);
    }
}

void gb_progress(const char *what)
{
    if (!opt_json && isatty(STDERR_FILENO)) {
        fprintf(stderr, "guest-bench: %s...\n", what);
    }
}

static unsigned num_reports;

static void count_report(const char *message, void *opaque)
{
    (void)opaque;
    if (num_reports++ < 5) {
        fprintf(stderr, "guest-bench: core report: %s\n", message);
    }
}

/* ------------------------------------------------------------------------ */
/* Engines                                                                   */

typedef struct Regs {
    uint32_t eax, ebx, ecx, esi, edi;
} Regs;

typedef struct Engine Engine;
struct Engine {
    const char *name;
    bool available;
    const char *note;        /* why not available */
    /* Run loop l for n iterations from `in` (ECX = n); false: it did not
     * end at the hlt (the reason is printed once per loop by the caller). */
    bool (*run)(Engine *e, const GuestLoop *l, const Regs *in, uint64_t n, Regs *out,
                char *why, size_t why_len);
    uint32_t (*read32)(Engine *e, uint32_t pa);
    void (*write32)(Engine *e, uint32_t pa, uint32_t v);
    bool (*set_paging)(Engine *e, bool on);
    bool paging;
    /* The device, as this engine's callbacks see it. */
    uint64_t dev_reads, dev_writes;
    uint32_t dev_last;
    /* Paging loops: what the first word of each data page must hold. */
    uint32_t *shadow;
};

/* The device's behaviour, shared by both engines' callbacks. */
static uint32_t device_read(Engine *e)
{
    e->dev_reads++;
    return DEV_CONST;
}

static void device_write(Engine *e, uint32_t v)
{
    e->dev_writes++;
    e->dev_last = v;
}

/* --- mmusim --- */

typedef struct MmMachine {
    MemRegion *global, *ram, *io_root;
    CpuView *view;
    AddressSpace *io_as;
    CodeCache *cc;
    X86Cpu *cpu;
    uint8_t *mem;
} MmMachine;

static MmMachine mm;
static Engine eng_mm;

static MemResult mm_dev_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                             MemAttrs attrs)
{
    (void)offset;
    (void)size;
    (void)attrs;
    *value = device_read(opaque);
    return MEM_OK;
}

static MemResult mm_dev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                              MemAttrs attrs)
{
    (void)offset;
    (void)size;
    (void)attrs;
    device_write(opaque, (uint32_t)value);
    return MEM_OK;
}

static const MemRegionOps mm_dev_ops = {
    .read = mm_dev_read,
    .write = mm_dev_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

static MemResult mm_port_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                              MemAttrs attrs)
{
    (void)opaque;
    (void)offset;
    (void)size;
    (void)attrs;
    *value = 0xff;
    return MEM_OK;
}

static MemResult mm_port_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                               MemAttrs attrs)
{
    (void)opaque;
    (void)offset;
    (void)value;
    (void)size;
    (void)attrs;
    return MEM_OK;
}

/* A port the machine has for completeness; no loop uses port I/O. */
static const MemRegionOps mm_port_ops = {
    .read = mm_port_read,
    .write = mm_port_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

static const X86MachineOps mm_mops = { .pending_irq = NULL };  /* nothing pending, ever */

static uint32_t mm_read32(Engine *e, uint32_t pa)
{
    (void)e;
    uint32_t v;
    memcpy(&v, mm.mem + pa, 4);
    return GUINT32_FROM_LE(v);
}

/* Written as a device would: code caches are told. */
static void mm_write(uint32_t pa, const void *p, size_t len)
{
    g_assert((uint64_t)pa + len <= RAM_SIZE);
    mr_note_write(mm.ram, pa, len);
    memcpy(mm.mem + pa, p, len);
}

static void mm_write32(Engine *e, uint32_t pa, uint32_t v)
{
    (void)e;
    v = GUINT32_TO_LE(v);
    mm_write(pa, &v, 4);
}

static X86Seg flat_seg(uint16_t sel, uint32_t attr)
{
    return (X86Seg){ sel, 0, 0xffffffffu, attr };
}

/* Flat 32-bit protected mode at CPL 0, interrupts off, no IDT. */
static void mm_setup_cpu(void)
{
    X86Cpu *cpu = mm.cpu;
    x86_cpu_reset(cpu);
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
    cpu->cr3 = 0;
    cpu->cr4 = 0;
    cpu->segs[S_CS] = flat_seg(0x08, 0xc09b);  /* code32, DPL 0, G, D */
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = flat_seg(0x10, 0xc093);  /* data32, DPL 0 */
        }
    }
    cpu->gdtr = (X86Table){ 0, 0 };
    cpu->idtr = (X86Table){ 0, 0 };
    cpu->cpl = 0;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = CODE_BASE;
    x86_paging_changed(cpu, false);
}

static bool mm_set_paging(Engine *e, bool on)
{
    X86Cpu *cpu = mm.cpu;
    if (on) {
        cpu->cr3 = PT_BASE;
        cpu->cr0 |= X86_CR0_PG;
    } else {
        cpu->cr0 &= ~X86_CR0_PG;
    }
    x86_paging_changed(cpu, false);
    e->paging = on;
    return true;
}

static bool mm_run(Engine *e, const GuestLoop *l, const Regs *in, uint64_t n, Regs *out,
                   char *why, size_t why_len)
{
    (void)e;
    X86Cpu *cpu = mm.cpu;
    cpu->regs[R_AX] = in->eax;
    cpu->regs[R_BX] = in->ebx;
    cpu->regs[R_CX] = (uint32_t)n;
    cpu->regs[R_SI] = in->esi;
    cpu->regs[R_DI] = in->edi;
    cpu->rip = loop_addr(l);
    cpu->halted = false;
    uint64_t want = loop_insns(l, n), ic0 = cpu->icount;
    X86Exit x = x86_cpu_run(cpu, want + 64);
    out->eax = (uint32_t)cpu->regs[R_AX];
    out->ebx = (uint32_t)cpu->regs[R_BX];
    out->ecx = (uint32_t)cpu->regs[R_CX];
    out->esi = (uint32_t)cpu->regs[R_SI];
    out->edi = (uint32_t)cpu->regs[R_DI];
    uint64_t got = cpu->icount - ic0;
    if (x != X86_EXIT_HALTED || got != want || cpu->rip != loop_addr(l) + l->len) {
        snprintf(why, why_len, "exit %d at eip 0x%" PRIx64 " after %" PRIu64 " instructions "
                 "(expected hlt at 0x%x after %" PRIu64 ")", (int)x, cpu->rip, got,
                 loop_addr(l) + l->len - 1, want);
        return false;
    }
    return true;
}

static void mm_init(void)
{
    GError *err = NULL;
    mem_transaction_begin();
    mm.global = mr_new_container("global", MEM_SIZE_FULL, &err);
    gb_die_on_error(err, "container");
    mm.ram = mr_new_ram("ram", RAM_SIZE, &err);
    gb_die_on_error(err, "ram");
    mr_add_subregion(mm.global, 0, mm.ram, &err);
    gb_die_on_error(err, "add ram");
    MemRegion *dev = mr_new_mmio("dev", DEV_SIZE, &mm_dev_ops, &eng_mm, &err);
    gb_die_on_error(err, "dev");
    mr_add_subregion(mm.global, DEV_BASE, dev, &err);
    gb_die_on_error(err, "add dev");
    mr_unref(dev);
    mem_transaction_commit();
    mm.mem = mr_ram_ptr(mm.ram);
    memset(mm.mem, 0, RAM_SIZE);  /* fault the RAM in now (it is allocated lazily) */

    CpuViewConfig cfg = { .cpu_index = 0, .global_map = mm.global };
    mm.view = cpu_view_new(&cfg, &err);
    gb_die_on_error(err, "cpu_view_new");
    mm.io_root = mr_new_container("io", 0x10000, &err);
    gb_die_on_error(err, "io container");
    MemRegion *port = mr_new_mmio("port80", 1, &mm_port_ops, NULL, &err);
    gb_die_on_error(err, "port");
    mr_add_subregion(mm.io_root, 0x80, port, &err);
    gb_die_on_error(err, "add port");
    mr_unref(port);
    mm.io_as = as_new("io", mm.io_root, &err);
    gb_die_on_error(err, "io address space");
    mm.cc = code_cache_new();
    mm.cpu = x86_cpu_new(0, mm.view, mm.io_as, mm.cc, &mm_mops, &mm, &err);
    gb_die_on_error(err, "x86_cpu_new");
    if (gb_tlb_fixed) {
        tlb_set_geometry(mm.cpu->tlb, gb_tlb_fixed, 8, false, &err);
        gb_die_on_error(err, "--tlb-fixed");
    }
    x86_cpu_set_jit(mm.cpu, opt_jit_mode);
    mm_setup_cpu();

    eng_mm = (Engine){
        .name = "mmusim", .available = true, .run = mm_run, .read32 = mm_read32,
        .write32 = mm_write32, .set_paging = mm_set_paging,
    };
}

static void mm_free(void)
{
    x86_cpu_free(mm.cpu);
    code_cache_free(mm.cc);
    as_free(mm.io_as);
    mr_unref(mm.io_root);
    cpu_view_free(mm.view);
    mr_unref(mm.ram);
    mr_unref(mm.global);
}

/* --- Unicorn --- */

static Engine eng_uc;

#ifdef HAVE_UNICORN
static uc_engine *uc;
static char uc_name[32] = "unicorn";

static uint64_t uc_dev_read(uc_engine *u, uint64_t offset, unsigned size, void *user_data)
{
    (void)u;
    (void)offset;
    (void)size;
    return device_read(user_data);
}

static void uc_dev_write(uc_engine *u, uint64_t offset, unsigned size, uint64_t value,
                         void *user_data)
{
    (void)u;
    (void)offset;
    (void)size;
    device_write(user_data, (uint32_t)value);
}

static uint32_t uc_read32(Engine *e, uint32_t pa)
{
    (void)e;
    uint32_t v = 0;
    if (uc_mem_read(uc, pa, &v, 4) != UC_ERR_OK) {
        return 0xdeadbeefu;
    }
    return GUINT32_FROM_LE(v);
}

static void uc_write(uint32_t pa, const void *p, size_t len)
{
    uc_err err = uc_mem_write(uc, pa, p, len);
    if (err != UC_ERR_OK) {
        fprintf(stderr, "guest-bench: unicorn: uc_mem_write at 0x%x: %s\n", pa,
                uc_strerror(err));
        exit(1);
    }
}

static void uc_write32(Engine *e, uint32_t pa, uint32_t v)
{
    (void)e;
    v = GUINT32_TO_LE(v);
    uc_write(pa, &v, 4);
}

static bool uc_set_paging(Engine *e, bool on)
{
    uint32_t cr0 = 0, cr3 = PT_BASE;
    if (uc_reg_read(uc, UC_X86_REG_CR0, &cr0) != UC_ERR_OK) {
        return false;
    }
    cr0 |= X86_CR0_PE;
    cr0 = on ? (cr0 | (uint32_t)X86_CR0_PG) : (cr0 & ~(uint32_t)X86_CR0_PG);
    if ((on && uc_reg_write(uc, UC_X86_REG_CR3, &cr3) != UC_ERR_OK) ||
        uc_reg_write(uc, UC_X86_REG_CR0, &cr0) != UC_ERR_OK) {
        return false;
    }
    uint32_t back = 0;
    uc_reg_read(uc, UC_X86_REG_CR0, &back);
    e->paging = on;
    return back == cr0;
}

static bool uc_run_loop(Engine *e, const GuestLoop *l, const Regs *in, uint64_t n, Regs *out,
                        char *why, size_t why_len)
{
    (void)e;
    uint32_t ecx = (uint32_t)n, eip = 0;
    uc_reg_write(uc, UC_X86_REG_EAX, &in->eax);
    uc_reg_write(uc, UC_X86_REG_EBX, &in->ebx);
    uc_reg_write(uc, UC_X86_REG_ECX, &ecx);
    uc_reg_write(uc, UC_X86_REG_ESI, &in->esi);
    uc_reg_write(uc, UC_X86_REG_EDI, &in->edi);
    uint32_t begin = loop_addr(l), end = begin + l->len - 1;  /* stop at the hlt */
    /* A timeout only for short runs (the checks): a loop Unicorn mis-runs
     * must not hang the benchmark. Timed runs have none (it costs a thread). */
    uc_err err = uc_emu_start(uc, begin, end, n <= 64 ? 2000000 : 0, 0);
    uc_reg_read(uc, UC_X86_REG_EAX, &out->eax);
    uc_reg_read(uc, UC_X86_REG_EBX, &out->ebx);
    uc_reg_read(uc, UC_X86_REG_ECX, &out->ecx);
    uc_reg_read(uc, UC_X86_REG_ESI, &out->esi);
    uc_reg_read(uc, UC_X86_REG_EDI, &out->edi);
    uc_reg_read(uc, UC_X86_REG_EIP, &eip);
    if (err != UC_ERR_OK || eip != end) {
        snprintf(why, why_len, "uc_emu_start: %s, eip 0x%x (expected 0x%x)",
                 err != UC_ERR_OK ? uc_strerror(err) : "ok", eip, end);
        return false;
    }
    return true;
}

static void uc_init(void)
{
    eng_uc = (Engine){
        .name = uc_name, .run = uc_run_loop, .read32 = uc_read32, .write32 = uc_write32,
        .set_paging = uc_set_paging,
    };
    uc = gb_uc_open(UC_ARCH_X86, UC_MODE_32, RAM_SIZE, uc_name, sizeof(uc_name), &eng_uc.note);
    if (!uc) {
        return;
    }
    eng_uc.available = true;
}

static bool uc_has_mmio(void)
{
#if UC_API_MAJOR >= 2  /* uc_mmio_map appeared in Unicorn 2 */
    static int state = -1;
    if (state < 0) {
        state = uc_mmio_map(uc, DEV_BASE, DEV_SIZE, uc_dev_read, &eng_uc, uc_dev_write,
                            &eng_uc) == UC_ERR_OK;
    }
    return state;
#else
    return false;
#endif
}

static void uc_teardown(void)
{
    if (uc) {
        uc_close(uc);
    }
}
#endif

/* ------------------------------------------------------------------------ */
/* Guest memory contents                                                     */

static void write_bytes(Engine *e, uint32_t pa, const void *p, size_t len)
{
    if (e == &eng_mm) {
        mm_write(pa, p, len);
        return;
    }
#ifdef HAVE_UNICORN
    uc_write(pa, p, len);
#endif
}

/* The loops, the page tables and the page marks. */
static void load_memory(Engine *e)
{
    for (guint k = 0; k < NUM_LOOPS; k++) {
        write_bytes(e, loop_addr(&loops[k]), loops[k].code, loops[k].len);
    }
    /* 32-bit paging (SDM 4.3): a page directory whose first 32 PDEs point to
     * page tables of 4 KiB PTEs mapping the first 128 MiB to themselves. */
    size_t pt_bytes = (PT_TABLES + 1) * PAGE_SIZE;
    uint32_t *pt = g_malloc0(pt_bytes);
    for (uint32_t i = 0; i < PT_TABLES; i++) {
        pt[i] = GUINT32_TO_LE((PT_BASE + (i + 1) * PAGE_SIZE) | PTE_FLAGS);
        for (uint32_t j = 0; j < 1024; j++) {
            uint32_t page = i * 1024 + j;
            pt[1024 * (i + 1) + j] = GUINT32_TO_LE((page * PAGE_SIZE) | PTE_FLAGS);
        }
    }
    write_bytes(e, PT_BASE, pt, pt_bytes);
    g_free(pt);
    e->shadow = g_new(uint32_t, DATA_PAGES);
    for (uint32_t p = 0; p < DATA_PAGES; p++) {
        e->write32(e, DATA_BASE + p * PAGE_SIZE, page_mark(p));
        e->shadow[p] = page_mark(p);
    }
}

/* An add loop of n iterations over `pages` pages (edi from 0): iteration i
 * adds ecx = n - i to page i % pages. */
static void shadow_add(Engine *e, uint64_t n, uint32_t pages)
{
    for (uint64_t p = 0; p < pages && p < n; p++) {
        uint64_t c = (n - p + pages - 1) / pages;  /* iterations touching page p */
        /* sum over k < c of (n - p - k * pages) */
        uint64_t add = c * (n - p) - (uint64_t)pages * (c * (c - 1) / 2);
        e->shadow[p] += (uint32_t)add;
    }
}

/* ------------------------------------------------------------------------ */
/* Runs and their checks                                                     */

typedef struct Job {
    Engine *e;
    const GuestLoop *l;
    unsigned runs;
    unsigned errors;
    bool timed;              /* the timed samples: TLB statistics are collected */
    TlbStats stats;          /* mmusim: over the timed samples */
    uint64_t timed_iters;
    uint64_t timed_flushes;  /* CR3 reloads the timed runs made */
} Job;

/* Checks a finished run of n iterations; false (with why) if it is wrong. */
static bool check_run(Job *j, uint64_t n, const Regs *in, const Regs *out, uint64_t reads0,
                      uint64_t writes0, char *why, size_t why_len)
{
    const GuestLoop *l = j->l;
    Engine *e = j->e;
    uint32_t n32 = (uint32_t)n;
    if (out->ecx != 0) {
        snprintf(why, why_len, "ECX is 0x%x, not 0", out->ecx);
        return false;
    }
    switch (l->kind) {
    case K_ALU:
        if (out->eax != in->eax + n32) {
            snprintf(why, why_len, "EAX is 0x%x, expected 0x%x", out->eax, in->eax + n32);
            return false;
        }
        return true;
    case K_LOAD: {
        uint32_t want = page_mark(0);
        if (out->eax != want) {
            snprintf(why, why_len, "EAX is 0x%x, expected the mark 0x%x", out->eax, want);
            return false;
        }
        return true;
    }
    case K_STORE: {
        uint32_t got = e->read32(e, STORE_ADDR);
        if (got != in->eax) {
            snprintf(why, why_len, "the stored word is 0x%x, expected 0x%x", got, in->eax);
            return false;
        }
        return true;
    }
    case K_STRIDE: {
        uint32_t ebx = (n32 * PAGE_SIZE) & l->mask;
        uint32_t last = ((n32 - 1) * PAGE_SIZE) & l->mask;
        uint32_t want = page_mark(last / PAGE_SIZE);
        if (out->ebx != ebx || out->eax != want) {
            snprintf(why, why_len, "EBX 0x%x EAX 0x%x, expected 0x%x and the mark 0x%x",
                     out->ebx, out->eax, ebx, want);
            return false;
        }
        return true;
    }
    case K_MMIO_LOAD:
        if (out->eax != DEV_CONST || e->dev_reads - reads0 != n) {
            snprintf(why, why_len, "EAX 0x%x after %" PRIu64 " device reads, expected 0x%x "
                     "after %" PRIu64, out->eax, e->dev_reads - reads0, DEV_CONST, n);
            return false;
        }
        return true;
    case K_MMIO_STORE:
        if (e->dev_writes - writes0 != n || e->dev_last != in->eax) {
            snprintf(why, why_len, "%" PRIu64 " device writes, last 0x%x; expected %" PRIu64
                     " and 0x%x", e->dev_writes - writes0, e->dev_last, n, in->eax);
            return false;
        }
        return true;
    case K_ADD:
    case K_FLUSH: {
        uint32_t edi = (n32 * PAGE_SIZE) & l->mask;
        if (out->edi != edi) {
            snprintf(why, why_len, "EDI is 0x%x, expected 0x%x", out->edi, edi);
            return false;
        }
        if (l->kind == K_FLUSH && n >= 16 && out->eax != PT_BASE) {
            snprintf(why, why_len, "EAX is 0x%x, expected CR3 = 0x%x", out->eax, PT_BASE);
            return false;
        }
        /* ecx = n, n - 1, ..., 1 were added to the data words (checked at
         * the end of the case: check_pages). */
        shadow_add(e, n, l->mask / PAGE_SIZE + 1);
        return true;
    }
    }
    return false;
}

static void job_error(Job *j, const char *why)
{
    if (j->errors++ < 3) {
        fprintf(stderr, "guest-bench: %s on %s: %s\n", j->l->name, j->e->name, why);
    }
}

/* One run of n iterations, checked; returns how long the engine ran (ns):
 * register setup, the run and reading the registers back, not the checks. */
static double job_run(Job *j, uint64_t n)
{
    Engine *e = j->e;
    const GuestLoop *l = j->l;
    char why[200];
    if (e->paging != l->paging && !e->set_paging(e, l->paging)) {
        snprintf(why, sizeof(why), "cannot %s paging", l->paging ? "enable" : "disable");
        job_error(j, why);
        return 0;
    }
    /* A token per run: what the store loops must leave behind. */
    uint32_t token = 0x7e570000u + j->runs++;
    Regs in = { .esi = l->esi }, out;
    if (l->kind == K_STORE || l->kind == K_MMIO_STORE) {
        in.eax = token;
    }
    if (l->kind == K_STORE) {
        e->write32(e, STORE_ADDR, ~token);
    }
    uint64_t reads0 = e->dev_reads, writes0 = e->dev_writes;
    TlbStats s0 = { 0 };
    if (j->timed && e == &eng_mm) {
        tlb_get_stats(mm.cpu->tlb, X86_MMU_KERNEL_NOSMAP, &s0);
    }
    double t0 = gb_run_clock_ns();
    bool ok = e->run(e, l, &in, n, &out, why, sizeof(why));
    double dt = gb_run_clock_ns() - t0;
    if (j->timed && e == &eng_mm) {
        TlbStats s1;
        tlb_get_stats(mm.cpu->tlb, X86_MMU_KERNEL_NOSMAP, &s1);
        j->stats.hits += s1.hits - s0.hits;
        j->stats.misses += s1.misses - s0.misses;
        j->stats.fills += s1.fills - s0.fills;
        j->stats.flush_all += s1.flush_all - s0.flush_all;
        j->timed_iters += n;
        j->timed_flushes += l->kind == K_FLUSH ? n / 16 : 0;
    }
    if (!ok || !check_run(j, n, &in, &out, reads0, writes0, why, sizeof(why))) {
        job_error(j, why);
    }
    return dt;
}

/* job_run as the shared measurement code calls it. */
static double job_run_fn(void *job, uint64_t n)
{
    return job_run(job, n);
}

/* ------------------------------------------------------------------------ */
/* Measurement                                                               */

/* Run the job for growing n (from n0) until a call lasts min_sample_ns,
 * and a second call at that n confirms it (a first call that was
 * descheduled or did one-time work must not fix a tiny n). This is also
 * the warm-up. */
static uint64_t calibrate_from(void *job, GbRunFn run, uint64_t n0)
{
    uint64_t n = n0;
    for (;;) {
        double dt = run(job, n);
        if (dt >= gb_params.min_sample_ns || n >= GB_MAX_ITERS) {
            double dt2 = run(job, n);
            if (dt2 >= gb_params.min_sample_ns * 0.5 || n >= GB_MAX_ITERS) {
                return n;
            }
            dt = dt2;
        }
        double scale = dt > 0 ? gb_params.min_sample_ns * 1.2 / dt : 1000.0;
        if (scale < 1.5) {
            scale = 1.5;
        } else if (scale > 1000.0) {
            scale = 1000.0;
        }
        uint64_t grown = (uint64_t)((double)n * scale);
        n = grown > n ? grown : n + 1;  /* small n (c-mix): 1 * 1.5 is still 1 */
        if (n > GB_MAX_ITERS) {
            n = GB_MAX_ITERS;
        }
    }
}

uint64_t gb_calibrate(void *job, GbRunFn run)
{
    return calibrate_from(job, run, 1000);
}

/* Samples round-robin: sample i of every loop before sample i + 1 of any,
 * so an engine and its peer run at most a few hundred ms apart, under the
 * same conditions (this machine is shared), and per-sample differences are
 * meaningful (median_diff). */
void gb_run_interleaved(GbMeas *m, unsigned k)
{
    g_assert(gb_params.samples <= GB_MAX_SAMPLES);
    for (unsigned j = 0; j < k; j++) {
        m[j].run(m[j].job, m[j].n);  /* warm-up at the sample size */
        *m[j].timed = true;
    }
    for (unsigned i = 0; i < gb_params.samples; i++) {
        for (unsigned j = 0; j < k; j++) {
            m[j].s[i] = m[j].run(m[j].job, m[j].n) / (double)m[j].n;
        }
    }
    for (unsigned j = 0; j < k; j++) {
        double tmp[GB_MAX_SAMPLES];
        memcpy(tmp, m[j].s, sizeof(tmp));
        m[j].med = median(tmp, gb_params.samples);
        *m[j].timed = false;
    }
}

/* Median over the samples of a - b (both from one run_interleaved). */
double gb_median_diff(const GbMeas *a, const GbMeas *b)
{
    double d[GB_MAX_SAMPLES];
    for (unsigned i = 0; i < gb_params.samples; i++) {
        d[i] = a->s[i] - b->s[i];
    }
    return median(d, gb_params.samples);
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

static GArray *results;
bool gb_any_broken;
static char run_date[64];

GbResult *gb_add_result(const char *name, const char *params, const char *metric,
                        double value, const char *unit)
{
    GbResult r = { .name = name, .params = params, .value = value, .unit = unit };
    g_strlcpy(r.metric, metric, sizeof(r.metric));
    g_array_append_val(results, r);
    return &g_array_index(results, GbResult, results->len - 1);
}

static GbResult *add_result(const GuestLoop *l, const char *metric, double value,
                            const char *unit)
{
    return gb_add_result(l->name, l->params, metric, value, unit);
}

static const char *status_of(const GbResult *r)
{
    if (r->broken) {
        return "BROKEN";
    }
    switch (r->target_kind) {
    case T_VALUE_GE:
        return r->value >= r->target ? "PASS" : "MISS";
    case T_RATIO_LE:
        if (!r->baseline) {
            return "n/a";
        }
        return r->value / r->baseline_value <= r->target ? "PASS" : "MISS";
    default:
        return "-";
    }
}

static char *format_target(const GbResult *r)
{
    switch (r->target_kind) {
    case T_VALUE_GE:
        return g_strdup_printf(">= %g %s", r->target, r->unit);
    case T_RATIO_LE:
        return g_strdup_printf("ratio <= %.3g", r->target);
    default:
        return g_strdup("-");
    }
}

static bool arch_is_arm64;   /* the report is the AArch64 one */

static void print_table(const char *legend, const GbBaseline *uc, double total_s)
{
    printf("%-14s %-30s %-14s %9s %-4s %-14s %10s %7s %6s %6s %-14s %s\n", "case", "params",
           "metric", "value", "unit", "baseline", "base value", "ratio", "miss", "walks",
           "target", "status");
    for (guint i = 0; i < results->len; i++) {
        const GbResult *r = &g_array_index(results, GbResult, i);
        char value[32], base[32], ratio[32], miss[16], walk[16];
        if (r->broken) {
            snprintf(value, sizeof(value), "BROKEN");
        } else {
            snprintf(value, sizeof(value), "%.2f", r->value);
        }
        if (r->baseline) {
            snprintf(base, sizeof(base), "%.2f", r->baseline_value);
            snprintf(ratio, sizeof(ratio), "%.3g", r->value / r->baseline_value);
        } else {
            snprintf(base, sizeof(base), r->baseline_note ? "n/a" : "-");
            snprintf(ratio, sizeof(ratio), "-");
        }
        if (r->has_rates) {
            snprintf(miss, sizeof(miss), "%.2f", r->miss_rate);
            snprintf(walk, sizeof(walk), "%.2f", r->walk_rate);
        } else {
            snprintf(miss, sizeof(miss), "-");
            snprintf(walk, sizeof(walk), "-");
        }
        char *target = format_target(r);
        printf("%-14s %-30s %-14s %9s %-4s %-14s %10s %7s %6s %6s %-14s %s\n", r->name,
               r->params, r->metric, value, r->unit,
               r->baseline ? r->baseline : r->baseline_note ? uc->name : "-", base, ratio,
               miss, walk, target, status_of(r));
        g_free(target);
    }
    printf("\n%s", legend);
    printf("Mode: %s (%u samples, the slower engine's >= %.0f ms of %s, median reported). %s\n",
           opt_quick ? "--quick" : "full", gb_params.samples, gb_params.min_sample_ns / 1e6,
           opt_wall ? "wall time" : "thread CPU time", run_date);
    printf("mmusim: %s; TLB %s.\n",
           arch_is_arm64 ? "AArch64 interpreter"
           : opt_jit_mode == X86_JIT_OFF ? "x86 interpreter (--jit off)"
           : opt_jit_mode == X86_JIT_EAGER ? "x86, every block translated (--jit eager)"
           : "x86, hot blocks translated to host code (--jit on)",
           gb_tlb_fixed ? "fixed size (--tlb-fixed)" : "256 entries growing under miss pressure");
    if (!uc->available) {
        printf("Unicorn: not run (%s).\n", uc->note);
    }
    for (guint i = 0; i < results->len; i++) {
        const GbResult *r = &g_array_index(results, GbResult, i);
        if (!r->baseline && r->baseline_note && uc->available &&
            (i == 0 || strcmp(r->name, g_array_index(results, GbResult, i - 1).name))) {
            printf("%s: Unicorn n/a (%s).\n", r->name, r->baseline_note);
        }
    }
    printf("Total run time %.1f s.\n", total_s);
}

static void print_json(const char *arch)
{
    for (guint i = 0; i < results->len; i++) {
        const GbResult *r = &g_array_index(results, GbResult, i);
        GString *s = g_string_new(NULL);
        g_string_append_printf(s, "{\"bench\":\"guest\",\"arch\":\"%s\",\"case\":\"%s\","
                                  "\"params\":\"%s\",\"metric\":\"%s\",",
                               arch, r->name, r->params, r->metric);
        if (r->broken) {
            g_string_append(s, "\"value\":null,\"broken\":true");
        } else {
            g_string_append_printf(s, "\"value\":%.10g", r->value);
        }
        g_string_append_printf(s, ",\"unit\":\"%s\"", r->unit);
        if (r->baseline) {
            g_string_append_printf(s, ",\"baseline\":\"%s\",\"baseline_value\":%.10g",
                                   r->baseline, r->baseline_value);
            if (!r->broken) {
                g_string_append_printf(s, ",\"ratio\":%.10g", r->value / r->baseline_value);
            }
        } else if (r->baseline_note) {
            g_string_append_printf(s, ",\"baseline_note\":\"%s\"", r->baseline_note);
        }
        if (r->has_rates) {
            g_string_append_printf(s, ",\"tlb_miss_per_iter\":%.6g,\"walks_per_iter\":%.6g",
                                   r->miss_rate, r->walk_rate);
        }
        if (r->target_kind != T_NONE) {
            char *target = format_target(r);
            g_string_append_printf(s, ",\"target\":\"%s\",\"target_value\":%.10g,"
                                      "\"status\":\"%s\"", target, r->target, status_of(r));
            g_free(target);
        }
        g_string_append_printf(s, ",\"clock\":\"%s\",\"quick\":%s}",
                               opt_wall ? "wall" : "thread-cpu", opt_quick ? "true" : "false");
        puts(s->str);
        g_string_free(s, TRUE);
    }
}

/* What the x86 table's columns mean (printed under it). */
#define X86_LEGEND \
    "value: mmusim (x86 CPU, its own TLB and page walker); base value: Unicorn\n" \
    "running the same bytes for the same iteration counts, samples interleaved; ratio =\n" \
    "value / base value. miss, walks: mmusim's data-TLB misses and page walks per\n" \
    "iteration (tlb_get_stats over the timed samples). us_per_flush = 16 x (ns per\n" \
    "iteration of pg-flush - of pg-hot-16), per-sample differences, median: the CR3\n" \
    "reload plus refilling 16 data pages and the code page. Every run is checked\n" \
    "(registers, memory, device counts). Targets are informative.\n"

#ifdef HAVE_UNICORN
uc_engine *gb_uc_open(uc_arch arch, uc_mode mode, uint64_t ram_size, char *name, size_t len,
                      const char **note)
{
    unsigned major = 0, minor = 0;
    unsigned v = uc_version(&major, &minor);
    snprintf(name, len, "unicorn-%u.%u.%u", major, minor, (v >> 8) & 0xff);
    uc_engine *u = NULL;
    uc_err err = uc_open(arch, mode, &u);
    if (err != UC_ERR_OK) {
        *note = "uc_open failed";
        fprintf(stderr, "guest-bench: unicorn: uc_open: %s\n", uc_strerror(err));
        return NULL;
    }
    if ((err = uc_mem_map(u, 0, ram_size, UC_PROT_ALL)) != UC_ERR_OK) {
        *note = "uc_mem_map failed";
        fprintf(stderr, "guest-bench: unicorn: uc_mem_map: %s\n", uc_strerror(err));
        uc_close(u);
        return NULL;
    }
    return u;
}

#endif

void gb_print_report(const char *arch, const char *legend, const GbBaseline *uc,
                     double total_s)
{
    arch_is_arm64 = arch && strstr(arch, "arm") != NULL;
    if (opt_json) {
        print_json(arch);
        if (!uc->available) {
            fprintf(stderr, "guest-bench: Unicorn: not run (%s)\n", uc->note);
        }
    } else {
        print_table(legend, uc, total_s);
    }
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

/* Why Unicorn cannot run loop l (NULL: it can). */
static const char *uc_unsupported(const GuestLoop *l)
{
    if (!eng_uc.available) {
        return eng_uc.note;
    }
#ifdef HAVE_UNICORN
    if ((l->kind == K_MMIO_LOAD || l->kind == K_MMIO_STORE) && !uc_has_mmio()) {
        return "uc_mmio_map is not available";
    }
#endif
    (void)l;
    return NULL;
}

/* Untimed trial runs (17 and 40 iterations: the flush loop reloads CR3 at
 * least once); false if the engine mis-runs the loop. */
static bool trial(Job *j)
{
    unsigned e0 = j->errors;
    job_run(j, 17);
    job_run(j, 40);
    return j->errors == e0;
}

/* The paging loops' memory check: every data page's first word holds its
 * mark plus what the runs added to that page, and nothing else. */
static bool check_pages(Job *j)
{
    Engine *e = j->e;
    unsigned bad = 0;
    for (uint32_t p = 0; p < DATA_PAGES; p++) {
        uint32_t got = e->read32(e, DATA_BASE + p * PAGE_SIZE);
        if (got != e->shadow[p]) {
            if (bad++ == 0) {
                char why[120];
                snprintf(why, sizeof(why), "data page %u holds 0x%x, expected 0x%x", p, got,
                         e->shadow[p]);
                job_error(j, why);
            }
            e->shadow[p] = got;  /* report each case's own errors only */
        }
    }
    return bad == 0;
}

static void run_group(const int *idx, unsigned count)
{
    /* Initialized although count >= 1 fills them: GCC cannot see that. */
    Job jm[2] = { { 0 } }, ju[2] = { { 0 } };
    GbMeas m[4];
    unsigned k = 0;
    const char *uc_why[2] = { NULL, NULL };
    int mpos[2] = { -1, -1 }, upos[2] = { -1, -1 };
    for (unsigned g = 0; g < count; g++) {
        const GuestLoop *l = &loops[idx[g]];
        gb_progress(l->name);
        jm[g] = (Job){ .e = &eng_mm, .l = l };
        ju[g] = (Job){ .e = &eng_uc, .l = l };
        mpos[g] = upos[g] = -1;
        trial(&jm[g]);
        uc_why[g] = uc_unsupported(l);
        if (!uc_why[g] && !trial(&ju[g])) {
            uc_why[g] = l->paging ? "does not run the loop with paging on (see stderr)"
                                  : "does not run the loop (see stderr)";
        }
        uint64_t n = gb_calibrate(&jm[g], job_run_fn);
        if (!uc_why[g]) {
            uint64_t nu = gb_calibrate(&ju[g], job_run_fn);
            n = MIN(n, nu);  /* the slower engine's samples last >= min_sample_ns */
        }
        mpos[g] = (int)k;
        m[k++] = (GbMeas){ .job = &jm[g], .run = job_run_fn, .timed = &jm[g].timed, .n = n };
        if (!uc_why[g]) {
            upos[g] = (int)k;
            m[k++] = (GbMeas){ .job = &ju[g], .run = job_run_fn, .timed = &ju[g].timed,
                               .n = n };
        }
    }
    unsigned uc_errors_before[2] = { ju[0].errors, count > 1 ? ju[1].errors : 0 };
    gb_run_interleaved(m, k);
    /* The paging loops of a group add to the same pages: one check per
     * engine, and a failure is every loop's of the group. */
    if (jm[0].l->paging) {
        if (!check_pages(&jm[0])) {
            for (unsigned g = 1; g < count; g++) {
                jm[g].errors++;
            }
        }
        if (upos[0] >= 0 && !check_pages(&ju[0])) {
            for (unsigned g = 1; g < count; g++) {
                ju[g].errors++;
            }
        }
    }
    for (unsigned g = 0; g < count; g++) {
        if (upos[g] >= 0 && ju[g].errors != uc_errors_before[g]) {
            uc_why[g] = "a timed run failed its checks (see stderr)";
            upos[g] = -1;
        }
    }

    for (unsigned g = 0; g < count; g++) {
        const GuestLoop *l = jm[g].l;
        const GbMeas *mm_m = &m[mpos[g]];
        const GbMeas *uc_m = upos[g] >= 0 ? &m[upos[g]] : NULL;
        bool broken = jm[g].errors > 0;
        gb_any_broken |= broken;
        double ipi = loop_insns_per_iter(l);
        char metric[24];
        snprintf(metric, sizeof(metric), "ns_per_%s", l->metric);
        GbResult *r = add_result(l, metric, mm_m->med, "ns");
        r->broken = broken;
        double it = (double)(jm[g].timed_iters ? jm[g].timed_iters : 1);
        r->has_rates = true;
        r->miss_rate = (double)jm[g].stats.misses / it;
        r->walk_rate = (double)jm[g].stats.fills / it;
        if (uc_m) {
            r->baseline = eng_uc.name;
            r->baseline_value = uc_m->med;
        } else {
            r->baseline_note = uc_why[g];
        }
        if (l->ratio_target > 0) {
            r->target_kind = T_RATIO_LE;
            r->target = l->ratio_target;
        }
        if (l->kind == K_FLUSH && g > 0) {
            /* Against the hot loop of the same group, sample by sample. */
            const GbMeas *hot_m = &m[mpos[0]];
            r = add_result(l, "us_per_flush", gb_median_diff(mm_m, hot_m) * 16 / 1000, "us");
            r->broken = broken || jm[0].errors > 0;
            int hot_u = upos[0];
            if (uc_m && hot_u >= 0) {
                r->baseline = eng_uc.name;
                r->baseline_value = gb_median_diff(uc_m, &m[hot_u]) * 16 / 1000;
            } else {
                r->baseline_note = uc_why[g] ? uc_why[g] : uc_why[0];
            }
            if (jm[g].stats.flush_all != jm[g].timed_flushes) {
                char why[120];
                snprintf(why, sizeof(why), "%" PRIu64 " TLB flushes in the timed runs, "
                         "expected %" PRIu64, jm[g].stats.flush_all, jm[g].timed_flushes);
                job_error(&jm[g], why);
                r->broken = true;
                gb_any_broken = true;
            }
        }
        r = add_result(l, "M_insn_per_s", ipi * 1e3 / mm_m->med, "M/s");
        r->broken = broken;
        if (uc_m) {
            r->baseline = eng_uc.name;
            r->baseline_value = ipi * 1e3 / uc_m->med;
        } else {
            r->baseline_note = uc_why[g];
        }
        if (l->mips_target > 0) {
            r->target_kind = T_VALUE_GE;
            r->target = l->mips_target;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* c-mix: real compiler output                                               */

/*
 * bench/cprog/cmix.c compiled by gcc -O2 for i386 (freestanding), linked
 * at MMUSIM_CMIX_BASE behind bench/cprog/cmix_entry.asm and flattened to an
 * image at build time (bench/cprog/cmix.cmake); the same source compiled
 * into this program is the native baseline. A run: EIP at the image's
 * base, ECX = iterations, EDI = the work buffer's guest address; the stub
 * sets ESP, calls cmix_run and halts with the checksum in EAX. Paging off
 * and the flat segments of the loops (mm_setup_cpu). Checks: the checksum
 * is the native cmix_run's for the same count; mmusim stopped at the hlt,
 * having retired the same number of instructions as every earlier run of
 * that count.
 */
#define CMIX_CASE      "c-mix"
#define CMIX_WORK      0x00400000u   /* the work buffer: CMIX_WORK_SIZE bytes */
#define CMIX_HALT_OFF  13u           /* the stub: cld; mov esp, imm32; push edi; push ecx;
                                      * call cmix_run; hlt */
/* A bound on the instructions of one iteration (it needs about 2.8 M): a
 * guest that went astray ends its run there instead of hanging. */
#define CMIX_MAX_INSNS_PER_ITER 50000000ull
#define CMIX_PARAMS    "gcc -O2 -m32, paging off"

#ifdef MMUSIM_CMIX_IMAGE
_Static_assert(MMUSIM_CMIX_BASE >= PT_BASE + (PT_TABLES + 1) * PAGE_SIZE &&
               MMUSIM_CMIX_STACK_TOP <= CMIX_WORK &&
               CMIX_WORK + CMIX_WORK_SIZE <= STORE_ADDR,
               "c-mix's image, stack and work buffer overlap the loops' memory");
#endif

typedef enum CmixKind { CMIX_MM, CMIX_UC, CMIX_NATIVE } CmixKind;

typedef struct CmixJob {
    CmixKind kind;
    const char *name;
    unsigned errors;
    bool timed;              /* the timed samples: statistics are collected */
    bool trial;              /* Unicorn: a run with a timeout */
    uint64_t timed_iters, timed_insns;
    TlbStats stats;          /* mmusim: over the timed samples */
    /* mmusim: the instructions a run of n[i] iterations retired */
    uint64_t seen_n[32], seen_insns[32];
    unsigned seen;
} CmixJob;

static const char *cmix_skip;       /* why the case cannot run (NULL: it can) */
static gchar *cmix_skip_alloc;
static gchar *cmix_image;
static uint8_t *cmix_native_work;
static GHashTable *cmix_sums;       /* n -> the native checksum */
static bool cmix_ran;

/* What the native cmix_run returns for n iterations (computed once per n). */
static uint32_t cmix_expected(uint64_t n)
{
    gpointer key = GUINT_TO_POINTER((guint)n), v;
    if (g_hash_table_lookup_extended(cmix_sums, key, NULL, &v)) {
        return GPOINTER_TO_UINT(v);
    }
    uint32_t sum = cmix_run((uint32_t)n, cmix_native_work);
    g_hash_table_insert(cmix_sums, key, GUINT_TO_POINTER(sum));
    return sum;
}

/* Reads the image and checks it starts with the stub; false (cmix_skip
 * says why) when the case cannot run. */
static bool cmix_load(void)
{
#ifndef MMUSIM_CMIX_IMAGE
#ifdef MMUSIM_CMIX_SKIP
    cmix_skip = "not built: " MMUSIM_CMIX_SKIP;
#else
    cmix_skip = "not built: bench/cprog/cmix.cmake was not included";
#endif
    return false;
#else
    GError *err = NULL;
    gsize cmix_image_len;
    if (!g_file_get_contents(MMUSIM_CMIX_IMAGE, &cmix_image, &cmix_image_len, &err)) {
        cmix_skip = cmix_skip_alloc = g_strdup_printf("cannot read the guest image: %s",
                                                      err->message);
        g_error_free(err);
        return false;
    }
    const uint8_t *img = (const uint8_t *)cmix_image;
    if (cmix_image_len <= CMIX_HALT_OFF || img[0] != 0xfc || img[1] != 0xbc ||
        img[CMIX_HALT_OFF] != 0xf4) {
        cmix_skip = cmix_skip_alloc = g_strdup_printf(
            "%s does not start with cmix_entry.asm's stub (cld, mov esp, ..., hlt at +%u)",
            MMUSIM_CMIX_IMAGE, CMIX_HALT_OFF);
        return false;
    }
    if (MMUSIM_CMIX_BASE + cmix_image_len > MMUSIM_CMIX_STACK_TOP - 0x10000u) {
        cmix_skip = cmix_skip_alloc = g_strdup_printf(
            "the image (%zu bytes at 0x%x) leaves less than 64 KiB of stack below 0x%x",
            (size_t)cmix_image_len, MMUSIM_CMIX_BASE, MMUSIM_CMIX_STACK_TOP);
        return false;
    }
    write_bytes(&eng_mm, MMUSIM_CMIX_BASE, cmix_image, cmix_image_len);
#ifdef HAVE_UNICORN
    if (eng_uc.available) {
        write_bytes(&eng_uc, MMUSIM_CMIX_BASE, cmix_image, cmix_image_len);
    }
#endif
    return true;
#endif
}

#ifdef MMUSIM_CMIX_IMAGE
static bool cmix_mm_run(uint64_t n, uint32_t *sum, uint64_t *insns, char *why, size_t why_len)
{
    X86Cpu *cpu = mm.cpu;
    cpu->regs[R_CX] = (uint32_t)n;
    cpu->regs[R_DI] = CMIX_WORK;
    cpu->rip = MMUSIM_CMIX_BASE;
    cpu->halted = false;
    uint64_t ic0 = cpu->icount;
    X86Exit x = x86_cpu_run(cpu, n * CMIX_MAX_INSNS_PER_ITER + 1000000);
    *sum = (uint32_t)cpu->regs[R_AX];
    *insns = cpu->icount - ic0;
    if (x != X86_EXIT_HALTED || cpu->rip != MMUSIM_CMIX_BASE + CMIX_HALT_OFF + 1) {
        snprintf(why, why_len, "exit %d at eip 0x%" PRIx64 " after %" PRIu64 " instructions "
                 "(expected hlt at 0x%x)", (int)x, cpu->rip, *insns,
                 MMUSIM_CMIX_BASE + CMIX_HALT_OFF);
        return false;
    }
    return true;
}

#ifdef HAVE_UNICORN
static bool cmix_uc_run(uint64_t n, bool timeout, uint32_t *sum, char *why, size_t why_len)
{
    uint32_t ecx = (uint32_t)n, edi = CMIX_WORK, eip = 0;
    uint32_t end = MMUSIM_CMIX_BASE + CMIX_HALT_OFF;  /* stop at the hlt */
    uc_reg_write(uc, UC_X86_REG_ECX, &ecx);
    uc_reg_write(uc, UC_X86_REG_EDI, &edi);
    /* The trial runs have a timeout (a mis-run must not hang the benchmark). */
    uc_err err = uc_emu_start(uc, MMUSIM_CMIX_BASE, end, timeout ? 60000000 : 0, 0);
    uc_reg_read(uc, UC_X86_REG_EAX, sum);
    uc_reg_read(uc, UC_X86_REG_EIP, &eip);
    if (err != UC_ERR_OK || eip != end) {
        snprintf(why, why_len, "uc_emu_start: %s, eip 0x%x (expected 0x%x)",
                 err != UC_ERR_OK ? uc_strerror(err) : "ok", eip, end);
        return false;
    }
    return true;
}
#endif
#endif

static void cmix_error(CmixJob *j, const char *why)
{
    if (j->errors++ < 3) {
        fprintf(stderr, "guest-bench: %s on %s: %s\n", CMIX_CASE, j->name, why);
    }
}

/* One checked run of n iterations (GbRunFn): the timed ns. */
static double cmix_job_run(void *job, uint64_t n)
{
    CmixJob *j = job;
    char why[200] = "not run";
    uint32_t sum = 0;
    uint64_t insns = 0;
    bool ok = false;
    double t0, dt = 0;
    if (j->kind == CMIX_NATIVE) {
        t0 = gb_run_clock_ns();
        sum = cmix_run((uint32_t)n, cmix_native_work);
        dt = gb_run_clock_ns() - t0;
        gpointer key = GUINT_TO_POINTER((guint)n);
        if (!g_hash_table_contains(cmix_sums, key)) {
            g_hash_table_insert(cmix_sums, key, GUINT_TO_POINTER(sum));
        }
        return dt;
    }
#ifdef MMUSIM_CMIX_IMAGE
    Engine *e = j->kind == CMIX_MM ? &eng_mm : &eng_uc;
    if (e->paging && !e->set_paging(e, false)) {
        cmix_error(j, "cannot disable paging");
        return 0;
    }
    if (j->kind == CMIX_MM) {
        TlbStats s0 = { 0 };
        if (j->timed) {
            tlb_get_stats(mm.cpu->tlb, X86_MMU_KERNEL_NOSMAP, &s0);
        }
        t0 = gb_run_clock_ns();
        ok = cmix_mm_run(n, &sum, &insns, why, sizeof(why));
        dt = gb_run_clock_ns() - t0;
        if (j->timed) {
            TlbStats s1;
            tlb_get_stats(mm.cpu->tlb, X86_MMU_KERNEL_NOSMAP, &s1);
            j->stats.misses += s1.misses - s0.misses;
            j->stats.fills += s1.fills - s0.fills;
            j->timed_iters += n;
            j->timed_insns += insns;
        }
    }
#ifdef HAVE_UNICORN
    if (j->kind == CMIX_UC) {
        t0 = gb_run_clock_ns();
        ok = cmix_uc_run(n, j->trial, &sum, why, sizeof(why));
        dt = gb_run_clock_ns() - t0;
    }
#endif
#else
    snprintf(why, sizeof(why), "no image");
#endif
    if (ok) {
        uint32_t want = cmix_expected(n);
        if (sum != want) {
            snprintf(why, sizeof(why), "EAX (the checksum) is 0x%08x; the native cmix_run(%"
                     PRIu64 ") returns 0x%08x", sum, n, want);
            ok = false;
        }
    }
    if (ok && j->kind == CMIX_MM) {
        /* The program is deterministic: so is its instruction count. */
        unsigned i = 0;
        while (i < j->seen && j->seen_n[i] != n) {
            i++;
        }
        if (i < j->seen && j->seen_insns[i] != insns) {
            snprintf(why, sizeof(why), "%" PRIu64 " iterations retired %" PRIu64
                     " instructions, %" PRIu64 " in an earlier run", n, insns, j->seen_insns[i]);
            ok = false;
        } else if (i == j->seen && i < G_N_ELEMENTS(j->seen_n)) {
            j->seen_n[i] = n;
            j->seen_insns[i] = insns;
            j->seen++;
        }
    }
    if (!ok) {
        cmix_error(j, why);
    }
    return dt;
}

/* What c-mix's rows mean (printed under the table when it ran). */
#define CMIX_LEGEND \
    "c-mix: bench/cprog/cmix.c (CRC32, LCG + recursive quicksort, FNV-1a, a sieve to\n" \
    "16384, a bytecode interpreter's jump table; 4 rounds per iteration) as gcc -O2 -m32\n" \
    "made it, run from a flat image at 0x200000, paging off; base value native: the\n" \
    "same source compiled into guest-bench (gcc -O2, x86-64), its own sample size.\n" \
    "Every run's checksum is the native one's; mmusim's instruction count is exact.\n"

static void run_cmix(void)
{
    gb_progress(CMIX_CASE);
    cmix_native_work = g_malloc0(CMIX_WORK_SIZE);
    cmix_sums = g_hash_table_new(g_direct_hash, g_direct_equal);
    if (!cmix_load()) {
        fprintf(stderr, "guest-bench: %s: skipped: %s\n", CMIX_CASE, cmix_skip);
        return;
    }
    cmix_ran = true;
    CmixJob jm = { .kind = CMIX_MM, .name = eng_mm.name };
    CmixJob ju = { .kind = CMIX_UC, .name = eng_uc.name };
    CmixJob jn = { .kind = CMIX_NATIVE, .name = "native" };
    cmix_job_run(&jm, 1);
    cmix_job_run(&jm, 2);
    const char *uc_why = eng_uc.available ? NULL : eng_uc.note;
    if (!uc_why) {
        ju.trial = true;
        cmix_job_run(&ju, 1);
        cmix_job_run(&ju, 2);
        ju.trial = false;
        if (ju.errors) {
            uc_why = "does not run the image (see stderr)";
        }
    }
    /* From 1: an iteration lasts about a millisecond or more on the engines. */
    uint64_t n = calibrate_from(&jm, cmix_job_run, 1);
    if (!uc_why) {
        uint64_t nu = calibrate_from(&ju, cmix_job_run, 1);
        n = MIN(n, nu);  /* the slower engine's samples last >= min_sample_ns */
    }
    uint64_t nn = calibrate_from(&jn, cmix_job_run, 1);
    GbMeas m[3];
    unsigned k = 0;
    m[k++] = (GbMeas){ .job = &jm, .run = cmix_job_run, .timed = &jm.timed, .n = n };
    int upos = -1;
    if (!uc_why) {
        upos = (int)k;
        m[k++] = (GbMeas){ .job = &ju, .run = cmix_job_run, .timed = &ju.timed, .n = n };
    }
    int npos = (int)k;
    m[k++] = (GbMeas){ .job = &jn, .run = cmix_job_run, .timed = &jn.timed, .n = nn };
    unsigned uc_errors_before = ju.errors;
    gb_run_interleaved(m, k);
    if (upos >= 0 && ju.errors != uc_errors_before) {
        uc_why = "a timed run failed its checks (see stderr)";
        upos = -1;
    }

    bool broken = jm.errors > 0;
    gb_any_broken |= broken;
    const GbMeas *mm_m = &m[0], *uc_m = upos >= 0 ? &m[upos] : NULL, *nat_m = &m[npos];
    GbResult *r = gb_add_result(CMIX_CASE, CMIX_PARAMS, "ns_per_iter", mm_m->med, "ns");
    r->broken = broken;
    double it = (double)(jm.timed_iters ? jm.timed_iters : 1);
    r->has_rates = true;
    r->miss_rate = (double)jm.stats.misses / it;
    r->walk_rate = (double)jm.stats.fills / it;
    if (uc_m) {
        r->baseline = eng_uc.name;
        r->baseline_value = uc_m->med;
    } else {
        r->baseline_note = uc_why;
    }
    r = gb_add_result(CMIX_CASE, CMIX_PARAMS, "ns_per_iter", mm_m->med, "ns");
    r->broken = broken;
    r->baseline = "native";
    r->baseline_value = nat_m->med;
    /* Instructions per iteration: mmusim's exact count over the timed runs
     * (Unicorn runs the same instructions: the same image, the same result). */
    static char insn_params[40];
    double ipi = (double)jm.timed_insns / it;
    snprintf(insn_params, sizeof(insn_params), "gcc -O2 -m32, %.3f M insn/iter", ipi / 1e6);
    r = gb_add_result(CMIX_CASE, insn_params, "M_insn_per_s", ipi * 1e3 / mm_m->med, "M/s");
    r->broken = broken;
    if (uc_m) {
        r->baseline = eng_uc.name;
        r->baseline_value = ipi * 1e3 / uc_m->med;
    } else {
        r->baseline_note = uc_why;
    }
}

static void cmix_free(void)
{
    g_free(cmix_image);
    g_free(cmix_skip_alloc);
    g_free(cmix_native_work);
    if (cmix_sums) {
        g_hash_table_destroy(cmix_sums);
    }
}

/* ------------------------------------------------------------------------ */

/* Every name of --only's list is one of `cases` (NULL-terminated; NULL:
 * the x86 loops). */
static bool select_ok(const char *list, const char *const *cases)
{
    if (!list) {
        return true;
    }
    char **names = g_strsplit(list, ",", -1);
    bool ok = true;
    for (char **n = names; *n; n++) {
        bool found = false;
        for (guint k = 0; !cases && k < NUM_LOOPS; k++) {
            found |= !strcmp(*n, loops[k].name);
        }
        found |= !cases && !strcmp(*n, CMIX_CASE);
        for (guint k = 0; cases && cases[k]; k++) {
            found |= !strcmp(*n, cases[k]);
        }
        if (!found) {
            fprintf(stderr, "guest-bench: --only: unknown case '%s'\n", *n);
            ok = false;
        }
    }
    g_strfreev(names);
    return ok;
}

bool gb_is_selected(const char *name)
{
    if (!opt_only) {
        return true;
    }
    char **names = g_strsplit(opt_only, ",", -1);
    bool on = false;
    for (char **n = names; *n; n++) {
        on |= !strcmp(*n, name);
    }
    g_strfreev(names);
    return on;
}

int main(int argc, char **argv)
{
    static const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
          "Print one JSON object per result line instead of a table", NULL },
        { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick,
          "Short samples (a smoke run of a few seconds)", NULL },
        { "wall", 0, 0, G_OPTION_ARG_NONE, &opt_wall,
          "Time runs with the wall clock (CLOCK_MONOTONIC) instead of the thread's CPU time",
          NULL },
        { "arch", 0, 0, G_OPTION_ARG_STRING, &opt_arch,
          "Guest architecture: x86 (the default) or arm64", "ARCH" },
        { "jit", 0, 0, G_OPTION_ARG_STRING, &opt_jit,
          "x86: block translation on (the default), off (interpret) or eager", "MODE" },
        { "tlb-fixed", 0, 0, G_OPTION_ARG_INT, &opt_tlb_fixed,
          "Give mmusim's TLB N entries per MMU index and no resizing (default: 256, growing "
          "under miss pressure up to 32768)", "N" },
        { "only", 0, 0, G_OPTION_ARG_STRING, &opt_only,
          "Run only these cases (for profiling): alu, load, store, stride-64, stride-16384, "
          "mmio-load (x86), mmio-store (x86), pg-hot-16, pg-flush (x86; runs pg-hot-16 too), "
          "pg-miss-16384, c-mix (x86: gcc -O2 output of bench/cprog/cmix.c, also run natively)",
          "LIST" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("- guest-loop benchmark against Unicorn");
    g_option_context_set_summary(ctx,
        "Runs the guest loops of the peers' reference (ALU, same-page load/store, page\n"
        "strides over 64 and 16,384 pages, MMIO load/store; with 4 KiB-PTE paging: 16 hot\n"
        "pages, 16,384 pages, a CR3 reload every 16 touches) on mmusim's x86 CPU (or, with\n"
        "--arch arm64, their A64 equivalents on its AArch64 CPU, MMU off and on) and, when\n"
        "built with Unicorn, on Unicorn in the same process, samples interleaved; on x86\n"
        "also c-mix, gcc -O2 output of a C workload, against Unicorn and native. Every run\n"
        "is checked. Prints a table, or JSON lines with --json. Targets are informative:\n"
        "exit status 0 (1 if mmusim failed a check).");
    g_option_context_set_description(ctx, "See docs/performance.md.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "guest-bench: %s\n", err->message);
        g_error_free(err);
        g_option_context_free(ctx);
        return 1;
    }
    g_option_context_free(ctx);
    if (argc > 1) {
        fprintf(stderr, "guest-bench: unexpected argument '%s' (see --help)\n", argv[1]);
        return 1;
    }
    bool arm64 = opt_arch && (!g_ascii_strcasecmp(opt_arch, "arm64") ||
                              !g_ascii_strcasecmp(opt_arch, "aarch64"));
    if (opt_arch && !arm64 && g_ascii_strcasecmp(opt_arch, "x86") != 0 &&
        g_ascii_strcasecmp(opt_arch, "x86-32") != 0 && g_ascii_strcasecmp(opt_arch, "i386")) {
        fprintf(stderr, "guest-bench: --arch %s: unknown guest architecture (x86 or arm64)\n",
                opt_arch);
        return 1;
    }
#ifdef HAVE_ARM64
    const char *const *cases = arm64 ? gb_arm64_cases : NULL;
#else
    if (arm64) {
        fprintf(stderr, "guest-bench: --arch %s: not available: built without the AArch64 "
                "target (mmusim_arm)\n", opt_arch);
        return 1;
    }
    const char *const *cases = NULL;
#endif
    if (!select_ok(opt_only, cases)) {
        return 1;
    }
    if (opt_jit) {
        if (arm64) {
            fprintf(stderr, "guest-bench: --jit: the arm64 CPU interprets only\n");
            return 1;
        }
        if (!strcmp(opt_jit, "off")) {
            opt_jit_mode = X86_JIT_OFF;
        } else if (!strcmp(opt_jit, "eager")) {
            opt_jit_mode = X86_JIT_EAGER;
        } else if (strcmp(opt_jit, "on") != 0) {
            fprintf(stderr, "guest-bench: --jit %s: must be on, off or eager\n", opt_jit);
            return 1;
        }
    }
    if (opt_tlb_fixed) {
        if (opt_tlb_fixed < 64 || opt_tlb_fixed > 32768 ||
            (opt_tlb_fixed & (opt_tlb_fixed - 1))) {
            fprintf(stderr, "guest-bench: --tlb-fixed %d: must be a power of two from 64 to "
                    "32768\n", opt_tlb_fixed);
            return 1;
        }
        gb_tlb_fixed = (unsigned)opt_tlb_fixed;
    }

    gb_params.samples = opt_quick ? 5 : 15;
    gb_params.min_sample_ns = opt_quick ? 5e6 : 60e6;
    mem_set_report_handler(count_report, NULL);
    results = g_array_new(FALSE, TRUE, sizeof(GbResult));
    {
        GDateTime *dt = g_date_time_new_now_utc();
        char *s = g_date_time_format(dt, "%Y-%m-%d %H:%M UTC");
        g_strlcpy(run_date, s, sizeof(run_date));
        g_free(s);
        g_date_time_unref(dt);
    }
#ifdef HAVE_ARM64
    if (arm64) {
        int status = gb_arm64_main();
        if (num_reports) {
            fprintf(stderr, "guest-bench: the core reported %u unexpected events\n", num_reports);
        }
        g_array_free(results, TRUE);
        g_free(opt_only);
        g_free(opt_arch);
        return status;
    }
#endif

    double t0 = gb_now_ns();
    gb_progress("machine");
    mm_init();
    load_memory(&eng_mm);
#ifdef HAVE_UNICORN
    uc_init();
    if (eng_uc.available) {
        load_memory(&eng_uc);
    }
#else
    eng_uc = (Engine){ .name = "unicorn", .note = "built without Unicorn: libunicorn-dev was "
                                                  "not found at configure time" };
#endif

    for (guint g = 0; g < G_N_ELEMENTS(groups); g++) {
        int idx[2];
        unsigned count = 0;
        bool any = false;
        for (int i = 0; i < 2 && groups[g][i] >= 0; i++) {
            idx[count++] = groups[g][i];
            any |= gb_is_selected(loops[groups[g][i]].name);
        }
        if (any) {
            run_group(idx, count);
        }
    }
    if (gb_is_selected(CMIX_CASE)) {
        run_cmix();
    }

    GbBaseline uc_desc = { eng_uc.name, eng_uc.available, eng_uc.note };
    gb_print_report("x86", cmix_ran ? X86_LEGEND CMIX_LEGEND : X86_LEGEND, &uc_desc,
                    (gb_now_ns() - t0) / 1e9);
    if (cmix_skip && !opt_json) {
        printf("%s: skipped (%s).\n", CMIX_CASE, cmix_skip);
    }
    if (num_reports) {
        fprintf(stderr, "guest-bench: the core reported %u unexpected events\n", num_reports);
    }
    if (gb_any_broken) {
        fprintf(stderr, "guest-bench: mmusim failed its checks (rows marked BROKEN)\n");
    }
#ifdef HAVE_UNICORN
    uc_teardown();
#endif
    mm_free();
    cmix_free();
    g_free(eng_mm.shadow);
    g_free(eng_uc.shadow);
    g_array_free(results, TRUE);
    g_free(opt_only);
    g_free(opt_arch);
    return gb_any_broken ? 1 : 0;
}
