/*
 * Phys-section dispatch: from a physical address to a section index (§5).
 *
 * A dispatch is built from a flat view. Its section table covers the whole
 * 64-bit space in address order: every flat range is a section, and every
 * hole is an "unassigned" section (mr == NULL). A multi-level table on
 * 4 KiB pages maps an address to its section index; pages shared by several
 * sections (regions smaller than a page) go through a sub-page table.
 *
 * A layered dispatch (per-CPU views, cpu_view.h) shares the section table
 * and lookup structure of a base dispatch and adds a handful of overlay
 * sections with indices after the base's, so a CPU costs O(overlays).
 *
 * Section indices mean something only for the dispatch that produced them.
 * Each dispatch has a generation, unique and increasing across the process;
 * whoever stores an index (the TLB) stores the generation with it and never
 * decodes the index against a dispatch of another generation. Dispatches are
 * immutable and reference counted: holding a reference keeps every section
 * (and its region) valid.
 */
#ifndef MMUSIM_SOFTMMU_DISPATCH_H
#define MMUSIM_SOFTMMU_DISPATCH_H

#include "softmmu/flatview.h"

/* A section is a flat range (mr == NULL: unassigned). */
typedef FlatRange MemSection;

typedef struct Dispatch Dispatch;

#define DISPATCH_PAGE_BITS 12
#define DISPATCH_PAGE_SIZE (1ull << DISPATCH_PAGE_BITS)

/* Build a dispatch for a flat view (takes its own reference on fv). */
Dispatch *dispatch_new(FlatView *fv);
/* A dispatch whose view is `base` with `overlay` ranges on top of it. */
Dispatch *dispatch_new_layered(Dispatch *base, FlatView *overlay);
void dispatch_ref(Dispatch *d);
void dispatch_unref(Dispatch *d);

uint64_t dispatch_generation(const Dispatch *d);
uint32_t dispatch_num_sections(const Dispatch *d);
/* NULL if idx is not a section of this dispatch. */
const MemSection *dispatch_section(const Dispatch *d, uint32_t idx);
/* The base this dispatch layers on, or NULL. */
Dispatch *dispatch_base(const Dispatch *d);
/* The flat view this dispatch was built from (for a layered one, the overlay). */
FlatView *dispatch_flatview(const Dispatch *d);

/*
 * Find the section serving addr. Returns its index; *last (if not NULL)
 * receives the last address of the run starting at addr that this section
 * serves in this dispatch (for a layered dispatch, clipped where an overlay
 * starts). Never fails: holes are unassigned sections.
 */
uint32_t dispatch_lookup(const Dispatch *d, uint64_t addr, uint64_t *last);

/* Bytes of memory this dispatch owns, excluding a shared base. */
size_t dispatch_memory_size(const Dispatch *d);

#endif
