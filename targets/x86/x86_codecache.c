/*
 * The decoded-code cache, shared by every CPU of a machine.
 *
 * A block is a run of decoded instructions starting at one byte of guest
 * RAM, for one code size. Blocks are keyed by the host address of their
 * first byte (unique per byte of guest RAM, whichever physical address a
 * CPU sees it at) and registered under every (region, 4 KiB page) they
 * cover. The page is protected with tlb_protect_code(); the memory core's
 * code-write handler then tells us before any write lands there, from a
 * CPU store, a DMA transfer or a page-walk A/D update, and we invalidate
 * the page's blocks. An invalidated block may still be executing (a store
 * into its own block): it is only marked invalid, the loop stops after the
 * current instruction, and it is freed at the next safe point.
 */
#include "targets/x86/x86_codecache.h"

typedef struct PageKey {
    MemRegion *mr;
    uint64_t page;  /* offset >> 12 */
} PageKey;

struct X86CodeCache {
    GHashTable *blocks;     /* BlockKey -> X86Block* */
    GHashTable *pages;      /* PageKey* -> GPtrArray of X86Block* */
    GPtrArray *graveyard;   /* invalidated blocks, freed at a safe point */
    uint64_t invalidations;
};

static guint block_hash(gconstpointer k)
{
    const X86BlockKey *b = k;
    return g_direct_hash((gpointer)(b->host ^ ((uintptr_t)b->code_size << 3)));
}

static gboolean block_equal(gconstpointer a, gconstpointer b)
{
    const X86BlockKey *x = a, *y = b;
    return x->host == y->host && x->code_size == y->code_size;
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

static void code_written(void *opaque, MemRegion *mr, uint64_t offset, uint64_t len)
{
    X86CodeCache *cc = opaque;
    for (uint64_t p = offset >> 12; p <= (offset + len - 1) >> 12; p++) {
        PageKey key = { mr, p };
        GPtrArray *list = g_hash_table_lookup(cc->pages, &key);
        if (!list) {
            continue;
        }
        for (guint i = 0; i < list->len; i++) {
            X86Block *b = g_ptr_array_index(list, i);
            if (b->valid) {
                b->valid = false;
                g_hash_table_remove(cc->blocks, &b->key);
                g_ptr_array_add(cc->graveyard, b);
                cc->invalidations++;
            }
        }
        g_hash_table_remove(cc->pages, &key);
    }
}

X86CodeCache *x86_code_cache_new(void)
{
    X86CodeCache *cc = g_new0(X86CodeCache, 1);
    cc->blocks = g_hash_table_new(block_hash, block_equal);
    cc->pages = g_hash_table_new_full(page_hash, page_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
    cc->graveyard = g_ptr_array_new();
    mem_add_code_write_handler(code_written, cc);
    return cc;
}

static void free_block(gpointer key, gpointer value, gpointer unused)
{
    X86Block *b = value;
    mr_unref(b->mr);
    g_free(b);
}

void x86_code_cache_free(X86CodeCache *cc)
{
    if (!cc) {
        return;
    }
    mem_remove_code_write_handler(code_written, cc);
    g_hash_table_foreach(cc->blocks, free_block, NULL);
    x86_code_cache_collect(cc);
    g_ptr_array_free(cc->graveyard, TRUE);
    g_hash_table_destroy(cc->blocks);
    g_hash_table_destroy(cc->pages);
    g_free(cc);
}

void x86_code_cache_collect(X86CodeCache *cc)
{
    if (!cc->graveyard->len) {
        return;
    }
    for (guint i = 0; i < cc->graveyard->len; i++) {
        free_block(NULL, g_ptr_array_index(cc->graveyard, i), NULL);
    }
    g_ptr_array_set_size(cc->graveyard, 0);
}

X86Block *x86_code_cache_lookup(X86CodeCache *cc, uintptr_t host, unsigned code_size)
{
    X86BlockKey key = { host, code_size };
    return g_hash_table_lookup(cc->blocks, &key);
}

void x86_code_cache_insert(X86CodeCache *cc, X86Block *b)
{
    g_hash_table_insert(cc->blocks, &b->key, b);
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
}

uint64_t x86_code_cache_invalidations(const X86CodeCache *cc)
{
    return cc->invalidations;
}

guint x86_code_cache_size(const X86CodeCache *cc)
{
    return g_hash_table_size(cc->blocks);
}
