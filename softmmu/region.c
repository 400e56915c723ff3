/*
 * The region tree: creation, reference counting, mutations and properties.
 *
 * Invariants (checked on every mutation, never trusted from callers):
 * - a region has at most one parent, and only containers have children;
 * - following children and alias targets from any region never comes back
 *   to it (no cycles, so rendering terminates);
 * - `children` is in render order: priority descending, and among equal
 *   priorities the most recently added first (memory-semantics.md §2);
 * - `last` is size - 1, so a size of 2^64 is last == UINT64_MAX.
 * Every mutation that can change what some address resolves to calls
 * mem_mark_changed(), inside a transaction it opens itself, so a lone
 * mutation commits at once and a batch inside a transaction commits once.
 */
#include <string.h>
#include <sys/mman.h>

#include "softmmu/iommu.h"
#include "softmmu/region_internal.h"

static uint64_t add_counter;

const char *mr_kind_name(MemRegionKind kind)
{
    switch (kind) {
    case MR_KIND_CONTAINER: return "container";
    case MR_KIND_RAM: return "ram";
    case MR_KIND_ROM: return "rom";
    case MR_KIND_MMIO: return "i/o";
    case MR_KIND_ALIAS: return "alias";
    case MR_KIND_ROMD: return "romd";
    case MR_KIND_IOMMU: return "iommu";
    }
    return "?";
}

bool mr_is_leaf(const MemRegion *mr)
{
    return mr->kind != MR_KIND_CONTAINER && mr->kind != MR_KIND_ALIAS;
}

static bool has_ram(const MemRegion *mr)
{
    return mr->kind == MR_KIND_RAM || mr->kind == MR_KIND_ROM || mr->kind == MR_KIND_ROMD;
}

static MemRegion *mr_alloc(const char *name, MemRegionKind kind, uint64_t size, GError **err)
{
    if (size == 0) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "region '%s': size 0 is not allowed", name ? name : "(anonymous)");
        return NULL;
    }
    MemRegion *mr = g_new0(MemRegion, 1);
    mr->name = g_strdup(name ? name : "(anonymous)");
    mr->kind = kind;
    mr->refcount = 1;
    mr->last = size == MEM_SIZE_FULL ? UINT64_MAX : size - 1;
    mr->enabled = true;
    return mr;
}

static bool check_host_size(const char *name, uint64_t size, GError **err)
{
    if (size == MEM_SIZE_FULL || size > (uint64_t)G_MAXSIZE / 2) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "region '%s': size 0x%" G_GINT64_MODIFIER "x cannot be backed by host memory",
                    name, size);
        return false;
    }
    return true;
}

/*
 * Guest RAM from the host. Large RAM is mapped 2 MiB-aligned and marked as
 * eligible for transparent huge pages (as QEMU does): a guest striding
 * through megabytes would otherwise miss the host's TLB on every page, and
 * which host pages it gets would make timings vary from run to run.
 * Fresh anonymous mappings are zero-filled and committed lazily.
 */
#define HUGE_ALIGN (2u << 20)

static void *ram_alloc(uint64_t size, uint64_t *mapped)
{
    *mapped = 0;
    if (size < HUGE_ALIGN) {
        return g_try_malloc0(size);
    }
    size_t len = (size_t)size + HUGE_ALIGN;
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    uint8_t *aligned = (uint8_t *)(((uintptr_t)p + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (aligned > p) {
        munmap(p, (size_t)(aligned - p));
    }
    size_t tail = (size_t)((p + len) - (aligned + size));
    if (tail) {
        munmap(aligned + size, tail);
    }
#ifdef MADV_HUGEPAGE
    madvise(aligned, (size_t)size, MADV_HUGEPAGE);
#endif
    *mapped = size;
    return aligned;
}

static void ram_free(void *p, uint64_t mapped)
{
    if (mapped) {
        munmap(p, (size_t)mapped);
    } else {
        g_free(p);
    }
}

static MemRegion *mr_new_backed(const char *name, MemRegionKind kind, uint64_t size,
                                void *host, GError **err)
{
    if (size && !check_host_size(name, size, err)) {
        return NULL;
    }
    MemRegion *mr = mr_alloc(name, kind, size, err);
    if (!mr) {
        return NULL;
    }
    if (host) {
        mr->ram = host;
    } else {
        mr->ram = ram_alloc(size, &mr->ram_mapped);
        mr->ram_owned = true;
        if (!mr->ram) {
            g_set_error(err, MEM_ERROR, MEM_ERROR_NO_MEMORY,
                        "region '%s': cannot allocate 0x%" G_GINT64_MODIFIER "x bytes",
                        mr->name, size);
            g_free(mr->name);
            g_free(mr);
            return NULL;
        }
    }
    return mr;
}

MemRegion *mr_new_container(const char *name, uint64_t size, GError **err)
{
    MemRegion *mr = mr_alloc(name, MR_KIND_CONTAINER, size, err);
    if (mr) {
        mr->children = g_ptr_array_new();
    }
    return mr;
}

MemRegion *mr_new_ram(const char *name, uint64_t size, GError **err)
{
    return mr_new_backed(name, MR_KIND_RAM, size, NULL, err);
}

MemRegion *mr_new_ram_ptr(const char *name, uint64_t size, void *host, GError **err)
{
    if (!host) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "region '%s': host pointer is NULL", name ? name : "(anonymous)");
        return NULL;
    }
    return mr_new_backed(name, MR_KIND_RAM, size, host, err);
}

MemRegion *mr_new_rom(const char *name, uint64_t size, GError **err)
{
    MemRegion *mr = mr_new_backed(name, MR_KIND_ROM, size, NULL, err);
    if (mr) {
        mr->readonly = true;
    }
    return mr;
}

static bool check_ops(const char *name, const MemRegionOps *ops, GError **err)
{
    if (!ops) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "region '%s': MMIO ops are NULL", name ? name : "(anonymous)");
        return false;
    }
    const MemAccessLimits *lims[2] = { &ops->valid, &ops->impl };
    for (int i = 0; i < 2; i++) {
        unsigned mn = lims[i]->min_access_size, mx = lims[i]->max_access_size;
        bool bad = (mn && (mn > 8 || (mn & (mn - 1)))) || (mx && (mx > 8 || (mx & (mx - 1)))) ||
                   (mn && mx && mn > mx);
        if (bad) {
            g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                        "region '%s': %s access sizes %u..%u are not powers of two in 1..8",
                        name ? name : "(anonymous)", i ? "impl" : "valid", mn, mx);
            return false;
        }
    }
    if (ops->endianness > MEM_TARGET_ENDIAN) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "region '%s': unknown endianness %d", name ? name : "(anonymous)",
                    (int)ops->endianness);
        return false;
    }
    return true;
}

MemRegion *mr_new_mmio(const char *name, uint64_t size, const MemRegionOps *ops, void *opaque,
                       GError **err)
{
    if (!check_ops(name, ops, err)) {
        return NULL;
    }
    MemRegion *mr = mr_alloc(name, MR_KIND_MMIO, size, err);
    if (mr) {
        mr->ops = ops;
        mr->opaque = opaque;
    }
    return mr;
}

MemRegion *mr_new_romd(const char *name, uint64_t size, const MemRegionOps *ops, void *opaque,
                       GError **err)
{
    if (!check_ops(name, ops, err)) {
        return NULL;
    }
    MemRegion *mr = mr_new_backed(name, MR_KIND_ROMD, size, NULL, err);
    if (mr) {
        mr->ops = ops;
        mr->opaque = opaque;
        mr->romd_mode = true;
    }
    return mr;
}

MemRegion *mr_new_iommu(const char *name, uint64_t size, const MemIommuOps *ops, void *opaque,
                        GError **err)
{
    if (!ops || !ops->translate) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "iommu '%s': a translate callback is required",
                    name ? name : "(anonymous)");
        return NULL;
    }
    MemRegion *mr = mr_alloc(name, MR_KIND_IOMMU, size, err);
    if (mr) {
        mr->iommu_ops = ops;
        mr->opaque = opaque;
    }
    return mr;
}

MemRegion *mr_new_alias(const char *name, MemRegion *target, uint64_t offset, uint64_t size,
                        GError **err)
{
    if (!target) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "alias '%s': target is NULL", name ? name : "(anonymous)");
        return NULL;
    }
    MemRegion *mr = mr_alloc(name, MR_KIND_ALIAS, size, err);
    if (!mr) {
        return NULL;
    }
    mr_ref(target);
    mr->alias = target;
    mr->alias_offset = offset;
    if (!target->alias_users) {
        target->alias_users = g_ptr_array_new();
    }
    g_ptr_array_add(target->alias_users, mr);
    return mr;
}

void mr_ref(MemRegion *mr)
{
    if (mr) {
        mr->refcount++;
    }
}

static void mr_finalize(MemRegion *mr)
{
    if (mr->children) {
        for (guint i = 0; i < mr->children->len; i++) {
            MemRegion *c = g_ptr_array_index(mr->children, i);
            c->parent = NULL;
            mr_unref(c);
        }
        g_ptr_array_free(mr->children, TRUE);
    }
    if (mr->alias) {
        g_ptr_array_remove_fast(mr->alias->alias_users, mr);
        mr_unref(mr->alias);
    }
    if (mr->alias_users) {
        g_ptr_array_free(mr->alias_users, TRUE);
    }
    mem_region_finalize_cache(mr);
    iommu_finalize(mr);
    if (mr->ram_owned) {
        ram_free(mr->ram, mr->ram_mapped);
    }
    g_free(mr->dirty);
    if (mr->coalesced) {
        g_array_free(mr->coalesced, TRUE);
    }
    if (mr->pending_windows) {
        g_array_free(mr->pending_windows, TRUE);
    }
    g_free(mr->name);
    g_free(mr);
}

void mr_unref(MemRegion *mr)
{
    if (mr && --mr->refcount == 0) {
        mr_finalize(mr);
    }
}

/* --- Mutations --- */

static bool is_simple_leaf(const MemRegion *mr)
{
    return mr_is_leaf(mr) && !mr->children;
}

/*
 * Would making `child` a child of `container` close a cycle? Only if
 * `container` is already reachable from `child`, i.e. `child` is reachable
 * from `container` going backwards (parent links and alias users). Walking
 * backwards keeps this cheap where it matters: a fresh CPU root has nothing
 * above it, however large the map its alias shows.
 */
static bool reaches_backwards(MemRegion *from, MemRegion *goal, GHashTable *seen)
{
    if (from == goal) {
        return true;
    }
    if (!g_hash_table_add(seen, from)) {
        return false;
    }
    if (from->parent && reaches_backwards(from->parent, goal, seen)) {
        return true;
    }
    if (from->alias_users) {
        for (guint i = 0; i < from->alias_users->len; i++) {
            if (reaches_backwards(g_ptr_array_index(from->alias_users, i), goal, seen)) {
                return true;
            }
        }
    }
    return false;
}

static bool would_cycle(MemRegion *container, MemRegion *child)
{
    if (container == child) {
        return true;
    }
    if (is_simple_leaf(child)) {
        return false;
    }
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    bool r = reaches_backwards(container, child, seen);
    g_hash_table_destroy(seen);
    return r;
}

/* Do [a, a_last] and [b, b_last] (both within one container) intersect? */
static bool ranges_overlap(uint64_t a, uint64_t a_last, uint64_t b, uint64_t b_last)
{
    return a <= b_last && b <= a_last;
}

/* The child's extent in its container, clipped so it never wraps past 2^64. */
static uint64_t child_last(const MemRegion *c)
{
    return c->addr + c->last < c->addr ? UINT64_MAX : c->addr + c->last;
}

static void report_overlap(const MemRegion *container, const MemRegion *older,
                           const MemRegion *newer)
{
    mem_report("overlap in '%s': '%s' [0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
               "x] hides '%s' [0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
               "x] at equal priority %d (most recently added wins)",
               container->name, newer->name, newer->addr, child_last(newer), older->name,
               older->addr, child_last(older), newer->priority);
}

static bool add_child(MemRegion *container, uint64_t addr, MemRegion *child, int priority,
                      bool may_overlap, GError **err)
{
    if (!container || !child) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "add_subregion: NULL region");
        return false;
    }
    if (container->kind != MR_KIND_CONTAINER) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot add '%s' to '%s': '%s' is a %s, not a container", child->name,
                    container->name, container->name, mr_kind_name(container->kind));
        return false;
    }
    if (child->parent) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_HAS_PARENT,
                    "cannot add '%s' to '%s': it already belongs to '%s'", child->name,
                    container->name, child->parent->name);
        return false;
    }
    if (would_cycle(container, child)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_CYCLE,
                    "cannot add '%s' to '%s': '%s' would contain itself", child->name,
                    container->name, container->name);
        return false;
    }

    if (addr + child->last < addr) {
        /* Device models may place regions at guest-programmed addresses:
         * clip, report, go on (§2, L11181). */
        mem_report("'%s' at 0x%" G_GINT64_MODIFIER "x in '%s' extends past 2^64: clipped",
                   child->name, addr, container->name);
    }
    mem_transaction_begin();
    child->addr = addr;
    child->priority = priority;
    child->may_overlap = may_overlap;
    child->add_seq = ++add_counter;
    child->parent = container;
    mr_ref(child);

    GPtrArray *ch = container->children;
    guint pos = 0;
    while (pos < ch->len && ((MemRegion *)g_ptr_array_index(ch, pos))->priority > priority) {
        pos++;
    }
    g_ptr_array_insert(ch, (gint)pos, child);
    mem_note_extent(child);

    if (child->enabled) {
        for (guint i = 0; i < ch->len; i++) {
            MemRegion *o = g_ptr_array_index(ch, i);
            if (o != child && o->enabled && o->priority == priority &&
                ranges_overlap(o->addr, child_last(o), addr, child_last(child))) {
                report_overlap(container, o, child);
            }
        }
    }
    mem_mark_changed(container);
    mem_transaction_commit();
    return true;
}

bool mr_add_subregion(MemRegion *container, uint64_t addr, MemRegion *child, GError **err)
{
    return add_child(container, addr, child, 0, false, err);
}

bool mr_add_subregion_overlap(MemRegion *container, uint64_t addr, MemRegion *child,
                              int priority, GError **err)
{
    return add_child(container, addr, child, priority, true, err);
}

bool mr_del_subregion(MemRegion *container, MemRegion *child, GError **err)
{
    if (!container || !child || child->parent != container) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_NOT_CHILD, "cannot delete '%s' from '%s': not its child",
                    child ? child->name : "(null)", container ? container->name : "(null)");
        return false;
    }
    mem_transaction_begin();
    mem_note_extent(child);
    g_ptr_array_remove(container->children, child);
    child->parent = NULL;
    mem_mark_changed(container);
    mr_unref(child);
    mem_transaction_commit();
    return true;
}

/* Apply one field change inside its own transaction, if it changes anything. */
/* The region's old and new places are both recorded for re-rendering. */
#define MR_SET_FIELD(mr, field, value)                                                   \
    do {                                                                                 \
        if ((mr) && (mr)->field != (value)) {                                            \
            mem_transaction_begin();                                                     \
            mem_note_extent(mr);                                                         \
            (mr)->field = (value);                                                       \
            mem_note_extent(mr);                                                         \
            mem_mark_changed(mr);                                                        \
            mem_transaction_commit();                                                    \
        }                                                                                \
    } while (0)

void mr_set_enabled(MemRegion *mr, bool enabled)
{
    MR_SET_FIELD(mr, enabled, enabled);
}

void mr_set_address(MemRegion *mr, uint64_t addr)
{
    MR_SET_FIELD(mr, addr, addr);
}

void mr_set_readonly(MemRegion *mr, bool readonly)
{
    MR_SET_FIELD(mr, readonly, readonly);
}

bool mr_set_alias_offset(MemRegion *mr, uint64_t offset, GError **err)
{
    if (!mr || mr->kind != MR_KIND_ALIAS) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot set the alias offset of '%s': not an alias", mr ? mr->name : "(null)");
        return false;
    }
    MR_SET_FIELD(mr, alias_offset, offset);
    return true;
}

bool mr_set_size(MemRegion *mr, uint64_t size, GError **err)
{
    if (!mr || !(mr->kind == MR_KIND_CONTAINER || mr->kind == MR_KIND_ALIAS ||
                 mr->kind == MR_KIND_MMIO)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot resize '%s': only containers, aliases and MMIO can change size",
                    mr ? mr->name : "(null)");
        return false;
    }
    if (size == 0) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot resize '%s' to 0 bytes", mr->name);
        return false;
    }
    uint64_t last = size == MEM_SIZE_FULL ? UINT64_MAX : size - 1;
    MR_SET_FIELD(mr, last, last);
    return true;
}

bool mr_set_romd_mode(MemRegion *mr, bool romd, GError **err)
{
    if (!mr || mr->kind != MR_KIND_ROMD) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot set ROMD mode of '%s': not a ROM device", mr ? mr->name : "(null)");
        return false;
    }
    MR_SET_FIELD(mr, romd_mode, romd);
    return true;
}

/* --- Dirty logging --- */

static uint64_t dirty_pages(const MemRegion *mr)
{
    return (mr->last >> MEM_DIRTY_PAGE_BITS) + 1;
}

bool mr_set_dirty_log(MemRegion *mr, unsigned client, bool enable, GError **err)
{
    if (!mr || !has_ram(mr) || client >= MEM_NUM_CLIENTS) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot log '%s' for client %u: needs a RAM-backed region and client < %d",
                    mr ? mr->name : "(null)", client, MEM_NUM_CLIENTS);
        return false;
    }
    uint8_t bit = (uint8_t)(1u << client);
    uint8_t mask = enable ? (mr->dirty_log_mask | bit) : (mr->dirty_log_mask & ~bit);
    if (enable && !(mr->dirty_log_mask & bit)) {
        if (!mr->dirty) {
            mr->dirty = g_new0(uint8_t, dirty_pages(mr));
        } else {
            for (uint64_t p = 0; p < dirty_pages(mr); p++) {
                mr->dirty[p] &= (uint8_t)~bit;
            }
        }
    }
    MR_SET_FIELD(mr, dirty_log_mask, mask);
    return true;
}

unsigned mr_dirty_log_mask(const MemRegion *mr)
{
    return mr->dirty_log_mask;
}

/* Pages [first, last] touched by [offset, offset+len), clipped to the region. */
static bool dirty_span(const MemRegion *mr, uint64_t offset, uint64_t len, uint64_t *first,
                       uint64_t *last)
{
    if (!mr->dirty || len == 0 || offset > mr->last) {
        return false;
    }
    uint64_t end = (len - 1 > mr->last - offset) ? mr->last : offset + len - 1;
    *first = offset >> MEM_DIRTY_PAGE_BITS;
    *last = end >> MEM_DIRTY_PAGE_BITS;
    return true;
}

bool mr_get_dirty(const MemRegion *mr, uint64_t offset, uint64_t len, unsigned client)
{
    uint64_t a, b;
    if (client >= MEM_NUM_CLIENTS || !dirty_span(mr, offset, len, &a, &b)) {
        return false;
    }
    for (uint64_t p = a; p <= b; p++) {
        if (mr->dirty[p] & (1u << client)) {
            return true;
        }
    }
    return false;
}

void mr_set_dirty(MemRegion *mr, uint64_t offset, uint64_t len)
{
    uint64_t a, b;
    if (!mr->dirty_log_mask || !dirty_span(mr, offset, len, &a, &b)) {
        return;
    }
    for (uint64_t p = a; p <= b; p++) {
        mr->dirty[p] |= mr->dirty_log_mask;
    }
}

void mr_reset_dirty(MemRegion *mr, uint64_t offset, uint64_t len, unsigned client)
{
    uint64_t a, b;
    if (client >= MEM_NUM_CLIENTS || !dirty_span(mr, offset, len, &a, &b)) {
        return;
    }
    for (uint64_t p = a; p <= b; p++) {
        mr->dirty[p] &= (uint8_t)~(1u << client);
    }
}

/* Every live decoded-code cache (one per machine and target; a process may
 * hold several, e.g. a benchmark running two targets). */
static struct CodeWriteHandler {
    MemCodeWriteFn fn;
    void *opaque;
} code_write_handlers[MEM_MAX_CODE_WRITE_HANDLERS];
static unsigned n_code_write_handlers;

bool mem_add_code_write_handler(MemCodeWriteFn fn, void *opaque)
{
    if (!fn || n_code_write_handlers == MEM_MAX_CODE_WRITE_HANDLERS) {
        mem_report("memory: cannot add a code-write handler (%s)",
                   fn ? "too many code caches alive" : "no function");
        return false;
    }
    code_write_handlers[n_code_write_handlers++] = (struct CodeWriteHandler){ fn, opaque };
    return true;
}

void mem_remove_code_write_handler(MemCodeWriteFn fn, void *opaque)
{
    for (unsigned i = 0; i < n_code_write_handlers; i++) {
        if (code_write_handlers[i].fn == fn && code_write_handlers[i].opaque == opaque) {
            code_write_handlers[i] = code_write_handlers[--n_code_write_handlers];
            return;
        }
    }
}

void mr_note_write(MemRegion *mr, uint64_t offset, uint64_t len)
{
    if (!mr->dirty_log_mask) {
        return;
    }
    if ((mr->dirty_log_mask & (1u << MEM_CLIENT_CODE)) && n_code_write_handlers) {
        /* Clean code bits mean cached code: tell the caches, page by page
         * (a cache ignores pages it holds nothing for). */
        uint64_t a, b;
        if (dirty_span(mr, offset, len, &a, &b)) {
            for (uint64_t p = a; p <= b; p++) {
                if (!(mr->dirty[p] & (1u << MEM_CLIENT_CODE))) {
                    for (unsigned h = 0; h < n_code_write_handlers; h++) {
                        code_write_handlers[h].fn(code_write_handlers[h].opaque, mr,
                                                  p << MEM_DIRTY_PAGE_BITS, MEM_DIRTY_PAGE_SIZE);
                    }
                }
            }
        }
    }
    mr_set_dirty(mr, offset, len);
}

void mr_set_dirty_client(MemRegion *mr, uint64_t offset, uint64_t len, unsigned client)
{
    uint64_t a, b;
    if (client >= MEM_NUM_CLIENTS || !(mr->dirty_log_mask & (1u << client)) ||
        !dirty_span(mr, offset, len, &a, &b)) {
        return;
    }
    for (uint64_t p = a; p <= b; p++) {
        mr->dirty[p] |= (uint8_t)(1u << client);
    }
}

bool mr_page_all_dirty(const MemRegion *mr, uint64_t offset)
{
    if (!mr->dirty_log_mask) {
        return true;
    }
    if (!mr->dirty || offset > mr->last) {
        return false;
    }
    uint8_t bits = mr->dirty[offset >> MEM_DIRTY_PAGE_BITS];
    return (bits & mr->dirty_log_mask) == mr->dirty_log_mask;
}

/* --- Coalesced MMIO --- */

bool mr_add_coalescing(MemRegion *mr, uint64_t offset, uint64_t size, GError **err)
{
    if (!mr || mr->kind != MR_KIND_MMIO || size == 0 || offset > mr->last ||
        size - 1 > mr->last - offset) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "cannot coalesce [0x%" G_GINT64_MODIFIER "x, +0x%" G_GINT64_MODIFIER
                    "x) of '%s': needs an MMIO region and a non-empty range inside it",
                    offset, size, mr ? mr->name : "(null)");
        return false;
    }
    if (!mr->coalesced) {
        mr->coalesced = g_array_new(FALSE, FALSE, sizeof(CoalescedRange));
    }
    CoalescedRange cr = { offset, size };
    g_array_append_val(mr->coalesced, cr);
    mem_coalescing_changed(mr, &cr, true);
    return true;
}

void mr_clear_coalescing(MemRegion *mr)
{
    if (!mr || !mr->coalesced) {
        return;
    }
    while (mr->coalesced->len) {
        CoalescedRange cr = g_array_index(mr->coalesced, CoalescedRange, mr->coalesced->len - 1);
        g_array_set_size(mr->coalesced, mr->coalesced->len - 1);
        mem_coalescing_changed(mr, &cr, false);
    }
}

guint mr_num_coalescing(const MemRegion *mr)
{
    return mr->coalesced ? mr->coalesced->len : 0;
}

void mr_get_coalescing(const MemRegion *mr, guint i, uint64_t *offset, uint64_t *size)
{
    CoalescedRange cr = { 0, 0 };
    if (mr->coalesced && i < mr->coalesced->len) {
        cr = g_array_index(mr->coalesced, CoalescedRange, i);
    }
    *offset = cr.offset;
    *size = cr.size;
}

/* --- Introspection --- */

const char *mr_name(const MemRegion *mr) { return mr->name; }
MemRegionKind mr_kind(const MemRegion *mr) { return mr->kind; }
uint64_t mr_size(const MemRegion *mr) { return mr->last == UINT64_MAX ? MEM_SIZE_FULL : mr->last + 1; }
uint64_t mr_last(const MemRegion *mr) { return mr->last; }
uint64_t mr_addr(const MemRegion *mr) { return mr->addr; }
int mr_priority(const MemRegion *mr) { return mr->priority; }
bool mr_enabled(const MemRegion *mr) { return mr->enabled; }
bool mr_readonly(const MemRegion *mr) { return mr->readonly; }
bool mr_romd_mode(const MemRegion *mr) { return mr->romd_mode; }
MemRegion *mr_parent(const MemRegion *mr) { return mr->parent; }
MemRegion *mr_alias_target(const MemRegion *mr) { return mr->alias; }
uint64_t mr_alias_offset(const MemRegion *mr) { return mr->alias_offset; }
guint mr_num_children(const MemRegion *mr) { return mr->children ? mr->children->len : 0; }
void *mr_ram_ptr(const MemRegion *mr) { return has_ram(mr) ? mr->ram : NULL; }
const MemRegionOps *mr_ops(const MemRegion *mr) { return mr->ops; }
void *mr_opaque(const MemRegion *mr) { return mr->opaque; }

MemRegion *mr_child(const MemRegion *mr, guint i)
{
    return mr->children && i < mr->children->len ? g_ptr_array_index(mr->children, i) : NULL;
}

guint mr_check_overlaps(MemRegion *container)
{
    guint n = 0;
    GPtrArray *ch = container ? container->children : NULL;
    for (guint i = 0; ch && i < ch->len; i++) {
        MemRegion *a = g_ptr_array_index(ch, i);
        for (guint j = i + 1; a->enabled && j < ch->len; j++) {
            MemRegion *b = g_ptr_array_index(ch, j);
            if (b->enabled && b->priority == a->priority &&
                ranges_overlap(a->addr, child_last(a), b->addr, child_last(b))) {
                report_overlap(container, b, a); /* a is newer: it comes first */
                n++;
            }
        }
    }
    return n;
}
