/*
 * Guest-level tests of the AArch64 virt machine and `mmusim run --machine
 * virt`.
 *
 *  - "guests": the images of tests/guest/arm (compiled at build time with
 *    aarch64-linux-gnu-gcc into MMUSIM_GUEST_ARM_DIR) run by the mmusim
 *    binary (MMUSIM_BINARY): exact console output (stdout) and exit
 *    status. Every image ends with PSCI SYSTEM_OFF (status 0) when all its
 *    checks pass; a failed check prints "FAIL: ..." and exits through
 *    semihosting SYS_EXIT with a status of its own (0x20 and up, see the
 *    image's source), so the images are run with --semihosting.
 *  - "cli": how `mmusim run --machine virt` refuses bad kernels and bad
 *    options, and its stop conditions (instruction limit, idle), with
 *    tiny raw binaries written here.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tests/guest_run.h"

#ifndef MMUSIM_BINARY
#error "MMUSIM_BINARY must name the mmusim binary"
#endif
#ifndef MMUSIM_GUEST_ARM_DIR
#error "MMUSIM_GUEST_ARM_DIR must name the directory of the AArch64 guest images"
#endif

/* Exit statuses of `mmusim run --machine virt` (machines/virt.h, and the
 * usage conventions of softmmu/main.c). */
enum {
    STATUS_OFF = 0,         /* PSCI SYSTEM_OFF */
    STATUS_ERROR = 1,       /* the machine could not be built (bad kernel) */
    STATUS_USAGE = 2,
    STATUS_MAX_INSNS = 4,
    STATUS_IDLE = 10,
};

/* --- Running the binary (tests/guest_run.h). --- */

/* `mmusim run --machine virt --timeout 60 ARGS...`. */
static const char *const run_prefix[] = { "run", "--machine", "virt", "--timeout", "60", NULL };
#define RUN(...) guest_run(run_prefix, (const char *const[]){ __VA_ARGS__, NULL })

static char *image(const char *name)
{
    return g_build_filename(MMUSIM_GUEST_ARM_DIR, name, NULL);
}

/* Run image NAME.elf with --semihosting and EXTRA options (NULL-ended);
 * check its exact output and status. */
static void check_guest_v(const char *name, const char *want, int status, const char *const *extra)
{
    g_autofree char *file = g_strdup_printf("%s.elf", name);
    g_autofree char *path = image(file);
    const char *args[16];
    unsigned n = 0;

    args[n++] = "--semihosting";
    args[n++] = "--kernel";
    args[n++] = path;
    for (; extra && *extra && n < G_N_ELEMENTS(args) - 1; extra++) {
        args[n++] = *extra;
    }
    args[n] = NULL;
    Run r = guest_run(run_prefix, args);
    ASSERT_OUT(r, want);
    ASSERT_STATUS(r, status);
    run_clear(&r);
}

#define CHECK_GUEST(name, want, status) check_guest_v((name), (want), (status), NULL)
#define CHECK_GUEST_ARGS(name, want, status, ...) \
    check_guest_v((name), (want), (status), (const char *const[]){ __VA_ARGS__, NULL })

/* --- The guest images. --- */

/* Boot state: EL1, MPIDR, x0 = the DTB, PSCI 1.0. */
START_TEST(test_hello)
{
    CHECK_GUEST("hello",
                "Hello from AArch64\n"
                "CurrentEL: EL1\n"
                "MPIDR_EL1: 0x80000000\n"
                "DTB at 0x40000000: magic 0xd00dfeed, version 17\n"
                "PSCI 1.0\n"
                "hello done\n",
                STATUS_OFF);
}
END_TEST

/* The same image without --semihosting: nothing depends on it. */
/* Host stdin reaches the PL011's receive FIFO (--serial stdio). */
START_TEST(test_console_input)
{
    g_autofree char *path = image("echo.elf");
    g_autofree char *qpath = g_shell_quote(path);
    g_autofree char *qbin = g_shell_quote(MMUSIM_BINARY);
    g_autofree char *cmd = g_strdup_printf("printf 'hello there\\n' | %s run --machine virt "
                                           "--timeout 60 --kernel %s", qbin, qpath);
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    Run r = { NULL, NULL, -1 };
    int ws = 0;
    GError *error = NULL;
    ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r.out,
                           &r.err, &ws, &error));
    r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    ASSERT_OUT(r, "type a line:\necho: hello there\n");
    ASSERT_STATUS(r, STATUS_OFF);
    run_clear(&r);
}
END_TEST

START_TEST(test_hello_without_semihosting)
{
    g_autofree char *path = image("hello.elf");
    Run r = RUN("--kernel", path);

    ASSERT_HAS(r.out, "Hello from AArch64\n");
    ASSERT_HAS(r.out, "hello done\n");
    ASSERT_STATUS(r, STATUS_OFF);
    run_clear(&r);
}
END_TEST

/* SYS_WRITE0 and SYS_EXIT's status. */
START_TEST(test_semihosting)
{
    CHECK_GUEST("semihost",
                "semihost: console\n"
                "semihost: SYS_WRITE0\n"
                "semihost: exiting with 3\n",
                3);
}
END_TEST

START_TEST(test_exceptions)
{
    CHECK_GUEST("excp",
                "svc: ec=0x15 iss=0x123 elr=next spsr.m=EL1h\n"
                "brk: ec=0x3c iss=0x7 elr=brk\n"
                "udf: ec=0x0 iss=0x0 elr=udf\n"
                "external abort (load): ec=0x25 dfsc=0x10 wnr=0 far=0xc000048\n"
                "external abort (store): ec=0x25 dfsc=0x10 wnr=1 far=0xc000048\n"
                "pc alignment: ec=0x22 far=elr=target\n"
                "sp alignment: ec=0x26 vector=current EL with SP_EL0\n"
                "el0 svc: ec=0x15 iss=0x42 x0=0x1234\n"
                "el0 mrs sctlr_el1: ec=0x0 elr=mrs\n"
                "excp done\n",
                STATUS_OFF);
}
END_TEST

START_TEST(test_mmu)
{
    CHECK_GUEST("mmu",
                "mmu on: 48-bit TTBR0, 39-bit TTBR1, 4 KiB granule\n"
                "mapped page: read 0x11111111, write ok\n"
                "translation fault L0: ec=0x25 dfsc=0x04 wnr=0 far=0x8000000000\n"
                "translation fault L1: ec=0x25 dfsc=0x05 wnr=0 far=0x200000000\n"
                "translation fault L2: ec=0x25 dfsc=0x06 wnr=0 far=0x100200000\n"
                "translation fault L3: ec=0x25 dfsc=0x07 wnr=1 far=0x100003000\n"
                "permission fault L3: ec=0x25 dfsc=0x0f wnr=1 far=0x100001000\n"
                "access flag fault L3: ec=0x25 dfsc=0x0b wnr=0 far=0x100002000\n"
                "execute-never: ec=0x21 ifsc=0x0f far=0x100004000\n"
                "executable alias: returned 42\n"
                "el0 access to an EL1 page: ec=0x24 dfsc=0x0f far=0x100000000\n"
                "2 MiB block: read 0xb10cb10c at 0x140123450\n"
                "TTBR1: read 0x22222222 at 0xffffff8000005000\n"
                "AT S1E1R block: PAR.PA=0x44123000 attr=0xff\n"
                "AT faults: hole FST=0x07, S1E1W read-only FST=0x0f\n"
                "TLBI VAE1: remapped page reads 0x22222222\n"
                "mmu done\n",
                STATUS_OFF);
}
END_TEST

START_TEST(test_smp)
{
    CHECK_GUEST_ARGS("smp",
                "smp: CPU 0 MPIDR 0x80000000\n"
                "CPU_ON 1: 0\n"
                "CPU_ON 1 again: -4 (ALREADY_ON)\n"
                "CPU_ON 2: 0\n"
                "CPU_ON 3: 0\n"
                "CPU_ON 7: -2 (INVALID_PARAMETERS)\n"
                "CPU 1: MPIDR 0x80000001, context_id 0x11, EL1\n"
                "CPU 2: MPIDR 0x80000002, context_id 0x12, EL1\n"
                "CPU 3: MPIDR 0x80000003, context_id 0x13, EL1\n"
                "AFFINITY_INFO: 0 0 0 0 (ON)\n"
                "counter: 40000 (want 40000)\n"
                "AFFINITY_INFO after CPU_OFF: 0 1 1 1\n"
                "smp done\n",
                STATUS_OFF, "--smp", "4");
}
END_TEST

START_TEST(test_gicv2)
{
    CHECK_GUEST_ARGS("gic",
                "gic: GICv2, GICD_TYPER CPUNumber=3 ITLinesNumber=8\n"
                "CPU 0: GICC_PMR 0xf0 GICD_ISENABLER0 0x0010ffff\n"
                "CPU 1: GICC_PMR 0xe0 GICD_ISENABLER0 0x0020ffff\n"
                "CPU 2: GICC_PMR 0xd0 GICD_ISENABLER0 0x0040ffff\n"
                "CPU 3: GICC_PMR 0xc0 GICD_ISENABLER0 0x0080ffff\n"
                "CPU 1: SGIs 0x0022, from CPU mask 0x1 0x1\n"
                "CPU 2: SGIs 0x0024, from CPU mask 0x1 0x1\n"
                "CPU 3: SGIs 0x0028, from CPU mask 0x1 0x1\n"
                "CPU 0: SGIs 0x8e00: SGI 15 from mask 0x1, SGI 9 from mask 0x2, "
                "SGI 10 from mask 0x4, SGI 11 from mask 0x8\n"
                "gic done\n",
                STATUS_OFF, "--smp", "4");
}
END_TEST

START_TEST(test_gicv3)
{
    CHECK_GUEST_ARGS("gicv3",
                "gicv3: GICD_CTLR ARE=1 DS=1 EnableGrp1=1\n"
                "ICC_SRE_EL1 0x7, ICC_CTLR_EL1.PRIbits 4\n"
                "CPU 0: GICR_TYPER affinity 0x00000000 last 0, ICC_PMR_EL1 0xf0\n"
                "CPU 1: GICR_TYPER affinity 0x00000001 last 0, ICC_PMR_EL1 0xe0\n"
                "CPU 2: GICR_TYPER affinity 0x00000002 last 0, ICC_PMR_EL1 0xd0\n"
                "CPU 3: GICR_TYPER affinity 0x00000003 last 1, ICC_PMR_EL1 0xc0\n"
                "CPU 0: SGIs 0x8e00\n"
                "CPU 1: SGIs 0x0082\n"
                "CPU 2: SGIs 0x00c4\n"
                "CPU 3: SGIs 0x00c8\n"
                "gicv3 done\n",
                STATUS_OFF, "--gic-version", "3", "--smp", "4");
}
END_TEST

START_TEST(test_timer)
{
    CHECK_GUEST("timer",
                "CNTFRQ_EL0: 62500000\n"
                "counter advances\n"
                "virtual timer, 1000 ticks: fired at the deadline\n"
                "virtual timer, 62500 ticks: fired at the deadline\n"
                "virtual timer, 3125000 ticks: fired at the deadline\n"
                "physical timer, TVAL 20000: fired at the deadline\n"
                "IMASK: ISTATUS set, no interrupt until unmasked\n"
                "timer done\n",
                STATUS_OFF);
}
END_TEST

START_TEST(test_tlbi_broadcast)
{
    CHECK_GUEST_ARGS("tlbi",
                "tlbi: CPU 0 reads 0xaaaa1111\n"
                "CPU 1 reads 0xaaaa1111 before the remap\n"
                "CPU 1 reads 0xbbbb2222 after TLBI VAE1IS\n"
                "CPU 1 reads 0xaaaa1111 after TLBI VMALLE1IS\n"
                "tlbi done\n",
                STATUS_OFF, "--smp", "2");
}
END_TEST

/* --- The command line. --- */

static char *make_tmpdir(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("mmusim-guest-arm-XXXXXX", &error);
    ck_assert_msg(dir, "cannot make a temporary directory: %s", error ? error->message : "?");
    return dir;
}

static void remove_tmpdir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(dir);
}

/* Write a raw binary of A64 instructions (little-endian words): the
 * machine loads it at RAM base + 0x80000 and starts it there. */
static char *write_raw(const char *dir, const char *name, const uint32_t *insns, size_t n)
{
    char *path = g_build_filename(dir, name, NULL);
    uint8_t buf[64];
    ck_assert_uint_le(n * 4, sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        buf[4 * i] = (uint8_t)insns[i];
        buf[4 * i + 1] = (uint8_t)(insns[i] >> 8);
        buf[4 * i + 2] = (uint8_t)(insns[i] >> 16);
        buf[4 * i + 3] = (uint8_t)(insns[i] >> 24);
    }
    ck_assert(g_file_set_contents(path, (const char *)buf, (gssize)(n * 4), NULL));
    return path;
}

/* An ELF file cut after its program headers: refused, naming the file. */
START_TEST(test_truncated_elf)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *src = image("hello.elf");
    g_autofree char *dst = g_build_filename(dir, "cut.elf", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;

    ck_assert(g_file_get_contents(src, &data, &len, NULL));
    ck_assert_uint_gt(len, 0x200);
    ck_assert(g_file_set_contents(dst, data, 0x200, NULL));
    Run r = RUN("--kernel", dst);
    ASSERT_STATUS(r, STATUS_ERROR);
    ASSERT_HAS(r.err, dst);
    ASSERT_HAS(r.err, "truncated");
    ASSERT_OUT(r, "");
    run_clear(&r);
    remove_tmpdir(dir);
}
END_TEST

START_TEST(test_usage_errors)
{
    g_autofree char *hello = image("hello.elf");
    Run r;

    r = RUN("--smp", "2");   /* no --kernel: there is no firmware */
    ASSERT_STATUS(r, STATUS_USAGE);
    ASSERT_HAS(r.err, "--kernel");
    run_clear(&r);

    r = RUN("--kernel", hello, "--gic-version", "4");
    ASSERT_STATUS(r, STATUS_USAGE);
    ASSERT_HAS(r.err, "--gic-version");
    ASSERT_OUT(r, "");
    run_clear(&r);

    /* GICv2 has 8 CPU interfaces (IHI 0048B 1.1). */
    r = RUN("--kernel", hello, "--smp", "9");
    ASSERT_STATUS(r, STATUS_USAGE);
    ASSERT_HAS(r.err, "--smp");
    ASSERT_OUT(r, "");
    run_clear(&r);

    /* ... GICv3 allows more. */
    r = RUN("--kernel", hello, "--smp", "9", "--gic-version", "3");
    ASSERT_STATUS(r, STATUS_OFF);
    ASSERT_HAS(r.out, "hello done\n");
    run_clear(&r);
}
END_TEST

/* `b .` forever: the instruction limit stops it with status 4. */
START_TEST(test_max_insns)
{
    g_autofree char *dir = make_tmpdir();
    static const uint32_t loop[] = { 0x14000000 };   /* b . */
    g_autofree char *path = write_raw(dir, "loop.bin", loop, 1);
    Run r = RUN("--kernel", path, "--max-insns", "100000");

    ASSERT_STATUS(r, STATUS_MAX_INSNS);
    ASSERT_OUT(r, "");
    run_clear(&r);
    remove_tmpdir(dir);
}
END_TEST

/* WFI with interrupts masked and nothing to raise one: idle, status 10. */
START_TEST(test_idle)
{
    g_autofree char *dir = make_tmpdir();
    static const uint32_t idle[] = { 0xd503207f, 0x17ffffff };   /* wfi; b .-4 */
    g_autofree char *path = write_raw(dir, "idle.bin", idle, 2);
    Run r = RUN("--kernel", path);

    ASSERT_STATUS(r, STATUS_IDLE);
    ASSERT_OUT(r, "");
    run_clear(&r);
    remove_tmpdir(dir);
}
END_TEST

/* --dumpdtb writes the generated device tree (Devicetree Specification
 * 5.2: big-endian magic 0xd00dfeed, then totalsize). */
START_TEST(test_dumpdtb)
{
    g_autofree char *dir = make_tmpdir();
    g_autofree char *hello = image("hello.elf");
    g_autofree char *dtb = g_build_filename(dir, "virt.dtb", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    Run r = RUN("--kernel", hello, "--dumpdtb", dtb);

    ASSERT_STATUS(r, STATUS_OFF);
    run_clear(&r);
    ck_assert_msg(g_file_get_contents(dtb, &data, &len, NULL), "%s was not written", dtb);
    ck_assert_uint_ge(len, 40);
    const uint8_t *b = (const uint8_t *)data;
    ck_assert_msg(b[0] == 0xd0 && b[1] == 0x0d && b[2] == 0xfe && b[3] == 0xed,
                  "bad DTB magic %02x %02x %02x %02x", b[0], b[1], b[2], b[3]);
    uint32_t total = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
    ck_assert_uint_eq(total, len);
    remove_tmpdir(dir);
}
END_TEST

/* --mtree: each CPU's root with its own GICv2 CPU interface at one address,
 * the devices' space, the PCI bus masters behind the IOMMU; nothing runs. */
START_TEST(test_mtree)
{
    g_autofree char *hello = image("hello.elf");
    Run r = RUN("--kernel", hello, "--smp", "2", "--mtree");
    ASSERT_STATUS(r, STATUS_OFF);
    ASSERT_HAS(r.out, "address-space: cpu1");
    ASSERT_HAS(r.out, "0000000008010000-0000000008011fff (prio 2, mmio): gic.cpuif0");
    ASSERT_HAS(r.out, "0000000008010000-0000000008011fff (prio 2, mmio): gic.cpuif1");
    ASSERT_HAS(r.out, "pci-dma.bus-master @iommu-ref");
    ck_assert_msg(strstr(r.out, "Hello from AArch64") == NULL, "the guest ran");
    run_clear(&r);
    r = RUN("--kernel", hello, "--smp", "2", "--mtree-flat");
    ASSERT_STATUS(r, STATUS_OFF);
    ASSERT_HAS(r.out, "layered on shared view of 'system'");
    run_clear(&r);
}
END_TEST

static Suite *guest_suite(void)
{
    Suite *s = suite_create("guest_arm");
    TCase *tc = tcase_create("guests");

    tcase_add_test(tc, test_hello);
    tcase_add_test(tc, test_hello_without_semihosting);
    tcase_add_test(tc, test_console_input);
    tcase_add_test(tc, test_semihosting);
    tcase_add_test(tc, test_exceptions);
    tcase_add_test(tc, test_mmu);
    tcase_add_test(tc, test_smp);
    tcase_add_test(tc, test_gicv2);
    tcase_add_test(tc, test_gicv3);
    tcase_add_test(tc, test_timer);
    tcase_add_test(tc, test_tlbi_broadcast);
    suite_add_tcase(s, tc);

    tc = tcase_create("cli");
    tcase_add_test(tc, test_truncated_elf);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_max_insns);
    tcase_add_test(tc, test_idle);
    tcase_add_test(tc, test_dumpdtb);
    tcase_add_test(tc, test_mtree);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(guest_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
