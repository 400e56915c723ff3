/*
 * The mmusim command (mtree, explain, demo, errors) run as a program, and
 * the introspection library (mtree.h) and sample machine in process.
 */
#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

#include "softmmu/mtree.h"
#include "softmmu/sample_machine.h"

#ifndef MMUSIM_BINARY
#error "MMUSIM_BINARY must name the mmusim binary"
#endif

/* --- Running the binary. --- */

typedef struct Run {
    char *out;
    char *err;
    int status;  /* exit status, or -1 if it did not exit normally */
} Run;

/* Run mmusim with the NULL-terminated arguments. */
static Run run_cli(const char *arg, ...)
{
    GPtrArray *argv = g_ptr_array_new();
    GError *error = NULL;
    Run r = { NULL, NULL, -1 };
    int wait_status = 0;
    va_list ap;

    g_ptr_array_add(argv, (char *)MMUSIM_BINARY);
    va_start(ap, arg);
    for (const char *a = arg; a; a = va_arg(ap, const char *)) {
        g_ptr_array_add(argv, (char *)a);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);

    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error);
    ck_assert_msg(ok, "cannot run %s: %s", MMUSIM_BINARY, error ? error->message : "?");
    g_ptr_array_free(argv, TRUE);
    if (WIFEXITED(wait_status)) {
        r.status = WEXITSTATUS(wait_status);
    }
    return r;
}

static void run_clear(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

static guint count_of(const char *text, const char *needle)
{
    guint n = 0;

    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* Is there a line containing both a and b? */
static bool line_with(const char *text, const char *a, const char *b)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (strstr(lines[i], a) && (!b || strstr(lines[i], b))) {
            return true;
        }
    }
    return false;
}

/* Outputs in messages are cut short: Check refuses very long messages. */
#define ASSERT_HAS(text, needle)                                                        \
    ck_assert_msg(strstr((text), (needle)) != NULL, "expected \"%s\" in:\n%.3000s",      \
                  (needle), (text))
#define ASSERT_LINE(text, a, b)                                                         \
    ck_assert_msg(line_with((text), (a), (b)),                                          \
                  "expected a line with \"%s\" and \"%s\" in:\n%.3000s", (a), (b), (text))
#define ASSERT_STATUS(r, want)                                                          \
    ck_assert_msg((r).status == (want),                                                 \
                  "exit status %d, want %d\nstdout:\n%.3000s\nstderr:\n%.1000s", (r).status, \
                  (want), (r).out, (r).err)

START_TEST(test_mtree_tree)
{
    Run r = run_cli("mtree", "--smp", "2", NULL);

    ASSERT_STATUS(r, 0);
    ASSERT_HAS(r.out, "address-space: cpu0");
    ASSERT_HAS(r.out, "cpu0-root");
    ASSERT_HAS(r.out, "cpu1-root");
    ASSERT_HAS(r.out, "apic.cpu1");
    ASSERT_HAS(r.out, "pci.bar1");
    /* Absolute addresses: pci.bar1 at 0xfee00000 inside pci at 0xc0000000. */
    ASSERT_LINE(r.out, "00000000fee00000-00000000fee00fff", "pci.bar1");
    ASSERT_LINE(r.out, "00000000c0000000-00000000ffffffff (prio -1, container)", "pci");
    ASSERT_LINE(r.out, "(prio 1, alias): isa-bios @pc.bios", "00000000000e0000-00000000000fffff");
    /* The global map is printed once, not under every CPU. */
    ck_assert_uint_eq(count_of(r.out, "memory-region: system\n"), 1);
    ck_assert_uint_eq(count_of(r.out, "(prio 0, container): system\n"), 1);
    run_clear(&r);

    r = run_cli("mtree", "--smp", "4", "--cpu", "3", NULL);
    ASSERT_STATUS(r, 0);
    ASSERT_HAS(r.out, "cpu3-root");
    ASSERT_HAS(r.out, "apic.cpu3");
    ck_assert_msg(!strstr(r.out, "cpu0-root"), "only CPU 3 asked for:\n%s", r.out);
    run_clear(&r);
}
END_TEST

START_TEST(test_mtree_flat_sharing)
{
    Run r = run_cli("mtree", "--flat", "--smp", "4", NULL);

    ASSERT_STATUS(r, 0);
    ck_assert_uint_eq(count_of(r.out, "shared view of 'system' (rendered once"), 1);
    ASSERT_HAS(r.out, "used by cpu0, cpu1, cpu2, cpu3");
    for (unsigned i = 0; i < 4; i++) {
        char want[64];

        g_snprintf(want, sizeof(want), "address-space: cpu%u: layered on shared view of 'system'",
                   i);
        ASSERT_HAS(r.out, want);
    }
    /* Shared view: RAM, VGA over it; overlays: each CPU's APIC. */
    ASSERT_LINE(r.out, "0000000000000000-000000000009ffff", "pc.ram");
    ASSERT_LINE(r.out, "00000000000a0000-00000000000bffff", "vga.lowmem");
    ASSERT_LINE(r.out, "00000000fee00000-00000000fee00fff", "apic.cpu3");
    ASSERT_LINE(r.out, "00000000fee00000-00000000fee00fff", "pci.bar1");
    run_clear(&r);
}
END_TEST

START_TEST(test_explain_apic_hides_bar)
{
    Run r = run_cli("explain", "--smp", "4", "--cpu", "2", "0xfee00000", NULL);

    ASSERT_STATUS(r, 0);
    ASSERT_LINE(r.out, "serves 0xfee00000", "apic.cpu2");
    ASSERT_HAS(r.out, "tree walk agrees with the dispatch");
    const char *hidden = strstr(r.out, "hidden here");
    ck_assert_msg(hidden, "no hidden section:\n%s", r.out);
    ASSERT_HAS(hidden, "pci.bar1");
    ASSERT_LINE(hidden, "hidden by apic.cpu2 (prio 2)", "cpu2-root");
    run_clear(&r);

    /* Decimal works too; DMA sees the BAR. */
    r = run_cli("explain", "--dma", "4276092928", NULL);
    ASSERT_STATUS(r, 0);
    ASSERT_LINE(r.out, "serves 0xfee00000", "pci.bar1");
    ck_assert_msg(!strstr(r.out, "apic.cpu"), "DMA must not see an APIC:\n%s", r.out);
    run_clear(&r);
}
END_TEST

START_TEST(test_demo)
{
    Run r = run_cli("demo", NULL);

    ASSERT_STATUS(r, 0);
    const char *mismatch = strstr(r.out, "MISMATCH");
    ck_assert_msg(!mismatch, "%.3000s", mismatch);
    /* CPU 2's APIC moved, in its state and in its overlay. */
    ASSERT_LINE(r.out, "cpu2: APIC base 0xfed00000", "");
    ASSERT_LINE(r.out, "00000000fed00000-00000000fed00fff", "apic.cpu2");
    /* CPU 1 in SMM reads SMRAM, the others VGA. */
    ASSERT_LINE(r.out, "  cpu1  0xa0000: \"SMRAM", "from pc.ram");
    ASSERT_LINE(r.out, "  cpu0  0xa0000: \"VGAVGA", "from vga.lowmem");
    ASSERT_LINE(r.out, "  dma   0xa0000: \"VGAVGA", "from vga.lowmem");
    /* The APIC ID register, per CPU. */
    ASSERT_LINE(r.out, "  cpu0  read32 0xfee00020 = 0x00000000 (", "from apic.cpu0");
    ASSERT_LINE(r.out, "  cpu3  read32 0xfee00020 = 0x03000000 (", "from apic.cpu3");
    ASSERT_LINE(r.out, "  cpu2  read32 0xfed00020 = 0x02000000 (", "from apic.cpu2");
    /* CPU 2 and DMA see the BAR at the old APIC address. */
    ASSERT_LINE(r.out, "  cpu2  read32 0xfee00020 = 0xba010020 (", "from pci.bar1");
    ASSERT_LINE(r.out, "  dma   read32 0xfee00020 = 0xba010020 (", "from pci.bar1");
    run_clear(&r);
}
END_TEST

START_TEST(test_bad_inputs)
{
    static const struct {
        const char *args[8];
        const char *msg;
    } cases[] = {
        { { "explain", "--cpu", "9", "--smp", "4", "0xfee00000" }, "--cpu 9: out of range" },
        { { "explain", "--cpu", "0", "zz" }, "ADDR 'zz'" },
        { { "explain", "--cpu", "0", "0x" }, "ADDR '0x'" },
        { { "explain", "--cpu", "0", "0x10000000000000000" }, "does not fit in 64 bits" },
        { { "explain", "--cpu", "x1", "0" }, "--cpu 'x1'" },
        { { "explain", "0xfee00000" }, "--cpu N is required" },
        { { "explain", "--cpu", "0" }, "missing ADDR" },
        { { "mtree", "--smp", "0" }, "--smp 0: must be between 1 and 256" },
        { { "mtree", "--smp", "257" }, "--smp 257: must be between 1 and 256" },
        { { "mtree", "--smp", "many" }, "--smp 'many'" },
        { { "mtree", "--machine", "pdp11" }, "--machine 'pdp11': unknown machine" },
        { { "mtree", "--bogus" }, "--bogus" },
        { { "mtree", "stray" }, "unexpected argument 'stray'" },
        { { "frobnicate" }, "unknown subcommand 'frobnicate'" },
#ifdef MMUSIM_HAVE_PC
        { { "run", "--jit", "fast" }, "--jit 'fast': must be on, off or eager" },
#endif
#ifdef MMUSIM_HAVE_VIRT
        { { "run", "--machine", "virt", "--jit", "on" }, "--jit is an option of the pc machine" },
#endif
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *const *a = cases[i].args;
        Run r = run_cli(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], NULL);

        ck_assert_msg(r.status == 2, "case %zu (%s %s ...): exit status %d, want 2\n%s", i, a[0],
                      a[1] ? a[1] : "", r.status, r.err);
        ck_assert_msg(strstr(r.err, cases[i].msg), "case %zu: expected \"%s\" in stderr:\n%s", i,
                      cases[i].msg, r.err);
        run_clear(&r);
    }
}
END_TEST

START_TEST(test_help)
{
    static const char *forms[] = { "--help", "help" };

    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        Run r = run_cli(forms[i], NULL);

        ASSERT_STATUS(r, 0);
        ASSERT_LINE(r.out, "mtree", "");
        ASSERT_LINE(r.out, "explain", "");
        ASSERT_LINE(r.out, "demo", "");
        run_clear(&r);
    }
    Run r = run_cli("help", "explain", NULL);
    ASSERT_STATUS(r, 0);
    ASSERT_HAS(r.out, "--cpu");
    run_clear(&r);

    r = run_cli(NULL);
    ASSERT_STATUS(r, 2);
    run_clear(&r);
}
END_TEST

/* --- In process. --- */

static void quiet_report(const char *message, void *opaque)
{
    (void)message;
    (*(unsigned *)opaque)++;
}


static const uint64_t interesting[] = {
    0x0, 0x9ffff, 0xa0000, 0xa0005, 0xbffff, 0xc0000, 0xdffff, 0xe0000, 0xfffff, 0x100000,
    0x7ffffff, 0x8000000, 0xbfffffff, 0xc0000000, 0xfebf0000, 0xfebf0fff, 0xfebf1000,
    0xfec00000, 0xfed00000, 0xfed00020, 0xfedfffff, 0xfee00000, 0xfee00020, 0xfee00fff,
    0xfee01000, 0xfffdffff, 0xfffe0000, 0xfffffff0, 0xffffffff, 0x100000000,
    0xfffffffffffff7ff, 0xfffffffffffff800, 0xfffffffffffffff0, UINT64_MAX,
};

/* Walk and dispatch agree for `as` at every interesting address and at both
 * ends of every flat range; mem_explain() says so too. */
static void check_space_agrees(AddressSpace *as)
{
    Dispatch *d = as_dispatch(as);
    GString *out = g_string_new(NULL);

    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < G_N_ELEMENTS(interesting); i++) {
        uint64_t addr = interesting[i];
        uint64_t woff = 0;
        MemRegion *w = mtree_resolve(as_root(as), addr, &woff);
        const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, NULL));

        ck_assert_ptr_nonnull(s);
        ck_assert_msg(w == s->mr, "%s @0x%" PRIx64 ": tree walk %s, dispatch %s", as_name(as),
                      addr, w ? mr_name(w) : "unassigned", s->mr ? mr_name(s->mr) : "unassigned");
        if (w) {
            ck_assert_msg(woff == s->offset_in_region + (addr - s->start),
                          "%s @0x%" PRIx64 ": offsets differ", as_name(as), addr);
        }
        g_string_truncate(out, 0);
        ck_assert_msg(mem_explain(out, as, addr), "%.3000s", out->str);
    }

    FlatView *fv = as_flatview(as);
    for (guint i = 0; i < flatview_num_ranges(fv); i++) {
        const FlatRange *r = flatview_range(fv, i);
        uint64_t ends[2] = { r->start, r->last };

        for (int e = 0; e < 2; e++) {
            uint64_t off = 0;
            MemRegion *w = mtree_resolve(as_root(as), ends[e], &off);

            ck_assert_msg(w == r->mr && off == r->offset_in_region + (ends[e] - r->start),
                          "%s: flat range %016" PRIx64 "-%016" PRIx64 " %s, tree walk %s",
                          as_name(as), r->start, r->last, mr_name(r->mr),
                          w ? mr_name(w) : "unassigned");
        }
    }
    g_string_free(out, TRUE);
}

static const char *winner_name(AddressSpace *as, uint64_t addr, uint64_t *off)
{
    MemRegion *w = mtree_resolve(as_root(as), addr, off);

    return w ? mr_name(w) : "unassigned";
}

START_TEST(test_walk_matches_dispatch)
{
    GError *err = NULL;
    SampleMachine *sm = sample_machine_new(4, &err);
    uint64_t off;

    ck_assert_msg(sm, "%s", err ? err->message : "?");
    AddressSpace *cpu[4];
    for (unsigned i = 0; i < 4; i++) {
        cpu[i] = cpu_view_as(sample_machine_cpu(sm, i));
    }
    AddressSpace *dma = sample_machine_dma(sm);

    /* Untouched machine. */
    for (unsigned i = 0; i < 4; i++) {
        check_space_agrees(cpu[i]);
    }
    check_space_agrees(dma);

    /* The demo's changes, plus one APIC off. */
    mem_transaction_begin();
    cpu_view_set_apic_base(sample_machine_cpu(sm, 2), 0xfed00000);
    cpu_view_set_smram_visible(sample_machine_cpu(sm, 1), true);
    mem_transaction_commit();
    cpu_view_set_apic_enabled(sample_machine_cpu(sm, 3), false);
    for (unsigned i = 0; i < 4; i++) {
        check_space_agrees(cpu[i]);
    }
    check_space_agrees(dma);

    /* And the walk gives the answers the machine is built to give. */
    ck_assert_str_eq(winner_name(cpu[0], 0xfee00000, &off), "apic.cpu0");
    ck_assert_str_eq(winner_name(cpu[2], 0xfee00000, &off), "pci.bar1");
    ck_assert_str_eq(winner_name(cpu[2], 0xfed00000, &off), "apic.cpu2");
    ck_assert_str_eq(winner_name(cpu[3], 0xfee00000, &off), "pci.bar1");
    ck_assert_str_eq(winner_name(dma, 0xfee00000, &off), "pci.bar1");
    ck_assert_str_eq(winner_name(cpu[0], 0xa0000, &off), "vga.lowmem");
    ck_assert_uint_eq(off, 0);
    ck_assert_str_eq(winner_name(cpu[1], 0xa0005, &off), "pc.ram");
    ck_assert_uint_eq(off, 0xa0005);
    ck_assert_str_eq(winner_name(dma, 0xa0000, &off), "vga.lowmem");
    ck_assert_str_eq(winner_name(cpu[0], 0xe0010, &off), "pc.bios");
    ck_assert_uint_eq(off, 0x10);
    ck_assert_str_eq(winner_name(cpu[0], 0xfffe0010, &off), "pc.bios");
    ck_assert_uint_eq(off, 0x10);
    ck_assert_str_eq(winner_name(cpu[0], 0x8000000, &off), "unassigned");

    sample_machine_free(sm);
}
END_TEST

static const char *walk_name(MemRegion *root, uint64_t addr, uint64_t *off)
{
    MemRegion *w = mtree_resolve(root, addr, off);

    return w ? mr_name(w) : "(nothing)";
}

static MemRegion *find_region(MemRegion *mr, const char *name)
{
    if (!strcmp(mr_name(mr), name)) {
        return mr;
    }
    for (guint i = 0; i < mr_num_children(mr); i++) {
        MemRegion *found = find_region(mr_child(mr, i), name);

        if (found) {
            return found;
        }
    }
    return NULL;
}

static void check_machine_agrees(SampleMachine *sm)
{
    for (unsigned i = 0; i < sample_machine_smp(sm); i++) {
        check_space_agrees(cpu_view_as(sample_machine_cpu(sm, i)));
    }
    check_space_agrees(sample_machine_dma(sm));
}

/* Per-CPU and global changes after the views exist: the walk still agrees
 * with every CPU's (layered) dispatch, and answers what the change means. */
START_TEST(test_walk_after_mutations)
{
    unsigned reports = 0;
    SampleMachine *sm = sample_machine_new(4, NULL);
    MemRegion *system = sample_machine_system(sm);
    MemRegion *vga = find_region(system, "vga.lowmem");
    MemRegion *bar1 = find_region(system, "pci.bar1");
    AddressSpace *cpu0 = cpu_view_as(sample_machine_cpu(sm, 0));
    AddressSpace *cpu2 = cpu_view_as(sample_machine_cpu(sm, 2));
    AddressSpace *cpu3 = cpu_view_as(sample_machine_cpu(sm, 3));
    AddressSpace *dma = sample_machine_dma(sm);
    uint64_t off;

    ck_assert_ptr_nonnull(vga);
    ck_assert_ptr_nonnull(bar1);
    mem_set_report_handler(quiet_report, &reports);

    /* An APIC page hanging off the top of the space, one over SMRAM. */
    cpu_view_set_apic_base(sample_machine_cpu(sm, 0), UINT64_MAX - 0x7ff);
    cpu_view_set_smram_visible(sample_machine_cpu(sm, 3), true);
    cpu_view_set_apic_base(sample_machine_cpu(sm, 3), 0xa0000);
    cpu_view_set_apic_base(sample_machine_cpu(sm, 2), 0xfed00000);
    check_machine_agrees(sm);
    ck_assert_str_eq(walk_name(as_root(cpu3), 0xa0000, NULL), "apic.cpu3");
    ck_assert_str_eq(walk_name(as_root(cpu3), 0xa1000, NULL), "pc.ram");

    /* Global changes: VGA off, BAR 1 moved under CPU 2's relocated APIC. */
    mem_transaction_begin();
    mr_set_enabled(vga, false);
    mr_set_address(bar1, 0xfed00000 - SAMPLE_PCI_BASE);
    mem_transaction_commit();
    check_machine_agrees(sm);
    ck_assert_str_eq(walk_name(as_root(cpu0), 0xa0000, &off), "pc.ram");
    ck_assert_uint_eq(off, 0xa0000);
    ck_assert_str_eq(walk_name(as_root(cpu2), 0xfed00000, NULL), "apic.cpu2");
    ck_assert_str_eq(walk_name(as_root(dma), 0xfed00000, NULL), "pci.bar1");
    ck_assert_str_eq(walk_name(as_root(cpu2), 0xfee00000, NULL), "(nothing)");

    /* And back. */
    mr_set_enabled(vga, true);
    mr_set_address(bar1, SAMPLE_BAR1_BASE - SAMPLE_PCI_BASE);
    check_machine_agrees(sm);
    ck_assert_str_eq(walk_name(as_root(cpu0), 0xa0000, NULL), "vga.lowmem");
    ck_assert_str_eq(walk_name(as_root(dma), 0xfee00000, NULL), "pci.bar1");

    mem_set_report_handler(NULL, NULL);
    sample_machine_free(sm);
}
END_TEST

/* Gleb's example (memory-semantics.md §2), walked and rendered. */
START_TEST(test_walk_gleb)
{
    for (int swap = 0; swap < 2; swap++) {
        MemRegion *root = mr_new_container("root", MEM_SIZE_FULL, NULL);
        MemRegion *pci = mr_new_container("pci", 0x30000, NULL);
        MemRegion *ram = mr_new_ram("ram", 0x20000, NULL);
        MemRegion *bar_a = mr_new_ram("bar-a", 0x1000, NULL);
        MemRegion *bar_b = mr_new_ram("bar-b", 0x1000, NULL);

        ck_assert(mr_add_subregion(pci, 0x1000, bar_a, NULL));
        ck_assert(mr_add_subregion(pci, 0x20000, bar_b, NULL));
        ck_assert(mr_add_subregion_overlap(root, 0, pci, swap ? 0 : 1, NULL));
        ck_assert(mr_add_subregion_overlap(root, 0, ram, swap ? 1 : 0, NULL));

        ck_assert_str_eq(walk_name(root, 0x0, NULL), "ram");
        ck_assert_str_eq(walk_name(root, 0x1000, NULL), swap ? "ram" : "bar-a");
        ck_assert_str_eq(walk_name(root, 0x20000, NULL), "bar-b");
        ck_assert_ptr_null(mtree_resolve(root, 0x30000, NULL));

        FlatView *fv = flatview_render(root);
        static const uint64_t addrs[] = { 0, 0xfff, 0x1000, 0x1fff, 0x2000, 0x1ffff, 0x20000,
                                          0x20fff, 0x21000, 0x2ffff, 0x30000 };
        for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++) {
            const FlatRange *r = flatview_find(fv, addrs[i]);
            uint64_t off = 0;
            MemRegion *w = mtree_resolve(root, addrs[i], &off);

            ck_assert_ptr_eq(w, r ? r->mr : NULL);
            if (r) {
                ck_assert_uint_eq(off, r->offset_in_region + (addrs[i] - r->start));
            }
        }
        flatview_unref(fv);

        mr_set_enabled(bar_a, false);
        ck_assert_str_eq(walk_name(root, 0x1000, NULL), "ram");

        mr_unref(bar_a);
        mr_unref(bar_b);
        mr_unref(ram);
        mr_unref(pci);
        mr_unref(root);
    }
}
END_TEST

static void check_walk_at(MemRegion *root, const FlatView *fv, Dispatch *d, uint64_t addr)
{
    uint64_t off = 0;
    MemRegion *w = mtree_resolve(root, addr, &off);
    const FlatRange *r = flatview_find(fv, addr);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, NULL));

    ck_assert_msg(w == (r ? r->mr : NULL), "0x%" PRIx64 ": tree walk %s, rendering %s", addr,
                  w ? mr_name(w) : "-", r ? mr_name(r->mr) : "-");
    ck_assert_msg(s && s->mr == w, "0x%" PRIx64 ": tree walk %s, dispatch %s", addr,
                  w ? mr_name(w) : "-", s && s->mr ? mr_name(s->mr) : "-");
    if (w) {
        ck_assert_uint_eq(off, r->offset_in_region + (addr - r->start));
    }
}

/* Clipping, aliases of aliases, windows past their target, equal priority,
 * holes, disabled containers, the top of the address space: the tree walk
 * and the core's rendering and dispatch agree everywhere. */
START_TEST(test_walk_odd_tree)
{
    unsigned reports = 0;
    mem_set_report_handler(quiet_report, &reports);

    MemRegion *root = mr_new_container("root", MEM_SIZE_FULL, NULL);
    MemRegion *c1 = mr_new_container("c1", 0x1000, NULL);
    MemRegion *r1 = mr_new_ram("r1-clipped", 0x200, NULL);
    MemRegion *r2 = mr_new_ram("r2-older", 0x100, NULL);
    MemRegion *r3 = mr_new_ram("r3-newer", 0x100, NULL);
    MemRegion *r6 = mr_new_ram("r6-outside", 0x100, NULL);
    MemRegion *c2 = mr_new_container("c2-holey", 0x2000, NULL);
    MemRegion *r4 = mr_new_ram("r4", 0x100, NULL);
    MemRegion *c3 = mr_new_container("c3-disabled", 0x1000, NULL);
    MemRegion *r5 = mr_new_ram("r5", 0x1000, NULL);
    MemRegion *t = mr_new_ram("t", 0x1000, NULL);
    MemRegion *a1 = mr_new_alias("a1", t, 0xc00, 0x800, NULL);
    MemRegion *a2 = mr_new_alias("a2", a1, 0x100, 0x600, NULL);
    MemRegion *c4 = mr_new_container("c4-top", 0x10000, NULL);
    MemRegion *r7 = mr_new_ram("r7-top", 0x1000, NULL);

    ck_assert(mr_add_subregion(c1, 0xf00, r1, NULL));
    ck_assert(mr_add_subregion(c1, 0x100, r2, NULL));
    ck_assert(mr_add_subregion(c1, 0x180, r3, NULL));
    ck_assert(mr_add_subregion(c1, 0x2000, r6, NULL));
    ck_assert(mr_add_subregion(root, 0x10000, c1, NULL));
    ck_assert(mr_add_subregion(c2, 0x100, r4, NULL));
    ck_assert(mr_add_subregion_overlap(root, 0x10800, c2, 1, NULL));
    ck_assert(mr_add_subregion(c3, 0, r5, NULL));
    ck_assert(mr_add_subregion_overlap(root, 0x10000, c3, 5, NULL));
    mr_set_enabled(c3, false);
    ck_assert(mr_add_subregion(root, 0x20000, a1, NULL));
    ck_assert(mr_add_subregion(root, 0x30000, a2, NULL));
    ck_assert(mr_add_subregion(c4, 0x7000, r7, NULL));
    ck_assert(mr_add_subregion(root, UINT64_MAX - 0x7fff, c4, NULL));

    AddressSpace *as = as_new("odd", root, NULL);
    ck_assert_ptr_nonnull(as);
    FlatView *fv = flatview_render(root);
    Dispatch *d = as_dispatch(as);
    ck_assert(flatview_equal(fv, as_flatview(as)));

    static const uint64_t windows[] = { 0x10000, 0x12000, 0x20000, 0x20800, 0x30000, 0x30800 };
    for (size_t i = 0; i < G_N_ELEMENTS(windows); i += 2) {
        for (uint64_t a = windows[i]; a < windows[i + 1]; a += 0x40) {
            check_walk_at(root, fv, d, a);
            check_walk_at(root, fv, d, a + 0x3f);
        }
    }
    for (uint64_t a = (uint64_t)0 - 0x10000; a != 0; a += 0x400) {
        check_walk_at(root, fv, d, a);
        check_walk_at(root, fv, d, a + 0x3ff);
    }
    /* Spot checks of the walk's own answers. */
    uint64_t off;
    ck_assert_str_eq(walk_name(root, 0x10180, NULL), "r3-newer");
    ck_assert_str_eq(walk_name(root, 0x10900, NULL), "r4");
    ck_assert_ptr_null(mtree_resolve(root, 0x10a00, NULL));  /* hole in c2 and in c1 */
    ck_assert_str_eq(walk_name(root, 0x10f00, NULL), "r1-clipped");  /* hole in c2: c1 shows */
    ck_assert_ptr_null(mtree_resolve(root, 0x11000, NULL));  /* c1 clips r1 */
    ck_assert_str_eq(walk_name(root, 0x20010, &off), "t");
    ck_assert_uint_eq(off, 0xc10);
    ck_assert_ptr_null(mtree_resolve(root, 0x20400, NULL));  /* a1's window past t */
    ck_assert_str_eq(walk_name(root, 0x30010, &off), "t");
    ck_assert_uint_eq(off, 0xd10);
    ck_assert_ptr_null(mtree_resolve(root, 0x30300, NULL));
    ck_assert_str_eq(walk_name(root, UINT64_MAX, &off), "r7-top");
    ck_assert_uint_eq(off, 0xfff);

    GString *out = g_string_new(NULL);
    ck_assert_msg(mem_explain(out, as, 0x10180), "%.3000s", out->str);
    ck_assert_msg(strstr(out->str, "r2-older") && strstr(out->str, "equal priority"), "%s",
                  out->str);
    ck_assert_msg(strstr(out->str, "c3-disabled"), "%.3000s", out->str);
    g_string_truncate(out, 0);
    mtree_print(out, as);
    ck_assert_msg(strstr(out->str, "r6-outside [outside parent]"), "%.3000s", out->str);
    ck_assert_msg(strstr(out->str, "memory-region: a1\n") && strstr(out->str, "memory-region: t\n"),
                  "%.3000s", out->str);
    g_string_free(out, TRUE);

    flatview_unref(fv);
    as_free(as);
    MemRegion *all[] = { r7, c4, a2, a1, t, r5, c3, r4, c2, r6, r3, r2, r1, c1, root };
    for (size_t i = 0; i < G_N_ELEMENTS(all); i++) {
        mr_unref(all[i]);
    }
    mem_set_report_handler(NULL, NULL);
}
END_TEST

static void count_report(const char *message, void *opaque)
{
    if (strstr(message, "not modelled")) {
        (*(unsigned *)opaque)++;
    }
}

START_TEST(test_sample_apic)
{
    unsigned reports = 0;
    SampleMachine *sm = sample_machine_new(2, NULL);
    AddressSpace *as = cpu_view_as(sample_machine_cpu(sm, 1));
    uint64_t v = 0;

    mem_set_report_handler(count_report, &reports);
    ck_assert_int_eq(as_read_val(as, 0xfee00020, mem_attrs_cpu(1), 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_OK);
    ck_assert_uint_eq(v, 0x01000000);
    ck_assert_int_eq(as_read_val(as, 0xfee00030, mem_attrs_cpu(1), 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_OK);
    ck_assert_uint_eq(v, 0x00050014);
    ck_assert_uint_eq(reports, 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(as_read_val(as, 0xfee00080, mem_attrs_cpu(1), 4, MEM_LITTLE_ENDIAN, &v),
                         MEM_DEVICE_ERROR);
        ck_assert_int_eq(as_write_val(as, 0xfee00080, mem_attrs_cpu(1), 4, MEM_LITTLE_ENDIAN, 1),
                         MEM_DEVICE_ERROR);
    }
    ck_assert_uint_eq(reports, 2);  /* once for the read, once for the write */
    mem_set_report_handler(NULL, NULL);
    sample_machine_free(sm);

    GError *err = NULL;
    ck_assert_ptr_null(sample_machine_new(0, &err));
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
    ck_assert_ptr_null(sample_machine_new(257, &err));
    ck_assert_ptr_nonnull(err);
    g_clear_error(&err);
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("binary");

    tcase_add_test(tc, test_mtree_tree);
    tcase_add_test(tc, test_mtree_flat_sharing);
    tcase_add_test(tc, test_explain_apic_hides_bar);
    tcase_add_test(tc, test_demo);
    tcase_add_test(tc, test_bad_inputs);
    tcase_add_test(tc, test_help);
    suite_add_tcase(s, tc);

    tc = tcase_create("in-process");
    tcase_add_test(tc, test_walk_matches_dispatch);
    tcase_add_test(tc, test_walk_gleb);
    tcase_add_test(tc, test_walk_odd_tree);
    tcase_add_test(tc, test_walk_after_mutations);
    tcase_add_test(tc, test_sample_apic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cli_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
