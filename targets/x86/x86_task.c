/*
 * Hardware task switching (32-bit TSS).
 *
 * References are to the Intel SDM:
 *   Vol. 3A 7.2    task structures: the 32-bit TSS (7.2.1, figure 7-2), the
 *                  TSS descriptor and its busy bit (7.2.2), task gates (7.2.5)
 *   Vol. 3A 7.3    task switching: the sources (JMP/CALL to a TSS or a task
 *                  gate, an interrupt or exception through a task gate in
 *                  the IDT, IRET with EFLAGS.NT = 1), the steps in order,
 *                  table 7-1 (checks and error codes), and "after commit"
 *                  faults, which belong to the new task
 *   Vol. 3A 7.4    task linking: the previous-task link, NT and the busy
 *                  bits (table 7-2)
 *   Vol. 3A 6.12.2 interrupt tasks: the error code is pushed on the new
 *                  task's stack
 *   Vol. 2  JMP, CALL (TASK-GATE, TASK-STATE-SEGMENT), INT n (TASK-GATE),
 *                  IRET (TASK-RETURN): the pre-switch check order
 *
 * The switch (switch_tasks) follows 7.3 in two halves:
 *  - before the commit point: every check of table 7-1 on the TSSs
 *    (descriptor, busy bit, limit), the reads of the new TSS, then the
 *    memory writes (outgoing state into the current TSS, the previous-task
 *    link, busy bits). A fault here leaves every register as it was (the
 *    fault discipline of x86_internal.h; TSS or GDT memory already written
 *    stays written, as on hardware when a later access faults).
 *  - after it: TR, CR0.TS, CR3 (when paging), EFLAGS, EIP, the general
 *    registers and the segment selectors are loaded, then LDTR and the
 *    segment descriptors are loaded and checked. A fault there happens in
 *    the context of the new task: its EIP is the one reported, and a
 *    segment register whose descriptor was not loaded yet is unusable.
 *    cpu->task_switched tells x86_deliver so (its fault return address).
 *
 * What is not supported, and how it fails (never a crash):
 *  - 16-bit TSSs (types 1 and 3), as the new or the current task: #GP with
 *    the new TSS selector and a one-time mem_report("... 16-bit TSS task
 *    switch not implemented ...");
 *  - the debug trap flag (T, TSS offset 0x64) raises no #DB;
 *  - IA-32e mode has no task switches: the callers raise #GP there, as the
 *    SDM says (x86_seg.c, x86_excp.c).
 */
#include "targets/x86/x86_internal.h"

/* ------------------------------------------------------------------ */
/* From x86_seg.c (keep in sync with the definitions there).           */

typedef struct X86Stk {
    X86Seg seg;
    uint64_t sp;
    uint64_t full;
    uint8_t sp_size;
    bool flat;
    bool checks;
    bool supervisor;
    uint32_t err;
} X86Stk;

void x86_stk_current(X86Cpu *cpu, X86Stk *s);
bool x86_stk_push(X86Cpu *cpu, X86Stk *s, unsigned size, uint64_t val);
void x86_stk_commit(X86Cpu *cpu, const X86Stk *s);
bool x86_desc_set_accessed(X86Cpu *cpu, uint16_t sel, uint64_t lo);
void x86_seg_report_once(int *flag, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ------------------------------------------------------------------ */

#define D_TYPE(lo) ((unsigned)((lo) >> 40) & 0xf)
#define D_S(lo)    (((lo) >> 44) & 1)
#define D_DPL(lo)  ((unsigned)((lo) >> 45) & 3)
#define D_P(lo)    (((lo) >> 47) & 1)

static inline bool d_code(uint64_t lo) { return D_S(lo) && (D_TYPE(lo) & 8); }
static inline bool d_conforming(uint64_t lo) { return d_code(lo) && (D_TYPE(lo) & 4); }
static inline bool d_writable_data(uint64_t lo)
{
    return D_S(lo) && !(D_TYPE(lo) & 8) && (D_TYPE(lo) & 2);
}
static inline bool d_readable(uint64_t lo)
{
    return D_S(lo) && (!(D_TYPE(lo) & 8) || (D_TYPE(lo) & 2));
}

static inline bool sel_null(uint16_t sel) { return (sel & 0xfffc) == 0; }

/* System descriptor types (SDM 3.5, table 3-2). */
enum { TSS16_AVAIL = 0x1, LDT_TYPE = 0x2, TSS16_BUSY = 0x3, TASK_GATE = 0x5,
       TSS32_AVAIL = 0x9, TSS32_BUSY = 0xb, TSS_BUSY_BIT = 0x2 };

/* The 32-bit TSS (SDM 7.2.1, figure 7-2). The segment selector slots are
 * in the order of S_ES..S_GS. */
enum {
    TSS_LINK = 0x00, TSS_CR3 = 0x1c, TSS_EIP = 0x20, TSS_EFLAGS = 0x24,
    TSS_GPR = 0x28,     /* EAX ECX EDX EBX ESP EBP ESI EDI, 4 bytes each */
    TSS_SEG = 0x48,     /* ES CS SS DS FS GS, 4-byte slots, 16-bit selectors */
    TSS_LDT = 0x60,
    TSS32_MIN_LIMIT = 0x67,  /* table 7-1: a new 32-bit TSS must be >= 104 bytes */
    TSS32_SAVE_END = 0x5f,   /* the last byte the outgoing state is saved to */
};

/* EFLAGS bits a task switch loads (every defined bit; bit 1 is always set). */
#define TASK_EFLAGS_MASK 0x3f7fd7u

static bool fail(X86Cpu *cpu, int vector, uint32_t err)
{
    x86_raise(cpu, vector, err, true);
    return false;
}

static bool fail_sel(X86Cpu *cpu, int vector, uint16_t sel, uint32_t ext)
{
    return fail(cpu, vector, (sel & 0xfffc) | ext);
}

static int tss16_reported;

static bool tss16_unsupported(X86Cpu *cpu, uint16_t sel, uint32_t ext)
{
    x86_seg_report_once(&tss16_reported,
                        "x86: cpu%u: 16-bit TSS task switch not implemented (new TSS selector "
                        "0x%04x, TR 0x%04x): raising #GP (reported once)",
                        cpu->index, sel, cpu->tr.selector);
    return fail_sel(cpu, X86_EXC_GP, sel, ext);
}

/* Linear address of the GDT entry of a TSS selector: false when TI = 1 or
 * the entry is beyond the GDT limit (TSS descriptors live in the GDT only,
 * SDM 7.2.2). */
static bool gdt_entry(const X86Cpu *cpu, uint16_t sel, uint64_t *lin)
{
    uint32_t off = sel & 0xfff8u;
    if ((sel & 4) || off + 7 > cpu->gdtr.limit) {
        return false;
    }
    *lin = (uint32_t)(cpu->gdtr.base + off);
    return true;
}

/* Set or clear the busy bit (type bit 1) of the TSS descriptor `sel`
 * selects, by a one-byte implicit supervisor write of its type byte. A
 * selector that selects no GDT entry (TR never loaded) has none. */
static bool set_busy(X86Cpu *cpu, uint16_t sel, bool busy)
{
    uint64_t lin, b;
    if (sel_null(sel) || !gdt_entry(cpu, sel, &lin)) {
        return true;
    }
    if (!x86_read_lin(cpu, lin + 5, 1, &b, true)) {
        return false;
    }
    b = busy ? (b | TSS_BUSY_BIT) : (b & ~(uint64_t)TSS_BUSY_BIT);
    return x86_write_lin(cpu, lin + 5, 1, b, true);
}

static bool tss_rd(X86Cpu *cpu, const X86Seg *tss, uint32_t off, unsigned size, uint64_t *v)
{
    return x86_read_lin(cpu, (uint32_t)(tss->base + off), size, v, true);
}

static bool tss_wr(X86Cpu *cpu, const X86Seg *tss, uint32_t off, unsigned size, uint64_t v)
{
    return x86_write_lin(cpu, (uint32_t)(tss->base + off), size, v, true);
}

/* ------------------------------------------------------------------ */
/* After the commit point: LDTR and segment descriptors (table 7-1).   */

static bool load_ldtr(X86Cpu *cpu, uint16_t sel, uint32_t ext)
{
    uint64_t lo, hi;
    bool bad;
    if (sel_null(sel)) {
        cpu->ldtr = (X86Seg){ sel, 0, 0, 0 };
        return true;
    }
    /* The LDT selector must select an LDT descriptor in the GDT; table 7-1
     * reports an invalid or absent LDT with #TS(LDT selector). */
    if (sel & 4) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    if (!x86_read_descriptor(cpu, sel, &lo, &hi, &bad)) {
        return bad ? fail_sel(cpu, X86_EXC_TS, sel, ext) : false;
    }
    if (D_S(lo) || D_TYPE(lo) != LDT_TYPE || !D_P(lo)) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    x86_seg_from_descriptor(&cpu->ldtr, sel, lo, hi);
    return true;
}

/* Read a segment descriptor for the new task: a selector beyond its table
 * is #TS(selector) (table 7-1, "selector valid"). */
static bool read_desc_ts(X86Cpu *cpu, uint16_t sel, uint32_t ext, uint64_t *lo)
{
    uint64_t hi;
    bool bad;
    if (x86_read_descriptor(cpu, sel, lo, &hi, &bad)) {
        return true;
    }
    return bad ? fail_sel(cpu, X86_EXC_TS, sel, ext) : false;
}

/* CS: code, DPL = RPL (non-conforming) or DPL <= RPL (conforming), else
 * #TS(CS); not present: #NP(CS). CPL becomes CS.RPL. */
static bool load_task_cs(X86Cpu *cpu, uint32_t ext)
{
    uint16_t sel = cpu->segs[S_CS].selector;
    unsigned rpl = sel & 3;
    uint64_t lo;
    if (sel_null(sel)) {
        return fail(cpu, X86_EXC_TS, ext);
    }
    if (!read_desc_ts(cpu, sel, ext, &lo)) {
        return false;
    }
    if (!d_code(lo) || (d_conforming(lo) ? D_DPL(lo) > rpl : D_DPL(lo) != rpl)) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_NP, sel, ext);
    }
    if (!x86_desc_set_accessed(cpu, sel, lo)) {
        return false;
    }
    x86_seg_from_descriptor(&cpu->segs[S_CS], sel, lo, 0);
    return true;
}

/* SS: RPL = CPL, writable data, DPL = CPL, else #TS(SS); not present:
 * #SS(SS). */
static bool load_task_ss(X86Cpu *cpu, uint32_t ext)
{
    uint16_t sel = cpu->segs[S_SS].selector;
    uint64_t lo;
    if (sel_null(sel)) {
        return fail(cpu, X86_EXC_TS, ext);
    }
    if (!read_desc_ts(cpu, sel, ext, &lo)) {
        return false;
    }
    if ((sel & 3u) != cpu->cpl || !d_writable_data(lo) || D_DPL(lo) != cpu->cpl) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_SS, sel, ext);
    }
    if (!x86_desc_set_accessed(cpu, sel, lo)) {
        return false;
    }
    x86_seg_from_descriptor(&cpu->segs[S_SS], sel, lo, 0);
    return true;
}

/* DS, ES, FS, GS: null is allowed; otherwise data or readable code, and
 * for data or non-conforming code DPL >= CPL and DPL >= RPL, else
 * #TS(selector); not present: #NP(selector). */
static bool load_task_data(X86Cpu *cpu, unsigned seg, uint32_t ext)
{
    uint16_t sel = cpu->segs[seg].selector;
    uint64_t lo;
    if (sel_null(sel)) {
        cpu->segs[seg] = (X86Seg){ sel, 0, 0, 0 };
        return true;
    }
    if (!read_desc_ts(cpu, sel, ext, &lo)) {
        return false;
    }
    if (!d_readable(lo) ||
        (!d_conforming(lo) && (D_DPL(lo) < cpu->cpl || D_DPL(lo) < (sel & 3u)))) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_NP, sel, ext);
    }
    if (!x86_desc_set_accessed(cpu, sel, lo)) {
        return false;
    }
    x86_seg_from_descriptor(&cpu->segs[seg], sel, lo, 0);
    return true;
}

/* ------------------------------------------------------------------ */
/* The switch (SDM 7.3, steps 1-13; table 7-2 for busy bits and NT).   */

/*
 * Switch to the task whose (available, or for IRET busy) TSS descriptor
 * `sel` / `lo` the caller found and checked (type, busy bit, present).
 * `ret_eip` is the EIP saved for the outgoing task: the next instruction
 * for JMP, CALL, IRET and INT n, the faulting one for faults. `ext` is the
 * EXT bit of the error codes raised (1 for external events and
 * exceptions). With has_err, `err` is pushed on the new task's stack
 * (6.12.2).
 */
static bool switch_tasks(X86Cpu *cpu, uint16_t sel, uint64_t lo, X86TaskSource src, uint32_t ext,
                         uint64_t ret_eip, bool has_err, uint32_t err)
{
    unsigned old_type = X86_SEGA_TYPE(cpu->tr.attr);
    X86Seg nt, ot = cpu->tr;
    if (D_TYPE(lo) == TSS16_AVAIL || D_TYPE(lo) == TSS16_BUSY ||
        old_type == TSS16_AVAIL || old_type == TSS16_BUSY) {
        return tss16_unsupported(cpu, sel, ext);
    }
    /* Table 7-1: the new TSS limit must cover the 32-bit TSS (#TS). */
    x86_seg_from_descriptor(&nt, sel, lo, 0);
    if (nt.limit < TSS32_MIN_LIMIT) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    /* The current TSS must hold the state to save. */
    if ((ot.attr & X86_SEGA_S) || (old_type != TSS32_AVAIL && old_type != TSS32_BUSY) ||
        ot.limit < TSS32_SAVE_END) {
        return fail_sel(cpu, X86_EXC_TS, ot.selector, ext);
    }

    /* Read the new task's state (step 4: everything is accessed before
     * anything changes). */
    uint64_t n_cr3, n_eip, n_eflags, n_gpr[8], n_seg[6], n_ldt;
    if (!tss_rd(cpu, &nt, TSS_CR3, 4, &n_cr3) || !tss_rd(cpu, &nt, TSS_EIP, 4, &n_eip) ||
        !tss_rd(cpu, &nt, TSS_EFLAGS, 4, &n_eflags) || !tss_rd(cpu, &nt, TSS_LDT, 2, &n_ldt)) {
        return false;
    }
    for (unsigned i = 0; i < 8; i++) {
        if (!tss_rd(cpu, &nt, TSS_GPR + 4 * i, 4, &n_gpr[i])) {
            return false;
        }
    }
    for (unsigned i = 0; i < 6; i++) {
        if (!tss_rd(cpu, &nt, TSS_SEG + 4 * i, 2, &n_seg[i])) {
            return false;
        }
    }

    /* Step 6: IRET (and JMP, table 7-2) save EFLAGS with NT clear. */
    uint32_t o_eflags = x86_get_eflags(cpu);
    if (src == X86_TASK_JMP || src == X86_TASK_IRET) {
        o_eflags &= ~(uint32_t)X86_NT;
    }
    /* Step 7: save the outgoing state in the current TSS (the dynamic
     * fields: EIP, EFLAGS, general registers, segment selectors; not LDTR
     * or CR3). */
    if (!tss_wr(cpu, &ot, TSS_EIP, 4, (uint32_t)ret_eip) ||
        !tss_wr(cpu, &ot, TSS_EFLAGS, 4, o_eflags)) {
        return false;
    }
    for (unsigned i = 0; i < 8; i++) {
        if (!tss_wr(cpu, &ot, TSS_GPR + 4 * i, 4, (uint32_t)cpu->regs[i])) {
            return false;
        }
    }
    for (unsigned i = 0; i < 6; i++) {
        if (!tss_wr(cpu, &ot, TSS_SEG + 4 * i, 2, cpu->segs[i].selector)) {
            return false;
        }
    }
    bool nest = src == X86_TASK_CALL || src == X86_TASK_INT;
    /* 7.4: a nested task's previous-task link is the outgoing TR. */
    if (nest && !tss_wr(cpu, &nt, TSS_LINK, 2, ot.selector)) {
        return false;
    }
    /* Step 5: JMP and IRET free the outgoing task; step 9: JMP, CALL and
     * interrupts mark the new one busy (IRET finds it busy already). */
    if ((src == X86_TASK_JMP || src == X86_TASK_IRET) && !set_busy(cpu, ot.selector, false)) {
        return false;
    }
    if (src != X86_TASK_IRET && !set_busy(cpu, sel, true)) {
        return false;
    }

    /* ---- Commit point (step 10): from here faults belong to the new task. */
    nt.attr |= TSS_BUSY_BIT;
    cpu->tr = nt;
    cpu->task_switched = true;
    cpu->cr0 |= X86_CR0_TS;  /* 7.3: every task switch sets CR0.TS */
    uint32_t eflags = (uint32_t)n_eflags;
    if (nest) {
        eflags |= X86_NT;  /* step 8 */
    }
    x86_set_eflags(cpu, eflags, TASK_EFLAGS_MASK);
    cpu->rip = (uint32_t)n_eip;
    for (unsigned i = 0; i < 8; i++) {
        cpu->regs[i] = (uint32_t)n_gpr[i];
    }
    /* Selectors first, every descriptor cache unusable until its
     * descriptor is loaded below (step 11, 12). */
    bool vm = (eflags & X86_VM) != 0;
    for (unsigned i = 0; i < 6; i++) {
        if (vm) {
            x86_load_seg_real(cpu, i, (uint16_t)n_seg[i]);
        } else {
            cpu->segs[i] = (X86Seg){ (uint16_t)n_seg[i], 0, 0, 0 };
        }
    }
    cpu->ldtr = (X86Seg){ (uint16_t)n_ldt, 0, 0, 0 };
    if (vm) {
        cpu->cpl = 3;  /* a virtual-8086 task (SDM 20.2.1) */
    } else {
        x86_update_mode(cpu);  /* CPL = the new CS.RPL */
    }
    /* CR3 only with paging (7.2.1: "PDBR"); PAE loads the PDPTEs too. */
    if ((cpu->cr0 & X86_CR0_PG) && !x86_load_cr3(cpu, n_cr3)) {
        return false;
    }
    if (!load_ldtr(cpu, (uint16_t)n_ldt, ext)) {
        return false;
    }
    if (!vm) {
        static const unsigned data[4] = { S_DS, S_ES, S_FS, S_GS };
        if (!load_task_cs(cpu, ext) || !load_task_ss(cpu, ext)) {
            return false;
        }
        for (unsigned i = 0; i < 4; i++) {
            if (!load_task_data(cpu, data[i], ext)) {
                return false;
            }
        }
    }
    /* INT n "TASK-GATE": push the error code (doubleword for a 32-bit
     * TSS), #SS(EXT) if it does not fit; then EIP within the CS limit,
     * else #GP(EXT) (#GP(0) for JMP, CALL and IRET, where EXT = 0). */
    if (has_err) {
        X86Stk st;
        x86_stk_current(cpu, &st);
        st.err = ext;
        if (!x86_stk_push(cpu, &st, 4, err)) {
            return false;
        }
        x86_stk_commit(cpu, &st);
    }
    if (cpu->rip > cpu->segs[S_CS].limit) {
        return fail(cpu, X86_EXC_GP, ext);
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Sources.                                                            */

/*
 * The TSS a task gate names (Vol. 2 JMP/CALL/INT n "TASK-GATE"): TI = 1 or
 * beyond the GDT, not an available TSS (busy included): #GP(TSS selector);
 * not present: #NP(TSS selector).
 */
static bool gate_tss(X86Cpu *cpu, uint16_t tss_sel, uint32_t ext, uint64_t *tlo)
{
    uint64_t lin, hi;
    bool bad;
    if (!gdt_entry(cpu, tss_sel, &lin)) {
        return fail_sel(cpu, X86_EXC_GP, tss_sel, ext);
    }
    if (!x86_read_descriptor(cpu, tss_sel, tlo, &hi, &bad)) {
        return bad ? fail_sel(cpu, X86_EXC_GP, tss_sel, ext) : false;
    }
    if (D_S(*tlo) || (D_TYPE(*tlo) != TSS32_AVAIL && D_TYPE(*tlo) != TSS16_AVAIL)) {
        return fail_sel(cpu, X86_EXC_GP, tss_sel, ext);
    }
    if (!D_P(*tlo)) {
        return fail_sel(cpu, X86_EXC_NP, tss_sel, ext);
    }
    return true;
}

bool x86_task_far(X86Cpu *cpu, uint16_t sel, uint64_t lo, bool call)
{
    X86TaskSource src = call ? X86_TASK_CALL : X86_TASK_JMP;
    unsigned dpl = D_DPL(lo);
    /* Task gate or TSS: DPL < CPL or < RPL: #GP(selector). */
    if (dpl < cpu->cpl || dpl < (sel & 3u)) {
        return fail_sel(cpu, X86_EXC_GP, sel, 0);
    }
    if (D_TYPE(lo) == TASK_GATE) {
        uint64_t tlo;
        if (!D_P(lo)) {
            return fail_sel(cpu, X86_EXC_NP, sel, 0);
        }
        uint16_t tss_sel = (uint16_t)(lo >> 16);
        return gate_tss(cpu, tss_sel, 0, &tlo) &&
               switch_tasks(cpu, tss_sel, tlo, src, 0, cpu->next_rip, false, 0);
    }
    /* A TSS directly: it must be available (busy ones never get here) and
     * in the GDT. */
    if (sel & 4) {
        return fail_sel(cpu, X86_EXC_GP, sel, 0);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_NP, sel, 0);
    }
    return switch_tasks(cpu, sel, lo, src, 0, cpu->next_rip, false, 0);
}

bool x86_task_gate_int(X86Cpu *cpu, uint64_t gate_lo, uint32_t ext, uint64_t ret_eip,
                       bool has_err, uint32_t err)
{
    uint16_t tss_sel = (uint16_t)(gate_lo >> 16);
    uint64_t tlo;
    return gate_tss(cpu, tss_sel, ext, &tlo) &&
           switch_tasks(cpu, tss_sel, tlo, X86_TASK_INT, ext, ret_eip, has_err, err);
}

/*
 * IRET with NT = 1 (Vol. 2 IRET "TASK-RETURN"): the previous-task link of
 * the current TSS: TI = 1 or beyond the GDT, not a busy TSS: #TS(link);
 * not present: #NP(link).
 */
bool x86_task_return(X86Cpu *cpu)
{
    uint64_t link, lin, lo, hi;
    bool bad;
    unsigned type = X86_SEGA_TYPE(cpu->tr.attr);
    if (type == TSS16_AVAIL || type == TSS16_BUSY) {
        return tss16_unsupported(cpu, cpu->tr.selector, 0);
    }
    if (cpu->tr.limit < 1) {
        return fail_sel(cpu, X86_EXC_TS, cpu->tr.selector, 0);
    }
    if (!tss_rd(cpu, &cpu->tr, TSS_LINK, 2, &link)) {
        return false;
    }
    uint16_t sel = (uint16_t)link;
    if (!gdt_entry(cpu, sel, &lin)) {
        return fail_sel(cpu, X86_EXC_TS, sel, 0);
    }
    if (!x86_read_descriptor(cpu, sel, &lo, &hi, &bad)) {
        return bad ? fail_sel(cpu, X86_EXC_TS, sel, 0) : false;
    }
    if (D_S(lo) || (D_TYPE(lo) != TSS32_BUSY && D_TYPE(lo) != TSS16_BUSY)) {
        return fail_sel(cpu, X86_EXC_TS, sel, 0);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_NP, sel, 0);
    }
    return switch_tasks(cpu, sel, lo, X86_TASK_IRET, 0, cpu->next_rip, false, 0);
}
