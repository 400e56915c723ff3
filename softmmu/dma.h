/*
 * DMA helpers (memory-semantics.md §6): how a device reads and writes
 * memory through its bus's address space.
 *
 * Every access goes through the address space the device was given, so
 * bus windows (aliases) and IOMMU regions on the way apply exactly as for
 * as_read()/as_write(). Nothing here ever crashes on a guest-controlled
 * address or length: every failure is a MemResult.
 *
 * Byte buffers and values:
 *   - dma_read()/dma_write() move `len` bytes. Accesses straddling
 *     sections or IOMMU entries are split at each boundary, lowest address
 *     first; the result is the first non-OK result of any part, and the
 *     other parts are still performed (as_read()/as_write() semantics).
 *     Failed read parts are filled with the space's fill byte (all-ones by
 *     default); failed write parts are dropped.
 *   - dma_read_val()/dma_write_val() move one 1, 2, 4 or 8-byte value in
 *     the given byte order (MEM_TARGET_ENDIAN: the space's). An MMIO device
 *     sees one access of that size where its limits allow. Other sizes:
 *     MEM_ACCESS_ERROR, nothing accessed (a read returns *val = 0).
 *
 * Mappings (dma_map/dma_unmap):
 *   - dma_map() resolves [addr, addr + *len) in `as`, following IOMMU
 *     regions (through mr_iommu_translate(), nested ones in order, at most
 *     MEM_IOMMU_MAX_DEPTH deep) into their target spaces.
 *   - Direct: where the start lands in RAM (or, for reads, ROM or a ROM
 *     device in ROMD mode; a read-only RAM window is direct for reads only)
 *     the host pointer into the region's backing is returned and *len is
 *     shortened to the contiguous run of that region that starts there,
 *     clipped to the IOMMU entries on the way.
 *   - Bounce: otherwise (MMIO, ROM device in MMIO mode, writes to ROM or a
 *     read-only window) a zero-initialised buffer of at most DMA_BOUNCE_MAX
 *     bytes is returned, also shortened to the contiguous run of the
 *     section (or IOMMU entry) at the start. For a read mapping it is filled
 *     from the address space at map time (if that read fails, the map
 *     fails with its result). For a write mapping, dma_unmap() writes the
 *     first access_len bytes back through the address space, translating
 *     anew, and returns the result of that write.
 *   - Failure: NULL is returned and *len set to 0 when nothing is mapped at
 *     addr (MEM_DECODE_ERROR), an IOMMU refuses the translation
 *     (MEM_DECODE_ERROR) or denies the direction (MEM_ACCESS_ERROR), the
 *     IOMMU nesting is too deep (MEM_DECODE_ERROR) or a bounce read fails.
 *     *len == 0 on entry also returns NULL (result MEM_OK).
 *   - Every call stores a mapping in *out, failed ones included:
 *     dma_mapping_result() tells why it failed, and each mapping is released
 *     by exactly one dma_unmap() (dma_unmap(NULL, n) does nothing).
 *   - dma_unmap(m, access_len): access_len (clipped to the mapped length)
 *     is how many bytes from the start the device actually wrote. For a
 *     direct write mapping, mr_note_write() is called on exactly that range
 *     (dirty logging and code invalidation; code caches hear of the write at
 *     unmap time); for a bounce write mapping those bytes are written back.
 *     Read mappings ignore access_len.
 *
 * Revocation (direct mappings only; a bounce buffer is a private copy and
 * needs none):
 *   - The mapping watches every address space on its path
 *     (as_add_dispatch_notifier) and every IOMMU region on it
 *     (mr_iommu_add_notifier). When a new dispatch no longer maps the
 *     mapped range of that space to the same region at the same offset
 *     (with the same read-only flag), or an invalidation of an IOMMU on the
 *     path overlaps the range translated through it, the mapping is revoked:
 *     its revoke callback (if any) is called exactly once. The device must
 *     then stop using the pointer and dma_unmap() the mapping.
 *   - The revoke callback runs inside the commit that changed the map (or
 *     inside mr_iommu_invalidate()): it must not change the region tree and
 *     must not call dma_unmap(); it records the revocation, and the device
 *     unmaps afterwards. (A dma_unmap() from inside the callback is reported
 *     and ignored.)
 *   - The mapped region stays referenced (mr_ref) until dma_unmap(), so the
 *     pointer stays valid memory after revocation, even if the region was
 *     removed from the tree and its creator dropped it. Unmapping a revoked
 *     mapping behaves as any other unmap (a write still marks the pages
 *     dirty in the region that was written).
 *   - Every address space on a mapping's path must outlive the mapping
 *     (unmap before as_free()).
 */
#ifndef MMUSIM_SOFTMMU_DMA_H
#define MMUSIM_SOFTMMU_DMA_H

#include "softmmu/address_space.h"

/* Largest bounce buffer one mapping gets. */
#define DMA_BOUNCE_MAX 0x10000ull

MemResult dma_read(AddressSpace *as, uint64_t addr, void *buf, uint64_t len, MemAttrs attrs);
MemResult dma_write(AddressSpace *as, uint64_t addr, const void *buf, uint64_t len,
                    MemAttrs attrs);

/* One value of `size` (1, 2, 4 or 8) bytes in byte order `endian`. */
MemResult dma_read_val(AddressSpace *as, uint64_t addr, unsigned size, MemEndian endian,
                       MemAttrs attrs, uint64_t *val);
MemResult dma_write_val(AddressSpace *as, uint64_t addr, unsigned size, MemEndian endian,
                        MemAttrs attrs, uint64_t val);

typedef struct DmaMapping DmaMapping;
/* Called once when a direct mapping may no longer reflect the memory map. */
typedef void (*DmaRevokeFn)(DmaMapping *m, void *opaque);

void *dma_map(AddressSpace *as, uint64_t addr, uint64_t *len, bool is_write, MemAttrs attrs,
              DmaRevokeFn revoke, void *opaque, DmaMapping **out);
/* Returns the result of a bounce write-back, else MEM_OK. */
MemResult dma_unmap(DmaMapping *m, uint64_t access_len);

/* --- Introspection of a mapping (until its dma_unmap()). --- */
MemResult dma_mapping_result(const DmaMapping *m);  /* why dma_map returned NULL, else MEM_OK */
bool dma_mapping_is_direct(const DmaMapping *m);    /* host pointer into a region */
bool dma_mapping_revoked(const DmaMapping *m);
uint64_t dma_mapping_len(const DmaMapping *m);
/* The region a direct mapping points into (NULL for bounce/failed ones). */
MemRegion *dma_mapping_region(const DmaMapping *m);

#endif
