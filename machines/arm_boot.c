/*
 * The AArch64 kernel loader (arm_boot.h).
 *
 * Three phases, so that a refused image leaves RAM untouched: parse the
 * kernel into segments (every field checked against the file's length),
 * place the segments and the initrd and check them against RAM, then copy.
 */
#include "machines/arm_boot.h"
#include "machines/image_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(mmusim-arm-boot-error-quark, arm_boot_error)

#define SZ_4K UINT64_C(0x1000)
#define SZ_2M UINT64_C(0x200000)

/* ELF-64 Object File Format (version 1.5), and the AArch64 ELF ABI. */
#define EI_CLASS      4
#define EI_DATA       5
#define EI_VERSION    6
#define ELFCLASS32    1
#define ELFCLASS64    2
#define ELFDATA2LSB   1
#define ELFDATA2MSB   2
#define EV_CURRENT    1
#define ET_REL        1
#define ET_EXEC       2
#define ET_DYN        3
#define ET_CORE       4
#define EM_AARCH64    183
#define PT_LOAD       1
#define PN_XNUM       0xffffu
#define ELF64_EHDR    64u
#define ELF64_PHDR    56u

static bool G_GNUC_PRINTF(3, 4) fail(GError **err, ArmBootError code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, ARM_BOOT_ERROR, code, msg);
    g_free(msg);
    return false;
}

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
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/* Round up to a power of two `a`; false if that overflows 64 bits. */
static bool align_up(uint64_t x, uint64_t a, uint64_t *out)
{
    if (x > UINT64_MAX - (a - 1)) {
        return false;
    }
    *out = (x + a - 1) & ~(a - 1);
    return true;
}

/* [start, start + len) inside [base, base + size)? (no overflow anywhere) */
static bool inside(uint64_t start, uint64_t len, uint64_t base, uint64_t size)
{
    return start >= base && start - base <= size && len <= size - (start - base);
}

/* --- Parsing. --- */

typedef struct Segment {
    uint64_t paddr;
    uint64_t vaddr;
    uint64_t filesz;
    uint64_t memsz;
    const uint8_t *data;
    unsigned index;   /* program header index (ELF) */
} Segment;

typedef struct Parsed {
    ArmBootKind kind;
    Segment *segs;     /* g_malloc'd: one per PT_LOAD; raw and Image: one */
    unsigned n_segs;
    bool footprint_unknown;  /* BSS size unknown: keep the initrd and DTB away */
    uint64_t entry;
    uint64_t low, high;
} Parsed;

static const char *elf_machine_name(uint16_t m)
{
    switch (m) {
    case 3: return "Intel 80386";
    case 8: return "MIPS";
    case 20: return "PowerPC";
    case 21: return "PowerPC64";
    case 40: return "32-bit Arm (AArch32)";
    case 50: return "IA-64";
    case 62: return "x86-64";
    case 243: return "RISC-V";
    case 258: return "LoongArch";
    default: return "unknown";
    }
}

static bool parse_elf(const char *name, const uint8_t *img, size_t len, const ArmBootRam *ram,
                      Parsed *p, GError **err)
{
    if (len < ELF64_EHDR) {
        if (len > EI_CLASS && img[EI_CLASS] == ELFCLASS32) {
            return fail(err, ARM_BOOT_ERROR_FORMAT,
                        "%s: ELF32 (32-bit) file: only ELF64 AArch64 kernels can be loaded", name);
        }
        return fail(err, ARM_BOOT_ERROR_FORMAT,
                    "%s: truncated ELF header (%zu bytes, an ELF64 header has %u)", name, len,
                    ELF64_EHDR);
    }
    if (img[EI_CLASS] == ELFCLASS32) {
        return fail(err, ARM_BOOT_ERROR_FORMAT,
                    "%s: ELF32 (32-bit) file for machine %u (%s): only ELF64 AArch64 kernels "
                    "can be loaded", name, get16(img + 18), elf_machine_name(get16(img + 18)));
    }
    if (img[EI_CLASS] != ELFCLASS64) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: invalid ELF class %u (not 32- nor 64-bit)",
                    name, img[EI_CLASS]);
    }
    if (img[EI_DATA] == ELFDATA2MSB) {
        return fail(err, ARM_BOOT_ERROR_FORMAT,
                    "%s: big-endian ELF file: only little-endian AArch64 kernels can be loaded",
                    name);
    }
    if (img[EI_DATA] != ELFDATA2LSB) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: invalid ELF data encoding %u "
                    "(neither little- nor big-endian)", name, img[EI_DATA]);
    }
    if (img[EI_VERSION] != EV_CURRENT) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: unknown ELF version %u", name,
                    img[EI_VERSION]);
    }
    uint16_t type = get16(img + 16), machine = get16(img + 18);

    if (machine != EM_AARCH64) {
        return fail(err, ARM_BOOT_ERROR_FORMAT,
                    "%s: ELF64 file for machine %u (%s), not AArch64 (%u)", name, machine,
                    elf_machine_name(machine), EM_AARCH64);
    }
    if (type != ET_EXEC && type != ET_DYN) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: ELF file of type %u (%s), not an executable",
                    name, type,
                    type == ET_REL ? "relocatable object: link it first" :
                    type == ET_CORE ? "core dump" : "unknown type");
    }
    uint64_t entry = get64(img + 24), phoff = get64(img + 32);
    uint16_t phentsize = get16(img + 54), phnum = get16(img + 56);

    if (phnum == 0) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: ELF file without program headers: "
                    "nothing to load", name);
    }
    if (phnum == PN_XNUM) {
        /* The real count would be in section header 0 (ELF gABI "Extended
         * numbering"): no kernel has 65535 program headers. */
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: too many ELF program headers (PN_XNUM "
                    "extended numbering is not supported)", name);
    }
    if (phentsize < ELF64_PHDR) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: ELF program header size %u is smaller "
                    "than an ELF64 program header (%u)", name, phentsize, ELF64_PHDR);
    }
    uint64_t ph_bytes = (uint64_t)phentsize * phnum;

    if (phoff > len || ph_bytes > len - phoff) {
        return fail(err, ARM_BOOT_ERROR_FORMAT,
                    "%s: truncated: program headers [0x%" PRIx64 ", 0x%" PRIx64 ") are beyond "
                    "the end of the file (%zu bytes)", name, phoff, phoff + ph_bytes, len);
    }
    p->kind = ARM_BOOT_KIND_ELF;
    p->segs = g_new(Segment, phnum);
    p->n_segs = 0;
    p->low = UINT64_MAX;
    p->high = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;

        if (get32(ph) != PT_LOAD) {
            continue;
        }
        uint64_t off = get64(ph + 8), vaddr = get64(ph + 16), paddr = get64(ph + 24);
        uint64_t filesz = get64(ph + 32), memsz = get64(ph + 40);

        if (filesz > memsz) {
            return fail(err, ARM_BOOT_ERROR_FORMAT,
                        "%s: segment %u: p_filesz 0x%" PRIx64 " is larger than p_memsz 0x%"
                        PRIx64, name, i, filesz, memsz);
        }
        if (off > len || filesz > len - off) {
            return fail(err, ARM_BOOT_ERROR_FORMAT,
                        "%s: truncated: segment %u's data [0x%" PRIx64 ", +0x%" PRIx64 ") is "
                        "beyond the end of the file (%zu bytes)", name, i, off, filesz, len);
        }
        if (memsz == 0) {
            continue;
        }
        if (paddr > UINT64_MAX - memsz || vaddr > UINT64_MAX - memsz) {
            return fail(err, ARM_BOOT_ERROR_FORMAT,
                        "%s: segment %u: address + size overflows (p_paddr 0x%" PRIx64
                        ", p_vaddr 0x%" PRIx64 ", p_memsz 0x%" PRIx64 ")",
                        name, i, paddr, vaddr, memsz);
        }
        if (!inside(paddr, memsz, ram->base, ram->size)) {
            return fail(err, ARM_BOOT_ERROR_RANGE,
                        "%s: segment %u [0x%" PRIx64 ", 0x%" PRIx64 ") is outside RAM [0x%"
                        PRIx64 ", 0x%" PRIx64 ")", name, i, paddr, paddr + memsz, ram->base,
                        ram->base + ram->size);
        }
        p->segs[p->n_segs++] = (Segment){ paddr, vaddr, filesz, memsz, img + off, i };
        p->low = MIN(p->low, paddr);
        p->high = MAX(p->high, paddr + memsz);
    }
    if (p->n_segs == 0) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: ELF file without a loadable segment "
                    "(PT_LOAD with p_memsz > 0)", name);
    }
    /* The CPU starts with its MMU off: the entry must be the physical
     * address of a loaded byte. Accept a virtual entry too (a kernel linked
     * high, loaded low) and translate it through its segment. */
    for (unsigned i = 0; i < p->n_segs; i++) {
        const Segment *s = &p->segs[i];

        if (entry >= s->paddr && entry - s->paddr < s->memsz) {
            p->entry = entry;
            return true;
        }
    }
    for (unsigned i = 0; i < p->n_segs; i++) {
        const Segment *s = &p->segs[i];

        if (entry >= s->vaddr && entry - s->vaddr < s->memsz) {
            p->entry = s->paddr + (entry - s->vaddr);
            return true;
        }
    }
    return fail(err, ARM_BOOT_ERROR_FORMAT,
                "%s: entry point 0x%" PRIx64 " is outside the loaded segments [0x%" PRIx64
                ", 0x%" PRIx64 ")", name, entry, p->low, p->high);
}

static bool parse_linux_image(const char *name, const uint8_t *img, size_t len,
                              const ArmBootRam *ram, Parsed *p, GError **err)
{
    uint64_t text_offset = get64(img + 0x08), image_size = get64(img + 0x10);
    uint64_t flags = get64(img + 0x18), offset, footprint;

    if (flags & 1) {
        return fail(err, ARM_BOOT_ERROR_FORMAT,
                    "%s: Linux arm64 Image for a big-endian kernel (header flags bit 0): only "
                    "little-endian kernels can run", name);
    }
    if (image_size != 0) {
        offset = text_offset;
        footprint = MAX((uint64_t)len, image_size);
    } else {
        /* booting.rst: with image_size 0 (before v3.17) text_offset may be
         * in the wrong byte order; 0x80000 is what those kernels used. */
        offset = ARM_BOOT_RAW_OFFSET;
        footprint = len;
        p->footprint_unknown = true;
    }
    if (offset >= ram->size || footprint > ram->size - offset) {
        return fail(err, ARM_BOOT_ERROR_RANGE,
                    "%s: Linux Image (text_offset 0x%" PRIx64 ", image_size 0x%" PRIx64
                    ", file 0x%zx bytes) needs [0x%" PRIx64 ", +0x%" PRIx64 "), beyond RAM [0x%"
                    PRIx64 ", 0x%" PRIx64 ")", name, text_offset, image_size, len,
                    ram->base + MIN(offset, ram->size) , footprint, ram->base,
                    ram->base + ram->size);
    }
    p->kind = ARM_BOOT_KIND_LINUX_IMAGE;
    p->segs = g_new(Segment, 1);
    p->segs[0] = (Segment){ ram->base + offset, ram->base + offset, len, len, img, 0 };
    p->n_segs = 1;
    p->entry = ram->base + offset;
    p->low = p->entry;
    p->high = p->entry + footprint;
    return true;
}

static bool parse_raw(const char *name, const uint8_t *img, size_t len, const ArmBootRam *ram,
                      Parsed *p, GError **err)
{
    if (len == 0) {
        return fail(err, ARM_BOOT_ERROR_FORMAT, "%s: empty file: nothing to load", name);
    }
    if (ARM_BOOT_RAW_OFFSET >= ram->size || len > ram->size - ARM_BOOT_RAW_OFFSET) {
        return fail(err, ARM_BOOT_ERROR_RANGE,
                    "%s: raw binary of 0x%zx bytes at 0x%" PRIx64 " does not fit in RAM [0x%"
                    PRIx64 ", 0x%" PRIx64 ")", name, len, ram->base + ARM_BOOT_RAW_OFFSET,
                    ram->base, ram->base + ram->size);
    }
    p->kind = ARM_BOOT_KIND_RAW;
    p->footprint_unknown = true;
    p->segs = g_new(Segment, 1);
    p->segs[0] = (Segment){ ram->base + ARM_BOOT_RAW_OFFSET, ram->base + ARM_BOOT_RAW_OFFSET,
                            len, len, img, 0 };
    p->n_segs = 1;
    p->entry = ram->base + ARM_BOOT_RAW_OFFSET;
    p->low = p->entry;
    p->high = p->entry + len;
    return true;
}

/* --- Loading. --- */

/* Lowest address for the initrd and the DTB when the kernel's footprint is
 * unknown (raw binaries, Images with image_size 0): its BSS may extend far
 * past its file, so keep RAM base + min(RAM size / 2, 128 MiB) for it. */
static uint64_t unknown_floor(uint64_t ram_base, uint64_t ram_size)
{
    return ram_base + MIN(ram_size / 2, ARM_BOOT_UNKNOWN_RESERVE);
}

bool arm_boot_load_images(const char *kernel_name, const uint8_t *kernel, size_t kernel_len,
                          const char *initrd_name, const uint8_t *initrd, size_t initrd_len,
                          const ArmBootRam *ram, ArmBootInfo *out, GError **err)
{
    Parsed *p = g_new0(Parsed, 1);
    bool ok = false;

    if (ram->size == 0 || ram->base > UINT64_MAX - ram->size) {
        fail(err, ARM_BOOT_ERROR_RANGE, "%s: invalid RAM [0x%" PRIx64 ", +0x%" PRIx64 ")",
             kernel_name, ram->base, ram->size);
        goto out;
    }
    if (kernel_len >= 4 && memcmp(kernel, "\x7f" "ELF", 4) == 0) {
        ok = parse_elf(kernel_name, kernel, kernel_len, ram, p, err);
    } else if (kernel_len >= ARM_BOOT_IMAGE_HDR_LEN &&
               get32(kernel + 0x38) == ARM_BOOT_IMAGE_MAGIC) {
        ok = parse_linux_image(kernel_name, kernel, kernel_len, ram, p, err);
    } else {
        ok = parse_raw(kernel_name, kernel, kernel_len, ram, p, err);
    }
    if (!ok) {
        goto out;
    }
    ok = false;

    uint64_t initrd_start = 0;

    if (initrd) {
        if (initrd_len == 0) {
            fail(err, ARM_BOOT_ERROR_FORMAT, "%s: empty initrd file", initrd_name);
            goto out;
        }
        uint64_t end = ram->base + ram->size;

        initrd_start = p->high;  /* in the message if aligning overflows */

        uint64_t from = p->high;

        if (p->footprint_unknown) {
            from = MAX(from, unknown_floor(ram->base, ram->size));
        }
        if (!align_up(from, p->kind == ARM_BOOT_KIND_LINUX_IMAGE ? SZ_2M : SZ_4K,
                      &initrd_start) ||
            !inside(initrd_start, initrd_len, ram->base, ram->size)) {
            fail(err, ARM_BOOT_ERROR_RANGE,
                 "%s: initrd of 0x%zx bytes does not fit in RAM after the kernel: it would go at "
                 "0x%" PRIx64 ", RAM ends at 0x%" PRIx64, initrd_name, initrd_len,
                 initrd_start, end);
            goto out;
        }
    }

    /* Everything checked: write. */
    for (unsigned i = 0; i < p->n_segs; i++) {
        const Segment *s = &p->segs[i];
        uint8_t *host = ram->host + (s->paddr - ram->base);

        memcpy(host, s->data, s->filesz);
        memset(host + s->filesz, 0, s->memsz - s->filesz);
    }
    if (initrd) {
        memcpy(ram->host + (initrd_start - ram->base), initrd, initrd_len);
    }
    *out = (ArmBootInfo){
        .kind = p->kind,
        .linux_image = p->kind == ARM_BOOT_KIND_LINUX_IMAGE,
        .footprint_unknown = p->footprint_unknown,
        .entry = p->entry,
        .kernel_low = p->low,
        .kernel_high = p->high,
        .initrd_start = initrd ? initrd_start : 0,
        .initrd_size = initrd ? initrd_len : 0,
    };
    ok = true;
out:
    g_free(p->segs);
    g_free(p);
    return ok;
}

bool arm_boot_dtb_addr(const ArmBootInfo *bi, uint64_t ram_base, uint64_t ram_size,
                       size_t dtb_size, uint64_t *addr, GError **err)
{
    uint64_t size4k, top, start = 0;

    if (dtb_size == 0 || dtb_size > ARM_BOOT_DTB_MAX) {
        return fail(err, ARM_BOOT_ERROR_RANGE,
                    "device tree of %zu bytes: must be nonzero and at most %" PRIu64 " bytes",
                    dtb_size, ARM_BOOT_DTB_MAX);
    }
    size4k = (dtb_size + SZ_4K - 1) & ~(SZ_4K - 1);
    /* Bare-metal ELF programs linked above the DTB: at RAM base. The initrd
     * is always above the kernel, so below kernel_low nothing is loaded. */
    if (bi->kind == ARM_BOOT_KIND_ELF && bi->kernel_low >= ram_base &&
        bi->kernel_low - ram_base >= size4k && size4k <= ram_size) {
        *addr = ram_base;
        return true;
    }
    top = bi->kernel_high;
    if (bi->initrd_size) {
        top = MAX(top, bi->initrd_start + bi->initrd_size);
    }
    if (bi->footprint_unknown) {
        top = MAX(top, unknown_floor(ram_base, ram_size));
    }
    start = top;  /* in the message if aligning overflows */
    if (!align_up(top, bi->linux_image ? SZ_2M : SZ_4K, &start) ||
        !inside(start, dtb_size, ram_base, ram_size)) {
        return fail(err, ARM_BOOT_ERROR_RANGE,
                    "device tree of %zu bytes does not fit in RAM after the kernel%s: it would "
                    "go at 0x%" PRIx64 ", RAM is [0x%" PRIx64 ", 0x%" PRIx64 ")", dtb_size,
                    bi->initrd_size ? " and initrd" : "", start, ram_base, ram_base + ram_size);
    }
    *addr = start;
    return true;
}

/* --- Files. --- */

bool arm_boot_read_file(const char *path, uint64_t max_size, uint8_t **data, size_t *len,
                        GError **err)
{
    return image_file_read(path, max_size, data, len, ARM_BOOT_ERROR, ARM_BOOT_ERROR_IO, err);
}

bool arm_boot_load(const char *kernel, const char *initrd, uint8_t *ram, uint64_t ram_base,
                   uint64_t ram_size, ArmBootInfo *out, GError **err)
{
    const ArmBootRam r = { ram, ram_base, ram_size };
    uint8_t *kdata = NULL, *idata = NULL;
    size_t klen = 0, ilen = 0;
    bool ok = false;
    bool have_initrd = initrd && *initrd;

    if (!arm_boot_read_file(kernel, ARM_BOOT_KERNEL_FILE_MAX, &kdata, &klen, err)) {
        goto out;
    }
    if (have_initrd && !arm_boot_read_file(initrd, MIN(ram_size, (uint64_t)G_MAXUINT32),
                                           &idata, &ilen, err)) {
        goto out;
    }
    /* An empty initrd reads as a NULL buffer: keep it distinct from none. */
    static const uint8_t empty[1];
    ok = arm_boot_load_images(kernel, kdata, klen, initrd, have_initrd ? (idata ? idata : empty)
                              : NULL, ilen, &r, out, err);
out:
    g_free(kdata);
    g_free(idata);
    return ok;
}
