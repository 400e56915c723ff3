/*
 * Tests of the x86 page-table walker (targets/x86/x86_paging.c).
 *
 * Page tables are built in a RAM region of a test address space with
 * as_write_val (through the builder below), then walks are checked for the
 * translation, the protection returned for the TLB, the page size, the
 * accessed/dirty flags written back (and not written on faults) and the
 * exact #PF error codes. The last test compares random 32-bit, PAE and
 * 4/5-level tables against a reference written from the SDM's prose.
 *
 * Physical map: RAM [0, 16 MiB), a recording MMIO device at 32 MiB, a ROM
 * page at 33 MiB; everything else is unassigned (reads as all-ones).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

#include "targets/x86/x86_paging.h"
#include "tlb/tlb.h"

#define RAM_SIZE    (16ull << 20)
#define PT_AREA     0x100000ull     /* page tables are allocated from here */
#define MMIO_BASE   0x2000000ull
#define ROM_BASE    0x2100000ull
#define UNASSIGNED  0x80000000ull

#define P   X86_PTE_P
#define RW  X86_PTE_RW
#define US  X86_PTE_US
#define A   X86_PTE_A
#define D   X86_PTE_D
#define PS  X86_PTE_PS
#define XD  X86_PTE_XD

#define PR  TLB_PROT_READ
#define PW  TLB_PROT_WRITE
#define PX  TLB_PROT_EXEC

#define RD  X86_ACC_READ
#define WR  X86_ACC_WRITE
#define EX  X86_ACC_FETCH
#define USER true
#define SUP  false

#define EC_P    X86_PF_P
#define EC_W    X86_PF_W
#define EC_U    X86_PF_U
#define EC_RSVD X86_PF_RSVD
#define EC_ID   X86_PF_ID

/* ------------------------------------------------------------------ */
/* Fixture. */

static MemRegion *g_root;
static AddressSpace *g_as;
static uint8_t *g_ram;
static uint8_t *g_rom;
static TuDev *g_dev;
static uint64_t g_next_table;

static void setup(void)
{
    tu_setup();
    g_root = tu_container("root", MEM_SIZE_FULL);
    MemRegion *ram = tu_put(g_root, 0, tu_ram("ram", RAM_SIZE, 0), 0);
    g_ram = mr_ram_ptr(ram);
    g_dev = tu_dev_simple();
    tu_put(g_root, MMIO_BASE, tu_mmio("ptdev", TU_DEV_MEM, g_dev), 0);
    GError *err = NULL;
    MemRegion *rom = mr_new_rom("ptrom", 0x1000, &err);
    TU_ASSERT_NO_ERROR(err);
    g_rom = mr_ram_ptr(rom);
    tu_put(g_root, ROM_BASE, rom, 0);
    g_as = tu_as("cpu0", g_root);
    g_next_table = PT_AREA;
}

static void teardown(void)
{
    as_free(g_as);
    mr_unref(g_root);
    tu_dev_free(g_dev);
    tu_teardown();
}

static uint64_t rd(uint64_t addr, unsigned size)
{
    return tu_rd(g_as, addr, size);
}

static void wr(uint64_t addr, unsigned size, uint64_t v)
{
    tu_wr(g_as, addr, size, v);
}

/* A fresh zeroed 4 KiB table in RAM. */
static uint64_t pt_alloc(void)
{
    ck_assert(g_next_table + 0x1000 <= RAM_SIZE);
    uint64_t a = g_next_table;
    g_next_table += 0x1000;
    memset(g_ram + a, 0, 0x1000);
    return a;
}

/* ------------------------------------------------------------------ */
/* Page-table builder. Levels: 1 = PT, 2 = PD, 3 = PDPT, 4 = PML4, 5 = PML5. */

typedef enum PgMode { PM_32, PM_PAE, PM_4, PM_5 } PgMode;

typedef struct Pg {
    PgMode mode;
    uint64_t root;          /* PD, PDPT (at +0x20 in its page, to test CR3[4:0]), PML4, PML5 */
    X86PagingState st;
} Pg;

/* Defaults: WP=1, CR4.PSE for 32-bit paging, EFER.NXE for the others. */
static Pg pg_new(PgMode mode)
{
    Pg p = { .mode = mode };
    p.root = pt_alloc() + (mode == PM_PAE ? 0x20 : 0);
    p.st.cr0 = X86_CR0_PG | X86_CR0_WP | 1 /* PE */;
    p.st.cr3 = p.root;
    switch (mode) {
    case PM_32:
        p.st.cr4 = X86_CR4_PSE;
        break;
    case PM_PAE:
        p.st.cr4 = X86_CR4_PAE;
        p.st.efer = X86_EFER_NXE;
        break;
    case PM_4:
        p.st.cr4 = X86_CR4_PAE;
        p.st.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
        break;
    case PM_5:
        p.st.cr4 = X86_CR4_PAE | X86_CR4_LA57;
        p.st.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
        break;
    }
    return p;
}

static unsigned pg_esize(const Pg *p)
{
    return p->mode == PM_32 ? 4 : 8;
}

static int pg_top(const Pg *p)
{
    static const int top[] = { [PM_32] = 2, [PM_PAE] = 3, [PM_4] = 4, [PM_5] = 5 };
    return top[p->mode];
}

static uint64_t pg_index(const Pg *p, uint64_t va, int level)
{
    if (p->mode == PM_32) {
        return (va >> (12 + 10 * (level - 1))) & 0x3ff;
    }
    if (p->mode == PM_PAE && level == 3) {
        return (va >> 30) & 3;
    }
    return (va >> (12 + 9 * (level - 1))) & 0x1ff;
}

/* Address of the entry at `level` for va, creating the tables above it
 * (intermediate entries P|RW|US, or just P for PAE PDPTEs; A/D clear). */
static uint64_t pg_entry_addr(Pg *p, uint64_t va, int level)
{
    unsigned es = pg_esize(p);
    uint64_t table = p->root;
    for (int l = pg_top(p);; l--) {
        uint64_t a = table + pg_index(p, va, l) * es;
        if (l == level) {
            return a;
        }
        uint64_t e = rd(a, es);
        if (!(e & P)) {
            e = pt_alloc() | P | ((p->mode == PM_PAE && l == 3) ? 0 : RW | US);
            wr(a, es, e);
        }
        table = e & (p->mode == PM_32 ? 0xfffff000ull : 0x000ffffffffff000ull);
    }
}

static void pg_set(Pg *p, uint64_t va, int level, uint64_t entry)
{
    wr(pg_entry_addr(p, va, level), pg_esize(p), entry);
}

static uint64_t pg_get(Pg *p, uint64_t va, int level)
{
    return rd(pg_entry_addr(p, va, level), pg_esize(p));
}

/* ------------------------------------------------------------------ */
/* Walk assertions. */

static bool walk_attrs(Pg *p, MemAttrs attrs, uint64_t va, X86AccessKind k, bool user,
                       X86WalkResult *r)
{
    memset(r, 0x5a, sizeof(*r)); /* everything must be filled */
    return x86_page_walk(g_as, attrs, &p->st, va, k, user, r);
}

static bool walk(Pg *p, uint64_t va, X86AccessKind k, bool user, X86WalkResult *r)
{
    return walk_attrs(p, mem_attrs_cpu(0), va, k, user, r);
}

static const char *kname(X86AccessKind k)
{
    return k == RD ? "read" : k == WR ? "write" : "fetch";
}

#define EXPECT_OK(p, va, k, user, pa, prot, size) \
    expect_ok(__LINE__, (p), (va), (k), (user), (pa), (prot), (size))
static void expect_ok(int line, Pg *p, uint64_t va, X86AccessKind k, bool user, uint64_t pa,
                      unsigned prot, uint64_t size)
{
    X86WalkResult r;
    bool ok = walk(p, va, k, user, &r);
    ck_assert_msg(ok, "line %d: %s %s of 0x%" PRIx64 " faulted (ec=0x%x gp=%d)", line,
                  user ? "user" : "sup", kname(k), va, r.error_code, r.fault_is_gp);
    ck_assert_msg(r.paddr == pa, "line %d: paddr 0x%" PRIx64 ", expected 0x%" PRIx64, line,
                  r.paddr, pa);
    ck_assert_msg(r.prot == prot, "line %d: prot 0x%x, expected 0x%x", line, r.prot, prot);
    ck_assert_msg(r.page_size == size, "line %d: page size 0x%" PRIx64 ", expected 0x%" PRIx64,
                  line, r.page_size, size);
    ck_assert_msg(r.error_code == 0 && !r.fault_is_gp, "line %d: fault info on success", line);
}

#define EXPECT_PF(p, va, k, user, ec) expect_pf(__LINE__, (p), (va), (k), (user), (ec))
static void expect_pf(int line, Pg *p, uint64_t va, X86AccessKind k, bool user, uint32_t ec)
{
    X86WalkResult r;
    bool ok = walk(p, va, k, user, &r);
    ck_assert_msg(!ok, "line %d: %s %s of 0x%" PRIx64 " translated to 0x%" PRIx64
                  " (prot 0x%x), expected #PF 0x%x", line, user ? "user" : "sup", kname(k), va,
                  r.paddr, r.prot, ec);
    ck_assert_msg(!r.fault_is_gp, "line %d: #GP instead of #PF", line);
    ck_assert_msg(r.error_code == ec, "line %d: %s %s of 0x%" PRIx64 ": error code 0x%x, "
                  "expected 0x%x", line, user ? "user" : "sup", kname(k), va, r.error_code, ec);
}

#define EXPECT_GP(p, va, k, user) expect_gp(__LINE__, (p), (va), (k), (user))
static void expect_gp(int line, Pg *p, uint64_t va, X86AccessKind k, bool user)
{
    X86WalkResult r;
    bool ok = walk(p, va, k, user, &r);
    ck_assert_msg(!ok && r.fault_is_gp && r.error_code == 0,
                  "line %d: 0x%" PRIx64 ": ok=%d gp=%d ec=0x%x, expected #GP", line, va, ok,
                  r.fault_is_gp, r.error_code);
}

/* Bits of the entry at `level` for va. */
#define EXPECT_ENTRY(p, va, level, mask, want)                                               \
    do {                                                                                     \
        uint64_t e_ = pg_get((p), (va), (level));                                            \
        ck_assert_msg((e_ & (mask)) == (want), "level %d entry 0x%" PRIx64 ": bits 0x%" PRIx64 \
                      " are 0x%" PRIx64 ", expected 0x%" PRIx64, (level), e_, (uint64_t)(mask), \
                      (uint64_t)(e_ & (mask)), (uint64_t)(want));                                      \
    } while (0)

/* ------------------------------------------------------------------ */
/* Mode selection and paging off. */

START_TEST(test_mode_selection)
{
    X86PagingState st = { 0 };
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_OFF);
    st.cr0 = X86_CR0_PG;
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_32);
    st.cr4 = X86_CR4_PAE;
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_PAE);
    st.efer = X86_EFER_LME; /* LME alone is not long mode */
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_PAE);
    st.efer |= X86_EFER_LMA;
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_4LEVEL);
    st.cr4 |= X86_CR4_LA57;
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_5LEVEL);
    st.cr0 = 0;
    ck_assert_int_eq(x86_paging_mode(&st), X86_PAGING_OFF);
}
END_TEST

START_TEST(test_paging_off)
{
    Pg p = pg_new(PM_4);
    p.st.cr0 = 1; /* PE only */
    p.st.efer = 0;
    p.st.cr3 = UNASSIGNED; /* never read */
    unsigned rwx = PR | PW | PX;
    EXPECT_OK(&p, 0x12345678, RD, USER, 0x12345678, rwx, X86_PAGE_4K);
    EXPECT_OK(&p, 0x12345678, WR, SUP, 0x12345678, rwx, X86_PAGE_4K);
    EXPECT_OK(&p, 0xfffffff0, EX, SUP, 0xfffffff0, rwx, X86_PAGE_4K);
    /* Truncated to 32 bits outside long mode. */
    EXPECT_OK(&p, 0x123456789ull, RD, SUP, 0x23456789, rwx, X86_PAGE_4K);
    /* CR4 bits that need paging change nothing. */
    p.st.cr4 = X86_CR4_PAE | X86_CR4_SMEP | X86_CR4_SMAP;
    EXPECT_OK(&p, 0x1000, EX, SUP, 0x1000, rwx, X86_PAGE_4K);
    /* LMA with PG = 0 cannot happen; if a caller says so, no truncation. */
    p.st.efer = X86_EFER_LMA;
    EXPECT_OK(&p, 0x123456789ull, RD, SUP, 0x123456789ull, rwx, X86_PAGE_4K);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 32-bit paging (4.3). */

START_TEST(test_32_basic)
{
    Pg p = pg_new(PM_32);
    uint64_t va = 0x00401abc;
    pg_set(&p, va, 1, 0x00123000 | P | RW | US);
    /* A read: A set at both levels, D untouched, no write permission cached
     * while D is clear. No XD in 32-bit paging: executable. */
    EXPECT_OK(&p, va, RD, USER, 0x123abc, PR | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va, 2, A | D, A);
    EXPECT_ENTRY(&p, va, 1, A | D, A);
    /* A write sets D in the PTE only. */
    EXPECT_OK(&p, va, WR, USER, 0x123abc, PR | PW | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va, 2, A | D, A);
    EXPECT_ENTRY(&p, va, 1, A | D, A | D);
    EXPECT_OK(&p, va, RD, USER, 0x123abc, PR | PW | PX, X86_PAGE_4K);
    EXPECT_OK(&p, va, EX, SUP, 0x123abc, PR | PW | PX, X86_PAGE_4K);
    /* Linear addresses are 32 bits. */
    EXPECT_OK(&p, va | 0xabc00000000ull, RD, USER, 0x123abc, PR | PW | PX, X86_PAGE_4K);
    /* The 32-bit entry was written as 4 bytes: the next entry is untouched. */
    uint64_t pte_a = pg_entry_addr(&p, va, 1);
    ck_assert_uint_eq(rd(pte_a + 4, 4), 0);
    /* PAT (bit 7) and G (bit 8) in a PTE are not reserved. */
    pg_set(&p, 0x00402000, 1, 0x00124000 | P | RW | PS | X86_PTE_G | A | D);
    EXPECT_OK(&p, 0x00402010, WR, SUP, 0x124010, PR | PW | PX, X86_PAGE_4K);
}
END_TEST

START_TEST(test_32_not_present)
{
    Pg p = pg_new(PM_32);
    uint64_t va = 0x00800123;
    /* PDE not present. */
    EXPECT_PF(&p, va, RD, SUP, 0);
    EXPECT_PF(&p, va, WR, USER, EC_W | EC_U);
    /* Fetch: I/D only with SMEP under 32-bit paging, even if NXE = 1 (4.7). */
    EXPECT_PF(&p, va, EX, USER, EC_U);
    p.st.efer = X86_EFER_NXE;
    EXPECT_PF(&p, va, EX, USER, EC_U);
    p.st.cr4 |= X86_CR4_SMEP;
    EXPECT_PF(&p, va, EX, USER, EC_U | EC_ID);
    EXPECT_PF(&p, va, EX, SUP, EC_ID);
    p.st.cr4 &= ~X86_CR4_SMEP;
    /* PTE not present: the PDE's A flag is not set. */
    pg_entry_addr(&p, va, 1);
    EXPECT_PF(&p, va, WR, SUP, EC_W);
    EXPECT_PF(&p, va, RD, USER, EC_U);
    EXPECT_ENTRY(&p, va, 2, A, 0);
    /* A non-present entry's other bits are not looked at. */
    pg_set(&p, va, 1, 0xfffffffe);
    EXPECT_PF(&p, va, RD, SUP, 0);
}
END_TEST

START_TEST(test_32_pse_4m)
{
    Pg p = pg_new(PM_32);
    uint64_t va = 0x00c12345;
    pg_set(&p, va, 2, 0x01000000 | P | RW | PS);
    EXPECT_OK(&p, va, RD, SUP, 0x01012345, PR | PX, X86_PAGE_4M);
    EXPECT_ENTRY(&p, va, 2, A | D, A);
    EXPECT_OK(&p, va, WR, SUP, 0x01012345, PR | PW | PX, X86_PAGE_4M);
    EXPECT_ENTRY(&p, va, 2, A | D, A | D);
    /* Supervisor page. */
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U);
    /* Without CR4.PSE, PS is ignored: the PDE references a page table. */
    uint64_t pt = pt_alloc();
    wr(pt + ((va >> 12) & 0x3ff) * 4, 4, 0x00777000 | P | RW);
    pg_set(&p, va, 2, pt | P | RW | PS);
    p.st.cr4 = 0;
    EXPECT_OK(&p, va, RD, SUP, 0x00777345, PR | PX, X86_PAGE_4K);
}
END_TEST

START_TEST(test_32_pse36)
{
    Pg p = pg_new(PM_32);
    uint64_t va = 0xffc00000 + 0x2abcde;
    /* PDE bits 20:13 are physical address bits 39:32. */
    pg_set(&p, va, 2, 0x12c00000 | (0x12ull << 13) | P | RW | US | PS);
    EXPECT_OK(&p, va, RD, USER, 0x1212c00000ull + 0x2abcde, PR | PX, X86_PAGE_4M);
    pg_set(&p, va, 2, 0xffc00000 | (0xffull << 13) | P | RW | US | PS | A | D);
    EXPECT_OK(&p, va, WR, USER, 0xffffc00000ull + 0x2abcde, PR | PW | PX, X86_PAGE_4M);
    /* MAXPHYADDR 36: bits 20:17 (address bits 39:36) become reserved. */
    p.st.maxphyaddr = 36;
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
    pg_set(&p, va, 2, 0xffc00000 | (0x0full << 13) | P | RW | US | PS);
    EXPECT_OK(&p, va, RD, USER, 0xfffc00000ull + 0x2abcde, PR | PX, X86_PAGE_4M);
    /* Bit 21 is always reserved in a 4 MiB PDE. */
    p.st.maxphyaddr = 0;
    pg_set(&p, va, 2, 0xffc00000 | (1ull << 21) | P | RW | US | PS);
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U | EC_RSVD);
    EXPECT_ENTRY(&p, va, 2, A, 0);
}
END_TEST

START_TEST(test_32_rights)
{
    Pg p = pg_new(PM_32);
    uint64_t va = 0x10000000;
    pg_set(&p, va, 1, 0x5000 | P | US | A | D);          /* read-only user page */
    EXPECT_OK(&p, va, RD, USER, 0x5000, PR | PX, X86_PAGE_4K);
    EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U);
    EXPECT_PF(&p, va, WR, SUP, EC_P | EC_W);             /* WP = 1 */
    p.st.cr0 &= ~X86_CR0_WP;
    EXPECT_OK(&p, va, WR, SUP, 0x5000, PR | PW | PX, X86_PAGE_4K);
    EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U);     /* WP does not help users */
    /* R/W = 0 in the PDE makes the page read-only too. */
    p.st.cr0 |= X86_CR0_WP;
    pg_set(&p, 0x10400000, 1, 0x6000 | P | RW | US | A | D);
    pg_set(&p, 0x10400000, 2, pg_get(&p, 0x10400000, 2) & ~RW);
    EXPECT_PF(&p, 0x10400000, WR, USER, EC_P | EC_W | EC_U);
    /* SMEP applies under 32-bit paging, with I/D set. */
    p.st.cr4 |= X86_CR4_SMEP;
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    EXPECT_OK(&p, va, EX, USER, 0x5000, PR | PX, X86_PAGE_4K);
    /* SMAP too. */
    p.st.cr4 |= X86_CR4_SMAP;
    EXPECT_PF(&p, va, RD, SUP, EC_P);
    p.st.smap_override = true;
    EXPECT_OK(&p, va, RD, SUP, 0x5000, PR, X86_PAGE_4K);
}
END_TEST

/* ------------------------------------------------------------------ */
/* PAE paging (4.4). */

START_TEST(test_pae_basic)
{
    Pg p = pg_new(PM_PAE);
    ck_assert_uint_eq(p.st.cr3 & 0xfff, 0x20); /* PDPT not page-aligned */
    uint64_t va1 = 0x40201abc;
    pg_set(&p, va1, 1, 0x00345000 | P | RW | US);
    EXPECT_OK(&p, va1, RD, USER, 0x345abc, PR | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va1, 3, ~0ull, (pg_get(&p, va1, 3) & ~0xfffull) | P); /* PDPTE: no A */
    EXPECT_ENTRY(&p, va1, 2, A | D, A);
    EXPECT_ENTRY(&p, va1, 1, A | D, A);
    EXPECT_OK(&p, va1, WR, USER, 0x345abc, PR | PW | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va1, 1, A | D, A | D);

    /* A 2 MiB supervisor page with XD. */
    uint64_t va2 = 0xc0400000 + 0x12345;
    pg_set(&p, va2, 2, 0x00600000 | P | RW | PS | XD);
    EXPECT_OK(&p, va2, RD, SUP, 0x612345, PR, X86_PAGE_2M);
    EXPECT_OK(&p, va2, WR, SUP, 0x612345, PR | PW, X86_PAGE_2M);
    EXPECT_ENTRY(&p, va2, 2, A | D, A | D);
    EXPECT_PF(&p, va2, EX, SUP, EC_P | EC_ID);
    EXPECT_PF(&p, va2, RD, USER, EC_P | EC_U);
    /* Bit 12 of a 2 MiB PDE is PAT, not an address bit. */
    pg_set(&p, va2, 2, 0x00600000 | (1ull << 12) | P | RW | PS | A | D);
    EXPECT_OK(&p, va2, RD, SUP, 0x612345, PR | PW | PX, X86_PAGE_2M);
    /* High physical address bits (MAXPHYADDR 40). */
    pg_set(&p, va1, 1, 0xfffffff000ull | P | RW | US | A | D);
    EXPECT_OK(&p, va1, RD, SUP, 0xfffffffabcull, PR | PW | PX, X86_PAGE_4K);
}
END_TEST

START_TEST(test_pae_not_present)
{
    Pg p = pg_new(PM_PAE);
    uint64_t va = 0x80000000 + 0x1234;
    /* PDPTE not present (P = 0 with garbage: still not present). */
    EXPECT_PF(&p, va, RD, SUP, 0);
    wr(p.root + 8 * 2, 8, 0xfffffffffffffffeull);
    EXPECT_PF(&p, va, WR, USER, EC_W | EC_U);
    wr(p.root + 8 * 2, 8, 0);
    /* PDE not present. */
    pg_entry_addr(&p, va, 2);
    EXPECT_PF(&p, va, WR, USER, EC_W | EC_U);
    EXPECT_PF(&p, va, EX, SUP, EC_ID); /* PAE + NXE: I/D */
    /* PTE not present; the PDE's A stays clear. */
    pg_entry_addr(&p, va, 1);
    EXPECT_PF(&p, va, EX, USER, EC_U | EC_ID);
    EXPECT_ENTRY(&p, va, 2, A, 0);
    p.st.efer = 0; /* NXE = 0, SMEP = 0: no I/D */
    EXPECT_PF(&p, va, EX, USER, EC_U);
}
END_TEST

START_TEST(test_pae_xd_and_nxe)
{
    Pg p = pg_new(PM_PAE);
    uint64_t va = 0x00200000;
    pg_set(&p, va, 1, 0x9000 | P | RW | US | XD | A | D);
    EXPECT_OK(&p, va, RD, USER, 0x9000, PR | PW, X86_PAGE_4K);
    EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_ID);
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    /* NXE = 0: bit 63 is reserved (RSVD, P = 1), for every kind of access. */
    p.st.efer = 0;
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_RSVD);
    EXPECT_PF(&p, va, WR, SUP, EC_P | EC_W | EC_RSVD);
    /* XD in the PDE alone is enough. */
    p.st.efer = X86_EFER_NXE;
    pg_set(&p, va, 1, 0x9000 | P | RW | US | A | D);
    EXPECT_OK(&p, va, EX, USER, 0x9000, PR | PW | PX, X86_PAGE_4K);
    pg_set(&p, va, 2, pg_get(&p, va, 2) | XD);
    EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_ID);
    p.st.efer = 0;
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
}
END_TEST

START_TEST(test_pae_reserved)
{
    Pg p = pg_new(PM_PAE);
    uint64_t va = 0x00403000;
    uint64_t ok = 0x7000 | P | RW | US | A | D;
    pg_set(&p, va, 1, ok | (1ull << 40));             /* above MAXPHYADDR 40 */
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_RSVD | EC_ID);
    EXPECT_ENTRY(&p, va, 2, A, 0);                    /* nothing written */
    p.st.maxphyaddr = 52;                             /* now an address bit */
    EXPECT_OK(&p, va, RD, SUP, 0x10000007000ull, PR | PW | PX, X86_PAGE_4K);
    pg_set(&p, va, 1, ok | (1ull << 62));             /* PAE: 62:M reserved, even M = 52 */
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    p.st.maxphyaddr = 36;
    pg_set(&p, va, 1, ok | (1ull << 36));
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    pg_set(&p, va, 1, ok | (1ull << 35));
    EXPECT_OK(&p, va, RD, SUP, 0x800007000ull, PR | PW | PX, X86_PAGE_4K);
    p.st.maxphyaddr = 0;
    /* PDE referencing a PT: same rule. */
    pg_set(&p, va, 1, ok);
    uint64_t pde = pg_get(&p, va, 2);
    pg_set(&p, va, 2, pde | (1ull << 50));
    EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U | EC_RSVD);
    pg_set(&p, va, 2, pde);
    /* 2 MiB PDE: bits 20:13 reserved. */
    uint64_t va2 = 0x00a00000;
    pg_set(&p, va2, 2, 0x00e00000 | (1ull << 13) | P | RW | PS);
    EXPECT_PF(&p, va2, RD, SUP, EC_P | EC_RSVD);
    pg_set(&p, va2, 2, 0x00e00000 | (1ull << 20) | P | RW | PS);
    EXPECT_PF(&p, va2, RD, SUP, EC_P | EC_RSVD);
    /* PDPTE (read at walk time): bits 2:1, 8:5 and 63:M reserved. */
    uint64_t pdpte_a = p.root;                         /* va < 1 GiB: PDPTE 0 */
    uint64_t pdpte = rd(pdpte_a, 8);
    static const unsigned bad[] = { 1, 2, 5, 6, 7, 8, 40, 63 };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        wr(pdpte_a, 8, pdpte | (1ull << bad[i]));
        EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    }
    wr(pdpte_a, 8, pdpte | X86_PTE_PWT | X86_PTE_PCD | (7ull << 9)); /* not reserved */
    EXPECT_OK(&p, va, RD, SUP, 0x7000, PR | PW | PX, X86_PAGE_4K);
}
END_TEST

START_TEST(test_pae_pdpte_registers)
{
    Pg p = pg_new(PM_PAE);
    uint64_t va = 0xc0001000;
    pg_set(&p, va, 1, 0x3000 | P | RW | US | A | D);
    uint64_t regs[4];
    MemAttrs at = mem_attrs_cpu(0);
    ck_assert(x86_pae_load_pdptes(g_as, at, p.st.cr3, 0, regs));
    ck_assert_uint_eq(regs[3], rd(p.root + 24, 8));
    ck_assert_uint_eq(regs[0], 0);
    p.st.pae_pdptes = regs;
    EXPECT_OK(&p, va, RD, USER, 0x3000, PR | PW | PX, X86_PAGE_4K);
    /* Changing the PDPTE in memory has no effect until reloaded (4.4.1). */
    uint64_t pdpte = rd(p.root + 24, 8);
    wr(p.root + 24, 8, 0);
    EXPECT_OK(&p, va, RD, USER, 0x3000, PR | PW | PX, X86_PAGE_4K);
    p.st.pae_pdptes = NULL;
    EXPECT_PF(&p, va, RD, USER, EC_U);
    /* Reserved bits in a present PDPTE make the load fail (#GP at MOV CR3). */
    wr(p.root + 24, 8, pdpte | (1ull << 1));
    ck_assert(!x86_pae_load_pdptes(g_as, at, p.st.cr3, 0, regs));
    wr(p.root + 24, 8, pdpte | (1ull << 39));
    ck_assert(x86_pae_load_pdptes(g_as, at, p.st.cr3, 0, regs));
    ck_assert(!x86_pae_load_pdptes(g_as, at, p.st.cr3, 36, regs));
    /* ... but not in a non-present one. */
    wr(p.root + 24, 8, 0xfffffffffffffffeull);
    ck_assert(x86_pae_load_pdptes(g_as, at, p.st.cr3, 0, regs));
    p.st.pae_pdptes = regs;
    EXPECT_PF(&p, va, WR, SUP, EC_W);
    /* Registers given explicitly with a reserved bit (the caller skipped the
     * check): a RSVD fault rather than anything undefined. */
    regs[3] = pdpte | (1ull << 2);
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    /* CR3 bits 4:0 are ignored. */
    ck_assert(x86_pae_load_pdptes(g_as, at, p.st.cr3 | 0x18, 0, regs));
    ck_assert_uint_eq(regs[3], 0xfffffffffffffffeull);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 4-level and 5-level paging (4.5). */

START_TEST(test_4l_page_sizes)
{
    Pg p = pg_new(PM_4);
    /* 4 KiB at the top of the lower half. */
    uint64_t va = 0x00007ffffffff123ull;
    pg_set(&p, va, 1, 0xfffffff000ull | P | RW | US);
    EXPECT_OK(&p, va, RD, USER, 0xfffffff123ull, PR | PX, X86_PAGE_4K);
    for (int l = 4; l >= 1; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, A);
    }
    EXPECT_OK(&p, va, WR, USER, 0xfffffff123ull, PR | PW | PX, X86_PAGE_4K);
    for (int l = 4; l >= 2; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, A);
    }
    EXPECT_ENTRY(&p, va, 1, A | D, A | D);
    /* 2 MiB in the upper half. */
    uint64_t va2 = 0xffff800000200000ull + 0x1ff0f0;
    pg_set(&p, va2, 2, 0x4000000000ull | P | RW | PS);
    EXPECT_OK(&p, va2, RD, SUP, 0x40001ff0f0ull, PR | PX, X86_PAGE_2M);
    EXPECT_OK(&p, va2, WR, SUP, 0x40001ff0f0ull, PR | PW | PX, X86_PAGE_2M);
    EXPECT_ENTRY(&p, va2, 2, A | D, A | D);
    EXPECT_ENTRY(&p, va2, 3, A | D, A);
    EXPECT_ENTRY(&p, va2, 4, A | D, A);
    /* 1 GiB. Bit 12 is PAT. */
    uint64_t va3 = 0x0000004000000000ull + 0x12345678;
    pg_set(&p, va3, 3, 0xc0000000ull | (1ull << 12) | P | RW | US | PS | XD);
    EXPECT_OK(&p, va3, RD, USER, 0xd2345678ull, PR, X86_PAGE_1G);
    EXPECT_OK(&p, va3, WR, USER, 0xd2345678ull, PR | PW, X86_PAGE_1G);
    EXPECT_ENTRY(&p, va3, 3, A | D, A | D);
    EXPECT_PF(&p, va3, EX, USER, EC_P | EC_U | EC_ID);
    /* CR3's low bits (PWT/PCD or a PCID) and bits above MAXPHYADDR are not
     * address bits. */
    p.st.cr3 = p.root | 0xabc | (1ull << 63);
    EXPECT_OK(&p, va3, RD, USER, 0xd2345678ull, PR | PW, X86_PAGE_1G);
}
END_TEST

START_TEST(test_4l_not_present_each_level)
{
    for (int level = 4; level >= 1; level--) {
        Pg p = pg_new(PM_4);
        uint64_t va = 0xffffff8012345678ull;
        if (level < 4) {
            pg_entry_addr(&p, va, level); /* present above `level`, absent at it */
        }
        EXPECT_PF(&p, va, RD, SUP, 0);
        EXPECT_PF(&p, va, WR, SUP, EC_W);
        EXPECT_PF(&p, va, RD, USER, EC_U);
        EXPECT_PF(&p, va, WR, USER, EC_W | EC_U);
        EXPECT_PF(&p, va, EX, SUP, EC_ID);
        EXPECT_PF(&p, va, EX, USER, EC_U | EC_ID);
        for (int l = 4; l > level; l--) {
            EXPECT_ENTRY(&p, va, l, A, 0);
        }
        /* Reserved bits of a non-present entry are not checked. */
        pg_set(&p, va, level, 0x7ffffffffffffffeull);
        EXPECT_PF(&p, va, WR, USER, EC_W | EC_U);
        /* Without NXE and SMEP, no I/D. */
        p.st.efer &= ~X86_EFER_NXE;
        EXPECT_PF(&p, va, EX, USER, EC_U);
    }
}
END_TEST

START_TEST(test_4l_reserved)
{
    Pg p = pg_new(PM_4);
    uint64_t va = 0x0000123456789abcull;
    uint64_t leaf = 0x5000 | P | RW | US | A | D;
    pg_set(&p, va, 1, leaf);
    EXPECT_OK(&p, va, RD, SUP, 0x5abc, PR | PW | PX, X86_PAGE_4K);

    /* PS in the PML4E is reserved. */
    uint64_t pml4e = pg_get(&p, va, 4);
    pg_set(&p, va, 4, pml4e | PS);
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_RSVD | EC_ID);
    pg_set(&p, va, 4, pml4e);

    /* Bits 51:MAXPHYADDR at every level; 62:52 are ignored. */
    for (int l = 4; l >= 1; l--) {
        uint64_t e = pg_get(&p, va, l);
        pg_set(&p, va, l, e | (1ull << 40));
        EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U | EC_RSVD);
        pg_set(&p, va, l, e | (1ull << 51));
        EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
        pg_set(&p, va, l, e | (0x7ffull << 52));
        EXPECT_OK(&p, va, RD, SUP, 0x5abc, PR | PW | PX, X86_PAGE_4K);
        /* XD with NXE = 0 is reserved. */
        pg_set(&p, va, l, e | XD);
        p.st.efer &= ~X86_EFER_NXE;
        EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
        p.st.efer |= X86_EFER_NXE;
        pg_set(&p, va, l, e);
    }
    /* MAXPHYADDR as a parameter. */
    p.st.maxphyaddr = 46;
    pg_set(&p, va, 1, leaf | (1ull << 45));
    EXPECT_OK(&p, va, RD, SUP, 0x200000005abcull, PR | PW | PX, X86_PAGE_4K);
    pg_set(&p, va, 1, leaf | (1ull << 46));
    EXPECT_PF(&p, va, RD, SUP, EC_P | EC_RSVD);
    p.st.maxphyaddr = 52;
    pg_set(&p, va, 1, leaf | (1ull << 51));
    EXPECT_OK(&p, va, RD, SUP, 0x8000000005abcull, PR | PW | PX, X86_PAGE_4K);
    p.st.maxphyaddr = 0;

    /* 1 GiB PDPTE: bits 29:13 reserved; 2 MiB PDE: bits 20:13. */
    uint64_t va1g = 0x0000008040000000ull;
    pg_set(&p, va1g, 3, 0x40000000 | (1ull << 13) | P | RW | PS);
    EXPECT_PF(&p, va1g, RD, SUP, EC_P | EC_RSVD);
    pg_set(&p, va1g, 3, 0x40000000 | (1ull << 29) | P | RW | PS);
    EXPECT_PF(&p, va1g, RD, SUP, EC_P | EC_RSVD);
    EXPECT_ENTRY(&p, va1g, 4, A, 0);
    uint64_t va2m = 0x0000008000200000ull;
    pg_set(&p, va2m, 2, 0x200000 | (1ull << 20) | P | RW | PS);
    EXPECT_PF(&p, va2m, RD, SUP, EC_P | EC_RSVD);
    pg_set(&p, va2m, 2, 0x200000 | (1ull << 12) | P | RW | PS);
    EXPECT_OK(&p, va2m, RD, SUP, 0x200000, PR | PX, X86_PAGE_2M);
}
END_TEST

START_TEST(test_noncanonical)
{
    Pg p = pg_new(PM_4);
    static const uint64_t bad[] = { 0x0000800000000000ull, 0xffff7fffffffffffull,
                                    0x8000000000000000ull, 0x00ff800000001000ull };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        EXPECT_GP(&p, bad[i], RD, SUP);
        EXPECT_GP(&p, bad[i], WR, USER);
        EXPECT_GP(&p, bad[i], EX, SUP);
    }
    /* Canonical upper half works. */
    pg_set(&p, 0xffff800000000000ull, 1, 0x1000 | P | RW);
    EXPECT_OK(&p, 0xffff800000000010ull, RD, SUP, 0x1010, PR | PX, X86_PAGE_4K);
    EXPECT_PF(&p, 0x00007ffffffff000ull, RD, SUP, 0);
}
END_TEST

START_TEST(test_4l_accessed_dirty)
{
    Pg p = pg_new(PM_4);
    uint64_t va = 0x0000000040003000ull;
    pg_set(&p, va, 1, 0xabc000 | P | RW | US);
    /* A fetch sets A everywhere, D nowhere, and caches no write right. */
    EXPECT_OK(&p, va, EX, SUP, 0xabc000, PR | PX, X86_PAGE_4K);
    for (int l = 4; l >= 1; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, A);
    }
    /* The write that follows takes a new walk, which sets D. */
    EXPECT_OK(&p, va, WR, SUP, 0xabc000, PR | PW | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va, 1, A | D, A | D);
    for (int l = 4; l >= 2; l--) {
        EXPECT_ENTRY(&p, va, l, D, 0);
    }
    /* A and D are only added: the other bits of the entry are kept. */
    uint64_t e = 0xabc000 | P | RW | US | X86_PTE_G | (0x5ull << 9) | (0x3ffull << 52);
    pg_set(&p, va, 1, e);
    EXPECT_OK(&p, va, WR, USER, 0xabc000, PR | PW | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va, 1, ~0ull, e | A | D);
    /* A debug walk writes nothing. */
    pg_set(&p, va, 1, e);
    uint64_t pml4e = pg_get(&p, va, 4) & ~A;
    pg_set(&p, va, 4, pml4e);
    MemAttrs dbg = mem_attrs_cpu(0);
    dbg.debug = true;
    X86WalkResult r;
    ck_assert(walk_attrs(&p, dbg, va, WR, USER, &r));
    ck_assert_uint_eq(r.paddr, 0xabc000);
    EXPECT_ENTRY(&p, va, 1, ~0ull, e);
    EXPECT_ENTRY(&p, va, 4, ~0ull, pml4e);
}
END_TEST

START_TEST(test_no_ad_on_fault)
{
    Pg p = pg_new(PM_4);
    uint64_t va = 0x0000000000601000ull;
    /* Protection fault at the end of a complete walk. */
    pg_set(&p, va, 1, 0x1000 | P | US);
    EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U);
    for (int l = 4; l >= 1; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, 0);
    }
    /* Reserved bit in the last entry. */
    pg_set(&p, va, 1, 0x1000 | P | RW | US | (1ull << 45));
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
    for (int l = 4; l >= 1; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, 0);
    }
    /* Supervisor page for a user, SMAP, SMEP, NX: none set A. */
    pg_set(&p, va, 1, 0x1000 | P | RW);
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U);
    pg_set(&p, va, 1, 0x1000 | P | RW | US | XD);
    p.st.cr4 |= X86_CR4_SMAP;
    EXPECT_PF(&p, va, RD, SUP, EC_P);
    EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_ID);
    for (int l = 4; l >= 1; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, 0);
    }
}
END_TEST

START_TEST(test_5level)
{
    Pg p = pg_new(PM_5);
    /* Canonical with 57 bits, not with 48. */
    uint64_t va = 0x0080000000001234ull;
    pg_set(&p, va, 1, 0x2000 | P | RW | US);
    EXPECT_OK(&p, va, WR, USER, 0x2234, PR | PW | PX, X86_PAGE_4K);
    for (int l = 5; l >= 2; l--) {
        EXPECT_ENTRY(&p, va, l, A | D, A);
    }
    EXPECT_ENTRY(&p, va, 1, A | D, A | D);
    EXPECT_GP(&p, 0x0100000000000000ull, RD, SUP);
    EXPECT_GP(&p, 0xfeffffffffffffffull, RD, SUP);
    pg_set(&p, 0xff00000000000000ull, 1, 0x3000 | P);
    EXPECT_OK(&p, 0xff00000000000000ull, RD, SUP, 0x3000, PR | PX, X86_PAGE_4K);
    /* PS is reserved in PML5Es (and PML4Es). */
    pg_set(&p, va, 5, pg_get(&p, va, 5) | PS);
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
    pg_set(&p, va, 5, pg_get(&p, va, 5) & ~PS);
    pg_set(&p, va, 4, pg_get(&p, va, 4) | PS);
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
    pg_set(&p, va, 4, pg_get(&p, va, 4) & ~PS);
    /* Not present at level 5; U/S=0 at level 5. */
    EXPECT_PF(&p, 0x00f0000000000000ull, WR, SUP, EC_W);
    pg_set(&p, va, 5, pg_get(&p, va, 5) & ~US);
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U);
    /* 1 GiB page under 5-level paging. */
    uint64_t va1g = 0x0001000040000000ull + 0x3456789;
    pg_set(&p, va1g, 3, 0x80000000ull | P | RW | PS | A | D);
    EXPECT_OK(&p, va1g, WR, SUP, 0x83456789ull, PR | PW | PX, X86_PAGE_1G);
}
END_TEST

START_TEST(test_recursive_mapping)
{
    /* PML4E[511] points at the PML4 itself: the all-511 address maps the
     * PML4 page, and the same entry is used at all four levels. */
    Pg p = pg_new(PM_4);
    uint64_t self = p.root + 511 * 8;
    wr(self, 8, p.root | P | RW);
    uint64_t va = 0xfffffffffffff000ull + 8 * 511;
    EXPECT_OK(&p, va, RD, SUP, p.root + 8 * 511, PR | PX, X86_PAGE_4K);
    ck_assert_uint_eq(rd(self, 8), p.root | P | RW | A);
    EXPECT_OK(&p, va, WR, SUP, p.root + 8 * 511, PR | PW | PX, X86_PAGE_4K);
    ck_assert_uint_eq(rd(self, 8), p.root | P | RW | A | D);
    /* One level of recursion: PML4E[511] used as PML4E and PDPTE. */
    pg_set(&p, 0x1000, 1, 0x9000 | P | RW);
    uint64_t pt = pg_get(&p, 0x1000, 2) & 0x000ffffffffff000ull;
    /* PML4E[511] -> PML4 used as the PDPT; its entry 0 (PML4E[0]) -> the
     * PDPT used as the PD; PDPTE[0] -> the PD used as the PT; PDE[0] maps
     * the page table page itself (supervisor: PML4E[511] has U/S = 0). */
    uint64_t va2 = 0xffffff8000000000ull;
    EXPECT_OK(&p, va2 + 0x18, RD, SUP, pt + 0x18, PR | PX, X86_PAGE_4K);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Access rights (4.6), 4-level. */

START_TEST(test_user_write_readonly)
{
    for (int level = 4; level >= 1; level--) {
        Pg p = pg_new(PM_4);
        uint64_t va = 0x00000abcdef12000ull;
        pg_set(&p, va, 1, 0x8000 | P | RW | US | A | D);
        pg_set(&p, va, level, pg_get(&p, va, level) & ~RW);
        EXPECT_OK(&p, va, RD, USER, 0x8000, PR | PX, X86_PAGE_4K);
        EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U);
        /* Supervisor: WP = 1 faults, WP = 0 writes (and caches W). */
        EXPECT_PF(&p, va, WR, SUP, EC_P | EC_W);
        EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PX, X86_PAGE_4K);
        p.st.cr0 &= ~X86_CR0_WP;
        EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
        EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
        EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U);
        EXPECT_OK(&p, va, RD, USER, 0x8000, PR | PX, X86_PAGE_4K);
    }
}
END_TEST

START_TEST(test_wp0_sets_dirty)
{
    Pg p = pg_new(PM_4);
    p.st.cr0 &= ~X86_CR0_WP;
    uint64_t va = 0x7000;
    pg_set(&p, va, 1, 0x8000 | P);   /* read-only, clean */
    /* A read of a page writable only thanks to WP = 0 withholds W while clean. */
    EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PX, X86_PAGE_4K);
    EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    EXPECT_ENTRY(&p, va, 1, A | D, A | D);
    EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
}
END_TEST

START_TEST(test_user_access_supervisor_page)
{
    for (int level = 4; level >= 1; level--) {
        Pg p = pg_new(PM_4);
        uint64_t va = 0x00000000c0ffe000ull;
        pg_set(&p, va, 1, 0x8000 | P | RW | US | A | D);
        pg_set(&p, va, level, pg_get(&p, va, level) & ~US);
        EXPECT_PF(&p, va, RD, USER, EC_P | EC_U);
        EXPECT_PF(&p, va, WR, USER, EC_P | EC_W | EC_U);
        EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_ID);
        EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
        /* A supervisor page is not subject to SMEP/SMAP. */
        p.st.cr4 |= X86_CR4_SMEP | X86_CR4_SMAP;
        EXPECT_OK(&p, va, EX, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
        EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    }
}
END_TEST

START_TEST(test_nx)
{
    for (int level = 4; level >= 1; level--) {
        Pg p = pg_new(PM_4);
        uint64_t va = 0x0000000000400000ull;
        pg_set(&p, va, 1, 0x8000 | P | RW | US | A | D);
        pg_set(&p, va, level, pg_get(&p, va, level) | XD);
        EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
        EXPECT_PF(&p, va, EX, USER, EC_P | EC_U | EC_ID);
        EXPECT_OK(&p, va, RD, USER, 0x8000, PR | PW, X86_PAGE_4K);
        EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW, X86_PAGE_4K);
    }
}
END_TEST

START_TEST(test_smep)
{
    Pg p = pg_new(PM_4);
    p.st.cr4 |= X86_CR4_SMEP;
    uint64_t va = 0x0000000000800000ull;
    pg_set(&p, va, 1, 0x8000 | P | RW | US | A | D);
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PW, X86_PAGE_4K);  /* no EXEC cached */
    EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW, X86_PAGE_4K);
    EXPECT_OK(&p, va, EX, USER, 0x8000, PR | PW | PX, X86_PAGE_4K);
    /* smap_override does not affect SMEP. */
    p.st.smap_override = true;
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    /* SMEP with NXE = 0: I/D still reported. */
    p.st.efer &= ~X86_EFER_NXE;
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    /* User-mode address only if U/S = 1 everywhere: clear it at the PDPTE. */
    pg_set(&p, va, 3, pg_get(&p, va, 3) & ~US);
    EXPECT_OK(&p, va, EX, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    /* SMEP off. */
    pg_set(&p, va, 3, pg_get(&p, va, 3) | US);
    p.st.cr4 &= ~X86_CR4_SMEP;
    EXPECT_OK(&p, va, EX, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    /* Not-present fetch with SMEP and NXE = 0: I/D. */
    p.st.cr4 |= X86_CR4_SMEP;
    EXPECT_PF(&p, 0x0000700000000000ull, EX, USER, EC_U | EC_ID);
}
END_TEST

START_TEST(test_smap)
{
    Pg p = pg_new(PM_4);
    p.st.cr4 |= X86_CR4_SMAP;
    uint64_t va = 0x0000000000c00000ull;
    pg_set(&p, va, 1, 0x8000 | P | RW | US | A | D);
    /* No override: supervisor data accesses to user pages fault; fetches
     * are SMEP's business, not SMAP's. */
    EXPECT_PF(&p, va, RD, SUP, EC_P);
    EXPECT_PF(&p, va, WR, SUP, EC_P | EC_W);
    EXPECT_OK(&p, va, EX, SUP, 0x8000, PX, X86_PAGE_4K);
    /* User accesses are unaffected. */
    EXPECT_OK(&p, va, WR, USER, 0x8000, PR | PW | PX, X86_PAGE_4K);
    /* With the override (EFLAGS.AC = 1 at CPL < 3). */
    p.st.smap_override = true;
    EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    /* The override does not lift R/W with WP = 1. */
    pg_set(&p, va, 1, 0x8000 | P | US | A | D);
    EXPECT_PF(&p, va, WR, SUP, EC_P | EC_W);
    EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PX, X86_PAGE_4K);
    /* WP = 0 with override: writable; without override: still SMAP. */
    p.st.cr0 &= ~X86_CR0_WP;
    EXPECT_OK(&p, va, WR, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
    p.st.smap_override = false;
    EXPECT_PF(&p, va, WR, SUP, EC_P | EC_W);
    /* Both SMEP and SMAP: nothing at all for the supervisor... */
    p.st.cr4 |= X86_CR4_SMEP;
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    /* ... a supervisor page is fine. */
    pg_set(&p, va, 2, pg_get(&p, va, 2) & ~US);
    EXPECT_OK(&p, va, RD, SUP, 0x8000, PR | PW | PX, X86_PAGE_4K);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Page tables outside RAM. */

START_TEST(test_unassigned_tables)
{
    /* All-ones entries: present, with reserved bits. */
    Pg p4 = pg_new(PM_4);
    p4.st.cr3 = UNASSIGNED;
    EXPECT_PF(&p4, 0x1000, RD, SUP, EC_P | EC_RSVD);        /* PS in the PML4E */
    Pg p5 = pg_new(PM_5);
    p5.st.cr3 = UNASSIGNED;
    p5.st.maxphyaddr = 52;                                     /* no high reserved bits */
    EXPECT_PF(&p5, 0x1000, WR, USER, EC_P | EC_W | EC_U | EC_RSVD);
    Pg pae = pg_new(PM_PAE);
    pae.st.cr3 = UNASSIGNED;
    EXPECT_PF(&pae, 0x1000, RD, SUP, EC_P | EC_RSVD);       /* PDPTE bits 2:1 */
    Pg p32 = pg_new(PM_32);
    p32.st.cr3 = UNASSIGNED;
    EXPECT_PF(&p32, 0x1000, RD, SUP, EC_P | EC_RSVD);       /* 4 MiB PDE, bit 21 */
    /* 32-bit paging without PSE: the all-ones PDE points to a page table at
     * 0xfffff000 (also unassigned), whose all-ones PTE maps 0xfffff000 with
     * every right, A and D already set: nothing is written anywhere. */
    p32.st.cr4 = 0;
    EXPECT_OK(&p32, 0x1234, WR, USER, 0xfffff234, PR | PW | PX, X86_PAGE_4K);
    /* A PT pointer into unassigned memory from a RAM table (4-level). */
    Pg p = pg_new(PM_4);
    uint64_t va = 0x5000;
    pg_entry_addr(&p, va, 1);
    pg_set(&p, va, 2, UNASSIGNED | P | RW | US);
    EXPECT_PF(&p, va, RD, USER, EC_P | EC_U | EC_RSVD);
    EXPECT_ENTRY(&p, va, 2, A, 0);
    /* With fill 0, unassigned entries are simply not present. */
    as_set_unassigned_fill(g_as, 0);
    EXPECT_PF(&p, va, RD, USER, EC_U);
    EXPECT_PF(&p4, 0x1000, RD, SUP, 0);
    EXPECT_PF(&pae, 0x1000, EX, SUP, EC_ID);
    as_set_unassigned_fill(g_as, 0xff);
}
END_TEST

START_TEST(test_tables_in_mmio)
{
    Pg p = pg_new(PM_4);
    uint64_t va = 0x0000000000ab5000ull;
    pg_entry_addr(&p, va, 1);
    pg_set(&p, va, 2, MMIO_BASE | P | RW | US | A);
    unsigned idx = (va >> 12) & 0x1ff;
    uint64_t pte = 0x6000 | P | RW | US;
    tu_val_to_bytes(pte, g_dev->mem + idx * 8, 8, false);
    tu_dev_clear_log(g_dev);
    EXPECT_OK(&p, va, RD, USER, 0x6000, PR | PX, X86_PAGE_4K);
    /* One 8-byte read, one 8-byte write of A. */
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 2);
    TU_EXPECT_ACCESS(g_dev, 0, false, idx * 8, 8, pte);
    TU_EXPECT_ACCESS(g_dev, 1, true, idx * 8, 8, pte | A);
    /* A already set: read only. */
    EXPECT_OK(&p, va, RD, USER, 0x6000, PR | PX, X86_PAGE_4K);
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 3);
    TU_EXPECT_ACCESS(g_dev, 2, false, idx * 8, 8, pte | A);
    /* A write adds D. */
    EXPECT_OK(&p, va, WR, USER, 0x6000, PR | PW | PX, X86_PAGE_4K);
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 5);
    TU_EXPECT_ACCESS(g_dev, 4, true, idx * 8, 8, pte | A | D);
    EXPECT_OK(&p, va, WR, USER, 0x6000, PR | PW | PX, X86_PAGE_4K);
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 6);
    /* A fault (XD) reads but writes nothing. */
    tu_val_to_bytes(pte | XD, g_dev->mem + idx * 8, 8, false);
    EXPECT_PF(&p, va, EX, SUP, EC_P | EC_ID);
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 7);
    TU_EXPECT_ACCESS(g_dev, 6, false, idx * 8, 8, pte | XD);
}
END_TEST

START_TEST(test_self_map_in_mmio_writes_once)
{
    /* A self-referencing PML4 in the device: the same entry serves all four
     * levels; A (then D) must be written exactly once. */
    Pg p = pg_new(PM_4);
    p.st.cr3 = MMIO_BASE;
    uint64_t self = MMIO_BASE | P | RW;
    tu_val_to_bytes(self, g_dev->mem + 511 * 8, 8, false);
    tu_dev_clear_log(g_dev);
    X86WalkResult r;
    uint64_t va = 0xfffffffffffff000ull + 511 * 8;
    ck_assert(walk(&p, va, RD, SUP, &r));
    ck_assert_uint_eq(r.paddr, MMIO_BASE + 511 * 8);
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 5);
    for (unsigned i = 0; i < 4; i++) {
        TU_EXPECT_ACCESS(g_dev, i, false, 511 * 8, 8, self);
    }
    TU_EXPECT_ACCESS(g_dev, 4, true, 511 * 8, 8, self | A);
    tu_dev_clear_log(g_dev);
    ck_assert(walk(&p, va, WR, SUP, &r));
    ck_assert_uint_eq(r.prot, PR | PW | PX);
    ck_assert_uint_eq(tu_dev_nlog(g_dev), 5);
    TU_EXPECT_ACCESS(g_dev, 4, true, 511 * 8, 8, self | A | D);
}
END_TEST

START_TEST(test_tables_in_rom)
{
    Pg p = pg_new(PM_4);
    uint64_t va = 0x0000000000ac3000ull;
    pg_entry_addr(&p, va, 1);
    pg_set(&p, va, 2, ROM_BASE | P | RW | US | A);
    unsigned idx = (va >> 12) & 0x1ff;
    uint64_t pte = 0x6000 | P | RW | US;
    tu_val_to_bytes(pte, g_rom + idx * 8, 8, false);
    /* The A write-back is dropped by the ROM: the walk still succeeds. */
    EXPECT_OK(&p, va, RD, USER, 0x6000, PR | PX, X86_PAGE_4K);
    ck_assert_uint_eq(tu_bytes_to_val(g_rom + idx * 8, 8, false), pte);
    X86WalkResult r;
    ck_assert(walk(&p, va, WR, USER, &r));
    ck_assert_uint_eq(r.paddr, 0x6000);
    ck_assert_uint_eq(tu_bytes_to_val(g_rom + idx * 8, 8, false), pte);
}
END_TEST

/* ------------------------------------------------------------------ */
/*
 * Randomized comparison against a reference.
 *
 * The reference reads entries straight from the RAM array (unassigned:
 * all-ones), follows SDM 4.3/4.4.2/4.5 as written, decides each access kind
 * with the 4.6 rules stated separately per kind, and applies the A/D
 * updates of 4.8 to a shadow copy of the tables, which must then equal
 * RAM byte for byte.
 */

#define RND_TABLES 24
#define RND_ITERS  60000
#define RND_BATCH  500

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned rng_n(unsigned n)
{
    return (unsigned)(rng() % n);
}

static uint64_t rnd_tables[RND_TABLES];
static uint8_t *shadow;

static uint64_t ref_read(uint64_t addr, unsigned size)
{
    if (addr + size > RAM_SIZE) {
        return size == 8 ? ~0ull : 0xffffffffull; /* unassigned (the random map has nothing else) */
    }
    return tu_bytes_to_val(shadow + addr, size, false);
}

static void ref_or(uint64_t addr, unsigned size, uint64_t bits)
{
    if (addr + size <= RAM_SIZE) {
        tu_val_to_bytes(ref_read(addr, size) | bits, shadow + addr, size, false);
    }
}

/* A random pointer: usually one of the tables, else unassigned memory. */
static uint64_t rnd_pointer(PgMode mode)
{
    if (rng_n(16)) {
        return rnd_tables[rng_n(RND_TABLES)];
    }
    if (mode == PM_32) {
        return (rng() | 0x80000000ull) & 0xfffff000ull;
    }
    return (rng() | (1ull << 35)) & 0x000ffffffffff000ull & ~(rng() & 0x000fffc000000000ull);
}

static uint64_t rnd_entry(PgMode mode)
{
    uint64_t e = rnd_pointer(mode);
    if (rng_n(16) == 0) {
        return (rng() & ~P) & (mode == PM_32 ? 0xffffffffull : ~0ull); /* not present */
    }
    e |= P;
    if (rng_n(8)) e |= RW;
    if (rng_n(8)) e |= US;
    if (rng_n(2)) e |= A;
    if (rng_n(2)) e |= D;
    if (rng_n(2)) e |= rng() & (X86_PTE_PWT | X86_PTE_PCD | X86_PTE_G | (7ull << 9));
    if (rng_n(8) == 0) {
        /* A large page (or PAT in a PTE): the frame aligned, or with low
         * bits, possibly reserved ones. Bits 29:24 are only cleared, so a
         * pointer still lands in RAM or in the unassigned space above
         * 2 GiB, never in the MMIO/ROM pages (the reference reads RAM only). */
        e |= PS;
        e = (e & ~0x3fffe000ull) | (rng_n(2) ? 0 : rng() & 0x00ffe000ull);
    }
    if (mode == PM_32) {
        return e & 0xffffffffull;
    }
    if (rng_n(6) == 0) e |= XD;
    if (rng_n(8) == 0) e |= rng() & (0x7ffull << 52);      /* ignored (or PAE-reserved) */
    if (rng_n(32) == 0) e |= 1ull << (36 + rng_n(16));     /* maybe above MAXPHYADDR */
    return e;
}

/* A PAE PDPTE: no R/W, U/S, A, D or PS; rarely a reserved bit. */
static uint64_t rnd_pdpte(void)
{
    if (rng_n(16) == 0) {
        return rng() & ~P;
    }
    uint64_t e = rnd_pointer(PM_PAE) | P;
    e |= rng() & (X86_PTE_PWT | X86_PTE_PCD | (7ull << 9));
    switch (rng_n(24)) {
    case 0: e |= rng() & 0x1e6; break;                   /* bits 8:5, 2:1 */
    case 1: e |= XD; break;
    case 2: e |= 1ull << (36 + rng_n(28)); break;        /* maybe above MAXPHYADDR */
    default: break;
    }
    return e;
}

/* Every table gets random entries; for PAE, table 0 holds PDPTEs (CR3
 * points into it) and may also be reached as a PD or PT. */
static void rnd_fill_tables(PgMode mode)
{
    unsigned es = mode == PM_32 ? 4 : 8;
    for (unsigned t = 0; t < RND_TABLES; t++) {
        for (unsigned i = 0; i < 0x1000 / es; i++) {
            uint64_t e = (mode == PM_PAE && t == 0) ? rnd_pdpte() : rnd_entry(mode);
            tu_val_to_bytes(e, g_ram + rnd_tables[t] + i * es, es, false);
        }
    }
}

typedef struct RefResult {
    bool ok, gp;
    uint32_t ec;
    uint64_t paddr, size;
    unsigned prot;
} RefResult;

static uint64_t mask_bits(unsigned hi, unsigned lo)
{
    uint64_t m = 0;
    for (unsigned b = lo; b <= hi && b < 64; b++) {
        m |= 1ull << b;
    }
    return m;
}

/* 4.6, one access kind at a time. */
static bool ref_allowed(const X86PagingState *st, bool user, X86AccessKind k, bool user_page,
                        bool writable, bool executable)
{
    bool smep = st->cr4 & X86_CR4_SMEP, smap = st->cr4 & X86_CR4_SMAP;
    bool wp = st->cr0 & X86_CR0_WP;
    if (user) {
        switch (k) {
        case RD: return user_page;
        case WR: return user_page && writable;
        default: return user_page && executable;
        }
    }
    switch (k) {
    case RD:
        return !(user_page && smap && !st->smap_override);
    case WR:
        if (user_page && smap && !st->smap_override) {
            return false;
        }
        return wp ? writable : true;
    default:
        return executable && !(user_page && smep);
    }
}

static RefResult ref_walk(const X86PagingState *st, PgMode mode, uint64_t va, X86AccessKind k,
                          bool user, bool debug)
{
    RefResult r = { 0 };
    unsigned M = st->maxphyaddr ? st->maxphyaddr : 40;
    bool nx_on = mode != PM_32 && (st->efer & X86_EFER_NXE);
    r.ec = (k == WR ? EC_W : 0) | (user ? EC_U : 0) |
           (k == EX && ((st->cr4 & X86_CR4_SMEP) || nx_on) ? EC_ID : 0);
    if (mode == PM_4 || mode == PM_5) {
        unsigned vbits = mode == PM_5 ? 57 : 48;
        uint64_t high = va >> (vbits - 1);
        if (high != 0 && high != (~0ull >> (vbits - 1))) {
            r.gp = true;
            r.ec = 0;
            return r;
        }
    }
    if (mode == PM_32 || mode == PM_PAE) {
        va &= 0xffffffffull;
    }

    uint64_t path_addr[6], path_val[6];
    unsigned n = 0;
    unsigned esz = mode == PM_32 ? 4 : 8;
    uint64_t leaf = 0, size = 0;

    if (mode == PM_32) {
        uint64_t pde_a = (st->cr3 & 0xfffff000ull) + 4 * (va >> 22);
        uint64_t pde = ref_read(pde_a, 4);
        if (!(pde & P)) return r;
        path_addr[n] = pde_a; path_val[n++] = pde;
        if ((st->cr4 & X86_CR4_PSE) && (pde & PS)) {
            unsigned m = M > 40 ? 40 : M;
            if (pde & mask_bits(21, m - 19)) { r.ec |= EC_P | EC_RSVD; return r; }
            size = 4ull << 20;
            leaf = (pde & 0xffc00000ull) | ((pde & mask_bits(20, 13)) << 19);
        } else {
            uint64_t pte_a = (pde & 0xfffff000ull) + 4 * ((va >> 12) & 0x3ff);
            uint64_t pte = ref_read(pte_a, 4);
            if (!(pte & P)) return r;
            path_addr[n] = pte_a; path_val[n++] = pte;
            size = 4096;
            leaf = pte & 0xfffff000ull;
        }
    } else {
        uint64_t table;
        int level;
        uint64_t rsv;
        if (mode == PM_PAE) {
            uint64_t pdpte = ref_read((st->cr3 & 0xffffffe0ull) + 8 * (va >> 30), 8);
            if (!(pdpte & P)) return r;
            if (pdpte & (mask_bits(63, M) | mask_bits(8, 5) | mask_bits(2, 1))) {
                r.ec |= EC_P | EC_RSVD;
                return r;
            }
            table = pdpte & mask_bits(M - 1, 12);
            level = 2;
            rsv = mask_bits(62, M);
        } else {
            table = st->cr3 & mask_bits(M - 1, 12);
            level = mode == PM_5 ? 5 : 4;
            rsv = mask_bits(51, M);
        }
        if (!nx_on) {
            rsv |= XD;
        }
        for (;; level--) {
            unsigned shift = 12 + 9 * (level - 1);
            uint64_t ea = table + 8 * ((va >> shift) & 511);
            uint64_t e = ref_read(ea, 8);
            if (!(e & P)) return r;
            bool is_leaf = level == 1 || ((level == 2 || level == 3) && (e & PS));
            bool bad = (e & rsv) != 0;
            if (level >= 4 && (e & PS)) bad = true;
            if (is_leaf && level > 1 && (e & mask_bits(shift - 1, 13))) bad = true;
            if (bad) { r.ec |= EC_P | EC_RSVD; return r; }
            path_addr[n] = ea; path_val[n++] = e;
            if (is_leaf) {
                size = 1ull << shift;
                leaf = e & mask_bits(M - 1, shift);
                break;
            }
            table = e & mask_bits(M - 1, 12);
        }
    }

    bool user_page = true, writable = true, executable = true;
    for (unsigned i = 0; i < n; i++) {
        user_page &= (path_val[i] & US) != 0;
        writable &= (path_val[i] & RW) != 0;
        if (nx_on && (path_val[i] & XD)) executable = false;
    }
    unsigned prot = (ref_allowed(st, user, RD, user_page, writable, executable) ? PR : 0) |
                    (ref_allowed(st, user, WR, user_page, writable, executable) ? PW : 0) |
                    (ref_allowed(st, user, EX, user_page, writable, executable) ? PX : 0);
    if (!ref_allowed(st, user, k, user_page, writable, executable)) {
        r.ec |= EC_P;
        return r;
    }
    if (!debug) {
        for (unsigned i = 0; i < n; i++) {
            ref_or(path_addr[i], esz, A | ((k == WR && i == n - 1) ? D : 0));
        }
    }
    if (!(ref_read(path_addr[n - 1], esz) & D)) {
        prot &= ~PW;
    }
    r.ok = true;
    r.ec = 0;
    r.size = size;
    r.prot = prot;
    r.paddr = leaf | (va & (size - 1));
    return r;
}

START_TEST(test_random_vs_reference)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    const char *env = getenv("X86_PAGING_SEED");
    if (env) {
        seed = g_ascii_strtoull(env, NULL, 0);
    }
    rng_state = seed ? seed : 1;
    for (unsigned t = 0; t < RND_TABLES; t++) {
        rnd_tables[t] = pt_alloc();
    }
    uint64_t area = rnd_tables[0], area_len = RND_TABLES * 0x1000ull;
    shadow = g_malloc0(RAM_SIZE);
    static const uint8_t maxphys[] = { 0, 36, 39, 40, 46, 52 };
    unsigned counts[3] = { 0 }; /* ok, #PF, #GP */
    unsigned sizes[4] = { 0 };  /* successes by page size: 4K, 2M, 4M, 1G */
    PgMode mode = PM_4;

    for (unsigned it = 0; it < RND_ITERS; it++) {
        if (it % RND_BATCH == 0) {
            static const PgMode modes[] = { PM_4, PM_4, PM_5, PM_PAE, PM_32 };
            mode = modes[rng_n(G_N_ELEMENTS(modes))];
            rnd_fill_tables(mode);
            memcpy(shadow + area, g_ram + area, area_len);
        }
        X86PagingState st = { 0 };
        st.cr0 = X86_CR0_PG | (rng_n(2) ? X86_CR0_WP : 0);
        st.cr3 = rnd_tables[rng_n(RND_TABLES)];
        switch (mode) {
        case PM_32:
            st.cr4 = rng_n(4) ? X86_CR4_PSE : 0;
            st.efer = rng_n(2) ? X86_EFER_NXE : 0; /* must be ignored */
            break;
        case PM_PAE:
            st.cr4 = X86_CR4_PAE;
            st.cr3 = rnd_tables[0] + 32 * rng_n(128);
            st.efer = rng_n(4) ? X86_EFER_NXE : 0;
            break;
        default:
            st.cr4 = X86_CR4_PAE | (mode == PM_5 ? X86_CR4_LA57 : 0);
            st.cr3 |= rng() & 0xfff;
            st.efer = X86_EFER_LME | X86_EFER_LMA | (rng_n(4) ? X86_EFER_NXE : 0);
            break;
        }
        st.cr4 |= rng() & (X86_CR4_SMEP | X86_CR4_SMAP);
        st.smap_override = rng_n(2);
        st.maxphyaddr = maxphys[rng_n(G_N_ELEMENTS(maxphys))];

        uint64_t va = rng();
        if (mode == PM_4 && rng_n(16)) {
            va = (uint64_t)((int64_t)(va << 16) >> 16);
        } else if (mode == PM_5 && rng_n(16)) {
            va = (uint64_t)((int64_t)(va << 7) >> 7);
        }
        X86AccessKind k = (X86AccessKind)rng_n(3);
        bool user = rng_n(2);
        MemAttrs attrs = mem_attrs_cpu(0);
        attrs.debug = rng_n(16) == 0;

        RefResult ref = ref_walk(&st, mode, va, k, user, attrs.debug);
        X86WalkResult got;
        memset(&got, 0x5a, sizeof(got));
        bool ok = x86_page_walk(g_as, attrs, &st, va, k, user, &got);

        ck_assert_msg(ok == ref.ok && got.fault_is_gp == ref.gp &&
                          (ok ? (got.paddr == ref.paddr && got.prot == ref.prot &&
                                 got.page_size == ref.size && got.error_code == 0)
                              : got.error_code == ref.ec),
                      "seed 0x%" PRIx64 " iteration %u: mode %d cr0 0x%" PRIx64 " cr3 0x%" PRIx64
                      " cr4 0x%" PRIx64 " efer 0x%" PRIx64 " ovr %d maxphy %u debug %d: %s %s of "
                      "0x%" PRIx64 ": got ok=%d gp=%d ec=0x%x pa=0x%" PRIx64 " prot=%u size=0x%"
                      PRIx64 "; expected ok=%d gp=%d ec=0x%x pa=0x%" PRIx64 " prot=%u size=0x%"
                      PRIx64, seed, it, (int)mode, st.cr0, st.cr3, st.cr4, st.efer,
                      st.smap_override, st.maxphyaddr, attrs.debug, user ? "user" : "sup",
                      kname(k), va, ok, got.fault_is_gp, got.error_code, got.paddr, got.prot,
                      got.page_size, ref.ok, ref.gp, ref.ec, ref.paddr, ref.prot, ref.size);
        ck_assert_msg(memcmp(shadow + area, g_ram + area, area_len) == 0,
                      "seed 0x%" PRIx64 " iteration %u: A/D write-back differs from the "
                      "reference (%s %s of 0x%" PRIx64 ", mode %d)", seed, it,
                      user ? "user" : "sup", kname(k), va, (int)mode);
        counts[ref.gp ? 2 : ref.ok ? 0 : 1]++;
        if (ref.ok) {
            sizes[ref.size == X86_PAGE_4K ? 0 : ref.size == X86_PAGE_2M ? 1
                  : ref.size == X86_PAGE_4M ? 2 : 3]++;
        }
    }
    /* The mix must exercise every outcome. */
    ck_assert_msg(counts[0] > RND_ITERS / 20 && counts[1] > RND_ITERS / 20 && counts[2] > 0,
                  "seed 0x%" PRIx64 ": outcomes ok=%u pf=%u gp=%u", seed, counts[0], counts[1],
                  counts[2]);
    ck_assert_msg(sizes[0] && sizes[1] && sizes[2] && sizes[3],
                  "seed 0x%" PRIx64 ": successes by size 4K=%u 2M=%u 4M=%u 1G=%u", seed, sizes[0],
                  sizes[1], sizes[2], sizes[3]);
    g_free(shadow);
}
END_TEST

static Suite *x86_paging_suite(void)
{
    Suite *s = suite_create("x86_paging");
    TCase *tc;

#define TC(name)                                            \
    tc = tcase_create(name);                                \
    tcase_add_checked_fixture(tc, setup, teardown);         \
    suite_add_tcase(s, tc)

    TC("modes");
    tcase_add_test(tc, test_mode_selection);
    tcase_add_test(tc, test_paging_off);

    TC("32bit");
    tcase_add_test(tc, test_32_basic);
    tcase_add_test(tc, test_32_not_present);
    tcase_add_test(tc, test_32_pse_4m);
    tcase_add_test(tc, test_32_pse36);
    tcase_add_test(tc, test_32_rights);

    TC("pae");
    tcase_add_test(tc, test_pae_basic);
    tcase_add_test(tc, test_pae_not_present);
    tcase_add_test(tc, test_pae_xd_and_nxe);
    tcase_add_test(tc, test_pae_reserved);
    tcase_add_test(tc, test_pae_pdpte_registers);

    TC("long");
    tcase_add_test(tc, test_4l_page_sizes);
    tcase_add_test(tc, test_4l_not_present_each_level);
    tcase_add_test(tc, test_4l_reserved);
    tcase_add_test(tc, test_noncanonical);
    tcase_add_test(tc, test_4l_accessed_dirty);
    tcase_add_test(tc, test_no_ad_on_fault);
    tcase_add_test(tc, test_5level);
    tcase_add_test(tc, test_recursive_mapping);

    TC("rights");
    tcase_add_test(tc, test_user_write_readonly);
    tcase_add_test(tc, test_wp0_sets_dirty);
    tcase_add_test(tc, test_user_access_supervisor_page);
    tcase_add_test(tc, test_nx);
    tcase_add_test(tc, test_smep);
    tcase_add_test(tc, test_smap);

    TC("table-memory");
    tcase_add_test(tc, test_unassigned_tables);
    tcase_add_test(tc, test_tables_in_mmio);
    tcase_add_test(tc, test_self_map_in_mmio_writes_once);
    tcase_add_test(tc, test_tables_in_rom);

    TC("random");
    tcase_add_test(tc, test_random_vs_reference);
#undef TC
    return s;
}

int main(void)
{
    return tu_run(x86_paging_suite());
}
