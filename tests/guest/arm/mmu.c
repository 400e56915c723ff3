/*
 * mmu: VMSAv8-64 stage 1 translation at EL1 with a 4 KiB granule
 * (DDI 0487 D8): identity map, faults at each level, permissions, the
 * access flag, execute-never, EL0 vs EL1 pages, 2 MiB blocks, TTBR1 for
 * the high half, TLBI after a PTE change and AT S1E1R/W into PAR_EL1.
 *
 * Fault status codes (ESR_ELx.ISS DFSC/IFSC, D17.2.37): translation fault
 * level n = 0x04 + n, access flag fault 0x08 + n, permission fault
 * 0x0c + n.
 */
#include "lib.h"

#define RAM_SIZE (128ul << 20)      /* virt's default --memory */

/* The test VAs, away from the identity map (TTBR0, 48-bit). */
#define VA_BASE    0x100000000ul    /* L0 index 0, L1 index 4 */
#define VA_RW      (VA_BASE + 0x0000)
#define VA_RO      (VA_BASE + 0x1000)
#define VA_NOAF    (VA_BASE + 0x2000)
#define VA_HOLE3   (VA_BASE + 0x3000)          /* L3 table present, entry invalid */
#define VA_XN      (VA_BASE + 0x4000)
#define VA_X       (VA_BASE + 0x5000)
#define VA_EL0     (VA_BASE + 0x6000)
#define VA_HOLE2   (VA_BASE + 0x200000)        /* L2 entry invalid */
#define VA_HOLE1   0x200000000ul              /* L1 entry invalid */
#define VA_HOLE0   0x8000000000ul             /* L0 entry 1 invalid */
#define VA_BLOCK   0x140000000ul              /* a 2 MiB block */
#define PA_BLOCK   0x44000000ul               /* 2 MiB aligned, in RAM */
#define T1SZ       25                          /* TTBR1: a 39-bit high half */
#define VA_HIGH    0xffffff8000005000ul

static uint32_t page1[1024] __attribute__((aligned(4096), section(".bss.page")));
static uint32_t page2[1024] __attribute__((aligned(4096), section(".bss.page")));
static uint32_t code_page[1024] __attribute__((aligned(4096), section(".bss.page")));
static uint64_t el0_stack_page[512] __attribute__((aligned(4096), section(".bss.page")));

static struct mmu low, high;

static volatile struct {
    unsigned count;
    unsigned kind;
    uint64_t esr, far, elr;
} ex;

static bool mmu_hook(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr, struct frame *f)
{
    ex.count++;
    ex.kind = kind;
    ex.esr = esr;
    ex.far = far;
    ex.elr = elr;
    if (VEC_GROUP(kind) == VEC_LOWER64) {
        return_from_el0(f, ESR_EC(esr) == EC_SVC64 ? f->x[0] : 0xdeadul);
        return true;
    }
    if (ESR_EC(esr) == EC_IABT_CUR) {
        /* A call into a page that cannot be executed: return to the caller
         * (x30) as if the function had returned 0xbad. */
        f->x[0] = 0xbad;
        f->elr = f->x[30];
        return true;
    }
    if (ESR_EC(esr) == EC_DABT_CUR) {
        f->elr = elr + 4;   /* step over the load or store */
        return true;
    }
    return false;
}

static uint32_t load32(uint64_t va)
{
    uint32_t v;
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(va) : "memory");
    return v;
}

static void store32(uint64_t va, uint32_t v)
{
    __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(va) : "memory");
}

/* A data access that must fault with `fsc` at `va` (WnR = write). */
static void expect_dabt(uint64_t va, bool write, unsigned fsc, int code, const char *what)
{
    unsigned n = ex.count;
    if (write) {
        store32(va, 0x5a5a5a5a);
    } else {
        (void)load32(va);
    }
    check_eq(ex.count, n + 1, code, what);
    check_eq(ESR_EC(ex.esr), EC_DABT_CUR, code + 1, what);
    check_eq(ESR_FSC(ex.esr), fsc, code + 2, what);
    check_eq(ex.far, va, code + 3, what);
    check_eq(!!(ex.esr & ESR_WNR), write, code + 4, what);
    print("%s: ec=0x%x dfsc=0x%02x wnr=%u far=0x%lx\n", what, (unsigned)ESR_EC(ex.esr),
          (unsigned)ESR_FSC(ex.esr), (unsigned)write, ex.far);
}

/* Runs at EL0 from the EL0-executable page: x0 = an address to load. */
__asm__(".section .user_text, \"ax\"\n"
        ".balign 4\n"
        "el0_load:\n"
        "    ldr w0, [x0]\n"
        "    svc #0\n"
        "    b .\n"
        ".text\n");
void el0_load(uint64_t);

/* Make `n` bytes of freshly written instructions visible to fetches
 * (D7.5.? "Concurrent modification and execution of instructions"). */
static void sync_icache(const void *p, size_t n)
{
    for (uintptr_t a = (uintptr_t)p & ~63ul; a < (uintptr_t)p + n; a += 64) {
        __asm__ volatile("dc cvau, %0" : : "r"(a) : "memory");
    }
    dsb_ish();
    for (uintptr_t a = (uintptr_t)p & ~63ul; a < (uintptr_t)p + n; a += 64) {
        __asm__ volatile("ic ivau, %0" : : "r"(a) : "memory");
    }
    dsb_ish();
    isb();
}

extern char __user_text_start[], __user_text_end[];

int main(uint64_t dtb)
{
    (void)dtb;
    sync_hook = mmu_hook;

    page1[0] = 0x11111111;
    page2[0] = 0x22222222;
    /* A function in a data page: mov w0, #42; ret. */
    code_page[0] = 0x52800540;
    code_page[1] = 0xd65f03c0;
    sync_icache(code_page, 8);

    mmu_init(&low, 48);
    mmu_identity(&low, RAM_SIZE);
    /* The EL0 code page: readable and executable at EL0 (AP = 11, UXN = 0). */
    for (uintptr_t a = (uintptr_t)__user_text_start; a < (uintptr_t)__user_text_end; a += 4096) {
        mmu_map_page(&low, a, a, PTE_NORMAL | PTE_AP_ALL_RO | PTE_PXN);
    }
    mmu_map_page(&low, (uintptr_t)el0_stack_page, (uintptr_t)el0_stack_page,
                 PTE_NORMAL | PTE_AP_ALL_RW | PTE_PXN | PTE_UXN);
    const uint64_t data = PTE_NORMAL | PTE_PXN | PTE_UXN;
    mmu_map_page(&low, VA_RW, (uintptr_t)page1, data | PTE_AP_EL1_RW);
    mmu_map_page(&low, VA_RO, (uintptr_t)page1, data | PTE_AP_EL1_RO);
    mmu_map_page(&low, VA_NOAF, (uintptr_t)page1, (data | PTE_AP_EL1_RW) & ~PTE_AF);
    mmu_map_page(&low, VA_XN, (uintptr_t)code_page, PTE_NORMAL | PTE_AP_EL1_RO | PTE_PXN | PTE_UXN);
    mmu_map_page(&low, VA_X, (uintptr_t)code_page, PTE_NORMAL | PTE_AP_EL1_RO | PTE_UXN);
    mmu_map_page(&low, VA_EL0, (uintptr_t)page1, data | PTE_AP_ALL_RW);
    mmu_map_block(&low, VA_BLOCK, PA_BLOCK, 2, data | PTE_AP_EL1_RW);
    /* TTBR1: a 39-bit high half (T1SZ = 25, tables from level 1). */
    mmu_init(&high, 39);
    mmu_map_page(&high, VA_HIGH, (uintptr_t)page2, data | PTE_AP_EL1_RW);

    mmu_enable(&low, &high, T1SZ);
    check_eq(read_sysreg(sctlr_el1) & 1, 1, 0x20, "SCTLR_EL1.M set");
    print("mmu on: 48-bit TTBR0, 39-bit TTBR1, 4 KiB granule\n");

    /* The identity map keeps the code, data and console working. */
    check_eq(load32(VA_RW), 0x11111111, 0x21, "read through VA_RW");
    store32(VA_RW + 4, 0x12345678);
    check_eq(page1[1], 0x12345678, 0x22, "write through VA_RW reaches page1");
    print("mapped page: read 0x%x, write ok\n", load32(VA_RW));

    /* Translation faults at each level of the walk. */
    expect_dabt(VA_HOLE0, false, 0x04, 0x24, "translation fault L0");
    expect_dabt(VA_HOLE1, false, 0x05, 0x2a, "translation fault L1");
    expect_dabt(VA_HOLE2, false, 0x06, 0x30, "translation fault L2");
    expect_dabt(VA_HOLE3, true, 0x07, 0x36, "translation fault L3");

    /* Permission fault: a write to an EL1 read-only page (AP = 10);
     * reading it is fine. */
    check_eq(load32(VA_RO), 0x11111111, 0x3c, "read of a read-only page");
    expect_dabt(VA_RO, true, 0x0f, 0x3d, "permission fault L3");

    /* Access flag fault: AF = 0 and no hardware management (TCR_EL1.HA =
     * 0): the first access faults (D8.4.? "The Access flag"). */
    expect_dabt(VA_NOAF, false, 0x0b, 0x43, "access flag fault L3");

    /* Execute-never: a call to a PXN page is an instruction abort, current
     * EL (EC 0x21), IFSC = permission fault level 3, FAR = ELR = the
     * target. The same bytes through an executable mapping run. */
    uint32_t (*fn)(void) = (uint32_t (*)(void))VA_XN;
    unsigned n = ex.count;
    uint32_t r = fn();
    check_eq(ex.count, n + 1, 0x49, "call of a PXN page faults");
    check_eq(r, 0xbad, 0x4a, "PXN call returned through the handler");
    check_eq(ESR_EC(ex.esr), EC_IABT_CUR, 0x4b, "PXN: EC instruction abort");
    check_eq(ESR_FSC(ex.esr), 0x0f, 0x4c, "PXN: IFSC permission L3");
    check_eq(ex.far, VA_XN, 0x4d, "PXN: FAR");
    check_eq(ex.elr, VA_XN, 0x4e, "PXN: ELR");
    print("execute-never: ec=0x%x ifsc=0x%02x far=0x%lx\n", (unsigned)ESR_EC(ex.esr),
          (unsigned)ESR_FSC(ex.esr), ex.far);
    fn = (uint32_t (*)(void))VA_X;
    check_eq(fn(), 42, 0x4f, "call through the executable alias");
    print("executable alias: returned 42\n");

    /* EL0: a load from an EL0 page works; from an EL1-only page (AP = 00)
     * it is a permission fault from a lower EL (EC 0x24). */
    uint64_t el0_sp = (uintptr_t)&el0_stack_page[512];
    uint64_t v = enter_el0(el0_load, VA_EL0, el0_sp);
    check_eq(ESR_EC(ex.esr), EC_SVC64, 0x50, "EL0 load of an EL0 page");
    check_eq(v, 0x11111111, 0x51, "EL0 read value");
    n = ex.count;
    v = enter_el0(el0_load, VA_RW, el0_sp);
    check_eq(ex.count, n + 1, 0x52, "EL0 load of an EL1 page faults");
    check_eq(v, 0xdead, 0x53, "EL0 fault returned through the handler");
    check_eq(ex.kind, VEC_LOWER64 | VEC_SYNC, 0x54, "EL0 fault: lower-EL vector");
    check_eq(ESR_EC(ex.esr), EC_DABT_LOWER, 0x55, "EL0 fault: EC 0x24");
    check_eq(ESR_FSC(ex.esr), 0x0f, 0x56, "EL0 fault: permission L3");
    check_eq(ex.far, VA_RW, 0x57, "EL0 fault: FAR");
    print("el0 access to an EL1 page: ec=0x%x dfsc=0x%02x far=0x%lx\n",
          (unsigned)ESR_EC(ex.esr), (unsigned)ESR_FSC(ex.esr), ex.far);

    /* A 2 MiB block (level 2 block descriptor, D8.3.1). */
    volatile uint64_t *phys = (volatile uint64_t *)(uintptr_t)(PA_BLOCK + 0x123450);
    *phys = 0xb10cb10cul;
    check_eq(*(volatile uint64_t *)(uintptr_t)(VA_BLOCK + 0x123450), 0xb10cb10cul, 0x58,
             "read through the 2 MiB block");
    print("2 MiB block: read 0x%lx at 0x%lx\n",
          *(volatile uint64_t *)(uintptr_t)(VA_BLOCK + 0x123450), VA_BLOCK + 0x123450);

    /* TTBR1: the high half (VA bits 63:39 all ones with T1SZ = 25). */
    check_eq(load32(VA_HIGH), 0x22222222, 0x59, "read through TTBR1");
    print("TTBR1: read 0x%x at 0x%lx\n", load32(VA_HIGH), VA_HIGH);

    /* AT S1E1R/W (C5.5.?) into PAR_EL1 (D17.2.?): F = 0 with PA [47:12]
     * and ATTR [63:56] (the MAIR attribute, 0xff); F = 1 with FST [6:1]. */
    uint64_t par = at_s1e1r(VA_BLOCK + 0x123450);
    check_eq(par & 1, 0, 0x5a, "AT on the block: F = 0");
    check_eq(par & PTE_ADDR_MASK, PA_BLOCK + 0x123000, 0x5b, "AT on the block: PA");
    check_eq(par >> 56, 0xff, 0x5c, "AT on the block: ATTR");
    print("AT S1E1R block: PAR.PA=0x%lx attr=0x%lx\n", par & PTE_ADDR_MASK, par >> 56);
    par = at_s1e1r(VA_HOLE3);
    check_eq(par & 1, 1, 0x5d, "AT on a hole: F = 1");
    check_eq((par >> 1) & 0x3f, 0x07, 0x5e, "AT on a hole: FST translation L3");
    par = at_s1e1w(VA_RO);
    check_eq(par & 1, 1, 0x5f, "AT S1E1W on a read-only page: F = 1");
    check_eq((par >> 1) & 0x3f, 0x0f, 0x60, "AT S1E1W on a read-only page: FST permission L3");
    par = at_s1e1r(VA_RO);
    check_eq(par & 1, 0, 0x61, "AT S1E1R on a read-only page: F = 0");
    print("AT faults: hole FST=0x07, S1E1W read-only FST=0x0f\n");

    /* Break-before-make is not needed to change only the output address of
     * a valid entry here (D8.13): write the PTE, then DSB; TLBI VAE1; DSB;
     * ISB (D8.14 "TLB maintenance"). */
    check_eq(load32(VA_RW), 0x11111111, 0x62, "VA_RW before the remap");
    uint64_t *pte = mmu_pte(&low, VA_RW, 3, false);
    *pte = (uintptr_t)page2 | data | PTE_AP_EL1_RW | PTE_PAGE | PTE_VALID;
    dsb_ishst();
    tlbi_vae1(VA_RW);
    dsb_ish();
    isb();
    check_eq(load32(VA_RW), 0x22222222, 0x63, "VA_RW after the remap and TLBI VAE1");
    par = at_s1e1r(VA_RW);
    check_eq(par & PTE_ADDR_MASK, (uintptr_t)page2, 0x64, "AT after the remap: PA");
    print("TLBI VAE1: remapped page reads 0x%x\n", load32(VA_RW));

    mmu_disable();
    print("mmu done\n");
    return 0;
}
