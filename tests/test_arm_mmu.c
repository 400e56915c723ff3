/*
 * Tests of the AArch64 stage-1 translation (targets/arm/arm_mmu.c):
 * arm_tlb_ops.page_walk called directly on a hand-made ArmCpu whose tables
 * the test builds in guest RAM, and the Instruction/Data Abort syndromes
 * raise_fault produces (directly and through the real TLB).
 *
 * Expected values are written from the ARM ARM (DDI 0487) prose: D5.2
 * (translation table walks, 4 KiB granule), D5.3 (descriptor formats),
 * D5.4 (permissions), D13.2.37/39 (ESR_EL1, fault status codes).
 */
#include "arm_test_util.h"

static ArmCpu *g_cpu;

static void setup(void)
{
    at_setup();
    g_cpu = at_cpu_new(0);
    g_cpu->vbar_el1 = 0x10000;
}

static void teardown(void)
{
    at_cpu_free(g_cpu);
    g_cpu = NULL;
    at_teardown();
}

static bool walk(uint64_t va, TlbAccess acc, unsigned idx, TlbTranslation *tr, uint64_t *code)
{
    TlbTranslation t = { .page_size = 0x1000 };
    TlbFault f = { .kind = TLB_FAULT_TRANSLATION, .vaddr = va, .access = acc, .mmu_idx = idx };
    bool ok = arm_tlb_ops.page_walk(g_cpu, va, acc, idx, &t, &f);
    if (tr) {
        *tr = t;
    }
    if (code) {
        *code = ok ? UINT64_MAX : f.target_code;
    }
    return ok;
}

#define EXPECT_OK(va, acc, idx, pa, size)                                                  \
    do {                                                                                   \
        TlbTranslation tr_;                                                                \
        uint64_t c_;                                                                       \
        ck_assert_msg(walk((va), (acc), (idx), &tr_, &c_),                                 \
                      "walk of 0x%" PRIx64 " faulted with fsc 0x%" PRIx64, (uint64_t)(va), c_); \
        ck_assert_uint_eq(tr_.paddr, (pa));                                                \
        ck_assert_uint_eq(tr_.page_size, (size));                                          \
    } while (0)

#define EXPECT_FAULT(va, acc, idx, fsc)                                                    \
    do {                                                                                   \
        uint64_t c_;                                                                       \
        ck_assert_msg(!walk((va), (acc), (idx), NULL, &c_), "walk of 0x%" PRIx64 " succeeded", \
                      (uint64_t)(va));                                                     \
        ck_assert_uint_eq(c_, (fsc));                                                      \
    } while (0)

static unsigned prot_of(uint64_t va, unsigned idx)
{
    TlbTranslation tr;
    if (!walk(va, TLB_READ, idx, &tr, NULL) && !walk(va, TLB_EXEC, idx, &tr, NULL) &&
        !walk(va, TLB_WRITE, idx, &tr, NULL)) {
        return 0;
    }
    return tr.prot;
}

/* ------------------------------------------------------------------ */

START_TEST(test_mmu_off)
{
    /* SCTLR_EL1.M = 0: flat, every permission (D5.2.9). */
    EXPECT_OK(0x1234, TLB_READ, ARM_MMU_EL1, 0x1234, 0x1000);
    EXPECT_OK(0x0000ffffffffff00ull, TLB_EXEC, ARM_MMU_EL0, 0x0000ffffffffff00ull, 0x1000);
    TlbTranslation tr;
    ck_assert(walk(0x5000, TLB_WRITE, ARM_MMU_EL0, &tr, NULL));
    ck_assert_uint_eq(tr.prot, PR | PW | PX);
    /* VA above the 48-bit PA range: Address size fault, level 0. */
    EXPECT_FAULT(0x0001000000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(0));
    EXPECT_FAULT(0xffff000000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(0));
    /* With TBI0 the top byte is ignored. */
    g_cpu->tcr_el1 = 1ull << 37;
    EXPECT_OK(0x5a00000000001000ull, TLB_READ, ARM_MMU_EL1, 0x1000, 0x1000);
    EXPECT_FAULT(0x5a01000000001000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(0));
}
END_TEST

START_TEST(test_pages_and_blocks)
{
    Pt p = pt_new(16);
    ck_assert_int_eq(p.start, 0);
    pt_map(&p, 0x400000, 0x123000, 3, D_NORMAL);
    pt_map(&p, 0x40000000, 0x80000000ull, 2, D_NORMAL);      /* 2 MiB block */
    pt_map(&p, 0x8000000000ull, 0xc0000000ull, 1, D_NORMAL); /* 1 GiB block */
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);

    EXPECT_OK(0x400abc, TLB_READ, ARM_MMU_EL1, 0x123abc, 0x1000);
    EXPECT_OK(0x400abc, TLB_WRITE, ARM_MMU_EL1, 0x123abc, 0x1000);
    EXPECT_OK(0x4012345a, TLB_READ, ARM_MMU_EL1, 0x8012345a, 0x200000);
    EXPECT_OK(0x803abcdef0ull, TLB_READ, ARM_MMU_EL1, 0xfabcdef0ull, 0x40000000);
    /* Unmapped neighbours: translation faults at the level that is empty. */
    EXPECT_FAULT(0x401000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(3));
    EXPECT_FAULT(0x600000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(2));
    EXPECT_FAULT(0xc0000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(1));
    EXPECT_FAULT(0x10000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    /* Block descriptor bits below the block size are ignored (RES0). */
    pt_map(&p, 0x40200000, 0x80200000ull | 0x1f000, 2, D_NORMAL);
    EXPECT_OK(0x40200010, TLB_READ, ARM_MMU_EL1, 0x80200010, 0x200000);
}
END_TEST

/* The walk cache (the last level-3 table) never outlives a TLB
 * invalidation: a level-2 descriptor re-pointed to another level-3 table
 * is seen after any flush, as after TLBI on hardware. */
START_TEST(test_walk_cache_follows_invalidation)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x400000, 0x123000, 3, D_NORMAL);
    pt_map(&p, 0x401000, 0x124000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    EXPECT_OK(0x400abc, TLB_READ, ARM_MMU_EL1, 0x123abc, 0x1000);
    EXPECT_OK(0x401abc, TLB_READ, ARM_MMU_EL1, 0x124abc, 0x1000);   /* via the cache */
    /* Find the level-2 descriptor of VA 0x400000 and re-point it. */
    uint64_t l1 = rd64(p.root + 8 * ((0x400000ull >> 39) & 511)) & 0xfffffffff000ull;
    uint64_t l2 = rd64(l1 + 8 * ((0x400000ull >> 30) & 511)) & 0xfffffffff000ull;
    uint64_t l2e = l2 + 8 * ((0x400000ull >> 21) & 511);
    uint64_t t2 = pt_alloc();
    wr64(t2 + 8 * 1, 0x456000 | D_NORMAL | 3);
    wr64(l2e, t2 | 3);
    tlb_flush_page(g_cpu->tlb, 0x999000);   /* any invalidation, even of another page */
    EXPECT_OK(0x401abc, TLB_READ, ARM_MMU_EL1, 0x456abc, 0x1000);
    EXPECT_FAULT(0x400abc, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(3));
}
END_TEST

START_TEST(test_ttbr1)
{
    Pt p0 = pt_new(16), p1 = pt_new(16);
    pt_map(&p0, 0x1000, 0x2000, 3, D_NORMAL);
    pt_map(&p1, 0xffff000000001000ull, 0x3000, 3, D_NORMAL);
    pt_map(&p1, 0xffffffffffe00000ull, 0x400000, 2, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p0, &p1);
    EXPECT_OK(0x1008, TLB_READ, ARM_MMU_EL1, 0x2008, 0x1000);
    EXPECT_OK(0xffff000000001008ull, TLB_READ, ARM_MMU_EL1, 0x3008, 0x1000);
    EXPECT_OK(0xfffffffffffff000ull, TLB_READ, ARM_MMU_EL1, 0x5ff000, 0x200000);
    /* Outside both ranges: level 0 translation fault. */
    EXPECT_FAULT(0x0001000000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    EXPECT_FAULT(0xfffe000000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    EXPECT_FAULT(0x8000000000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    /* TBI1: the tag of a TTBR1 address is ignored; without TBI it faults. */
    EXPECT_FAULT(0x00ff000000001000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    g_cpu->tcr_el1 |= 1ull << 38;
    EXPECT_OK(0x00ff000000001000ull, TLB_READ, ARM_MMU_EL1, 0x3000, 0x1000);
    EXPECT_FAULT(0x0000000000001000ull | (0x12ull << 56), TLB_READ, ARM_MMU_EL1,
                 ARM_FSC_TRANSLATION(0)); /* TBI0 still off */
    /* EPD1: walks through TTBR1 fault at level 0; EPD0 likewise. */
    g_cpu->tcr_el1 |= 1ull << 23;
    EXPECT_FAULT(0xffff000000001000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    EXPECT_OK(0x1000, TLB_READ, ARM_MMU_EL1, 0x2000, 0x1000);
    g_cpu->tcr_el1 |= 1ull << 7;
    EXPECT_FAULT(0x1000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
}
END_TEST

START_TEST(test_tsz_start_levels)
{
    /* T0SZ 25: 39-bit, start level 1. */
    Pt p = pt_new(25);
    ck_assert_int_eq(p.start, 1);
    pt_map(&p, 0x7fffe00000ull, 0x600000, 2, D_NORMAL);
    pt_map(&p, 0x1000, 0x9000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(25, 25) | TCR_4K_48, &p, NULL);
    EXPECT_OK(0x7fffe00010ull, TLB_READ, ARM_MMU_EL1, 0x600010, 0x200000);
    EXPECT_OK(0x1ff0, TLB_READ, ARM_MMU_EL1, 0x9ff0, 0x1000);
    EXPECT_FAULT(0x8000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    EXPECT_FAULT(0x40000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(1));

    /* T0SZ 33: 31-bit, start level 1 with a 2-entry table. */
    Pt q = pt_new(33);
    ck_assert_int_eq(q.start, 1);
    pt_map(&q, 0x40000000, 0x200000, 2, D_NORMAL);
    pt_map(&q, 0x7ffff000, 0xa000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(33, 33) | TCR_4K_48, &q, NULL);
    EXPECT_OK(0x40000004, TLB_READ, ARM_MMU_EL1, 0x200004, 0x200000);
    EXPECT_OK(0x7ffff004, TLB_READ, ARM_MMU_EL1, 0xa004, 0x1000);
    EXPECT_FAULT(0x80000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    EXPECT_FAULT(0x0, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(1));

    /* T0SZ 39: 25-bit, start level 2 with 16 entries. */
    Pt u = pt_new(39);
    ck_assert_int_eq(u.start, 2);
    pt_map(&u, 0x1e00000, 0x400000, 2, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(39, 39) | TCR_4K_48, &u, NULL);
    EXPECT_OK(0x1e00040, TLB_READ, ARM_MMU_EL1, 0x400040, 0x200000);
    EXPECT_FAULT(0x1000000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(2));
    EXPECT_FAULT(0x2000000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));

    /* T0SZ 20: 44-bit, start level 0 with 32 entries; the root table may
     * be aligned to only 256 bytes. */
    Pt r = pt_new(20);
    r.root += 0x100;
    ck_assert_int_eq(r.start, 0);
    pt_map(&r, 0xfff00000000ull, 0xb000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(20, 20) | TCR_4K_48, &r, NULL);
    EXPECT_OK(0xfff00000008ull, TLB_READ, ARM_MMU_EL1, 0xb008, 0x1000);
    EXPECT_FAULT(0x100000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));

    /* T0SZ out of range is clamped: 10 behaves as 16, 45 as 39. */
    Pt s = pt_new(16);
    pt_map(&s, 0x1000, 0xc000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(10, 16) | TCR_4K_48, &s, NULL);
    EXPECT_OK(0x1000, TLB_READ, ARM_MMU_EL1, 0xc000, 0x1000);
    EXPECT_FAULT(0x0001000000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    Pt t = pt_new(39);
    ck_assert_int_eq(t.start, 2);
    pt_map(&t, 0x2000, 0xd000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(45, 16) | TCR_4K_48, &t, NULL);
    EXPECT_OK(0x2000, TLB_READ, ARM_MMU_EL1, 0xd000, 0x1000);
    EXPECT_FAULT(0x2000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));

    /* TG0 = 64 KiB (not implemented) behaves as 4 KiB. */
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48 | (1ull << 14), &s, NULL);
    EXPECT_OK(0x1000, TLB_READ, ARM_MMU_EL1, 0xc000, 0x1000);
}
END_TEST

START_TEST(test_fault_kinds)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, 0x5000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);

    /* Level 0 block: reserved with a 4 KiB granule. */
    wr64(pt_slot(&p, 0x8000000000ull, 0), 0x0 | D_NORMAL | 1);
    EXPECT_FAULT(0x8000000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(0));
    /* Level 3 with bits[1:0] = 0b01: reserved. */
    wr64(pt_slot(&p, 0x2000, 3), 0x6000 | D_NORMAL | 1);
    EXPECT_FAULT(0x2000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(3));
    /* Invalid descriptors at each level. */
    EXPECT_FAULT(0x3000, TLB_READ, ARM_MMU_EL1, ARM_FSC_TRANSLATION(3));
    EXPECT_FAULT(0x40000000ull, TLB_EXEC, ARM_MMU_EL0, ARM_FSC_TRANSLATION(1));
    EXPECT_FAULT(0x200000, TLB_WRITE, ARM_MMU_EL1, ARM_FSC_TRANSLATION(2));

    /* Access flag: page (level 3) and block (level 2), every access kind. */
    pt_map(&p, 0x4000, 0x7000, 3, D_SH_IS | D_AP1);
    EXPECT_FAULT(0x4000, TLB_READ, ARM_MMU_EL1, ARM_FSC_ACCESS_FLAG(3));
    EXPECT_FAULT(0x4000, TLB_EXEC, ARM_MMU_EL0, ARM_FSC_ACCESS_FLAG(3));
    pt_map(&p, 0x600000, 0x800000, 2, D_SH_IS);
    EXPECT_FAULT(0x600000, TLB_WRITE, ARM_MMU_EL1, ARM_FSC_ACCESS_FLAG(2));
    pt_map(&p, 0x80000000ull, 0x80000000ull, 1, 0);
    EXPECT_FAULT(0x80000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_ACCESS_FLAG(1));

    /* Permission faults carry the level of the final descriptor. */
    pt_map(&p, 0xa00000, 0xa00000, 2, D_NORMAL | D_AP2);
    EXPECT_FAULT(0xa00000, TLB_WRITE, ARM_MMU_EL1, ARM_FSC_PERMISSION(2));
    EXPECT_FAULT(0x1000, TLB_READ, ARM_MMU_EL0, ARM_FSC_PERMISSION(3));
    pt_map(&p, 0xc0000000ull, 0xc0000000ull, 1, D_NORMAL | D_PXN);
    EXPECT_FAULT(0xc0000000ull, TLB_EXEC, ARM_MMU_EL1, ARM_FSC_PERMISSION(1));

    /* Priority: an access flag fault comes before a permission fault. */
    pt_map(&p, 0x5000, 0x5000, 3, D_SH_IS | D_AP2);
    EXPECT_FAULT(0x5000, TLB_WRITE, ARM_MMU_EL1, ARM_FSC_ACCESS_FLAG(3));
}
END_TEST

START_TEST(test_address_size)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, 0x100000000ull, 3, D_NORMAL);        /* OA 4 GiB */
    pt_map(&p, 0x200000, 0x1000000000ull, 2, D_NORMAL);     /* OA 64 GiB */
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    EXPECT_OK(0x1000, TLB_READ, ARM_MMU_EL1, 0x100000000ull, 0x1000);
    EXPECT_OK(0x200000, TLB_READ, ARM_MMU_EL1, 0x1000000000ull, 0x200000);

    /* IPS = 32 bits: both output addresses are too large. */
    g_cpu->tcr_el1 &= ~(7ull << 32);
    EXPECT_FAULT(0x1000, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(3));
    EXPECT_FAULT(0x200000, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(2));
    /* IPS = 36 bits: 4 GiB fits, 64 GiB does not. */
    g_cpu->tcr_el1 |= 1ull << 32;
    EXPECT_OK(0x1000, TLB_READ, ARM_MMU_EL1, 0x100000000ull, 0x1000);
    EXPECT_FAULT(0x200000, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(2));

    /* A table descriptor pointing above the output size faults at its own
     * level; so does a TTBR base above it (level 0). */
    g_cpu->tcr_el1 &= ~(7ull << 32);
    uint64_t l1 = pt_slot(&p, 0x40000000ull, 1);
    wr64(l1, 0x200000000ull | 3);
    EXPECT_FAULT(0x40000000ull, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(1));
    g_cpu->ttbr0_el1 = p.root | 0x100000000ull;
    EXPECT_FAULT(0x1000, TLB_READ, ARM_MMU_EL1, ARM_FSC_ADDR_SIZE(0));
    /* The ASID bits of TTBR are not address bits. */
    g_cpu->tcr_el1 |= 5ull << 32;
    g_cpu->ttbr0_el1 = p.root | (0x1234ull << 48);
    EXPECT_OK(0x1000, TLB_READ, ARM_MMU_EL1, 0x100000000ull, 0x1000);
}
END_TEST

START_TEST(test_walk_external_abort)
{
    /* TTBR0 points at unassigned memory: the first descriptor read fails. */
    Pt p = pt_new(16);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    g_cpu->ttbr0_el1 = UNASSIGNED;
    EXPECT_FAULT(0x1000, TLB_READ, ARM_MMU_EL1, ARM_FSC_WALK_EXTERNAL(0));
    /* A level 2 table in unassigned memory: abort at level 2. */
    g_cpu->ttbr0_el1 = p.root;
    wr64(pt_slot(&p, 0x1000, 1), UNASSIGNED | 3);
    EXPECT_FAULT(0x1000, TLB_READ, ARM_MMU_EL1, ARM_FSC_WALK_EXTERNAL(2));
    /* Start level 1 (T0SZ 25) with its root unassigned: level 1. */
    g_cpu->tcr_el1 = TCR_TSZ(25, 25) | TCR_4K_48;
    g_cpu->ttbr0_el1 = UNASSIGNED;
    EXPECT_FAULT(0x1000, TLB_EXEC, ARM_MMU_EL0, ARM_FSC_WALK_EXTERNAL(1));
}
END_TEST

/*
 * Every AP[2:1], UXN, PXN and WXN combination against the tables of D5.4:
 *   AP 00: EL1 RW, EL0 -- | 01: EL1 RW, EL0 RW | 10: EL1 R, EL0 - | 11: R, R
 *   EL0 executes iff UXN = 0; EL1 iff PXN = 0 and the page is not
 *   EL0-writable; with WXN, writable (at that EL) means not executable.
 *   PAN: EL1 data accesses to EL0-readable pages are refused.
 */
START_TEST(test_permissions)
{
    static const unsigned el1_data[4] = { PR | PW, PR | PW, PR, PR };
    static const unsigned el0_data[4] = { 0, PR | PW, 0, PR };
    Pt p = pt_new(16);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    for (unsigned wxn = 0; wxn < 2; wxn++) {
        g_cpu->sctlr_el1 = SCTLR_RES1_BITS | SCTLR_M_BIT | (wxn ? 1ull << 19 : 0);
        for (unsigned ap = 0; ap < 4; ap++) {
            for (unsigned xn = 0; xn < 4; xn++) {
                bool uxn = xn & 1, pxn = xn & 2;
                uint64_t va = 0x10000 + ((ap * 4 + xn) << 12);
                pt_map(&p, va, va, 3, D_NORMAL | ((uint64_t)ap << 6) | (uxn ? D_UXN : 0) |
                                          (pxn ? D_PXN : 0));
                unsigned e1 = el1_data[ap], e0 = el0_data[ap];
                if (!pxn && ap != 1 && !(wxn && (e1 & PW))) {
                    e1 |= PX;
                }
                if (!uxn && !(wxn && (e0 & PW))) {
                    e0 |= PX;
                }
                unsigned pan = e1;
                if (ap & 1) {
                    pan &= ~(unsigned)(PR | PW);
                }
                ck_assert_msg(prot_of(va, ARM_MMU_EL1) == e1, "EL1 ap %u xn %u wxn %u: %u != %u",
                              ap, xn, wxn, prot_of(va, ARM_MMU_EL1), e1);
                ck_assert_msg(prot_of(va, ARM_MMU_EL0) == e0, "EL0 ap %u xn %u wxn %u: %u != %u",
                              ap, xn, wxn, prot_of(va, ARM_MMU_EL0), e0);
                ck_assert_msg(prot_of(va, ARM_MMU_EL1_PAN) == pan, "PAN ap %u xn %u wxn %u", ap,
                              xn, wxn);
                /* Each access kind faults exactly when its bit is missing. */
                for (int a = 0; a < 3; a++) {
                    unsigned need = a == TLB_READ ? PR : a == TLB_WRITE ? PW : PX;
                    uint64_t c;
                    bool ok = walk(va, (TlbAccess)a, ARM_MMU_EL0, NULL, &c);
                    ck_assert_int_eq(ok, (e0 & need) != 0);
                    if (!ok) {
                        ck_assert_uint_eq(c, ARM_FSC_PERMISSION(3));
                    }
                }
            }
        }
    }
}
END_TEST

START_TEST(test_table_attributes)
{
    Pt p = pt_new(16);
    uint64_t rw_all = D_NORMAL | D_AP1;   /* EL0 RW, executable everywhere but EL1 */
    uint64_t ro_all = D_NORMAL | D_AP1 | D_AP2;
    pt_map(&p, 0x40001000ull, 0x1000, 3, ro_all);
    pt_map(&p, 0x80001000ull, 0x2000, 3, rw_all);
    pt_map(&p, 0xc0000000ull, 0x3000, 3, ro_all);
    pt_map(&p, 0x100000000ull, 0x4000, 3, ro_all);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    ck_assert_uint_eq(prot_of(0x40001000ull, ARM_MMU_EL0), PR | PX);
    ck_assert_uint_eq(prot_of(0x80001000ull, ARM_MMU_EL0), PR | PW | PX);

    /* APTable[0] in the level 2 table descriptor: no EL0 access below. */
    pt_table_bits(&p, 0x40001000ull, 2, T_AP0);
    ck_assert_uint_eq(prot_of(0x40001000ull, ARM_MMU_EL0), PX);
    ck_assert_uint_eq(prot_of(0x40001000ull, ARM_MMU_EL1), PR | PX);
    EXPECT_FAULT(0x40001000ull, TLB_READ, ARM_MMU_EL0, ARM_FSC_PERMISSION(3));
    /* APTable[1]: read-only below, which also lifts the implied PXN. */
    pt_table_bits(&p, 0x80001000ull, 2, T_AP1);
    ck_assert_uint_eq(prot_of(0x80001000ull, ARM_MMU_EL0), PR | PX);
    ck_assert_uint_eq(prot_of(0x80001000ull, ARM_MMU_EL1), PR | PX);
    /* UXNTable (level 1) and PXNTable (level 0) reach every level below. */
    pt_table_bits(&p, 0xc0000000ull, 1, T_UXN);
    ck_assert_uint_eq(prot_of(0xc0000000ull, ARM_MMU_EL0), PR);
    ck_assert_uint_eq(prot_of(0xc0000000ull, ARM_MMU_EL1), PR | PX);
    pt_table_bits(&p, 0x100000000ull, 0, T_PXN);
    ck_assert_uint_eq(prot_of(0x100000000ull, ARM_MMU_EL0), PR | PX);
    ck_assert_uint_eq(prot_of(0x100000000ull, ARM_MMU_EL1), PR);
    EXPECT_FAULT(0x100000000ull, TLB_EXEC, ARM_MMU_EL1, ARM_FSC_PERMISSION(3));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Syndromes. */

static void raise_f(TlbFaultKind kind, TlbAccess acc, uint64_t va, uint64_t code)
{
    TlbFault f = { .kind = kind, .vaddr = va, .access = acc, .mmu_idx = g_cpu->mmu_idx,
                   .size = 4, .target_code = code };
    arm_tlb_ops.raise_fault(g_cpu, &f);
}

static void at_el(unsigned el, uint64_t pc)
{
    g_cpu->el = el;
    g_cpu->sp_sel = el != 0;
    g_cpu->mmu_idx = el ? ARM_MMU_EL1 : ARM_MMU_EL0;
    g_cpu->pc = pc;
    g_cpu->daif = 0;
}

START_TEST(test_raise_fault_syndromes)
{
    /* Data abort from EL1, read, translation level 3. */
    at_el(1, 0x4000);
    raise_f(TLB_FAULT_TRANSLATION, TLB_READ, 0x1234, ARM_FSC_TRANSLATION(3));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x25u << 26) | ARM_ESR_IL | 0x07);
    ck_assert_uint_eq(g_cpu->far_el1, 0x1234);
    ck_assert_uint_eq(g_cpu->elr_el1, 0x4000);
    ck_assert_uint_eq(g_cpu->pc, 0x10200);
    /* Data abort from EL0, write: EC 0x24, WnR. */
    at_el(0, 0x8000);
    raise_f(TLB_FAULT_TRANSLATION, TLB_WRITE, 0xdead0, ARM_FSC_PERMISSION(2));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x24u << 26) | ARM_ESR_IL | (1u << 6) | 0x0e);
    ck_assert_uint_eq(g_cpu->far_el1, 0xdead0);
    ck_assert_uint_eq(g_cpu->pc, 0x10400);
    ck_assert_uint_eq(g_cpu->spsr_el1, 0);
    ck_assert_uint_eq(g_cpu->el, 1);
    /* Instruction aborts: EC 0x20 from EL0, 0x21 from EL1; no WnR. */
    at_el(0, 0x9000);
    raise_f(TLB_FAULT_TRANSLATION, TLB_EXEC, 0x9000, ARM_FSC_ACCESS_FLAG(3));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x20u << 26) | ARM_ESR_IL | 0x0b);
    at_el(1, 0xa000);
    g_cpu->sp_sel = false;
    raise_f(TLB_FAULT_TRANSLATION, TLB_EXEC, 0xa000, ARM_FSC_ADDR_SIZE(0));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x21u << 26) | ARM_ESR_IL | 0x00);
    ck_assert_uint_eq(g_cpu->pc, 0x10000);  /* current EL with SP_EL0 */
    ck_assert_uint_eq(g_cpu->spsr_el1, ARM_PSTATE_M_EL1T);
    /* Alignment fault (0x21) and external abort (0x10) on data. */
    at_el(1, 0xb000);
    raise_f(TLB_FAULT_ALIGNMENT, TLB_WRITE, 0xb001, 0);
    ck_assert_uint_eq(g_cpu->esr_el1, (0x25u << 26) | ARM_ESR_IL | (1u << 6) | 0x21);
    ck_assert_uint_eq(g_cpu->far_el1, 0xb001);
    at_el(1, 0xc000);
    raise_f(TLB_FAULT_BUS, TLB_READ, 0xc008, 0);
    ck_assert_uint_eq(g_cpu->esr_el1, (0x25u << 26) | ARM_ESR_IL | 0x10);
    at_el(0, 0xc000);
    raise_f(TLB_FAULT_BUS, TLB_EXEC, 0xc000, 0);
    ck_assert_uint_eq(g_cpu->esr_el1, (0x20u << 26) | ARM_ESR_IL | 0x10);
    /* Walk external abort code passes through. */
    at_el(1, 0xc000);
    raise_f(TLB_FAULT_TRANSLATION, TLB_READ, 0xc000, ARM_FSC_WALK_EXTERNAL(1));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x25u << 26) | ARM_ESR_IL | 0x15);
    /* A TLB watchpoint (a debugger's) stops the access as a Watchpoint
     * exception: EC 0x35 same EL / 0x34 lower, DFSC 0x22, WnR. */
    at_el(1, 0xd000);
    raise_f(TLB_FAULT_WATCHPOINT, TLB_WRITE, 0xd008, 0);
    ck_assert_uint_eq(g_cpu->esr_el1, (0x35u << 26) | ARM_ESR_IL | (1u << 6) | 0x22);
    ck_assert_uint_eq(g_cpu->far_el1, 0xd008);
    at_el(0, 0xd000);
    raise_f(TLB_FAULT_WATCHPOINT, TLB_READ, 0xd010, 0);
    ck_assert_uint_eq(g_cpu->esr_el1, (0x34u << 26) | ARM_ESR_IL | 0x22);
}
END_TEST

START_TEST(test_mmu_trace)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, 0x5000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    g_cpu->trace = ARM_TRACE_MMU;
    g_cpu->trace_out = f;
    EXPECT_OK(0x1000, TLB_WRITE, ARM_MMU_EL1, 0x5000, 0x1000);
    EXPECT_FAULT(0x2000, TLB_EXEC, ARM_MMU_EL0, ARM_FSC_TRANSLATION(3));
    char buf[512] = { 0 };
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    g_cpu->trace_out = stderr;
    g_cpu->trace = 0;
    ck_assert(n > 0);
    ck_assert_ptr_nonnull(strstr(buf, "cpu0 mmu: w 0x1000 idx 1 -> 0x5000 prot rwx page 0x1000"));
    ck_assert_ptr_nonnull(strstr(buf, "cpu0 mmu: x 0x2000 idx 0 -> fault fsc 0x07"));
}
END_TEST

START_TEST(test_through_tlb)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, DATA_AREA, 3, D_NORMAL | D_AP1 | D_AP2); /* read-only, EL0 too */
    pt_map(&p, 0x200000, DATA_AREA + 0x200000, 2, D_NORMAL);    /* EL1 RW block */
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    wr64(DATA_AREA + 8, 0x1122334455667788ull);
    at_el(1, 0x3000);
    uint64_t v = 0;
    ck_assert(tlb_load(g_cpu->tlb, 0x1008, 8, ARM_MMU_EL1, 0, &v));
    ck_assert_uint_eq(v, 0x1122334455667788ull);
    /* Store to the read-only page: data abort, WnR, permission level 3. */
    ck_assert(!tlb_store(g_cpu->tlb, 0x1010, 4, ARM_MMU_EL1, 0, 1));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x25u << 26) | ARM_ESR_IL | (1u << 6) | 0x0f);
    ck_assert_uint_eq(g_cpu->far_el1, 0x1010);
    ck_assert_uint_eq(g_cpu->elr_el1, 0x3000);
    /* The 2 MiB block is one TLB fill for many pages. */
    at_el(1, 0x3000);
    ck_assert(tlb_store(g_cpu->tlb, 0x3ff000, 8, ARM_MMU_EL1, 0, 42));
    ck_assert_uint_eq(rd64(DATA_AREA + 0x3ff000), 42);
    ck_assert(tlb_load(g_cpu->tlb, 0x200000, 8, ARM_MMU_EL1, 0, &v));
    /* EL0 load from the EL1-only block: permission fault from EL0. */
    at_el(0, 0x5000);
    ck_assert(!tlb_load(g_cpu->tlb, 0x200010, 8, ARM_MMU_EL0, 0, &v));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x24u << 26) | ARM_ESR_IL | 0x0e);
    /* MMU off, nothing at the PA: synchronous external abort (Arm bus
     * errors fault, unlike a PC's). */
    g_cpu->sctlr_el1 &= ~SCTLR_M_BIT;
    tlb_flush(g_cpu->tlb);
    at_el(1, 0x6000);
    ck_assert(!tlb_load(g_cpu->tlb, UNASSIGNED + 0x10, 4, ARM_MMU_EL1, 0, &v));
    ck_assert_uint_eq(g_cpu->esr_el1, (0x25u << 26) | ARM_ESR_IL | 0x10);
    ck_assert_uint_eq(g_cpu->far_el1, UNASSIGNED + 0x10);
    /* arm_mmu_translate mirrors the walk. */
    TlbTranslation tr;
    uint32_t fsc = 99;
    ck_assert(arm_mmu_translate(g_cpu, 0x1234, TLB_READ, ARM_MMU_EL1, &tr, &fsc));
    ck_assert_uint_eq(tr.paddr, 0x1234);
    ck_assert_uint_eq(fsc, 0);
    ck_assert(!arm_mmu_translate(g_cpu, 1ull << 50, TLB_READ, ARM_MMU_EL1, &tr, &fsc));
    ck_assert_uint_eq(fsc, ARM_FSC_ADDR_SIZE(0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arm_mmu");
    TCase *tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_mmu_off);
    tcase_add_test(tc, test_pages_and_blocks);
    tcase_add_test(tc, test_walk_cache_follows_invalidation);
    tcase_add_test(tc, test_ttbr1);
    tcase_add_test(tc, test_tsz_start_levels);
    tcase_add_test(tc, test_fault_kinds);
    tcase_add_test(tc, test_address_size);
    tcase_add_test(tc, test_walk_external_abort);
    tcase_add_test(tc, test_permissions);
    tcase_add_test(tc, test_table_attributes);
    tcase_add_test(tc, test_raise_fault_syndromes);
    tcase_add_test(tc, test_through_tlb);
    tcase_add_test(tc, test_mmu_trace);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
