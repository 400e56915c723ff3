/*
 * The Multiboot v1 loader (multiboot.h).
 *
 * Three phases, so that a refused image leaves guest memory untouched:
 * parse the image into segments (every field checked against the file's
 * length), place everything (segments, information area, modules) and
 * check it against RAM, then write.
 */
#include "machines/multiboot.h"
#include "machines/image_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "targets/x86/x86_cpu.h"

G_DEFINE_QUARK(mmusim-multiboot-error-quark, multiboot_error)

#define FOUR_GIB    (UINT64_C(1) << 32)
#define ONE_MIB     UINT64_C(0x100000)
#define MB_INFO_RESERVED 128u   /* bytes kept for the info structure (88 used) */
#define MB_MOD_ENTRY 16u
#define MB_MMAP_ENTRY 24u
#define PAGE_SIZE_4K UINT64_C(4096)

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~(uint64_t)((a) - 1))

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* --- Parsing. --- */

typedef struct Segment {
    uint64_t paddr;
    uint64_t vaddr;
    uint64_t filesz;
    uint64_t memsz;
    const uint8_t *data;
    unsigned index;  /* program header index (ELF) */
} Segment;

typedef struct Parsed {
    GArray *segs;    /* Segment */
    uint32_t entry;
    uint32_t flags;
    bool kludge;
} Parsed;

static bool G_GNUC_PRINTF(3, 4) fail(GError **err, MultibootError code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, MULTIBOOT_ERROR, code, msg);
    g_free(msg);
    return false;
}

static bool find_header(const char *name, const uint8_t *image, size_t len, size_t *off_out,
                        uint32_t *flags_out, GError **err)
{
    size_t limit = MIN(len, (size_t)MB_SEARCH_LIMIT);
    bool bad = false, truncated = false;
    size_t bad_off = 0;
    uint32_t bad_sum = 0;

    if (len == 0) {
        return fail(err, MB_ERROR_FORMAT, "%s: empty file, not a multiboot kernel", name);
    }
    for (size_t off = 0; off + 4 <= limit; off += 4) {
        if (get32(image + off) != MB_HEADER_MAGIC) {
            continue;
        }
        if (off + 12 > limit) {
            truncated = true;  /* magic, but flags/checksum beyond the file or 8 KiB */
            continue;
        }
        uint32_t flags = get32(image + off + 4);
        uint32_t sum = MB_HEADER_MAGIC + flags + get32(image + off + 8);

        if (sum == 0) {
            *off_out = off;
            *flags_out = flags;
            return true;
        }
        if (!bad) {
            bad = true;
            bad_off = off;
            bad_sum = sum;
        }
    }
    if (bad) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: multiboot header at offset 0x%zx has a bad checksum "
                    "(magic + flags + checksum = 0x%08" PRIx32 ", must be 0)",
                    name, bad_off, bad_sum);
    }
    if (truncated) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: truncated multiboot header (the magic is there, flags and checksum "
                    "are past the end of the file or of its first %u bytes)",
                    name, MB_SEARCH_LIMIT);
    }
    return fail(err, MB_ERROR_FORMAT,
                "%s: no multiboot header (magic 0x%08x, 32-bit aligned) in the first %u bytes: "
                "not a multiboot kernel",
                name, MB_HEADER_MAGIC, MB_SEARCH_LIMIT);
}

static bool parse_kludge(const char *name, const uint8_t *image, size_t len, size_t off,
                         Parsed *p, GError **err)
{
    if (off + 32 > len || off + 32 > MB_SEARCH_LIMIT) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: truncated multiboot header: the a.out kludge (flag bit 16) needs "
                    "32 bytes at offset 0x%zx, within the file (%zu bytes) and its first %u bytes",
                    name, off, len, MB_SEARCH_LIMIT);
    }
    uint32_t header_addr = get32(image + off + 12);
    uint32_t load_addr = get32(image + off + 16);
    uint32_t load_end = get32(image + off + 20);
    uint32_t bss_end = get32(image + off + 24);
    uint32_t entry = get32(image + off + 28);

    if (load_addr > header_addr) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: multiboot header: load_addr 0x%08" PRIx32 " is above header_addr 0x%08"
                    PRIx32, name, load_addr, header_addr);
    }
    uint64_t delta = (uint64_t)header_addr - load_addr;
    if (delta > off) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: multiboot header: header_addr - load_addr = 0x%" PRIx64 " is more than "
                    "the header's file offset 0x%zx (the text would start before the file)",
                    name, delta, off);
    }
    size_t load_off = off - (size_t)delta;
    uint64_t load_size;

    if (load_end == 0) {
        load_size = len - load_off;
    } else {
        if (load_end < load_addr) {
            return fail(err, MB_ERROR_FORMAT,
                        "%s: multiboot header: load_end_addr 0x%08" PRIx32
                        " is below load_addr 0x%08" PRIx32, name, load_end, load_addr);
        }
        load_size = (uint64_t)load_end - load_addr;
        if (load_size > len - load_off) {
            return fail(err, MB_ERROR_FORMAT,
                        "%s: truncated: load_end_addr 0x%08" PRIx32 " needs 0x%" PRIx64
                        " bytes from file offset 0x%zx, the file has only %zu bytes",
                        name, load_end, load_size, load_off, len);
        }
    }
    uint64_t mem_size = load_size;

    if (bss_end) {
        if ((uint64_t)bss_end < (uint64_t)load_addr + load_size) {
            return fail(err, MB_ERROR_FORMAT,
                        "%s: multiboot header: bss_end_addr 0x%08" PRIx32
                        " is below the end of the loaded data 0x%08" PRIx64,
                        name, bss_end, (uint64_t)load_addr + load_size);
        }
        mem_size = (uint64_t)bss_end - load_addr;
    }
    if (mem_size == 0) {
        return fail(err, MB_ERROR_FORMAT, "%s: multiboot header: nothing to load (empty image)",
                    name);
    }
    if (entry < load_addr || (uint64_t)entry - load_addr >= mem_size) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: multiboot header: entry_addr 0x%08" PRIx32 " is outside the loaded "
                    "image 0x%08" PRIx32 "-0x%08" PRIx64,
                    name, entry, load_addr, (uint64_t)load_addr + mem_size - 1);
    }
    Segment s = { .paddr = load_addr, .vaddr = load_addr, .filesz = load_size,
                  .memsz = mem_size, .data = image + load_off, .index = 0 };
    g_array_append_val(p->segs, s);
    p->entry = entry;
    p->kludge = true;
    return true;
}

enum { EM_386 = 3, ET_EXEC = 2, PT_LOAD = 1, ELF32_EHDR = 52, ELF32_PHDR = 32 };

static bool parse_elf(const char *name, const uint8_t *image, size_t len, Parsed *p,
                      GError **err)
{
    if (len < 4 || memcmp(image, "\x7f" "ELF", 4) != 0) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: not an ELF file, and its multiboot header does not use the a.out "
                    "kludge (flag bit 16) to say where to load it", name);
    }
    if (len < ELF32_EHDR) {
        return fail(err, MB_ERROR_FORMAT, "%s: truncated ELF header (%zu bytes, needs %d)", name,
                    len, ELF32_EHDR);
    }
    if (image[4] == 2) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: 64-bit ELF (ELFCLASS64): a multiboot v1 kernel must be ELF32", name);
    }
    if (image[4] != 1) {
        return fail(err, MB_ERROR_FORMAT, "%s: bad ELF class %u: not ELF32", name, image[4]);
    }
    if (image[5] != 1) {
        return fail(err, MB_ERROR_FORMAT, "%s: not a little-endian ELF (EI_DATA %u)", name,
                    image[5]);
    }
    uint16_t type = get16(image + 16), machine = get16(image + 18);

    if (machine != EM_386) {
        return fail(err, MB_ERROR_FORMAT, "%s: ELF machine %u is not i386 (EM_386)", name,
                    machine);
    }
    if (type != ET_EXEC) {
        return fail(err, MB_ERROR_FORMAT, "%s: ELF type %u is not an executable (ET_EXEC)",
                    name, type);
    }
    uint32_t e_entry = get32(image + 24), phoff = get32(image + 28);
    uint16_t phentsize = get16(image + 42), phnum = get16(image + 44);

    if (phnum == 0) {
        return fail(err, MB_ERROR_FORMAT, "%s: ELF file has no program headers", name);
    }
    if (phentsize < ELF32_PHDR) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: ELF program header size %u is too small (ELF32 needs %d)", name,
                    phentsize, ELF32_PHDR);
    }
    uint64_t ph_end = (uint64_t)phoff + (uint64_t)phnum * phentsize;
    if (ph_end > len) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: truncated ELF: %u program headers at offset 0x%" PRIx32
                    " end at 0x%" PRIx64 ", past the end of the file (%zu bytes)",
                    name, phnum, phoff, ph_end, len);
    }
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = image + phoff + (size_t)i * phentsize;

        if (get32(ph) != PT_LOAD) {
            continue;
        }
        uint32_t offset = get32(ph + 4), vaddr = get32(ph + 8), paddr = get32(ph + 12);
        uint32_t filesz = get32(ph + 16), memsz = get32(ph + 20);

        if (filesz > memsz) {
            return fail(err, MB_ERROR_FORMAT,
                        "%s: ELF segment %u: p_filesz 0x%" PRIx32 " is larger than p_memsz 0x%"
                        PRIx32, name, i, filesz, memsz);
        }
        if (memsz == 0) {
            continue;
        }
        if ((uint64_t)offset + filesz > len) {
            return fail(err, MB_ERROR_FORMAT,
                        "%s: truncated ELF: segment %u needs file bytes 0x%" PRIx32 "-0x%" PRIx64
                        ", the file has %zu bytes",
                        name, i, offset, (uint64_t)offset + filesz - 1, len);
        }
        Segment s = { .paddr = paddr, .vaddr = vaddr, .filesz = filesz, .memsz = memsz,
                      .data = image + offset, .index = i };
        g_array_append_val(p->segs, s);
    }
    if (p->segs->len == 0) {
        return fail(err, MB_ERROR_FORMAT, "%s: ELF file has no loadable (PT_LOAD) segment",
                    name);
    }
    /* A kernel linked high but loaded low gives a virtual entry: translate. */
    uint64_t entry = e_entry;
    for (guint i = 0; i < p->segs->len; i++) {
        const Segment *s = &g_array_index(p->segs, Segment, i);

        if (e_entry >= s->vaddr && e_entry - s->vaddr < s->memsz) {
            entry = s->paddr + (e_entry - s->vaddr);
            break;
        }
    }
    bool inside = false;
    for (guint i = 0; i < p->segs->len; i++) {
        const Segment *s = &g_array_index(p->segs, Segment, i);

        inside |= entry >= s->paddr && entry - s->paddr < s->memsz;
    }
    if (!inside || entry >= FOUR_GIB) {
        return fail(err, MB_ERROR_FORMAT,
                    "%s: ELF entry point 0x%08" PRIx32 " is outside every loadable segment",
                    name, e_entry);
    }
    p->entry = (uint32_t)entry;
    p->kludge = false;
    return true;
}

/* --- Placement. --- */

/* The RAM range holding all of [addr, addr + len), or NULL. */
static const MbRamRange *find_ram(const MultibootConfig *cfg, uint64_t addr, uint64_t len)
{
    for (unsigned i = 0; i < cfg->n_ram; i++) {
        const MbRamRange *r = &cfg->ram[i];

        if (addr >= r->start && addr - r->start <= r->size && len <= r->size - (addr - r->start)) {
            return r;
        }
    }
    return NULL;
}

static uint8_t *ram_ptr(const MultibootConfig *cfg, uint64_t addr, uint64_t len)
{
    const MbRamRange *r = find_ram(cfg, addr, len);

    return r ? r->host + (addr - r->start) : NULL;
}

/* "0x0-0x9ffff, 0x100000-0x7ffffff" */
static char *describe_ram(const MultibootConfig *cfg)
{
    GString *s = g_string_new(NULL);

    for (unsigned i = 0; i < cfg->n_ram; i++) {
        if (cfg->ram[i].size) {
            g_string_append_printf(s, "%s0x%" PRIx64 "-0x%" PRIx64, s->len ? ", " : "",
                                   cfg->ram[i].start, cfg->ram[i].start + cfg->ram[i].size - 1);
        }
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return g_string_free(s, FALSE);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* Where each piece of the information area goes. */
typedef struct InfoLayout {
    uint64_t gdt, info, cmdline, loader_name, mods, mod_strings, mmap, end;
} InfoLayout;

static void layout_info(const MultibootConfig *cfg, const MultibootModule *mods,
                        unsigned n_mods, InfoLayout *l)
{
    const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
    uint64_t p = MB_INFO_BASE;

    l->gdt = p;
    p += MB_GDT_SIZE;
    l->info = p;
    p += MB_INFO_RESERVED;
    l->cmdline = p;
    p = ALIGN_UP(p + strlen(cmdline) + 1, 4);
    l->loader_name = p;
    p = ALIGN_UP(p + sizeof(MB_LOADER_NAME), 4);
    l->mods = p;
    p += (uint64_t)MB_MOD_ENTRY * n_mods;
    l->mod_strings = p;
    for (unsigned i = 0; i < n_mods; i++) {
        p += strlen(mods[i].name ? mods[i].name : "") + 1;
    }
    p = ALIGN_UP(p, 8);
    l->mmap = p;
    p += (uint64_t)MB_MMAP_ENTRY * cfg->n_mmap;
    l->end = p;
}

/* --- Loading. --- */

bool multiboot_load_image(const char *name, const uint8_t *image, size_t len,
                          const MultibootConfig *cfg, const MultibootModule *mods,
                          unsigned n_mods, MultibootBoot *out, GError **err)
{
    Parsed p = { .segs = g_array_new(FALSE, FALSE, sizeof(Segment)) };
    uint64_t *mod_addr = g_new0(uint64_t, n_mods ? n_mods : 1);
    char *ram_text = NULL;
    size_t off = 0;
    bool ok = false;

    memset(out, 0, sizeof(*out));
    if (!name) {
        name = "kernel";
    }
    if (!image && len) {
        fail(err, MB_ERROR_IO, "%s: no data", name);
        goto out;
    }
    if (!find_header(name, image, len, &off, &p.flags, err)) {
        goto out;
    }
    uint32_t required = p.flags & 0xffffu;
    uint32_t unsupported = required & ~(MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO |
                                        MB_FLAG_VIDEO_MODE);
    if (unsupported) {
        fail(err, MB_ERROR_FORMAT,
             "%s: multiboot header requires features this loader does not have "
             "(flag bits 0x%04" PRIx32 "; known: 0 page-aligned modules, 1 memory map, "
             "2 video mode)", name, unsupported);
        goto out;
    }
    out->ignored_flags = required & MB_FLAG_VIDEO_MODE;
    if (p.flags & MB_FLAG_AOUT_KLUDGE) {
        if (!parse_kludge(name, image, len, off, &p, err)) {
            goto out;
        }
    } else if (!parse_elf(name, image, len, &p, err)) {
        goto out;
    }

    /* Place the information area, then check the segments against RAM and it. */
    InfoLayout l;

    layout_info(cfg, mods, n_mods, &l);
    ram_text = describe_ram(cfg);
    if (l.end > MB_INFO_LIMIT) {
        fail(err, MB_ERROR_PLACEMENT,
             "%s: the command line, module names and memory map need 0x%" PRIx64 " bytes of "
             "multiboot information, more than the 0x%x available at 0x%x",
             name, l.end - MB_INFO_BASE, MB_INFO_LIMIT - MB_INFO_BASE, MB_INFO_BASE);
        goto out;
    }
    if (!find_ram(cfg, MB_INFO_BASE, l.end - MB_INFO_BASE)) {
        fail(err, MB_ERROR_PLACEMENT,
             "%s: no RAM for the multiboot information at 0x%x-0x%" PRIx64 " (RAM: %s)", name,
             MB_INFO_BASE, l.end - 1, ram_text);
        goto out;
    }
    out->kernel_start = UINT64_MAX;
    for (guint i = 0; i < p.segs->len; i++) {
        const Segment *s = &g_array_index(p.segs, Segment, i);
        g_autofree char *what = p.kludge ? g_strdup("image")
                                         : g_strdup_printf("ELF segment %u", s->index);
        uint64_t last = s->paddr + s->memsz - 1;

        if (s->paddr + s->memsz > FOUR_GIB) {
            fail(err, MB_ERROR_PLACEMENT,
                 "%s: %s at 0x%08" PRIx64 "-0x%" PRIx64 " goes past 4 GiB", name, what, s->paddr,
                 last);
            goto out;
        }
        if (!find_ram(cfg, s->paddr, s->memsz)) {
            fail(err, MB_ERROR_PLACEMENT,
                 "%s: %s at 0x%08" PRIx64 "-0x%08" PRIx64 " is outside RAM (RAM: %s)", name, what,
                 s->paddr, last, ram_text);
            goto out;
        }
        if (overlaps(s->paddr, s->memsz, MB_INFO_BASE, l.end - MB_INFO_BASE)) {
            fail(err, MB_ERROR_PLACEMENT,
                 "%s: %s at 0x%08" PRIx64 "-0x%08" PRIx64 " overlaps the multiboot information "
                 "area 0x%x-0x%" PRIx64, name, what, s->paddr, last, MB_INFO_BASE, l.end - 1);
            goto out;
        }
        out->kernel_start = MIN(out->kernel_start, s->paddr);
        out->kernel_end = MAX(out->kernel_end, s->paddr + s->memsz);
    }

    /* Modules: page aligned, one after the other, above 1 MiB and the kernel. */
    uint64_t next = MAX(out->kernel_end, ONE_MIB);
    for (unsigned i = 0; i < n_mods; i++) {
        const char *mname = mods[i].name ? mods[i].name : "module";
        uint64_t addr = ALIGN_UP(next, PAGE_SIZE_4K);
        uint64_t mlen = mods[i].len;

        if (!mods[i].data && mlen) {
            fail(err, MB_ERROR_IO, "%s: no data", mname);
            goto out;
        }
        if (mlen >= FOUR_GIB || addr + mlen > FOUR_GIB) {
            fail(err, MB_ERROR_PLACEMENT,
                 "%s: module of %" PRIu64 " bytes does not fit below 4 GiB (it would start at "
                 "0x%" PRIx64 ", after the kernel %s)", mname, mlen, addr, name);
            goto out;
        }
        if (!find_ram(cfg, addr, mlen)) {
            fail(err, MB_ERROR_PLACEMENT,
                 "%s: module of %" PRIu64 " bytes at 0x%" PRIx64 " does not fit in RAM "
                 "(RAM: %s; it follows the kernel %s)", mname, mlen, addr, ram_text, name);
            goto out;
        }
        mod_addr[i] = addr;
        next = addr + mlen;
    }
    out->modules_end = n_mods ? next : out->kernel_end;

    /* Everything fits: write. */
    for (guint i = 0; i < p.segs->len; i++) {
        const Segment *s = &g_array_index(p.segs, Segment, i);
        uint8_t *host = ram_ptr(cfg, s->paddr, s->memsz);

        memcpy(host, s->data, s->filesz);
        memset(host + s->filesz, 0, s->memsz - s->filesz);
    }
    uint8_t *area = ram_ptr(cfg, MB_INFO_BASE, l.end - MB_INFO_BASE);
#define AT(addr) (area + ((addr) - MB_INFO_BASE))
    memset(area, 0, l.end - MB_INFO_BASE);
    /* GDT: null, null, flat 4 GiB code (0x10: execute/read, 32-bit), flat data (0x18). */
    put64(AT(l.gdt + MB_CODE_SEL), UINT64_C(0x00cf9b000000ffff));
    put64(AT(l.gdt + MB_DATA_SEL), UINT64_C(0x00cf93000000ffff));

    uint8_t *info = AT(l.info);
    const char *cmdline = cfg->cmdline ? cfg->cmdline : "";

    put32(info + MBI_FLAGS, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MEM_MAP |
                                MB_INFO_LOADER_NAME);
    put32(info + MBI_MEM_LOWER, cfg->mem_lower_kib);
    put32(info + MBI_MEM_UPPER, cfg->mem_upper_kib);
    put32(info + MBI_CMDLINE, (uint32_t)l.cmdline);
    memcpy(AT(l.cmdline), cmdline, strlen(cmdline) + 1);
    put32(info + MBI_LOADER_NAME, (uint32_t)l.loader_name);
    memcpy(AT(l.loader_name), MB_LOADER_NAME, sizeof(MB_LOADER_NAME));
    put32(info + MBI_MODS_COUNT, n_mods);
    put32(info + MBI_MODS_ADDR, (uint32_t)l.mods);
    uint64_t str = l.mod_strings;
    for (unsigned i = 0; i < n_mods; i++) {
        const char *mname = mods[i].name ? mods[i].name : "";
        uint8_t *e = AT(l.mods + (uint64_t)MB_MOD_ENTRY * i);

        put32(e + 0, (uint32_t)mod_addr[i]);
        put32(e + 4, (uint32_t)(mod_addr[i] + mods[i].len));
        put32(e + 8, (uint32_t)str);
        memcpy(AT(str), mname, strlen(mname) + 1);
        str += strlen(mname) + 1;
        if (mods[i].len) {
            memcpy(ram_ptr(cfg, mod_addr[i], mods[i].len), mods[i].data, mods[i].len);
        }
    }
    put32(info + MBI_MMAP_LENGTH, MB_MMAP_ENTRY * cfg->n_mmap);
    put32(info + MBI_MMAP_ADDR, (uint32_t)l.mmap);
    for (unsigned i = 0; i < cfg->n_mmap; i++) {
        uint8_t *e = AT(l.mmap + (uint64_t)MB_MMAP_ENTRY * i);

        put32(e + 0, MB_MMAP_ENTRY - 4);  /* size of the rest of the entry */
        put64(e + 4, cfg->mmap[i].base);
        put64(e + 12, cfg->mmap[i].length);
        put32(e + 20, cfg->mmap[i].type);
    }
#undef AT

    out->entry = p.entry;
    out->info_addr = (uint32_t)l.info;
    out->gdt_addr = (uint32_t)l.gdt;
    out->gdt_limit = MB_GDT_SIZE - 1;
    out->info_end = (uint32_t)l.end;
    out->aout_kludge = p.kludge;
    ok = true;

out:
    g_array_free(p.segs, TRUE);
    g_free(mod_addr);
    g_free(ram_text);
    return ok;
}

/* --- Files. --- */

bool multiboot_read_file(const char *path, uint64_t max_size, uint8_t **data, size_t *len,
                         GError **err)
{
    return image_file_read(path, max_size, data, len, MULTIBOOT_ERROR, MB_ERROR_IO, err);
}

/* Files larger than this are refused before reading (no machine has more). */
#define MB_MAX_FILE (FOUR_GIB - 1)

bool multiboot_load_files(const char *kernel, const char *modules, const MultibootConfig *cfg,
                          MultibootBoot *out, GError **err)
{
    gchar **names = NULL;
    MultibootModule *mods = NULL;
    unsigned n_mods = 0;
    uint8_t *image = NULL;
    size_t len = 0;
    bool ok = false;

    if (modules && *modules) {
        names = g_strsplit(modules, ",", -1);
        n_mods = g_strv_length(names);
        mods = g_new0(MultibootModule, n_mods);
        for (unsigned i = 0; i < n_mods; i++) {
            if (!names[i][0]) {
                fail(err, MB_ERROR_IO, "module list '%s': empty file name (item %u)", modules,
                     i + 1);
                goto out;
            }
        }
        for (unsigned i = 0; i < n_mods; i++) {
            uint8_t *data;
            size_t dlen;

            if (!multiboot_read_file(names[i], MB_MAX_FILE, &data, &dlen, err)) {
                goto out;
            }
            mods[i] = (MultibootModule){ names[i], data, dlen };
        }
    }
    if (!multiboot_read_file(kernel, MB_MAX_FILE, &image, &len, err)) {
        goto out;
    }
    ok = multiboot_load_image(kernel, image, len, cfg, mods, n_mods, out, err);

out:
    g_free(image);
    for (unsigned i = 0; mods && i < n_mods; i++) {
        g_free((void *)mods[i].data);
    }
    g_free(mods);
    g_strfreev(names);
    return ok;
}

/* --- CPU state at entry (spec 3.2). --- */

void multiboot_cpu_setup(struct X86Cpu *cpu, const MultibootBoot *boot)
{
    const uint32_t flat = X86_SEGA_S | X86_SEGA_P | X86_SEGA_DB | X86_SEGA_G;

    x86_cpu_reset(cpu);
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_AX] = MB_BOOT_MAGIC;
    cpu->regs[R_BX] = boot->info_addr;
    cpu->regs[R_SP] = MB_INFO_BASE;  /* not in the spec: a harmless place in low RAM */
    for (int s = 0; s < 6; s++) {
        /* Read/write data, accessed. */
        cpu->segs[s] = (X86Seg){ MB_DATA_SEL, 0, 0xffffffffu, flat | 0x3 };
    }
    /* Execute/read code, accessed. */
    cpu->segs[S_CS] = (X86Seg){ MB_CODE_SEL, 0, 0xffffffffu, flat | 0xb };
    cpu->gdtr = (X86Table){ boot->gdt_addr, boot->gdt_limit };
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
    x86_set_eflags(cpu, 0x2, 0xffffffffu);
    cpu->cpl = 0;
    cpu->rip = boot->entry;
    cpu->halted = false;
    x86_paging_changed(cpu, false);
}
