/*
 * The AArch64 CPU: architectural state and the interpreter's entry points.
 *
 * Execution model (docs/arm-virt.md): like the x86 target, each A64
 * instruction is decoded once (capstone 4, completed by our own decoding
 * where capstone rejects an encoding) into a compact A64Insn, grouped in
 * blocks cached by the host address of their first byte, and executed by
 * calling a handler per instruction. Memory goes through this CPU's TLB,
 * resolved against this CPU's root (the global map plus this CPU's banked
 * GIC CPU interface). Nothing here knows about other CPUs except through
 * `peers` (TLBI broadcast) and the machine hooks; the machine schedules.
 *
 * Modelled: EL0 and EL1 (AArch64 only), VMSAv8-64 stage 1 with a 4 KiB
 * granule, the generic timer, the integer A64 ISA, and the FP/SIMD
 * register moves, loads and stores compilers emit for memcpy/memset.
 */
#ifndef MMUSIM_TARGETS_ARM_CPU_H
#define MMUSIM_TARGETS_ARM_CPU_H

#include <stdio.h>

#include "softmmu/cpu_view.h"
#include "tlb/code_cache.h"
#include "tlb/tlb.h"

/* PSTATE bits as they appear in SPSR_ELx (ARM ARM C5.2.18). */
#define ARM_PSTATE_N    (1u << 31)
#define ARM_PSTATE_Z    (1u << 30)
#define ARM_PSTATE_C    (1u << 29)
#define ARM_PSTATE_V    (1u << 28)
#define ARM_PSTATE_SS   (1u << 21)
#define ARM_PSTATE_IL   (1u << 20)
#define ARM_PSTATE_PAN  (1u << 22)
#define ARM_PSTATE_D    (1u << 9)
#define ARM_PSTATE_A    (1u << 8)
#define ARM_PSTATE_I    (1u << 7)
#define ARM_PSTATE_F    (1u << 6)
#define ARM_PSTATE_M_EL0T 0x0u
#define ARM_PSTATE_M_EL1T 0x4u
#define ARM_PSTATE_M_EL1H 0x5u

/* MMU indexes (the TLB's). MMU off is just another translation regime
 * (flat), so it shares the indexes: SCTLR_EL1.M changes flush them. */
enum {
    ARM_MMU_EL0 = 0,      /* unprivileged accesses: EL0, and LDTR/STTR at EL1 */
    ARM_MMU_EL1 = 1,      /* EL1 */
    ARM_MMU_EL1_PAN = 2,  /* EL1 with PSTATE.PAN set (reserved: PAN not advertised yet) */
    ARM_NB_MMU = 3
};

/* Why arm_cpu_run returned. */
typedef enum ArmExit {
    ARM_EXIT_QUANTUM = 0,  /* ran the requested number of instructions */
    ARM_EXIT_HALTED,       /* WFI/WFE with nothing to wake it */
    ARM_EXIT_OFF,          /* powered off (PSCI CPU_OFF, or never turned on) */
    ARM_EXIT_REQUEST,      /* the machine asked (SYSTEM_OFF, semihosting exit, ...) */
} ArmExit;

typedef struct ArmCpu ArmCpu;

/* What the machine provides to a CPU. All optional unless stated. */
typedef struct ArmMachineOps {
    /* HVC (smc=false) or SMC (smc=true) with immediate `imm`, executed at
     * EL1. There is no EL2/EL3: the machine implements the firmware
     * interface (PSCI) itself. Return true if handled (results in x0..x3;
     * execution continues after the instruction); false makes the
     * instruction UNDEFINED, as on a CPU without that exception level. */
    bool (*hvc_smc)(void *machine, ArmCpu *cpu, bool smc, uint16_t imm);
    /* `hlt #0xf000`: the A64 semihosting trap. True if handled (the machine
     * read w0/x1 and wrote x0); false: the instruction is UNDEFINED. */
    bool (*semihosting)(void *machine, ArmCpu *cpu);
    /* The virtual clock in ns (required for the generic timer; without it
     * the counter reads this CPU's instruction count). */
    uint64_t (*clock_ns)(void *machine);
    /* A generic-timer output changed level: timer 0 = EL1 physical
     * (CNTP, PPI 30), 1 = virtual (CNTV, PPI 27). The machine routes it to
     * this CPU's interrupt controller. */
    void (*timer_irq)(void *machine, ArmCpu *cpu, int timer, bool level);
    /* System registers the machine owns (GICv3 ICC_*_EL1): true if
     * handled. `enc` is ARM_SYSREG(op0, op1, crn, crm, op2). */
    bool (*sysreg_read)(void *machine, ArmCpu *cpu, uint32_t enc, uint64_t *val);
    bool (*sysreg_write)(void *machine, ArmCpu *cpu, uint32_t enc, uint64_t val);
} ArmMachineOps;

/* A system register's encoding, as in MRS/MSR (ARM ARM C5.3). */
#define ARM_SYSREG(op0, op1, crn, crm, op2) \
    (((uint32_t)(op0) << 14) | ((uint32_t)(op1) << 11) | ((uint32_t)(crn) << 7) | \
     ((uint32_t)(crm) << 3) | (uint32_t)(op2))

/* The generic timer of one CPU (ARM ARM D11). */
typedef struct ArmTimer {
    uint64_t ctl;    /* CNTx_CTL_EL0: ENABLE, IMASK (ISTATUS computed) */
    uint64_t cval;   /* CNTx_CVAL_EL0 */
    bool level;      /* last level reported through timer_irq */
} ArmTimer;

enum { ARM_TIMER_PHYS = 0, ARM_TIMER_VIRT = 1 };

struct ArmCpu {
    /* --- General-purpose state --- */
    uint64_t x[32];          /* x[31] is the zero register: always 0, never written */
    uint64_t sp_el[2];       /* SP_EL0, SP_EL1 */
    uint64_t pc;
    uint32_t nzcv;           /* PSTATE.NZCV in bits 31..28, nothing else */
    uint32_t daif;           /* PSTATE.DAIF in bits 9..6 */
    unsigned el;             /* 0 or 1 */
    bool sp_sel;             /* PSTATE.SP: at EL1, true = SP_EL1 */
    bool pan;                /* PSTATE.PAN */
    unsigned mmu_idx;        /* ARM_MMU_* for this EL/PAN: kept by arm_update_mmu_index() */
    uint8_t tbi;             /* TCR_EL1.TBI0 (bit 0) and TBI1 (bit 1): kept on TCR writes */

    /* FP/SIMD: 32 x 128-bit registers, little-endian lanes. */
    struct { uint64_t d[2]; } v[32];
    uint32_t fpcr, fpsr;

    /* --- EL1 system registers (ARM ARM D13) --- */
    uint64_t sctlr_el1, tcr_el1, ttbr0_el1, ttbr1_el1, mair_el1, amair_el1;
    uint64_t vbar_el1, esr_el1, far_el1, elr_el1, spsr_el1, par_el1;
    uint64_t cpacr_el1, contextidr_el1, afsr0_el1, afsr1_el1;
    uint64_t tpidr_el0, tpidrro_el0, tpidr_el1;
    uint64_t mdscr_el1, cntkctl_el1, csselr_el1;
    uint64_t mpidr_el1;      /* set by the machine: affinity of this CPU */
    uint64_t cntfrq_el0;     /* 62.5 MHz by default, as QEMU's virt */
    ArmTimer timer[2];       /* ARM_TIMER_PHYS, ARM_TIMER_VIRT */
    uint64_t cntvoff;        /* CNTVOFF_EL2: 0 (no EL2), kept for the formula */
    /* Debug registers Linux and debuggers program (arm_sysreg.c). They are
     * storage only: no breakpoint, watchpoint or OS-lock behaviour. */
    uint64_t osdlr_el1, mdccint_el1;
    bool oslk;               /* OSLSR_EL1.OSLK: set at reset (arm_cpu_reset), cleared via OSLAR_EL1 */
    uint64_t dbgbvr[2], dbgbcr[2], dbgwvr[2], dbgwcr[2];

    /* PSTATE.IL (illegal execution state, ARM ARM D1.11.2/D1.4): set by an
     * illegal ERET (arm_exception_return) or restored from SPSR.IL. While
     * set, the next instruction must not execute: the run loop raises
     * arm_raise_sync(cpu, ARM_EC_ILLEGAL_STATE, 0) instead (after the PC
     * alignment and instruction-fetch checks). Exception entry clears it. */
    bool il;
    /* Rt of the MRS/MSR/SYS being executed: the interpreter sets it before
     * calling arm_sys_mrs/msr/op so that EL0 accesses trapped to EL1 (EC
     * 0x18, e.g. CTR_EL0 with SCTLR_EL1.UCT = 0) report it in ESR.ISS. */
    uint8_t sys_rt;

    /* --- Exclusive monitor (local; the global one is the value check, see
     * arm_internal.h) --- */
    uint64_t excl_addr;      /* UINT64_MAX: open */
    uint64_t excl_val[2];
    unsigned excl_size;

    /* --- Interrupt and run state --- */
    bool irq_line, fiq_line; /* levels from the interrupt controller */
    bool halted;             /* in WFI/WFE */
    bool event_reg;          /* the WFE event register (SEV, exception return) */
    bool powered_off;        /* PSCI: off until CPU_ON */
    bool exit_request;       /* stop at the next instruction boundary */
    ArmExit exit_reason;

    /* --- Plumbing --- */
    unsigned index;
    CpuView *view;
    AddressSpace *mem_as;    /* this CPU's view */
    CpuTlb *tlb;
    CpuTlb **peers;          /* every CPU's TLB (this one included) for TLBI ...IS */
    unsigned n_peers;
    const ArmMachineOps *mops;
    void *machine;
    uint64_t icount;         /* instructions retired */
    uint32_t trace;          /* ARM_TRACE_* */
    FILE *trace_out;
    struct CodeCache *cc;    /* shared decoded-code cache (tlb/code_cache.h) */
    void *exec_private;      /* the interpreter's own per-CPU data (jump cache, ...) */
    AsRamCache walk_ram;     /* the page walk's RAM run (as_ram_read_ptr) */
    /* A one-entry walk cache (arm_mmu.c): the level-3 table the last walk
     * through a level-2 table descriptor reached, for VA[63:21]. Valid
     * while the TLB epoch (every flush and TLBI moves it), TTBR and TCR
     * are those it was made with. */
    struct ArmWalkCache {
        bool valid;
        uint64_t epoch, ttbr, tcr, va_prefix, table, table_attrs;
    } walk_cache;

    /* --- Interpreter state (arm_cpu.c, a64_*.c) --- */
    bool code_written;       /* a store of this CPU hit cached code: end the block */
    bool wfe_halt;           /* halted by WFE (an event wakes it) rather than WFI */
    struct ArmCpu **peer_cpus; /* every CPU (this one included) for SEV; NULL: SEV is local */
    unsigned n_peer_cpus;
};

enum { ARM_TRACE_IN_ASM = 1, ARM_TRACE_EXEC = 2, ARM_TRACE_INT = 4, ARM_TRACE_MMU = 8 };

/* The decoded-code cache CPUs share is tlb/code_cache.h's (one per machine:
 * code_cache_new / code_cache_free). */

/* Create a CPU on its view. */
ArmCpu *arm_cpu_new(unsigned index, CpuView *view, struct CodeCache *cc,
                    const ArmMachineOps *mops, void *machine, GError **err);
void arm_cpu_free(ArmCpu *cpu);
/* Reset state: EL1h, MMU and caches off, DAIF all masked, PC = `entry`,
 * registers zero (the machine then sets x0 = DTB address). */
void arm_cpu_reset(ArmCpu *cpu, uint64_t entry);
/* Run at most `max` instructions. */
ArmExit arm_cpu_run(ArmCpu *cpu, uint64_t max);

/* Interrupt inputs (levels), from the machine's interrupt controller.
 * They wake a CPU in WFI even while masked (ARM ARM D1.16.2). */
void arm_cpu_set_irq(ArmCpu *cpu, bool level);
void arm_cpu_set_fiq(ArmCpu *cpu, bool level);
/* Signal an event (SEV from another CPU): wakes WFE. */
void arm_cpu_send_event(ArmCpu *cpu);

/* SP of the current exception level and stack selection. */
uint64_t arm_get_sp(const ArmCpu *cpu);
void arm_set_sp(ArmCpu *cpu, uint64_t v);
/* PSTATE as an SPSR value, and its inverse (for ERET and tests). */
uint32_t arm_get_pstate(const ArmCpu *cpu);
void arm_set_pstate(ArmCpu *cpu, uint32_t spsr);

/* The TLB's MMU index for data accesses now (ARM_MMU_*). */
unsigned arm_mmu_index(const ArmCpu *cpu);

/* --- Generic timer (arm_timer.c) --- */
/* Physical count (CNTPCT) now. */
uint64_t arm_timer_count(ArmCpu *cpu);
/* Recompute both timers' output levels and report changes (called by the
 * machine between quanta, and after timer register writes). */
void arm_timer_update(ArmCpu *cpu);
/* Virtual-clock time (ns) at which the next enabled, unmasked timer
 * fires, or UINT64_MAX. Lets the machine jump the clock while every CPU
 * waits in WFI. */
uint64_t arm_timer_next_deadline_ns(ArmCpu *cpu);

#endif
