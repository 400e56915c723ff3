/*
 * gicv3 (run with --gic-version 3 --smp 4): GICv3 with affinity routing
 * (IHI 0069): redistributor discovery by GICR_TYPER, the GICR_WAKER
 * handshake, the ICC_* system-register CPU interface, and SGIs targeted
 * by affinity through ICC_SGI1R_EL1.
 *
 * CPU 0 sends SGI k to CPU k (TargetList with one bit), SGI 6 to CPUs 2
 * and 3 in one write (two TargetList bits), SGI 7 to every other CPU
 * (IRM = 1) and SGI 15 to itself; CPU k answers SGI k with SGI 8 + k to
 * CPU 0. With affinity routing IAR carries no source (v3 12.2.?), so the
 * answer's INTID names its sender.
 */
#include "lib.h"

#define NCPUS 4
#define SGI_PAIR 6          /* to CPUs 2 and 3 */
#define SGI_OTHERS 7        /* IRM = 1: every CPU but the sender */
#define SGI_SELF 15
#define SGI_PONG 8
#define EXPECTED_ACKS 12    /* CPU 1: 2, CPUs 2-3: 3 each, CPU 0: 4 */

static volatile uint32_t pmr_written, ready, acks;
static volatile uint32_t pmr_seen[NCPUS];
static volatile uint64_t typer_seen[NCPUS];
static volatile uint32_t sgis[NCPUS];
static volatile uint32_t dup;

static bool gic_irq(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr, struct frame *f)
{
    (void)kind, (void)esr, (void)far, (void)elr, (void)f;
    unsigned me = cpu_index();
    uint64_t iar = read_icc(ICC_IAR1_EL1);
    unsigned id = (unsigned)(iar & 0xffffff);
    if (id >= 1020) {
        return true;   /* spurious */
    }
    check(id < 16, 0x20, "only SGIs are expected");
    if (sgis[me] & (1u << id)) {
        dup++;
    }
    sgis[me] |= 1u << id;
    /* EOImode 0: the write drops priority and deactivates (v3 12.2.?). */
    write_icc(ICC_EOIR1_EL1, iar);
    isb();
    if (me != 0 && id == me) {
        gicv3_send_sgi(0, SGI_PONG + me);
    }
    atomic_add32(&acks, 1);
    return true;
}

static void setup(unsigned me)
{
    gicv3_cpu_init();
    for (unsigned sgi = 0; sgi < 16; sgi++) {
        gicv3_enable_ppi_sgi(sgi, 0x80);
    }
    write_icc(ICC_PMR_EL1, 0xf0 - 0x10 * me);
    isb();
    atomic_add32(&pmr_written, 1);
    wait_eq32(&pmr_written, NCPUS, "every CPU's ICC_PMR_EL1 write");
    pmr_seen[me] = (uint32_t)read_icc(ICC_PMR_EL1);
    typer_seen[me] = mmio_read64(gicv3_redist_of_self() + GICR_TYPER);
    atomic_add32(&ready, 1);
}

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
    gicv3_dist_init();
    /* GICD_CTLR (v3 9.9.4) with one security state: DS (6) and ARE (4)
     * read as one here (gic.h), EnableGrp1 (1) as written. */
    uint32_t ctlr = mmio_read32(GICD_BASE + GICD_CTLR);
    print("gicv3: GICD_CTLR ARE=%u DS=%u EnableGrp1=%u\n", (ctlr >> 4) & 1, (ctlr >> 6) & 1,
          (ctlr >> 1) & 1);
    check_eq(ctlr & 0x52, 0x52, 0x22, "GICD_CTLR");
    /* GICD_PIDR2.ArchRev [7:4] = 3 for GICv3 (v3 9.9.?). */
    check_eq((mmio_read32(GICD_BASE + 0xffe8) >> 4) & 0xf, 3, 0x23, "GICD_PIDR2.ArchRev");

    for (uint64_t cpu = 1; cpu < NCPUS; cpu++) {
        check_eq(psci_cpu_on(cpu, secondary, 0), PSCI_SUCCESS, 0x24, "CPU_ON");
    }
    setup(0);
    /* ICC_SRE_EL1: SRE, DFB, DIB read as one (gic.h). ICC_CTLR_EL1.PRIbits
     * [10:8] = implemented priority bits - 1 = 4. */
    uint64_t sre = read_icc(ICC_SRE_EL1), ictlr = read_icc(ICC_CTLR_EL1);
    print("ICC_SRE_EL1 0x%lx, ICC_CTLR_EL1.PRIbits %lu\n", sre, (ictlr >> 8) & 7);
    check_eq(sre & 7, 7, 0x25, "ICC_SRE_EL1");
    check_eq((ictlr >> 8) & 7, 4, 0x26, "ICC_CTLR_EL1.PRIbits");
    wait_eq32(&ready, NCPUS, "every CPU's GIC setup");
    for (unsigned k = 0; k < NCPUS; k++) {
        uint64_t t = typer_seen[k];
        print("CPU %u: GICR_TYPER affinity 0x%08lx last %lu, ICC_PMR_EL1 0x%02x\n", k, t >> 32,
              (t >> 4) & 1, pmr_seen[k]);
        check_eq(t >> 32, k, 0x27, "GICR_TYPER.Affinity_Value");
        check_eq((t >> 4) & 1, k == NCPUS - 1, 0x28, "GICR_TYPER.Last");
        check_eq(pmr_seen[k], 0xf0 - 0x10 * k, 0x29, "per-CPU ICC_PMR_EL1");
    }

    for (unsigned k = 1; k < NCPUS; k++) {
        gicv3_send_sgi(k, k);
    }
    /* INTID 6, Aff1.Aff2.Aff3 = 0, TargetList = Aff0 2 and 3. */
    dsb_sy();
    write_icc(ICC_SGI1R_EL1, ((uint64_t)SGI_PAIR << 24) | 0xc);
    /* IRM (bit 40) = 1: every PE but the sender (v3 12.2.?). */
    write_icc(ICC_SGI1R_EL1, (1ul << 40) | ((uint64_t)SGI_OTHERS << 24));
    gicv3_send_sgi(0, SGI_SELF);
    irq_window_until(&acks, EXPECTED_ACKS);

    static const uint32_t want[NCPUS] = {
        (1u << SGI_SELF) | (7u << (SGI_PONG + 1)),
        (1u << 1) | (1u << SGI_OTHERS),
        (1u << 2) | (1u << SGI_PAIR) | (1u << SGI_OTHERS),
        (1u << 3) | (1u << SGI_PAIR) | (1u << SGI_OTHERS),
    };
    for (unsigned k = 0; k < NCPUS; k++) {
        print("CPU %u: SGIs 0x%04x\n", k, sgis[k]);
        check_eq(sgis[k], want[k], 0x2a, "SGIs received");
    }
    check_eq(dup, 0, 0x2b, "no SGI taken twice");
    check_eq(read_icc(ICC_IAR1_EL1) & 0xffffff, 1023, 0x2c, "ICC_IAR1_EL1 with nothing pending");
    print("gicv3 done\n");
    return 0;
}
