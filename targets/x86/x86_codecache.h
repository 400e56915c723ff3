/* The x86 decoded block (tlb/code_cache.h holds the shared cache).
 * Private to targets/x86. */
#ifndef MMUSIM_TARGETS_X86_CODECACHE_H
#define MMUSIM_TARGETS_X86_CODECACHE_H

#include "targets/x86/x86_decode.h"
#include "tlb/code_cache.h"

#define X86_BLOCK_MAX_INSNS 64

/* A run of decoded instructions starting at one byte of guest RAM, for one
 * code size (the cache key's mode: 2, 4 or 8). */
typedef struct X86Block {
    CodeBlock cb;         /* must stay first: the cache hands back CodeBlock* */
    uint16_t n;
    X86Insn insns[];
} X86Block;

#endif
