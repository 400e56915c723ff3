/*
 * Arm semihosting for A64 guests ("Semihosting for AArch32 and AArch64",
 * version 2.0, Arm IHI 0094 / DUI 0003 lineage).
 *
 * The guest executes `hlt #0xf000` with the operation number in W0 and, in
 * X1, the address of a parameter block (a guest *virtual* address; each
 * field of the block is 64 bits wide on AArch64) or an immediate argument,
 * depending on the operation; the result goes to X0. Guest memory is read
 * and written through the CPU's MMU (tlb_probe, then the CPU's address
 * space), page by page: an unmapped or non-RAM pointer makes the operation
 * return -1 to the guest, never a host crash. Guest lengths are bounded
 * (ARM_SH_MAX_TRANSFER per call; SYS_WRITE/SYS_READ return the part not
 * transferred so the guest's C library simply loops).
 *
 * The guest gets no access to host files. Supported operations:
 *
 *   SYS_OPEN (0x01)     ":tt" only: modes 0..3 ("r" family) open the input,
 *                       4..7 ("w") the output, 8..11 ("a") the error output
 *                       (v2 feature SH_EXT_STDOUT_STDERR); and
 *                       ":semihosting-features" (mode "r"/"rb"): a 5-byte
 *                       file "SHFB" + feature byte (bit 0 SH_EXT_EXIT_EXTENDED,
 *                       bit 1 SH_EXT_STDOUT_STDERR). Anything else: -1,
 *                       errno ENOENT. Returns a handle >= 1.
 *   SYS_CLOSE (0x02)    0, or -1 (EBADF).
 *   SYS_WRITEC (0x03)   the byte at [X1] to the output.
 *   SYS_WRITE0 (0x04)   the NUL-terminated string at [X1] (at most
 *                       ARM_SH_MAX_TRANSFER bytes) to the output.
 *   SYS_WRITE (0x05)    [handle, buf, len]: returns the bytes NOT written.
 *   SYS_READ (0x06)     [handle, buf, len]: returns the bytes NOT read (len
 *                       at end of file; the input is host.in_fd, read(2)).
 *   SYS_READC (0x07)    a byte from the input, -1 at end or without input.
 *   SYS_ISERROR (0x08)  [status]: 1 if status is negative, else 0.
 *   SYS_ISTTY (0x09)    [handle]: 1 for ":tt" handles, 0 for the features
 *                       file, -1 (EBADF) otherwise.
 *   SYS_SEEK (0x0a)     [handle, pos]: 0 on the features file; -1 (ESPIPE)
 *                       on ":tt".
 *   SYS_FLEN (0x0c)     [handle]: the features file's length (5); -1 on
 *                       ":tt" (not a file).
 *   SYS_CLOCK (0x10)    centiseconds of virtual time.
 *   SYS_TIME (0x11)     seconds since the epoch: ARM_SH_EPOCH (2024-01-01
 *                       00:00:00 UTC) plus the virtual time in seconds, so
 *                       runs are deterministic.
 *   SYS_ERRNO (0x13)    errno of the last failed operation (Linux values).
 *   SYS_GET_CMDLINE (0x15) [buf, size]: the command line (host.cmdline,
 *                       "" if NULL), NUL-terminated; field 1 gets its length.
 *                       -1 if it does not fit.
 *   SYS_HEAPINFO (0x16) [X1] holds the address of a 4-field block that gets
 *                       heap base, heap limit, stack base (its top: the
 *                       initial SP), stack limit, from the host config
 *                       (see arm_semihosting_default_layout).
 *   SYS_EXIT (0x18)     [reason, subcode]: ADP_Stopped_ApplicationExit
 *                       (0x20026) exits with status = subcode; any other
 *                       reason exits with status 1 and a message naming it.
 *   SYS_EXIT_EXTENDED (0x20) the same.
 *   SYS_ELAPSED (0x30)  [X1] gets a 64-bit count of ticks (ns of virtual
 *                       time); returns 0.
 *   SYS_TICKFREQ (0x31) 1000000000 (ticks are nanoseconds).
 *
 * SYS_TMPNAM, SYS_REMOVE, SYS_RENAME, SYS_SYSTEM (host file system and
 * commands) and unknown operations return -1; each operation number is
 * reported once with g_warning.
 */
#ifndef MMUSIM_MACHINES_ARM_SEMIHOSTING_H
#define MMUSIM_MACHINES_ARM_SEMIHOSTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

enum {
    ARM_SH_SYS_OPEN = 0x01,
    ARM_SH_SYS_CLOSE = 0x02,
    ARM_SH_SYS_WRITEC = 0x03,
    ARM_SH_SYS_WRITE0 = 0x04,
    ARM_SH_SYS_WRITE = 0x05,
    ARM_SH_SYS_READ = 0x06,
    ARM_SH_SYS_READC = 0x07,
    ARM_SH_SYS_ISERROR = 0x08,
    ARM_SH_SYS_ISTTY = 0x09,
    ARM_SH_SYS_SEEK = 0x0a,
    ARM_SH_SYS_FLEN = 0x0c,
    ARM_SH_SYS_TMPNAM = 0x0d,
    ARM_SH_SYS_REMOVE = 0x0e,
    ARM_SH_SYS_RENAME = 0x0f,
    ARM_SH_SYS_CLOCK = 0x10,
    ARM_SH_SYS_TIME = 0x11,
    ARM_SH_SYS_SYSTEM = 0x12,
    ARM_SH_SYS_ERRNO = 0x13,
    ARM_SH_SYS_GET_CMDLINE = 0x15,
    ARM_SH_SYS_HEAPINFO = 0x16,
    ARM_SH_SYS_EXIT = 0x18,
    ARM_SH_SYS_EXIT_EXTENDED = 0x20,
    ARM_SH_SYS_ELAPSED = 0x30,
    ARM_SH_SYS_TICKFREQ = 0x31,
};

/* SYS_EXIT reasons (the spec's "ADP_Stopped_*" codes). */
#define ARM_SH_ADP_APPLICATION_EXIT 0x20026u

#define ARM_SH_EPOCH UINT64_C(1704067200)        /* 2024-01-01T00:00:00Z */
#define ARM_SH_MAX_TRANSFER (UINT64_C(1) << 20)  /* bytes per call */
#define ARM_SH_MAX_HANDLES 32

/* What the machine provides. */
typedef struct ArmSemihostingHost {
    FILE *out;          /* ":tt" "w" output; NULL: stdout */
    FILE *err;          /* ":tt" "a" output; NULL: the same as out */
    int in_fd;          /* ":tt" "r" input; -1: none (reads see end of file) */
    const char *cmdline;  /* SYS_GET_CMDLINE (copied); NULL: "" */
    /* Virtual time in ns; NULL: always 0. */
    uint64_t (*clock_ns)(void *opaque);
    /* SYS_EXIT: `message` is NULL for ADP_Stopped_ApplicationExit, else it
     * explains the reason. The machine stops the guest (e.g. sets
     * cpu->exit_request and reports ARM_EXIT_REQUEST). NULL: exit(status). */
    void (*exit)(void *opaque, int status, const char *message);
    void *opaque;
    uint64_t heap_base, heap_limit, stack_base, stack_limit;  /* SYS_HEAPINFO */
} ArmSemihostingHost;

typedef struct ArmSemihosting ArmSemihosting;

ArmSemihosting *arm_semihosting_new(const ArmSemihostingHost *h);
void arm_semihosting_free(ArmSemihosting *s);

/* The suggested SYS_HEAPINFO layout: the top quarter of RAM, its lower
 * three quarters for the heap and its top quarter for the stack (stack
 * base = end of RAM). Kernels, initrds and DTBs loaded low (arm_boot.h)
 * stay below it as long as they use less than 3/4 of RAM. */
void arm_semihosting_default_layout(ArmSemihostingHost *h, uint64_t ram_base,
                                    uint64_t ram_size);

/* Handle the `hlt #0xf000` of `cpu`: operation W0, argument X1, result in
 * X0. True: handled (always, unknown operations included, which return -1). */
struct ArmCpu;
bool arm_semihosting_call(ArmSemihosting *s, struct ArmCpu *cpu);

/* The same on any guest memory (tests, other front ends): `read`/`write`
 * move `len` bytes at a guest virtual address, false if any byte is not
 * accessible. Returns the value for X0. */
typedef struct ArmSemihostingMem {
    bool (*read)(void *opaque, uint64_t va, void *buf, size_t len);
    bool (*write)(void *opaque, uint64_t va, const void *buf, size_t len);
    void *opaque;
} ArmSemihostingMem;
uint64_t arm_semihosting_do(ArmSemihosting *s, uint32_t op, uint64_t arg,
                            const ArmSemihostingMem *mem);

#endif
