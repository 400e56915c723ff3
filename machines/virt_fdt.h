/*
 * The flattened device tree (Devicetree Specification v0.4, "Flattened
 * Devicetree (DTB) Format") of the AArch64 virt machine, built with libfdt.
 *
 * The tree follows what guests expect from QEMU's virt board, with the
 * bindings of Linux's Documentation/devicetree/bindings:
 *
 *   /                 compatible "linux,dummy-virt", model "mmusim virt",
 *                     #address-cells 2, #size-cells 2, interrupt-parent <&gic>
 *   /chosen           bootargs (when given), stdout-path "/pl011@<uart>",
 *                     linux,initrd-start/-end (u64, when given)
 *   /aliases          serial0 = "/pl011@<uart>"
 *   /memory@<base>    device_type "memory", reg <base size>
 *   /cpus             #address-cells 1 (2 if an MPIDR has Aff3), #size-cells 0
 *     cpu@<reg>       device_type "cpu", compatible "arm,cortex-a57",
 *                     reg = MPIDR Aff2|Aff1|Aff0 (| Aff3 << 32),
 *                     enable-method "psci"       (arm/cpus.yaml)
 *   /psci             "arm,psci-1.0", "arm,psci-0.2", "arm,psci"; method;
 *                     the PSCI 0.1 function IDs cpu_suspend, cpu_off,
 *                     cpu_on, migrate (SMC64 numbering of PSCI 0.2+)
 *   /intc@<gicd>      GICv2: "arm,cortex-a15-gic", reg <dist cpu>;
 *                     GICv3: "arm,gic-v3", reg <dist redist>,
 *                     #redistributor-regions 1;
 *                     both: interrupt-controller, #interrupt-cells 3,
 *                     #address-cells 2, #size-cells 2, ranges, phandle
 *   /timer            "arm,armv8-timer", interrupts: PPIs 13 (secure
 *                     physical), 14 (non-secure physical), 11 (virtual),
 *                     10 (hypervisor), level-high; with GICv2 the
 *                     CPU-mask bits ((1 << smp) - 1) << 8 (arm,gic binding)
 *                     always-on
 *   /apb-pclk         "fixed-clock", 24 MHz, "clk24mhz", phandle
 *   /pl011@<uart>     "arm,pl011", "arm,primecell", reg, interrupts
 *                     <0 uart_spi 4>, clocks <&clk &clk>,
 *                     clock-names "uartclk", "apb_pclk"
 *   /pcie@<ecam>      (when pcie_ecam_size != 0) "pci-host-ecam-generic",
 *                     device_type "pci", #address-cells 3, #size-cells 2,
 *                     #interrupt-cells 1, bus-range, linux,pci-domain 0,
 *                     reg = ECAM, ranges = I/O window (when given), 32-bit
 *                     memory window, 64-bit memory window (when given),
 *                     all identity-mapped; dma-coherent;
 *                     interrupt-map-mask <0x1800 0 0 7>; interrupt-map for
 *                     slots 0..3 x INTA..INTD: the standard swizzle, pin p
 *                     (1..4) of slot s goes to SPI
 *                     pcie_irq_spi_base + (s + p - 1) % 4, level-high
 *                     (each entry: 3 + 1 cells of child specifier, the GIC
 *                     phandle, 2 cells of GIC unit address (0 0), 3 cells
 *                     of GIC specifier: 10 cells)
 *   /iommu@<base>     (when iommu_size != 0) "mmusim,iommu-ref", reg: our
 *                     own reference IOMMU (devices/iommu_ref.h); no guest
 *                     driver exists outside mmusim's own test programs.
 *
 * Interrupt specifiers are the GIC binding's <type number flags>: type 0
 * SPI (number = GIC INTID - 32), 1 PPI (number = INTID - 16); flags 4 =
 * level-high.
 */
#ifndef MMUSIM_MACHINES_VIRT_FDT_H
#define MMUSIM_MACHINES_VIRT_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define VIRT_FDT_ERROR (virt_fdt_error_quark())
GQuark virt_fdt_error_quark(void);
typedef enum VirtFdtError {
    VIRT_FDT_ERROR_CONFIG,   /* the configuration is inconsistent */
    VIRT_FDT_ERROR_LIBFDT,   /* libfdt refused (message has its reason) */
} VirtFdtError;

/* Phandles the tree uses (fixed, so tests and tools can rely on them). */
enum { VIRT_FDT_PHANDLE_GIC = 1, VIRT_FDT_PHANDLE_CLK = 2 };

typedef struct VirtFdtConfig {
    unsigned smp;                 /* CPUs, >= 1 (at most 8 with GICv2) */
    const uint64_t *mpidr;        /* per CPU; NULL: CPU i has Aff0 = i */
    uint64_t ram_base, ram_size;
    unsigned gic_version;         /* 2 or 3 */
    uint64_t gicd_base, gicd_size;
    uint64_t gicc_base, gicc_size;   /* GICv2 CPU interface */
    uint64_t gicr_base, gicr_size;   /* GICv3 redistributors, all CPUs */
    uint64_t uart_base, uart_size;
    unsigned uart_spi;            /* SPI number (INTID - 32) */
    const char *psci_method;      /* "hvc" or "smc"; NULL: "hvc" */
    /* PCIe (ECAM size 0: no PCIe node). */
    uint64_t pcie_ecam_base, pcie_ecam_size;
    unsigned pcie_buses;          /* 1..256; ECAM needs 1 MiB per bus */
    uint64_t pcie_mmio_base, pcie_mmio_size;      /* 32-bit window (required) */
    uint64_t pcie_mmio64_base, pcie_mmio64_size;  /* 0: none */
    uint64_t pcie_pio_base, pcie_pio_size;        /* I/O window at CPU address; 0: none */
    unsigned pcie_irq_spi_base;   /* SPIs base..base+3 for INTA..INTD */
    uint64_t iommu_base, iommu_size;              /* 0: none */
    const char *bootargs;         /* NULL: no bootargs property */
    uint64_t initrd_start, initrd_end;            /* both 0: none */
} VirtFdtConfig;

/* Build the blob (g_malloc'd, fdt_pack'ed, at most 2 MiB); *size is its
 * length (fdt_totalsize). NULL with an error in VIRT_FDT_ERROR. */
void *virt_fdt_build(const VirtFdtConfig *c, size_t *size, GError **err);

#endif
