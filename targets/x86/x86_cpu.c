/*
 * The x86 CPU: lifecycle, the TLB's page-walk and fault callbacks, block
 * building and the run loop.
 *
 * The loop (x86_cpu_run): at each block boundary it performs queued TLB
 * requests, frees invalidated blocks, takes an interrupt if one is pending
 * and allowed, translates CS:RIP through the TLB's execute path, and runs
 * the cached block for that host address (building it on a miss). Within a
 * block each instruction's handler runs with cpu->next_rip set; the loop
 * commits rip afterwards unless the handler jumped or faulted. A block
 * whose page was written (self-modifying code, even by the block itself)
 * stops after the current instruction.
 */
#include <string.h>

#include "targets/x86/x86_codecache.h"
#include "targets/x86/x86_internal.h"
#include "targets/x86/x86_jit.h"
#include "targets/x86/x86_smm.h"
#ifdef MMUSIM_HOST_JIT
#include "targets/jit/jit_mem.h"
#endif

/* --- Flags and modes --- */

uint32_t x86_get_eflags(const X86Cpu *cpu)
{
    return (cpu->eflags & ~(uint32_t)X86_ARITH_FLAGS) | x86_flags_get(&cpu->lf) | 2u;
}

void x86_set_eflags(X86Cpu *cpu, uint32_t value, uint32_t mask)
{
    uint32_t cur = x86_get_eflags(cpu);
    uint32_t v = (cur & ~mask) | (value & mask);
    x86_flags_set(&cpu->lf, v & X86_ARITH_FLAGS);
    cpu->eflags = (v & ~(uint32_t)X86_ARITH_FLAGS) | 2u;
}

bool x86_long_mode(const X86Cpu *cpu)
{
    return (cpu->efer & X86_EFER_LMA) != 0;
}

unsigned x86_code_size(const X86Cpu *cpu)
{
    uint32_t a = cpu->segs[S_CS].attr;
    if (x86_long_mode(cpu) && (a & X86_SEGA_L)) {
        return 8;
    }
    return (a & X86_SEGA_DB) ? 4 : 2;
}

unsigned x86_mmu_index(const X86Cpu *cpu, bool implicit_supervisor)
{
    /* SMM with the chipset hiding SMRAM from data references (i440FX D_CLS):
     * data goes through the index bound to the machine's data view. */
    if (G_UNLIKELY(cpu->in_smm && cpu->smm_data_hidden)) {
        return X86_MMU_SMM_DATA;
    }
    return x86_fetch_mmu_index(cpu, implicit_supervisor);
}

unsigned x86_fetch_mmu_index(const X86Cpu *cpu, bool implicit_supervisor)
{
    if (cpu->cpl == 3 && !implicit_supervisor) {
        return X86_MMU_USER;
    }
    /* SDM 4.6.1: AC overrides SMAP for accesses made at CPL < 3 (explicit
     * or implicit); implicit accesses made at CPL 3 never get it. */
    if ((cpu->cr4 & X86_CR4_SMAP) && (cpu->cpl == 3 || !(cpu->eflags & X86_AC))) {
        return X86_MMU_KERNEL;
    }
    return X86_MMU_KERNEL_NOSMAP;
}

void x86_paging_changed(X86Cpu *cpu, bool keep_global)
{
    /* MOV to CR3 keeps global translations (SDM Vol. 3A 4.10.4.1); changes
     * of CR0/CR4/EFER paging bits flush everything. */
    if (keep_global && (cpu->cr4 & X86_CR4_PGE)) {
        tlb_flush_nonglobal_by_mmuidx(cpu->tlb, TLB_ALL_MMUIDX);
    } else {
        tlb_flush(cpu->tlb);
    }
}

void x86_update_mode(X86Cpu *cpu)
{
    if (!(cpu->cr0 & X86_CR0_PE)) {
        cpu->cpl = 0;
    } else if (!(cpu->eflags & X86_VM)) {
        cpu->cpl = cpu->segs[S_CS].selector & 3;
    }
}

/* --- TLB callbacks --- */

#define X86_FAULT_GP_BIT (1ull << 32)

static bool tlb_walk(void *opaque, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                     TlbTranslation *out, TlbFault *fault)
{
    X86Cpu *cpu = opaque;
    X86PagingState st = {
        .cr0 = cpu->cr0, .cr3 = cpu->cr3, .cr4 = cpu->cr4, .efer = cpu->efer,
        .smap_override = mmu_idx == X86_MMU_KERNEL_NOSMAP ||
                         (mmu_idx == X86_MMU_SMM_DATA &&
                          (!(cpu->cr4 & X86_CR4_SMAP) || (cpu->eflags & X86_AC))),
        .pae_pdptes = (cpu->cr4 & X86_CR4_PAE) && !x86_long_mode(cpu) ? cpu->pdptes : NULL,
        /* Page tables are read in the CPU's own view (mem_as). */
        .ram_cache = &cpu->walk_ram,
    };
    X86WalkResult r;
    X86AccessKind kind = access == TLB_WRITE ? X86_ACC_WRITE
                         : access == TLB_EXEC ? X86_ACC_FETCH : X86_ACC_READ;
    MemAttrs attrs = mem_attrs_cpu(cpu->index);
    attrs.smm = cpu->in_smm;
    if (!x86_page_walk(cpu->mem_as, attrs, &st, vaddr, kind, mmu_idx == X86_MMU_USER, &r)) {
        fault->target_code = r.fault_is_gp ? X86_FAULT_GP_BIT : r.error_code;
        if (G_UNLIKELY(cpu->trace & X86_TRACE_MMU)) {
            fprintf(cpu->trace_out, "cpu%u mmu: %c 0x%" G_GINT64_MODIFIER "x idx %u -> %s 0x%x\n",
                    cpu->index, "rwx"[access], vaddr, mmu_idx,
                    r.fault_is_gp ? "#GP" : "#PF", r.fault_is_gp ? 0 : r.error_code);
        }
        return false;
    }
    if (G_UNLIKELY(cpu->trace & X86_TRACE_MMU)) {
        fprintf(cpu->trace_out, "cpu%u mmu: %c 0x%" G_GINT64_MODIFIER "x idx %u -> 0x%"
                G_GINT64_MODIFIER "x prot %c%c%c page 0x%" G_GINT64_MODIFIER "x\n",
                cpu->index, "rwx"[access], vaddr, mmu_idx, r.paddr,
                (r.prot & TLB_PROT_READ) ? 'r' : '-', (r.prot & TLB_PROT_WRITE) ? 'w' : '-',
                (r.prot & TLB_PROT_EXEC) ? 'x' : '-', r.page_size);
    }
    out->paddr = r.paddr;
    out->prot = r.prot;
    out->page_size = r.page_size;
    out->global = r.global;
    out->attrs = attrs;
    return true;
}

static void tlb_raise(void *opaque, const TlbFault *f)
{
    X86Cpu *cpu = opaque;
    switch (f->kind) {
    case TLB_FAULT_TRANSLATION:
        if (f->target_code & X86_FAULT_GP_BIT) {
            x86_raise(cpu, X86_EXC_GP, 0, true);
        } else {
            cpu->cr2 = f->vaddr;
            x86_raise(cpu, X86_EXC_PF, (uint32_t)f->target_code, true);
        }
        break;
    case TLB_FAULT_ALIGNMENT:
        x86_raise(cpu, X86_EXC_AC, 0, true);
        break;
    case TLB_FAULT_WATCHPOINT:
        x86_raise(cpu, X86_EXC_DB, 0, false);
        break;
    case TLB_FAULT_BUS:
        /* Not reached: x86 has no bus errors (bus_error_faults says no). */
        break;
    }
}

/* PC semantics: unassigned reads are all-ones, writes vanish; device errors
 * do not fault the CPU either. */
static bool tlb_bus_error_faults(void *opaque, const TlbFault *f)
{
    return false;
}

static const TlbTargetOps x86_tlb_ops = { tlb_walk, tlb_raise, tlb_bus_error_faults };

/* --- Lifecycle --- */

X86Cpu *x86_cpu_new(unsigned index, CpuView *view, AddressSpace *io_as, CodeCache *cc,
                    const X86MachineOps *mops, void *machine, GError **err)
{
    X86Cpu *cpu = g_new0(X86Cpu, 1);
    cpu->index = index;
    cpu->view = view;
    cpu->mem_as = cpu_view_as(view);
    cpu->io_as = io_as;
    cpu->cc = cc;
    cpu->mops = mops;
    cpu->machine = machine;
    cpu->trace_out = stderr;
    TlbConfig cfg;
    tlb_config_default(&cfg);
    cfg.nb_mmu_idx = X86_NB_MMU;
    cpu->tlb = tlb_new(cpu->mem_as, &cfg, &x86_tlb_ops, cpu, err);
    if (!cpu->tlb) {
        g_free(cpu);
        return NULL;
    }
    cpu->jit_mode = x86_cpu_jit_default();
    cpu->irq_line = true;
    x86_cpu_reset(cpu);
    return cpu;
}

void x86_cpu_free(X86Cpu *cpu)
{
    if (cpu) {
        tlb_free(cpu->tlb);
        g_free(cpu);
    }
}

static void reset_common(X86Cpu *cpu)
{
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_DX] = 0x6f1;  /* processor signature, as CPUID leaf 1 reports it (SDM 9.1.4) */
    cpu->rip = 0xfff0;
    x86_flags_set(&cpu->lf, 0);
    cpu->eflags = 2;
    for (int s = 0; s < 6; s++) {
        cpu->segs[s] = (X86Seg){ 0, 0, 0xffff, X86_SEGA_P | X86_SEGA_S | 0x3 /* data RW, accessed */ };
    }
    cpu->segs[S_CS] = (X86Seg){ 0xf000, 0xffff0000, 0xffff, X86_SEGA_P | X86_SEGA_S | 0xb };
    cpu->ldtr = (X86Seg){ 0, 0, 0xffff, X86_SEGA_P | 0x2 };
    cpu->tr = (X86Seg){ 0, 0, 0xffff, X86_SEGA_P | 0xb };
    cpu->gdtr = (X86Table){ 0, 0xffff };
    cpu->idtr = (X86Table){ 0, 0xffff };
    cpu->cr0 = X86_CR0_ET | X86_CR0_CD | X86_CR0_NW;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = cpu->cr8 = 0;
    cpu->efer = 0;
    memset(cpu->dr, 0, sizeof(cpu->dr));
    cpu->dr[6] = 0xffff0ff0;
    cpu->dr[7] = 0x400;
    cpu->cpl = 0;
    cpu->halted = false;
    cpu->irq_shadow = false;
    cpu->nmi_pending = false;
    cpu->exc = (X86PendingExc){ .vector = -1 };
    cpu->exc_depth = 0;
    x86_smm_leave_on_reset(cpu);  /* RESET and INIT both end SMM */
    if (cpu->tlb) {
        tlb_flush(cpu->tlb);
    }
    x86_seg_windows_update(cpu);
}

void x86_cpu_reset(X86Cpu *cpu)
{
    reset_common(cpu);
    cpu->star = cpu->lstar = cpu->cstar = cpu->sfmask = cpu->kernel_gs_base = 0;
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->tsc_offset = 0;
    cpu->pat = 0x0007040600070406ull;
    cpu->misc_enable = 1;
    cpu->tsc_aux = 0;
    /* SMBASE is 0x30000 after RESET and kept by INIT (SDM Vol. 3C ch. 34,
     * "SMBASE Relocation"); a latched SMI survives INIT, not RESET. */
    cpu->smbase = X86_SMBASE_DEFAULT;
    cpu->smi_pending = false;
}

void x86_cpu_init(X86Cpu *cpu)
{
    /* INIT keeps MSRs, caches and the x87/SSE state (SDM 9.1, table 9-1). */
    reset_common(cpu);
}

/* --- Exceptions --- */

void x86_raise(X86Cpu *cpu, int vector, uint32_t error_code, bool has_error)
{
    cpu->exc = (X86PendingExc){ vector, error_code, has_error, false };
}

int x86_unimplemented(X86Cpu *cpu, const X86Insn *in)
{
    static GHashTable *reported;
    if (!reported) {
        reported = g_hash_table_new(NULL, NULL);
    }
    if (g_hash_table_add(reported, GUINT_TO_POINTER((guint)in->id + 1))) {
        uint8_t bytes[16] = { 0 };
        char text[96];
        uint64_t lin = cpu->segs[S_CS].base + cpu->rip;
        tlb_fetch_bytes(cpu->tlb, lin, x86_fetch_mmu_index(cpu, false), bytes, in->len);
        x86_disasm(bytes, in->len, x86_code_size(cpu), cpu->rip, text, sizeof(text));
        fprintf(stderr, "mmusim: x86: instruction not implemented, raising #UD (reported once): "
                        "%s at %04x:%" G_GINT64_MODIFIER "x\n", text, cpu->segs[S_CS].selector,
                cpu->rip);
    }
    x86_raise(cpu, X86_EXC_UD, 0, false);
    return X86_R_EXC;
}

/* --- Blocks --- */

static void trace_insn(X86Cpu *cpu, const X86Insn *in)
{
    uint8_t bytes[16] = { 0 };
    char text[96];
    uint64_t lin = cpu->segs[S_CS].base + cpu->rip;
    tlb_fetch_bytes(cpu->tlb, lin, x86_fetch_mmu_index(cpu, false), bytes, in->len);
    x86_disasm(bytes, in->len, x86_code_size(cpu), cpu->rip, text, sizeof(text));
    fprintf(cpu->trace_out, "cpu%u %04x:%08" G_GINT64_MODIFIER "x  %s\n", cpu->index,
            cpu->segs[S_CS].selector, cpu->rip, text);
}

/* Decode a block at host address `host` (RAM), `left` bytes to the page end. */
static X86Block *build_block(X86Cpu *cpu, uint64_t paddr, const uint8_t *host, uint64_t left,
                             unsigned code_size)
{
    X86Insn tmp[X86_BLOCK_MAX_INSNS];
    unsigned n = 0, bytes = 0;
    while (n < X86_BLOCK_MAX_INSNS && bytes < left) {
        bool more;
        unsigned avail = (unsigned)MIN(left - bytes, 15);
        if (!x86_decode(host + bytes, avail, code_size, cpu->rip + bytes, &tmp[n], &more)) {
            break; /* invalid, or runs into the next page: the block ends before it */
        }
        if (!tmp[n].fn) {
            tmp[n].fn = x86_unimplemented;
        }
        bytes += tmp[n].len;
        n++;
        if (tmp[n - 1].flags & X86_INSN_ENDS_BLOCK) {
            break;
        }
    }
    if (n == 0) {
        return NULL;
    }
    Dispatch *d = as_dispatch(cpu->mem_as);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, paddr, NULL));
    X86Block *b = g_malloc0(sizeof(X86Block) + n * sizeof(X86Insn));
    b->cb = (CodeBlock){
        .host = (uintptr_t)host,
        .mode = code_size,
        .valid = true,
        .mr = s->mr,
        .offset = s->offset_in_region + (paddr - s->start),
        .nbytes = bytes,
    };
    mr_ref(b->cb.mr);
    b->n = (uint16_t)n;
    memcpy(b->insns, tmp, n * sizeof(X86Insn));
    tlb_protect_code(cpu->mem_as, paddr);
    if ((paddr & 0xfff) + bytes > 0x1000) {
        tlb_protect_code(cpu->mem_as, paddr + bytes - 1);
    }
    return (X86Block *)code_cache_insert(cpu->cc, &b->cb);
}

/* Deliver a pending exception (double/triple fault logic in x86_deliver). */
static void deliver_pending(X86Cpu *cpu)
{
    X86PendingExc e = cpu->exc;
    cpu->exc.vector = -1;
    if (cpu->trace & X86_TRACE_INT) {
        fprintf(cpu->trace_out, "cpu%u exception %d error 0x%x at %04x:%" G_GINT64_MODIFIER "x\n",
                cpu->index, e.vector, e.error_code, cpu->segs[S_CS].selector, cpu->rip);
    }
    x86_deliver(cpu, e.vector, e.error_code, e.has_error, e.is_soft,
                e.is_soft ? cpu->next_rip : cpu->rip);
    x86_seg_windows_update(cpu);  /* CS, SS, CPL, EFLAGS may have changed */
}

/* Execute one instruction decoded outside the cache (code in MMIO, or an
 * instruction straddling a page end). */
static void exec_uncached(X86Cpu *cpu, uint64_t lin, unsigned code_size)
{
    uint8_t bytes[15];
    unsigned got = 0;
    /* Fetch as many bytes as are accessible, up to 15. */
    while (got < sizeof(bytes) &&
           tlb_fetch_bytes(cpu->tlb, lin + got, x86_fetch_mmu_index(cpu, false), bytes + got, 1)) {
        got++;
    }
    cpu->exc.vector = -1; /* a fault past the instruction's end is not its fault */
    X86Insn in;
    bool more;
    if (!x86_decode(bytes, got, code_size, cpu->rip, &in, &more)) {
        if (more && got < sizeof(bytes)) {
            /* The instruction needs a byte we cannot fetch: that fetch faults. */
            tlb_fetch_bytes(cpu->tlb, lin + got, x86_fetch_mmu_index(cpu, false), bytes + got, 1);
        } else {
            x86_raise(cpu, X86_EXC_UD, 0, false);
        }
        deliver_pending(cpu);
        return;
    }
    if (!in.fn) {
        in.fn = x86_unimplemented;
    }
    cpu->next_rip = x86_ip_mask(cpu, cpu->rip + in.len);
    if (cpu->trace & X86_TRACE_IN_ASM) {
        trace_insn(cpu, &in);
    }
    int r = in.fn(cpu, &in);
    cpu->icount++;
    if (r == X86_R_EXC) {
        cpu->icount--;
        deliver_pending(cpu);
    } else if (r != X86_R_JUMP) {
        cpu->rip = cpu->next_rip;
    }
    if (in.flags & X86_INSN_SEGW) {
        x86_seg_windows_update(cpu);
    }
}

static inline unsigned jc_hash(uint64_t lin)
{
    return (unsigned)((lin ^ (lin >> 10)) & (X86_JC_SIZE - 1));
}

/* An instruction returned something else than X86_R_NEXT. */
static inline void finish_insn(X86Cpu *cpu, const X86Insn *in, int r)
{
    if (r == X86_R_EXC) {
        deliver_pending(cpu);
        return;
    }
    cpu->icount++;
    if (r == X86_R_STOP) {
        cpu->rip = cpu->next_rip;
    }
    if (in->flags & X86_INSN_SEGW) {
        x86_seg_windows_update(cpu);
    }
}

/* exec_block's loop with the exec and in_asm traces. */
static G_GNUC_NO_INLINE void exec_block_traced(X86Cpu *cpu, X86Block *b, unsigned n,
                                               uint64_t paddr, uint64_t ip_mask)
{
    if (cpu->trace & X86_TRACE_EXEC) {
        fprintf(cpu->trace_out, "cpu%u exec: %04x:%08" G_GINT64_MODIFIER "x phys 0x%08"
                G_GINT64_MODIFIER "x block of %u insn(s) eax=%08x ebx=%08x ecx=%08x edx=%08x "
                "esi=%08x edi=%08x ebp=%08x esp=%08x eflags=%08x\n", cpu->index,
                cpu->segs[S_CS].selector, cpu->rip, paddr, b->n, (uint32_t)cpu->regs[R_AX],
                (uint32_t)cpu->regs[R_BX], (uint32_t)cpu->regs[R_CX], (uint32_t)cpu->regs[R_DX],
                (uint32_t)cpu->regs[R_SI], (uint32_t)cpu->regs[R_DI], (uint32_t)cpu->regs[R_BP],
                (uint32_t)cpu->regs[R_SP], x86_get_eflags(cpu));
    }
    for (unsigned i = 0; i < n; i++) {
        const X86Insn *in = &b->insns[i];
        cpu->next_rip = (cpu->rip + in->len) & ip_mask;
        if (cpu->trace & X86_TRACE_IN_ASM) {
            trace_insn(cpu, in);
        }
        int r = in->fn(cpu, in);
        if (r != X86_R_NEXT) {
            finish_insn(cpu, in, r);
            return;
        }
        cpu->icount++;
        cpu->rip = cpu->next_rip;
        if (in->flags & X86_INSN_SEGW) {
            x86_seg_windows_update(cpu);
        }
        if (!b->cb.valid || cpu->exit_request || cpu->smi_pending) {
            return;
        }
    }
}

X86JitMode x86_cpu_jit_default(void)
{
    const char *e = g_getenv("MMUSIM_JIT");
    if (!e || !*e || strcmp(e, "on") == 0) {
        return X86_JIT_ON;
    }
    if (strcmp(e, "off") == 0) {
        return X86_JIT_OFF;
    }
    if (strcmp(e, "eager") == 0) {
        return X86_JIT_EAGER;
    }
    static gsize warned;
    if (g_once_init_enter(&warned)) {
        mem_report("x86: MMUSIM_JIT='%s' is not on, off or eager: translating as with 'on' "
                   "(reported once)", e);
        g_once_init_leave(&warned, 1);
    }
    return X86_JIT_ON;
}

void x86_cpu_set_jit(X86Cpu *cpu, X86JitMode mode)
{
    cpu->jit_mode = (uint8_t)mode;
}

/* The block's translation, made now if it is due; NULL: interpret it. */
static inline X86JitFn block_jit(X86Cpu *cpu, X86Block *b, unsigned code_size)
{
#ifdef MMUSIM_HOST_JIT
    if (!cpu->jit_mode) {
        return NULL;
    }
    if (G_LIKELY(b->jit != NULL) && G_LIKELY(b->jit_gen == jit_mem_generation())) {
        return b->jit;
    }
    if (b->jit_unable || (cpu->jit_mode == X86_JIT_ON && ++b->execs < X86_JIT_THRESHOLD)) {
        return NULL;
    }
    X86JitFn fn = x86_jit_translate(b, code_size);
    if (!fn) {
        b->jit_unable = true;
        return NULL;
    }
    b->jit = fn;
    b->jit_gen = jit_mem_generation();
    return fn;
#else
    (void)cpu;
    (void)b;
    (void)code_size;
    return NULL;
#endif
}

/* Whether a round has anything to do before running the next block: the
 * common case, none of it, costs these loads only. */
static inline bool round_pending(X86Cpu *cpu)
{
    return tlb_has_requests(cpu->tlb) ||
           code_cache_invalidations(cpu->cc) != cpu->jc_epoch ||
           tlb_epoch(cpu->tlb) != cpu->jc_tlb_epoch ||
           (cpu->exit_request | cpu->halted | cpu->irq_shadow | cpu->nmi_pending |
            cpu->smi_pending) ||
           ((cpu->eflags & X86_IF) && cpu->irq_line && cpu->mops && cpu->mops->pending_irq);
}

/* Run blocks from CS:RIP: the first one found through the jump cache, the
 * TLB or the code cache (built if need be), then, as long as a block ends
 * with a jump that leaves the segment state alone and no round work is
 * pending (round_pending), the next one if the jump cache has it. At most
 * one instruction after an interrupt shadow, and never past icount `end`. */
static void exec_block(X86Cpu *cpu, uint64_t end, bool shadow)
{
    /* Code size and fetch MMU index as of the last x86_seg_windows_update(),
     * which runs after everything that may change them. */
    unsigned code_size = cpu->fetch_code_size;
    uint32_t mode = cpu->fetch_mode;
    unsigned mmu_idx = mode >> 4;
    X86Seg *cs = &cpu->segs[S_CS];
    uint64_t rip = cpu->rip;
    if (code_size != 8 && rip > cs->limit) {
        x86_raise(cpu, X86_EXC_GP, 0, true);
        deliver_pending(cpu);
        return;
    }
    uint64_t lin = code_size == 8 ? rip : (uint32_t)(cs->base + rip);
    struct X86JumpEntry *je = &cpu->jc[jc_hash(lin)];
    X86Block *b;
    uint64_t paddr = 0;
    if (G_LIKELY(je->lin == lin && je->mode == mode)) {
        b = je->b;
    } else {
        uint64_t left;
        const uint8_t *host;
        if (!tlb_translate_code(cpu->tlb, lin, mmu_idx, &paddr, &host, &left)) {
            deliver_pending(cpu);
            return;
        }
        if (!host) {
            exec_uncached(cpu, lin, code_size);
            return;
        }
        if (code_size != 8 && cs->limit - cpu->rip + 1 < left) {
            left = cs->limit - cpu->rip + 1; /* never decode past the segment limit */
        }
        b = (X86Block *)code_cache_lookup(cpu->cc, (uintptr_t)host, code_size);
        if (!b) {
            b = build_block(cpu, paddr, host, left, code_size);
            if (!b) {
                exec_uncached(cpu, lin, code_size);
                return;
            }
        }
        /* A block ending at the limit may not be reused where the limit
         * is lower: only cache what the current limit fully allows. */
        if (code_size == 8 || cpu->rip + b->cb.nbytes - 1 <= cs->limit) {
            *je = (struct X86JumpEntry){ lin, mode, b };
        }
    }
    uint64_t budget = shadow ? 1 : end - cpu->icount;
    unsigned n = (unsigned)MIN((uint64_t)b->n, budget);
    /* The code size cannot change within a block (what changes CS ends it). */
    uint64_t ip_mask = code_size == 8 ? UINT64_MAX : x86_mask(code_size);
    if (G_UNLIKELY(cpu->trace & (X86_TRACE_EXEC | X86_TRACE_IN_ASM))) {
        exec_block_traced(cpu, b, n, paddr, ip_mask);
        return;
    }
    for (;;) {
        X86JitFn jit;
        if (n == b->n && !shadow && (jit = block_jit(cpu, b, code_size)) != NULL) {
            cpu->jit_block = b;
            /* What the chain path below would ask before each next block:
             * translated code goes on by itself only if nothing is pending
             * now (then only a handler can change that). */
            cpu->jit_chain_ok = !round_pending(cpu);
            int v = jit(cpu, end);
            b = cpu->jit_block;   /* translations chain: the exit is the last one's */
            unsigned kind = X86_JX_KIND(v);
            if (kind == X86_JX_CHAIN) {
                goto chain;
            }
            const X86Insn *at = &b->insns[kind == X86_JX_END ? b->n - 1u : X86_JX_INSN(v)];
            if (kind == X86_JX_FINISH) {
                finish_insn(cpu, at, (int)X86_JX_R(v));
            } else if (at->flags & X86_INSN_SEGW) {
                x86_seg_windows_update(cpu);
            }
            return;
        }
        const X86Insn *in = b->insns;
        bool stopped = false;
        for (unsigned i = 0; i < n; i++, in++) {
            uint64_t next = (rip + in->len) & ip_mask;
            cpu->next_rip = next;
            int r = in->fn(cpu, in);
            if (G_UNLIKELY(r != X86_R_NEXT)) {
                if (r == X86_R_JUMP && !(in->flags & X86_INSN_SEGW)) {
                    cpu->icount++;
                    goto chain;
                }
                finish_insn(cpu, in, r);
                return;
            }
            cpu->icount++;
            cpu->rip = rip = next;
            if (!(in->flags & X86_INSN_REGONLY) &&
                G_UNLIKELY(!b->cb.valid || cpu->exit_request || cpu->smi_pending)) {
                /* The block's code was overwritten, someone asked us to stop,
                 * or an SMI arrived (a write to the APM port or the APIC ICR
                 * is followed by SMM at the next instruction boundary). */
                in++;
                stopped = true;
                break;
            }
        }
        if (G_UNLIKELY(in[-1].flags & X86_INSN_SEGW)) {
            x86_seg_windows_update(cpu);  /* a segment load that returned X86_R_NEXT */
            return;
        }
        if (stopped) {
            return;
        }
        /* Fell off the end (a not-taken branch, a page end, the block size
         * or the budget): chain on like a jump, as translated blocks do, so
         * that both count the same rounds (x86_cpu_run's round bound). */
        goto chain;
    chain:
        /* A near jump or a fall-through: the code size and fetch mode stay.
         * Go on with the next block if x86_cpu_run would find nothing to do
         * in between and the jump cache has it; otherwise let the loop take
         * the long way. */
        if (shadow || cpu->icount >= end || round_pending(cpu) || G_UNLIKELY(cpu->trace)) {
            return;
        }
        rip = cpu->rip;
        if (code_size != 8 && rip > cs->limit) {
            return;
        }
        lin = code_size == 8 ? rip : (uint32_t)(cs->base + rip);
        je = &cpu->jc[jc_hash(lin)];
        if (!(je->lin == lin && je->mode == mode)) {
            return;
        }
        b = je->b;
        budget = end - cpu->icount;
        n = (unsigned)MIN((uint64_t)b->n, budget);
    }
}

/* The work of a round at a block boundary: TLB requests, invalidated
 * blocks, SMI, NMI, interrupts. Returns -1 to go on running (*shadow: only
 * one instruction may run), or why x86_cpu_run returns. */
static G_GNUC_NO_INLINE int round_events(X86Cpu *cpu, bool *shadow_out)
{
    if (G_UNLIKELY(tlb_has_requests(cpu->tlb))) {
        tlb_process_requests(cpu->tlb);
    }
    uint64_t epoch = code_cache_invalidations(cpu->cc);
    uint64_t tepoch = tlb_epoch(cpu->tlb);
    if (G_UNLIKELY(epoch != cpu->jc_epoch || tepoch != cpu->jc_tlb_epoch)) {
        /* Blocks were invalidated (forget them before they are freed), or
         * translations were flushed (linear addresses may map elsewhere). */
        memset(cpu->jc, 0, sizeof(cpu->jc));
        cpu->jc_epoch = epoch;
        cpu->jc_tlb_epoch = tepoch;
        /* Every block put in the graveyard moved the invalidation count:
         * collecting here, after forgetting them, is enough. */
        code_cache_collect(cpu->cc);
    }
    if (cpu->exit_request) {
        return cpu->exit_reason;
    }
    bool shadow = cpu->irq_shadow;
    cpu->irq_shadow = false;
    /* SMI first (SDM 6.9: above NMI and INTR); held while in SMM (taken
     * after RSM), and, like NMI, after an STI/MOV SS shadow. It wakes
     * the CPU from HLT (the auto-halt restart field decides whether
     * RSM halts again). NMIs are blocked in SMM until RSM. */
    if (!shadow && cpu->smi_pending && !cpu->in_smm) {
        cpu->smi_pending = false;
        x86_smm_enter(cpu);
        x86_seg_windows_update(cpu);
        /* Its TLB flush dropped every translation: so goes the jump cache. */
        memset(cpu->jc, 0, sizeof(cpu->jc));
        cpu->jc_tlb_epoch = tlb_epoch(cpu->tlb);
    } else if (!shadow && cpu->nmi_pending && !cpu->in_smm) {
        cpu->nmi_pending = false;
        cpu->halted = false;
        x86_deliver(cpu, X86_EXC_NMI, 0, false, false, cpu->rip);
        x86_seg_windows_update(cpu);
    } else if (!shadow && (cpu->eflags & X86_IF) && cpu->irq_line && cpu->mops &&
               cpu->mops->pending_irq) {
        int v = cpu->mops->pending_irq(cpu->machine, cpu);
        if (v >= 0) {
            cpu->halted = false;
            if (cpu->trace & X86_TRACE_INT) {
                fprintf(cpu->trace_out, "cpu%u interrupt %d\n", cpu->index, v);
            }
            x86_deliver(cpu, v, 0, false, false, cpu->rip);
            x86_seg_windows_update(cpu);
        }
    }
    if (cpu->exit_request) {
        return cpu->exit_reason;
    }
    if (cpu->halted) {
        return X86_EXIT_HALTED;
    }
    *shadow_out = shadow;
    return -1;
}

X86Exit x86_cpu_run(X86Cpu *cpu, uint64_t max)
{
    uint64_t end = cpu->icount + max;
    cpu->exit_request = false;
    cpu->exit_reason = X86_EXIT_QUANTUM;
    /* The machine, a debugger or a test may have changed segments or modes
     * directly since the last run. */
    x86_seg_windows_update(cpu);
    /* Every round retires an instruction or delivers an event: bounding the
     * rounds too keeps an exception storm (a handler that faults at once,
     * forever) from holding the caller past its quantum. */
    for (uint64_t rounds = 0; cpu->icount < end && rounds < max; rounds++) {
        bool shadow = false;
        if (G_UNLIKELY(round_pending(cpu))) {
            int r = round_events(cpu, &shadow);
            if (r >= 0) {
                return (X86Exit)r;
            }
        }
        /* After STI/MOV SS only one instruction runs before interrupts are looked at. */
        exec_block(cpu, end, shadow);
    }
    return cpu->exit_request ? cpu->exit_reason : X86_EXIT_QUANTUM;
}
