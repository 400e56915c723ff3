/*
 * Loading a kernel (and an initrd) into the RAM of the AArch64 virt
 * machine, and choosing where the device tree blob goes.
 *
 * The kernel file is recognized, in this order, as:
 *
 *  - an ELF file (it starts with "\x7fELF"): it must be ELF64,
 *    little-endian, version 1, EM_AARCH64 (183), ET_EXEC or ET_DYN. An
 *    ET_DYN file is not relocated: it is loaded at the addresses it was
 *    linked at, like an ET_EXEC one. Every PT_LOAD segment with a nonzero
 *    p_memsz is copied (p_filesz bytes from p_offset) to its physical
 *    address p_paddr and zero-filled up to p_memsz (ELF-64 Object File
 *    Format, "Program header"). Bare-metal images link p_paddr = p_vaddr;
 *    a kernel linked high but loaded low has p_paddr in RAM. The entry is
 *    e_entry; it must lie inside a loaded segment, either by physical
 *    address or by virtual address (then it is turned into the physical
 *    address of the same byte, as the CPU starts with its MMU off).
 *  - a Linux arm64 Image (Documentation/arch/arm64/booting.rst): a 64-byte
 *    header whose u32 at offset 0x38 is 0x644d5241 ("ARM\x64"). With a
 *    nonzero image_size (u64 at 0x10, the kernel's whole memory footprint,
 *    BSS included) the Image goes at RAM base + text_offset (u64 at 0x08),
 *    RAM base being 2 MiB aligned as booting.rst requires; with image_size
 *    0 (kernels before 3.17) text_offset is not reliable and the Image goes
 *    at RAM base + 0x80000. Header flag bit 0 set (a big-endian kernel) is
 *    refused. The entry is the load address.
 *  - anything else: a raw binary, copied to RAM base + 0x80000 (0x40080000
 *    on the virt machine), entry there, as QEMU does for images it does not
 *    recognize. An empty file is refused.
 *
 * Footprint [kernel_low, kernel_high): the loaded segments of an ELF file
 * (p_memsz, so BSS included); for an Image, load address + max(file size,
 * image_size). For a raw binary, and an Image with image_size 0, only the
 * file's bytes are known: their BSS may go well past them (footprint_unknown).
 *
 * The initrd (optional) goes right after the kernel's footprint, at the
 * next 2 MiB boundary for an Image (so that it never shares a 2 MiB block
 * with the kernel, which maps itself with 2 MiB blocks: booting.rst) and
 * the next 4 KiB boundary otherwise; when the footprint is unknown, not
 * below RAM base + min(RAM size / 2, 128 MiB) (QEMU leaves the same room),
 * so that a BSS does not run over it. An empty initrd is refused.
 *
 * The DTB (arm_boot_dtb_addr): for an ELF file whose lowest loaded byte
 * leaves room for it, the DTB goes at RAM base, where bare-metal programs
 * built for QEMU's virt expect it (they see RAM from 0x40000000 free except
 * for the DTB at its start). Otherwise it goes after everything loaded
 * (the kernel's footprint and the initrd): at the next 2 MiB boundary for an
 * Image (booting.rst: the DTB must be 8-byte aligned, at most 2 MiB, and
 * must not share a 2 MiB block with memory the kernel maps differently;
 * a 2 MiB-aligned DTB of at most 2 MiB sits in one block), the next 4 KiB
 * boundary otherwise, and with an unknown footprint not below RAM base +
 * min(RAM size / 2, 128 MiB) either. The DTB never overlaps the kernel or
 * the initrd and must fit in RAM; it may be at most ARM_BOOT_DTB_MAX bytes.
 * Suggested use: load, build the DTB (virt_fdt.h, with the initrd range from
 * ArmBootInfo), arm_boot_dtb_addr, copy the blob there, reset the CPUs with
 * PC = entry and the boot CPU's x0 = the DTB address (booting.rst: x0 = DTB,
 * x1..x3 = 0).
 *
 * Every check is made before a byte of RAM is written: a refused kernel or
 * initrd leaves RAM untouched. Each refusal is a GError in ARM_BOOT_ERROR
 * whose message starts with the file name and says what is wrong. No input
 * file can crash the loader; files are read with size limits.
 */
#ifndef MMUSIM_MACHINES_ARM_BOOT_H
#define MMUSIM_MACHINES_ARM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#define ARM_BOOT_ERROR (arm_boot_error_quark())
GQuark arm_boot_error_quark(void);
typedef enum ArmBootError {
    ARM_BOOT_ERROR_IO,      /* cannot read a file */
    ARM_BOOT_ERROR_FORMAT,  /* not a valid image */
    ARM_BOOT_ERROR_RANGE,   /* valid, but does not fit this machine's RAM */
} ArmBootError;

/* Where raw binaries (and Images with image_size 0) go, from RAM base. */
#define ARM_BOOT_RAW_OFFSET    UINT64_C(0x80000)
/* The Linux arm64 Image header (booting.rst). */
#define ARM_BOOT_IMAGE_MAGIC   0x644d5241u   /* "ARM\x64" at offset 0x38 */
#define ARM_BOOT_IMAGE_HDR_LEN 64u
/* Largest DTB (booting.rst: "must not exceed 2 megabytes"). */
#define ARM_BOOT_DTB_MAX       (UINT64_C(2) << 20)
/* Largest kernel file read (an ELF file with debug information may be much
 * larger than what it loads). Initrds are limited to the RAM size. */
#define ARM_BOOT_KERNEL_FILE_MAX (UINT64_C(2) << 30)
/* Room left above a kernel of unknown footprint (at most half of RAM). */
#define ARM_BOOT_UNKNOWN_RESERVE (UINT64_C(128) << 20)

typedef enum ArmBootKind {
    ARM_BOOT_KIND_ELF,
    ARM_BOOT_KIND_LINUX_IMAGE,
    ARM_BOOT_KIND_RAW,
} ArmBootKind;

/* What was loaded. Addresses are guest physical; ranges are [start, end). */
typedef struct ArmBootInfo {
    ArmBootKind kind;
    bool linux_image;        /* kind == ARM_BOOT_KIND_LINUX_IMAGE */
    uint64_t entry;          /* PC at reset */
    uint64_t kernel_low;     /* the kernel's footprint (see above) */
    uint64_t kernel_high;
    bool footprint_unknown;  /* raw binary, or Image with image_size 0 */
    uint64_t initrd_start;   /* 0 and 0 when there is no initrd */
    uint64_t initrd_size;
} ArmBootInfo;

/* The RAM the loader writes: guest [base, base + size) is host[0..size). */
typedef struct ArmBootRam {
    uint8_t *host;
    uint64_t base;
    uint64_t size;
} ArmBootRam;

/* Load the kernel file and the initrd file (NULL or "": none). */
bool arm_boot_load(const char *kernel, const char *initrd, uint8_t *ram, uint64_t ram_base,
                   uint64_t ram_size, ArmBootInfo *out, GError **err);

/* The same on images held in memory; the names are used in messages.
 * `initrd` NULL: none. */
bool arm_boot_load_images(const char *kernel_name, const uint8_t *kernel, size_t kernel_len,
                          const char *initrd_name, const uint8_t *initrd, size_t initrd_len,
                          const ArmBootRam *ram, ArmBootInfo *out, GError **err);

/* Where a DTB of `dtb_size` bytes goes for what `bi` describes (see above).
 * Returns true and sets *addr, or false with an ARM_BOOT_ERROR_RANGE error
 * (too large, or no room left in RAM). */
bool arm_boot_dtb_addr(const ArmBootInfo *bi, uint64_t ram_base, uint64_t ram_size,
                       size_t dtb_size, uint64_t *addr, GError **err);

/* Read a whole file of at most max_size bytes; messages name the file. */
bool arm_boot_read_file(const char *path, uint64_t max_size, uint8_t **data, size_t *len,
                        GError **err);

#endif
