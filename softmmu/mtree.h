/*
 * Introspection of region trees, flat views and address resolution
 * (`mmusim mtree`, `mmusim explain`).
 *
 * Everything here uses only the public API of the memory core and never
 * changes anything: it reads the trees and the current renderings.
 *
 * Line formats (addresses are 16 hex digits, ranges inclusive):
 *
 *   tree:  "  <start>-<last> (prio <p>, <kind>): <name>[ @<target> <tstart>-<tlast>][ flags]"
 *          absolute addresses in the address space (base + mr_addr, clipped to
 *          the parent so nothing wraps); children indented two spaces more,
 *          in render order (mr_child order). Flags: [disabled], [ro],
 *          [romd mode] / [mmio mode] for ROM devices, [outside parent] for a
 *          child its parent clips away entirely.
 *   flat:  "  <start>-<last> (prio <p>, <kind>): <name> @<offset>[ [ro]][ [mmio mode]]"
 *
 * Kinds print as: container, ram, rom, mmio, alias, romd, iommu.
 */
#ifndef MMUSIM_SOFTMMU_MTREE_H
#define MMUSIM_SOFTMMU_MTREE_H

#include "softmmu/address_space.h"

/* The region tree of one address space, then each region that an alias in it
 * targets ("memory-region: <name>" and its own subtree), once each. */
void mtree_print(GString *out, AddressSpace *as);

/* The trees of several address spaces, then the alias targets of all of them
 * once each (so the global map behind every CPU's alias is printed once). */
void mtree_print_spaces(GString *out, AddressSpace **spaces, guint n);

/* The flat view of each address space. Spaces that layer on the same shared
 * rendering (as_shared_base()) are grouped: the shared view is printed once,
 * then each space's overlay ranges. */
void mtree_print_flat(GString *out, AddressSpace **spaces, guint n);

/*
 * Explain which region serves `addr` for `as`: the dispatch's answer (section
 * index, dispatch generation, region, kind, offset), the path from the root
 * to that leaf found by an independent walk of the region tree in render
 * order, every other enabled leaf that covers `addr` but is hidden there
 * (and what hides it), and disabled regions covering `addr`.
 *
 * Returns true if the tree walk and the dispatch agree (region and offset);
 * false, with a "MISMATCH" line in `out`, if they do not (a core bug).
 */
bool mem_explain(GString *out, AddressSpace *as, uint64_t addr);

/*
 * The tree walk mem_explain() uses, on its own: the leaf region that
 * rendering `root` puts at `addr` (children in render order, containers
 * transparent where no child covers, aliases redirected, everything clipped
 * to its parent, disabled regions skipped), or NULL if nothing covers it.
 * *offset (if not NULL) receives the offset of `addr` in that leaf.
 */
MemRegion *mtree_resolve(MemRegion *root, uint64_t addr, uint64_t *offset);

#endif
