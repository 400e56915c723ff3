/*
 * DMA helpers: byte and value accesses through a device's address space,
 * and map/unmap with direct RAM pointers, bounce buffers and revocation.
 * The semantics are in dma.h.
 */
#include "softmmu/dma.h"

#include <inttypes.h>
#include <string.h>

#include "softmmu/iommu.h"

MemResult dma_read(AddressSpace *as, uint64_t addr, void *buf, uint64_t len, MemAttrs attrs)
{
    if (!len) {
        return MEM_OK;
    }
    return as_read(as, addr, attrs, buf, len);
}

MemResult dma_write(AddressSpace *as, uint64_t addr, const void *buf, uint64_t len,
                    MemAttrs attrs)
{
    if (!len) {
        return MEM_OK;
    }
    return as_write(as, addr, attrs, buf, len);
}

static bool valid_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

MemResult dma_read_val(AddressSpace *as, uint64_t addr, unsigned size, MemEndian endian,
                       MemAttrs attrs, uint64_t *val)
{
    *val = 0;
    if (!valid_size(size)) {
        return MEM_ACCESS_ERROR;
    }
    return as_read_val(as, addr, attrs, size, endian, val);
}

MemResult dma_write_val(AddressSpace *as, uint64_t addr, unsigned size, MemEndian endian,
                        MemAttrs attrs, uint64_t val)
{
    if (!valid_size(size)) {
        return MEM_ACCESS_ERROR;
    }
    return as_write_val(as, addr, attrs, size, endian, val);
}

/* ------------------------------------------------------------------ */
/* Mappings. */

/* One step of the path: the range starting at `addr` in `as` resolved to
 * `mr` at offset `off` (an IOMMU region, or the RAM-backed end of a direct
 * mapping). */
typedef struct DmaHop {
    AddressSpace *as;
    uint64_t addr;
    MemRegion *mr;
    uint64_t off;
    bool readonly;
    bool watched;  /* this hop registered the dispatch notifier of `as` */
} DmaHop;

#define DMA_MAX_HOPS (MEM_IOMMU_MAX_DEPTH + 1)

struct DmaMapping {
    MemResult result;
    bool is_write;
    bool direct;
    bool revoked;
    bool in_revoke;
    MemAttrs attrs;
    AddressSpace *as;  /* where the device mapped (bounce write-back) */
    uint64_t addr;
    uint64_t len;
    void *bounce;
    DmaRevokeFn revoke;
    void *opaque;
    guint nhops;
    DmaHop hops[DMA_MAX_HOPS];
};

/*
 * The run of at most `want` bytes starting at `addr` in `d` that one region
 * serves contiguously (across sections that continue it, e.g. where a
 * layered dispatch splits a range). Returns its length (>= 1) and the
 * region (NULL: unassigned), the offset of addr in it and the read-only flag.
 */
static uint64_t resolve_run(const Dispatch *d, uint64_t addr, uint64_t want, MemRegion **mr,
                            uint64_t *off, bool *ro)
{
    uint64_t last;
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, &last));
    *mr = s ? s->mr : NULL;
    *off = s ? s->offset_in_region + (addr - s->start) : 0;
    *ro = s ? s->readonly : false;
    uint64_t len = (last - addr >= want - 1) ? want : last - addr + 1;
    while (s && *mr && len < want) {
        uint64_t next = addr + len;
        const MemSection *s2 = dispatch_section(d, dispatch_lookup(d, next, &last));
        if (!s2 || s2->mr != *mr || s2->readonly != *ro ||
            s2->offset_in_region + (next - s2->start) != *off + len) {
            break;
        }
        uint64_t more = (last - next >= want - len - 1) ? want - len : last - next + 1;
        len += more;
    }
    return len;
}

static bool can_direct(MemRegion *mr, bool readonly, bool is_write)
{
    switch (mr_kind(mr)) {
    case MR_KIND_RAM:
        return !(is_write && readonly);
    case MR_KIND_ROM:
        return !is_write;
    case MR_KIND_ROMD:
        return !is_write && mr_romd_mode(mr);
    default:
        return false;
    }
}

static void revoke_mapping(DmaMapping *m)
{
    if (m->revoked) {
        return;
    }
    m->revoked = true;
    if (m->revoke) {
        m->in_revoke = true;
        m->revoke(m, m->opaque);
        m->in_revoke = false;
    }
}

static void on_dispatch(AddressSpace *as, Dispatch *old_d, Dispatch *new_d, void *opaque)
{
    DmaMapping *m = opaque;
    if (m->revoked) {
        return;
    }
    for (guint i = 0; i < m->nhops; i++) {
        const DmaHop *h = &m->hops[i];
        if (h->as != as) {
            continue;
        }
        MemRegion *mr;
        uint64_t off;
        bool ro;
        uint64_t run = resolve_run(new_d, h->addr, m->len, &mr, &off, &ro);
        if (run != m->len || mr != h->mr || off != h->off || ro != h->readonly) {
            revoke_mapping(m);
            return;
        }
    }
}

static void on_iommu(void *opaque, MemRegion *iommu, uint64_t addr, uint64_t mask)
{
    DmaMapping *m = opaque;
    if (m->revoked) {
        return;
    }
    uint64_t lo = addr & ~mask, hi = addr | mask;
    for (guint i = 0; i < m->nhops; i++) {
        const DmaHop *h = &m->hops[i];
        if (h->mr != iommu) {
            continue;
        }
        uint64_t first = h->off, last = h->off + (m->len - 1);
        if (first <= hi && lo <= last) {
            revoke_mapping(m);
            return;
        }
    }
}

static void *map_fail(DmaMapping *m, uint64_t *len, MemResult r)
{
    m->result = r;
    m->len = 0;
    *len = 0;
    return NULL;
}

void *dma_map(AddressSpace *as, uint64_t addr, uint64_t *len, bool is_write, MemAttrs attrs,
              DmaRevokeFn revoke, void *opaque, DmaMapping **out)
{
    DmaMapping *m = g_new0(DmaMapping, 1);
    *out = m;
    m->is_write = is_write;
    m->attrs = attrs;
    m->as = as;
    m->addr = addr;
    m->revoke = revoke;
    m->opaque = opaque;
    if (!as || !*len) {
        return map_fail(m, len, MEM_OK);
    }
    /* Never run past the top of the space. */
    uint64_t n = *len;
    if (addr && n - 1 > UINT64_MAX - addr) {
        n = 0 - addr;
    }

    AddressSpace *cur_as = as;
    uint64_t cur = addr;
    MemRegion *mr = NULL;
    uint64_t off = 0;
    bool ro = false;
    for (;;) {
        if (m->nhops == DMA_MAX_HOPS) {
            mem_report("dma_map: IOMMU nesting deeper than %d at 0x%" PRIx64 " in %s",
                       MEM_IOMMU_MAX_DEPTH, addr, as_name(as));
            m->nhops = 0;
            return map_fail(m, len, MEM_DECODE_ERROR);
        }
        uint64_t run = resolve_run(as_dispatch(cur_as), cur, n, &mr, &off, &ro);
        if (!mr) {
            m->nhops = 0;
            return map_fail(m, len, MEM_DECODE_ERROR);
        }
        m->hops[m->nhops++] = (DmaHop){ cur_as, cur, mr, off, ro, false };
        n = run;
        if (mr_kind(mr) != MR_KIND_IOMMU) {
            break;
        }
        MemIommuEntry e;
        if (!mr_iommu_translate(mr, off, is_write, attrs, &e)) {
            m->nhops = 0;
            return map_fail(m, len, MEM_DECODE_ERROR);
        }
        if (!(e.perm & (is_write ? MEM_IOMMU_WO : MEM_IOMMU_RO))) {
            m->nhops = 0;
            return map_fail(m, len, MEM_ACCESS_ERROR);
        }
        uint64_t rest = e.addr_mask - (off & e.addr_mask); /* bytes after off in the entry */
        if (rest < n - 1) {
            n = rest + 1;
        }
        cur_as = e.target;
        cur = (e.translated_addr & ~e.addr_mask) | (off & e.addr_mask);
    }

    if (can_direct(mr, ro, is_write)) {
        m->direct = true;
        m->len = n;
        *len = n;
        for (guint i = 0; i < m->nhops; i++) {
            DmaHop *h = &m->hops[i];
            mr_ref(h->mr);
            if (mr_kind(h->mr) == MR_KIND_IOMMU) {
                mr_iommu_add_notifier(h->mr, on_iommu, m);
            }
            bool seen = false;
            for (guint j = 0; j < i; j++) {
                seen = seen || m->hops[j].as == h->as;
            }
            if (!seen) {
                as_add_dispatch_notifier(h->as, on_dispatch, m);
                h->watched = true;
            }
        }
        return (uint8_t *)mr_ram_ptr(mr) + off;
    }

    /* Bounce: a private copy; accesses go through the space the device
     * mapped from, translating anew, so nothing needs watching. */
    m->nhops = 0;
    if (n > DMA_BOUNCE_MAX) {
        n = DMA_BOUNCE_MAX;
    }
    m->bounce = g_malloc0(n);
    m->len = n;
    if (!is_write) {
        MemResult r = as_read(as, addr, attrs, m->bounce, n);
        if (r != MEM_OK) {
            g_free(m->bounce);
            m->bounce = NULL;
            return map_fail(m, len, r);
        }
    }
    *len = n;
    return m->bounce;
}

MemResult dma_unmap(DmaMapping *m, uint64_t access_len)
{
    if (!m) {
        return MEM_OK;
    }
    if (m->in_revoke) {
        mem_report("dma_unmap called from the mapping's revoke callback: ignored");
        return MEM_OK;
    }
    MemResult r = MEM_OK;
    if (access_len > m->len) {
        access_len = m->len;
    }
    if (m->direct) {
        const DmaHop *end = &m->hops[m->nhops - 1];
        if (m->is_write && access_len) {
            mr_note_write(end->mr, end->off, access_len);
        }
        for (guint i = 0; i < m->nhops; i++) {
            DmaHop *h = &m->hops[i];
            if (h->watched) {
                as_remove_dispatch_notifier(h->as, on_dispatch, m);
            }
            if (mr_kind(h->mr) == MR_KIND_IOMMU) {
                mr_iommu_remove_notifier(h->mr, on_iommu, m);
            }
            mr_unref(h->mr);
        }
    } else if (m->bounce) {
        if (m->is_write && access_len) {
            r = as_write(m->as, m->addr, m->attrs, m->bounce, access_len);
        }
        g_free(m->bounce);
    }
    g_free(m);
    return r;
}

MemResult dma_mapping_result(const DmaMapping *m) { return m->result; }
bool dma_mapping_is_direct(const DmaMapping *m) { return m->direct; }
bool dma_mapping_revoked(const DmaMapping *m) { return m->revoked; }
uint64_t dma_mapping_len(const DmaMapping *m) { return m->len; }

MemRegion *dma_mapping_region(const DmaMapping *m)
{
    return m->direct ? m->hops[m->nhops - 1].mr : NULL;
}
