/*
 * The decoded-code cache shared by every CPU of a machine (any target).
 *
 * A target decodes a run of guest instructions once into a block of its own
 * compact form. The block begins with a CodeBlock: its key (the host
 * address of its first byte, unique per byte of guest RAM whichever address
 * a CPU runs it from, plus the target's decoding mode, e.g. the x86 code
 * size) and where its bytes are (a RAM region, referenced, and an offset).
 * Blocks are registered under every (region, 4 KiB page) they cover; the
 * target protects those pages with tlb_protect_code().
 *
 * Invalidation: the memory core tells the cache before any write lands on a
 * protected page (a CPU store through any TLB, a DMA transfer, a page-table
 * update: mr_note_write), and every block of that page is dropped, at page
 * granularity since the page is unprotected once written. A dropped block
 * may still be running (a store into its own block): it is only marked
 * invalid and kept in a graveyard until code_cache_collect(), which a CPU
 * calls at a block boundary. code_cache_invalidations() moves with every
 * drop, so jump caches holding block pointers know to forget them.
 *
 * Thread safety: the tables are behind a mutex, so CPUs on their own
 * threads may share a cache; the collect-at-a-safe-point rule is the
 * caller's (with several threads, every CPU must have left the dropped
 * blocks).
 */
#ifndef MMUSIM_TLB_CODE_CACHE_H
#define MMUSIM_TLB_CODE_CACHE_H

#include "softmmu/region.h"

typedef struct CodeBlock {
    uintptr_t host;     /* key: host address of the first byte */
    uint32_t mode;      /* key: the target's decoding mode */
    bool valid;         /* false once its bytes were written */
    MemRegion *mr;      /* the RAM region holding it (referenced by the block) */
    uint64_t offset;    /* of the first byte in mr */
    uint32_t nbytes;
} CodeBlock;

typedef struct CodeCache CodeCache;

/* Registers with the memory core's code-write notification. */
CodeCache *code_cache_new(void);
/* Frees every block (g_free) and drops their region references. */
void code_cache_free(CodeCache *cc);
CodeBlock *code_cache_lookup(CodeCache *cc, uintptr_t host, uint32_t mode);
/* Insert a block the caller g_malloc'd with its CodeBlock filled in (mr
 * referenced, valid true). If another CPU inserted one with the same key
 * meanwhile, `b` is freed and that one is returned. */
CodeBlock *code_cache_insert(CodeCache *cc, CodeBlock *b);
/* Free dropped blocks: only when no CPU is inside one. */
void code_cache_collect(CodeCache *cc);
/* Moves at every drop. */
uint64_t code_cache_invalidations(const CodeCache *cc);
guint code_cache_size(CodeCache *cc);

#endif
