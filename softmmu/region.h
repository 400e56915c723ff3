/*
 * Memory regions: the tree a machine is built from (memory-semantics.md §1, §2).
 *
 * A region is a container, RAM, ROM, MMIO, an alias, a ROM device or (later)
 * an IOMMU. Containers hold subregions at addresses relative to themselves,
 * with a signed priority local to the siblings. Rendering the tree from a
 * root gives a flat view (flatview.h); an address space (address_space.h)
 * keeps a root's flat view and dispatch current across mutations.
 *
 * Ownership: regions are reference counted. The creator holds one reference;
 * a container holds one on each child, an alias on its target, and a flat
 * view or dispatch on every region it maps, so a region stays valid as long
 * as anything can still reach it. mr_unref() drops the creator's reference.
 *
 * Every mutation takes the region object, never an address range (L307).
 * Mutations outside a transaction (address_space.h) commit immediately.
 */
#ifndef MMUSIM_SOFTMMU_REGION_H
#define MMUSIM_SOFTMMU_REGION_H

#include "softmmu/mem_types.h"

typedef struct MemRegion MemRegion;

typedef enum MemRegionKind {
    MR_KIND_CONTAINER,
    MR_KIND_RAM,
    MR_KIND_ROM,
    MR_KIND_MMIO,
    MR_KIND_ALIAS,
    MR_KIND_ROMD,   /* ROM device: reads from RAM backing, writes to callbacks */
    MR_KIND_IOMMU,  /* translates into another address space: softmmu/iommu.h */
} MemRegionKind;

const char *mr_kind_name(MemRegionKind kind);

/* Access sizes in bytes (powers of two, 1..8); 0 means the default. */
typedef struct MemAccessLimits {
    unsigned min_access_size;  /* default 1 */
    unsigned max_access_size;  /* default 4 */
    bool unaligned;            /* accesses not aligned to their size allowed */
} MemAccessLimits;

/*
 * Device callbacks. `value` holds the access as the device sees it: for a
 * little-endian device its least significant byte is the lowest address,
 * for a big-endian device its most significant byte is. Callbacks are only
 * ever called with sizes and alignments within `impl`; the core emulates
 * everything else that `valid` accepts (§4): narrow reads widen, narrow
 * writes become read-modify-write, wide accesses split into implemented
 * units, lowest address first. Accesses outside `valid` fail with
 * MEM_ACCESS_ERROR without calling the device.
 *
 * A NULL read or write callback makes that direction fail with
 * MEM_DEVICE_ERROR.
 */
typedef struct MemRegionOps {
    MemResult (*read)(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                      MemAttrs attrs);
    MemResult (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                       MemAttrs attrs);
    MemEndian endianness;
    MemAccessLimits valid;  /* what the region accepts */
    MemAccessLimits impl;   /* what the callbacks implement */
} MemRegionOps;

/* --- Creation. `size` is in bytes, MEM_SIZE_FULL for 2^64; 0 is refused. --- */
MemRegion *mr_new_container(const char *name, uint64_t size, GError **err);
/* Zero-filled host memory owned by the region. */
MemRegion *mr_new_ram(const char *name, uint64_t size, GError **err);
/* RAM on the caller's memory, which must outlive the region. */
MemRegion *mr_new_ram_ptr(const char *name, uint64_t size, void *host, GError **err);
/* RAM that is read-only to the guest: writes are dropped with MEM_ACCESS_ERROR. */
MemRegion *mr_new_rom(const char *name, uint64_t size, GError **err);
MemRegion *mr_new_mmio(const char *name, uint64_t size, const MemRegionOps *ops,
                       void *opaque, GError **err);
/* A window [offset, offset + size) onto `target`; aliases of aliases resolve. */
MemRegion *mr_new_alias(const char *name, MemRegion *target, uint64_t offset,
                        uint64_t size, GError **err);
/* Starts in ROMD mode (reads hit RAM backing); see mr_set_romd_mode(). */
MemRegion *mr_new_romd(const char *name, uint64_t size, const MemRegionOps *ops,
                       void *opaque, GError **err);

void mr_ref(MemRegion *mr);
void mr_unref(MemRegion *mr);

/* --- Mutations (§1). Errors leave the tree unchanged. --- */

/* Add `child` at `addr` in `container`, priority 0, expecting no overlap with
 * its siblings; an overlap is allowed but reported (§2). */
bool mr_add_subregion(MemRegion *container, uint64_t addr, MemRegion *child, GError **err);
/* Add with an explicit priority: overlap intended. Higher priority hides
 * lower; at equal priority the most recently added sibling wins. */
bool mr_add_subregion_overlap(MemRegion *container, uint64_t addr, MemRegion *child,
                              int priority, GError **err);
bool mr_del_subregion(MemRegion *container, MemRegion *child, GError **err);
void mr_set_enabled(MemRegion *mr, bool enabled);
/* Move: the address within the parent. */
void mr_set_address(MemRegion *mr, uint64_t addr);
bool mr_set_alias_offset(MemRegion *alias, uint64_t offset, GError **err);
/* Read-only RAM/alias windows drop writes (MEM_ACCESS_ERROR); on MMIO the
 * flag is recorded for listeners but callbacks still see the writes. */
void mr_set_readonly(MemRegion *mr, bool readonly);
/* Containers, aliases and MMIO only: RAM backing has a fixed size. */
bool mr_set_size(MemRegion *mr, uint64_t size, GError **err);
/* ROM devices: true = reads from RAM backing, false = everything to callbacks. */
bool mr_set_romd_mode(MemRegion *mr, bool romd, GError **err);

/* --- Properties that survive unmap, remap and move (§5). --- */

/* Dirty-logging clients: one bit each in a region's log mask. */
enum { MEM_CLIENT_CODE = 0, MEM_CLIENT_DISPLAY = 1, MEM_CLIENT_MIGRATION = 2, MEM_NUM_CLIENTS = 8 };
#define MEM_DIRTY_PAGE_BITS 12
#define MEM_DIRTY_PAGE_SIZE (1u << MEM_DIRTY_PAGE_BITS)

/* RAM, ROM and ROMD only. Enabling a client starts with a clean bitmap. */
bool mr_set_dirty_log(MemRegion *mr, unsigned client, bool enable, GError **err);
unsigned mr_dirty_log_mask(const MemRegion *mr);
/* Is any dirty-page in [offset, offset+len) dirty for `client`? */
bool mr_get_dirty(const MemRegion *mr, uint64_t offset, uint64_t len, unsigned client);
/* Mark [offset, offset+len) dirty for every logging client (guest writes do this). */
void mr_set_dirty(MemRegion *mr, uint64_t offset, uint64_t len);
void mr_reset_dirty(MemRegion *mr, uint64_t offset, uint64_t len, unsigned client);
/* Mark [offset, offset+len) dirty for one logging client only. */
void mr_set_dirty_client(MemRegion *mr, uint64_t offset, uint64_t len, unsigned client);
/* Is the page at `offset` dirty for every logging client? (A store there
 * then needs no bookkeeping: the TLB's fast path may take it.) */
bool mr_page_all_dirty(const MemRegion *mr, uint64_t offset);

/*
 * Code-write notification. Decoded-code caches key pages by (region,
 * offset): unique even where CPUs see different things at one physical
 * address. A write to a RAM page whose MEM_CLIENT_CODE bit is clean (code
 * is cached there) calls the handler before the bytes change, whoever
 * writes: a CPU store through the TLB, a DMA transfer, a page-walk A/D
 * update. mr_note_write() is the single place that does it.
 */
typedef void (*MemCodeWriteFn)(void *opaque, MemRegion *mr, uint64_t offset, uint64_t len);
/* Code caches register while alive; every one hears of every write to a
 * page with cached code (at most MEM_MAX_CODE_WRITE_HANDLERS at once: false
 * and reported beyond that). */
#define MEM_MAX_CODE_WRITE_HANDLERS 8
bool mem_add_code_write_handler(MemCodeWriteFn fn, void *opaque);
void mem_remove_code_write_handler(MemCodeWriteFn fn, void *opaque);
/* A write of [offset, offset+len) to a RAM-backed region is about to land:
 * notify code caches if needed, then mark the range dirty for every client. */
void mr_note_write(MemRegion *mr, uint64_t offset, uint64_t len);

/* Coalesced-MMIO ranges, relative to an MMIO region: writes there may be
 * batched by an accelerator. Reported to listeners at their absolute
 * addresses wherever the region is mapped. The TCG-style dispatch here
 * performs them immediately, as QEMU's TCG does. */
bool mr_add_coalescing(MemRegion *mr, uint64_t offset, uint64_t size, GError **err);
void mr_clear_coalescing(MemRegion *mr);
guint mr_num_coalescing(const MemRegion *mr);
void mr_get_coalescing(const MemRegion *mr, guint i, uint64_t *offset, uint64_t *size);

/* --- Introspection. --- */
const char *mr_name(const MemRegion *mr);
MemRegionKind mr_kind(const MemRegion *mr);
uint64_t mr_size(const MemRegion *mr);   /* MEM_SIZE_FULL for 2^64 */
uint64_t mr_last(const MemRegion *mr);   /* size - 1, computed without overflow */
uint64_t mr_addr(const MemRegion *mr);
int mr_priority(const MemRegion *mr);
bool mr_enabled(const MemRegion *mr);
bool mr_readonly(const MemRegion *mr);
bool mr_romd_mode(const MemRegion *mr);
MemRegion *mr_parent(const MemRegion *mr);
MemRegion *mr_alias_target(const MemRegion *mr);
uint64_t mr_alias_offset(const MemRegion *mr);
/* Children in render order: highest priority first; among equals, newest first. */
guint mr_num_children(const MemRegion *mr);
MemRegion *mr_child(const MemRegion *mr, guint i);
/* Host pointer to the backing of RAM, ROM and ROMD regions, else NULL. */
void *mr_ram_ptr(const MemRegion *mr);
const MemRegionOps *mr_ops(const MemRegion *mr);
void *mr_opaque(const MemRegion *mr);

/* Report every pair of enabled siblings of `container` that overlap at equal
 * priority (the later-added one wins). Returns how many pairs were found;
 * each is also passed to mem_report(). */
guint mr_check_overlaps(MemRegion *container);

#endif
