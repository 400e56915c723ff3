/*
 * The AArch64 "virt" machine (docs/arm-virt.md): the memory map and boot
 * protocol of QEMU's `virt` board, so images written for it with `-kernel`
 * run unchanged.
 *
 * Global map "system" (container, 48-bit; unassigned accesses are
 * external aborts, as on Arm):
 *   0x08000000  gic.dist     GIC distributor, 64 KiB (v2 or v3)
 *   0x08010000  (GICv2)      each CPU's own CPU interface, 8 KiB: not in the
 *                            global map but in each CPU's root, at priority
 *                            2 (cpu_view.h): the same address reaches a
 *                            different bank per CPU
 *   0x080a0000  gic.redist   GICv3 redistributors, 128 KiB per CPU
 *   0x09000000  pl011        UART, 4 KiB, SPI 1 (INTID 33)
 *   0x09050000  iommu-ref    the reference IOMMU's registers (docs/dma.md)
 *   0x10000000  pcie.window  PCI memory space, identity, to 0x3efeffff
 *   0x3f000000  pcie.ecam    ECAM for buses 0-15 (16 MiB)
 *   0x40000000  virt.ram     RAM, --memory bytes (default 128 MiB)
 * PCI bus 0: 0:01.0 pci-dma, 0:02.0 pci-testdev (devices/pci_devices.h);
 * INTx of device d, pin p is SPI 3 + ((d + p) & 3); every bus master goes
 * through the IOMMU (off at reset: identity) into the bus view (the
 * global map under the PCI memory space). No CPU-private region is ever
 * visible to DMA.
 *
 * CPUs: --smp N (1-8 with GICv2, 1-64 with GICv3), MPIDR Aff0 = N % 8
 * (v2) or N % 16 (v3), Aff1 = the quotient, as QEMU's virt. CPU 0 starts
 * at the image's entry in EL1h with the MMU off, DAIF masked, x0 = the
 * address of the generated device tree (x1-x3 = 0), as QEMU does for
 * `-kernel`; the others are off until PSCI CPU_ON. Each CPU's generic
 * timer outputs are PPIs 30 (EL1 physical) and 27 (virtual); the counter
 * runs at 62.5 MHz of the virtual clock.
 *
 * Firmware interface: PSCI 1.0 through HVC and SMC (the device tree says
 * "hvc"): PSCI_VERSION, PSCI_FEATURES, CPU_ON, CPU_OFF, CPU_SUSPEND
 * (standby: returns at once, as a wake-up), AFFINITY_INFO,
 * MIGRATE_INFO_TYPE (2: no trusted OS), SYSTEM_OFF, SYSTEM_RESET (the
 * machine resets and boots the image again; --no-reboot ends the run
 * instead). Other function IDs return NOT_SUPPORTED (-1). With
 * --semihosting, `hlt #0xf000` is Arm semihosting (machines/arm_semihosting.h).
 *
 * Time and scheduling: as on pc (machines/pc.h): a deterministic
 * round-robin of the CPUs that can run, quantum 10,000 instructions, the
 * virtual clock = instructions retired by all CPUs (1 ns each) + time
 * skipped while every CPU waits; a slice ends exactly at the next timer
 * deadline, and when every CPU waits in WFI/WFE the clock jumps to it.
 *
 * The run stops when (exit statuses):
 *   - PSCI SYSTEM_OFF: 0 (VIRT_EXIT_OFF);
 *   - semihosting SYS_EXIT: the guest's status;
 *   - every CPU is off (CPU_OFF on the last one): 0 (VIRT_EXIT_ALL_OFF);
 *   - every CPU that is on waits for an interrupt nothing is left to
 *     raise: 10 (VIRT_EXIT_IDLE);
 *   - the instruction limit: 4; the wall-clock timeout: 6;
 *   - SYSTEM_RESET with --no-reboot: 12;
 *   - a CPU takes exceptions without ever completing an instruction for a
 *     whole quantum (its vectors fault themselves, e.g. VBAR_EL1 never set
 *     and nothing at address 0): 14, with the last exception's syndrome.
 *     The architecture would loop forever; this ends it with an explanation.
 */
#ifndef MMUSIM_MACHINES_VIRT_H
#define MMUSIM_MACHINES_VIRT_H

#include <stdio.h>

#include "devices/gic.h"
#include "devices/pci.h"
#include "targets/arm/arm_cpu.h"

#define VIRT_RAM_BASE        UINT64_C(0x40000000)
#define VIRT_DEFAULT_RAM     (UINT64_C(128) << 20)
#define VIRT_MIN_RAM         (UINT64_C(16) << 20)
#define VIRT_MAX_RAM         (UINT64_C(255) << 30)
#define VIRT_GICD_BASE       UINT64_C(0x08000000)
#define VIRT_GICC_BASE       UINT64_C(0x08010000)
#define VIRT_GICR_BASE       UINT64_C(0x080a0000)
#define VIRT_UART_BASE       UINT64_C(0x09000000)
#define VIRT_UART_SPI        1u
#define VIRT_IOMMU_BASE      UINT64_C(0x09050000)
#define VIRT_PCIE_MMIO_BASE  UINT64_C(0x10000000)
#define VIRT_PCIE_MMIO_SIZE  UINT64_C(0x2eff0000)
#define VIRT_PCIE_ECAM_BASE  UINT64_C(0x3f000000)
#define VIRT_PCIE_BUSES      16u
#define VIRT_PCIE_SPI_BASE   3u
#define VIRT_PCI_DMA_DEV     1u
#define VIRT_PCI_TESTDEV_DEV 2u
#define VIRT_GIC_NIRQS       288u     /* 256 SPIs, as QEMU's virt */
#define VIRT_PPI_PHYS_TIMER  30u
#define VIRT_PPI_VIRT_TIMER  27u
#define VIRT_DEFAULT_QUANTUM 10000u

typedef enum VirtExit {
    VIRT_EXIT_OFF = 0,
    VIRT_EXIT_ALL_OFF = 0,
    VIRT_EXIT_MAX_INSNS = 4,
    VIRT_EXIT_TIMEOUT = 6,
    VIRT_EXIT_IDLE = 10,
    VIRT_EXIT_RESET = 12,
    VIRT_EXIT_EXCEPTION_LOOP = 14,
} VirtExit;

typedef enum VirtStopReason {
    VIRT_STOP_NONE = 0,
    VIRT_STOP_SYSTEM_OFF,
    VIRT_STOP_SEMIHOSTING,
    VIRT_STOP_ALL_OFF,
    VIRT_STOP_IDLE,
    VIRT_STOP_MAX_INSNS,
    VIRT_STOP_TIMEOUT,
    VIRT_STOP_RESET,
    VIRT_STOP_EXCEPTION_LOOP,
} VirtStopReason;

typedef enum VirtSerialBackend {
    VIRT_SERIAL_STDIO = 0,
    VIRT_SERIAL_NONE,
    VIRT_SERIAL_FILE,
} VirtSerialBackend;

typedef struct VirtConfig {
    unsigned smp;             /* 0 means 1 */
    uint64_t ram_size;        /* 0: VIRT_DEFAULT_RAM */
    const char *kernel;       /* required: ELF, Linux Image or raw binary */
    const char *append;       /* /chosen/bootargs and semihosting's command line */
    const char *initrd;
    unsigned gic_version;     /* 2 (default) or 3 */
    bool semihosting;
    bool no_reboot;           /* SYSTEM_RESET ends the run */
    const char *dtb_out;      /* optional: also write the generated DTB here */
    VirtSerialBackend serial;
    const char *serial_path;
    uint32_t trace;           /* ARM_TRACE_* */
    FILE *trace_out;
} VirtConfig;

typedef struct VirtRunLimits {
    uint64_t max_insns;       /* 0: none */
    double timeout;           /* wall-clock seconds; <= 0: none */
    uint64_t quantum;         /* 0: VIRT_DEFAULT_QUANTUM */
} VirtRunLimits;

typedef struct VirtMachine VirtMachine;

VirtMachine *virt_machine_new(const VirtConfig *cfg, GError **err);
void virt_machine_free(VirtMachine *vm);
int virt_machine_run(VirtMachine *vm, const VirtRunLimits *lim);
VirtStopReason virt_machine_stop_reason(const VirtMachine *vm);
const char *virt_machine_stop_message(const VirtMachine *vm);

unsigned virt_machine_smp(const VirtMachine *vm);
ArmCpu *virt_machine_cpu(const VirtMachine *vm, unsigned i);
Gic *virt_machine_gic(const VirtMachine *vm);
PciHost *virt_machine_pci(const VirtMachine *vm);
MemRegion *virt_machine_system(const VirtMachine *vm);
/* What devices see: the global map alone (no CPU's GIC interface). */
AddressSpace *virt_machine_dma(const VirtMachine *vm);
uint64_t virt_machine_clock_ns(const VirtMachine *vm);
uint64_t virt_machine_icount(const VirtMachine *vm);
uint64_t virt_machine_dtb_addr(const VirtMachine *vm);
void virt_machine_dump_tlbs(VirtMachine *vm, GString *out, bool entries);

#endif
