/*
 * The per-CPU software TLB (docs/tlb.md).
 *
 * One CpuTlb per CPU, with up to 16 MMU indexes (the target decides what
 * they mean: kernel/user, SMM/non-SMM, ...). Each index has a direct-mapped,
 * power-of-two table of entries and a small fully associative victim table.
 *
 * An entry holds three tags (read, write, execute) and a host addend:
 *   tag   = virtual page address | flags (flags live just below the page bits)
 *   host  = vaddr + addend                 (RAM pages only)
 * A hit is: index by vaddr, compare the tag with the page of the access's
 * last byte (so a page-crossing access misses), add. Any flag in a tag makes
 * the compare fail and sends the access to the slow path: MMIO, ROM writes,
 * unassigned pages, watched pages, pages with cached code, pages not
 * covered by a single section.
 *
 * Beside each entry is its "full" entry: the physical page, the section
 * index and the generation of the dispatch that produced it, the offset of
 * the page in that section, the access attributes, the protection and the
 * page size. The slow path decodes the section index only against that
 * same dispatch (it refills if the CPU's dispatch has changed since), then
 * calls the section's region directly: no tree walk, no CPU lookup.
 *
 * The fast path is inline here; everything else is in tlb.c.
 */
#ifndef MMUSIM_TLB_TLB_H
#define MMUSIM_TLB_TLB_H

#include <string.h>

#include "softmmu/address_space.h"

#define TLB_MAX_MMU_IDX 16
#define TLB_MAX_PAGE_BITS 16

typedef enum TlbAccess {
    TLB_READ = 0,
    TLB_WRITE = 1,
    TLB_EXEC = 2,
} TlbAccess;

enum {
    TLB_PROT_READ = 1,
    TLB_PROT_WRITE = 2,
    TLB_PROT_EXEC = 4,
};

/* Per-access options for the helpers. */
enum {
    TLB_ALIGN = 1,      /* the access must be naturally aligned, else fault */
    TLB_BIG_ENDIAN = 2, /* value in big-endian byte order (default little) */
};

/* Flags kept in the low bits of a tag (bits below the target page bits). */
#define TLB_FLAG_INVALID  (1u << 3)  /* never matches: the entry is empty */
#define TLB_FLAG_IO       (1u << 4)  /* not plain RAM: dispatch through the section */
#define TLB_FLAG_NOTDIRTY (1u << 5)  /* write must mark dirty / notify code first */
#define TLB_FLAG_WATCH    (1u << 6)  /* a watchpoint overlaps the page */
#define TLB_FLAG_DISCARD  (1u << 7)  /* write to read-only RAM: drop and report */
#define TLB_FLAGS_MASK    0xf8u
#define TLB_MIN_PAGE_BITS 10         /* flags need bits 3..7 below the page */

/* What the target's page walk produces. */
typedef struct TlbTranslation {
    uint64_t paddr;      /* physical address of the requested vaddr */
    unsigned prot;       /* TLB_PROT_* */
    uint64_t page_size;  /* power of two >= the TLB's page size */
    MemAttrs attrs;      /* attributes for accesses through this entry */
    bool global;         /* survives tlb_flush_nonglobal_by_mmuidx (x86 G, Arm !nG) */
} TlbTranslation;

typedef enum TlbFaultKind {
    TLB_FAULT_TRANSLATION, /* the page walk refused: target_code says why */
    TLB_FAULT_BUS,         /* the physical access failed: see result */
    TLB_FAULT_ALIGNMENT,   /* TLB_ALIGN and the address was not aligned */
    TLB_FAULT_WATCHPOINT,  /* a watchpoint callback asked to stop the access */
} TlbFaultKind;

typedef struct TlbFault {
    TlbFaultKind kind;
    uint64_t vaddr;        /* the faulting address (the second page's, if that one faulted) */
    TlbAccess access;
    unsigned mmu_idx;
    unsigned size;
    uint64_t paddr;        /* bus faults: the physical address */
    MemResult result;      /* bus faults: what the memory system said */
    uint64_t target_code;  /* translation faults: the target's own fault info */
} TlbFault;

typedef struct TlbTargetOps {
    /* Translate vaddr for `access` in `mmu_idx`. True: *out filled. False:
     * fault->target_code (and anything else the target wants) filled. May
     * update accessed/dirty bits in guest page tables. */
    bool (*page_walk)(void *cpu, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                      TlbTranslation *out, TlbFault *fault);
    /* Every fault a helper detects, before it returns false: the target
     * records it and raises the guest exception at its next step. */
    void (*raise_fault)(void *cpu, const TlbFault *fault);
    /* Optional: the target decides whether a bus error faults (true) or is
     * ignored as the real machine would (false: reads give all-ones or
     * whatever the memory system returned, writes are dropped). Default:
     * decode errors are ignored (x86 PCs), device/access errors fault. */
    bool (*bus_error_faults)(void *cpu, const TlbFault *fault);
} TlbTargetOps;

typedef struct TlbConfig {
    unsigned nb_mmu_idx;    /* 1..16 */
    unsigned page_bits;     /* 10..16; 12 for 4 KiB */
    unsigned entries;       /* initial entries per index, power of two; default 256 */
    unsigned victim;        /* victim entries per index, 0..64; default 8 */
    bool dynamic_resize;    /* grow/shrink at flush time by use, and grow between flushes
                             * on eviction pressure (docs/tlb.md, "Sizing"); default on
                             * via tlb_config_default */
    unsigned min_entries;   /* resize bounds; defaults 64 and 32768 */
    unsigned max_entries;
} TlbConfig;

void tlb_config_default(TlbConfig *cfg);

/* --- Layout (public so the fast path can be inline). --- */

typedef struct TlbEntry {
    uint64_t addr_read;
    uint64_t addr_write;
    uint64_t addr_code;
    uintptr_t addend;
} TlbEntry;

typedef struct TlbFullEntry {
    uint64_t paddr;          /* physical address of the page */
    uint64_t section_offset; /* paddr - section start (offset of the page in the section) */
    uint64_t dispatch_gen;   /* generation of the dispatch `section` indexes */
    uint32_t section;        /* index in that dispatch; never packed elsewhere */
    bool multi_section;      /* the page spans several sections: look up per access */
    uint8_t prot;
    uint8_t lg_page_size;
    bool global;             /* from TlbTranslation.global */
    MemAttrs attrs;
    /* MMIO pages: the device, for direct calls at its native sizes. */
    const MemRegionOps *dev_ops;
    void *dev_opaque;
    uint64_t dev_offset;     /* offset of the page in the device's region */
    uint8_t dev_sizes;       /* bit n: 1 << n bytes accepted and implemented */
    bool dev_big;            /* the device is big-endian (resolved) */
} TlbFullEntry;

typedef struct TlbStats {
    uint64_t hits;           /* main-table hits, fast path and slow path */
    uint64_t misses;         /* main-table misses (victim hits included) */
    uint64_t victim_hits;
    uint64_t fills;          /* page walks that produced an entry */
    uint64_t walk_faults;
    uint64_t io_accesses;    /* slow-path accesses through a section */
    uint64_t flush_all;
    uint64_t flush_page;
    uint64_t flush_range;
    uint64_t flush_mmuidx;
    uint64_t flush_requests; /* cross-CPU requests performed */
    uint64_t resizes;        /* every size change (at flushes and between them) */
    uint64_t grows;          /* of which growths between flushes, on eviction pressure */
} TlbStats;

typedef struct TlbTable {
    TlbEntry *entries;
    uint64_t mask;           /* (entries - 1) */
    TlbStats stats;
} TlbTable;

typedef struct CpuTlb CpuTlb;

/* The part of a CpuTlb the inline fast path reads. */
typedef struct TlbFast {
    unsigned page_bits;
    uint64_t page_mask;      /* ~(page size - 1) */
    /* Bumped by every flush or invalidation of any kind: whoever caches
     * something derived from translations (a target's jump cache keyed by
     * virtual address) drops it when this changes. */
    uint64_t epoch;
    TlbTable tables[TLB_MAX_MMU_IDX];
} TlbFast;

static inline TlbFast *tlb_fast(CpuTlb *t) { return (TlbFast *)t; }

/* --- Creation --- */

/* `as` is this CPU's address space; `cpu` is passed back to the ops. */
CpuTlb *tlb_new(AddressSpace *as, const TlbConfig *cfg, const TlbTargetOps *ops, void *cpu,
                GError **err);
void tlb_free(CpuTlb *t);
AddressSpace *tlb_address_space(const CpuTlb *t);
/* Bind the MMU indexes in `idxmask` to another address space: their fills
 * and slow paths resolve against it (and its commits invalidate only them).
 * Once per TLB. For views that differ by access type, e.g. x86 SMM data
 * accesses that must not see SMRAM while code fetches do (D_CLS). */
bool tlb_set_alt_space(CpuTlb *t, uint16_t idxmask, AddressSpace *as, GError **err);
/* Geometry at run time (flushes the tables it changes). */
bool tlb_set_geometry(CpuTlb *t, unsigned entries, unsigned victim, bool dynamic_resize,
                      GError **err);
unsigned tlb_entries(const CpuTlb *t, unsigned mmu_idx);

/* --- Slow paths (tlb.c) --- */
bool tlb_load_slow(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx, unsigned flags,
                   uint64_t *value);
bool tlb_store_slow(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx, unsigned flags,
                    uint64_t value);

static inline uint64_t tlb_host_load(const void *p, unsigned size, bool big)
{
    uint64_t v = 0;
    switch (size) {
    case 1: return *(const uint8_t *)p;
    case 2: { uint16_t x; memcpy(&x, p, 2); v = big ? __builtin_bswap16(x) : x; break; }
    case 4: { uint32_t x; memcpy(&x, p, 4); v = big ? __builtin_bswap32(x) : x; break; }
    default: { uint64_t x; memcpy(&x, p, 8); v = big ? __builtin_bswap64(x) : x; break; }
    }
    return v;
}

static inline void tlb_host_store(void *p, unsigned size, bool big, uint64_t v)
{
    switch (size) {
    case 1: *(uint8_t *)p = (uint8_t)v; break;
    case 2: { uint16_t x = big ? __builtin_bswap16((uint16_t)v) : (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = big ? __builtin_bswap32((uint32_t)v) : (uint32_t)v; memcpy(p, &x, 4); break; }
    default: { uint64_t x = big ? __builtin_bswap64(v) : v; memcpy(p, &x, 8); break; }
    }
}

/* The tag an access of `size` bytes at vaddr must match: the page of its
 * last byte (so crossing a page misses), plus the low address bits when
 * alignment is required (so a misaligned access misses). */
static inline uint64_t tlb_cmp_addr(const TlbFast *f, uint64_t vaddr, unsigned size,
                                    unsigned flags)
{
    uint64_t cmp = (vaddr + size - 1) & f->page_mask;
    if (flags & TLB_ALIGN) {
        cmp |= vaddr & (size - 1);
    }
    return cmp;
}

static inline TlbEntry *tlb_entry(TlbFast *f, unsigned mmu_idx, uint64_t vaddr)
{
    TlbTable *tb = &f->tables[mmu_idx];
    return &tb->entries[(vaddr >> f->page_bits) & tb->mask];
}

/*
 * Loads and stores of 1, 2, 4 or 8 bytes. True on success; false after the
 * target's raise_fault hook was called. A store that fails on translation,
 * alignment or a watchpoint wrote nothing; a page-crossing store whose
 * second part hits a device that refuses (a bus error the target chose to
 * fault on) has already written its first part, as on a real bus.
 * Watchpoint callbacks and the code-write hook may flush this TLB.
 */
static inline bool tlb_load(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx,
                            unsigned flags, uint64_t *value)
{
    TlbFast *f = tlb_fast(t);
    TlbEntry *e = tlb_entry(f, mmu_idx, vaddr);
    if (__builtin_expect(e->addr_read == tlb_cmp_addr(f, vaddr, size, flags), 1)) {
        f->tables[mmu_idx].stats.hits++;
        *value = tlb_host_load((void *)(uintptr_t)(vaddr + e->addend), size,
                               flags & TLB_BIG_ENDIAN);
        return true;
    }
    return tlb_load_slow(t, vaddr, size, mmu_idx, flags, value);
}

static inline bool tlb_store(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx,
                             unsigned flags, uint64_t value)
{
    TlbFast *f = tlb_fast(t);
    TlbEntry *e = tlb_entry(f, mmu_idx, vaddr);
    if (__builtin_expect(e->addr_write == tlb_cmp_addr(f, vaddr, size, flags), 1)) {
        f->tables[mmu_idx].stats.hits++;
        tlb_host_store((void *)(uintptr_t)(vaddr + e->addend), size, flags & TLB_BIG_ENDIAN,
                       value);
        return true;
    }
    return tlb_store_slow(t, vaddr, size, mmu_idx, flags, value);
}

/* See TlbFast.epoch. */
static inline uint64_t tlb_epoch(CpuTlb *t)
{
    return tlb_fast(t)->epoch;
}

/* Inline fast path for code: the host pointer of vaddr when the execute tag
 * hits plain RAM, else NULL (use tlb_translate_code). */
static inline const uint8_t *tlb_code_host(CpuTlb *t, uint64_t vaddr, unsigned mmu_idx,
                                           uint64_t *page_left)
{
    TlbFast *f = tlb_fast(t);
    TlbEntry *e = tlb_entry(f, mmu_idx, vaddr);
    if (__builtin_expect(e->addr_code == (vaddr & f->page_mask), 1)) {
        f->tables[mmu_idx].stats.hits++;
        *page_left = (~f->page_mask + 1) - (vaddr & ~f->page_mask);
        return (const uint8_t *)(uintptr_t)(vaddr + e->addend);
    }
    return NULL;
}

/*
 * Code fetch: translate vaddr for execution. On success *paddr is its
 * physical address and *host a host pointer to the rest of the page when it
 * is RAM (NULL for code in MMIO/ROMD-in-MMIO-mode, which must be fetched
 * with tlb_fetch_bytes). *page_left is how many bytes remain in the page.
 */
bool tlb_translate_code(CpuTlb *t, uint64_t vaddr, unsigned mmu_idx, uint64_t *paddr,
                        const uint8_t **host, uint64_t *page_left);
/* Fetch code bytes through the execute permission (may cross pages). */
bool tlb_fetch_bytes(CpuTlb *t, uint64_t vaddr, unsigned mmu_idx, void *buf, unsigned len);

/* Translate without accessing (for AT-style instructions, debuggers):
 * fills *paddr; false (no fault raised) if the walk fails. */
bool tlb_probe(CpuTlb *t, uint64_t vaddr, TlbAccess access, unsigned mmu_idx, uint64_t *paddr);

/* --- Flushes --- */
#define TLB_ALL_MMUIDX 0xffffu
void tlb_flush(CpuTlb *t);                                      /* everything */
void tlb_flush_by_mmuidx(CpuTlb *t, uint16_t idxmask);
void tlb_flush_page(CpuTlb *t, uint64_t vaddr);                 /* all indexes */
void tlb_flush_page_by_mmuidx(CpuTlb *t, uint64_t vaddr, uint16_t idxmask);
void tlb_flush_range_by_mmuidx(CpuTlb *t, uint64_t vaddr, uint64_t len, uint16_t idxmask);
/* Drop every entry whose translation was not global (an address-space
 * switch: x86 MOV CR3 with CR4.PGE, keeping G pages; SDM Vol. 3A 4.10.4.1).
 * Costs a pass over the indexes' tables instead of a clear. */
void tlb_flush_nonglobal_by_mmuidx(CpuTlb *t, uint16_t idxmask);

/* Cross-CPU: a request is queued for the owning CPU, which performs it at
 * its next safe point (tlb_process_requests). The synchronous variant
 * returns when every listed CPU has performed it. */
typedef enum TlbRequestKind {
    TLB_REQ_FLUSH_ALL,
    TLB_REQ_FLUSH_MMUIDX,
    TLB_REQ_FLUSH_PAGE,
    TLB_REQ_FLUSH_RANGE,
    TLB_REQ_FLUSH_NONGLOBAL,  /* tlb_flush_nonglobal_by_mmuidx(idxmask) */
} TlbRequestKind;

typedef struct TlbRequest {
    TlbRequestKind kind;
    uint16_t idxmask;
    uint64_t vaddr;
    uint64_t len;
} TlbRequest;

void tlb_request(CpuTlb *target, const TlbRequest *req);
/* True when requests are waiting (cheap: one atomic load). */
bool tlb_has_requests(CpuTlb *t);
/* Perform queued requests; called by the owning CPU at a safe point. */
void tlb_process_requests(CpuTlb *t);
/* Queue on every CPU in `tlbs` and wait until all have performed it. CPUs
 * not running on their own thread (tlb_set_threaded) are flushed by the
 * caller directly, which is safe because they are not running. */
void tlb_request_sync(CpuTlb **tlbs, unsigned n, const TlbRequest *req);
/* Whether this CPU runs on a thread of its own (default false: the
 * deterministic round-robin scheduler runs every CPU on one thread). */
void tlb_set_threaded(CpuTlb *t, bool threaded);

/* --- Dirty and code tracking --- */

/* Called when a store hits a page on which code is cached, before the store
 * completes: the target drops decoded code for [paddr, paddr+len). */
typedef void (*TlbCodeWriteFn)(void *opaque, uint64_t paddr, unsigned len);
void tlb_set_code_write_hook(CpuTlb *t, TlbCodeWriteFn fn, void *opaque);
/*
 * Mark the RAM page holding physical address `paddr` of address space `as`
 * as holding cached code: every TLB (every CPU) then sends stores to it to
 * the slow path, which calls the code-write hook once and unprotects the
 * page. Uses the region's MEM_CLIENT_CODE dirty log (enabled on demand).
 */
void tlb_protect_code(AddressSpace *as, uint64_t paddr);
/* After a client resets dirty bits of a RAM range, make every TLB take the
 * slow path again for stores there so the next store re-marks it. */
void tlb_reset_dirty(MemRegion *mr, uint64_t offset, uint64_t len);

/* --- Watchpoints (virtual addresses, per CPU) --- */
enum { TLB_WP_READ = 1, TLB_WP_WRITE = 2, TLB_WP_ACCESS = 3 };
/* Called before the access completes; return true to let it proceed,
 * false to stop it (the helper then raises TLB_FAULT_WATCHPOINT). */
typedef bool (*TlbWatchFn)(void *opaque, uint64_t vaddr, unsigned size, TlbAccess access,
                           uint64_t wp_addr, uint64_t wp_len);
int tlb_watchpoint_insert(CpuTlb *t, uint64_t vaddr, uint64_t len, unsigned kind,
                          TlbWatchFn fn, void *opaque);
bool tlb_watchpoint_remove(CpuTlb *t, int id);

/* --- Statistics --- */
void tlb_get_stats(const CpuTlb *t, unsigned mmu_idx, TlbStats *out);
void tlb_reset_stats(CpuTlb *t);
/* `info tlb`-style text: geometry, per-index statistics, and valid entries
 * when `entries` is true. */
void tlb_dump(CpuTlb *t, GString *out, bool entries);

/* Direct access to entries for tests and tools (NULL if out of range). */
const TlbEntry *tlb_peek_entry(CpuTlb *t, unsigned mmu_idx, uint64_t vaddr);
const TlbFullEntry *tlb_peek_full(CpuTlb *t, unsigned mmu_idx, uint64_t vaddr);

#endif
