/*
 * Boot support of the AArch64 virt machine: the kernel loader
 * (machines/arm_boot.h), the device tree (machines/virt_fdt.h) and Arm
 * semihosting (machines/arm_semihosting.h).
 *
 * Loader: files crafted here (ELF64 headers built by hand, Linux Image
 * headers, raw binaries) are written to a temporary directory and loaded
 * into a host buffer standing for 16 MiB of RAM at 0x40000000. Every refusal
 * is checked for its error code, for the file name and key words in its
 * message, and for leaving RAM untouched.
 *
 * Device tree: the blob is walked with libfdt.
 *
 * Semihosting: through a fake flat guest memory (with holes), and through a
 * hand-made ArmCpu with a real TLB and MMU (arm_test_util.h), MMU off and on.
 */
#include "arm_test_util.h"

#include <glib/gstdio.h>
#include <libfdt.h>
#include <unistd.h>

#include "machines/arm_boot.h"
#include "machines/arm_semihosting.h"
#include "machines/virt_fdt.h"

#define RAM_BASE UINT64_C(0x40000000)
#define RAMSZ    (UINT64_C(16) << 20)
#define FILL     0xa5

static char *g_dir;
static uint8_t *g_bootram;

static void boot_setup(void)
{
    GError *err = NULL;

    g_dir = g_dir_make_tmp("mmusim-arm-boot-XXXXXX", &err);
    ck_assert_ptr_nonnull(g_dir);
    g_bootram = g_malloc(RAMSZ);
    memset(g_bootram, FILL, RAMSZ);
}

static void boot_teardown(void)
{
    GDir *d = g_dir_open(g_dir, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        char *p = g_build_filename(g_dir, n, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(g_dir);
    g_free(g_dir);
    g_free(g_bootram);
}

/* Write `len` bytes to a new file named `name` in the temp dir. */
static char *put_file(const char *name, const void *data, size_t len)
{
    char *p = g_build_filename(g_dir, name, NULL);
    GError *err = NULL;

    ck_assert(g_file_set_contents(p, data, (gssize)len, &err));
    return p;
}

static bool ram_untouched(void)
{
    for (uint64_t i = 0; i < RAMSZ; i++) {
        if (g_bootram[i] != FILL) {
            return false;
        }
    }
    return true;
}

static uint8_t *ram_at(uint64_t pa)
{
    return g_bootram + (pa - RAM_BASE);
}

static void p16(uint8_t *b, size_t off, uint16_t v)
{
    b[off] = (uint8_t)v;
    b[off + 1] = (uint8_t)(v >> 8);
}

static void p32(uint8_t *b, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        b[off + i] = (uint8_t)(v >> (8 * i));
    }
}

static void p64(uint8_t *b, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        b[off + i] = (uint8_t)(v >> (8 * i));
    }
}

/* --- ELF64 images built by hand (ELF-64 Object File Format). --- */

#define EB_SIZE 0x3000
typedef struct Elf {
    uint8_t b[EB_SIZE];
    size_t len;
} Elf;

/* A valid image: header, 3 program headers at 64, data from 0x1000:
 * [0] PT_LOAD 16 bytes at 0x40080000, memsz 0x100 (BSS)
 * [1] PT_NOTE
 * [2] PT_LOAD 32 bytes at 0x40100000, memsz 32. Entry 0x40080000. */
static void elf_init(Elf *e)
{
    memset(e, 0, sizeof(*e));
    memcpy(e->b, "\x7f" "ELF", 4);
    e->b[4] = 2;   /* ELFCLASS64 */
    e->b[5] = 1;   /* little-endian */
    e->b[6] = 1;   /* EV_CURRENT */
    p16(e->b, 16, 2);     /* ET_EXEC */
    p16(e->b, 18, 183);   /* EM_AARCH64 */
    p32(e->b, 20, 1);
    p64(e->b, 24, 0x40080000);
    p64(e->b, 32, 64);    /* e_phoff */
    p16(e->b, 52, 64);
    p16(e->b, 54, 56);
    p16(e->b, 56, 3);
    /* phdr i at 64 + 56 i: type, flags, offset, vaddr, paddr, filesz, memsz, align */
    size_t ph = 64;
    p32(e->b, ph, 1);
    p64(e->b, ph + 8, 0x1000);
    p64(e->b, ph + 16, 0x40080000);
    p64(e->b, ph + 24, 0x40080000);
    p64(e->b, ph + 32, 16);
    p64(e->b, ph + 40, 0x100);
    ph += 56;
    p32(e->b, ph, 4);   /* PT_NOTE */
    p64(e->b, ph + 8, 0x1800);
    p64(e->b, ph + 32, 8);
    p64(e->b, ph + 40, 8);
    ph += 56;
    p32(e->b, ph, 1);
    p64(e->b, ph + 8, 0x2000);
    p64(e->b, ph + 16, 0x40100000);
    p64(e->b, ph + 24, 0x40100000);
    p64(e->b, ph + 32, 32);
    p64(e->b, ph + 40, 32);
    for (int i = 0; i < 16; i++) {
        e->b[0x1000 + i] = (uint8_t)(0x10 + i);
    }
    for (int i = 0; i < 32; i++) {
        e->b[0x2000 + i] = (uint8_t)(0x80 + i);
    }
    e->len = 0x2020;
}

#define PH(i, field) (64 + 56 * (i) + (field))
enum { F_TYPE = 0, F_OFF = 8, F_VADDR = 16, F_PADDR = 24, F_FILESZ = 32, F_MEMSZ = 40 };

static bool load_file(const char *name, const void *data, size_t len, const char *initrd_name,
                      const void *initrd, size_t initrd_len, ArmBootInfo *bi, GError **err)
{
    char *k = put_file(name, data, len);
    char *i = initrd_name ? put_file(initrd_name, initrd, initrd_len) : NULL;
    bool ok = arm_boot_load(k, i, g_bootram, RAM_BASE, RAMSZ, bi, err);

    g_free(k);
    g_free(i);
    return ok;
}

/* Refused with `code`, a message holding the file name and each key word,
 * RAM untouched. */
static void expect_refused(const char *name, const void *data, size_t len, int code,
                           const char *const *words)
{
    ArmBootInfo bi;
    GError *err = NULL;

    ck_assert_msg(!load_file(name, data, len, NULL, NULL, 0, &bi, &err), "%s loaded", name);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(err->domain == ARM_BOOT_ERROR && err->code == code,
                  "%s: code %d, want %d: %s", name, err->code, code, err->message);
    ck_assert_msg(strstr(err->message, name), "%s: message without the file name: %s", name,
                  err->message);
    for (unsigned i = 0; words && words[i]; i++) {
        ck_assert_msg(strstr(err->message, words[i]), "%s: '%s' not in: %s", name, words[i],
                      err->message);
    }
    ck_assert_msg(ram_untouched(), "%s: RAM written", name);
    g_error_free(err);
}

#define WORDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

START_TEST(test_elf_valid)
{
    Elf e;
    ArmBootInfo bi;
    GError *err = NULL;

    elf_init(&e);
    ck_assert(load_file("k.elf", e.b, e.len, NULL, NULL, 0, &bi, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_int_eq(bi.kind, ARM_BOOT_KIND_ELF);
    ck_assert(!bi.linux_image);
    ck_assert_uint_eq(bi.entry, 0x40080000);
    ck_assert_uint_eq(bi.kernel_low, 0x40080000);
    ck_assert_uint_eq(bi.kernel_high, 0x40100020);
    ck_assert_uint_eq(bi.initrd_size, 0);
    for (int i = 0; i < 16; i++) {
        ck_assert_uint_eq(*ram_at(0x40080000 + i), 0x10 + i);
    }
    for (int i = 16; i < 0x100; i++) {
        ck_assert_uint_eq(*ram_at(0x40080000 + i), 0);   /* BSS zeroed */
    }
    ck_assert_uint_eq(*ram_at(0x40080100), FILL);       /* nothing beyond p_memsz */
    ck_assert_uint_eq(*ram_at(0x40100000), 0x80);
    ck_assert_uint_eq(*ram_at(0x4010001f), 0x9f);
    ck_assert_uint_eq(*ram_at(0x40100020), FILL);
    ck_assert_uint_eq(*ram_at(RAM_BASE), FILL);

    /* A bare-metal ELF above the DTB: the DTB goes at RAM base. */
    uint64_t dtb;
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x2000, &dtb, &err));
    ck_assert_uint_eq(dtb, RAM_BASE);
    /* Larger than the room below the kernel: after it, 4 KiB aligned. */
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x80001, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40101000);
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x80000, &dtb, &err));
    ck_assert_uint_eq(dtb, RAM_BASE);
}
END_TEST

START_TEST(test_elf_variants)
{
    Elf e;
    ArmBootInfo bi;
    GError *err = NULL;

    /* ET_DYN: loaded where linked. */
    elf_init(&e);
    p16(e.b, 16, 3);
    ck_assert(load_file("dyn.elf", e.b, e.len, NULL, NULL, 0, &bi, &err));
    ck_assert_uint_eq(bi.entry, 0x40080000);

    /* Linked high, loaded low: the virtual entry becomes physical. */
    elf_init(&e);
    p64(e.b, PH(0, F_VADDR), UINT64_C(0xffff000010000000));
    p64(e.b, 24, UINT64_C(0xffff000010000008));
    ck_assert(load_file("high.elf", e.b, e.len, NULL, NULL, 0, &bi, &err));
    ck_assert_uint_eq(bi.entry, 0x40080008);

    /* A segment at RAM base and an initrd: the DTB goes after the initrd. */
    elf_init(&e);
    p64(e.b, PH(0, F_PADDR), RAM_BASE);
    p64(e.b, 24, RAM_BASE + 4);
    static const uint8_t rd[5000] = { 1, 2, 3 };
    ck_assert(load_file("low.elf", e.b, e.len, "rd.img", rd, sizeof(rd), &bi, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_uint_eq(bi.entry, RAM_BASE + 4);
    ck_assert_uint_eq(bi.kernel_low, RAM_BASE);
    ck_assert_uint_eq(bi.initrd_start, 0x40101000);
    ck_assert_uint_eq(bi.initrd_size, sizeof(rd));
    ck_assert_uint_eq(*ram_at(0x40101000), 1);
    ck_assert_uint_eq(*ram_at(0x40101002), 3);
    uint64_t dtb;
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1000, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40103000);
}
END_TEST

START_TEST(test_elf_malformed)
{
    Elf e;

    elf_init(&e);
    expect_refused("short.elf", e.b, 40, ARM_BOOT_ERROR_FORMAT, WORDS("truncated ELF header"));

    elf_init(&e);
    e.b[4] = 1;
    p16(e.b, 18, 40);
    expect_refused("a32.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("ELF32", "AArch32"));

    elf_init(&e);
    e.b[4] = 7;
    expect_refused("class.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("ELF class 7"));

    elf_init(&e);
    e.b[5] = 2;
    expect_refused("be.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("big-endian"));

    elf_init(&e);
    e.b[6] = 9;
    expect_refused("ver.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("version"));

    elf_init(&e);
    p16(e.b, 18, 62);
    expect_refused("x86.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("x86-64", "not AArch64"));

    elf_init(&e);
    p16(e.b, 16, 1);
    expect_refused("obj.o", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("relocatable"));

    elf_init(&e);
    p16(e.b, 16, 4);
    expect_refused("core", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("core dump"));

    elf_init(&e);
    p16(e.b, 56, 0);
    expect_refused("nophdr.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT,
                   WORDS("without program headers"));

    elf_init(&e);
    p16(e.b, 54, 32);
    expect_refused("phent.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("program header size"));

    elf_init(&e);
    p64(e.b, 32, 0x2000);
    expect_refused("phoff.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT,
                   WORDS("program headers", "beyond the end"));

    elf_init(&e);
    p64(e.b, 32, UINT64_MAX - 8);
    expect_refused("phwrap.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("program headers"));

    elf_init(&e);
    p64(e.b, PH(0, F_FILESZ), 0x200);
    expect_refused("filesz.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT,
                   WORDS("segment 0", "p_filesz 0x200", "p_memsz 0x100"));

    elf_init(&e);
    p64(e.b, PH(2, F_OFF), 0x2010);
    expect_refused("trunc.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT,
                   WORDS("truncated", "segment 2", "beyond the end"));

    elf_init(&e);
    p64(e.b, PH(2, F_OFF), UINT64_MAX);
    expect_refused("offwrap.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("segment 2"));

    elf_init(&e);
    p64(e.b, PH(0, F_PADDR), 0x10000000);
    expect_refused("low.elf", e.b, e.len, ARM_BOOT_ERROR_RANGE,
                   WORDS("segment 0 [0x10000000, 0x10000100) is outside RAM "
                         "[0x40000000, 0x41000000)"));

    elf_init(&e);
    p64(e.b, PH(2, F_PADDR), 0x40fffff0);
    expect_refused("end.elf", e.b, e.len, ARM_BOOT_ERROR_RANGE,
                   WORDS("segment 2 [0x40fffff0, 0x41000010) is outside RAM"));

    elf_init(&e);
    p64(e.b, PH(0, F_PADDR), UINT64_MAX - 0x10);
    expect_refused("wrap.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("segment 0", "overflows"));

    elf_init(&e);
    p64(e.b, 24, 0x40200000);
    expect_refused("entry.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT,
                   WORDS("entry point 0x40200000", "outside the loaded segments"));

    elf_init(&e);
    p32(e.b, PH(0, F_TYPE), 6);
    p32(e.b, PH(2, F_TYPE), 6);
    expect_refused("noload.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("loadable segment"));

    elf_init(&e);
    p16(e.b, 56, 0xffff);
    expect_refused("xnum.elf", e.b, e.len, ARM_BOOT_ERROR_FORMAT, WORDS("program headers"));

    /* Every single-byte corruption of the headers: refused or loaded,
     * never a crash, and RAM stays inside its buffer (checked by ASan). */
    ArmBootRam ram = { g_bootram, RAM_BASE, RAMSZ };
    for (size_t off = 0; off < 64 + 3 * 56; off++) {
        for (unsigned v = 0; v < 256; v += 51) {
            ArmBootInfo bi;
            GError *err = NULL;

            elf_init(&e);
            e.b[off] = (uint8_t)v;
            if (!arm_boot_load_images("fuzz.elf", e.b, e.len, NULL, NULL, 0, &ram, &bi, &err)) {
                ck_assert(strstr(err->message, "fuzz.elf"));
                g_error_free(err);
            }
        }
    }
}
END_TEST

/* --- Linux Image (booting.rst). --- */

static size_t image_init(uint8_t *b, size_t len, uint64_t text_offset, uint64_t image_size,
                         uint64_t flags)
{
    memset(b, 0, len);
    p32(b, 0, 0x14000010);   /* b +64: code0 */
    p64(b, 0x08, text_offset);
    p64(b, 0x10, image_size);
    p64(b, 0x18, flags);
    p32(b, 0x38, 0x644d5241);
    for (size_t i = 64; i < len; i++) {
        b[i] = (uint8_t)i;
    }
    return len;
}

START_TEST(test_linux_image)
{
    static uint8_t b[0x3000];
    ArmBootInfo bi;
    GError *err = NULL;
    uint64_t dtb;

    image_init(b, sizeof(b), 0x80000, 0x200000, 0xa);
    static const uint8_t rd[100] = { 7 };
    ck_assert(load_file("Image", b, sizeof(b), "initrd", rd, sizeof(rd), &bi, &err));
    TU_ASSERT_NO_ERROR(err);
    ck_assert_int_eq(bi.kind, ARM_BOOT_KIND_LINUX_IMAGE);
    ck_assert(bi.linux_image);
    ck_assert_uint_eq(bi.entry, 0x40080000);
    ck_assert_uint_eq(bi.kernel_low, 0x40080000);
    ck_assert_uint_eq(bi.kernel_high, 0x40280000);
    ck_assert_int_eq(memcmp(ram_at(0x40080000), b, sizeof(b)), 0);
    ck_assert_uint_eq(*ram_at(0x40080000 + sizeof(b)), FILL);  /* BSS is the kernel's job */
    ck_assert_uint_eq(bi.initrd_start, 0x40400000);
    ck_assert_uint_eq(bi.initrd_size, 100);
    ck_assert_uint_eq(*ram_at(0x40400000), 7);
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1000, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40600000);
    ck_assert_uint_eq(dtb % 8, 0);

    /* Modern kernels: text_offset 0, at RAM base; DTB at the next 2 MiB. */
    memset(g_bootram, FILL, RAMSZ);
    image_init(b, sizeof(b), 0, 0x123000, 0);
    ck_assert(load_file("Image0", b, sizeof(b), NULL, NULL, 0, &bi, &err));
    ck_assert_uint_eq(bi.entry, RAM_BASE);
    ck_assert_uint_eq(bi.kernel_high, RAM_BASE + 0x123000);
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1000, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40200000);

    /* image_size 0 (before 3.17): at 0x80000, text_offset ignored. */
    image_init(b, sizeof(b), 0x1234, 0, 0);
    ck_assert(load_file("Image-old", b, sizeof(b), NULL, NULL, 0, &bi, &err));
    ck_assert_uint_eq(bi.entry, 0x40080000);
    ck_assert_uint_eq(bi.kernel_high, 0x40080000 + sizeof(b));
    ck_assert(bi.footprint_unknown);
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1000, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40800000);   /* half of the 16 MiB kept for its BSS */

    /* Refusals. */
    memset(g_bootram, FILL, RAMSZ);
    image_init(b, sizeof(b), 0x80000, 0x200000, 1);
    expect_refused("Image-be", b, sizeof(b), ARM_BOOT_ERROR_FORMAT, WORDS("big-endian"));
    image_init(b, sizeof(b), 0x80000, RAMSZ, 0);
    expect_refused("Image-big", b, sizeof(b), ARM_BOOT_ERROR_RANGE,
                   WORDS("Linux Image", "beyond RAM"));
    image_init(b, sizeof(b), UINT64_MAX - 4, 0x1000, 0);
    expect_refused("Image-off", b, sizeof(b), ARM_BOOT_ERROR_RANGE, WORDS("beyond RAM"));
    image_init(b, sizeof(b), 0, UINT64_MAX, 0);
    expect_refused("Image-huge", b, sizeof(b), ARM_BOOT_ERROR_RANGE, WORDS("beyond RAM"));

    /* An initrd that does not fit after the kernel. */
    image_init(b, sizeof(b), 0x80000, 0x200000, 0);
    char *k = put_file("Image", b, sizeof(b));
    uint8_t *big = g_malloc0(RAMSZ - 0x400000 + 1);
    char *i = put_file("big.cpio", big, RAMSZ - 0x400000 + 1);
    ck_assert(!arm_boot_load(k, i, g_bootram, RAM_BASE, RAMSZ, &bi, &err));
    ck_assert_int_eq(err->code, ARM_BOOT_ERROR_RANGE);
    ck_assert(strstr(err->message, "big.cpio") && strstr(err->message, "initrd"));
    g_clear_error(&err);
    ck_assert(ram_untouched());
    /* One byte less fits, exactly to the end of RAM; then no room for a DTB. */
    g_free(i);
    i = put_file("fit.cpio", big, RAMSZ - 0x400000);
    ck_assert(arm_boot_load(k, i, g_bootram, RAM_BASE, RAMSZ, &bi, &err));
    ck_assert(!arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1000, &dtb, &err));
    ck_assert_int_eq(err->code, ARM_BOOT_ERROR_RANGE);
    ck_assert(strstr(err->message, "does not fit"));
    g_clear_error(&err);
    g_free(i);
    /* Empty initrd. */
    i = put_file("empty.cpio", "", 0);
    ck_assert(!arm_boot_load(k, i, g_bootram, RAM_BASE, RAMSZ, &bi, &err));
    ck_assert(strstr(err->message, "empty.cpio") && strstr(err->message, "empty"));
    g_clear_error(&err);
    g_free(i);
    g_free(k);
    g_free(big);
}
END_TEST

START_TEST(test_raw_and_files)
{
    static const uint8_t code[] = { 0x00, 0x00, 0x80, 0xd2, 0x00, 0x00, 0x20, 0xd4 };
    ArmBootInfo bi;
    GError *err = NULL;
    uint64_t dtb;

    ck_assert(load_file("prog.bin", code, sizeof(code), NULL, NULL, 0, &bi, &err));
    ck_assert_int_eq(bi.kind, ARM_BOOT_KIND_RAW);
    ck_assert_uint_eq(bi.entry, 0x40080000);
    ck_assert_int_eq(memcmp(ram_at(0x40080000), code, sizeof(code)), 0);
    ck_assert(bi.footprint_unknown);
    /* Its BSS size is unknown: the DTB keeps half of RAM away. */
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1800, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40800000);
    /* So does the initrd; the DTB follows it. */
    static const uint8_t rd[0x1800] = { 9 };
    ck_assert(load_file("prog2.bin", code, sizeof(code), "rd", rd, sizeof(rd), &bi, &err));
    ck_assert_uint_eq(bi.initrd_start, 0x40800000);
    ck_assert_uint_eq(*ram_at(0x40800000), 9);
    ck_assert(arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0x1800, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x40802000);
    /* 1 GiB of RAM: 128 MiB kept. */
    ck_assert(arm_boot_dtb_addr(&(ArmBootInfo){ .kind = ARM_BOOT_KIND_RAW,
                                                .kernel_low = 0x40080000,
                                                .kernel_high = 0x40080008,
                                                .footprint_unknown = true },
                                RAM_BASE, UINT64_C(1) << 30, 0x1800, &dtb, &err));
    ck_assert_uint_eq(dtb, 0x48000000);

    /* Short files starting like ELF or Image headers are raw binaries. */
    ck_assert(load_file("elfish.bin", "\x7f" "EL", 3, NULL, NULL, 0, &bi, &err));
    ck_assert_int_eq(bi.kind, ARM_BOOT_KIND_RAW);

    memset(g_bootram, FILL, RAMSZ);
    expect_refused("empty.bin", "", 0, ARM_BOOT_ERROR_FORMAT, WORDS("empty"));
    uint8_t *big = g_malloc0(RAMSZ);
    expect_refused("big.bin", big, RAMSZ - 0x80000 + 1, ARM_BOOT_ERROR_RANGE,
                   WORDS("does not fit in RAM"));
    g_free(big);

    char *missing = g_build_filename(g_dir, "missing", NULL);
    ck_assert(!arm_boot_load(missing, NULL, g_bootram, RAM_BASE, RAMSZ, &bi, &err));
    ck_assert_int_eq(err->code, ARM_BOOT_ERROR_IO);
    ck_assert(strstr(err->message, missing) && strstr(err->message, "cannot open"));
    g_clear_error(&err);
    ck_assert(!arm_boot_load(g_dir, NULL, g_bootram, RAM_BASE, RAMSZ, &bi, &err));
    ck_assert(strstr(err->message, "directory"));
    g_clear_error(&err);
    char *k = put_file("ok.bin", code, sizeof(code));
    ck_assert(!arm_boot_load(k, missing, g_bootram, RAM_BASE, RAMSZ, &bi, &err));
    ck_assert(strstr(err->message, missing));
    g_clear_error(&err);
    ck_assert(ram_untouched());
    uint8_t *data;
    size_t len;
    ck_assert(!arm_boot_read_file(k, 4, &data, &len, &err));
    ck_assert(strstr(err->message, "too large"));
    g_clear_error(&err);
    g_free(k);
    g_free(missing);

    /* DTB sizes. */
    ck_assert(!arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, ARM_BOOT_DTB_MAX + 1, &dtb, &err));
    ck_assert(strstr(err->message, "at most"));
    g_clear_error(&err);
    ck_assert(!arm_boot_dtb_addr(&bi, RAM_BASE, RAMSZ, 0, &dtb, &err));
    g_clear_error(&err);
}
END_TEST

/* --- Device tree. --- */

static const VirtFdtConfig *base_cfg(VirtFdtConfig *c)
{
    *c = (VirtFdtConfig){
        .smp = 2,
        .ram_base = RAM_BASE, .ram_size = UINT64_C(128) << 20,
        .gic_version = 2,
        .gicd_base = 0x08000000, .gicd_size = 0x10000,
        .gicc_base = 0x08010000, .gicc_size = 0x10000,
        .gicr_base = 0x080a0000, .gicr_size = 0xf60000,
        .uart_base = 0x09000000, .uart_size = 0x1000, .uart_spi = 1,
        .psci_method = "hvc",
        .pcie_ecam_base = 0x4010000000ull, .pcie_ecam_size = 0x10000000, .pcie_buses = 256,
        .pcie_mmio_base = 0x10000000, .pcie_mmio_size = 0x2eff0000,
        .pcie_irq_spi_base = 3,
        .iommu_base = 0x09050000, .iommu_size = 0x1000,
        .bootargs = "console=ttyAMA0 earlycon",
        .initrd_start = 0x48000000, .initrd_end = 0x48100000,
    };
    return c;
}

static int node(const void *fdt, const char *path)
{
    int off = fdt_path_offset(fdt, path);

    ck_assert_msg(off >= 0, "no node %s: %s", path, fdt_strerror(off));
    return off;
}

static const void *getprop(const void *fdt, const char *path, const char *name, int *len)
{
    const void *p = fdt_getprop(fdt, node(fdt, path), name, len);

    ck_assert_msg(p, "no %s in %s", name, path);
    return p;
}

static void check_str(const void *fdt, const char *path, const char *name, const char *want)
{
    int len;
    const char *s = getprop(fdt, path, name, &len);

    ck_assert_int_eq(len, (int)strlen(want) + 1);
    ck_assert_str_eq(s, want);
}

/* Cell i of a property. */
static uint32_t cell(const void *fdt, const char *path, const char *name, int i)
{
    int len;
    const fdt32_t *c = getprop(fdt, path, name, &len);

    ck_assert_msg((i + 1) * 4 <= len, "%s %s: cell %d of %d bytes", path, name, i, len);
    return fdt32_to_cpu(c[i]);
}

static int prop_len(const void *fdt, const char *path, const char *name)
{
    int len;

    getprop(fdt, path, name, &len);
    return len;
}

static void *build_ok(const VirtFdtConfig *c, size_t *size)
{
    GError *err = NULL;
    void *fdt = virt_fdt_build(c, size, &err);

    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(fdt);
    ck_assert_int_eq(fdt_check_header(fdt), 0);
    ck_assert_uint_eq(fdt_totalsize(fdt), *size);
    return fdt;
}

START_TEST(test_fdt_gicv2)
{
    VirtFdtConfig c;
    size_t size;
    void *fdt = build_ok(base_cfg(&c), &size);

    ck_assert_uint_lt(size, 8192);
    check_str(fdt, "/", "compatible", "linux,dummy-virt");
    check_str(fdt, "/", "model", "mmusim virt");
    ck_assert_uint_eq(cell(fdt, "/", "#address-cells", 0), 2);
    ck_assert_uint_eq(cell(fdt, "/", "#size-cells", 0), 2);
    ck_assert_uint_eq(cell(fdt, "/", "interrupt-parent", 0), VIRT_FDT_PHANDLE_GIC);

    check_str(fdt, "/chosen", "bootargs", "console=ttyAMA0 earlycon");
    check_str(fdt, "/chosen", "stdout-path", "/pl011@9000000");
    check_str(fdt, "/aliases", "serial0", "/pl011@9000000");
    ck_assert_int_eq(prop_len(fdt, "/chosen", "linux,initrd-start"), 8);
    ck_assert_uint_eq(cell(fdt, "/chosen", "linux,initrd-start", 1), 0x48000000);
    ck_assert_uint_eq(cell(fdt, "/chosen", "linux,initrd-end", 1), 0x48100000);

    check_str(fdt, "/memory@40000000", "device_type", "memory");
    ck_assert_int_eq(prop_len(fdt, "/memory@40000000", "reg"), 16);
    ck_assert_uint_eq(cell(fdt, "/memory@40000000", "reg", 1), 0x40000000);
    ck_assert_uint_eq(cell(fdt, "/memory@40000000", "reg", 3), 0x08000000);

    ck_assert_uint_eq(cell(fdt, "/cpus", "#address-cells", 0), 1);
    ck_assert_uint_eq(cell(fdt, "/cpus", "#size-cells", 0), 0);
    check_str(fdt, "/cpus/cpu@0", "device_type", "cpu");
    check_str(fdt, "/cpus/cpu@0", "compatible", "arm,cortex-a57");
    check_str(fdt, "/cpus/cpu@1", "enable-method", "psci");
    ck_assert_uint_eq(cell(fdt, "/cpus/cpu@1", "reg", 0), 1);
    ck_assert_int_lt(fdt_path_offset(fdt, "/cpus/cpu@2"), 0);

    int len;
    const char *compat = getprop(fdt, "/psci", "compatible", &len);
    static const char want_psci[] = "arm,psci-1.0\0arm,psci-0.2\0arm,psci";
    ck_assert_int_eq(len, (int)sizeof(want_psci));
    ck_assert_int_eq(memcmp(compat, want_psci, sizeof(want_psci)), 0);
    check_str(fdt, "/psci", "method", "hvc");
    ck_assert_uint_eq(cell(fdt, "/psci", "cpu_on", 0), 0xc4000003);
    ck_assert_uint_eq(cell(fdt, "/psci", "cpu_off", 0), 0x84000002);
    ck_assert_uint_eq(cell(fdt, "/psci", "cpu_suspend", 0), 0xc4000001);
    ck_assert_uint_eq(cell(fdt, "/psci", "migrate", 0), 0xc4000005);

    const char *gic = "/intc@8000000";
    check_str(fdt, gic, "compatible", "arm,cortex-a15-gic");
    ck_assert_int_eq(prop_len(fdt, gic, "reg"), 32);
    ck_assert_uint_eq(cell(fdt, gic, "reg", 1), 0x08000000);
    ck_assert_uint_eq(cell(fdt, gic, "reg", 3), 0x10000);
    ck_assert_uint_eq(cell(fdt, gic, "reg", 5), 0x08010000);
    ck_assert_uint_eq(cell(fdt, gic, "#interrupt-cells", 0), 3);
    ck_assert_int_eq(prop_len(fdt, gic, "interrupt-controller"), 0);
    ck_assert_int_eq(prop_len(fdt, gic, "ranges"), 0);
    ck_assert_uint_eq(cell(fdt, gic, "phandle", 0), VIRT_FDT_PHANDLE_GIC);
    ck_assert_int_eq(fdt_node_offset_by_phandle(fdt, VIRT_FDT_PHANDLE_GIC), node(fdt, gic));

    check_str(fdt, "/timer", "compatible", "arm,armv8-timer");
    ck_assert_int_eq(prop_len(fdt, "/timer", "interrupts"), 48);
    static const uint32_t ppis[] = { 13, 14, 11, 10 };
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(cell(fdt, "/timer", "interrupts", 3 * i), 1);
        ck_assert_uint_eq(cell(fdt, "/timer", "interrupts", 3 * i + 1), ppis[i]);
        ck_assert_uint_eq(cell(fdt, "/timer", "interrupts", 3 * i + 2), 0x304);
    }
    ck_assert_int_eq(prop_len(fdt, "/timer", "always-on"), 0);

    check_str(fdt, "/apb-pclk", "compatible", "fixed-clock");
    ck_assert_uint_eq(cell(fdt, "/apb-pclk", "clock-frequency", 0), 24000000);
    ck_assert_uint_eq(cell(fdt, "/apb-pclk", "#clock-cells", 0), 0);
    check_str(fdt, "/apb-pclk", "clock-output-names", "clk24mhz");

    const char *uart = "/pl011@9000000";
    compat = getprop(fdt, uart, "compatible", &len);
    ck_assert_int_eq(len, (int)sizeof("arm,pl011\0arm,primecell"));
    ck_assert_int_eq(fdt_node_check_compatible(fdt, node(fdt, uart), "arm,primecell"), 0);
    ck_assert_uint_eq(cell(fdt, uart, "reg", 1), 0x09000000);
    ck_assert_uint_eq(cell(fdt, uart, "reg", 3), 0x1000);
    ck_assert_uint_eq(cell(fdt, uart, "interrupts", 0), 0);
    ck_assert_uint_eq(cell(fdt, uart, "interrupts", 1), 1);
    ck_assert_uint_eq(cell(fdt, uart, "interrupts", 2), 4);
    ck_assert_uint_eq(cell(fdt, uart, "clocks", 0), VIRT_FDT_PHANDLE_CLK);
    ck_assert_uint_eq(cell(fdt, uart, "clocks", 1), VIRT_FDT_PHANDLE_CLK);
    ck_assert_int_eq(prop_len(fdt, uart, "clock-names"), (int)sizeof("uartclk\0apb_pclk"));

    const char *pci = "/pcie@4010000000";
    check_str(fdt, pci, "compatible", "pci-host-ecam-generic");
    check_str(fdt, pci, "device_type", "pci");
    ck_assert_uint_eq(cell(fdt, pci, "#address-cells", 0), 3);
    ck_assert_uint_eq(cell(fdt, pci, "#interrupt-cells", 0), 1);
    ck_assert_uint_eq(cell(fdt, pci, "bus-range", 1), 255);
    ck_assert_uint_eq(cell(fdt, pci, "linux,pci-domain", 0), 0);
    ck_assert_uint_eq(cell(fdt, pci, "reg", 0), 0x40);
    ck_assert_uint_eq(cell(fdt, pci, "reg", 1), 0x10000000);
    ck_assert_int_eq(prop_len(fdt, pci, "ranges"), 7 * 4);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 0), 0x02000000);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 2), 0x10000000);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 4), 0x10000000);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 6), 0x2eff0000);
    ck_assert_int_eq(prop_len(fdt, pci, "dma-coherent"), 0);
    ck_assert_int_eq(prop_len(fdt, pci, "interrupt-map-mask"), 16);
    ck_assert_uint_eq(cell(fdt, pci, "interrupt-map-mask", 0), 0x1800);
    ck_assert_uint_eq(cell(fdt, pci, "interrupt-map-mask", 3), 7);
    ck_assert_int_eq(prop_len(fdt, pci, "interrupt-map"), 16 * 10 * 4);
    for (unsigned slot = 0; slot < 4; slot++) {
        for (unsigned pin = 1; pin <= 4; pin++) {
            int e = (int)(slot * 4 + pin - 1) * 10;
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e), slot << 11);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 3), pin);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 4), VIRT_FDT_PHANDLE_GIC);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 5), 0);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 6), 0);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 7), 0);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 8), 3 + (slot + pin - 1) % 4);
            ck_assert_uint_eq(cell(fdt, pci, "interrupt-map", e + 9), 4);
        }
    }

    check_str(fdt, "/iommu@9050000", "compatible", "mmusim,iommu-ref");
    ck_assert_uint_eq(cell(fdt, "/iommu@9050000", "reg", 1), 0x09050000);
    g_free(fdt);

    /* Optional windows. */
    c.pcie_pio_base = 0x3eff0000;
    c.pcie_pio_size = 0x10000;
    c.pcie_mmio64_base = 0x8000000000ull;
    c.pcie_mmio64_size = 0x8000000000ull;
    c.smp = 8;
    fdt = build_ok(&c, &size);
    ck_assert_int_eq(prop_len(fdt, pci, "ranges"), 3 * 7 * 4);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 0), 0x01000000);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 4), 0x3eff0000);
    ck_assert_uint_eq(cell(fdt, pci, "ranges", 14), 0x03000000);
    ck_assert_uint_eq(cell(fdt, "/timer", "interrupts", 2), 0xff04);
    node(fdt, "/cpus/cpu@7");
    g_free(fdt);
}
END_TEST

START_TEST(test_fdt_gicv3)
{
    VirtFdtConfig c;
    size_t size;
    static const uint64_t mpidr[4] = { 0x80000000, 0x80000001, 0x80000100, 0x80000101 };

    base_cfg(&c);
    c.gic_version = 3;
    c.smp = 4;
    c.mpidr = mpidr;
    c.psci_method = "smc";
    c.pcie_ecam_size = 0;
    c.iommu_size = 0;
    c.bootargs = NULL;
    c.initrd_start = c.initrd_end = 0;
    void *fdt = build_ok(&c, &size);

    const char *gic = "/intc@8000000";
    check_str(fdt, gic, "compatible", "arm,gic-v3");
    ck_assert_uint_eq(cell(fdt, gic, "#redistributor-regions", 0), 1);
    ck_assert_int_eq(prop_len(fdt, gic, "reg"), 32);
    ck_assert_uint_eq(cell(fdt, gic, "reg", 5), 0x080a0000);
    ck_assert_uint_eq(cell(fdt, gic, "reg", 7), 0xf60000);
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(cell(fdt, "/timer", "interrupts", 3 * i + 2), 4);
    }
    ck_assert_uint_eq(cell(fdt, "/cpus/cpu@101", "reg", 0), 0x101);
    ck_assert_uint_eq(cell(fdt, "/cpus/cpu@100", "reg", 0), 0x100);
    node(fdt, "/cpus/cpu@1");
    check_str(fdt, "/psci", "method", "smc");
    int off = node(fdt, "/chosen");
    ck_assert_ptr_null(fdt_getprop(fdt, off, "bootargs", NULL));
    ck_assert_ptr_null(fdt_getprop(fdt, off, "linux,initrd-start", NULL));
    ck_assert_int_lt(fdt_path_offset(fdt, "/pcie@4010000000"), 0);
    ck_assert_int_lt(fdt_path_offset(fdt, "/iommu@9050000"), 0);
    g_free(fdt);

    /* Aff3: two address cells. */
    static const uint64_t mpidr3[2] = { 0, UINT64_C(0x0100000000) };
    c.smp = 2;
    c.mpidr = mpidr3;
    fdt = build_ok(&c, &size);
    ck_assert_uint_eq(cell(fdt, "/cpus", "#address-cells", 0), 2);
    ck_assert_uint_eq(cell(fdt, "/cpus/cpu@100000000", "reg", 0), 1);
    ck_assert_uint_eq(cell(fdt, "/cpus/cpu@100000000", "reg", 1), 0);
    g_free(fdt);

    /* Long bootargs grow the buffer. */
    char *args = g_strnfill(100000, 'x');
    c.bootargs = args;
    fdt = build_ok(&c, &size);
    ck_assert_int_eq(prop_len(fdt, "/chosen", "bootargs"), 100001);
    g_free(fdt);
    g_free(args);
}
END_TEST

START_TEST(test_fdt_config_errors)
{
    VirtFdtConfig c;
    size_t size;
    GError *err = NULL;
#define BAD(stmt, word) do { \
        base_cfg(&c); stmt; \
        ck_assert_ptr_null(virt_fdt_build(&c, &size, &err)); \
        ck_assert_ptr_nonnull(err); \
        ck_assert_int_eq(err->code, VIRT_FDT_ERROR_CONFIG); \
        ck_assert_msg(strstr(err->message, word), "%s", err->message); \
        g_clear_error(&err); \
    } while (0)
    BAD(c.smp = 0, "no CPU");
    BAD(c.gic_version = 4, "GIC version 4");
    BAD(c.smp = 9, "GICv2");
    BAD((c.gic_version = 3, c.smp = 5000), "5000 CPUs");
    BAD(c.psci_method = "svc", "PSCI method");
    BAD(c.pcie_buses = 0, "PCI buses");
    BAD(c.pcie_ecam_size = 0x100000, "too small");
    BAD(c.pcie_mmio_size = 0, "32-bit memory window");
    BAD(c.ram_size = 0, "no RAM");
    BAD(c.initrd_end = 1, "initrd end");
#undef BAD
}
END_TEST

/* --- Semihosting through a fake memory. --- */

#define FM_BASE UINT64_C(0x10000)
#define FM_SIZE 0x4000u
#define FM_HOLE UINT64_C(0x12000)   /* one unreadable 4 KiB page */

static uint8_t fm[FM_SIZE];

static bool fm_ok(uint64_t va, size_t len)
{
    if (va < FM_BASE || va - FM_BASE > FM_SIZE || len > FM_SIZE - (va - FM_BASE)) {
        return false;
    }
    return va + len <= FM_HOLE || va >= FM_HOLE + 0x1000;
}

static bool fm_read(void *opaque, uint64_t va, void *buf, size_t len)
{
    if (!fm_ok(va, len)) {
        return false;
    }
    memcpy(buf, fm + (va - FM_BASE), len);
    return true;
}

static bool fm_write(void *opaque, uint64_t va, const void *buf, size_t len)
{
    if (!fm_ok(va, len)) {
        return false;
    }
    memcpy(fm + (va - FM_BASE), buf, len);
    return true;
}

static const ArmSemihostingMem fmem = { fm_read, fm_write, NULL };

static void fm_put64(uint64_t va, uint64_t v)
{
    p64(fm, va - FM_BASE, v);
}

static uint64_t fm_get64(uint64_t va)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | fm[va - FM_BASE + i];
    }
    return v;
}

typedef struct ShFixture {
    char *out;
    size_t out_len;
    FILE *f;
    int exits;
    int status;
    char *message;
    uint64_t ns;
    int pipe[2];
} ShFixture;

static ShFixture shf;

static uint64_t sh_clock(void *opaque)
{
    return ((ShFixture *)opaque)->ns;
}

static void sh_exit(void *opaque, int status, const char *message)
{
    ShFixture *f = opaque;

    f->exits++;
    f->status = status;
    g_free(f->message);
    f->message = g_strdup(message);
}

static ArmSemihosting *sh_new(void)
{
    ArmSemihostingHost h = {
        .in_fd = -1, .cmdline = "prog arg1 arg2",
        .clock_ns = sh_clock, .exit = sh_exit, .opaque = &shf,
    };

    memset(&shf, 0, sizeof(shf));
    shf.f = open_memstream(&shf.out, &shf.out_len);
    ck_assert(pipe(shf.pipe) == 0);
    h.out = shf.f;
    h.in_fd = shf.pipe[0];
    arm_semihosting_default_layout(&h, RAM_BASE, UINT64_C(128) << 20);
    memset(fm, 0, sizeof(fm));
    return arm_semihosting_new(&h);
}

static void sh_free(ArmSemihosting *s)
{
    arm_semihosting_free(s);
    fclose(shf.f);
    free(shf.out);
    g_free(shf.message);
    close(shf.pipe[0]);
    if (shf.pipe[1] >= 0) {
        close(shf.pipe[1]);
    }
}

static const char *sh_out(void)
{
    fflush(shf.f);
    return shf.out;
}

static uint64_t sh(ArmSemihosting *s, uint32_t op, uint64_t arg)
{
    return arm_semihosting_do(s, op, arg, &fmem);
}

/* Open `name` with `mode` using a block at FM_BASE + 0x100. */
static uint64_t sh_open(ArmSemihosting *s, const char *name, uint64_t mode)
{
    strcpy((char *)fm + 0x200, name);
    fm_put64(FM_BASE + 0x100, FM_BASE + 0x200);
    fm_put64(FM_BASE + 0x108, mode);
    fm_put64(FM_BASE + 0x110, strlen(name));
    return sh(s, ARM_SH_SYS_OPEN, FM_BASE + 0x100);
}

/* [a, b, c] at FM_BASE + 0x180. */
static uint64_t blk(uint64_t a, uint64_t b, uint64_t c)
{
    fm_put64(FM_BASE + 0x180, a);
    fm_put64(FM_BASE + 0x188, b);
    fm_put64(FM_BASE + 0x190, c);
    return FM_BASE + 0x180;
}

#define SH_M1 UINT64_MAX

START_TEST(test_sh_console)
{
    ArmSemihosting *s = sh_new();

    strcpy((char *)fm + 0x400, "hello, ");
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE0, FM_BASE + 0x400), 0);
    fm[0x410] = 'w';
    sh(s, ARM_SH_SYS_WRITEC, FM_BASE + 0x410);
    ck_assert_str_eq(sh_out(), "hello, w");
    /* A string running into the hole: what precedes is written, then -1. */
    memset(fm + 0x1ff0, 'z', 16);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE0, FM_BASE + 0x1ff0), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ERRNO, 0), EFAULT);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE0, FM_HOLE), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITEC, 0), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITEC, UINT64_MAX), SH_M1);

    uint64_t in = sh_open(s, ":tt", 0), out = sh_open(s, ":tt", 4), err = sh_open(s, ":tt", 8);
    ck_assert_uint_ge(in, 1);
    ck_assert_uint_ne(in, out);
    ck_assert_uint_ne(out, err);
    ck_assert_uint_eq(sh_open(s, "/etc/passwd", 0), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ERRNO, 0), ENOENT);
    ck_assert_uint_eq(sh_open(s, ":tt", 12), SH_M1);
    /* Name pointer into the hole. */
    fm_put64(FM_BASE + 0x100, FM_HOLE);
    fm_put64(FM_BASE + 0x110, 3);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_OPEN, FM_BASE + 0x100), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_OPEN, FM_HOLE), SH_M1);

    /* SYS_WRITE returns the bytes not written. */
    memcpy(fm + 0x500, "0123456789", 10);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(out, FM_BASE + 0x500, 10)), 0);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(err, FM_BASE + 0x500, 3)), 0);
    ck_assert_str_eq(sh_out(), "hello, wzzzzzzzzzzzzzzzz0123456789012");
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(in, FM_BASE + 0x500, 10)), 10);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(99, FM_BASE + 0x500, 10)), 10);
    /* Up to the hole: 16 written, 4 not. */
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(out, FM_HOLE - 16, 20)), 4);
    /* Huge lengths are bounded: not everything is claimed written. */
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(out, FM_BASE, UINT64_MAX)),
                      UINT64_MAX - 0x2000);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, FM_HOLE), SH_M1);

    /* Input. */
    ck_assert(write(shf.pipe[1], "abc", 3) == 3);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READC, 0), 'a');
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(in, FM_BASE + 0x600, 8)), 6);
    ck_assert_int_eq(memcmp(fm + 0x600, "bc", 2), 0);
    ck_assert(write(shf.pipe[1], "x", 1) == 1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(in, FM_HOLE, 8)), 8);   /* bad buffer */
    close(shf.pipe[1]);
    shf.pipe[1] = -1;
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(in, FM_BASE + 0x600, 8)), 8);  /* EOF */
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READC, 0), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(out, FM_BASE + 0x600, 8)), 8);

    /* Handles. */
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ISTTY, blk(out, 0, 0)), 1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ISTTY, blk(77, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_SEEK, blk(out, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_FLEN, blk(out, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_CLOSE, blk(out, 0, 0)), 0);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_CLOSE, blk(out, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ERRNO, 0), EBADF);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_CLOSE, blk(0, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ISERROR, blk(SH_M1, 0, 0)), 1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ISERROR, blk(5, 0, 0)), 0);
    /* The table fills up, and is reused after a close. */
    uint64_t last = 0;
    for (int i = 0; i < ARM_SH_MAX_HANDLES; i++) {
        uint64_t h = sh_open(s, ":tt", 4);
        if (h == SH_M1) {
            break;
        }
        last = h;
    }
    ck_assert_uint_eq(sh_open(s, ":tt", 4), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_CLOSE, blk(last, 0, 0)), 0);
    ck_assert_uint_eq(sh_open(s, ":tt", 4), last);
    sh_free(s);
}
END_TEST

START_TEST(test_sh_features_and_info)
{
    ArmSemihosting *s = sh_new();

    uint64_t h = sh_open(s, ":semihosting-features", 0);
    ck_assert_uint_ne(h, SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ISTTY, blk(h, 0, 0)), 0);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_FLEN, blk(h, 0, 0)), 5);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(h, FM_BASE + 0x600, 16)), 11);
    ck_assert_int_eq(memcmp(fm + 0x600, "SHFB\x03", 5), 0);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(h, FM_BASE + 0x600, 16)), 16);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_SEEK, blk(h, 4, 0)), 0);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_READ, blk(h, FM_BASE + 0x700, 1)), 0);
    ck_assert_uint_eq(fm[0x700], 3);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_SEEK, blk(h, 6, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_WRITE, blk(h, FM_BASE, 1)), 1);
    ck_assert_uint_eq(sh_open(s, ":semihosting-features", 4), SH_M1);

    /* Time: 12.345678901 s of virtual time. */
    shf.ns = UINT64_C(12345678901);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_CLOCK, 0), 1234);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_TIME, 0), ARM_SH_EPOCH + 12);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_TICKFREQ, 0), 1000000000);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ELAPSED, FM_BASE + 0x800), 0);
    ck_assert_uint_eq(fm_get64(FM_BASE + 0x800), UINT64_C(12345678901));
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ELAPSED, FM_HOLE), SH_M1);

    /* Command line. */
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_GET_CMDLINE, blk(FM_BASE + 0x900, 64, 0)), 0);
    ck_assert_str_eq((char *)fm + 0x900, "prog arg1 arg2");
    ck_assert_uint_eq(fm_get64(FM_BASE + 0x188), 14);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_GET_CMDLINE, blk(FM_BASE + 0x900, 14, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_GET_CMDLINE, blk(FM_HOLE, 64, 0)), SH_M1);

    /* Heap info: X1 points to a pointer to the block. */
    fm_put64(FM_BASE + 0xa00, FM_BASE + 0xa80);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_HEAPINFO, FM_BASE + 0xa00), 0);
    ck_assert_uint_eq(fm_get64(FM_BASE + 0xa80), 0x46000000);   /* 128 MiB at 1 GiB */
    ck_assert_uint_eq(fm_get64(FM_BASE + 0xa88), 0x47800000);
    ck_assert_uint_eq(fm_get64(FM_BASE + 0xa90), 0x48000000);
    ck_assert_uint_eq(fm_get64(FM_BASE + 0xa98), 0x47800000);
    fm_put64(FM_BASE + 0xa00, FM_HOLE);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_HEAPINFO, FM_BASE + 0xa00), SH_M1);

    /* Refused and unknown operations. */
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_REMOVE, blk(0, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_SYSTEM, blk(0, 0, 0)), SH_M1);
    ck_assert_uint_eq(sh(s, 0x99, 0), SH_M1);
    ck_assert_uint_eq(sh(s, 0x99, 0), SH_M1);
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_ERRNO, 0), ENOSYS);
    sh_free(s);
}
END_TEST

START_TEST(test_sh_exit)
{
    ArmSemihosting *s = sh_new();

    ck_assert_uint_eq(sh(s, ARM_SH_SYS_EXIT, blk(0x20026, 3, 0)), 0);
    ck_assert_int_eq(shf.exits, 1);
    ck_assert_int_eq(shf.status, 3);
    ck_assert_ptr_null(shf.message);
    sh(s, ARM_SH_SYS_EXIT_EXTENDED, blk(0x20026, 0, 0));
    ck_assert_int_eq(shf.exits, 2);
    ck_assert_int_eq(shf.status, 0);
    sh(s, ARM_SH_SYS_EXIT, blk(0x20023, 9, 0));
    ck_assert_int_eq(shf.status, 1);
    ck_assert(strstr(shf.message, "RunTimeErrorUnknown") && strstr(shf.message, "0x20023"));
    sh(s, ARM_SH_SYS_EXIT, blk(0x20004, 0, 0));
    ck_assert(strstr(shf.message, "DataAbort"));
    sh(s, ARM_SH_SYS_EXIT, blk(0x12345, 0, 0));
    ck_assert_int_eq(shf.status, 1);
    ck_assert(strstr(shf.message, "0x12345"));
    ck_assert_uint_eq(sh(s, ARM_SH_SYS_EXIT, FM_HOLE - 8), SH_M1);   /* subcode unreadable */
    ck_assert_int_eq(shf.exits, 5);
    sh_free(s);
}
END_TEST

/* --- Semihosting on a real CPU and MMU (arm_test_util.h). --- */

START_TEST(test_sh_cpu)
{
    ArmCpu *cpu = at_cpu_new(0);
    ArmSemihosting *s = sh_new();

    /* MMU off: virtual = physical. */
    strcpy((char *)g_ram + DATA_AREA, "flat ");
    cpu->x[0] = ARM_SH_SYS_WRITE0;
    cpu->x[1] = DATA_AREA;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_uint_eq(cpu->x[0], 0);
    ck_assert_str_eq(sh_out(), "flat ");
    /* Unassigned physical memory: -1, no fault raised. */
    cpu->x[0] = UINT64_C(0xdead00000000) | ARM_SH_SYS_WRITE0;  /* W0 only */
    cpu->x[1] = UNASSIGNED;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_uint_eq(cpu->x[0], SH_M1);

    /* MMU on: VA 0x400000 -> PA DATA_AREA + 0x1000, VA 0x401000 ->
     * DATA_AREA + 0x3000 (a string crossing into a discontiguous page). */
    Pt p = pt_new(16);
    pt_map(&p, 0x400000, DATA_AREA + 0x1000, 3, D_NORMAL | D_UXN);
    pt_map(&p, 0x401000, DATA_AREA + 0x3000, 3, D_NORMAL | D_UXN);
    pt_map(&p, 0x402000, DATA_AREA + 0x4000, 3, D_NORMAL | D_UXN | D_AP2);  /* read-only */
    mmu_on(cpu, TCR_TSZ(16, 16) | TCR_4K_48, &p, NULL);
    memcpy(g_ram + DATA_AREA + 0x1ffc, "virt", 4);
    memcpy(g_ram + DATA_AREA + 0x3000, "ual\n", 5);
    cpu->x[0] = ARM_SH_SYS_WRITE0;
    cpu->x[1] = 0x400ffc;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_uint_eq(cpu->x[0], 0);
    ck_assert_str_eq(sh_out(), "flat virtual\n");
    /* Unmapped VA. */
    cpu->x[0] = ARM_SH_SYS_WRITE0;
    cpu->x[1] = 0x800000;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_uint_eq(cpu->x[0], SH_M1);
    /* Writing through the MMU: SYS_ELAPSED stores into a mapped page, and
     * is refused on the read-only one. */
    shf.ns = 0x1122334455667788ull;
    cpu->x[0] = ARM_SH_SYS_ELAPSED;
    cpu->x[1] = 0x401100;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_uint_eq(cpu->x[0], 0);
    ck_assert_uint_eq(rd64(DATA_AREA + 0x3100), 0x1122334455667788ull);
    cpu->x[0] = ARM_SH_SYS_ELAPSED;
    cpu->x[1] = 0x402100;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_uint_eq(cpu->x[0], SH_M1);
    ck_assert_uint_eq(rd64(DATA_AREA + 0x4100), 0);
    /* A parameter block straddling two mapped pages. */
    wr64(DATA_AREA + 0x1ff8, 0x20026);
    wr64(DATA_AREA + 0x3000, 42);
    cpu->x[0] = ARM_SH_SYS_EXIT;
    cpu->x[1] = 0x400ff8;
    ck_assert(arm_semihosting_call(s, cpu));
    ck_assert_int_eq(shf.exits, 1);
    ck_assert_int_eq(shf.status, 42);
    sh_free(s);
    at_cpu_free(cpu);
}
END_TEST

static Suite *arm_boot_suite(void)
{
    Suite *s = suite_create("arm_boot");
    TCase *tc = tu_tcase(s, "loader");
    tcase_add_checked_fixture(tc, boot_setup, boot_teardown);
    tcase_add_test(tc, test_elf_valid);
    tcase_add_test(tc, test_elf_variants);
    tcase_add_test(tc, test_elf_malformed);
    tcase_add_test(tc, test_linux_image);
    tcase_add_test(tc, test_raw_and_files);
    tc = tu_tcase(s, "fdt");
    tcase_add_test(tc, test_fdt_gicv2);
    tcase_add_test(tc, test_fdt_gicv3);
    tcase_add_test(tc, test_fdt_config_errors);
    tc = tu_tcase(s, "semihosting");
    tcase_add_test(tc, test_sh_console);
    tcase_add_test(tc, test_sh_features_and_info);
    tcase_add_test(tc, test_sh_exit);
    tc = tcase_create("semihosting_cpu");
    tcase_add_checked_fixture(tc, at_setup, at_teardown);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_sh_cpu);
    return s;
}

int main(void)
{
    return tu_run(arm_boot_suite());
}
