/*
 * System instructions (SDM Vol. 2): MOV to/from CRn and DRn, CPUID,
 * RDMSR/WRMSR, RDTSC/RDTSCP, LGDT/LIDT/SGDT/SIDT, LLDT/LTR/SLDT/STR,
 * LMSW/SMSW, CLTS, INVLPG, WBINVD/INVD, SWAPGS, SYSCALL/SYSRET,
 * SYSENTER/SYSEXIT, HLT, CLI/STI, CLD/STD, CLAC/STAC, ARPL, LAR/LSL,
 * VERR/VERW and UD0/UD2.
 *
 * Segment loading, far transfers, control-register and MSR semantics are
 * x86_seg.c / x86_sys.c's; these handlers do the privilege and operand
 * checks the instruction pages list and call them.
 */
#include "targets/x86/x86_insn.h"

#define X86_CR4_UMIP (1u << 11)

/* Descriptor fields (SDM Vol. 3A 3.4.5). */
static inline uint32_t desc_attr(uint64_t lo)
{
    return (uint32_t)(lo >> 40) & 0xffff;
}

static inline uint32_t desc_limit(uint64_t lo)
{
    uint32_t limit = (uint32_t)(lo & 0xffff) | ((uint32_t)(lo >> 32) & 0xf0000);
    return (desc_attr(lo) & X86_SEGA_G) ? (limit << 12) | 0xfff : limit;
}

/* CPL 0 (real mode counts as CPL 0, virtual-8086 mode as 3). */
static inline bool priv0(const X86Cpu *cpu)
{
    return x86i_cpl(cpu) == 0;
}

/* UMIP: SGDT/SIDT/SLDT/STR/SMSW are #GP(0) at CPL > 0. */
static inline bool umip_blocks(const X86Cpu *cpu)
{
    return (cpu->cr4 & X86_CR4_UMIP) && x86i_cpl(cpu) > 0;
}

/* --- MOV CRn / DRn --- */

int x86i_mov_cr(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    bool to_cr = d->kind == X86_OPK_CREG;
    unsigned n = to_cr ? d->reg : s->reg;
    if (n != 0 && n != 2 && n != 3 && n != 4 && !(n == 8 && x86i_mode64(cpu))) {
        return x86i_ud(cpu);
    }
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    if (!to_cr) {
        uint64_t v;
        switch (n) {
        case 0: v = cpu->cr0; break;
        case 2: v = cpu->cr2; break;
        case 3: v = cpu->cr3; break;
        case 4: v = cpu->cr4; break;
        default: /* CR8 is the APIC's TPR[7:4] where the machine has an APIC (SDM 10.8.6.1) */
            v = cpu->mops && cpu->mops->get_tpr ? (uint64_t)(cpu->mops->get_tpr(cpu->machine, cpu) >> 4)
                                                : cpu->cr8;
            break;
        }
        x86_set_reg(cpu, d->reg, d->size, v);
        return X86_R_NEXT;
    }
    uint64_t v = cpu->regs[s->reg] & x86_mask(s->size);
    return x86_write_cr(cpu, n, v) ? X86_R_STOP : X86_R_EXC;
}

int x86i_mov_dr(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    bool to_dr = d->kind == X86_OPK_DREG;
    unsigned n = to_dr ? d->reg : s->reg;
    if (n > 7 || ((n == 4 || n == 5) && (cpu->cr4 & X86_CR4_DE))) {
        return x86i_ud(cpu);
    }
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    if (n == 4 || n == 5) {
        n += 2;  /* DR4/DR5 alias DR6/DR7 when CR4.DE = 0 */
    }
    if (!to_dr) {
        x86_set_reg(cpu, d->reg, d->size, cpu->dr[n]);
        return X86_R_NEXT;
    }
    uint64_t v = cpu->regs[s->reg] & x86_mask(s->size);
    if (n >= 6) {
        if (v >> 32) {
            return x86i_gp0(cpu);  /* upper half of DR6/DR7 must be zero */
        }
        v = n == 6 ? (v | 0xfffe0ff0u) & ~0x1000ull : (v | 0x400) & ~0xd000ull;
    }
    cpu->dr[n] = v;
    return X86_R_NEXT;
}

/* --- Identification, MSRs, time stamp --- */

static int h_cpuid(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    uint32_t out[4];
    x86_cpuid(cpu, (uint32_t)cpu->regs[R_AX], (uint32_t)cpu->regs[R_CX], out);
    x86_set_reg(cpu, R_AX, 4, out[0]);
    x86_set_reg(cpu, R_BX, 4, out[1]);
    x86_set_reg(cpu, R_CX, 4, out[2]);
    x86_set_reg(cpu, R_DX, 4, out[3]);
    return X86_R_NEXT;
}

static int h_rdmsr(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    uint64_t v;
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    if (!x86_rdmsr(cpu, (uint32_t)cpu->regs[R_CX], &v)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, R_AX, 4, v & 0xffffffffu);
    x86_set_reg(cpu, R_DX, 4, v >> 32);
    return X86_R_NEXT;
}

static int h_wrmsr(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    uint64_t v = (cpu->regs[R_DX] & 0xffffffffu) << 32 | (cpu->regs[R_AX] & 0xffffffffu);
    return x86_wrmsr(cpu, (uint32_t)cpu->regs[R_CX], v) ? X86_R_STOP : X86_R_EXC;
}

static int rdtsc(X86Cpu *cpu, bool aux)
{
    if ((cpu->cr4 & X86_CR4_TSD) && x86i_cpl(cpu) > 0) {
        return x86i_gp0(cpu);
    }
    uint64_t tsc = cpu->icount + cpu->tsc_offset;
    x86_set_reg(cpu, R_AX, 4, tsc & 0xffffffffu);
    x86_set_reg(cpu, R_DX, 4, tsc >> 32);
    if (aux) {
        x86_set_reg(cpu, R_CX, 4, cpu->tsc_aux & 0xffffffffu);
    }
    return X86_R_NEXT;
}

static int h_rdtsc(X86Cpu *cpu, const X86Insn *in) { return rdtsc(cpu, false); }
static int h_rdtscp(X86Cpu *cpu, const X86Insn *in) { return rdtsc(cpu, true); }

/* --- Descriptor tables --- */

static int load_table(X86Cpu *cpu, const X86Insn *in, X86Table *t)
{
    const X86Operand *m = &in->op[0];
    uint64_t limit, base;
    if (m->kind != X86_OPK_MEM || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    bool m64 = x86i_mode64(cpu);
    uint64_t ea = x86_ea(cpu, in, m);
    if (!x86_read_seg(cpu, m->seg, ea, 2, &limit) ||
        !x86_read_seg(cpu, m->seg, (ea + 2) & x86_mask(in->addrsize), m64 ? 8 : 4, &base)) {
        return X86_R_EXC;
    }
    if (m64) {
        if ((uint64_t)((int64_t)(base << 16) >> 16) != base) {
            return x86i_gp0(cpu);
        }
    } else if (x86i_real_opsize(cpu, in) == 2) {
        base &= 0xffffff;  /* 16-bit operand size: a 24-bit base */
    }
    t->base = base;
    t->limit = (uint32_t)limit;
    return X86_R_NEXT;
}

static int store_table(X86Cpu *cpu, const X86Insn *in, const X86Table *t)
{
    const X86Operand *m = &in->op[0];
    if (m->kind != X86_OPK_MEM || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (umip_blocks(cpu)) {
        return x86i_gp0(cpu);
    }
    unsigned bsize = x86i_mode64(cpu) ? 8 : 4;  /* full 32-bit base whatever the operand size */
    uint64_t ea = x86_ea(cpu, in, m);
    uint64_t ea2 = (ea + 2) & x86_mask(in->addrsize);
    if (!x86_check_seg(cpu, m->seg, ea2, bsize, true) ||
        !x86_write_seg(cpu, m->seg, ea, 2, t->limit & 0xffff) ||
        !x86_write_seg(cpu, m->seg, ea2, bsize, t->base & x86_mask(bsize))) {
        return X86_R_EXC;
    }
    return X86_R_NEXT;
}

static int h_lgdt(X86Cpu *cpu, const X86Insn *in) { return load_table(cpu, in, &cpu->gdtr); }
static int h_lidt(X86Cpu *cpu, const X86Insn *in) { return load_table(cpu, in, &cpu->idtr); }
static int h_sgdt(X86Cpu *cpu, const X86Insn *in) { return store_table(cpu, in, &cpu->gdtr); }
static int h_sidt(X86Cpu *cpu, const X86Insn *in) { return store_table(cpu, in, &cpu->idtr); }

/* Selector operand of LLDT/LTR/LAR/LSL/VERR/VERW/ARPL (register or m16). */
static bool read_sel(X86Cpu *cpu, const X86Insn *in, const X86Operand *op, uint16_t *sel)
{
    uint64_t v;
    if (op->kind == X86_OPK_MEM) {
        if (!x86_read_seg(cpu, op->seg, x86_ea(cpu, in, op), 2, &v)) {
            return false;
        }
    } else if (!x86_read_op(cpu, in, op, &v)) {
        return false;
    }
    *sel = (uint16_t)v;
    return true;
}

/* Read the GDT descriptor of a system segment for LLDT/LTR; #GP(sel) for
 * an LDT selector or an index past the limit. */
static bool read_gdt_system(X86Cpu *cpu, uint16_t sel, uint64_t *lo, uint64_t *hi)
{
    bool bad = false;
    if (sel & 4) {
        x86_raise(cpu, X86_EXC_GP, sel & 0xfffc, true);
        return false;
    }
    if (!x86_read_descriptor(cpu, sel, lo, hi, &bad)) {
        if (bad) {
            x86_raise(cpu, X86_EXC_GP, sel & 0xfffc, true);
        }
        return false;
    }
    return true;
}

/* In IA-32e mode, a 16-byte system descriptor's upper type field must be
 * 0 and the base canonical (SDM LLDT/LTR). */
static bool long_system_ok(const X86Cpu *cpu, uint64_t lo, uint64_t hi)
{
    if (!x86_long_mode(cpu)) {
        return true;
    }
    uint64_t base = ((lo >> 16) & 0xffffff) | ((lo >> 32) & 0xff000000u) | (hi << 32);
    return ((hi >> 40) & 0x1f) == 0 && (uint64_t)((int64_t)(base << 16) >> 16) == base;
}

static int h_lldt(X86Cpu *cpu, const X86Insn *in)
{
    uint16_t sel;
    uint64_t lo, hi = 0;
    if (!x86i_pmode(cpu) || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (cpu->cpl != 0) {
        return x86i_gp0(cpu);
    }
    if (!read_sel(cpu, in, &in->op[0], &sel)) {
        return X86_R_EXC;
    }
    if ((sel & 0xfffc) == 0) {
        cpu->ldtr = (X86Seg){ sel, 0, 0, 0 };  /* null: LDTR marked invalid */
        return X86_R_NEXT;
    }
    if (!read_gdt_system(cpu, sel, &lo, &hi)) {
        return X86_R_EXC;
    }
    uint32_t a = desc_attr(lo);
    if ((a & X86_SEGA_S) || X86_SEGA_TYPE(a) != 2 || !long_system_ok(cpu, lo, hi)) {
        return x86i_exc(cpu, X86_EXC_GP, sel & 0xfffc, true);
    }
    if (!(a & X86_SEGA_P)) {
        return x86i_exc(cpu, X86_EXC_NP, sel & 0xfffc, true);
    }
    x86_seg_from_descriptor(&cpu->ldtr, sel, lo, hi);
    return X86_R_NEXT;
}

static int h_ltr(X86Cpu *cpu, const X86Insn *in)
{
    uint16_t sel;
    uint64_t lo, hi = 0;
    if (!x86i_pmode(cpu) || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (cpu->cpl != 0) {
        return x86i_gp0(cpu);
    }
    if (!read_sel(cpu, in, &in->op[0], &sel)) {
        return X86_R_EXC;
    }
    if ((sel & 0xfffc) == 0) {
        return x86i_gp0(cpu);
    }
    if (!read_gdt_system(cpu, sel, &lo, &hi)) {
        return X86_R_EXC;
    }
    uint32_t a = desc_attr(lo);
    unsigned type = X86_SEGA_TYPE(a);
    bool avail = type == 9 || (type == 1 && !x86_long_mode(cpu));
    if ((a & X86_SEGA_S) || !avail || !long_system_ok(cpu, lo, hi)) {
        return x86i_exc(cpu, X86_EXC_GP, sel & 0xfffc, true);
    }
    if (!(a & X86_SEGA_P)) {
        return x86i_exc(cpu, X86_EXC_NP, sel & 0xfffc, true);
    }
    /* Mark the descriptor busy (type bit 1, byte 5 of the descriptor). */
    uint64_t busy = lo | (2ull << 40);
    if (!x86_write_lin(cpu, cpu->gdtr.base + (sel & 0xfff8) + 5, 1, (busy >> 40) & 0xff, true)) {
        return X86_R_EXC;
    }
    x86_seg_from_descriptor(&cpu->tr, sel, busy, hi);
    return X86_R_NEXT;
}

static int store_sel(X86Cpu *cpu, const X86Insn *in, uint16_t sel)
{
    const X86Operand *d = &in->op[0];
    if (!x86i_pmode(cpu) || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (umip_blocks(cpu)) {
        return x86i_gp0(cpu);
    }
    if (d->kind == X86_OPK_REG) {
        x86_set_reg(cpu, d->reg, d->size, sel);  /* zero-extended */
        return X86_R_NEXT;
    }
    return x86_write_seg(cpu, d->seg, x86_ea(cpu, in, d), 2, sel) ? X86_R_NEXT : X86_R_EXC;
}

static int h_sldt(X86Cpu *cpu, const X86Insn *in) { return store_sel(cpu, in, cpu->ldtr.selector); }
static int h_str(X86Cpu *cpu, const X86Insn *in) { return store_sel(cpu, in, cpu->tr.selector); }

/* --- Access-rights instructions --- */

enum { AR_LAR, AR_LSL, AR_VERR, AR_VERW };

/* Whether the selector's descriptor passes LAR/LSL/VERR/VERW's checks. */
static bool ar_check(X86Cpu *cpu, uint16_t sel, int kind, uint64_t *lo_out, bool *faulted)
{
    uint64_t lo, hi = 0;
    bool bad = false;
    *faulted = false;
    if ((sel & 0xfffc) == 0) {
        return false;
    }
    if (!x86_read_descriptor(cpu, sel, &lo, &hi, &bad)) {
        if (bad) {
            cpu->exc.vector = -1;  /* beyond the table: ZF = 0, no fault */
            return false;
        }
        *faulted = true;
        return false;
    }
    uint32_t a = desc_attr(lo);
    unsigned type = X86_SEGA_TYPE(a), dpl = X86_SEGA_DPL(a), rpl = sel & 3;
    unsigned cpl = x86i_cpl(cpu);
    bool priv = dpl >= cpl && dpl >= rpl;
    *lo_out = lo;
    if (a & X86_SEGA_S) {
        bool code = type & 8, conforming = code && (type & 4);
        switch (kind) {
        case AR_VERR:
            if (code && !(type & 2)) {
                return false;  /* execute-only */
            }
            return conforming || priv;
        case AR_VERW:
            return !code && (type & 2) && priv;
        default:
            return conforming || priv;
        }
    }
    if (kind == AR_VERR || kind == AR_VERW) {
        return false;
    }
    bool ok;
    if (x86_long_mode(cpu)) {
        ok = type == 2 || type == 9 || type == 0xb || (kind == AR_LAR && type == 0xc);
    } else {
        ok = type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb ||
             (kind == AR_LAR && (type == 4 || type == 5 || type == 0xc));
    }
    return ok && priv;
}

static int access_rights(X86Cpu *cpu, const X86Insn *in, int kind)
{
    uint16_t sel;
    uint64_t lo = 0;
    bool faulted;
    if (!x86i_pmode(cpu) || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    const X86Operand *src = kind == AR_LAR || kind == AR_LSL ? &in->op[1] : &in->op[0];
    if (!read_sel(cpu, in, src, &sel)) {
        return X86_R_EXC;
    }
    bool ok = ar_check(cpu, sel, kind, &lo, &faulted);
    if (faulted) {
        return X86_R_EXC;
    }
    if (ok && (kind == AR_LAR || kind == AR_LSL)) {
        const X86Operand *d = &in->op[0];
        uint64_t v = kind == AR_LAR ? (lo >> 32) & (d->size == 2 ? 0xff00 : 0x00f0ff00)
                                    : desc_limit(lo);
        x86_set_reg(cpu, d->reg, d->size, v);
    }
    x86_flags_update(&cpu->lf, X86_ZF, ok ? X86_ZF : 0);
    return X86_R_NEXT;
}

static int h_lar(X86Cpu *cpu, const X86Insn *in) { return access_rights(cpu, in, AR_LAR); }
static int h_lsl(X86Cpu *cpu, const X86Insn *in) { return access_rights(cpu, in, AR_LSL); }
static int h_verr(X86Cpu *cpu, const X86Insn *in) { return access_rights(cpu, in, AR_VERR); }
static int h_verw(X86Cpu *cpu, const X86Insn *in) { return access_rights(cpu, in, AR_VERW); }

static int h_arpl(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t dst, src;
    if (!x86i_pmode(cpu) || x86i_mode64(cpu) || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!x86_read_op(cpu, in, &in->op[0], &dst) || !x86_read_op(cpu, in, &in->op[1], &src)) {
        return X86_R_EXC;
    }
    bool adjust = (dst & 3) < (src & 3);
    if (adjust && !x86_write_op(cpu, in, &in->op[0], (dst & ~3ull) | (src & 3))) {
        return X86_R_EXC;
    }
    x86_flags_update(&cpu->lf, X86_ZF, adjust ? X86_ZF : 0);
    return X86_R_NEXT;
}

/* --- CR0 shortcuts, caches, TLB --- */

static int h_lmsw(X86Cpu *cpu, const X86Insn *in)
{
    uint16_t v;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    if (!read_sel(cpu, in, &in->op[0], &v)) {
        return X86_R_EXC;
    }
    /* Loads PE MP EM TS; PE can be set but not cleared. */
    uint64_t cr0 = (cpu->cr0 & ~0xeull) | (v & 0xe) | ((cpu->cr0 | v) & 1);
    return x86_write_cr(cpu, 0, cr0) ? X86_R_STOP : X86_R_EXC;
}

static int h_smsw(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0];
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (umip_blocks(cpu)) {
        return x86i_gp0(cpu);
    }
    if (d->kind == X86_OPK_REG) {
        x86_set_reg(cpu, d->reg, d->size, cpu->cr0);
        return X86_R_NEXT;
    }
    return x86_write_seg(cpu, d->seg, x86_ea(cpu, in, d), 2, cpu->cr0 & 0xffff) ? X86_R_NEXT
                                                                                 : X86_R_EXC;
}

static int h_clts(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    cpu->cr0 &= ~(uint64_t)X86_CR0_TS;
    return X86_R_NEXT;
}

static int h_invlpg(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *m = &in->op[0];
    if (m->kind != X86_OPK_MEM || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    tlb_flush_page(cpu->tlb, x86i_linear(cpu, m->seg, x86_ea(cpu, in, m)));
    return X86_R_STOP;
}

static int h_cache(X86Cpu *cpu, const X86Insn *in)  /* WBINVD, INVD */
{
    X86I_NO_LOCK(cpu, in);
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    return X86_R_NEXT;
}

/* --- Fast system calls --- */

/* Flat 4 GiB segment caches (SDM SYSCALL/SYSRET/SYSENTER/SYSEXIT). */
static void flat_seg(X86Seg *s, uint16_t sel, unsigned type, unsigned dpl, uint32_t extra)
{
    *s = (X86Seg){ sel, 0, 0xffffffffu,
                   type | X86_SEGA_S | (dpl << 5) | X86_SEGA_P | X86_SEGA_G | extra };
}

static void enter_mode(X86Cpu *cpu, unsigned cpl)
{
    cpu->cpl = cpl;
    x86_update_mode(cpu);
}

static int h_swapgs(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    if (cpu->cpl != 0) {
        return x86i_gp0(cpu);
    }
    uint64_t t = cpu->segs[S_GS].base;
    cpu->segs[S_GS].base = cpu->kernel_gs_base;
    cpu->kernel_gs_base = t;
    return X86_R_NEXT;
}

static int h_syscall(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!x86i_mode64(cpu) || !(cpu->efer & X86_EFER_SCE)) {
        return x86i_ud(cpu);
    }
    uint16_t sel = (uint16_t)(cpu->star >> 32) & 0xfffc;
    cpu->regs[R_CX] = cpu->next_rip;
    cpu->regs[R_R11] = x86_get_eflags(cpu);
    x86_set_eflags(cpu, 0, (uint32_t)cpu->sfmask & X86I_EFLAGS_VALID);
    flat_seg(&cpu->segs[S_CS], sel, 0xb, 0, X86_SEGA_L);
    flat_seg(&cpu->segs[S_SS], (uint16_t)(sel + 8), 0x3, 0, X86_SEGA_DB);
    enter_mode(cpu, 0);
    cpu->rip = cpu->lstar;
    return X86_R_JUMP;
}

static int h_sysret(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!x86i_mode64(cpu) || !(cpu->efer & X86_EFER_SCE)) {
        return x86i_ud(cpu);
    }
    if (cpu->cpl != 0) {
        return x86i_gp0(cpu);
    }
    bool to64 = in->opsize == 8;
    uint64_t rip = to64 ? cpu->regs[R_CX] : cpu->regs[R_CX] & 0xffffffffu;
    if (to64 && (uint64_t)((int64_t)(rip << 16) >> 16) != rip) {
        return x86i_gp0(cpu);
    }
    uint16_t base = (uint16_t)(cpu->star >> 48);
    x86_set_eflags(cpu, ((uint32_t)cpu->regs[R_R11] & 0x3c7fd7u) | 2u, 0xffffffffu);
    flat_seg(&cpu->segs[S_CS], (uint16_t)((to64 ? base + 16 : base) | 3), 0xb, 3,
             to64 ? X86_SEGA_L : X86_SEGA_DB);
    flat_seg(&cpu->segs[S_SS], (uint16_t)((base + 8) | 3), 0x3, 3, X86_SEGA_DB);
    enter_mode(cpu, 3);
    cpu->rip = rip;
    return X86_R_JUMP;
}

static int h_sysenter(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!x86i_pe(cpu) || (cpu->sysenter_cs & 0xfffc) == 0) {
        return x86i_gp0(cpu);
    }
    bool lm = x86_long_mode(cpu);
    uint16_t sel = (uint16_t)cpu->sysenter_cs & 0xfffc;
    x86_set_eflags(cpu, 0, X86_VM | X86_IF | X86_RF);
    flat_seg(&cpu->segs[S_CS], sel, 0xb, 0, lm ? X86_SEGA_L : X86_SEGA_DB);
    flat_seg(&cpu->segs[S_SS], (uint16_t)(sel + 8), 0x3, 0, X86_SEGA_DB);
    enter_mode(cpu, 0);
    if (lm) {
        cpu->regs[R_SP] = cpu->sysenter_esp;
        cpu->rip = cpu->sysenter_eip;
    } else {
        cpu->regs[R_SP] = cpu->sysenter_esp & 0xffffffffu;
        cpu->rip = cpu->sysenter_eip & 0xffffffffu;
    }
    return X86_R_JUMP;
}

static int h_sysexit(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!x86i_pe(cpu) || (cpu->sysenter_cs & 0xfffc) == 0 || x86i_cpl(cpu) != 0) {
        return x86i_gp0(cpu);
    }
    bool to64 = in->opsize == 8;
    uint64_t rsp = cpu->regs[R_CX], rip = cpu->regs[R_DX];
    if (to64) {
        if ((uint64_t)((int64_t)(rsp << 16) >> 16) != rsp ||
            (uint64_t)((int64_t)(rip << 16) >> 16) != rip) {
            return x86i_gp0(cpu);
        }
    } else {
        rsp &= 0xffffffffu;
        rip &= 0xffffffffu;
    }
    uint16_t sel = (uint16_t)(((uint16_t)cpu->sysenter_cs + (to64 ? 32 : 16)) | 3);
    flat_seg(&cpu->segs[S_CS], sel, 0xb, 3, to64 ? X86_SEGA_L : X86_SEGA_DB);
    flat_seg(&cpu->segs[S_SS], (uint16_t)(sel + 8), 0x3, 3, X86_SEGA_DB);
    enter_mode(cpu, 3);
    cpu->regs[R_SP] = rsp;
    cpu->rip = rip;
    return X86_R_JUMP;
}

/* --- HLT, interrupt flag, direction flag, AC --- */

static int h_hlt(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (!priv0(cpu)) {
        return x86i_gp0(cpu);
    }
    cpu->halted = true;
    return X86_R_STOP;
}

/* CLI/STI (SDM tables "Decision Table for CLI/STI Results"): IF when
 * CPL <= IOPL (or real mode, or VM86 with IOPL 3); VIF under PVI (CPL 3)
 * or VME (VM86); #GP(0) otherwise. */
static int h_cli(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    unsigned iopl = x86i_iopl(cpu);
    if (!x86i_pe(cpu) || (!x86i_vm86(cpu) ? cpu->cpl <= iopl : iopl == 3)) {
        cpu->eflags &= ~X86_IF;
    } else if ((x86i_vm86(cpu) && (cpu->cr4 & X86_CR4_VME)) ||
               (!x86i_vm86(cpu) && cpu->cpl == 3 && (cpu->cr4 & X86_CR4_PVI))) {
        cpu->eflags &= ~X86_VIF;
    } else {
        return x86i_gp0(cpu);
    }
    return X86_R_NEXT;
}

static int h_sti(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    unsigned iopl = x86i_iopl(cpu);
    if (!x86i_pe(cpu) || (!x86i_vm86(cpu) ? cpu->cpl <= iopl : iopl == 3)) {
        if (!(cpu->eflags & X86_IF)) {
            cpu->eflags |= X86_IF;
            cpu->irq_shadow = true;  /* interrupts after the next instruction */
        }
    } else if (((x86i_vm86(cpu) && (cpu->cr4 & X86_CR4_VME)) ||
                (!x86i_vm86(cpu) && cpu->cpl == 3 && (cpu->cr4 & X86_CR4_PVI))) &&
               !(cpu->eflags & X86_VIP)) {
        cpu->eflags |= X86_VIF;
    } else {
        return x86i_gp0(cpu);
    }
    return X86_R_NEXT;
}

static int h_cld(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    cpu->eflags &= ~X86_DF;
    return X86_R_NEXT;
}

static int h_std(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    cpu->eflags |= X86_DF;
    return X86_R_NEXT;
}

static int h_clac(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (x86i_cpl(cpu) > 0) {
        return x86i_ud(cpu);
    }
    cpu->eflags &= ~X86_AC;
    return X86_R_NEXT;
}

static int h_stac(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (x86i_cpl(cpu) > 0) {
        return x86i_ud(cpu);
    }
    cpu->eflags |= X86_AC;
    return X86_R_NEXT;
}

static int h_ud(X86Cpu *cpu, const X86Insn *in)
{
    return x86i_ud(cpu);
}

void x86_insn_register_sys(void)
{
    static const struct { unsigned id; X86Handler fn; } table[] = {
        { X86_INS_CPUID, h_cpuid }, { X86_INS_RDMSR, h_rdmsr }, { X86_INS_WRMSR, h_wrmsr },
        { X86_INS_RDTSC, h_rdtsc }, { X86_INS_RDTSCP, h_rdtscp },
        { X86_INS_LGDT, h_lgdt }, { X86_INS_LIDT, h_lidt }, { X86_INS_SGDT, h_sgdt },
        { X86_INS_SIDT, h_sidt },
        { X86_INS_LLDT, h_lldt }, { X86_INS_LTR, h_ltr }, { X86_INS_SLDT, h_sldt },
        { X86_INS_STR, h_str },
        { X86_INS_LAR, h_lar }, { X86_INS_LSL, h_lsl }, { X86_INS_VERR, h_verr },
        { X86_INS_VERW, h_verw }, { X86_INS_ARPL, h_arpl },
        { X86_INS_LMSW, h_lmsw }, { X86_INS_SMSW, h_smsw }, { X86_INS_CLTS, h_clts },
        { X86_INS_INVLPG, h_invlpg }, { X86_INS_WBINVD, h_cache }, { X86_INS_INVD, h_cache },
        { X86_INS_SWAPGS, h_swapgs }, { X86_INS_SYSCALL, h_syscall },
        { X86_INS_SYSRET, h_sysret }, { X86_INS_SYSENTER, h_sysenter },
        { X86_INS_SYSEXIT, h_sysexit },
        { X86_INS_HLT, h_hlt }, { X86_INS_CLI, h_cli }, { X86_INS_STI, h_sti },
        { X86_INS_CLD, h_cld }, { X86_INS_STD, h_std },
        { X86_INS_CLAC, h_clac }, { X86_INS_STAC, h_stac },
        { X86_INS_UD2, h_ud }, { X86_INS_UD2B, h_ud }, { X86_INS_UD0, h_ud },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        x86_register_handler(table[i].id, table[i].fn);
    }
}
