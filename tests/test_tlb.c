/*
 * The per-CPU software TLB (tlb/tlb.h): fill, hit and miss paths for RAM,
 * ROM, MMIO and unassigned memory, faults, page-crossing accesses, the
 * victim table, every flush kind, large pages, dynamic resizing, code
 * fetch and the dump.
 *
 * The machine (one address space over a full 64-bit container):
 *   0x00000000  16 MiB RAM "tlbram" (pattern seed 0x11)
 *   0x20000000  64 KiB ROM "tlbrom" (pattern seed 0x22)
 *   0x30000000  8 KiB MMIO "tlbdev" (reads: 0xd0000000 + offset)
 *   0x30010000  256 B MMIO "tlbsub" (reads: 0x5b000000 + offset; rest of its page unassigned)
 *   0x60000000  8 KiB ROMD "tlbromd" (backing pattern seed 0x66, callbacks: 0x0d000000 + offset)
 *   0x50000000  unassigned
 * The target's page walk is identity (RWX, 4 KiB) below 4 GiB unless a test
 * maps something else.
 */
#include "tlb_test_util.h"

#define RAM_SIZE 0x1000000ull
#define ROM_BASE 0x20000000ull
#define ROM_SIZE 0x10000ull
#define DEV_BASE 0x30000000ull
#define DEV_SIZE 0x2000ull
#define DEV_TAG 0xd0000000ull
#define SUB_BASE 0x30010000ull
#define SUB_TAG 0x5b000000ull
#define HOLE 0x50000000ull
#define ROMD_BASE 0x60000000ull
#define ROMD_TAG 0x0d000000ull

typedef struct M {
    MemRegion *root, *ram, *rom, *devmr, *romd;
    TtDev *dev, *sub, *romd_dev;
    AddressSpace *as;
    TtCpu *cpu;
    CpuTlb *t;
} M;

static void m_init(M *m, const TlbConfig *cfg, const TlbTargetOps *ops)
{
    memset(m, 0, sizeof(*m));
    m->root = tt_container("root", MEM_SIZE_FULL);
    m->ram = tt_put(m->root, 0, tt_ram("tlbram", RAM_SIZE, 0x11), 0);
    m->rom = tt_put(m->root, ROM_BASE, tt_rom("tlbrom", ROM_SIZE, 0x22), 0);
    m->dev = tt_dev_new(DEV_TAG);
    m->devmr = tt_put(m->root, DEV_BASE, tt_mmio("tlbdev", DEV_SIZE, m->dev), 0);
    m->sub = tt_dev_new(SUB_TAG);
    tt_put(m->root, SUB_BASE, tt_mmio("tlbsub", 0x100, m->sub), 0);
    m->romd_dev = tt_dev_new(ROMD_TAG);
    GError *err = NULL;
    MemRegion *romd = mr_new_romd("tlbromd", 0x2000, &m->romd_dev->ops, m->romd_dev, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(romd);
    uint8_t *p = mr_ram_ptr(romd);
    ck_assert_ptr_nonnull(p);
    for (unsigned i = 0; i < 0x2000; i++) {
        p[i] = tt_pat(i, 0x66);
    }
    m->romd = tt_put(m->root, ROMD_BASE, romd, 0);
    m->as = tt_as("cpu0", m->root);
    m->cpu = tt_cpu_new(0, true);
    m->t = tt_tlb(m->as, cfg, ops ? ops : &tt_ops, m->cpu);
}

static void m_new(M *m)
{
    TlbConfig cfg = tt_config(1, 256, 8, false);
    m_init(m, &cfg, NULL);
}

static void m_free(M *m)
{
    tlb_free(m->t);
    as_free(m->as);
    mr_unref(m->root);
    tt_cpu_free(m->cpu);
    tt_dev_free(m->dev);
    tt_dev_free(m->sub);
    tt_dev_free(m->romd_dev);
}

static uint8_t *ram(M *m, uint64_t off)
{
    return (uint8_t *)mr_ram_ptr(m->ram) + off;
}

/* Little-endian value of the pattern bytes of RAM at off. */
static uint64_t ram_pat_le(uint64_t off, unsigned n, uint8_t seed)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)tt_pat(off + i, seed) << (8 * i);
    }
    return v;
}

static uint64_t bswap(uint64_t v, unsigned size)
{
    switch (size) {
    case 1: return v;
    case 2: return __builtin_bswap16((uint16_t)v);
    case 4: return __builtin_bswap32((uint32_t)v);
    default: return __builtin_bswap64(v);
    }
}

/* ------------------------------------------------------------------ */
/* RAM */

START_TEST(test_ram_miss_then_hit)
{
    M m;
    m_new(&m);
    TlbStats s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.hits + s.misses + s.fills, 0);

    ck_assert_uint_eq(tt_ld(m.t, 0x1234, 4, 0, 0), ram_pat_le(0x1234, 4, 0x11));
    s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.misses, 1);
    ck_assert_uint_eq(s.fills, 1);
    ck_assert_uint_eq(s.hits, 0);
    ck_assert_uint_eq(s.io_accesses, 0);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    ck_assert_uint_eq(tt_walk_at(m.cpu, 0)->vaddr, 0x1234);
    ck_assert_int_eq(tt_walk_at(m.cpu, 0)->access, TLB_READ);
    ck_assert_uint_eq(tt_walk_at(m.cpu, 0)->mmu_idx, 0);

    /* Same page, other offsets: fast-path hits, no walk. */
    ck_assert_uint_eq(tt_ld(m.t, 0x1234, 4, 0, 0), ram_pat_le(0x1234, 4, 0x11));
    ck_assert_uint_eq(tt_ld(m.t, 0x1ff8, 8, 0, 0), ram_pat_le(0x1ff8, 8, 0x11));
    ck_assert_uint_eq(tt_ld(m.t, 0x1000, 1, 0, 0), tt_pat(0x1000, 0x11));
    s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.hits, 3);
    ck_assert_uint_eq(s.misses, 1);
    ck_assert_uint_eq(s.fills, 1);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);

    /* The entry: plain RAM, no flags in any tag; addend gives the host pointer. */
    const TlbEntry *e = tlb_peek_entry(m.t, 0, 0x1234);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->addr_read, 0x1000);
    ck_assert_uint_eq(e->addr_write, 0x1000);
    ck_assert_uint_eq(e->addr_code, 0x1000);
    ck_assert_ptr_eq((void *)(uintptr_t)(0x1234 + e->addend), ram(&m, 0x1234));
    const TlbFullEntry *f = tlb_peek_full(m.t, 0, 0x1234);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->paddr, 0x1000);
    ck_assert_uint_eq(f->dispatch_gen, dispatch_generation(as_dispatch(m.as)));
    ck_assert(!f->multi_section);
    ck_assert_uint_eq(f->prot, TT_PROT_RWX);
    ck_assert_uint_eq(f->lg_page_size, 12);
    ck_assert_uint_eq(f->attrs.requester, 0);
    ck_assert_ptr_null(tlb_peek_entry(m.t, 1, 0x1234));
    ck_assert_ptr_null(tlb_peek_full(m.t, 1, 0x1234));
    m_free(&m);
}
END_TEST

/* A store into an uncached page fills with a write walk; the next hits. */
START_TEST(test_ram_store_miss_then_hit)
{
    M m;
    m_new(&m);
    tt_st(m.t, 0x5008, 4, 0, 0, 0xa1b2c3d4);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x5008), 4), 0xa1b2c3d4);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    ck_assert_int_eq(tt_walk_at(m.cpu, 0)->access, TLB_WRITE);
    tt_st(m.t, 0x500c, 4, 0, 0, 0x01020304);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x500c), 4), 0x01020304);
    TlbStats s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.misses, 1);
    ck_assert_uint_eq(s.fills, 1);
    ck_assert_uint_eq(s.hits, 1);
    /* The read tag came with the write fill. */
    ck_assert_uint_eq(tt_ld(m.t, 0x5008, 8, 0, 0), 0x01020304a1b2c3d4ull);
    ck_assert_uint_eq(tt_stats(m.t, 0).hits, 2);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    m_free(&m);
}
END_TEST

START_TEST(test_ram_sizes_and_endianness)
{
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    static const uint64_t vals[] = { 0x5a, 0xa55a, 0x8badf00d, 0x0123456789abcdefull };
    M m;
    m_new(&m);
    for (unsigned k = 0; k < 4; k++) {
        unsigned size = sizes[k];
        uint64_t v = vals[k];
        /* Cold little-endian store (slow path), then warm loads both ways. */
        uint64_t page = 0x100000 + k * 0x10000;
        tt_st(m.t, page + 0x10, size, 0, 0, v);
        ck_assert_uint_eq(tt_host_le(ram(&m, page + 0x10), size), v);
        ck_assert_uint_eq(tt_ld(m.t, page + 0x10, size, 0, 0), v);
        ck_assert_uint_eq(tt_ld(m.t, page + 0x10, size, 0, TLB_BIG_ENDIAN), bswap(v, size));
        /* Warm big-endian store: most significant byte first in memory. */
        tt_st(m.t, page + 0x20, size, 0, TLB_BIG_ENDIAN, v);
        ck_assert_uint_eq(tt_host_le(ram(&m, page + 0x20), size), bswap(v, size));
        ck_assert_uint_eq(ram(&m, page + 0x20)[0], (uint8_t)(v >> (8 * (size - 1))));
        ck_assert_uint_eq(tt_ld(m.t, page + 0x20, size, 0, TLB_BIG_ENDIAN), v);

        /* Cold big-endian load and cold big-endian store (slow path). */
        uint64_t cold = page + 0x1000;
        ck_assert_uint_eq(tt_ld(m.t, cold + 0x30, size, 0, TLB_BIG_ENDIAN),
                          bswap(ram_pat_le(cold + 0x30, size, 0x11), size));
        uint64_t cold2 = page + 0x2000;
        tt_st(m.t, cold2 + 0x40, size, 0, TLB_BIG_ENDIAN, v);
        ck_assert_uint_eq(tt_host_le(ram(&m, cold2 + 0x40), size), bswap(v, size));
    }
    /* A store of size n writes exactly n bytes. */
    memset(ram(&m, 0x7000), 0xee, 16);
    tt_st(m.t, 0x7004, 2, 0, 0, 0xffffffffffff1234ull);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x7000), 8), 0xeeee1234eeeeeeeeull);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x7008), 8), 0xeeeeeeeeeeeeeeeeull);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* ROM */

START_TEST(test_rom_reads_and_dropped_writes)
{
    M m;
    m_new(&m);
    uint64_t va = ROM_BASE + 0x1100;
    uint8_t *rom = (uint8_t *)mr_ram_ptr(m.rom) + 0x1100;
    ck_assert_uint_eq(tt_ld(m.t, va, 4, 0, 0), ram_pat_le(0x1100, 4, 0x22));
    /* Reads of ROM are plain RAM reads: no flags, host addend. */
    const TlbEntry *e = tlb_peek_entry(m.t, 0, va);
    ck_assert_uint_eq(e->addr_read, ROM_BASE + 0x1000);
    ck_assert_ptr_eq((void *)(uintptr_t)(va + e->addend), rom);
    ck_assert_uint_eq(tt_ld(m.t, va + 8, 8, 0, 0), ram_pat_le(0x1108, 8, 0x22));
    ck_assert_uint_eq(tt_stats(m.t, 0).hits, 1);

    /* Stores succeed but are dropped. */
    uint8_t before[16];
    memcpy(before, rom, 16);
    ck_assert(tlb_store(m.t, va, 4, 0, 0, 0x12345678));
    ck_assert(tlb_store(m.t, va + 8, 8, 0, 0, 0x1122334455667788ull));
    ck_assert(tlb_store(m.t, va + 3, 1, 0, 0, 0));
    ck_assert_mem_eq(rom, before, 16);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    e = tlb_peek_entry(m.t, 0, va);
    ck_assert(e->addr_write & TLB_FLAG_DISCARD);
    ck_assert_uint_eq(e->addr_write & tlb_fast(m.t)->page_mask, ROM_BASE + 0x1000);
    ck_assert_uint_eq(tt_ld(m.t, va, 4, 0, 0), ram_pat_le(0x1100, 4, 0x22));
    m_free(&m);
}
END_TEST

/* A cold store to ROM (the write fill itself) is dropped too. */
START_TEST(test_rom_cold_store_dropped)
{
    M m;
    m_new(&m);
    uint8_t *rom = (uint8_t *)mr_ram_ptr(m.rom) + 0x3000;
    uint8_t before[8];
    memcpy(before, rom, 8);
    ck_assert(tlb_store(m.t, ROM_BASE + 0x3000, 8, 0, 0, 0));
    ck_assert_mem_eq(rom, before, 8);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* MMIO */

START_TEST(test_mmio_load_store)
{
    M m;
    memset(&m, 0, sizeof(m));
    TlbConfig cfg = tt_config(1, 256, 8, false);
    m_init(&m, &cfg, NULL);
    m.cpu->index = 3; /* attributes come from the walk */

    ck_assert_uint_eq(tt_ld(m.t, DEV_BASE + 0x10, 4, 0, 0), (DEV_TAG + 0x10) & 0xffffffffu);
    ck_assert_uint_eq(tt_dev_n(m.dev), 1);
    TT_EXPECT_DEV(m.dev, 0, false, 0x10, 4, DEV_TAG + 0x10);
    ck_assert_uint_eq(tt_dev_at(m.dev, 0)->attrs.requester, 3);
    ck_assert_uint_eq(tt_dev_at(m.dev, 0)->attrs.requester_type, MEM_REQ_CPU);
    TlbStats s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.io_accesses, 1);
    ck_assert_uint_eq(s.misses, 1);
    ck_assert_uint_eq(s.fills, 1);

    const TlbEntry *e = tlb_peek_entry(m.t, 0, DEV_BASE);
    ck_assert(e->addr_read & TLB_FLAG_IO);
    ck_assert(e->addr_write & TLB_FLAG_IO);
    ck_assert(e->addr_code & TLB_FLAG_IO);
    ck_assert_uint_eq(e->addr_read & tlb_fast(m.t)->page_mask, DEV_BASE);
    const TlbFullEntry *f = tlb_peek_full(m.t, 0, DEV_BASE);
    ck_assert_uint_eq(f->paddr, DEV_BASE);
    ck_assert_uint_eq(f->section_offset, 0);
    ck_assert_uint_eq(f->attrs.requester, 3);

    /* Every size, both directions; each access reaches the device once. */
    ck_assert_uint_eq(tt_ld(m.t, DEV_BASE + 0x21, 1, 0, 0), (DEV_TAG + 0x21) & 0xff);
    TT_EXPECT_DEV(m.dev, 1, false, 0x21, 1, (DEV_TAG + 0x21) & 0xff);
    ck_assert_uint_eq(tt_ld(m.t, DEV_BASE + 0x22, 2, 0, 0), (DEV_TAG + 0x22) & 0xffff);
    TT_EXPECT_DEV(m.dev, 2, false, 0x22, 2, (DEV_TAG + 0x22) & 0xffff);
    ck_assert_uint_eq(tt_ld(m.t, DEV_BASE + 0x1ff8, 8, 0, 0), DEV_TAG + 0x1ff8);
    TT_EXPECT_DEV(m.dev, 3, false, 0x1ff8, 8, DEV_TAG + 0x1ff8);
    tt_st(m.t, DEV_BASE + 0x30, 2, 0, 0, 0xbeef);
    TT_EXPECT_DEV(m.dev, 4, true, 0x30, 2, 0xbeef);
    tt_st(m.t, DEV_BASE + 0x38, 8, 0, 0, 0x0102030405060708ull);
    TT_EXPECT_DEV(m.dev, 5, true, 0x38, 8, 0x0102030405060708ull);
    tt_st(m.t, DEV_BASE + 0x41, 1, 0, 0, 0x7f);
    TT_EXPECT_DEV(m.dev, 6, true, 0x41, 1, 0x7f);
    /* Byte order: a big-endian access to a little-endian device swaps. */
    ck_assert_uint_eq(tt_ld(m.t, DEV_BASE + 0x50, 4, 0, TLB_BIG_ENDIAN),
                      __builtin_bswap32((uint32_t)(DEV_TAG + 0x50)));
    TT_EXPECT_DEV(m.dev, 7, false, 0x50, 4, DEV_TAG + 0x50);
    tt_st(m.t, DEV_BASE + 0x60, 4, 0, TLB_BIG_ENDIAN, 0x11223344);
    TT_EXPECT_DEV(m.dev, 8, true, 0x60, 4, 0x44332211);
    ck_assert_uint_eq(tt_dev_n(m.dev), 9);

    s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.io_accesses, 9);
    ck_assert_uint_eq(s.misses, 2); /* the read fill, then the second page (0x1ff8) */
    ck_assert_uint_eq(s.fills, 2);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

/* A page shared by a small MMIO region and unassigned space: every value
 * access still reaches the device exactly once, with its own size. */
START_TEST(test_subpage_mmio_single_access)
{
    M m;
    m_new(&m);
    ck_assert_uint_eq(tt_ld(m.t, SUB_BASE + 0x10, 4, 0, 0), (SUB_TAG + 0x10) & 0xffffffffu);
    ck_assert(tlb_peek_full(m.t, 0, SUB_BASE)->multi_section);
    ck_assert(tlb_peek_entry(m.t, 0, SUB_BASE)->addr_read & TLB_FLAG_IO);
    ck_assert_uint_eq(tt_ld(m.t, SUB_BASE + 0x20, 8, 0, 0), SUB_TAG + 0x20);
    tt_st(m.t, SUB_BASE + 0x40, 2, 0, 0, 0xcafe);
    ck_assert_uint_eq(tt_ld(m.t, SUB_BASE + 0x50, 1, 0, 0), (SUB_TAG + 0x50) & 0xff);
    ck_assert_msg(tt_dev_n(m.sub) == 4,
                  "4 accesses through the TLB reached the sub-page device %u times",
                  tt_dev_n(m.sub));
    TT_EXPECT_DEV(m.sub, 0, false, 0x10, 4, (SUB_TAG + 0x10) & 0xffffffffu);
    TT_EXPECT_DEV(m.sub, 1, false, 0x20, 8, SUB_TAG + 0x20);
    TT_EXPECT_DEV(m.sub, 2, true, 0x40, 2, 0xcafe);
    TT_EXPECT_DEV(m.sub, 3, false, 0x50, 1, (SUB_TAG + 0x50) & 0xff);
    /* The unassigned rest of the page reads all-ones. */
    ck_assert_uint_eq(tt_ld(m.t, SUB_BASE + 0x800, 4, 0, 0), 0xffffffffu);
    ck_assert_uint_eq(tt_dev_n(m.sub), 4);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

START_TEST(test_romd_modes)
{
    M m;
    m_new(&m);
    uint64_t va = ROMD_BASE + 0x1010;
    /* ROMD mode: reads from the backing (plain RAM tag), writes to callbacks. */
    ck_assert_uint_eq(tt_ld(m.t, va, 4, 0, 0), ram_pat_le(0x1010, 4, 0x66));
    const TlbEntry *e = tlb_peek_entry(m.t, 0, va);
    ck_assert_uint_eq(e->addr_read, ROMD_BASE + 0x1000);
    ck_assert(e->addr_write & TLB_FLAG_IO);
    tt_st(m.t, va, 4, 0, 0, 0x55aa55aa);
    ck_assert_uint_eq(tt_dev_n(m.romd_dev), 1);
    TT_EXPECT_DEV(m.romd_dev, 0, true, 0x1010, 4, 0x55aa55aa);
    ck_assert_uint_eq(tt_ld(m.t, va, 4, 0, 0), ram_pat_le(0x1010, 4, 0x66));
    uint64_t pa;
    const uint8_t *host;
    uint64_t left;
    ck_assert(tlb_translate_code(m.t, va, 0, &pa, &host, &left));
    ck_assert_ptr_eq(host, (uint8_t *)mr_ram_ptr(m.romd) + 0x1010);

    /* MMIO mode: the cached read entry must not survive; reads reach the device. */
    GError *err = NULL;
    ck_assert(mr_set_romd_mode(m.romd, false, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(tt_ld(m.t, va, 4, 0, 0), (ROMD_TAG + 0x1010) & 0xffffffffu);
    ck_assert_uint_eq(tt_dev_n(m.romd_dev), 2);
    TT_EXPECT_DEV(m.romd_dev, 1, false, 0x1010, 4, (ROMD_TAG + 0x1010) & 0xffffffffu);
    ck_assert(tlb_translate_code(m.t, va, 0, &pa, &host, &left));
    ck_assert_ptr_null(host);
    ck_assert_uint_eq(pa, va);

    ck_assert(mr_set_romd_mode(m.romd, true, &err));
    ck_assert_uint_eq(tt_ld(m.t, va, 4, 0, 0), ram_pat_le(0x1010, 4, 0x66));
    ck_assert_uint_eq(tt_dev_n(m.romd_dev), 2);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Unassigned memory and bus errors */

START_TEST(test_unassigned_default_ignored)
{
    M m;
    m_new(&m);
    ck_assert_uint_eq(tt_ld(m.t, HOLE + 0x10, 4, 0, 0), 0xffffffffu);
    ck_assert_uint_eq(tt_ld(m.t, HOLE + 0x18, 8, 0, 0), UINT64_MAX);
    ck_assert_uint_eq(tt_ld(m.t, HOLE + 0x21, 1, 0, 0), 0xff);
    ck_assert_uint_eq(tt_ld(m.t, HOLE + 0x22, 2, 0, TLB_BIG_ENDIAN), 0xffff);
    ck_assert(tlb_store(m.t, HOLE + 0x30, 4, 0, 0, 0x12345678));
    ck_assert_uint_eq(tt_ld(m.t, HOLE + 0x30, 4, 0, 0), 0xffffffffu);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    const TlbEntry *e = tlb_peek_entry(m.t, 0, HOLE);
    ck_assert(e->addr_read & TLB_FLAG_IO);
    ck_assert(e->addr_write & TLB_FLAG_IO);
    ck_assert_uint_eq(tt_stats(m.t, 0).io_accesses, 6);

    /* A board whose unassigned reads give zeros. */
    as_set_unassigned_fill(m.as, 0);
    ck_assert_uint_eq(tt_ld(m.t, HOLE + 0x10, 4, 0, 0), 0);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

START_TEST(test_unassigned_bus_error_hook)
{
    M m;
    TlbConfig cfg = tt_config(2, 256, 8, false);
    m_init(&m, &cfg, &tt_ops_bus);
    /* va 0x70000000 -> pa HOLE, to tell vaddr and paddr apart. */
    tt_map(m.cpu, 0x70000000, HOLE, 0x1000, TT_PAGE, TT_PROT_RWX);
    m.cpu->bus_faults = true;
    uint64_t v = 0;
    ck_assert(!tlb_load(m.t, 0x70000004, 4, 1, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_BUS, 0x70000004, TLB_READ, 1);
    const TlbFault *f = tt_fault(m.cpu, 0);
    ck_assert_uint_eq(f->paddr, HOLE + 4);
    ck_assert_int_eq(f->result, MEM_DECODE_ERROR);
    ck_assert_uint_eq(f->size, 4);
    /* The policy hook saw the same fault. */
    ck_assert_uint_eq(m.cpu->bus_queries->len, 1);
    const TlbFault *q = &g_array_index(m.cpu->bus_queries, TlbFault, 0);
    ck_assert_int_eq(q->kind, TLB_FAULT_BUS);
    ck_assert_uint_eq(q->paddr, HOLE + 4);
    ck_assert_uint_eq(q->vaddr, 0x70000004);
    ck_assert_int_eq(q->result, MEM_DECODE_ERROR);

    ck_assert(!tlb_store(m.t, 0x70000008, 8, 1, 0, 1));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    TT_EXPECT_FAULT(m.cpu, 1, TLB_FAULT_BUS, 0x70000008, TLB_WRITE, 1);
    ck_assert_uint_eq(tt_fault(m.cpu, 1)->paddr, HOLE + 8);
    ck_assert_int_eq(tt_fault(m.cpu, 1)->result, MEM_DECODE_ERROR);
    ck_assert_uint_eq(tt_fault(m.cpu, 1)->size, 8);

    /* The hook may also choose to ignore it. */
    m.cpu->bus_faults = false;
    ck_assert_uint_eq(tt_ld(m.t, 0x70000004, 4, 1, 0), 0xffffffffu);
    ck_assert(tlb_store(m.t, 0x70000008, 8, 1, 0, 1));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    ck_assert_uint_eq(m.cpu->bus_queries->len, 4);
    m_free(&m);
}
END_TEST

START_TEST(test_device_error_faults_by_default)
{
    M m;
    m_new(&m);
    m.dev->read_result = MEM_DEVICE_ERROR;
    m.dev->write_result = MEM_DEVICE_ERROR;
    uint64_t v;
    ck_assert(!tlb_load(m.t, DEV_BASE + 0x100, 4, 0, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_BUS, DEV_BASE + 0x100, TLB_READ, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->paddr, DEV_BASE + 0x100);
    ck_assert_int_eq(tt_fault(m.cpu, 0)->result, MEM_DEVICE_ERROR);
    ck_assert(!tlb_store(m.t, DEV_BASE + 0x104, 2, 0, 0, 7));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    TT_EXPECT_FAULT(m.cpu, 1, TLB_FAULT_BUS, DEV_BASE + 0x104, TLB_WRITE, 0);
    ck_assert_int_eq(tt_fault(m.cpu, 1)->result, MEM_DEVICE_ERROR);
    ck_assert_uint_eq(tt_dev_n(m.dev), 2);
    m_free(&m);
}
END_TEST

START_TEST(test_device_error_ignored_by_hook)
{
    M m;
    TlbConfig cfg = tt_config(1, 256, 8, false);
    m_init(&m, &cfg, &tt_ops_bus);
    m.cpu->bus_faults = false;
    m.dev->read_result = MEM_DEVICE_ERROR;
    uint64_t v = 1;
    ck_assert(tlb_load(m.t, DEV_BASE + 0x100, 4, 0, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    ck_assert_uint_eq(m.cpu->bus_queries->len, 1);
    ck_assert_int_eq(g_array_index(m.cpu->bus_queries, TlbFault, 0).result, MEM_DEVICE_ERROR);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Translation, permission and alignment faults */

START_TEST(test_translation_fault)
{
    M m;
    TlbConfig cfg = tt_config(2, 256, 8, false);
    m_init(&m, &cfg, NULL);
    uint64_t va = (1ull << 32) + 0x123;
    uint64_t v;
    ck_assert(!tlb_load(m.t, va, 4, 1, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_TRANSLATION, va, TLB_READ, 1);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->size, 4);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->target_code, TT_CODE_UNMAPPED);
    TlbStats s = tt_stats(m.t, 1);
    ck_assert_uint_eq(s.walk_faults, 1);
    ck_assert_uint_eq(s.fills, 0);
    ck_assert(!tt_cached(m.t, 1, va, TLB_READ));

    ck_assert(!tlb_store(m.t, va + 0x10, 8, 0, 0, 5));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    TT_EXPECT_FAULT(m.cpu, 1, TLB_FAULT_TRANSLATION, va + 0x10, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 1)->size, 8);
    ck_assert_uint_eq(tt_fault(m.cpu, 1)->target_code, TT_CODE_UNMAPPED);
    ck_assert_uint_eq(tt_stats(m.t, 0).walk_faults, 1);
    /* A refused walk leaves nothing behind: the next access walks again. */
    ck_assert(!tlb_load(m.t, va, 4, 1, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 3);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 3);
    m_free(&m);
}
END_TEST

START_TEST(test_write_permission)
{
    M m;
    m_new(&m);
    tt_map(m.cpu, 0x400000, 0x2000, 0x1000, TT_PAGE, TLB_PROT_READ);
    ck_assert_uint_eq(tt_ld(m.t, 0x400010, 4, 0, 0), ram_pat_le(0x2010, 4, 0x11));
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    ck_assert_uint_eq(tt_tag(m.t, 0, 0x400000, TLB_WRITE), UINT64_MAX);
    uint8_t before[8];
    memcpy(before, ram(&m, 0x2010), 8);

    /* The store walks again, for a write, and the walk refuses. */
    ck_assert(!tlb_store(m.t, 0x400010, 4, 0, 0, 0xdeadbeef));
    ck_assert_uint_eq(tt_nwalks(m.cpu), 2);
    ck_assert_uint_eq(tt_walk_at(m.cpu, 1)->vaddr, 0x400010);
    ck_assert_int_eq(tt_walk_at(m.cpu, 1)->access, TLB_WRITE);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_TRANSLATION, 0x400010, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->target_code, TT_CODE_PERM);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->size, 4);
    ck_assert_mem_eq(ram(&m, 0x2010), before, 8);
    /* Reads still work. */
    ck_assert_uint_eq(tt_ld(m.t, 0x400010, 4, 0, 0), ram_pat_le(0x2010, 4, 0x11));

    /* The guest makes it writable and flushes the page: the store works. */
    tt_map(m.cpu, 0x400000, 0x2000, 0x1000, TT_PAGE, TLB_PROT_READ | TLB_PROT_WRITE);
    tlb_flush_page(m.t, 0x400000);
    tt_st(m.t, 0x400010, 4, 0, 0, 0xdeadbeef);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x2010), 4), 0xdeadbeef);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    m_free(&m);
}
END_TEST

START_TEST(test_alignment)
{
    M m;
    m_new(&m);
    uint64_t v;
    ck_assert(!tlb_load(m.t, 0x1001, 4, 0, TLB_ALIGN, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_ALIGNMENT, 0x1001, TLB_READ, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->size, 4);
    uint8_t before[16];
    memcpy(before, ram(&m, 0x1000), 16);
    ck_assert(!tlb_store(m.t, 0x1004, 8, 0, TLB_ALIGN, 0));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    TT_EXPECT_FAULT(m.cpu, 1, TLB_FAULT_ALIGNMENT, 0x1004, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 1)->size, 8);
    ck_assert_mem_eq(ram(&m, 0x1000), before, 16);
    ck_assert(!tlb_load(m.t, 0x1003, 2, 0, TLB_ALIGN | TLB_BIG_ENDIAN, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 3);

    /* Misaligned without TLB_ALIGN works within a page, cold and warm. */
    ck_assert_uint_eq(tt_ld(m.t, 0x1001, 4, 0, 0), ram_pat_le(0x1001, 4, 0x11));
    ck_assert_uint_eq(tt_ld(m.t, 0x1003, 8, 0, 0), ram_pat_le(0x1003, 8, 0x11));
    tt_st(m.t, 0x1005, 8, 0, 0, 0x8877665544332211ull);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x1005), 8), 0x8877665544332211ull);
    /* The page is cached: a misaligned TLB_ALIGN access must still fault. */
    ck_assert(tt_cached(m.t, 0, 0x1000, TLB_READ));
    ck_assert(!tlb_load(m.t, 0x1002, 4, 0, TLB_ALIGN, &v));
    ck_assert(!tlb_store(m.t, 0x1006, 4, 0, TLB_ALIGN, 0));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 5);
    TT_EXPECT_FAULT(m.cpu, 4, TLB_FAULT_ALIGNMENT, 0x1006, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x1005), 8), 0x8877665544332211ull);
    /* Aligned TLB_ALIGN accesses take the fast path. */
    uint64_t hits = tt_stats(m.t, 0).hits;
    ck_assert_uint_eq(tt_ld(m.t, 0x1008, 8, 0, TLB_ALIGN), tt_host_le(ram(&m, 0x1008), 8));
    tt_st(m.t, 0x1010, 4, 0, TLB_ALIGN, 0xabcdef01);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x1010), 4), 0xabcdef01);
    ck_assert_uint_eq(tt_stats(m.t, 0).hits, hits + 2);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 5);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Page-crossing accesses */

START_TEST(test_page_crossing)
{
    M m;
    m_new(&m);
    /* Cold: both pages filled by the access itself. */
    tt_st(m.t, 0x1ffd, 8, 0, 0, 0x0102030405060708ull);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x1ffd), 8), 0x0102030405060708ull);
    ck_assert_uint_eq(ram(&m, 0x1ffd)[0], 0x08);
    ck_assert_uint_eq(ram(&m, 0x2000)[0], 0x05);
    ck_assert_uint_eq(tt_ld(m.t, 0x1ffd, 8, 0, 0), 0x0102030405060708ull);
    ck_assert_uint_eq(tt_ld(m.t, 0x1ffd, 8, 0, TLB_BIG_ENDIAN), 0x0807060504030201ull);
    tt_st(m.t, 0x2fff, 2, 0, TLB_BIG_ENDIAN, 0xa1b2);
    ck_assert_uint_eq(ram(&m, 0x2fff)[0], 0xa1);
    ck_assert_uint_eq(ram(&m, 0x3000)[0], 0xb2);
    ck_assert_uint_eq(tt_ld(m.t, 0x2fff, 2, 0, 0), 0xb2a1);
    ck_assert_uint_eq(tt_ld(m.t, 0x3ffe, 4, 0, 0), ram_pat_le(0x3ffe, 4, 0x11));
    /* Non-identity: two virtual pages mapped to distant physical pages. */
    tt_map(m.cpu, 0x800000, 0x9000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tt_map(m.cpu, 0x801000, 0x4000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tt_st(m.t, 0x800ffa, 8, 0, 0, 0x1112131415161718ull);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x9ffa), 6), 0x131415161718ull);
    ck_assert_uint_eq(tt_host_le(ram(&m, 0x4000), 2), 0x1112);
    ck_assert_uint_eq(tt_ld(m.t, 0x800ffa, 8, 0, 0), 0x1112131415161718ull);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

START_TEST(test_page_crossing_second_page_faults)
{
    M m;
    m_new(&m);
    tt_map(m.cpu, 0x500000, 0x3000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tt_unmap(m.cpu, 0x501000, 0x1000);
    uint8_t before[4];
    memcpy(before, ram(&m, 0x3ffc), 4);

    ck_assert(!tlb_store(m.t, 0x500ffc, 8, 0, 0, 0x0102030405060708ull));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_TRANSLATION, 0x501000, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->target_code, TT_CODE_UNMAPPED);
    ck_assert_mem_eq(ram(&m, 0x3ffc), before, 4);

    /* Also when the first page is already cached for writing. */
    tt_st(m.t, 0x500000, 4, 0, 0, 0);
    ck_assert(!tlb_store(m.t, 0x500ffe, 4, 0, 0, 0xffffffff));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    TT_EXPECT_FAULT(m.cpu, 1, TLB_FAULT_TRANSLATION, 0x501000, TLB_WRITE, 0);
    ck_assert_mem_eq(ram(&m, 0x3ffc), before, 4);

    uint64_t v;
    ck_assert(!tlb_load(m.t, 0x500ffc, 8, 0, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 3);
    TT_EXPECT_FAULT(m.cpu, 2, TLB_FAULT_TRANSLATION, 0x501000, TLB_READ, 0);

    /* Second page read-only: a crossing store faults on it, first page intact. */
    tt_map(m.cpu, 0x501000, 0x6000, 0x1000, TT_PAGE, TLB_PROT_READ);
    uint8_t before2[4];
    memcpy(before2, ram(&m, 0x6000), 4);
    ck_assert(!tlb_store(m.t, 0x500ffc, 8, 0, 0, 0x0102030405060708ull));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 4);
    TT_EXPECT_FAULT(m.cpu, 3, TLB_FAULT_TRANSLATION, 0x501000, TLB_WRITE, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 3)->target_code, TT_CODE_PERM);
    ck_assert_mem_eq(ram(&m, 0x3ffc), before, 4);
    ck_assert_mem_eq(ram(&m, 0x6000), before2, 4);
    /* ... and a crossing load works. */
    ck_assert_uint_eq(tt_ld(m.t, 0x500ffc, 8, 0, 0),
                      tt_host_le(before, 4) | (tt_host_le(before2, 4) << 32));

    /* First page unmapped: the fault names the access's own address. */
    tt_unmap(m.cpu, 0x5ff000, 0x1000);
    ck_assert(!tlb_load(m.t, 0x5ffffe, 4, 0, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 5);
    TT_EXPECT_FAULT(m.cpu, 4, TLB_FAULT_TRANSLATION, 0x5ffffe, TLB_READ, 0);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Victim table */

#define VA_A 0x10000ull /* slot 0 of a 4-entry table */
#define VA_B 0x14000ull /* slot 0 too */

START_TEST(test_victim_swaps)
{
    M m;
    m_new(&m);
    GError *err = NULL;
    ck_assert(tlb_set_geometry(m.t, 4, 8, false, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 4);
    ck_assert_ptr_eq(tlb_peek_entry(m.t, 0, VA_A), tlb_peek_entry(m.t, 0, VA_B));
    tlb_reset_stats(m.t);

    ck_assert_uint_eq(tt_ld(m.t, VA_A, 4, 0, 0), ram_pat_le(VA_A, 4, 0x11));
    ck_assert_uint_eq(tt_ld(m.t, VA_B, 4, 0, 0), ram_pat_le(VA_B, 4, 0x11));
    TlbStats s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.fills, 2);
    ck_assert_uint_eq(s.misses, 2);
    ck_assert_uint_eq(s.victim_hits, 0);
    for (int round = 0; round < 3; round++) {
        ck_assert_uint_eq(tt_ld(m.t, VA_A + 8, 8, 0, 0), ram_pat_le(VA_A + 8, 8, 0x11));
        ck_assert(tt_cached(m.t, 0, VA_A, TLB_READ));
        ck_assert_uint_eq(tt_ld(m.t, VA_B + 8, 8, 0, 0), ram_pat_le(VA_B + 8, 8, 0x11));
        ck_assert(tt_cached(m.t, 0, VA_B, TLB_READ));
    }
    s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.fills, 2);
    ck_assert_uint_eq(s.victim_hits, 6);
    ck_assert_uint_eq(s.misses, 8);
    ck_assert_uint_eq(s.hits, 0);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 2);
    /* A store finds its page in the victim table too (write tag). */
    tt_st(m.t, VA_A + 0x10, 4, 0, 0, 0x600dcafe);
    ck_assert_uint_eq(tt_host_le(ram(&m, VA_A + 0x10), 4), 0x600dcafe);
    s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.victim_hits, 7);
    ck_assert_uint_eq(s.fills, 2);
    /* The swapped-in entry is complete: its full entry moved with it. */
    ck_assert_uint_eq(tlb_peek_full(m.t, 0, VA_A)->paddr, VA_A);

    /* Without a victim table the same pattern refills every time. */
    ck_assert(tlb_set_geometry(m.t, 4, 0, false, &err));
    TT_NO_ERROR(err);
    tlb_reset_stats(m.t);
    for (int round = 0; round < 3; round++) {
        ck_assert_uint_eq(tt_ld(m.t, VA_A, 4, 0, 0), ram_pat_le(VA_A, 4, 0x11));
        ck_assert_uint_eq(tt_ld(m.t, VA_B, 4, 0, 0), ram_pat_le(VA_B, 4, 0x11));
    }
    s = tt_stats(m.t, 0);
    ck_assert_uint_eq(s.fills, 6);
    ck_assert_uint_eq(s.misses, 6);
    ck_assert_uint_eq(s.victim_hits, 0);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

/* A page flush reaches an entry waiting in the victim table. */
START_TEST(test_flush_page_reaches_victim)
{
    M m;
    m_new(&m);
    ck_assert(tlb_set_geometry(m.t, 4, 8, false, NULL));
    tt_map(m.cpu, VA_A, 0x8000, 0x1000, TT_PAGE, TT_PROT_RWX);
    ck_assert_uint_eq(tt_ld(m.t, VA_A, 4, 0, 0), ram_pat_le(0x8000, 4, 0x11));
    ck_assert_uint_eq(tt_ld(m.t, VA_B, 4, 0, 0), ram_pat_le(VA_B, 4, 0x11)); /* A -> victim */
    /* The guest remaps A and flushes it. */
    tt_map(m.cpu, VA_A, 0x9000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tlb_flush_page(m.t, VA_A);
    ck_assert_uint_eq(tt_ld(m.t, VA_A, 4, 0, 0), ram_pat_le(0x9000, 4, 0x11));
    ck_assert_uint_eq(tt_stats(m.t, 0).victim_hits, 0);
    /* Same with a range flush and an index flush. */
    ck_assert_uint_eq(tt_ld(m.t, VA_B, 4, 0, 0), ram_pat_le(VA_B, 4, 0x11)); /* victim hit */
    tt_map(m.cpu, VA_A, 0xa000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tlb_flush_range_by_mmuidx(m.t, VA_A, 0x1000, 1);
    ck_assert_uint_eq(tt_ld(m.t, VA_A, 4, 0, 0), ram_pat_le(0xa000, 4, 0x11));
    tt_map(m.cpu, VA_A, 0xb000, 0x1000, TT_PAGE, TT_PROT_RWX);
    ck_assert_uint_eq(tt_ld(m.t, VA_B, 4, 0, 0), ram_pat_le(VA_B, 4, 0x11));
    tlb_flush_by_mmuidx(m.t, 1);
    ck_assert_uint_eq(tt_ld(m.t, VA_A, 4, 0, 0), ram_pat_le(0xb000, 4, 0x11));
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Flushes */

static void touch(CpuTlb *t, unsigned idx, uint64_t va)
{
    uint64_t v;
    ck_assert(tlb_load(t, va, 4, idx, 0, &v));
}

/* Load and report whether it was a fast-path hit (hits +1, misses +0). */
static bool hits(CpuTlb *t, unsigned idx, uint64_t va)
{
    TlbStats a = tt_stats(t, idx);
    touch(t, idx, va);
    TlbStats b = tt_stats(t, idx);
    return b.hits == a.hits + 1 && b.misses == a.misses;
}

static void m_two_idx(M *m)
{
    TlbConfig cfg = tt_config(2, 256, 8, false);
    m_init(m, &cfg, NULL);
}

START_TEST(test_flush_all_and_by_mmuidx)
{
    M m;
    m_two_idx(&m);
    for (unsigned i = 0; i < 2; i++) {
        touch(m.t, i, 0x1000);
        touch(m.t, i, 0x2000);
    }
    tlb_flush_by_mmuidx(m.t, 1u << 1);
    ck_assert(!tt_cached(m.t, 1, 0x1000, TLB_READ));
    ck_assert(!tt_cached(m.t, 1, 0x2000, TLB_READ));
    ck_assert(hits(m.t, 0, 0x1000));
    ck_assert(hits(m.t, 0, 0x2000));
    ck_assert(!hits(m.t, 1, 0x1000));
    ck_assert(hits(m.t, 1, 0x1000));
    ck_assert_uint_eq(tt_stats(m.t, 1).flush_mmuidx, 1);
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_mmuidx, 0);
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_all + tt_stats(m.t, 1).flush_all, 0);

    tlb_flush(m.t);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert(!tt_cached(m.t, i, 0x1000, TLB_READ));
        ck_assert(!tt_cached(m.t, i, 0x2000, TLB_READ));
        ck_assert_uint_eq(tt_stats(m.t, i).flush_all, 1);
        ck_assert(!hits(m.t, i, 0x2000));
        ck_assert(hits(m.t, i, 0x2000));
    }
    ck_assert_uint_eq(tt_stats(m.t, 1).flush_mmuidx, 1);
    m_free(&m);
}
END_TEST

/* Global translations survive tlb_flush_nonglobal_by_mmuidx, in the main
 * table and in the victim table; the others go, in the listed indexes only. */
START_TEST(test_flush_nonglobal)
{
    M m;
    m_two_idx(&m);
    GError *err = NULL;
    ck_assert(tlb_set_geometry(m.t, 4, 8, false, &err));   /* 4 slots: force victims */
    TT_NO_ERROR(err);
    tt_map_global(m.cpu, 0x1000, 0x1000, 0x1000, TT_PAGE, TLB_PROT_READ | TLB_PROT_WRITE);
    tt_map_global(m.cpu, 0x5000, 0x5000, 0x1000, TT_PAGE, TLB_PROT_READ | TLB_PROT_WRITE);
    for (unsigned i = 0; i < 2; i++) {
        touch(m.t, i, 0x1000);   /* slot 1, global: evicted to the victim table below */
        touch(m.t, i, 0x5000);   /* slot 1, global */
        touch(m.t, i, 0x2000);   /* slot 2, not global */
        touch(m.t, i, 0x6000);   /* slot 2, not global; 0x2000 goes to the victims */
    }
    ck_assert(tlb_peek_full(m.t, 0, 0x5000)->global);
    ck_assert(!tlb_peek_full(m.t, 0, 0x6000)->global);
    tlb_flush_nonglobal_by_mmuidx(m.t, 1u << 0);
    /* Main table: the global page stays, the other goes. */
    ck_assert(tt_cached(m.t, 0, 0x5000, TLB_READ));
    ck_assert(!tt_cached(m.t, 0, 0x6000, TLB_READ));
    ck_assert(tt_cached(m.t, 1, 0x5000, TLB_READ));   /* index 1 untouched */
    ck_assert(tt_cached(m.t, 1, 0x6000, TLB_READ));
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_mmuidx, 1);
    /* Victim table: 0x1000 (global) is found without a walk, 0x2000 is not. */
    tt_clear_log(m.cpu);
    touch(m.t, 0, 0x5000);
    touch(m.t, 0, 0x1000);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 0);
    touch(m.t, 0, 0x2000);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    m_free(&m);
}
END_TEST

START_TEST(test_flush_page_kinds)
{
    M m;
    m_two_idx(&m);
    for (unsigned i = 0; i < 2; i++) {
        for (uint64_t p = 0x1000; p <= 0x3000; p += 0x1000) {
            touch(m.t, i, p);
        }
    }
    tlb_flush_page(m.t, 0x2abc);
    for (unsigned i = 0; i < 2; i++) {
        ck_assert(!tt_cached(m.t, i, 0x2000, TLB_READ));
        ck_assert(hits(m.t, i, 0x1000));
        ck_assert(hits(m.t, i, 0x3000));
        ck_assert(!hits(m.t, i, 0x2000));
        ck_assert_uint_eq(tt_stats(m.t, i).flush_page, 1);
    }
    tlb_flush_page_by_mmuidx(m.t, 0x3000, 1u << 0);
    ck_assert(!tt_cached(m.t, 0, 0x3000, TLB_READ));
    ck_assert(tt_cached(m.t, 1, 0x3000, TLB_READ));
    ck_assert(hits(m.t, 1, 0x3000));
    ck_assert(hits(m.t, 0, 0x2000));
    ck_assert(!hits(m.t, 0, 0x3000));
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_page, 2);
    ck_assert_uint_eq(tt_stats(m.t, 1).flush_page, 1);
    /* A page flush of a page that is not cached changes nothing else. */
    tlb_flush_page(m.t, 0x9000);
    ck_assert(hits(m.t, 0, 0x1000));
    ck_assert(hits(m.t, 1, 0x1000));
    m_free(&m);
}
END_TEST

START_TEST(test_flush_range)
{
    M m;
    m_two_idx(&m);
    for (unsigned i = 0; i < 2; i++) {
        for (uint64_t p = 0x10000; p < 0x18000; p += 0x1000) {
            touch(m.t, i, p);
        }
    }
    /* [0x12800, 0x14800) touches pages 0x12000, 0x13000 and 0x14000. */
    tlb_flush_range_by_mmuidx(m.t, 0x12800, 0x2000, 1u << 0);
    for (uint64_t p = 0x10000; p < 0x18000; p += 0x1000) {
        bool in = p >= 0x12000 && p <= 0x14000;
        ck_assert_msg(tt_cached(m.t, 0, p, TLB_READ) == !in, "idx 0 page 0x%" PRIx64, p);
        ck_assert_msg(tt_cached(m.t, 1, p, TLB_READ), "idx 1 page 0x%" PRIx64, p);
    }
    ck_assert(hits(m.t, 0, 0x11000));
    ck_assert(hits(m.t, 0, 0x15000));
    ck_assert(!hits(m.t, 0, 0x12000));
    ck_assert(!hits(m.t, 0, 0x14000));
    ck_assert(hits(m.t, 1, 0x13000));
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_range, 1);
    ck_assert_uint_eq(tt_stats(m.t, 1).flush_range, 0);
    /* Both indexes, a range wider than the table: everything goes. */
    tlb_flush_range_by_mmuidx(m.t, 0, 1ull << 40, TLB_ALL_MMUIDX);
    for (unsigned i = 0; i < 2; i++) {
        for (uint64_t p = 0x10000; p < 0x18000; p += 0x1000) {
            ck_assert(!tt_cached(m.t, i, p, TLB_READ));
        }
    }
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_range, 2);
    ck_assert_uint_eq(tt_stats(m.t, 1).flush_range, 1);
    /* An empty range flushes nothing. */
    touch(m.t, 0, 0x10000);
    tlb_flush_range_by_mmuidx(m.t, 0x10000, 0, TLB_ALL_MMUIDX);
    ck_assert(hits(m.t, 0, 0x10000));
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Large pages */

#define LARGE_VA 0x40000000ull
#define LARGE_PA 0x200000ull
#define LARGE_SIZE 0x200000ull

START_TEST(test_large_pages)
{
    M m;
    m_new(&m);
    tt_map(m.cpu, LARGE_VA, LARGE_PA, LARGE_SIZE, LARGE_SIZE, TT_PROT_RWX);
    static const uint64_t offs[] = { 0x0, 0x1000, 0x5000, 0x1ff000 };
    for (unsigned k = 0; k < 4; k++) {
        ck_assert_uint_eq(tt_ld(m.t, LARGE_VA + offs[k] + 4, 4, 0, 0),
                          ram_pat_le(LARGE_PA + offs[k] + 4, 4, 0x11));
        ck_assert_uint_eq(tlb_peek_full(m.t, 0, LARGE_VA + offs[k])->lg_page_size, 21);
        ck_assert_uint_eq(tlb_peek_full(m.t, 0, LARGE_VA + offs[k])->paddr, LARGE_PA + offs[k]);
    }
    touch(m.t, 0, 0x80000); /* ordinary small pages (slots 0x80, 0x82: no collision) */
    touch(m.t, 0, 0x82000);
    for (unsigned k = 0; k < 4; k++) {
        ck_assert(hits(m.t, 0, LARGE_VA + offs[k]));
    }
    ck_assert(hits(m.t, 0, 0x80000));

    /* Flushing a 4 KiB page inside the large page drops all of it. */
    tlb_flush_page(m.t, LARGE_VA + 0x3000);
    for (unsigned k = 0; k < 4; k++) {
        ck_assert_msg(!tt_cached(m.t, 0, LARGE_VA + offs[k], TLB_READ),
                      "large page piece +0x%" PRIx64 " survived a flush inside it", offs[k]);
    }
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_page, 1);
    uint64_t walks = tt_nwalks(m.cpu);
    for (unsigned k = 0; k < 4; k++) {
        ck_assert(!hits(m.t, 0, LARGE_VA + offs[k]));
    }
    ck_assert_uint_eq(tt_nwalks(m.cpu), walks + 4);

    /* A flush outside only drops that page. */
    touch(m.t, 0, 0x80000);
    touch(m.t, 0, 0x82000);
    tlb_flush_page(m.t, 0x82000);
    ck_assert(!tt_cached(m.t, 0, 0x82000, TLB_READ));
    ck_assert(hits(m.t, 0, 0x80000));
    for (unsigned k = 0; k < 4; k++) {
        ck_assert(hits(m.t, 0, LARGE_VA + offs[k]));
    }
    /* A range flush that overlaps the large page also drops all of it. */
    tlb_flush_range_by_mmuidx(m.t, LARGE_VA + LARGE_SIZE - 0x800, 0x1000, TLB_ALL_MMUIDX);
    for (unsigned k = 0; k < 4; k++) {
        ck_assert(!tt_cached(m.t, 0, LARGE_VA + offs[k], TLB_READ));
    }
    /* The guest remaps the large page and flushes one address of it. */
    for (unsigned k = 0; k < 4; k++) {
        touch(m.t, 0, LARGE_VA + offs[k]);
    }
    tt_map(m.cpu, LARGE_VA, LARGE_PA + LARGE_SIZE, LARGE_SIZE, LARGE_SIZE, TT_PROT_RWX);
    tlb_flush_page(m.t, LARGE_VA);
    for (unsigned k = 0; k < 4; k++) {
        ck_assert_uint_eq(tt_ld(m.t, LARGE_VA + offs[k] + 8, 4, 0, 0),
                          ram_pat_le(LARGE_PA + LARGE_SIZE + offs[k] + 8, 4, 0x11));
    }
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Geometry and resizing */

static void touch_pages(CpuTlb *t, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        touch(t, 0, 0x100000 + (uint64_t)i * TT_PAGE);
    }
}

START_TEST(test_dynamic_resize)
{
    M m;
    TlbConfig cfg = tt_config(1, 64, 8, true);
    cfg.min_entries = 64;
    cfg.max_entries = 1024;
    m_init(&m, &cfg, NULL);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 64);
    /* 46 of 64 (> 70%) used since the last flush: the flush doubles the table. */
    touch_pages(m.t, 46);
    tlb_flush(m.t);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 128);
    ck_assert_uint_eq(tt_stats(m.t, 0).resizes, 1);
    /* The new table is empty and works. */
    ck_assert(!hits(m.t, 0, 0x100000));
    ck_assert(hits(m.t, 0, 0x100000));
    /* Busy again: 128 -> 256. */
    touch_pages(m.t, 100);
    tlb_flush(m.t);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 256);
    ck_assert_uint_eq(tt_stats(m.t, 0).resizes, 2);
    /* Four flushes in a row with little use halve it; three do not. */
    for (int i = 0; i < 3; i++) {
        touch_pages(m.t, 2);
        tlb_flush(m.t);
        ck_assert_uint_eq(tlb_entries(m.t, 0), 256);
    }
    touch_pages(m.t, 2);
    tlb_flush(m.t);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 128);
    ck_assert_uint_eq(tt_stats(m.t, 0).resizes, 3);
    ck_assert_uint_eq(tt_stats(m.t, 0).flush_all, 6);
    /* Never below the minimum. */
    for (int i = 0; i < 12; i++) {
        tlb_flush(m.t);
    }
    ck_assert_uint_eq(tlb_entries(m.t, 0), 64);
    ck_assert_uint_eq(tt_stats(m.t, 0).resizes, 4);
    /* Never above the maximum. */
    for (int i = 0; i < 6; i++) {
        touch_pages(m.t, tlb_entries(m.t, 0));
        tlb_flush(m.t);
    }
    ck_assert_uint_eq(tlb_entries(m.t, 0), 1024);
    ck_assert(hits(m.t, 0, 0x100000) == false);
    m_free(&m);
}
END_TEST

START_TEST(test_resize_off)
{
    M m;
    TlbConfig cfg = tt_config(1, 64, 8, false);
    m_init(&m, &cfg, NULL);
    touch_pages(m.t, 60);
    tlb_flush(m.t);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 64);
    for (int i = 0; i < 8; i++) {
        tlb_flush(m.t);
    }
    ck_assert_uint_eq(tlb_entries(m.t, 0), 64);
    ck_assert_uint_eq(tt_stats(m.t, 0).resizes, 0);
    /* Turning it on at run time. */
    GError *err = NULL;
    ck_assert(tlb_set_geometry(m.t, 64, 8, true, &err));
    TT_NO_ERROR(err);
    touch_pages(m.t, 60);
    tlb_flush(m.t);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 128);
    m_free(&m);
}
END_TEST

START_TEST(test_set_geometry)
{
    M m;
    m_new(&m);
    touch(m.t, 0, 0x1000);
    GError *err = NULL;
    /* Errors leave the TLB as it was. */
    ck_assert(!tlb_set_geometry(m.t, 3, 8, false, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert(err->domain == MEM_ERROR);
    ck_assert_int_eq(err->code, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err->message, "entries"));
    g_clear_error(&err);
    ck_assert(!tlb_set_geometry(m.t, 1, 8, false, &err));
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
    ck_assert(!tlb_set_geometry(m.t, 0, 8, false, &err));
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
    ck_assert(!tlb_set_geometry(m.t, 64, 65, false, &err));
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
    /* The cached page survived the refused calls. */
    ck_assert_uint_eq(tlb_entries(m.t, 0), 256);
    ck_assert(hits(m.t, 0, 0x1000));
    /* A valid change flushes and takes effect; statistics are kept. */
    ck_assert(tlb_set_geometry(m.t, 16, 0, false, &err));
    TT_NO_ERROR(err);
    ck_assert_uint_eq(tlb_entries(m.t, 0), 16);
    ck_assert(!tt_cached(m.t, 0, 0x1000, TLB_READ));
    ck_assert_uint_eq(tt_stats(m.t, 0).fills, 1);
    ck_assert(!hits(m.t, 0, 0x1000));
    ck_assert(hits(m.t, 0, 0x1000));
    ck_assert_uint_eq(tlb_entries(m.t, 5), 0); /* an index the TLB does not have */
    m_free(&m);
}
END_TEST

static void expect_new_fails(AddressSpace *as, const TlbConfig *cfg, const TlbTargetOps *ops,
                             const char *what)
{
    GError *err = NULL;
    TtCpu *c = tt_cpu_new(0, true);
    CpuTlb *t = tlb_new(as, cfg, ops, c, &err);
    ck_assert_msg(t == NULL, "tlb_new accepted %s", what);
    ck_assert_msg(err != NULL, "tlb_new refused %s without a GError", what);
    ck_assert(err->domain == MEM_ERROR);
    ck_assert_int_eq(err->code, MEM_ERROR_INVALID_ARGUMENT);
    ck_assert(err->message && err->message[0]);
    g_clear_error(&err);
    /* A NULL GError** is fine too. */
    ck_assert_ptr_null(tlb_new(as, cfg, ops, c, NULL));
    tt_cpu_free(c);
}

START_TEST(test_tlb_new_errors)
{
    M m;
    m_new(&m);
    TlbConfig cfg;
    cfg = tt_config(0, 256, 8, true);
    expect_new_fails(m.as, &cfg, &tt_ops, "nb_mmu_idx 0");
    cfg = tt_config(17, 256, 8, true);
    expect_new_fails(m.as, &cfg, &tt_ops, "nb_mmu_idx 17");
    cfg = tt_config(1, 256, 8, true);
    cfg.page_bits = 9;
    expect_new_fails(m.as, &cfg, &tt_ops, "page_bits 9");
    cfg.page_bits = 17;
    expect_new_fails(m.as, &cfg, &tt_ops, "page_bits 17");
    cfg = tt_config(1, 3, 8, true);
    expect_new_fails(m.as, &cfg, &tt_ops, "entries 3");
    cfg = tt_config(1, 1, 8, true);
    expect_new_fails(m.as, &cfg, &tt_ops, "entries 1");
    cfg = tt_config(1, 256, 65, true);
    expect_new_fails(m.as, &cfg, &tt_ops, "victim 65");
    cfg = tt_config(1, 256, 8, true);
    cfg.min_entries = 512;
    cfg.max_entries = 128;
    expect_new_fails(m.as, &cfg, &tt_ops, "min > max");
    cfg.min_entries = 48;
    cfg.max_entries = 4096;
    expect_new_fails(m.as, &cfg, &tt_ops, "min 48");
    cfg = tt_config(1, 256, 8, true);
    expect_new_fails(NULL, &cfg, &tt_ops, "no address space");
    expect_new_fails(m.as, &cfg, NULL, "no ops");
    TlbTargetOps no_walk = { .raise_fault = tt_raise_fault };
    expect_new_fails(m.as, &cfg, &no_walk, "no page_walk");
    TlbTargetOps no_raise = { .page_walk = tt_page_walk };
    expect_new_fails(m.as, &cfg, &no_raise, "no raise_fault");

    /* NULL config: the defaults. */
    TtCpu *c = tt_cpu_new(0, true);
    CpuTlb *t = tt_tlb(m.as, NULL, &tt_ops, c);
    TlbConfig def;
    tlb_config_default(&def);
    ck_assert_uint_eq(tlb_entries(t, 0), def.entries);
    ck_assert_uint_eq(tlb_entries(t, 1), 0);
    ck_assert_ptr_eq(tlb_address_space(t), m.as);
    ck_assert_uint_eq(tt_ld(t, 0x1000, 4, 0, 0), ram_pat_le(0x1000, 4, 0x11));
    /* Other page sizes: 1 KiB and 64 KiB pages. */
    TlbConfig small = tt_config(1, 64, 4, false);
    small.page_bits = 10;
    TtCpu *c2 = tt_cpu_new(0, true);
    CpuTlb *t2 = tt_tlb(m.as, &small, &tt_ops, c2);
    ck_assert_uint_eq(tt_ld(t2, 0x13fc, 4, 0, 0), ram_pat_le(0x13fc, 4, 0x11));
    ck_assert_uint_eq(tt_ld(t2, 0x13fe, 4, 0, 0), ram_pat_le(0x13fe, 4, 0x11)); /* crosses 1 KiB */
    ck_assert_uint_eq(tt_stats(t2, 0).fills, 2);
    tlb_free(t2);
    tt_cpu_free(c2);
    TlbConfig big = tt_config(1, 64, 4, false);
    big.page_bits = 16;
    c2 = tt_cpu_new(0, true);
    t2 = tt_tlb(m.as, &big, &tt_ops, c2);
    ck_assert_uint_eq(tt_ld(t2, 0x1fffc, 4, 0, 0), ram_pat_le(0x1fffc, 4, 0x11));
    ck_assert_uint_eq(tt_ld(t2, 0x10000, 4, 0, 0), ram_pat_le(0x10000, 4, 0x11));
    ck_assert_uint_eq(tt_stats(t2, 0).fills, 1);
    ck_assert_uint_eq(tt_stats(t2, 0).hits, 1);
    tlb_free(t2);
    tt_cpu_free(c2);
    tlb_free(t);
    tt_cpu_free(c);
    tlb_free(NULL);
    m_free(&m);
}
END_TEST

/* An access to an index the TLB does not have is refused with a fault, not a crash. */
START_TEST(test_invalid_mmu_idx_and_size)
{
    M m;
    m_new(&m);
    uint64_t v;
    ck_assert(!tlb_load(m.t, 0x1000, 4, 1, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    ck_assert(!tlb_store(m.t, 0x1000, 4, 15, 0, 0));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 2);
    ck_assert(!tlb_load(m.t, 0x1000, 3, 0, 0, &v));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 3);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 0);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Code fetch */

START_TEST(test_translate_code)
{
    M m;
    m_new(&m);
    uint64_t pa = 0;
    const uint8_t *host = NULL;
    uint64_t left = 0;
    ck_assert(tlb_translate_code(m.t, 0x1234, 0, &pa, &host, &left));
    ck_assert_uint_eq(pa, 0x1234);
    ck_assert_ptr_eq(host, ram(&m, 0x1234));
    ck_assert_uint_eq(left, 0x1000 - 0x234);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);
    ck_assert_int_eq(tt_walk_at(m.cpu, 0)->access, TLB_EXEC);
    ck_assert_uint_eq(tt_tag(m.t, 0, 0x1000, TLB_EXEC), 0x1000);
    /* Second translation of the page: no walk. */
    ck_assert(tlb_translate_code(m.t, 0x1ff0, 0, &pa, &host, &left));
    ck_assert_uint_eq(left, 0x10);
    ck_assert_uint_eq(tt_nwalks(m.cpu), 1);

    /* Non-identity. */
    tt_map(m.cpu, 0x400000, 0x2000, 0x1000, TT_PAGE, TLB_PROT_READ | TLB_PROT_EXEC);
    ck_assert(tlb_translate_code(m.t, 0x400010, 0, &pa, &host, &left));
    ck_assert_uint_eq(pa, 0x2010);
    ck_assert_ptr_eq(host, ram(&m, 0x2010));

    /* MMIO: a physical address but no host pointer. */
    ck_assert(tlb_translate_code(m.t, DEV_BASE + 0x40, 0, &pa, &host, &left));
    ck_assert_uint_eq(pa, DEV_BASE + 0x40);
    ck_assert_ptr_null(host);
    ck_assert_uint_eq(left, 0x1000 - 0x40);
    ck_assert_uint_eq(tt_dev_n(m.dev), 0);

    /* No execute permission: the fetch faults as an EXEC access. */
    tt_map(m.cpu, 0x600000, 0x4000, 0x1000, TT_PAGE, TLB_PROT_READ | TLB_PROT_WRITE);
    ck_assert_uint_eq(tt_ld(m.t, 0x600000, 4, 0, 0), ram_pat_le(0x4000, 4, 0x11));
    ck_assert(!tlb_translate_code(m.t, 0x600010, 0, &pa, &host, &left));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_TRANSLATION, 0x600010, TLB_EXEC, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->target_code, TT_CODE_PERM);
    ck_assert_int_eq(tt_walk_at(m.cpu, tt_nwalks(m.cpu) - 1)->access, TLB_EXEC);
    m_free(&m);
}
END_TEST

START_TEST(test_fetch_bytes)
{
    M m;
    m_new(&m);
    uint8_t buf[16];
    /* Across a page boundary, and across physical pages that are not adjacent. */
    ck_assert(tlb_fetch_bytes(m.t, 0x1ffc, 0, buf, 8));
    ck_assert_mem_eq(buf, ram(&m, 0x1ffc), 8);
    tt_map(m.cpu, 0x800000, 0x9000, 0x1000, TT_PAGE, TT_PROT_RWX);
    tt_map(m.cpu, 0x801000, 0x4000, 0x1000, TT_PAGE, TT_PROT_RWX);
    ck_assert(tlb_fetch_bytes(m.t, 0x800ffa, 0, buf, 16));
    ck_assert_mem_eq(buf, ram(&m, 0x9ffa), 6);
    ck_assert_mem_eq(buf + 6, ram(&m, 0x4000), 10);
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);

    /* The second page is not executable: the fault names it. */
    tt_map(m.cpu, 0x601000, 0x5000, 0x1000, TT_PAGE, TLB_PROT_READ);
    tt_map(m.cpu, 0x600000, 0x4000, 0x1000, TT_PAGE, TT_PROT_RWX);
    ck_assert(!tlb_fetch_bytes(m.t, 0x600ffc, 0, buf, 8));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_TRANSLATION, 0x601000, TLB_EXEC, 0);
    /* Code in a device is fetched through it. */
    ck_assert(tlb_fetch_bytes(m.t, DEV_BASE + 0x100, 0, buf, 4));
    ck_assert_uint_ge(tt_dev_n(m.dev), 1);
    ck_assert_uint_eq(tt_dev_at(m.dev, 0)->offset, 0x100);
    ck_assert(!tt_dev_at(m.dev, 0)->write);
    m_free(&m);
}
END_TEST

/* tlb_probe translates without accessing and never raises a fault. */
START_TEST(test_probe)
{
    M m;
    m_new(&m);
    tt_map(m.cpu, 0x400000, 0x2000, 0x1000, TT_PAGE, TLB_PROT_READ);
    uint64_t pa = 0;
    ck_assert(tlb_probe(m.t, 0x400123, TLB_READ, 0, &pa));
    ck_assert_uint_eq(pa, 0x2123);
    ck_assert_int_eq(tt_walk_at(m.cpu, 0)->access, TLB_READ);
    ck_assert(!tlb_probe(m.t, 0x400123, TLB_WRITE, 0, &pa));   /* read-only */
    ck_assert(!tlb_probe(m.t, 1ull << 40, TLB_READ, 0, &pa));  /* unmapped */
    ck_assert(!tlb_probe(m.t, 0x400123, TLB_READ, 3, &pa));    /* no such index */
    ck_assert_uint_eq(tt_nfaults(m.cpu), 0);
    ck_assert(tlb_probe(m.t, DEV_BASE + 8, TLB_READ, 0, &pa));
    ck_assert_uint_eq(pa, DEV_BASE + 8);
    ck_assert_uint_eq(tt_dev_n(m.dev), 0);
    /* Translating code on an unmapped page raises an EXEC translation fault. */
    const uint8_t *host;
    uint64_t left;
    ck_assert(!tlb_translate_code(m.t, (1ull << 40) + 4, 0, &pa, &host, &left));
    ck_assert_uint_eq(tt_nfaults(m.cpu), 1);
    TT_EXPECT_FAULT(m.cpu, 0, TLB_FAULT_TRANSLATION, (1ull << 40) + 4, TLB_EXEC, 0);
    ck_assert_uint_eq(tt_fault(m.cpu, 0)->target_code, TT_CODE_UNMAPPED);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Dump */

static unsigned count_lines_with(const char *text, const char *needle)
{
    unsigned n = 0;
    gchar **lines = g_strsplit(text, "\n", -1);
    for (gchar **l = lines; *l; l++) {
        if (strstr(*l, needle)) {
            n++;
        }
    }
    g_strfreev(lines);
    return n;
}

START_TEST(test_dump)
{
    M m;
    m_two_idx(&m);
    touch(m.t, 0, 0x1000);
    touch(m.t, 0, 0x2000);
    touch(m.t, 0, DEV_BASE);
    touch(m.t, 1, 0x1000);
    GString *g = g_string_new(NULL);
    tlb_dump(m.t, g, false);
    ck_assert_ptr_nonnull(strstr(g->str, "hits"));
    ck_assert_ptr_nonnull(strstr(g->str, "misses"));
    ck_assert_ptr_nonnull(strstr(g->str, "fills"));
    ck_assert_uint_eq(count_lines_with(g->str, "tlbram"), 0);
    g_string_truncate(g, 0);
    tlb_dump(m.t, g, true);
    ck_assert_ptr_nonnull(strstr(g->str, "hits"));
    ck_assert_uint_eq(count_lines_with(g->str, "tlbram"), 3);  /* two in idx 0, one in idx 1 */
    ck_assert_uint_eq(count_lines_with(g->str, "tlbdev"), 1);
    ck_assert_uint_eq(count_lines_with(g->str, "tlbrom"), 0);
    g_string_free(g, TRUE);
    m_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *tlb_suite(void)
{
    Suite *s = suite_create("tlb");
    TCase *tc = tt_tcase(s, "ram");
    tcase_add_test(tc, test_ram_miss_then_hit);
    tcase_add_test(tc, test_ram_store_miss_then_hit);
    tcase_add_test(tc, test_ram_sizes_and_endianness);
    tc = tt_tcase(s, "rom");
    tcase_add_test(tc, test_rom_reads_and_dropped_writes);
    tcase_add_test(tc, test_rom_cold_store_dropped);
    tc = tt_tcase(s, "mmio");
    tcase_add_test(tc, test_mmio_load_store);
    tcase_add_test(tc, test_subpage_mmio_single_access);
    tcase_add_test(tc, test_romd_modes);
    tc = tt_tcase(s, "unassigned");
    tcase_add_test(tc, test_unassigned_default_ignored);
    tcase_add_test(tc, test_unassigned_bus_error_hook);
    tcase_add_test(tc, test_device_error_faults_by_default);
    tcase_add_test(tc, test_device_error_ignored_by_hook);
    tc = tt_tcase(s, "faults");
    tcase_add_test(tc, test_translation_fault);
    tcase_add_test(tc, test_write_permission);
    tcase_add_test(tc, test_alignment);
    tc = tt_tcase(s, "crossing");
    tcase_add_test(tc, test_page_crossing);
    tcase_add_test(tc, test_page_crossing_second_page_faults);
    tc = tt_tcase(s, "victim");
    tcase_add_test(tc, test_victim_swaps);
    tcase_add_test(tc, test_flush_page_reaches_victim);
    tc = tt_tcase(s, "flush");
    tcase_add_test(tc, test_flush_all_and_by_mmuidx);
    tcase_add_test(tc, test_flush_nonglobal);
    tcase_add_test(tc, test_flush_page_kinds);
    tcase_add_test(tc, test_flush_range);
    tcase_add_test(tc, test_large_pages);
    tc = tt_tcase(s, "geometry");
    tcase_add_test(tc, test_dynamic_resize);
    tcase_add_test(tc, test_resize_off);
    tcase_add_test(tc, test_set_geometry);
    tcase_add_test(tc, test_tlb_new_errors);
    tcase_add_test(tc, test_invalid_mmu_idx_and_size);
    tc = tt_tcase(s, "code");
    tcase_add_test(tc, test_translate_code);
    tcase_add_test(tc, test_fetch_bytes);
    tcase_add_test(tc, test_probe);
    tc = tt_tcase(s, "dump");
    tcase_add_test(tc, test_dump);
    return s;
}

int main(void)
{
    return tt_run(tlb_suite());
}
