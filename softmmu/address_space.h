/*
 * Address spaces: a root region kept rendered, and the accesses through it.
 *
 * An address space owns the current flat view and dispatch of its root.
 * Mutations mark the regions they touch, and everything above them, dirty;
 * the outermost transaction commit re-renders only the address spaces whose
 * root became dirty, and each distinct root at most once, then tells the
 * listeners the minimal difference.
 *
 * Sharing (§3): when a root's lowest-priority child is an alias of a whole
 * region at address 0 (as a CPU root's alias of the global machine map is),
 * that region is rendered once, for every address space that shows it, and
 * each address space adds only its own overlays on top (a layered dispatch).
 * The result is exactly what rendering the root from scratch would give.
 */
#ifndef MMUSIM_SOFTMMU_ADDRESS_SPACE_H
#define MMUSIM_SOFTMMU_ADDRESS_SPACE_H

#include "softmmu/dispatch.h"

typedef struct AddressSpace AddressSpace;

/* --- Transactions: nestable; the outermost commit renders. --- */
void mem_transaction_begin(void);
void mem_transaction_commit(void);
unsigned mem_transaction_depth(void);
/* Statistics for tests and benchmarks. */
typedef struct MemRenderStats {
    uint64_t commits;          /* outermost commits that had work to do */
    uint64_t full_renders;     /* region trees rendered (shared roots count once) */
    uint64_t window_renders;   /* ... of which re-rendered only where they changed */
    uint64_t overlay_renders;  /* per-address-space overlay renders */
    uint64_t dispatch_builds;  /* dispatches (full or layered) built */
} MemRenderStats;
void mem_render_stats(MemRenderStats *out);

/* --- Address spaces. --- */
AddressSpace *as_new(const char *name, MemRegion *root, GError **err);
void as_free(AddressSpace *as);
const char *as_name(const AddressSpace *as);
MemRegion *as_root(const AddressSpace *as);

/* Byte returned for each byte of an unassigned read: 0xff (the default, as
 * on x86 PCs) or whatever the machine says (e.g. 0). */
void as_set_unassigned_fill(AddressSpace *as, uint8_t fill);
/* How MEM_TARGET_ENDIAN devices are resolved for accesses through this space. */
void as_set_target_endian(AddressSpace *as, MemEndian endian);
MemEndian as_target_endian(const AddressSpace *as);

/* The current dispatch (borrowed: dispatch_ref() it to keep it). */
Dispatch *as_dispatch(const AddressSpace *as);
/* The current flat view, composed from base and overlays if layered
 * (borrowed; built on demand and cached until the next change). */
FlatView *as_flatview(AddressSpace *as);
/* The region whose shared rendering this space layers on, or NULL. */
MemRegion *as_shared_base(const AddressSpace *as);

/* Every live address space, in creation order. */
guint as_count(void);
AddressSpace *as_nth(guint i);

/* --- Accesses (§4). Never crash on any address or size. ---
 * Accesses straddling sections are split at each boundary; each part goes
 * to its own section (MMIO parts in naturally aligned power-of-two pieces).
 * The result is the first non-OK result of any part; the other parts are
 * still performed. Unassigned reads fill with the space's fill byte. */
MemResult as_read(AddressSpace *as, uint64_t addr, MemAttrs attrs, void *buf, uint64_t len);
MemResult as_write(AddressSpace *as, uint64_t addr, MemAttrs attrs, const void *buf,
                   uint64_t len);
/* 1, 2, 4 or 8-byte values in the given byte order (TARGET: the space's). */
MemResult as_read_val(AddressSpace *as, uint64_t addr, MemAttrs attrs, unsigned size,
                      MemEndian endian, uint64_t *value);
MemResult as_write_val(AddressSpace *as, uint64_t addr, MemAttrs attrs, unsigned size,
                       MemEndian endian, uint64_t value);

/*
 * Reading guest RAM by physical address, often (page walkers): a one-entry
 * cache of the RAM run of the space's current dispatch that served the
 * last miss. as_ram_read_ptr() returns a host pointer to [addr, addr+size)
 * when those bytes are RAM or ROM backing in `as` now, else NULL (use
 * as_read_val: MMIO, unassigned, IOMMU, ROM devices in MMIO mode, or a
 * range crossing the run's end). Reads only: writes must go through
 * as_write_val so dirty logging and code caches hear of them. The cache
 * is invalidated by every new dispatch (its generation is compared).
 */
typedef struct AsRamCache {
    uint64_t gen;       /* dispatch generation of the run; 0: empty */
    uint64_t start;     /* [start, last]: the run */
    uint64_t last;
    uintptr_t bias;     /* host address = bias + physical address */
} AsRamCache;

const void *as_ram_read_ptr_slow(AddressSpace *as, AsRamCache *c, uint64_t addr,
                                 unsigned size);
static inline const void *as_ram_read_ptr(AddressSpace *as, AsRamCache *c, uint64_t addr,
                                          unsigned size)
{
    if (c->gen == dispatch_generation(as_dispatch(as)) && addr >= c->start &&
        addr + size - 1 <= c->last && addr + size - 1 >= addr) {
        return (const void *)(c->bias + (uintptr_t)addr);
    }
    return as_ram_read_ptr_slow(as, c, addr, size);
}

/*
 * Section-level access, for callers that already hold a section (the TLB's
 * slow path): no lookup, no hierarchy. `addr` must lie in the section and
 * [addr, addr+len) must not leave it.
 */
MemResult section_access(AddressSpace *as, const MemSection *s, uint64_t addr, MemAttrs attrs,
                         void *buf, uint64_t len, bool is_write);
/* One value access of `size` bytes within one section (a CPU load/store):
 * MMIO sees a single access of that size. [addr, addr+size) must lie in s. */
MemResult section_read_val(AddressSpace *as, const MemSection *s, uint64_t addr, MemAttrs attrs,
                           unsigned size, MemEndian endian, uint64_t *value);
MemResult section_write_val(AddressSpace *as, const MemSection *s, uint64_t addr, MemAttrs attrs,
                            unsigned size, MemEndian endian, uint64_t value);

/*
 * Dispatch-change notifiers: called after a commit installs a new dispatch
 * for `as` (old is still valid during the call). This is how TLBs learn
 * that their section indices are stale; cheaper than a listener, which
 * needs the full view. Only the spaces whose dispatch changed are called.
 */
typedef void (*AsDispatchNotify)(AddressSpace *as, Dispatch *old_d, Dispatch *new_d,
                                 void *opaque);
void as_add_dispatch_notifier(AddressSpace *as, AsDispatchNotify fn, void *opaque);
void as_remove_dispatch_notifier(AddressSpace *as, AsDispatchNotify fn, void *opaque);

/* --- Listeners (§5). --- */
typedef struct MemListener MemListener;
struct MemListener {
    /* Around every outermost commit that re-rendered anything. */
    void (*begin)(MemListener *l);
    void (*commit)(MemListener *l);
    /* The minimal difference between the old and new flat view. Ranges that
     * did not change produce no calls; a split or merge removes and adds
     * only the pieces that differ. */
    void (*region_del)(MemListener *l, const FlatRange *r);
    void (*region_add)(MemListener *l, const FlatRange *r);
    /* A range kept its place but its dirty-log mask changed. */
    void (*log_change)(MemListener *l, const FlatRange *r, unsigned old_mask,
                       unsigned new_mask);
    /* Coalesced-MMIO ranges, at absolute addresses, as ranges come and go. */
    void (*coalesced_add)(MemListener *l, const FlatRange *r, uint64_t start, uint64_t size);
    void (*coalesced_del)(MemListener *l, const FlatRange *r, uint64_t start, uint64_t size);
    void *opaque;
    /* private */
    AddressSpace *as;
};
/* Registering replays region_add for the current view. */
void as_listener_register(AddressSpace *as, MemListener *l);
void as_listener_unregister(MemListener *l);

#endif
