/*
 * The AArch64 virt machine (virt.h): board construction, PSCI, and the
 * deterministic scheduler with its virtual clock.
 */
#include "machines/virt.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "devices/iommu_ref.h"
#include "devices/pci_devices.h"
#include "devices/pl011.h"
#include "machines/arm_boot.h"
#include "machines/arm_semihosting.h"
#include "machines/virt_fdt.h"
#include "softmmu/region.h"

/* PSCI 1.0 (Arm DEN 0022D): function IDs and return codes. */
enum {
    PSCI_VERSION = 0x84000000u,
    PSCI_CPU_SUSPEND = 0x84000001u,
    PSCI_CPU_OFF = 0x84000002u,
    PSCI_CPU_ON = 0x84000003u,
    PSCI_AFFINITY_INFO = 0x84000004u,
    PSCI_MIGRATE = 0x84000005u,
    PSCI_MIGRATE_INFO_TYPE = 0x84000006u,
    PSCI_MIGRATE_INFO_UP_CPU = 0x84000007u,
    PSCI_SYSTEM_OFF = 0x84000008u,
    PSCI_SYSTEM_RESET = 0x84000009u,
    PSCI_FEATURES = 0x8400000au,
    PSCI_64BIT = 0x40000000u,   /* SMC64 convention bit of the function ID */
};
#define PSCI_VERSION_1_0 0x00010000u
enum {
    PSCI_SUCCESS = 0,
    PSCI_NOT_SUPPORTED = -1,
    PSCI_INVALID_PARAMETERS = -2,
    PSCI_DENIED = -3,
    PSCI_ALREADY_ON = -4,
};
enum { PSCI_AFF_ON = 0, PSCI_AFF_OFF = 1 };

struct VirtMachine {
    unsigned smp;
    uint64_t ram_size;
    VirtConfig cfg;
    char *kernel, *append, *initrd, *dtb_out, *serial_path;

    MemRegion *system;
    MemRegion *ram;
    AddressSpace *dma;        /* the global map alone: what devices see */
    Gic *gic;
    Pl011 *uart;
    FILE *uart_file;          /* --serial file:PATH */
    int uart_in_fd;           /* host input for the UART (stdin with --serial stdio), or -1 */
    PciHost *pci;
    IommuRef *iommu;
    PciDma *pci_dma;
    PciTestdev *pci_testdev;
    ArmSemihosting *semi;

    CpuView **views;
    ArmCpu **cpus;
    CpuTlb **tlbs;
    CodeCache *code_cache;

    /* Boot: what to put back on SYSTEM_RESET. */
    ArmBootInfo boot;
    uint8_t *boot_image;      /* a copy of RAM's loaded bytes [kernel_low, image_end) */
    uint64_t boot_image_base, boot_image_len;
    void *dtb;
    size_t dtb_size;
    uint64_t dtb_addr;

    /* Scheduler and clock. */
    ArmCpu *current;
    uint64_t slice_start;
    uint64_t icount;
    uint64_t idle_ns;
    bool reset_requested;
    VirtStopReason stop;
    int stop_status;
    char *stop_message;
};

static void set_stop(VirtMachine *vm, VirtStopReason why, int status, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void set_stop(VirtMachine *vm, VirtStopReason why, int status, const char *fmt, ...)
{
    if (vm->stop != VIRT_STOP_NONE) {
        return;   /* the first reason wins */
    }
    va_list ap;
    va_start(ap, fmt);
    g_free(vm->stop_message);
    vm->stop_message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    vm->stop = why;
    vm->stop_status = status;
    if (vm->current) {
        vm->current->exit_request = true;
    }
}

/* --- The virtual clock --- */

static uint64_t virt_clock(const VirtMachine *vm)
{
    uint64_t t = vm->icount + vm->idle_ns;
    if (vm->current) {
        t += vm->current->icount - vm->slice_start;
    }
    return t;
}

static uint64_t ops_clock_ns(void *machine)
{
    return virt_clock(machine);
}

/* --- Interrupt wiring --- */

static void gic_out_irq(void *opaque, unsigned cpu, bool level)
{
    VirtMachine *vm = opaque;
    if (vm->cpus && cpu < vm->smp && vm->cpus[cpu]) {
        arm_cpu_set_irq(vm->cpus[cpu], level);
    }
}

static void gic_out_fiq(void *opaque, unsigned cpu, bool level)
{
    VirtMachine *vm = opaque;
    if (vm->cpus && cpu < vm->smp && vm->cpus[cpu]) {
        arm_cpu_set_fiq(vm->cpus[cpu], level);
    }
}

static void ops_timer_irq(void *machine, ArmCpu *cpu, int timer, bool level)
{
    VirtMachine *vm = machine;
    unsigned ppi = timer == ARM_TIMER_VIRT ? VIRT_PPI_VIRT_TIMER : VIRT_PPI_PHYS_TIMER;
    gic_set_ppi(vm->gic, cpu->index, ppi, level);
}

static void uart_irq(void *opaque, bool level)
{
    VirtMachine *vm = opaque;
    gic_set_spi(vm->gic, 32 + VIRT_UART_SPI, level);
}

static void pci_set_intx(void *opaque, unsigned dev, unsigned pin, bool level)
{
    VirtMachine *vm = opaque;
    gic_set_spi(vm->gic, 32 + VIRT_PCIE_SPI_BASE + ((dev + pin) & 3), level);
}

static bool ops_sysreg_read(void *machine, ArmCpu *cpu, uint32_t enc, uint64_t *val)
{
    VirtMachine *vm = machine;
    return gic_version(vm->gic) == 3 && gic_icc_read(vm->gic, cpu->index, enc, val);
}

static bool ops_sysreg_write(void *machine, ArmCpu *cpu, uint32_t enc, uint64_t val)
{
    VirtMachine *vm = machine;
    return gic_version(vm->gic) == 3 && gic_icc_write(vm->gic, cpu->index, enc, val);
}

/* --- PSCI --- */

static uint64_t mpidr_of(const VirtMachine *vm, unsigned i)
{
    unsigned cluster = vm->cfg.gic_version == 3 ? 16 : 8;
    return ((uint64_t)(i / cluster) << 8) | (i % cluster);
}

/* The CPU whose affinity (MPIDR bits 23:0 and 39:32) is `aff`, or NULL. */
static ArmCpu *cpu_by_mpidr(VirtMachine *vm, uint64_t aff)
{
    aff &= 0xff00ffffffull;
    for (unsigned i = 0; i < vm->smp; i++) {
        if (mpidr_of(vm, i) == aff) {
            return vm->cpus[i];
        }
    }
    return NULL;
}

static int64_t psci_cpu_on(VirtMachine *vm, uint64_t target, uint64_t entry, uint64_t context)
{
    ArmCpu *t = cpu_by_mpidr(vm, target);
    if (!t) {
        return PSCI_INVALID_PARAMETERS;
    }
    if (!t->powered_off) {
        return PSCI_ALREADY_ON;
    }
    /* DEN 0022D 5.6: the core starts at `entry` in the caller's exception
     * level, MMU and caches off, with x0 = context_id. */
    arm_cpu_reset(t, entry);
    t->x[0] = context;
    t->powered_off = false;
    return PSCI_SUCCESS;
}

static int64_t psci_affinity_info(VirtMachine *vm, uint64_t target, uint64_t level)
{
    if (level > 3) {
        return PSCI_INVALID_PARAMETERS;
    }
    /* Affinity levels above 0 ask whether any core of that instance is on. */
    static const uint64_t keep[4] = { 0xff00ffffffull, 0xff00ffff00ull, 0xff00ff0000ull,
                                      0xff00000000ull };
    bool found = false, on = false;
    for (unsigned i = 0; i < vm->smp; i++) {
        if ((mpidr_of(vm, i) & keep[level]) == (target & keep[level])) {
            found = true;
            on |= !vm->cpus[i]->powered_off;
        }
    }
    if (!found) {
        return PSCI_INVALID_PARAMETERS;
    }
    return on ? PSCI_AFF_ON : PSCI_AFF_OFF;
}

static bool psci_implemented(uint32_t fn)
{
    switch (fn & ~PSCI_64BIT) {
    case PSCI_VERSION: case PSCI_CPU_SUSPEND: case PSCI_CPU_OFF: case PSCI_CPU_ON:
    case PSCI_AFFINITY_INFO: case PSCI_MIGRATE_INFO_TYPE: case PSCI_SYSTEM_OFF:
    case PSCI_SYSTEM_RESET: case PSCI_FEATURES:
        return (fn & PSCI_64BIT) == 0 || (fn & ~PSCI_64BIT) == PSCI_CPU_SUSPEND ||
               (fn & ~PSCI_64BIT) == PSCI_CPU_ON || (fn & ~PSCI_64BIT) == PSCI_AFFINITY_INFO;
    default:
        return false;
    }
}

static bool ops_hvc_smc(void *machine, ArmCpu *cpu, bool smc, uint16_t imm)
{
    VirtMachine *vm = machine;
    uint32_t fn = (uint32_t)cpu->x[0];
    bool is64 = (fn & PSCI_64BIT) != 0;
    /* SMC32/HVC32 calls pass 32-bit arguments in w1..w3 (SMCCC 2.x). */
    uint64_t a1 = is64 ? cpu->x[1] : (uint32_t)cpu->x[1];
    uint64_t a2 = is64 ? cpu->x[2] : (uint32_t)cpu->x[2];
    uint64_t a3 = is64 ? cpu->x[3] : (uint32_t)cpu->x[3];
    int64_t ret = PSCI_NOT_SUPPORTED;

    (void)smc;
    if (imm != 0 || !psci_implemented(fn)) {
        /* SMCCC: unknown function IDs return NOT_SUPPORTED (-1) in x0. */
        cpu->x[0] = (uint64_t)(int64_t)PSCI_NOT_SUPPORTED;
        return true;
    }
    switch (fn & ~PSCI_64BIT) {
    case PSCI_VERSION:
        ret = PSCI_VERSION_1_0;
        break;
    case PSCI_FEATURES:
        ret = psci_implemented((uint32_t)a1) ? PSCI_SUCCESS : PSCI_NOT_SUPPORTED;
        break;
    case PSCI_CPU_SUSPEND:
        /* Standby or powerdown: modelled as a wake-up that came at once
         * (DEN 0022D 5.4.2 allows returning on any wake-up event). */
        ret = PSCI_SUCCESS;
        break;
    case PSCI_CPU_OFF:
        cpu->powered_off = true;
        cpu->exit_request = true;
        return true;   /* does not return to the caller */
    case PSCI_CPU_ON:
        ret = psci_cpu_on(vm, a1, a2, a3);
        break;
    case PSCI_AFFINITY_INFO:
        ret = psci_affinity_info(vm, a1, a2);
        break;
    case PSCI_MIGRATE_INFO_TYPE:
        ret = 2;       /* no trusted OS: migration not required */
        break;
    case PSCI_SYSTEM_OFF:
        set_stop(vm, VIRT_STOP_SYSTEM_OFF, VIRT_EXIT_OFF, "PSCI SYSTEM_OFF from CPU %u",
                 cpu->index);
        cpu->exit_request = true;
        return true;
    case PSCI_SYSTEM_RESET:
        if (vm->cfg.no_reboot) {
            set_stop(vm, VIRT_STOP_RESET, VIRT_EXIT_RESET,
                     "PSCI SYSTEM_RESET from CPU %u (--no-reboot)", cpu->index);
        } else {
            vm->reset_requested = true;
        }
        cpu->exit_request = true;
        return true;
    default:
        break;
    }
    cpu->x[0] = (uint64_t)ret;
    return true;
}

/* --- Semihosting --- */

static void semihost_exit(void *opaque, int status, const char *message)
{
    VirtMachine *vm = opaque;
    if (message) {
        set_stop(vm, VIRT_STOP_SEMIHOSTING, status, "semihosting SYS_EXIT: %s", message);
    } else {
        set_stop(vm, VIRT_STOP_SEMIHOSTING, status,
                 "semihosting SYS_EXIT: the application exited with status %d", status);
    }
}

static bool ops_semihosting(void *machine, ArmCpu *cpu)
{
    VirtMachine *vm = machine;
    return vm->semi && arm_semihosting_call(vm->semi, cpu);
}

/* With GICv3 the CPU has the ICC_* system registers (and says so in
 * ID_AA64PFR0_EL1.GIC); with GICv2 it has none: accesses are UNDEFINED. */
static const ArmMachineOps virt_arm_ops_gicv2 = {
    .hvc_smc = ops_hvc_smc,
    .semihosting = ops_semihosting,
    .clock_ns = ops_clock_ns,
    .timer_irq = ops_timer_irq,
};

static const ArmMachineOps virt_arm_ops_gicv3 = {
    .hvc_smc = ops_hvc_smc,
    .semihosting = ops_semihosting,
    .clock_ns = ops_clock_ns,
    .timer_irq = ops_timer_irq,
    .sysreg_read = ops_sysreg_read,
    .sysreg_write = ops_sysreg_write,
};

/* --- Construction --- */

static bool check_config(const VirtConfig *cfg, GError **err)
{
    unsigned gv = cfg->gic_version ? cfg->gic_version : 2;
    unsigned max = gv == 3 ? GIC_MAX_CPUS_V3 : GIC_MAX_CPUS_V2;
    uint64_t ram = cfg->ram_size ? cfg->ram_size : VIRT_DEFAULT_RAM;
    if (gv != 2 && gv != 3) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "virt: GIC version %u: must be 2 or 3", gv);
        return false;
    }
    if (cfg->smp > max) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "virt: %u CPUs: GICv%u supports at most %u", cfg->smp, gv, max);
        return false;
    }
    if (ram < VIRT_MIN_RAM || ram > VIRT_MAX_RAM || (ram & 0xfff)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "virt: RAM size 0x%" PRIx64 ": must be a multiple of 4 KiB between 16 MiB "
                    "and 255 GiB", ram);
        return false;
    }
    if (!cfg->kernel) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "virt: a --kernel image is required (there is no firmware)");
        return false;
    }
    if (cfg->serial == VIRT_SERIAL_FILE && (!cfg->serial_path || !*cfg->serial_path)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "virt: serial output to a file needs a file name");
        return false;
    }
    return true;
}

static bool build_devices(VirtMachine *vm, GError **err)
{
    GicConfig gc = {
        .version = vm->cfg.gic_version, .ncpus = vm->smp, .nirqs = VIRT_GIC_NIRQS,
        .set_irq = gic_out_irq, .set_fiq = gic_out_fiq, .opaque = vm,
    };
    vm->gic = gic_new(&gc, err);
    if (!vm->gic || !mr_add_subregion(vm->system, VIRT_GICD_BASE, gic_dist_region(vm->gic), err)) {
        return false;
    }
    if (vm->cfg.gic_version == 3 &&
        !mr_add_subregion(vm->system, VIRT_GICR_BASE, gic_redist_region(vm->gic), err)) {
        return false;
    }
    /* tx_always: images written for QEMU's virt often print without setting
     * UARTCR.UARTEN/TXE (QEMU transmits regardless), so this board does too. */
    Pl011Config uc = { .name = "pl011", .irq = uart_irq, .irq_opaque = vm, .tx_always = true };
    vm->uart_in_fd = -1;
    switch (vm->cfg.serial) {
    case VIRT_SERIAL_STDIO:
        uc.out = stdout;
        vm->uart_in_fd = STDIN_FILENO;
        break;
    case VIRT_SERIAL_NONE:
        break;
    case VIRT_SERIAL_FILE:
        vm->uart_file = fopen(vm->serial_path, "w");
        if (!vm->uart_file) {
            g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "%s: cannot open for the serial output: %s", vm->serial_path,
                        g_strerror(errno));
            return false;
        }
        uc.out = vm->uart_file;
        break;
    }
    vm->uart = pl011_new(&uc, err);
    if (!vm->uart || !mr_add_subregion(vm->system, VIRT_UART_BASE, pl011_region(vm->uart), err)) {
        return false;
    }
    /* PCI: the same host, IOMMU and functions as on pc (docs/dma.md). */
    PciHostConfig hc = {
        .name = "pcie", .mem_size = UINT64_C(1) << 32, .upstream = vm->system,
        .set_intx = pci_set_intx, .opaque = vm,
    };
    vm->pci = pci_host_new(&hc, err);
    MemRegion *ecam = vm->pci ? pci_host_ecam(vm->pci, VIRT_PCIE_BUSES, err) : NULL;
    if (!ecam || !mr_add_subregion(vm->system, VIRT_PCIE_ECAM_BASE, ecam, err) ||
        !pci_host_add_window(vm->pci, vm->system, VIRT_PCIE_MMIO_BASE, VIRT_PCIE_MMIO_BASE,
                             VIRT_PCIE_MMIO_SIZE, -1, err)) {
        return false;
    }
    vm->iommu = iommu_ref_new(vm->dma, pci_host_bus_as(vm->pci), err);
    if (!vm->iommu ||
        !mr_add_subregion(vm->system, VIRT_IOMMU_BASE, iommu_ref_regs(vm->iommu), err) ||
        !pci_host_set_iommu(vm->pci, iommu_ref_region(vm->iommu), err)) {
        return false;
    }
    vm->pci_dma = pci_dma_new(vm->pci, VIRT_PCI_DMA_DEV, err);
    vm->pci_testdev = vm->pci_dma ? pci_testdev_new(vm->pci, VIRT_PCI_TESTDEV_DEV, err) : NULL;
    return vm->pci_testdev != NULL;
}

static bool build_cpus(VirtMachine *vm, GError **err)
{
    vm->views = g_new0(CpuView *, vm->smp);
    vm->cpus = g_new0(ArmCpu *, vm->smp);
    vm->tlbs = g_new0(CpuTlb *, vm->smp);
    vm->code_cache = code_cache_new();
    for (unsigned i = 0; i < vm->smp; i++) {
        /* GICv2: this CPU's own CPU interface, banked at one address, is the
         * view's CPU-local overlay (the slot x86 uses for its APIC page). */
        CpuViewConfig vc = { .cpu_index = i, .global_map = vm->system };
        if (vm->cfg.gic_version == 2) {
            vc.apic = gic_cpuif_region(vm->gic, i);
            vc.apic_base = VIRT_GICC_BASE;
            mr_ref(vc.apic);
        }
        vm->views[i] = cpu_view_new(&vc, err);
        if (!vm->views[i]) {
            if (vc.apic) {
                mr_unref(vc.apic);
            }
            return false;
        }
        if (vc.apic) {
            cpu_view_set_apic_enabled(vm->views[i], true);
        }
    }
    for (unsigned i = 0; i < vm->smp; i++) {
        const ArmMachineOps *ops =
            vm->cfg.gic_version == 3 ? &virt_arm_ops_gicv3 : &virt_arm_ops_gicv2;
        vm->cpus[i] = arm_cpu_new(i, vm->views[i], vm->code_cache, ops, vm, err);
        if (!vm->cpus[i]) {
            return false;
        }
        vm->tlbs[i] = vm->cpus[i]->tlb;
        vm->cpus[i]->trace = vm->cfg.trace;
        vm->cpus[i]->trace_out = vm->cfg.trace_out ? vm->cfg.trace_out : stderr;
    }
    for (unsigned i = 0; i < vm->smp; i++) {
        vm->cpus[i]->peers = vm->tlbs;
        vm->cpus[i]->n_peers = vm->smp;
        vm->cpus[i]->peer_cpus = vm->cpus;   /* SEV reaches every CPU */
        vm->cpus[i]->n_peer_cpus = vm->smp;
    }
    return true;
}

/* Load the image and the DTB into RAM and remember them for SYSTEM_RESET. */
static bool build_boot(VirtMachine *vm, GError **err)
{
    uint8_t *ram = mr_ram_ptr(vm->ram);
    if (!arm_boot_load(vm->kernel, vm->initrd, ram, VIRT_RAM_BASE, vm->ram_size, &vm->boot, err)) {
        return false;
    }
    g_autofree uint64_t *mpidr = g_new0(uint64_t, vm->smp);
    for (unsigned i = 0; i < vm->smp; i++) {
        mpidr[i] = mpidr_of(vm, i);
    }
    VirtFdtConfig fc = {
        .smp = vm->smp, .mpidr = mpidr,
        .ram_base = VIRT_RAM_BASE, .ram_size = vm->ram_size,
        .gic_version = vm->cfg.gic_version,
        .gicd_base = VIRT_GICD_BASE, .gicd_size = GIC_DIST_SIZE,
        .gicc_base = VIRT_GICC_BASE, .gicc_size = GIC_CPUIF_SIZE,
        .gicr_base = VIRT_GICR_BASE, .gicr_size = (uint64_t)vm->smp * GIC_REDIST_STRIDE,
        .uart_base = VIRT_UART_BASE, .uart_size = 0x1000, .uart_spi = VIRT_UART_SPI,
        .psci_method = "hvc",
        .pcie_ecam_base = VIRT_PCIE_ECAM_BASE,
        .pcie_ecam_size = (uint64_t)VIRT_PCIE_BUSES * PCI_ECAM_BUS_SIZE,
        .pcie_buses = VIRT_PCIE_BUSES,
        .pcie_mmio_base = VIRT_PCIE_MMIO_BASE, .pcie_mmio_size = VIRT_PCIE_MMIO_SIZE,
        .pcie_irq_spi_base = VIRT_PCIE_SPI_BASE,
        .iommu_base = VIRT_IOMMU_BASE, .iommu_size = 0x1000,
        .bootargs = vm->append,
        .initrd_start = vm->boot.initrd_size ? vm->boot.initrd_start : 0,
        .initrd_end = vm->boot.initrd_size ? vm->boot.initrd_start + vm->boot.initrd_size : 0,
    };
    vm->dtb = virt_fdt_build(&fc, &vm->dtb_size, err);
    if (!vm->dtb) {
        return false;
    }
    if (!arm_boot_dtb_addr(&vm->boot, VIRT_RAM_BASE, vm->ram_size, vm->dtb_size, &vm->dtb_addr,
                           err)) {
        return false;
    }
    memcpy(ram + (vm->dtb_addr - VIRT_RAM_BASE), vm->dtb, vm->dtb_size);
    if (vm->dtb_out && !g_file_set_contents(vm->dtb_out, vm->dtb, (gssize)vm->dtb_size, err)) {
        return false;
    }
    /* Keep the loaded bytes: SYSTEM_RESET puts them back (the guest may have
     * overwritten its own image and data). */
    vm->boot_image_base = vm->boot.kernel_low;
    uint64_t end = vm->boot.kernel_high;
    if (vm->boot.initrd_size) {
        end = MAX(end, vm->boot.initrd_start + vm->boot.initrd_size);
    }
    vm->boot_image_len = end - vm->boot_image_base;
    vm->boot_image = g_memdup2(ram + (vm->boot_image_base - VIRT_RAM_BASE), vm->boot_image_len);
    return true;
}

static void start_boot_cpu(VirtMachine *vm)
{
    for (unsigned i = 0; i < vm->smp; i++) {
        ArmCpu *c = vm->cpus[i];
        c->mpidr_el1 = (UINT64_C(1) << 31) | mpidr_of(vm, i);
        arm_cpu_reset(c, vm->boot.entry);
        c->powered_off = i != 0;
    }
    vm->cpus[0]->x[0] = vm->dtb_addr;   /* Linux booting.rst: x0 = DTB, x1-x3 = 0 */
}

VirtMachine *virt_machine_new(const VirtConfig *cfg, GError **err)
{
    if (!cfg || !check_config(cfg, err)) {
        if (!cfg) {
            g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "virt: no configuration");
        }
        return NULL;
    }
    VirtMachine *vm = g_new0(VirtMachine, 1);
    vm->cfg = *cfg;
    vm->cfg.gic_version = cfg->gic_version ? cfg->gic_version : 2;
    vm->smp = cfg->smp ? cfg->smp : 1;
    vm->ram_size = cfg->ram_size ? cfg->ram_size : VIRT_DEFAULT_RAM;
    vm->kernel = g_strdup(cfg->kernel);
    vm->append = g_strdup(cfg->append ? cfg->append : "");
    vm->initrd = g_strdup(cfg->initrd);
    vm->dtb_out = g_strdup(cfg->dtb_out);
    vm->serial_path = g_strdup(cfg->serial_path);
    vm->stop_message = g_strdup("");

    mem_transaction_begin();
    bool ok = (vm->system = mr_new_container("system", UINT64_C(1) << 48, err)) &&
              (vm->ram = mr_new_ram("virt.ram", vm->ram_size, err)) &&
              mr_add_subregion(vm->system, VIRT_RAM_BASE, vm->ram, err) &&
              (vm->dma = as_new("dma", vm->system, err)) && build_devices(vm, err) &&
              build_cpus(vm, err);
    mem_transaction_commit();
    if (ok && cfg->semihosting) {
        ArmSemihostingHost sh = {
            .out = stdout, .in_fd = -1, .cmdline = vm->append,
            .clock_ns = ops_clock_ns, .exit = semihost_exit, .opaque = vm,
        };
        arm_semihosting_default_layout(&sh, VIRT_RAM_BASE, vm->ram_size);
        vm->semi = arm_semihosting_new(&sh);
    }
    ok = ok && build_boot(vm, err);
    if (!ok) {
        virt_machine_free(vm);
        return NULL;
    }
    start_boot_cpu(vm);
    return vm;
}

void virt_machine_free(VirtMachine *vm)
{
    if (!vm) {
        return;
    }
    if (vm->cpus) {
        for (unsigned i = 0; i < vm->smp; i++) {
            arm_cpu_free(vm->cpus[i]);
        }
    }
    if (vm->code_cache) {
        code_cache_free(vm->code_cache);
    }
    if (vm->views) {
        for (unsigned i = 0; i < vm->smp; i++) {
            cpu_view_free(vm->views[i]);
        }
    }
    pci_host_free(vm->pci);
    pci_dma_free(vm->pci_dma);
    pci_testdev_free(vm->pci_testdev);
    if (vm->iommu) {
        if (mr_parent(iommu_ref_regs(vm->iommu))) {
            mr_del_subregion(vm->system, iommu_ref_regs(vm->iommu), NULL);
        }
        iommu_ref_free(vm->iommu);
    }
    if (vm->dma) {
        as_free(vm->dma);
    }
    if (vm->system) {
        mr_unref(vm->system);
    }
    if (vm->ram) {
        mr_unref(vm->ram);
    }
    if (vm->uart) {
        pl011_flush(vm->uart);
        pl011_free(vm->uart);
    }
    if (vm->uart_file) {
        fclose(vm->uart_file);
    }
    gic_free(vm->gic);
    arm_semihosting_free(vm->semi);
    g_free(vm->views);
    g_free(vm->cpus);
    g_free(vm->tlbs);
    g_free(vm->boot_image);
    g_free(vm->dtb);
    g_free(vm->kernel);
    g_free(vm->append);
    g_free(vm->initrd);
    g_free(vm->dtb_out);
    g_free(vm->serial_path);
    g_free(vm->stop_message);
    g_free(vm);
}

/* PSCI SYSTEM_RESET: devices and CPUs to their reset state, RAM's loaded
 * bytes and the DTB put back, CPU 0 started again. */
static void machine_reset(VirtMachine *vm)
{
    uint8_t *ram = mr_ram_ptr(vm->ram);
    mem_transaction_begin();
    /* The timers restart disabled: drop their lines (the GIC keeps input
     * levels over its reset). */
    for (unsigned i = 0; i < vm->smp; i++) {
        gic_set_ppi(vm->gic, i, VIRT_PPI_PHYS_TIMER, false);
        gic_set_ppi(vm->gic, i, VIRT_PPI_VIRT_TIMER, false);
    }
    gic_reset(vm->gic);
    pl011_reset(vm->uart);
    pci_host_reset(vm->pci);
    pci_dma_reset(vm->pci_dma);
    pci_testdev_reset(vm->pci_testdev);
    iommu_ref_reset(vm->iommu);
    mem_transaction_commit();
    /* Through mr_note_write so cached code of the old image is dropped. */
    mr_note_write(vm->ram, vm->boot_image_base - VIRT_RAM_BASE, vm->boot_image_len);
    memcpy(ram + (vm->boot_image_base - VIRT_RAM_BASE), vm->boot_image, vm->boot_image_len);
    mr_note_write(vm->ram, vm->dtb_addr - VIRT_RAM_BASE, vm->dtb_size);
    memcpy(ram + (vm->dtb_addr - VIRT_RAM_BASE), vm->dtb, vm->dtb_size);
    for (unsigned i = 0; i < vm->smp; i++) {
        tlb_flush(vm->tlbs[i]);
    }
    start_boot_cpu(vm);
}

/* --- Running --- */

/* Host input for the UART: whatever stdin has ready now, without waiting
 * (between quanta, so a run stays deterministic for a given input timing).
 * End of file or an error stops the polling. */
static void poll_uart_input(VirtMachine *vm)
{
    if (vm->uart_in_fd < 0) {
        return;
    }
    struct pollfd pfd = { .fd = vm->uart_in_fd, .events = POLLIN };
    if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLIN | POLLHUP))) {
        return;
    }
    uint8_t buf[256];
    ssize_t n = read(vm->uart_in_fd, buf, sizeof(buf));
    if (n <= 0) {
        vm->uart_in_fd = -1;
        return;
    }
    pl011_push_input(vm->uart, buf, (size_t)n);
}

/* The CPU's own wake-up rule (arm_cpu.c): an interrupt line wakes WFI and
 * WFE, the event register only WFE (D1.16). */
static bool can_run(const ArmCpu *c)
{
    return !c->powered_off &&
           (!c->halted || c->irq_line || c->fiq_line || (c->wfe_halt && c->event_reg));
}

/* Earliest future timer deadline of any CPU that is on, or UINT64_MAX. */
static uint64_t next_deadline(VirtMachine *vm, uint64_t now)
{
    uint64_t dl = UINT64_MAX;
    for (unsigned i = 0; i < vm->smp; i++) {
        ArmCpu *c = vm->cpus[i];
        if (c->powered_off) {
            continue;
        }
        uint64_t d = arm_timer_next_deadline_ns(c);
        if (d > now && d < dl) {
            dl = d;
        }
    }
    return dl;
}

static void update_timers(VirtMachine *vm)
{
    for (unsigned i = 0; i < vm->smp; i++) {
        if (!vm->cpus[i]->powered_off) {
            arm_timer_update(vm->cpus[i]);
        }
    }
}

int virt_machine_run(VirtMachine *vm, const VirtRunLimits *lim)
{
    VirtRunLimits none = { 0 };
    if (!lim) {
        lim = &none;
    }
    uint64_t quantum = lim->quantum ? lim->quantum : VIRT_DEFAULT_QUANTUM;
    gint64 t0 = g_get_monotonic_time();

    while (vm->stop == VIRT_STOP_NONE) {
        if (lim->timeout > 0 && (double)(g_get_monotonic_time() - t0) / 1e6 > lim->timeout) {
            set_stop(vm, VIRT_STOP_TIMEOUT, VIRT_EXIT_TIMEOUT,
                     "timeout: %g s of wall-clock time passed (%" PRIu64
                     " instructions executed)", lim->timeout, vm->icount);
            break;
        }
        bool ran = false, any_on = false;
        poll_uart_input(vm);
        for (unsigned i = 0; i < vm->smp && vm->stop == VIRT_STOP_NONE; i++) {
            ArmCpu *c = vm->cpus[i];
            any_on |= !c->powered_off;
            if (!can_run(c)) {
                continue;
            }
            uint64_t now = virt_clock(vm);
            uint64_t budget = quantum;
            uint64_t dl = next_deadline(vm, now);
            if (dl != UINT64_MAX) {
                budget = MIN(budget, dl - now);
            }
            if (lim->max_insns) {
                if (vm->icount >= lim->max_insns) {
                    break;
                }
                budget = MIN(budget, lim->max_insns - vm->icount);
            }
            vm->current = c;
            vm->slice_start = c->icount;
            ArmExit why = arm_cpu_run(c, budget);
            uint64_t retired = c->icount - vm->slice_start;
            vm->icount += retired;
            vm->current = NULL;
            c->exit_request = false;
            ran = true;
            if (retired == 0 && budget >= 1000 && why == ARM_EXIT_QUANTUM &&
                vm->stop == VIRT_STOP_NONE && !vm->reset_requested) {
                /* A whole quantum of exception entries and no instruction:
                 * every vector faults at once (virt.h). */
                set_stop(vm, VIRT_STOP_EXCEPTION_LOOP, VIRT_EXIT_EXCEPTION_LOOP,
                         "cpu%u: exception loop: %" PRIu64 " exceptions in a row and no "
                         "instruction completed; the last: ESR_EL1 0x%08" PRIx64 " (EC 0x%02x) "
                         "FAR_EL1 0x%" PRIx64 " ELR_EL1 0x%" PRIx64 ", VBAR_EL1 0x%" PRIx64,
                         c->index, budget, c->esr_el1, (unsigned)(c->esr_el1 >> 26) & 0x3f,
                         c->far_el1, c->elr_el1, c->vbar_el1);
                break;
            }
            update_timers(vm);
            if (vm->reset_requested) {
                vm->reset_requested = false;
                machine_reset(vm);
                break;
            }
        }
        if (vm->stop != VIRT_STOP_NONE) {
            break;
        }
        if (lim->max_insns && vm->icount >= lim->max_insns) {
            set_stop(vm, VIRT_STOP_MAX_INSNS, VIRT_EXIT_MAX_INSNS,
                     "instruction limit reached: %" PRIu64 " instructions executed", vm->icount);
            break;
        }
        if (ran) {
            continue;
        }
        if (!any_on) {
            set_stop(vm, VIRT_STOP_ALL_OFF, VIRT_EXIT_ALL_OFF,
                     "every CPU is off (PSCI CPU_OFF) after %" PRIu64 " instructions",
                     vm->icount);
            break;
        }
        /* Everyone that is on waits: jump the clock to the next timer. */
        uint64_t now = virt_clock(vm);
        uint64_t dl = next_deadline(vm, now);
        if (dl == UINT64_MAX) {
            set_stop(vm, VIRT_STOP_IDLE, VIRT_EXIT_IDLE,
                     "idle: every running CPU waits for an interrupt and nothing is left to "
                     "raise one (%" PRIu64 " instructions executed)", vm->icount);
            break;
        }
        vm->idle_ns += dl - now;
        update_timers(vm);
    }
    if (vm->uart) {
        pl011_flush(vm->uart);
    }
    fflush(stdout);
    return vm->stop_status;
}

VirtStopReason virt_machine_stop_reason(const VirtMachine *vm)
{
    return vm->stop;
}

const char *virt_machine_stop_message(const VirtMachine *vm)
{
    return vm->stop_message;
}

unsigned virt_machine_smp(const VirtMachine *vm)
{
    return vm->smp;
}

ArmCpu *virt_machine_cpu(const VirtMachine *vm, unsigned i)
{
    return i < vm->smp ? vm->cpus[i] : NULL;
}

Gic *virt_machine_gic(const VirtMachine *vm)
{
    return vm->gic;
}

PciHost *virt_machine_pci(const VirtMachine *vm)
{
    return vm->pci;
}

MemRegion *virt_machine_system(const VirtMachine *vm)
{
    return vm->system;
}

AddressSpace *virt_machine_dma(const VirtMachine *vm)
{
    return vm->dma;
}

uint64_t virt_machine_clock_ns(const VirtMachine *vm)
{
    return virt_clock(vm);
}

uint64_t virt_machine_icount(const VirtMachine *vm)
{
    return vm->icount;
}

uint64_t virt_machine_dtb_addr(const VirtMachine *vm)
{
    return vm->dtb_addr;
}

void virt_machine_dump_tlbs(VirtMachine *vm, GString *out, bool entries)
{
    for (unsigned i = 0; i < vm->smp; i++) {
        g_string_append_printf(out, "--- CPU %u ---\n", i);
        tlb_dump(vm->tlbs[i], out, entries);
    }
}
