/*
 * The Linux/x86 bzImage loader (linux_boot.h), after boot.rst's "LOADING
 * THE REST OF THE KERNEL" and "32-bit BOOT PROTOCOL" sections.
 *
 * As in the multiboot loader, three phases: parse the header (every field
 * checked against the file's length), place everything and check it
 * against RAM, then write -- a refused image leaves guest memory untouched.
 */
#include "machines/linux_boot.h"
#include "machines/image_file.h"

#include <inttypes.h>
#include <string.h>

#include "targets/x86/x86_cpu.h"

G_DEFINE_QUARK(mmusim-linux-boot-error-quark, linux_boot_error)

#define FOUR_GIB      (UINT64_C(1) << 32)
#define PAGE_4K       UINT64_C(4096)
#define SECTOR        512u
/* boot.rst: the default initrd_addr_max of protocols before 2.03. */
#define LB_OLD_INITRD_MAX 0x37ffffffu
/* Files larger than this are refused before reading (no machine has more). */
#define LB_MAX_FILE   (FOUR_GIB - 1)

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
    return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static bool G_GNUC_PRINTF(3, 4) fail(GError **err, LinuxBootError code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, LINUX_BOOT_ERROR, code, msg);
    g_free(msg);
    return false;
}

/* The RAM range holding all of [addr, addr+len), or NULL. */
static const LinuxRamRange *find_ram(const LinuxBootConfig *cfg, uint64_t addr, uint64_t len)
{
    for (unsigned i = 0; i < cfg->n_ram; i++) {
        const LinuxRamRange *r = &cfg->ram[i];

        if (addr >= r->start && len <= r->size && addr - r->start <= r->size - len) {
            return r;
        }
    }
    return NULL;
}

static uint8_t *ram_ptr(const LinuxBootConfig *cfg, uint64_t addr, uint64_t len)
{
    const LinuxRamRange *r = find_ram(cfg, addr, len);

    return r ? r->host + (addr - r->start) : NULL;
}

static char *describe_ram(const LinuxBootConfig *cfg)
{
    GString *s = g_string_new(NULL);

    for (unsigned i = 0; i < cfg->n_ram; i++) {
        g_string_append_printf(s, "%s0x%" PRIx64 "-0x%" PRIx64, i ? ", " : "",
                               cfg->ram[i].start, cfg->ram[i].start + cfg->ram[i].size - 1);
    }
    if (!cfg->n_ram) {
        g_string_append(s, "none");
    }
    return g_string_free(s, FALSE);
}

bool linux_boot_is_bzimage(const uint8_t *image, size_t len)
{
    return image && len >= LB_HEADER_MAGIC + 4 && get32(image + LB_HEADER_MAGIC) == LB_MAGIC_HDRS;
}

/* --- Parsing: the setup header. --- */

typedef struct Header {
    uint16_t version;
    size_t hdr_end;          /* file offset one past the setup header */
    size_t setup_len;        /* real-mode part: (setup_sects + 1) * 512 */
    const uint8_t *pm;       /* the protected-mode kernel */
    size_t pm_len;
    uint32_t initrd_max;     /* highest address the initrd may occupy */
    uint32_t cmdline_max;    /* longest command line, without the NUL */
    bool relocatable;
    uint64_t pref_address;   /* 0 before 2.10 */
    uint32_t init_size;      /* 0 before 2.10 */
} Header;

static bool parse_header(const char *name, const uint8_t *image, size_t len, Header *h,
                         GError **err)
{
    if (!linux_boot_is_bzimage(image, len)) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: no Linux setup header (\"HdrS\" at offset 0x%x): not a bzImage", name,
                    LB_HEADER_MAGIC);
    }
    h->version = get16(image + LB_VERSION);
    if (h->version < LB_MIN_VERSION) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: Linux boot protocol %u.%02u is too old (this loader needs 2.06 or "
                    "later: kernels from 2.6.22 on)",
                    name, h->version >> 8, h->version & 0xffu);
    }
    /* The header runs to 0x202 + the jump's displacement byte (boot.rst:
     * "the end of the setup header can be calculated as follows:
     * 0x0202 + byte value at offset 0x0201"). 2.06 defines fields up to
     * cmdline_size; 2.10 adds pref_address and init_size. */
    h->hdr_end = (size_t)LB_HEADER_MAGIC + image[LB_JUMP + 1];
    size_t need = h->version >= 0x020a ? LB_INIT_SIZE + 4 : LB_CMDLINE_SIZE + 4;
    if (h->hdr_end < need) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: setup header ends at 0x%zx (jump at 0x200), too short for boot "
                    "protocol %u.%02u (needs 0x%zx)",
                    name, h->hdr_end, h->version >> 8, h->version & 0xffu, need);
    }
    if (h->hdr_end > LB_E820_TABLE) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: setup header would end at 0x%zx, past boot_params' hdr field "
                    "(bad jump at 0x200)", name, h->hdr_end);
    }
    if (len < h->hdr_end) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: truncated: %zu bytes, the setup header ends at 0x%zx", name, len,
                    h->hdr_end);
    }
    if (get16(image + LB_BOOT_FLAG) != 0xaa55u) {
        return fail(err, LB_ERROR_FORMAT, "%s: boot_flag at 0x1fe is 0x%04x, not 0xaa55", name,
                    get16(image + LB_BOOT_FLAG));
    }
    if (!(image[LB_LOADFLAGS] & LB_LOADED_HIGH)) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: a zImage (LOADED_HIGH clear in loadflags): only bzImages are "
                    "supported", name);
    }
    unsigned sects = image[LB_SETUP_SECTS] ? image[LB_SETUP_SECTS] : 4u;
    h->setup_len = (size_t)(sects + 1) * SECTOR;
    if (h->setup_len >= len) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: setup_sects %u puts the protected-mode kernel at offset 0x%zx, at or "
                    "beyond the end of the file (%zu bytes)",
                    name, sects, h->setup_len, len);
    }
    h->pm = image + h->setup_len;
    h->pm_len = len - h->setup_len;
    uint64_t syssize = (uint64_t)get32(image + LB_SYSSIZE) * 16;
    if (syssize > h->pm_len) {
        return fail(err, LB_ERROR_FORMAT,
                    "%s: truncated: syssize says the protected-mode kernel has %" PRIu64
                    " bytes, the file holds %zu after the setup code",
                    name, syssize, h->pm_len);
    }
    h->initrd_max = h->version >= 0x0203 ? get32(image + LB_INITRD_ADDR_MAX) : LB_OLD_INITRD_MAX;
    h->cmdline_max = get32(image + LB_CMDLINE_SIZE);
    h->relocatable = image[LB_RELOCATABLE] != 0;
    if (h->version >= 0x020a) {
        h->pref_address = get64(image + LB_PREF_ADDRESS);
        h->init_size = get32(image + LB_INIT_SIZE);
    }
    return true;
}

/* --- Loading. --- */

bool linux_boot_load_image(const char *name, const uint8_t *image, size_t len,
                           const char *initrd_name, const uint8_t *initrd, size_t initrd_len,
                           const LinuxBootConfig *cfg, LinuxBoot *out, GError **err)
{
    const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
    size_t cmdline_len = strlen(cmdline);
    g_autofree char *ram_text = describe_ram(cfg);
    Header h = { 0 };

    memset(out, 0, sizeof(*out));
    name = name ? name : "kernel";
    initrd_name = initrd_name ? initrd_name : "initrd";
    if (!image && len) {
        return fail(err, LB_ERROR_IO, "%s: no data", name);
    }
    if (!parse_header(name, image, len, &h, err)) {
        return false;
    }

    /* The kernel's RAM: its bytes and init_size from 1 MiB; a relocatable
     * kernel loaded below pref_address decompresses at pref_address
     * (boot.rst, pref_address and init_size), so that must be RAM too. */
    uint64_t need_end = LB_KERNEL_BASE + MAX((uint64_t)h.pm_len, (uint64_t)h.init_size);
    if (h.relocatable && h.pref_address > LB_KERNEL_BASE) {
        need_end = MAX(need_end, h.pref_address + h.init_size);
    }
    if (need_end > FOUR_GIB || !find_ram(cfg, LB_KERNEL_BASE, need_end - LB_KERNEL_BASE)) {
        return fail(err, LB_ERROR_PLACEMENT,
                    "%s: the kernel needs RAM at 0x%x-0x%" PRIx64 " (%zu bytes of image, "
                    "init_size %" PRIu32 ", pref_address 0x%" PRIx64 "); more than this "
                    "machine's RAM (%s)",
                    name, LB_KERNEL_BASE, need_end - 1, h.pm_len, h.init_size,
                    h.pref_address, ram_text);
    }
    if (cmdline_len > h.cmdline_max) {
        return fail(err, LB_ERROR_PLACEMENT,
                    "%s: command line of %zu bytes is longer than the kernel accepts "
                    "(cmdline_size %" PRIu32 ")", name, cmdline_len, h.cmdline_max);
    }
    if (LB_CMDLINE_BASE + cmdline_len + 1 > LB_CMDLINE_LIMIT) {
        return fail(err, LB_ERROR_PLACEMENT,
                    "%s: command line of %zu bytes does not fit at 0x%x-0x%x", name,
                    cmdline_len, LB_CMDLINE_BASE, LB_CMDLINE_LIMIT - 1);
    }
    if (!find_ram(cfg, LB_GDT_BASE, LB_ZERO_PAGE + LB_ZERO_PAGE_SIZE - LB_GDT_BASE) ||
        !find_ram(cfg, LB_CMDLINE_BASE, cmdline_len + 1) ||
        !find_ram(cfg, LB_STACK_TOP - PAGE_4K, PAGE_4K)) {
        return fail(err, LB_ERROR_PLACEMENT,
                    "%s: no low RAM for the GDT, zero page and command line at 0x%x-0x%zx "
                    "(RAM: %s)", name, LB_STACK_TOP - (unsigned)PAGE_4K,
                    (size_t)LB_CMDLINE_BASE + cmdline_len, ram_text);
    }
    if (cfg->n_e820 > LB_E820_MAX) {
        return fail(err, LB_ERROR_PLACEMENT, "%s: %u E820 entries, the zero page holds %u",
                    name, cfg->n_e820, LB_E820_MAX);
    }

    /* The initrd: as high as possible below initrd_addr_max and 4 GiB, in
     * the highest RAM range that fits it above the kernel (boot.rst:
     * "the initrd should typically be located as high in memory as
     * possible"). */
    uint64_t initrd_addr = 0;
    if (initrd) {
        uint64_t limit = MIN((uint64_t)h.initrd_max + 1, FOUR_GIB);
        bool placed = false;

        if (initrd_len >= FOUR_GIB) {
            return fail(err, LB_ERROR_PLACEMENT, "%s: initrd of %zu bytes is larger than 4 GiB",
                        initrd_name, initrd_len);
        }
        for (unsigned i = 0; i < cfg->n_ram; i++) {
            const LinuxRamRange *r = &cfg->ram[i];
            uint64_t top = MIN(r->start + r->size, limit);
            uint64_t lo = MAX(r->start, need_end);

            if (top <= lo || top - lo < initrd_len) {
                continue;
            }
            uint64_t a = (top - initrd_len) & ~(PAGE_4K - 1);
            if (a >= lo && (!placed || a > initrd_addr)) {
                initrd_addr = a;
                placed = true;
            }
        }
        if (!placed) {
            return fail(err, LB_ERROR_PLACEMENT,
                        "%s: initrd of %zu bytes does not fit in RAM between the kernel's end "
                        "0x%" PRIx64 " and initrd_addr_max 0x%" PRIx32 " (RAM: %s)",
                        initrd_name, initrd_len, need_end, h.initrd_max, ram_text);
        }
    }

    /* Everything fits: write. */
    memcpy(ram_ptr(cfg, LB_KERNEL_BASE, h.pm_len), h.pm, h.pm_len);

    uint8_t *gdt = ram_ptr(cfg, LB_GDT_BASE, LB_GDT_SIZE);
    memset(gdt, 0, LB_GDT_SIZE);
    /* __BOOT_CS: base 0, limit 4 GiB (G), 32-bit, execute/read, accessed;
     * __BOOT_DS: the same as read/write data (boot.rst: "__BOOT_CS(0x10)
     * and __BOOT_DS(0x18); both descriptors must be 4G flat segment;
     * __BOOT_CS must have execute/read permission, and __BOOT_DS must have
     * read/write permission"). */
    put64(gdt + LB_BOOT_CS, UINT64_C(0x00cf9b000000ffff));
    put64(gdt + LB_BOOT_DS, UINT64_C(0x00cf93000000ffff));

    uint8_t *zp = ram_ptr(cfg, LB_ZERO_PAGE, LB_ZERO_PAGE_SIZE);
    memset(zp, 0, LB_ZERO_PAGE_SIZE);
    memcpy(zp + LB_HDR, image + LB_HDR, h.hdr_end - LB_HDR);
    zp[LB_TYPE_OF_LOADER] = LB_LOADER_TYPE;
    /* CAN_USE_HEAP with heap_end_ptr as boot.rst's sample configuration;
     * KEEP_SEGMENTS clear: the kernel loads its own segments (our GDT
     * is valid anyway); QUIET clear: we want its early messages. */
    zp[LB_LOADFLAGS] = (uint8_t)((zp[LB_LOADFLAGS] | LB_CAN_USE_HEAP) &
                                 ~(LB_KEEP_SEGMENTS | LB_QUIET_FLAG));
    put16(zp + LB_HEAP_END_PTR, LB_HEAP_END - 0x200);
    put32(zp + LB_CODE32_START, LB_KERNEL_BASE);
    put32(zp + LB_CMD_LINE_PTR, LB_CMDLINE_BASE);
    put32(zp + LB_RAMDISK_IMAGE, (uint32_t)initrd_addr);
    put32(zp + LB_RAMDISK_SIZE, initrd ? (uint32_t)initrd_len : 0);

    /* Memory sizes the old BIOS calls reported: KiB of RAM contiguous
     * from 1 MiB (from the E820 map's RAM entry starting there). */
    uint64_t above_1m = 0;
    for (unsigned i = 0; i < cfg->n_e820; i++) {
        if (cfg->e820[i].base == LB_KERNEL_BASE && cfg->e820[i].type == LB_E820_RAM) {
            above_1m = cfg->e820[i].length / 1024;
        }
    }
    put16(zp + LB_EXT_MEM_K, (uint16_t)MIN(above_1m, UINT64_C(0xfc00)));
    put32(zp + LB_ALT_MEM_K, (uint32_t)MIN(above_1m, UINT64_C(0xffffffff)));
    zp[LB_E820_ENTRIES] = (uint8_t)cfg->n_e820;
    for (unsigned i = 0; i < cfg->n_e820; i++) {
        uint8_t *e = zp + LB_E820_TABLE + LB_E820_ENTRY_SIZE * i;

        put64(e + 0, cfg->e820[i].base);
        put64(e + 8, cfg->e820[i].length);
        put32(e + 16, cfg->e820[i].type);
    }
    memcpy(ram_ptr(cfg, LB_CMDLINE_BASE, cmdline_len + 1), cmdline, cmdline_len + 1);
    if (initrd && initrd_len) {
        memcpy(ram_ptr(cfg, initrd_addr, initrd_len), initrd, initrd_len);
    }

    out->version = h.version;
    out->entry = LB_KERNEL_BASE;
    out->zero_page = LB_ZERO_PAGE;
    out->gdt_addr = LB_GDT_BASE;
    out->gdt_limit = LB_GDT_SIZE - 1;
    out->cmdline_addr = LB_CMDLINE_BASE;
    out->kernel_start = LB_KERNEL_BASE;
    out->kernel_end = LB_KERNEL_BASE + h.pm_len;
    out->kernel_need_end = need_end;
    out->initrd_addr = (uint32_t)initrd_addr;
    out->initrd_size = initrd ? (uint32_t)initrd_len : 0;
    return true;
}

bool linux_boot_load_files(const char *kernel, const char *initrd, const LinuxBootConfig *cfg,
                           LinuxBoot *out, GError **err)
{
    uint8_t *image = NULL, *rd = NULL;
    size_t len = 0, rd_len = 0;
    bool ok = false;

    if (initrd && *initrd) {
        if (strchr(initrd, ',')) {
            return fail(err, LB_ERROR_IO,
                        "%s: a Linux kernel takes one initrd file, not a comma-separated list "
                        "('%s')", kernel, initrd);
        }
        if (!image_file_read(initrd, LB_MAX_FILE, &rd, &rd_len, LINUX_BOOT_ERROR, LB_ERROR_IO,
                             err)) {
            return false;
        }
    }
    if (image_file_read(kernel, LB_MAX_FILE, &image, &len, LINUX_BOOT_ERROR, LB_ERROR_IO, err)) {
        /* An empty initrd file is still an initrd (size 0): pass a
         * non-NULL pointer. */
        static const uint8_t empty;
        const uint8_t *rdp = rd ? rd : (initrd && *initrd ? &empty : NULL);

        ok = linux_boot_load_image(kernel, image, len, initrd, rdp, rd_len, cfg, out, err);
    }
    g_free(image);
    g_free(rd);
    return ok;
}

/* --- CPU state at entry (boot.rst "32-bit BOOT PROTOCOL"). --- */

void linux_boot_cpu_setup(struct X86Cpu *cpu, const LinuxBoot *boot)
{
    const uint32_t flat = X86_SEGA_S | X86_SEGA_P | X86_SEGA_DB | X86_SEGA_G;

    x86_cpu_reset(cpu);
    memset(cpu->regs, 0, sizeof(cpu->regs));
    /* ESI = boot_params; EBP, EDI, EBX = 0 (the rest too). */
    cpu->regs[R_SI] = boot->zero_page;
    cpu->regs[R_SP] = LB_STACK_TOP;
    for (int s = 0; s < 6; s++) {
        /* __BOOT_DS: read/write data, accessed. */
        cpu->segs[s] = (X86Seg){ LB_BOOT_DS, 0, 0xffffffffu, flat | 0x3 };
    }
    /* __BOOT_CS: execute/read code, accessed. */
    cpu->segs[S_CS] = (X86Seg){ LB_BOOT_CS, 0, 0xffffffffu, flat | 0xb };
    cpu->gdtr = (X86Table){ boot->gdt_addr, boot->gdt_limit };
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
    x86_set_eflags(cpu, 0x2, 0xffffffffu);  /* IF = 0 */
    cpu->cpl = 0;
    cpu->rip = boot->entry;
    cpu->halted = false;
    x86_paging_changed(cpu, false);
}
