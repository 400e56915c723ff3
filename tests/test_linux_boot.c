/*
 * The Linux/x86 bzImage loader (machines/linux_boot.h) and its wiring into
 * the pc machine's --kernel, with synthetic bzImages built here: a setup
 * header (boot.rst) in a 1-sector setup part, then a tiny 32-bit payload.
 * No real kernel is needed.
 */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "machines/linux_boot.h"
#include "machines/pc.h"
#include "targets/x86/x86_internal.h"

#define SETUP_SECTS 1u
#define PM_OFFSET ((SETUP_SECTS + 1) * 512u)

/*
 * The payload, at 1 MiB in 32-bit protected mode (nasm -f bin, bits 32):
 *     or   edi, ebx            ; EDI stays 0 only if EBX and EBP were 0
 *     or   edi, ebp
 *     mov  dx, 0x3f8
 *     mov  ebx, [esi + 0x228]  ; boot_params.hdr.cmd_line_ptr
 * .l: mov  al, [ebx]           ; echo the command line to COM1
 *     test al, al
 *     jz   .d
 *     out  dx, al
 *     inc  ebx
 *     jmp  .l
 * .d: mov  al, [esi + 0x210]   ; boot_params.hdr.type_of_loader
 *     out  0xf4, al            ; debug-exit: status (al << 1) | 1
 */
static const uint8_t payload[] = {
    0x09, 0xdf, 0x09, 0xef, 0x66, 0xba, 0xf8, 0x03, 0x8b, 0x9e, 0x28, 0x02, 0x00, 0x00,
    0x8a, 0x03, 0x84, 0xc0, 0x74, 0x04, 0xee, 0x43, 0xeb, 0xf6,
    0x8a, 0x86, 0x10, 0x02, 0x00, 0x00, 0xe6, 0xf4,
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A protocol 2.15 bzImage: header fields as a modern kernel has them. */
static GByteArray *make_bzimage(uint16_t version)
{
    size_t len = PM_OFFSET + sizeof(payload);
    GByteArray *a = g_byte_array_sized_new((guint)len);
    uint8_t *p;

    g_byte_array_set_size(a, (guint)len);
    p = a->data;
    memset(p, 0, len);
    p[LB_SETUP_SECTS] = SETUP_SECTS;
    put32(p + LB_SYSSIZE, (uint32_t)((sizeof(payload) + 15) / 16) - 1);
    put16(p + LB_BOOT_FLAG, 0xaa55);
    p[LB_JUMP] = 0xeb;                       /* jmp short over the header */
    p[LB_JUMP + 1] = 0x6a;                   /* header ends at 0x26c */
    memcpy(p + LB_HEADER_MAGIC, "HdrS", 4);
    put16(p + LB_VERSION, version);
    p[LB_LOADFLAGS] = LB_LOADED_HIGH | LB_KEEP_SEGMENTS;  /* the loader must clear KEEP */
    put32(p + LB_CODE32_START, 0x100000);
    put32(p + LB_INITRD_ADDR_MAX, 0x7fffffff);
    put32(p + LB_KERNEL_ALIGNMENT, 0x200000);
    p[LB_RELOCATABLE] = 1;
    put32(p + LB_CMDLINE_SIZE, 0x7ff);
    put32(p + LB_PREF_ADDRESS, 0x1000000);
    put32(p + LB_INIT_SIZE, 0x20000);
    memcpy(p + PM_OFFSET, payload, sizeof(payload));
    return a;
}

static char *write_temp(const char *tmpl, const uint8_t *data, size_t len)
{
    char *path = NULL;
    int fd = g_file_open_tmp(tmpl, &path, NULL);

    ck_assert_int_ge(fd, 0);
    ck_assert(write(fd, data, len) == (ssize_t)len);
    close(fd);
    return path;
}

static uint64_t rd(PcMachine *pc, uint64_t addr, unsigned size)
{
    uint64_t v = 0;

    as_read_val(pc_machine_dma(pc), addr, mem_attrs_cpu(0), size, MEM_LITTLE_ENDIAN, &v);
    return v;
}

/* --- Booting a synthetic bzImage on the pc machine. --- */

START_TEST(test_boot_pc)
{
    GByteArray *img = make_bzimage(0x020f);
    uint8_t rd_data[5000];
    for (unsigned i = 0; i < sizeof(rd_data); i++) {
        rd_data[i] = (uint8_t)(i * 7 + 1);
    }
    char *kpath = write_temp("lb-kernel-XXXXXX", img->data, img->len);
    char *rpath = write_temp("lb-initrd-XXXXXX", rd_data, sizeof(rd_data));
    char *spath = write_temp("lb-serial-XXXXXX", NULL, 0);
    const char *cmdline = "console=ttyS0 root=/dev/null";
    PcConfig cfg = { .ram_size = 64u << 20, .kernel = kpath, .initrd = rpath,
                     .append = cmdline, .serial = PC_SERIAL_FILE, .serial_path = spath };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);

    ck_assert_msg(pc != NULL, "%s", err ? err->message : "?");
    ck_assert_ptr_null(pc_machine_boot(pc));
    const LinuxBoot *lb = pc_machine_linux_boot(pc);
    ck_assert_ptr_nonnull(lb);
    ck_assert_uint_eq(lb->version, 0x020f);
    ck_assert_uint_eq(lb->entry, 0x100000);
    ck_assert_uint_eq(lb->zero_page, LB_ZERO_PAGE);
    /* Relocatable with pref_address 16 MiB: it needs init_size from there. */
    ck_assert_uint_eq(lb->kernel_need_end, 0x1000000 + 0x20000);

    /* Entry state (boot.rst 32-bit protocol). */
    X86Cpu *cpu = pc_machine_cpu(pc, 0);
    ck_assert_uint_eq(cpu->rip, 0x100000);
    ck_assert_uint_eq(cpu->regs[R_SI], LB_ZERO_PAGE);
    ck_assert_uint_eq(cpu->regs[R_BX] | cpu->regs[R_DI] | cpu->regs[R_BP], 0);
    ck_assert_uint_eq(cpu->segs[S_CS].selector, 0x10);
    ck_assert_uint_eq(cpu->segs[S_DS].selector, 0x18);
    ck_assert_uint_eq(cpu->segs[S_SS].selector, 0x18);
    ck_assert(cpu->cr0 & X86_CR0_PE);
    ck_assert(!(cpu->cr0 & X86_CR0_PG));
    ck_assert(!(x86_get_eflags(cpu) & X86_IF));

    /* The zero page. */
    uint32_t zp = LB_ZERO_PAGE;
    ck_assert_uint_eq(rd(pc, zp + LB_HEADER_MAGIC, 4), 0x53726448);
    ck_assert_uint_eq(rd(pc, zp + LB_VERSION, 2), 0x020f);
    ck_assert_uint_eq(rd(pc, zp + LB_TYPE_OF_LOADER, 1), 0xff);
    ck_assert_uint_eq(rd(pc, zp + LB_LOADFLAGS, 1), LB_LOADED_HIGH | LB_CAN_USE_HEAP);
    ck_assert_uint_eq(rd(pc, zp + LB_CODE32_START, 4), 0x100000);
    ck_assert_uint_eq(rd(pc, zp + LB_CMDLINE_SIZE, 4), 0x7ff);   /* header copied */
    ck_assert_uint_eq(rd(pc, zp + LB_CMD_LINE_PTR, 4), LB_CMDLINE_BASE);
    for (size_t i = 0; i <= strlen(cmdline); i++) {
        ck_assert_uint_eq(rd(pc, LB_CMDLINE_BASE + i, 1), (uint8_t)cmdline[i]);
    }
    /* Beyond the copied header: zero (0x26c onwards). */
    ck_assert_uint_eq(rd(pc, zp + 0x26c, 4), 0);
    ck_assert_uint_eq(rd(pc, zp + LB_ALT_MEM_K, 4), (64u << 10) - 1024);

    /* E820: low RAM, the VGA/BIOS hole, RAM from 1 MiB, the BIOS ROM. */
    static const struct { uint64_t base, len; uint32_t type; } want[] = {
        { 0, 0xa0000, LB_E820_RAM },
        { 0xa0000, 0x60000, LB_E820_RESERVED },
        { 0x100000, (64u << 20) - 0x100000, LB_E820_RAM },
        { 0xfffe0000, 0x20000, LB_E820_RESERVED },
    };
    ck_assert_uint_eq(rd(pc, zp + LB_E820_ENTRIES, 1), G_N_ELEMENTS(want));
    for (unsigned i = 0; i < G_N_ELEMENTS(want); i++) {
        uint64_t e = zp + LB_E820_TABLE + LB_E820_ENTRY_SIZE * i;

        ck_assert_uint_eq(rd(pc, e, 8), want[i].base);
        ck_assert_uint_eq(rd(pc, e + 8, 8), want[i].len);
        ck_assert_uint_eq(rd(pc, e + 16, 4), want[i].type);
    }

    /* The initrd: as high as possible, 4 KiB aligned, the file's bytes. */
    uint32_t ird = (uint32_t)rd(pc, zp + LB_RAMDISK_IMAGE, 4);
    ck_assert_uint_eq(rd(pc, zp + LB_RAMDISK_SIZE, 4), sizeof(rd_data));
    ck_assert_uint_eq(ird, lb->initrd_addr);
    ck_assert_uint_eq(ird & 0xfff, 0);
    ck_assert_uint_eq(ird, ((64u << 20) - sizeof(rd_data)) & ~0xfffu);
    for (unsigned i = 0; i < sizeof(rd_data); i += 97) {
        ck_assert_uint_eq(rd(pc, ird + i, 1), rd_data[i]);
    }

    /* Run: the payload echoes the command line and exits with
     * type_of_loader, read through ESI. */
    /* (0xff << 1) | 1, of which a status keeps the low 8 bits. */
    int status = pc_machine_run(pc, &(PcRunLimits){ .max_insns = 100000 });
    ck_assert_int_eq(status, 0xff);
    ck_assert_int_eq(pc_machine_stop_reason(pc), PC_STOP_DEBUG_EXIT);
    ck_assert_uint_eq(cpu->regs[R_DI], 0);
    ck_assert_uint_eq(cpu->regs[R_SI], LB_ZERO_PAGE);
    pc_machine_free(pc);

    gchar *out = NULL;
    ck_assert(g_file_get_contents(spath, &out, NULL, NULL));
    ck_assert_str_eq(out, cmdline);
    g_free(out);
    g_unlink(kpath);
    g_unlink(rpath);
    g_unlink(spath);
    g_free(kpath);
    g_free(rpath);
    g_free(spath);
    g_byte_array_free(img, TRUE);
}
END_TEST

/* Without --initrd and --append: ramdisk fields 0, an empty command line. */
START_TEST(test_boot_pc_minimal)
{
    GByteArray *img = make_bzimage(0x0206);
    char *kpath = write_temp("lb-kernel-XXXXXX", img->data, img->len);
    PcConfig cfg = { .kernel = kpath, .serial = PC_SERIAL_NONE };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);

    ck_assert_msg(pc != NULL, "%s", err ? err->message : "?");
    ck_assert_uint_eq(rd(pc, LB_ZERO_PAGE + LB_RAMDISK_IMAGE, 4), 0);
    ck_assert_uint_eq(rd(pc, LB_ZERO_PAGE + LB_RAMDISK_SIZE, 4), 0);
    ck_assert_uint_eq(rd(pc, LB_CMDLINE_BASE, 1), 0);
    /* 2.06 has no init_size: the image alone from 1 MiB. */
    ck_assert_uint_eq(pc_machine_linux_boot(pc)->kernel_need_end, 0x100000 + sizeof(payload));
    ck_assert_int_eq(pc_machine_run(pc, &(PcRunLimits){ .max_insns = 100000 }), 0xff);
    pc_machine_free(pc);
    g_unlink(kpath);
    g_free(kpath);
    g_byte_array_free(img, TRUE);
}
END_TEST

/* A bzImage takes one initrd, not a multiboot module list. */
START_TEST(test_pc_initrd_list)
{
    GByteArray *img = make_bzimage(0x020f);
    char *kpath = write_temp("lb-kernel-XXXXXX", img->data, img->len);
    char *list = g_strdup_printf("%s,%s", kpath, kpath);
    PcConfig cfg = { .kernel = kpath, .initrd = list, .serial = PC_SERIAL_NONE };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);

    ck_assert_ptr_null(pc);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err->message, "one initrd file") != NULL, "%s", err->message);
    g_error_free(err);
    g_unlink(kpath);
    g_free(kpath);
    g_free(list);
    g_byte_array_free(img, TRUE);
}
END_TEST

/* --- Refusals, straight through the loader. --- */

#define LOW_RAM 0x100000u
#define HIGH_RAM (4u << 20)

static uint8_t low[LOW_RAM];
static uint8_t high[HIGH_RAM];

static LinuxBootConfig small_machine(void)
{
    static LinuxRamRange ram[2];
    static const LinuxE820Entry e820[] = {
        { 0, 0xa0000, LB_E820_RAM },
        { 0x100000, HIGH_RAM, LB_E820_RAM },
    };

    ram[0] = (LinuxRamRange){ 0, 0xa0000, low };
    ram[1] = (LinuxRamRange){ 0x100000, HIGH_RAM, high };
    return (LinuxBootConfig){ .ram = ram, .n_ram = 2, .e820 = e820, .n_e820 = 2,
                              .cmdline = "x" };
}

/* The loader refuses `img` (len bytes) with a message that starts with the
 * name and contains `what`, and writes nothing. */
static void expect_refusal(const uint8_t *img, size_t len, const LinuxBootConfig *cfg,
                           const uint8_t *initrd, size_t initrd_len, const char *what)
{
    LinuxBoot lb;
    GError *err = NULL;

    memset(low, 0xa5, sizeof(low));
    memset(high, 0x5a, sizeof(high));
    ck_assert(!linux_boot_load_image("bz.img", img, len, "rd.img", initrd, initrd_len, cfg, &lb,
                                     &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(g_str_has_prefix(err->message, initrd ? "" : "bz.img: "), "%s", err->message);
    ck_assert_msg(strstr(err->message, what) != NULL, "'%s' lacks '%s'", err->message, what);
    g_error_free(err);
    for (size_t i = 0; i < sizeof(low); i += 251) {
        ck_assert_uint_eq(low[i], 0xa5);
    }
    for (size_t i = 0; i < sizeof(high); i += 251) {
        ck_assert_uint_eq(high[i], 0x5a);
    }
}

START_TEST(test_refusals)
{
    LinuxBootConfig cfg = small_machine();
    GByteArray *good = make_bzimage(0x020f);
    size_t len = good->len;

    put32(good->data + LB_PREF_ADDRESS, 0x100000);  /* this machine has 5 MiB */
    uint8_t *img = g_memdup2(good->data, len);

    /* The good image loads (and the checks below start from it). */
    LinuxBoot lb;
    GError *err = NULL;
    ck_assert_msg(linux_boot_load_image("bz.img", img, len, NULL, NULL, 0, &cfg, &lb, &err),
                  "%s", err ? err->message : "?");
    ck_assert_mem_eq(high, payload, sizeof(payload));

    /* No "HdrS". */
    img[LB_HEADER_MAGIC] = 'X';
    expect_refusal(img, len, &cfg, NULL, 0, "not a bzImage");
    memcpy(img, good->data, len);
    /* Protocol 2.05 and older. */
    put16(img + LB_VERSION, 0x0205);
    expect_refusal(img, len, &cfg, NULL, 0, "2.05 is too old");
    memcpy(img, good->data, len);
    /* Truncated inside the header. */
    expect_refusal(img, 0x240, &cfg, NULL, 0, "truncated");
    /* A header too short for its version. */
    img[LB_JUMP + 1] = 0x30;
    expect_refusal(img, len, &cfg, NULL, 0, "too short");
    memcpy(img, good->data, len);
    /* boot_flag. */
    put16(img + LB_BOOT_FLAG, 0);
    expect_refusal(img, len, &cfg, NULL, 0, "boot_flag");
    memcpy(img, good->data, len);
    /* A zImage. */
    img[LB_LOADFLAGS] = 0;
    expect_refusal(img, len, &cfg, NULL, 0, "zImage");
    memcpy(img, good->data, len);
    /* setup_sects beyond the file. */
    img[LB_SETUP_SECTS] = 2;
    expect_refusal(img, len, &cfg, NULL, 0, "setup_sects 2");
    memcpy(img, good->data, len);
    /* The protected-mode kernel shorter than syssize says. */
    expect_refusal(img, len - 20, &cfg, NULL, 0, "syssize");
    /* init_size beyond RAM (and pref_address + init_size). */
    put32(img + LB_INIT_SIZE, 8u << 20);
    expect_refusal(img, len, &cfg, NULL, 0, "more than this machine's RAM");
    memcpy(img, good->data, len);
    /* Not relocatable: pref_address does not count, so this fits... */
    img[LB_RELOCATABLE] = 0;
    put32(img + LB_PREF_ADDRESS, 0x8000000);
    ck_assert(linux_boot_load_image("bz.img", img, len, NULL, NULL, 0, &cfg, &lb, NULL));
    /* ...but relocatable, it does not. */
    img[LB_RELOCATABLE] = 1;
    expect_refusal(img, len, &cfg, NULL, 0, "pref_address 0x8000000");
    memcpy(img, good->data, len);
    /* A command line longer than cmdline_size. */
    put32(img + LB_CMDLINE_SIZE, 0);
    expect_refusal(img, len, &cfg, NULL, 0, "cmdline_size 0");
    memcpy(img, good->data, len);
    /* An initrd that does not fit above the kernel. */
    put32(img + LB_PREF_ADDRESS, 0x100000);
    static uint8_t big[HIGH_RAM];
    expect_refusal(img, len, &cfg, big, sizeof(big), "rd.img: initrd of");
    /* ...nor below initrd_addr_max. */
    put32(img + LB_INITRD_ADDR_MAX, 0x100fff);
    expect_refusal(img, len, &cfg, big, 16, "initrd_addr_max 0x100fff");

    g_free(img);
    g_byte_array_free(good, TRUE);
}
END_TEST

/* initrd_addr_max caps the initrd's last byte; the placement stays 4 KiB
 * aligned and above what the kernel needs. */
START_TEST(test_initrd_placement)
{
    LinuxBootConfig cfg = small_machine();
    GByteArray *img = make_bzimage(0x020f);
    uint8_t rdd[100] = { 1, 2, 3 };
    LinuxBoot lb;
    GError *err = NULL;

    put32(img->data + LB_PREF_ADDRESS, 0x100000);
    put32(img->data + LB_INITRD_ADDR_MAX, 0x3fffff);
    ck_assert_msg(linux_boot_load_image("bz.img", img->data, img->len, "rd", rdd, sizeof(rdd),
                                        &cfg, &lb, &err), "%s", err ? err->message : "?");
    ck_assert_uint_eq(lb.initrd_addr, 0x3ff000);
    ck_assert_uint_eq(lb.initrd_size, sizeof(rdd));
    ck_assert_mem_eq(high + (0x3ff000 - 0x100000), rdd, sizeof(rdd));
    ck_assert_uint_eq(get32(low + LB_ZERO_PAGE + LB_RAMDISK_IMAGE), 0x3ff000);
    /* The E820 table as given. */
    ck_assert_uint_eq(low[LB_ZERO_PAGE + LB_E820_ENTRIES], 2);
    ck_assert_uint_eq(get64(low + LB_ZERO_PAGE + LB_E820_TABLE + 20), 0x100000);
    ck_assert_uint_eq(get64(low + LB_ZERO_PAGE + LB_E820_TABLE + 28), HIGH_RAM);
    /* The GDT: flat __BOOT_CS and __BOOT_DS. */
    ck_assert_uint_eq(get64(low + LB_GDT_BASE + LB_BOOT_CS), UINT64_C(0x00cf9b000000ffff));
    ck_assert_uint_eq(get64(low + LB_GDT_BASE + LB_BOOT_DS), UINT64_C(0x00cf93000000ffff));
    g_byte_array_free(img, TRUE);
}
END_TEST

static Suite *linux_boot_suite(void)
{
    Suite *s = suite_create("linux_boot");
    TCase *tc = tcase_create("pc");

    tcase_add_test(tc, test_boot_pc);
    tcase_add_test(tc, test_boot_pc_minimal);
    tcase_add_test(tc, test_pc_initrd_list);
    suite_add_tcase(s, tc);
    tc = tcase_create("loader");
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_initrd_placement);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(linux_boot_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
