/*
 * The decoded-code cache (code_cache.h).
 *
 * Two tables: blocks by key (host address, mode), and for each (region,
 * 4 KiB page) the blocks that cover it, so that a write notification finds
 * exactly the blocks to drop.
 */
#include "tlb/code_cache.h"

typedef struct BlockKey {
    uintptr_t host;
    uint32_t mode;
} BlockKey;

typedef struct PageKey {
    MemRegion *mr;
    uint64_t page;  /* offset >> 12 */
} PageKey;

struct CodeCache {
    GMutex lock;
    GHashTable *blocks;     /* CodeBlock* (its key fields) -> CodeBlock* */
    GHashTable *pages;      /* PageKey* -> GPtrArray of CodeBlock* */
    GPtrArray *graveyard;   /* dropped blocks, freed at a safe point */
    uint64_t invalidations;
};

static guint block_hash(gconstpointer k)
{
    const CodeBlock *b = k;
    return g_direct_hash((gpointer)(b->host ^ ((uintptr_t)b->mode << 3)));
}

static gboolean block_equal(gconstpointer a, gconstpointer b)
{
    const CodeBlock *x = a, *y = b;
    return x->host == y->host && x->mode == y->mode;
}

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

/* The memory core's notification: a write is about to land on
 * [offset, offset + len) of mr, a page where some cache holds code. */
static void code_written(void *opaque, MemRegion *mr, uint64_t offset, uint64_t len)
{
    CodeCache *cc = opaque;
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
            CodeBlock *b = g_ptr_array_index(list, i);
            if (b->valid) {
                b->valid = false;
                g_hash_table_remove(cc->blocks, b);
                g_ptr_array_add(cc->graveyard, b);
            }
        }
        g_hash_table_remove(cc->pages, &key);
        __atomic_add_fetch(&cc->invalidations, 1, __ATOMIC_RELEASE);
    }
    g_mutex_unlock(&cc->lock);
}

CodeCache *code_cache_new(void)
{
    CodeCache *cc = g_new0(CodeCache, 1);
    g_mutex_init(&cc->lock);
    cc->blocks = g_hash_table_new(block_hash, block_equal);
    cc->pages = g_hash_table_new_full(page_hash, page_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
    cc->graveyard = g_ptr_array_new();
    mem_add_code_write_handler(code_written, cc);
    return cc;
}

static void free_block(CodeBlock *b)
{
    mr_unref(b->mr);
    g_free(b);
}

static void free_entry(gpointer key, gpointer value, gpointer unused)
{
    (void)key;
    (void)unused;
    free_block(value);
}

void code_cache_free(CodeCache *cc)
{
    if (!cc) {
        return;
    }
    mem_remove_code_write_handler(code_written, cc);
    g_hash_table_foreach(cc->blocks, free_entry, NULL);
    code_cache_collect(cc);
    g_ptr_array_free(cc->graveyard, TRUE);
    g_hash_table_destroy(cc->blocks);
    g_hash_table_destroy(cc->pages);
    g_mutex_clear(&cc->lock);
    g_free(cc);
}

void code_cache_collect(CodeCache *cc)
{
    if (!cc->graveyard->len) {
        return;
    }
    g_mutex_lock(&cc->lock);
    for (guint i = 0; i < cc->graveyard->len; i++) {
        free_block(g_ptr_array_index(cc->graveyard, i));
    }
    g_ptr_array_set_size(cc->graveyard, 0);
    g_mutex_unlock(&cc->lock);
}

CodeBlock *code_cache_lookup(CodeCache *cc, uintptr_t host, uint32_t mode)
{
    CodeBlock key = { .host = host, .mode = mode };
    g_mutex_lock(&cc->lock);
    CodeBlock *b = g_hash_table_lookup(cc->blocks, &key);
    g_mutex_unlock(&cc->lock);
    return b;
}

CodeBlock *code_cache_insert(CodeCache *cc, CodeBlock *b)
{
    g_mutex_lock(&cc->lock);
    CodeBlock *old = g_hash_table_lookup(cc->blocks, b);
    if (old) {
        g_mutex_unlock(&cc->lock);
        free_block(b);
        return old;
    }
    g_hash_table_insert(cc->blocks, b, b);
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

uint64_t code_cache_invalidations(const CodeCache *cc)
{
    return __atomic_load_n(&cc->invalidations, __ATOMIC_ACQUIRE);
}

guint code_cache_size(CodeCache *cc)
{
    g_mutex_lock(&cc->lock);
    guint n = g_hash_table_size(cc->blocks);
    g_mutex_unlock(&cc->lock);
    return n;
}
