/*
 * excp: synchronous exceptions at EL1 and from EL0, with the MMU off.
 *
 * Each case records what the vector saw (entry, ESR_EL1, FAR_EL1,
 * ELR_EL1) and checks it against DDI 0487 D17.2.37 (ESR_ELx EC values)
 * and the preferred return addresses of D1.10.1: the next instruction for
 * SVC (an exception generating instruction completes), the instruction
 * itself for BRK, UNDEFINED instructions and aborts.
 */
#include "lib.h"

static volatile struct {
    unsigned count;
    unsigned kind;
    uint64_t esr, far, elr, spsr;
} ex;
/* Where to resume after a fault; 0: the faulting instruction + 4. */
static volatile uint64_t resume_at;

static bool excp_hook(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr, struct frame *f)
{
    ex.count++;
    ex.kind = kind;
    ex.esr = esr;
    ex.far = far;
    ex.elr = elr;
    ex.spsr = f->spsr;
    if (VEC_GROUP(kind) == VEC_LOWER64) {
        /* From EL0: back to enter_el0's caller, with x0 of the SVC or a
         * marker for anything else. */
        return_from_el0(f, ESR_EC(esr) == EC_SVC64 ? f->x[0] : 0xdeadull);
        return true;
    }
    if (resume_at) {
        f->elr = resume_at;
        resume_at = 0;
    } else if (ESR_EC(esr) != EC_SVC64) {
        f->elr = elr + 4;
    }
    return true;
}

static void expect_one(unsigned count_before, unsigned kind, unsigned ec, int code,
                       const char *what)
{
    check_eq(ex.count, count_before + 1, code, what);
    check_eq(ex.kind, kind, code + 1, what);
    check_eq(ESR_EC(ex.esr), ec, code + 2, what);
    /* IL = 1: every A64 instruction is 32 bits (D17.2.37); for EC 0 too. */
    check(ex.esr & ESR_IL, code + 3, "ESR.IL set");
}

/* EL0 code: plain assembly, so that nothing touches a system register the
 * test does not mean to. */
__asm__(".text\n"
        ".balign 4\n"
        "el0_svc:\n"                /* x0 = arg: SVC with arg + 0x1000 */
        "    add x0, x0, #0x1000\n"
        "    svc #0x42\n"
        "    b .\n"
        "el0_mrs:\n"                /* EL1 register at EL0: UNDEFINED */
        "    mrs x0, sctlr_el1\n"
        "    b .\n");
void el0_svc(uint64_t);
void el0_mrs(uint64_t);

static uint64_t el0_stack[512] __attribute__((aligned(16)));
static uint64_t misaligned_stack[4] __attribute__((aligned(16)));

int main(uint64_t dtb)
{
    (void)dtb;
    sync_hook = excp_hook;
    unsigned n;
    uint64_t at;

    /* SVC #0x123 at EL1 (SPx): EC 0x15, ISS = imm16 (D17.2.37 "ISS encoding
     * for an exception from SVC"), ELR = the next instruction, SPSR.M =
     * EL1h (5). */
    n = ex.count;
    __asm__ volatile("adr %0, 1f\n1: svc #0x123" : "=&r"(at) : : "memory");
    expect_one(n, VEC_CUR_SPX | VEC_SYNC, EC_SVC64, 0x20, "svc #0x123");
    check_eq(ESR_ISS(ex.esr), 0x123, 0x24, "svc ISS = imm16");
    check_eq(ex.elr, at + 4, 0x25, "svc ELR = next instruction");
    check_eq(ex.spsr & 0xf, 5, 0x26, "svc SPSR.M = EL1h");
    print("svc: ec=0x%x iss=0x%x elr=next spsr.m=EL1h\n", (unsigned)ESR_EC(ex.esr),
          (unsigned)ESR_ISS(ex.esr));

    /* BRK #7: EC 0x3c, ISS = the comment, ELR = the BRK itself. */
    n = ex.count;
    __asm__ volatile("adr %0, 1f\n1: brk #7" : "=&r"(at) : : "memory");
    expect_one(n, VEC_CUR_SPX | VEC_SYNC, EC_BRK64, 0x28, "brk #7");
    check_eq(ESR_ISS(ex.esr), 7, 0x2c, "brk ISS = comment");
    check_eq(ex.elr, at, 0x2d, "brk ELR = the brk");
    print("brk: ec=0x%x iss=0x%x elr=brk\n", (unsigned)ESR_EC(ex.esr),
          (unsigned)ESR_ISS(ex.esr));

    /* UDF #0 (permanently undefined, C6.2.387): EC 0 "Unknown reason",
     * ISS 0, ELR = the instruction. */
    n = ex.count;
    __asm__ volatile("adr %0, 1f\n1: udf #0" : "=&r"(at) : : "memory");
    expect_one(n, VEC_CUR_SPX | VEC_SYNC, EC_UNKNOWN, 0x30, "udf #0");
    check_eq(ESR_ISS(ex.esr), 0, 0x34, "udf ISS");
    check_eq(ex.elr, at, 0x35, "udf ELR = the udf");
    print("udf: ec=0x%x iss=0x%x elr=udf\n", (unsigned)ESR_EC(ex.esr),
          (unsigned)ESR_ISS(ex.esr));

    /* A load and a store to a hole of the physical map (virt.h: unassigned
     * accesses are external aborts), MMU off: data abort, current EL (EC
     * 0x25), DFSC 0b010000 "synchronous external abort, not on a
     * translation table walk", FnV = 0 and FAR = the address, WnR = 0 / 1. */
    const uint64_t hole = 0x0c000048;
    uint64_t v = 0;
    n = ex.count;
    __asm__ volatile("adr %0, 1f\n1: ldr %1, [%2]" : "=&r"(at), "+r"(v) : "r"(hole) : "memory");
    expect_one(n, VEC_CUR_SPX | VEC_SYNC, EC_DABT_CUR, 0x38, "load from a hole");
    check_eq(ESR_FSC(ex.esr), 0x10, 0x3c, "load: DFSC external abort");
    check(!(ex.esr & ESR_FNV), 0x3d, "load: FAR valid (FnV = 0)");
    check_eq(ex.far, hole, 0x3e, "load: FAR");
    check(!(ex.esr & ESR_WNR), 0x3f, "load: WnR = 0");
    check_eq(ex.elr, at, 0x40, "load: ELR = the load");
    print("external abort (load): ec=0x%x dfsc=0x%x wnr=0 far=0x%lx\n",
          (unsigned)ESR_EC(ex.esr), (unsigned)ESR_FSC(ex.esr), ex.far);
    n = ex.count;
    __asm__ volatile("adr %0, 1f\n1: str %1, [%2]" : "=&r"(at) : "r"(v), "r"(hole) : "memory");
    expect_one(n, VEC_CUR_SPX | VEC_SYNC, EC_DABT_CUR, 0x44, "store to a hole");
    check_eq(ESR_FSC(ex.esr), 0x10, 0x48, "store: DFSC external abort");
    check_eq(ex.far, hole, 0x49, "store: FAR");
    check(ex.esr & ESR_WNR, 0x4a, "store: WnR = 1");
    print("external abort (store): ec=0x%x dfsc=0x%x wnr=1 far=0x%lx\n",
          (unsigned)ESR_EC(ex.esr), (unsigned)ESR_FSC(ex.esr), ex.far);

    /* PC alignment fault (D1.10.? "PC alignment checking"): a branch to an
     * address with bits 1:0 != 0 faults on the fetch with EC 0x22, FAR =
     * ELR = the misaligned PC. */
    uint64_t bad;
    n = ex.count;
    __asm__ volatile("adr x9, 2f\n"
                     "str x9, %[res]\n"
                     "adr x9, 1f\n"
                     "add %[bad], x9, #2\n"
                     "br %[bad]\n"
                     "1: nop\n"
                     "nop\n"
                     "2:\n"
                     : [res] "=m"(resume_at), [bad] "=&r"(bad)
                     :
                     : "x9", "memory");
    expect_one(n, VEC_CUR_SPX | VEC_SYNC, EC_PC_ALIGN, 0x4c, "pc alignment");
    check_eq(ex.far, bad, 0x50, "pc alignment: FAR = the PC");
    check_eq(ex.elr, bad, 0x51, "pc alignment: ELR = the PC");
    print("pc alignment: ec=0x%x far=elr=target\n", (unsigned)ESR_EC(ex.esr));

    /* SP alignment fault: with SCTLR_EL1.SA = 1 (D17.2.118), a load based
     * on an SP that is not 16-byte aligned faults with EC 0x26. Run on
     * SP_EL0 (SPSel = 0, EL1t) so that the handler still has a good stack
     * (exceptions to EL1 always use SP_EL1): the vector taken is "current
     * EL with SP_EL0". */
    uint64_t sctlr = read_sysreg(sctlr_el1);
    write_sysreg(sctlr_el1, sctlr | (1u << 3));
    isb();
    n = ex.count;
    __asm__ volatile("adr x9, 2f\n"
                     "str x9, %[res]\n"
                     "mrs x10, sp_el0\n"
                     "add x9, %[buf], #8\n"
                     "msr sp_el0, x9\n"
                     "msr spsel, #0\n"
                     "ldr x9, [sp]\n"
                     "2: msr spsel, #1\n"
                     "msr sp_el0, x10\n"
                     : [res] "=m"(resume_at)
                     : [buf] "r"(misaligned_stack)
                     : "x9", "x10", "memory");
    write_sysreg(sctlr_el1, sctlr);
    isb();
    expect_one(n, VEC_CUR_SP0 | VEC_SYNC, EC_SP_ALIGN, 0x54, "sp alignment");
    check_eq(ex.spsr & 0xf, 4, 0x58, "sp alignment: SPSR.M = EL1t");
    print("sp alignment: ec=0x%x vector=current EL with SP_EL0\n", (unsigned)ESR_EC(ex.esr));

    /* ERET to EL0 (SPSR.M = 0); SVC from EL0 goes to the lower-EL AArch64
     * vector (VBAR + 0x400) with EC 0x15 and SPSR.M = EL0t. */
    n = ex.count;
    uint64_t r = enter_el0(el0_svc, 0x234, (uint64_t)(uintptr_t)&el0_stack[512]);
    expect_one(n, VEC_LOWER64 | VEC_SYNC, EC_SVC64, 0x5c, "svc from EL0");
    check_eq(ESR_ISS(ex.esr), 0x42, 0x60, "EL0 svc ISS");
    check_eq(ex.spsr & 0xf, 0, 0x61, "EL0 svc SPSR.M = EL0t");
    check_eq(r, 0x1234, 0x62, "EL0 computed x0");
    check_eq(read_sysreg(currentel), 1u << 2, 0x63, "back at EL1");
    print("el0 svc: ec=0x%x iss=0x%x x0=0x%lx\n", (unsigned)ESR_EC(ex.esr),
          (unsigned)ESR_ISS(ex.esr), r);

    /* MRS SCTLR_EL1 at EL0: UNDEFINED (EC 0), taken to EL1 through the
     * lower-EL vector, ELR = the MRS (D1.? "EL0 accesses to EL1 system
     * registers"). */
    n = ex.count;
    r = enter_el0(el0_mrs, 0, (uint64_t)(uintptr_t)&el0_stack[512]);
    expect_one(n, VEC_LOWER64 | VEC_SYNC, EC_UNKNOWN, 0x64, "EL0 mrs sctlr_el1");
    check_eq(ex.elr, (uint64_t)(uintptr_t)el0_mrs, 0x68, "EL0 mrs: ELR = the mrs");
    check_eq(r, 0xdead, 0x69, "EL0 mrs returned through the handler");
    print("el0 mrs sctlr_el1: ec=0x%x elr=mrs\n", (unsigned)ESR_EC(ex.esr));

    print("excp done\n");
    return 0;
}
