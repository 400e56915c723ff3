/*
 * Accesses (memory-semantics.md §4; address_space.h, region.h callbacks).
 *
 * Device callbacks are recorded by a TuDev (test_util.h): every call's
 * direction, offset, size and value, so the tests can pin exact callback
 * sequences for widening, read-modify-write and splitting.
 */
#include "test_util.h"

#define ROOT_SIZE 0x1000000ull
#define DEV_BASE 0x10000ull

static MemResult rdv(AddressSpace *as, uint64_t addr, unsigned size, MemEndian e, uint64_t *v)
{
    *v = 0x5555555555555555ull;
    return as_read_val(as, addr, mem_attrs_cpu(0), size, e, v);
}

static MemResult wrv(AddressSpace *as, uint64_t addr, unsigned size, MemEndian e, uint64_t v)
{
    return as_write_val(as, addr, mem_attrs_cpu(0), size, e, v);
}

/* A root with one device mapped at DEV_BASE. */
typedef struct DevMap {
    MemRegion *root, *mr;
    AddressSpace *as;
} DevMap;

static void devmap_new(DevMap *m, TuDev *dev, uint64_t size)
{
    m->root = tu_container("root", ROOT_SIZE);
    m->mr = tu_put(m->root, DEV_BASE, tu_mmio("dev", size, dev), 0);
    m->as = tu_as("as", m->root);
}

static void devmap_free(DevMap *m)
{
    as_free(m->as);
    mr_unref(m->root);
}

/* Every logged callback respects `impl` (region.h: "only ever called with
 * sizes and alignments within impl"). */
static void assert_log_within_impl(const TuDev *d)
{
    unsigned mn = d->ops.impl.min_access_size ? d->ops.impl.min_access_size : 1;
    unsigned mx = d->ops.impl.max_access_size ? d->ops.impl.max_access_size : 4;
    for (guint i = 0; i < tu_dev_nlog(d); i++) {
        const TuAccess *a = tu_dev_log(d, i);
        ck_assert_msg(a->size >= mn && a->size <= mx && (a->size & (a->size - 1)) == 0,
                      "callback #%u has size %u outside impl %u..%u", i, a->size, mn, mx);
        ck_assert_msg(d->ops.impl.unaligned || a->offset % a->size == 0,
                      "callback #%u at offset 0x%" PRIx64 " size %u is unaligned", i, a->offset,
                      a->size);
    }
}

/* ------------------------------------------------------------------ */
/* ROM and read-only RAM (§1 ROM: writes dropped and reported; region.h). */

START_TEST(test_rom_write_dropped)
{
    GError *err = NULL;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *rom = mr_new_rom("rom", 0x1000, &err);
    TU_ASSERT_NO_ERROR(err);
    uint8_t *p = mr_ram_ptr(rom);
    for (unsigned i = 0; i < 0x1000; i++) {
        p[i] = tu_pattern_byte(i, 4);
    }
    tu_put(root, 0x20000, rom, 0);
    AddressSpace *as = tu_as("as", root);
    uint64_t v;

    tu_clear_reports();
    ck_assert_int_eq(wrv(as, 0x20010, 4, MEM_LITTLE_ENDIAN, 0xdeadbeef), MEM_ACCESS_ERROR);
    for (unsigned i = 0x10; i < 0x14; i++) {
        ck_assert_uint_eq(p[i], tu_pattern_byte(i, 4));
    }
    ck_assert_msg(tu_num_reports() >= 1, "dropped ROM write not reported (mem_types.h)");
    uint8_t buf[3] = { 1, 2, 3 };
    ck_assert_int_eq(as_write(as, 0x20ffd, mem_attrs_cpu(0), buf, 3), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(p[0xffd], tu_pattern_byte(0xffd, 4));

    ck_assert_int_eq(rdv(as, 0x20010, 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, tu_pattern_byte(0x10, 4));
    as_free(as);
    mr_unref(root);
}
END_TEST

START_TEST(test_ram_readonly)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x1000, 0x42), 0);
    AddressSpace *as = tu_as("as", root);
    uint8_t *p = mr_ram_ptr(ram);
    uint64_t v;

    mr_set_readonly(ram, true);
    ck_assert_int_eq(wrv(as, 0x100, 4, MEM_LITTLE_ENDIAN, 0x01020304), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(p[0x100], 0x42);
    ck_assert_uint_eq(p[0x103], 0x42);
    ck_assert_int_eq(rdv(as, 0x100, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x42424242);

    mr_set_readonly(ram, false);
    ck_assert_int_eq(wrv(as, 0x100, 4, MEM_LITTLE_ENDIAN, 0x01020304), MEM_OK);
    ck_assert_uint_eq(p[0x100], 0x04);
    ck_assert_uint_eq(p[0x103], 0x01);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* region.h: read-only alias windows drop writes; the RAM itself stays writable. */
START_TEST(test_readonly_alias_window)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x2000, 0), 0);
    MemRegion *win = tu_put(root, 0x10000, tu_alias("win", ram, 0x1000, 0x1000), 0);
    AddressSpace *as = tu_as("as", root);
    uint8_t *p = mr_ram_ptr(ram);

    mr_set_readonly(win, true);
    ck_assert_int_eq(wrv(as, 0x10000, 1, MEM_LITTLE_ENDIAN, 0x77), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(p[0x1000], 0);
    ck_assert_int_eq(wrv(as, 0x1000, 1, MEM_LITTLE_ENDIAN, 0x78), MEM_OK);
    ck_assert_uint_eq(tu_rd(as, 0x10000, 1), 0x78);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* region.h: on MMIO the read-only flag is recorded but callbacks see writes. */
START_TEST(test_readonly_mmio_still_writes)
{
    TuDev *dev = tu_dev_simple();
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    mr_set_readonly(m.mr, true);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 4, 4, MEM_LITTLE_ENDIAN, 0xcafe), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, true, 4, 4, 0xcafe);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* §1 ROM device (L8786): ROMD mode reads the RAM backing, writes go to the
 * callbacks; out of ROMD mode everything goes to the callbacks. */
START_TEST(test_romd)
{
    GError *err = NULL;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 4, false), tu_limits(1, 4, false));
    for (unsigned i = 0; i < 16; i++) {
        dev->mem[i] = (uint8_t)(0xe0 + i);
    }
    MemRegion *flash = mr_new_romd("flash", 0x1000, &dev->ops, dev, &err);
    TU_ASSERT_NO_ERROR(err);
    uint8_t *back = mr_ram_ptr(flash);
    for (unsigned i = 0; i < 0x1000; i++) {
        back[i] = tu_pattern_byte(i, 8);
    }
    tu_put(root, 0x40000, flash, 0);
    AddressSpace *as = tu_as("as", root);

    const FlatRange *fr = flatview_find(as_flatview(as), 0x40000);
    ck_assert_ptr_eq(fr->mr, flash);
    ck_assert(fr->romd_mode);

    /* ROMD mode: reads from backing, no callback */
    uint64_t want = tu_bytes_to_val(back + 4, 4, false);
    ck_assert_uint_eq(tu_rd(as, 0x40004, 4), want);
    ck_assert_uint_eq(tu_dev_nlog(dev), 0);
    /* writes go to the callback; backing untouched */
    tu_wr(as, 0x40008, 4, 0xdeadbeef);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, true, 8, 4, 0xdeadbeef);
    ck_assert_uint_eq(back[8], tu_pattern_byte(8, 8));

    /* MMIO mode: reads go to the callback too */
    ck_assert(mr_set_romd_mode(flash, false, &err));
    TU_ASSERT_NO_ERROR(err);
    fr = flatview_find(as_flatview(as), 0x40000);
    ck_assert(!fr->romd_mode);
    tu_dev_clear_log(dev);
    ck_assert_uint_eq(tu_rd(as, 0x40000, 4), 0xe3e2e1e0);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, 0xe3e2e1e0);
    tu_wr(as, 0x40004, 2, 0x1234);
    TU_EXPECT_ACCESS(dev, 1, true, 4, 2, 0x1234);

    /* and back */
    ck_assert(mr_set_romd_mode(flash, true, &err));
    tu_dev_clear_log(dev);
    ck_assert_uint_eq(tu_rd(as, 0x40000, 1), tu_pattern_byte(0, 8));
    ck_assert_uint_eq(tu_dev_nlog(dev), 0);

    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §4 "our position": accepted-but-not-implemented sizes are emulated. */

/* Narrow read widens: impl.min 4, a 1-byte read at offset 2 is one 4-byte
 * read at 0, and the right byte is extracted for the device's byte order. */
static void narrow_read_case(MemEndian e)
{
    TuDev *dev = tu_dev_new(e, tu_limits(1, 4, false), tu_limits(4, 4, false));
    const uint8_t bytes[4] = { 0x44, 0x33, 0x22, 0x11 };
    memcpy(dev->mem, bytes, 4);
    uint64_t dev_val = e == MEM_BIG_ENDIAN ? 0x44332211 : 0x11223344;
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    ck_assert_int_eq(rdv(m.as, DEV_BASE + 2, 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x22);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, dev_val);

    tu_dev_clear_log(dev);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 1, 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x33);
    tu_dev_clear_log(dev);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 2, 2, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x1122);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, dev_val);
    devmap_free(&m);
    tu_dev_free(dev);
}

START_TEST(test_narrow_read_widened_le)
{
    narrow_read_case(MEM_LITTLE_ENDIAN);
}
END_TEST

START_TEST(test_narrow_read_widened_be)
{
    narrow_read_case(MEM_BIG_ENDIAN);
}
END_TEST

/* Narrow write becomes read-modify-write: a 4-byte read, then a 4-byte
 * write of the merged value. */
START_TEST(test_narrow_write_rmw_le)
{
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 4, false), tu_limits(4, 4, false));
    const uint8_t bytes[4] = { 0x44, 0x33, 0x22, 0x11 };
    memcpy(dev->mem, bytes, 4);
    DevMap m;
    devmap_new(&m, dev, 0x1000);

    ck_assert_int_eq(wrv(m.as, DEV_BASE + 1, 1, MEM_LITTLE_ENDIAN, 0xab), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, 0x11223344);
    TU_EXPECT_ACCESS(dev, 1, true, 0, 4, 0x1122ab44);

    tu_dev_clear_log(dev);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 2, 2, MEM_LITTLE_ENDIAN, 0x9988), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, 0x1122ab44);
    TU_EXPECT_ACCESS(dev, 1, true, 0, 4, 0x9988ab44);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

START_TEST(test_narrow_write_rmw_be)
{
    TuDev *dev = tu_dev_new(MEM_BIG_ENDIAN, tu_limits(1, 4, false), tu_limits(4, 4, false));
    const uint8_t bytes[4] = { 0x11, 0x22, 0x33, 0x44 };
    memcpy(dev->mem, bytes, 4);
    DevMap m;
    devmap_new(&m, dev, 0x1000);

    /* byte at offset 1 (0x22) becomes 0xab: 11 ab 33 44 */
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 1, 1, MEM_LITTLE_ENDIAN, 0xab), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, 0x11223344);
    TU_EXPECT_ACCESS(dev, 1, true, 0, 4, 0x11ab3344);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* Wide accesses split into implemented units, lowest address first. */
static void wide_split_case(MemEndian e)
{
    bool big = e == MEM_BIG_ENDIAN;
    TuDev *dev = tu_dev_new(e, tu_limits(1, 8, false), tu_limits(1, 2, false));
    for (unsigned i = 0; i < 8; i++) {
        dev->mem[i] = (uint8_t)(0xa0 + i);
    }
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    ck_assert_int_eq(rdv(m.as, DEV_BASE, 8, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0xa7a6a5a4a3a2a1a0ull);
    ck_assert_uint_eq(tu_dev_nlog(dev), 4);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t unit = big ? (uint64_t)(0xa0 + 2 * i) << 8 | (0xa1 + 2 * i)
                            : (uint64_t)(0xa1 + 2 * i) << 8 | (0xa0 + 2 * i);
        TU_EXPECT_ACCESS(dev, i, false, 2 * i, 2, unit);
    }

    /* a 4-byte read: two units */
    tu_dev_clear_log(dev);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 4, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0xa7a6a5a4);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    ck_assert_uint_eq(tu_dev_log(dev, 0)->offset, 4);
    ck_assert_uint_eq(tu_dev_log(dev, 1)->offset, 6);

    /* an 8-byte write: four unit writes, lowest first */
    tu_dev_clear_log(dev);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 8, 8, MEM_LITTLE_ENDIAN, 0x1122334455667788ull),
                     MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 4);
    const uint64_t le_units[4] = { 0x7788, 0x5566, 0x3344, 0x1122 };
    const uint64_t be_units[4] = { 0x8877, 0x6655, 0x4433, 0x2211 };
    for (unsigned i = 0; i < 4; i++) {
        TU_EXPECT_ACCESS(dev, i, true, 8 + 2 * i, 2, big ? be_units[i] : le_units[i]);
    }
    const uint8_t stored[8] = { 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
    ck_assert_mem_eq(dev->mem + 8, stored, 8);
    devmap_free(&m);
    tu_dev_free(dev);
}

START_TEST(test_wide_access_split_le)
{
    wide_split_case(MEM_LITTLE_ENDIAN);
}
END_TEST

START_TEST(test_wide_access_split_be)
{
    wide_split_case(MEM_BIG_ENDIAN);
}
END_TEST

/* Unaligned accepted (valid.unaligned) but not implemented: emulated with
 * aligned callbacks only; the bytes are right. */
START_TEST(test_unaligned_emulated)
{
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 8, true), tu_limits(4, 4, false));
    for (unsigned i = 0; i < 16; i++) {
        dev->mem[i] = (uint8_t)(0x10 + i);
    }
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    ck_assert_int_eq(rdv(m.as, DEV_BASE + 3, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x16151413);
    ck_assert_uint_gt(tu_dev_nlog(dev), 0);
    assert_log_within_impl(dev);

    tu_dev_clear_log(dev);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 3, 2, MEM_LITTLE_ENDIAN, 0xbbaa), MEM_OK);
    assert_log_within_impl(dev);
    const uint8_t want[8] = { 0x10, 0x11, 0x12, 0xaa, 0xbb, 0x15, 0x16, 0x17 };
    ck_assert_mem_eq(dev->mem, want, 8);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* Accesses outside `valid` fail with MEM_ACCESS_ERROR without calling the device. */
START_TEST(test_outside_valid_size)
{
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(2, 2, false), tu_limits(1, 4, false));
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 8, MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 1, MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(wrv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, 1), MEM_ACCESS_ERROR);
    ck_assert_int_eq(wrv(m.as, DEV_BASE, 1, MEM_LITTLE_ENDIAN, 1), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(tu_dev_nlog(dev), 0);
    /* the accepted size works */
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 2, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

START_TEST(test_unaligned_refused)
{
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 4, false), tu_limits(1, 4, false));
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    ck_assert_int_eq(rdv(m.as, DEV_BASE + 2, 4, MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 1, 2, MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 3, 2, MEM_LITTLE_ENDIAN, 0), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(tu_dev_nlog(dev), 0);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 4, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 3, 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* region.h: a NULL callback makes that direction fail with MEM_DEVICE_ERROR. */
START_TEST(test_null_callbacks)
{
    TuDev *dev = tu_dev_simple();
    dev->ops.read = NULL;
    TuDev *dev2 = tu_dev_simple();
    dev2->ops.write = NULL;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    tu_put(root, 0x1000, tu_mmio("wo", 0x1000, dev), 0);
    tu_put(root, 0x2000, tu_mmio("ro", 0x1000, dev2), 0);
    AddressSpace *as = tu_as("as", root);
    uint64_t v;

    ck_assert_int_eq(rdv(as, 0x1000, 4, MEM_LITTLE_ENDIAN, &v), MEM_DEVICE_ERROR);
    ck_assert_int_eq(wrv(as, 0x1000, 4, MEM_LITTLE_ENDIAN, 0x12345678), MEM_OK);
    TU_EXPECT_ACCESS(dev, 0, true, 0, 4, 0x12345678);
    ck_assert_int_eq(wrv(as, 0x2000, 4, MEM_LITTLE_ENDIAN, 1), MEM_DEVICE_ERROR);
    ck_assert_int_eq(rdv(as, 0x2000, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev2), 1);
    TU_EXPECT_ACCESS(dev2, 0, false, 0, 4, 0);
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
    tu_dev_free(dev2);
}
END_TEST

/* §4: a device that refuses the access yields MEM_DEVICE_ERROR. */
START_TEST(test_device_error_propagates)
{
    TuDev *dev = tu_dev_simple();
    dev->read_result = MEM_DEVICE_ERROR;
    dev->write_result = MEM_DEVICE_ERROR;
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, &v), MEM_DEVICE_ERROR);
    ck_assert_int_eq(wrv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, 9), MEM_DEVICE_ERROR);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* The device sees the attributes of the access (§4). */
START_TEST(test_attrs_reach_device)
{
    TuDev *dev = tu_dev_simple();
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;
    MemAttrs at = mem_attrs_device(7);
    at.secure = true;
    ck_assert_int_eq(as_read_val(m.as, DEV_BASE, at, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_int_eq(as_write_val(m.as, DEV_BASE, mem_attrs_cpu(3), 4, MEM_LITTLE_ENDIAN, 1),
                     MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    ck_assert_uint_eq(tu_dev_log(dev, 0)->attrs.requester, 7);
    ck_assert_uint_eq(tu_dev_log(dev, 0)->attrs.requester_type, MEM_REQ_DEVICE);
    ck_assert(tu_dev_log(dev, 0)->attrs.secure);
    ck_assert_uint_eq(tu_dev_log(dev, 1)->attrs.requester, 3);
    ck_assert_uint_eq(tu_dev_log(dev, 1)->attrs.requester_type, MEM_REQ_CPU);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §4: straddling accesses split at section boundaries. */

START_TEST(test_straddle_ram_mmio_value)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 4, false), tu_limits(1, 4, false));
    for (unsigned i = 0; i < TU_DEV_MEM; i++) {
        dev->mem[i] = (uint8_t)(0xd0 + i);
    }
    tu_put(root, 0x0000, tu_ram_pattern("ram1", 0x1000, 1), 0);
    tu_put(root, 0x1000, tu_mmio("dev", 0x1000, dev), 0);
    tu_put(root, 0x2000, tu_ram_pattern("ram2", 0x1000, 2), 0);
    AddressSpace *as = tu_as("as", root);
    uint64_t v;

    /* RAM -> MMIO */
    ck_assert_int_eq(rdv(as, 0xffe, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    uint8_t want1[4] = { tu_pattern_byte(0xffe, 1), tu_pattern_byte(0xfff, 1), 0xd0, 0xd1 };
    ck_assert_uint_eq(v, tu_bytes_to_val(want1, 4, false));
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 2, 0xd1d0);

    /* MMIO -> RAM, big-endian request */
    tu_dev_clear_log(dev);
    ck_assert_int_eq(rdv(as, 0x1ffe, 4, MEM_BIG_ENDIAN, &v), MEM_OK);
    uint8_t ffe = (uint8_t)(0xd0 + 0xffe), fff = (uint8_t)(0xd0 + 0xfff);
    uint8_t want2[4] = { ffe, fff, tu_pattern_byte(0, 2), tu_pattern_byte(1, 2) };
    ck_assert_uint_eq(v, tu_bytes_to_val(want2, 4, true));
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, false, 0xffe, 2, (uint64_t)fff << 8 | ffe);

    /* a straddling write */
    tu_dev_clear_log(dev);
    ck_assert_int_eq(wrv(as, 0xffd, 4, MEM_LITTLE_ENDIAN, 0x44332211), MEM_OK);
    ck_assert_uint_eq(tu_rd(as, 0xffd, 1), 0x11);
    ck_assert_uint_eq(tu_rd(as, 0xffe, 2), 0x3322);
    ck_assert_uint_eq(dev->mem[0], 0x44);
    TU_EXPECT_ACCESS(dev, 0, true, 0, 1, 0x44);
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* A byte buffer across RAM / sub-page MMIO / RAM: each part to its own
 * section; MMIO parts in naturally aligned power-of-two pieces. */
START_TEST(test_straddle_buffer_ram_mmio_ram)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 4, false), tu_limits(1, 4, false));
    MemRegion *ram = tu_put(root, 0, tu_ram_pattern("ram", 0x2000, 6), 0);
    tu_put(root, 0x1000, tu_mmio("dev", 0x10, dev), 1);
    AddressSpace *as = tu_as("as", root);
    uint8_t *p = mr_ram_ptr(ram);

    uint8_t buf[0x20];
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(0x80 + i);
    }
    ck_assert_int_eq(as_write(as, 0xff8, mem_attrs_cpu(0), buf, sizeof(buf)), MEM_OK);
    ck_assert_mem_eq(p + 0xff8, buf, 8);
    ck_assert_mem_eq(dev->mem, buf + 8, 0x10);
    ck_assert_mem_eq(p + 0x1010, buf + 0x18, 8);
    for (unsigned i = 0x1000; i < 0x1010; i++) { /* RAM under the device untouched */
        ck_assert_uint_eq(p[i], tu_pattern_byte(i, 6));
    }
    /* the device got writes only, covering offsets 0..15 once, in order */
    uint64_t next = 0;
    for (guint i = 0; i < tu_dev_nlog(dev); i++) {
        const TuAccess *a = tu_dev_log(dev, i);
        ck_assert(a->write);
        ck_assert_uint_eq(a->offset, next);
        ck_assert_msg(a->offset % a->size == 0, "piece at %" PRIu64 " size %u unaligned",
                      a->offset, a->size);
        next += a->size;
    }
    ck_assert_uint_eq(next, 0x10);
    assert_log_within_impl(dev);

    uint8_t back[0x20];
    memset(back, 0, sizeof(back));
    ck_assert_int_eq(as_read(as, 0xff8, mem_attrs_cpu(0), back, sizeof(back)), MEM_OK);
    ck_assert_mem_eq(back, buf, sizeof(buf));
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* address_space.h: the result is the first non-OK result; the other parts
 * are still performed; unassigned parts read as the fill byte. */
START_TEST(test_straddle_first_error_wins)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    dev->write_result = MEM_DEVICE_ERROR;
    for (unsigned i = 0; i < 8; i++) {
        dev->mem[i] = (uint8_t)(0x60 + i);
    }
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x1000, 0), 0);
    tu_put(root, 0x1008, tu_mmio("dev", 0x8, dev), 0); /* hole at 0x1000-0x1007 */
    AddressSpace *as = tu_as("as", root);
    uint8_t *p = mr_ram_ptr(ram);

    uint8_t buf[0x18];
    memset(buf, 0x3c, sizeof(buf));
    ck_assert_int_eq(as_write(as, 0xff8, mem_attrs_cpu(0), buf, sizeof(buf)), MEM_DECODE_ERROR);
    for (unsigned i = 0xff8; i < 0x1000; i++) {
        ck_assert_uint_eq(p[i], 0x3c);
    }
    ck_assert_uint_gt(tu_dev_nlog(dev), 0); /* performed although it will fail */
    ck_assert(tu_dev_log(dev, 0)->write);

    /* reading: RAM bytes, 0xff for the hole, device bytes */
    uint8_t back[0x18];
    ck_assert_int_eq(as_read(as, 0xff8, mem_attrs_cpu(0), back, sizeof(back)), MEM_DECODE_ERROR);
    for (unsigned i = 0; i < 8; i++) {
        ck_assert_uint_eq(back[i], 0x3c);
        ck_assert_uint_eq(back[8 + i], 0xff);
        ck_assert_uint_eq(back[16 + i], 0x60 + i);
    }

    /* device error first, then a decode error: the device error is reported */
    tu_dev_clear_log(dev);
    ck_assert_int_eq(as_write(as, 0x100c, mem_attrs_cpu(0), buf, 8), MEM_DEVICE_ERROR);
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §4 unassigned accesses. */

START_TEST(test_unassigned_read_fill)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    tu_put(root, 0, tu_ram("ram", 0x1000, 0x12), 0);
    AddressSpace *as = tu_as("as", root);
    uint64_t v;

    ck_assert_int_eq(rdv(as, 0x8000, 4, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0xffffffff);
    ck_assert_int_eq(rdv(as, 0x8000, 8, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(rdv(as, 0x8000, 1, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0xff);

    as_set_unassigned_fill(as, 0);
    ck_assert_int_eq(rdv(as, 0x8000, 4, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0);
    as_set_unassigned_fill(as, 0x5a);
    ck_assert_int_eq(rdv(as, 0x8000, 4, MEM_BIG_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0x5a5a5a5a);

    /* half assigned: RAM bytes then fill bytes */
    uint8_t buf[8];
    ck_assert_int_eq(as_read(as, 0xffc, mem_attrs_cpu(0), buf, 8), MEM_DECODE_ERROR);
    const uint8_t want[8] = { 0x12, 0x12, 0x12, 0x12, 0x5a, 0x5a, 0x5a, 0x5a };
    ck_assert_mem_eq(buf, want, 8);
    /* beyond the root, too */
    ck_assert_int_eq(rdv(as, ROOT_SIZE + 0x10, 2, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(v, 0x5a5a);
    as_free(as);
    mr_unref(root);
}
END_TEST

START_TEST(test_unassigned_write)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    AddressSpace *as = tu_as("as", root);
    uint8_t buf[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(wrv(as, 0x8000, 4, MEM_LITTLE_ENDIAN, 1), MEM_DECODE_ERROR);
    ck_assert_int_eq(as_write(as, 0x8000, mem_attrs_cpu(0), buf, 4), MEM_DECODE_ERROR);
    ck_assert_int_eq(wrv(as, UINT64_MAX, 1, MEM_LITTLE_ENDIAN, 1), MEM_DECODE_ERROR);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* "Never crash on any address or size." */
START_TEST(test_absurd_accesses_do_not_crash)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    tu_put(root, 0, tu_ram("ram", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    uint64_t v;
    uint8_t buf[16];
    ck_assert_int_ne(rdv(as, UINT64_MAX - 1, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK); /* wraps */
    ck_assert_int_ne(as_read(as, UINT64_MAX - 7, mem_attrs_cpu(0), buf, 16), MEM_OK);
    ck_assert_int_ne(rdv(as, 0, 3, MEM_LITTLE_ENDIAN, &v), MEM_OK); /* not 1/2/4/8 */
    ck_assert_int_ne(wrv(as, 0, 16, MEM_LITTLE_ENDIAN, 0), MEM_OK);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* ------------------------------------------------------------------ */
/* §4 endianness: each MMIO region declares its byte order; the core swaps. */

START_TEST(test_big_endian_device)
{
    TuDev *dev = tu_dev_new(MEM_BIG_ENDIAN, tu_limits(1, 8, false), tu_limits(1, 8, false));
    const uint8_t bytes[4] = { 0x11, 0x22, 0x33, 0x44 };
    memcpy(dev->mem, bytes, 4);
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_BIG_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x11223344);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x44332211);
    TU_EXPECT_ACCESS(dev, 0, false, 0, 4, 0x11223344);
    TU_EXPECT_ACCESS(dev, 1, false, 0, 4, 0x11223344);

    tu_dev_clear_log(dev);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 8, 4, MEM_LITTLE_ENDIAN, 0x44332211), MEM_OK);
    TU_EXPECT_ACCESS(dev, 0, true, 8, 4, 0x11223344);
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 8, 2, MEM_BIG_ENDIAN, 0xabcd), MEM_OK);
    TU_EXPECT_ACCESS(dev, 1, true, 8, 2, 0xabcd);
    ck_assert_uint_eq(dev->mem[8], 0xab);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* MEM_TARGET_ENDIAN devices resolve through the space's target byte order. */
START_TEST(test_target_endian_device)
{
    TuDev *dev = tu_dev_fixed(0x11223344);
    dev->ops.endianness = MEM_TARGET_ENDIAN;
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;

    as_set_target_endian(m.as, MEM_BIG_ENDIAN);
    ck_assert_int_eq(as_target_endian(m.as), MEM_BIG_ENDIAN);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_BIG_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x11223344);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x44332211);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_TARGET_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x11223344);
    ck_assert_int_eq(wrv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, 0x44332211), MEM_OK);
    TU_EXPECT_ACCESS(dev, 3, true, 0, 4, 0x11223344);

    as_set_target_endian(m.as, MEM_LITTLE_ENDIAN);
    ck_assert_int_eq(as_target_endian(m.as), MEM_LITTLE_ENDIAN);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x11223344);
    ck_assert_int_eq(rdv(m.as, DEV_BASE, 4, MEM_BIG_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x44332211);
    ck_assert_int_eq(wrv(m.as, DEV_BASE, 4, MEM_LITTLE_ENDIAN, 0x44332211), MEM_OK);
    TU_EXPECT_ACCESS(dev, 6, true, 0, 4, 0x44332211);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* Value accesses on RAM in each byte order, including TARGET and 8 bytes. */
START_TEST(test_ram_value_byte_order)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    uint8_t *p = mr_ram_ptr(ram);
    uint64_t v;

    ck_assert_int_eq(wrv(as, 0x10, 8, MEM_LITTLE_ENDIAN, 0x0807060504030201ull), MEM_OK);
    for (unsigned i = 0; i < 8; i++) {
        ck_assert_uint_eq(p[0x10 + i], i + 1);
    }
    ck_assert_int_eq(rdv(as, 0x10, 8, MEM_BIG_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x0102030405060708ull);
    ck_assert_int_eq(rdv(as, 0x10, 4, MEM_BIG_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x01020304);
    ck_assert_int_eq(rdv(as, 0x10, 2, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x0201);
    ck_assert_int_eq(wrv(as, 0x20, 8, MEM_BIG_ENDIAN, 0x0102030405060708ull), MEM_OK);
    ck_assert_mem_eq(p + 0x20, p + 0x10, 8);

    as_set_target_endian(as, MEM_BIG_ENDIAN);
    ck_assert_int_eq(rdv(as, 0x10, 4, MEM_TARGET_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x01020304);
    as_set_target_endian(as, MEM_LITTLE_ENDIAN);
    ck_assert_int_eq(rdv(as, 0x10, 4, MEM_TARGET_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x04030201);

    /* unaligned RAM accesses are fine */
    ck_assert_int_eq(rdv(as, 0x11, 8, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x0008070605040302ull);
    as_free(as);
    mr_unref(root);
}
END_TEST

/* 8-byte MMIO accesses reach an 8-byte device in one call. */
START_TEST(test_mmio_8byte)
{
    TuDev *dev = tu_dev_simple();
    DevMap m;
    devmap_new(&m, dev, 0x1000);
    uint64_t v;
    ck_assert_int_eq(wrv(m.as, DEV_BASE + 8, 8, MEM_LITTLE_ENDIAN, 0x1122334455667788ull),
                     MEM_OK);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, true, 8, 8, 0x1122334455667788ull);
    ck_assert_int_eq(rdv(m.as, DEV_BASE + 8, 8, MEM_BIG_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x8877665544332211ull);
    ck_assert_uint_eq(tu_dev_nlog(dev), 2);
    TU_EXPECT_ACCESS(dev, 1, false, 8, 8, 0x1122334455667788ull);
    devmap_free(&m);
    tu_dev_free(dev);
}
END_TEST

/* as_read/as_write of byte buffers across adjacent RAM regions. */
START_TEST(test_byte_buffers)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *a = tu_put(root, 0x0000, tu_ram("a", 0x1000, 0), 0);
    MemRegion *b = tu_put(root, 0x1000, tu_ram("b", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    uint8_t buf[300], back[300];
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 13 + 1);
    }
    ck_assert_int_eq(as_write(as, 0xf00, mem_attrs_cpu(0), buf, sizeof(buf)), MEM_OK);
    ck_assert_mem_eq((uint8_t *)mr_ram_ptr(a) + 0xf00, buf, 0x100);
    ck_assert_mem_eq(mr_ram_ptr(b), buf + 0x100, sizeof(buf) - 0x100);
    memset(back, 0, sizeof(back));
    ck_assert_int_eq(as_read(as, 0xf00, mem_attrs_cpu(0), back, sizeof(back)), MEM_OK);
    ck_assert_mem_eq(back, buf, sizeof(buf));
    as_free(as);
    mr_unref(root);
}
END_TEST

/* section_access: the TLB slow path, no lookup. */
START_TEST(test_section_access)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    MemRegion *ram = tu_put(root, 0x4000, tu_ram_pattern("ram", 0x1000, 2), 0);
    MemRegion *mm = tu_put(root, 0x8000, tu_mmio("dev", 0x1000, dev), 0);
    AddressSpace *as = tu_as("as", root);
    Dispatch *d = as_dispatch(as);

    const MemSection *s = dispatch_section(d, dispatch_lookup(d, 0x4010, NULL));
    ck_assert_ptr_eq(s->mr, ram);
    uint8_t b[4];
    ck_assert_int_eq(section_access(as, s, 0x4010, mem_attrs_cpu(0), b, 4, false), MEM_OK);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_uint_eq(b[i], tu_pattern_byte(0x10 + i, 2));
    }
    const uint8_t w[2] = { 0xaa, 0xbb };
    ck_assert_int_eq(section_access(as, s, 0x4020, mem_attrs_cpu(0), (void *)w, 2, true), MEM_OK);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(ram))[0x21], 0xbb);

    s = dispatch_section(d, dispatch_lookup(d, 0x8004, NULL));
    ck_assert_ptr_eq(s->mr, mm);
    const uint8_t w4[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(section_access(as, s, 0x8004, mem_attrs_cpu(0), (void *)w4, 4, true),
                     MEM_OK);
    TU_EXPECT_ACCESS(dev, 0, true, 4, 4, 0x04030201);
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

/* as_ram_read_ptr: host pointers into RAM and ROM runs only, refreshed by
 * every new dispatch. */
START_TEST(test_ram_read_ptr)
{
    MemRegion *root = tu_container("root", 0x100000);
    MemRegion *ram = tu_ram_pattern("ram", 0x4000, 3);
    MemRegion *ram2 = tu_ram_pattern("ram2", 0x1000, 9);
    TuDev *dev = tu_dev_simple();
    MemRegion *mmio = tu_mmio("dev", 0x1000, dev);
    tu_add_keep(root, 0x10000, ram, 0);
    tu_add_keep(root, 0x14000, ram2, 0);
    tu_add_keep(root, 0x20000, mmio, 0);
    AddressSpace *as = tu_as("as", root);
    AsRamCache c = { 0 };

    const uint8_t *p = as_ram_read_ptr(as, &c, 0x10010, 8);
    ck_assert_ptr_eq(p, (uint8_t *)mr_ram_ptr(ram) + 0x10);
    ck_assert_uint_eq(p[0], tu_pattern_byte(0x10, 3));
    /* Within the cached run: no lookup needed, same answer. */
    ck_assert_ptr_eq(as_ram_read_ptr(as, &c, 0x13ff8, 8), (uint8_t *)mr_ram_ptr(ram) + 0x3ff8);
    /* Crossing into the next region: not one run. */
    ck_assert_ptr_null(as_ram_read_ptr(as, &c, 0x13ffc, 8));
    ck_assert_ptr_eq(as_ram_read_ptr(as, &c, 0x14000, 4), mr_ram_ptr(ram2));
    /* MMIO and holes: NULL (callers use as_read_val). */
    ck_assert_ptr_null(as_ram_read_ptr(as, &c, 0x20000, 4));
    ck_assert_ptr_null(as_ram_read_ptr(as, &c, 0x30000, 4));
    ck_assert_ptr_null(as_ram_read_ptr(as, &c, UINT64_MAX - 3, 8));
    /* A new dispatch: the cached run is not trusted any more. */
    ck_assert_ptr_eq(as_ram_read_ptr(as, &c, 0x10000, 4), mr_ram_ptr(ram));
    mr_set_address(ram, 0x40000);
    ck_assert_ptr_null(as_ram_read_ptr(as, &c, 0x10000, 4));
    ck_assert_ptr_eq(as_ram_read_ptr(as, &c, 0x40004, 4), (uint8_t *)mr_ram_ptr(ram) + 4);
    as_free(as);
    mr_unref(mmio);
    tu_dev_free(dev);
    mr_unref(ram2);
    mr_unref(ram);
    mr_unref(root);
}
END_TEST

static Suite *access_suite(void)
{
    Suite *s = suite_create("access");
    TCase *tc = tu_tcase(s, "permissions");
    tcase_add_test(tc, test_rom_write_dropped);
    tcase_add_test(tc, test_ram_readonly);
    tcase_add_test(tc, test_readonly_alias_window);
    tcase_add_test(tc, test_readonly_mmio_still_writes);
    tcase_add_test(tc, test_romd);

    tc = tu_tcase(s, "constraints");
    tcase_add_test(tc, test_narrow_read_widened_le);
    tcase_add_test(tc, test_narrow_read_widened_be);
    tcase_add_test(tc, test_narrow_write_rmw_le);
    tcase_add_test(tc, test_narrow_write_rmw_be);
    tcase_add_test(tc, test_wide_access_split_le);
    tcase_add_test(tc, test_wide_access_split_be);
    tcase_add_test(tc, test_unaligned_emulated);
    tcase_add_test(tc, test_outside_valid_size);
    tcase_add_test(tc, test_unaligned_refused);
    tcase_add_test(tc, test_null_callbacks);
    tcase_add_test(tc, test_device_error_propagates);
    tcase_add_test(tc, test_attrs_reach_device);

    tc = tu_tcase(s, "straddle");
    tcase_add_test(tc, test_straddle_ram_mmio_value);
    tcase_add_test(tc, test_straddle_buffer_ram_mmio_ram);
    tcase_add_test(tc, test_straddle_first_error_wins);

    tc = tu_tcase(s, "unassigned");
    tcase_add_test(tc, test_unassigned_read_fill);
    tcase_add_test(tc, test_unassigned_write);
    tcase_add_test(tc, test_absurd_accesses_do_not_crash);

    tc = tu_tcase(s, "endianness");
    tcase_add_test(tc, test_big_endian_device);
    tcase_add_test(tc, test_target_endian_device);
    tcase_add_test(tc, test_ram_value_byte_order);
    tcase_add_test(tc, test_mmio_8byte);

    tc = tu_tcase(s, "buffers");
    tcase_add_test(tc, test_byte_buffers);
    tcase_add_test(tc, test_section_access);
    tcase_add_test(tc, test_ram_read_ptr);
    return s;
}

int main(void)
{
    return tu_run(access_suite());
}
