/*
 * Device accesses with size emulation (memory-semantics.md §4).
 *
 * A region's ops declare the sizes it accepts (`valid`) and the sizes its
 * callbacks implement (`impl`). An accepted access is carried out in units
 * of the implemented size nearest to it:
 *   - narrower than impl.min: the unit containing it is read, and for a
 *     write the unit is then written back with the new bytes merged in
 *     (read-modify-write);
 *   - wider than impl.max: split into impl.max units, lowest address first;
 *   - misaligned for a callback that needs alignment: the aligned units it
 *     touches, each read (and merged, for writes) as above.
 * Bytes travel in memory order; a unit's value is converted with the
 * device's byte order, so a big-endian device sees its most significant
 * byte at the lowest address.
 */
#include <string.h>

#include "softmmu/region_internal.h"

static unsigned lim_min(const MemAccessLimits *l) { return l->min_access_size ? l->min_access_size : 1; }
static unsigned lim_max(const MemAccessLimits *l) { return l->max_access_size ? l->max_access_size : 4; }

bool mr_ops_big_endian(const MemRegion *mr, MemEndian target)
{
    MemEndian e = mr->ops->endianness;
    return e == MEM_BIG_ENDIAN || (e == MEM_TARGET_ENDIAN && target == MEM_BIG_ENDIAN);
}

static uint64_t unit_value(const uint8_t *b, unsigned size, bool big)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)b[i] << (8 * (big ? size - 1 - i : i));
    }
    return v;
}

static void unit_bytes(uint64_t v, uint8_t *b, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++) {
        b[i] = (uint8_t)(v >> (8 * (big ? size - 1 - i : i)));
    }
}

static MemResult call_read(MemRegion *mr, uint64_t off, uint8_t *b, unsigned size, MemAttrs attrs,
                           bool big)
{
    uint64_t v = 0;
    MemResult r = mr->ops->read(mr->opaque, off, &v, size, attrs);
    if (r != MEM_OK) {
        v = 0; /* a refused read yields zeros, never stale host bytes */
    }
    unit_bytes(v, b, size, big);
    return r;
}

MemResult mmio_access(MemRegion *mr, uint64_t offset, uint8_t *bytes, unsigned size,
                      MemAttrs attrs, bool is_write, bool big)
{
    const MemRegionOps *ops = mr->ops;
    if ((size & (size - 1)) || size == 0 || size < lim_min(&ops->valid) ||
        size > lim_max(&ops->valid) || (!ops->valid.unaligned && (offset & (size - 1)))) {
        if (!is_write) {
            memset(bytes, 0, size);
        }
        return MEM_ACCESS_ERROR;
    }
    if (is_write ? !ops->write : !ops->read) {
        if (!is_write) {
            memset(bytes, 0, size);
        }
        return MEM_DEVICE_ERROR;
    }
    unsigned unit = size;
    unit = MAX(unit, lim_min(&ops->impl));
    unit = MIN(unit, lim_max(&ops->impl));
    bool aligned = !(offset & (unit - 1));
    if (unit == size && (aligned || ops->impl.unaligned)) {
        if (!is_write) {
            return call_read(mr, offset, bytes, size, attrs, big);
        }
        return ops->write(mr->opaque, offset, unit_value(bytes, size, big), size, attrs);
    }

    /* Emulate: walk the units covering [offset, offset + size). */
    MemResult res = MEM_OK;
    uint64_t first = ops->impl.unaligned ? offset : offset & ~(uint64_t)(unit - 1);
    for (uint64_t u = first; u < offset + size; u += unit) {
        uint8_t ub[8];
        /* Byte range of the access inside this unit. */
        uint64_t lo = MAX(u, offset), hi = MIN(u + unit, offset + size);
        bool whole = lo == u && hi == u + unit;
        MemResult r = MEM_OK;
        if (!is_write || !whole) {
            if (ops->read) {
                r = call_read(mr, u, ub, unit, attrs, big);
            } else {
                memset(ub, 0, unit); /* write-only device: merge into zeros */
            }
        }
        if (is_write && r == MEM_OK) {
            memcpy(ub + (lo - u), bytes + (lo - offset), hi - lo);
            r = ops->write(mr->opaque, u, unit_value(ub, unit, big), unit, attrs);
        } else if (!is_write) {
            memcpy(bytes + (lo - offset), ub + (lo - u), hi - lo);
        }
        if (r != MEM_OK && res == MEM_OK) {
            res = r;
        }
    }
    return res;
}

MemResult mmio_access_buffer(MemRegion *mr, uint64_t offset, uint8_t *buf, uint64_t len,
                             MemAttrs attrs, bool is_write, bool big)
{
    const MemRegionOps *ops = mr->ops;
    MemResult res = MEM_OK;
    while (len) {
        /* The largest power of two the region accepts here. */
        unsigned l = lim_max(&ops->valid);
        while (l > len) {
            l >>= 1;
        }
        if (!ops->valid.unaligned) {
            while (offset & (l - 1)) {
                l >>= 1;
            }
        }
        MemResult r = mmio_access(mr, offset, buf, l, attrs, is_write, big);
        if (r != MEM_OK && res == MEM_OK) {
            res = r;
        }
        offset += l;
        buf += l;
        len -= l;
    }
    return res;
}
