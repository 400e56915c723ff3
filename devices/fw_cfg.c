/*
 * Minimal fw_cfg (fw_cfg.h): the traditional selector/data port interface
 * of QEMU's documented guest-side hardware interface.
 */
#include "devices/fw_cfg.h"

#include <string.h>

enum {
    REP_NARROW_SELECT = 1u << 0,
    REP_DATA_WRITE = 1u << 1,
};

struct FwCfg {
    MemRegion *mr;
    char *name;
    GHashTable *items;   /* key (GUINT_TO_POINTER(key + 1)) -> GBytes */
    uint16_t selector;
    uint32_t offset;
    unsigned reported;
};

static bool report_once(FwCfg *f, unsigned kind)
{
    if (f->reported & kind) {
        return false;
    }
    f->reported |= kind;
    return true;
}

static gpointer key_ptr(uint16_t key)
{
    return GUINT_TO_POINTER((guint)key + 1);
}

/* The next data byte: 0 past the end or without an item (fw_cfg spec). */
static uint8_t data_byte(FwCfg *f)
{
    GBytes *b = g_hash_table_lookup(f->items, key_ptr(f->selector));
    gsize len = 0;
    const uint8_t *p = b ? g_bytes_get_data(b, &len) : NULL;
    uint8_t v = 0;

    if (p && f->offset < len) {
        v = p[f->offset];
    }
    /* The offset stops counting where no item could reach (items are far
     * smaller than 4 GiB), so it never wraps back into the data. */
    if (f->offset < UINT32_MAX) {
        f->offset++;
    }
    return v;
}

static MemResult fw_cfg_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                             G_GNUC_UNUSED MemAttrs attrs)
{
    FwCfg *f = opaque;

    /* offset 0: the write-only selector reads 0. */
    *value = (offset == 1 && size == 1) ? data_byte(f) : 0;
    return MEM_OK;
}

static MemResult fw_cfg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                              G_GNUC_UNUSED MemAttrs attrs)
{
    FwCfg *f = opaque;

    if (offset == 0 && size == 2) {
        f->selector = (uint16_t)value;
        f->offset = 0;
    } else if (offset == 0) {
        if (report_once(f, REP_NARROW_SELECT)) {
            mem_report("%s: %u-byte write to the 16-bit selector ignored (reported once)",
                       f->name, size);
        }
    } else if (report_once(f, REP_DATA_WRITE)) {
        mem_report("%s: write to the data port ignored: items are read-only (reported once)",
                   f->name);
    }
    return MEM_OK;
}

static const MemRegionOps fw_cfg_ops = {
    .read = fw_cfg_read,
    .write = fw_cfg_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 2, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 2, .unaligned = true },
};

FwCfg *fw_cfg_new(const char *name, GError **err)
{
    FwCfg *f = g_new0(FwCfg, 1);

    f->name = g_strdup(name ? name : "fw_cfg");
    f->items = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_bytes_unref);
    f->mr = mr_new_mmio(f->name, FW_CFG_IO_SIZE, &fw_cfg_ops, f, err);
    if (!f->mr) {
        g_hash_table_unref(f->items);
        g_free(f->name);
        g_free(f);
        return NULL;
    }
    return f;
}

void fw_cfg_free(FwCfg *f)
{
    if (!f) {
        return;
    }
    mr_unref(f->mr);
    g_hash_table_unref(f->items);
    g_free(f->name);
    g_free(f);
}

MemRegion *fw_cfg_region(FwCfg *f)
{
    return f->mr;
}

void fw_cfg_add_bytes(FwCfg *f, uint16_t key, const void *data, size_t len)
{
    g_hash_table_replace(f->items, key_ptr(key), g_bytes_new(data, len));
}

void fw_cfg_add_i16(FwCfg *f, uint16_t key, uint16_t value)
{
    uint8_t b[2] = { (uint8_t)value, (uint8_t)(value >> 8) };

    fw_cfg_add_bytes(f, key, b, sizeof(b));
}

void fw_cfg_add_i32(FwCfg *f, uint16_t key, uint32_t value)
{
    uint8_t b[4];

    for (unsigned i = 0; i < 4; i++) {
        b[i] = (uint8_t)(value >> (8 * i));
    }
    fw_cfg_add_bytes(f, key, b, sizeof(b));
}

void fw_cfg_add_i64(FwCfg *f, uint16_t key, uint64_t value)
{
    uint8_t b[8];

    for (unsigned i = 0; i < 8; i++) {
        b[i] = (uint8_t)(value >> (8 * i));
    }
    fw_cfg_add_bytes(f, key, b, sizeof(b));
}

void fw_cfg_reset(FwCfg *f)
{
    f->selector = 0;
    f->offset = 0;
}

uint16_t fw_cfg_selector(const FwCfg *f)
{
    return f->selector;
}

uint32_t fw_cfg_offset(const FwCfg *f)
{
    return f->offset;
}
