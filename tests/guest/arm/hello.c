/*
 * hello: the boot state of the virt machine (machines/virt.h): CPU 0 at
 * EL1, its MPIDR, and x0 pointing at a flattened device tree.
 */
#include "lib.h"

static uint32_t be32(const volatile uint32_t *p)
{
    /* Device tree headers are big-endian (Devicetree Specification 5.2). */
    return __builtin_bswap32(*p);
}

int main(uint64_t dtb)
{
    print("Hello from AArch64\n");

    /* CurrentEL (DDI 0487 C5.2.1): EL in bits 3:2. */
    uint64_t el = read_sysreg(currentel);
    check_eq(el, 1u << 2, 0x20, "CurrentEL is EL1");
    print("CurrentEL: EL%u\n", (unsigned)(el >> 2));

    /* MPIDR_EL1 (D17.2.101): bit 31 RES1, U (30) = 0 for a multiprocessor
     * system, MT (24) = 0, CPU 0 has affinity 0.0.0.0. */
    uint64_t mpidr = read_sysreg(mpidr_el1);
    check_eq(mpidr, 0x80000000u, 0x21, "MPIDR_EL1 of CPU 0");
    print("MPIDR_EL1: 0x%08lx\n", mpidr);

    /* Booted with DAIF masked and the MMU off (virt.h). */
    check_eq(read_sysreg(daif), 0x3c0, 0x22, "DAIF masked at entry");
    check_eq(read_sysreg(sctlr_el1) & 1, 0, 0x23, "MMU off at entry");

    /* The DTB: magic 0xd00dfeed, totalsize, version 17 (Devicetree
     * Specification 5.2 "Header"); virt.h places it at RAM base for ELF
     * images linked above it. */
    const volatile uint32_t *hdr = (const volatile uint32_t *)(uintptr_t)dtb;
    check_eq(dtb, RAM_BASE, 0x24, "DTB address in x0");
    check_eq(be32(&hdr[0]), 0xd00dfeedu, 0x25, "DTB magic");
    uint32_t total = be32(&hdr[1]);
    check(total > 0x40 && total <= (2u << 20), 0x26, "DTB totalsize");
    check_eq(be32(&hdr[5]), 17, 0x27, "DTB version");
    print("DTB at 0x%lx: magic 0x%x, version %u\n", dtb, be32(&hdr[0]), be32(&hdr[5]));

    /* PSCI_VERSION (DEN 0022D 5.1.1): 1.0 = 0x00010000 (virt.h). */
    int64_t v = psci_call(PSCI_VERSION, 0, 0, 0);
    check_eq(v, 0x10000, 0x28, "PSCI_VERSION");
    print("PSCI %u.%u\n", (unsigned)(v >> 16), (unsigned)(v & 0xffff));
    /* PSCI_FEATURES (5.1.14): 0 for an implemented function, -1 not. */
    check_eq(psci_call(PSCI_FEATURES, PSCI_CPU_ON_64, 0, 0), 0, 0x29, "PSCI_FEATURES(CPU_ON)");
    check_eq(psci_call(PSCI_FEATURES, 0x8400001fu, 0, 0), (uint64_t)-1, 0x2a,
             "PSCI_FEATURES(unknown)");
    print("hello done\n");
    psci_system_off();
}
