/*
 * The x86 "pc" machine: enough of a PC to run multiboot kernels, Linux
 * bzImages (32-bit boot protocol, machines/linux_boot.h) and ROM images, SMP guests and SMM firmware code. Not modelled yet: the RTC/CMOS,
 * PCI-to-PCI bridges, MSI, PAM shadowing, ACPI.
 *
 * Global map "system" (container, whole 64-bit space; unassigned reads
 * return all-ones, as on PCs) -- what every CPU sees at priority 0 and what
 * device (DMA) accesses see, through the "dma" address space:
 *   pc.ram        RAM at 0, --memory bytes (default 128 MiB). Above
 *                 3.5 GiB it is split around the PCI hole: pc.ram is then
 *                 one host block shown by two aliases, ram-below-4g
 *                 (0-0xdfffffff) and ram-above-4g (from 4 GiB).
 *   vga.lowmem    RAM 0xa0000-0xbffff, prio 1: a plain-RAM stand-in for the
 *                 VGA legacy window (no display is modelled).
 *   ioapic        the I/O APIC (devices/ioapic.h) at 0xfec00000, 4 KiB.
 *   pci.window    prio -1: the PCI memory space (devices/pci.h) shown at the
 *                 same addresses 0xe0000000-0xfebfffff (the PCI hole). BARs
 *                 the guest programs there appear to CPUs and to bus masters.
 *   iommu-ref     the reference IOMMU's registers (devices/iommu_ref.h) at
 *                 0xfed90000, 32 bytes. It translates every PCI bus master's
 *                 cycles (off at reset: identity); it walks its tables in
 *                 the global map and sends translated cycles to the PCI
 *                 bus view (global map under the PCI memory space).
 *   pc.bios       ROM ending at 4 GiB: --bios FILE (a multiple of 64 KiB, at
 *                 most 16 MiB), else a built-in 128 KiB ROM whose reset
 *                 vector (0xfffffff0) runs `cli; hlt` and jumps back to the
 *                 hlt forever.
 *   isa-bios      alias of the last 128 KiB of pc.bios (all of it if it is
 *                 smaller) ending at 1 MiB (0xe0000 for 128 KiB), prio 1.
 *
 * Each CPU's own root (softmmu/cpu_view.h) adds, above the global map:
 *   cpuN-smram    prio 1: alias of "smram" (pc.ram's bytes 0xa0000-0xbffff,
 *                 the DRAM the VGA window hides) at 0xa0000, shown exactly
 *                 while CPU N should see SMRAM: i440fx_smram_visible(SMRAM
 *                 control register, CPU N in SMM) (devices/i440fx_smram.h).
 *   apic.cpuN     prio 2: CPU N's local APIC page (devices/apic.h) at its
 *                 IA32_APIC_BASE (default 0xfee00000), moved and shown/hidden
 *                 per CPU through the MSR (WRMSR 0x1b). Nobody else sees it.
 * The "dma" address space is the global map alone: devices never see an
 * APIC page or SMRAM.
 *
 * I/O space "io" (container, 64 KiB; unassigned ports read all-ones):
 *   0x3f8-0x3ff   serial.com1: 16550A UART; its interrupt output (OUT2-
 *                 gated) is ISA IRQ 4: 8259 IRQ 4 and I/O APIC pin 4
 *   0x20-0x21     pic.master } the 8259A pair (devices/pic8259.h), power-up
 *   0xa0-0xa1     pic.slave  } state (uninitialized: the guest programs
 *   0x4d0-0x4d1   pic.elcr   } it); the master's INT drives the BSP's LINT0
 *   0x40-0x43     pit: the 8254 (devices/pit8254.h), power-up state,
 *                 clocked by the virtual clock; OUT0 is ISA IRQ0: 8259
 *                 IRQ 0 and I/O APIC pin 2 (GSI 2, the PC's override)
 *   0x61          pit.port61: system control port B (counter 2 gate and
 *                 OUT, speaker enable, refresh toggle)
 *   0xf4-0xf7     debug-exit: a write of v ends the run with status (v<<1)|1
 *   0xb2-0xb3     apm: APM control (a write raises an SMI on every CPU not
 *                 waiting for SIPI: SMI# is one board signal wired to all
 *                 processors) and APM status (scratch)
 *   0x510-0x511   fw_cfg: QEMU's firmware configuration interface
 *                 (devices/fw_cfg.h): signature "QEMU", ID 1 (no DMA), RAM
 *                 size (key 3, 64-bit), CPU count (key 5) and max CPUs (key
 *                 0xf, 16-bit)
 *   0xcf8-0xcff   pci-conf: PCI configuration mechanism #1: the i440FX host
 *                 bridge 0:0.0 (8086:1237, SMRAM control at 0x72) and bus 0
 *                 behind it (devices/pci.h): 0:04.0 pci-dma (6d6d:0001, the
 *                 DMA engine as a bus master, BAR0 4 KiB) and 0:05.0
 *                 pci-testdev (6d6d:0002, a frame-buffer-like BAR0 holding
 *                 banked VRAM and registers, BAR2 64-bit VRAM); other
 *                 functions read all-ones. Their I/O BARs (none yet) would
 *                 go in this space. INTx of device d pin p drives I/O APIC
 *                 input 16 + ((d + p) & 3). Bus masters never see a CPU's
 *                 APIC page or SMRAM.
 *   0x80          stub.port80: POST code port       } stubs: reads 0,
 *   0x64          stub.port64: 8042 status/command  } writes ignored
 * (0x64 reading 0 means "8042 input buffer empty", so guests that wait for
 * the keyboard controller go on.)
 *
 * CPUs: --smp N (1..64), each on its own CpuView of the global map, all
 * sharing one decoded-code cache, each with its local APIC (APIC ID = CPU
 * index; CPU 0 is the BSP: IA32_APIC_BASE.BSP set). The APICs and the I/O
 * APIC share one APIC bus. CPU 0 starts from the reset vector, or, with a
 * kernel, directly in the multiboot entry state: the BIOS is not run (as
 * QEMU's pc does with its multiboot option ROM). --kernel is tried as a
 * multiboot image first; a file without a multiboot header but with a
 * Linux setup header ("HdrS" at 0x202) is loaded as a bzImage and CPU 0
 * starts at its 32-bit entry (linux_boot.h; --initrd is then one file).
 * Its E820 map: RAM 0-0x9ffff, reserved 0xa0000-0xfffff (VGA window and
 * ISA BIOS), RAM from 1 MiB to the PCI hole (or the end of RAM), reserved
 * for the BIOS ROM below 4 GiB, RAM above 4 GiB if any. The other CPUs (APs) wait
 * for SIPI: they do not run until an INIT and a start-up IPI arrive; a
 * SIPI with vector V starts one in real mode at V << 12 (CS = V << 8, IP =
 * 0). An INIT makes an AP wait for SIPI again, and restarts the BSP at the
 * reset vector. NMIs and SMIs sent to a CPU that waits for SIPI are dropped
 * (a choice: it is not executing, and the SIPI start-up state must not be
 * preempted by an SMI latched long before).
 * MSRs: IA32_APIC_BASE (0x1b) and the x2APIC range (0x800-0x8ff) go to the
 * CPU's APIC. x2APIC mode is offered (CPUID.01H:ECX[21]); entering it
 * (WRMSR 0x1b with EN and EXTD) removes the APIC page from that CPU's view
 * (the addresses show what lies beneath) and the registers are MSRs.
 * CPUID.01H:EDX[9] (APIC) follows IA32_APIC_BASE.EN, in either mode.
 * CR8 is the APIC's TPR[7:4] (10.8.6): MOV to CR8 sets TPR = CR8 << 4; the
 * CPU's cr8 follows every TPR change (page, MSR, CR8, reset).
 *
 * Legacy interrupts: the 8259 master's INT output is the BSP's LINT0, and
 * an ExtINT's INTA cycle (apic_take_interrupt) is pic_acknowledge(). LINT1
 * is not driven (no NMI sources). At creation and at pc_machine_reset() the
 * BSP's APIC is put in virtual wire mode (apic_setup_virtual_wire: SVR
 * 0x1ff, LINT0 ExtINT, LINT1 NMI), as a BIOS leaves it: the BIOS is not run
 * for a multiboot kernel, and kernels that drive the 8259 (and never touch
 * the APIC) expect its interrupts to reach the CPU. The APs' APICs stay in
 * their power-up state. The PIC and the PIT are left in their power-up
 * state (no BIOS initialization): the guest programs them.
 *
 * Time: the virtual clock (the APIC timers' input) is the number of
 * instructions retired by all CPUs together, 1 instruction = 1 ns, plus the
 * time skipped while every CPU sleeps (below). It is deterministic: it does
 * not depend on the host. Every CPU's TSC reads it too (a 1 GHz TSC,
 * synchronized across CPUs, plus whatever the guest wrote to the MSR): the
 * machine moves a CPU's TSC offset on by the time it did not run.
 *
 * Scheduling: pc_machine_run() runs, on the calling thread, each CPU that
 * can run for a quantum (10,000 instructions by default) in turn, always in
 * index order: the same image and options always give the same
 * interleaving. A CPU that waits for SIPI never runs; a halted CPU gets a
 * turn only when something would wake it: a pending SMI (outside SMM), a
 * pending NMI (outside SMM), or its APIC's INTR line with IF=1. A turn is
 * cut into slices that end exactly at the nearest timer deadline (the APIC
 * timers', and the PIT's next OUT0 transition), and due timers fire between
 * slices, so a timer interrupt is raised at exactly the virtual time the
 * device asked for. When every CPU sleeps and a timer that would wake its
 * sleeping CPU is armed, the clock jumps to its deadline. For the PIT the
 * machine only checks that IRQ0 is unmasked at the 8259 or at I/O APIC pin
 * 2 and that a CPU is halted with IF=1; after two such jumps in a row that
 * woke nobody it stops jumping to PIT deadlines until some CPU runs again.
 * The run stops when:
 *   - the guest writes the debug-exit port: status (v << 1) | 1 (odd);
 *   - no CPU can ever run again and none waits for an interrupt (halted
 *     with interrupts off, or waiting for SIPI): PC_EXIT_HALTED (0);
 *   - no CPU can ever run again and some wait for an interrupt that nothing
 *     is left to raise (no event pending, no timer armed that would wake
 *     them): PC_EXIT_IDLE (10). Host input to COM1 after that point is not
 *     waited for;
 *   - a CPU triple-faults (shutdown): PC_EXIT_TRIPLE_FAULT (8);
 *   - the instruction limit is reached (all CPUs together):
 *     PC_EXIT_MAX_INSNS (4);
 *   - the wall-clock timeout passes (checked between quanta):
 *     PC_EXIT_TIMEOUT (6).
 * The statuses other than debug-exit's are even, so a guest can never
 * produce one of them (except that a process exit status keeps only the low
 * 8 bits of (v << 1) | 1).
 */
#ifndef MMUSIM_MACHINES_PC_H
#define MMUSIM_MACHINES_PC_H

#include <stdio.h>

#include "devices/apic.h"
#include "devices/fw_cfg.h"
#include "devices/i440fx_smram.h"
#include "devices/ioapic.h"
#include "devices/iommu_ref.h"
#include "devices/pci.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "machines/linux_boot.h"
#include "machines/multiboot.h"
#include "targets/x86/x86_cpu.h"

#define PC_MAX_SMP          64u
#define PC_DEFAULT_RAM      (UINT64_C(128) << 20)
#define PC_MIN_RAM          (UINT64_C(2) << 20)
#define PC_MAX_RAM          (UINT64_C(1) << 40)
#define PC_BELOW_4G_MAX     UINT64_C(0xe0000000)   /* RAM above this goes above 4 GiB */
#define PC_ABOVE_4G_BASE    (UINT64_C(1) << 32)
#define PC_VGA_BASE         UINT64_C(0xa0000)
#define PC_VGA_SIZE         UINT64_C(0x20000)
#define PC_BIOS_SIZE        UINT64_C(0x20000)       /* the built-in ROM */
#define PC_BIOS_MAX         (UINT64_C(16) << 20)
#define PC_BIOS_UNIT        UINT64_C(0x10000)
#define PC_ISA_BIOS_MAX     UINT64_C(0x20000)
#define PC_IO_SIZE          UINT64_C(0x10000)
#define PC_COM1_BASE        0x3f8u
#define PC_PCI_HOLE_BASE    UINT64_C(0xe0000000)    /* PCI memory window (identity) */
#define PC_PCI_HOLE_END     UINT64_C(0xfec00000)
#define PC_IOMMU_BASE       UINT64_C(0xfed90000)    /* iommu_ref registers */
#define PC_PCI_GSI_BASE     16u                     /* INTx -> I/O APIC 16..19 */
#define PC_PCI_DMA_DEV      4u                      /* 0:04.0 pci-dma */
#define PC_PCI_TESTDEV_DEV  5u                      /* 0:05.0 pci-testdev */
#define PC_DEBUG_EXIT_BASE  0xf4u
#define PC_DEBUG_EXIT_SIZE  4u
#define PC_DEFAULT_QUANTUM  10000u
#define PC_IOAPIC_BASE      UINT64_C(0xfec00000)
#define PC_IOAPIC_ID        0u
#define PC_COM1_IRQ         4u      /* I/O APIC pin of COM1 */
#define PC_COM1_ISA_IRQ     4u      /* 8259 IRQ of COM1 */
#define PC_PIT_GSI          2u      /* I/O APIC pin of ISA IRQ0 (the PIT) */

/* Exit statuses of a run (besides debug-exit's odd (v << 1) | 1). */
enum {
    PC_EXIT_HALTED = 0,       /* every CPU halted with interrupts off */
    PC_EXIT_ERROR = 1,        /* the machine could not be built or run */
    PC_EXIT_MAX_INSNS = 4,    /* the instruction limit was reached */
    PC_EXIT_TIMEOUT = 6,      /* the wall-clock timeout passed */
    PC_EXIT_TRIPLE_FAULT = 8, /* a CPU shut down (triple fault) */
    PC_EXIT_IDLE = 10,        /* every CPU halted waiting for an interrupt nothing can raise */
};

typedef enum PcStopReason {
    PC_STOP_NONE = 0,         /* not run yet */
    PC_STOP_HALTED,
    PC_STOP_IDLE,
    PC_STOP_DEBUG_EXIT,
    PC_STOP_MAX_INSNS,
    PC_STOP_TIMEOUT,
    PC_STOP_TRIPLE_FAULT,
} PcStopReason;

typedef enum PcSerialBackend {
    PC_SERIAL_STDIO = 0,      /* output to stdout, input polled from stdin */
    PC_SERIAL_NONE,           /* output discarded, no input */
    PC_SERIAL_FILE,           /* output to serial_path (created or truncated), no input */
} PcSerialBackend;

/* Block translation (targets/x86/x86_jit.h) for the machine's CPUs. */
typedef enum PcJit {
    PC_JIT_DEFAULT = 0,       /* x86_cpu_jit_default(): MMUSIM_JIT, else on */
    PC_JIT_OFF,               /* interpret everything */
    PC_JIT_ON,                /* translate blocks once they ran a few times */
    PC_JIT_EAGER,             /* translate every block at its first run */
} PcJit;

typedef struct PcConfig {
    unsigned smp;             /* 1..PC_MAX_SMP; 0 means 1 */
    uint64_t ram_size;        /* PC_MIN_RAM..PC_MAX_RAM, a multiple of 4 KiB; 0: default */
    const char *kernel;       /* multiboot kernel or Linux bzImage, or NULL: CPU 0 starts
                                 at the reset vector */
    const char *append;       /* kernel command line (NULL: "") */
    const char *initrd;       /* multiboot: comma-separated module files; bzImage: one
                                 initrd file; or NULL */
    const char *bios;         /* ROM image, or NULL for the built-in one */
    PcSerialBackend serial;
    const char *serial_path;  /* PC_SERIAL_FILE */
    uint32_t trace;           /* X86_TRACE_* for every CPU */
    PcJit jit;                /* block translation of every CPU */
    FILE *trace_out;          /* NULL: stderr */
} PcConfig;

typedef struct PcRunLimits {
    uint64_t max_insns;       /* all CPUs together; 0: no limit */
    double timeout;           /* wall-clock seconds; <= 0: no limit */
    uint64_t quantum;         /* instructions per CPU turn; 0: PC_DEFAULT_QUANTUM */
} PcRunLimits;

typedef struct PcMachine PcMachine;

/* Build the machine and load the kernel or BIOS. Errors (bad sizes, files
 * that cannot be read, images the loader refuses) name the file and the
 * problem. */
PcMachine *pc_machine_new(const PcConfig *cfg, GError **err);
void pc_machine_free(PcMachine *pc);

/* Run until one of the stop conditions above; returns the exit status.
 * lim may be NULL (no limits). May be called again to go on after a
 * limit (the status of a finished guest stays). */
int pc_machine_run(PcMachine *pc, const PcRunLimits *lim);
PcStopReason pc_machine_stop_reason(const PcMachine *pc);
/* One line saying why the last run stopped ("" before any run). */
const char *pc_machine_stop_message(const PcMachine *pc);
/* Instructions retired by every CPU so far. */
uint64_t pc_machine_icount(const PcMachine *pc);

unsigned pc_machine_smp(const PcMachine *pc);
X86Cpu *pc_machine_cpu(const PcMachine *pc, unsigned i);  /* NULL if i >= smp */
MemRegion *pc_machine_system(const PcMachine *pc);
AddressSpace *pc_machine_io(const PcMachine *pc);
/* Where the multiboot kernel was loaded, or NULL without one. */
const MultibootBoot *pc_machine_boot(const PcMachine *pc);
/* Where the Linux bzImage was loaded, or NULL without one. */
const LinuxBoot *pc_machine_linux_boot(const PcMachine *pc);
/* Power-on RESET of the whole machine (RAM is kept): every CPU and APIC
 * to its RESET state, CPU 0 at the reset vector (a kernel is not loaded
 * again), the APs waiting for SIPI, the BSP's APIC in virtual wire mode,
 * the 8259 pair and the 8254 (power-up state), the I/O APIC, the chipset (SMRAM
 * control back to 02h: this is what clears D_LCK) and fw_cfg. A finished
 * run's status is forgotten. Not to be called from inside a run. */
void pc_machine_reset(PcMachine *pc);

/* The devices, for tests and tools (borrowed). */
Apic *pc_machine_apic(const PcMachine *pc, unsigned i);   /* NULL if i >= smp */
IoApic *pc_machine_ioapic(const PcMachine *pc);
I440fx *pc_machine_chipset(const PcMachine *pc);
FwCfg *pc_machine_fw_cfg(const PcMachine *pc);
PicPair *pc_machine_pic(const PcMachine *pc);
Pit *pc_machine_pit(const PcMachine *pc);
/* What device (DMA) accesses see: the global map, without any APIC page
 * or SMRAM. */
AddressSpace *pc_machine_dma(const PcMachine *pc);
PciHost *pc_machine_pci(const PcMachine *pc);
IommuRef *pc_machine_iommu(const PcMachine *pc);
/* CPU i waits for a SIPI (false if i >= smp). */
bool pc_machine_cpu_waiting_sipi(const PcMachine *pc, unsigned i);
/* The virtual clock, in ns (see "Time" above). */
uint64_t pc_machine_clock_ns(const PcMachine *pc);

/* "info tlb" of every CPU. */
void pc_machine_dump_tlbs(PcMachine *pc, GString *out, bool entries);

#endif
