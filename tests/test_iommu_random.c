/*
 * Randomized test of the reference IOMMU (devices/iommu_ref.h) and the DMA
 * helpers (softmmu/dma.h) against a naive model written here.
 *
 * Each run builds a machine, writes random page tables into RAM, then
 * performs a random sequence of operations: dma_read/dma_write of random
 * lengths, dma_read_val/dma_write_val of every size in both byte orders,
 * dma_map/dma_unmap round trips (direct and bounce, several outstanding),
 * page-table changes with and without invalidation, ROOT and ENABLE
 * writes, fault acknowledgements and the host-side IOTLB switch
 * (iommu_ref_set_iotlb). After every operation the test
 * compares the device and memory with the model: results, bytes read,
 * RAM and MMIO contents, every call the MMIO device saw, the fault
 * registers (read through the IOMMU's register region), the number of
 * table walks, and which direct mappings were revoked.
 *
 * The model does not ask the device anything: it walks the tables from its
 * own copy of the table memory and keeps its own copy of the 16-entry
 * IOTLB. iommu_ref.h documents the IOTLB exactly (direct-mapped by IOVA
 * page, filled by every successful walk, faults never cached, changes seen
 * only after INVALIDATE / ROOT / ENABLE), so the model predicts stale
 * translations exactly, and checking the walk count pins down every hit
 * and miss.
 *
 * The machine ("sys"): data RAM at 0, the page-table RAM at TBL_BASE (out
 * of reach of DMA, so only the test changes tables), a recording MMIO
 * device at MMIO_BASE whose last page fails every access, the IOMMU
 * registers at REGS_BASE. "dev", the device's space, holds IOMMU A at 0
 * (4 GiB of IOVA; above it nothing). In the nested variant A translates
 * into "mid", whose root holds a second IOMMU B, translating into "sys";
 * otherwise A translates into "sys" directly. Each space has its own
 * unassigned fill byte, so a failed read shows at which level it failed.
 *
 * Seeds are fixed (8 per variant); MMUSIM_RANDOM_ITERS sets the number of
 * operations per seed (default 25000; about 1.5 s for all 16 runs in
 * RelWithDebInfo, 5 s under ASan); MMUSIM_RANDOM_VERBOSE=1 prints what each
 * run exercised. A failure names the seed, the operation index and the
 * operation.
 */
#include "tests/test_util.h"

#include <stdlib.h>

#include "devices/iommu_ref.h"
#include "softmmu/dma.h"
#include "softmmu/iommu.h"

#define RAM_SIZE 0x200000ull        /* data RAM at 0 */
#define TBL_BASE 0x08000000ull      /* page-table RAM */
#define TBL_PER_IOMMU 0x8000ull     /* per IOMMU: NROOT root tables, then NLEAF leaf tables */
#define TBL_SIZE (2 * TBL_PER_IOMMU)
#define NROOT 2u
#define NLEAF 6u
#define MMIO_BASE 0x10000000ull
#define MMIO_SIZE 0x4000ull
#define MMIO_POISON 0x3000ull       /* accesses starting here fail with MEM_DEVICE_ERROR */
#define REGS_BASE 0x20000000ull     /* IOMMU u's registers at REGS_BASE + u * 0x1000 */
#define HOLE_BASE 0x30000000ull     /* unassigned pages that PTEs point at */
#define FAR_BASE 0x40000000ull      /* [FAR_BASE, 4 GiB) is unassigned in sys */
#define WALK_HOLE 0x50000000ull     /* unassigned leaf/root table addresses: walk faults */
#define IOVA_TOP IOMMU_REF_IOVA_SIZE
#define HOT 24u                     /* leaf indices [0, HOT) and [1024 - HOT, 1024) are used */
#define MAX_MAPS 3u
#define MAX_LEN (20u * 0x1000u)
#define DEF_ITERS 25000u
#define NSEEDS 8

#define PTE_RW (IOMMU_REF_PTE_READ | IOMMU_REF_PTE_WRITE)

/* ------------------------------------------------------------------ */
/* Failure context and random numbers. */

static unsigned cur_seed, cur_iter;
static char cur_op[160];

#define CHK(cond, ...)                                                                     \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            char m_[384];                                                                  \
            snprintf(m_, sizeof(m_), __VA_ARGS__);                                         \
            ck_assert_msg(0, "seed %#x iteration %u (%s): %s", cur_seed, cur_iter, cur_op, \
                          m_);                                                             \
        }                                                                                  \
    } while (0)

static uint64_t rng;

/* What a run exercised (printed with MMUSIM_RANDOM_VERBOSE=1), so a change
 * that makes the random mix degenerate shows. */
static struct {
    unsigned rw[4], val[4];         /* by MemResult */
    unsigned map_direct, map_bounce, map_failed, revoked, writeback_failed;
    unsigned walks, hits, stale_hits, faults, passthrough;
} st;

static uint64_t rnd(void)
{
    /* splitmix64: small, and a fixed seed replays the same run */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return rnd() % n;
}

static bool chance(unsigned pct)
{
    return below(100) < pct;
}

static unsigned iterations(void)
{
    const char *s = getenv("MMUSIM_RANDOM_ITERS");
    long v = s ? strtol(s, NULL, 0) : 0;
    return v > 0 ? (unsigned)v : DEF_ITERS;
}

/* ------------------------------------------------------------------ */
/* The recording MMIO device: memory-like (little-endian bytes), every call
 * logged; accesses starting in the poisoned page fail. */

typedef struct RecAccess {
    bool write;
    uint64_t offset;
    uint64_t value;
    unsigned size;
} RecAccess;

static uint8_t rec_mem[MMIO_SIZE];
static GArray *rec_log;

static uint64_t le_val(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static MemResult rec_read(void *opaque, uint64_t off, uint64_t *value, unsigned size,
                          MemAttrs attrs)
{
    bool bad = off >= MMIO_POISON;
    RecAccess a = { false, off, bad ? 0 : le_val(rec_mem + off, size), size };
    g_array_append_val(rec_log, a);
    *value = a.value;
    return bad ? MEM_DEVICE_ERROR : MEM_OK;
}

static MemResult rec_write(void *opaque, uint64_t off, uint64_t value, unsigned size,
                           MemAttrs attrs)
{
    RecAccess a = { true, off, value, size };
    g_array_append_val(rec_log, a);
    if (off >= MMIO_POISON) {
        return MEM_DEVICE_ERROR;
    }
    for (unsigned i = 0; i < size; i++) {
        rec_mem[off + i] = (uint8_t)(value >> (8 * i));
    }
    return MEM_OK;
}

/* Accepts and implements every size at any alignment, so the calls it sees
 * are exactly the pieces the core cuts (and the model predicts). */
static const MemRegionOps rec_ops = {
    .read = rec_read,
    .write = rec_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = true },
};

/* ------------------------------------------------------------------ */
/* The machine under test. */

typedef struct Slot {
    bool used;
    DmaMapping *m;
    uint8_t *ptr;
    uint64_t iova, len;
    uint64_t pa;             /* model: the sys address a direct mapping reaches */
    bool is_write;
    MemAttrs attrs;
    unsigned revoke_calls;   /* by the real revoke callback */
    /* model */
    bool direct;
    bool revoked;
    unsigned nihops;
    struct { unsigned u; uint64_t off; } ihops[2];  /* IOMMU hops of a direct mapping */
    uint8_t *wdata;          /* bounce write: what the device put in the buffer */
} Slot;

static struct {
    bool nested;
    MemRegion *sys_root, *dev_root, *mid_root;
    MemRegion *ram, *tbl, *mmio;
    AddressSpace *sys, *dev, *mid;
    IommuRef *iommu[2];
    Slot slots[MAX_MAPS];
} W;

/* ------------------------------------------------------------------ */
/* The model. */

typedef struct RefTlb {
    bool valid;
    uint64_t iova_page, pa_page;
    unsigned perm;
} RefTlb;

typedef struct RefIommu {
    uint64_t root;
    uint32_t enable;
    uint32_t fstatus;
    uint64_t faddr;
    uint32_t freq;
    RefTlb tlb[IOMMU_REF_IOTLB_SIZE];
    bool tlb_off;            /* iommu_ref_set_iotlb(false): every translation walks */
    uint64_t walks;
} RefIommu;

typedef struct RefEntry {
    uint64_t pa;
    uint64_t mask;
    unsigned perm;
} RefEntry;

enum Level { L_DEV, L_MID, L_SYS };

static struct {
    uint8_t ram[RAM_SIZE];
    uint8_t tbl[TBL_SIZE];
    uint8_t mmio[MMIO_SIZE];
    RefIommu iommu[2];
    uint8_t dev_fill, mid_fill, sys_fill;
    bool dev_big;            /* dev's target byte order */
    GArray *elog;            /* expected MMIO calls of the current operation */
    uint64_t touch_lo, touch_hi;  /* RAM written by the current operation */
} M;

static unsigned n_iommus(void)
{
    return W.nested ? 2 : 1;
}

static uint64_t tbl_addr(unsigned u, unsigned page)
{
    return TBL_BASE + u * TBL_PER_IOMMU + page * 0x1000ull;
}

static uint64_t root_table(unsigned u, unsigned i)
{
    return tbl_addr(u, i);
}

static uint64_t leaf_table(unsigned u, unsigned k)
{
    return tbl_addr(u, NROOT + k);
}

static void model_invalidate(unsigned u, uint64_t addr, uint64_t mask)
{
    /* What dma.c's notifier does: revoke a direct mapping whose range
     * through this IOMMU overlaps the invalidated range. */
    uint64_t lo = addr & ~mask, hi = addr | mask;
    for (unsigned i = 0; i < MAX_MAPS; i++) {
        Slot *s = &W.slots[i];
        if (!s->used || !s->direct || s->revoked) {
            continue;
        }
        for (unsigned h = 0; h < s->nihops; h++) {
            uint64_t first = s->ihops[h].off, last = first + s->len - 1;
            if (s->ihops[h].u == u && first <= hi && lo <= last) {
                s->revoked = true;
            }
        }
    }
}

static void model_flush_all(unsigned u)
{
    for (unsigned i = 0; i < IOMMU_REF_IOTLB_SIZE; i++) {
        M.iommu[u].tlb[i].valid = false;
    }
    model_invalidate(u, 0, UINT64_MAX);
}

static void model_latch(unsigned u, uint64_t iova, bool wr, uint32_t kind, MemAttrs attrs)
{
    RefIommu *r = &M.iommu[u];
    if (attrs.debug) {
        return;
    }
    st.faults++;
    if (r->fstatus & IOMMU_REF_FAULT_VALID) {
        r->fstatus |= IOMMU_REF_FAULT_OVERFLOW;
        return;
    }
    r->fstatus = (r->fstatus & IOMMU_REF_FAULT_OVERFLOW) | IOMMU_REF_FAULT_VALID |
                 (wr ? IOMMU_REF_FAULT_WRITE : 0) | kind;
    r->faddr = iova;
    r->freq = attrs.requester;
}

static MemResult ref_access(enum Level lv, uint64_t addr, uint8_t *buf, uint64_t len, bool wr,
                            bool value, MemAttrs attrs);

/* The table walk reads entries as a 4-byte little-endian value access in
 * sys, as the device does; the model answers it from its own memory. */
static bool ref_read32(uint64_t addr, MemAttrs attrs, uint32_t *v)
{
    uint8_t b[4];
    MemResult r = ref_access(L_SYS, addr, b, 4, false, true, attrs);
    *v = (uint32_t)le_val(b, 4);
    return r == MEM_OK;
}

static bool ref_walk(unsigned u, uint64_t iova, MemAttrs attrs, uint32_t *pte, bool *walk_failed)
{
    RefIommu *r = &M.iommu[u];
    uint32_t v;

    r->walks++;
    st.walks++;
    *walk_failed = false;
    if (!ref_read32((r->root & ~0xfffull) + ((iova >> 22) & 0x3ff) * 4, attrs, &v)) {
        *walk_failed = true;
        return false;
    }
    if (!(v & IOMMU_REF_PTE_VALID)) {
        return false;
    }
    if (!ref_read32((v & IOMMU_REF_PTE_ADDR) + ((iova >> 12) & 0x3ff) * 4, attrs, &v)) {
        *walk_failed = true;
        return false;
    }
    if (!(v & IOMMU_REF_PTE_VALID)) {
        return false;
    }
    *pte = v;
    return true;
}

static unsigned pte_perm(uint32_t pte)
{
    return ((pte & IOMMU_REF_PTE_READ) ? MEM_IOMMU_RO : 0u) |
           ((pte & IOMMU_REF_PTE_WRITE) ? MEM_IOMMU_WO : 0u);
}

/* The current leaf entry, without side effects (statistics only; tables
 * only ever live in the table RAM). */
static bool peek_pte(unsigned u, uint64_t iova, uint32_t *pte)
{
    uint64_t a = (M.iommu[u].root & ~0xfffull) + ((iova >> 22) & 0x3ff) * 4;
    for (int level = 0; level < 2; level++) {
        if (a < TBL_BASE || a - TBL_BASE > TBL_SIZE - 4) {
            return false;
        }
        uint32_t v = (uint32_t)le_val(M.tbl + (a - TBL_BASE), 4);
        if (!(v & IOMMU_REF_PTE_VALID)) {
            return false;
        }
        *pte = v;
        a = (v & IOMMU_REF_PTE_ADDR) + ((iova >> 12) & 0x3ff) * 4;
    }
    return true;
}

/* Translation by IOMMU u, with its IOTLB and fault latching. */
static bool ref_translate(unsigned u, uint64_t iova, bool wr, MemAttrs attrs, RefEntry *e)
{
    RefIommu *r = &M.iommu[u];

    if (!(r->enable & IOMMU_REF_ENABLE_ON)) {
        st.passthrough++;
        *e = (RefEntry){ 0, IOVA_TOP - 1, MEM_IOMMU_RW };
        return true;
    }
    uint64_t page = iova & ~0xfffull;
    RefTlb scratch = { 0 };
    RefTlb *t = r->tlb_off ? &scratch : &r->tlb[(page >> 12) % IOMMU_REF_IOTLB_SIZE];
    if (t->valid && t->iova_page == page) {
        uint32_t now;
        st.hits++;
        if (!peek_pte(u, iova, &now) || (now & IOMMU_REF_PTE_ADDR) != t->pa_page ||
            pte_perm(now) != t->perm) {
            st.stale_hits++;  /* the table changed since: the IOTLB wins */
        }
    } else {
        uint32_t pte = 0;
        bool wf;
        if (!ref_walk(u, iova, attrs, &pte, &wf)) {
            model_latch(u, iova, wr, wf ? IOMMU_REF_FAULT_WALK : 0, attrs);
            e->mask = 0xfff;
            return false;
        }
        t->valid = true;
        t->iova_page = page;
        t->pa_page = pte & IOMMU_REF_PTE_ADDR;
        t->perm = pte_perm(pte);
    }
    if (!(t->perm & (wr ? MEM_IOMMU_WO : MEM_IOMMU_RO))) {
        model_latch(u, iova, wr, IOMMU_REF_FAULT_PERM, attrs);
    }
    *e = (RefEntry){ t->pa_page, 0xfff, t->perm };
    return true;
}

static enum Level target_of(unsigned u)
{
    return (u == 0 && W.nested) ? L_MID : L_SYS;
}

/* An access through IOMMU u at offset `off` (all of it inside the region),
 * mirroring softmmu/iommu.h: cut at entry ends, refused pieces filled with
 * the fill byte of the space the access came into. */
static MemResult ref_iommu(unsigned u, uint8_t fill, uint64_t off, uint8_t *buf, uint64_t len,
                           bool wr, bool value, MemAttrs attrs)
{
    MemResult res = MEM_OK;
    const uint64_t total = len;  /* only an unsplit access stays a value access */
    while (len) {
        RefEntry e = { 0, 0xfff, 0 };
        bool ok = ref_translate(u, off, wr, attrs, &e);
        uint64_t rest = (off | e.mask) - off;
        uint64_t chunk = rest >= len - 1 ? len : rest + 1;
        MemResult r;
        bool forwarded = false;
        if (!ok) {
            r = MEM_DECODE_ERROR;
        } else if (!(e.perm & (wr ? MEM_IOMMU_WO : MEM_IOMMU_RO))) {
            r = MEM_ACCESS_ERROR;
        } else {
            uint64_t t = (e.pa & ~e.mask) | (off & e.mask);
            r = ref_access(target_of(u), t, buf, chunk, wr, value && chunk == total, attrs);
            forwarded = true;
        }
        if (!forwarded && !wr) {
            memset(buf, fill, chunk);
        }
        if (res == MEM_OK) {
            res = r;
        }
        off += chunk;
        buf += chunk;
        len -= chunk;
    }
    return res;
}

/* What the recording device answers to one call. */
static MemResult ref_mmio_call(uint64_t off, uint8_t *buf, unsigned size, bool wr)
{
    bool bad = off >= MMIO_POISON;
    RecAccess a = { wr, off, 0, size };
    if (wr) {
        a.value = le_val(buf, size);
        if (!bad) {
            memcpy(M.mmio + off, buf, size);
        }
    } else {
        if (bad) {
            memset(buf, 0, size);  /* a refused read yields zeros */
        } else {
            memcpy(buf, M.mmio + off, size);
        }
        a.value = le_val(buf, size);
    }
    g_array_append_val(M.elog, a);
    return bad ? MEM_DEVICE_ERROR : MEM_OK;
}

/* The sections of sys (kind 0: unassigned up to the next one). */
typedef struct RefSection {
    uint64_t start, size;
    int kind;  /* 1 RAM, 2 table RAM, 3 MMIO, 4 registers */
} RefSection;

static const RefSection sys_map[] = {
    { 0, RAM_SIZE, 1 },
    { TBL_BASE, TBL_SIZE, 2 },
    { MMIO_BASE, MMIO_SIZE, 3 },
    { REGS_BASE, 0x2000, 4 },
};

static MemResult ref_sys(uint64_t addr, uint8_t *buf, uint64_t len, bool wr, bool value)
{
    MemResult res = MEM_OK;
    const uint64_t total = len;
    while (len) {
        const RefSection *s = NULL;
        uint64_t end = UINT64_MAX;  /* last byte of the section (or hole) at addr */
        for (unsigned i = 0; i < G_N_ELEMENTS(sys_map); i++) {
            const RefSection *c = &sys_map[i];
            if (addr >= c->start && addr - c->start < c->size) {
                s = c;
                end = c->start + c->size - 1;
                break;
            }
            if (c->start > addr && c->start - 1 < end) {
                end = c->start - 1;
            }
        }
        uint64_t chunk = end - addr >= len - 1 ? len : end - addr + 1;
        bool whole = value && chunk == total;  /* one value access in one section */
        MemResult r = MEM_OK;
        CHK(!s || s->kind != 4, "model: a DMA reached the IOMMU registers at %#" PRIx64, addr);
        if (!s) {
            r = MEM_DECODE_ERROR;
            if (!wr) {
                memset(buf, M.sys_fill, chunk);
            }
        } else if (s->kind == 1 || s->kind == 2) {
            uint8_t *mem = (s->kind == 1 ? M.ram : M.tbl) + (addr - s->start);
            if (wr) {
                memcpy(mem, buf, chunk);
                if (s->kind == 1) {
                    M.touch_lo = MIN(M.touch_lo, addr);
                    M.touch_hi = MAX(M.touch_hi, addr + chunk);
                }
            } else {
                memcpy(buf, mem, chunk);
            }
        } else if (whole) {
            r = ref_mmio_call(addr - s->start, buf, (unsigned)chunk, wr);
        } else {
            /* Buffer pieces: the largest power of two <= 8 that fits. */
            for (uint64_t done = 0; done < chunk;) {
                unsigned l = 8;
                while (l > chunk - done) {
                    l >>= 1;
                }
                MemResult r2 = ref_mmio_call(addr - s->start + done, buf + done, l, wr);
                if (r == MEM_OK) {
                    r = r2;
                }
                done += l;
            }
        }
        if (res == MEM_OK) {
            res = r;
        }
        addr += chunk;
        buf += chunk;
        len -= chunk;
    }
    return res;
}

/* An access in dev or mid: the IOMMU over [0, 4 GiB), nothing above. */
static MemResult ref_access(enum Level lv, uint64_t addr, uint8_t *buf, uint64_t len, bool wr,
                            bool value, MemAttrs attrs)
{
    if (lv == L_SYS) {
        return ref_sys(addr, buf, len, wr, value);
    }
    unsigned u = lv == L_DEV ? 0 : 1;
    uint8_t fill = lv == L_DEV ? M.dev_fill : M.mid_fill;
    MemResult res = MEM_OK;
    const uint64_t total = len;
    while (len) {
        uint64_t chunk;
        MemResult r;
        if (addr < IOVA_TOP) {
            chunk = IOVA_TOP - addr >= len ? len : IOVA_TOP - addr;
            r = ref_iommu(u, fill, addr, buf, chunk, wr, value && chunk == total, attrs);
        } else {
            chunk = len;
            r = MEM_DECODE_ERROR;
            if (!wr) {
                memset(buf, fill, chunk);
            }
        }
        if (res == MEM_OK) {
            res = r;
        }
        addr += chunk;
        buf += chunk;
        len -= chunk;
    }
    return res;
}

/* ------------------------------------------------------------------ */
/* Random tables. */

static uint64_t hot_page_uniform(void)
{
    static const uint64_t roots[] = { 0, 1, 2, 0x3ff };
    uint64_t i = below(2 * HOT);
    uint64_t leaf = i < HOT ? i : 1024 - 2 * HOT + i;
    return (roots[below(4)] << 22) | (leaf << 12);
}

/* A few pages per run are popular, as a device's buffers are: without
 * reuse the 16-entry IOTLB would hardly ever hit. */
#define NPOPULAR 8u
static uint64_t popular[NPOPULAR];

static uint64_t hot_page(void)
{
    return chance(50) ? popular[below(NPOPULAR)] : hot_page_uniform();
}

/* The "good" window: IOVA pages [0, HOT) through root entry 0 and leaf
 * table 0, kept mostly mapped read/write onto RAM, so that multi-page
 * transfers also succeed and move data often enough. */
static uint64_t good_page(void)
{
    /* Skewed towards its first pages: reuse is what makes the IOTLB hit. */
    return (chance(50) ? below(4) : below(HOT)) << 12;
}

static uint64_t far_page(void)
{
    return (FAR_BASE + below(IOVA_TOP - FAR_BASE)) & ~0xfffull;
}

/* Where a leaf entry of IOMMU u points. */
static uint64_t rand_out_page(unsigned u)
{
    if (target_of(u) == L_MID) {
        return chance(92) ? hot_page() : far_page();  /* an IOVA of B */
    }
    unsigned c = (unsigned)below(100);
    if (c < 25) {
        return below(16) << 12;  /* a few popular pages: aliasing */
    }
    if (c < 75) {
        return below(RAM_SIZE >> 12) << 12;
    }
    if (c < 90) {
        return MMIO_BASE + (below(MMIO_SIZE >> 12) << 12);
    }
    if (c < 96) {
        return HOLE_BASE + (below(16) << 12);
    }
    return far_page();
}

static uint32_t rand_leaf_pte(unsigned u, bool good)
{
    static const uint32_t perms[] = { PTE_RW, PTE_RW, PTE_RW, IOMMU_REF_PTE_READ,
                                      IOMMU_REF_PTE_WRITE, 0 };
    /* Bits 11:3 are ignored by the device: fill them with noise. */
    uint32_t noise = (uint32_t)rnd() & 0xff8u;
    if (good && chance(85)) {
        uint64_t out = target_of(u) == L_MID ? good_page() : below(RAM_SIZE >> 12) << 12;
        return (uint32_t)out | PTE_RW | IOMMU_REF_PTE_VALID | noise;
    }
    if (chance(8)) {
        return chance(50) ? 0 : (uint32_t)rnd() & ~IOMMU_REF_PTE_VALID;
    }
    return (uint32_t)rand_out_page(u) | perms[below(G_N_ELEMENTS(perms))] | IOMMU_REF_PTE_VALID |
           noise;
}

static uint32_t rand_root_pte(unsigned u, unsigned idx)
{
    unsigned c = (unsigned)below(100);
    if (idx == 0 && c < 80) {
        return (uint32_t)leaf_table(u, 0) | IOMMU_REF_PTE_VALID;  /* the good window */
    }
    c = (unsigned)below(100);
    if (c < 80) {
        /* Bits 11:1 are ignored. */
        return (uint32_t)leaf_table(u, (unsigned)below(NLEAF)) | IOMMU_REF_PTE_VALID |
               ((uint32_t)rnd() & 0xffeu);
    }
    if (c < 90) {
        return (uint32_t)rnd() & ~IOMMU_REF_PTE_VALID;
    }
    return (uint32_t)(WALK_HOLE + (below(16) << 12)) | IOMMU_REF_PTE_VALID;
}

/* Write a table entry in both the real table RAM and the model. */
static void pt_write(uint64_t addr, uint32_t v)
{
    uint8_t *real = (uint8_t *)mr_ram_ptr(W.tbl) + (addr - TBL_BASE);
    uint8_t *model = M.tbl + (addr - TBL_BASE);
    for (unsigned i = 0; i < 4; i++) {
        real[i] = model[i] = (uint8_t)(v >> (8 * i));
    }
}

static unsigned hot_root_index(void)
{
    static const unsigned roots[] = { 0, 1, 2, 0x3ff };
    return roots[below(4)];
}

static unsigned hot_leaf_index(void)
{
    unsigned i = (unsigned)below(2 * HOT);
    return i < HOT ? i : 1024 - 2 * HOT + i;
}

static void random_tables(unsigned u)
{
    for (unsigned t = 0; t < NROOT; t++) {
        for (unsigned i = 0; i < 4; i++) {
            unsigned idx = hot_root_index();
            pt_write(root_table(u, t) + idx * 4, rand_root_pte(u, idx));
        }
        /* Present for the good window and the top of the IOVA space. */
        pt_write(root_table(u, t) + 0 * 4, (uint32_t)leaf_table(u, 0) | IOMMU_REF_PTE_VALID);
        pt_write(root_table(u, t) + 0x3ff * 4,
                 (uint32_t)leaf_table(u, 1 + t) | IOMMU_REF_PTE_VALID);
    }
    for (unsigned k = 0; k < NLEAF; k++) {
        for (unsigned i = 0; i < 2 * HOT; i++) {
            unsigned idx = i < HOT ? i : 1024 - 2 * HOT + i;
            pt_write(leaf_table(u, k) + idx * 4, rand_leaf_pte(u, k == 0 && idx < HOT));
        }
    }
}

/* ------------------------------------------------------------------ */
/* Registers: a CPU access in sys, and what the model makes of a write. */

static uint32_t reg_rd(unsigned u, unsigned off)
{
    uint64_t v = 0;
    MemResult r = as_read_val(W.sys, REGS_BASE + u * 0x1000ull + off, mem_attrs_cpu(0), 4,
                              MEM_LITTLE_ENDIAN, &v);
    CHK(r == MEM_OK, "register read %u/%#x gave %s", u, off, mem_result_name(r));
    return (uint32_t)v;
}

static void reg_wr(unsigned u, unsigned off, uint32_t v)
{
    RefIommu *m = &M.iommu[u];
    MemResult r = as_write_val(W.sys, REGS_BASE + u * 0x1000ull + off, mem_attrs_cpu(0), 4,
                               MEM_LITTLE_ENDIAN, v);
    CHK(r == MEM_OK, "register write %u/%#x gave %s", u, off, mem_result_name(r));

    /* The model, per iommu_ref.h. */
    switch (off) {
    case IOMMU_REF_ROOT_LO:
        m->root = (m->root & 0xffffffff00000000ull) | (v & ~0xfffu);
        model_flush_all(u);
        break;
    case IOMMU_REF_ROOT_HI:
        m->root = (m->root & 0xffffffffull) | ((uint64_t)v << 32);
        model_flush_all(u);
        break;
    case IOMMU_REF_ENABLE:
        if ((v & IOMMU_REF_ENABLE_ON) != m->enable) {
            m->enable = v & IOMMU_REF_ENABLE_ON;
            model_flush_all(u);
        }
        break;
    case IOMMU_REF_FAULT_STATUS:
        if (v & IOMMU_REF_FAULT_VALID) {
            m->fstatus &= IOMMU_REF_FAULT_OVERFLOW;
            m->faddr = 0;
            m->freq = 0;
        }
        if (v & IOMMU_REF_FAULT_OVERFLOW) {
            m->fstatus &= ~IOMMU_REF_FAULT_OVERFLOW;
        }
        break;
    case IOMMU_REF_INVALIDATE:
        if (v == IOMMU_REF_INVALIDATE_ALL) {
            model_flush_all(u);
        } else {
            uint64_t page = v & ~0xfffull;
            RefTlb *t = &m->tlb[(page >> 12) % IOMMU_REF_IOTLB_SIZE];
            if (t->valid && t->iova_page == page) {
                t->valid = false;
            }
            model_invalidate(u, page, 0xfff);
        }
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* World. */

static void on_revoke(DmaMapping *m, void *opaque)
{
    Slot *s = opaque;
    CHK(s->m == m, "revoke callback for the wrong mapping");
    s->revoke_calls++;
}

static AddressSpace *new_as(const char *name, MemRegion *root)
{
    GError *err = NULL;
    AddressSpace *as = as_new(name, root, &err);
    TU_ASSERT_NO_ERROR(err);
    return as;
}

static void world_new(bool nested, unsigned seed)
{
    GError *err = NULL;

    memset(&W, 0, sizeof(W));
    memset(&M, 0, sizeof(M));
    memset(&st, 0, sizeof(st));
    rng = seed;
    cur_seed = seed;
    cur_iter = 0;
    snprintf(cur_op, sizeof(cur_op), "setup");
    W.nested = nested;
    rec_log = g_array_new(FALSE, TRUE, sizeof(RecAccess));
    M.elog = g_array_new(FALSE, TRUE, sizeof(RecAccess));

    W.sys_root = tu_container("sys", MEM_SIZE_FULL);
    W.ram = tu_put(W.sys_root, 0, tu_ram("ram", RAM_SIZE, 0), 0);
    W.tbl = tu_put(W.sys_root, TBL_BASE, tu_ram("tables", TBL_SIZE, 0), 0);
    MemRegion *mmio = mr_new_mmio("rec", MMIO_SIZE, &rec_ops, NULL, &err);
    TU_ASSERT_NO_ERROR(err);
    W.mmio = tu_put(W.sys_root, MMIO_BASE, mmio, 0);
    W.sys = new_as("sys", W.sys_root);

    for (uint64_t i = 0; i < RAM_SIZE; i++) {
        M.ram[i] = (uint8_t)rnd();
    }
    memcpy(mr_ram_ptr(W.ram), M.ram, RAM_SIZE);
    for (uint64_t i = 0; i < MMIO_SIZE; i++) {
        M.mmio[i] = rec_mem[i] = (uint8_t)rnd();
    }

    if (nested) {
        W.iommu[1] = iommu_ref_new(W.sys, W.sys, &err);
        TU_ASSERT_NO_ERROR(err);
        W.mid_root = tu_container("mid", MEM_SIZE_FULL);
        tu_add_keep(W.mid_root, 0, iommu_ref_region(W.iommu[1]), 0);
        W.mid = new_as("mid", W.mid_root);
        W.iommu[0] = iommu_ref_new(W.sys, W.mid, &err);
    } else {
        W.iommu[0] = iommu_ref_new(W.sys, W.sys, &err);
    }
    TU_ASSERT_NO_ERROR(err);
    W.dev_root = tu_container("dev", MEM_SIZE_FULL);
    tu_add_keep(W.dev_root, 0, iommu_ref_region(W.iommu[0]), 0);
    W.dev = new_as("dev", W.dev_root);
    for (unsigned u = 0; u < n_iommus(); u++) {
        tu_add_keep(W.sys_root, REGS_BASE + u * 0x1000ull, iommu_ref_regs(W.iommu[u]), 0);
    }

    /* A distinct fill byte per space shows where a read failed. */
    M.dev_fill = 0xa5;
    M.mid_fill = 0x5a;
    M.sys_fill = 0xff;
    as_set_unassigned_fill(W.dev, M.dev_fill);
    if (W.mid) {
        as_set_unassigned_fill(W.mid, M.mid_fill);
    }
    M.dev_big = chance(50);
    for (unsigned i = 0; i < NPOPULAR; i++) {
        popular[i] = hot_page_uniform();
    }
    as_set_target_endian(W.dev, M.dev_big ? MEM_BIG_ENDIAN : MEM_LITTLE_ENDIAN);

    for (unsigned u = 0; u < n_iommus(); u++) {
        random_tables(u);
        reg_wr(u, IOMMU_REF_ROOT_LO, (uint32_t)root_table(u, 0));
        reg_wr(u, IOMMU_REF_ROOT_HI, 0);
        reg_wr(u, IOMMU_REF_ENABLE, IOMMU_REF_ENABLE_ON);
    }
}

static void world_free(void)
{
    for (unsigned i = 0; i < MAX_MAPS; i++) {
        if (W.slots[i].used) {
            dma_unmap(W.slots[i].m, 0);
            g_free(W.slots[i].wdata);
        }
    }
    as_free(W.dev);
    if (W.mid) {
        as_free(W.mid);
    }
    as_free(W.sys);
    mr_unref(W.dev_root);
    if (W.mid_root) {
        mr_unref(W.mid_root);
    }
    mr_unref(W.sys_root);
    for (unsigned u = 0; u < 2; u++) {
        iommu_ref_free(W.iommu[u]);
    }
    g_array_unref(rec_log);
    g_array_unref(M.elog);
}

/* ------------------------------------------------------------------ */
/* Checks after each operation. */

static void check_ram_range(uint64_t lo, uint64_t hi)
{
    const uint8_t *real = mr_ram_ptr(W.ram);
    if (lo >= hi || !memcmp(real + lo, M.ram + lo, hi - lo)) {
        return;
    }
    for (uint64_t a = lo; a < hi; a++) {
        CHK(real[a] == M.ram[a], "RAM[%#" PRIx64 "] is %#x, model %#x", a, real[a], M.ram[a]);
    }
}

static void check_state(bool full)
{
    /* Every call the MMIO device saw, in order. */
    CHK(rec_log->len == M.elog->len, "MMIO device saw %u calls, model %u", rec_log->len,
        M.elog->len);
    for (guint i = 0; i < rec_log->len; i++) {
        const RecAccess *a = &g_array_index(rec_log, RecAccess, i);
        const RecAccess *b = &g_array_index(M.elog, RecAccess, i);
        CHK(a->write == b->write && a->offset == b->offset && a->size == b->size &&
                a->value == b->value,
            "MMIO call %u: %c off=%#" PRIx64 " size=%u val=%#" PRIx64 ", model %c off=%#" PRIx64
            " size=%u val=%#" PRIx64,
            i, a->write ? 'W' : 'R', a->offset, a->size, a->value, b->write ? 'W' : 'R',
            b->offset, b->size, b->value);
    }
    g_array_set_size(rec_log, 0);
    g_array_set_size(M.elog, 0);
    CHK(!memcmp(rec_mem, M.mmio, MMIO_SIZE), "MMIO device memory differs from the model");

    if (M.touch_lo < M.touch_hi) {
        check_ram_range(M.touch_lo, M.touch_hi);
    }
    M.touch_lo = UINT64_MAX;
    M.touch_hi = 0;
    if (full) {
        check_ram_range(0, RAM_SIZE);
        CHK(!memcmp(mr_ram_ptr(W.tbl), M.tbl, TBL_SIZE), "table RAM differs from the model");
    }

    for (unsigned u = 0; u < n_iommus(); u++) {
        const RefIommu *m = &M.iommu[u];
        uint32_t st = reg_rd(u, IOMMU_REF_FAULT_STATUS);
        CHK(st == m->fstatus, "IOMMU %u FAULT_STATUS %#x, model %#x", u, st, m->fstatus);
        uint32_t lo = reg_rd(u, IOMMU_REF_FAULT_ADDR_LO);
        CHK(lo == (uint32_t)m->faddr, "IOMMU %u FAULT_ADDR_LO %#x, model %#x", u, lo,
            (uint32_t)m->faddr);
        CHK(reg_rd(u, IOMMU_REF_FAULT_ADDR_HI) == 0, "IOMMU %u FAULT_ADDR_HI not 0", u);
        uint32_t rq = reg_rd(u, IOMMU_REF_FAULT_REQUESTER);
        CHK(rq == m->freq, "IOMMU %u FAULT_REQUESTER %u, model %u", u, rq, m->freq);
        uint64_t walks = iommu_ref_walks(W.iommu[u]);
        CHK(walks == m->walks, "IOMMU %u walked %" PRIu64 " times, model %" PRIu64
            " (IOTLB hit/miss differs)", u, walks, m->walks);
        if (full) {
            CHK(reg_rd(u, IOMMU_REF_ROOT_LO) == (uint32_t)m->root, "IOMMU %u ROOT_LO", u);
            CHK(reg_rd(u, IOMMU_REF_ROOT_HI) == (uint32_t)(m->root >> 32), "IOMMU %u ROOT_HI", u);
            CHK(reg_rd(u, IOMMU_REF_ENABLE) == m->enable, "IOMMU %u ENABLE", u);
            CHK(reg_rd(u, IOMMU_REF_INVALIDATE) == 0, "IOMMU %u INVALIDATE reads non-0", u);
        }
    }

    for (unsigned i = 0; i < MAX_MAPS; i++) {
        const Slot *s = &W.slots[i];
        if (!s->used) {
            continue;
        }
        CHK(s->revoke_calls == (s->revoked ? 1u : 0u),
            "mapping %u (iova %#" PRIx64 " len %#" PRIx64 "): %u revoke calls, model %s", i,
            s->iova, s->len, s->revoke_calls, s->revoked ? "revoked" : "live");
        CHK(dma_mapping_revoked(s->m) == s->revoked, "mapping %u: dma_mapping_revoked", i);
    }
}

/* ------------------------------------------------------------------ */
/* Operations. */

static uint64_t rand_iova(void)
{
    unsigned c = (unsigned)below(100);
    uint64_t page;
    if (c < 35) {
        page = good_page();
    } else if (c < 90) {
        page = hot_page();
    } else if (c < 94) {
        page = far_page();
    } else if (c < 97) {
        /* A root entry outside the windows: usually not present. */
        page = ((0x100 + below(0x2ff)) << 22) | ((uint64_t)hot_leaf_index() << 12);
    } else {
        page = IOVA_TOP + (below(4) << 12);  /* beyond the IOMMU: unassigned in dev */
    }
    c = (unsigned)below(100);
    if (c < 40) {
        return page | below(0x1000);
    }
    if (c < 70) {
        return page | (0xfff - below(16));  /* just before a page boundary */
    }
    return page | ((below(0x1000) >> below(13)) << below(13) & 0xfff);
}

static uint64_t rand_len(void)
{
    unsigned c = (unsigned)below(100);
    if (c < 2) {
        return 0;
    }
    if (c < 40) {
        return 1 + below(16);
    }
    if (c < 65) {
        return 1 + below(0x1000);
    }
    if (c < 95) {
        return 1 + below(0x4000);
    }
    return 1 + below(MAX_LEN);  /* up to 20 pages: evicts its own IOTLB entries */
}

static MemAttrs rand_attrs(void)
{
    MemAttrs a = mem_attrs_device(1 + (uint32_t)below(5));
    a.debug = chance(4);  /* fails the same way, latches nothing */
    return a;
}

static const char *res_name(MemResult r)
{
    return mem_result_name(r);
}

static void op_rw(void)
{
    static uint8_t buf[MAX_LEN], exp[MAX_LEN];
    uint64_t iova = rand_iova(), len = rand_len();
    bool wr = chance(50);
    MemAttrs attrs = rand_attrs();

    snprintf(cur_op, sizeof(cur_op), "dma_%s iova=%#" PRIx64 " len=%#" PRIx64 " req=%u%s",
             wr ? "write" : "read", iova, len, attrs.requester, attrs.debug ? " debug" : "");
    MemResult got, want = MEM_OK;
    if (wr) {
        for (uint64_t i = 0; i < len; i++) {
            buf[i] = exp[i] = (uint8_t)rnd();
        }
        got = dma_write(W.dev, iova, buf, len, attrs);
        if (len) {
            want = ref_access(L_DEV, iova, exp, len, true, false, attrs);
        }
    } else {
        memset(buf, 0x3c, len);
        got = dma_read(W.dev, iova, buf, len, attrs);
        if (len) {
            want = ref_access(L_DEV, iova, exp, len, false, false, attrs);
        }
        for (uint64_t i = 0; i < len; i++) {
            CHK(buf[i] == exp[i], "byte %#" PRIx64 " read %#x, model %#x", i, buf[i], exp[i]);
        }
    }
    CHK(got == want, "result %s, model %s", res_name(got), res_name(want));
    st.rw[got & 3]++;
}

static void op_val(void)
{
    static const unsigned sizes[] = { 1, 2, 4, 8, 1, 2, 4, 8, 3 };
    static const MemEndian ends[] = { MEM_LITTLE_ENDIAN, MEM_BIG_ENDIAN, MEM_TARGET_ENDIAN };
    uint64_t iova = rand_iova();
    unsigned size = sizes[below(G_N_ELEMENTS(sizes))];
    MemEndian end = ends[below(3)];
    bool wr = chance(50);
    bool big = end == MEM_BIG_ENDIAN || (end == MEM_TARGET_ENDIAN && M.dev_big);
    MemAttrs attrs = rand_attrs();
    uint8_t b[8];
    MemResult got, want;

    snprintf(cur_op, sizeof(cur_op), "dma_%s_val iova=%#" PRIx64 " size=%u endian=%d req=%u%s",
             wr ? "write" : "read", iova, size, end, attrs.requester, attrs.debug ? " debug" : "");
    if (wr) {
        uint64_t v = rnd();
        got = dma_write_val(W.dev, iova, size, end, attrs, v);
        if (size == 3) {
            want = MEM_ACCESS_ERROR;  /* refused before anything is accessed */
        } else {
            for (unsigned i = 0; i < size; i++) {
                b[i] = (uint8_t)(v >> (8 * (big ? size - 1 - i : i)));
            }
            want = ref_access(L_DEV, iova, b, size, true, true, attrs);
        }
    } else {
        uint64_t v = 0x1234, ev = 0;
        got = dma_read_val(W.dev, iova, size, end, attrs, &v);
        if (size == 3) {
            want = MEM_ACCESS_ERROR;
        } else {
            want = ref_access(L_DEV, iova, b, size, false, true, attrs);
            for (unsigned i = 0; i < size; i++) {
                ev |= (uint64_t)b[i] << (8 * (big ? size - 1 - i : i));
            }
        }
        CHK(v == ev, "value %#" PRIx64 ", model %#" PRIx64, v, ev);
    }
    CHK(got == want, "result %s, model %s", res_name(got), res_name(want));
    st.val[got & 3]++;
}

/* dma_map as the model sees it: the path, the length, the kind. */
static MemResult ref_map(Slot *s, uint64_t want_len, uint8_t *bounce_exp)
{
    uint64_t n = want_len, cur = s->iova;
    enum Level lv = L_DEV;

    s->nihops = 0;
    for (;;) {
        if (lv != L_SYS) {
            unsigned u = lv == L_DEV ? 0 : 1;
            if (cur >= IOVA_TOP) {
                return MEM_DECODE_ERROR;
            }
            n = MIN(n, IOVA_TOP - cur);
            s->ihops[s->nihops].u = u;
            s->ihops[s->nihops].off = cur;
            s->nihops++;
            RefEntry e = { 0, 0xfff, 0 };
            if (!ref_translate(u, cur, s->is_write, s->attrs, &e)) {
                return MEM_DECODE_ERROR;
            }
            if (!(e.perm & (s->is_write ? MEM_IOMMU_WO : MEM_IOMMU_RO))) {
                return MEM_ACCESS_ERROR;
            }
            uint64_t rest = e.mask - (cur & e.mask);
            if (rest < n - 1) {
                n = rest + 1;
            }
            cur = (e.pa & ~e.mask) | (cur & e.mask);
            lv = target_of(u);
            continue;
        }
        const RefSection *sec = NULL;
        for (unsigned i = 0; i < G_N_ELEMENTS(sys_map); i++) {
            if (cur >= sys_map[i].start && cur - sys_map[i].start < sys_map[i].size) {
                sec = &sys_map[i];
            }
        }
        if (!sec) {
            return MEM_DECODE_ERROR;
        }
        n = MIN(n, sec->start + sec->size - cur);
        if (sec->kind == 1 || sec->kind == 2) {
            s->direct = true;
            s->len = n;
            s->pa = cur;
            return MEM_OK;
        }
        /* MMIO: a bounce buffer, filled now for a read. */
        s->direct = false;
        s->nihops = 0;
        n = MIN(n, DMA_BOUNCE_MAX);
        s->len = n;
        if (!s->is_write) {
            return ref_access(L_DEV, s->iova, bounce_exp, n, false, false, s->attrs);
        }
        return MEM_OK;
    }
}

static void op_map(void)
{
    static uint8_t bexp[DMA_BOUNCE_MAX];
    unsigned i;
    for (i = 0; i < MAX_MAPS && W.slots[i].used; i++) {
    }
    if (i == MAX_MAPS) {
        return;
    }
    Slot *s = &W.slots[i];
    uint64_t want_len = chance(10) ? 0 : rand_len();
    uint64_t len = want_len;

    memset(s, 0, sizeof(*s));
    s->iova = rand_iova();
    s->is_write = chance(50);
    s->attrs = rand_attrs();
    snprintf(cur_op, sizeof(cur_op), "dma_map(%s) iova=%#" PRIx64 " len=%#" PRIx64 " req=%u%s",
             s->is_write ? "write" : "read", s->iova, want_len, s->attrs.requester,
             s->attrs.debug ? " debug" : "");

    /* The model first: the same translations happen in the same order
     * (map, then the bounce read), and it records where the path ends. */
    MemResult want = want_len ? ref_map(s, want_len, bexp) : MEM_OK;
    bool ok = want == MEM_OK && want_len;

    uint8_t *p = dma_map(W.dev, s->iova, &len, s->is_write, s->attrs, on_revoke, s, &s->m);
    CHK(dma_mapping_result(s->m) == (ok ? MEM_OK : want), "result %s, model %s",
        res_name(dma_mapping_result(s->m)), res_name(ok ? MEM_OK : want));
    if (!ok) {
        CHK(p == NULL && len == 0, "failed mapping returned %p len %#" PRIx64, (void *)p, len);
        dma_unmap(s->m, 0);
        s->m = NULL;
        st.map_failed++;
        return;
    }
    CHK(p != NULL, "mapping returned NULL");
    CHK(len == s->len, "mapped %#" PRIx64 " bytes, model %#" PRIx64, len, s->len);
    CHK(dma_mapping_len(s->m) == len, "dma_mapping_len");
    CHK(dma_mapping_is_direct(s->m) == s->direct, "direct %d, model %d",
        dma_mapping_is_direct(s->m), s->direct);
    s->used = true;
    s->ptr = p;
    if (s->direct) {
        st.map_direct++;
    } else {
        st.map_bounce++;
    }
    if (s->direct) {
        CHK(dma_mapping_region(s->m) == W.ram, "direct mapping not into the data RAM");
        uint64_t pa = (uint64_t)(p - (uint8_t *)mr_ram_ptr(W.ram));
        CHK(pa == s->pa, "direct pointer at RAM %#" PRIx64 ", model %#" PRIx64, pa, s->pa);
        if (s->is_write) {
            /* The device writes through the pointer at once. */
            for (uint64_t k = 0; k < len; k++) {
                p[k] = M.ram[pa + k] = (uint8_t)rnd();
            }
            M.touch_lo = MIN(M.touch_lo, pa);
            M.touch_hi = MAX(M.touch_hi, pa + len);
        } else {
            CHK(!memcmp(p, M.ram + pa, len), "direct read mapping differs from the model");
        }
    } else {
        CHK(dma_mapping_region(s->m) == NULL, "bounce mapping has a region");
        if (s->is_write) {
            for (uint64_t k = 0; k < len; k++) {
                CHK(p[k] == 0, "bounce write buffer not zero-initialised at %#" PRIx64, k);
            }
            s->wdata = g_malloc(len);
            for (uint64_t k = 0; k < len; k++) {
                p[k] = s->wdata[k] = (uint8_t)rnd();
            }
        } else {
            for (uint64_t k = 0; k < len; k++) {
                CHK(p[k] == bexp[k], "bounce byte %#" PRIx64 " is %#x, model %#x", k, p[k],
                    bexp[k]);
            }
        }
    }
}

static void op_unmap(void)
{
    unsigned i = (unsigned)below(MAX_MAPS);
    Slot *s = &W.slots[i];
    if (!s->used) {
        return;
    }
    uint64_t access_len = chance(10) ? s->len + below(64) : below(s->len + 1);
    uint64_t n = MIN(access_len, s->len);
    snprintf(cur_op, sizeof(cur_op), "dma_unmap(%s %s) iova=%#" PRIx64 " len=%#" PRIx64
             " access_len=%#" PRIx64 "%s", s->direct ? "direct" : "bounce",
             s->is_write ? "write" : "read", s->iova, s->len, access_len,
             s->revoked ? " revoked" : "");
    MemResult want = MEM_OK;
    if (!s->direct && s->is_write && n) {
        /* The write-back translates anew, with whatever the IOMMUs hold now. */
        want = ref_access(L_DEV, s->iova, s->wdata, n, true, false, s->attrs);
    }
    MemResult got = dma_unmap(s->m, access_len);
    CHK(got == want, "result %s, model %s", res_name(got), res_name(want));
    st.revoked += s->revoked;
    st.writeback_failed += got != MEM_OK;
    g_free(s->wdata);
    memset(s, 0, sizeof(*s));
}

static void op_pte(void)
{
    unsigned u = (unsigned)below(n_iommus());
    if (chance(30)) {
        /* Where the IOTLB most likely holds the old entry: a stale hit. */
        unsigned idx = (unsigned)(good_page() >> 12);
        uint32_t v = rand_leaf_pte(u, true);
        snprintf(cur_op, sizeof(cur_op), "IOMMU %u leaf 0[%u] = %#x", u, idx, v);
        pt_write(leaf_table(u, 0) + idx * 4, v);
    } else if (chance(80)) {
        unsigned k = (unsigned)below(NLEAF), idx = hot_leaf_index();
        uint32_t v = rand_leaf_pte(u, k == 0 && idx < HOT);
        snprintf(cur_op, sizeof(cur_op), "IOMMU %u leaf %u[%u] = %#x", u, k, idx, v);
        pt_write(leaf_table(u, k) + idx * 4, v);
    } else {
        unsigned t = (unsigned)below(NROOT), idx = hot_root_index();
        uint32_t v = rand_root_pte(u, idx);
        snprintf(cur_op, sizeof(cur_op), "IOMMU %u root %u[%u] = %#x", u, t, idx, v);
        pt_write(root_table(u, t) + idx * 4, v);
    }
}

static void op_invalidate(bool all)
{
    unsigned u = (unsigned)below(n_iommus());
    uint32_t v = all ? IOMMU_REF_INVALIDATE_ALL : (uint32_t)rand_iova();
    snprintf(cur_op, sizeof(cur_op), "IOMMU %u INVALIDATE %#x", u, v);
    reg_wr(u, IOMMU_REF_INVALIDATE, v);
}

static void op_root(void)
{
    unsigned u = (unsigned)below(n_iommus());
    unsigned c = (unsigned)below(100);
    if (c < 80) {
        uint32_t v = (uint32_t)root_table(u, (unsigned)below(NROOT)) | (uint32_t)below(0x1000);
        snprintf(cur_op, sizeof(cur_op), "IOMMU %u ROOT_LO = %#x, ROOT_HI = 0", u, v);
        reg_wr(u, IOMMU_REF_ROOT_LO, v);
        reg_wr(u, IOMMU_REF_ROOT_HI, 0);
    } else if (c < 90) {
        uint32_t v = (uint32_t)WALK_HOLE;  /* every walk fails */
        snprintf(cur_op, sizeof(cur_op), "IOMMU %u ROOT_LO = %#x", u, v);
        reg_wr(u, IOMMU_REF_ROOT_LO, v);
    } else {
        snprintf(cur_op, sizeof(cur_op), "IOMMU %u ROOT_HI = 1", u);
        reg_wr(u, IOMMU_REF_ROOT_HI, 1);  /* the root is above 4 GiB: unassigned */
    }
}

static void op_enable(void)
{
    unsigned u = (unsigned)below(n_iommus());
    /* Mostly on; other bits are ignored. */
    uint32_t v = ((uint32_t)rnd() & ~1u) | (chance(70) ? 1u : 0u);
    snprintf(cur_op, sizeof(cur_op), "IOMMU %u ENABLE = %#x", u, v);
    reg_wr(u, IOMMU_REF_ENABLE, v);
}

/* The host-side IOTLB switch: drops the IOTLB, notifies nobody. */
static void op_iotlb_switch(void)
{
    unsigned u = (unsigned)below(n_iommus());
    bool on = chance(80);
    snprintf(cur_op, sizeof(cur_op), "IOMMU %u IOTLB %s", u, on ? "on" : "off");
    iommu_ref_set_iotlb(W.iommu[u], on);
    M.iommu[u].tlb_off = !on;
    for (unsigned i = 0; i < IOMMU_REF_IOTLB_SIZE; i++) {
        M.iommu[u].tlb[i].valid = false;
    }
}

static void op_ack(void)
{
    static const uint32_t vals[] = { IOMMU_REF_FAULT_VALID, IOMMU_REF_FAULT_OVERFLOW,
                                     IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_OVERFLOW, 0x0e };
    unsigned u = (unsigned)below(n_iommus());
    uint32_t v = vals[below(G_N_ELEMENTS(vals))];
    snprintf(cur_op, sizeof(cur_op), "IOMMU %u FAULT_STATUS = %#x", u, v);
    reg_wr(u, IOMMU_REF_FAULT_STATUS, v);
}

static void run(bool nested, unsigned seed)
{
    unsigned iters = iterations();

    world_new(nested, seed);
    M.touch_lo = UINT64_MAX;
    check_state(true);
    for (cur_iter = 0; cur_iter < iters; cur_iter++) {
        unsigned c = (unsigned)below(1000);
        if (c < 250) {
            op_rw();
        } else if (c < 450) {
            op_val();
        } else if (c < 540) {
            op_map();
        } else if (c < 620) {
            op_unmap();
        } else if (c < 800) {
            op_pte();
        } else if (c < 895) {
            op_invalidate(false);
        } else if (c < 900) {
            op_invalidate(true);
        } else if (c < 910) {
            op_root();
        } else if (c < 925) {
            op_enable();
        } else if (c < 945) {
            op_iotlb_switch();
        } else {
            op_ack();
        }
        check_state(cur_iter % 32 == 31);
    }
    snprintf(cur_op, sizeof(cur_op), "end");
    check_state(true);
    if (getenv("MMUSIM_RANDOM_VERBOSE")) {
        fprintf(stderr,
                "seed %#x: %u ops; rw ok/decode/device/access %u/%u/%u/%u, val %u/%u/%u/%u; "
                "map direct/bounce/failed %u/%u/%u, revoked %u, write-back failed %u; "
                "walks %u, IOTLB hits %u (stale %u), faults %u, passthrough %u\n",
                seed, iters, st.rw[0], st.rw[1], st.rw[2], st.rw[3], st.val[0], st.val[1],
                st.val[2], st.val[3], st.map_direct, st.map_bounce, st.map_failed, st.revoked,
                st.writeback_failed, st.walks, st.hits, st.stale_hits, st.faults,
                st.passthrough);
    }
    ck_assert_msg(tu_num_reports() == 0, "seed %#x: %u unexpected reports, first: %s", seed,
                  tu_num_reports(), tu_num_reports() ? tu_report(0) : "");
    world_free();
}

START_TEST(test_random_single)
{
    run(false, 0x10000u + (unsigned)_i);
}
END_TEST

START_TEST(test_random_nested)
{
    run(true, 0x20000u + (unsigned)_i);
}
END_TEST

static Suite *iommu_random_suite(void)
{
    Suite *s = suite_create("iommu_random");
    TCase *tc = tu_tcase(s, "random");

    /* Each seed is its own loop iteration (own process, own fixture). */
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_random_single, 0, NSEEDS);
    tcase_add_loop_test(tc, test_random_nested, 0, NSEEDS);
    return s;
}

int main(void)
{
    return tu_run(iommu_random_suite());
}
