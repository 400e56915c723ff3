/*
 * TLB tracking (tlb/tlb.h): dirty logging, code-write protection across
 * CPUs, watchpoints, and the exact statistics of a scripted sequence.
 *
 * The machine: a full 64-bit global map with 1 MiB of RAM "ram" at 0
 * (pattern seed 0x33), an 8 KiB MMIO "dev" at 0x30000000 (reads
 * 0xd0000000 + offset) and a 256-byte MMIO "sub" at 0x7800 on top of the
 * RAM (priority 1), so page 0x7000 is shared by RAM and a device. Two CPU
 * views, each with its own TLB (identity walk) and a code-write hook that
 * records every call.
 */
#include "tlb_test_util.h"

#define NCPU 2
#define RAM_SIZE 0x100000ull
#define DEV_BASE 0x30000000ull
#define DEV_TAG 0xd0000000ull
#define SUB_BASE 0x7800ull
#define SUB_TAG 0x5b000000ull

typedef struct CodeHit {
    unsigned cpu;
    uint64_t paddr;
    unsigned len;
    uint64_t mem_at_call; /* RAM at [paddr, paddr+len) when the hook ran */
} CodeHit;

typedef struct X X;

typedef struct HookCtx {
    X *x;
    unsigned cpu;
    bool flush_in_hook; /* the target flushes its TLB while dropping code */
} HookCtx;

struct X {
    MemRegion *global, *ram;
    TtDev *dev, *sub;
    CpuView *cv[NCPU];
    TtCpu *cpu[NCPU];
    CpuTlb *t[NCPU];
    HookCtx hook[NCPU];
    GArray *code_hits; /* CodeHit */
};

static uint8_t *ram(X *x, uint64_t off)
{
    return (uint8_t *)mr_ram_ptr(x->ram) + off;
}

static void code_hook(void *opaque, uint64_t paddr, unsigned len)
{
    HookCtx *h = opaque;
    CodeHit c = { h->cpu, paddr, len, 0 };
    if (paddr + len <= RAM_SIZE && len <= 8) {
        c.mem_at_call = tt_host_le(ram(h->x, paddr), len);
    }
    g_array_append_val(h->x->code_hits, c);
    if (h->flush_in_hook) {
        tlb_flush(h->x->t[h->cpu]);
    }
}

static void x_new(X *x, unsigned entries, unsigned victim)
{
    memset(x, 0, sizeof(*x));
    x->global = tt_container("global", MEM_SIZE_FULL);
    x->ram = tt_put(x->global, 0, tt_ram("ram", RAM_SIZE, 0x33), 0);
    x->dev = tt_dev_new(DEV_TAG);
    tt_put(x->global, DEV_BASE, tt_mmio("dev", 0x2000, x->dev), 0);
    x->sub = tt_dev_new(SUB_TAG);
    tt_put(x->global, SUB_BASE, tt_mmio("sub", 0x100, x->sub), 1);
    x->code_hits = g_array_new(FALSE, TRUE, sizeof(CodeHit));
    for (unsigned i = 0; i < NCPU; i++) {
        CpuViewConfig cfg = { .cpu_index = i, .global_map = x->global };
        GError *err = NULL;
        x->cv[i] = cpu_view_new(&cfg, &err);
        TT_NO_ERROR(err);
        ck_assert_ptr_nonnull(x->cv[i]);
        x->cpu[i] = tt_cpu_new(i, true);
        TlbConfig tc = tt_config(1, entries, victim, false);
        x->t[i] = tt_tlb(cpu_view_as(x->cv[i]), &tc, &tt_ops, x->cpu[i]);
        x->hook[i] = (HookCtx){ x, i, false };
        tlb_set_code_write_hook(x->t[i], code_hook, &x->hook[i]);
    }
}

static void x_free(X *x)
{
    for (unsigned i = 0; i < NCPU; i++) {
        tlb_free(x->t[i]);
        cpu_view_free(x->cv[i]);
        tt_cpu_free(x->cpu[i]);
    }
    mr_unref(x->global);
    tt_dev_free(x->dev);
    tt_dev_free(x->sub);
    g_array_unref(x->code_hits);
}

static AddressSpace *xas(X *x, unsigned i)
{
    return cpu_view_as(x->cv[i]);
}

static guint ncode(X *x)
{
    return x->code_hits->len;
}

static const CodeHit *code_at(X *x, guint i)
{
    return &g_array_index(x->code_hits, CodeHit, i);
}

#define EXPECT_CODE_HIT(x, i, c, pa, l)                                                     \
    do {                                                                                    \
        ck_assert_msg((guint)(i) < ncode(x), "%u code-write hook call(s), wanted #%u",     \
                      ncode(x), (guint)(i));                                                \
        const CodeHit *h_ = code_at((x), (i));                                              \
        ck_assert_msg(h_->cpu == (c) && h_->paddr == (uint64_t)(pa) && h_->len == (l),     \
                      "code hit #%u: cpu %u paddr 0x%" PRIx64 " len %u; expected cpu %u "  \
                      "paddr 0x%" PRIx64 " len %u", (guint)(i), h_->cpu, h_->paddr,        \
                      h_->len, (unsigned)(c), (uint64_t)(pa), (unsigned)(l));               \
    } while (0)

static uint64_t pat_le(uint64_t off, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)tt_pat(off + i, 0x33) << (8 * i);
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* Dirty tracking */

START_TEST(test_dirty_tracking)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    GError *err = NULL;
    ck_assert(mr_set_dirty_log(x.ram, MEM_CLIENT_DISPLAY, true, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(tt_ld(t, 0x3000, 4, 0, 0), pat_le(0x3000, 4));
    ck_assert(!mr_get_dirty(x.ram, 0, RAM_SIZE, MEM_CLIENT_DISPLAY));
    /* Clean page: the write tag sends the first store to the slow path. */
    ck_assert_uint_eq(tt_tag(t, 0, 0x3000, TLB_WRITE), 0x3000 | TLB_FLAG_NOTDIRTY);
    ck_assert_uint_eq(tt_tag(t, 0, 0x3000, TLB_READ), 0x3000);

    tt_st(t, 0x3010, 4, 0, 0, 0xd1d1d1d1);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x3010), 4), 0xd1d1d1d1);
    ck_assert(mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert(!mr_get_dirty(x.ram, 0x2000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert(!mr_get_dirty(x.ram, 0x4000, 0x1000, MEM_CLIENT_DISPLAY));
    /* Now dirty: the flag is gone and the next stores take the fast path. */
    ck_assert_uint_eq(tt_tag(t, 0, 0x3000, TLB_WRITE), 0x3000);
    uint64_t hits = tt_stats(t, 0).hits;
    tt_st(t, 0x3020, 8, 0, 0, 0x0123456789abcdefull);
    tt_st(t, 0x3ff0, 2, 0, 0, 0xbeef);
    ck_assert_uint_eq(tt_stats(t, 0).hits, hits + 2);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x3020), 8), 0x0123456789abcdefull);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x3ff0), 2), 0xbeef);

    /* The display client consumes the page: the next store marks it again. */
    tt_st(t, 0x5000, 4, 0, 0, 1); /* another dirty page with a clean tag */
    ck_assert_uint_eq(tt_tag(t, 0, 0x5000, TLB_WRITE), 0x5000);
    mr_reset_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY);
    tlb_reset_dirty(x.ram, 0x3000, 0x1000);
    ck_assert(!mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert(tt_tag(t, 0, 0x3000, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    ck_assert_uint_eq(tt_tag(t, 0, 0x5000, TLB_WRITE), 0x5000);
    tt_st(t, 0x3400, 1, 0, 0, 0x99);
    ck_assert_uint_eq(*ram(&x, 0x3400), 0x99);
    ck_assert(mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert_uint_eq(tt_tag(t, 0, 0x3000, TLB_WRITE), 0x3000);

    /* A page-crossing store dirties both pages. */
    mr_reset_dirty(x.ram, 0, RAM_SIZE, MEM_CLIENT_DISPLAY);
    tlb_reset_dirty(x.ram, 0, RAM_SIZE);
    tt_st(t, 0x8ffc, 8, 0, 0, 0x1122334455667788ull);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x8ffc), 8), 0x1122334455667788ull);
    ck_assert(mr_get_dirty(x.ram, 0x8000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert(mr_get_dirty(x.ram, 0x9000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert(!mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert_uint_eq(ncode(&x), 0);
    x_free(&x);
}
END_TEST

/* Stores through a second virtual mapping of the same page, and through
 * another CPU, are tracked too. */
START_TEST(test_dirty_tracking_aliases_and_cpus)
{
    X x;
    x_new(&x, 256, 8);
    ck_assert(mr_set_dirty_log(x.ram, MEM_CLIENT_MIGRATION, true, NULL));
    tt_map(x.cpu[0], 0x400000, 0x6000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tt_st(x.t[0], 0x6000, 4, 0, 0, 1);
    tt_st(x.t[0], 0x400004, 4, 0, 0, 2);
    tt_st(x.t[1], 0x6008, 4, 0, 0, 3);
    ck_assert(mr_get_dirty(x.ram, 0x6000, 0x1000, MEM_CLIENT_MIGRATION));
    ck_assert_uint_eq(tt_tag(x.t[0], 0, 0x6000, TLB_WRITE), 0x6000);
    ck_assert_uint_eq(tt_tag(x.t[0], 0, 0x400000, TLB_WRITE), 0x400000);
    ck_assert_uint_eq(tt_tag(x.t[1], 0, 0x6000, TLB_WRITE), 0x6000);
    mr_reset_dirty(x.ram, 0x6000, 0x1000, MEM_CLIENT_MIGRATION);
    tlb_reset_dirty(x.ram, 0x6000, 0x1000);
    /* Every cached write mapping of the page, in every TLB, is re-armed. */
    ck_assert(tt_tag(x.t[0], 0, 0x6000, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    ck_assert(tt_tag(x.t[0], 0, 0x400000, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    ck_assert(tt_tag(x.t[1], 0, 0x6000, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    tt_st(x.t[0], 0x400010, 4, 0, 0, 0xa11a5);
    ck_assert(mr_get_dirty(x.ram, 0x6000, 0x1000, MEM_CLIENT_MIGRATION));
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x6010), 4), 0xa11a5);
    mr_reset_dirty(x.ram, 0x6000, 0x1000, MEM_CLIENT_MIGRATION);
    tlb_reset_dirty(x.ram, 0x6000, 0x1000);
    tt_st(x.t[1], 0x6010, 4, 0, 0, 0xb0b);
    ck_assert(mr_get_dirty(x.ram, 0x6000, 0x1000, MEM_CLIENT_MIGRATION));
    x_free(&x);
}
END_TEST

/* Logging switched on while a page is cached with a clean write tag. */
START_TEST(test_dirty_log_enabled_after_fill)
{
    X x;
    x_new(&x, 256, 8);
    tt_st(x.t[0], 0x3000, 4, 0, 0, 1);
    tt_st(x.t[1], 0x3000, 4, 0, 0, 1);
    ck_assert_uint_eq(tt_tag(x.t[0], 0, 0x3000, TLB_WRITE), 0x3000);
    ck_assert(mr_set_dirty_log(x.ram, MEM_CLIENT_DISPLAY, true, NULL));
    ck_assert(!mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    tt_st(x.t[0], 0x3004, 4, 0, 0, 2);
    ck_assert(mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    mr_reset_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY);
    tlb_reset_dirty(x.ram, 0x3000, 0x1000);
    tt_st(x.t[1], 0x3008, 4, 0, 0, 3);
    ck_assert(mr_get_dirty(x.ram, 0x3000, 0x1000, MEM_CLIENT_DISPLAY));
    /* Switched off again: stores need no bookkeeping (fast path once refilled). */
    ck_assert(mr_set_dirty_log(x.ram, MEM_CLIENT_DISPLAY, false, NULL));
    tt_st(x.t[0], 0x300c, 4, 0, 0, 4);
    ck_assert_uint_eq(tt_tag(x.t[0], 0, 0x3000, TLB_WRITE), 0x3000);
    x_free(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Code tracking */

START_TEST(test_code_tracking)
{
    X x;
    x_new(&x, 256, 8);
    /* Both CPUs have the code page and a data page cached for writing. */
    for (unsigned i = 0; i < NCPU; i++) {
        tt_st(x.t[i], 0x5f00, 4, 0, 0, 0x5f5f5f5f);
        tt_st(x.t[i], 0x6f00, 4, 0, 0, 0x6f6f6f6f);
    }
    uint64_t pa;
    const uint8_t *host;
    uint64_t left;
    ck_assert(tlb_translate_code(x.t[0], 0x5000, 0, &pa, &host, &left));
    ck_assert_uint_eq(pa, 0x5000);
    tlb_protect_code(xas(&x, 0), pa);
    ck_assert_uint_eq(ncode(&x), 0);

    /* The first store to the page, here from CPU 1, calls its hook once,
     * before the store lands. */
    uint64_t old = tt_host_le(ram(&x, 0x5010), 4);
    tt_st(x.t[1], 0x5010, 4, 0, 0, 0xc0dec0de);
    ck_assert_uint_eq(ncode(&x), 1);
    EXPECT_CODE_HIT(&x, 0, 1, 0x5010, 4);
    ck_assert_uint_eq(code_at(&x, 0)->mem_at_call, old);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x5010), 4), 0xc0dec0de);
    /* Later stores to the page, from any CPU, do not. */
    tt_st(x.t[0], 0x5020, 8, 0, 0, 0x1111111111111111ull);
    tt_st(x.t[1], 0x5010, 4, 0, 0, 0xdeadc0de);
    tt_st(x.t[0], 0x5ffc, 4, 0, 0, 0x22222222);
    ck_assert_uint_eq(ncode(&x), 1);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x5020), 8), 0x1111111111111111ull);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x5010), 4), 0xdeadc0de);
    /* Stores to other pages never call it. */
    for (unsigned i = 0; i < NCPU; i++) {
        tt_st(x.t[i], 0x6f00, 4, 0, 0, i);
        tt_st(x.t[i], 0x4ff8, 8, 0, 0, i);
        tt_st(x.t[i], 0x70000, 4, 0, 0, i);
    }
    ck_assert_uint_eq(ncode(&x), 1);

    /* Protecting again re-arms it (both TLBs now hold clean write entries). */
    ck_assert_uint_eq(tt_tag(x.t[0], 0, 0x5000, TLB_WRITE), 0x5000);
    ck_assert_uint_eq(tt_tag(x.t[1], 0, 0x5000, TLB_WRITE), 0x5000);
    tlb_protect_code(xas(&x, 1), 0x5abc);
    old = tt_host_le(ram(&x, 0x5ff8), 8);
    tt_st(x.t[0], 0x5ff8, 8, 0, 0, 0x0102030405060708ull);
    ck_assert_uint_eq(ncode(&x), 2);
    EXPECT_CODE_HIT(&x, 1, 0, 0x5ff8, 8);
    ck_assert_uint_eq(code_at(&x, 1)->mem_at_call, old);
    tt_st(x.t[1], 0x5ff8, 8, 0, 0, 0);
    tt_st(x.t[0], 0x5000, 1, 0, 0, 0);
    ck_assert_uint_eq(ncode(&x), 2);

    /* Through a virtual mapping: the hook gets the physical address. */
    tt_map(x.cpu[1], 0x800000, 0x5000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tt_st(x.t[1], 0x800000, 4, 0, 0, 0); /* cached clean */
    tlb_protect_code(xas(&x, 0), 0x5000);
    tt_st(x.t[1], 0x800040, 2, 0, 0, 0x4242);
    ck_assert_uint_eq(ncode(&x), 3);
    EXPECT_CODE_HIT(&x, 2, 1, 0x5040, 2);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x5040), 2), 0x4242);

    /* A page-crossing store whose second half is code: one call for that half. */
    tlb_protect_code(xas(&x, 0), 0x5000);
    tt_st(x.t[0], 0x4ffe, 4, 0, 0, 0xaabbccdd);
    ck_assert_uint_eq(ncode(&x), 4);
    EXPECT_CODE_HIT(&x, 3, 0, 0x5000, 2);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x4ffe), 4), 0xaabbccdd);

    /* Two code pages protected at once; each is reported once. */
    tlb_protect_code(xas(&x, 0), 0x5000);
    tlb_protect_code(xas(&x, 0), 0x6000);
    tt_st(x.t[0], 0x6100, 4, 0, 0, 1);
    tt_st(x.t[1], 0x5100, 4, 0, 0, 1);
    tt_st(x.t[1], 0x6104, 4, 0, 0, 1);
    ck_assert_uint_eq(ncode(&x), 6);
    EXPECT_CODE_HIT(&x, 4, 0, 0x6100, 4);
    EXPECT_CODE_HIT(&x, 5, 1, 0x5100, 4);

    /* Loads never call it. */
    tlb_protect_code(xas(&x, 0), 0x5000);
    tt_ld(x.t[0], 0x5100, 4, 0, 0);
    tt_ld(x.t[1], 0x5100, 8, 0, 0);
    ck_assert_uint_eq(ncode(&x), 6);
    x_free(&x);
}
END_TEST

/* Protection reaches a write entry waiting in a victim table. */
START_TEST(test_code_tracking_victim)
{
    X x;
    x_new(&x, 256, 8);
    tlb_protect_code(xas(&x, 0), 0x30000); /* code logging on: flushes everything once */
    ck_assert(tlb_set_geometry(x.t[0], 4, 8, false, NULL));
    tt_st(x.t[0], 0x10000, 4, 0, 0, 1);
    tt_st(x.t[0], 0x14000, 4, 0, 0, 1); /* 0x10000 -> victim, clean write tag */
    ck_assert(!tt_cached(x.t[0], 0, 0x10000, TLB_WRITE));
    tlb_protect_code(xas(&x, 0), 0x10000);
    tt_st(x.t[0], 0x10008, 4, 0, 0, 0xc0de);
    ck_assert_uint_eq(ncode(&x), 1);
    EXPECT_CODE_HIT(&x, 0, 0, 0x10008, 4);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x10008), 4), 0xc0de);
    x_free(&x);
}
END_TEST

/* 64 KiB TLB pages over 4 KiB dirty pages: only stores to the protected
 * 4 KiB page call the hook, even though the TLB page is larger. */
START_TEST(test_code_tracking_big_pages)
{
    X x;
    x_new(&x, 256, 8);
    TlbConfig cfg = tt_config(1, 64, 4, false);
    cfg.page_bits = 16;
    TtCpu *c = tt_cpu_new(0, true);
    CpuTlb *t = tt_tlb(xas(&x, 0), &cfg, &tt_ops, c);
    HookCtx h = { &x, 7, false };
    tlb_set_code_write_hook(t, code_hook, &h);
    tt_st(t, 0x20000, 4, 0, 0, 1);
    tlb_protect_code(xas(&x, 0), 0x25000);
    ck_assert(tt_tag(t, 0, 0x20000, TLB_WRITE) & TLB_FLAG_NOTDIRTY);
    tt_st(t, 0x21000, 4, 0, 0, 2);
    tt_st(t, 0x2fff8, 8, 0, 0, 3);
    ck_assert_uint_eq(ncode(&x), 0);
    tt_st(t, 0x25010, 4, 0, 0, 0x25252525);
    ck_assert_uint_eq(ncode(&x), 1);
    EXPECT_CODE_HIT(&x, 0, 7, 0x25010, 4);
    tt_st(t, 0x25020, 4, 0, 0, 4);
    ck_assert_uint_eq(ncode(&x), 1);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x25010), 4), 0x25252525);
    ck_assert_uint_eq(tt_tag(t, 0, 0x20000, TLB_WRITE), 0x20000);
    tlb_free(t);
    tt_cpu_free(c);
    x_free(&x);
}
END_TEST

/* Code on a page it shares with a small device: stores to the RAM part must
 * still call the hook (the page's write entry is IO, multi-section). */
START_TEST(test_code_tracking_subpage)
{
    X x;
    x_new(&x, 256, 8);
    tlb_protect_code(xas(&x, 0), 0x7100);
    tt_st(x.t[0], 0x7100, 4, 0, 0, 0x600d600d);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x7100), 4), 0x600d600d);
    ck_assert_msg(ncode(&x) == 1, "store to protected code at 0x7100 (page shared with a "
                  "device) called the code-write hook %u times", ncode(&x));
    EXPECT_CODE_HIT(&x, 0, 0, 0x7100, 4);
    x_free(&x);
}
END_TEST

/* The hook may flush its TLB while dropping code: the store still lands
 * where it should. */
START_TEST(test_code_hook_may_flush)
{
    X x;
    x_new(&x, 256, 8);
    tt_st(x.t[0], 0x5000, 4, 0, 0, 0);
    x.hook[0].flush_in_hook = true;
    tlb_protect_code(xas(&x, 0), 0x5000);
    tt_st(x.t[0], 0x5010, 4, 0, 0, 0x7e57f1u);
    ck_assert_uint_eq(ncode(&x), 1);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x5010), 4), 0x7e57f1u);
    ck_assert_uint_eq(tt_ld(x.t[0], 0x5010, 4, 0, 0), 0x7e57f1u);
    x_free(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Watchpoints */

typedef struct WpCall {
    uint64_t vaddr;
    unsigned size;
    TlbAccess access;
    uint64_t wp_addr, wp_len;
    uint64_t mem_at_call; /* RAM at vaddr (identity map) when called */
} WpCall;

typedef struct WpCtx {
    X *x;
    GArray *calls;      /* WpCall */
    bool allow;         /* the callback's answer */
    int remove_id;      /* > 0: remove this watchpoint from inside the callback */
    CpuTlb *t;
} WpCtx;

static bool wp_fn(void *opaque, uint64_t vaddr, unsigned size, TlbAccess access,
                  uint64_t wp_addr, uint64_t wp_len)
{
    WpCtx *w = opaque;
    WpCall c = { vaddr, size, access, wp_addr, wp_len, 0 };
    if (vaddr + size <= RAM_SIZE && size <= 8) {
        c.mem_at_call = tt_host_le(ram(w->x, vaddr), size);
    }
    g_array_append_val(w->calls, c);
    if (w->remove_id > 0) {
        ck_assert(tlb_watchpoint_remove(w->t, w->remove_id));
        w->remove_id = 0;
    }
    return w->allow;
}

static void wp_init(WpCtx *w, X *x, CpuTlb *t)
{
    memset(w, 0, sizeof(*w));
    w->x = x;
    w->t = t;
    w->allow = true;
    w->calls = g_array_new(FALSE, TRUE, sizeof(WpCall));
}

static guint nwp(const WpCtx *w)
{
    return w->calls->len;
}

static const WpCall *wp_at(const WpCtx *w, guint i)
{
    return &g_array_index(w->calls, WpCall, i);
}

START_TEST(test_watchpoint_write)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    tt_ld(t, 0x9000, 4, 0, 0); /* cached before the watchpoint exists */
    int id = tlb_watchpoint_insert(t, 0x9010, 2, TLB_WP_WRITE, wp_fn, &w);
    ck_assert_int_gt(id, 0);

    /* Loads do not trigger a write watchpoint (and stay on the fast path). */
    ck_assert_uint_eq(tt_ld(t, 0x9010, 2, 0, 0), pat_le(0x9010, 2));
    ck_assert_uint_eq(tt_ld(t, 0x900e, 8, 0, 0), pat_le(0x900e, 8));
    ck_assert_uint_eq(nwp(&w), 0);
    ck_assert_uint_eq(tt_tag(t, 0, 0x9000, TLB_READ), 0x9000);
    ck_assert(tt_tag(t, 0, 0x9000, TLB_WRITE) & TLB_FLAG_WATCH);

    /* An overlapping store: called first, with memory still old. */
    uint64_t old = tt_host_le(ram(&x, 0x900e), 4);
    tt_st(t, 0x900e, 4, 0, 0, 0xfeedf00d);
    ck_assert_uint_eq(nwp(&w), 1);
    ck_assert_uint_eq(wp_at(&w, 0)->vaddr, 0x900e);
    ck_assert_uint_eq(wp_at(&w, 0)->size, 4);
    ck_assert_int_eq(wp_at(&w, 0)->access, TLB_WRITE);
    ck_assert_uint_eq(wp_at(&w, 0)->wp_addr, 0x9010);
    ck_assert_uint_eq(wp_at(&w, 0)->wp_len, 2);
    ck_assert_uint_eq(wp_at(&w, 0)->mem_at_call, old);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x900e), 4), 0xfeedf00d);
    tt_st(t, 0x9011, 1, 0, 0, 0x77);
    ck_assert_uint_eq(nwp(&w), 2);

    /* Same page, not overlapping: no call, the store lands. */
    tt_st(t, 0x900c, 2, 0, 0, 0x1234);
    tt_st(t, 0x9012, 4, 0, 0, 0x56789abc);
    tt_st(t, 0x9800, 8, 0, 0, 5);
    ck_assert_uint_eq(nwp(&w), 2);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x900c), 2), 0x1234);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x9012), 4), 0x56789abc);

    /* Refused: the store faults and writes nothing. */
    w.allow = false;
    uint8_t before[8];
    memcpy(before, ram(&x, 0x9010), 8);
    ck_assert(!tlb_store(t, 0x9010, 8, 0, 0, 0));
    ck_assert_uint_eq(nwp(&w), 3);
    ck_assert_uint_eq(tt_nfaults(x.cpu[0]), 1);
    TT_EXPECT_FAULT(x.cpu[0], 0, TLB_FAULT_WATCHPOINT, 0x9010, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_fault(x.cpu[0], 0)->size, 8);
    ck_assert_mem_eq(ram(&x, 0x9010), before, 8);

    /* Another CPU's stores are not watched by this CPU's watchpoint. */
    tt_st(x.t[1], 0x9010, 2, 0, 0, 0xabcd);
    ck_assert_uint_eq(nwp(&w), 3);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x9010), 2), 0xabcd);

    /* Removed: no more calls, and the page is plain again. */
    w.allow = true;
    ck_assert(tlb_watchpoint_remove(t, id));
    ck_assert(!tlb_watchpoint_remove(t, id));
    tt_st(t, 0x9010, 2, 0, 0, 0x1111);
    tt_st(t, 0x9010, 2, 0, 0, 0x2222);
    ck_assert_uint_eq(nwp(&w), 3);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x9010), 2), 0x2222);
    ck_assert_uint_eq(tt_tag(t, 0, 0x9000, TLB_WRITE), 0x9000);
    ck_assert_uint_eq(tt_nfaults(x.cpu[0]), 1);
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

START_TEST(test_watchpoint_read_and_access)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    int rid = tlb_watchpoint_insert(t, 0xa040, 4, TLB_WP_READ, wp_fn, &w);
    ck_assert_int_gt(rid, 0);
    ck_assert_uint_eq(tt_ld(t, 0xa042, 1, 0, 0), tt_pat(0xa042, 0x33));
    ck_assert_uint_eq(nwp(&w), 1);
    ck_assert_int_eq(wp_at(&w, 0)->access, TLB_READ);
    ck_assert_uint_eq(wp_at(&w, 0)->vaddr, 0xa042);
    ck_assert_uint_eq(wp_at(&w, 0)->size, 1);
    tt_st(t, 0xa040, 4, 0, 0, 0x0badcafe); /* a write: not watched */
    ck_assert_uint_eq(nwp(&w), 1);
    ck_assert_uint_eq(tt_ld(t, 0xa03c, 8, 0, 0), pat_le(0xa03c, 4) | (0x0badcafeull << 32));
    ck_assert_uint_eq(nwp(&w), 2);
    ck_assert_uint_eq(tt_ld(t, 0xa044, 4, 0, 0), pat_le(0xa044, 4));
    ck_assert_uint_eq(nwp(&w), 2);
    /* A refused load faults. */
    w.allow = false;
    uint64_t v;
    ck_assert(!tlb_load(t, 0xa040, 2, 0, 0, &v));
    ck_assert_uint_eq(tt_nfaults(x.cpu[0]), 1);
    TT_EXPECT_FAULT(x.cpu[0], 0, TLB_FAULT_WATCHPOINT, 0xa040, TLB_READ, 0);
    w.allow = true;
    ck_assert(tlb_watchpoint_remove(t, rid));

    /* TLB_WP_ACCESS: both directions. */
    int aid = tlb_watchpoint_insert(t, 0xb100, 8, TLB_WP_ACCESS, wp_fn, &w);
    ck_assert_int_gt(aid, 0);
    ck_assert_int_ne(aid, rid);
    tt_ld(t, 0xb104, 4, 0, 0);
    tt_st(t, 0xb100, 1, 0, 0, 1);
    ck_assert_uint_eq(nwp(&w), 5);
    ck_assert_int_eq(wp_at(&w, 3)->access, TLB_READ);
    ck_assert_int_eq(wp_at(&w, 4)->access, TLB_WRITE);
    ck_assert(tlb_watchpoint_remove(t, aid));

    /* Watchpoints on a device page: called before the device is. */
    int did = tlb_watchpoint_insert(t, DEV_BASE + 0x10, 4, TLB_WP_ACCESS, wp_fn, &w);
    w.allow = false;
    ck_assert(!tlb_load(t, DEV_BASE + 0x10, 4, 0, 0, &v));
    ck_assert(!tlb_store(t, DEV_BASE + 0x12, 2, 0, 0, 1));
    ck_assert_uint_eq(tt_dev_n(x.dev), 0);
    w.allow = true;
    ck_assert_uint_eq(tt_ld(t, DEV_BASE + 0x10, 4, 0, 0), DEV_TAG + 0x10);
    ck_assert_uint_eq(tt_dev_n(x.dev), 1);
    ck_assert_uint_eq(nwp(&w), 8);
    ck_assert(tlb_watchpoint_remove(t, did));

    /* Bad arguments. */
    ck_assert_int_lt(tlb_watchpoint_insert(t, 0x1000, 0, TLB_WP_READ, wp_fn, &w), 0);
    ck_assert_int_lt(tlb_watchpoint_insert(t, 0x1000, 4, 0, wp_fn, &w), 0);
    ck_assert_int_lt(tlb_watchpoint_insert(t, 0x1000, 4, TLB_WP_READ, NULL, &w), 0);
    ck_assert_int_lt(tlb_watchpoint_insert(t, UINT64_MAX - 1, 4, TLB_WP_READ, wp_fn, &w), 0);
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

/* Watchpoints of any length: spanning pages, covering whole pages. */
START_TEST(test_watchpoint_lengths)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    /* [0xbfff, 0xc001]: 3 bytes over two pages. */
    int id = tlb_watchpoint_insert(t, 0xbfff, 3, TLB_WP_ACCESS, wp_fn, &w);
    ck_assert_int_gt(id, 0);
    tt_ld(t, 0xbfff, 1, 0, 0);
    ck_assert_uint_eq(nwp(&w), 1);
    tt_ld(t, 0xc001, 1, 0, 0);
    ck_assert_uint_eq(nwp(&w), 2);
    tt_st(t, 0xc000, 2, 0, 0, 0);
    ck_assert_uint_eq(nwp(&w), 3);
    tt_ld(t, 0xbffe, 1, 0, 0);
    tt_ld(t, 0xc002, 4, 0, 0);
    tt_ld(t, 0xb000, 8, 0, 0);
    tt_st(t, 0xcff8, 8, 0, 0, 0);
    ck_assert_uint_eq(nwp(&w), 3);
    ck_assert(tlb_watchpoint_remove(t, id));

    /* [0xd400, 0xfc00): five pages' worth, three pages wholly inside. */
    id = tlb_watchpoint_insert(t, 0xd400, 0x2800, TLB_WP_WRITE, wp_fn, &w);
    tt_st(t, 0xe800, 4, 0, 0, 1);
    ck_assert_uint_eq(nwp(&w), 4);
    ck_assert_uint_eq(wp_at(&w, 3)->wp_addr, 0xd400);
    ck_assert_uint_eq(wp_at(&w, 3)->wp_len, 0x2800);
    tt_st(t, 0xfbfc, 4, 0, 0, 1);
    ck_assert_uint_eq(nwp(&w), 5);
    tt_st(t, 0xfc00, 4, 0, 0, 1);
    tt_st(t, 0xd3fc, 4, 0, 0, 1);
    ck_assert_uint_eq(nwp(&w), 5);
    ck_assert(tlb_watchpoint_remove(t, id));

    /* A watched page sitting in the victim table is caught too. */
    ck_assert(tlb_set_geometry(t, 4, 8, false, NULL));
    tt_st(t, 0x10000, 4, 0, 0, 1);
    tt_st(t, 0x14000, 4, 0, 0, 1); /* 0x10000 -> victim */
    id = tlb_watchpoint_insert(t, 0x10020, 4, TLB_WP_WRITE, wp_fn, &w);
    tt_st(t, 0x10020, 4, 0, 0, 2);
    ck_assert_uint_eq(nwp(&w), 6);
    ck_assert(tlb_watchpoint_remove(t, id));
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

/* A watched page that is also dirty-logged: both happen, in order. */
START_TEST(test_watchpoint_with_dirty_log)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    ck_assert(mr_set_dirty_log(x.ram, MEM_CLIENT_DISPLAY, true, NULL));
    int id = tlb_watchpoint_insert(t, 0xc800, 4, TLB_WP_WRITE, wp_fn, &w);
    tt_st(t, 0xc800, 4, 0, 0, 0x12121212);
    ck_assert_uint_eq(nwp(&w), 1);
    ck_assert(mr_get_dirty(x.ram, 0xc000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert_uint_eq(tt_host_le(ram(&x, 0xc800), 4), 0x12121212);
    /* Refused while the page is clean: nothing written, nothing dirtied. */
    mr_reset_dirty(x.ram, 0xc000, 0x1000, MEM_CLIENT_DISPLAY);
    tlb_reset_dirty(x.ram, 0xc000, 0x1000);
    w.allow = false;
    ck_assert(!tlb_store(t, 0xc800, 4, 0, 0, 0));
    ck_assert_uint_eq(tt_host_le(ram(&x, 0xc800), 4), 0x12121212);
    ck_assert(!mr_get_dirty(x.ram, 0xc000, 0x1000, MEM_CLIENT_DISPLAY));
    /* Elsewhere on the page: no callback, but the page gets dirty. */
    tt_st(t, 0xc900, 4, 0, 0, 5);
    ck_assert_uint_eq(nwp(&w), 2);
    ck_assert(mr_get_dirty(x.ram, 0xc000, 0x1000, MEM_CLIENT_DISPLAY));
    ck_assert(tlb_watchpoint_remove(t, id));
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

/* A page-crossing store refused by a watchpoint on its second page writes
 * nothing (tlb.h: false ... nothing was written for a store). */
START_TEST(test_watchpoint_crossing_refused_writes_nothing)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    w.allow = false;
    int id = tlb_watchpoint_insert(t, 0xe000, 2, TLB_WP_WRITE, wp_fn, &w);
    ck_assert_int_gt(id, 0);
    uint8_t before[8];
    memcpy(before, ram(&x, 0xdffc), 8);
    ck_assert(!tlb_store(t, 0xdffc, 8, 0, 0, 0x0102030405060708ull));
    ck_assert_uint_ge(nwp(&w), 1);
    ck_assert_uint_eq(tt_nfaults(x.cpu[0]), 1);
    ck_assert_int_eq(tt_fault(x.cpu[0], 0)->kind, TLB_FAULT_WATCHPOINT);
    ck_assert_msg(memcmp(ram(&x, 0xdffc), before, 8) == 0,
                  "refused crossing store left 0x%016" PRIx64 " (was 0x%016" PRIx64 ")",
                  tt_host_le(ram(&x, 0xdffc), 8), tt_host_le(before, 8));
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

/* One access that overlaps a watchpoint is reported once, as itself. */
START_TEST(test_watchpoint_crossing_reported_once)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    int id = tlb_watchpoint_insert(t, 0xefff, 2, TLB_WP_WRITE, wp_fn, &w);
    ck_assert_int_gt(id, 0);
    tt_st(t, 0xeffe, 4, 0, 0, 0xa1a2a3a4);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0xeffe), 4), 0xa1a2a3a4);
    ck_assert_msg(nwp(&w) == 1, "one 4-byte store over a watchpoint: %u callbacks", nwp(&w));
    ck_assert_uint_eq(wp_at(&w, 0)->vaddr, 0xeffe);
    ck_assert_uint_eq(wp_at(&w, 0)->size, 4);
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

/* A one-shot watchpoint removes itself from its callback (what a debugger
 * stub does); the access still completes correctly. */
START_TEST(test_watchpoint_removed_in_callback)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    WpCtx w;
    wp_init(&w, &x, t);
    int id = tlb_watchpoint_insert(t, 0x9100, 4, TLB_WP_ACCESS, wp_fn, &w);
    w.remove_id = id;
    tt_st(t, 0x9100, 4, 0, 0, 0x5a5a1234);
    ck_assert_uint_eq(nwp(&w), 1);
    ck_assert_uint_eq(tt_host_le(ram(&x, 0x9100), 4), 0x5a5a1234);
    id = tlb_watchpoint_insert(t, 0x9100, 4, TLB_WP_ACCESS, wp_fn, &w);
    w.remove_id = id;
    ck_assert_uint_eq(tt_ld(t, 0x9100, 4, 0, 0), 0x5a5a1234);
    ck_assert_uint_eq(nwp(&w), 2);
    tt_st(t, 0x9100, 4, 0, 0, 1);
    ck_assert_uint_eq(nwp(&w), 2);
    g_array_unref(w.calls);
    x_free(&x);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Statistics */

#define S_P0 0x10000ull      /* slot 0 of a 4-entry table */
#define S_P4 0x14000ull      /* slot 0 */
#define S_M (DEV_BASE + 0x1000) /* slot 1 */

#define EXPECT_STATS(t, h, m, v, f, wf, io)                                                  \
    do {                                                                                     \
        TlbStats s_ = tt_stats((t), 0);                                                      \
        ck_assert_msg(s_.hits == (h) && s_.misses == (m) && s_.victim_hits == (v) &&         \
                          s_.fills == (f) && s_.walk_faults == (wf) && s_.io_accesses == (io), \
                      "stats hits %" PRIu64 " misses %" PRIu64 " victim %" PRIu64            \
                      " fills %" PRIu64 " walk_faults %" PRIu64 " io %" PRIu64               \
                      "; expected %d %d %d %d %d %d",                                        \
                      s_.hits, s_.misses, s_.victim_hits, s_.fills, s_.walk_faults,          \
                      s_.io_accesses, (h), (m), (v), (f), (wf), (io));                       \
    } while (0)

START_TEST(test_stats_script)
{
    X x;
    x_new(&x, 4, 2);
    CpuTlb *t = x.t[0];
    uint64_t v;
    tlb_reset_stats(t);
    EXPECT_STATS(t, 0, 0, 0, 0, 0, 0);
    tt_ld(t, S_P0, 4, 0, 0);            /* miss, fill */
    EXPECT_STATS(t, 0, 1, 0, 1, 0, 0);
    tt_ld(t, S_P0 + 8, 8, 0, 0);        /* hit */
    tt_st(t, S_P0 + 4, 4, 0, 0, 1);     /* hit (clean RAM write tag) */
    EXPECT_STATS(t, 2, 1, 0, 1, 0, 0);
    tt_ld(t, S_P4, 4, 0, 0);            /* miss, fill; P0 -> victim */
    EXPECT_STATS(t, 2, 2, 0, 2, 0, 0);
    tt_ld(t, S_P0, 4, 0, 0);            /* miss, victim hit (swap) */
    EXPECT_STATS(t, 2, 3, 1, 2, 0, 0);
    tt_ld(t, S_P0, 4, 0, 0);            /* hit */
    EXPECT_STATS(t, 3, 3, 1, 2, 0, 0);
    tt_ld(t, S_M, 4, 0, 0);             /* miss, fill, device access */
    EXPECT_STATS(t, 3, 4, 1, 3, 0, 1);
    tt_ld(t, S_M, 4, 0, 0);             /* in the table: a hit, through the slow path */
    tt_st(t, S_M + 4, 4, 0, 0, 2);      /* the same */
    EXPECT_STATS(t, 5, 4, 1, 3, 0, 3);
    tlb_flush_page(t, S_P0);
    tt_ld(t, S_P0, 4, 0, 0);            /* miss; P4 is the victim, not P0: fill */
    EXPECT_STATS(t, 5, 5, 1, 4, 0, 3);
    tt_ld(t, S_P4, 4, 0, 0);            /* miss, victim hit */
    EXPECT_STATS(t, 5, 6, 2, 4, 0, 3);
    tlb_flush(t);
    tt_ld(t, S_P4, 4, 0, 0);            /* miss, fill (the victim table was flushed too) */
    EXPECT_STATS(t, 5, 7, 2, 5, 0, 3);
    tlb_flush_range_by_mmuidx(t, 0, 0x100000, TLB_ALL_MMUIDX);
    tlb_flush_by_mmuidx(t, 1);
    ck_assert(!tlb_load(t, 1ull << 40, 4, 0, 0, &v)); /* miss, walk fault */
    EXPECT_STATS(t, 5, 8, 2, 5, 1, 3);
    TlbStats s = tt_stats(t, 0);
    ck_assert_uint_eq(s.flush_all, 1);
    ck_assert_uint_eq(s.flush_page, 1);
    ck_assert_uint_eq(s.flush_range, 1);
    ck_assert_uint_eq(s.flush_mmuidx, 1);
    ck_assert_uint_eq(s.flush_requests, 0);
    ck_assert_uint_eq(s.resizes, 0);
    /* The other CPU's statistics are its own. */
    TlbStats o = tt_stats(x.t[1], 0);
    ck_assert_uint_eq(o.hits + o.misses + o.fills + o.flush_all, 0);
    /* tlb_reset_stats zeroes everything. */
    tlb_reset_stats(t);
    s = tt_stats(t, 0);
    ck_assert_uint_eq(s.hits + s.misses + s.victim_hits + s.fills + s.walk_faults +
                      s.io_accesses + s.flush_all + s.flush_page + s.flush_range +
                      s.flush_mmuidx + s.flush_requests + s.resizes, 0);
    x_free(&x);
}
END_TEST

/* A page-crossing access is one access per page: two table look-ups, not
 * one per internal piece. */
START_TEST(test_stats_page_crossing)
{
    X x;
    x_new(&x, 256, 8);
    CpuTlb *t = x.t[0];
    tt_ld(t, 0x20000, 4, 0, 0);
    tt_ld(t, 0x21000, 4, 0, 0);
    tlb_reset_stats(t);
    /* Warm: both pages hit. */
    ck_assert_uint_eq(tt_ld(t, 0x20ffd, 8, 0, 0), pat_le(0x20ffd, 8));
    TlbStats s = tt_stats(t, 0);
    ck_assert_uint_eq(s.misses, 0);
    ck_assert_uint_eq(s.fills, 0);
    ck_assert_msg(s.hits <= 2, "one warm page-crossing load counted %" PRIu64 " hits", s.hits);
    /* Cold: two misses, two fills. */
    tlb_reset_stats(t);
    tt_st(t, 0x30ffe, 4, 0, 0, 0);
    s = tt_stats(t, 0);
    ck_assert_uint_eq(s.misses, 2);
    ck_assert_uint_eq(s.fills, 2);
    ck_assert_msg(s.hits == 0, "one cold page-crossing store counted %" PRIu64 " hits", s.hits);
    x_free(&x);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *tracking_suite(void)
{
    Suite *s = suite_create("tlb_tracking");
    TCase *tc = tt_tcase(s, "dirty");
    tcase_add_test(tc, test_dirty_tracking);
    tcase_add_test(tc, test_dirty_tracking_aliases_and_cpus);
    tcase_add_test(tc, test_dirty_log_enabled_after_fill);
    tc = tt_tcase(s, "code");
    tcase_add_test(tc, test_code_tracking);
    tcase_add_test(tc, test_code_tracking_victim);
    tcase_add_test(tc, test_code_tracking_big_pages);
    tcase_add_test(tc, test_code_tracking_subpage);
    tcase_add_test(tc, test_code_hook_may_flush);
    tc = tt_tcase(s, "watch");
    tcase_add_test(tc, test_watchpoint_write);
    tcase_add_test(tc, test_watchpoint_read_and_access);
    tcase_add_test(tc, test_watchpoint_lengths);
    tcase_add_test(tc, test_watchpoint_with_dirty_log);
    tcase_add_test(tc, test_watchpoint_crossing_refused_writes_nothing);
    tcase_add_test(tc, test_watchpoint_crossing_reported_once);
    tcase_add_test(tc, test_watchpoint_removed_in_callback);
    tc = tt_tcase(s, "stats");
    tcase_add_test(tc, test_stats_script);
    tcase_add_test(tc, test_stats_page_crossing);
    return s;
}

int main(void)
{
    return tt_run(tracking_suite());
}
