/*
 * Rendering a region tree into a flat view (memory-semantics.md §2, §5).
 *
 * Depth-first from the root. Within a container, children are visited in
 * render order (highest priority first, newest first among equals); a leaf
 * fills only the parts of its (clipped) extent that nothing visited before
 * it already covers. This is the "nested windows with transparent holes"
 * model: a container covers nothing by itself, so where none of its
 * children is, lower siblings show through.
 *
 * Addresses during the walk are 128-bit: an alias with an offset places its
 * target's address 0 below the alias (possibly "below 0"), and a region
 * near 2^64 must not wrap. Everything that reaches the flat view is clipped
 * to [0, root last] and so fits 64 bits.
 *
 * Covered ranges are kept in a balanced tree while rendering so that a map
 * of n regions renders in O(n log n) whatever the insertion order.
 */
#include <string.h>

#include "softmmu/region_internal.h"

typedef __int128 addr128;

struct FlatView {
    gint refcount;
    guint n;
    FlatRange *ranges;
};

typedef struct Renderer {
    GTree *covered;  /* FlatRange* keyed by start */
    GArray *gaps;    /* scratch: [start, last] pairs to fill */
} Renderer;

static gint cmp_range_start(gconstpointer a, gconstpointer b, gpointer unused)
{
    uint64_t x = ((const FlatRange *)a)->start, y = ((const FlatRange *)b)->start;
    return x < y ? -1 : x > y;
}

/* The covered range with the greatest start <= addr, or NULL. */
static GTreeNode *node_at_or_before(GTree *t, uint64_t addr)
{
    FlatRange key = { .start = addr };
    GTreeNode *after = g_tree_upper_bound(t, &key);
    return after ? g_tree_node_previous(after) : g_tree_node_last(t);
}

static void fill_leaf(Renderer *r, MemRegion *mr, uint64_t lo, uint64_t hi, uint64_t offset,
                      bool readonly)
{
    /* Collect the uncovered gaps of [lo, hi] first, then insert them. */
    g_array_set_size(r->gaps, 0);
    uint64_t pos = lo;
    bool done = false;
    GTreeNode *n = node_at_or_before(r->covered, pos);
    if (n) {
        const FlatRange *fr = g_tree_node_value(n);
        if (fr->last >= pos) {
            if (fr->last >= hi) {
                return;
            }
            pos = fr->last + 1;
        }
        n = g_tree_node_next(n);
    } else {
        n = g_tree_node_first(r->covered);
    }
    while (!done) {
        const FlatRange *fr = n ? g_tree_node_value(n) : NULL;
        if (fr && fr->start <= hi) {
            if (fr->start > pos) {
                uint64_t gap[2] = { pos, fr->start - 1 };
                g_array_append_vals(r->gaps, gap, 2);
            }
            if (fr->last >= hi) {
                done = true;
            } else {
                pos = fr->last + 1;
                n = g_tree_node_next(n);
            }
        } else {
            uint64_t gap[2] = { pos, hi };
            g_array_append_vals(r->gaps, gap, 2);
            done = true;
        }
    }
    for (guint i = 0; i < r->gaps->len; i += 2) {
        FlatRange *fr = g_new(FlatRange, 1);
        fr->start = g_array_index(r->gaps, uint64_t, i);
        fr->last = g_array_index(r->gaps, uint64_t, i + 1);
        fr->mr = mr;
        fr->offset_in_region = offset + (fr->start - lo);
        fr->readonly = readonly;
        fr->romd_mode = mr->kind == MR_KIND_ROMD && mr->romd_mode;
        fr->dirty_log_mask = mr->dirty_log_mask;
        g_tree_insert(r->covered, fr, fr);
    }
}

/*
 * Render `mr`, whose offset 0 sits at absolute address `base`, clipped to
 * [clip_lo, clip_hi].
 */
static void render_region(Renderer *r, MemRegion *mr, addr128 base, addr128 clip_lo,
                          addr128 clip_hi, bool readonly)
{
    if (!mr->enabled) {
        return;
    }
    addr128 lo = base > clip_lo ? base : clip_lo;
    addr128 hi = base + (addr128)mr->last;
    if (hi > clip_hi) {
        hi = clip_hi;
    }
    if (lo > hi) {
        return;
    }
    readonly |= mr->readonly;
    switch (mr->kind) {
    case MR_KIND_ALIAS:
        render_region(r, mr->alias, base - (addr128)mr->alias_offset, lo, hi, readonly);
        return;
    case MR_KIND_CONTAINER:
        for (guint i = 0; i < mr->children->len; i++) {
            MemRegion *c = g_ptr_array_index(mr->children, i);
            render_region(r, c, base + (addr128)c->addr, lo, hi, readonly);
        }
        return;
    default:
        fill_leaf(r, mr, (uint64_t)lo, (uint64_t)hi, (uint64_t)(lo - base), readonly);
        return;
    }
}

static bool can_merge(const FlatRange *a, const FlatRange *b)
{
    return a->last != UINT64_MAX && a->last + 1 == b->start && a->mr == b->mr &&
           a->offset_in_region + (a->last - a->start) + 1 == b->offset_in_region &&
           a->readonly == b->readonly && a->romd_mode == b->romd_mode &&
           a->dirty_log_mask == b->dirty_log_mask;
}

/* Merge adjacent continuations in place. */
static void merge_ranges(GArray *ranges)
{
    guint out = 0;
    for (guint i = 0; i < ranges->len; i++) {
        FlatRange *cur = &g_array_index(ranges, FlatRange, i);
        if (out && can_merge(&g_array_index(ranges, FlatRange, out - 1), cur)) {
            g_array_index(ranges, FlatRange, out - 1).last = cur->last;
        } else {
            g_array_index(ranges, FlatRange, out++) = *cur;
        }
    }
    g_array_set_size(ranges, out);
}

FlatView *flatview_new_from_ranges(GArray *ranges)
{
    merge_ranges(ranges);
    FlatView *fv = g_new0(FlatView, 1);
    fv->refcount = 1;
    fv->n = ranges->len;
    fv->ranges = (FlatRange *)g_array_free(ranges, FALSE);
    for (guint i = 0; i < fv->n; i++) {
        mr_ref(fv->ranges[i].mr);
    }
    return fv;
}

static gboolean collect_range(gpointer key, gpointer value, gpointer data)
{
    g_array_append_val((GArray *)data, *(FlatRange *)value);
    return FALSE;
}

static FlatView *render_children(MemRegion *root, MemRegion *skip)
{
    Renderer r = {
        .covered = g_tree_new_full(cmp_range_start, NULL, g_free, NULL),
        .gaps = g_array_new(FALSE, FALSE, sizeof(uint64_t)),
    };
    if (!skip) {
        render_region(&r, root, 0, 0, (addr128)root->last, false);
    } else if (root->enabled) {
        /* The root's own children except `skip`, as render_region would. */
        for (guint i = 0; i < root->children->len; i++) {
            MemRegion *c = g_ptr_array_index(root->children, i);
            if (c != skip) {
                render_region(&r, c, c->addr, 0, (addr128)root->last, root->readonly);
            }
        }
    }
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(FlatRange), g_tree_nnodes(r.covered));
    g_tree_foreach(r.covered, collect_range, out);
    g_tree_destroy(r.covered);
    g_array_free(r.gaps, TRUE);
    return flatview_new_from_ranges(out);
}

FlatView *flatview_render(MemRegion *root)
{
    return render_children(root, NULL);
}

FlatView *flatview_render_excluding(MemRegion *root, MemRegion *skip)
{
    return render_children(root, skip);
}

FlatView *flatview_render_windows(MemRegion *root, const FlatView *old, const GArray *windows)
{
    const uint64_t *w = (const uint64_t *)windows->data;
    guint nw = windows->len / 2;
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(FlatRange), old->n + 8);
    Renderer r = {
        .covered = g_tree_new_full(cmp_range_start, NULL, g_free, NULL),
        .gaps = g_array_new(FALSE, FALSE, sizeof(uint64_t)),
    };
    guint k = 0; /* next old range */
    for (guint i = 0; i <= nw; i++) {
        /* Keep the old ranges' parts before window i (or to the end). */
        bool last_gap = i == nw;
        uint64_t wlo = last_gap ? 0 : w[2 * i];
        uint64_t prev_hi = i ? w[2 * (i - 1) + 1] : 0;
        for (; k < old->n; k++) {
            FlatRange piece = old->ranges[k];
            if (i && piece.last <= prev_hi) {
                continue; /* wholly inside the previous window */
            }
            if (i && piece.start <= prev_hi) {
                piece.offset_in_region += prev_hi + 1 - piece.start;
                piece.start = prev_hi + 1;
            }
            if (!last_gap && piece.start >= wlo) {
                break; /* starts inside (or after) this window */
            }
            if (!last_gap && piece.last >= wlo) {
                piece.last = wlo - 1; /* cut at the window; the rest is re-rendered */
                g_array_append_val(out, piece);
                break;
            }
            g_array_append_val(out, piece);
        }
        if (last_gap) {
            break;
        }
        /* Re-render window i from the tree. */
        if (root->enabled) {
            render_region(&r, root, 0, (addr128)wlo, (addr128)w[2 * i + 1], false);
            g_tree_foreach(r.covered, collect_range, out);
            g_tree_destroy(r.covered);
            r.covered = g_tree_new_full(cmp_range_start, NULL, g_free, NULL);
        }
    }
    g_tree_destroy(r.covered);
    g_array_free(r.gaps, TRUE);
    return flatview_new_from_ranges(out);
}

FlatView *flatview_compose(const FlatView *base, const FlatView *overlay)
{
    GArray *out = g_array_sized_new(FALSE, FALSE, sizeof(FlatRange), base->n + 2 * overlay->n);
    guint j = 0;
    bool have_prev = false;
    uint64_t prev_last = 0; /* last address of the latest overlay emitted */
    for (guint i = 0; i < base->n; i++) {
        FlatRange piece = base->ranges[i];
        bool alive = true;
        /* Cut `piece` so it starts after `upto`; false if nothing is left. */
#define CUT_BEFORE(upto)                                                                    \
    do {                                                                                    \
        if ((upto) >= piece.last) {                                                         \
            alive = false;                                                                  \
        } else if ((upto) >= piece.start) {                                                 \
            piece.offset_in_region += (upto) + 1 - piece.start;                             \
            piece.start = (upto) + 1;                                                       \
        }                                                                                   \
    } while (0)
        if (have_prev) {
            CUT_BEFORE(prev_last);
        }
        while (alive && j < overlay->n && overlay->ranges[j].start <= piece.last) {
            const FlatRange *o = &overlay->ranges[j++];
            if (o->start > piece.start) {
                FlatRange head = piece;
                head.last = o->start - 1;
                g_array_append_val(out, head);
            }
            g_array_append_val(out, *o);
            have_prev = true;
            prev_last = o->last;
            CUT_BEFORE(o->last);
        }
#undef CUT_BEFORE
        if (alive) {
            g_array_append_val(out, piece);
        }
    }
    for (; j < overlay->n; j++) {
        g_array_append_val(out, overlay->ranges[j]);
    }
    return flatview_new_from_ranges(out);
}

void flatview_ref(FlatView *fv)
{
    g_atomic_int_inc(&fv->refcount);
}

void flatview_unref(FlatView *fv)
{
    if (fv && g_atomic_int_dec_and_test(&fv->refcount)) {
        for (guint i = 0; i < fv->n; i++) {
            mr_unref(fv->ranges[i].mr);
        }
        g_free(fv->ranges);
        g_free(fv);
    }
}

guint flatview_num_ranges(const FlatView *fv)
{
    return fv->n;
}

const FlatRange *flatview_range(const FlatView *fv, guint i)
{
    return i < fv->n ? &fv->ranges[i] : NULL;
}

const FlatRange *flatview_find(const FlatView *fv, uint64_t addr)
{
    guint lo = 0, hi = fv->n;
    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        if (fv->ranges[mid].last < addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < fv->n && fv->ranges[lo].start <= addr ? &fv->ranges[lo] : NULL;
}

bool flatrange_equal(const FlatRange *a, const FlatRange *b)
{
    return a->start == b->start && a->last == b->last && a->mr == b->mr &&
           a->offset_in_region == b->offset_in_region && a->readonly == b->readonly &&
           a->romd_mode == b->romd_mode && a->dirty_log_mask == b->dirty_log_mask;
}

bool flatview_equal(const FlatView *a, const FlatView *b)
{
    if (a == b) {
        return true;
    }
    if (!a || !b || a->n != b->n) {
        return false;
    }
    for (guint i = 0; i < a->n; i++) {
        if (!flatrange_equal(&a->ranges[i], &b->ranges[i])) {
            return false;
        }
    }
    return true;
}
