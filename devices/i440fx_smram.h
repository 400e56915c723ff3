/*
 * The SMM part of an i440FX-style PC chipset: the SMRAM control register of
 * the host bridge, reached through PCI configuration mechanism #1, and the
 * APM control/status ports that firmware uses to raise a software SMI.
 *
 * References: Intel 82441FX PCI and Memory Controller (PMC) datasheet,
 * register SMRAM (device 0, offset 72h). The same register, with the same
 * bit layout and default, is in the datasheets of the neighbouring host
 * bridges (82439TX MTXC, 82443BX/GX), whose wording is quoted below where
 * the rules come from. PCI Local Bus Specification 2.1+, 3.2.2.3.2
 * (configuration mechanism #1). Intel 82371 PIIX/PIIX3/PIIX4 datasheets,
 * APMC (I/O B2h) and APMS (I/O B3h).
 *
 * --- SMRAM control (config offset 72h, default 02h) ---
 *
 *   bit 7    reserved, reads 0
 *   bit 6    D_OPEN   SMRAM visible to non-SMM accesses too (for firmware
 *                     to fill it before the first SMI)
 *   bit 5    D_CLS    SMRAM hidden from *data* accesses in SMM (code
 *                     fetches still see it)
 *   bit 4    D_LCK    set once: D_OPEN is cleared, and D_OPEN and D_LCK
 *                     become read-only until a power-on reset
 *   bit 3    G_SMRAME compatible SMRAM (the 128 KiB at 0xa0000-0xbffff)
 *                     enabled: SMM accesses there reach DRAM, not the VGA
 *   bits 2:0 C_BASE_SEG read-only 010b: compatible SMRAM at 0xa0000
 *
 * The 82439TX/82443GX datasheets say "the Open, Close, and Lock bits
 * function only when G_SMRAME bit is set to a 1", so SMRAM shows at
 * 0xa0000 for a CPU when
 *
 *     G_SMRAME && (D_OPEN || the CPU is in SMM)        (i440fx_smram_visible)
 *
 * and the VGA window otherwise. (QEMU's i440fx opens SMRAM on D_OPEN alone;
 * firmware sets G_SMRAME together with D_OPEN anyway, so both agree on real
 * firmware.) D_LCK locks the register bits whatever G_SMRAME is (the safe
 * reading). D_CLS does not change the rule above: the machine applies it
 * per access type, sending a CPU's SMM *data* references through a second
 * view of that CPU without SMRAM (machines/pc.c, tlb_set_alt_space), while
 * its code references keep seeing SMRAM.
 * G_SMRAME and D_CLS stay writable after D_LCK ("When D_LCK is set to 1,
 * D_OPEN is reset to 0 and both D_LCK and D_OPEN become read only", 82439TX
 * wording; later bridges also lock G_SMRAME); clearing G_SMRAME after the
 * lock only hides SMRAM, it cannot expose it.
 *
 * --- PCI configuration mechanism #1 (I/O 0xcf8-0xcff, one 8-byte region) ---
 *
 *   0xcf8 CONFIG_ADDRESS: only a 4-byte access at 0xcf8 reaches it (bit 31
 *         enable, bus 23:16, device 15:11, function 10:8, register 7:2;
 *         bits 30:24 and 1:0 read 0). Narrower accesses to 0xcf8-0xcfb are
 *         ordinary I/O that nothing here decodes: reads all-ones, writes
 *         dropped (so the PIIX reset control register at 0xcf9 is absent).
 *   0xcfc-0xcff CONFIG_DATA: 1, 2 or 4 bytes at configuration offset
 *         (CONFIG_ADDRESS & 0xfc) + (port & 3). With bit 31 clear, or for
 *         any device but bus 0 device 0 function 0, reads are all-ones
 *         (master abort: no device) and writes are dropped.
 *
 * The host bridge (0:0.0) is answered here; configuration cycles for any
 * other function go to the config_read/config_write hooks (the machine's PCI
 * bus), or master-abort without them.
 * Its configuration space: vendor 8086h (offset 0), device 1237h (offset 2),
 * class code 060000h (host bridge, offsets 9-0bh), the SMRAM register at
 * 72h; every other byte reads 0 and ignores writes (no PAM, DRB, command or
 * status registers are modelled).
 *
 * --- APM ports (I/O 0xb2-0xb3, one 2-byte region) ---
 *
 *   0xb2 APMC, read/write: a write calls hooks->apm_control (the machine
 *        raises the SMI; a PIIX also needs its APMC_EN bit, which is not
 *        modelled: every write raises it).
 *   0xb3 APMS, read/write scratch register, no side effect.
 *
 * Threading: none (the machine's thread).
 */
#ifndef MMUSIM_DEVICES_I440FX_SMRAM_H
#define MMUSIM_DEVICES_I440FX_SMRAM_H

#include "softmmu/region.h"

/* The SMRAM control register. */
#define I440FX_SMRAM_OFFSET 0x72u
#define I440FX_SMRAM_D_OPEN 0x40u
#define I440FX_SMRAM_D_CLS 0x20u
#define I440FX_SMRAM_D_LCK 0x10u
#define I440FX_SMRAM_G_SMRAME 0x08u
#define I440FX_SMRAM_C_BASE_SEG 0x07u
#define I440FX_SMRAM_DEFAULT 0x02u   /* C_BASE_SEG = 010b: 0xa0000 */
/* The compatible SMRAM window. */
#define I440FX_SMRAM_BASE 0xa0000u
#define I440FX_SMRAM_SIZE 0x20000u

/* Host bridge identity (0:0.0). */
#define I440FX_VENDOR_ID 0x8086u
#define I440FX_DEVICE_ID 0x1237u

/* Configuration mechanism #1. */
#define PCI_CONFIG_IO_BASE 0xcf8u
#define PCI_CONFIG_IO_SIZE 8u
#define PCI_CONFIG_ENABLE 0x80000000u

/* APM ports. */
#define APM_IO_BASE 0xb2u
#define APM_IO_SIZE 2u

typedef struct I440fx I440fx;

typedef struct I440fxHooks {
    /* The SMRAM register changed (its new value): re-evaluate every CPU. */
    void (*smram_changed)(void *opaque, uint8_t smram);
    /* A write to APMC (0xb2): raise the SMI. */
    void (*apm_control)(void *opaque, uint8_t value);
    /* Optional: configuration cycles for every function but the host
     * bridge (the PCI bus behind it, devices/pci.h), one call per CONFIG_DATA
     * access (size 1, 2 or 4 at offset (CONFIG_ADDRESS & 0xfc) + (port & 3)).
     * Absent: master abort (all-ones, writes dropped). */
    uint32_t (*config_read)(void *opaque, unsigned bus, unsigned dev, unsigned fn,
                            unsigned offset, unsigned size);
    void (*config_write)(void *opaque, unsigned bus, unsigned dev, unsigned fn, unsigned offset,
                         unsigned size, uint32_t value);
    void *opaque;
} I440fxHooks;

/* hooks may be NULL (nothing is told). Starts in the power-on state. */
I440fx *i440fx_new(const I440fxHooks *hooks, GError **err);
void i440fx_free(I440fx *c);

/* The I/O regions to map at PCI_CONFIG_IO_BASE and APM_IO_BASE (borrowed). */
MemRegion *i440fx_pci_io_region(I440fx *c);
MemRegion *i440fx_apm_region(I440fx *c);

/* Power-on reset: SMRAM 02h (D_LCK cleared), CONFIG_ADDRESS 0, APMC and
 * APMS 0. Calls smram_changed if the register changed. */
void i440fx_reset(I440fx *c);

/* The SMRAM register, and a configuration write of it (the lock rules
 * apply, smram_changed is called on a change). */
uint8_t i440fx_smram(const I440fx *c);
void i440fx_smram_write(I440fx *c, uint8_t value);
/* The rule above: does a CPU (in SMM or not) see SMRAM at 0xa0000? */
bool i440fx_smram_visible(uint8_t smram, bool in_smm);

/* Configuration space as mechanism #1 reaches it (size 1, 2 or 4 bytes,
 * little-endian, offset + size <= 256): all-ones for absent devices. */
uint32_t i440fx_config_read(I440fx *c, unsigned bus, unsigned dev, unsigned fn,
                            unsigned offset, unsigned size);
void i440fx_config_write(I440fx *c, unsigned bus, unsigned dev, unsigned fn,
                         unsigned offset, unsigned size, uint32_t value);

uint32_t i440fx_config_address(const I440fx *c);
uint8_t i440fx_apm_control(const I440fx *c);
uint8_t i440fx_apm_status(const I440fx *c);

#endif
