/*
 * System registers and system instructions of the AArch64 CPU at EL0/EL1
 * (ARM ARM DDI 0487: C5.3 encodings, D13 register descriptions, D5.10 TLB
 * maintenance, D4.4 cache maintenance, D11 generic timer).
 *
 * MRS/MSR are table-driven: each register is one SysReg entry keyed by its
 * ARM_SYSREG(op0, op1, CRn, CRm, op2) encoding, found by binary search,
 * with its EL0 access rule, whether it is read-only or write-only, and
 * either a field of ArmCpu (with the mask of writable bits), a constant, or
 * read/write functions for registers with side effects.
 *
 * Access checks, in the architecture's order:
 *  1. an encoding that does not exist, or a write to a read-only register
 *     or a read of a write-only one: UNDEFINED (EC 0x00);
 *  2. at EL0, a register with no EL0 access: UNDEFINED; one whose EL0
 *     access is enabled by an EL1 control (SCTLR_EL1.UMA/UCT, CNTKCTL_EL1,
 *     MDSCR_EL1.TDCC) that is off: trapped to EL1 with EC 0x18, whose ISS
 *     encodes the instruction (op0, op1, CRn, CRm, op2, Rt, direction);
 *  3. FPCR/FPSR: the CPACR_EL1.FPEN trap (EC 0x07).
 * Encodings unknown here are offered to the machine (GICv3 ICC_*_EL1) at
 * EL1; the unallocated encodings of the ID space (op0 = 3, op1 = 0, CRn =
 * 0, CRm = 1..7) read as zero at EL1 (D12.3.1 "reserved ID registers").
 *
 * The CPU this describes (ID registers): an ARMv8.0 AArch64-only EL0/EL1
 * PE shaped like a Cortex-A57 (MIDR 0x411fd070) plus ARMv8.1 LSE atomics
 * and ARMv8.1 PAN, no EL2/EL3, no PMU, no SVE, 48-bit PA, 4 KiB granule
 * only, 16-bit ASIDs, little-endian only (SCTLR_EL1.EE/E0E are RES0:
 * ID_AA64MMFR0.BigEnd = BigEndEL0 = 0), GICv3 system registers when the
 * machine provides them, and caches that need no maintenance for I/D
 * coherence (CTR_EL0.IDC = DIC = 1: code is kept coherent by the
 * interpreter's code tracking).
 *
 * TLB: the TLB is not tagged by ASID, so a TTBRn_EL1 write that changes the
 * value (base or ASID) drops the EL0 and EL1 entries of non-global pages
 * (nG = 1); global ones are valid in every ASID and stay, as on hardware
 * (conservative only in that the architecture would also keep other
 * ASIDs' entries). TLBI ASIDE1 drops the non-global entries too (global
 * entries are not matched by ASID). Changes of the SCTLR_EL1 and TCR_EL1
 * bits that affect translation flush everything.
 */
#include <stddef.h>
#include <stdlib.h>

#include "targets/arm/arm_mmu.h"

#define ALL_EL01 ((1u << ARM_MMU_EL0) | (1u << ARM_MMU_EL1) | (1u << ARM_MMU_EL1_PAN))

/* SCTLR_EL1 (D13.2.118) for this PE: the bits with an effect or a value
 * software may change, and the RES1 bits (EOS 11, TSCXT 20, EIS 22,
 * nTLSMD 28, LSMAOE 29 without their features; ITD 7 and SED 8 since EL0
 * cannot use AArch32). CP15BEN, E0E, EE and the ARMv8.2+ bits are RES0. */
#define SCTLR_M     (1ull << 0)
#define SCTLR_A     (1ull << 1)
#define SCTLR_UMA   (1ull << 9)
#define SCTLR_DZE   (1ull << 14)
#define SCTLR_UCT   (1ull << 15)
#define SCTLR_WXN   (1ull << 19)
#define SCTLR_SPAN  (1ull << 23)
#define SCTLR_UCI   (1ull << 26)
#define SCTLR_WMASK (SCTLR_M | SCTLR_A | (1ull << 2) /* C */ | (1ull << 3) /* SA */ |        \
                     (1ull << 4) /* SA0 */ | SCTLR_UMA | (1ull << 12) /* I */ | SCTLR_DZE |    \
                     SCTLR_UCT | (1ull << 16) /* nTWI */ | (1ull << 18) /* nTWE */ |           \
                     SCTLR_WXN | SCTLR_SPAN | SCTLR_UCI)
#define SCTLR_RES1  ((1ull << 7) | (1ull << 8) | (1ull << 11) | (1ull << 20) | (1ull << 22) |   \
                     (1ull << 28) | (1ull << 29))
/* SCTLR bits whose change changes translations. */
#define SCTLR_XLATE (SCTLR_M | SCTLR_WXN)

/* TCR_EL1 (D13.2.131), ARMv8.0 fields: T0SZ, EPD0, IRGN0, ORGN0, SH0, TG0,
 * T1SZ, A1, EPD1, IRGN1, ORGN1, SH1, TG1, IPS, AS, TBI0, TBI1 (bits 38:0
 * except RES0 bits 6 and 35). HA/HD and later fields are RES0. */
#define TCR_WMASK (((1ull << 39) - 1) & ~(1ull << 6) & ~(1ull << 35))

/* CNTKCTL_EL1 bits (D13.11.15). */
#define CNTKCTL_EL0PCTEN (1u << 0)
#define CNTKCTL_EL0VCTEN (1u << 1)
#define CNTKCTL_EL0VTEN  (1u << 8)
#define CNTKCTL_EL0PTEN  (1u << 9)

#define MDSCR_TDCC (1u << 12)

/* CPU identification (D13.2): see the header comment. */
#define MIDR_VALUE        0x411fd070ull  /* Arm, variant 1, v8, Cortex-A57 part 0xd07, rev 0 */
#define CTR_VALUE         0xb444c004ull  /* RES1 31, DIC 29, IDC 28, CWG/ERG/DminLine 64 B,
                                          * L1Ip PIPT, IminLine 64 B */
#define CLIDR_VALUE       0x0a200023ull  /* L1 I+D, L2 unified, LoUIS 1, LoC 2, LoUU 1 */
#define ID_AA64PFR0_BASE  0x1100000000000011ull /* EL0/EL1 AArch64 only, FP and AdvSIMD
                                                  * implemented (0), CSV2 = CSV3 = 1 */
#define ID_AA64PFR0_GIC   (1ull << 24)   /* GICv3 system registers (machine provides) */
#define ID_AA64DFR0_VALUE 0x00101006ull  /* DebugVer v8, no PMU, 2 BRPs, 2 WRPs, 1 CTX_CMP */
#define ID_AA64ISAR0_VALUE 0x0000000000200000ull /* Atomic = 2 (LSE); no crypto, no CRC32 */
#define ID_AA64MMFR0_VALUE 0x0f000025ull /* PARange 48, ASIDBits 16, TGran4 only */
#define ID_AA64MMFR1_VALUE 0x00100000ull /* PAN = 1 */

/* ------------------------------------------------------------------ */
/* Register table. */

typedef struct SysReg SysReg;

enum {
    EL0_NONE = 0,   /* UNDEFINED at EL0 */
    EL0_ALLOW,      /* accessible (subject to RO/WO) */
    EL0_UMA,        /* DAIF: SCTLR_EL1.UMA */
    EL0_UCT,        /* CTR_EL0: SCTLR_EL1.UCT */
    EL0_FRQ,        /* CNTFRQ_EL0: CNTKCTL_EL1.EL0PCTEN or EL0VCTEN */
    EL0_PCT,        /* CNTPCT_EL0: EL0PCTEN */
    EL0_VCT,        /* CNTVCT_EL0: EL0VCTEN */
    EL0_PT,         /* CNTP_*: EL0PTEN */
    EL0_VT,         /* CNTV_*: EL0VTEN */
    EL0_TDCC,       /* debug communications channel: !MDSCR_EL1.TDCC */
};

enum { F_RO = 1, F_WO = 2, F_FP = 4, F_SPEL0 = 8, F_EL0_RO = 16 };

struct SysReg {
    uint32_t enc;
    const char *name;
    uint8_t el0;
    uint8_t flags;
    int32_t field;    /* offset of a uint64_t in ArmCpu, or -1 */
    uint64_t value;   /* read value when there is neither field nor read function */
    uint64_t wmask;   /* writable bits of `field` */
    uint64_t (*read)(ArmCpu *cpu, const SysReg *r);
    ArmResult (*write)(ArmCpu *cpu, const SysReg *r, uint64_t v);
};

#define ENC ARM_SYSREG
#define FLD(f) ((int32_t)offsetof(ArmCpu, f))

/* Plain storage, writable bits `mask`. */
#define REG_FIELD(e, n, el0_, fl, f, mask) \
    { .enc = e, .name = n, .el0 = el0_, .flags = fl, .field = FLD(f), .wmask = mask }
/* Read-only constant. */
#define REG_CONST(e, n, v) \
    { .enc = e, .name = n, .flags = F_RO, .field = -1, .value = v }
/* Read-as-zero, writes ignored. */
#define REG_RAZWI(e, n, el0_) \
    { .enc = e, .name = n, .el0 = el0_, .field = -1, .value = 0 }
/* Functions. */
#define REG_FN(e, n, el0_, fl, rd, wr) \
    { .enc = e, .name = n, .el0 = el0_, .flags = fl, .field = -1, .read = rd, .write = wr }

/* --- Side effects --- */

static void flush_el01(ArmCpu *cpu)
{
    if (cpu->tlb) {
        tlb_flush_by_mmuidx(cpu->tlb, ALL_EL01);
    }
}

static ArmResult w_sctlr(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    v = (v & SCTLR_WMASK) | SCTLR_RES1;
    if ((v ^ cpu->sctlr_el1) & SCTLR_XLATE) {
        flush_el01(cpu);
    }
    cpu->sctlr_el1 = v;
    /* Alignment, stack alignment, WFx traps and the MMU itself change:
     * end the block. */
    return ARM_R_STOP;
}

static ArmResult w_tcr(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    v &= TCR_WMASK;
    if (v != cpu->tcr_el1) {
        flush_el01(cpu);
    }
    cpu->tcr_el1 = v;
    cpu->tbi = (uint8_t)(((v >> 37) & 1) | (((v >> 38) & 1) << 1));
    return ARM_R_STOP;
}

static ArmResult w_ttbr(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    uint64_t *p = (uint64_t *)((char *)cpu + r->field);
    v &= r->wmask;
    if (v != *p && cpu->tlb) {
        /* No ASID tagging: a new base or ASID drops the non-global entries. */
        tlb_flush_nonglobal_by_mmuidx(cpu->tlb, ALL_EL01);
    }
    *p = v;
    return ARM_R_STOP;
}

static uint64_t r_nzcv(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->nzcv & 0xf0000000u; }
static ArmResult w_nzcv(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->nzcv = (uint32_t)v & 0xf0000000u;
    return ARM_R_NEXT;
}

static uint64_t r_daif(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->daif & 0x3c0u; }
static ArmResult w_daif(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->daif = (uint32_t)v & 0x3c0u;
    return ARM_R_STOP;  /* an unmasked pending interrupt is taken now */
}

static uint64_t r_spsel(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->sp_sel ? 1 : 0; }
static ArmResult w_spsel(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->sp_sel = v & 1;
    return ARM_R_STOP;
}

static uint64_t r_currentel(ArmCpu *cpu, const SysReg *r) { (void)r; return (uint64_t)cpu->el << 2; }

static uint64_t r_pan(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->pan ? ARM_PSTATE_PAN : 0; }
static ArmResult w_pan(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->pan = (v & ARM_PSTATE_PAN) != 0;
    arm_update_mmu_index(cpu);
    return ARM_R_STOP;
}

static uint64_t r_sp_el0(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->sp_el[0]; }
static ArmResult w_sp_el0(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->sp_el[0] = v;
    return ARM_R_NEXT;
}

/* FPCR (C5.2.7): AHP, DN, FZ, RMode; the trap enables are RAZ/WI (no FP
 * exception trapping), Len/Stride RES0. FPSR (C5.2.8): QC and the
 * cumulative flags. */
static uint64_t r_fpcr(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->fpcr; }
static ArmResult w_fpcr(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->fpcr = (uint32_t)v & 0x07c00000u;
    return ARM_R_NEXT;
}
static uint64_t r_fpsr(ArmCpu *cpu, const SysReg *r) { (void)r; return cpu->fpsr; }
static ArmResult w_fpsr(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->fpsr = (uint32_t)v & 0x0800009fu;
    return ARM_R_NEXT;
}

static uint64_t r_mpidr(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    /* Bit 31 RES1; U (30) = 0: part of a multiprocessor system. */
    return (cpu->mpidr_el1 & 0xff00ffffffull) | (1ull << 31);
}

static uint64_t r_pfr0(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    bool gicv3 = cpu->mops && cpu->mops->sysreg_read;
    return ID_AA64PFR0_BASE | (gicv3 ? ID_AA64PFR0_GIC : 0);
}

static uint64_t r_dczid(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    /* BS = 4: 16 words, 64 bytes. DZP: DC ZVA prohibited, which at EL0
     * follows SCTLR_EL1.DZE (D13.2.33). */
    bool dzp = cpu->el == 0 && !(cpu->sctlr_el1 & SCTLR_DZE);
    return 4u | (dzp ? 1u << 4 : 0);
}

static uint64_t r_ccsidr(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    /* Cortex-A57-like geometry for the caches CLIDR_EL1 reports (the
     * ARMv8.0 CCSIDR format: WT/WB/RA/WA, NumSets-1, Assoc-1, LineSize
     * log2(bytes)-4). Levels that CLIDR does not report: UNKNOWN, 0. */
    switch (cpu->csselr_el1 & 0xf) {
    case 0: return 0x701fe00aull;  /* L1 data: 32 KiB, 2-way, 64 B */
    case 1: return 0x201fe012ull;  /* L1 instruction: 48 KiB, 3-way, 64 B */
    case 2: return 0x70ffe07aull;  /* L2 unified: 2 MiB, 16-way, 64 B */
    default: return 0;
    }
}

static uint64_t r_isr(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    /* ISR_EL1 (D13.2.67): pending physical IRQ (I, bit 7) and FIQ (F, bit
     * 6); SError (A) never pends here. */
    return (cpu->irq_line ? 1u << 7 : 0) | (cpu->fiq_line ? 1u << 6 : 0);
}

static ArmResult w_oslar(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    cpu->oslk = v & 1;
    return ARM_R_NEXT;
}

static uint64_t r_oslsr(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    /* OSLM = 0b10 (bit 3 set: the ARMv8 OS lock), OSLK in bit 1. */
    return (1u << 3) | (cpu->oslk ? 1u << 1 : 0);
}

/* --- Generic timer registers (D11.2, D13.11) --- */

static uint64_t r_cntpct(ArmCpu *cpu, const SysReg *r) { (void)r; return arm_timer_count(cpu); }
static uint64_t r_cntvct(ArmCpu *cpu, const SysReg *r)
{
    (void)r;
    return arm_timer_count(cpu) - cpu->cntvoff;
}

static ArmResult w_cntfrq(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    (void)r;
    /* Writable at the highest implemented EL, which is EL1 here. The model
     * derives the count from it, so a write changes the counting rate of
     * this CPU from now on (hardware counters keep their rate: firmware
     * only writes the true frequency). */
    cpu->cntfrq_el0 = v & 0xffffffffu;
    arm_timer_update(cpu);
    return ARM_R_STOP;
}

static int timer_of(const SysReg *r)
{
    /* CRm = 2: physical, 3: virtual. */
    return ((r->enc >> 3) & 0xf) == 3 ? ARM_TIMER_VIRT : ARM_TIMER_PHYS;
}

static uint64_t timer_count(ArmCpu *cpu, int t)
{
    uint64_t c = arm_timer_count(cpu);
    return t == ARM_TIMER_VIRT ? c - cpu->cntvoff : c;
}

static uint64_t r_tctl(ArmCpu *cpu, const SysReg *r)
{
    int t = timer_of(r);
    const ArmTimer *tm = &cpu->timer[t];
    /* ISTATUS (bit 2) = the timer condition, computed now. */
    bool istatus = timer_count(cpu, t) >= tm->cval;
    return (tm->ctl & 3) | (istatus ? 4u : 0);
}

static ArmResult w_tctl(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    cpu->timer[timer_of(r)].ctl = v & 3;  /* ENABLE, IMASK; ISTATUS is read-only */
    arm_timer_update(cpu);
    return ARM_R_STOP;
}

static uint64_t r_tcval(ArmCpu *cpu, const SysReg *r) { return cpu->timer[timer_of(r)].cval; }
static ArmResult w_tcval(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    cpu->timer[timer_of(r)].cval = v;
    arm_timer_update(cpu);
    return ARM_R_STOP;
}

/* TVAL: the signed 32-bit view CVAL - count (D11.2.4); bits 63:32 RES0. */
static uint64_t r_ttval(ArmCpu *cpu, const SysReg *r)
{
    int t = timer_of(r);
    return (uint32_t)(cpu->timer[t].cval - timer_count(cpu, t));
}

static ArmResult w_ttval(ArmCpu *cpu, const SysReg *r, uint64_t v)
{
    int t = timer_of(r);
    cpu->timer[t].cval = timer_count(cpu, t) + (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    arm_timer_update(cpu);
    return ARM_R_STOP;
}

#define TTBR_MASK (~1ull)  /* CnP (bit 0) RES0 without ARMv8.2-TTCNP */
#define DBG(n)                                                                          \
    REG_FIELD(ENC(2, 0, 0, n, 4), "DBGBVR" #n "_EL1", EL0_NONE, 0, dbgbvr[n], ~3ull),  \
    REG_FIELD(ENC(2, 0, 0, n, 5), "DBGBCR" #n "_EL1", EL0_NONE, 0, dbgbcr[n], 0x00f01ff7ull), \
    REG_FIELD(ENC(2, 0, 0, n, 6), "DBGWVR" #n "_EL1", EL0_NONE, 0, dbgwvr[n], ~3ull),  \
    REG_FIELD(ENC(2, 0, 0, n, 7), "DBGWCR" #n "_EL1", EL0_NONE, 0, dbgwcr[n], 0x1f11fff7ull)

static SysReg sysregs[] = {
    /* Debug (D13.3): storage only, no debug events. */
    DBG(0),
    DBG(1),
    REG_FIELD(ENC(2, 0, 0, 2, 0), "MDCCINT_EL1", EL0_NONE, 0, mdccint_el1, 3ull << 29),
    REG_FIELD(ENC(2, 0, 0, 2, 2), "MDSCR_EL1", EL0_NONE, 0, mdscr_el1, 0xf041ull),
    REG_CONST(ENC(2, 0, 1, 0, 0), "MDRAR_EL1", 0),   /* no ROM table */
    REG_FN(ENC(2, 0, 1, 0, 4), "OSLAR_EL1", EL0_NONE, F_WO, NULL, w_oslar),
    REG_FN(ENC(2, 0, 1, 1, 4), "OSLSR_EL1", EL0_NONE, F_RO, r_oslsr, NULL),
    REG_FIELD(ENC(2, 0, 1, 3, 4), "OSDLR_EL1", EL0_NONE, 0, osdlr_el1, 1),
    REG_RAZWI(ENC(2, 0, 1, 4, 4), "DBGPRCR_EL1", EL0_NONE),
    REG_RAZWI(ENC(2, 0, 7, 8, 6), "DBGCLAIMSET_EL1", EL0_NONE),
    REG_RAZWI(ENC(2, 0, 7, 9, 6), "DBGCLAIMCLR_EL1", EL0_NONE),
    REG_CONST(ENC(2, 0, 7, 14, 6), "DBGAUTHSTATUS_EL1", 0),
    { .enc = ENC(2, 3, 0, 1, 0), .name = "MDCCSR_EL0", .el0 = EL0_TDCC, .flags = F_RO,
      .field = -1, .value = 0 },
    REG_RAZWI(ENC(2, 3, 0, 4, 0), "DBGDTR_EL0", EL0_TDCC),
    REG_RAZWI(ENC(2, 3, 0, 5, 0), "DBGDTRRX_EL0", EL0_TDCC),

    /* Identification (D13.2). */
    REG_CONST(ENC(3, 0, 0, 0, 0), "MIDR_EL1", MIDR_VALUE),
    REG_FN(ENC(3, 0, 0, 0, 5), "MPIDR_EL1", EL0_NONE, F_RO, r_mpidr, NULL),
    REG_CONST(ENC(3, 0, 0, 0, 6), "REVIDR_EL1", 0),
    REG_FN(ENC(3, 0, 0, 4, 0), "ID_AA64PFR0_EL1", EL0_NONE, F_RO, r_pfr0, NULL),
    REG_CONST(ENC(3, 0, 0, 4, 1), "ID_AA64PFR1_EL1", 0),
    REG_CONST(ENC(3, 0, 0, 5, 0), "ID_AA64DFR0_EL1", ID_AA64DFR0_VALUE),
    REG_CONST(ENC(3, 0, 0, 5, 1), "ID_AA64DFR1_EL1", 0),
    REG_CONST(ENC(3, 0, 0, 5, 4), "ID_AA64AFR0_EL1", 0),
    REG_CONST(ENC(3, 0, 0, 5, 5), "ID_AA64AFR1_EL1", 0),
    REG_CONST(ENC(3, 0, 0, 6, 0), "ID_AA64ISAR0_EL1", ID_AA64ISAR0_VALUE),
    REG_CONST(ENC(3, 0, 0, 6, 1), "ID_AA64ISAR1_EL1", 0),
    REG_CONST(ENC(3, 0, 0, 7, 0), "ID_AA64MMFR0_EL1", ID_AA64MMFR0_VALUE),
    REG_CONST(ENC(3, 0, 0, 7, 1), "ID_AA64MMFR1_EL1", ID_AA64MMFR1_VALUE),
    REG_CONST(ENC(3, 0, 0, 7, 2), "ID_AA64MMFR2_EL1", 0),

    /* System control (D13.2). */
    { .enc = ENC(3, 0, 1, 0, 0), .name = "SCTLR_EL1", .field = FLD(sctlr_el1),
      .write = w_sctlr },
    REG_RAZWI(ENC(3, 0, 1, 0, 1), "ACTLR_EL1", EL0_NONE),  /* IMPLEMENTATION DEFINED: none */
    REG_FIELD(ENC(3, 0, 1, 0, 2), "CPACR_EL1", EL0_NONE, 0, cpacr_el1,
              (3ull << 20) | (1ull << 28)),  /* FPEN, TTA */
    { .enc = ENC(3, 0, 2, 0, 0), .name = "TTBR0_EL1", .field = FLD(ttbr0_el1),
      .wmask = TTBR_MASK, .write = w_ttbr },
    { .enc = ENC(3, 0, 2, 0, 1), .name = "TTBR1_EL1", .field = FLD(ttbr1_el1),
      .wmask = TTBR_MASK, .write = w_ttbr },
    { .enc = ENC(3, 0, 2, 0, 2), .name = "TCR_EL1", .field = FLD(tcr_el1), .write = w_tcr },
    REG_FIELD(ENC(3, 0, 4, 0, 0), "SPSR_EL1", EL0_NONE, 0, spsr_el1, 0xf07003ffull),
    REG_FIELD(ENC(3, 0, 4, 0, 1), "ELR_EL1", EL0_NONE, 0, elr_el1, ~0ull),
    REG_FN(ENC(3, 0, 4, 1, 0), "SP_EL0", EL0_NONE, F_SPEL0, r_sp_el0, w_sp_el0),
    REG_FN(ENC(3, 0, 4, 2, 0), "SPSel", EL0_NONE, 0, r_spsel, w_spsel),
    REG_FN(ENC(3, 0, 4, 2, 2), "CurrentEL", EL0_NONE, F_RO, r_currentel, NULL),
    REG_FN(ENC(3, 0, 4, 2, 3), "PAN", EL0_NONE, 0, r_pan, w_pan),
    REG_FIELD(ENC(3, 0, 5, 1, 0), "AFSR0_EL1", EL0_NONE, 0, afsr0_el1, 0),
    REG_FIELD(ENC(3, 0, 5, 1, 1), "AFSR1_EL1", EL0_NONE, 0, afsr1_el1, 0),
    REG_FIELD(ENC(3, 0, 5, 2, 0), "ESR_EL1", EL0_NONE, 0, esr_el1, 0xffffffffull),
    REG_FIELD(ENC(3, 0, 6, 0, 0), "FAR_EL1", EL0_NONE, 0, far_el1, ~0ull),
    REG_FIELD(ENC(3, 0, 7, 4, 0), "PAR_EL1", EL0_NONE, 0, par_el1, ~0ull),
    REG_FIELD(ENC(3, 0, 10, 2, 0), "MAIR_EL1", EL0_NONE, 0, mair_el1, ~0ull),
    REG_FIELD(ENC(3, 0, 10, 3, 0), "AMAIR_EL1", EL0_NONE, 0, amair_el1, ~0ull),
    REG_FIELD(ENC(3, 0, 12, 0, 0), "VBAR_EL1", EL0_NONE, 0, vbar_el1, ~0x7ffull),
    REG_CONST(ENC(3, 0, 12, 0, 1), "RVBAR_EL1", 0),
    REG_FN(ENC(3, 0, 12, 1, 0), "ISR_EL1", EL0_NONE, F_RO, r_isr, NULL),
    REG_FIELD(ENC(3, 0, 13, 0, 1), "CONTEXTIDR_EL1", EL0_NONE, 0, contextidr_el1, 0xffffffffull),
    REG_FIELD(ENC(3, 0, 13, 0, 4), "TPIDR_EL1", EL0_NONE, 0, tpidr_el1, ~0ull),
    REG_FIELD(ENC(3, 0, 14, 1, 0), "CNTKCTL_EL1", EL0_NONE, 0, cntkctl_el1, 0x3ffull),
    REG_FN(ENC(3, 1, 0, 0, 0), "CCSIDR_EL1", EL0_NONE, F_RO, r_ccsidr, NULL),
    REG_CONST(ENC(3, 1, 0, 0, 1), "CLIDR_EL1", CLIDR_VALUE),
    REG_CONST(ENC(3, 1, 0, 0, 7), "AIDR_EL1", 0),
    REG_FIELD(ENC(3, 2, 0, 0, 0), "CSSELR_EL1", EL0_NONE, 0, csselr_el1, 0xfull),

    /* EL0-accessible (C5.3, D13.2). */
    { .enc = ENC(3, 3, 0, 0, 1), .name = "CTR_EL0", .el0 = EL0_UCT, .flags = F_RO,
      .field = -1, .value = CTR_VALUE },
    REG_FN(ENC(3, 3, 0, 0, 7), "DCZID_EL0", EL0_ALLOW, F_RO, r_dczid, NULL),
    REG_FN(ENC(3, 3, 4, 2, 0), "NZCV", EL0_ALLOW, 0, r_nzcv, w_nzcv),
    REG_FN(ENC(3, 3, 4, 2, 1), "DAIF", EL0_UMA, 0, r_daif, w_daif),
    REG_FN(ENC(3, 3, 4, 4, 0), "FPCR", EL0_ALLOW, F_FP, r_fpcr, w_fpcr),
    REG_FN(ENC(3, 3, 4, 4, 1), "FPSR", EL0_ALLOW, F_FP, r_fpsr, w_fpsr),
    REG_FIELD(ENC(3, 3, 13, 0, 2), "TPIDR_EL0", EL0_ALLOW, 0, tpidr_el0, ~0ull),
    REG_FIELD(ENC(3, 3, 13, 0, 3), "TPIDRRO_EL0", EL0_ALLOW, F_EL0_RO, tpidrro_el0, ~0ull),
    { .enc = ENC(3, 3, 14, 0, 0), .name = "CNTFRQ_EL0", .el0 = EL0_FRQ, .flags = F_EL0_RO,
      .field = FLD(cntfrq_el0), .write = w_cntfrq },
    REG_FN(ENC(3, 3, 14, 0, 1), "CNTPCT_EL0", EL0_PCT, F_RO, r_cntpct, NULL),
    REG_FN(ENC(3, 3, 14, 0, 2), "CNTVCT_EL0", EL0_VCT, F_RO, r_cntvct, NULL),
    REG_FN(ENC(3, 3, 14, 2, 0), "CNTP_TVAL_EL0", EL0_PT, 0, r_ttval, w_ttval),
    REG_FN(ENC(3, 3, 14, 2, 1), "CNTP_CTL_EL0", EL0_PT, 0, r_tctl, w_tctl),
    REG_FN(ENC(3, 3, 14, 2, 2), "CNTP_CVAL_EL0", EL0_PT, 0, r_tcval, w_tcval),
    REG_FN(ENC(3, 3, 14, 3, 0), "CNTV_TVAL_EL0", EL0_VT, 0, r_ttval, w_ttval),
    REG_FN(ENC(3, 3, 14, 3, 1), "CNTV_CTL_EL0", EL0_VT, 0, r_tctl, w_tctl),
    REG_FN(ENC(3, 3, 14, 3, 2), "CNTV_CVAL_EL0", EL0_VT, 0, r_tcval, w_tcval),
};

static int cmp_enc(const void *a, const void *b)
{
    uint32_t x = ((const SysReg *)a)->enc, y = ((const SysReg *)b)->enc;
    return x < y ? -1 : x > y;
}

static const SysReg *lookup(uint32_t enc)
{
    static gsize sorted;
    if (g_once_init_enter(&sorted)) {
        qsort(sysregs, G_N_ELEMENTS(sysregs), sizeof(SysReg), cmp_enc);
        g_once_init_leave(&sorted, 1);
    }
    SysReg key = { .enc = enc };
    return bsearch(&key, sysregs, G_N_ELEMENTS(sysregs), sizeof(SysReg), cmp_enc);
}

/* ------------------------------------------------------------------ */
/* Access checks. */

/* Trap to EL1 with EC 0x18 (D13.2.37, "ISS encoding for an exception from
 * MSR, MRS, or System instruction execution in AArch64 state"). */
static void trap_sys(ArmCpu *cpu, uint32_t enc, bool read)
{
    uint32_t op0 = (enc >> 14) & 3, op1 = (enc >> 11) & 7, crn = (enc >> 7) & 0xf;
    uint32_t crm = (enc >> 3) & 0xf, op2 = enc & 7;
    uint32_t iss = (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) |
                   ((uint32_t)(cpu->sys_rt & 31) << 5) | (crm << 1) | (read ? 1u : 0u);
    arm_raise_sync(cpu, ARM_EC_SYSREG, iss);
}

/* True if the access may proceed; otherwise the exception was taken. */
static bool check_access(ArmCpu *cpu, const SysReg *r, bool read)
{
    if ((read && (r->flags & F_WO)) || (!read && (r->flags & F_RO))) {
        arm_undefined(cpu);
        return false;
    }
    if (cpu->el == 0) {
        bool trap = false;
        if (!read && (r->flags & F_EL0_RO)) {
            arm_undefined(cpu);
            return false;
        }
        switch (r->el0) {
        case EL0_NONE:
            arm_undefined(cpu);
            return false;
        case EL0_ALLOW:
            break;
        case EL0_UMA:
            trap = !(cpu->sctlr_el1 & SCTLR_UMA);
            break;
        case EL0_UCT:
            trap = !(cpu->sctlr_el1 & SCTLR_UCT);
            break;
        case EL0_FRQ:
            trap = !(cpu->cntkctl_el1 & (CNTKCTL_EL0PCTEN | CNTKCTL_EL0VCTEN));
            break;
        case EL0_PCT:
            trap = !(cpu->cntkctl_el1 & CNTKCTL_EL0PCTEN);
            break;
        case EL0_VCT:
            trap = !(cpu->cntkctl_el1 & CNTKCTL_EL0VCTEN);
            break;
        case EL0_PT:
            trap = !(cpu->cntkctl_el1 & CNTKCTL_EL0PTEN);
            break;
        case EL0_VT:
            trap = !(cpu->cntkctl_el1 & CNTKCTL_EL0VTEN);
            break;
        case EL0_TDCC:
            trap = (cpu->mdscr_el1 & MDSCR_TDCC) != 0;
            break;
        }
        if (trap) {
            trap_sys(cpu, r->enc, read);
            return false;
        }
    } else if ((r->flags & F_SPEL0) && !cpu->sp_sel) {
        /* MRS/MSR SP_EL0 while SP_EL0 is the stack pointer: UNDEFINED. */
        arm_undefined(cpu);
        return false;
    }
    if ((r->flags & F_FP) && !arm_fp_enabled(cpu)) {
        return false;
    }
    return true;
}

/* The unallocated encodings of the ID register space (D12.3.1). */
static bool in_id_space(uint32_t enc)
{
    unsigned crm = (enc >> 3) & 0xf;
    return (enc & ~(uint32_t)ARM_SYSREG(0, 0, 0, 0xf, 7)) == ARM_SYSREG(3, 0, 0, 0, 0) &&
           crm >= 1 && crm <= 7;
}

ArmResult arm_sys_mrs(ArmCpu *cpu, uint32_t enc, uint64_t *val)
{
    const SysReg *r = lookup(enc);
    if (!r) {
        if (cpu->el >= 1) {
            if (in_id_space(enc)) {
                *val = 0;
                return ARM_R_NEXT;
            }
            if (cpu->mops && cpu->mops->sysreg_read &&
                cpu->mops->sysreg_read(cpu->machine, cpu, enc, val)) {
                return ARM_R_NEXT;
            }
        }
        arm_undefined(cpu);
        return ARM_R_EXC;
    }
    if (!check_access(cpu, r, true)) {
        return ARM_R_EXC;
    }
    if (r->read) {
        *val = r->read(cpu, r);
    } else if (r->field >= 0) {
        *val = *(const uint64_t *)((const char *)cpu + r->field);
    } else {
        *val = r->value;
    }
    return ARM_R_NEXT;
}

ArmResult arm_sys_msr(ArmCpu *cpu, uint32_t enc, uint64_t val)
{
    const SysReg *r = lookup(enc);
    if (!r) {
        if (cpu->el >= 1 && !in_id_space(enc) && cpu->mops && cpu->mops->sysreg_write &&
            cpu->mops->sysreg_write(cpu->machine, cpu, enc, val)) {
            /* GIC CPU interface writes may change the interrupt line. */
            return ARM_R_STOP;
        }
        arm_undefined(cpu);
        return ARM_R_EXC;
    }
    if (!check_access(cpu, r, false)) {
        return ARM_R_EXC;
    }
    if (r->write) {
        return r->write(cpu, r, val);
    }
    if (r->field >= 0) {
        uint64_t *p = (uint64_t *)((char *)cpu + r->field);
        *p = val & r->wmask;
    }
    return ARM_R_NEXT;  /* RAZ/WI */
}

/* MSR <pstatefield>, #imm (C6.2.x MSR (immediate); C5.1.3). op1 = 0 fields
 * are EL1-only (UNDEFINED at EL0), op1 = 3 fields are EL0-accessible. */
ArmResult arm_sys_msr_imm(ArmCpu *cpu, unsigned op1, unsigned op2, unsigned crm)
{
    if (op1 == 0 && op2 == 5) {          /* SPSel */
        if (cpu->el == 0) {
            goto undef;
        }
        cpu->sp_sel = crm & 1;
        return ARM_R_STOP;
    }
    if (op1 == 0 && op2 == 4) {          /* PAN (ARMv8.1) */
        if (cpu->el == 0) {
            goto undef;
        }
        cpu->pan = crm & 1;
        arm_update_mmu_index(cpu);
        return ARM_R_STOP;
    }
    if (op1 == 3 && (op2 == 6 || op2 == 7)) {  /* DAIFSet, DAIFClr */
        if (cpu->el == 0 && !(cpu->sctlr_el1 & SCTLR_UMA)) {
            /* Trapped with the MSR (immediate) encoding: op0 = 0, CRn = 4,
             * Rt = 0b11111. */
            uint32_t iss = (op2 << 17) | (op1 << 14) | (4u << 10) | (31u << 5) | (crm << 1);
            arm_raise_sync(cpu, ARM_EC_SYSREG, iss);
            return ARM_R_EXC;
        }
        uint32_t bits = (crm & 0xf) << 6;
        if (op2 == 6) {
            cpu->daif |= bits;
        } else {
            cpu->daif &= ~bits;
        }
        return ARM_R_STOP;  /* pending interrupts are taken after this */
    }
    /* UAO, DIT, SSBS, TCO, CFINV/XAFLAG/AXFLAG...: not implemented. */
undef:
    arm_undefined(cpu);
    return ARM_R_EXC;
}

bool arm_fp_enabled(ArmCpu *cpu)
{
    /* CPACR_EL1.FPEN (D13.2.30): 0b11 no trap, 0b01 traps EL0 only, 0b00
     * and 0b10 trap EL0 and EL1. The syndrome from AArch64 has CV = 1 and
     * COND = 0b1110 (D13.2.37, EC 0x07). */
    unsigned fpen = (cpu->cpacr_el1 >> 20) & 3;
    bool trap = fpen == 3 ? false : fpen == 1 ? cpu->el == 0 : true;
    if (trap) {
        arm_raise_sync(cpu, ARM_EC_FP_ACCESS, (1u << 24) | (0xeu << 20));
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* SYS: TLB maintenance (D5.10), address translation (C5.5 AT), cache
 * maintenance (D4.4, C5.3 DC/IC). */

static void tlbi(ArmCpu *cpu, bool broadcast, bool by_va, bool by_asid, uint64_t xt)
{
    /* The VA operand is Xt[43:0] = VA[55:12]; VA[63:56] follow VA[55] (the
     * TTBR1 half), which is also how the TLB sees tagged addresses after
     * top-byte-ignore. ASIDs are not tagged: by-ASID and by-VA forms flush
     * the page in every ASID, the "last level" forms the whole page. */
    TlbRequest req = { .idxmask = ALL_EL01 };
    if (by_va) {
        uint64_t va = (xt & ((1ull << 44) - 1)) << 12;
        if (va & (1ull << 55)) {
            va |= 0xff00000000000000ull;
        }
        req.kind = TLB_REQ_FLUSH_PAGE;
        req.vaddr = va;
    } else {
        /* VMALLE1 everything; ASIDE1 what is tagged with an ASID, i.e. the
         * non-global entries (every ASID's, as they are not tagged). */
        req.kind = by_asid ? TLB_REQ_FLUSH_NONGLOBAL : TLB_REQ_FLUSH_MMUIDX;
    }
    if (cpu->tlb) {
        if (by_va) {
            tlb_flush_page_by_mmuidx(cpu->tlb, req.vaddr, req.idxmask);
        } else if (by_asid) {
            tlb_flush_nonglobal_by_mmuidx(cpu->tlb, req.idxmask);
        } else {
            tlb_flush_by_mmuidx(cpu->tlb, req.idxmask);
        }
    }
    if (broadcast && cpu->peers && cpu->n_peers > 1) {
        /* The Inner Shareable forms reach every CPU; ours is done above
         * (never wait on ourselves). */
        CpuTlb **others = g_new(CpuTlb *, cpu->n_peers);
        unsigned n = 0;
        for (unsigned i = 0; i < cpu->n_peers; i++) {
            if (cpu->peers[i] && cpu->peers[i] != cpu->tlb) {
                others[n++] = cpu->peers[i];
            }
        }
        if (n) {
            tlb_request_sync(others, n, &req);
        }
        g_free(others);
    }
}

/* Cache maintenance by VA: no caches, but the instruction still
 * translates its address and reports Data Aborts with CM = 1 and WnR = 1
 * (D13.2.37). At EL1 only DC IVAC (which may discard data) needs write
 * permission and the others no permission at all; at EL0 they need read
 * permission (D5.4.x "Permission checks for cache maintenance"). PAN does
 * not apply. */
static ArmResult cmo_va(ArmCpu *cpu, uint64_t xt, bool need_write)
{
    uint64_t va = arm_data_va(cpu, xt);
    ArmWalkResult r;
    unsigned idx = cpu->el == 0 ? ARM_MMU_EL0 : ARM_MMU_EL1;
    if (arm_mmu_walk(cpu, va, need_write ? TLB_WRITE : TLB_READ, idx, &r)) {
        return ARM_R_NEXT;
    }
    bool perm = (r.fsc & 0x3c) == ARM_FSC_PERMISSION(0);
    if (perm && cpu->el == 1 && !need_write) {
        return ARM_R_NEXT;
    }
    unsigned ec = cpu->el == 0 ? ARM_EC_DABORT_LOWER : ARM_EC_DABORT_SAME;
    uint32_t iss = r.fsc | (1u << 8) /* CM */ | (1u << 6) /* WnR */;
    arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(ec, true, iss), va, true, cpu->pc);
    return ARM_R_EXC;
}

/* DC ZVA (C5.3.x): zero the 64-byte block (DCZID_EL0.BS = 4) holding the
 * address, as a store through the TLB: translation and permission faults
 * are Data Aborts on a write (WnR = 1, CM = 0). The block never crosses a
 * page, so the first store faults or none does. */
static ArmResult dc_zva(ArmCpu *cpu, uint64_t xt)
{
    uint64_t va = arm_data_va(cpu, xt) & ~63ull;
    for (unsigned i = 0; i < 64; i += 8) {
        if (!tlb_store(cpu->tlb, va + i, 8, cpu->mmu_idx, 0, 0)) {
            return ARM_R_EXC;
        }
    }
    return ARM_R_NEXT;
}

ArmResult arm_sys_op(ArmCpu *cpu, unsigned op1, unsigned crn, unsigned crm, unsigned op2,
                     uint64_t xt)
{
    uint32_t enc = ARM_SYSREG(1, op1, crn, crm, op2);
    bool el0 = cpu->el == 0;

    if (crn == 8 && op1 == 0 && (crm == 3 || crm == 7)) {
        /* TLBI VMALLE1(IS), VAE1(IS), ASIDE1(IS), VAAE1(IS), VALE1(IS),
         * VAALE1(IS): EL1 only. */
        if (el0) {
            goto undef;
        }
        bool is = crm == 3;
        switch (op2) {
        case 0:     /* VMALLE1 */
            tlbi(cpu, is, false, false, xt);
            return ARM_R_STOP;
        case 2:     /* ASIDE1 */
            tlbi(cpu, is, false, true, xt);
            return ARM_R_STOP;
        case 1:     /* VAE1 */
        case 3:     /* VAAE1 */
        case 5:     /* VALE1 */
        case 7:     /* VAALE1 */
            tlbi(cpu, is, true, false, xt);
            return ARM_R_STOP;
        default:
            goto undef;
        }
    }
    if (crn != 7) {
        goto undef;
    }
    if (op1 == 0) {
        /* EL1-only operations. */
        if (el0) {
            goto undef;
        }
        if ((crm == 1 || crm == 5) && op2 == 0) {
            return ARM_R_NEXT;             /* IC IALLUIS, IC IALLU */
        }
        if (crm == 6 && op2 == 1) {
            return cmo_va(cpu, xt, true);  /* DC IVAC */
        }
        if ((crm == 6 || crm == 10 || crm == 14) && op2 == 2) {
            return ARM_R_NEXT;             /* DC ISW, DC CSW, DC CISW */
        }
        if (crm == 8 && op2 <= 3) {
            /* AT S1E1R, S1E1W, S1E0R, S1E0W */
            cpu->par_el1 = arm_mmu_at_par(cpu, xt, op2 & 1, op2 >= 2);
            return ARM_R_NEXT;
        }
        goto undef;
    }
    if (op1 == 3) {
        if (crm == 4 && op2 == 1) {        /* DC ZVA */
            if (el0 && !(cpu->sctlr_el1 & SCTLR_DZE)) {
                trap_sys(cpu, enc, false);
                return ARM_R_EXC;
            }
            return dc_zva(cpu, xt);
        }
        if ((crm == 5 || crm == 10 || crm == 11 || crm == 14) && op2 == 1) {
            /* IC IVAU, DC CVAC, DC CVAU, DC CIVAC: EL0 with SCTLR_EL1.UCI. */
            if (el0 && !(cpu->sctlr_el1 & SCTLR_UCI)) {
                trap_sys(cpu, enc, false);
                return ARM_R_EXC;
            }
            return cmo_va(cpu, xt, false);
        }
    }
undef:
    arm_undefined(cpu);
    return ARM_R_EXC;
}
