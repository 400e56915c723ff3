/*
 * The TLB over per-CPU views (memory-semantics.md §3; cpu_view.h, tlb.h):
 * per-CPU APICs through the TLB, SMRAM never leaking between modes or
 * CPUs, stale-dispatch safety across map changes, and cross-CPU flush
 * requests (queued, synchronous, threaded).
 *
 * The machine: a full 64-bit global map with
 *   0x00000000  1 MiB RAM "ram": bytes 0x11, but 0x53 ('S') under the VGA window
 *   0x000a0000  128 KiB RAM "vga" at priority 1: bytes 0x56 ('V')
 *   0xfee00000  4 KiB MMIO "bar" (reads 0xba500000 + offset), hidden by each CPU's APIC
 * SMRAM is an alias of the RAM under the VGA window. CPU n has an APIC page
 * at 0xfee00000 whose reads return 0xa1c00000 + n * 0x10000 + offset.
 * Each CPU has its own TLB with an identity page walk.
 */
#include "tlb_test_util.h"

#define NCPU 3
#define APIC_BASE 0xfee00000ull
#define VGA_BASE 0xa0000ull
#define VGA_SIZE 0x20000ull
#define BAR_TAG 0xba500000ull
#define APIC_TAG(n) (0xa1c00000ull + (uint64_t)(n) * 0x10000)

typedef struct P {
    MemRegion *global, *ram, *vga, *bar, *smram;
    TtDev *bar_dev, *apic_dev[NCPU];
    CpuView *cv[NCPU];
    TtCpu *cpu[NCPU];
    CpuTlb *t[NCPU];
} P;

static void p_new(P *p)
{
    memset(p, 0, sizeof(*p));
    p->global = tt_container("global", MEM_SIZE_FULL);
    p->ram = tt_put(p->global, 0, tt_ram("ram", 0x100000, 0), 0);
    memset(mr_ram_ptr(p->ram), 0x11, 0x100000);
    memset((uint8_t *)mr_ram_ptr(p->ram) + VGA_BASE, 0x53, VGA_SIZE);
    p->vga = tt_put(p->global, VGA_BASE, tt_ram("vga", VGA_SIZE, 0), 1);
    memset(mr_ram_ptr(p->vga), 0x56, VGA_SIZE);
    p->bar_dev = tt_dev_new(BAR_TAG);
    p->bar = tt_put(p->global, APIC_BASE, tt_mmio("bar", 0x1000, p->bar_dev), 0);
    p->smram = tt_alias("smram", p->ram, VGA_BASE, VGA_SIZE);
    for (unsigned i = 0; i < NCPU; i++) {
        char name[16];
        snprintf(name, sizeof(name), "apic%u", i);
        p->apic_dev[i] = tt_dev_new(APIC_TAG(i));
        CpuViewConfig cfg = {
            .cpu_index = i,
            .global_map = p->global,
            .smram = p->smram,
            .smram_addr = VGA_BASE,
            .apic = tt_mmio(name, 0x1000, p->apic_dev[i]),
            .apic_base = APIC_BASE,
        };
        GError *err = NULL;
        p->cv[i] = cpu_view_new(&cfg, &err);
        TT_NO_ERROR(err);
        ck_assert_ptr_nonnull(p->cv[i]);
        p->cpu[i] = tt_cpu_new(i, true);
        TlbConfig tc = tt_config(1, 256, 8, false);
        p->t[i] = tt_tlb(cpu_view_as(p->cv[i]), &tc, &tt_ops, p->cpu[i]);
    }
}

static void p_free(P *p)
{
    for (unsigned i = 0; i < NCPU; i++) {
        tlb_free(p->t[i]);
        cpu_view_free(p->cv[i]);
        tt_cpu_free(p->cpu[i]);
    }
    mr_unref(p->smram);
    mr_unref(p->global);
    for (unsigned i = 0; i < NCPU; i++) {
        tt_dev_free(p->apic_dev[i]);
    }
    tt_dev_free(p->bar_dev);
}

static uint64_t ld4(CpuTlb *t, uint64_t va)
{
    return tt_ld(t, va, 4, 0, 0);
}

static uint64_t gen_of(P *p, unsigned i)
{
    return dispatch_generation(as_dispatch(cpu_view_as(p->cv[i])));
}

/* ------------------------------------------------------------------ */
/* APIC */

START_TEST(test_apic_per_cpu)
{
    P p;
    p_new(&p);
    for (unsigned i = 0; i < NCPU; i++) {
        ck_assert_uint_eq(ld4(p.t[i], APIC_BASE + 0x20), APIC_TAG(i) + 0x20);
        ck_assert_uint_eq(tt_dev_n(p.apic_dev[i]), 1);
        TT_EXPECT_DEV(p.apic_dev[i], 0, false, 0x20, 4, APIC_TAG(i) + 0x20);
        ck_assert_uint_eq(tt_dev_at(p.apic_dev[i], 0)->attrs.requester, i);
        ck_assert(tt_tag(p.t[i], 0, APIC_BASE, TLB_READ) & TLB_FLAG_IO);
    }
    /* From the cached entries: still each CPU's own device, no walk, no miss. */
    for (unsigned i = 0; i < NCPU; i++) {
        TlbStats before = tt_stats(p.t[i], 0);
        ck_assert_uint_eq(ld4(p.t[i], APIC_BASE + 0x30), APIC_TAG(i) + 0x30);
        tt_st(p.t[i], APIC_BASE + 0xb0, 4, 0, 0, 0x1000 + i);
        ck_assert_uint_eq(tt_stats(p.t[i], 0).misses, before.misses);
        ck_assert_uint_eq(tt_nwalks(p.cpu[i]), 1);
        ck_assert_uint_eq(tt_dev_n(p.apic_dev[i]), 3);
        TT_EXPECT_DEV(p.apic_dev[i], 2, true, 0xb0, 4, 0x1000 + i);
    }
    ck_assert_uint_eq(tt_dev_n(p.bar_dev), 0);
    p_free(&p);
}
END_TEST

START_TEST(test_relocate_apic_only_that_cpu)
{
    P p;
    p_new(&p);
    for (unsigned i = 0; i < NCPU; i++) {
        ck_assert_uint_eq(ld4(p.t[i], 0x1000), 0x11111111);
        ck_assert_uint_eq(ld4(p.t[i], APIC_BASE + 0x20), APIC_TAG(i) + 0x20);
    }
    /* CPU 1 caches the APIC's future address while it is still unassigned. */
    ck_assert_uint_eq(ld4(p.t[1], 0xfed00020), 0xffffffffu);
    ck_assert(tt_cached(p.t[1], 0, 0xfed00000, TLB_READ));
    TlbStats before[NCPU];
    uint64_t gens[NCPU];
    for (unsigned i = 0; i < NCPU; i++) {
        before[i] = tt_stats(p.t[i], 0);
        gens[i] = gen_of(&p, i);
    }
    cpu_view_set_apic_base(p.cv[1], 0xfed00000);
    ck_assert_uint_ne(gen_of(&p, 1), gens[1]);
    /* CPU 1's TLB invalidated: everything (flush_all), or precisely the entries
     * under its old and new overlay ranges (one range flush per index). */
    TlbStats s1 = tt_stats(p.t[1], 0);
    ck_assert_msg(s1.flush_all + s1.flush_range == before[1].flush_all + before[1].flush_range + 1,
                  "CPU 1's TLB was not invalidated exactly once (flush_all %" PRIu64
                  ", flush_range %" PRIu64 ")", s1.flush_all, s1.flush_range);
    ck_assert(!tt_cached(p.t[1], 0, APIC_BASE, TLB_READ));
    /* An entry that survived must be stamped with the new dispatch. */
    if (tt_cached(p.t[1], 0, 0x1000, TLB_READ)) {
        ck_assert_uint_eq(tlb_peek_full(p.t[1], 0, 0x1000)->dispatch_gen, gen_of(&p, 1));
    }
    for (unsigned i = 0; i < NCPU; i += 2) {
        ck_assert_uint_eq(gen_of(&p, i), gens[i]);
        TlbStats si = tt_stats(p.t[i], 0);
        ck_assert_uint_eq(si.flush_all, before[i].flush_all);
        ck_assert_uint_eq(si.flush_range, before[i].flush_range);
        ck_assert_uint_eq(si.flush_page, before[i].flush_page);
        /* Its cached entries still serve it: hits without misses. */
        ck_assert_uint_eq(ld4(p.t[i], 0x1000), 0x11111111);
        ck_assert_uint_eq(ld4(p.t[i], APIC_BASE + 0x24), APIC_TAG(i) + 0x24);
        TlbStats now = tt_stats(p.t[i], 0);
        ck_assert_uint_eq(now.misses, before[i].misses);
        ck_assert_uint_eq(now.fills, before[i].fills);
        ck_assert_uint_ge(now.hits, before[i].hits + 1);
        ck_assert_uint_eq(tt_nwalks(p.cpu[i]), 2);
    }
    /* CPU 1: its old APIC address now shows the BAR, the new one its APIC. */
    ck_assert_uint_eq(ld4(p.t[1], APIC_BASE + 0x20), BAR_TAG + 0x20);
    ck_assert_uint_eq(tt_dev_n(p.bar_dev), 1);
    ck_assert_uint_eq(ld4(p.t[1], 0xfed00020), APIC_TAG(1) + 0x20);
    ck_assert_uint_eq(tt_dev_n(p.apic_dev[1]), 2);
    ck_assert_uint_eq(ld4(p.t[1], 0x1000), 0x11111111);
    ck_assert_uint_eq(tlb_peek_full(p.t[1], 0, 0xfed00000)->dispatch_gen, gen_of(&p, 1));
    ck_assert_uint_eq(tlb_peek_full(p.t[1], 0, APIC_BASE)->dispatch_gen, gen_of(&p, 1));
    /* Nobody else sees CPU 1's APIC at its new place. */
    ck_assert_uint_eq(ld4(p.t[0], 0xfed00020), 0xffffffffu);
    ck_assert_uint_eq(ld4(p.t[2], 0xfed00020), 0xffffffffu);
    ck_assert_uint_eq(tt_dev_n(p.apic_dev[1]), 2);
    ck_assert_uint_eq(tt_dev_n(p.apic_dev[0]), 2);
    ck_assert_uint_eq(tt_dev_n(p.apic_dev[2]), 2);

    /* Disabling CPU 2's APIC: CPU 2 reaches the BAR, CPU 0 still its APIC. */
    cpu_view_set_apic_enabled(p.cv[2], false);
    ck_assert_uint_eq(ld4(p.t[2], APIC_BASE + 0x28), BAR_TAG + 0x28);
    ck_assert_uint_eq(ld4(p.t[0], APIC_BASE + 0x28), APIC_TAG(0) + 0x28);
    ck_assert_uint_eq(tt_stats(p.t[0], 0).flush_all, before[0].flush_all);
    ck_assert_uint_eq(tt_stats(p.t[0], 0).flush_range, before[0].flush_range);
    /* Re-enabled: CPU 2's APIC again, not the BAR entry it cached meanwhile. */
    cpu_view_set_apic_enabled(p.cv[2], true);
    ck_assert_uint_eq(ld4(p.t[2], APIC_BASE + 0x2c), APIC_TAG(2) + 0x2c);
    p_free(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* SMM */

START_TEST(test_smram_never_leaks)
{
    P p;
    p_new(&p);
    uint8_t *under = (uint8_t *)mr_ram_ptr(p.ram) + VGA_BASE;
    uint8_t *vga = mr_ram_ptr(p.vga);
    /* CPU 1 also reaches the window through paging: 0x400000 -> 0xa0000. */
    tt_map(p.cpu[1], 0x400000, VGA_BASE, VGA_SIZE, TT_PAGE, TT_PROT_RWX);

    ck_assert_uint_eq(ld4(p.t[1], VGA_BASE), 0x56565656);
    ck_assert_uint_eq(ld4(p.t[1], 0x400000), 0x56565656);
    ck_assert_uint_eq(ld4(p.t[0], VGA_BASE), 0x56565656);
    tt_st(p.t[1], 0x400100, 4, 0, 0, 0x76543210); /* cache a write entry too */
    ck_assert_uint_eq(tt_host_le(vga + 0x100, 4), 0x76543210);

    cpu_view_set_smram_visible(p.cv[1], true);
    ck_assert_uint_eq(ld4(p.t[1], VGA_BASE), 0x53535353);
    ck_assert_uint_eq(ld4(p.t[1], 0x400000), 0x53535353);
    ck_assert_uint_eq(ld4(p.t[0], VGA_BASE), 0x56565656);
    /* A store in SMM goes to SMRAM, not the VGA RAM. */
    tt_st(p.t[1], 0x400100, 4, 0, 0, 0x5eed5eed);
    tt_st(p.t[1], VGA_BASE + 0x200, 4, 0, 0, 0x5eed0200);
    ck_assert_uint_eq(tt_host_le(under + 0x100, 4), 0x5eed5eed);
    ck_assert_uint_eq(tt_host_le(under + 0x200, 4), 0x5eed0200);
    ck_assert_uint_eq(tt_host_le(vga + 0x100, 4), 0x76543210);
    ck_assert_uint_eq(tt_host_le(vga + 0x200, 4), 0x56565656);
    /* Meanwhile CPU 0 sees VGA, through its cached entry and when refilled. */
    ck_assert_uint_eq(ld4(p.t[0], VGA_BASE + 0x100), 0x76543210);
    tlb_flush(p.t[0]);
    ck_assert_uint_eq(ld4(p.t[0], VGA_BASE + 0x200), 0x56565656);
    ck_assert_uint_eq(ld4(p.t[2], VGA_BASE + 0x200), 0x56565656);
    tt_st(p.t[0], VGA_BASE + 0x300, 4, 0, 0, 0x0000babe);
    ck_assert_uint_eq(tt_host_le(vga + 0x300, 4), 0x0000babe);
    ck_assert_uint_eq(tt_host_le(under + 0x300, 4), 0x53535353);

    /* Leaving SMM: no SMRAM translation survives, for reads or writes. */
    cpu_view_set_smram_visible(p.cv[1], false);
    ck_assert_uint_eq(ld4(p.t[1], VGA_BASE), 0x56565656);
    ck_assert_uint_eq(ld4(p.t[1], 0x400100), 0x76543210);
    ck_assert_uint_eq(ld4(p.t[1], VGA_BASE + 0x200), 0x56565656);
    tt_st(p.t[1], 0x400200, 4, 0, 0, 0x0ff50200);
    ck_assert_uint_eq(tt_host_le(vga + 0x200, 4), 0x0ff50200);
    ck_assert_uint_eq(tt_host_le(under + 0x200, 4), 0x5eed0200);
    /* And back in: SMRAM holds what SMM wrote. */
    cpu_view_set_smram_visible(p.cv[1], true);
    ck_assert_uint_eq(ld4(p.t[1], 0x400100), 0x5eed5eed);
    ck_assert_uint_eq(ld4(p.t[1], VGA_BASE + 0x200), 0x5eed0200);
    ck_assert_uint_eq(ld4(p.t[0], VGA_BASE + 0x200), 0x0ff50200);
    cpu_view_set_smram_visible(p.cv[1], false);
    ck_assert_uint_eq(tt_nfaults(p.cpu[0]) + tt_nfaults(p.cpu[1]), 0);
    p_free(&p);
}
END_TEST

/* Code fetched in SMM is SMRAM; after SMM it is VGA again. */
START_TEST(test_smram_code_translation)
{
    P p;
    p_new(&p);
    uint64_t pa;
    const uint8_t *host;
    uint64_t left;
    ck_assert(tlb_translate_code(p.t[1], VGA_BASE + 0x10, 0, &pa, &host, &left));
    ck_assert_ptr_eq(host, (uint8_t *)mr_ram_ptr(p.vga) + 0x10);
    cpu_view_set_smram_visible(p.cv[1], true);
    ck_assert(tlb_translate_code(p.t[1], VGA_BASE + 0x10, 0, &pa, &host, &left));
    ck_assert_ptr_eq(host, (uint8_t *)mr_ram_ptr(p.ram) + VGA_BASE + 0x10);
    ck_assert(tlb_translate_code(p.t[0], VGA_BASE + 0x10, 0, &pa, &host, &left));
    ck_assert_ptr_eq(host, (uint8_t *)mr_ram_ptr(p.vga) + 0x10);
    cpu_view_set_smram_visible(p.cv[1], false);
    ck_assert(tlb_translate_code(p.t[1], VGA_BASE + 0x10, 0, &pa, &host, &left));
    ck_assert_ptr_eq(host, (uint8_t *)mr_ram_ptr(p.vga) + 0x10);
    p_free(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Stale dispatch */

START_TEST(test_map_change_reaches_new_mapping)
{
    P p;
    p_new(&p);
    ck_assert_uint_eq(ld4(p.t[0], 0x8000), 0x11111111);
    ck_assert_uint_eq(ld4(p.t[1], 0x8000), 0x11111111);
    tt_st(p.t[0], 0x8010, 4, 0, 0, 0x12345678);
    const TlbFullEntry *f = tlb_peek_full(p.t[0], 0, 0x8000);
    uint64_t g0 = gen_of(&p, 0);
    ck_assert_uint_eq(f->dispatch_gen, g0);
    ck_assert_uint_eq(tlb_peek_full(p.t[1], 0, 0x8000)->dispatch_gen, gen_of(&p, 1));

    /* An MMIO region appears over the RAM page. */
    TtDev *ovl_dev = tt_dev_new(0x0e000000);
    MemRegion *ovl = tt_mmio("overlay", 0x1000, ovl_dev);
    GError *err = NULL;
    ck_assert(mr_add_subregion_overlap(p.global, 0x8000, ovl, 5, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_ne(gen_of(&p, 0), g0);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_uint_eq(ld4(p.t[i], 0x8010), 0x0e000010);
        ck_assert_uint_eq(tlb_peek_full(p.t[i], 0, 0x8000)->dispatch_gen, gen_of(&p, i));
        ck_assert(tt_tag(p.t[i], 0, 0x8000, TLB_READ) & TLB_FLAG_IO);
    }
    tt_st(p.t[0], 0x8010, 4, 0, 0, 0xabcdef00);
    ck_assert_uint_eq(tt_dev_n(ovl_dev), 3);
    TT_EXPECT_DEV(ovl_dev, 2, true, 0x10, 4, 0xabcdef00);
    ck_assert_uint_eq(tt_host_le((uint8_t *)mr_ram_ptr(p.ram) + 0x8010, 4), 0x12345678);

    /* And goes away again: RAM, with a fresh generation. */
    uint64_t g1 = gen_of(&p, 0);
    ck_assert(mr_del_subregion(p.global, ovl, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(ld4(p.t[0], 0x8010), 0x12345678);
    ck_assert_uint_ne(tlb_peek_full(p.t[0], 0, 0x8000)->dispatch_gen, g1);
    ck_assert_uint_eq(tlb_peek_full(p.t[0], 0, 0x8000)->dispatch_gen, gen_of(&p, 0));
    ck_assert_uint_eq(tt_tag(p.t[0], 0, 0x8000, TLB_READ), 0x8000);
    ck_assert_uint_eq(tt_dev_n(ovl_dev), 3);
    mr_unref(ovl);
    tt_dev_free(ovl_dev);
    p_free(&p);
}
END_TEST

START_TEST(test_move_bar)
{
    P p;
    p_new(&p);
    TtDev *d = tt_dev_new(0xb2000000);
    MemRegion *bar2 = tt_put(p.global, 0xe0000000, tt_mmio("bar2", 0x1000, d), 0);
    ck_assert_uint_eq(ld4(p.t[0], 0xe0000010), 0xb2000010);
    ck_assert_uint_eq(ld4(p.t[2], 0xe0000010), 0xb2000010);
    mr_set_address(bar2, 0xe0100000);
    ck_assert_uint_eq(ld4(p.t[0], 0xe0000010), 0xffffffffu);
    ck_assert_uint_eq(ld4(p.t[2], 0xe0000010), 0xffffffffu);
    ck_assert_uint_eq(tt_dev_n(d), 2);
    ck_assert_uint_eq(ld4(p.t[0], 0xe0100010), 0xb2000010);
    ck_assert_uint_eq(tt_dev_n(d), 3);
    ck_assert_uint_eq(tlb_peek_full(p.t[0], 0, 0xe0100000)->dispatch_gen, gen_of(&p, 0));
    /* Disabled: nothing there. */
    mr_set_enabled(bar2, false);
    ck_assert_uint_eq(ld4(p.t[0], 0xe0100010), 0xffffffffu);
    ck_assert_uint_eq(tt_dev_n(d), 3);
    p_free(&p);
    tt_dev_free(d);
}
END_TEST

/*
 * Section indices shift when a region is inserted between two devices. The
 * TLB holds entries for both (one of them in the victim table); the map
 * change is made inside a transaction. Until the commit nothing changes;
 * after it every access reaches the device the new map puts there.
 */
START_TEST(test_section_indices_shift)
{
    P p;
    p_new(&p);
    GArray *order = g_array_new(FALSE, TRUE, sizeof(uint64_t));
    TtDev *d1 = tt_dev_new(0xd1000000), *d2 = tt_dev_new(0xd2000000),
          *d3 = tt_dev_new(0xd3000000), *d0 = tt_dev_new(0xd0000000);
    d1->shared_log = d2->shared_log = d3->shared_log = d0->shared_log = order;
    tt_put(p.global, 0xc0000000, tt_mmio("d1", 0x1000, d1), 0);
    tt_put(p.global, 0xc0004000, tt_mmio("d2", 0x1000, d2), 0);
    /* CPU 0: a 4-entry table, so d1 and d2 collide and one sits in the victim table. */
    ck_assert(tlb_set_geometry(p.t[0], 4, 8, false, NULL));
    ck_assert_uint_eq(ld4(p.t[0], 0xc0000004), 0xd1000004);
    ck_assert_uint_eq(ld4(p.t[0], 0xc0004004), 0xd2000004);
    ck_assert_uint_eq(ld4(p.t[1], 0xc0000004), 0xd1000004);
    ck_assert_uint_eq(ld4(p.t[1], 0xc0004004), 0xd2000004);
    uint32_t sec_d2 = tlb_peek_full(p.t[1], 0, 0xc0004000)->section;
    uint64_t g_old = gen_of(&p, 1);

    mem_transaction_begin();
    tt_put(p.global, 0xc0002000, tt_mmio("d3", 0x1000, d3), 0);
    tt_put(p.global, 0xbfff0000, tt_mmio("d0", 0x1000, d0), 0);
    /* Not committed: the old map serves, from the cache and from refills. */
    ck_assert_uint_eq(ld4(p.t[0], 0xc0000008), 0xd1000008);
    ck_assert_uint_eq(ld4(p.t[1], 0xc0004008), 0xd2000008);
    ck_assert_uint_eq(ld4(p.t[2], 0xc0002008), 0xffffffffu);
    ck_assert_uint_eq(gen_of(&p, 1), g_old);
    mem_transaction_commit();

    g_array_set_size(order, 0);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert_uint_eq(ld4(p.t[i], 0xc0004010), 0xd2000010);
        ck_assert_uint_eq(ld4(p.t[i], 0xc0000010), 0xd1000010);
        ck_assert_uint_eq(ld4(p.t[i], 0xc0002010), 0xd3000010);
        ck_assert_uint_eq(ld4(p.t[i], 0xbfff0010), 0xd0000010);
        tt_st(p.t[i], 0xc0004020, 4, 0, 0, i);
    }
    static const uint64_t expect[] = { 0xd2000000, 0xd1000000, 0xd3000000, 0xd0000000,
                                       0xd2000000 };
    ck_assert_uint_eq(order->len, 10);
    for (guint k = 0; k < order->len; k++) {
        ck_assert_uint_eq(g_array_index(order, uint64_t, k), expect[k % 5]);
    }
    const TlbFullEntry *f = tlb_peek_full(p.t[1], 0, 0xc0004000);
    ck_assert_uint_eq(f->dispatch_gen, gen_of(&p, 1));
    ck_assert_uint_ne(f->dispatch_gen, g_old);
    ck_assert_msg(f->section != sec_d2, "precondition: d2's section index did not shift (%u)",
                  sec_d2);
    p_free(&p);
    g_array_unref(order);
    tt_dev_free(d0);
    tt_dev_free(d1);
    tt_dev_free(d2);
    tt_dev_free(d3);
}
END_TEST

/* RAM resized under a cached entry (replaced by a smaller region): the page
 * beyond the new end is unassigned, never the freed host memory. */
START_TEST(test_ram_replaced_under_cached_entry)
{
    P p;
    p_new(&p);
    MemRegion *big = tt_ram("big", 0x10000, 0x42);
    GError *err = NULL;
    ck_assert(mr_add_subregion(p.global, 0x40000000, big, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(ld4(p.t[0], 0x4000f000), tt_host_le((uint8_t *)mr_ram_ptr(big) + 0xf000, 4));
    ck_assert(mr_del_subregion(p.global, big, &err));
    mr_unref(big); /* the region is gone for good */
    ck_assert_uint_eq(ld4(p.t[0], 0x4000f000), 0xffffffffu);
    tt_st(p.t[0], 0x4000f000, 4, 0, 0, 1);
    ck_assert_uint_eq(tt_nfaults(p.cpu[0]), 0);
    p_free(&p);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Cross-CPU requests */

START_TEST(test_request_queued_until_processed)
{
    P p;
    p_new(&p);
    for (unsigned i = 0; i < 2; i++) {
        ld4(p.t[i], 0x3000);
        ld4(p.t[i], 0x4000);
        ld4(p.t[i], 0x5000);
    }
    ck_assert(!tlb_has_requests(p.t[1]));
    TlbRequest r = { .kind = TLB_REQ_FLUSH_PAGE, .idxmask = TLB_ALL_MMUIDX, .vaddr = 0x3000 };
    tlb_request(p.t[1], &r);
    ck_assert(tlb_has_requests(p.t[1]));
    ck_assert(!tlb_has_requests(p.t[0]));
    ck_assert(tt_cached(p.t[1], 0, 0x3000, TLB_READ));
    ck_assert_uint_eq(tt_stats(p.t[1], 0).flush_requests, 0);
    ck_assert_uint_eq(tt_stats(p.t[1], 0).flush_page, 0);

    tlb_process_requests(p.t[1]);
    ck_assert(!tlb_has_requests(p.t[1]));
    ck_assert(!tt_cached(p.t[1], 0, 0x3000, TLB_READ));
    ck_assert(tt_cached(p.t[1], 0, 0x4000, TLB_READ));
    ck_assert(tt_cached(p.t[0], 0, 0x3000, TLB_READ));
    ck_assert_uint_eq(tt_stats(p.t[1], 0).flush_requests, 1);
    ck_assert_uint_eq(tt_stats(p.t[1], 0).flush_page, 1);
    ck_assert_uint_eq(tt_stats(p.t[0], 0).flush_requests, 0);

    /* Several queued requests are all performed, in order. */
    TlbRequest rr = { .kind = TLB_REQ_FLUSH_RANGE, .idxmask = TLB_ALL_MMUIDX, .vaddr = 0x4800,
                      .len = 0x100 };
    TlbRequest rm = { .kind = TLB_REQ_FLUSH_MMUIDX, .idxmask = 1 };
    tlb_request(p.t[1], &rr);
    ck_assert(tt_cached(p.t[1], 0, 0x4000, TLB_READ));
    tlb_request(p.t[1], &rm);
    ck_assert(tt_cached(p.t[1], 0, 0x5000, TLB_READ));
    tlb_process_requests(p.t[1]);
    ck_assert(!tlb_has_requests(p.t[1]));
    ck_assert(!tt_cached(p.t[1], 0, 0x4000, TLB_READ));
    ck_assert(!tt_cached(p.t[1], 0, 0x5000, TLB_READ));
    TlbStats s = tt_stats(p.t[1], 0);
    ck_assert_uint_eq(s.flush_requests, 3);
    ck_assert_uint_eq(s.flush_range, 1);
    ck_assert_uint_eq(s.flush_mmuidx, 1);
    /* Nothing pending: processing is a no-op. */
    ld4(p.t[1], 0x5000);
    tlb_process_requests(p.t[1]);
    ck_assert(tt_cached(p.t[1], 0, 0x5000, TLB_READ));
    ck_assert_uint_eq(tt_stats(p.t[1], 0).flush_requests, 3);
    p_free(&p);
}
END_TEST

START_TEST(test_request_sync_all_cpus)
{
    P p;
    p_new(&p);
    for (unsigned i = 0; i < NCPU; i++) {
        ld4(p.t[i], 0x3000);
        ld4(p.t[i], APIC_BASE);
    }
    TlbRequest r = { .kind = TLB_REQ_FLUSH_ALL, .idxmask = TLB_ALL_MMUIDX };
    tlb_request_sync(p.t, NCPU, &r);
    for (unsigned i = 0; i < NCPU; i++) {
        ck_assert(!tlb_has_requests(p.t[i]));
        ck_assert(!tt_cached(p.t[i], 0, 0x3000, TLB_READ));
        ck_assert(!tt_cached(p.t[i], 0, APIC_BASE, TLB_READ));
        ck_assert_uint_eq(tt_stats(p.t[i], 0).flush_all, 1);
        ck_assert_uint_eq(tt_stats(p.t[i], 0).flush_requests, 1);
        /* And the next access refills correctly. */
        ck_assert_uint_eq(ld4(p.t[i], APIC_BASE + 4), APIC_TAG(i) + 4);
    }
    /* A page request to a subset. */
    for (unsigned i = 0; i < NCPU; i++) {
        ld4(p.t[i], 0x3000);
    }
    TlbRequest rp = { .kind = TLB_REQ_FLUSH_PAGE, .idxmask = TLB_ALL_MMUIDX, .vaddr = 0x3000 };
    tlb_request_sync(p.t + 1, 2, &rp);
    ck_assert(tt_cached(p.t[0], 0, 0x3000, TLB_READ));
    ck_assert(!tt_cached(p.t[1], 0, 0x3000, TLB_READ));
    ck_assert(!tt_cached(p.t[2], 0, 0x3000, TLB_READ));
    ck_assert(tt_cached(p.t[1], 0, APIC_BASE, TLB_READ));
    p_free(&p);
}
END_TEST

typedef struct Worker {
    CpuTlb *t;
    gint stop;
    gint rounds;
} Worker;

/* The owning CPU's thread: performs requests at its "safe points". */
static gpointer worker_main(gpointer data)
{
    Worker *w = data;
    while (!g_atomic_int_get(&w->stop)) {
        tlb_process_requests(w->t);
        g_atomic_int_inc(&w->rounds);
        g_usleep(500); /* a CPU busy between safe points */
    }
    tlb_process_requests(w->t);
    return NULL;
}

typedef struct Requester {
    CpuTlb **tlbs;
    unsigned n;
    TlbRequest req;
    GMutex lock;
    GCond cond;
    bool done;
    uint64_t probe;          /* a page every target must have dropped on return */
    bool cached_on_return;   /* was it still cached in any target when sync returned? */
} Requester;

/* Main-table entry of vaddr's page still present (no Check asserts: other thread). */
static bool still_cached(CpuTlb *t, uint64_t va)
{
    const TlbEntry *e = tlb_peek_entry(t, 0, va);
    uint64_t page = va & tlb_fast(t)->page_mask;
    return e && e->addr_read != UINT64_MAX && (e->addr_read & tlb_fast(t)->page_mask) == page;
}

static gpointer requester_main(gpointer data)
{
    Requester *r = data;
    tlb_request_sync(r->tlbs, r->n, &r->req);
    bool cached = false;
    for (unsigned i = 0; r->probe && i < r->n; i++) {
        cached = cached || still_cached(r->tlbs[i], r->probe);
    }
    g_mutex_lock(&r->lock);
    r->cached_on_return = cached;
    r->done = true;
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
    return NULL;
}

START_TEST(test_request_sync_threaded)
{
    P p;
    p_new(&p);
    for (unsigned i = 0; i < NCPU; i++) {
        ld4(p.t[i], 0x3000);
        ld4(p.t[i], 0x6000);
    }
    tlb_set_threaded(p.t[1], true);
    Worker w = { .t = p.t[1] };
    GThread *wt = g_thread_new("cpu1", worker_main, &w);

    /* CPU 0 (not threaded) and CPU 1 (on its own thread) must both have flushed
     * the page when the call returns. */
    CpuTlb *targets[2] = { p.t[0], p.t[1] };
    Requester r = { .tlbs = targets, .n = 2,
                    .req = { .kind = TLB_REQ_FLUSH_PAGE, .idxmask = TLB_ALL_MMUIDX,
                             .vaddr = 0x3000 },
                    .probe = 0x3000 };
    g_mutex_init(&r.lock);
    g_cond_init(&r.cond);
    GThread *rt = g_thread_new("requester", requester_main, &r);
    gint64 deadline = g_get_monotonic_time() + 20 * G_TIME_SPAN_SECOND;
    g_mutex_lock(&r.lock);
    while (!r.done) {
        if (!g_cond_wait_until(&r.cond, &r.lock, deadline)) {
            break;
        }
    }
    bool done = r.done;
    g_mutex_unlock(&r.lock);
    ck_assert_msg(done, "tlb_request_sync did not return while CPU 1's thread processed requests");
    g_thread_join(rt);
    ck_assert_msg(!r.cached_on_return, "tlb_request_sync returned before every CPU flushed");
    g_atomic_int_set(&w.stop, 1);
    g_thread_join(wt);

    ck_assert(!tlb_has_requests(p.t[1]));
    ck_assert(!tt_cached(p.t[1], 0, 0x3000, TLB_READ));
    ck_assert(!tt_cached(p.t[0], 0, 0x3000, TLB_READ));
    ck_assert(tt_cached(p.t[1], 0, 0x6000, TLB_READ));
    ck_assert(tt_cached(p.t[2], 0, 0x3000, TLB_READ));
    ck_assert_uint_eq(tt_stats(p.t[1], 0).flush_requests, 1);
    ck_assert_uint_eq(tt_stats(p.t[0], 0).flush_requests, 1);
    ck_assert_uint_eq(tt_stats(p.t[2], 0).flush_requests, 0);
    g_mutex_clear(&r.lock);
    g_cond_clear(&r.cond);
    p_free(&p);
}
END_TEST

/* Several requesters at once against one threaded CPU: every one returns. */
START_TEST(test_request_sync_threaded_many)
{
    P p;
    p_new(&p);
    tlb_set_threaded(p.t[2], true);
    Worker w = { .t = p.t[2] };
    GThread *wt = g_thread_new("cpu2", worker_main, &w);
    enum { NREQ = 4 };
    Requester r[NREQ];
    GThread *rt[NREQ];
    for (unsigned k = 0; k < NREQ; k++) {
        memset(&r[k], 0, sizeof(r[k]));
        r[k].tlbs = &p.t[2];
        r[k].n = 1;
        r[k].req = (TlbRequest){ .kind = TLB_REQ_FLUSH_PAGE, .idxmask = TLB_ALL_MMUIDX,
                                 .vaddr = 0x1000ull * (k + 1) };
        g_mutex_init(&r[k].lock);
        g_cond_init(&r[k].cond);
        rt[k] = g_thread_new("req", requester_main, &r[k]);
    }
    gint64 deadline = g_get_monotonic_time() + 20 * G_TIME_SPAN_SECOND;
    bool all = true;
    for (unsigned k = 0; k < NREQ; k++) {
        g_mutex_lock(&r[k].lock);
        while (!r[k].done && g_cond_wait_until(&r[k].cond, &r[k].lock, deadline)) {
        }
        all = all && r[k].done;
        g_mutex_unlock(&r[k].lock);
    }
    ck_assert_msg(all, "a concurrent tlb_request_sync did not return");
    for (unsigned k = 0; k < NREQ; k++) {
        g_thread_join(rt[k]);
        g_mutex_clear(&r[k].lock);
        g_cond_clear(&r[k].cond);
    }
    g_atomic_int_set(&w.stop, 1);
    g_thread_join(wt);
    ck_assert_uint_eq(tt_stats(p.t[2], 0).flush_requests, NREQ);
    ck_assert_uint_eq(tt_stats(p.t[2], 0).flush_page, NREQ);
    p_free(&p);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *percpu_suite(void)
{
    Suite *s = suite_create("tlb_percpu");
    TCase *tc = tt_tcase(s, "apic");
    tcase_add_test(tc, test_apic_per_cpu);
    tcase_add_test(tc, test_relocate_apic_only_that_cpu);
    tc = tt_tcase(s, "smm");
    tcase_add_test(tc, test_smram_never_leaks);
    tcase_add_test(tc, test_smram_code_translation);
    tc = tt_tcase(s, "stale");
    tcase_add_test(tc, test_map_change_reaches_new_mapping);
    tcase_add_test(tc, test_move_bar);
    tcase_add_test(tc, test_section_indices_shift);
    tcase_add_test(tc, test_ram_replaced_under_cached_entry);
    tc = tt_tcase(s, "requests");
    tcase_add_test(tc, test_request_queued_until_processed);
    tcase_add_test(tc, test_request_sync_all_cpus);
    tcase_add_test(tc, test_request_sync_threaded);
    tcase_add_test(tc, test_request_sync_threaded_many);
    tcase_set_timeout(tc, 60);
    return s;
}

int main(void)
{
    return tt_run(percpu_suite());
}
