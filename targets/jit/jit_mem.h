/*
 * Executable memory for translated code: one buffer per host thread.
 *
 * Translators write a block's code at the buffer's free end (jit_mem_begin,
 * then jit_mem_commit) and never free it piecewise. When the buffer is
 * nearly full, jit_mem_begin empties it and the buffer takes a new
 * generation number: whoever keeps a pointer to translated code keeps the
 * generation it was made in too, and treats the pointer as gone once
 * jit_mem_generation() differs. Generations are unique across threads, so
 * code made by another thread never looks current.
 *
 * Emptying the buffer is only safe while no translated code of this thread
 * is running: translators call jit_mem_begin between blocks, never from a
 * helper called by translated code.
 */
#ifndef MMUSIM_TARGETS_JIT_JIT_MEM_H
#define MMUSIM_TARGETS_JIT_JIT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targets/jit/x64_emit.h"

/* Start writing code: *b covers the free part of this thread's buffer
 * (emptied first when less than `need` bytes are left). False when the
 * host refuses executable memory: run without translation. */
bool jit_mem_begin(X64Buf *b, size_t need);
/* Keep what was written to `b` (which must have no overflow) and return
 * its start, or NULL when it overflowed (the buffer is emptied at the next
 * jit_mem_begin, which then has the whole buffer to offer). */
void *jit_mem_commit(X64Buf *b);
/* This thread's current generation (0: no buffer yet). Read before every
 * translated block runs, hence a thread-local variable. */
extern _Thread_local uint64_t jit_mem_gen_tls;
static inline uint64_t jit_mem_generation(void) { return jit_mem_gen_tls; }

typedef struct JitMemStats {
    size_t size;        /* bytes of executable memory */
    size_t used;        /* bytes holding code of the current generation */
    uint64_t resets;    /* times this thread's buffer was emptied */
} JitMemStats;
void jit_mem_stats(JitMemStats *out);

#endif
