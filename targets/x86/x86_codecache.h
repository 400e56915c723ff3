/* The decoded-code cache (x86_codecache.c). Private to targets/x86. */
#ifndef MMUSIM_TARGETS_X86_CODECACHE_H
#define MMUSIM_TARGETS_X86_CODECACHE_H

#include "softmmu/region.h"
#include "targets/x86/x86_decode.h"

typedef struct X86CodeCache X86CodeCache;

typedef struct X86BlockKey {
    uintptr_t host;       /* host address of the first byte */
    unsigned code_size;   /* 2, 4, 8 */
} X86BlockKey;

#define X86_BLOCK_MAX_INSNS 64

typedef struct X86Block {
    X86BlockKey key;
    MemRegion *mr;        /* the RAM region holding it (referenced) */
    uint64_t offset;      /* of the first byte in mr */
    uint32_t nbytes;
    uint16_t n;
    bool valid;
    X86Insn insns[];
} X86Block;

X86CodeCache *x86_code_cache_new(void);
void x86_code_cache_free(X86CodeCache *cc);
X86Block *x86_code_cache_lookup(X86CodeCache *cc, uintptr_t host, unsigned code_size);
void x86_code_cache_insert(X86CodeCache *cc, X86Block *b);
/* Free invalidated blocks: only when no CPU is inside one. */
void x86_code_cache_collect(X86CodeCache *cc);
uint64_t x86_code_cache_invalidations(const X86CodeCache *cc);
guint x86_code_cache_size(const X86CodeCache *cc);

#endif
