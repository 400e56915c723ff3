/*
 * DMA helpers (softmmu/dma.h): byte and value accesses on RAM, MMIO,
 * unassigned space and through an IOMMU; dma_map direct pointers, shortened
 * runs, bounce buffers, dirty logging and revocation.
 *
 * The world: "sys" has 64 KiB of RAM at 0 (bytes tt_pat(offset, SEED)) and a
 * recording device right after it at RAM_SIZE, plus another device at
 * DEV_BASE. "dev" is a device's space holding an IOMMU at IOVA that
 * translates into "sys" through a page table the test edits.
 */
#include "tlb_test_util.h"

#include "softmmu/dma.h"
#include "softmmu/iommu.h"

#define IOVA 0x10000000ull
#define RAM_SIZE 0x10000ull
#define DEV_BASE 0x100000ull
#define SEED 0x3c

/* A page-table IOMMU: iova page -> (target page, perm). */
typedef struct Pt {
    GHashTable *pages;  /* page number -> Pte* */
    AddressSpace *target;
} Pt;

typedef struct Pte {
    uint64_t tpage;
    unsigned perm;
} Pte;

static bool pt_translate(void *opaque, uint64_t addr, bool is_write, MemAttrs attrs,
                         MemIommuEntry *out)
{
    Pt *t = opaque;
    const Pte *p = g_hash_table_lookup(t->pages, GUINT_TO_POINTER((guint)(addr >> 12)));
    if (!p) {
        return false;
    }
    *out = (MemIommuEntry){ t->target, p->tpage, 0xfff, p->perm };
    return true;
}

static const MemIommuOps pt_ops = { .translate = pt_translate };

static void pt_set(Pt *t, uint64_t iova_off, uint64_t tpage, unsigned perm)
{
    Pte *p = g_new(Pte, 1);
    *p = (Pte){ tpage, perm };
    g_hash_table_replace(t->pages, GUINT_TO_POINTER((guint)(iova_off >> 12)), p);
}

typedef struct World {
    MemRegion *sys_root, *ram, *mmio, *mmio2;
    TtDev *dev, *dev2;
    AddressSpace *sys;
    MemRegion *dev_root, *iommu;
    AddressSpace *das;
    Pt pt;
} World;

static void add(MemRegion *c, uint64_t addr, MemRegion *child)
{
    GError *err = NULL;
    ck_assert(mr_add_subregion(c, addr, child, &err));
    TT_NO_ERROR(err);
}

static MemRegion *mmio(const char *name, uint64_t size, TtDev *d)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_mmio(name, size, &d->ops, d, &err);
    TT_NO_ERROR(err);
    return mr;
}

static AddressSpace *space(const char *name, MemRegion *root)
{
    GError *err = NULL;
    AddressSpace *as = as_new(name, root, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(as);
    return as;
}

static void world_init(World *w)
{
    memset(w, 0, sizeof(*w));
    w->sys_root = tt_container("sys", MEM_SIZE_FULL);
    w->ram = tt_ram("ram", RAM_SIZE, SEED);
    add(w->sys_root, 0, w->ram);
    w->dev = tt_dev_new(0xa0000000);
    w->mmio = mmio("dev", 0x1000, w->dev);
    add(w->sys_root, RAM_SIZE, w->mmio);
    w->dev2 = tt_dev_new(0xb0000000);
    w->mmio2 = mmio("dev2", 0x1000, w->dev2);
    add(w->sys_root, DEV_BASE, w->mmio2);
    w->sys = space("sys", w->sys_root);

    w->pt.pages = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    w->pt.target = w->sys;
    w->dev_root = tt_container("dev-root", MEM_SIZE_FULL);
    GError *err = NULL;
    w->iommu = mr_new_iommu("iommu", 0x100000, &pt_ops, &w->pt, &err);
    TT_NO_ERROR(err);
    add(w->dev_root, IOVA, w->iommu);
    w->das = space("dev", w->dev_root);
}

static void world_free(World *w)
{
    as_free(w->das);
    as_free(w->sys);
    mr_unref(w->iommu);
    mr_unref(w->dev_root);
    mr_unref(w->mmio);
    mr_unref(w->mmio2);
    if (w->ram) {
        mr_unref(w->ram);
    }
    mr_unref(w->sys_root);
    g_hash_table_unref(w->pt.pages);
    tt_dev_free(w->dev);
    tt_dev_free(w->dev2);
}

static uint8_t *ram_at(World *w, uint64_t off)
{
    return (uint8_t *)mr_ram_ptr(w->ram) + off;
}

static const MemAttrs DEVA = { .requester = 3, .requester_type = MEM_REQ_DEVICE };

/* Revocation recorder. */
typedef struct Rev {
    unsigned calls;
    DmaMapping *m;
} Rev;

static void on_revoke(DmaMapping *m, void *opaque)
{
    Rev *r = opaque;
    r->calls++;
    r->m = m;
}

/* ------------------------------------------------------------------ */

START_TEST(test_rw_ram)
{
    World w;
    world_init(&w);
    uint8_t buf[16];
    ck_assert_int_eq(dma_read(w.sys, 0x100, buf, sizeof(buf), DEVA), MEM_OK);
    for (unsigned i = 0; i < sizeof(buf); i++) {
        ck_assert_uint_eq(buf[i], tt_pat(0x100 + i, SEED));
    }
    const uint8_t src[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(dma_write(w.sys, 0x200, src, 4, DEVA), MEM_OK);
    ck_assert_mem_eq(ram_at(&w, 0x200), src, 4);
    ck_assert_int_eq(dma_read(w.sys, 0x200, buf, 0, DEVA), MEM_OK);

    /* Values, both byte orders. */
    uint64_t v;
    ck_assert_int_eq(dma_read_val(w.sys, 0x200, 4, MEM_LITTLE_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x04030201u);
    ck_assert_int_eq(dma_read_val(w.sys, 0x200, 4, MEM_BIG_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x01020304u);
    ck_assert_int_eq(dma_read_val(w.sys, 0x200, 2, MEM_BIG_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x0102u);
    ck_assert_int_eq(dma_write_val(w.sys, 0x300, 8, MEM_BIG_ENDIAN, DEVA, 0x1122334455667788ull),
                     MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x300)[0], 0x11);
    ck_assert_uint_eq(ram_at(&w, 0x300)[7], 0x88);
    ck_assert_int_eq(dma_write_val(w.sys, 0x310, 8, MEM_LITTLE_ENDIAN, DEVA, 0x1122334455667788ull),
                     MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x310)[0], 0x88);
    ck_assert_int_eq(dma_read_val(w.sys, 0x310, 8, MEM_LITTLE_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x1122334455667788ull);
    ck_assert_int_eq(dma_write_val(w.sys, 0x320, 1, MEM_BIG_ENDIAN, DEVA, 0x1ab), MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x320)[0], 0xab);
    /* Bad sizes: an access error, nothing touched. */
    ck_assert_int_eq(dma_read_val(w.sys, 0x300, 3, MEM_LITTLE_ENDIAN, DEVA, &v), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(dma_write_val(w.sys, 0x300, 16, MEM_LITTLE_ENDIAN, DEVA, 0),
                     MEM_ACCESS_ERROR);
    ck_assert_uint_eq(ram_at(&w, 0x300)[0], 0x11);
    world_free(&w);
}
END_TEST

START_TEST(test_rw_mmio)
{
    World w;
    world_init(&w);
    uint64_t v;
    ck_assert_int_eq(dma_read_val(w.sys, DEV_BASE + 0x10, 4, MEM_LITTLE_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0xb0000010u);
    TT_EXPECT_DEV(w.dev2, 0, false, 0x10, 4, 0xb0000010u);
    ck_assert_uint_eq(tt_dev_at(w.dev2, 0)->attrs.requester, 3);
    /* Big-endian request of a little-endian device: the bytes swap. */
    ck_assert_int_eq(dma_read_val(w.sys, DEV_BASE + 0x10, 4, MEM_BIG_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x100000b0u);
    ck_assert_int_eq(dma_write_val(w.sys, DEV_BASE + 0x20, 2, MEM_BIG_ENDIAN, DEVA, 0x1234),
                     MEM_OK);
    TT_EXPECT_DEV(w.dev2, 2, true, 0x20, 2, 0x3412);
    uint8_t buf[4] = { 0xaa, 0xbb, 0xcc, 0xdd };
    ck_assert_int_eq(dma_write(w.sys, DEV_BASE + 0x40, buf, 4, DEVA), MEM_OK);
    ck_assert_uint_gt(tt_dev_n(w.dev2), 3);
    /* A device refusing: the result says so. */
    w.dev2->read_result = MEM_DEVICE_ERROR;
    ck_assert_int_eq(dma_read(w.sys, DEV_BASE, buf, 4, DEVA), MEM_DEVICE_ERROR);
    world_free(&w);
}
END_TEST

START_TEST(test_unassigned)
{
    World w;
    world_init(&w);
    uint8_t buf[8];
    uint64_t v;
    ck_assert_int_eq(dma_read(w.sys, 0x5000000, buf, 8, DEVA), MEM_DECODE_ERROR);
    ck_assert_uint_eq(buf[0], 0xff);
    ck_assert_int_eq(dma_write(w.sys, 0x5000000, buf, 8, DEVA), MEM_DECODE_ERROR);
    ck_assert_int_eq(dma_read_val(w.sys, UINT64_MAX - 3, 8, MEM_LITTLE_ENDIAN, DEVA, &v),
                     MEM_DECODE_ERROR);
    ck_assert_int_eq(dma_write_val(w.sys, UINT64_MAX, 4, MEM_BIG_ENDIAN, DEVA, 1),
                     MEM_DECODE_ERROR);
    /* Straddling RAM's end into nothing: the RAM part is still done. */
    ck_assert_int_eq(dma_read(w.sys, DEV_BASE + 0xffc, buf, 8, DEVA), MEM_DECODE_ERROR);
    ck_assert_uint_eq(buf[7], 0xff);
    /* Maps of nothing fail cleanly. */
    uint64_t len = 0x100;
    DmaMapping *m;
    ck_assert_ptr_null(dma_map(w.sys, 0x5000000, &len, false, DEVA, NULL, NULL, &m));
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(dma_mapping_result(m), MEM_DECODE_ERROR);
    dma_unmap(m, 0);
    len = 0;
    ck_assert_ptr_null(dma_map(w.sys, 0, &len, true, DEVA, NULL, NULL, &m));
    ck_assert_int_eq(dma_mapping_result(m), MEM_OK);
    dma_unmap(m, 0);
    len = UINT64_MAX;
    ck_assert_ptr_null(dma_map(w.sys, UINT64_MAX - 1, &len, true, DEVA, NULL, NULL, &m));
    dma_unmap(m, 5);
    dma_unmap(NULL, 1);
    world_free(&w);
}
END_TEST

START_TEST(test_iommu_rw)
{
    World w;
    world_init(&w);
    pt_set(&w.pt, 0x0000, 0x3000, MEM_IOMMU_RW);
    pt_set(&w.pt, 0x1000, 0x8000, MEM_IOMMU_RO);
    pt_set(&w.pt, 0x2000, DEV_BASE, MEM_IOMMU_RW);
    uint8_t buf[8];
    /* Across two entries: two targets. */
    ck_assert_int_eq(dma_read(w.das, IOVA + 0xffc, buf, 8, DEVA), MEM_OK);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_uint_eq(buf[i], tt_pat(0x3ffc + i, SEED));
        ck_assert_uint_eq(buf[4 + i], tt_pat(0x8000 + i, SEED));
    }
    ck_assert_int_eq(dma_write_val(w.das, IOVA + 0x10, 4, MEM_BIG_ENDIAN, DEVA, 0xdeadbeef),
                     MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x3010)[0], 0xde);
    uint64_t v;
    ck_assert_int_eq(dma_read_val(w.das, IOVA + 0x10, 4, MEM_LITTLE_ENDIAN, DEVA, &v), MEM_OK);
    ck_assert_uint_eq(v, 0xefbeadde);
    /* A device behind the IOMMU. */
    ck_assert_int_eq(dma_write_val(w.das, IOVA + 0x2008, 4, MEM_LITTLE_ENDIAN, DEVA, 0x55),
                     MEM_OK);
    TT_EXPECT_DEV(w.dev2, 0, true, 0x8, 4, 0x55);
    /* Permission: a write to a read-only page. */
    uint8_t before = ram_at(&w, 0x8000)[0];
    ck_assert_int_eq(dma_write_val(w.das, IOVA + 0x1000, 1, MEM_LITTLE_ENDIAN, DEVA, 0),
                     MEM_ACCESS_ERROR);
    ck_assert_uint_eq(ram_at(&w, 0x8000)[0], before);
    /* No translation. */
    ck_assert_int_eq(dma_read(w.das, IOVA + 0x5000, buf, 4, DEVA), MEM_DECODE_ERROR);
    /* Maps through the IOMMU: direct into RAM, clipped to the entry. */
    uint64_t len = 0x2000;
    DmaMapping *m;
    uint8_t *p = dma_map(w.das, IOVA + 0x800, &len, false, DEVA, NULL, NULL, &m);
    ck_assert_ptr_eq(p, ram_at(&w, 0x3800));
    ck_assert_uint_eq(len, 0x800);
    ck_assert(dma_mapping_is_direct(m));
    ck_assert_uint_eq(mr_iommu_num_notifiers(w.iommu), 1);
    dma_unmap(m, 0);
    ck_assert_uint_eq(mr_iommu_num_notifiers(w.iommu), 0);
    /* Map failures: permission and no translation. */
    len = 0x10;
    ck_assert_ptr_null(dma_map(w.das, IOVA + 0x1000, &len, true, DEVA, NULL, NULL, &m));
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(dma_mapping_result(m), MEM_ACCESS_ERROR);
    dma_unmap(m, 0x10);
    len = 0x10;
    ck_assert_ptr_null(dma_map(w.das, IOVA + 0x7000, &len, false, DEVA, NULL, NULL, &m));
    ck_assert_int_eq(dma_mapping_result(m), MEM_DECODE_ERROR);
    dma_unmap(m, 0);
    /* Through the IOMMU onto MMIO: bounce. */
    len = 0x10;
    p = dma_map(w.das, IOVA + 0x2000, &len, true, DEVA, NULL, NULL, &m);
    ck_assert_ptr_nonnull(p);
    ck_assert(!dma_mapping_is_direct(m));
    memset(p, 0x77, 4);
    guint n0 = tt_dev_n(w.dev2);
    ck_assert_int_eq(dma_unmap(m, 4), MEM_OK);
    ck_assert_uint_gt(tt_dev_n(w.dev2), n0);
    ck_assert(tt_dev_at(w.dev2, n0)->write);
    ck_assert_uint_eq(tt_dev_at(w.dev2, n0)->offset, 0);

    /* Invalidation of the entry revokes a direct mapping, once. */
    Rev rev = { 0 };
    len = 0x100;
    p = dma_map(w.das, IOVA + 0x100, &len, true, DEVA, on_revoke, &rev, &m);
    ck_assert_ptr_eq(p, ram_at(&w, 0x3100));
    mr_iommu_invalidate(w.iommu, 0x4000, 0xfff); /* elsewhere: nothing */
    ck_assert_uint_eq(rev.calls, 0);
    mr_iommu_invalidate(w.iommu, 0x0000, 0xfff);
    ck_assert_uint_eq(rev.calls, 1);
    ck_assert_ptr_eq(rev.m, m);
    ck_assert(dma_mapping_revoked(m));
    mr_iommu_invalidate(w.iommu, 0x0000, 0xfff);
    ck_assert_uint_eq(rev.calls, 1);
    p[0] = 0x42;
    dma_unmap(m, 1);
    ck_assert_uint_eq(ram_at(&w, 0x3100)[0], 0x42);
    world_free(&w);
}
END_TEST

START_TEST(test_map_ram)
{
    World w;
    world_init(&w);
    GError *err = NULL;
    ck_assert(mr_set_dirty_log(w.ram, MEM_CLIENT_MIGRATION, true, &err));
    TT_NO_ERROR(err);
    ck_assert(!mr_get_dirty(w.ram, 0, RAM_SIZE, MEM_CLIENT_MIGRATION));
    uint64_t len = 0x2000;
    DmaMapping *m;
    uint8_t *p = dma_map(w.sys, 0x4000, &len, true, DEVA, NULL, NULL, &m);
    ck_assert_ptr_eq(p, ram_at(&w, 0x4000));
    ck_assert_uint_eq(len, 0x2000);
    ck_assert(dma_mapping_is_direct(m));
    ck_assert_ptr_eq(dma_mapping_region(m), w.ram);
    memset(p + 0x1000, 0x99, 0x10);
    /* Not yet dirty: unmap reports the write. */
    dma_unmap(m, 0x1010);
    ck_assert(mr_get_dirty(w.ram, 0x4000, 1, MEM_CLIENT_MIGRATION));
    ck_assert(mr_get_dirty(w.ram, 0x5000, 1, MEM_CLIENT_MIGRATION));
    ck_assert(!mr_get_dirty(w.ram, 0x6000, 0x1000, MEM_CLIENT_MIGRATION));
    ck_assert(!mr_get_dirty(w.ram, 0x3000, 0x1000, MEM_CLIENT_MIGRATION));
    uint8_t b;
    ck_assert_int_eq(dma_read(w.sys, 0x5000, &b, 1, DEVA), MEM_OK);
    ck_assert_uint_eq(b, 0x99);

    /* A read mapping marks nothing. */
    mr_reset_dirty(w.ram, 0, RAM_SIZE, MEM_CLIENT_MIGRATION);
    len = 0x10;
    p = dma_map(w.sys, 0x100, &len, false, DEVA, NULL, NULL, &m);
    ck_assert_ptr_eq(p, ram_at(&w, 0x100));
    dma_unmap(m, 0x10);
    ck_assert(!mr_get_dirty(w.ram, 0, RAM_SIZE, MEM_CLIENT_MIGRATION));

    /* Across RAM then MMIO: shortened to the RAM part. */
    len = 0x3000;
    p = dma_map(w.sys, RAM_SIZE - 0x100, &len, true, DEVA, NULL, NULL, &m);
    ck_assert_ptr_eq(p, ram_at(&w, RAM_SIZE - 0x100));
    ck_assert_uint_eq(len, 0x100);
    dma_unmap(m, 0);
    ck_assert(!mr_get_dirty(w.ram, 0, RAM_SIZE, MEM_CLIENT_MIGRATION));
    world_free(&w);
}
END_TEST

START_TEST(test_map_bounce)
{
    World w;
    world_init(&w);
    /* Read bounce: filled at map time. */
    uint64_t len = 0x8;
    DmaMapping *m;
    uint8_t *p = dma_map(w.sys, DEV_BASE + 0x10, &len, false, DEVA, NULL, NULL, &m);
    ck_assert_ptr_nonnull(p);
    ck_assert(!dma_mapping_is_direct(m));
    ck_assert_uint_eq(len, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    /* The device answered the read (little-endian bytes of tag + offset). */
    ck_assert_uint_gt(tt_dev_n(w.dev2), 0);
    ck_assert_uint_eq(v & 0xffffffffu, 0xb0000010u);
    guint n0 = tt_dev_n(w.dev2);
    dma_unmap(m, 8);
    ck_assert_uint_eq(tt_dev_n(w.dev2), n0); /* no write-back for reads */

    /* Write bounce: the device sees the bytes at unmap, only access_len. */
    len = 0x100;
    p = dma_map(w.sys, DEV_BASE + 0x20, &len, true, DEVA, NULL, NULL, &m);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, 0x100);
    p[0] = 0x11; p[1] = 0x22; p[2] = 0x33; p[3] = 0x44;
    ck_assert_uint_eq(tt_dev_n(w.dev2), n0);
    ck_assert_int_eq(dma_unmap(m, 4), MEM_OK);
    TT_EXPECT_DEV(w.dev2, n0, true, 0x20, 4, 0x44332211u);
    ck_assert_uint_eq(tt_dev_n(w.dev2), n0 + 1);

    /* Bounded: a large map of MMIO is the device's run, at most 64 KiB. */
    len = 0x100000;
    p = dma_map(w.sys, DEV_BASE, &len, false, DEVA, NULL, NULL, &m);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(len, 0x1000);
    dma_unmap(m, 0);
    /* A device refusing the read at map time: the map fails. */
    w.dev2->read_result = MEM_DEVICE_ERROR;
    len = 4;
    ck_assert_ptr_null(dma_map(w.sys, DEV_BASE, &len, false, DEVA, NULL, NULL, &m));
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(dma_mapping_result(m), MEM_DEVICE_ERROR);
    dma_unmap(m, 0);
    world_free(&w);
}
END_TEST

START_TEST(test_revoke_move)
{
    World w;
    world_init(&w);
    Rev rev = { 0 };
    uint64_t len = 0x1000;
    DmaMapping *m;
    uint8_t *p = dma_map(w.sys, 0x2000, &len, true, DEVA, on_revoke, &rev, &m);
    ck_assert_ptr_eq(p, ram_at(&w, 0x2000));
    /* An unrelated change keeps the mapping. */
    MemRegion *extra = tt_ram("extra", 0x1000, 1);
    add(w.sys_root, 0x200000, extra);
    ck_assert_uint_eq(rev.calls, 0);
    /* Moving the RAM revokes, once. */
    mr_set_address(w.ram, 0x400000);
    ck_assert_uint_eq(rev.calls, 1);
    ck_assert_ptr_eq(rev.m, m);
    mr_set_address(w.ram, 0);
    ck_assert_uint_eq(rev.calls, 1);
    p[0] = 0x5a; /* still valid memory */
    dma_unmap(m, 1);
    ck_assert_uint_eq(ram_at(&w, 0x2000)[0], 0x5a);
    GError *err = NULL;
    ck_assert(mr_del_subregion(w.sys_root, extra, &err));
    mr_unref(extra);
    world_free(&w);
}
END_TEST

START_TEST(test_revoke_remove)
{
    World w;
    world_init(&w);
    GError *err = NULL;
    ck_assert(mr_set_dirty_log(w.ram, MEM_CLIENT_DISPLAY, true, &err));
    Rev rev = { 0 };
    uint64_t len = 0x800;
    DmaMapping *m;
    uint8_t *p = dma_map(w.sys, 0x1000, &len, true, DEVA, on_revoke, &rev, &m);
    ck_assert_ptr_nonnull(p);
    /* Remove the RAM and drop the creator's reference: the mapping keeps it. */
    MemRegion *ram = w.ram;
    ck_assert(mr_del_subregion(w.sys_root, ram, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(rev.calls, 1);
    ck_assert(dma_mapping_revoked(m));
    mr_ref(ram); /* the test's own look at the dirty bitmap after unmap */
    mr_unref(w.ram);
    w.ram = NULL;
    memset(p, 0xee, 0x800); /* ASan: still valid */
    dma_unmap(m, 0x800);
    ck_assert(mr_get_dirty(ram, 0x1000, 0x800, MEM_CLIENT_DISPLAY));
    mr_unref(ram);
    /* The space reads nothing there now. */
    uint8_t b;
    ck_assert_int_eq(dma_read(w.sys, 0x1000, &b, 1, DEVA), MEM_DECODE_ERROR);
    world_free(&w);
}
END_TEST

START_TEST(test_revoke_readonly_and_hidden)
{
    World w;
    world_init(&w);
    Rev rev = { 0 };
    uint64_t len = 0x100;
    DmaMapping *m;
    uint8_t *p = dma_map(w.sys, 0x3000, &len, false, DEVA, on_revoke, &rev, &m);
    ck_assert_ptr_nonnull(p);
    /* Something of higher priority covering the range revokes. */
    MemRegion *cover = tt_ram("cover", 0x1000, 2);
    GError *err = NULL;
    ck_assert(mr_add_subregion_overlap(w.sys_root, 0x3000, cover, 5, &err));
    ck_assert_uint_eq(rev.calls, 1);
    ck_assert_int_eq(dma_unmap(m, 0x100), MEM_OK);
    ck_assert(mr_del_subregion(w.sys_root, cover, &err));
    mr_unref(cover);
    world_free(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dma");
    TCase *tc = tt_tcase(s, "access");
    tcase_add_test(tc, test_rw_ram);
    tcase_add_test(tc, test_rw_mmio);
    tcase_add_test(tc, test_unassigned);
    tcase_add_test(tc, test_iommu_rw);
    tc = tt_tcase(s, "map");
    tcase_add_test(tc, test_map_ram);
    tcase_add_test(tc, test_map_bounce);
    tcase_add_test(tc, test_revoke_move);
    tcase_add_test(tc, test_revoke_remove);
    tcase_add_test(tc, test_revoke_readonly_and_hidden);
    return tt_run(s);
}
