/*
 * A Linux/x86 boot protocol loader for bzImage kernels (Linux
 * Documentation/arch/x86/boot.rst, "THE LINUX/x86 BOOT PROTOCOL"; the zero
 * page layout is zero-page.rst).
 *
 * Accepted images: a setup header with "HdrS" at 0x202, boot protocol
 * version >= 2.06 (the first with cmdline_size; everything since 2.06 loads
 * the same way through the 32-bit entry), boot_flag 0xAA55 at 0x1fe,
 * LOADED_HIGH set in loadflags (a bzImage: a zImage's kernel would go at
 * 0x10000). Older protocols and zImages are refused with a message that says
 * so. The file is: (setup_sects + 1) * 512 bytes of real-mode setup code
 * (setup_sects 0 means 4), then the protected-mode kernel to its end.
 *
 * What is loaded where (all of it checked before a byte is written, so a
 * refused image leaves guest memory untouched):
 *   LB_GDT_BASE     a 4-entry GDT: null, null, __BOOT_CS (0x10, flat 4 GiB
 *                   32-bit execute/read), __BOOT_DS (0x18, flat read/write)
 *                   -- the selectors boot.rst's 32-bit protocol asks for.
 *   LB_ZERO_PAGE    struct boot_params (4 KiB, zeroed): the image's setup
 *                   header copied to 0x1f1 (up to 0x202 + the byte at 0x201),
 *                   then type_of_loader 0xff (no assigned ID), loadflags
 *                   |= CAN_USE_HEAP with KEEP_SEGMENTS and QUIET cleared,
 *                   heap_end_ptr 0xde00, code32_start = the load address,
 *                   cmd_line_ptr, ramdisk_image/ramdisk_size, ext_mem_k and
 *                   alt_mem_k, and the E820 map (e820_entries at 0x1e8,
 *                   20-byte entries at 0x2d0) from LinuxBootConfig.
 *   LB_CMDLINE_BASE the --append string, NUL-terminated; longer than the
 *                   header's cmdline_size is refused.
 *   LB_KERNEL_BASE  (1 MiB) the protected-mode kernel. The RAM it needs is
 *                   max(its length, init_size) from there, and for a
 *                   relocatable kernel whose pref_address lies higher,
 *                   init_size from pref_address too (the decompressor moves
 *                   itself there: LOAD_PHYSICAL_ADDR); both must be RAM.
 *   initrd          (one file) as high as possible below min(initrd_addr_max
 *                   + 1, the end of the RAM range it goes in, 4 GiB), 4 KiB
 *                   aligned, above everything the kernel needs.
 *
 * CPU state at entry (boot.rst "32-bit BOOT PROTOCOL"), set by
 * linux_boot_cpu_setup(): protected mode, paging off, CS = 0x10 and
 * DS/ES/FS/GS/SS = 0x18 (flat 4 GiB), GDTR on the loader's GDT, IF = 0,
 * ESI = the zero page, EBP = EDI = EBX = 0, EIP = code32_start (1 MiB),
 * ESP = LB_STACK_TOP (the protocol leaves ESP undefined; the kernel sets its
 * own from boot_params' scratch field), every other register 0.
 */
#ifndef MMUSIM_MACHINES_LINUX_BOOT_H
#define MMUSIM_MACHINES_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* Where things go (guest physical). */
#define LB_GDT_BASE      0x6000u
#define LB_GDT_SIZE      32u
#define LB_ZERO_PAGE     0x7000u
#define LB_STACK_TOP     0x6000u   /* grows down, under the GDT */
#define LB_CMDLINE_BASE  0x20000u
#define LB_CMDLINE_LIMIT 0x90000u  /* cmdline_size can be large; it must fit below this */
#define LB_KERNEL_BASE   0x100000u
#define LB_BOOT_CS       0x10u
#define LB_BOOT_DS       0x18u

/* Setup header and zero page offsets (boot.rst, zero-page.rst). */
enum {
    LB_EXT_MEM_K = 0x002,      /* u16: KiB above 1 MiB (capped at 0xfc00) */
    LB_ALT_MEM_K = 0x1e0,      /* u32: KiB above 1 MiB */
    LB_E820_ENTRIES = 0x1e8,   /* u8 */
    LB_HDR = 0x1f1,            /* the setup header starts here */
    LB_SETUP_SECTS = 0x1f1,    /* u8 */
    LB_SYSSIZE = 0x1f4,        /* u32, 16-byte units */
    LB_BOOT_FLAG = 0x1fe,      /* u16 0xAA55 */
    LB_JUMP = 0x200,           /* u16; byte 0x201 + 0x202 = end of the header */
    LB_HEADER_MAGIC = 0x202,   /* "HdrS" */
    LB_VERSION = 0x206,        /* u16 */
    LB_TYPE_OF_LOADER = 0x210, /* u8 */
    LB_LOADFLAGS = 0x211,      /* u8 */
    LB_CODE32_START = 0x214,   /* u32 */
    LB_RAMDISK_IMAGE = 0x218,  /* u32 */
    LB_RAMDISK_SIZE = 0x21c,   /* u32 */
    LB_HEAP_END_PTR = 0x224,   /* u16 */
    LB_CMD_LINE_PTR = 0x228,   /* u32 */
    LB_INITRD_ADDR_MAX = 0x22c,/* u32 */
    LB_KERNEL_ALIGNMENT = 0x230,
    LB_RELOCATABLE = 0x234,    /* u8 */
    LB_XLOADFLAGS = 0x236,     /* u16 (2.12+) */
    LB_CMDLINE_SIZE = 0x238,   /* u32 (2.06+) */
    LB_PREF_ADDRESS = 0x258,   /* u64 (2.10+) */
    LB_INIT_SIZE = 0x260,      /* u32 (2.10+) */
    LB_E820_TABLE = 0x2d0,     /* 128 x 20 bytes */
    LB_ZERO_PAGE_SIZE = 0x1000,
};

#define LB_MAGIC_HDRS       0x53726448u   /* "HdrS" little-endian */
#define LB_MIN_VERSION      0x0206u
#define LB_LOADED_HIGH      0x01u
#define LB_KEEP_SEGMENTS    0x40u
#define LB_QUIET_FLAG       0x20u
#define LB_CAN_USE_HEAP     0x80u
#define LB_E820_MAX         128u
#define LB_E820_ENTRY_SIZE  20u
#define LB_LOADER_TYPE      0xffu         /* "undefined" boot loader ID (boot.rst) */
#define LB_HEAP_END         0xde00u

/* E820 types (zero-page.rst / ACPI). */
enum { LB_E820_RAM = 1, LB_E820_RESERVED = 2 };

#define LINUX_BOOT_ERROR (linux_boot_error_quark())
GQuark linux_boot_error_quark(void);
typedef enum LinuxBootError {
    LB_ERROR_IO,        /* cannot read a file */
    LB_ERROR_FORMAT,    /* not a (supported) bzImage */
    LB_ERROR_PLACEMENT, /* valid, but does not fit this machine's memory */
} LinuxBootError;

/* RAM the loader may write: guest [start, start+size) is host[0..size). */
typedef struct LinuxRamRange {
    uint64_t start;
    uint64_t size;
    uint8_t *host;
} LinuxRamRange;

typedef struct LinuxE820Entry {
    uint64_t base;
    uint64_t length;
    uint32_t type;   /* LB_E820_* */
} LinuxE820Entry;

typedef struct LinuxBootConfig {
    const LinuxRamRange *ram;     /* loadable RAM, in any order */
    unsigned n_ram;
    const LinuxE820Entry *e820;   /* what the kernel is told (at most LB_E820_MAX) */
    unsigned n_e820;
    const char *cmdline;          /* NULL: "" */
} LinuxBootConfig;

/* What was loaded, and where execution starts. */
typedef struct LinuxBoot {
    uint16_t version;             /* boot protocol version, e.g. 0x020f */
    uint32_t entry;               /* code32_start */
    uint32_t zero_page;
    uint32_t gdt_addr;
    uint16_t gdt_limit;
    uint32_t cmdline_addr;
    uint64_t kernel_start;        /* the protected-mode kernel's bytes */
    uint64_t kernel_end;
    uint64_t kernel_need_end;     /* one past all the RAM the kernel says it needs */
    uint32_t initrd_addr;         /* 0 and 0 without an initrd */
    uint32_t initrd_size;
} LinuxBoot;

/* True if `image` has the "HdrS" signature at 0x202 (any version): it is
 * meant for this loader, which then accepts or refuses it. */
bool linux_boot_is_bzimage(const uint8_t *image, size_t len);

/* Load a bzImage held in memory, and an optional initrd (NULL, 0: none);
 * `name` and `initrd_name` name them in messages. */
bool linux_boot_load_image(const char *name, const uint8_t *image, size_t len,
                           const char *initrd_name, const uint8_t *initrd, size_t initrd_len,
                           const LinuxBootConfig *cfg, LinuxBoot *out, GError **err);

/* Load the files (initrd: NULL or "" for none; a single file). */
bool linux_boot_load_files(const char *kernel, const char *initrd, const LinuxBootConfig *cfg,
                           LinuxBoot *out, GError **err);

/* Put a CPU in the 32-bit boot protocol entry state for `boot`. */
struct X86Cpu;
void linux_boot_cpu_setup(struct X86Cpu *cpu, const LinuxBoot *boot);

#endif
