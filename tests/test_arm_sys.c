/*
 * Tests of the AArch64 system half: exception entry and return
 * (arm_excp.c), system registers and instructions (arm_sysreg.c) and the
 * generic timer (arm_timer.c), on hand-made ArmCpu structures with a real
 * TLB (no interpreter needed).
 *
 * Expected values come from the ARM ARM (DDI 0487): D1.10 exception entry
 * and vector offsets, D1.11 exception return, D13.2 register layouts,
 * D13.2.37 ESR_EL1 encodings, D5.10 TLB maintenance, D11 the generic timer.
 */
#include "arm_test_util.h"

static ArmCpu *g_cpu;

/* --- A fake machine: a settable clock, recorded timer outputs, one
 * machine-owned system register (ICC_PMR_EL1's encoding). --- */
static uint64_t g_now;
static int g_irq_calls;
static bool g_irq_level[2];
static uint64_t g_pmr;

#define ICC_PMR ARM_SYSREG(3, 0, 4, 6, 0)

static uint64_t fake_clock(void *m)
{
    (void)m;
    return g_now;
}

static void fake_timer_irq(void *m, ArmCpu *cpu, int t, bool level)
{
    (void)m;
    (void)cpu;
    g_irq_calls++;
    g_irq_level[t] = level;
}

static bool fake_sysreg_read(void *m, ArmCpu *cpu, uint32_t enc, uint64_t *v)
{
    (void)m;
    (void)cpu;
    if (enc == ICC_PMR) {
        *v = g_pmr;
        return true;
    }
    return false;
}

static bool fake_sysreg_write(void *m, ArmCpu *cpu, uint32_t enc, uint64_t v)
{
    (void)m;
    (void)cpu;
    if (enc == ICC_PMR) {
        g_pmr = v & 0xff;
        return true;
    }
    return false;
}

static const ArmMachineOps fake_ops = {
    .clock_ns = fake_clock,
    .timer_irq = fake_timer_irq,
    .sysreg_read = fake_sysreg_read,
    .sysreg_write = fake_sysreg_write,
};

static void setup(void)
{
    at_setup();
    g_cpu = at_cpu_new(0);
    g_cpu->vbar_el1 = 0x10000;
    g_cpu->mops = &fake_ops;
    g_now = 0;
    g_irq_calls = 0;
    g_irq_level[0] = g_irq_level[1] = false;
    g_pmr = 0;
}

static void teardown(void)
{
    at_cpu_free(g_cpu);
    g_cpu = NULL;
    at_teardown();
}

static void at_el(unsigned el, bool sp_sel, uint64_t pc)
{
    g_cpu->el = el;
    g_cpu->sp_sel = el != 0 && sp_sel;
    g_cpu->pc = pc;
    arm_update_mmu_index(g_cpu);
}

static unsigned esr_ec(void) { return (unsigned)(g_cpu->esr_el1 >> 26); }
static uint32_t esr_iss(void) { return (uint32_t)(g_cpu->esr_el1 & 0x1ffffff); }

/* Expect the last operation to have raised an exception with EC `ec` from
 * pc `from`, and reset the PE to EL `el` at pc `from` for the next one. */
#define EXPECT_EXC(ec, from)                                                        \
    do {                                                                            \
        ck_assert_uint_eq(esr_ec(), (ec));                                          \
        ck_assert_uint_eq(g_cpu->elr_el1, (from));                                  \
        ck_assert_uint_eq(g_cpu->el, 1);                                            \
    } while (0)

static uint64_t mrs_ok(uint32_t enc)
{
    uint64_t v = 0xdeadbeef;
    ArmResult r = arm_sys_mrs(g_cpu, enc, &v);
    ck_assert_msg(r == ARM_R_NEXT, "MRS 0x%x gave %d", enc, (int)r);
    return v;
}

static ArmResult msr(uint32_t enc, uint64_t v)
{
    return arm_sys_msr(g_cpu, enc, v);
}

#define SCTLR_EL1   ARM_SYSREG(3, 0, 1, 0, 0)
#define TCR_EL1     ARM_SYSREG(3, 0, 2, 0, 2)
#define TTBR0_EL1   ARM_SYSREG(3, 0, 2, 0, 0)
#define VBAR_EL1    ARM_SYSREG(3, 0, 12, 0, 0)
#define SP_EL0      ARM_SYSREG(3, 0, 4, 1, 0)
#define SPSEL       ARM_SYSREG(3, 0, 4, 2, 0)
#define CURRENTEL   ARM_SYSREG(3, 0, 4, 2, 2)
#define PAN_REG     ARM_SYSREG(3, 0, 4, 2, 3)
#define NZCV_REG    ARM_SYSREG(3, 3, 4, 2, 0)
#define DAIF_REG    ARM_SYSREG(3, 3, 4, 2, 1)
#define FPCR_REG    ARM_SYSREG(3, 3, 4, 4, 0)
#define TPIDR_EL0   ARM_SYSREG(3, 3, 13, 0, 2)
#define TPIDRRO_EL0 ARM_SYSREG(3, 3, 13, 0, 3)
#define CTR_EL0     ARM_SYSREG(3, 3, 0, 0, 1)
#define DCZID_EL0   ARM_SYSREG(3, 3, 0, 0, 7)
#define MIDR_EL1    ARM_SYSREG(3, 0, 0, 0, 0)
#define MPIDR_EL1   ARM_SYSREG(3, 0, 0, 0, 5)
#define ID_PFR0_EL1 ARM_SYSREG(3, 0, 0, 1, 0)
#define ID_AA64PFR0 ARM_SYSREG(3, 0, 0, 4, 0)
#define ID_AA64ISAR0 ARM_SYSREG(3, 0, 0, 6, 0)
#define ID_AA64MMFR0 ARM_SYSREG(3, 0, 0, 7, 0)
#define ID_AA64MMFR1 ARM_SYSREG(3, 0, 0, 7, 1)
#define CSSELR_EL1  ARM_SYSREG(3, 2, 0, 0, 0)
#define CCSIDR_EL1  ARM_SYSREG(3, 1, 0, 0, 0)
#define OSLAR_EL1   ARM_SYSREG(2, 0, 1, 0, 4)
#define OSLSR_EL1   ARM_SYSREG(2, 0, 1, 1, 4)
#define PAR_EL1     ARM_SYSREG(3, 0, 7, 4, 0)
#define CNTKCTL_EL1 ARM_SYSREG(3, 0, 14, 1, 0)
#define CNTFRQ_EL0  ARM_SYSREG(3, 3, 14, 0, 0)
#define CNTPCT_EL0  ARM_SYSREG(3, 3, 14, 0, 1)
#define CNTVCT_EL0  ARM_SYSREG(3, 3, 14, 0, 2)
#define CNTP_TVAL   ARM_SYSREG(3, 3, 14, 2, 0)
#define CNTP_CTL    ARM_SYSREG(3, 3, 14, 2, 1)
#define CNTP_CVAL   ARM_SYSREG(3, 3, 14, 2, 2)
#define CNTV_TVAL   ARM_SYSREG(3, 3, 14, 3, 0)
#define CNTV_CTL    ARM_SYSREG(3, 3, 14, 3, 1)
#define CNTV_CVAL   ARM_SYSREG(3, 3, 14, 3, 2)

/* ------------------------------------------------------------------ */
/* Exception entry and return. */

START_TEST(test_vector_offsets)
{
    static const struct {
        unsigned el;
        bool sp_sel;
        uint64_t base;
        uint32_t m;
    } from[] = {
        { 1, false, 0x000, ARM_PSTATE_M_EL1T },
        { 1, true, 0x200, ARM_PSTATE_M_EL1H },
        { 0, false, 0x400, ARM_PSTATE_M_EL0T },
    };
    for (unsigned i = 0; i < 3; i++) {
        for (unsigned k = 0; k < 4; k++) {
            at_el(from[i].el, from[i].sp_sel, 0x4000 + 4 * k);
            g_cpu->nzcv = ARM_PSTATE_Z | ARM_PSTATE_C;
            g_cpu->daif = ARM_PSTATE_A;
            g_cpu->esr_el1 = 0x77;
            g_cpu->far_el1 = 0x88;
            g_cpu->halted = true;
            g_cpu->excl_addr = 0x1000;
            arm_take_exception(g_cpu, (ArmExcKind)k, arm_esr(0x15, true, 0x42), 0xfa, k == 0,
                               0x4000 + 4 * k);
            ck_assert_uint_eq(g_cpu->pc, 0x10000 + from[i].base + 0x80 * k);
            ck_assert_uint_eq(g_cpu->elr_el1, 0x4000 + 4 * k);
            ck_assert_uint_eq(g_cpu->spsr_el1,
                              ARM_PSTATE_Z | ARM_PSTATE_C | ARM_PSTATE_A | from[i].m);
            ck_assert_uint_eq(g_cpu->daif, 0x3c0);
            ck_assert_uint_eq(g_cpu->el, 1);
            ck_assert(g_cpu->sp_sel);
            ck_assert(!g_cpu->halted);
            ck_assert_uint_eq(g_cpu->excl_addr, UINT64_MAX);
            ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL1);
            /* ESR for sync and SError only; FAR only when given. */
            bool esr = k == ARM_EXC_SYNC || k == ARM_EXC_SERROR;
            ck_assert_uint_eq(g_cpu->esr_el1, esr ? arm_esr(0x15, true, 0x42) : 0x77);
            ck_assert_uint_eq(g_cpu->far_el1, k == 0 ? 0xfa : 0x88);
        }
    }
    /* VBAR bits 10:0 are not part of the vector address. */
    g_cpu->vbar_el1 = 0x20000;
    at_el(0, false, 0x100);
    arm_raise_sync(g_cpu, ARM_EC_SVC64, 0);
    ck_assert_uint_eq(g_cpu->pc, 0x20400);
    ck_assert_uint_eq(g_cpu->elr_el1, 0x100);
}
END_TEST

START_TEST(test_pan_on_entry)
{
    /* SCTLR_EL1.SPAN = 0: PSTATE.PAN set on taking an exception to EL1. */
    g_cpu->sctlr_el1 &= ~(1ull << 23);
    at_el(0, false, 0x100);
    arm_raise_sync(g_cpu, ARM_EC_SVC64, 0);
    ck_assert(g_cpu->pan);
    ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL1_PAN);
    /* ERET to EL0 restores PAN from SPSR (0 here). */
    ck_assert_int_eq(arm_exception_return(g_cpu), ARM_R_JUMP);
    ck_assert(!g_cpu->pan);
    ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL0);
    /* SPAN = 1: PAN unchanged. */
    g_cpu->sctlr_el1 |= 1ull << 23;
    arm_raise_sync(g_cpu, ARM_EC_SVC64, 0);
    ck_assert(!g_cpu->pan);
    /* SPSR.PAN is saved. */
    g_cpu->pan = true;
    arm_update_mmu_index(g_cpu);
    arm_raise_sync(g_cpu, ARM_EC_SVC64, 0);
    ck_assert_uint_eq(g_cpu->spsr_el1 & ARM_PSTATE_PAN, ARM_PSTATE_PAN);
}
END_TEST

START_TEST(test_eret)
{
    /* Legal return to EL0t. */
    at_el(1, true, 0x5000);
    g_cpu->spsr_el1 = ARM_PSTATE_N | ARM_PSTATE_V | ARM_PSTATE_F | ARM_PSTATE_M_EL0T;
    g_cpu->elr_el1 = 0x400000;
    g_cpu->excl_addr = 0x1234;
    ck_assert_int_eq(arm_exception_return(g_cpu), ARM_R_JUMP);
    ck_assert_uint_eq(g_cpu->pc, 0x400000);
    ck_assert_uint_eq(g_cpu->el, 0);
    ck_assert(!g_cpu->sp_sel);
    ck_assert_uint_eq(g_cpu->nzcv, ARM_PSTATE_N | ARM_PSTATE_V);
    ck_assert_uint_eq(g_cpu->daif, ARM_PSTATE_F);
    ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL0);
    ck_assert_uint_eq(g_cpu->excl_addr, UINT64_MAX);
    ck_assert(g_cpu->event_reg);
    ck_assert(!g_cpu->il);
    /* Legal return to EL1t and EL1h. */
    at_el(1, true, 0x5000);
    g_cpu->spsr_el1 = ARM_PSTATE_M_EL1T;
    ck_assert_int_eq(arm_exception_return(g_cpu), ARM_R_JUMP);
    ck_assert_uint_eq(g_cpu->el, 1);
    ck_assert(!g_cpu->sp_sel);
    g_cpu->spsr_el1 = ARM_PSTATE_M_EL1H | ARM_PSTATE_D;
    arm_exception_return(g_cpu);
    ck_assert(g_cpu->sp_sel);
    ck_assert_uint_eq(g_cpu->daif, ARM_PSTATE_D);

    /* Illegal returns (D1.11.2): to EL2h, to AArch32, EL0 with SP_EL1 (M =
     * 0b0001), reserved M[1] = 1. PC = ELR, EL and SP unchanged, IL set,
     * NZCV/DAIF restored from SPSR. */
    static const uint32_t bad_m[] = { 0x9, 0x8, 0xd, 0x10, 0x14, 0x1, 0x2, 0x6, 0x7 };
    for (unsigned i = 0; i < G_N_ELEMENTS(bad_m); i++) {
        at_el(1, true, 0x5000);
        g_cpu->il = false;
        g_cpu->spsr_el1 = ARM_PSTATE_C | bad_m[i];
        g_cpu->elr_el1 = 0x6000 + i * 4;
        g_cpu->daif = 0x3c0;
        ck_assert_int_eq(arm_exception_return(g_cpu), ARM_R_JUMP);
        ck_assert_uint_eq(g_cpu->pc, 0x6000 + i * 4);
        ck_assert_uint_eq(g_cpu->el, 1);
        ck_assert(g_cpu->sp_sel);
        ck_assert(g_cpu->il);
        ck_assert_uint_eq(g_cpu->nzcv, ARM_PSTATE_C);
        ck_assert_uint_eq(g_cpu->daif, 0);
        /* The next instruction's Illegal Execution state exception saves
         * IL = 1 in SPSR and clears it. */
        arm_raise_sync(g_cpu, ARM_EC_ILLEGAL_STATE, 0);
        ck_assert_uint_eq(g_cpu->spsr_el1 & ARM_PSTATE_IL, ARM_PSTATE_IL);
        ck_assert_uint_eq(g_cpu->elr_el1, 0x6000 + i * 4);
        ck_assert(!g_cpu->il);
        ck_assert_uint_eq(esr_ec(), 0x0e);
    }
    /* A legal mode with SPSR.IL = 1 returns with PSTATE.IL set. */
    at_el(1, true, 0x5000);
    g_cpu->spsr_el1 = ARM_PSTATE_IL | ARM_PSTATE_M_EL0T;
    arm_exception_return(g_cpu);
    ck_assert_uint_eq(g_cpu->el, 0);
    ck_assert(g_cpu->il);
    /* ERET at EL0 is UNDEFINED. */
    at_el(0, false, 0x7000);
    ck_assert_int_eq(arm_exception_return(g_cpu), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x7000);
}
END_TEST

START_TEST(test_trace)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    g_cpu->trace = ARM_TRACE_INT;
    g_cpu->trace_out = f;
    at_el(0, false, 0x1230);
    arm_raise_sync(g_cpu, ARM_EC_SVC64, 7);
    g_cpu->spsr_el1 = 0x9;  /* EL2h: illegal */
    arm_exception_return(g_cpu);
    char buf[512] = { 0 };
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    g_cpu->trace_out = stderr;
    g_cpu->trace = 0;
    ck_assert(n > 0);
    ck_assert_ptr_nonnull(strstr(buf, "cpu0 exc: sync from el0 pc 0x1230 ec 0x15 esr 0x56000007"));
    ck_assert_ptr_nonnull(strstr(buf, "-> 0x10400"));
    ck_assert_ptr_nonnull(strstr(buf, "cpu0 eret: spsr 0x00000009"));
    ck_assert_ptr_nonnull(strstr(buf, "ILLEGAL"));
}
END_TEST

START_TEST(test_interrupts)
{
    at_el(0, false, 0x1000);
    g_cpu->daif = ARM_PSTATE_I | ARM_PSTATE_F;
    g_cpu->irq_line = true;
    g_cpu->fiq_line = true;
    ck_assert(!arm_check_interrupts(g_cpu));  /* masked at EL0 too */
    g_cpu->daif = ARM_PSTATE_I;
    ck_assert(arm_check_interrupts(g_cpu));    /* FIQ first */
    ck_assert_uint_eq(g_cpu->pc, 0x10000 + 0x400 + 0x100);
    ck_assert_uint_eq(g_cpu->elr_el1, 0x1000);
    ck_assert_uint_eq(g_cpu->spsr_el1, ARM_PSTATE_I | ARM_PSTATE_M_EL0T);
    ck_assert(!arm_check_interrupts(g_cpu));   /* now masked */
    /* IRQ at EL1h with I clear. */
    at_el(1, true, 0x2000);
    g_cpu->fiq_line = false;
    g_cpu->daif = ARM_PSTATE_F;
    g_cpu->halted = true;
    ck_assert(arm_check_interrupts(g_cpu));
    ck_assert_uint_eq(g_cpu->pc, 0x10000 + 0x200 + 0x80);
    ck_assert(!g_cpu->halted);
    /* Powered-off CPUs take nothing. */
    g_cpu->daif = 0;
    g_cpu->powered_off = true;
    ck_assert(!arm_check_interrupts(g_cpu));
}
END_TEST

/* ------------------------------------------------------------------ */
/* System registers. */

START_TEST(test_el0_access_checks)
{
    uint64_t v;
    /* No EL0 access at all: UNDEFINED (EC 0). */
    static const uint32_t el1_only[] = { SCTLR_EL1, TCR_EL1, VBAR_EL1, CURRENTEL, MIDR_EL1,
                                         ID_AA64PFR0, SP_EL0, SPSEL, PAN_REG, ID_PFR0_EL1,
                                         CNTKCTL_EL1, ICC_PMR };
    for (unsigned i = 0; i < G_N_ELEMENTS(el1_only); i++) {
        at_el(0, false, 0x1000 + 4 * i);
        ck_assert_int_eq(arm_sys_mrs(g_cpu, el1_only[i], &v), ARM_R_EXC);
        EXPECT_EXC(ARM_EC_UNKNOWN, 0x1000 + 4 * i);
        ck_assert_uint_eq(esr_iss(), 0);
        at_el(0, false, 0x1000);
        ck_assert_int_eq(msr(el1_only[i], 0), ARM_R_EXC);
        EXPECT_EXC(ARM_EC_UNKNOWN, 0x1000);
    }
    /* EL0-accessible ones. */
    at_el(0, false, 0x2000);
    ck_assert_int_eq(msr(TPIDR_EL0, 0x1234), ARM_R_NEXT);
    ck_assert_uint_eq(mrs_ok(TPIDR_EL0), 0x1234);
    ck_assert_int_eq(msr(NZCV_REG, 0xffffffffu), ARM_R_NEXT);
    ck_assert_uint_eq(mrs_ok(NZCV_REG), 0xf0000000u);
    g_cpu->tpidrro_el0 = 0x55;
    ck_assert_uint_eq(mrs_ok(TPIDRRO_EL0), 0x55);
    ck_assert_int_eq(msr(TPIDRRO_EL0, 1), ARM_R_EXC);   /* read-only at EL0 */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x2000);
    at_el(1, true, 0x2000);
    ck_assert_int_eq(msr(TPIDRRO_EL0, 7), ARM_R_NEXT);  /* writable at EL1 */
    ck_assert_uint_eq(g_cpu->tpidrro_el0, 7);

    /* Controlled by SCTLR_EL1.UMA / UCT: trapped with EC 0x18 and the
     * instruction's encoding in the ISS. */
    g_cpu->sctlr_el1 &= ~((1ull << 9) | (1ull << 15));
    at_el(0, false, 0x3000);
    g_cpu->sys_rt = 5;
    ck_assert_int_eq(arm_sys_mrs(g_cpu, DAIF_REG, &v), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x3000);
    /* op0 3, op2 1, op1 3, CRn 4, Rt 5, CRm 2, read */
    ck_assert_uint_eq(esr_iss(), (3u << 20) | (1u << 17) | (3u << 14) | (4u << 10) | (5u << 5) |
                                 (2u << 1) | 1u);
    at_el(0, false, 0x3004);
    ck_assert_int_eq(msr(DAIF_REG, 0), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x3004);
    ck_assert_uint_eq(esr_iss() & 1, 0);
    at_el(0, false, 0x3008);
    ck_assert_int_eq(arm_sys_mrs(g_cpu, CTR_EL0, &v), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x3008);
    g_cpu->sctlr_el1 |= (1ull << 9) | (1ull << 15);
    at_el(0, false, 0x3000);
    g_cpu->daif = ARM_PSTATE_I;
    ck_assert_uint_eq(mrs_ok(DAIF_REG), ARM_PSTATE_I);
    ck_assert_int_eq(msr(DAIF_REG, 0xffff), ARM_R_STOP);
    ck_assert_uint_eq(g_cpu->daif, 0x3c0);
    ck_assert_uint_eq(mrs_ok(CTR_EL0) >> 31, 1);
    ck_assert_int_eq(msr(CTR_EL0, 0), ARM_R_EXC);  /* read-only: UNDEFINED */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x3000);

    /* Counter and timers at EL0: CNTKCTL_EL1. */
    g_cpu->cntkctl_el1 = 0;
    static const uint32_t timer_regs[] = { CNTFRQ_EL0, CNTPCT_EL0, CNTVCT_EL0, CNTP_CTL,
                                           CNTV_CVAL };
    for (unsigned i = 0; i < G_N_ELEMENTS(timer_regs); i++) {
        at_el(0, false, 0x3100);
        ck_assert_int_eq(arm_sys_mrs(g_cpu, timer_regs[i], &v), ARM_R_EXC);
        EXPECT_EXC(ARM_EC_SYSREG, 0x3100);
    }
    at_el(0, false, 0x3100);
    g_cpu->cntkctl_el1 = 2;  /* EL0VCTEN */
    mrs_ok(CNTVCT_EL0);
    mrs_ok(CNTFRQ_EL0);
    ck_assert_int_eq(arm_sys_mrs(g_cpu, CNTPCT_EL0, &v), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x3100);
    at_el(0, false, 0x3100);
    ck_assert_int_eq(msr(CNTFRQ_EL0, 1), ARM_R_EXC);  /* never writable at EL0 */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x3100);
    at_el(0, false, 0x3100);
    g_cpu->cntkctl_el1 = (1u << 8) | (1u << 9);
    mrs_ok(CNTV_CTL);
    ck_assert_int_eq(msr(CNTP_CTL, 0), ARM_R_STOP);

    /* DCZID_EL0 is always readable; DZP follows SCTLR_EL1.DZE at EL0. */
    g_cpu->sctlr_el1 &= ~(1ull << 14);
    ck_assert_uint_eq(mrs_ok(DCZID_EL0), 0x14);
    g_cpu->sctlr_el1 |= 1ull << 14;
    ck_assert_uint_eq(mrs_ok(DCZID_EL0), 0x4);

    /* Unknown encodings are UNDEFINED at either EL. */
    at_el(1, true, 0x3200);
    ck_assert_int_eq(arm_sys_mrs(g_cpu, ARM_SYSREG(3, 4, 1, 0, 0), &v), ARM_R_EXC); /* SCTLR_EL2 */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x3200);
    at_el(1, true, 0x3200);
    ck_assert_int_eq(arm_sys_mrs(g_cpu, ARM_SYSREG(3, 3, 9, 12, 0), &v), ARM_R_EXC); /* PMCR */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x3200);
}
END_TEST

START_TEST(test_el1_registers)
{
    at_el(1, true, 0x1000);
    /* SCTLR_EL1: RES1 bits read as 1, RES0 as 0 (E0E, EE, CP15BEN...). */
    ck_assert_int_eq(msr(SCTLR_EL1, 0), ARM_R_STOP);
    ck_assert_uint_eq(mrs_ok(SCTLR_EL1), 0x30500980ull);
    ck_assert_int_eq(msr(SCTLR_EL1, ~0ull), ARM_R_STOP);
    uint64_t s = mrs_ok(SCTLR_EL1);
    ck_assert_uint_eq(s & (3ull << 24), 0);   /* E0E, EE: little-endian only */
    ck_assert_uint_eq(s & (1ull << 5), 0);    /* CP15BEN */
    ck_assert_uint_eq(s >> 32, 0);
    ck_assert_uint_eq(s, 0x34dddb9full);
    /* VBAR bits 10:0 RES0. */
    msr(VBAR_EL1, 0x123fff);
    ck_assert_uint_eq(mrs_ok(VBAR_EL1), 0x123800);
    /* TCR keeps cpu->tbi in step. */
    ck_assert_int_eq(msr(TCR_EL1, (1ull << 38) | 16), ARM_R_STOP);
    ck_assert_uint_eq(g_cpu->tbi, 2);
    msr(TCR_EL1, (1ull << 37) | (1ull << 6) | (1ull << 35));
    ck_assert_uint_eq(g_cpu->tbi, 1);
    ck_assert_uint_eq(mrs_ok(TCR_EL1), 1ull << 37);  /* RES0 bits 6 and 35 dropped */
    /* CurrentEL, SPSel, SP_EL0. */
    ck_assert_uint_eq(mrs_ok(CURRENTEL), 4);
    ck_assert_uint_eq(mrs_ok(SPSEL), 1);
    msr(SP_EL0, 0xabc0);
    ck_assert_uint_eq(g_cpu->sp_el[0], 0xabc0);
    ck_assert_uint_eq(mrs_ok(SP_EL0), 0xabc0);
    ck_assert_int_eq(msr(SPSEL, 0), ARM_R_STOP);
    ck_assert(!g_cpu->sp_sel);
    uint64_t v;
    ck_assert_int_eq(arm_sys_mrs(g_cpu, SP_EL0, &v), ARM_R_EXC);  /* SP is SP_EL0 */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x1000);
    /* PAN register. */
    at_el(1, true, 0x1000);
    ck_assert_int_eq(msr(PAN_REG, ARM_PSTATE_PAN), ARM_R_STOP);
    ck_assert(g_cpu->pan);
    ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL1_PAN);
    ck_assert_uint_eq(mrs_ok(PAN_REG), ARM_PSTATE_PAN);
    msr(PAN_REG, 0);
    ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL1);
    /* Identification. */
    ck_assert_uint_eq(mrs_ok(MIDR_EL1), 0x411fd070ull);
    g_cpu->mpidr_el1 = 0x0102;
    ck_assert_uint_eq(mrs_ok(MPIDR_EL1), 0x80000102ull);
    ck_assert_uint_eq((mrs_ok(ID_AA64ISAR0) >> 20) & 0xf, 2);   /* LSE atomics */
    ck_assert_uint_eq((mrs_ok(ID_AA64ISAR0) >> 16) & 0xf, 0);   /* no CRC32 */
    ck_assert_uint_eq(mrs_ok(ID_AA64MMFR0) & 0xf, 5);           /* 48-bit PA */
    ck_assert_uint_eq((mrs_ok(ID_AA64MMFR0) >> 28) & 0xf, 0);   /* TGran4 */
    ck_assert_uint_eq((mrs_ok(ID_AA64MMFR1) >> 20) & 0xf, 1);   /* PAN */
    ck_assert_uint_eq((mrs_ok(ID_AA64PFR0) >> 24) & 0xf, 1);    /* GICv3 sysregs */
    ck_assert_uint_eq(mrs_ok(ID_AA64PFR0) & 0xff, 0x11);        /* EL0/EL1 AArch64 */
    ck_assert_uint_eq(mrs_ok(ID_PFR0_EL1), 0);                  /* AArch32 ID: RAZ */
    ck_assert_uint_eq(mrs_ok(ARM_SYSREG(3, 0, 0, 7, 7)), 0);    /* unallocated ID: RAZ */
    ck_assert_int_eq(msr(MIDR_EL1, 0), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x1000);
    at_el(1, true, 0x1000);
    ck_assert_int_eq(msr(ID_PFR0_EL1, 0), ARM_R_EXC);
    at_el(1, true, 0x1000);
    msr(CSSELR_EL1, 0);
    ck_assert_uint_eq(mrs_ok(CCSIDR_EL1) & 7, 2);  /* 64-byte lines */
    /* OS lock. */
    ck_assert_uint_eq(mrs_ok(OSLSR_EL1), 0xa);
    msr(OSLAR_EL1, 0);
    ck_assert_uint_eq(mrs_ok(OSLSR_EL1), 0x8);
    ck_assert_int_eq(arm_sys_mrs(g_cpu, OSLAR_EL1, &v), ARM_R_EXC);  /* write-only */
    /* Machine-owned registers. */
    at_el(1, true, 0x1000);
    ck_assert_int_eq(msr(ICC_PMR, 0x1f0), ARM_R_STOP);
    ck_assert_uint_eq(mrs_ok(ICC_PMR), 0xf0);
    /* FPCR: only the implemented bits. */
    g_cpu->cpacr_el1 = 3ull << 20;
    msr(FPCR_REG, ~0ull);
    ck_assert_uint_eq(mrs_ok(FPCR_REG), 0x07c00000);
}
END_TEST

START_TEST(test_msr_imm)
{
    at_el(1, true, 0x1000);
    g_cpu->daif = 0;
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 3, 6, 0x3), ARM_R_STOP);  /* DAIFSet #3: I, F */
    ck_assert_uint_eq(g_cpu->daif, ARM_PSTATE_I | ARM_PSTATE_F);
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 3, 7, 0x2), ARM_R_STOP);  /* DAIFClr #2: I */
    ck_assert_uint_eq(g_cpu->daif, ARM_PSTATE_F);
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 0, 5, 0), ARM_R_STOP);    /* SPSel #0 */
    ck_assert(!g_cpu->sp_sel);
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 0, 4, 1), ARM_R_STOP);    /* PAN #1 */
    ck_assert(g_cpu->pan);
    ck_assert_uint_eq(g_cpu->mmu_idx, ARM_MMU_EL1_PAN);
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 0, 3, 1), ARM_R_EXC);     /* UAO: not implemented */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x1000);
    /* EL0: SPSel and PAN UNDEFINED; DAIFSet trapped without UMA. */
    at_el(0, false, 0x2000);
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 0, 5, 1), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x2000);
    at_el(0, false, 0x2000);
    g_cpu->sctlr_el1 &= ~(1ull << 9);
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 3, 6, 0xf), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x2000);
    ck_assert_uint_eq(esr_iss(), (6u << 17) | (3u << 14) | (4u << 10) | (31u << 5) | (0xfu << 1));
    at_el(0, false, 0x2000);
    g_cpu->sctlr_el1 |= 1ull << 9;
    g_cpu->daif = 0;
    ck_assert_int_eq(arm_sys_msr_imm(g_cpu, 3, 6, 0x8), ARM_R_STOP);
    ck_assert_uint_eq(g_cpu->daif, ARM_PSTATE_D);
}
END_TEST

START_TEST(test_fp_trap)
{
    static const struct { unsigned fpen; bool el0_ok, el1_ok; } t[] = {
        { 0, false, false }, { 1, false, true }, { 2, false, false }, { 3, true, true },
    };
    for (unsigned i = 0; i < 4; i++) {
        g_cpu->cpacr_el1 = (uint64_t)t[i].fpen << 20;
        at_el(0, false, 0x100);
        ck_assert_int_eq(arm_fp_enabled(g_cpu), t[i].el0_ok);
        if (!t[i].el0_ok) {
            EXPECT_EXC(ARM_EC_FP_ACCESS, 0x100);
            ck_assert_uint_eq(g_cpu->pc, 0x10400);
        }
        at_el(1, true, 0x200);
        ck_assert_int_eq(arm_fp_enabled(g_cpu), t[i].el1_ok);
        if (!t[i].el1_ok) {
            EXPECT_EXC(ARM_EC_FP_ACCESS, 0x200);
        }
    }
    /* MRS FPCR is an FP access. */
    g_cpu->cpacr_el1 = 0;
    at_el(1, true, 0x300);
    uint64_t v;
    ck_assert_int_eq(arm_sys_mrs(g_cpu, FPCR_REG, &v), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_FP_ACCESS, 0x300);
}
END_TEST

/* ------------------------------------------------------------------ */
/* System instructions. */

#define SYS(op1, crn, crm, op2, xt) arm_sys_op(g_cpu, op1, crn, crm, op2, xt)

START_TEST(test_tlbi)
{
    ArmCpu *other = at_cpu_new(1);
    CpuTlb *peers[2] = { g_cpu->tlb, other->tlb };
    g_cpu->peers = peers;
    g_cpu->n_peers = 2;
    Pt p = pt_new(16);
    /* User pages are per-ASID (nG), the TTBR1 kernel page global. */
    pt_map(&p, 0x1000, DATA_AREA, 3, D_NORMAL | D_AP1 | D_NG);
    pt_map(&p, 0x2000, DATA_AREA + 0x1000, 3, D_NORMAL | D_AP1 | D_NG);
    pt_map(&p, 0xffff000000003000ull, DATA_AREA + 0x2000, 3, D_NORMAL);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, &p);
    mmu_on(other, TCR_TSZ(16, 16) | TCR_4K_48, &p, &p);
    wr64(DATA_AREA, 1);
    wr64(DATA_AREA + 0x1000, 2);
    wr64(DATA_AREA + 0x2000, 3);
    wr64(DATA_AREA + 0x3000, 4);
    at_el(1, true, 0x100);
    uint64_t v;
    /* Fill both CPUs' TLBs, then retarget page 0x1000 in the tables. */
    ck_assert(tlb_load(g_cpu->tlb, 0x1000, 8, ARM_MMU_EL0, 0, &v) && v == 1);
    ck_assert(tlb_load(g_cpu->tlb, 0x1000, 8, ARM_MMU_EL1, 0, &v) && v == 1);
    ck_assert(tlb_load(other->tlb, 0x1000, 8, ARM_MMU_EL1, 0, &v) && v == 1);
    pt_map(&p, 0x1000, DATA_AREA + 0x3000, 3, D_NORMAL | D_AP1 | D_NG);
    ck_assert(tlb_load(g_cpu->tlb, 0x1000, 8, ARM_MMU_EL1, 0, &v) && v == 1);  /* stale */
    /* TLBI VAE1 (local): this CPU only, both EL0 and EL1 entries. */
    ck_assert_int_eq(SYS(0, 8, 7, 1, 0x1000 >> 12), ARM_R_STOP);
    ck_assert(tlb_load(g_cpu->tlb, 0x1000, 8, ARM_MMU_EL1, 0, &v) && v == 4);
    ck_assert(tlb_load(g_cpu->tlb, 0x1000, 8, ARM_MMU_EL0, 0, &v) && v == 4);
    ck_assert(tlb_load(other->tlb, 0x1000, 8, ARM_MMU_EL1, 0, &v) && v == 1);
    /* TLBI VAAE1IS: every CPU. */
    ck_assert_int_eq(SYS(0, 8, 3, 3, (0x1000 >> 12) | (0x55ull << 48)), ARM_R_STOP);
    ck_assert(tlb_load(other->tlb, 0x1000, 8, ARM_MMU_EL1, 0, &v) && v == 4);
    /* TLBI by VA of a TTBR1 address: Xt[43:0] = VA[55:12]. */
    ck_assert(tlb_load(g_cpu->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 3);
    pt_map(&p, 0xffff000000003000ull, DATA_AREA + 0x1000, 3, D_NORMAL);
    ck_assert_int_eq(SYS(0, 8, 7, 5, (0xffff000000003000ull >> 12) & ((1ull << 44) - 1)),
                     ARM_R_STOP);
    ck_assert(tlb_load(g_cpu->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 2);
    /* TLBI VMALLE1 drops everything locally; ASIDE1IS on every CPU. */
    ck_assert(tlb_load(g_cpu->tlb, 0x2000, 8, ARM_MMU_EL1, 0, &v) && v == 2);
    pt_map(&p, 0x2000, DATA_AREA, 3, D_NORMAL | D_AP1 | D_NG);
    ck_assert(tlb_load(g_cpu->tlb, 0x2000, 8, ARM_MMU_EL1, 0, &v) && v == 2);  /* stale */
    ck_assert_int_eq(SYS(0, 8, 7, 0, 0), ARM_R_STOP);
    ck_assert(tlb_load(g_cpu->tlb, 0x2000, 8, ARM_MMU_EL1, 0, &v) && v == 1);
    ck_assert(tlb_load(other->tlb, 0x2000, 8, ARM_MMU_EL1, 0, &v) && v == 1);
    pt_map(&p, 0x2000, DATA_AREA + 0x2000, 3, D_NORMAL | D_AP1 | D_NG);
    /* A global page cached on the other CPU, then retargeted in the tables. */
    ck_assert(tlb_load(other->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 2);
    pt_map(&p, 0xffff000000003000ull, DATA_AREA + 0x3000, 3, D_NORMAL);
    ck_assert_int_eq(SYS(0, 8, 3, 2, 0), ARM_R_STOP);  /* ASIDE1IS */
    ck_assert(tlb_load(other->tlb, 0x2000, 8, ARM_MMU_EL1, 0, &v) && v == 3);
    /* ASID invalidation does not match global entries (D8.x "TLB maintenance
     * by ASID"): the global page is still the cached one. */
    ck_assert(tlb_load(other->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 2);
    /* TTBR writes that change the value drop the non-global entries, and
     * keep the global ones (valid in every ASID); TLBI at EL0 is UNDEFINED. */
    ck_assert(tlb_load(g_cpu->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 4);
    pt_map(&p, 0xffff000000003000ull, DATA_AREA + 0x2000, 3, D_NORMAL);
    pt_map(&p, 0x2000, DATA_AREA + 0x1000, 3, D_NORMAL | D_AP1 | D_NG);
    ck_assert_int_eq(msr(TTBR0_EL1, p.root | (1ull << 48)), ARM_R_STOP);
    ck_assert(tlb_load(g_cpu->tlb, 0x2000, 8, ARM_MMU_EL1, 0, &v) && v == 2);
    ck_assert(tlb_load(g_cpu->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 4);
    /* VMALLE1 drops global entries too. */
    ck_assert_int_eq(SYS(0, 8, 7, 0, 0), ARM_R_STOP);
    ck_assert(tlb_load(g_cpu->tlb, 0xffff000000003000ull, 8, ARM_MMU_EL1, 0, &v) && v == 3);
    at_el(0, false, 0x500);
    ck_assert_int_eq(SYS(0, 8, 7, 0, 0), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x500);
    at_el(1, true, 0x500);
    ck_assert_int_eq(SYS(0, 8, 7, 4, 0), ARM_R_EXC);  /* unallocated op2 */
    g_cpu->peers = NULL;
    g_cpu->n_peers = 0;
    at_cpu_free(other);
}
END_TEST

START_TEST(test_dc_zva)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, DATA_AREA, 3, D_NORMAL | D_AP1);
    pt_map(&p, 0x2000, DATA_AREA + 0x1000, 3, D_NORMAL | D_AP2);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    memset(g_ram + DATA_AREA, 0xff, 0x2000);
    at_el(1, true, 0x100);
    ck_assert_int_eq(SYS(3, 7, 4, 1, 0x10c5), ARM_R_NEXT);
    for (unsigned i = 0; i < 0x200; i++) {
        bool in = i >= 0xc0 && i < 0x100;
        ck_assert_uint_eq(g_ram[DATA_AREA + i], in ? 0 : 0xff);
    }
    /* Read-only page: Data Abort on a write, permission level 3. */
    ck_assert_int_eq(SYS(3, 7, 4, 1, 0x2040), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_DABORT_SAME, 0x100);
    ck_assert_uint_eq(esr_iss(), (1u << 6) | ARM_FSC_PERMISSION(3));
    ck_assert_uint_eq(g_cpu->far_el1, 0x2040);
    ck_assert_uint_eq(g_ram[DATA_AREA + 0x1040], 0xff);
    /* EL0: trapped unless SCTLR_EL1.DZE; allowed on its EL0-writable page. */
    g_cpu->sctlr_el1 &= ~(1ull << 14);
    at_el(0, false, 0x200);
    ck_assert_int_eq(SYS(3, 7, 4, 1, 0x1000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x200);
    g_cpu->sctlr_el1 |= 1ull << 14;
    at_el(0, false, 0x200);
    ck_assert_int_eq(SYS(3, 7, 4, 1, 0x1000), ARM_R_NEXT);
    ck_assert_uint_eq(g_ram[DATA_AREA], 0);
    /* Unmapped: translation fault from EL0. */
    ck_assert_int_eq(SYS(3, 7, 4, 1, 0x5000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_DABORT_LOWER, 0x200);
    ck_assert_uint_eq(esr_iss(), (1u << 6) | ARM_FSC_TRANSLATION(3));
}
END_TEST

START_TEST(test_cache_maintenance)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, DATA_AREA, 3, D_NORMAL);            /* EL1 RW only */
    pt_map(&p, 0x2000, DATA_AREA, 3, D_NORMAL | D_AP2);    /* EL1 RO */
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    at_el(1, true, 0x100);
    /* No caches: no-ops at EL1, set/way and IC included. */
    ck_assert_int_eq(SYS(3, 7, 14, 1, 0x1000), ARM_R_NEXT);  /* DC CIVAC */
    ck_assert_int_eq(SYS(3, 7, 10, 1, 0x2000), ARM_R_NEXT);  /* DC CVAC, RO page */
    ck_assert_int_eq(SYS(3, 7, 11, 1, 0x1000), ARM_R_NEXT);  /* DC CVAU */
    ck_assert_int_eq(SYS(3, 7, 5, 1, 0x1000), ARM_R_NEXT);   /* IC IVAU */
    ck_assert_int_eq(SYS(0, 7, 6, 2, 0), ARM_R_NEXT);        /* DC ISW */
    ck_assert_int_eq(SYS(0, 7, 10, 2, 0), ARM_R_NEXT);       /* DC CSW */
    ck_assert_int_eq(SYS(0, 7, 14, 2, 0), ARM_R_NEXT);       /* DC CISW */
    ck_assert_int_eq(SYS(0, 7, 5, 0, 0), ARM_R_NEXT);        /* IC IALLU */
    ck_assert_int_eq(SYS(0, 7, 1, 0, 0), ARM_R_NEXT);        /* IC IALLUIS */
    ck_assert_int_eq(SYS(0, 7, 6, 1, 0x1000), ARM_R_NEXT);   /* DC IVAC */
    /* DC IVAC needs write permission. */
    ck_assert_int_eq(SYS(0, 7, 6, 1, 0x2000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_DABORT_SAME, 0x100);
    ck_assert_uint_eq(esr_iss(), (1u << 8) | (1u << 6) | ARM_FSC_PERMISSION(3));
    /* By-VA maintenance of an unmapped address: Data Abort, CM = 1. */
    at_el(1, true, 0x100);
    ck_assert_int_eq(SYS(3, 7, 14, 1, 0x9000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_DABORT_SAME, 0x100);
    ck_assert_uint_eq(esr_iss(), (1u << 8) | (1u << 6) | ARM_FSC_TRANSLATION(3));
    ck_assert_uint_eq(g_cpu->far_el1, 0x9000);
    /* EL0: UCI = 0 traps (EC 0x18), DC IVAC and set/way are UNDEFINED. */
    g_cpu->sctlr_el1 &= ~(1ull << 26);
    at_el(0, false, 0x200);
    ck_assert_int_eq(SYS(3, 7, 10, 1, 0x1000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_SYSREG, 0x200);
    ck_assert_uint_eq(esr_iss(), (1u << 20) | (1u << 17) | (3u << 14) | (7u << 10) | (10u << 1));
    at_el(0, false, 0x200);
    ck_assert_int_eq(SYS(0, 7, 6, 1, 0x1000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x200);
    at_el(0, false, 0x200);
    ck_assert_int_eq(SYS(0, 7, 5, 0, 0), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x200);
    /* UCI = 1: allowed, but EL0 needs read permission. */
    g_cpu->sctlr_el1 |= 1ull << 26;
    at_el(0, false, 0x200);
    ck_assert_int_eq(SYS(3, 7, 11, 1, 0x1000), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_DABORT_LOWER, 0x200);
    ck_assert_uint_eq(esr_iss(), (1u << 8) | (1u << 6) | ARM_FSC_PERMISSION(3));
    /* Unallocated SYS encodings. */
    at_el(1, true, 0x300);
    ck_assert_int_eq(SYS(0, 7, 9, 0, 0), ARM_R_EXC);   /* AT S1E1RP: not implemented */
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x300);
    at_el(1, true, 0x300);
    ck_assert_int_eq(SYS(4, 8, 7, 0, 0), ARM_R_EXC);   /* TLBI ALLE2 */
}
END_TEST

START_TEST(test_at)
{
    Pt p = pt_new(16);
    pt_map(&p, 0x1000, 0x123456000ull, 3, D_NORMAL | D_ATTR(1));
    pt_map(&p, 0x200000, 0x400000, 2, D_AF | D_ATTR(0) | D_AP1 | D_AP2);
    mmu_on(g_cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    at_el(1, true, 0x100);
    /* S1E1R success: PA, SH (inner), ATTR (MAIR index 1 = 0xff), bit 11. */
    ck_assert_int_eq(SYS(0, 7, 8, 0, 0x1abc), ARM_R_NEXT);
    ck_assert_uint_eq(g_cpu->par_el1, 0x123456000ull | (3u << 7) | (1u << 11) | (0xffull << 56));
    ck_assert_uint_eq(mrs_ok(PAR_EL1), g_cpu->par_el1);
    /* Device memory reports SH = 0b10. */
    SYS(0, 7, 8, 2, 0x2fffff);  /* S1E0R */
    ck_assert_uint_eq(g_cpu->par_el1, 0x4ff000ull | (2u << 7) | (1u << 11));
    /* S1E0W on a read-only page: F = 1, FST = permission level 2. */
    SYS(0, 7, 8, 3, 0x200000);
    ck_assert_uint_eq(g_cpu->par_el1, 1u | (ARM_FSC_PERMISSION(2) << 1) | (1u << 11));
    /* S1E0R of an EL1-only page: permission level 3; S1E1W fine. */
    SYS(0, 7, 8, 2, 0x1000);
    ck_assert_uint_eq(g_cpu->par_el1, 1u | (ARM_FSC_PERMISSION(3) << 1) | (1u << 11));
    SYS(0, 7, 8, 1, 0x1000);
    ck_assert_uint_eq(g_cpu->par_el1 & 1, 0);
    /* Unmapped: translation fault level 3; no exception taken. */
    ck_assert_int_eq(SYS(0, 7, 8, 0, 0x3000), ARM_R_NEXT);
    ck_assert_uint_eq(g_cpu->par_el1, 1u | (ARM_FSC_TRANSLATION(3) << 1) | (1u << 11));
    ck_assert_uint_eq(g_cpu->pc, 0x100);
    /* AT ignores PAN (the ARMv8.2 S1E1RP forms would not). */
    g_cpu->pan = true;
    arm_update_mmu_index(g_cpu);
    SYS(0, 7, 8, 0, 0x200000);
    ck_assert_uint_eq(g_cpu->par_el1 & 1, 0);
    /* MMU off: flat, Device-nGnRnE. */
    g_cpu->sctlr_el1 &= ~SCTLR_M_BIT;
    SYS(0, 7, 8, 0, 0x87654321);
    ck_assert_uint_eq(g_cpu->par_el1, 0x87654000ull | (2u << 7) | (1u << 11));
    /* EL0: UNDEFINED. */
    at_el(0, false, 0x400);
    ck_assert_int_eq(SYS(0, 7, 8, 0, 0), ARM_R_EXC);
    EXPECT_EXC(ARM_EC_UNKNOWN, 0x400);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Generic timer. */

START_TEST(test_timer_count)
{
    at_el(1, true, 0x100);
    g_now = 1000000000ull;  /* 1 s */
    ck_assert_uint_eq(arm_timer_count(g_cpu), 62500000ull);
    ck_assert_uint_eq(mrs_ok(CNTPCT_EL0), 62500000ull);
    g_cpu->cntvoff = 500;
    ck_assert_uint_eq(mrs_ok(CNTVCT_EL0), 62500000ull - 500);
    ck_assert_uint_eq(mrs_ok(CNTFRQ_EL0), 62500000ull);
    /* Large clock values: exact 128-bit product, rounded down. */
    g_now = 0xffffffffffffffffull;
    ck_assert_uint_eq(arm_timer_count(g_cpu),
                      (uint64_t)((unsigned __int128)0xffffffffffffffffull * 62500000u /
                                 1000000000u));
    g_now = 15;  /* 15 ns * 62.5 MHz = 0.9375 ticks */
    ck_assert_uint_eq(arm_timer_count(g_cpu), 0);
    g_now = 16;
    ck_assert_uint_eq(arm_timer_count(g_cpu), 1);
    /* Without a clock, the instruction count stands in for ns. */
    ArmMachineOps no_clock = { 0 };
    g_cpu->mops = &no_clock;
    g_cpu->icount = 2000;
    ck_assert_uint_eq(arm_timer_count(g_cpu), 125);
    g_cpu->mops = &fake_ops;
}
END_TEST

START_TEST(test_timer_levels)
{
    at_el(1, true, 0x100);
    g_now = 0;
    /* CVAL 1000 ticks = 16 us; enable. */
    ck_assert_int_eq(msr(CNTP_CVAL, 1000), ARM_R_STOP);
    ck_assert_int_eq(msr(CNTP_CTL, 1), ARM_R_STOP);
    ck_assert_int_eq(g_irq_calls, 0);
    ck_assert_uint_eq(mrs_ok(CNTP_CTL), 1);                  /* ISTATUS 0 */
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), 16000);
    g_now = 15999;
    arm_timer_update(g_cpu);
    ck_assert_int_eq(g_irq_calls, 0);
    g_now = 16000;
    arm_timer_update(g_cpu);
    ck_assert_int_eq(g_irq_calls, 1);
    ck_assert(g_irq_level[ARM_TIMER_PHYS]);
    ck_assert_uint_eq(mrs_ok(CNTP_CTL), 5);                  /* ISTATUS 1 */
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), 16000);  /* already firing: now */
    arm_timer_update(g_cpu);
    ck_assert_int_eq(g_irq_calls, 1);                        /* no change, no call */
    /* IMASK drops the output but keeps ISTATUS. */
    msr(CNTP_CTL, 3);
    ck_assert(!g_irq_level[ARM_TIMER_PHYS]);
    ck_assert_uint_eq(mrs_ok(CNTP_CTL), 7);
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), UINT64_MAX);
    /* TVAL: signed CVAL - count. */
    msr(CNTP_CTL, 1);
    ck_assert(g_irq_level[ARM_TIMER_PHYS]);
    ck_assert_uint_eq(mrs_ok(CNTP_TVAL), 0);                 /* count = 1000 */
    g_now = 32000;                                           /* count = 2000 */
    ck_assert_uint_eq(mrs_ok(CNTP_TVAL), (uint32_t)-1000);
    ck_assert_int_eq(msr(CNTP_TVAL, 500), ARM_R_STOP);
    ck_assert_uint_eq(g_cpu->timer[ARM_TIMER_PHYS].cval, 2500);
    ck_assert(!g_irq_level[ARM_TIMER_PHYS]);
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), 40000);
    msr(CNTP_TVAL, 0xffffff00u);                             /* -256 */
    ck_assert_uint_eq(g_cpu->timer[ARM_TIMER_PHYS].cval, 2000 - 256);
    ck_assert(g_irq_level[ARM_TIMER_PHYS]);
    msr(CNTP_CTL, 0);
    ck_assert(!g_irq_level[ARM_TIMER_PHYS]);

    /* Virtual timer: CNTVCT = CNTPCT - CNTVOFF. */
    g_cpu->cntvoff = 1000;
    msr(CNTV_CVAL, 1500);                                    /* CNTPCT 2500 = 40 us */
    msr(CNTV_CTL, 1);
    ck_assert(!g_irq_level[ARM_TIMER_VIRT]);
    ck_assert_uint_eq(mrs_ok(CNTV_TVAL), 500);
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), 40000);
    msr(CNTV_CVAL, 1501);
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), 40016);
    g_now = 40015;
    arm_timer_update(g_cpu);
    ck_assert(!g_irq_level[ARM_TIMER_VIRT]);
    g_now = 40016;
    arm_timer_update(g_cpu);
    ck_assert(g_irq_level[ARM_TIMER_VIRT]);
    msr(CNTV_CTL, 0);
    ck_assert(!g_irq_level[ARM_TIMER_VIRT]);

    /* A frequency that does not divide 10^9: the deadline rounds up to
     * the first ns at which the count reaches CVAL. */
    g_cpu->cntfrq_el0 = 3;
    g_now = 0;
    msr(CNTP_CVAL, 1501);
    msr(CNTP_CTL, 1);
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), 500333333334ull);
    g_now = 500333333333ull;
    arm_timer_update(g_cpu);
    ck_assert(!g_irq_level[ARM_TIMER_PHYS]);
    g_now = 500333333334ull;
    arm_timer_update(g_cpu);
    ck_assert(g_irq_level[ARM_TIMER_PHYS]);
    g_cpu->cntfrq_el0 = 62500000;
    g_now = 0;
    /* Unreachable deadline. */
    msr(CNTP_CVAL, UINT64_MAX);
    msr(CNTP_CTL, 1);
    ck_assert_uint_eq(arm_timer_next_deadline_ns(g_cpu), UINT64_MAX);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arm_sys");
    TCase *tc = tcase_create("sys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_vector_offsets);
    tcase_add_test(tc, test_pan_on_entry);
    tcase_add_test(tc, test_eret);
    tcase_add_test(tc, test_interrupts);
    tcase_add_test(tc, test_trace);
    tcase_add_test(tc, test_el0_access_checks);
    tcase_add_test(tc, test_el1_registers);
    tcase_add_test(tc, test_msr_imm);
    tcase_add_test(tc, test_fp_trap);
    tcase_add_test(tc, test_tlbi);
    tcase_add_test(tc, test_dc_zva);
    tcase_add_test(tc, test_cache_maintenance);
    tcase_add_test(tc, test_at);
    tcase_add_test(tc, test_timer_count);
    tcase_add_test(tc, test_timer_levels);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
