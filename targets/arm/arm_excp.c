/*
 * AArch64 exceptions to EL1 and exception return (ARM ARM DDI 0487, D1.10
 * "Exception entry", D1.11 "Exception return", D1.16 interrupts).
 *
 * The model has EL0 and EL1 only, both AArch64, so every exception is taken
 * to EL1 and every ERET starts from EL1. PSTATE is kept in ArmCpu as
 * separate fields (nzcv, daif, el, sp_sel, pan, il); SPSR_EL1 is composed
 * from them here rather than through arm_get_pstate so that the system half
 * does not depend on the interpreter's helpers (the formats are the same:
 * ARM ARM C5.2.18, SPSR_EL1 when the exception was taken from AArch64).
 *
 * PSTATE.SS is always 0: software step (MDSCR_EL1.SS) is not modelled.
 */
#include <inttypes.h>

#include "targets/arm/arm_internal.h"

static const char *const kind_name[] = { "sync", "irq", "fiq", "serror" };

/* PSTATE as an SPSR_EL1 value (C5.2.18): M[3:0] is EL0t (0), EL1t (4) or
 * EL1h (5); M[4] = 0 (AArch64). */
static uint32_t pstate_to_spsr(const ArmCpu *cpu)
{
    uint32_t m = cpu->el == 0 ? ARM_PSTATE_M_EL0T
                 : cpu->sp_sel ? ARM_PSTATE_M_EL1H : ARM_PSTATE_M_EL1T;
    return (cpu->nzcv & 0xf0000000u) | (cpu->daif & 0x3c0u) |
           (cpu->pan ? ARM_PSTATE_PAN : 0) | (cpu->il ? ARM_PSTATE_IL : 0) | m;
}

void arm_update_mmu_index(ArmCpu *cpu)
{
    /* PAN (ARMv8.1, D5.4.2 "Privileged Access Never") only restricts data
     * accesses made at EL1, so it selects a separate EL1 index whose
     * entries lack read/write permission on EL0-accessible pages. */
    if (cpu->el == 0) {
        cpu->mmu_idx = ARM_MMU_EL0;
    } else {
        cpu->mmu_idx = cpu->pan ? ARM_MMU_EL1_PAN : ARM_MMU_EL1;
    }
}

void arm_take_exception(ArmCpu *cpu, ArmExcKind kind, uint32_t esr, uint64_t far, bool far_valid,
                        uint64_t return_pc)
{
    /* Vector offset (D1.10.2, table "Vector offsets from vector table base
     * address"): the group by where the exception came from, then the
     * entry by type. */
    uint64_t base;
    if (cpu->el == 0) {
        base = 0x400;             /* lower EL, using AArch64 */
    } else if (cpu->sp_sel) {
        base = 0x200;             /* current EL with SP_ELx */
    } else {
        base = 0x000;             /* current EL with SP_EL0 */
    }
    uint64_t vector = (cpu->vbar_el1 & ~0x7ffull) + base + 0x80u * (unsigned)kind;
    unsigned from_el = cpu->el;
    uint64_t from_pc = cpu->pc;

    /* AArch64.TakeException (D1.10.1): save PSTATE and the preferred
     * return address, then write the syndrome. ESR_EL1 is written for
     * synchronous exceptions and SError only; FAR_EL1 only for the
     * exceptions that define it (it is UNKNOWN otherwise: left as is). */
    cpu->spsr_el1 = pstate_to_spsr(cpu);
    cpu->elr_el1 = return_pc;
    if (kind == ARM_EXC_SYNC || kind == ARM_EXC_SERROR) {
        cpu->esr_el1 = esr;
    }
    if (far_valid) {
        cpu->far_el1 = far;
    }

    /* New PSTATE: EL1h, all of DAIF masked, SS and IL cleared; PAN set
     * when SCTLR_EL1.SPAN is 0 (D5.4.2; ARMv8.1-PAN is advertised). */
    cpu->el = 1;
    cpu->sp_sel = true;
    cpu->daif = ARM_PSTATE_D | ARM_PSTATE_A | ARM_PSTATE_I | ARM_PSTATE_F;
    cpu->il = false;
    if (!(cpu->sctlr_el1 & (1ull << 23))) {
        cpu->pan = true;
    }
    arm_update_mmu_index(cpu);

    /* Exception entry leaves a WFI/WFE wait and clears the local exclusive
     * monitor (B2.9.5: ClearExclusiveLocal on taking an exception). */
    cpu->halted = false;
    cpu->excl_addr = UINT64_MAX;
    cpu->pc = vector;

    if (cpu->trace & ARM_TRACE_INT) {
        FILE *out = cpu->trace_out ? cpu->trace_out : stderr;
        fprintf(out, "cpu%u exc: %s from el%u pc 0x%" PRIx64 " ec 0x%02x esr 0x%08" PRIx32,
                cpu->index, kind_name[kind & 3], from_el, from_pc,
                (kind == ARM_EXC_SYNC || kind == ARM_EXC_SERROR) ? (unsigned)(esr >> 26) : 0u,
                (kind == ARM_EXC_SYNC || kind == ARM_EXC_SERROR) ? esr : 0u);
        if (far_valid) {
            fprintf(out, " far 0x%" PRIx64, far);
        }
        fprintf(out, " elr 0x%" PRIx64 " -> 0x%" PRIx64 "\n", return_pc, vector);
    }
}

/*
 * Is SPSR_EL1.M an exception return this PE can make from EL1? (D1.11.2
 * "Illegal exception returns from AArch64 state".) Illegal: a return to
 * AArch32 (M[4] = 1: EL0 and EL1 are AArch64-only here), to a higher EL or
 * to an EL that is not implemented (EL2, EL3), and the reserved encodings
 * (M[1] = 1, and EL0 with M[0] = 1).
 */
static bool spsr_mode_legal(uint32_t spsr)
{
    uint32_t m = spsr & 0x1fu;
    return m == ARM_PSTATE_M_EL0T || m == ARM_PSTATE_M_EL1T || m == ARM_PSTATE_M_EL1H;
}

ArmResult arm_exception_return(ArmCpu *cpu)
{
    if (cpu->el == 0) {
        /* ERET is UNDEFINED at EL0 (C6.2.x ERET). */
        arm_undefined(cpu);
        return ARM_R_EXC;
    }
    uint32_t spsr = (uint32_t)cpu->spsr_el1;
    uint64_t new_pc = cpu->elr_el1;
    bool legal = spsr_mode_legal(spsr);

    /* SetPSTATEFromPSR: NZCV, DAIF and PAN come from the SPSR whether or
     * not the return is legal. An illegal return keeps EL, SP selection
     * and execution state and sets PSTATE.IL; a legal one also restores
     * IL from SPSR.IL (a set IL makes the next instruction fault too). */
    cpu->nzcv = spsr & 0xf0000000u;
    cpu->daif = spsr & 0x3c0u;
    cpu->pan = (spsr & ARM_PSTATE_PAN) != 0;
    if (legal) {
        unsigned m = spsr & 0xfu;
        cpu->el = m >> 2;
        cpu->sp_sel = cpu->el != 0 && (m & 1);
        cpu->il = (spsr & ARM_PSTATE_IL) != 0;
    } else {
        cpu->il = true;
    }
    arm_update_mmu_index(cpu);

    /* The PC comes from ELR_EL1 in both cases. With top-byte-ignore for
     * the target half of the address space, the tag is dropped
     * (AArch64.BranchAddr: bits 63:56 become copies of bit 55). */
    cpu->pc = arm_data_va(cpu, new_pc);

    /* An exception return clears the local monitor and is a WFE wake-up
     * event (D1.16.1 "The Event Register"). */
    cpu->excl_addr = UINT64_MAX;
    cpu->event_reg = true;

    if (cpu->trace & ARM_TRACE_INT) {
        FILE *out = cpu->trace_out ? cpu->trace_out : stderr;
        fprintf(out, "cpu%u eret: spsr 0x%08" PRIx32 " -> el%u%s pc 0x%" PRIx64 "%s\n",
                cpu->index, spsr, cpu->el, cpu->el ? (cpu->sp_sel ? "h" : "t") : "", cpu->pc,
                legal ? (cpu->il ? " (IL from SPSR)" : "") : " ILLEGAL");
    }
    return ARM_R_JUMP;
}

bool arm_check_interrupts(ArmCpu *cpu)
{
    if (cpu->powered_off) {
        return false;
    }
    /* With neither EL2 nor EL3, physical FIQ and IRQ are routed to EL1 and
     * masked by PSTATE.F / PSTATE.I at both EL0 and EL1 (D1.16.1, table
     * "Physical interrupt masking"). FIQ has the higher priority here. */
    if (cpu->fiq_line && !(cpu->daif & ARM_PSTATE_F)) {
        arm_take_exception(cpu, ARM_EXC_FIQ, 0, 0, false, cpu->pc);
        return true;
    }
    if (cpu->irq_line && !(cpu->daif & ARM_PSTATE_I)) {
        arm_take_exception(cpu, ARM_EXC_IRQ, 0, 0, false, cpu->pc);
        return true;
    }
    return false;
}
