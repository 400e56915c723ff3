/* The DMA engine (dma_engine.h). */
#include "devices/dma_engine.h"

#include "softmmu/dma.h"

struct DmaEngine {
    MemRegion *mr;
    AddressSpace *bus_as;
    DmaEngineHost host;
    void *opaque;

    uint64_t src;
    uint64_t dst;
    uint32_t len;
    uint32_t ctrl;    /* IRQ_EN only */
    uint32_t status;
    uint32_t xferred;
    bool irq_level;
    bool reported_busy_go;
};

static void update_irq(DmaEngine *d)
{
    bool level = (d->ctrl & DMA_ENGINE_CTRL_IRQ_EN) && (d->status & DMA_ENGINE_STATUS_DONE);

    if (level != d->irq_level) {
        d->irq_level = level;
        if (d->host.raise_irq) {
            d->host.raise_irq(d->opaque, level);
        }
    }
}

static void run_transfer(DmaEngine *d)
{
    MemAttrs attrs = mem_attrs_device(d->host.requester);
    uint8_t buf[DMA_ENGINE_CHUNK];
    uint64_t src = d->src, dst = d->dst;
    uint32_t left = d->len;
    MemResult res = MEM_OK;

    d->status = DMA_ENGINE_STATUS_BUSY;
    d->xferred = 0;
    update_irq(d);
    while (left) {
        uint64_t n = left;

        n = MIN(n, DMA_ENGINE_CHUNK - (src & (DMA_ENGINE_CHUNK - 1)));
        n = MIN(n, DMA_ENGINE_CHUNK - (dst & (DMA_ENGINE_CHUNK - 1)));
        res = dma_read(d->bus_as, src, buf, n, attrs);
        if (res != MEM_OK) {
            break;
        }
        res = dma_write(d->bus_as, dst, buf, n, attrs);
        if (res != MEM_OK) {
            break;
        }
        src += n;
        dst += n;
        left -= (uint32_t)n;
        d->xferred += (uint32_t)n;
    }
    d->status = DMA_ENGINE_STATUS_DONE;
    if (res != MEM_OK) {
        d->status |= DMA_ENGINE_STATUS_ERROR |
                     (((uint32_t)res << DMA_ENGINE_STATUS_CODE_SHIFT) &
                      DMA_ENGINE_STATUS_CODE_MASK);
    }
    update_irq(d);
}

static MemResult regs_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                           MemAttrs attrs)
{
    DmaEngine *d = opaque;

    switch (offset) {
    case DMA_ENGINE_SRC_LO:
        *value = (uint32_t)d->src;
        break;
    case DMA_ENGINE_SRC_HI:
        *value = (uint32_t)(d->src >> 32);
        break;
    case DMA_ENGINE_DST_LO:
        *value = (uint32_t)d->dst;
        break;
    case DMA_ENGINE_DST_HI:
        *value = (uint32_t)(d->dst >> 32);
        break;
    case DMA_ENGINE_LEN:
        *value = d->len;
        break;
    case DMA_ENGINE_CTRL:
        *value = d->ctrl;
        break;
    case DMA_ENGINE_STATUS:
        *value = d->status;
        break;
    case DMA_ENGINE_XFERRED:
        *value = d->xferred;
        break;
    default:
        *value = 0;
        break;
    }
    return MEM_OK;
}

static MemResult regs_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                            MemAttrs attrs)
{
    DmaEngine *d = opaque;
    uint32_t v = (uint32_t)value;

    switch (offset) {
    case DMA_ENGINE_SRC_LO:
        d->src = (d->src & 0xffffffff00000000ull) | v;
        break;
    case DMA_ENGINE_SRC_HI:
        d->src = (d->src & 0xffffffffull) | ((uint64_t)v << 32);
        break;
    case DMA_ENGINE_DST_LO:
        d->dst = (d->dst & 0xffffffff00000000ull) | v;
        break;
    case DMA_ENGINE_DST_HI:
        d->dst = (d->dst & 0xffffffffull) | ((uint64_t)v << 32);
        break;
    case DMA_ENGINE_LEN:
        d->len = v;
        break;
    case DMA_ENGINE_CTRL: {
        bool go = (v & DMA_ENGINE_CTRL_GO) != 0;

        if (go && (d->status & DMA_ENGINE_STATUS_BUSY)) {
            go = false;
            if (!d->reported_busy_go) {
                d->reported_busy_go = true;
                mem_report("%s: GO while a transfer is running, ignored", mr_name(d->mr));
            }
        }
        if (go) {
            /* The previous completion goes away before IRQ_EN takes effect,
             * so enabling the interrupt with GO gives one edge, at the end. */
            d->status = 0;
        }
        d->ctrl = v & DMA_ENGINE_CTRL_IRQ_EN;
        update_irq(d);
        if (go) {
            run_transfer(d);
        }
        break;
    }
    case DMA_ENGINE_STATUS:
        if (v & DMA_ENGINE_STATUS_DONE) {
            d->status &= ~DMA_ENGINE_STATUS_DONE;
        }
        if (v & DMA_ENGINE_STATUS_ERROR) {
            d->status &= ~(DMA_ENGINE_STATUS_ERROR | DMA_ENGINE_STATUS_CODE_MASK);
        }
        update_irq(d);
        break;
    default:
        break;  /* XFERRED is read-only */
    }
    return MEM_OK;
}

static const MemRegionOps dma_engine_ops = {
    .read = regs_read,
    .write = regs_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

DmaEngine *dma_engine_new(AddressSpace *bus_as, const DmaEngineHost *host, void *opaque,
                          GError **err)
{
    if (!bus_as) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "dma-engine: a bus address space is required");
        return NULL;
    }
    DmaEngine *d = g_new0(DmaEngine, 1);

    d->bus_as = bus_as;
    if (host) {
        d->host = *host;
    }
    d->opaque = opaque;
    d->mr = mr_new_mmio("dma-engine", DMA_ENGINE_REGS_SIZE, &dma_engine_ops, d, err);
    if (!d->mr) {
        g_free(d);
        return NULL;
    }
    return d;
}

void dma_engine_reset(DmaEngine *d)
{
    d->src = d->dst = 0;
    d->len = d->ctrl = d->status = d->xferred = 0;
    update_irq(d);
}

void dma_engine_free(DmaEngine *d)
{
    if (d) {
        mr_unref(d->mr);
        g_free(d);
    }
}

MemRegion *dma_engine_regs(DmaEngine *d)
{
    return d->mr;
}

bool dma_engine_irq_level(const DmaEngine *d)
{
    return d->irq_level;
}
