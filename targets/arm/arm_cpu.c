/*
 * The AArch64 CPU: lifecycle, PSTATE helpers, block building and the run
 * loop (the interpreter half; exceptions, system registers, the MMU and
 * the timer are in arm_excp.c, arm_sysreg.c, arm_mmu.c, arm_timer.c).
 *
 * The loop (arm_cpu_run): at each block boundary it performs queued TLB
 * requests, forgets the jump cache if translations or cached code changed,
 * frees invalidated blocks, wakes or keeps sleeping a CPU in WFI/WFE,
 * takes a pending unmasked interrupt, then finds the block for (PC,
 * fetch regime) in the per-CPU jump cache or, on a miss, translates PC
 * through the TLB's execute path and looks the block up by host address in
 * the shared code cache (building it on a miss). Within a block each
 * instruction's handler runs with cpu->pc at that instruction (so a fault
 * records it as ELR); the loop advances pc unless the handler jumped or
 * took an exception.
 */
#include <string.h>

#include "targets/arm/arm_codecache.h"

#define ARM_JC_BITS 12
#define ARM_JC_SIZE (1u << ARM_JC_BITS)

/* The jump cache: key = PC | fetch MMU index (PC is 4-aligned here, the
 * index is 0 or 1), so an empty slot (all ones) never matches. */
typedef struct ArmJcEntry {
    uint64_t key;
    ArmBlock *b;
} ArmJcEntry;

typedef struct ArmExec {
    ArmJcEntry jc[ARM_JC_SIZE];
    uint64_t jc_cc_epoch;     /* code-cache invalidations the jump cache reflects */
    uint64_t jc_tlb_epoch;    /* TLB epoch the jump cache reflects */
} ArmExec;

static inline ArmExec *exec_of(ArmCpu *cpu)
{
    return cpu->exec_private;
}

static void jc_clear(ArmExec *ex)
{
    memset(ex->jc, 0xff, sizeof(ex->jc));
}

/* --- PSTATE, SP, MMU index --- */

uint64_t arm_get_sp(const ArmCpu *cpu)
{
    return cpu->sp_el[(cpu->el != 0) & cpu->sp_sel];
}

void arm_set_sp(ArmCpu *cpu, uint64_t v)
{
    cpu->sp_el[(cpu->el != 0) & cpu->sp_sel] = v;
}

/* SPSR_ELx layout for AArch64 (ARM ARM C5.2.18): NZCV 31..28, PAN 22,
 * DAIF 9..6, M[3:0] = EL << 2 | SP (EL0t = 0, EL1t = 4, EL1h = 5). */
uint32_t arm_get_pstate(const ArmCpu *cpu)
{
    uint32_t m = cpu->el ? (ARM_PSTATE_M_EL1T | (cpu->sp_sel ? 1u : 0u)) : ARM_PSTATE_M_EL0T;
    return (cpu->nzcv & 0xf0000000u) | (cpu->pan ? ARM_PSTATE_PAN : 0) |
           (cpu->daif & 0x3c0u) | m;
}

void arm_set_pstate(ArmCpu *cpu, uint32_t spsr)
{
    cpu->nzcv = spsr & 0xf0000000u;
    cpu->daif = spsr & 0x3c0u;
    cpu->pan = (spsr & ARM_PSTATE_PAN) != 0;
    unsigned m = spsr & 0xf;
    cpu->el = (m >> 2) ? 1 : 0;  /* EL2/EL3 do not exist: ERET's checks refuse them first */
    cpu->sp_sel = cpu->el ? (m & 1) : false;
    arm_update_mmu_index(cpu);
}

unsigned arm_mmu_index(const ArmCpu *cpu)
{
    if (cpu->el == 0) {
        return ARM_MMU_EL0;
    }
    return cpu->pan ? ARM_MMU_EL1_PAN : ARM_MMU_EL1;
}

/* Instruction fetches: EL0 or EL1 (PAN does not apply to fetches). */
static inline unsigned fetch_index(const ArmCpu *cpu)
{
    return cpu->el ? ARM_MMU_EL1 : ARM_MMU_EL0;
}

/* --- Lifecycle --- */

/* The TLB tells us a store of ours is about to change cached code: the
 * memory core invalidates the blocks (arm_codecache.c); we end the running
 * block after the store so the next instruction is decoded afresh. */
static void code_write_hook(void *opaque, uint64_t paddr, unsigned len)
{
    (void)paddr;
    (void)len;
    ArmCpu *cpu = opaque;
    cpu->code_written = true;
}

ArmCpu *arm_cpu_new(unsigned index, CpuView *view, struct CodeCache *cc,
                    const ArmMachineOps *mops, void *machine, GError **err)
{
    ArmCpu *cpu = g_new0(ArmCpu, 1);
    cpu->index = index;
    cpu->view = view;
    cpu->mem_as = cpu_view_as(view);
    cpu->cc = cc;
    cpu->mops = mops;
    cpu->machine = machine;
    cpu->trace_out = stderr;
    ArmExec *ex = g_new0(ArmExec, 1);
    jc_clear(ex);
    cpu->exec_private = ex;
    TlbConfig cfg;
    tlb_config_default(&cfg);
    cfg.nb_mmu_idx = ARM_NB_MMU;
    cfg.page_bits = 12;
    cpu->tlb = tlb_new(cpu->mem_as, &cfg, &arm_tlb_ops, cpu, err);
    if (!cpu->tlb) {
        g_free(ex);
        g_free(cpu);
        return NULL;
    }
    tlb_set_code_write_hook(cpu->tlb, code_write_hook, cpu);
    /* Until the machine gives the list of every CPU's TLB: just this one. */
    cpu->peers = &cpu->tlb;
    cpu->n_peers = 1;
    arm_cpu_reset(cpu, 0);
    return cpu;
}

void arm_cpu_free(ArmCpu *cpu)
{
    if (cpu) {
        tlb_free(cpu->tlb);
        g_free(cpu->exec_private);
        g_free(cpu);
    }
}

void arm_cpu_reset(ArmCpu *cpu, uint64_t entry)
{
    memset(cpu->x, 0, sizeof(cpu->x));
    memset(cpu->sp_el, 0, sizeof(cpu->sp_el));
    memset(cpu->v, 0, sizeof(cpu->v));
    cpu->fpcr = cpu->fpsr = 0;
    cpu->pc = entry;
    cpu->nzcv = 0;
    /* EL1h with D, A, I, F masked (ARM ARM D1.9 reset). */
    cpu->daif = ARM_PSTATE_D | ARM_PSTATE_A | ARM_PSTATE_I | ARM_PSTATE_F;
    cpu->el = 1;
    cpu->sp_sel = true;
    cpu->pan = false;
    cpu->tbi = 0;
    /* SCTLR_EL1: M = 0 (MMU off), caches off; the RES1 bits (29, 28, 23,
     * 22, 20, 11, and 8, 7 as arm_sysreg.c enforces them) set. */
    cpu->sctlr_el1 = 0x30d00980ull;   /* with bits 7 and 8, RES1 without AArch32 EL0 */
    cpu->tcr_el1 = cpu->ttbr0_el1 = cpu->ttbr1_el1 = cpu->mair_el1 = cpu->amair_el1 = 0;
    cpu->vbar_el1 = cpu->esr_el1 = cpu->far_el1 = cpu->elr_el1 = cpu->spsr_el1 = 0;
    cpu->par_el1 = cpu->cpacr_el1 = cpu->contextidr_el1 = cpu->afsr0_el1 = cpu->afsr1_el1 = 0;
    cpu->tpidr_el0 = cpu->tpidrro_el0 = cpu->tpidr_el1 = 0;
    cpu->mdscr_el1 = cpu->cntkctl_el1 = cpu->csselr_el1 = 0;
    cpu->cntfrq_el0 = 62500000;
    memset(cpu->timer, 0, sizeof(cpu->timer));
    cpu->cntvoff = 0;
    cpu->excl_addr = UINT64_MAX;
    cpu->excl_val[0] = cpu->excl_val[1] = 0;
    cpu->excl_size = 0;
    cpu->halted = false;
    cpu->wfe_halt = false;
    cpu->event_reg = false;
    cpu->code_written = false;
    cpu->il = false;
    /* Debug state: the OS lock is set at a cold reset (D2.5 OSLSR_EL1.OSLK). */
    cpu->oslk = true;
    cpu->osdlr_el1 = cpu->mdccint_el1 = 0;
    memset(cpu->dbgbvr, 0, sizeof(cpu->dbgbvr));
    memset(cpu->dbgbcr, 0, sizeof(cpu->dbgbcr));
    memset(cpu->dbgwvr, 0, sizeof(cpu->dbgwvr));
    memset(cpu->dbgwcr, 0, sizeof(cpu->dbgwcr));
    if (cpu->tlb) {
        tlb_flush(cpu->tlb);
    }
    jc_clear(exec_of(cpu));
    arm_update_mmu_index(cpu);
}

/* --- Interrupt inputs and events --- */

void arm_cpu_set_irq(ArmCpu *cpu, bool level)
{
    cpu->irq_line = level;
}

void arm_cpu_set_fiq(ArmCpu *cpu, bool level)
{
    cpu->fiq_line = level;
}

void arm_cpu_send_event(ArmCpu *cpu)
{
    cpu->event_reg = true;
}

/* Whether a CPU in WFI/WFE wakes now (ARM ARM D1.16.2, D1.16.1): a pending
 * interrupt wakes both, masked or not; an event wakes WFE. WFE with the
 * local monitor armed waits for the global monitor to be cleared by
 * another CPU's store, an event we do not track: it is treated as a
 * spurious wake-up at the next quantum (allowed by the architecture),
 * which keeps LDAXR/WFE spin-waits live under the round-robin scheduler. */
static bool wakes(const ArmCpu *cpu)
{
    if (cpu->irq_line || cpu->fiq_line) {
        return true;
    }
    return cpu->wfe_halt && (cpu->event_reg || cpu->excl_addr != UINT64_MAX);
}

/* --- Tracing --- */

static void trace_insn(ArmCpu *cpu, const A64Insn *in)
{
    char text[96];
    a64_disasm(in->raw, cpu->pc, text, sizeof(text));
    fprintf(cpu->trace_out, "cpu%u el%u 0x%016" G_GINT64_MODIFIER "x: %08x  %s\n", cpu->index,
            cpu->el, cpu->pc, in->raw, text);
}

/* --- Blocks --- */

/* Decode a block at host address `host` (RAM), `left` bytes to the page end. */
static ArmBlock *build_block(ArmCpu *cpu, uint64_t paddr, const uint8_t *host, uint64_t left)
{
    A64Insn tmp[ARM_BLOCK_MAX_INSNS];
    unsigned n = 0;
    while (n < ARM_BLOCK_MAX_INSNS && 4 * (uint64_t)n + 4 <= left) {
        uint32_t raw;
        memcpy(&raw, host + 4 * n, 4);
        a64_decode(raw, &tmp[n]);
        n++;
        /* UNDEFINED and unimplemented instructions end the block too: they
         * always take an exception. */
        if ((tmp[n - 1].flags & A64_F_ENDS_BLOCK) || tmp[n - 1].fn == a64_h_undef ||
            tmp[n - 1].fn == a64_h_unimpl) {
            break;
        }
    }
    Dispatch *d = as_dispatch(cpu->mem_as);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, paddr, NULL));
    ArmBlock *b = g_malloc(sizeof(ArmBlock) + n * sizeof(A64Insn));
    b->cb = (CodeBlock){
        .host = (uintptr_t)host,
        .mode = 0,
        .valid = true,
        .mr = s->mr,
        .offset = s->offset_in_region + (paddr - s->start),
        .nbytes = 4 * n,
    };
    mr_ref(b->cb.mr);
    b->n = (uint16_t)n;
    memcpy(b->insns, tmp, n * sizeof(A64Insn));
    tlb_protect_code(cpu->mem_as, paddr);
    return (ArmBlock *)code_cache_insert(cpu->cc, &b->cb);
}

/* Finish an instruction with result r (not ARM_R_NEXT): 1 if it retired. */
static inline unsigned finish(ArmCpu *cpu, ArmResult r)
{
    switch (r) {
    case ARM_R_EXC:
        return 0;
    case ARM_R_JUMP:
        return 1;
    case ARM_R_HALT:
        cpu->pc += 4;
        cpu->halted = true;
        return 1;
    default:  /* ARM_R_STOP, ARM_R_NEXT */
        cpu->pc += 4;
        return 1;
    }
}

/* One instruction from code that is not plain RAM (a ROM device in MMIO
 * mode): fetched and decoded every time. */
static void exec_uncached(ArmCpu *cpu)
{
    uint32_t raw;
    if (!tlb_fetch_bytes(cpu->tlb, cpu->pc, fetch_index(cpu), &raw, 4)) {
        return;  /* the instruction abort was taken */
    }
    A64Insn in;
    a64_decode(raw, &in);
    if (G_UNLIKELY(cpu->trace & ARM_TRACE_IN_ASM)) {
        trace_insn(cpu, &in);
    }
    cpu->code_written = false;
    cpu->icount += finish(cpu, in.fn(cpu, &in));
}

static void exec_block(ArmCpu *cpu, ArmExec *ex, uint64_t budget)
{
    uint64_t pc = cpu->pc;
    if (G_UNLIKELY(pc & 3)) {
        /* PC alignment fault (ARM ARM D1.10.5): EC 0x22, FAR = ELR = PC. */
        arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(ARM_EC_PC_ALIGN, true, 0), pc, true, pc);
        return;
    }
    unsigned fidx = fetch_index(cpu);
    uint64_t key = pc | fidx;
    ArmJcEntry *je = &ex->jc[(pc >> 2) & (ARM_JC_SIZE - 1)];
    ArmBlock *b;
    if (G_LIKELY(je->key == key)) {
        b = je->b;
    } else {
        uint64_t paddr, left;
        const uint8_t *host;
        if (!tlb_translate_code(cpu->tlb, pc, fidx, &paddr, &host, &left)) {
            return;  /* the instruction abort was taken */
        }
        if (!host) {
            exec_uncached(cpu);
            return;
        }
        b = (ArmBlock *)code_cache_lookup(cpu->cc, (uintptr_t)host, 0);
        if (!b) {
            b = build_block(cpu, paddr, host, left);
        }
        je->key = key;
        je->b = b;
    }
    unsigned n = b->n;
    if (G_UNLIKELY(budget < n)) {
        n = (unsigned)budget;
    }
    cpu->code_written = false;
    const A64Insn *in = b->insns;
    if (G_UNLIKELY(cpu->trace)) {
        if (cpu->trace & ARM_TRACE_EXEC) {
            fprintf(cpu->trace_out, "cpu%u exec: 0x%016" G_GINT64_MODIFIER "x block of %u "
                    "insn(s) nzcv=%x\n", cpu->index, pc, b->n, cpu->nzcv >> 28);
        }
        for (unsigned i = 0; i < n; i++, in++) {
            if (cpu->trace & ARM_TRACE_IN_ASM) {
                trace_insn(cpu, in);
            }
            ArmResult r = in->fn(cpu, in);
            if (r != ARM_R_NEXT) {
                cpu->icount += i + finish(cpu, r);
                return;
            }
            cpu->pc += 4;
        }
        cpu->icount += n;
        return;
    }
    for (unsigned i = 0; i < n; i++, in++) {
        ArmResult r = in->fn(cpu, in);
        if (G_UNLIKELY(r != ARM_R_NEXT)) {
            cpu->icount += i + finish(cpu, r);
            return;
        }
        cpu->pc += 4;
    }
    cpu->icount += n;
}

ArmExit arm_cpu_run(ArmCpu *cpu, uint64_t max)
{
    ArmExec *ex = exec_of(cpu);
    cpu->exit_request = false;
    cpu->exit_reason = ARM_EXIT_QUANTUM;
    if (cpu->powered_off) {
        return ARM_EXIT_OFF;
    }
    uint64_t end = cpu->icount + max;
    /* Every round retires an instruction or takes an exception: bounding
     * the rounds too keeps an exception storm (a vector that faults at
     * once, forever) from holding the caller past its quantum. */
    for (uint64_t rounds = 0; cpu->icount < end && rounds < max; rounds++) {
        if (G_UNLIKELY(tlb_has_requests(cpu->tlb))) {
            tlb_process_requests(cpu->tlb);
        }
        uint64_t cce = code_cache_invalidations(cpu->cc);
        uint64_t te = tlb_epoch(cpu->tlb);
        if (G_UNLIKELY(cce != ex->jc_cc_epoch || te != ex->jc_tlb_epoch)) {
            /* Blocks were invalidated (forget them before they are freed), or
             * translations changed (a virtual PC may map elsewhere now). */
            jc_clear(ex);
            ex->jc_cc_epoch = cce;
            ex->jc_tlb_epoch = te;
            code_cache_collect(cpu->cc);
        }
        if (G_UNLIKELY(cpu->exit_request)) {
            return cpu->exit_reason;
        }
        if (G_UNLIKELY(cpu->powered_off)) {
            return ARM_EXIT_OFF;
        }
        if (G_UNLIKELY(cpu->halted)) {
            if (!wakes(cpu)) {
                return ARM_EXIT_HALTED;
            }
            cpu->halted = false;
        }
        /* Interrupts are taken at block boundaries; only a raised line can
         * make one pending (the GIC drives irq_line/fiq_line). */
        if (G_UNLIKELY(cpu->irq_line | cpu->fiq_line)) {
            if (arm_check_interrupts(cpu) && (cpu->trace & ARM_TRACE_INT)) {
                fprintf(cpu->trace_out, "cpu%u interrupt taken, vector 0x%016"
                        G_GINT64_MODIFIER "x\n", cpu->index, cpu->pc);
            }
        }
        if (G_UNLIKELY(cpu->il)) {
            /* PSTATE.IL after an illegal exception return: the next
             * instruction raises an Illegal Execution state exception
             * (D1.11.2). Only ERET sets IL, and ERET ends a block. */
            arm_raise_sync(cpu, ARM_EC_ILLEGAL_STATE, 0);
            continue;
        }
        exec_block(cpu, ex, end - cpu->icount);
    }
    return cpu->exit_request ? cpu->exit_reason : ARM_EXIT_QUANTUM;
}
