/*
 * Introspection: region trees, flat views with sharing, and "why does this
 * address go there" (mtree.h).
 *
 * Range arithmetic is done in 128-bit signed integers so that region ends
 * (up to 2^64), alias bases below zero and sums of addresses never wrap.
 */
#include "softmmu/mtree.h"

#include <inttypes.h>

typedef __int128 s128;

#define SPACE_END ((s128)1 << 64)
/* Trees deeper than this are cut short (the core refuses cycles anyway). */
#define MTREE_MAX_DEPTH 128

static s128 region_size(const MemRegion *mr)
{
    uint64_t size = mr_size(mr);

    return size == MEM_SIZE_FULL ? SPACE_END : (s128)size;
}

static s128 s128_max(s128 a, s128 b)
{
    return a > b ? a : b;
}

static s128 s128_min(s128 a, s128 b)
{
    return a < b ? a : b;
}

static const char *kind_str(MemRegionKind kind)
{
    switch (kind) {
    case MR_KIND_CONTAINER:
        return "container";
    case MR_KIND_RAM:
        return "ram";
    case MR_KIND_ROM:
        return "rom";
    case MR_KIND_MMIO:
        return "mmio";
    case MR_KIND_ALIAS:
        return "alias";
    case MR_KIND_ROMD:
        return "romd";
    case MR_KIND_IOMMU:
        return "iommu";
    }
    return "unknown";
}

static const char *name_str(const MemRegion *mr)
{
    const char *name = mr ? mr_name(mr) : NULL;

    return name && *name ? name : "(anonymous)";
}

static void append_indent(GString *out, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        g_string_append_c(out, ' ');
    }
}

/* [lo, end) with 0 <= lo < end <= 2^64, printed inclusive. */
static void append_range(GString *out, s128 lo, s128 end)
{
    g_string_append_printf(out, "%016" PRIx64 "-%016" PRIx64, (uint64_t)lo, (uint64_t)(end - 1));
}

static void append_region_flags(GString *out, const MemRegion *mr)
{
    if (!mr_enabled(mr)) {
        g_string_append(out, " [disabled]");
    }
    if (mr_readonly(mr)) {
        g_string_append(out, " [ro]");
    }
    if (mr_kind(mr) == MR_KIND_ROMD) {
        g_string_append(out, mr_romd_mode(mr) ? " [romd mode]" : " [mmio mode]");
    }
}

/* An alias's window onto its target, in the target's coordinates. */
static void append_alias_target(GString *out, const MemRegion *alias)
{
    MemRegion *target = mr_alias_target(alias);
    s128 lo = mr_alias_offset(alias);
    s128 end = s128_min(lo + region_size(alias), SPACE_END);

    g_string_append_printf(out, " @%s ", name_str(target));
    append_range(out, lo, end);
}

/* --- Trees. --- */

typedef struct TreePrinter {
    GString *out;
    GPtrArray *targets;  /* alias targets to print after the trees, in discovery order */
    GHashTable *queued;  /* the same, as a set */
} TreePrinter;

static void queue_target(TreePrinter *tp, MemRegion *target)
{
    if (target && g_hash_table_add(tp->queued, target)) {
        g_ptr_array_add(tp->targets, target);
    }
}

/*
 * One region and its subtree. `base` is the absolute address of the
 * region's offset 0; [plo, pend) is what its parent leaves visible.
 */
static void print_tree(TreePrinter *tp, MemRegion *mr, unsigned depth, s128 base, s128 plo,
                       s128 pend)
{
    GString *out = tp->out;
    s128 lo = s128_max(base, plo);
    s128 end = s128_min(base + region_size(mr), pend);
    bool visible = lo < end;

    append_indent(out, 2 + 2 * depth);
    if (depth > MTREE_MAX_DEPTH) {
        g_string_append(out, "... (tree too deep)\n");
        return;
    }
    if (visible) {
        append_range(out, lo, end);
    } else {
        /* Clipped away: say where it would be, relative to its parent. */
        g_string_append_printf(out, "+%016" PRIx64 " size %016" PRIx64, mr_addr(mr),
                               mr_size(mr));
    }
    g_string_append_printf(out, " (prio %d, %s): %s", mr_priority(mr), kind_str(mr_kind(mr)),
                           name_str(mr));
    if (mr_kind(mr) == MR_KIND_ALIAS) {
        append_alias_target(out, mr);
        queue_target(tp, mr_alias_target(mr));
    }
    append_region_flags(out, mr);
    if (!visible) {
        g_string_append(out, " [outside parent]");
    }
    g_string_append_c(out, '\n');

    for (guint i = 0; i < mr_num_children(mr); i++) {
        MemRegion *child = mr_child(mr, i);

        print_tree(tp, child, depth + 1, base + (s128)mr_addr(child), lo, end);
    }
}

void mtree_print_spaces(GString *out, AddressSpace **spaces, guint n)
{
    TreePrinter tp = {
        .out = out,
        .targets = g_ptr_array_new(),
        .queued = g_hash_table_new(g_direct_hash, g_direct_equal),
    };

    for (guint i = 0; i < n; i++) {
        MemRegion *root = as_root(spaces[i]);

        g_string_append_printf(out, "address-space: %s\n", as_name(spaces[i]));
        print_tree(&tp, root, 0, 0, 0, region_size(root));
        g_string_append_c(out, '\n');
    }
    /* The list grows while it is printed: targets of aliases inside targets. */
    for (guint i = 0; i < tp.targets->len; i++) {
        MemRegion *target = g_ptr_array_index(tp.targets, i);

        g_string_append_printf(out, "memory-region: %s\n", name_str(target));
        print_tree(&tp, target, 0, 0, 0, region_size(target));
        g_string_append_c(out, '\n');
    }
    g_hash_table_destroy(tp.queued);
    g_ptr_array_free(tp.targets, TRUE);
}

void mtree_print(GString *out, AddressSpace *as)
{
    mtree_print_spaces(out, &as, 1);
}

/* --- Flat views. --- */

static void print_flat_range(GString *out, const FlatRange *r)
{
    g_string_append_printf(out, "  %016" PRIx64 "-%016" PRIx64, r->start, r->last);
    if (!r->mr) {
        g_string_append(out, " (unassigned)\n");
        return;
    }
    g_string_append_printf(out, " (prio %d, %s): %s @%016" PRIx64, mr_priority(r->mr),
                           kind_str(mr_kind(r->mr)), name_str(r->mr), r->offset_in_region);
    if (r->readonly) {
        g_string_append(out, " [ro]");
    }
    if (mr_kind(r->mr) == MR_KIND_ROMD) {
        g_string_append(out, r->romd_mode ? " [romd mode]" : " [mmio mode]");
    }
    if (r->dirty_log_mask) {
        g_string_append_printf(out, " [log 0x%x]", r->dirty_log_mask);
    }
    g_string_append_c(out, '\n');
}

static void print_flatview(GString *out, const FlatView *fv)
{
    guint n = fv ? flatview_num_ranges(fv) : 0;

    if (!n) {
        g_string_append(out, "  (nothing mapped)\n");
    }
    for (guint i = 0; i < n; i++) {
        print_flat_range(out, flatview_range(fv, i));
    }
}

/* The base dispatch of a space that layers on a shared rendering, or NULL. */
static Dispatch *layered_base(const AddressSpace *as)
{
    Dispatch *d = as_dispatch(as);

    return d ? dispatch_base(d) : NULL;
}

static void print_shared_view(GString *out, AddressSpace **spaces, guint n, guint first)
{
    MemRegion *shared = as_shared_base(spaces[first]);
    Dispatch *base = layered_base(spaces[first]);
    guint users = 0;

    g_string_append_printf(out, "shared view of '%s' (rendered once", name_str(shared));
    if (base) {
        g_string_append_printf(out, ", base dispatch generation %" PRIu64,
                               dispatch_generation(base));
    }
    g_string_append(out, "), used by");
    for (guint i = first; i < n; i++) {
        if (as_shared_base(spaces[i]) == shared) {
            g_string_append_printf(out, "%s %s", users++ ? "," : "", as_name(spaces[i]));
        }
    }
    g_string_append(out, ":\n");
    print_flatview(out, base ? dispatch_flatview(base) : NULL);
    g_string_append_c(out, '\n');
}

void mtree_print_flat(GString *out, AddressSpace **spaces, guint n)
{
    GHashTable *printed = g_hash_table_new(g_direct_hash, g_direct_equal);
    Dispatch *first_base = NULL;
    MemRegion *first_shared = NULL;

    for (guint i = 0; i < n; i++) {
        AddressSpace *as = spaces[i];
        MemRegion *shared = as_shared_base(as);
        Dispatch *d = as_dispatch(as);
        Dispatch *base = layered_base(as);

        if (!shared || !base) {
            g_string_append_printf(out, "address-space: %s", as_name(as));
            if (shared) {
                g_string_append_printf(out, ": shares '%s' but its dispatch is not layered",
                                       name_str(shared));
            }
            g_string_append(out, ":\n");
            print_flatview(out, as_flatview(as));
            g_string_append_c(out, '\n');
            continue;
        }

        if (g_hash_table_add(printed, shared)) {
            print_shared_view(out, spaces, n, i);
            first_shared = shared;
            first_base = base;
        }
        FlatView *overlay = dispatch_flatview(d);
        guint n_overlay = overlay ? flatview_num_ranges(overlay) : 0;

        g_string_append_printf(out,
                               "address-space: %s: layered on shared view of '%s' "
                               "(+%u overlay range%s, dispatch generation %" PRIu64 ")",
                               as_name(as), name_str(shared), n_overlay,
                               n_overlay == 1 ? "" : "s", dispatch_generation(d));
        if (shared == first_shared && base != first_base) {
            /* Sharing the region but not its rendering: worth seeing. */
            g_string_append_printf(out, " [own base dispatch, generation %" PRIu64 "]",
                                   dispatch_generation(base));
        }
        g_string_append(out, n_overlay ? ":\n" : "\n");
        for (guint j = 0; j < n_overlay; j++) {
            print_flat_range(out, flatview_range(overlay, j));
        }
        g_string_append_c(out, '\n');
    }
    g_hash_table_destroy(printed);
}

/* --- The tree walk behind mem_explain() and mtree_resolve(). --- */

typedef struct WalkStep {
    MemRegion *mr;
    s128 base;      /* absolute address of the region's offset 0 (may be < 0 in a target) */
    s128 lo, end;   /* the part of it its ancestors leave visible */
} WalkStep;

typedef struct WalkHit {
    WalkStep *steps;  /* root first */
    guint n;
    uint64_t offset;  /* of the address in the last step's region */
} WalkHit;

typedef struct Walk {
    uint64_t addr;
    bool first_only;         /* stop at the winner */
    GArray *stack;           /* WalkStep: the current path */
    GPtrArray *leaves;       /* WalkHit: enabled leaves covering addr, render order */
    GPtrArray *disabled;     /* WalkHit: disabled regions covering addr */
    GPtrArray *transparent;  /* WalkHit: containers/aliases covering addr with nothing under */
} Walk;

static void walk_hit_free(gpointer p)
{
    WalkHit *hit = p;

    g_free(hit->steps);
    g_free(hit);
}

static void walk_init(Walk *w, uint64_t addr, bool first_only)
{
    w->addr = addr;
    w->first_only = first_only;
    w->stack = g_array_new(FALSE, FALSE, sizeof(WalkStep));
    w->leaves = g_ptr_array_new_with_free_func(walk_hit_free);
    w->disabled = g_ptr_array_new_with_free_func(walk_hit_free);
    w->transparent = g_ptr_array_new_with_free_func(walk_hit_free);
}

static void walk_clear(Walk *w)
{
    g_array_free(w->stack, TRUE);
    g_ptr_array_free(w->leaves, TRUE);
    g_ptr_array_free(w->disabled, TRUE);
    g_ptr_array_free(w->transparent, TRUE);
}

static void walk_record(Walk *w, GPtrArray *into)
{
    WalkHit *hit = g_new0(WalkHit, 1);
    const WalkStep *top = &g_array_index(w->stack, WalkStep, w->stack->len - 1);

    hit->n = w->stack->len;
    hit->steps = g_memdup2(w->stack->data, sizeof(WalkStep) * hit->n);
    hit->offset = (uint64_t)((s128)w->addr - top->base);
    g_ptr_array_add(into, hit);
}

static bool walk_covers(const Walk *w, s128 lo, s128 end)
{
    return (s128)w->addr >= lo && (s128)w->addr < end;
}

/* Precondition: lo <= addr < end. Returns whether a leaf under mr covers addr. */
static bool walk_region(Walk *w, MemRegion *mr, s128 base, s128 lo, s128 end)
{
    WalkStep step = { .mr = mr, .base = base, .lo = lo, .end = end };
    bool found = false;

    if (w->stack->len > MTREE_MAX_DEPTH) {
        return false;
    }
    g_array_append_val(w->stack, step);

    if (!mr_enabled(mr)) {
        walk_record(w, w->disabled);
        goto out;
    }
    switch (mr_kind(mr)) {
    case MR_KIND_CONTAINER:
        for (guint i = 0; i < mr_num_children(mr); i++) {
            MemRegion *child = mr_child(mr, i);
            s128 cbase = base + (s128)mr_addr(child);
            s128 clo = s128_max(cbase, lo);
            s128 cend = s128_min(cbase + region_size(child), end);

            if (walk_covers(w, clo, cend) && walk_region(w, child, cbase, clo, cend)) {
                found = true;
                if (w->first_only) {
                    break;
                }
            }
        }
        break;
    case MR_KIND_ALIAS: {
        MemRegion *target = mr_alias_target(mr);

        if (target) {
            s128 tbase = base - (s128)mr_alias_offset(mr);
            s128 tlo = s128_max(tbase, lo);
            s128 tend = s128_min(tbase + region_size(target), end);

            if (walk_covers(w, tlo, tend)) {
                found = walk_region(w, target, tbase, tlo, tend);
            }
        }
        break;
    }
    default:
        walk_record(w, w->leaves);
        found = true;
        break;
    }
    if (!found && (mr_kind(mr) == MR_KIND_CONTAINER || mr_kind(mr) == MR_KIND_ALIAS)) {
        walk_record(w, w->transparent);
    }
out:
    g_array_set_size(w->stack, w->stack->len - 1);
    return found;
}

static void walk_root(Walk *w, MemRegion *root)
{
    if (root && walk_covers(w, 0, region_size(root))) {
        walk_region(w, root, 0, 0, region_size(root));
    }
}

MemRegion *mtree_resolve(MemRegion *root, uint64_t addr, uint64_t *offset)
{
    Walk w;
    MemRegion *leaf = NULL;

    walk_init(&w, addr, true);
    walk_root(&w, root);
    if (w.leaves->len) {
        WalkHit *hit = g_ptr_array_index(w.leaves, 0);

        leaf = hit->steps[hit->n - 1].mr;
        if (offset) {
            *offset = hit->offset;
        }
    }
    walk_clear(&w);
    return leaf;
}

/* --- mem_explain(). --- */

static bool step_after_alias(const WalkHit *hit, guint i)
{
    return i > 0 && mr_kind(hit->steps[i - 1].mr) == MR_KIND_ALIAS;
}

static void append_path(GString *out, const WalkHit *hit)
{
    for (guint i = 0; i < hit->n; i++) {
        if (i) {
            g_string_append(out, step_after_alias(hit, i) ? " -> " : " > ");
        }
        g_string_append(out, name_str(hit->steps[i].mr));
    }
}

static void append_step(GString *out, const WalkHit *hit, guint i, unsigned indent)
{
    const WalkStep *st = &hit->steps[i];
    MemRegion *mr = st->mr;
    bool alias = mr_kind(mr) == MR_KIND_ALIAS;

    append_indent(out, indent);
    g_string_append_printf(out, "%s%s (", alias ? "alias " : "", name_str(mr));
    if (!alias) {
        g_string_append_printf(out, "%s, ", kind_str(mr_kind(mr)));
    }
    /* A region reached through an alias: its own priority means nothing here. */
    if (step_after_alias(hit, i)) {
        g_string_append_printf(out, "target of %s) ", name_str(hit->steps[i - 1].mr));
    } else {
        g_string_append_printf(out, "prio %d) ", mr_priority(mr));
    }
    append_range(out, st->lo, st->end);
    if (alias) {
        g_string_append_printf(out, " -> target %s @0x%" PRIx64, name_str(mr_alias_target(mr)),
                               mr_alias_offset(mr));
    } else if (i == hit->n - 1 && mr_kind(mr) != MR_KIND_CONTAINER) {
        g_string_append_printf(out, " offset 0x%" PRIx64, hit->offset);
    }
    append_region_flags(out, mr);
    g_string_append_c(out, '\n');
}

/* Is a's path a proper prefix of b's? */
static bool path_is_ancestor(const WalkHit *a, const WalkHit *b)
{
    if (a->n >= b->n) {
        return false;
    }
    for (guint i = 0; i < a->n; i++) {
        if (a->steps[i].mr != b->steps[i].mr) {
            return false;
        }
    }
    return true;
}

/* "name (kind, prio p)" or "name (kind, target of alias)" for a hit's last step. */
static void append_hit_label(GString *out, const WalkHit *hit)
{
    MemRegion *mr = hit->steps[hit->n - 1].mr;

    g_string_append_printf(out, "%s (%s, ", name_str(mr), kind_str(mr_kind(mr)));
    if (step_after_alias(hit, hit->n - 1)) {
        g_string_append_printf(out, "target of %s)", name_str(hit->steps[hit->n - 2].mr));
    } else {
        g_string_append_printf(out, "prio %d)", mr_priority(mr));
    }
}

/* What hides `hidden` from `winner`: where their paths part. */
static void append_hidden_by(GString *out, const WalkHit *winner, const WalkHit *hidden)
{
    guint k = 0;

    while (k < winner->n && k < hidden->n && winner->steps[k].mr == hidden->steps[k].mr) {
        k++;
    }
    if (k == 0 || k >= winner->n || k >= hidden->n) {
        g_string_append(out, "      hidden by an earlier region in render order\n");
        return;
    }
    MemRegion *common = winner->steps[k - 1].mr;
    MemRegion *w_top = winner->steps[k].mr;
    MemRegion *h_top = hidden->steps[k].mr;
    int wp = mr_priority(w_top);
    int hp = mr_priority(h_top);

    g_string_append_printf(out, "      hidden by %s (prio %d)", name_str(w_top), wp);
    if (h_top != hidden->steps[hidden->n - 1].mr) {
        g_string_append_printf(out, " over %s (prio %d)", name_str(h_top), hp);
    } else {
        g_string_append_printf(out, " over it (prio %d)", hp);
    }
    g_string_append_printf(out, " in %s", name_str(common));
    if (wp == hp) {
        g_string_append_printf(out, "; equal priority: %s was added later", name_str(w_top));
    } else if (wp < hp) {
        g_string_append(out, "; lower priority yet first in render order");
    }
    g_string_append_c(out, '\n');
}

bool mem_explain(GString *out, AddressSpace *as, uint64_t addr)
{
    MemRegion *root = as_root(as);
    Dispatch *d = as_dispatch(as);
    const MemSection *s = NULL;
    uint32_t idx = 0;
    uint64_t last = 0;
    MemRegion *d_mr = NULL;
    uint64_t d_off = 0;
    bool agree;
    Walk w;

    g_string_append_printf(out, "address-space: %s, address 0x%016" PRIx64 " (root %s)\n",
                           as_name(as), addr, name_str(root));

    /* The dispatch's answer: what accesses actually use. */
    if (d) {
        dispatch_ref(d);
        Dispatch *base = dispatch_base(d);

        idx = dispatch_lookup(d, addr, &last);
        s = dispatch_section(d, idx);
        g_string_append_printf(out, "dispatch: generation %" PRIu64, dispatch_generation(d));
        if (base) {
            g_string_append_printf(out, " (layered on shared base generation %" PRIu64 ")",
                                   dispatch_generation(base));
        }
        g_string_append_printf(out, ", section #%" PRIu32 " of %" PRIu32, idx,
                               dispatch_num_sections(d));
        if (base) {
            g_string_append(out, idx >= dispatch_num_sections(base) ? " (overlay)"
                                                                     : " (shared base)");
        }
        g_string_append_c(out, '\n');
        if (s) {
            print_flat_range(out, s);
            d_mr = s->mr;
            d_off = s->offset_in_region + (addr - s->start);
            if (d_mr) {
                g_string_append_printf(out,
                                       "  serves 0x%" PRIx64 ": %s (%s) at offset 0x%" PRIx64
                                       "; same section up to 0x%" PRIx64 "\n",
                                       addr, name_str(d_mr), kind_str(mr_kind(d_mr)), d_off,
                                       last);
            } else {
                g_string_append_printf(out,
                                       "  serves 0x%" PRIx64 ": nothing (unassigned)"
                                       "; same up to 0x%" PRIx64 "\n",
                                       addr, last);
            }
        } else {
            g_string_append(out, "  lookup returned an index with no section\n");
        }
    } else {
        g_string_append(out, "dispatch: none (address space not rendered)\n");
    }

    /* The independent tree walk. */
    walk_init(&w, addr, false);
    walk_root(&w, root);

    WalkHit *winner = w.leaves->len ? g_ptr_array_index(w.leaves, 0) : NULL;
    MemRegion *t_mr = winner ? winner->steps[winner->n - 1].mr : NULL;
    uint64_t t_off = winner ? winner->offset : 0;

    g_string_append(out, "path (tree walk from the root, render order):\n");
    if (winner) {
        for (guint i = 0; i < winner->n; i++) {
            append_step(out, winner, i, 2 + 2 * i);
        }
    } else {
        g_string_append(out, "  no enabled leaf covers this address: unassigned\n");
    }

    agree = s && t_mr == d_mr && (!t_mr || t_off == d_off);
    if (agree) {
        g_string_append(out, "tree walk agrees with the dispatch");
    } else {
        g_string_append(out, "MISMATCH: the dispatch says ");
        g_string_append(out, d_mr ? name_str(d_mr) : "unassigned");
        if (d_mr) {
            g_string_append_printf(out, " @0x%" PRIx64, d_off);
        }
        g_string_append(out, ", the tree walk says ");
        g_string_append(out, t_mr ? name_str(t_mr) : "unassigned");
        if (t_mr) {
            g_string_append_printf(out, " @0x%" PRIx64, t_off);
        }
    }
    g_string_append_c(out, '\n');

    if (w.leaves->len > 1) {
        g_string_append(out, "hidden here (cover the address, not visible):\n");
        for (guint i = 1; i < w.leaves->len; i++) {
            WalkHit *hit = g_ptr_array_index(w.leaves, i);

            g_string_append(out, "  ");
            append_hit_label(out, hit);
            g_string_append_printf(out, " at offset 0x%" PRIx64 ", via ", hit->offset);
            append_path(out, hit);
            g_string_append_c(out, '\n');
            append_hidden_by(out, winner, hit);
        }
    }
    if (w.disabled->len) {
        g_string_append(out, "disabled here (would cover the address):\n");
        for (guint i = 0; i < w.disabled->len; i++) {
            WalkHit *hit = g_ptr_array_index(w.disabled, i);

            g_string_append(out, "  ");
            append_hit_label(out, hit);
            g_string_append(out, " [disabled], via ");
            append_path(out, hit);
            g_string_append_c(out, '\n');
        }
    }
    /* Innermost transparent regions only: their ancestors are transparent too. */
    bool header = false;
    for (guint i = 0; i < w.transparent->len; i++) {
        WalkHit *hit = g_ptr_array_index(w.transparent, i);
        bool inner = true;

        for (guint j = 0; j < w.transparent->len && inner; j++) {
            inner = !path_is_ancestor(hit, g_ptr_array_index(w.transparent, j));
        }
        if (!inner) {
            continue;
        }
        if (!header) {
            g_string_append(out, "transparent here (nothing under them covers the address):\n");
            header = true;
        }
        g_string_append(out, "  ");
        append_hit_label(out, hit);
        g_string_append(out, ", via ");
        append_path(out, hit);
        g_string_append_c(out, '\n');
    }

    walk_clear(&w);
    if (d) {
        dispatch_unref(d);
    }
    return agree;
}
