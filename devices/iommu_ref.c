/* The reference IOMMU (iommu_ref.h). */
#include "devices/iommu_ref.h"

#include "softmmu/dma.h"

typedef struct IotlbEntry {
    bool valid;
    uint64_t iova_page;
    uint64_t pa_page;
    unsigned perm;  /* MEM_IOMMU_* */
} IotlbEntry;

struct IommuRef {
    MemRegion *iommu;
    MemRegion *regs;
    AddressSpace *walk_as;
    AddressSpace *target_as;

    uint64_t root;
    uint32_t enable;
    uint32_t fault_status;
    uint64_t fault_addr;
    uint32_t fault_requester;

    IotlbEntry iotlb[IOMMU_REF_IOTLB_SIZE];
    bool iotlb_off;  /* iommu_ref_set_iotlb(false): walk every time */
    uint64_t walks;
    uint64_t translations;
};

/* --- Faults. --- */

static void latch_fault(IommuRef *r, uint64_t iova, bool is_write, uint32_t kind,
                        MemAttrs attrs)
{
    if (attrs.debug) {
        return;
    }
    if (r->fault_status & IOMMU_REF_FAULT_VALID) {
        r->fault_status |= IOMMU_REF_FAULT_OVERFLOW;
        return;
    }
    r->fault_status = (r->fault_status & IOMMU_REF_FAULT_OVERFLOW) | IOMMU_REF_FAULT_VALID |
                      (is_write ? IOMMU_REF_FAULT_WRITE : 0) | kind;
    r->fault_addr = iova;
    r->fault_requester = attrs.requester;
}

/* --- IOTLB. --- */

static IotlbEntry *iotlb_slot(IommuRef *r, uint64_t iova_page)
{
    return &r->iotlb[(iova_page >> 12) % IOMMU_REF_IOTLB_SIZE];
}

static void flush_all(IommuRef *r)
{
    for (unsigned i = 0; i < IOMMU_REF_IOTLB_SIZE; i++) {
        r->iotlb[i].valid = false;
    }
    mr_iommu_invalidate(r->iommu, 0, UINT64_MAX);
}

static void flush_page(IommuRef *r, uint64_t iova)
{
    uint64_t page = iova & ~0xfffull;
    IotlbEntry *e = iotlb_slot(r, page);

    if (e->valid && e->iova_page == page) {
        e->valid = false;
    }
    mr_iommu_invalidate(r->iommu, page, 0xfff);
}

/* --- Translation. --- */

static unsigned pte_perm(uint32_t pte)
{
    return ((pte & IOMMU_REF_PTE_READ) ? MEM_IOMMU_RO : 0u) |
           ((pte & IOMMU_REF_PTE_WRITE) ? MEM_IOMMU_WO : 0u);
}

/* Walk the tables for `iova`. True: *pte holds a valid leaf entry. False:
 * *walk_failed tells whether a table read failed (else: not present). */
static bool walk(IommuRef *r, uint64_t iova, MemAttrs attrs, uint32_t *pte, bool *walk_failed)
{
    uint64_t root = r->root & ~0xfffull;
    uint64_t v = 0;

    r->walks++;
    *walk_failed = false;
    if (dma_read_val(r->walk_as, root + ((iova >> 22) & 0x3ff) * 4u, 4, MEM_LITTLE_ENDIAN,
                     attrs, &v) != MEM_OK) {
        *walk_failed = true;
        return false;
    }
    if (!(v & IOMMU_REF_PTE_VALID)) {
        return false;
    }
    uint64_t leaf = v & IOMMU_REF_PTE_ADDR;

    if (dma_read_val(r->walk_as, leaf + ((iova >> 12) & 0x3ff) * 4u, 4, MEM_LITTLE_ENDIAN,
                     attrs, &v) != MEM_OK) {
        *walk_failed = true;
        return false;
    }
    if (!(v & IOMMU_REF_PTE_VALID)) {
        return false;
    }
    *pte = (uint32_t)v;
    return true;
}

static bool iommu_ref_translate(void *opaque, uint64_t addr, bool is_write, MemAttrs attrs,
                                MemIommuEntry *out)
{
    IommuRef *r = opaque;

    r->translations++;
    if (!(r->enable & IOMMU_REF_ENABLE_ON)) {
        out->target = r->target_as;
        out->translated_addr = 0;
        out->addr_mask = IOMMU_REF_IOVA_SIZE - 1;
        out->perm = MEM_IOMMU_RW;
        return true;
    }

    uint64_t page = addr & ~0xfffull;
    /* Without the IOTLB the walk fills a scratch entry that is never looked up. */
    IotlbEntry scratch = { 0 };
    IotlbEntry *e = r->iotlb_off ? &scratch : iotlb_slot(r, page);

    if (!e->valid || e->iova_page != page) {
        uint32_t pte = 0;
        bool walk_failed;

        if (!walk(r, addr, attrs, &pte, &walk_failed)) {
            latch_fault(r, addr, is_write, walk_failed ? IOMMU_REF_FAULT_WALK : 0, attrs);
            out->addr_mask = 0xfff;
            return false;
        }
        e->valid = true;
        e->iova_page = page;
        e->pa_page = pte & IOMMU_REF_PTE_ADDR;
        e->perm = pte_perm(pte);
    }

    unsigned need = is_write ? MEM_IOMMU_WO : MEM_IOMMU_RO;

    if (!(e->perm & need)) {
        latch_fault(r, addr, is_write, IOMMU_REF_FAULT_PERM, attrs);
    }
    out->target = r->target_as;
    out->translated_addr = e->pa_page;
    out->addr_mask = 0xfff;
    out->perm = e->perm;
    return true;
}

static const MemIommuOps iommu_ref_iommu_ops = { .translate = iommu_ref_translate };

/* --- Registers. --- */

static MemResult regs_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                           MemAttrs attrs)
{
    IommuRef *r = opaque;

    switch (offset) {
    case IOMMU_REF_ROOT_LO:
        *value = (uint32_t)r->root & ~0xfffu;
        break;
    case IOMMU_REF_ROOT_HI:
        *value = (uint32_t)(r->root >> 32);
        break;
    case IOMMU_REF_ENABLE:
        *value = r->enable;
        break;
    case IOMMU_REF_FAULT_STATUS:
        *value = r->fault_status;
        break;
    case IOMMU_REF_FAULT_ADDR_LO:
        *value = (uint32_t)r->fault_addr;
        break;
    case IOMMU_REF_FAULT_ADDR_HI:
        *value = (uint32_t)(r->fault_addr >> 32);
        break;
    case IOMMU_REF_FAULT_REQUESTER:
        *value = r->fault_requester;
        break;
    default:
        *value = 0;  /* INVALIDATE is write-only */
        break;
    }
    return MEM_OK;
}

static MemResult regs_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                            MemAttrs attrs)
{
    IommuRef *r = opaque;
    uint32_t v = (uint32_t)value;

    switch (offset) {
    case IOMMU_REF_ROOT_LO:
        r->root = (r->root & 0xffffffff00000000ull) | (v & ~0xfffu);
        flush_all(r);
        break;
    case IOMMU_REF_ROOT_HI:
        r->root = (r->root & 0xffffffffull) | ((uint64_t)v << 32);
        flush_all(r);
        break;
    case IOMMU_REF_ENABLE: {
        uint32_t en = v & IOMMU_REF_ENABLE_ON;

        if (en != r->enable) {
            r->enable = en;
            flush_all(r);
        }
        break;
    }
    case IOMMU_REF_FAULT_STATUS:
        if (v & IOMMU_REF_FAULT_VALID) {
            r->fault_status &= IOMMU_REF_FAULT_OVERFLOW;
            r->fault_addr = 0;
            r->fault_requester = 0;
        }
        if (v & IOMMU_REF_FAULT_OVERFLOW) {
            r->fault_status &= ~IOMMU_REF_FAULT_OVERFLOW;
        }
        break;
    case IOMMU_REF_INVALIDATE:
        if (v == IOMMU_REF_INVALIDATE_ALL) {
            flush_all(r);
        } else {
            flush_page(r, v);
        }
        break;
    default:
        break;  /* read-only registers ignore writes */
    }
    return MEM_OK;
}

static const MemRegionOps iommu_ref_regs_ops = {
    .read = regs_read,
    .write = regs_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

/* --- Life cycle. --- */

IommuRef *iommu_ref_new(AddressSpace *walk_as, AddressSpace *target_as, GError **err)
{
    if (!walk_as || !target_as) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "iommu-ref: walk and target address spaces are required");
        return NULL;
    }
    IommuRef *r = g_new0(IommuRef, 1);

    r->walk_as = walk_as;
    r->target_as = target_as;
    r->iommu = mr_new_iommu("iommu-ref", IOMMU_REF_IOVA_SIZE, &iommu_ref_iommu_ops, r, err);
    if (!r->iommu) {
        g_free(r);
        return NULL;
    }
    r->regs = mr_new_mmio("iommu-ref-regs", IOMMU_REF_REGS_SIZE, &iommu_ref_regs_ops, r, err);
    if (!r->regs) {
        mr_unref(r->iommu);
        g_free(r);
        return NULL;
    }
    return r;
}

void iommu_ref_reset(IommuRef *r)
{
    r->root = 0;
    r->enable = 0;
    r->fault_status = 0;
    r->fault_addr = 0;
    r->fault_requester = 0;
    flush_all(r);   /* the IOTLB, and everyone who mapped through us */
}

void iommu_ref_free(IommuRef *r)
{
    if (r) {
        mr_unref(r->regs);
        mr_unref(r->iommu);
        g_free(r);
    }
}

MemRegion *iommu_ref_region(IommuRef *r)
{
    return r->iommu;
}

MemRegion *iommu_ref_regs(IommuRef *r)
{
    return r->regs;
}

uint64_t iommu_ref_walks(const IommuRef *r)
{
    return r->walks;
}

uint64_t iommu_ref_translations(const IommuRef *r)
{
    return r->translations;
}

void iommu_ref_set_iotlb(IommuRef *r, bool on)
{
    r->iotlb_off = !on;
    for (unsigned i = 0; i < IOMMU_REF_IOTLB_SIZE; i++) {
        r->iotlb[i].valid = false;
    }
}
