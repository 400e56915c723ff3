/*
 * A Multiboot (version 1, specification 0.6.96) loader.
 *
 * The kernel image must hold a multiboot header, 32-bit aligned and wholly
 * inside its first 8192 bytes: magic 0x1BADB002, flags, checksum (the three
 * add up to 0 mod 2^32). Then:
 *
 *  - flag bit 16 set (the "a.out kludge"): the header's address fields say
 *    where the image goes: the file from offset
 *    header_offset - (header_addr - load_addr) is loaded at load_addr, up to
 *    load_end_addr (0: the end of the file), zeroes up to bss_end_addr
 *    (0: none), and execution starts at entry_addr. These fields win even if
 *    the file is also an ELF file, as in GRUB and QEMU.
 *  - otherwise the image must be an ELF32 i386 executable: every PT_LOAD
 *    segment is loaded at its physical address (p_paddr), p_filesz bytes
 *    from the file and zeroes up to p_memsz. The entry is e_entry, turned
 *    into a physical address if it falls inside a segment's virtual range
 *    (kernels linked high but loaded low).
 *
 * Header flags 0..15 are requirements: bit 0 (page-aligned modules) and bit
 * 1 (memory information) are always satisfied; bit 2 (video mode) is
 * ignored, the machine having no display (reported in MultibootBoot); any
 * other requirement bit makes the image refused. Bits 16..31 other than 16
 * are ignored.
 *
 * Every image is checked before a byte is written: no header, bad checksum,
 * truncated header, ELF header, program headers or segment data, not
 * ELF32, not little-endian, not i386, not an executable, no loadable
 * segment, a segment or module outside RAM (or above 4 GiB), a segment
 * overlapping the multiboot information area, an entry point outside the
 * loaded image. Each refusal is a GError whose message starts with the file
 * name. No input can crash the loader.
 *
 * The multiboot information (boot information format, spec section 3.3) is
 * built in low RAM from MB_INFO_BASE up, in this order: a 4-entry GDT
 * (null, null, flat code at selector 0x10, flat data at 0x18), the info
 * structure, then the command line, boot loader name ("mmusim"), module
 * list, module strings and memory map. Info flags set: memory (0),
 * cmdline (2, the --append string, "" if none), mods (3, count may be 0),
 * mmap (6), boot_loader_name (9). Modules are placed one after the other,
 * page aligned, above 1 MiB and above the kernel's last byte; each module's
 * string is its file name as given.
 *
 * Machine state at entry (spec 3.2), set by multiboot_cpu_setup(): EAX =
 * 0x2BADB002, EBX = the info address, CS = 0x10 flat 32-bit execute/read,
 * DS/ES/FS/GS/SS = 0x18 flat read/write, GDTR on the loader's GDT (the spec
 * says the OS must not rely on it; it is valid anyway), CR0 = PE|ET, paging
 * off, EFLAGS = 0x2 (IF=0, VM=0), ESP = MB_INFO_BASE (undefined by the
 * spec: kernels set their own), every other register 0. A20 is always
 * enabled: the CPU model has no A20 gate.
 */
#ifndef MMUSIM_MACHINES_MULTIBOOT_H
#define MMUSIM_MACHINES_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define MB_HEADER_MAGIC    0x1BADB002u
#define MB_BOOT_MAGIC      0x2BADB002u
#define MB_SEARCH_LIMIT    8192u

/* Header flags. */
#define MB_FLAG_PAGE_ALIGN  (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE  (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)

/* Info flags. */
#define MB_INFO_MEMORY      (1u << 0)
#define MB_INFO_CMDLINE     (1u << 2)
#define MB_INFO_MODS        (1u << 3)
#define MB_INFO_MEM_MAP     (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)

/* Info structure offsets (spec 3.3). */
enum {
    MBI_FLAGS = 0, MBI_MEM_LOWER = 4, MBI_MEM_UPPER = 8, MBI_BOOT_DEVICE = 12,
    MBI_CMDLINE = 16, MBI_MODS_COUNT = 20, MBI_MODS_ADDR = 24, MBI_SYMS = 28,
    MBI_MMAP_LENGTH = 44, MBI_MMAP_ADDR = 48, MBI_DRIVES_LENGTH = 52, MBI_DRIVES_ADDR = 56,
    MBI_CONFIG_TABLE = 60, MBI_LOADER_NAME = 64, MBI_APM_TABLE = 68, MBI_VBE = 72,
    MBI_SIZE = 88,
};

/* Memory map entry types. */
enum { MB_MMAP_AVAILABLE = 1, MB_MMAP_RESERVED = 2 };

/* The information area: [MB_INFO_BASE, MB_INFO_LIMIT) in low RAM. Only the
 * part actually used must not overlap the kernel. */
#define MB_INFO_BASE   0x9000u
#define MB_INFO_LIMIT  0x90000u
#define MB_GDT_SIZE    32u
#define MB_CODE_SEL    0x10u
#define MB_DATA_SEL    0x18u
#define MB_LOADER_NAME "mmusim"

#define MULTIBOOT_ERROR (multiboot_error_quark())
GQuark multiboot_error_quark(void);
typedef enum MultibootError {
    MB_ERROR_IO,        /* cannot read a file */
    MB_ERROR_FORMAT,    /* not a (valid) multiboot image */
    MB_ERROR_PLACEMENT, /* valid, but does not fit this machine's memory */
} MultibootError;

/* RAM the loader may write: guest [start, start+size) is host[0..size). */
typedef struct MbRamRange {
    uint64_t start;
    uint64_t size;
    uint8_t *host;
} MbRamRange;

typedef struct MbMemMapEntry {
    uint64_t base;
    uint64_t length;
    uint32_t type;  /* MB_MMAP_* */
} MbMemMapEntry;

typedef struct MultibootConfig {
    const MbRamRange *ram;       /* loadable RAM, in any order */
    unsigned n_ram;
    const MbMemMapEntry *mmap;   /* what the kernel is told (memory map) */
    unsigned n_mmap;
    uint32_t mem_lower_kib;      /* RAM from 0, in KiB (at most 640) */
    uint32_t mem_upper_kib;      /* RAM from 1 MiB up to the first hole, in KiB */
    const char *cmdline;         /* NULL: "" */
} MultibootConfig;

typedef struct MultibootModule {
    const char *name;            /* the module's string */
    const uint8_t *data;
    size_t len;
} MultibootModule;

/* What was loaded, and where execution starts. */
typedef struct MultibootBoot {
    uint32_t entry;
    uint32_t info_addr;
    uint32_t gdt_addr;
    uint16_t gdt_limit;
    uint32_t info_end;           /* first byte after the information area's used part */
    uint64_t kernel_start;       /* lowest and one past the highest loaded byte */
    uint64_t kernel_end;
    uint64_t modules_end;        /* one past the last module byte (kernel_end if none) */
    bool aout_kludge;            /* loaded by the header's address fields */
    uint32_t ignored_flags;      /* requirement bits accepted but not honoured (bit 2) */
} MultibootBoot;

/* Load an image held in memory; `name` names it in messages. */
bool multiboot_load_image(const char *name, const uint8_t *image, size_t len,
                          const MultibootConfig *cfg, const MultibootModule *mods,
                          unsigned n_mods, MultibootBoot *out, GError **err);

/* Load the kernel file, and the comma-separated module files of `modules`
 * (NULL or "" for none), each module's string being its file name. */
bool multiboot_load_files(const char *kernel, const char *modules, const MultibootConfig *cfg,
                          MultibootBoot *out, GError **err);

/* Read a whole file (at most max_size bytes) with messages naming it. */
bool multiboot_read_file(const char *path, uint64_t max_size, uint8_t **data, size_t *len,
                         GError **err);

/* Put a CPU in the multiboot entry state for `boot`. */
struct X86Cpu;
void multiboot_cpu_setup(struct X86Cpu *cpu, const MultibootBoot *boot);

#endif
