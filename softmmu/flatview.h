/*
 * Flat views: the rendering of a region tree from a root (§5).
 *
 * A flat view is a sorted list of non-overlapping ranges, each naming the
 * leaf region that serves it and the offset into that region. Adjacent
 * ranges that continue the same region with the same attributes are merged.
 * Holes (addresses nothing covers) are simply absent.
 *
 * Rendering is depth-first; within a container, higher-priority children are
 * rendered first and a leaf only fills what nothing rendered before it
 * covers, so higher priority hides lower and holes in a higher container
 * show what lies beneath. Children are clipped to their parent.
 */
#ifndef MMUSIM_SOFTMMU_FLATVIEW_H
#define MMUSIM_SOFTMMU_FLATVIEW_H

#include "softmmu/region.h"

typedef struct FlatRange {
    uint64_t start;             /* first address covered */
    uint64_t last;              /* last address covered (inclusive) */
    MemRegion *mr;              /* leaf: RAM, ROM, MMIO, ROMD (never container/alias) */
    uint64_t offset_in_region;  /* offset into mr of `start` */
    bool readonly;              /* the leaf or an alias on the path was read-only */
    bool romd_mode;             /* ROMD leaf in ROMD mode at render time */
    uint8_t dirty_log_mask;     /* the leaf's logging clients at render time */
} FlatRange;

typedef struct FlatView FlatView;

/* Render `root` from scratch (the reference the incremental paths must match). */
FlatView *flatview_render(MemRegion *root);
void flatview_ref(FlatView *fv);
void flatview_unref(FlatView *fv);

guint flatview_num_ranges(const FlatView *fv);
const FlatRange *flatview_range(const FlatView *fv, guint i);
/* The range covering addr, or NULL for a hole. O(log n). */
const FlatRange *flatview_find(const FlatView *fv, uint64_t addr);
/* Same ranges with the same attributes. */
bool flatview_equal(const FlatView *a, const FlatView *b);
bool flatrange_equal(const FlatRange *a, const FlatRange *b);

#endif
