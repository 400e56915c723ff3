/*
 * The compact decoded form of an x86 instruction, and the decoder that
 * produces it from capstone's output.
 *
 * Capstone reports syntax, not semantics (peers.md): it does not apply
 * default segments, some operand access flags are wrong, and implicit
 * operands are not listed. The decoder therefore records only the facts the
 * handlers need (registers, memory operand parts with the default segment
 * applied, immediates, sizes, prefixes) and picks the handler from the
 * instruction id; handlers know their own implicit operands.
 */
#ifndef MMUSIM_TARGETS_X86_DECODE_H
#define MMUSIM_TARGETS_X86_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct X86Cpu X86Cpu;
typedef struct X86Insn X86Insn;

/* What a handler tells the loop. */
enum {
    X86_R_NEXT = 0,  /* continue with the next instruction of the block */
    X86_R_JUMP,      /* rip was changed (taken branch, far transfer): end the block */
    X86_R_EXC,       /* an exception is pending: deliver it */
    X86_R_STOP,      /* mode/paging changed, HLT, or exit requested: end the block */
};

typedef int (*X86Handler)(X86Cpu *cpu, const X86Insn *in);

enum X86OpKind {
    X86_OPK_NONE = 0,
    X86_OPK_REG,    /* general register: reg 0..15, size 1/2/4/8 */
    X86_OPK_REG8H,  /* AH, CH, DH, BH: reg 0..3, bits 8..15 */
    X86_OPK_IMM,
    X86_OPK_MEM,
    X86_OPK_SREG,   /* segment register: reg = S_ES..S_GS */
    X86_OPK_CREG,   /* control register: reg = n */
    X86_OPK_DREG,   /* debug register: reg = n */
};

#define X86_NO_REG 0xff
#define X86_RIP_REG 16

typedef struct X86Operand {
    uint8_t kind;
    uint8_t size;    /* bytes */
    uint8_t reg;     /* REG, REG8H, SREG, CREG, DREG */
    uint8_t seg;     /* MEM: effective segment (defaults applied) */
    uint8_t base;    /* MEM: register, X86_RIP_REG, or X86_NO_REG */
    uint8_t index;   /* MEM: register or X86_NO_REG */
    uint8_t scale;   /* MEM: 1, 2, 4, 8 */
    int64_t disp;    /* MEM: displacement; IMM: the immediate (sign-extended) */
} X86Operand;

/* Prefix flags. */
enum {
    X86_PFX_REP = 1,     /* F3 */
    X86_PFX_REPNE = 2,   /* F2 */
    X86_PFX_LOCK = 4,
    X86_PFX_SEG = 8,     /* an explicit segment override was present (seg_override) */
    X86_PFX_OPSIZE = 16, /* 66h */
    X86_PFX_ADDRSIZE = 32, /* 67h */
};

enum {
    X86_INSN_ENDS_BLOCK = 1,  /* control transfer or system instruction: last of a block */
    /* May change segment registers, CPL, CR0/CR4/EFER, EFLAGS.VM/AC or SMM
     * state (anything the data fast path is derived from): always ends its
     * block, and the loop recomputes the segment windows after it. */
    X86_INSN_SEGW = 2,
    /* A specialised handler with register and immediate operands only: it
     * cannot write code, reach a device or raise an SMI, so the loop skips
     * its after-instruction checks. */
    X86_INSN_REGONLY = 4,
};

struct X86Insn {
    X86Handler fn;
    uint8_t len;        /* bytes */
    uint8_t opsize;     /* operand size: 1, 2, 4, 8 */
    uint8_t addrsize;   /* address size: 2, 4, 8 */
    uint8_t nops;
    uint8_t prefixes;
    uint8_t opcode;     /* first opcode byte (after 0F, if any, see opcode2) */
    uint8_t opcode2;    /* second opcode byte for 0F xx, else 0 */
    uint8_t modrm;
    uint8_t flags;      /* X86_INSN_* */
    uint8_t rex;        /* REX prefix byte in 64-bit code, else 0 */
    uint8_t seg_override; /* S_ES..S_GS from a prefix, or S_NONE */
    uint16_t id;        /* capstone instruction id: for tracing and #UD reports */
    X86Operand op[3];
};

/* Decode one instruction from `bytes` (at most `avail` of them) for a code
 * segment of `code_size` (2, 4, 8) at linear address `pc`. False when
 * capstone rejects it or it is longer than `avail`: the caller raises #UD,
 * or fetches more bytes when `avail` was cut by a page end (*need_more). */
bool x86_decode(const uint8_t *bytes, unsigned avail, unsigned code_size, uint64_t pc,
                X86Insn *out, bool *need_more);
/* Capstone's text for tracing (in_asm). */
void x86_disasm(const uint8_t *bytes, unsigned len, unsigned code_size, uint64_t pc,
                char *buf, size_t bufsize);

/* Handlers for capstone ids (filled by each x86_insn_*.c group). */
X86Handler x86_handler_for(unsigned cs_id);
void x86_register_handler(unsigned cs_id, X86Handler fn);
/* A handler specialised for the decoded form of `in` (operand kinds and
 * sizes, address size, code size), or NULL: the decoder's last step. */
X86Handler x86_insn_specialise(const X86Insn *in, unsigned code_size);
/* Group registration, called once before the first decode. */
void x86_insn_register_all(void);

#endif
