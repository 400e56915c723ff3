/*
 * mmusim: the command-line front end.
 *
 *   mmusim mtree   [--machine NAME] [--smp N] [--flat] [--cpu N]
 *   mmusim explain [--machine NAME] [--smp N] (--cpu N | --dma) ADDR
 *   mmusim demo
 *   mmusim tlb     [--machine NAME] [--smp N] [--entries]
 *   mmusim help [SUBCOMMAND]
 *
 * Subcommands live in one table (subcommands[] below); each parses its own
 * options with a GOptionContext. Exit status: 0 success, 1 failure at run
 * time (e.g. an explanation that disagrees with the dispatch), 2 usage error
 * (unknown subcommand or option, malformed or out-of-range value).
 */
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softmmu/mtree.h"
#include "softmmu/sample_machine.h"
#include "tlb/tlb.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DEFAULT_SMP 2u

typedef struct Subcommand Subcommand;
struct Subcommand {
    const char *name;
    const char *params;   /* positional parameters, for the usage line */
    const char *summary;
    int (*run)(const Subcommand *cmd, int argc, char **argv);
};

static const Subcommand *find_subcommand(const char *name);

/* --- Machines. --- */

typedef struct MachineType {
    const char *name;
    const char *summary;
    SampleMachine *(*create)(unsigned smp, GError **err);
} MachineType;

static const MachineType machine_types[] = {
    { "sample", "x86-PC-like sample machine (introspection only)", sample_machine_new },
};

static const MachineType *find_machine(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(machine_types); i++) {
        if (!strcmp(machine_types[i].name, name)) {
            return &machine_types[i];
        }
    }
    return NULL;
}

/* --- Errors and numbers. --- */

static int G_GNUC_PRINTF(2, 3) usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", prog, msg);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return EXIT_USAGE;
}

/*
 * A number: hexadecimal with a 0x prefix, else decimal. On failure returns
 * false and says why.
 */
static bool parse_number(const char *s, uint64_t *out, const char **why)
{
    const char *digits = s;
    guint base = 10;
    GError *err = NULL;

    if (!s || !*s) {
        *why = "empty";
        return false;
    }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        digits = s + 2;
    }
    if (!*digits) {
        *why = "no digits after 0x";
        return false;
    }
    for (const char *p = digits; *p; p++) {
        if (base == 16 ? !g_ascii_isxdigit(*p) : !g_ascii_isdigit(*p)) {
            *why = "not a hex (0x...) or decimal number";
            return false;
        }
    }
    if (!g_ascii_string_to_unsigned(digits, base, 0, G_MAXUINT64, out, &err)) {
        g_error_free(err);
        *why = "does not fit in 64 bits";
        return false;
    }
    return true;
}

/* --- Option parsing shared by the subcommands. --- */

typedef struct MachineOpts {
    char *machine;
    char *smp;
} MachineOpts;

#define MACHINE_OPTION_ENTRIES(mo)                                                          \
    { "machine", 'M', 0, G_OPTION_ARG_STRING, &(mo)->machine,                               \
      "Machine to build (default: sample)", "NAME" },                                       \
    { "smp", 0, 0, G_OPTION_ARG_STRING, &(mo)->smp, "Number of CPUs, 1-256 (default 2)", "N" }

static void machine_opts_clear(MachineOpts *mo)
{
    g_free(mo->machine);
    g_free(mo->smp);
}

static char *subcommand_prog(const Subcommand *cmd)
{
    return g_strdup_printf("mmusim %s", cmd->name);
}

/*
 * Parse argv (argv[0] is the subcommand's name) with `entries`. Leaves the
 * positional arguments in argv[1..*argc-1]. Returns -1 to go on, else the
 * exit status (GOption itself exits 0 after --help).
 */
static int parse_options(const Subcommand *cmd, const GOptionEntry *entries, int *argc,
                         char ***argv)
{
    g_autofree char *prog = subcommand_prog(cmd);
    GOptionContext *ctx = g_option_context_new(cmd->params);
    GError *err = NULL;
    int rc = -1;

    g_set_prgname(prog);
    g_option_context_set_summary(ctx, cmd->summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        rc = usage_error(prog, "%s", err->message);
        g_error_free(err);
    }
    g_option_context_free(ctx);
    return rc;
}

/* Positional arguments after option parsing, without a "--" separator. */
static GPtrArray *positionals(int argc, char **argv)
{
    GPtrArray *pos = g_ptr_array_new();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") != 0) {
            g_ptr_array_add(pos, argv[i]);
        }
    }
    return pos;
}

static int build_machine(const char *prog, const MachineOpts *mo, SampleMachine **out)
{
    const char *name = mo->machine ? mo->machine : "sample";
    const MachineType *mt = find_machine(name);
    unsigned smp = DEFAULT_SMP;
    GError *err = NULL;

    *out = NULL;
    if (!mt) {
        GString *known = g_string_new(NULL);

        for (size_t i = 0; i < G_N_ELEMENTS(machine_types); i++) {
            g_string_append_printf(known, "%s%s", i ? ", " : "", machine_types[i].name);
        }
        int rc = usage_error(prog, "--machine '%s': unknown machine (known: %s)", name,
                             known->str);
        g_string_free(known, TRUE);
        return rc;
    }
    if (mo->smp) {
        uint64_t v;
        const char *why;

        if (!parse_number(mo->smp, &v, &why)) {
            return usage_error(prog, "--smp '%s': %s", mo->smp, why);
        }
        if (v < 1 || v > SAMPLE_MACHINE_MAX_SMP) {
            return usage_error(prog, "--smp %s: must be between 1 and %u", mo->smp,
                               SAMPLE_MACHINE_MAX_SMP);
        }
        smp = (unsigned)v;
    }
    *out = mt->create(smp, &err);
    if (!*out) {
        fprintf(stderr, "%s: cannot build machine '%s': %s\n", prog, name, err->message);
        g_error_free(err);
        return EXIT_FAIL;
    }
    return -1;
}

/* --cpu N against a machine: -1 to go on, else the exit status. */
static int parse_cpu(const char *prog, const char *str, const SampleMachine *sm, unsigned *cpu)
{
    uint64_t v;
    const char *why;
    unsigned smp = sample_machine_smp(sm);

    if (!parse_number(str, &v, &why)) {
        return usage_error(prog, "--cpu '%s': %s", str, why);
    }
    if (v >= smp) {
        return usage_error(prog, "--cpu %s: out of range: the machine has %u CPU%s (0..%u)", str,
                           smp, smp == 1 ? "" : "s", smp - 1);
    }
    *cpu = (unsigned)v;
    return -1;
}

/* Every CPU's address space, then DMA's. */
static GPtrArray *all_spaces(const SampleMachine *sm)
{
    GPtrArray *spaces = g_ptr_array_new();

    for (unsigned i = 0; i < sample_machine_smp(sm); i++) {
        g_ptr_array_add(spaces, cpu_view_as(sample_machine_cpu(sm, i)));
    }
    g_ptr_array_add(spaces, sample_machine_dma(sm));
    return spaces;
}

static void emit(GString *out)
{
    fwrite(out->str, 1, out->len, stdout);
    fflush(stdout);
    g_string_truncate(out, 0);
}

/* --- mtree. --- */

static int cmd_mtree(const Subcommand *cmd, int argc, char **argv)
{
    g_autofree char *prog = subcommand_prog(cmd);
    MachineOpts mo = { 0 };
    char *cpu_str = NULL;
    gboolean flat = FALSE;
    SampleMachine *sm = NULL;
    GPtrArray *pos = NULL;
    GPtrArray *spaces = NULL;
    int rc;
    const GOptionEntry entries[] = {
        MACHINE_OPTION_ENTRIES(&mo),
        { "flat", 'f', 0, G_OPTION_ARG_NONE, &flat,
          "Print flat views (the shared global view once, then each space's overlays)", NULL },
        { "cpu", 'c', 0, G_OPTION_ARG_STRING, &cpu_str,
          "Only this CPU's address space (default: every CPU, then DMA)", "N" },
        G_OPTION_ENTRY_NULL
    };

    rc = parse_options(cmd, entries, &argc, &argv);
    if (rc >= 0) {
        goto out;
    }
    pos = positionals(argc, argv);
    if (pos->len) {
        rc = usage_error(prog, "unexpected argument '%s'", (char *)g_ptr_array_index(pos, 0));
        goto out;
    }
    rc = build_machine(prog, &mo, &sm);
    if (rc >= 0) {
        goto out;
    }
    if (cpu_str) {
        unsigned cpu;

        rc = parse_cpu(prog, cpu_str, sm, &cpu);
        if (rc >= 0) {
            goto out;
        }
        spaces = g_ptr_array_new();
        g_ptr_array_add(spaces, cpu_view_as(sample_machine_cpu(sm, cpu)));
    } else {
        spaces = all_spaces(sm);
    }

    GString *out = g_string_new(NULL);
    if (flat) {
        mtree_print_flat(out, (AddressSpace **)spaces->pdata, spaces->len);
    } else {
        mtree_print_spaces(out, (AddressSpace **)spaces->pdata, spaces->len);
    }
    emit(out);
    g_string_free(out, TRUE);
    rc = EXIT_OK;

out:
    if (spaces) {
        g_ptr_array_free(spaces, TRUE);
    }
    if (pos) {
        g_ptr_array_free(pos, TRUE);
    }
    sample_machine_free(sm);
    machine_opts_clear(&mo);
    g_free(cpu_str);
    return rc;
}

/* --- explain. --- */

static int cmd_explain(const Subcommand *cmd, int argc, char **argv)
{
    g_autofree char *prog = subcommand_prog(cmd);
    MachineOpts mo = { 0 };
    char *cpu_str = NULL;
    gboolean dma = FALSE;
    SampleMachine *sm = NULL;
    GPtrArray *pos = NULL;
    uint64_t addr = 0;
    AddressSpace *as;
    int rc;
    const GOptionEntry entries[] = {
        MACHINE_OPTION_ENTRIES(&mo),
        { "cpu", 'c', 0, G_OPTION_ARG_STRING, &cpu_str, "Explain for this CPU's address space",
          "N" },
        { "dma", 0, 0, G_OPTION_ARG_NONE, &dma,
          "Explain for device (DMA) accesses instead of a CPU", NULL },
        G_OPTION_ENTRY_NULL
    };

    rc = parse_options(cmd, entries, &argc, &argv);
    if (rc >= 0) {
        goto out;
    }
    pos = positionals(argc, argv);
    if (pos->len == 0) {
        rc = usage_error(prog, "missing ADDR (hex like 0xfee00000, or decimal)");
        goto out;
    }
    if (pos->len > 1) {
        rc = usage_error(prog, "unexpected argument '%s' (one ADDR only)",
                         (char *)g_ptr_array_index(pos, 1));
        goto out;
    }
    {
        const char *why;
        const char *addr_str = g_ptr_array_index(pos, 0);

        if (!parse_number(addr_str, &addr, &why)) {
            rc = usage_error(prog, "ADDR '%s': %s", addr_str, why);
            goto out;
        }
    }
    if (!cpu_str && !dma) {
        rc = usage_error(prog, "--cpu N is required (or --dma for device accesses)");
        goto out;
    }
    if (cpu_str && dma) {
        rc = usage_error(prog, "--cpu and --dma exclude each other");
        goto out;
    }
    rc = build_machine(prog, &mo, &sm);
    if (rc >= 0) {
        goto out;
    }
    if (dma) {
        as = sample_machine_dma(sm);
    } else {
        unsigned cpu;

        rc = parse_cpu(prog, cpu_str, sm, &cpu);
        if (rc >= 0) {
            goto out;
        }
        as = cpu_view_as(sample_machine_cpu(sm, cpu));
    }

    GString *out = g_string_new(NULL);
    bool agree = mem_explain(out, as, addr);
    emit(out);
    g_string_free(out, TRUE);
    rc = agree ? EXIT_OK : EXIT_FAIL;

out:
    if (pos) {
        g_ptr_array_free(pos, TRUE);
    }
    sample_machine_free(sm);
    machine_opts_clear(&mo);
    g_free(cpu_str);
    return rc;
}

/* --- demo. --- */

#define DEMO_SMP 4u
#define DEMO_CPU_RELOCATED 2u
#define DEMO_APIC_RELOCATED UINT64_C(0xfed00000)
#define DEMO_CPU_SMM 1u

static MemAttrs demo_attrs(CpuView *cv)
{
    MemAttrs attrs = mem_attrs_cpu(cpu_view_index(cv));

    attrs.smm = cpu_view_smram_visible(cv);
    return attrs;
}

/* Name of the region an access at addr goes to in `as`. */
static const char *served_by(AddressSpace *as, uint64_t addr)
{
    Dispatch *d = as_dispatch(as);
    const MemSection *s = d ? dispatch_section(d, dispatch_lookup(d, addr, NULL)) : NULL;

    return s && s->mr ? mr_name(s->mr) : "unassigned";
}

static void demo_read32(GString *out, const char *who, AddressSpace *as, MemAttrs attrs,
                        uint64_t addr)
{
    uint64_t val = 0;
    MemResult r = as_read_val(as, addr, attrs, 4, MEM_LITTLE_ENDIAN, &val);

    g_string_append_printf(out, "  %-5s read32 0x%08" PRIx64 " = 0x%08" PRIx64 " (%s) from %s\n",
                           who, addr, val, mem_result_name(r), served_by(as, addr));
}

static void demo_text(GString *out, const char *who, AddressSpace *as, MemAttrs attrs,
                      uint64_t addr)
{
    char buf[16];
    MemResult r = as_read(as, addr, attrs, buf, sizeof(buf));

    g_string_append_printf(out, "  %-5s 0x%05" PRIx64 ": \"", who, addr);
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_string_append_c(out, g_ascii_isprint(buf[i]) ? buf[i] : '.');
    }
    g_string_append_printf(out, "\" (%s) from %s\n", mem_result_name(r), served_by(as, addr));
}

static int cmd_demo(const Subcommand *cmd, int argc, char **argv)
{
    g_autofree char *prog = subcommand_prog(cmd);
    const GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
    GError *err = NULL;
    SampleMachine *sm;
    GPtrArray *pos;
    GString *out;
    int rc;
    bool all_agree = true;

    rc = parse_options(cmd, entries, &argc, &argv);
    if (rc >= 0) {
        return rc;
    }
    pos = positionals(argc, argv);
    if (pos->len) {
        rc = usage_error(prog, "unexpected argument '%s'", (char *)g_ptr_array_index(pos, 0));
        g_ptr_array_free(pos, TRUE);
        return rc;
    }
    g_ptr_array_free(pos, TRUE);

    sm = sample_machine_new(DEMO_SMP, &err);
    if (!sm) {
        fprintf(stderr, "%s: cannot build the sample machine: %s\n", prog, err->message);
        g_error_free(err);
        return EXIT_FAIL;
    }

    /* Two per-CPU changes, one transaction: only those two CPUs' overlays change. */
    mem_transaction_begin();
    cpu_view_set_apic_base(sample_machine_cpu(sm, DEMO_CPU_RELOCATED), DEMO_APIC_RELOCATED);
    cpu_view_set_smram_visible(sample_machine_cpu(sm, DEMO_CPU_SMM), true);
    mem_transaction_commit();

    GPtrArray *spaces = all_spaces(sm);
    out = g_string_new(NULL);

    g_string_append_printf(out, "== mmusim demo: the sample machine with %u CPUs ==\n", DEMO_SMP);
    g_string_append_printf(out, "cpu%u: APIC relocated to 0x%" PRIx64 "\n", DEMO_CPU_RELOCATED,
                           DEMO_APIC_RELOCATED);
    g_string_append_printf(out, "cpu%u: in SMM, sees SMRAM at 0x%" PRIx64 "\n", DEMO_CPU_SMM,
                           SAMPLE_SMRAM_BASE);
    for (unsigned i = 0; i < DEMO_SMP; i++) {
        CpuView *cv = sample_machine_cpu(sm, i);

        g_string_append_printf(out, "  cpu%u: APIC base 0x%08" PRIx64 " (%s), SMRAM %s\n", i,
                               cpu_view_apic_base(cv),
                               cpu_view_apic_enabled(cv) ? "enabled" : "disabled",
                               cpu_view_smram_visible(cv) ? "visible" : "hidden");
    }
    g_string_append_c(out, '\n');

    g_string_append(out, "== flat views, with sharing ==\n");
    mtree_print_flat(out, (AddressSpace **)spaces->pdata, spaces->len);
    emit(out);

    static const uint64_t explained[] = { SAMPLE_APIC_BASE, SAMPLE_SMRAM_BASE };
    for (size_t a = 0; a < G_N_ELEMENTS(explained); a++) {
        g_string_append_printf(out, "== explain 0x%" PRIx64 " ==\n", explained[a]);
        for (unsigned i = 0; i < DEMO_SMP; i++) {
            all_agree &= mem_explain(out, cpu_view_as(sample_machine_cpu(sm, i)), explained[a]);
            g_string_append_c(out, '\n');
        }
        emit(out);
    }

    g_string_append_printf(out, "== what each CPU reads ==\n");
    for (unsigned i = 0; i < DEMO_SMP; i++) {
        CpuView *cv = sample_machine_cpu(sm, i);
        char who[16];

        g_snprintf(who, sizeof(who), "cpu%u", i);
        demo_read32(out, who, cpu_view_as(cv), demo_attrs(cv),
                    SAMPLE_APIC_BASE + SAMPLE_APIC_REG_ID);
    }
    demo_read32(out, "dma", sample_machine_dma(sm), mem_attrs_device(0),
                SAMPLE_APIC_BASE + SAMPLE_APIC_REG_ID);
    {
        CpuView *cv = sample_machine_cpu(sm, DEMO_CPU_RELOCATED);
        char who[16];

        g_snprintf(who, sizeof(who), "cpu%u", DEMO_CPU_RELOCATED);
        demo_read32(out, who, cpu_view_as(cv), demo_attrs(cv),
                    DEMO_APIC_RELOCATED + SAMPLE_APIC_REG_ID);
    }
    for (unsigned i = 0; i < DEMO_SMP; i++) {
        CpuView *cv = sample_machine_cpu(sm, i);
        char who[16];

        g_snprintf(who, sizeof(who), "cpu%u", i);
        demo_text(out, who, cpu_view_as(cv), demo_attrs(cv), SAMPLE_SMRAM_BASE);
    }
    demo_text(out, "dma", sample_machine_dma(sm), mem_attrs_device(0), SAMPLE_SMRAM_BASE);
    if (!all_agree) {
        g_string_append(out, "\nwarning: some explanations disagree with the dispatch "
                              "(MISMATCH above)\n");
    }
    emit(out);

    g_string_free(out, TRUE);
    g_ptr_array_free(spaces, TRUE);
    sample_machine_free(sm);
    return all_agree ? EXIT_OK : EXIT_FAIL;
}

/* --- tlb: the per-CPU TLBs at work ("info tlb"). --- */

/* The sample machine's CPUs do not execute; each runs with paging off, so
 * the page walk is the identity and every access is kernel/read-write-exec. */
static bool identity_walk(void *cpu, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                          TlbTranslation *out, TlbFault *fault)
{
    out->paddr = vaddr;
    out->prot = TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC;
    out->page_size = 4096;
    out->attrs = mem_attrs_cpu((unsigned)(uintptr_t)cpu);
    return true;
}

static void note_fault(void *cpu, const TlbFault *f)
{
    printf("  cpu%u: fault kind %d at 0x%" PRIx64 " (%s)\n", (unsigned)(uintptr_t)cpu, f->kind,
           f->vaddr, mem_result_name(f->result));
}

static const TlbTargetOps identity_ops = { identity_walk, note_fault, NULL };

static int cmd_tlb(const Subcommand *cmd, int argc, char **argv)
{
    g_autofree char *prog = subcommand_prog(cmd);
    MachineOpts mo = { 0 };
    gboolean show_entries = FALSE;
    SampleMachine *sm = NULL;
    GPtrArray *pos = NULL;
    int rc;
    const GOptionEntry entries[] = {
        MACHINE_OPTION_ENTRIES(&mo),
        { "entries", 'e', 0, G_OPTION_ARG_NONE, &show_entries, "Also list every valid entry",
          NULL },
        G_OPTION_ENTRY_NULL
    };

    rc = parse_options(cmd, entries, &argc, &argv);
    if (rc >= 0) {
        goto out;
    }
    pos = positionals(argc, argv);
    if (pos->len) {
        rc = usage_error(prog, "unexpected argument '%s'", (char *)g_ptr_array_index(pos, 0));
        goto out;
    }
    rc = build_machine(prog, &mo, &sm);
    if (rc >= 0) {
        goto out;
    }
    unsigned n = sample_machine_smp(sm);
    CpuTlb **tlbs = g_new0(CpuTlb *, n);
    for (unsigned i = 0; i < n; i++) {
        tlbs[i] = tlb_new(cpu_view_as(sample_machine_cpu(sm, i)), NULL, &identity_ops,
                          (void *)(uintptr_t)i, NULL);
    }
    /* A scripted workload: RAM reads and writes over 64 pages, each CPU's
     * APIC ID, then CPU n-1 relocates its APIC and CPU 0 enters SMM: only
     * their TLBs flush. */
    printf("== per-CPU TLBs on the sample machine (%u CPUs, identity translation) ==\n", n);
    for (int round = 0; round < 2; round++) {
        for (unsigned i = 0; i < n; i++) {
            uint64_t v;
            for (uint64_t p = 0; p < 64; p++) {
                tlb_store(tlbs[i], 0x100000 + p * 4096, 4, 0, 0, p);
                tlb_load(tlbs[i], 0x100000 + p * 4096, 4, 0, 0, &v);
            }
            tlb_load(tlbs[i], SAMPLE_APIC_BASE + SAMPLE_APIC_REG_ID, 4, 0, 0, &v);
            if (round == 1) {
                printf("  cpu%u reads its APIC ID at 0x%" PRIx64 ": 0x%08" PRIx64 "\n", i,
                       SAMPLE_APIC_BASE + SAMPLE_APIC_REG_ID, v);
            }
        }
        if (round == 0) {
            cpu_view_set_apic_base(sample_machine_cpu(sm, n - 1), 0xfed00000);
            cpu_view_set_smram_visible(sample_machine_cpu(sm, 0), true);
            printf("  cpu%u relocated its APIC to 0xfed00000; cpu0 entered SMM "
                   "(only these TLBs flush)\n", n - 1);
        }
    }
    GString *out = g_string_new(NULL);
    for (unsigned i = 0; i < n; i++) {
        g_string_append_printf(out, "\n-- cpu%u --\n", i);
        tlb_dump(tlbs[i], out, show_entries);
    }
    emit(out);
    g_string_free(out, TRUE);
    for (unsigned i = 0; i < n; i++) {
        tlb_free(tlbs[i]);
    }
    g_free(tlbs);
    rc = EXIT_OK;

out:
    if (pos) {
        g_ptr_array_free(pos, TRUE);
    }
    sample_machine_free(sm);
    machine_opts_clear(&mo);
    return rc;
}

/* --- help. --- */

static void print_overview(FILE *f)
{
    fprintf(f, "Usage: mmusim SUBCOMMAND [OPTION...]\n\n"
               "A software-MMU simulator. Subcommands:\n");
    for (const Subcommand *c = find_subcommand(NULL); c && c->name; c++) {
        fprintf(f, "  %-8s %s\n", c->name, c->summary);
    }
    fprintf(f, "\nRun 'mmusim SUBCOMMAND --help' (or 'mmusim help SUBCOMMAND') for its options.\n"
               "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int cmd_help(const Subcommand *cmd, int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stdout);
        return EXIT_OK;
    }
    const Subcommand *target = find_subcommand(argv[1]);

    if (!target || target == cmd) {
        if (target == cmd) {
            print_overview(stdout);
            return EXIT_OK;
        }
        fprintf(stderr, "mmusim help: unknown subcommand '%s'\n", argv[1]);
        print_overview(stderr);
        return EXIT_USAGE;
    }
    /* The subcommand's own GOption help (which exits 0). */
    char *help_argv[] = { (char *)target->name, (char *)"--help", NULL };
    return target->run(target, 2, help_argv);
}

static const Subcommand subcommands[] = {
    { "mtree", "", "Print the region tree of each CPU's address space (--flat: the flat views)",
      cmd_mtree },
    { "explain", "ADDR", "Explain which region serves ADDR for a CPU, and what it hides",
      cmd_explain },
    { "demo", "", "Show per-CPU views on the 4-CPU sample machine (what 'make run' runs)",
      cmd_demo },
    { "tlb", "", "Run a scripted workload through each CPU's TLB and print 'info tlb'",
      cmd_tlb },
    { "help", "[SUBCOMMAND]", "List subcommands, or show one subcommand's options", cmd_help },
    { NULL, NULL, NULL, NULL },
};

/* NULL name: the table itself. */
static const Subcommand *find_subcommand(const char *name)
{
    if (!name) {
        return subcommands;
    }
    for (const Subcommand *c = subcommands; c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const Subcommand *cmd;

    setlocale(LC_ALL, "");
    if (argc < 2) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "-?")) {
        print_overview(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mmusim 0.1\n");
        return EXIT_OK;
    }
    cmd = find_subcommand(argv[1]);
    if (!cmd) {
        fprintf(stderr, "mmusim: unknown subcommand '%s'\n", argv[1]);
        fprintf(stderr, "Run 'mmusim help' for the list of subcommands.\n");
        return EXIT_USAGE;
    }
    return cmd->run(cmd, argc - 1, argv + 1);
}
