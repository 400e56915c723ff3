/*
 * The x86-64 machine-code emitter (targets/jit/x64_emit.[ch]).
 *
 * Encoding tests: every emitter function is called over its inputs (all 16
 * registers in every operand position, every operand size it accepts,
 * memory operands with every base, index and scale and with displacements
 * 0 / disp8 / disp32 at their boundaries, immediates at the int8 / int32
 * boundaries), the bytes are decoded by capstone (64-bit mode, detail on),
 * and exactly one instruction (two for a far call) must come out, covering
 * exactly the bytes written, with the expected instruction id and the
 * expected operands compared field by field (register ids, memory
 * base/index/scale/disp, immediate values, operand sizes), so nothing
 * depends on capstone's text formatting. The expected length is computed
 * from the SDM's rules, so encodings must also be the shortest the rules
 * give (no superfluous REX, disp8 whenever it fits, imm8 forms) and byte
 * registers 4..7 must be SPL..DIL (never AH..BH). Bytes after the
 * instruction must be left alone.
 *
 * Overflow tests: every kind of instruction into every too-small buffer
 * size: overflow is set, nothing is written outside the buffer (guard
 * bytes on both sides), and it stays set.
 *
 * Execution tests (skipped when the host refuses an RWX mapping): small
 * generated functions are run and compared with C: (a + b) & c, loops
 * closed with x64_dec + x64_jcc / x64_jmp and patched labels, x64_setcc
 * of each condition after a CMP over a grid of signed/unsigned edge
 * values, the ALU operations, shifts, INC/DEC, loads, stores and LEA over
 * many addressing modes, and calls (rel32 and far through RAX).
 *
 * Nothing is random. A failing case is printed on stderr (the first 25)
 * with its inputs, the bytes and capstone's decoding; a test fails once
 * at its end with the count and the first message.
 */
#include <capstone/capstone.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "targets/jit/x64_emit.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static csh g_cs;

/* ------------------------------------------------------------------------
 * Tables
 */

static const char *const RN[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};
static const x86_reg R64[16] = {
    X86_REG_RAX, X86_REG_RCX, X86_REG_RDX, X86_REG_RBX, X86_REG_RSP, X86_REG_RBP, X86_REG_RSI, X86_REG_RDI,
    X86_REG_R8,  X86_REG_R9,  X86_REG_R10, X86_REG_R11, X86_REG_R12, X86_REG_R13, X86_REG_R14, X86_REG_R15,
};
static const x86_reg R32[16] = {
    X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX, X86_REG_ESP, X86_REG_EBP, X86_REG_ESI, X86_REG_EDI,
    X86_REG_R8D, X86_REG_R9D, X86_REG_R10D, X86_REG_R11D, X86_REG_R12D, X86_REG_R13D, X86_REG_R14D, X86_REG_R15D,
};
static const x86_reg R16[16] = {
    X86_REG_AX,  X86_REG_CX,  X86_REG_DX,   X86_REG_BX,   X86_REG_SP,   X86_REG_BP,   X86_REG_SI,   X86_REG_DI,
    X86_REG_R8W, X86_REG_R9W, X86_REG_R10W, X86_REG_R11W, X86_REG_R12W, X86_REG_R13W, X86_REG_R14W, X86_REG_R15W,
};
/* Byte registers 4..7 are SPL..DIL: AH..BH must never appear. */
static const x86_reg R8B[16] = {
    X86_REG_AL,  X86_REG_CL,  X86_REG_DL,   X86_REG_BL,   X86_REG_SPL,  X86_REG_BPL,  X86_REG_SIL,  X86_REG_DIL,
    X86_REG_R8B, X86_REG_R9B, X86_REG_R10B, X86_REG_R11B, X86_REG_R12B, X86_REG_R13B, X86_REG_R14B, X86_REG_R15B,
};

static x86_reg reg_id(unsigned size, int r)
{
    switch (size) {
    case 1: return R8B[r];
    case 2: return R16[r];
    case 4: return R32[r];
    default: return R64[r];
    }
}

static const char *rn(int r) { return r < 0 ? "-" : RN[r]; }

static const x86_insn ALU_ID[8] = {
    X86_INS_ADD, X86_INS_OR, X86_INS_ADC, X86_INS_SBB, X86_INS_AND, X86_INS_SUB, X86_INS_XOR, X86_INS_CMP,
};
static const char *const ALU_NAME[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };
static const x86_insn JCC_ID[16] = {
    X86_INS_JO, X86_INS_JNO, X86_INS_JB, X86_INS_JAE, X86_INS_JE, X86_INS_JNE, X86_INS_JBE, X86_INS_JA,
    X86_INS_JS, X86_INS_JNS, X86_INS_JP, X86_INS_JNP, X86_INS_JL, X86_INS_JGE, X86_INS_JLE, X86_INS_JG,
};
static const x86_insn SETCC_ID[16] = {
    X86_INS_SETO, X86_INS_SETNO, X86_INS_SETB, X86_INS_SETAE, X86_INS_SETE, X86_INS_SETNE, X86_INS_SETBE, X86_INS_SETA,
    X86_INS_SETS, X86_INS_SETNS, X86_INS_SETP, X86_INS_SETNP, X86_INS_SETL, X86_INS_SETGE, X86_INS_SETLE, X86_INS_SETG,
};
static const char *const CC_NAME[16] = {
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
};
static const X64Shift SHIFTS[5] = { X64_ROL, X64_ROR, X64_SHL, X64_SHR, X64_SAR };
static const x86_insn SHIFT_ID[5] = { X86_INS_ROL, X86_INS_ROR, X86_INS_SHL, X86_INS_SHR, X86_INS_SAR };
static const char *const SHIFT_NAME[5] = { "rol", "ror", "shl", "shr", "sar" };

static const unsigned SIZES[4] = { 1, 2, 4, 8 };
static const int32_t IMMS[] = {
    0, 1, -1, 127, -128, 128, -129, 255, 0x7fff, -32768, 0x12345678, INT32_MAX, INT32_MIN,
};
static const int32_t DISPS[] = { 0, 1, -1, 127, -128, 128, -129, 0x12345678, INT32_MAX, INT32_MIN };

/* Memory operands. g_full: every base x (no index | every index x every
 * scale) x DISPS. g_small: every base with disp 0 / disp8 / disp32, plus
 * index combinations around the special encodings (RSP/R12 base, RBP/R13
 * base, R12/R13 index). */
static X64Mem g_full[16 * (1 + 15 * 4) * N(DISPS)];
static size_t g_nfull;
static X64Mem g_small[128];
static size_t g_nsmall;

static void build_mems(void)
{
    g_nfull = 0;
    for (int base = 0; base < 16; base++) {
        for (int index = -1; index < 16; index++) {
            if (index == X64_RSP) {
                continue;
            }
            for (unsigned sc = 1; sc <= 8; sc *= 2) {
                if (index < 0 && sc > 1) {
                    break;
                }
                for (size_t d = 0; d < N(DISPS); d++) {
                    g_full[g_nfull++] = x64_mem_idx(base, index, sc, DISPS[d]);
                }
            }
        }
    }
    g_nsmall = 0;
    static const int32_t sd[] = { 0, -128, 128 };
    for (int base = 0; base < 16; base++) {
        for (size_t d = 0; d < N(sd); d++) {
            g_small[g_nsmall++] = x64_mem(base, sd[d]);
        }
    }
    static const struct { X64Reg base, index; unsigned scale; int32_t disp; } idx[] = {
        { X64_RSP, X64_RBP, 1, 0 },          { X64_RBP, X64_R12, 2, 0 },
        { X64_R13, X64_R13, 2, 0 },          { X64_R12, X64_RAX, 4, -1 },
        { X64_RAX, X64_R15, 8, 0x12345678 }, { X64_RBP, X64_RSI, 8, 0 },
        { X64_R12, X64_R12, 1, 127 },        { X64_R15, X64_R8, 2, -129 },
        { X64_RSP, X64_R13, 4, INT32_MIN },  { X64_RBX, X64_RDI, 1, INT32_MAX },
        { X64_R13, X64_R9, 8, 0 },           { X64_RDI, X64_RCX, 4, 64 },
    };
    for (size_t i = 0; i < N(idx); i++) {
        g_small[g_nsmall++] = x64_mem_idx(idx[i].base, idx[i].index, idx[i].scale, idx[i].disp);
    }
}

/* ------------------------------------------------------------------------
 * Failure reporting: cases keep running after a failure; the test fails at
 * its end (done()) with the count and the first message.
 */

static int g_fails;
static char g_first[1200];
static unsigned long g_cases;       /* decoded sequences, X64_EMIT_VERBOSE=1 prints it */

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_fails == 0) {
        snprintf(g_first, sizeof g_first, "%s", msg);
    }
    if (g_fails < 25) {
        fprintf(stderr, "x64_emit: FAIL %s\n", msg);
    }
    g_fails++;
}

static void setup(void)
{
    g_fails = 0;
    g_first[0] = 0;
    g_cases = 0;
}

static void done(void)
{
    if (getenv("X64_EMIT_VERBOSE")) {
        printf("x64_emit: %lu sequences decoded\n", g_cases);
    }
    ck_assert_msg(g_fails == 0, "%d failed case(s); first: %s", g_fails, g_first);
}

/* ------------------------------------------------------------------------
 * Expected instructions and their comparison with capstone's decoding.
 */

typedef struct ExpOp {
    x86_op_type type;
    x86_reg reg;            /* X86_OP_REG */
    uint64_t imm;           /* X86_OP_IMM: compared modulo 2^(8 * imm_bytes) */
    unsigned imm_bytes;
    x86_reg base, index;    /* X86_OP_MEM */
    int scale;
    int64_t disp;
    unsigned size;          /* operand size in bytes, 0: not checked */
} ExpOp;

typedef struct Exp {
    x86_insn id;
    unsigned len;           /* 0: not checked */
    unsigned nops;
    ExpOp op[3];
} Exp;

static ExpOp R(unsigned size, int r)
{
    return (ExpOp){ .type = X86_OP_REG, .reg = reg_id(size, r), .size = size };
}

static ExpOp I(unsigned bytes, uint64_t v)
{
    return (ExpOp){ .type = X86_OP_IMM, .imm = v, .imm_bytes = bytes };
}

static ExpOp M(unsigned size, X64Mem m)
{
    return (ExpOp){
        .type = X86_OP_MEM,
        .base = R64[m.base],
        .index = m.index == X64_NOREG ? X86_REG_INVALID : R64[m.index],
        .scale = m.index == X64_NOREG ? 1 : m.scale,
        .disp = m.disp,
        .size = size,
    };
}

static const char *regname(x86_reg r)
{
    const char *s = r == X86_REG_INVALID ? "none" : cs_reg_name(g_cs, r);
    return s ? s : "?";
}

static bool match_op(const cs_x86_op *op, const ExpOp *e, char *p, size_t pl)
{
    if (op->type != e->type) {
        snprintf(p, pl, "type %d, expected %d", (int)op->type, (int)e->type);
        return false;
    }
    switch (e->type) {
    case X86_OP_REG:
        if (op->reg != e->reg) {
            snprintf(p, pl, "register %s, expected %s", regname(op->reg), regname(e->reg));
            return false;
        }
        break;
    case X86_OP_IMM: {
        uint64_t mask = e->imm_bytes >= 8 ? ~0ull : (1ull << (8 * e->imm_bytes)) - 1;
        if ((((uint64_t)op->imm ^ e->imm) & mask) != 0) {
            snprintf(p, pl, "immediate %#" PRIx64 ", expected %#" PRIx64 " (low %u bytes)", (uint64_t)op->imm,
                     e->imm & mask, e->imm_bytes);
            return false;
        }
        break;
    }
    case X86_OP_MEM:
        if (op->mem.segment != X86_REG_INVALID || op->mem.base != e->base || op->mem.index != e->index ||
            op->mem.scale != e->scale || op->mem.disp != e->disp) {
            snprintf(p, pl, "memory [%s:%s + %s*%d %+" PRId64 "], expected [%s + %s*%d %+" PRId64 "]",
                     regname(op->mem.segment), regname(op->mem.base), regname(op->mem.index), op->mem.scale,
                     op->mem.disp, regname(e->base), regname(e->index), e->scale, e->disp);
            return false;
        }
        break;
    default:
        snprintf(p, pl, "unexpected operand type %d", (int)e->type);
        return false;
    }
    if (e->size && op->size != e->size) {
        snprintf(p, pl, "operand size %u, expected %u", op->size, e->size);
        return false;
    }
    return true;
}

static bool match_insn(const cs_insn *in, const Exp *e, char *p, size_t pl)
{
    if (in->id != (unsigned)e->id) {
        snprintf(p, pl, "instruction %s, expected %s", in->mnemonic, cs_insn_name(g_cs, e->id));
        return false;
    }
    const cs_x86 *x = &in->detail->x86;
    if (x->prefix[0] || x->prefix[1] || x->prefix[3]) {
        snprintf(p, pl, "unexpected prefix %02x %02x %02x", x->prefix[0], x->prefix[1], x->prefix[3]);
        return false;
    }
    if (x->op_count != e->nops) {
        snprintf(p, pl, "%u operands, expected %u", x->op_count, e->nops);
        return false;
    }
    for (unsigned j = 0; j < e->nops; j++) {
        char q[300];
        if (!match_op(&x->operands[j], &e->op[j], q, sizeof q)) {
            snprintf(p, pl, "operand %u: %s", j, q);
            return false;
        }
    }
    if (e->len && in->size != e->len) {
        snprintf(p, pl, "%s is %u bytes, expected %u (the shortest encoding)", in->mnemonic, in->size, e->len);
        return false;
    }
    return true;
}

/* Decode code[0..len) at `addr`: it must be exactly n instructions covering
 * all the bytes, matching exp[]. On a mismatch `why` says what differs,
 * with the bytes and capstone's decoding. */
static bool decode_check(const uint8_t *code, size_t len, uint64_t addr, const Exp *exp, unsigned n, char *why,
                         size_t wl)
{
    cs_insn *ins = NULL;
    size_t cnt = cs_disasm(g_cs, code, len, addr, 0, &ins);
    g_cases++;
    char text[400] = "", hex[200] = "", prob[400] = "";
    size_t total = 0, tl = 0, hl = 0;
    for (size_t k = 0; k < cnt; k++) {
        total += ins[k].size;
        if (tl < sizeof text) {
            tl += (size_t)snprintf(text + tl, sizeof text - tl, "%s%s %s", k ? "; " : "", ins[k].mnemonic,
                                   ins[k].op_str);
        }
    }
    for (size_t k = 0; k < len && hl < sizeof hex; k++) {
        hl += (size_t)snprintf(hex + hl, sizeof hex - hl, "%s%02x", k ? " " : "", code[k]);
    }
    bool ok = true;
    if (cnt != n || total != len) {
        snprintf(prob, sizeof prob, "decodes as %zu instruction(s) covering %zu of %zu bytes, expected %u", cnt,
                 total, len, n);
        ok = false;
    } else {
        for (unsigned k = 0; k < n && ok; k++) {
            char q[350];
            if (!match_insn(&ins[k], &exp[k], q, sizeof q)) {
                snprintf(prob, sizeof prob, "insn %u: %s", k, q);
                ok = false;
            }
        }
    }
    if (!ok) {
        snprintf(why, wl, "[%s] = \"%s\": %s", hex, text, prob);
    }
    if (cnt) {
        cs_free(ins, cnt);
    }
    return ok;
}

/* The buffer the encoding tests write into, and the bytes after it that
 * must stay untouched. */
#define CODE_CAP 96
#define FILL 0xa5
static uint8_t g_static_arena[CODE_CAP + 64] __attribute__((aligned(64)));
static uint8_t *g_arena = g_static_arena;
static X64Buf g_b;

static X64Buf *fresh(void)
{
    memset(g_arena, FILL, CODE_CAP + 64);
    x64_buf_init(&g_b, g_arena, CODE_CAP);
    return &g_b;
}

static bool verify(const X64Buf *b, const Exp *exp, unsigned n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool verify(const X64Buf *b, const Exp *exp, unsigned n, const char *fmt, ...)
{
    char why[1000] = "";
    bool ok = true;
    size_t used = x64_buf_used(b);
    if (!x64_buf_ok(b)) {
        snprintf(why, sizeof why, "overflow set in a %d-byte buffer", CODE_CAP);
        ok = false;
    } else if (used == 0) {
        snprintf(why, sizeof why, "nothing written");
        ok = false;
    } else {
        for (size_t i = used; i < CODE_CAP + 64; i++) {
            if (g_arena[i] != FILL) {
                snprintf(why, sizeof why, "byte %zu after the %zu written was changed", i, used);
                ok = false;
                break;
            }
        }
    }
    if (ok) {
        ok = decode_check(b->start, used, (uint64_t)(uintptr_t)b->start, exp, n, why, sizeof why);
    }
    if (!ok) {
        char what[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        failf("%s: %s", what, why);
    }
    return ok;
}

/* ------------------------------------------------------------------------
 * Expected lengths, from the SDM's rules (Vol. 2A 2.1-2.2).
 */

static bool fits8(int64_t v) { return v >= -128 && v <= 127; }

/* 1 when a REX prefix is needed: W, a register 8..15 in ModRM.reg,
 * SIB.index or ModRM.rm/SIB.base, or a byte register 4..7 (SPL..DIL). */
static unsigned rexlen(bool w, int reg, int index, int rm, bool byte_reg, bool byte_rm)
{
    return w || reg >= 8 || index >= 8 || rm >= 8 || (byte_reg && reg >= 4 && reg < 8) ||
           (byte_rm && rm >= 4 && rm < 8);
}

/* ModRM + SIB + displacement. */
static unsigned memlen(X64Mem m)
{
    unsigned n = 1;
    if (m.index != X64_NOREG || (m.base & 7) == 4) {
        n++;                                    /* SIB: an index, or an RSP/R12 base */
    }
    if (m.disp == 0 && (m.base & 7) != 5) {
        /* no displacement (RBP/R13 need one) */
    } else if (fits8(m.disp)) {
        n += 1;
    } else {
        n += 4;
    }
    return n;
}

static unsigned osz(unsigned size) { return size == 2; }                     /* 66h */
static unsigned immlen(unsigned size) { return size == 1 ? 1 : size == 2 ? 2 : 4; }

/* mov reg, imm64 in the shortest form: form 0: B8+r id (zero-extends),
 * 1: REX.W C7 /0 id (sign-extends), 2: REX.W B8+r io (movabs). */
static Exp mov_ri_exp(int d, uint64_t v, int *form)
{
    if (v <= UINT32_MAX) {
        *form = 0;
        return (Exp){ X86_INS_MOV, (d >= 8) + 5u, 2, { R(4, d), I(4, v) } };
    }
    if ((int64_t)v == (int32_t)v) {
        *form = 1;
        return (Exp){ X86_INS_MOV, 7, 2, { R(8, d), I(8, v) } };
    }
    *form = 2;
    return (Exp){ X86_INS_MOVABS, 10, 2, { R(8, d), I(8, v) } };
}

/* ------------------------------------------------------------------------
 * Encoding tests: register forms.
 */

START_TEST(test_mov_rr)
{
    for (unsigned s = 4; s <= 8; s += 4) {
        for (int d = 0; d < 16; d++) {
            for (int r = 0; r < 16; r++) {
                X64Buf *b = fresh();
                x64_mov_rr(b, s, d, r);
                Exp e = { X86_INS_MOV, rexlen(s == 8, r, -1, d, false, false) + 2, 2, { R(s, d), R(s, r) } };
                verify(b, &e, 1, "x64_mov_rr(%u, %s, %s)", s, RN[d], RN[r]);
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_mov_ri)
{
    /* 'z': mov r32, imm32 (B8+r, zero-extends), 's': REX.W C7 /0 imm32
     * (sign-extends), 'a': movabs (REX.W B8+r imm64). */
    static const struct { uint64_t v; char form; } cases[] = {
        { 0, 'z' },
        { 1, 'z' },
        { 0x7f, 'z' },
        { 0x80, 'z' },
        { 0x7fffffff, 'z' },
        { 0x80000000, 'z' },
        { UINT32_MAX, 'z' },
        { UINT64_MAX, 's' },
        { (uint64_t)-128, 's' },
        { (uint64_t)-129, 's' },
        { (uint64_t)-0x12345678, 's' },
        { (uint64_t)(int64_t)INT32_MIN, 's' },
        { 0x100000000ull, 'a' },
        { 0xffffffff7fffffffull, 'a' },
        { 0xfffffffe00000000ull, 'a' },
        { 0x123456789abcdef0ull, 'a' },
        { (uint64_t)INT64_MAX, 'a' },
        { 0x8000000000000000ull, 'a' },
    };
    for (size_t i = 0; i < N(cases); i++) {
        for (int d = 0; d < 16; d++) {
            uint64_t v = cases[i].v;
            X64Buf *b = fresh();
            x64_mov_ri(b, d, v);
            Exp e;
            if (cases[i].form == 'z') {
                e = (Exp){ X86_INS_MOV, (d >= 8) + 5u, 2, { R(4, d), I(4, v) } };
            } else if (cases[i].form == 's') {
                e = (Exp){ X86_INS_MOV, 7, 2, { R(8, d), I(8, v) } };
            } else {
                e = (Exp){ X86_INS_MOVABS, 10, 2, { R(8, d), I(8, v) } };
            }
            if (verify(b, &e, 1, "x64_mov_ri(%s, %#" PRIx64 ") [form %c]", RN[d], v, cases[i].form) &&
                cases[i].form == 's' && b->start[1] != 0xc7) {
                failf("x64_mov_ri(%s, %#" PRIx64 "): opcode %02x, expected c7", RN[d], v, b->start[1]);
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_movzx_rr)
{
    for (unsigned from = 1; from <= 2; from++) {
        for (int d = 0; d < 16; d++) {
            for (int s = 0; s < 16; s++) {
                X64Buf *b = fresh();
                x64_movzx_rr(b, from, d, s);
                Exp e = { X86_INS_MOVZX, rexlen(false, d, -1, s, false, from == 1) + 3, 2, { R(4, d), R(from, s) } };
                verify(b, &e, 1, "x64_movzx_rr(%u, %s, %s)", from, RN[d], RN[s]);
            }
        }
    }
    done();
}
END_TEST

/* Loop test over the 8 ALU operations. */
START_TEST(test_alu_rr)
{
    X64Alu op = (X64Alu)_i;
    for (size_t si = 0; si < 4; si++) {
        unsigned s = SIZES[si];
        for (int d = 0; d < 16; d++) {
            for (int r = 0; r < 16; r++) {
                X64Buf *b = fresh();
                x64_alu_rr(b, op, s, d, r);
                Exp e = { ALU_ID[op], osz(s) + rexlen(s == 8, r, -1, d, s == 1, s == 1) + 2, 2, { R(s, d), R(s, r) } };
                verify(b, &e, 1, "x64_alu_rr(%s, %u, %s, %s)", ALU_NAME[op], s, RN[d], RN[r]);
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_alu_ri)
{
    X64Alu op = (X64Alu)_i;
    for (size_t si = 0; si < 4; si++) {
        unsigned s = SIZES[si];
        for (int d = 0; d < 16; d++) {
            for (size_t k = 0; k < N(IMMS); k++) {
                int32_t imm = IMMS[k];
                X64Buf *b = fresh();
                x64_alu_ri(b, op, s, d, imm);
                /* 80 /op ib for bytes, 83 /op ib when imm fits int8, else 81 /op iw/id */
                unsigned len = osz(s) + rexlen(s == 8, -1, -1, d, false, s == 1) + 2 +
                               (s == 1 || fits8(imm) ? 1 : immlen(s));
                Exp e = { ALU_ID[op], len, 2, { R(s, d), I(s, (uint64_t)(int64_t)imm) } };
                verify(b, &e, 1, "x64_alu_ri(%s, %u, %s, %" PRId32 ")", ALU_NAME[op], s, RN[d], imm);
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_test)
{
    for (size_t si = 0; si < 4; si++) {
        unsigned s = SIZES[si];
        for (int a = 0; a < 16; a++) {
            for (int c = 0; c < 16; c++) {
                X64Buf *b = fresh();
                x64_test_rr(b, s, a, c);
                Exp e = { X86_INS_TEST, osz(s) + rexlen(s == 8, c, -1, a, s == 1, s == 1) + 2, 2, { R(s, a), R(s, c) } };
                verify(b, &e, 1, "x64_test_rr(%u, %s, %s)", s, RN[a], RN[c]);
            }
            for (size_t k = 0; k < N(IMMS); k++) {
                int32_t imm = IMMS[k];
                X64Buf *b = fresh();
                x64_test_ri(b, s, a, imm);
                Exp e = { X86_INS_TEST, osz(s) + rexlen(s == 8, -1, -1, a, false, s == 1) + 2 + immlen(s), 2,
                          { R(s, a), I(s, (uint64_t)(int64_t)imm) } };
                verify(b, &e, 1, "x64_test_ri(%u, %s, %" PRId32 ")", s, RN[a], imm);
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_inc_dec)
{
    for (size_t si = 0; si < 4; si++) {
        unsigned s = SIZES[si];
        for (int r = 0; r < 16; r++) {
            for (int dec = 0; dec < 2; dec++) {
                X64Buf *b = fresh();
                if (dec) {
                    x64_dec(b, s, r);
                } else {
                    x64_inc(b, s, r);
                }
                Exp e = { dec ? X86_INS_DEC : X86_INS_INC, osz(s) + rexlen(s == 8, -1, -1, r, false, s == 1) + 2, 1,
                          { R(s, r) } };
                verify(b, &e, 1, "x64_%s(%u, %s)", dec ? "dec" : "inc", s, RN[r]);
            }
            if (s >= 4) {
                for (int r2 = 0; r2 < 16; r2++) {
                    X64Buf *b = fresh();
                    x64_imul_rr(b, s, r, r2);
                    Exp e = { X86_INS_IMUL, rexlen(s == 8, r, -1, r2, false, false) + 3, 2,
                              { R(s, r), R(s, r2) } };
                    verify(b, &e, 1, "x64_imul_rr(%u, %s, %s)", s, RN[r], RN[r2]);
                    static const int32_t imms[] = { 0, 1, -1, 127, -128, 128, -129, 16777619,
                                                    INT32_MIN, INT32_MAX };
                    for (size_t k = 0; k < N(imms); k++) {
                        b = fresh();
                        x64_imul_rri(b, s, r, r2, imms[k]);
                        bool i8 = imms[k] >= -128 && imms[k] <= 127;
                        Exp e3 = { X86_INS_IMUL, rexlen(s == 8, r, -1, r2, false, false) + 2 +
                                   (i8 ? 1u : 4u), 3, { R(s, r), R(s, r2), I(s, imms[k]) } };
                        verify(b, &e3, 1, "x64_imul_rri(%u, %s, %s, %d)", s, RN[r], RN[r2],
                               imms[k]);
                    }
                }
            }
            for (int neg = 0; neg < 2; neg++) {
                X64Buf *b = fresh();
                if (neg) {
                    x64_neg(b, s, r);
                } else {
                    x64_not(b, s, r);
                }
                Exp e = { neg ? X86_INS_NEG : X86_INS_NOT, osz(s) + rexlen(s == 8, -1, -1, r, false, s == 1) + 2, 1,
                          { R(s, r) } };
                verify(b, &e, 1, "x64_%s(%u, %s)", neg ? "neg" : "not", s, RN[r]);
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_shift_ri)
{
    static const uint8_t counts[] = { 0, 1, 3, 7, 8, 15, 16, 31, 32, 63 };
    for (size_t k = 0; k < N(SHIFTS); k++) {
        for (size_t si = 0; si < 4; si++) {
            unsigned s = SIZES[si];
            for (int r = 0; r < 16; r++) {
                for (size_t c = 0; c < N(counts); c++) {
                    X64Buf *b = fresh();
                    x64_shift_ri(b, SHIFTS[k], s, r, counts[c]);
                    Exp e = { SHIFT_ID[k], osz(s) + rexlen(s == 8, -1, -1, r, false, s == 1) + 3, 2,
                              { R(s, r), I(1, counts[c]) } };
                    verify(b, &e, 1, "x64_shift_ri(%s, %u, %s, %u)", SHIFT_NAME[k], s, RN[r], counts[c]);
                }
            }
        }
    }
    done();
}
END_TEST

START_TEST(test_setcc)
{
    for (int cc = 0; cc < 16; cc++) {
        for (int r = 0; r < 16; r++) {
            X64Buf *b = fresh();
            x64_setcc(b, (X64Cond)cc, r);
            Exp e = { SETCC_ID[cc], rexlen(false, -1, -1, r, false, true) + 3, 1, { R(1, r) } };
            verify(b, &e, 1, "x64_setcc(%s, %s)", CC_NAME[cc], RN[r]);
        }
    }
    done();
}
END_TEST

START_TEST(test_push_pop_ret)
{
    for (int r = 0; r < 16; r++) {
        for (int pop = 0; pop < 2; pop++) {
            X64Buf *b = fresh();
            if (pop) {
                x64_pop(b, r);
            } else {
                x64_push(b, r);
            }
            Exp e = { pop ? X86_INS_POP : X86_INS_PUSH, (r >= 8) + 1u, 1, { R(8, r) } };
            verify(b, &e, 1, "x64_%s(%s)", pop ? "pop" : "push", RN[r]);
        }
    }
    for (int r = 0; r < 16; r++) {
        X64Buf *b = fresh();
        x64_jmp_reg(b, r);
        Exp e = { X86_INS_JMP, (r >= 8) + 2u, 1, { R(8, r) } };
        verify(b, &e, 1, "x64_jmp_reg(%s)", RN[r]);
    }
    X64Buf *b = fresh();
    x64_ret(b);
    Exp e = { X86_INS_RET, 1, 0, { { 0 } } };
    verify(b, &e, 1, "x64_ret()");
    done();
}
END_TEST

/* ------------------------------------------------------------------------
 * Encoding tests: memory forms.
 */

enum { MF_LOAD, MF_LOAD_SX, MF_STORE, MF_STORE_IMM, MF_LEA, MF_ALU_RM, MF_ALU_MR, MF_ALU_MI, MF_N };
static const char *const MF_NAME[MF_N] = {
    "x64_load", "x64_load_sx", "x64_store", "x64_store_imm", "x64_lea", "x64_alu_rm", "x64_alu_mr", "x64_alu_mi",
};
/* The sizes each accepts. */
static const unsigned MF_SIZES[MF_N][5] = {
    { 1, 2, 4, 8 }, { 1, 2, 4 }, { 1, 2, 4, 8 }, { 1, 2, 4, 8 }, { 4, 8 }, { 1, 2, 4, 8 }, { 1, 2, 4, 8 }, { 1, 2, 4, 8 },
};
static const bool MF_HAS_OP[MF_N] = { false, false, false, false, false, true, true, true };
static const bool MF_HAS_IMM[MF_N] = { false, false, false, true, false, false, false, true };

static unsigned mf_nsizes(int f)
{
    unsigned n = 0;
    while (n < 5 && MF_SIZES[f][n]) {
        n++;
    }
    return n;
}

/* Emit one memory-form instruction and check it. `reg` is ignored by the
 * immediate forms, `imm` by the register forms, `op` by the non-ALU ones. */
static void mem_case(int f, unsigned s, X64Alu op, int reg, int32_t imm, X64Mem m)
{
    X64Buf *b = fresh();
    Exp e;
    unsigned ml = memlen(m);
    int ix = m.index, bs = m.base;
    switch (f) {
    case MF_LOAD:           /* 1, 2: movzx r32, m8/m16; 4, 8: mov */
        x64_load(b, s, reg, m);
        if (s <= 2) {
            e = (Exp){ X86_INS_MOVZX, rexlen(false, reg, ix, bs, false, false) + 2 + ml, 2, { R(4, reg), M(s, m) } };
        } else {
            e = (Exp){ X86_INS_MOV, rexlen(s == 8, reg, ix, bs, false, false) + 1 + ml, 2, { R(s, reg), M(s, m) } };
        }
        break;
    case MF_LOAD_SX:        /* movsx r64, m8/m16; movsxd r64, m32 */
        x64_load_sx(b, s, reg, m);
        if (s <= 2) {
            e = (Exp){ X86_INS_MOVSX, rexlen(true, reg, ix, bs, false, false) + 2 + ml, 2, { R(8, reg), M(s, m) } };
        } else {
            e = (Exp){ X86_INS_MOVSXD, rexlen(true, reg, ix, bs, false, false) + 1 + ml, 2, { R(8, reg), M(4, m) } };
        }
        break;
    case MF_STORE:
        x64_store(b, s, m, reg);
        e = (Exp){ X86_INS_MOV, osz(s) + rexlen(s == 8, reg, ix, bs, s == 1, false) + 1 + ml, 2, { M(s, m), R(s, reg) } };
        break;
    case MF_STORE_IMM:      /* C6 /0 ib, C7 /0 iw/id (8: sign-extended) */
        x64_store_imm(b, s, m, imm);
        e = (Exp){ X86_INS_MOV, osz(s) + rexlen(s == 8, -1, ix, bs, false, false) + 1 + ml + immlen(s), 2,
                   { M(s, m), I(s, (uint64_t)(int64_t)imm) } };
        break;
    case MF_LEA:
        x64_lea(b, s, reg, m);
        e = (Exp){ X86_INS_LEA, rexlen(s == 8, reg, ix, bs, false, false) + 1 + ml, 2, { R(s, reg), M(0, m) } };
        break;
    case MF_ALU_RM:
        x64_alu_rm(b, op, s, reg, m);
        e = (Exp){ ALU_ID[op], osz(s) + rexlen(s == 8, reg, ix, bs, s == 1, false) + 1 + ml, 2, { R(s, reg), M(s, m) } };
        break;
    case MF_ALU_MR:
        x64_alu_mr(b, op, s, m, reg);
        e = (Exp){ ALU_ID[op], osz(s) + rexlen(s == 8, reg, ix, bs, s == 1, false) + 1 + ml, 2, { M(s, m), R(s, reg) } };
        break;
    default:                /* MF_ALU_MI: 80 /op ib, 83 /op ib, 81 /op iw/id */
        x64_alu_mi(b, op, s, m, imm);
        e = (Exp){ ALU_ID[op],
                   osz(s) + rexlen(s == 8, -1, ix, bs, false, false) + 1 + ml + (s == 1 || fits8(imm) ? 1 : immlen(s)),
                   2, { M(s, m), I(s, (uint64_t)(int64_t)imm) } };
        break;
    }
    verify(b, &e, 1, "%s(size %u, op %s, reg %s, imm %" PRId32 ", [%s + %s*%u %+" PRId32 "])", MF_NAME[f], s,
           MF_HAS_OP[f] ? ALU_NAME[op] : "-", MF_HAS_IMM[f] ? "-" : rn(reg), imm, RN[m.base], rn(m.index), m.scale,
           m.disp);
}

/* Loop test over MF_*: every register (or immediate), size and ALU
 * operation with the small set of memory operands. */
START_TEST(test_mem_forms)
{
    int f = _i;
    unsigned ns = mf_nsizes(f);
    for (int op = 0; op < (MF_HAS_OP[f] ? 8 : 1); op++) {
        for (unsigned si = 0; si < ns; si++) {
            for (size_t mi = 0; mi < g_nsmall; mi++) {
                if (MF_HAS_IMM[f]) {
                    for (size_t k = 0; k < N(IMMS); k++) {
                        mem_case(f, MF_SIZES[f][si], (X64Alu)op, -1, IMMS[k], g_small[mi]);
                    }
                } else {
                    for (int r = 0; r < 16; r++) {
                        mem_case(f, MF_SIZES[f][si], (X64Alu)op, r, 0, g_small[mi]);
                    }
                }
            }
        }
    }
    done();
}
END_TEST

/* Loop test over MF_*: every memory operand (all bases x indexes x scales
 * x displacements), the register, size, operation and immediate rotating. */
START_TEST(test_mem_sweep)
{
    int f = _i;
    unsigned ns = mf_nsizes(f);
    for (size_t i = 0; i < g_nfull; i++) {
        unsigned s = MF_SIZES[f][(i / 16) % ns];
        X64Alu op = (X64Alu)((i / 3) % 8);
        int reg = MF_HAS_IMM[f] ? -1 : (int)(i % 16);
        mem_case(f, s, op, reg, IMMS[i % N(IMMS)], g_full[i]);
    }
    done();
}
END_TEST

/* ------------------------------------------------------------------------
 * Encoding tests: control flow.
 */

START_TEST(test_jcc_jmp_patch)
{
    char why[1000];
    for (int kind = 0; kind < 2; kind++) {                  /* 0: jcc, 1: jmp */
        for (int cc = 0; cc < (kind ? 1 : 16); cc++) {
            const char *name = kind ? "jmp" : CC_NAME[cc];
            x86_insn id = kind ? X86_INS_JMP : JCC_ID[cc];
            unsigned ilen = kind ? 5 : 6;
            for (unsigned pad = 0; pad < 3; pad++) {
                for (unsigned t = 0; t < 7; t++) {
                    X64Buf *b = fresh();
                    for (unsigned i = 0; i < pad; i++) {
                        x64_ret(b);
                    }
                    size_t at = kind ? x64_jmp(b) : x64_jcc(b, (X64Cond)cc);
                    if (!x64_buf_ok(b) || at != pad + ilen - 4 || x64_buf_used(b) != pad + ilen) {
                        failf("%s after %u bytes: rel32 at %zu, %zu bytes used; expected %u, %u", name, pad, at,
                              x64_buf_used(b), pad + ilen - 4, pad + ilen);
                        continue;
                    }
                    uintptr_t insn = (uintptr_t)b->start + pad, end = insn + ilen;
                    const uintptr_t targets[7] = {
                        insn, end, (uintptr_t)b->start, end + 1000, end - 1000,
                        end + (uintptr_t)INT32_MAX, end - 0x80000000u,      /* rel32 = INT32_MAX, INT32_MIN */
                    };
                    x64_patch_to(b, at, (const uint8_t *)targets[t]);
                    bool ok = x64_buf_ok(b) && x64_buf_used(b) == pad + ilen;
                    for (unsigned i = 0; i < pad && ok; i++) {
                        ok = b->start[i] == 0xc3;
                    }
                    for (size_t i = pad + ilen; i < CODE_CAP + 64 && ok; i++) {
                        ok = g_arena[i] == FILL;
                    }
                    if (!ok) {
                        failf("%s: x64_patch_to wrote outside the rel32 field or moved the buffer", name);
                        continue;
                    }
                    Exp e = { id, ilen, 1, { I(8, targets[t]) } };
                    if (!decode_check(b->start + pad, ilen, insn, &e, 1, why, sizeof why)) {
                        failf("%s after %u bytes, x64_patch_to(target %d, %+" PRId64 " from the next insn): %s",
                              name, pad, t, (int64_t)(targets[t] - end), why);
                    }
                }
            }
            /* x64_patch_here: a forward label after some code. */
            X64Buf *b = fresh();
            x64_push(b, X64_R12);
            size_t at = kind ? x64_jmp(b) : x64_jcc(b, (X64Cond)cc);
            x64_mov_ri(b, X64_R9, 0x123456789abcdef0ull);
            x64_alu_rr(b, X64_ADD, 8, X64_R9, X64_RSP);
            uintptr_t label = (uintptr_t)b->p;
            x64_patch_here(b, at);
            x64_pop(b, X64_R12);
            int form;
            Exp seq[5] = {
                { X86_INS_PUSH, 2, 1, { R(8, X64_R12) } },
                { id, ilen, 1, { I(8, label) } },
                mov_ri_exp(X64_R9, 0x123456789abcdef0ull, &form),
                { X86_INS_ADD, 3, 2, { R(8, X64_R9), R(8, X64_RSP) } },
                { X86_INS_POP, 2, 1, { R(8, X64_R12) } },
            };
            verify(b, seq, 5, "%s + x64_patch_here (forward)", name);
            /* A backward branch, the shape of a loop. */
            b = fresh();
            x64_ret(b);
            uintptr_t top = (uintptr_t)b->p;
            x64_dec(b, 4, X64_RCX);
            at = kind ? x64_jmp(b) : x64_jcc(b, (X64Cond)cc);
            x64_patch_to(b, at, (const uint8_t *)top);
            x64_ret(b);
            Exp back[4] = {
                { X86_INS_RET, 1, 0, { { 0 } } },
                { X86_INS_DEC, 2, 1, { R(4, X64_RCX) } },
                { id, ilen, 1, { I(8, top) } },
                { X86_INS_RET, 1, 0, { { 0 } } },
            };
            verify(b, back, 4, "%s + x64_patch_to (backward)", name);
        }
    }
    done();
}
END_TEST

static uint64_t call_target(uint64_t x) { return x * 3 + 1; }

START_TEST(test_call)
{
    /* The buffer is an ordinary mapping (far from the program's image and
     * from low addresses), so both forms and all three RAX-loading forms
     * happen: targets relative to the call's end, in and just out of rel32
     * reach, and absolute ones. */
    uint8_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(page != MAP_FAILED, "mmap: %s", strerror(errno));
    g_arena = page;
    static const int64_t deltas[] = {
        0, -5, 1, 1000, -1000, INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1,
        1ll << 40, -(1ll << 40), 1ll << 32,
    };
    const uint64_t absolutes[] = {
        0x1000, 0xfffff000, 0xffffffff80001000ull, 0xfffffffffffff000ull, 0x123456789abcull,
        (uint64_t)(uintptr_t)call_target,
    };
    unsigned near = 0, far[3] = { 0, 0, 0 };
    for (size_t i = 0; i < N(deltas) + N(absolutes); i++) {
        X64Buf *b = fresh();
        uint64_t after = (uint64_t)(uintptr_t)b->p + 5;
        uint64_t target = i < N(deltas) ? after + (uint64_t)deltas[i] : absolutes[i - N(deltas)];
        x64_call(b, (const void *)(uintptr_t)target);
        int64_t rel = (int64_t)(target - after);
        if (rel >= INT32_MIN && rel <= INT32_MAX) {
            near++;
            Exp e = { X86_INS_CALL, 5, 1, { I(8, target) } };
            verify(b, &e, 1, "x64_call(%#" PRIx64 ") from %p (rel %+" PRId64 ", in reach)", target,
                   (void *)b->start, rel);
        } else {
            int form;
            Exp e[2] = { mov_ri_exp(X64_RAX, target, &form), { X86_INS_CALL, 2, 1, { R(8, X64_RAX) } } };
            far[form]++;
            verify(b, e, 2, "x64_call(%#" PRIx64 ") from %p (rel %+" PRId64 ", out of reach)", target,
                   (void *)b->start, rel);
        }
    }
    g_arena = g_static_arena;
    munmap(page, 4096);
    ck_assert_msg(near >= 7 && far[0] && far[1] && far[2],
                  "forms taken: %u rel32, far via mov eax %u, via mov rax sign-extended %u, via movabs %u", near,
                  far[0], far[1], far[2]);
    done();
}
END_TEST

/* ------------------------------------------------------------------------
 * Overflow.
 */

typedef void (*Thunk)(X64Buf *b);
#define THUNK(name, ...) \
    static void th_##name(X64Buf *b) { __VA_ARGS__; }

THUNK(mov_rr, x64_mov_rr(b, 8, X64_R15, X64_RSP))
THUNK(mov_ri32, x64_mov_ri(b, X64_R8, UINT32_MAX))
THUNK(mov_ri_sx, x64_mov_ri(b, X64_RAX, (uint64_t)-2))
THUNK(movabs, x64_mov_ri(b, X64_R9, 0x123456789abcdef0ull))
THUNK(load8, x64_load(b, 8, X64_R12, x64_mem_idx(X64_R13, X64_R12, 8, INT32_MIN)))
THUNK(load1, x64_load(b, 1, X64_RSI, x64_mem(X64_RSP, 0)))
THUNK(load_sx2, x64_load_sx(b, 2, X64_R11, x64_mem_idx(X64_RBP, X64_R14, 2, -100000)))
THUNK(load_sx4, x64_load_sx(b, 4, X64_RDI, x64_mem(X64_R13, 0)))
THUNK(store1, x64_store(b, 1, x64_mem_idx(X64_R12, X64_R13, 2, 0x1000), X64_RSI))
THUNK(store2, x64_store(b, 2, x64_mem_idx(X64_R12, X64_R13, 4, 0x1000), X64_R10))
THUNK(store_imm2, x64_store_imm(b, 2, x64_mem_idx(X64_R13, X64_R14, 4, -100000), 0x1234))
THUNK(store_imm8, x64_store_imm(b, 8, x64_mem_idx(X64_RSP, X64_R9, 8, 0x12345), -5))
THUNK(lea, x64_lea(b, 8, X64_R15, x64_mem_idx(X64_R12, X64_R15, 8, INT32_MAX)))
THUNK(movzx, x64_movzx_rr(b, 1, X64_R10, X64_RDI))
THUNK(alu_rr, x64_alu_rr(b, X64_SUB, 2, X64_R9, X64_RSP))
THUNK(alu_ri, x64_alu_ri(b, X64_CMP, 2, X64_R12, 0x1234))
THUNK(alu_ri8, x64_alu_ri(b, X64_AND, 8, X64_R12, INT32_MIN))
THUNK(alu_rm, x64_alu_rm(b, X64_ADC, 2, X64_R8, x64_mem_idx(X64_R13, X64_R12, 8, INT32_MAX)))
THUNK(alu_mr, x64_alu_mr(b, X64_XOR, 1, x64_mem_idx(X64_RSP, X64_RBP, 1, -129), X64_RBP))
THUNK(alu_mi2, x64_alu_mi(b, X64_ADD, 2, x64_mem_idx(X64_R13, X64_R12, 8, INT32_MAX), 1000))
THUNK(alu_mi8, x64_alu_mi(b, X64_XOR, 8, x64_mem_idx(X64_R13, X64_R12, 8, INT32_MAX), INT32_MIN))
THUNK(test_rr, x64_test_rr(b, 1, X64_RDI, X64_R8))
THUNK(test_ri, x64_test_ri(b, 2, X64_R14, 0x7fff))
THUNK(inc, x64_inc(b, 1, X64_RSP))
THUNK(dec, x64_dec(b, 8, X64_R13))
THUNK(shift, x64_shift_ri(b, X64_SAR, 2, X64_R11, 5))
THUNK(setcc, x64_setcc(b, X64_CC_G, X64_RSI))
THUNK(jcc_patch, size_t at = x64_jcc(b, X64_CC_NE); x64_patch_here(b, at))
THUNK(jmp_patch, size_t at = x64_jmp(b); x64_patch_to(b, at, b->start))
THUNK(call_near, x64_call(b, (const void *)((uintptr_t)b->p + 64)))
THUNK(call_far, x64_call(b, (const void *)(uintptr_t)0x123456789ab0ull))
THUNK(push, x64_push(b, X64_R15))
THUNK(pop, x64_pop(b, X64_RBX))
THUNK(ret, x64_ret(b))
THUNK(sequence, x64_push(b, X64_RBX); x64_mov_ri(b, X64_RBX, 0x123456789abcdef0ull);
      x64_alu_mi(b, X64_CMP, 4, x64_mem(X64_R12, 8), 5); size_t at = x64_jcc(b, X64_CC_L);
      x64_store(b, 8, x64_mem(X64_RSP, 0), X64_RBX); x64_patch_here(b, at); x64_pop(b, X64_RBX); x64_ret(b))

#define T(name) { #name, th_##name }
static const struct { const char *name; Thunk fn; } THUNKS[] = {
    T(mov_rr), T(mov_ri32), T(mov_ri_sx), T(movabs), T(load8), T(load1), T(load_sx2), T(load_sx4), T(store1),
    T(store2), T(store_imm2), T(store_imm8), T(lea), T(movzx), T(alu_rr), T(alu_ri), T(alu_ri8), T(alu_rm),
    T(alu_mr), T(alu_mi2), T(alu_mi8), T(test_rr), T(test_ri), T(inc), T(dec), T(shift), T(setcc),
    T(jcc_patch), T(jmp_patch), T(call_near), T(call_far), T(push), T(pop), T(ret), T(sequence),
};
#undef T

#define GUARD 32
#define GUARD_FILL 0x5a

static bool guards_intact(const uint8_t *arena, size_t cap, size_t total)
{
    for (size_t i = 0; i < total; i++) {
        if ((i < GUARD || i >= GUARD + cap) && arena[i] != GUARD_FILL) {
            return false;
        }
    }
    return true;
}

/* Loop test over THUNKS: every buffer size from 0 to one byte short. */
START_TEST(test_overflow)
{
    const char *name = THUNKS[_i].name;
    Thunk fn = THUNKS[_i].fn;
    uint8_t ref[128];
    X64Buf b;
    x64_buf_init(&b, ref, sizeof ref);
    fn(&b);
    size_t len = x64_buf_used(&b);
    ck_assert_msg(x64_buf_ok(&b) && len > 0 && len < 64, "%s: %zu bytes in a 128-byte buffer", name, len);
    for (size_t cap = 0; cap <= len; cap++) {
        uint8_t arena[GUARD + 128 + GUARD];
        memset(arena, GUARD_FILL, sizeof arena);
        x64_buf_init(&b, arena + GUARD, cap);
        fn(&b);
        bool want = cap < len;
        if (b.overflow != want || x64_buf_ok(&b) == want) {
            failf("%s (%zu bytes) into %zu bytes: overflow %d, expected %d", name, len, cap, b.overflow, want);
        }
        if (b.p < b.start || b.p > b.end || b.start != arena + GUARD || b.end != arena + GUARD + cap) {
            failf("%s into %zu bytes: buffer pointers moved (p at %td, end at %td)", name, cap, b.p - b.start,
                  b.end - b.start);
        }
        if (!guards_intact(arena, cap, sizeof arena)) {
            failf("%s into %zu bytes: wrote outside the buffer", name, cap);
        }
        if (!want && (x64_buf_used(&b) != len || memcmp(arena + GUARD, ref, len) != 0)) {
            failf("%s into exactly %zu bytes: different bytes than in a large buffer", name, cap);
        }
        if (want) {
            /* It stays set, and later instructions (and patches) still
             * write nothing outside. */
            x64_ret(&b);
            x64_mov_ri(&b, X64_R9, 0x123456789abcdef0ull);
            size_t at = x64_jmp(&b);
            x64_patch_to(&b, at, b.start);
            x64_patch_here(&b, 0);
            if (x64_buf_ok(&b) || !guards_intact(arena, cap, sizeof arena) || b.p > b.end) {
                failf("%s into %zu bytes, then more code: overflow cleared or wrote outside", name, cap);
            }
        }
    }
    done();
}
END_TEST

/* Patches at offsets whose rel32 field does not fit write nothing. */
START_TEST(test_patch_bounds)
{
    uint8_t arena[GUARD + 16 + GUARD];
    for (size_t cap = 0; cap <= 16; cap++) {
        memset(arena, GUARD_FILL, sizeof arena);
        X64Buf b;
        x64_buf_init(&b, arena + GUARD, cap);
        for (size_t at = 0; at < 24; at++) {
            x64_patch_to(&b, at, b.start + 3);
            x64_patch_here(&b, at);
        }
        if (!guards_intact(arena, cap, sizeof arena)) {
            failf("x64_patch_to into an empty %zu-byte buffer wrote outside it", cap);
        }
        if (cap >= 5) {
            memset(arena, GUARD_FILL, sizeof arena);
            x64_buf_init(&b, arena + GUARD, cap);
            size_t at = x64_jmp(&b);
            for (size_t a = at; a < 24; a++) {
                x64_patch_to(&b, a, b.start);
            }
            if (!guards_intact(arena, cap, sizeof arena) || !x64_buf_ok(&b)) {
                failf("x64_patch_to past the end of a %zu-byte buffer wrote outside it", cap);
            }
        }
    }
    done();
}
END_TEST

/* ------------------------------------------------------------------------
 * Execution.
 */

typedef uint64_t (*Fn3)(uint64_t, uint64_t, uint64_t);

#define EXEC_SIZE (1u << 20)

static uint8_t *exec_map(void)
{
    void *p = mmap(NULL, EXEC_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("x64_emit: SKIP execution test: the host refuses RWX memory (%s)\n", strerror(errno));
        return NULL;
    }
    return p;
}

static Fn3 as_fn(const void *code) { return (Fn3)(uintptr_t)code; }

static const X64Reg SAVED[6] = { X64_RBX, X64_RBP, X64_R12, X64_R13, X64_R14, X64_R15 };

static void prologue(X64Buf *b)
{
    for (int i = 0; i < 6; i++) {
        x64_push(b, SAVED[i]);
    }
}

static void epilogue(X64Buf *b)
{
    for (int i = 5; i >= 0; i--) {
        x64_pop(b, SAVED[i]);
    }
    x64_ret(b);
}

static const uint64_t VALUES[] = {
    0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
    0x100000000ull, (uint64_t)INT64_MAX, 0x8000000000000000ull, UINT64_MAX, UINT64_MAX - 1,
    0x8000000000000001ull, 0x123456789abcdef0ull, 0xfedcba9876543210ull, 0x5555555555555555ull,
};

static uint64_t mask_of(unsigned size) { return size == 8 ? ~0ull : (1ull << (8 * size)) - 1; }

static int64_t sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - 8 * size;
    return (int64_t)(v << sh) >> sh;
}

/* The register after writing `r` (size bytes) into it when it held `old`:
 * 1 and 2 merge, 4 zero-extends, 8 replaces. */
static uint64_t merge(uint64_t old, uint64_t r, unsigned size)
{
    uint64_t m = mask_of(size);
    return size >= 4 ? (r & m) : ((old & ~m) | (r & m));
}

/* Registers a generated function may use freely: all but RSP and the
 * scratch R9..R11 the functions copy their arguments into first. */
static const X64Reg FREE[12] = {
    X64_RAX, X64_RCX, X64_RDX, X64_RBX, X64_RBP, X64_RSI, X64_RDI, X64_R8, X64_R12, X64_R13, X64_R14, X64_R15,
};

static Fn3 finish(X64Buf *b, const uint8_t *start, const char *what)
{
    ck_assert_msg(x64_buf_ok(b), "%s: overflow", what);
    return as_fn(start);
}

START_TEST(test_exec_add_and)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    /* The literal form: mov rax, rdi; add rax, rsi; and rax, rdx; ret. */
    X64Buf b;
    x64_buf_init(&b, mem, EXEC_SIZE);
    x64_mov_rr(&b, 8, X64_RAX, X64_RDI);
    x64_alu_rr(&b, X64_ADD, 8, X64_RAX, X64_RSI);
    x64_alu_rr(&b, X64_AND, 8, X64_RAX, X64_RDX);
    x64_ret(&b);
    Fn3 f = finish(&b, mem, "(a + b) & c");
    for (size_t i = 0; i < N(VALUES); i++) {
        for (size_t j = 0; j < N(VALUES); j++) {
            for (size_t k = 0; k < N(VALUES); k++) {
                uint64_t a = VALUES[i], c = VALUES[j], d = VALUES[k], got = f(a, c, d), want = (a + c) & d;
                if (got != want) {
                    failf("(a + b) & c with a=%#" PRIx64 " b=%#" PRIx64 " c=%#" PRIx64 ": %#" PRIx64
                          ", expected %#" PRIx64, a, c, d, got, want);
                }
            }
        }
    }
    /* The same through every pair of registers, 8 and 4 bytes (the 4-byte
     * result must clear bits 63..32 of RAX, which is set to all-ones
     * first unless it holds the result). */
    for (unsigned s = 4; s <= 8; s += 4) {
        for (size_t t1 = 0; t1 < N(FREE); t1++) {
            for (size_t t2 = 0; t2 < N(FREE); t2++) {
                if (t1 == t2) {
                    continue;
                }
                X64Reg r1 = FREE[t1], r2 = FREE[t2];
                uint8_t *start = b.p;
                prologue(&b);
                x64_mov_rr(&b, 8, X64_R10, X64_RDI);
                x64_mov_rr(&b, 8, X64_R11, X64_RSI);
                x64_mov_rr(&b, 8, X64_R9, X64_RDX);
                x64_mov_rr(&b, 8, r1, X64_R10);
                x64_mov_rr(&b, 8, r2, X64_R11);
                x64_alu_rr(&b, X64_ADD, s, r1, r2);
                x64_mov_rr(&b, 8, r2, X64_R9);
                x64_alu_rr(&b, X64_AND, s, r1, r2);
                if (r1 != X64_RAX) {
                    x64_mov_ri(&b, X64_RAX, UINT64_MAX);
                }
                x64_mov_rr(&b, s, X64_RAX, r1);
                epilogue(&b);
                f = finish(&b, start, "(a + b) & c");
                for (size_t i = 0; i < N(VALUES); i += 3) {
                    for (size_t j = 1; j < N(VALUES); j += 2) {
                        for (size_t k = 0; k < N(VALUES); k += 4) {
                            uint64_t a = VALUES[i], c = VALUES[j], d = VALUES[k];
                            uint64_t got = f(a, c, d), want = ((a + c) & d) & mask_of(s);
                            if (got != want) {
                                failf("(a + b) & c, size %u in %s, %s with a=%#" PRIx64 " b=%#" PRIx64
                                      " c=%#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64,
                                      s, RN[r1], RN[r2], a, c, d, got, want);
                            }
                        }
                    }
                }
            }
        }
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

START_TEST(test_exec_loops)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    X64Buf b;
    x64_buf_init(&b, mem, EXEC_SIZE);
    /* sum = 0; if (n) do sum += n; while (--n); with the counter in every
     * free register and x64_dec of every size. */
    static const uint64_t ns[] = { 0, 1, 2, 3, 10, 100, 255 };
    for (size_t ci = 0; ci < N(FREE); ci++) {
        X64Reg ctr = FREE[ci];
        if (ctr == X64_RAX) {
            continue;
        }
        for (size_t si = 0; si < 4; si++) {
            unsigned s = SIZES[si];
            uint8_t *start = b.p;
            prologue(&b);
            x64_mov_rr(&b, 8, X64_R10, X64_RDI);
            x64_alu_rr(&b, X64_XOR, 4, X64_RAX, X64_RAX);
            x64_mov_rr(&b, 8, ctr, X64_R10);
            x64_test_rr(&b, s, ctr, ctr);
            size_t skip = x64_jcc(&b, X64_CC_E);
            uint8_t *top = b.p;
            x64_alu_rr(&b, X64_ADD, 8, X64_RAX, ctr);
            x64_dec(&b, s, ctr);
            size_t back = x64_jcc(&b, X64_CC_NE);
            x64_patch_to(&b, back, top);
            x64_patch_here(&b, skip);
            epilogue(&b);
            Fn3 f = finish(&b, start, "dec loop");
            for (size_t k = 0; k < N(ns); k++) {
                uint64_t got = f(ns[k], 0, 0), want = ns[k] * (ns[k] + 1) / 2;
                if (got != want) {
                    failf("dec loop (counter %s, size %u) with n=%" PRIu64 ": %" PRIu64 ", expected %" PRIu64,
                          RN[ctr], s, ns[k], got, want);
                }
            }
        }
    }
    /* while (n > 0) { sum += n; n -= 1; } entered through a jmp to the
     * test (signed n, so a negative n runs no iteration). */
    for (size_t ci = 0; ci < N(FREE); ci++) {
        X64Reg ctr = FREE[ci];
        if (ctr == X64_RAX) {
            continue;
        }
        uint8_t *start = b.p;
        prologue(&b);
        x64_mov_rr(&b, 8, X64_R10, X64_RDI);
        x64_mov_ri(&b, X64_RAX, 0);
        x64_mov_rr(&b, 8, ctr, X64_R10);
        size_t to_test = x64_jmp(&b);
        uint8_t *top = b.p;
        x64_alu_rr(&b, X64_ADD, 8, X64_RAX, ctr);
        x64_alu_ri(&b, X64_SUB, 8, ctr, 1);
        x64_patch_here(&b, to_test);
        x64_alu_ri(&b, X64_CMP, 8, ctr, 0);
        size_t back = x64_jcc(&b, X64_CC_G);
        x64_patch_to(&b, back, top);
        epilogue(&b);
        Fn3 f = finish(&b, start, "jmp loop");
        static const int64_t sn[] = { -5, -1, 0, 1, 2, 50, 1000 };
        for (size_t k = 0; k < N(sn); k++) {
            uint64_t got = f((uint64_t)sn[k], 0, 0), want = sn[k] > 0 ? (uint64_t)(sn[k] * (sn[k] + 1) / 2) : 0;
            if (got != want) {
                failf("jmp loop (counter %s) with n=%" PRId64 ": %" PRIu64 ", expected %" PRIu64, RN[ctr], sn[k],
                      got, want);
            }
        }
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

static bool cond_ref(int cc, unsigned size, uint64_t a, uint64_t c)
{
    uint64_t m = mask_of(size), x = a & m, y = c & m, r = (x - y) & m;
    unsigned top = 8 * size - 1;
    bool sf = (r >> top) & 1;
    bool of = (((x ^ y) & (x ^ r)) >> top) & 1;
    bool pf = !(__builtin_popcount((unsigned)(r & 0xff)) & 1);
    int64_t sx = sext(x, size), sy = sext(y, size);
    bool res;
    switch (cc) {
    case X64_CC_O: res = of; break;
    case X64_CC_B: res = x < y; break;
    case X64_CC_E: res = x == y; break;
    case X64_CC_BE: res = x <= y; break;
    case X64_CC_S: res = sf; break;
    case X64_CC_P: res = pf; break;
    case X64_CC_L: res = sx < sy; break;
    case X64_CC_LE: res = sx <= sy; break;
    default: return !cond_ref(cc & ~1, size, a, c);         /* the odd ones negate */
    }
    return res;
}

START_TEST(test_exec_setcc)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    /* The compared registers, chosen so they differ from the SETcc
     * destination (which is preloaded with a pattern: SETcc must change
     * its low byte only, so a missing REX - DH for SIL - shows). */
    static const X64Reg pairs[][2] = {
        { X64_RDI, X64_RSI }, { X64_R10, X64_R11 }, { X64_RBX, X64_RBP }, { X64_R12, X64_R13 },
        { X64_RCX, X64_RDX }, { X64_R14, X64_R15 }, { X64_RAX, X64_R8 },
    };
    const uint64_t pattern = 0x1122334455667788ull;
    X64Buf b;
    for (size_t si = 0; si < 4; si++) {
        unsigned s = SIZES[si];
        for (int cc = 0; cc < 16; cc++) {
            for (int dst = 0; dst < 16; dst++) {
                if (dst == X64_RSP) {
                    continue;
                }
                size_t p = (size_t)(cc + dst) % N(pairs);
                while (pairs[p][0] == dst || pairs[p][1] == dst) {
                    p = (p + 1) % N(pairs);
                }
                X64Reg ra = pairs[p][0], rb = pairs[p][1];
                x64_buf_init(&b, mem, 4096);
                prologue(&b);
                x64_mov_rr(&b, 8, X64_R9, X64_RDI);
                x64_mov_rr(&b, 8, X64_RDX, X64_RSI);       /* RSI may be ra */
                x64_mov_rr(&b, 8, ra, X64_R9);
                x64_mov_rr(&b, 8, rb, ra == X64_RDX ? X64_RSI : X64_RDX);
                x64_mov_ri(&b, dst, pattern);
                x64_alu_rr(&b, X64_CMP, s, ra, rb);
                x64_setcc(&b, (X64Cond)cc, dst);
                x64_mov_rr(&b, 8, X64_RAX, dst);
                epilogue(&b);
                Fn3 f = finish(&b, mem, "setcc");
                for (size_t i = 0; i < N(VALUES); i++) {
                    for (size_t j = 0; j < N(VALUES); j++) {
                        uint64_t a = VALUES[i], c = VALUES[j];
                        uint64_t got = f(a, c, 0), want = (pattern & ~0xffull) | cond_ref(cc, s, a, c);
                        if (got != want) {
                            failf("cmp %s, %s (size %u) with %#" PRIx64 ", %#" PRIx64 "; set%s %s: %s = %#" PRIx64
                                  ", expected %#" PRIx64, RN[ra], RN[rb], s, a, c, CC_NAME[cc], RN[dst], RN[dst],
                                  got, want);
                        }
                    }
                }
            }
        }
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

static uint64_t alu_ref(X64Alu op, unsigned size, uint64_t a, uint64_t c, unsigned cf)
{
    uint64_t x = a & mask_of(size), y = c & mask_of(size), r;
    switch (op) {
    case X64_ADD: r = x + y; break;
    case X64_OR: r = x | y; break;
    case X64_ADC: r = x + y + cf; break;
    case X64_SBB: r = x - y - cf; break;
    case X64_AND: r = x & y; break;
    case X64_SUB: r = x - y; break;
    case X64_XOR: r = x ^ y; break;
    default: return a;                                          /* CMP writes nothing */
    }
    return merge(a, r, size);
}

static uint64_t shift_ref(X64Shift op, unsigned size, uint64_t a, uint8_t count)
{
    unsigned bits = 8 * size, n = count & (size == 8 ? 63 : 31), k = n % bits;
    uint64_t m = mask_of(size), x = a & m, r;
    switch (op) {
    case X64_ROL: r = k ? (x << k) | (x >> (bits - k)) : x; break;
    case X64_ROR: r = k ? (x >> k) | (x << (bits - k)) : x; break;
    case X64_SHL: r = x << n; break;
    case X64_SHR: r = x >> n; break;
    default: r = (uint64_t)(sext(x, size) >> n); break;
    }
    return merge(a, r, size);
}

/* The generated function copies a, b, flag from RDI, RSI, RDX to R10, R11,
 * R9 and sets CF = flag (cmp 0, flag) before the operation under test on
 * `d` (and `s`); it returns `d`. */
static void alu_head(X64Buf *b, X64Reg d, X64Reg s)
{
    prologue(b);
    x64_mov_rr(b, 8, X64_R10, X64_RDI);
    x64_mov_rr(b, 8, X64_R11, X64_RSI);
    x64_mov_rr(b, 8, X64_R9, X64_RDX);
    x64_mov_rr(b, 8, d, X64_R10);
    if (s != X64_NOREG) {
        x64_mov_rr(b, 8, s, X64_R11);
    }
    x64_mov_ri(b, X64_R8, 0);
    x64_alu_rr(b, X64_CMP, 8, X64_R8, X64_R9);
}

static void alu_tail(X64Buf *b, X64Reg d)
{
    x64_mov_rr(b, 8, X64_RAX, d);
    epilogue(b);
}

/* Registers for the operation itself (R8 holds the zero the CF setup
 * compares against). */
static const X64Reg OPREGS[11] = {
    X64_RAX, X64_RCX, X64_RDX, X64_RBX, X64_RBP, X64_RSI, X64_RDI, X64_R12, X64_R13, X64_R14, X64_R15,
};

START_TEST(test_exec_alu)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    X64Buf b;
    for (int op = 0; op < 8; op++) {
        for (size_t si = 0; si < 4; si++) {
            unsigned s = SIZES[si];
            for (size_t i = 0; i < N(OPREGS); i++) {
                X64Reg d = OPREGS[i], r = OPREGS[(i + 1 + (size_t)op + si) % N(OPREGS)];
                if (r == d) {
                    r = OPREGS[(i + 1) % N(OPREGS)];
                }
                x64_buf_init(&b, mem, 4096);
                alu_head(&b, d, r);
                x64_alu_rr(&b, (X64Alu)op, s, d, r);
                alu_tail(&b, d);
                Fn3 f = finish(&b, mem, "alu_rr");
                for (size_t j = 0; j < N(VALUES); j++) {
                    for (size_t k = 0; k < N(VALUES); k++) {
                        for (unsigned cf = 0; cf < 2; cf++) {
                            uint64_t a = VALUES[j], c = VALUES[k];
                            uint64_t got = f(a, c, cf), want = alu_ref((X64Alu)op, s, a, c, cf);
                            if (got != want) {
                                failf("%s %s, %s (size %u) with %#" PRIx64 ", %#" PRIx64 ", CF %u: %#" PRIx64
                                      ", expected %#" PRIx64, ALU_NAME[op], RN[d], RN[r], s, a, c, cf, got, want);
                            }
                        }
                    }
                }
            }
            /* Immediates: sign-extended from imm8 / imm32 as the size says. */
            for (size_t k = 0; k < N(IMMS); k++) {
                X64Reg d = OPREGS[(k + (size_t)op) % N(OPREGS)];
                x64_buf_init(&b, mem, 4096);
                alu_head(&b, d, X64_NOREG);
                x64_alu_ri(&b, (X64Alu)op, s, d, IMMS[k]);
                alu_tail(&b, d);
                Fn3 f = finish(&b, mem, "alu_ri");
                for (size_t j = 0; j < N(VALUES); j++) {
                    for (unsigned cf = 0; cf < 2; cf++) {
                        uint64_t a = VALUES[j], got = f(a, 0, cf);
                        uint64_t want = alu_ref((X64Alu)op, s, a, (uint64_t)(int64_t)IMMS[k], cf);
                        if (got != want) {
                            failf("%s %s, %" PRId32 " (size %u) with %#" PRIx64 ", CF %u: %#" PRIx64
                                  ", expected %#" PRIx64, ALU_NAME[op], RN[d], IMMS[k], s, a, cf, got, want);
                        }
                    }
                }
            }
        }
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

START_TEST(test_exec_shift_inc_dec)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    /* No count that is 0 after masking: whether a 4-byte shift by 0
     * clears bits 63..32 is not something to depend on. */
    static const uint8_t counts[] = { 1, 3, 7, 8, 15, 16, 31, 33, 63 };
    X64Buf b;
    for (size_t k = 0; k < N(SHIFTS); k++) {
        for (size_t si = 0; si < 4; si++) {
            unsigned s = SIZES[si];
            for (size_t c = 0; c < N(counts); c++) {
                if (s != 8 && counts[c] > 31) {
                    continue;
                }
                X64Reg d = OPREGS[(k + si + c) % N(OPREGS)];
                x64_buf_init(&b, mem, 4096);
                alu_head(&b, d, X64_NOREG);
                x64_shift_ri(&b, SHIFTS[k], s, d, counts[c]);
                alu_tail(&b, d);
                Fn3 f = finish(&b, mem, "shift");
                for (size_t j = 0; j < N(VALUES); j++) {
                    uint64_t a = VALUES[j], got = f(a, 0, 0), want = shift_ref(SHIFTS[k], s, a, counts[c]);
                    if (got != want) {
                        failf("%s %s, %u (size %u) with %#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64,
                              SHIFT_NAME[k], RN[d], counts[c], s, a, got, want);
                    }
                }
            }
        }
    }
    for (int dec = 0; dec < 2; dec++) {
        for (size_t si = 0; si < 4; si++) {
            unsigned s = SIZES[si];
            for (size_t i = 0; i < N(OPREGS); i++) {
                X64Reg d = OPREGS[i];
                x64_buf_init(&b, mem, 4096);
                alu_head(&b, d, X64_NOREG);
                if (dec) {
                    x64_dec(&b, s, d);
                } else {
                    x64_inc(&b, s, d);
                }
                alu_tail(&b, d);
                Fn3 f = finish(&b, mem, "inc/dec");
                for (size_t j = 0; j < N(VALUES); j++) {
                    uint64_t a = VALUES[j], got = f(a, 0, 0), want = merge(a, dec ? a - 1 : a + 1, s);
                    if (got != want) {
                        failf("%s %s (size %u) with %#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64,
                              dec ? "dec" : "inc", RN[d], s, a, got, want);
                    }
                }
            }
        }
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

static uint8_t g_data[8192] __attribute__((aligned(64)));
static uint8_t g_pat[8192], g_want[8192];

static uint8_t pattern_byte(size_t i) { return (uint8_t)(i * 37 + 11); }

START_TEST(test_exec_mem)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    static const X64Reg bases[] = { X64_RBX, X64_RBP, X64_R12, X64_R13, X64_R15, X64_RAX, X64_RDI, X64_RCX };
    static const X64Reg indexes[] = { X64_NOREG, X64_RSI, X64_R12, X64_R13, X64_RBP, X64_R8, X64_RDX };
    static const X64Reg srcs[] = { X64_RDX, X64_RSI, X64_RBP, X64_RBX, X64_R14, X64_RDI, X64_RCX, X64_R8, X64_RAX, X64_R15 };
    static const int32_t disps[] = { 0, 9, -100, 1000, -1200 };
    static const int64_t idxvals[] = { 3, -5 };
    /* kind: 0 load, 1 load_sx, 2 store, 3 store_imm, 4 lea */
    static const struct { int kind; unsigned size; } ops[] = {
        { 0, 1 }, { 0, 2 }, { 0, 4 }, { 0, 8 }, { 1, 1 }, { 1, 2 }, { 1, 4 }, { 2, 1 }, { 2, 2 },
        { 2, 4 }, { 2, 8 }, { 3, 1 }, { 3, 2 }, { 3, 4 }, { 3, 8 }, { 4, 4 }, { 4, 8 },
    };
    const uint64_t value = 0x8899aabbccddeeffull;
    const int32_t imm = -0x2345679;
    unsigned n = 0;
    X64Buf b;
    for (size_t i = 0; i < sizeof g_pat; i++) {
        g_pat[i] = pattern_byte(i);
    }
    for (size_t bi = 0; bi < N(bases); bi++) {
        for (size_t ii = 0; ii < N(indexes); ii++) {
            X64Reg base = bases[bi], index = indexes[ii];
            if (base == index) {
                continue;
            }
            for (unsigned sc = 1; sc <= 8; sc *= 2) {
                if (index == X64_NOREG && sc > 1) {
                    break;
                }
                for (size_t di = 0; di < N(disps); di++) {
                    for (size_t oi = 0; oi < N(ops); oi++, n++) {
                        int kind = ops[oi].kind;
                        unsigned s = ops[oi].size;
                        X64Mem m = x64_mem_idx(base, index, sc, disps[di]);
                        X64Reg reg = X64_NOREG;
                        if (kind == 2) {
                            for (size_t k = 0; k < N(srcs) && reg == X64_NOREG; k++) {
                                X64Reg r = srcs[(n + k) % N(srcs)];
                                if (r != base && r != index) {
                                    reg = r;
                                }
                            }
                        } else {
                            reg = OPREGS[n % N(OPREGS)];
                        }
                        x64_buf_init(&b, mem, 4096);
                        prologue(&b);
                        x64_mov_rr(&b, 8, X64_R10, X64_RDI);
                        x64_mov_rr(&b, 8, X64_R11, X64_RSI);
                        x64_mov_rr(&b, 8, X64_R9, X64_RDX);
                        x64_mov_rr(&b, 8, base, X64_R10);
                        if (index != X64_NOREG) {
                            x64_mov_rr(&b, 8, index, X64_R11);
                        }
                        switch (kind) {
                        case 0: x64_load(&b, s, reg, m); break;
                        case 1: x64_load_sx(&b, s, reg, m); break;
                        case 2: x64_mov_rr(&b, 8, reg, X64_R9); x64_store(&b, s, m, reg); break;
                        case 3: x64_store_imm(&b, s, m, imm); break;
                        default: x64_lea(&b, s, reg, m); break;
                        }
                        if (kind != 2 && kind != 3) {
                            x64_mov_rr(&b, 8, X64_RAX, reg);
                        }
                        epilogue(&b);
                        Fn3 f = finish(&b, mem, "mem");
                        for (size_t vi = 0; vi < N(idxvals); vi++) {
                            int64_t iv = index == X64_NOREG ? 0 : idxvals[vi];
                            int64_t off = 4096 + iv * (int64_t)sc + disps[di];
                            uint64_t basev = (uint64_t)(uintptr_t)&g_data[4096];
                            if (kind == 4) {
                                basev = 0x0123456789abcdefull;
                            }
                            memcpy(g_data, g_pat, sizeof g_data);
                            uint64_t got = f(basev, (uint64_t)iv, value), want = 0, loaded = 0;
                            for (unsigned i = 0; i < s && kind < 2; i++) {
                                loaded |= (uint64_t)pattern_byte((size_t)off + i) << (8 * i);
                            }
                            bool ok = true;
                            if (kind == 0) {
                                want = loaded;
                            } else if (kind == 1) {
                                want = (uint64_t)sext(loaded, s);
                            } else if (kind == 4) {
                                want = (basev + (uint64_t)iv * sc + (uint64_t)(int64_t)disps[di]) & mask_of(s);
                            } else {
                                uint64_t v = kind == 2 ? value : (uint64_t)(int64_t)imm;
                                memcpy(g_want, g_pat, sizeof g_want);
                                for (unsigned i = 0; i < s; i++) {
                                    g_want[off + i] = (uint8_t)(v >> (8 * i));
                                }
                                ok = memcmp(g_data, g_want, sizeof g_data) == 0;
                            }
                            if (kind < 2 || kind == 4) {
                                ok = got == want;
                            }
                            if (!ok) {
                                static const char *const kn[] = { "x64_load", "x64_load_sx", "x64_store",
                                                                  "x64_store_imm", "x64_lea" };
                                failf("%s(size %u, reg %s, [%s + %s*%u %+" PRId32 "]) with index %" PRId64
                                      ": got %#" PRIx64 ", expected %#" PRIx64 " (stores: memory differs)",
                                      kn[kind], s, rn(reg), RN[base], rn(index), sc, disps[di], iv, got, want);
                            }
                        }
                    }
                }
            }
        }
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

static uint8_t *map_far_from(const uint8_t *near)
{
    static const unsigned shifts[] = { 36, 40, 34, 44 };
    for (size_t i = 0; i < N(shifts); i++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            uintptr_t hint = (uintptr_t)near + (uintptr_t)((intptr_t)sign * ((intptr_t)1 << shifts[i]));
            hint &= ~(uintptr_t)0xfff;
            void *p = mmap((void *)hint, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                continue;
            }
            int64_t dist = (int64_t)((uintptr_t)p - (uintptr_t)near);
            if (dist > (1ll << 33) || dist < -(1ll << 33)) {
                return p;
            }
            munmap(p, 4096);
        }
    }
    return NULL;
}

START_TEST(test_exec_call)
{
    uint8_t *mem = exec_map();
    if (!mem) {
        return;
    }
    X64Buf b;
    char why[1000];
    /* The callee: lea rax, [rdi + rdi*2 + 1]; ret (= call_target). */
    uint8_t *callee = mem + 0x800;
    x64_buf_init(&b, callee, 64);
    x64_lea(&b, 8, X64_RAX, x64_mem_idx(X64_RDI, X64_RDI, 2, 1));
    x64_ret(&b);
    ck_assert(x64_buf_ok(&b));

    uint8_t *far = map_far_from(mem);
    uint8_t *far_callee = NULL;
    if (far) {
        far_callee = far + 0x100;
        x64_buf_init(&b, far_callee, 64);
        x64_lea(&b, 8, X64_RAX, x64_mem_idx(X64_RDI, X64_RDI, 2, 1));
        x64_ret(&b);
        ck_assert(x64_buf_ok(&b));
    } else {
        printf("x64_emit: SKIP far call execution from generated code: no mapping out of rel32 reach\n");
    }
    /* Callers: push rbx (aligns the stack); call; pop rbx; ret. Run from
     * `mem` to the C function, the near callee and the far one, and from
     * the far page back to the C function. */
    struct { const char *name; uint8_t *at; const void *target; int want_far; } cases[] = {
        { "C function", mem, (const void *)call_target, -1 },
        { "generated callee in reach", mem + 0x100, callee, 0 },
        { "generated callee out of reach", mem + 0x200, far_callee, 1 },
        { "C function from the far page", far, (const void *)call_target, -1 },
        { "callee out of reach from the far page", far ? far + 0x200 : NULL, callee, 1 },
    };
    for (size_t i = 0; i < N(cases); i++) {
        if (!cases[i].at || !cases[i].target) {
            continue;
        }
        x64_buf_init(&b, cases[i].at, 0x100);
        x64_push(&b, X64_RBX);
        uint8_t *call = b.p;
        x64_call(&b, cases[i].target);
        size_t clen = (size_t)(b.p - call);
        x64_pop(&b, X64_RBX);
        x64_ret(&b);
        Fn3 f = finish(&b, cases[i].at, cases[i].name);
        int64_t rel = (int64_t)((uintptr_t)cases[i].target - ((uintptr_t)call + 5));
        bool is_far = !(rel >= INT32_MIN && rel <= INT32_MAX);
        if (cases[i].want_far >= 0 && is_far != (bool)cases[i].want_far) {
            failf("call %s: the test did not place it as intended (rel %+" PRId64 ")", cases[i].name, rel);
        }
        int form;
        Exp e[2] = { mov_ri_exp(X64_RAX, (uint64_t)(uintptr_t)cases[i].target, &form),
                     { X86_INS_CALL, 2, 1, { R(8, X64_RAX) } } };
        Exp e1 = { X86_INS_CALL, 5, 1, { I(8, (uint64_t)(uintptr_t)cases[i].target) } };
        if (!decode_check(call, clen, (uint64_t)(uintptr_t)call, is_far ? e : &e1, is_far ? 2 : 1, why, sizeof why)) {
            failf("call %s (rel %+" PRId64 "): %s", cases[i].name, rel, why);
            continue;
        }
        for (size_t k = 0; k < N(VALUES); k++) {
            uint64_t got = f(VALUES[k], 0, 0), want = call_target(VALUES[k]);
            if (got != want) {
                failf("call %s with %#" PRIx64 ": %#" PRIx64 ", expected %#" PRIx64, cases[i].name, VALUES[k], got,
                      want);
            }
        }
    }
    if (far) {
        munmap(far, 4096);
    }
    munmap(mem, EXEC_SIZE);
    done();
}
END_TEST

/* ------------------------------------------------------------------------ */

static Suite *x64_emit_suite(void)
{
    Suite *s = suite_create("x64_emit");
    TCase *te = tcase_create("encode");
    tcase_add_checked_fixture(te, setup, NULL);
    tcase_add_test(te, test_mov_rr);
    tcase_add_test(te, test_mov_ri);
    tcase_add_test(te, test_movzx_rr);
    tcase_add_loop_test(te, test_alu_rr, 0, 8);
    tcase_add_loop_test(te, test_alu_ri, 0, 8);
    tcase_add_test(te, test_test);
    tcase_add_test(te, test_inc_dec);
    tcase_add_test(te, test_shift_ri);
    tcase_add_test(te, test_setcc);
    tcase_add_test(te, test_push_pop_ret);
    tcase_add_loop_test(te, test_mem_forms, 0, MF_N);
    tcase_add_loop_test(te, test_mem_sweep, 0, MF_N);
    tcase_add_test(te, test_jcc_jmp_patch);
    tcase_add_test(te, test_call);
    suite_add_tcase(s, te);
    TCase *to = tcase_create("overflow");
    tcase_add_checked_fixture(to, setup, NULL);
    tcase_add_loop_test(to, test_overflow, 0, (int)N(THUNKS));
    tcase_add_test(to, test_patch_bounds);
    suite_add_tcase(s, to);
    TCase *tx = tcase_create("exec");
    tcase_add_checked_fixture(tx, setup, NULL);
    tcase_add_test(tx, test_exec_add_and);
    tcase_add_test(tx, test_exec_loops);
    tcase_add_test(tx, test_exec_setcc);
    tcase_add_test(tx, test_exec_alu);
    tcase_add_test(tx, test_exec_shift_inc_dec);
    tcase_add_test(tx, test_exec_mem);
    tcase_add_test(tx, test_exec_call);
    suite_add_tcase(s, tx);
    return s;
}

int main(void)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &g_cs) != CS_ERR_OK) {
        fprintf(stderr, "x64_emit: capstone cs_open failed\n");
        return EXIT_FAILURE;
    }
    cs_option(g_cs, CS_OPT_SYNTAX, CS_OPT_SYNTAX_INTEL);
    cs_option(g_cs, CS_OPT_DETAIL, CS_OPT_ON);
    build_mems();
    SRunner *sr = srunner_create(x64_emit_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cs_close(&g_cs);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
