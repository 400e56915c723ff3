/*
 * Private to softmmu/: the region structure and the hooks between the
 * region tree (region.c), rendering (render.c) and address spaces
 * (address_space.c). Nothing outside softmmu/ includes this.
 */
#ifndef MMUSIM_SOFTMMU_REGION_INTERNAL_H
#define MMUSIM_SOFTMMU_REGION_INTERNAL_H

#include "softmmu/address_space.h"

typedef struct CoalescedRange {
    uint64_t offset;
    uint64_t size;
} CoalescedRange;

struct MemRegion {
    char *name;
    MemRegionKind kind;
    int refcount;

    /* Geometry. `last` is size - 1 so that 2^64 fits (size == MEM_SIZE_FULL). */
    uint64_t last;
    uint64_t addr;      /* within the parent */
    int priority;
    bool enabled;
    bool readonly;
    bool romd_mode;
    bool may_overlap;   /* added with an explicit priority */

    MemRegion *parent;
    GPtrArray *children;     /* MemRegion*, render order: prio desc, newest first */
    uint64_t add_seq;        /* when it was added, for newest-first ordering */

    MemRegion *alias;        /* target of an alias */
    uint64_t alias_offset;
    GPtrArray *alias_users;  /* aliases whose target is this region (not owning) */

    /* RAM backing (RAM, ROM, ROMD). */
    uint8_t *ram;
    bool ram_owned;
    uint64_t ram_mapped;     /* owned RAM from mmap (its length), or 0: from g_malloc */
    uint8_t dirty_log_mask;
    uint8_t *dirty;          /* one byte per dirty page: a bit per client */

    const MemRegionOps *ops;
    void *opaque;
    GArray *coalesced;       /* CoalescedRange */

    bool reported_rom_write; /* report a dropped ROM write once per region */

    /* IOMMU regions (iommu.c): the model's ops (opaque above), notifiers. */
    const struct MemIommuOps *iommu_ops;
    GArray *iommu_notifiers;  /* IommuNotifier (iommu.c) */
    bool reported_iommu;      /* report a bad entry / too deep nesting once */

    /* Change tracking (address_space.c). */
    bool dirty_render;       /* changed since the last commit */
    struct RenderCache *cache; /* this region rendered as a root, while spaces use it */
    unsigned cache_users;      /* address spaces whose root or shared base this is */
    /* Top-level regions only (no parent): what changed since the last commit,
     * for windowed re-rendering. `pending_windows` holds [lo, hi] pairs in
     * this region's coordinates; `pending_full` means "re-render all" (a
     * change reached this tree through an alias, or the top itself changed). */
    GArray *pending_windows;
    bool pending_full;
};

/* address_space.c: a region changed in a way that can change renderings. */
void mem_mark_changed(MemRegion *mr);
/* address_space.c: record where `mr` currently lies (in its top-level
 * region's coordinates) as a window to re-render. Mutations call it before
 * and after changing a region, so the old and the new place are both
 * covered. */
void mem_note_extent(MemRegion *mr);
/* address_space.c: tell listeners about a coalesced range added or removed
 * on a region that may already be mapped. */
void mem_coalescing_changed(MemRegion *mr, const CoalescedRange *cr, bool added);
/* address_space.c: a region is going away; drop whatever it caches. */
void mem_region_finalize_cache(MemRegion *mr);

/* region.c */
bool mr_is_leaf(const MemRegion *mr);

/* mmio_access.c: device access with valid/impl emulation (§4). `bytes`
 * holds the access in memory order; endianness already resolved. */
MemResult mmio_access(MemRegion *mr, uint64_t offset, uint8_t *bytes, unsigned size,
                      MemAttrs attrs, bool is_write, bool big_endian);
/* A buffer access to MMIO: split into pieces the region accepts. */
MemResult mmio_access_buffer(MemRegion *mr, uint64_t offset, uint8_t *buf, uint64_t len,
                             MemAttrs attrs, bool is_write, bool big_endian);
bool mr_ops_big_endian(const MemRegion *mr, MemEndian target);

/* iommu.c: an access that landed in IOMMU region `mr` at `offset`, coming
 * from `as`. `value`: one value access (forward as one access of `len`
 * bytes where the translation allows). */
MemResult iommu_access(AddressSpace *as, MemRegion *mr, uint64_t offset, MemAttrs attrs,
                       uint8_t *buf, uint64_t len, bool is_write, bool value);
/* address_space.c: the byte unassigned reads of `as` return. */
uint8_t as_fill_byte(const AddressSpace *as);
/* iommu.c: a region is going away. */
void iommu_finalize(MemRegion *mr);

/* render.c */
FlatView *flatview_new_from_ranges(GArray *ranges /* FlatRange, sorted, disjoint */);
/* Render only the children of `root` other than `skip` (a layered space's overlays). */
FlatView *flatview_render_excluding(MemRegion *root, MemRegion *skip);
/* Re-render `root` only inside `windows` (sorted, disjoint [lo, hi] pairs),
 * keeping `old`'s ranges everywhere else. Equal to flatview_render(root)
 * when every change since `old` lies inside the windows. */
FlatView *flatview_render_windows(MemRegion *root, const FlatView *old, const GArray *windows);
/* Compose base and overlay views (overlay wins). */
FlatView *flatview_compose(const FlatView *base, const FlatView *overlay);

#endif
