/*
 * Local APIC (xAPIC and x2APIC) and the APIC "bus" that carries interrupt
 * messages between local APICs and I/O APICs (ioapic.h).
 *
 * References are to the Intel SDM Vol. 3A, chapter 10 ("Advanced
 * Programmable Interrupt Controller"), as numbered in the editions that
 * put the APIC in chapter 10 (later editions: chapter 11, same sections).
 *
 * One Apic per CPU. Its xAPIC register page is a 4 KiB MMIO region named
 * "apic.cpu<N>" (apic_region()) that the machine puts in that CPU's view
 * (cpu_view.h: the page at priority 2 in the CPU's own root), so every CPU
 * sees its own APIC at its own IA32_APIC_BASE. The APIC never touches the
 * view itself: whenever the page's base or presence changes (a WRMSR to
 * IA32_APIC_BASE, a reset), it calls host->mmio_changed, and the machine
 * applies it with cpu_view_set_apic_base() / cpu_view_set_apic_enabled().
 * The page is present while IA32_APIC_BASE.EN = 1 and EXTD = 0 (10.4.3,
 * 10.12.1.2: in x2APIC mode the MMIO interface is gone and the addresses
 * show whatever is below, as with a globally disabled APIC).
 *
 * The APIC talks to its CPU and to the machine only through ApicHost
 * (raise/lower INTR, NMI, SMI, INIT, SIPI, ExtINT acknowledge, the virtual
 * clock and one timer per APIC), and to the other APICs only through the
 * ApicBus. devices/ never depends on targets/ or machines/.
 *
 * --- Registers (Table 10-1; x2APIC MSR 0x800 + offset/16, Table 10-6) ---
 *
 *   0x020 ID            R/W in xAPIC (bits 31:24; writable, model specific
 *                       per 10.4.6), R/O in x2APIC (32-bit x2APIC ID)
 *   0x030 version       R/O: 0x00050014 (integrated APIC version 0x14, max
 *                       LVT entry 5: six LVTs, no CMCI; bit 24 = 0, no EOI-
 *                       broadcast suppression) (10.4.8)
 *   0x080 TPR           R/W bits 7:0 (10.8.3.1)
 *   0x090 APR           R/O, computed as 10.6.2.4 describes; xAPIC only
 *   0x0a0 PPR           R/O, computed from TPR and ISRV (10.8.3.1)
 *   0x0b0 EOI           W/O (reads 0 in xAPIC, #GP in x2APIC; a non-zero
 *                       x2APIC write is #GP) (10.8.5)
 *   0x0c0 RRD           R/O, reads 0 (remote read is not supported on P4
 *                       and later); xAPIC only
 *   0x0d0 LDR           R/W bits 31:24 in xAPIC; R/O in x2APIC, derived from
 *                       the x2APIC ID (10.12.10.2)
 *   0x0e0 DFR           R/W bits 31:28 (27:0 read as 1s); xAPIC only
 *   0x0f0 SVR           R/W bits 8:0 (vector, APIC software enable). Focus
 *                       checking (bit 9) and EOI-broadcast suppression (bit
 *                       12) are not offered: reserved (10.9)
 *   0x100-0x170 ISR, 0x180-0x1f0 TMR, 0x200-0x270 IRR: R/O (10.8.4)
 *   0x280 ESR           write-to-update (10.5.3): reads return the errors
 *                       latched by the last ESR write; a write latches the
 *                       errors detected since the previous write (x2APIC:
 *                       only 0 may be written) and rearms the error interrupt
 *   0x300/0x310 ICR     writing the low half sends the IPI (10.6.1); delivery
 *                       status (bit 12) always reads 0 (idle): delivery is
 *                       instantaneous. x2APIC: one 64-bit MSR 0x830 (10.12.9)
 *   0x320 LVT timer     one-shot and periodic (10.5.4); TSC-deadline mode
 *                       is not offered (bit 18 reserved)
 *   0x330 LVT thermal, 0x340 LVT perf: storage plus apic_lvt_event()
 *   0x350/0x360 LVT LINT0/LINT1: fixed, NMI, SMI, INIT, ExtINT, edge/level
 *                       with remote IRR (10.5.1)
 *   0x370 LVT error
 *   0x380 initial count, 0x390 current count (R/O, computed from the virtual
 *                       clock), 0x3e0 divide configuration (bits 3,1,0)
 *   0x3f0 SELF IPI      x2APIC only (MSR 0x83f, W/O) (10.12.11)
 *
 * Reserved offsets (and any offset not on a 16-byte boundary) in xAPIC
 * mode read 0, ignore writes, set ESR bit 7 "illegal register address"
 * (10.5.3) and are reported once per APIC through mem_report(). Writes to
 * read-only registers are ignored (reported once). In x2APIC mode the same
 * accesses are #GP(0) (apic_msr_read/write return false), as are writes
 * with reserved bits set (10.12.1.3). MMIO accepts aligned 4-byte accesses
 * only (10.4.1); anything else fails with MEM_ACCESS_ERROR in the core.
 *
 * --- Behaviour worth knowing ---
 *
 * IA32_APIC_BASE (10.4.4, 10.12.1, 10.12.5): BSP (bit 8, read-only here:
 * the platform sets it), EXTD (bit 10, only if cfg->x2apic), EN (bit 11),
 * base (bits 12..phys_bits-1). Reserved bits and the illegal transitions of
 * 10.12.5 (x2APIC -> xAPIC, disabled -> x2APIC, EN=0 with EXTD=1) are
 * refused: apic_set_base_msr() returns false and the CPU raises #GP(0).
 * Clearing EN returns the APIC to its power-up state (10.4.3 allows it);
 * while EN = 0 the APIC takes no messages, LINT0 passes straight to INTR
 * and LINT1 to NMI, as on a processor without an APIC.
 *
 * Software disable (SVR bit 8 = 0, 10.4.7.2): every LVT is masked and stays
 * masked; fixed, lowest-priority and ExtINT messages are not accepted; INIT,
 * NMI, SMI and start-up messages are; what is already in IRR/ISR still
 * reaches the CPU.
 *
 * IPIs (Table 10-3, the Pentium 4 / Xeon xAPIC rules): the level flag is
 * ignored and every IPI is sent edge-triggered, except an INIT "level
 * de-assert" (INIT, trigger level, level 0), which those processors do not
 * support: it is dropped. Shorthand "self" and "all including self" accept
 * only the fixed mode; other modes with them are dropped (reported once).
 * A fixed or lowest-priority IPI with a vector below 16 is not sent and sets
 * ESR bit 5 in the sender; such a vector arriving from anywhere (IOAPIC,
 * LVT) sets ESR bit 6 in the receiver and never reaches IRR (10.5.2).
 *
 * Lowest-priority delivery (10.6.2.4) chooses, among the software-enabled
 * APICs the destination selects, the one with the lowest TPR, ties going to
 * the lowest APIC ID (deterministic; focus-processor checking is not
 * modelled). With "all excluding self" the sender is never chosen.
 *
 * Destinations (10.6.2): physical (8-bit ID in xAPIC, 32-bit in x2APIC;
 * 0xff resp. 0xffffffff broadcast) or logical: flat (DFR model 1111b: LDR
 * bitmask) and cluster (model 0000b: MDA[7:4] equal to LDR[31:28], MDA[3:0]
 * AND LDR[27:24] non-zero); an MDA of 0xff is a broadcast in both. x2APIC
 * logical is the 16-bit cluster / 16-bit mask form (10.12.10.1). Each receiver matches the destination
 * in its own mode (mixed xAPIC/x2APIC systems are not architectural).
 *
 * Timer (10.5.4): counts at timer_hz / divisor on host->clock_ns(). Writing
 * the initial count starts it (0 stops it); the current count is computed
 * from the clock on every read; the APIC asks host->timer_set for the exact
 * virtual time of the next expiry, and host calls apic_timer_fire() then
 * (late calls are fine: expiries that were missed are coalesced into one
 * interrupt, as IRR would coalesce them anyway). Masking the LVT does not
 * stop the count. Changing the mode or the divisor while counting keeps the
 * current count and goes on from it.
 *
 * EOI (10.8.5): clears the highest ISR bit; if that vector was accepted
 * level-triggered (TMR), the EOI is broadcast on the bus (I/O APICs clear
 * their remote IRR) and clears the remote IRR of a level-triggered LINT
 * with that vector.
 *
 * Not modelled: the 3-wire APIC bus and its arbitration IDs, send/receive
 * checksum and accept errors (ESR bits 0-3, P6/Pentium only), delivery
 * status (always idle), focus processor, EOI-broadcast suppression, the
 * CMCI LVT, TSC-deadline mode, the spurious-interrupt case (the CPU takes
 * interrupts atomically with apic_take_interrupt(), so there is never a
 * vector to withdraw), pin polarity (the level passed to apic_set_lint() is
 * the asserted state; the polarity bit is stored and read back). Thermal
 * and performance-monitoring sources exist only through apic_lvt_event().
 *
 * Threading: none. Everything runs on the machine's thread; host callbacks
 * may call back into the APIC (the APIC's state is consistent whenever it
 * calls the host).
 */
#ifndef MMUSIM_DEVICES_APIC_H
#define MMUSIM_DEVICES_APIC_H

#include "softmmu/region.h"

#define APIC_DEFAULT_BASE 0xfee00000u
#define APIC_PAGE_SIZE 0x1000u
/* The timer's input clock (the "bus clock" of 10.5.4) when the machine
 * does not say: 100 MHz, one tick every 10 ns of virtual time. */
#define APIC_DEFAULT_TIMER_HZ 100000000ull
/* MAXPHYADDR bounding the base field of IA32_APIC_BASE when the machine
 * does not say (the x86 target's CPUID reports 40). */
#define APIC_DEFAULT_PHYS_BITS 40u
#define APIC_VERSION_VALUE 0x00050014u

/* xAPIC register offsets in the page (Table 10-1). */
enum {
    APIC_REG_ID = 0x020,
    APIC_REG_VERSION = 0x030,
    APIC_REG_TPR = 0x080,
    APIC_REG_APR = 0x090,
    APIC_REG_PPR = 0x0a0,
    APIC_REG_EOI = 0x0b0,
    APIC_REG_RRD = 0x0c0,
    APIC_REG_LDR = 0x0d0,
    APIC_REG_DFR = 0x0e0,
    APIC_REG_SVR = 0x0f0,
    APIC_REG_ISR = 0x100,   /* 8 registers, 0x10 apart */
    APIC_REG_TMR = 0x180,
    APIC_REG_IRR = 0x200,
    APIC_REG_ESR = 0x280,
    APIC_REG_ICR_LO = 0x300,
    APIC_REG_ICR_HI = 0x310,
    APIC_REG_LVT_TIMER = 0x320,
    APIC_REG_LVT_THERMAL = 0x330,
    APIC_REG_LVT_PERF = 0x340,
    APIC_REG_LVT_LINT0 = 0x350,
    APIC_REG_LVT_LINT1 = 0x360,
    APIC_REG_LVT_ERROR = 0x370,
    APIC_REG_TIMER_INIT = 0x380,
    APIC_REG_TIMER_CUR = 0x390,
    APIC_REG_TIMER_DIV = 0x3e0,
    APIC_REG_SELF_IPI = 0x3f0,  /* x2APIC only */
};

/* MSRs: IA32_APIC_BASE, and the x2APIC range (MSR = 0x800 + offset / 16). */
#define APIC_MSR_APIC_BASE 0x1bu
#define APIC_MSR_X2APIC_FIRST 0x800u
#define APIC_MSR_X2APIC_LAST 0x8ffu
#define APIC_MSR_X2APIC(offset) (APIC_MSR_X2APIC_FIRST + ((offset) >> 4))

/* IA32_APIC_BASE bits (Figure 10-5). */
#define APIC_BASE_BSP (1ull << 8)
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)

/* Delivery modes (ICR, LVT, I/O APIC redirection entries). */
typedef enum ApicDeliveryMode {
    APIC_DM_FIXED = 0,
    APIC_DM_LOWEST = 1,
    APIC_DM_SMI = 2,
    APIC_DM_NMI = 4,
    APIC_DM_INIT = 5,
    APIC_DM_STARTUP = 6,
    APIC_DM_EXTINT = 7,
} ApicDeliveryMode;

/* Destination shorthands (ICR bits 19:18). */
typedef enum ApicShorthand {
    APIC_SH_NONE = 0,
    APIC_SH_SELF = 1,
    APIC_SH_ALL = 2,          /* all including self */
    APIC_SH_ALL_BUT_SELF = 3,
} ApicShorthand;

/* ICR low-half fields. */
#define APIC_ICR_VECTOR 0xffu
#define APIC_ICR_DM_SHIFT 8
#define APIC_ICR_LOGICAL (1u << 11)
#define APIC_ICR_BUSY (1u << 12)      /* delivery status: always 0 here */
#define APIC_ICR_ASSERT (1u << 14)
#define APIC_ICR_LEVEL (1u << 15)
#define APIC_ICR_SH_SHIFT 18

/* LVT fields (Figure 10-8). */
#define APIC_LVT_VECTOR 0xffu
#define APIC_LVT_DM_SHIFT 8
#define APIC_LVT_PENDING (1u << 12)    /* delivery status: always 0 here */
#define APIC_LVT_POLARITY (1u << 13)
#define APIC_LVT_REMOTE_IRR (1u << 14)
#define APIC_LVT_LEVEL (1u << 15)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_PERIODIC (1u << 17)

/* Spurious-interrupt vector register. */
#define APIC_SVR_ENABLE (1u << 8)

/* Destination format register models (bits 31:28). */
#define APIC_DFR_FLAT 0xffffffffu
#define APIC_DFR_CLUSTER 0x0fffffffu

/* Error status register bits (10.5.3). */
#define APIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define APIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define APIC_ESR_ILLEGAL_REGISTER (1u << 7)

/* The local vector table, in register order. */
typedef enum ApicLvt {
    APIC_LVT_TIMER = 0,
    APIC_LVT_THERMAL,
    APIC_LVT_PERF,
    APIC_LVT_LINT0,
    APIC_LVT_LINT1,
    APIC_LVT_ERROR,
    APIC_LVT_COUNT
} ApicLvt;

typedef struct Apic Apic;
typedef struct ApicBus ApicBus;

/*
 * One interrupt message on the bus: an IPI from an ICR, or a message from
 * an I/O APIC (or, later, an MSI).
 */
typedef struct ApicMessage {
    uint8_t vector;
    uint8_t delivery_mode;   /* ApicDeliveryMode */
    uint8_t shorthand;       /* ApicShorthand; APIC_SH_NONE for I/O APICs */
    bool logical;            /* destination mode */
    bool level;              /* trigger mode: true = level-triggered */
    bool deassert;           /* INIT level de-assert (ignored by receivers) */
    bool x2apic_dest;        /* dest is a 32-bit x2APIC destination; else 8-bit */
    uint32_t dest;
} ApicMessage;

/*
 * What the machine provides. Every callback gets host_opaque and the CPU
 * index of the APIC that calls it. All are optional: a missing one makes
 * that event a no-op (a missing clock reads 0; a missing timer_set means
 * the timer counts but never fires by itself).
 */
typedef struct ApicHost {
    /* The CPU's INTR line: true while apic_take_interrupt() would return a
     * vector (a fixed interrupt above PPR, or an ExtINT). Called on change. */
    void (*set_intr)(void *opaque, unsigned cpu_index, bool level);
    void (*nmi)(void *opaque, unsigned cpu_index);
    void (*smi)(void *opaque, unsigned cpu_index);
    /* An INIT arrived. The machine performs the CPU's INIT (9.1) and calls
     * apic_init_reset() on this APIC as part of it (10.4.7.3). */
    void (*init)(void *opaque, unsigned cpu_index);
    /* A start-up IPI: the CPU, if waiting for SIPI, starts at vector << 12. */
    void (*sipi)(void *opaque, unsigned cpu_index, uint8_t vector);
    /* ExtINT acknowledge: the INTA cycle to the 8259 (or -1: nothing). */
    int (*extint_ack)(void *opaque, unsigned cpu_index);
    /* The virtual clock, in nanoseconds; must never go backwards. */
    uint64_t (*clock_ns)(void *opaque);
    /* Call apic_timer_fire() on this APIC when clock_ns() reaches
     * deadline_ns (replaces any earlier request), or never (cancel). */
    void (*timer_set)(void *opaque, unsigned cpu_index, uint64_t deadline_ns);
    void (*timer_cancel)(void *opaque, unsigned cpu_index);
    /* The register page moved or appeared/disappeared: apply it to the
     * CPU's view (cpu_view_set_apic_base / cpu_view_set_apic_enabled). */
    void (*mmio_changed)(void *opaque, unsigned cpu_index, uint64_t base, bool enabled);
} ApicHost;

typedef struct ApicConfig {
    unsigned cpu_index;
    uint32_t apic_id;        /* initial APIC ID, 0..254 (0xff is broadcast) */
    bool bsp;                /* IA32_APIC_BASE.BSP */
    bool x2apic;             /* x2APIC mode available (CPUID.01H:ECX[21]) */
    uint64_t timer_hz;       /* timer input clock; 0: APIC_DEFAULT_TIMER_HZ */
    unsigned phys_bits;      /* MAXPHYADDR, 32..52; 0: APIC_DEFAULT_PHYS_BITS */
    const ApicHost *host;    /* may be NULL: no callbacks */
    void *host_opaque;
} ApicConfig;

/* --- The bus. --- */

ApicBus *apic_bus_new(void);
/* Free the I/O APICs and local APICs on it first. */
void apic_bus_free(ApicBus *bus);

/* Route a message (10.6.2): by shorthand relative to `source` (NULL for an
 * I/O APIC: "self" then reaches nobody), else by destination; lowest
 * priority picks one APIC. Returns how many APICs accepted it. */
unsigned apic_bus_send(ApicBus *bus, const ApicMessage *m, Apic *source);

/* EOI broadcast for level-triggered vectors (I/O APICs listen). */
typedef void (*ApicEoiFn)(void *opaque, uint8_t vector);
void apic_bus_add_eoi_listener(ApicBus *bus, ApicEoiFn fn, void *opaque);
void apic_bus_remove_eoi_listener(ApicBus *bus, ApicEoiFn fn, void *opaque);
void apic_bus_eoi(ApicBus *bus, uint8_t vector);

/* The APICs on the bus, in creation order. */
guint apic_bus_count(const ApicBus *bus);
Apic *apic_bus_nth(const ApicBus *bus, guint i);
Apic *apic_bus_find_cpu(const ApicBus *bus, unsigned cpu_index);

/* --- Creation. --- */

/* Errors (MEM_ERROR_INVALID_ARGUMENT): no bus or config, an ID above 254, a
 * CPU index or initial ID already on the bus, phys_bits out of range. The
 * APIC starts in its power-up state (apic_reset()). */
Apic *apic_new(ApicBus *bus, const ApicConfig *cfg, GError **err);
/* Leaves the bus and drops the creator's region reference. Call it once no
 * CPU view maps the page any more, and have the host forget any timer
 * request of this APIC (no host callback is made from here). */
void apic_free(Apic *a);

/* The 4 KiB register page (borrowed). cpu_view_new() takes over a
 * reference: pass it after mr_ref(). */
MemRegion *apic_region(Apic *a);
unsigned apic_cpu_index(const Apic *a);
/* The current APIC ID (8-bit xAPIC ID, or the 32-bit x2APIC ID). */
uint32_t apic_id(const Apic *a);

/* RESET (10.4.7.1): IA32_APIC_BASE = 0xfee00000 | EN | BSP, xAPIC mode,
 * the initial ID, every register at its power-up value. */
void apic_reset(Apic *a);
/* INIT (10.4.7.3): as RESET, except that the APIC ID, IA32_APIC_BASE and
 * the x2APIC mode are kept. */
void apic_init_reset(Apic *a);
/* What a BIOS leaves for an OS expecting "virtual wire" mode (MP spec
 * 3.6.2.2): software-enabled (SVR = 0x1ff), LINT0 ExtINT, LINT1 NMI. */
void apic_setup_virtual_wire(Apic *a);

/* --- IA32_APIC_BASE and the x2APIC MSRs. --- */

uint64_t apic_get_base_msr(const Apic *a);
/* false: reserved bits or an illegal transition; the CPU raises #GP(0). */
bool apic_set_base_msr(Apic *a, uint64_t value);
bool apic_hw_enabled(const Apic *a);        /* IA32_APIC_BASE.EN */
bool apic_sw_enabled(const Apic *a);        /* SVR bit 8 */
bool apic_x2apic_mode(const Apic *a);       /* EN and EXTD */
/* Where the register page is, and whether it is there (EN && !EXTD). */
uint64_t apic_mmio_base(const Apic *a);
bool apic_mmio_enabled(const Apic *a);

/* Is `msr` one this APIC implements (0x1b, 0x800-0x8ff)? */
bool apic_is_apic_msr(uint32_t msr);
/* RDMSR/WRMSR of IA32_APIC_BASE or an x2APIC register. false: #GP(0) (an
 * x2APIC register outside x2APIC mode, a reserved register, a write to a
 * read-only one or with reserved bits, a read of a write-only one). */
bool apic_msr_read(Apic *a, uint32_t msr, uint64_t *value);
bool apic_msr_write(Apic *a, uint32_t msr, uint64_t value);

/* A register as the current mode shows it, without side effects (no ESR
 * update): for debuggers and tests. Reserved offsets read 0. */
uint32_t apic_peek(Apic *a, uint32_t offset);

/* --- The CPU side. --- */

/* CR8 is TPR[7:4] (MOV to/from CR8, 10.8.6). */
uint8_t apic_get_tpr(const Apic *a);
void apic_set_tpr(Apic *a, uint8_t tpr);
/* The highest fixed vector in IRR whose priority class is above PPR's, or -1. */
int apic_pending_vector(const Apic *a);
/* An ExtINT is waiting (LINT0 in ExtINT mode, an ExtINT message, or LINT0
 * passed through while the APIC is globally disabled). */
bool apic_extint_pending(const Apic *a);
/* The CPU takes `vector`: IRR -> ISR. A vector not in IRR is ignored. */
void apic_ack(Apic *a, int vector);
/* Take the interrupt the CPU would now take: an ExtINT (vector from
 * host->extint_ack), else apic_pending_vector() acknowledged; -1 if none. */
int apic_take_interrupt(Apic *a);

/* --- Inputs. --- */

/* A message from the bus (routing already done): fixed/lowest into IRR
 * (TMR per m->level), NMI/SMI/INIT/SIPI to the host, ExtINT pending.
 * Returns whether the APIC accepted it. */
bool apic_deliver(Apic *a, const ApicMessage *m);
/* The LINT0/LINT1 pins (pin 0 or 1), `level` = asserted. */
void apic_set_lint(Apic *a, unsigned pin, bool level);
/* A thermal-sensor or performance-counter event: deliver that LVT. */
void apic_lvt_event(Apic *a, ApicLvt lvt);
/* The host's timer callback (see host->timer_set). Harmless at any time. */
void apic_timer_fire(Apic *a);
/* The deadline last requested through host->timer_set, if one is armed. */
bool apic_timer_deadline(const Apic *a, uint64_t *deadline_ns);

#endif
