/*
 * Data movement (SDM Vol. 2): MOV (registers, memory, immediates, moffs,
 * segment registers; control and debug registers are in x86_insn_sys.c),
 * MOVZX/MOVSX/MOVSXD, LEA, XCHG, PUSH/POP (all forms), PUSHA/POPA,
 * PUSHF/POPF, ENTER/LEAVE, XLAT, LDS/LES/LFS/LGS/LSS and the NOPs.
 */
#include "targets/x86/x86_insn.h"

#define NOINLINE __attribute__((noinline))

/* --- MOV --- */

static NOINLINE int mov_slow(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    uint64_t v;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (d->kind == X86_OPK_CREG || s->kind == X86_OPK_CREG) {
        return x86i_mov_cr(cpu, in);
    }
    if (d->kind == X86_OPK_DREG || s->kind == X86_OPK_DREG) {
        return x86i_mov_dr(cpu, in);
    }
    if (d->kind == X86_OPK_SREG) {
        if (d->reg == S_CS || d->reg > S_GS) {
            return x86i_ud(cpu);
        }
        if (!x86_read_op(cpu, in, s, &v) || !x86i_load_seg(cpu, d->reg, (uint16_t)v)) {
            return X86_R_EXC;
        }
        if (d->reg == S_SS) {
            cpu->irq_shadow = true;  /* MOV SS: no interrupt before the next instruction */
        }
        return X86_R_NEXT;
    }
    if (s->kind == X86_OPK_SREG) {
        v = cpu->segs[s->reg].selector;
        if (d->kind == X86_OPK_REG) {
            /* 32/64-bit destinations get the selector zero-extended. */
            x86_set_reg(cpu, d->reg, d->size, v);
            return X86_R_NEXT;
        }
        return x86_write_op(cpu, in, d, v) ? X86_R_NEXT : X86_R_EXC;
    }
    if (!x86_read_op(cpu, in, s, &v) || !x86_write_op(cpu, in, d, v)) {
        return X86_R_EXC;
    }
    return X86_R_NEXT;
}

static int h_mov(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    if (X86I_LIKELY(!(in->prefixes & X86_PFX_LOCK))) {
        if (d->kind == X86_OPK_REG) {
            uint64_t v;
            if (s->kind == X86_OPK_REG) {
                v = cpu->regs[s->reg];
            } else if (s->kind == X86_OPK_IMM) {
                v = (uint64_t)s->disp;
            } else if (s->kind == X86_OPK_MEM) {
                if (!x86_read_seg(cpu, s->seg, x86_ea(cpu, in, s), s->size, &v)) {
                    return X86_R_EXC;
                }
            } else {
                return mov_slow(cpu, in);
            }
            x86_set_reg(cpu, d->reg, d->size, v);
            return X86_R_NEXT;
        }
        if (d->kind == X86_OPK_MEM && (s->kind == X86_OPK_REG || s->kind == X86_OPK_IMM)) {
            uint64_t v = s->kind == X86_OPK_REG ? cpu->regs[s->reg] : (uint64_t)s->disp;
            return x86_write_seg(cpu, d->seg, x86_ea(cpu, in, d), d->size, v) ? X86_R_NEXT
                                                                               : X86_R_EXC;
        }
    }
    return mov_slow(cpu, in);
}

static int movx(X86Cpu *cpu, const X86Insn *in, bool sign)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    uint64_t v;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (X86I_LIKELY(s->kind == X86_OPK_REG)) {
        v = cpu->regs[s->reg] & x86_mask(s->size);
    } else if (!x86_read_op(cpu, in, s, &v)) {
        return X86_R_EXC;
    }
    if (sign) {
        v = (uint64_t)x86_sext(v, s->size);
    }
    x86_set_reg(cpu, d->reg, d->size, v);
    return X86_R_NEXT;
}

static int h_movzx(X86Cpu *cpu, const X86Insn *in) { return movx(cpu, in, false); }
static int h_movsx(X86Cpu *cpu, const X86Insn *in) { return movx(cpu, in, true); }

static int h_lea(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    if (s->kind != X86_OPK_MEM || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    x86_set_reg(cpu, d->reg, d->size, x86_ea(cpu, in, s));
    return X86_R_NEXT;
}

static int h_xchg(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *a = &in->op[0], *b = &in->op[1];
    uint64_t va, vb;
    if (X86I_LIKELY(a->kind == X86_OPK_REG && b->kind == X86_OPK_REG)) {
        if (x86i_has_lock(in)) {
            return x86i_ud(cpu);
        }
        va = cpu->regs[a->reg];
        vb = cpu->regs[b->reg];
        x86_set_reg(cpu, a->reg, a->size, vb);
        x86_set_reg(cpu, b->reg, b->size, va);
        return X86_R_NEXT;
    }
    /* A memory operand, or AH..BH. The memory operand is stored first. */
    if (a->kind != X86_OPK_MEM && b->kind == X86_OPK_MEM) {
        const X86Operand *t = a;
        a = b;
        b = t;
    }
    if (x86i_has_lock(in) && a->kind != X86_OPK_MEM) {
        return x86i_ud(cpu);
    }
    if (!x86_read_op(cpu, in, a, &va) || !x86_read_op(cpu, in, b, &vb) ||
        !x86_write_op(cpu, in, a, vb)) {
        return X86_R_EXC;
    }
    x86_write_op(cpu, in, b, va);
    return X86_R_NEXT;
}

/* --- Stack --- */

static void set_sp(X86Cpu *cpu, uint64_t sp)
{
    unsigned ss = x86_stack_size(cpu);
    x86_set_reg(cpu, R_SP, ss, sp & x86_mask(ss));
}

/* Stack operand size of PUSH/POP Sreg. Capstone sizes the operand as the
 * 16-bit register, so the prefixes decide; they are re-read only when the
 * instruction is longer than its bare opcode (06/0E/16/1E/07/17/1F, or
 * 0F A0/A1/A8/A9), which real-mode code almost never needs. */
static unsigned sreg_stack_size(X86Cpu *cpu, const X86Insn *in)
{
    if (in->len == (in->opcode == 0x0f ? 2 : 1)) {
        return x86i_mode64(cpu) ? 8 : x86_code_size(cpu);
    }
    return x86i_stack_opsize(cpu, x86i_real_opsize(cpu, in));
}

static int h_push(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *s = &in->op[0];
    uint64_t v;
    unsigned size;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    switch (s->kind) {
    case X86_OPK_REG:
        size = s->size;
        v = cpu->regs[s->reg];
        break;
    case X86_OPK_IMM:
        size = x86i_stack_opsize(cpu, in->opsize);
        v = (uint64_t)s->disp;
        break;
    case X86_OPK_SREG:
        size = sreg_stack_size(cpu, in);  /* pushed zero-extended */
        v = cpu->segs[s->reg].selector;
        break;
    default:
        size = s->size;
        if (!x86_read_op(cpu, in, s, &v)) {
            return X86_R_EXC;
        }
        break;
    }
    return x86_push(cpu, size, v & x86_mask(size)) ? X86_R_NEXT : X86_R_EXC;
}

static int h_pop(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0];
    uint64_t v;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (X86I_LIKELY(d->kind == X86_OPK_REG)) {
        if (!x86_pop(cpu, d->size, &v)) {
            return X86_R_EXC;
        }
        x86_set_reg(cpu, d->reg, d->size, v);   /* after the increment: POP rSP gets the value */
        return X86_R_NEXT;
    }
    if (d->kind == X86_OPK_SREG) {
        unsigned size = sreg_stack_size(cpu, in);
        if (d->reg == S_CS) {
            return x86i_ud(cpu);
        }
        if (!x86_stack_peek(cpu, 0, size, &v) || !x86i_load_seg(cpu, d->reg, (uint16_t)v)) {
            return X86_R_EXC;
        }
        set_sp(cpu, cpu->regs[R_SP] + size);
        if (d->reg == S_SS) {
            cpu->irq_shadow = true;
        }
        return X86_R_NEXT;
    }
    /* Memory: the address is computed after rSP is incremented (SDM POP). */
    unsigned size = d->size;
    if (!x86_stack_peek(cpu, 0, size, &v)) {
        return X86_R_EXC;
    }
    uint64_t old_sp = cpu->regs[R_SP];
    set_sp(cpu, old_sp + size);
    if (!x86_write_op(cpu, in, d, v)) {
        cpu->regs[R_SP] = old_sp;
        return X86_R_EXC;
    }
    return X86_R_NEXT;
}

static int pusha(X86Cpu *cpu, unsigned size)
{
    if (x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    unsigned ss = x86_stack_size(cpu);
    uint64_t sp = cpu->regs[R_SP];
    for (unsigned i = 0; i < 8; i++) {
        /* AX CX DX BX (original SP) BP SI DI */
        uint64_t v = cpu->regs[i];
        uint64_t a = (sp - (i + 1) * size) & x86_mask(ss);
        if (!x86_write_seg(cpu, S_SS, a, size, v & x86_mask(size))) {
            return X86_R_EXC;
        }
    }
    set_sp(cpu, sp - 8 * size);
    return X86_R_NEXT;
}

static int popa(X86Cpu *cpu, unsigned size)
{
    uint64_t v[8];
    if (x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    for (unsigned i = 0; i < 8; i++) {
        /* DI SI BP (skipped SP) BX DX CX AX, from the lowest address */
        if (!x86_stack_peek(cpu, i * size, size, &v[7 - i])) {
            return X86_R_EXC;
        }
    }
    for (unsigned r = 0; r < 8; r++) {
        if (r != R_SP) {
            x86_set_reg(cpu, r, size, v[r]);
        }
    }
    set_sp(cpu, cpu->regs[R_SP] + 8 * size);
    return X86_R_NEXT;
}

static int h_pushaw(X86Cpu *cpu, const X86Insn *in) { return pusha(cpu, 2); }
static int h_pushal(X86Cpu *cpu, const X86Insn *in) { return pusha(cpu, 4); }
static int h_popaw(X86Cpu *cpu, const X86Insn *in) { return popa(cpu, 2); }
static int h_popal(X86Cpu *cpu, const X86Insn *in) { return popa(cpu, 4); }

/* --- PUSHF / POPF (SDM PUSHF/PUSHFD/PUSHFQ, POPF/POPFD/POPFQ) --- */

static int pushf(X86Cpu *cpu, unsigned size)
{
    uint32_t f = x86_get_eflags(cpu);
    if (x86i_vm86(cpu) && x86i_iopl(cpu) < 3) {
        if (!(cpu->cr4 & X86_CR4_VME) || size != 2) {
            return x86i_gp0(cpu);
        }
        /* VME: the image shows VIF as IF and IOPL as 3. */
        f = (f & ~X86_IF) | ((f & X86_VIF) ? X86_IF : 0) | X86_IOPL;
    }
    f &= ~(X86_VM | X86_RF);  /* cleared in the image */
    return x86_push(cpu, size, f & x86_mask(size)) ? X86_R_NEXT : X86_R_EXC;
}

static int popf(X86Cpu *cpu, unsigned size)
{
    uint64_t v;
    uint32_t mask;
    uint32_t cur = x86_get_eflags(cpu);
    if (!x86_stack_peek(cpu, 0, size, &v)) {
        return X86_R_EXC;
    }
    uint32_t nv = (uint32_t)v;
    if (!x86i_vm86(cpu)) {
        mask = X86I_EFLAGS_VALID & ~(X86_VIP | X86_VIF | X86_VM);
        if (x86i_pe(cpu) && cpu->cpl > 0) {
            mask &= ~X86_IOPL;
            if (cpu->cpl > x86i_iopl(cpu)) {
                mask &= ~X86_IF;
            }
        }
    } else if (x86i_iopl(cpu) == 3) {
        mask = X86I_EFLAGS_VALID & ~(X86_IOPL | X86_VIP | X86_VIF | X86_VM);
    } else if ((cpu->cr4 & X86_CR4_VME) && size == 2) {
        if (((nv & X86_IF) && (cur & X86_VIP)) || (nv & X86_TF)) {
            return x86i_gp0(cpu);
        }
        /* IF goes to VIF; IF and IOPL themselves are unaffected. */
        mask = (X86I_EFLAGS_VALID & 0xffff & ~(X86_IOPL | X86_IF)) | X86_VIF;
        nv = (nv & ~X86_VIF) | ((nv & X86_IF) ? X86_VIF : 0);
        x86_set_eflags(cpu, nv, mask);
        set_sp(cpu, cpu->regs[R_SP] + size);
        return X86_R_NEXT;
    } else {
        return x86i_gp0(cpu);
    }
    if (size == 2) {
        mask &= 0xffff;
    } else {
        nv &= ~X86_RF;   /* RF is cleared by 32/64-bit POPF */
        mask |= X86_RF;
    }
    x86_set_eflags(cpu, nv, mask);
    set_sp(cpu, cpu->regs[R_SP] + size);
    return X86_R_NEXT;
}

static int h_pushf(X86Cpu *cpu, const X86Insn *in) { return pushf(cpu, 2); }
static int h_pushfd(X86Cpu *cpu, const X86Insn *in) { return pushf(cpu, 4); }
static int h_pushfq(X86Cpu *cpu, const X86Insn *in) { return pushf(cpu, 8); }
static int h_popf(X86Cpu *cpu, const X86Insn *in) { return popf(cpu, 2); }
static int h_popfd(X86Cpu *cpu, const X86Insn *in) { return popf(cpu, 4); }
static int h_popfq(X86Cpu *cpu, const X86Insn *in) { return popf(cpu, 8); }

/* --- ENTER / LEAVE --- */

static int h_enter(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = x86i_stack_opsize(cpu, in->opsize);
    unsigned ss = x86_stack_size(cpu);
    uint64_t smask = x86_mask(ss);
    uint64_t alloc = (uint64_t)in->op[0].disp & 0xffff;
    unsigned level = (unsigned)in->op[1].disp & 31;
    uint64_t sp = cpu->regs[R_SP], bp = cpu->regs[R_BP], v;

    sp = (sp - size) & smask;
    if (!x86_write_seg(cpu, S_SS, sp, size, bp & x86_mask(size))) {
        return X86_R_EXC;
    }
    uint64_t frame = sp;
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            bp = (bp - size) & smask;
            sp = (sp - size) & smask;
            if (!x86_read_seg(cpu, S_SS, bp, size, &v) ||
                !x86_write_seg(cpu, S_SS, sp, size, v)) {
                return X86_R_EXC;
            }
        }
        sp = (sp - size) & smask;
        if (!x86_write_seg(cpu, S_SS, sp, size, frame & x86_mask(size))) {
            return X86_R_EXC;
        }
    }
    sp = (sp - alloc) & smask;
    /* Real CPUs check the final stack pointer is writable (#SS). */
    if (!x86i_mode64(cpu) && alloc && !x86_check_seg(cpu, S_SS, sp, 1, true)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, R_BP, size, frame);
    x86_set_reg(cpu, R_SP, ss, sp);
    return X86_R_NEXT;
}

static int h_leave(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = x86i_stack_opsize(cpu, in->opsize);
    unsigned ss = x86_stack_size(cpu);
    uint64_t sp = cpu->regs[R_BP] & x86_mask(ss), v;
    if (!x86_read_seg(cpu, S_SS, sp, size, &v)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, R_SP, ss, (sp + size) & x86_mask(ss));
    x86_set_reg(cpu, R_BP, size, v);
    return X86_R_NEXT;
}

/* --- XLAT, far pointer loads --- */

static int h_xlat(X86Cpu *cpu, const X86Insn *in)
{
    unsigned seg = S_DS;
    uint64_t v;
    if (in->prefixes & X86_PFX_SEG) {
        X86RawInsn raw;
        if (!x86i_raw(cpu, in, &raw)) {
            return X86_R_EXC;
        }
        if (raw.seg != S_NONE) {
            seg = raw.seg;
        }
    }
    uint64_t ea = (cpu->regs[R_BX] + (cpu->regs[R_AX] & 0xff)) & x86_mask(in->addrsize);
    if (!x86_read_seg(cpu, seg, ea, 1, &v)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, R_AX, 1, v);
    return X86_R_NEXT;
}

static int load_far(X86Cpu *cpu, const X86Insn *in, unsigned seg)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    uint64_t off, sel;
    if (s->kind != X86_OPK_MEM || x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    unsigned size = d->size;
    uint64_t ea = x86_ea(cpu, in, s);
    if (!x86_read_seg(cpu, s->seg, ea, size, &off) ||
        !x86_read_seg(cpu, s->seg, (ea + size) & x86_mask(in->addrsize), 2, &sel) ||
        !x86i_load_seg(cpu, seg, (uint16_t)sel)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, d->reg, size, off);
    return X86_R_NEXT;
}

static int h_lds(X86Cpu *cpu, const X86Insn *in) { return load_far(cpu, in, S_DS); }
static int h_les(X86Cpu *cpu, const X86Insn *in) { return load_far(cpu, in, S_ES); }
static int h_lfs(X86Cpu *cpu, const X86Insn *in) { return load_far(cpu, in, S_FS); }
static int h_lgs(X86Cpu *cpu, const X86Insn *in) { return load_far(cpu, in, S_GS); }
static int h_lss(X86Cpu *cpu, const X86Insn *in) { return load_far(cpu, in, S_SS); }

/* --- NOPs (all forms: 90, 0F 1F /0, PAUSE, prefetch hints, fences) --- */

static int h_nop(X86Cpu *cpu, const X86Insn *in)
{
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    return X86_R_NEXT;
}

/* --- Specialised MOV forms (x86_insn_specialise) ---
 *
 * MOV between general registers, immediates and memory with 32- or 64-bit
 * operands: the same effects as h_mov's fast part, the operand kinds, sizes,
 * address size and memory-operand form fixed per handler. */

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { M_RR, M_RI, M_RM, M_MR, M_MI };

static ALWAYS_INLINE int mov_fast(X86Cpu *cpu, const X86Insn *in, int form, unsigned sz,
                                  unsigned as, int eaf)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    uint64_t v;
    switch (form) {
    case M_RR:
        cpu->regs[d->reg] = cpu->regs[s->reg] & x86_mask(sz);
        return X86_R_NEXT;
    case M_RI:
        cpu->regs[d->reg] = (uint64_t)s->disp & x86_mask(sz);
        return X86_R_NEXT;
    case M_RM:
        if (!x86_read_seg(cpu, s->seg, x86i_ea_fast(cpu, s, eaf, as), sz, &v)) {
            return X86_R_EXC;
        }
        cpu->regs[d->reg] = v;
        return X86_R_NEXT;
    default:
        v = form == M_MR ? cpu->regs[s->reg] : (uint64_t)s->disp;
        return x86_write_seg(cpu, d->seg, x86i_ea_fast(cpu, d, eaf, as), sz, v) ? X86_R_NEXT
                                                                               : X86_R_EXC;
    }
}

#define MOVF_MEM(form, sz)                                                                 \
    static int fm_##form##_##sz##_4b(X86Cpu *cpu, const X86Insn *in)                       \
    { return mov_fast(cpu, in, form, sz, 4, X86I_EA_BASE); }                               \
    static int fm_##form##_##sz##_4a(X86Cpu *cpu, const X86Insn *in)                       \
    { return mov_fast(cpu, in, form, sz, 4, X86I_EA_ANY); }                                \
    static int fm_##form##_##sz##_8b(X86Cpu *cpu, const X86Insn *in)                       \
    { return mov_fast(cpu, in, form, sz, 8, X86I_EA_BASE); }                               \
    static int fm_##form##_##sz##_8a(X86Cpu *cpu, const X86Insn *in)                       \
    { return mov_fast(cpu, in, form, sz, 8, X86I_EA_ANY); }
#define MOVF_SZ(sz)                                                                        \
    static int fm_M_RR_##sz(X86Cpu *cpu, const X86Insn *in)                                \
    { return mov_fast(cpu, in, M_RR, sz, 8, X86I_EA_ANY); }                                \
    static int fm_M_RI_##sz(X86Cpu *cpu, const X86Insn *in)                                \
    { return mov_fast(cpu, in, M_RI, sz, 8, X86I_EA_ANY); }                                \
    MOVF_MEM(M_RM, sz) MOVF_MEM(M_MR, sz) MOVF_MEM(M_MI, sz)
MOVF_SZ(4)
MOVF_SZ(8)

#define MOVF_MEM_ROW(form, sz)                                                             \
    { { fm_##form##_##sz##_4b, fm_##form##_##sz##_4a },                                    \
      { fm_##form##_##sz##_8b, fm_##form##_##sz##_8a } }
#define MOVF_SZ_ROW(sz)                                                                    \
    { { { fm_M_RR_##sz, NULL }, { NULL, NULL } },                                          \
      { { fm_M_RI_##sz, NULL }, { NULL, NULL } },                                          \
      MOVF_MEM_ROW(M_RM, sz), MOVF_MEM_ROW(M_MR, sz), MOVF_MEM_ROW(M_MI, sz) }
/* [sz == 8][form][as == 8][ea form]; register forms use [0][0]. */
static const X86Handler mov_fast_table[2][5][2][2] = { MOVF_SZ_ROW(4), MOVF_SZ_ROW(8) };

X86Handler x86i_specialise_data(const X86Insn *in, unsigned code_size)
{
    (void)code_size;
    if ((in->id != X86_INS_MOV && in->id != X86_INS_MOVABS) || in->nops != 2) {
        return NULL;
    }
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    if (sz != 4 && sz != 8) {
        return NULL;
    }
    bool as_ok = in->addrsize == 4 || in->addrsize == 8;
    unsigned as8 = in->addrsize == 8;
    int form;
    if (d->kind == X86_OPK_REG && s->kind == X86_OPK_REG && s->size == sz) {
        form = M_RR;
    } else if (d->kind == X86_OPK_REG && s->kind == X86_OPK_IMM) {
        form = M_RI;
    } else if (d->kind == X86_OPK_REG && s->kind == X86_OPK_MEM && s->size == sz && as_ok) {
        form = M_RM;
    } else if (d->kind == X86_OPK_MEM && s->kind == X86_OPK_REG && s->size == sz && as_ok) {
        form = M_MR;
    } else if (d->kind == X86_OPK_MEM && s->kind == X86_OPK_IMM && as_ok) {
        form = M_MI;
    } else {
        return NULL;
    }
    if (form == M_RR || form == M_RI) {
        return mov_fast_table[sz == 8][form][0][0];
    }
    const X86Operand *m = form == M_RM ? s : d;
    return mov_fast_table[sz == 8][form][as8][x86i_ea_form(m)];
}

void x86_insn_register_data(void)
{
    static const struct { unsigned id; X86Handler fn; } table[] = {
        { X86_INS_MOV, h_mov }, { X86_INS_MOVABS, h_mov }, { X86_INS_MOVNTI, h_mov },
        { X86_INS_MOVZX, h_movzx }, { X86_INS_MOVSX, h_movsx }, { X86_INS_MOVSXD, h_movsx },
        { X86_INS_LEA, h_lea }, { X86_INS_XCHG, h_xchg },
        { X86_INS_PUSH, h_push }, { X86_INS_POP, h_pop },
        { X86_INS_PUSHAW, h_pushaw }, { X86_INS_PUSHAL, h_pushal },
        { X86_INS_POPAW, h_popaw }, { X86_INS_POPAL, h_popal },
        { X86_INS_PUSHF, h_pushf }, { X86_INS_PUSHFD, h_pushfd }, { X86_INS_PUSHFQ, h_pushfq },
        { X86_INS_POPF, h_popf }, { X86_INS_POPFD, h_popfd }, { X86_INS_POPFQ, h_popfq },
        { X86_INS_ENTER, h_enter }, { X86_INS_LEAVE, h_leave },
        { X86_INS_XLATB, h_xlat },
        { X86_INS_LDS, h_lds }, { X86_INS_LES, h_les }, { X86_INS_LFS, h_lfs },
        { X86_INS_LGS, h_lgs }, { X86_INS_LSS, h_lss },
        { X86_INS_NOP, h_nop }, { X86_INS_PAUSE, h_nop },
        { X86_INS_PREFETCH, h_nop }, { X86_INS_PREFETCHW, h_nop },
        { X86_INS_PREFETCHNTA, h_nop }, { X86_INS_PREFETCHT0, h_nop },
        { X86_INS_PREFETCHT1, h_nop }, { X86_INS_PREFETCHT2, h_nop },
        { X86_INS_LFENCE, h_nop }, { X86_INS_MFENCE, h_nop }, { X86_INS_SFENCE, h_nop },
        { X86_INS_CLFLUSH, h_nop }, { X86_INS_CLFLUSHOPT, h_nop },
        { X86_INS_ENDBR32, h_nop }, { X86_INS_ENDBR64, h_nop },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        x86_register_handler(table[i].id, table[i].fn);
    }
}
