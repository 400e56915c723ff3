/* The x86 decoded block (tlb/code_cache.h holds the shared cache).
 * Private to targets/x86. */
#ifndef MMUSIM_TARGETS_X86_CODECACHE_H
#define MMUSIM_TARGETS_X86_CODECACHE_H

#include "targets/x86/x86_decode.h"
#include "tlb/code_cache.h"

#include <stdbool.h>

struct X86Cpu;

#define X86_BLOCK_MAX_INSNS 64

/* A run of decoded instructions starting at one byte of guest RAM, for one
 * code size (the cache key's mode: 2, 4 or 8). */
typedef struct X86Block {
    CodeBlock cb;         /* must stay first: the cache hands back CodeBlock* */
    uint16_t n;
    bool jit_unable;      /* x86_jit_translate refused it: never ask again */
    uint32_t execs;       /* runs in the interpreter, up to X86_JIT_THRESHOLD */
    /* Its translation (x86_jit.h), valid while jit_mem_generation() is
     * jit_gen on the thread running it. */
    int (*jit)(struct X86Cpu *cpu, uint64_t end);
    uint64_t jit_gen;
    X86Insn insns[];
} X86Block;

#endif
