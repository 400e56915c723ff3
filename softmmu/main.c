/*
 * mmusim: the command-line front end.
 *
 *   mmusim mtree   [--machine NAME] [--smp N] [--flat] [--cpu N]
 *   mmusim explain [--machine NAME] [--smp N] (--cpu N | --dma) ADDR
 *   mmusim demo
 *   mmusim tlb     [--machine NAME] [--smp N] [--entries]
 *   mmusim run     [--machine pc] [--smp N] [--memory SIZE] (--kernel FILE | --bios FILE) ...
 *   mmusim run     --machine virt [--smp N] [--memory SIZE] --kernel FILE [--gic-version 2|3]
 *                  [--semihosting] [--no-reboot] [--dumpdtb FILE] ...
 *   mmusim help [SUBCOMMAND]
 *
 * Subcommands live in one table (subcommands[] below); each parses its own
 * options with a GOptionContext. Exit status: 0 success, 1 failure at run
 * time (e.g. an explanation that disagrees with the dispatch), 2 usage error
 * (unknown subcommand or option, malformed or out-of-range value).
 */
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "softmmu/mtree.h"
#include "softmmu/sample_machine.h"
#include "tlb/tlb.h"
#ifdef MMUSIM_HAVE_PC
#include "machines/pc.h"
#endif
#ifdef MMUSIM_HAVE_VIRT
#include "machines/virt.h"
#endif

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

/* --- run: execute a guest on the x86 pc machine. --- */

#define RUN_HELP_TEXT                                                                          \
    "Runs a multiboot kernel or Linux bzImage (--kernel) or a ROM image (--bios) on the x86\n" \
    "'pc' machine; COM1 (port 0x3f8) is the console. Without either, the built-in ROM just\n" \
    "halts. A bzImage gets --append as its command line and --initrd (one file).\n"          \
    "--machine virt runs an AArch64 image (ELF, Linux Image or raw binary) on the Arm\n"      \
    "'virt' board (docs/arm-virt.md): PL011 console, x0 = the generated device tree,\n"       \
    "PSCI SYSTEM_OFF ends the run with 0, semihosting SYS_EXIT (--semihosting) with\n"      \
    "its status; --gic-version 2 (default) or 3; --no-reboot makes SYSTEM_RESET exit 12;\n"  \
    "--dumpdtb FILE also writes the device tree.\n"                                          \
    "--mtree / --mtree-flat print the built machine's region trees / flat views (each\n"    \
    "CPU's space, the devices' space, each PCI function's bus-master space) and exit 0.\n"  \
    "\n"                                                                                      \
    "SIZE: a number with a K, M, G or T suffix (binary units); without one, MiB.\n"           \
    "--serial: stdio (default: output to stdout, input from stdin), none, or file:PATH.\n"    \
    "--trace: comma-separated in_asm (each instruction), exec (each block), int\n"            \
    "(interrupts and exceptions), mmu (page walks), tlb (each CPU's TLB at exit);\n"          \
    "traces go to --trace-file (default stderr); tracing in_asm or exec interprets.\n"      \
    "--jit (pc): on (default, or $MMUSIM_JIT) translates blocks to host code after they\n"  \
    "ran a few times, eager at their first run, off interprets everything.\n"               \
    "\n"                                                                                      \
    "Exit status:\n"                                                                          \
    "  0        every CPU halted with interrupts off\n"                                      \
    "  1        error (a file cannot be read, the loader refuses the kernel, ...)\n"         \
    "  2        usage error\n"                                                               \
    "  4        --max-insns reached\n"                                                        \
    "  6        --timeout reached\n"                                                          \
    "  8        triple fault: the machine shut down\n"                                       \
    "  10       every CPU halted waiting for an interrupt that nothing can raise\n"           \
    "  12       (virt) PSCI SYSTEM_RESET with --no-reboot\n"                                   \
    "  14       (virt) a CPU's exception vectors fault forever (exception loop)\n"           \
    "  (v<<1)|1 the guest wrote v to the debug-exit port 0xf4 (odd; low 8 bits kept)"

#ifdef MMUSIM_HAVE_PC

typedef struct RunTraceFlag {
    const char *name;
    uint32_t bits;  /* X86_TRACE_*; 0 for tlb */
} RunTraceFlag;

static const RunTraceFlag run_trace_flags[] = {
    { "in_asm", X86_TRACE_IN_ASM },
    { "exec", X86_TRACE_EXEC },
    { "int", X86_TRACE_INT },
    { "mmu", X86_TRACE_MMU },
    { "tlb", 0 },
};

/* "128M", "1G", "0x100000K"; no suffix: MiB (as QEMU's -m). */
static bool parse_size(const char *s, uint64_t *out, const char **why)
{
    g_autofree char *digits = g_strdup(s ? s : "");
    size_t n = strlen(digits);
    unsigned shift = 20;

    /* No suffix letter is a hex digit: "0x10M" is unambiguous. */
    if (n && strchr("kKmMgGtT", digits[n - 1])) {
        switch (g_ascii_tolower(digits[n - 1])) {
        case 'k': shift = 10; break;
        case 'm': shift = 20; break;
        case 'g': shift = 30; break;
        default: shift = 40; break;
        }
        digits[n - 1] = '\0';
    }
    if (!parse_number(digits, out, why)) {
        return false;
    }
    if (*out > (UINT64_MAX >> shift)) {
        *why = "too large";
        return false;
    }
    *out <<= shift;
    return true;
}

static bool parse_trace(const char *list, uint32_t *bits, bool *tlb, const char **bad)
{
    g_auto(GStrv) items = g_strsplit(list, ",", -1);

    *bits = 0;
    *tlb = false;
    for (guint i = 0; items[i]; i++) {
        const RunTraceFlag *f = NULL;

        for (size_t j = 0; j < G_N_ELEMENTS(run_trace_flags); j++) {
            if (!strcmp(items[i], run_trace_flags[j].name)) {
                f = &run_trace_flags[j];
            }
        }
        if (!f) {
            *bad = g_intern_string(items[i]);
            return false;
        }
        *bits |= f->bits;
        *tlb |= f->bits == 0;
    }
    return true;
}

/* --mtree / --mtree-flat: the spaces given (CPUs, devices), then every PCI
 * function's bus-master space; frees `spaces`. */
static void print_machine_mtree(GPtrArray *spaces, PciHost *pci, bool flat)
{
    for (unsigned d = 0; pci && d < PCI_MAX_DEVICES; d++) {
        PciDevice *f = pci_host_device(pci, d);
        if (f) {
            g_ptr_array_add(spaces, pci_device_dma_as(f));
        }
    }
    GString *out = g_string_new(NULL);
    if (flat) {
        mtree_print_flat(out, (AddressSpace **)spaces->pdata, spaces->len);
    } else {
        mtree_print_spaces(out, (AddressSpace **)spaces->pdata, spaces->len);
    }
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_ptr_array_free(spaces, TRUE);
}

#ifdef MMUSIM_HAVE_VIRT
/* --machine virt: the options shared with pc arrive checked in `pc`. */
static int run_virt(const char *prog, const PcConfig *pc, const char *gic_str, bool semihosting,
                    bool no_reboot, const char *dumpdtb, const PcRunLimits *plim, bool trace_tlb,
                    FILE *trace_out, int mtree_mode)
{
    VirtConfig cfg = {
        .smp = pc->smp, .ram_size = pc->ram_size, .kernel = pc->kernel, .append = pc->append,
        .initrd = pc->initrd, .gic_version = 2, .semihosting = semihosting,
        .no_reboot = no_reboot, .dtb_out = dumpdtb, .trace = pc->trace, .trace_out = trace_out,
        .serial = pc->serial == PC_SERIAL_NONE ? VIRT_SERIAL_NONE
                  : pc->serial == PC_SERIAL_FILE ? VIRT_SERIAL_FILE : VIRT_SERIAL_STDIO,
        .serial_path = pc->serial_path,
    };
    VirtRunLimits lim = { .max_insns = plim->max_insns, .timeout = plim->timeout };
    GError *err = NULL;

    if (gic_str) {
        if (strcmp(gic_str, "2") && strcmp(gic_str, "3")) {
            return usage_error(prog, "--gic-version '%s': must be 2 or 3", gic_str);
        }
        cfg.gic_version = (unsigned)(gic_str[0] - '0');
    }
    if (!cfg.kernel) {
        return usage_error(prog, "--machine virt needs --kernel (there is no firmware)");
    }
    unsigned max = cfg.gic_version == 3 ? GIC_MAX_CPUS_V3 : GIC_MAX_CPUS_V2;
    if (cfg.smp > max) {
        return usage_error(prog, "--smp %u: GICv%u supports at most %u CPUs%s", cfg.smp,
                           cfg.gic_version, max,
                           cfg.gic_version == 2 ? " (--gic-version 3 allows 64)" : "");
    }
    if (pc->ram_size < VIRT_MIN_RAM || pc->ram_size > VIRT_MAX_RAM) {
        return usage_error(prog, "--memory: the virt machine takes 16M to 255G");
    }
    VirtMachine *vm = virt_machine_new(&cfg, &err);
    if (!vm) {
        fprintf(stderr, "%s: %s\n", prog, err->message);
        g_clear_error(&err);
        return EXIT_FAIL;
    }
    if (mtree_mode) {
        GPtrArray *spaces = g_ptr_array_new();
        for (unsigned i = 0; i < virt_machine_smp(vm); i++) {
            g_ptr_array_add(spaces, virt_machine_cpu(vm, i)->mem_as);
        }
        g_ptr_array_add(spaces, virt_machine_dma(vm));
        print_machine_mtree(spaces, virt_machine_pci(vm), mtree_mode == 2);
        virt_machine_free(vm);
        return EXIT_OK;
    }
    int rc = virt_machine_run(vm, &lim);
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", prog, virt_machine_stop_message(vm));
    if (trace_tlb) {
        GString *dump = g_string_new(NULL);
        virt_machine_dump_tlbs(vm, dump, false);
        fputs(dump->str, trace_out ? trace_out : stderr);
        g_string_free(dump, TRUE);
    }
    virt_machine_free(vm);
    return rc;
}
#endif

static int cmd_run(const Subcommand *cmd, int argc, char **argv)
{
    g_autofree char *prog = subcommand_prog(cmd);
    char *machine = NULL, *smp_str = NULL, *mem_str = NULL, *kernel = NULL, *append = NULL;
    char *initrd = NULL, *bios = NULL, *serial = NULL, *trace = NULL, *trace_file = NULL;
    char *max_str = NULL, *timeout_str = NULL, *gic_str = NULL, *dumpdtb = NULL, *jit = NULL;
    gboolean semihosting = FALSE, no_reboot = FALSE, mtree = FALSE, mtree_flat = FALSE;
    bool virt = false;
    GPtrArray *pos = NULL;
    PcConfig cfg = { .smp = 1, .ram_size = PC_DEFAULT_RAM, .serial = PC_SERIAL_STDIO };
    PcRunLimits lim = { 0 };
    PcMachine *pc = NULL;
    FILE *trace_out = NULL;
    bool trace_tlb = false;
    GError *err = NULL;
    const char *why;
    uint64_t v;
    int rc;
    const GOptionEntry entries[] = {
        { "machine", 'M', 0, G_OPTION_ARG_STRING, &machine, "Machine to run (default: pc)",
          "NAME" },
        { "smp", 0, 0, G_OPTION_ARG_STRING, &smp_str, "Number of CPUs, 1-64 (default 1)", "N" },
        { "memory", 'm', 0, G_OPTION_ARG_STRING, &mem_str, "RAM size (default 128M)", "SIZE" },
        { "kernel", 0, 0, G_OPTION_ARG_FILENAME, &kernel,
          "Multiboot kernel or Linux bzImage to boot", "FILE" },
        { "append", 0, 0, G_OPTION_ARG_STRING, &append, "Kernel command line", "STR" },
        { "initrd", 0, 0, G_OPTION_ARG_FILENAME, &initrd,
          "Multiboot modules, comma-separated (bzImage: one initrd)", "FILE[,FILE...]" },
        { "bios", 0, 0, G_OPTION_ARG_FILENAME, &bios,
          "ROM image mapped to end at 4 GiB (a multiple of 64 KiB)", "FILE" },
        { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, "COM1 backend (default stdio)",
          "stdio|none|file:PATH" },
        { "trace", 0, 0, G_OPTION_ARG_STRING, &trace, "What to trace", "in_asm,exec,int,mmu,tlb" },
        { "trace-file", 0, 0, G_OPTION_ARG_FILENAME, &trace_file,
          "Write traces here (default stderr)", "FILE" },
        { "jit", 0, 0, G_OPTION_ARG_STRING, &jit,
          "pc: translate hot blocks to host code (default on; eager: every block)",
          "on|off|eager" },
        { "max-insns", 0, 0, G_OPTION_ARG_STRING, &max_str,
          "Stop after N instructions (all CPUs together)", "N" },
        { "timeout", 0, 0, G_OPTION_ARG_STRING, &timeout_str,
          "Stop after S seconds of wall-clock time", "S" },
        { "gic-version", 0, 0, G_OPTION_ARG_STRING, &gic_str, "virt: GIC version (default 2)",
          "2|3" },
        { "semihosting", 0, 0, G_OPTION_ARG_NONE, &semihosting,
          "virt: Arm semihosting through hlt #0xf000", NULL },
        { "no-reboot", 0, 0, G_OPTION_ARG_NONE, &no_reboot,
          "virt: PSCI SYSTEM_RESET ends the run (status 12)", NULL },
        { "dumpdtb", 0, 0, G_OPTION_ARG_FILENAME, &dumpdtb,
          "virt: also write the generated device tree to FILE", "FILE" },
        { "mtree", 0, 0, G_OPTION_ARG_NONE, &mtree,
          "Print the machine's region trees (each CPU, devices, PCI bus masters) and exit",
          NULL },
        { "mtree-flat", 0, 0, G_OPTION_ARG_NONE, &mtree_flat,
          "Print the machine's flat views and exit", NULL },
        G_OPTION_ENTRY_NULL
    };

    {
        GOptionContext *ctx = g_option_context_new(cmd->params);

        g_set_prgname(prog);
        g_option_context_set_summary(ctx, cmd->summary);
        g_option_context_set_description(ctx, RUN_HELP_TEXT);
        g_option_context_add_main_entries(ctx, entries, NULL);
        rc = -1;
        if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
            rc = usage_error(prog, "%s", err->message);
            g_clear_error(&err);
        }
        g_option_context_free(ctx);
        if (rc >= 0) {
            goto out;
        }
    }
    pos = positionals(argc, argv);
    if (pos->len) {
        rc = usage_error(prog, "unexpected argument '%s'", (char *)g_ptr_array_index(pos, 0));
        goto out;
    }
#ifdef MMUSIM_HAVE_VIRT
    virt = machine && !strcmp(machine, "virt");
#endif
    if (machine && strcmp(machine, "pc") != 0 && !virt) {
        rc = usage_error(prog, "--machine '%s': unknown machine (known: pc%s; the 'sample' "
                               "machine is for introspection and cannot run)", machine,
#ifdef MMUSIM_HAVE_VIRT
                         ", virt"
#else
                         ""
#endif
                         );
        goto out;
    }
    if (!virt && (gic_str || semihosting || no_reboot || dumpdtb)) {
        rc = usage_error(prog, "--gic-version, --semihosting, --no-reboot and --dumpdtb are "
                               "options of --machine virt");
        goto out;
    }
    if (virt && bios) {
        rc = usage_error(prog, "--bios: the virt machine has no firmware; use --kernel");
        goto out;
    }
    if (smp_str) {
        if (!parse_number(smp_str, &v, &why)) {
            rc = usage_error(prog, "--smp '%s': %s", smp_str, why);
            goto out;
        }
        if (v < 1 || v > PC_MAX_SMP) {
            rc = usage_error(prog, "--smp %s: must be between 1 and %u", smp_str, PC_MAX_SMP);
            goto out;
        }
        cfg.smp = (unsigned)v;
    }
    if (mem_str) {
        if (!parse_size(mem_str, &v, &why)) {
            rc = usage_error(prog, "--memory '%s': %s", mem_str, why);
            goto out;
        }
        if (v < PC_MIN_RAM || v > PC_MAX_RAM || (v & 0xfff)) {
            rc = usage_error(prog, "--memory %s: must be a multiple of 4K between 2M and 1T",
                             mem_str);
            goto out;
        }
        cfg.ram_size = v;
    }
    if (serial) {
        if (!strcmp(serial, "stdio")) {
            cfg.serial = PC_SERIAL_STDIO;
        } else if (!strcmp(serial, "none")) {
            cfg.serial = PC_SERIAL_NONE;
        } else if (g_str_has_prefix(serial, "file:") && serial[5]) {
            cfg.serial = PC_SERIAL_FILE;
            cfg.serial_path = serial + 5;
        } else {
            rc = usage_error(prog, "--serial '%s': must be stdio, none or file:PATH", serial);
            goto out;
        }
    }
    if (trace) {
        const char *bad = NULL;

        if (!parse_trace(trace, &cfg.trace, &trace_tlb, &bad)) {
            rc = usage_error(prog, "--trace: unknown item '%s' (known: in_asm, exec, int, mmu, "
                                   "tlb)", bad);
            goto out;
        }
    }
    if (jit) {
        if (virt) {
            rc = usage_error(prog, "--jit is an option of the pc machine (virt interprets)");
            goto out;
        }
        if (!strcmp(jit, "on")) {
            cfg.jit = PC_JIT_ON;
        } else if (!strcmp(jit, "off")) {
            cfg.jit = PC_JIT_OFF;
        } else if (!strcmp(jit, "eager")) {
            cfg.jit = PC_JIT_EAGER;
        } else {
            rc = usage_error(prog, "--jit '%s': must be on, off or eager", jit);
            goto out;
        }
    }
    if (max_str) {
        if (!parse_number(max_str, &lim.max_insns, &why)) {
            rc = usage_error(prog, "--max-insns '%s': %s", max_str, why);
            goto out;
        }
        if (lim.max_insns == 0) {
            rc = usage_error(prog, "--max-insns 0: must be at least 1");
            goto out;
        }
    }
    if (timeout_str) {
        char *end = NULL;

        lim.timeout = g_ascii_strtod(timeout_str, &end);
        if (!*timeout_str || !end || *end || !(lim.timeout > 0) || lim.timeout > 1e9) {
            rc = usage_error(prog, "--timeout '%s': must be a number of seconds > 0",
                             timeout_str);
            goto out;
        }
    }
    if (initrd && !kernel) {
        rc = usage_error(prog, "--initrd needs --kernel");
        goto out;
    }
    if (append && !kernel) {
        rc = usage_error(prog, "--append needs --kernel");
        goto out;
    }
    if (trace_file) {
        trace_out = fopen(trace_file, "w");
        if (!trace_out) {
            fprintf(stderr, "%s: %s: cannot open the trace file: %s\n", prog, trace_file,
                    g_strerror(errno));
            rc = EXIT_FAIL;
            goto out;
        }
    }
    cfg.kernel = kernel;
    cfg.append = append;
    cfg.initrd = initrd;
    cfg.bios = bios;
    cfg.trace_out = trace_out;
    if (!kernel && !bios && !virt && !mtree && !mtree_flat) {
        fprintf(stderr, "%s: no --kernel and no --bios: running the built-in ROM, which halts\n",
                prog);
    }

#ifdef MMUSIM_HAVE_VIRT
    if (virt) {
        rc = run_virt(prog, &cfg, gic_str, semihosting, no_reboot, dumpdtb, &lim, trace_tlb,
                      trace_out, mtree_flat ? 2 : mtree ? 1 : 0);
        goto out;
    }
#endif
    pc = pc_machine_new(&cfg, &err);
    if (!pc) {
        fprintf(stderr, "%s: %s\n", prog, err->message);
        g_clear_error(&err);
        rc = EXIT_FAIL;
        goto out;
    }
    if (mtree || mtree_flat) {
        GPtrArray *spaces = g_ptr_array_new();
        for (unsigned i = 0; i < pc_machine_smp(pc); i++) {
            g_ptr_array_add(spaces, pc_machine_cpu(pc, i)->mem_as);
        }
        g_ptr_array_add(spaces, pc_machine_dma(pc));
        g_ptr_array_add(spaces, pc_machine_io(pc));
        print_machine_mtree(spaces, pc_machine_pci(pc), mtree_flat);
        rc = EXIT_OK;
        goto out;
    }
    rc = pc_machine_run(pc, &lim);
    fflush(stdout);
    fprintf(stderr, "%s: %s\n", prog, pc_machine_stop_message(pc));
    if (trace_tlb) {
        GString *dump = g_string_new(NULL);

        pc_machine_dump_tlbs(pc, dump, false);
        fputs(dump->str, trace_out ? trace_out : stderr);
        g_string_free(dump, TRUE);
    }

out:
    pc_machine_free(pc);
    if (trace_out) {
        fclose(trace_out);
    }
    if (pos) {
        g_ptr_array_free(pos, TRUE);
    }
    g_free(machine);
    g_free(smp_str);
    g_free(mem_str);
    g_free(kernel);
    g_free(append);
    g_free(initrd);
    g_free(bios);
    g_free(serial);
    g_free(trace);
    g_free(trace_file);
    g_free(max_str);
    g_free(timeout_str);
    g_free(gic_str);
    g_free(dumpdtb);
    g_free(jit);
    return rc;
}

#else /* !MMUSIM_HAVE_PC */

static int cmd_run(const Subcommand *cmd, int argc, char **argv)
{
    g_autofree char *prog = subcommand_prog(cmd);

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("Usage: %s [OPTION...]\n\n%s\n\n%s\n", prog, cmd->summary, RUN_HELP_TEXT);
            return EXIT_OK;
        }
    }
    fprintf(stderr, "%s: this mmusim was built without the x86 target "
                    "(configure with -DMMUSIM_X86=ON)\n", prog);
    return EXIT_FAIL;
}

#endif /* MMUSIM_HAVE_PC */

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
    { "run", "", "Run a multiboot kernel, bzImage or ROM image on the x86 pc machine", cmd_run },
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
