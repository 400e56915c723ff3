/*
 * The translator's plan for a block (x86_jit_internal.h): which form each
 * instruction takes (inline or its handler) and which lazy flag records
 * must be written.
 */
#include "targets/x86/x86_jit_internal.h"

#ifdef MMUSIM_HOST_JIT

static bool plain_prefixes(const X86Insn *in)
{
    return !(in->prefixes & (X86_PFX_LOCK | X86_PFX_REP | X86_PFX_REPNE));
}

static bool reg_ok(const X86Operand *o, unsigned sz)
{
    return (o->kind == X86_OPK_REG && o->size == sz && o->reg < 16) ||
           (o->kind == X86_OPK_REG8H && sz == 1 && o->reg < 4);
}

/* A memory operand the fast path can address: 32/64-bit (or 16-bit)
 * address size, displacement within reach of a host disp32. */
static bool mem_ok(const X86Insn *in, const X86Operand *o, unsigned sz)
{
    if (o->kind != X86_OPK_MEM || o->size != sz || o->seg > S_GS) {
        return false;
    }
    if (in->addrsize == 8 && o->disp != (int32_t)o->disp) {
        return false;
    }
    if (o->base == X86_RIP_REG && in->addrsize != 8) {
        return false;
    }
    return (o->base < 16 || o->base == X86_RIP_REG || o->base == X86_NO_REG) &&
           (o->index < 16 || o->index == X86_NO_REG) && o->index != X86_RIP_REG;
}

static bool imm32_ok(const X86Operand *o, unsigned sz)
{
    return o->kind == X86_OPK_IMM && (sz == 4 || o->disp == (int32_t)o->disp);
}

JKind xj_classify(const X86Insn *in, unsigned code_size, JAlu *alu)
{
    if (!plain_prefixes(in)) {
        return J_CALL;
    }
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    switch (in->id) {
    case X86_INS_NOP:
        return J_NOP;
    case X86_INS_JMP:
    case X86_INS_JAE: case X86_INS_JA: case X86_INS_JBE: case X86_INS_JB:
    case X86_INS_JE: case X86_INS_JGE: case X86_INS_JG: case X86_INS_JLE: case X86_INS_JL:
    case X86_INS_JNE: case X86_INS_JNO: case X86_INS_JNP: case X86_INS_JNS: case X86_INS_JO:
    case X86_INS_JP: case X86_INS_JS:
        if (in->nops != 1 || !(in->flags & X86_INSN_ENDS_BLOCK)) {
            return J_CALL;
        }
        if (!((code_size == 4 && in->opsize == 4) || code_size == 8)) {
            return J_CALL;
        }
        if (d->kind != X86_OPK_IMM) {
            if (in->id == X86_INS_JMP && !(in->prefixes & X86_PFX_OPSIZE) &&
                (reg_ok(d, code_size) || mem_ok(in, d, code_size))) {
                return J_JMP_IND;
            }
            return J_CALL;
        }
        return in->id == X86_INS_JMP ? J_JMP : J_JCC;
    case X86_INS_MOV:
        if (in->nops != 2 || !(sz == 1 || sz == 2 || sz == 4 || sz == 8) ||
            (in->flags & X86_INSN_SEGW)) {
            return J_CALL;
        }
        if (reg_ok(d, sz) && reg_ok(s, sz)) return J_MOV_RR;
        if (reg_ok(d, sz) && s->kind == X86_OPK_IMM) return J_MOV_RI;
        if (reg_ok(d, sz) && mem_ok(in, s, sz)) return J_MOV_RM;
        if (mem_ok(in, d, sz) && reg_ok(s, sz)) return J_MOV_MR;
        if (mem_ok(in, d, sz) && imm32_ok(s, sz)) return J_MOV_MI;
        return J_CALL;
    case X86_INS_LEA:
        if (in->nops == 2 && (sz == 4 || sz == 8) && reg_ok(d, sz) && s->kind == X86_OPK_MEM &&
            mem_ok(in, s, s->size)) {
            return J_LEA;
        }
        return J_CALL;
    case X86_INS_MOVZX: case X86_INS_MOVSX: case X86_INS_MOVSXD:
        if (in->nops == 2 && (sz == 4 || sz == 8) && reg_ok(d, sz) && s->size < sz &&
            (reg_ok(s, s->size) || mem_ok(in, s, s->size))) {
            return J_MOVX;
        }
        return J_CALL;
    case X86_INS_SETAE: case X86_INS_SETA: case X86_INS_SETBE: case X86_INS_SETB:
    case X86_INS_SETE: case X86_INS_SETGE: case X86_INS_SETG: case X86_INS_SETLE:
    case X86_INS_SETL: case X86_INS_SETNE: case X86_INS_SETNO: case X86_INS_SETNP:
    case X86_INS_SETNS: case X86_INS_SETO: case X86_INS_SETP: case X86_INS_SETS:
        return in->nops == 1 && reg_ok(d, 1) ? J_SETCC : J_CALL;
    case X86_INS_PUSH: case X86_INS_POP: {
        /* The stack operand size is the code size (no 66h), the stack
         * size too (64-bit code; 32-bit code checks SS.B at run time). */
        unsigned want = code_size == 8 ? 8 : 4;
        if (in->nops != 1 || (in->prefixes & X86_PFX_OPSIZE) || code_size == 2) {
            return J_CALL;
        }
        if (in->id == X86_INS_PUSH && (reg_ok(d, want) || d->kind == X86_OPK_IMM)) {
            return J_PUSH;
        }
        return in->id == X86_INS_POP && reg_ok(d, want) ? J_POP : J_CALL;
    }
    case X86_INS_CALL:
        if (in->nops != 1 || !(in->flags & X86_INSN_ENDS_BLOCK) ||
            (in->prefixes & X86_PFX_OPSIZE) || !(code_size == 8 || in->opsize == 4)) {
            return J_CALL;
        }
        if (d->kind == X86_OPK_IMM) {
            return J_CALL_REL;
        }
        /* Indirect: the pointer is as wide as the stack operand. */
        return reg_ok(d, code_size) || mem_ok(in, d, code_size) ? J_CALL_IND : J_CALL;
    case X86_INS_RET:
        if (in->nops <= 1 && (in->nops == 0 || d->kind == X86_OPK_IMM) &&
            (in->flags & X86_INSN_ENDS_BLOCK) && !(in->prefixes & X86_PFX_OPSIZE) &&
            (code_size == 8 || in->opsize == 4)) {
            return J_RET;
        }
        return J_CALL;
    case X86_INS_NEG: case X86_INS_NOT:
        if (in->nops == 1 && reg_ok(d, sz)) {
            *alu = in->id == X86_INS_NEG ? JA_NEG : JA_NOT;
            return J_NEGNOT;
        }
        return J_CALL;
    case X86_INS_SHL: case X86_INS_SAL: case X86_INS_SHR: case X86_INS_SAR:
        /* By an immediate (or the D1 form's 1); by CL: the handler. */
        if ((sz == 4 || sz == 8) && reg_ok(d, sz) &&
            (in->nops == 1 || (in->nops == 2 && s->kind == X86_OPK_IMM))) {
            *alu = in->id == X86_INS_SHR ? JA_SHR : in->id == X86_INS_SAR ? JA_SAR : JA_SHL;
            return J_SHIFT;
        }
        return J_CALL;
    case X86_INS_CMOVA: case X86_INS_CMOVAE: case X86_INS_CMOVB: case X86_INS_CMOVBE:
    case X86_INS_CMOVE: case X86_INS_CMOVG: case X86_INS_CMOVGE: case X86_INS_CMOVL:
    case X86_INS_CMOVLE: case X86_INS_CMOVNE: case X86_INS_CMOVNO: case X86_INS_CMOVNP:
    case X86_INS_CMOVNS: case X86_INS_CMOVO: case X86_INS_CMOVP: case X86_INS_CMOVS:
        if (in->nops == 2 && (sz == 4 || sz == 8) && reg_ok(d, sz) &&
            (reg_ok(s, sz) || mem_ok(in, s, sz))) {
            return J_CMOV;
        }
        return J_CALL;
    case X86_INS_IMUL:
        /* Inline only where its flags are dead (xj_plan_flags decides). */
        if ((in->nops == 2 || (in->nops == 3 && in->op[2].kind == X86_OPK_IMM &&
                               imm32_ok(&in->op[2], sz))) &&
            (sz == 4 || sz == 8) && reg_ok(d, sz) && (reg_ok(s, sz) || mem_ok(in, s, sz))) {
            return J_IMUL;
        }
        return J_CALL;
    case X86_INS_INC: case X86_INS_DEC:
        if (in->nops == 1 && reg_ok(d, sz)) {
            *alu = in->id == X86_INS_INC ? JA_INC : JA_DEC;
            return J_INCDEC;
        }
        return J_CALL;
    case X86_INS_ADD: *alu = JA_ADD; break;
    case X86_INS_ADC: *alu = JA_ADC; break;
    case X86_INS_SBB: *alu = JA_SBB; break;
    case X86_INS_OR: *alu = JA_OR; break;
    case X86_INS_AND: *alu = JA_AND; break;
    case X86_INS_SUB: *alu = JA_SUB; break;
    case X86_INS_XOR: *alu = JA_XOR; break;
    case X86_INS_CMP: *alu = JA_CMP; break;
    case X86_INS_TEST: *alu = JA_TEST; break;
    default:
        return J_CALL;
    }
    if (in->nops != 2 || !(sz == 1 || sz == 2 || sz == 4 || sz == 8)) {
        return J_CALL;
    }
    if (reg_ok(d, sz) && reg_ok(s, sz)) return J_ALU_RR;
    if (reg_ok(d, sz) && imm32_ok(s, sz)) return J_ALU_RI;
    if (reg_ok(d, sz) && mem_ok(in, s, sz)) return J_ALU_RM;
    if (mem_ok(in, d, sz) && reg_ok(s, sz)) return J_ALU_MR;
    if (mem_ok(in, d, sz) && imm32_ok(s, sz)) return J_ALU_MI;
    return J_CALL;
}

/* The condition (X86_COND_*) of a Jcc, SETcc or CMOVcc. */
unsigned xj_cond_of(unsigned id)
{
    switch (id) {
    case X86_INS_CMOVO: return X86_COND_O;
    case X86_INS_CMOVNO: return X86_COND_NO;
    case X86_INS_CMOVB: return X86_COND_B;
    case X86_INS_CMOVAE: return X86_COND_AE;
    case X86_INS_CMOVE: return X86_COND_E;
    case X86_INS_CMOVNE: return X86_COND_NE;
    case X86_INS_CMOVBE: return X86_COND_BE;
    case X86_INS_CMOVA: return X86_COND_A;
    case X86_INS_CMOVS: return X86_COND_S;
    case X86_INS_CMOVNS: return X86_COND_NS;
    case X86_INS_CMOVP: return X86_COND_P;
    case X86_INS_CMOVNP: return X86_COND_NP;
    case X86_INS_CMOVL: return X86_COND_L;
    case X86_INS_CMOVGE: return X86_COND_GE;
    case X86_INS_CMOVLE: return X86_COND_LE;
    case X86_INS_CMOVG: return X86_COND_G;
    case X86_INS_SETO: return X86_COND_O;
    case X86_INS_SETNO: return X86_COND_NO;
    case X86_INS_SETB: return X86_COND_B;
    case X86_INS_SETAE: return X86_COND_AE;
    case X86_INS_SETE: return X86_COND_E;
    case X86_INS_SETNE: return X86_COND_NE;
    case X86_INS_SETBE: return X86_COND_BE;
    case X86_INS_SETA: return X86_COND_A;
    case X86_INS_SETS: return X86_COND_S;
    case X86_INS_SETNS: return X86_COND_NS;
    case X86_INS_SETP: return X86_COND_P;
    case X86_INS_SETNP: return X86_COND_NP;
    case X86_INS_SETL: return X86_COND_L;
    case X86_INS_SETGE: return X86_COND_GE;
    case X86_INS_SETLE: return X86_COND_LE;
    case X86_INS_SETG: return X86_COND_G;
    case X86_INS_JO: return X86_COND_O;
    case X86_INS_JNO: return X86_COND_NO;
    case X86_INS_JB: return X86_COND_B;
    case X86_INS_JAE: return X86_COND_AE;
    case X86_INS_JE: return X86_COND_E;
    case X86_INS_JNE: return X86_COND_NE;
    case X86_INS_JBE: return X86_COND_BE;
    case X86_INS_JA: return X86_COND_A;
    case X86_INS_JS: return X86_COND_S;
    case X86_INS_JNS: return X86_COND_NS;
    case X86_INS_JP: return X86_COND_P;
    case X86_INS_JNP: return X86_COND_NP;
    case X86_INS_JL: return X86_COND_L;
    case X86_INS_JGE: return X86_COND_GE;
    case X86_INS_JLE: return X86_COND_LE;
    default: return X86_COND_G;
    }
}

static bool is_alu(JKind k) { return k >= J_ALU_RR && k <= J_ALU_MI; }

/* The shift count of J_SHIFT instruction `in` after the SDM mask. */
unsigned xj_shift_count(const X86Insn *in)
{
    unsigned c = in->nops == 1 ? 1 : (unsigned)in->op[1].disp & 0xff;
    return c & (in->op[0].size == 8 ? 0x3f : 0x1f);
}

static bool is_producer(const Tr *tr, unsigned i)
{
    JKind k = tr->j[i].kind;
    return is_alu(k) || k == J_INCDEC || (k == J_NEGNOT && tr->j[i].alu == JA_NEG) ||
           (k == J_SHIFT && xj_shift_count(&tr->blk->insns[i]) != 0);
}

X86CCOp xj_ccop(JAlu a)
{
    switch (a) {
    case JA_ADD: return X86_CC_ADD;
    case JA_ADC: return X86_CC_ADC;
    case JA_SBB: return X86_CC_SBB;
    case JA_SUB: case JA_CMP: return X86_CC_SUB;
    case JA_INC: return X86_CC_INC;
    case JA_DEC: return X86_CC_DEC;
    case JA_NEG: return X86_CC_SUB;
    case JA_SHL: return X86_CC_SHL;
    case JA_SHR: return X86_CC_SHR;
    case JA_SAR: return X86_CC_SAR;
    default: return X86_CC_LOGIC;
    }
}

/* Which flag records must be written: a producer's record is dead when the
 * next instruction that touches flags overwrites them all without reading
 * any, and cannot fault first (a fault pushes EFLAGS): a register ALU
 * operation, or an INC/DEC after a logic operation (whose CF is known to
 * be 0). Instructions that neither touch flags nor fault are skipped over. */
/* Instructions that neither touch the flags nor can fault: a scan for
 * the next reader or writer of the flags goes past them. */
static bool transparent(const Tr *tr, unsigned k)
{
    JKind jk = tr->j[k].kind;
    const X86Insn *in = &tr->blk->insns[k];
    return jk == J_NOP || jk == J_MOV_RR || jk == J_MOV_RI || jk == J_LEA ||
           (jk == J_MOVX && in->op[1].kind != X86_OPK_MEM) ||
           (jk == J_IMUL && in->op[1].kind != X86_OPK_MEM) ||
           ((jk == J_NEGNOT || jk == J_SHIFT) && !is_producer(tr, k));
}

/* Whether instruction k writes all six flags, reads none and cannot fault
 * first: what makes an earlier producer's record dead. */
static bool kills_flags(const Tr *tr, unsigned k)
{
    JKind jk = tr->j[k].kind;
    bool reads_cf = tr->j[k].alu == JA_ADC || tr->j[k].alu == JA_SBB;
    return ((jk == J_ALU_RR || jk == J_ALU_RI) && !reads_cf) ||
           ((jk == J_NEGNOT || jk == J_SHIFT) && is_producer(tr, k));
}

/* The first instruction after i that is not transparent, or n. */
static unsigned next_flag_user(const Tr *tr, unsigned i, unsigned n)
{
    unsigned k = i + 1;
    while (k < n && transparent(tr, k)) {
        k++;
    }
    return k;
}

void xj_plan_flags(Tr *tr, unsigned n)
{
    /* IMUL sets CF/OF and keeps the other four, which the translation does
     * not model: it is inline only where its flags are dead, else the
     * handler runs it. Decided first: a dead IMUL is transparent below. */
    for (unsigned i = n; i-- > 0;) {
        if (tr->j[i].kind == J_IMUL) {
            unsigned k = next_flag_user(tr, i, n);
            if (k == n || !kills_flags(tr, k)) {
                tr->j[i].kind = J_CALL;
            }
        }
    }
    for (unsigned i = 0; i < n; i++) {
        JInsn *p = &tr->j[i];
        if (!is_producer(tr, i)) {
            continue;
        }
        unsigned k = next_flag_user(tr, i, n);
        p->record = !(k < n && (kills_flags(tr, k) ||
                                (tr->j[k].kind == J_INCDEC && xj_ccop(p->alu) == X86_CC_LOGIC)));
    }
}

#endif
