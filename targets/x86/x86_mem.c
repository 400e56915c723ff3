/*
 * Memory operands, segmentation checks, the stack and port I/O.
 *
 * Segmentation (SDM Vol. 3A 3.4, 5.3): outside 64-bit mode every data
 * access checks the segment's limit (expand-up or expand-down), presence
 * and type (no writes to code or read-only data, no reads of execute-only
 * code) and fails with #GP(0), or #SS(0) for SS. In 64-bit mode only FS
 * and GS bases apply and there are no limit checks; a non-canonical
 * address is #GP(0) (#SS(0) for the stack) (SDM 3.3.7.1).
 */
#include "targets/x86/x86_internal.h"

uint64_t x86_ea(X86Cpu *cpu, const X86Insn *in, const X86Operand *op)
{
    return x86_ea_inline(cpu, op, in->addrsize);
}

static bool canonical(uint64_t a)
{
    return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int seg_fault_vector(unsigned seg)
{
    return seg == S_SS ? X86_EXC_SS : X86_EXC_GP;
}

/* Segment checks; on success *lin is the linear address. */
static bool seg_translate(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, bool write,
                          uint64_t *lin)
{
    const X86Seg *s = &cpu->segs[seg];
    if (x86_long_mode(cpu) && (cpu->segs[S_CS].attr & X86_SEGA_L)) {
        uint64_t base = (seg == S_FS || seg == S_GS) ? s->base : 0;
        uint64_t a = base + off;
        if (!canonical(a) || !canonical(a + size - 1)) {
            x86_raise(cpu, seg_fault_vector(seg), 0, true);
            return false;
        }
        *lin = a;
        return true;
    }
    if (cpu->cr0 & X86_CR0_PE && !(cpu->eflags & X86_VM)) {
        uint32_t type = X86_SEGA_TYPE(s->attr);
        bool code = type & 8;
        bool null = (s->selector & ~3u) == 0 && seg != S_CS;
        if (null || !(s->attr & X86_SEGA_P) || !(s->attr & X86_SEGA_S) ||
            (write && (code || !(type & 2))) || (!write && code && !(type & 2))) {
            x86_raise(cpu, seg_fault_vector(seg), 0, true);
            return false;
        }
        bool expand_down = !code && (type & 4);
        uint64_t last = off + size - 1;
        if (expand_down) {
            uint64_t upper = (s->attr & X86_SEGA_DB) ? 0xffffffffu : 0xffffu;
            if (off <= s->limit || last > upper || last < off) {
                x86_raise(cpu, seg_fault_vector(seg), 0, true);
                return false;
            }
        } else if (last > s->limit || last < off) {
            x86_raise(cpu, seg_fault_vector(seg), 0, true);
            return false;
        }
    } else if (off + size - 1 > s->limit) {
        /* Real mode: offsets past the (usually 64 KiB) limit fault too. */
        x86_raise(cpu, seg_fault_vector(seg), 0, true);
        return false;
    }
    *lin = (uint32_t)(s->base + off);
    return true;
}

bool x86_check_seg(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, bool write)
{
    uint64_t lin;
    return seg_translate(cpu, seg, off, size, write, &lin);
}

bool x86_read_lin(X86Cpu *cpu, uint64_t lin, unsigned size, uint64_t *val, bool supervisor)
{
    return tlb_load(cpu->tlb, lin, size, x86_mmu_index(cpu, supervisor), 0, val);
}

bool x86_write_lin(X86Cpu *cpu, uint64_t lin, unsigned size, uint64_t val, bool supervisor)
{
    return tlb_store(cpu->tlb, lin, size, x86_mmu_index(cpu, supervisor), 0, val);
}

bool x86_read_seg_slow(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, uint64_t *val)
{
    uint64_t lin;
    return seg_translate(cpu, seg, off, size, false, &lin) &&
           tlb_load(cpu->tlb, lin, size, x86_mmu_index(cpu, false), 0, val);
}

bool x86_write_seg_slow(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
    uint64_t lin;
    return seg_translate(cpu, seg, off, size, true, &lin) &&
           tlb_store(cpu->tlb, lin, size, x86_mmu_index(cpu, false), 0, val);
}

/*
 * The segment windows of the data fast path (X86Cpu.segwin). Each window is
 * a subset of what seg_translate() accepts, with the same linear address,
 * so an access inside it may skip seg_translate(); an access outside it
 * takes seg_translate(), which raises the exact fault.
 */
static void window_set(struct X86SegWindow *w, uint64_t lo, uint64_t cnt, uint64_t base)
{
    *w = (struct X86SegWindow){ lo, cnt, base };
}

static void window_legacy(X86Cpu *cpu, unsigned seg, bool write, bool pm,
                          struct X86SegWindow *w)
{
    const X86Seg *s = &cpu->segs[seg];
    uint64_t lo = 0, hi = s->limit;
    if (pm) {
        /* Protected mode (SDM Vol. 3A 5.3, 5.4.1): a null selector (but CS),
         * a not-present or system segment, a write to code or read-only data
         * and a read of execute-only code all fault: no window. */
        uint32_t type = X86_SEGA_TYPE(s->attr);
        bool code = type & 8;
        bool null = (s->selector & ~3u) == 0 && seg != S_CS;
        if (null || !(s->attr & X86_SEGA_P) || !(s->attr & X86_SEGA_S) ||
            (write && (code || !(type & 2))) || (!write && code && !(type & 2))) {
            window_set(w, 0, 0, 0);
            return;
        }
        if (!code && (type & 4)) {
            /* Expand-down (SDM 3.4.5.1): valid offsets are limit+1 up to
             * 0xffff or 0xffffffff (the B flag). */
            lo = (uint64_t)s->limit + 1;
            hi = (s->attr & X86_SEGA_DB) ? 0xffffffffu : 0xffffu;
            if (lo > hi) {
                window_set(w, 0, 0, 0);
                return;
            }
        }
    }
    /* Real and virtual-8086 mode check the limit only. Linear addresses are
     * 32 bits outside 64-bit mode: a window whose linear range would wrap
     * past 4 GiB is left to the exact path. */
    if (s->base + hi > 0xffffffffu) {
        window_set(w, 0, 0, 0);
        return;
    }
    window_set(w, lo, hi - lo + 1, s->base);
}

void x86_seg_windows_update(X86Cpu *cpu)
{
    bool m64 = x86_long_mode(cpu) && (cpu->segs[S_CS].attr & X86_SEGA_L);
    bool pm = (cpu->cr0 & X86_CR0_PE) && !(cpu->eflags & X86_VM);
    cpu->data_mmu_idx = x86_fetch_mmu_index(cpu, false);
    cpu->jit_dtlb = &tlb_fast(cpu->tlb)->tables[cpu->data_mmu_idx];
    cpu->fetch_code_size = x86_code_size(cpu);
    cpu->fetch_mode = cpu->fetch_code_size | (cpu->data_mmu_idx << 4);
    for (unsigned seg = 0; seg < 8; seg++) {
        for (unsigned write = 0; write < 2; write++) {
            struct X86SegWindow *w = &cpu->segwin[seg][write];
            if (seg > S_GS || cpu->in_smm) {
                /* In SMM the data MMU index depends on the chipset's D_CLS,
                 * which the machine may change at any time: exact path. */
                window_set(w, 0, 0, 0);
            } else if (m64) {
                /* 64-bit mode (SDM 3.3.7.1, 5.3.1): no limit or type checks,
                 * only FS/GS bases apply, and the address must be canonical.
                 * The window is every offset whose linear address, last
                 * byte included, is in the lower canonical half
                 * [0, 2^47); the rest goes to the exact path. */
                uint64_t base = (seg == S_FS || seg == S_GS) ? cpu->segs[seg].base : 0;
                window_set(w, (uint64_t)0 - base, 1ull << 47, base);
            } else {
                window_legacy(cpu, seg, write, pm, w);
            }
        }
    }
}

bool x86_read_op(X86Cpu *cpu, const X86Insn *in, const X86Operand *op, uint64_t *val)
{
    switch (op->kind) {
    case X86_OPK_REG:
        *val = x86_get_reg(cpu, op->reg, op->size);
        return true;
    case X86_OPK_REG8H:
        *val = (cpu->regs[op->reg] >> 8) & 0xff;
        return true;
    case X86_OPK_IMM:
        *val = (uint64_t)op->disp & x86_mask(op->size ? op->size : in->opsize);
        return true;
    case X86_OPK_MEM:
        return x86_read_seg(cpu, op->seg, x86_ea(cpu, in, op), op->size, val);
    case X86_OPK_SREG:
        *val = cpu->segs[op->reg].selector;
        return true;
    default:
        x86_raise(cpu, X86_EXC_UD, 0, false);
        return false;
    }
}

bool x86_write_op(X86Cpu *cpu, const X86Insn *in, const X86Operand *op, uint64_t val)
{
    switch (op->kind) {
    case X86_OPK_REG:
        x86_set_reg(cpu, op->reg, op->size, val);
        return true;
    case X86_OPK_REG8H:
        cpu->regs[op->reg] = (cpu->regs[op->reg] & ~0xff00ull) | ((val & 0xff) << 8);
        return true;
    case X86_OPK_MEM:
        return x86_write_seg(cpu, op->seg, x86_ea(cpu, in, op), op->size, val);
    default:
        x86_raise(cpu, X86_EXC_UD, 0, false);
        return false;
    }
}

/* --- Stack --- */

unsigned x86_stack_size(const X86Cpu *cpu)
{
    if (x86_long_mode(cpu) && (cpu->segs[S_CS].attr & X86_SEGA_L)) {
        return 8;
    }
    return (cpu->segs[S_SS].attr & X86_SEGA_DB) ? 4 : 2;
}

bool x86_push(X86Cpu *cpu, unsigned size, uint64_t val)
{
    unsigned ss = x86_stack_size(cpu);
    uint64_t sp = (cpu->regs[R_SP] - size) & x86_mask(ss);
    if (!x86_write_seg(cpu, S_SS, sp, size, val)) {
        return false;
    }
    x86_set_reg(cpu, R_SP, ss, sp);
    return true;
}

bool x86_stack_peek(X86Cpu *cpu, unsigned offset, unsigned size, uint64_t *val)
{
    unsigned ss = x86_stack_size(cpu);
    uint64_t sp = (cpu->regs[R_SP] + offset) & x86_mask(ss);
    return x86_read_seg(cpu, S_SS, sp, size, val);
}

bool x86_pop(X86Cpu *cpu, unsigned size, uint64_t *val)
{
    unsigned ss = x86_stack_size(cpu);
    if (!x86_stack_peek(cpu, 0, size, val)) {
        return false;
    }
    x86_set_reg(cpu, R_SP, ss, (cpu->regs[R_SP] + size) & x86_mask(ss));
    return true;
}

bool x86_jump(X86Cpu *cpu, uint64_t target)
{
    unsigned cs = x86_code_size(cpu);
    if (cs == 8) {
        if (!canonical(target)) {
            x86_raise(cpu, X86_EXC_GP, 0, true);
            return false;
        }
    } else {
        /* Handlers truncate to the operand size; EIP itself is 32 bits even
         * in 16-bit code (a 32-bit operand-size jump may go past 64 KiB). */
        target &= 0xffffffffu;
        if (target > cpu->segs[S_CS].limit) {
            x86_raise(cpu, X86_EXC_GP, 0, true);
            return false;
        }
    }
    cpu->rip = target;
    return true;
}

/* --- Port I/O (SDM Vol. 1 18.3) --- */

static bool io_allowed(X86Cpu *cpu, uint16_t port, unsigned size)
{
    bool pm = (cpu->cr0 & X86_CR0_PE) != 0;
    unsigned iopl = (cpu->eflags >> 12) & 3;
    if (!pm || (!(cpu->eflags & X86_VM) && cpu->cpl <= iopl)) {
        return true;
    }
    /* Consult the TSS I/O permission bitmap (32-bit or 64-bit TSS). */
    uint32_t type = X86_SEGA_TYPE(cpu->tr.attr);
    if ((type != 0x9 && type != 0xb) || cpu->tr.limit < 0x67) {
        return false;
    }
    uint64_t base_off;
    if (!x86_read_lin(cpu, cpu->tr.base + 0x66, 2, &base_off, true)) {
        cpu->exc.vector = -1;
        return false;
    }
    uint64_t byte = base_off + port / 8;
    if (byte + 1 > cpu->tr.limit) {
        return false;
    }
    uint64_t bits;
    if (!x86_read_lin(cpu, cpu->tr.base + byte, 2, &bits, true)) {
        cpu->exc.vector = -1;
        return false;
    }
    uint64_t mask = ((1u << size) - 1) << (port & 7);
    return (bits & mask) == 0;
}

bool x86_io_in(X86Cpu *cpu, uint16_t port, unsigned size, uint64_t *val)
{
    if (!io_allowed(cpu, port, size)) {
        x86_raise(cpu, X86_EXC_GP, 0, true);
        return false;
    }
    /* Port I/O never faults on the bus: unassigned ports read all-ones. */
    as_read_val(cpu->io_as, port, mem_attrs_cpu(cpu->index), size, MEM_LITTLE_ENDIAN, val);
    return true;
}

bool x86_io_out(X86Cpu *cpu, uint16_t port, unsigned size, uint64_t val)
{
    if (!io_allowed(cpu, port, size)) {
        x86_raise(cpu, X86_EXC_GP, 0, true);
        return false;
    }
    as_write_val(cpu->io_as, port, mem_attrs_cpu(cpu->index), size, MEM_LITTLE_ENDIAN, val);
    return true;
}
