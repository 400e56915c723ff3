/*
 * Listeners, dirty logging and coalesced MMIO (memory-semantics.md §5;
 * address_space.h "Listeners", region.h "Properties that survive unmap,
 * remap and move").
 *
 * A recording listener stores every callback with a copy of its range, so
 * the tests can pin the exact difference a commit reports (L2763: "the
 * minimal difference between old and new flat views").
 */
#include "test_util.h"

#define ROOT_SIZE 0x1000000ull

typedef enum EvType { EV_BEGIN, EV_COMMIT, EV_DEL, EV_ADD, EV_LOG, EV_CDEL, EV_CADD } EvType;

static const char *const ev_names[] = { "begin", "commit", "del", "add", "log", "cdel", "cadd" };

typedef struct Ev {
    EvType type;
    uint64_t start, last; /* the range (not for begin/commit) */
    MemRegion *mr;
    uint64_t offset;
    bool readonly;
    unsigned old_mask, new_mask; /* log_change */
    uint64_t cstart, csize;      /* coalesced_add/del */
} Ev;

typedef struct Rec {
    MemListener l;
    GArray *ev; /* of Ev */
} Rec;

static Rec *rec_of(MemListener *l)
{
    return l->opaque;
}

static void rec_push(MemListener *l, EvType t, const FlatRange *r)
{
    Ev e = { .type = t };
    if (r) {
        e.start = r->start;
        e.last = r->last;
        e.mr = r->mr;
        e.offset = r->offset_in_region;
        e.readonly = r->readonly;
    }
    g_array_append_val(rec_of(l)->ev, e);
}

static void on_begin(MemListener *l)
{
    rec_push(l, EV_BEGIN, NULL);
}

static void on_commit(MemListener *l)
{
    rec_push(l, EV_COMMIT, NULL);
}

static void on_del(MemListener *l, const FlatRange *r)
{
    rec_push(l, EV_DEL, r);
}

static void on_add(MemListener *l, const FlatRange *r)
{
    rec_push(l, EV_ADD, r);
}

static void on_log(MemListener *l, const FlatRange *r, unsigned old_mask, unsigned new_mask)
{
    rec_push(l, EV_LOG, r);
    Ev *e = &g_array_index(rec_of(l)->ev, Ev, rec_of(l)->ev->len - 1);
    e->old_mask = old_mask;
    e->new_mask = new_mask;
}

static void on_cadd(MemListener *l, const FlatRange *r, uint64_t start, uint64_t size)
{
    rec_push(l, EV_CADD, r);
    Ev *e = &g_array_index(rec_of(l)->ev, Ev, rec_of(l)->ev->len - 1);
    e->cstart = start;
    e->csize = size;
}

static void on_cdel(MemListener *l, const FlatRange *r, uint64_t start, uint64_t size)
{
    rec_push(l, EV_CDEL, r);
    Ev *e = &g_array_index(rec_of(l)->ev, Ev, rec_of(l)->ev->len - 1);
    e->cstart = start;
    e->csize = size;
}

static Rec *rec_new(void)
{
    Rec *r = g_new0(Rec, 1);
    r->l.begin = on_begin;
    r->l.commit = on_commit;
    r->l.region_del = on_del;
    r->l.region_add = on_add;
    r->l.log_change = on_log;
    r->l.coalesced_add = on_cadd;
    r->l.coalesced_del = on_cdel;
    r->l.opaque = r;
    r->ev = g_array_new(FALSE, TRUE, sizeof(Ev));
    return r;
}

static void rec_free(Rec *r)
{
    g_array_unref(r->ev);
    g_free(r);
}

static void rec_clear(Rec *r)
{
    g_array_set_size(r->ev, 0);
}

static guint rec_count(const Rec *r, EvType t)
{
    guint n = 0;
    for (guint i = 0; i < r->ev->len; i++) {
        n += g_array_index(r->ev, Ev, i).type == t;
    }
    return n;
}

static int ev_cmp(const void *pa, const void *pb)
{
    const Ev *a = pa, *b = pb;
#define CMP(f) if (a->f != b->f) return a->f < b->f ? -1 : 1
    CMP(type);
    CMP(start);
    CMP(last);
    CMP(offset);
    CMP(cstart);
    CMP(csize);
    CMP(old_mask);
    CMP(new_mask);
#undef CMP
    if (a->mr != b->mr) {
        return (uintptr_t)a->mr < (uintptr_t)b->mr ? -1 : 1;
    }
    return (int)a->readonly - (int)b->readonly;
}

static GString *ev_dump(const Ev *e, guint n)
{
    GString *s = g_string_new("");
    for (guint i = 0; i < n; i++) {
        g_string_append_printf(s, "\n  %s", ev_names[e[i].type]);
        if (e[i].type != EV_BEGIN && e[i].type != EV_COMMIT) {
            g_string_append_printf(s, " [%" PRIx64 "-%" PRIx64 "] %s +%" PRIx64 "%s", e[i].start,
                                   e[i].last, e[i].mr ? mr_name(e[i].mr) : "-", e[i].offset,
                                   e[i].readonly ? " ro" : "");
        }
        if (e[i].type == EV_LOG) {
            g_string_append_printf(s, " mask %x->%x", e[i].old_mask, e[i].new_mask);
        }
        if (e[i].type == EV_CADD || e[i].type == EV_CDEL) {
            g_string_append_printf(s, " at %" PRIx64 "+%" PRIx64, e[i].cstart, e[i].csize);
        }
    }
    return s;
}

/* The recorded events, minus begin/commit if `strip`, equal `exp` as a set
 * (the order of dels and adds within a commit is not specified). */
static void expect_set_at(int line, const Rec *r, bool strip, const Ev *exp, guint n)
{
    GArray *got = g_array_new(FALSE, TRUE, sizeof(Ev));
    for (guint i = 0; i < r->ev->len; i++) {
        const Ev *e = &g_array_index(r->ev, Ev, i);
        if (!strip || (e->type != EV_BEGIN && e->type != EV_COMMIT)) {
            g_array_append_val(got, *e);
        }
    }
    Ev *want = g_memdup2(exp, sizeof(Ev) * n);
    g_array_sort(got, ev_cmp);
    if (n) {
        qsort(want, n, sizeof(Ev), ev_cmp);
    }
    bool ok = got->len == n;
    for (guint i = 0; ok && i < n; i++) {
        ok = ev_cmp(&g_array_index(got, Ev, i), &want[i]) == 0;
    }
    if (!ok) {
        GString *a = ev_dump((const Ev *)r->ev->data, r->ev->len), *b = ev_dump(exp, n);
        ck_assert_msg(ok, "line %d: listener events differ\n got:%s\n expected:%s", line, a->str,
                      b->str);
    }
    g_array_unref(got);
    g_free(want);
}

/* One commit: begin first, commit last, and exactly `exp` in between. */
static void expect_commit_at(int line, const Rec *r, const Ev *exp, guint n)
{
    guint len = r->ev->len;
    bool framed = len >= 2 && g_array_index(r->ev, Ev, 0).type == EV_BEGIN &&
                  g_array_index(r->ev, Ev, len - 1).type == EV_COMMIT &&
                  rec_count(r, EV_BEGIN) == 1 && rec_count(r, EV_COMMIT) == 1;
    if (!framed) {
        GString *a = ev_dump((const Ev *)r->ev->data, len);
        ck_assert_msg(framed, "line %d: expected one begin ... commit, got:%s", line, a->str);
    }
    expect_set_at(line, r, true, exp, n);
}

/* Events of a commit whose begin/commit framing is optional (e.g. when
 * nothing was added or removed): if present, they frame the rest. */
static void expect_maybe_framed_at(int line, const Rec *r, const Ev *exp, guint n)
{
    if (rec_count(r, EV_BEGIN) || rec_count(r, EV_COMMIT)) {
        expect_commit_at(line, r, exp, n);
    } else {
        expect_set_at(line, r, false, exp, n);
    }
}

#define EXPECT_COMMIT(r, arr) expect_commit_at(__LINE__, (r), (arr), G_N_ELEMENTS(arr))
#define EXPECT_SET(r, arr) expect_set_at(__LINE__, (r), true, (arr), G_N_ELEMENTS(arr))
#define EXPECT_MAYBE_FRAMED(r, arr) \
    expect_maybe_framed_at(__LINE__, (r), (arr), G_N_ELEMENTS(arr))

#define ADD(s, l, m, o) { .type = EV_ADD, .start = (s), .last = (l), .mr = (m), .offset = (o) }
#define DEL(s, l, m, o) { .type = EV_DEL, .start = (s), .last = (l), .mr = (m), .offset = (o) }
#define LOGC(s, l, m, o, om, nm)                                                              \
    { .type = EV_LOG, .start = (s), .last = (l), .mr = (m), .offset = (o), .old_mask = (om), \
      .new_mask = (nm) }
#define CADD(s, l, m, o, cs, cz)                                                              \
    { .type = EV_CADD, .start = (s), .last = (l), .mr = (m), .offset = (o), .cstart = (cs),  \
      .csize = (cz) }
#define CDEL(s, l, m, o, cs, cz)                                                              \
    { .type = EV_CDEL, .start = (s), .last = (l), .mr = (m), .offset = (o), .cstart = (cs),  \
      .csize = (cz) }

/* ------------------------------------------------------------------ */
/* Registration and minimal differences (§5, L2763). */

/* Registering replays region_add for the current view, and nothing else. */
START_TEST(test_register_replays_current_view)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x10000, 0), 0);
    MemRegion *m = tu_put(root, 0x4000, tu_mmio("m", 0x1000, dev), 1);
    MemRegion *ram2 = tu_ram("ram2", 0x2000, 0);
    tu_put(root, 0x100000, tu_alias("win", ram2, 0x1000, 0x1000), 0);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();

    as_listener_register(as, &r->l);
    const Ev exp[] = {
        ADD(0x0000, 0x3fff, ram, 0x0000),
        ADD(0x4000, 0x4fff, m, 0),
        ADD(0x5000, 0xffff, ram, 0x5000),
        ADD(0x100000, 0x100fff, ram2, 0x1000),
    };
    EXPECT_SET(r, exp);
    ck_assert_uint_eq(rec_count(r, EV_ADD), 4);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(ram2);
    mr_unref(root);
    rec_free(r);
    tu_dev_free(dev);
}
END_TEST

/* A region added in the middle of RAM splits it: the old RAM range goes,
 * the pieces come; an unrelated range is not mentioned. Removing it merges
 * back: the reverse. */
START_TEST(test_split_and_merge_minimal)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x10000, 0), 0);
    tu_put(root, 0x100000, tu_ram("unrelated", 0x1000, 0), 0);
    MemRegion *m = tu_mmio("m", 0x1000, dev);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    tu_add_keep(root, 0x4000, m, 1);
    const Ev split[] = {
        DEL(0x0000, 0xffff, ram, 0x0000),
        ADD(0x0000, 0x3fff, ram, 0x0000),
        ADD(0x4000, 0x4fff, m, 0),
        ADD(0x5000, 0xffff, ram, 0x5000),
    };
    EXPECT_COMMIT(r, split);

    rec_clear(r);
    tu_del(root, m);
    const Ev merge[] = {
        DEL(0x0000, 0x3fff, ram, 0x0000),
        DEL(0x4000, 0x4fff, m, 0),
        DEL(0x5000, 0xffff, ram, 0x5000),
        ADD(0x0000, 0xffff, ram, 0x0000),
    };
    EXPECT_COMMIT(r, merge);

    /* a move reports only what moved */
    tu_put(root, 0x200000, m, 0);
    rec_clear(r);
    mr_set_address(m, 0x300000);
    const Ev move[] = {
        DEL(0x200000, 0x200fff, m, 0),
        ADD(0x300000, 0x300fff, m, 0),
    };
    EXPECT_COMMIT(r, move);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
    tu_dev_free(dev);
}
END_TEST

/* A read-only change on a mapped range replaces that range only. */
START_TEST(test_attribute_change_replaces_range)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x2000, 0), 0);
    tu_put(root, 0x10000, tu_ram("other", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    mr_set_readonly(ram, true);
    const Ev exp[] = {
        DEL(0, 0x1fff, ram, 0),
        { .type = EV_ADD, .start = 0, .last = 0x1fff, .mr = ram, .offset = 0, .readonly = true },
    };
    EXPECT_COMMIT(r, exp);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
}
END_TEST

/* A commit that changes nothing visible produces no callbacks at all. */
START_TEST(test_noop_commit_is_silent)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x2000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    mr_set_enabled(ram, true); /* already enabled */
    mr_set_readonly(ram, false); /* already writable */
    ck_assert_msg(r->ev->len == 0, "%u callbacks for a no-op", r->ev->len);

    mem_transaction_begin();
    mem_transaction_commit(); /* empty transaction */
    ck_assert_uint_eq(r->ev->len, 0);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
}
END_TEST

/* Changes that cancel out or stay hidden: no range comes or goes (whether a
 * re-render that found nothing still calls begin/commit is left open). */
START_TEST(test_invisible_changes_report_no_ranges)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *cover = tu_put(root, 0, tu_ram("cover", 0x10000, 0), 10);
    MemRegion *under = tu_put(root, 0x1000, tu_ram("under", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    mr_set_address(under, 0x3000); /* hidden before and after */
    mr_set_enabled(under, false);
    ck_assert_uint_eq(rec_count(r, EV_ADD), 0);
    ck_assert_uint_eq(rec_count(r, EV_DEL), 0);

    MemRegion *tmp = tu_ram("tmp", 0x1000, 0);
    mem_transaction_begin();
    tu_add_keep(root, 0x200000, tmp, 0);
    tu_del(root, tmp);
    mem_transaction_commit();
    ck_assert_uint_eq(rec_count(r, EV_ADD), 0);
    ck_assert_uint_eq(rec_count(r, EV_DEL), 0);
    ck_assert_uint_eq(rec_count(r, EV_BEGIN), rec_count(r, EV_COMMIT));

    ck_assert_ptr_eq(tu_dispatch_mr(as, 0x3000), cover);
    mr_unref(tmp);
    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
}
END_TEST

/* §5: changes batched in a transaction reach listeners in one commit. */
START_TEST(test_transaction_one_notification)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    mem_transaction_begin();
    MemRegion *a = tu_put(root, 0x1000, tu_ram("a", 0x1000, 0), 0);
    MemRegion *b = tu_put(root, 0x8000, tu_ram("b", 0x1000, 0), 0);
    mr_set_address(b, 0x9000);
    ck_assert_uint_eq(r->ev->len, 0); /* nothing before the outermost commit */
    mem_transaction_commit();
    const Ev exp[] = {
        ADD(0x1000, 0x1fff, a, 0),
        ADD(0x9000, 0x9fff, b, 0),
    };
    EXPECT_COMMIT(r, exp);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
}
END_TEST

START_TEST(test_unregister_stops_callbacks)
{
    MemRegion *root = tu_container("root", ROOT_SIZE);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    Rec *r2 = rec_new();
    as_listener_register(as, &r->l);
    as_listener_register(as, &r2->l);
    as_listener_unregister(&r->l);
    rec_clear(r);
    rec_clear(r2);
    MemRegion *a = tu_put(root, 0x1000, tu_ram("a", 0x1000, 0), 0);
    ck_assert_uint_eq(r->ev->len, 0);
    const Ev exp[] = { ADD(0x1000, 0x1fff, a, 0) };
    EXPECT_COMMIT(r2, exp); /* the other listener still hears */
    as_listener_unregister(&r2->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
    rec_free(r2);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Dirty logging (§5, L18, L85): a property of the region. */

START_TEST(test_dirty_log_write_marks_page)
{
    GError *err = NULL;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_put(root, 0x10000, tu_ram("ram", 0x4000, 0), 0);
    tu_put(root, 0x40000, tu_alias("win", ram, 0x3000, 0x1000), 0);
    AddressSpace *as = tu_as("as", root);
    const unsigned MIG = MEM_CLIENT_MIGRATION, DISP = MEM_CLIENT_DISPLAY;

    tu_wr(as, 0x10000, 1, 1); /* before logging: forgotten */
    ck_assert(mr_set_dirty_log(ram, MIG, true, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert(!mr_get_dirty(ram, 0, 0x4000, MIG)); /* starts clean */

    tu_wr(as, 0x12005, 1, 0xaa); /* page 2 */
    ck_assert(mr_get_dirty(ram, 0x2000, MEM_DIRTY_PAGE_SIZE, MIG));
    ck_assert(mr_get_dirty(ram, 0x2fff, 1, MIG));
    ck_assert(!mr_get_dirty(ram, 0x0000, 0x2000, MIG));
    ck_assert(!mr_get_dirty(ram, 0x3000, 0x1000, MIG));
    ck_assert(!mr_get_dirty(ram, 0x2000, 0x1000, DISP)); /* not a logging client */

    mr_reset_dirty(ram, 0, 0x4000, MIG);
    ck_assert(!mr_get_dirty(ram, 0, 0x4000, MIG));

    /* a write straddling pages 0 and 1 marks both */
    tu_wr(as, 0x10ffe, 4, 0x01020304);
    ck_assert(mr_get_dirty(ram, 0x0000, 0x1000, MIG));
    ck_assert(mr_get_dirty(ram, 0x1000, 0x1000, MIG));
    ck_assert(!mr_get_dirty(ram, 0x2000, 0x2000, MIG));
    mr_reset_dirty(ram, 0x0000, 0x1000, MIG); /* reset is per range */
    ck_assert(!mr_get_dirty(ram, 0x0000, 0x1000, MIG));
    ck_assert(mr_get_dirty(ram, 0x1000, 0x1000, MIG));

    /* a write through an alias marks the target's page */
    tu_wr(as, 0x40010, 1, 0x55);
    ck_assert(mr_get_dirty(ram, 0x3000, 0x1000, MIG));

    /* a second client starts clean and then sees new writes */
    ck_assert(mr_set_dirty_log(ram, DISP, true, &err));
    ck_assert(!mr_get_dirty(ram, 0, 0x4000, DISP));
    ck_assert(mr_get_dirty(ram, 0x1000, 0x1000, MIG)); /* MIG unaffected */
    uint8_t buf[2] = { 9, 9 };
    ck_assert_int_eq(as_write(as, 0x10000, mem_attrs_cpu(0), buf, 2), MEM_OK);
    ck_assert(mr_get_dirty(ram, 0, 1, DISP));
    ck_assert(mr_get_dirty(ram, 0, 1, MIG));
    mr_reset_dirty(ram, 0, 0x4000, DISP);
    ck_assert(!mr_get_dirty(ram, 0, 0x4000, DISP));
    ck_assert(mr_get_dirty(ram, 0, 1, MIG));

    /* flat ranges carry the mask */
    const FlatRange *fr = flatview_find(as_flatview(as), 0x10000);
    ck_assert_uint_eq(fr->dirty_log_mask, (1u << MIG) | (1u << DISP));
    as_free(as);
    mr_unref(root);
}
END_TEST

/* §5: the logging mask and bitmap survive unmap, remap and move. */
START_TEST(test_dirty_log_survives_remap_and_move)
{
    GError *err = NULL;
    const unsigned MIG = MEM_CLIENT_MIGRATION;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    MemRegion *ram = tu_ram("ram", 0x4000, 0);
    tu_add_keep(root, 0x10000, ram, 0);
    AddressSpace *as = tu_as("as", root);
    ck_assert(mr_set_dirty_log(ram, MIG, true, &err));
    tu_wr(as, 0x11000, 1, 1); /* page 1 */

    tu_del(root, ram);
    ck_assert_uint_eq(mr_dirty_log_mask(ram), 1u << MIG);
    ck_assert(mr_get_dirty(ram, 0x1000, 0x1000, MIG));
    tu_add_keep(root, 0x50000, ram, 0);
    ck_assert_uint_eq(mr_dirty_log_mask(ram), 1u << MIG);
    ck_assert(mr_get_dirty(ram, 0x1000, 0x1000, MIG));
    ck_assert(!mr_get_dirty(ram, 0x3000, 0x1000, MIG));
    ck_assert_uint_eq(flatview_find(as_flatview(as), 0x50000)->dirty_log_mask, 1u << MIG);
    tu_wr(as, 0x53000, 1, 1); /* page 3 through the new mapping */
    ck_assert(mr_get_dirty(ram, 0x3000, 0x1000, MIG));

    mr_set_address(ram, 0x80000);
    ck_assert_uint_eq(mr_dirty_log_mask(ram), 1u << MIG);
    ck_assert(mr_get_dirty(ram, 0x1000, 0x1000, MIG));
    ck_assert(mr_get_dirty(ram, 0x3000, 0x1000, MIG));
    ck_assert_uint_eq(flatview_find(as_flatview(as), 0x80000)->dirty_log_mask, 1u << MIG);
    mr_reset_dirty(ram, 0, 0x4000, MIG);
    tu_wr(as, 0x82000, 1, 1);
    ck_assert(mr_get_dirty(ram, 0x2000, 0x1000, MIG));
    ck_assert(!mr_get_dirty(ram, 0x0000, 0x2000, MIG));

    as_free(as);
    mr_unref(ram);
    mr_unref(root);
}
END_TEST

/* A range that keeps its place but changes its log mask gets log_change,
 * not del/add. */
START_TEST(test_log_change_callback)
{
    GError *err = NULL;
    const unsigned MIG = MEM_CLIENT_MIGRATION, DISP = MEM_CLIENT_DISPLAY;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    MemRegion *ram = tu_put(root, 0, tu_ram("ram", 0x4000, 0), 0);
    tu_put(root, 0x1000, tu_mmio("hole", 0x1000, dev), 1); /* ram is two ranges */
    tu_put(root, 0x10000, tu_ram("other", 0x1000, 0), 0);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    ck_assert(mr_set_dirty_log(ram, MIG, true, &err));
    const Ev on[] = {
        LOGC(0x0000, 0x0fff, ram, 0x0000, 0, 1u << MIG),
        LOGC(0x2000, 0x3fff, ram, 0x2000, 0, 1u << MIG),
    };
    EXPECT_MAYBE_FRAMED(r, on);

    rec_clear(r);
    ck_assert(mr_set_dirty_log(ram, DISP, true, &err));
    const Ev more[] = {
        LOGC(0x0000, 0x0fff, ram, 0x0000, 1u << MIG, (1u << MIG) | (1u << DISP)),
        LOGC(0x2000, 0x3fff, ram, 0x2000, 1u << MIG, (1u << MIG) | (1u << DISP)),
    };
    EXPECT_MAYBE_FRAMED(r, more);

    rec_clear(r);
    ck_assert(mr_set_dirty_log(ram, MIG, false, &err));
    ck_assert(mr_set_dirty_log(ram, DISP, false, &err));
    ck_assert_uint_eq(rec_count(r, EV_ADD), 0);
    ck_assert_uint_eq(rec_count(r, EV_DEL), 0);
    ck_assert_uint_eq(rec_count(r, EV_LOG), 4);
    const Ev *last = &g_array_index(r->ev, Ev, r->ev->len - 1);
    if (last->type == EV_COMMIT) {
        last--;
    }
    ck_assert_int_eq(last->type, EV_LOG);
    ck_assert_uint_eq(last->new_mask, 0);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(root);
    rec_free(r);
    tu_dev_free(dev);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Coalesced MMIO (§5, L1377): reported at absolute addresses wherever the
 * region is mapped, and follows it. */

START_TEST(test_coalesced_ranges_follow_region)
{
    GError *err = NULL;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    MemRegion *m = tu_mmio("nic", 0x1000, dev);
    ck_assert(mr_add_coalescing(m, 0x10, 0x8, &err));
    ck_assert(mr_add_coalescing(m, 0x100, 0x20, &err));
    TU_ASSERT_NO_ERROR(err);
    AddressSpace *as = tu_as("as", root);
    Rec *r = rec_new();
    as_listener_register(as, &r->l);
    rec_clear(r);

    tu_add_keep(root, 0x5000, m, 0);
    const Ev map[] = {
        ADD(0x5000, 0x5fff, m, 0),
        CADD(0x5000, 0x5fff, m, 0, 0x5010, 0x8),
        CADD(0x5000, 0x5fff, m, 0, 0x5100, 0x20),
    };
    EXPECT_COMMIT(r, map);

    rec_clear(r);
    mr_set_address(m, 0x6000);
    const Ev move[] = {
        DEL(0x5000, 0x5fff, m, 0),
        CDEL(0x5000, 0x5fff, m, 0, 0x5010, 0x8),
        CDEL(0x5000, 0x5fff, m, 0, 0x5100, 0x20),
        ADD(0x6000, 0x6fff, m, 0),
        CADD(0x6000, 0x6fff, m, 0, 0x6010, 0x8),
        CADD(0x6000, 0x6fff, m, 0, 0x6100, 0x20),
    };
    EXPECT_COMMIT(r, move);

    rec_clear(r);
    tu_del(root, m);
    const Ev unmap[] = {
        DEL(0x6000, 0x6fff, m, 0),
        CDEL(0x6000, 0x6fff, m, 0, 0x6010, 0x8),
        CDEL(0x6000, 0x6fff, m, 0, 0x6100, 0x20),
    };
    EXPECT_COMMIT(r, unmap);

    /* the ranges survived the unmap (a property of the region) */
    ck_assert_uint_eq(mr_num_coalescing(m), 2);
    rec_clear(r);
    tu_add_keep(root, 0x9000, m, 0);
    ck_assert_uint_eq(rec_count(r, EV_CADD), 2);

    as_listener_unregister(&r->l);
    as_free(as);
    mr_unref(m);
    mr_unref(root);
    rec_free(r);
    tu_dev_free(dev);
}
END_TEST

/* Coalesced writes are still performed immediately by this dispatch. */
START_TEST(test_coalesced_writes_performed)
{
    GError *err = NULL;
    MemRegion *root = tu_container("root", ROOT_SIZE);
    TuDev *dev = tu_dev_simple();
    MemRegion *m = tu_put(root, 0x5000, tu_mmio("nic", 0x1000, dev), 0);
    ck_assert(mr_add_coalescing(m, 0x10, 0x8, &err));
    AddressSpace *as = tu_as("as", root);
    tu_wr(as, 0x5010, 4, 0xfeed);
    ck_assert_uint_eq(tu_dev_nlog(dev), 1);
    TU_EXPECT_ACCESS(dev, 0, true, 0x10, 4, 0xfeed);
    as_free(as);
    mr_unref(root);
    tu_dev_free(dev);
}
END_TEST

static Suite *listeners_suite(void)
{
    Suite *s = suite_create("listeners");
    TCase *tc = tu_tcase(s, "diff");
    tcase_add_test(tc, test_register_replays_current_view);
    tcase_add_test(tc, test_split_and_merge_minimal);
    tcase_add_test(tc, test_attribute_change_replaces_range);
    tcase_add_test(tc, test_noop_commit_is_silent);
    tcase_add_test(tc, test_invisible_changes_report_no_ranges);
    tcase_add_test(tc, test_transaction_one_notification);
    tcase_add_test(tc, test_unregister_stops_callbacks);

    tc = tu_tcase(s, "dirty");
    tcase_add_test(tc, test_dirty_log_write_marks_page);
    tcase_add_test(tc, test_dirty_log_survives_remap_and_move);
    tcase_add_test(tc, test_log_change_callback);

    tc = tu_tcase(s, "coalesced");
    tcase_add_test(tc, test_coalesced_ranges_follow_region);
    tcase_add_test(tc, test_coalesced_writes_performed);
    return s;
}

int main(void)
{
    return tu_run(listeners_suite());
}
