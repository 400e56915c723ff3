/*
 * Integer data processing (ARM ARM C4.1.2 "Data Processing -- Immediate",
 * C4.1.6 "Data Processing -- Register"; instruction pages in C6.2).
 *
 * Handlers are specialised per operation, width and form so that the hot
 * ones (register/immediate ALU without shift, compare, move) are a load or
 * two, the operation and a store. NZCV is computed eagerly into
 * cpu->nzcv (bits 31..28) by the flag-setting forms only.
 *
 * Register 31: the zero register, except where a form names SP (ADD/SUB
 * immediate and extended register: Rd and Rn; logical immediate: Rd; ARM
 * ARM C1.2.5). Those SP forms get their own handlers; the zero-register
 * destination of a non-flag-setting instruction makes it a no-op.
 */
#include "targets/arm/a64_decode.h"

#define X(r) (cpu->x[(r)])
#define H(name) static ArmResult name(ArmCpu *cpu, const A64Insn *in)

/* --- Flags (ARM ARM C5.2.x AddWithCarry, shared/functions/integer) --- */

static inline uint32_t pack_nzcv(unsigned n, unsigned z, unsigned c, unsigned v)
{
    return (n << 31) | (z << 30) | (c << 29) | (v << 28);
}

static inline uint64_t awc64(uint64_t a, uint64_t b, unsigned carry, uint32_t *nzcv)
{
    __extension__ unsigned __int128 us = (unsigned __int128)a + b + carry;
    uint64_t r = (uint64_t)us;
    *nzcv = pack_nzcv((unsigned)(r >> 63), r == 0, (unsigned)(us >> 64),
                      (unsigned)(((a ^ r) & (b ^ r)) >> 63));
    return r;
}

static inline uint32_t awc32(uint32_t a, uint32_t b, unsigned carry, uint32_t *nzcv)
{
    uint64_t us = (uint64_t)a + b + carry;
    uint32_t r = (uint32_t)us;
    *nzcv = pack_nzcv(r >> 31, r == 0, (unsigned)(us >> 32), ((a ^ r) & (b ^ r)) >> 31);
    return r;
}

static inline uint32_t nz64(uint64_t r)
{
    return pack_nzcv((unsigned)(r >> 63), r == 0, 0, 0);
}

static inline uint32_t nz32(uint32_t r)
{
    return pack_nzcv(r >> 31, r == 0, 0, 0);
}

/* --- Operand shifts and extends (C6.2 "shifted register", "extended register") --- */

static inline uint64_t shift64(uint64_t v, unsigned type, unsigned amt)
{
    switch (type) {
    case 0: return v << amt;
    case 1: return v >> amt;
    case 2: return (uint64_t)((int64_t)v >> amt);
    default: return amt ? (v >> amt) | (v << (64 - amt)) : v;
    }
}

static inline uint32_t shift32(uint32_t v, unsigned type, unsigned amt)
{
    switch (type) {
    case 0: return v << amt;
    case 1: return v >> amt;
    case 2: return (uint32_t)((int32_t)v >> amt);
    default: return amt ? (v >> amt) | (v << (32 - amt)) : v;
    }
}

/* ExtendReg(): option UXTB UXTH UXTW UXTX SXTB SXTH SXTW SXTX, then << shift. */
static inline uint64_t extend_reg(uint64_t v, unsigned option, unsigned shift)
{
    switch (option) {
    case 0: v = (uint8_t)v; break;
    case 1: v = (uint16_t)v; break;
    case 2: v = (uint32_t)v; break;
    case 4: v = (uint64_t)(int64_t)(int8_t)v; break;
    case 5: v = (uint64_t)(int64_t)(int16_t)v; break;
    case 6: v = (uint64_t)(int64_t)(int32_t)v; break;
    default: break;
    }
    return v << shift;
}

/* --- ALU, register forms: op(a, b) with b = Rm [shifted] --- */

#define ALU_RR(name, e)                                                              \
    H(h_##name##_x) { uint64_t a = X(in->rn), b = X(in->rm); X(in->rd) = (e); return ARM_R_NEXT; } \
    H(h_##name##_xs) { uint64_t a = X(in->rn), b = shift64(X(in->rm), in->op, in->shift);   \
                       X(in->rd) = (e); return ARM_R_NEXT; }                        \
    H(h_##name##_w) { uint32_t a = (uint32_t)X(in->rn), b = (uint32_t)X(in->rm);    \
                      X(in->rd) = (uint32_t)(e); return ARM_R_NEXT; }               \
    H(h_##name##_ws) { uint32_t a = (uint32_t)X(in->rn);                             \
                       uint32_t b = shift32((uint32_t)X(in->rm), in->op, in->shift); \
                       X(in->rd) = (uint32_t)(e); return ARM_R_NEXT; }

ALU_RR(add, a + b)
ALU_RR(sub, a - b)
ALU_RR(and, a & b)
ALU_RR(orr, a | b)
ALU_RR(eor, a ^ b)
ALU_RR(bic, a & ~b)
ALU_RR(orn, a | ~b)
ALU_RR(eon, a ^ ~b)

/* Flag-setting register forms; Rd may be the zero register (CMP, CMN, TST). */
#define ALU_RR_S(name, e64, e32)                                                    \
    H(h_##name##_x) { uint64_t a = X(in->rn), b = shift64(X(in->rm), in->op, in->shift); \
                      uint32_t f; uint64_t r = e64; cpu->nzcv = f;                  \
                      a64_set_x(cpu, in->rd, r); return ARM_R_NEXT; }               \
    H(h_##name##_w) { uint32_t a = (uint32_t)X(in->rn);                              \
                      uint32_t b = shift32((uint32_t)X(in->rm), in->op, in->shift);  \
                      uint32_t f; uint32_t r = e32; cpu->nzcv = f;                  \
                      a64_set_x(cpu, in->rd, r); return ARM_R_NEXT; }

ALU_RR_S(adds, awc64(a, b, 0, &f), awc32(a, b, 0, &f))
ALU_RR_S(subs, awc64(a, ~b, 1, &f), awc32(a, ~b, 1, &f))
ALU_RR_S(ands, (f = nz64(a & b), a & b), (f = nz32(a & b), a & b))
ALU_RR_S(bics, (f = nz64(a & ~b), a & ~b), (f = nz32(a & ~b), a & ~b))

/* CMP Xn, Xm (SUBS with Rd = ZR, no shift): the compare of every loop. */
H(h_cmp_x)
{
    uint64_t a = X(in->rn), b = X(in->rm), r = a - b;
    cpu->nzcv = pack_nzcv((unsigned)(r >> 63), r == 0, a >= b, (unsigned)(((a ^ b) & (a ^ r)) >> 63));
    return ARM_R_NEXT;
}

H(h_cmp_w)
{
    uint32_t a = (uint32_t)X(in->rn), b = (uint32_t)X(in->rm), r = a - b;
    cpu->nzcv = pack_nzcv(r >> 31, r == 0, a >= b, ((a ^ b) & (a ^ r)) >> 31);
    return ARM_R_NEXT;
}

/* --- ADD/SUB immediate (C6.2.4/C6.2.x); imm already shifted by sh --- */

H(h_add_imm_x) { X(in->rd) = X(in->rn) + (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_add_imm_w) { X(in->rd) = (uint32_t)(X(in->rn) + (uint64_t)in->imm); return ARM_R_NEXT; }

H(h_cmp_imm_x)
{
    uint64_t a = X(in->rn), b = (uint64_t)in->imm, r = a - b;
    cpu->nzcv = pack_nzcv((unsigned)(r >> 63), r == 0, a >= b, (unsigned)(((a ^ b) & (a ^ r)) >> 63));
    return ARM_R_NEXT;
}

/* SP-capable and flag-setting forms: op = 0 ADD, 1 SUB; bit 1: S. */
static inline uint64_t read_rn_sp(ArmCpu *cpu, unsigned rn)
{
    return rn == 31 ? *a64_sp_ptr(cpu) : X(rn);
}

static ArmResult addsub_finish(ArmCpu *cpu, const A64Insn *in, uint64_t a, uint64_t b)
{
    bool sub = in->op & 1, s = in->op & 2;
    uint32_t f;
    uint64_t r;
    if (in->sf) {
        r = sub ? awc64(a, ~b, 1, &f) : awc64(a, b, 0, &f);
    } else {
        r = sub ? awc32((uint32_t)a, ~(uint32_t)b, 1, &f) : awc32((uint32_t)a, (uint32_t)b, 0, &f);
    }
    if (s) {
        cpu->nzcv = f;
        a64_set_x(cpu, in->rd, r);
    } else if (in->rd == 31) {
        *a64_sp_ptr(cpu) = r;
    } else {
        X(in->rd) = r;
    }
    return ARM_R_NEXT;
}

H(h_addsub_imm_gen) { return addsub_finish(cpu, in, read_rn_sp(cpu, in->rn), (uint64_t)in->imm); }

H(h_addsub_ext)
{
    return addsub_finish(cpu, in, read_rn_sp(cpu, in->rn), extend_reg(X(in->rm), in->ra, in->shift));
}

/* Shifted-register ADD/SUB with the rare shapes (none here: Rn/Rd are never SP). */

/* --- Logical immediate --- */

H(h_and_imm) { X(in->rd) = X(in->rn) & (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_orr_imm) { X(in->rd) = X(in->rn) | (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_eor_imm) { X(in->rd) = X(in->rn) ^ (uint64_t)in->imm; return ARM_R_NEXT; }

/* Rd = SP forms (op: 0 AND, 1 ORR, 2 EOR); the result of a 32-bit form is
 * already zero-extended because imm and the W read were masked. */
H(h_log_imm_sp)
{
    uint64_t a = in->sf ? X(in->rn) : (uint32_t)X(in->rn), b = (uint64_t)in->imm;
    uint64_t r = in->op == 0 ? a & b : in->op == 1 ? a | b : a ^ b;
    *a64_sp_ptr(cpu) = r;
    return ARM_R_NEXT;
}

H(h_ands_imm)
{
    uint64_t r;
    if (in->sf) {
        r = X(in->rn) & (uint64_t)in->imm;
        cpu->nzcv = nz64(r);
    } else {
        r = (uint32_t)X(in->rn) & (uint32_t)in->imm;
        cpu->nzcv = nz32((uint32_t)r);
    }
    a64_set_x(cpu, in->rd, r);
    return ARM_R_NEXT;
}

/* 32-bit AND/ORR/EOR immediate need the W read: the imm is already 32-bit,
 * so only ORR/EOR (which keep upper source bits) need a truncating form. */
H(h_orr_imm_w) { X(in->rd) = (uint32_t)(X(in->rn) | (uint64_t)in->imm); return ARM_R_NEXT; }
H(h_eor_imm_w) { X(in->rd) = (uint32_t)(X(in->rn) ^ (uint64_t)in->imm); return ARM_R_NEXT; }

/* --- Move wide, PC-relative --- */

H(h_movi) { X(in->rd) = (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_movk) { X(in->rd) = (X(in->rd) & in->imm2) | (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_adr) { X(in->rd) = cpu->pc + (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_adrp) { X(in->rd) = (cpu->pc & ~0xfffull) + (uint64_t)in->imm; return ARM_R_NEXT; }

/* --- Bitfield (C6.2 SBFM/UBFM/BFM): R = shift, S = op, wmask = imm, tmask = imm2 --- */

static inline uint64_t ror64(uint64_t v, unsigned r) { return r ? (v >> r) | (v << (64 - r)) : v; }
static inline uint32_t ror32(uint32_t v, unsigned r) { return r ? (v >> r) | (v << (32 - r)) : v; }

/* UBFM: imm = wmask & tmask (precombined). */
H(h_ubfm_x) { X(in->rd) = ror64(X(in->rn), in->shift) & (uint64_t)in->imm; return ARM_R_NEXT; }
H(h_ubfm_w) { X(in->rd) = ror32((uint32_t)X(in->rn), in->shift) & (uint32_t)in->imm; return ARM_R_NEXT; }
/* LSL/LSR immediate (UBFM aliases): common enough for their own handlers. */
H(h_lsl_imm_x) { X(in->rd) = X(in->rn) << in->shift; return ARM_R_NEXT; }
H(h_lsr_imm_x) { X(in->rd) = X(in->rn) >> in->shift; return ARM_R_NEXT; }

H(h_sbfm_x)
{
    uint64_t src = X(in->rn), wmask = (uint64_t)in->imm, tmask = in->imm2;
    uint64_t bot = ror64(src, in->shift) & wmask;
    uint64_t top = (src >> in->op) & 1 ? ~0ull : 0;
    X(in->rd) = (top & ~tmask) | (bot & tmask);
    return ARM_R_NEXT;
}

H(h_sbfm_w)
{
    uint32_t src = (uint32_t)X(in->rn), wmask = (uint32_t)in->imm, tmask = (uint32_t)in->imm2;
    uint32_t bot = ror32(src, in->shift) & wmask;
    uint32_t top = (src >> in->op) & 1 ? ~0u : 0;
    X(in->rd) = (top & ~tmask) | (bot & tmask);
    return ARM_R_NEXT;
}

H(h_bfm_x)
{
    uint64_t src = X(in->rn), dst = X(in->rd), wmask = (uint64_t)in->imm, tmask = in->imm2;
    uint64_t bot = (dst & ~wmask) | (ror64(src, in->shift) & wmask);
    X(in->rd) = (dst & ~tmask) | (bot & tmask);
    return ARM_R_NEXT;
}

H(h_bfm_w)
{
    uint32_t src = (uint32_t)X(in->rn), dst = (uint32_t)X(in->rd);
    uint32_t wmask = (uint32_t)in->imm, tmask = (uint32_t)in->imm2;
    uint32_t bot = (dst & ~wmask) | (ror32(src, in->shift) & wmask);
    X(in->rd) = (dst & ~tmask) | (bot & tmask);
    return ARM_R_NEXT;
}

/* EXTR: (Rn:Rm) >> lsb. */
H(h_extr_x)
{
    unsigned lsb = in->shift;
    uint64_t lo = X(in->rm), hi = X(in->rn);
    X(in->rd) = lsb ? (lo >> lsb) | (hi << (64 - lsb)) : lo;
    return ARM_R_NEXT;
}

H(h_extr_w)
{
    unsigned lsb = in->shift;
    uint32_t lo = (uint32_t)X(in->rm), hi = (uint32_t)X(in->rn);
    X(in->rd) = lsb ? (lo >> lsb) | (hi << (32 - lsb)) : lo;
    return ARM_R_NEXT;
}

/* --- Add/subtract with carry --- */

H(h_adcsbc)
{
    bool sub = in->op & 1, s = in->op & 2;
    unsigned c = (cpu->nzcv >> 29) & 1;
    uint32_t f;
    uint64_t r;
    if (in->sf) {
        uint64_t b = sub ? ~X(in->rm) : X(in->rm);
        r = awc64(X(in->rn), b, c, &f);
    } else {
        uint32_t b = sub ? ~(uint32_t)X(in->rm) : (uint32_t)X(in->rm);
        r = awc32((uint32_t)X(in->rn), b, c, &f);
    }
    if (s) {
        cpu->nzcv = f;
    }
    a64_set_x(cpu, in->rd, r);
    return ARM_R_NEXT;
}

/* --- Conditional compare (C6.2 CCMP/CCMN): op bit0 = CCMP (subtract),
 * bit1 = immediate operand (imm), imm2 = the NZCV to set when false --- */

H(h_ccmp)
{
    if (a64_cond_holds(cpu, in->cmask)) {
        uint64_t b = (in->op & 2) ? (uint64_t)in->imm : X(in->rm);
        uint32_t f;
        bool sub = in->op & 1;
        if (in->sf) {
            awc64(X(in->rn), sub ? ~b : b, sub, &f);
        } else {
            awc32((uint32_t)X(in->rn), sub ? ~(uint32_t)b : (uint32_t)b, sub, &f);
        }
        cpu->nzcv = f;
    } else {
        cpu->nzcv = (uint32_t)in->imm2;
    }
    return ARM_R_NEXT;
}

/* --- Conditional select (op: 0 CSEL, 1 CSINC, 2 CSINV, 3 CSNEG) --- */

H(h_csel_x) { X(in->rd) = a64_cond_holds(cpu, in->cmask) ? X(in->rn) : X(in->rm); return ARM_R_NEXT; }

H(h_csel_gen)
{
    uint64_t r;
    if (a64_cond_holds(cpu, in->cmask)) {
        r = X(in->rn);
    } else {
        r = X(in->rm);
        switch (in->op) {
        case 1: r = r + 1; break;
        case 2: r = ~r; break;
        case 3: r = -r; break;
        default: break;
        }
    }
    X(in->rd) = in->sf ? r : (uint32_t)r;
    return ARM_R_NEXT;
}

/* --- Two-source (C6.2 UDIV/SDIV/LSLV/LSRV/ASRV/RORV) --- */

H(h_udiv)
{
    if (in->sf) {
        uint64_t d = X(in->rm);
        X(in->rd) = d ? X(in->rn) / d : 0;  /* division by zero gives 0 (C3.4.8) */
    } else {
        uint32_t d = (uint32_t)X(in->rm);
        X(in->rd) = d ? (uint32_t)X(in->rn) / d : 0;
    }
    return ARM_R_NEXT;
}

H(h_sdiv)
{
    if (in->sf) {
        int64_t n = (int64_t)X(in->rn), d = (int64_t)X(in->rm);
        /* 0 on division by zero; INT64_MIN / -1 overflows to INT64_MIN. */
        X(in->rd) = d == 0 ? 0 : (d == -1 ? (uint64_t)0 - (uint64_t)n : (uint64_t)(n / d));
    } else {
        int32_t n = (int32_t)X(in->rn), d = (int32_t)X(in->rm);
        X(in->rd) = d == 0 ? 0 : (uint32_t)(d == -1 ? 0u - (uint32_t)n : (uint32_t)(n / d));
    }
    return ARM_R_NEXT;
}

/* Shift by register: the amount is Rm modulo the data size (op = type). */
H(h_shiftv)
{
    if (in->sf) {
        X(in->rd) = shift64(X(in->rn), in->op, (unsigned)(X(in->rm) & 63));
    } else {
        X(in->rd) = shift32((uint32_t)X(in->rn), in->op, (unsigned)(X(in->rm) & 31));
    }
    return ARM_R_NEXT;
}

/* --- One-source: op 0 RBIT, 1 REV16, 2 REV32 (W: REV), 3 REV, 4 CLZ, 5 CLS --- */

static uint64_t rbit64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

H(h_dp1)
{
    uint64_t v = X(in->rn), r = 0;
    if (in->sf) {
        switch (in->op) {
        case 0: r = rbit64(v); break;
        case 1: r = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8); break;
        case 2: r = ((uint64_t)__builtin_bswap32((uint32_t)(v >> 32)) << 32) |
                    __builtin_bswap32((uint32_t)v); break;
        case 3: r = __builtin_bswap64(v); break;
        case 4: r = v ? (uint64_t)__builtin_clzll(v) : 64; break;
        default: {
            uint64_t t = v ^ (uint64_t)((int64_t)v >> 1);  /* CLS = CLZ(x ^ x>>1) - 1 */
            t <<= 1;
            t |= 1;
            r = (uint64_t)__builtin_clzll(t);
            break;
        }
        }
    } else {
        uint32_t w = (uint32_t)v, q = 0;
        switch (in->op) {
        case 0: q = (uint32_t)(rbit64(w) >> 32); break;
        case 1: q = ((w >> 8) & 0x00ff00ffu) | ((w & 0x00ff00ffu) << 8); break;
        case 2: q = __builtin_bswap32(w); break;
        case 4: q = w ? (uint32_t)__builtin_clz(w) : 32; break;
        default: {
            uint32_t t = w ^ (uint32_t)((int32_t)w >> 1);
            t = (t << 1) | 1;
            q = (uint32_t)__builtin_clz(t);
            break;
        }
        }
        r = q;
    }
    X(in->rd) = r;
    return ARM_R_NEXT;
}

/* --- Three-source multiply --- */

H(h_madd_x) { X(in->rd) = X(in->ra) + X(in->rn) * X(in->rm); return ARM_R_NEXT; }
H(h_madd_w) { X(in->rd) = (uint32_t)(X(in->ra) + X(in->rn) * X(in->rm)); return ARM_R_NEXT; }
H(h_msub_x) { X(in->rd) = X(in->ra) - X(in->rn) * X(in->rm); return ARM_R_NEXT; }
H(h_msub_w) { X(in->rd) = (uint32_t)(X(in->ra) - X(in->rn) * X(in->rm)); return ARM_R_NEXT; }

H(h_mull)  /* op: bit0 subtract, bit1 unsigned */
{
    uint64_t p;
    if (in->op & 2) {
        p = (uint64_t)(uint32_t)X(in->rn) * (uint32_t)X(in->rm);
    } else {
        p = (uint64_t)((int64_t)(int32_t)X(in->rn) * (int64_t)(int32_t)X(in->rm));
    }
    X(in->rd) = (in->op & 1) ? X(in->ra) - p : X(in->ra) + p;
    return ARM_R_NEXT;
}

H(h_smulh)
{
    __extension__ __int128 p = (__int128)(int64_t)X(in->rn) * (int64_t)X(in->rm);
    X(in->rd) = (uint64_t)(p >> 64);
    return ARM_R_NEXT;
}

H(h_umulh)
{
    __extension__ unsigned __int128 p = (unsigned __int128)X(in->rn) * X(in->rm);
    X(in->rd) = (uint64_t)(p >> 64);
    return ARM_R_NEXT;
}

/* ================================================================== */
/* Decoders                                                            */
/* ================================================================== */

static void fields(uint32_t raw, A64Insn *o)
{
    o->rd = (uint8_t)a64_bits(raw, 4, 0);
    o->rn = (uint8_t)a64_bits(raw, 9, 5);
    o->rm = (uint8_t)a64_bits(raw, 20, 16);
    o->sf = (uint8_t)a64_bits(raw, 31, 31);
}

/* C4.1.2: Data Processing -- Immediate. */
bool a64_dec_dp_imm(uint32_t raw, A64Insn *o)
{
    fields(raw, o);
    bool sf = o->sf;
    unsigned op0 = a64_bits(raw, 25, 23);
    switch (op0) {
    case 0: case 1: {  /* PC-rel. addressing (C6.2 ADR/ADRP): immhi:immlo */
        int64_t imm = a64_sbits(raw, 23, 5) * 4 + (int64_t)a64_bits(raw, 30, 29);
        if (raw >> 31) {
            o->imm = (int64_t)((uint64_t)imm << 12);
            o->fn = h_adrp;
        } else {
            o->imm = imm;
            o->fn = h_adr;
        }
        if (o->rd == 31) {
            o->fn = a64_h_nop;
        }
        return true;
    }
    case 2: {  /* Add/subtract (immediate): sf op S 100010 sh imm12 Rn Rd */
        if (a64_bits(raw, 23, 23)) {
            return false;  /* 100011: add/sub immediate with tags (v8.5) */
        }
        unsigned op = a64_bits(raw, 30, 30), s = a64_bits(raw, 29, 29);
        uint64_t imm = a64_bits(raw, 21, 10) << (a64_bits(raw, 22, 22) ? 12 : 0);
        o->op = (uint8_t)(op | (s << 1));
        o->imm = (int64_t)imm;
        if (!s && o->rd != 31 && o->rn != 31) {
            if (op) {
                o->imm = -(int64_t)imm;
            }
            o->fn = sf ? h_add_imm_x : h_add_imm_w;
        } else if (s && op && o->rd == 31 && o->rn != 31 && sf) {
            o->fn = h_cmp_imm_x;
        } else {
            o->fn = h_addsub_imm_gen;
        }
        return true;
    }
    case 4: {  /* Logical (immediate): sf opc 100100 N immr imms Rn Rd */
        unsigned opc = a64_bits(raw, 30, 29), n = a64_bits(raw, 22, 22);
        uint64_t wmask, tmask;
        if (!sf && n) {
            return false;
        }
        if (!a64_decode_bit_masks(n, a64_bits(raw, 15, 10), a64_bits(raw, 21, 16), true,
                                  sf ? 64 : 32, &wmask, &tmask)) {
            return false;
        }
        o->imm = (int64_t)wmask;
        o->op = (uint8_t)opc;
        if (opc == 3) {
            o->fn = h_ands_imm;
        } else if (o->rd == 31) {
            o->fn = h_log_imm_sp;
        } else if (opc == 0) {
            o->fn = h_and_imm;  /* imm < 2^32 for W: the AND truncates by itself */
        } else if (opc == 1) {
            o->fn = sf ? h_orr_imm : h_orr_imm_w;
        } else {
            o->fn = sf ? h_eor_imm : h_eor_imm_w;
        }
        return true;
    }
    case 5: {  /* Move wide (immediate): sf opc 100101 hw imm16 Rd */
        unsigned opc = a64_bits(raw, 30, 29), hw = a64_bits(raw, 22, 21);
        if (opc == 1 || (!sf && hw >= 2)) {
            return false;
        }
        uint64_t v = (uint64_t)a64_bits(raw, 20, 5) << (16 * hw);
        uint64_t width = sf ? ~0ull : 0xffffffffull;
        if (opc == 3) {  /* MOVK */
            o->imm = (int64_t)v;
            o->imm2 = ~(0xffffull << (16 * hw)) & width;
            o->fn = h_movk;
        } else {
            o->imm = (int64_t)((opc == 0 ? ~v : v) & width);  /* MOVN : MOVZ */
            o->fn = h_movi;
        }
        if (o->rd == 31) {
            o->fn = a64_h_nop;
        }
        return true;
    }
    case 6: {  /* Bitfield: sf opc 100110 N immr imms Rn Rd */
        unsigned opc = a64_bits(raw, 30, 29), n = a64_bits(raw, 22, 22);
        unsigned immr = a64_bits(raw, 21, 16), imms = a64_bits(raw, 15, 10);
        uint64_t wmask, tmask;
        if (opc == 3 || n != sf || (!sf && ((immr | imms) & 0x20))) {
            return false;
        }
        if (!a64_decode_bit_masks(n, imms, immr, false, sf ? 64 : 32, &wmask, &tmask)) {
            return false;
        }
        o->shift = (uint8_t)immr;
        o->op = (uint8_t)imms;
        o->imm = (int64_t)wmask;
        o->imm2 = tmask;
        if (opc == 0) {
            o->fn = sf ? h_sbfm_x : h_sbfm_w;
        } else if (opc == 1) {
            o->fn = sf ? h_bfm_x : h_bfm_w;
        } else {
            o->imm = (int64_t)(wmask & tmask);
            o->fn = sf ? h_ubfm_x : h_ubfm_w;
            if (sf && imms != 63 && imms + 1 == immr) {
                o->shift = (uint8_t)(63 - imms);  /* LSL #(63 - imms) */
                o->fn = h_lsl_imm_x;
            } else if (sf && imms == 63) {
                o->fn = h_lsr_imm_x;  /* LSR #immr */
            }
        }
        if (o->rd == 31) {
            o->fn = a64_h_nop;
        }
        return true;
    }
    case 7: {  /* Extract: sf op21 100111 N o0 Rm imms Rn Rd */
        unsigned op21 = a64_bits(raw, 30, 29), n = a64_bits(raw, 22, 22);
        unsigned o0 = a64_bits(raw, 21, 21), imms = a64_bits(raw, 15, 10);
        if (op21 || o0 || n != sf || (!sf && (imms & 0x20))) {
            return false;
        }
        o->shift = (uint8_t)imms;
        o->fn = o->rd == 31 ? a64_h_nop : sf ? h_extr_x : h_extr_w;
        return true;
    }
    default:
        return false;
    }
}

#define PICK(name, shifted) \
    (o->sf ? ((shifted) ? h_##name##_xs : h_##name##_x) : ((shifted) ? h_##name##_ws : h_##name##_w))

/* C4.1.6: Data Processing -- Register. */
bool a64_dec_dp_reg(uint32_t raw, A64Insn *o)
{
    fields(raw, o);
    unsigned op0 = a64_bits(raw, 30, 30), op1 = a64_bits(raw, 28, 28);
    unsigned op2 = a64_bits(raw, 24, 21);
    if (a64_bits(raw, 27, 25) != 5) {
        return false;
    }
    if (!op1) {
        unsigned imm6 = a64_bits(raw, 15, 10), type = a64_bits(raw, 23, 22);
        if (!(op2 & 8)) {
            /* Logical (shifted register): sf opc 01010 shift N Rm imm6 Rn Rd */
            if (!o->sf && (imm6 & 0x20)) {
                return false;
            }
            unsigned opc = a64_bits(raw, 30, 29), n = a64_bits(raw, 21, 21);
            bool shifted = imm6 != 0;
            o->op = (uint8_t)type;
            o->shift = (uint8_t)imm6;
            switch ((opc << 1) | n) {
            case 0: o->fn = PICK(and, shifted); break;
            case 1: o->fn = PICK(bic, shifted); break;
            case 2: o->fn = PICK(orr, shifted); break;
            case 3: o->fn = PICK(orn, shifted); break;
            case 4: o->fn = PICK(eor, shifted); break;
            case 5: o->fn = PICK(eon, shifted); break;
            case 6: o->fn = o->sf ? h_ands_x : h_ands_w; return true;
            default: o->fn = o->sf ? h_bics_x : h_bics_w; return true;
            }
            if (o->rd == 31) {
                o->fn = a64_h_nop;
            }
            return true;
        }
        unsigned op = a64_bits(raw, 30, 30), s = a64_bits(raw, 29, 29);
        if (!(op2 & 1)) {
            /* Add/subtract (shifted register): sf op S 01011 shift 0 Rm imm6 Rn Rd */
            if (type == 3 || (!o->sf && (imm6 & 0x20))) {
                return false;
            }
            bool shifted = imm6 != 0;
            o->op = (uint8_t)type;
            o->shift = (uint8_t)imm6;
            if (s) {
                if (op && o->rd == 31 && !shifted) {
                    o->fn = o->sf ? h_cmp_x : h_cmp_w;
                } else if (op) {
                    o->fn = o->sf ? h_subs_x : h_subs_w;
                } else {
                    o->fn = o->sf ? h_adds_x : h_adds_w;
                }
                return true;
            }
            o->fn = op ? PICK(sub, shifted) : PICK(add, shifted);
            if (o->rd == 31) {
                o->fn = a64_h_nop;
            }
            return true;
        }
        /* Add/subtract (extended register): sf op S 01011 opt 1 Rm option imm3 Rn Rd */
        unsigned imm3 = a64_bits(raw, 12, 10);
        if (type != 0 || imm3 > 4) {
            return false;
        }
        o->op = (uint8_t)(op | (s << 1));
        o->ra = (uint8_t)a64_bits(raw, 15, 13);  /* option */
        o->shift = (uint8_t)imm3;
        o->fn = h_addsub_ext;
        return true;
    }
    /* op1 = 1 */
    if (op2 == 0) {
        /* Add/subtract with carry: sf op S 11010000 Rm 000000 Rn Rd */
        if (a64_bits(raw, 15, 10) != 0) {
            return false;
        }
        o->op = (uint8_t)(a64_bits(raw, 30, 30) | (a64_bits(raw, 29, 29) << 1));
        o->fn = h_adcsbc;
        return true;
    }
    if (op2 == 2) {
        /* Conditional compare: sf op S 11010010 Rm|imm5 cond imm o2 Rn o3 nzcv */
        if (!a64_bits(raw, 29, 29) || a64_bits(raw, 10, 10) || a64_bits(raw, 4, 4)) {
            return false;
        }
        bool imm = a64_bits(raw, 11, 11);
        o->op = (uint8_t)(a64_bits(raw, 30, 30) | (imm ? 2 : 0));
        o->imm = a64_bits(raw, 20, 16);
        o->imm2 = (uint64_t)a64_bits(raw, 3, 0) << 28;
        o->cond = (uint8_t)a64_bits(raw, 15, 12);
        o->cmask = a64_cond_mask(o->cond);
        o->fn = h_ccmp;
        return true;
    }
    if (op2 == 4) {
        /* Conditional select: sf op S 11010100 Rm cond op2 Rn Rd */
        unsigned o2 = a64_bits(raw, 11, 10);
        if (a64_bits(raw, 29, 29) || (o2 & 2)) {
            return false;
        }
        o->op = (uint8_t)((a64_bits(raw, 30, 30) << 1) | o2);
        o->cond = (uint8_t)a64_bits(raw, 15, 12);
        o->cmask = a64_cond_mask(o->cond);
        o->fn = (o->op == 0 && o->sf) ? h_csel_x : h_csel_gen;
        if (o->rd == 31) {
            o->fn = a64_h_nop;
        }
        return true;
    }
    if (op2 == 6) {
        unsigned opcode = a64_bits(raw, 15, 10);
        if (a64_bits(raw, 29, 29)) {
            return false;
        }
        if (op0 == 0) {
            /* Data-processing (2 source): sf 0 S 11010110 Rm opcode Rn Rd */
            switch (opcode) {
            case 2: o->fn = h_udiv; break;
            case 3: o->fn = h_sdiv; break;
            case 8: case 9: case 10: case 11:
                o->op = (uint8_t)(opcode - 8);
                o->fn = h_shiftv;
                break;
            default:
                return false;  /* CRC32*, PAC, ...: not modelled */
            }
        } else {
            /* Data-processing (1 source): sf 1 S 11010110 opcode2 opcode Rn Rd */
            if (a64_bits(raw, 20, 16) != 0 || opcode > 5) {
                return false;
            }
            if (!o->sf && opcode == 3) {
                return false;
            }
            o->op = (uint8_t)opcode;
            o->fn = h_dp1;
        }
        if (o->rd == 31) {
            o->fn = a64_h_nop;
        }
        return true;
    }
    if (op2 & 8) {
        /* Data-processing (3 source): sf op54 11011 op31 Rm o0 Ra Rn Rd */
        unsigned op54 = a64_bits(raw, 30, 29), op31 = a64_bits(raw, 23, 21);
        unsigned o0 = a64_bits(raw, 15, 15);
        o->ra = (uint8_t)a64_bits(raw, 14, 10);
        if (op54) {
            return false;
        }
        if (op31 == 0) {
            o->fn = o0 ? (o->sf ? h_msub_x : h_msub_w) : (o->sf ? h_madd_x : h_madd_w);
        } else if (!o->sf) {
            return false;
        } else if (op31 == 1 || op31 == 5) {
            o->op = (uint8_t)(o0 | (op31 == 5 ? 2 : 0));
            o->fn = h_mull;
        } else if ((op31 == 2 || op31 == 6) && !o0) {
            o->fn = op31 == 2 ? h_smulh : h_umulh;
        } else {
            return false;
        }
        if (o->rd == 31) {
            o->fn = a64_h_nop;
        }
        return true;
    }
    return false;
}
