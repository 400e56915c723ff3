/*
 * Differential test of the x86 CPU (targets/x86) against Unicorn 2.0.1.
 *
 * Random instruction sequences, assembled here from a table of templates
 * (hand-written legacy-prefix/REX/ModRM/SIB encodings), run on both from the
 * same initial state: random registers and arithmetic flags, a two-page data
 * area of random bytes, a stack page of random bytes, FS/GS bases (64-bit
 * mode), in flat 32-bit protected mode and separately in 64-bit mode. After
 * each sequence every GPR, RIP, the defined arithmetic flags, the data area
 * and the stack page are compared.
 *
 * Templates: MOV MOVZX MOVSX MOVSXD LEA, ADD OR ADC SBB AND SUB XOR CMP TEST
 * INC DEC NEG NOT, ROL ROR RCL RCR SHL SHR SAR by 1/imm8/CL, SHLD SHRD,
 * MUL IMUL (1, 2, 3 operands), DIV IDIV, BT BTS BTR BTC, BSF BSR, SETcc,
 * CMOVcc, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, BSWAP, CBW..CQO, PUSH POP,
 * Jcc/JMP forward over a few instructions, MOVS STOS LODS CMPS SCAS with or
 * without REP/REPE/REPNE in both directions, STC CLC CMC SAHF LAHF PUSHF,
 * XLAT; operand sizes 8/16/32/64; AH..BH and SPL..DIL; redundant REX;
 * LOCK on memory read-modify-writes; every addressing form ([disp32],
 * base+disp0/8/32, SIB with and without base, base == index, negative
 * index, RIP-relative, 67h in LEA and string instructions), segment
 * overrides, and accesses that straddle the page boundary in the data area.
 *
 * Sequences are made of units: one instruction under test plus the setup it
 * needs (base/index registers loaded so a memory operand lands in the data
 * area, CL loaded for a shift, a dividend that cannot raise #DE, ...). A
 * unit is self-contained, so a failing sequence is shrunk by dropping whole
 * units while the same thing still differs.
 *
 * Undefined flags (SDM Vol. 2): the generator tracks which of CF PF AF ZF SF
 * OF are architecturally undefined after each instruction (AF after logic
 * ops and shifts, CF after SHL/SHR by the width or more, OF after shifts and
 * rotates by more than 1, SF ZF AF PF after MUL/IMUL, all six after
 * DIV/IDIV, all but CF after BT*, all but ZF after BSF/BSR, ...). They are
 * not compared, and before an instruction reads one (ADC SBB RCL RCR CMC
 * LAHF PUSHF SETcc CMOVcc Jcc) its unit defines the flags with a CMP.
 * Unicorn follows QEMU's TCG, mmusim the AMD host (targets/x86/x86_alu.h):
 * only defined flags can agree.
 *
 * Defects of the peer (Unicorn 2.0.1 is QEMU 5.0), each confirmed on its
 * own and worked around so that it does not hide anything else:
 *  - 32-bit CMPXCHG in 64-bit mode zero-extends RAX on success and a
 *    register destination on failure: both are zero-extended first.
 *  - LOCK NEG computes SF ZF PF from the old value: no LOCK on NEG.
 *  - CMPXCHG8B/16B compute the flags they keep from a stale CC_OP (garbage,
 *    up to bit 31 of what EFLAGS reads back): only ZF is compared after
 *    them, and DF is never compared (string instructions would show a
 *    wrong DF through their addresses anyway).
 *  - SHLD/SHRD imm8 with a RIP-relative operand compute the address from
 *    the imm8 byte instead of the next instruction: no RIP-relative operand
 *    there.
 * And where the SDM leaves a result undefined: BSF/BSR get a nonzero source
 * (QEMU zero-extends a 32-bit destination in 64-bit mode, AMD keeps it),
 * 16-bit SHLD/SHRD counts stay within 16, no 16-bit BSWAP.
 *
 * Seeds are fixed (printed with any mismatch). Environment knobs:
 *   MMUSIM_X86_DIFF_N=n          sequences per mode (default 6000)
 *   MMUSIM_X86_DIFF_SEED=s       run that one seed (both modes), verbosely
 *   MMUSIM_X86_DIFF_KEEP_GOING=1 report every mismatch instead of stopping
 *
 * Built without Unicorn (MMUSIM_HAVE_UNICORN=0) the test reports a skip
 * (exit code 77).
 */
#include <check.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MMUSIM_HAVE_UNICORN
#if defined(__has_include)
#if __has_include(<unicorn/unicorn.h>)
#define MMUSIM_HAVE_UNICORN 1
#endif
#endif
#endif

#if MMUSIM_HAVE_UNICORN

#include <unicorn/unicorn.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "targets/x86/x86_cpu.h"
#include "targets/x86/x86_decode.h"

/* ------------------------------------------------------------------ */
/* Memory map (the same on both). */

#define RAM_SIZE 0x100000u
#define CODE 0x10000u
#define CODE_MAX 0x8000u
#define DATA 0x20000u
#define DATA_SIZE 0x2000u  /* two pages: accesses may straddle 0x21000 */
#define STACK 0x30000u
#define STACK_SIZE 0x1000u
#define SP0 0x30800u
#define PT 0x40000u        /* mmusim's long-mode page tables */

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u
#define F_ALL 0x8d5u
#define F_LOGIC (F_CF | F_PF | F_ZF | F_SF | F_OF)  /* AF undefined */

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define MAX_UNIT_INSNS 14
#define MAX_UNITS 40
#define MAX_INSNS (MAX_UNITS * MAX_UNIT_INSNS)

/* ------------------------------------------------------------------ */
/* Sequences. */

typedef struct Insn {
    uint8_t b[15];
    uint8_t len;
    int8_t rip_off;       /* offset of a RIP-relative disp32 in b, or -1 */
    uint32_t rip_target;  /* the address it must reach */
    uint32_t maddr;       /* data address of its memory operand, or 0 (for reports) */
} Insn;

typedef struct Unit {
    Insn in[MAX_UNIT_INSNS];
    unsigned n;
    uint16_t reads;   /* flags read before the unit defines them itself */
    uint16_t def;     /* flags the unit leaves defined */
    uint16_t undef;   /* flags the unit leaves undefined */
    int kind;         /* template, for coverage */
} Unit;

typedef struct Seq {
    Unit u[MAX_UNITS];
    unsigned n;
} Seq;

enum {
    K_MOV, K_MOVX, K_LEA, K_ALU, K_TEST, K_INCDEC, K_NEGNOT, K_SHIFT, K_MUL, K_IMUL,
    K_DIV, K_BT, K_BSF, K_SETCC, K_CMOV, K_XCHG, K_XADD, K_CMPXCHG, K_BSWAP, K_CBW,
    K_PUSHPOP, K_JCC, K_STRING, K_FLAGOP, K_SHXD, K_CMPXCHGNB, K_XLAT, K_NKINDS
};

static const char *const kind_names[K_NKINDS] = {
    "mov", "movzx/movsx", "lea", "alu", "test", "inc/dec", "neg/not", "shift/rot",
    "mul/imul1", "imul2/3", "div/idiv", "bt*", "bsf/bsr", "setcc", "cmovcc", "xchg", "xadd",
    "cmpxchg", "bswap", "cbw/cwd", "push/pop", "jcc", "string", "flag ops", "shld/shrd",
    "cmpxchg8b/16b", "xlat",
};

/* Register operand ids: 0..15 (for byte operands the low byte; 4..7 are
 * SPL..DIL and need a REX prefix), 16..19 = AH CH DH BH (no REX allowed). */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
#define AH_ID 16

typedef struct Rm {
    bool mem;
    int reg;          /* register form */
    int base, index;  /* memory: -1 = none */
    unsigned scale;   /* 0..3 */
    int32_t disp;
    unsigned dispsz;  /* 0, 1, 4 */
    bool rip, abs, sib;
    bool data;        /* made by mem_operand(): addr is in the data area */
    uint8_t seg;      /* segment override prefix, or 0 */
    uint32_t addr;    /* the linear address the operand reaches */
    uint32_t target;  /* rip: the offset it must reach */
} Rm;

typedef struct Gen {
    uint64_t rng;
    unsigned mode;     /* 4: 32-bit protected mode, 8: 64-bit mode */
    bool norex;        /* this instruction: no REX prefix (AH..BH usable) */
    bool forcerex;     /* this instruction: a REX prefix even when not needed */
    uint16_t undef;    /* flags undefined at this point of the sequence */
    int depth;         /* bytes pushed so far */
    Unit *u;
    uint16_t u_def, u_undef, u_reads;
    uint64_t fsbase, gsbase;  /* 64-bit mode */
    unsigned align;    /* next mem_operand(): alignment, or 0 */
    bool norip;        /* mem_operand(): no RIP-relative form */
} Gen;

static uint64_t rnd(Gen *g)
{
    /* splitmix64 */
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rn(Gen *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

static bool chance(Gen *g, unsigned pct)
{
    return rn(g, 100) < pct;
}

/* A value biased toward the edges arithmetic gets wrong. */
static uint64_t rval(Gen *g)
{
    static const unsigned widths[4] = { 8, 16, 32, 64 };
    unsigned w = widths[rn(g, 4)];
    uint64_t top = 1ull << (w - 1);
    uint64_t hi = w == 64 ? 0 : (rnd(g) & ~((top << 1) - 1));
    switch (rn(g, 10)) {
    case 0: return rn(g, 17);
    case 1: return -(uint64_t)rn(g, 17);
    case 2: return hi | top;                           /* most negative */
    case 3: return hi | (top - 1);                     /* most positive */
    case 4: return hi | (top + rn(g, 3)) ;
    case 5: return hi | (((top << 1) - 1) & ~(uint64_t)rn(g, 3)); /* -1, -2, -3 */
    case 6: { unsigned b = rn(g, 64); uint64_t v = 1ull << b; return rn(g, 2) ? v : v - 1; }
    default: return rnd(g);
    }
}

static uint16_t cond_reads(unsigned cc)
{
    static const uint16_t t[8] = { F_OF, F_CF, F_ZF, F_CF | F_ZF, F_SF, F_PF, F_SF | F_OF,
                                   F_ZF | F_SF | F_OF };
    return t[(cc >> 1) & 7];
}

static Insn *new_insn(Gen *g)
{
    g_assert(g->u->n < MAX_UNIT_INSNS);
    Insn *in = &g->u->in[g->u->n++];
    memset(in, 0, sizeof(*in));
    in->rip_off = -1;
    return in;
}

static void put8(Insn *in, uint8_t b)
{
    g_assert(in->len < 15);
    in->b[in->len++] = b;
}

static void put_le(Insn *in, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        put8(in, (uint8_t)(v >> (8 * i)));
    }
}

/* Flags: what the instruction just emitted reads, defines and leaves undefined. */
static void fx(Gen *g, uint16_t reads, uint16_t def, uint16_t undef)
{
    g_assert(!(reads & g->undef));  /* need_flags() was not called */
    g->u_reads |= reads & ~g->u_def & ~g->u_undef;
    g->u_def = (uint16_t)((g->u_def & ~undef) | def);
    g->u_undef = (uint16_t)((g->u_undef & ~def) | undef);
    g->undef = (uint16_t)((g->undef & ~def) | undef);
}

/* ------------------------------------------------------------------ */
/* Encoding. */

typedef struct Enc {
    unsigned size;     /* 2: 66h, 8: REX.W, else neither */
    bool lock, a32;    /* F0h, 67h */
    uint8_t opc[3];
    unsigned nopc;
    int reg;           /* ModRM.reg: a register id, or the /digit */
    bool reg_byte;     /* reg is a byte register id */
    const Rm *rm;      /* NULL: no ModRM */
    bool rm_byte;
    uint64_t imm;
    unsigned immsz;
} Enc;

static bool byte_needs_rex(int id)
{
    return id >= 4 && id < 8;
}

static void emit(Gen *g, const Enc *e)
{
    Insn *in = new_insn(g);
    const Rm *rm = e->rm;
    unsigned rex = 0;
    bool need = false, high = false;
    if (e->size == 8) {
        rex |= 8;
    }
    if (rm) {
        int r = e->reg;
        if (r >= 8 && r < 16) {
            rex |= 4;
        }
        if (e->reg_byte) {
            need |= byte_needs_rex(r);
            high |= r >= AH_ID;
        }
        if (rm->mem) {
            if (rm->index >= 8) {
                rex |= 2;
            }
            if (rm->base >= 8) {
                rex |= 1;
            }
        } else {
            if (rm->reg >= 8 && rm->reg < 16) {
                rex |= 1;
            }
            if (e->rm_byte) {
                need |= byte_needs_rex(rm->reg);
                high |= rm->reg >= AH_ID;
            }
        }
    }
    need |= rex != 0 || (g->forcerex && g->mode == 8 && !high);
    g_assert(!(need && high));
    g_assert(!(need && g->mode == 4));
    if (rm && rm->mem && rm->seg) {
        put8(in, rm->seg);
    }
    if (e->lock) {
        put8(in, 0xf0);
    }
    if (e->size == 2) {
        put8(in, 0x66);
    }
    if (e->a32) {
        put8(in, 0x67);
    }
    if (need) {
        put8(in, (uint8_t)(0x40 | rex));
    }
    for (unsigned i = 0; i < e->nopc; i++) {
        put8(in, e->opc[i]);
    }
    if (rm && rm->mem && rm->data) {
        in->maddr = rm->addr;
    }
    if (rm) {
        unsigned regf = (unsigned)(e->reg >= AH_ID ? e->reg - 12 : e->reg) & 7;
        if (!rm->mem) {
            unsigned r = (unsigned)(rm->reg >= AH_ID ? rm->reg - 12 : rm->reg) & 7;
            put8(in, (uint8_t)(0xc0 | regf << 3 | r));
        } else if (rm->rip) {
            put8(in, (uint8_t)(regf << 3 | 5));
            in->rip_off = (int8_t)in->len;
            in->rip_target = rm->target;
            put_le(in, 0, 4);
        } else if (rm->abs && g->mode == 4 && !rm->sib) {
            put8(in, (uint8_t)(regf << 3 | 5));
            put_le(in, (uint32_t)rm->disp, 4);
        } else if (rm->base < 0) {
            /* [index*scale + disp32] or [disp32] through a SIB byte */
            unsigned idx = rm->index < 0 ? 4 : (unsigned)rm->index & 7;
            put8(in, (uint8_t)(regf << 3 | 4));
            put8(in, (uint8_t)(rm->scale << 6 | idx << 3 | 5));
            put_le(in, (uint32_t)rm->disp, 4);
        } else {
            unsigned dsz = rm->dispsz;
            unsigned b = (unsigned)rm->base & 7;
            if (dsz == 0 && b == 5) {
                dsz = 1;  /* [rbp]/[r13] have no mod=00 form */
            }
            unsigned mod = dsz == 0 ? 0 : dsz == 1 ? 1 : 2;
            if (rm->index >= 0 || rm->sib || b == 4) {
                unsigned idx = rm->index < 0 ? 4 : (unsigned)rm->index & 7;
                put8(in, (uint8_t)(mod << 6 | regf << 3 | 4));
                put8(in, (uint8_t)(rm->scale << 6 | idx << 3 | b));
            } else {
                put8(in, (uint8_t)(mod << 6 | regf << 3 | b));
            }
            if (dsz) {
                put_le(in, (uint32_t)rm->disp, dsz);
            }
        }
    }
    put_le(in, e->imm, e->immsz);
}

/* Opcode + register (B0+r, B8+r, 50+r, 58+r, 90+r, 0F C8+r). */
static void emit_oreg(Gen *g, unsigned size, bool twobyte, uint8_t opc, int reg, bool byte,
                      uint64_t imm, unsigned immsz)
{
    Insn *in = new_insn(g);
    bool high = byte && reg >= AH_ID;
    unsigned rex = (size == 8 ? 8u : 0u) | (reg >= 8 && reg < 16 ? 1u : 0u);
    bool need = rex != 0 || (byte && byte_needs_rex(reg)) ||
                (g->forcerex && g->mode == 8 && !high);
    g_assert(!(need && (high || g->mode == 4)));
    if (size == 2) {
        put8(in, 0x66);
    }
    if (need) {
        put8(in, (uint8_t)(0x40 | rex));
    }
    if (twobyte) {
        put8(in, 0x0f);
    }
    put8(in, (uint8_t)(opc + ((unsigned)(high ? reg - 12 : reg) & 7)));
    put_le(in, imm, immsz);
}

static Rm rm_reg(int r)
{
    return (Rm){ .mem = false, .reg = r, .base = -1, .index = -1 };
}

/* ------------------------------------------------------------------ */
/* Operand choice. */

static unsigned pick_size(Gen *g, bool allow8)
{
    if (!allow8) {
        return g->mode == 8 ? (unsigned[]){ 2, 4, 8 }[rn(g, 3)] : rn(g, 3) == 0 ? 2 : 4;
    }
    return g->mode == 8 ? 1u << rn(g, 4) : (unsigned[]){ 1, 2, 4, 4 }[rn(g, 4)];
}

static unsigned nregs(const Gen *g)
{
    return g->mode == 8 && !g->norex ? 16 : 8;
}

/* A register operand of `size`; destinations never touch the stack pointer. */
static int pick_reg(Gen *g, unsigned size, bool dest, uint32_t avoid)
{
    for (;;) {
        int r = (int)rn(g, nregs(g));
        if (size == 1 && nregs(g) == 8 && r >= 4) {
            r += 12;  /* AH..BH */
        }
        if (dest && r == RSP) {
            continue;
        }
        if (r < 16 && (avoid & (1u << r))) {
            continue;
        }
        if (r >= AH_ID && (avoid & (1u << (r - AH_ID)))) {
            continue;
        }
        return r;
    }
}

/* mov reg, value (setup; no flags). */
static void set_reg(Gen *g, int r, uint64_t v)
{
    bool save = g->forcerex;
    g->forcerex = false;
    if (g->mode == 4) {
        emit_oreg(g, 4, false, 0xb8, r, false, (uint32_t)v, 4);
    } else if (v <= 0xffffffffu) {
        emit_oreg(g, 4, false, 0xb8, r, false, v, 4);
    } else if ((int64_t)v == (int32_t)v && chance(g, 70)) {
        Rm d = rm_reg(r);
        emit(g, &(Enc){ .size = 8, .opc = { 0xc7 }, .nopc = 1, .reg = 0, .rm = &d,
                        .imm = (uint32_t)v, .immsz = 4 });
    } else {
        emit_oreg(g, 8, false, 0xb8, r, false, v, 8);
    }
    g->forcerex = save;
}

static int pick_addr_reg(Gen *g, uint32_t *avoid)
{
    for (;;) {
        int r = (int)rn(g, nregs(g));
        if (r == RSP || (*avoid & (1u << r))) {
            continue;
        }
        *avoid |= 1u << r;
        return r;
    }
}

/*
 * A memory operand of `size` bytes in the data area, at least `lo` bytes
 * after its start and `hi` before its end. Its base/index registers are
 * loaded here (never a register in *avoid; they are added to it).
 */
static Rm mem_operand(Gen *g, unsigned size, unsigned lo, unsigned hi, uint32_t *avoid)
{
    Rm m = { .mem = true, .reg = -1, .base = -1, .index = -1, .data = true };
    uint32_t a = DATA + lo + rn(g, DATA_SIZE - lo - hi - size + 1);
    if (chance(g, 15)) {
        /* near the page boundary inside the area: accesses straddle it */
        uint32_t b = DATA + 0x1000 - size + 1 + rn(g, size);
        if (b >= DATA + lo && b + size + hi <= DATA + DATA_SIZE) {
            a = b;
        }
    }
    if (g->align) {
        a = (a + g->align - 1) & ~(g->align - 1);
        if (a + size + hi > DATA + DATA_SIZE) {
            a -= g->align;
        }
        g->align = 0;
    }
    m.addr = a;
    /* Segment override: FS/GS have bases in 64-bit mode; the rest are flat. */
    uint64_t segbase = 0;
    if (g->mode == 8 && chance(g, 12)) {
        bool fs = rn(g, 2);
        m.seg = fs ? 0x64 : 0x65;
        segbase = fs ? g->fsbase : g->gsbase;
    } else if (chance(g, 6)) {
        m.seg = (uint8_t[]){ 0x26, 0x36, 0x3e, 0x2e }[rn(g, g->mode == 8 ? 4 : 3)];
    }
    a = (uint32_t)(a - segbase);  /* from here on: the offset in the segment */
    m.target = a;
    unsigned form = rn(g, g->mode == 8 && !g->norip ? 7 : 6);
    switch (form) {
    case 0: /* [disp32] */
        m.abs = true;
        m.disp = (int32_t)a;
        m.sib = g->mode == 4 && chance(g, 30);  /* SIB with no base and no index */
        break;
    case 1: case 2: { /* [base + disp] */
        m.base = pick_addr_reg(g, avoid);
        m.dispsz = (unsigned[]){ 0, 1, 4 }[rn(g, 3)];
        m.disp = m.dispsz == 0 ? 0 : m.dispsz == 1 ? (int8_t)rnd(g)
                                                   : (int32_t)(rn(g, 0x20000)) - 0x10000;
        m.sib = form == 2;
        set_reg(g, m.base, (uint32_t)(a - (uint32_t)m.disp));
        break;
    }
    case 3: case 4: { /* [base + index*scale + disp] */
        m.base = pick_addr_reg(g, avoid);
        bool same = form == 4 && chance(g, 30);
        m.index = same ? m.base : pick_addr_reg(g, avoid);
        m.scale = rn(g, 4);
        m.dispsz = (unsigned[]){ 0, 1, 4 }[rn(g, 3)];
        if (same) {
            /* base == index: v * (1 + 2^scale) + disp = a, disp in 0..107 */
            uint32_t k = 1 + (1u << m.scale);
            uint32_t v = (a - rn(g, 100)) / k;
            m.disp = (int32_t)(a - v * k);
            m.dispsz = m.disp == 0 && rn(g, 2) ? 0 : 1;
            set_reg(g, m.base, v);
        } else {
            int64_t iv = (int64_t)rn(g, 0x400) - (g->mode == 8 && chance(g, 40) ? 0x400 : 0);
            m.disp = m.dispsz == 0 ? 0 : m.dispsz == 1 ? (int8_t)rnd(g)
                                                       : (int32_t)rn(g, 0x20000) - 0x10000;
            uint32_t bv = (uint32_t)((int64_t)a - m.disp - iv * (1 << m.scale));
            if (g->mode == 4) {
                set_reg(g, m.index, (uint32_t)iv);
            } else {
                set_reg(g, m.index, (uint64_t)iv);
            }
            set_reg(g, m.base, bv);
        }
        break;
    }
    case 5: { /* [index*scale + disp32] */
        m.index = pick_addr_reg(g, avoid);
        m.scale = rn(g, 4);
        uint32_t iv = rn(g, 0x800);
        m.disp = (int32_t)(a - (iv << m.scale));
        set_reg(g, m.index, iv);
        break;
    }
    default: /* [rip + disp32] */
        m.rip = true;
        break;
    }
    return m;
}

/* Register or memory; memory base/index registers avoid *avoid. */
static Rm pick_rm(Gen *g, unsigned size, bool dest, uint32_t *avoid, unsigned pct_mem)
{
    if (chance(g, (int)pct_mem)) {
        return mem_operand(g, size, 0, 0, avoid);
    }
    return rm_reg(pick_reg(g, size, dest, 0));
}

/* CMP that defines every flag (before an instruction reads an undefined one). */
static void need_flags(Gen *g, uint16_t mask)
{
    if (!(g->undef & mask)) {
        return;
    }
    unsigned size = pick_size(g, true);
    Rm a = rm_reg(pick_reg(g, size, false, 0));
    if (chance(g, 50)) {
        int b = pick_reg(g, size, false, 0);
        emit(g, &(Enc){ .size = size, .opc = { size == 1 ? 0x38 : 0x39 }, .nopc = 1, .reg = b,
                        .reg_byte = size == 1, .rm = &a, .rm_byte = size == 1 });
    } else {
        emit(g, &(Enc){ .size = size, .opc = { size == 1 ? 0x80 : 0x83 }, .nopc = 1, .reg = 7,
                        .rm = &a, .rm_byte = size == 1, .imm = rnd(g) & 0xff, .immsz = 1 });
    }
    fx(g, 0, F_ALL, 0);
}

static unsigned immsz_for(unsigned size)
{
    return size == 1 ? 1 : size == 2 ? 2 : 4;
}

/* ------------------------------------------------------------------ */
/* Templates: each emits one unit. */

static void t_mov(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint32_t avoid = 0;
    switch (rn(g, 5)) {
    case 0: { /* mov r/m, r */
        int r = pick_reg(g, size, false, 0);
        Rm d = pick_rm(g, size, true, &avoid, 60);
        emit(g, &(Enc){ .size = size, .opc = { b ? 0x88 : 0x89 }, .nopc = 1, .reg = r,
                        .reg_byte = b, .rm = &d, .rm_byte = b });
        break;
    }
    case 1: { /* mov r, r/m */
        int r = pick_reg(g, size, true, 0);
        Rm s = pick_rm(g, size, false, &avoid, 60);
        emit(g, &(Enc){ .size = size, .opc = { b ? 0x8a : 0x8b }, .nopc = 1, .reg = r,
                        .reg_byte = b, .rm = &s, .rm_byte = b });
        break;
    }
    case 2: { /* mov r, imm (B0+r / B8+r; REX.W B8+r imm64) */
        int r = pick_reg(g, size, true, 0);
        emit_oreg(g, size, false, b ? 0xb0 : 0xb8, r, b, rval(g), size == 8 ? 8 : immsz_for(size));
        break;
    }
    default: { /* mov r/m, imm (C6/C7 /0) */
        Rm d = pick_rm(g, size, true, &avoid, 60);
        emit(g, &(Enc){ .size = size, .opc = { b ? 0xc6 : 0xc7 }, .nopc = 1, .reg = 0, .rm = &d,
                        .rm_byte = b, .imm = rval(g), .immsz = immsz_for(size) });
        break;
    }
    }
}

static void t_movx(Gen *g)
{
    uint32_t avoid = 0;
    if (g->mode == 8 && chance(g, 20)) { /* movsxd r64, r/m32 */
        int r = pick_reg(g, 8, true, 0);
        Rm s = pick_rm(g, 4, false, &avoid, 50);
        emit(g, &(Enc){ .size = 8, .opc = { 0x63 }, .nopc = 1, .reg = r, .rm = &s });
        return;
    }
    unsigned ssz = rn(g, 2) ? 1 : 2;
    unsigned dsz;
    do {
        dsz = pick_size(g, false);
    } while (dsz <= ssz);
    bool sx = rn(g, 2);
    if (dsz == 8) {
        g->norex = false;  /* REX.W: no AH..BH source */
    }
    int r = pick_reg(g, dsz, true, 0);
    Rm s = pick_rm(g, ssz, false, &avoid, 50);
    uint8_t op = (uint8_t)((sx ? 0xbe : 0xb6) + (ssz == 2));
    emit(g, &(Enc){ .size = dsz, .opc = { 0x0f, op }, .nopc = 2, .reg = r, .rm = &s,
                    .rm_byte = ssz == 1 });
}

static void t_lea(Gen *g)
{
    unsigned size = pick_size(g, false);
    int r = pick_reg(g, size, true, 0);
    /* Any registers: LEA does not touch memory. */
    Rm m = { .mem = true, .reg = -1, .base = -1, .index = -1 };
    bool a32 = g->mode == 8 && chance(g, 20);
    switch (rn(g, g->mode == 8 && !a32 ? 5 : 4)) {
    case 0:
        m.abs = true;
        m.disp = (int32_t)rnd(g);
        break;
    case 1:
        m.base = (int)rn(g, nregs(g));
        m.sib = chance(g, 30);
        break;
    case 2:
        m.base = (int)rn(g, nregs(g));
        do {
            m.index = (int)rn(g, nregs(g));
        } while (m.index == RSP);
        m.scale = rn(g, 4);
        break;
    case 3:
        do {
            m.index = (int)rn(g, nregs(g));
        } while (m.index == RSP);
        m.scale = rn(g, 4);
        m.disp = (int32_t)rnd(g);
        break;
    default:
        m.rip = true;
        m.target = (uint32_t)rnd(g) & 0xfffff;
        break;
    }
    if (!m.abs && !m.rip && m.base >= 0) {
        m.dispsz = (unsigned[]){ 0, 1, 4 }[rn(g, 3)];
        m.disp = m.dispsz == 1 ? (int8_t)rnd(g) : m.dispsz == 4 ? (int32_t)rnd(g) : 0;
    }
    emit(g, &(Enc){ .size = size, .a32 = a32, .opc = { 0x8d }, .nopc = 1, .reg = r, .rm = &m });
}

/* ALU ops by their /digit: ADD OR ADC SBB AND SUB XOR CMP. */
static void t_alu(Gen *g)
{
    unsigned op = rn(g, 8);
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint16_t reads = (op == 2 || op == 3) ? F_CF : 0;
    uint16_t def = (op == 1 || op == 4 || op == 6) ? F_LOGIC : F_ALL;
    uint16_t undef = (uint16_t)(F_ALL & ~def);
    uint32_t avoid = 0;
    need_flags(g, reads);
    bool wr = op != 7;
    switch (rn(g, 5)) {
    case 0: { /* op r/m, r */
        int r = pick_reg(g, size, false, 0);
        Rm d = pick_rm(g, size, wr, &avoid, 50);
        emit(g, &(Enc){ .size = size, .lock = d.mem && wr && chance(g, 20),
                        .opc = { (uint8_t)(op * 8 + !b) }, .nopc = 1, .reg = r, .reg_byte = b,
                        .rm = &d, .rm_byte = b });
        break;
    }
    case 1: { /* op r, r/m */
        int r = pick_reg(g, size, wr, 0);
        Rm s = pick_rm(g, size, false, &avoid, 50);
        emit(g, &(Enc){ .size = size, .opc = { (uint8_t)(op * 8 + 2 + !b) }, .nopc = 1, .reg = r,
                        .reg_byte = b, .rm = &s, .rm_byte = b });
        break;
    }
    case 2: { /* op al/ax/eax/rax, imm */
        Insn *in;
        unsigned isz = immsz_for(size);
        if (size == 2) {
            emit_oreg(g, 2, false, (uint8_t)(op * 8 + 5), 0, false, rval(g), 2);
            break;
        }
        in = new_insn(g);
        if (size == 8) {
            put8(in, 0x48);
        } else if (g->forcerex && g->mode == 8) {
            put8(in, 0x40);
        }
        put8(in, (uint8_t)(op * 8 + 4 + !b));
        put_le(in, rval(g), isz);
        break;
    }
    default: { /* 80 /op ib, 81 /op iz, 83 /op ib */
        Rm d = pick_rm(g, size, wr, &avoid, 50);
        bool s8 = !b && rn(g, 2);
        emit(g, &(Enc){ .size = size, .lock = d.mem && wr && chance(g, 20),
                        .opc = { b ? 0x80 : s8 ? 0x83 : 0x81 }, .nopc = 1, .reg = (int)op,
                        .rm = &d, .rm_byte = b, .imm = rval(g),
                        .immsz = (b || s8) ? 1 : immsz_for(size) });
        break;
    }
    }
    fx(g, reads, def, undef);
}

static void t_test(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint32_t avoid = 0;
    switch (rn(g, 3)) {
    case 0: {
        int r = pick_reg(g, size, false, 0);
        Rm d = pick_rm(g, size, false, &avoid, 50);
        emit(g, &(Enc){ .size = size, .opc = { b ? 0x84 : 0x85 }, .nopc = 1, .reg = r,
                        .reg_byte = b, .rm = &d, .rm_byte = b });
        break;
    }
    case 1:
        if (size == 8) {
            Insn *in = new_insn(g);
            put8(in, 0x48);
            put8(in, 0xa9);
            put_le(in, rval(g), 4);
        } else {
            emit_oreg(g, size, false, b ? 0xa8 : 0xa9, 0, false, rval(g), immsz_for(size));
        }
        break;
    default: {
        Rm d = pick_rm(g, size, false, &avoid, 50);
        emit(g, &(Enc){ .size = size, .opc = { b ? 0xf6 : 0xf7 }, .nopc = 1, .reg = 0, .rm = &d,
                        .rm_byte = b, .imm = rval(g), .immsz = immsz_for(size) });
        break;
    }
    }
    fx(g, 0, F_LOGIC, F_AF);
}

static void t_incdec(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    bool dec = rn(g, 2);
    uint32_t avoid = 0;
    if (g->mode == 4 && !b && chance(g, 30)) { /* 40+r / 48+r */
        int r = pick_reg(g, size, true, 0);
        emit_oreg(g, size, false, dec ? 0x48 : 0x40, r, false, 0, 0);
    } else {
        Rm d = pick_rm(g, size, true, &avoid, 50);
        emit(g, &(Enc){ .size = size, .lock = d.mem && chance(g, 20),
                        .opc = { b ? 0xfe : 0xff }, .nopc = 1, .reg = dec, .rm = &d,
                        .rm_byte = b });
    }
    fx(g, 0, F_ALL & ~F_CF, 0);
}

static void t_negnot(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    bool neg = rn(g, 2);
    uint32_t avoid = 0;
    Rm d = pick_rm(g, size, true, &avoid, 50);
    /* (no LOCK NEG: the peer computes its SF ZF PF from the old value) */
    emit(g, &(Enc){ .size = size, .lock = d.mem && !neg && chance(g, 20),
                    .opc = { b ? 0xf6 : 0xf7 }, .nopc = 1, .reg = neg ? 3 : 2, .rm = &d,
                    .rm_byte = b });
    if (neg) {
        fx(g, 0, F_ALL, 0);
    }
}

/* ROL ROR RCL RCR SHL SHR (SAL=/6 skipped) SAR by 1, imm8 or CL. */
static void t_shift(Gen *g)
{
    static const unsigned ops[7] = { 0, 1, 2, 3, 4, 5, 7 };
    unsigned op = ops[rn(g, 7)];
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    unsigned w = size * 8;
    unsigned form = rn(g, 3);  /* 0: by 1, 1: imm8, 2: CL */
    unsigned count;
    switch (rn(g, 4)) {
    case 0: count = 1; break;
    case 1: count = rn(g, w + 3); break;
    case 2: count = rn(g, 256); break;
    default: count = rn(g, 9); break;
    }
    if (form == 0) {
        count = 1;
    }
    unsigned mc = count & (size == 8 ? 0x3f : 0x1f);
    uint16_t reads = 0, def = 0, undef = 0;
    bool rot = op < 4;
    if (op == 2 || op == 3) {
        reads = F_CF;
    }
    if (mc != 0) {
        if (rot) {
            def = F_CF;
        } else {
            def = F_SF | F_ZF | F_PF;
            undef = F_AF;
            /* SDM: CF undefined for SHL/SHR when count >= the operand width */
            if (op != 7 && mc >= w) {
                undef |= F_CF;
            } else {
                def |= F_CF;
            }
        }
        /* OF: only 1-bit shifts and rotates define it */
        if (mc == 1) {
            def |= F_OF;
        } else {
            undef |= F_OF;
        }
    }
    need_flags(g, reads);
    uint32_t avoid = 0;
    if (form == 2) {
        set_reg(g, RCX, (rnd(g) & ~0xffull & 0xffffffffu) | count);
        if (rn(g, 2)) {
            /* also through mov cl, imm8 */
            emit_oreg(g, 1, false, 0xb0, RCX, true, count, 1);
        }
        avoid = 1u << RCX;
    }
    Rm d = pick_rm(g, size, true, &avoid, 40);
    if (form == 2 && !d.mem && (d.reg == RCX)) {
        /* shifting CL by itself is fine too; nothing to adjust */
    }
    static const uint8_t opc[3][2] = { { 0xd0, 0xd1 }, { 0xc0, 0xc1 }, { 0xd2, 0xd3 } };
    emit(g, &(Enc){ .size = size, .opc = { opc[form][!b] }, .nopc = 1, .reg = (int)op, .rm = &d,
                    .rm_byte = b, .imm = count, .immsz = form == 1 ? 1 : 0 });
    fx(g, reads, def, undef);
}

static void t_mul(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint32_t avoid = 0;
    Rm s = pick_rm(g, size, false, &avoid, 40);
    emit(g, &(Enc){ .size = size, .opc = { b ? 0xf6 : 0xf7 }, .nopc = 1, .reg = rn(g, 2) ? 4 : 5,
                    .rm = &s, .rm_byte = b });
    fx(g, 0, F_CF | F_OF, F_SF | F_ZF | F_AF | F_PF);
}

static void t_imul(Gen *g)
{
    unsigned size = pick_size(g, false);
    int r = pick_reg(g, size, true, 0);
    uint32_t avoid = 0;
    Rm s = pick_rm(g, size, false, &avoid, 40);
    switch (rn(g, 3)) {
    case 0:
        emit(g, &(Enc){ .size = size, .opc = { 0x0f, 0xaf }, .nopc = 2, .reg = r, .rm = &s });
        break;
    case 1:
        emit(g, &(Enc){ .size = size, .opc = { 0x6b }, .nopc = 1, .reg = r, .rm = &s,
                        .imm = rval(g), .immsz = 1 });
        break;
    default:
        emit(g, &(Enc){ .size = size, .opc = { 0x69 }, .nopc = 1, .reg = r, .rm = &s,
                        .imm = rval(g), .immsz = size == 2 ? 2 : 4 });
        break;
    }
    fx(g, 0, F_CF | F_OF, F_SF | F_ZF | F_AF | F_PF);
}

static uint64_t mask_of(unsigned size)
{
    return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* DIV/IDIV with a dividend and divisor that cannot raise #DE. */
static void t_div(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    bool sgn = rn(g, 2);
    unsigned w = size * 8;
    uint32_t avoid = (1u << RAX) | (1u << RDX);
    bool mem = chance(g, 40);
    Rm d;
    if (chance(g, 50)) {
        /* Constructed: q * d + r, with every part random. */
        u128 m = (u128)mask_of(size);
        i128 dividend;
        uint64_t dv;
        if (!sgn) {
            do {
                dv = rval(g) & mask_of(size);
            } while (dv == 0);
            uint64_t q = rval(g) & mask_of(size);
            uint64_t r = rnd(g) % dv;
            dividend = (i128)((u128)q * dv + r);
        } else {
            int64_t sd;
            do {
                sd = (int64_t)(rval(g) << (64 - w)) >> (64 - w);
            } while (sd == 0);
            int64_t q = (int64_t)(rval(g) << (64 - w)) >> (64 - w);
            i128 p = (i128)q * sd;
            uint64_t ad = sd < 0 ? -(uint64_t)sd : (uint64_t)sd;
            int64_t r = (int64_t)(rnd(g) % ad);
            if (p < 0 || (p == 0 && rn(g, 2))) {
                r = -r;
            }
            dividend = p + r;
            dv = (uint64_t)sd & mask_of(size);
        }
        u128 ud = (u128)dividend;
        if (b) {
            set_reg(g, RAX, (rnd(g) & ~0xffffull & 0xffffffffu) | (uint64_t)(ud & 0xffff));
        } else {
            set_reg(g, RAX, (uint64_t)(ud & m) | (size == 2 ? rnd(g) & 0xffff0000u : 0));
            set_reg(g, RDX, (uint64_t)((ud >> w) & m) | (size == 2 ? rnd(g) & 0xffff0000u : 0));
        }
        if (mem) {
            d = mem_operand(g, size, 0, 0, &avoid);
            Rm tr = d;
            if (size < 8 || (int64_t)dv == (int32_t)dv) {
                /* mov [m], divisor */
                emit(g, &(Enc){ .size = size, .opc = { b ? 0xc6 : 0xc7 }, .nopc = 1, .reg = 0,
                                .rm = &tr, .rm_byte = b, .imm = dv, .immsz = immsz_for(size) });
            } else {
                /* mov tmp, divisor; mov [m], tmp */
                int t = pick_reg(g, size, true, avoid);
                set_reg(g, t, dv);
                emit(g, &(Enc){ .size = size, .opc = { 0x89 }, .nopc = 1, .reg = t, .rm = &tr });
            }
        } else {
            int t;
            do {
                t = pick_reg(g, size, true, avoid);
            } while (t >= AH_ID);  /* keep it simple: AH is part of the dividend */
            if (t == RAX) {
                t = RCX;
            }
            set_reg(g, t, (rnd(g) & ~mask_of(size) & 0xffffffffu) | dv);
            d = rm_reg(t);
        }
    } else {
        /* From the random state: high half from the low one, odd divisor. */
        if (mem) {
            d = mem_operand(g, size, 0, 0, &avoid);
            Rm tr = d;
            emit(g, &(Enc){ .size = 0, .opc = { 0x80 }, .nopc = 1, .reg = 1, .rm = &tr,
                            .rm_byte = true, .imm = 1, .immsz = 1 });  /* or byte [m], 1 */
            fx(g, 0, F_LOGIC, F_AF);
        } else {
            int t;
            do {
                t = pick_reg(g, size, true, avoid);
            } while (t >= AH_ID);
            d = rm_reg(t);
            emit(g, &(Enc){ .size = size, .opc = { b ? 0x80 : 0x83 }, .nopc = 1, .reg = 1,
                            .rm = &d, .rm_byte = b, .imm = 1, .immsz = 1 });  /* or t, 1 */
            fx(g, 0, F_LOGIC, F_AF);
        }
        Rm acc = rm_reg(RAX);
        if (sgn) {
            /* or acc, 1 (never the most negative value), then sign-extend */
            emit(g, &(Enc){ .size = size, .opc = { b ? 0x80 : 0x83 }, .nopc = 1, .reg = 1,
                            .rm = &acc, .rm_byte = b, .imm = 1, .immsz = 1 });
            fx(g, 0, F_LOGIC, F_AF);
            if (b) {
                emit_oreg(g, 2, false, 0x98, 0, false, 0, 0);       /* cbw */
            } else {
                emit_oreg(g, size, false, 0x99, 0, false, 0, 0);    /* cwd/cdq/cqo */
            }
        } else if (b) {
            emit(g, &(Enc){ .size = 0, .opc = { 0x0f, 0xb6 }, .nopc = 2, .reg = RAX,
                            .rm = &acc, .rm_byte = true });          /* movzx eax, al */
        } else {
            set_reg(g, RDX, size == 2 ? rnd(g) & 0xffff0000u : 0);
        }
    }
    emit(g, &(Enc){ .size = size, .opc = { b ? 0xf6 : 0xf7 }, .nopc = 1, .reg = sgn ? 7 : 6,
                    .rm = &d, .rm_byte = b });
    fx(g, 0, 0, F_ALL);
}

static void t_bt(Gen *g)
{
    unsigned size = pick_size(g, false);
    unsigned op = rn(g, 4);  /* BT BTS BTR BTC */
    unsigned w = size * 8;
    uint32_t avoid = 0;
    if (rn(g, 2)) {
        /* register bit offset: for memory, any signed offset (the address moves) */
        int o = pick_reg(g, size, false, 0);
        if (o == RSP) {
            o = RBP;
        }
        bool mem = chance(g, 50);
        Rm d;
        if (mem) {
            int64_t off = (int64_t)rn(g, 8 * 128) - 8 * 64;
            uint64_t v = size == 2 ? (rnd(g) & 0xffff0000u) | ((uint64_t)off & 0xffff)
                       : size == 4 ? (g->mode == 8 ? rnd(g) & ~0xffffffffull : 0) |
                                         ((uint64_t)off & 0xffffffffu)
                                   : (uint64_t)off;
            set_reg(g, o, v);
            avoid = 1u << o;
            d = mem_operand(g, size, 80, 80, &avoid);
        } else {
            d = rm_reg(pick_reg(g, size, op != 0, 0));
            if (d.reg == o && chance(g, 70)) {
                d.reg = pick_reg(g, size, op != 0, 1u << o);
            }
        }
        static const uint8_t opc[4] = { 0xa3, 0xab, 0xb3, 0xbb };
        emit(g, &(Enc){ .size = size, .lock = mem && op && chance(g, 20), .opc = { 0x0f, opc[op] },
                        .nopc = 2, .reg = o, .rm = &d });
    } else {
        Rm d = pick_rm(g, size, op != 0, &avoid, 50);
        unsigned imm = chance(g, 70) ? rn(g, w) : rn(g, 256);
        emit(g, &(Enc){ .size = size, .opc = { 0x0f, 0xba }, .nopc = 2, .reg = (int)(4 + op),
                        .rm = &d, .imm = imm, .immsz = 1 });
    }
    fx(g, 0, F_CF, F_OF | F_SF | F_AF | F_PF);
}

static void t_bsf(Gen *g)
{
    unsigned size = pick_size(g, false);
    int r = pick_reg(g, size, true, 0);
    uint32_t avoid = 0;
    Rm s = pick_rm(g, size, false, &avoid, 40);
    /* A nonzero source (zero: the destination is undefined). */
    if (s.mem) {
        Rm t = s;
        emit(g, &(Enc){ .size = 0, .opc = { 0x80 }, .nopc = 1, .reg = 1, .rm = &t,
                        .rm_byte = true, .imm = 1u << rn(g, 8), .immsz = 1 });
        fx(g, 0, F_LOGIC, F_AF);
    } else {
        Rm t = s;
        if (t.reg == RSP) {
            t.reg = s.reg = RBP;
        }
        emit(g, &(Enc){ .size = size, .opc = { 0x0f, 0xba }, .nopc = 2, .reg = 5, .rm = &t,
                        .imm = rn(g, size * 8), .immsz = 1 });  /* bts src, k */
        fx(g, 0, F_CF, F_OF | F_SF | F_AF | F_PF);
    }
    emit(g, &(Enc){ .size = size, .opc = { 0x0f, rn(g, 2) ? 0xbc : 0xbd }, .nopc = 2, .reg = r,
                    .rm = &s });
    fx(g, 0, F_ZF, F_CF | F_OF | F_SF | F_AF | F_PF);
}

static void t_setcc(Gen *g)
{
    unsigned cc = rn(g, 16);
    need_flags(g, cond_reads(cc));
    uint32_t avoid = 0;
    Rm d = pick_rm(g, 1, true, &avoid, 30);
    emit(g, &(Enc){ .size = 0, .opc = { 0x0f, (uint8_t)(0x90 + cc) }, .nopc = 2, .reg = 0,
                    .rm = &d, .rm_byte = true });
    fx(g, cond_reads(cc), 0, 0);
}

static void t_cmov(Gen *g)
{
    unsigned cc = rn(g, 16);
    need_flags(g, cond_reads(cc));
    unsigned size = pick_size(g, false);
    int r = pick_reg(g, size, true, 0);
    uint32_t avoid = 0;
    Rm s = pick_rm(g, size, false, &avoid, 30);
    emit(g, &(Enc){ .size = size, .opc = { 0x0f, (uint8_t)(0x40 + cc) }, .nopc = 2, .reg = r,
                    .rm = &s });
    fx(g, cond_reads(cc), 0, 0);
}

static void t_xchg(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint32_t avoid = 0;
    if (!b && chance(g, 30)) { /* 90+r: xchg eax, r */
        int r = pick_reg(g, size, true, 0);
        if (r == RAX && g->mode == 4) {
            r = RBX;
        }
        if (r == RAX && size != 4) {
            r = RSI;  /* 90 is NOP; REX.W 90 also is (and 66 90) */
        }
        emit_oreg(g, size, false, 0x90, r, false, 0, 0);
        return;
    }
    int r = pick_reg(g, size, true, 0);
    Rm d = pick_rm(g, size, true, &avoid, 50);
    emit(g, &(Enc){ .size = size, .lock = d.mem && chance(g, 20), .opc = { b ? 0x86 : 0x87 },
                    .nopc = 1, .reg = r, .reg_byte = b, .rm = &d, .rm_byte = b });
}

static void t_xadd(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint32_t avoid = 0;
    int r = pick_reg(g, size, true, 0);
    Rm d = pick_rm(g, size, true, &avoid, 50);
    emit(g, &(Enc){ .size = size, .lock = d.mem && chance(g, 30), .opc = { 0x0f, b ? 0xc0 : 0xc1 },
                    .nopc = 2, .reg = r, .reg_byte = b, .rm = &d, .rm_byte = b });
    fx(g, 0, F_ALL, 0);
}

static void t_cmpxchg(Gen *g)
{
    unsigned size = pick_size(g, true);
    bool b = size == 1;
    uint32_t avoid = 1u << RAX;
    int r = pick_reg(g, size, true, 0);
    Rm d = pick_rm(g, size, true, &avoid, 50);
    if (!d.mem && d.reg == RAX && chance(g, 70)) {
        d.reg = pick_reg(g, size, true, 1u << RAX);
    }
    if (size == 4 && g->mode == 8) {
        /* Peer defect (QEMU < 7.2): zero-extend RAX and the destination first. */
        Rm a = rm_reg(RAX);
        emit(g, &(Enc){ .size = 4, .opc = { 0x89 }, .nopc = 1, .reg = RAX, .rm = &a });
        if (!d.mem) {
            Rm t = d;
            emit(g, &(Enc){ .size = 4, .opc = { 0x89 }, .nopc = 1, .reg = d.reg, .rm = &t });
        }
    }
    if (chance(g, 50)) {
        /* make the compare succeed: acc = destination */
        Rm s = d;
        emit(g, &(Enc){ .size = size, .opc = { b ? 0x8a : 0x8b }, .nopc = 1, .reg = RAX,
                        .rm = &s, .rm_byte = b });
    }
    emit(g, &(Enc){ .size = size, .lock = d.mem && chance(g, 30), .opc = { 0x0f, b ? 0xb0 : 0xb1 },
                    .nopc = 2, .reg = r, .reg_byte = b, .rm = &d, .rm_byte = b });
    fx(g, 0, F_ALL, 0);
}

static void t_bswap(Gen *g)
{
    unsigned size = g->mode == 8 && rn(g, 2) ? 8 : 4;
    int r = pick_reg(g, size, true, 0);
    emit_oreg(g, size, true, 0xc8, r, false, 0, 0);
}

static void t_cbw(Gen *g)
{
    unsigned size = pick_size(g, false);
    emit_oreg(g, size, false, rn(g, 2) ? 0x98 : 0x99, 0, false, 0, 0);
}

static void t_pushpop(Gen *g)
{
    unsigned size = g->mode == 8 ? (chance(g, 20) ? 2 : 8) : (chance(g, 20) ? 2 : 4);
    bool push = g->depth < 0x200 && (g->depth <= -0x200 || rn(g, 2));
    uint32_t avoid = 0;
    if (push) {
        switch (rn(g, 4)) {
        case 0:
            emit_oreg(g, size == 8 ? 0 : size, false, 0x50, pick_reg(g, size, false, 0), false, 0, 0);
            break;
        case 1: { /* push imm8 (sign-extended) */
            Insn *in = new_insn(g);
            if (size == 2) {
                put8(in, 0x66);
            }
            put8(in, 0x6a);
            put8(in, (uint8_t)rnd(g));
            break;
        }
        case 2: {
            Insn *in = new_insn(g);
            if (size == 2) {
                put8(in, 0x66);
            }
            put8(in, 0x68);
            put_le(in, rval(g), size == 2 ? 2 : 4);
            break;
        }
        default: {
            Rm s = mem_operand(g, size, 0, 0, &avoid);
            emit(g, &(Enc){ .size = size == 8 ? 0 : size, .opc = { 0xff }, .nopc = 1, .reg = 6,
                            .rm = &s });
            break;
        }
        }
        g->depth += (int)size;
    } else {
        if (rn(g, 3)) {
            emit_oreg(g, size == 8 ? 0 : size, false, 0x58, pick_reg(g, size, true, 0), false, 0, 0);
        } else {
            Rm d = mem_operand(g, size, 0, 0, &avoid);
            emit(g, &(Enc){ .size = size == 8 ? 0 : size, .opc = { 0x8f }, .nopc = 1, .reg = 0,
                            .rm = &d });
        }
        g->depth -= (int)size;
    }
}

/* Body of a Jcc: flag-neutral, not reading flags, no stack. */
static void body_insn(Gen *g)
{
    switch (rn(g, 6)) {
    case 0: {
        int r = pick_reg(g, 4, true, 0);
        set_reg(g, r, rval(g));
        break;
    }
    case 1: {
        static const uint8_t nops[4][4] = { { 0x90 }, { 0x66, 0x90 }, { 0x0f, 0x1f, 0x00 },
                                           { 0x0f, 0x1f, 0x40, 0x00 } };
        static const unsigned lens[4] = { 1, 2, 3, 4 };
        unsigned k = rn(g, 4);
        Insn *in = new_insn(g);
        for (unsigned i = 0; i < lens[k]; i++) {
            put8(in, nops[k][i]);
        }
        break;
    }
    case 2: t_lea(g); break;
    case 3: {
        unsigned size = pick_size(g, true);
        Rm d = rm_reg(pick_reg(g, size, true, 0));
        emit(g, &(Enc){ .size = size, .opc = { size == 1 ? 0xf6 : 0xf7 }, .nopc = 1, .reg = 2,
                        .rm = &d, .rm_byte = size == 1 });  /* not */
        break;
    }
    case 4: t_bswap(g); break;
    default: {
        unsigned size = pick_size(g, true);
        bool b = size == 1;
        Rm d = rm_reg(pick_reg(g, size, true, 0));
        emit(g, &(Enc){ .size = size, .opc = { b ? 0x88 : 0x89 }, .nopc = 1,
                        .reg = pick_reg(g, size, false, 0), .reg_byte = b, .rm = &d, .rm_byte = b });
        break;
    }
    }
}

static void t_jcc(Gen *g)
{
    unsigned cc = rn(g, 16);
    bool jmp = chance(g, 5);
    if (!jmp) {
        need_flags(g, cond_reads(cc));
    }
    bool near = chance(g, 25);
    Unit *u = g->u;
    unsigned at = u->n;
    Insn *j = new_insn(g);
    (void)j;
    unsigned k = 1 + rn(g, 4);
    for (unsigned i = 0; i < k; i++) {
        bool save_norex = g->norex, save_force = g->forcerex;
        g->norex = g->mode == 4 || rn(g, 2);
        g->forcerex = !g->norex && chance(g, 20);
        body_insn(g);
        g->norex = save_norex;
        g->forcerex = save_force;
    }
    unsigned len = 0;
    for (unsigned i = at + 1; i < u->n; i++) {
        len += u->in[i].len;
    }
    j = &u->in[at];
    j->len = 0;
    if (jmp) {
        put8(j, 0xeb);
        put8(j, (uint8_t)len);
    } else if (near) {
        put8(j, 0x0f);
        put8(j, (uint8_t)(0x80 + cc));
        put_le(j, len, 4);
    } else {
        put8(j, (uint8_t)(0x70 + cc));
        put8(j, (uint8_t)len);
    }
    if (!jmp) {
        fx(g, cond_reads(cc), 0, 0);
    }
}


/* MOVS STOS LODS CMPS SCAS, with or without REP/REPE/REPNE, either direction. */
static void t_string(Gen *g)
{
    static const uint8_t ops[5] = { 0xa4, 0xaa, 0xac, 0xa6, 0xae };
    unsigned k = rn(g, 5);
    unsigned size = pick_size(g, true);
    unsigned rep = rn(g, 3);  /* 0: none, 1: F3, 2: F2 (only CMPS/SCAS) */
    if (k < 3 && rep == 2) {
        rep = 1;
    }
    bool down = chance(g, 30);
    bool a32 = g->mode == 8 && chance(g, 20);  /* 67h: ESI EDI ECX */
    unsigned count = rn(g, 13);
    bool uses_src = k == 0 || k == 2 || k == 3, uses_dst = k != 2;
    uint8_t seg = 0;
    uint64_t segbase = 0;
    if (uses_src && g->mode == 8 && chance(g, 20)) {
        bool fs = rn(g, 2);
        seg = fs ? 0x64 : 0x65;
        segbase = fs ? g->fsbase : g->gsbase;
    }
    uint32_t src = DATA + 0x100 + rn(g, DATA_SIZE - 0x200);
    uint32_t dst = DATA + 0x100 + rn(g, DATA_SIZE - 0x200);
    uint64_t junk = a32 ? rnd(g) << 32 : 0;
    if (uses_src) {
        set_reg(g, RSI, junk | (uint32_t)(src - segbase));
    }
    if (uses_dst) {
        set_reg(g, RDI, junk | dst);
    }
    if (rep) {
        set_reg(g, RCX, junk | count);
    }
    if (down) {
        put8(new_insn(g), 0xfd);  /* std */
    }
    Insn *in = new_insn(g);
    if (seg) {
        put8(in, seg);
    }
    if (rep) {
        put8(in, rep == 1 ? 0xf3 : 0xf2);
    }
    if (size == 2) {
        put8(in, 0x66);
    }
    if (a32) {
        put8(in, 0x67);
    }
    if (size == 8) {
        put8(in, 0x48);
    } else if (g->mode == 8 && g->forcerex) {
        put8(in, 0x40);
    }
    put8(in, (uint8_t)(ops[k] + (size != 1)));
    if (down) {
        Insn *c = new_insn(g);
        put8(c, 0xfc);  /* cld */
    }
    if (k >= 3 && (!rep || count)) {
        fx(g, 0, F_ALL, 0);
    }
}

/* STC CLC CMC SAHF LAHF PUSHF. */
static void t_flagop(Gen *g)
{
    unsigned k = rn(g, 6);
    static const uint8_t ops[6] = { 0xf9, 0xf8, 0xf5, 0x9e, 0x9f, 0x9c };
    uint16_t reads = k == 2 ? F_CF : k == 4 ? (F_ALL & ~F_OF) : k == 5 ? F_ALL : 0;
    need_flags(g, reads);
    Insn *in = new_insn(g);
    if (k == 5) {
        if (chance(g, 20)) {
            put8(in, 0x66);
            g->depth += 2;
        } else {
            g->depth += (int)g->mode;
        }
    }
    put8(in, ops[k]);
    uint16_t def = k <= 2 ? F_CF : k == 3 ? (F_ALL & ~F_OF) : 0;
    fx(g, reads, def, 0);
}

/* SHLD/SHRD by imm8 or CL (16-bit counts above 16 give an undefined result: avoided). */
static void t_shxd(Gen *g)
{
    unsigned size = pick_size(g, false);
    bool right = rn(g, 2), cl = rn(g, 2);
    unsigned w = size * 8;
    unsigned count = chance(g, 50) ? rn(g, w + 1) : rn(g, 256);
    unsigned mc = count & (size == 8 ? 0x3f : 0x1f);
    if (size == 2 && mc > 16) {
        count &= ~0x10u;  /* keep it within the operand */
        mc = count & 0x1f;
    }
    uint32_t avoid = 0;
    if (cl) {
        set_reg(g, RCX, (rnd(g) & 0xffffff00u) | count);
        avoid = 1u << RCX;
    }
    int r = pick_reg(g, size, false, 0);
    g->norip = !cl;  /* peer defect: RIP-relative SHLD/SHRD imm8 misses the imm byte */
    Rm d = pick_rm(g, size, true, &avoid, 40);
    g->norip = false;
    emit(g, &(Enc){ .size = size, .opc = { 0x0f, (uint8_t)((right ? 0xac : 0xa4) + cl) }, .nopc = 2,
                    .reg = r, .rm = &d, .imm = count, .immsz = cl ? 0 : 1 });
    if (mc) {
        uint16_t def = F_SF | F_ZF | F_PF | F_CF, undef = F_AF;
        if (mc == 1) {
            def |= F_OF;
        } else {
            undef |= F_OF;
        }
        fx(g, 0, def, undef);
    }
}

/* The same operand, k bytes further. */
static Rm rm_plus(Rm m, int k)
{
    m.addr += (uint32_t)k;
    if (m.rip) {
        m.target += (uint32_t)k;
    } else {
        m.disp += k;
        if (m.base >= 0 && m.dispsz < 4) {
            m.dispsz = m.disp >= -128 && m.disp <= 127 ? 1 : 4;
        }
    }
    return m;
}

/* CMPXCHG8B / CMPXCHG16B (16-byte aligned). */
static void t_cmpxchgnb(Gen *g)
{
    bool wide = g->mode == 8 && chance(g, 40);
    unsigned sz = wide ? 16 : 8, half = sz / 2;
    uint32_t avoid = 0xf;  /* RAX RCX RDX RBX */
    g->align = wide ? 16 : 0;
    Rm m = mem_operand(g, sz, 0, 0, &avoid);
    if (chance(g, 50)) {
        /* make it succeed: store RDX:RAX there first */
        Rm lo = m, hi = rm_plus(m, (int)half);
        emit(g, &(Enc){ .size = half, .opc = { 0x89 }, .nopc = 1, .reg = RAX, .rm = &lo });
        emit(g, &(Enc){ .size = half, .opc = { 0x89 }, .nopc = 1, .reg = RDX, .rm = &hi });
    }
    emit(g, &(Enc){ .size = wide ? 8 : 0, .lock = chance(g, 30), .opc = { 0x0f, 0xc7 }, .nopc = 2,
                    .reg = 1, .rm = &m });
    /* SDM: only ZF changes. The peer computes the others from a stale CC_OP
     * (garbage), so they cannot be compared. */
    fx(g, 0, F_ZF, F_ALL & ~F_ZF);
}

static void t_xlat(Gen *g)
{
    uint32_t a = DATA + rn(g, DATA_SIZE - 256);
    uint8_t seg = 0;
    uint64_t segbase = 0;
    if (g->mode == 8 && chance(g, 30)) {
        bool fs = rn(g, 2);
        seg = fs ? 0x64 : 0x65;
        segbase = fs ? g->fsbase : g->gsbase;
    }
    set_reg(g, RBX, (uint32_t)(a - segbase));
    Insn *in = new_insn(g);
    if (seg) {
        put8(in, seg);
    }
    if (g->mode == 8 && chance(g, 20)) {
        put8(in, 0x48);
    }
    put8(in, 0xd7);
}

typedef void (*Template)(Gen *g);
static const Template templates[K_NKINDS] = {
    t_mov, t_movx, t_lea, t_alu, t_test, t_incdec, t_negnot, t_shift, t_mul, t_imul,
    t_div, t_bt, t_bsf, t_setcc, t_cmov, t_xchg, t_xadd, t_cmpxchg, t_bswap, t_cbw,
    t_pushpop, t_jcc, t_string, t_flagop, t_shxd, t_cmpxchgnb, t_xlat,
};
/* Relative weights. */
static const unsigned weights[K_NKINDS] = {
    4, 3, 3, 10, 3, 3, 3, 8, 3, 3, 3, 4, 2, 3, 3, 3, 2, 3, 1, 1, 3, 4, 4, 2, 3, 2, 1,
};

/* FS and GS bases of a sequence (64-bit mode): one low, one just below 2^64. */
static void seg_bases(uint64_t seed, uint64_t *fs, uint64_t *gs)
{
    Gen g = { .rng = seed ^ 0xf5f5f5f5ull };
    *fs = rn(&g, 0x8000);
    *gs = 0xfffffffffff00000ull + rn(&g, 0x10000);
}

static void generate(Seq *s, uint64_t seed, unsigned mode, unsigned nunits)
{
    Gen g = { .rng = seed * 0x2545f4914f6cdd1dull + mode, .mode = mode };
    seg_bases(seed, &g.fsbase, &g.gsbase);
    unsigned total = 0;
    for (unsigned k = 0; k < K_NKINDS; k++) {
        total += weights[k];
    }
    s->n = 0;
    for (unsigned i = 0; i < nunits && i < MAX_UNITS; i++) {
        Unit *u = &s->u[s->n++];
        memset(u, 0, sizeof(*u));
        unsigned pick = rn(&g, total), k = 0;
        while (pick >= weights[k]) {
            pick -= weights[k++];
        }
        g.u = u;
        g.u_def = g.u_undef = g.u_reads = 0;
        g.norex = mode == 4 || chance(&g, 35);
        g.forcerex = !g.norex && chance(&g, 15);
        u->kind = (int)k;
        templates[k](&g);
        u->reads = g.u_reads;
        u->def = g.u_def;
        u->undef = g.u_undef;
    }
}

/* Flags undefined after the included units; false if one reads an undefined flag. */
static bool seq_flags(const Seq *s, const bool *incl, uint16_t *undef_out)
{
    uint16_t undef = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (!incl[i]) {
            continue;
        }
        const Unit *u = &s->u[i];
        if (u->reads & undef) {
            return false;
        }
        undef = (uint16_t)((undef & ~u->def) | u->undef);
    }
    *undef_out = undef;
    return true;
}

/* ------------------------------------------------------------------ */
/* Layout. */

typedef struct Code {
    uint8_t b[CODE_MAX];
    unsigned len;
    unsigned n;
    uint32_t start[MAX_INSNS + 1];
    int unit_of[MAX_INSNS + 1];
    uint32_t maddr[MAX_INSNS + 1];
    uint32_t hlt;  /* address of the final HLT */
} Code;

static void layout(const Seq *s, const bool *incl, Code *c)
{
    c->len = 0;
    c->n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (!incl[i]) {
            continue;
        }
        for (unsigned j = 0; j < s->u[i].n; j++) {
            const Insn *in = &s->u[i].in[j];
            g_assert(c->len + in->len + 1 <= CODE_MAX);
            uint32_t at = CODE + c->len;
            memcpy(c->b + c->len, in->b, in->len);
            if (in->rip_off >= 0) {
                uint32_t d = in->rip_target - (at + in->len);
                memcpy(c->b + c->len + in->rip_off, &d, 4);
            }
            c->start[c->n] = at;
            c->maddr[c->n] = in->maddr;
            c->unit_of[c->n++] = (int)i;
            c->len += in->len;
        }
    }
    c->hlt = CODE + c->len;
    c->start[c->n] = c->hlt;
    c->unit_of[c->n] = -1;
    c->maddr[c->n] = 0;
    c->b[c->len++] = 0xf4;
}

/* ------------------------------------------------------------------ */
/* Machine state. */

typedef struct State {
    uint64_t regs[16];
    uint64_t rip;
    uint32_t eflags;
    uint64_t fsbase, gsbase;
    uint8_t data[DATA_SIZE];
    uint8_t stack[STACK_SIZE];
    bool ok;          /* reached the HLT */
    char why[96];     /* otherwise: what happened */
} State;

static void init_state(State *st, uint64_t seed, unsigned mode)
{
    Gen g = { .rng = seed ^ 0x5157a7e5eedull, .mode = mode };
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < 16; i++) {
        uint64_t v = rval(&g);
        st->regs[i] = mode == 4 ? (uint32_t)v : v;
    }
    st->regs[RSP] = SP0;
    if (mode == 4) {
        for (int i = 8; i < 16; i++) {
            st->regs[i] = 0;
        }
    }
    st->rip = CODE;
    if (mode == 8) {
        seg_bases(seed, &st->fsbase, &st->gsbase);
    }
    st->eflags = 2u | ((uint32_t)rnd(&g) & F_ALL);
    for (unsigned i = 0; i < DATA_SIZE; i++) {
        unsigned r = rn(&g, 16);
        st->data[i] = r == 0 ? 0 : r == 1 ? 0xff : r == 2 ? 0x80 : r == 3 ? 0x7f : (uint8_t)rnd(&g);
    }
    for (unsigned i = 0; i < STACK_SIZE; i++) {
        st->stack[i] = (uint8_t)rnd(&g);
    }
}

/* --- mmusim --- */

typedef struct Mm {
    MemRegion *global, *ram, *io_root;
    CpuView *view;
    AddressSpace *io_as;
    CodeCache *cc;
    X86Cpu *cpu;
    uint8_t *mem;
} Mm;

static void mm_put(Mm *m, uint64_t addr, const void *p, size_t len)
{
    mr_note_write(m->ram, addr, len);
    memcpy(m->mem + addr, p, len);
}

static void mm_new(Mm *m, unsigned mode)
{
    GError *err = NULL;
    memset(m, 0, sizeof(*m));
    m->global = mr_new_container("global", MEM_SIZE_FULL, &err);
    m->ram = mr_new_ram("ram", RAM_SIZE, &err);
    ck_assert_ptr_nonnull(m->ram);
    ck_assert(mr_add_subregion(m->global, 0, m->ram, &err));
    m->mem = mr_ram_ptr(m->ram);
    memset(m->mem, 0, RAM_SIZE);
    CpuViewConfig cfg = { .cpu_index = 0, .global_map = m->global };
    m->view = cpu_view_new(&cfg, &err);
    ck_assert_ptr_nonnull(m->view);
    m->io_root = mr_new_container("io", 0x10000, &err);
    m->io_as = as_new("io", m->io_root, &err);
    ck_assert_ptr_nonnull(m->io_as);
    m->cc = code_cache_new();
    m->cpu = x86_cpu_new(0, m->view, m->io_as, m->cc, NULL, NULL, &err);
    ck_assert_msg(m->cpu != NULL, "x86_cpu_new: %s", err ? err->message : "?");

    X86Cpu *cpu = m->cpu;
    x86_cpu_reset(cpu);
    cpu->gdtr = (X86Table){ 0, 0 };
    cpu->idtr = (X86Table){ 0, 0 };  /* any exception ends in a triple fault */
    if (mode == 4) {
        cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
        cpu->segs[S_CS] = (X86Seg){ 0x08, 0, 0xffffffffu, 0xc09b };
    } else {
        /* Identity map of the first GiB with 2 MiB pages. */
        uint64_t e = (PT + 0x1000) | 7;
        mm_put(m, PT, &e, 8);
        e = (PT + 0x2000) | 7;
        mm_put(m, PT + 0x1000, &e, 8);
        for (unsigned i = 0; i < 512; i++) {
            e = ((uint64_t)i << 21) | 0x87;
            mm_put(m, PT + 0x2000 + 8 * i, &e, 8);
        }
        cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
        cpu->cr4 = X86_CR4_PAE;
        cpu->cr3 = PT;
        cpu->efer = X86_EFER_LME | X86_EFER_LMA;
        cpu->segs[S_CS] = (X86Seg){ 0x08, 0, 0xffffffffu, 0xa09b };
    }
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = (X86Seg){ 0x10, 0, 0xffffffffu, 0xc093 };
        }
    }
    cpu->tr = (X86Seg){ 0x18, 0, 0x67, 0x8b };
    cpu->cpl = 0;
    x86_paging_changed(cpu, false);
}

static void mm_free(Mm *m)
{
    x86_cpu_free(m->cpu);
    code_cache_free(m->cc);
    as_free(m->io_as);
    mr_unref(m->io_root);
    cpu_view_free(m->view);
    mr_unref(m->ram);
    mr_unref(m->global);
}

static void mm_run(Mm *m, unsigned mode, const Code *c, const State *in, State *out)
{
    X86Cpu *cpu = m->cpu;
    mm_put(m, CODE, c->b, c->len);
    mm_put(m, DATA, in->data, DATA_SIZE);
    mm_put(m, STACK, in->stack, STACK_SIZE);
    for (int i = 0; i < 16; i++) {
        cpu->regs[i] = in->regs[i];
    }
    cpu->rip = in->rip;
    cpu->segs[S_FS].base = in->fsbase;
    cpu->segs[S_GS].base = in->gsbase;
    x86_set_eflags(cpu, in->eflags, ~0u);
    cpu->halted = false;
    cpu->exc_depth = 0;
    cpu->exc.vector = -1;
    X86Exit e = x86_cpu_run(cpu, 4 * MAX_INSNS);
    out->ok = e == X86_EXIT_HALTED && cpu->rip == (uint64_t)c->hlt + 1;
    if (!out->ok) {
        snprintf(out->why, sizeof(out->why), "exit %d at rip 0x%" PRIx64 "%s", (int)e, cpu->rip,
                 e == X86_EXIT_SHUTDOWN ? " (triple fault: an exception)" : "");
    }
    for (int i = 0; i < 16; i++) {
        out->regs[i] = mode == 4 ? (uint32_t)cpu->regs[i] : cpu->regs[i];
    }
    out->rip = cpu->rip - (out->ok ? 1 : 0);  /* HLT retired: compare its address */
    out->eflags = x86_get_eflags(cpu);
    out->fsbase = cpu->segs[S_FS].base;
    out->gsbase = cpu->segs[S_GS].base;
    memcpy(out->data, m->mem + DATA, DATA_SIZE);
    memcpy(out->stack, m->mem + STACK, STACK_SIZE);
}

/* --- Unicorn --- */

static const int uc_regs64[16] = {
    UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
    UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
};
static const int uc_regs32[8] = {
    UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
    UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI,
};

static uc_engine *uc_new(unsigned mode)
{
    uc_engine *uc = NULL;
    uc_err e = uc_open(UC_ARCH_X86, mode == 8 ? UC_MODE_64 : UC_MODE_32, &uc);
    ck_assert_msg(e == UC_ERR_OK, "uc_open: %s", uc_strerror(e));
    e = uc_mem_map(uc, 0, RAM_SIZE, UC_PROT_ALL);
    ck_assert_msg(e == UC_ERR_OK, "uc_mem_map: %s", uc_strerror(e));
    return uc;
}

static void uc_run(uc_engine *uc, unsigned mode, const Code *c, const State *in, State *out)
{
    unsigned n = mode == 8 ? 16 : 8;
    uc_mem_write(uc, CODE, c->b, c->len);
    uc_ctl_remove_cache(uc, CODE, CODE + c->len);
    uc_mem_write(uc, DATA, in->data, DATA_SIZE);
    uc_mem_write(uc, STACK, in->stack, STACK_SIZE);
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = in->regs[i];
        uc_reg_write(uc, mode == 8 ? uc_regs64[i] : uc_regs32[i], &v);
    }
    uint64_t v = in->eflags;
    uc_reg_write(uc, UC_X86_REG_EFLAGS, &v);
    if (mode == 8) {
        uc_reg_write(uc, UC_X86_REG_FS_BASE, &in->fsbase);
        uc_reg_write(uc, UC_X86_REG_GS_BASE, &in->gsbase);
    }
    v = in->rip;
    uc_reg_write(uc, mode == 8 ? UC_X86_REG_RIP : UC_X86_REG_EIP, &v);
    uc_err e = uc_emu_start(uc, CODE, c->hlt, 0, 0);
    memset(out->regs, 0, sizeof(out->regs));
    for (unsigned i = 0; i < n; i++) {
        uint64_t r = 0;
        uc_reg_read(uc, mode == 8 ? uc_regs64[i] : uc_regs32[i], &r);
        out->regs[i] = mode == 4 ? (uint32_t)r : r;
    }
    uint64_t r = 0;
    uc_reg_read(uc, mode == 8 ? UC_X86_REG_RIP : UC_X86_REG_EIP, &r);
    out->rip = mode == 4 ? (uint32_t)r : r;
    r = 0;
    uc_reg_read(uc, UC_X86_REG_EFLAGS, &r);
    out->eflags = (uint32_t)r;
    out->fsbase = in->fsbase;
    out->gsbase = in->gsbase;
    if (mode == 8) {
        uc_reg_read(uc, UC_X86_REG_FS_BASE, &out->fsbase);
        uc_reg_read(uc, UC_X86_REG_GS_BASE, &out->gsbase);
    }
    uc_mem_read(uc, DATA, out->data, DATA_SIZE);
    uc_mem_read(uc, STACK, out->stack, STACK_SIZE);
    out->ok = e == UC_ERR_OK && out->rip == c->hlt;
    if (!out->ok) {
        snprintf(out->why, sizeof(out->why), "uc_emu_start: %s, rip 0x%" PRIx64, uc_strerror(e),
                 out->rip);
    }
}

/* ------------------------------------------------------------------ */
/* Comparison and reports. */

static const char *const reg_names64[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* The first difference, or false; *key identifies what differs. */
static bool differ(unsigned mode, uint16_t undef, const State *a, const State *b, char *what,
                   size_t len, unsigned *key)
{
    *key = 0;
    if (a->ok != b->ok) {
        snprintf(what, len, "mmusim %s, unicorn %s", a->ok ? "reached hlt" : a->why,
                 b->ok ? "reached hlt" : b->why);
        return true;
    }
    if (!a->ok) {
        return false;  /* both raised an exception: nothing comparable */
    }
    unsigned n = mode == 8 ? 16 : 8;
    for (unsigned i = 0; i < n; i++) {
        if (a->regs[i] != b->regs[i]) {
            *key = 1 + i;
            snprintf(what, len, "%s%s: mmusim 0x%" PRIx64 ", unicorn 0x%" PRIx64,
                     mode == 8 ? "" : "e", mode == 8 ? reg_names64[i] : reg_names64[i] + 1,
                     a->regs[i], b->regs[i]);
            return true;
        }
    }
    if (a->rip != b->rip) {
        *key = 20;
        snprintf(what, len, "rip: mmusim 0x%" PRIx64 ", unicorn 0x%" PRIx64, a->rip, b->rip);
        return true;
    }
    uint32_t fm = F_ALL & ~undef;
    if ((a->eflags ^ b->eflags) & fm) {
        *key = 100 + (unsigned)__builtin_ctz((a->eflags ^ b->eflags) & fm);
        static const struct { uint32_t bit; const char *name; } fl[6] = {
            { F_CF, "CF" }, { F_PF, "PF" }, { F_AF, "AF" }, { F_ZF, "ZF" }, { F_SF, "SF" },
            { F_OF, "OF" },
        };
        char names[32] = "";
        for (int i = 0; i < 6; i++) {
            if ((a->eflags ^ b->eflags) & fm & fl[i].bit) {
                g_strlcat(names, fl[i].name, sizeof(names));
                g_strlcat(names, " ", sizeof(names));
            }
        }
        snprintf(what, len, "flags %s: mmusim eflags 0x%x, unicorn 0x%x (compared 0x%x)", names,
                 a->eflags, b->eflags, fm);
        return true;
    }
    for (unsigned i = 0; i < DATA_SIZE; i++) {
        if (a->data[i] != b->data[i]) {
            *key = 1000 + i;
            snprintf(what, len, "byte [0x%x]: mmusim 0x%02x, unicorn 0x%02x", DATA + i,
                     a->data[i], b->data[i]);
            return true;
        }
    }
    for (unsigned i = 0; i < STACK_SIZE; i++) {
        if (a->stack[i] != b->stack[i]) {
            *key = 100000 + i;
            snprintf(what, len, "stack byte [0x%x]: mmusim 0x%02x, unicorn 0x%02x", STACK + i,
                     a->stack[i], b->stack[i]);
            return true;
        }
    }
    return false;
}

typedef struct Ctx {
    unsigned mode;
    Mm mm;
    uc_engine *uc;
    Seq seq;
    Code code;
    State init, a, b;
    unsigned long insns;        /* instructions laid out, all sequences */
    unsigned long units[K_NKINDS];
    unsigned mismatches;
    unsigned both_faulted;      /* a generator bug: the sequence tested nothing */
} Ctx;

/* Run the included units on both; true (with the difference) if they disagree. */
static bool trial(Ctx *x, const bool *incl, char *what, size_t len, unsigned *key)
{
    uint16_t undef;
    if (!seq_flags(&x->seq, incl, &undef)) {
        return false;  /* not a valid sequence (reads an undefined flag) */
    }
    layout(&x->seq, incl, &x->code);
    mm_run(&x->mm, x->mode, &x->code, &x->init, &x->a);
    uc_run(x->uc, x->mode, &x->code, &x->init, &x->b);
    return differ(x->mode, undef, &x->a, &x->b, what, len, key);
}

static void print_code(FILE *f, const Ctx *x)
{
    const Code *c = &x->code;
    int last = -2;
    for (unsigned i = 0; i <= c->n; i++) {
        uint32_t at = c->start[i];
        unsigned len = (i < c->n ? c->start[i + 1] : c->hlt + 1) - at;
        char text[128];
        x86_disasm(c->b + (at - CODE), len, x->mode, at, text, sizeof(text));
        char hex[48] = "";
        for (unsigned k = 0; k < len && k < 15; k++) {
            char h[4];
            snprintf(h, sizeof(h), "%02x ", c->b[at - CODE + k]);
            g_strlcat(hex, h, sizeof(hex));
        }
        const char *tag = "";
        if (c->unit_of[i] != last) {
            tag = c->unit_of[i] >= 0 ? kind_names[x->seq.u[c->unit_of[i]].kind] : "end";
            last = c->unit_of[i];
        }
        fprintf(f, "    %05x: %-45s %-40s %s\n", at, hex, text, tag);
    }
}

static void print_state(FILE *f, const Ctx *x, const State *s, const char *title)
{
    unsigned n = x->mode == 8 ? 16 : 8;
    fprintf(f, "  %s:", title);
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "%s%s=%0*" PRIx64, i % 4 ? " " : "\n    ", reg_names64[i],
                x->mode == 8 ? 16 : 8, s->regs[i]);
    }
    fprintf(f, "\n    eflags=0x%x", s->eflags);
    if (x->mode == 8) {
        fprintf(f, " fs.base=0x%" PRIx64 " gs.base=0x%" PRIx64, s->fsbase, s->gsbase);
    }
    fprintf(f, "\n");
}

static void print_mem(FILE *f, const Ctx *x)
{
    const Code *c = &x->code;
    for (unsigned i = 0; i < c->n; i++) {
        uint32_t a = c->maddr[i];
        if (!a) {
            continue;
        }
        const State *st[3] = { &x->init, &x->a, &x->b };
        static const char *const names[3] = { "initial", "mmusim", "unicorn" };
        fprintf(f, "    [0x%05x]:", a);
        for (int k = 0; k < 3; k++) {
            fprintf(f, " %s", names[k]);
            for (unsigned j = 0; j < 8 && a - DATA + j < DATA_SIZE; j++) {
                fprintf(f, " %02x", st[k]->data[a - DATA + j]);
            }
            fprintf(f, k < 2 ? ";" : "\n");
        }
    }
}

/* Shrink a failing sequence by dropping units (keeping what differs), then print it. */
static void report(Ctx *x, uint64_t seed, const char *first, unsigned key)
{
    bool incl[MAX_UNITS];
    char what[256];
    unsigned k;
    for (unsigned i = 0; i < x->seq.n; i++) {
        incl[i] = true;
    }
    for (int pass = 0; pass < 3; pass++) {
        bool progress = false;
        for (int i = (int)x->seq.n - 1; i >= 0; i--) {
            if (!incl[i]) {
                continue;
            }
            incl[i] = false;
            if (trial(x, incl, what, sizeof(what), &k) && k == key) {
                progress = true;
            } else {
                incl[i] = true;
            }
        }
        if (!progress) {
            break;
        }
    }
    bool again = trial(x, incl, what, sizeof(what), &k);
    g_assert(again && k == key);
    uint16_t undef = 0;
    seq_flags(&x->seq, incl, &undef);
    fprintf(stderr, "\nx86_diff MISMATCH: %u-bit mode, seed %" PRIu64 "\n  first seen: %s\n"
            "  minimal sequence (%u instructions):\n", x->mode == 8 ? 64 : 32, seed, first,
            x->code.n);
    print_code(stderr, x);
    fprintf(stderr, "  difference: %s\n  undefined flags at the end: 0x%x\n", what, undef);
    print_state(stderr, x, &x->init, "initial state");
    print_state(stderr, x, &x->a, "mmusim");
    print_state(stderr, x, &x->b, "unicorn");
    print_mem(stderr, x);
}

static unsigned env_uint(const char *name, unsigned dflt)
{
    const char *s = getenv(name);
    return s && *s ? (unsigned)strtoul(s, NULL, 0) : dflt;
}

static void run_mode(unsigned mode)
{
    Ctx *x = g_new0(Ctx, 1);
    x->mode = mode;
    mm_new(&x->mm, mode);
    x->uc = uc_new(mode);
    unsigned n = env_uint("MMUSIM_X86_DIFF_N", 6000);
    bool keep = env_uint("MMUSIM_X86_DIFF_KEEP_GOING", 0) != 0;
    const char *one = getenv("MMUSIM_X86_DIFF_SEED");
    uint64_t first_seed = mode == 8 ? 640000 : 320000;
    if (one && *one) {
        first_seed = strtoull(one, NULL, 0);
        n = 1;
    }
    gint64 t0 = g_get_monotonic_time();
    unsigned done = 0;
    for (unsigned i = 0; i < n; i++) {
        done++;
        uint64_t seed = first_seed + i;
        generate(&x->seq, seed, mode, 8 + (unsigned)(seed % 25));
        init_state(&x->init, seed, mode);
        bool incl[MAX_UNITS];
        for (unsigned k = 0; k < x->seq.n; k++) {
            incl[k] = true;
            x->units[x->seq.u[k].kind]++;
        }
        char what[256];
        unsigned key;
        bool bad = trial(x, incl, what, sizeof(what), &key);
        x->insns += x->code.n;
        if (!bad && !x->a.ok) {
            x->both_faulted++;
            fprintf(stderr, "x86_diff: seed %" PRIu64 " faults on both (%s; %s)\n", seed, x->a.why,
                    x->b.why);
        }
        if (one && *one) {
            fprintf(stderr, "seed %" PRIu64 " (%u-bit):\n", seed, mode == 8 ? 64 : 32);
            print_code(stderr, x);
            print_state(stderr, x, &x->init, "initial state");
            print_state(stderr, x, &x->a, "mmusim");
            print_state(stderr, x, &x->b, "unicorn");
        }
        if (bad) {
            x->mismatches++;
            report(x, seed, what, key);
            if (!keep) {
                break;
            }
        }
    }
    double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
    fprintf(stderr, "x86_diff %u-bit: %u sequences, %lu instructions, %u mismatching, %.2f s\n  units:",
            mode == 8 ? 64 : 32, done, x->insns, x->mismatches, secs);
    for (unsigned k = 0; k < K_NKINDS; k++) {
        fprintf(stderr, " %s=%lu", kind_names[k], x->units[k]);
    }
    fprintf(stderr, "\n");
    unsigned bad = x->mismatches, faulted = x->both_faulted;
    uc_close(x->uc);
    mm_free(&x->mm);
    g_free(x);
    ck_assert_msg(faulted == 0, "%u sequence(s) fault on both: the generator is wrong", faulted);
    ck_assert_msg(bad == 0, "%u sequence(s) differ between mmusim and Unicorn (%u-bit mode); "
                  "see the report above", bad, mode == 8 ? 64 : 32);
}

START_TEST(test_diff_pm32)
{
    run_mode(4);
}
END_TEST

START_TEST(test_diff_lm64)
{
    run_mode(8);
}
END_TEST

static Suite *x86_diff_suite(void)
{
    Suite *s = suite_create("x86_diff");
    TCase *tc = tcase_create("unicorn");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_diff_pm32);
    tcase_add_test(tc, test_diff_lm64);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(x86_diff_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#else /* !MMUSIM_HAVE_UNICORN */

int main(void)
{
    printf("test_x86_diff: skipped: Unicorn (libunicorn-dev) is not installed\n");
    return 77;  /* CTest SKIP_RETURN_CODE */
}

#endif
