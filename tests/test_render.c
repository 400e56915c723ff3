/*
 * Rendering: overlap, priority, restore-on-removal, clipping, aliases,
 * merging, sub-page dispatch and transactions (memory-semantics.md §2, §5).
 *
 * Flat views are compared range by range (start, last, leaf, offset,
 * read-only). Every test also checks that the address space's incrementally
 * maintained view equals a fresh flatview_render() of its root and that the
 * dispatch agrees with it (TU_CHECK_CONSISTENT).
 */
#include "test_util.h"

#define ROOT_SIZE 0x1000000ull

static uint64_t rd_result(AddressSpace *as, uint64_t addr, unsigned size, MemResult *res)
{
    uint64_t v = 0;
    *res = as_read_val(as, addr, mem_attrs_cpu(0), size, MEM_LITTLE_ENDIAN, &v);
    return v;
}

/* ------------------------------------------------------------------ */
/* Gleb's example (§2, L10853-11007). */

typedef struct Gleb {
    MemRegion *root, *pci, *bar_a, *bar_b, *ram;
    TuDev *dev_a, *dev_b;
    AddressSpace *as;
} Gleb;

static void gleb_build(Gleb *g, int pci_prio, int ram_prio)
{
    g->root = tu_container("root", ROOT_SIZE);
    g->dev_a = tu_dev_fixed(0xaaaaaaaa);
    g->dev_b = tu_dev_fixed(0xbbbbbbbb);
    g->pci = tu_container("pci", 0x30000);
    g->bar_a = tu_put(g->pci, 0x1000, tu_mmio("bar-a", 0x1000, g->dev_a), 0);
    g->bar_b = tu_put(g->pci, 0x20000, tu_mmio("bar-b", 0x1000, g->dev_b), 0);
    tu_put(g->root, 0, g->pci, pci_prio);
    g->ram = tu_put(g->root, 0, tu_ram("ram", 0x20000, 0x11), ram_prio);
    g->as = tu_as("gleb", g->root);
}

static void gleb_free(Gleb *g)
{
    as_free(g->as);
    mr_unref(g->root);
    tu_dev_free(g->dev_a);
    tu_dev_free(g->dev_b);
}

/* PCI prio 1 over RAM prio 0: 0x0 is RAM, 0x1000 is BAR A, 0x20000 is BAR B. */
START_TEST(test_gleb_pci_over_ram)
{
    Gleb g;
    gleb_build(&g, 1, 0);
    const TuRange exp[] = {
        { 0x00000, 0x00fff, g.ram, 0x0000, false },
        { 0x01000, 0x01fff, g.bar_a, 0, false },
        { 0x02000, 0x1ffff, g.ram, 0x2000, false },
        { 0x20000, 0x20fff, g.bar_b, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(g.as), exp);
    TU_CHECK_CONSISTENT(g.as);

    ck_assert_uint_eq(tu_rd(g.as, 0x0, 4), 0x11111111);
    ck_assert_uint_eq(tu_rd(g.as, 0x1000, 4), 0xaaaaaaaa);
    ck_assert_uint_eq(tu_rd(g.as, 0x2000, 4), 0x11111111);
    ck_assert_uint_eq(tu_rd(g.as, 0x20000, 4), 0xbbbbbbbb);
    ck_assert_ptr_eq(tu_dispatch_mr(g.as, 0x0), g.ram);
    ck_assert_ptr_eq(tu_dispatch_mr(g.as, 0x1000), g.bar_a);
    ck_assert_ptr_eq(tu_dispatch_mr(g.as, 0x20000), g.bar_b);
    ck_assert_ptr_null(tu_dispatch_mr(g.as, 0x21000)); /* PCI hole, no RAM: unassigned */
    MemResult r;
    rd_result(g.as, 0x21000, 4, &r);
    ck_assert_int_eq(r, MEM_DECODE_ERROR);
    gleb_free(&g);
}
END_TEST

/* Priorities swapped: RAM prio 1 wins at 0x1000; BAR B still shows at 0x20000. */
START_TEST(test_gleb_ram_over_pci)
{
    Gleb g;
    gleb_build(&g, 0, 1);
    const TuRange exp[] = {
        { 0x00000, 0x1ffff, g.ram, 0, false },
        { 0x20000, 0x20fff, g.bar_b, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(g.as), exp);
    TU_CHECK_CONSISTENT(g.as);
    ck_assert_uint_eq(tu_rd(g.as, 0x0, 4), 0x11111111);
    ck_assert_uint_eq(tu_rd(g.as, 0x1000, 4), 0x11111111);
    ck_assert_uint_eq(tu_rd(g.as, 0x20000, 4), 0xbbbbbbbb);
    ck_assert_ptr_eq(tu_dispatch_mr(g.as, 0x1000), g.ram);
    ck_assert_uint_eq(tu_dev_nlog(g.dev_a), 0); /* BAR A never reached */
    gleb_free(&g);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §2: transparent holes; priority is local and never travels up. */

START_TEST(test_transparent_holes)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_fixed(0x12345678);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x4000, 0x22), 0);
    MemRegion *win = tu_put(root, 0, tu_container("win", 0x4000), 1);
    MemRegion *bar = tu_put(win, 0x1000, tu_mmio("bar", 0x1000, dev), 0);
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x0000, 0x0fff, ram, 0x0000, false },
        { 0x1000, 0x1fff, bar, 0, false },
        { 0x2000, 0x3fff, ram, 0x2000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x0ffc, 4), 0x22222222);
    ck_assert_uint_eq(tu_rd(as, 0x1000, 4), 0x12345678);
    ck_assert_uint_eq(tu_rd(as, 0x3ffc, 4), 0x22222222);

    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* L10509: a child with a huge priority inside a low-priority container does
 * not obscure a higher-priority sibling of that container. */
START_TEST(test_priority_never_travels_up)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *low = tu_put(root, 0, tu_container("low", 0x4000), 0);
    MemRegion *x = tu_put(low, 0, tu_ram("x", 0x4000, 0x01), 1000000);
    MemRegion *s = tu_put(root, 0x1000, tu_ram("s", 0x1000, 0x02), 1);
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x0000, 0x0fff, x, 0x0000, false },
        { 0x1000, 0x1fff, s, 0, false },
        { 0x2000, 0x3fff, x, 0x2000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x1800, 1), 0x02);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* Priorities are signed (§2): -5 loses to 0. */
START_TEST(test_negative_priority)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *bg = tu_put(root, 0, tu_ram("bg", 0x3000, 0), -5);
    MemRegion *fg = tu_put(root, 0x1000, tu_ram("fg", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    const TuRange exp[] = {
        { 0x0000, 0x0fff, bg, 0x0000, false },
        { 0x1000, 0x1fff, fg, 0, false },
        { 0x2000, 0x2fff, bg, 0x2000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §2 restore: removing, disabling or moving restores what was hidden (L411, L9451). */

/* The canonical case (L10355): a BAR over another BAR, then unmapped. */
START_TEST(test_restore_bar_over_bar)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *d1 = tu_dev_fixed(0x1111), *d2 = tu_dev_fixed(0x2222);
    MemRegion *pci = tu_put(root, 0, tu_container("pci", 0x10000), 0);
    MemRegion *bar1 = tu_put(pci, 0x3000, tu_mmio("bar1", 0x1000, d1), 0);
    MemRegion *bar2 = tu_mmio("bar2", 0x1000, d2);
    tu_add_keep(pci, 0x3000, bar2, 1);
    AddressSpace *as = tu_as("as", root);

    const TuRange top[] = { { 0x3000, 0x3fff, bar2, 0, false } };
    TU_EXPECT_RANGES(as_flatview(as), top);
    ck_assert_uint_eq(tu_rd(as, 0x3000, 2), 0x2222);

    tu_del(pci, bar2);
    const TuRange under[] = { { 0x3000, 0x3fff, bar1, 0, false } };
    TU_EXPECT_RANGES(as_flatview(as), under);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x3000, 2), 0x1111);

    /* back on top, then moved away: bar1 shows again, bar2 at its new place */
    tu_add_keep(pci, 0x3000, bar2, 1);
    TU_EXPECT_RANGES(as_flatview(as), top);
    mr_set_address(bar2, 0x5000);
    const TuRange moved[] = {
        { 0x3000, 0x3fff, bar1, 0, false },
        { 0x5000, 0x5fff, bar2, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), moved);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x3000, 2), 0x1111);
    ck_assert_uint_eq(tu_rd(as, 0x5000, 2), 0x2222);

    as_free(as);
    mr_unref(bar2);
    mr_unref(root);
    tu_dev_free(d1);
    tu_dev_free(d2);
}
END_TEST

/* A BAR over RAM moved away restores the RAM as one merged range. */
START_TEST(test_restore_ram_after_move)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_fixed(0xbabe);
    MemRegion *ram = tu_put(root, 0, tu_ram_pattern("ram", 0x10000, 1), 0);
    MemRegion *bar = tu_put(root, 0x4000, tu_mmio("bar", 0x1000, dev), 1);
    AddressSpace *as = tu_as("as", root);

    const TuRange before[] = {
        { 0x0000, 0x3fff, ram, 0x0000, false },
        { 0x4000, 0x4fff, bar, 0, false },
        { 0x5000, 0xffff, ram, 0x5000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), before);
    ck_assert_uint_eq(tu_rd(as, 0x4000, 2), 0xbabe);

    mr_set_address(bar, 0x20000);
    const TuRange after[] = {
        { 0x00000, 0x0ffff, ram, 0, false },
        { 0x20000, 0x20fff, bar, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), after);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x4000, 1), tu_pattern_byte(0x4000, 1));
    ck_assert_uint_eq(tu_rd(as, 0x20000, 2), 0xbabe);
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* L411, L9451: changes made to hidden regions meanwhile show once uncovered:
 * RAM content, a resized MMIO, an enabled child, a newly added child. */
START_TEST(test_restore_sees_hidden_changes)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_fixed(0x77);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x10000, 0), 0);
    MemRegion *h = tu_put(root, 0x20000, tu_container("hidden", 0x10000), 0);
    MemRegion *m1 = tu_put(h, 0, tu_mmio("m1", 0x1000, dev), 0);
    MemRegion *k = tu_put(h, 0x3000, tu_ram("k", 0x1000, 0x4b), 0);
    mr_set_enabled(k, false);
    MemRegion *cover = tu_ram("cover", 0x40000, 0xcc);
    tu_add_keep(root, 0, cover, 5);
    AddressSpace *as = tu_as("as", root);

    const TuRange covered[] = { { 0x0, 0x3ffff, cover, 0, false } };
    TU_EXPECT_RANGES(as_flatview(as), covered);

    /* changes to hidden things: nothing visible yet */
    ((uint8_t *)mr_ram_ptr(ram))[0x10] = 0xee;
    GError *err = NULL;
    ck_assert(mr_set_size(m1, 0x2000, &err));
    TU_ASSERT_NO_ERROR(err);
    mr_set_enabled(k, true);
    MemRegion *n = tu_put(h, 0x5000, tu_ram("n", 0x1000, 0x4e), 0);
    TU_EXPECT_RANGES(as_flatview(as), covered);
    TU_CHECK_CONSISTENT(as);

    /* disabling the cover shows all of them */
    mr_set_enabled(cover, false);
    const TuRange shown[] = {
        { 0x00000, 0x0ffff, ram, 0, false },
        { 0x20000, 0x21fff, m1, 0, false },
        { 0x23000, 0x23fff, k, 0, false },
        { 0x25000, 0x25fff, n, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), shown);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x10, 1), 0xee);
    ck_assert_uint_eq(tu_rd(as, 0x21ffc, 1), 0x77);
    ck_assert_uint_eq(tu_rd(as, 0x23000, 1), 0x4b);
    ck_assert_uint_eq(tu_rd(as, 0x25000, 1), 0x4e);

    /* cover again, change again, then delete the cover */
    mr_set_enabled(cover, true);
    TU_EXPECT_RANGES(as_flatview(as), covered);
    ((uint8_t *)mr_ram_ptr(ram))[0x11] = 0xef;
    mr_set_enabled(k, false);
    tu_del(root, cover);
    const TuRange shown2[] = {
        { 0x00000, 0x0ffff, ram, 0, false },
        { 0x20000, 0x21fff, m1, 0, false },
        { 0x25000, 0x25fff, n, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), shown2);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x10, 2), 0xefee);

    as_free(as);
    mr_unref(cover);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §1 L11031: a child is clipped to its parent; §2 L11181: absurd addresses
 * are clipped, never fatal. */

START_TEST(test_clip_child_to_parent)
{
    MemRegion *root = tu_container("root", 0x100000);
    MemRegion *box = tu_put(root, 0x10000, tu_container("box", 0x1000), 0);
    MemRegion *big = tu_put(box, 0, tu_ram("big", 0x4000, 0x0b), 0);
    MemRegion *box2 = tu_put(root, 0x20000, tu_container("box2", 0x1000), 0);
    ck_assert_ptr_eq(mr_parent(box2), root);
    MemRegion *half = tu_put(box2, 0x800, tu_ram("half", 0x1000, 0x0c), 0);
    MemRegion *edge = tu_put(root, 0xff000, tu_ram("edge", 0x4000, 0x0d), 0);
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x10000, 0x10fff, big, 0, false },
        { 0x20800, 0x20fff, half, 0, false },
        { 0xff000, 0xfffff, edge, 0, false }, /* clipped to the root too */
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);
    MemResult r;
    rd_result(as, 0x11000, 1, &r); /* big's offset 0x1000 is outside box */
    ck_assert_int_eq(r, MEM_DECODE_ERROR);
    rd_result(as, 0x100000, 1, &r); /* beyond the root */
    ck_assert_int_eq(r, MEM_DECODE_ERROR);

    /* absurd guest-programmed addresses: clipped away, no crash */
    mr_set_address(half, UINT64_MAX - 0x7ff);
    mr_set_address(big, 0xfffffffffffff000ull);
    const TuRange exp2[] = { { 0xff000, 0xfffff, edge, 0, false } };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    TU_CHECK_CONSISTENT(as);
    mr_set_address(box, UINT64_MAX);
    TU_EXPECT_RANGES(as_flatview(as), exp2);

    /* growing the parent uncovers more of the child */
    mr_set_address(big, 0);
    mr_set_address(box, 0x10000);
    GError *err = NULL;
    ck_assert(mr_set_size(box, 0x2000, &err));
    TU_ASSERT_NO_ERROR(err);
    const TuRange exp3[] = {
        { 0x10000, 0x11fff, big, 0, false },
        { 0xff000, 0xfffff, edge, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp3);
    TU_CHECK_CONSISTENT(as);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* §2 "our position" (L9250): equal priority overlap is allowed, the most
 * recently added sibling wins, and it is reported. */
START_TEST(test_equal_priority_latest_wins)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *a = tu_ram("a", 0x2000, 0xa);
    MemRegion *b = tu_ram("b", 0x2000, 0xb);
    GError *err = NULL;
    ck_assert(mr_add_subregion(root, 0x0000, a, &err));
    ck_assert_uint_eq(tu_num_reports(), 0);
    ck_assert(mr_add_subregion(root, 0x1000, b, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_msg(tu_num_reports() >= 1, "equal-priority overlap not reported");
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x0000, 0x0fff, a, 0, false },
        { 0x1000, 0x2fff, b, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    ck_assert_uint_eq(tu_rd(as, 0x1800, 1), 0xb);
    tu_clear_reports();
    ck_assert_uint_eq(mr_check_overlaps(root), 1);
    ck_assert_uint_eq(tu_num_reports(), 1);

    /* re-adding a makes it the latest */
    tu_del(root, a);
    ck_assert(mr_add_subregion(root, 0x0000, a, &err));
    TU_ASSERT_NO_ERROR(err);
    const TuRange exp2[] = {
        { 0x0000, 0x1fff, a, 0, false },
        { 0x2000, 0x2fff, b, 0x1000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x1800, 1), 0xa);

    as_free(as);
    mr_unref(a);
    mr_unref(b);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §1 aliases: windows onto other regions; aliases of aliases resolve. */

START_TEST(test_alias_chain_and_offset_changes)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_ram_pattern("ram", 0x10000, 3);
    MemRegion *a1 = tu_alias("a1", ram, 0x4000, 0x8000);
    MemRegion *a2 = tu_put(root, 0x100000, tu_alias("a2", a1, 0x1000, 0x2000), 0);
    AddressSpace *as = tu_as("as", root);
    GError *err = NULL;

    const TuRange exp[] = { { 0x100000, 0x101fff, ram, 0x5000, false } };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x100000, 1), tu_pattern_byte(0x5000, 3));
    ck_assert_uint_eq(tu_rd(as, 0x101fff, 1), tu_pattern_byte(0x6fff, 3));

    /* outer alias moves its window */
    ck_assert(mr_set_alias_offset(a2, 0x2000, &err));
    TU_ASSERT_NO_ERROR(err);
    const TuRange exp2[] = { { 0x100000, 0x101fff, ram, 0x6000, false } };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    ck_assert_uint_eq(tu_rd(as, 0x100010, 1), tu_pattern_byte(0x6010, 3));

    /* inner alias (not itself mapped anywhere) moves: seen through the chain */
    ck_assert(mr_set_alias_offset(a1, 0, &err));
    TU_ASSERT_NO_ERROR(err);
    const TuRange exp3[] = { { 0x100000, 0x101fff, ram, 0x2000, false } };
    TU_EXPECT_RANGES(as_flatview(as), exp3);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x100010, 1), tu_pattern_byte(0x2010, 3));

    /* writes through the chain land in the RAM */
    tu_wr(as, 0x100020, 1, 0x5c);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(ram))[0x2020], 0x5c);

    as_free(as);
    mr_unref(a1);
    mr_unref(ram);
    mr_unref(root);
}
END_TEST

/* An alias of a container (a bus window, §6) shows the container's children
 * through the window, clipped to it. */
START_TEST(test_alias_of_container)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_fixed(0x5a5a);
    MemRegion *bus = tu_container("bus", 0x10000);
    MemRegion *r = tu_put(bus, 0x2000, tu_ram("r", 0x1000, 0x21), 0);
    MemRegion *m = tu_put(bus, 0x8000, tu_mmio("m", 0x2000, dev), 0);
    tu_put(root, 0x40000, tu_alias("window", bus, 0x1000, 0x8000), 0);
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x41000, 0x41fff, r, 0, false },
        { 0x47000, 0x47fff, m, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x41000, 1), 0x21);
    ck_assert_uint_eq(tu_rd(as, 0x47000, 2), 0x5a5a);

    /* a change inside the aliased container shows through the window */
    mr_set_address(r, 0x3000);
    const TuRange exp2[] = {
        { 0x42000, 0x42fff, r, 0, false },
        { 0x47000, 0x47fff, m, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    TU_CHECK_CONSISTENT(as);

    as_free(as);
    mr_unref(bus);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* FlatRange.readonly: the leaf or an alias on the path was read-only. */
START_TEST(test_readonly_flag_in_ranges)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x2000, 0), 0);
    MemRegion *win = tu_put(root, 0x10000, tu_alias("win", ram, 0x1000, 0x1000), 0);
    AddressSpace *as = tu_as("as", root);

    mr_set_readonly(win, true);
    const TuRange exp[] = {
        { 0x00000, 0x01fff, ram, 0x0000, false },
        { 0x10000, 0x10fff, ram, 0x1000, true },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    mr_set_readonly(win, false);
    mr_set_readonly(ram, true);
    const TuRange exp2[] = {
        { 0x00000, 0x01fff, ram, 0x0000, true },
        { 0x10000, 0x10fff, ram, 0x1000, true },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    TU_CHECK_CONSISTENT(as);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* §1 mutations: enable/disable, including a whole container. */
START_TEST(test_disable_enable)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0x1000, tu_ram("ram", 0x1000, 0x31), 0);
    MemRegion *box = tu_put(root, 0x8000, tu_container("box", 0x4000), 0);
    MemRegion *in = tu_put(box, 0x1000, tu_ram("in", 0x1000, 0x32), 0);
    AddressSpace *as = tu_as("as", root);
    MemResult r;

    mr_set_enabled(ram, false);
    const TuRange exp1[] = { { 0x9000, 0x9fff, in, 0, false } };
    TU_EXPECT_RANGES(as_flatview(as), exp1);
    uint64_t v = rd_result(as, 0x1000, 1, &r);
    ck_assert_int_eq(r, MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0xff);

    mr_set_enabled(box, false);
    TU_EXPECT_NO_RANGES(as_flatview(as));
    mr_set_enabled(ram, true);
    mr_set_enabled(box, true);
    const TuRange exp2[] = {
        { 0x1000, 0x1fff, ram, 0, false },
        { 0x9000, 0x9fff, in, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, 0x1000, 1), 0x31);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* MEM_SIZE_FULL: the whole 64-bit space, up to and including UINT64_MAX. */
START_TEST(test_full_64bit_space)
{
    MemRegion *root = tu_container("all", MEM_SIZE_FULL);
    MemRegion *low = tu_put(root, 0, tu_ram("low", 0x1000, 0x10), 0);
    MemRegion *top = tu_put(root, 0xfffffffffffff000ull, tu_ram_pattern("top", 0x1000, 9), 0);
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x0, 0xfff, low, 0, false },
        { 0xfffffffffffff000ull, UINT64_MAX, top, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);
    ck_assert_ptr_eq(flatview_find(as_flatview(as), UINT64_MAX)->mr, top);
    ck_assert_ptr_null(flatview_find(as_flatview(as), 0x1000));

    ck_assert_uint_eq(tu_rd(as, UINT64_MAX, 1), tu_pattern_byte(0xfff, 9));
    tu_wr(as, 0xfffffffffffffff8ull, 8, 0x0102030405060708ull);
    ck_assert_uint_eq(tu_rd(as, 0xfffffffffffffff8ull, 8), 0x0102030405060708ull);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(top))[0xfff], 0x01);

    /* the hole between them is one unassigned section reaching the top */
    uint64_t last = 0;
    Dispatch *d = as_dispatch(as);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, 0x1000, &last));
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(s->mr);
    ck_assert_uint_eq(last, 0xffffffffffffefffull);
    s = dispatch_section(d, dispatch_lookup(d, UINT64_MAX, &last));
    ck_assert_ptr_eq(s->mr, top);
    ck_assert_uint_eq(last, UINT64_MAX);

    /* a region that would run past 2^64 is clipped at the top */
    mr_set_address(top, UINT64_MAX - 0x7ff);
    const TuRange exp2[] = {
        { 0x0, 0xfff, low, 0, false },
        { UINT64_MAX - 0x7ff, UINT64_MAX, top, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp2);
    TU_CHECK_CONSISTENT(as);
    ck_assert_uint_eq(tu_rd(as, UINT64_MAX, 1), tu_pattern_byte(0x7ff, 9));
    as_free(as);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §5 merging: adjacent ranges that continue the same region with the same
 * attributes are one range; anything else stays separate. */

START_TEST(test_merge_contiguous_aliases)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_ram("ram", 0x4000, 0);
    MemRegion *other = tu_ram("other", 0x1000, 0);
    tu_put(root, 0x10000, tu_alias("lo", ram, 0x0000, 0x2000), 0);
    MemRegion *hi = tu_put(root, 0x12000, tu_alias("hi", ram, 0x2000, 0x2000), 0);
    AddressSpace *as = tu_as("as", root);
    GError *err = NULL;

    /* contiguous in address and offset: one range */
    const TuRange one[] = { { 0x10000, 0x13fff, ram, 0, false } };
    TU_EXPECT_RANGES(as_flatview(as), one);
    TU_CHECK_CONSISTENT(as);

    /* gap in address */
    mr_set_address(hi, 0x13000);
    const TuRange gap[] = {
        { 0x10000, 0x11fff, ram, 0x0000, false },
        { 0x13000, 0x14fff, ram, 0x2000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), gap);

    /* adjacent in address, not in offset */
    mr_set_address(hi, 0x12000);
    ck_assert(mr_set_alias_offset(hi, 0x1000, &err));
    TU_ASSERT_NO_ERROR(err);
    const TuRange off[] = {
        { 0x10000, 0x11fff, ram, 0x0000, false },
        { 0x12000, 0x13fff, ram, 0x1000, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), off);

    /* contiguous again but different attributes */
    ck_assert(mr_set_alias_offset(hi, 0x2000, &err));
    TU_EXPECT_RANGES(as_flatview(as), one);
    mr_set_readonly(hi, true);
    const TuRange attr[] = {
        { 0x10000, 0x11fff, ram, 0x0000, false },
        { 0x12000, 0x13fff, ram, 0x2000, true },
    };
    TU_EXPECT_RANGES(as_flatview(as), attr);
    TU_CHECK_CONSISTENT(as);

    /* two different regions back to back are never merged */
    tu_add_keep(root, 0x14000, other, 0);
    const TuRange two[] = {
        { 0x10000, 0x11fff, ram, 0x0000, false },
        { 0x12000, 0x13fff, ram, 0x2000, true },
        { 0x14000, 0x14fff, other, 0, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), two);

    as_free(as);
    mr_unref(other);
    mr_unref(ram);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* dispatch.h: sub-page regions share a page through a sub-page table. */

START_TEST(test_subpage_dispatch)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    TuDev *dev2 = tu_dev_fixed(0x99);
    for (unsigned i = 0; i < 0x10; i++) {
        dev->mem[i] = (uint8_t)(0xc0 + i);
    }
    MemRegion *ram = tu_put(root, 0, tu_ram_pattern("ram", 0x2000, 5), 0);
    MemRegion *m = tu_put(root, 0x1008, tu_mmio("tiny", 0x10, dev), 1);
    MemRegion *m2 = tu_put(root, 0x1100, tu_mmio("tiny2", 0x8, dev2), 1);
    AddressSpace *as = tu_as("as", root);

    const TuRange exp[] = {
        { 0x0000, 0x1007, ram, 0x0000, false },
        { 0x1008, 0x1017, m, 0, false },
        { 0x1018, 0x10ff, ram, 0x1018, false },
        { 0x1100, 0x1107, m2, 0, false },
        { 0x1108, 0x1fff, ram, 0x1108, false },
    };
    TU_EXPECT_RANGES(as_flatview(as), exp);
    TU_CHECK_CONSISTENT(as);

    Dispatch *d = as_dispatch(as);
    struct { uint64_t addr; MemRegion *mr; uint64_t last; uint64_t off; } probes[] = {
        { 0x1000, ram, 0x1007, 0x1000 },
        { 0x1007, ram, 0x1007, 0x1007 },
        { 0x1008, m, 0x1017, 0x0 },
        { 0x1010, m, 0x1017, 0x8 },
        { 0x1017, m, 0x1017, 0xf },
        { 0x1018, ram, 0x10ff, 0x1018 },
        { 0x1104, m2, 0x1107, 0x4 },
        { 0x1108, ram, 0x1fff, 0x1108 },
        { 0x1fff, ram, 0x1fff, 0x1fff },
        { 0x2000, NULL, UINT64_MAX, 0 }, /* the hole runs to the top of the space */
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(probes); i++) {
        uint64_t last = 0;
        const MemSection *s = dispatch_section(d, dispatch_lookup(d, probes[i].addr, &last));
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(s->mr == probes[i].mr && last == probes[i].last,
                      "lookup(0x%" PRIx64 "): got %s last 0x%" PRIx64, probes[i].addr,
                      s->mr ? mr_name(s->mr) : "unassigned", last);
        if (s->mr) {
            ck_assert_uint_eq(s->offset_in_region + (probes[i].addr - s->start), probes[i].off);
        }
    }

    /* accesses through the sub-page table */
    ck_assert_uint_eq(tu_rd(as, 0x1004, 1), tu_pattern_byte(0x1004, 5));
    ck_assert_uint_eq(tu_rd(as, 0x100c, 4), 0xc7c6c5c4);
    ck_assert_uint_eq(tu_rd(as, 0x1018, 1), tu_pattern_byte(0x1018, 5));
    ck_assert_uint_eq(tu_rd(as, 0x1100, 1), 0x99);
    tu_wr(as, 0x1020, 1, 0x3e);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(ram))[0x1020], 0x3e);
    tu_wr(as, 0x1010, 2, 0xbeef);
    ck_assert_uint_eq(dev->mem[8], 0xef);
    ck_assert_uint_eq(dev->mem[9], 0xbe);

    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
    tu_dev_free(dev2);
}
END_TEST

/* flatview_find: a range or NULL for a hole. */
START_TEST(test_flatview_find)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *a = tu_put(root, 0x1000, tu_ram("a", 0x1000, 0), 0);
    MemRegion *b = tu_put(root, 0x5000, tu_ram("b", 0x3000, 0), 0);
    FlatView *fv = flatview_render(root);
    ck_assert_ptr_null(flatview_find(fv, 0x0));
    ck_assert_ptr_eq(flatview_find(fv, 0x1000)->mr, a);
    ck_assert_ptr_eq(flatview_find(fv, 0x1fff)->mr, a);
    ck_assert_ptr_null(flatview_find(fv, 0x2000));
    ck_assert_ptr_eq(flatview_find(fv, 0x7fff)->mr, b);
    ck_assert_ptr_null(flatview_find(fv, 0x8000));
    ck_assert_ptr_null(flatview_find(fv, UINT64_MAX));
    FlatView *fv2 = flatview_render(root);
    ck_assert(flatview_equal(fv, fv2));
    mr_set_address(b, 0x6000);
    FlatView *fv3 = flatview_render(root);
    ck_assert(!flatview_equal(fv, fv3));
    flatview_unref(fv);
    flatview_unref(fv2);
    flatview_unref(fv3);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §5 transactions: nestable; the outermost commit renders once. */

START_TEST(test_nested_transaction_renders_once)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *mover = tu_put(root, 0, tu_ram("mover", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    MemRenderStats before, mid, after;
    mem_render_stats(&before);
    Dispatch *d0 = as_dispatch(as);
    dispatch_ref(d0);

    ck_assert_uint_eq(mem_transaction_depth(), 0);
    mem_transaction_begin();
    mem_transaction_begin();
    ck_assert_uint_eq(mem_transaction_depth(), 2);
    for (unsigned i = 0; i < 50; i++) { /* 50 adds + 50 moves = 100 mutations */
        char name[16];
        snprintf(name, sizeof(name), "r%u", i);
        tu_put(root, 0x100000 + i * 0x2000, tu_ram(name, 0x1000, 0), 0);
        mr_set_address(mover, (uint64_t)(i + 1) * 0x1000);
    }
    mem_transaction_commit();
    ck_assert_uint_eq(mem_transaction_depth(), 1);
    mem_render_stats(&mid);
    ck_assert_uint_eq(mid.full_renders, before.full_renders); /* inner commit: no render */
    ck_assert_uint_eq(mid.commits, before.commits);
    mem_transaction_commit();
    ck_assert_uint_eq(mem_transaction_depth(), 0);
    mem_render_stats(&after);
    ck_assert_uint_eq(after.full_renders - before.full_renders, 1);
    ck_assert_uint_eq(after.commits - before.commits, 1);

    /* and the one render has everything */
    FlatView *fv = as_flatview(as);
    ck_assert_uint_eq(flatview_num_ranges(fv), 51);
    ck_assert_ptr_eq(flatview_find(fv, 0x32000)->mr, mover);
    ck_assert_ptr_null(flatview_find(fv, 0x0));
    TU_CHECK_CONSISTENT(as);
    ck_assert(as_dispatch(as) != d0);
    ck_assert(dispatch_generation(as_dispatch(as)) > dispatch_generation(d0));
    dispatch_unref(d0);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* address_space.h: each distinct dirty root renders at most once; clean
 * roots are not re-rendered and keep their dispatch. */
START_TEST(test_render_per_distinct_root)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *other = tu_container("other", ROOT_SIZE);
    tu_put(other, 0, tu_ram("o", 0x1000, 0), 0);
    AddressSpace *as1 = tu_as("as1", root);
    AddressSpace *as2 = tu_as("as2", root);
    AddressSpace *as3 = tu_as("as3", other);
    Dispatch *d3 = as_dispatch(as3);
    dispatch_ref(d3);
    uint64_t gen3 = dispatch_generation(d3);

    MemRenderStats before, after;
    mem_render_stats(&before);
    MemRegion *r = tu_put(root, 0x2000, tu_ram("r", 0x1000, 0x66), 0);
    mem_render_stats(&after);
    ck_assert_uint_eq(after.full_renders - before.full_renders, 1);
    ck_assert_uint_eq(after.commits - before.commits, 1);

    ck_assert_ptr_eq(tu_dispatch_mr(as1, 0x2000), r);
    ck_assert_ptr_eq(tu_dispatch_mr(as2, 0x2000), r);
    ck_assert_uint_eq(tu_rd(as2, 0x2000, 1), 0x66);
    ck_assert_ptr_eq(as_dispatch(as3), d3);
    ck_assert_uint_eq(dispatch_generation(as_dispatch(as3)), gen3);

    dispatch_unref(d3);
    as_free(as1);
    as_free(as2);
    as_free(as3);
    mr_unref(root);
    mr_unref(other);
}
END_TEST

/* dispatch.h: each new dispatch has a larger generation. */
START_TEST(test_dispatch_generation_increases)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *r = tu_put(root, 0, tu_ram("r", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    uint64_t g = dispatch_generation(as_dispatch(as));
    for (unsigned i = 1; i <= 5; i++) {
        mr_set_address(r, i * 0x1000);
        uint64_t g2 = dispatch_generation(as_dispatch(as));
        ck_assert_msg(g2 > g, "generation %" PRIu64 " after %" PRIu64, g2, g);
        g = g2;
        ck_assert_ptr_eq(tu_dispatch_mr(as, i * 0x1000), r);
    }
    as_free(as);
    mr_unref(root);
}
END_TEST

/* address_space.h: every live address space, in creation order. */
START_TEST(test_address_space_registry)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    guint n0 = as_count();
    AddressSpace *a = tu_as("first", root);
    AddressSpace *b = tu_as("second", root);
    ck_assert_uint_eq(as_count(), n0 + 2);
    ck_assert_ptr_eq(as_nth(n0), a);
    ck_assert_ptr_eq(as_nth(n0 + 1), b);
    ck_assert_str_eq(as_name(a), "first");
    ck_assert_ptr_eq(as_root(b), root);
    as_free(a);
    ck_assert_uint_eq(as_count(), n0 + 1);
    ck_assert_ptr_eq(as_nth(n0), b);
    as_free(b);
    ck_assert_uint_eq(as_count(), n0);
    mr_unref(root);
}
END_TEST


/* §5 + the windowed re-render: in a map without aliases, a commit re-renders
 * only where regions moved, and the result is always what rendering from
 * scratch gives. Fixed seed; printed on failure. */
static uint64_t lcg_next(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 33;
}

START_TEST(test_windowed_rerender_equals_full)
{
    const uint64_t seed0 = 0x77696e646f77ull;
    uint64_t seed = seed0;
#define NEXT() lcg_next(&seed)
    MemRegion *root = mr_new_container("root", MEM_SIZE_FULL, NULL);
    MemRegion *sub = mr_new_container("sub", 0x100000, NULL);
    ck_assert(mr_add_subregion_overlap(root, 0x400000, sub, 1, NULL));
    MemRegion *ram = mr_new_ram("ram", 0x800000, NULL);
    ck_assert(mr_add_subregion(root, 0, ram, NULL));
    enum { N = 24 };
    MemRegion *r[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        g_snprintf(name, sizeof(name), "r%d", i);
        r[i] = mr_new_ram(name, 0x1000 << (NEXT() % 4), NULL);
        MemRegion *parent = (i % 3 == 0) ? sub : root;
        uint64_t addr = (NEXT() % 0x200) * 0x800;
        int prio = (int)(NEXT() % 3) - 1;
        ck_assert(mr_add_subregion_overlap(parent, addr, r[i], prio, NULL));
    }
    AddressSpace *as = as_new("w", root, NULL);
    MemRenderStats before, after;
    mem_render_stats(&before);
    for (int step = 0; step < 400; step++) {
        MemRegion *m = r[NEXT() % N];
        switch (NEXT() % 4) {
        case 0: mr_set_address(m, (NEXT() % 0x200) * 0x800); break;
        case 1: mr_set_enabled(m, !mr_enabled(m)); break;
        case 2: {
            MemRegion *parent = mr_parent(m);
            if (parent) {
                ck_assert(mr_del_subregion(parent, m, NULL));
            } else {
                MemRegion *to = NEXT() % 2 ? root : sub;
                uint64_t addr = (NEXT() % 0x200) * 0x800;
                int prio = (int)(NEXT() % 3) - 1;
                ck_assert(mr_add_subregion_overlap(to, addr, m, prio, NULL));
            }
            break;
        }
        default: mr_set_address(sub, (NEXT() % 0x10) * 0x100000); break;
        }
        FlatView *fresh = flatview_render(root);
        ck_assert_msg(flatview_equal(fresh, as_flatview(as)),
                      "windowed re-render differs from a full render (seed 0x%" G_GINT64_MODIFIER
                      "x, step %d)", seed0, step);
        flatview_unref(fresh);
    }
    mem_render_stats(&after);
    ck_assert_uint_gt(after.window_renders - before.window_renders, 300);
#undef NEXT
    as_free(as);
    for (int i = 0; i < N; i++) {
        mr_unref(r[i]);
    }
    mr_unref(ram);
    mr_unref(sub);
    mr_unref(root);
}
END_TEST

static Suite *render_suite(void)
{
    Suite *s = suite_create("render");
    TCase *tc = tu_tcase(s, "priority");
    tcase_add_test(tc, test_gleb_pci_over_ram);
    tcase_add_test(tc, test_gleb_ram_over_pci);
    tcase_add_test(tc, test_transparent_holes);
    tcase_add_test(tc, test_priority_never_travels_up);
    tcase_add_test(tc, test_negative_priority);
    tcase_add_test(tc, test_equal_priority_latest_wins);

    tc = tu_tcase(s, "restore");
    tcase_add_test(tc, test_restore_bar_over_bar);
    tcase_add_test(tc, test_restore_ram_after_move);
    tcase_add_test(tc, test_restore_sees_hidden_changes);
    tcase_add_test(tc, test_disable_enable);

    tc = tu_tcase(s, "geometry");
    tcase_add_test(tc, test_clip_child_to_parent);
    tcase_add_test(tc, test_full_64bit_space);
    tcase_add_test(tc, test_merge_contiguous_aliases);
    tcase_add_test(tc, test_subpage_dispatch);
    tcase_add_test(tc, test_flatview_find);

    tc = tu_tcase(s, "alias");
    tcase_add_test(tc, test_alias_chain_and_offset_changes);
    tcase_add_test(tc, test_alias_of_container);
    tcase_add_test(tc, test_readonly_flag_in_ranges);

    tc = tu_tcase(s, "transactions");
    tcase_add_test(tc, test_nested_transaction_renders_once);
    tcase_add_test(tc, test_render_per_distinct_root);
    tcase_add_test(tc, test_windowed_rerender_equals_full);
    tcase_add_test(tc, test_dispatch_generation_increases);
    tcase_add_test(tc, test_address_space_registry);
    return s;
}

int main(void)
{
    return tu_run(render_suite());
}
