/*
 * A simple DMA engine: source, destination, length, go; a completion
 * interrupt; an error status.
 *
 * The engine copies bytes within its bus address space (`bus_as`, the
 * device's view of memory, typically through an IOMMU) with dma_read() and
 * dma_write(), as device requester `host->requester`. The copy is
 * performed synchronously when CTRL.GO is written, in chunks of at most
 * DMA_ENGINE_CHUNK bytes that never cross a 4 KiB boundary of the source
 * or of the destination. Each chunk is read completely, then written; the
 * first chunk whose read or write fails stops the transfer (nothing of a
 * chunk whose read failed is written; a failing write may have written the
 * parts of its chunk that succeeded, per dma_write()). XFERRED counts the
 * bytes of the chunks that were read and written without error.
 *
 * Registers: DMA_ENGINE_REGS_SIZE bytes, little-endian, 4-byte accesses
 * (an aligned 8-byte access is split into its halves, low first); other
 * sizes or unaligned accesses fail with MEM_ACCESS_ERROR.
 *   0x00 SRC_LO, 0x04 SRC_HI   r/w source address in bus_as
 *   0x08 DST_LO, 0x0c DST_HI   r/w destination address in bus_as
 *   0x10 LEN                   r/w length in bytes
 *   0x14 CTRL   bit 0 GO (write 1 starts a transfer; reads 0),
 *               bit 1 IRQ_EN (r/w)
 *   0x18 STATUS bit 0 BUSY (only seen by accesses made by the transfer
 *               itself, e.g. a DMA into these registers; GO while busy is
 *               ignored and reported), bit 1 DONE (the last transfer
 *               finished, with or without error), bit 2 ERROR (it stopped
 *               on a failure), bits 11:8 the MemResult of that failure
 *               (0 = MEM_OK). Write 1 to DONE or ERROR to clear it
 *               (clearing ERROR clears the code too). GO clears DONE, ERROR
 *               and the code before it starts.
 *   0x1c XFERRED ro            bytes copied by the last transfer
 * A length of 0 completes at once (DONE, no access).
 *
 * Interrupt: level-triggered, high while IRQ_EN and DONE are both set;
 * host->raise_irq(opaque, level) is called whenever the level changes.
 */
#ifndef MMUSIM_DEVICES_DMA_ENGINE_H
#define MMUSIM_DEVICES_DMA_ENGINE_H

#include "softmmu/address_space.h"

#define DMA_ENGINE_REGS_SIZE 0x20u
#define DMA_ENGINE_CHUNK 0x1000u

enum {
    DMA_ENGINE_SRC_LO = 0x00,
    DMA_ENGINE_SRC_HI = 0x04,
    DMA_ENGINE_DST_LO = 0x08,
    DMA_ENGINE_DST_HI = 0x0c,
    DMA_ENGINE_LEN = 0x10,
    DMA_ENGINE_CTRL = 0x14,
    DMA_ENGINE_STATUS = 0x18,
    DMA_ENGINE_XFERRED = 0x1c,
};

#define DMA_ENGINE_CTRL_GO     0x1u
#define DMA_ENGINE_CTRL_IRQ_EN 0x2u

#define DMA_ENGINE_STATUS_BUSY   0x1u
#define DMA_ENGINE_STATUS_DONE   0x2u
#define DMA_ENGINE_STATUS_ERROR  0x4u
#define DMA_ENGINE_STATUS_CODE_SHIFT 8
#define DMA_ENGINE_STATUS_CODE_MASK  0xf00u

typedef struct DmaEngineHost {
    /* Interrupt line level changes (optional). */
    void (*raise_irq)(void *opaque, bool level);
    uint32_t requester;  /* MemAttrs.requester of the engine's accesses */
} DmaEngineHost;

typedef struct DmaEngine DmaEngine;

/* `bus_as` must outlive the engine; `host` may be NULL (no interrupt,
 * requester 0) and is copied. */
DmaEngine *dma_engine_new(AddressSpace *bus_as, const DmaEngineHost *host, void *opaque,
                          GError **err);
/* Drops the creator's reference on the register region; call it only once
 * nothing maps the region any more. */
void dma_engine_free(DmaEngine *d);

MemRegion *dma_engine_regs(DmaEngine *d);  /* borrowed */
/* Power-on state: every register 0, interrupt low. */
void dma_engine_reset(DmaEngine *d);
bool dma_engine_irq_level(const DmaEngine *d);

#endif
