/*
 * Private to the x86 block translator (x86_jit.c: the driver, stubs and the
 * building blocks every instruction uses; x86_jit_plan.c: what to do with
 * each instruction and which flag records must be written; x86_jit_insn.c:
 * the instructions). x86_jit.h says what a translation must keep.
 */
#ifndef MMUSIM_TARGETS_X86_JIT_INTERNAL_H
#define MMUSIM_TARGETS_X86_JIT_INTERNAL_H

#include <stddef.h>

#include "targets/jit/jit_mem.h"
#include "targets/x86/x86_insn.h"
#include "targets/x86/x86_jit.h"

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
    J_IMUL,                                   /* 2/3-operand IMUL whose flags nothing reads */
    J_MOVX,                                   /* MOVZX/MOVSX/MOVSXD to a 32/64-bit register */
    J_SETCC,                                  /* SETcc of a byte register */
    J_PUSH, J_POP,                            /* register or immediate, flat stack */
    J_JCC, J_JMP, J_CALL_REL, J_RET,          /* block enders */
    J_JMP_IND, J_CALL_IND,                    /* ... through a register or memory */
} JKind;

/* ALU operations: the host operation and what the guest's lazy record says. */
typedef enum JAlu {
    JA_ADD, JA_OR, JA_AND, JA_SUB, JA_XOR, JA_CMP, JA_TEST, JA_ADC, JA_SBB,
    JA_INC, JA_DEC, JA_NEG, JA_NOT,
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

/* --- Small helpers --- */

static inline X64Mem cpu_mem(int32_t off) { return x64_mem(CPU, off); }

/* A general register operand in X86Cpu.regs (AH..BH: byte 1 of the slot). */
static inline X64Mem greg(const X86Operand *o)
{
    return cpu_mem(REG_OFF(o->reg) + (o->kind == X86_OPK_REG8H ? 1 : 0));
}

/* x86_set_reg: a 4-byte value (zero-extended in `src`) clears bits 63..32,
 * 1- and 2-byte values merge. */
static inline void greg_store(X64Buf *b, const X86Operand *o, unsigned size, X64Reg src)
{
    x64_store(b, size == 4 ? 8 : size, greg(o), src);
}

enum { ACC_READ = 1, ACC_WRITE = 2, ACC_RMW = 3 };

/* --- x86_jit_plan.c --- */
JKind xj_classify(const X86Insn *in, unsigned code_size, JAlu *alu);
/* Which producers' flag records must be written (JInsn.record). */
void xj_plan_flags(Tr *tr, unsigned n);
/* The condition (X86_COND_*) of a Jcc, SETcc or CMOVcc. */
unsigned xj_cond_of(unsigned id);
/* The shift count of a J_SHIFT instruction after the SDM mask. */
unsigned xj_shift_count(const X86Insn *in);
/* The lazy record an ALU operation writes. */
X86CCOp xj_ccop(JAlu a);

/* --- x86_jit.c: building blocks --- */
Stub *xj_new_stub(Tr *tr, StubKind kind, unsigned insn);
void xj_jcc_to(Tr *tr, Stub *s, X64Cond cc);
void xj_jmp_to(Tr *tr, Stub *s);
void xj_add_icount(Tr *tr, int64_t k);
void xj_ip_at(Tr *tr, X64Reg reg, int64_t off);
void xj_store_rip(Tr *tr, int64_t off);
void xj_emit_call(Tr *tr, unsigned i, unsigned flushed, bool restore);
void xj_emit_ea(Tr *tr, unsigned i, const X86Insn *in, const X86Operand *o);
Stub *xj_slow_stub(Tr *tr, unsigned i);
void xj_emit_access(Tr *tr, Stub *slow, unsigned seg, unsigned size, unsigned acc);
void xj_emit_mem(Tr *tr, unsigned i, const X86Operand *o, unsigned size, unsigned acc);
void xj_slow_resume_here(Tr *tr, unsigned i);
void xj_note_producer(Tr *tr, X86CCOp op, unsigned size, bool stored, bool host);
void xj_exit_with(Tr *tr, int value);

/* --- x86_jit_insn.c --- */
/* Emit instruction i of the n in tr's block; true if it ended the block
 * (a jump: every exit of its own is emitted). */
bool xj_emit_insn(Tr *tr, unsigned i, unsigned n);

#endif
