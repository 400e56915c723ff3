/*
 * Control transfers (SDM Vol. 2): Jcc, JMP (relative, indirect, far), CALL
 * (relative, indirect, far), RET/RETF, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ/JRCXZ,
 * INT n/INT3/INTO and IRET.
 *
 * Relative targets: the decoder stores displacements from the next
 * instruction; a 16-bit operand size truncates the target to 16 bits
 * outside 64-bit mode. x86_jump() applies the code-segment limit (or the
 * canonical check) and commits rip; a handler that changes anything else
 * (the stack) does so only once the jump is known to succeed.
 */
#include "targets/x86/x86_insn.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* --- Jcc --- */

static ALWAYS_INLINE int jcc(X86Cpu *cpu, const X86Insn *in, unsigned cc)
{
    X86I_NO_LOCK(cpu, in);
    if (!x86_cond(&cpu->lf, cc)) {
        return X86_R_NEXT;
    }
    return x86i_branch(cpu, in->opsize, cpu->next_rip + (uint64_t)in->op[0].disp);
}

#define JCC(sfx, cc) \
    static int h_j##sfx(X86Cpu *cpu, const X86Insn *in) { return jcc(cpu, in, cc); }
JCC(o, X86_COND_O)
JCC(no, X86_COND_NO)
JCC(b, X86_COND_B)
JCC(ae, X86_COND_AE)
JCC(e, X86_COND_E)
JCC(ne, X86_COND_NE)
JCC(be, X86_COND_BE)
JCC(a, X86_COND_A)
JCC(s, X86_COND_S)
JCC(ns, X86_COND_NS)
JCC(p, X86_COND_P)
JCC(np, X86_COND_NP)
JCC(l, X86_COND_L)
JCC(ge, X86_COND_GE)
JCC(le, X86_COND_LE)
JCC(g, X86_COND_G)

/* --- JMP / CALL --- */

/* Target of a near JMP/CALL: relative immediate, or register/memory. */
static bool near_target(X86Cpu *cpu, const X86Insn *in, uint64_t *target)
{
    const X86Operand *op = &in->op[0];
    if (op->kind == X86_OPK_IMM) {
        *target = cpu->next_rip + (uint64_t)op->disp;
        return true;
    }
    if (op->kind == X86_OPK_REG) {
        *target = cpu->regs[op->reg] & x86_mask(op->size);
        return true;
    }
    return x86_read_op(cpu, in, op, target);
}

static int h_jmp(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t target;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!near_target(cpu, in, &target)) {
        return X86_R_EXC;
    }
    return x86i_branch(cpu, in->opsize, target);
}

static int h_call(X86Cpu *cpu, const X86Insn *in)
{
    uint64_t target;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!near_target(cpu, in, &target)) {
        return X86_R_EXC;
    }
    unsigned size = x86i_stack_opsize(cpu, in->opsize);
    if (size == 2 && !x86i_mode64(cpu)) {
        target &= 0xffff;
    }
    uint64_t old_sp = cpu->regs[R_SP];
    if (!x86_push(cpu, size, cpu->next_rip & x86_mask(size))) {
        return X86_R_EXC;
    }
    if (!x86_jump(cpu, target)) {
        cpu->regs[R_SP] = old_sp;
        return X86_R_EXC;
    }
    return X86_R_JUMP;
}

/* Far pointer operand of JMP/CALL far: ptr16:16/32 immediates, or m16:16/32/64. */
static bool far_target(X86Cpu *cpu, const X86Insn *in, uint16_t *sel, uint64_t *off,
                       unsigned *opsize)
{
    if (in->nops >= 2 && in->op[0].kind == X86_OPK_IMM) {
        *sel = (uint16_t)in->op[0].disp;
        *opsize = in->opsize == 4 ? 4 : 2;
        *off = (uint64_t)in->op[1].disp & x86_mask(*opsize);
        return true;
    }
    const X86Operand *m = &in->op[0];
    uint64_t s;
    if (m->kind != X86_OPK_MEM) {
        x86_raise(cpu, X86_EXC_UD, 0, false);
        return false;
    }
    /* Capstone sizes m16:xx as 6 or 10 bytes whatever the prefixes. */
    *opsize = x86i_real_opsize(cpu, in);
    uint64_t ea = x86_ea(cpu, in, m);
    if (!x86_read_seg(cpu, m->seg, ea, *opsize, off) ||
        !x86_read_seg(cpu, m->seg, (ea + *opsize) & x86_mask(in->addrsize), 2, &s)) {
        return false;
    }
    *sel = (uint16_t)s;
    return true;
}

static int h_ljmp(X86Cpu *cpu, const X86Insn *in)
{
    uint16_t sel;
    uint64_t off;
    unsigned opsize;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!far_target(cpu, in, &sel, &off, &opsize) || !x86_far_jump(cpu, sel, off, opsize)) {
        return X86_R_EXC;
    }
    return X86_R_JUMP;
}

static int h_lcall(X86Cpu *cpu, const X86Insn *in)
{
    uint16_t sel;
    uint64_t off;
    unsigned opsize;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!far_target(cpu, in, &sel, &off, &opsize) || !x86_far_call(cpu, sel, off, opsize)) {
        return X86_R_EXC;
    }
    return X86_R_JUMP;
}

/* --- RET / RETF --- */

static int h_ret(X86Cpu *cpu, const X86Insn *in)
{
    unsigned size = x86i_stack_opsize(cpu, in->opsize);
    uint64_t imm = in->nops ? (uint64_t)in->op[0].disp & 0xffff : 0;
    uint64_t target;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!x86_stack_peek(cpu, 0, size, &target) || !x86_jump(cpu, target & x86_mask(size))) {
        return X86_R_EXC;
    }
    unsigned ss = x86_stack_size(cpu);
    x86_set_reg(cpu, R_SP, ss, (cpu->regs[R_SP] + size + imm) & x86_mask(ss));
    return X86_R_JUMP;
}

static int h_retf(X86Cpu *cpu, const X86Insn *in)
{
    uint16_t imm = in->nops ? (uint16_t)in->op[0].disp : 0;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    unsigned opsize = in->id == X86_INS_RETFQ ? 8 : in->opsize == 2 ? 2 : 4;
    return x86_far_ret(cpu, opsize, imm) ? X86_R_JUMP : X86_R_EXC;
}

/* --- LOOP / JrCXZ: the counter is CX, ECX or RCX by address size --- */

enum { L_LOOP, L_LOOPE, L_LOOPNE };

static int loop(X86Cpu *cpu, const X86Insn *in, int kind)
{
    X86I_NO_LOCK(cpu, in);
    unsigned as = in->addrsize;
    uint64_t cnt = (cpu->regs[R_CX] - 1) & x86_mask(as);
    bool take = cnt != 0;
    if (take && kind != L_LOOP) {
        bool zf = x86_cond(&cpu->lf, X86_COND_E);
        take = kind == L_LOOPE ? zf : !zf;
    }
    if (take) {
        int r = x86i_branch(cpu, in->opsize, cpu->next_rip + (uint64_t)in->op[0].disp);
        if (r != X86_R_JUMP) {
            return r;  /* #GP: the counter is not decremented */
        }
    }
    x86_set_reg(cpu, R_CX, as, cnt);
    return take ? X86_R_JUMP : X86_R_NEXT;
}

static int h_loop(X86Cpu *cpu, const X86Insn *in) { return loop(cpu, in, L_LOOP); }
static int h_loope(X86Cpu *cpu, const X86Insn *in) { return loop(cpu, in, L_LOOPE); }
static int h_loopne(X86Cpu *cpu, const X86Insn *in) { return loop(cpu, in, L_LOOPNE); }

static int h_jrcxz(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (cpu->regs[R_CX] & x86_mask(in->addrsize)) {
        return X86_R_NEXT;
    }
    return x86i_branch(cpu, in->opsize, cpu->next_rip + (uint64_t)in->op[0].disp);
}

/* --- Software interrupts and IRET --- */

static int h_int(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    /* Virtual-8086 mode with IOPL < 3: #GP(0) (VME redirection is not modelled). */
    if (x86i_pe(cpu) && x86i_vm86(cpu) && x86i_iopl(cpu) < 3) {
        return x86i_gp0(cpu);
    }
    return x86i_soft_int(cpu, (int)(in->op[0].disp & 0xff));
}

static int h_int3(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    return x86i_soft_int(cpu, X86_EXC_BP);
}

static int h_into(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    if (x86i_mode64(cpu)) {
        return x86i_ud(cpu);
    }
    if (!x86_cond(&cpu->lf, X86_COND_O)) {
        return X86_R_NEXT;
    }
    return x86i_soft_int(cpu, X86_EXC_OF);
}

static int iret(X86Cpu *cpu, unsigned size)
{
    if (x86i_pe(cpu) && x86i_vm86(cpu) && x86i_iopl(cpu) < 3) {
        return x86i_gp0(cpu);
    }
    return x86_iret(cpu, size) ? X86_R_JUMP : X86_R_EXC;
}

static int h_iret(X86Cpu *cpu, const X86Insn *in)
{
    X86I_NO_LOCK(cpu, in);
    return iret(cpu, in->id == X86_INS_IRETQ ? 8 : in->id == X86_INS_IRETD ? 4 : 2);
}

/* --- Specialised Jcc (x86_insn_specialise) ---
 *
 * Jcc rel8/rel32 in 32-bit code with a 32-bit operand size, and in 64-bit
 * code: the code size is fixed per handler (a block is decoded for one code
 * size), so the target is masked and checked as x86_jump() would without
 * looking at CS's attributes: against CS.limit in 32-bit code, canonical in
 * 64-bit code (SDM Vol. 2A, Jcc; Vol. 3A 3.3.7.1). */

static ALWAYS_INLINE int jcc_fast(X86Cpu *cpu, const X86Insn *in, unsigned cc, unsigned cs)
{
    if (!x86_cond(&cpu->lf, cc)) {
        return X86_R_NEXT;
    }
    uint64_t target = cpu->next_rip + (uint64_t)in->op[0].disp;
    if (cs == 4) {
        target &= 0xffffffffu;
        if (X86I_UNLIKELY(target > cpu->segs[S_CS].limit)) {
            return x86i_gp0(cpu);
        }
    } else if (X86I_UNLIKELY((uint64_t)((int64_t)(target << 16) >> 16) != target)) {
        return x86i_gp0(cpu);
    }
    cpu->rip = target;
    return X86_R_JUMP;
}

#define JCCF(sfx, cc)                                                                      \
    static int fj_##sfx##_4(X86Cpu *cpu, const X86Insn *in) { return jcc_fast(cpu, in, cc, 4); } \
    static int fj_##sfx##_8(X86Cpu *cpu, const X86Insn *in) { return jcc_fast(cpu, in, cc, 8); }
JCCF(o, X86_COND_O)
JCCF(no, X86_COND_NO)
JCCF(b, X86_COND_B)
JCCF(ae, X86_COND_AE)
JCCF(e, X86_COND_E)
JCCF(ne, X86_COND_NE)
JCCF(be, X86_COND_BE)
JCCF(a, X86_COND_A)
JCCF(s, X86_COND_S)
JCCF(ns, X86_COND_NS)
JCCF(p, X86_COND_P)
JCCF(np, X86_COND_NP)
JCCF(l, X86_COND_L)
JCCF(ge, X86_COND_GE)
JCCF(le, X86_COND_LE)
JCCF(g, X86_COND_G)

X86Handler x86i_specialise_ctl(const X86Insn *in, unsigned code_size)
{
    static const struct { unsigned id; X86Handler f4, f8; } jccs[] = {
        { X86_INS_JO, fj_o_4, fj_o_8 }, { X86_INS_JNO, fj_no_4, fj_no_8 },
        { X86_INS_JB, fj_b_4, fj_b_8 }, { X86_INS_JAE, fj_ae_4, fj_ae_8 },
        { X86_INS_JE, fj_e_4, fj_e_8 }, { X86_INS_JNE, fj_ne_4, fj_ne_8 },
        { X86_INS_JBE, fj_be_4, fj_be_8 }, { X86_INS_JA, fj_a_4, fj_a_8 },
        { X86_INS_JS, fj_s_4, fj_s_8 }, { X86_INS_JNS, fj_ns_4, fj_ns_8 },
        { X86_INS_JP, fj_p_4, fj_p_8 }, { X86_INS_JNP, fj_np_4, fj_np_8 },
        { X86_INS_JL, fj_l_4, fj_l_8 }, { X86_INS_JGE, fj_ge_4, fj_ge_8 },
        { X86_INS_JLE, fj_le_4, fj_le_8 }, { X86_INS_JG, fj_g_4, fj_g_8 },
    };
    /* 32-bit code with a 16-bit operand size truncates the target to 16
     * bits: the generic handler. */
    if (in->nops != 1 || in->op[0].kind != X86_OPK_IMM ||
        !((code_size == 4 && in->opsize == 4) || code_size == 8)) {
        return NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(jccs); i++) {
        if (jccs[i].id == in->id) {
            return code_size == 8 ? jccs[i].f8 : jccs[i].f4;
        }
    }
    return NULL;
}

void x86_insn_register_ctl(void)
{
    static const struct { unsigned id; X86Handler fn; } table[] = {
        { X86_INS_JO, h_jo }, { X86_INS_JNO, h_jno }, { X86_INS_JB, h_jb },
        { X86_INS_JAE, h_jae }, { X86_INS_JE, h_je }, { X86_INS_JNE, h_jne },
        { X86_INS_JBE, h_jbe }, { X86_INS_JA, h_ja }, { X86_INS_JS, h_js },
        { X86_INS_JNS, h_jns }, { X86_INS_JP, h_jp }, { X86_INS_JNP, h_jnp },
        { X86_INS_JL, h_jl }, { X86_INS_JGE, h_jge }, { X86_INS_JLE, h_jle },
        { X86_INS_JG, h_jg },
        { X86_INS_JMP, h_jmp }, { X86_INS_LJMP, h_ljmp },
        { X86_INS_CALL, h_call }, { X86_INS_LCALL, h_lcall },
        { X86_INS_RET, h_ret }, { X86_INS_RETF, h_retf }, { X86_INS_RETFQ, h_retf },
        { X86_INS_LOOP, h_loop }, { X86_INS_LOOPE, h_loope }, { X86_INS_LOOPNE, h_loopne },
        { X86_INS_JCXZ, h_jrcxz }, { X86_INS_JECXZ, h_jrcxz }, { X86_INS_JRCXZ, h_jrcxz },
        { X86_INS_INT, h_int }, { X86_INS_INT3, h_int3 }, { X86_INS_INTO, h_into },
        { X86_INS_IRET, h_iret }, { X86_INS_IRETD, h_iret }, { X86_INS_IRETQ, h_iret },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        x86_register_handler(table[i].id, table[i].fn);
    }
}
