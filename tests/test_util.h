/*
 * Shared helpers for the memory-core unit tests.
 *
 * Everything here is `static inline` so each test file can use any subset
 * without unused-function warnings. Nothing here tests anything by itself:
 * the helpers build regions, record device callbacks and compare flat views
 * against expectations written out in the tests.
 */
#ifndef MMUSIM_TESTS_TEST_UTIL_H
#define MMUSIM_TESTS_TEST_UTIL_H

#include <check.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"

/* ------------------------------------------------------------------ */
/* Reports (mem_report): captured instead of logged, so tests can count them. */

static GPtrArray *tu_reports;

static inline void tu_report_capture(const char *message, void *opaque)
{
    (void)opaque;
    if (tu_reports) {
        g_ptr_array_add(tu_reports, g_strdup(message ? message : ""));
    }
}

static inline guint tu_num_reports(void)
{
    return tu_reports ? tu_reports->len : 0;
}

static inline const char *tu_report(guint i)
{
    return g_ptr_array_index(tu_reports, i);
}

static inline void tu_clear_reports(void)
{
    if (tu_reports) {
        g_ptr_array_set_size(tu_reports, 0);
    }
}

/* Checked fixture used by every TCase: capture reports for the test. */
static inline void tu_setup(void)
{
    tu_reports = g_ptr_array_new_with_free_func(g_free);
    mem_set_report_handler(tu_report_capture, NULL);
}

static inline void tu_teardown(void)
{
    /* The handler stays installed but becomes a no-op. */
    g_ptr_array_unref(tu_reports);
    tu_reports = NULL;
}

/* ------------------------------------------------------------------ */
/* GError checks. */

#define TU_ASSERT_NO_ERROR(err)                                                   \
    ck_assert_msg((err) == NULL, "unexpected GError: %s", (err) ? (err)->message : "")

/* Asserts `err` is a MEM_ERROR with the given code, then clears it. */
#define TU_ASSERT_MEM_ERROR(err, expected_code)                                    \
    do {                                                                           \
        ck_assert_msg((err) != NULL, "expected a GError with code %d, got none",   \
                      (int)(expected_code));                                       \
        ck_assert_msg((err)->domain == MEM_ERROR,                                  \
                      "GError domain is %s, expected MEM_ERROR",                   \
                      g_quark_to_string((err)->domain));                           \
        ck_assert_msg((err)->code == (int)(expected_code),                         \
                      "GError code is %d (%s), expected %d", (err)->code,          \
                      (err)->message, (int)(expected_code));                       \
        g_clear_error(&(err));                                                     \
    } while (0)

/* ------------------------------------------------------------------ */
/* Region builders. They assert success; the returned region holds the
 * creator's reference unless stated otherwise. */

static inline MemRegion *tu_container(const char *name, uint64_t size)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_container(name, size, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    return mr;
}

/* RAM whose every byte is `fill`. */
static inline MemRegion *tu_ram(const char *name, uint64_t size, uint8_t fill)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_ram(name, size, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    ck_assert_ptr_nonnull(mr_ram_ptr(mr));
    memset(mr_ram_ptr(mr), fill, size);
    return mr;
}

/* RAM whose byte at offset i is (i * 7 + seed) & 0xff: any offset error shows. */
static inline uint8_t tu_pattern_byte(uint64_t offset, uint8_t seed)
{
    return (uint8_t)(offset * 7 + seed);
}

static inline MemRegion *tu_ram_pattern(const char *name, uint64_t size, uint8_t seed)
{
    MemRegion *mr = tu_ram(name, size, 0);
    uint8_t *p = mr_ram_ptr(mr);
    for (uint64_t i = 0; i < size; i++) {
        p[i] = tu_pattern_byte(i, seed);
    }
    return mr;
}

static inline MemRegion *tu_alias(const char *name, MemRegion *target, uint64_t offset,
                                  uint64_t size)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_alias(name, target, offset, size, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    return mr;
}

/* Add `child` with an explicit priority and hand the creator's reference
 * to the container: the result is borrowed and lives while it is a child. */
static inline MemRegion *tu_put(MemRegion *parent, uint64_t addr, MemRegion *child, int prio)
{
    GError *err = NULL;
    bool ok = mr_add_subregion_overlap(parent, addr, child, prio, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert(ok);
    mr_unref(child);
    return child;
}

/* Same, but keep the creator's reference (for regions that get removed). */
static inline void tu_add_keep(MemRegion *parent, uint64_t addr, MemRegion *child, int prio)
{
    GError *err = NULL;
    bool ok = mr_add_subregion_overlap(parent, addr, child, prio, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert(ok);
}

static inline void tu_del(MemRegion *parent, MemRegion *child)
{
    GError *err = NULL;
    bool ok = mr_del_subregion(parent, child, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert(ok);
}

static inline AddressSpace *tu_as(const char *name, MemRegion *root)
{
    GError *err = NULL;
    AddressSpace *as = as_new(name, root, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(as);
    return as;
}

/* ------------------------------------------------------------------ */
/* A recording test device.
 *
 * Backed by TU_DEV_MEM bytes: a read of `size` bytes at `offset` returns
 * the bytes mem[offset..offset+size) packed as the device's byte order says
 * (region.h: for a little-endian device the least significant byte of the
 * value is the lowest address, for a big-endian one the most significant);
 * a write stores them the same way. In `fixed` mode reads return
 * fixed_value (truncated to the size) instead. Every call is logged. */

#define TU_DEV_MEM 0x1000u

typedef struct TuAccess {
    bool write;
    uint64_t offset;
    uint64_t value;
    unsigned size;
    MemAttrs attrs;
} TuAccess;

typedef struct TuDev {
    MemRegionOps ops;
    uint8_t mem[TU_DEV_MEM];
    bool big;               /* byte order used to pack mem into values */
    bool fixed;
    uint64_t fixed_value;
    MemResult read_result;  /* returned by the callbacks (after logging) */
    MemResult write_result;
    GArray *log;            /* of TuAccess */
} TuDev;

static inline uint64_t tu_size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : ((1ull << (size * 8)) - 1);
}

static inline uint64_t tu_bytes_to_val(const uint8_t *p, unsigned size, bool big)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned shift = big ? (size - 1 - i) * 8 : i * 8;
        v |= (uint64_t)p[i] << shift;
    }
    return v;
}

static inline void tu_val_to_bytes(uint64_t v, uint8_t *p, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++) {
        unsigned shift = big ? (size - 1 - i) * 8 : i * 8;
        p[i] = (uint8_t)(v >> shift);
    }
}

static inline MemResult tu_dev_read(void *opaque, uint64_t offset, uint64_t *value,
                                    unsigned size, MemAttrs attrs)
{
    TuDev *d = opaque;
    uint64_t v;
    if (d->fixed) {
        v = d->fixed_value & tu_size_mask(size);
    } else {
        uint8_t b[8] = { 0 };
        for (unsigned i = 0; i < size && i < 8; i++) {
            b[i] = d->mem[(offset + i) % TU_DEV_MEM];
        }
        v = tu_bytes_to_val(b, size > 8 ? 8 : size, d->big);
    }
    TuAccess a = { .write = false, .offset = offset, .value = v, .size = size, .attrs = attrs };
    g_array_append_val(d->log, a);
    *value = v;
    return d->read_result;
}

static inline MemResult tu_dev_write(void *opaque, uint64_t offset, uint64_t value,
                                     unsigned size, MemAttrs attrs)
{
    TuDev *d = opaque;
    TuAccess a = { .write = true, .offset = offset, .value = value, .size = size,
                   .attrs = attrs };
    g_array_append_val(d->log, a);
    if (d->write_result == MEM_OK) {
        uint8_t b[8];
        unsigned n = size > 8 ? 8 : size;
        tu_val_to_bytes(value, b, n, d->big);
        for (unsigned i = 0; i < n; i++) {
            d->mem[(offset + i) % TU_DEV_MEM] = b[i];
        }
    }
    return d->write_result;
}

static inline MemAccessLimits tu_limits(unsigned min, unsigned max, bool unaligned)
{
    return (MemAccessLimits){ .min_access_size = min, .max_access_size = max,
                              .unaligned = unaligned };
}

/* A device with explicit valid/impl limits; big-endian packing iff endian is BIG. */
static inline TuDev *tu_dev_new(MemEndian endian, MemAccessLimits valid, MemAccessLimits impl)
{
    TuDev *d = g_new0(TuDev, 1);
    d->ops.read = tu_dev_read;
    d->ops.write = tu_dev_write;
    d->ops.endianness = endian;
    d->ops.valid = valid;
    d->ops.impl = impl;
    d->big = endian == MEM_BIG_ENDIAN;
    d->read_result = MEM_OK;
    d->write_result = MEM_OK;
    d->log = g_array_new(FALSE, TRUE, sizeof(TuAccess));
    return d;
}

/* Little-endian, accepts and implements 1..8 bytes, aligned only. */
static inline TuDev *tu_dev_simple(void)
{
    return tu_dev_new(MEM_LITTLE_ENDIAN, tu_limits(1, 8, false), tu_limits(1, 8, false));
}

/* A device whose reads always return `value` (e.g. a tag naming it). */
static inline TuDev *tu_dev_fixed(uint64_t value)
{
    TuDev *d = tu_dev_simple();
    d->fixed = true;
    d->fixed_value = value;
    return d;
}

/* Must be called only once no region uses the device any more. */
static inline void tu_dev_free(TuDev *d)
{
    if (d) {
        g_array_unref(d->log);
        g_free(d);
    }
}

static inline guint tu_dev_nlog(const TuDev *d)
{
    return d->log->len;
}

static inline const TuAccess *tu_dev_log(const TuDev *d, guint i)
{
    return &g_array_index(d->log, TuAccess, i);
}

static inline void tu_dev_clear_log(TuDev *d)
{
    g_array_set_size(d->log, 0);
}

/* Assert log entry i is exactly (write?, offset, size, value). */
#define TU_EXPECT_ACCESS(dev, i, is_write, off, sz, val)                                    \
    do {                                                                                    \
        ck_assert_msg((guint)(i) < tu_dev_nlog(dev), "device log has %u entries, wanted #%u", \
                      tu_dev_nlog(dev), (guint)(i));                                        \
        const TuAccess *a_ = tu_dev_log((dev), (i));                                        \
        ck_assert_msg(a_->write == (is_write) && a_->offset == (uint64_t)(off) &&           \
                          a_->size == (unsigned)(sz) && a_->value == (uint64_t)(val),       \
                      "access #%u: got %s off=0x%" PRIx64 " size=%u val=0x%" PRIx64         \
                      ", expected %s off=0x%" PRIx64 " size=%u val=0x%" PRIx64,            \
                      (guint)(i), a_->write ? "W" : "R", a_->offset, a_->size, a_->value,   \
                      (is_write) ? "W" : "R", (uint64_t)(off), (unsigned)(sz),              \
                      (uint64_t)(val));                                                     \
    } while (0)

static inline MemRegion *tu_mmio(const char *name, uint64_t size, TuDev *dev)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_mmio(name, size, &dev->ops, dev, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    return mr;
}

/* ------------------------------------------------------------------ */
/* Accesses. */

/* Little-endian value read that must succeed. */
static inline uint64_t tu_rd(AddressSpace *as, uint64_t addr, unsigned size)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    MemResult r = as_read_val(as, addr, mem_attrs_cpu(0), size, MEM_LITTLE_ENDIAN, &v);
    ck_assert_msg(r == MEM_OK, "read of %u bytes at 0x%" PRIx64 " gave %s", size, addr,
                  mem_result_name(r));
    return v;
}

static inline void tu_wr(AddressSpace *as, uint64_t addr, unsigned size, uint64_t value)
{
    MemResult r = as_write_val(as, addr, mem_attrs_cpu(0), size, MEM_LITTLE_ENDIAN, value);
    ck_assert_msg(r == MEM_OK, "write of %u bytes at 0x%" PRIx64 " gave %s", size, addr,
                  mem_result_name(r));
}

/* The leaf region the dispatch sends `addr` to (NULL: unassigned). */
static inline MemRegion *tu_dispatch_mr(AddressSpace *as, uint64_t addr)
{
    Dispatch *d = as_dispatch(as);
    ck_assert_ptr_nonnull(d);
    uint32_t idx = dispatch_lookup(d, addr, NULL);
    const MemSection *s = dispatch_section(d, idx);
    ck_assert_msg(s != NULL, "dispatch_lookup(0x%" PRIx64 ") gave invalid index %u", addr, idx);
    return s->mr;
}

/* ------------------------------------------------------------------ */
/* Flat views. */

typedef struct TuRange {
    uint64_t start;
    uint64_t last;
    MemRegion *mr;
    uint64_t offset;
    bool readonly;
} TuRange;

static inline GString *tu_dump_fv(const FlatView *fv)
{
    GString *s = g_string_new("");
    guint n = flatview_num_ranges(fv);
    for (guint i = 0; i < n && i < 32; i++) {
        const FlatRange *r = flatview_range(fv, i);
        g_string_append_printf(s, "\n  [%016" PRIx64 "-%016" PRIx64 "] %s +0x%" PRIx64 "%s",
                               r->start, r->last, r->mr ? mr_name(r->mr) : "(null)",
                               r->offset_in_region, r->readonly ? " ro" : "");
    }
    if (n > 32) {
        g_string_append_printf(s, "\n  ... %u ranges", n);
    }
    return s;
}

static inline void tu_expect_ranges_at(const char *file, int line, const FlatView *fv,
                                       const TuRange *exp, guint n)
{
    ck_assert_ptr_nonnull(fv);
    guint got = flatview_num_ranges(fv);
    bool ok = got == n;
    for (guint i = 0; ok && i < n; i++) {
        const FlatRange *r = flatview_range(fv, i);
        ok = r->start == exp[i].start && r->last == exp[i].last && r->mr == exp[i].mr &&
             r->offset_in_region == exp[i].offset && r->readonly == exp[i].readonly;
    }
    if (!ok) {
        GString *g = tu_dump_fv(fv);
        GString *e = g_string_new("");
        for (guint i = 0; i < n; i++) {
            g_string_append_printf(e, "\n  [%016" PRIx64 "-%016" PRIx64 "] %s +0x%" PRIx64 "%s",
                                   exp[i].start, exp[i].last,
                                   exp[i].mr ? mr_name(exp[i].mr) : "(null)", exp[i].offset,
                                   exp[i].readonly ? " ro" : "");
        }
        ck_assert_msg(ok, "%s:%d: flat view mismatch\n got %u ranges:%s\n expected %u:%s", file,
                      line, got, g->str, n, e->str);
        /* not reached */
    }
}

#define TU_EXPECT_RANGES(fv, arr) \
    tu_expect_ranges_at(__FILE__, __LINE__, (fv), (arr), G_N_ELEMENTS(arr))
#define TU_EXPECT_NO_RANGES(fv) tu_expect_ranges_at(__FILE__, __LINE__, (fv), NULL, 0)

/* The address space's (incrementally maintained) view equals rendering its
 * root from scratch, and the dispatch agrees with it at the start and end
 * of every range (§5: the lookup structure serves the flat view). */
static inline void tu_check_consistent_at(const char *file, int line, AddressSpace *as)
{
    FlatView *cur = as_flatview(as);
    FlatView *ref = flatview_render(as_root(as));
    ck_assert_ptr_nonnull(cur);
    ck_assert_ptr_nonnull(ref);
    if (!flatview_equal(cur, ref)) {
        GString *a = tu_dump_fv(cur), *b = tu_dump_fv(ref);
        ck_assert_msg(0, "%s:%d: as_flatview(%s) differs from a fresh render\n as:%s\n fresh:%s",
                      file, line, as_name(as), a->str, b->str);
    }
    Dispatch *d = as_dispatch(as);
    for (guint i = 0; i < flatview_num_ranges(cur); i++) {
        const FlatRange *r = flatview_range(cur, i);
        uint64_t probes[2] = { r->start, r->last };
        for (int k = 0; k < 2; k++) {
            uint64_t last = 0;
            const MemSection *s = dispatch_section(d, dispatch_lookup(d, probes[k], &last));
            ck_assert_msg(s && s->mr == r->mr && s->start <= probes[k] && probes[k] <= s->last &&
                              s->offset_in_region + (probes[k] - s->start) ==
                                  r->offset_in_region + (probes[k] - r->start) &&
                              last >= probes[k] && last <= r->last,
                          "%s:%d: dispatch disagrees with the flat view at 0x%" PRIx64, file,
                          line, probes[k]);
        }
    }
    flatview_unref(ref);
}

#define TU_CHECK_CONSISTENT(as) tu_check_consistent_at(__FILE__, __LINE__, (as))

/* ------------------------------------------------------------------ */
/* Suite boilerplate. */

static inline TCase *tu_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, tu_setup, tu_teardown);
    suite_add_tcase(s, tc);
    return tc;
}

static inline int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

#endif
