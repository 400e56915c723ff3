/*
 * The x86 CPU: architectural state and the interpreter's entry points.
 *
 * Execution model (docs/x86.md): instructions are decoded once by capstone
 * into a compact X86Insn (x86_decode.h), grouped into blocks cached by the
 * host address of their first byte (unique even where CPUs see different
 * memory at one physical address), and executed by calling each
 * instruction's handler. Memory goes through this CPU's TLB; port I/O
 * through the machine's I/O address space. Nothing here knows about other
 * CPUs: a machine owns the CPUs and schedules them.
 */
#ifndef MMUSIM_TARGETS_X86_CPU_H
#define MMUSIM_TARGETS_X86_CPU_H

#include "softmmu/cpu_view.h"
#include "tlb/code_cache.h"
#include "tlb/tlb.h"
#include <stdio.h>

#include "targets/x86/x86_alu.h"
#include "targets/x86/x86_paging.h"  /* CR0/CR4/EFER paging bits */

enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI,
       R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15 };
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_NONE = 7 };

/* Exception vectors (SDM Vol. 3A 6.3.1). */
enum {
    X86_EXC_DE = 0, X86_EXC_DB = 1, X86_EXC_NMI = 2, X86_EXC_BP = 3, X86_EXC_OF = 4,
    X86_EXC_BR = 5, X86_EXC_UD = 6, X86_EXC_NM = 7, X86_EXC_DF = 8, X86_EXC_TS = 10,
    X86_EXC_NP = 11, X86_EXC_SS = 12, X86_EXC_GP = 13, X86_EXC_PF = 14, X86_EXC_MF = 16,
    X86_EXC_AC = 17, X86_EXC_MC = 18, X86_EXC_XM = 19,
};

/* EFLAGS bits not kept lazily. */
#define X86_TF   (1u << 8)
#define X86_IF   (1u << 9)
#define X86_DF   (1u << 10)
#define X86_IOPL (3u << 12)
#define X86_NT   (1u << 14)
#define X86_RF   (1u << 16)
#define X86_VM   (1u << 17)
#define X86_AC   (1u << 18)
#define X86_VIF  (1u << 19)
#define X86_VIP  (1u << 20)
#define X86_ID   (1u << 21)

#define X86_CR0_PE (1u << 0)
#define X86_CR0_MP (1u << 1)
#define X86_CR0_EM (1u << 2)
#define X86_CR0_TS (1u << 3)
#define X86_CR0_ET (1u << 4)
#define X86_CR0_NE (1u << 5)
#define X86_CR0_AM (1u << 18)
#define X86_CR0_NW (1u << 29)
#define X86_CR0_CD (1u << 30)

#define X86_CR4_VME (1u << 0)
#define X86_CR4_PVI (1u << 1)
#define X86_CR4_TSD (1u << 2)
#define X86_CR4_DE (1u << 3)
#define X86_CR4_MCE (1u << 6)
#define X86_CR4_PCE (1u << 8)
#define X86_CR4_OSFXSR (1u << 9)
#define X86_CR4_OSXMMEXCPT (1u << 10)
#define X86_CR4_FSGSBASE (1u << 16)
#define X86_CR4_PCIDE (1u << 17)

#define X86_EFER_SCE (1u << 0)

/* A segment register with its descriptor cache (SDM 3.4.3). */
typedef struct X86Seg {
    uint16_t selector;
    uint64_t base;
    uint32_t limit;  /* effective byte limit (granularity applied) */
    uint32_t attr;   /* descriptor bits 40..55 as bits 0..15: type, S, DPL, P, AVL, L, D/B, G */
} X86Seg;

#define X86_SEGA_TYPE(a) ((a) & 0xf)
#define X86_SEGA_S      (1u << 4)
#define X86_SEGA_DPL(a) (((a) >> 5) & 3)
#define X86_SEGA_P      (1u << 7)
#define X86_SEGA_L      (1u << 13)
#define X86_SEGA_DB     (1u << 14)
#define X86_SEGA_G      (1u << 15)

typedef struct X86Table {
    uint64_t base;
    uint32_t limit;
} X86Table;

/* MMU indexes (the TLB's): privilege and SMAP decide what a walk grants. */
enum { X86_MMU_USER = 0, X86_MMU_KERNEL = 1, X86_MMU_KERNEL_NOSMAP = 2,
       X86_MMU_SMM_DATA = 3,  /* SMM data references when the chipset hides SMRAM from them */
       X86_NB_MMU = 4 };

/* Why run() returned. */
typedef enum X86Exit {
    X86_EXIT_QUANTUM = 0,  /* executed the requested number of instructions */
    X86_EXIT_HALTED,       /* HLT with nothing to wake it */
    X86_EXIT_SHUTDOWN,     /* triple fault: the machine decides (reset or stop) */
    X86_EXIT_REQUEST,      /* the machine asked (exit device, debugger, ...) */
} X86Exit;

typedef struct X86Cpu X86Cpu;

#define X86_JC_SIZE 1024

/* What the machine provides to a CPU. */
typedef struct X86MachineOps {
    /* Highest-priority pending maskable interrupt vector, or -1. Called
     * when IF=1 and no shadow; acknowledging is the machine's job. */
    int (*pending_irq)(void *machine, X86Cpu *cpu);
    /* MSRs the machine owns (APIC base, ...): true if handled. */
    bool (*rdmsr)(void *machine, X86Cpu *cpu, uint32_t msr, uint64_t *val);
    bool (*wrmsr)(void *machine, X86Cpu *cpu, uint32_t msr, uint64_t val);
    /* Optional: the CPU entered (true) or left (false) SMM. Called on SMI
     * entry before the save-state map is written (so the writes land in
     * SMRAM) and on RSM after the map was read; also when RESET/INIT takes
     * a CPU out of SMM. The machine (chipset) decides from this and its
     * SMRAM control whether this CPU's SMRAM overlay is shown
     * (cpu_view_set_smram_visible). */
    void (*smm_changed)(void *machine, X86Cpu *cpu, bool in_smm);
    /* Optional: the local APIC's task-priority register (SDM Vol. 3A
     * 10.8.6). MOV to CR8 stores cpu->cr8 and calls set_tpr with
     * CR8[3:0] << 4 (TPR[3:0] cleared). MOV from CR8 reads cpu->cr8: a
     * machine providing these hooks keeps cpu->cr8 equal to TPR[7:4]
     * (get_tpr() >> 4) whenever the TPR changes another way (APIC page,
     * x2APIC MSR, reset). Without them CR8 is cpu->cr8 alone. */
    uint8_t (*get_tpr)(void *machine, X86Cpu *cpu);
    void (*set_tpr)(void *machine, X86Cpu *cpu, uint8_t tpr);
    /* Optional: CPUID.01H:ECX[21] (x2APIC mode available). Absent: false. */
    bool (*has_x2apic)(void *machine, X86Cpu *cpu);
    /* Optional: IA32_APIC_BASE.EN (the APIC is hardware-enabled, in xAPIC
     * or x2APIC mode), for CPUID.01H:EDX[9]. Absent: the APIC bit follows
     * whether the CPU's view shows its APIC page. */
    bool (*apic_hw_enabled)(void *machine, X86Cpu *cpu);
} X86MachineOps;

typedef struct X86PendingExc {
    int vector;         /* -1: none */
    uint32_t error_code;
    bool has_error;
    bool is_soft;       /* INT n / INT3 / INTO: privilege-checked gate, return after */
} X86PendingExc;

struct X86Cpu {
    uint64_t regs[16];
    uint64_t rip;
    uint64_t next_rip;       /* during an instruction: address of the next one */
    X86LazyFlags lf;         /* CF PF AF ZF SF OF, computed on demand */
    uint32_t eflags;         /* every other EFLAGS bit (bit 1 always set) */

    X86Seg segs[6];
    X86Seg ldtr, tr;
    X86Table gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer;
    uint64_t dr[8];
    unsigned cpl;

    /* MSRs kept by the CPU. */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset, pat, misc_enable, tsc_aux;

    /* Interrupt state. */
    bool halted;
    bool irq_shadow;         /* STI / MOV SS: no interrupt before the next instruction */
    bool nmi_pending;
    /* Whether pending_irq may have a vector to give: the machine's INTR
     * line. true from x86_cpu_new, so the CPU asks at every block boundary
     * with IF = 1; a machine that keeps it equal to its interrupt
     * controller's output (pc: the local APIC's INTR) lets the CPU skip
     * the question, and chain blocks, while it is low. */
    bool irq_line;
    /* System Management Mode (x86_smm.c). */
    bool smi_pending;        /* latched SMI: taken at a block boundary outside SMM */
    bool in_smm;             /* NMIs and further SMIs are held until RSM */
    bool smm_data_hidden;    /* set by the machine: in SMM, data references do not see SMRAM (D_CLS) */
    uint64_t smbase;         /* 0x30000 at RESET; kept by INIT; relocated by RSM */
    X86PendingExc exc;       /* exception being raised by the current instruction */
    int exc_depth;           /* for double and triple fault */
    bool task_switched;      /* a task switch passed its commit point during the
                              * current event delivery: a fault now belongs to
                              * the new task (SDM Vol. 3A 7.3, x86_task.c) */

    /* Plumbing. */
    unsigned index;
    CpuView *view;
    AddressSpace *mem_as;    /* this CPU's view (its root) */
    AddressSpace *io_as;     /* the machine's port I/O space (64 KiB) */
    CpuTlb *tlb;
    const X86MachineOps *mops;
    void *machine;
    uint64_t icount;         /* instructions retired: the virtual clock */
    bool exit_request;       /* stop at the next instruction boundary */
    X86Exit exit_reason;
    uint32_t trace;          /* X86_TRACE_* */
    FILE *trace_out;
    struct CodeCache *cc;    /* shared decoded-code cache (tlb/code_cache.h) */
    /* Jump cache: blocks by linear address, code size and MMU index, so a
     * hit needs neither a TLB probe nor the shared cache. Valid while no
     * block was invalidated (it never holds a block that may be freed) and
     * this CPU's TLB was not flushed (the linear -> host mapping holds). */
    struct X86JumpEntry {
        uint64_t lin;
        uint32_t mode;          /* code size | mmu index << 4; 0 = empty */
        struct X86Block *b;
    } jc[X86_JC_SIZE];
    uint64_t jc_epoch;          /* code cache invalidations seen */
    uint64_t jc_tlb_epoch;      /* TLB epoch seen */
    uint64_t pdptes[4];      /* PAE: loaded at MOV CR3 (SDM 4.4.1) */
    /* Data-access fast path (x86_mem.c, x86_seg_windows_update): for each
     * segment register and access kind ([seg][0] read, [seg][1] write), the
     * offsets an access may have for the segmentation checks of SDM Vol. 3A
     * 5.3 (limit, type, presence; the canonical check of 3.3.7.1 in 64-bit
     * mode) to pass with no fault, and the base to add: an access of `size`
     * bytes at offset `off` passes when d = off - lo satisfies d < cnt and
     * d + size <= cnt, and its linear address is base + off. Anything else
     * (cnt = 0 when the segment is unusable, and every access in SMM) goes
     * through the exact checks. Derived from segs[], CR0.PE, EFLAGS.VM,
     * EFER.LMA, CPL, CR4.SMAP, EFLAGS.AC and in_smm: recomputed at x86_cpu_run
     * entry, at reset/INIT, after every event delivery, after SMM entry and
     * after any instruction that may change them (X86_INSN_SEGW, which ends
     * its block). */
    struct X86SegWindow {
        uint64_t lo, cnt, base;
    } segwin[8][2];
    unsigned data_mmu_idx;   /* x86_mmu_index(cpu, false) outside SMM */
    TlbTable *jit_dtlb;      /* &tables[data_mmu_idx] of the TLB, for translated code */
    struct X86Block *jit_block; /* the block whose translation runs (chaining moves it) */
    bool jit_chain_ok;       /* the run loop had no round work when it entered translated
                              * code: it may loop and chain while no handler runs */
    uint8_t jit_mode;        /* X86JitMode */
    /* Recomputed with segwin, for the run loop: x86_code_size() and the jump
     * cache mode (code size | x86_fetch_mmu_index(cpu, false) << 4). */
    unsigned fetch_code_size;
    uint32_t fetch_mode;
    AsRamCache walk_ram;     /* the page walk's RAM run (as_ram_read_ptr) */
};

enum { X86_TRACE_IN_ASM = 1, X86_TRACE_EXEC = 2, X86_TRACE_INT = 4, X86_TRACE_MMU = 8 };

/* Create a CPU on its view; io_as is the machine's I/O space. */
X86Cpu *x86_cpu_new(unsigned index, CpuView *view, AddressSpace *io_as,
                    struct CodeCache *cc, const X86MachineOps *mops, void *machine,
                    GError **err);
void x86_cpu_free(X86Cpu *cpu);
/* Power-on/RESET state (SDM Vol. 3A 9.1.1): CS=F000 base FFFF0000, IP=FFF0. */
void x86_cpu_reset(X86Cpu *cpu);
/* INIT: like reset but keeps MSRs the SDM says INIT preserves. */
void x86_cpu_init(X86Cpu *cpu);
/* Block translation (targets/x86/x86_jit.h): off (interpret everything),
 * on (translate blocks that ran X86_JIT_THRESHOLD times; the default), or
 * eager (translate every block at once: for tests). The environment
 * variable MMUSIM_JIT=off|on|eager sets the default of new CPUs (anything
 * else is reported once and means on). On hosts other than x86-64 every
 * mode interprets. */
typedef enum X86JitMode { X86_JIT_OFF = 0, X86_JIT_ON = 1, X86_JIT_EAGER = 2 } X86JitMode;
void x86_cpu_set_jit(X86Cpu *cpu, X86JitMode mode);
X86JitMode x86_cpu_jit_default(void);
/* Run at most `max` instructions. */
X86Exit x86_cpu_run(X86Cpu *cpu, uint64_t max);
/* Assert SMI# (APIC SMI delivery, chipset APM port): latched until the CPU
 * takes it at an instruction boundary outside SMM (x86_smm.c). */
void x86_cpu_raise_smi(X86Cpu *cpu);

/* Full EFLAGS (lazy bits materialized) and its inverse. */
uint32_t x86_get_eflags(const X86Cpu *cpu);
void x86_set_eflags(X86Cpu *cpu, uint32_t value, uint32_t mask);

/* Code size of the current CS: 2, 4 or 8 bytes. */
unsigned x86_code_size(const X86Cpu *cpu);
bool x86_long_mode(const X86Cpu *cpu);

/* The TLB's MMU index for a data access by this CPU now. */
unsigned x86_mmu_index(const X86Cpu *cpu, bool implicit_supervisor);
/* ... and for an instruction fetch (never X86_MMU_SMM_DATA). */
unsigned x86_fetch_mmu_index(const X86Cpu *cpu, bool implicit_supervisor);
/* Flush what a change of CR0/CR3/CR4/EFER requires. */
void x86_paging_changed(X86Cpu *cpu, bool keep_global);

/* Raise an exception from the current instruction (fault semantics: rip
 * stays at the instruction). Handlers then return X86_R_EXC. */
void x86_raise(X86Cpu *cpu, int vector, uint32_t error_code, bool has_error);
/* Deliver the pending exception or an interrupt through the IDT/IVT. */
void x86_deliver(X86Cpu *cpu, int vector, uint32_t error_code, bool has_error, bool is_soft,
                 uint64_t return_rip);

/* Shared decoded-code cache, keyed by host address. */
/* The decoded-code cache CPUs share is tlb/code_cache.h's (one per machine:
 * code_cache_new / code_cache_free). */

#endif
