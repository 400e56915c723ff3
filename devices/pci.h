/*
 * A simple PCI host bridge and bus 0 (docs/dma.md).
 *
 * What it models (PCI Local Bus Specification 3.0, ch. 6; PCI Express Base
 * 4.0, 7.2.2 for ECAM):
 *   - Type 0 configuration headers of up to 31 functions (devices 1..31,
 *     function 0; device 0 is the host bridge, which the machine's chipset
 *     may answer itself): IDs, class, COMMAND (I/O space, memory space and
 *     bus-master enables), the six BARs with the sizing protocol (write
 *     all-ones, read the size mask back), 64-bit and prefetchable memory
 *     BARs and I/O BARs, interrupt line (r/w) and pin (ro). Everything else
 *     reads 0 and ignores writes.
 *   - Configuration access by ECAM (an MMIO region: offset = bus << 20 |
 *     device << 15 | function << 12 | register) and by a (bus, dev, fn,
 *     offset) call that a machine's CF8h/CFCh mechanism forwards to.
 *     Absent functions read all-ones; writes to them are dropped.
 *   - The PCI memory space: a container of the bus's size where each
 *     enabled BAR region (any region: RAM, MMIO, a container holding both,
 *     as a VGA frame buffer with its registers) is mapped at the address
 *     programmed in its BAR, at priority 1: BARs may overlap each other
 *     (the most recently placed wins) and moving one away restores what it
 *     hid. A memory BAR is mapped while COMMAND.MEM is set and its address
 *     is neither 0 nor such that the BAR would reach the top of its 32-bit
 *     (or 64-bit) range - the all-ones pattern of sizing - as hosts do.
 *     I/O BARs likewise in the I/O space (if the host has one), on
 *     COMMAND.IO.
 *   - Host windows (the bridge's outbound translation): pci_host_add_window()
 *     shows [pci_addr, pci_addr + size) of the PCI memory space at cpu_addr
 *     in a CPU-side container, so CPU cycles at [A, A+S) become bus cycles
 *     at [B, B+S).
 *   - Bus masters: each function has its own DMA address space, rooted in
 *     a container holding one "bus-master" alias that is enabled while
 *     COMMAND.BME is set (without it the function's DMA fails with
 *     MEM_DECODE_ERROR, as a master that may not start cycles). The alias
 *     shows the bus's view - or, when the host has an IOMMU, the IOMMU
 *     region, which translates into the bus's view. The bus's view
 *     (pci_host_bus_as) is a container with the upstream memory (the global
 *     machine map, never a CPU's view: no APIC page, no SMRAM) at priority
 *     0, shifted by the inbound window offset, under the PCI memory space
 *     at priority 1 (peer-to-peer: a BAR hides the memory at its bus
 *     address).
 *   - INTx: a function's interrupt pin level goes to the host's set_intx
 *     hook with its device number and pin (the machine swizzles and routes).
 */
#ifndef MMUSIM_DEVICES_PCI_H
#define MMUSIM_DEVICES_PCI_H

#include "softmmu/address_space.h"

#define PCI_CONFIG_SIZE 256u
#define PCI_MAX_DEVICES 32u      /* device numbers on bus 0; 0 is the host bridge */
#define PCI_NUM_BARS 6u
#define PCI_ECAM_BUS_SIZE (1u << 20)   /* ECAM bytes per bus */

/* Configuration header offsets and bits (PCI 3.0, 6.1, 6.2). */
enum {
    PCI_VENDOR_ID = 0x00,
    PCI_DEVICE_ID = 0x02,
    PCI_COMMAND = 0x04,
    PCI_STATUS = 0x06,
    PCI_REVISION_ID = 0x08,
    PCI_CLASS_PROG = 0x09,
    PCI_HEADER_TYPE = 0x0e,
    PCI_BAR0 = 0x10,
    PCI_SUBSYSTEM_VENDOR_ID = 0x2c,
    PCI_SUBSYSTEM_ID = 0x2e,
    PCI_INTERRUPT_LINE = 0x3c,
    PCI_INTERRUPT_PIN = 0x3d,
};
#define PCI_COMMAND_IO     0x1u
#define PCI_COMMAND_MEMORY 0x2u
#define PCI_COMMAND_MASTER 0x4u
#define PCI_COMMAND_INTX_DISABLE 0x400u
#define PCI_STATUS_INTERRUPT 0x8u

/* BAR kinds (the low bits a BAR reads back). */
enum {
    PCI_BAR_MEM32 = 0x0,
    PCI_BAR_IO = 0x1,
    PCI_BAR_MEM64 = 0x4,
};
#define PCI_BAR_PREFETCH 0x8u

typedef struct PciHost PciHost;
typedef struct PciDevice PciDevice;

typedef struct PciHostConfig {
    const char *name;
    uint64_t mem_size;       /* size of the PCI memory space (e.g. 4 GiB, or 2^64) */
    MemRegion *upstream;     /* what bus masters reach below the BARs: the global map */
    uint64_t inbound_offset; /* bus address X reaches upstream X + inbound_offset */
    MemRegion *io_space;     /* optional: where I/O BARs go (a container) */
    /* Optional IOMMU region (softmmu/iommu.h) all bus masters go through:
     * its target must be pci_host_bus_as(). Set it with pci_host_set_iommu
     * (the bus AS must exist first), before adding devices. */
    void (*set_intx)(void *opaque, unsigned dev, unsigned pin /*0=INTA..3*/, bool level);
    void *opaque;
} PciHostConfig;

PciHost *pci_host_new(const PciHostConfig *cfg, GError **err);
/* Frees every device's spaces and unmaps its BARs (the BAR regions
 * themselves belong to the device models). */
void pci_host_free(PciHost *h);

/* The PCI memory space (container) and the bus view bus masters use. */
MemRegion *pci_host_mem(PciHost *h);
AddressSpace *pci_host_bus_as(PciHost *h);
/* Route every bus master through `iommu_mr` (NULL: directly). Only before
 * the first pci_host_add_device(). */
bool pci_host_set_iommu(PciHost *h, MemRegion *iommu_mr, GError **err);
/* Show PCI memory [pci_addr, pci_addr + size) at cpu_addr in `container`
 * (priority `prio`). Returns the window (an alias owned by the host). */
MemRegion *pci_host_add_window(PciHost *h, MemRegion *container, uint64_t cpu_addr,
                               uint64_t pci_addr, uint64_t size, int prio, GError **err);
/* ECAM: an MMIO region of nbuses MiB (bus 0 only has devices). */
MemRegion *pci_host_ecam(PciHost *h, unsigned nbuses, GError **err);

/* Configuration access (size 1, 2 or 4; offset + size <= 256, else all-ones
 * / dropped). Absent functions: all-ones, writes dropped. */
uint32_t pci_config_read(PciHost *h, unsigned bus, unsigned dev, unsigned fn, unsigned offset,
                         unsigned size);
void pci_config_write(PciHost *h, unsigned bus, unsigned dev, unsigned fn, unsigned offset,
                      unsigned size, uint32_t value);

/* --- Functions on the bus --- */

typedef struct PciBarInfo {
    MemRegion *mr;           /* NULL: BAR not implemented (reads 0) */
    unsigned kind;           /* PCI_BAR_MEM32 / PCI_BAR_MEM64 / PCI_BAR_IO */
    bool prefetch;
} PciBarInfo;

typedef struct PciDeviceInfo {
    const char *name;
    uint16_t vendor_id, device_id;
    uint32_t class_code;     /* base << 16 | sub << 8 | prog-if */
    uint8_t revision;
    uint16_t subsystem_vendor_id, subsystem_id;
    uint8_t interrupt_pin;   /* 0 none, 1 INTA .. 4 INTD */
    /* BARs: sizes are the regions' sizes (a power of two, >= 16 for memory,
     * >= 4 and <= 256 for I/O). A 64-bit BAR uses the next slot too. */
    PciBarInfo bars[PCI_NUM_BARS];
} PciDeviceInfo;

/* Put a function at bus 0 device `dev` (1..31), function 0. The BAR
 * regions are referenced while mapped. */
PciDevice *pci_host_add_device(PciHost *h, unsigned dev, const PciDeviceInfo *info,
                               GError **err);
PciDevice *pci_host_device(PciHost *h, unsigned dev);   /* NULL if absent */
/* RST#: every function's configuration space back to its power-on values
 * (BARs 0 and unmapped, COMMAND 0: no decoding, no bus mastering). The
 * device models reset their own state. */
void pci_host_reset(PciHost *h);

/* The function's DMA address space (its bus-master view). */
AddressSpace *pci_device_dma_as(PciDevice *d);
/* Interrupt pin level from the device model (INTx; masked by
 * COMMAND.INTX_DISABLE, shown in STATUS.INTERRUPT). */
void pci_device_set_irq(PciDevice *d, bool level);
/* Where BAR n is mapped now in the memory (or I/O) space, or UINT64_MAX. */
uint64_t pci_device_bar_addr(const PciDevice *d, unsigned n);
uint16_t pci_device_command(const PciDevice *d);
unsigned pci_device_number(const PciDevice *d);

#endif
