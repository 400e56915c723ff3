/*
 * Interrupt and exception delivery (x86_deliver), with the double- and
 * triple-fault rules.
 *
 * References are to the Intel SDM:
 *   Vol. 3B 20.1.4 real-address mode: the IVT (4-byte entries at IDTR.base)
 *   Vol. 3A 6.10-6.12 the IDT, its gates, and delivery through interrupt
 *                  and trap gates (6.12.1: stack switch to an inner level,
 *                  6.12.1.2 flag handling); Vol. 2 INT n "Operation" for the
 *                  check order and error codes
 *   Vol. 3A 6.13   error codes (EXT, IDT, TI bits)
 *   Vol. 3A 6.14   IA-32e mode: 16-byte gates, 64-bit targets only, RSP
 *                  aligned to 16, SS:RSP always pushed, the IST (6.14.5)
 *   Vol. 3A 6.15   #DF: table 6-4 (classes), table 6-5 (combinations), and
 *                  shutdown on a fault while delivering #DF (triple fault)
 *   Vol. 3B 20.3.1.1 delivery from virtual-8086 mode to a ring-0 handler
 *
 * How nesting works: a delivery reads the IDT, descriptors and the TSS and
 * pushes the frame with the helpers of x86_seg.c, which raise through
 * x86_raise() and return false; nothing architectural is committed until
 * every access succeeded. The exception left in cpu->exc is then combined
 * with the one being delivered by table 6-5 (a loop, not recursion): it is
 * delivered instead (benign combinations), or becomes #DF(0), or, while
 * #DF itself was being delivered, the CPU shuts down: cpu->exit_reason =
 * X86_EXIT_SHUTDOWN, cpu->exit_request = true, one explained line on
 * stderr. cpu->exc_depth counts the events of the chain while it runs.
 *
 * A task gate in the IDT switches tasks (x86_task.c; 6.11, 6.12.2). A fault
 * after the switch's commit point belongs to the new task: it is reported
 * at the new task's EIP (cpu->task_switched).
 *
 * Error codes raised by a delivery carry EXT = 1 unless the event was a
 * software interrupt (INT n, INT3, INTO) (6.13).
 *
 * What is not supported, and how it fails (never a crash):
 *  - CR4.VME interrupt redirection (CPUID does not offer VME): INT n in
 *    virtual-8086 mode with IOPL < 3 is #GP(0), which the INT n handler
 *    raises before anything reaches x86_deliver.
 *  - EFLAGS.RF is pushed as it is: instruction breakpoints are not
 *    modelled, so faults do not set RF in the saved image.
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
void x86_stk_new(X86Stk *s, const X86Seg *seg, uint64_t sp, unsigned sp_size,
                 bool supervisor, uint32_t err);
bool x86_stk_push(X86Cpu *cpu, X86Stk *s, unsigned size, uint64_t val);
void x86_stk_commit(X86Cpu *cpu, const X86Stk *s);
bool x86_desc_set_accessed(X86Cpu *cpu, uint16_t sel, uint64_t lo);
bool x86_tss_legacy_stack(X86Cpu *cpu, unsigned dpl, uint32_t ext, uint16_t *ss, uint64_t *sp);
bool x86_tss64_rsp(X86Cpu *cpu, unsigned slot, uint32_t ext, uint64_t *rsp);
void x86_commit_cs(X86Cpu *cpu, uint16_t sel, uint64_t lo, unsigned cpl);
void x86_seg_null_ss64(X86Seg *s, unsigned cpl);
void x86_seg_report_once(int *flag, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ------------------------------------------------------------------ */

#define D_TYPE(lo) ((unsigned)((lo) >> 40) & 0xf)
#define D_S(lo)    (((lo) >> 44) & 1)
#define D_DPL(lo)  ((unsigned)((lo) >> 45) & 3)
#define D_P(lo)    (((lo) >> 47) & 1)
#define D_L(lo)    (((lo) >> 53) & 1)
#define D_DB(lo)   (((lo) >> 54) & 1)

static inline bool d_code(uint64_t lo) { return D_S(lo) && (D_TYPE(lo) & 8); }
static inline bool d_conforming(uint64_t lo) { return d_code(lo) && (D_TYPE(lo) & 4); }
static inline bool d_writable_data(uint64_t lo)
{
    return D_S(lo) && !(D_TYPE(lo) & 8) && (D_TYPE(lo) & 2);
}

static inline bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static bool fail(X86Cpu *cpu, int vector, uint32_t err)
{
    x86_raise(cpu, vector, err, true);
    return false;
}

/* One event to deliver. */
typedef struct Event {
    int vector;
    uint32_t error_code;
    bool has_error;
    bool is_soft;
    uint64_t return_rip;
} Event;

static const char *const vector_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09", "#TS", "#NP",
    "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

static void event_name(const Event *e, char *buf, size_t size)
{
    if (e->is_soft) {
        g_snprintf(buf, size, "INT 0x%02x", e->vector);
    } else if (e->vector >= 0 && e->vector < 32 && vector_names[e->vector]) {
        if (e->has_error) {
            g_snprintf(buf, size, "%s(0x%x)", vector_names[e->vector], e->error_code);
        } else {
            g_snprintf(buf, size, "%s", vector_names[e->vector]);
        }
    } else {
        g_snprintf(buf, size, "interrupt 0x%02x", e->vector);
    }
}

/* ------------------------------------------------------------------ */
/* Real-address mode (SDM Vol. 3B 20.1.4; Vol. 2 INT n REAL-ADDRESS-MODE) */

static bool deliver_real(X86Cpu *cpu, const Event *ev)
{
    uint64_t entry;
    uint32_t off = (uint32_t)ev->vector * 4;
    /* Beyond the IVT limit: #GP (no error code is pushed in real mode). */
    if (off + 3 > cpu->idtr.limit) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    if (!x86_read_lin(cpu, (uint32_t)(cpu->idtr.base + off), 4, &entry, true)) {
        return false;
    }
    X86Stk st;
    x86_stk_current(cpu, &st);
    if (!x86_stk_push(cpu, &st, 2, x86_get_eflags(cpu)) ||
        !x86_stk_push(cpu, &st, 2, cpu->segs[S_CS].selector) ||
        !x86_stk_push(cpu, &st, 2, ev->return_rip)) {
        return false;
    }
    x86_stk_commit(cpu, &st);
    cpu->eflags &= ~(uint32_t)(X86_IF | X86_TF | X86_AC | X86_RF);
    x86_load_seg_real(cpu, S_CS, (uint16_t)(entry >> 16));
    cpu->rip = entry & 0xffff;
    return true;
}

/* ------------------------------------------------------------------ */
/* Protected mode (SDM 6.10-6.12; Vol. 2 INT n PROTECTED-MODE)         */

/* Gate checks common to both IDT formats: software-interrupt DPL, present,
 * and the target code segment. On success *cs_lo is its descriptor. */
static bool check_gate_target(X86Cpu *cpu, const Event *ev, uint64_t lo, uint32_t ext,
                              uint16_t *cs_sel, uint64_t *cs_lo)
{
    uint32_t idt_err = (uint32_t)ev->vector * 8 + 2 + ext;
    uint64_t cs_hi;
    bool bad;
    /* INT n / INT3 / INTO may only use gates with DPL >= CPL (6.12.1.1). */
    if (ev->is_soft && D_DPL(lo) < cpu->cpl) {
        return fail(cpu, X86_EXC_GP, idt_err);
    }
    if (!D_P(lo)) {
        return fail(cpu, X86_EXC_NP, idt_err);
    }
    *cs_sel = (uint16_t)(lo >> 16);
    if ((*cs_sel & 0xfffc) == 0) {
        return fail(cpu, X86_EXC_GP, ext);
    }
    if (!x86_read_descriptor(cpu, *cs_sel, cs_lo, &cs_hi, &bad)) {
        return bad ? fail(cpu, X86_EXC_GP, (*cs_sel & 0xfffc) | ext) : false;
    }
    if (!d_code(*cs_lo) || D_DPL(*cs_lo) > cpu->cpl) {
        return fail(cpu, X86_EXC_GP, (*cs_sel & 0xfffc) | ext);
    }
    return true;
}

static bool deliver_prot(X86Cpu *cpu, const Event *ev)
{
    uint32_t ext = ev->is_soft ? 0 : 1;
    uint32_t idt_err = (uint32_t)ev->vector * 8 + 2 + ext;
    bool vm = (cpu->eflags & X86_VM) != 0;
    uint64_t lo;

    if ((uint32_t)ev->vector * 8 + 7 > cpu->idtr.limit) {
        return fail(cpu, X86_EXC_GP, idt_err);
    }
    if (!x86_read_lin(cpu, (uint32_t)(cpu->idtr.base + (uint32_t)ev->vector * 8), 8, &lo,
                      true)) {
        return false;
    }
    /* Gate types with S = 0 (6.11): 5 task, 6/7 16-bit interrupt/trap,
     * E/F 32-bit interrupt/trap. */
    unsigned type = (unsigned)(lo >> 40) & 0x1f;
    if (type != 0x5 && type != 0x6 && type != 0x7 && type != 0xe && type != 0xf) {
        return fail(cpu, X86_EXC_GP, idt_err);
    }
    if (type == 0x5) {
        if (ev->is_soft && D_DPL(lo) < cpu->cpl) {
            return fail(cpu, X86_EXC_GP, idt_err);
        }
        if (!D_P(lo)) {
            return fail(cpu, X86_EXC_NP, idt_err);
        }
        /* 6.12.2: an interrupt task, with the error code (if any) pushed
         * on its stack. */
        return x86_task_gate_int(cpu, lo, ext, ev->return_rip, ev->has_error, ev->error_code);
    }
    uint16_t cs_sel;
    uint64_t cs_lo;
    if (!check_gate_target(cpu, ev, lo, ext, &cs_sel, &cs_lo)) {
        return false;
    }
    uint32_t cs_err = (cs_sel & 0xfffc) | ext;
    bool inner = !d_conforming(cs_lo) && D_DPL(cs_lo) < cpu->cpl;
    /* From virtual-8086 mode only a ring-0 non-conforming handler will do
     * (20.3.1.1), through a 32-bit gate. */
    if (vm && (!inner || D_DPL(cs_lo) != 0)) {
        return fail(cpu, X86_EXC_GP, cs_err);
    }
    if (!D_P(cs_lo)) {
        return fail(cpu, X86_EXC_NP, cs_err);
    }
    unsigned gsz = (type & 8) ? 4 : 2;
    if (vm && gsz == 2) {
        return fail(cpu, X86_EXC_GP, ext);
    }
    uint64_t ip = (lo & 0xffff) | ((lo >> 32) & 0xffff0000u);
    ip &= x86_mask(gsz);
    unsigned new_cpl = inner ? D_DPL(cs_lo) : cpu->cpl;
    uint32_t eflags = x86_get_eflags(cpu);
    X86Stk st;
    X86Seg new_ss;
    uint16_t ss_sel = 0;
    uint64_t ss_lo = 0;
    if (inner) {
        /* 6.12.1: SS:ESP for the new CPL from the TSS, then checked as
         * the INT n pseudo-code says (#TS for a bad SS, #SS if absent). */
        uint64_t sp, ss_hi;
        bool bad;
        if (!x86_tss_legacy_stack(cpu, new_cpl, ext, &ss_sel, &sp)) {
            return false;
        }
        if ((ss_sel & 0xfffc) == 0) {
            return fail(cpu, X86_EXC_TS, ext);
        }
        if (!x86_read_descriptor(cpu, ss_sel, &ss_lo, &ss_hi, &bad)) {
            return bad ? fail(cpu, X86_EXC_TS, (ss_sel & 0xfffc) | ext) : false;
        }
        if ((ss_sel & 3u) != new_cpl || D_DPL(ss_lo) != new_cpl || !d_writable_data(ss_lo)) {
            return fail(cpu, X86_EXC_TS, (ss_sel & 0xfffc) | ext);
        }
        if (!D_P(ss_lo)) {
            return fail(cpu, X86_EXC_SS, (ss_sel & 0xfffc) | ext);
        }
        x86_seg_from_descriptor(&new_ss, ss_sel, ss_lo, 0);
        x86_stk_new(&st, &new_ss, sp, D_DB(ss_lo) ? 4 : 2, new_cpl < 3,
                    (ss_sel & 0xfffc) | ext);
        if (vm) {
            static const unsigned vm_regs[4] = { S_GS, S_FS, S_DS, S_ES };
            for (unsigned i = 0; i < 4; i++) {
                if (!x86_stk_push(cpu, &st, 4, cpu->segs[vm_regs[i]].selector)) {
                    return false;
                }
            }
        }
        if (!x86_stk_push(cpu, &st, gsz, cpu->segs[S_SS].selector) ||
            !x86_stk_push(cpu, &st, gsz, cpu->regs[R_SP])) {
            return false;
        }
    } else {
        x86_stk_current(cpu, &st);
        st.err = ext;
    }
    if (!x86_stk_push(cpu, &st, gsz, eflags) ||
        !x86_stk_push(cpu, &st, gsz, cpu->segs[S_CS].selector) ||
        !x86_stk_push(cpu, &st, gsz, ev->return_rip) ||
        (ev->has_error && !x86_stk_push(cpu, &st, gsz, ev->error_code))) {
        return false;
    }
    X86Seg tmp;
    x86_seg_from_descriptor(&tmp, 0, cs_lo, 0);
    if (ip > tmp.limit) {
        return fail(cpu, X86_EXC_GP, ext);
    }
    if (!x86_desc_set_accessed(cpu, cs_sel, cs_lo) ||
        (inner && !x86_desc_set_accessed(cpu, ss_sel, ss_lo))) {
        return false;
    }
    /* Commit (6.12.1.2): TF, NT, RF, VM cleared; IF too for an interrupt
     * gate. VM first, so that x86_update_mode sees protected mode. */
    if (inner) {
        cpu->segs[S_SS] = new_ss;
    }
    x86_stk_commit(cpu, &st);
    cpu->eflags &= ~(uint32_t)(X86_TF | X86_NT | X86_RF | X86_VM);
    if (!(type & 1)) {
        cpu->eflags &= ~(uint32_t)X86_IF;
    }
    if (vm) {
        static const unsigned vm_regs[4] = { S_GS, S_FS, S_DS, S_ES };
        for (unsigned i = 0; i < 4; i++) {
            cpu->segs[vm_regs[i]] = (X86Seg){ 0, 0, 0, 0 };
        }
    }
    x86_commit_cs(cpu, cs_sel, cs_lo, new_cpl);
    cpu->rip = ip;
    return true;
}

/* ------------------------------------------------------------------ */
/* IA-32e mode (SDM 6.14)                                              */

static bool deliver_long(X86Cpu *cpu, const Event *ev)
{
    uint32_t ext = ev->is_soft ? 0 : 1;
    uint32_t idt_err = (uint32_t)ev->vector * 8 + 2 + ext;
    uint64_t lo, hi;
    uint64_t entry = cpu->idtr.base + (uint64_t)ev->vector * 16;
    if ((uint32_t)ev->vector * 16 + 15 > cpu->idtr.limit) {
        return fail(cpu, X86_EXC_GP, idt_err);
    }
    if (!x86_read_lin(cpu, entry, 8, &lo, true) || !x86_read_lin(cpu, entry + 8, 8, &hi, true)) {
        return false;
    }
    /* Only 64-bit interrupt and trap gates (6.14.1). */
    unsigned type = (unsigned)(lo >> 40) & 0x1f;
    if (type != 0xe && type != 0xf) {
        return fail(cpu, X86_EXC_GP, idt_err);
    }
    uint16_t cs_sel;
    uint64_t cs_lo;
    if (!check_gate_target(cpu, ev, lo, ext, &cs_sel, &cs_lo)) {
        return false;
    }
    uint32_t cs_err = (cs_sel & 0xfffc) | ext;
    /* The target must be 64-bit code: L = 1, D = 0 (6.14.1). */
    if (!D_L(cs_lo) || D_DB(cs_lo)) {
        return fail(cpu, X86_EXC_GP, cs_err);
    }
    if (!D_P(cs_lo)) {
        return fail(cpu, X86_EXC_NP, cs_err);
    }
    uint64_t ip = (lo & 0xffff) | ((lo >> 32) & 0xffff0000u) | ((hi & 0xffffffffu) << 32);
    unsigned ist = (unsigned)(lo >> 32) & 7;
    bool inner = !d_conforming(cs_lo) && D_DPL(cs_lo) < cpu->cpl;
    unsigned new_cpl = inner ? D_DPL(cs_lo) : cpu->cpl;
    uint64_t rsp = cpu->regs[R_SP];
    /* 6.14.4, 6.14.5: RSPn on a privilege change, ISTn whenever the gate
     * names one; then aligned to 16 bytes. */
    if (ist) {
        if (!x86_tss64_rsp(cpu, ist + 3, ext, &rsp)) {
            return false;
        }
    } else if (inner) {
        if (!x86_tss64_rsp(cpu, new_cpl, ext, &rsp)) {
            return false;
        }
    }
    rsp &= ~0xfull;
    X86Seg new_ss;
    if (inner) {
        x86_seg_null_ss64(&new_ss, new_cpl);
    } else {
        new_ss = cpu->segs[S_SS];
    }
    X86Stk st;
    x86_stk_new(&st, &new_ss, rsp, 8, new_cpl < 3, ext);
    if (!x86_stk_push(cpu, &st, 8, cpu->segs[S_SS].selector) ||
        !x86_stk_push(cpu, &st, 8, cpu->regs[R_SP]) ||
        !x86_stk_push(cpu, &st, 8, x86_get_eflags(cpu)) ||
        !x86_stk_push(cpu, &st, 8, cpu->segs[S_CS].selector) ||
        !x86_stk_push(cpu, &st, 8, ev->return_rip) ||
        (ev->has_error && !x86_stk_push(cpu, &st, 8, ev->error_code))) {
        return false;
    }
    if (!canonical(ip)) {
        return fail(cpu, X86_EXC_GP, ext);
    }
    if (!x86_desc_set_accessed(cpu, cs_sel, cs_lo)) {
        return false;
    }
    if (inner) {
        cpu->segs[S_SS] = new_ss;
    }
    cpu->regs[R_SP] = st.sp;
    cpu->eflags &= ~(uint32_t)(X86_TF | X86_NT | X86_RF | X86_VM);
    if (!(type & 1)) {
        cpu->eflags &= ~(uint32_t)X86_IF;
    }
    x86_commit_cs(cpu, cs_sel, cs_lo, new_cpl);
    cpu->rip = ip;
    return true;
}

/* ------------------------------------------------------------------ */
/* Double and triple faults (SDM 6.15, tables 6-4 and 6-5)             */

enum { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT };

/*
 * Table 6-4. Software interrupts are not exceptions (benign), and neither
 * are external interrupts that happen to use an exception's vector (a PC
 * BIOS has IRQ 0-7 on vectors 8-15): those arrive without an error code,
 * while #DF, #TS, #NP, #SS, #GP and #PF are always raised with one. #DE
 * (vector 0) has no error code; an external interrupt on vector 0 would be
 * taken for it.
 */
static int event_class(const Event *e)
{
    if (e->is_soft) {
        return CLASS_BENIGN;
    }
    switch (e->vector) {
    case X86_EXC_DE:
        return CLASS_CONTRIBUTORY;
    case X86_EXC_TS: case X86_EXC_NP: case X86_EXC_SS: case X86_EXC_GP:
        return e->has_error ? CLASS_CONTRIBUTORY : CLASS_BENIGN;
    case X86_EXC_PF:
        return e->has_error ? CLASS_PAGE_FAULT : CLASS_BENIGN;
    default:
        return CLASS_BENIGN;
    }
}

static bool event_is_df(const Event *e)
{
    return e->vector == X86_EXC_DF && !e->is_soft && e->has_error;
}

static bool deliver_one(X86Cpu *cpu, const Event *ev)
{
    if (!(cpu->cr0 & X86_CR0_PE)) {
        return deliver_real(cpu, ev);
    }
    if (x86_long_mode(cpu)) {
        return deliver_long(cpu, ev);
    }
    return deliver_prot(cpu, ev);
}

static int triple_fault_reports;

/* Shutdown (6.15, "Interrupt 8"). With df_during != NULL: `last` happened
 * while delivering #DF, which was raised for `df_cause` during delivery of
 * `df_during` (df_cause NULL: the #DF was the event delivered in the first
 * place). With df_during == NULL: delivery gave up after `last`. */
static void triple_fault(X86Cpu *cpu, const Event *last, const Event *df_cause,
                         const Event *df_during, const char *why)
{
    char a[32], b[32] = "", c[32] = "";
    /* Real mode has no error codes: do not print the internal ones. */
    bool real = !(cpu->cr0 & X86_CR0_PE);
    Event e[3] = { *last };
    if (df_cause && df_during) {
        e[1] = *df_cause;
        e[2] = *df_during;
    } else {
        df_cause = NULL;
    }
    for (unsigned i = 0; i < 3; i++) {
        e[i].has_error = e[i].has_error && !real;
    }
    event_name(&e[0], a, sizeof(a));
    if (df_cause) {
        event_name(&e[1], b, sizeof(b));
        event_name(&e[2], c, sizeof(c));
    }
    /* Explained once per process: a machine that resets on shutdown and
     * faults again would otherwise repeat the line forever. */
    if (g_atomic_int_add(&triple_fault_reports, 1) == 0) {
        fprintf(stderr,
                "mmusim: cpu%u: triple fault (%s while delivering %s%s%s%s%s) at CS:RIP "
                "%04x:%08" G_GINT64_MODIFIER "x, CPL %u, CR0 0x%" G_GINT64_MODIFIER "x: %s; "
                "the CPU shuts down (further triple faults are not reported)\n",
                cpu->index, a, df_during ? "#DF" : "an exception",
                df_cause ? ", which was raised for " : "", b,
                df_cause ? " during delivery of " : "", c, cpu->segs[S_CS].selector,
                cpu->rip, cpu->cpl, cpu->cr0, why);
    }
    if (cpu->trace & X86_TRACE_INT) {
        fprintf(cpu->trace_out, "cpu%u triple fault: %s\n", cpu->index, why);
    }
    cpu->exit_reason = X86_EXIT_SHUTDOWN;
    cpu->exit_request = true;
}

/*
 * Deliver an event: `return_rip` is what the frame saves (the faulting
 * instruction for faults, the next one for traps and INT n, the
 * interrupted one for interrupts). On return either the handler is about
 * to run (CS:RIP, stack, flags set) or the CPU has shut down
 * (cpu->exit_request, X86_EXIT_SHUTDOWN). cpu->exc is left empty.
 */
void x86_deliver(X86Cpu *cpu, int vector, uint32_t error_code, bool has_error, bool is_soft,
                 uint64_t return_rip)
{
    Event ev = { vector, error_code, has_error, is_soft, return_rip };
    Event df_cause = ev, df_during = ev;
    bool have_df_cause = false;
    cpu->exc_depth = 0;
    for (;;) {
        cpu->exc.vector = -1;
        cpu->exc_depth++;
        cpu->task_switched = false;
        if (deliver_one(cpu, &ev)) {
            cpu->exc.vector = -1;
            cpu->exc_depth = 0;
            return;
        }
        X86PendingExc p = cpu->exc;
        cpu->exc.vector = -1;
        if (p.vector < 0) {
            /* A helper failed without raising: should not happen; treat it
             * as a #GP so the guest sees a fault rather than a hang. */
            p = (X86PendingExc){ X86_EXC_GP, 0, true, false };
        }
        /* A fault during delivery reports the instruction that was running
         * (for INT n: the INT itself), not the trap's next instruction; one
         * after a task switch's commit point, the new task's first
         * instruction (SDM 7.3). */
        Event next = { p.vector, p.error_code, p.has_error, false,
                       ev.is_soft || cpu->task_switched ? cpu->rip : ev.return_rip };
        if (cpu->trace & X86_TRACE_INT) {
            char a[32], b[32];
            event_name(&next, a, sizeof(a));
            event_name(&ev, b, sizeof(b));
            fprintf(cpu->trace_out, "cpu%u %s while delivering %s\n", cpu->index, a, b);
        }
        int c1 = event_class(&ev), c2 = event_class(&next);
        if (event_is_df(&ev) && c2 != CLASS_BENIGN) {
            triple_fault(cpu, &next, have_df_cause ? &df_cause : NULL,
                         have_df_cause ? &df_during : &ev,
                         "the double-fault handler could not be reached");
            cpu->exc_depth = 0;
            return;
        }
        if (cpu->exc_depth >= 16) {
            /* Benign faults that keep recurring (a watchpoint on the
             * stack, ...): stop rather than loop. */
            triple_fault(cpu, &next, NULL, NULL,
                         "exceptions kept recurring during delivery (16 in a row)");
            cpu->exc_depth = 0;
            return;
        }
        if ((c1 == CLASS_CONTRIBUTORY && c2 == CLASS_CONTRIBUTORY) ||
            (c1 == CLASS_PAGE_FAULT && c2 != CLASS_BENIGN)) {
            df_cause = next;
            df_during = ev;
            have_df_cause = true;
            ev = (Event){ X86_EXC_DF, 0, true, false, next.return_rip };
        } else {
            ev = next;  /* handled serially: the new exception replaces the old */
        }
    }
}
