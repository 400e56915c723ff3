/*
 * x86 integer arithmetic and EFLAGS: results and lazily computed flags.
 *
 * Every helper takes the operand size in bytes (1, 2, 4 or 8), the lazy
 * flags state of the CPU and its operands (zero-extended; they are masked to
 * the size again here, so passing a whole register is fine) and returns the
 * result truncated to the size. Flags are not computed when an instruction
 * runs: the instruction records what is needed (result, operands, operation)
 * and x86_flags_get() / x86_cond() derive the flags when they are read.
 * Nothing allocates, nothing locks, nothing is shared between CPUs: each CPU
 * owns its X86LazyFlags.
 *
 * Which bits are kept here: only the six arithmetic flags CF PF AF ZF SF OF.
 * DF, IF, TF, AC, IOPL and the rest of EFLAGS live in the CPU state, outside
 * this library; x86_flags_set() ignores them and x86_flags_get() returns
 * them as 0 (compose with X86_EFLAGS_FIXED and the system bits yourself).
 *
 * ---------------------------------------------------------------------
 * Flags the Intel SDM calls "undefined": what this library produces.
 *
 * The model is the host these helpers were characterised and
 * differentially tested on: an AMD Zen 5 (family 0x1A) CPU. Every choice
 * below was measured on it (tests/test_x86_alu.c compares all six flags
 * with the host), so the guest sees the behaviour of one real CPU,
 * whichever CPU the simulator happens to run on.
 *
 *   AND/OR/XOR/TEST             AF = 0.
 *   SHL/SHR/SAR (count != 0)    AF = 1.
 *                               OF for count > 1: SHL: OF = CF XOR the top
 *                               bit of (dest << count) (i.e. MSB(result) XOR
 *                               CF); SHR: OF = result[n-1] XOR result[n-2]
 *                               (so 0 for count >= 2); SAR: OF = 0.
 *                               CF for count >= n (8/16-bit only, counts up
 *                               to 31): SHL/SHR: the last bit shifted out,
 *                               i.e. 0 once count > n; SAR: the sign bit.
 *   ROL/ROR/RCL/RCR (masked count != 0; only CF and OF change)
 *                               OF for every count, not just 1 (what AMD
 *                               hardware does; it equals the count-1 rule of
 *                               the SDM when count is 1):
 *                               ROL/RCL: OF = MSB(result) XOR CF (new CF),
 *                               ROR/RCR: OF = result[n-1] XOR result[n-2].
 *                               8/16-bit RCL/RCR rotate by count mod 9 / 17;
 *                               when that is 0 the value and CF stay but OF
 *                               is still rewritten by the formula above (so
 *                               are ROL/ROR by a multiple of n: CF = LSB /
 *                               MSB of the value as the SDM says).
 *   SHLD/SHRD (count != 0)      AF = 1, SF/ZF/PF from the result.
 *                               SHLD: CF = last bit shifted out of dest
 *                               (0 for 16-bit counts 17..31), OF = CF XOR
 *                               bit n-1 of (dest << count).
 *                               SHRD: CF = dest[count-1] (0 for 16-bit
 *                               counts 17..31), OF = result[15] XOR
 *                               result[14] (n-1, n-2).
 *                               16-bit counts 17..31 (SDM: result undefined):
 *                               the hardware shifts through dest:src:src, so
 *                               SHLD gives rol16(src, count-16) and SHRD
 *                               gives ror16(src, count-16).
 *   MUL/IMUL (all forms)        SF ZF AF PF unchanged (kept from before).
 *   DIV/IDIV (no #DE)           CF and OF unchanged, SF = ZF = PF = 0,
 *                               AF = 1.
 *   BSF/BSR                     CF = OF = SF = AF = 0; ZF = (src == 0);
 *                               PF = parity of the index (1 when src == 0).
 *                               src == 0: destination not written at all,
 *                               not even the zero-extension of a 32-bit
 *                               destination in 64-bit mode (see x86_bsf).
 *   TZCNT/LZCNT                 SF = AF = PF = 0, OF unchanged.
 *   BT/BTS/BTR/BTC              everything but CF unchanged.
 *   AAA/AAS                     computed from the 16-bit value
 *                               T = AX +/- 0x106 (T = AX when no adjust):
 *                               SF = T[15], ZF = (T == 0), PF = parity of
 *                               T[7:0] (before AL is masked to its low
 *                               nibble), OF = 16-bit signed overflow of
 *                               AX +/- 0x106 (0 when no adjust).
 *   DAA/DAS                     OF: DAA: AL went from positive to negative;
 *                               DAS: AL went from negative to positive.
 *   AAM                         CF = AF = OF = 0.
 *   AAD                         CF, AF, OF of the 8-bit addition
 *                               AL + (AH * imm8).
 *   BSWAP r16                   low 16 bits become 0.
 *
 * Other CPUs: only the AMD host could be measured. Intel CPUs are known to
 * differ in some of these choices (for instance in the flags MUL/IMUL leave
 * in SF/ZF/PF, and in AF after shifts); where they do, this library
 * behaves like the AMD part, not like Intel. Two choices agree with the
 * Intel SDM text anyway: BT* keep ZF (Intel documents "ZF unaffected"), and
 * the rotate OF formulas are the SDM's count-1 formulas, applied to every
 * count. When the test runs on anything but AMD family 0x1A it masks every
 * SDM-undefined flag and result instead of comparing it.
 * ---------------------------------------------------------------------
 *
 * Notes for the interpreter:
 *  - INC/DEC keep CF: x86_inc/x86_dec read the current CF from the lazy
 *    state (x86_flags_cf) before they overwrite it and record it in `aux`.
 *    Nothing for the caller to do, but never bypass them by filling the
 *    state by hand without doing the same.
 *  - Shift/rotate counts: pass CL or the immediate as is; these helpers
 *    apply the SDM mask (& 0x1f, or & 0x3f for 64-bit operands). A masked
 *    count of 0 leaves the flags alone (the lazy state is not touched), but
 *    the destination is still written: a 32-bit shift by 0 in 64-bit mode
 *    zero-extends the register, as real hardware does.
 *  - ADC/SBB take the carry explicitly: pass x86_flags_cf(lf).
 *    RCL/RCR, AAA/AAS/DAA/DAS, rotates, MUL, DIV, BT*, TZCNT/LZCNT read what
 *    they need of the previous flags from `lf` themselves.
 *  - Helpers returning bool "raise #DE" (x86_div, x86_idiv, x86_aam) leave
 *    every output and the flags untouched when they return true.
 *  - 8-bit MUL/IMUL: low = AL, *hi = AH. 8-bit DIV/IDIV: hi = AH, lo = AL,
 *    quotient -> AL, remainder -> AH. Wider: hi = (E/R)DX, lo = (E/R)AX.
 *  - CMPXCHG8B/16B only change ZF: x86_flags_update(lf, X86_ZF, eq ? X86_ZF : 0).
 *    SAHF: x86_flags_update(lf, 0xd5, ah). CLC/STC/CMC: x86_flags_update on
 *    X86_CF. LAHF/PUSHF: x86_flags_get() | X86_EFLAGS_FIXED | system bits.
 */
#ifndef MMUSIM_TARGETS_X86_X86_ALU_H
#define MMUSIM_TARGETS_X86_X86_ALU_H

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* EFLAGS bits. */

/* (spelt token for token like the copies in x86_cpu.h, so both can be seen) */
#define X86_CF   (1u << 0)
#define X86_EFLAGS_FIXED (1u << 1)   /* always reads as 1 */
#define X86_PF   (1u << 2)
#define X86_AF   (1u << 4)
#define X86_ZF   (1u << 6)
#define X86_SF   (1u << 7)
#define X86_TF   (1u << 8)
#define X86_IF   (1u << 9)
#define X86_DF   (1u << 10)
#define X86_OF   (1u << 11)
#define X86_IOPL (3u << 12)
#define X86_IOPL_SHIFT 12
#define X86_NT   (1u << 14)
#define X86_RF   (1u << 16)
#define X86_VM   (1u << 17)
#define X86_AC   (1u << 18)
#define X86_VIF  (1u << 19)
#define X86_VIP  (1u << 20)
#define X86_ID   (1u << 21)

/* The six status flags this library computes. */
#define X86_ARITH_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

/* Condition codes, in Jcc/SETcc/CMOVcc encoding order (low opcode nibble). */
enum {
    X86_COND_O = 0,  X86_COND_NO = 1,
    X86_COND_B = 2,  X86_COND_AE = 3,   /* C / NC */
    X86_COND_E = 4,  X86_COND_NE = 5,   /* Z / NZ */
    X86_COND_BE = 6, X86_COND_A = 7,
    X86_COND_S = 8,  X86_COND_NS = 9,
    X86_COND_P = 10, X86_COND_NP = 11,
    X86_COND_L = 12, X86_COND_GE = 13,
    X86_COND_LE = 14, X86_COND_G = 15,
};

/* ------------------------------------------------------------------ */
/* The lazy flags state. */

/*
 * What each operation records (res is always the result truncated to size;
 * src1/src2 are the operands masked to size):
 *   EFLAGS  src1 = the six flags, already materialised (other fields unused)
 *   ADD     res = src1 + src2
 *   ADC     res = src1 + src2 + carry  (the carry is recovered from the bits)
 *   SUB     res = src1 - src2          (also CMP, NEG as 0 - x, CMPXCHG)
 *   SBB     res = src1 - src2 - borrow
 *   LOGIC   res                        (AND OR XOR TEST: CF = OF = AF = 0)
 *   INC/DEC res = src1 +/- 1, aux = CF from before (0 or 1)
 *   SHL/SHR/SAR  res, src1 = value shifted, src2 = masked count (never 0).
 *           SHLD reuses SHL and SHRD reuses SHR with src1 = destination:
 *           the flag formulas are the same.
 * Every other instruction materialises its flags (op = EFLAGS) at once:
 * they either keep some of the previous flags (rotates, MUL, DIV, BT, ...)
 * or are rare.
 */
typedef enum X86CCOp {
    X86_CC_EFLAGS = 0,
    X86_CC_ADD,
    X86_CC_ADC,
    X86_CC_SUB,
    X86_CC_SBB,
    X86_CC_LOGIC,
    X86_CC_INC,
    X86_CC_DEC,
    X86_CC_SHL,
    X86_CC_SHR,
    X86_CC_SAR,
    X86_CC_NUM_OPS
} X86CCOp;

typedef struct X86LazyFlags {
    uint64_t res, src1, src2;
    uint8_t op;     /* X86CCOp */
    uint8_t size;   /* 1, 2, 4, 8 */
    uint64_t aux;
} X86LazyFlags;

/* Materialise CF PF AF ZF SF OF (other bits 0). */
uint32_t x86_flags_get(const X86LazyFlags *lf);

/* Replace the flags by materialised ones (bits outside X86_ARITH_FLAGS ignored). */
static inline void x86_flags_set(X86LazyFlags *lf, uint32_t eflags)
{
    lf->op = X86_CC_EFLAGS;
    lf->size = 8;
    lf->src1 = eflags & X86_ARITH_FLAGS;
    lf->res = lf->src2 = lf->aux = 0;
}

/* Replace the flags in `mask` (within X86_ARITH_FLAGS) by those of `value`. */
static inline void x86_flags_update(X86LazyFlags *lf, uint32_t mask, uint32_t value)
{
    uint32_t f = x86_flags_get(lf);
    x86_flags_set(lf, (f & ~mask) | (value & mask));
}

/* ------------------------------------------------------------------ */
/* Small helpers, prefixed x86_alu_ so they cannot collide with the
 * interpreter's own (x86_internal.h has x86_mask and x86_sext). */

static inline uint64_t x86_alu_mask(unsigned size)
{
    return ~UINT64_C(0) >> (64 - size * 8);
}

static inline uint64_t x86_alu_sign_bit(unsigned size)
{
    return UINT64_C(1) << (size * 8 - 1);
}

/* Sign-extend the low `size` bytes of v. */
static inline int64_t x86_alu_sext(uint64_t v, unsigned size)
{
    unsigned s = 64 - size * 8;
    return (int64_t)(v << s) >> s;
}

/* X86_PF if the low byte of v has an even number of set bits, else 0. */
static inline uint32_t x86_alu_parity(uint64_t v)
{
    unsigned b = (unsigned)v & 0xff;
    b ^= b >> 4;
    /* 0x6996: bit i is the parity of the nibble i (1 = odd). */
    return ((0x6996u >> (b & 0xf)) & 1) ? 0 : X86_PF;
}

/* SF, ZF and PF of a result. */
static inline uint32_t x86_alu_szp(uint64_t res, unsigned size)
{
    return (res == 0 ? X86_ZF : 0) | ((res & x86_alu_sign_bit(size)) ? X86_SF : 0) |
           x86_alu_parity(res);
}

static inline void x86_alu_record(X86LazyFlags *lf, X86CCOp op, unsigned size,
                                 uint64_t res, uint64_t src1, uint64_t src2)
{
    lf->res = res;
    lf->src1 = src1;
    lf->src2 = src2;
    lf->op = (uint8_t)op;
    lf->size = (uint8_t)size;
}

/* CF of the SHL formula: the last bit shifted out (count 1..63). */
static inline uint64_t x86_alu_shl_cf(uint64_t src, unsigned count, unsigned size)
{
    if (size == 8) {
        return (src >> (64 - count)) & 1;
    }
    /* src < 2^32 and count < 32: no overflow; counts > size give 0. */
    return ((src << count) >> (size * 8)) & 1;
}

/* CF only, without materialising the rest (ADC, SBB, RCL, INC, SETC...). */
static inline bool x86_flags_cf(const X86LazyFlags *lf)
{
    uint64_t a = lf->src1, b = lf->src2, r = lf->res;
    unsigned sh = lf->size * 8 - 1;

    switch ((X86CCOp)lf->op) {
    case X86_CC_EFLAGS:
        return a & X86_CF;
    case X86_CC_ADD:
        return r < a;
    case X86_CC_ADC:
        return (((a & b) | ((a | b) & ~r)) >> sh) & 1;
    case X86_CC_SUB:
        return a < b;
    case X86_CC_SBB:
        return (((~a & b) | (~(a ^ b) & r)) >> sh) & 1;
    case X86_CC_LOGIC:
        return false;
    case X86_CC_INC:
    case X86_CC_DEC:
        return lf->aux & 1;
    case X86_CC_SHL:
        return x86_alu_shl_cf(a, (unsigned)b, lf->size);
    case X86_CC_SHR:
        return (a >> (b - 1)) & 1;
    case X86_CC_SAR:
        return ((uint64_t)(x86_alu_sext(a, lf->size) >> (b - 1))) & 1;
    default:
        return x86_flags_get(lf) & X86_CF;
    }
}

/* Condition `base` (cc >> 1) evaluated on materialised flags. */
static inline bool x86_cond_from_eflags(uint32_t f, unsigned cc)
{
    bool r;
    switch ((cc >> 1) & 7) {
    case 0: r = f & X86_OF; break;
    case 1: r = f & X86_CF; break;
    case 2: r = f & X86_ZF; break;
    case 3: r = f & (X86_CF | X86_ZF); break;
    case 4: r = f & X86_SF; break;
    case 5: r = f & X86_PF; break;
    case 6: r = !(f & X86_SF) != !(f & X86_OF); break;
    default: r = (f & X86_ZF) || (!(f & X86_SF) != !(f & X86_OF)); break;
    }
    return r ^ (cc & 1);
}

/*
 * Jcc/SETcc/CMOVcc condition cc (0..15). After SUB/CMP and the logic ops
 * every condition is answered from the operands without materialising; E,
 * NE, S, NS, P, NP are answered from the result after every lazy op.
 */
static inline bool x86_cond(const X86LazyFlags *lf, unsigned cc)
{
    unsigned base = (cc >> 1) & 7;
    unsigned size = lf->size;
    uint64_t r = lf->res;
    bool v;

    switch ((X86CCOp)lf->op) {
    case X86_CC_EFLAGS:
        return x86_cond_from_eflags((uint32_t)lf->src1, cc);
    case X86_CC_SUB: {
        uint64_t a = lf->src1, b = lf->src2;
        switch (base) {
        case 0: v = (((a ^ b) & (a ^ r)) >> (size * 8 - 1)) & 1; break;
        case 1: v = a < b; break;
        case 2: v = a == b; break;
        case 3: v = a <= b; break;
        case 4: v = r & x86_alu_sign_bit(size); break;
        case 5: v = x86_alu_parity(r); break;
        case 6: v = x86_alu_sext(a, size) < x86_alu_sext(b, size); break;
        default: v = x86_alu_sext(a, size) <= x86_alu_sext(b, size); break;
        }
        return v ^ (cc & 1);
    }
    case X86_CC_LOGIC:
        switch (base) {
        case 0: case 1: v = false; break;
        case 2: case 3: v = r == 0; break;
        case 4: case 6: v = r & x86_alu_sign_bit(size); break;
        case 5: v = x86_alu_parity(r); break;
        default: v = r == 0 || (r & x86_alu_sign_bit(size)); break;
        }
        return v ^ (cc & 1);
    default:
        switch (base) {
        case 1: v = x86_flags_cf(lf); break;
        case 2: v = r == 0; break;
        case 4: v = r & x86_alu_sign_bit(size); break;
        case 5: v = x86_alu_parity(r); break;
        default: return x86_cond_from_eflags(x86_flags_get(lf), cc);
        }
        return v ^ (cc & 1);
    }
}

/* ------------------------------------------------------------------ */
/* ADD ADC SUB SBB CMP NEG INC DEC XADD CMPXCHG. */

static inline uint64_t x86_add(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    uint64_t m = x86_alu_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a + b) & m;
    x86_alu_record(lf, X86_CC_ADD, size, r, a, b);
    return r;
}

static inline uint64_t x86_adc(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b,
                               bool carry)
{
    uint64_t m = x86_alu_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a + b + carry) & m;
    x86_alu_record(lf, X86_CC_ADC, size, r, a, b);
    return r;
}

static inline uint64_t x86_sub(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    uint64_t m = x86_alu_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a - b) & m;
    x86_alu_record(lf, X86_CC_SUB, size, r, a, b);
    return r;
}

static inline uint64_t x86_sbb(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b,
                               bool borrow)
{
    uint64_t m = x86_alu_mask(size);
    a &= m;
    b &= m;
    uint64_t r = (a - b - borrow) & m;
    x86_alu_record(lf, X86_CC_SBB, size, r, a, b);
    return r;
}

/* CMP a, b: flags of a - b, no result. */
static inline void x86_cmp(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    (void)x86_sub(lf, size, a, b);
}

/* NEG: 0 - a (CF = a != 0). */
static inline uint64_t x86_neg(X86LazyFlags *lf, unsigned size, uint64_t a)
{
    return x86_sub(lf, size, 0, a);
}

/* The CF an INC/DEC keeps: after another INC/DEC it is already in aux (a
 * run of them, as in counted loops, never evaluates the switch). */
static inline uint64_t x86_alu_kept_cf(const X86LazyFlags *lf)
{
    if (lf->op == X86_CC_INC || lf->op == X86_CC_DEC) {
        return lf->aux & 1;
    }
    return x86_flags_cf(lf);
}

/* INC/DEC: CF kept (read from the current state, stored in aux). */
static inline uint64_t x86_inc(X86LazyFlags *lf, unsigned size, uint64_t a)
{
    uint64_t m = x86_alu_mask(size);
    uint64_t cf = x86_alu_kept_cf(lf);
    a &= m;
    uint64_t r = (a + 1) & m;
    x86_alu_record(lf, X86_CC_INC, size, r, a, 1);
    lf->aux = cf;
    return r;
}

static inline uint64_t x86_dec(X86LazyFlags *lf, unsigned size, uint64_t a)
{
    uint64_t m = x86_alu_mask(size);
    uint64_t cf = x86_alu_kept_cf(lf);
    a &= m;
    uint64_t r = (a - 1) & m;
    x86_alu_record(lf, X86_CC_DEC, size, r, a, 1);
    lf->aux = cf;
    return r;
}

/* XADD dst, src: returns dst + src (the new destination), *src = old dst. */
static inline uint64_t x86_xadd(X86LazyFlags *lf, unsigned size, uint64_t dst, uint64_t *src)
{
    uint64_t r = x86_add(lf, size, dst, *src);
    *src = dst & x86_alu_mask(size);
    return r;
}

/*
 * CMPXCHG compare step: flags of CMP accumulator, destination; returns true
 * when they are equal (then destination <- source, else accumulator <-
 * destination; the destination is written back in both cases).
 */
static inline bool x86_cmpxchg_cmp(X86LazyFlags *lf, unsigned size, uint64_t acc, uint64_t dst)
{
    uint64_t m = x86_alu_mask(size);
    x86_cmp(lf, size, acc, dst);
    return ((acc ^ dst) & m) == 0;
}

/* ------------------------------------------------------------------ */
/* AND OR XOR TEST NOT. */

static inline uint64_t x86_alu_logic(X86LazyFlags *lf, unsigned size, uint64_t r)
{
    r &= x86_alu_mask(size);
    x86_alu_record(lf, X86_CC_LOGIC, size, r, 0, 0);
    return r;
}

static inline uint64_t x86_and(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    return x86_alu_logic(lf, size, a & b);
}

static inline uint64_t x86_or(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    return x86_alu_logic(lf, size, a | b);
}

static inline uint64_t x86_xor(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    return x86_alu_logic(lf, size, a ^ b);
}

static inline void x86_test(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    (void)x86_alu_logic(lf, size, a & b);
}

/* NOT: no flags. */
static inline uint64_t x86_not(unsigned size, uint64_t a)
{
    return ~a & x86_alu_mask(size);
}

/* ------------------------------------------------------------------ */
/* SHL/SAL SHR SAR. */

static inline unsigned x86_alu_count_mask(unsigned size)
{
    return size == 8 ? 0x3f : 0x1f;
}

static inline uint64_t x86_shl(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    uint64_t m = x86_alu_mask(size);
    count &= x86_alu_count_mask(size);
    a &= m;
    if (count == 0) {
        return a;
    }
    uint64_t r = (a << count) & m;   /* count <= 63 */
    x86_alu_record(lf, X86_CC_SHL, size, r, a, count);
    return r;
}

static inline uint64_t x86_shr(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    uint64_t m = x86_alu_mask(size);
    count &= x86_alu_count_mask(size);
    a &= m;
    if (count == 0) {
        return a;
    }
    uint64_t r = a >> count;
    x86_alu_record(lf, X86_CC_SHR, size, r, a, count);
    return r;
}

static inline uint64_t x86_sar(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    uint64_t m = x86_alu_mask(size);
    count &= x86_alu_count_mask(size);
    a &= m;
    if (count == 0) {
        return a;
    }
    uint64_t r = (uint64_t)(x86_alu_sext(a, size) >> count) & m;
    x86_alu_record(lf, X86_CC_SAR, size, r, a, count);
    return r;
}

/* ------------------------------------------------------------------ */
/* Out of line: rotates, double shifts, multiply, divide, bit ops, BCD. */

/* ROL ROR RCL RCR: only CF and OF change (see the top of this file). */
uint64_t x86_rol(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count);
uint64_t x86_ror(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count);
/* RCL/RCR rotate through the current CF, read from lf. */
uint64_t x86_rcl(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count);
uint64_t x86_rcr(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count);

/* SHLD dst, src, count / SHRD dst, src, count (size 2, 4 or 8). */
uint64_t x86_shld(X86LazyFlags *lf, unsigned size, uint64_t dst, uint64_t src, unsigned count);
uint64_t x86_shrd(X86LazyFlags *lf, unsigned size, uint64_t dst, uint64_t src, unsigned count);

/*
 * One-operand MUL/IMUL: accumulator a times b; returns the low half, *hi
 * gets the high half. CF = OF = (the high half is significant).
 */
uint64_t x86_mul(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b, uint64_t *hi);
uint64_t x86_imul1(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b, uint64_t *hi);
/* Two- and three-operand IMUL (size 2, 4, 8): the truncated product. */
uint64_t x86_imul(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b);

/*
 * DIV/IDIV of hi:lo (each `size` wide) by divisor. Returns true when the
 * instruction raises #DE (divisor 0, or quotient too large for `size`,
 * including the most negative dividend divided by -1); then nothing is
 * written. Otherwise *quot and *rem are set (truncated to size).
 */
bool x86_div(X86LazyFlags *lf, unsigned size, uint64_t hi, uint64_t lo, uint64_t divisor,
             uint64_t *quot, uint64_t *rem);
bool x86_idiv(X86LazyFlags *lf, unsigned size, uint64_t hi, uint64_t lo, uint64_t divisor,
              uint64_t *quot, uint64_t *rem);

/*
 * BSF/BSR (size 2, 4, 8): if src is 0, ZF is set and false is returned:
 * the destination must not be written at all (in 64-bit mode not even the
 * zero-extension of a 32-bit destination). Otherwise *dst = bit index and
 * true is returned.
 */
bool x86_bsf(X86LazyFlags *lf, unsigned size, uint64_t src, uint64_t *dst);
bool x86_bsr(X86LazyFlags *lf, unsigned size, uint64_t src, uint64_t *dst);
/* TZCNT/LZCNT: CF = (src == 0), ZF = (result == 0). POPCNT: ZF = (src == 0), others 0. */
uint64_t x86_tzcnt(X86LazyFlags *lf, unsigned size, uint64_t src);
uint64_t x86_lzcnt(X86LazyFlags *lf, unsigned size, uint64_t src);
uint64_t x86_popcnt(X86LazyFlags *lf, unsigned size, uint64_t src);

/*
 * BT/BTS/BTR/BTC with a register-form bit offset (taken modulo the operand
 * width here; for memory operands the caller first moves the address by
 * offset / width and passes offset % width). CF = the selected bit before.
 * x86_bt returns that bit; the others return the new value.
 */
bool x86_bt(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit);
uint64_t x86_bts(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit);
uint64_t x86_btr(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit);
uint64_t x86_btc(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit);

/* BSWAP (no flags). Size 4 or 8; size 2 gives 0 (what the hardware does). */
static inline uint64_t x86_bswap(unsigned size, uint64_t a)
{
    switch (size) {
    case 8: return __builtin_bswap64(a);
    case 4: return __builtin_bswap32((uint32_t)a);
    default: return 0;
    }
}

/*
 * BCD/ASCII adjust (only valid outside 64-bit mode: the interpreter raises
 * #UD in 64-bit mode). They take and return AX; DAA/DAS change AL only.
 * AF and CF are read from lf.
 */
uint16_t x86_aaa(X86LazyFlags *lf, uint16_t ax);
uint16_t x86_aas(X86LazyFlags *lf, uint16_t ax);
uint16_t x86_daa(X86LazyFlags *lf, uint16_t ax);
uint16_t x86_das(X86LazyFlags *lf, uint16_t ax);
/* AAM imm8: true = #DE (imm8 == 0), nothing changed. */
bool x86_aam(X86LazyFlags *lf, uint16_t ax, uint8_t imm, uint16_t *ax_out);
uint16_t x86_aad(X86LazyFlags *lf, uint16_t ax, uint8_t imm);

#endif /* MMUSIM_TARGETS_X86_X86_ALU_H */
