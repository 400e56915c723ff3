/*
 * The small runtime of the AArch64 guest test images (tests/guest/arm):
 * console, exits, PSCI, system registers, GICv2/GICv3, translation tables,
 * atomics. Freestanding: no libc.
 *
 * Exit convention (the harness, tests/test_guest_arm.c, relies on it):
 *   - success: PSCI SYSTEM_OFF, status 0 (or main returning);
 *   - a failed check: "FAIL: <what>" on the console, then semihosting
 *     SYS_EXIT with the check's own status (0x20 and up), so the harness
 *     (which always passes --semihosting) can tell which check failed.
 *     Without --semihosting, `hlt #0xf000` is UNDEFINED; the exception
 *     handler steps over it and the CPU parks in WFI with interrupts masked,
 *     so the run ends "idle" (status 10) instead;
 *   - an unexpected exception: a line describing it, then status
 *     EXIT_UNEXPECTED.
 */
#ifndef GUEST_ARM_LIB_H
#define GUEST_ARM_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "asm.h"

#define EXIT_UNEXPECTED 0x7f   /* an exception no test expected */
#define EXIT_SMP_TIMEOUT 0x7e  /* a CPU waited too long for another */

/* --- Physical map of the virt machine (machines/virt.h). --- */
#define GICD_BASE   0x08000000ul
#define GICC_BASE   0x08010000ul   /* GICv2: each CPU's own interface */
#define GICR_BASE   0x080a0000ul   /* GICv3: 128 KiB per CPU */
#define UART_BASE   0x09000000ul
#define RAM_BASE    0x40000000ul
#define DEVICE_BASE 0x08000000ul   /* device window mapped by mmu_identity */
#define DEVICE_END  0x0a000000ul

/* --- Exceptions --- */

/* What start.S saves on an exception (asm.h gives the offsets). */
struct frame {
    uint64_t x[31];
    uint64_t elr;
    uint64_t spsr;
    uint64_t sp_el0;
};
_Static_assert(sizeof(struct frame) == FRAME_SIZE, "frame layout");
_Static_assert(__builtin_offsetof(struct frame, elr) == FRAME_ELR, "frame layout");
_Static_assert(__builtin_offsetof(struct frame, spsr) == FRAME_SPSR, "frame layout");

/* `kind`: the vector entry taken (DDI 0487 D1.10.2): group * 4 + type. */
enum {
    VEC_CUR_SP0 = 0,     /* current EL, SP_EL0 */
    VEC_CUR_SPX = 4,     /* current EL, SP_ELx */
    VEC_LOWER64 = 8,     /* lower EL, AArch64 */
    VEC_LOWER32 = 12,    /* lower EL, AArch32 */
};
enum { VEC_SYNC = 0, VEC_IRQ = 1, VEC_FIQ = 2, VEC_SERROR = 3 };
#define VEC_TYPE(kind)  ((kind) & 3u)
#define VEC_GROUP(kind) ((kind) & 12u)

/* ESR_ELx fields (DDI 0487 D17.2.37). */
#define ESR_EC(esr)   (((esr) >> 26) & 0x3fu)
#define ESR_IL        (1u << 25)
#define ESR_ISS(esr)  ((esr) & 0x1ffffffu)
#define ESR_FSC(esr)  ((esr) & 0x3fu)        /* DFSC / IFSC */
#define ESR_WNR       (1u << 6)              /* data aborts: write */
#define ESR_FNV       (1u << 10)             /* data aborts: FAR not valid */
enum {
    EC_UNKNOWN = 0x00,
    EC_SVC64 = 0x15,
    EC_HVC64 = 0x16,
    EC_SYSREG = 0x18,
    EC_IABT_LOWER = 0x20,
    EC_IABT_CUR = 0x21,
    EC_PC_ALIGN = 0x22,
    EC_DABT_LOWER = 0x24,
    EC_DABT_CUR = 0x25,
    EC_SP_ALIGN = 0x26,
    EC_BRK64 = 0x3c,
};

/* A hook returns true if it handled the exception (it may then change the
 * frame, e.g. frame->elr to resume elsewhere); false makes it unexpected. */
typedef bool (*exc_hook)(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr,
                         struct frame *f);
extern volatile exc_hook sync_hook;   /* synchronous exceptions, all CPUs */
extern volatile exc_hook irq_hook;    /* IRQs, all CPUs */

/* --- Console (PL011) and formatting --- */

void uart_init(void);
void putchar_(char c);
void puts_(const char *s);
/* A printf subset: %s %c %d %i %u %x %p, flags '0', width, length l/ll/z,
 * %%. Serialized across CPUs by a recursive lock, so lines do not mix. */
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprint(const char *fmt, va_list ap);
void print_lock(void);
void print_unlock(void);

/* --- Exits --- */

__attribute__((noreturn)) void psci_system_off(void);
__attribute__((noreturn)) void psci_cpu_off(void);
__attribute__((noreturn)) void exit_status(int status);
__attribute__((noreturn)) void park(void);
__attribute__((noreturn)) void fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define check(cond, code, what)                     \
    do {                                            \
        if (!(cond)) {                              \
            fail((code), "%s", (what));             \
        }                                           \
    } while (0)

/* Compare two 64-bit values; on a mismatch print both. */
#define check_eq(got, want, code, what)                                         \
    do {                                                                        \
        uint64_t got_ = (uint64_t)(got), want_ = (uint64_t)(want);              \
        if (got_ != want_) {                                                    \
            fail((code), "%s: got 0x%llx, want 0x%llx", (what),                 \
                 (unsigned long long)got_, (unsigned long long)want_);          \
        }                                                                       \
    } while (0)

/* --- Semihosting (IHI 0094: hlt #0xf000, w0 = operation, x1 = argument) */

#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT   0x18
#define SH_ADP_STOPPED_APPLICATION_EXIT 0x20026
uint64_t semihosting_call(uint32_t op, uint64_t arg);

/* --- PSCI (DEN 0022D), through HVC as the device tree says --- */

#define PSCI_VERSION        0x84000000u
#define PSCI_CPU_OFF        0x84000002u
#define PSCI_CPU_ON_64      0xc4000003u
#define PSCI_AFFINITY_INFO_64 0xc4000004u
#define PSCI_SYSTEM_OFF     0x84000008u
#define PSCI_FEATURES       0x8400000au
#define PSCI_SUCCESS        0
#define PSCI_NOT_SUPPORTED  (-1)
#define PSCI_INVALID_PARAMETERS (-2)
#define PSCI_ALREADY_ON     (-4)
#define PSCI_AFF_ON         0
#define PSCI_AFF_OFF        1

int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
/* Start the CPU whose MPIDR affinity is `mpidr` at fn(arg) on its own
 * stack, with the vectors installed (start.S secondary_entry). */
int64_t psci_cpu_on(uint64_t mpidr, void (*fn)(uint64_t), uint64_t arg);
int64_t psci_affinity_info(uint64_t mpidr);

/* --- System registers --- */

#define read_sysreg(r)                                              \
    ({                                                              \
        uint64_t v_;                                                \
        __asm__ volatile("mrs %0, " #r : "=r"(v_));                 \
        v_;                                                         \
    })
#define write_sysreg(r, v)                                          \
    do {                                                            \
        uint64_t v_ = (uint64_t)(v);                                \
        __asm__ volatile("msr " #r ", %0" : : "r"(v_) : "memory");  \
    } while (0)

static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void dsb_ish(void) { __asm__ volatile("dsb ish" ::: "memory"); }
static inline void dsb_ishst(void) { __asm__ volatile("dsb ishst" ::: "memory"); }
static inline void dmb_ish(void) { __asm__ volatile("dmb ish" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }

/* Linear CPU number from MPIDR_EL1 (start.S's stack index). */
static inline unsigned cpu_index(void)
{
    uint64_t m = read_sysreg(mpidr_el1);
    return (unsigned)((m & 0xff) + ((m >> 8) & 0xff) * 16);
}

/* --- MMIO --- */

static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline uint64_t mmio_read64(uint64_t a) { return *(volatile uint64_t *)a; }

/* --- Atomics, written with exclusives (DDI 0487 B2.9) --- */

typedef struct { volatile uint32_t v; } spinlock_t;
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
uint32_t atomic_add32(volatile uint32_t *p, uint32_t n);   /* returns the new value */
static inline uint32_t load_acquire32(const volatile uint32_t *p)
{
    uint32_t v;
    __asm__ volatile("ldar %w0, [%1]" : "=r"(v) : "r"(p) : "memory");
    return v;
}
static inline void store_release32(volatile uint32_t *p, uint32_t v)
{
    __asm__ volatile("stlr %w0, [%1]" : : "r"(v), "r"(p) : "memory");
}
/* Spin until *p == want; fails with EXIT_SMP_TIMEOUT after `spins` reads. */
void wait_eq32(const volatile uint32_t *p, uint32_t want, const char *what);

/* --- GICv2 (IHI 0048B) --- */

#define GICD_CTLR       0x000
#define GICD_TYPER      0x004
#define GICD_IGROUPR    0x080
#define GICD_ISENABLER  0x100
#define GICD_ICENABLER  0x180
#define GICD_ICPENDR    0x280
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR  0x800
#define GICD_SGIR       0xf00
#define GICC_CTLR       0x000
#define GICC_PMR        0x004
#define GICC_BPR        0x008
#define GICC_IAR        0x00c
#define GICC_EOIR       0x010
#define GICC_RPR        0x014
#define GIC_SPURIOUS    1023u

void gicv2_dist_init(void);           /* GICD_CTLR.EnableGrp0 (once, CPU 0) */
void gicv2_cpu_init(void);            /* this CPU's GICC: enable, PMR 0xff */
void gicv2_enable_irq(unsigned intid, uint8_t prio);  /* banked for < 32 */
void gicv2_send_sgi(unsigned targets, unsigned intid);
static inline uint32_t gicv2_ack(void) { return mmio_read32(GICC_BASE + GICC_IAR); }
static inline void gicv2_eoi(uint32_t iar) { mmio_write32(GICC_BASE + GICC_EOIR, iar); }

/* --- GICv3 (IHI 0069) --- */

#define GICR_CTLR       0x0000
#define GICR_TYPER      0x0008
#define GICR_WAKER      0x0014
#define GICR_SGI_BASE   0x10000
#define GICR_IGROUPR0   (GICR_SGI_BASE + 0x080)
#define GICR_ISENABLER0 (GICR_SGI_BASE + 0x100)
#define GICR_IPRIORITYR (GICR_SGI_BASE + 0x400)
#define GICR_STRIDE     0x20000

/* ICC_* system registers by encoding (IHI 0069 12.2; op0=3, op1=0, CRn=12
 * except PMR). The assembler may not know their names. */
#define ICC_PMR_EL1     s3_0_c4_c6_0
#define ICC_IAR1_EL1    s3_0_c12_c12_0
#define ICC_EOIR1_EL1   s3_0_c12_c12_1
#define ICC_BPR1_EL1    s3_0_c12_c12_3
#define ICC_CTLR_EL1    s3_0_c12_c12_4
#define ICC_SRE_EL1     s3_0_c12_c12_5
#define ICC_IGRPEN1_EL1 s3_0_c12_c12_7
#define ICC_SGI1R_EL1   s3_0_c12_c11_5

uint64_t gicv3_redist_of_self(void);  /* this CPU's RD_base, by GICR_TYPER */
void gicv3_dist_init(void);           /* GICD_CTLR: ARE, EnableGrp1 */
void gicv3_cpu_init(void);            /* wake the redistributor, ICC_* setup */
void gicv3_enable_ppi_sgi(unsigned intid, uint8_t prio);  /* group 1 */
void gicv3_send_sgi(uint64_t mpidr, unsigned intid);
/* Expand ICC_* names before stringizing them in read_sysreg/write_sysreg. */
#define read_icc(r) read_sysreg_x(r)
#define write_icc(r, v) write_sysreg_x(r, v)
#define read_sysreg_x(r) read_sysreg(r)
#define write_sysreg_x(r, v) write_sysreg(r, v)

/* --- Translation tables, 4 KiB granule (DDI 0487 D8) --- */

#define PTE_VALID    (1ul << 0)
#define PTE_TABLE    (1ul << 1)   /* levels 0-2: table; level 3: page */
#define PTE_PAGE     (1ul << 1)
#define PTE_ATTR(n)  ((uint64_t)(n) << 2)
#define PTE_AP_EL1_RW (0ul << 6)  /* AP[2:1] = 00: EL1 RW, EL0 none */
#define PTE_AP_ALL_RW (1ul << 6)  /* 01: EL1 and EL0 RW */
#define PTE_AP_EL1_RO (2ul << 6)  /* 10: EL1 RO, EL0 none */
#define PTE_AP_ALL_RO (3ul << 6)  /* 11: EL1 and EL0 RO */
#define PTE_SH_INNER (3ul << 8)
#define PTE_AF       (1ul << 10)
#define PTE_NG       (1ul << 11)
#define PTE_PXN      (1ul << 53)
#define PTE_UXN      (1ul << 54)
#define PTE_ADDR_MASK 0x0000fffffffff000ul

/* MAIR_EL1 indexes set by mmu_enable. */
#define MT_DEVICE 0   /* Device-nGnRnE (0x00) */
#define MT_NORMAL 1   /* Normal, inner/outer write-back (0xff) */
#define PTE_NORMAL (PTE_ATTR(MT_NORMAL) | PTE_SH_INNER | PTE_AF)
#define PTE_DEVICE (PTE_ATTR(MT_DEVICE) | PTE_AF | PTE_PXN | PTE_UXN)

struct mmu {
    uint64_t *root;
    unsigned vabits;      /* 39 (tables start at level 1) or 48 (level 0) */
    unsigned start_level;
};

uint64_t *pt_alloc(void);  /* a zeroed 4 KiB table from a static pool */
void mmu_init(struct mmu *m, unsigned vabits);
/* The descriptor for `va` at `level` (0-3), creating tables on the way
 * when `alloc` (else NULL if a table is missing). */
uint64_t *mmu_pte(struct mmu *m, uint64_t va, unsigned level, bool alloc);
void mmu_map_page(struct mmu *m, uint64_t va, uint64_t pa, uint64_t attrs);
void mmu_map_block(struct mmu *m, uint64_t va, uint64_t pa, unsigned level, uint64_t attrs);
/* Identity map: device window (2 MiB device blocks), the first 4 MiB of
 * RAM with 4 KiB pages (the image, EL1 RW executable), the rest of
 * `ram_size` bytes of RAM with 2 MiB normal blocks. */
void mmu_identity(struct mmu *m, uint64_t ram_size);
/* MAIR, TCR (T0SZ from vabits; TTBR1 walks disabled unless t1sz != 0),
 * TTBR0/TTBR1, then SCTLR_EL1.M/C/I. Safe to call on every CPU. */
void mmu_enable(struct mmu *m, const struct mmu *high, unsigned t1sz);
void mmu_disable(void);
static inline void tlbi_vmalle1(void)
{
    __asm__ volatile("dsb ishst\n tlbi vmalle1\n dsb ish\n isb" ::: "memory");
}
static inline void tlbi_vae1(uint64_t va)
{
    __asm__ volatile("tlbi vae1, %0" : : "r"(va >> 12) : "memory");
}
static inline void tlbi_vae1is(uint64_t va)
{
    __asm__ volatile("tlbi vae1is, %0" : : "r"(va >> 12) : "memory");
}
static inline uint64_t at_s1e1r(uint64_t va)
{
    __asm__ volatile("at s1e1r, %0" : : "r"(va) : "memory");
    isb();
    return read_sysreg(par_el1);
}
static inline uint64_t at_s1e1w(uint64_t va)
{
    __asm__ volatile("at s1e1w, %0" : : "r"(va) : "memory");
    isb();
    return read_sysreg(par_el1);
}

/* --- Misc --- */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
/* Drop to EL0 at fn(arg) on `stack_top` with interrupts masked (start.S).
 * fn must not return: it ends with an SVC (or a fault) whose handler calls
 * return_from_el0(frame, value), which makes enter_el0 return `value` at
 * EL1. */
uint64_t enter_el0(void (*fn)(uint64_t), uint64_t arg, uint64_t stack_top);
void return_from_el0(struct frame *f, uint64_t value);

int main(uint64_t dtb);

#endif
