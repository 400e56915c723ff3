/*
 * Private to targets/arm: the contract between the interpreter (decode,
 * handlers, run loop: arm_cpu.c, a64_*.c) and the system side (exceptions,
 * system registers, MMU, timer: arm_excp.c, arm_sysreg.c, arm_mmu.c,
 * arm_timer.c).
 *
 * Fault discipline (as on x86): while an instruction runs, cpu->pc is the
 * address of that instruction. Anything that faults takes the exception at
 * once (arm_take_exception: ELR = cpu->pc, PC = the vector) and returns
 * false / ARM_R_EXC; the handler then returns ARM_R_EXC immediately, having
 * changed no architectural register (loads first, then stores, then
 * register writes and base write-back).
 */
#ifndef MMUSIM_TARGETS_ARM_INTERNAL_H
#define MMUSIM_TARGETS_ARM_INTERNAL_H

#include "targets/arm/arm_cpu.h"

/* What a handler (or a system-side helper it calls) tells the loop. */
typedef enum ArmResult {
    ARM_R_NEXT = 0,   /* done: the loop sets pc += 4 */
    ARM_R_JUMP,       /* done: the handler set cpu->pc (branches, ERET) */
    ARM_R_EXC,        /* an exception was taken: cpu->pc is the vector */
    ARM_R_STOP,       /* done, pc += 4, and end the block: translation, EL,
                       * interrupt masks or the code itself may have changed */
    ARM_R_HALT,       /* WFI/WFE: pc += 4, then the CPU sleeps */
} ArmResult;

/* --- Exceptions (arm_excp.c; ARM ARM D1.10) --- */

typedef enum ArmExcKind {
    ARM_EXC_SYNC = 0,
    ARM_EXC_IRQ = 1,
    ARM_EXC_FIQ = 2,
    ARM_EXC_SERROR = 3,
} ArmExcKind;

/* Exception classes, ESR_ELx.EC (ARM ARM D13.2.37). */
enum {
    ARM_EC_UNKNOWN = 0x00,       /* UNDEFINED instructions */
    ARM_EC_WFX = 0x01,
    ARM_EC_FP_ACCESS = 0x07,     /* CPACR_EL1.FPEN trap; ISS = 0 here */
    ARM_EC_ILLEGAL_STATE = 0x0e,
    ARM_EC_SVC64 = 0x15,
    ARM_EC_HVC64 = 0x16,
    ARM_EC_SMC64 = 0x17,
    ARM_EC_SYSREG = 0x18,        /* trapped MSR/MRS/SYS (EL0 with traps enabled) */
    ARM_EC_IABORT_LOWER = 0x20,
    ARM_EC_IABORT_SAME = 0x21,
    ARM_EC_PC_ALIGN = 0x22,
    ARM_EC_DABORT_LOWER = 0x24,
    ARM_EC_DABORT_SAME = 0x25,
    ARM_EC_SP_ALIGN = 0x26,
    ARM_EC_SERROR = 0x2f,
    ARM_EC_BRK64 = 0x3c,
};

#define ARM_ESR_IL (1u << 25)    /* 32-bit instruction */
static inline uint32_t arm_esr(unsigned ec, bool il, uint32_t iss)
{
    return ((uint32_t)ec << 26) | (il ? ARM_ESR_IL : 0) | (iss & 0x1ffffff);
}

/* Take an exception to EL1: SPSR_EL1 = PSTATE, ELR_EL1 = return_pc,
 * ESR_EL1 = esr (synchronous and SError only), FAR_EL1 = far when
 * far_valid, PSTATE.DAIF all set, EL1h, PC = VBAR_EL1 + the vector offset
 * for (kind, from EL and SP selection). Leaves the WFI state, clears the
 * local exclusive monitor, updates mmu_idx. */
void arm_take_exception(ArmCpu *cpu, ArmExcKind kind, uint32_t esr, uint64_t far, bool far_valid,
                        uint64_t return_pc);
/* Synchronous exception from the current instruction (ELR = cpu->pc). */
static inline void arm_raise_sync(ArmCpu *cpu, unsigned ec, uint32_t iss)
{
    arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(ec, true, iss), 0, false, cpu->pc);
}
/* UNDEFINED instruction (EC 0). */
static inline void arm_undefined(ArmCpu *cpu)
{
    arm_raise_sync(cpu, ARM_EC_UNKNOWN, 0);
}
/* ERET: restore PSTATE from SPSR_EL1 and PC from ELR_EL1, with the illegal
 * exception return checks (ARM ARM D1.11.2). Always ARM_R_JUMP. */
ArmResult arm_exception_return(ArmCpu *cpu);
/* Take a pending, unmasked FIQ or IRQ (FIQ first). Called by the loop at
 * block boundaries. True if one was taken. */
bool arm_check_interrupts(ArmCpu *cpu);
/* Keep cpu->mmu_idx in step with EL and PAN. */
void arm_update_mmu_index(ArmCpu *cpu);

/* --- System registers and instructions (arm_sysreg.c; ARM ARM C5.3, D13) --- */

/* MRS Xt, <reg> / MSR <reg>, Xt. Unknown or inaccessible registers make
 * the instruction UNDEFINED (exception taken, ARM_R_EXC). Writes that
 * change translation or interrupt masking return ARM_R_STOP. */
ArmResult arm_sys_mrs(ArmCpu *cpu, uint32_t enc, uint64_t *val);
ArmResult arm_sys_msr(ArmCpu *cpu, uint32_t enc, uint64_t val);
/* MSR <pstatefield>, #imm (DAIFSet, DAIFClr, SPSel, PAN, UAO). */
ArmResult arm_sys_msr_imm(ArmCpu *cpu, unsigned op1, unsigned op2, unsigned crm);
/* SYS #op1, Cn, Cm, #op2, Xt: TLBI, DC, IC and AT. */
ArmResult arm_sys_op(ArmCpu *cpu, unsigned op1, unsigned crn, unsigned crm, unsigned op2,
                     uint64_t xt);
/* FP/SIMD instructions first check CPACR_EL1.FPEN: false after raising
 * the EC 0x07 trap. */
bool arm_fp_enabled(ArmCpu *cpu);

/* --- MMU (arm_mmu.c; ARM ARM D5) --- */

/* The TLB callbacks: the VMSAv8-64 stage-1 walk (or the flat map with the
 * MMU off), and the fault hook that turns a TlbFault into an instruction
 * or data abort with the exact FSC and level, taken at once. */
extern const TlbTargetOps arm_tlb_ops;
/* target_code of a translation fault, as produced by the walk: the
 * DFSC/IFSC value (ARM ARM D13.2.39), e.g. 0x04 + level for translation
 * faults, 0x08 + level access flag, 0x0c + level permission, 0x00 + level
 * address size. */
#define ARM_FSC_ADDR_SIZE(l)  (0x00u + (l))
#define ARM_FSC_TRANSLATION(l) (0x04u + (l))
#define ARM_FSC_ACCESS_FLAG(l) (0x08u + (l))
#define ARM_FSC_PERMISSION(l)  (0x0cu + (l))
#define ARM_FSC_SYNC_EXTERNAL  0x10u
#define ARM_FSC_ALIGNMENT      0x21u
/* Translate for AT: fills PAR_EL1 semantics (paddr or FSC). */
bool arm_mmu_translate(ArmCpu *cpu, uint64_t va, TlbAccess access, unsigned mmu_idx,
                       TlbTranslation *out, uint32_t *fsc);

/* Data addresses with top-byte-ignore applied (TCR_EL1.TBI0/TBI1): bits
 * 63..56 replaced by copies of bit 55. */
static inline uint64_t arm_data_va(const ArmCpu *cpu, uint64_t va)
{
    if (__builtin_expect(cpu->tbi != 0, 0)) {
        bool hi = (va >> 55) & 1;
        if (cpu->tbi & (hi ? 2 : 1)) {
            va = hi ? (va | 0xff00000000000000ull) : (va & 0x00ffffffffffffffull);
        }
    }
    return va;
}

#endif
