/*
 * The compact decoded form of an A64 instruction (A64Insn) and the decoder
 * that produces it. Private to targets/arm.
 *
 * Every instruction is decoded once, when its block is built: capstone 4
 * validates it and its instruction id selects the handler group; the
 * group's decoder then takes the operand fields from the encoding bits
 * (capstone's operand detail hides the encoding behind aliases such as
 * mov/cmp/lsl/ubfx/cset, and is ambiguous about pre/post-indexing) and
 * picks a handler specialised for the form, with everything it needs
 * pre-extracted: a handler never looks at the encoding again.
 *
 * Register numbers: 31 means XZR/WZR unless the form's handler is an SP
 * form (the decoder chooses SP handlers explicitly, ARM ARM C1.2.5), so a
 * handler reads cpu->x[n] and gets 0 for the zero register. Handlers never
 * write x[31]: the decoder gives writes to the zero register their own
 * handler (no-op, flags-only) or the handler checks.
 */
#ifndef MMUSIM_TARGETS_ARM_A64_DECODE_H
#define MMUSIM_TARGETS_ARM_A64_DECODE_H

#include "targets/arm/arm_internal.h"

typedef struct A64Insn A64Insn;
typedef ArmResult (*A64Handler)(ArmCpu *cpu, const A64Insn *in);

/* A64Insn.flags */
enum {
    A64_F_ENDS_BLOCK = 1,   /* control transfer / system instruction: last of a block */
    A64_F_SP_BASE = 2,      /* load/store base register is SP (alignment check) */
    A64_F_ACQREL = 4,       /* acquire/release/exclusive: alignment always checked */
    A64_F_UNPRIV = 8,       /* LDTR/STTR: unprivileged (EL0) access */
};

struct A64Insn {
    A64Handler fn;
    int64_t imm;       /* immediate / offset / PC-relative offset from this insn */
    uint64_t imm2;     /* second immediate (bitfield tmask, ...) */
    uint32_t raw;      /* the encoding (traces, unimplemented reports) */
    uint16_t id;       /* capstone instruction id, 0 when decoded here */
    uint8_t rd, rn, rm, ra;  /* ra: Ra (3-source), Rt2 (pairs), Rs (exclusives/atomics) */
    uint8_t sf;        /* 1: 64-bit operation */
    uint8_t shift;     /* shift amount / scale / bitfield R */
    uint8_t op;        /* shift type, extend type, sub-operation */
    uint8_t size;      /* access size in bytes (loads/stores), element size (SIMD) */
    uint8_t flags;     /* A64_F_* */
    uint8_t cond;      /* condition code (for traces) */
    uint16_t cmask;    /* condition truth table: bit (NZCV >> 28) set = condition holds */
};

/* Decode one instruction. Always fills *out with a runnable handler: an
 * UNDEFINED or unimplemented encoding gets a handler that raises EC 0. */
void a64_decode(uint32_t raw, A64Insn *out);
/* Capstone's text for traces. */
void a64_disasm(uint32_t raw, uint64_t pc, char *buf, size_t bufsize);

/* --- For the group decoders (a64_exec_*.c) --- */

static inline uint32_t a64_bits(uint32_t raw, unsigned hi, unsigned lo)
{
    return (raw >> lo) & ((2u << (hi - lo)) - 1);
}
static inline int64_t a64_sbits(uint32_t raw, unsigned hi, unsigned lo)
{
    unsigned w = hi - lo + 1;
    int64_t v = (int64_t)a64_bits(raw, hi, lo);
    return (v ^ (1ll << (w - 1))) - (1ll << (w - 1));
}

/* Condition truth table (ARM ARM C1.2.4, ConditionHolds()). */
uint16_t a64_cond_mask(unsigned cond);
static inline bool a64_cond_holds(const ArmCpu *cpu, uint16_t cmask)
{
    return (cmask >> (cpu->nzcv >> 28)) & 1;
}

/* DecodeBitMasks() (ARM ARM J1.1.3 shared pseudocode). False: reserved. */
bool a64_decode_bit_masks(unsigned n, unsigned imms, unsigned immr, bool immediate,
                          unsigned datasize, uint64_t *wmask, uint64_t *tmask);

/* Handlers every group may pick. */
ArmResult a64_h_undef(ArmCpu *cpu, const A64Insn *in);
ArmResult a64_h_unimpl(ArmCpu *cpu, const A64Insn *in);
ArmResult a64_h_nop(ArmCpu *cpu, const A64Insn *in);

/* Group decoders: true when `out->fn` was set; false: UNDEFINED (or, for
 * an instruction capstone accepted, unimplemented). */
bool a64_dec_dp_imm(uint32_t raw, A64Insn *out);    /* a64_exec_dp.c */
bool a64_dec_dp_reg(uint32_t raw, A64Insn *out);    /* a64_exec_dp.c */
bool a64_dec_ldst(uint32_t raw, A64Insn *out);      /* a64_exec_ldst.c */
bool a64_dec_lse(uint32_t raw, A64Insn *out);       /* a64_exec_ldst.c: what capstone 4 lacks */
bool a64_dec_branch_sys(uint32_t raw, A64Insn *out); /* a64_exec_branch.c */
bool a64_dec_simd_dp(uint32_t raw, A64Insn *out);   /* a64_exec_simd.c */
bool a64_dec_simd_ldst(uint32_t raw, A64Insn *out); /* a64_exec_simd.c */

/* --- Shared by handlers --- */

/* SP of the current EL and selection (ARM ARM D1.6.2). */
static inline uint64_t *a64_sp_ptr(ArmCpu *cpu)
{
    return &cpu->sp_el[(cpu->el != 0) & cpu->sp_sel];
}
/* Write a general register, discarding writes to the zero register. */
static inline void a64_set_x(ArmCpu *cpu, unsigned r, uint64_t v)
{
    if (__builtin_expect(r != 31, 1)) {
        cpu->x[r] = v;
    }
}

#define A64_SCTLR_A   (1ull << 1)
#define A64_SCTLR_SA  (1ull << 3)
#define A64_SCTLR_SA0 (1ull << 4)
#define A64_SCTLR_nTWI (1ull << 16)
#define A64_SCTLR_nTWE (1ull << 18)

#endif
