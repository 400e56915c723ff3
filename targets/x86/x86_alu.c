/*
 * x86 integer arithmetic and EFLAGS: the out-of-line helpers.
 *
 * Written from the Intel SDM Vol. 2 / AMD APM Vol. 3 instruction pages;
 * the behaviour of flags and results those call undefined was measured on
 * the AMD Zen 5 host the differential test (tests/test_x86_alu.c) runs on,
 * and is listed at the top of x86_alu.h.
 */
#include "targets/x86/x86_alu.h"

/* ------------------------------------------------------------------ */
/* Materialising. */

uint32_t x86_flags_get(const X86LazyFlags *lf)
{
    const unsigned size = lf->size;
    const unsigned sh = size * 8 - 1;
    const uint64_t r = lf->res, a = lf->src1, b = lf->src2;
    uint32_t cf, of, af;

    switch ((X86CCOp)lf->op) {
    case X86_CC_EFLAGS:
        return (uint32_t)a & X86_ARITH_FLAGS;
    case X86_CC_ADD:
        cf = r < a;
        of = (((a ^ r) & (b ^ r)) >> sh) & 1;
        af = (uint32_t)(a ^ b ^ r) & X86_AF;
        break;
    case X86_CC_ADC:
        /* Carry out of the top bit: both set, or one set and no result bit. */
        cf = (((a & b) | ((a | b) & ~r)) >> sh) & 1;
        of = (((a ^ r) & (b ^ r)) >> sh) & 1;
        af = (uint32_t)(a ^ b ^ r) & X86_AF;
        break;
    case X86_CC_SUB:
        cf = a < b;
        of = (((a ^ b) & (a ^ r)) >> sh) & 1;
        af = (uint32_t)(a ^ b ^ r) & X86_AF;
        break;
    case X86_CC_SBB:
        cf = (((~a & b) | (~(a ^ b) & r)) >> sh) & 1;
        of = (((a ^ b) & (a ^ r)) >> sh) & 1;
        af = (uint32_t)(a ^ b ^ r) & X86_AF;
        break;
    case X86_CC_LOGIC:
        return x86_alu_szp(r, size);
    case X86_CC_INC:
        cf = lf->aux & 1;
        of = r == x86_alu_sign_bit(size);
        af = (r & 0xf) == 0 ? X86_AF : 0;
        break;
    case X86_CC_DEC:
        cf = lf->aux & 1;
        of = r == x86_alu_sign_bit(size) - 1;
        af = (r & 0xf) == 0xf ? X86_AF : 0;
        break;
    case X86_CC_SHL:
        cf = (uint32_t)x86_alu_shl_cf(a, (unsigned)b, size);
        of = cf ^ (uint32_t)(((a << b) >> sh) & 1);
        af = X86_AF;
        break;
    case X86_CC_SHR:
        cf = (a >> (b - 1)) & 1;
        of = (uint32_t)(((r ^ (r << 1)) >> sh) & 1);
        af = X86_AF;
        break;
    case X86_CC_SAR:
        cf = (uint32_t)((uint64_t)(x86_alu_sext(a, size) >> (b - 1)) & 1);
        of = 0;
        af = X86_AF;
        break;
    default:
        return 0;
    }
    return x86_alu_szp(r, size) | cf | af | (of ? X86_OF : 0);
}

/* Keep the previous flags outside `mask`, set `value` inside it. */
static inline void set_flags_keep(X86LazyFlags *lf, uint32_t mask, uint32_t value)
{
    uint32_t f = x86_flags_get(lf);
    x86_flags_set(lf, (f & ~mask) | value);
}

/* ------------------------------------------------------------------ */
/* Rotates. */

static inline unsigned bits_of(unsigned size) { return size * 8; }

uint64_t x86_rol(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    a &= m;
    count &= x86_alu_count_mask(size);
    if (count == 0) {
        return a;
    }
    unsigned c = count & (n - 1);
    uint64_t r = c ? ((a << c) | (a >> (n - c))) & m : a;
    uint32_t cf = r & 1;
    uint32_t of = ((r >> (n - 1)) & 1) ^ cf;
    set_flags_keep(lf, X86_CF | X86_OF, cf | (of ? X86_OF : 0));
    return r;
}

uint64_t x86_ror(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    a &= m;
    count &= x86_alu_count_mask(size);
    if (count == 0) {
        return a;
    }
    unsigned c = count & (n - 1);
    uint64_t r = c ? ((a >> c) | (a << (n - c))) & m : a;
    uint32_t cf = (r >> (n - 1)) & 1;
    uint32_t of = cf ^ ((r >> (n - 2)) & 1);
    set_flags_keep(lf, X86_CF | X86_OF, cf | (of ? X86_OF : 0));
    return r;
}

/* The effective RCL/RCR count: mod 9 / 17 for 8/16-bit operands. */
static inline unsigned rc_count(unsigned size, unsigned count)
{
    count &= x86_alu_count_mask(size);
    if (size == 1) {
        return count % 9;
    }
    if (size == 2) {
        return count % 17;
    }
    return count;
}

uint64_t x86_rcl(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    a &= m;
    if ((count & x86_alu_count_mask(size)) == 0) {
        return a;
    }
    uint32_t f = x86_flags_get(lf);
    uint64_t cin = f & X86_CF;
    unsigned c = rc_count(size, count);
    uint64_t r = a;
    uint32_t cf = (uint32_t)cin;
    if (c) {
        /* Rotate the n+1-bit value CF:a left by c (1 <= c <= n). */
        r = (a << c) | (cin << (c - 1));
        if (c > 1) {
            r |= a >> (n + 1 - c);
        }
        r &= m;
        cf = (a >> (n - c)) & 1;
    }
    uint32_t of = ((r >> (n - 1)) & 1) ^ cf;
    x86_flags_set(lf, (f & ~(X86_CF | X86_OF)) | cf | (of ? X86_OF : 0));
    return r;
}

uint64_t x86_rcr(X86LazyFlags *lf, unsigned size, uint64_t a, unsigned count)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    a &= m;
    if ((count & x86_alu_count_mask(size)) == 0) {
        return a;
    }
    uint32_t f = x86_flags_get(lf);
    uint64_t cin = f & X86_CF;
    unsigned c = rc_count(size, count);
    uint64_t r = a;
    uint32_t cf = (uint32_t)cin;
    if (c) {
        /* Rotate the n+1-bit value CF:a right by c (1 <= c <= n). */
        r = (a >> c) | (cin << (n - c));
        if (c > 1) {
            r |= a << (n + 1 - c);
        }
        r &= m;
        cf = (a >> (c - 1)) & 1;
    }
    uint32_t of = ((r >> (n - 1)) ^ (r >> (n - 2))) & 1;
    x86_flags_set(lf, (f & ~(X86_CF | X86_OF)) | cf | (of ? X86_OF : 0));
    return r;
}

/* ------------------------------------------------------------------ */
/* Double-precision shifts. The flags are those of SHL/SHR of the
 * destination alone, except that SF/ZF/PF (and SHRD's OF) come from the
 * real result, so the lazy SHL/SHR records serve (see x86_flags_get). */

uint64_t x86_shld(X86LazyFlags *lf, unsigned size, uint64_t dst, uint64_t src, unsigned count)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    dst &= m;
    src &= m;
    count &= x86_alu_count_mask(size);
    if (count == 0) {
        return dst;
    }
    uint64_t r;
    if (size == 2) {
        /* dst:src:src, so counts 17..31 rotate src (measured). */
        uint64_t w = (dst << 32) | (src << 16) | src;
        r = (w >> (32 - count)) & m;
    } else {
        r = ((dst << count) | (src >> (n - count))) & m;   /* 1 <= count < n */
    }
    x86_alu_record(lf, X86_CC_SHL, size, r, dst, count);
    return r;
}

uint64_t x86_shrd(X86LazyFlags *lf, unsigned size, uint64_t dst, uint64_t src, unsigned count)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    dst &= m;
    src &= m;
    count &= x86_alu_count_mask(size);
    if (count == 0) {
        return dst;
    }
    uint64_t r;
    if (size == 2) {
        /* src:src:dst, so counts 17..31 rotate src (measured). */
        uint64_t w = (src << 32) | (src << 16) | dst;
        r = (w >> count) & m;
    } else {
        r = ((dst >> count) | (src << (n - count))) & m;   /* 1 <= count < n */
    }
    x86_alu_record(lf, X86_CC_SHR, size, r, dst, count);
    return r;
}

/* ------------------------------------------------------------------ */
/* Multiply. SF ZF AF PF are kept (measured); CF = OF = overflow. */

static inline void set_mul_flags(X86LazyFlags *lf, bool overflow)
{
    set_flags_keep(lf, X86_CF | X86_OF, overflow ? (X86_CF | X86_OF) : 0);
}

uint64_t x86_mul(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b, uint64_t *hi)
{
    const uint64_t m = x86_alu_mask(size);
    uint64_t lo, h;
    a &= m;
    b &= m;
    if (size == 8) {
        unsigned __int128 p = (unsigned __int128)a * b;
        lo = (uint64_t)p;
        h = (uint64_t)(p >> 64);
    } else {
        uint64_t p = a * b;   /* < 2^64 */
        lo = p & m;
        h = p >> bits_of(size);
    }
    set_mul_flags(lf, h != 0);
    *hi = h;
    return lo;
}

/* Signed product: low half, high half, and whether the high half matters. */
static inline uint64_t imul_full(unsigned size, uint64_t a, uint64_t b, uint64_t *hi,
                                 bool *overflow)
{
    const uint64_t m = x86_alu_mask(size);
    int64_t sa = x86_alu_sext(a, size), sb = x86_alu_sext(b, size);
    if (size == 8) {
        __int128 p = (__int128)sa * sb;
        uint64_t lo = (uint64_t)p;
        *hi = (uint64_t)((unsigned __int128)p >> 64);
        *overflow = p != (__int128)(int64_t)lo;
        return lo;
    }
    int64_t p = sa * sb;   /* |p| <= 2^62 */
    uint64_t lo = (uint64_t)p & m;
    *hi = ((uint64_t)p >> bits_of(size)) & m;
    *overflow = x86_alu_sext(lo, size) != p;
    return lo;
}

uint64_t x86_imul1(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b, uint64_t *hi)
{
    bool ovf;
    uint64_t lo = imul_full(size, a, b, hi, &ovf);
    set_mul_flags(lf, ovf);
    return lo;
}

uint64_t x86_imul(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t b)
{
    uint64_t hi;
    bool ovf;
    uint64_t lo = imul_full(size, a, b, &hi, &ovf);
    set_mul_flags(lf, ovf);
    return lo;
}

/* ------------------------------------------------------------------ */
/* Divide. After a division CF and OF are kept, SF = ZF = PF = 0, AF = 1
 * (measured, independent of the operands). */

static inline void set_div_flags(X86LazyFlags *lf)
{
    uint32_t f = x86_flags_get(lf);
    x86_flags_set(lf, (f & (X86_CF | X86_OF)) | X86_AF);
}

bool x86_div(X86LazyFlags *lf, unsigned size, uint64_t hi, uint64_t lo, uint64_t divisor,
             uint64_t *quot, uint64_t *rem)
{
    const uint64_t m = x86_alu_mask(size);
    hi &= m;
    lo &= m;
    divisor &= m;
    /* The quotient fits in `size` exactly when hi < divisor. */
    if (divisor == 0 || hi >= divisor) {
        return true;
    }
    uint64_t q, r;
    if (size == 8) {
        if (hi == 0) {
            q = lo / divisor;
            r = lo % divisor;
        } else {
            unsigned __int128 n = ((unsigned __int128)hi << 64) | lo;
            q = (uint64_t)(n / divisor);
            r = (uint64_t)(n % divisor);
        }
    } else {
        uint64_t n = (hi << bits_of(size)) | lo;
        q = n / divisor;
        r = n % divisor;
    }
    set_div_flags(lf);
    *quot = q;
    *rem = r;
    return false;
}

bool x86_idiv(X86LazyFlags *lf, unsigned size, uint64_t hi, uint64_t lo, uint64_t divisor,
              uint64_t *quot, uint64_t *rem)
{
    const unsigned n = bits_of(size);
    const uint64_t m = x86_alu_mask(size);
    hi &= m;
    lo &= m;
    divisor &= m;
    if (divisor == 0) {
        return true;
    }
    bool nneg = (hi >> (n - 1)) & 1;
    bool dneg = (divisor >> (n - 1)) & 1;
    uint64_t ud = dneg ? (-divisor & m) : divisor;   /* |divisor|, up to 2^(n-1) */
    uint64_t uq, ur;
    bool qbig = false;
    if (size == 8) {
        unsigned __int128 un = ((unsigned __int128)hi << 64) | lo;
        if (nneg) {
            un = -un;   /* |dividend|, up to 2^127 */
        }
        unsigned __int128 q128 = un / ud;
        qbig = (q128 >> 64) != 0;
        uq = (uint64_t)q128;
        ur = (uint64_t)(un % ud);
    } else {
        /* The 2n-bit dividend fits in 64 bits. */
        int64_t sn = x86_alu_sext((hi << n) | lo, 2 * size);
        uint64_t un = nneg ? -(uint64_t)sn : (uint64_t)sn;   /* up to 2^63 */
        uq = un / ud;
        ur = un % ud;
    }
    bool qneg = nneg != dneg;
    uint64_t limit = (UINT64_C(1) << (n - 1)) - (qneg ? 0 : 1);
    if (qbig || uq > limit) {
        return true;
    }
    set_div_flags(lf);
    *quot = (qneg ? -uq : uq) & m;
    *rem = (nneg ? -ur : ur) & m;
    return false;
}

/* ------------------------------------------------------------------ */
/* Bit scans and counts. */

bool x86_bsf(X86LazyFlags *lf, unsigned size, uint64_t src, uint64_t *dst)
{
    src &= x86_alu_mask(size);
    if (src == 0) {
        x86_flags_set(lf, X86_ZF | X86_PF);
        return false;
    }
    uint64_t idx = (uint64_t)__builtin_ctzll(src);
    x86_flags_set(lf, x86_alu_parity(idx));
    *dst = idx;
    return true;
}

bool x86_bsr(X86LazyFlags *lf, unsigned size, uint64_t src, uint64_t *dst)
{
    src &= x86_alu_mask(size);
    if (src == 0) {
        x86_flags_set(lf, X86_ZF | X86_PF);
        return false;
    }
    uint64_t idx = 63 - (uint64_t)__builtin_clzll(src);
    x86_flags_set(lf, x86_alu_parity(idx));
    *dst = idx;
    return true;
}

/* TZCNT/LZCNT: OF kept, SF AF PF cleared (measured). */
static inline void set_cnt_flags(X86LazyFlags *lf, uint64_t src, uint64_t res)
{
    uint32_t of = x86_flags_get(lf) & X86_OF;
    x86_flags_set(lf, of | (src == 0 ? X86_CF : 0) | (res == 0 ? X86_ZF : 0));
}

uint64_t x86_tzcnt(X86LazyFlags *lf, unsigned size, uint64_t src)
{
    src &= x86_alu_mask(size);
    uint64_t res = src ? (uint64_t)__builtin_ctzll(src) : bits_of(size);
    set_cnt_flags(lf, src, res);
    return res;
}

uint64_t x86_lzcnt(X86LazyFlags *lf, unsigned size, uint64_t src)
{
    src &= x86_alu_mask(size);
    uint64_t res = src ? (uint64_t)__builtin_clzll(src) - (64 - bits_of(size)) : bits_of(size);
    set_cnt_flags(lf, src, res);
    return res;
}

uint64_t x86_popcnt(X86LazyFlags *lf, unsigned size, uint64_t src)
{
    src &= x86_alu_mask(size);
    x86_flags_set(lf, src == 0 ? X86_ZF : 0);
    return (uint64_t)__builtin_popcountll(src);
}

/* ------------------------------------------------------------------ */
/* Bit tests: CF only, everything else kept. */

static inline uint64_t bt_common(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit)
{
    uint64_t mask = UINT64_C(1) << (bit & (bits_of(size) - 1));
    set_flags_keep(lf, X86_CF, (a & mask) ? X86_CF : 0);
    return mask;
}

bool x86_bt(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit)
{
    return (a & bt_common(lf, size, a, bit)) != 0;
}

uint64_t x86_bts(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit)
{
    return (a | bt_common(lf, size, a, bit)) & x86_alu_mask(size);
}

uint64_t x86_btr(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit)
{
    return (a & ~bt_common(lf, size, a, bit)) & x86_alu_mask(size);
}

uint64_t x86_btc(X86LazyFlags *lf, unsigned size, uint64_t a, uint64_t bit)
{
    return (a ^ bt_common(lf, size, a, bit)) & x86_alu_mask(size);
}

/* ------------------------------------------------------------------ */
/* BCD / ASCII adjust. */

/* SF ZF PF of a 16-bit value, PF from its low byte. */
static inline uint32_t szp16(uint32_t t)
{
    return x86_alu_szp(t & 0xffff, 2);
}

/* AAA/AAS: AX +/- 0x106 when adjusting; flags from that 16-bit value. */
static uint16_t ascii_adjust(X86LazyFlags *lf, uint16_t ax, bool sub)
{
    uint32_t f = x86_flags_get(lf);
    uint32_t al = ax & 0xff;
    bool adj = (al & 0xf) > 9 || (f & X86_AF);
    uint32_t t = ax, of = 0;
    if (adj) {
        t = (sub ? (uint32_t)ax - 0x106 : (uint32_t)ax + 0x106) & 0xffff;
        of = sub ? ((ax ^ 0x106) & (ax ^ t) & 0x8000) : ((ax ^ t) & (0x106 ^ t) & 0x8000);
    }
    x86_flags_set(lf, szp16(t) | (adj ? (X86_AF | X86_CF) : 0) | (of ? X86_OF : 0));
    return (uint16_t)((t & 0xff00) | (t & 0x0f));
}

uint16_t x86_aaa(X86LazyFlags *lf, uint16_t ax)
{
    return ascii_adjust(lf, ax, false);
}

uint16_t x86_aas(X86LazyFlags *lf, uint16_t ax)
{
    return ascii_adjust(lf, ax, true);
}

uint16_t x86_daa(X86LazyFlags *lf, uint16_t ax)
{
    uint32_t f = x86_flags_get(lf);
    uint32_t old = ax & 0xff, al = old;
    uint32_t cf = 0, af = 0;
    if ((al & 0xf) > 9 || (f & X86_AF)) {
        al += 6;
        cf = (f & X86_CF) || al > 0xff;
        af = X86_AF;
        al &= 0xff;
    }
    if (old > 0x99 || (f & X86_CF)) {
        al = (al + 0x60) & 0xff;
        cf = 1;
    }
    uint32_t of = !(old & 0x80) && (al & 0x80);
    x86_flags_set(lf, x86_alu_szp(al, 1) | cf | af | (of ? X86_OF : 0));
    return (uint16_t)((ax & 0xff00) | al);
}

uint16_t x86_das(X86LazyFlags *lf, uint16_t ax)
{
    uint32_t f = x86_flags_get(lf);
    uint32_t old = ax & 0xff, al = old;
    uint32_t cf = 0, af = 0;
    if ((al & 0xf) > 9 || (f & X86_AF)) {
        cf = (f & X86_CF) || al < 6;
        al = (al - 6) & 0xff;
        af = X86_AF;
    }
    if (old > 0x99 || (f & X86_CF)) {
        al = (al - 0x60) & 0xff;
        cf = 1;
    }
    uint32_t of = (old & 0x80) && !(al & 0x80);
    x86_flags_set(lf, x86_alu_szp(al, 1) | cf | af | (of ? X86_OF : 0));
    return (uint16_t)((ax & 0xff00) | al);
}

bool x86_aam(X86LazyFlags *lf, uint16_t ax, uint8_t imm, uint16_t *ax_out)
{
    if (imm == 0) {
        return true;
    }
    uint32_t al = ax & 0xff;
    uint32_t q = al / imm, r = al % imm;
    x86_flags_set(lf, x86_alu_szp(r, 1));
    *ax_out = (uint16_t)((q << 8) | r);
    return false;
}

uint16_t x86_aad(X86LazyFlags *lf, uint16_t ax, uint8_t imm)
{
    uint32_t al = ax & 0xff, ah = ax >> 8;
    uint32_t p = (ah * imm) & 0xff;
    /* Flags of the 8-bit addition AL + (AH * imm8). */
    (void)x86_add(lf, 1, al, p);
    return (uint16_t)((al + p) & 0xff);
}
