/*
 * Loads and stores (ARM ARM C4.1.4 "Loads and Stores"; C3.3 for the
 * addressing modes; C6.2 / C7.2 for the instruction pages): single
 * registers in every addressing form (unsigned offset, unscaled, pre- and
 * post-index, register offset, literal, unprivileged), pairs, exclusives
 * with the local monitor, load-acquire/store-release, and the ARMv8.1 LSE
 * atomics (plus ARMv8.3 LDAPR), which capstone 4 does not know.
 *
 * Every access goes through the TLB (tlb_load/tlb_store inline fast
 * paths) with cpu->mmu_idx (ARM_MMU_EL0 for LDTR/STTR), the address after
 * top-byte-ignore (arm_data_va). Alignment (ARM ARM B2.5.2): SCTLR_EL1.A
 * makes every access checked (TLB_ALIGN); exclusives, acquire/release and
 * atomics are always checked. SP as a base is checked for 16-byte
 * alignment when SCTLR_EL1.SA (SA0 at EL0) is set (D1.8.2, EC 0x26).
 *
 * Order of effects (arm_internal.h): all loads, then stores, then register
 * writes, then base write-back, so a fault changes no register. A store
 * whose slow path told us it wrote cached code (cpu->code_written, set by
 * the TLB's code-write hook) ends the block (ARM_R_STOP), so the very next
 * instruction is decoded again from the new bytes.
 *
 * The exclusive monitor: the local monitor is cpu->excl_addr/size (set by
 * LDXR/LDXP, cleared by CLREX, STXR and exceptions). The global monitor is
 * approximated by value: STXR succeeds iff the local monitor covers the
 * address and size AND memory still holds what LDXR loaded, checked and
 * stored as one compare-and-swap (a host atomic when the page is plain
 * RAM). An intervening store of a different value by anyone makes it
 * fail; an ABA store of the same value does not, which no lock-free
 * algorithm built on LDXR/STXR can observe as wrong.
 */
#include "targets/arm/a64_decode.h"

#define X(r) (cpu->x[(r)])
#define H(name) static ArmResult name(ArmCpu *cpu, const A64Insn *in)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* in->op: addressing mode (low 3 bits) and access kind (bits 7..3). */
enum { M_OFF = 0, M_PRE, M_POST, M_REG, M_LIT };
enum {
    K_LD = 0,    /* zero-extending load into Xt/Wt */
    K_LDSX,      /* sign-extending load into Xt */
    K_LDSW,      /* sign-extending load into Wt (upper half zero) */
    K_ST,
    K_PRFM,      /* prefetch: a hint, no access, never faults */
    K_FLD,       /* SIMD&FP register load (B H S D Q) */
    K_FST,
};
#define OP(kind, mode) ((uint8_t)(((kind) << 3) | (mode)))

static inline unsigned acc_flags(const ArmCpu *cpu)
{
    return (cpu->sctlr_el1 & A64_SCTLR_A) ? TLB_ALIGN : 0;
}

/* A store is done: end the block if it wrote cached code or someone asked
 * us to stop (a device register written by it, for example). */
static inline ArmResult store_done(ArmCpu *cpu)
{
    return UNLIKELY(cpu->code_written | cpu->exit_request) ? ARM_R_STOP : ARM_R_NEXT;
}

/* Raise an alignment fault through the MMU's fault path (FSC 0x21) for the
 * checks the TLB cannot make itself (16-byte units). */
static void align_fault(ArmCpu *cpu, uint64_t va, unsigned size, TlbAccess acc, unsigned idx)
{
    TlbFault f = { .kind = TLB_FAULT_ALIGNMENT, .vaddr = va, .access = acc,
                   .mmu_idx = idx, .size = size };
    arm_tlb_ops.raise_fault(cpu, &f);
}

static inline bool ld(ArmCpu *cpu, uint64_t va, unsigned size, unsigned idx, unsigned fl,
                      uint64_t *v)
{
    return tlb_load(cpu->tlb, va, size, idx, fl, v);
}

static inline bool st(ArmCpu *cpu, uint64_t va, unsigned size, unsigned idx, unsigned fl,
                      uint64_t v)
{
    return tlb_store(cpu->tlb, va, size, idx, fl, v);
}

/* 1..16 bytes into lo/hi (16: two 8-byte accesses, alignment checked on 16
 * when required). */
static bool ld_wide(ArmCpu *cpu, uint64_t va, unsigned size, unsigned idx, unsigned fl,
                    uint64_t *lo, uint64_t *hi)
{
    *hi = 0;
    if (size <= 8) {
        return ld(cpu, va, size, idx, fl, lo);
    }
    if ((fl & TLB_ALIGN) && (va & 15)) {
        align_fault(cpu, va, 16, TLB_READ, idx);
        return false;
    }
    return ld(cpu, va, 8, idx, fl, lo) && ld(cpu, va + 8, 8, idx, fl, hi);
}

static bool st_wide(ArmCpu *cpu, uint64_t va, unsigned size, unsigned idx, unsigned fl,
                    uint64_t lo, uint64_t hi)
{
    if (size <= 8) {
        return st(cpu, va, size, idx, fl, lo);
    }
    if ((fl & TLB_ALIGN) && (va & 15)) {
        align_fault(cpu, va, 16, TLB_WRITE, idx);
        return false;
    }
    return st(cpu, va, 8, idx, fl, lo) && st(cpu, va + 8, 8, idx, fl, hi);
}

static inline uint64_t sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - 8 * size;
    return (uint64_t)((int64_t)(v << sh) >> sh);
}

/* The base register value (SP or Xn), with the SP alignment check. */
static inline bool base_of(ArmCpu *cpu, const A64Insn *in, uint64_t *base)
{
    if (__builtin_expect(!(in->flags & A64_F_SP_BASE), 1)) {
        *base = X(in->rn);
        return true;
    }
    uint64_t sp = *a64_sp_ptr(cpu);
    uint64_t chk = cpu->el ? A64_SCTLR_SA : A64_SCTLR_SA0;
    if ((sp & 15) && (cpu->sctlr_el1 & chk)) {
        arm_raise_sync(cpu, ARM_EC_SP_ALIGN, 0);
        return false;
    }
    *base = sp;
    return true;
}

static inline void write_base(ArmCpu *cpu, const A64Insn *in, uint64_t v)
{
    if (in->flags & A64_F_SP_BASE) {
        *a64_sp_ptr(cpu) = v;
    } else {
        X(in->rn) = v;
    }
}

static uint64_t extend_reg(uint64_t v, unsigned option, unsigned shift)
{
    switch (option) {
    case 2: v = (uint32_t)v; break;                          /* UXTW */
    case 6: v = (uint64_t)(int64_t)(int32_t)v; break;        /* SXTW */
    default: break;                                          /* LSL/UXTX, SXTX */
    }
    return v << shift;
}

/* --- Fast paths: unsigned offset, base not SP, integer register --- */

#define LDR_OFF(sz)                                                                  \
    H(h_ldr_off##sz)                                                                 \
    {                                                                                \
        uint64_t v;                                                                  \
        uint64_t va = arm_data_va(cpu, X(in->rn) + (uint64_t)in->imm);               \
        if (UNLIKELY(!ld(cpu, va, sz, cpu->mmu_idx, acc_flags(cpu), &v))) {          \
            return ARM_R_EXC;                                                        \
        }                                                                            \
        a64_set_x(cpu, in->rd, v);                                                   \
        return ARM_R_NEXT;                                                           \
    }                                                                                \
    H(h_str_off##sz)                                                                 \
    {                                                                                \
        uint64_t va = arm_data_va(cpu, X(in->rn) + (uint64_t)in->imm);               \
        if (UNLIKELY(!st(cpu, va, sz, cpu->mmu_idx, acc_flags(cpu), X(in->rd)))) {  \
            return ARM_R_EXC;                                                        \
        }                                                                            \
        return store_done(cpu);                                                      \
    }

LDR_OFF(1)
LDR_OFF(2)
LDR_OFF(4)
LDR_OFF(8)

/* --- The general single-register handler --- */

H(h_ldst)
{
    unsigned mode = in->op & 7, kind = in->op >> 3, size = in->size;
    uint64_t base = 0, addr, wb = 0;
    if (kind >= K_FLD && !arm_fp_enabled(cpu)) {
        return ARM_R_EXC;
    }
    if (mode != M_LIT && !base_of(cpu, in, &base)) {
        return ARM_R_EXC;
    }
    switch (mode) {
    case M_OFF: addr = base + (uint64_t)in->imm; break;
    case M_PRE: addr = wb = base + (uint64_t)in->imm; break;
    case M_POST: addr = base; wb = base + (uint64_t)in->imm; break;
    case M_REG: addr = base + extend_reg(X(in->rm), in->ra, in->shift); break;
    default: addr = cpu->pc + (uint64_t)in->imm; break;
    }
    addr = arm_data_va(cpu, addr);
    unsigned idx = (in->flags & A64_F_UNPRIV) ? ARM_MMU_EL0 : cpu->mmu_idx;
    unsigned fl = acc_flags(cpu);
    ArmResult r = ARM_R_NEXT;
    uint64_t lo, hi;
    switch (kind) {
    case K_LD: case K_LDSX: case K_LDSW:
        if (!ld(cpu, addr, size, idx, fl, &lo)) {
            return ARM_R_EXC;
        }
        if (kind == K_LDSX) {
            lo = sext(lo, size);
        } else if (kind == K_LDSW) {
            lo = (uint32_t)sext(lo, size);
        }
        a64_set_x(cpu, in->rd, lo);
        break;
    case K_ST:
        if (!st(cpu, addr, size, idx, fl, X(in->rd))) {
            return ARM_R_EXC;
        }
        r = store_done(cpu);
        break;
    case K_FLD:
        if (!ld_wide(cpu, addr, size, idx, fl, &lo, &hi)) {
            return ARM_R_EXC;
        }
        cpu->v[in->rd].d[0] = lo;   /* a scalar load clears the rest (C7.2 LDR) */
        cpu->v[in->rd].d[1] = hi;
        break;
    case K_FST:
        if (!st_wide(cpu, addr, size, idx, fl, cpu->v[in->rd].d[0], cpu->v[in->rd].d[1])) {
            return ARM_R_EXC;
        }
        r = store_done(cpu);
        break;
    default:  /* PRFM */
        break;
    }
    if (mode == M_PRE || mode == M_POST) {
        write_base(cpu, in, wb);
    }
    return r;
}

/* --- Pairs (C6.2 LDP/STP/LDPSW/LDNP/STNP, C7.2 for SIMD&FP) --- */

H(h_ldstp)
{
    unsigned mode = in->op & 7, kind = in->op >> 3, size = in->size;
    uint64_t base, addr, wb = 0;
    if (kind >= K_FLD && !arm_fp_enabled(cpu)) {
        return ARM_R_EXC;
    }
    if (!base_of(cpu, in, &base)) {
        return ARM_R_EXC;
    }
    switch (mode) {
    case M_PRE: addr = wb = base + (uint64_t)in->imm; break;
    case M_POST: addr = base; wb = base + (uint64_t)in->imm; break;
    default: addr = base + (uint64_t)in->imm; break;
    }
    addr = arm_data_va(cpu, addr);
    unsigned idx = cpu->mmu_idx, fl = acc_flags(cpu);
    ArmResult r = ARM_R_NEXT;
    uint64_t a0, a1, b0, b1;
    switch (kind) {
    case K_LD: case K_LDSX:
        if (!ld(cpu, addr, size, idx, fl, &a0) || !ld(cpu, addr + size, size, idx, fl, &b0)) {
            return ARM_R_EXC;
        }
        if (kind == K_LDSX) {   /* LDPSW */
            a0 = sext(a0, 4);
            b0 = sext(b0, 4);
        }
        a64_set_x(cpu, in->rd, a0);
        a64_set_x(cpu, in->ra, b0);
        break;
    case K_ST:
        if (!st(cpu, addr, size, idx, fl, X(in->rd)) ||
            !st(cpu, addr + size, size, idx, fl, X(in->ra))) {
            return ARM_R_EXC;
        }
        r = store_done(cpu);
        break;
    case K_FLD:
        if (!ld_wide(cpu, addr, size, idx, fl, &a0, &a1) ||
            !ld_wide(cpu, addr + size, size, idx, fl, &b0, &b1)) {
            return ARM_R_EXC;
        }
        cpu->v[in->rd].d[0] = a0;
        cpu->v[in->rd].d[1] = a1;
        cpu->v[in->ra].d[0] = b0;
        cpu->v[in->ra].d[1] = b1;
        break;
    default: {  /* K_FST */
        uint64_t t0 = cpu->v[in->rd].d[0], t1 = cpu->v[in->rd].d[1];
        uint64_t u0 = cpu->v[in->ra].d[0], u1 = cpu->v[in->ra].d[1];
        if (!st_wide(cpu, addr, size, idx, fl, t0, t1) ||
            !st_wide(cpu, addr + size, size, idx, fl, u0, u1)) {
            return ARM_R_EXC;
        }
        r = store_done(cpu);
        break;
    }
    }
    if (mode == M_PRE || mode == M_POST) {
        write_base(cpu, in, wb);
    }
    return r;
}

/* ================================================================== */
/* Exclusives, acquire/release, atomics                                */
/* ================================================================== */

/* in->size: bytes per register; in->op bit 0: pair. Rs in ra, Rt2 in rm. */

/* The address of an always-aligned access of `total` bytes at [Xn|SP]:
 * false after the fault (SP alignment or alignment) was taken. */
static bool excl_addr(ArmCpu *cpu, const A64Insn *in, unsigned total, TlbAccess acc,
                      uint64_t *va)
{
    uint64_t base;
    if (!base_of(cpu, in, &base)) {
        return false;
    }
    base = arm_data_va(cpu, base);
    if (base & (total - 1)) {
        align_fault(cpu, base, total, acc, cpu->mmu_idx);
        return false;
    }
    *va = base;
    return true;
}

/* Host pointer of plain RAM readable and writable at va (already aligned):
 * for host atomics. NULL: use the TLB's slow path. */
static inline void *rw_host(ArmCpu *cpu, uint64_t va, unsigned size)
{
    TlbFast *f = tlb_fast(cpu->tlb);
    TlbEntry *e = tlb_entry(f, cpu->mmu_idx, va);
    uint64_t cmp = tlb_cmp_addr(f, va, size, TLB_ALIGN);
    if (e->addr_write == cmp && e->addr_read == cmp) {
        return (void *)(uintptr_t)(va + e->addend);
    }
    return NULL;
}

static bool host_cas(void *p, unsigned size, uint64_t *expected, uint64_t desired)
{
    switch (size) {
    case 1: {
        uint8_t e = (uint8_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint8_t *)p, &e, (uint8_t)desired, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e;
        return ok;
    }
    case 2: {
        uint16_t e = (uint16_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint16_t *)p, &e, (uint16_t)desired, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e;
        return ok;
    }
    case 4: {
        uint32_t e = (uint32_t)*expected;
        bool ok = __atomic_compare_exchange_n((uint32_t *)p, &e, (uint32_t)desired, false,
                                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        *expected = e;
        return ok;
    }
    default:
        return __atomic_compare_exchange_n((uint64_t *)p, expected, desired, false,
                                           __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
}

/* Compare-and-swap of `size` (1..8) bytes at aligned va: *old gets the
 * memory value; true if it equalled `expect` and `desired` was stored.
 * *res: ARM_R_EXC on a fault, ARM_R_STOP if the store hit cached code. */
static bool mem_cas(ArmCpu *cpu, uint64_t va, unsigned size, uint64_t expect, uint64_t desired,
                    uint64_t *old, ArmResult *res)
{
    void *p = rw_host(cpu, va, size);
    *res = ARM_R_NEXT;
    if (p) {
        uint64_t e = expect;
        bool ok = host_cas(p, size, &e, desired);
        *old = e;
        return ok;
    }
    if (!ld(cpu, va, size, cpu->mmu_idx, TLB_ALIGN, old)) {
        *res = ARM_R_EXC;
        return false;
    }
    if (*old != expect) {
        return false;
    }
    if (!st(cpu, va, size, cpu->mmu_idx, TLB_ALIGN, desired)) {
        *res = ARM_R_EXC;
        return false;
    }
    *res = store_done(cpu);
    return true;
}

static inline uint64_t size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

H(h_ldxr)
{
    bool pair = in->op & 1;
    unsigned size = in->size, total = pair ? 2 * size : size;
    uint64_t va, a = 0, b = 0;
    if (!excl_addr(cpu, in, total, TLB_READ, &va)) {
        return ARM_R_EXC;
    }
    if (!ld(cpu, va, size, cpu->mmu_idx, TLB_ALIGN, &a) ||
        (pair && !ld(cpu, va + size, size, cpu->mmu_idx, 0, &b))) {
        return ARM_R_EXC;
    }
    cpu->excl_addr = va;           /* arm the local monitor */
    cpu->excl_size = total;
    cpu->excl_val[0] = a;
    cpu->excl_val[1] = b;
    a64_set_x(cpu, in->rd, a);
    if (pair) {
        a64_set_x(cpu, in->rm, b);
    }
    return ARM_R_NEXT;
}

/* LDAR / LDAPR: an aligned load (ordering is the host's, single-copy). */
H(h_ldar)
{
    uint64_t va, v;
    if (!excl_addr(cpu, in, in->size, TLB_READ, &va) ||
        !ld(cpu, va, in->size, cpu->mmu_idx, TLB_ALIGN, &v)) {
        return ARM_R_EXC;
    }
    a64_set_x(cpu, in->rd, v);
    return ARM_R_NEXT;
}

H(h_stlr)
{
    uint64_t va;
    if (!excl_addr(cpu, in, in->size, TLB_WRITE, &va) ||
        !st(cpu, va, in->size, cpu->mmu_idx, TLB_ALIGN, X(in->rd))) {
        return ARM_R_EXC;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return store_done(cpu);
}

H(h_stxr)
{
    bool pair = in->op & 1;
    unsigned size = in->size, total = pair ? 2 * size : size;
    uint64_t va;
    if (!excl_addr(cpu, in, total, TLB_WRITE, &va)) {
        return ARM_R_EXC;
    }
    bool armed = cpu->excl_addr == va && cpu->excl_size == total;
    cpu->excl_addr = UINT64_MAX;  /* a store-exclusive always clears the monitor */
    uint64_t status = 1;
    ArmResult r = ARM_R_NEXT;
    if (armed) {
        if (!pair || size == 4) {
            /* One unit of up to 8 bytes (an LDXP/STXP of two W is one 8-byte CAS). */
            uint64_t expect = cpu->excl_val[0], desired = X(in->rd), old;
            if (pair) {
                expect = (uint32_t)cpu->excl_val[0] | (cpu->excl_val[1] << 32);
                desired = (uint32_t)X(in->rd) | (X(in->rm) << 32);
            }
            expect &= size_mask(total);
            desired &= size_mask(total);
            if (mem_cas(cpu, va, total, expect, desired, &old, &r)) {
                status = 0;
            }
            if (r == ARM_R_EXC) {
                return ARM_R_EXC;
            }
        } else {
            /* 128-bit pair: compare both halves, then store both (not one
             * host atomic: fine for the round-robin scheduler; threaded
             * CPUs see the two halves stored separately). */
            uint64_t o0, o1;
            if (!ld(cpu, va, 8, cpu->mmu_idx, TLB_ALIGN, &o0) ||
                !ld(cpu, va + 8, 8, cpu->mmu_idx, TLB_ALIGN, &o1)) {
                return ARM_R_EXC;
            }
            if (o0 == cpu->excl_val[0] && o1 == cpu->excl_val[1]) {
                if (!st(cpu, va, 8, cpu->mmu_idx, TLB_ALIGN, X(in->rd)) ||
                    !st(cpu, va + 8, 8, cpu->mmu_idx, TLB_ALIGN, X(in->rm))) {
                    return ARM_R_EXC;
                }
                r = store_done(cpu);
                status = 0;
            }
        }
    }
    a64_set_x(cpu, in->ra, status);
    return r;
}

/* --- LSE: LDADD LDCLR LDEOR LDSET LDSMAX LDSMIN LDUMAX LDUMIN SWP (op 0..8) --- */

static uint64_t lse_op(unsigned op, uint64_t old, uint64_t s, unsigned size)
{
    uint64_t m = size_mask(size);
    switch (op) {
    case 0: return (old + s) & m;
    case 1: return old & ~s;
    case 2: return old ^ s;
    case 3: return old | s;
    case 4: return (int64_t)sext(old, size) > (int64_t)sext(s, size) ? old : s & m;
    case 5: return (int64_t)sext(old, size) < (int64_t)sext(s, size) ? old : s & m;
    case 6: return old > (s & m) ? old : s & m;
    case 7: return old < (s & m) ? old : s & m;
    default: return s & m;
    }
}

H(h_lse)
{
    unsigned size = in->size;
    uint64_t va, old;
    if (!excl_addr(cpu, in, size, TLB_WRITE, &va)) {
        return ARM_R_EXC;
    }
    uint64_t s = X(in->ra) & size_mask(size);
    ArmResult r = ARM_R_NEXT;
    void *p = rw_host(cpu, va, size);
    if (p) {
        /* Plain RAM: a host CAS loop makes it atomic for threaded CPUs too. */
        old = tlb_host_load(p, size, false);
        while (!host_cas(p, size, &old, lse_op(in->op, old, s, size))) {
        }
    } else {
        if (!ld(cpu, va, size, cpu->mmu_idx, TLB_ALIGN, &old) ||
            !st(cpu, va, size, cpu->mmu_idx, TLB_ALIGN, lse_op(in->op, old, s, size))) {
            return ARM_R_EXC;
        }
        r = store_done(cpu);
    }
    a64_set_x(cpu, in->rd, old);
    return r;
}

/* CAS: Rs = compare value, receives the old memory value; Rt = new value. */
H(h_cas)
{
    unsigned size = in->size;
    uint64_t va, old;
    if (!excl_addr(cpu, in, size, TLB_WRITE, &va)) {
        return ARM_R_EXC;
    }
    ArmResult r;
    uint64_t m = size_mask(size);
    mem_cas(cpu, va, size, X(in->ra) & m, X(in->rd) & m, &old, &r);
    if (r == ARM_R_EXC) {
        return r;
    }
    a64_set_x(cpu, in->ra, old);
    return r;
}

/* CASP: pairs Rs,Rs+1 and Rt,Rt+1 of 4 or 8 bytes each. */
H(h_casp)
{
    unsigned size = in->size;
    uint64_t va;
    if (!excl_addr(cpu, in, 2 * size, TLB_WRITE, &va)) {
        return ARM_R_EXC;
    }
    unsigned rs = in->ra, rt = in->rd;
    ArmResult r = ARM_R_NEXT;
    uint64_t o0, o1;
    if (size == 4) {
        uint64_t expect = (uint32_t)X(rs) | (X(rs + 1) << 32);
        uint64_t desired = (uint32_t)X(rt) | (X(rt + 1) << 32);
        uint64_t old;
        mem_cas(cpu, va, 8, expect, desired, &old, &r);
        if (r == ARM_R_EXC) {
            return r;
        }
        o0 = (uint32_t)old;
        o1 = old >> 32;
    } else {
        if (!ld(cpu, va, 8, cpu->mmu_idx, TLB_ALIGN, &o0) ||
            !ld(cpu, va + 8, 8, cpu->mmu_idx, TLB_ALIGN, &o1)) {
            return ARM_R_EXC;
        }
        if (o0 == X(rs) && o1 == X(rs + 1)) {
            if (!st(cpu, va, 8, cpu->mmu_idx, TLB_ALIGN, X(rt)) ||
                !st(cpu, va + 8, 8, cpu->mmu_idx, TLB_ALIGN, X(rt + 1))) {
                return ARM_R_EXC;
            }
            r = store_done(cpu);
        }
    }
    a64_set_x(cpu, rs, o0);
    a64_set_x(cpu, rs + 1, o1);
    return r;
}

/* ================================================================== */
/* Decoders                                                            */
/* ================================================================== */

/* Load/store exclusive class: size 001000 o2 L o1 Rs o0 Rt2 Rn Rt (C4.1.4). */
static bool dec_exclusive(uint32_t raw, A64Insn *o)
{
    unsigned size = a64_bits(raw, 31, 30), o2 = a64_bits(raw, 23, 23);
    unsigned l = a64_bits(raw, 22, 22), o1 = a64_bits(raw, 21, 21), o0 = a64_bits(raw, 15, 15);
    unsigned rt2 = a64_bits(raw, 14, 10);
    o->ra = (uint8_t)a64_bits(raw, 20, 16);  /* Rs */
    o->rm = (uint8_t)rt2;
    o->size = (uint8_t)(1u << size);
    if (!o2 && !o1) {              /* STXR STLXR LDXR LDAXR */
        o->fn = l ? h_ldxr : h_stxr;
        if (l) {
            o->ra = 0;
        }
        return true;
    }
    if (!o2 && o1) {
        if (size >= 2) {           /* STXP STLXP LDXP LDAXP */
            o->size = (uint8_t)(size == 2 ? 4 : 8);
            o->op = 1;
            o->fn = l ? h_ldxr : h_stxr;
            if (l) {
                o->ra = 0;
            }
            return true;
        }
        /* CASP (ARMv8.1): sz = bit 30, Rt2 = 11111, even registers. */
        if (rt2 != 31 || (o->ra & 1) || (o->rd & 1)) {
            return false;
        }
        o->size = (uint8_t)(size ? 8 : 4);
        o->fn = h_casp;
        return true;
    }
    if (o2 && !o1) {
        if (!o0) {
            return false;          /* LDLAR/STLLR: LORegions, not implemented */
        }
        o->flags |= A64_F_ACQREL;
        o->fn = l ? h_ldar : h_stlr;
        return true;
    }
    /* o2 && o1: CAS* (ARMv8.1) */
    if (rt2 != 31) {
        return false;
    }
    o->fn = h_cas;
    return true;
}

/* Atomic memory operations: size 111 V 00 A R 1 Rs o3 opc 00 Rn Rt (C4.1.4). */
static bool dec_atomic(uint32_t raw, A64Insn *o)
{
    unsigned o3 = a64_bits(raw, 15, 15), opc = a64_bits(raw, 14, 12);
    o->ra = (uint8_t)a64_bits(raw, 20, 16);
    o->size = (uint8_t)(1u << a64_bits(raw, 31, 30));
    if (a64_bits(raw, 26, 26)) {
        return false;
    }
    if (!o3) {
        o->op = (uint8_t)opc;
        o->fn = h_lse;
        return true;
    }
    if (opc == 0) {
        o->op = 8;                 /* SWP */
        o->fn = h_lse;
        return true;
    }
    if (opc == 4 && a64_bits(raw, 23, 22) == 2 && o->ra == 31) {
        o->fn = h_ldar;            /* LDAPR (ARMv8.3): A=1 R=0 Rs=11111 */
        o->flags |= A64_F_ACQREL;
        return true;
    }
    return false;
}

static void common_fields(uint32_t raw, A64Insn *o)
{
    o->rd = (uint8_t)a64_bits(raw, 4, 0);   /* Rt */
    o->rn = (uint8_t)a64_bits(raw, 9, 5);
    if (o->rn == 31) {
        o->flags |= A64_F_SP_BASE;
    }
}

/* Size and kind from size:V:opc for single registers; false if unallocated. */
static bool reg_kind(unsigned size, unsigned v, unsigned opc, unsigned *kind, unsigned *bytes)
{
    if (v) {
        if (size == 0 && (opc & 2)) {
            *bytes = 16;
        } else if (opc & 2) {
            return false;
        } else {
            *bytes = 1u << size;
        }
        *kind = (opc & 1) ? K_FLD : K_FST;
        return true;
    }
    *bytes = 1u << size;
    switch (opc) {
    case 0: *kind = K_ST; return true;
    case 1: *kind = K_LD; return true;
    case 2:
        if (size == 3) {
            *kind = K_PRFM;
            return true;
        }
        *kind = K_LDSX;
        return true;
    default:
        if (size >= 2) {
            return false;
        }
        *kind = K_LDSW;
        return true;
    }
}

bool a64_dec_ldst(uint32_t raw, A64Insn *o)
{
    common_fields(raw, o);
    unsigned v = a64_bits(raw, 26, 26);
    if ((raw & 0x3f000000u) == 0x08000000u) {
        return dec_exclusive(raw, o);
    }
    if ((raw & 0x3b000000u) == 0x18000000u) {
        /* Load register (literal): opc 011 V 00 imm19 Rt */
        unsigned opc = a64_bits(raw, 31, 30);
        o->flags &= (uint8_t)~A64_F_SP_BASE;
        o->imm = a64_sbits(raw, 23, 5) * 4;
        if (v) {
            if (opc == 3) {
                return false;
            }
            o->size = (uint8_t)(4u << opc);
            o->op = OP(K_FLD, M_LIT);
        } else if (opc == 3) {
            o->fn = a64_h_nop;     /* PRFM (literal) */
            return true;
        } else {
            o->size = (uint8_t)(opc == 1 ? 8 : 4);
            o->op = OP(opc == 2 ? K_LDSX : K_LD, M_LIT);
        }
        o->fn = h_ldst;
        return true;
    }
    if ((raw & 0x3a000000u) == 0x28000000u) {
        /* Load/store pair: opc 101 V mode L imm7 Rt2 Rn Rt */
        unsigned opc = a64_bits(raw, 31, 30), l = a64_bits(raw, 22, 22);
        unsigned mode = a64_bits(raw, 24, 23);
        o->ra = (uint8_t)a64_bits(raw, 14, 10);
        unsigned kind, bytes;
        if (v) {
            if (opc == 3) {
                return false;
            }
            bytes = 4u << opc;
            kind = l ? K_FLD : K_FST;
        } else if (opc == 0 || opc == 2) {
            bytes = opc ? 8 : 4;
            kind = l ? K_LD : K_ST;
        } else if (opc == 1 && l && mode != 0) {
            bytes = 4;
            kind = K_LDSX;         /* LDPSW */
        } else {
            return false;
        }
        o->size = (uint8_t)bytes;
        o->imm = a64_sbits(raw, 21, 15) * (int64_t)bytes;
        static const uint8_t modes[4] = { M_OFF, M_POST, M_OFF, M_PRE };
        o->op = OP(kind, modes[mode]);
        o->fn = h_ldstp;
        return true;
    }
    if ((raw & 0x3a000000u) != 0x38000000u) {
        return false;
    }
    /* Load/store register: size 111 V 0x opc ... */
    unsigned size = a64_bits(raw, 31, 30), opc = a64_bits(raw, 23, 22);
    unsigned kind, bytes;
    if (a64_bits(raw, 24, 24)) {
        /* Unsigned immediate: size 111 V 01 opc imm12 Rn Rt */
        if (!reg_kind(size, v, opc, &kind, &bytes)) {
            return false;
        }
        o->size = (uint8_t)bytes;
        o->imm = (int64_t)a64_bits(raw, 21, 10) * bytes;
        o->op = OP(kind, M_OFF);
        o->fn = h_ldst;
        if (kind == K_PRFM) {
            o->fn = a64_h_nop;
        } else if (!(o->flags & A64_F_SP_BASE) && (kind == K_LD || kind == K_ST)) {
            static const A64Handler lds[4] = { h_ldr_off1, h_ldr_off2, h_ldr_off4, h_ldr_off8 };
            static const A64Handler sts[4] = { h_str_off1, h_str_off2, h_str_off4, h_str_off8 };
            o->fn = kind == K_LD ? lds[size] : sts[size];
        }
        return true;
    }
    if (!a64_bits(raw, 21, 21)) {
        /* imm9 forms: bits 11:10 = 00 unscaled, 01 post, 10 unprivileged, 11 pre */
        unsigned form = a64_bits(raw, 11, 10);
        if (!reg_kind(size, v, opc, &kind, &bytes)) {
            return false;
        }
        if (kind == K_PRFM) {
            if (form != 0) {
                return false;
            }
            o->fn = a64_h_nop;     /* PRFUM */
            return true;
        }
        if (form == 2 && v) {
            return false;          /* no SIMD&FP LDTR/STTR */
        }
        o->size = (uint8_t)bytes;
        o->imm = a64_sbits(raw, 20, 12);
        static const uint8_t modes[4] = { M_OFF, M_POST, M_OFF, M_PRE };
        o->op = OP(kind, modes[form]);
        if (form == 2) {
            o->flags |= A64_F_UNPRIV;
        }
        o->fn = h_ldst;
        return true;
    }
    switch (a64_bits(raw, 11, 10)) {
    case 0:
        return dec_atomic(raw, o);
    case 2: {
        /* Register offset: size 111 V 00 opc 1 Rm option S 10 Rn Rt */
        unsigned option = a64_bits(raw, 15, 13), s = a64_bits(raw, 12, 12);
        if (!(option & 2)) {
            return false;          /* option<1> == 0: unallocated */
        }
        if (!reg_kind(size, v, opc, &kind, &bytes)) {
            return false;
        }
        if (kind == K_PRFM) {
            o->fn = a64_h_nop;
            return true;
        }
        o->size = (uint8_t)bytes;
        o->rm = (uint8_t)a64_bits(raw, 20, 16);
        o->ra = (uint8_t)option;
        o->shift = (uint8_t)(s ? __builtin_ctz(bytes) : 0);
        o->op = OP(kind, M_REG);
        o->fn = h_ldst;
        return true;
    }
    default:
        return false;              /* LDRAA/LDRAB (pointer authentication) */
    }
}

/* Encodings capstone 4 rejects (ARMv8.1 LSE, ARMv8.3 LDAPR). */
bool a64_dec_lse(uint32_t raw, A64Insn *o)
{
    common_fields(raw, o);
    if ((raw & 0x3f000000u) == 0x08000000u) {
        /* Only the ARMv8.1 members of the exclusive class: CAS, CASP. */
        unsigned o2 = a64_bits(raw, 23, 23), o1 = a64_bits(raw, 21, 21);
        unsigned size = a64_bits(raw, 31, 30);
        if (!o1 || (!o2 && size >= 2)) {
            return false;
        }
        return dec_exclusive(raw, o);
    }
    if ((raw & 0x3b200c00u) == 0x38200000u) {
        return dec_atomic(raw, o);
    }
    return false;
}
