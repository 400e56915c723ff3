/*
 * IOMMU regions (memory-semantics.md §1, §6).
 *
 * An IOMMU region is a leaf of the region tree (it renders like MMIO) whose
 * accesses are not served by the region itself: the model's translate
 * callback turns each (offset, direction, attributes) into a target address
 * space, an address there, the extent of the translation and permissions,
 * or refuses. The core then performs the access in the target space at the
 * translated address. The target space may itself route the access through
 * IOMMU regions: nested IOMMUs resolve in order, outermost first.
 *
 * Semantics of an access that lands in an IOMMU section (address_space.c
 * hands it to iommu.c):
 *   - `addr` passed to translate is the offset of the access in the IOMMU
 *     region (not the address in the space it is mapped in).
 *   - An entry covers [addr & ~addr_mask, addr | addr_mask]; addr_mask must
 *     be of the form 2^k - 1 (0xfff for a 4 KiB page, UINT64_MAX for
 *     everything). The access goes to
 *     (translated_addr & ~addr_mask) | (addr & addr_mask) in `target`.
 *     An access that crosses the end of an entry is split there and the
 *     rest translated again, lowest address first; each piece goes to its
 *     own target. A piece that stays within one entry is forwarded as one
 *     access: a value access (as_read_val, CPU loads/stores) stays one value
 *     access of its size, so an MMIO device behind the IOMMU sees it whole.
 *   - Permissions: a read needs MEM_IOMMU_RO, a write MEM_IOMMU_WO.
 *     Denied: MEM_ACCESS_ERROR (as for other permission failures, e.g. a
 *     ROM write); the target is not touched.
 *   - translate returns false (no translation: an IOMMU page fault):
 *     MEM_DECODE_ERROR, as if nothing were mapped there. The failure
 *     covers [addr & ~addr_mask, addr | addr_mask] where addr_mask is
 *     whatever the callback left in `out` (it is preset to 0xfff, so by
 *     default one 4 KiB page); the rest of the access is translated anew.
 *   - An entry with a NULL target or a malformed mask is reported (once per
 *     region) and treated as a failed translation.
 *   - Failed parts of reads are filled with the fill byte of the space the
 *     access came into (all-ones by default); failed parts of writes are
 *     dropped. As for any access, the other parts are still performed and
 *     the result is the first non-OK result.
 *   - Nesting depth: at most MEM_IOMMU_MAX_DEPTH IOMMU translations may be
 *     in progress on one thread at once (an access through A whose target
 *     holds B counts 2). Beyond that the access fails with MEM_DECODE_ERROR
 *     and the region is reported (once per region), so a translation loop
 *     (an IOMMU whose target space routes back into it) ends cleanly.
 *   - The section's read-only flag (a read-only alias over the IOMMU) is
 *     ignored, as for MMIO: permissions come from the IOMMU's entries.
 *   - Attributes (requester, secure, ...) are passed through unchanged to
 *     translate and to the target.
 *
 * Caching and invalidation. The memory core never caches a translation:
 * every access through an IOMMU section calls translate. In particular a
 * CPU TLB page that lies on an IOMMU section is an I/O page (TLB_FLAG_IO,
 * no host pointer, no direct device call) and every load/store on it goes
 * through section_read_val/section_write_val and so through translate: a
 * changed table is seen by the next access, and there is no TLB entry
 * that holds a stale translation to drop. Whoever does cache translations
 * (DMA map/unmap, device-side IOTLBs, a future TLB fast path for IOMMU
 * pages) registers a notifier and drops what it cached when called.
 * The model calls mr_iommu_invalidate() whenever an entry it handed out
 * may have changed or gone.
 */
#ifndef MMUSIM_SOFTMMU_IOMMU_H
#define MMUSIM_SOFTMMU_IOMMU_H

#include "softmmu/address_space.h"

/* Permissions of a translation. */
enum { MEM_IOMMU_NONE = 0, MEM_IOMMU_RO = 1, MEM_IOMMU_WO = 2, MEM_IOMMU_RW = 3 };

/* Nested translations in progress at once on one thread (see above). */
#define MEM_IOMMU_MAX_DEPTH 8

typedef struct MemIommuEntry {
    AddressSpace *target;      /* where the access continues */
    uint64_t translated_addr;  /* address in target of addr & ~addr_mask */
    uint64_t addr_mask;        /* 2^k - 1: the entry covers [addr & ~mask, addr | mask] */
    unsigned perm;             /* MEM_IOMMU_* */
} MemIommuEntry;

typedef struct MemIommuOps {
    /* Translate the access at `addr` (offset in the IOMMU region). True: *out
     * filled. False: no translation (the access fails with MEM_DECODE_ERROR);
     * out->addr_mask may say how far the hole extends (preset to 0xfff).
     * Called for every access; must not change the region tree. */
    bool (*translate)(void *opaque, uint64_t addr, bool is_write, MemAttrs attrs,
                      MemIommuEntry *out);
} MemIommuOps;

/* An IOMMU region of `size` bytes (MEM_SIZE_FULL for 2^64). `ops` (with a
 * translate callback) and `opaque` must outlive the region. */
MemRegion *mr_new_iommu(const char *name, uint64_t size, const MemIommuOps *ops, void *opaque,
                        GError **err);

/* The translation of one address, exactly as an access would see it (for
 * DMA helpers that map memory). False if the region is not an IOMMU, the
 * model refuses, or the entry is malformed. Nested IOMMUs in the target are
 * not resolved: out->target is this IOMMU's target. */
bool mr_iommu_translate(MemRegion *iommu, uint64_t addr, bool is_write, MemAttrs attrs,
                        MemIommuEntry *out);

/* Invalidation notifiers: called with the invalidated range, [addr & ~mask,
 * addr | mask] in the IOMMU region's offsets. A notifier may remove itself
 * or others during the call; ones added during a call are called from the
 * next invalidation on. Adding the same (fn, opaque) twice registers it
 * twice; removing removes one registration. Non-IOMMU regions are ignored. */
typedef void (*MemIommuNotify)(void *opaque, MemRegion *iommu, uint64_t addr, uint64_t mask);
void mr_iommu_add_notifier(MemRegion *iommu, MemIommuNotify fn, void *opaque);
void mr_iommu_remove_notifier(MemRegion *iommu, MemIommuNotify fn, void *opaque);
guint mr_iommu_num_notifiers(const MemRegion *iommu);

/* The IOMMU model calls this when a translation it gave out may have
 * changed: every notifier is called, in registration order. CPU TLB
 * entries never hold an IOMMU translation (see above), so nothing in a TLB
 * needs dropping; the next CPU access translates again. */
void mr_iommu_invalidate(MemRegion *iommu, uint64_t addr, uint64_t mask);

#endif
