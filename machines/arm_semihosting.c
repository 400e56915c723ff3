/*
 * Arm semihosting for A64 guests (arm_semihosting.h).
 *
 * Everything the guest passes is untrusted: pointers are translated page by
 * page through the CPU's MMU and only plain accessible memory is used,
 * lengths are bounded, handles are checked against a small table.
 */
#include "machines/arm_semihosting.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "softmmu/address_space.h"
#include "targets/arm/arm_cpu.h"
#include "tlb/tlb.h"

#define SH_ERR UINT64_MAX  /* -1 in X0 */
#define SH_CHUNK 4096u

typedef enum HandleKind {
    H_FREE = 0,
    H_TT_IN,
    H_TT_OUT,
    H_TT_ERR,
    H_FEATURES,
} HandleKind;

typedef struct Handle {
    HandleKind kind;
    uint64_t pos;      /* H_FEATURES */
} Handle;

struct ArmSemihosting {
    ArmSemihostingHost h;
    char *cmdline;
    int last_errno;
    Handle handles[ARM_SH_MAX_HANDLES];  /* handle n is handles[n - 1] */
    GHashTable *warned;                  /* operation numbers already reported */
};

/* ":semihosting-features" (spec 2.0, "Semihosting extensions"): magic
 * "SHFB", then feature byte 0. */
static const uint8_t features_file[5] = { 'S', 'H', 'F', 'B', 0x03 };

ArmSemihosting *arm_semihosting_new(const ArmSemihostingHost *h)
{
    ArmSemihosting *s = g_new0(ArmSemihosting, 1);

    s->h = *h;
    s->cmdline = g_strdup(h->cmdline ? h->cmdline : "");
    s->h.cmdline = s->cmdline;
    s->warned = g_hash_table_new(g_direct_hash, g_direct_equal);
    return s;
}

void arm_semihosting_free(ArmSemihosting *s)
{
    if (!s) {
        return;
    }
    g_hash_table_destroy(s->warned);
    g_free(s->cmdline);
    g_free(s);
}

void arm_semihosting_default_layout(ArmSemihostingHost *h, uint64_t ram_base,
                                    uint64_t ram_size)
{
    uint64_t end = ram_base + ram_size, q = ram_size / 4;

    h->heap_base = end - q;
    h->heap_limit = end - q / 4;
    h->stack_limit = h->heap_limit;
    h->stack_base = end;
}

static void warn_once(ArmSemihosting *s, uint32_t op, const char *what)
{
    if (!g_hash_table_contains(s->warned, GUINT_TO_POINTER(op))) {
        g_hash_table_add(s->warned, GUINT_TO_POINTER(op));
        g_warning("semihosting: operation 0x%x %s: returning -1", op, what);
    }
}

static uint64_t err_ret(ArmSemihosting *s, int e)
{
    s->last_errno = e;
    return SH_ERR;
}

/* Field n of the parameter block at `arg` (64-bit fields on AArch64). */
static bool field(const ArmSemihostingMem *m, uint64_t arg, unsigned n, uint64_t *v)
{
    uint8_t b[8];

    if (arg > UINT64_MAX - 8 * (n + 1) || !m->read(m->opaque, arg + 8 * n, b, 8)) {
        return false;
    }
    *v = 0;
    for (int i = 7; i >= 0; i--) {
        *v = (*v << 8) | b[i];
    }
    return true;
}

static bool put64(const ArmSemihostingMem *m, uint64_t va, uint64_t v)
{
    uint8_t b[8];

    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return va <= UINT64_MAX - 8 && m->write(m->opaque, va, b, 8);
}

static Handle *handle(ArmSemihosting *s, uint64_t h)
{
    if (h == 0 || h > ARM_SH_MAX_HANDLES || s->handles[h - 1].kind == H_FREE) {
        return NULL;
    }
    return &s->handles[h - 1];
}

static FILE *out_file(ArmSemihosting *s, HandleKind k)
{
    FILE *out = s->h.out ? s->h.out : stdout;

    return k == H_TT_ERR && s->h.err ? s->h.err : out;
}

static uint64_t now_ns(ArmSemihosting *s)
{
    return s->h.clock_ns ? s->h.clock_ns(s->h.opaque) : 0;
}

static uint64_t sys_open(ArmSemihosting *s, uint64_t arg, const ArmSemihostingMem *m)
{
    uint64_t name_va, mode, name_len;
    char name[32];
    HandleKind kind;

    if (!field(m, arg, 0, &name_va) || !field(m, arg, 1, &mode) ||
        !field(m, arg, 2, &name_len)) {
        return err_ret(s, EFAULT);
    }
    /* Only two names exist; anything longer is neither. */
    if (name_len >= sizeof(name)) {
        return err_ret(s, ENOENT);
    }
    if (!m->read(m->opaque, name_va, name, name_len)) {
        return err_ret(s, EFAULT);
    }
    name[name_len] = 0;
    if (strcmp(name, ":tt") == 0) {
        if (mode > 11) {
            return err_ret(s, EINVAL);
        }
        kind = mode < 4 ? H_TT_IN : mode < 8 ? H_TT_OUT : H_TT_ERR;
    } else if (strcmp(name, ":semihosting-features") == 0) {
        if (mode > 1) {
            return err_ret(s, EACCES);  /* read-only */
        }
        kind = H_FEATURES;
    } else {
        return err_ret(s, ENOENT);
    }
    for (unsigned i = 0; i < ARM_SH_MAX_HANDLES; i++) {
        if (s->handles[i].kind == H_FREE) {
            s->handles[i] = (Handle){ .kind = kind, .pos = 0 };
            return i + 1;
        }
    }
    return err_ret(s, EMFILE);
}

/* Copy up to `len` bytes of guest memory at `va` to `f`; returns the bytes
 * copied (less than len if a page is not readable). */
static uint64_t guest_to_file(const ArmSemihostingMem *m, uint64_t va, uint64_t len, FILE *f)
{
    uint8_t buf[SH_CHUNK];
    uint64_t done = 0;

    while (done < len) {
        /* Chunks never cross a 4 KiB boundary: a partial failure is then
         * exactly a page. */
        uint64_t a = va + done;
        size_t n = (size_t)MIN(len - done, SH_CHUNK - (a & (SH_CHUNK - 1)));

        if (a < va || !m->read(m->opaque, a, buf, n)) {
            break;
        }
        fwrite(buf, 1, n, f);
        done += n;
    }
    fflush(f);
    return done;
}

static uint64_t sys_write(ArmSemihosting *s, uint64_t arg, const ArmSemihostingMem *m)
{
    uint64_t h, va, len;

    if (!field(m, arg, 0, &h) || !field(m, arg, 1, &va) || !field(m, arg, 2, &len)) {
        return err_ret(s, EFAULT);
    }
    Handle *hd = handle(s, h);

    if (!hd) {
        s->last_errno = EBADF;
        return len;
    }
    if (hd->kind != H_TT_OUT && hd->kind != H_TT_ERR) {
        s->last_errno = EBADF;  /* not open for writing */
        return len;
    }
    uint64_t done = guest_to_file(m, va, MIN(len, ARM_SH_MAX_TRANSFER), out_file(s, hd->kind));

    if (done < MIN(len, ARM_SH_MAX_TRANSFER)) {
        s->last_errno = EFAULT;
    }
    return len - done;
}

static uint64_t sys_read(ArmSemihosting *s, uint64_t arg, const ArmSemihostingMem *m)
{
    uint64_t h, va, len;

    if (!field(m, arg, 0, &h) || !field(m, arg, 1, &va) || !field(m, arg, 2, &len)) {
        return err_ret(s, EFAULT);
    }
    Handle *hd = handle(s, h);

    if (!hd || (hd->kind != H_TT_IN && hd->kind != H_FEATURES)) {
        s->last_errno = EBADF;
        return len;
    }
    uint64_t want = MIN(len, ARM_SH_MAX_TRANSFER), done = 0;

    if (hd->kind == H_FEATURES) {
        uint64_t n = hd->pos < sizeof(features_file) ?
                     MIN(want, sizeof(features_file) - hd->pos) : 0;

        if (n && !m->write(m->opaque, va, features_file + hd->pos, n)) {
            s->last_errno = EFAULT;
            return len;
        }
        hd->pos += n;
        return len - n;
    }
    if (s->h.in_fd < 0) {
        return len;   /* no input: end of file */
    }
    /* One read(2), like a console read: returns what is available (a line
     * on a terminal) rather than waiting for `len` bytes. */
    uint8_t buf[SH_CHUNK];
    size_t n = (size_t)MIN(want, SH_CHUNK);
    ssize_t r;

    do {
        r = read(s->h.in_fd, buf, n);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        s->last_errno = errno;
        return len;
    }
    if (r > 0 && !m->write(m->opaque, va, buf, (size_t)r)) {
        s->last_errno = EFAULT;
        return len;
    }
    done = (uint64_t)r;
    return len - done;
}

static const char *exit_reason_name(uint64_t r)
{
    static const char *const hw[] = {
        "BranchThroughZero", "UndefinedInstr", "SoftwareInterrupt", "PrefetchAbort",
        "DataAbort", "AddressException", "IRQ", "FIQ",
    };
    static const char *const sw[] = {
        "BreakPoint", "WatchPoint", "StepComplete", "RunTimeErrorUnknown", "InternalError",
        "UserInterruption", "ApplicationExit", "StackOverflow", "DivisionByZero", "OSSpecific",
    };

    if (r >= 0x20000 && r < 0x20000 + G_N_ELEMENTS(hw)) {
        return hw[r - 0x20000];
    }
    if (r >= 0x20020 && r < 0x20020 + G_N_ELEMENTS(sw)) {
        return sw[r - 0x20020];
    }
    return NULL;
}

static uint64_t sys_exit(ArmSemihosting *s, uint64_t arg, const ArmSemihostingMem *m)
{
    uint64_t reason, sub;

    /* A64: X1 always points to [reason, subcode] (for both SYS_EXIT and
     * SYS_EXIT_EXTENDED). */
    if (!field(m, arg, 0, &reason) || !field(m, arg, 1, &sub)) {
        return err_ret(s, EFAULT);
    }
    int status;
    char *msg = NULL;

    if (reason == ARM_SH_ADP_APPLICATION_EXIT) {
        status = (int)(uint32_t)sub;
    } else {
        const char *n = exit_reason_name(reason);

        status = 1;
        msg = g_strdup_printf("semihosting exit: ADP_Stopped_%s (reason 0x%" PRIx64
                              ", subcode 0x%" PRIx64 ")", n ? n : "unknown", reason, sub);
    }
    if (s->h.exit) {
        s->h.exit(s->h.opaque, status, msg);
    } else {
        if (msg) {
            fprintf(stderr, "%s\n", msg);
        }
        exit(status);
    }
    g_free(msg);
    return 0;
}

uint64_t arm_semihosting_do(ArmSemihosting *s, uint32_t op, uint64_t arg,
                            const ArmSemihostingMem *m)
{
    uint64_t v, v2;
    Handle *hd;

    switch (op) {
    case ARM_SH_SYS_OPEN:
        return sys_open(s, arg, m);
    case ARM_SH_SYS_CLOSE:
        if (!field(m, arg, 0, &v)) {
            return err_ret(s, EFAULT);
        }
        if (!(hd = handle(s, v))) {
            return err_ret(s, EBADF);
        }
        hd->kind = H_FREE;
        return 0;
    case ARM_SH_SYS_WRITEC: {
        uint8_t c;

        if (!m->read(m->opaque, arg, &c, 1)) {
            return err_ret(s, EFAULT);
        }
        FILE *f = out_file(s, H_TT_OUT);

        fputc(c, f);
        fflush(f);
        return 0;
    }
    case ARM_SH_SYS_WRITE0: {
        FILE *f = out_file(s, H_TT_OUT);
        uint8_t buf[SH_CHUNK];
        uint64_t done = 0;

        while (done < ARM_SH_MAX_TRANSFER) {
            uint64_t a = arg + done;
            size_t n = (size_t)(SH_CHUNK - (a & (SH_CHUNK - 1)));

            if (a < arg || !m->read(m->opaque, a, buf, n)) {
                fflush(f);
                return err_ret(s, EFAULT);
            }
            uint8_t *nul = memchr(buf, 0, n);

            if (nul) {
                fwrite(buf, 1, (size_t)(nul - buf), f);
                fflush(f);
                return 0;
            }
            fwrite(buf, 1, n, f);
            done += n;
        }
        fflush(f);
        return 0;
    }
    case ARM_SH_SYS_WRITE:
        return sys_write(s, arg, m);
    case ARM_SH_SYS_READ:
        return sys_read(s, arg, m);
    case ARM_SH_SYS_READC: {
        uint8_t c;
        ssize_t r;

        if (s->h.in_fd < 0) {
            return SH_ERR;
        }
        do {
            r = read(s->h.in_fd, &c, 1);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            return err_ret(s, errno);
        }
        return r == 1 ? c : SH_ERR;
    }
    case ARM_SH_SYS_ISERROR:
        if (!field(m, arg, 0, &v)) {
            return err_ret(s, EFAULT);
        }
        return (int64_t)v < 0;
    case ARM_SH_SYS_ISTTY:
        if (!field(m, arg, 0, &v)) {
            return err_ret(s, EFAULT);
        }
        if (!(hd = handle(s, v))) {
            return err_ret(s, EBADF);
        }
        return hd->kind != H_FEATURES;
    case ARM_SH_SYS_SEEK:
        if (!field(m, arg, 0, &v) || !field(m, arg, 1, &v2)) {
            return err_ret(s, EFAULT);
        }
        if (!(hd = handle(s, v))) {
            return err_ret(s, EBADF);
        }
        if (hd->kind != H_FEATURES) {
            return err_ret(s, ESPIPE);
        }
        if (v2 > sizeof(features_file)) {
            return err_ret(s, EINVAL);
        }
        hd->pos = v2;
        return 0;
    case ARM_SH_SYS_FLEN:
        if (!field(m, arg, 0, &v)) {
            return err_ret(s, EFAULT);
        }
        if (!(hd = handle(s, v))) {
            return err_ret(s, EBADF);
        }
        if (hd->kind != H_FEATURES) {
            return err_ret(s, EINVAL);
        }
        return sizeof(features_file);
    case ARM_SH_SYS_CLOCK:
        return now_ns(s) / 10000000u;
    case ARM_SH_SYS_TIME:
        return ARM_SH_EPOCH + now_ns(s) / 1000000000u;
    case ARM_SH_SYS_ERRNO:
        return (uint64_t)(int64_t)s->last_errno;
    case ARM_SH_SYS_GET_CMDLINE: {
        uint64_t buf, size, len = strlen(s->cmdline);

        if (!field(m, arg, 0, &buf) || !field(m, arg, 1, &size)) {
            return err_ret(s, EFAULT);
        }
        if (len + 1 > size) {
            return err_ret(s, E2BIG);
        }
        if (!m->write(m->opaque, buf, s->cmdline, len + 1) || !put64(m, arg + 8, len)) {
            return err_ret(s, EFAULT);
        }
        return 0;
    }
    case ARM_SH_SYS_HEAPINFO:
        /* X1 is the address of a pointer to the 4-field block. */
        if (!field(m, arg, 0, &v) || !put64(m, v, s->h.heap_base) ||
            !put64(m, v + 8, s->h.heap_limit) || !put64(m, v + 16, s->h.stack_base) ||
            !put64(m, v + 24, s->h.stack_limit)) {
            return err_ret(s, EFAULT);
        }
        return 0;
    case ARM_SH_SYS_EXIT:
    case ARM_SH_SYS_EXIT_EXTENDED:
        return sys_exit(s, arg, m);
    case ARM_SH_SYS_ELAPSED:
        if (!put64(m, arg, now_ns(s))) {
            return err_ret(s, EFAULT);
        }
        return 0;
    case ARM_SH_SYS_TICKFREQ:
        return 1000000000u;
    case ARM_SH_SYS_TMPNAM:
    case ARM_SH_SYS_REMOVE:
    case ARM_SH_SYS_RENAME:
    case ARM_SH_SYS_SYSTEM:
        warn_once(s, op, "(host files and commands) is not offered to guests");
        return err_ret(s, EPERM);
    default:
        warn_once(s, op, "is not supported");
        return err_ret(s, ENOSYS);
    }
}

/* --- Guest memory through the CPU's MMU. --- */

static bool cpu_access(ArmCpu *cpu, uint64_t va, void *buf, size_t len, bool write)
{
    uint8_t *p = buf;

    while (len) {
        uint64_t pa;
        size_t n = (size_t)MIN((uint64_t)len, SH_CHUNK - (va & (SH_CHUNK - 1)));

        if (!tlb_probe(cpu->tlb, va, write ? TLB_WRITE : TLB_READ, cpu->mmu_idx, &pa)) {
            return false;
        }
        MemResult r = write ? as_write(cpu->mem_as, pa, mem_attrs_cpu(cpu->index), p, n)
                            : as_read(cpu->mem_as, pa, mem_attrs_cpu(cpu->index), p, n);

        if (r != MEM_OK) {
            return false;
        }
        p += n;
        va += n;
        len -= n;
        if (len && va == 0) {
            return false;  /* wrapped around the address space */
        }
    }
    return true;
}

static bool cpu_read(void *opaque, uint64_t va, void *buf, size_t len)
{
    return cpu_access(opaque, va, buf, len, false);
}

static bool cpu_write(void *opaque, uint64_t va, const void *buf, size_t len)
{
    return cpu_access(opaque, va, (void *)buf, len, true);
}

bool arm_semihosting_call(ArmSemihosting *s, ArmCpu *cpu)
{
    const ArmSemihostingMem m = { cpu_read, cpu_write, cpu };

    cpu->x[0] = arm_semihosting_do(s, (uint32_t)cpu->x[0], cpu->x[1], &m);
    return true;
}
