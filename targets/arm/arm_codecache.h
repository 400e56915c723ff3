/* The AArch64 decoded block (tlb/code_cache.h holds the shared cache).
 * Private to targets/arm. */
#ifndef MMUSIM_TARGETS_ARM_CODECACHE_H
#define MMUSIM_TARGETS_ARM_CODECACHE_H

#include "targets/arm/a64_decode.h"
#include "tlb/code_cache.h"

#define ARM_BLOCK_MAX_INSNS 64

/* A run of decoded instructions starting at one word of guest RAM, never
 * crossing a 4 KiB page. Keyed by host address only (mode 0: A64 has one
 * decoding). */
typedef struct ArmBlock {
    CodeBlock cb;         /* must stay first: the cache hands back CodeBlock* */
    uint16_t n;
    A64Insn insns[];
} ArmBlock;

#endif
