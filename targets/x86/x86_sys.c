/*
 * Control registers, MSRs and CPUID: the CPU model the guest sees.
 *
 * References are to the Intel SDM:
 *   Vol. 3A 2.5    control registers (reserved bits, invalid combinations)
 *   Vol. 3A 4.1.1, 4.4.1 paging modes; the PAE PDPTE registers and when
 *                  MOV to CR0/CR3/CR4 loads them
 *   Vol. 3A 9.8.5  initializing IA-32e mode (LME, PG, LMA)
 *   Vol. 4         the MSR index (architectural MSRs: IA32_EFER, STAR...)
 *   Vol. 2  MOV (control registers), RDMSR, WRMSR, CPUID: the #GP(0) lists
 *                  and the CPUID leaf layouts.
 *
 * The CPU model (CPUID):
 *   vendor "GenuineIntel", family 6 model 15 stepping 1 (signature 0x6f1),
 *   maximum basic leaf 0xd, maximum extended leaf 0x80000008,
 *   MAXPHYADDR 40, linear addresses 48 bits (4-level paging).
 *   Offered, because this interpreter implements them:
 *     leaf 1 EDX: DE, PSE, TSC, MSR, PAE, CX8, APIC (when the machine's
 *       mops->apic_hw_enabled says IA32_APIC_BASE.EN is set, so also in
 *       x2APIC mode; without that hook, when this CPU's view shows its
 *       local APIC page), SEP, PGE, CMOV, PAT, PSE-36;
 *     leaf 1 ECX: CMPXCHG16B, POPCNT, x2APIC (when the machine's
 *       mops->has_x2apic says so);
 *     leaf 7 EBX: SMEP, SMAP; leaf 7 ECX: UMIP;
 *     0x80000001 ECX: LAHF/SAHF in 64-bit mode, LZCNT (ABM);
 *     0x80000001 EDX: SYSCALL, NX, 1-GByte pages, RDTSCP, LM.
 *   Not offered (not implemented): x87 FPU (FPU = 0: x87 instructions raise
 *   #NM/#UD), MMX, SSE and later, FXSR, XSAVE, VME/PVI, MCE/MCA, MTRR,
 *   CLFLUSH, MONITOR, PCID, FSGSBASE, LA57, BMI, perfmon (leaf 0xA
 *   is 0), cache descriptors (leaves 2 and 4 describe no cache).
 *   Leaves above the maximum return the highest basic leaf (0xd: zeros), as
 *   Intel processors do.
 *   The power-on EDX signature should match leaf 1 EAX (SDM 9.1.4); the
 *   reset code sets it (x86_cpu.c).
 *
 * CR4 accepts exactly the features offered: TSD, DE, PSE, PAE, PGE, PCE,
 * UMIP, SMEP, SMAP. Every other bit (VME, PVI, MCE, OSFXSR, OSXMMEXCPT,
 * LA57, VMXE, SMXE, FSGSBASE, PCIDE, OSXSAVE, PKE, ...) is #GP(0).
 *
 * MSRs: see x86_rdmsr. MTRRs (0xfe, 0x200-0x21f, 0x250, 0x258, 0x259,
 * 0x268-0x26f, 0x2ff) read as 0 and writes are accepted and dropped:
 * CPUID offers no MTRRs, memory types are not modelled, and firmware that
 * programs them anyway keeps working. Unknown MSRs go to the machine
 * (cpu->mops->rdmsr/wrmsr: APIC base, ...), else #GP(0) and one report per
 * MSR number.
 */
#include <string.h>

#include "targets/x86/x86_internal.h"

#define X86_CR4_UMIP_BIT (1ull << 11)

#define CR0_DEFINED (X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | \
                     X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | \
                     X86_CR0_PG)
#define CR4_SUPPORTED (X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | \
                       X86_CR4_PCE | X86_CR4_UMIP_BIT | X86_CR4_SMEP | X86_CR4_SMAP)
/* CR4 bits whose change invalidates cached translations (4.10.4.1). */
#define CR4_PAGING (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_SMEP | X86_CR4_SMAP | \
                    X86_CR4_PCIDE | X86_CR4_LA57)

#define MAXPHYADDR 40
#define CPUID_SIGNATURE 0x000006f1u   /* family 6, model 15, stepping 1 */
#define CPUID_MAX_BASIC 0xdu
#define CPUID_MAX_EXT 0x80000008u

static bool gp0(X86Cpu *cpu)
{
    x86_raise(cpu, X86_EXC_GP, 0, true);
    return false;
}

static inline bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static bool mode64(const X86Cpu *cpu)
{
    return x86_long_mode(cpu) && (cpu->segs[S_CS].attr & X86_SEGA_L);
}

/* Load the PAE PDPTEs of `cr3` (SDM 4.4.1); false: a present PDPTE has a
 * reserved bit set (the caller raises #GP(0) and changes nothing). */
static bool load_pdptes(X86Cpu *cpu, uint64_t cr3)
{
    uint64_t tmp[4];
    MemAttrs attrs = mem_attrs_cpu(cpu->index);
    attrs.smm = cpu->in_smm;
    if (!x86_pae_load_pdptes(cpu->mem_as, attrs, cr3, MAXPHYADDR, tmp)) {
        return false;
    }
    memcpy(cpu->pdptes, tmp, sizeof(tmp));
    return true;
}

/* PAE paging (not 4-level) with these register values (4.1.1). */
static bool pae_paging(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & X86_EFER_LMA);
}

/* ------------------------------------------------------------------ */
/* Control registers (SDM 2.5; Vol. 2 MOV CRn)                         */

static bool write_cr0(X86Cpu *cpu, uint64_t val)
{
    uint64_t old = cpu->cr0;
    if (val >> 32) {
        return gp0(cpu);
    }
    /* Reserved bits of 31:0 are ignored (they read as 0); ET is fixed to 1. */
    val = (val & CR0_DEFINED) | X86_CR0_ET;
    if ((val & X86_CR0_PG) && !(val & X86_CR0_PE)) {
        return gp0(cpu);
    }
    if ((val & X86_CR0_NW) && !(val & X86_CR0_CD)) {
        return gp0(cpu);
    }
    bool pg_on = !(old & X86_CR0_PG) && (val & X86_CR0_PG);
    bool pg_off = (old & X86_CR0_PG) && !(val & X86_CR0_PG);
    uint64_t efer = cpu->efer;
    if (pg_on && (efer & X86_EFER_LME)) {
        /* Activating IA-32e mode (9.8.5): needs PAE; not with CS.L = 1 or
         * a 16-bit TSS in TR (Vol. 2 MOV CRn #GP list). */
        unsigned tr_type = X86_SEGA_TYPE(cpu->tr.attr);
        if (!(cpu->cr4 & X86_CR4_PAE) || (cpu->segs[S_CS].attr & X86_SEGA_L) ||
            tr_type == 0x1 || tr_type == 0x3) {
            return gp0(cpu);
        }
        efer |= X86_EFER_LMA;
    }
    if (pg_off && (efer & X86_EFER_LMA)) {
        /* Leaving IA-32e mode is only possible from compatibility mode. */
        if (mode64(cpu)) {
            return gp0(cpu);
        }
        efer &= ~X86_EFER_LMA;
    }
    if (pae_paging(val, cpu->cr4, efer) &&
        ((old ^ val) & (X86_CR0_PG | X86_CR0_CD | X86_CR0_NW)) && !load_pdptes(cpu, cpu->cr3)) {
        return gp0(cpu);
    }
    cpu->cr0 = val;
    cpu->efer = efer;
    if ((old ^ val) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE)) {
        x86_paging_changed(cpu, false);
    }
    x86_update_mode(cpu);
    if (!(old & X86_CR0_PE) && (val & X86_CR0_PE)) {
        /* Setting PE does not change CPL (it is 0, and stays 0 until CS is
         * loaded), whatever the low bits of the real-mode CS selector are. */
        cpu->cpl = 0;
    }
    return true;
}

static bool write_cr3(X86Cpu *cpu, uint64_t val)
{
    if (x86_long_mode(cpu)) {
        /* Bits 63:MAXPHYADDR are reserved (no PCIDE, so bit 63 too). */
        if (val >> MAXPHYADDR) {
            return gp0(cpu);
        }
    } else {
        val = (uint32_t)val;
    }
    if (pae_paging(cpu->cr0, cpu->cr4, cpu->efer) && !load_pdptes(cpu, val)) {
        return gp0(cpu);
    }
    cpu->cr3 = val;
    x86_paging_changed(cpu, true);
    return true;
}

static bool write_cr4(X86Cpu *cpu, uint64_t val)
{
    uint64_t old = cpu->cr4;
    if (val & ~(uint64_t)CR4_SUPPORTED) {
        return gp0(cpu);
    }
    /* CR4.PAE cannot be cleared in IA-32e mode. */
    if (x86_long_mode(cpu) && !(val & X86_CR4_PAE)) {
        return gp0(cpu);
    }
    if (pae_paging(cpu->cr0, val, cpu->efer) &&
        ((old ^ val) & (X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PSE | X86_CR4_SMEP)) &&
        !load_pdptes(cpu, cpu->cr3)) {
        return gp0(cpu);
    }
    cpu->cr4 = val;
    if ((old ^ val) & CR4_PAGING) {
        x86_paging_changed(cpu, false);
    }
    return true;
}

/*
 * MOV to CR0/CR2/CR3/CR4/CR8 (also LMSW and CLTS through CR0). The caller
 * passes the source register value at the instruction's operand size.
 * Checks: CPL 0 (#GP(0)), n valid (#UD; CR8 only in 64-bit mode), then the
 * register's own rules. Paging-relevant changes flush the TLB; the caller
 * ends the block (mode or translations may have changed).
 */
/* A task switch loads CR3 from the new TSS when paging is on (SDM Vol. 3A
 * 7.3), with no privilege check and, under PAE paging, the PDPTEs. */
bool x86_load_cr3(X86Cpu *cpu, uint64_t val)
{
    return write_cr3(cpu, val);
}

bool x86_write_cr(X86Cpu *cpu, unsigned n, uint64_t val)
{
    if (n != 0 && n != 2 && n != 3 && n != 4 && !(n == 8 && mode64(cpu))) {
        x86_raise(cpu, X86_EXC_UD, 0, false);
        return false;
    }
    if (cpu->cpl != 0) {
        return gp0(cpu);
    }
    switch (n) {
    case 0:
        return write_cr0(cpu, val);
    case 2:
        cpu->cr2 = val;
        return true;
    case 3:
        return write_cr3(cpu, val);
    case 4:
        return write_cr4(cpu, val);
    default:
        /* CR8: the task-priority class; bits 63:4 reserved. */
        if (val & ~0xfull) {
            return gp0(cpu);
        }
        cpu->cr8 = val;
        if (cpu->mops && cpu->mops->set_tpr) {
            /* CR8[3:0] is TPR[7:4]; the write clears TPR[3:0] (10.8.6.1). */
            cpu->mops->set_tpr(cpu->machine, cpu, (uint8_t)(val << 4));
        }
        return true;
    }
}

/* ------------------------------------------------------------------ */
/* MSRs (SDM Vol. 4)                                                   */

enum {
    MSR_TSC = 0x10,
    MSR_PLATFORM_ID = 0x17,
    MSR_APIC_BASE = 0x1b,
    MSR_BIOS_SIGN_ID = 0x8b,
    MSR_MTRRCAP = 0xfe,
    MSR_SYSENTER_CS = 0x174,
    MSR_SYSENTER_ESP = 0x175,
    MSR_SYSENTER_EIP = 0x176,
    MSR_MISC_ENABLE = 0x1a0,
    MSR_MTRR_PHYS_FIRST = 0x200,
    MSR_MTRR_PHYS_LAST = 0x21f,
    MSR_MTRR_FIX64K = 0x250,
    MSR_MTRR_FIX16K_80000 = 0x258,
    MSR_MTRR_FIX16K_A0000 = 0x259,
    MSR_MTRR_FIX4K_FIRST = 0x268,
    MSR_MTRR_FIX4K_LAST = 0x26f,
    MSR_PAT = 0x277,
    MSR_MTRR_DEF_TYPE = 0x2ff,
};

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SFMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX 0xc0000103u

static bool is_mtrr(uint32_t msr)
{
    return msr == MSR_MTRRCAP || (msr >= MSR_MTRR_PHYS_FIRST && msr <= MSR_MTRR_PHYS_LAST) ||
           msr == MSR_MTRR_FIX64K || msr == MSR_MTRR_FIX16K_80000 ||
           msr == MSR_MTRR_FIX16K_A0000 ||
           (msr >= MSR_MTRR_FIX4K_FIRST && msr <= MSR_MTRR_FIX4K_LAST) ||
           msr == MSR_MTRR_DEF_TYPE;
}

static GMutex msr_report_lock;
static GHashTable *msr_reported;

static bool unknown_msr(X86Cpu *cpu, uint32_t msr, bool write, uint64_t val)
{
    g_mutex_lock(&msr_report_lock);
    if (!msr_reported) {
        msr_reported = g_hash_table_new(NULL, NULL);
    }
    bool first = g_hash_table_add(msr_reported, GUINT_TO_POINTER((guint)msr ^ 0x80000000u));
    g_mutex_unlock(&msr_report_lock);
    if (first) {
        if (write) {
            mem_report("x86: cpu%u: WRMSR to unknown MSR 0x%x (value 0x%" G_GINT64_MODIFIER
                       "x): raising #GP(0) (reported once per MSR)", cpu->index, msr, val);
        } else {
            mem_report("x86: cpu%u: RDMSR of unknown MSR 0x%x: raising #GP(0) (reported once "
                       "per MSR)", cpu->index, msr);
        }
    }
    return gp0(cpu);
}

/*
 * RDMSR. The CPU's own MSRs:
 *   TSC (icount + tsc_offset: the virtual clock), PLATFORM_ID (0),
 *   BIOS_SIGN_ID (microcode revision 0), SYSENTER_CS/ESP/EIP, MISC_ENABLE,
 *   PAT, the MTRRs (0), EFER, STAR, LSTAR, CSTAR, SFMASK, FS_BASE and
 *   GS_BASE (the segment caches' bases), KERNEL_GS_BASE, TSC_AUX.
 * Anything else (IA32_APIC_BASE, x2APIC, ...) is the machine's; if it
 * declines: #GP(0), reported once per MSR.
 */
bool x86_rdmsr(X86Cpu *cpu, uint32_t msr, uint64_t *val)
{
    if (cpu->cpl != 0) {
        return gp0(cpu);
    }
    switch (msr) {
    case MSR_TSC: *val = cpu->icount + cpu->tsc_offset; return true;
    case MSR_PLATFORM_ID: *val = 0; return true;
    case MSR_BIOS_SIGN_ID: *val = 0; return true;
    case MSR_SYSENTER_CS: *val = cpu->sysenter_cs; return true;
    case MSR_SYSENTER_ESP: *val = cpu->sysenter_esp; return true;
    case MSR_SYSENTER_EIP: *val = cpu->sysenter_eip; return true;
    case MSR_MISC_ENABLE: *val = cpu->misc_enable; return true;
    case MSR_PAT: *val = cpu->pat; return true;
    case MSR_EFER: *val = cpu->efer; return true;
    case MSR_STAR: *val = cpu->star; return true;
    case MSR_LSTAR: *val = cpu->lstar; return true;
    case MSR_CSTAR: *val = cpu->cstar; return true;
    case MSR_SFMASK: *val = cpu->sfmask; return true;
    case MSR_FS_BASE: *val = cpu->segs[S_FS].base; return true;
    case MSR_GS_BASE: *val = cpu->segs[S_GS].base; return true;
    case MSR_KERNEL_GS_BASE: *val = cpu->kernel_gs_base; return true;
    case MSR_TSC_AUX: *val = cpu->tsc_aux; return true;
    default:
        break;
    }
    if (is_mtrr(msr)) {
        *val = 0;
        return true;
    }
    if (cpu->mops && cpu->mops->rdmsr && cpu->mops->rdmsr(cpu->machine, cpu, msr, val)) {
        return true;
    }
    return unknown_msr(cpu, msr, false, 0);
}

/* PAT entries must be valid memory types: UC WC WT WP WB UC- (Vol. 3A
 * 13.12.2); anything else is #GP(0). */
static bool pat_valid(uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned t = (v >> (8 * i)) & 0xff;
        if (t == 2 || t == 3 || t > 7) {
            return false;
        }
    }
    return true;
}

/*
 * WRMSR: the MSRs of x86_rdmsr, with their #GP(0) rules: EFER (only SCE,
 * LME, NXE writable, LMA read-only; changing LME while CR0.PG = 1 is
 * #GP(0)), non-canonical addresses in LSTAR, CSTAR, SYSENTER_ESP/EIP,
 * FS_BASE, GS_BASE, KERNEL_GS_BASE, bits 63:32 of SFMASK and TSC_AUX,
 * invalid PAT types. Writes to TSC set tsc_offset so the TSC reads back
 * the value written and keeps counting instructions. PLATFORM_ID is
 * read-only; BIOS_SIGN_ID and the MTRRs accept and drop writes.
 */
bool x86_wrmsr(X86Cpu *cpu, uint32_t msr, uint64_t val)
{
    if (cpu->cpl != 0) {
        return gp0(cpu);
    }
    switch (msr) {
    case MSR_TSC:
        cpu->tsc_offset = val - cpu->icount;
        return true;
    case MSR_BIOS_SIGN_ID:
        return true;
    case MSR_SYSENTER_CS:
        cpu->sysenter_cs = val & 0xffffffffu;
        return true;
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP:
        if (!canonical(val)) {
            return gp0(cpu);
        }
        *(msr == MSR_SYSENTER_ESP ? &cpu->sysenter_esp : &cpu->sysenter_eip) = val;
        return true;
    case MSR_MISC_ENABLE:
        cpu->misc_enable = val;
        return true;
    case MSR_PAT:
        if (!pat_valid(val)) {
            return gp0(cpu);
        }
        cpu->pat = val;
        return true;
    case MSR_EFER: {
        uint64_t writable = X86_EFER_SCE | X86_EFER_LME | X86_EFER_NXE;
        if (val & ~(writable | X86_EFER_LMA)) {
            return gp0(cpu);
        }
        if (((val ^ cpu->efer) & X86_EFER_LME) && (cpu->cr0 & X86_CR0_PG)) {
            return gp0(cpu);
        }
        uint64_t nv = (val & writable) | (cpu->efer & X86_EFER_LMA);
        bool flush = ((nv ^ cpu->efer) & X86_EFER_NXE) != 0;
        cpu->efer = nv;
        if (flush) {
            x86_paging_changed(cpu, false);
        }
        return true;
    }
    case MSR_STAR:
        cpu->star = val;
        return true;
    case MSR_LSTAR:
    case MSR_CSTAR:
    case MSR_FS_BASE:
    case MSR_GS_BASE:
    case MSR_KERNEL_GS_BASE:
        if (!canonical(val)) {
            return gp0(cpu);
        }
        switch (msr) {
        case MSR_LSTAR: cpu->lstar = val; break;
        case MSR_CSTAR: cpu->cstar = val; break;
        case MSR_FS_BASE: cpu->segs[S_FS].base = val; break;
        case MSR_GS_BASE: cpu->segs[S_GS].base = val; break;
        default: cpu->kernel_gs_base = val; break;
        }
        return true;
    case MSR_SFMASK:
    case MSR_TSC_AUX:
        if (val >> 32) {
            return gp0(cpu);
        }
        *(msr == MSR_SFMASK ? &cpu->sfmask : &cpu->tsc_aux) = val;
        return true;
    default:
        break;
    }
    if (is_mtrr(msr)) {
        return msr != MSR_MTRRCAP || gp0(cpu);  /* MTRRCAP is read-only */
    }
    if (cpu->mops && cpu->mops->wrmsr && cpu->mops->wrmsr(cpu->machine, cpu, msr, val)) {
        return true;
    }
    return unknown_msr(cpu, msr, true, val);
}

/* ------------------------------------------------------------------ */
/* CPUID (SDM Vol. 2 CPUID)                                            */

/* Leaf 1 EDX. */
#define F1D_DE (1u << 2)
#define F1D_PSE (1u << 3)
#define F1D_TSC (1u << 4)
#define F1D_MSR (1u << 5)
#define F1D_PAE (1u << 6)
#define F1D_CX8 (1u << 8)
#define F1D_APIC (1u << 9)
#define F1D_SEP (1u << 11)
#define F1D_PGE (1u << 13)
#define F1D_CMOV (1u << 15)
#define F1D_PAT (1u << 16)
#define F1D_PSE36 (1u << 17)
/* Leaf 1 ECX. */
#define F1C_CX16 (1u << 13)
#define F1C_X2APIC (1u << 21)
#define F1C_POPCNT (1u << 23)
/* Leaf 7.0 EBX / ECX. */
#define F7B_SMEP (1u << 7)
#define F7B_SMAP (1u << 20)
#define F7C_UMIP (1u << 2)
/* Leaf 0x80000001 ECX / EDX. */
#define E1C_LAHF (1u << 0)
#define E1C_ABM (1u << 5)
#define E1D_SYSCALL (1u << 11)
#define E1D_NX (1u << 20)
#define E1D_PDPE1GB (1u << 26)
#define E1D_RDTSCP (1u << 27)
#define E1D_LM (1u << 29)

static void put_str4(uint32_t *out, const char *s)
{
    memcpy(out, s, 4);
}

/*
 * CPUID leaf `leaf`, sub-leaf `subleaf` (ECX; only leaves 4, 7, 0xb and
 * 0xd look at it). out[] = { EAX, EBX, ECX, EDX }. See the top of this
 * file for the model.
 */
void x86_cpuid(X86Cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    static const char brand[48] = "mmusim x86-64 interpreter CPU";
    out[0] = out[1] = out[2] = out[3] = 0;
    if ((leaf > CPUID_MAX_BASIC && leaf < 0x80000000u) || leaf > CPUID_MAX_EXT) {
        leaf = CPUID_MAX_BASIC;  /* Intel: the highest basic leaf's data */
    }
    switch (leaf) {
    case 0:
        out[0] = CPUID_MAX_BASIC;
        put_str4(&out[1], "Genu");
        put_str4(&out[3], "ineI");
        put_str4(&out[2], "ntel");
        break;
    case 1: {
        /* APIC: hardware-enabled (the machine says, which covers x2APIC
         * mode, where the MMIO page is gone), else the page is shown. */
        bool apic = cpu->mops && cpu->mops->apic_hw_enabled
                        ? cpu->mops->apic_hw_enabled(cpu->machine, cpu)
                        : cpu->view && cpu_view_apic_enabled(cpu->view);
        bool x2apic = cpu->mops && cpu->mops->has_x2apic &&
                      cpu->mops->has_x2apic(cpu->machine, cpu);
        out[0] = CPUID_SIGNATURE;
        /* Initial APIC ID; CLFLUSH line size 8 * 8 = 64 (valid only with
         * CLFSH, which is not offered); one logical processor. */
        out[1] = (cpu->index & 0xffu) << 24 | 1u << 16 | 8u << 8;
        out[2] = F1C_CX16 | F1C_POPCNT | (x2apic ? F1C_X2APIC : 0);
        out[3] = F1D_DE | F1D_PSE | F1D_TSC | F1D_MSR | F1D_PAE | F1D_CX8 |
                 (apic ? F1D_APIC : 0) | F1D_SEP | F1D_PGE | F1D_CMOV | F1D_PAT | F1D_PSE36;
        break;
    }
    case 2:
        /* One iteration, no descriptors (all null). */
        out[0] = 1;
        break;
    case 7:
        if (subleaf == 0) {
            out[1] = F7B_SMEP | F7B_SMAP;
            out[2] = F7C_UMIP;
        }
        break;
    case 0xb:
        /* No topology levels (EBX = 0 says the leaf is not valid) but the
         * x2APIC ID in EDX and ECX[7:0] = the sub-leaf, as defined. */
        out[2] = subleaf & 0xff;
        out[3] = cpu->index;
        break;
    case 0x80000000u:
        out[0] = CPUID_MAX_EXT;
        break;
    case 0x80000001u:
        out[2] = E1C_LAHF | E1C_ABM;
        out[3] = E1D_SYSCALL | E1D_NX | E1D_PDPE1GB | E1D_RDTSCP | E1D_LM;
        break;
    case 0x80000002u:
    case 0x80000003u:
    case 0x80000004u:
        memcpy(out, brand + 16 * (leaf - 0x80000002u), 16);
        break;
    case 0x80000008u:
        out[0] = 48u << 8 | MAXPHYADDR;  /* linear 48, physical 40 bits */
        break;
    default:
        /* 3 (no PSN), 4 (no cache described), 5, 6, 8, 9, 0xa, 0xc, 0xd,
         * 0x80000005-7: zeros. */
        break;
    }
}
