/*
 * x86 block translator (x86_jit.h explains what a translation must keep).
 *
 * Host register use inside translated code:
 *   RBX  the X86Cpu                      R12  rip at block entry
 *   R14  nonzero once a handler ran in this iteration of a self-loop
 *   R15  the icount limit (`end`)
 *   RAX RCX RDX RSI RDI  scratch; every handler call clobbers them.
 * Guest registers stay in X86Cpu.regs: each instruction loads what it
 * reads and stores what it writes, so any exit leaves the state complete.
 *
 * icount invariant: on the straight-line path, memory holds the count at
 * the start of the iteration plus `flushed` (known here). Handler calls
 * first bring it up to date (handlers read it: RDTSC, the APIC timer), and
 * a slow path that returns to the fast code puts it back as it was.
 *
 * Exits go through out-of-line stubs emitted after the block body, then one
 * shared epilogue; the hot path falls through.
 */
#include "targets/x86/x86_jit_internal.h"

#ifdef MMUSIM_HOST_JIT

/* --- Building blocks --- */

Stub *xj_new_stub(Tr *tr, StubKind kind, unsigned insn)
{
    if (tr->nstubs == MAX_STUBS) {
        tr->failed = true;
        return &tr->stubs[0];
    }
    Stub *s = &tr->stubs[tr->nstubs++];
    *s = (Stub){ .kind = kind, .insn = insn };
    return s;
}

static void stub_patch(Tr *tr, Stub *s, size_t at)
{
    if (s->npatch == MAX_PATCH) {
        tr->failed = true;
        return;
    }
    s->patch[s->npatch++] = at;
}

void xj_jcc_to(Tr *tr, Stub *s, X64Cond cc) { stub_patch(tr, s, x64_jcc(&tr->b, cc)); }

void xj_jmp_to(Tr *tr, Stub *s) { stub_patch(tr, s, x64_jmp(&tr->b)); }

void xj_add_icount(Tr *tr, int64_t k)
{
    if (k) {
        x64_alu_mi(&tr->b, X64_ADD, 8, cpu_mem(CPU_OFF(icount)), (int32_t)k);
    }
}

/* reg = the address `off` bytes past the block start, masked to the code size. */
void xj_ip_at(Tr *tr, X64Reg reg, int64_t off)
{
    x64_lea(&tr->b, tr->code_size == 8 ? 8 : 4, reg, x64_mem(RIP0, (int32_t)off));
}

void xj_store_rip(Tr *tr, int64_t off)
{
    xj_ip_at(tr, X64_RAX, off);
    x64_store(&tr->b, 8, cpu_mem(CPU_OFF(rip)), X64_RAX);
}

/* Call instruction i's handler. On the main path (`restore` false) the
 * count is brought to i and stays there; from a slow stub it is put back
 * to `flushed` afterwards. Exits: STUB_RET, STUB_BREAK. */
void xj_emit_call(Tr *tr, unsigned i, unsigned flushed, bool restore)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    xj_add_icount(tr, (int64_t)i - flushed);
    xj_store_rip(tr, tr->off[i]);
    xj_ip_at(tr, X64_RAX, tr->off[i + 1]);
    x64_store(b, 8, cpu_mem(CPU_OFF(next_rip)), X64_RAX);
    x64_mov_rr(b, 8, X64_RDI, CPU);
    x64_mov_ri(b, X64_RSI, (uint64_t)(uintptr_t)in);
    x64_call(b, (const void *)in->fn);
    x64_mov_ri(b, SLOWRAN, 1);
    x64_test_rr(b, 4, X64_RAX, X64_RAX);
    xj_jcc_to(tr, xj_new_stub(tr, STUB_RET, i), X64_CC_NE);
    if (!(in->flags & X86_INSN_REGONLY)) {
        Stub *brk = xj_new_stub(tr, STUB_BREAK, i);
        x64_mov_ri(b, X64_RAX, (uint64_t)(uintptr_t)&tr->blk->cb.valid);
        x64_alu_mi(b, X64_CMP, 1, x64_mem(X64_RAX, 0), 0);
        xj_jcc_to(tr, brk, X64_CC_E);
        x64_alu_mi(b, X64_CMP, 1, cpu_mem(CPU_OFF(exit_request)), 0);
        xj_jcc_to(tr, brk, X64_CC_NE);
        x64_alu_mi(b, X64_CMP, 1, cpu_mem(CPU_OFF(smi_pending)), 0);
        xj_jcc_to(tr, brk, X64_CC_NE);
    }
    if (restore) {
        xj_add_icount(tr, -((int64_t)i - flushed));
    } else {
        tr->flushed = i;
        tr->prod = -1;
        tr->prod_stored = false;
    }
    tr->hostflags = false;
}

/* RCX = the operand's effective address (before segmentation). */
void xj_emit_ea(Tr *tr, unsigned i, const X86Insn *in, const X86Operand *o)
{
    X64Buf *b = &tr->b;
    unsigned as = in->addrsize;
    unsigned hs = as == 8 ? 8 : 4;          /* host lea size; 16-bit masked below */
    int32_t disp = (int32_t)o->disp;        /* 32/16-bit sums wrap alike */
    bool have_base = false;
    if (o->base == X86_RIP_REG) {
        x64_lea(b, 8, X64_RCX, x64_mem(RIP0, (int32_t)tr->off[i + 1]));
        have_base = true;
    } else if (o->base != X86_NO_REG) {
        x64_load(b, 8, X64_RCX, cpu_mem(REG_OFF(o->base)));
        have_base = true;
    }
    if (o->index != X86_NO_REG) {
        x64_load(b, 8, X64_RDX, cpu_mem(REG_OFF(o->index)));
        if (have_base) {
            x64_lea(b, hs, X64_RCX, x64_mem_idx(X64_RCX, X64_RDX, o->scale, disp));
        } else {
            unsigned sh = o->scale == 8 ? 3 : o->scale == 4 ? 2 : o->scale == 2 ? 1 : 0;
            if (sh) {
                x64_shift_ri(b, X64_SHL, 8, X64_RDX, (uint8_t)sh);
            }
            x64_lea(b, hs, X64_RCX, x64_mem(X64_RDX, disp));
        }
    } else if (have_base) {
        if (disp != 0 || hs == 4) {
            x64_lea(b, hs, X64_RCX, x64_mem(X64_RCX, disp));
        }
    } else {
        x64_mov_ri(b, X64_RCX, (uint64_t)o->disp & x86_mask(as));
    }
    if (as == 2) {
        x64_movzx_rr(b, 2, X64_RCX, X64_RCX);
    }
}

/* The segment window test of x86_seg_window_hit for window w. */
static void emit_window(Tr *tr, Stub *slow, unsigned seg, unsigned w, unsigned size)
{
    X64Buf *b = &tr->b;
    x64_mov_rr(b, 8, X64_RAX, X64_RCX);
    x64_alu_rm(b, X64_SUB, 8, X64_RAX, cpu_mem(WIN_OFF(seg, w, lo)));
    x64_lea(b, 8, X64_RDX, x64_mem(X64_RAX, (int32_t)size));
    x64_alu_rm(b, X64_CMP, 8, X64_RDX, cpu_mem(WIN_OFF(seg, w, cnt)));
    xj_jcc_to(tr, slow, X64_CC_A);
    x64_alu_rm(b, X64_CMP, 8, X64_RAX, cpu_mem(WIN_OFF(seg, w, cnt)));
    xj_jcc_to(tr, slow, X64_CC_AE);
}

Stub *xj_slow_stub(Tr *tr, unsigned i)
{
    Stub *slow = xj_new_stub(tr, STUB_SLOW, i);
    slow->flushed = tr->flushed;
    return slow;
}

/* RCX holds an offset in segment `seg`: make it the host address of a
 * `size`-byte access, or jump to `slow`. Clobbers RAX, RDX, RSI. */
void xj_emit_access(Tr *tr, Stub *slow, unsigned seg, unsigned size, unsigned acc)
{
    X64Buf *b = &tr->b;
    if (acc & ACC_READ) {
        emit_window(tr, slow, seg, 0, size);
    }
    if (acc & ACC_WRITE) {
        emit_window(tr, slow, seg, 1, size);
    }
    x64_alu_rm(b, X64_ADD, 8, X64_RCX, cpu_mem(WIN_OFF(seg, (acc & ACC_WRITE) ? 1 : 0, base)));
    x64_load(b, 8, X64_RDX, cpu_mem(CPU_OFF(jit_dtlb)));
    x64_mov_rr(b, 8, X64_RAX, X64_RCX);
    x64_shift_ri(b, X64_SHR, 8, X64_RAX, 12);
    x64_alu_rm(b, X64_AND, 8, X64_RAX, x64_mem(X64_RDX, (int32_t)offsetof(TlbTable, mask)));
    x64_shift_ri(b, X64_SHL, 8, X64_RAX, 5);
    x64_alu_rm(b, X64_ADD, 8, X64_RAX, x64_mem(X64_RDX, (int32_t)offsetof(TlbTable, entries)));
    x64_lea(b, 8, X64_RSI, x64_mem(X64_RCX, (int32_t)size - 1));
    x64_alu_ri(b, X64_AND, 8, X64_RSI, -4096);
    if (acc & ACC_READ) {
        x64_alu_rm(b, X64_CMP, 8, X64_RSI, x64_mem(X64_RAX, (int32_t)offsetof(TlbEntry, addr_read)));
        xj_jcc_to(tr, slow, X64_CC_NE);
    }
    if (acc & ACC_WRITE) {
        x64_alu_rm(b, X64_CMP, 8, X64_RSI, x64_mem(X64_RAX, (int32_t)offsetof(TlbEntry, addr_write)));
        xj_jcc_to(tr, slow, X64_CC_NE);
    }
    x64_alu_rm(b, X64_ADD, 8, X64_RCX, x64_mem(X64_RAX, (int32_t)offsetof(TlbEntry, addend)));
    x64_alu_mi(b, X64_ADD, 8,
               x64_mem(X64_RDX, (int32_t)(offsetof(TlbTable, stats) + offsetof(TlbStats, hits))),
               acc == ACC_RMW ? 2 : 1);
    tr->hostflags = false;
}

/*
 * RCX = the host address of a `size`-byte access through operand o, by the
 * path x86_read_seg/x86_write_seg + tlb_load/tlb_store take when everything
 * hits plain RAM; anything else jumps to the instruction's slow stub.
 * Counts the TLB hits as those would (one per access).
 */
void xj_emit_mem(Tr *tr, unsigned i, const X86Operand *o, unsigned size, unsigned acc)
{
    Stub *slow = xj_slow_stub(tr, i);
    xj_emit_ea(tr, i, &tr->blk->insns[i], o);
    xj_emit_access(tr, slow, o->seg, size, acc);
}

/* The slow stub of instruction i (the last STUB_SLOW created) resumes here. */
void xj_slow_resume_here(Tr *tr, unsigned i)
{
    for (unsigned k = tr->nstubs; k-- > 0;) {
        Stub *s = &tr->stubs[k];
        if (s->kind == STUB_SLOW && s->insn == i) {
            s->resume = x64_buf_used(&tr->b);
            return;
        }
    }
}

void xj_note_producer(Tr *tr, X86CCOp op, unsigned size, bool stored, bool host)
{
    tr->prod = op;
    tr->prod_size = size;
    tr->prod_stored = stored;
    tr->hostflags = host;
}

/* Leave through the epilogue with `value` (the icount and rip stores done
 * by the caller). */
void xj_exit_with(Tr *tr, int value)
{
    if (value == X86_JX_CHAIN) {
        if (!tr->chain) {
            tr->chain = xj_new_stub(tr, STUB_CHAIN, 0);
        }
        xj_jmp_to(tr, tr->chain);
        return;
    }
    x64_mov_ri(&tr->b, X64_RAX, (uint32_t)value);
    xj_jmp_to(tr, xj_new_stub(tr, STUB_EXIT, 0));
}

/* --- Stubs, prologue, epilogue --- */

/* Where a chained block is entered: past the prologue's pushes and the
 * copies of the arguments, which the running frame already holds. */
#define X86_JIT_CHAIN_ENTRY 17

_Static_assert(sizeof(struct X86JumpEntry) == 24, "jump cache entries are indexed * 24");

/*
 * The run loop's chaining (exec_block: round_pending, the jump cache, the
 * budget) done in host code, so that hot code does not return to C between
 * blocks. Round work is absent if the loop found none when it entered
 * translated code (X86Cpu.jit_chain_ok) and no handler ran since (R14):
 * every state round_pending reads changes only in handlers, their slow
 * paths, or outside the CPU's run. Then: the CS limit
 * check of exec_block, the jump cache entry for (linear rip, fetch mode),
 * a translation of this thread's current generation, and a budget that
 * fits the whole next block; anything else returns X86_JX_CHAIN.
 */
static void emit_chain_dispatch(Tr *tr, size_t epilogue_at)
{
    X64Buf *b = &tr->b;
    size_t out[8];
    unsigned nout = 0;
    x64_test_rr(b, 4, SLOWRAN, SLOWRAN);
    out[nout++] = x64_jcc(b, X64_CC_NE);
    x64_alu_mi(b, X64_CMP, 1, cpu_mem(CPU_OFF(jit_chain_ok)), 0);
    out[nout++] = x64_jcc(b, X64_CC_E);
    x64_load(b, 8, X64_RAX, cpu_mem(CPU_OFF(rip)));
    if (tr->code_size == 4) {
        x64_alu_rm(b, X64_CMP, 4, X64_RAX, cpu_mem(CPU_OFF(segs[S_CS].limit)));
        out[nout++] = x64_jcc(b, X64_CC_A);
        x64_alu_rm(b, X64_ADD, 4, X64_RAX, cpu_mem(CPU_OFF(segs[S_CS].base)));
    }
    /* jc_hash: (lin ^ (lin >> 10)) & (X86_JC_SIZE - 1) */
    x64_mov_rr(b, 8, X64_RCX, X64_RAX);
    x64_shift_ri(b, X64_SHR, 8, X64_RCX, 10);
    x64_alu_rr(b, X64_XOR, 8, X64_RCX, X64_RAX);
    x64_alu_ri(b, X64_AND, 4, X64_RCX, X86_JC_SIZE - 1);
    x64_lea(b, 8, X64_RCX, x64_mem_idx(X64_RCX, X64_RCX, 2, 0));
    x64_lea(b, 8, X64_RDX, x64_mem_idx(CPU, X64_RCX, 8, CPU_OFF(jc)));
    x64_alu_rm(b, X64_CMP, 8, X64_RAX, x64_mem(X64_RDX, (int32_t)offsetof(struct X86JumpEntry, lin)));
    out[nout++] = x64_jcc(b, X64_CC_NE);
    x64_load(b, 4, X64_RAX, x64_mem(X64_RDX, (int32_t)offsetof(struct X86JumpEntry, mode)));
    x64_alu_rm(b, X64_CMP, 4, X64_RAX, cpu_mem(CPU_OFF(fetch_mode)));
    out[nout++] = x64_jcc(b, X64_CC_NE);
    x64_load(b, 8, X64_RDX, x64_mem(X64_RDX, (int32_t)offsetof(struct X86JumpEntry, b)));
    x64_load(b, 8, X64_RAX, x64_mem(X64_RDX, (int32_t)offsetof(X86Block, jit)));
    x64_test_rr(b, 8, X64_RAX, X64_RAX);
    out[nout++] = x64_jcc(b, X64_CC_E);
    /* The buffer is this thread's: so is the generation to compare with. */
    x64_mov_ri(b, X64_RSI, (uint64_t)(uintptr_t)&jit_mem_gen_tls);
    x64_load(b, 8, X64_RCX, x64_mem(X64_RSI, 0));
    x64_alu_rm(b, X64_CMP, 8, X64_RCX, x64_mem(X64_RDX, (int32_t)offsetof(X86Block, jit_gen)));
    out[nout++] = x64_jcc(b, X64_CC_NE);
    x64_load(b, 2, X64_RCX, x64_mem(X64_RDX, (int32_t)offsetof(X86Block, n)));
    x64_alu_rm(b, X64_ADD, 8, X64_RCX, cpu_mem(CPU_OFF(icount)));
    x64_alu_rr(b, X64_CMP, 8, X64_RCX, END);
    out[nout++] = x64_jcc(b, X64_CC_A);
    /* The exit codes name instructions of the block that returns them. */
    x64_store(b, 8, cpu_mem(CPU_OFF(jit_block)), X64_RDX);
    x64_alu_ri(b, X64_ADD, 8, X64_RAX, X86_JIT_CHAIN_ENTRY);
    x64_jmp_reg(b, X64_RAX);
    for (unsigned k = 0; k < nout; k++) {
        x64_patch_here(b, out[k]);
    }
    x64_mov_ri(b, X64_RAX, X86_JX_CHAIN);
    x64_patch_to(b, x64_jmp(b), b->start + epilogue_at);
}

static void emit_stubs(Tr *tr, size_t epilogue_at)
{
    X64Buf *b = &tr->b;
    const X86Block *blk = tr->blk;
    /* Stubs may add stubs (a slow path's handler call): walk until done. */
    for (unsigned k = 0; k < tr->nstubs && !tr->failed; k++) {
        Stub *s = &tr->stubs[k];
        for (unsigned p = 0; p < s->npatch; p++) {
            x64_patch_here(b, s->patch[p]);
        }
        unsigned i = s->insn;
        switch (s->kind) {
        case STUB_EXIT:
            x64_patch_to(b, x64_jmp(b), b->start + epilogue_at);
            break;
        case STUB_CHAIN:
            emit_chain_dispatch(tr, epilogue_at);
            break;
        case STUB_RET: {
            /* icount counts the instructions before i. */
            size_t fin = 0;
            bool segw = blk->insns[i].flags & X86_INSN_SEGW;
            if (!segw) {
                x64_alu_ri(b, X64_CMP, 4, X64_RAX, X86_R_JUMP);
                fin = x64_jcc(b, X64_CC_NE);
                xj_add_icount(tr, 1);
                x64_mov_ri(b, X64_RAX, X86_JX_CHAIN);
                x64_patch_to(b, x64_jmp(b), b->start + epilogue_at);
                x64_patch_here(b, fin);
            }
            x64_shift_ri(b, X64_SHL, 4, X64_RAX, 4);
            x64_alu_ri(b, X64_OR, 4, X64_RAX, (int32_t)((i << 8) | X86_JX_FINISH));
            x64_patch_to(b, x64_jmp(b), b->start + epilogue_at);
            break;
        }
        case STUB_BREAK:
            xj_add_icount(tr, 1);
            xj_store_rip(tr, tr->off[i + 1]);
            x64_mov_ri(b, X64_RAX, (i << 8) | X86_JX_BREAK);
            x64_patch_to(b, x64_jmp(b), b->start + epilogue_at);
            break;
        case STUB_SLOW: {
            size_t resume = s->resume;
            unsigned flushed = s->flushed;
            xj_emit_call(tr, i, flushed, true);
            x64_patch_to(b, x64_jmp(b), b->start + resume);
            break;
        }
        }
    }
}

X86JitFn x86_jit_translate(X86Block *blk, unsigned code_size)
{
    if (code_size != 4 && code_size != 8) {
        return NULL;
    }
    static __thread Tr tr_storage;   /* ~10 KiB: not on the guest-loop stack */
    Tr *tr = &tr_storage;
    memset(tr, 0, sizeof(*tr));
    tr->blk = blk;
    tr->code_size = code_size;
    tr->prod = -1;
    unsigned n = blk->n;
    for (unsigned i = 0; i < n; i++) {
        JAlu alu = JA_ADD;
        tr->j[i].kind = xj_classify(&blk->insns[i], code_size, &alu);
        tr->j[i].alu = alu;
        tr->off[i + 1] = tr->off[i] + blk->insns[i].len;
    }
    xj_plan_flags(tr, n);
    if (!jit_mem_begin(&tr->b, 64 * 1024)) {
        return NULL;
    }
    X64Buf *b = &tr->b;
    /* Prologue: the SysV callee-saved registers we use; RSP stays 16-byte
     * aligned at calls (entry RSP = 8 mod 16, four pushes, 8 more). */
    x64_push(b, X64_RBX);
    x64_push(b, X64_R12);
    x64_push(b, X64_R14);
    x64_push(b, X64_R15);
    x64_alu_ri(b, X64_SUB, 8, X64_RSP, 8);
    x64_mov_rr(b, 8, CPU, X64_RDI);
    x64_mov_rr(b, 8, END, X64_RSI);
    /* Chained entry (emit_chain_dispatch): same frame, same RBX and R15. */
    if (x64_buf_used(b) != X86_JIT_CHAIN_ENTRY) {
        return NULL;
    }
    x64_load(b, 8, RIP0, cpu_mem(CPU_OFF(rip)));
    tr->loop_start = x64_buf_used(b);
    x64_alu_rr(b, X64_XOR, 4, SLOWRAN, SLOWRAN);
    bool jumped = false;
    for (unsigned i = 0; i < n && !jumped; i++) {
        jumped = xj_emit_insn(tr, i, n);
    }
    if (!jumped) {
        /* Fell off the end. Chainable unless the last instruction may have
         * changed the segment state. */
        xj_store_rip(tr, tr->off[n]);
        xj_add_icount(tr, (int64_t)n - tr->flushed);
        bool segw = blk->insns[n - 1].flags & X86_INSN_SEGW;
        xj_exit_with(tr, segw ? X86_JX_END : X86_JX_CHAIN);
    }
    /* Epilogue. */
    size_t epilogue_at = x64_buf_used(b);
    x64_alu_ri(b, X64_ADD, 8, X64_RSP, 8);
    x64_pop(b, X64_R15);
    x64_pop(b, X64_R14);
    x64_pop(b, X64_R12);
    x64_pop(b, X64_RBX);
    x64_ret(b);
    emit_stubs(tr, epilogue_at);
    if (tr->failed || !x64_buf_ok(b)) {
        return NULL;          /* nothing kept: the space is offered again */
    }
    return (X86JitFn)jit_mem_commit(b);
}

#else /* !MMUSIM_HOST_JIT */

X86JitFn x86_jit_translate(X86Block *b, unsigned code_size)
{
    (void)b;
    (void)code_size;
    return NULL;
}

#endif
