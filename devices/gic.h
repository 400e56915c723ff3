/*
 * Arm Generic Interrupt Controller, version 2 or 3.
 *
 * References: "ARM Generic Interrupt Controller Architecture Specification,
 * GIC architecture version 1.0 and 2.0" (IHI 0048B, cited "v2") and
 * "... GIC architecture version 3 and version 4" (IHI 0069, cited "v3"). Citations name the
 * register or the section title, which are stable across issues of the
 * documents; section numbers are not.
 *
 * One Gic models the whole controller: the Distributor, every CPU's CPU
 * interface and (GICv3) every CPU's Redistributor. The machine maps the
 * regions and connects the outputs; the controller never touches a view.
 *
 * --- Security ---
 *
 * One security state only. GICv2: an implementation without the Security
 * Extensions (v2 "Security Extensions", GICD_CTLR, GICC_CTLR): interrupt grouping exists, GICD_CTLR has
 * EnableGrp0/EnableGrp1, GICC_CTLR has EnableGrp0/EnableGrp1, AckCtl, FIQEn,
 * CBPR and EOImode (bit 9). Group 0 goes to FIQ if GICC_CTLR.FIQEn, else to
 * IRQ; group 1 always goes to IRQ. GICv3: GICD_CTLR.DS = 1 (RAO/WI, v3 "Single Security state"):
 * group 0 goes to FIQ, group 1 to IRQ (v3 "Interrupt grouping").
 *
 * --- Interrupt state (v2/v3 "Interrupt handling state machine") ---
 *
 * Every interrupt has enable, group, priority, pending, active and an edge/
 * level configuration; SGIs (0-15) and PPIs (16-31) are banked per CPU.
 * Edge-triggered interrupts latch pending on a rising edge of their line
 * (or an ISPENDR write) and lose it when acknowledged. Level-sensitive ones
 * are pending while the line is high, or while a latch set through ISPENDR
 * is set (cleared by ICPENDR or acknowledgement): an EOI'd level interrupt
 * whose line is still high is pending again at once. An interrupt that is
 * active (or active and pending) is not signalled again until deactivated.
 * SGIs are always edge-triggered (ICFGR0 read-only). GICv2 keeps the pending
 * state of each SGI per source CPU (v2 GICD_SPENDSGIRn, GICC_IAR): GICC_IAR returns the
 * source CPU in bits 12:10 and acknowledges one source at a time (lowest
 * first); GICv3 with affinity routing has no source (v3 ICC_IAR1_EL1).
 *
 * --- Priorities and preemption (v2/v3 "Interrupt prioritization") ---
 *
 * GICv2 implements 8 priority bits (256 levels, GICC_BPR minimum 0,
 * GICC_APR0-3 with one bit per preemption level); GICv3 implements 5 (32
 * levels, the low 3 bits of every priority read as 0; ICC_CTLR_EL1.PRIbits =
 * 4, ICC_BPR0 minimum 2, ICC_AP0R0/ICC_AP1R0 only). An interrupt is
 * signalled to a CPU when it is the highest-priority pending, enabled, not
 * active interrupt for that CPU among the groups enabled both in the
 * Distributor and in the CPU interface (ties: lowest ID), its priority is
 * higher (numerically lower) than the priority mask, and its group priority
 * (the priority masked by the binary point of its group) is higher than
 * the running priority (the highest active group priority; 0xff if none).
 * Acknowledging sets the bit of its group priority in the active-priority
 * registers; EOI drops the highest set one (GICv2: of either group; GICv3
 * EOIR0/EOIR1: of that group). With EOImode = 0 EOI also deactivates; with
 * EOImode = 1 the guest deactivates through GICC_DIR / ICC_DIR_EL1. An EOI
 * of an interrupt that is not active, and IDs 1020-1023, are ignored
 * (reported once). The binary points: group 0 (and group 1 with CBPR) uses
 * BPR as [7:BPR+1]; group 1 without CBPR uses GICC_ABPR / ICC_BPR1_EL1 as
 * [7:BPR1] (v2 "Priority grouping", GICC_BPR, GICC_ABPR; v3 ICC_BPR0_EL1,
 * ICC_BPR1_EL1).
 *
 * GICv2 GICC_IAR: the signalled interrupt if it is group 0, or group 1 with
 * AckCtl = 1; 1022 if it is group 1 with AckCtl = 0; 1023 if nothing can be
 * signalled. GICC_AIAR/AEOIR/AHPPIR are the group-1 aliases (AIAR returns
 * 1023 unless the interrupt is group 1). GICv3 ICC_IAR0/1_EL1 acknowledge
 * only their own group, 1023 otherwise. HPPIR registers report the highest
 * pending interrupt by the same rules but ignore the priority mask and the
 * running priority (v2 GICC_HPPIR, v3 ICC_HPPIR1_EL1). Debug reads (attrs.debug) of an
 * IAR return the interrupt without acknowledging it.
 *
 * --- Routing of SPIs ---
 *
 * GICv2: GICD_ITARGETSRn, one bit per CPU; an SPI pending for several CPUs
 * is taken by the first to acknowledge it (it is then active, so no longer
 * signalled to the others) (v2 "Models for handling interrupts": 1-N). With one CPU the
 * target registers are RAZ/WI and every SPI goes to CPU 0 (v2 GICD_ITARGETSRn).
 * GICv3: affinity routing is always on (GICD_CTLR.ARE RAO/WI, no legacy
 * operation, v3 GICD_CTLR.ARE): GICD_IROUTERn gives Aff3.Aff2.Aff1.Aff0 of one CPU,
 * or IRM = 1 (1-of-N): every CPU whose Redistributor is awake is offered the
 * interrupt and the first to acknowledge takes it. An SPI routed to an
 * affinity no CPU has goes nowhere (stays pending).
 *
 * --- CPU affinity (GICv3) ---
 *
 * CPU index i has affinity Aff0 = i % 16, Aff1 = i / 16, Aff2 = Aff3 = 0
 * (clusters of 16, as the SGI target list of ICC_SGI1R_EL1 covers Aff0
 * 0..15 with ICC_CTLR_EL1.RSS = 0). gic_cpu_affinity() returns it in MPIDR
 * layout; the machine must give each CPU that MPIDR_EL1 (| bit 31, RES1).
 * GICR_TYPER.Affinity_Value reports the same value.
 *
 * --- Regions ---
 *
 *   gic_dist_region()     64 KiB GICD_*. Banked registers (v2: SGI/PPI
 *                         bits of IGROUPR0, I[SC]ENABLER0, I[SC]PENDR0,
 *                         I[SC]ACTIVER0, IPRIORITYR0-7, ITARGETSR0-7,
 *                         ICFGR1, and GICD_SGIR's source) belong to the CPU
 *                         in attrs.requester; an access by anything else
 *                         (a device, or a CPU index >= ncpus) reads 0 and is
 *                         ignored, reported once.
 *   gic_cpuif_region(cpu) GICv2 only: 8 KiB GICC_* of that CPU (GICC_DIR at
 *                         0x1000). One region per CPU: the machine puts each
 *                         CPU's own one in that CPU's view at the same
 *                         address, so the region needs no attrs to know its
 *                         CPU. 32-bit accesses only (others fail in the core
 *                         with MEM_ACCESS_ERROR).
 *   gic_redist_region()   GICv3 only: ncpus x 128 KiB, CPU i's RD_base frame
 *                         at i * 0x20000 and its SGI_base frame 64 KiB above;
 *                         GICR_TYPER.Last set in the last CPU's frame.
 *
 * The GICD and GICR regions accept 1, 2, 4 (and on GICv3 8) byte accesses,
 * aligned: IPRIORITYR, ITARGETSR, CPENDSGIR and SPENDSGIR are byte-accessible
 * (v2 "Distributor register map"); 64-bit registers (GICD_IROUTERn, GICR_TYPER) may be accessed
 * whole or as 32-bit halves; other narrow writes are ignored and reported
 * once (reads of any width return the bytes of the register). Reserved and
 * unimplemented offsets read 0 and ignore writes (reported once).
 *
 * --- GICv3 CPU interface ---
 *
 * Only through the system registers (gic_icc_read/write; ICC_SRE_EL1 reads
 * 0x7: SRE, DFB and DIB fixed at 1, no memory-mapped GICC). `enc` is
 * (op0 << 14) | (op1 << 11) | (CRn << 7) | (CRm << 3) | op2, as MRS/MSR
 * encode it. Unknown encodings return false (the CPU makes them UNDEFINED).
 * SGIs: ICC_SGI1R_EL1 and ICC_ASGI1R_EL1 set the SGI pending on each target
 * whose SGI is group 1, ICC_SGI0R_EL1 on each whose SGI is group 0 (v3
 * "Forwarding an SGI to a target PE", single security state); IRM
 * = 1 is "every CPU but self".
 *
 * GICR_WAKER (v3 GICR_WAKER, "Power management"): ProcessorSleep resets to 1 and ChildrenAsleep
 * follows it at once (the power handshake completes instantly). While
 * ProcessorSleep = 1 nothing is signalled to that CPU and 1-of-N SPIs skip
 * it; its registers still work.
 *
 * --- Not modelled ---
 *
 * The Security Extensions / two security states (GICv2 GICC_CTLR secure
 * layout, GICD_NSACR, GICv3 GICD_CTLR.DS = 0, IGRPMODR: RAZ/WI), legacy
 * (non-affinity-routed) GICv3 operation, LPIs and the ITS, message-based
 * SPIs (GICD_SETSPI_*), the virtualization extensions (GICH/GICV, ICH_*),
 * GICv2 interrupt bypass (no legacy IRQ/FIQ inputs), GICv3 ICC_*_EL3 and
 * ICC_*_EL2 registers, extended SPI/PPI ranges, power management beyond the
 * WAKER handshake, and any timing (state changes take effect at once).
 *
 * --- Outputs ---
 *
 * set_irq / set_fiq are called with a CPU's new level, only when it
 * changes, after every state change (register write, IAR read, input
 * change). Both are optional. They may call back into the GIC.
 *
 * Threading: none; everything runs on the machine's thread.
 */
#ifndef MMUSIM_DEVICES_GIC_H
#define MMUSIM_DEVICES_GIC_H

#include "softmmu/region.h"

#define GIC_DIST_SIZE 0x10000u
#define GIC_CPUIF_SIZE 0x2000u          /* GICv2 GICC_*, per CPU */
#define GIC_REDIST_FRAME_SIZE 0x10000u  /* GICv3: RD_base or SGI_base */
#define GIC_REDIST_STRIDE 0x20000u      /* GICv3: both frames of one CPU */
#define GIC_SGI_BASE_OFFSET 0x10000u    /* SGI_base within a CPU's frames */

#define GIC_MAX_CPUS_V2 8u
#define GIC_MAX_CPUS_V3 64u
#define GIC_NR_SGIS 16u
#define GIC_NR_PRIVATE 32u
#define GIC_MIN_IRQS 64u
#define GIC_MAX_IRQS 1020u             /* 1020-1023 are special INTIDs */
#define GIC_SPURIOUS 1023u
#define GIC_GROUP1_PENDING 1022u        /* GICv2 GICC_IAR with AckCtl = 0 */

/* --- Distributor register offsets (v2 and v3 "Distributor register map"). --- */
enum {
    GICD_CTLR = 0x000,
    GICD_TYPER = 0x004,
    GICD_IIDR = 0x008,
    GICD_IGROUPR = 0x080,
    GICD_ISENABLER = 0x100,
    GICD_ICENABLER = 0x180,
    GICD_ISPENDR = 0x200,
    GICD_ICPENDR = 0x280,
    GICD_ISACTIVER = 0x300,
    GICD_ICACTIVER = 0x380,
    GICD_IPRIORITYR = 0x400,
    GICD_ITARGETSR = 0x800,    /* GICv2 */
    GICD_ICFGR = 0xc00,
    GICD_IGRPMODR = 0xd00,     /* GICv3, RAZ/WI here */
    GICD_NSACR = 0xe00,        /* RAZ/WI here */
    GICD_SGIR = 0xf00,         /* GICv2 */
    GICD_CPENDSGIR = 0xf10,    /* GICv2 */
    GICD_SPENDSGIR = 0xf20,    /* GICv2 */
    GICD_IROUTER = 0x6000,     /* GICv3, 8 bytes per interrupt */
    GICD_V2_PIDR2 = 0xfe8,     /* GICv2 ICPIDR2 */
    GICD_V3_PIDR2 = 0xffe8,    /* GICv3 GICD_PIDR2 */
};

/* GICD_CTLR bits. */
#define GICD_CTLR_ENABLE_GRP0 (1u << 0)
#define GICD_CTLR_ENABLE_GRP1 (1u << 1)
#define GICD_CTLR_ARE (1u << 4)        /* GICv3, RAO/WI */
#define GICD_CTLR_DS (1u << 6)         /* GICv3, RAO/WI */

/* GICD_SGIR fields (v2 GICD_SGIR). */
#define GICD_SGIR_FILTER_SHIFT 24
#define GICD_SGIR_TARGETS_SHIFT 16
enum { GIC_SGI_FILTER_LIST = 0, GIC_SGI_FILTER_OTHERS = 1, GIC_SGI_FILTER_SELF = 2 };

/* --- GICv2 CPU interface register offsets (v2 "CPU interface register map"). --- */
enum {
    GICC_CTLR = 0x00,
    GICC_PMR = 0x04,
    GICC_BPR = 0x08,
    GICC_IAR = 0x0c,
    GICC_EOIR = 0x10,
    GICC_RPR = 0x14,
    GICC_HPPIR = 0x18,
    GICC_ABPR = 0x1c,
    GICC_AIAR = 0x20,
    GICC_AEOIR = 0x24,
    GICC_AHPPIR = 0x28,
    GICC_APR0 = 0xd0,     /* 0xd0-0xdc */
    GICC_NSAPR0 = 0xe0,   /* 0xe0-0xec */
    GICC_IIDR = 0xfc,
    GICC_DIR = 0x1000,
};

/* GICC_CTLR bits, no Security Extensions (v2 GICC_CTLR). */
#define GICC_CTLR_ENABLE_GRP0 (1u << 0)
#define GICC_CTLR_ENABLE_GRP1 (1u << 1)
#define GICC_CTLR_ACKCTL (1u << 2)
#define GICC_CTLR_FIQEN (1u << 3)
#define GICC_CTLR_CBPR (1u << 4)
#define GICC_CTLR_EOIMODE (1u << 9)

#define GICC_IIDR_VALUE 0x0002043Bu    /* Arm (0x43b), architecture version 2 */
#define GICD_V2_IIDR_VALUE 0x0000043Bu
#define GICD_V3_IIDR_VALUE 0x0300043Bu
#define GICR_IIDR_VALUE 0x0300043Bu

/* --- GICv3 Redistributor offsets (v3 "Redistributor register map"); SGI_base ones are
 * relative to the SGI_base frame and equal the GICD ones for register 0. --- */
enum {
    GICR_CTLR = 0x0000,
    GICR_IIDR = 0x0004,
    GICR_TYPER = 0x0008,       /* 64-bit */
    GICR_STATUSR = 0x0010,
    GICR_WAKER = 0x0014,
    GICR_PIDR2 = 0xffe8,
    GICR_IGROUPR0 = 0x0080,
    GICR_ISENABLER0 = 0x0100,
    GICR_ICENABLER0 = 0x0180,
    GICR_ISPENDR0 = 0x0200,
    GICR_ICPENDR0 = 0x0280,
    GICR_ISACTIVER0 = 0x0300,
    GICR_ICACTIVER0 = 0x0380,
    GICR_IPRIORITYR = 0x0400,  /* 0x400-0x41c */
    GICR_ICFGR0 = 0x0c00,
    GICR_ICFGR1 = 0x0c04,
    GICR_IGRPMODR0 = 0x0d00,   /* RAZ/WI here */
    GICR_NSACR = 0x0e00,       /* RAZ/WI here */
};

#define GICR_TYPER_LAST (1ull << 4)
#define GICR_WAKER_PROCESSOR_SLEEP (1u << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1u << 2)

/* --- GICv3 CPU interface system registers (v3 "AArch64 System register descriptions"). --- */
#define GIC_SYSREG(op0, op1, crn, crm, op2) \
    (((uint32_t)(op0) << 14) | ((uint32_t)(op1) << 11) | ((uint32_t)(crn) << 7) | \
     ((uint32_t)(crm) << 3) | (uint32_t)(op2))

#define ICC_PMR_EL1 GIC_SYSREG(3, 0, 4, 6, 0)
#define ICC_IAR0_EL1 GIC_SYSREG(3, 0, 12, 8, 0)
#define ICC_EOIR0_EL1 GIC_SYSREG(3, 0, 12, 8, 1)
#define ICC_HPPIR0_EL1 GIC_SYSREG(3, 0, 12, 8, 2)
#define ICC_BPR0_EL1 GIC_SYSREG(3, 0, 12, 8, 3)
#define ICC_AP0R0_EL1 GIC_SYSREG(3, 0, 12, 8, 4)   /* AP0R<n>: op2 = 4 + n */
#define ICC_AP1R0_EL1 GIC_SYSREG(3, 0, 12, 9, 0)   /* AP1R<n>: op2 = n */
#define ICC_DIR_EL1 GIC_SYSREG(3, 0, 12, 11, 1)
#define ICC_RPR_EL1 GIC_SYSREG(3, 0, 12, 11, 3)
#define ICC_SGI1R_EL1 GIC_SYSREG(3, 0, 12, 11, 5)
#define ICC_ASGI1R_EL1 GIC_SYSREG(3, 0, 12, 11, 6)
#define ICC_SGI0R_EL1 GIC_SYSREG(3, 0, 12, 11, 7)
#define ICC_IAR1_EL1 GIC_SYSREG(3, 0, 12, 12, 0)
#define ICC_EOIR1_EL1 GIC_SYSREG(3, 0, 12, 12, 1)
#define ICC_HPPIR1_EL1 GIC_SYSREG(3, 0, 12, 12, 2)
#define ICC_BPR1_EL1 GIC_SYSREG(3, 0, 12, 12, 3)
#define ICC_CTLR_EL1 GIC_SYSREG(3, 0, 12, 12, 4)
#define ICC_SRE_EL1 GIC_SYSREG(3, 0, 12, 12, 5)
#define ICC_IGRPEN0_EL1 GIC_SYSREG(3, 0, 12, 12, 6)
#define ICC_IGRPEN1_EL1 GIC_SYSREG(3, 0, 12, 12, 7)

/* ICC_CTLR_EL1 bits (v3 ICC_CTLR_EL1). */
#define ICC_CTLR_CBPR (1u << 0)
#define ICC_CTLR_EOIMODE (1u << 1)
#define ICC_CTLR_PRIBITS_SHIFT 8

/* ICC_SGI*R_EL1 fields. */
#define ICC_SGIR_TARGETS_MASK 0xffffull
#define ICC_SGIR_AFF1_SHIFT 16
#define ICC_SGIR_INTID_SHIFT 24
#define ICC_SGIR_AFF2_SHIFT 32
#define ICC_SGIR_IRM (1ull << 40)
#define ICC_SGIR_RS_SHIFT 44
#define ICC_SGIR_AFF3_SHIFT 48

#define GICD_IROUTER_IRM (1ull << 31)

typedef struct Gic Gic;

typedef struct GicConfig {
    unsigned version;   /* 2 or 3 */
    unsigned ncpus;     /* 1..8 (v2), 1..64 (v3) */
    unsigned nirqs;     /* total INTIDs incl. the 32 private: multiple of 32, 64..1020
                         * (1020 is accepted for "all": the last register is partial) */
    /* Outputs, per CPU; optional. Called only on change. */
    void (*set_irq)(void *opaque, unsigned cpu, bool level);
    void (*set_fiq)(void *opaque, unsigned cpu, bool level);
    void *opaque;
    const char *name;   /* region name prefix; default "gic" */
} GicConfig;

/* Errors (MEM_ERROR_INVALID_ARGUMENT): bad version, CPU count or nirqs.
 * The controller starts reset (outputs low; the callbacks are not called). */
Gic *gic_new(const GicConfig *cfg, GError **err);
/* Drops the creator's references to the regions; maps holding their own
 * references keep the regions alive but they must no longer be accessed. */
void gic_free(Gic *g);
/* Every register to its reset value; line levels are kept (they are
 * inputs). Outputs are updated (set_irq/set_fiq called where they drop). */
void gic_reset(Gic *g);

unsigned gic_version(const Gic *g);
unsigned gic_ncpus(const Gic *g);
unsigned gic_nirqs(const Gic *g);

/* Regions (borrowed; mr_ref() to keep). NULL when the version has none or
 * the CPU is out of range. */
MemRegion *gic_dist_region(Gic *g);
MemRegion *gic_cpuif_region(Gic *g, unsigned cpu);   /* v2 */
MemRegion *gic_redist_region(Gic *g);                /* v3 */

/* GICv3: MPIDR affinity fields of `cpu` (Aff0 bits 7:0, Aff1 15:8). */
uint64_t gic_cpu_affinity(const Gic *g, unsigned cpu);

/* --- Inputs. Out-of-range numbers are ignored (reported once). --- */
void gic_set_spi(Gic *g, unsigned irq /* 32..nirqs-1 */, bool level);
void gic_set_ppi(Gic *g, unsigned cpu, unsigned ppi /* 16..31 */, bool level);

/* --- Output levels, as last reported. --- */
bool gic_irq_level(const Gic *g, unsigned cpu);
bool gic_fiq_level(const Gic *g, unsigned cpu);

/* --- GICv3 CPU interface system registers, as CPU `cpu` executes MRS/MSR.
 * false: not a register this interface implements (or GICv2, or a bad CPU,
 * or a write to a read-only / read of a write-only register): UNDEFINED. */
bool gic_icc_read(Gic *g, unsigned cpu, uint32_t enc, uint64_t *val);
bool gic_icc_write(Gic *g, unsigned cpu, uint32_t enc, uint64_t val);

#endif
