/*
 * The generic timer of one CPU (ARM ARM DDI 0487, chapter D11 "The Generic
 * Timer in AArch64 state").
 *
 * The system counter runs at CNTFRQ_EL0 Hz on the machine's virtual clock:
 * CNTPCT = clock_ns * CNTFRQ / 10^9 (exact 128-bit arithmetic, rounded
 * down). Without a clock the count is the CPU's instruction count, taken
 * as nanoseconds. CNTVCT = CNTPCT - CNTVOFF (D11.2.4).
 *
 * Each timer (EL1 physical, virtual) has a condition ISTATUS = (count >=
 * CVAL), unsigned 64-bit (D11.2.4 "Operation of the CompareValue views"),
 * and an output level ENABLE && ISTATUS && !IMASK reported to the machine
 * when it changes. Nothing here schedules: the machine calls
 * arm_timer_update between quanta and uses arm_timer_next_deadline_ns to
 * jump the clock while every CPU waits for an interrupt.
 */
#include "targets/arm/arm_internal.h"

#define NS_PER_S 1000000000u

#define CTL_ENABLE (1u << 0)
#define CTL_IMASK  (1u << 1)

static uint64_t clock_ns(ArmCpu *cpu)
{
    if (cpu->mops && cpu->mops->clock_ns) {
        return cpu->mops->clock_ns(cpu->machine);
    }
    return cpu->icount;
}

static uint64_t count_at(const ArmCpu *cpu, uint64_t ns)
{
    unsigned __int128 c = (unsigned __int128)ns * cpu->cntfrq_el0 / NS_PER_S;
    return (uint64_t)c;  /* wraps like the 64-bit counter would */
}

uint64_t arm_timer_count(ArmCpu *cpu)
{
    return count_at(cpu, clock_ns(cpu));
}

/* Output level of timer t for physical count `pcount`. */
static bool timer_level(const ArmCpu *cpu, int t, uint64_t pcount)
{
    const ArmTimer *tm = &cpu->timer[t];
    uint64_t count = t == ARM_TIMER_VIRT ? pcount - cpu->cntvoff : pcount;
    return (tm->ctl & CTL_ENABLE) && !(tm->ctl & CTL_IMASK) && count >= tm->cval;
}

void arm_timer_update(ArmCpu *cpu)
{
    uint64_t pcount = arm_timer_count(cpu);
    for (int t = 0; t < 2; t++) {
        bool level = timer_level(cpu, t, pcount);
        if (level != cpu->timer[t].level) {
            cpu->timer[t].level = level;
            if (cpu->mops && cpu->mops->timer_irq) {
                cpu->mops->timer_irq(cpu->machine, cpu, t, level);
            }
        }
    }
}

/*
 * Smallest ns with count_at(ns) >= target, i.e. ns * f / 10^9 >= target:
 * ns = ceil(target * 10^9 / f). UINT64_MAX when it is out of reach.
 */
static uint64_t ns_for_count(const ArmCpu *cpu, unsigned __int128 target)
{
    uint64_t f = cpu->cntfrq_el0;
    if (f == 0) {
        return UINT64_MAX;  /* a stopped counter never reaches anything */
    }
    unsigned __int128 num = target * NS_PER_S;
    unsigned __int128 ns = num / f + (num % f != 0);
    return ns >= UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

uint64_t arm_timer_next_deadline_ns(ArmCpu *cpu)
{
    uint64_t now = clock_ns(cpu);
    uint64_t pcount = count_at(cpu, now);
    uint64_t best = UINT64_MAX;
    for (int t = 0; t < 2; t++) {
        const ArmTimer *tm = &cpu->timer[t];
        if (!(tm->ctl & CTL_ENABLE) || (tm->ctl & CTL_IMASK)) {
            continue;
        }
        if (timer_level(cpu, t, pcount)) {
            return now;  /* already asserted */
        }
        /* Physical count at which the condition becomes true. For the
         * virtual timer CNTVCT = CNTPCT - CNTVOFF, so CNTPCT must reach
         * CVAL + CNTVOFF (128-bit: it may lie beyond 2^64). */
        unsigned __int128 target = tm->cval;
        if (t == ARM_TIMER_VIRT) {
            target += cpu->cntvoff;
        }
        uint64_t ns = ns_for_count(cpu, target);
        if (ns < best) {
            best = ns;
        }
    }
    return best;
}
