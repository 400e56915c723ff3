/*
 * Hardware task switching (16- and 32-bit TSSs).
 *
 * References are to the Intel SDM:
 *   Vol. 3A 7.2    task structures: the 32-bit TSS (7.2.1, figure 7-2) and
 *                  its T (debug trap) flag, the TSS descriptor and its busy
 *                  bit (7.2.2), task gates (7.2.5)
 *   Vol. 3A 7.3    task switching: the sources (JMP/CALL to a TSS or a task
 *                  gate, an interrupt or exception through a task gate in
 *                  the IDT, IRET with EFLAGS.NT = 1), the steps in order,
 *                  table 7-1 (checks and error codes, "the order used in the
 *                  P6 family processors"), and "after commit" faults, which
 *                  belong to the new task
 *   Vol. 3A 7.4    task linking: the previous-task link, NT and the busy
 *                  bits (table 7-2)
 *   Vol. 3A 7.6    the 16-bit TSS (figure 7-10)
 *   Vol. 3A 6.12.2 interrupt tasks: the error code is pushed on the new
 *                  task's stack
 *   Vol. 3B 17.3.1.5 the task-switch debug exception (DR6.BT)
 *   Vol. 2  JMP, CALL (TASK-GATE, TASK-STATE-SEGMENT), INT n (TASK-GATE),
 *                  IRET (TASK-RETURN): the pre-switch check order
 *
 * The switch (switch_tasks) follows 7.3 in two halves:
 *  - before the commit point: the checks of table 7-1 on the new TSS
 *    (descriptor, busy bit, present: by the callers; the limit: >= 0x67
 *    for a 32-bit TSS, >= 0x2b for a 16-bit one, #TS), the current TSS
 *    must hold the outgoing state (#TS(TR) otherwise), the reads of the new
 *    TSS, then the memory writes (outgoing state into the current TSS, the
 *    previous-task link, busy bits). A fault here leaves every register as
 *    it was (the fault discipline of x86_internal.h; TSS or GDT memory
 *    already written stays written, as on hardware when a later access
 *    faults).
 *  - after it: TR, CR0.TS, EFLAGS, EIP, the general registers, the segment
 *    selectors and the LDT selector are loaded, then CR3 (32-bit TSS, with
 *    paging), then the descriptors are checked in the row order of table
 *    7-1 (the conditions after "Registers are loaded from the values in
 *    the TSS"):
 *       6  LDT selector valid (null, or an LDT descriptor in the GDT)   #TS(LDT)
 *       7  CS descriptor DPL matches the selector's RPL                  #TS(CS)
 *          (= RPL, or <= RPL if conforming; judged when it is code)
 *       8  SS selector valid (non-null, in its table, writable data)    #TS(SS)
 *       9  SS present                                                     #SS(SS)
 *      10  SS DPL = CPL                                                   #TS(SS)
 *      11  LDT present                                                    #TS(LDT)
 *      12  CS selector valid (non-null, in its table, code)             #TS(CS)
 *      13  CS present                                                     #NP(CS)
 *      14  SS DPL = SS selector's RPL                                    #TS(SS)
 *      15  DS, ES, FS, GS selectors valid (null, or a code/data
 *          descriptor in its table)                                       #TS(sel)
 *      16  DS, ES, FS, GS readable                                        #TS(sel)
 *      17  DS, ES, FS, GS present                                         #NP(sel)
 *      18  DS, ES, FS, GS DPL >= CPL (and >= RPL) unless conforming     #TS(sel)
 *    Every row is checked for all the registers it names before the next
 *    row (rows 15-18 in the order DS, ES, FS, GS), so when two conditions
 *    fail the earlier row is reported. Error codes carry EXT. A
 *    virtual-8086 task (EFLAGS.VM = 1 in a 32-bit TSS) gets rows 6 and 11
 *    only. LDTR is loaded once row 6 passes (CS and SS may be read through
 *    it) and made unusable again if it turns out absent; CS and SS are
 *    loaded once row 14 passes, DS..GS once row 18 passes; until then a
 *    register holds its selector with an unusable cache. Then the error
 *    code of an exception is pushed (doubleword or word, by the new TSS's
 *    size; #SS(EXT)) and EIP is checked against the CS limit (#GP(EXT)).
 *    A fault here happens in the context of the new task: its EIP is the
 *    one reported (cpu->task_switched tells x86_deliver so).
 *
 * 16-bit TSSs (types 1 and 3; 7.6, figure 7-10): 44 bytes, link 0, SP0/SS0
 * to SP2/SS2 at 2..12, IP 14, FLAGS 16, AX CX DX BX SP BP SI DI at 18..32,
 * ES CS SS DS at 34..40, LDT 42. Either task of a switch may use either
 * format: the outgoing state is saved in the format of the current TSS (a
 * 16-bit one keeps the low halves of EIP, EFLAGS and the registers, and no
 * FS, GS), the new state is loaded from the format of the new TSS. From a
 * 16-bit TSS: EIP and EFLAGS are zero-extended (the image has no upper
 * halves, so VM, RF, AC and ID are 0: no 16-bit virtual-8086 task, as 7.6
 * requires), the general registers keep their upper 16 bits (7.6 only says
 * they are "modified and not maintained"), FS and GS are loaded with null
 * selectors (the task has none), and CR3 is not changed (7.6: "the
 * page-table structure for the previous task is used"). A 16-bit TSS has
 * no I/O bitmap (x86_mem.c denies the ports) and no T flag; its ring
 * stacks are read by x86_tss_legacy_stack (x86_seg.c) as 16-bit SP:SS.
 *
 * The T flag of a 32-bit TSS (byte 0x64, bit 0; 7.2.1, 17.3.1.5): once a
 * switch to that task has completed (error code pushed, EIP checked), DR6.BT
 * is set and #DB is raised. It is a trap in the new task, and it is raised
 * the way an after-commit fault is: the caller returns the fault, and the
 * delivery reports the new task's EIP (x86_deliver: cpu->task_switched, or
 * for JMP/CALL/IRET the run loop's cpu->rip, which already is the new
 * task's). Like INT n, the instruction that ended in it is not counted in
 * cpu->icount.
 *
 * IA-32e mode has no task switches: the callers raise #GP there, as the SDM
 * says (x86_seg.c, x86_excp.c).
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

/* Fields both formats share, and those only the 32-bit TSS has (7.2.1). */
enum { TSS_LINK = 0x00, TSS32_CR3 = 0x1c, TSS32_T = 0x64 };

/* DR6.BT: "the debug exception was triggered by a task switch" (17.2.3). */
#define DR6_BT (1ull << 15)

/*
 * Where a TSS format keeps the dynamic state (figures 7-2 and 7-10). The
 * selectors are in the order S_ES, S_CS, S_SS, S_DS(, S_FS, S_GS), one per
 * `width` bytes (a 32-bit TSS gives each a 4-byte slot).
 */
typedef struct TssFormat {
    unsigned width;      /* bytes of IP, FLAGS, each register, each selector slot */
    uint32_t ip, flags, gpr, seg, ldt;  /* offsets */
    unsigned nseg;       /* selectors held */
    uint32_t min_limit;  /* table 7-1: the smallest limit of a new TSS */
    uint32_t save_end;   /* the last byte the outgoing state is saved to */
} TssFormat;

static const TssFormat tss32_format = {
    .width = 4, .ip = 0x20, .flags = 0x24, .gpr = 0x28, .seg = 0x48, .ldt = 0x60,
    .nseg = 6, .min_limit = 0x67, .save_end = 0x5f,
};
static const TssFormat tss16_format = {
    .width = 2, .ip = 0x0e, .flags = 0x10, .gpr = 0x12, .seg = 0x22, .ldt = 0x2a,
    .nseg = 4, .min_limit = 0x2b, .save_end = 0x29,
};

/* The format of a TSS cache (attr as x86_seg_from_descriptor leaves it),
 * NULL when it is no TSS (TR never loaded, or loaded by hand). */
static const TssFormat *tss_format(uint32_t attr)
{
    if (attr & X86_SEGA_S) {
        return NULL;
    }
    switch (X86_SEGA_TYPE(attr)) {
    case TSS16_AVAIL: case TSS16_BUSY:
        return &tss16_format;
    case TSS32_AVAIL: case TSS32_BUSY:
        return &tss32_format;
    default:
        return NULL;
    }
}

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
/* Task images: the state a TSS holds, in either format.               */

typedef struct TaskImage {
    uint32_t ip, flags, gpr[8], cr3;
    uint16_t seg[6], ldt;
    bool trap;           /* the T flag (32-bit TSS only) */
} TaskImage;

/* Step 4 of 7.3: read everything the new task needs before anything
 * changes. A 16-bit image has no FS, GS (null), CR3 or T flag. */
static bool read_image(X86Cpu *cpu, const X86Seg *tss, const TssFormat *f, TaskImage *img)
{
    uint64_t v;
    *img = (TaskImage){ 0 };
    if (!tss_rd(cpu, tss, f->ip, f->width, &v)) {
        return false;
    }
    img->ip = (uint32_t)v;
    if (!tss_rd(cpu, tss, f->flags, f->width, &v)) {
        return false;
    }
    img->flags = (uint32_t)v;
    for (unsigned i = 0; i < 8; i++) {
        if (!tss_rd(cpu, tss, f->gpr + f->width * i, f->width, &v)) {
            return false;
        }
        img->gpr[i] = (uint32_t)v;
    }
    for (unsigned i = 0; i < f->nseg; i++) {
        if (!tss_rd(cpu, tss, f->seg + f->width * i, 2, &v)) {
            return false;
        }
        img->seg[i] = (uint16_t)v;
    }
    if (!tss_rd(cpu, tss, f->ldt, 2, &v)) {
        return false;
    }
    img->ldt = (uint16_t)v;
    if (f == &tss32_format) {
        if (!tss_rd(cpu, tss, TSS32_CR3, 4, &v)) {
            return false;
        }
        img->cr3 = (uint32_t)v;
        if (!tss_rd(cpu, tss, TSS32_T, 2, &v)) {
            return false;
        }
        img->trap = (v & 1) != 0;
    }
    return true;
}

/* Step 7: save the outgoing state in the current TSS, in its format: the
 * dynamic fields (EIP, EFLAGS, general registers, selectors), not LDTR or
 * CR3. A 16-bit TSS takes the low halves (7.6: the upper ones "are lost")
 * and has no FS or GS. */
static bool save_image(X86Cpu *cpu, const X86Seg *tss, const TssFormat *f, uint32_t eip,
                       uint32_t eflags)
{
    uint64_t m = x86_mask(f->width);
    if (!tss_wr(cpu, tss, f->ip, f->width, eip & m) ||
        !tss_wr(cpu, tss, f->flags, f->width, eflags & m)) {
        return false;
    }
    for (unsigned i = 0; i < 8; i++) {
        if (!tss_wr(cpu, tss, f->gpr + f->width * i, f->width, cpu->regs[i] & m)) {
            return false;
        }
    }
    for (unsigned i = 0; i < f->nseg; i++) {
        if (!tss_wr(cpu, tss, f->seg + f->width * i, 2, cpu->segs[i].selector)) {
            return false;
        }
    }
    return true;
}

/* Step 11, the part that cannot fault: EFLAGS (+NT when nested, step 8),
 * EIP, the general registers, the selectors with unusable caches (their
 * descriptors are checked later), the LDT selector, CPL. */
static void load_image(X86Cpu *cpu, const TssFormat *f, const TaskImage *img, bool nest)
{
    /* Registers from a 16-bit image keep their upper halves (7.6). */
    uint64_t keep = f->width == 4 ? 0 : 0xffff0000u;
    uint32_t eflags = img->flags;
    if (nest) {
        eflags |= X86_NT;
    }
    x86_set_eflags(cpu, eflags, TASK_EFLAGS_MASK);
    cpu->rip = img->ip;
    for (unsigned i = 0; i < 8; i++) {
        cpu->regs[i] = (cpu->regs[i] & keep) | img->gpr[i];
    }
    bool vm = (eflags & X86_VM) != 0;
    for (unsigned i = 0; i < 6; i++) {
        if (vm) {
            x86_load_seg_real(cpu, i, img->seg[i]);
        } else {
            cpu->segs[i] = (X86Seg){ img->seg[i], 0, 0, 0 };
        }
    }
    cpu->ldtr = (X86Seg){ img->ldt, 0, 0, 0 };
    if (vm) {
        cpu->cpl = 3;  /* a virtual-8086 task (SDM 20.2.1) */
    } else {
        x86_update_mode(cpu);  /* CPL = the new CS.RPL */
    }
}

/* ------------------------------------------------------------------ */
/* After the commit point: the descriptors, in table 7-1's row order.  */

/* A selector of the new task and its descriptor. */
typedef struct NewDesc {
    uint16_t sel;
    uint64_t lo;
    bool found;          /* non-null and within its table: lo is valid */
} NewDesc;

/* Read the descriptor of `sel`. A null selector or one beyond its table is
 * not an error here (the rows judge it); false only for a fault of the
 * read itself (#PF), already raised. */
static bool read_new_desc(X86Cpu *cpu, uint16_t sel, NewDesc *d)
{
    uint64_t hi;
    bool bad;
    *d = (NewDesc){ sel, 0, false };
    if (sel_null(sel)) {
        return true;
    }
    if (x86_read_descriptor(cpu, sel, &d->lo, &hi, &bad)) {
        d->found = true;
        return true;
    }
    return bad;
}

/* Row 6: the LDT selector is null or selects an LDT descriptor in the GDT
 * (table 7-1 note 3). LDTR is loaded from it at once, present or not (that
 * is row 11), because CS and SS may have to be read through it. */
static bool check_ldt_valid(X86Cpu *cpu, uint16_t sel, uint32_t ext, NewDesc *ldt)
{
    *ldt = (NewDesc){ sel, 0, false };
    if (sel_null(sel)) {
        return true;
    }
    if (!(sel & 4) && !read_new_desc(cpu, sel, ldt)) {
        return false;
    }
    if (!ldt->found || D_S(ldt->lo) || D_TYPE(ldt->lo) != LDT_TYPE) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    x86_seg_from_descriptor(&cpu->ldtr, sel, ldt->lo, 0);
    return true;
}

static bool ldt_absent(const NewDesc *ldt)
{
    return ldt->found && !D_P(ldt->lo);
}

/* CS DPL against its RPL, which is the new CPL: equal for non-conforming
 * code, not above it for conforming code. */
static bool cs_dpl_matches(uint64_t lo, unsigned rpl)
{
    return d_conforming(lo) ? D_DPL(lo) <= rpl : D_DPL(lo) == rpl;
}

/* Rows 7 to 14 (see the header): CS, SS and the LDT's presence,
 * interleaved as the table lists them. */
static bool check_cs_ss_rows(X86Cpu *cpu, const NewDesc *ldt, const NewDesc *cs,
                             const NewDesc *ss, uint32_t ext)
{
    unsigned cpl = cpu->cpl;
    if (cs->found && d_code(cs->lo) && !cs_dpl_matches(cs->lo, cpl)) {
        return fail_sel(cpu, X86_EXC_TS, cs->sel, ext);             /* 7 */
    }
    if (!ss->found || !d_writable_data(ss->lo)) {
        return fail_sel(cpu, X86_EXC_TS, ss->sel, ext);             /* 8 */
    }
    if (!D_P(ss->lo)) {
        return fail_sel(cpu, X86_EXC_SS, ss->sel, ext);             /* 9 */
    }
    if (D_DPL(ss->lo) != cpl) {
        return fail_sel(cpu, X86_EXC_TS, ss->sel, ext);             /* 10 */
    }
    if (ldt_absent(ldt)) {
        return fail_sel(cpu, X86_EXC_TS, ldt->sel, ext);            /* 11 */
    }
    if (!cs->found || !d_code(cs->lo)) {
        return fail_sel(cpu, X86_EXC_TS, cs->sel, ext);             /* 12 */
    }
    if (!D_P(cs->lo)) {
        return fail_sel(cpu, X86_EXC_NP, cs->sel, ext);             /* 13 */
    }
    if ((ss->sel & 3u) != D_DPL(ss->lo)) {
        return fail_sel(cpu, X86_EXC_TS, ss->sel, ext);             /* 14 */
    }
    return true;
}

/* Rows 6 to 14, then LDTR, CS and SS are loaded. A virtual-8086 task's
 * CS and SS were loaded as real-mode selectors already: rows 6 and 11. */
static bool load_task_ldt_cs_ss(X86Cpu *cpu, uint16_t ldt_sel, bool vm, uint32_t ext)
{
    NewDesc ldt, cs = { 0 }, ss = { 0 };
    if (!check_ldt_valid(cpu, ldt_sel, ext, &ldt)) {
        return false;
    }
    bool ok;
    if (vm) {
        ok = !ldt_absent(&ldt) || fail_sel(cpu, X86_EXC_TS, ldt_sel, ext);
    } else {
        ok = read_new_desc(cpu, cpu->segs[S_CS].selector, &cs) &&
             read_new_desc(cpu, cpu->segs[S_SS].selector, &ss) &&
             check_cs_ss_rows(cpu, &ldt, &cs, &ss, ext);
    }
    if (!ok) {
        if (ldt_absent(&ldt)) {
            cpu->ldtr = (X86Seg){ ldt_sel, 0, 0, 0 };  /* an absent LDT is not left usable */
        }
        return false;
    }
    if (vm) {
        return true;
    }
    if (!x86_desc_set_accessed(cpu, cs.sel, cs.lo) || !x86_desc_set_accessed(cpu, ss.sel, ss.lo)) {
        return false;
    }
    x86_seg_from_descriptor(&cpu->segs[S_CS], cs.sel, cs.lo, 0);
    x86_seg_from_descriptor(&cpu->segs[S_SS], ss.sel, ss.lo, 0);
    return true;
}

/* Whether a non-null data-register descriptor fails row 15..18; *vector
 * is the row's exception. Row 18 also wants DPL >= RPL, as every data
 * segment load does (Vol. 2 MOV; the #TS causes of Vol. 3A 6.15). */
static bool data_row_fails(const NewDesc *d, unsigned row, unsigned cpl, int *vector)
{
    *vector = X86_EXC_TS;
    switch (row) {
    case 15:
        return !d->found || !D_S(d->lo);
    case 16:
        return !d_readable(d->lo);
    case 17:
        *vector = X86_EXC_NP;
        return !D_P(d->lo);
    default:
        return !d_conforming(d->lo) && (D_DPL(d->lo) < cpl || D_DPL(d->lo) < (d->sel & 3u));
    }
}

/* Rows 15 to 18, each over DS, ES, FS, GS, then those are loaded. */
static bool load_task_data_segs(X86Cpu *cpu, uint32_t ext)
{
    static const unsigned regs[4] = { S_DS, S_ES, S_FS, S_GS };
    NewDesc d[4];
    for (unsigned i = 0; i < 4; i++) {
        if (!read_new_desc(cpu, cpu->segs[regs[i]].selector, &d[i])) {
            return false;
        }
    }
    for (unsigned row = 15; row <= 18; row++) {
        for (unsigned i = 0; i < 4; i++) {
            int vector;
            if (!sel_null(d[i].sel) && data_row_fails(&d[i], row, cpu->cpl, &vector)) {
                return fail_sel(cpu, vector, d[i].sel, ext);
            }
        }
    }
    for (unsigned i = 0; i < 4; i++) {
        if (sel_null(d[i].sel)) {
            continue;  /* already a null selector with an unusable cache */
        }
        if (!x86_desc_set_accessed(cpu, d[i].sel, d[i].lo)) {
            return false;
        }
        x86_seg_from_descriptor(&cpu->segs[regs[i]], d[i].sel, d[i].lo, 0);
    }
    return true;
}

/* The T flag (7.2.1; Vol. 3B 17.3.1.5): #DB after the switch completed,
 * with DR6.BT set. Raised like an after-commit fault, so it is delivered
 * in the new task with its EIP as the return address: a trap. */
static bool task_debug_trap(X86Cpu *cpu)
{
    cpu->dr[6] |= DR6_BT;
    x86_raise(cpu, X86_EXC_DB, 0, false);
    return false;
}

/* ------------------------------------------------------------------ */
/* The switch (SDM 7.3, steps 1-12; table 7-2 for busy bits and NT).   */

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
    X86Seg nt, ot = cpu->tr;
    x86_seg_from_descriptor(&nt, sel, lo, 0);
    const TssFormat *nf = tss_format(nt.attr), *of = tss_format(ot.attr);
    /* Table 7-1: the new TSS limit must cover its format (#TS). (The
     * callers only pass TSS descriptors; anything else is #TS too.) */
    if (!nf || nt.limit < nf->min_limit) {
        return fail_sel(cpu, X86_EXC_TS, sel, ext);
    }
    /* The current TSS must hold the state to save. */
    if (!of || ot.limit < of->save_end) {
        return fail_sel(cpu, X86_EXC_TS, ot.selector, ext);
    }
    TaskImage img;
    if (!read_image(cpu, &nt, nf, &img)) {
        return false;
    }
    /* Step 6: IRET saves EFLAGS with NT clear; JMP, CALL and events leave
     * it as it is (table 7-2: the old task's NT is unchanged). */
    uint32_t o_eflags = x86_get_eflags(cpu);
    if (src == X86_TASK_IRET) {
        o_eflags &= ~(uint32_t)X86_NT;
    }
    if (!save_image(cpu, &ot, of, (uint32_t)ret_eip, o_eflags)) {
        return false;
    }
    bool nest = src == X86_TASK_CALL || src == X86_TASK_INT;
    /* 7.4: a nested task's previous-task link is the outgoing TR (offset
     * 0 in both formats). */
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
    load_image(cpu, nf, &img, nest);
    bool vm = (cpu->eflags & X86_VM) != 0;
    /* CR3 only from a 32-bit TSS and with paging (7.2.1: "PDBR"; 7.6);
     * PAE loads the PDPTEs too. */
    if (nf == &tss32_format && (cpu->cr0 & X86_CR0_PG) && !x86_load_cr3(cpu, img.cr3)) {
        return false;
    }
    /* Step 12: table 7-1's rows 6 to 18 (see the header). */
    if (!load_task_ldt_cs_ss(cpu, img.ldt, vm, ext) ||
        (!vm && !load_task_data_segs(cpu, ext))) {
        return false;
    }
    /* INT n "TASK-GATE": push the error code (a doubleword for a 32-bit
     * TSS, a word for a 16-bit one), #SS(EXT) if it does not fit; then EIP
     * within the CS limit, else #GP(EXT) (#GP(0) for JMP, CALL and IRET,
     * where EXT = 0). */
    if (has_err) {
        X86Stk st;
        x86_stk_current(cpu, &st);
        st.err = ext;
        if (!x86_stk_push(cpu, &st, nf->width, err)) {
            return false;
        }
        x86_stk_commit(cpu, &st);
    }
    if (cpu->rip > cpu->segs[S_CS].limit) {
        return fail(cpu, X86_EXC_GP, ext);
    }
    if (img.trap) {
        return task_debug_trap(cpu);
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
 * the current TSS (offset 0 in both formats): TI = 1 or beyond the GDT, not
 * a busy TSS: #TS(link); not present: #NP(link).
 */
bool x86_task_return(X86Cpu *cpu)
{
    uint64_t link, lin, lo, hi;
    bool bad;
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
