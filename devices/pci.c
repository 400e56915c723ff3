/*
 * A simple PCI host bridge and bus 0: configuration space, BAR placement,
 * host windows and bus-master address spaces (see pci.h for the model).
 *
 * Invariant: a BAR's region is a child of the memory (or I/O) space exactly
 * when bar_addr[n] != UINT64_MAX, and then it sits at bar_addr[n]. Every
 * configuration write recomputes where each BAR should be and moves only
 * the ones that changed, inside one transaction, so a guest that rewrites
 * several BARs causes one re-render.
 */
#include "devices/pci.h"

#include <inttypes.h>
#include <string.h>

#include "softmmu/region.h"

#define BAR_UNMAPPED UINT64_MAX
#define BAR_PRIORITY 1   /* over the bus's holes; equal among BARs: newest wins */

struct PciDevice {
    PciHost *host;
    unsigned dev;
    char *name;
    uint8_t config[PCI_CONFIG_SIZE];
    uint8_t wmask[PCI_CONFIG_SIZE];   /* bits the guest may change */
    uint8_t reset_config[PCI_CONFIG_SIZE];
    PciBarInfo bars[PCI_NUM_BARS];
    uint64_t bar_addr[PCI_NUM_BARS];  /* where mapped now, or BAR_UNMAPPED */
    MemRegion *bm_root;               /* the DMA space's root */
    MemRegion *bm_alias;              /* "bus-master": enabled while COMMAND.BME */
    AddressSpace *dma_as;
    bool irq_level;                   /* the device model's pin level */
    bool intx_out;                    /* what the host was last told */
};

struct PciHost {
    PciHostConfig cfg;
    char *name;
    MemRegion *mem;          /* the PCI memory space */
    MemRegion *bus_root;     /* the bus view: upstream at 0, PCI memory at 1 */
    MemRegion *up_alias, *mem_alias;
    AddressSpace *bus_as;
    MemRegion *iommu;        /* optional: what bus-master aliases point at */
    MemRegion *ecam;
    GPtrArray *windows;      /* host windows (aliases) we own */
    PciDevice *devs[PCI_MAX_DEVICES];
};

/* --- Little-endian config helpers --- */

static uint32_t cfg_get(const uint8_t *c, unsigned off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)c[off + i] << (8 * i);
    }
    return v;
}

static void cfg_set(uint8_t *c, unsigned off, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++) {
        c[off + i] = (uint8_t)(v >> (8 * i));
    }
}

/* --- Host --- */

PciHost *pci_host_new(const PciHostConfig *cfg, GError **err)
{
    if (!cfg || !cfg->upstream || cfg->mem_size == 0) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "pci_host_new: a memory-space size and an upstream region are required");
        return NULL;
    }
    uint64_t up_size = mr_size(cfg->upstream);
    if (up_size != MEM_SIZE_FULL && cfg->inbound_offset >= up_size) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "pci_host_new: inbound offset 0x%" PRIx64 " beyond the upstream region",
                    cfg->inbound_offset);
        return NULL;
    }
    PciHost *h = g_new0(PciHost, 1);
    h->cfg = *cfg;
    h->name = g_strdup(cfg->name ? cfg->name : "pci");
    h->cfg.name = h->name;
    h->windows = g_ptr_array_new();

    g_autofree char *n_mem = g_strdup_printf("%s.mem", h->name);
    g_autofree char *n_bus = g_strdup_printf("%s.bus", h->name);
    g_autofree char *n_up = g_strdup_printf("%s.upstream", h->name);
    g_autofree char *n_ma = g_strdup_printf("%s.mem-alias", h->name);
    uint64_t up_len = up_size == MEM_SIZE_FULL ? MEM_SIZE_FULL - cfg->inbound_offset
                                               : up_size - cfg->inbound_offset;
    if (cfg->inbound_offset && up_size == MEM_SIZE_FULL) {
        up_len = (uint64_t)0 - cfg->inbound_offset;
    }
    h->mem = mr_new_container(n_mem, cfg->mem_size, err);
    h->bus_root = h->mem ? mr_new_container(n_bus, MEM_SIZE_FULL, err) : NULL;
    h->up_alias = h->bus_root ? mr_new_alias(n_up, cfg->upstream, cfg->inbound_offset, up_len, err)
                              : NULL;
    h->mem_alias = h->up_alias ? mr_new_alias(n_ma, h->mem, 0, cfg->mem_size, err) : NULL;
    if (!h->mem_alias ||
        !mr_add_subregion_overlap(h->bus_root, 0, h->up_alias, 0, err) ||
        !mr_add_subregion_overlap(h->bus_root, 0, h->mem_alias, 1, err)) {
        pci_host_free(h);
        return NULL;
    }
    g_autofree char *n_as = g_strdup_printf("%s-bus", h->name);
    h->bus_as = as_new(n_as, h->bus_root, err);
    if (!h->bus_as) {
        pci_host_free(h);
        return NULL;
    }
    return h;
}

static void device_free(PciDevice *d);

void pci_host_free(PciHost *h)
{
    if (!h) {
        return;
    }
    mem_transaction_begin();
    for (unsigned i = 0; i < PCI_MAX_DEVICES; i++) {
        device_free(h->devs[i]);
    }
    for (guint i = 0; i < h->windows->len; i++) {
        MemRegion *w = g_ptr_array_index(h->windows, i);
        if (mr_parent(w)) {
            mr_del_subregion(mr_parent(w), w, NULL);
        }
        mr_unref(w);
    }
    mem_transaction_commit();
    g_ptr_array_free(h->windows, TRUE);
    if (h->bus_as) {
        as_free(h->bus_as);
    }
    if (h->ecam) {
        mr_unref(h->ecam);
    }
    if (h->iommu) {
        mr_unref(h->iommu);
    }
    /* The bus root holds the aliases, which hold mem and upstream. */
    if (h->bus_root) {
        mr_unref(h->bus_root);
    }
    if (h->up_alias) {
        mr_unref(h->up_alias);
    }
    if (h->mem_alias) {
        mr_unref(h->mem_alias);
    }
    if (h->mem) {
        mr_unref(h->mem);
    }
    g_free(h->name);
    g_free(h);
}

MemRegion *pci_host_mem(PciHost *h)
{
    return h->mem;
}

AddressSpace *pci_host_bus_as(PciHost *h)
{
    return h->bus_as;
}

bool pci_host_set_iommu(PciHost *h, MemRegion *iommu_mr, GError **err)
{
    for (unsigned i = 0; i < PCI_MAX_DEVICES; i++) {
        if (h->devs[i]) {
            g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                        "%s: the IOMMU must be set before devices are added", h->name);
            return false;
        }
    }
    if (iommu_mr) {
        mr_ref(iommu_mr);
    }
    if (h->iommu) {
        mr_unref(h->iommu);
    }
    h->iommu = iommu_mr;
    return true;
}

MemRegion *pci_host_add_window(PciHost *h, MemRegion *container, uint64_t cpu_addr,
                               uint64_t pci_addr, uint64_t size, int prio, GError **err)
{
    if (size == 0 || pci_addr > mr_last(h->mem) || size - 1 > mr_last(h->mem) - pci_addr) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "%s: window [0x%" PRIx64 ", +0x%" PRIx64 ") is outside the PCI memory space",
                    h->name, pci_addr, size);
        return NULL;
    }
    g_autofree char *n = g_strdup_printf("%s.window@0x%" PRIx64, h->name, cpu_addr);
    MemRegion *w = mr_new_alias(n, h->mem, pci_addr, size, err);
    if (!w) {
        return NULL;
    }
    if (!mr_add_subregion_overlap(container, cpu_addr, w, prio, err)) {
        mr_unref(w);
        return NULL;
    }
    g_ptr_array_add(h->windows, w);
    return w;
}

/* --- BAR placement --- */

static uint64_t bar_size(const PciDevice *d, unsigned n)
{
    return d->bars[n].mr ? mr_size(d->bars[n].mr) : 0;
}

/* Where BAR n should be mapped per config space now, or BAR_UNMAPPED. */
static uint64_t bar_wanted(const PciDevice *d, unsigned n)
{
    const PciBarInfo *b = &d->bars[n];
    uint16_t cmd = (uint16_t)cfg_get(d->config, PCI_COMMAND, 2);
    uint64_t size = bar_size(d, n);
    uint32_t lo = cfg_get(d->config, PCI_BAR0 + 4 * n, 4);
    uint64_t addr, top, space_last;

    if (!b->mr) {
        return BAR_UNMAPPED;
    }
    if (b->kind == PCI_BAR_IO) {
        if (!(cmd & PCI_COMMAND_IO) || !d->host->cfg.io_space) {
            return BAR_UNMAPPED;
        }
        addr = lo & ~3u;
        top = 0xffffffffu;
        space_last = mr_last(d->host->cfg.io_space);
    } else {
        if (!(cmd & PCI_COMMAND_MEMORY)) {
            return BAR_UNMAPPED;
        }
        addr = lo & ~0xfu;
        top = 0xffffffffu;
        if (b->kind == PCI_BAR_MEM64) {
            addr |= (uint64_t)cfg_get(d->config, PCI_BAR0 + 4 * (n + 1), 4) << 32;
            top = UINT64_MAX;
        }
        space_last = mr_last(d->host->mem);
    }
    /* 0 means "not programmed"; a BAR reaching the top of its range is the
     * all-ones pattern left by sizing. Either way hosts don't decode it.
     * A BAR beyond the host's space is not decoded either (no wrap). */
    if (addr == 0 || size - 1 >= top - addr || addr > space_last || size - 1 > space_last - addr) {
        return BAR_UNMAPPED;
    }
    return addr;
}

static MemRegion *bar_space(const PciDevice *d, unsigned n)
{
    return d->bars[n].kind == PCI_BAR_IO ? d->host->cfg.io_space : d->host->mem;
}

static void update_bars(PciDevice *d)
{
    mem_transaction_begin();
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        uint64_t want = bar_wanted(d, n);
        if (want == d->bar_addr[n]) {
            continue;
        }
        MemRegion *space = bar_space(d, n);
        if (d->bar_addr[n] != BAR_UNMAPPED) {
            mr_del_subregion(space, d->bars[n].mr, NULL);
        }
        d->bar_addr[n] = BAR_UNMAPPED;
        /* Re-added rather than moved: the most recently placed BAR is the
         * one on top where two overlap (pci.h). */
        if (want != BAR_UNMAPPED &&
            mr_add_subregion_overlap(space, want, d->bars[n].mr, BAR_PRIORITY, NULL)) {
            d->bar_addr[n] = want;
        }
    }
    mem_transaction_commit();
}

static void update_intx(PciDevice *d)
{
    uint16_t cmd = (uint16_t)cfg_get(d->config, PCI_COMMAND, 2);
    bool out = d->irq_level && !(cmd & PCI_COMMAND_INTX_DISABLE) &&
               d->config[PCI_INTERRUPT_PIN] != 0;
    uint16_t st = (uint16_t)cfg_get(d->config, PCI_STATUS, 2);
    st = d->irq_level ? (st | PCI_STATUS_INTERRUPT) : (st & ~PCI_STATUS_INTERRUPT);
    cfg_set(d->config, PCI_STATUS, 2, st);
    if (out != d->intx_out) {
        d->intx_out = out;
        if (d->host->cfg.set_intx) {
            d->host->cfg.set_intx(d->host->cfg.opaque, d->dev,
                                  (unsigned)d->config[PCI_INTERRUPT_PIN] - 1, out);
        }
    }
}

/* --- Devices --- */

static bool check_bars(const PciDeviceInfo *info, const char *name, GError **err)
{
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        const PciBarInfo *b = &info->bars[n];
        if (!b->mr) {
            continue;
        }
        uint64_t size = mr_size(b->mr);
        bool pow2 = size != MEM_SIZE_FULL && (size & (size - 1)) == 0;
        bool ok = pow2;
        if (b->kind == PCI_BAR_IO) {
            ok = ok && size >= 4 && size <= 256;
        } else if (b->kind == PCI_BAR_MEM32) {
            ok = ok && size >= 16 && size <= 0x80000000ull;
        } else if (b->kind == PCI_BAR_MEM64) {
            ok = ok && size >= 16 && n + 1 < PCI_NUM_BARS && !info->bars[n + 1].mr;
        } else {
            ok = false;
        }
        if (!ok) {
            g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                        "%s: BAR %u (%s, 0x%" PRIx64 " bytes) is not a valid BAR", name, n,
                        mr_name(b->mr), size);
            return false;
        }
        if (b->kind == PCI_BAR_MEM64) {
            n++;
        }
    }
    return true;
}

PciDevice *pci_host_add_device(PciHost *h, unsigned dev, const PciDeviceInfo *info,
                               GError **err)
{
    const char *name = info && info->name ? info->name : "pci-device";
    if (!info || dev == 0 || dev >= PCI_MAX_DEVICES || h->devs[dev] ||
        info->interrupt_pin > 4) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "%s: cannot add %s at device %u (device numbers 1..31, one function each; "
                    "interrupt pin 0..4)", h->name, name, dev);
        return NULL;
    }
    if (!check_bars(info, name, err)) {
        return NULL;
    }
    PciDevice *d = g_new0(PciDevice, 1);
    d->host = h;
    d->dev = dev;
    d->name = g_strdup(name);
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        d->bar_addr[n] = BAR_UNMAPPED;
    }

    cfg_set(d->config, PCI_VENDOR_ID, 2, info->vendor_id);
    cfg_set(d->config, PCI_DEVICE_ID, 2, info->device_id);
    d->config[PCI_REVISION_ID] = info->revision;
    cfg_set(d->config, PCI_CLASS_PROG, 3, info->class_code);
    cfg_set(d->config, PCI_SUBSYSTEM_VENDOR_ID, 2, info->subsystem_vendor_id);
    cfg_set(d->config, PCI_SUBSYSTEM_ID, 2, info->subsystem_id);
    d->config[PCI_INTERRUPT_PIN] = info->interrupt_pin;
    /* Writable: COMMAND's IO/MEM/BME/INTx-disable bits (the others this
     * model has no use for read 0), cache line size, latency timer,
     * interrupt line. */
    cfg_set(d->wmask, PCI_COMMAND, 2,
            PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    d->wmask[0x0c] = 0xff;
    d->wmask[0x0d] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        d->bars[n] = info->bars[n];
        const PciBarInfo *b = &info->bars[n];
        if (!b->mr) {
            continue;
        }
        uint64_t size = mr_size(b->mr);
        unsigned off = PCI_BAR0 + 4 * n;
        if (b->kind == PCI_BAR_IO) {
            cfg_set(d->config, off, 4, PCI_BAR_IO);
            cfg_set(d->wmask, off, 4, (uint32_t)~(size - 1) & ~3u);
        } else {
            uint32_t low = b->kind | (b->prefetch ? PCI_BAR_PREFETCH : 0);
            cfg_set(d->config, off, 4, low);
            cfg_set(d->wmask, off, 4, (uint32_t)~(size - 1) & ~0xfu);
            if (b->kind == PCI_BAR_MEM64) {
                /* The upper half: address bits 63:32 (size bits above 4 GiB too). */
                cfg_set(d->wmask, off + 4, 4, (uint32_t)(~(size - 1) >> 32));
                d->bars[n + 1] = (PciBarInfo){ 0 };
                n++;
            }
        }
        mr_ref(b->mr);
    }

    memcpy(d->reset_config, d->config, PCI_CONFIG_SIZE);

    g_autofree char *n_root = g_strdup_printf("%s.busmaster-root", name);
    g_autofree char *n_bm = g_strdup_printf("%s.bus-master", name);
    MemRegion *target = h->iommu ? h->iommu : h->bus_root;
    d->bm_root = mr_new_container(n_root, MEM_SIZE_FULL, err);
    d->bm_alias = d->bm_root ? mr_new_alias(n_bm, target, 0, mr_size(target), err) : NULL;
    if (d->bm_alias) {
        mr_set_enabled(d->bm_alias, false);   /* COMMAND.BME is 0 at reset */
    }
    if (!d->bm_alias || !mr_add_subregion(d->bm_root, 0, d->bm_alias, err) ||
        !(d->dma_as = as_new(n_root, d->bm_root, err))) {
        device_free(d);
        return NULL;
    }
    h->devs[dev] = d;
    return d;
}

static void device_free(PciDevice *d)
{
    if (!d) {
        return;
    }
    mem_transaction_begin();
    for (unsigned n = 0; n < PCI_NUM_BARS; n++) {
        if (d->bar_addr[n] != BAR_UNMAPPED) {
            mr_del_subregion(bar_space(d, n), d->bars[n].mr, NULL);
        }
        if (d->bars[n].mr) {
            mr_unref(d->bars[n].mr);
        }
    }
    mem_transaction_commit();
    if (d->dma_as) {
        as_free(d->dma_as);
    }
    if (d->bm_root) {
        mr_unref(d->bm_root);
    }
    if (d->bm_alias) {
        mr_unref(d->bm_alias);
    }
    if (d->host && d->host->devs[d->dev] == d) {
        d->host->devs[d->dev] = NULL;
    }
    g_free(d->name);
    g_free(d);
}

void pci_host_reset(PciHost *h)
{
    mem_transaction_begin();
    for (unsigned i = 0; i < PCI_MAX_DEVICES; i++) {
        PciDevice *d = h->devs[i];
        if (!d) {
            continue;
        }
        memcpy(d->config, d->reset_config, PCI_CONFIG_SIZE);
        mr_set_enabled(d->bm_alias, false);
        update_bars(d);
        update_intx(d);
    }
    mem_transaction_commit();
}

PciDevice *pci_host_device(PciHost *h, unsigned dev)
{
    return dev < PCI_MAX_DEVICES ? h->devs[dev] : NULL;
}

AddressSpace *pci_device_dma_as(PciDevice *d)
{
    return d->dma_as;
}

void pci_device_set_irq(PciDevice *d, bool level)
{
    d->irq_level = level;
    update_intx(d);
}

uint64_t pci_device_bar_addr(const PciDevice *d, unsigned n)
{
    return n < PCI_NUM_BARS ? d->bar_addr[n] : BAR_UNMAPPED;
}

uint16_t pci_device_command(const PciDevice *d)
{
    return (uint16_t)cfg_get(d->config, PCI_COMMAND, 2);
}

unsigned pci_device_number(const PciDevice *d)
{
    return d->dev;
}

/* --- Configuration access --- */

static PciDevice *lookup(PciHost *h, unsigned bus, unsigned dev, unsigned fn)
{
    if (bus != 0 || fn != 0 || dev >= PCI_MAX_DEVICES) {
        return NULL;
    }
    return h->devs[dev];
}

static bool access_ok(unsigned offset, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && offset < PCI_CONFIG_SIZE &&
           offset + size <= PCI_CONFIG_SIZE && (offset & (size - 1)) == 0;
}

uint32_t pci_config_read(PciHost *h, unsigned bus, unsigned dev, unsigned fn, unsigned offset,
                         unsigned size)
{
    PciDevice *d = lookup(h, bus, dev, fn);
    if (!d || !access_ok(offset, size)) {
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
    return cfg_get(d->config, offset, size);
}

void pci_config_write(PciHost *h, unsigned bus, unsigned dev, unsigned fn, unsigned offset,
                      unsigned size, uint32_t value)
{
    PciDevice *d = lookup(h, bus, dev, fn);
    if (!d || !access_ok(offset, size)) {
        return;
    }
    uint16_t old_cmd = pci_device_command(d);
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = d->wmask[offset + i];
        uint8_t b = (uint8_t)(value >> (8 * i));
        d->config[offset + i] = (uint8_t)((d->config[offset + i] & ~m) | (b & m));
    }
    uint16_t cmd = pci_device_command(d);
    if ((cmd ^ old_cmd) & PCI_COMMAND_MASTER) {
        mr_set_enabled(d->bm_alias, (cmd & PCI_COMMAND_MASTER) != 0);
    }
    bool touches_bars = offset < PCI_BAR0 + 4 * PCI_NUM_BARS && offset + size > PCI_BAR0;
    bool touches_cmd = offset < PCI_COMMAND + 2 && offset + size > PCI_COMMAND;
    if (touches_bars || touches_cmd) {
        update_bars(d);
    }
    if (touches_cmd) {
        update_intx(d);
    }
}

/* --- ECAM --- */

static MemResult ecam_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                           MemAttrs attrs)
{
    PciHost *h = opaque;
    *value = pci_config_read(h, (unsigned)(offset >> 20), (unsigned)(offset >> 15) & 31,
                             (unsigned)(offset >> 12) & 7, (unsigned)offset & 0xfff, size);
    return MEM_OK;
}

static MemResult ecam_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                            MemAttrs attrs)
{
    PciHost *h = opaque;
    pci_config_write(h, (unsigned)(offset >> 20), (unsigned)(offset >> 15) & 31,
                     (unsigned)(offset >> 12) & 7, (unsigned)offset & 0xfff, size,
                     (uint32_t)value);
    return MEM_OK;
}

static const MemRegionOps ecam_ops = {
    .read = ecam_read,
    .write = ecam_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

MemRegion *pci_host_ecam(PciHost *h, unsigned nbuses, GError **err)
{
    if (h->ecam) {
        return h->ecam;
    }
    if (nbuses == 0 || nbuses > 256) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "%s: ECAM covers 1..256 buses, not %u", h->name, nbuses);
        return NULL;
    }
    g_autofree char *n = g_strdup_printf("%s.ecam", h->name);
    h->ecam = mr_new_mmio(n, (uint64_t)nbuses * PCI_ECAM_BUS_SIZE, &ecam_ops, h, err);
    return h->ecam;
}
