/*
 * Translation of hot x86 blocks to x86-64 host code (x86-64 hosts only).
 * Private to targets/x86; docs/x86.md section "Translated blocks".
 *
 * A translated block does exactly what the interpreter's loop would do with
 * the same decoded block, instruction by instruction, and leaves the CPU in
 * the same state at every exit:
 *  - Common forms (MOV, LEA, the two-operand ALU, INC/DEC on registers,
 *    Jcc, JMP rel, NOP with 32/64-bit operands) become host instructions
 *    working on X86Cpu.regs and the lazy flags record. Their memory
 *    operands take the same fast path the interpreter's x86_read_seg /
 *    x86_write_seg take (segment window, then the TLB tag compare, then the
 *    host pointer). Anything else about them (a window or TLB miss, MMIO,
 *    a code page, a fault) runs the instruction's interpreter handler
 *    instead, from the same state, so the slow cases have one definition.
 *  - Every other instruction calls its handler, as the loop would.
 *  - The lazy flags record is written where something may read it; a
 *    record the next instruction overwrites unread is not written, and a
 *    Jcc after an ALU instruction tests the host flags.
 *  - A block ending with a jump to its own start loops in host code while
 *    nothing but translated fast paths ran in the iteration and the budget
 *    allows another whole iteration.
 *
 * The translated function returns an X86_JX_* value saying how it ended;
 * exec_block (x86_cpu.c) finishes the work as the interpreter would.
 */
#ifndef MMUSIM_TARGETS_X86_JIT_H
#define MMUSIM_TARGETS_X86_JIT_H

#include "targets/x86/x86_codecache.h"

typedef struct X86Cpu X86Cpu;

/* How a translated block ended (low 4 bits), which instruction (bits 8+)
 * and the handler's X86_R_* value for X86_JX_FINISH (bits 4..7). */
enum {
    /* All instructions ran; rip and icount are up to date. The last one did
     * not jump (or jumped within the block's own loop and the budget ran
     * out); if it may change the segment state (X86_INSN_SEGW) the caller
     * recomputes the windows. */
    X86_JX_END = 0,
    /* A near jump without segment changes (or a fall-through): rip and
     * icount are up to date; the caller may chain to the next block. */
    X86_JX_CHAIN = 1,
    /* Instruction i's handler returned r (not X86_R_NEXT, and not a plain
     * X86_R_JUMP): rip is instruction i's (or the handler's jump target),
     * icount counts the instructions before i. Finish as the loop does. */
    X86_JX_FINISH = 2,
    /* Instruction i returned X86_R_NEXT but the block was overwritten, an
     * exit was requested or an SMI arrived: rip is past i, icount counts i.
     * As the loop does: recompute the windows if i is X86_INSN_SEGW. */
    X86_JX_BREAK = 3,
};
#define X86_JX_KIND(v) ((unsigned)(v) & 0xf)
#define X86_JX_R(v) (((unsigned)(v) >> 4) & 0xf)
#define X86_JX_INSN(v) ((unsigned)(v) >> 8)

/* A translated block: run from cpu->rip (the block's start) with the
 * icount limit `end`, cpu->jit_block set to its block. Translations chain
 * into each other (x86_jit.c, emit_chain_dispatch): on return,
 * cpu->jit_block is the block whose exit the value describes. */
typedef int (*X86JitFn)(X86Cpu *cpu, uint64_t end);

/* Translate `b` (decoded for code size 4 or 8) for this thread. NULL when
 * the block cannot be translated (code size 2, or no executable memory):
 * the interpreter runs it. The code belongs to jit_mem_generation(). */
X86JitFn x86_jit_translate(X86Block *b, unsigned code_size);

/* Blocks run this many times in the interpreter before they are
 * translated (X86_JIT_ON). */
#define X86_JIT_THRESHOLD 2

#endif
