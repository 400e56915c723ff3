/*
 * Arm GIC: the Distributor (GICD_*) and the GICv3 Redistributors
 * (GICR_*), as the register descriptions of IHI 0048B and IHI 0069 give them. Register behaviour is described in
 * gic.h; comments here say why.
 *
 * Every access is reduced to 32-bit register operations: reads of any
 * width take the bytes of the containing word(s) (Distributor reads have
 * no side effects), writes narrower than 32 bits reach only the
 * byte-accessible registers, 64-bit accesses are two 32-bit halves (the
 * 64-bit registers, GICD_IROUTERn and GICR_TYPER, allow exactly that).
 */
#include "devices/gic_internal.h"

/* The bit-per-interrupt register blocks, in address order. */
enum { BITS_GROUP, BITS_SET_ENABLE, BITS_CLR_ENABLE, BITS_SET_PEND, BITS_CLR_PEND,
       BITS_SET_ACTIVE, BITS_CLR_ACTIVE };

static unsigned nr_words(const Gic *g)
{
    return (g->nirqs + 31u) / 32u;
}

/* ------------------------------------------------------------------ */
/* Register operations shared by GICD and the GICR SGI_base frame.
 * `c` is the bank for interrupts 0-31 (NULL: those read 0, writes are
 * ignored); `word` covers interrupts 32 * word .. 32 * word + 31. */

static uint32_t bits_read(Gic *g, GicCpu *c, unsigned kind, unsigned word)
{
    uint32_t v = 0;

    if (word == 0 && !c) {
        return 0;
    }
    for (unsigned i = 0; i < 32; i++) {
        unsigned irq = word * 32u + i;
        GicIrq *s;
        bool bit = false;

        if (irq >= g->nirqs) {
            break;
        }
        s = gic_irq(g, c, irq);
        switch (kind) {
        case BITS_GROUP:
            bit = s->group1;
            break;
        case BITS_SET_ENABLE:
        case BITS_CLR_ENABLE:
            bit = s->enabled;
            break;
        case BITS_SET_PEND:
        case BITS_CLR_PEND:
            bit = gic_irq_pending(g, c, irq, s);
            break;
        default:
            bit = s->active;
            break;
        }
        v |= (uint32_t)bit << i;
    }
    return v;
}

static void bits_write(Gic *g, GicCpu *c, unsigned kind, unsigned word, uint32_t v)
{
    if (word == 0 && !c) {
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        unsigned irq = word * 32u + i;
        bool bit = (v >> i) & 1u;
        GicIrq *s;

        if (irq >= g->nirqs) {
            break;
        }
        s = gic_irq(g, c, irq);
        switch (kind) {
        case BITS_GROUP:
            s->group1 = bit;
            break;
        case BITS_SET_ENABLE:
            s->enabled |= bit;
            break;
        case BITS_CLR_ENABLE:
            s->enabled &= !bit;
            break;
        case BITS_SET_PEND:
        case BITS_CLR_PEND:
            /* GICv2 SGI pending bits are read-only here: SGIs are made
             * pending per source through GICD_SGIR/SPENDSGIR (v2
             * GICD_ISPENDRn, GICD_ICPENDRn). */
            if (bit && !(g->version == 2 && irq < GIC_NR_SGIS)) {
                s->latch = kind == BITS_SET_PEND;
            }
            break;
        case BITS_SET_ACTIVE:
            s->active |= bit;
            break;
        default:
            s->active &= !bit;
            break;
        }
    }
    if (word == 0) {
        gic_update_cpu(g, c);
    } else {
        gic_update_all(g);
    }
}

/* ICFGR (v2 GICD_ICFGRn): two bits per interrupt, Int_config[1]
 * = edge; Int_config[0] is reserved (RAZ/WI). SGIs always edge (read-only
 * 0b10). */
static uint32_t cfg_read(Gic *g, GicCpu *c, unsigned reg)
{
    uint32_t v = 0;

    if (reg == 0) {
        return 0xaaaaaaaau;
    }
    if (reg == 1 && !c) {
        return 0;
    }
    for (unsigned i = 0; i < 16; i++) {
        unsigned irq = reg * 16u + i;
        if (irq >= g->nirqs) {
            break;
        }
        v |= (uint32_t)gic_irq(g, c, irq)->edge << (2 * i + 1);
    }
    return v;
}

static void cfg_write(Gic *g, GicCpu *c, unsigned reg, uint32_t v)
{
    if (reg == 0 || (reg == 1 && !c)) {
        return;
    }
    for (unsigned i = 0; i < 16; i++) {
        unsigned irq = reg * 16u + i;
        if (irq >= g->nirqs) {
            break;
        }
        gic_irq(g, c, irq)->edge = (v >> (2 * i + 1)) & 1u;
    }
    if (reg == 1) {
        gic_update_cpu(g, c);
    } else {
        gic_update_all(g);
    }
}

/* IPRIORITYR, byte-accessible: `mask` has one bit per byte written. */
static uint32_t prio_read(Gic *g, GicCpu *c, unsigned word)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < 4; i++) {
        unsigned irq = word * 4u + i;
        if (irq < g->nirqs && (irq >= GIC_NR_PRIVATE || c)) {
            v |= (uint32_t)gic_irq(g, c, irq)->prio << (8 * i);
        }
    }
    return v;
}

static void prio_write(Gic *g, GicCpu *c, unsigned word, uint32_t v, unsigned mask)
{
    for (unsigned i = 0; i < 4; i++) {
        unsigned irq = word * 4u + i;
        if ((mask >> i) & 1u && irq < g->nirqs && (irq >= GIC_NR_PRIVATE || c)) {
            gic_irq(g, c, irq)->prio = (uint8_t)((v >> (8 * i)) & g->pri_mask);
        }
    }
    if (word < GIC_NR_PRIVATE / 4u) {
        if (c) {
            gic_update_cpu(g, c);
        }
    } else {
        gic_update_all(g);
    }
}

/* ------------------------------------------------------------------ */
/* The Distributor. */

/* The CPU whose bank a Distributor access reaches (GICv2). */
static GicCpu *bank_of(Gic *g, MemAttrs attrs)
{
    if (attrs.requester_type == MEM_REQ_CPU && attrs.requester < g->ncpus) {
        return &g->cpu[attrs.requester];
    }
    gic_report(g, GIC_REP_BANK, "banked distributor register accessed by %s %u, not a CPU of "
               "this GIC: reads 0, writes ignored",
               attrs.requester_type == MEM_REQ_CPU ? "cpu" : "device", attrs.requester);
    return NULL;
}

/* Is the 32-bit word at `off` byte-accessible (v2 "Distributor register map")? */
static bool dist_byte_ok(const Gic *g, unsigned off)
{
    if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + 0x400) {
        return true;
    }
    if (g->version == 2) {
        return (off >= GICD_ITARGETSR && off < GICD_ITARGETSR + 0x400) ||
               (off >= GICD_CPENDSGIR && off < GICD_SPENDSGIR + 0x10);
    }
    return false;
}

/* ID registers (v2 "Identification registers", v3 GICD_PIDR2): the
 * architecture revision in PIDR2[7:4] is all software looks at. */
static uint32_t id_reg(const Gic *g, unsigned idx /* 0..11 from 0xfd0 */)
{
    static const uint8_t cidr[4] = { 0x0d, 0xf0, 0x05, 0xb1 };

    if (idx == 6) {   /* PIDR2: ArchRev, JEDEC, JEP106 id bits 6:4 (Arm: 0x3b) */
        return g->version == 2 ? 0x2bu : 0x3bu;
    }
    if (idx == 4) {   /* PIDR0 */
        return 0x90;
    }
    if (idx == 5) {   /* PIDR1: JEP106 id bits 3:0 (Arm 0x43b) */
        return 0xb4;
    }
    if (idx == 0) {   /* PIDR4: JEP106 continuation code 4 */
        return 0x04;
    }
    return idx >= 8 ? cidr[idx - 8] : 0;
}

static void reserved(Gic *g, const char *where, unsigned off, bool write)
{
    gic_report(g, GIC_REP_RESERVED, "%s of reserved %s offset 0x%04x: %s", write ? "write" : "read",
               where, off, write ? "ignored" : "reads 0");
}

static uint32_t dist_read32(Gic *g, unsigned off, MemAttrs attrs)
{
    unsigned nw = nr_words(g);
    bool v3 = g->version == 3;

    if (off == GICD_CTLR) {
        return g->dist_ctlr | (v3 ? GICD_CTLR_ARE | GICD_CTLR_DS : 0);
    }
    if (off == GICD_TYPER) {
        /* ITLinesNumber, CPUNumber; no Security Extensions. GICv3: IDbits
         * = 9 (10-bit INTIDs), no LPIs, no MBIS, 1-of-N supported. */
        uint32_t v = (nw - 1u) | ((MIN(g->ncpus, 8u) - 1u) << 5);
        return v3 ? v | (9u << 19) : v;
    }
    if (off == GICD_IIDR) {
        return v3 ? GICD_V3_IIDR_VALUE : GICD_V2_IIDR_VALUE;
    }
    if (off >= GICD_IGROUPR && off < GICD_IPRIORITYR) {
        unsigned kind = (off - GICD_IGROUPR) / 0x80u, word = (off % 0x80u) / 4u;
        if (word >= nw) {
            return 0;   /* registers of unimplemented interrupts: RAZ/WI */
        }
        if (word == 0) {
            /* GICv3 with affinity routing: the private interrupts live in
             * the Redistributors, these are RAZ/WI (v3 GICD_ISENABLER<n>: "when affinity routing is enabled"). */
            return v3 ? 0 : bits_read(g, bank_of(g, attrs), kind, 0);
        }
        return bits_read(g, NULL, kind, word);
    }
    if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + 0x400) {
        unsigned word = (off - GICD_IPRIORITYR) / 4u;
        if (word < GIC_NR_PRIVATE / 4u) {
            return v3 ? 0 : prio_read(g, bank_of(g, attrs), word);
        }
        return prio_read(g, NULL, word);
    }
    if (off >= GICD_ITARGETSR && off < GICD_ITARGETSR + 0x400) {
        unsigned first = off - GICD_ITARGETSR;
        uint32_t v = 0;
        if (v3 || g->ncpus == 1) {
            return 0;   /* RAZ/WI with ARE, or with one CPU (v2 GICD_ITARGETSRn) */
        }
        if (first < GIC_NR_PRIVATE) {
            /* Private interrupts: read-only, the accessing CPU's own bit. */
            GicCpu *c = bank_of(g, attrs);
            return c ? 0x01010101u << c->index : 0;
        }
        for (unsigned i = 0; i < 4; i++) {
            if (first + i < g->nirqs) {
                v |= (uint32_t)g->targets[first + i] << (8 * i);
            }
        }
        return v;
    }
    if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
        unsigned reg = (off - GICD_ICFGR) / 4u;
        if (reg < 2) {
            return v3 ? 0 : cfg_read(g, reg == 1 ? bank_of(g, attrs) : NULL, reg);
        }
        return cfg_read(g, NULL, reg);
    }
    if ((off >= GICD_IGRPMODR && off < GICD_IGRPMODR + 0x80) ||
        (off >= GICD_NSACR && off < GICD_NSACR + 0x100)) {
        return 0;   /* one security state: RAZ/WI */
    }
    if (!v3) {
        if (off == GICD_SGIR) {
            return 0;   /* write-only */
        }
        if (off >= GICD_CPENDSGIR && off < GICD_SPENDSGIR + 0x10) {
            GicCpu *c = bank_of(g, attrs);
            unsigned first = ((off - GICD_CPENDSGIR) % 0x10u);
            uint32_t v = 0;
            for (unsigned i = 0; c && i < 4; i++) {
                v |= (uint32_t)c->sgi_src[first + i] << (8 * i);
            }
            return v;
        }
        if (off >= 0xfd0 && off < 0x1000) {
            return id_reg(g, (off - 0xfd0) / 4u);
        }
    } else {
        if (off >= GICD_IROUTER + GIC_NR_PRIVATE * 8u && off < GICD_IROUTER + 0x2000) {
            unsigned irq = (off - GICD_IROUTER) / 8u;
            if (irq >= g->nirqs) {
                return 0;
            }
            return (uint32_t)(g->irouter[irq] >> ((off & 4u) ? 32 : 0));
        }
        if (off >= GICD_IROUTER && off < GICD_IROUTER + GIC_NR_PRIVATE * 8u) {
            return 0;   /* IROUTER0-31 are reserved, RES0 */
        }
        if (off >= 0xffd0) {
            return id_reg(g, (off - 0xffd0) / 4u);
        }
    }
    reserved(g, "GICD", off, false);
    return 0;
}

/* A GICv2 GICD_SGIR write (v2 GICD_SGIR): the source is the writer. */
static void dist_sgir(Gic *g, uint32_t v, MemAttrs attrs)
{
    GicCpu *src = bank_of(g, attrs);
    unsigned filter = (v >> GICD_SGIR_FILTER_SHIFT) & 3u;
    unsigned all = (1u << g->ncpus) - 1u;
    unsigned sgi = v & 0xfu;
    unsigned targets;

    if (!src) {
        return;
    }
    switch (filter) {
    case GIC_SGI_FILTER_LIST:
        targets = (v >> GICD_SGIR_TARGETS_SHIFT) & all;
        break;
    case GIC_SGI_FILTER_OTHERS:
        targets = all & ~(1u << src->index);
        break;
    case GIC_SGI_FILTER_SELF:
        targets = 1u << src->index;
        break;
    default:
        gic_report(g, GIC_REP_SGI, "GICD_SGIR with reserved TargetListFilter 3: ignored");
        return;
    }
    for (unsigned t = 0; t < g->ncpus; t++) {
        if ((targets >> t) & 1u) {
            g->cpu[t].sgi_src[sgi] |= (uint8_t)(1u << src->index);
            gic_update_cpu(g, &g->cpu[t]);
        }
    }
}

/* `mask`: the bytes written (0xf for a full word). Only byte-accessible
 * registers are ever called with a partial mask. */
static void dist_write32(Gic *g, unsigned off, uint32_t v, unsigned mask, MemAttrs attrs)
{
    unsigned nw = nr_words(g);
    bool v3 = g->version == 3;

    if (off == GICD_CTLR) {
        g->dist_ctlr = v & (GICD_CTLR_ENABLE_GRP0 | GICD_CTLR_ENABLE_GRP1);
        gic_update_all(g);
        return;
    }
    if (off == GICD_TYPER || off == GICD_IIDR) {
        gic_report(g, GIC_REP_RO, "write to read-only GICD offset 0x%03x: ignored", off);
        return;
    }
    if (off >= GICD_IGROUPR && off < GICD_IPRIORITYR) {
        unsigned kind = (off - GICD_IGROUPR) / 0x80u, word = (off % 0x80u) / 4u;
        if (word >= nw || (word == 0 && v3)) {
            return;
        }
        bits_write(g, word == 0 ? bank_of(g, attrs) : NULL, kind, word, v);
        return;
    }
    if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + 0x400) {
        unsigned word = (off - GICD_IPRIORITYR) / 4u;
        if (word < GIC_NR_PRIVATE / 4u) {
            if (!v3) {
                prio_write(g, bank_of(g, attrs), word, v, mask);
            }
            return;
        }
        prio_write(g, NULL, word, v, mask);
        return;
    }
    if (off >= GICD_ITARGETSR && off < GICD_ITARGETSR + 0x400) {
        unsigned first = off - GICD_ITARGETSR;
        if (v3 || g->ncpus == 1 || first < GIC_NR_PRIVATE) {
            return;   /* RAZ/WI, or read-only for private interrupts */
        }
        for (unsigned i = 0; i < 4; i++) {
            if ((mask >> i) & 1u && first + i < g->nirqs) {
                g->targets[first + i] = (uint8_t)((v >> (8 * i)) & ((1u << g->ncpus) - 1u));
            }
        }
        gic_update_all(g);
        return;
    }
    if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
        unsigned reg = (off - GICD_ICFGR) / 4u;
        if (reg < 2) {
            if (!v3 && reg == 1) {
                cfg_write(g, bank_of(g, attrs), 1, v);
            }
            return;
        }
        cfg_write(g, NULL, reg, v);
        return;
    }
    if ((off >= GICD_IGRPMODR && off < GICD_IGRPMODR + 0x80) ||
        (off >= GICD_NSACR && off < GICD_NSACR + 0x100)) {
        return;
    }
    if (!v3) {
        if (off == GICD_SGIR) {
            dist_sgir(g, v, attrs);
            return;
        }
        if (off >= GICD_CPENDSGIR && off < GICD_SPENDSGIR + 0x10) {
            /* One byte per SGI, one bit per source CPU (v2 GICD_CPENDSGIRn,
             * GICD_SPENDSGIRn): write 1 to clear / set. */
            GicCpu *c = bank_of(g, attrs);
            bool set = off >= GICD_SPENDSGIR;
            unsigned first = (off - GICD_CPENDSGIR) % 0x10u;
            uint8_t valid = (uint8_t)((1u << g->ncpus) - 1u);
            if (!c) {
                return;
            }
            for (unsigned i = 0; i < 4; i++) {
                uint8_t b = (uint8_t)(v >> (8 * i)) & valid;
                if (!((mask >> i) & 1u)) {
                    continue;
                }
                if (set) {
                    c->sgi_src[first + i] |= b;
                } else {
                    c->sgi_src[first + i] &= (uint8_t)~b;
                }
            }
            gic_update_cpu(g, c);
            return;
        }
        if (off >= 0xfd0 && off < 0x1000) {
            gic_report(g, GIC_REP_RO, "write to GICD ID register 0x%03x: ignored", off);
            return;
        }
    } else {
        if (off >= GICD_IROUTER + GIC_NR_PRIVATE * 8u && off < GICD_IROUTER + 0x2000) {
            unsigned irq = (off - GICD_IROUTER) / 8u;
            unsigned sh = (off & 4u) ? 32 : 0;
            /* Aff0-2 and IRM in the low word, Aff3 in the high one; the
             * rest is RES0 (v3 GICD_IROUTER<n>). */
            const uint64_t writable = 0xff80ffffffull;
            uint64_t r;
            if (irq >= g->nirqs) {
                return;
            }
            r = (g->irouter[irq] & ~(0xffffffffull << sh)) | ((uint64_t)v << sh);
            g->irouter[irq] = r & writable;
            gic_update_all(g);
            return;
        }
        if (off >= GICD_IROUTER && off < GICD_IROUTER + GIC_NR_PRIVATE * 8u) {
            return;
        }
        if (off >= 0xffd0) {
            gic_report(g, GIC_REP_RO, "write to GICD ID register 0x%04x: ignored", off);
            return;
        }
    }
    reserved(g, "GICD", off, true);
}

static MemResult dist_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                           MemAttrs attrs)
{
    Gic *g = opaque;
    unsigned off = (unsigned)offset & (GIC_DIST_SIZE - 1u);

    if (size == 8) {
        *value = dist_read32(g, off, attrs) | ((uint64_t)dist_read32(g, off + 4, attrs) << 32);
    } else {
        uint32_t w = dist_read32(g, off & ~3u, attrs);
        *value = (w >> (8 * (off & 3u))) & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1u);
    }
    return MEM_OK;
}

static MemResult dist_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                            MemAttrs attrs)
{
    Gic *g = opaque;
    unsigned off = (unsigned)offset & (GIC_DIST_SIZE - 1u);

    if (size == 8) {
        dist_write32(g, off, (uint32_t)value, 0xf, attrs);
        dist_write32(g, off + 4, (uint32_t)(value >> 32), 0xf, attrs);
    } else if (size == 4) {
        dist_write32(g, off, (uint32_t)value, 0xf, attrs);
    } else if (dist_byte_ok(g, off & ~3u)) {
        unsigned sh = 8 * (off & 3u);
        dist_write32(g, off & ~3u, (uint32_t)value << sh, ((1u << size) - 1u) << (off & 3u),
                     attrs);
    } else {
        gic_report(g, GIC_REP_WIDTH, "%u-byte write to GICD offset 0x%04x, which is not "
                   "byte-accessible: ignored", size, off);
    }
    return MEM_OK;
}

static const MemRegionOps dist_ops_v2 = {
    .read = dist_read,
    .write = dist_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = false },
};

static const MemRegionOps dist_ops_v3 = {
    .read = dist_read,
    .write = dist_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = false },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = false },
};

/* ------------------------------------------------------------------ */
/* GICv3 Redistributors: per CPU an RD_base frame and an SGI_base frame. */

static uint32_t redist_read32(Gic *g, GicCpu *c, unsigned off)
{
    if (off < GIC_SGI_BASE_OFFSET) {
        switch (off) {
        case GICR_CTLR:
        case GICR_STATUSR:
            return 0;   /* no LPIs; writes are complete at once (RWP 0) */
        case GICR_IIDR:
            return GICR_IIDR_VALUE;
        case GICR_TYPER:
            /* Processor_Number, Last; no physical LPIs (v3 GICR_TYPER). */
            return (c->index << 8) | (c->index == g->ncpus - 1u ? (uint32_t)GICR_TYPER_LAST : 0);
        case GICR_TYPER + 4: {
            /* Affinity_Value, bits 63:32: Aff3.Aff2.Aff1.Aff0. */
            uint64_t aff = gic_affinity(g, c->index);
            return (uint32_t)((aff & 0xffffffu) | ((aff >> 32) & 0xffu) << 24);
        }
        case GICR_WAKER:
            return c->waker;
        default:
            if (off >= 0xffd0) {
                return id_reg(g, (off - 0xffd0) / 4u);
            }
            reserved(g, "GICR RD_base", off, false);
            return 0;
        }
    }
    off -= GIC_SGI_BASE_OFFSET;
    if (off >= GICR_IGROUPR0 && off < GICR_IPRIORITYR && off % 0x80u == 0) {
        return bits_read(g, c, (off - GICR_IGROUPR0) / 0x80u, 0);
    }
    if (off >= GICR_IPRIORITYR && off < GICR_IPRIORITYR + GIC_NR_PRIVATE) {
        return prio_read(g, c, (off - GICR_IPRIORITYR) / 4u);
    }
    if (off == GICR_ICFGR0 || off == GICR_ICFGR1) {
        return cfg_read(g, c, (off - GICR_ICFGR0) / 4u);
    }
    if (off == GICR_IGRPMODR0 || off == GICR_NSACR) {
        return 0;
    }
    reserved(g, "GICR SGI_base", off, false);
    return 0;
}

static void redist_write32(Gic *g, GicCpu *c, unsigned off, uint32_t v, unsigned mask)
{
    if (off < GIC_SGI_BASE_OFFSET) {
        switch (off) {
        case GICR_CTLR:
        case GICR_STATUSR:
            return;
        case GICR_WAKER:
            /* The handshake of v3 GICR_WAKER: ChildrenAsleep follows
             * ProcessorSleep at once. */
            c->waker = (v & GICR_WAKER_PROCESSOR_SLEEP)
                           ? GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP : 0;
            gic_update_all(g);
            return;
        case GICR_IIDR:
        case GICR_TYPER:
        case GICR_TYPER + 4:
            gic_report(g, GIC_REP_RO, "write to read-only GICR offset 0x%04x: ignored", off);
            return;
        default:
            if (off >= 0xffd0) {
                gic_report(g, GIC_REP_RO, "write to GICR ID register 0x%04x: ignored", off);
                return;
            }
            reserved(g, "GICR RD_base", off, true);
            return;
        }
    }
    off -= GIC_SGI_BASE_OFFSET;
    if (off >= GICR_IGROUPR0 && off < GICR_IPRIORITYR && off % 0x80u == 0) {
        bits_write(g, c, (off - GICR_IGROUPR0) / 0x80u, 0, v);
        return;
    }
    if (off >= GICR_IPRIORITYR && off < GICR_IPRIORITYR + GIC_NR_PRIVATE) {
        prio_write(g, c, (off - GICR_IPRIORITYR) / 4u, v, mask);
        return;
    }
    if (off == GICR_ICFGR0 || off == GICR_ICFGR1) {
        cfg_write(g, c, (off - GICR_ICFGR0) / 4u, v);
        return;
    }
    if (off == GICR_IGRPMODR0 || off == GICR_NSACR) {
        return;
    }
    reserved(g, "GICR SGI_base", off, true);
}

static MemResult redist_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                             G_GNUC_UNUSED MemAttrs attrs)
{
    Gic *g = opaque;
    uint64_t idx = offset / GIC_REDIST_STRIDE;
    unsigned off = (unsigned)(offset % GIC_REDIST_STRIDE);
    GicCpu *c;

    *value = 0;
    if (idx >= g->ncpus) {
        return MEM_OK;
    }
    c = &g->cpu[idx];
    if (size == 8) {
        *value = redist_read32(g, c, off) | ((uint64_t)redist_read32(g, c, off + 4) << 32);
    } else {
        uint32_t w = redist_read32(g, c, off & ~3u);
        *value = (w >> (8 * (off & 3u))) & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1u);
    }
    return MEM_OK;
}

static MemResult redist_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                              G_GNUC_UNUSED MemAttrs attrs)
{
    Gic *g = opaque;
    uint64_t idx = offset / GIC_REDIST_STRIDE;
    unsigned off = (unsigned)(offset % GIC_REDIST_STRIDE);
    unsigned sgi_off = off - GIC_SGI_BASE_OFFSET;
    GicCpu *c;

    if (idx >= g->ncpus) {
        return MEM_OK;
    }
    c = &g->cpu[idx];
    if (size == 8) {
        redist_write32(g, c, off, (uint32_t)value, 0xf);
        redist_write32(g, c, off + 4, (uint32_t)(value >> 32), 0xf);
    } else if (size == 4) {
        redist_write32(g, c, off, (uint32_t)value, 0xf);
    } else if (off >= GIC_SGI_BASE_OFFSET && sgi_off >= GICR_IPRIORITYR &&
               sgi_off < GICR_IPRIORITYR + GIC_NR_PRIVATE) {
        redist_write32(g, c, off & ~3u, (uint32_t)value << (8 * (off & 3u)),
                       ((1u << size) - 1u) << (off & 3u));
    } else {
        gic_report(g, GIC_REP_WIDTH, "%u-byte write to GICR offset 0x%05x, which is not "
                   "byte-accessible: ignored", size, off);
    }
    return MEM_OK;
}

static const MemRegionOps redist_ops = {
    .read = redist_read,
    .write = redist_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8, .unaligned = false },
    .impl = { .min_access_size = 1, .max_access_size = 8, .unaligned = false },
};

bool gic_dist_init(Gic *g, GError **err)
{
    char *name = g_strdup_printf("%s.dist", g->name);

    g->dist_mr = mr_new_mmio(name, GIC_DIST_SIZE, g->version == 2 ? &dist_ops_v2 : &dist_ops_v3,
                             g, err);
    g_free(name);
    if (!g->dist_mr) {
        return false;
    }
    if (g->version == 3) {
        name = g_strdup_printf("%s.redist", g->name);
        g->redist_mr = mr_new_mmio(name, (uint64_t)g->ncpus * GIC_REDIST_STRIDE, &redist_ops,
                                   g, err);
        g_free(name);
        if (!g->redist_mr) {
            return false;
        }
    }
    return true;
}
