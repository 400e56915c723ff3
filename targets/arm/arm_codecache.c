/*
 * The decoded-code cache, shared by every CPU of a machine.
 *
 * A block is a run of decoded A64 instructions starting at one word of
 * guest RAM, never crossing a 4 KiB page. Blocks are keyed by the host
 * address of their first byte (unique per byte of guest RAM, whichever
 * virtual or physical address a CPU runs it from) and registered under the
 * (region, 4 KiB page) that holds them; the page is protected with
 * tlb_protect_code() when the block is built.
 *
 * Invalidation: the memory core calls our code-write handler before any
 * write lands on a protected page (a CPU store through any TLB, a DMA
 * transfer, a page-table update), and every block of that page is dropped:
 * page granularity is required, as the page is unprotected once written.
 * A dropped block may still be running (a store into its own block): it
 * is only marked invalid and moved to a graveyard, and the writing CPU's
 * TLB code-write hook (arm_cpu.c) ends its block after that store, so the
 * next instruction is decoded again from the new bytes. The graveyard is
 * freed at a block boundary.
 */
#include "targets/arm/arm_codecache.h"

typedef struct PageKey {
    MemRegion *mr;
    uint64_t page;  /* offset >> 12 */
} PageKey;

struct ArmCodeCache {
    GMutex lock;
    GHashTable *blocks;     /* host address -> ArmBlock* */
    GHashTable *pages;      /* PageKey* -> GPtrArray of ArmBlock* */
    GPtrArray *graveyard;   /* invalidated blocks, freed at a safe point */
    uint64_t invalidations;
};

static guint page_hash(gconstpointer k)
{
    const PageKey *p = k;
    return g_direct_hash(p->mr) ^ (guint)(p->page * 2654435761u);
}

static gboolean page_equal(gconstpointer a, gconstpointer b)
{
    const PageKey *x = a, *y = b;
    return x->mr == y->mr && x->page == y->page;
}

static void code_written(void *opaque, MemRegion *mr, uint64_t offset, uint64_t len)
{
    ArmCodeCache *cc = opaque;
    if (len == 0) {
        return;
    }
    g_mutex_lock(&cc->lock);
    for (uint64_t p = offset >> 12; p <= (offset + len - 1) >> 12; p++) {
        PageKey key = { mr, p };
        GPtrArray *list = g_hash_table_lookup(cc->pages, &key);
        if (!list) {
            continue;
        }
        for (guint i = 0; i < list->len; i++) {
            ArmBlock *b = g_ptr_array_index(list, i);
            if (b->valid) {
                b->valid = false;
                g_hash_table_remove(cc->blocks, (gpointer)b->host);
                g_ptr_array_add(cc->graveyard, b);
            }
        }
        g_hash_table_remove(cc->pages, &key);
        __atomic_add_fetch(&cc->invalidations, 1, __ATOMIC_RELEASE);
    }
    g_mutex_unlock(&cc->lock);
}

ArmCodeCache *arm_code_cache_new(void)
{
    ArmCodeCache *cc = g_new0(ArmCodeCache, 1);
    g_mutex_init(&cc->lock);
    cc->blocks = g_hash_table_new(g_direct_hash, g_direct_equal);
    cc->pages = g_hash_table_new_full(page_hash, page_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
    cc->graveyard = g_ptr_array_new();
    mem_add_code_write_handler(code_written, cc);
    return cc;
}

static void free_block(gpointer key, gpointer value, gpointer unused)
{
    (void)key;
    (void)unused;
    ArmBlock *b = value;
    mr_unref(b->mr);
    g_free(b);
}

void arm_code_cache_free(ArmCodeCache *cc)
{
    if (!cc) {
        return;
    }
    mem_remove_code_write_handler(code_written, cc);
    g_hash_table_foreach(cc->blocks, free_block, NULL);
    arm_code_cache_collect(cc);
    g_ptr_array_free(cc->graveyard, TRUE);
    g_hash_table_destroy(cc->blocks);
    g_hash_table_destroy(cc->pages);
    g_mutex_clear(&cc->lock);
    g_free(cc);
}

void arm_code_cache_collect(ArmCodeCache *cc)
{
    if (!cc->graveyard->len) {
        return;
    }
    g_mutex_lock(&cc->lock);
    for (guint i = 0; i < cc->graveyard->len; i++) {
        free_block(NULL, g_ptr_array_index(cc->graveyard, i), NULL);
    }
    g_ptr_array_set_size(cc->graveyard, 0);
    g_mutex_unlock(&cc->lock);
}

ArmBlock *arm_code_cache_lookup(ArmCodeCache *cc, uintptr_t host)
{
    g_mutex_lock(&cc->lock);
    ArmBlock *b = g_hash_table_lookup(cc->blocks, (gpointer)host);
    g_mutex_unlock(&cc->lock);
    return b;
}

ArmBlock *arm_code_cache_insert(ArmCodeCache *cc, ArmBlock *b)
{
    g_mutex_lock(&cc->lock);
    ArmBlock *old = g_hash_table_lookup(cc->blocks, (gpointer)b->host);
    if (old) {
        g_mutex_unlock(&cc->lock);
        free_block(NULL, b, NULL);
        return old;
    }
    g_hash_table_insert(cc->blocks, (gpointer)b->host, b);
    for (uint64_t p = b->offset >> 12; p <= (b->offset + b->nbytes - 1) >> 12; p++) {
        PageKey key = { b->mr, p };
        GPtrArray *list = g_hash_table_lookup(cc->pages, &key);
        if (!list) {
            PageKey *k = g_new(PageKey, 1);
            *k = key;
            list = g_ptr_array_new();
            g_hash_table_insert(cc->pages, k, list);
        }
        g_ptr_array_add(list, b);
    }
    g_mutex_unlock(&cc->lock);
    return b;
}

uint64_t arm_code_cache_invalidations(const ArmCodeCache *cc)
{
    return __atomic_load_n(&cc->invalidations, __ATOMIC_ACQUIRE);
}

guint arm_code_cache_size(ArmCodeCache *cc)
{
    g_mutex_lock(&cc->lock);
    guint n = g_hash_table_size(cc->blocks);
    g_mutex_unlock(&cc->lock);
    return n;
}
