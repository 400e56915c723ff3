/* The decoded-code cache (arm_codecache.c). Private to targets/arm. */
#ifndef MMUSIM_TARGETS_ARM_CODECACHE_H
#define MMUSIM_TARGETS_ARM_CODECACHE_H

#include "softmmu/region.h"
#include "targets/arm/a64_decode.h"

typedef struct ArmCodeCache ArmCodeCache;

#define ARM_BLOCK_MAX_INSNS 64

typedef struct ArmBlock {
    uintptr_t host;       /* host address of the first instruction: the key */
    MemRegion *mr;        /* the RAM region holding it (referenced) */
    uint64_t offset;      /* of the first byte in mr */
    uint32_t nbytes;
    uint16_t n;
    bool valid;           /* false once its bytes were written: freed at a safe point */
    A64Insn insns[];
} ArmBlock;

ArmBlock *arm_code_cache_lookup(ArmCodeCache *cc, uintptr_t host);
/* Insert a new block; if another CPU inserted one for the same host
 * address meanwhile, `b` is freed and that one is returned. */
ArmBlock *arm_code_cache_insert(ArmCodeCache *cc, ArmBlock *b);
/* Free invalidated blocks: only where no CPU is inside one. */
void arm_code_cache_collect(ArmCodeCache *cc);
/* Bumped by every invalidation: jump caches holding blocks drop them. */
uint64_t arm_code_cache_invalidations(const ArmCodeCache *cc);
guint arm_code_cache_size(ArmCodeCache *cc);

#endif
