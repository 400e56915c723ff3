/*
 * IOMMU regions (memory-semantics.md §1, §6; softmmu/iommu.h): accesses
 * through a translation, splitting at translation boundaries, permissions,
 * faults, nested IOMMUs, translation loops, invalidation notifiers, and a
 * CPU TLB reading through an IOMMU whose table changes.
 *
 * The world: "sys" is a system address space with 64 KiB of RAM at 0
 * (bytes tt_pat(offset, 0x5a)) and a recording device at 0x100000. "dev"
 * is a device's address space whose root holds the IOMMU under test at
 * IOVA (inside a "bus" container); the IOMMU translates into "sys" through
 * a page table the test edits.
 */
#include "tlb_test_util.h"

#include "softmmu/iommu.h"

#define IOVA 0x10000000ull
#define RAM_SIZE 0x10000ull
#define DEV_BASE 0x100000ull
#define SEED 0x5a

/* ------------------------------------------------------------------ */
/* A test IOMMU: iova page -> (target page, perm), in a GHashTable. */

typedef struct Pte {
    uint64_t tpage;  /* target address of the page */
    unsigned perm;
} Pte;

typedef struct TIommu {
    const char *tag;      /* for the shared call log */
    GHashTable *pt;       /* GUINT_TO_POINTER(page number) -> Pte* */
    AddressSpace *target;
    unsigned calls;
    GPtrArray *order;     /* optional shared log of tags, in call order */
    uint64_t last_addr;
} TIommu;

static bool ti_translate(void *opaque, uint64_t addr, bool is_write, MemAttrs attrs,
                         MemIommuEntry *out)
{
    TIommu *t = opaque;
    t->calls++;
    t->last_addr = addr;
    if (t->order) {
        g_ptr_array_add(t->order, (gpointer)t->tag);
    }
    const Pte *p = g_hash_table_lookup(t->pt, GUINT_TO_POINTER((guint)(addr >> 12)));
    if (!p) {
        return false;
    }
    out->target = t->target;
    out->translated_addr = p->tpage;
    out->addr_mask = 0xfff;
    out->perm = p->perm;
    return true;
}

static const MemIommuOps ti_ops = { .translate = ti_translate };

static TIommu *ti_new(const char *tag, AddressSpace *target)
{
    TIommu *t = g_new0(TIommu, 1);
    t->tag = tag;
    t->pt = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    t->target = target;
    return t;
}

static void ti_map(TIommu *t, uint64_t iova_page_off, uint64_t tpage, unsigned perm)
{
    Pte *p = g_new(Pte, 1);
    p->tpage = tpage;
    p->perm = perm;
    g_hash_table_replace(t->pt, GUINT_TO_POINTER((guint)(iova_page_off >> 12)), p);
}

static void ti_unmap(TIommu *t, uint64_t iova_page_off)
{
    g_hash_table_remove(t->pt, GUINT_TO_POINTER((guint)(iova_page_off >> 12)));
}

static void ti_free(TIommu *t)
{
    g_hash_table_unref(t->pt);
    g_free(t);
}

static MemRegion *iommu_region(const char *name, uint64_t size, TIommu *t)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_iommu(name, size, &ti_ops, t, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
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

static void add(MemRegion *c, uint64_t addr, MemRegion *child)
{
    GError *err = NULL;
    ck_assert(mr_add_subregion(c, addr, child, &err));
    TT_NO_ERROR(err);
}

/* ------------------------------------------------------------------ */
/* The world. */

typedef struct World {
    MemRegion *sys_root, *ram, *mmio;
    TtDev *dev;
    AddressSpace *sys;
    MemRegion *dev_root, *bus, *iommu;
    AddressSpace *das;
    TIommu *ti;
} World;

static void world_init(World *w)
{
    memset(w, 0, sizeof(*w));
    w->sys_root = tt_container("sys", MEM_SIZE_FULL);
    w->ram = tt_ram("ram", RAM_SIZE, SEED);
    add(w->sys_root, 0, w->ram);
    w->dev = tt_dev_new(0xd0000000);
    GError *err = NULL;
    w->mmio = mr_new_mmio("dev", 0x1000, &w->dev->ops, w->dev, &err);
    TT_NO_ERROR(err);
    add(w->sys_root, DEV_BASE, w->mmio);
    w->sys = space("sys", w->sys_root);

    w->ti = ti_new("iommu", w->sys);
    w->dev_root = tt_container("dev-root", MEM_SIZE_FULL);
    w->bus = tt_container("bus", 0x100000000ull);
    w->iommu = iommu_region("iommu", 0x100000, w->ti);
    add(w->bus, IOVA, w->iommu);
    add(w->dev_root, 0, w->bus);
    w->das = space("dev", w->dev_root);
}

static void world_free(World *w)
{
    as_free(w->das);
    as_free(w->sys);
    mr_unref(w->iommu);
    mr_unref(w->bus);
    mr_unref(w->dev_root);
    mr_unref(w->mmio);
    mr_unref(w->ram);
    mr_unref(w->sys_root);
    ti_free(w->ti);
    tt_dev_free(w->dev);
}

static uint8_t *ram_at(World *w, uint64_t off)
{
    return (uint8_t *)mr_ram_ptr(w->ram) + off;
}

static const MemAttrs DEVA = { .requester = 7, .requester_type = MEM_REQ_DEVICE };

/* ------------------------------------------------------------------ */

START_TEST(test_create)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_iommu("bad", 0x1000, NULL, NULL, &err);
    ck_assert_ptr_null(mr);
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
    static const MemIommuOps no_cb = { 0 };
    ck_assert_ptr_null(mr_new_iommu("bad", 0x1000, &no_cb, NULL, &err));
    g_clear_error(&err);
    ck_assert_ptr_null(mr_new_iommu("bad", 0, &ti_ops, NULL, &err));
    g_clear_error(&err);

    TIommu *t = ti_new("t", NULL);
    mr = iommu_region("iommu", 0x2000, t);
    ck_assert_int_eq(mr_kind(mr), MR_KIND_IOMMU);
    ck_assert_str_eq(mr_kind_name(mr_kind(mr)), "iommu");
    ck_assert_uint_eq(mr_size(mr), 0x2000);
    ck_assert_ptr_null(mr_ops(mr)); /* not a device: nothing may call it directly */
    /* It renders as a leaf. */
    MemRegion *root = tt_container("root", 0x10000);
    add(root, 0x4000, mr);
    FlatView *fv = flatview_render(root);
    ck_assert_uint_eq(flatview_num_ranges(fv), 1);
    ck_assert_ptr_eq(flatview_range(fv, 0)->mr, mr);
    ck_assert_uint_eq(flatview_range(fv, 0)->start, 0x4000);
    flatview_unref(fv);
    mr_unref(mr);
    mr_unref(root);
    ti_free(t);
}
END_TEST

START_TEST(test_translate_basic)
{
    World w;
    world_init(&w);
    ti_map(w.ti, 0x0000, 0x5000, MEM_IOMMU_RW);
    ti_map(w.ti, 0x1000, 0x2000, MEM_IOMMU_RW);

    ck_assert_int_eq(as_write(w.das, IOVA + 0x10, DEVA, "hello", 5), MEM_OK);
    ck_assert_mem_eq(ram_at(&w, 0x5010), "hello", 5);
    ck_assert_uint_eq(w.ti->last_addr, 0x10); /* offset in the region */
    char buf[6] = { 0 };
    ck_assert_int_eq(as_read(w.das, IOVA + 0x10, DEVA, buf, 5), MEM_OK);
    ck_assert_str_eq(buf, "hello");

    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x1100, DEVA, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    uint64_t want = 0;
    ck_assert_int_eq(as_read_val(w.sys, 0x2100, DEVA, 4, MEM_LITTLE_ENDIAN, &want), MEM_OK);
    ck_assert_uint_eq(v, want);
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0x1200, DEVA, 8, MEM_BIG_ENDIAN,
                                  0x0102030405060708ull), MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x2200)[0], 0x01);
    ck_assert_uint_eq(ram_at(&w, 0x2200)[7], 0x08);
    /* Outside the IOMMU window: unassigned as usual. */
    ck_assert_int_eq(as_read_val(w.das, IOVA - 4, DEVA, 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);
    world_free(&w);
}
END_TEST

START_TEST(test_split_across_pages)
{
    World w;
    world_init(&w);
    ti_map(w.ti, 0x0000, 0x5000, MEM_IOMMU_RW);
    ti_map(w.ti, 0x1000, 0x2000, MEM_IOMMU_RW); /* not contiguous with 0x5000 */

    const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    ck_assert_int_eq(as_write(w.das, IOVA + 0xffc, DEVA, data, 8), MEM_OK);
    ck_assert_mem_eq(ram_at(&w, 0x5ffc), data, 4);
    ck_assert_mem_eq(ram_at(&w, 0x2000), data + 4, 4);
    /* Nothing written past either piece. */
    ck_assert_uint_eq(ram_at(&w, 0x6000)[0], tt_pat(0x6000, SEED));
    ck_assert_uint_eq(ram_at(&w, 0x1fff)[0], tt_pat(0x1fff, SEED));

    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0xffe, DEVA, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, (uint64_t)3 | (uint64_t)4 << 8 | (uint64_t)5 << 16 | (uint64_t)6 << 24);
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0xfff, DEVA, 2, MEM_LITTLE_ENDIAN, 0xbbaa),
                     MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x5fff)[0], 0xaa);
    ck_assert_uint_eq(ram_at(&w, 0x2000)[0], 0xbb);
    /* Pieces of 5 and 3 bytes: neither is a value size, both must still
     * be performed (the tail was once forwarded as a 3-byte value access
     * and refused). */
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0xffb, DEVA, 8, MEM_LITTLE_ENDIAN,
                                  0x8877665544332211ull), MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x5ffb)[0], 0x11);
    ck_assert_uint_eq(ram_at(&w, 0x5fff)[0], 0x55);
    ck_assert_uint_eq(ram_at(&w, 0x2000)[0], 0x66);
    ck_assert_uint_eq(ram_at(&w, 0x2002)[0], 0x88);
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0xffb, DEVA, 8, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x8877665544332211ull);

    /* A big buffer over both pages. */
    uint8_t big[0x2000];
    ck_assert_int_eq(as_read(w.das, IOVA, DEVA, big, sizeof(big)), MEM_OK);
    ck_assert_mem_eq(big, ram_at(&w, 0x5000), 0x1000);
    ck_assert_mem_eq(big + 0x1000, ram_at(&w, 0x2000), 0x1000);
    world_free(&w);
}
END_TEST

START_TEST(test_permissions)
{
    World w;
    world_init(&w);
    ti_map(w.ti, 0x2000, 0x7000, MEM_IOMMU_RO);
    ti_map(w.ti, 0x3000, 0x8000, MEM_IOMMU_WO);
    ti_map(w.ti, 0x4000, 0x9000, MEM_IOMMU_NONE);

    uint8_t before[16];
    memcpy(before, ram_at(&w, 0x7000), sizeof(before));
    ck_assert_int_eq(as_write(w.das, IOVA + 0x2000, DEVA, "XXXXXXXXXXXXXXXX", 16),
                     MEM_ACCESS_ERROR);
    ck_assert_mem_eq(ram_at(&w, 0x7000), before, 16);
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0x2000, DEVA, 4, MEM_LITTLE_ENDIAN, 0),
                     MEM_ACCESS_ERROR);
    ck_assert_mem_eq(ram_at(&w, 0x7000), before, 16);
    uint8_t got[16];
    ck_assert_int_eq(as_read(w.das, IOVA + 0x2000, DEVA, got, 16), MEM_OK);
    ck_assert_mem_eq(got, before, 16);

    /* Write-only: writes land, reads are refused and read as all-ones. */
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0x3000, DEVA, 4, MEM_LITTLE_ENDIAN, 0xcafef00d),
                     MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x8000)[0], 0x0d);
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x3000, DEVA, 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_ACCESS_ERROR);
    ck_assert_uint_eq(v, 0xffffffffu);
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x4000, DEVA, 2, MEM_LITTLE_ENDIAN, &v),
                     MEM_ACCESS_ERROR);
    ck_assert_uint_eq(v, 0xffff);
    world_free(&w);
}
END_TEST

START_TEST(test_no_translation)
{
    World w;
    world_init(&w);
    ti_map(w.ti, 0x4000, 0x3000, MEM_IOMMU_RW); /* page 3 unmapped, page 4 mapped */

    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x3000, DEVA, 8, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, UINT64_MAX);
    uint8_t buf[8];
    ck_assert_int_eq(as_read(w.das, IOVA + 0x3010, DEVA, buf, 8), MEM_DECODE_ERROR);
    for (int i = 0; i < 8; i++) {
        ck_assert_uint_eq(buf[i], 0xff);
    }
    ck_assert_int_eq(as_write(w.das, IOVA + 0x3010, DEVA, buf, 8), MEM_DECODE_ERROR);

    /* Straddling the hole and a mapped page: the hole part fails, the rest is done. */
    ck_assert_int_eq(as_read(w.das, IOVA + 0x3ffc, DEVA, buf, 8), MEM_DECODE_ERROR);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(buf[i], 0xff);
        ck_assert_uint_eq(buf[4 + i], tt_pat(0x3000 + i, SEED));
    }
    const uint8_t w8[8] = { 9, 9, 9, 9, 0x11, 0x22, 0x33, 0x44 };
    ck_assert_int_eq(as_write(w.das, IOVA + 0x3ffc, DEVA, w8, 8), MEM_DECODE_ERROR);
    ck_assert_mem_eq(ram_at(&w, 0x3000), w8 + 4, 4);

    /* The fill byte is the originating space's. */
    as_set_unassigned_fill(w.das, 0x00);
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x3000, DEVA, 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0);
    world_free(&w);
}
END_TEST

/* A value access that stays within one translation reaches a device whole. */
START_TEST(test_device_behind_iommu)
{
    World w;
    world_init(&w);
    ti_map(w.ti, 0x5000, DEV_BASE, MEM_IOMMU_RW);
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0x5008, DEVA, 8, MEM_LITTLE_ENDIAN,
                                  0x1122334455667788ull), MEM_OK);
    TT_EXPECT_DEV(w.dev, 0, true, 0x8, 8, 0x1122334455667788ull);
    ck_assert(tt_dev_at(w.dev, 0)->attrs.requester == 7 &&
              tt_dev_at(w.dev, 0)->attrs.requester_type == MEM_REQ_DEVICE);
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x5010, DEVA, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    TT_EXPECT_DEV(w.dev, 1, false, 0x10, 4, 0xd0000010u);
    ck_assert_uint_eq(v, 0xd0000010u);
    ck_assert_uint_eq(tt_dev_n(w.dev), 2);
    world_free(&w);
}
END_TEST

START_TEST(test_nested)
{
    World w;
    world_init(&w);
    GPtrArray *order = g_ptr_array_new();
    /* A (in the device space) -> "mid" space, whose root holds B -> sys. */
    MemRegion *mid_root = tt_container("mid-root", MEM_SIZE_FULL);
    TIommu *tb = ti_new("B", w.sys);
    MemRegion *b = iommu_region("B", 0x100000, tb);
    add(mid_root, 0x40000, b);
    AddressSpace *mid = space("mid", mid_root);
    w.ti->target = mid;
    w.ti->tag = "A";
    w.ti->order = order;
    tb->order = order;

    ti_map(w.ti, 0x0000, 0x40000 + 0x3000, MEM_IOMMU_RW); /* A: page 0 -> B's page 3 */
    ti_map(w.ti, 0x1000, 0x40000 + 0x6000, MEM_IOMMU_RO); /* A: page 1 -> B's page 6 */
    ti_map(tb, 0x3000, 0x9000, MEM_IOMMU_RW);             /* B: page 3 -> RAM page 9 */
    ti_map(tb, 0x6000, 0xa000, MEM_IOMMU_RW);             /* B: page 6 -> RAM page 10 */

    ck_assert_int_eq(as_write_val(w.das, IOVA + 0x24, DEVA, 4, MEM_LITTLE_ENDIAN, 0xa1b2c3d4),
                     MEM_OK);
    ck_assert_uint_eq(ram_at(&w, 0x9024)[0], 0xd4);
    ck_assert_uint_eq(ram_at(&w, 0x9027)[0], 0xa1);
    ck_assert_uint_eq(order->len, 2);
    ck_assert_str_eq(g_ptr_array_index(order, 0), "A");
    ck_assert_str_eq(g_ptr_array_index(order, 1), "B");
    ck_assert_uint_eq(tb->last_addr, 0x3024);

    /* Across A's page boundary: A, B for the first piece; A, B for the second. */
    g_ptr_array_set_size(order, 0);
    uint8_t buf[8];
    ck_assert_int_eq(as_read(w.das, IOVA + 0xffc, DEVA, buf, 8), MEM_OK);
    ck_assert_mem_eq(buf, ram_at(&w, 0x9ffc), 4);
    ck_assert_mem_eq(buf + 4, ram_at(&w, 0xa000), 4);
    ck_assert_uint_eq(order->len, 4);
    ck_assert_str_eq(g_ptr_array_index(order, 2), "A");
    ck_assert_str_eq(g_ptr_array_index(order, 3), "B");

    /* The outer permission wins even where the inner one allows. */
    uint8_t before = ram_at(&w, 0xa000)[0];
    ck_assert_int_eq(as_write_val(w.das, IOVA + 0x1000, DEVA, 1, MEM_LITTLE_ENDIAN, 0),
                     MEM_ACCESS_ERROR);
    ck_assert_uint_eq(ram_at(&w, 0xa000)[0], before);
    /* An inner fault comes back as the inner result. */
    ti_unmap(tb, 0x3000);
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA, DEVA, 4, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0xffffffffu);

    as_free(mid);
    mr_unref(b);
    mr_unref(mid_root);
    ti_free(tb);
    g_ptr_array_unref(order);
    w.ti->order = NULL;
    world_free(&w);
}
END_TEST

START_TEST(test_loop)
{
    World w;
    world_init(&w);
    /* The IOMMU translates into its own space, onto itself. */
    w.ti->target = w.das;
    ti_map(w.ti, 0x0000, IOVA, MEM_IOMMU_RW);
    guint reports = tt_num_reports();
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 8, DEVA, 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0xffffffffu);
    ck_assert_uint_eq(w.ti->calls, MEM_IOMMU_MAX_DEPTH);
    ck_assert_uint_eq(tt_num_reports(), reports + 1);
    uint8_t buf[0x1800];
    ck_assert_int_eq(as_read(w.das, IOVA + 0x800, DEVA, buf, sizeof(buf)), MEM_DECODE_ERROR);
    for (size_t i = 0; i < sizeof(buf); i++) {
        ck_assert_uint_eq(buf[i], 0xff);
    }
    ck_assert_int_eq(as_write(w.das, IOVA, DEVA, buf, 16), MEM_DECODE_ERROR);
    ck_assert_uint_eq(tt_num_reports(), reports + 1); /* reported once */

    /* Two IOMMUs pointing at each other through two spaces. */
    MemRegion *r2 = tt_container("r2", MEM_SIZE_FULL);
    TIommu *t2 = ti_new("t2", w.das);
    MemRegion *i2 = iommu_region("i2", 0x1000, t2);
    add(r2, 0, i2);
    AddressSpace *s2 = space("s2", r2);
    ti_map(t2, 0, IOVA, MEM_IOMMU_RW);
    w.ti->target = s2;
    ti_map(w.ti, 0x0000, 0, MEM_IOMMU_RW);
    ck_assert_int_eq(as_write_val(w.das, IOVA, DEVA, 4, MEM_LITTLE_ENDIAN, 1), MEM_DECODE_ERROR);
    ck_assert_int_eq(as_read_val(s2, 0, DEVA, 4, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    /* ... and after the loop, a good translation still works (depth unwound). */
    w.ti->target = w.sys;
    ti_map(w.ti, 0x0000, 0x4000, MEM_IOMMU_RW);
    ck_assert_int_eq(as_read_val(w.das, IOVA, DEVA, 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, tt_pat(0x4000, SEED));
    as_free(s2);
    mr_unref(i2);
    mr_unref(r2);
    ti_free(t2);
    world_free(&w);
}
END_TEST

/* A malformed entry is refused, not followed. */
static bool bad_translate(void *opaque, uint64_t addr, bool is_write, MemAttrs attrs,
                          MemIommuEntry *out)
{
    out->target = addr < 0x1000 ? NULL : opaque;
    out->translated_addr = 0;
    out->addr_mask = 0xf0f;
    out->perm = MEM_IOMMU_RW;
    return true;
}

START_TEST(test_malformed_entry)
{
    World w;
    world_init(&w);
    static const MemIommuOps bad_ops = { .translate = bad_translate };
    GError *err = NULL;
    MemRegion *bad = mr_new_iommu("bad", 0x2000, &bad_ops, w.sys, &err);
    TT_NO_ERROR(err);
    add(w.bus, IOVA + 0x200000, bad);
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x200000, DEVA, 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);
    ck_assert_int_eq(as_read_val(w.das, IOVA + 0x201000, DEVA, 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0xffffffffu);
    ck_assert_uint_ge(tt_num_reports(), 1);
    mr_unref(bad);
    world_free(&w);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Notifiers. */

typedef struct NoteLog {
    GArray *calls; /* uint64_t pairs: addr, mask */
    MemRegion *seen;
    bool remove_self;
} NoteLog;

static void note(void *opaque, MemRegion *iommu, uint64_t addr, uint64_t mask)
{
    NoteLog *l = opaque;
    l->seen = iommu;
    g_array_append_val(l->calls, addr);
    g_array_append_val(l->calls, mask);
    if (l->remove_self) {
        mr_iommu_remove_notifier(iommu, note, l);
    }
}

START_TEST(test_notifiers)
{
    World w;
    world_init(&w);
    NoteLog a = { g_array_new(FALSE, FALSE, sizeof(uint64_t)), NULL, false };
    NoteLog b = { g_array_new(FALSE, FALSE, sizeof(uint64_t)), NULL, false };
    mr_iommu_invalidate(w.iommu, 0, 0xfff); /* nobody registered: nothing happens */
    mr_iommu_add_notifier(w.iommu, note, &a);
    mr_iommu_add_notifier(w.iommu, note, &b);
    ck_assert_uint_eq(mr_iommu_num_notifiers(w.iommu), 2);

    mr_iommu_invalidate(w.iommu, 0x3000, 0xfff);
    ck_assert_uint_eq(a.calls->len, 2);
    ck_assert_uint_eq(b.calls->len, 2);
    ck_assert_ptr_eq(a.seen, w.iommu);
    ck_assert_uint_eq(g_array_index(a.calls, uint64_t, 0), 0x3000);
    ck_assert_uint_eq(g_array_index(a.calls, uint64_t, 1), 0xfff);
    ck_assert_uint_eq(g_array_index(b.calls, uint64_t, 0), 0x3000);

    mr_iommu_remove_notifier(w.iommu, note, &a);
    mr_iommu_invalidate(w.iommu, 0, 0x1fffff);
    ck_assert_uint_eq(a.calls->len, 2);
    ck_assert_uint_eq(b.calls->len, 4);
    ck_assert_uint_eq(g_array_index(b.calls, uint64_t, 3), 0x1fffff);

    /* A notifier that removes itself while called. */
    b.remove_self = true;
    mr_iommu_invalidate(w.iommu, 0x5000, 0xfff);
    ck_assert_uint_eq(b.calls->len, 6);
    ck_assert_uint_eq(mr_iommu_num_notifiers(w.iommu), 0);
    mr_iommu_invalidate(w.iommu, 0x5000, 0xfff);
    ck_assert_uint_eq(b.calls->len, 6);

    /* Removing what is not there and non-IOMMU regions are harmless. */
    mr_iommu_remove_notifier(w.iommu, note, &a);
    mr_iommu_add_notifier(w.ram, note, &a);
    ck_assert_uint_eq(mr_iommu_num_notifiers(w.ram), 0);
    mr_iommu_invalidate(w.ram, 0, 0xfff);
    ck_assert_uint_eq(a.calls->len, 2);

    /* Notifiers still registered when the region goes away are freed with it. */
    mr_iommu_add_notifier(w.iommu, note, &a);
    g_array_unref(a.calls);
    g_array_unref(b.calls);
    world_free(&w);
}
END_TEST

/* ------------------------------------------------------------------ */
/* A CPU TLB over a space that holds the IOMMU region. */

START_TEST(test_cpu_tlb_through_iommu)
{
    World w;
    world_init(&w);
    ti_map(w.ti, 0x0000, 0x5000, MEM_IOMMU_RW);
    /* The CPU's own space: the IOMMU region at IOVA (in the bus container). */
    TtCpu *cpu = tt_cpu_new(0, true);
    TlbConfig cfg = tt_config(1, 64, 4, false);
    CpuTlb *t = tt_tlb(w.das, &cfg, &tt_ops, cpu);

    uint64_t v = tt_ld(t, IOVA + 0x40, 4, 0, 0);
    uint64_t want = 0;
    as_read_val(w.sys, 0x5040, DEVA, 4, MEM_LITTLE_ENDIAN, &want);
    ck_assert_uint_eq(v, want);
    /* An I/O page, never a direct device call. */
    ck_assert(tt_tag(t, 0, IOVA, TLB_READ) & TLB_FLAG_IO);
    const TlbFullEntry *full = tlb_peek_full(t, 0, IOVA);
    ck_assert_ptr_nonnull(full);
    ck_assert_ptr_null(full->dev_ops);
    ck_assert_uint_eq(tt_nwalks(cpu), 1);

    /* The model remaps the page and invalidates: the next load sees it. */
    NoteLog n = { g_array_new(FALSE, FALSE, sizeof(uint64_t)), NULL, false };
    mr_iommu_add_notifier(w.iommu, note, &n);
    ti_map(w.ti, 0x0000, 0x6000, MEM_IOMMU_RW);
    mr_iommu_invalidate(w.iommu, 0x0000, 0xfff);
    ck_assert_uint_eq(n.calls->len, 2);
    v = tt_ld(t, IOVA + 0x40, 4, 0, 0);
    as_read_val(w.sys, 0x6040, DEVA, 4, MEM_LITTLE_ENDIAN, &want);
    ck_assert_uint_eq(v, want);
    tt_st(t, IOVA + 0x80, 8, 0, 0, 0x8877665544332211ull);
    ck_assert_uint_eq(ram_at(&w, 0x6080)[0], 0x11);
    ck_assert_uint_eq(ram_at(&w, 0x6087)[0], 0x88);
    ck_assert_uint_eq(ram_at(&w, 0x5080)[0], tt_pat(0x5080, SEED));

    /* Read-only now: the store is a bus error the default policy faults on
     * (access errors fault); RAM is unchanged. */
    ti_map(w.ti, 0x0000, 0x6000, MEM_IOMMU_RO);
    mr_iommu_invalidate(w.iommu, 0x0000, 0xfff);
    ck_assert(!tlb_store(t, IOVA + 0x80, 1, 0, 0, 0x99));
    ck_assert_uint_eq(tt_nfaults(cpu), 1);
    ck_assert_int_eq(tt_fault(cpu, 0)->kind, TLB_FAULT_BUS);
    ck_assert_int_eq(tt_fault(cpu, 0)->result, MEM_ACCESS_ERROR);
    ck_assert_uint_eq(ram_at(&w, 0x6080)[0], 0x11);

    /* Unmapped: a decode error, ignored by default: all-ones. */
    ti_unmap(w.ti, 0x0000);
    mr_iommu_invalidate(w.iommu, 0x0000, 0xfff);
    ck_assert(tlb_load(t, IOVA + 0x40, 4, 0, 0, &v));
    ck_assert_uint_eq(v, 0xffffffffu);
    /* One page walk throughout: the TLB kept the page, the IOMMU translated. */
    ck_assert_uint_eq(tt_nwalks(cpu), 1);

    mr_iommu_remove_notifier(w.iommu, note, &n);
    g_array_unref(n.calls);
    tlb_free(t);
    tt_cpu_free(cpu);
    world_free(&w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("iommu");
    TCase *tc = tt_tcase(s, "access");
    tcase_add_test(tc, test_create);
    tcase_add_test(tc, test_translate_basic);
    tcase_add_test(tc, test_split_across_pages);
    tcase_add_test(tc, test_permissions);
    tcase_add_test(tc, test_no_translation);
    tcase_add_test(tc, test_device_behind_iommu);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_loop);
    tcase_add_test(tc, test_malformed_entry);
    tc = tt_tcase(s, "invalidation");
    tcase_add_test(tc, test_notifiers);
    tcase_add_test(tc, test_cpu_tlb_through_iommu);
    return tt_run(s);
}
