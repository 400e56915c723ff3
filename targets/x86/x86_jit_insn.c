/*
 * The instructions the x86 translator emits inline (x86_jit.h lists them):
 * each does what its interpreter handler's fast path does, and jumps to the
 * instruction's slow stub (the handler) for anything else.
 */
#include "targets/x86/x86_jit_internal.h"

#ifdef MMUSIM_HOST_JIT

static X64Cond emit_cond(Tr *tr, unsigned cc);   /* CMOVcc uses it before its place */

/* --- Helpers translated code calls --- */

static uint64_t jit_kept_cf(const X86LazyFlags *lf)
{
    return x86_alu_kept_cf(lf);
}

static uint64_t jit_flags_cf(const X86LazyFlags *lf)
{
    return x86_flags_cf(lf);
}

static uint64_t jit_cond(const X86LazyFlags *lf, uint64_t cc)
{
    return x86_cond(lf, (unsigned)cc);
}

/* --- Instructions --- */

static void emit_mov(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    switch (tr->j[i].kind) {
    case J_MOV_RR:
        x64_load(b, sz, X64_RAX, greg(s));
        greg_store(b, d, sz, X64_RAX);
        break;
    case J_MOV_RI:
        x64_mov_ri(b, X64_RAX, (uint64_t)s->disp & x86_mask(sz));
        greg_store(b, d, sz, X64_RAX);
        break;
    case J_MOV_RM:
        xj_emit_mem(tr, i, s, sz, ACC_READ);
        x64_load(b, sz, X64_RAX, x64_mem(X64_RCX, 0));
        greg_store(b, d, sz, X64_RAX);
        xj_slow_resume_here(tr, i);
        break;
    case J_MOV_MR:
        xj_emit_mem(tr, i, d, sz, ACC_WRITE);
        x64_load(b, sz, X64_RAX, greg(s));
        x64_store(b, sz, x64_mem(X64_RCX, 0), X64_RAX);
        xj_slow_resume_here(tr, i);
        break;
    default: /* J_MOV_MI */
        xj_emit_mem(tr, i, d, sz, ACC_WRITE);
        x64_store_imm(b, sz, x64_mem(X64_RCX, 0), (int32_t)s->disp);
        xj_slow_resume_here(tr, i);
        break;
    }
}

static void emit_lea(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0];
    xj_emit_ea(tr, i, in, &in->op[1]);
    /* x86_set_reg: a 4-byte destination keeps the low half, zero-extended. */
    if (d->size == 4) {
        x64_mov_rr(b, 4, X64_RCX, X64_RCX);
    }
    x64_store(b, 8, cpu_mem(REG_OFF(d->reg)), X64_RCX);
    tr->hostflags = false;
}

/* MOVZX/MOVSX/MOVSXD: x86_set_reg of a 32/64-bit register with the
 * source zero- or sign-extended. */
static void emit_movx(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    bool sign = in->id != X86_INS_MOVZX;
    X64Mem src = greg(s);
    if (s->kind == X86_OPK_MEM) {
        xj_emit_mem(tr, i, s, s->size, ACC_READ);
        src = x64_mem(X64_RCX, 0);
    }
    if (sign) {
        x64_load_sx(b, s->size, X64_RAX, src);
    } else {
        x64_load(b, s->size, X64_RAX, src);
    }
    if (d->size == 4) {
        x64_mov_rr(b, 4, X64_RAX, X64_RAX);
    }
    x64_store(b, 8, cpu_mem(REG_OFF(d->reg)), X64_RAX);
    if (s->kind == X86_OPK_MEM) {
        xj_slow_resume_here(tr, i);
    }
}

/* 32-bit code: the stack is 32-bit only while SS.B is set (x86_stack_size). */
static void emit_stack_check(Tr *tr, Stub *slow)
{
    if (tr->code_size == 4) {
        x64_load(&tr->b, 4, X64_RAX, cpu_mem(CPU_OFF(segs[S_SS].attr)));
        x64_test_ri(&tr->b, 4, X64_RAX, X86_SEGA_DB);
        xj_jcc_to(tr, slow, X64_CC_E);
    }
}

/* x86_push of RDI (already masked to the stack operand size): on the fast
 * path the value is stored and rSP updated. */
static void emit_push_rdi(Tr *tr, Stub *slow)
{
    X64Buf *b = &tr->b;
    unsigned sz = tr->code_size;   /* stack and operand size */
    x64_load(b, sz, X64_RCX, cpu_mem(REG_OFF(R_SP)));
    x64_lea(b, sz, X64_RCX, x64_mem(X64_RCX, -(int32_t)sz));
    x64_mov_rr(b, 8, X64_R8, X64_RCX);
    xj_emit_access(tr, slow, S_SS, sz, ACC_WRITE);
    x64_store(b, sz, x64_mem(X64_RCX, 0), X64_RDI);
    x64_store(b, 8, cpu_mem(REG_OFF(R_SP)), X64_R8);
}

static void emit_push(Tr *tr, unsigned i)
{
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *o = &in->op[0];
    unsigned sz = tr->code_size;
    Stub *slow = xj_slow_stub(tr, i);
    emit_stack_check(tr, slow);
    if (o->kind == X86_OPK_REG) {
        x64_load(&tr->b, sz, X64_RDI, cpu_mem(REG_OFF(o->reg)));   /* PUSH rSP: the old value */
    } else {
        x64_mov_ri(&tr->b, X64_RDI, (uint64_t)o->disp & x86_mask(sz));
    }
    emit_push_rdi(tr, slow);
    xj_slow_resume_here(tr, i);
}

/* x86_pop: read at rSP, then rSP += size + extra; the value in RDI. */
static void emit_pop_rdi(Tr *tr, Stub *slow, unsigned extra)
{
    X64Buf *b = &tr->b;
    unsigned sz = tr->code_size;
    x64_load(b, sz, X64_RCX, cpu_mem(REG_OFF(R_SP)));
    x64_mov_rr(b, 8, X64_R8, X64_RCX);
    xj_emit_access(tr, slow, S_SS, sz, ACC_READ);
    x64_load(b, sz, X64_RDI, x64_mem(X64_RCX, 0));
    x64_lea(b, sz, X64_R8, x64_mem(X64_R8, (int32_t)(sz + extra)));
}

static void emit_pop(Tr *tr, unsigned i)
{
    const X86Insn *in = &tr->blk->insns[i];
    Stub *slow = xj_slow_stub(tr, i);
    emit_stack_check(tr, slow);
    emit_pop_rdi(tr, slow, 0);
    /* rSP first, then the register: POP rSP gets the value. */
    x64_store(&tr->b, 8, cpu_mem(REG_OFF(R_SP)), X64_R8);
    x64_store(&tr->b, 8, cpu_mem(REG_OFF(in->op[0].reg)), X64_RDI);
    xj_slow_resume_here(tr, i);
}

/* NEG (x86_neg: SUB 0 - a) and NOT (no flags) of a register. */
static void emit_negnot(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    JInsn *j = &tr->j[i];
    const X86Operand *d = &tr->blk->insns[i].op[0];
    unsigned sz = d->size;
    x64_load(b, sz, X64_RAX, greg(d));
    if (j->alu == JA_NOT) {
        x64_not(b, sz, X64_RAX);
        greg_store(b, d, sz, X64_RAX);
        return;
    }
    if (j->record) {
        x64_store_imm(b, 8, cpu_mem(LF_OFF(src1)), 0);
        x64_store(b, 8, cpu_mem(LF_OFF(src2)), X64_RAX);
    }
    x64_neg(b, sz, X64_RAX);
    greg_store(b, d, sz, X64_RAX);
    if (j->record) {
        x64_store(b, 8, cpu_mem(LF_OFF(res)), X64_RAX);
        x64_store_imm(b, 2, cpu_mem(LF_OFF(op)), (int32_t)(X86_CC_SUB | (sz << 8)));
    }
    xj_note_producer(tr, X86_CC_SUB, sz, j->record, true);
}

/* SHL/SHR/SAR by a constant: a masked count of 0 still writes the register
 * (a 32-bit one is zero-extended) and leaves the flags. */
static void emit_shift(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    JInsn *j = &tr->j[i];
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0];
    unsigned sz = d->size, count = xj_shift_count(in);
    X86CCOp op = xj_ccop(j->alu);
    x64_load(b, sz, X64_RAX, greg(d));
    if (count == 0) {
        greg_store(b, d, sz, X64_RAX);
        return;
    }
    if (j->record) {
        x64_store(b, 8, cpu_mem(LF_OFF(src1)), X64_RAX);
        x64_store_imm(b, 8, cpu_mem(LF_OFF(src2)), (int32_t)count);
    }
    x64_shift_ri(b, j->alu == JA_SHL ? X64_SHL : j->alu == JA_SHR ? X64_SHR : X64_SAR, sz,
                 X64_RAX, (uint8_t)count);
    greg_store(b, d, sz, X64_RAX);
    if (j->record) {
        x64_store(b, 8, cpu_mem(LF_OFF(res)), X64_RAX);
        x64_store_imm(b, 2, cpu_mem(LF_OFF(op)), (int32_t)(op | (sz << 8)));
    }
    /* The record's OF rule for counts > 1 is the library's: no host flags. */
    xj_note_producer(tr, op, sz, j->record, false);
}

/* CMOVcc: the source is read (and may fault) whatever the condition; a
 * false 32-bit CMOV still clears the upper half (cmovcc). */
static void emit_cmov(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    X64Cond hc = emit_cond(tr, xj_cond_of(in->id));
    x64_setcc(b, hc, X64_R9);
    x64_movzx_rr(b, 1, X64_R9, X64_R9);
    if (s->kind == X86_OPK_MEM) {
        xj_emit_mem(tr, i, s, sz, ACC_READ);
        x64_load(b, sz, X64_RDI, x64_mem(X64_RCX, 0));
    } else {
        x64_load(b, sz, X64_RDI, greg(s));
    }
    x64_load(b, sz, X64_RAX, greg(d));
    x64_test_rr(b, 4, X64_R9, X64_R9);
    size_t keep = x64_jcc(b, X64_CC_E);
    x64_mov_rr(b, 8, X64_RAX, X64_RDI);
    x64_patch_here(b, keep);
    x64_store(b, 8, greg(d), X64_RAX);
    if (s->kind == X86_OPK_MEM) {
        xj_slow_resume_here(tr, i);
    }
    tr->hostflags = false;
}

/* IMUL r, r/m [, imm] whose flags are dead (xj_plan_flags): the low half
 * of the signed product, as x86_imul computes it, and nothing else. */
static void emit_imul(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    if (s->kind == X86_OPK_MEM) {
        xj_emit_mem(tr, i, s, sz, ACC_READ);
        x64_load(b, sz, X64_RDX, x64_mem(X64_RCX, 0));
    } else {
        x64_load(b, sz, X64_RDX, greg(s));
    }
    if (in->nops == 3) {
        x64_imul_rri(b, sz, X64_RAX, X64_RDX, (int32_t)in->op[2].disp);
    } else {
        x64_load(b, sz, X64_RAX, greg(d));
        x64_imul_rr(b, sz, X64_RAX, X64_RDX);
    }
    greg_store(b, d, sz, X64_RAX);
    if (s->kind == X86_OPK_MEM) {
        xj_slow_resume_here(tr, i);
    }
    tr->hostflags = false;
}

/* The host operation of each two-operand ALU instruction (CMP and TEST
 * compute into a scratch register). */
static const X64Alu host_alu[] = {
    [JA_ADD] = X64_ADD, [JA_OR] = X64_OR, [JA_AND] = X64_AND, [JA_SUB] = X64_SUB,
    [JA_XOR] = X64_XOR, [JA_CMP] = X64_SUB, [JA_TEST] = X64_AND, [JA_ADC] = X64_ADC,
    [JA_SBB] = X64_SBB,
};

/* ADC/SBB: where the carry in (x86_flags_cf of the record) comes from. */
typedef enum CarryIn { CF_NONE, CF_HOST, CF_ZERO, CF_R9 } CarryIn;

/* Decided, and R9 loaded, before the operands (a helper call clobbers
 * them): the host CF itself right after a register ALU producer; 0 after
 * a logic operation; an INC/DEC's kept CF from its record; else asked. */
static CarryIn carry_in(Tr *tr, JKind kind)
{
    X64Buf *b = &tr->b;
    if (tr->prod >= 0 && tr->hostflags && tr->prod != X86_CC_INC && tr->prod != X86_CC_DEC &&
        (kind == J_ALU_RR || kind == J_ALU_RI)) {
        return CF_HOST;
    }
    if (tr->prod == X86_CC_LOGIC) {
        return CF_ZERO;
    }
    if ((tr->prod == X86_CC_INC || tr->prod == X86_CC_DEC) && tr->prod_stored) {
        x64_load(b, 8, X64_R9, cpu_mem(LF_OFF(aux)));
        return CF_R9;
    }
    x64_lea(b, 8, X64_RDI, cpu_mem(CPU_OFF(lf)));
    x64_call(b, (const void *)jit_flags_cf);
    x64_mov_rr(b, 8, X64_R9, X64_RAX);
    return CF_R9;
}

/* a in RAX, b in RDX: compute, write back (to the register, or through the
 * host pointer in RCX when `to_mem`), record. Host flags end up as the
 * guest's. */
static void alu_core(Tr *tr, unsigned i, unsigned sz, bool to_mem, const X86Operand *dreg,
                     CarryIn cin)
{
    X64Buf *b = &tr->b;
    JInsn *j = &tr->j[i];
    X86CCOp op = xj_ccop(j->alu);
    bool writes = j->alu != JA_CMP && j->alu != JA_TEST;
    X64Reg res = X64_RAX;
    if (j->record && op != X86_CC_LOGIC) {
        x64_store(b, 8, cpu_mem(LF_OFF(src1)), X64_RAX);
        x64_store(b, 8, cpu_mem(LF_OFF(src2)), X64_RDX);
    }
    if (!writes) {
        x64_mov_rr(b, 8, X64_RSI, X64_RAX);
        res = X64_RSI;
    }
    /* The carry in, as the host CF, next to the operation (the stores
     * above leave the flags alone). */
    if (cin == CF_ZERO) {
        x64_alu_rr(b, X64_XOR, 4, X64_R9, X64_R9);
    } else if (cin == CF_R9) {
        x64_neg(b, 8, X64_R9);
    }
    x64_alu_rr(b, host_alu[j->alu], sz, res, X64_RDX);
    if (writes) {
        if (to_mem) {
            x64_store(b, sz, x64_mem(X64_RCX, 0), X64_RAX);
        } else {
            greg_store(b, dreg, sz, X64_RAX);
        }
    }
    if (j->record) {
        x64_store(b, 8, cpu_mem(LF_OFF(res)), res);
        if (op == X86_CC_LOGIC) {
            x64_store_imm(b, 8, cpu_mem(LF_OFF(src1)), 0);
            x64_store_imm(b, 8, cpu_mem(LF_OFF(src2)), 0);
        }
        x64_store_imm(b, 2, cpu_mem(LF_OFF(op)), (int32_t)(op | (sz << 8)));
    }
}

static void emit_alu(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    JInsn *j = &tr->j[i];
    unsigned sz = d->size;
    bool writes = j->alu != JA_CMP && j->alu != JA_TEST;
    CarryIn cin = j->alu == JA_ADC || j->alu == JA_SBB ? carry_in(tr, j->kind) : CF_NONE;
    switch (j->kind) {
    case J_ALU_RR:
    case J_ALU_RI:
        if (j->kind == J_ALU_RR) {
            x64_load(b, sz, X64_RDX, greg(s));
        } else {
            x64_mov_ri(b, X64_RDX, (uint64_t)s->disp & x86_mask(sz));
        }
        x64_load(b, sz, X64_RAX, greg(d));
        alu_core(tr, i, sz, false, d, cin);
        xj_note_producer(tr, xj_ccop(j->alu), sz, j->record, true);
        break;
    case J_ALU_RM:
        xj_emit_mem(tr, i, s, sz, ACC_READ);
        x64_load(b, sz, X64_RDX, x64_mem(X64_RCX, 0));
        x64_load(b, sz, X64_RAX, greg(d));
        alu_core(tr, i, sz, false, d, cin);
        xj_slow_resume_here(tr, i);
        /* The slow path left the same record but not the host flags. */
        xj_note_producer(tr, xj_ccop(j->alu), sz, j->record, false);
        break;
    default: /* J_ALU_MR, J_ALU_MI */
        xj_emit_mem(tr, i, d, sz, writes ? ACC_RMW : ACC_READ);
        if (j->kind == J_ALU_MR) {
            x64_load(b, sz, X64_RDX, greg(s));
        } else {
            x64_mov_ri(b, X64_RDX, (uint64_t)s->disp & x86_mask(sz));
        }
        x64_load(b, sz, X64_RAX, x64_mem(X64_RCX, 0));
        alu_core(tr, i, sz, true, NULL, cin);
        xj_slow_resume_here(tr, i);
        xj_note_producer(tr, xj_ccop(j->alu), sz, j->record, false);
        break;
    }
}

static void emit_incdec(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    JInsn *j = &tr->j[i];
    const X86Operand *d = &in->op[0];
    unsigned sz = d->size;
    X86CCOp op = xj_ccop(j->alu);
    /* The CF INC/DEC keeps goes into aux (x86_inc/x86_dec). */
    int aux = -1;                        /* -1: already right in memory */
    if (j->record) {
        if (tr->prod == X86_CC_LOGIC) {
            aux = 0;
        } else if ((tr->prod == X86_CC_INC || tr->prod == X86_CC_DEC) && tr->prod_stored) {
            aux = -1;
        } else {
            /* Unknown here: after another INC/DEC it is aux already (the
             * usual loop), else ask x86_alu_kept_cf. */
            x64_load(b, 1, X64_RAX, cpu_mem(LF_OFF(op)));
            x64_alu_ri(b, X64_CMP, 4, X64_RAX, X86_CC_INC);
            size_t keep1 = x64_jcc(b, X64_CC_E);
            x64_alu_ri(b, X64_CMP, 4, X64_RAX, X86_CC_DEC);
            size_t keep2 = x64_jcc(b, X64_CC_E);
            x64_lea(b, 8, X64_RDI, cpu_mem(CPU_OFF(lf)));
            x64_call(b, (const void *)jit_kept_cf);
            x64_store(b, 8, cpu_mem(LF_OFF(aux)), X64_RAX);
            x64_patch_here(b, keep1);
            x64_patch_here(b, keep2);
        }
    }
    x64_load(b, sz, X64_RAX, greg(d));
    if (j->record) {
        x64_store(b, 8, cpu_mem(LF_OFF(src1)), X64_RAX);
        x64_store_imm(b, 8, cpu_mem(LF_OFF(src2)), 1);
    }
    if (j->alu == JA_INC) {
        x64_inc(b, sz, X64_RAX);
    } else {
        x64_dec(b, sz, X64_RAX);
    }
    greg_store(b, d, sz, X64_RAX);
    if (j->record) {
        x64_store(b, 8, cpu_mem(LF_OFF(res)), X64_RAX);
        x64_store_imm(b, 2, cpu_mem(LF_OFF(op)), (int32_t)(op | (sz << 8)));
        if (aux == 0) {
            x64_store_imm(b, 8, cpu_mem(LF_OFF(aux)), 0);
        }
    }
    xj_note_producer(tr, op, sz, j->record, true);
}

static bool cond_uses_cf(unsigned cc)
{
    unsigned base = (cc >> 1) & 7;
    return base == 1 || base == 3;
}

/* Host flags for condition cc, or false (then EAX != 0 means taken). */
static X64Cond emit_cond(Tr *tr, unsigned cc)
{
    X64Buf *b = &tr->b;
    bool cf_ok = tr->prod != X86_CC_INC && tr->prod != X86_CC_DEC;
    if (tr->prod >= 0 && tr->hostflags && (cf_ok || !cond_uses_cf(cc))) {
        return (X64Cond)cc;
    }
    if (tr->prod >= 0 && tr->prod_stored && (cf_ok || !cond_uses_cf(cc))) {
        unsigned sz = tr->prod_size;
        switch (tr->prod) {
        case X86_CC_SUB:
            x64_load(b, sz, X64_RAX, cpu_mem(LF_OFF(src1)));
            x64_alu_rm(b, X64_CMP, sz, X64_RAX, cpu_mem(LF_OFF(src2)));
            return (X64Cond)cc;
        case X86_CC_ADD:
            x64_load(b, sz, X64_RAX, cpu_mem(LF_OFF(src1)));
            x64_alu_rm(b, X64_ADD, sz, X64_RAX, cpu_mem(LF_OFF(src2)));
            return (X64Cond)cc;
        case X86_CC_LOGIC:
            x64_load(b, sz, X64_RAX, cpu_mem(LF_OFF(res)));
            x64_test_rr(b, sz, X64_RAX, X64_RAX);
            return (X64Cond)cc;
        case X86_CC_INC:
        case X86_CC_DEC:
            x64_load(b, sz, X64_RAX, cpu_mem(LF_OFF(src1)));
            if (tr->prod == X86_CC_INC) {
                x64_inc(b, sz, X64_RAX);
            } else {
                x64_dec(b, sz, X64_RAX);
            }
            return (X64Cond)cc;
        default:
            break;
        }
    }
    x64_lea(b, 8, X64_RDI, cpu_mem(CPU_OFF(lf)));
    x64_mov_ri(b, X64_RSI, cc);
    x64_call(b, (const void *)jit_cond);
    x64_test_rr(b, 4, X64_RAX, X64_RAX);
    return X64_CC_NE;
}

/* SETcc r8: the low byte of the register (x86_set_reg merges). */
static void emit_setcc(Tr *tr, unsigned i)
{
    const X86Insn *in = &tr->blk->insns[i];
    X64Cond hc = emit_cond(tr, xj_cond_of(in->id));
    x64_setcc(&tr->b, hc, X64_RAX);
    x64_store(&tr->b, 1, greg(&in->op[0]), X64_RAX);
    tr->hostflags = false;
}

/* RAX = a jump target (masked to the code size): the checks of x86_jump
 * (CS limit in 32-bit code, canonical in 64-bit code); failing, the slow
 * stub runs the handler, which raises the #GP. Clobbers RDX. */
static void emit_target_check(Tr *tr, Stub *slow)
{
    X64Buf *b = &tr->b;
    if (tr->code_size == 4) {
        x64_alu_rm(b, X64_CMP, 4, X64_RAX, cpu_mem(CPU_OFF(segs[S_CS].limit)));
        xj_jcc_to(tr, slow, X64_CC_A);
    } else {
        x64_mov_rr(b, 8, X64_RDX, X64_RAX);
        x64_shift_ri(b, X64_SHL, 8, X64_RDX, 16);
        x64_shift_ri(b, X64_SAR, 8, X64_RDX, 16);
        x64_alu_rr(b, X64_CMP, 8, X64_RDX, X64_RAX);
        xj_jcc_to(tr, slow, X64_CC_NE);
    }
}

/* The block's last instruction jumped to RAX: rip, count, chainable exit.
 * The slow stub's handler leaves through STUB_RET (X86_R_JUMP or an
 * exception); should it return X86_R_NEXT, the code after resumes. */
static void emit_jump_exit(Tr *tr, Stub *slow, unsigned n)
{
    X64Buf *b = &tr->b;
    x64_store(b, 8, cpu_mem(CPU_OFF(rip)), X64_RAX);
    xj_add_icount(tr, (int64_t)n - tr->flushed);
    xj_exit_with(tr, X86_JX_CHAIN);
    slow->resume = x64_buf_used(b);
    xj_store_rip(tr, tr->off[n]);
    xj_add_icount(tr, (int64_t)n - tr->flushed);
    xj_exit_with(tr, X86_JX_CHAIN);
}

/* CALL rel: the target checked first (x86_jump after x86_push in the
 * handler, which undoes the push when the jump faults: the same state),
 * then the return address pushed. */
static void emit_call_rel(Tr *tr, unsigned i, unsigned n)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    Stub *slow = xj_slow_stub(tr, i);
    emit_stack_check(tr, slow);
    xj_ip_at(tr, X64_RAX, (int64_t)tr->off[i + 1] + in->op[0].disp);
    emit_target_check(tr, slow);
    x64_mov_rr(b, 8, X64_R9, X64_RAX);
    xj_ip_at(tr, X64_RDI, tr->off[i + 1]);
    emit_push_rdi(tr, slow);
    x64_mov_rr(b, 8, X64_RAX, X64_R9);
    emit_jump_exit(tr, slow, n);
}

/* JMP/CALL through a register or memory (near_target, then for CALL the
 * push, then x86_jump; the target is checked before the push here, the
 * handler undoing its push on a bad target makes that the same). */
static void emit_jmp_ind(Tr *tr, unsigned i, unsigned n, bool call)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *o = &in->op[0];
    unsigned sz = tr->code_size;
    Stub *slow = xj_slow_stub(tr, i);
    if (call) {
        emit_stack_check(tr, slow);
    }
    if (o->kind == X86_OPK_MEM) {
        xj_emit_ea(tr, i, in, o);
        xj_emit_access(tr, slow, o->seg, sz, ACC_READ);
        x64_load(b, sz, X64_RAX, x64_mem(X64_RCX, 0));
    } else {
        x64_load(b, sz, X64_RAX, greg(o));
    }
    emit_target_check(tr, slow);
    if (call) {
        x64_mov_rr(b, 8, X64_R9, X64_RAX);
        xj_ip_at(tr, X64_RDI, tr->off[i + 1]);
        emit_push_rdi(tr, slow);
        x64_mov_rr(b, 8, X64_RAX, X64_R9);
    }
    emit_jump_exit(tr, slow, n);
}

/* RET [imm16]: x86_stack_peek, x86_jump, then rSP += size + imm. */
static void emit_ret(Tr *tr, unsigned i, unsigned n)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    unsigned imm = in->nops ? (unsigned)((uint64_t)in->op[0].disp & 0xffff) : 0;
    Stub *slow = xj_slow_stub(tr, i);
    emit_stack_check(tr, slow);
    emit_pop_rdi(tr, slow, imm);
    x64_mov_rr(b, 8, X64_RAX, X64_RDI);
    emit_target_check(tr, slow);
    x64_store(b, 8, cpu_mem(REG_OFF(R_SP)), X64_R8);
    emit_jump_exit(tr, slow, n);
}

/* The jump of instruction i (last of the block) to off[i+1] + rel is taken. */
static void emit_taken(Tr *tr, unsigned i, unsigned n)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    int64_t target = (int64_t)tr->off[i + 1] + in->op[0].disp;
    if (target == 0) {
        /* A loop on this block: go round in host code while the iteration
         * ran no handler, the run loop had no round work (jit_chain_ok) and
         * another whole iteration fits the budget; the entry checks (limit,
         * canonical) already passed for this rip. */
        xj_add_icount(tr, (int64_t)n - tr->flushed);
        x64_test_rr(b, 4, SLOWRAN, SLOWRAN);
        size_t leave1 = x64_jcc(b, X64_CC_NE);
        x64_alu_mi(b, X64_CMP, 1, cpu_mem(CPU_OFF(jit_chain_ok)), 0);
        size_t leave3 = x64_jcc(b, X64_CC_E);
        x64_load(b, 8, X64_RAX, cpu_mem(CPU_OFF(icount)));
        x64_alu_ri(b, X64_ADD, 8, X64_RAX, (int32_t)n);
        x64_alu_rr(b, X64_CMP, 8, X64_RAX, END);
        size_t leave2 = x64_jcc(b, X64_CC_A);
        x64_patch_to(b, x64_jmp(b), b->start + tr->loop_start);
        x64_patch_here(b, leave1);
        x64_patch_here(b, leave2);
        x64_patch_here(b, leave3);
        xj_store_rip(tr, 0);
        xj_exit_with(tr, X86_JX_CHAIN);
        return;
    }
    /* Elsewhere: the checks of jcc_fast / x86_jump, else the handler
     * raises the #GP. */
    Stub *slow = xj_slow_stub(tr, i);
    xj_ip_at(tr, X64_RAX, target);
    emit_target_check(tr, slow);
    emit_jump_exit(tr, slow, n);
}

static void emit_jump(Tr *tr, unsigned i, unsigned n)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    if (tr->j[i].kind == J_JMP) {
        emit_taken(tr, i, n);
        return;
    }
    unsigned cc = xj_cond_of(in->id);
    X64Cond hc = emit_cond(tr, cc);
    size_t taken = x64_jcc(b, hc);
    /* Not taken: on to the next instruction, as a chainable exit. */
    xj_store_rip(tr, tr->off[n]);
    xj_add_icount(tr, (int64_t)n - tr->flushed);
    xj_exit_with(tr, X86_JX_CHAIN);
    x64_patch_here(b, taken);
    emit_taken(tr, i, n);
}


bool xj_emit_insn(Tr *tr, unsigned i, unsigned n)
{
    switch (tr->j[i].kind) {
    case J_NOP:
        return false;
    case J_MOV_RR: case J_MOV_RI: case J_MOV_RM: case J_MOV_MR: case J_MOV_MI:
        emit_mov(tr, i);
        return false;
    case J_LEA:
        emit_lea(tr, i);
        return false;
    case J_ALU_RR: case J_ALU_RI: case J_ALU_RM: case J_ALU_MR: case J_ALU_MI:
        emit_alu(tr, i);
        return false;
    case J_INCDEC:
        emit_incdec(tr, i);
        return false;
    case J_MOVX:
        emit_movx(tr, i);
        return false;
    case J_NEGNOT:
        emit_negnot(tr, i);
        return false;
    case J_SHIFT:
        emit_shift(tr, i);
        return false;
    case J_CMOV:
        emit_cmov(tr, i);
        return false;
    case J_IMUL:
        emit_imul(tr, i);
        return false;
    case J_SETCC:
        emit_setcc(tr, i);
        return false;
    case J_PUSH:
        emit_push(tr, i);
        return false;
    case J_POP:
        emit_pop(tr, i);
        return false;
    case J_JCC: case J_JMP:
        emit_jump(tr, i, n);
        return true;
    case J_CALL_REL:
        emit_call_rel(tr, i, n);
        return true;
    case J_RET:
        emit_ret(tr, i, n);
        return true;
    case J_JMP_IND: case J_CALL_IND:
        emit_jmp_ind(tr, i, n, tr->j[i].kind == J_CALL_IND);
        return true;
    default:
        xj_emit_call(tr, i, tr->flushed, false);
        return false;
    }
}

#endif
