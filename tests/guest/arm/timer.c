/*
 * timer: the generic timer (DDI 0487 D11) of the virt machine: CNTFRQ_EL0
 * = 62.5 MHz, the EL1 virtual timer (CNTV_*, PPI 27) and physical timer
 * (CNTP_*, PPI 30) through a GICv2 (machines/virt.h).
 *
 * The machine's clock is virtual: 1 ns per instruction retired, and when
 * every CPU waits in WFI it jumps to the next deadline. So an interrupt
 * arrives exactly at the deadline, and the handler reads the counter a
 * few dozen instructions (at 16 ns per tick, a few ticks) later. The
 * checks: the counter is at or past the compare value, by at most LATE_MAX
 * ticks. The lines printed say only pass/fail, not the exact lateness,
 * which depends on the code the compiler generated for the handler path.
 */
#include "lib.h"

#define FREQ 62500000u
#ifndef LATE_MAX
#define LATE_MAX 32u     /* 512 ns: far more than the vector + handler path */
#endif

/* CNTx_CTL_EL0 (D17.?): ENABLE (0), IMASK (1), ISTATUS (2, RO). */
#define CTL_ENABLE 1u
#define CTL_IMASK 2u
#define CTL_ISTATUS 4u

static volatile unsigned fired, fired_id;
static volatile uint64_t fired_count, fired_ctl;

static bool timer_irq(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr, struct frame *f)
{
    (void)kind, (void)esr, (void)far, (void)elr, (void)f;
    /* The counter first, before anything else delays the reading. */
    uint64_t vct = read_sysreg(cntvct_el0), pct = read_sysreg(cntpct_el0);
    uint32_t iar = gicv2_ack();
    unsigned id = iar & 0x3ff;
    if (id == GIC_SPURIOUS) {
        return true;
    }
    fired_id = id;
    if (id == 27) {
        fired_count = vct;
        fired_ctl = read_sysreg(cntv_ctl_el0);
        /* The timer output is level-sensitive: turn it off before the EOI
         * or it is pending again at once. */
        write_sysreg(cntv_ctl_el0, 0);
    } else if (id == 30) {
        fired_count = pct;
        fired_ctl = read_sysreg(cntp_ctl_el0);
        write_sysreg(cntp_ctl_el0, 0);
    }
    isb();
    gicv2_eoi(iar);
    fired++;
    return true;
}

/* Wait for one interrupt: WFI wakes on a pending interrupt even with
 * PSTATE.I set (D1.?); the IRQ is then taken in the window. */
static void wait_irq(void)
{
    unsigned before = fired;
    for (unsigned i = 0; fired == before; i++) {
        check(i < 1000, 0x20, "no timer interrupt");
        wfi();
        irq_enable();
        isb();
        irq_disable();
    }
}

static void virtual_timer(uint64_t ticks, int code)
{
    uint64_t cval = read_sysreg(cntvct_el0) + ticks;
    write_sysreg(cntv_cval_el0, cval);
    write_sysreg(cntv_ctl_el0, CTL_ENABLE);
    isb();
    check_eq(read_sysreg(cntv_ctl_el0) & CTL_ISTATUS, 0, code, "CNTV: ISTATUS before the deadline");
    wait_irq();
    check_eq(fired_id, 27, code + 1, "virtual timer: PPI 27");
    check(fired_ctl & CTL_ISTATUS, code + 2, "virtual timer: ISTATUS in the handler");
    check(fired_count >= cval, code + 3, "virtual timer: fired before the deadline");
    if (fired_count - cval > LATE_MAX) {
        fail(code + 4, "virtual timer: %lu ticks late", fired_count - cval);
    }
    print("virtual timer, %lu ticks: fired at the deadline\n", ticks);
}

int main(uint64_t dtb)
{
    (void)dtb;
    irq_hook = timer_irq;

    uint64_t frq = read_sysreg(cntfrq_el0);
    print("CNTFRQ_EL0: %lu\n", frq);
    check_eq(frq, FREQ, 0x21, "CNTFRQ_EL0");

    /* The counter moves: 1 ns per instruction, 16 ns per tick. */
    uint64_t t0 = read_sysreg(cntvct_el0);
    for (volatile unsigned i = 0; i < 1000; i++) {
    }
    uint64_t t1 = read_sysreg(cntvct_el0);
    check(t1 > t0, 0x22, "CNTVCT_EL0 advances");
    /* CNTVOFF is 0 without EL2: virtual and physical counts agree (read in
     * this order, the physical one cannot be behind; the margin is for
     * emulators whose counter follows wall-clock time). */
    uint64_t v = read_sysreg(cntvct_el0), p = read_sysreg(cntpct_el0);
    check(p >= v && p - v < 62500, 0x23, "CNTVCT_EL0 = CNTPCT_EL0");
    print("counter advances\n");

    gicv2_dist_init();
    gicv2_cpu_init();
    gicv2_enable_irq(27, 0xa0);
    gicv2_enable_irq(30, 0xa0);

    virtual_timer(1000, 0x30);
    virtual_timer(62500, 0x38);          /* 1 ms */
    virtual_timer(3125000, 0x40);        /* 50 ms */

    /* The physical timer through TVAL: writing CNTP_TVAL_EL0 sets CVAL =
     * CNTPCT + TVAL (sign-extended); once fired, TVAL reads CVAL - CNTPCT,
     * zero or negative (D11.2.4). */
    write_sysreg(cntp_tval_el0, 20000);
    write_sysreg(cntp_ctl_el0, CTL_ENABLE);
    isb();
    uint64_t cval = read_sysreg(cntp_cval_el0);
    wait_irq();
    check_eq(fired_id, 30, 0x48, "physical timer: PPI 30");
    check(fired_count >= cval && fired_count - cval <= LATE_MAX, 0x49,
          "physical timer: fired at the deadline");
    int32_t tval = (int32_t)read_sysreg(cntp_tval_el0);
    check(tval <= 0, 0x4a, "CNTP_TVAL_EL0 after the deadline");
    print("physical timer, TVAL 20000: fired at the deadline\n");

    /* IMASK: the condition is met (ISTATUS) but no interrupt is raised:
     * ISR_EL1.I (bit 7) stays clear. */
    uint64_t mcval = read_sysreg(cntvct_el0) + 50;
    write_sysreg(cntv_cval_el0, mcval);
    write_sysreg(cntv_ctl_el0, CTL_ENABLE | CTL_IMASK);
    isb();
    while (read_sysreg(cntvct_el0) < mcval + 2) {
    }
    check(read_sysreg(cntv_ctl_el0) & CTL_ISTATUS, 0x4b, "masked timer: ISTATUS");
    check_eq(read_sysreg(isr_el1) & (1u << 7), 0, 0x4c, "masked timer: no IRQ pending");
    /* Unmasking raises it. */
    unsigned before = fired;
    write_sysreg(cntv_ctl_el0, CTL_ENABLE);
    isb();
    irq_enable();
    isb();
    irq_disable();
    check_eq(fired, before + 1, 0x4d, "unmasked timer interrupts at once");
    print("IMASK: ISTATUS set, no interrupt until unmasked\n");
    print("timer done\n");
    return 0;
}
