/*
 * System Management Mode: SMI entry, the save-state map, RSM.
 *
 * References:
 *   AMD64 APM Vol. 2 (24593) ch. 10 "System-Management Mode": 10.2 SMM
 *     resources (SMBASE, the state-save area and its layout, table 10-2
 *     "AMD64 SMM State-Save Area"; the SMM revision identifier), 10.3 using
 *     SMM (table "SMM Register Initialization", auto-halt restart, SMBASE
 *     relocation, RSM), and the RSM instruction page in Vol. 3.
 *   Intel SDM Vol. 3C ch. 34 "System Management Mode": "Entering SMM"
 *     (SMIs latched while in SMM), "SMRAM", "SMI Handler Execution
 *     Environment" (table "Processor Register Initialization in SMM"),
 *     "NMI Handling While in SMM", "Auto HALT Restart", "SMBASE
 *     Relocation"; Vol. 2 RSM (invalid states that shut the CPU down).
 * The save-state offsets below were checked against the AMD64 state save
 * map as tabulated at sandpile.org/x86/smm.htm ("AMD64 SMM state save
 * map"; the same page's "processor state after SMM entry" table gives the
 * entry state used here: CS = SMBASE >> 4 / SMBASE, 4 GiB limits, access
 * rights 8093h, RFLAGS 2, RIP 8000h, CR0.PE/EM/TS/PG cleared, CR4 0,
 * DR7 400h, EFER 0, SMI/NMI/INIT blocked), coreboot's
 * src/include/cpu/amd/amd64_save_state.h and illumos'
 * usr/src/uts/intel/sys/smm_amd64.h (both the same layout as packed structs from
 * SMBASE + 0xFE00, the latter annotated from AMD64 vol. 2 sec. 10.2.3);
 * no code was taken from any of them.
 *
 * Model.
 *  - SMI (x86_cpu_raise_smi: the machine's APIC or APM port) is latched in
 *    cpu->smi_pending and taken by the run loop at a block boundary when
 *    the CPU is not in SMM (and not in an STI/MOV SS shadow); a block ends
 *    right after the instruction during which an SMI arrived, so a write to
 *    the APM port or the APIC ICR is followed by SMM at once. An SMI raised
 *    in SMM stays latched (one only) and is taken right after RSM.
 *  - Entry: cpu->in_smm is set and the machine told (smm_changed(true)),
 *    *then* the save-state map is written, so that the writes land in
 *    SMRAM when the chipset shows it to this CPU in SMM. The map is written
 *    as one physical write through this CPU's own address space
 *    (as_write on cpu->mem_as, attrs.smm set): no paging, no segmentation,
 *    no faults (PC semantics: unassigned writes vanish), and the code cache
 *    is told like for any RAM write. Then the SMM entry state is loaded and
 *    this CPU's TLB flushed (paging is off now). The overlay change has
 *    already replaced the CPU's dispatch, which invalidates every TLB entry
 *    of the changed range; the full flush also drops translations made
 *    with the old paging state, so nothing cached outside SMM serves SMM.
 *    The run loop clears the jump cache right after entry (its TLB-epoch
 *    check ran earlier in the same round); after RSM, which ends the
 *    block, the epoch check does it.
 *  - RSM (#UD outside SMM or with LOCK): the map is read back through the
 *    same address space while still in SMM, checked, and restored
 *    completely (segment caches, descriptor-table registers, CR0/CR3/CR4,
 *    EFER with LMA, DR6/DR7, RFLAGS, RIP and the 16 GPRs, 64 bits each);
 *    SMBASE is reloaded from the map (relocation). Then in_smm is cleared,
 *    the machine told (smm_changed(false)), PAE PDPTEs reloaded from CR3
 *    outside SMM, the TLB flushed again. An invalid saved state shuts the
 *    CPU down (X86_EXIT_SHUTDOWN), explained once per process on stderr
 *    like a triple fault; the CPU stays in SMM.
 *  - HLT: an SMI wakes a halted CPU; the auto-halt restart byte (FEC9h) is
 *    1 in that case, and RSM with bit 0 still set halts again (the saved
 *    RIP is already past the HLT, so clearing the byte resumes after it).
 *  - NMIs are blocked from entry to RSM (they stay pending; IRET in SMM
 *    does not unblock them here). INIT during SMM is not blocked: the
 *    machine's INIT (x86_cpu_init) ends SMM and tells the machine.
 *  - Not saved (as on hardware): CR2, CR8, DR0-DR3, MSRs (FS/GS base are
 *    part of the segment caches and are saved). I/O instruction restart is
 *    not supported (revision bit 16 clear; the I/O restart fields are 0).
 *
 * Segment attributes are stored in the map in the AMD64 12-bit form:
 * bits 7:0 = descriptor bits 47:40 (type, S, DPL, P), bits 11:8 =
 * descriptor bits 55:52 (AVL, L, D/B, G). X86Seg.attr keeps descriptor
 * bits 55:40, whose bits 11:8 (limit 19:16) are not part of the map; RSM
 * recomputes them from the restored limit and G, which gives back exactly
 * what a descriptor load had put there.
 */
#include <string.h>

#include "targets/x86/x86_insn.h"
#include "targets/x86/x86_smm.h"

/* --- The AMD64 save-state map (offsets from SMBASE) --- */

enum {
    SMM_MAP = 0xfe00,          /* start of the state-save area */
    SMM_MAP_SIZE = 0x200,      /* to SMBASE + 0xFFFF */
    SMM_SEG = 0xfe00,          /* ES, CS, SS, DS, FS, GS: 16 bytes each, in S_ES..S_GS order */
    SMM_SEG_SEL = 0, SMM_SEG_ATTR = 2, SMM_SEG_LIMIT = 4, SMM_SEG_BASE = 8,
    SMM_GDTR_LIMIT = 0xfe64,   /* FE60h-FE63h reserved; limit is a word in a dword */
    SMM_GDTR_BASE = 0xfe68,
    SMM_LDTR = 0xfe70,         /* selector, attributes, limit, base as a segment */
    SMM_IDTR_LIMIT = 0xfe84,   /* FE80h-FE83h reserved */
    SMM_IDTR_BASE = 0xfe88,
    SMM_TR = 0xfe90,
    SMM_IO_RESTART_RIP = 0xfea0, /* + RCX FEA8h, RSI FEB0h, RDI FEB8h: not supported, 0 */
    SMM_IO_RESTART_DWORD = 0xfec0,
    SMM_IO_RESTART = 0xfec8,   /* byte */
    SMM_AUTO_HALT = 0xfec9,    /* byte: bit 0 = SMI interrupted HLT */
    SMM_EFER = 0xfed0,
    SMM_REVISION_ID = 0xfefc,
    SMM_SMBASE = 0xff00,
    SMM_CR4 = 0xff48,
    SMM_CR3 = 0xff50,
    SMM_CR0 = 0xff58,
    SMM_DR7 = 0xff60,
    SMM_DR6 = 0xff68,
    SMM_RFLAGS = 0xff70,
    SMM_RIP = 0xff78,
    SMM_GPR_RAX = 0xfff8,      /* register n at 0xFFF8 - 8n: RAX FFF8h ... R15 FF80h */
};

static inline unsigned gpr_off(unsigned n)
{
    return SMM_GPR_RAX - 8 * n;
}

static void put(uint8_t *map, unsigned off, unsigned size, uint64_t v)
{
    for (unsigned i = 0; i < size; i++) {
        map[off - SMM_MAP + i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get(const uint8_t *map, unsigned off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)map[off - SMM_MAP + i] << (8 * i);
    }
    return v;
}

/* X86Seg.attr (descriptor bits 55:40) <-> the map's 12-bit attributes. */
static uint16_t attr_to_map(uint32_t attr)
{
    return (uint16_t)((attr & 0xff) | ((attr >> 4) & 0xf00));
}

static uint32_t attr_from_map(uint16_t a, uint32_t limit)
{
    uint32_t attr = (a & 0xffu) | ((uint32_t)(a & 0xf00) << 4);
    uint32_t raw = (attr & X86_SEGA_G) ? limit >> 12 : limit;
    return attr | (((raw >> 16) & 0xf) << 8);
}

static void put_seg(uint8_t *map, unsigned off, const X86Seg *s)
{
    put(map, off + SMM_SEG_SEL, 2, s->selector);
    put(map, off + SMM_SEG_ATTR, 2, attr_to_map(s->attr));
    put(map, off + SMM_SEG_LIMIT, 4, s->limit);
    put(map, off + SMM_SEG_BASE, 8, s->base);
}

static void get_seg(const uint8_t *map, unsigned off, X86Seg *s)
{
    s->selector = (uint16_t)get(map, off + SMM_SEG_SEL, 2);
    s->limit = (uint32_t)get(map, off + SMM_SEG_LIMIT, 4);
    s->attr = attr_from_map((uint16_t)get(map, off + SMM_SEG_ATTR, 2), s->limit);
    s->base = get(map, off + SMM_SEG_BASE, 8);
}

static MemAttrs smm_attrs(const X86Cpu *cpu, bool smm)
{
    MemAttrs a = mem_attrs_cpu(cpu->index);
    a.smm = smm;
    return a;
}

static void notify(X86Cpu *cpu, bool in_smm)
{
    if (cpu->mops && cpu->mops->smm_changed) {
        cpu->mops->smm_changed(cpu->machine, cpu, in_smm);
    }
}

/* --- SMI --- */

void x86_cpu_raise_smi(X86Cpu *cpu)
{
    cpu->smi_pending = true;
}

void x86_smm_enter(X86Cpu *cpu)
{
    uint8_t map[SMM_MAP_SIZE];
    memset(map, 0, sizeof(map));
    for (unsigned s = S_ES; s <= S_GS; s++) {
        put_seg(map, SMM_SEG + 16 * s, &cpu->segs[s]);
    }
    put(map, SMM_GDTR_LIMIT, 4, cpu->gdtr.limit & 0xffff);
    put(map, SMM_GDTR_BASE, 8, cpu->gdtr.base);
    put_seg(map, SMM_LDTR, &cpu->ldtr);
    put(map, SMM_IDTR_LIMIT, 4, cpu->idtr.limit & 0xffff);
    put(map, SMM_IDTR_BASE, 8, cpu->idtr.base);
    put_seg(map, SMM_TR, &cpu->tr);
    put(map, SMM_AUTO_HALT, 1, cpu->halted ? 1 : 0);
    put(map, SMM_EFER, 8, cpu->efer);
    put(map, SMM_REVISION_ID, 4, X86_SMM_REVISION);
    put(map, SMM_SMBASE, 4, (uint32_t)cpu->smbase);
    put(map, SMM_CR4, 8, cpu->cr4);
    put(map, SMM_CR3, 8, cpu->cr3);
    put(map, SMM_CR0, 8, cpu->cr0);
    put(map, SMM_DR7, 8, cpu->dr[7]);
    put(map, SMM_DR6, 8, cpu->dr[6]);
    put(map, SMM_RFLAGS, 8, x86_get_eflags(cpu));
    put(map, SMM_RIP, 8, cpu->rip);
    for (unsigned r = 0; r < 16; r++) {
        put(map, gpr_off(r), 8, cpu->regs[r]);
    }

    if (cpu->trace & X86_TRACE_INT) {
        fprintf(cpu->trace_out, "cpu%u SMI: enter SMM at SMBASE 0x%08" G_GINT64_MODIFIER
                "x from %04x:%" G_GINT64_MODIFIER "x%s\n", cpu->index, cpu->smbase,
                cpu->segs[S_CS].selector, cpu->rip, cpu->halted ? " (halted)" : "");
    }
    /* In SMM first (the chipset may now show SMRAM to this CPU), then the
     * map, so that it lands in SMRAM. */
    cpu->in_smm = true;
    notify(cpu, true);
    as_write(cpu->mem_as, cpu->smbase + SMM_MAP, smm_attrs(cpu, true), map, sizeof(map));

    /* Entry state: AMD64 APM 10.3 "SMM Register Initialization", SDM
     * "Processor Register Initialization in SMM". GPRs, CR2, CR3, CR8, GDTR,
     * IDTR, LDTR, TR and DR0-DR6 are kept. */
    const uint32_t data = X86_SEGA_G | X86_SEGA_P | X86_SEGA_S | 0x3; /* 8093h */
    for (unsigned s = S_ES; s <= S_GS; s++) {
        cpu->segs[s] = (X86Seg){ 0, 0, 0xffffffffu, data };
    }
    cpu->segs[S_CS] = (X86Seg){ (uint16_t)(cpu->smbase >> 4), (uint32_t)cpu->smbase,
                                0xffffffffu, data };
    cpu->rip = 0x8000;
    x86_flags_set(&cpu->lf, 0);
    cpu->eflags = 2;
    cpu->cr0 &= ~(uint64_t)(X86_CR0_PE | X86_CR0_EM | X86_CR0_TS | X86_CR0_PG);
    cpu->cr4 = 0;
    cpu->efer = 0;
    cpu->dr[7] = 0x400;
    cpu->cpl = 0;
    cpu->halted = false;
    cpu->irq_shadow = false;
    cpu->exc.vector = -1;
    x86_update_mode(cpu);
    x86_paging_changed(cpu, false);
}

void x86_smm_leave_on_reset(X86Cpu *cpu)
{
    if (cpu->in_smm) {
        cpu->in_smm = false;
        notify(cpu, false);
    }
}

/* --- RSM --- */

#define CR0_VALID (X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | \
                   X86_CR0_NE | X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)
/* The CR4 bits this CPU model implements: keep in step with CR4_SUPPORTED
 * in x86_sys.c (a saved CR4 with any other bit is invalid). */
#define CR4_VALID (X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | \
                   X86_CR4_PCE | (1ull << 11) /* UMIP */ | X86_CR4_SMEP | X86_CR4_SMAP)
#define EFER_VALID (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)
#define SMM_MAXPHYADDR 40

/* What RSM would restore. */
typedef struct SmmState {
    X86Seg segs[6], ldtr, tr;
    X86Table gdtr, idtr;
    uint64_t cr0, cr3, cr4, efer, dr6, dr7, rflags, rip, regs[16];
    uint32_t smbase;
    bool auto_halt;
} SmmState;

static void read_state(const uint8_t *map, SmmState *st)
{
    for (unsigned s = S_ES; s <= S_GS; s++) {
        get_seg(map, SMM_SEG + 16 * s, &st->segs[s]);
    }
    st->gdtr = (X86Table){ get(map, SMM_GDTR_BASE, 8), (uint32_t)get(map, SMM_GDTR_LIMIT, 2) };
    st->idtr = (X86Table){ get(map, SMM_IDTR_BASE, 8), (uint32_t)get(map, SMM_IDTR_LIMIT, 2) };
    get_seg(map, SMM_LDTR, &st->ldtr);
    get_seg(map, SMM_TR, &st->tr);
    st->auto_halt = get(map, SMM_AUTO_HALT, 1) & 1;
    st->efer = get(map, SMM_EFER, 8);
    st->smbase = (uint32_t)get(map, SMM_SMBASE, 4);
    st->cr4 = get(map, SMM_CR4, 8);
    st->cr3 = get(map, SMM_CR3, 8);
    st->cr0 = get(map, SMM_CR0, 8);
    st->dr7 = get(map, SMM_DR7, 8);
    st->dr6 = get(map, SMM_DR6, 8);
    st->rflags = get(map, SMM_RFLAGS, 8);
    st->rip = get(map, SMM_RIP, 8);
    for (unsigned r = 0; r < 16; r++) {
        st->regs[r] = get(map, gpr_off(r), 8);
    }
}

/* NULL if the state can be resumed, else why not. SDM Vol. 2 RSM: reserved
 * CR4 bits, PG without PE, NW without CD; and what this CPU could not run
 * consistently: reserved CR0/EFER/DR6/DR7 bits, EFER.LMA not matching
 * LME && PG, long mode without PAE, or with VM = 1, a 64-bit CS with D = 1,
 * CR3 beyond MAXPHYADDR in long mode (or above 4 GiB outside it). */
static const char *check_state(const SmmState *st)
{
    if (st->cr0 & ~(uint64_t)CR0_VALID) {
        return "reserved CR0 bits set";
    }
    if ((st->cr0 & X86_CR0_PG) && !(st->cr0 & X86_CR0_PE)) {
        return "CR0.PG = 1 with CR0.PE = 0";
    }
    if ((st->cr0 & X86_CR0_NW) && !(st->cr0 & X86_CR0_CD)) {
        return "CR0.NW = 1 with CR0.CD = 0";
    }
    if (st->cr4 & ~(uint64_t)CR4_VALID) {
        return "reserved CR4 bits set";
    }
    if (st->efer & ~(uint64_t)EFER_VALID) {
        return "reserved EFER bits set";
    }
    bool lma = (st->efer & X86_EFER_LMA) != 0;
    if (lma != ((st->efer & X86_EFER_LME) && (st->cr0 & X86_CR0_PG))) {
        return "EFER.LMA does not match EFER.LME and CR0.PG";
    }
    if (lma && !(st->cr4 & X86_CR4_PAE)) {
        return "long mode with CR4.PAE = 0";
    }
    if (lma && (st->rflags & X86_VM)) {
        return "long mode with RFLAGS.VM = 1";
    }
    if (lma && (st->segs[S_CS].attr & X86_SEGA_L) && (st->segs[S_CS].attr & X86_SEGA_DB)) {
        return "64-bit code segment with D = 1";
    }
    if (lma ? (st->cr3 >> SMM_MAXPHYADDR) != 0 : (st->cr3 >> 32) != 0) {
        return "reserved CR3 bits set";
    }
    if ((st->dr6 >> 32) || (st->dr7 >> 32)) {
        return "reserved DR6/DR7 bits set";
    }
    return NULL;
}

static int rsm_shutdown_reports;

/* Shutdown (SDM Vol. 2 RSM). `cs`:`rip` and `smbase` are the RSM's. */
static int rsm_shutdown(X86Cpu *cpu, uint16_t cs, uint64_t rip, uint64_t smbase,
                        const char *why)
{
    if (g_atomic_int_add(&rsm_shutdown_reports, 1) == 0) {
        fprintf(stderr,
                "mmusim: cpu%u: RSM at CS:RIP %04x:%08" G_GINT64_MODIFIER "x found an invalid "
                "saved state in the SMM state-save map at SMBASE 0x%08" G_GINT64_MODIFIER
                "x + 0xFE00 (%s); the CPU shuts down (further invalid RSMs are not "
                "reported)\n", cpu->index, cs, rip, smbase, why);
    }
    if (cpu->trace & X86_TRACE_INT) {
        fprintf(cpu->trace_out, "cpu%u RSM: shutdown: %s\n", cpu->index, why);
    }
    cpu->exit_reason = X86_EXIT_SHUTDOWN;
    cpu->exit_request = true;
    return X86_R_JUMP;  /* nothing more runs: the machine decides (reset or stop) */
}

int x86_smm_rsm(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!cpu->in_smm) {
        return x86i_ud(cpu);
    }
    const uint16_t rsm_cs = cpu->segs[S_CS].selector;
    const uint64_t rsm_rip = cpu->rip, rsm_smbase = cpu->smbase;
    uint8_t map[SMM_MAP_SIZE];
    as_read(cpu->mem_as, cpu->smbase + SMM_MAP, smm_attrs(cpu, true), map, sizeof(map));
    SmmState st;
    read_state(map, &st);
    const char *why = check_state(&st);
    if (why) {
        return rsm_shutdown(cpu, rsm_cs, rsm_rip, rsm_smbase, why);
    }

    memcpy(cpu->segs, st.segs, sizeof(cpu->segs));
    cpu->ldtr = st.ldtr;
    cpu->tr = st.tr;
    cpu->gdtr = st.gdtr;
    cpu->idtr = st.idtr;
    cpu->cr0 = st.cr0;
    cpu->cr3 = st.cr3;
    cpu->cr4 = st.cr4;
    cpu->efer = st.efer;
    cpu->dr[6] = st.dr6;
    cpu->dr[7] = st.dr7;
    x86_set_eflags(cpu, (uint32_t)st.rflags, X86I_EFLAGS_VALID);
    cpu->rip = st.rip;
    memcpy(cpu->regs, st.regs, sizeof(cpu->regs));
    cpu->smbase = st.smbase;
    /* CPL: 0 in real mode, 3 in virtual-8086 mode, else CS.RPL. */
    cpu->cpl = !(cpu->cr0 & X86_CR0_PE) ? 0 : (cpu->eflags & X86_VM) ? 3
                                             : cpu->segs[S_CS].selector & 3u;
    cpu->halted = st.auto_halt;
    cpu->irq_shadow = false;

    cpu->in_smm = false;
    notify(cpu, false);
    if ((cpu->cr0 & X86_CR0_PG) && (cpu->cr4 & X86_CR4_PAE) && !x86_long_mode(cpu)) {
        /* PAE paging: the PDPTE registers are loaded from the restored CR3,
         * in the interrupted context's view of memory. */
        uint64_t pdptes[4];
        if (!x86_pae_load_pdptes(cpu->mem_as, smm_attrs(cpu, false), cpu->cr3, SMM_MAXPHYADDR,
                                 pdptes)) {
            return rsm_shutdown(cpu, rsm_cs, rsm_rip, rsm_smbase,
                                "a PAE PDPTE of the saved CR3 has reserved bits set");
        }
        memcpy(cpu->pdptes, pdptes, sizeof(pdptes));
    }
    x86_paging_changed(cpu, false);
    if (cpu->trace & X86_TRACE_INT) {
        fprintf(cpu->trace_out, "cpu%u RSM: leave SMM to %04x:%" G_GINT64_MODIFIER "x%s, "
                "SMBASE 0x%08" G_GINT64_MODIFIER "x\n", cpu->index, cpu->segs[S_CS].selector,
                cpu->rip, cpu->halted ? " (halted)" : "", cpu->smbase);
    }
    return X86_R_JUMP;
}
