/*
 * Per-thread executable buffers (jit_mem.h). The buffer is reserved with
 * MAP_NORESERVE: pages cost memory only once code is written to them.
 */
#include "targets/jit/jit_mem.h"

#include <errno.h>
#include <glib.h>
#include <sys/mman.h>

#define JIT_MEM_SIZE (32u << 20)

typedef struct JitMem {
    uint8_t *base;
    size_t used;
    uint64_t gen;
    uint64_t resets;
    bool failed;         /* mmap refused: never ask again on this thread */
} JitMem;

_Thread_local uint64_t jit_mem_gen_tls;
static uint64_t next_gen = 1;   /* generations, unique process-wide */

static void jit_mem_free(gpointer p)
{
    JitMem *m = p;
    if (m->base) {
        munmap(m->base, JIT_MEM_SIZE);
    }
    g_free(m);
}

static GPrivate thread_mem = G_PRIVATE_INIT(jit_mem_free);

static uint64_t new_gen(void)
{
    return __atomic_fetch_add(&next_gen, 1, __ATOMIC_RELAXED);
}

static JitMem *thread_buf(bool create)
{
    JitMem *m = g_private_get(&thread_mem);
    if (!m && create) {
        m = g_new0(JitMem, 1);
        void *p = mmap(NULL, JIT_MEM_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            g_warning("jit: no executable memory (%s): running without translation",
                      g_strerror(errno));
            m->failed = true;
        } else {
            m->base = p;
            m->gen = jit_mem_gen_tls = new_gen();
        }
        g_private_set(&thread_mem, m);
    }
    return m;
}

bool jit_mem_begin(X64Buf *b, size_t need)
{
    JitMem *m = thread_buf(true);
    if (m->failed) {
        return false;
    }
    if (JIT_MEM_SIZE - m->used < need) {
        m->used = 0;
        m->gen = jit_mem_gen_tls = new_gen();
        m->resets++;
    }
    x64_buf_init(b, m->base + m->used, JIT_MEM_SIZE - m->used);
    return true;
}

void *jit_mem_commit(X64Buf *b)
{
    JitMem *m = thread_buf(false);
    if (!m || !x64_buf_ok(b)) {
        if (m) {
            m->used = JIT_MEM_SIZE;   /* start over at the next jit_mem_begin */
        }
        return NULL;
    }
    void *start = b->start;
    size_t end = (size_t)(b->p - m->base);
    m->used = (end + 15) & ~(size_t)15;
    if (m->used > JIT_MEM_SIZE) {
        m->used = JIT_MEM_SIZE;
    }
    return start;
}

void jit_mem_stats(JitMemStats *out)
{
    JitMem *m = thread_buf(false);
    *out = (JitMemStats){ .size = m && m->base ? JIT_MEM_SIZE : 0, .used = m ? m->used : 0,
                          .resets = m ? m->resets : 0 };
}
