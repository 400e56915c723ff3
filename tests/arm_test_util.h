/*
 * Shared fixture for the AArch64 system-half tests (test_arm_mmu.c,
 * test_arm_sys.c): a RAM-backed address space, hand-made ArmCpu structures
 * with a real TLB on arm_tlb_ops (no interpreter, no arm_cpu_new), and a
 * builder of VMSAv8-64 4 KiB-granule translation tables in guest RAM.
 *
 * Physical map: RAM [0, 16 MiB), a recording MMIO device at 32 MiB,
 * everything else unassigned. Tables are allocated from PT_AREA upward;
 * data pages live at DATA_AREA and above.
 */
#ifndef MMUSIM_TESTS_ARM_TEST_UTIL_H
#define MMUSIM_TESTS_ARM_TEST_UTIL_H

#include "test_util.h"

#include "targets/arm/arm_internal.h"
#include "targets/arm/arm_mmu.h"

#define RAM_SIZE   (16ull << 20)
#define PT_AREA    0x100000ull
#define PT_END     0x800000ull
#define DATA_AREA  0x800000ull
#define MMIO_BASE  0x2000000ull
#define UNASSIGNED 0x40000000ull

/* Descriptor bits (ARM ARM D5.3). */
#define D_AF      (1ull << 10)
#define D_NG      (1ull << 11)   /* not global: belongs to the current ASID */
#define D_SH_IS   (3ull << 8)
#define D_AP1     (1ull << 6)
#define D_AP2     (1ull << 7)
#define D_PXN     (1ull << 53)
#define D_UXN     (1ull << 54)
#define D_ATTR(i) ((uint64_t)(i) << 2)
#define T_PXN     (1ull << 59)
#define T_UXN     (1ull << 60)
#define T_AP0     (1ull << 61)
#define T_AP1     (1ull << 62)
#define D_NORMAL  (D_AF | D_SH_IS)

/* SCTLR_EL1 reset-like value: RES1 bits and SPAN. */
#define SCTLR_RES1_BITS 0x30d00980ull
#define SCTLR_M_BIT     1ull

/* TCR_EL1 with T0SZ = T1SZ = 16, 4 KiB granules, IPS 48 bits. */
#define TCR_TSZ(t0, t1) ((uint64_t)(t0) | ((uint64_t)(t1) << 16))
#define TCR_4K_48 ((2ull << 30) | (5ull << 32))

#define PR TLB_PROT_READ
#define PW TLB_PROT_WRITE
#define PX TLB_PROT_EXEC

static MemRegion *g_root;
static AddressSpace *g_as;
static uint8_t *g_ram;
static TuDev *g_dev;
static uint64_t g_next_table;

static inline ArmCpu *at_cpu_new(unsigned index)
{
    ArmCpu *cpu = g_new0(ArmCpu, 1);
    cpu->index = index;
    cpu->mem_as = g_as;
    cpu->trace_out = stderr;
    TlbConfig cfg;
    tlb_config_default(&cfg);
    cfg.nb_mmu_idx = ARM_NB_MMU;
    GError *err = NULL;
    cpu->tlb = tlb_new(g_as, &cfg, &arm_tlb_ops, cpu, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(cpu->tlb);
    cpu->el = 1;
    cpu->sp_sel = true;
    cpu->daif = ARM_PSTATE_D | ARM_PSTATE_A | ARM_PSTATE_I | ARM_PSTATE_F;
    cpu->sctlr_el1 = SCTLR_RES1_BITS;
    cpu->excl_addr = UINT64_MAX;
    cpu->cntfrq_el0 = 62500000;
    cpu->mmu_idx = ARM_MMU_EL1;
    cpu->oslk = true;
    return cpu;
}

static inline void at_cpu_free(ArmCpu *cpu)
{
    if (cpu) {
        tlb_free(cpu->tlb);
        g_free(cpu);
    }
}

static inline void at_setup(void)
{
    tu_setup();
    g_root = tu_container("root", MEM_SIZE_FULL);
    MemRegion *ram = tu_put(g_root, 0, tu_ram("ram", RAM_SIZE, 0), 0);
    g_ram = mr_ram_ptr(ram);
    g_dev = tu_dev_simple();
    tu_put(g_root, MMIO_BASE, tu_mmio("dev", TU_DEV_MEM, g_dev), 0);
    g_as = tu_as("cpu0", g_root);
    g_next_table = PT_AREA;
}

static inline void at_teardown(void)
{
    as_free(g_as);
    mr_unref(g_root);
    tu_dev_free(g_dev);
    tu_teardown();
}

static inline uint64_t rd64(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, g_ram + pa, 8);
    return v;
}

static inline void wr64(uint64_t pa, uint64_t v)
{
    memcpy(g_ram + pa, &v, 8);
}

static inline uint64_t pt_alloc(void)
{
    ck_assert(g_next_table + 0x1000 <= PT_END);
    uint64_t a = g_next_table;
    g_next_table += 0x1000;
    memset(g_ram + a, 0, 0x1000);
    return a;
}

/* One translation table tree for a TnSZ: root table, input size, start
 * level (D5.2.6 for the 4 KiB granule). */
typedef struct Pt {
    uint64_t root;
    unsigned inputsize;
    int start;
} Pt;

static inline Pt pt_new(unsigned tsz)
{
    Pt p;
    p.root = pt_alloc();
    p.inputsize = 64 - tsz;
    p.start = p.inputsize > 39 ? 0 : p.inputsize > 30 ? 1 : p.inputsize > 21 ? 2 : 3;
    return p;
}

static inline uint64_t pt_index(const Pt *p, uint64_t va, int level)
{
    unsigned shift = 12 + 9 * (unsigned)(3 - level);
    unsigned nbits = level == p->start ? p->inputsize - shift : 9;
    return (va >> shift) & ((1ull << nbits) - 1);
}

/* Address of the descriptor for va at `level`, creating the tables above
 * it (table descriptors with no attributes). */
static inline uint64_t pt_slot(Pt *p, uint64_t va, int level)
{
    uint64_t table = p->root;
    for (int l = p->start; l < level; l++) {
        uint64_t ea = table + pt_index(p, va, l) * 8;
        uint64_t d = rd64(ea);
        if ((d & 3) != 3) {
            d = pt_alloc() | 3;
            wr64(ea, d);
        }
        table = d & 0x0000fffffffff000ull;
    }
    return table + pt_index(p, va, level) * 8;
}

/* Map va -> pa with a page (level 3) or a block (level 1 or 2). */
static inline uint64_t pt_map(Pt *p, uint64_t va, uint64_t pa, int level, uint64_t attrs)
{
    uint64_t ea = pt_slot(p, va, level);
    wr64(ea, pa | attrs | (level == 3 ? 3 : 1));
    return ea;
}

/* OR `bits` into the table descriptor at `level` on the way to va. */
static inline void pt_table_bits(Pt *p, uint64_t va, int level, uint64_t bits)
{
    uint64_t ea = pt_slot(p, va, level);
    ck_assert_uint_eq(rd64(ea) & 3, 3);
    wr64(ea, rd64(ea) | bits);
}

/* Turn the MMU on with TTBR0 = p0 (and TTBR1 = p1 if given). */
static inline void mmu_on(ArmCpu *cpu, uint64_t tcr, const Pt *p0, const Pt *p1)
{
    cpu->tcr_el1 = tcr;
    cpu->tbi = (uint8_t)(((tcr >> 37) & 1) | (((tcr >> 38) & 1) << 1));
    cpu->ttbr0_el1 = p0 ? p0->root : 0;
    cpu->ttbr1_el1 = p1 ? p1->root : 0;
    cpu->mair_el1 = 0x000000000044ff00ull;  /* 0: Device-nGnRnE, 1: Normal WB, 2: NC */
    cpu->sctlr_el1 |= SCTLR_M_BIT;
    tlb_flush(cpu->tlb);
}

#endif
