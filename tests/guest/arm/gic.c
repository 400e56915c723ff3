/*
 * gic (run with --smp 4, GICv2): banking and SGIs (IHI 0048B).
 *
 *  - GICC at 0x08010000 is each CPU's own CPU interface (v2 2.2?, the
 *    machine banks it per CPU): every CPU writes a different GICC_PMR and
 *    reads its own back after all have written.
 *  - GICD_ISENABLER0 is banked per CPU for SGIs and PPIs (v2 4.3.5): each
 *    CPU enables a different PPI and sees only its own.
 *  - SGIs through GICD_SGIR (v2 4.3.15): CPU 0 sends SGI k to CPU k, SGI 5
 *    to CPUs 1-3 in one write and SGI 15 to itself (TargetListFilter 2);
 *    each CPU k answers its SGI k with SGI 8 + k to CPU 0. GICC_IAR
 *    returns the source CPU in bits 12:10 (v2 4.4.4); every CPU records
 *    exactly the SGIs sent to it and their sources.
 */
#include "lib.h"

#define NCPUS 4
#define SGI_ALL 5          /* sent to CPUs 1-3 at once */
#define SGI_SELF 15        /* CPU 0 to itself */
#define SGI_PONG 8         /* + k: CPU k's answer */
#define EXPECTED_ACKS 10   /* 3 x 2 on CPUs 1-3, 4 on CPU 0 */

static volatile uint32_t pmr_written, ready, acks;
static volatile uint32_t pmr_seen[NCPUS], isen_seen[NCPUS];
static volatile uint32_t sgis[NCPUS];          /* bit per SGI received */
static volatile uint32_t sources[NCPUS][16];   /* bit per source CPU, per SGI */

static bool gic_irq(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr, struct frame *f)
{
    (void)kind, (void)esr, (void)far, (void)elr, (void)f;
    unsigned me = cpu_index();
    uint32_t iar = gicv2_ack();
    unsigned id = iar & 0x3ff, src = (iar >> 10) & 7;
    if (id == GIC_SPURIOUS) {
        return true;
    }
    check(id < 16, 0x20, "only SGIs are expected");
    sgis[me] |= 1u << id;
    sources[me][id] |= 1u << src;
    /* EOI with the IAR value, source included (v2 4.4.5). */
    gicv2_eoi(iar);
    if (me != 0 && id == me) {
        gicv2_send_sgi(1u << 0, SGI_PONG + me);
    }
    atomic_add32(&acks, 1);
    return true;
}

static void setup(unsigned me)
{
    gicv2_cpu_init();
    for (unsigned sgi = 0; sgi < 16; sgi++) {
        gicv2_enable_irq(sgi, 0x80);
    }
    gicv2_enable_irq(20 + me, 0x80);
    /* A different mask per CPU, all below the SGIs' priority 0x80 so they
     * still pass (v2 3.3.2: higher priority = lower value). */
    mmio_write32(GICC_BASE + GICC_PMR, 0xf0 - 0x10 * me);
    atomic_add32(&pmr_written, 1);
    wait_eq32(&pmr_written, NCPUS, "every CPU's GICC_PMR write");
    pmr_seen[me] = mmio_read32(GICC_BASE + GICC_PMR);
    isen_seen[me] = mmio_read32(GICD_BASE + GICD_ISENABLER);
    atomic_add32(&ready, 1);
}

/* Take interrupts until `*until` reaches `want`, without WFI on the CPU
 * that waits for others (a WFI entered just after the last interrupt
 * elsewhere would never wake). */
static void irq_window_until(volatile uint32_t *until, uint32_t want)
{
    for (uint64_t i = 0; load_acquire32(until) != want; i++) {
        check(i < 20000000, 0x21, "timeout waiting for the SGIs");
        irq_enable();
        isb();
        irq_disable();
    }
}

static void secondary(uint64_t arg)
{
    (void)arg;
    setup(cpu_index());
    /* Sleep; each wake-up takes the pending IRQ in the window. */
    for (;;) {
        wfi();
        irq_enable();
        isb();
        irq_disable();
    }
}

int main(uint64_t dtb)
{
    (void)dtb;
    irq_hook = gic_irq;
    gicv2_dist_init();
    uint32_t typer = mmio_read32(GICD_BASE + GICD_TYPER);
    /* GICD_TYPER (v2 4.3.2): CPUNumber [7:5] = CPUs - 1, ITLinesNumber
     * [4:0] = interrupts / 32 - 1 (virt: 288 interrupts). */
    print("gic: GICv2, GICD_TYPER CPUNumber=%u ITLinesNumber=%u\n", (typer >> 5) & 7,
          typer & 0x1f);
    check_eq((typer >> 5) & 7, NCPUS - 1, 0x22, "GICD_TYPER.CPUNumber");
    check_eq(typer & 0x1f, 288 / 32 - 1, 0x23, "GICD_TYPER.ITLinesNumber");

    for (uint64_t cpu = 1; cpu < NCPUS; cpu++) {
        check_eq(psci_cpu_on(cpu, secondary, 0), PSCI_SUCCESS, 0x24, "CPU_ON");
    }
    setup(0);
    wait_eq32(&ready, NCPUS, "every CPU's GIC setup");
    for (unsigned k = 0; k < NCPUS; k++) {
        print("CPU %u: GICC_PMR 0x%02x GICD_ISENABLER0 0x%08x\n", k, pmr_seen[k], isen_seen[k]);
        check_eq(pmr_seen[k], 0xf0 - 0x10 * k, 0x25, "banked GICC_PMR");
        check_eq(isen_seen[k], 0xffffu | (1u << (20 + k)), 0x26, "banked GICD_ISENABLER0");
    }

    for (unsigned k = 1; k < NCPUS; k++) {
        gicv2_send_sgi(1u << k, k);
    }
    gicv2_send_sgi(0xe, SGI_ALL);
    /* TargetListFilter 2: "forward only to the CPU that requested". */
    dsb_sy();
    mmio_write32(GICD_BASE + GICD_SGIR, (2u << 24) | SGI_SELF);
    irq_window_until(&acks, EXPECTED_ACKS);

    for (unsigned k = 1; k < NCPUS; k++) {
        print("CPU %u: SGIs 0x%04x, from CPU mask 0x%x 0x%x\n", k, sgis[k], sources[k][k],
              sources[k][SGI_ALL]);
        check_eq(sgis[k], (1u << k) | (1u << SGI_ALL), 0x27, "SGIs received");
        check_eq(sources[k][k], 1, 0x28, "SGI k came from CPU 0");
        check_eq(sources[k][SGI_ALL], 1, 0x29, "SGI 5 came from CPU 0");
    }
    print("CPU 0: SGIs 0x%04x:", sgis[0]);
    check_eq(sgis[0], (1u << SGI_SELF) | (7u << (SGI_PONG + 1)), 0x2a, "CPU 0's SGIs");
    print(" SGI %u from mask 0x%x", SGI_SELF, sources[0][SGI_SELF]);
    check_eq(sources[0][SGI_SELF], 1, 0x2b, "self SGI from CPU 0");
    for (unsigned k = 1; k < NCPUS; k++) {
        print(", SGI %u from mask 0x%x", SGI_PONG + k, sources[0][SGI_PONG + k]);
        check_eq(sources[0][SGI_PONG + k], 1u << k, 0x2c, "pong source in GICC_IAR[12:10]");
    }
    print("\n");
    /* Nothing left: GICC_IAR reads 1023, spurious (v2 3.2.5). */
    check_eq(gicv2_ack() & 0x3ff, GIC_SPURIOUS, 0x2d, "IAR with nothing pending");
    print("gic done\n");
    return 0;
}
