/*
 * The per-CPU software TLB: fill, slow paths, flushes, tracking.
 *
 * Invariants:
 * - An empty tag is UINT64_MAX; it matches no access (bit 3 is set, and a
 *   compare value only ever has bits 0..2 set below the page).
 * - A tag without flags means: RAM, fully covered by one section, and host
 *   = vaddr + addend is valid for the whole page for that access type.
 * - Every entry's full entry names the dispatch generation its section
 *   index came from. The TLB holds a reference on its current dispatch. At
 *   a dispatch change (notified by the address space at commit) the TLB
 *   either flushes everything (the shared map changed) or, when only this
 *   CPU's overlays changed, drops the entries under old or new overlay
 *   ranges and re-stamps the rest, whose base section indices are the same
 *   in the new dispatch. The slow path still checks the generation before
 *   it decodes an index and refills on a mismatch: an index is never
 *   decoded against another dispatch.
 * - Entries are only written by the owning CPU's thread (or with it
 *   stopped); other CPUs ask through requests.
 */
#include "tlb/tlb.h"

#include "softmmu/region.h"

#define TLB_EMPTY UINT64_MAX
#define TLB_MAX_VICTIM 64

typedef struct VictimEntry {
    TlbEntry e;
    TlbFullEntry full;
} VictimEntry;

typedef struct Watchpoint {
    int id;
    uint64_t vaddr;
    uint64_t len;
    unsigned kind;
    TlbWatchFn fn;
    void *opaque;
} Watchpoint;

typedef struct IndexState {
    TlbFullEntry *full;       /* parallel to fast.tables[i].entries */
    VictimEntry *victim;
    uint64_t *victim_page;    /* page of each victim entry, TLB_EMPTY if none: one
                               * cache line scanned instead of the 72-byte entries */
    unsigned victim_next;     /* round-robin replacement */
    uint64_t large_addr;      /* region covering every large page filled ... */
    uint64_t large_mask;      /* ... (mask 0: none) */
    uint64_t used;            /* fills into empty slots since the last flush (after a
                               * growth: the live entries it kept, plus such fills) */
    uint64_t evicted;         /* fills that displaced another page from the main table
                               * (to the victim table or not) since the last resize or flush */
    bool grew;                /* grown on eviction pressure since the last flush */
    unsigned idle_flushes;    /* consecutive flushes with low use */
} IndexState;

struct CpuTlb;
struct CpuTlb {
    TlbFast fast;             /* must stay first: tlb_fast() casts */
    IndexState idx[TLB_MAX_MMU_IDX];
    unsigned nb_mmu_idx;
    unsigned victim_size;
    bool dynamic_resize;
    unsigned min_entries, max_entries;

    /* The address spaces translations resolve against: space[0] is the
     * CPU's, for every index unless tlb_set_alt_space() bound some indexes to
     * space[1] (e.g. x86 SMM data accesses that must not see SMRAM). */
    struct TlbSpace {
        struct CpuTlb *t;
        AddressSpace *as;
        Dispatch *dispatch;   /* referenced; == as_dispatch(as) after every commit */
        uint16_t idxmask;     /* the MMU indexes bound to this space */
    } space[2];
    uint8_t space_of[TLB_MAX_MMU_IDX];
    /* The run of the section the last fill resolved: [ls_start, ls_last] in
     * the dispatch of generation ls_gen. A stride through RAM fills page
     * after page from one section without another dispatch lookup. */
    uint64_t ls_gen, ls_start, ls_last;
    uint32_t ls_idx;
    MemRegionKind ls_kind;    /* of the section's region (CONTAINER: unassigned) */
    uintptr_t ls_host_bias;   /* RAM-backed: host address = ls_host_bias + paddr */
    const TlbTargetOps *ops;
    void *cpu;

    TlbCodeWriteFn code_hook;
    void *code_opaque;

    GArray *watchpoints;      /* Watchpoint */
    int next_wp_id;

    GMutex req_lock;
    GCond req_cond;
    GArray *requests;         /* TlbRequest */
    gint pending;             /* requests queued (atomic) */
    uint64_t req_queued, req_done; /* tickets for the synchronous variant */
    bool threaded;
};

static GPtrArray *all_tlbs;   /* every live TLB: code protection reaches all CPUs */

static uint64_t page_size(const CpuTlb *t) { return 1ull << t->fast.page_bits; }
static uint64_t page_of(const CpuTlb *t, uint64_t va) { return va & t->fast.page_mask; }

typedef struct TlbSpace TlbSpace;
static inline struct TlbSpace *space_for(CpuTlb *t, unsigned mmu_idx)
{
    return &t->space[t->space_of[mmu_idx]];
}

void tlb_config_default(TlbConfig *cfg)
{
    *cfg = (TlbConfig){
        .nb_mmu_idx = 1,
        .page_bits = 12,
        .entries = 256,
        .victim = 8,
        .dynamic_resize = true,
        .min_entries = 64,
        .max_entries = 32768,
    };
}

static bool is_pow2(unsigned x) { return x && !(x & (x - 1)); }

/* --- Table management --- */

static bool entry_valid(const TlbEntry *e)
{
    return e->addr_read != TLB_EMPTY || e->addr_write != TLB_EMPTY || e->addr_code != TLB_EMPTY;
}

static uint64_t entry_page(const CpuTlb *t, const TlbEntry *e);


static void index_alloc(CpuTlb *t, unsigned i, unsigned entries)
{
    TlbTable *tb = &t->fast.tables[i];
    g_free(tb->entries);
    g_free(t->idx[i].full);
    tb->entries = g_new(TlbEntry, entries);
    memset(tb->entries, 0xff, sizeof(TlbEntry) * entries);
    tb->mask = entries - 1;
    t->idx[i].full = g_new0(TlbFullEntry, entries);
}

static void victim_kill(IndexState *st, unsigned v)
{
    memset(&st->victim[v].e, 0xff, sizeof(TlbEntry));
    st->victim_page[v] = TLB_EMPTY;
}

static void victim_clear(CpuTlb *t, unsigned i)
{
    for (unsigned v = 0; v < t->victim_size; v++) {
        victim_kill(&t->idx[i], v);
    }
}

static void victim_alloc(CpuTlb *t)
{
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        g_free(t->idx[i].victim);
        g_free(t->idx[i].victim_page);
        t->idx[i].victim = g_new0(VictimEntry, t->victim_size ? t->victim_size : 1);
        t->idx[i].victim_page = g_new(uint64_t, t->victim_size ? t->victim_size : 1);
        t->idx[i].victim_next = 0;
        victim_clear(t, i);
    }
}

/*
 * Sizing (docs/tlb.md, "Sizing"). Deterministic: every decision counts
 * fills, evictions and flushes, never time.
 *
 * At a flush: grow x2 when more than 70% of the table was filled since the
 * last flush; shrink /2 after 4 idle flushes in a row. A flush is idle when
 * the interval before it used less than 30% of the table, did not grow on
 * eviction pressure and evicted no more entries than the table has slots:
 * so a flush that comes right after a pressure growth (or after an interval
 * of heavy conflicts in a few slots) never counts towards a shrink.
 */
static void maybe_resize(CpuTlb *t, unsigned i)
{
    TlbTable *tb = &t->fast.tables[i];
    IndexState *st = &t->idx[i];
    uint64_t size = tb->mask + 1, used = st->used;
    bool pressure = st->grew || st->evicted > size;
    st->used = 0;
    st->evicted = 0;
    st->grew = false;
    if (!t->dynamic_resize) {
        return;
    }
    uint64_t new_size = size;
    if (used * 10 > size * 7 && size < t->max_entries) {
        new_size = size * 2;
        st->idle_flushes = 0;
    } else if (used * 10 < size * 3 && size > t->min_entries && !pressure) {
        if (++st->idle_flushes >= 4) {
            new_size = size / 2;
            st->idle_flushes = 0;
        }
    } else {
        st->idle_flushes = 0;
    }
    if (new_size != size) {
        TlbStats saved = tb->stats;
        index_alloc(t, i, (unsigned)new_size);
        tb->stats = saved;
        tb->stats.resizes++;
    }
}

/*
 * Between flushes: grow x2 when the fills since the last resize or flush
 * displaced more than 2 x (table size) entries of other pages from the
 * main table, up to max_entries. The live entries move to their slots in
 * the new table (their slot in the old one is their slot in the new one
 * modulo the old size, so none collide) with their full entries; victims
 * whose new slot is empty move back into the main table, the others stay.
 * Translations are unchanged, so nothing is flushed and the epoch is not
 * bumped. Called at the end of a fill only: the callers look the slot up
 * again afterwards, and nothing holds an entry pointer across a fill.
 */
static void maybe_grow(CpuTlb *t, unsigned i)
{
    TlbTable *tb = &t->fast.tables[i];
    IndexState *st = &t->idx[i];
    uint64_t size = tb->mask + 1;
    if (st->evicted <= 2 * size || !t->dynamic_resize || size >= t->max_entries) {
        return;
    }
    uint64_t new_size = size * 2, new_mask = new_size - 1, live = 0;
    unsigned bits = t->fast.page_bits;
    TlbEntry *ne = g_new(TlbEntry, new_size);
    memset(ne, 0xff, sizeof(TlbEntry) * new_size);
    TlbFullEntry *nf = g_new0(TlbFullEntry, new_size);
    for (uint64_t k = 0; k < size; k++) {
        if (entry_valid(&tb->entries[k])) {
            uint64_t s = (entry_page(t, &tb->entries[k]) >> bits) & new_mask;
            ne[s] = tb->entries[k];
            nf[s] = st->full[k];
            live++;
        }
    }
    for (unsigned v = 0; v < t->victim_size; v++) {
        if (st->victim_page[v] == TLB_EMPTY) {
            continue;
        }
        uint64_t s = (st->victim_page[v] >> bits) & new_mask;
        if (!entry_valid(&ne[s])) {
            ne[s] = st->victim[v].e;
            nf[s] = st->victim[v].full;
            victim_kill(st, v);
            live++;
        }
    }
    g_free(tb->entries);
    g_free(st->full);
    tb->entries = ne;
    st->full = nf;
    tb->mask = new_mask;
    st->used = live;
    st->evicted = 0;
    st->grew = true;
    st->idle_flushes = 0;
    tb->stats.resizes++;
    tb->stats.grows++;
}

static void flush_index(CpuTlb *t, unsigned i)
{
    TlbTable *tb = &t->fast.tables[i];
    t->fast.epoch++;
    maybe_resize(t, i);
    memset(tb->entries, 0xff, sizeof(TlbEntry) * (tb->mask + 1));
    victim_clear(t, i);
    t->idx[i].large_addr = 0;
    t->idx[i].large_mask = 0;
}

static void flush_indexes(CpuTlb *t, uint16_t idxmask, bool as_full_flush);

static bool overlaps_view(const FlatView *fv, uint64_t lo, uint64_t hi)
{
    for (guint i = 0; i < flatview_num_ranges(fv); i++) {
        const FlatRange *r = flatview_range(fv, i);
        if (r->start <= hi && lo <= r->last) {
            return true;
        }
    }
    return false;
}

/*
 * Precise invalidation when only this CPU's overlays changed (same shared
 * base): an address can resolve differently only under an old or a new
 * overlay range. Entries there go; every other entry decodes to a base
 * section whose index is the same in the new dispatch, so it is re-stamped
 * with the new generation and stays. Returns false if it could not apply.
 */
static bool invalidate_overlay_change(CpuTlb *t, Dispatch *old_d, Dispatch *new_d,
                                      uint16_t idxmask)
{
    Dispatch *base = dispatch_base(old_d);
    if (!base || base != dispatch_base(new_d)) {
        return false;
    }
    const FlatView *ov = dispatch_flatview(old_d), *nv = dispatch_flatview(new_d);
    uint64_t old_gen = dispatch_generation(old_d), new_gen = dispatch_generation(new_d);
    uint32_t base_count = dispatch_num_sections(base);
    uint64_t psz = page_size(t);
    t->fast.epoch++;
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        if (!(idxmask & (1u << i))) {
            continue;
        }
        TlbTable *tb = &t->fast.tables[i];
        uint64_t n = tb->mask + 1;
        for (uint64_t k = 0; k < n + t->victim_size; k++) {
            TlbEntry *e = k < n ? &tb->entries[k] : &t->idx[i].victim[k - n].e;
            TlbFullEntry *f = k < n ? &t->idx[i].full[k] : &t->idx[i].victim[k - n].full;
            if (!entry_valid(e)) {
                continue;
            }
            bool keep = f->dispatch_gen == old_gen &&
                        (f->multi_section || f->section < base_count) &&
                        !overlaps_view(ov, f->paddr, f->paddr + (psz - 1)) &&
                        !overlaps_view(nv, f->paddr, f->paddr + (psz - 1));
            if (keep) {
                f->dispatch_gen = new_gen;
            } else if (k < n) {
                memset(e, 0xff, sizeof(*e));
            } else {
                victim_kill(&t->idx[i], (unsigned)(k - n));
            }
        }
        tb->stats.flush_range++;
    }
    return true;
}

/* The CPU's address space installed a new dispatch (at a commit). */
static void dispatch_changed(AddressSpace *as, Dispatch *old_d, Dispatch *new_d, void *opaque)
{
    struct TlbSpace *sp = opaque;
    CpuTlb *t = sp->t;
    bool precise = sp->dispatch == old_d &&
                   invalidate_overlay_change(t, old_d, new_d, sp->idxmask);
    dispatch_ref(new_d);
    dispatch_unref(sp->dispatch);
    sp->dispatch = new_d;
    if (!precise) {
        flush_indexes(t, sp->idxmask, true); /* everything this space's indexes hold */
    }
}

CpuTlb *tlb_new(AddressSpace *as, const TlbConfig *cfg_in, const TlbTargetOps *ops, void *cpu,
                GError **err)
{
    TlbConfig cfg;
    if (cfg_in) {
        cfg = *cfg_in;
    } else {
        tlb_config_default(&cfg);
    }
    if (!cfg.min_entries) {
        cfg.min_entries = 64;
    }
    if (!cfg.max_entries) {
        cfg.max_entries = 32768;
    }
    if (!cfg.entries) {
        cfg.entries = 256;
    }
    const char *bad = NULL;
    if (!as || !ops || !ops->page_walk || !ops->raise_fault) {
        bad = "an address space and ops with page_walk and raise_fault are required";
    } else if (cfg.nb_mmu_idx < 1 || cfg.nb_mmu_idx > TLB_MAX_MMU_IDX) {
        bad = "nb_mmu_idx must be 1..16";
    } else if (cfg.page_bits < TLB_MIN_PAGE_BITS || cfg.page_bits > TLB_MAX_PAGE_BITS) {
        bad = "page_bits must be 10..16";
    } else if (!is_pow2(cfg.entries) || !is_pow2(cfg.min_entries) || !is_pow2(cfg.max_entries) ||
               cfg.min_entries > cfg.max_entries || cfg.entries < 2) {
        bad = "entries, min_entries and max_entries must be powers of two >= 2, min <= max";
    } else if (cfg.victim > TLB_MAX_VICTIM) {
        bad = "victim must be 0..64";
    }
    if (bad) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "tlb_new: %s", bad);
        return NULL;
    }
    CpuTlb *t = g_new0(CpuTlb, 1);
    t->fast.page_bits = cfg.page_bits;
    t->fast.page_mask = ~((1ull << cfg.page_bits) - 1);
    t->nb_mmu_idx = cfg.nb_mmu_idx;
    t->victim_size = cfg.victim;
    t->dynamic_resize = cfg.dynamic_resize;
    t->min_entries = cfg.min_entries;
    t->max_entries = cfg.max_entries;
    t->space[0] = (struct TlbSpace){ .t = t, .as = as, .idxmask = TLB_ALL_MMUIDX };
    t->ops = ops;
    t->cpu = cpu;
    t->watchpoints = g_array_new(FALSE, FALSE, sizeof(Watchpoint));
    t->requests = g_array_new(FALSE, FALSE, sizeof(TlbRequest));
    g_mutex_init(&t->req_lock);
    g_cond_init(&t->req_cond);
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        index_alloc(t, i, cfg.entries);
    }
    /* Unused indexes get a one-entry empty table so a stray index misses
     * into the slow path, which refuses it, instead of reading NULL. */
    for (unsigned i = t->nb_mmu_idx; i < TLB_MAX_MMU_IDX; i++) {
        index_alloc(t, i, 1);
    }
    victim_alloc(t);
    t->space[0].dispatch = as_dispatch(as);
    dispatch_ref(t->space[0].dispatch);
    t->ls_gen = UINT64_MAX; /* generations start at 1: never matches */
    as_add_dispatch_notifier(as, dispatch_changed, &t->space[0]);
    if (!all_tlbs) {
        all_tlbs = g_ptr_array_new();
    }
    g_ptr_array_add(all_tlbs, t);
    return t;
}

void tlb_free(CpuTlb *t)
{
    if (!t) {
        return;
    }
    g_ptr_array_remove(all_tlbs, t);
    for (int k = 0; k < 2; k++) {
        if (t->space[k].as) {
            as_remove_dispatch_notifier(t->space[k].as, dispatch_changed, &t->space[k]);
            dispatch_unref(t->space[k].dispatch);
        }
    }
    for (unsigned i = 0; i < TLB_MAX_MMU_IDX; i++) {
        g_free(t->fast.tables[i].entries);
        g_free(t->idx[i].full);
        g_free(t->idx[i].victim);
        g_free(t->idx[i].victim_page);
    }
    g_array_free(t->watchpoints, TRUE);
    g_array_free(t->requests, TRUE);
    g_mutex_clear(&t->req_lock);
    g_cond_clear(&t->req_cond);
    g_free(t);
}

AddressSpace *tlb_address_space(const CpuTlb *t)
{
    return t->space[0].as;
}

bool tlb_set_alt_space(CpuTlb *t, uint16_t idxmask, AddressSpace *as, GError **err)
{
    uint16_t valid = (uint16_t)((1u << t->nb_mmu_idx) - 1);
    if (!as || !idxmask || (idxmask & ~valid) || t->space[1].as) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "tlb_set_alt_space: needs an address space and a non-empty mask of "
                    "existing MMU indexes, once per TLB");
        return false;
    }
    t->space[1] = (struct TlbSpace){ .t = t, .as = as, .dispatch = as_dispatch(as),
                                     .idxmask = idxmask };
    dispatch_ref(t->space[1].dispatch);
    t->space[0].idxmask &= (uint16_t)~idxmask;
    for (unsigned i = 0; i < TLB_MAX_MMU_IDX; i++) {
        if (idxmask & (1u << i)) {
            t->space_of[i] = 1;
        }
    }
    as_add_dispatch_notifier(as, dispatch_changed, &t->space[1]);
    tlb_flush_by_mmuidx(t, idxmask);
    return true;
}

bool tlb_set_geometry(CpuTlb *t, unsigned entries, unsigned victim, bool dynamic_resize,
                      GError **err)
{
    if (!is_pow2(entries) || entries < 2 || victim > TLB_MAX_VICTIM) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "tlb_set_geometry: entries must be a power of two >= 2 (got %u), victim "
                    "0..64 (got %u)", entries, victim);
        return false;
    }
    t->dynamic_resize = dynamic_resize;
    t->fast.epoch++;
    if (entries < t->min_entries) {
        t->min_entries = entries;
    }
    if (entries > t->max_entries) {
        t->max_entries = entries;
    }
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        TlbStats saved = t->fast.tables[i].stats;
        index_alloc(t, i, entries);
        t->fast.tables[i].stats = saved;
        t->idx[i].used = 0;
        t->idx[i].evicted = 0;
        t->idx[i].grew = false;
        t->idx[i].idle_flushes = 0;
        t->idx[i].large_addr = t->idx[i].large_mask = 0;
    }
    t->victim_size = victim;
    victim_alloc(t);
    return true;
}

unsigned tlb_entries(const CpuTlb *t, unsigned mmu_idx)
{
    return mmu_idx < t->nb_mmu_idx ? (unsigned)(t->fast.tables[mmu_idx].mask + 1) : 0;
}

/* --- Fill --- */

static uint64_t *tag_of(TlbEntry *e, TlbAccess a)
{
    return a == TLB_READ ? &e->addr_read : a == TLB_WRITE ? &e->addr_write : &e->addr_code;
}

static bool tag_matches(const CpuTlb *t, uint64_t tag, uint64_t vpage)
{
    return tag != TLB_EMPTY && (tag & t->fast.page_mask) == vpage;
}

/* The virtual page a valid entry maps (any of its tags says). */
static uint64_t entry_page(const CpuTlb *t, const TlbEntry *e)
{
    uint64_t tag = e->addr_read != TLB_EMPTY ? e->addr_read
                   : e->addr_write != TLB_EMPTY ? e->addr_write : e->addr_code;
    return tag == TLB_EMPTY ? TLB_EMPTY : tag & t->fast.page_mask;
}

/* Does any watchpoint of `kind` overlap [start, start+len)? */
static bool watch_overlaps(const CpuTlb *t, uint64_t start, uint64_t len, unsigned kind)
{
    for (guint i = 0; i < t->watchpoints->len; i++) {
        const Watchpoint *w = &g_array_index(t->watchpoints, Watchpoint, i);
        if ((w->kind & kind) && w->vaddr <= start + (len - 1) && start <= w->vaddr + (w->len - 1)) {
            return true;
        }
    }
    return false;
}

/* Every logging client has the page dirty: stores need no bookkeeping. */
static bool page_needs_no_tracking(const CpuTlb *t, MemRegion *mr, uint64_t off)
{
    if (!mr_dirty_log_mask(mr)) {
        return true;
    }
    for (uint64_t o = 0; o < page_size(t); o += MEM_DIRTY_PAGE_SIZE) {
        if (!mr_page_all_dirty(mr, off + o)) {
            return false;
        }
    }
    return true;
}

/* Sizes (bit n: 1 << n bytes) a device's callbacks take as they are: both
 * accepted (valid) and implemented (impl), so no emulation is needed. */
static uint8_t native_sizes(const MemRegionOps *ops)
{
    unsigned lo = MAX(ops->valid.min_access_size ? ops->valid.min_access_size : 1,
                      ops->impl.min_access_size ? ops->impl.min_access_size : 1);
    unsigned hi = MIN(ops->valid.max_access_size ? ops->valid.max_access_size : 4,
                      ops->impl.max_access_size ? ops->impl.max_access_size : 4);
    uint8_t m = 0;
    for (unsigned n = 0; n < 4; n++) {
        if ((1u << n) >= lo && (1u << n) <= hi) {
            m |= (uint8_t)(1u << n);
        }
    }
    return m;
}

static void note_large_page(IndexState *st, uint64_t vaddr, uint64_t size)
{
    uint64_t mask = ~(size - 1);
    if (!st->large_mask) {
        st->large_addr = vaddr & mask;
        st->large_mask = mask;
        return;
    }
    /* Widen the tracked region until it covers both. */
    mask &= st->large_mask;
    while (((st->large_addr ^ vaddr) & mask) != 0) {
        mask <<= 1;
    }
    st->large_addr &= mask;
    st->large_mask = mask;
}

/*
 * Walk and fill the entry for vaddr in mmu_idx. False after raising the
 * walk's fault. The old occupant of the slot moves to the victim table.
 * The fill may grow the table (maybe_grow): the caller recomputes the slot
 * and must not keep an entry pointer from before the call.
 */
static bool tlb_fill(CpuTlb *t, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                     unsigned size, bool victim_may_hold_page)
{
    TlbTable *tb = &t->fast.tables[mmu_idx];
    IndexState *st = &t->idx[mmu_idx];
    TlbTranslation tr = { .page_size = page_size(t) };
    TlbFault fault = { .kind = TLB_FAULT_TRANSLATION, .vaddr = vaddr, .access = access,
                       .mmu_idx = mmu_idx, .size = size };
    if (!t->ops->page_walk(t->cpu, vaddr, access, mmu_idx, &tr, &fault)) {
        tb->stats.walk_faults++;
        fault.kind = TLB_FAULT_TRANSLATION;
        t->ops->raise_fault(t->cpu, &fault);
        return false;
    }
    tb->stats.fills++;
    if (tr.page_size < page_size(t) || (tr.page_size & (tr.page_size - 1))) {
        tr.page_size = page_size(t); /* a walk can't give less than a TLB page */
    }
    uint64_t vpage = page_of(t, vaddr);
    uint64_t ppage = page_of(t, tr.paddr);
    if (tr.page_size > page_size(t)) {
        note_large_page(st, vaddr, tr.page_size);
    }

    struct TlbSpace *spc = space_for(t, mmu_idx);
    Dispatch *d = spc->dispatch;
    uint64_t gen = dispatch_generation(d);
    uint64_t last;
    uint32_t idx;
    const MemSection *s;
    if (t->ls_gen == gen && ppage >= t->ls_start && ppage <= t->ls_last) {
        idx = t->ls_idx;
        last = t->ls_last;
        s = dispatch_section(d, idx);
    } else {
        idx = dispatch_lookup(d, ppage, &last);
        s = dispatch_section(d, idx);
        t->ls_gen = gen;
        t->ls_start = ppage;
        t->ls_last = last;
        t->ls_idx = idx;
        t->ls_kind = s->mr ? mr_kind(s->mr) : MR_KIND_CONTAINER;
        uint8_t *base = s->mr ? mr_ram_ptr(s->mr) : NULL;
        t->ls_host_bias = base ? (uintptr_t)base + s->offset_in_region - s->start : 0;
    }
    bool single = last - ppage >= page_size(t) - 1;
    MemRegion *mr = s->mr;
    MemRegionKind kind = t->ls_kind;
    bool ram = single && (kind == MR_KIND_RAM || kind == MR_KIND_ROM);
    bool romd_read = single && kind == MR_KIND_ROMD && s->romd_mode;

    TlbEntry ne;
    uint64_t rtag = TLB_EMPTY, wtag = TLB_EMPTY, ctag = TLB_EMPTY;
    uintptr_t addend = 0;
    if (ram || romd_read) {
        addend = t->ls_host_bias + (uintptr_t)ppage - (uintptr_t)vpage;
    }
    if (tr.prot & TLB_PROT_READ) {
        rtag = vpage | ((ram || romd_read) ? 0 : TLB_FLAG_IO);
    }
    if (tr.prot & TLB_PROT_EXEC) {
        ctag = vpage | ((ram || romd_read) ? 0 : TLB_FLAG_IO);
    }
    if (tr.prot & TLB_PROT_WRITE) {
        if (!ram) {
            wtag = vpage | TLB_FLAG_IO;
        } else if (s->readonly) {
            wtag = vpage | TLB_FLAG_IO | TLB_FLAG_DISCARD;
        } else {
            uint64_t off = s->offset_in_region + (ppage - s->start);
            bool tracked = s->dirty_log_mask && !page_needs_no_tracking(t, mr, off);
            wtag = vpage | (tracked ? TLB_FLAG_NOTDIRTY : 0);
        }
    }
    if (t->watchpoints->len) {
        if (rtag != TLB_EMPTY && watch_overlaps(t, vpage, page_size(t), TLB_WP_READ)) {
            rtag |= TLB_FLAG_WATCH;
        }
        if (wtag != TLB_EMPTY && watch_overlaps(t, vpage, page_size(t), TLB_WP_WRITE)) {
            wtag |= TLB_FLAG_WATCH;
        }
    }
    ne = (TlbEntry){ rtag, wtag, ctag, addend };

    uint64_t slot = (vaddr >> t->fast.page_bits) & tb->mask;
    TlbEntry *e = &tb->entries[slot];
    TlbFullEntry *full = &st->full[slot];
    if (entry_valid(e)) {
        /* Keep the evicted entry, unless it is the same page (an upgrade). */
        bool same = tag_matches(t, e->addr_read, vpage) || tag_matches(t, e->addr_write, vpage) ||
                    tag_matches(t, e->addr_code, vpage);
        /* A page now in the main table must not linger in the victim table. */
        for (unsigned v = 0; victim_may_hold_page && v < t->victim_size; v++) {
            if (st->victim_page[v] == vpage) {
                victim_kill(st, v);
            }
        }
        if (!same) {
            st->evicted++; /* capacity/conflict pressure (maybe_grow) */
        }
        if (!same && t->victim_size) {
            unsigned v = st->victim_next;
            st->victim_next = v + 1 == t->victim_size ? 0 : v + 1;
            st->victim[v].e = *e;
            st->victim[v].full = *full;
            st->victim_page[v] = entry_page(t, e);
        }
    } else {
        st->used++;
        for (unsigned v = 0; victim_may_hold_page && v < t->victim_size; v++) {
            if (st->victim_page[v] == vpage) {
                victim_kill(st, v);
            }
        }
    }
    *e = ne;
    const MemRegionOps *dev = single && kind == MR_KIND_MMIO ? mr_ops(mr) : NULL;
    *full = (TlbFullEntry){
        .dev_ops = dev,
        .dev_opaque = dev ? mr_opaque(mr) : NULL,
        .dev_offset = dev ? s->offset_in_region + (ppage - s->start) : 0,
        .dev_sizes = dev ? native_sizes(dev) : 0,
        .dev_big = dev && (dev->endianness == MEM_BIG_ENDIAN ||
                           (dev->endianness == MEM_TARGET_ENDIAN &&
                            as_target_endian(spc->as) == MEM_BIG_ENDIAN)),
        .paddr = ppage,
        .section_offset = ppage - s->start,
        .dispatch_gen = gen,
        .section = idx,
        .multi_section = !single,
        .prot = (uint8_t)tr.prot,
        .lg_page_size = (uint8_t)__builtin_ctzll(tr.page_size),
        .global = tr.global,
        .attrs = tr.attrs,
    };
    maybe_grow(t, mmu_idx); /* may reallocate the table: e and full are dead now */
    return true;
}

/*
 * Find a valid entry for vaddr and `access` in mmu_idx: main table, then
 * victim table (swapping it in), then a page walk. Returns the slot index
 * or -1 after a fault was raised.
 */
static int64_t tlb_lookup(CpuTlb *t, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                          unsigned size, bool count)
{
    TlbTable *tb = &t->fast.tables[mmu_idx];
    IndexState *st = &t->idx[mmu_idx];
    uint64_t vpage = page_of(t, vaddr);
    uint64_t slot = (vaddr >> t->fast.page_bits) & tb->mask;
    TlbEntry *e = &tb->entries[slot];
    if (tag_matches(t, *tag_of(e, access), vpage)) {
        tb->stats.hits += count;
        return (int64_t)slot;
    }
    tb->stats.misses += count;
    bool in_victims = false; /* the probe saw the page there (without this permission) */
    for (unsigned v = 0; v < t->victim_size; v++) {
        if (st->victim_page[v] != vpage) {
            continue;
        }
        in_victims = true;
        VictimEntry *ve = &st->victim[v];
        if (tag_matches(t, *tag_of(&ve->e, access), vpage)) {
            VictimEntry tmp = { *e, st->full[slot] };
            *e = ve->e;
            st->full[slot] = ve->full;
            *ve = tmp;
            st->victim_page[v] = entry_valid(&tmp.e) ? entry_page(t, &tmp.e) : TLB_EMPTY;
            tb->stats.victim_hits += count;
            return (int64_t)slot;
        }
        break; /* the page is there, but without this permission: refill */
    }
    if (!tlb_fill(t, vaddr, access, mmu_idx, size, in_victims)) {
        return -1;
    }
    /* The fill may have grown the table: the slot and entry are new. */
    slot = (vaddr >> t->fast.page_bits) & tb->mask;
    e = &tb->entries[slot];
    if (!tag_matches(t, *tag_of(e, access), vpage)) {
        /* The walk succeeded but did not grant this access: a target bug,
         * not a guest action. Fault rather than loop or crash. */
        TlbFault f = { .kind = TLB_FAULT_TRANSLATION, .vaddr = vaddr, .access = access,
                       .mmu_idx = mmu_idx, .size = size, .target_code = UINT64_MAX };
        mem_report("tlb: page walk for 0x%" G_GINT64_MODIFIER "x returned no %s permission "
                   "without faulting", vaddr, access == TLB_WRITE ? "write" :
                   access == TLB_EXEC ? "execute" : "read");
        t->ops->raise_fault(t->cpu, &f);
        return -1;
    }
    return (int64_t)slot;
}

/* --- Slow paths --- */

static bool bus_error(CpuTlb *t, uint64_t vaddr, uint64_t paddr, TlbAccess access,
                      unsigned mmu_idx, unsigned size, MemResult r)
{
    TlbFault f = { .kind = TLB_FAULT_BUS, .vaddr = vaddr, .access = access, .mmu_idx = mmu_idx,
                   .size = size, .paddr = paddr, .result = r };
    bool faults = t->ops->bus_error_faults ? t->ops->bus_error_faults(t->cpu, &f)
                                           : r != MEM_DECODE_ERROR;
    if (faults) {
        t->ops->raise_fault(t->cpu, &f);
        return false;
    }
    return true;
}

/* The entry's section, checked against the current dispatch. NULL if the
 * entry is from another dispatch (the caller refills) or spans sections. */
static const MemSection *entry_section(CpuTlb *t, unsigned mmu_idx, const TlbFullEntry *full)
{
    Dispatch *d = space_for(t, mmu_idx)->dispatch;
    if (full->dispatch_gen != dispatch_generation(d) || full->multi_section) {
        return NULL;
    }
    return dispatch_section(d, full->section);
}

/* Call every watchpoint of the access's kind overlapping it, before the
 * access completes; false (fault raised) if one refuses. Iterates over a
 * snapshot: a callback may insert or remove watchpoints. */
static bool check_watch(CpuTlb *t, uint64_t vaddr, unsigned size, TlbAccess access,
                        unsigned mmu_idx)
{
    unsigned kind = access == TLB_WRITE ? TLB_WP_WRITE : TLB_WP_READ;
    guint n = t->watchpoints->len;
    if (n == 0 || !watch_overlaps(t, vaddr, size, kind)) {
        return true;
    }
    Watchpoint *snap = g_memdup2(t->watchpoints->data, n * sizeof(Watchpoint));
    bool ok = true;
    for (guint i = 0; ok && i < n; i++) {
        Watchpoint w = snap[i];
        if ((w.kind & kind) && w.vaddr <= vaddr + (size - 1) && vaddr <= w.vaddr + (w.len - 1) &&
            !w.fn(w.opaque, vaddr, size, access, w.vaddr, w.len)) {
            TlbFault f = { .kind = TLB_FAULT_WATCHPOINT, .vaddr = vaddr, .access = access,
                           .mmu_idx = mmu_idx, .size = size };
            t->ops->raise_fault(t->cpu, &f);
            ok = false;
        }
    }
    g_free(snap);
    return ok;
}

/* A store is about to change code cached from this RAM page: tell this
 * CPU's hook (the memory core tells the code caches themselves). */
static void code_hook_if_protected(CpuTlb *t, MemRegion *mr, uint64_t off, uint64_t paddr,
                                   unsigned size)
{
    if (t->code_hook && (mr_dirty_log_mask(mr) & (1u << MEM_CLIENT_CODE)) &&
        !mr_get_dirty(mr, off, size, MEM_CLIENT_CODE)) {
        t->code_hook(t->code_opaque, paddr, size);
    }
}

/*
 * One access of `size` bytes (1..8) wholly inside one page, value in
 * memory order in `bytes`. `count`: count the lookup in the statistics;
 * `watch`: check watchpoints. Both are false for the pieces of a
 * page-crossing access, whose caller did both once for the whole.
 *
 * Callbacks (watchpoints, the code-write hook) may flush this TLB: nothing
 * read from the entry is used after one runs without looking it up again.
 */
static bool access_in_page(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx,
                           TlbAccess access, uint8_t *bytes, bool count, bool watch)
{
    bool watch_pending = watch;
    uint64_t vpage = page_of(t, vaddr);
    for (int attempt = 0; attempt < 3; attempt++) {
        int64_t slot = tlb_lookup(t, vaddr, access, mmu_idx, size, count);
        count = false;
        if (slot < 0) {
            return false;
        }
        TlbEntry *e = &t->fast.tables[mmu_idx].entries[slot];
        TlbFullEntry *full = &t->idx[mmu_idx].full[slot];
        uint64_t tag = *tag_of(e, access);
        if (watch_pending && (tag & TLB_FLAG_WATCH)) {
            watch_pending = false;
            if (!check_watch(t, vaddr, size, access, mmu_idx)) {
                return false;
            }
            continue; /* the callbacks may have flushed: look it up again */
        }
        uint64_t paddr = full->paddr + (vaddr & ~t->fast.page_mask);
        if (!(tag & (TLB_FLAG_IO | TLB_FLAG_NOTDIRTY))) {
            uint8_t *host = (uint8_t *)(uintptr_t)(vaddr + e->addend);
            if (access == TLB_WRITE) {
                memcpy(host, bytes, size);
            } else {
                memcpy(bytes, host, size);
            }
            return true;
        }
        const MemSection *s = entry_section(t, mmu_idx, full);
        if (!s && !full->multi_section) {
            /* Filled from an older dispatch: never decode it; refill. */
            tlb_flush_page_by_mmuidx(t, vaddr, (uint16_t)(1u << mmu_idx));
            continue;
        }
        if (tag & TLB_FLAG_NOTDIRTY) {
            /* RAM with bookkeeping: code on the page, or a client's clean page. */
            MemRegion *mr = s->mr;
            uint64_t off = s->offset_in_region + (paddr - s->start);
            uint8_t *host = (uint8_t *)(uintptr_t)(vaddr + e->addend);
            code_hook_if_protected(t, mr, off, paddr, size);
            mr_note_write(mr, off, size);
            memcpy(host, bytes, size);
            /* The hook may have flushed (and a flush may have resized the
             * table) or reused the slot: find the slot again, re-check it. */
            e = tlb_entry(&t->fast, mmu_idx, vaddr);
            if (tag_matches(t, e->addr_write, vpage) && (e->addr_write & TLB_FLAG_NOTDIRTY) &&
                page_needs_no_tracking(t, mr, off & ~(page_size(t) - 1))) {
                e->addr_write &= ~(uint64_t)TLB_FLAG_NOTDIRTY;
            }
            return true;
        }
        t->fast.tables[mmu_idx].stats.io_accesses++;
        MemResult r;
        uint64_t v = 0;
        for (unsigned i = 0; access == TLB_WRITE && i < size; i++) {
            v |= (uint64_t)bytes[i] << (8 * i);
        }
        if (full->multi_section) {
            /* A page shared by several sections: look the address up in the
             * same dispatch, and make it one access of its size. */
            MemAttrs attrs = full->attrs;
            if (access == TLB_WRITE) {
                Dispatch *d = space_for(t, mmu_idx)->dispatch;
                const MemSection *rs = dispatch_section(d, dispatch_lookup(d, paddr, NULL));
                if (rs->mr && mr_ram_ptr(rs->mr)) {
                    code_hook_if_protected(t, rs->mr, rs->offset_in_region + (paddr - rs->start),
                                           paddr, size);
                }
                r = as_write_val(space_for(t, mmu_idx)->as, paddr, attrs, size, MEM_LITTLE_ENDIAN, v);
            } else {
                r = as_read_val(space_for(t, mmu_idx)->as, paddr, attrs, size, MEM_LITTLE_ENDIAN, &v);
            }
        } else if (tag & TLB_FLAG_DISCARD) {
            section_access(space_for(t, mmu_idx)->as, s, paddr, full->attrs, bytes, size, true);
            return true; /* ROM writes are dropped (and reported once), as hardware does */
        } else if (access == TLB_WRITE) {
            r = section_write_val(space_for(t, mmu_idx)->as, s, paddr, full->attrs, size, MEM_LITTLE_ENDIAN, v);
        } else {
            r = section_read_val(space_for(t, mmu_idx)->as, s, paddr, full->attrs, size, MEM_LITTLE_ENDIAN, &v);
        }
        for (unsigned i = 0; access != TLB_WRITE && i < size; i++) {
            bytes[i] = (uint8_t)(v >> (8 * i));
        }
        if (r != MEM_OK) {
            return bus_error(t, vaddr, paddr, access, mmu_idx, size, r);
        }
        return true;
    }
    /* Refills kept disagreeing with the dispatch: cannot happen unless the
     * page walk itself changes the map; stop with a clean fault. */
    TlbFault f = { .kind = TLB_FAULT_BUS, .vaddr = vaddr, .access = access, .mmu_idx = mmu_idx,
                   .size = size, .result = MEM_DECODE_ERROR };
    t->ops->raise_fault(t->cpu, &f);
    return false;
}

static bool check_args(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx,
                       unsigned flags, TlbAccess access)
{
    if (mmu_idx >= t->nb_mmu_idx || !(size == 1 || size == 2 || size == 4 || size == 8)) {
        TlbFault f = { .kind = TLB_FAULT_ALIGNMENT, .vaddr = vaddr, .access = access,
                       .mmu_idx = mmu_idx, .size = size };
        mem_report("tlb: invalid access (mmu_idx %u of %u, size %u)", mmu_idx, t->nb_mmu_idx,
                   size);
        t->ops->raise_fault(t->cpu, &f);
        return false;
    }
    if ((flags & TLB_ALIGN) && (vaddr & (size - 1))) {
        TlbFault f = { .kind = TLB_FAULT_ALIGNMENT, .vaddr = vaddr, .access = access,
                       .mmu_idx = mmu_idx, .size = size };
        t->ops->raise_fault(t->cpu, &f);
        return false;
    }
    return true;
}

/*
 * An access of up to 8 bytes anywhere: split at the page boundary. Both
 * pages are translated before any byte moves, so a fault on either page
 * leaves memory untouched (the fault names the first byte of the page
 * that faulted).
 */
static bool access_bytes(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx,
                         TlbAccess access, uint8_t *bytes)
{
    uint64_t in_page = page_size(t) - (vaddr & ~t->fast.page_mask);
    if (size <= in_page) {
        return access_in_page(t, vaddr, size, mmu_idx, access, bytes, true, true);
    }
    unsigned first = (unsigned)in_page;
    uint64_t second_va = vaddr + first;
    if (tlb_lookup(t, vaddr, access, mmu_idx, first, true) < 0 ||
        tlb_lookup(t, second_va, access, mmu_idx, size - first, true) < 0) {
        return false;
    }
    /* Watchpoints see the guest's access once, before any byte moves. */
    if (!check_watch(t, vaddr, size, access, mmu_idx)) {
        return false;
    }
    /* Each part is an access of its own: power-of-two pieces in order. */
    unsigned done = 0;
    while (done < size) {
        uint64_t va = vaddr + done;
        unsigned left = (done < first ? first : size) - done;
        unsigned piece = 8;
        while (piece > left || (va & (piece - 1))) {
            piece >>= 1;
        }
        if (!access_in_page(t, va, piece, mmu_idx, access, bytes + done, false, false)) {
            return false;
        }
        done += piece;
    }
    return true;
}

static uint64_t bswap_size(uint64_t v, unsigned size)
{
    switch (size) {
    case 2: return __builtin_bswap16((uint16_t)v);
    case 4: return __builtin_bswap32((uint32_t)v);
    case 8: return __builtin_bswap64(v);
    default: return v;
    }
}

/*
 * The common slow-path cases, finished without the general machinery: a
 * miss that fills plain RAM, and an I/O page whose device takes the access
 * at its native size (called directly with the value, converted once).
 * Returns 1 done, 0 failed (fault raised), -1 not handled here.
 */
static int quick_access(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx,
                        unsigned flags, TlbAccess access, uint64_t *value)
{
    if ((vaddr & ~t->fast.page_mask) + size > page_size(t)) {
        return -1;
    }
    int64_t slot = tlb_lookup(t, vaddr, access, mmu_idx, size, true);
    if (slot < 0) {
        return 0;
    }
    TlbEntry *e = &t->fast.tables[mmu_idx].entries[slot];
    uint64_t tag = *tag_of(e, access);
    bool big = flags & TLB_BIG_ENDIAN;
    if (!(tag & TLB_FLAGS_MASK)) {
        void *host = (void *)(uintptr_t)(vaddr + e->addend);
        if (access == TLB_WRITE) {
            tlb_host_store(host, size, big, *value);
        } else {
            *value = tlb_host_load(host, size, big);
        }
        return 1;
    }
    const TlbFullEntry *full = &t->idx[mmu_idx].full[slot];
    if ((tag & TLB_FLAGS_MASK) != TLB_FLAG_IO || !full->dev_ops ||
        !(full->dev_sizes & size) || full->dispatch_gen != dispatch_generation(space_for(t, mmu_idx)->dispatch)) {
        return -2; /* counted already: the caller must not count again */
    }
    uint64_t off = full->dev_offset + (vaddr & ~t->fast.page_mask);
    const MemRegionOps *ops = full->dev_ops;
    if ((off & (size - 1)) || !(access == TLB_WRITE ? ops->write != NULL : ops->read != NULL)) {
        return -2;
    }
    t->fast.tables[mmu_idx].stats.io_accesses++;
    MemResult r;
    if (access == TLB_WRITE) {
        uint64_t v = full->dev_big == big ? *value : bswap_size(*value, size);
        r = ops->write(full->dev_opaque, off, v & (size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1),
                       size, full->attrs);
    } else {
        uint64_t v = 0;
        r = ops->read(full->dev_opaque, off, &v, size, full->attrs);
        if (r != MEM_OK) {
            v = 0;
        }
        v &= size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
        *value = full->dev_big == big ? v : bswap_size(v, size);
    }
    if (r != MEM_OK) {
        return bus_error(t, vaddr, full->paddr + (vaddr & ~t->fast.page_mask), access, mmu_idx,
                         size, r) ? 1 : 0;
    }
    return 1;
}

bool tlb_load_slow(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx, unsigned flags,
                   uint64_t *value)
{
    uint8_t bytes[8];
    *value = 0;
    if (!check_args(t, vaddr, size, mmu_idx, flags, TLB_READ)) {
        return false;
    }
    int q = quick_access(t, vaddr, size, mmu_idx, flags, TLB_READ, value);
    if (q >= 0) {
        return q == 1;
    }
    bool ok = q == -2 ? access_in_page(t, vaddr, size, mmu_idx, TLB_READ, bytes, false, true)
                      : access_bytes(t, vaddr, size, mmu_idx, TLB_READ, bytes);
    if (!ok) {
        return false;
    }
    *value = tlb_host_load(bytes, size, flags & TLB_BIG_ENDIAN);
    return true;
}

bool tlb_store_slow(CpuTlb *t, uint64_t vaddr, unsigned size, unsigned mmu_idx, unsigned flags,
                    uint64_t value)
{
    uint8_t bytes[8];
    if (!check_args(t, vaddr, size, mmu_idx, flags, TLB_WRITE)) {
        return false;
    }
    int q = quick_access(t, vaddr, size, mmu_idx, flags, TLB_WRITE, &value);
    if (q >= 0) {
        return q == 1;
    }
    tlb_host_store(bytes, size, flags & TLB_BIG_ENDIAN, value);
    return q == -2 ? access_in_page(t, vaddr, size, mmu_idx, TLB_WRITE, bytes, false, true)
                   : access_bytes(t, vaddr, size, mmu_idx, TLB_WRITE, bytes);
}

/* --- Code --- */

bool tlb_translate_code(CpuTlb *t, uint64_t vaddr, unsigned mmu_idx, uint64_t *paddr,
                        const uint8_t **host, uint64_t *page_left)
{
    if (!check_args(t, vaddr, 1, mmu_idx, 0, TLB_EXEC)) {
        return false;
    }
    int64_t slot = tlb_lookup(t, vaddr, TLB_EXEC, mmu_idx, 1, true);
    if (slot < 0) {
        return false;
    }
    TlbEntry *e = &t->fast.tables[mmu_idx].entries[slot];
    const TlbFullEntry *full = &t->idx[mmu_idx].full[slot];
    *paddr = full->paddr + (vaddr & ~t->fast.page_mask);
    *page_left = page_size(t) - (vaddr & ~t->fast.page_mask);
    *host = (e->addr_code & TLB_FLAG_IO) ? NULL : (const uint8_t *)(uintptr_t)(vaddr + e->addend);
    return true;
}

bool tlb_fetch_bytes(CpuTlb *t, uint64_t vaddr, unsigned mmu_idx, void *buf, unsigned len)
{
    uint8_t *out = buf;
    while (len) {
        uint64_t paddr, left;
        const uint8_t *host;
        if (!tlb_translate_code(t, vaddr, mmu_idx, &paddr, &host, &left)) {
            return false;
        }
        unsigned n = left < len ? (unsigned)left : len;
        if (host) {
            memcpy(out, host, n);
        } else {
            const TlbFullEntry *full = tlb_peek_full(t, mmu_idx, vaddr);
            MemResult r = as_read(space_for(t, mmu_idx)->as, paddr, full->attrs, out, n);
            if (r != MEM_OK && !bus_error(t, vaddr, paddr, TLB_EXEC, mmu_idx, n, r)) {
                return false;
            }
        }
        out += n;
        vaddr += n;
        len -= n;
    }
    return true;
}

bool tlb_probe(CpuTlb *t, uint64_t vaddr, TlbAccess access, unsigned mmu_idx, uint64_t *paddr)
{
    TlbTranslation tr = { .page_size = page_size(t) };
    TlbFault fault = { .vaddr = vaddr, .access = access, .mmu_idx = mmu_idx };
    if (mmu_idx >= t->nb_mmu_idx || !t->ops->page_walk(t->cpu, vaddr, access, mmu_idx, &tr, &fault)) {
        return false;
    }
    *paddr = tr.paddr;
    return true;
}

/* --- Flushes --- */

static void flush_indexes(CpuTlb *t, uint16_t idxmask, bool as_full_flush)
{
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        if (idxmask & (1u << i)) {
            flush_index(t, i);
            if (as_full_flush) {
                t->fast.tables[i].stats.flush_all++;
            } else {
                t->fast.tables[i].stats.flush_mmuidx++;
            }
        }
    }
}

void tlb_flush_by_mmuidx(CpuTlb *t, uint16_t idxmask)
{
    flush_indexes(t, idxmask, idxmask == TLB_ALL_MMUIDX);
}

void tlb_flush(CpuTlb *t)
{
    tlb_flush_by_mmuidx(t, TLB_ALL_MMUIDX);
}

void tlb_flush_nonglobal_by_mmuidx(CpuTlb *t, uint16_t idxmask)
{
    t->fast.epoch++;
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        if (!(idxmask & (1u << i))) {
            continue;
        }
        IndexState *st = &t->idx[i];
        TlbTable *tb = &t->fast.tables[i];
        uint64_t n = tb->mask + 1;
        for (uint64_t k = 0; k < n; k++) {
            if (entry_valid(&tb->entries[k]) && !st->full[k].global) {
                memset(&tb->entries[k], 0xff, sizeof(TlbEntry));
            }
        }
        for (unsigned v = 0; v < t->victim_size; v++) {
            if (st->victim_page[v] != TLB_EMPTY && !st->victim[v].full.global) {
                victim_kill(st, v);
            }
        }
        /* The large-page bounds stay: a superset of what remains is still
         * correct for page flushes (they flush the whole index there). */
        tb->stats.flush_mmuidx++;
    }
}

static void invalidate_page_in(CpuTlb *t, unsigned i, uint64_t vpage)
{
    t->fast.epoch++;
    TlbTable *tb = &t->fast.tables[i];
    TlbEntry *e = &tb->entries[(vpage >> t->fast.page_bits) & tb->mask];
    if (tag_matches(t, e->addr_read, vpage) || tag_matches(t, e->addr_write, vpage) ||
        tag_matches(t, e->addr_code, vpage)) {
        memset(e, 0xff, sizeof(*e));
    }
    for (unsigned v = 0; v < t->victim_size; v++) {
        if (t->idx[i].victim_page[v] == vpage) {
            victim_kill(&t->idx[i], v);
        }
    }
}

void tlb_flush_page_by_mmuidx(CpuTlb *t, uint64_t vaddr, uint16_t idxmask)
{
    uint64_t vpage = page_of(t, vaddr);
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        if (!(idxmask & (1u << i))) {
            continue;
        }
        IndexState *st = &t->idx[i];
        t->fast.tables[i].stats.flush_page++;
        if (st->large_mask && (vaddr & st->large_mask) == st->large_addr) {
            /* Inside a large page: its small-page entries are scattered
             * over the table, so the whole index goes. */
            flush_index(t, i);
        } else {
            invalidate_page_in(t, i, vpage);
        }
    }
}

void tlb_flush_page(CpuTlb *t, uint64_t vaddr)
{
    tlb_flush_page_by_mmuidx(t, vaddr, TLB_ALL_MMUIDX);
}

void tlb_flush_range_by_mmuidx(CpuTlb *t, uint64_t vaddr, uint64_t len, uint16_t idxmask)
{
    if (len == 0) {
        return;
    }
    uint64_t first = page_of(t, vaddr);
    uint64_t last = page_of(t, vaddr + (len - 1) < vaddr ? UINT64_MAX : vaddr + (len - 1));
    uint64_t npages = ((last - first) >> t->fast.page_bits) + 1;
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        if (!(idxmask & (1u << i))) {
            continue;
        }
        IndexState *st = &t->idx[i];
        TlbTable *tb = &t->fast.tables[i];
        tb->stats.flush_range++;
        bool hits_large = st->large_mask &&
                          first <= (st->large_addr | ~st->large_mask) && st->large_addr <= last;
        if (hits_large || npages > tb->mask + 1) {
            flush_index(t, i);
            continue;
        }
        for (uint64_t p = 0; p < npages; p++) {
            invalidate_page_in(t, i, first + (p << t->fast.page_bits));
        }
    }
}

/* --- Cross-CPU requests --- */

static void perform(CpuTlb *t, const TlbRequest *r)
{
    switch (r->kind) {
    case TLB_REQ_FLUSH_ALL: tlb_flush(t); break;
    case TLB_REQ_FLUSH_MMUIDX: tlb_flush_by_mmuidx(t, r->idxmask); break;
    case TLB_REQ_FLUSH_PAGE: tlb_flush_page_by_mmuidx(t, r->vaddr, r->idxmask); break;
    case TLB_REQ_FLUSH_RANGE: tlb_flush_range_by_mmuidx(t, r->vaddr, r->len, r->idxmask); break;
    case TLB_REQ_FLUSH_NONGLOBAL: tlb_flush_nonglobal_by_mmuidx(t, r->idxmask); break;
    }
    t->fast.tables[0].stats.flush_requests++;
}

/* Queue a request; returns its ticket (taken under the lock). */
static uint64_t request_ticket(CpuTlb *target, const TlbRequest *req)
{
    g_mutex_lock(&target->req_lock);
    g_array_append_val(target->requests, *req);
    uint64_t ticket = ++target->req_queued;
    g_atomic_int_set(&target->pending, 1);
    g_mutex_unlock(&target->req_lock);
    return ticket;
}

void tlb_request(CpuTlb *target, const TlbRequest *req)
{
    request_ticket(target, req);
}

bool tlb_has_requests(CpuTlb *t)
{
    return g_atomic_int_get(&t->pending) != 0;
}

void tlb_process_requests(CpuTlb *t)
{
    if (!tlb_has_requests(t)) {
        return;
    }
    g_mutex_lock(&t->req_lock);
    while (t->requests->len) {
        TlbRequest r = g_array_index(t->requests, TlbRequest, 0);
        g_array_remove_index(t->requests, 0);
        g_mutex_unlock(&t->req_lock);
        perform(t, &r);
        g_mutex_lock(&t->req_lock);
        t->req_done++;
    }
    g_atomic_int_set(&t->pending, 0);
    g_cond_broadcast(&t->req_cond);
    g_mutex_unlock(&t->req_lock);
}

void tlb_request_sync(CpuTlb **tlbs, unsigned n, const TlbRequest *req)
{
    uint64_t *tickets = g_new(uint64_t, n);
    for (unsigned i = 0; i < n; i++) {
        tickets[i] = request_ticket(tlbs[i], req);
    }
    for (unsigned i = 0; i < n; i++) {
        CpuTlb *t = tlbs[i];
        if (!t->threaded) {
            tlb_process_requests(t); /* not running: safe to do it for it */
            continue;
        }
        g_mutex_lock(&t->req_lock);
        while (t->req_done < tickets[i]) {
            g_cond_wait(&t->req_cond, &t->req_lock);
        }
        g_mutex_unlock(&t->req_lock);
    }
    g_free(tickets);
}

void tlb_set_threaded(CpuTlb *t, bool threaded)
{
    t->threaded = threaded;
}

/* --- Dirty and code tracking --- */

void tlb_set_code_write_hook(CpuTlb *t, TlbCodeWriteFn fn, void *opaque)
{
    t->code_hook = fn;
    t->code_opaque = opaque;
}

void tlb_reset_dirty(MemRegion *mr, uint64_t offset, uint64_t len)
{
    uint8_t *base = mr_ram_ptr(mr);
    if (!base || !all_tlbs || len == 0) {
        return;
    }
    uintptr_t lo = (uintptr_t)base + offset, hi = lo + (len - 1);
    for (guint k = 0; k < all_tlbs->len; k++) {
        CpuTlb *t = g_ptr_array_index(all_tlbs, k);
        uint64_t psz = page_size(t);
        for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
            TlbTable *tb = &t->fast.tables[i];
            for (unsigned v = 0; v <= tb->mask + t->victim_size; v++) {
                TlbEntry *e = v <= tb->mask ? &tb->entries[v] : &t->idx[i].victim[v - tb->mask - 1].e;
                if (e->addr_write == TLB_EMPTY || (e->addr_write & TLB_FLAG_IO)) {
                    continue;
                }
                uintptr_t host = (uintptr_t)(e->addr_write & t->fast.page_mask) + e->addend;
                if (host <= hi && lo <= host + (psz - 1)) {
                    e->addr_write |= TLB_FLAG_NOTDIRTY;
                }
            }
        }
    }
}

void tlb_protect_code(AddressSpace *as, uint64_t paddr)
{
    Dispatch *d = as_dispatch(as);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, paddr, NULL));
    if (!s->mr || !mr_ram_ptr(s->mr)) {
        return; /* code in MMIO is re-fetched, never cached against writes */
    }
    MemRegion *mr = s->mr;
    uint64_t off = s->offset_in_region + (paddr - s->start);
    if (!(mr_dirty_log_mask(mr) & (1u << MEM_CLIENT_CODE))) {
        /* First code on this region: start with "no code anywhere". */
        mr_set_dirty_log(mr, MEM_CLIENT_CODE, true, NULL);
        mr_set_dirty_client(mr, 0, mr_size(mr), MEM_CLIENT_CODE);
    }
    uint64_t page = off & ~(uint64_t)(MEM_DIRTY_PAGE_SIZE - 1);
    mr_reset_dirty(mr, page, MEM_DIRTY_PAGE_SIZE, MEM_CLIENT_CODE);
    tlb_reset_dirty(mr, page, MEM_DIRTY_PAGE_SIZE);
}

/* --- Watchpoints --- */

int tlb_watchpoint_insert(CpuTlb *t, uint64_t vaddr, uint64_t len, unsigned kind, TlbWatchFn fn,
                          void *opaque)
{
    if (len == 0 || !fn || !(kind & TLB_WP_ACCESS) || vaddr + (len - 1) < vaddr) {
        return -1;
    }
    Watchpoint w = { ++t->next_wp_id, vaddr, len, kind, fn, opaque };
    g_array_append_val(t->watchpoints, w);
    tlb_flush_range_by_mmuidx(t, vaddr, len, TLB_ALL_MMUIDX);
    return w.id;
}

bool tlb_watchpoint_remove(CpuTlb *t, int id)
{
    for (guint i = 0; i < t->watchpoints->len; i++) {
        Watchpoint *w = &g_array_index(t->watchpoints, Watchpoint, i);
        if (w->id == id) {
            uint64_t va = w->vaddr, len = w->len;
            g_array_remove_index(t->watchpoints, i);
            tlb_flush_range_by_mmuidx(t, va, len, TLB_ALL_MMUIDX);
            return true;
        }
    }
    return false;
}

/* --- Statistics and introspection --- */

void tlb_get_stats(const CpuTlb *t, unsigned mmu_idx, TlbStats *out)
{
    *out = mmu_idx < t->nb_mmu_idx ? t->fast.tables[mmu_idx].stats : (TlbStats){ 0 };
}

void tlb_reset_stats(CpuTlb *t)
{
    for (unsigned i = 0; i < TLB_MAX_MMU_IDX; i++) {
        t->fast.tables[i].stats = (TlbStats){ 0 };
    }
}

const TlbEntry *tlb_peek_entry(CpuTlb *t, unsigned mmu_idx, uint64_t vaddr)
{
    return mmu_idx < t->nb_mmu_idx ? tlb_entry(&t->fast, mmu_idx, vaddr) : NULL;
}

const TlbFullEntry *tlb_peek_full(CpuTlb *t, unsigned mmu_idx, uint64_t vaddr)
{
    if (mmu_idx >= t->nb_mmu_idx) {
        return NULL;
    }
    return &t->idx[mmu_idx].full[(vaddr >> t->fast.page_bits) & t->fast.tables[mmu_idx].mask];
}

static void dump_tag(GString *out, const char *what, uint64_t tag)
{
    if (tag == TLB_EMPTY) {
        g_string_append_printf(out, " %s:-", what);
        return;
    }
    g_string_append_printf(out, " %s%s%s%s%s", what, (tag & TLB_FLAG_IO) ? ":io" : ":ram",
                           (tag & TLB_FLAG_NOTDIRTY) ? ",notdirty" : "",
                           (tag & TLB_FLAG_WATCH) ? ",watch" : "",
                           (tag & TLB_FLAG_DISCARD) ? ",discard" : "");
}

void tlb_dump(CpuTlb *t, GString *out, bool entries)
{
    g_string_append_printf(out, "TLB: %u MMU index(es), %u-byte pages, victim %u, resize %s, "
                           "dispatch generation %" G_GUINT64_FORMAT "\n",
                           t->nb_mmu_idx, (unsigned)page_size(t), t->victim_size,
                           t->dynamic_resize ? "on" : "off", dispatch_generation(t->space[0].dispatch));
    g_string_append_printf(out, "%-4s %7s %12s %10s %10s %10s %10s %8s %8s %8s %8s %7s %6s\n",
                           "idx", "entries", "hits", "misses", "victim", "fills", "io",
                           "fl.all", "fl.page", "fl.range", "fl.idx", "resize", "grow");
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        const TlbStats *s = &t->fast.tables[i].stats;
        g_string_append_printf(out,
                               "%-4u %7u %12" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT
                               " %10" G_GUINT64_FORMAT " %10" G_GUINT64_FORMAT
                               " %10" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
                               " %8" G_GUINT64_FORMAT " %8" G_GUINT64_FORMAT
                               " %8" G_GUINT64_FORMAT " %7" G_GUINT64_FORMAT
                               " %6" G_GUINT64_FORMAT "\n",
                               i, tlb_entries(t, i), s->hits, s->misses, s->victim_hits, s->fills,
                               s->io_accesses, s->flush_all, s->flush_page, s->flush_range,
                               s->flush_mmuidx, s->resizes, s->grows);
    }
    if (!entries) {
        return;
    }
    for (unsigned i = 0; i < t->nb_mmu_idx; i++) {
        TlbTable *tb = &t->fast.tables[i];
        for (uint64_t k = 0; k <= tb->mask; k++) {
            TlbEntry *e = &tb->entries[k];
            if (!entry_valid(e)) {
                continue;
            }
            const TlbFullEntry *f = &t->idx[i].full[k];
            uint64_t tag = e->addr_read != TLB_EMPTY ? e->addr_read
                           : e->addr_write != TLB_EMPTY ? e->addr_write : e->addr_code;
            const MemSection *s = f->multi_section ? NULL : entry_section(t, i, f);
            g_string_append_printf(out, "  [%u:%4" G_GUINT64_FORMAT "] v=0x%016" G_GINT64_MODIFIER
                                   "x p=0x%016" G_GINT64_MODIFIER "x sec=%u gen=%" G_GUINT64_FORMAT
                                   " %s", i, k, tag & t->fast.page_mask, f->paddr, f->section,
                                   f->dispatch_gen,
                                   f->multi_section ? "(sub-page)" :
                                   s && s->mr ? mr_name(s->mr) : s ? "(unassigned)" : "(stale)");
            dump_tag(out, "r", e->addr_read);
            dump_tag(out, "w", e->addr_write);
            dump_tag(out, "x", e->addr_code);
            g_string_append_c(out, '\n');
        }
    }
}
