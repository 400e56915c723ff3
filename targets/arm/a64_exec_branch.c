/*
 * Branches, exception generation and system instructions (ARM ARM C4.1.3
 * "Branches, Exception Generating and System instructions"; C6.2 pages).
 *
 * PC-relative targets are kept as offsets from the instruction (imm), so a
 * decoded block is valid at whatever virtual address it runs from. The
 * system side (arm_sysreg.c, arm_excp.c) implements MRS/MSR/SYS and ERET;
 * this file only decodes their fields and hands them over.
 */
#include "targets/arm/a64_decode.h"

#define X(r) (cpu->x[(r)])
#define H(name) static ArmResult name(ArmCpu *cpu, const A64Insn *in)

/* --- Branches --- */

H(h_b) { cpu->pc += (uint64_t)in->imm; return ARM_R_JUMP; }

H(h_bl)
{
    X(30) = cpu->pc + 4;
    cpu->pc += (uint64_t)in->imm;
    return ARM_R_JUMP;
}

H(h_bcond)
{
    if (a64_cond_holds(cpu, in->cmask)) {
        cpu->pc += (uint64_t)in->imm;
        return ARM_R_JUMP;
    }
    return ARM_R_NEXT;
}

#define CB(name, test)                                                  \
    H(name) {                                                           \
        if (test) {                                                     \
            cpu->pc += (uint64_t)in->imm;                               \
            return ARM_R_JUMP;                                          \
        }                                                               \
        return ARM_R_NEXT;                                              \
    }

CB(h_cbz_x, X(in->rd) == 0)
CB(h_cbnz_x, X(in->rd) != 0)
CB(h_cbz_w, (uint32_t)X(in->rd) == 0)
CB(h_cbnz_w, (uint32_t)X(in->rd) != 0)
CB(h_tbz, !((X(in->rd) >> in->shift) & 1))
CB(h_tbnz, (X(in->rd) >> in->shift) & 1)

H(h_br) { cpu->pc = X(in->rn); return ARM_R_JUMP; }

H(h_blr)
{
    uint64_t t = X(in->rn);   /* read before the link: BLR X30 */
    X(30) = cpu->pc + 4;
    cpu->pc = t;
    return ARM_R_JUMP;
}

H(h_eret)
{
    (void)in;
    if (cpu->el == 0) {
        arm_undefined(cpu);
        return ARM_R_EXC;
    }
    /* An exception return is a WFE wake-up event (ARM ARM D1.16.1). */
    cpu->event_reg = true;
    return arm_exception_return(cpu);
}

/* --- Exception generation --- */

H(h_svc)
{
    /* Preferred return address: the next instruction (ARM ARM D1.10.4). */
    arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(ARM_EC_SVC64, true, (uint32_t)in->imm), 0,
                       false, cpu->pc + 4);
    return ARM_R_EXC;
}

/* HVC/SMC: no EL2/EL3 here; the machine's firmware interface (PSCI) takes
 * them at EL1, UNDEFINED at EL0 (C6.2 HVC, SMC) or when it declines. */
H(h_hvc_smc)
{
    bool smc = in->op;
    if (cpu->el == 0 || !cpu->mops || !cpu->mops->hvc_smc ||
        !cpu->mops->hvc_smc(cpu->machine, cpu, smc, (uint16_t)in->imm)) {
        arm_undefined(cpu);
        return ARM_R_EXC;
    }
    /* CPU_OFF, SYSTEM_OFF, CPU_ON...: the machine may have changed run state. */
    return ARM_R_STOP;
}

H(h_brk)
{
    arm_raise_sync(cpu, ARM_EC_BRK64, (uint32_t)in->imm);
    return ARM_R_EXC;
}

/* HLT #0xf000: the A64 semihosting trap; any other HLT is UNDEFINED with
 * halting debug disabled (C6.2 HLT). */
H(h_hlt)
{
    if (in->imm == 0xf000 && cpu->mops && cpu->mops->semihosting &&
        cpu->mops->semihosting(cpu->machine, cpu)) {
        return ARM_R_STOP;
    }
    arm_undefined(cpu);
    return ARM_R_EXC;
}

/* --- Hints --- */

/* WFI/WFE trap from EL0 when SCTLR_EL1.nTWI/nTWE is 0 (D13.2.118): EC 0x01,
 * ISS CV=1 COND=0b1110 TI. */
static bool wfx_trapped(ArmCpu *cpu, bool wfe)
{
    if (cpu->el == 0 && !(cpu->sctlr_el1 & (wfe ? A64_SCTLR_nTWE : A64_SCTLR_nTWI))) {
        arm_raise_sync(cpu, ARM_EC_WFX, (1u << 24) | (0xeu << 20) | (wfe ? 1u : 0u));
        return true;
    }
    return false;
}

H(h_wfi)
{
    (void)in;
    if (wfx_trapped(cpu, false)) {
        return ARM_R_EXC;
    }
    cpu->wfe_halt = false;
    return ARM_R_HALT;
}

H(h_wfe)
{
    (void)in;
    if (wfx_trapped(cpu, true)) {
        return ARM_R_EXC;
    }
    if (cpu->event_reg) {
        cpu->event_reg = false;  /* consumes the event, no sleep */
        return ARM_R_NEXT;
    }
    cpu->wfe_halt = true;
    return ARM_R_HALT;
}

H(h_sev)
{
    (void)in;
    /* Every PE's event register, this one's included (D1.16.1). */
    for (unsigned i = 0; i < cpu->n_peer_cpus; i++) {
        if (cpu->peer_cpus[i]) {
            arm_cpu_send_event(cpu->peer_cpus[i]);
        }
    }
    cpu->event_reg = true;
    return ARM_R_STOP;
}

H(h_sevl)
{
    (void)in;
    cpu->event_reg = true;
    return ARM_R_NEXT;
}

H(h_clrex)
{
    (void)in;
    cpu->excl_addr = UINT64_MAX;
    return ARM_R_NEXT;
}

/* DMB/DSB: order the host's accesses too (threaded CPUs). */
H(h_barrier)
{
    (void)in;
    (void)cpu;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return ARM_R_NEXT;
}

/* ISB: a context synchronization event; ending the block is enough, as
 * every system register write that changes translation already did. */
H(h_isb)
{
    (void)in;
    (void)cpu;
    return ARM_R_STOP;
}

/* --- System register moves and system instructions --- */

/* sys_rt: Rt for the ISS of a trapped MSR/MRS/SYS (EC 0x18). */
H(h_mrs)
{
    uint64_t v = 0;
    cpu->sys_rt = (uint8_t)in->rd;
    ArmResult r = arm_sys_mrs(cpu, (uint32_t)in->imm, &v);
    if (r == ARM_R_EXC) {
        return r;
    }
    a64_set_x(cpu, in->rd, v);
    return r;
}

H(h_msr)
{
    cpu->sys_rt = (uint8_t)in->rd;
    return arm_sys_msr(cpu, (uint32_t)in->imm, X(in->rd));
}

H(h_msr_imm) { return arm_sys_msr_imm(cpu, in->rn, in->rm, in->ra); }

H(h_sys)
{
    cpu->sys_rt = (uint8_t)in->rd;
    return arm_sys_op(cpu, in->rn, in->rm, in->ra, in->shift, X(in->rd));
}

/* ================================================================== */

bool a64_dec_branch_sys(uint32_t raw, A64Insn *o)
{
    o->rd = (uint8_t)a64_bits(raw, 4, 0);
    o->rn = (uint8_t)a64_bits(raw, 9, 5);
    o->flags = A64_F_ENDS_BLOCK;
    if ((raw & 0x7c000000u) == 0x14000000u) {
        /* B / BL: op 00101 imm26 */
        o->imm = a64_sbits(raw, 25, 0) * 4;
        o->fn = (raw >> 31) ? h_bl : h_b;
        return true;
    }
    if ((raw & 0x7e000000u) == 0x34000000u) {
        /* CBZ / CBNZ: sf 011010 op imm19 Rt */
        bool sf = raw >> 31, nz = a64_bits(raw, 24, 24);
        o->imm = a64_sbits(raw, 23, 5) * 4;
        o->fn = sf ? (nz ? h_cbnz_x : h_cbz_x) : (nz ? h_cbnz_w : h_cbz_w);
        return true;
    }
    if ((raw & 0x7e000000u) == 0x36000000u) {
        /* TBZ / TBNZ: b5 011011 op b40 imm14 Rt */
        o->shift = (uint8_t)((a64_bits(raw, 31, 31) << 5) | a64_bits(raw, 23, 19));
        o->imm = a64_sbits(raw, 18, 5) * 4;
        o->fn = a64_bits(raw, 24, 24) ? h_tbnz : h_tbz;
        return true;
    }
    if ((raw & 0xff000010u) == 0x54000000u) {
        /* B.cond: 0101010 0 imm19 0 cond */
        o->cond = (uint8_t)a64_bits(raw, 3, 0);
        o->cmask = a64_cond_mask(o->cond);
        o->imm = a64_sbits(raw, 23, 5) * 4;
        o->fn = o->cond >= 14 ? h_b : h_bcond;
        return true;
    }
    if ((raw & 0xff000000u) == 0xd4000000u) {
        /* Exception generation: 11010100 opc imm16 op2 LL */
        unsigned opc = a64_bits(raw, 23, 21), ll = a64_bits(raw, 1, 0);
        o->imm = a64_bits(raw, 20, 5);
        if (a64_bits(raw, 4, 2) != 0) {
            return false;
        }
        if (opc == 0 && ll == 1) {
            o->fn = h_svc;
        } else if (opc == 0 && (ll == 2 || ll == 3)) {
            o->op = ll == 3;
            o->fn = h_hvc_smc;
        } else if (opc == 1 && ll == 0) {
            o->fn = h_brk;
        } else if (opc == 2 && ll == 0) {
            o->fn = h_hlt;
        } else {
            return false;  /* DCPSn: no debug state */
        }
        return true;
    }
    if ((raw & 0xfe000000u) == 0xd6000000u) {
        /* Unconditional branch (register): 1101011 opc op2 op3 Rn op4 */
        unsigned opc = a64_bits(raw, 24, 21);
        if (a64_bits(raw, 20, 16) != 31 || a64_bits(raw, 15, 10) != 0 || o->rd != 0) {
            return false;  /* pointer-authenticated forms */
        }
        switch (opc) {
        case 0: o->fn = h_br; return true;
        case 1: o->fn = h_blr; return true;
        case 2: o->fn = h_br; return true;   /* RET Xn */
        case 4:
            if (o->rn != 31) {
                return false;
            }
            o->fn = h_eret;
            return true;
        default:
            return false;
        }
    }
    if ((raw & 0xffc00000u) == 0xd5000000u) {
        /* System: 1101010100 L op0 op1 CRn CRm op2 Rt */
        unsigned l = a64_bits(raw, 21, 21), op0 = a64_bits(raw, 20, 19);
        unsigned op1 = a64_bits(raw, 18, 16), crn = a64_bits(raw, 15, 12);
        unsigned crm = a64_bits(raw, 11, 8), op2 = a64_bits(raw, 7, 5);
        if (op0 == 0 && !l) {
            if (crn == 2 && o->rd == 31) {
                /* Hints: CRm:op2. Unallocated hints execute as NOP (C6.2 HINT),
                 * which covers the PAC/BTI/ESB hint space on this v8.0 core. */
                o->flags = 0;
                switch ((crm << 3) | op2) {
                case 2: o->fn = h_wfe; o->flags = A64_F_ENDS_BLOCK; break;
                case 3: o->fn = h_wfi; o->flags = A64_F_ENDS_BLOCK; break;
                case 4: o->fn = h_sev; o->flags = A64_F_ENDS_BLOCK; break;
                case 5: o->fn = h_sevl; break;
                default: o->fn = a64_h_nop; break;  /* NOP, YIELD, ... */
                }
                return true;
            }
            if (crn == 3 && op1 == 3 && o->rd == 31) {
                o->flags = 0;
                switch (op2) {
                case 2: o->fn = h_clrex; return true;
                case 4: case 5: o->fn = h_barrier; return true;  /* DSB, DMB */
                case 6: o->fn = h_isb; o->flags = A64_F_ENDS_BLOCK; return true;
                default: return false;  /* SB, SSBB...: not in v8.0 */
                }
            }
            if (crn == 4 && o->rd == 31) {
                /* MSR <pstatefield>, #imm */
                o->rn = (uint8_t)op1;
                o->rm = (uint8_t)op2;
                o->ra = (uint8_t)crm;
                o->fn = h_msr_imm;
                return true;
            }
            return false;
        }
        if (op0 == 1) {
            if (l) {
                return false;  /* SYSL: nothing allocated in v8.0 */
            }
            o->rn = (uint8_t)op1;
            o->rm = (uint8_t)crn;
            o->ra = (uint8_t)crm;
            o->shift = (uint8_t)op2;
            o->fn = h_sys;
            return true;
        }
        if (op0 >= 2) {
            /* MRS / MSR (register): enc = bits 20:5 = ARM_SYSREG(op0,op1,CRn,CRm,op2). */
            o->imm = ARM_SYSREG(op0, op1, crn, crm, op2);
            o->fn = l ? h_mrs : h_msr;
            return true;
        }
        return false;
    }
    return false;
}
