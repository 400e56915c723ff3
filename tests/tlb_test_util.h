/*
 * Shared helpers for the TLB unit tests (test_tlb.c, test_tlb_percpu.c,
 * test_tlb_tracking.c).
 *
 * - TtCpu: the "target" the TLB calls back into. Its page walk is a table of
 *   mappings the test controls (vaddr range -> paddr, protection, page
 *   size), optionally falling back to an identity map; every walk and every
 *   fault the TLB raises is recorded, as is every bus-error policy query.
 * - TtDev: a recording MMIO device. Reads return `tag + offset` truncated to
 *   the access size (so a value names the device and the offset); every
 *   callback is logged with its offset, size and value.
 * - Region/address-space builders that assert success.
 *
 * Everything is `static inline` so each test file can use any subset
 * without unused-function warnings. Nothing here asserts TLB behaviour by
 * itself.
 */
#ifndef MMUSIM_TESTS_TLB_TEST_UTIL_H
#define MMUSIM_TESTS_TLB_TEST_UTIL_H

#include <check.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "tlb/tlb.h"

#define TT_PAGE 0x1000ull
#define TT_CODE_UNMAPPED 0x7e570001ull /* target_code of a walk on an unmapped vaddr */
#define TT_CODE_PERM 0x7e570002ull     /* target_code of a walk denied by protection */
#define TT_PROT_RWX (TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC)

/* ------------------------------------------------------------------ */
/* Reports (mem_report): captured so tests stay quiet and can count them. */

static GPtrArray *tt_reports;

static inline void tt_report_capture(const char *message, void *opaque)
{
    (void)opaque;
    if (tt_reports) {
        g_ptr_array_add(tt_reports, g_strdup(message ? message : ""));
    }
}

static inline void tt_setup(void)
{
    tt_reports = g_ptr_array_new_with_free_func(g_free);
    mem_set_report_handler(tt_report_capture, NULL);
}

static inline void tt_teardown(void)
{
    mem_set_report_handler(NULL, NULL);
    g_ptr_array_unref(tt_reports);
    tt_reports = NULL;
}

static inline guint tt_num_reports(void)
{
    return tt_reports ? tt_reports->len : 0;
}

static inline TCase *tt_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, tt_setup, tt_teardown);
    suite_add_tcase(s, tc);
    return tc;
}

static inline int tt_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

#define TT_NO_ERROR(err)                                                                   \
    ck_assert_msg((err) == NULL, "unexpected GError: %s", (err) ? (err)->message : "")

/* ------------------------------------------------------------------ */
/* The test target. */

typedef struct TtMap {
    uint64_t va, pa, size; /* [va, va+size) -> [pa, pa+size) */
    uint64_t page_size;    /* what the walk reports (4 KiB, 2 MiB, ...) */
    unsigned prot;
    bool fault;            /* the walk refuses this range */
    bool global;           /* reported as TlbTranslation.global */
} TtMap;

typedef struct TtWalk {
    uint64_t vaddr;
    TlbAccess access;
    unsigned mmu_idx;
} TtWalk;

typedef struct TtCpu {
    unsigned index;           /* attributes: mem_attrs_cpu(index) */
    bool identity;            /* unmatched vaddrs below identity_limit map 1:1 */
    uint64_t identity_limit;
    unsigned identity_prot;
    GArray *maps;             /* TtMap, first match wins */
    GArray *walks;            /* TtWalk */
    GArray *faults;           /* TlbFault, as raised */
    GArray *bus_queries;      /* TlbFault, as passed to bus_error_faults */
    bool bus_faults;          /* answer of bus_error_faults (tt_ops_bus only) */
} TtCpu;

static inline TtCpu *tt_cpu_new(unsigned index, bool identity)
{
    TtCpu *c = g_new0(TtCpu, 1);
    c->index = index;
    c->identity = identity;
    c->identity_limit = 1ull << 32;
    c->identity_prot = TT_PROT_RWX;
    c->maps = g_array_new(FALSE, TRUE, sizeof(TtMap));
    c->walks = g_array_new(FALSE, TRUE, sizeof(TtWalk));
    c->faults = g_array_new(FALSE, TRUE, sizeof(TlbFault));
    c->bus_queries = g_array_new(FALSE, TRUE, sizeof(TlbFault));
    return c;
}

static inline void tt_cpu_free(TtCpu *c)
{
    if (!c) {
        return;
    }
    g_array_unref(c->maps);
    g_array_unref(c->walks);
    g_array_unref(c->faults);
    g_array_unref(c->bus_queries);
    g_free(c);
}

/* Map [va, va+size) to pa with pages of page_size (prepended: wins over older maps). */
static inline void tt_map(TtCpu *c, uint64_t va, uint64_t pa, uint64_t size, uint64_t page_size,
                          unsigned prot)
{
    TtMap m = { .va = va, .pa = pa, .size = size, .page_size = page_size, .prot = prot };
    g_array_prepend_val(c->maps, m);
}

/* The same, reported as a global translation. */
static inline void tt_map_global(TtCpu *c, uint64_t va, uint64_t pa, uint64_t size,
                                 uint64_t page_size, unsigned prot)
{
    TtMap m = { .va = va, .pa = pa, .size = size, .page_size = page_size, .prot = prot,
                .global = true };
    g_array_prepend_val(c->maps, m);
}

/* Make [va, va+size) refuse translation. */
static inline void tt_unmap(TtCpu *c, uint64_t va, uint64_t size)
{
    TtMap m = { .va = va, .size = size, .fault = true };
    g_array_prepend_val(c->maps, m);
}

static inline void tt_clear_log(TtCpu *c)
{
    g_array_set_size(c->walks, 0);
    g_array_set_size(c->faults, 0);
    g_array_set_size(c->bus_queries, 0);
}

static inline guint tt_nfaults(const TtCpu *c)
{
    return c->faults->len;
}

static inline const TlbFault *tt_fault(const TtCpu *c, guint i)
{
    return &g_array_index(c->faults, TlbFault, i);
}

static inline guint tt_nwalks(const TtCpu *c)
{
    return c->walks->len;
}

static inline const TtWalk *tt_walk_at(const TtCpu *c, guint i)
{
    return &g_array_index(c->walks, TtWalk, i);
}

static inline unsigned tt_need_prot(TlbAccess a)
{
    return a == TLB_READ ? TLB_PROT_READ : a == TLB_WRITE ? TLB_PROT_WRITE : TLB_PROT_EXEC;
}

static inline bool tt_page_walk(void *cpu, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                                TlbTranslation *out, TlbFault *fault)
{
    TtCpu *c = cpu;
    TtWalk w = { vaddr, access, mmu_idx };
    g_array_append_val(c->walks, w);
    for (guint i = 0; i < c->maps->len; i++) {
        const TtMap *m = &g_array_index(c->maps, TtMap, i);
        if (vaddr < m->va || vaddr - m->va >= m->size) {
            continue;
        }
        if (m->fault) {
            fault->target_code = TT_CODE_UNMAPPED;
            return false;
        }
        if (!(m->prot & tt_need_prot(access))) {
            fault->target_code = TT_CODE_PERM;
            return false;
        }
        out->paddr = m->pa + (vaddr - m->va);
        out->prot = m->prot;
        out->page_size = m->page_size;
        out->global = m->global;
        out->attrs = mem_attrs_cpu(c->index);
        return true;
    }
    if (c->identity && vaddr < c->identity_limit) {
        if (!(c->identity_prot & tt_need_prot(access))) {
            fault->target_code = TT_CODE_PERM;
            return false;
        }
        out->paddr = vaddr;
        out->prot = c->identity_prot;
        out->page_size = TT_PAGE;
        out->attrs = mem_attrs_cpu(c->index);
        return true;
    }
    fault->target_code = TT_CODE_UNMAPPED;
    return false;
}

static inline void tt_raise_fault(void *cpu, const TlbFault *fault)
{
    TtCpu *c = cpu;
    g_array_append_val(c->faults, *fault);
}

static inline bool tt_bus_error_faults(void *cpu, const TlbFault *fault)
{
    TtCpu *c = cpu;
    g_array_append_val(c->bus_queries, *fault);
    return c->bus_faults;
}

/* Default bus-error policy. */
static const TlbTargetOps tt_ops = {
    .page_walk = tt_page_walk,
    .raise_fault = tt_raise_fault,
};

/* Bus errors fault iff cpu->bus_faults. */
static const TlbTargetOps tt_ops_bus = {
    .page_walk = tt_page_walk,
    .raise_fault = tt_raise_fault,
    .bus_error_faults = tt_bus_error_faults,
};

/* Assert fault #i has the given kind, vaddr, access and mmu_idx. */
#define TT_EXPECT_FAULT(cpu, i, k, va, acc, idx)                                           \
    do {                                                                                   \
        ck_assert_msg((guint)(i) < tt_nfaults(cpu), "only %u fault(s) raised, wanted #%u", \
                      tt_nfaults(cpu), (guint)(i));                                        \
        const TlbFault *f_ = tt_fault((cpu), (i));                                         \
        ck_assert_msg(f_->kind == (k) && f_->vaddr == (uint64_t)(va) &&                    \
                          f_->access == (acc) && f_->mmu_idx == (unsigned)(idx),           \
                      "fault #%u: kind %d vaddr 0x%" PRIx64 " access %d idx %u; expected " \
                      "kind %d vaddr 0x%" PRIx64 " access %d idx %u",                      \
                      (guint)(i), (int)f_->kind, f_->vaddr, (int)f_->access, f_->mmu_idx,  \
                      (int)(k), (uint64_t)(va), (int)(acc), (unsigned)(idx));              \
    } while (0)

/* ------------------------------------------------------------------ */
/* TLB creation. */

static inline TlbConfig tt_config(unsigned nb_mmu_idx, unsigned entries, unsigned victim,
                                  bool dynamic)
{
    TlbConfig cfg;
    tlb_config_default(&cfg);
    cfg.nb_mmu_idx = nb_mmu_idx;
    cfg.entries = entries;
    cfg.victim = victim;
    cfg.dynamic_resize = dynamic;
    return cfg;
}

static inline CpuTlb *tt_tlb(AddressSpace *as, const TlbConfig *cfg, const TlbTargetOps *ops,
                             TtCpu *cpu)
{
    GError *err = NULL;
    CpuTlb *t = tlb_new(as, cfg, ops, cpu, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(t);
    return t;
}

static inline TlbStats tt_stats(CpuTlb *t, unsigned idx)
{
    TlbStats s;
    tlb_get_stats(t, idx, &s);
    return s;
}

/* Is vaddr's page currently in the main table for `access` with a given tag? */
static inline uint64_t tt_tag(CpuTlb *t, unsigned idx, uint64_t vaddr, TlbAccess access)
{
    const TlbEntry *e = tlb_peek_entry(t, idx, vaddr);
    ck_assert_ptr_nonnull(e);
    return access == TLB_READ ? e->addr_read : access == TLB_WRITE ? e->addr_write : e->addr_code;
}

/* The main-table tag for vaddr's page, or false if the slot holds another page / nothing. */
static inline bool tt_cached(CpuTlb *t, unsigned idx, uint64_t vaddr, TlbAccess access)
{
    uint64_t tag = tt_tag(t, idx, vaddr, access);
    return tag != UINT64_MAX && (tag & tlb_fast(t)->page_mask) == (vaddr & tlb_fast(t)->page_mask);
}

/* Loads/stores that must succeed. */
static inline uint64_t tt_ld(CpuTlb *t, uint64_t va, unsigned size, unsigned idx, unsigned flags)
{
    uint64_t v = 0xbadbadbadbadbadull;
    ck_assert_msg(tlb_load(t, va, size, idx, flags, &v), "load of %u at 0x%" PRIx64 " failed",
                  size, va);
    return v;
}

static inline void tt_st(CpuTlb *t, uint64_t va, unsigned size, unsigned idx, unsigned flags,
                         uint64_t v)
{
    ck_assert_msg(tlb_store(t, va, size, idx, flags, v), "store of %u at 0x%" PRIx64 " failed",
                  size, va);
}

/* ------------------------------------------------------------------ */
/* A recording MMIO device. */

typedef struct TtAccess {
    bool write;
    uint64_t offset;
    uint64_t value;
    unsigned size;
    MemAttrs attrs;
} TtAccess;

typedef struct TtDev {
    MemRegionOps ops;
    uint64_t tag;            /* reads return tag + offset, truncated to the size */
    MemResult read_result;
    MemResult write_result;
    GArray *log;             /* TtAccess */
    GArray *shared_log;      /* optional: also append the device's tag here (order across devices) */
} TtDev;

static inline uint64_t tt_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : ((1ull << (size * 8)) - 1);
}

static inline MemResult tt_dev_read(void *opaque, uint64_t offset, uint64_t *value,
                                    unsigned size, MemAttrs attrs)
{
    TtDev *d = opaque;
    uint64_t v = (d->tag + offset) & tt_mask(size);
    TtAccess a = { false, offset, v, size, attrs };
    g_array_append_val(d->log, a);
    if (d->shared_log) {
        g_array_append_val(d->shared_log, d->tag);
    }
    *value = v;
    return d->read_result;
}

static inline MemResult tt_dev_write(void *opaque, uint64_t offset, uint64_t value,
                                     unsigned size, MemAttrs attrs)
{
    TtDev *d = opaque;
    TtAccess a = { true, offset, value, size, attrs };
    g_array_append_val(d->log, a);
    if (d->shared_log) {
        g_array_append_val(d->shared_log, d->tag);
    }
    return d->write_result;
}

/* Little-endian, accepts and implements 1..8 bytes, aligned. */
static inline TtDev *tt_dev_new(uint64_t tag)
{
    TtDev *d = g_new0(TtDev, 1);
    d->ops.read = tt_dev_read;
    d->ops.write = tt_dev_write;
    d->ops.endianness = MEM_LITTLE_ENDIAN;
    d->ops.valid = (MemAccessLimits){ 1, 8, false };
    d->ops.impl = (MemAccessLimits){ 1, 8, false };
    d->tag = tag;
    d->log = g_array_new(FALSE, TRUE, sizeof(TtAccess));
    return d;
}

/* Only once no region uses the device any more. */
static inline void tt_dev_free(TtDev *d)
{
    if (d) {
        g_array_unref(d->log);
        g_free(d);
    }
}

static inline guint tt_dev_n(const TtDev *d)
{
    return d->log->len;
}

static inline const TtAccess *tt_dev_at(const TtDev *d, guint i)
{
    return &g_array_index(d->log, TtAccess, i);
}

#define TT_EXPECT_DEV(dev, i, is_write, off, sz, val)                                           \
    do {                                                                                        \
        ck_assert_msg((guint)(i) < tt_dev_n(dev), "device log has %u entries, wanted #%u",     \
                      tt_dev_n(dev), (guint)(i));                                               \
        const TtAccess *a_ = tt_dev_at((dev), (i));                                             \
        ck_assert_msg(a_->write == (is_write) && a_->offset == (uint64_t)(off) &&               \
                          a_->size == (unsigned)(sz) && a_->value == (uint64_t)(val),           \
                      "device access #%u: %s off=0x%" PRIx64 " size=%u val=0x%" PRIx64          \
                      "; expected %s off=0x%" PRIx64 " size=%u val=0x%" PRIx64,                 \
                      (guint)(i), a_->write ? "W" : "R", a_->offset, a_->size, a_->value,       \
                      (is_write) ? "W" : "R", (uint64_t)(off), (unsigned)(sz), (uint64_t)(val)); \
    } while (0)

/* ------------------------------------------------------------------ */
/* Region builders (assert success). */

static inline MemRegion *tt_container(const char *name, uint64_t size)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_container(name, size, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    return mr;
}

/* RAM whose byte at offset i is tt_pat(i, seed). */
static inline uint8_t tt_pat(uint64_t offset, uint8_t seed)
{
    return (uint8_t)((offset * 13) ^ (offset >> 8) ^ seed);
}

static inline MemRegion *tt_ram(const char *name, uint64_t size, uint8_t seed)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_ram(name, size, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    uint8_t *p = mr_ram_ptr(mr);
    for (uint64_t i = 0; i < size; i++) {
        p[i] = tt_pat(i, seed);
    }
    return mr;
}

static inline MemRegion *tt_rom(const char *name, uint64_t size, uint8_t seed)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_rom(name, size, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    uint8_t *p = mr_ram_ptr(mr);
    for (uint64_t i = 0; i < size; i++) {
        p[i] = tt_pat(i, seed);
    }
    return mr;
}

static inline MemRegion *tt_mmio(const char *name, uint64_t size, TtDev *dev)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_mmio(name, size, &dev->ops, dev, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    return mr;
}

static inline MemRegion *tt_alias(const char *name, MemRegion *target, uint64_t off,
                                  uint64_t size)
{
    GError *err = NULL;
    MemRegion *mr = mr_new_alias(name, target, off, size, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(mr);
    return mr;
}

/* Add child at addr with priority; the container takes over the creator's
 * reference (the result is borrowed and lives while it is a child). */
static inline MemRegion *tt_put(MemRegion *parent, uint64_t addr, MemRegion *child, int prio)
{
    GError *err = NULL;
    ck_assert(mr_add_subregion_overlap(parent, addr, child, prio, &err));
    TT_NO_ERROR(err);
    mr_unref(child);
    return child;
}

static inline AddressSpace *tt_as(const char *name, MemRegion *root)
{
    GError *err = NULL;
    AddressSpace *as = as_new(name, root, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(as);
    return as;
}

/* Little-endian value of n bytes of host memory. */
static inline uint64_t tt_host_le(const void *p, unsigned n)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)b[i] << (8 * i);
    }
    return v;
}

#endif
