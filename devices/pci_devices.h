/*
 * PCI functions for the DMA/IOMMU work (docs/dma.md). Both use the private
 * vendor ID 0x6d6d ("mm"): no real driver claims them.
 *
 * pci-dma (device ID 0x0001, class 0x088000 "other system peripheral"):
 *   the DMA engine of devices/dma_engine.h as a bus master. BAR0: 4 KiB
 *   memory BAR, the engine's registers at offset 0 (the rest of the page
 *   is unassigned: reads all-ones). Its copies go through the function's
 *   bus-master address space (pci_device_dma_as: COMMAND.BME gates them,
 *   and the host's IOMMU translates them), with requester ID = bus:dev.fn
 *   (dev << 3). Its completion interrupt is INTA.
 *
 * pci-testdev (device ID 0x0002, class 0x030000 "VGA-compatible"): the
 *   shape of the seeds' Cirrus example, a frame buffer whose BAR holds RAM
 *   and MMIO together, with bank switching.
 *   - 128 KiB of video RAM.
 *   - BAR0, 64 KiB memory BAR, a container:
 *       0x0000-0x7fff  a 32 KiB window on the video RAM (an alias), the
 *                      bank selected by BANK (bank n shows VRAM n*32 KiB)
 *       0x8000-0x8fff  registers (4-byte accesses, little-endian):
 *                      0x00 ID      ro 0x6d6d0002
 *                      0x04 SCRATCH rw
 *                      0x08 BANK    rw 0..3 (other values are masked)
 *       0x9000-0xffff  unassigned (a hole in the container: what lies below
 *                      the BAR on the bus shows through)
 *   - BAR2, 64-bit prefetchable memory BAR of 128 KiB: all of the video
 *     RAM (a linear frame buffer).
 */
#ifndef MMUSIM_DEVICES_PCI_DEVICES_H
#define MMUSIM_DEVICES_PCI_DEVICES_H

#include "devices/dma_engine.h"
#include "devices/pci.h"

#define MMUSIM_PCI_VENDOR 0x6d6du
#define PCI_DMA_DEVICE_ID 0x0001u
#define PCI_TESTDEV_DEVICE_ID 0x0002u

#define PCI_DMA_BAR0_SIZE 0x1000u

typedef struct PciDma PciDma;
PciDma *pci_dma_new(PciHost *h, unsigned dev, GError **err);
void pci_dma_free(PciDma *p);   /* after pci_host_free (or before, if never on a host) */
PciDevice *pci_dma_device(PciDma *p);
DmaEngine *pci_dma_engine(PciDma *p);
void pci_dma_reset(PciDma *p);          /* the engine's registers (pci_host_reset: config) */

#define PCI_TESTDEV_VRAM_SIZE 0x20000u
#define PCI_TESTDEV_BAR0_SIZE 0x10000u
#define PCI_TESTDEV_WINDOW_SIZE 0x8000u
#define PCI_TESTDEV_REGS 0x8000u
enum { PCI_TESTDEV_ID = 0x00, PCI_TESTDEV_SCRATCH = 0x04, PCI_TESTDEV_BANK = 0x08 };

typedef struct PciTestdev PciTestdev;
PciTestdev *pci_testdev_new(PciHost *h, unsigned dev, GError **err);
void pci_testdev_free(PciTestdev *t);
PciDevice *pci_testdev_device(PciTestdev *t);
MemRegion *pci_testdev_vram(PciTestdev *t);   /* the 128 KiB RAM */
void pci_testdev_reset(PciTestdev *t);        /* SCRATCH 0, BANK 0 (VRAM keeps its contents) */

#endif
