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
#include "targets/x86/x86_jit.h"

#include <stddef.h>

#include "targets/x86/x86_insn.h"

#ifdef MMUSIM_HOST_JIT

#include "targets/jit/jit_mem.h"

#define CPU_OFF(f) ((int32_t)offsetof(X86Cpu, f))
#define REG_OFF(r) (CPU_OFF(regs) + 8 * (int32_t)(r))
#define LF_OFF(f) (CPU_OFF(lf) + (int32_t)offsetof(X86LazyFlags, f))
#define WIN_OFF(seg, w, f) \
    (CPU_OFF(segwin) + (int32_t)(((seg) * 2 + (w)) * sizeof(struct X86SegWindow) + \
                                 offsetof(struct X86SegWindow, f)))

_Static_assert(sizeof(TlbEntry) == 32, "the TLB index is scaled by a shift of 5");
_Static_assert(offsetof(X86LazyFlags, size) == offsetof(X86LazyFlags, op) + 1,
               "op and size are stored as one 16-bit word");

#define CPU X64_RBX
#define RIP0 X64_R12
#define SLOWRAN X64_R14
#define END X64_R15

/* What the translator does with each instruction. */
typedef enum JKind {
    J_CALL,                                   /* the interpreter's handler */
    J_NOP,
    J_MOV_RR, J_MOV_RI, J_MOV_RM, J_MOV_MR, J_MOV_MI,
    J_LEA,
    J_ALU_RR, J_ALU_RI, J_ALU_RM, J_ALU_MR, J_ALU_MI,
    J_INCDEC,
    J_NEGNOT,                                 /* NEG/NOT of a register */
    J_SHIFT,                                  /* SHL/SHR/SAR of a 32/64-bit register by imm */
    J_CMOV,                                   /* CMOVcc of a 32/64-bit register */
    J_MOVX,                                   /* MOVZX/MOVSX/MOVSXD to a 32/64-bit register */
    J_SETCC,                                  /* SETcc of a byte register */
    J_PUSH, J_POP,                            /* register or immediate, flat stack */
    J_JCC, J_JMP, J_CALL_REL, J_RET,          /* block enders */
    J_JMP_IND, J_CALL_IND,                    /* ... through a register or memory */
} JKind;

/* ALU operations: the host operation and what the guest's lazy record says. */
typedef enum JAlu {
    JA_ADD, JA_OR, JA_AND, JA_SUB, JA_XOR, JA_CMP, JA_TEST, JA_INC, JA_DEC, JA_NEG, JA_NOT,
    JA_SHL, JA_SHR, JA_SAR,
} JAlu;

typedef struct JInsn {
    JKind kind;
    JAlu alu;
    bool record;        /* its lazy flags record must be written */
} JInsn;

/* Out-of-line code, emitted after the body. */
typedef enum StubKind {
    STUB_RET,      /* a handler returned eax != X86_R_NEXT */
    STUB_BREAK,    /* after X86_R_NEXT: the block was overwritten, exit or SMI */
    STUB_SLOW,     /* a fast path gave up: run the handler, then go back */
    STUB_EXIT,     /* return eax as is */
    STUB_CHAIN,    /* rip and icount are stored: go on into the next translated
                    * block if nothing may be pending, else return X86_JX_CHAIN */
} StubKind;

#define MAX_PATCH 16
typedef struct Stub {
    StubKind kind;
    unsigned insn;
    unsigned flushed;         /* STUB_SLOW: the main path's count there */
    size_t resume;            /* STUB_SLOW: where to go back to */
    size_t patch[MAX_PATCH];  /* rel32 fields that jump here */
    unsigned npatch;
} Stub;

#define MAX_STUBS (X86_BLOCK_MAX_INSNS * 3 + 8)

typedef struct Tr {
    X64Buf b;
    X86Block *blk;
    JInsn j[X86_BLOCK_MAX_INSNS];
    unsigned code_size;
    unsigned flushed;         /* see the icount invariant */
    size_t loop_start;
    Stub stubs[MAX_STUBS];
    unsigned nstubs;
    bool failed;              /* too many stubs: give up on this block */
    Stub *chain;              /* this block's STUB_CHAIN, once one exit needs it */
    /* What the lazy record holds, as far as this block's code knows. */
    bool hostflags;           /* host flags = guest flags of `prod` (CF too unless INC/DEC) */
    int prod;                 /* X86CCOp of the last translated flag producer, or -1 */
    unsigned prod_size;
    bool prod_stored;         /* ... and its record was written */
    /* Offsets of instructions from the block start (its rip). */
    unsigned off[X86_BLOCK_MAX_INSNS + 1];
} Tr;

/* --- Helpers translated code calls --- */

static uint64_t jit_kept_cf(const X86LazyFlags *lf)
{
    return x86_alu_kept_cf(lf);
}

static uint64_t jit_cond(const X86LazyFlags *lf, uint64_t cc)
{
    return x86_cond(lf, (unsigned)cc);
}

/* --- Classification --- */

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

static JKind classify(const X86Insn *in, unsigned code_size, JAlu *alu)
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
    case X86_INS_INC: case X86_INS_DEC:
        if (in->nops == 1 && reg_ok(d, sz)) {
            *alu = in->id == X86_INS_INC ? JA_INC : JA_DEC;
            return J_INCDEC;
        }
        return J_CALL;
    case X86_INS_ADD: *alu = JA_ADD; break;
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
static unsigned jcc_cond(unsigned id)
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
static unsigned shift_count(const X86Insn *in)
{
    unsigned c = in->nops == 1 ? 1 : (unsigned)in->op[1].disp & 0xff;
    return c & (in->op[0].size == 8 ? 0x3f : 0x1f);
}

static bool is_producer(const Tr *tr, unsigned i)
{
    JKind k = tr->j[i].kind;
    return is_alu(k) || k == J_INCDEC || (k == J_NEGNOT && tr->j[i].alu == JA_NEG) ||
           (k == J_SHIFT && shift_count(&tr->blk->insns[i]) != 0);
}

static X86CCOp alu_ccop(JAlu a)
{
    switch (a) {
    case JA_ADD: return X86_CC_ADD;
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
static void plan_flags(Tr *tr, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        JInsn *p = &tr->j[i];
        if (!is_producer(tr, i)) {
            continue;
        }
        p->record = true;
        for (unsigned k = i + 1; k < n; k++) {
            JKind jk = tr->j[k].kind;
            bool producer = is_producer(tr, k);
            if (jk == J_NOP || jk == J_MOV_RR || jk == J_MOV_RI || jk == J_LEA ||
                (jk == J_MOVX && tr->blk->insns[k].op[1].kind != X86_OPK_MEM) ||
                ((jk == J_NEGNOT || jk == J_SHIFT) && !producer)) {
                continue;   /* no flags, no fault */
            }
            if (jk == J_ALU_RR || jk == J_ALU_RI || (producer && (jk == J_NEGNOT || jk == J_SHIFT))) {
                p->record = false;
            } else if (jk == J_INCDEC && alu_ccop(p->alu) == X86_CC_LOGIC) {
                p->record = false;
            }
            break;
        }
    }
}

/* --- Emission helpers --- */

static X64Mem cpu_mem(int32_t off) { return x64_mem(CPU, off); }

/* A general register operand in X86Cpu.regs (AH..BH: byte 1 of the slot). */
static X64Mem greg(const X86Operand *o)
{
    return cpu_mem(REG_OFF(o->reg) + (o->kind == X86_OPK_REG8H ? 1 : 0));
}

/* x86_set_reg: a 4-byte value (zero-extended in `src`) clears bits 63..32,
 * 1- and 2-byte values merge. */
static void greg_store(X64Buf *b, const X86Operand *o, unsigned size, X64Reg src)
{
    x64_store(b, size == 4 ? 8 : size, greg(o), src);
}

static Stub *new_stub(Tr *tr, StubKind kind, unsigned insn)
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

static void jcc_to(Tr *tr, Stub *s, X64Cond cc) { stub_patch(tr, s, x64_jcc(&tr->b, cc)); }
static void jmp_to(Tr *tr, Stub *s) { stub_patch(tr, s, x64_jmp(&tr->b)); }

static void add_icount(Tr *tr, int64_t k)
{
    if (k) {
        x64_alu_mi(&tr->b, X64_ADD, 8, cpu_mem(CPU_OFF(icount)), (int32_t)k);
    }
}

/* reg = the address `off` bytes past the block start, masked to the code size. */
static void ip_at(Tr *tr, X64Reg reg, int64_t off)
{
    x64_lea(&tr->b, tr->code_size == 8 ? 8 : 4, reg, x64_mem(RIP0, (int32_t)off));
}

static void store_rip(Tr *tr, int64_t off)
{
    ip_at(tr, X64_RAX, off);
    x64_store(&tr->b, 8, cpu_mem(CPU_OFF(rip)), X64_RAX);
}

/* Call instruction i's handler. On the main path (`restore` false) the
 * count is brought to i and stays there; from a slow stub it is put back
 * to `flushed` afterwards. Exits: STUB_RET, STUB_BREAK. */
static void emit_call(Tr *tr, unsigned i, unsigned flushed, bool restore)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    add_icount(tr, (int64_t)i - flushed);
    store_rip(tr, tr->off[i]);
    ip_at(tr, X64_RAX, tr->off[i + 1]);
    x64_store(b, 8, cpu_mem(CPU_OFF(next_rip)), X64_RAX);
    x64_mov_rr(b, 8, X64_RDI, CPU);
    x64_mov_ri(b, X64_RSI, (uint64_t)(uintptr_t)in);
    x64_call(b, (const void *)in->fn);
    x64_mov_ri(b, SLOWRAN, 1);
    x64_test_rr(b, 4, X64_RAX, X64_RAX);
    jcc_to(tr, new_stub(tr, STUB_RET, i), X64_CC_NE);
    if (!(in->flags & X86_INSN_REGONLY)) {
        Stub *brk = new_stub(tr, STUB_BREAK, i);
        x64_mov_ri(b, X64_RAX, (uint64_t)(uintptr_t)&tr->blk->cb.valid);
        x64_alu_mi(b, X64_CMP, 1, x64_mem(X64_RAX, 0), 0);
        jcc_to(tr, brk, X64_CC_E);
        x64_alu_mi(b, X64_CMP, 1, cpu_mem(CPU_OFF(exit_request)), 0);
        jcc_to(tr, brk, X64_CC_NE);
        x64_alu_mi(b, X64_CMP, 1, cpu_mem(CPU_OFF(smi_pending)), 0);
        jcc_to(tr, brk, X64_CC_NE);
    }
    if (restore) {
        add_icount(tr, -((int64_t)i - flushed));
    } else {
        tr->flushed = i;
        tr->prod = -1;
        tr->prod_stored = false;
    }
    tr->hostflags = false;
}

/* RCX = the operand's effective address (before segmentation). */
static void emit_ea(Tr *tr, unsigned i, const X86Insn *in, const X86Operand *o)
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

enum { ACC_READ = 1, ACC_WRITE = 2, ACC_RMW = 3 };

/* The segment window test of x86_seg_window_hit for window w. */
static void emit_window(Tr *tr, Stub *slow, unsigned seg, unsigned w, unsigned size)
{
    X64Buf *b = &tr->b;
    x64_mov_rr(b, 8, X64_RAX, X64_RCX);
    x64_alu_rm(b, X64_SUB, 8, X64_RAX, cpu_mem(WIN_OFF(seg, w, lo)));
    x64_lea(b, 8, X64_RDX, x64_mem(X64_RAX, (int32_t)size));
    x64_alu_rm(b, X64_CMP, 8, X64_RDX, cpu_mem(WIN_OFF(seg, w, cnt)));
    jcc_to(tr, slow, X64_CC_A);
    x64_alu_rm(b, X64_CMP, 8, X64_RAX, cpu_mem(WIN_OFF(seg, w, cnt)));
    jcc_to(tr, slow, X64_CC_AE);
}

static Stub *slow_stub(Tr *tr, unsigned i)
{
    Stub *slow = new_stub(tr, STUB_SLOW, i);
    slow->flushed = tr->flushed;
    return slow;
}

/* RCX holds an offset in segment `seg`: make it the host address of a
 * `size`-byte access, or jump to `slow`. Clobbers RAX, RDX, RSI. */
static void emit_access(Tr *tr, Stub *slow, unsigned seg, unsigned size, unsigned acc)
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
        jcc_to(tr, slow, X64_CC_NE);
    }
    if (acc & ACC_WRITE) {
        x64_alu_rm(b, X64_CMP, 8, X64_RSI, x64_mem(X64_RAX, (int32_t)offsetof(TlbEntry, addr_write)));
        jcc_to(tr, slow, X64_CC_NE);
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
static void emit_mem(Tr *tr, unsigned i, const X86Operand *o, unsigned size, unsigned acc)
{
    Stub *slow = slow_stub(tr, i);
    emit_ea(tr, i, &tr->blk->insns[i], o);
    emit_access(tr, slow, o->seg, size, acc);
}

/* The slow stub of instruction i (the last STUB_SLOW created) resumes here. */
static void slow_resume_here(Tr *tr, unsigned i)
{
    for (unsigned k = tr->nstubs; k-- > 0;) {
        Stub *s = &tr->stubs[k];
        if (s->kind == STUB_SLOW && s->insn == i) {
            s->resume = x64_buf_used(&tr->b);
            return;
        }
    }
}

static void note_producer(Tr *tr, X86CCOp op, unsigned size, bool stored, bool host)
{
    tr->prod = op;
    tr->prod_size = size;
    tr->prod_stored = stored;
    tr->hostflags = host;
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
        emit_mem(tr, i, s, sz, ACC_READ);
        x64_load(b, sz, X64_RAX, x64_mem(X64_RCX, 0));
        greg_store(b, d, sz, X64_RAX);
        slow_resume_here(tr, i);
        break;
    case J_MOV_MR:
        emit_mem(tr, i, d, sz, ACC_WRITE);
        x64_load(b, sz, X64_RAX, greg(s));
        x64_store(b, sz, x64_mem(X64_RCX, 0), X64_RAX);
        slow_resume_here(tr, i);
        break;
    default: /* J_MOV_MI */
        emit_mem(tr, i, d, sz, ACC_WRITE);
        x64_store_imm(b, sz, x64_mem(X64_RCX, 0), (int32_t)s->disp);
        slow_resume_here(tr, i);
        break;
    }
}

static void emit_lea(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0];
    emit_ea(tr, i, in, &in->op[1]);
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
        emit_mem(tr, i, s, s->size, ACC_READ);
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
        slow_resume_here(tr, i);
    }
}

/* 32-bit code: the stack is 32-bit only while SS.B is set (x86_stack_size). */
static void emit_stack_check(Tr *tr, Stub *slow)
{
    if (tr->code_size == 4) {
        x64_load(&tr->b, 4, X64_RAX, cpu_mem(CPU_OFF(segs[S_SS].attr)));
        x64_test_ri(&tr->b, 4, X64_RAX, X86_SEGA_DB);
        jcc_to(tr, slow, X64_CC_E);
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
    emit_access(tr, slow, S_SS, sz, ACC_WRITE);
    x64_store(b, sz, x64_mem(X64_RCX, 0), X64_RDI);
    x64_store(b, 8, cpu_mem(REG_OFF(R_SP)), X64_R8);
}

static void emit_push(Tr *tr, unsigned i)
{
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *o = &in->op[0];
    unsigned sz = tr->code_size;
    Stub *slow = slow_stub(tr, i);
    emit_stack_check(tr, slow);
    if (o->kind == X86_OPK_REG) {
        x64_load(&tr->b, sz, X64_RDI, cpu_mem(REG_OFF(o->reg)));   /* PUSH rSP: the old value */
    } else {
        x64_mov_ri(&tr->b, X64_RDI, (uint64_t)o->disp & x86_mask(sz));
    }
    emit_push_rdi(tr, slow);
    slow_resume_here(tr, i);
}

/* x86_pop: read at rSP, then rSP += size + extra; the value in RDI. */
static void emit_pop_rdi(Tr *tr, Stub *slow, unsigned extra)
{
    X64Buf *b = &tr->b;
    unsigned sz = tr->code_size;
    x64_load(b, sz, X64_RCX, cpu_mem(REG_OFF(R_SP)));
    x64_mov_rr(b, 8, X64_R8, X64_RCX);
    emit_access(tr, slow, S_SS, sz, ACC_READ);
    x64_load(b, sz, X64_RDI, x64_mem(X64_RCX, 0));
    x64_lea(b, sz, X64_R8, x64_mem(X64_R8, (int32_t)(sz + extra)));
}

static void emit_pop(Tr *tr, unsigned i)
{
    const X86Insn *in = &tr->blk->insns[i];
    Stub *slow = slow_stub(tr, i);
    emit_stack_check(tr, slow);
    emit_pop_rdi(tr, slow, 0);
    /* rSP first, then the register: POP rSP gets the value. */
    x64_store(&tr->b, 8, cpu_mem(REG_OFF(R_SP)), X64_R8);
    x64_store(&tr->b, 8, cpu_mem(REG_OFF(in->op[0].reg)), X64_RDI);
    slow_resume_here(tr, i);
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
    note_producer(tr, X86_CC_SUB, sz, j->record, true);
}

/* SHL/SHR/SAR by a constant: a masked count of 0 still writes the register
 * (a 32-bit one is zero-extended) and leaves the flags. */
static void emit_shift(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    JInsn *j = &tr->j[i];
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0];
    unsigned sz = d->size, count = shift_count(in);
    X86CCOp op = alu_ccop(j->alu);
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
    note_producer(tr, op, sz, j->record, false);
}

static X64Cond emit_cond(Tr *tr, unsigned cc);

/* CMOVcc: the source is read (and may fault) whatever the condition; a
 * false 32-bit CMOV still clears the upper half (cmovcc). */
static void emit_cmov(Tr *tr, unsigned i)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    X64Cond hc = emit_cond(tr, jcc_cond(in->id));
    x64_setcc(b, hc, X64_R9);
    x64_movzx_rr(b, 1, X64_R9, X64_R9);
    if (s->kind == X86_OPK_MEM) {
        emit_mem(tr, i, s, sz, ACC_READ);
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
        slow_resume_here(tr, i);
    }
    tr->hostflags = false;
}

static const X64Alu host_alu[] = {
    [JA_ADD] = X64_ADD, [JA_OR] = X64_OR, [JA_AND] = X64_AND, [JA_SUB] = X64_SUB,
    [JA_XOR] = X64_XOR, [JA_CMP] = X64_SUB, [JA_TEST] = X64_AND,
};

/* a in RAX, b in RDX: compute, write back (to the register, or through the
 * host pointer in RCX when `to_mem`), record. Host flags end up as the
 * guest's. */
static void alu_core(Tr *tr, unsigned i, unsigned sz, bool to_mem, const X86Operand *dreg)
{
    X64Buf *b = &tr->b;
    JInsn *j = &tr->j[i];
    X86CCOp op = alu_ccop(j->alu);
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
    switch (j->kind) {
    case J_ALU_RR:
    case J_ALU_RI:
        if (j->kind == J_ALU_RR) {
            x64_load(b, sz, X64_RDX, greg(s));
        } else {
            x64_mov_ri(b, X64_RDX, (uint64_t)s->disp & x86_mask(sz));
        }
        x64_load(b, sz, X64_RAX, greg(d));
        alu_core(tr, i, sz, false, d);
        note_producer(tr, alu_ccop(j->alu), sz, j->record, true);
        break;
    case J_ALU_RM:
        emit_mem(tr, i, s, sz, ACC_READ);
        x64_load(b, sz, X64_RDX, x64_mem(X64_RCX, 0));
        x64_load(b, sz, X64_RAX, greg(d));
        alu_core(tr, i, sz, false, d);
        slow_resume_here(tr, i);
        /* The slow path left the same record but not the host flags. */
        note_producer(tr, alu_ccop(j->alu), sz, j->record, false);
        break;
    default: /* J_ALU_MR, J_ALU_MI */
        emit_mem(tr, i, d, sz, writes ? ACC_RMW : ACC_READ);
        if (j->kind == J_ALU_MR) {
            x64_load(b, sz, X64_RDX, greg(s));
        } else {
            x64_mov_ri(b, X64_RDX, (uint64_t)s->disp & x86_mask(sz));
        }
        x64_load(b, sz, X64_RAX, x64_mem(X64_RCX, 0));
        alu_core(tr, i, sz, true, NULL);
        slow_resume_here(tr, i);
        note_producer(tr, alu_ccop(j->alu), sz, j->record, false);
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
    X86CCOp op = alu_ccop(j->alu);
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
    note_producer(tr, op, sz, j->record, true);
}

/* Leave through the epilogue with `value` (the icount and rip stores done
 * by the caller). */
static void exit_with(Tr *tr, int value)
{
    if (value == X86_JX_CHAIN) {
        if (!tr->chain) {
            tr->chain = new_stub(tr, STUB_CHAIN, 0);
        }
        jmp_to(tr, tr->chain);
        return;
    }
    x64_mov_ri(&tr->b, X64_RAX, (uint32_t)value);
    jmp_to(tr, new_stub(tr, STUB_EXIT, 0));
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
    X64Cond hc = emit_cond(tr, jcc_cond(in->id));
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
        jcc_to(tr, slow, X64_CC_A);
    } else {
        x64_mov_rr(b, 8, X64_RDX, X64_RAX);
        x64_shift_ri(b, X64_SHL, 8, X64_RDX, 16);
        x64_shift_ri(b, X64_SAR, 8, X64_RDX, 16);
        x64_alu_rr(b, X64_CMP, 8, X64_RDX, X64_RAX);
        jcc_to(tr, slow, X64_CC_NE);
    }
}

/* The block's last instruction jumped to RAX: rip, count, chainable exit.
 * The slow stub's handler leaves through STUB_RET (X86_R_JUMP or an
 * exception); should it return X86_R_NEXT, the code after resumes. */
static void emit_jump_exit(Tr *tr, Stub *slow, unsigned n)
{
    X64Buf *b = &tr->b;
    x64_store(b, 8, cpu_mem(CPU_OFF(rip)), X64_RAX);
    add_icount(tr, (int64_t)n - tr->flushed);
    exit_with(tr, X86_JX_CHAIN);
    slow->resume = x64_buf_used(b);
    store_rip(tr, tr->off[n]);
    add_icount(tr, (int64_t)n - tr->flushed);
    exit_with(tr, X86_JX_CHAIN);
}

/* CALL rel: the target checked first (x86_jump after x86_push in the
 * handler, which undoes the push when the jump faults: the same state),
 * then the return address pushed. */
static void emit_call_rel(Tr *tr, unsigned i, unsigned n)
{
    X64Buf *b = &tr->b;
    const X86Insn *in = &tr->blk->insns[i];
    Stub *slow = slow_stub(tr, i);
    emit_stack_check(tr, slow);
    ip_at(tr, X64_RAX, (int64_t)tr->off[i + 1] + in->op[0].disp);
    emit_target_check(tr, slow);
    x64_mov_rr(b, 8, X64_R9, X64_RAX);
    ip_at(tr, X64_RDI, tr->off[i + 1]);
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
    Stub *slow = slow_stub(tr, i);
    if (call) {
        emit_stack_check(tr, slow);
    }
    if (o->kind == X86_OPK_MEM) {
        emit_ea(tr, i, in, o);
        emit_access(tr, slow, o->seg, sz, ACC_READ);
        x64_load(b, sz, X64_RAX, x64_mem(X64_RCX, 0));
    } else {
        x64_load(b, sz, X64_RAX, greg(o));
    }
    emit_target_check(tr, slow);
    if (call) {
        x64_mov_rr(b, 8, X64_R9, X64_RAX);
        ip_at(tr, X64_RDI, tr->off[i + 1]);
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
    Stub *slow = slow_stub(tr, i);
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
         * ran no handler and another whole one fits the budget; the entry
         * checks (limit, canonical) already passed for this rip. */
        add_icount(tr, (int64_t)n - tr->flushed);
        x64_test_rr(b, 4, SLOWRAN, SLOWRAN);
        size_t leave1 = x64_jcc(b, X64_CC_NE);
        x64_load(b, 8, X64_RAX, cpu_mem(CPU_OFF(icount)));
        x64_alu_ri(b, X64_ADD, 8, X64_RAX, (int32_t)n);
        x64_alu_rr(b, X64_CMP, 8, X64_RAX, END);
        size_t leave2 = x64_jcc(b, X64_CC_A);
        x64_patch_to(b, x64_jmp(b), b->start + tr->loop_start);
        x64_patch_here(b, leave1);
        x64_patch_here(b, leave2);
        store_rip(tr, 0);
        exit_with(tr, X86_JX_CHAIN);
        return;
    }
    /* Elsewhere: the checks of jcc_fast / x86_jump, else the handler
     * raises the #GP. */
    Stub *slow = slow_stub(tr, i);
    ip_at(tr, X64_RAX, target);
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
    unsigned cc = jcc_cond(in->id);
    X64Cond hc = emit_cond(tr, cc);
    size_t taken = x64_jcc(b, hc);
    /* Not taken: on to the next instruction, as a chainable exit. */
    store_rip(tr, tr->off[n]);
    add_icount(tr, (int64_t)n - tr->flushed);
    exit_with(tr, X86_JX_CHAIN);
    x64_patch_here(b, taken);
    emit_taken(tr, i, n);
}

/* --- Stubs, prologue, epilogue --- */

/* Where a chained block is entered: past the prologue's pushes and the
 * copies of the arguments, which the running frame already holds. */
#define X86_JIT_CHAIN_ENTRY 17

_Static_assert(sizeof(struct X86JumpEntry) == 24, "jump cache entries are indexed * 24");

/*
 * The run loop's chaining (exec_block: round_pending, the jump cache, the
 * budget) done in host code, so that hot code does not return to C between
 * blocks. Round work can only have appeared if a handler ran since the
 * loop last looked (R14): every state round_pending reads changes only in
 * handlers, their slow paths, or outside the CPU's run. Then: the CS limit
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
                add_icount(tr, 1);
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
            add_icount(tr, 1);
            store_rip(tr, tr->off[i + 1]);
            x64_mov_ri(b, X64_RAX, (i << 8) | X86_JX_BREAK);
            x64_patch_to(b, x64_jmp(b), b->start + epilogue_at);
            break;
        case STUB_SLOW: {
            size_t resume = s->resume;
            unsigned flushed = s->flushed;
            emit_call(tr, i, flushed, true);
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
        tr->j[i].kind = classify(&blk->insns[i], code_size, &alu);
        tr->j[i].alu = alu;
        tr->off[i + 1] = tr->off[i] + blk->insns[i].len;
    }
    plan_flags(tr, n);
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
    for (unsigned i = 0; i < n; i++) {
        switch (tr->j[i].kind) {
        case J_NOP:
            break;
        case J_MOV_RR: case J_MOV_RI: case J_MOV_RM: case J_MOV_MR: case J_MOV_MI:
            emit_mov(tr, i);
            break;
        case J_LEA:
            emit_lea(tr, i);
            break;
        case J_ALU_RR: case J_ALU_RI: case J_ALU_RM: case J_ALU_MR: case J_ALU_MI:
            emit_alu(tr, i);
            break;
        case J_INCDEC:
            emit_incdec(tr, i);
            break;
        case J_MOVX:
            emit_movx(tr, i);
            break;
        case J_NEGNOT:
            emit_negnot(tr, i);
            break;
        case J_SHIFT:
            emit_shift(tr, i);
            break;
        case J_CMOV:
            emit_cmov(tr, i);
            break;
        case J_SETCC:
            emit_setcc(tr, i);
            break;
        case J_PUSH:
            emit_push(tr, i);
            break;
        case J_POP:
            emit_pop(tr, i);
            break;
        case J_JCC: case J_JMP:
            emit_jump(tr, i, n);
            jumped = true;
            break;
        case J_CALL_REL:
            emit_call_rel(tr, i, n);
            jumped = true;
            break;
        case J_RET:
            emit_ret(tr, i, n);
            jumped = true;
            break;
        case J_JMP_IND: case J_CALL_IND:
            emit_jmp_ind(tr, i, n, tr->j[i].kind == J_CALL_IND);
            jumped = true;
            break;
        default:
            emit_call(tr, i, tr->flushed, false);
            break;
        }
        if (jumped) {
            break;
        }
    }
    if (!jumped) {
        /* Fell off the end. Chainable unless the last instruction may have
         * changed the segment state. */
        store_rip(tr, tr->off[n]);
        add_icount(tr, (int64_t)n - tr->flushed);
        bool segw = blk->insns[n - 1].flags & X86_INSN_SEGW;
        exit_with(tr, segw ? X86_JX_END : X86_JX_CHAIN);
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
