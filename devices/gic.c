/*
 * Arm GIC: interrupt state, prioritization, the CPU interfaces (GICv2
 * memory-mapped GICC_*, GICv3 ICC_* system registers) and the inputs.
 * The Distributor and Redistributor register blocks are in gic_dist.c.
 *
 * Behaviour is described in gic.h; comments here say why.
 */
#include "devices/gic_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

void gic_report(Gic *g, unsigned kind, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (g->reported & kind) {
        return;
    }
    g->reported |= kind;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    mem_report("%s: %s (reported once)", g->name, msg);
    g_free(msg);
}

/* ------------------------------------------------------------------ */
/* Interrupt state. */

bool gic_irq_pending(const Gic *g, const GicCpu *c, unsigned irq, const GicIrq *s)
{
    /* GICv2 SGIs are pending while any source CPU has one outstanding
     * (v2 GICD_SPENDSGIRn). */
    if (g->version == 2 && irq < GIC_NR_SGIS) {
        return c->sgi_src[irq] != 0;
    }
    /* Level-sensitive: the line, or a latch set by a GICD_ISPENDR write
     * (v2/v3 "Interrupt handling state machine"). */
    return s->latch || (!s->edge && s->line);
}

uint64_t gic_affinity(const Gic *g, unsigned cpu)
{
    (void)g;
    /* Clusters of 16: see gic.h, "CPU affinity". */
    return ((uint64_t)(cpu / 16u) << 8) | (cpu % 16u);
}

uint64_t gic_cpu_affinity(const Gic *g, unsigned cpu)
{
    return g && cpu < g->ncpus ? gic_affinity(g, cpu) : 0;
}

/* Does SPI `irq` go to CPU `c`? */
static bool spi_targets(const Gic *g, const GicCpu *c, unsigned irq)
{
    if (g->version == 2) {
        /* Uniprocessor: ITARGETSR is RAZ/WI and everything goes to the one
         * CPU (v2 GICD_ITARGETSRn). */
        return g->ncpus == 1 || (g->targets[irq] >> c->index) & 1u;
    }
    uint64_t r = g->irouter[irq];
    if (r & GICD_IROUTER_IRM) {
        return true;   /* 1-of-N: every awake CPU participates (v3 GICD_IROUTER) */
    }
    /* IROUTER: Aff0 7:0, Aff1 15:8, Aff2 23:16, Aff3 39:32, like MPIDR. */
    return (r & 0xff00ffffffull) == gic_affinity(g, c->index);
}

static bool cpu_awake(const Gic *g, const GicCpu *c)
{
    return g->version == 2 || !(c->waker & GICR_WAKER_PROCESSOR_SLEEP);
}

static bool cbpr(const Gic *g, const GicCpu *c)
{
    return (c->ctlr & (g->version == 2 ? GICC_CTLR_CBPR : ICC_CTLR_CBPR)) != 0;
}

static bool eoimode(const Gic *g, const GicCpu *c)
{
    return (c->ctlr & (g->version == 2 ? GICC_CTLR_EOIMODE : ICC_CTLR_EOIMODE)) != 0;
}

/* Is `group` enabled in the Distributor and in c's CPU interface? */
static bool group_enabled(const Gic *g, const GicCpu *c, bool group1)
{
    if (!(g->dist_ctlr & (group1 ? GICD_CTLR_ENABLE_GRP1 : GICD_CTLR_ENABLE_GRP0))) {
        return false;
    }
    if (g->version == 2) {
        return (c->ctlr & (group1 ? GICC_CTLR_ENABLE_GRP1 : GICC_CTLR_ENABLE_GRP0)) != 0;
    }
    return c->grpen[group1];
}

/* The group priority: the priority with the subpriority bits below the
 * binary point cleared (v2 "Priority grouping", v3 ICC_BPR0_EL1). Group 0
 * (and group 1 with CBPR) split at BPR0 as [7:BPR0+1]; group 1 at BPR1 as
 * [7:BPR1]. A binary point of 7 for group 0 leaves no group bits: no
 * preemption at all. */
static uint8_t group_prio(const Gic *g, const GicCpu *c, const GicIrq *s)
{
    unsigned shift = (!s->group1 || cbpr(g, c)) ? c->bpr0 + 1u : c->bpr1;

    return shift >= 8 ? 0 : (uint8_t)(s->prio & (0xffu << shift));
}

/* The running priority: the highest (lowest-numbered) active group
 * priority, 0xff when idle (v2 GICC_RPR, v3 ICC_RPR_EL1). */
static uint8_t running_prio(const Gic *g, const GicCpu *c)
{
    for (unsigned i = 0; i < 4; i++) {
        uint32_t bits = c->apr[0][i] | c->apr[1][i];
        if (bits) {
            unsigned idx = i * 32u + (unsigned)__builtin_ctz(bits);
            return (uint8_t)(idx << g->apr_shift);
        }
    }
    return 0xff;
}

/* The highest-priority pending interrupt of c: pending, enabled, not
 * active, of a group enabled in both the Distributor and c's interface,
 * targeting c. Ties go to the lowest INTID. -1: none. */
static int hppi(Gic *g, GicCpu *c)
{
    int best = -1;
    unsigned best_prio = 0x100;

    if (!cpu_awake(g, c)) {
        return -1;
    }
    for (unsigned irq = 0; irq < g->nirqs; irq++) {
        GicIrq *s = gic_irq(g, c, irq);

        if (s->prio >= best_prio || !s->enabled || s->active ||
            !gic_irq_pending(g, c, irq, s) || !group_enabled(g, c, s->group1)) {
            continue;
        }
        if (irq >= GIC_NR_PRIVATE && !spi_targets(g, c, irq)) {
            continue;
        }
        best = (int)irq;
        best_prio = s->prio;
    }
    return best;
}

/* May the interrupt be signalled now: above the priority mask (v2 "Priority masking")
 * and able to preempt the running priority (v2 "Preemption")? */
static bool can_signal(Gic *g, GicCpu *c, const GicIrq *s)
{
    return s->prio < c->pmr && group_prio(g, c, s) < running_prio(g, c);
}

void gic_update_cpu(Gic *g, GicCpu *c)
{
    bool irq = false, fiq = false;
    int best = hppi(g, c);

    if (best >= 0) {
        GicIrq *s = gic_irq(g, c, (unsigned)best);

        if (can_signal(g, c, s)) {
            /* Group 0 is FIQ on GICv3 with one security state (v3
             * "Interrupt grouping")
             * and on GICv2 when FIQEn is set (v2 GICC_CTLR); everything
             * else is IRQ. */
            if (!s->group1 && (g->version == 3 || (c->ctlr & GICC_CTLR_FIQEN))) {
                fiq = true;
            } else {
                irq = true;
            }
        }
    }
    if (irq != c->irq_out) {
        c->irq_out = irq;
        if (g->set_irq) {
            g->set_irq(g->opaque, c->index, irq);
        }
    }
    if (fiq != c->fiq_out) {
        c->fiq_out = fiq;
        if (g->set_fiq) {
            g->set_fiq(g->opaque, c->index, fiq);
        }
    }
}

void gic_update_all(Gic *g)
{
    for (unsigned i = 0; i < g->ncpus; i++) {
        gic_update_cpu(g, &g->cpu[i]);
    }
}

void gic_update_irq(Gic *g, GicCpu *c, unsigned irq)
{
    if (irq < GIC_NR_PRIVATE && c) {
        gic_update_cpu(g, c);
    } else {
        gic_update_all(g);
    }
}

/* ------------------------------------------------------------------ */
/* Acknowledge, priority drop, deactivation. */

static void apr_set(Gic *g, GicCpu *c, bool group1, uint8_t gprio)
{
    unsigned idx = (unsigned)gprio >> g->apr_shift;

    c->apr[group1][idx / 32u] |= 1u << (idx % 32u);
}

/* Drop the highest active priority (v2 "Priority drop and interrupt deactivation"): of either
 * group (group < 0, GICv2 EOIR) or of one group (GICv3 EOIR0/EOIR1). */
static void priority_drop(GicCpu *c, int group)
{
    for (unsigned i = 0; i < 4; i++) {
        uint32_t b0 = group != 1 ? c->apr[0][i] : 0;
        uint32_t b1 = group != 0 ? c->apr[1][i] : 0;
        uint32_t bits = b0 | b1;

        if (bits) {
            uint32_t low = bits & -bits;
            /* Both groups can't hold the same level: acknowledging needs
             * a strictly higher group priority than the running one. */
            if (b0 & low) {
                c->apr[0][i] &= ~low;
            } else {
                c->apr[1][i] &= ~low;
            }
            return;
        }
    }
}

/* Take interrupt `irq` (the one hppi() chose) on c: pending -> active, or
 * active and pending (v2 "Interrupt handling state machine"). Returns the IAR value. */
static uint32_t acknowledge(Gic *g, GicCpu *c, unsigned irq)
{
    GicIrq *s = gic_irq(g, c, irq);
    uint32_t iar = irq;

    if (g->version == 2 && irq < GIC_NR_SGIS) {
        /* One source at a time, lowest CPU first; the others stay
         * pending (v2 GICC_IAR, CPUID field). */
        unsigned src = (unsigned)__builtin_ctz(c->sgi_src[irq]);
        c->sgi_src[irq] &= (uint8_t)~(1u << src);
        iar |= src << 10;
    } else {
        s->latch = false;
    }
    s->active = true;
    apr_set(g, c, s->group1, group_prio(g, c, s));
    gic_update_irq(g, c, irq);
    return iar;
}

static void deactivate(Gic *g, GicCpu *c, unsigned irq)
{
    GicIrq *s = gic_irq(g, c, irq);

    s->active = false;
    gic_update_irq(g, c, irq);
}

/* An EOIR write (group: -1 any, GICv2; 0 or 1, GICv3). */
static void end_of_interrupt(Gic *g, GicCpu *c, uint32_t value, int group)
{
    unsigned irq = value & (g->version == 2 ? 0x3ffu : 0xffffffu);

    if (irq >= g->nirqs) {
        if (irq != GIC_SPURIOUS) {
            gic_report(g, GIC_REP_EOI, "cpu%u: EOI of INTID %u, which does not exist: ignored",
                       c->index, irq);
        }
        return;
    }
    if (!gic_irq(g, c, irq)->active) {
        /* UNPREDICTABLE (v2 GICC_EOIR): we change nothing. */
        gic_report(g, GIC_REP_EOI, "cpu%u: EOI of INTID %u, which is not active: ignored",
                   c->index, irq);
        return;
    }
    priority_drop(c, group);
    if (!eoimode(g, c)) {
        deactivate(g, c, irq);
    } else {
        gic_update_cpu(g, c);
    }
}

/* GICC_DIR / ICC_DIR_EL1: deactivate, meaningful with EOImode = 1 only
 * (v2 GICC_DIR: UNPREDICTABLE otherwise; we ignore it then). */
static void deactivate_interrupt(Gic *g, GicCpu *c, uint32_t value)
{
    unsigned irq = value & (g->version == 2 ? 0x3ffu : 0xffffffu);

    if (irq >= g->nirqs || !eoimode(g, c)) {
        gic_report(g, GIC_REP_EOI, "cpu%u: DIR of INTID %u with EOImode %u: ignored", c->index,
                   irq, eoimode(g, c) ? 1u : 0u);
        return;
    }
    deactivate(g, c, irq);
}

/* What an interrupt-acknowledge read returns, acknowledging it unless
 * `peek`. want: -1 any group (GICv2 GICC_IAR), 0 or 1 only that group.
 * GICv2 GICC_IAR answers 1022 for a group-1 interrupt with AckCtl = 0. */
static uint32_t read_iar(Gic *g, GicCpu *c, int want, bool peek)
{
    int best = hppi(g, c);
    GicIrq *s;

    if (best < 0) {
        return GIC_SPURIOUS;
    }
    s = gic_irq(g, c, (unsigned)best);
    if (!can_signal(g, c, s)) {
        return GIC_SPURIOUS;
    }
    if (want < 0) {
        if (s->group1 && !(c->ctlr & GICC_CTLR_ACKCTL)) {
            return GIC_GROUP1_PENDING;
        }
    } else if ((int)s->group1 != want) {
        return GIC_SPURIOUS;
    }
    if (peek) {
        uint32_t v = (uint32_t)best;
        if (g->version == 2 && best < (int)GIC_NR_SGIS) {
            v |= (uint32_t)__builtin_ctz(c->sgi_src[best]) << 10;
        }
        return v;
    }
    return acknowledge(g, c, (unsigned)best);
}

/* The highest-priority pending interrupt, ignoring the mask and running
 * priority (v2 GICC_HPPIR, v3 ICC_HPPIR<n>_EL1); same group rules. */
static uint32_t read_hppir(Gic *g, GicCpu *c, int want)
{
    int best = hppi(g, c);
    GicIrq *s;
    uint32_t v;

    if (best < 0) {
        return GIC_SPURIOUS;
    }
    s = gic_irq(g, c, (unsigned)best);
    if (want < 0) {
        if (s->group1 && !(c->ctlr & GICC_CTLR_ACKCTL)) {
            return GIC_GROUP1_PENDING;
        }
    } else if ((int)s->group1 != want) {
        return GIC_SPURIOUS;
    }
    v = (uint32_t)best;
    if (g->version == 2 && best < (int)GIC_NR_SGIS) {
        v |= (uint32_t)__builtin_ctz(c->sgi_src[best]) << 10;
    }
    return v;
}

static uint8_t clamp_bpr(unsigned v, unsigned min)
{
    v &= 7u;
    return (uint8_t)(v < min ? min : v);
}

/* ------------------------------------------------------------------ */
/* GICv2 CPU interface (v2 "CPU interface register descriptions"), one region per CPU. */

static MemResult cpuif_read(void *opaque, uint64_t offset, uint64_t *value,
                            G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    GicCpu *c = opaque;
    Gic *g = c->g;
    uint32_t v = 0;

    switch (offset) {
    case GICC_CTLR:
        v = c->ctlr;
        break;
    case GICC_PMR:
        v = c->pmr;
        break;
    case GICC_BPR:
        v = c->bpr0;
        break;
    case GICC_IAR:
        v = read_iar(g, c, -1, attrs.debug);
        break;
    case GICC_RPR:
        v = running_prio(g, c);
        break;
    case GICC_HPPIR:
        v = read_hppir(g, c, -1);
        break;
    case GICC_ABPR:
        v = c->bpr1;
        break;
    case GICC_AIAR:
        v = read_iar(g, c, 1, attrs.debug);
        break;
    case GICC_AHPPIR:
        v = read_hppir(g, c, 1);
        break;
    case GICC_APR0: case GICC_APR0 + 4: case GICC_APR0 + 8: case GICC_APR0 + 12:
        v = c->apr[0][(offset - GICC_APR0) / 4];
        break;
    case GICC_NSAPR0: case GICC_NSAPR0 + 4: case GICC_NSAPR0 + 8: case GICC_NSAPR0 + 12:
        v = c->apr[1][(offset - GICC_NSAPR0) / 4];
        break;
    case GICC_IIDR:
        v = GICC_IIDR_VALUE;
        break;
    case GICC_EOIR:
    case GICC_AEOIR:
    case GICC_DIR:
        /* Write-only: reads are UNKNOWN; 0. */
        break;
    default:
        gic_report(g, GIC_REP_RESERVED, "cpu%u: read of reserved GICC offset 0x%03" PRIx64
                   ": reads 0", c->index, offset);
        break;
    }
    *value = v;
    return MEM_OK;
}

static MemResult cpuif_write(void *opaque, uint64_t offset, uint64_t value,
                             G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    GicCpu *c = opaque;
    Gic *g = c->g;
    uint32_t v = (uint32_t)value;

    switch (offset) {
    case GICC_CTLR:
        /* EnableGrp0/1, AckCtl, FIQEn, CBPR, the bypass disables (stored
         * only: no bypass here) and EOImode (v2 GICC_CTLR, no Security
         * Extensions). */
        c->ctlr = v & 0x3ffu;
        break;
    case GICC_PMR:
        c->pmr = (uint8_t)(v & g->pri_mask);
        break;
    case GICC_BPR:
        c->bpr0 = clamp_bpr(v, g->min_bpr0);
        break;
    case GICC_EOIR:
    case GICC_AEOIR:
        end_of_interrupt(g, c, v, -1);
        return MEM_OK;
    case GICC_ABPR:
        c->bpr1 = clamp_bpr(v, g->min_bpr0 + 1u);
        break;
    case GICC_APR0: case GICC_APR0 + 4: case GICC_APR0 + 8: case GICC_APR0 + 12:
        /* Only meant for restoring saved state (v2 GICC_APRn). */
        c->apr[0][(offset - GICC_APR0) / 4] = v;
        break;
    case GICC_NSAPR0: case GICC_NSAPR0 + 4: case GICC_NSAPR0 + 8: case GICC_NSAPR0 + 12:
        c->apr[1][(offset - GICC_NSAPR0) / 4] = v;
        break;
    case GICC_DIR:
        deactivate_interrupt(g, c, v);
        return MEM_OK;
    case GICC_IAR:
    case GICC_RPR:
    case GICC_HPPIR:
    case GICC_AIAR:
    case GICC_AHPPIR:
    case GICC_IIDR:
        gic_report(g, GIC_REP_RO, "cpu%u: write to read-only GICC offset 0x%03" PRIx64
                   ": ignored", c->index, offset);
        return MEM_OK;
    default:
        gic_report(g, GIC_REP_RESERVED, "cpu%u: write to reserved GICC offset 0x%03" PRIx64
                   ": ignored", c->index, offset);
        return MEM_OK;
    }
    gic_update_cpu(g, c);
    return MEM_OK;
}

/* 32-bit aligned word accesses only (v2 "CPU interface register map": all registers
 * are word-accessible; the CPU interface has no byte-accessible ones). */
static const MemRegionOps cpuif_ops = {
    .read = cpuif_read,
    .write = cpuif_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
};

/* ------------------------------------------------------------------ */
/* GICv3 CPU interface system registers (v3 "AArch64 System register descriptions"). */

/* Generate an SGI from ICC_SGI0R/SGI1R/ASGI1R_EL1 (v3 "Forwarding an
 * SGI to a target PE"): a target takes it only if its SGI is of the
 * group the register generates. */
static void icc_generate_sgi(Gic *g, GicCpu *self, uint64_t v, bool group1)
{
    unsigned sgi = (unsigned)(v >> ICC_SGIR_INTID_SHIFT) & 0xfu;
    bool irm = (v & ICC_SGIR_IRM) != 0;
    uint64_t aff321 = (((v >> ICC_SGIR_AFF3_SHIFT) & 0xffu) << 32) |
                      (((v >> ICC_SGIR_AFF2_SHIFT) & 0xffu) << 16) |
                      (((v >> ICC_SGIR_AFF1_SHIFT) & 0xffu) << 8);
    unsigned rs = (unsigned)(v >> ICC_SGIR_RS_SHIFT) & 0xfu;

    for (unsigned t = 0; t < g->ncpus; t++) {
        GicCpu *c = &g->cpu[t];
        uint64_t aff = gic_affinity(g, t);

        if (irm) {
            if (c == self) {
                continue;
            }
        } else {
            unsigned aff0 = (unsigned)(aff & 0xffu);
            if ((aff & ~0xffull) != aff321 || aff0 / 16u != rs ||
                !((v >> (aff0 % 16u)) & 1u)) {
                continue;
            }
        }
        if (c->priv[sgi].group1 != group1) {
            gic_report(g, GIC_REP_SGI, "cpu%u: group %u SGI %u to cpu%u, whose SGI %u is "
                       "group %u: not forwarded", self->index, group1 ? 1u : 0u, sgi, t,
                       sgi, group1 ? 0u : 1u);
            continue;
        }
        c->priv[sgi].latch = true;
        gic_update_cpu(g, c);
    }
}

bool gic_icc_read(Gic *g, unsigned cpu, uint32_t enc, uint64_t *val)
{
    GicCpu *c;
    uint64_t v = 0;

    if (!g || g->version != 3 || cpu >= g->ncpus || !val) {
        return false;
    }
    c = &g->cpu[cpu];
    switch (enc) {
    case ICC_PMR_EL1:
        v = c->pmr;
        break;
    case ICC_IAR0_EL1:
        v = read_iar(g, c, 0, false);
        break;
    case ICC_IAR1_EL1:
        v = read_iar(g, c, 1, false);
        break;
    case ICC_HPPIR0_EL1:
        v = read_hppir(g, c, 0);
        break;
    case ICC_HPPIR1_EL1:
        v = read_hppir(g, c, 1);
        break;
    case ICC_BPR0_EL1:
        v = c->bpr0;
        break;
    case ICC_BPR1_EL1:
        /* With CBPR, BPR1 reads as BPR0 + 1, saturated (v3 ICC_BPR1_EL1). */
        v = cbpr(g, c) ? MIN(c->bpr0 + 1u, 7u) : c->bpr1;
        break;
    case ICC_AP0R0_EL1:
        v = c->apr[0][0];
        break;
    case ICC_AP1R0_EL1:
        v = c->apr[1][0];
        break;
    case ICC_RPR_EL1:
        v = running_prio(g, c);
        break;
    case ICC_CTLR_EL1:
        /* PRIbits = implemented priority bits - 1; IDbits 0 (16 bits),
         * SEIS, A3V, RSS, ExtRange 0 (v3 ICC_CTLR_EL1). */
        v = (c->ctlr & (ICC_CTLR_CBPR | ICC_CTLR_EOIMODE)) | (4u << ICC_CTLR_PRIBITS_SHIFT);
        break;
    case ICC_SRE_EL1:
        v = 0x7;   /* SRE, DFB, DIB: system registers only, bypass disabled */
        break;
    case ICC_IGRPEN0_EL1:
        v = c->grpen[0];
        break;
    case ICC_IGRPEN1_EL1:
        v = c->grpen[1];
        break;
    default:
        /* Write-only registers (EOIR, DIR, SGI*R) and anything else. */
        return false;
    }
    *val = v;
    return true;
}

bool gic_icc_write(Gic *g, unsigned cpu, uint32_t enc, uint64_t val)
{
    GicCpu *c;

    if (!g || g->version != 3 || cpu >= g->ncpus) {
        return false;
    }
    c = &g->cpu[cpu];
    switch (enc) {
    case ICC_PMR_EL1:
        c->pmr = (uint8_t)(val & g->pri_mask);
        break;
    case ICC_EOIR0_EL1:
        end_of_interrupt(g, c, (uint32_t)val, 0);
        return true;
    case ICC_EOIR1_EL1:
        end_of_interrupt(g, c, (uint32_t)val, 1);
        return true;
    case ICC_DIR_EL1:
        deactivate_interrupt(g, c, (uint32_t)val);
        return true;
    case ICC_BPR0_EL1:
        c->bpr0 = clamp_bpr((unsigned)val, g->min_bpr0);
        break;
    case ICC_BPR1_EL1:
        if (!cbpr(g, c)) {
            c->bpr1 = clamp_bpr((unsigned)val, g->min_bpr0 + 1u);
        }
        break;
    case ICC_AP0R0_EL1:
        c->apr[0][0] = (uint32_t)val;
        break;
    case ICC_AP1R0_EL1:
        c->apr[1][0] = (uint32_t)val;
        break;
    case ICC_CTLR_EL1:
        c->ctlr = (uint32_t)val & (ICC_CTLR_CBPR | ICC_CTLR_EOIMODE);
        break;
    case ICC_SRE_EL1:
        return true;   /* all bits fixed: writes ignored */
    case ICC_IGRPEN0_EL1:
        c->grpen[0] = val & 1u;
        break;
    case ICC_IGRPEN1_EL1:
        c->grpen[1] = val & 1u;
        break;
    case ICC_SGI0R_EL1:
        icc_generate_sgi(g, c, val, false);
        return true;
    case ICC_SGI1R_EL1:
    case ICC_ASGI1R_EL1:
        icc_generate_sgi(g, c, val, true);
        return true;
    default:
        /* Read-only registers (IAR, HPPIR, RPR) and anything else. */
        return false;
    }
    gic_update_cpu(g, c);
    return true;
}

/* ------------------------------------------------------------------ */
/* Inputs. */

static void set_line(Gic *g, GicCpu *c, unsigned irq, bool level)
{
    GicIrq *s = gic_irq(g, c, irq);

    /* Edge-triggered: latch on the rising edge (v2 "Interrupt handling
     * state machine"). */
    if (level && !s->line && s->edge) {
        s->latch = true;
    }
    s->line = level;
    gic_update_irq(g, c, irq);
}

void gic_set_spi(Gic *g, unsigned irq, bool level)
{
    if (!g) {
        return;
    }
    if (irq < GIC_NR_PRIVATE || irq >= g->nirqs) {
        gic_report(g, GIC_REP_INPUT, "SPI %u does not exist (32..%u): ignored", irq,
                   g->nirqs - 1);
        return;
    }
    set_line(g, NULL, irq, level);
}

void gic_set_ppi(Gic *g, unsigned cpu, unsigned ppi, bool level)
{
    if (!g) {
        return;
    }
    if (cpu >= g->ncpus || ppi < GIC_NR_SGIS || ppi >= GIC_NR_PRIVATE) {
        gic_report(g, GIC_REP_INPUT, "PPI %u of cpu%u does not exist: ignored", ppi, cpu);
        return;
    }
    set_line(g, &g->cpu[cpu], ppi, level);
}

bool gic_irq_level(const Gic *g, unsigned cpu)
{
    return g && cpu < g->ncpus && g->cpu[cpu].irq_out;
}

bool gic_fiq_level(const Gic *g, unsigned cpu)
{
    return g && cpu < g->ncpus && g->cpu[cpu].fiq_out;
}

/* ------------------------------------------------------------------ */
/* Life cycle. */

static void reset_irq(GicIrq *s, bool edge)
{
    bool line = s->line;

    memset(s, 0, sizeof(*s));
    s->line = line;
    s->edge = edge;
}

void gic_reset(Gic *g)
{
    if (!g) {
        return;
    }
    g->dist_ctlr = 0;
    for (unsigned irq = GIC_NR_PRIVATE; irq < g->nirqs; irq++) {
        /* SPIs reset level-sensitive (ICFGR reset is IMPLEMENTATION
         * DEFINED; 0 is what most implementations choose). */
        reset_irq(&g->spi[irq], false);
        if (g->targets) {
            g->targets[irq] = 0;
        }
        if (g->irouter) {
            g->irouter[irq] = 0;
        }
    }
    for (unsigned i = 0; i < g->ncpus; i++) {
        GicCpu *c = &g->cpu[i];

        for (unsigned irq = 0; irq < GIC_NR_PRIVATE; irq++) {
            /* SGIs are always edge-triggered; PPIs reset level. */
            reset_irq(&c->priv[irq], irq < GIC_NR_SGIS);
        }
        memset(c->sgi_src, 0, sizeof(c->sgi_src));
        c->ctlr = 0;
        c->grpen[0] = c->grpen[1] = false;
        c->pmr = 0;
        c->bpr0 = (uint8_t)g->min_bpr0;
        c->bpr1 = (uint8_t)(g->min_bpr0 + 1u);
        memset(c->apr, 0, sizeof(c->apr));
        /* GICR_WAKER resets with ProcessorSleep and ChildrenAsleep set. */
        c->waker = GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP;
    }
    gic_update_all(g);
}

Gic *gic_new(const GicConfig *cfg, GError **err)
{
    Gic *g;

    if (!cfg || (cfg->version != 2 && cfg->version != 3)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "gic: version must be 2 or 3");
        return NULL;
    }
    if (cfg->ncpus < 1 ||
        cfg->ncpus > (cfg->version == 2 ? GIC_MAX_CPUS_V2 : GIC_MAX_CPUS_V3)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "gic: %u CPUs: GICv%u takes 1..%u", cfg->ncpus, cfg->version,
                    cfg->version == 2 ? GIC_MAX_CPUS_V2 : GIC_MAX_CPUS_V3);
        return NULL;
    }
    if (cfg->nirqs < GIC_MIN_IRQS || cfg->nirqs > GIC_MAX_IRQS ||
        (cfg->nirqs % 32u && cfg->nirqs != GIC_MAX_IRQS)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "gic: %u interrupts: a multiple of 32 in 64..%u, or %u", cfg->nirqs,
                    GIC_MAX_IRQS - GIC_MAX_IRQS % 32u, GIC_MAX_IRQS);
        return NULL;
    }
    g = g_new0(Gic, 1);
    g->version = cfg->version;
    g->ncpus = cfg->ncpus;
    g->nirqs = cfg->nirqs;
    g->set_irq = cfg->set_irq;
    g->set_fiq = cfg->set_fiq;
    g->opaque = cfg->opaque;
    g->name = g_strdup(cfg->name ? cfg->name : "gic");
    if (g->version == 2) {
        /* 8 priority bits: 128 preemption levels (GICC_BPR minimum 0,
         * group priority [7:1]), GICC_APR0-3. */
        g->pri_mask = 0xff;
        g->min_bpr0 = 0;
        g->apr_shift = 1;
        g->apr_regs = 4;
        g->targets = g_new0(uint8_t, g->nirqs);
    } else {
        /* 5 priority bits, 32 levels: ICC_BPR0 minimum 2, ICC_AP?R0. */
        g->pri_mask = 0xf8;
        g->min_bpr0 = 2;
        g->apr_shift = 3;
        g->apr_regs = 1;
        g->irouter = g_new0(uint64_t, g->nirqs);
    }
    g->spi = g_new0(GicIrq, g->nirqs);
    g->cpu = g_new0(GicCpu, g->ncpus);
    for (unsigned i = 0; i < g->ncpus; i++) {
        GicCpu *c = &g->cpu[i];

        c->g = g;
        c->index = i;
        if (g->version == 2) {
            char *name = g_strdup_printf("%s.cpuif%u", g->name, i);
            c->cpuif_mr = mr_new_mmio(name, GIC_CPUIF_SIZE, &cpuif_ops, c, err);
            g_free(name);
            if (!c->cpuif_mr) {
                gic_free(g);
                return NULL;
            }
        }
    }
    if (!gic_dist_init(g, err)) {
        gic_free(g);
        return NULL;
    }
    /* Outputs start low: nothing can be pending with everything disabled,
     * so the reset's update calls no callback. */
    gic_reset(g);
    return g;
}

void gic_free(Gic *g)
{
    if (!g) {
        return;
    }
    for (unsigned i = 0; g->cpu && i < g->ncpus; i++) {
        if (g->cpu[i].cpuif_mr) {
            mr_unref(g->cpu[i].cpuif_mr);
        }
    }
    if (g->dist_mr) {
        mr_unref(g->dist_mr);
    }
    if (g->redist_mr) {
        mr_unref(g->redist_mr);
    }
    g_free(g->cpu);
    g_free(g->spi);
    g_free(g->targets);
    g_free(g->irouter);
    g_free(g->name);
    g_free(g);
}

unsigned gic_version(const Gic *g)
{
    return g->version;
}

unsigned gic_ncpus(const Gic *g)
{
    return g->ncpus;
}

unsigned gic_nirqs(const Gic *g)
{
    return g->nirqs;
}

MemRegion *gic_dist_region(Gic *g)
{
    return g ? g->dist_mr : NULL;
}

MemRegion *gic_cpuif_region(Gic *g, unsigned cpu)
{
    return g && g->version == 2 && cpu < g->ncpus ? g->cpu[cpu].cpuif_mr : NULL;
}

MemRegion *gic_redist_region(Gic *g)
{
    return g ? g->redist_mr : NULL;
}
