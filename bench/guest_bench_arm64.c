/*
 * guest-bench --arch arm64: the A64 equivalents of the peers' guest loops
 * (shared/reference/peers.md) on mmusim's AArch64 CPU (the whole
 * interpreter: decoded blocks, jump cache, TLB, VMSAv8-64 page walk) and,
 * when Unicorn is installed, on Unicorn's UC_ARCH_ARM64 in the same
 * process, samples interleaved, measured and reported by guest_bench.c's
 * shared half (guest_bench.h) exactly as the x86 loops are.
 *
 * Method: as for x86 (guest_bench.c). A run sets x0..x3 (x1 = the
 * iteration count), runs from the loop to the `wfi` that ends it and reads
 * the registers back; that is what is timed. mmusim runs to ARM_EXIT_HALTED
 * (WFI with no interrupt pending); Unicorn stops at the wfi with
 * uc_emu_start's `until`.
 *
 * The machine (both engines, the same physical layout; EL1h, DAIF masked):
 *   0x00008000  VBAR_EL1: 16 vectors of `wfi` (an exception ends the run at
 *               a vector, which the checks report with ESR_EL1)
 *   0x00009000  the MMU prologue (below)
 *   0x00010000  the loops, one per 4 KiB page (loop k at 0x10000 + k * 0x1000)
 *   0x00100000  translation tables, 4 KiB granule, T0SZ = 25 (39-bit VA, a
 *               3-level walk as Linux's 39-bit configuration): the level-1
 *               table, one level-2 table, 64 level-3 tables of 4 KiB page
 *               descriptors identity-mapping the first 128 MiB (Normal WB,
 *               AF set, EL1 RW), except the page at VA 0x200000 (otherwise
 *               unused), which maps the first data page (the MMU-on probe)
 *   0x00800000  the word the same-page store loop writes
 *   0x04000000  64 MiB of data: 16,384 pages, the first word of page i holds
 *               0x5a5a0000 ^ i (loads are checked against it)
 *   0x08000000  end of RAM (128 MiB)
 * mmusim: one ArmCpu (arm_cpu_new on a CpuView of the RAM). Unicorn:
 * UC_ARCH_ARM64 (it starts at EL1h), uc_mem_map of the same 128 MiB.
 *
 * The MMU is turned on and off by the same guest code on both engines (so
 * Unicorn's MMU is really on: its system registers are written the way a
 * kernel writes them), at 0x9000:
 *   d518a204  msr mair_el1, x4      (0x44ff00: attr 1 = Normal WB)
 *   d5182045  msr tcr_el1, x5
 *   d5182006  msr ttbr0_el1, x6
 *   d5033fdf  isb
 *   d5181007  msr sctlr_el1, x7     (the engine's SCTLR with M, C, I set or clear)
 *   d5033fdf  isb
 *   d508871f  tlbi vmalle1
 *   d5033f9f  dsb sy
 *   d5033fdf  isb
 *   b9400040  ldr w0, [x2]          the probe: x2 = VA 0x200000 (the alias of
 *   d503207f  wfi                   the first data page) with the MMU on, PA
 *                                   0x04000000 with it off; w0 must be its mark
 * The alias exists only in the tables (PA 0x200000 holds 0), so an engine
 * that ignored the MMU would fail the probe rather than post a paging-off
 * number. (It is inside RAM because Unicorn 2.0.1 checks a load's virtual
 * address against its mapped memory: an alias above RAM reads as unmapped
 * even with its MMU on.)
 *
 * The loops (A64 words from aarch64-linux-gnu-as; branches are
 * PC-relative, so each loop runs from its own page; each ends with
 * d503207f wfi):
 *   alu            91000400 add x0, x0, #1; f1000421 subs x1, x1, #1; 54ffffc1 b.ne
 *   load           b9400040 ldr w0, [x2];   f1000421 subs; 54ffffc1 b.ne
 *   store          b9000040 str w0, [x2];   f1000421 subs; 54ffffc1 b.ne
 *   stride-64,     b8636840 ldr w0, [x2, x3]; 91400463 add x3, x3, #1, lsl #12;
 *   stride-16384   92741463 and x3, x3, #0x3f000 / 92743463 #0x3fff000;
 *                  f1000421 subs; 54ffff81 b.ne
 * and with the MMU on (x2 = the data pages' VA, identity-mapped):
 *   pg-hot-16,     b8636840 ldr w0, [x2, x3]; 0b010000 add w0, w0, w1;
 *   pg-miss-16384  b8236840 str w0, [x2, x3]; 91400463 add x3, x3, #1, lsl #12;
 *                  92740c63 and x3, x3, #0xf000 / 92743463 #0x3fff000;
 *                  f1000421 subs; 54ffff41 b.ne
 *                  (x86's `add [esi+edi],ecx` is a load, an add and a store
 *                  in A64: 7 instructions per touch against x86's 5)
 *
 * Checks on every run: x1 = 0 and the CPU stopped at the loop's wfi
 * (mmusim: ARM_EXIT_HALTED after exactly the instructions the loop
 * implies); x0 = count (alu), the page mark (loads); the stored word
 * (store); x3 = the final stride offset; every touched data word grew by
 * what the paging loops added (checked at the end of each case against a
 * host-side shadow). A failed mmusim check makes the row BROKEN and the
 * exit status 1.
 *
 * Targets (issue 6; informative): alu >= 250 M guest instructions/s;
 * pg-miss-16384: mmusim's ns per touch <= 1/3 of Unicorn's.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "targets/arm/arm_cpu.h"
#include "tlb/tlb.h"

#include "guest_bench.h"

#ifdef HAVE_UNICORN
#include <unicorn/unicorn.h>
#endif

#define PAGE_SIZE      0x1000u

/* Physical layout (both engines). */
#define RAM_SIZE       0x08000000u   /* 128 MiB */
#define VECTORS        0x00008000u
#define PROLOGUE       0x00009000u
#define PROLOGUE_LEN   11u           /* instructions, the wfi included */
#define CODE_BASE      0x00010000u
#define PT_BASE        0x00100000u   /* level 1, level 2, then 64 level-3 tables */
#define PT_L3_TABLES   (RAM_SIZE >> 21)
#define STORE_ADDR     0x00800000u
#define DATA_BASE      0x04000000u
#define DATA_PAGES     16384u
#define ALIAS_VA       0x00200000u   /* maps DATA_BASE (PA ALIAS_VA holds 0) */

/* Translation regime (ARM ARM D13.2): MAIR attr 0 Device-nGnRnE, 1 Normal
 * write-back, 2 Normal non-cacheable. TCR: T0SZ = T1SZ = 25, TTBR0 walks
 * write-back inner shareable, TTBR1 walks disabled (EPD1), TG1 = 4 KiB
 * (0 is reserved there), IPS = 40 bits. */
#define MAIR_VALUE     0x000000000044ff00ull
#define TCR_VALUE      (25ull | (1ull << 8) | (1ull << 10) | (3ull << 12) | (25ull << 16) | \
                        (1ull << 23) | (2ull << 30) | (2ull << 32))
#define SCTLR_M        (1ull << 0)
#define SCTLR_C        (1ull << 2)
#define SCTLR_I        (1ull << 12)
/* Descriptors (D5.3): a page with AF, inner shareable, AttrIndx 1, AP 00. */
#define DESC_TABLE     3ull
#define DESC_PAGE      (3ull | (1ull << 2) | (3ull << 8) | (1ull << 10))

#define WFI            0xd503207fu

/* Targets stated by issue 6 (informative). */
#define TARGET_ALU_MIPS        250.0
#define TARGET_MISS_RATIO      (1.0 / 3.0)

static uint32_t page_mark(uint32_t data_page)
{
    return data_page ^ 0x5a5a0000u;
}

/* ------------------------------------------------------------------------ */
/* The loops                                                                 */

typedef enum LoopKind { K_ALU, K_LOAD, K_STORE, K_STRIDE, K_ADD } LoopKind;

typedef struct A64Loop {
    const char *name;
    const char *params;
    const char *metric;      /* what one iteration is called: ns_per_<metric> */
    LoopKind kind;
    bool paging;             /* run with the MMU on */
    uint32_t code[8];        /* ending with wfi */
    unsigned len;            /* instructions, the wfi included */
    unsigned insns;          /* instructions per iteration */
    uint32_t x2;             /* the base register */
    uint32_t mask;           /* stride/add loops: the AND immediate */
    double ratio_target;     /* 0: none */
    double mips_target;      /* 0: none */
} A64Loop;

#define STRIDE_LOOP(and_insn) { 0xb8636840u, 0x91400463u, (and_insn), 0xf1000421u, \
                                0x54ffff81u, WFI }
#define ADD_LOOP(and_insn)    { 0xb8636840u, 0x0b010000u, 0xb8236840u, 0x91400463u, \
                                (and_insn), 0xf1000421u, 0x54ffff41u, WFI }

static const A64Loop loops[] = {
    { "alu", "MMU off, add; subs; b.ne", "iter", K_ALU, false,
      { 0x91000400u, 0xf1000421u, 0x54ffffc1u, WFI }, 4, 3, 0, 0, 0, TARGET_ALU_MIPS },
    { "load", "MMU off, same page", "iter", K_LOAD, false,
      { 0xb9400040u, 0xf1000421u, 0x54ffffc1u, WFI }, 4, 3, DATA_BASE, 0, 0, 0 },
    { "store", "MMU off, same page", "iter", K_STORE, false,
      { 0xb9000040u, 0xf1000421u, 0x54ffffc1u, WFI }, 4, 3, STORE_ADDR, 0, 0, 0 },
    { "stride-64", "MMU off, load, 64 pages", "iter", K_STRIDE, false,
      STRIDE_LOOP(0x92741463u), 6, 5, DATA_BASE, 0x0003f000u, 0, 0 },
    { "stride-16384", "MMU off, load, 16384 pages", "iter", K_STRIDE, false,
      STRIDE_LOOP(0x92743463u), 6, 5, DATA_BASE, 0x03fff000u, 0, 0 },
    { "pg-hot-16", "4K pages, ldr/add/str, 16 pg", "touch", K_ADD, true,
      ADD_LOOP(0x92740c63u), 8, 7, DATA_BASE, 0x0000f000u, 0, 0 },
    { "pg-miss-16384", "4K pages, ldr/add/str, 16384", "miss", K_ADD, true,
      ADD_LOOP(0x92743463u), 8, 7, DATA_BASE, 0x03fff000u, TARGET_MISS_RATIO, 0 },
};
#define NUM_LOOPS G_N_ELEMENTS(loops)

const char *const gb_arm64_cases[] = {
    "alu", "load", "store", "stride-64", "stride-16384", "pg-hot-16", "pg-miss-16384", NULL,
};

static const uint32_t prologue[PROLOGUE_LEN] = {
    0xd518a204u,  /* msr mair_el1, x4 */
    0xd5182045u,  /* msr tcr_el1, x5 */
    0xd5182006u,  /* msr ttbr0_el1, x6 */
    0xd5033fdfu,  /* isb */
    0xd5181007u,  /* msr sctlr_el1, x7 */
    0xd5033fdfu,  /* isb */
    0xd508871fu,  /* tlbi vmalle1 */
    0xd5033f9fu,  /* dsb sy */
    0xd5033fdfu,  /* isb */
    0xb9400040u,  /* ldr w0, [x2] */
    WFI,
};

static uint64_t loop_addr(const A64Loop *l)
{
    return CODE_BASE + (uint64_t)(l - loops) * PAGE_SIZE;
}

static uint64_t loop_wfi(const A64Loop *l)
{
    return loop_addr(l) + 4 * (l->len - 1);
}

/* ------------------------------------------------------------------------ */
/* Engines                                                                   */

typedef struct Engine Engine;
struct Engine {
    const char *name;
    bool available;
    const char *note;        /* why not available */
    /* Run from `start` to the wfi at `wfi` with x0..x7 = x[] (read back
     * into x[]), expecting `insns` instructions (the wfi included); false
     * (with why) if it did not stop there. */
    bool (*exec)(Engine *e, uint64_t start, uint64_t wfi, uint64_t x[8], uint64_t insns,
                 char *why, size_t why_len);
    uint64_t (*sctlr)(Engine *e);
    uint32_t (*read32)(Engine *e, uint32_t pa);
    void (*write)(Engine *e, uint32_t pa, const void *p, size_t len);
    bool paging;
    uint32_t *shadow;        /* the paging loops: each data page's first word */
};

static void write32(Engine *e, uint32_t pa, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    e->write(e, pa, &v, 4);
}

/* --- mmusim --- */

typedef struct MmMachine {
    MemRegion *global, *ram;
    CpuView *view;
    CodeCache *cc;
    ArmCpu *cpu;
    uint8_t *mem;
} MmMachine;

static MmMachine mm;
static Engine eng_mm;

/* Nothing is asked of the machine: no HVC, no timer, no GIC. */
static const ArmMachineOps mm_mops = { 0 };

static uint32_t mm_read32(Engine *e, uint32_t pa)
{
    (void)e;
    uint32_t v;
    memcpy(&v, mm.mem + pa, 4);
    return GUINT32_FROM_LE(v);
}

/* Written as a device would: the code cache is told. */
static void mm_write(Engine *e, uint32_t pa, const void *p, size_t len)
{
    (void)e;
    g_assert((uint64_t)pa + len <= RAM_SIZE);
    mr_note_write(mm.ram, pa, len);
    memcpy(mm.mem + pa, p, len);
}

static uint64_t mm_sctlr(Engine *e)
{
    (void)e;
    return mm.cpu->sctlr_el1;
}

static bool mm_exec(Engine *e, uint64_t start, uint64_t wfi, uint64_t x[8], uint64_t insns,
                    char *why, size_t why_len)
{
    (void)e;
    ArmCpu *cpu = mm.cpu;
    memcpy(cpu->x, x, 8 * sizeof(x[0]));
    cpu->pc = start;
    cpu->halted = false;
    uint64_t ic0 = cpu->icount;
    ArmExit r = arm_cpu_run(cpu, insns + 64);
    memcpy(x, cpu->x, 8 * sizeof(x[0]));
    uint64_t got = cpu->icount - ic0;
    /* WFI retires: the PC is past it. */
    if (r != ARM_EXIT_HALTED || got != insns || cpu->pc != wfi + 4) {
        snprintf(why, why_len, "exit %d at pc 0x%" PRIx64 " after %" PRIu64 " instructions "
                 "(expected the wfi at 0x%" PRIx64 " after %" PRIu64 "); ESR_EL1 0x%" PRIx64
                 " ELR_EL1 0x%" PRIx64 " FAR_EL1 0x%" PRIx64, (int)r, cpu->pc, got, wfi,
                 insns, cpu->esr_el1, cpu->elr_el1, cpu->far_el1);
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
    mem_transaction_commit();
    mm.mem = mr_ram_ptr(mm.ram);
    memset(mm.mem, 0, RAM_SIZE);  /* fault the RAM in now (it is allocated lazily) */

    CpuViewConfig cfg = { .cpu_index = 0, .global_map = mm.global };
    mm.view = cpu_view_new(&cfg, &err);
    gb_die_on_error(err, "cpu_view_new");
    mm.cc = code_cache_new();
    mm.cpu = arm_cpu_new(0, mm.view, mm.cc, &mm_mops, &mm, &err);
    gb_die_on_error(err, "arm_cpu_new");
    if (gb_tlb_fixed) {
        tlb_set_geometry(mm.cpu->tlb, gb_tlb_fixed, 8, false, &err);
        gb_die_on_error(err, "--tlb-fixed");
    }
    arm_cpu_reset(mm.cpu, CODE_BASE);   /* EL1h, MMU off, DAIF masked */
    mm.cpu->vbar_el1 = VECTORS;
    arm_set_sp(mm.cpu, CODE_BASE);

    eng_mm = (Engine){
        .name = "mmusim", .available = true, .exec = mm_exec, .sctlr = mm_sctlr,
        .read32 = mm_read32, .write = mm_write,
    };
}

static void mm_free(void)
{
    arm_cpu_free(mm.cpu);
    code_cache_free(mm.cc);
    cpu_view_free(mm.view);
    mr_unref(mm.ram);
    mr_unref(mm.global);
}

/* --- Unicorn --- */

static Engine eng_uc;

#ifdef HAVE_UNICORN
static uc_engine *uc;
static char uc_name[32] = "unicorn";

static const int uc_xregs[8] = {
    UC_ARM64_REG_X0, UC_ARM64_REG_X1, UC_ARM64_REG_X2, UC_ARM64_REG_X3,
    UC_ARM64_REG_X4, UC_ARM64_REG_X5, UC_ARM64_REG_X6, UC_ARM64_REG_X7,
};

static uint32_t uc_read32(Engine *e, uint32_t pa)
{
    (void)e;
    uint32_t v = 0;
    if (uc_mem_read(uc, pa, &v, 4) != UC_ERR_OK) {
        return 0xdeadbeefu;
    }
    return GUINT32_FROM_LE(v);
}

static void uc_write(Engine *e, uint32_t pa, const void *p, size_t len)
{
    (void)e;
    uc_err err = uc_mem_write(uc, pa, p, len);
    if (err != UC_ERR_OK) {
        fprintf(stderr, "guest-bench: unicorn: uc_mem_write at 0x%x: %s\n", pa,
                uc_strerror(err));
        exit(1);
    }
}

/* SCTLR_EL1 through the generic system-register access (op0 3, op1 0,
 * CRn 1, CRm 0, op2 0); 0 if Unicorn cannot read it. */
static uint64_t uc_sctlr(Engine *e)
{
    (void)e;
    uc_arm64_cp_reg r = { .crn = 1, .crm = 0, .op0 = 3, .op1 = 0, .op2 = 0 };
    if (uc_reg_read(uc, UC_ARM64_REG_CP_REG, &r) != UC_ERR_OK) {
        return 0;
    }
    return r.val;
}

static bool uc_exec(Engine *e, uint64_t start, uint64_t wfi, uint64_t x[8], uint64_t insns,
                    char *why, size_t why_len)
{
    (void)e;
    for (int i = 0; i < 8; i++) {
        uc_reg_write(uc, uc_xregs[i], &x[i]);
    }
    /* A timeout only for short runs (the checks): a loop Unicorn mis-runs
     * must not hang the benchmark. Timed runs have none (it costs a thread). */
    uc_err err = uc_emu_start(uc, start, wfi, insns <= 1000 ? 2000000 : 0, 0);
    uint64_t pc = 0;
    for (int i = 0; i < 8; i++) {
        uc_reg_read(uc, uc_xregs[i], &x[i]);
    }
    uc_reg_read(uc, UC_ARM64_REG_PC, &pc);
    if (err != UC_ERR_OK || pc != wfi) {
        snprintf(why, why_len, "uc_emu_start: %s, pc 0x%" PRIx64 " (expected 0x%" PRIx64 ")",
                 err != UC_ERR_OK ? uc_strerror(err) : "ok", pc, wfi);
        return false;
    }
    return true;
}

static void uc_init(void)
{
    eng_uc = (Engine){
        .name = uc_name, .exec = uc_exec, .sctlr = uc_sctlr, .read32 = uc_read32,
        .write = uc_write,
    };
    uc = gb_uc_open(UC_ARCH_ARM64, UC_MODE_ARM, RAM_SIZE, uc_name, sizeof(uc_name),
                    &eng_uc.note);
    if (!uc) {
        return;
    }
    uint64_t vbar = VECTORS;
    uc_reg_write(uc, UC_ARM64_REG_VBAR_EL1, &vbar);
    eng_uc.available = true;
}

static void uc_teardown(void)
{
    if (uc) {
        uc_close(uc);
    }
}
#endif

/* ------------------------------------------------------------------------ */
/* Guest memory and the MMU                                                  */

/* The vectors, the prologue, the loops, the tables and the page marks. */
static void load_memory(Engine *e)
{
    uint32_t vec[16 * 32];   /* 16 entries of 0x80 bytes, each a wfi */
    for (unsigned i = 0; i < G_N_ELEMENTS(vec); i++) {
        vec[i] = GUINT32_TO_LE(WFI);
    }
    e->write(e, VECTORS, vec, sizeof(vec));
    for (unsigned i = 0; i < PROLOGUE_LEN; i++) {
        write32(e, PROLOGUE + 4 * i, prologue[i]);
    }
    for (guint k = 0; k < NUM_LOOPS; k++) {
        for (unsigned i = 0; i < loops[k].len; i++) {
            write32(e, (uint32_t)loop_addr(&loops[k]) + 4 * i, loops[k].code[i]);
        }
    }
    /* Level 1 (VA[38:30]): entry 0 -> the level-2 table; level 2
     * (VA[29:21]): 64 entries -> the level-3 tables; level 3 (VA[20:12]):
     * a page descriptor per 4 KiB of the first 128 MiB, the identity but
     * for the probe's alias. */
    size_t pt_bytes = (2 + PT_L3_TABLES) * PAGE_SIZE;
    uint64_t *pt = g_malloc0(pt_bytes);
    uint64_t l2 = PT_BASE + PAGE_SIZE;
    pt[0] = GUINT64_TO_LE(l2 | DESC_TABLE);
    for (uint32_t i = 0; i < PT_L3_TABLES; i++) {
        pt[512 + i] = GUINT64_TO_LE((PT_BASE + (2 + i) * PAGE_SIZE) | DESC_TABLE);
        for (uint32_t j = 0; j < 512; j++) {
            uint64_t page = i * 512 + j;
            pt[512 * (2 + i) + j] = GUINT64_TO_LE((page * PAGE_SIZE) | DESC_PAGE);
        }
    }
    pt[512 * 2 + ALIAS_VA / PAGE_SIZE] = GUINT64_TO_LE(DATA_BASE | DESC_PAGE);
    e->write(e, PT_BASE, pt, pt_bytes);
    g_free(pt);
    e->shadow = g_new(uint32_t, DATA_PAGES);
    for (uint32_t p = 0; p < DATA_PAGES; p++) {
        write32(e, DATA_BASE + p * PAGE_SIZE, page_mark(p));
        e->shadow[p] = page_mark(p);
    }
}

/* Turn the MMU on or off with the guest prologue, then check that it took
 * (SCTLR_EL1.M as the engine reports it, and the alias probe). */
static bool set_paging(Engine *e, bool on, char *why, size_t why_len)
{
    uint64_t sctlr = e->sctlr(e) & ~(SCTLR_M | SCTLR_C | SCTLR_I);
    if (on) {
        sctlr |= SCTLR_M | SCTLR_C | SCTLR_I;
    }
    uint64_t x[8] = { 0, 0, on ? ALIAS_VA : DATA_BASE, 0,
                      MAIR_VALUE, TCR_VALUE, PT_BASE, sctlr };
    if (!e->exec(e, PROLOGUE, PROLOGUE + 4 * (PROLOGUE_LEN - 1), x, PROLOGUE_LEN, why,
                 why_len)) {
        return false;
    }
    if ((uint32_t)x[0] != page_mark(0) || ((e->sctlr(e) & SCTLR_M) != 0) != on) {
        snprintf(why, why_len, "MMU %s: the probe read 0x%x (expected 0x%x), SCTLR_EL1 0x%"
                 PRIx64, on ? "on" : "off", (uint32_t)x[0], page_mark(0), e->sctlr(e));
        return false;
    }
    e->paging = on;
    return true;
}

/* An add loop of n iterations over `pages` pages (x3 from 0): iteration i
 * adds x1 = n - i to page i % pages. */
static void shadow_add(Engine *e, uint64_t n, uint32_t pages)
{
    for (uint64_t p = 0; p < pages && p < n; p++) {
        uint64_t c = (n - p + pages - 1) / pages;  /* iterations touching page p */
        uint64_t add = c * (n - p) - (uint64_t)pages * (c * (c - 1) / 2);
        e->shadow[p] += (uint32_t)add;
    }
}

/* ------------------------------------------------------------------------ */
/* Runs and their checks                                                     */

typedef struct Job {
    Engine *e;
    const A64Loop *l;
    unsigned runs;
    unsigned errors;
    bool timed;              /* the timed samples: TLB statistics are collected */
    TlbStats stats;          /* mmusim: over the timed samples */
    uint64_t timed_iters;
} Job;

static void job_error(Job *j, const char *why)
{
    if (j->errors++ < 3) {
        fprintf(stderr, "guest-bench: arm64 %s on %s: %s\n", j->l->name, j->e->name, why);
    }
}

/* Checks a finished run of n iterations; false (with why) if it is wrong. */
static bool check_run(Job *j, uint64_t n, const uint64_t *in, const uint64_t *out, char *why,
                      size_t why_len)
{
    const A64Loop *l = j->l;
    Engine *e = j->e;
    if (out[1] != 0) {
        snprintf(why, why_len, "x1 is 0x%" PRIx64 ", not 0", out[1]);
        return false;
    }
    switch (l->kind) {
    case K_ALU:
        if (out[0] != in[0] + n) {
            snprintf(why, why_len, "x0 is 0x%" PRIx64 ", expected 0x%" PRIx64, out[0],
                     in[0] + n);
            return false;
        }
        return true;
    case K_LOAD:
        if (out[0] != page_mark(0)) {
            snprintf(why, why_len, "x0 is 0x%" PRIx64 ", expected the mark 0x%x", out[0],
                     page_mark(0));
            return false;
        }
        return true;
    case K_STORE: {
        uint32_t got = e->read32(e, STORE_ADDR);
        if (got != (uint32_t)in[0]) {
            snprintf(why, why_len, "the stored word is 0x%x, expected 0x%x", got,
                     (uint32_t)in[0]);
            return false;
        }
        return true;
    }
    case K_STRIDE: {
        uint64_t x3 = (n * PAGE_SIZE) & l->mask;
        uint64_t last = ((n - 1) * PAGE_SIZE) & l->mask;
        uint32_t want = page_mark((uint32_t)(last / PAGE_SIZE));
        if (out[3] != x3 || out[0] != want) {
            snprintf(why, why_len, "x3 0x%" PRIx64 " x0 0x%" PRIx64 ", expected 0x%" PRIx64
                     " and the mark 0x%x", out[3], out[0], x3, want);
            return false;
        }
        return true;
    }
    case K_ADD: {
        uint64_t x3 = (n * PAGE_SIZE) & l->mask;
        if (out[3] != x3) {
            snprintf(why, why_len, "x3 is 0x%" PRIx64 ", expected 0x%" PRIx64, out[3], x3);
            return false;
        }
        /* x1 = n, n - 1, ..., 1 were added to the data words (checked at
         * the end of the case: check_pages). */
        shadow_add(e, n, l->mask / PAGE_SIZE + 1);
        return true;
    }
    }
    return false;
}

/* One run of n iterations, checked; returns how long the engine ran (ns):
 * register setup, the run and reading the registers back, not the checks. */
static double job_run(Job *j, uint64_t n)
{
    Engine *e = j->e;
    const A64Loop *l = j->l;
    char why[320];
    if (e->paging != l->paging && !set_paging(e, l->paging, why, sizeof(why))) {
        job_error(j, why);
        return 0;
    }
    /* A token per run: what the store loop must leave behind. */
    uint32_t token = 0x7e570000u + j->runs++;
    uint64_t in[8] = { 0, n, l->x2, 0, 0, 0, 0, 0 }, x[8];
    if (l->kind == K_STORE) {
        in[0] = token;
        write32(e, STORE_ADDR, ~token);
    }
    memcpy(x, in, sizeof(x));
    TlbStats s0 = { 0 };
    if (j->timed && e == &eng_mm) {
        tlb_get_stats(mm.cpu->tlb, ARM_MMU_EL1, &s0);
    }
    double t0 = gb_run_clock_ns();
    bool ok = e->exec(e, loop_addr(l), loop_wfi(l), x, l->insns * n + 1, why, sizeof(why));
    double dt = gb_run_clock_ns() - t0;
    if (j->timed && e == &eng_mm) {
        TlbStats s1;
        tlb_get_stats(mm.cpu->tlb, ARM_MMU_EL1, &s1);
        j->stats.hits += s1.hits - s0.hits;
        j->stats.misses += s1.misses - s0.misses;
        j->stats.fills += s1.fills - s0.fills;
        j->timed_iters += n;
    }
    if (!ok || !check_run(j, n, in, x, why, sizeof(why))) {
        job_error(j, why);
    }
    return dt;
}

static double job_run_fn(void *job, uint64_t n)
{
    return job_run(job, n);
}

/* Untimed trial runs; false if the engine mis-runs the loop. */
static bool trial(Job *j)
{
    unsigned e0 = j->errors;
    job_run(j, 17);
    job_run(j, 40);
    return j->errors == e0;
}

/* The paging loops' memory check: every data page's first word holds its
 * mark plus what the runs added to it, and nothing else. */
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

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

static void run_case(const A64Loop *l)
{
    gb_progress(l->name);
    Job jm = { .e = &eng_mm, .l = l }, ju = { .e = &eng_uc, .l = l };
    trial(&jm);
    const char *uc_why = eng_uc.available ? NULL : eng_uc.note;
    if (!uc_why && !trial(&ju)) {
        uc_why = l->paging ? "does not run the loop with the MMU on (see stderr)"
                           : "does not run the loop (see stderr)";
    }
    uint64_t n = gb_calibrate(&jm, job_run_fn);
    if (!uc_why) {
        uint64_t nu = gb_calibrate(&ju, job_run_fn);
        n = MIN(n, nu);  /* the slower engine's samples last >= min_sample_ns */
    }
    GbMeas m[2] = {
        { .job = &jm, .run = job_run_fn, .timed = &jm.timed, .n = n },
        { .job = &ju, .run = job_run_fn, .timed = &ju.timed, .n = n },
    };
    unsigned uc_errors_before = ju.errors;
    gb_run_interleaved(m, uc_why ? 1 : 2);
    if (l->paging) {
        check_pages(&jm);
        if (!uc_why) {
            check_pages(&ju);
        }
    }
    if (!uc_why && ju.errors != uc_errors_before) {
        uc_why = "a timed run failed its checks (see stderr)";
    }

    bool broken = jm.errors > 0;
    gb_any_broken |= broken;
    char metric[24];
    snprintf(metric, sizeof(metric), "ns_per_%s", l->metric);
    GbResult *r = gb_add_result(l->name, l->params, metric, m[0].med, "ns");
    r->broken = broken;
    double it = (double)(jm.timed_iters ? jm.timed_iters : 1);
    r->has_rates = true;
    r->miss_rate = (double)jm.stats.misses / it;
    r->walk_rate = (double)jm.stats.fills / it;
    if (!uc_why) {
        r->baseline = eng_uc.name;
        r->baseline_value = m[1].med;
    } else {
        r->baseline_note = uc_why;
    }
    if (l->ratio_target > 0) {
        r->target_kind = T_RATIO_LE;
        r->target = l->ratio_target;
    }
    r = gb_add_result(l->name, l->params, "M_insn_per_s", l->insns * 1e3 / m[0].med, "M/s");
    r->broken = broken;
    if (!uc_why) {
        r->baseline = eng_uc.name;
        r->baseline_value = l->insns * 1e3 / m[1].med;
    } else {
        r->baseline_note = uc_why;
    }
    if (l->mips_target > 0) {
        r->target_kind = T_VALUE_GE;
        r->target = l->mips_target;
    }
}

#define ARM64_LEGEND \
    "value: mmusim (AArch64 interpreter, its own TLB and VMSAv8-64 walker); base value:\n" \
    "Unicorn (UC_ARCH_ARM64) running the same words for the same iteration counts,\n" \
    "samples interleaved; ratio = value / base value. miss, walks: mmusim's data-TLB\n" \
    "misses and page walks per iteration (tlb_get_stats over the timed samples). The\n" \
    "MMU is switched by the same guest code on both engines (39-bit VA, 3-level walk,\n" \
    "4 KiB pages). Every run is checked (registers, memory). Targets are informative.\n"

int gb_arm64_main(void)
{
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
    for (guint k = 0; k < NUM_LOOPS; k++) {
        if (gb_is_selected(loops[k].name)) {
            run_case(&loops[k]);
        }
    }
    GbBaseline uc_desc = { eng_uc.name, eng_uc.available, eng_uc.note };
    gb_print_report("arm64", ARM64_LEGEND, &uc_desc, (gb_now_ns() - t0) / 1e9);
    if (gb_any_broken) {
        fprintf(stderr, "guest-bench: mmusim failed its checks (rows marked BROKEN)\n");
    }
#ifdef HAVE_UNICORN
    uc_teardown();
#endif
    mm_free();
    g_free(eng_mm.shadow);
    g_free(eng_uc.shadow);
    return gb_any_broken ? 1 : 0;
}
