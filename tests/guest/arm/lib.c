/*
 * The runtime of the AArch64 guest test images (lib.h).
 */
#include "lib.h"

volatile exc_hook sync_hook;
volatile exc_hook irq_hook;

/* --- Memory (gcc may call these even in freestanding code) --- */

void *memset(void *d, int c, size_t n)
{
    volatile unsigned char *p = d;   /* volatile: not turned back into memset */
    while (n--) {
        *p++ = (unsigned char)c;
    }
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    volatile unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) {
        *p++ = *q++;
    }
    return d;
}

/* --- Atomics: LDAXR/STXR loops (DDI 0487 B2.9.2 "Exclusive access
 * instructions"), with acquire on the load and release on unlock. --- */

void spin_lock(spinlock_t *l)
{
    uint32_t tmp, fail;
    __asm__ volatile("1: ldaxr %w0, [%2]\n"
                     "   cbnz  %w0, 1b\n"
                     "   stxr  %w1, %w3, [%2]\n"
                     "   cbnz  %w1, 1b\n"
                     : "=&r"(tmp), "=&r"(fail)
                     : "r"(&l->v), "r"(1u)
                     : "memory");
}

void spin_unlock(spinlock_t *l)
{
    store_release32(&l->v, 0);
}

uint32_t atomic_add32(volatile uint32_t *p, uint32_t n)
{
    uint32_t v, fail;
    __asm__ volatile("1: ldaxr %w0, [%2]\n"
                     "   add   %w0, %w0, %w3\n"
                     "   stlxr %w1, %w0, [%2]\n"
                     "   cbnz  %w1, 1b\n"
                     : "=&r"(v), "=&r"(fail)
                     : "r"(p), "r"(n)
                     : "memory");
    return v;
}

void wait_eq32(const volatile uint32_t *p, uint32_t want, const char *what)
{
    /* The machine runs CPUs round-robin, 10,000 instructions each: a
     * partner that is on gets its turn long before this many reads. */
    for (uint64_t i = 0; i < 50000000ull; i++) {
        if (load_acquire32(p) == want) {
            return;
        }
    }
    fail(EXIT_SMP_TIMEOUT, "timeout waiting for %s (0x%x, want 0x%x)", what,
         (unsigned)*p, (unsigned)want);
}

/* --- Console: PL011 (DDI 0183 3.3) --- */

#define UARTDR   0x000
#define UARTFR   0x018
#define UARTCR   0x030
#define UARTFR_TXFF (1u << 5)
#define UARTCR_UARTEN (1u << 0)
#define UARTCR_TXE (1u << 8)
#define UARTCR_RXE (1u << 9)

void uart_init(void)
{
    /* The transmitter sends only while UARTEN and TXE are set (DDI 0183
     * 3.3.8); reset leaves UARTEN clear. */
    mmio_write32(UART_BASE + UARTCR, UARTCR_UARTEN | UARTCR_TXE | UARTCR_RXE);
}

void putchar_(char c)
{
    static bool ready;
    if (!ready) {
        uart_init();
        ready = true;
    }
    while (mmio_read32(UART_BASE + UARTFR) & UARTFR_TXFF) {
        /* FIFO full: wait for room. */
    }
    mmio_write32(UART_BASE + UARTDR, (uint8_t)c);
}

void puts_(const char *s)
{
    while (*s) {
        putchar_(*s++);
    }
}

/* A recursive lock so that a CPU failing inside print can still print. */
static spinlock_t print_spin;
static volatile uint32_t print_owner = ~0u;
static uint32_t print_depth;

void print_lock(void)
{
    uint32_t me = cpu_index();
    if (load_acquire32(&print_owner) == me) {
        print_depth++;
        return;
    }
    spin_lock(&print_spin);
    print_owner = me;
    print_depth = 1;
}

void print_unlock(void)
{
    if (--print_depth == 0) {
        print_owner = ~0u;
        spin_unlock(&print_spin);
    }
}

static void put_uint(uint64_t v, unsigned base, unsigned width, char pad)
{
    char buf[24];
    unsigned n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    while (n < width && n < sizeof(buf)) {
        buf[n++] = pad;
    }
    while (n) {
        putchar_(buf[--n]);
    }
}

void vprint(const char *fmt, va_list ap)
{
    print_lock();
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            putchar_(*f);
            continue;
        }
        f++;
        char pad = ' ';
        unsigned width = 0, longs = 0;
        if (*f == '0') {
            pad = '0';
            f++;
        }
        while (*f >= '0' && *f <= '9') {
            width = width * 10 + (unsigned)(*f++ - '0');
        }
        while (*f == 'l' || *f == 'z') {
            longs++;
            f++;
        }
        switch (*f) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            if (v < 0) {
                putchar_('-');
                put_uint((uint64_t)0 - (uint64_t)v, 10, width, pad);
            } else {
                put_uint((uint64_t)v, 10, width, pad);
            }
            break;
        }
        case 'u':
            put_uint(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
            break;
        case 'x':
            put_uint(longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
            break;
        case 'p':
            puts_("0x");
            put_uint((uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0, '0');
            break;
        case 'c':
            putchar_((char)va_arg(ap, int));
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            puts_(s ? s : "(null)");
            break;
        }
        case '%':
            putchar_('%');
            break;
        case '\0':
            f--;
            break;
        default:
            putchar_('%');
            putchar_(*f);
            break;
        }
    }
    print_unlock();
}

void print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint(fmt, ap);
    va_end(ap);
}

/* --- Semihosting and exits --- */

uint64_t semihosting_call(uint32_t op, uint64_t arg)
{
    register uint64_t x0 __asm__("x0") = op;
    register uint64_t x1 __asm__("x1") = arg;
    /* IHI 0094 "The semihosting interface": A64 uses HLT #0xF000. */
    __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
    return x0;
}

void park(void)
{
    __asm__ volatile("msr daifset, #0xf" ::: "memory");
    for (;;) {
        wfi();
    }
}

void exit_status(int status)
{
    /* SYS_EXIT's argument on AArch64 is a block of two 64-bit fields:
     * reason, subcode (IHI 0094 "SYS_EXIT (0x18)"). */
    static volatile uint64_t block[2];
    block[0] = SH_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint64_t)status;
    semihosting_call(SH_SYS_EXIT, (uint64_t)(uintptr_t)block);
    /* Without --semihosting the HLT was stepped over as UNDEFINED. */
    park();
}

int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t x0 __asm__("x0") = fn;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    /* SMCCC (DEN 0028): results in x0-x3; x4-x17 may be clobbered. */
    __asm__ volatile("hvc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     :
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                       "x14", "x15", "x16", "x17", "memory");
    return (int64_t)x0;
}

void psci_system_off(void)
{
    psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    /* DEN 0022D 5.10: SYSTEM_OFF does not return. */
    fail(0x7d, "PSCI SYSTEM_OFF returned");
}

void psci_cpu_off(void)
{
    psci_call(PSCI_CPU_OFF, 0, 0, 0);
    fail(0x7c, "PSCI CPU_OFF returned");
}

void fail(int code, const char *fmt, ...)
{
    /* A failure while failing (e.g. the console itself faults) exits at
     * once rather than recursing. */
    static volatile uint8_t failing[MAX_CPUS];
    unsigned me = cpu_index() % MAX_CPUS;
    if (failing[me]++) {
        exit_status(code);
    }
    va_list ap;
    va_start(ap, fmt);
    print_lock();
    puts_("FAIL: ");
    vprint(fmt, ap);
    puts_("\n");
    print_unlock();
    va_end(ap);
    exit_status(code);
}

/* What start.S's secondary_entry reads from the context_id. */
struct start_info {
    void (*fn)(uint64_t);
    uint64_t arg;
};
static struct start_info start_infos[MAX_CPUS];
extern char secondary_entry[];

int64_t psci_cpu_on(uint64_t mpidr, void (*fn)(uint64_t), uint64_t arg)
{
    unsigned i = (unsigned)((mpidr & 0xff) + ((mpidr >> 8) & 0xff) * 16) % MAX_CPUS;
    start_infos[i].fn = fn;
    start_infos[i].arg = arg;
    dsb_sy();   /* visible before the CPU starts (it runs with its MMU off) */
    /* DEN 0022D 5.6 CPU_ON: target_cpu, entry_point_address, context_id. */
    return psci_call(PSCI_CPU_ON_64, mpidr, (uint64_t)(uintptr_t)secondary_entry,
                     (uint64_t)(uintptr_t)&start_infos[i]);
}

int64_t psci_affinity_info(uint64_t mpidr)
{
    /* lowest_affinity_level 0: this very core (DEN 0022D 5.7). */
    return psci_call(PSCI_AFFINITY_INFO_64, mpidr, 0, 0);
}

/* --- Exceptions --- */

extern char el0_return[];

void return_from_el0(struct frame *f, uint64_t value)
{
    f->x[0] = value;
    f->elr = (uint64_t)(uintptr_t)el0_return;
    f->spsr = 0x3c5;   /* EL1h, DAIF masked */
}

static const char *const kind_names[16] = {
    "sync/sp0", "irq/sp0", "fiq/sp0", "serror/sp0",
    "sync/spx", "irq/spx", "fiq/spx", "serror/spx",
    "sync/el0", "irq/el0", "fiq/el0", "serror/el0",
    "sync/aarch32", "irq/aarch32", "fiq/aarch32", "serror/aarch32",
};

void exception_dispatch(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr,
                        struct frame *f);

void exception_dispatch(unsigned kind, uint64_t esr, uint64_t far, uint64_t elr,
                        struct frame *f)
{
    if (VEC_TYPE(kind) == VEC_SYNC) {
        /* exit_status() without --semihosting: HLT #0xF000 is UNDEFINED
         * (EC 0); step over it so exit_status parks. */
        if (ESR_EC(esr) == EC_UNKNOWN && *(const volatile uint32_t *)(uintptr_t)elr ==
                                             0xd45e0000u) {
            f->elr = elr + 4;
            return;
        }
        exc_hook h = sync_hook;
        if (h && h(kind, esr, far, elr, f)) {
            return;
        }
    } else if (VEC_TYPE(kind) == VEC_IRQ) {
        exc_hook h = irq_hook;
        if (h && h(kind, esr, far, elr, f)) {
            return;
        }
    }
    fail(EXIT_UNEXPECTED, "unexpected exception %s on CPU %u: esr=0x%llx far=0x%llx elr=0x%llx",
         kind < 16 ? kind_names[kind] : "?", cpu_index(), (unsigned long long)esr,
         (unsigned long long)far, (unsigned long long)elr);
}

/* --- GICv2 (IHI 0048B 4.3, 4.4) --- */

void gicv2_dist_init(void)
{
    /* Without the Security Extensions, GICD_CTLR bit 0 enables group 0
     * (v2 4.3.1); our interrupts stay group 0 (IGROUPR resets to 0) and,
     * with GICC_CTLR.FIQEn = 0, are signalled as IRQs (v2 3.2.?). */
    mmio_write32(GICD_BASE + GICD_CTLR, 1);
}

void gicv2_cpu_init(void)
{
    mmio_write32(GICC_BASE + GICC_PMR, 0xff);   /* let every priority through */
    mmio_write32(GICC_BASE + GICC_BPR, 0);
    mmio_write32(GICC_BASE + GICC_CTLR, 1);     /* EnableGrp0 */
}

void gicv2_enable_irq(unsigned intid, uint8_t prio)
{
    /* IPRIORITYR is byte-accessible (v2 4.3.11); ISENABLERn: one bit per
     * interrupt, banked per CPU for 0-31 (v2 4.3.5). */
    mmio_write8(GICD_BASE + GICD_IPRIORITYR + intid, prio);
    mmio_write32(GICD_BASE + GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

void gicv2_send_sgi(unsigned targets, unsigned intid)
{
    /* GICD_SGIR (v2 4.3.15): TargetListFilter 0 = use CPUTargetList
     * [23:16]; SGIINTID [3:0]. */
    dsb_sy();   /* the data the SGI announces is visible first */
    mmio_write32(GICD_BASE + GICD_SGIR, ((targets & 0xffu) << 16) | (intid & 0xfu));
}

/* --- GICv3 (IHI 0069) --- */

uint64_t gicv3_redist_of_self(void)
{
    uint64_t mpidr = read_sysreg(mpidr_el1);
    uint32_t aff = (uint32_t)(((mpidr >> 32) & 0xff) << 24 | (mpidr & 0xffffff));
    /* Walk the frames: GICR_TYPER[63:32] is the affinity of the frame's PE,
     * Aff3.Aff2.Aff1.Aff0; bit 4 (Last) marks the last frame (v3 9.11.35). */
    for (uint64_t rd = GICR_BASE;; rd += GICR_STRIDE) {
        uint64_t typer = mmio_read64(rd + GICR_TYPER);
        if ((uint32_t)(typer >> 32) == aff) {
            return rd;
        }
        if (typer & (1u << 4)) {
            fail(0x7b, "no redistributor for MPIDR 0x%llx", (unsigned long long)mpidr);
        }
    }
}

void gicv3_dist_init(void)
{
    /* GICD_CTLR with DS = 1 (one security state): bit 1 EnableGrp1, bit 4
     * ARE (v3 9.9.4). RWP (bit 31) tracks the write's completion. */
    mmio_write32(GICD_BASE + GICD_CTLR, (1u << 4) | (1u << 1));
    while (mmio_read32(GICD_BASE + GICD_CTLR) & (1u << 31)) {
    }
}

void gicv3_cpu_init(void)
{
    uint64_t rd = gicv3_redist_of_self();
    /* Wake the redistributor: clear GICR_WAKER.ProcessorSleep (bit 1), then
     * wait for ChildrenAsleep (bit 2) to clear (v3 9.11.41). */
    mmio_write32(rd + GICR_WAKER, mmio_read32(rd + GICR_WAKER) & ~(1u << 1));
    while (mmio_read32(rd + GICR_WAKER) & (1u << 2)) {
    }
    /* System register interface (ICC_SRE_EL1.SRE, v3 12.2.21), priority
     * mask open, group 1 enabled (ICC_IGRPEN1_EL1.Enable). */
    write_icc(ICC_SRE_EL1, read_icc(ICC_SRE_EL1) | 1);
    isb();
    write_icc(ICC_PMR_EL1, 0xff);
    write_icc(ICC_BPR1_EL1, 0);
    write_icc(ICC_IGRPEN1_EL1, 1);
    isb();
}

void gicv3_enable_ppi_sgi(unsigned intid, uint8_t prio)
{
    uint64_t rd = gicv3_redist_of_self();
    /* SGIs and PPIs are configured in the SGI_base frame (v3 9.11): group
     * 1 in GICR_IGROUPR0 (group 1 is signalled as IRQ with DS = 1). */
    mmio_write32(rd + GICR_IGROUPR0, mmio_read32(rd + GICR_IGROUPR0) | (1u << intid));
    mmio_write8(rd + GICR_IPRIORITYR + intid, prio);
    mmio_write32(rd + GICR_ISENABLER0, 1u << intid);
}

void gicv3_send_sgi(uint64_t mpidr, unsigned intid)
{
    /* ICC_SGI1R_EL1 (v3 12.2.20): Aff3 [55:48], Aff2 [39:32], INTID
     * [27:24], Aff1 [23:16], TargetList [15:0] (one bit per Aff0 0-15,
     * RS = 0), IRM [40] = 0. */
    uint64_t v = ((mpidr >> 32) & 0xff) << 48 | ((mpidr >> 16) & 0xff) << 32 |
                 (uint64_t)(intid & 0xf) << 24 | ((mpidr >> 8) & 0xff) << 16 |
                 (1ull << (mpidr & 0xf));
    dsb_sy();
    write_icc(ICC_SGI1R_EL1, v);
    isb();
}

/* --- Translation tables (DDI 0487 D8: VMSAv8-64, 4 KiB granule) --- */

#define PT_POOL_PAGES 48
static uint64_t pt_pool[PT_POOL_PAGES][512] __attribute__((aligned(4096)));
static unsigned pt_used;

uint64_t *pt_alloc(void)
{
    if (pt_used >= PT_POOL_PAGES) {
        fail(0x7a, "out of translation table pages");
    }
    uint64_t *t = pt_pool[pt_used++];
    for (unsigned i = 0; i < 512; i++) {
        t[i] = 0;
    }
    return t;
}

void mmu_init(struct mmu *m, unsigned vabits)
{
    m->vabits = vabits;
    /* 4 KiB granule: each level resolves 9 bits above the 12-bit offset;
     * a 39-bit space starts at level 1, a 48-bit one at level 0 (D8.2). */
    m->start_level = vabits > 39 ? 0 : 1;
    m->root = pt_alloc();
}

static unsigned level_shift(unsigned level)
{
    return 12 + 9 * (3 - level);
}

uint64_t *mmu_pte(struct mmu *m, uint64_t va, unsigned level, bool alloc)
{
    uint64_t *t = m->root;
    for (unsigned l = m->start_level;; l++) {
        uint64_t *e = &t[(va >> level_shift(l)) & 511];
        if (l == level) {
            return e;
        }
        if (!(*e & PTE_VALID)) {
            if (!alloc) {
                return NULL;
            }
            *e = (uint64_t)(uintptr_t)pt_alloc() | PTE_TABLE | PTE_VALID;
        } else if (!(*e & PTE_TABLE)) {
            fail(0x79, "mmu_pte: block in the way at level %u", l);
        }
        t = (uint64_t *)(uintptr_t)(*e & PTE_ADDR_MASK);
    }
}

void mmu_map_page(struct mmu *m, uint64_t va, uint64_t pa, uint64_t attrs)
{
    *mmu_pte(m, va, 3, true) = (pa & PTE_ADDR_MASK) | attrs | PTE_PAGE | PTE_VALID;
}

void mmu_map_block(struct mmu *m, uint64_t va, uint64_t pa, unsigned level, uint64_t attrs)
{
    /* Block descriptors: bits 1:0 = 01 at levels 1 and 2 (D8.3.1). */
    *mmu_pte(m, va, level, true) = (pa & PTE_ADDR_MASK) | attrs | PTE_VALID;
}

void mmu_identity(struct mmu *m, uint64_t ram_size)
{
    const uint64_t two_mib = 2ull << 20;
    for (uint64_t a = DEVICE_BASE; a < DEVICE_END; a += two_mib) {
        mmu_map_block(m, a, a, 2, PTE_DEVICE);
    }
    const uint64_t paged = 4ull << 20;
    for (uint64_t a = RAM_BASE; a < RAM_BASE + paged; a += 4096) {
        mmu_map_page(m, a, a, PTE_NORMAL | PTE_AP_EL1_RW | PTE_UXN);
    }
    for (uint64_t a = RAM_BASE + paged; a < RAM_BASE + ram_size; a += two_mib) {
        mmu_map_block(m, a, a, 2, PTE_NORMAL | PTE_AP_EL1_RW | PTE_UXN);
    }
}

void mmu_enable(struct mmu *m, const struct mmu *high, unsigned t1sz)
{
    /* MAIR_EL1 (D17.2.97): Attr0 = 0x00 Device-nGnRnE, Attr1 = 0xff Normal
     * inner/outer write-back non-transient read/write-allocate. */
    write_sysreg(mair_el1, 0xff00ull);
    /* TCR_EL1 (D17.2.131): T0SZ [5:0] = 64 - VA bits; IRGN0/ORGN0 = 01
     * (write-back), SH0 = 11 (inner shareable), TG0 = 00 (4 KiB); the same
     * for TTBR1 at bits 16+ with TG1 = 10 (4 KiB), or EPD1 (bit 23) to
     * disable TTBR1 walks; IPS [34:32] = the PA size the CPU implements
     * (ID_AA64MMFR0_EL1.PARange). */
    uint64_t parange = read_sysreg(id_aa64mmfr0_el1) & 0xf;
    if (parange > 5) {
        parange = 5;
    }
    uint64_t tcr = (uint64_t)(64 - m->vabits) | (1ull << 8) | (1ull << 10) | (3ull << 12) |
                   (parange << 32);
    if (high) {
        tcr |= ((uint64_t)t1sz << 16) | (1ull << 24) | (1ull << 26) | (3ull << 28) |
               (2ull << 30);
        write_sysreg(ttbr1_el1, (uint64_t)(uintptr_t)high->root);
    } else {
        tcr |= (1ull << 23) | (2ull << 30);
    }
    write_sysreg(tcr_el1, tcr);
    write_sysreg(ttbr0_el1, (uint64_t)(uintptr_t)m->root);
    dsb_ish();   /* table writes complete before the walker may read them */
    isb();
    __asm__ volatile("tlbi vmalle1\n dsb ish\n isb" ::: "memory");
    /* SCTLR_EL1 (D17.2.118): M (0) MMU on, C (2) data cacheable, I (12)
     * instruction cacheable. */
    uint64_t sctlr = read_sysreg(sctlr_el1);
    write_sysreg(sctlr_el1, sctlr | (1u << 0) | (1u << 2) | (1u << 12));
    isb();
}

void mmu_disable(void)
{
    uint64_t sctlr = read_sysreg(sctlr_el1);
    write_sysreg(sctlr_el1, sctlr & ~(uint64_t)1);
    isb();
}
