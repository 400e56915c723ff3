/*
 * Phys-section dispatch: address -> section index.
 *
 * Full dispatch. The section table covers [0, 2^64) in order with no gaps
 * (holes become unassigned sections). The lookup structure is a radix tree
 * over the address: the root node's 128 entries each cover 2^57 bytes, and
 * every level below splits by 512 (9 bits) down to 4 KiB pages
 * (57, 48, 39, 30, 21, 12). An entry is one of
 *   - a section index, when one section covers the entry's whole span
 *     (so big RAM needs no deep nodes),
 *   - ENTRY_NODE | n: node n one level down,
 *   - ENTRY_SUBPAGE | s: the page is shared by several sections; subpage s
 *     lists (offset in page, section) pairs sorted by offset.
 * A lookup is at most six dependent loads plus a short search in a subpage.
 * Indices use 30 bits: 2^30 sections would need far more memory than a
 * section table could ever have here, so memory is the only real cap.
 *
 * Layered dispatch. Shares a base dispatch (reference held) and adds the
 * overlay view's ranges as sections base_count .. base_count + n - 1. The
 * few overlay ranges are checked first; everything else is the base's.
 */
#include <string.h>

#include "softmmu/region_internal.h"

#define LEVEL_BITS 9
#define NODE_ENTRIES (1u << LEVEL_BITS)
#define ROOT_SHIFT 57
#define ENTRY_NODE 0x80000000u
#define ENTRY_SUBPAGE 0x40000000u
#define ENTRY_INDEX_MASK 0x3fffffffu

typedef uint32_t Node[NODE_ENTRIES];

typedef struct SubpageEntry {
    uint16_t offset;   /* first byte of the page this section serves */
    uint32_t section;
} SubpageEntry;

typedef struct Subpage {
    uint32_t first;    /* index into sub_entries */
    uint32_t count;
} Subpage;

struct Dispatch {
    gint refcount;
    uint64_t generation;
    FlatView *fv;            /* full: its view; layered: the overlay view */
    MemSection *sections;
    uint32_t nsections;      /* own sections */

    /* Full dispatch only. */
    Node *nodes;
    uint32_t nnodes;
    SubpageEntry *sub_entries;
    uint32_t nsub_entries;
    Subpage *subpages;
    uint32_t nsubpages;

    /* Layered dispatch only. */
    Dispatch *base;
    uint32_t base_count;
};

static uint64_t generation_counter;

/* --- Building --- */

typedef struct Builder {
    Dispatch *d;
    GArray *nodes;       /* Node */
    GArray *sub_entries; /* SubpageEntry */
    GArray *subpages;    /* Subpage */
    uint32_t cur;        /* section containing the current position */
} Builder;

static uint32_t make_subpage(Builder *b, uint64_t start, uint64_t end)
{
    Subpage sp = { b->sub_entries->len, 0 };
    for (uint32_t i = b->cur; i < b->d->nsections && b->d->sections[i].start <= end; i++) {
        const MemSection *s = &b->d->sections[i];
        SubpageEntry e = { (uint16_t)(s->start > start ? s->start - start : 0), i };
        g_array_append_val(b->sub_entries, e);
        sp.count++;
    }
    g_array_append_val(b->subpages, sp);
    return ENTRY_SUBPAGE | (b->subpages->len - 1);
}

/* The entry for [start, start + 2^shift - 1]; positions only ever increase. */
static uint32_t make_entry(Builder *b, uint64_t start, unsigned shift)
{
    uint64_t end = start + ((1ull << shift) - 1);
    while (b->d->sections[b->cur].last < start) {
        b->cur++;
    }
    if (b->d->sections[b->cur].last >= end) {
        return b->cur;
    }
    if (shift == DISPATCH_PAGE_BITS) {
        return make_subpage(b, start, end);
    }
    uint32_t node = b->nodes->len;
    g_array_set_size(b->nodes, node + 1);
    for (unsigned i = 0; i < NODE_ENTRIES; i++) {
        uint32_t e = make_entry(b, start + ((uint64_t)i << (shift - LEVEL_BITS)), shift - LEVEL_BITS);
        g_array_index(b->nodes, Node, node)[i] = e; /* after the call: nodes may move */
    }
    return ENTRY_NODE | node;
}

static void build_sections(Dispatch *d, const FlatView *fv)
{
    GArray *secs = g_array_sized_new(FALSE, TRUE, sizeof(MemSection), 2 * flatview_num_ranges(fv) + 1);
    uint64_t pos = 0;
    bool covered_all = false;
    for (guint i = 0; i < flatview_num_ranges(fv); i++) {
        const FlatRange *r = flatview_range(fv, i);
        if (r->start > pos) {
            MemSection hole = { .start = pos, .last = r->start - 1 };
            g_array_append_val(secs, hole);
        }
        g_array_append_val(secs, *r);
        if (r->last == UINT64_MAX) {
            covered_all = true;
            break;
        }
        pos = r->last + 1;
    }
    if (!covered_all) {
        MemSection hole = { .start = pos, .last = UINT64_MAX };
        g_array_append_val(secs, hole);
    }
    d->nsections = secs->len;
    d->sections = (MemSection *)g_array_free(secs, FALSE);
}

static Dispatch *dispatch_alloc(FlatView *fv)
{
    Dispatch *d = g_new0(Dispatch, 1);
    d->refcount = 1;
    d->generation = __atomic_add_fetch(&generation_counter, 1, __ATOMIC_RELAXED);
    flatview_ref(fv);
    d->fv = fv;
    return d;
}

Dispatch *dispatch_new(FlatView *fv)
{
    Dispatch *d = dispatch_alloc(fv);
    build_sections(d, fv);
    Builder b = {
        .d = d,
        .nodes = g_array_new(FALSE, TRUE, sizeof(Node)),
        .sub_entries = g_array_new(FALSE, FALSE, sizeof(SubpageEntry)),
        .subpages = g_array_new(FALSE, FALSE, sizeof(Subpage)),
    };
    g_array_set_size(b.nodes, 1); /* node 0 is the root; entries >= 128 stay unused */
    for (unsigned i = 0; i < (1u << (64 - ROOT_SHIFT)); i++) {
        uint32_t e = make_entry(&b, (uint64_t)i << ROOT_SHIFT, ROOT_SHIFT);
        g_array_index(b.nodes, Node, 0)[i] = e;
    }
    d->nnodes = b.nodes->len;
    d->nodes = (Node *)g_array_free(b.nodes, FALSE);
    d->nsub_entries = b.sub_entries->len;
    d->sub_entries = (SubpageEntry *)g_array_free(b.sub_entries, FALSE);
    d->nsubpages = b.subpages->len;
    d->subpages = (Subpage *)g_array_free(b.subpages, FALSE);
    return d;
}

Dispatch *dispatch_new_layered(Dispatch *base, FlatView *overlay)
{
    Dispatch *d = dispatch_alloc(overlay);
    dispatch_ref(base);
    d->base = base;
    d->base_count = dispatch_num_sections(base);
    d->nsections = flatview_num_ranges(overlay);
    d->sections = g_new(MemSection, d->nsections ? d->nsections : 1);
    for (uint32_t i = 0; i < d->nsections; i++) {
        d->sections[i] = *flatview_range(overlay, i);
    }
    return d;
}

void dispatch_ref(Dispatch *d)
{
    g_atomic_int_inc(&d->refcount);
}

void dispatch_unref(Dispatch *d)
{
    if (!d || !g_atomic_int_dec_and_test(&d->refcount)) {
        return;
    }
    dispatch_unref(d->base);
    flatview_unref(d->fv);
    g_free(d->sections);
    g_free(d->nodes);
    g_free(d->sub_entries);
    g_free(d->subpages);
    g_free(d);
}

/* --- Queries --- */

uint64_t dispatch_generation(const Dispatch *d) { return d->generation; }
Dispatch *dispatch_base(const Dispatch *d) { return d->base; }
FlatView *dispatch_flatview(const Dispatch *d) { return d->fv; }

uint32_t dispatch_num_sections(const Dispatch *d)
{
    return d->base_count + d->nsections;
}

const MemSection *dispatch_section(const Dispatch *d, uint32_t idx)
{
    if (idx < d->base_count) {
        return &d->base->sections[idx];
    }
    idx -= d->base_count;
    return idx < d->nsections ? &d->sections[idx] : NULL;
}

static uint32_t subpage_lookup(const Dispatch *d, uint32_t sp, uint64_t addr)
{
    const Subpage *s = &d->subpages[sp];
    const SubpageEntry *e = &d->sub_entries[s->first];
    uint16_t off = (uint16_t)(addr & (DISPATCH_PAGE_SIZE - 1));
    uint32_t lo = 0, hi = s->count; /* find the last entry with offset <= off */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (e[mid].offset <= off) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return e[lo].section;
}

static inline uint32_t full_lookup(const Dispatch *d, uint64_t addr)
{
    uint32_t e = d->nodes[0][addr >> ROOT_SHIFT];
    unsigned shift = ROOT_SHIFT;
    while (e & ENTRY_NODE) {
        shift -= LEVEL_BITS;
        e = d->nodes[e & ENTRY_INDEX_MASK][(addr >> shift) & (NODE_ENTRIES - 1)];
    }
    if (e & ENTRY_SUBPAGE) {
        e = subpage_lookup(d, e & ENTRY_INDEX_MASK, addr);
    }
    return e;
}

uint32_t dispatch_lookup(const Dispatch *d, uint64_t addr, uint64_t *last)
{
    if (!d->base) {
        uint32_t idx = full_lookup(d, addr);
        if (last) {
            *last = d->sections[idx].last;
        }
        return idx;
    }
    /* Overlays are few and sorted: the first one ending at or after addr
     * either contains it or bounds the base section's run. */
    uint32_t i = 0;
    while (i < d->nsections && d->sections[i].last < addr) {
        i++;
    }
    if (i < d->nsections && d->sections[i].start <= addr) {
        if (last) {
            *last = d->sections[i].last;
        }
        return d->base_count + i;
    }
    uint32_t idx = full_lookup(d->base, addr);
    if (last) {
        uint64_t l = d->base->sections[idx].last;
        if (i < d->nsections && d->sections[i].start - 1 < l) {
            l = d->sections[i].start - 1;
        }
        *last = l;
    }
    return idx;
}

size_t dispatch_memory_size(const Dispatch *d)
{
    size_t sz = sizeof(*d) + (size_t)d->nsections * sizeof(MemSection) +
                (size_t)d->nnodes * sizeof(Node) + (size_t)d->nsub_entries * sizeof(SubpageEntry) +
                (size_t)d->nsubpages * sizeof(Subpage);
    if (d->base) {
        /* The overlay flat view is ours alone. */
        sz += sizeof(FlatRange) * flatview_num_ranges(d->fv) + 2 * sizeof(void *);
    }
    return sz;
}
