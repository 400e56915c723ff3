/*
 * The x86 pc machine (pc.h): memory map, I/O space, CPUs, local APICs and
 * the I/O APIC, the 8259 pair and the 8254, the SMM chipset logic, fw_cfg,
 * and the round-robin
 * scheduler with its virtual clock.
 */
#include "machines/pc.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "devices/debug_exit.h"
#include "devices/iommu_ref.h"
#include "devices/pci_devices.h"
#include "devices/serial_16550.h"

#define PC_ONE_MIB UINT64_C(0x100000)

/* A stub port: reads 0, writes ignored (see pc.h for which and why). */
typedef struct PcStub {
    uint16_t port;
    const char *name;
} PcStub;

static const PcStub pc_stubs[] = {
    { 0x80, "stub.port80" },  /* POST diagnostic code */
    { 0x64, "stub.port64" },  /* 8042 keyboard controller status/command */
};

/* What the machine keeps per CPU beside the CPU and its APIC. */
typedef struct PcCpuState {
    bool wait_sipi;           /* wait-for-SIPI: never run; a SIPI starts it */
    bool intr;                /* the APIC's INTR line (ApicHost.set_intr) */
    bool init_pending;        /* an INIT for the CPU that was running when it came */
    bool timer_armed;         /* call apic_timer_fire() at timer_deadline */
    uint64_t timer_deadline;  /* virtual ns */
    uint64_t tsc_lag;         /* clock - icount already added to the CPU's TSC offset */
} PcCpuState;

/* What CPU i's view maps as its APIC page: a pass-through to the APIC's own
 * register page that also notices TPR writes, so that CR8 (cpu->cr8, what
 * MOV from CR8 reads) stays TPR[7:4]. */
typedef struct PcApicPage {
    struct PcMachine *pc;
    unsigned index;
    MemRegion *mr;            /* the creator's reference */
} PcApicPage;

struct PcMachine {
    unsigned smp;
    uint64_t ram_size;
    uint64_t ram_below;       /* bytes of RAM below 4 GiB */
    uint64_t ram_above;       /* bytes of RAM from 4 GiB */

    MemRegion *system;
    MemRegion *ram;           /* the one RAM block */
    MemRegion *ram_below_alias;
    MemRegion *ram_above_alias;
    MemRegion *vga;
    MemRegion *bios;
    MemRegion *isa_bios;
    MemRegion *smram;         /* pc.ram 0xa0000-0xbffff, shown by each CPU's SMRAM window */
    AddressSpace *dma;        /* the global map alone: what devices see */
    PciHost *pci;             /* bus 0 behind the i440FX host bridge */
    IommuRef *iommu;          /* in front of every PCI bus master */
    PciDma *pci_dma;
    PciTestdev *pci_testdev;

    MemRegion *io_root;
    AddressSpace *io;
    MemRegion *stubs[G_N_ELEMENTS(pc_stubs)];
    Serial16550 *serial;
    DebugExit *debug_exit;
    I440fx *chipset;
    FwCfg *fw_cfg;

    ApicBus *apic_bus;
    Apic **apics;
    IoApic *ioapic;
    PcApicPage *apic_pages;
    MemRegionOps apic_page_ops;

    PicPair *pic;
    Pit *pit;
    bool pit_timer_armed;     /* call pit_timer_fire() at pit_deadline */
    uint64_t pit_deadline;    /* virtual ns */
    unsigned pit_futile;      /* idle skips to PIT deadlines in a row that woke nobody */

    CpuView **views;
    CpuView **data_views;   /* per CPU: the global map and its APIC, no SMRAM (D_CLS data) */
    X86Cpu **cpus;
    PcCpuState *cs;
    CodeCache *code_cache;
    X86Cpu *current;          /* the CPU being run, while one is */
    uint64_t slice_start;     /* current->icount when its slice began */
    uint64_t slice_end;       /* the virtual time its slice ends at */
    uint64_t idle_ns;         /* virtual time skipped while every CPU slept */

    bool has_kernel;          /* a multiboot kernel: boot */
    MultibootBoot boot;
    bool has_linux;           /* a Linux bzImage: linux */
    LinuxBoot lboot;

    uint64_t icount;          /* instructions retired by all CPUs */
    PcStopReason stop;
    int stop_status;
    char *stop_message;
};

/* --- Stubs and the machine's CPU hooks. --- */

static MemResult stub_read(G_GNUC_UNUSED void *opaque, G_GNUC_UNUSED uint64_t offset,
                           uint64_t *value, G_GNUC_UNUSED unsigned size,
                           G_GNUC_UNUSED MemAttrs attrs)
{
    *value = 0;
    return MEM_OK;
}

static MemResult stub_write(G_GNUC_UNUSED void *opaque, G_GNUC_UNUSED uint64_t offset,
                            G_GNUC_UNUSED uint64_t value, G_GNUC_UNUSED unsigned size,
                            G_GNUC_UNUSED MemAttrs attrs)
{
    return MEM_OK;
}

static const MemRegionOps stub_ops = {
    .read = stub_read,
    .write = stub_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
};

/* --- The virtual clock. --- */

/* Instructions retired by every CPU (1 instruction = 1 ns), the part of the
 * running CPU's slice done so far, and the time skipped while all slept. */
static uint64_t pc_clock(const PcMachine *pc)
{
    uint64_t t = pc->icount + pc->idle_ns;

    if (pc->current) {
        t += pc->current->icount - pc->slice_start;
    }
    return t;
}

/* Ask the running CPU to stop at the next instruction boundary; the
 * scheduler goes on with the rest of its turn. */
static void kick_current(PcMachine *pc)
{
    if (pc->current) {
        pc->current->exit_request = true;
        pc->current->exit_reason = X86_EXIT_REQUEST;
    }
}

/* --- SMM: SMRAM visibility per CPU. --- */

static void update_smram(PcMachine *pc, unsigned i)
{
    X86Cpu *cpu = pc->cpus ? pc->cpus[i] : NULL;
    bool in_smm = cpu && cpu->in_smm;
    uint8_t reg = i440fx_smram(pc->chipset);

    if (pc->views && pc->views[i]) {
        cpu_view_set_smram_visible(pc->views[i], i440fx_smram_visible(reg, in_smm));
    }
    /* D_CLS: in SMM, data references go through the CPU's data view, which
     * never shows SMRAM (the VGA window shows through); code still fetches
     * from the SMRAM overlay of its main view (440FX datasheet, SMRAM
     * control register: "code references may still access SMRAM"). */
    if (cpu) {
        cpu->smm_data_hidden = (reg & I440FX_SMRAM_D_CLS) != 0;
    }
}

static void update_smram_all(PcMachine *pc)
{
    mem_transaction_begin();
    for (unsigned i = 0; i < pc->smp; i++) {
        update_smram(pc, i);
    }
    mem_transaction_commit();
}

/* SMI# to CPU i (APIC SMI message, APM port). A CPU waiting for SIPI does
 * not take it (pc.h). */
static void raise_smi(PcMachine *pc, unsigned i)
{
    X86Cpu *cpu = pc->cpus ? pc->cpus[i] : NULL;

    if (cpu && !pc->cs[i].wait_sipi) {
        x86_cpu_raise_smi(cpu);
    }
}

static void chipset_smram_changed(void *opaque, G_GNUC_UNUSED uint8_t smram)
{
    update_smram_all(opaque);
}

/* A write to APM control (0xb2): the chipset asserts SMI#, which reaches
 * every processor of the board. */
static void chipset_apm_control(void *opaque, G_GNUC_UNUSED uint8_t value)
{
    PcMachine *pc = opaque;

    for (unsigned i = 0; i < pc->smp; i++) {
        raise_smi(pc, i);
    }
}

/* --- The CPU hooks. --- */

/* CR8 is TPR[7:4] (SDM Vol. 3A 10.8.6): keep cpu->cr8, what MOV from CR8
 * reads, equal to it after anything that may have changed the TPR. */
static void sync_cr8(PcMachine *pc, unsigned i)
{
    if (pc->cpus && i < pc->smp && pc->cpus[i]) {
        pc->cpus[i]->cr8 = apic_get_tpr(pc->apics[i]) >> 4;
    }
}

static int pc_pending_irq(void *machine, X86Cpu *cpu)
{
    PcMachine *pc = machine;

    return apic_take_interrupt(pc->apics[cpu->index]);
}

/* IA32_APIC_BASE and the x2APIC MSRs belong to the CPU's APIC; false for
 * the others (and for what the APIC refuses): the CPU raises #GP(0). */
static bool pc_rdmsr(void *machine, X86Cpu *cpu, uint32_t msr, uint64_t *val)
{
    PcMachine *pc = machine;

    return apic_is_apic_msr(msr) && apic_msr_read(pc->apics[cpu->index], msr, val);
}

static bool pc_wrmsr(void *machine, X86Cpu *cpu, uint32_t msr, uint64_t val)
{
    PcMachine *pc = machine;

    if (!apic_is_apic_msr(msr) || !apic_msr_write(pc->apics[cpu->index], msr, val)) {
        return false;
    }
    sync_cr8(pc, cpu->index);   /* the x2APIC TPR (0x808), or a reset by EN = 0 */
    return true;
}

/* MOV to CR8 sets the APIC's TPR (CR8[3:0] << 4, from x86_write_cr). */
static uint8_t pc_get_tpr(void *machine, X86Cpu *cpu)
{
    PcMachine *pc = machine;

    return apic_get_tpr(pc->apics[cpu->index]);
}

static void pc_set_tpr(void *machine, X86Cpu *cpu, uint8_t tpr)
{
    PcMachine *pc = machine;

    apic_set_tpr(pc->apics[cpu->index], tpr);
    sync_cr8(pc, cpu->index);
}

/* Every APIC is created with x2APIC mode available: CPUID.01H:ECX[21]. */
static bool pc_has_x2apic(G_GNUC_UNUSED void *machine, G_GNUC_UNUSED X86Cpu *cpu)
{
    return true;
}

/* CPUID.01H:EDX[9] follows IA32_APIC_BASE.EN: also set in x2APIC mode,
 * where the register page is gone from the CPU's view. */
static bool pc_apic_hw_enabled(void *machine, X86Cpu *cpu)
{
    PcMachine *pc = machine;

    return apic_hw_enabled(pc->apics[cpu->index]);
}

/* The CPU entered or left SMM: its SMRAM window follows the chipset rule. */
static void pc_smm_changed(void *machine, X86Cpu *cpu, G_GNUC_UNUSED bool in_smm)
{
    update_smram(machine, cpu->index);
}

static const X86MachineOps pc_machine_ops = {
    .pending_irq = pc_pending_irq,
    .rdmsr = pc_rdmsr,
    .wrmsr = pc_wrmsr,
    .smm_changed = pc_smm_changed,
    .get_tpr = pc_get_tpr,
    .set_tpr = pc_set_tpr,
    .has_x2apic = pc_has_x2apic,
    .apic_hw_enabled = pc_apic_hw_enabled,
};

/* The APIC page wrapper (PcApicPage): the APIC's own callbacks, plus CR8
 * kept in step with TPR writes. */
static MemRegion *apic_page_target(PcApicPage *pg)
{
    return apic_region(pg->pc->apics[pg->index]);
}

static MemResult apic_page_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                                MemAttrs attrs)
{
    MemRegion *r = apic_page_target(opaque);

    return mr_ops(r)->read(mr_opaque(r), offset, value, size, attrs);
}

static MemResult apic_page_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                                 MemAttrs attrs)
{
    PcApicPage *pg = opaque;
    MemRegion *r = apic_page_target(pg);
    MemResult res = mr_ops(r)->write(mr_opaque(r), offset, value, size, attrs);

    if (offset <= APIC_REG_TPR && offset + size > APIC_REG_TPR) {
        sync_cr8(pg->pc, pg->index);
    }
    return res;
}

/* --- The APICs' host: what the machine does for each local APIC. --- */

static X86Cpu *host_cpu(PcMachine *pc, unsigned i)
{
    return pc->cpus && i < pc->smp ? pc->cpus[i] : NULL;
}

static void apic_host_set_intr(void *opaque, unsigned i, bool level)
{
    PcMachine *pc = opaque;

    /* A halted CPU with IF=1 gets a turn while the line is up (pc.h). */
    pc->cs[i].intr = level;
    /* The CPU asks pending_irq only while the line is up. */
    X86Cpu *cpu = host_cpu(pc, i);
    if (cpu) {
        cpu->irq_line = level;
    }
}

static void apic_host_nmi(void *opaque, unsigned i)
{
    PcMachine *pc = opaque;
    X86Cpu *cpu = host_cpu(pc, i);

    if (cpu && !pc->cs[i].wait_sipi) {
        cpu->nmi_pending = true;
    }
}

static void apic_host_smi(void *opaque, unsigned i)
{
    raise_smi(opaque, i);
}

/* INIT (SDM Vol. 3A 9.1, table 9-1; 10.4.7.3): the CPU's INIT state, the
 * APIC's INIT reset; then the BSP runs from the reset vector and an AP
 * waits for SIPI (8.4: the MP initialization protocol). */
static void do_init(PcMachine *pc, unsigned i)
{
    X86Cpu *cpu = pc->cpus[i];
    Apic *a = pc->apics[i];

    x86_cpu_init(cpu);   /* leaves SMM (smm_changed hides SMRAM again) */
    apic_init_reset(a);
    if (apic_get_base_msr(a) & APIC_BASE_BSP) {
        pc->cs[i].wait_sipi = false;
        cpu->halted = false;
    } else {
        pc->cs[i].wait_sipi = true;
        cpu->halted = true;
    }
}

static void apic_host_init(void *opaque, unsigned i)
{
    PcMachine *pc = opaque;
    X86Cpu *cpu = host_cpu(pc, i);

    if (!cpu) {
        return;
    }
    if (cpu == pc->current) {
        /* A CPU sending INIT to itself is in the middle of the ICR write:
         * finish that instruction, then INIT (the scheduler does it). */
        pc->cs[i].init_pending = true;
        kick_current(pc);
        return;
    }
    do_init(pc, i);
}

/* Start-up IPI (10.6.1, 8.4.4.1): a CPU in wait-for-SIPI starts in real
 * mode at vector << 12 (CS selector vector << 8, base vector << 12, IP 0).
 * Anywhere else a SIPI is ignored (so the second SIPI of INIT-SIPI-SIPI
 * does nothing to an AP the first one started). */
static void apic_host_sipi(void *opaque, unsigned i, uint8_t vector)
{
    PcMachine *pc = opaque;
    X86Cpu *cpu = host_cpu(pc, i);

    if (!cpu || !pc->cs[i].wait_sipi) {
        return;
    }
    /* INIT left CS a real-mode code segment (limit 0xffff); only the
     * selector and base change. */
    cpu->segs[S_CS].selector = (uint16_t)(vector << 8);
    cpu->segs[S_CS].base = (uint64_t)vector << 12;
    cpu->rip = 0;
    cpu->halted = false;
    pc->cs[i].wait_sipi = false;
}

static uint64_t apic_host_clock_ns(void *opaque)
{
    return pc_clock(opaque);
}

static void apic_host_timer_set(void *opaque, unsigned i, uint64_t deadline_ns)
{
    PcMachine *pc = opaque;

    pc->cs[i].timer_armed = true;
    pc->cs[i].timer_deadline = deadline_ns;
    /* Due before the running CPU's slice ends (it wrote the initial count
     * itself): stop it now, the scheduler resumes it up to the deadline. */
    if (pc->current && deadline_ns < pc->slice_end) {
        kick_current(pc);
    }
}

static void apic_host_timer_cancel(void *opaque, unsigned i)
{
    PcMachine *pc = opaque;

    pc->cs[i].timer_armed = false;
}

static void apic_host_mmio_changed(void *opaque, unsigned i, uint64_t base, bool enabled)
{
    PcMachine *pc = opaque;

    if (!pc->views || !pc->views[i]) {
        return;
    }
    mem_transaction_begin();
    cpu_view_set_apic_base(pc->views[i], base);
    cpu_view_set_apic_enabled(pc->views[i], enabled);
    if (pc->data_views && pc->data_views[i]) {
        cpu_view_set_apic_base(pc->data_views[i], base);
        cpu_view_set_apic_enabled(pc->data_views[i], enabled);
    }
    mem_transaction_commit();
}

/* The INTA cycle of an ExtINT goes to the 8259 pair (whichever CPU takes
 * it: on PCs only the BSP's LINT0 is wired to the PIC, but an I/O APIC
 * ExtINT message may go elsewhere). */
static int apic_host_extint_ack(void *opaque, G_GNUC_UNUSED unsigned i)
{
    PcMachine *pc = opaque;

    return pc->pic ? pic_acknowledge(pc->pic) : -1;
}

static const ApicHost pc_apic_host = {
    .set_intr = apic_host_set_intr,
    .nmi = apic_host_nmi,
    .smi = apic_host_smi,
    .init = apic_host_init,
    .sipi = apic_host_sipi,
    .extint_ack = apic_host_extint_ack,
    .clock_ns = apic_host_clock_ns,
    .timer_set = apic_host_timer_set,
    .timer_cancel = apic_host_timer_cancel,
    .mmio_changed = apic_host_mmio_changed,
};

/* COM1's interrupt output is ISA IRQ 4: 8259 IRQ 4 and I/O APIC pin 4. */
static void serial_irq(void *opaque, bool level)
{
    PcMachine *pc = opaque;

    if (pc->pic) {
        pic_set_irq(pc->pic, PC_COM1_ISA_IRQ, level);
    }
    ioapic_set_irq(pc->ioapic, PC_COM1_IRQ, level);
}

/* --- The 8259 pair and the 8254. --- */

/* The master's INT output is the BSP's LINT0 (ExtINT in virtual wire
 * mode; passed straight to INTR while the APIC is hardware-disabled). */
static void pic_host_set_intr(void *opaque, bool level)
{
    PcMachine *pc = opaque;

    if (pc->apics && pc->apics[0]) {
        apic_set_lint(pc->apics[0], 0, level);
    }
}

static const PicHost pc_pic_host = {
    .set_intr = pic_host_set_intr,
};

static uint64_t pit_host_clock_ns(void *opaque)
{
    return pc_clock(opaque);
}

/* OUT0 is ISA IRQ0: 8259 IRQ 0, and I/O APIC pin 2 (the PC's interrupt
 * source override: ISA IRQ0 is GSI 2; pin 0 is the 8259's INTR). */
static void pit_host_set_irq0(void *opaque, bool level)
{
    PcMachine *pc = opaque;

    if (pc->pic) {
        pic_set_irq(pc->pic, 0, level);
    }
    ioapic_set_irq(pc->ioapic, PC_PIT_GSI, level);
}

/* The PIT's wake-up shares the scheduler's deadlines with the APIC timers. */
static void pit_host_timer_set(void *opaque, uint64_t deadline_ns)
{
    PcMachine *pc = opaque;

    pc->pit_timer_armed = true;
    pc->pit_deadline = deadline_ns;
    if (pc->current && deadline_ns < pc->slice_end) {
        kick_current(pc);
    }
}

static void pit_host_timer_cancel(void *opaque)
{
    PcMachine *pc = opaque;

    pc->pit_timer_armed = false;
}

static const PitHost pc_pit_host = {
    .clock_ns = pit_host_clock_ns,
    .set_irq0 = pit_host_set_irq0,
    .timer_set = pit_host_timer_set,
    .timer_cancel = pit_host_timer_cancel,
};

/* The guest wrote the debug-exit port: stop the CPU that did. */
static void pc_debug_exit(void *opaque, G_GNUC_UNUSED uint64_t value,
                          G_GNUC_UNUSED int64_t status, G_GNUC_UNUSED MemAttrs attrs)
{
    kick_current(opaque);
}

/* --- Construction. --- */

static bool check_config(const PcConfig *cfg, GError **err)
{
    if (cfg->smp > PC_MAX_SMP) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "pc: %u CPUs requested, must be between 1 and %u", cfg->smp, PC_MAX_SMP);
        return false;
    }
    if (cfg->ram_size && (cfg->ram_size < PC_MIN_RAM || cfg->ram_size > PC_MAX_RAM ||
                          (cfg->ram_size & 0xfff))) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "pc: memory size %" PRIu64 " bytes: must be a multiple of 4 KiB between "
                    "2 MiB and 1 TiB", cfg->ram_size);
        return false;
    }
    if (cfg->serial == PC_SERIAL_FILE && (!cfg->serial_path || !*cfg->serial_path)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "pc: serial output to a file needs a file name");
        return false;
    }
    return true;
}

static bool build_ram(PcMachine *pc, GError **err)
{
    pc->ram = mr_new_ram("pc.ram", pc->ram_size, err);
    if (!pc->ram) {
        return false;
    }
    if (!pc->ram_above) {
        return mr_add_subregion(pc->system, 0, pc->ram, err);
    }
    /* Split around the PCI hole: one host block, two windows. */
    pc->ram_below_alias = mr_new_alias("ram-below-4g", pc->ram, 0, pc->ram_below, err);
    if (!pc->ram_below_alias || !mr_add_subregion(pc->system, 0, pc->ram_below_alias, err)) {
        return false;
    }
    pc->ram_above_alias = mr_new_alias("ram-above-4g", pc->ram, pc->ram_below, pc->ram_above,
                                       err);
    return pc->ram_above_alias &&
           mr_add_subregion(pc->system, PC_ABOVE_4G_BASE, pc->ram_above_alias, err);
}

/* The built-in ROM: a signature, and at the reset vector `cli; hlt; jmp $-1`
 * (the jump goes back to the hlt, for the day an NMI wakes it). */
static void fill_builtin_bios(uint8_t *rom, uint64_t size)
{
    static const char sig[] = "mmusim built-in ROM: no --bios given; the reset vector halts";
    static const uint8_t reset[] = { 0xfa, 0xf4, 0xeb, 0xfd };

    memset(rom, 0xff, size);
    memcpy(rom, sig, sizeof(sig));
    memcpy(rom + size - 16, reset, sizeof(reset));
}

static bool build_bios(PcMachine *pc, const char *file, GError **err)
{
    uint8_t *data = NULL;
    size_t len = PC_BIOS_SIZE;

    if (file) {
        if (!multiboot_read_file(file, PC_BIOS_MAX, &data, &len, err)) {
            return false;
        }
        if (len == 0 || len % PC_BIOS_UNIT) {
            g_set_error(err, MULTIBOOT_ERROR, MB_ERROR_FORMAT,
                        "%s: BIOS image of %zu bytes: its size must be a non-zero multiple of "
                        "64 KiB (at most 16 MiB)", file, len);
            g_free(data);
            return false;
        }
    }
    pc->bios = mr_new_rom("pc.bios", len, err);
    if (!pc->bios) {
        g_free(data);
        return false;
    }
    if (data) {
        memcpy(mr_ram_ptr(pc->bios), data, len);
        g_free(data);
    } else {
        fill_builtin_bios(mr_ram_ptr(pc->bios), len);
    }
    if (!mr_add_subregion(pc->system, PC_ABOVE_4G_BASE - len, pc->bios, err)) {
        return false;
    }
    /* Its last 128 KiB (or all of it) also end at 1 MiB, for real mode. */
    uint64_t isa = MIN((uint64_t)len, PC_ISA_BIOS_MAX);

    pc->isa_bios = mr_new_alias("isa-bios", pc->bios, len - isa, isa, err);
    return pc->isa_bios &&
           mr_add_subregion_overlap(pc->system, PC_ONE_MIB - isa, pc->isa_bios, 1, err);
}

static bool build_memory(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    pc->system = mr_new_container("system", MEM_SIZE_FULL, err);
    if (!pc->system || !build_ram(pc, err)) {
        return false;
    }
    /* Plain RAM stands in for the VGA legacy window: no display is modelled. */
    pc->vga = mr_new_ram("vga.lowmem", PC_VGA_SIZE, err);
    if (!pc->vga || !mr_add_subregion_overlap(pc->system, PC_VGA_BASE, pc->vga, 1, err)) {
        return false;
    }
    /* SMRAM is the DRAM the VGA window hides: each CPU's view shows it
     * through its own window when the chipset says so. */
    pc->smram = mr_new_alias("smram", pc->ram, I440FX_SMRAM_BASE, I440FX_SMRAM_SIZE, err);
    if (!pc->smram) {
        return false;
    }
    return build_bios(pc, cfg->bios, err);
}

/* The APIC bus, one local APIC per CPU (ID = CPU index, CPU 0 the BSP),
 * and the I/O APIC in the global map. */
static bool build_interrupts(PcMachine *pc, GError **err)
{
    pc->apic_bus = apic_bus_new();
    pc->ioapic = ioapic_new(pc->apic_bus, PC_IOAPIC_ID, err);
    if (!pc->ioapic ||
        !mr_add_subregion(pc->system, PC_IOAPIC_BASE, ioapic_region(pc->ioapic), err)) {
        return false;
    }
    pc->apics = g_new0(Apic *, pc->smp);
    for (unsigned i = 0; i < pc->smp; i++) {
        ApicConfig acfg = {
            .cpu_index = i,
            .apic_id = i,
            .bsp = i == 0,
            .x2apic = true,    /* CPUID.01H:ECX[21] offers it (pc_has_x2apic) */
            .host = &pc_apic_host,
            .host_opaque = pc,
        };

        pc->apics[i] = apic_new(pc->apic_bus, &acfg, err);
        if (!pc->apics[i]) {
            return false;
        }
    }
    return true;
}

static uint32_t chipset_config_read(void *opaque, unsigned bus, unsigned dev, unsigned fn,
                                    unsigned offset, unsigned size)
{
    PcMachine *pc = opaque;
    if (!pc->pci) {
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
    return pci_config_read(pc->pci, bus, dev, fn, offset, size);
}

static void chipset_config_write(void *opaque, unsigned bus, unsigned dev, unsigned fn,
                                 unsigned offset, unsigned size, uint32_t value)
{
    PcMachine *pc = opaque;
    if (pc->pci) {
        pci_config_write(pc->pci, bus, dev, fn, offset, size, value);
    }
}

static bool build_io(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    pc->io_root = mr_new_container("io", PC_IO_SIZE, err);
    if (!pc->io_root) {
        return false;
    }
    Serial16550Config scfg = {
        .name = "serial.com1", .in_fd = -1, .irq = serial_irq, .irq_opaque = pc,
    };

    switch (cfg->serial) {
    case PC_SERIAL_STDIO:
        scfg.out = stdout;
        scfg.in_fd = 0;
        break;
    case PC_SERIAL_NONE:
        break;
    case PC_SERIAL_FILE:
        scfg.out = fopen(cfg->serial_path, "w");
        if (!scfg.out) {
            g_set_error(err, MULTIBOOT_ERROR, MB_ERROR_IO, "%s: cannot open for the serial "
                        "output: %s", cfg->serial_path, g_strerror(errno));
            return false;
        }
        scfg.close_out = true;
        break;
    }
    pc->serial = serial16550_new(&scfg, err);
    if (!pc->serial) {
        if (scfg.close_out) {
            fclose(scfg.out);
        }
        return false;
    }
    if (!mr_add_subregion(pc->io_root, PC_COM1_BASE, serial16550_region(pc->serial), err)) {
        return false;
    }
    pc->debug_exit = debug_exit_new("debug-exit", PC_DEBUG_EXIT_SIZE, pc_debug_exit, pc, err);
    if (!pc->debug_exit ||
        !mr_add_subregion(pc->io_root, PC_DEBUG_EXIT_BASE, debug_exit_region(pc->debug_exit),
                          err)) {
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(pc_stubs); i++) {
        pc->stubs[i] = mr_new_mmio(pc_stubs[i].name, 1, &stub_ops, pc, err);
        if (!pc->stubs[i] || !mr_add_subregion(pc->io_root, pc_stubs[i].port, pc->stubs[i], err)) {
            return false;
        }
    }
    /* The 8259 pair and the 8254 with port 0x61. */
    pc->pic = pic_new(&pc_pic_host, pc, err);
    if (!pc->pic ||
        !mr_add_subregion(pc->io_root, PIC_MASTER_PORT, pic_region_master(pc->pic), err) ||
        !mr_add_subregion(pc->io_root, PIC_SLAVE_PORT, pic_region_slave(pc->pic), err) ||
        !mr_add_subregion(pc->io_root, PIC_ELCR_PORT, pic_region_elcr(pc->pic), err)) {
        return false;
    }
    pc->pit = pit_new(&pc_pit_host, pc, err);
    if (!pc->pit || !mr_add_subregion(pc->io_root, PIT_PORT, pit_region(pc->pit), err) ||
        !mr_add_subregion(pc->io_root, PIT_PORT61, pit_port61_region(pc->pit), err)) {
        return false;
    }
    /* The chipset: PCI configuration mechanism #1 (host bridge with the
     * SMRAM control register) and the APM ports. */
    I440fxHooks hooks = {
        .smram_changed = chipset_smram_changed,
        .apm_control = chipset_apm_control,
        .config_read = chipset_config_read,
        .config_write = chipset_config_write,
        .opaque = pc,
    };
    pc->chipset = i440fx_new(&hooks, err);
    if (!pc->chipset ||
        !mr_add_subregion(pc->io_root, PCI_CONFIG_IO_BASE, i440fx_pci_io_region(pc->chipset),
                          err) ||
        !mr_add_subregion(pc->io_root, APM_IO_BASE, i440fx_apm_region(pc->chipset), err)) {
        return false;
    }
    /* fw_cfg: what images written for QEMU's pc look for first. */
    pc->fw_cfg = fw_cfg_new("fw_cfg", err);
    if (!pc->fw_cfg ||
        !mr_add_subregion(pc->io_root, FW_CFG_IO_BASE, fw_cfg_region(pc->fw_cfg), err)) {
        return false;
    }
    fw_cfg_add_bytes(pc->fw_cfg, FW_CFG_SIGNATURE, "QEMU", 4);
    fw_cfg_add_i32(pc->fw_cfg, FW_CFG_ID, FW_CFG_ID_TRADITIONAL);
    fw_cfg_add_i64(pc->fw_cfg, FW_CFG_RAM_SIZE, pc->ram_size);
    fw_cfg_add_i16(pc->fw_cfg, FW_CFG_NB_CPUS, (uint16_t)pc->smp);
    fw_cfg_add_i16(pc->fw_cfg, FW_CFG_MAX_CPUS, (uint16_t)pc->smp);
    pc->io = as_new("io", pc->io_root, err);
    return pc->io != NULL;
}

/* INTx: device d's pin p (0 = INTA) drives I/O APIC input 16 + ((d + p) & 3),
 * the usual PIRQ swizzle wired straight to the I/O APIC's upper inputs
 * (pc.h). */
static void pci_set_intx(void *opaque, unsigned dev, unsigned pin, bool level)
{
    PcMachine *pc = opaque;
    ioapic_set_irq(pc->ioapic, PC_PCI_GSI_BASE + ((dev + pin) & 3), level);
}

/* The PCI bus (pc.h): memory window, IOMMU, the two functions. */
static bool build_pci(PcMachine *pc, GError **err)
{
    PciHostConfig hc = {
        .name = "pci", .mem_size = PC_ABOVE_4G_BASE, .upstream = pc->system,
        .io_space = pc->io_root, .set_intx = pci_set_intx, .opaque = pc,
    };
    pc->pci = pci_host_new(&hc, err);
    if (!pc->pci ||
        !pci_host_add_window(pc->pci, pc->system, PC_PCI_HOLE_BASE, PC_PCI_HOLE_BASE,
                             PC_PCI_HOLE_END - PC_PCI_HOLE_BASE, -1, err)) {
        return false;
    }
    /* The IOMMU walks its tables in the global map and sends translated
     * cycles to the bus (so a translated address may also reach a BAR). */
    pc->iommu = iommu_ref_new(pc->dma, pci_host_bus_as(pc->pci), err);
    if (!pc->iommu || !mr_add_subregion(pc->system, PC_IOMMU_BASE, iommu_ref_regs(pc->iommu), err) ||
        !pci_host_set_iommu(pc->pci, iommu_ref_region(pc->iommu), err)) {
        return false;
    }
    pc->pci_dma = pci_dma_new(pc->pci, PC_PCI_DMA_DEV, err);
    pc->pci_testdev = pc->pci_dma ? pci_testdev_new(pc->pci, PC_PCI_TESTDEV_DEV, err) : NULL;
    return pc->pci_testdev != NULL;
}

static bool build_views(PcMachine *pc, GError **err)
{
    pc->views = g_new0(CpuView *, pc->smp);
    pc->data_views = g_new0(CpuView *, pc->smp);
    pc->apic_pages = g_new0(PcApicPage, pc->smp);
    /* The APIC's own access rules, with the pass-through callbacks. */
    pc->apic_page_ops = *mr_ops(apic_region(pc->apics[0]));
    pc->apic_page_ops.read = apic_page_read;
    pc->apic_page_ops.write = apic_page_write;
    for (unsigned i = 0; i < pc->smp; i++) {
        PcApicPage *pg = &pc->apic_pages[i];

        pg->pc = pc;
        pg->index = i;
        pg->mr = mr_new_mmio(mr_name(apic_region(pc->apics[i])),
                             mr_size(apic_region(pc->apics[i])), &pc->apic_page_ops, pg, err);
        if (!pg->mr) {
            return false;
        }

        MemRegion *apic = pg->mr;
        CpuViewConfig vcfg = {
            .cpu_index = i,
            .global_map = pc->system,
            .smram = pc->smram,
            .smram_addr = I440FX_SMRAM_BASE,
            .smram_size = I440FX_SMRAM_SIZE,
            .apic = apic,
            .apic_base = apic_mmio_base(pc->apics[i]),
        };

        mr_ref(apic);   /* the view takes this reference over (apic.h) */
        pc->views[i] = cpu_view_new(&vcfg, err);
        if (!pc->views[i]) {
            mr_unref(apic);
            return false;
        }
        cpu_view_set_apic_enabled(pc->views[i], apic_mmio_enabled(pc->apics[i]));

        /* The data view for D_CLS: same global map and APIC (an alias of the
         * CPU's APIC page, kept in step by apic_host_mmio_changed), no SMRAM. */
        g_autofree char *dname = g_strdup_printf("%s.data", mr_name(apic));
        MemRegion *apic_alias = mr_new_alias(dname, apic, 0, mr_size(apic), err);
        if (!apic_alias) {
            return false;
        }
        CpuViewConfig dcfg = {
            .cpu_index = i,
            .global_map = pc->system,
            .apic = apic_alias,
            .apic_base = apic_mmio_base(pc->apics[i]),
        };
        pc->data_views[i] = cpu_view_new(&dcfg, err);
        if (!pc->data_views[i]) {
            mr_unref(apic_alias);
            return false;
        }
        cpu_view_set_apic_enabled(pc->data_views[i], apic_mmio_enabled(pc->apics[i]));
    }
    /* Devices see the global map: no APIC page, no SMRAM. */
    pc->dma = as_new("dma", pc->system, err);
    return pc->dma != NULL && build_pci(pc, err);
}

static bool build_cpus(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    pc->code_cache = code_cache_new();
    pc->cpus = g_new0(X86Cpu *, pc->smp);
    for (unsigned i = 0; i < pc->smp; i++) {
        pc->cpus[i] = x86_cpu_new(i, pc->views[i], pc->io, pc->code_cache, &pc_machine_ops, pc,
                                  err);
        if (!pc->cpus[i]) {
            return false;
        }
        if (!tlb_set_alt_space(pc->cpus[i]->tlb, 1u << X86_MMU_SMM_DATA,
                               cpu_view_as(pc->data_views[i]), err)) {
            return false;
        }
        if (cfg->jit != PC_JIT_DEFAULT) {
            x86_cpu_set_jit(pc->cpus[i], cfg->jit == PC_JIT_OFF ? X86_JIT_OFF
                                         : cfg->jit == PC_JIT_ON ? X86_JIT_ON : X86_JIT_EAGER);
        }
        pc->cpus[i]->irq_line = pc->cs[i].intr;   /* apic_host_set_intr keeps it */
        pc->cpus[i]->trace = cfg->trace;
        pc->cpus[i]->trace_out = cfg->trace_out ? cfg->trace_out : stderr;
        /* The APs wait for INIT/SIPI. */
        pc->cs[i].wait_sipi = i != 0;
        pc->cpus[i]->halted = i != 0;
    }
    return true;
}

/* A Linux bzImage (linux_boot.h): the same RAM; the E820 map reserves the
 * VGA window and the ISA BIOS (0xa0000-0xfffff) and the BIOS ROM below
 * 4 GiB, as a PC BIOS reports them (INT 15h E820). */
static bool load_linux(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    uint8_t *host = mr_ram_ptr(pc->ram);
    LinuxRamRange ram[3];
    LinuxE820Entry e820[5];
    unsigned n_ram = 0, n_e820 = 0;

    ram[n_ram++] = (LinuxRamRange){ 0, PC_VGA_BASE, host };
    ram[n_ram++] = (LinuxRamRange){ PC_ONE_MIB, pc->ram_below - PC_ONE_MIB, host + PC_ONE_MIB };
    e820[n_e820++] = (LinuxE820Entry){ 0, PC_VGA_BASE, LB_E820_RAM };
    e820[n_e820++] = (LinuxE820Entry){ PC_VGA_BASE, PC_ONE_MIB - PC_VGA_BASE, LB_E820_RESERVED };
    e820[n_e820++] = (LinuxE820Entry){ PC_ONE_MIB, pc->ram_below - PC_ONE_MIB, LB_E820_RAM };
    e820[n_e820++] = (LinuxE820Entry){ PC_ABOVE_4G_BASE - mr_size(pc->bios), mr_size(pc->bios),
                                       LB_E820_RESERVED };
    if (pc->ram_above) {
        ram[n_ram++] = (LinuxRamRange){ PC_ABOVE_4G_BASE, pc->ram_above, host + pc->ram_below };
        e820[n_e820++] = (LinuxE820Entry){ PC_ABOVE_4G_BASE, pc->ram_above, LB_E820_RAM };
    }
    LinuxBootConfig lcfg = {
        .ram = ram,
        .n_ram = n_ram,
        .e820 = e820,
        .n_e820 = n_e820,
        .cmdline = cfg->append,
    };
    if (!linux_boot_load_files(cfg->kernel, cfg->initrd, &lcfg, &pc->lboot, err)) {
        return false;
    }
    pc->has_linux = true;
    linux_boot_cpu_setup(pc->cpus[0], &pc->lboot);
    return true;
}

/* True if the file starts like a bzImage ("HdrS" at 0x202). Only its
 * first 4 KiB are read; errors just mean "no". */
static bool file_is_bzimage(const char *path)
{
    uint8_t head[4096];
    size_t n = 0;
    FILE *f = fopen(path, "rb");

    if (f) {
        n = fread(head, 1, sizeof(head), f);
        fclose(f);
    }
    return linux_boot_is_bzimage(head, n);
}

/* The RAM a loader may write, and what the kernel is told about memory.
 * Multiboot first (unchanged behaviour); a file that is not multiboot but
 * has a Linux setup header is a bzImage. */
static bool load_kernel(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    uint8_t *host = mr_ram_ptr(pc->ram);
    MbRamRange ram[3];
    MbMemMapEntry mmap[4];
    unsigned n_ram = 0, n_mmap = 0;
    GError *mb_err = NULL;

    /* Conventional memory, then from 1 MiB (VGA and the ISA BIOS hide the rest). */
    ram[n_ram++] = (MbRamRange){ 0, PC_VGA_BASE, host };
    ram[n_ram++] = (MbRamRange){ PC_ONE_MIB, pc->ram_below - PC_ONE_MIB, host + PC_ONE_MIB };
    mmap[n_mmap++] = (MbMemMapEntry){ 0, PC_VGA_BASE, MB_MMAP_AVAILABLE };
    mmap[n_mmap++] = (MbMemMapEntry){ PC_ONE_MIB - mr_size(pc->isa_bios),
                                      mr_size(pc->isa_bios), MB_MMAP_RESERVED };
    mmap[n_mmap++] = (MbMemMapEntry){ PC_ONE_MIB, pc->ram_below - PC_ONE_MIB,
                                      MB_MMAP_AVAILABLE };
    if (pc->ram_above) {
        ram[n_ram++] = (MbRamRange){ PC_ABOVE_4G_BASE, pc->ram_above, host + pc->ram_below };
        mmap[n_mmap++] = (MbMemMapEntry){ PC_ABOVE_4G_BASE, pc->ram_above, MB_MMAP_AVAILABLE };
    }
    MultibootConfig mcfg = {
        .ram = ram,
        .n_ram = n_ram,
        .mmap = mmap,
        .n_mmap = n_mmap,
        .mem_lower_kib = (uint32_t)(PC_VGA_BASE / 1024),
        .mem_upper_kib = (uint32_t)((pc->ram_below - PC_ONE_MIB) / 1024),
        .cmdline = cfg->append,
    };
    if (!multiboot_load_files(cfg->kernel, cfg->initrd, &mcfg, &pc->boot, &mb_err)) {
        if (g_error_matches(mb_err, MULTIBOOT_ERROR, MB_ERROR_FORMAT) &&
            file_is_bzimage(cfg->kernel)) {
            g_clear_error(&mb_err);
            return load_linux(pc, cfg, err);
        }
        g_propagate_error(err, mb_err);
        return false;
    }
    pc->has_kernel = true;
    multiboot_cpu_setup(pc->cpus[0], &pc->boot);
    return true;
}

PcMachine *pc_machine_new(const PcConfig *cfg, GError **err)
{
    PcConfig defaults = { 0 };
    bool ok;

    if (!cfg) {
        cfg = &defaults;
    }
    if (!check_config(cfg, err)) {
        return NULL;
    }
    if (cfg->initrd && *cfg->initrd && !cfg->kernel) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "pc: modules (initrd) need a kernel to load them");
        return NULL;
    }

    PcMachine *pc = g_new0(PcMachine, 1);

    pc->smp = cfg->smp ? cfg->smp : 1;
    pc->ram_size = cfg->ram_size ? cfg->ram_size : PC_DEFAULT_RAM;
    pc->ram_below = MIN(pc->ram_size, PC_BELOW_4G_MAX);
    pc->ram_above = pc->ram_size - pc->ram_below;
    pc->stop_message = g_strdup("");
    pc->cs = g_new0(PcCpuState, pc->smp);

    /* One transaction: the global map renders once, each CPU adds only its
     * overlays. The I/O APIC exists before COM1 is wired to it. */
    mem_transaction_begin();
    ok = build_memory(pc, cfg, err) && build_interrupts(pc, err) && build_io(pc, cfg, err) &&
         build_views(pc, err);
    mem_transaction_commit();
    ok = ok && build_cpus(pc, cfg, err);
    if (ok) {
        /* What a BIOS leaves for the 8259 (pc.h). */
        apic_setup_virtual_wire(pc->apics[0]);
    }
    if (ok && cfg->kernel) {
        ok = load_kernel(pc, cfg, err);
    }
    if (!ok) {
        pc_machine_free(pc);
        return NULL;
    }
    return pc;
}

void pc_machine_free(PcMachine *pc)
{
    if (!pc) {
        return;
    }
    if (pc->cpus) {
        for (unsigned i = 0; i < pc->smp; i++) {
            x86_cpu_free(pc->cpus[i]);
        }
    }
    if (pc->code_cache) {
        code_cache_free(pc->code_cache);
    }
    /* The views drop their APIC page references and SMRAM windows. */
    if (pc->views) {
        for (unsigned i = 0; i < pc->smp; i++) {
            if (pc->data_views && pc->data_views[i]) {
                cpu_view_free(pc->data_views[i]);
            }
            if (pc->views[i]) {
                cpu_view_free(pc->views[i]);
            }
        }
    }
    /* The bus first (it unmaps BARs and its window), then what it used. */
    pci_host_free(pc->pci);
    pci_dma_free(pc->pci_dma);
    pci_testdev_free(pc->pci_testdev);
    if (pc->iommu) {
        if (mr_parent(iommu_ref_regs(pc->iommu))) {
            mr_del_subregion(pc->system, iommu_ref_regs(pc->iommu), NULL);
        }
        iommu_ref_free(pc->iommu);
    }
    if (pc->dma) {
        as_free(pc->dma);
    }
    if (pc->io) {
        as_free(pc->io);
    }
    /* The containers go first: nothing can reach a device once they are gone. */
    MemRegion **owned[] = {
        &pc->io_root, &pc->system, &pc->smram, &pc->isa_bios, &pc->bios, &pc->vga,
        &pc->ram_above_alias, &pc->ram_below_alias, &pc->ram,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(owned); i++) {
        mr_unref(*owned[i]);
        *owned[i] = NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(pc->stubs); i++) {
        mr_unref(pc->stubs[i]);
    }
    pit_free(pc->pit);   /* no callback: its timer request is forgotten with pc */
    pic_free(pc->pic);
    /* The APIC page wrappers (the views dropped theirs) before the APICs
     * they forward to. */
    if (pc->apic_pages) {
        for (unsigned i = 0; i < pc->smp; i++) {
            mr_unref(pc->apic_pages[i].mr);
        }
    }
    if (pc->apics) {
        for (unsigned i = 0; i < pc->smp; i++) {
            apic_free(pc->apics[i]);
        }
    }
    ioapic_free(pc->ioapic);
    if (pc->apic_bus) {
        apic_bus_free(pc->apic_bus);
    }
    i440fx_free(pc->chipset);
    fw_cfg_free(pc->fw_cfg);
    debug_exit_free(pc->debug_exit);
    serial16550_free(pc->serial);
    g_free(pc->apic_pages);
    g_free(pc->apics);
    g_free(pc->cpus);
    g_free(pc->views);
    g_free(pc->data_views);
    g_free(pc->cs);
    g_free(pc->stop_message);
    g_free(pc);
}

void pc_machine_reset(PcMachine *pc)
{
    mem_transaction_begin();
    for (unsigned i = 0; i < pc->smp; i++) {
        X86Cpu *cpu = pc->cpus[i];

        x86_cpu_reset(cpu);        /* leaves SMM */
        apic_reset(pc->apics[i]);  /* page back at 0xfee00000 (mmio_changed), timer stopped */
        pc->cs[i].init_pending = false;
        pc->cs[i].timer_armed = false;
        pc->cs[i].tsc_lag = 0;     /* RESET zeroed the TSC offset */
        pc->cs[i].wait_sipi = i != 0;
        cpu->halted = i != 0;
    }
    pit_reset(pc->pit);            /* OUT0 high, timer cancelled */
    pc->pit_timer_armed = false;
    pc->pit_futile = 0;
    pic_reset(pc->pic);            /* uninitialized: INTR low */
    ioapic_reset(pc->ioapic);
    apic_setup_virtual_wire(pc->apics[0]);   /* as at creation (pc.h) */
    i440fx_reset(pc->chipset);     /* clears D_LCK */
    pci_host_reset(pc->pci);       /* RST#: BARs unmapped, no bus mastering */
    pci_dma_reset(pc->pci_dma);
    pci_testdev_reset(pc->pci_testdev);
    iommu_ref_reset(pc->iommu);     /* translation off, fault log cleared */
    fw_cfg_reset(pc->fw_cfg);
    debug_exit_clear(pc->debug_exit);
    mem_transaction_commit();
    update_smram_all(pc);
    pc->stop = PC_STOP_NONE;
    pc->stop_status = 0;
    g_free(pc->stop_message);
    pc->stop_message = g_strdup("");
}

/* --- Running. --- */

static int G_GNUC_PRINTF(4, 5) stop(PcMachine *pc, PcStopReason reason, int status,
                                    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_free(pc->stop_message);
    pc->stop_message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    pc->stop = reason;
    pc->stop_status = status;
    serial16550_flush(pc->serial);
    return status;
}

/* Can CPU i do anything if given a turn? (pc.h, "Scheduling".) */
static bool cpu_can_run(const PcMachine *pc, unsigned i)
{
    const X86Cpu *cpu = pc->cpus[i];

    if (pc->cs[i].wait_sipi) {
        return false;
    }
    if (!cpu->halted) {
        return true;
    }
    /* What wakes a halted CPU: SMI and NMI (both held in SMM until RSM),
     * or a maskable interrupt it takes (IF=1). */
    if ((cpu->smi_pending || cpu->nmi_pending) && !cpu->in_smm) {
        return true;
    }
    return (cpu->eflags & X86_IF) && pc->cs[i].intr;
}

/* May the PIT's next OUT0 transition wake a sleeping CPU? IRQ0 must be
 * unmasked at the 8259 master or at I/O APIC pin 2, and some CPU must be
 * halted with IF=1. Beyond that the machine does not work out the whole
 * path (PIC priorities, LINT0, the redirection entry's destination, PPR):
 * it tries, and after two skips in a row to PIT transitions that woke
 * nobody (a rising edge is among any two) it stops skipping to them until
 * some CPU runs again (pit_futile). */
static bool pit_may_wake(const PcMachine *pc)
{
    bool sleeper = false;

    if (pc->pit_futile >= 2) {
        return false;
    }
    if ((pic_peek_imr(pc->pic, 0) & 1) &&
        (ioapic_redirection(pc->ioapic, PC_PIT_GSI) & IOAPIC_RTE_MASKED)) {
        return false;
    }
    for (unsigned i = 0; i < pc->smp; i++) {
        sleeper |= !pc->cs[i].wait_sipi && pc->cpus[i]->halted &&
                   (pc->cpus[i]->eflags & X86_IF);
    }
    return sleeper;
}

/* The nearest armed timer deadline (APIC timers, the PIT); `useful` keeps only timers whose
 * expiry wakes their sleeping CPU (an unmasked fixed vector above the
 * APIC's processor priority, IF=1): those are worth skipping time for. */
static bool next_deadline(const PcMachine *pc, bool useful, uint64_t *when)
{
    bool found = false;

    *when = UINT64_MAX;
    for (unsigned i = 0; i < pc->smp; i++) {
        const PcCpuState *cs = &pc->cs[i];

        if (!cs->timer_armed || cs->timer_deadline >= *when) {
            continue;
        }
        if (useful) {
            Apic *a = pc->apics[i];
            uint32_t lvt = apic_peek(a, APIC_REG_LVT_TIMER);
            unsigned v = lvt & APIC_LVT_VECTOR;

            if (cs->wait_sipi || !(pc->cpus[i]->eflags & X86_IF) || !apic_sw_enabled(a) ||
                (lvt & APIC_LVT_MASKED) || v < 16 ||
                (v & 0xf0u) <= (apic_peek(a, APIC_REG_PPR) & 0xf0u)) {
                continue;
            }
        }
        *when = cs->timer_deadline;
        found = true;
    }
    if (pc->pit_timer_armed && pc->pit_deadline < *when &&
        (!useful || pit_may_wake(pc))) {
        *when = pc->pit_deadline;
        found = true;
    }
    return found;
}

/* Fire every timer whose deadline has come (a periodic one re-arms later:
 * missed periods coalesce in the APIC). */
static void fire_timers(PcMachine *pc)
{
    uint64_t now = pc_clock(pc);

    for (unsigned i = 0; i < pc->smp; i++) {
        PcCpuState *cs = &pc->cs[i];

        for (unsigned n = 0; n < 4 && cs->timer_armed && cs->timer_deadline <= now; n++) {
            cs->timer_armed = false;
            apic_timer_fire(pc->apics[i]);
        }
    }
    for (unsigned n = 0; n < 4 && pc->pit_timer_armed && pc->pit_deadline <= now; n++) {
        pc->pit_timer_armed = false;
        pit_timer_fire(pc->pit);
    }
}

int pc_machine_run(PcMachine *pc, const PcRunLimits *lim)
{
    uint64_t quantum = lim && lim->quantum ? lim->quantum : PC_DEFAULT_QUANTUM;
    uint64_t max = lim ? lim->max_insns : 0;
    double timeout = lim ? lim->timeout : 0;
    gint64 start = g_get_monotonic_time();
    gint64 deadline = timeout > 0 ? start + (gint64)(timeout * G_USEC_PER_SEC) : 0;
    int64_t dstatus;
    unsigned stalled = 0;   /* rounds in a row without progress */

    /* A guest that finished stays finished. */
    switch (pc->stop) {
    case PC_STOP_DEBUG_EXIT:
    case PC_STOP_TRIPLE_FAULT:
        return pc->stop_status;
    default:
        break;
    }
    for (;;) {
        bool progress = false;

        if (deadline && g_get_monotonic_time() >= deadline) {
            return stop(pc, PC_STOP_TIMEOUT, PC_EXIT_TIMEOUT,
                        "timeout: %g s of wall-clock time passed (%" PRIu64
                        " instructions executed)", timeout, pc->icount);
        }
        for (unsigned i = 0; i < pc->smp; i++) {
            X86Cpu *cpu = pc->cpus[i];
            uint64_t turn = quantum;

            fire_timers(pc);
            /* A turn is cut into slices ending at timer deadlines. */
            while (turn && cpu_can_run(pc, i)) {
                uint64_t budget = turn, now = pc_clock(pc), dl;

                if (max) {
                    if (pc->icount >= max) {
                        break;   /* its turn is lost to the limit */
                    }
                    budget = MIN(budget, max - pc->icount);
                }
                if (next_deadline(pc, false, &dl) && dl <= now) {
                    fire_timers(pc);   /* due now: fire before running on */
                    if (!next_deadline(pc, false, &dl) || dl <= now) {
                        dl = UINT64_MAX;   /* (never: a fire re-arms later) */
                    }
                }
                if (dl != UINT64_MAX) {
                    budget = MIN(budget, dl - now);
                }
                /* RDTSC reads icount + tsc_offset: move the offset on by
                 * the time this CPU did not run (other CPUs' instructions,
                 * idle time), so that every TSC reads the virtual clock
                 * (plus what the guest wrote to it) and never goes back. */
                uint64_t lag = now > cpu->icount ? now - cpu->icount : 0;

                if (lag > pc->cs[i].tsc_lag) {
                    cpu->tsc_offset += lag - pc->cs[i].tsc_lag;
                    pc->cs[i].tsc_lag = lag;
                }
                sync_cr8(pc, i);
                pc->current = cpu;
                pc->slice_start = cpu->icount;
                pc->slice_end = now + budget;
                X86Exit why = x86_cpu_run(cpu, budget);
                pc->current = NULL;

                uint64_t ran = cpu->icount - pc->slice_start;

                pc->icount += ran;
                progress |= ran > 0 || !cpu->halted;
                if (pc->cs[i].init_pending) {
                    pc->cs[i].init_pending = false;
                    do_init(pc, i);
                }
                if (debug_exit_requested(pc->debug_exit, &dstatus)) {
                    /* A process exit status keeps the low 8 bits. */
                    return stop(pc, PC_STOP_DEBUG_EXIT, (int)(dstatus & 0xff),
                                "the guest wrote 0x%" PRIx64 " to the debug-exit port 0x%x: "
                                "exit status %d", (uint64_t)(dstatus >> 1), PC_DEBUG_EXIT_BASE,
                                (int)(dstatus & 0xff));
                }
                if (why == X86_EXIT_SHUTDOWN) {
                    return stop(pc, PC_STOP_TRIPLE_FAULT, PC_EXIT_TRIPLE_FAULT,
                                "triple fault on cpu%u at %04x:%08" PRIx64
                                " (after %" PRIu64 " instructions): the machine shut down",
                                i, cpu->segs[S_CS].selector, cpu->rip, pc->icount);
                }
                fire_timers(pc);
                if (why == X86_EXIT_HALTED) {
                    break;
                }
                /* The whole slice (instructions, or events delivered in an
                 * exception storm), or what ran before a stop request (a
                 * timer armed inside the slice, an INIT to itself). */
                turn -= why == X86_EXIT_QUANTUM ? budget : MIN(turn, MAX(ran, 1));
            }
        }
        serial16550_poll(pc->serial);

        bool can_run = false, waiting = false;
        uint64_t dl;

        for (unsigned i = 0; i < pc->smp; i++) {
            can_run |= cpu_can_run(pc, i);
            waiting |= !pc->cs[i].wait_sipi && pc->cpus[i]->halted &&
                       (pc->cpus[i]->eflags & X86_IF);
        }
        bool wake_timer = next_deadline(pc, true, &dl);

        if (max && pc->icount >= max && (can_run || wake_timer)) {
            return stop(pc, PC_STOP_MAX_INSNS, PC_EXIT_MAX_INSNS,
                        "instruction limit reached: %" PRIu64 " instructions executed",
                        pc->icount);
        }
        if (progress) {
            stalled = 0;
            pc->pit_futile = 0;
            continue;
        }
        /* Everyone sleeps: jump to the next timer that wakes someone. */
        if (wake_timer) {
            uint64_t now = pc_clock(pc);
            bool pit_due = pc->pit_timer_armed && pc->pit_deadline == dl;

            if (dl > now) {
                pc->idle_ns += dl - now;
            }
            fire_timers(pc);
            if (pit_due) {
                bool woke = false;

                for (unsigned i = 0; i < pc->smp; i++) {
                    woke |= cpu_can_run(pc, i);
                }
                pc->pit_futile = woke ? 0 : pc->pit_futile + 1;
            }
            continue;
        }
        /* Nothing to skip to. A CPU that looks wakeable but made no progress
         * gets one more round (a wake-up it could not act on yet); after
         * that nothing will ever change: stop. */
        if (can_run && !stalled++) {
            continue;
        }
        if (waiting) {
            return stop(pc, PC_STOP_IDLE, PC_EXIT_IDLE,
                        "all CPUs halted waiting for an interrupt, and nothing is left that "
                        "could raise one (after %" PRIu64 " instructions)", pc->icount);
        }
        return stop(pc, PC_STOP_HALTED, PC_EXIT_HALTED,
                    "all CPUs halted with interrupts off (after %" PRIu64 " instructions)",
                    pc->icount);
    }
}

PcStopReason pc_machine_stop_reason(const PcMachine *pc)
{
    return pc->stop;
}

const char *pc_machine_stop_message(const PcMachine *pc)
{
    return pc->stop_message;
}

uint64_t pc_machine_icount(const PcMachine *pc)
{
    return pc->icount;
}

unsigned pc_machine_smp(const PcMachine *pc)
{
    return pc->smp;
}

X86Cpu *pc_machine_cpu(const PcMachine *pc, unsigned i)
{
    return i < pc->smp ? pc->cpus[i] : NULL;
}

MemRegion *pc_machine_system(const PcMachine *pc)
{
    return pc->system;
}

AddressSpace *pc_machine_io(const PcMachine *pc)
{
    return pc->io;
}

const MultibootBoot *pc_machine_boot(const PcMachine *pc)
{
    return pc->has_kernel ? &pc->boot : NULL;
}

const LinuxBoot *pc_machine_linux_boot(const PcMachine *pc)
{
    return pc->has_linux ? &pc->lboot : NULL;
}

Apic *pc_machine_apic(const PcMachine *pc, unsigned i)
{
    return i < pc->smp ? pc->apics[i] : NULL;
}

IoApic *pc_machine_ioapic(const PcMachine *pc)
{
    return pc->ioapic;
}

I440fx *pc_machine_chipset(const PcMachine *pc)
{
    return pc->chipset;
}

FwCfg *pc_machine_fw_cfg(const PcMachine *pc)
{
    return pc->fw_cfg;
}

PicPair *pc_machine_pic(const PcMachine *pc)
{
    return pc->pic;
}

Pit *pc_machine_pit(const PcMachine *pc)
{
    return pc->pit;
}

PciHost *pc_machine_pci(const PcMachine *pc)
{
    return pc->pci;
}

IommuRef *pc_machine_iommu(const PcMachine *pc)
{
    return pc->iommu;
}

AddressSpace *pc_machine_dma(const PcMachine *pc)
{
    return pc->dma;
}

bool pc_machine_cpu_waiting_sipi(const PcMachine *pc, unsigned i)
{
    return i < pc->smp && pc->cs[i].wait_sipi;
}

uint64_t pc_machine_clock_ns(const PcMachine *pc)
{
    return pc_clock(pc);
}

void pc_machine_dump_tlbs(PcMachine *pc, GString *out, bool entries)
{
    for (unsigned i = 0; i < pc->smp; i++) {
        g_string_append_printf(out, "-- cpu%u --\n", i);
        tlb_dump(pc->cpus[i]->tlb, out, entries);
    }
}
