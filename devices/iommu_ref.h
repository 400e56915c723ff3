/*
 * A reference IOMMU: a simple page-table-based translation unit for
 * device DMA, with a root pointer register, 4 KiB pages, read/write
 * permissions, a fault log and an invalidation register.
 *
 * Two regions:
 *   - iommu_ref_region(): an IOMMU region (softmmu/iommu.h) of
 *     IOMMU_REF_IOVA_SIZE bytes (4 GiB of IOVA space). Map it in a device's
 *     address space; the offset of an access in it is the IOVA. Translated
 *     accesses go to `target_as`.
 *   - iommu_ref_regs(): IOMMU_REF_REGS_SIZE bytes of MMIO registers,
 *     little-endian, 4-byte accesses (an aligned 8-byte access is split
 *     into its two halves, low first); other sizes or unaligned accesses
 *     fail with MEM_ACCESS_ERROR.
 *
 * Page table format (in `walk_as`, read with little-endian 32-bit loads
 * every time a translation is not in the IOTLB):
 *   - The root table is 4 KiB at ROOT & ~0xfff: 1024 32-bit entries,
 *     indexed by IOVA[31:22]. Entry: bit 0 valid, bits 31:12 the address
 *     of a leaf table (so leaf tables live below 4 GiB); bits 11:1 ignored.
 *   - A leaf table is 4 KiB: 1024 32-bit entries indexed by IOVA[21:12].
 *     Entry: bit 0 valid, bit 1 read allowed, bit 2 write allowed,
 *     bits 31:12 the physical page (in target_as); bits 11:3 ignored.
 *   - Translation: IOVA -> (leaf[31:12] | IOVA[11:0]) in target_as.
 *
 * Registers (offsets):
 *   0x00 ROOT_LO   r/w  root table address, bits 31:0 (bits 11:0 read 0)
 *   0x04 ROOT_HI   r/w  root table address, bits 63:32
 *   0x08 ENABLE    r/w  bit 0: translation on. Off (the reset state):
 *                       identity passthrough, every IOVA goes to the same
 *                       address in target_as with read/write permission,
 *                       nothing is walked and no fault is latched.
 *   0x0c FAULT_STATUS   bit 0 VALID (a fault is latched), bit 1 WRITE (the
 *                       faulting access was a write), bit 2 PERM (a valid
 *                       page without the needed permission; clear: not
 *                       present), bit 3 WALK (reading the tables failed),
 *                       bit 8 OVERFLOW (further faults happened while one
 *                       was latched; they were not recorded).
 *                       Write 1 to bit 0 to acknowledge (clears the record:
 *                       VALID, WRITE, PERM, WALK, the address and the
 *                       requester); write 1 to bit 8 to clear OVERFLOW.
 *   0x10 FAULT_ADDR_LO  ro  IOVA of the first unacknowledged fault, 31:0
 *   0x14 FAULT_ADDR_HI  ro  bits 63:32 (always 0: the IOVA space is 4 GiB)
 *   0x18 FAULT_REQUESTER ro MemAttrs.requester of the faulting access
 *   0x1c INVALIDATE     wo  write an IOVA (its page is dropped from the
 *                       IOTLB and mr_iommu_invalidate() is called for that
 *                       4 KiB page) or 0xffffffff (everything dropped,
 *                       mr_iommu_invalidate(0, UINT64_MAX)). Reads 0.
 * Writing ROOT or changing ENABLE also drops the whole IOTLB and
 * invalidates everything.
 *
 * The IOTLB: successful walks (valid leaf entries) are cached, 16 entries
 * direct-mapped by IOVA page, as hardware does; a page table change is
 * only seen after INVALIDATE (or a ROOT/ENABLE write). Faults are never
 * cached: an unmapped page is walked again on every access. (The host can
 * turn the IOTLB off, iommu_ref_set_iotlb(): then every access walks.)
 *
 * Faults: an access to a page whose root or leaf entry is not valid, or
 * whose table read fails, gets no translation (the access fails with
 * MEM_DECODE_ERROR, per softmmu/iommu.h); an access without the needed
 * permission gets the entry and is denied by the core (MEM_ACCESS_ERROR).
 * Either latches a fault if none is latched (else sets OVERFLOW).
 * Debug accesses (attrs.debug) fail the same way but latch nothing.
 * The table walk passes the faulting access's attributes to walk_as.
 */
#ifndef MMUSIM_DEVICES_IOMMU_REF_H
#define MMUSIM_DEVICES_IOMMU_REF_H

#include "softmmu/address_space.h"
#include "softmmu/iommu.h"

#define IOMMU_REF_IOVA_SIZE 0x100000000ull
#define IOMMU_REF_REGS_SIZE 0x20u
#define IOMMU_REF_IOTLB_SIZE 16u

enum {
    IOMMU_REF_ROOT_LO = 0x00,
    IOMMU_REF_ROOT_HI = 0x04,
    IOMMU_REF_ENABLE = 0x08,
    IOMMU_REF_FAULT_STATUS = 0x0c,
    IOMMU_REF_FAULT_ADDR_LO = 0x10,
    IOMMU_REF_FAULT_ADDR_HI = 0x14,
    IOMMU_REF_FAULT_REQUESTER = 0x18,
    IOMMU_REF_INVALIDATE = 0x1c,
};

#define IOMMU_REF_ENABLE_ON 0x1u

#define IOMMU_REF_FAULT_VALID    0x001u
#define IOMMU_REF_FAULT_WRITE    0x002u
#define IOMMU_REF_FAULT_PERM     0x004u
#define IOMMU_REF_FAULT_WALK     0x008u
#define IOMMU_REF_FAULT_OVERFLOW 0x100u

#define IOMMU_REF_INVALIDATE_ALL 0xffffffffu

/* Page table entry bits. */
#define IOMMU_REF_PTE_VALID 0x1u
#define IOMMU_REF_PTE_READ  0x2u
#define IOMMU_REF_PTE_WRITE 0x4u
#define IOMMU_REF_PTE_ADDR  0xfffff000u

typedef struct IommuRef IommuRef;

/* `walk_as`: where the page tables live; `target_as`: where translated
 * accesses go. Both must outlive the IOMMU. */
IommuRef *iommu_ref_new(AddressSpace *walk_as, AddressSpace *target_as, GError **err);
/* Drops the creator's references on both regions. Call it only once
 * nothing maps them any more (the regions call back into the IOMMU). */
void iommu_ref_free(IommuRef *r);
/* Power-on state: translation off (identity), ROOT 0, no fault latched; the
 * IOTLB is dropped and mr_iommu_invalidate() tells every mapping. */
void iommu_ref_reset(IommuRef *r);

MemRegion *iommu_ref_region(IommuRef *r);  /* borrowed */
MemRegion *iommu_ref_regs(IommuRef *r);    /* borrowed */

/* Table walks performed so far (IOTLB misses), for tests. */
uint64_t iommu_ref_walks(const IommuRef *r);
/* Translations asked for so far (every access piece and dma_map() hop
 * through the IOMMU, passthrough included), for tests and benchmarks. */
uint64_t iommu_ref_translations(const IommuRef *r);

/* Host-side configuration, not guest-visible (like a device property):
 * with the IOTLB off every translation walks the tables and nothing is
 * cached, as on an IOMMU without a translation cache; everything else
 * (faults, INVALIDATE, notifiers) is unchanged. On by default. Switching
 * drops the whole IOTLB (no notifier call: the translations themselves do
 * not change). Used by bench/dma-bench to price the cache. */
void iommu_ref_set_iotlb(IommuRef *r, bool on);

#endif
