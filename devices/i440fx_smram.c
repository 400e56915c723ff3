/*
 * i440FX-style SMRAM control, PCI configuration mechanism #1 with the host
 * bridge alone, and the APM ports (i440fx_smram.h).
 */
#include "devices/i440fx_smram.h"

#include <string.h>

#define CONFIG_SPACE 256u
/* CONFIG_ADDRESS bits that exist: enable, bus, device, function, register
 * (PCI 2.1+ 3.2.2.3.2: 30:24 reserved, 1:0 read 0). */
#define CONFIG_ADDRESS_MASK 0x80fffffcu
/* SMRAM bits software can write (bit 7 reserved, C_BASE_SEG read-only). */
#define SMRAM_WRITABLE (I440FX_SMRAM_D_OPEN | I440FX_SMRAM_D_CLS | I440FX_SMRAM_D_LCK | \
                        I440FX_SMRAM_G_SMRAME)

struct I440fx {
    MemRegion *pci_io;
    MemRegion *apm;
    I440fxHooks hooks;
    uint32_t config_address;
    uint8_t config[CONFIG_SPACE];   /* the host bridge's configuration space */
    uint8_t apmc, apms;
};

/* --- SMRAM control --- */

bool i440fx_smram_visible(uint8_t smram, bool in_smm)
{
    /* The project's position (memory-semantics.md §3), as QEMU's i440fx
     * behaves: G_SMRAME enables SMRAM for SMM accesses; D_OPEN makes it
     * visible to everyone, SMM or not. (Some later Intel chipset datasheets
     * gate D_OPEN on G_SMRAME too; firmware sets both together, so both
     * readings agree in practice.) D_CLS hides SMRAM from SMM data
     * accesses only: the machine does that per access type (see the header). */
    if (smram & I440FX_SMRAM_D_OPEN) {
        return true;
    }
    return in_smm && (smram & I440FX_SMRAM_G_SMRAME);
}

uint8_t i440fx_smram(const I440fx *c)
{
    return c->config[I440FX_SMRAM_OFFSET];
}

static void smram_set(I440fx *c, uint8_t value)
{
    uint8_t old = c->config[I440FX_SMRAM_OFFSET];

    if (old == value) {
        return;
    }
    c->config[I440FX_SMRAM_OFFSET] = value;
    if (c->hooks.smram_changed) {
        c->hooks.smram_changed(c->hooks.opaque, value);
    }
}

void i440fx_smram_write(I440fx *c, uint8_t value)
{
    uint8_t old = c->config[I440FX_SMRAM_OFFSET];
    uint8_t v = (uint8_t)((value & SMRAM_WRITABLE) | I440FX_SMRAM_DEFAULT);

    if (old & I440FX_SMRAM_D_LCK) {
        /* Locked: D_OPEN (0 since the lock) and D_LCK keep their values
         * until a power-on reset. */
        v = (uint8_t)((v & ~(I440FX_SMRAM_D_OPEN | I440FX_SMRAM_D_LCK)) |
                      (old & (I440FX_SMRAM_D_OPEN | I440FX_SMRAM_D_LCK)));
    }
    if (v & I440FX_SMRAM_D_LCK) {
        /* "When D_LCK is set to 1, D_OPEN is reset to 0". */
        v &= (uint8_t)~I440FX_SMRAM_D_OPEN;
    }
    smram_set(c, v);
}

/* --- Configuration space of 0:0.0 --- */

static void config_init(I440fx *c)
{
    memset(c->config, 0, sizeof(c->config));
    c->config[0x00] = I440FX_VENDOR_ID & 0xff;
    c->config[0x01] = I440FX_VENDOR_ID >> 8;
    c->config[0x02] = I440FX_DEVICE_ID & 0xff;
    c->config[0x03] = I440FX_DEVICE_ID >> 8;
    c->config[0x0a] = 0x00;   /* sub-class: host bridge */
    c->config[0x0b] = 0x06;   /* base class: bridge device */
    c->config[I440FX_SMRAM_OFFSET] = I440FX_SMRAM_DEFAULT;
}

static bool is_host_bridge(unsigned bus, unsigned dev, unsigned fn)
{
    return bus == 0 && dev == 0 && fn == 0;
}

static uint8_t config_read_byte(I440fx *c, unsigned offset)
{
    return c->config[offset & (CONFIG_SPACE - 1)];
}

static void config_write_byte(I440fx *c, unsigned offset, uint8_t value)
{
    /* Everything but the SMRAM register is read-only here. */
    if ((offset & (CONFIG_SPACE - 1)) == I440FX_SMRAM_OFFSET) {
        i440fx_smram_write(c, value);
    }
}

uint32_t i440fx_config_read(I440fx *c, unsigned bus, unsigned dev, unsigned fn,
                            unsigned offset, unsigned size)
{
    uint32_t v = 0;

    size = MIN(size, 4u);
    if (!is_host_bridge(bus, dev, fn)) {
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;  /* master abort */
    }
    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)config_read_byte(c, offset + i) << (8 * i);
    }
    return v;
}

void i440fx_config_write(I440fx *c, unsigned bus, unsigned dev, unsigned fn,
                         unsigned offset, unsigned size, uint32_t value)
{
    size = MIN(size, 4u);
    if (!is_host_bridge(bus, dev, fn)) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        config_write_byte(c, offset + i, (uint8_t)(value >> (8 * i)));
    }
}

/* --- Mechanism #1 ports --- */

/* Is CONFIG_ADDRESS enabled and aimed at a function other than the host
 * bridge? Then its cycles belong to the bus behind the bridge. */
static bool bus_cycle(const I440fx *c, unsigned *bus, unsigned *dev, unsigned *fn)
{
    uint32_t a = c->config_address;
    if (!(a & PCI_CONFIG_ENABLE)) {
        return false;
    }
    *bus = (a >> 16) & 0xff;
    *dev = (a >> 11) & 0x1f;
    *fn = (a >> 8) & 7;
    return !is_host_bridge(*bus, *dev, *fn);
}

/* One byte of CONFIG_DATA (data_index 0..3 = port 0xcfc + data_index). */
static uint8_t data_read_byte(I440fx *c, unsigned data_index)
{
    uint32_t a = c->config_address;

    if (!(a & PCI_CONFIG_ENABLE)) {
        return 0xff;   /* no configuration cycle: plain I/O nothing decodes */
    }
    unsigned bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;

    if (!is_host_bridge(bus, dev, fn)) {
        return 0xff;
    }
    return config_read_byte(c, (a & 0xfc) + data_index);
}

static void data_write_byte(I440fx *c, unsigned data_index, uint8_t value)
{
    uint32_t a = c->config_address;

    if (!(a & PCI_CONFIG_ENABLE)) {
        return;
    }
    unsigned bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;

    if (is_host_bridge(bus, dev, fn)) {
        config_write_byte(c, (a & 0xfc) + data_index, value);
    }
}

static MemResult pci_io_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                             G_GNUC_UNUSED MemAttrs attrs)
{
    I440fx *c = opaque;
    uint64_t v = 0;

    if (offset == 0 && size == 4) {
        *value = c->config_address;
        return MEM_OK;
    }
    unsigned bus, dev, fn;
    if (offset >= 4 && bus_cycle(c, &bus, &dev, &fn) && c->hooks.config_read) {
        /* One configuration read of this size on the bus behind the bridge. */
        unsigned reg = (c->config_address & 0xfc) + (unsigned)offset - 4;
        *value = c->hooks.config_read(c->hooks.opaque, bus, dev, fn, reg, size);
        return MEM_OK;
    }
    for (unsigned i = 0; i < size; i++) {
        unsigned o = (unsigned)offset + i;
        uint8_t b = o < 4 ? 0xff : data_read_byte(c, o - 4);

        v |= (uint64_t)b << (8 * i);
    }
    *value = v;
    return MEM_OK;
}

static MemResult pci_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                              G_GNUC_UNUSED MemAttrs attrs)
{
    I440fx *c = opaque;

    if (offset == 0 && size == 4) {
        c->config_address = (uint32_t)value & CONFIG_ADDRESS_MASK;
        return MEM_OK;
    }
    unsigned bus, dev, fn;
    if (offset >= 4 && bus_cycle(c, &bus, &dev, &fn) && c->hooks.config_write) {
        unsigned reg = (c->config_address & 0xfc) + (unsigned)offset - 4;
        c->hooks.config_write(c->hooks.opaque, bus, dev, fn, reg, size, (uint32_t)value);
        return MEM_OK;
    }
    for (unsigned i = 0; i < size; i++) {
        unsigned o = (unsigned)offset + i;

        if (o >= 4) {
            data_write_byte(c, o - 4, (uint8_t)(value >> (8 * i)));
        }
    }
    return MEM_OK;
}

static const MemRegionOps pci_io_ops = {
    .read = pci_io_read,
    .write = pci_io_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
};

/* --- APM ports --- */

static MemResult apm_read(void *opaque, uint64_t offset, uint64_t *value,
                          G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    I440fx *c = opaque;

    *value = offset == 0 ? c->apmc : c->apms;
    return MEM_OK;
}

static MemResult apm_write(void *opaque, uint64_t offset, uint64_t value,
                           G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    I440fx *c = opaque;

    if (offset == 0) {
        c->apmc = (uint8_t)value;
        if (c->hooks.apm_control) {
            c->hooks.apm_control(c->hooks.opaque, c->apmc);
        }
    } else {
        c->apms = (uint8_t)value;
    }
    return MEM_OK;
}

static const MemRegionOps apm_ops = {
    .read = apm_read,
    .write = apm_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 2, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

/* --- Lifecycle --- */

I440fx *i440fx_new(const I440fxHooks *hooks, GError **err)
{
    I440fx *c = g_new0(I440fx, 1);

    if (hooks) {
        c->hooks = *hooks;
    }
    config_init(c);
    c->pci_io = mr_new_mmio("pci-conf", PCI_CONFIG_IO_SIZE, &pci_io_ops, c, err);
    if (!c->pci_io) {
        g_free(c);
        return NULL;
    }
    c->apm = mr_new_mmio("apm", APM_IO_SIZE, &apm_ops, c, err);
    if (!c->apm) {
        mr_unref(c->pci_io);
        g_free(c);
        return NULL;
    }
    return c;
}

void i440fx_free(I440fx *c)
{
    if (!c) {
        return;
    }
    mr_unref(c->pci_io);
    mr_unref(c->apm);
    g_free(c);
}

MemRegion *i440fx_pci_io_region(I440fx *c)
{
    return c->pci_io;
}

MemRegion *i440fx_apm_region(I440fx *c)
{
    return c->apm;
}

void i440fx_reset(I440fx *c)
{
    c->config_address = 0;
    c->apmc = c->apms = 0;
    /* D_LCK is cleared only by this (power-on) reset. */
    smram_set(c, I440FX_SMRAM_DEFAULT);
}

uint32_t i440fx_config_address(const I440fx *c)
{
    return c->config_address;
}

uint8_t i440fx_apm_control(const I440fx *c)
{
    return c->apmc;
}

uint8_t i440fx_apm_status(const I440fx *c)
{
    return c->apms;
}
