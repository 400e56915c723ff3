/*
 * IOMMU regions: accesses through the model's translation, and
 * invalidation notifiers (iommu.h has the semantics).
 *
 * address_space.c hands every access that lands in an IOMMU section here
 * (section_access for byte buffers, section_val for value accesses). The
 * access is cut where the translation's extent ends; each piece is checked
 * against the entry's permissions and performed in the target address
 * space through the public access functions, so whatever the target maps
 * there (RAM, MMIO, another IOMMU) answers as it would to anyone else.
 *
 * Nesting is bounded by a per-thread count of translations in progress: a
 * loop (an IOMMU whose target routes back into it, directly or through
 * others) fails with MEM_DECODE_ERROR once MEM_IOMMU_MAX_DEPTH translations
 * are stacked, instead of recursing until the host stack runs out.
 */
#include <string.h>

#include "softmmu/iommu.h"
#include "softmmu/region_internal.h"

typedef struct IommuNotifier {
    MemIommuNotify fn;
    void *opaque;
    uint64_t id;    /* unique per registration: survives removals during a call */
} IommuNotifier;

static _Thread_local unsigned nest_depth;
static uint64_t next_notifier_id = 1;

#define DEFAULT_FAULT_MASK 0xfffull

static bool mask_ok(uint64_t mask)
{
    return (mask & (mask + 1)) == 0; /* 2^k - 1, UINT64_MAX included */
}

static void report_once(MemRegion *mr, const char *what, uint64_t addr)
{
    if (!mr->reported_iommu) {
        mr->reported_iommu = true;
        mem_report("IOMMU '%s' at offset 0x%" G_GINT64_MODIFIER "x: %s (reported once per region)",
                   mr->name, addr, what);
    }
}

/* Ask the model; false for a refusal or a malformed entry (reported). On
 * return out->addr_mask is always well formed. */
static bool translate(MemRegion *mr, uint64_t addr, bool is_write, MemAttrs attrs,
                      MemIommuEntry *out)
{
    *out = (MemIommuEntry){ .addr_mask = DEFAULT_FAULT_MASK, .perm = MEM_IOMMU_NONE };
    bool ok = mr->iommu_ops->translate(mr->opaque, addr, is_write, attrs, out);
    if (!mask_ok(out->addr_mask)) {
        if (ok) {
            report_once(mr, "translation with a malformed mask refused", addr);
        }
        out->addr_mask = DEFAULT_FAULT_MASK;
        return false;
    }
    if (ok && !out->target) {
        report_once(mr, "translation without a target space refused", addr);
        return false;
    }
    return ok;
}

/* Bytes from `addr` to the end of the entry covering it, capped at len. */
static uint64_t span(uint64_t addr, uint64_t mask, uint64_t len)
{
    uint64_t rest = (addr | mask) - addr; /* bytes after addr in the entry */
    return rest >= len - 1 ? len : rest + 1;
}

static MemResult forward_val(AddressSpace *target, uint64_t addr, MemAttrs attrs, uint8_t *buf,
                             unsigned size, bool is_write)
{
    uint64_t v = 0;
    MemResult r;
    if (is_write) {
        for (unsigned i = 0; i < size; i++) {
            v |= (uint64_t)buf[i] << (8 * i);
        }
        return as_write_val(target, addr, attrs, size, MEM_LITTLE_ENDIAN, v);
    }
    r = as_read_val(target, addr, attrs, size, MEM_LITTLE_ENDIAN, &v);
    for (unsigned i = 0; i < size; i++) {
        buf[i] = (uint8_t)(v >> (8 * i));
    }
    return r;
}

MemResult iommu_access(AddressSpace *as, MemRegion *mr, uint64_t offset, MemAttrs attrs,
                       uint8_t *buf, uint64_t len, bool is_write, bool value)
{
    MemResult res = MEM_OK;
    unsigned need = is_write ? MEM_IOMMU_WO : MEM_IOMMU_RO;
    /* Only an access that one entry covers whole stays a value access: the
     * last piece of a split one (chunk == remaining len) is a plain byte
     * range, and its size need not be 1, 2, 4 or 8. */
    const uint64_t total = len;
    while (len) {
        MemResult r;
        uint64_t chunk;
        bool forwarded = false;
        if (nest_depth >= MEM_IOMMU_MAX_DEPTH) {
            report_once(mr, "IOMMUs nested too deep (a translation loop?): access failed", offset);
            chunk = len;
            r = MEM_DECODE_ERROR;
        } else {
            MemIommuEntry e;
            bool ok = translate(mr, offset, is_write, attrs, &e);
            chunk = span(offset, e.addr_mask, len);
            if (!ok) {
                r = MEM_DECODE_ERROR;
            } else if (!(e.perm & need)) {
                r = MEM_ACCESS_ERROR;
            } else {
                uint64_t taddr = (e.translated_addr & ~e.addr_mask) | (offset & e.addr_mask);
                forwarded = true;
                nest_depth++;
                if (value && chunk == total) {
                    r = forward_val(e.target, taddr, attrs, buf, (unsigned)len, is_write);
                } else if (is_write) {
                    r = as_write(e.target, taddr, attrs, buf, chunk);
                } else {
                    r = as_read(e.target, taddr, attrs, buf, chunk);
                }
                nest_depth--;
            }
        }
        if (!forwarded && !is_write) {
            /* Refused here: nothing answered, read as unassigned. */
            memset(buf, as_fill_byte(as), chunk);
        }
        if (res == MEM_OK) {
            res = r;
        }
        offset += chunk;
        buf += chunk;
        len -= chunk;
    }
    return res;
}

bool mr_iommu_translate(MemRegion *iommu, uint64_t addr, bool is_write, MemAttrs attrs,
                        MemIommuEntry *out)
{
    if (!iommu || iommu->kind != MR_KIND_IOMMU || !out) {
        return false;
    }
    return translate(iommu, addr, is_write, attrs, out);
}

/* --- Invalidation notifiers --- */

void mr_iommu_add_notifier(MemRegion *iommu, MemIommuNotify fn, void *opaque)
{
    if (!iommu || iommu->kind != MR_KIND_IOMMU || !fn) {
        return;
    }
    if (!iommu->iommu_notifiers) {
        iommu->iommu_notifiers = g_array_new(FALSE, FALSE, sizeof(IommuNotifier));
    }
    IommuNotifier n = { fn, opaque, next_notifier_id++ };
    g_array_append_val(iommu->iommu_notifiers, n);
}

void mr_iommu_remove_notifier(MemRegion *iommu, MemIommuNotify fn, void *opaque)
{
    if (!iommu || !iommu->iommu_notifiers) {
        return;
    }
    GArray *a = iommu->iommu_notifiers;
    for (guint i = 0; i < a->len; i++) {
        IommuNotifier *n = &g_array_index(a, IommuNotifier, i);
        if (n->fn == fn && n->opaque == opaque) {
            g_array_remove_index(a, i);
            return;
        }
    }
}

guint mr_iommu_num_notifiers(const MemRegion *iommu)
{
    return iommu && iommu->iommu_notifiers ? iommu->iommu_notifiers->len : 0;
}

static bool still_registered(const GArray *a, uint64_t id)
{
    for (guint i = 0; a && i < a->len; i++) {
        if (g_array_index(a, IommuNotifier, i).id == id) {
            return true;
        }
    }
    return false;
}

void mr_iommu_invalidate(MemRegion *iommu, uint64_t addr, uint64_t mask)
{
    if (!iommu || iommu->kind != MR_KIND_IOMMU || !iommu->iommu_notifiers ||
        !iommu->iommu_notifiers->len) {
        return;
    }
    /* Call a snapshot, skipping whoever a previous call removed. */
    mr_ref(iommu);
    GArray *a = iommu->iommu_notifiers;
    guint n = a->len;
    IommuNotifier *snap = g_memdup2(a->data, n * sizeof(IommuNotifier));
    for (guint i = 0; i < n; i++) {
        if (still_registered(iommu->iommu_notifiers, snap[i].id)) {
            snap[i].fn(snap[i].opaque, iommu, addr, mask);
        }
    }
    g_free(snap);
    mr_unref(iommu);
}

void iommu_finalize(MemRegion *mr)
{
    if (mr->iommu_notifiers) {
        g_array_free(mr->iommu_notifiers, TRUE);
        mr->iommu_notifiers = NULL;
    }
}
