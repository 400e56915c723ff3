/*
 * A small x86-64 machine-code emitter for the targets' translators.
 *
 * It writes instructions into a caller-provided buffer, one function per
 * instruction form the translators use, and knows the encoding rules that
 * are easy to get wrong (REX for SPL/BPL/SIL/DIL and R8..R15, the SIB byte
 * RSP/R12 bases need, the displacement RBP/R13 bases need, sign-extended
 * immediates). It does no register allocation and no optimisation.
 *
 * Memory operands are [base + index * scale + disp32]; a base is required
 * (translated code addresses everything relative to a register) and RSP can
 * not be an index (the SIB encoding reserves it). Sizes are in bytes: 1, 2,
 * 4 or 8. As in hardware, a 4-byte result written to a register clears
 * bits 63..32.
 *
 * Running out of room sets `overflow` and stops writing: the caller checks
 * it once at the end and throws the code away (x64_buf_ok). Encodings
 * follow the Intel SDM Vol. 2, chapter 2 (instruction format) and the
 * opcode tables of Vol. 2A-2D.
 */
#ifndef MMUSIM_TARGETS_JIT_X64_EMIT_H
#define MMUSIM_TARGETS_JIT_X64_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum X64Reg {
    X64_RAX, X64_RCX, X64_RDX, X64_RBX, X64_RSP, X64_RBP, X64_RSI, X64_RDI,
    X64_R8, X64_R9, X64_R10, X64_R11, X64_R12, X64_R13, X64_R14, X64_R15,
    X64_NOREG = -1,
} X64Reg;

/* Group-1 ALU operations, in their /digit order. */
typedef enum X64Alu {
    X64_ADD = 0, X64_OR = 1, X64_ADC = 2, X64_SBB = 3,
    X64_AND = 4, X64_SUB = 5, X64_XOR = 6, X64_CMP = 7,
} X64Alu;

/* Group-2 shifts, in their /digit order. */
typedef enum X64Shift { X64_ROL = 0, X64_ROR = 1, X64_SHL = 4, X64_SHR = 5, X64_SAR = 7 } X64Shift;

/* Condition codes: the low nibble of Jcc/SETcc/CMOVcc (the guest's
 * numbering too, see X86_COND_* in targets/x86/x86_alu.h). */
typedef enum X64Cond {
    X64_CC_O, X64_CC_NO, X64_CC_B, X64_CC_AE, X64_CC_E, X64_CC_NE, X64_CC_BE, X64_CC_A,
    X64_CC_S, X64_CC_NS, X64_CC_P, X64_CC_NP, X64_CC_L, X64_CC_GE, X64_CC_LE, X64_CC_G,
} X64Cond;

typedef struct X64Mem {
    X64Reg base;     /* required */
    X64Reg index;    /* or X64_NOREG; never RSP */
    uint8_t scale;   /* 1, 2, 4, 8 */
    int32_t disp;
} X64Mem;

static inline X64Mem x64_mem(X64Reg base, int32_t disp)
{
    return (X64Mem){ base, X64_NOREG, 1, disp };
}

static inline X64Mem x64_mem_idx(X64Reg base, X64Reg index, unsigned scale, int32_t disp)
{
    return (X64Mem){ base, index, (uint8_t)scale, disp };
}

typedef struct X64Buf {
    uint8_t *start, *p, *end;
    bool overflow;
} X64Buf;

static inline void x64_buf_init(X64Buf *b, void *mem, size_t size)
{
    b->start = b->p = mem;
    b->end = b->start + size;
    b->overflow = false;
}

static inline bool x64_buf_ok(const X64Buf *b) { return !b->overflow; }
static inline size_t x64_buf_used(const X64Buf *b) { return (size_t)(b->p - b->start); }

/* Moves. */
void x64_mov_rr(X64Buf *b, unsigned size, X64Reg dst, X64Reg src);        /* size 4 or 8 */
void x64_mov_ri(X64Buf *b, X64Reg dst, uint64_t imm);                      /* shortest form */
void x64_load(X64Buf *b, unsigned size, X64Reg dst, X64Mem m);            /* 1, 2 zero-extend */
void x64_load_sx(X64Buf *b, unsigned size, X64Reg dst, X64Mem m);         /* 1, 2, 4 -> 64 */
void x64_store(X64Buf *b, unsigned size, X64Mem m, X64Reg src);
void x64_store_imm(X64Buf *b, unsigned size, X64Mem m, int32_t imm);      /* 8: sign-extended */
void x64_lea(X64Buf *b, unsigned size, X64Reg dst, X64Mem m);             /* size 4 or 8 */
void x64_movzx_rr(X64Buf *b, unsigned from_size, X64Reg dst, X64Reg src); /* 1, 2 -> 32 */

/* Arithmetic (sets the host flags as the guest instruction would). */
void x64_alu_rr(X64Buf *b, X64Alu op, unsigned size, X64Reg dst, X64Reg src);
void x64_alu_ri(X64Buf *b, X64Alu op, unsigned size, X64Reg dst, int32_t imm);
void x64_alu_rm(X64Buf *b, X64Alu op, unsigned size, X64Reg dst, X64Mem m);
void x64_alu_mr(X64Buf *b, X64Alu op, unsigned size, X64Mem m, X64Reg src);
void x64_alu_mi(X64Buf *b, X64Alu op, unsigned size, X64Mem m, int32_t imm);
void x64_test_rr(X64Buf *b, unsigned size, X64Reg a, X64Reg c);
void x64_test_ri(X64Buf *b, unsigned size, X64Reg a, int32_t imm);
void x64_inc(X64Buf *b, unsigned size, X64Reg r);
void x64_dec(X64Buf *b, unsigned size, X64Reg r);
void x64_neg(X64Buf *b, unsigned size, X64Reg r);
void x64_imul_rr(X64Buf *b, unsigned size, X64Reg dst, X64Reg src);            /* 4 or 8 */
void x64_imul_rri(X64Buf *b, unsigned size, X64Reg dst, X64Reg src, int32_t imm); /* 4 or 8 */
void x64_not(X64Buf *b, unsigned size, X64Reg r);
void x64_shift_ri(X64Buf *b, X64Shift op, unsigned size, X64Reg r, uint8_t count);
void x64_setcc(X64Buf *b, X64Cond cc, X64Reg dst8);                      /* low byte only */

/* Control flow. Jumps return the offset of their rel32 field, for
 * x64_patch (a label not known yet) or x64_patch_to. */
size_t x64_jcc(X64Buf *b, X64Cond cc);
size_t x64_jmp(X64Buf *b);
void x64_patch_to(X64Buf *b, size_t rel32_at, const uint8_t *target);
static inline void x64_patch_here(X64Buf *b, size_t rel32_at) { x64_patch_to(b, rel32_at, b->p); }
void x64_call(X64Buf *b, const void *fn);   /* rel32 when in reach, else via RAX */
void x64_jmp_reg(X64Buf *b, X64Reg r);        /* jmp r64 */
void x64_push(X64Buf *b, X64Reg r);
void x64_pop(X64Buf *b, X64Reg r);
void x64_ret(X64Buf *b);

#endif
