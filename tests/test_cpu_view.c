/*
 * Per-CPU views (memory-semantics.md §3; cpu_view.h, address_space.h "Sharing").
 *
 * The machine: a global map (the whole 64-bit space) with 1 MiB of RAM at 0,
 * a VGA-like RAM window over it at 0xa0000 (prio 1), and a PCI BAR at the
 * APIC's default address 0xfee00000. SMRAM is an alias of the RAM under the
 * VGA window. Each CPU gets a view with its own APIC page whose reads return
 * 0x100 + cpu.
 *
 * Byte contents tell who answered: RAM 0x11, RAM under VGA 0x53 ('S'),
 * VGA 0x56 ('V'), BAR 0xba5eba11, APIC of CPU n 0x100 + n.
 */
#include "test_util.h"

#define MAX_CPUS 8
#define APIC_BASE 0xfee00000ull
#define VGA_BASE 0xa0000ull
#define VGA_SIZE 0x20000ull
#define BAR_VALUE 0xba5eba11u

typedef struct Machine {
    MemRegion *global, *ram, *vga, *bar, *smram;
    MemRegion *apic[MAX_CPUS];
    TuDev *bar_dev, *apic_dev[MAX_CPUS], *many_dev;
    CpuView *cpu[MAX_CPUS];
    unsigned ncpu;
    AddressSpace *dma;
} Machine;

/* `extra` MMIO regions are added to the global map (for the size test). */
static void machine_new(Machine *m, unsigned ncpu, unsigned extra)
{
    memset(m, 0, sizeof(*m));
    m->ncpu = ncpu;
    m->global = tu_container("global", MEM_SIZE_FULL);
    m->ram = tu_put(m->global, 0, tu_ram("ram", 0x100000, 0x11), 0);
    memset((uint8_t *)mr_ram_ptr(m->ram) + VGA_BASE, 0x53, VGA_SIZE);
    m->vga = tu_put(m->global, VGA_BASE, tu_ram("vga", VGA_SIZE, 0x56), 1);
    m->bar_dev = tu_dev_fixed(BAR_VALUE);
    m->bar = tu_put(m->global, APIC_BASE, tu_mmio("bar", 0x1000, m->bar_dev), 0);
    m->smram = tu_alias("smram", m->ram, VGA_BASE, VGA_SIZE);
    if (extra) {
        m->many_dev = tu_dev_fixed(0x4d4d);
        mem_transaction_begin();
        for (unsigned i = 0; i < extra; i++) {
            char name[24];
            snprintf(name, sizeof(name), "dev%u", i);
            tu_put(m->global, 0x10000000ull + (uint64_t)i * 0x2000,
                   tu_mmio(name, 0x1000, m->many_dev), 0);
        }
        mem_transaction_commit();
    }
    m->dma = tu_as("dma", m->global);

    for (unsigned i = 0; i < ncpu; i++) {
        char name[16];
        snprintf(name, sizeof(name), "apic%u", i);
        m->apic_dev[i] = tu_dev_fixed(0x100 + i);
        m->apic[i] = tu_mmio(name, 0x1000, m->apic_dev[i]);
        CpuViewConfig cfg = {
            .cpu_index = i,
            .global_map = m->global,
            .smram = m->smram,
            .smram_addr = VGA_BASE,
            .smram_size = 0,
            .apic = m->apic[i], /* owned by the view from now on */
            .apic_base = APIC_BASE,
        };
        GError *err = NULL;
        m->cpu[i] = cpu_view_new(&cfg, &err);
        TU_ASSERT_NO_ERROR(err);
        ck_assert_ptr_nonnull(m->cpu[i]);
    }
}

static void machine_free(Machine *m)
{
    for (unsigned i = 0; i < m->ncpu; i++) {
        cpu_view_free(m->cpu[i]);
    }
    as_free(m->dma);
    mr_unref(m->smram);
    mr_unref(m->global);
    for (unsigned i = 0; i < m->ncpu; i++) {
        tu_dev_free(m->apic_dev[i]);
    }
    tu_dev_free(m->bar_dev);
    tu_dev_free(m->many_dev);
}

static AddressSpace *cas(Machine *m, unsigned i)
{
    return cpu_view_as(m->cpu[i]);
}

/* A 4-byte read from CPU i (its own attributes), which must succeed. */
static uint64_t cpu_rd(Machine *m, unsigned i, uint64_t addr)
{
    uint64_t v = 0;
    MemResult r = as_read_val(cas(m, i), addr, mem_attrs_cpu(i), 4, MEM_LITTLE_ENDIAN, &v);
    ck_assert_msg(r == MEM_OK, "cpu%u read at 0x%" PRIx64 ": %s", i, addr, mem_result_name(r));
    return v;
}

static uint64_t dma_rd(Machine *m, uint64_t addr)
{
    uint64_t v = 0;
    MemResult r = as_read_val(m->dma, addr, mem_attrs_device(1), 4, MEM_LITTLE_ENDIAN, &v);
    ck_assert_msg(r == MEM_OK, "dma read at 0x%" PRIx64 ": %s", addr, mem_result_name(r));
    return v;
}

/* address_space.h "Sharing": a CPU's composed view is exactly what a
 * from-scratch render of its root gives; the dispatch agrees. */
static void check_equivalence_at(int line, Machine *m)
{
    for (unsigned i = 0; i < m->ncpu; i++) {
        AddressSpace *as = cas(m, i);
        FlatView *ref = flatview_render(cpu_view_root(m->cpu[i]));
        if (!flatview_equal(as_flatview(as), ref)) {
            GString *a = tu_dump_fv(as_flatview(as)), *b = tu_dump_fv(ref);
            ck_assert_msg(0, "line %d: cpu%u view differs from a fresh render\n as:%s\n fresh:%s",
                          line, i, a->str, b->str);
        }
        flatview_unref(ref);
        tu_check_consistent_at(__FILE__, line, as);
    }
    TU_CHECK_CONSISTENT(m->dma);
}

#define CHECK_EQUIVALENCE(m) check_equivalence_at(__LINE__, (m))

/* ------------------------------------------------------------------ */

/* cpu_view.h: the root's layout and the accessors. */
START_TEST(test_view_layout)
{
    Machine m;
    machine_new(&m, 2, 0);
    for (unsigned i = 0; i < 2; i++) {
        CpuView *cv = m.cpu[i];
        ck_assert_uint_eq(cpu_view_index(cv), i);
        ck_assert_uint_eq(cpu_view_apic_base(cv), APIC_BASE);
        ck_assert(cpu_view_apic_enabled(cv));
        ck_assert(!cpu_view_smram_visible(cv));
        MemRegion *root = cpu_view_root(cv);
        ck_assert_ptr_eq(as_root(cpu_view_as(cv)), root);
        ck_assert_uint_eq(mr_size(root), MEM_SIZE_FULL); /* size of the global map */
        ck_assert_uint_eq(mr_num_children(root), 3);
        /* render order: APIC (2), SMRAM (1), global (0) */
        MemRegion *apic = mr_child(root, 0), *sm = mr_child(root, 1), *gl = mr_child(root, 2);
        ck_assert_ptr_eq(apic, m.apic[i]);
        ck_assert_int_eq(mr_priority(apic), CPU_VIEW_PRIO_APIC);
        ck_assert_uint_eq(mr_addr(apic), APIC_BASE);
        ck_assert_int_eq(mr_priority(sm), CPU_VIEW_PRIO_SMRAM);
        ck_assert_int_eq(mr_kind(sm), MR_KIND_ALIAS);
        ck_assert_ptr_eq(mr_alias_target(sm), m.smram);
        ck_assert_uint_eq(mr_addr(sm), VGA_BASE);
        ck_assert_uint_eq(mr_size(sm), VGA_SIZE);
        ck_assert(!mr_enabled(sm));
        ck_assert_int_eq(mr_priority(gl), CPU_VIEW_PRIO_GLOBAL);
        ck_assert_int_eq(mr_kind(gl), MR_KIND_ALIAS);
        ck_assert_ptr_eq(mr_alias_target(gl), m.global);
        ck_assert_uint_eq(mr_addr(gl), 0);
    }
    machine_free(&m);
}
END_TEST

/* §3 (L7771): the same address reaches each CPU's own APIC, over the BAR. */
START_TEST(test_each_cpu_reaches_own_apic)
{
    Machine m;
    machine_new(&m, 2, 0);
    ck_assert_uint_eq(cpu_rd(&m, 0, APIC_BASE), 0x100);
    ck_assert_uint_eq(cpu_rd(&m, 1, APIC_BASE), 0x101);
    ck_assert_uint_eq(tu_dev_nlog(m.apic_dev[0]), 1);
    ck_assert_uint_eq(tu_dev_nlog(m.apic_dev[1]), 1);
    ck_assert_uint_eq(tu_dev_log(m.apic_dev[1], 0)->attrs.requester, 1);
    ck_assert_uint_eq(tu_dev_nlog(m.bar_dev), 0);
    ck_assert_ptr_eq(tu_dispatch_mr(cas(&m, 0), APIC_BASE), m.apic[0]);
    ck_assert_ptr_eq(tu_dispatch_mr(cas(&m, 1), APIC_BASE), m.apic[1]);
    /* the rest of the map is shared */
    ck_assert_uint_eq(cpu_rd(&m, 0, 0x1000), 0x11111111);
    ck_assert_uint_eq(cpu_rd(&m, 1, VGA_BASE), 0x56565656);
    CHECK_EQUIVALENCE(&m);
    machine_free(&m);
}
END_TEST

/* §3 (L3187): DMA never sees a CPU's APIC page or SMRAM. */
START_TEST(test_dma_never_sees_cpu_overlays)
{
    Machine m;
    machine_new(&m, 2, 0);
    cpu_view_set_smram_visible(m.cpu[0], true);
    ck_assert_uint_eq(dma_rd(&m, APIC_BASE), BAR_VALUE);
    ck_assert_uint_eq(dma_rd(&m, VGA_BASE), 0x56565656);
    ck_assert_uint_eq(tu_dev_nlog(m.apic_dev[0]), 0);
    ck_assert_uint_eq(tu_dev_nlog(m.apic_dev[1]), 0);
    ck_assert_ptr_eq(tu_dispatch_mr(m.dma, APIC_BASE), m.bar);
    machine_free(&m);
}
END_TEST

/* §3 "our position": moving one CPU's APIC is O(overlays) and never
 * touches another CPU's dispatch. */
START_TEST(test_relocate_apic_is_isolated)
{
    Machine m;
    machine_new(&m, 2, 0);
    Dispatch *d0 = as_dispatch(cas(&m, 0));
    dispatch_ref(d0);
    uint64_t gen0 = dispatch_generation(d0);
    uint64_t gen1 = dispatch_generation(as_dispatch(cas(&m, 1)));
    MemRenderStats before, after;
    mem_render_stats(&before);

    cpu_view_set_apic_base(m.cpu[1], 0x1000);
    mem_render_stats(&after);
    ck_assert_uint_eq(after.full_renders, before.full_renders); /* the global map untouched */
    ck_assert_uint_eq(cpu_view_apic_base(m.cpu[1]), 0x1000);

    ck_assert_ptr_eq(as_dispatch(cas(&m, 0)), d0);
    ck_assert_uint_eq(dispatch_generation(as_dispatch(cas(&m, 0))), gen0);
    ck_assert_uint_gt(dispatch_generation(as_dispatch(cas(&m, 1))), gen1);
    /* both still layer on the same shared base */
    ck_assert_ptr_nonnull(dispatch_base(d0));
    ck_assert_ptr_eq(dispatch_base(as_dispatch(cas(&m, 1))), dispatch_base(d0));

    ck_assert_uint_eq(cpu_rd(&m, 1, 0x1000), 0x101);
    ck_assert_uint_eq(cpu_rd(&m, 1, APIC_BASE), BAR_VALUE);
    ck_assert_uint_eq(cpu_rd(&m, 0, APIC_BASE), 0x100);
    ck_assert_uint_eq(cpu_rd(&m, 0, 0x1000), 0x11111111);
    CHECK_EQUIVALENCE(&m);
    dispatch_unref(d0);
    machine_free(&m);
}
END_TEST

/* Disabling a CPU's APIC shows what lies beneath, for that CPU only. */
START_TEST(test_disable_apic_shows_beneath)
{
    Machine m;
    machine_new(&m, 2, 0);
    cpu_view_set_apic_enabled(m.cpu[0], false);
    ck_assert(!cpu_view_apic_enabled(m.cpu[0]));
    ck_assert_uint_eq(cpu_rd(&m, 0, APIC_BASE), BAR_VALUE);
    ck_assert_uint_eq(cpu_rd(&m, 1, APIC_BASE), 0x101);
    ck_assert_uint_eq(tu_dev_nlog(m.apic_dev[0]), 0);
    CHECK_EQUIVALENCE(&m);

    /* moved while disabled, then enabled: shows at the new base */
    cpu_view_set_apic_base(m.cpu[0], 0x2000);
    ck_assert_uint_eq(cpu_rd(&m, 0, 0x2000), 0x11111111);
    cpu_view_set_apic_enabled(m.cpu[0], true);
    ck_assert_uint_eq(cpu_rd(&m, 0, 0x2000), 0x100);
    ck_assert_uint_eq(cpu_rd(&m, 0, APIC_BASE), BAR_VALUE);
    CHECK_EQUIVALENCE(&m);
    machine_free(&m);
}
END_TEST

/* §3 SMM (L4184, L6095, L9024): per CPU; translations of one mode never
 * serve the other (the dispatch generation changes with each switch). */
START_TEST(test_smram_per_cpu)
{
    Machine m;
    machine_new(&m, 2, 0);
    Dispatch *d0 = as_dispatch(cas(&m, 0));
    dispatch_ref(d0);
    uint64_t g1 = dispatch_generation(as_dispatch(cas(&m, 1)));

    cpu_view_set_smram_visible(m.cpu[1], true);
    ck_assert(cpu_view_smram_visible(m.cpu[1]));
    ck_assert(!cpu_view_smram_visible(m.cpu[0]));
    uint64_t g1_smm = dispatch_generation(as_dispatch(cas(&m, 1)));
    ck_assert_uint_gt(g1_smm, g1);
    ck_assert_ptr_eq(as_dispatch(cas(&m, 0)), d0);

    ck_assert_uint_eq(cpu_rd(&m, 1, VGA_BASE), 0x53535353);
    ck_assert_uint_eq(cpu_rd(&m, 1, VGA_BASE + VGA_SIZE - 4), 0x53535353);
    ck_assert_uint_eq(cpu_rd(&m, 0, VGA_BASE), 0x56565656);
    /* SMRAM writes land in the RAM under the VGA window */
    ck_assert_int_eq(as_write_val(cas(&m, 1), VGA_BASE + 0x10, mem_attrs_cpu(1), 1,
                                  MEM_LITTLE_ENDIAN, 0xaa),
                     MEM_OK);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(m.ram))[VGA_BASE + 0x10], 0xaa);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(m.vga))[0x10], 0x56);
    CHECK_EQUIVALENCE(&m);

    cpu_view_set_smram_visible(m.cpu[1], false);
    ck_assert_uint_gt(dispatch_generation(as_dispatch(cas(&m, 1))), g1_smm);
    ck_assert_uint_eq(cpu_rd(&m, 1, VGA_BASE), 0x56565656);
    ck_assert_ptr_eq(as_dispatch(cas(&m, 0)), d0);
    CHECK_EQUIVALENCE(&m);

    /* the APIC (prio 2) wins over SMRAM (prio 1) */
    cpu_view_set_smram_visible(m.cpu[1], true);
    cpu_view_set_apic_base(m.cpu[1], VGA_BASE);
    ck_assert_uint_eq(cpu_rd(&m, 1, VGA_BASE), 0x101);
    ck_assert_uint_eq(cpu_rd(&m, 1, VGA_BASE + 0x1000), 0x53535353);
    CHECK_EQUIVALENCE(&m);
    dispatch_unref(d0);
    machine_free(&m);
}
END_TEST

/* §3 "our position": a global change is rendered once for all CPUs. */
START_TEST(test_global_change_renders_once)
{
    Machine m;
    machine_new(&m, 8, 0);
    MemRenderStats before, after;

    mem_render_stats(&before);
    MemRegion *late = tu_put(m.global, 0x200000, tu_ram("late", 0x1000, 0x77), 0);
    mem_render_stats(&after);
    ck_assert_uint_eq(after.full_renders - before.full_renders, 1);
    ck_assert_uint_eq(after.commits - before.commits, 1);
    for (unsigned i = 0; i < 8; i++) {
        ck_assert_uint_eq(cpu_rd(&m, i, 0x200000), 0x77777777);
        ck_assert_ptr_eq(tu_dispatch_mr(cas(&m, i), 0x200000), late);
        ck_assert_uint_eq(cpu_rd(&m, i, APIC_BASE), 0x100 + i); /* overlays kept */
    }
    ck_assert_uint_eq(dma_rd(&m, 0x200000), 0x77777777);

    /* a batch of global changes: still one render */
    mem_render_stats(&before);
    mem_transaction_begin();
    mr_set_address(late, 0x300000);
    mr_set_enabled(m.vga, false);
    mr_set_address(m.bar, 0xfed00000);
    mem_transaction_commit();
    mem_render_stats(&after);
    ck_assert_uint_eq(after.full_renders - before.full_renders, 1);
    for (unsigned i = 0; i < 8; i++) {
        ck_assert_uint_eq(cpu_rd(&m, i, VGA_BASE), 0x53535353);
        ck_assert_uint_eq(cpu_rd(&m, i, 0xfed00000), BAR_VALUE);
    }
    CHECK_EQUIVALENCE(&m);
    machine_free(&m);
}
END_TEST

/* address_space.h: the shared rendering is the global map's. */
START_TEST(test_shared_base)
{
    Machine m;
    machine_new(&m, 4, 0);
    Dispatch *b = dispatch_base(as_dispatch(cas(&m, 0)));
    ck_assert_ptr_nonnull(b);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_ptr_eq(as_shared_base(cas(&m, i)), m.global);
        ck_assert_ptr_eq(dispatch_base(as_dispatch(cas(&m, i))), b);
    }
    /* the base serves the global map: the BAR at the APIC address */
    const MemSection *s = dispatch_section(b, dispatch_lookup(b, APIC_BASE, NULL));
    ck_assert_ptr_eq(s->mr, m.bar);
    machine_free(&m);
}
END_TEST

/* EQUIVALENCE: after every mutation in a long sequence, each CPU's view is
 * exactly a fresh render of its root. */
START_TEST(test_equivalence_sequence)
{
    Machine m;
    machine_new(&m, 4, 0);
    GError *err = NULL;
    TuDev *dev2 = tu_dev_fixed(0xb2b2);
    MemRegion *bar2 = tu_mmio("bar2", 0x1000, dev2);
    CHECK_EQUIVALENCE(&m);

    for (unsigned step = 0; step < 14; step++) {
        switch (step) {
        case 0: cpu_view_set_apic_base(m.cpu[1], 0x1000); break;
        case 1: cpu_view_set_smram_visible(m.cpu[2], true); break;
        case 2: tu_add_keep(m.global, 0x1000, bar2, 2); break; /* under cpu1's APIC */
        case 3: mr_set_enabled(m.vga, false); break;
        case 4: cpu_view_set_apic_enabled(m.cpu[0], false); break;
        case 5: mr_set_address(m.bar, 0xfed00000); break;
        case 6:
            ck_assert(mr_set_alias_offset(m.smram, 0x80000, &err));
            break;
        case 7:
            cpu_view_set_apic_base(m.cpu[3], VGA_BASE + 0x1000);
            cpu_view_set_smram_visible(m.cpu[3], true);
            break;
        case 8: tu_del(m.global, bar2); break;
        case 9:
            mr_set_enabled(m.vga, true);
            cpu_view_set_smram_visible(m.cpu[2], false);
            break;
        case 10:
            mem_transaction_begin();
            mr_set_address(m.bar, APIC_BASE);
            cpu_view_set_apic_enabled(m.cpu[0], true);
            tu_add_keep(m.global, APIC_BASE + 0x800, bar2, 1);
            cpu_view_set_apic_base(m.cpu[1], APIC_BASE);
            mem_transaction_commit();
            break;
        case 11: cpu_view_set_apic_base(m.cpu[2], UINT64_MAX - 0x10); break; /* clipped */
        case 12: mr_set_readonly(m.ram, true); break;
        case 13: tu_del(m.global, bar2); break;
        }
        TU_ASSERT_NO_ERROR(err);
        CHECK_EQUIVALENCE(&m);
    }

    /* spot checks of the final state */
    ck_assert_uint_eq(cpu_rd(&m, 0, APIC_BASE), 0x100);
    ck_assert_uint_eq(cpu_rd(&m, 1, APIC_BASE), 0x101);
    ck_assert_uint_eq(cpu_rd(&m, 2, APIC_BASE), BAR_VALUE);
    ck_assert_uint_eq(cpu_rd(&m, 3, VGA_BASE + 0x1000), 0x103);
    ck_assert_uint_eq(cpu_rd(&m, 3, VGA_BASE), 0x11111111); /* SMRAM now shows RAM at 0x80000 */
    machine_free(&m);
    mr_unref(bar2);
    tu_dev_free(dev2);
}
END_TEST

/* §3: a CPU costs O(overlays), even with a 1,000-region global map. */
START_TEST(test_cpu_dispatch_is_small)
{
    Machine m;
    machine_new(&m, 2, 1000);
    for (unsigned i = 0; i < 2; i++) {
        Dispatch *d = as_dispatch(cas(&m, i));
        size_t own = dispatch_memory_size(d);
        ck_assert_msg(own < 4096, "cpu%u dispatch owns %zu bytes", i, own);
        ck_assert_ptr_nonnull(dispatch_base(d));
        /* the measurement is meaningful: the shared base is big */
        ck_assert_uint_gt(dispatch_memory_size(dispatch_base(d)), 4096);
    }
    ck_assert_uint_eq(cpu_rd(&m, 1, 0x10000000ull + 999 * 0x2000), 0x4d4d);
    ck_assert_uint_ge(flatview_num_ranges(as_flatview(cas(&m, 0))), 1000);
    CHECK_EQUIVALENCE(&m);

    /* and moving an APIC stays small */
    cpu_view_set_apic_base(m.cpu[1], 0x10000000ull + 0x1000);
    ck_assert_uint_lt(dispatch_memory_size(as_dispatch(cas(&m, 1))), 4096);
    ck_assert_uint_eq(cpu_rd(&m, 1, 0x10001000ull), 0x101);
    machine_free(&m);
}
END_TEST

/* §3 (L2082-2088) and dispatch.h: a CPU's dispatch shares the base's
 * section indices and adds overlay sections after them; a held section is
 * used without any lookup (section_access); a held dispatch stays valid and
 * unchanged after the view moves on. */
START_TEST(test_layered_sections)
{
    Machine m;
    machine_new(&m, 2, 0);
    cpu_view_set_apic_base(m.cpu[1], 0x1000);
    Dispatch *d = as_dispatch(cas(&m, 1));
    dispatch_ref(d);
    Dispatch *base = dispatch_base(d);
    uint32_t nbase = dispatch_num_sections(base);
    ck_assert_uint_gt(dispatch_num_sections(d), nbase);
    ck_assert_ptr_null(dispatch_section(d, dispatch_num_sections(d)));

    /* an overlay section: index after the base's */
    uint64_t last = 0;
    uint32_t ia = dispatch_lookup(d, 0x1800, &last);
    ck_assert_uint_ge(ia, nbase);
    const MemSection *apic = dispatch_section(d, ia);
    ck_assert_ptr_eq(apic->mr, m.apic[1]);
    ck_assert_uint_eq(last, 0x1fff);
    /* a base section: same index in the base and in the layered dispatch */
    uint32_t ib = dispatch_lookup(d, 0x3000, NULL);
    ck_assert_uint_lt(ib, nbase);
    ck_assert_ptr_eq(dispatch_section(d, ib)->mr, m.ram);
    ck_assert_uint_eq(dispatch_lookup(base, 0x3000, NULL), ib);
    /* the run from 0 is clipped where the overlay starts */
    const MemSection *low = dispatch_section(d, dispatch_lookup(d, 0, &last));
    ck_assert_ptr_eq(low->mr, m.ram);
    ck_assert_uint_eq(last, 0xfff);

    /* section_access through the held APIC section */
    uint8_t b[4];
    ck_assert_int_eq(section_access(cas(&m, 1), apic, 0x1000, mem_attrs_cpu(1), b, 4, false),
                     MEM_OK);
    ck_assert_uint_eq(tu_bytes_to_val(b, 4, false), 0x101);

    /* the view moves on; the held dispatch still says what it said */
    uint64_t gen = dispatch_generation(d);
    cpu_view_set_apic_base(m.cpu[1], 0x5000);
    ck_assert_ptr_ne(as_dispatch(cas(&m, 1)), d);
    ck_assert_uint_eq(dispatch_generation(d), gen);
    ck_assert_uint_eq(dispatch_lookup(d, 0x1800, NULL), ia);
    ck_assert_ptr_eq(dispatch_section(d, ia)->mr, m.apic[1]);
    ck_assert_ptr_eq(tu_dispatch_mr(cas(&m, 1), 0x1800), m.ram);
    dispatch_unref(d);
    machine_free(&m);
}
END_TEST

/* An address space created inside a transaction renders its root at once;
 * regions added to that root later in the same transaction must still show
 * after the commit, in that space and in CPU views sharing the root's
 * rendering (the virt machine builds its map this way). */
START_TEST(test_space_created_mid_transaction)
{
    GError *err = NULL;
    mem_transaction_begin();
    MemRegion *sys = tu_container("system", 1ull << 48);
    MemRegion *ram = tu_ram("ram", 0x10000, 0x11);
    tu_add_keep(sys, 0x40000000, ram, 0);
    AddressSpace *dma = tu_as("dma", sys);   /* renders 'system' now */
    MemRegion *dev = tu_ram("dev", 0x1000, 0x22);
    tu_add_keep(sys, 0x09000000, dev, 0);    /* 'system' is already marked */
    CpuViewConfig vc = { .cpu_index = 0, .global_map = sys };
    CpuView *cv = cpu_view_new(&vc, &err);
    TU_ASSERT_NO_ERROR(err);
    MemRegion *late = tu_ram("late", 0x1000, 0x33);
    tu_add_keep(sys, 0x0a000000, late, 0);   /* after the view rendered too */
    mem_transaction_commit();
    ck_assert_uint_eq(tu_rd(dma, 0x09000000, 1), 0x22);
    ck_assert_uint_eq(tu_rd(dma, 0x0a000000, 1), 0x33);
    ck_assert_uint_eq(tu_rd(cpu_view_as(cv), 0x09000000, 1), 0x22);
    ck_assert_uint_eq(tu_rd(cpu_view_as(cv), 0x0a000000, 1), 0x33);
    ck_assert_uint_eq(tu_rd(cpu_view_as(cv), 0x40000000, 1), 0x11);
    cpu_view_free(cv);
    as_free(dma);
    mr_unref(late);
    mr_unref(dev);
    mr_unref(ram);
    mr_unref(sys);
}
END_TEST

static Suite *cpu_view_suite(void)
{
    Suite *s = suite_create("cpu_view");
    TCase *tc = tu_tcase(s, "apic");
    tcase_add_test(tc, test_view_layout);
    tcase_add_test(tc, test_each_cpu_reaches_own_apic);
    tcase_add_test(tc, test_dma_never_sees_cpu_overlays);
    tcase_add_test(tc, test_relocate_apic_is_isolated);
    tcase_add_test(tc, test_disable_apic_shows_beneath);

    tc = tu_tcase(s, "smm");
    tcase_add_test(tc, test_smram_per_cpu);

    tc = tu_tcase(s, "sharing");
    tcase_add_test(tc, test_global_change_renders_once);
    tcase_add_test(tc, test_shared_base);
    tcase_add_test(tc, test_equivalence_sequence);
    tcase_add_test(tc, test_cpu_dispatch_is_small);
    tcase_add_test(tc, test_layered_sections);
    tcase_add_test(tc, test_space_created_mid_transaction);
    return s;
}

int main(void)
{
    return tu_run(cpu_view_suite());
}
