/*
 * Sizing of the software TLB (docs/tlb.md, "Sizing"): growth between
 * flushes on eviction pressure, its bounds, what survives it (entries,
 * their flags, other MMU indexes, the epoch), and how it combines with the
 * grow/shrink-at-flush rule.
 *
 * The machine (one address space over a full 64-bit container):
 *   0x00000000  64 MiB RAM "rram" (pattern seed 0x5a): 16,384 4 KiB pages
 *   0x10000000  8 KiB MMIO "rdev" (reads: 0xd0000000 + offset)
 * The target's page walk is identity (RWX, 4 KiB) below 4 GiB.
 */
#include "tlb_test_util.h"

#define RAM_SIZE 0x4000000ull
#define NPAGES ((unsigned)(RAM_SIZE / TT_PAGE)) /* 16384 */
#define DEV_BASE 0x10000000ull
#define DEV_TAG 0xd0000000ull
#define SEED 0x5a
#define MAX_PASSES 8

typedef struct R {
    MemRegion *root, *ram;
    TtDev *dev;
    AddressSpace *as;
    TtCpu *cpu;
    CpuTlb *t;
} R;

static void r_init(R *r, const TlbConfig *cfg)
{
    memset(r, 0, sizeof(*r));
    r->root = tt_container("root", MEM_SIZE_FULL);
    r->ram = tt_put(r->root, 0, tt_ram("rram", RAM_SIZE, SEED), 0);
    r->dev = tt_dev_new(DEV_TAG);
    tt_put(r->root, DEV_BASE, tt_mmio("rdev", 0x2000, r->dev), 0);
    r->as = tt_as("cpu0", r->root);
    r->cpu = tt_cpu_new(0, true);
    r->t = tt_tlb(r->as, cfg, &tt_ops, r->cpu);
}

static void r_free(R *r)
{
    tlb_free(r->t);
    as_free(r->as);
    mr_unref(r->root);
    tt_cpu_free(r->cpu);
    tt_dev_free(r->dev);
}

static uint64_t pat_le(uint64_t off, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)tt_pat(off + i, SEED) << (8 * i);
    }
    return v;
}

/* The address the stride loads in page p: a different offset per page. */
static uint64_t stride_va(unsigned p)
{
    return (uint64_t)p * TT_PAGE + (((uint64_t)p * 8) & 0xff8);
}

/* One pass of 4-byte loads over every page of RAM in mmu_idx, each checked
 * against the pattern. `crossing`: also an 8-byte load across the end of
 * every 61st page (both pages translated by the slow path, possibly with a
 * growth between them). */
static void stride_pass(CpuTlb *t, unsigned idx, bool crossing)
{
    for (unsigned p = 0; p < NPAGES; p++) {
        uint64_t va = stride_va(p);
        uint64_t v = tt_ld(t, va, 4, idx, 0);
        ck_assert_msg(v == pat_le(va, 4), "page %u: load 0x%" PRIx64 " want 0x%" PRIx64, p, v,
                      pat_le(va, 4));
        if (crossing && p % 61 == 60 && p + 1 < NPAGES) {
            uint64_t cva = (uint64_t)(p + 1) * TT_PAGE - 4;
            ck_assert_uint_eq(tt_ld(t, cva, 8, idx, 0), pat_le(cva, 8));
        }
    }
}

/* Passes until the table of idx holds `want` entries; returns how many. */
static unsigned grow_to(CpuTlb *t, unsigned idx, unsigned want)
{
    unsigned passes = 0;
    while (tlb_entries(t, idx) < want && passes < MAX_PASSES) {
        stride_pass(t, idx, true);
        passes++;
    }
    ck_assert_msg(tlb_entries(t, idx) >= want, "%u entries after %u passes, wanted %u",
                  tlb_entries(t, idx), passes, want);
    return passes;
}

/* ------------------------------------------------------------------ */

/* The 16,384-page loop without flushes: the table grows to the working set,
 * then a whole pass hits. No flush, no epoch change on the way. */
START_TEST(test_grow_to_working_set)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, true);
    r_init(&r, &cfg);
    uint64_t epoch = tlb_epoch(r.t);
    unsigned passes = grow_to(r.t, 0, NPAGES);
    ck_assert_uint_le(passes, 3);
    ck_assert_uint_eq(tlb_entries(r.t, 0), NPAGES); /* identity pages: no conflict left */
    TlbStats s = tt_stats(r.t, 0);
    ck_assert_uint_eq(s.grows, 6);                  /* 256 -> 16384, doubling */
    ck_assert_uint_eq(s.resizes, 6);
    ck_assert_uint_eq(s.flush_all + s.flush_mmuidx + s.flush_page + s.flush_range, 0);
    ck_assert_uint_eq(tlb_epoch(r.t), epoch);
    ck_assert_uint_eq(tt_nfaults(r.cpu), 0);

    tlb_reset_stats(r.t);
    stride_pass(r.t, 0, false);
    s = tt_stats(r.t, 0);
    ck_assert_uint_eq(s.misses, 0);
    ck_assert_uint_eq(s.fills, 0);
    ck_assert_uint_eq(s.hits, NPAGES);
    ck_assert_uint_eq(tlb_entries(r.t, 0), NPAGES); /* stable: nothing more to grow for */
    ck_assert_uint_eq(s.grows, 0);
    r_free(&r);
}
END_TEST

/* Code fetch fills grow the table the same way. */
START_TEST(test_grow_code_fetch)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, true);
    r_init(&r, &cfg);
    for (unsigned pass = 0; pass < MAX_PASSES && tlb_entries(r.t, 0) < NPAGES; pass++) {
        for (unsigned p = 0; p < NPAGES; p++) {
            uint8_t b[6];
            uint64_t va = stride_va(p);
            ck_assert(tlb_fetch_bytes(r.t, va, 0, b, sizeof(b)));
            ck_assert_uint_eq(tt_host_le(b, 6), pat_le(va, 6));
        }
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), NPAGES);
    tlb_reset_stats(r.t);
    for (unsigned p = 0; p < NPAGES; p++) {
        uint64_t pa, left;
        const uint8_t *host;
        ck_assert(tlb_translate_code(r.t, stride_va(p), 0, &pa, &host, &left));
        ck_assert_uint_eq(pa, stride_va(p));
        ck_assert_ptr_nonnull(host);
        ck_assert_uint_eq(tt_host_le(host, 4), pat_le(stride_va(p), 4));
    }
    ck_assert_uint_eq(tt_stats(r.t, 0).misses, 0);
    r_free(&r);
}
END_TEST

/* Growth stops at max_entries; the accesses keep missing, and working. */
START_TEST(test_grow_stops_at_max)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, true);
    cfg.max_entries = 1024;
    r_init(&r, &cfg);
    for (int i = 0; i < 4; i++) {
        stride_pass(r.t, 0, true);
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), 1024);
    ck_assert_uint_eq(tt_stats(r.t, 0).grows, 2);
    tlb_reset_stats(r.t);
    stride_pass(r.t, 0, false);
    TlbStats s = tt_stats(r.t, 0);
    ck_assert_uint_eq(s.misses, NPAGES);
    ck_assert_uint_eq(s.fills, NPAGES);
    ck_assert_uint_eq(s.grows + s.resizes, 0);
    ck_assert_uint_eq(tlb_entries(r.t, 0), 1024);
    ck_assert_uint_eq(tt_nfaults(r.cpu), 0);
    r_free(&r);
}
END_TEST

/* No growth at all with dynamic resizing off. */
START_TEST(test_no_growth_when_off)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, false);
    r_init(&r, &cfg);
    for (int i = 0; i < 3; i++) {
        stride_pass(r.t, 0, true);
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), 256);
    tlb_reset_stats(r.t);
    stride_pass(r.t, 0, false);
    TlbStats s = tt_stats(r.t, 0);
    ck_assert_uint_eq(s.misses, NPAGES);
    ck_assert_uint_eq(s.grows + s.resizes, 0);
    ck_assert_uint_eq(tlb_entries(r.t, 0), 256);
    r_free(&r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Entries with slow-path semantics keep them across growth. */

typedef struct HookLog {
    unsigned calls;
    uint64_t paddr;
    CpuTlb *flush;          /* flush this TLB from the hook */
} HookLog;

static void hook(void *opaque, uint64_t paddr, unsigned len)
{
    HookLog *h = opaque;
    (void)len;
    h->calls++;
    h->paddr = paddr;
    if (h->flush) {
        tlb_flush(h->flush);
    }
}

static bool watch_count(void *opaque, uint64_t vaddr, unsigned size, TlbAccess access,
                        uint64_t wp_addr, uint64_t wp_len)
{
    (void)vaddr, (void)size, (void)access, (void)wp_addr, (void)wp_len;
    (*(unsigned *)opaque)++;
    return true;
}

#define P_CODE 0x101000ull   /* page 0x101: slot 1 at 256 entries, 0x101 from 512 */
#define P_WATCH 0x202000ull  /* page 0x202: slot 2 at 256 entries, 0x202 from 1024 */
#define P_DEV DEV_BASE       /* page 0x10000: slot 0 */

static bool walked(const TtCpu *c, uint64_t page)
{
    for (guint i = 0; i < tt_nwalks(c); i++) {
        if ((tt_walk_at(c, i)->vaddr & ~(TT_PAGE - 1)) == page) {
            return true;
        }
    }
    return false;
}

START_TEST(test_flags_survive_growth)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, true);
    r_init(&r, &cfg);
    HookLog h = { 0 };
    tlb_set_code_write_hook(r.t, hook, &h);
    tlb_protect_code(r.as, P_CODE);
    unsigned wcalls = 0;
    ck_assert_int_gt(tlb_watchpoint_insert(r.t, P_WATCH + 0x40, 4, TLB_WP_READ, watch_count,
                                           &wcalls), 0);
    /* Fill the three entries; each has a flag that sends some access to the slow path. */
    ck_assert_uint_eq(tt_ld(r.t, P_CODE, 4, 0, 0), pat_le(P_CODE, 4));
    ck_assert_uint_eq(tt_ld(r.t, P_WATCH, 4, 0, 0), pat_le(P_WATCH, 4));
    ck_assert_uint_eq(wcalls, 0); /* not the watched bytes */
    ck_assert_uint_eq(tt_ld(r.t, P_DEV + 8, 4, 0, 0), DEV_TAG + 8);
    ck_assert(tt_tag(r.t, 0, P_CODE, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    ck_assert(tt_tag(r.t, 0, P_WATCH, TLB_READ) & TLB_FLAG_WATCH);
    ck_assert(tt_tag(r.t, 0, P_DEV, TLB_READ) & TLB_FLAG_IO);
    guint dev_log = tt_dev_n(r.dev);

    /* Grow with a stride that never shares a slot with them (other residues
     * mod 256, hence mod every larger size). */
    tt_clear_log(r.cpu);
    for (unsigned pass = 0; pass < 3; pass++) {
        for (unsigned p = 0; p < NPAGES; p++) {
            unsigned res = p & 255;
            if (res == ((P_CODE >> 12) & 255) || res == ((P_WATCH >> 12) & 255) ||
                res == ((P_DEV >> 12) & 255)) {
                continue;
            }
            ck_assert_uint_eq(tt_ld(r.t, stride_va(p), 4, 0, 0), pat_le(stride_va(p), 4));
        }
    }
    ck_assert_uint_ge(tlb_entries(r.t, 0), 8192);
    ck_assert_uint_ge(tt_stats(r.t, 0).grows, 5);
    /* Moved to their new slots with their flags, never walked again. */
    ck_assert(tt_cached(r.t, 0, P_CODE, TLB_WRITE));
    ck_assert(tt_cached(r.t, 0, P_WATCH, TLB_READ));
    ck_assert(tt_cached(r.t, 0, P_DEV, TLB_READ));
    ck_assert(tt_tag(r.t, 0, P_CODE, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    ck_assert(tt_tag(r.t, 0, P_WATCH, TLB_READ) & TLB_FLAG_WATCH);
    ck_assert(tt_tag(r.t, 0, P_DEV, TLB_READ) & TLB_FLAG_IO);
    ck_assert_uint_eq(tlb_peek_full(r.t, 0, P_CODE)->paddr, P_CODE);
    ck_assert_uint_eq(tlb_peek_full(r.t, 0, P_DEV)->paddr, P_DEV);
    ck_assert_uint_eq(tt_dev_n(r.dev), dev_log); /* the stride never reached the device */

    /* And their semantics. The store to the code page calls the hook once. */
    tt_st(r.t, P_CODE + 0x10, 4, 0, 0, 0xc0dec0de);
    ck_assert_uint_eq(h.calls, 1);
    ck_assert_uint_eq(h.paddr, P_CODE + 0x10);
    ck_assert_uint_eq(tt_host_le((uint8_t *)mr_ram_ptr(r.ram) + P_CODE + 0x10, 4), 0xc0dec0de);
    tt_st(r.t, P_CODE + 0x14, 4, 0, 0, 1);
    ck_assert_uint_eq(h.calls, 1);
    ck_assert(!(tt_tag(r.t, 0, P_CODE, TLB_WRITE) & TLB_FLAG_NOTDIRTY));
    /* The watched bytes call the watchpoint; the device is called. */
    ck_assert_uint_eq(tt_ld(r.t, P_WATCH + 0x40, 4, 0, 0), pat_le(P_WATCH + 0x40, 4));
    ck_assert_uint_eq(wcalls, 1);
    ck_assert_uint_eq(tt_ld(r.t, P_DEV + 0x10, 4, 0, 0), DEV_TAG + 0x10);
    tt_st(r.t, P_DEV + 0x20, 4, 0, 0, 0x1234);
    ck_assert_uint_eq(tt_dev_n(r.dev), dev_log + 2);
    TT_EXPECT_DEV(r.dev, dev_log, false, 0x10, 4, DEV_TAG + 0x10);
    TT_EXPECT_DEV(r.dev, dev_log + 1, true, 0x20, 4, 0x1234);
    ck_assert(!walked(r.cpu, P_CODE) && !walked(r.cpu, P_WATCH) && !walked(r.cpu, P_DEV));
    ck_assert_uint_eq(tt_nfaults(r.cpu), 0);
    r_free(&r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* With the flush-time rules */

static void idle_flush(CpuTlb *t)
{
    tt_ld(t, 0x1000, 4, 0, 0);
    tt_ld(t, 0x2000, 4, 0, 0);
    tlb_flush(t);
}

/* After growth, flushes with a tiny working set shrink the table again:
 * halved after every 4 idle flushes, down to min_entries. */
START_TEST(test_shrink_after_growth)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, true);
    r_init(&r, &cfg);
    grow_to(r.t, 0, NPAGES);
    /* The first flush ends an interval that filled the whole table: the
     * flush-time rule doubles it (> 70% used), up to the maximum. */
    idle_flush(r.t);
    ck_assert_uint_eq(tlb_entries(r.t, 0), 32768);
    for (unsigned k = 1; k <= 40; k++) {
        idle_flush(r.t);
        unsigned want = 32768u >> (k / 4);
        ck_assert_msg(tlb_entries(r.t, 0) == (want < 64 ? 64 : want),
                      "after %u idle flushes: %u entries", k, tlb_entries(r.t, 0));
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), 64);
    /* The small table works. */
    ck_assert_uint_eq(tt_ld(r.t, 0x3008, 4, 0, 0), pat_le(0x3008, 4));
    r_free(&r);
}
END_TEST

/* A flush right after a growth on eviction pressure never counts towards
 * a shrink, even when the table had 3 idle flushes before and the interval
 * used few slots (conflicts in a few slots). */
START_TEST(test_no_shrink_right_after_growth)
{
    R r;
    TlbConfig cfg = tt_config(1, 256, 8, true);
    r_init(&r, &cfg);
    for (int i = 0; i < 3; i++) {
        idle_flush(r.t);
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), 256);
    /* 32 pages 256 pages apart (slot 0 at 256 entries), 20 rounds: 640
     * fills, more than 2 x 256 evictions: one growth to 512. */
    for (int round = 0; round < 20; round++) {
        for (unsigned k = 0; k < 32; k++) {
            uint64_t va = (uint64_t)k * 256 * TT_PAGE + 8 * k;
            ck_assert_uint_eq(tt_ld(r.t, va, 4, 0, 0), pat_le(va, 4));
        }
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), 512);
    ck_assert_uint_eq(tt_stats(r.t, 0).grows, 1);
    tlb_flush(r.t);        /* early, little use: but the interval grew */
    ck_assert_uint_eq(tlb_entries(r.t, 0), 512);
    for (int i = 0; i < 3; i++) {
        idle_flush(r.t);
        ck_assert_uint_eq(tlb_entries(r.t, 0), 512);
    }
    idle_flush(r.t);       /* the fourth idle flush in a row */
    ck_assert_uint_eq(tlb_entries(r.t, 0), 256);
    ck_assert_uint_eq(tt_stats(r.t, 0).resizes, 2);
    r_free(&r);
}
END_TEST

/* Growing one MMU index leaves another's size and entries alone. */
START_TEST(test_grow_one_index_only)
{
    R r;
    TlbConfig cfg = tt_config(2, 256, 8, true);
    r_init(&r, &cfg);
    for (unsigned p = 0; p < 100; p++) {
        ck_assert_uint_eq(tt_ld(r.t, stride_va(p + 500), 4, 1, 0), pat_le(stride_va(p + 500), 4));
    }
    grow_to(r.t, 0, NPAGES);
    ck_assert_uint_eq(tlb_entries(r.t, 0), NPAGES);
    ck_assert_uint_eq(tlb_entries(r.t, 1), 256);
    TlbStats s1 = tt_stats(r.t, 1);
    ck_assert_uint_eq(s1.grows + s1.resizes, 0);
    tlb_reset_stats(r.t);
    for (unsigned p = 0; p < 100; p++) {
        ck_assert(tt_cached(r.t, 1, stride_va(p + 500), TLB_READ));
        ck_assert_uint_eq(tt_ld(r.t, stride_va(p + 500), 4, 1, 0), pat_le(stride_va(p + 500), 4));
    }
    s1 = tt_stats(r.t, 1);
    ck_assert_uint_eq(s1.hits, 100);
    ck_assert_uint_eq(s1.misses, 0);
    r_free(&r);
}
END_TEST

/* A code-write hook that flushes, on a flush that shrinks the table: the
 * store's slow path must not touch the freed table afterwards (under
 * AddressSanitizer this is a use-after-free check). */
START_TEST(test_hook_flush_shrinks)
{
    R r;
    TlbConfig cfg = tt_config(1, 512, 8, true);
    r_init(&r, &cfg);
    HookLog h = { .flush = r.t };
    tlb_set_code_write_hook(r.t, hook, &h);
    tlb_protect_code(r.as, P_CODE);
    ck_assert(tlb_set_geometry(r.t, 512, 8, true, NULL)); /* idle count back to 0 */
    for (int i = 0; i < 3; i++) {
        idle_flush(r.t);
    }
    ck_assert_uint_eq(tlb_entries(r.t, 0), 512);
    tt_st(r.t, P_CODE + 8, 4, 0, 0, 0xfeedf00d); /* hook -> 4th idle flush -> 256 */
    ck_assert_uint_eq(h.calls, 1);
    ck_assert_uint_eq(tlb_entries(r.t, 0), 256);
    ck_assert_uint_eq(tt_host_le((uint8_t *)mr_ram_ptr(r.ram) + P_CODE + 8, 4), 0xfeedf00d);
    ck_assert_uint_eq(tt_ld(r.t, P_CODE + 8, 4, 0, 0), 0xfeedf00d);
    r_free(&r);
}
END_TEST

/* The defaults: 256 entries, bounds 64..32768; 32768 is accepted. */
START_TEST(test_defaults_and_bounds)
{
    TlbConfig def;
    tlb_config_default(&def);
    ck_assert_uint_eq(def.entries, 256);
    ck_assert_uint_eq(def.min_entries, 64);
    ck_assert_uint_eq(def.max_entries, 32768);
    ck_assert(def.dynamic_resize);
    R r;
    TlbConfig cfg = tt_config(1, 32768, 8, true);
    r_init(&r, &cfg);
    ck_assert_uint_eq(tlb_entries(r.t, 0), 32768);
    GError *err = NULL;
    ck_assert(tlb_set_geometry(r.t, 32768, 8, true, &err));
    TT_NO_ERROR(err);
    ck_assert(tlb_set_geometry(r.t, 256, 8, true, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(tlb_entries(r.t, 0), 256);
    /* The dump has a column for growths. */
    GString *g = g_string_new(NULL);
    tlb_dump(r.t, g, false);
    ck_assert_ptr_nonnull(strstr(g->str, "grow"));
    g_string_free(g, TRUE);
    r_free(&r);
}
END_TEST

static Suite *resize_suite(void)
{
    Suite *s = suite_create("tlb_resize");
    TCase *tc = tt_tcase(s, "grow");
    tcase_add_test(tc, test_grow_to_working_set);
    tcase_add_test(tc, test_grow_code_fetch);
    tcase_add_test(tc, test_grow_stops_at_max);
    tcase_add_test(tc, test_no_growth_when_off);
    tcase_add_test(tc, test_flags_survive_growth);
    tcase_add_test(tc, test_grow_one_index_only);
    tc = tt_tcase(s, "flush_rules");
    tcase_add_test(tc, test_shrink_after_growth);
    tcase_add_test(tc, test_no_shrink_right_after_growth);
    tcase_add_test(tc, test_hook_flush_shrinks);
    tcase_add_test(tc, test_defaults_and_bounds);
    return s;
}

int main(void)
{
    return tt_run(resize_suite());
}
