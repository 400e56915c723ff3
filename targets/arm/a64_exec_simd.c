/*
 * The SIMD&FP subset compilers emit for memcpy/memset and register moves
 * (ARM ARM C4.1.5 "Data Processing -- Scalar Floating-Point and Advanced
 * SIMD", C4.1.4 "Advanced SIMD load/store multiple structures"; C7.2):
 * FMOV between general and SIMD&FP registers, FMOV (register), FMOV and
 * MOVI/MVNI/ORR/BIC (immediate), DUP (general, element), INS, UMOV, SMOV,
 * the bitwise three-same ops (AND BIC ORR ORN EOR BSL BIT BIF), and
 * LD1/ST1 (multiple structures, 1 to 4 registers). Scalar and vector
 * loads/stores of single registers and pairs are in a64_exec_ldst.c with
 * the other addressing forms.
 *
 * Registers are 128-bit, little-endian lanes (cpu->v[n].d[0] holds bytes
 * 0..7). A write of a 64-bit vector or a scalar clears the upper part
 * (C7.2: "the remaining bits are set to zero"). Every handler first checks
 * CPACR_EL1.FPEN (arm_fp_enabled, which takes the EC 0x07 trap).
 */
#include <string.h>

#include "targets/arm/a64_decode.h"

#define X(r) (cpu->x[(r)])
#define H(name) static ArmResult name(ArmCpu *cpu, const A64Insn *in)
#define FP_CHECK()                      \
    do {                                \
        if (!arm_fp_enabled(cpu)) {     \
            return ARM_R_EXC;           \
        }                               \
    } while (0)

static inline uint8_t *vbytes(ArmCpu *cpu, unsigned r)
{
    return (uint8_t *)cpu->v[r].d;
}

static inline uint64_t esize_mask(unsigned esize)
{
    return esize >= 8 ? ~0ull : (1ull << (8 * esize)) - 1;
}

/* --- Moves between general and SIMD&FP registers --- */

/* FMOV Wd, Sn / Xd, Dn (op 0) and Xd, Vn.D[1] (op 1); imm2 = mask. */
H(h_fmov_to_gp)
{
    FP_CHECK();
    uint64_t v = in->op ? cpu->v[in->rn].d[1] : cpu->v[in->rn].d[0];
    a64_set_x(cpu, in->rd, v & in->imm2);
    return ARM_R_NEXT;
}

/* FMOV Sd, Wn / Dd, Xn (op 0): the rest cleared; Vd.D[1], Xn (op 1): D[0] kept. */
H(h_fmov_from_gp)
{
    FP_CHECK();
    uint64_t v = X(in->rn) & in->imm2;
    if (in->op) {
        cpu->v[in->rd].d[1] = v;
    } else {
        cpu->v[in->rd].d[0] = v;
        cpu->v[in->rd].d[1] = 0;
    }
    return ARM_R_NEXT;
}

/* FMOV Sd, Sn / Dd, Dn. */
H(h_fmov_reg)
{
    FP_CHECK();
    uint64_t v = cpu->v[in->rn].d[0] & in->imm2;
    cpu->v[in->rd].d[0] = v;
    cpu->v[in->rd].d[1] = 0;
    return ARM_R_NEXT;
}

/* Constant into the vector: imm = low 64 bits, imm2 = high (FMOV imm, MOVI, MVNI). */
H(h_vconst)
{
    FP_CHECK();
    cpu->v[in->rd].d[0] = (uint64_t)in->imm;
    cpu->v[in->rd].d[1] = in->imm2;
    return ARM_R_NEXT;
}

/* ORR / BIC (vector, immediate): op 0 ORR, 1 BIC; size = 16 for Q. */
H(h_vorr_imm)
{
    FP_CHECK();
    uint64_t m = (uint64_t)in->imm;
    for (int i = 0; i < 2; i++) {
        cpu->v[in->rd].d[i] = in->op ? cpu->v[in->rd].d[i] & ~m : cpu->v[in->rd].d[i] | m;
    }
    if (in->size != 16) {
        cpu->v[in->rd].d[1] = 0;
    }
    return ARM_R_NEXT;
}

/* DUP Vd.T, Rn: replicate the low esize bytes (in->shift) of Rn. */
static uint64_t replicate64(uint64_t v, unsigned esize)
{
    v &= esize_mask(esize);
    for (unsigned w = esize * 8; w < 64; w *= 2) {
        v |= v << w;
    }
    return v;
}

H(h_dup_gp)
{
    FP_CHECK();
    uint64_t r = replicate64(X(in->rn), in->shift);
    cpu->v[in->rd].d[0] = r;
    cpu->v[in->rd].d[1] = in->size == 16 ? r : 0;
    return ARM_R_NEXT;
}

/* DUP Vd.T, Vn.Ts[index]: esize = shift, index = ra. */
H(h_dup_elem)
{
    FP_CHECK();
    uint64_t e = 0;
    memcpy(&e, vbytes(cpu, in->rn) + in->ra * in->shift, in->shift);
    uint64_t r = replicate64(e, in->shift);
    cpu->v[in->rd].d[0] = r;
    cpu->v[in->rd].d[1] = in->size == 16 ? r : 0;
    return ARM_R_NEXT;
}

/* INS Vd.Ts[index], Rn (op 0) or Vd.Ts[index], Vn.Ts[index2 = rm] (op 1). */
H(h_ins)
{
    FP_CHECK();
    uint64_t e = in->op ? 0 : X(in->rn);
    if (in->op) {
        memcpy(&e, vbytes(cpu, in->rn) + in->rm * in->shift, in->shift);
    }
    memcpy(vbytes(cpu, in->rd) + in->ra * in->shift, &e, in->shift);
    return ARM_R_NEXT;
}

/* UMOV (op 0) / SMOV (op 1) Rd, Vn.Ts[index]; sf: 64-bit destination. */
H(h_umov)
{
    FP_CHECK();
    uint64_t e = 0;
    memcpy(&e, vbytes(cpu, in->rn) + in->ra * in->shift, in->shift);
    if (in->op) {
        unsigned sh = 64 - 8 * in->shift;
        e = (uint64_t)((int64_t)(e << sh) >> sh);
        if (!in->sf) {
            e = (uint32_t)e;
        }
    }
    a64_set_x(cpu, in->rd, e);
    return ARM_R_NEXT;
}

/* Three-same bitwise: op = opc2:U (AND BIC ORR ORN EOR BSL BIT BIF). */
H(h_vlogic)
{
    FP_CHECK();
    uint64_t r[2];
    for (int i = 0; i < 2; i++) {
        uint64_t d = cpu->v[in->rd].d[i], n = cpu->v[in->rn].d[i], m = cpu->v[in->rm].d[i];
        switch (in->op) {
        case 0: r[i] = n & m; break;
        case 1: r[i] = n & ~m; break;
        case 2: r[i] = n | m; break;
        case 3: r[i] = n | ~m; break;
        case 4: r[i] = n ^ m; break;
        case 5: r[i] = (d & n) | (~d & m); break;   /* BSL */
        case 6: r[i] = (d & ~m) | (n & m); break;   /* BIT */
        default: r[i] = (d & m) | (n & ~m); break;  /* BIF */
        }
    }
    cpu->v[in->rd].d[0] = r[0];
    cpu->v[in->rd].d[1] = in->size == 16 ? r[1] : 0;
    return ARM_R_NEXT;
}

/* --- LD1/ST1 (multiple structures): in->ra registers of in->size bytes
 * from Vt (wrapping at 31), element size in->shift, op bit 0 = load, bit 1
 * = post-index (imm: immediate amount, rm != 31: by register) --- */

H(h_ld1st1)
{
    FP_CHECK();
    uint64_t base;
    if (in->flags & A64_F_SP_BASE) {
        base = *a64_sp_ptr(cpu);
        uint64_t chk = cpu->el ? A64_SCTLR_SA : A64_SCTLR_SA0;
        if ((base & 15) && (cpu->sctlr_el1 & chk)) {
            arm_raise_sync(cpu, ARM_EC_SP_ALIGN, 0);
            return ARM_R_EXC;
        }
    } else {
        base = X(in->rn);
    }
    uint64_t va = arm_data_va(cpu, base);
    unsigned idx = cpu->mmu_idx, nregs = in->ra, rbytes = in->size;
    bool load = in->op & 1;
    if ((cpu->sctlr_el1 & A64_SCTLR_A) && (va & (in->shift - 1))) {
        /* Alignment is to the element size (B2.5.2): check it here, as the
         * 8-byte pieces below may be less aligned than that and still fine. */
        TlbFault f = { .kind = TLB_FAULT_ALIGNMENT, .vaddr = va,
                       .access = load ? TLB_READ : TLB_WRITE, .mmu_idx = idx, .size = in->shift };
        arm_tlb_ops.raise_fault(cpu, &f);
        return ARM_R_EXC;
    }
    uint64_t buf[8] = { 0 };
    unsigned pieces = nregs * rbytes / 8;
    ArmResult r = ARM_R_NEXT;
    if (load) {
        for (unsigned i = 0; i < pieces; i++) {
            if (!tlb_load(cpu->tlb, va + 8 * i, 8, idx, 0, &buf[i])) {
                return ARM_R_EXC;
            }
        }
        for (unsigned k = 0; k < nregs; k++) {
            unsigned t = (in->rd + k) & 31;
            if (rbytes == 16) {
                cpu->v[t].d[0] = buf[2 * k];
                cpu->v[t].d[1] = buf[2 * k + 1];
            } else {
                cpu->v[t].d[0] = buf[k];
                cpu->v[t].d[1] = 0;
            }
        }
    } else {
        for (unsigned k = 0; k < nregs; k++) {
            unsigned t = (in->rd + k) & 31;
            if (rbytes == 16) {
                buf[2 * k] = cpu->v[t].d[0];
                buf[2 * k + 1] = cpu->v[t].d[1];
            } else {
                buf[k] = cpu->v[t].d[0];
            }
        }
        for (unsigned i = 0; i < pieces; i++) {
            if (!tlb_store(cpu->tlb, va + 8 * i, 8, idx, 0, buf[i])) {
                return ARM_R_EXC;
            }
        }
        if (cpu->code_written | cpu->exit_request) {
            r = ARM_R_STOP;
        }
    }
    if (in->op & 2) {
        uint64_t nb = base + (in->rm == 31 ? (uint64_t)in->imm : X(in->rm));
        if (in->flags & A64_F_SP_BASE) {
            *a64_sp_ptr(cpu) = nb;
        } else {
            X(in->rn) = nb;
        }
    }
    return r;
}

/* ================================================================== */

/* VFPExpandImm (ARM ARM J1, shared/functions/float): 32- or 64-bit. */
static uint64_t vfp_expand_imm(unsigned imm8, bool dbl)
{
    uint64_t sign = imm8 >> 7, b6 = (imm8 >> 6) & 1, low = imm8 & 0x3f;
    if (dbl) {
        /* exponent: NOT(b6) : Replicate(b6, 8) : imm8<5:4>; fraction: imm8<3:0> : Zeros(48) */
        uint64_t exp = ((b6 ^ 1) << 10) | ((b6 ? 0xffull : 0) << 2) | (low >> 4);
        return (sign << 63) | (exp << 52) | ((low & 0xf) << 48);
    }
    uint64_t exp = ((b6 ^ 1) << 7) | ((b6 ? 0x1full : 0) << 2) | (low >> 4);
    return (sign << 31) | (exp << 23) | ((low & 0xf) << 19);
}

/* AdvSIMDExpandImm (ARM ARM J1, shared/functions/vector). */
static uint64_t simd_expand_imm(unsigned op, unsigned cmode, unsigned imm8)
{
    uint64_t i = imm8;
    switch (cmode >> 1) {
    case 0: return replicate64(i, 4);
    case 1: return replicate64(i << 8, 4);
    case 2: return replicate64(i << 16, 4);
    case 3: return replicate64(i << 24, 4);
    case 4: return replicate64(i, 2);
    case 5: return replicate64(i << 8, 2);
    case 6:
        return (cmode & 1) ? replicate64((i << 16) | 0xffff, 4) : replicate64((i << 8) | 0xff, 4);
    default:
        if (!(cmode & 1) && !op) {
            return replicate64(i, 1);
        }
        if (!(cmode & 1) && op) {
            uint64_t r = 0;
            for (int b = 0; b < 8; b++) {
                if (imm8 & (1u << b)) {
                    r |= 0xffull << (8 * b);
                }
            }
            return r;
        }
        if (!op) {
            return replicate64(vfp_expand_imm(imm8, false), 4);
        }
        return vfp_expand_imm(imm8, true);
    }
}

bool a64_dec_simd_dp(uint32_t raw, A64Insn *o)
{
    o->rd = (uint8_t)a64_bits(raw, 4, 0);
    o->rn = (uint8_t)a64_bits(raw, 9, 5);
    o->rm = (uint8_t)a64_bits(raw, 20, 16);
    bool q = a64_bits(raw, 30, 30);
    o->size = q ? 16 : 8;
    if ((raw & 0x7f20fc00u) == 0x1e200000u) {
        /* Conversion between FP and integer: sf 0 0 11110 type 1 rmode opcode 000000 */
        unsigned sf = raw >> 31, type = a64_bits(raw, 23, 22);
        unsigned rmode = a64_bits(raw, 20, 19), opcode = a64_bits(raw, 18, 16);
        if (opcode != 6 && opcode != 7) {
            return false;  /* SCVTF, FCVT*: FP arithmetic is not modelled */
        }
        if (sf == 0 && type == 0 && rmode == 0) {
            o->imm2 = 0xffffffffull;
        } else if (sf == 1 && type == 1 && rmode == 0) {
            o->imm2 = ~0ull;
        } else if (sf == 1 && type == 2 && rmode == 1) {
            o->imm2 = ~0ull;
            o->op = 1;     /* top half: Vn.D[1] */
        } else {
            return false;
        }
        o->fn = opcode == 6 ? h_fmov_to_gp : h_fmov_from_gp;
        return true;
    }
    if ((raw & 0xff3ffc00u) == 0x1e204000u) {
        /* FMOV (register): 000 11110 type 1 000000 10000 Rn Rd */
        unsigned type = a64_bits(raw, 23, 22);
        if (type > 1) {
            return false;
        }
        o->imm2 = type ? ~0ull : 0xffffffffull;
        o->fn = h_fmov_reg;
        return true;
    }
    if ((raw & 0xff201fe0u) == 0x1e201000u) {
        /* FMOV (scalar, immediate): 000 11110 type 1 imm8 100 00000 Rd */
        unsigned type = a64_bits(raw, 23, 22);
        if (type > 1) {
            return false;
        }
        o->imm = (int64_t)vfp_expand_imm(a64_bits(raw, 20, 13), type == 1);
        o->imm2 = 0;
        o->fn = h_vconst;
        return true;
    }
    if ((raw & 0x9ff80400u) == 0x0f000400u) {
        /* Modified immediate: 0 Q op 0111100000 abc cmode o2 1 defgh Rd */
        unsigned op = a64_bits(raw, 29, 29), cmode = a64_bits(raw, 15, 12);
        unsigned o2 = a64_bits(raw, 11, 11);
        unsigned imm8 = (a64_bits(raw, 18, 16) << 5) | a64_bits(raw, 9, 5);
        if (o2) {
            return false;
        }
        if (cmode == 15 && op && !q) {
            return false;
        }
        uint64_t imm = simd_expand_imm(op, cmode, imm8);
        bool orrbic = (cmode < 12 && (cmode & 1));
        if (orrbic) {
            o->imm = (int64_t)imm;
            o->op = (uint8_t)op;   /* ORR : BIC */
            o->fn = h_vorr_imm;
            return true;
        }
        bool mvni = op && cmode < 14;
        if (mvni) {
            imm = ~imm;
        }
        o->imm = (int64_t)imm;
        o->imm2 = q ? imm : 0;
        o->fn = h_vconst;
        return true;
    }
    if ((raw & 0x9fe08400u) == 0x0e000400u) {
        /* Copy: 0 Q op 01110000 imm5 0 imm4 1 Rn Rd */
        unsigned op = a64_bits(raw, 29, 29), imm5 = a64_bits(raw, 20, 16);
        unsigned imm4 = a64_bits(raw, 14, 11);
        if ((imm5 & 0xf) == 0) {
            return false;
        }
        unsigned lg = (unsigned)__builtin_ctz(imm5);
        o->shift = (uint8_t)(1u << lg);           /* element bytes */
        o->ra = (uint8_t)(imm5 >> (lg + 1));      /* index */
        if (op) {
            if (!q) {
                return false;
            }
            o->op = 1;                            /* INS (element) */
            o->rm = (uint8_t)(imm4 >> lg);
            o->fn = h_ins;
            return true;
        }
        switch (imm4) {
        case 0:                                   /* DUP (element) */
            if (lg == 3 && !q) {
                return false;
            }
            o->fn = h_dup_elem;
            return true;
        case 1:                                   /* DUP (general) */
            if (lg == 3 && !q) {
                return false;
            }
            o->fn = h_dup_gp;
            return true;
        case 3:                                   /* INS (general) */
            if (!q) {
                return false;
            }
            o->fn = h_ins;
            return true;
        case 5:                                   /* SMOV */
            if (lg >= (q ? 3u : 2u)) {
                return false;
            }
            o->op = 1;
            o->sf = q;
            o->fn = h_umov;
            return true;
        case 7:                                   /* UMOV */
            if ((lg == 3) != q) {
                return false;
            }
            o->sf = q;
            o->fn = h_umov;
            return true;
        default:
            return false;
        }
    }
    if ((raw & 0x9f20fc00u) == 0x0e201c00u) {
        /* Three same, bitwise: 0 Q U 01110 size 1 Rm 00011 1 Rn Rd */
        o->op = (uint8_t)((a64_bits(raw, 29, 29) << 2) | a64_bits(raw, 23, 22));
        o->fn = h_vlogic;
        return true;
    }
    return false;
}

bool a64_dec_simd_ldst(uint32_t raw, A64Insn *o)
{
    /* 0 Q 0011000 L 000000 opcode size Rn Rt / 0 Q 0011001 L 0 Rm opcode size Rn Rt */
    bool q = a64_bits(raw, 30, 30), post = a64_bits(raw, 23, 23), l = a64_bits(raw, 22, 22);
    unsigned opcode = a64_bits(raw, 15, 12), size = a64_bits(raw, 11, 10);
    o->rd = (uint8_t)a64_bits(raw, 4, 0);
    o->rn = (uint8_t)a64_bits(raw, 9, 5);
    o->rm = (uint8_t)a64_bits(raw, 20, 16);
    if (a64_bits(raw, 24, 24) || a64_bits(raw, 21, 21) || (!post && o->rm != 0)) {
        return false;  /* single-structure forms: not modelled */
    }
    unsigned n;
    switch (opcode) {
    case 7: n = 1; break;
    case 10: n = 2; break;
    case 6: n = 3; break;
    case 2: n = 4; break;
    default: return false;  /* LD2/LD3/LD4 (interleaving): not modelled */
    }
    o->ra = (uint8_t)n;
    o->size = q ? 16 : 8;
    o->shift = (uint8_t)(1u << size);
    o->op = (uint8_t)((l ? 1 : 0) | (post ? 2 : 0));
    o->imm = (int64_t)(n * o->size);
    if (o->rn == 31) {
        o->flags |= A64_F_SP_BASE;
    }
    o->fn = h_ld1st1;
    return true;
}
