/*
 * The x86 "pc" machine: enough of a PC to run multiboot kernels and ROM
 * images and test the CPU with them. The full device set (local APIC, I/O
 * APIC, PIC, PIT, SMM) belongs to a later issue.
 *
 * Global map "system" (container, whole 64-bit space; unassigned reads
 * return all-ones, as on PCs):
 *   pc.ram        RAM at 0, --memory bytes (default 128 MiB). Above
 *                 3.5 GiB it is split around the PCI hole: pc.ram is then
 *                 one host block shown by two aliases, ram-below-4g
 *                 (0-0xdfffffff) and ram-above-4g (from 4 GiB).
 *   vga.lowmem    RAM 0xa0000-0xbffff, prio 1: a plain-RAM stand-in for the
 *                 VGA legacy window (no display is modelled).
 *   pc.bios       ROM ending at 4 GiB: --bios FILE (a multiple of 64 KiB, at
 *                 most 16 MiB), else a built-in 128 KiB ROM whose reset
 *                 vector (0xfffffff0) runs `cli; hlt` and jumps back to the
 *                 hlt forever.
 *   isa-bios      alias of the last 128 KiB of pc.bios (all of it if it is
 *                 smaller) ending at 1 MiB (0xe0000 for 128 KiB), prio 1.
 *   (PCI hole 0xe0000000-0xfffdffff: nothing yet.)
 * No SMRAM and no APIC pages yet: every CPU view is the global map alone.
 *
 * I/O space "io" (container, 64 KiB; unassigned ports read all-ones):
 *   0x3f8-0x3ff   serial.com1: 16550A UART (IRQ 4 is not wired: no PIC yet)
 *   0xf4-0xf7     debug-exit: a write of v ends the run with status (v<<1)|1
 *   0x80          stub.port80: POST code port       } stubs: reads 0,
 *   0x61          stub.port61: system control port B } writes ignored;
 *   0x64          stub.port64: 8042 status/command  } nothing behind them
 * (0x64 reading 0 means "8042 input buffer empty", so guests that wait for
 * the keyboard controller go on.)
 *
 * CPUs: --smp N (1..64), each on its own CpuView of the global map, all
 * sharing one decoded-code cache. CPU 0 starts from the reset vector, or,
 * with a kernel, directly in the multiboot entry state: the BIOS is not run
 * (as QEMU's pc does with its multiboot option ROM). The other CPUs (APs)
 * stay halted with interrupts off: nothing can send them INIT/SIPI until the
 * APIC issue.
 *
 * Scheduling: pc_machine_run() runs, on the calling thread, each CPU that is
 * not halted for a quantum (10,000 instructions by default) in turn, always
 * in index order: the same image and options always give the same
 * interleaving. It stops when:
 *   - the guest writes the debug-exit port: status (v << 1) | 1 (odd);
 *   - every CPU is halted with interrupts off: PC_EXIT_HALTED (0);
 *   - every CPU is halted and some wait for an interrupt: this machine has
 *     no device that raises one, so nothing can wake them:
 *     PC_EXIT_IDLE (10);
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
#define PC_DEBUG_EXIT_BASE  0xf4u
#define PC_DEBUG_EXIT_SIZE  4u
#define PC_DEFAULT_QUANTUM  10000u

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

typedef struct PcConfig {
    unsigned smp;             /* 1..PC_MAX_SMP; 0 means 1 */
    uint64_t ram_size;        /* PC_MIN_RAM..PC_MAX_RAM, a multiple of 4 KiB; 0: default */
    const char *kernel;       /* multiboot kernel, or NULL: CPU 0 starts at the reset vector */
    const char *append;       /* kernel command line (NULL: "") */
    const char *initrd;       /* comma-separated module files, or NULL */
    const char *bios;         /* ROM image, or NULL for the built-in one */
    PcSerialBackend serial;
    const char *serial_path;  /* PC_SERIAL_FILE */
    uint32_t trace;           /* X86_TRACE_* for every CPU */
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
/* Where the kernel was loaded, or NULL without one. */
const MultibootBoot *pc_machine_boot(const PcMachine *pc);
/* "info tlb" of every CPU. */
void pc_machine_dump_tlbs(PcMachine *pc, GString *out, bool entries);

#endif
