/*
 * Segmentation: descriptors, segment-register loads and the far control
 * transfers (JMP/CALL far, RETF, IRET).
 *
 * References are to the Intel SDM:
 *   Vol. 3A 3.4    segment selectors, registers and descriptors (3.4.5 the
 *                  descriptor format, 3.4.5.1 code/data types)
 *   Vol. 3A 3.5    system descriptors; 3.5.1 segment descriptor tables
 *   Vol. 3A 5.4-5.8 limit, type and privilege checks, data/stack segment
 *                  loads (5.7), control transfers (5.8: conforming code
 *                  5.8.1.2, call gates 5.8.3-5.8.6, stack switching 5.8.5,
 *                  returns 5.8.6, 64-bit call gates 5.8.3.1)
 *   Vol. 3A 7.2    the TSS (stack pointers for privilege levels 0-2)
 *   Vol. 2  MOV (to Sreg), POP, JMP, CALL, RET, IRET: the pseudo-code whose
 *                  check order and error codes are followed here.
 *   Vol. 3B 20.1, 20.2 real-address and virtual-8086 segment loads.
 *
 * Fault discipline (x86_internal.h): every check and every memory access
 * (descriptor reads, accessed-bit writes, stack pushes and pops through a
 * private cursor) happens before any register changes; a fault leaves the
 * architectural registers as they were. Stack memory below the old stack
 * pointer may have been written when a later check fails, as on hardware.
 *
 * Error codes of selector faults are the selector with its RPL bits
 * cleared (SDM 6.13: bits 1:0 are EXT and IDT, which are 0 for these).
 *
 * Task switches (JMP/CALL to a TSS or a task gate, IRET with NT = 1 in
 * protected mode) are x86_task.c's; IA-32e mode has none (#GP).
 * Everything of the pseudo-code is implemented, including call gates
 * with stack switches and parameter copying, return to outer privilege
 * levels, IRET to virtual-8086 mode and long-mode IRETQ.
 */
#include "targets/x86/x86_internal.h"

/* ------------------------------------------------------------------ */
/* Shared with x86_excp.c (these prototypes are repeated there).       */

/* A stack being pushed or popped without committing RSP (see top). */
typedef struct X86Stk {
    X86Seg seg;        /* the stack segment's cache (a copy) */
    uint64_t sp;       /* current offset, already masked to sp_size */
    uint64_t full;     /* the whole register the cursor started from */
    uint8_t sp_size;   /* address size of the stack: 2, 4 or 8 */
    bool flat;         /* 64-bit mode: no base or limit, canonical checks */
    bool checks;       /* protected-mode segment: expand-down honoured */
    bool supervisor;   /* implicit supervisor accesses (inner stack) */
    uint32_t err;      /* error code of the #SS a violation raises */
} X86Stk;

void x86_stk_current(X86Cpu *cpu, X86Stk *s);
void x86_stk_new(X86Stk *s, const X86Seg *seg, uint64_t sp, unsigned sp_size,
                 bool supervisor, uint32_t err);
bool x86_stk_push(X86Cpu *cpu, X86Stk *s, unsigned size, uint64_t val);
bool x86_stk_pop(X86Cpu *cpu, X86Stk *s, unsigned size, uint64_t *val);
bool x86_stk_peek(X86Cpu *cpu, const X86Stk *s, uint64_t offset, unsigned size, uint64_t *val);
void x86_stk_commit(X86Cpu *cpu, const X86Stk *s);
bool x86_desc_set_accessed(X86Cpu *cpu, uint16_t sel, uint64_t lo);
bool x86_tss_legacy_stack(X86Cpu *cpu, unsigned dpl, uint32_t ext, uint16_t *ss, uint64_t *sp);
bool x86_tss64_rsp(X86Cpu *cpu, unsigned slot, uint32_t ext, uint64_t *rsp);
void x86_commit_cs(X86Cpu *cpu, uint16_t sel, uint64_t lo, unsigned cpl);
void x86_seg_null_ss64(X86Seg *s, unsigned cpl);
void x86_seg_report_once(int *flag, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* ------------------------------------------------------------------ */
/* Descriptor fields (SDM 3.4.5, figure 3-8).                          */

#define D_TYPE(lo) ((unsigned)((lo) >> 40) & 0xf)
#define D_S(lo)    (((lo) >> 44) & 1)
#define D_DPL(lo)  ((unsigned)((lo) >> 45) & 3)
#define D_P(lo)    (((lo) >> 47) & 1)
#define D_L(lo)    (((lo) >> 53) & 1)
#define D_DB(lo)   (((lo) >> 54) & 1)
#define D_ACCESSED (1ull << 40)

static inline bool d_code(uint64_t lo) { return D_S(lo) && (D_TYPE(lo) & 8); }
static inline bool d_data(uint64_t lo) { return D_S(lo) && !(D_TYPE(lo) & 8); }
static inline bool d_conforming(uint64_t lo) { return d_code(lo) && (D_TYPE(lo) & 4); }
static inline bool d_writable_data(uint64_t lo) { return d_data(lo) && (D_TYPE(lo) & 2); }
static inline bool d_readable(uint64_t lo) { return d_data(lo) || (d_code(lo) && (D_TYPE(lo) & 2)); }

static inline bool sel_null(uint16_t sel) { return (sel & 0xfffc) == 0; }

static inline bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static bool fail(X86Cpu *cpu, int vector, uint32_t err)
{
    x86_raise(cpu, vector, err, true);
    return false;
}

static bool fail_sel(X86Cpu *cpu, int vector, uint16_t sel)
{
    return fail(cpu, vector, sel & 0xfffc);
}

/* Protected mode proper: PE = 1 and not virtual-8086. */
static bool pmode(const X86Cpu *cpu)
{
    return (cpu->cr0 & X86_CR0_PE) && !(cpu->eflags & X86_VM);
}

static bool mode64(const X86Cpu *cpu)
{
    return x86_long_mode(cpu) && (cpu->segs[S_CS].attr & X86_SEGA_L);
}

/* A code descriptor makes 64-bit mode (IA-32e mode and L = 1). */
static bool target64(const X86Cpu *cpu, uint64_t lo)
{
    return x86_long_mode(cpu) && D_L(lo);
}

void x86_seg_report_once(int *flag, const char *fmt, ...)
{
    if (!g_atomic_int_compare_and_exchange(flag, 0, 1)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    mem_report("%s", msg);
    g_free(msg);
}

/* ------------------------------------------------------------------ */
/* Descriptor tables (SDM 3.5.1).                                      */

/* Linear address of the descriptor `sel` selects, `bytes` long (8, or 16
 * for a long-mode system descriptor); false if it is beyond the table
 * limit, or in the LDT while LDTR is null (SDM 3.5.1: such a selector
 * faults like one beyond the limit). */
static bool desc_lin(const X86Cpu *cpu, uint16_t sel, unsigned bytes, uint64_t *lin)
{
    uint64_t base;
    uint32_t limit;
    if (sel & 4) {
        if (sel_null(cpu->ldtr.selector)) {
            return false;
        }
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    uint64_t off = sel & 0xfff8u;
    if (off + bytes - 1 > limit) {
        return false;
    }
    *lin = x86_long_mode(cpu) ? base + off : (uint32_t)(base + off);
    return true;
}

/*
 * Read the descriptor `sel` selects (the index: TI picks GDT or LDT; RPL is
 * ignored). In IA-32e mode a system descriptor (S = 0: LDT, TSS, gates) is
 * 16 bytes and *hi gets its upper half; otherwise *hi = 0.
 *
 * false with *bad_index = true: the descriptor is (partly) beyond the table
 * limit or TI = 1 with a null LDTR. Nothing is raised: the caller decides
 * (#GP(sel) for loads, ZF = 0 for LAR/LSL/VERR/VERW, #TS for TSS stacks).
 * false with *bad_index = false: the table read faulted (#PF, or #GP for a
 * non-canonical table address) and the exception is pending in cpu->exc.
 * Reads are implicit supervisor accesses (SDM 4.6).
 */
bool x86_read_descriptor(X86Cpu *cpu, uint16_t sel, uint64_t *lo, uint64_t *hi,
                         bool *bad_index)
{
    uint64_t lin;
    *bad_index = false;
    *lo = *hi = 0;
    if (!desc_lin(cpu, sel, 8, &lin)) {
        *bad_index = true;
        return false;
    }
    if (!x86_read_lin(cpu, lin, 8, lo, true)) {
        return false;
    }
    if (x86_long_mode(cpu) && !D_S(*lo)) {
        if (!desc_lin(cpu, sel, 16, &lin)) {
            *bad_index = true;
            return false;
        }
        if (!x86_read_lin(cpu, lin + 8, 8, hi, true)) {
            return false;
        }
    }
    return true;
}

/*
 * The descriptor cache for a descriptor (SDM 3.4.5): base 31:0 (63:32 from
 * `hi` bits 31:0 for system descriptors, S = 0; pass hi = 0 outside IA-32e
 * mode, as x86_read_descriptor does), the byte-granular limit (G = 1: limit
 * * 4 KiB + 0xfff), and descriptor bits 40..55 unchanged as attr (so attr
 * bits 8..11 hold limit 19:16, which no X86_SEGA_* test looks at).
 */
void x86_seg_from_descriptor(X86Seg *s, uint16_t sel, uint64_t lo, uint64_t hi)
{
    uint32_t limit = (uint32_t)(lo & 0xffff) | (uint32_t)((lo >> 32) & 0xf0000);
    uint32_t attr = (uint32_t)(lo >> 40) & 0xffff;
    if (attr & X86_SEGA_G) {
        limit = (limit << 12) | 0xfff;
    }
    uint64_t base = ((lo >> 16) & 0xffffff) | ((lo >> 32) & 0xff000000u);
    if (!(attr & X86_SEGA_S)) {
        base |= (hi & 0xffffffffu) << 32;
    }
    s->selector = sel;
    s->base = base;
    s->limit = limit;
    s->attr = attr;
}

/* Read a descriptor for a load: index beyond the table -> #GP(sel). */
static bool read_desc_gp(X86Cpu *cpu, uint16_t sel, uint64_t *lo, uint64_t *hi, uint32_t ext)
{
    bool bad;
    if (x86_read_descriptor(cpu, sel, lo, hi, &bad)) {
        return true;
    }
    if (bad) {
        x86_raise(cpu, X86_EXC_GP, (sel & 0xfffc) | ext, true);
    }
    return false;
}

/*
 * Set the accessed bit of a code/data descriptor that lacks it (SDM 3.4.5.1:
 * the processor sets it when it loads the selector), with a one-byte
 * implicit supervisor write of the type byte. System descriptors have no
 * accessed bit. false if the write faulted.
 */
bool x86_desc_set_accessed(X86Cpu *cpu, uint16_t sel, uint64_t lo)
{
    uint64_t lin;
    if (!D_S(lo) || (lo & D_ACCESSED) || !desc_lin(cpu, sel, 8, &lin)) {
        return true;
    }
    return x86_write_lin(cpu, lin + 5, 1, ((lo >> 40) & 0xff) | 1, true);
}

/* Load CS from a descriptor with RPL = cpl; CPL follows (x86_update_mode). */
void x86_commit_cs(X86Cpu *cpu, uint16_t sel, uint64_t lo, unsigned cpl)
{
    x86_seg_from_descriptor(&cpu->segs[S_CS], (uint16_t)((sel & 0xfffc) | cpl), lo, 0);
    x86_update_mode(cpu);
}

/*
 * SS holding a null selector with RPL = cpl, as 64-bit mode allows at
 * CPL < 3 (SDM 6.14.4: interrupts and call gates load it on a stack
 * switch; MOV/POP SS, RETF and IRET accept it). 64-bit mode ignores the
 * SS cache; it is kept as a flat writable segment of DPL = cpl so that
 * nothing that reads attributes (SS.DPL, SS.B) sees garbage. Outside
 * 64-bit mode the null selector itself makes every SS access fault.
 */
void x86_seg_null_ss64(X86Seg *s, unsigned cpl)
{
    s->selector = (uint16_t)cpl;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->attr = 0x3 | X86_SEGA_S | (cpl << 5) | X86_SEGA_P | X86_SEGA_DB | X86_SEGA_G;
}

/* ------------------------------------------------------------------ */
/* Stack cursors.                                                      */

void x86_stk_current(X86Cpu *cpu, X86Stk *s)
{
    s->seg = cpu->segs[S_SS];
    s->sp_size = (uint8_t)x86_stack_size(cpu);
    s->flat = s->sp_size == 8;
    s->checks = pmode(cpu);
    s->supervisor = false;
    s->err = 0;
    s->full = cpu->regs[R_SP];
    s->sp = s->full & x86_mask(s->sp_size);
}

/* A new (inner) protected-mode stack, or a 64-bit one (sp_size 8). */
void x86_stk_new(X86Stk *s, const X86Seg *seg, uint64_t sp, unsigned sp_size,
                 bool supervisor, uint32_t err)
{
    s->seg = *seg;
    s->sp_size = (uint8_t)sp_size;
    s->flat = sp_size == 8;
    s->checks = true;
    s->supervisor = supervisor;
    s->err = err;
    s->full = sp;
    s->sp = sp & x86_mask(sp_size);
}

/* Limit check (expand-up or expand-down, SDM 5.3) or canonical check. */
static bool stk_lin(X86Cpu *cpu, const X86Stk *s, uint64_t off, unsigned size, uint64_t *lin)
{
    uint64_t last = off + size - 1;
    if (s->flat) {
        if (canonical(off) && canonical(last)) {
            *lin = off;
            return true;
        }
    } else {
        const X86Seg *g = &s->seg;
        unsigned type = X86_SEGA_TYPE(g->attr);
        bool ok;
        if (s->checks && (g->attr & X86_SEGA_S) && !(type & 8) && (type & 4)) {
            uint64_t upper = (g->attr & X86_SEGA_DB) ? 0xffffffffu : 0xffffu;
            ok = off > g->limit && last <= upper && last >= off;
        } else {
            ok = last <= g->limit && last >= off;
        }
        if (ok) {
            *lin = (uint32_t)(g->base + off);
            return true;
        }
    }
    return fail(cpu, X86_EXC_SS, s->err);
}

bool x86_stk_push(X86Cpu *cpu, X86Stk *s, unsigned size, uint64_t val)
{
    uint64_t sp = (s->sp - size) & x86_mask(s->sp_size);
    uint64_t lin;
    if (!stk_lin(cpu, s, sp, size, &lin) ||
        !x86_write_lin(cpu, lin, size, val & x86_mask(size), s->supervisor)) {
        return false;
    }
    s->sp = sp;
    return true;
}

bool x86_stk_peek(X86Cpu *cpu, const X86Stk *s, uint64_t offset, unsigned size, uint64_t *val)
{
    uint64_t off = (s->sp + offset) & x86_mask(s->sp_size);
    uint64_t lin;
    return stk_lin(cpu, s, off, size, &lin) &&
           x86_read_lin(cpu, lin, size, val, s->supervisor);
}

bool x86_stk_pop(X86Cpu *cpu, X86Stk *s, unsigned size, uint64_t *val)
{
    if (!x86_stk_peek(cpu, s, 0, size, val)) {
        return false;
    }
    s->sp = (s->sp + size) & x86_mask(s->sp_size);
    return true;
}

/* Write the cursor's stack pointer back: SP keeps the upper bits of the
 * register it started from; ESP zero-extends (as any 32-bit write). */
void x86_stk_commit(X86Cpu *cpu, const X86Stk *s)
{
    if (s->sp_size == 2) {
        cpu->regs[R_SP] = (s->full & ~0xffffull) | s->sp;
    } else {
        cpu->regs[R_SP] = s->sp & x86_mask(s->sp_size);
    }
}

/* ------------------------------------------------------------------ */
/* The TSS (SDM 7.2.1, figures 7-2 and 7-11; 7.7 for the 64-bit TSS).  */

static bool tss_read(X86Cpu *cpu, uint32_t off, unsigned size, uint64_t *val)
{
    uint64_t lin = cpu->tr.base + off;
    if (!x86_long_mode(cpu)) {
        lin = (uint32_t)lin;
    }
    return x86_read_lin(cpu, lin, size, val, true);
}

/*
 * SS:ESP for privilege level `dpl` from the current 16- or 32-bit TSS
 * (CALL through a gate and interrupt delivery, "MORE-PRIVILEGE"):
 * 32-bit TSS: ESPn at 8n+4, SSn at 8n+8; 16-bit TSS: SPn at 4n+2, SSn at
 * 4n+4. Beyond the TSS limit, or TR not a TSS: #TS(TR selector + ext).
 */
bool x86_tss_legacy_stack(X86Cpu *cpu, unsigned dpl, uint32_t ext, uint16_t *ss, uint64_t *sp)
{
    unsigned type = X86_SEGA_TYPE(cpu->tr.attr);
    uint64_t v_ss, v_sp;
    uint32_t ts_err = (cpu->tr.selector & 0xfffc) | ext;
    if ((cpu->tr.attr & X86_SEGA_S) == 0 && (type == 0x9 || type == 0xb)) {
        uint32_t off = dpl * 8 + 4;
        if (off + 5 > cpu->tr.limit) {
            return fail(cpu, X86_EXC_TS, ts_err);
        }
        if (!tss_read(cpu, off, 4, &v_sp) || !tss_read(cpu, off + 4, 2, &v_ss)) {
            return false;
        }
    } else if ((cpu->tr.attr & X86_SEGA_S) == 0 && (type == 0x1 || type == 0x3)) {
        uint32_t off = dpl * 4 + 2;
        if (off + 3 > cpu->tr.limit) {
            return fail(cpu, X86_EXC_TS, ts_err);
        }
        if (!tss_read(cpu, off, 2, &v_sp) || !tss_read(cpu, off + 2, 2, &v_ss)) {
            return false;
        }
    } else {
        return fail(cpu, X86_EXC_TS, ts_err);
    }
    *ss = (uint16_t)v_ss;
    *sp = v_sp;
    return true;
}

/*
 * A stack pointer from the 64-bit TSS: slot 0..2 = RSP0..RSP2, slot 4..10 =
 * IST1..IST7 (offset 4 + 8 * slot). Beyond the limit, or TR not a 64-bit
 * TSS: #TS(TR selector + ext).
 */
bool x86_tss64_rsp(X86Cpu *cpu, unsigned slot, uint32_t ext, uint64_t *rsp)
{
    unsigned type = X86_SEGA_TYPE(cpu->tr.attr);
    uint32_t off = 4 + 8 * slot;
    if ((cpu->tr.attr & X86_SEGA_S) || (type != 0x9 && type != 0xb) ||
        off + 7 > cpu->tr.limit) {
        return fail(cpu, X86_EXC_TS, (cpu->tr.selector & 0xfffc) | ext);
    }
    return tss_read(cpu, off, 8, rsp);
}

/* ------------------------------------------------------------------ */
/* Segment-register loads.                                             */

/*
 * Real-address and virtual-8086 mode (SDM Vol. 3B 20.1.1, 20.2.1): the
 * base becomes selector * 16.
 *  - Real mode: only selector and base change; limit and attributes keep
 *    whatever the last protected-mode load left (reset: 64 KiB, 16-bit).
 *    This is the "unreal mode" real processors show: code that loads a 4 GiB
 *    segment in protected mode and returns to real mode keeps the 4 GiB
 *    limit (and D/B) until it reloads the register in protected mode. The
 *    SDM (9.9.2) accordingly asks software to load 64 KiB segments before
 *    it clears PE.
 *  - Virtual-8086 mode: every load gives a 64 KiB, 16-bit, present, DPL 3
 *    segment (read/write data, or execute/read code for CS).
 */
void x86_load_seg_real(X86Cpu *cpu, unsigned seg, uint16_t selector)
{
    X86Seg *s = &cpu->segs[seg];
    s->selector = selector;
    s->base = (uint64_t)selector << 4;
    if (cpu->eflags & X86_VM) {
        s->limit = 0xffff;
        s->attr = (seg == S_CS ? 0xbu : 0x3u) | X86_SEGA_S | (3u << 5) | X86_SEGA_P;
    }
}

/*
 * MOV/POP (and LDS/LES/LFS/LGS/LSS) to DS, ES, FS, GS or SS (SDM Vol. 2
 * MOV "Operation", Vol. 3A 5.7):
 *  - real / virtual-8086 mode: x86_load_seg_real;
 *  - null selector: DS/ES/FS/GS are loaded with it (base 0, unusable, as
 *    Intel processors do also for FS/GS in 64-bit mode); SS: #GP(0), except
 *    in 64-bit mode at CPL < 3 with RPL = CPL (SDM Vol. 2 MOV, 64-bit mode
 *    exceptions);
 *  - index beyond the table: #GP(sel);
 *  - SS: RPL = CPL, a writable data segment, DPL = CPL, else #GP(sel); not
 *    present: #SS(sel);
 *  - others: data or readable code, and for data or non-conforming code
 *    RPL <= DPL and CPL <= DPL, else #GP(sel); not present: #NP(sel);
 *  - then the accessed bit is set and the cache loaded.
 * Loading SS inhibits interrupts until the next instruction ends (MOV SS,
 * POP SS; LSS gets the same, which is harmless).
 * CS is not loadable this way (MOV CS is #UD).
 */
bool x86_load_seg(X86Cpu *cpu, unsigned seg, uint16_t selector)
{
    if (seg == S_CS || seg > S_GS) {
        x86_raise(cpu, X86_EXC_UD, 0, false);
        return false;
    }
    if (!pmode(cpu)) {
        x86_load_seg_real(cpu, seg, selector);
        if (seg == S_SS) {
            cpu->irq_shadow = true;
        }
        return true;
    }
    unsigned cpl = cpu->cpl, rpl = selector & 3;
    uint64_t lo, hi;
    if (seg == S_SS) {
        if (sel_null(selector)) {
            if (mode64(cpu) && cpl < 3 && rpl == cpl) {
                x86_seg_null_ss64(&cpu->segs[S_SS], cpl);
                cpu->segs[S_SS].selector = selector;
                cpu->irq_shadow = true;
                return true;
            }
            return fail(cpu, X86_EXC_GP, 0);
        }
        if (!read_desc_gp(cpu, selector, &lo, &hi, 0)) {
            return false;
        }
        if (rpl != cpl || !d_writable_data(lo) || D_DPL(lo) != cpl) {
            return fail_sel(cpu, X86_EXC_GP, selector);
        }
        if (!D_P(lo)) {
            return fail_sel(cpu, X86_EXC_SS, selector);
        }
    } else {
        if (sel_null(selector)) {
            cpu->segs[seg] = (X86Seg){ selector, 0, 0, 0 };
            return true;
        }
        if (!read_desc_gp(cpu, selector, &lo, &hi, 0)) {
            return false;
        }
        if (!d_readable(lo) ||
            (!d_conforming(lo) && (rpl > D_DPL(lo) || cpl > D_DPL(lo)))) {
            return fail_sel(cpu, X86_EXC_GP, selector);
        }
        if (!D_P(lo)) {
            return fail_sel(cpu, X86_EXC_NP, selector);
        }
    }
    if (!x86_desc_set_accessed(cpu, selector, lo)) {
        return false;
    }
    x86_seg_from_descriptor(&cpu->segs[seg], selector, lo, 0);
    if (seg == S_SS) {
        cpu->irq_shadow = true;
    }
    return true;
}

/*
 * After a return to an outer privilege level (RETF, IRET: SDM Vol. 2
 * "FOR each SegReg in (ES, FS, GS, and DS)"): a data segment register
 * holding a null selector, or a segment of DPL < the new CPL that is data
 * or non-conforming code, is made null (selector 0, unusable; the base is
 * kept, which only matters to FS/GS in 64-bit mode).
 */
static void null_inaccessible_data_segs(X86Cpu *cpu)
{
    static const unsigned regs[] = { S_ES, S_FS, S_GS, S_DS };
    for (unsigned i = 0; i < G_N_ELEMENTS(regs); i++) {
        X86Seg *s = &cpu->segs[regs[i]];
        unsigned type = X86_SEGA_TYPE(s->attr);
        bool conforming_code = (s->attr & X86_SEGA_S) && (type & 8) && (type & 4);
        if (sel_null(s->selector) || (X86_SEGA_DPL(s->attr) < cpu->cpl && !conforming_code)) {
            s->selector = 0;
            s->attr &= ~X86_SEGA_P;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Far JMP and CALL.                                                   */

/*
 * JMP/CALL to a code segment directly (SDM Vol. 2 JMP and CALL,
 * CONFORMING-CODE-SEGMENT / NONCONFORMING-CODE-SEGMENT): L = D = 1 in
 * IA-32e mode, conforming with DPL > CPL, non-conforming with RPL > CPL or
 * DPL != CPL: #GP(sel); not present: #NP(sel).
 */
static bool check_direct_code(X86Cpu *cpu, uint16_t sel, uint64_t lo)
{
    unsigned cpl = cpu->cpl, dpl = D_DPL(lo);
    if (x86_long_mode(cpu) && D_L(lo) && D_DB(lo)) {
        return fail_sel(cpu, X86_EXC_GP, sel);
    }
    if (d_conforming(lo) ? dpl > cpl : ((sel & 3u) > cpl || dpl != cpl)) {
        return fail_sel(cpu, X86_EXC_GP, sel);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_NP, sel);
    }
    return true;
}

/* The new instruction pointer against the new code segment: canonical for
 * a 64-bit target, else within the limit; #GP(0) otherwise. */
static bool check_target_ip(X86Cpu *cpu, uint64_t lo, uint64_t ip)
{
    if (target64(cpu, lo)) {
        return canonical(ip) || fail(cpu, X86_EXC_GP, 0);
    }
    X86Seg tmp;
    x86_seg_from_descriptor(&tmp, 0, lo, 0);
    return ip <= tmp.limit || fail(cpu, X86_EXC_GP, 0);
}

/* A call gate, checked (SDM Vol. 2 JMP/CALL "CALL-GATE", 5.8.3, 5.8.3.1). */
typedef struct Gate {
    uint16_t cs_sel;
    uint64_t cs_lo;
    uint64_t ip;
    unsigned size;    /* 2, 4 or 8 */
    unsigned count;   /* parameters to copy (legacy gates) */
} Gate;

static bool check_call_gate(X86Cpu *cpu, uint16_t gsel, uint64_t lo, uint64_t hi, bool is_call,
                            Gate *g)
{
    unsigned cpl = cpu->cpl;
    bool lma = x86_long_mode(cpu);
    uint64_t cs_hi;
    if (D_DPL(lo) < cpl || D_DPL(lo) < (gsel & 3u)) {
        return fail_sel(cpu, X86_EXC_GP, gsel);
    }
    if (!D_P(lo)) {
        return fail_sel(cpu, X86_EXC_NP, gsel);
    }
    /* 64-bit call gate: the upper half's type field must be 0 (5.8.3.1). */
    if (lma && ((hi >> 40) & 0x1f) != 0) {
        return fail_sel(cpu, X86_EXC_GP, gsel);
    }
    g->cs_sel = (uint16_t)(lo >> 16);
    if (sel_null(g->cs_sel)) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    if (!read_desc_gp(cpu, g->cs_sel, &g->cs_lo, &cs_hi, 0)) {
        return false;
    }
    uint64_t c = g->cs_lo;
    unsigned dpl = D_DPL(c);
    if (!d_code(c) ||
        (is_call ? dpl > cpl : (d_conforming(c) ? dpl > cpl : dpl != cpl))) {
        return fail_sel(cpu, X86_EXC_GP, g->cs_sel);
    }
    if (lma && (!D_L(c) || D_DB(c))) {
        return fail_sel(cpu, X86_EXC_GP, g->cs_sel);
    }
    if (!D_P(c)) {
        return fail_sel(cpu, X86_EXC_NP, g->cs_sel);
    }
    g->ip = (lo & 0xffff) | ((lo >> 32) & 0xffff0000u);
    if (lma) {
        g->size = 8;
        g->ip |= (hi & 0xffffffffu) << 32;
        g->count = 0;
    } else {
        g->size = D_TYPE(lo) == 0x4 ? 2 : 4;
        g->ip &= x86_mask(g->size);
        g->count = (unsigned)(lo >> 32) & 0x1f;
    }
    return true;
}

/* System descriptor as a JMP/CALL target, other than a task switch's:
 * which kinds are allowed (SDM Vol. 2 JMP/CALL: in IA-32e mode only 64-bit
 * call gates; a busy TSS is #GP(selector)). */
static bool check_system_target(X86Cpu *cpu, uint16_t sel, uint64_t lo)
{
    unsigned type = D_TYPE(lo);
    if (x86_long_mode(cpu)) {
        return type == 0xc || fail_sel(cpu, X86_EXC_GP, sel);
    }
    return type == 0x4 || type == 0xc || fail_sel(cpu, X86_EXC_GP, sel);
}

/* An available 16- or 32-bit TSS or a task gate outside IA-32e mode: the
 * JMP/CALL is a task switch (SDM 7.3; x86_task.c). */
static bool task_target(const X86Cpu *cpu, uint64_t lo)
{
    unsigned type = D_TYPE(lo);
    return !x86_long_mode(cpu) && (type == 0x1 || type == 0x5 || type == 0x9);
}

/*
 * JMP ptr16:16/32, JMP m16:16/32/64 (SDM Vol. 2 JMP). `off` is the offset
 * operand, masked here to the operand size.
 */
bool x86_far_jump(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize)
{
    uint64_t ip = off & x86_mask(opsize);
    if (!pmode(cpu)) {
        /* Real / virtual-8086: the limit kept by the CS cache applies. */
        if (ip > cpu->segs[S_CS].limit) {
            return fail(cpu, X86_EXC_GP, 0);
        }
        x86_load_seg_real(cpu, S_CS, sel);
        cpu->rip = ip;
        return true;
    }
    if (sel_null(sel)) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    uint64_t lo, hi;
    if (!read_desc_gp(cpu, sel, &lo, &hi, 0)) {
        return false;
    }
    uint64_t cs_lo = lo;
    uint16_t cs_sel = sel;
    if (D_S(lo)) {
        if (!d_code(lo)) {
            return fail_sel(cpu, X86_EXC_GP, sel);
        }
        if (!check_direct_code(cpu, sel, lo)) {
            return false;
        }
    } else {
        Gate g;
        if (task_target(cpu, lo)) {
            return x86_task_far(cpu, sel, lo, false);
        }
        if (!check_system_target(cpu, sel, lo) ||
            !check_call_gate(cpu, sel, lo, hi, false, &g)) {
            return false;
        }
        cs_sel = g.cs_sel;
        cs_lo = g.cs_lo;
        ip = g.ip;
    }
    if (!check_target_ip(cpu, cs_lo, ip) || !x86_desc_set_accessed(cpu, cs_sel, cs_lo)) {
        return false;
    }
    x86_commit_cs(cpu, cs_sel, cs_lo, cpu->cpl);
    cpu->rip = ip;
    return true;
}

/* CALL through a call gate to a more privileged non-conforming segment
 * (SDM Vol. 2 CALL "MORE-PRIVILEGE", 5.8.5, 5.8.5.1 for 64-bit gates). */
static bool call_gate_inner(X86Cpu *cpu, const Gate *g, uint64_t ret)
{
    unsigned new_cpl = D_DPL(g->cs_lo);
    unsigned gsz = g->size;
    X86Seg new_ss;
    uint16_t ss_sel;
    uint64_t ss_lo = 0, sp;
    X86Stk st;
    if (gsz == 8) {
        /* 64-bit TSS: RSPn; SS becomes null with RPL = new CPL. */
        if (!x86_tss64_rsp(cpu, new_cpl, 0, &sp)) {
            return false;
        }
        x86_seg_null_ss64(&new_ss, new_cpl);
        ss_sel = new_ss.selector;
        x86_stk_new(&st, &new_ss, sp, 8, new_cpl < 3, 0);
    } else {
        uint64_t ss_hi;
        if (!x86_tss_legacy_stack(cpu, new_cpl, 0, &ss_sel, &sp)) {
            return false;
        }
        if (sel_null(ss_sel)) {
            return fail(cpu, X86_EXC_TS, 0);
        }
        bool bad;
        if (!x86_read_descriptor(cpu, ss_sel, &ss_lo, &ss_hi, &bad)) {
            return bad ? fail_sel(cpu, X86_EXC_TS, ss_sel) : false;
        }
        if ((ss_sel & 3u) != new_cpl || D_DPL(ss_lo) != new_cpl || !d_writable_data(ss_lo)) {
            return fail_sel(cpu, X86_EXC_TS, ss_sel);
        }
        if (!D_P(ss_lo)) {
            return fail_sel(cpu, X86_EXC_SS, ss_sel);
        }
        x86_seg_from_descriptor(&new_ss, ss_sel, ss_lo, 0);
        x86_stk_new(&st, &new_ss, sp, D_DB(ss_lo) ? 4 : 2, new_cpl < 3, ss_sel & 0xfffc);
    }
    /* Old SS:ESP, the parameters (highest address first, so their order is
     * kept), then the return address. Parameters are read at the old CPL. */
    X86Stk old;
    x86_stk_current(cpu, &old);
    if (!x86_stk_push(cpu, &st, gsz, cpu->segs[S_SS].selector) ||
        !x86_stk_push(cpu, &st, gsz, cpu->regs[R_SP])) {
        return false;
    }
    for (unsigned i = g->count; i-- > 0;) {
        uint64_t v;
        if (!x86_stk_peek(cpu, &old, (uint64_t)i * gsz, gsz, &v) ||
            !x86_stk_push(cpu, &st, gsz, v)) {
            return false;
        }
    }
    if (!x86_stk_push(cpu, &st, gsz, cpu->segs[S_CS].selector) ||
        !x86_stk_push(cpu, &st, gsz, ret)) {
        return false;
    }
    if (!check_target_ip(cpu, g->cs_lo, g->ip) ||
        !x86_desc_set_accessed(cpu, g->cs_sel, g->cs_lo) ||
        (gsz != 8 && !x86_desc_set_accessed(cpu, ss_sel, ss_lo))) {
        return false;
    }
    cpu->segs[S_SS] = new_ss;
    x86_stk_commit(cpu, &st);
    x86_commit_cs(cpu, g->cs_sel, g->cs_lo, new_cpl);
    cpu->rip = g->ip;
    return true;
}

/*
 * CALL ptr16:16/32, CALL m16:16/32/64 (SDM Vol. 2 CALL). The return address
 * is cpu->next_rip. Same-privilege calls push CS and the return address
 * with the operand size (the gate's size through a gate) on the current
 * stack; calls through a gate to a more privileged segment switch stacks.
 */
bool x86_far_call(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize)
{
    uint64_t ret = cpu->next_rip;
    uint64_t ip = off & x86_mask(opsize);
    X86Stk st;
    x86_stk_current(cpu, &st);
    if (!pmode(cpu)) {
        if (!x86_stk_push(cpu, &st, opsize, cpu->segs[S_CS].selector) ||
            !x86_stk_push(cpu, &st, opsize, ret)) {
            return false;
        }
        if (ip > cpu->segs[S_CS].limit) {
            return fail(cpu, X86_EXC_GP, 0);
        }
        x86_stk_commit(cpu, &st);
        x86_load_seg_real(cpu, S_CS, sel);
        cpu->rip = ip;
        return true;
    }
    if (sel_null(sel)) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    uint64_t lo, hi;
    if (!read_desc_gp(cpu, sel, &lo, &hi, 0)) {
        return false;
    }
    if (D_S(lo)) {
        if (!d_code(lo)) {
            return fail_sel(cpu, X86_EXC_GP, sel);
        }
        if (!check_direct_code(cpu, sel, lo) ||
            !x86_stk_push(cpu, &st, opsize, cpu->segs[S_CS].selector) ||
            !x86_stk_push(cpu, &st, opsize, ret)) {
            return false;
        }
        if (x86_long_mode(cpu) && !D_L(lo)) {
            ip &= 0xffffffffu;  /* target is compatibility mode */
        }
        if (!check_target_ip(cpu, lo, ip) || !x86_desc_set_accessed(cpu, sel, lo)) {
            return false;
        }
        x86_stk_commit(cpu, &st);
        x86_commit_cs(cpu, sel, lo, cpu->cpl);
        cpu->rip = ip;
        return true;
    }
    Gate g;
    if (task_target(cpu, lo)) {
        return x86_task_far(cpu, sel, lo, true);
    }
    if (!check_system_target(cpu, sel, lo) ||
        !check_call_gate(cpu, sel, lo, hi, true, &g)) {
        return false;
    }
    if (!d_conforming(g.cs_lo) && D_DPL(g.cs_lo) < cpu->cpl) {
        return call_gate_inner(cpu, &g, ret);
    }
    /* SAME-PRIVILEGE: pushes of the gate's size; a 64-bit gate makes the
     * stack 64-bit whatever the caller's mode. */
    if (g.size == 8 && !st.flat) {
        x86_stk_new(&st, &cpu->segs[S_SS], cpu->regs[R_SP], 8, false, 0);
    }
    if (!x86_stk_push(cpu, &st, g.size, cpu->segs[S_CS].selector) ||
        !x86_stk_push(cpu, &st, g.size, ret) ||
        !check_target_ip(cpu, g.cs_lo, g.ip) ||
        !x86_desc_set_accessed(cpu, g.cs_sel, g.cs_lo)) {
        return false;
    }
    x86_stk_commit(cpu, &st);
    x86_commit_cs(cpu, g.cs_sel, g.cs_lo, cpu->cpl);
    cpu->rip = g.ip;
    return true;
}

/* ------------------------------------------------------------------ */
/* RETF and IRET.                                                      */

/*
 * The code segment a RETF/IRET returns to (SDM Vol. 2 RET/IRET "PROTECTED-
 * MODE-RETURN"): null: #GP(0); beyond the table, not code, L = D = 1 in
 * IA-32e mode, RPL < CPL, conforming with DPL > RPL, non-conforming with
 * DPL != RPL: #GP(sel); not present: #NP(sel).
 */
static bool check_return_cs(X86Cpu *cpu, uint16_t sel, uint64_t *lo)
{
    uint64_t hi;
    unsigned rpl = sel & 3;
    if (sel_null(sel)) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    if (!read_desc_gp(cpu, sel, lo, &hi, 0)) {
        return false;
    }
    if (!d_code(*lo) || (x86_long_mode(cpu) && D_L(*lo) && D_DB(*lo)) || rpl < cpu->cpl ||
        (d_conforming(*lo) ? D_DPL(*lo) > rpl : D_DPL(*lo) != rpl)) {
        return fail_sel(cpu, X86_EXC_GP, sel);
    }
    if (!D_P(*lo)) {
        return fail_sel(cpu, X86_EXC_NP, sel);
    }
    return true;
}

/*
 * The stack segment a return to CS (descriptor cs_lo, RPL rpl) pops (SDM
 * Vol. 2 RET/IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"): null: #GP(0), except
 * in IA-32e mode for a 64-bit CS with RPL != 3, which loads a null SS;
 * beyond the table, RPL != CS.RPL, not writable data, DPL != CS.RPL:
 * #GP(sel); not present: #SS(sel). Fills *ss (the new cache).
 */
static bool check_return_ss(X86Cpu *cpu, uint16_t sel, uint64_t cs_lo, unsigned rpl, X86Seg *ss,
                            uint64_t *ss_lo)
{
    uint64_t hi;
    *ss_lo = 0;
    if (sel_null(sel)) {
        if (target64(cpu, cs_lo) && rpl != 3) {
            x86_seg_null_ss64(ss, rpl);
            ss->selector = sel;
            return true;
        }
        return fail(cpu, X86_EXC_GP, 0);
    }
    if (!read_desc_gp(cpu, sel, ss_lo, &hi, 0)) {
        return false;
    }
    if ((sel & 3u) != rpl || !d_writable_data(*ss_lo) || D_DPL(*ss_lo) != rpl) {
        return fail_sel(cpu, X86_EXC_GP, sel);
    }
    if (!D_P(*ss_lo)) {
        return fail_sel(cpu, X86_EXC_SS, sel);
    }
    x86_seg_from_descriptor(ss, sel, *ss_lo, 0);
    return true;
}

/* Return-address check for the new CS: canonical in 64-bit mode, else the
 * limit (#GP(0)). */
static bool check_return_ip(X86Cpu *cpu, uint64_t cs_lo, uint64_t ip)
{
    return check_target_ip(cpu, cs_lo, ip);
}

/* Commit a return to an outer level (or IRET's SS:RSP pop): CS (CPL =
 * rpl), SS, (E/R)SP = the popped value (opsize wide), then + adjust with
 * the new stack's address size (RETF imm16 on the outer stack). */
static void commit_outer(X86Cpu *cpu, uint16_t cs_sel, uint64_t cs_lo, unsigned rpl,
                         const X86Seg *ss, uint64_t new_sp, unsigned opsize, uint64_t adjust)
{
    x86_commit_cs(cpu, cs_sel, cs_lo, rpl);
    cpu->segs[S_SS] = *ss;
    x86_set_reg(cpu, R_SP, opsize, new_sp);
    unsigned size = x86_stack_size(cpu);
    x86_set_reg(cpu, R_SP, size, (cpu->regs[R_SP] + adjust) & x86_mask(size));
}

/*
 * RETF [imm16] (SDM Vol. 2 RET, far returns): pop (E/R)IP and CS with the
 * operand size; release `pop_bytes` of parameters; to an outer privilege
 * level also pop (E/R)SP and SS (and release the parameters again on the
 * outer stack), then null the data segment registers the new CPL may not
 * use.
 */
bool x86_far_ret(X86Cpu *cpu, unsigned opsize, uint16_t pop_bytes)
{
    X86Stk st;
    uint64_t ip, csv;
    x86_stk_current(cpu, &st);
    if (!x86_stk_pop(cpu, &st, opsize, &ip) || !x86_stk_pop(cpu, &st, opsize, &csv)) {
        return false;
    }
    uint16_t cs_sel = (uint16_t)csv;
    if (!pmode(cpu)) {
        if (ip > cpu->segs[S_CS].limit) {
            return fail(cpu, X86_EXC_GP, 0);
        }
        st.sp = (st.sp + pop_bytes) & x86_mask(st.sp_size);
        x86_stk_commit(cpu, &st);
        x86_load_seg_real(cpu, S_CS, cs_sel);
        cpu->rip = ip;
        return true;
    }
    uint64_t cs_lo;
    if (!check_return_cs(cpu, cs_sel, &cs_lo)) {
        return false;
    }
    unsigned rpl = cs_sel & 3;
    st.sp = (st.sp + pop_bytes) & x86_mask(st.sp_size);
    if (rpl > cpu->cpl) {
        uint64_t sp, ssv, ss_lo;
        X86Seg ss;
        if (!x86_stk_pop(cpu, &st, opsize, &sp) || !x86_stk_pop(cpu, &st, opsize, &ssv) ||
            !check_return_ss(cpu, (uint16_t)ssv, cs_lo, rpl, &ss, &ss_lo) ||
            !check_return_ip(cpu, cs_lo, ip) ||
            !x86_desc_set_accessed(cpu, cs_sel, cs_lo) ||
            (ss_lo && !x86_desc_set_accessed(cpu, (uint16_t)ssv, ss_lo))) {
            return false;
        }
        commit_outer(cpu, cs_sel, cs_lo, rpl, &ss, sp, opsize, pop_bytes);
        null_inaccessible_data_segs(cpu);
        cpu->rip = ip;
        return true;
    }
    if (!check_return_ip(cpu, cs_lo, ip) || !x86_desc_set_accessed(cpu, cs_sel, cs_lo)) {
        return false;
    }
    x86_stk_commit(cpu, &st);
    x86_commit_cs(cpu, cs_sel, cs_lo, cpu->cpl);
    cpu->rip = ip;
    return true;
}

/* EFLAGS bits IRET always restores: CF PF AF ZF SF TF DF OF NT. */
#define IRET_BASE_FLAGS 0x4dd5u
/* Every defined bit of FLAGS (bits 0-15) and of EFLAGS as real-mode
 * IRETD restores them (SDM Vol. 2 IRET: AND 257FD5H; VM VIF VIP kept). */
#define FLAGS16_DEFINED 0x7fd5u
#define IRET_REAL32_FLAGS 0x257fd5u

/* IRETD from CPL 0 to virtual-8086 mode (SDM Vol. 2 IRET
 * "RETURN-TO-VIRTUAL-8086-MODE"): after EIP, CS, EFLAGS come ESP, SS, ES,
 * DS, FS, GS (32-bit pops); everything is loaded 8086-style; CPL = 3. */
static bool iret_to_v86(X86Cpu *cpu, X86Stk *st, uint64_t ip, uint16_t cs_sel, uint32_t flags)
{
    uint64_t v[6];
    for (unsigned i = 0; i < 6; i++) {
        if (!x86_stk_pop(cpu, st, 4, &v[i])) {
            return false;
        }
    }
    if (ip > 0xffff) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    x86_set_eflags(cpu, flags, 0x3f7fd5u);
    static const unsigned order[5] = { S_SS, S_ES, S_DS, S_FS, S_GS };
    x86_load_seg_real(cpu, S_CS, cs_sel);
    for (unsigned i = 0; i < 5; i++) {
        x86_load_seg_real(cpu, order[i], (uint16_t)v[i + 1]);
    }
    cpu->regs[R_SP] = (uint32_t)v[0];
    cpu->cpl = 3;
    x86_update_mode(cpu);
    cpu->rip = ip;
    return true;
}

/*
 * IRET/IRETD/IRETQ (SDM Vol. 2 IRET; Vol. 3A 6.14.3 for IA-32e mode):
 *  - real mode: pop IP, CS, FLAGS (32-bit: EFLAGS & 257FD5H, VM/VIF/VIP kept);
 *  - virtual-8086 mode: the same with IOPL kept, if IOPL = 3; else #GP(0)
 *    (the monitor's job);
 *  - protected mode, NT = 1: a task return to the previous task
 *    (x86_task_return, SDM 7.3); in IA-32e mode NT = 1 is #GP(0);
 *  - protected/IA-32e mode: pop (E/R)IP, CS, (E/R)FLAGS; EFLAGS.VM = 1 in
 *    the image at CPL 0 (32-bit, not IA-32e) returns to virtual-8086 mode;
 *    otherwise check CS; pop SS:(E/R)SP when returning to an outer level,
 *    and always in 64-bit mode (6.14.3); restore the flags the CPL and IOPL
 *    allow; on an outer return, null the data segments the new CPL may not
 *    use.
 */
bool x86_iret(X86Cpu *cpu, unsigned opsize)
{
    X86Stk st;
    uint64_t ip, csv, fl;
    x86_stk_current(cpu, &st);
    bool pe = (cpu->cr0 & X86_CR0_PE) != 0;
    bool vm = (cpu->eflags & X86_VM) != 0;
    unsigned iopl = (cpu->eflags >> 12) & 3;
    if (pe && vm && iopl < 3) {
        return fail(cpu, X86_EXC_GP, 0);
    }
    if (pe && !vm && (cpu->eflags & X86_NT)) {
        if (x86_long_mode(cpu)) {
            return fail(cpu, X86_EXC_GP, 0);
        }
        return x86_task_return(cpu);
    }
    if (!x86_stk_pop(cpu, &st, opsize, &ip) || !x86_stk_pop(cpu, &st, opsize, &csv) ||
        !x86_stk_pop(cpu, &st, opsize, &fl)) {
        return false;
    }
    uint16_t cs_sel = (uint16_t)csv;
    uint32_t flags = (uint32_t)fl;
    if (!pe || vm) {
        uint32_t mask = opsize == 2 ? FLAGS16_DEFINED : IRET_REAL32_FLAGS;
        if (vm) {
            mask &= ~(uint32_t)X86_IOPL;
        }
        if (ip > cpu->segs[S_CS].limit) {
            return fail(cpu, X86_EXC_GP, 0);
        }
        x86_stk_commit(cpu, &st);
        x86_load_seg_real(cpu, S_CS, cs_sel);
        x86_set_eflags(cpu, flags, mask);
        cpu->rip = ip;
        return true;
    }
    if (!x86_long_mode(cpu) && opsize == 4 && (flags & X86_VM) && cpu->cpl == 0) {
        return iret_to_v86(cpu, &st, ip, cs_sel, flags);
    }
    uint64_t cs_lo;
    if (!check_return_cs(cpu, cs_sel, &cs_lo)) {
        return false;
    }
    unsigned old_cpl = cpu->cpl, rpl = cs_sel & 3;
    bool outer = rpl > old_cpl;
    bool pop_ss = outer || mode64(cpu);
    X86Seg ss;
    uint64_t sp = 0, ssv = 0, ss_lo = 0;
    if (pop_ss) {
        if (!x86_stk_pop(cpu, &st, opsize, &sp) || !x86_stk_pop(cpu, &st, opsize, &ssv) ||
            !check_return_ss(cpu, (uint16_t)ssv, cs_lo, rpl, &ss, &ss_lo)) {
            return false;
        }
    }
    if (!check_return_ip(cpu, cs_lo, ip) || !x86_desc_set_accessed(cpu, cs_sel, cs_lo) ||
        (ss_lo && !x86_desc_set_accessed(cpu, (uint16_t)ssv, ss_lo))) {
        return false;
    }
    uint32_t mask = IRET_BASE_FLAGS;
    if (opsize >= 4) {
        mask |= X86_RF | X86_AC | X86_ID;
    }
    if (old_cpl <= iopl) {
        mask |= X86_IF;
    }
    if (old_cpl == 0) {
        mask |= X86_IOPL;
        if (opsize >= 4) {
            mask |= X86_VIF | X86_VIP;
        }
    }
    if (opsize == 2) {
        mask &= 0xffff;
    }
    if (pop_ss) {
        commit_outer(cpu, cs_sel, cs_lo, rpl, &ss, sp, opsize, 0);
    } else {
        x86_stk_commit(cpu, &st);
        x86_commit_cs(cpu, cs_sel, cs_lo, rpl);
    }
    x86_set_eflags(cpu, flags, mask);
    if (outer) {
        null_inaccessible_data_segs(cpu);
    }
    cpu->rip = ip;
    return true;
}
