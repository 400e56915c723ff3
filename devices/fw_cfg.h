/*
 * A minimal firmware configuration device with the guest interface of
 * QEMU's fw_cfg, as QEMU documents it (docs/specs/fw_cfg.rst, "Guest-side
 * Hardware Interface"), so that images written for QEMU's pc find what they
 * expect. Only the traditional I/O-port interface is offered; the DMA
 * interface is not (FW_CFG_ID reads 1: bit 0 "traditional interface", bit 1
 * "DMA" clear, so a guest that checks the ID never touches 0x514).
 *
 * Registers (x86 I/O ports, little-endian; PCs map the region at 0x510):
 *
 *   offset 0  selector (0x510), 16-bit, write-only. Writing a key selects an
 *             item and sets the data offset to 0. Bit 14 (the "write
 *             channel") and bit 15 ("architecture-local") are part of the
 *             key: an item is found only under the exact key it was added
 *             with. Reads return 0; 1-byte writes are ignored (the selector
 *             is a 16-bit register), reported once.
 *   offset 1  data (0x511), 8-bit. Each read returns the byte at the data
 *             offset of the selected item and advances the offset; past
 *             the item's end, and for a key with no item, reads return 0
 *             (the documented behaviour). Writes are ignored: every item
 *             here is read-only (QEMU ignores data-port writes too, unless
 *             the item was made writable), reported once.
 *
 * Items are byte strings copied in at fw_cfg_add_*; the integer helpers
 * store little-endian values, as the well-known keys below are defined.
 *
 * Not modelled: the DMA interface (0x514), writable items, the file
 * directory (key 0x19 has no item, so it reads as a count of 0 files), MMIO
 * placement and its big-endian selector.
 */
#ifndef MMUSIM_DEVICES_FW_CFG_H
#define MMUSIM_DEVICES_FW_CFG_H

#include "softmmu/region.h"

#define FW_CFG_IO_BASE 0x510u
#define FW_CFG_IO_SIZE 2u

/* Well-known keys (QEMU's fw_cfg specification). */
enum {
    FW_CFG_SIGNATURE = 0x0000,  /* "QEMU" */
    FW_CFG_ID = 0x0001,         /* 32-bit feature bitmap */
    FW_CFG_UUID = 0x0002,
    FW_CFG_RAM_SIZE = 0x0003,   /* 64-bit */
    FW_CFG_NOGRAPHIC = 0x0004,
    FW_CFG_NB_CPUS = 0x0005,    /* 16-bit */
    FW_CFG_MACHINE_ID = 0x0006,
    FW_CFG_MAX_CPUS = 0x000f,   /* 16-bit */
    FW_CFG_FILE_DIR = 0x0019,
};

#define FW_CFG_ID_TRADITIONAL 1u  /* FW_CFG_ID bit 0 */
#define FW_CFG_ID_DMA 2u          /* FW_CFG_ID bit 1 (not offered) */

typedef struct FwCfg FwCfg;

/* An empty device (name NULL: "fw_cfg"); add items, then map its region. */
FwCfg *fw_cfg_new(const char *name, GError **err);
void fw_cfg_free(FwCfg *f);

/* The 2-byte register block (borrowed). */
MemRegion *fw_cfg_region(FwCfg *f);

/* Add or replace the item under `key` (its bytes are copied). */
void fw_cfg_add_bytes(FwCfg *f, uint16_t key, const void *data, size_t len);
void fw_cfg_add_i16(FwCfg *f, uint16_t key, uint16_t value);  /* little-endian */
void fw_cfg_add_i32(FwCfg *f, uint16_t key, uint32_t value);
void fw_cfg_add_i64(FwCfg *f, uint16_t key, uint64_t value);

/* Selector 0, data offset 0 (what a machine reset does). Items are kept. */
void fw_cfg_reset(FwCfg *f);

/* The selected key and the data offset (introspection, tests). */
uint16_t fw_cfg_selector(const FwCfg *f);
uint32_t fw_cfg_offset(const FwCfg *f);

#endif
