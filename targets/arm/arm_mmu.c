/*
 * VMSAv8-64 stage-1 translation for the EL1&0 regime and the TLB hooks
 * (ARM ARM DDI 0487, chapter D5 "The AArch64 Virtual Memory System
 * Architecture"; the pseudocode is AArch64.TranslationTableWalk,
 * AArch64.CheckPermission and AArch64.TranslateAddressS1Off).
 *
 * What is modelled, and the choices where the architecture leaves one:
 *  - 4 KiB granule only (ID_AA64MMFR0.TGran4 = 0, TGran16/TGran64 = not
 *    supported). TCR_EL1.TG0/TG1 values selecting 16 or 64 KiB are
 *    "reserved" for this PE, and D5.2.3 lets a reserved granule value
 *    behave as an implemented one: it behaves as 4 KiB.
 *  - TnSZ outside 16..39 is clamped to that range (D5.2.5: out-of-range
 *    TnSZ behaves as the nearest supported value, or faults; we choose the
 *    former).
 *  - PARange is 48 bits; the output size is min(TCR_EL1.IPS, 48), with the
 *    reserved IPS values (6, 7) treated as 48.
 *  - Table descriptors at levels 0-2, blocks at levels 1 (1 GiB) and 2
 *    (2 MiB), pages at level 3. APTable, UXNTable and PXNTable limit the
 *    levels below (D5.4.5 hierarchical attributes); NSTable, nG, SH,
 *    AttrIndx and the Contiguous hint affect nothing but AT's PAR_EL1 (no
 *    ASID tagging: every TTBR/ASID change flushes, see arm_sysreg.c).
 *  - No hardware Access flag or dirty state management (ARMv8.1 HAFDBS
 *    not advertised): AF = 0 gives an Access flag fault.
 *  - Descriptors are read little-endian (SCTLR_EL1.EE is RES0 here)
 *    through this CPU's address space; a read that fails (nothing mapped,
 *    a device refusing) is a synchronous external abort on the walk, FSC
 *    0b0101xx with the level.
 *  - Privileged Access Never (ARMv8.1-PAN) is implemented through the
 *    separate ARM_MMU_EL1_PAN index.
 */
#include <inttypes.h>

#include "targets/arm/arm_mmu.h"

#include <string.h>

#define PA_BITS 48u     /* ID_AA64MMFR0_EL1.PARange = 0b0101 */

/* Descriptor fields (D5.3.1-D5.3.3). */
#define DESC_VALID     (1ull << 0)
#define DESC_TABLE     (1ull << 1)   /* table (levels 0-2) or page (level 3) */
#define DESC_AP1       (1ull << 6)   /* AP[1]: EL0 access */
#define DESC_AP2       (1ull << 7)   /* AP[2]: read-only */
#define DESC_AF        (1ull << 10)
#define DESC_NG        (1ull << 11)  /* not global: the entry belongs to the current ASID */
#define DESC_PXN       (1ull << 53)
#define DESC_UXN       (1ull << 54)
#define TABLE_PXN      (1ull << 59)
#define TABLE_UXN      (1ull << 60)
#define TABLE_AP0      (1ull << 61)  /* APTable[0]: no EL0 access below */
#define TABLE_AP1      (1ull << 62)  /* APTable[1]: no write access below */

#define SCTLR_M        (1ull << 0)
#define SCTLR_WXN      (1ull << 19)

/* Bits hi..lo inclusive. */
static inline uint64_t bits(unsigned hi, unsigned lo)
{
    uint64_t upto = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return lo > 63 ? 0 : upto & ~((1ull << lo) - 1);
}

/* AddrTop (D5.1 / D8 "Address tagging"): the top bit of the VA that takes
 * part in translation, 55 when top-byte-ignore applies to this half of the
 * address space (chosen by bit 55), else 63. */
static unsigned addr_top(const ArmCpu *cpu, uint64_t va)
{
    bool hi = (va >> 55) & 1;
    bool tbi = hi ? (cpu->tcr_el1 >> 38) & 1 : (cpu->tcr_el1 >> 37) & 1;
    return tbi ? 55 : 63;
}

/* TCR_EL1.IPS as a number of bits, limited to PARange (D13.2.131). */
static unsigned output_size(const ArmCpu *cpu)
{
    static const uint8_t ips_bits[8] = { 32, 36, 40, 42, 44, 48, 48, 48 };
    unsigned b = ips_bits[(cpu->tcr_el1 >> 32) & 7];
    return b < PA_BITS ? b : PA_BITS;
}

static bool fail(ArmWalkResult *out, uint32_t fsc)
{
    out->fsc = fsc;
    return false;
}

/*
 * The access permissions of a final descriptor (D5.4.3-D5.4.6), with the
 * table limits folded in, as the set of access kinds allowed for the
 * privilege of mmu_idx.
 *
 *  AP[2:1]: 00 EL1 RW, EL0 none; 01 EL1 RW, EL0 RW; 10 EL1 RO, EL0 none;
 *  11 EL1 RO, EL0 RO.
 *  Execute: EL0 needs UXN = 0, EL1 needs PXN = 0, and EL1 can never execute
 *  memory writable at EL0 (D5.4.5: AP[2:1] = 01 implies PXN). EL0 may
 *  execute a page it cannot read (ARMv8.0 execute-only memory).
 *  SCTLR_EL1.WXN: memory writable at the accessing EL is execute-never at
 *  that EL (D5.4.6).
 *  PAN (D5.4.2): at EL1 with PSTATE.PAN = 1, data accesses to memory EL0
 *  can read fault; instruction fetches are not affected.
 */
static unsigned permissions(const ArmCpu *cpu, uint64_t d, uint64_t table_attrs,
                            unsigned mmu_idx)
{
    bool ap1 = (d & DESC_AP1) && !(table_attrs & TABLE_AP0);
    bool ap2 = (d & DESC_AP2) || (table_attrs & TABLE_AP1);
    bool uxn = (d & DESC_UXN) || (table_attrs & TABLE_UXN);
    bool pxn = (d & DESC_PXN) || (table_attrs & TABLE_PXN);
    bool wxn = (cpu->sctlr_el1 & SCTLR_WXN) != 0;
    bool user_w = ap1 && !ap2;
    bool r, w, x;
    if (mmu_idx == ARM_MMU_EL0) {
        r = ap1;
        w = user_w;
        x = !uxn;
    } else {
        r = true;
        w = !ap2;
        x = !pxn && !user_w;
        if (mmu_idx == ARM_MMU_EL1_PAN && ap1) {
            r = w = false;
        }
    }
    if (wxn && w) {
        x = false;
    }
    return (r ? TLB_PROT_READ : 0) | (w ? TLB_PROT_WRITE : 0) | (x ? TLB_PROT_EXEC : 0);
}

static unsigned needed(TlbAccess access)
{
    return access == TLB_WRITE ? TLB_PROT_WRITE : access == TLB_EXEC ? TLB_PROT_EXEC
                                                                      : TLB_PROT_READ;
}

bool arm_mmu_walk(ArmCpu *cpu, uint64_t va, TlbAccess access, unsigned mmu_idx,
                  ArmWalkResult *out)
{
    *out = (ArmWalkResult){ .page_size = 1ull << 12 };
    unsigned top = addr_top(cpu, va);

    if (!(cpu->sctlr_el1 & SCTLR_M)) {
        /* MMU off (AArch64.TranslateAddressS1Off, D5.2.9): VA = PA with
         * every permission; VA bits [top:PAMax] must be zero, else an
         * Address size fault at level 0. Data accesses are Device-nGnRnE,
         * shown to AT as attribute 0x00, Outer Shareable. */
        if (va & bits(top, PA_BITS)) {
            return fail(out, ARM_FSC_ADDR_SIZE(0));
        }
        out->paddr = va & bits(PA_BITS - 1, 0);
        out->prot = TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC;
        out->attr = 0x00;
        out->sh = 2;
        return true;
    }

    /* Which translation table (D5.2.5 / AArch64.TranslationTableWalk):
     * VA[top] selects TTBR0 (0) or TTBR1 (1); all of VA[top:inputsize]
     * must equal it, else a level 0 Translation fault. */
    uint64_t tcr = cpu->tcr_el1;
    bool hi = (va >> top) & 1;
    unsigned tsz = hi ? (tcr >> 16) & 0x3f : tcr & 0x3f;
    bool epd = hi ? (tcr >> 23) & 1 : (tcr >> 7) & 1;
    uint64_t ttbr = hi ? cpu->ttbr1_el1 : cpu->ttbr0_el1;
    if (tsz < 16) {
        tsz = 16;
    } else if (tsz > 39) {
        tsz = 39;
    }
    unsigned inputsize = 64 - tsz;
    uint64_t range = bits(top, inputsize);
    if ((va & range) != (hi ? range : 0)) {
        return fail(out, ARM_FSC_TRANSLATION(0));
    }
    /* TCR_EL1.EPDn = 1: a walk using TTBRn faults (level 0). */
    if (epd) {
        return fail(out, ARM_FSC_TRANSLATION(0));
    }

    /* 4 KiB granule: 9 bits per level, level 3 resolves VA[20:12]; the
     * start level is where the remaining input bits fit. */
    unsigned outsize = output_size(cpu);
    int level = 4 - (int)((inputsize - 12 + 8) / 9);
    unsigned baselowerbound = 3 + inputsize - ((3 - (unsigned)level) * 9 + 12);
    /* TTBR BADDR (D13.2.136): bits above the output size give an Address
     * size fault at level 0; bits below the table's alignment are RES0 and
     * are ignored. Bits 63:48 are the ASID. */
    if (ttbr & bits(47, outsize)) {
        return fail(out, ARM_FSC_ADDR_SIZE(0));
    }
    uint64_t table = ttbr & bits(47, baselowerbound);
    uint64_t table_attrs = 0;
    MemAttrs attrs = mem_attrs_cpu(cpu->index);

    /* The walk cache: the last level-3 table reached, as implementations
     * keep intermediate walk results (D5.6.1, "caching of translation
     * table entries"). Every TLB invalidation moves the TLB epoch and so
     * drops it, as TLBI drops walk-cache entries on hardware. */
    struct ArmWalkCache *wc = &cpu->walk_cache;
    uint64_t epoch = cpu->tlb ? tlb_epoch(cpu->tlb) : 0;
    if (level < 3 && wc->valid && wc->epoch == epoch && wc->ttbr == ttbr && wc->tcr == tcr &&
        wc->va_prefix == va >> 21) {
        table = wc->table;
        table_attrs = wc->table_attrs;
        level = 3;
    }

    for (;; level++) {
        unsigned shift = 12 + 9 * (unsigned)(3 - level);
        unsigned idx_bits = inputsize - shift < 9 ? inputsize - shift : 9;
        uint64_t index = (va >> shift) & ((1ull << idx_bits) - 1);
        uint64_t d = 0;
        const void *p = as_ram_read_ptr(cpu->mem_as, &cpu->walk_ram, table + index * 8, 8);
        if (p) {
            /* Tables in RAM (the usual case): read the descriptor in place. */
            memcpy(&d, p, 8);
            d = GUINT64_FROM_LE(d);
        } else if (as_read_val(cpu->mem_as, table + index * 8, attrs, 8, MEM_LITTLE_ENDIAN,
                               &d) != MEM_OK) {
            return fail(out, ARM_FSC_WALK_EXTERNAL(level));
        }
        if (!(d & DESC_VALID)) {
            return fail(out, ARM_FSC_TRANSLATION(level));
        }
        if (level < 3 && (d & DESC_TABLE)) {
            /* Table descriptor (D5.3.1): next-level table address in bits
             * [47:12]; an address beyond the output size faults at this
             * level. The table attributes accumulate. */
            if (d & bits(47, outsize)) {
                return fail(out, ARM_FSC_ADDR_SIZE(level));
            }
            table_attrs |= d & (TABLE_PXN | TABLE_UXN | TABLE_AP0 | TABLE_AP1);
            table = d & bits(47, 12);
            if (level == 2) {
                *wc = (struct ArmWalkCache){ .valid = cpu->tlb != NULL, .epoch = epoch,
                                             .ttbr = ttbr, .tcr = tcr, .va_prefix = va >> 21,
                                             .table = table, .table_attrs = table_attrs };
            }
            continue;
        }
        /* Block (levels 1 and 2) or page (level 3, bits[1:0] = 0b11). A
         * block at level 0 and 0b01 at level 3 are reserved encodings:
         * Translation faults (D5.3.1). */
        if (level == 0 || (level == 3 && !(d & DESC_TABLE))) {
            return fail(out, ARM_FSC_TRANSLATION(level));
        }
        if (d & bits(47, outsize)) {
            return fail(out, ARM_FSC_ADDR_SIZE(level));
        }
        if (!(d & DESC_AF)) {
            return fail(out, ARM_FSC_ACCESS_FLAG(level));
        }
        unsigned prot = permissions(cpu, d, table_attrs, mmu_idx);
        if (!(prot & needed(access))) {
            return fail(out, ARM_FSC_PERMISSION(level));
        }
        uint64_t size = 1ull << shift;
        out->page_size = size;
        out->paddr = (d & bits(47, shift)) | (va & (size - 1));
        out->prot = prot;
        out->attr = (uint8_t)(cpu->mair_el1 >> (8 * ((d >> 2) & 7)));
        out->sh = (uint8_t)((d >> 8) & 3);
        out->global = !(d & DESC_NG);
        return true;
    }
}

/* --- TLB hooks --- */

static bool tlb_walk(void *opaque, uint64_t vaddr, TlbAccess access, unsigned mmu_idx,
                     TlbTranslation *out, TlbFault *fault)
{
    ArmCpu *cpu = opaque;
    ArmWalkResult r;
    bool ok = arm_mmu_walk(cpu, vaddr, access, mmu_idx, &r);
    if (cpu->trace & ARM_TRACE_MMU) {
        FILE *f = cpu->trace_out ? cpu->trace_out : stderr;
        if (ok) {
            fprintf(f, "cpu%u mmu: %c 0x%" PRIx64 " idx %u -> 0x%" PRIx64 " prot %c%c%c page 0x%"
                    PRIx64 "\n", cpu->index, "rwx"[access], vaddr, mmu_idx, r.paddr,
                    (r.prot & TLB_PROT_READ) ? 'r' : '-', (r.prot & TLB_PROT_WRITE) ? 'w' : '-',
                    (r.prot & TLB_PROT_EXEC) ? 'x' : '-', r.page_size);
        } else {
            fprintf(f, "cpu%u mmu: %c 0x%" PRIx64 " idx %u -> fault fsc 0x%02x\n", cpu->index,
                    "rwx"[access], vaddr, mmu_idx, r.fsc);
        }
    }
    if (!ok) {
        fault->target_code = r.fsc;
        return false;
    }
    out->paddr = r.paddr;
    out->prot = r.prot;
    out->page_size = r.page_size;
    out->global = r.global;
    out->attrs = mem_attrs_cpu(cpu->index);
    return true;
}

/*
 * A fault detected by the TLB helpers becomes an Instruction Abort or a
 * Data Abort taken to EL1 at once (D13.2.37 ESR_ELx; ISS encodings for
 * "Instruction Abort" and "Data Abort"): EC by access and by whether it
 * came from EL0 (lower EL) or EL1 (same EL, including LDTR/STTR through
 * the EL0 index), IFSC/DFSC, WnR for writes. ISV = 0: stage-1 aborts taken
 * to EL1 carry no instruction syndrome. S1PTW = 0: it reports stage-2
 * faults on a stage-1 walk, and there is no stage 2. FAR_EL1 = the VA.
 */
static void tlb_raise(void *opaque, const TlbFault *f)
{
    ArmCpu *cpu = opaque;
    bool fetch = f->access == TLB_EXEC;
    bool lower = cpu->el == 0;
    uint32_t fsc;
    switch (f->kind) {
    case TLB_FAULT_TRANSLATION:
        /* The walk's FSC; anything else (the TLB's "walk granted no
         * permission" report) as a permission fault at level 3. */
        fsc = f->target_code <= 0x3f ? (uint32_t)f->target_code : ARM_FSC_PERMISSION(3);
        break;
    case TLB_FAULT_BUS:
        fsc = ARM_FSC_SYNC_EXTERNAL;
        break;
    case TLB_FAULT_ALIGNMENT:
        if (fetch) {
            /* Not produced for fetches, which are 4-byte aligned by the
             * interpreter: a misaligned PC is a PC alignment fault. */
            arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(ARM_EC_PC_ALIGN, true, 0), f->vaddr,
                               true, cpu->pc);
            return;
        }
        fsc = ARM_FSC_ALIGNMENT;
        break;
    case TLB_FAULT_WATCHPOINT:
    default: {
        /* A watchpoint set through the TLB (a debugger's): reported as
         * the architectural Watchpoint exception (EC 0x34 lower EL, 0x35
         * same EL; DFSC 0b100010 debug event, WnR). */
        uint32_t iss = 0x22u | (f->access == TLB_WRITE ? 1u << 6 : 0);
        arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(lower ? 0x34 : 0x35, true, iss), f->vaddr,
                           true, cpu->pc);
        return;
    }
    }
    unsigned ec;
    uint32_t iss = fsc;
    if (fetch) {
        ec = lower ? ARM_EC_IABORT_LOWER : ARM_EC_IABORT_SAME;
    } else {
        ec = lower ? ARM_EC_DABORT_LOWER : ARM_EC_DABORT_SAME;
        if (f->access == TLB_WRITE) {
            iss |= 1u << 6;  /* WnR */
        }
    }
    arm_take_exception(cpu, ARM_EXC_SYNC, arm_esr(ec, true, iss), f->vaddr, true, cpu->pc);
}

/* Arm reports accesses nothing answers as synchronous external aborts
 * (unlike a PC, where they read all-ones): every bus error faults. */
static bool tlb_bus_error_faults(void *opaque, const TlbFault *f)
{
    (void)opaque;
    (void)f;
    return true;
}

const TlbTargetOps arm_tlb_ops = {
    .page_walk = tlb_walk,
    .raise_fault = tlb_raise,
    .bus_error_faults = tlb_bus_error_faults,
};

bool arm_mmu_translate(ArmCpu *cpu, uint64_t va, TlbAccess access, unsigned mmu_idx,
                       TlbTranslation *out, uint32_t *fsc)
{
    ArmWalkResult r;
    if (!arm_mmu_walk(cpu, va, access, mmu_idx, &r)) {
        if (fsc) {
            *fsc = r.fsc;
        }
        return false;
    }
    if (out) {
        out->paddr = r.paddr;
        out->prot = r.prot;
        out->page_size = r.page_size;
        out->attrs = mem_attrs_cpu(cpu->index);
    }
    if (fsc) {
        *fsc = 0;
    }
    return true;
}

uint64_t arm_mmu_at_par(ArmCpu *cpu, uint64_t va, bool write, bool el0)
{
    /* AT S1E1R/W check EL1 permissions without PAN (PAN affects only the
     * ARMv8.2 AT S1E1RP/WP, not advertised); S1E0R/W check EL0's. */
    ArmWalkResult r;
    if (!arm_mmu_walk(cpu, va, write ? TLB_WRITE : TLB_READ, el0 ? ARM_MMU_EL0 : ARM_MMU_EL1,
                      &r)) {
        /* F = 1, FST = the fault status code, PTW = S = 0 (stage 1, no
         * stage 2); bit 11 is RES1. */
        return 1u | ((uint64_t)(r.fsc & 0x3f) << 1) | (1u << 11);
    }
    /* F = 0: PA[47:12], SH[8:7], NS[9] (UNKNOWN for a Non-secure regime:
     * 0), ATTR[63:56]; bit 11 RES1. Device and Normal Non-cacheable memory
     * report SH = 0b10 (Outer Shareable). */
    unsigned sh = r.sh;
    if ((r.attr & 0xf0) == 0 || r.attr == 0x44) {
        sh = 2;
    }
    return (r.paddr & bits(47, 12)) | ((uint64_t)sh << 7) | (1u << 11) |
           ((uint64_t)r.attr << 56);
}
