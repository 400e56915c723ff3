/*
 * Address spaces: keeping renderings current, and accesses through them.
 *
 * Change tracking. A mutation marks the region it changed, and everything
 * whose rendering can depend on it (its parents, and aliases of it, and
 * their parents...), "changed" and drops them into a list. The outermost
 * commit then updates only address spaces whose root is marked, and clears
 * the marks.
 *
 * Render cache. Each region that some address space renders as a whole
 * (its root, or the shared base of a layered space) caches its latest flat
 * view and dispatch, for as long as some space uses it: spaces count
 * themselves in cache_users and the last one drops the cache. (The cache
 * references the regions it maps, possibly the region itself when it is a
 * leaf: owning it from the spaces keeps that from becoming a cycle.) A mark makes the cache stale; the first use in a
 * commit re-renders it, so a shared global map is rendered once per commit
 * however many CPUs show it. If the new rendering equals the old, the old
 * dispatch is kept: its generation does not change, so nothing cached
 * against it (TLB entries) is invalidated for nothing.
 *
 * Layering. A root whose lowest-priority child is an enabled alias of a
 * whole region at address 0, strictly below every other child, shows that
 * region exactly where nothing else covers: the rendering of the root is
 * the region's rendering with the root's other children rendered on top.
 * Such a space gets a layered dispatch: the shared base plus its overlays.
 */
#include <string.h>

#include "softmmu/region_internal.h"

typedef struct RenderCache {
    FlatView *fv;
    Dispatch *d;
    bool stale;
} RenderCache;

struct AddressSpace {
    char *name;
    MemRegion *root;
    Dispatch *dispatch;   /* current */
    FlatView *view;       /* current full view (composed lazily if layered) */
    MemRegion *shared;    /* layered on this region's rendering, or NULL */
    MemRegion *cache_owner; /* whose render cache this space uses (referenced) */
    uint8_t fill;
    MemEndian target_endian;
    GPtrArray *listeners;
    GArray *notifiers;    /* DispatchNotifier */
};

typedef struct DispatchNotifier {
    AsDispatchNotify fn;
    void *opaque;
} DispatchNotifier;

static GPtrArray *spaces;          /* AddressSpace*, creation order */
static GPtrArray *changed;         /* MemRegion* (referenced), marked since last commit */
static unsigned depth;
static bool pending;
static bool committing;
static MemRenderStats stats;
static guint listener_count;        /* registered anywhere: commits skip hooks when 0 */

/* --- Change tracking --- */

static MemRegion *top_of(MemRegion *mr)
{
    while (mr->parent) {
        mr = mr->parent;
    }
    return mr;
}

void mem_note_extent(MemRegion *mr)
{
    if (!mr->parent) {
        mr->pending_full = true; /* the top itself changed */
        return;
    }
    /* Walk up, translating [lo, hi] into each ancestor and clipping to it. */
    __int128 lo = mr->addr, hi = (__int128)mr->addr + mr->last;
    MemRegion *c = mr->parent;
    for (;;) {
        if (hi > (__int128)c->last) {
            hi = c->last;
        }
        if (lo > hi) {
            return; /* entirely outside an ancestor: invisible from the top */
        }
        if (!c->parent) {
            break;
        }
        lo += c->addr;
        hi += c->addr;
        c = c->parent;
    }
    if (!c->pending_windows) {
        c->pending_windows = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    }
    uint64_t w[2] = { (uint64_t)lo, (uint64_t)hi };
    g_array_append_vals(c->pending_windows, w, 2);
}

void mem_mark_changed(MemRegion *mr)
{
    if (mr->dirty_render) {
        return;
    }
    mr->dirty_render = true;
    if (mr->cache) {
        mr->cache->stale = true;
    }
    if (!changed) {
        changed = g_ptr_array_new();
    }
    mr_ref(mr);
    g_ptr_array_add(changed, mr);
    pending = true;
    if (mr->parent) {
        mem_mark_changed(mr->parent);
    }
    if (mr->alias_users) {
        for (guint i = 0; i < mr->alias_users->len; i++) {
            MemRegion *user = g_ptr_array_index(mr->alias_users, i);
            /* Seen through an alias: windows in this tree's coordinates say
             * nothing about where it shows there. */
            top_of(user)->pending_full = true;
            mem_mark_changed(user);
        }
    }
}

void mem_region_finalize_cache(MemRegion *mr)
{
    if (mr->cache) {
        dispatch_unref(mr->cache->d);
        flatview_unref(mr->cache->fv);
        g_free(mr->cache);
        mr->cache = NULL;
    }
}

/* The rendering of `mr` as a root: fresh, and unchanged if nothing changed. */
/* Sort and merge [lo, hi] pairs in place. */
static void normalize_windows(GArray *w)
{
    guint n = w->len / 2;
    uint64_t *a = (uint64_t *)w->data;
    for (guint i = 1; i < n; i++) { /* insertion sort: windows are few */
        for (guint j = i; j > 0 && a[2 * (j - 1)] > a[2 * j]; j--) {
            uint64_t t0 = a[2 * j], t1 = a[2 * j + 1];
            a[2 * j] = a[2 * (j - 1)];
            a[2 * j + 1] = a[2 * (j - 1) + 1];
            a[2 * (j - 1)] = t0;
            a[2 * (j - 1) + 1] = t1;
        }
    }
    guint out = 0;
    for (guint i = 0; i < n; i++) {
        if (out && (a[2 * (out - 1) + 1] == UINT64_MAX || a[2 * i] <= a[2 * (out - 1) + 1] + 1)) {
            if (a[2 * i + 1] > a[2 * (out - 1) + 1]) {
                a[2 * (out - 1) + 1] = a[2 * i + 1];
            }
        } else {
            a[2 * out] = a[2 * i];
            a[2 * out + 1] = a[2 * i + 1];
            out++;
        }
    }
    g_array_set_size(w, out * 2);
}

/* Can `mr`'s stale cache be brought up to date by re-rendering windows? */
static bool windows_suffice(MemRegion *mr)
{
    return mr->cache && !mr->parent && !mr->pending_full && mr->pending_windows &&
           mr->pending_windows->len > 0;
}

static RenderCache *render_cached(MemRegion *mr)
{
    RenderCache *c = mr->cache;
    if (c && !c->stale) {
        return c;
    }
    FlatView *fv;
    if (windows_suffice(mr)) {
        normalize_windows(mr->pending_windows);
        fv = flatview_render_windows(mr, c->fv, mr->pending_windows);
        stats.window_renders++;
    } else {
        fv = flatview_render(mr);
    }
    stats.full_renders++;
    if (c && flatview_equal(c->fv, fv)) {
        flatview_unref(fv);
        c->stale = false;
        return c;
    }
    if (!c) {
        c = mr->cache = g_new0(RenderCache, 1);
    } else {
        dispatch_unref(c->d);
        flatview_unref(c->fv);
    }
    c->fv = fv;
    c->d = dispatch_new(fv);
    stats.dispatch_builds++;
    c->stale = false;
    return c;
}

/* Make `owner` the region whose cache `as` uses, counting users. */
static void as_set_cache_owner(AddressSpace *as, MemRegion *owner)
{
    if (as->cache_owner == owner) {
        return;
    }
    if (owner) {
        mr_ref(owner);
        owner->cache_users++;
    }
    MemRegion *old = as->cache_owner;
    as->cache_owner = owner;
    if (old) {
        if (--old->cache_users == 0) {
            mem_region_finalize_cache(old);
        }
        mr_unref(old);
    }
}

/* The alias child a layered rendering of `root` can share, or NULL. */
static MemRegion *layer_base_alias(const MemRegion *root)
{
    if (root->kind != MR_KIND_CONTAINER || !root->enabled || root->readonly ||
        root->children->len == 0) {
        return NULL;
    }
    GPtrArray *ch = root->children;
    MemRegion *b = g_ptr_array_index(ch, ch->len - 1);
    if (b->kind != MR_KIND_ALIAS || !b->enabled || b->readonly || b->addr != 0 ||
        b->alias_offset != 0 || b->last != b->alias->last || root->last < b->last) {
        return NULL;
    }
    for (guint i = 0; i + 1 < ch->len; i++) {
        if (((MemRegion *)g_ptr_array_index(ch, i))->priority <= b->priority) {
            return NULL;
        }
    }
    return b;
}

/* The space's current full view; composes a layered one on first use. */
FlatView *as_flatview(AddressSpace *as)
{
    if (!as->view) {
        Dispatch *base = dispatch_base(as->dispatch);
        as->view = flatview_compose(dispatch_flatview(base), dispatch_flatview(as->dispatch));
    }
    return as->view;
}

/* Compute the new dispatch for `as`; returns it referenced, or NULL if unchanged. */
static Dispatch *as_compute(AddressSpace *as, MemRegion **shared_out)
{
    MemRegion *alias = layer_base_alias(as->root);
    Dispatch *old = as->dispatch;
    if (alias) {
        *shared_out = alias->alias;
        RenderCache *base = render_cached(alias->alias);
        FlatView *ovl = flatview_render_excluding(as->root, alias);
        stats.overlay_renders++;
        if (old && dispatch_base(old) == base->d && flatview_equal(dispatch_flatview(old), ovl)) {
            flatview_unref(ovl);
            return NULL;
        }
        Dispatch *d = dispatch_new_layered(base->d, ovl);
        stats.dispatch_builds++;
        flatview_unref(ovl);
        return d;
    }
    *shared_out = NULL;
    RenderCache *c = render_cached(as->root);
    if (old == c->d) {
        return NULL;
    }
    if (old && !dispatch_base(old) && flatview_equal(dispatch_flatview(old), c->fv)) {
        return NULL;
    }
    dispatch_ref(c->d);
    return c->d;
}

/* Install `d` (referenced) as the space's dispatch; return the old full view. */
static FlatView *as_install(AddressSpace *as, Dispatch *d, MemRegion *shared)
{
    FlatView *old_view = NULL;
    if (as->listeners->len) {
        old_view = as_flatview(as);
        flatview_ref(old_view);
    }
    if (as->view) {
        flatview_unref(as->view);
        as->view = NULL;
    }
    if (!dispatch_base(d)) {
        as->view = dispatch_flatview(d);
        flatview_ref(as->view);
    }
    Dispatch *old_d = as->dispatch;
    as->dispatch = d;
    as->shared = shared;
    for (guint i = 0; old_d && i < as->notifiers->len; i++) {
        DispatchNotifier *n = &g_array_index(as->notifiers, DispatchNotifier, i);
        n->fn(as, old_d, d, n->opaque);
    }
    dispatch_unref(old_d);
    return old_view;
}

/* --- Listeners --- */

static void notify_coalesced(MemListener *l, const FlatRange *r, bool add)
{
    MemRegion *mr = r->mr;
    void (*fn)(MemListener *, const FlatRange *, uint64_t, uint64_t) =
        add ? l->coalesced_add : l->coalesced_del;
    if (!fn || !mr->coalesced) {
        return;
    }
    for (guint i = 0; i < mr->coalesced->len; i++) {
        const CoalescedRange *cr = &g_array_index(mr->coalesced, CoalescedRange, i);
        /* Intersect [cr.offset, +size) with the part of mr this range shows. */
        uint64_t rlo = r->offset_in_region, rhi = r->offset_in_region + (r->last - r->start);
        uint64_t clo = cr->offset, chi = cr->offset + cr->size - 1;
        uint64_t lo = MAX(rlo, clo), hi = MIN(rhi, chi);
        if (lo <= hi) {
            fn(l, r, r->start + (lo - rlo), hi - lo + 1);
        }
    }
}

static void notify_del(MemListener *l, const FlatRange *r)
{
    notify_coalesced(l, r, false);
    if (l->region_del) {
        l->region_del(l, r);
    }
}

static void notify_add(MemListener *l, const FlatRange *r)
{
    if (l->region_add) {
        l->region_add(l, r);
    }
    notify_coalesced(l, r, true);
}

/* Same place and mapping, maybe a different log mask. */
static bool same_mapping(const FlatRange *a, const FlatRange *b)
{
    return a->start == b->start && a->last == b->last && a->mr == b->mr &&
           a->offset_in_region == b->offset_in_region && a->readonly == b->readonly &&
           a->romd_mode == b->romd_mode;
}

/* Tell `l` the minimal difference from old to new (both sorted). Removals
 * first, then additions, so a listener never sees two ranges overlap. */
static void listener_diff(MemListener *l, const FlatView *old, const FlatView *new)
{
    guint no = old ? flatview_num_ranges(old) : 0, nn = flatview_num_ranges(new);
    for (int pass = 0; pass < 2; pass++) {
        guint i = 0, j = 0;
        while (i < no || j < nn) {
            const FlatRange *a = i < no ? flatview_range(old, i) : NULL;
            const FlatRange *b = j < nn ? flatview_range(new, j) : NULL;
            if (a && b && same_mapping(a, b)) {
                if (pass == 1 && a->dirty_log_mask != b->dirty_log_mask && l->log_change) {
                    l->log_change(l, b, a->dirty_log_mask, b->dirty_log_mask);
                }
                i++;
                j++;
            } else if (a && (!b || a->start < b->start ||
                             (a->start == b->start && a->last <= b->last))) {
                if (pass == 0) {
                    notify_del(l, a);
                }
                i++;
            } else {
                if (pass == 1) {
                    notify_add(l, b);
                }
                j++;
            }
        }
    }
}

void as_listener_register(AddressSpace *as, MemListener *l)
{
    l->as = as;
    g_ptr_array_add(as->listeners, l);
    listener_count++;
    FlatView *fv = as_flatview(as);
    for (guint i = 0; i < flatview_num_ranges(fv); i++) {
        notify_add(l, flatview_range(fv, i));
    }
}

void as_listener_unregister(MemListener *l)
{
    if (l && l->as && g_ptr_array_remove(l->as->listeners, l)) {
        l->as = NULL;
        listener_count--;
    }
}

static void for_all_listeners(bool begin)
{
    for (guint i = 0; listener_count && i < spaces->len; i++) {
        AddressSpace *as = g_ptr_array_index(spaces, i);
        for (guint j = 0; j < as->listeners->len; j++) {
            MemListener *l = g_ptr_array_index(as->listeners, j);
            void (*fn)(MemListener *) = begin ? l->begin : l->commit;
            if (fn) {
                fn(l);
            }
        }
    }
}

void mem_coalescing_changed(MemRegion *mr, const CoalescedRange *cr, bool added)
{
    if (!spaces) {
        return;
    }
    for (guint i = 0; i < spaces->len; i++) {
        AddressSpace *as = g_ptr_array_index(spaces, i);
        if (!as->listeners->len) {
            continue;
        }
        FlatView *fv = as_flatview(as);
        for (guint k = 0; k < flatview_num_ranges(fv); k++) {
            const FlatRange *r = flatview_range(fv, k);
            uint64_t rlo = r->offset_in_region, rhi = rlo + (r->last - r->start);
            uint64_t lo = MAX(rlo, cr->offset), hi = MIN(rhi, cr->offset + cr->size - 1);
            if (r->mr != mr || lo > hi) {
                continue;
            }
            for (guint j = 0; j < as->listeners->len; j++) {
                MemListener *l = g_ptr_array_index(as->listeners, j);
                void (*fn)(MemListener *, const FlatRange *, uint64_t, uint64_t) =
                    added ? l->coalesced_add : l->coalesced_del;
                if (fn) {
                    fn(l, r, r->start + (lo - rlo), hi - lo + 1);
                }
            }
        }
    }
}

/* --- Transactions --- */

void mem_transaction_begin(void)
{
    depth++;
}

unsigned mem_transaction_depth(void)
{
    return depth;
}

void mem_render_stats(MemRenderStats *out)
{
    *out = stats;
}

typedef struct Update {
    AddressSpace *as;
    Dispatch *d;
    MemRegion *shared;
} Update;

static void commit_once(void)
{
    GPtrArray *marked = changed;
    changed = NULL;
    pending = false;
    stats.commits++;

    GArray *updates = g_array_new(FALSE, FALSE, sizeof(Update));
    for (guint i = 0; spaces && i < spaces->len; i++) {
        AddressSpace *as = g_ptr_array_index(spaces, i);
        if (!as->root->dirty_render) {
            continue;
        }
        Update u = { .as = as };
        u.d = as_compute(as, &u.shared);
        as_set_cache_owner(as, u.shared ? u.shared : as->root);
        if (u.d) {
            g_array_append_val(updates, u);
        } else {
            as->shared = u.shared;
        }
    }
    /* Everything is rendered: clear the marks before anyone can mutate again. */
    for (guint i = 0; marked && i < marked->len; i++) {
        MemRegion *mr = g_ptr_array_index(marked, i);
        mr->dirty_render = false;
        mr->pending_full = false;
        if (mr->pending_windows) {
            g_array_set_size(mr->pending_windows, 0);
        }
        mr_unref(mr);
    }
    if (marked) {
        g_ptr_array_free(marked, TRUE);
    }
    if (updates->len) {
        for_all_listeners(true);
        for (guint i = 0; i < updates->len; i++) {
            Update *u = &g_array_index(updates, Update, i);
            FlatView *old = as_install(u->as, u->d, u->shared);
            if (u->as->listeners->len) {
                FlatView *new = as_flatview(u->as);
                for (guint j = 0; j < u->as->listeners->len; j++) {
                    listener_diff(g_ptr_array_index(u->as->listeners, j), old, new);
                }
            }
            flatview_unref(old);
        }
        for_all_listeners(false);
    }
    g_array_free(updates, TRUE);
}

void mem_transaction_commit(void)
{
    g_return_if_fail(depth > 0);
    if (--depth > 0 || committing) {
        return;
    }
    /* Listeners may mutate the tree; their changes commit in another round.
     * A listener that keeps changing things forever is stopped and reported. */
    committing = true;
    for (int round = 0; pending; round++) {
        if (round == 64) {
            mem_report("memory: listeners kept changing the map for 64 rounds; giving up");
            break;
        }
        commit_once();
    }
    committing = false;
}

/* --- Address spaces --- */

const void *as_ram_read_ptr_slow(AddressSpace *as, AsRamCache *c, uint64_t addr,
                                 unsigned size)
{
    Dispatch *d = as_dispatch(as);
    if (!d || size == 0 || addr + size - 1 < addr) {
        return NULL;
    }
    uint64_t last;
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, &last));
    if (!s || !s->mr) {
        return NULL;
    }
    MemRegionKind k = mr_kind(s->mr);
    uint8_t *base = mr_ram_ptr(s->mr);
    /* RAM and ROM are their backing; a ROM device only in ROMD mode. */
    if (!base || !(k == MR_KIND_RAM || k == MR_KIND_ROM || (k == MR_KIND_ROMD &&
                                                            mr_romd_mode(s->mr)))) {
        return NULL;
    }
    c->gen = dispatch_generation(d);
    c->start = addr;
    c->last = last;
    c->bias = (uintptr_t)base + s->offset_in_region - s->start;
    if (addr + size - 1 > last) {
        return NULL;
    }
    return (const void *)(c->bias + (uintptr_t)addr);
}

AddressSpace *as_new(const char *name, MemRegion *root, GError **err)
{
    if (!root) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "address space '%s': root is NULL", name ? name : "(anonymous)");
        return NULL;
    }
    AddressSpace *as = g_new0(AddressSpace, 1);
    as->name = g_strdup(name ? name : "(anonymous)");
    mr_ref(root);
    as->root = root;
    as->fill = 0xff;
    as->target_endian = MEM_LITTLE_ENDIAN;
    as->listeners = g_ptr_array_new();
    as->notifiers = g_array_new(FALSE, FALSE, sizeof(DispatchNotifier));
    if (!spaces) {
        spaces = g_ptr_array_new();
    }
    g_ptr_array_add(spaces, as);
    /* Render now so the space is usable at once, even inside a transaction;
     * a pending change to the root re-renders it at the commit. */
    MemRegion *shared;
    Dispatch *d = as_compute(as, &shared);
    as_set_cache_owner(as, shared ? shared : root);
    FlatView *old = as_install(as, d, shared);
    flatview_unref(old);
    /* Inside a transaction the render above may precede further changes to
     * regions that are already marked: mem_mark_changed() stops at a region
     * marked once, so it would not see the cache created since. Leave that
     * cache stale so the commit renders it again. */
    if (depth > 0) {
        MemRegion *tops[2] = { root, shared };
        for (unsigned i = 0; i < 2; i++) {
            if (tops[i] && tops[i]->cache && tops[i]->dirty_render) {
                tops[i]->cache->stale = true;
            }
        }
    }
    return as;
}

void as_free(AddressSpace *as)
{
    if (!as) {
        return;
    }
    g_ptr_array_remove(spaces, as);
    for (guint i = 0; i < as->listeners->len; i++) {
        ((MemListener *)g_ptr_array_index(as->listeners, i))->as = NULL;
    }
    listener_count -= as->listeners->len;
    g_ptr_array_free(as->listeners, TRUE);
    g_array_free(as->notifiers, TRUE);
    flatview_unref(as->view);
    dispatch_unref(as->dispatch);
    as_set_cache_owner(as, NULL);
    mr_unref(as->root);
    g_free(as->name);
    g_free(as);
}

void as_add_dispatch_notifier(AddressSpace *as, AsDispatchNotify fn, void *opaque)
{
    DispatchNotifier n = { fn, opaque };
    g_array_append_val(as->notifiers, n);
}

void as_remove_dispatch_notifier(AddressSpace *as, AsDispatchNotify fn, void *opaque)
{
    for (guint i = 0; i < as->notifiers->len; i++) {
        DispatchNotifier *n = &g_array_index(as->notifiers, DispatchNotifier, i);
        if (n->fn == fn && n->opaque == opaque) {
            g_array_remove_index(as->notifiers, i);
            return;
        }
    }
}

const char *as_name(const AddressSpace *as) { return as->name; }
MemRegion *as_root(const AddressSpace *as) { return as->root; }
void as_set_unassigned_fill(AddressSpace *as, uint8_t fill) { as->fill = fill; }
uint8_t as_fill_byte(const AddressSpace *as) { return as->fill; }
MemEndian as_target_endian(const AddressSpace *as) { return as->target_endian; }
Dispatch *as_dispatch(const AddressSpace *as) { return as->dispatch; }
MemRegion *as_shared_base(const AddressSpace *as) { return as->shared; }
guint as_count(void) { return spaces ? spaces->len : 0; }
AddressSpace *as_nth(guint i) { return spaces && i < spaces->len ? g_ptr_array_index(spaces, i) : NULL; }

void as_set_target_endian(AddressSpace *as, MemEndian endian)
{
    as->target_endian = endian == MEM_BIG_ENDIAN ? MEM_BIG_ENDIAN : MEM_LITTLE_ENDIAN;
}

/* --- Accesses --- */

static void report_rom_write(const MemSection *s, uint64_t addr, uint64_t len)
{
    if (!s->mr->reported_rom_write) {
        s->mr->reported_rom_write = true;
        mem_report("write of %" G_GUINT64_FORMAT " byte(s) at 0x%" G_GINT64_MODIFIER
                   "x to read-only '%s' dropped (reported once per region)",
                   len, addr, s->mr->name);
    }
}

MemResult section_access(AddressSpace *as, const MemSection *s, uint64_t addr, MemAttrs attrs,
                         void *buf, uint64_t len, bool is_write)
{
    MemRegion *mr = s->mr;
    if (!mr) {
        if (!is_write) {
            memset(buf, as->fill, len);
        }
        return MEM_DECODE_ERROR;
    }
    uint64_t off = s->offset_in_region + (addr - s->start);
    bool ram_path = mr->kind == MR_KIND_RAM || mr->kind == MR_KIND_ROM ||
                    (mr->kind == MR_KIND_ROMD && !is_write && s->romd_mode);
    if (ram_path) {
        if (!is_write) {
            memcpy(buf, mr->ram + off, len);
            return MEM_OK;
        }
        if (s->readonly) {
            report_rom_write(s, addr, len);
            return MEM_ACCESS_ERROR;
        }
        mr_note_write(mr, off, len);
        memcpy(mr->ram + off, buf, len);
        return MEM_OK;
    }
    if (mr->kind == MR_KIND_MMIO || mr->kind == MR_KIND_ROMD) {
        return mmio_access_buffer(mr, off, buf, len, attrs, is_write,
                                  mr_ops_big_endian(mr, as->target_endian));
    }
    if (mr->kind == MR_KIND_IOMMU) {
        /* Translate and continue in the target space (iommu.c). */
        return iommu_access(as, mr, off, attrs, buf, len, is_write, false);
    }
    /* No other leaf kind exists; answer as unassigned. */
    if (!is_write) {
        memset(buf, as->fill, len);
    }
    return MEM_DECODE_ERROR;
}

static MemResult as_rw(AddressSpace *as, uint64_t addr, MemAttrs attrs, uint8_t *buf,
                       uint64_t len, bool is_write)
{
    MemResult res = MEM_OK;
    Dispatch *d = as->dispatch;
    while (len) {
        uint64_t last;
        const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, &last));
        uint64_t chunk = (last - addr >= len - 1) ? len : last - addr + 1;
        MemResult r = section_access(as, s, addr, attrs, buf, chunk, is_write);
        if (r != MEM_OK && res == MEM_OK) {
            res = r;
        }
        addr += chunk; /* wraps at 2^64, as an address bus does */
        buf += chunk;
        len -= chunk;
    }
    return res;
}

MemResult as_read(AddressSpace *as, uint64_t addr, MemAttrs attrs, void *buf, uint64_t len)
{
    return as_rw(as, addr, attrs, buf, len, false);
}

MemResult as_write(AddressSpace *as, uint64_t addr, MemAttrs attrs, const void *buf,
                   uint64_t len)
{
    return as_rw(as, addr, attrs, (uint8_t *)buf, len, true);
}

static bool want_big(const AddressSpace *as, MemEndian e)
{
    return e == MEM_BIG_ENDIAN || (e == MEM_TARGET_ENDIAN && as->target_endian == MEM_BIG_ENDIAN);
}

static uint64_t bytes_to_val(const uint8_t *b, unsigned size, bool big)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)b[i] << (8 * (big ? size - 1 - i : i));
    }
    return v;
}

static void val_to_bytes(uint64_t v, uint8_t *b, unsigned size, bool big)
{
    for (unsigned i = 0; i < size; i++) {
        b[i] = (uint8_t)(v >> (8 * (big ? size - 1 - i : i)));
    }
}

static bool valid_value_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static bool is_device_access(const MemSection *s, bool is_write)
{
    return s->mr && (s->mr->kind == MR_KIND_MMIO ||
                     (s->mr->kind == MR_KIND_ROMD && (is_write || !s->romd_mode)));
}

/* One value access within one section; `bytes` in memory order. */
static MemResult section_val(AddressSpace *as, const MemSection *s, uint64_t addr,
                             MemAttrs attrs, unsigned size, uint8_t *bytes, bool is_write)
{
    if (s->mr && s->mr->kind == MR_KIND_IOMMU) {
        /* Stays one value access wherever the translation does not split it. */
        uint64_t off = s->offset_in_region + (addr - s->start);
        return iommu_access(as, s->mr, off, attrs, bytes, size, is_write, true);
    }
    if (is_device_access(s, is_write)) {
        uint64_t off = s->offset_in_region + (addr - s->start);
        return mmio_access(s->mr, off, bytes, size, attrs, is_write,
                           mr_ops_big_endian(s->mr, as->target_endian));
    }
    return section_access(as, s, addr, attrs, bytes, size, is_write);
}

MemResult section_read_val(AddressSpace *as, const MemSection *s, uint64_t addr, MemAttrs attrs,
                           unsigned size, MemEndian endian, uint64_t *value)
{
    uint8_t bytes[8];
    if (!valid_value_size(size)) {
        *value = 0;
        return MEM_ACCESS_ERROR;
    }
    MemResult r = section_val(as, s, addr, attrs, size, bytes, false);
    *value = bytes_to_val(bytes, size, want_big(as, endian));
    return r;
}

MemResult section_write_val(AddressSpace *as, const MemSection *s, uint64_t addr, MemAttrs attrs,
                            unsigned size, MemEndian endian, uint64_t value)
{
    uint8_t bytes[8];
    if (!valid_value_size(size)) {
        return MEM_ACCESS_ERROR;
    }
    val_to_bytes(value, bytes, size, want_big(as, endian));
    return section_val(as, s, addr, attrs, size, bytes, true);
}

/*
 * A value access is one access of `size` bytes: within one MMIO section it
 * reaches the device as a single access of that size (subject to its
 * `valid` rules); only an access straddling sections is split.
 */
static MemResult as_val(AddressSpace *as, uint64_t addr, MemAttrs attrs, unsigned size,
                        uint8_t *bytes, bool is_write)
{
    uint64_t last;
    Dispatch *d = as->dispatch;
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, &last));
    if (last - addr >= size - 1) {
        return section_val(as, s, addr, attrs, size, bytes, is_write);
    }
    return as_rw(as, addr, attrs, bytes, size, is_write);
}

MemResult as_read_val(AddressSpace *as, uint64_t addr, MemAttrs attrs, unsigned size,
                      MemEndian endian, uint64_t *value)
{
    uint8_t bytes[8];
    if (!valid_value_size(size)) {
        *value = 0;
        return MEM_ACCESS_ERROR;
    }
    MemResult r = as_val(as, addr, attrs, size, bytes, false);
    *value = bytes_to_val(bytes, size, want_big(as, endian));
    return r;
}

MemResult as_write_val(AddressSpace *as, uint64_t addr, MemAttrs attrs, unsigned size,
                       MemEndian endian, uint64_t value)
{
    uint8_t bytes[8];
    if (!valid_value_size(size)) {
        return MEM_ACCESS_ERROR;
    }
    val_to_bytes(value, bytes, size, want_big(as, endian));
    return as_val(as, addr, attrs, size, bytes, true);
}
