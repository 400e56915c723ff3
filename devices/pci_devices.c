/*
 * The pci-dma and pci-testdev functions (pci_devices.h).
 */
#include "devices/pci_devices.h"

#include "softmmu/region.h"

/* --- pci-dma --- */

struct PciDma {
    MemRegion *bar0;      /* container: the engine's registers at 0 */
    PciDevice *pdev;
    DmaEngine *engine;
};

static void pci_dma_irq(void *opaque, bool level)
{
    PciDma *p = opaque;
    pci_device_set_irq(p->pdev, level);
}

PciDma *pci_dma_new(PciHost *h, unsigned dev, GError **err)
{
    PciDma *p = g_new0(PciDma, 1);
    p->bar0 = mr_new_container("pci-dma.bar0", PCI_DMA_BAR0_SIZE, err);
    if (!p->bar0) {
        g_free(p);
        return NULL;
    }
    PciDeviceInfo info = {
        .name = "pci-dma",
        .vendor_id = MMUSIM_PCI_VENDOR,
        .device_id = PCI_DMA_DEVICE_ID,
        .class_code = 0x088000,
        .interrupt_pin = 1,
        .bars = { [0] = { .mr = p->bar0, .kind = PCI_BAR_MEM32 } },
    };
    p->pdev = pci_host_add_device(h, dev, &info, err);
    /* The engine masters through the function's own bus-master space,
     * which exists once the function is on the bus. */
    DmaEngineHost host = { .raise_irq = pci_dma_irq, .requester = dev << 3 };
    p->engine = p->pdev ? dma_engine_new(pci_device_dma_as(p->pdev), &host, p, err) : NULL;
    if (!p->engine || !mr_add_subregion(p->bar0, 0, dma_engine_regs(p->engine), err)) {
        pci_dma_free(p);
        return NULL;
    }
    return p;
}

void pci_dma_free(PciDma *p)
{
    if (!p) {
        return;
    }
    if (p->engine) {
        if (mr_parent(dma_engine_regs(p->engine))) {
            mr_del_subregion(p->bar0, dma_engine_regs(p->engine), NULL);
        }
        dma_engine_free(p->engine);
    }
    mr_unref(p->bar0);
    g_free(p);
}

PciDevice *pci_dma_device(PciDma *p)
{
    return p->pdev;
}

DmaEngine *pci_dma_engine(PciDma *p)
{
    return p->engine;
}

void pci_dma_reset(PciDma *p)
{
    dma_engine_reset(p->engine);
}

/* --- pci-testdev --- */

struct PciTestdev {
    MemRegion *vram;       /* 128 KiB */
    MemRegion *bar0;       /* container: bank window + registers */
    MemRegion *window;     /* alias of vram, 32 KiB, offset = bank * 32 KiB */
    MemRegion *regs;
    MemRegion *lfb;        /* BAR2: alias of all of vram */
    PciDevice *pdev;
    uint32_t scratch;
    uint32_t bank;
};

static MemResult testdev_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                              MemAttrs attrs)
{
    PciTestdev *t = opaque;
    switch (offset) {
    case PCI_TESTDEV_ID:
        *value = ((uint32_t)MMUSIM_PCI_VENDOR << 16) | PCI_TESTDEV_DEVICE_ID;
        return MEM_OK;
    case PCI_TESTDEV_SCRATCH:
        *value = t->scratch;
        return MEM_OK;
    case PCI_TESTDEV_BANK:
        *value = t->bank;
        return MEM_OK;
    default:
        *value = 0;    /* reserved registers read 0 */
        return MEM_OK;
    }
}

static MemResult testdev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                               MemAttrs attrs)
{
    PciTestdev *t = opaque;
    switch (offset) {
    case PCI_TESTDEV_SCRATCH:
        t->scratch = (uint32_t)value;
        break;
    case PCI_TESTDEV_BANK:
        /* Bank switching re-points the window: a change of the memory map
         * like a BAR move (mappings into the old bank are revoked). */
        t->bank = (uint32_t)value & 3;
        mr_set_alias_offset(t->window, (uint64_t)t->bank * PCI_TESTDEV_WINDOW_SIZE, NULL);
        break;
    default:
        break;         /* ID is read-only; reserved registers ignore writes */
    }
    return MEM_OK;
}

static const MemRegionOps testdev_ops = {
    .read = testdev_read,
    .write = testdev_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

PciTestdev *pci_testdev_new(PciHost *h, unsigned dev, GError **err)
{
    PciTestdev *t = g_new0(PciTestdev, 1);
    bool ok = (t->vram = mr_new_ram("pci-testdev.vram", PCI_TESTDEV_VRAM_SIZE, err)) &&
              (t->bar0 = mr_new_container("pci-testdev.bar0", PCI_TESTDEV_BAR0_SIZE, err)) &&
              (t->window = mr_new_alias("pci-testdev.bank", t->vram, 0, PCI_TESTDEV_WINDOW_SIZE,
                                        err)) &&
              (t->regs = mr_new_mmio("pci-testdev.regs", 0x1000, &testdev_ops, t, err)) &&
              (t->lfb = mr_new_alias("pci-testdev.lfb", t->vram, 0, PCI_TESTDEV_VRAM_SIZE, err)) &&
              mr_add_subregion(t->bar0, 0, t->window, err) &&
              mr_add_subregion(t->bar0, PCI_TESTDEV_REGS, t->regs, err);
    if (ok) {
        PciDeviceInfo info = {
            .name = "pci-testdev",
            .vendor_id = MMUSIM_PCI_VENDOR,
            .device_id = PCI_TESTDEV_DEVICE_ID,
            .class_code = 0x030000,
            .bars = {
                [0] = { .mr = t->bar0, .kind = PCI_BAR_MEM32 },
                [2] = { .mr = t->lfb, .kind = PCI_BAR_MEM64, .prefetch = true },
            },
        };
        t->pdev = pci_host_add_device(h, dev, &info, err);
        ok = t->pdev != NULL;
    }
    if (!ok) {
        pci_testdev_free(t);
        return NULL;
    }
    return t;
}

void pci_testdev_free(PciTestdev *t)
{
    if (!t) {
        return;
    }
    MemRegion *all[] = { t->lfb, t->regs, t->window, t->bar0, t->vram };
    if (t->bar0) {
        if (t->window && mr_parent(t->window)) {
            mr_del_subregion(t->bar0, t->window, NULL);
        }
        if (t->regs && mr_parent(t->regs)) {
            mr_del_subregion(t->bar0, t->regs, NULL);
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++) {
        if (all[i]) {
            mr_unref(all[i]);
        }
    }
    g_free(t);
}

PciDevice *pci_testdev_device(PciTestdev *t)
{
    return t->pdev;
}

MemRegion *pci_testdev_vram(PciTestdev *t)
{
    return t->vram;
}

void pci_testdev_reset(PciTestdev *t)
{
    t->scratch = 0;
    t->bank = 0;
    mr_set_alias_offset(t->window, 0, NULL);
}
