/*
 * The x86 pc machine (pc.h): memory map, I/O space, CPUs and the
 * round-robin scheduler.
 */
#include "machines/pc.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "devices/debug_exit.h"
#include "devices/serial_16550.h"

#define PC_ONE_MIB UINT64_C(0x100000)

/* A stub port: reads 0, writes ignored (see pc.h for which and why). */
typedef struct PcStub {
    uint16_t port;
    const char *name;
} PcStub;

static const PcStub pc_stubs[] = {
    { 0x80, "stub.port80" },  /* POST diagnostic code */
    { 0x61, "stub.port61" },  /* system control port B (speaker, refresh toggle) */
    { 0x64, "stub.port64" },  /* 8042 keyboard controller status/command */
};

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

    MemRegion *io_root;
    AddressSpace *io;
    MemRegion *stubs[G_N_ELEMENTS(pc_stubs)];
    Serial16550 *serial;
    DebugExit *debug_exit;

    CpuView **views;
    X86Cpu **cpus;
    struct X86CodeCache *code_cache;
    X86Cpu *current;          /* the CPU being run, while one is */

    bool has_kernel;
    MultibootBoot boot;

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

/* No interrupt controller yet: nothing is ever pending. */
static int pc_pending_irq(G_GNUC_UNUSED void *machine, G_GNUC_UNUSED X86Cpu *cpu)
{
    return -1;
}

/* No machine-owned MSRs yet (the APIC base MSR comes with the APIC). */
static bool pc_rdmsr(G_GNUC_UNUSED void *machine, G_GNUC_UNUSED X86Cpu *cpu,
                     G_GNUC_UNUSED uint32_t msr, G_GNUC_UNUSED uint64_t *val)
{
    return false;
}

static bool pc_wrmsr(G_GNUC_UNUSED void *machine, G_GNUC_UNUSED X86Cpu *cpu,
                     G_GNUC_UNUSED uint32_t msr, G_GNUC_UNUSED uint64_t val)
{
    return false;
}

static const X86MachineOps pc_machine_ops = {
    .pending_irq = pc_pending_irq,
    .rdmsr = pc_rdmsr,
    .wrmsr = pc_wrmsr,
};

/* The guest wrote the debug-exit port: stop the CPU that did. */
static void pc_debug_exit(void *opaque, G_GNUC_UNUSED uint64_t value,
                          G_GNUC_UNUSED int64_t status, G_GNUC_UNUSED MemAttrs attrs)
{
    PcMachine *pc = opaque;

    if (pc->current) {
        pc->current->exit_request = true;
        pc->current->exit_reason = X86_EXIT_REQUEST;
    }
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
    return build_bios(pc, cfg->bios, err);
}

static bool build_io(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    pc->io_root = mr_new_container("io", PC_IO_SIZE, err);
    if (!pc->io_root) {
        return false;
    }
    Serial16550Config scfg = { .name = "serial.com1", .in_fd = -1 };

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
    pc->io = as_new("io", pc->io_root, err);
    return pc->io != NULL;
}

static bool build_views(PcMachine *pc, GError **err)
{
    pc->views = g_new0(CpuView *, pc->smp);
    for (unsigned i = 0; i < pc->smp; i++) {
        /* No SMRAM and no APIC yet (later issues add them as overlays). */
        CpuViewConfig vcfg = { .cpu_index = i, .global_map = pc->system };

        pc->views[i] = cpu_view_new(&vcfg, err);
        if (!pc->views[i]) {
            return false;
        }
    }
    return true;
}

static bool build_cpus(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    pc->code_cache = x86_code_cache_new();
    pc->cpus = g_new0(X86Cpu *, pc->smp);
    for (unsigned i = 0; i < pc->smp; i++) {
        pc->cpus[i] = x86_cpu_new(i, pc->views[i], pc->io, pc->code_cache, &pc_machine_ops, pc,
                                  err);
        if (!pc->cpus[i]) {
            return false;
        }
        pc->cpus[i]->trace = cfg->trace;
        pc->cpus[i]->trace_out = cfg->trace_out ? cfg->trace_out : stderr;
        /* APs wait for an INIT/SIPI that nothing can send yet. */
        pc->cpus[i]->halted = i != 0;
    }
    return true;
}

/* The RAM a loader may write, and what the kernel is told about memory. */
static bool load_kernel(PcMachine *pc, const PcConfig *cfg, GError **err)
{
    uint8_t *host = mr_ram_ptr(pc->ram);
    MbRamRange ram[3];
    MbMemMapEntry mmap[4];
    unsigned n_ram = 0, n_mmap = 0;

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
    if (!multiboot_load_files(cfg->kernel, cfg->initrd, &mcfg, &pc->boot, err)) {
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

    /* One transaction: the global map renders once, each CPU adds nothing. */
    mem_transaction_begin();
    ok = build_memory(pc, cfg, err) && build_io(pc, cfg, err) && build_views(pc, err);
    mem_transaction_commit();
    ok = ok && build_cpus(pc, cfg, err);
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
        x86_code_cache_free(pc->code_cache);
    }
    if (pc->views) {
        for (unsigned i = 0; i < pc->smp; i++) {
            if (pc->views[i]) {
                cpu_view_free(pc->views[i]);
            }
        }
    }
    if (pc->io) {
        as_free(pc->io);
    }
    /* The containers go first: nothing can reach a device once they are gone. */
    MemRegion **owned[] = {
        &pc->io_root, &pc->system, &pc->isa_bios, &pc->bios, &pc->vga,
        &pc->ram_above_alias, &pc->ram_below_alias, &pc->ram,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(owned); i++) {
        mr_unref(*owned[i]);
        *owned[i] = NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(pc->stubs); i++) {
        mr_unref(pc->stubs[i]);
    }
    debug_exit_free(pc->debug_exit);
    serial16550_free(pc->serial);
    g_free(pc->cpus);
    g_free(pc->views);
    g_free(pc->stop_message);
    g_free(pc);
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

int pc_machine_run(PcMachine *pc, const PcRunLimits *lim)
{
    uint64_t quantum = lim && lim->quantum ? lim->quantum : PC_DEFAULT_QUANTUM;
    uint64_t max = lim ? lim->max_insns : 0;
    double timeout = lim ? lim->timeout : 0;
    gint64 start = g_get_monotonic_time();
    gint64 deadline = timeout > 0 ? start + (gint64)(timeout * G_USEC_PER_SEC) : 0;
    int64_t dstatus;

    /* A guest that finished stays finished. */
    switch (pc->stop) {
    case PC_STOP_DEBUG_EXIT:
    case PC_STOP_TRIPLE_FAULT:
        return pc->stop_status;
    default:
        break;
    }
    for (;;) {
        unsigned running = 0;

        if (deadline && g_get_monotonic_time() >= deadline) {
            return stop(pc, PC_STOP_TIMEOUT, PC_EXIT_TIMEOUT,
                        "timeout: %g s of wall-clock time passed (%" PRIu64
                        " instructions executed)", timeout, pc->icount);
        }
        for (unsigned i = 0; i < pc->smp; i++) {
            X86Cpu *cpu = pc->cpus[i];
            uint64_t budget = quantum;

            /* A halted CPU can only be woken by an interrupt: give it a turn
             * only when it takes them (it returns at once if none is pending). */
            if (cpu->halted && !(cpu->eflags & X86_IF)) {
                continue;
            }
            if (max) {
                if (pc->icount >= max) {
                    running += !cpu->halted;  /* its turn is lost to the limit */
                    continue;
                }
                budget = MIN(budget, max - pc->icount);
            }
            uint64_t before = cpu->icount;

            pc->current = cpu;
            X86Exit why = x86_cpu_run(cpu, budget);
            pc->current = NULL;
            pc->icount += cpu->icount - before;

            if (debug_exit_requested(pc->debug_exit, &dstatus)) {
                /* A process exit status keeps the low 8 bits. */
                return stop(pc, PC_STOP_DEBUG_EXIT, (int)(dstatus & 0xff),
                            "the guest wrote 0x%" PRIx64 " to the debug-exit port 0x%x: "
                            "exit status %d",
                            (uint64_t)(dstatus >> 1), PC_DEBUG_EXIT_BASE, (int)(dstatus & 0xff));
            }
            if (why == X86_EXIT_SHUTDOWN) {
                return stop(pc, PC_STOP_TRIPLE_FAULT, PC_EXIT_TRIPLE_FAULT,
                            "triple fault on cpu%u at %04x:%08" PRIx64
                            " (after %" PRIu64 " instructions): the machine shut down",
                            i, cpu->segs[S_CS].selector, cpu->rip, pc->icount);
            }
            if (!cpu->halted) {
                running++;
            }
        }
        serial16550_poll(pc->serial);
        if (!running) {
            bool waiting = false;

            for (unsigned i = 0; i < pc->smp; i++) {
                waiting |= pc->cpus[i]->halted && (pc->cpus[i]->eflags & X86_IF);
            }
            /* Halted everywhere. */
            if (waiting) {
                return stop(pc, PC_STOP_IDLE, PC_EXIT_IDLE,
                            "all CPUs halted waiting for an interrupt, and this machine has no "
                            "device that raises one (after %" PRIu64 " instructions)",
                            pc->icount);
            }
            return stop(pc, PC_STOP_HALTED, PC_EXIT_HALTED,
                        "all CPUs halted with interrupts off (after %" PRIu64 " instructions)",
                        pc->icount);
        }
        if (max && pc->icount >= max) {
            return stop(pc, PC_STOP_MAX_INSNS, PC_EXIT_MAX_INSNS,
                        "instruction limit reached: %" PRIu64 " instructions executed",
                        pc->icount);
        }
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

void pc_machine_dump_tlbs(PcMachine *pc, GString *out, bool entries)
{
    for (unsigned i = 0; i < pc->smp; i++) {
        g_string_append_printf(out, "-- cpu%u --\n", i);
        tlb_dump(pc->cpus[i]->tlb, out, entries);
    }
}
