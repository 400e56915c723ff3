/*
 * GIC internals shared by gic.c (state, CPU interfaces, inputs) and
 * gic_dist.c (the Distributor and Redistributor register blocks).
 * Nothing outside devices/gic*.c includes this.
 */
#ifndef MMUSIM_DEVICES_GIC_INTERNAL_H
#define MMUSIM_DEVICES_GIC_INTERNAL_H

#include "devices/gic.h"

/* The state of one interrupt as one CPU sees it (v2 3.2.4, v3 4.1.2). */
typedef struct GicIrq {
    uint8_t prio;    /* only the implemented priority bits can be set */
    bool enabled;
    bool group1;
    bool edge;       /* ICFGR Int_config[1]: true = edge-triggered */
    bool latch;      /* pending set by an edge or ISPENDR; cleared by ack/ICPENDR */
    bool active;
    bool line;       /* input level (SPIs, PPIs) */
} GicIrq;

typedef struct GicCpu {
    Gic *g;
    unsigned index;
    MemRegion *cpuif_mr;     /* GICv2 GICC_* region of this CPU */
    GicIrq priv[GIC_NR_PRIVATE];
    /* GICv2: pending SGIs, one bit per source CPU (v2 GICD_SPENDSGIRn). */
    uint8_t sgi_src[GIC_NR_SGIS];

    /* CPU interface. */
    uint32_t ctlr;           /* GICC_CTLR (v2) or ICC_CTLR_EL1's CBPR/EOImode (v3) */
    bool grpen[2];           /* GICv3 ICC_IGRPEN0/1_EL1 */
    uint8_t pmr;
    uint8_t bpr0, bpr1;      /* GICC_BPR/ABPR, ICC_BPR0/1_EL1 */
    uint32_t apr[2][4];      /* active priorities of group 0 / group 1 */
    uint32_t waker;          /* GICv3 GICR_WAKER */
    bool irq_out, fiq_out;   /* what set_irq/set_fiq were last told */
} GicCpu;

/* One report per controller and kind. */
enum {
    GIC_REP_RESERVED = 1u << 0,
    GIC_REP_WIDTH = 1u << 1,
    GIC_REP_BANK = 1u << 2,
    GIC_REP_INPUT = 1u << 3,
    GIC_REP_EOI = 1u << 4,
    GIC_REP_RO = 1u << 5,
    GIC_REP_SGI = 1u << 6,
};

struct Gic {
    unsigned version, ncpus, nirqs;
    void (*set_irq)(void *opaque, unsigned cpu, bool level);
    void (*set_fiq)(void *opaque, unsigned cpu, bool level);
    void *opaque;
    char *name;

    /* Priority implementation: pri_mask keeps the implemented bits; the
     * active-priority bitmaps have one bit per preemption level, group
     * priority >> apr_shift; apr_regs registers of 32 bits show them. */
    uint8_t pri_mask;
    unsigned min_bpr0;
    unsigned apr_shift;
    unsigned apr_regs;

    MemRegion *dist_mr;
    MemRegion *redist_mr;
    uint32_t dist_ctlr;
    GicIrq *spi;             /* [nirqs]; entries below 32 unused */
    uint8_t *targets;        /* GICv2 ITARGETSR, [nirqs] */
    uint64_t *irouter;       /* GICv3 IROUTER, [nirqs] */
    GicCpu *cpu;             /* [ncpus] */
    unsigned reported;
};

void gic_report(Gic *g, unsigned kind, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* The state of `irq` for CPU `c` (private interrupts: c's bank; c may be
 * NULL only for SPIs). irq < nirqs. */
static inline GicIrq *gic_irq(Gic *g, GicCpu *c, unsigned irq)
{
    return irq < GIC_NR_PRIVATE ? &c->priv[irq] : &g->spi[irq];
}

bool gic_irq_pending(const Gic *g, const GicCpu *c, unsigned irq, const GicIrq *s);

/* Recompute and report the outputs of one CPU / of every CPU. */
void gic_update_cpu(Gic *g, GicCpu *c);
void gic_update_all(Gic *g);
/* After a change to interrupt `irq` as seen by `c`: update what it can
 * affect (c alone for private interrupts, everyone for SPIs). */
void gic_update_irq(Gic *g, GicCpu *c, unsigned irq);

/* GICv3 affinity of a CPU in GICR_TYPER / IROUTER layout (Aff3 in 31:24 of
 * the upper word is 0; here: Aff0 7:0, Aff1 15:8, Aff2 23:16, Aff3 39:32). */
uint64_t gic_affinity(const Gic *g, unsigned cpu);

/* gic_dist.c: create the Distributor (and Redistributor) regions. */
bool gic_dist_init(Gic *g, GError **err);

#endif
