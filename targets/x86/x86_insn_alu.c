/*
 * Integer arithmetic and flag instructions (SDM Vol. 2): ADD ADC SUB SBB
 * AND OR XOR CMP TEST, INC DEC NEG NOT, MUL IMUL DIV IDIV, shifts and
 * rotates, SHLD/SHRD, BT/BTS/BTR/BTC, BSF/BSR/TZCNT/LZCNT/POPCNT, sign
 * extensions of the accumulator, SETcc, CMOVcc, LAHF/SAHF, CLC/STC/CMC,
 * XADD, CMPXCHG, CMPXCHG8B/16B, BSWAP and the BCD adjustments.
 *
 * Every flag comes from x86_alu.h. The common register forms are handled
 * inline at the top of each handler (register or immediate source, register
 * destination); memory destinations compute into a copy of the lazy flags
 * that is committed only once the store succeeded.
 */
#include "targets/x86/x86_insn.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))

/* Read a source operand; registers and immediates unmasked (the ALU
 * helpers mask to the operation size). */
static ALWAYS_INLINE bool src_value(X86Cpu *cpu, const X86Insn *in, const X86Operand *s,
                                   uint64_t *v)
{
    if (X86I_LIKELY(s->kind == X86_OPK_REG)) {
        *v = cpu->regs[s->reg];
        return true;
    }
    if (s->kind == X86_OPK_IMM) {
        *v = (uint64_t)s->disp;
        return true;
    }
    return x86_read_op(cpu, in, s, v);
}

/* --- Two-operand ALU --- */

enum { A_ADD, A_OR, A_ADC, A_SBB, A_AND, A_SUB, A_XOR, A_CMP, A_TEST };

static ALWAYS_INLINE uint64_t alu_compute(X86LazyFlags *lf, int op, unsigned size, uint64_t a,
                                          uint64_t b)
{
    switch (op) {
    case A_ADD: return x86_add(lf, size, a, b);
    case A_OR: return x86_or(lf, size, a, b);
    case A_ADC: return x86_adc(lf, size, a, b, x86_flags_cf(lf));
    case A_SBB: return x86_sbb(lf, size, a, b, x86_flags_cf(lf));
    case A_AND: return x86_and(lf, size, a, b);
    case A_SUB: return x86_sub(lf, size, a, b);
    case A_XOR: return x86_xor(lf, size, a, b);
    case A_CMP: x86_cmp(lf, size, a, b); return 0;
    default: x86_test(lf, size, a, b); return 0;
    }
}

static NOINLINE int alu2_slow(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    bool writes = op != A_CMP && op != A_TEST;
    unsigned size = d->size;
    uint64_t a, b, r;
    if (x86i_has_lock(in) && (!writes || d->kind != X86_OPK_MEM)) {
        return x86i_ud(cpu);
    }
    if (d->kind == X86_OPK_MEM) {
        uint64_t ea = x86_ea(cpu, in, d);
        if (!src_value(cpu, in, s, &b) || !x86_read_seg(cpu, d->seg, ea, size, &a)) {
            return X86_R_EXC;
        }
        X86LazyFlags lf = cpu->lf;
        r = alu_compute(&lf, op, size, a, b);
        if (writes && !x86_write_seg(cpu, d->seg, ea, size, r)) {
            return X86_R_EXC;
        }
        cpu->lf = lf;
        return X86_R_NEXT;
    }
    if (!x86_read_op(cpu, in, d, &a) || !src_value(cpu, in, s, &b)) {
        return X86_R_EXC;
    }
    r = alu_compute(&cpu->lf, op, size, a, b);
    if (writes) {
        x86_write_op(cpu, in, d, r);
    }
    return X86_R_NEXT;
}

static ALWAYS_INLINE int alu2(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    if (X86I_LIKELY(d->kind == X86_OPK_REG && !(in->prefixes & X86_PFX_LOCK))) {
        uint64_t b;
        if (X86I_LIKELY(s->kind == X86_OPK_REG)) {
            b = cpu->regs[s->reg];
        } else if (s->kind == X86_OPK_IMM) {
            b = (uint64_t)s->disp;
        } else {
            return alu2_slow(cpu, in, op);
        }
        unsigned size = d->size;
        uint64_t r = alu_compute(&cpu->lf, op, size, cpu->regs[d->reg], b);
        if (op != A_CMP && op != A_TEST) {
            x86_set_reg(cpu, d->reg, size, r);
        }
        return X86_R_NEXT;
    }
    return alu2_slow(cpu, in, op);
}

#define ALU2(name, op) \
    static int h_##name(X86Cpu *cpu, const X86Insn *in) { return alu2(cpu, in, op); }
ALU2(add, A_ADD)
ALU2(or, A_OR)
ALU2(adc, A_ADC)
ALU2(sbb, A_SBB)
ALU2(and, A_AND)
ALU2(sub, A_SUB)
ALU2(xor, A_XOR)
ALU2(cmp, A_CMP)
ALU2(test, A_TEST)

/* --- One-operand ALU --- */

enum { U_INC, U_DEC, U_NEG, U_NOT };

static ALWAYS_INLINE uint64_t unary_compute(X86LazyFlags *lf, int op, unsigned size, uint64_t a)
{
    switch (op) {
    case U_INC: return x86_inc(lf, size, a);
    case U_DEC: return x86_dec(lf, size, a);
    case U_NEG: return x86_neg(lf, size, a);
    default: return x86_not(size, a);
    }
}

static NOINLINE int unary_slow(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t a;
    if (x86i_lock_bad(in)) {
        return x86i_ud(cpu);
    }
    if (d->kind == X86_OPK_MEM) {
        uint64_t ea = x86_ea(cpu, in, d);
        if (!x86_read_seg(cpu, d->seg, ea, size, &a)) {
            return X86_R_EXC;
        }
        X86LazyFlags lf = cpu->lf;
        uint64_t r = unary_compute(&lf, op, size, a);
        if (!x86_write_seg(cpu, d->seg, ea, size, r)) {
            return X86_R_EXC;
        }
        cpu->lf = lf;
        return X86_R_NEXT;
    }
    if (!x86_read_op(cpu, in, d, &a)) {
        return X86_R_EXC;
    }
    x86_write_op(cpu, in, d, unary_compute(&cpu->lf, op, size, a));
    return X86_R_NEXT;
}

static ALWAYS_INLINE int unary(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0];
    if (X86I_LIKELY(d->kind == X86_OPK_REG && !(in->prefixes & X86_PFX_LOCK))) {
        x86_set_reg(cpu, d->reg, d->size, unary_compute(&cpu->lf, op, d->size, cpu->regs[d->reg]));
        return X86_R_NEXT;
    }
    return unary_slow(cpu, in, op);
}

static int h_inc(X86Cpu *cpu, const X86Insn *in) { return unary(cpu, in, U_INC); }
static int h_dec(X86Cpu *cpu, const X86Insn *in) { return unary(cpu, in, U_DEC); }
static int h_neg(X86Cpu *cpu, const X86Insn *in) { return unary(cpu, in, U_NEG); }
static int h_not(X86Cpu *cpu, const X86Insn *in) { return unary(cpu, in, U_NOT); }

/* --- Multiply and divide --- */

static int mul1(X86Cpu *cpu, const X86Insn *in, bool is_signed)
{
    unsigned size = in->op[0].size;
    uint64_t b, hi, lo;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, &in->op[0], &b)) {
        return X86_R_EXC;
    }
    uint64_t a = cpu->regs[R_AX];
    lo = is_signed ? x86_imul1(&cpu->lf, size, a, b, &hi) : x86_mul(&cpu->lf, size, a, b, &hi);
    if (size == 1) {
        x86_set_reg(cpu, R_AX, 2, (hi & 0xff) << 8 | (lo & 0xff));
    } else {
        x86_set_reg(cpu, R_AX, size, lo);
        x86_set_reg(cpu, R_DX, size, hi);
    }
    return X86_R_NEXT;
}

static int h_mul(X86Cpu *cpu, const X86Insn *in)
{
    return mul1(cpu, in, false);
}

static int h_imul(X86Cpu *cpu, const X86Insn *in)
{
    if (in->nops == 1) {
        return mul1(cpu, in, true);
    }
    const X86Operand *d = &in->op[0];
    uint64_t a, b;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (in->nops == 3) {
        if (!src_value(cpu, in, &in->op[1], &a)) {
            return X86_R_EXC;
        }
        b = (uint64_t)in->op[2].disp;
    } else {
        a = cpu->regs[d->reg];
        if (!src_value(cpu, in, &in->op[1], &b)) {
            return X86_R_EXC;
        }
    }
    x86_set_reg(cpu, d->reg, d->size, x86_imul(&cpu->lf, d->size, a, b));
    return X86_R_NEXT;
}

static int div1(X86Cpu *cpu, const X86Insn *in, bool is_signed)
{
    unsigned size = in->op[0].size;
    uint64_t divisor, hi, lo, q, r;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, &in->op[0], &divisor)) {
        return X86_R_EXC;
    }
    if (size == 1) {
        hi = (cpu->regs[R_AX] >> 8) & 0xff;
        lo = cpu->regs[R_AX] & 0xff;
    } else {
        hi = cpu->regs[R_DX];
        lo = cpu->regs[R_AX];
    }
    bool de = is_signed ? x86_idiv(&cpu->lf, size, hi, lo, divisor, &q, &r)
                        : x86_div(&cpu->lf, size, hi, lo, divisor, &q, &r);
    if (de) {
        return x86i_exc(cpu, X86_EXC_DE, 0, false);
    }
    if (size == 1) {
        x86_set_reg(cpu, R_AX, 2, (r & 0xff) << 8 | (q & 0xff));
    } else {
        x86_set_reg(cpu, R_AX, size, q);
        x86_set_reg(cpu, R_DX, size, r);
    }
    return X86_R_NEXT;
}

static int h_div(X86Cpu *cpu, const X86Insn *in) { return div1(cpu, in, false); }
static int h_idiv(X86Cpu *cpu, const X86Insn *in) { return div1(cpu, in, true); }

/* --- Shifts and rotates --- */

enum { SH_SHL, SH_SHR, SH_SAR, SH_ROL, SH_ROR, SH_RCL, SH_RCR };

static ALWAYS_INLINE uint64_t shift_compute(X86LazyFlags *lf, int op, unsigned size, uint64_t a,
                                            unsigned count)
{
    switch (op) {
    case SH_SHL: return x86_shl(lf, size, a, count);
    case SH_SHR: return x86_shr(lf, size, a, count);
    case SH_SAR: return x86_sar(lf, size, a, count);
    case SH_ROL: return x86_rol(lf, size, a, count);
    case SH_ROR: return x86_ror(lf, size, a, count);
    case SH_RCL: return x86_rcl(lf, size, a, count);
    default: return x86_rcr(lf, size, a, count);
    }
}

static NOINLINE int shift_slow(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t a, c = 1;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (in->nops > 1 && !src_value(cpu, in, &in->op[1], &c)) {
        return X86_R_EXC;
    }
    unsigned count = (unsigned)(c & 0xff);
    if (d->kind == X86_OPK_MEM) {
        uint64_t ea = x86_ea(cpu, in, d);
        if (!x86_read_seg(cpu, d->seg, ea, size, &a)) {
            return X86_R_EXC;
        }
        X86LazyFlags lf = cpu->lf;
        uint64_t r = shift_compute(&lf, op, size, a, count);
        if (!x86_write_seg(cpu, d->seg, ea, size, r)) {
            return X86_R_EXC;
        }
        cpu->lf = lf;
        return X86_R_NEXT;
    }
    if (!x86_read_op(cpu, in, d, &a)) {
        return X86_R_EXC;
    }
    x86_write_op(cpu, in, d, shift_compute(&cpu->lf, op, size, a, count));
    return X86_R_NEXT;
}

static ALWAYS_INLINE int shift(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    if (X86I_LIKELY(d->kind == X86_OPK_REG && in->nops == 2 && !(in->prefixes & X86_PFX_LOCK))) {
        unsigned count = s->kind == X86_OPK_IMM ? (unsigned)s->disp : (unsigned)cpu->regs[R_CX];
        x86_set_reg(cpu, d->reg, d->size,
                    shift_compute(&cpu->lf, op, d->size, cpu->regs[d->reg], count & 0xff));
        return X86_R_NEXT;
    }
    return shift_slow(cpu, in, op);
}

static int h_shl(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_SHL); }
static int h_shr(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_SHR); }
static int h_sar(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_SAR); }
static int h_rol(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_ROL); }
static int h_ror(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_ROR); }
static int h_rcl(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_RCL); }
static int h_rcr(X86Cpu *cpu, const X86Insn *in) { return shift(cpu, in, SH_RCR); }

static int shxd(X86Cpu *cpu, const X86Insn *in, bool left)
{
    const X86Operand *d = &in->op[0];
    unsigned size = d->size;
    uint64_t a, src, c;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, &in->op[1], &src) || !src_value(cpu, in, &in->op[2], &c)) {
        return X86_R_EXC;
    }
    unsigned count = (unsigned)(c & 0xff);
    if (d->kind == X86_OPK_MEM) {
        uint64_t ea = x86_ea(cpu, in, d);
        if (!x86_read_seg(cpu, d->seg, ea, size, &a)) {
            return X86_R_EXC;
        }
        X86LazyFlags lf = cpu->lf;
        uint64_t r = left ? x86_shld(&lf, size, a, src, count) : x86_shrd(&lf, size, a, src, count);
        if (!x86_write_seg(cpu, d->seg, ea, size, r)) {
            return X86_R_EXC;
        }
        cpu->lf = lf;
        return X86_R_NEXT;
    }
    a = cpu->regs[d->reg];
    x86_set_reg(cpu, d->reg, size,
                left ? x86_shld(&cpu->lf, size, a, src, count)
                     : x86_shrd(&cpu->lf, size, a, src, count));
    return X86_R_NEXT;
}

static int h_shld(X86Cpu *cpu, const X86Insn *in) { return shxd(cpu, in, true); }
static int h_shrd(X86Cpu *cpu, const X86Insn *in) { return shxd(cpu, in, false); }

/* --- Bit tests --- */

enum { B_BT, B_BTS, B_BTR, B_BTC };

static uint64_t bit_compute(X86LazyFlags *lf, int op, unsigned size, uint64_t a, uint64_t bit)
{
    switch (op) {
    case B_BT: x86_bt(lf, size, a, bit); return a;
    case B_BTS: return x86_bts(lf, size, a, bit);
    case B_BTR: return x86_btr(lf, size, a, bit);
    default: return x86_btc(lf, size, a, bit);
    }
}

static int bitop(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned size = d->size, bits = size * 8;
    uint64_t off, a;
    if (x86i_has_lock(in) && (op == B_BT || d->kind != X86_OPK_MEM)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, s, &off)) {
        return X86_R_EXC;
    }
    if (d->kind != X86_OPK_MEM) {
        if (!x86_read_op(cpu, in, d, &a)) {
            return X86_R_EXC;
        }
        uint64_t r = bit_compute(&cpu->lf, op, size, a, off & (bits - 1));
        if (op != B_BT) {
            x86_write_op(cpu, in, d, r);
        }
        return X86_R_NEXT;
    }
    uint64_t ea = x86_ea(cpu, in, d);
    if (s->kind == X86_OPK_IMM) {
        off &= bits - 1;
    } else {
        /* Register offset: signed, addresses the bit string beyond the
         * operand (SDM BT: "bit base" + offset; floor division). */
        int64_t so = x86_sext(off, s->size);
        int64_t unit = so >> (bits == 16 ? 4 : bits == 32 ? 5 : 6);
        ea = (ea + (uint64_t)(unit * (int64_t)size)) & x86_mask(in->addrsize);
        off = (uint64_t)so & (bits - 1);
    }
    if (!x86_read_seg(cpu, d->seg, ea, size, &a)) {
        return X86_R_EXC;
    }
    if (op == B_BT) {
        x86_bt(&cpu->lf, size, a, off);
        return X86_R_NEXT;
    }
    X86LazyFlags lf = cpu->lf;
    uint64_t r = bit_compute(&lf, op, size, a, off);
    if (!x86_write_seg(cpu, d->seg, ea, size, r)) {
        return X86_R_EXC;
    }
    cpu->lf = lf;
    return X86_R_NEXT;
}

static int h_bt(X86Cpu *cpu, const X86Insn *in) { return bitop(cpu, in, B_BT); }
static int h_bts(X86Cpu *cpu, const X86Insn *in) { return bitop(cpu, in, B_BTS); }
static int h_btr(X86Cpu *cpu, const X86Insn *in) { return bitop(cpu, in, B_BTR); }
static int h_btc(X86Cpu *cpu, const X86Insn *in) { return bitop(cpu, in, B_BTC); }

/* --- Bit scans and counts --- */

enum { SC_BSF, SC_BSR, SC_TZCNT, SC_LZCNT, SC_POPCNT };

static int scan(X86Cpu *cpu, const X86Insn *in, int op)
{
    const X86Operand *d = &in->op[0];
    uint64_t src, r;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, &in->op[1], &src)) {
        return X86_R_EXC;
    }
    unsigned size = d->size;
    src &= x86_mask(size);
    switch (op) {
    case SC_BSF:
        if (!x86_bsf(&cpu->lf, size, src, &r)) {
            return X86_R_NEXT;
        }
        break;
    case SC_BSR:
        if (!x86_bsr(&cpu->lf, size, src, &r)) {
            return X86_R_NEXT;
        }
        break;
    case SC_TZCNT: r = x86_tzcnt(&cpu->lf, size, src); break;
    case SC_LZCNT: r = x86_lzcnt(&cpu->lf, size, src); break;
    default: r = x86_popcnt(&cpu->lf, size, src); break;
    }
    x86_set_reg(cpu, d->reg, size, r);
    return X86_R_NEXT;
}

static int h_bsf(X86Cpu *cpu, const X86Insn *in) { return scan(cpu, in, SC_BSF); }
static int h_bsr(X86Cpu *cpu, const X86Insn *in) { return scan(cpu, in, SC_BSR); }
static int h_tzcnt(X86Cpu *cpu, const X86Insn *in) { return scan(cpu, in, SC_TZCNT); }
static int h_lzcnt(X86Cpu *cpu, const X86Insn *in) { return scan(cpu, in, SC_LZCNT); }
static int h_popcnt(X86Cpu *cpu, const X86Insn *in) { return scan(cpu, in, SC_POPCNT); }

/* --- Accumulator sign extensions (no flags) ---
 * By operand size, not by id: capstone 4 names 98h/99h CWDE/CDQ in 16-bit
 * code whatever the prefixes. */

static int h_cbw_cwde_cdqe(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    unsigned size = in->opsize;
    x86_set_reg(cpu, R_AX, size, (uint64_t)x86_sext(cpu->regs[R_AX], size / 2));
    return X86_R_NEXT;
}

static int h_cwd_cdq_cqo(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    unsigned size = in->opsize;
    uint64_t sign = (cpu->regs[R_AX] >> (size * 8 - 1)) & 1;
    x86_set_reg(cpu, R_DX, size, sign ? ~0ull : 0);
    return X86_R_NEXT;
}

/* --- SETcc / CMOVcc --- */

static ALWAYS_INLINE int setcc(X86Cpu *cpu, const X86Insn *in, unsigned cc)
{
    X86I_NO_LOCK(cpu, in);
    const X86Operand *d = &in->op[0];
    uint64_t v = x86_cond(&cpu->lf, cc);
    if (X86I_LIKELY(d->kind == X86_OPK_REG)) {
        x86_set_reg(cpu, d->reg, 1, v);
        return X86_R_NEXT;
    }
    return x86_write_op(cpu, in, d, v) ? X86_R_NEXT : X86_R_EXC;
}

static ALWAYS_INLINE int cmovcc(X86Cpu *cpu, const X86Insn *in, unsigned cc)
{
    const X86Operand *d = &in->op[0];
    uint64_t v;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    /* The source is read (and may fault) whatever the condition. */
    if (!src_value(cpu, in, &in->op[1], &v)) {
        return X86_R_EXC;
    }
    /* A false 32-bit CMOV still writes: the upper half is cleared. */
    x86_set_reg(cpu, d->reg, d->size, x86_cond(&cpu->lf, cc) ? v : cpu->regs[d->reg]);
    return X86_R_NEXT;
}

#define CC_HANDLERS(sfx, cc) \
    static int h_set##sfx(X86Cpu *cpu, const X86Insn *in) { return setcc(cpu, in, cc); } \
    static int h_cmov##sfx(X86Cpu *cpu, const X86Insn *in) { return cmovcc(cpu, in, cc); }
CC_HANDLERS(o, X86_COND_O)
CC_HANDLERS(no, X86_COND_NO)
CC_HANDLERS(b, X86_COND_B)
CC_HANDLERS(ae, X86_COND_AE)
CC_HANDLERS(e, X86_COND_E)
CC_HANDLERS(ne, X86_COND_NE)
CC_HANDLERS(be, X86_COND_BE)
CC_HANDLERS(a, X86_COND_A)
CC_HANDLERS(s, X86_COND_S)
CC_HANDLERS(ns, X86_COND_NS)
CC_HANDLERS(p, X86_COND_P)
CC_HANDLERS(np, X86_COND_NP)
CC_HANDLERS(l, X86_COND_L)
CC_HANDLERS(ge, X86_COND_GE)
CC_HANDLERS(le, X86_COND_LE)
CC_HANDLERS(g, X86_COND_G)

/* --- Flag instructions --- */

static int h_lahf(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    uint64_t ah = (x86_flags_get(&cpu->lf) & 0xd5) | X86_EFLAGS_FIXED;
    cpu->regs[R_AX] = (cpu->regs[R_AX] & ~0xff00ull) | (ah << 8);
    return X86_R_NEXT;
}

static int h_sahf(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    x86_flags_update(&cpu->lf, 0xd5, (uint32_t)(cpu->regs[R_AX] >> 8) & 0xff);
    return X86_R_NEXT;
}

static int h_clc(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    x86_flags_update(&cpu->lf, X86_CF, 0);
    return X86_R_NEXT;
}

static int h_stc(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    x86_flags_update(&cpu->lf, X86_CF, X86_CF);
    return X86_R_NEXT;
}

static int h_cmc(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    x86_flags_update(&cpu->lf, X86_CF, x86_flags_cf(&cpu->lf) ? 0 : X86_CF);
    return X86_R_NEXT;
}

/* --- Exchange-and-operate --- */

static int h_xadd(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned size = d->size;
    uint64_t a, b;
    if (x86i_lock_bad(in)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, s, &b)) {
        return X86_R_EXC;
    }
    if (d->kind == X86_OPK_MEM) {
        uint64_t ea = x86_ea(cpu, in, d);
        if (!x86_read_seg(cpu, d->seg, ea, size, &a)) {
            return X86_R_EXC;
        }
        X86LazyFlags lf = cpu->lf;
        uint64_t r = x86_xadd(&lf, size, a, &b);
        if (!x86_write_seg(cpu, d->seg, ea, size, r)) {
            return X86_R_EXC;
        }
        cpu->lf = lf;
        x86_write_op(cpu, in, s, b);
        return X86_R_NEXT;
    }
    if (!x86_read_op(cpu, in, d, &a)) {
        return X86_R_EXC;
    }
    uint64_t r = x86_xadd(&cpu->lf, size, a, &b);
    x86_write_op(cpu, in, s, b);   /* source first: XADD r, r leaves the sum */
    x86_write_op(cpu, in, d, r);
    return X86_R_NEXT;
}

static void write_acc(X86Cpu *cpu, unsigned size, uint64_t v)
{
    x86_set_reg(cpu, R_AX, size, v);
}

static int h_cmpxchg(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned size = d->size;
    uint64_t a, src;
    if (x86i_lock_bad(in)) {
        return x86i_ud(cpu);
    }
    if (!src_value(cpu, in, s, &src)) {
        return X86_R_EXC;
    }
    uint64_t acc = cpu->regs[R_AX] & x86_mask(size);
    if (d->kind == X86_OPK_MEM) {
        uint64_t ea = x86_ea(cpu, in, d);
        if (!x86_read_seg(cpu, d->seg, ea, size, &a)) {
            return X86_R_EXC;
        }
        X86LazyFlags lf = cpu->lf;
        bool eq = x86_cmpxchg_cmp(&lf, size, acc, a);
        /* The destination is written in both cases (SDM CMPXCHG). */
        if (!x86_write_seg(cpu, d->seg, ea, size, eq ? src : a)) {
            return X86_R_EXC;
        }
        cpu->lf = lf;
        if (!eq) {
            write_acc(cpu, size, a);
        }
        return X86_R_NEXT;
    }
    if (!x86_read_op(cpu, in, d, &a)) {
        return X86_R_EXC;
    }
    if (x86_cmpxchg_cmp(&cpu->lf, size, acc, a)) {
        x86_write_op(cpu, in, d, src);
    } else {
        write_acc(cpu, size, a);
    }
    return X86_R_NEXT;
}

static int h_cmpxchg8b(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0];
    uint64_t m;
    if (d->kind != X86_OPK_MEM) {
        return x86i_ud(cpu);
    }
    uint64_t ea = x86_ea(cpu, in, d);
    if (!x86_read_seg(cpu, d->seg, ea, 8, &m)) {
        return X86_R_EXC;
    }
    uint64_t cmp = (cpu->regs[R_DX] & 0xffffffffu) << 32 | (cpu->regs[R_AX] & 0xffffffffu);
    bool eq = m == cmp;
    uint64_t nv = eq ? ((cpu->regs[R_CX] & 0xffffffffu) << 32 | (cpu->regs[R_BX] & 0xffffffffu))
                     : m;
    if (!x86_write_seg(cpu, d->seg, ea, 8, nv)) {
        return X86_R_EXC;
    }
    x86_flags_update(&cpu->lf, X86_ZF, eq ? X86_ZF : 0);
    if (!eq) {
        x86_set_reg(cpu, R_AX, 4, m & 0xffffffffu);
        x86_set_reg(cpu, R_DX, 4, m >> 32);
    }
    return X86_R_NEXT;
}

static int h_cmpxchg16b(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0];
    uint64_t lo, hi;
    if (d->kind != X86_OPK_MEM || !x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    uint64_t ea = x86_ea(cpu, in, d);
    /* The operand's linear address must be 16-byte aligned (SDM CMPXCHG16B;
     * in 64-bit mode only FS/GS contribute a base). */
    uint64_t base = (d->seg == S_FS || d->seg == S_GS) ? cpu->segs[d->seg].base : 0;
    if ((base + ea) & 15) {
        return x86i_gp0(cpu);
    }
    if (!x86_check_seg(cpu, d->seg, ea, 16, true) ||
        !x86_read_seg(cpu, d->seg, ea, 8, &lo) || !x86_read_seg(cpu, d->seg, ea + 8, 8, &hi)) {
        return X86_R_EXC;
    }
    bool eq = lo == cpu->regs[R_AX] && hi == cpu->regs[R_DX];
    uint64_t nlo = eq ? cpu->regs[R_BX] : lo, nhi = eq ? cpu->regs[R_CX] : hi;
    if (!x86_write_seg(cpu, d->seg, ea, 8, nlo) || !x86_write_seg(cpu, d->seg, ea + 8, 8, nhi)) {
        return X86_R_EXC;
    }
    x86_flags_update(&cpu->lf, X86_ZF, eq ? X86_ZF : 0);
    if (!eq) {
        cpu->regs[R_AX] = lo;
        cpu->regs[R_DX] = hi;
    }
    return X86_R_NEXT;
}

static int h_bswap(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    const X86Operand *d = &in->op[0];
    x86_set_reg(cpu, d->reg, d->size, x86_bswap(d->size, cpu->regs[d->reg]));
    return X86_R_NEXT;
}

/* --- BCD (invalid in 64-bit mode) --- */

static int bcd(X86Cpu *cpu, const X86Insn *in, uint16_t (*fn)(X86LazyFlags *, uint16_t))
{
    X86I_NO_LOCK(cpu, in);
    if (x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    x86_set_reg(cpu, R_AX, 2, fn(&cpu->lf, (uint16_t)cpu->regs[R_AX]));
    return X86_R_NEXT;
}

static int h_daa(X86Cpu *cpu, const X86Insn *in) { return bcd(cpu, in, x86_daa); }
static int h_das(X86Cpu *cpu, const X86Insn *in) { return bcd(cpu, in, x86_das); }
static int h_aaa(X86Cpu *cpu, const X86Insn *in) { return bcd(cpu, in, x86_aaa); }
static int h_aas(X86Cpu *cpu, const X86Insn *in) { return bcd(cpu, in, x86_aas); }

/* AAM/AAD: capstone 4 does not report the immediate; it is the last byte. */
static bool bcd_imm(X86Cpu *cpu, const X86Insn *in, uint8_t *imm)
{
    if (in->nops >= 1 && in->op[0].kind == X86_OPK_IMM) {
        *imm = (uint8_t)in->op[0].disp;
        return true;
    }
    X86RawInsn raw;
    if (!x86i_raw(cpu, in, &raw)) {
        return false;
    }
    *imm = raw.last;
    return true;
}

static int h_aam(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    uint8_t imm;
    uint16_t ax;
    if (x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    if (!bcd_imm(cpu, in, &imm)) {
        return X86_R_EXC;
    }
    if (x86_aam(&cpu->lf, (uint16_t)cpu->regs[R_AX], imm, &ax)) {
        return x86i_exc(cpu, X86_EXC_DE, 0, false);
    }
    x86_set_reg(cpu, R_AX, 2, ax);
    return X86_R_NEXT;
}

static int h_aad(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    uint8_t imm;
    if (x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    if (!bcd_imm(cpu, in, &imm)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, R_AX, 2, x86_aad(&cpu->lf, (uint16_t)cpu->regs[R_AX], imm));
    return X86_R_NEXT;
}

/* --- Specialised forms (x86_insn_specialise) ---
 *
 * The two-operand ALU and INC/DEC/NEG/NOT with 32- or 64-bit operands and
 * no prefix but segment/REX ones, one handler per operation, operand kinds,
 * operand size, address size and memory-operand form, so each is a short
 * straight line: the same effects in the same order as alu2()/unary(). */

enum { F_RR, F_RI, F_RM, F_MR, F_MI };

static ALWAYS_INLINE int alu2_fast(X86Cpu *cpu, const X86Insn *in, int op, int form,
                                   unsigned sz, unsigned as, int eaf)
{
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    bool writes = op != A_CMP && op != A_TEST;
    uint64_t a, b;
    if (form == F_RR || form == F_RI || form == F_RM) {
        a = cpu->regs[d->reg];
        if (form == F_RR) {
            b = cpu->regs[s->reg];
        } else if (form == F_RI) {
            b = (uint64_t)s->disp;
        } else if (!x86_read_seg(cpu, s->seg, x86i_ea_fast(cpu, s, eaf, as), sz, &b)) {
            return X86_R_EXC;
        }
        uint64_t r = alu_compute(&cpu->lf, op, sz, a, b);
        if (writes) {
            cpu->regs[d->reg] = r;  /* 32-bit results zero-extend */
        }
        return X86_R_NEXT;
    }
    b = form == F_MR ? cpu->regs[s->reg] : (uint64_t)s->disp;
    uint64_t ea = x86i_ea_fast(cpu, d, eaf, as);
    if (!x86_read_seg(cpu, d->seg, ea, sz, &a)) {
        return X86_R_EXC;
    }
    if (!writes) {
        alu_compute(&cpu->lf, op, sz, a, b);
        return X86_R_NEXT;
    }
    X86LazyFlags lf = cpu->lf;
    uint64_t r = alu_compute(&lf, op, sz, a, b);
    if (!x86_write_seg(cpu, d->seg, ea, sz, r)) {
        return X86_R_EXC;
    }
    cpu->lf = lf;
    return X86_R_NEXT;
}

#define ALU2F_MEM(name, op, form, sz)                                                      \
    static int fa_##name##_##form##_##sz##_4b(X86Cpu *cpu, const X86Insn *in)             \
    { return alu2_fast(cpu, in, op, form, sz, 4, X86I_EA_BASE); }                          \
    static int fa_##name##_##form##_##sz##_4a(X86Cpu *cpu, const X86Insn *in)             \
    { return alu2_fast(cpu, in, op, form, sz, 4, X86I_EA_ANY); }                           \
    static int fa_##name##_##form##_##sz##_8b(X86Cpu *cpu, const X86Insn *in)             \
    { return alu2_fast(cpu, in, op, form, sz, 8, X86I_EA_BASE); }                          \
    static int fa_##name##_##form##_##sz##_8a(X86Cpu *cpu, const X86Insn *in)             \
    { return alu2_fast(cpu, in, op, form, sz, 8, X86I_EA_ANY); }
#define ALU2F_SZ(name, op, sz)                                                             \
    static int fa_##name##_F_RR_##sz(X86Cpu *cpu, const X86Insn *in)                       \
    { return alu2_fast(cpu, in, op, F_RR, sz, 8, X86I_EA_ANY); }                           \
    static int fa_##name##_F_RI_##sz(X86Cpu *cpu, const X86Insn *in)                       \
    { return alu2_fast(cpu, in, op, F_RI, sz, 8, X86I_EA_ANY); }                           \
    ALU2F_MEM(name, op, F_RM, sz)                                                          \
    ALU2F_MEM(name, op, F_MR, sz)                                                          \
    ALU2F_MEM(name, op, F_MI, sz)
#define ALU2F(name, op) ALU2F_SZ(name, op, 4) ALU2F_SZ(name, op, 8)
ALU2F(add, A_ADD)
ALU2F(or, A_OR)
ALU2F(adc, A_ADC)
ALU2F(sbb, A_SBB)
ALU2F(and, A_AND)
ALU2F(sub, A_SUB)
ALU2F(xor, A_XOR)
ALU2F(cmp, A_CMP)
ALU2F(test, A_TEST)

/* [op][sz == 8][form][as == 8][ea form]; register forms use [0][0]. */
#define ALU2F_MEM_ROW(name, form, sz)                                                      \
    { { fa_##name##_##form##_##sz##_4b, fa_##name##_##form##_##sz##_4a },                  \
      { fa_##name##_##form##_##sz##_8b, fa_##name##_##form##_##sz##_8a } }
#define ALU2F_SZ_ROW(name, sz)                                                             \
    { { { fa_##name##_F_RR_##sz, NULL }, { NULL, NULL } },                                 \
      { { fa_##name##_F_RI_##sz, NULL }, { NULL, NULL } },                                 \
      ALU2F_MEM_ROW(name, F_RM, sz), ALU2F_MEM_ROW(name, F_MR, sz),                       \
      ALU2F_MEM_ROW(name, F_MI, sz) }
#define ALU2F_ROW(name) { ALU2F_SZ_ROW(name, 4), ALU2F_SZ_ROW(name, 8) }
static const X86Handler alu2_fast_table[9][2][5][2][2] = {
    ALU2F_ROW(add), ALU2F_ROW(or), ALU2F_ROW(adc), ALU2F_ROW(sbb), ALU2F_ROW(and),
    ALU2F_ROW(sub), ALU2F_ROW(xor), ALU2F_ROW(cmp), ALU2F_ROW(test),
};

static ALWAYS_INLINE int unary_fast(X86Cpu *cpu, const X86Insn *in, int op, bool mem,
                                    unsigned sz, unsigned as, int eaf)
{
    const X86Operand *d = &in->op[0];
    if (!mem) {
        cpu->regs[d->reg] = unary_compute(&cpu->lf, op, sz, cpu->regs[d->reg]);
        return X86_R_NEXT;
    }
    uint64_t ea = x86i_ea_fast(cpu, d, eaf, as), a;
    if (!x86_read_seg(cpu, d->seg, ea, sz, &a)) {
        return X86_R_EXC;
    }
    X86LazyFlags lf = cpu->lf;
    uint64_t r = unary_compute(&lf, op, sz, a);
    if (!x86_write_seg(cpu, d->seg, ea, sz, r)) {
        return X86_R_EXC;
    }
    cpu->lf = lf;
    return X86_R_NEXT;
}

#define UNF_SZ(name, op, sz)                                                               \
    static int fu_##name##_r_##sz(X86Cpu *cpu, const X86Insn *in)                          \
    { return unary_fast(cpu, in, op, false, sz, 8, X86I_EA_ANY); }                         \
    static int fu_##name##_m_##sz##_4b(X86Cpu *cpu, const X86Insn *in)                     \
    { return unary_fast(cpu, in, op, true, sz, 4, X86I_EA_BASE); }                         \
    static int fu_##name##_m_##sz##_4a(X86Cpu *cpu, const X86Insn *in)                     \
    { return unary_fast(cpu, in, op, true, sz, 4, X86I_EA_ANY); }                          \
    static int fu_##name##_m_##sz##_8b(X86Cpu *cpu, const X86Insn *in)                     \
    { return unary_fast(cpu, in, op, true, sz, 8, X86I_EA_BASE); }                         \
    static int fu_##name##_m_##sz##_8a(X86Cpu *cpu, const X86Insn *in)                     \
    { return unary_fast(cpu, in, op, true, sz, 8, X86I_EA_ANY); }
#define UNF(name, op) UNF_SZ(name, op, 4) UNF_SZ(name, op, 8)
UNF(inc, U_INC)
UNF(dec, U_DEC)
UNF(neg, U_NEG)
UNF(not, U_NOT)

/* [op][sz == 8][mem][as == 8][ea form]; register forms use [0][0]. */
#define UNF_SZ_ROW(name, sz)                                                               \
    { { { fu_##name##_r_##sz, NULL }, { NULL, NULL } },                                    \
      { { fu_##name##_m_##sz##_4b, fu_##name##_m_##sz##_4a },                              \
        { fu_##name##_m_##sz##_8b, fu_##name##_m_##sz##_8a } } }
#define UNF_ROW(name) { UNF_SZ_ROW(name, 4), UNF_SZ_ROW(name, 8) }
static const X86Handler unary_fast_table[4][2][2][2][2] = {
    UNF_ROW(inc), UNF_ROW(dec), UNF_ROW(neg), UNF_ROW(not),
};

X86Handler x86i_specialise_alu(const X86Insn *in, unsigned code_size)
{
    (void)code_size;
    int op;
    switch (in->id) {
    case X86_INS_ADD: op = A_ADD; break;
    case X86_INS_OR: op = A_OR; break;
    case X86_INS_ADC: op = A_ADC; break;
    case X86_INS_SBB: op = A_SBB; break;
    case X86_INS_AND: op = A_AND; break;
    case X86_INS_SUB: op = A_SUB; break;
    case X86_INS_XOR: op = A_XOR; break;
    case X86_INS_CMP: op = A_CMP; break;
    case X86_INS_TEST: op = A_TEST; break;
    case X86_INS_INC: op = 9 + U_INC; break;
    case X86_INS_DEC: op = 9 + U_DEC; break;
    case X86_INS_NEG: op = 9 + U_NEG; break;
    case X86_INS_NOT: op = 9 + U_NOT; break;
    default: return NULL;
    }
    const X86Operand *d = &in->op[0], *s = &in->op[1];
    unsigned sz = d->size;
    if (sz != 4 && sz != 8) {
        return NULL;
    }
    bool as_ok = in->addrsize == 4 || in->addrsize == 8;
    unsigned as8 = in->addrsize == 8;
    if (op >= 9) {
        if (in->nops != 1) {
            return NULL;
        }
        if (d->kind == X86_OPK_REG) {
            return unary_fast_table[op - 9][sz == 8][0][0][0];
        }
        if (d->kind == X86_OPK_MEM && as_ok) {
            return unary_fast_table[op - 9][sz == 8][1][as8][x86i_ea_form(d)];
        }
        return NULL;
    }
    if (in->nops != 2) {
        return NULL;
    }
    int form;
    if (d->kind == X86_OPK_REG && s->kind == X86_OPK_REG && s->size == sz) {
        form = F_RR;
    } else if (d->kind == X86_OPK_REG && s->kind == X86_OPK_IMM) {
        form = F_RI;
    } else if (d->kind == X86_OPK_REG && s->kind == X86_OPK_MEM && s->size == sz && as_ok) {
        form = F_RM;
    } else if (d->kind == X86_OPK_MEM && s->kind == X86_OPK_REG && s->size == sz && as_ok) {
        form = F_MR;
    } else if (d->kind == X86_OPK_MEM && s->kind == X86_OPK_IMM && as_ok) {
        form = F_MI;
    } else {
        return NULL;
    }
    if (form == F_RR || form == F_RI) {
        return alu2_fast_table[op][sz == 8][form][0][0];
    }
    const X86Operand *m = form == F_RM ? s : d;
    return alu2_fast_table[op][sz == 8][form][as8][x86i_ea_form(m)];
}

void x86_insn_register_alu(void)
{
    static const struct { unsigned id; X86Handler fn; } table[] = {
        { X86_INS_ADD, h_add }, { X86_INS_OR, h_or }, { X86_INS_ADC, h_adc },
        { X86_INS_SBB, h_sbb }, { X86_INS_AND, h_and }, { X86_INS_SUB, h_sub },
        { X86_INS_XOR, h_xor }, { X86_INS_CMP, h_cmp }, { X86_INS_TEST, h_test },
        { X86_INS_INC, h_inc }, { X86_INS_DEC, h_dec }, { X86_INS_NEG, h_neg },
        { X86_INS_NOT, h_not },
        { X86_INS_MUL, h_mul }, { X86_INS_IMUL, h_imul }, { X86_INS_DIV, h_div },
        { X86_INS_IDIV, h_idiv },
        { X86_INS_SHL, h_shl }, { X86_INS_SAL, h_shl }, { X86_INS_SHR, h_shr },
        { X86_INS_SAR, h_sar }, { X86_INS_ROL, h_rol }, { X86_INS_ROR, h_ror },
        { X86_INS_RCL, h_rcl }, { X86_INS_RCR, h_rcr },
        { X86_INS_SHLD, h_shld }, { X86_INS_SHRD, h_shrd },
        { X86_INS_BT, h_bt }, { X86_INS_BTS, h_bts }, { X86_INS_BTR, h_btr },
        { X86_INS_BTC, h_btc },
        { X86_INS_BSF, h_bsf }, { X86_INS_BSR, h_bsr }, { X86_INS_TZCNT, h_tzcnt },
        { X86_INS_LZCNT, h_lzcnt }, { X86_INS_POPCNT, h_popcnt },
        { X86_INS_CBW, h_cbw_cwde_cdqe }, { X86_INS_CWDE, h_cbw_cwde_cdqe },
        { X86_INS_CDQE, h_cbw_cwde_cdqe }, { X86_INS_CWD, h_cwd_cdq_cqo },
        { X86_INS_CDQ, h_cwd_cdq_cqo }, { X86_INS_CQO, h_cwd_cdq_cqo },
        { X86_INS_SETO, h_seto }, { X86_INS_SETNO, h_setno }, { X86_INS_SETB, h_setb },
        { X86_INS_SETAE, h_setae }, { X86_INS_SETE, h_sete }, { X86_INS_SETNE, h_setne },
        { X86_INS_SETBE, h_setbe }, { X86_INS_SETA, h_seta }, { X86_INS_SETS, h_sets },
        { X86_INS_SETNS, h_setns }, { X86_INS_SETP, h_setp }, { X86_INS_SETNP, h_setnp },
        { X86_INS_SETL, h_setl }, { X86_INS_SETGE, h_setge }, { X86_INS_SETLE, h_setle },
        { X86_INS_SETG, h_setg },
        { X86_INS_CMOVO, h_cmovo }, { X86_INS_CMOVNO, h_cmovno }, { X86_INS_CMOVB, h_cmovb },
        { X86_INS_CMOVAE, h_cmovae }, { X86_INS_CMOVE, h_cmove }, { X86_INS_CMOVNE, h_cmovne },
        { X86_INS_CMOVBE, h_cmovbe }, { X86_INS_CMOVA, h_cmova }, { X86_INS_CMOVS, h_cmovs },
        { X86_INS_CMOVNS, h_cmovns }, { X86_INS_CMOVP, h_cmovp }, { X86_INS_CMOVNP, h_cmovnp },
        { X86_INS_CMOVL, h_cmovl }, { X86_INS_CMOVGE, h_cmovge }, { X86_INS_CMOVLE, h_cmovle },
        { X86_INS_CMOVG, h_cmovg },
        { X86_INS_LAHF, h_lahf }, { X86_INS_SAHF, h_sahf }, { X86_INS_CLC, h_clc },
        { X86_INS_STC, h_stc }, { X86_INS_CMC, h_cmc },
        { X86_INS_XADD, h_xadd }, { X86_INS_CMPXCHG, h_cmpxchg },
        { X86_INS_CMPXCHG8B, h_cmpxchg8b }, { X86_INS_CMPXCHG16B, h_cmpxchg16b },
        { X86_INS_BSWAP, h_bswap },
        { X86_INS_DAA, h_daa }, { X86_INS_DAS, h_das }, { X86_INS_AAA, h_aaa },
        { X86_INS_AAS, h_aas }, { X86_INS_AAM, h_aam }, { X86_INS_AAD, h_aad },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        x86_register_handler(table[i].id, table[i].fn);
    }
}
