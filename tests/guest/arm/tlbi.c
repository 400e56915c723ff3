/*
 * tlbi (run with --smp 2): broadcast TLB maintenance (DDI 0487 D8.14).
 *
 * Both CPUs run with the MMU on, sharing one set of tables. CPU 1 reads a
 * VA (so its TLB may hold the translation), CPU 0 then remaps that VA to
 * another page and runs the sequence the Arm ARM prescribes for a PTE
 * change seen by other PEs in the Inner Shareable domain:
 *     STR pte; DSB ISHST; TLBI VAE1IS, va; DSB ISH; ISB
 * after which CPU 1's next read must reach the new page. The same again
 * with TLBI VMALLE1IS (all entries) mapping the VA back.
 */
#include "lib.h"

#define RAM_SIZE (128ul << 20)
#define VA_T 0x100000000ul

static uint32_t page_a[1024] __attribute__((aligned(4096), section(".bss.page")));
static uint32_t page_b[1024] __attribute__((aligned(4096), section(".bss.page")));
static struct mmu shared;
static uint64_t *pte_t;
static volatile uint32_t stage;
static volatile uint32_t seen[4];

static uint32_t read_t(void)
{
    return *(volatile uint32_t *)VA_T;
}

static void secondary(uint64_t arg)
{
    (void)arg;
    mmu_enable(&shared, NULL, 0);
    /* Read the VA many times: the translation is surely in this CPU's TLB. */
    uint32_t v = 0;
    for (unsigned i = 0; i < 100; i++) {
        v = read_t();
    }
    seen[0] = v;
    store_release32(&stage, 1);

    wait_eq32(&stage, 2, "CPU 0's remap to page B");
    seen[1] = read_t();
    for (unsigned i = 0; i < 100; i++) {
        (void)read_t();
    }
    store_release32(&stage, 3);

    wait_eq32(&stage, 4, "CPU 0's remap to page A");
    seen[2] = read_t();
    store_release32(&stage, 5);
    park();
}

static void set_pte(uint32_t *page)
{
    *pte_t = (uintptr_t)page | PTE_NORMAL | PTE_AP_EL1_RW | PTE_PXN | PTE_UXN | PTE_PAGE |
             PTE_VALID;
}

int main(uint64_t dtb)
{
    (void)dtb;
    page_a[0] = 0xaaaa1111;
    page_b[0] = 0xbbbb2222;
    mmu_init(&shared, 39);
    mmu_identity(&shared, RAM_SIZE);
    mmu_map_page(&shared, VA_T, (uintptr_t)page_a,
                 PTE_NORMAL | PTE_AP_EL1_RW | PTE_PXN | PTE_UXN);
    pte_t = mmu_pte(&shared, VA_T, 3, false);
    mmu_enable(&shared, NULL, 0);
    print("tlbi: CPU 0 reads 0x%x\n", read_t());

    check_eq(psci_cpu_on(1, secondary, 0), PSCI_SUCCESS, 0x20, "CPU_ON 1");
    wait_eq32(&stage, 1, "CPU 1's first read");
    print("CPU 1 reads 0x%x before the remap\n", seen[0]);
    check_eq(seen[0], 0xaaaa1111, 0x21, "CPU 1 first read");

    set_pte(page_b);
    dsb_ishst();
    tlbi_vae1is(VA_T);
    dsb_ish();
    isb();
    check_eq(read_t(), 0xbbbb2222, 0x22, "CPU 0 after TLBI VAE1IS");
    store_release32(&stage, 2);
    wait_eq32(&stage, 3, "CPU 1's second read");
    print("CPU 1 reads 0x%x after TLBI VAE1IS\n", seen[1]);
    check_eq(seen[1], 0xbbbb2222, 0x23, "CPU 1 sees the new page after TLBI VAE1IS");

    set_pte(page_a);
    dsb_ishst();
    __asm__ volatile("tlbi vmalle1is" ::: "memory");
    dsb_ish();
    isb();
    store_release32(&stage, 4);
    wait_eq32(&stage, 5, "CPU 1's third read");
    print("CPU 1 reads 0x%x after TLBI VMALLE1IS\n", seen[2]);
    check_eq(seen[2], 0xaaaa1111, 0x24, "CPU 1 sees the old page after TLBI VMALLE1IS");
    print("tlbi done\n");
    return 0;
}
