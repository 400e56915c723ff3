/*
 * Region API and its misuse (memory-semantics.md §1; region.h).
 *
 * Every error path must return false/NULL with a MEM_ERROR GError and leave
 * the tree exactly as it was ("Errors leave the tree unchanged", region.h).
 */
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Creation: every kind (§1 "Kinds"). */

START_TEST(test_create_container)
{
    MemRegion *c = tu_container("c", 0x10000);
    ck_assert_int_eq(mr_kind(c), MR_KIND_CONTAINER);
    ck_assert_str_eq(mr_name(c), "c");
    ck_assert_uint_eq(mr_size(c), 0x10000);
    ck_assert_uint_eq(mr_last(c), 0xffff);
    ck_assert(mr_enabled(c));
    ck_assert(!mr_readonly(c));
    ck_assert_ptr_null(mr_parent(c));
    ck_assert_ptr_null(mr_ram_ptr(c));
    ck_assert_ptr_null(mr_alias_target(c));
    ck_assert_uint_eq(mr_num_children(c), 0);
    ck_assert_ptr_nonnull(mr_kind_name(MR_KIND_CONTAINER));
    mr_unref(c);
}
END_TEST

START_TEST(test_create_ram)
{
    GError *err = NULL;
    MemRegion *r = mr_new_ram("ram", 0x3000, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(mr_kind(r), MR_KIND_RAM);
    ck_assert_uint_eq(mr_size(r), 0x3000);
    uint8_t *p = mr_ram_ptr(r);
    ck_assert_ptr_nonnull(p);
    /* "Zero-filled host memory owned by the region." */
    for (unsigned i = 0; i < 0x3000; i++) {
        ck_assert_msg(p[i] == 0, "RAM byte %u is 0x%x, expected 0", i, p[i]);
    }
    p[0x2fff] = 0x5a; /* the whole size is writable host memory */
    ck_assert_ptr_null(mr_ops(r));
    mr_unref(r);
}
END_TEST

START_TEST(test_create_ram_ptr)
{
    GError *err = NULL;
    static uint8_t host[0x2000];
    MemRegion *r = mr_new_ram_ptr("ext", sizeof(host), host, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_int_eq(mr_kind(r), MR_KIND_RAM);
    ck_assert_ptr_eq(mr_ram_ptr(r), host);
    mr_unref(r);
}
END_TEST

START_TEST(test_create_rom)
{
    GError *err = NULL;
    MemRegion *r = mr_new_rom("rom", 0x1000, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_int_eq(mr_kind(r), MR_KIND_ROM);
    ck_assert_ptr_nonnull(mr_ram_ptr(r)); /* the host fills it */
    ck_assert_uint_eq(mr_size(r), 0x1000);
    mr_unref(r);
}
END_TEST

START_TEST(test_create_mmio)
{
    TuDev *dev = tu_dev_simple();
    MemRegion *m = tu_mmio("dev", 0x100, dev);
    ck_assert_int_eq(mr_kind(m), MR_KIND_MMIO);
    ck_assert_ptr_eq(mr_ops(m), &dev->ops);
    ck_assert_ptr_eq(mr_opaque(m), dev);
    ck_assert_ptr_null(mr_ram_ptr(m));
    ck_assert_uint_eq(mr_size(m), 0x100);
    mr_unref(m);
    tu_dev_free(dev);
}
END_TEST

START_TEST(test_create_alias)
{
    MemRegion *r = tu_ram("ram", 0x4000, 0);
    MemRegion *a = tu_alias("win", r, 0x1000, 0x2000);
    ck_assert_int_eq(mr_kind(a), MR_KIND_ALIAS);
    ck_assert_ptr_eq(mr_alias_target(a), r);
    ck_assert_uint_eq(mr_alias_offset(a), 0x1000);
    ck_assert_uint_eq(mr_size(a), 0x2000);
    ck_assert_ptr_null(mr_parent(r)); /* aliasing is not parenting (§1) */
    /* aliases of aliases (§1) */
    MemRegion *aa = tu_alias("win2", a, 0x100, 0x100);
    ck_assert_ptr_eq(mr_alias_target(aa), a);
    mr_unref(aa);
    mr_unref(a);
    mr_unref(r);
}
END_TEST

START_TEST(test_create_romd)
{
    GError *err = NULL;
    TuDev *dev = tu_dev_simple();
    MemRegion *r = mr_new_romd("flash", 0x1000, &dev->ops, dev, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_int_eq(mr_kind(r), MR_KIND_ROMD);
    ck_assert(mr_romd_mode(r)); /* "Starts in ROMD mode" */
    ck_assert_ptr_nonnull(mr_ram_ptr(r));
    ck_assert_ptr_eq(mr_ops(r), &dev->ops);
    ck_assert_ptr_eq(mr_opaque(r), dev);
    mr_unref(r);
    tu_dev_free(dev);
}
END_TEST

/* MEM_SIZE_FULL means 2^64 (mem_types.h). */
START_TEST(test_create_full_size)
{
    MemRegion *c = tu_container("all", MEM_SIZE_FULL);
    ck_assert_uint_eq(mr_size(c), MEM_SIZE_FULL);
    ck_assert_uint_eq(mr_last(c), UINT64_MAX);
    MemRegion *a = tu_alias("all-alias", c, 0, MEM_SIZE_FULL);
    ck_assert_uint_eq(mr_last(a), UINT64_MAX);
    mr_unref(a);
    mr_unref(c);
}
END_TEST

/* Size 0 is refused by every constructor (region.h "0 is refused"). */
START_TEST(test_size_zero_refused)
{
    GError *err = NULL;
    uint8_t host[16];
    TuDev *dev = tu_dev_simple();
    MemRegion *target = tu_ram("t", 0x1000, 0);

    ck_assert_ptr_null(mr_new_container("c", 0, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(mr_new_ram("r", 0, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(mr_new_ram_ptr("rp", 0, host, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(mr_new_rom("rom", 0, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(mr_new_mmio("m", 0, &dev->ops, dev, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(mr_new_alias("a", target, 0, 0, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(mr_new_romd("d", 0, &dev->ops, dev, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);

    mr_unref(target);
    tu_dev_free(dev);
}
END_TEST

/* An alias window whose end would pass 2^64 cannot be expressed. The
 * headers leave open whether that is refused ("overflowing size",
 * mem_types.h) or clipped like any absurd address (§2 L11181); either is
 * accepted here, but a clipped window must never wrap around to 0. */
START_TEST(test_alias_window_overflow_refused_or_clipped)
{
    GError *err = NULL;
    MemRegion *c = tu_container("big", MEM_SIZE_FULL);
    MemRegion *top = tu_put(c, UINT64_MAX - 0xff, tu_ram("top", 0x100, 0x70), 0);
    tu_put(c, 0, tu_ram("bottom", 0x1000, 0xb0), 0);
    MemRegion *wrap = mr_new_alias("wrap", c, UINT64_MAX - 0xff, 0x1000, &err);
    if (!wrap) {
        TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    } else {
        TU_ASSERT_NO_ERROR(err);
        MemRegion *root = tu_container("root", 0x100000);
        tu_put(root, 0x10000, wrap, 0);
        FlatView *fv = flatview_render(root);
        const TuRange exp[] = { { 0x10000, 0x100ff, top, 0, false } };
        TU_EXPECT_RANGES(fv, exp);
        flatview_unref(fv);
        mr_unref(root);
    }
    mr_unref(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Tree structure (§1: one parent; addresses relative to the container). */

START_TEST(test_add_sets_parent_address_priority)
{
    MemRegion *c = tu_container("c", 0x10000);
    MemRegion *a = tu_ram("a", 0x1000, 0);
    MemRegion *b = tu_ram("b", 0x1000, 0);
    GError *err = NULL;

    ck_assert(mr_add_subregion(c, 0x2000, a, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert(mr_add_subregion_overlap(c, 0x3000, b, -3, &err));
    TU_ASSERT_NO_ERROR(err);

    ck_assert_ptr_eq(mr_parent(a), c);
    ck_assert_uint_eq(mr_addr(a), 0x2000);
    ck_assert_int_eq(mr_priority(a), 0);
    ck_assert_ptr_eq(mr_parent(b), c);
    ck_assert_uint_eq(mr_addr(b), 0x3000);
    ck_assert_int_eq(mr_priority(b), -3);
    ck_assert_uint_eq(mr_num_children(c), 2);

    mr_set_address(a, 0x8000); /* move (§1 mutations) */
    ck_assert_uint_eq(mr_addr(a), 0x8000);

    ck_assert(mr_del_subregion(c, a, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_null(mr_parent(a));
    ck_assert_uint_eq(mr_num_children(c), 1);
    ck_assert_ptr_eq(mr_child(c, 0), b);

    mr_unref(a);
    mr_unref(b);
    mr_unref(c);
}
END_TEST

/* §1: a region belongs to at most one parent. */
START_TEST(test_add_with_parent_refused)
{
    GError *err = NULL;
    MemRegion *c1 = tu_container("c1", 0x10000);
    MemRegion *c2 = tu_container("c2", 0x10000);
    MemRegion *kid = tu_ram("kid", 0x1000, 0);
    tu_add_keep(c1, 0x4000, kid, 7);

    ck_assert(!mr_add_subregion(c2, 0x1000, kid, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_HAS_PARENT);
    ck_assert(!mr_add_subregion_overlap(c2, 0x1000, kid, 1, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_HAS_PARENT);
    /* the same container again is no exception */
    ck_assert(!mr_add_subregion_overlap(c1, 0x1000, kid, 1, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_HAS_PARENT);

    /* tree unchanged */
    ck_assert_ptr_eq(mr_parent(kid), c1);
    ck_assert_uint_eq(mr_addr(kid), 0x4000);
    ck_assert_int_eq(mr_priority(kid), 7);
    ck_assert_uint_eq(mr_num_children(c1), 1);
    ck_assert_uint_eq(mr_num_children(c2), 0);

    tu_del(c1, kid);
    mr_unref(kid);
    mr_unref(c2);
    mr_unref(c1);
}
END_TEST

START_TEST(test_add_to_self_is_cycle)
{
    GError *err = NULL;
    MemRegion *c = tu_container("c", 0x10000);
    ck_assert(!mr_add_subregion(c, 0, c, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_CYCLE);
    ck_assert_ptr_null(mr_parent(c));
    ck_assert_uint_eq(mr_num_children(c), 0);
    mr_unref(c);
}
END_TEST

START_TEST(test_add_to_descendant_is_cycle)
{
    GError *err = NULL;
    MemRegion *a = tu_container("a", 0x10000);
    MemRegion *b = tu_container("b", 0x8000);
    MemRegion *c = tu_container("c", 0x4000);
    tu_add_keep(a, 0, b, 0);
    tu_add_keep(b, 0, c, 0);

    ck_assert(!mr_add_subregion_overlap(c, 0, a, 5, &err)); /* grandchild */
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_CYCLE);
    ck_assert(!mr_add_subregion(b, 0, a, &err));               /* child */
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_CYCLE);

    ck_assert_ptr_null(mr_parent(a));
    ck_assert_uint_eq(mr_num_children(c), 0);
    ck_assert_uint_eq(mr_num_children(b), 1);
    ck_assert_ptr_eq(mr_child(b, 0), c);

    tu_del(b, c);
    tu_del(a, b);
    mr_unref(c);
    mr_unref(b);
    mr_unref(a);
}
END_TEST

/* An alias whose target is the container itself or one of its ancestors
 * would make rendering recurse forever: through the alias, the region
 * would contain itself. Either order of building it is refused. */
START_TEST(test_alias_cycle_refused)
{
    GError *err = NULL;
    MemRegion *top = tu_container("top", 0x100000);
    MemRegion *mid = tu_container("mid", 0x10000);
    tu_add_keep(top, 0, mid, 0);

    MemRegion *self = tu_alias("self", mid, 0, 0x1000);
    ck_assert(!mr_add_subregion(mid, 0x2000, self, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_CYCLE);
    MemRegion *up = tu_alias("up", top, 0, 0x1000);
    ck_assert(!mr_add_subregion_overlap(mid, 0x2000, up, 1, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_CYCLE);
    ck_assert_uint_eq(mr_num_children(mid), 0);

    /* the other order: the alias sits in a container first, and that
     * container is then placed under the alias's target */
    MemRegion *box = tu_container("box", 0x1000);
    tu_add_keep(box, 0, up, 0);
    ck_assert(!mr_add_subregion(mid, 0x4000, box, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_CYCLE);
    ck_assert_ptr_null(mr_parent(box));
    FlatView *fv = flatview_render(top); /* and rendering terminates */
    TU_EXPECT_NO_RANGES(fv);
    flatview_unref(fv);

    tu_del(box, up);
    tu_del(top, mid);
    mr_unref(box);
    mr_unref(up);
    mr_unref(self);
    mr_unref(mid);
    mr_unref(top);
}
END_TEST

START_TEST(test_del_not_child)
{
    GError *err = NULL;
    MemRegion *c1 = tu_container("c1", 0x10000);
    MemRegion *c2 = tu_container("c2", 0x10000);
    MemRegion *kid = tu_ram("kid", 0x1000, 0);
    MemRegion *orphan = tu_ram("orphan", 0x1000, 0);
    tu_add_keep(c1, 0x1000, kid, 0);

    ck_assert(!mr_del_subregion(c2, kid, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_NOT_CHILD);
    ck_assert(!mr_del_subregion(c1, orphan, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_NOT_CHILD);
    ck_assert_ptr_eq(mr_parent(kid), c1);
    ck_assert_uint_eq(mr_num_children(c1), 1);

    /* after a real delete, a second delete is refused too */
    tu_del(c1, kid);
    ck_assert(!mr_del_subregion(c1, kid, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_NOT_CHILD);
    /* and the region is free to join another container */
    tu_add_keep(c2, 0x2000, kid, 0);
    ck_assert_ptr_eq(mr_parent(kid), c2);
    tu_del(c2, kid);

    mr_unref(orphan);
    mr_unref(kid);
    mr_unref(c2);
    mr_unref(c1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Kind-specific mutations. */

START_TEST(test_alias_offset_only_on_alias)
{
    GError *err = NULL;
    MemRegion *r = tu_ram("ram", 0x4000, 0);
    MemRegion *c = tu_container("c", 0x4000);
    MemRegion *a = tu_alias("win", r, 0x1000, 0x1000);

    ck_assert(!mr_set_alias_offset(r, 0x10, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert(!mr_set_alias_offset(c, 0x10, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);

    ck_assert(mr_set_alias_offset(a, 0x2000, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_alias_offset(a), 0x2000);

    mr_unref(a);
    mr_unref(c);
    mr_unref(r);
}
END_TEST

/* region.h: mr_set_size is for containers, aliases and MMIO only. */
START_TEST(test_set_size_kinds)
{
    GError *err = NULL;
    TuDev *dev = tu_dev_simple();
    MemRegion *r = tu_ram("ram", 0x4000, 0);
    MemRegion *rom = mr_new_rom("rom", 0x1000, &err);
    TU_ASSERT_NO_ERROR(err);
    MemRegion *c = tu_container("c", 0x4000);
    MemRegion *a = tu_alias("win", r, 0, 0x1000);
    MemRegion *m = tu_mmio("m", 0x100, dev);

    ck_assert(!mr_set_size(r, 0x8000, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(mr_size(r), 0x4000);
    ck_assert(!mr_set_size(rom, 0x2000, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(mr_size(rom), 0x1000);

    ck_assert(mr_set_size(c, 0x8000, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_size(c), 0x8000);
    ck_assert(mr_set_size(a, 0x2000, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_size(a), 0x2000);
    ck_assert(mr_set_size(m, 0x200, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_size(m), 0x200);
    ck_assert(mr_set_size(c, MEM_SIZE_FULL, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_last(c), UINT64_MAX);

    /* size 0 is refused here too */
    ck_assert(!mr_set_size(m, 0, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(mr_size(m), 0x200);

    mr_unref(m);
    mr_unref(a);
    mr_unref(c);
    mr_unref(rom);
    mr_unref(r);
    tu_dev_free(dev);
}
END_TEST

START_TEST(test_romd_mode_only_on_romd)
{
    GError *err = NULL;
    TuDev *dev = tu_dev_simple();
    MemRegion *r = tu_ram("ram", 0x1000, 0);
    MemRegion *m = tu_mmio("m", 0x1000, dev);
    MemRegion *d = mr_new_romd("flash", 0x1000, &dev->ops, dev, &err);
    TU_ASSERT_NO_ERROR(err);

    ck_assert(!mr_set_romd_mode(r, false, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert(!mr_set_romd_mode(m, true, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);

    ck_assert(mr_set_romd_mode(d, false, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert(!mr_romd_mode(d));
    ck_assert(mr_set_romd_mode(d, true, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert(mr_romd_mode(d));

    mr_unref(d);
    mr_unref(m);
    mr_unref(r);
    tu_dev_free(dev);
}
END_TEST

/* region.h: dirty logging on RAM, ROM and ROMD only; one bit per client. */
START_TEST(test_dirty_log_kinds)
{
    GError *err = NULL;
    TuDev *dev = tu_dev_simple();
    MemRegion *r = tu_ram("ram", 0x4000, 0);
    MemRegion *rom = mr_new_rom("rom", 0x1000, &err);
    TU_ASSERT_NO_ERROR(err);
    MemRegion *d = mr_new_romd("flash", 0x1000, &dev->ops, dev, &err);
    TU_ASSERT_NO_ERROR(err);
    MemRegion *m = tu_mmio("m", 0x1000, dev);
    MemRegion *c = tu_container("c", 0x1000);
    MemRegion *a = tu_alias("a", r, 0, 0x1000);

    ck_assert(!mr_set_dirty_log(m, MEM_CLIENT_MIGRATION, true, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert(!mr_set_dirty_log(c, MEM_CLIENT_MIGRATION, true, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert(!mr_set_dirty_log(a, MEM_CLIENT_MIGRATION, true, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert(!mr_set_dirty_log(r, MEM_NUM_CLIENTS, true, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_uint_eq(mr_dirty_log_mask(m), 0);
    ck_assert_uint_eq(mr_dirty_log_mask(r), 0);

    ck_assert(mr_set_dirty_log(r, MEM_CLIENT_MIGRATION, true, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert(mr_set_dirty_log(r, MEM_CLIENT_DISPLAY, true, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_dirty_log_mask(r),
                      (1u << MEM_CLIENT_MIGRATION) | (1u << MEM_CLIENT_DISPLAY));
    ck_assert(mr_set_dirty_log(r, MEM_CLIENT_DISPLAY, false, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_dirty_log_mask(r), 1u << MEM_CLIENT_MIGRATION);

    ck_assert(mr_set_dirty_log(rom, MEM_CLIENT_CODE, true, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_dirty_log_mask(rom), 1u << MEM_CLIENT_CODE);
    ck_assert(mr_set_dirty_log(d, MEM_CLIENT_CODE, true, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_dirty_log_mask(d), 1u << MEM_CLIENT_CODE);

    /* bitmap basics, region-relative */
    mr_set_dirty(r, 0x1800, 1);
    ck_assert(mr_get_dirty(r, 0x1000, 0x1000, MEM_CLIENT_MIGRATION));
    ck_assert(!mr_get_dirty(r, 0x0, 0x1000, MEM_CLIENT_MIGRATION));
    ck_assert(!mr_get_dirty(r, 0x2000, 0x2000, MEM_CLIENT_MIGRATION));
    ck_assert(!mr_get_dirty(r, 0x1000, 0x1000, MEM_CLIENT_DISPLAY)); /* not logging */
    mr_reset_dirty(r, 0x1000, 0x1000, MEM_CLIENT_MIGRATION);
    ck_assert(!mr_get_dirty(r, 0, 0x4000, MEM_CLIENT_MIGRATION));

    mr_unref(a);
    mr_unref(c);
    mr_unref(m);
    mr_unref(d);
    mr_unref(rom);
    mr_unref(r);
    tu_dev_free(dev);
}
END_TEST

START_TEST(test_coalescing_list)
{
    GError *err = NULL;
    TuDev *dev = tu_dev_simple();
    MemRegion *m = tu_mmio("m", 0x1000, dev);
    uint64_t off = 0, size = 0;

    ck_assert_uint_eq(mr_num_coalescing(m), 0);
    ck_assert(mr_add_coalescing(m, 0x10, 0x8, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert(mr_add_coalescing(m, 0x100, 0x40, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(mr_num_coalescing(m), 2);
    mr_get_coalescing(m, 0, &off, &size);
    ck_assert_uint_eq(off, 0x10);
    ck_assert_uint_eq(size, 0x8);
    mr_get_coalescing(m, 1, &off, &size);
    ck_assert_uint_eq(off, 0x100);
    ck_assert_uint_eq(size, 0x40);
    mr_clear_coalescing(m);
    ck_assert_uint_eq(mr_num_coalescing(m), 0);

    mr_unref(m);
    tu_dev_free(dev);
}
END_TEST

START_TEST(test_flags)
{
    MemRegion *r = tu_ram("ram", 0x1000, 0);
    mr_set_enabled(r, false);
    ck_assert(!mr_enabled(r));
    mr_set_enabled(r, true);
    ck_assert(mr_enabled(r));
    mr_set_readonly(r, true);
    ck_assert(mr_readonly(r));
    mr_set_readonly(r, false);
    ck_assert(!mr_readonly(r));
    mr_unref(r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Child order (region.h: highest priority first; among equals, newest first). */

START_TEST(test_child_order)
{
    MemRegion *c = tu_container("c", 0x100000);
    MemRegion *a = tu_ram("a", 0x1000, 0);
    MemRegion *b = tu_ram("b", 0x1000, 0);
    MemRegion *cc = tu_ram("cc", 0x1000, 0);
    MemRegion *d = tu_ram("d", 0x1000, 0);
    MemRegion *e = tu_ram("e", 0x1000, 0);

    /* disjoint addresses: order must not depend on address */
    tu_add_keep(c, 0x40000, a, 0);
    tu_add_keep(c, 0x10000, b, 1);
    tu_add_keep(c, 0x00000, cc, 0);
    tu_add_keep(c, 0x30000, d, -1);
    tu_add_keep(c, 0x20000, e, 1);

    MemRegion *want1[] = { e, b, cc, a, d };
    ck_assert_uint_eq(mr_num_children(c), 5);
    for (guint i = 0; i < 5; i++) {
        ck_assert_msg(mr_child(c, i) == want1[i], "child %u is %s, expected %s", i,
                      mr_name(mr_child(c, i)), mr_name(want1[i]));
    }

    /* re-adding b makes it the newest of priority 1 */
    tu_del(c, b);
    tu_add_keep(c, 0x10000, b, 1);
    MemRegion *want2[] = { b, e, cc, a, d };
    for (guint i = 0; i < 5; i++) {
        ck_assert_msg(mr_child(c, i) == want2[i], "after re-add, child %u is %s, expected %s", i,
                      mr_name(mr_child(c, i)), mr_name(want2[i]));
    }

    MemRegion *all[] = { a, b, cc, d, e };
    for (guint i = 0; i < 5; i++) {
        tu_del(c, all[i]);
        mr_unref(all[i]);
    }
    mr_unref(c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Overlap reporting (§2, L9250 "our position": allowed, latest wins, reported). */

START_TEST(test_plain_add_without_overlap_not_reported)
{
    MemRegion *c = tu_container("c", 0x10000);
    GError *err = NULL;
    MemRegion *a = tu_ram("a", 0x1000, 0);
    MemRegion *b = tu_ram("b", 0x1000, 0);
    ck_assert(mr_add_subregion(c, 0x0, a, &err));
    ck_assert(mr_add_subregion(c, 0x1000, b, &err)); /* adjacent, not overlapping */
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(tu_num_reports(), 0);
    ck_assert_uint_eq(mr_check_overlaps(c), 0);
    ck_assert_uint_eq(tu_num_reports(), 0);
    mr_unref(a);
    mr_unref(b);
    mr_unref(c);
}
END_TEST

/* Plain add_subregion means "I expect no overlap": an overlap is allowed
 * but reported (region.h, L3377). */
START_TEST(test_plain_add_overlap_reported)
{
    MemRegion *c = tu_container("c", 0x10000);
    GError *err = NULL;
    MemRegion *a = tu_ram("a", 0x1000, 0);
    MemRegion *b = tu_ram("b", 0x1000, 0);
    ck_assert(mr_add_subregion(c, 0x0, a, &err));
    ck_assert_uint_eq(tu_num_reports(), 0);
    ck_assert(mr_add_subregion(c, 0x800, b, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_msg(tu_num_reports() >= 1, "overlapping plain add was not reported");
    ck_assert_ptr_eq(mr_parent(b), c); /* allowed: clip, report, go on */
    ck_assert_str_ne(tu_report(0), "");
    mr_unref(a);
    mr_unref(b);
    mr_unref(c);
}
END_TEST

START_TEST(test_check_overlaps_counts_equal_priority_pairs)
{
    MemRegion *c = tu_container("c", 0x100000);
    tu_put(c, 0x0000, tu_ram("A", 0x1000, 0), 0);
    tu_put(c, 0x0800, tu_ram("B", 0x1000, 0), 0);  /* A-B: overlap, prio 0 */
    tu_put(c, 0x2000, tu_ram("C", 0x1000, 0), 0);
    tu_put(c, 0x2800, tu_ram("D", 0x1000, 0), 1);  /* over C, different prio: fine */
    MemRegion *e = tu_put(c, 0x2000, tu_ram("E", 0x1000, 0), 0);
    mr_set_enabled(e, false);                       /* C-E: disabled, not counted */
    tu_put(c, 0x4000, tu_ram("F", 0x1000, 0), 5);
    tu_put(c, 0x4000, tu_ram("G", 0x1000, 0), 5);  /* F-G: overlap, prio 5 */
    tu_put(c, 0x5000, tu_ram("H", 0x1000, 0), 5);  /* adjacent to F, G: fine */
    tu_put(c, 0x40000, tu_ram("I", 0x1000, 0), -2);

    tu_clear_reports();
    guint n = mr_check_overlaps(c);
    ck_assert_uint_eq(n, 2);
    /* each pair is also passed to mem_report() */
    ck_assert_uint_eq(tu_num_reports(), 2);

    /* enabling E adds the C-E pair */
    mr_set_enabled(e, true);
    tu_clear_reports();
    ck_assert_uint_eq(mr_check_overlaps(c), 3);
    ck_assert_uint_eq(tu_num_reports(), 3);
    mr_unref(c);
}
END_TEST

/* Only siblings of `container` are checked, not deeper descendants. */
START_TEST(test_check_overlaps_siblings_only)
{
    MemRegion *root = tu_container("root", 0x100000);
    MemRegion *sub = tu_put(root, 0, tu_container("sub", 0x10000), 0);
    tu_put(sub, 0x0, tu_ram("x", 0x1000, 0), 0);
    tu_put(sub, 0x0, tu_ram("y", 0x1000, 0), 0);
    tu_clear_reports();
    ck_assert_uint_eq(mr_check_overlaps(root), 0);
    ck_assert_uint_eq(mr_check_overlaps(sub), 1);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Reference counting (region.h "Ownership"). Nothing here touches a region
 * after its last reference can have gone. */

START_TEST(test_container_keeps_child_alive)
{
    static uint8_t host[0x1000];
    GError *err = NULL;
    MemRegion *root = tu_container("root", 0x10000);
    MemRegion *kid = mr_new_ram_ptr("kid", sizeof(host), host, &err);
    TU_ASSERT_NO_ERROR(err);
    memset(host, 0x42, sizeof(host));
    tu_add_keep(root, 0x1000, kid, 0);
    AddressSpace *as = tu_as("as", root);

    mr_unref(kid); /* creator's reference gone; the container's remains */
    ck_assert_uint_eq(mr_num_children(root), 1);
    ck_assert_ptr_eq(mr_child(root, 0), kid);
    ck_assert_str_eq(mr_name(kid), "kid");
    ck_assert_ptr_eq(mr_parent(kid), root);
    ck_assert_uint_eq(tu_rd(as, 0x1000, 1), 0x42);

    /* removing it drops the last reference: only the old address is probed now */
    tu_del(root, kid);
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(as, 0x1000, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);

    as_free(as);
    mr_unref(root);
}
END_TEST

START_TEST(test_alias_keeps_target_alive)
{
    MemRegion *root = tu_container("root", 0x10000);
    MemRegion *ram = tu_ram("ram", 0x2000, 0x17);
    MemRegion *win = tu_put(root, 0x4000, tu_alias("win", ram, 0x1000, 0x1000), 0);
    AddressSpace *as = tu_as("as", root);
    mr_unref(ram); /* only the alias holds it now */

    ck_assert_ptr_eq(mr_alias_target(win), ram);
    ck_assert_str_eq(mr_name(mr_alias_target(win)), "ram");
    tu_wr(as, 0x4010, 1, 0x99);
    ck_assert_uint_eq(tu_rd(as, 0x4010, 1), 0x99);
    ck_assert_uint_eq(tu_rd(as, 0x4011, 1), 0x17);

    as_free(as);
    mr_unref(root);
}
END_TEST

START_TEST(test_flatview_keeps_regions_alive)
{
    MemRegion *root = tu_container("root", 0x10000);
    MemRegion *ram = tu_ram("keepme", 0x1000, 0);
    tu_add_keep(root, 0x2000, ram, 0);
    FlatView *fv = flatview_render(root);
    ck_assert_uint_eq(flatview_num_ranges(fv), 1);

    tu_del(root, ram);
    mr_unref(ram); /* the flat view still maps it */
    const FlatRange *r = flatview_range(fv, 0);
    ck_assert_ptr_eq(r->mr, ram);
    ck_assert_str_eq(mr_name(r->mr), "keepme");
    ck_assert_uint_eq(mr_size(r->mr), 0x1000);
    flatview_unref(fv);
    mr_unref(root);
}
END_TEST

START_TEST(test_dispatch_keeps_sections_alive)
{
    MemRegion *root = tu_container("root", 0x10000);
    MemRegion *ram = tu_ram("held", 0x1000, 0x33);
    tu_add_keep(root, 0x2000, ram, 0);
    AddressSpace *as = tu_as("as", root);
    Dispatch *d = as_dispatch(as);
    dispatch_ref(d);

    tu_del(root, ram);
    mr_unref(ram);
    /* the new dispatch no longer maps it, the held one still does */
    ck_assert_ptr_null(tu_dispatch_mr(as, 0x2000));
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, 0x2000, NULL));
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_eq(s->mr, ram);
    ck_assert_str_eq(mr_name(s->mr), "held");
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(s->mr))[0], 0x33);

    dispatch_unref(d);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* Every registered code cache hears of a write to a page with code (a
 * clean MEM_CLIENT_CODE bit), once per page; removed ones no longer do. */
typedef struct CodeSeen {
    unsigned calls;
    uint64_t last_offset;
} CodeSeen;

static void code_seen(void *opaque, MemRegion *mr, uint64_t offset, uint64_t len)
{
    CodeSeen *c = opaque;
    (void)mr;
    (void)len;
    c->calls++;
    c->last_offset = offset;
}

START_TEST(test_code_write_handlers)
{
    GError *err = NULL;
    MemRegion *r = tu_ram("code-ram", 0x4000, 0);
    ck_assert(mr_set_dirty_log(r, MEM_CLIENT_CODE, true, &err));
    TU_ASSERT_NO_ERROR(err);
    CodeSeen a = { 0 }, b = { 0 };
    ck_assert(mem_add_code_write_handler(code_seen, &a));
    ck_assert(mem_add_code_write_handler(code_seen, &b));
    mr_note_write(r, 0x1010, 4);            /* page 1: clean, code there */
    ck_assert_uint_eq(a.calls, 1);
    ck_assert_uint_eq(b.calls, 1);
    ck_assert_uint_eq(b.last_offset, 0x1000);
    mr_note_write(r, 0x1020, 4);            /* now dirty: nobody told again */
    ck_assert_uint_eq(a.calls + b.calls, 2);
    mem_remove_code_write_handler(code_seen, &a);
    mr_note_write(r, 0x2000, 0x1001);       /* pages 2 and 3 */
    ck_assert_uint_eq(a.calls, 1);
    ck_assert_uint_eq(b.calls, 3);
    mem_remove_code_write_handler(code_seen, &b);
    ck_assert(!mem_add_code_write_handler(NULL, NULL));
    mr_unref(r);
}
END_TEST

static Suite *regions_suite(void)
{
    Suite *s = suite_create("regions");
    TCase *tc = tu_tcase(s, "create");
    tcase_add_test(tc, test_create_container);
    tcase_add_test(tc, test_create_ram);
    tcase_add_test(tc, test_create_ram_ptr);
    tcase_add_test(tc, test_create_rom);
    tcase_add_test(tc, test_create_mmio);
    tcase_add_test(tc, test_create_alias);
    tcase_add_test(tc, test_create_romd);
    tcase_add_test(tc, test_create_full_size);
    tcase_add_test(tc, test_size_zero_refused);
    tcase_add_test(tc, test_alias_window_overflow_refused_or_clipped);

    tc = tu_tcase(s, "tree");
    tcase_add_test(tc, test_add_sets_parent_address_priority);
    tcase_add_test(tc, test_add_with_parent_refused);
    tcase_add_test(tc, test_add_to_self_is_cycle);
    tcase_add_test(tc, test_add_to_descendant_is_cycle);
    tcase_add_test(tc, test_alias_cycle_refused);
    tcase_add_test(tc, test_del_not_child);
    tcase_add_test(tc, test_child_order);

    tc = tu_tcase(s, "mutations");
    tcase_add_test(tc, test_alias_offset_only_on_alias);
    tcase_add_test(tc, test_set_size_kinds);
    tcase_add_test(tc, test_romd_mode_only_on_romd);
    tcase_add_test(tc, test_dirty_log_kinds);
    tcase_add_test(tc, test_coalescing_list);
    tcase_add_test(tc, test_flags);

    tc = tu_tcase(s, "overlaps");
    tcase_add_test(tc, test_plain_add_without_overlap_not_reported);
    tcase_add_test(tc, test_plain_add_overlap_reported);
    tcase_add_test(tc, test_check_overlaps_counts_equal_priority_pairs);
    tcase_add_test(tc, test_check_overlaps_siblings_only);

    tc = tu_tcase(s, "refcount");
    tcase_add_test(tc, test_container_keeps_child_alive);
    tcase_add_test(tc, test_alias_keeps_target_alive);
    tcase_add_test(tc, test_flatview_keeps_regions_alive);
    tcase_add_test(tc, test_dispatch_keeps_sections_alive);
    tcase_add_test(tc, test_code_write_handlers);
    return s;
}

int main(void)
{
    return tu_run(regions_suite());
}
