/*
 * Private to targets/x86: helpers shared by the interpreter's files.
 *
 * Fault discipline: every helper that can fault returns false after it
 * called x86_raise(); a handler then returns X86_R_EXC at once, having
 * changed no architectural state. Handlers therefore do all loads and
 * checks first, then stores, then register and flag writes.
 */
#ifndef MMUSIM_TARGETS_X86_INTERNAL_H
#define MMUSIM_TARGETS_X86_INTERNAL_H

#include <stdio.h>

#include "targets/x86/x86_cpu.h"
#include "targets/x86/x86_decode.h"

static inline uint64_t x86_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : ((1ull << (8 * size)) - 1);
}

static inline int64_t x86_sext(uint64_t v, unsigned size)
{
    unsigned sh = 64 - 8 * size;
    return size >= 8 ? (int64_t)v : (int64_t)(v << sh) >> sh;
}

/* Registers by operand size; 32-bit writes zero the upper half (64-bit mode
 * rule, harmless elsewhere), 8/16-bit writes merge. */
static inline uint64_t x86_get_reg(const X86Cpu *cpu, unsigned reg, unsigned size)
{
    return cpu->regs[reg] & x86_mask(size);
}

static inline void x86_set_reg(X86Cpu *cpu, unsigned reg, unsigned size, uint64_t v)
{
    if (size == 4 || size == 8) {
        cpu->regs[reg] = v & x86_mask(size);
    } else {
        cpu->regs[reg] = (cpu->regs[reg] & ~x86_mask(size)) | (v & x86_mask(size));
    }
}

/* Effective address of a memory operand (before segmentation). */
uint64_t x86_ea(X86Cpu *cpu, const X86Insn *in, const X86Operand *op);

/* The same for the specialised handlers, whose address size is a constant. */
static inline uint64_t x86_ea_inline(const X86Cpu *cpu, const X86Operand *op,
                                     unsigned addrsize)
{
    uint64_t ea = (uint64_t)op->disp;
    if (op->base == X86_RIP_REG) {
        ea += cpu->next_rip;
    } else if (op->base != X86_NO_REG) {
        ea += cpu->regs[op->base];
    }
    if (op->index != X86_NO_REG) {
        ea += cpu->regs[op->index] * op->scale;
    }
    return ea & x86_mask(addrsize);
}

/* Segmented access: limit and type checks (not in 64-bit mode), then the
 * TLB. `seg` is S_ES..S_GS. The inline versions take the segment window
 * (X86Cpu.segwin) when the access is inside it, the exact checks of the
 * _slow versions otherwise. */
bool x86_read_seg_slow(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, uint64_t *val);
bool x86_write_seg_slow(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, uint64_t val);
/* Recompute X86Cpu.segwin and data_mmu_idx from the current state. */
void x86_seg_windows_update(X86Cpu *cpu);

static inline bool x86_seg_window_hit(const struct X86SegWindow *w, uint64_t off,
                                      unsigned size)
{
    uint64_t d = off - w->lo;
    return __builtin_expect(d < w->cnt && d + size <= w->cnt, 1);
}

static inline bool x86_read_seg(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size,
                                uint64_t *val)
{
    const struct X86SegWindow *w = &cpu->segwin[seg][0];
    if (x86_seg_window_hit(w, off, size)) {
        return tlb_load(cpu->tlb, w->base + off, size, cpu->data_mmu_idx, 0, val);
    }
    return x86_read_seg_slow(cpu, seg, off, size, val);
}

static inline bool x86_write_seg(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size,
                                 uint64_t val)
{
    const struct X86SegWindow *w = &cpu->segwin[seg][1];
    if (x86_seg_window_hit(w, off, size)) {
        return tlb_store(cpu->tlb, w->base + off, size, cpu->data_mmu_idx, 0, val);
    }
    return x86_write_seg_slow(cpu, seg, off, size, val);
}
/* Linear access (descriptor tables, TSS, IDT): implicit supervisor. */
bool x86_read_lin(X86Cpu *cpu, uint64_t lin, unsigned size, uint64_t *val, bool supervisor);
bool x86_write_lin(X86Cpu *cpu, uint64_t lin, unsigned size, uint64_t val, bool supervisor);
/* Check a segmented range is accessible without accessing it (for
 * instructions that must not partially complete). */
bool x86_check_seg(X86Cpu *cpu, unsigned seg, uint64_t off, unsigned size, bool write);

/* Operand access by kind (REG, REG8H, IMM, MEM, SREG). */
bool x86_read_op(X86Cpu *cpu, const X86Insn *in, const X86Operand *op, uint64_t *val);
bool x86_write_op(X86Cpu *cpu, const X86Insn *in, const X86Operand *op, uint64_t val);

/* Stack: push/pop of `size` bytes with the current stack size (SS.B / long mode). */
unsigned x86_stack_size(const X86Cpu *cpu);
bool x86_push(X86Cpu *cpu, unsigned size, uint64_t val);
bool x86_pop(X86Cpu *cpu, unsigned size, uint64_t *val);
/* Pop without committing RSP: read `size` at RSP+offset. */
bool x86_stack_peek(X86Cpu *cpu, unsigned offset, unsigned size, uint64_t *val);

/* Mask an instruction pointer to the current code size. */
static inline uint64_t x86_ip_mask(const X86Cpu *cpu, uint64_t ip)
{
    unsigned cs = x86_code_size(cpu);
    return cs == 8 ? ip : ip & x86_mask(cs);
}

/* Jump within the current code segment (limit-checked outside 64-bit mode;
 * non-canonical targets fault in 64-bit mode). */
bool x86_jump(X86Cpu *cpu, uint64_t target);

/* Segment loading (x86_seg.c). */
bool x86_load_seg(X86Cpu *cpu, unsigned seg, uint16_t selector);
void x86_load_seg_real(X86Cpu *cpu, unsigned seg, uint16_t selector);
/* Far transfers: JMP/CALL far, RETF, IRET (protected and real mode). */
bool x86_far_jump(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize);
bool x86_far_call(X86Cpu *cpu, uint16_t sel, uint64_t off, unsigned opsize);
bool x86_far_ret(X86Cpu *cpu, unsigned opsize, uint16_t pop_bytes);
bool x86_iret(X86Cpu *cpu, unsigned opsize);
/* Read a descriptor (8 bytes; 16 in long mode for system descriptors). */
bool x86_read_descriptor(X86Cpu *cpu, uint16_t sel, uint64_t *lo, uint64_t *hi,
                         bool *bad_index);
void x86_seg_from_descriptor(X86Seg *s, uint16_t sel, uint64_t lo, uint64_t hi);

/* Hardware task switches (x86_task.c; SDM Vol. 3A 7.3), 16- and 32-bit
 * TSSs, not in IA-32e mode (callers raise #GP there). Fault discipline as
 * above, except that a fault after the commit point, and the #DB trap of a
 * new TSS's T flag, are raised with the new task loaded (cpu->task_switched
 * set). */
typedef enum X86TaskSource { X86_TASK_JMP, X86_TASK_CALL, X86_TASK_IRET, X86_TASK_INT } X86TaskSource;
/* Far JMP (call = false) or CALL to the TSS or task gate `sel` (descriptor
 * low half `lo`, type 1, 5 or 9); the outgoing EIP is cpu->next_rip. */
bool x86_task_far(X86Cpu *cpu, uint16_t sel, uint64_t lo, bool call);
/* An event through the IDT task gate `gate_lo` (its DPL and P checked). */
bool x86_task_gate_int(X86Cpu *cpu, uint64_t gate_lo, uint32_t ext, uint64_t ret_eip,
                       bool has_err, uint32_t err);
/* IRET with EFLAGS.NT = 1 in protected mode: back to the previous task. */
bool x86_task_return(X86Cpu *cpu);
/* CR3 load without the MOV CR3 privilege check (task switches). */
bool x86_load_cr3(X86Cpu *cpu, uint64_t val);

/* CPU mode helpers. */
void x86_update_mode(X86Cpu *cpu);   /* after CR0/EFER/CS changes */
bool x86_write_cr(X86Cpu *cpu, unsigned n, uint64_t val);
bool x86_rdmsr(X86Cpu *cpu, uint32_t msr, uint64_t *val);
bool x86_wrmsr(X86Cpu *cpu, uint32_t msr, uint64_t val);
void x86_cpuid(X86Cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* Port I/O, with the IOPL/TSS permission check. */
bool x86_io_in(X86Cpu *cpu, uint16_t port, unsigned size, uint64_t *val);
bool x86_io_out(X86Cpu *cpu, uint16_t port, unsigned size, uint64_t val);

/* Unimplemented instruction: log once per id, raise #UD. */
int x86_unimplemented(X86Cpu *cpu, const X86Insn *in);

#endif
