/*
 * x86-64 encodings (SDM Vol. 2A chapter 2): legacy prefix (66h for 16-bit
 * operands), REX (W for 64-bit operands; R, X, B extend ModRM.reg,
 * SIB.index and ModRM.rm/SIB.base to R8..R15; a bare 40h makes byte
 * registers 4..7 mean SPL..DIL instead of AH..BH), opcode, ModRM, SIB,
 * displacement, immediate.
 */
#include "targets/jit/x64_emit.h"

#include <string.h>

static void put8(X64Buf *b, uint8_t v)
{
    if (b->p < b->end) {
        *b->p++ = v;
    } else {
        b->overflow = true;
    }
}

static void put32(X64Buf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        put8(b, (uint8_t)(v >> (8 * i)));
    }
}

static void put64(X64Buf *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static bool fits8(int64_t v) { return v >= -128 && v <= 127; }

/* Operand-size prefix and REX. `reg`, `index`, `rm` are the register
 * numbers that go into ModRM.reg, SIB.index and ModRM.rm/SIB.base (or
 * X64_NOREG); `byte_regs` lists the byte registers used, which need a REX
 * when one is SPL..DIL. */
static void prefixes(X64Buf *b, unsigned size, int reg, int index, int rm, bool byte_reg, bool byte_rm)
{
    if (size == 2) {
        put8(b, 0x66);
    }
    uint8_t rex = 0x40;
    if (size == 8) {
        rex |= 8;
    }
    if (reg >= 8) {
        rex |= 4;
    }
    if (index >= 8) {
        rex |= 2;
    }
    if (rm >= 8) {
        rex |= 1;
    }
    bool need = rex != 0x40 || (byte_reg && reg >= 4 && reg < 8) || (byte_rm && rm >= 4 && rm < 8);
    if (need) {
        put8(b, rex);
    }
}

static void modrm_reg(X64Buf *b, int reg, int rm)
{
    put8(b, (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7)));
}

static uint8_t scale_bits(unsigned scale)
{
    return scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
}

/* ModRM (+SIB, +disp) for [base + index*scale + disp]. */
static void modrm_mem(X64Buf *b, int reg, X64Mem m)
{
    int base = m.base & 7;
    uint8_t mod;
    if (m.disp == 0 && base != 5) {       /* RBP/R13 need an explicit disp */
        mod = 0;
    } else if (fits8(m.disp)) {
        mod = 1;
    } else {
        mod = 2;
    }
    if (m.index == X64_NOREG && base != 4) {  /* RSP/R12 need a SIB */
        put8(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | base));
    } else {
        int index = m.index == X64_NOREG ? 4 : (m.index & 7);
        put8(b, (uint8_t)((mod << 6) | ((reg & 7) << 3) | 4));
        put8(b, (uint8_t)((scale_bits(m.scale) << 6) | (index << 3) | base));
    }
    if (mod == 1) {
        put8(b, (uint8_t)m.disp);
    } else if (mod == 2) {
        put32(b, (uint32_t)m.disp);
    }
}

/* One instruction with a register in ModRM.reg and memory in ModRM.rm. */
static void op_rm_mem(X64Buf *b, unsigned size, const uint8_t *op, unsigned oplen, int reg,
                      X64Mem m, bool byte_reg)
{
    prefixes(b, size, reg, m.index, m.base, byte_reg, false);
    for (unsigned i = 0; i < oplen; i++) {
        put8(b, op[i]);
    }
    modrm_mem(b, reg, m);
}

/* ... and with registers in both. */
static void op_rm_reg(X64Buf *b, unsigned size, const uint8_t *op, unsigned oplen, int reg,
                      int rm, bool byte_reg, bool byte_rm)
{
    prefixes(b, size, reg, X64_NOREG, rm, byte_reg, byte_rm);
    for (unsigned i = 0; i < oplen; i++) {
        put8(b, op[i]);
    }
    modrm_reg(b, reg, rm);
}

static void put_imm(X64Buf *b, unsigned size, int32_t imm)
{
    if (size == 1) {
        put8(b, (uint8_t)imm);
    } else if (size == 2) {
        put8(b, (uint8_t)imm);
        put8(b, (uint8_t)(imm >> 8));
    } else {
        put32(b, (uint32_t)imm);
    }
}

void x64_mov_rr(X64Buf *b, unsigned size, X64Reg dst, X64Reg src)
{
    uint8_t op = 0x89;
    op_rm_reg(b, size, &op, 1, src, dst, false, false);
}

void x64_mov_ri(X64Buf *b, X64Reg dst, uint64_t imm)
{
    if (imm <= UINT32_MAX) {                       /* B8+r id: zero-extends */
        prefixes(b, 4, X64_NOREG, X64_NOREG, dst, false, false);
        put8(b, (uint8_t)(0xb8 + (dst & 7)));
        put32(b, (uint32_t)imm);
    } else if ((int64_t)imm == (int32_t)imm) {     /* REX.W C7 /0 id: sign-extends */
        uint8_t op = 0xc7;
        op_rm_reg(b, 8, &op, 1, 0, dst, false, false);
        put32(b, (uint32_t)imm);
    } else {                                       /* REX.W B8+r io */
        prefixes(b, 8, X64_NOREG, X64_NOREG, dst, false, false);
        put8(b, (uint8_t)(0xb8 + (dst & 7)));
        put64(b, imm);
    }
}

void x64_load(X64Buf *b, unsigned size, X64Reg dst, X64Mem m)
{
    static const uint8_t movzx8[] = { 0x0f, 0xb6 }, movzx16[] = { 0x0f, 0xb7 }, mov = 0x8b;
    if (size == 1) {
        op_rm_mem(b, 4, movzx8, 2, dst, m, false);
    } else if (size == 2) {
        op_rm_mem(b, 4, movzx16, 2, dst, m, false);
    } else {
        op_rm_mem(b, size, &mov, 1, dst, m, false);
    }
}

void x64_load_sx(X64Buf *b, unsigned size, X64Reg dst, X64Mem m)
{
    static const uint8_t movsx8[] = { 0x0f, 0xbe }, movsx16[] = { 0x0f, 0xbf }, movsxd = 0x63,
                         mov = 0x8b;
    if (size == 1) {
        op_rm_mem(b, 8, movsx8, 2, dst, m, false);
    } else if (size == 2) {
        op_rm_mem(b, 8, movsx16, 2, dst, m, false);
    } else if (size == 4) {
        op_rm_mem(b, 8, &movsxd, 1, dst, m, false);
    } else {
        op_rm_mem(b, 8, &mov, 1, dst, m, false);
    }
}

void x64_store(X64Buf *b, unsigned size, X64Mem m, X64Reg src)
{
    uint8_t op = size == 1 ? 0x88 : 0x89;
    op_rm_mem(b, size, &op, 1, src, m, size == 1);
}

void x64_store_imm(X64Buf *b, unsigned size, X64Mem m, int32_t imm)
{
    uint8_t op = size == 1 ? 0xc6 : 0xc7;
    op_rm_mem(b, size, &op, 1, 0, m, false);
    put_imm(b, size, imm);
}

void x64_lea(X64Buf *b, unsigned size, X64Reg dst, X64Mem m)
{
    uint8_t op = 0x8d;
    op_rm_mem(b, size, &op, 1, dst, m, false);
}

void x64_movzx_rr(X64Buf *b, unsigned from_size, X64Reg dst, X64Reg src)
{
    uint8_t op[2] = { 0x0f, from_size == 1 ? 0xb6 : 0xb7 };
    op_rm_reg(b, 4, op, 2, dst, src, false, from_size == 1);
}

void x64_alu_rr(X64Buf *b, X64Alu op, unsigned size, X64Reg dst, X64Reg src)
{
    uint8_t opc = (uint8_t)((op << 3) | (size == 1 ? 0 : 1));   /* op r/m, reg */
    op_rm_reg(b, size, &opc, 1, src, dst, size == 1, size == 1);
}

void x64_alu_ri(X64Buf *b, X64Alu op, unsigned size, X64Reg dst, int32_t imm)
{
    if (size == 1) {
        uint8_t opc = 0x80;
        op_rm_reg(b, 1, &opc, 1, op, dst, false, true);
        put8(b, (uint8_t)imm);
    } else if (fits8(imm)) {
        uint8_t opc = 0x83;
        op_rm_reg(b, size, &opc, 1, op, dst, false, false);
        put8(b, (uint8_t)imm);
    } else {
        uint8_t opc = 0x81;
        op_rm_reg(b, size, &opc, 1, op, dst, false, false);
        put_imm(b, size, imm);
    }
}

void x64_alu_rm(X64Buf *b, X64Alu op, unsigned size, X64Reg dst, X64Mem m)
{
    uint8_t opc = (uint8_t)((op << 3) | (size == 1 ? 2 : 3));   /* op reg, r/m */
    op_rm_mem(b, size, &opc, 1, dst, m, size == 1);
}

void x64_alu_mr(X64Buf *b, X64Alu op, unsigned size, X64Mem m, X64Reg src)
{
    uint8_t opc = (uint8_t)((op << 3) | (size == 1 ? 0 : 1));
    op_rm_mem(b, size, &opc, 1, src, m, size == 1);
}

void x64_alu_mi(X64Buf *b, X64Alu op, unsigned size, X64Mem m, int32_t imm)
{
    if (size == 1) {
        uint8_t opc = 0x80;
        op_rm_mem(b, 1, &opc, 1, op, m, false);
        put8(b, (uint8_t)imm);
    } else if (fits8(imm)) {
        uint8_t opc = 0x83;
        op_rm_mem(b, size, &opc, 1, op, m, false);
        put8(b, (uint8_t)imm);
    } else {
        uint8_t opc = 0x81;
        op_rm_mem(b, size, &opc, 1, op, m, false);
        put_imm(b, size, imm);
    }
}

void x64_test_rr(X64Buf *b, unsigned size, X64Reg a, X64Reg c)
{
    uint8_t opc = size == 1 ? 0x84 : 0x85;
    op_rm_reg(b, size, &opc, 1, c, a, size == 1, size == 1);
}

void x64_test_ri(X64Buf *b, unsigned size, X64Reg a, int32_t imm)
{
    uint8_t opc = size == 1 ? 0xf6 : 0xf7;
    op_rm_reg(b, size, &opc, 1, 0, a, false, size == 1);
    put_imm(b, size, imm);
}

static void unary_ff(X64Buf *b, unsigned size, X64Reg r, int digit)
{
    uint8_t opc = size == 1 ? 0xfe : 0xff;
    op_rm_reg(b, size, &opc, 1, digit, r, false, size == 1);
}

void x64_inc(X64Buf *b, unsigned size, X64Reg r) { unary_ff(b, size, r, 0); }
void x64_dec(X64Buf *b, unsigned size, X64Reg r) { unary_ff(b, size, r, 1); }

static void unary_f7(X64Buf *b, unsigned size, X64Reg r, int digit)
{
    uint8_t opc = size == 1 ? 0xf6 : 0xf7;
    op_rm_reg(b, size, &opc, 1, digit, r, false, size == 1);
}

void x64_not(X64Buf *b, unsigned size, X64Reg r) { unary_f7(b, size, r, 2); }
void x64_neg(X64Buf *b, unsigned size, X64Reg r) { unary_f7(b, size, r, 3); }

void x64_imul_rr(X64Buf *b, unsigned size, X64Reg dst, X64Reg src)
{
    static const uint8_t op[2] = { 0x0f, 0xaf };    /* IMUL r, r/m */
    op_rm_reg(b, size, op, 2, dst, src, false, false);
}

void x64_imul_rri(X64Buf *b, unsigned size, X64Reg dst, X64Reg src, int32_t imm)
{
    uint8_t op = fits8(imm) ? 0x6b : 0x69;          /* IMUL r, r/m, imm8 / imm32 */
    op_rm_reg(b, size, &op, 1, dst, src, false, false);
    if (fits8(imm)) {
        put8(b, (uint8_t)imm);
    } else {
        put32(b, (uint32_t)imm);
    }
}

void x64_shift_ri(X64Buf *b, X64Shift op, unsigned size, X64Reg r, uint8_t count)
{
    uint8_t opc = size == 1 ? 0xc0 : 0xc1;
    op_rm_reg(b, size, &opc, 1, op, r, false, size == 1);
    put8(b, count);
}

void x64_setcc(X64Buf *b, X64Cond cc, X64Reg dst8)
{
    uint8_t op[2] = { 0x0f, (uint8_t)(0x90 + cc) };
    op_rm_reg(b, 4, op, 2, 0, dst8, false, true);
}

size_t x64_jcc(X64Buf *b, X64Cond cc)
{
    put8(b, 0x0f);
    put8(b, (uint8_t)(0x80 + cc));
    size_t at = x64_buf_used(b);
    put32(b, 0);
    return at;
}

size_t x64_jmp(X64Buf *b)
{
    put8(b, 0xe9);
    size_t at = x64_buf_used(b);
    put32(b, 0);
    return at;
}

void x64_patch_to(X64Buf *b, size_t rel32_at, const uint8_t *target)
{
    if (b->overflow || rel32_at + 4 > (size_t)(b->end - b->start)) {
        return;
    }
    int64_t rel = target - (b->start + rel32_at + 4);
    uint32_t v = (uint32_t)(int32_t)rel;
    memcpy(b->start + rel32_at, &v, 4);
}

void x64_call(X64Buf *b, const void *fn)
{
    int64_t rel = (const uint8_t *)fn - (b->p + 5);
    if (rel == (int32_t)rel) {
        put8(b, 0xe8);
        put32(b, (uint32_t)(int32_t)rel);
    } else {
        x64_mov_ri(b, X64_RAX, (uint64_t)(uintptr_t)fn);
        put8(b, 0xff);           /* call rax: FF /2 */
        put8(b, 0xd0);
    }
}

void x64_jmp_reg(X64Buf *b, X64Reg r)
{
    uint8_t op = 0xff;                      /* FF /4 */
    op_rm_reg(b, 4, &op, 1, 4, r, false, false);
}

void x64_push(X64Buf *b, X64Reg r)
{
    if (r >= 8) {
        put8(b, 0x41);
    }
    put8(b, (uint8_t)(0x50 + (r & 7)));
}

void x64_pop(X64Buf *b, X64Reg r)
{
    if (r >= 8) {
        put8(b, 0x41);
    }
    put8(b, (uint8_t)(0x58 + (r & 7)));
}

void x64_ret(X64Buf *b)
{
    put8(b, 0xc3);
}
