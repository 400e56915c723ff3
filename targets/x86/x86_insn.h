/*
 * Private to the instruction handlers (x86_insn_*.c): group registration
 * and small helpers shared by the groups.
 *
 * Handler discipline (x86_internal.h): loads and checks first, then stores,
 * then registers and flags; a fault returns X86_R_EXC with nothing changed
 * (string instructions excepted: an iteration that faults leaves the
 * registers of the completed iterations, as the SDM requires for restart).
 * Flags always go through the x86_alu.h library.
 */
#ifndef MMUSIM_TARGETS_X86_INSN_H
#define MMUSIM_TARGETS_X86_INSN_H

#include <capstone/capstone.h>

#include "targets/x86/x86_internal.h"

/* Group registration (x86_insn_table.c calls them all). */
void x86_insn_register_alu(void);
void x86_insn_register_data(void);
void x86_insn_register_ctl(void);
void x86_insn_register_string(void);
void x86_insn_register_sys(void);

/* Handlers specialised for common forms (x86_insn_specialise): NULL when
 * the group has none for `in`. */
X86Handler x86i_specialise_alu(const X86Insn *in, unsigned code_size);
X86Handler x86i_specialise_data(const X86Insn *in, unsigned code_size);
X86Handler x86i_specialise_ctl(const X86Insn *in, unsigned code_size);

/* Memory-operand forms of the specialised handlers: [base + disp] (no
 * index, base not RIP), and anything else. */
enum { X86I_EA_BASE, X86I_EA_ANY };

static inline int x86i_ea_form(const X86Operand *op)
{
    return op->base != X86_NO_REG && op->base != X86_RIP_REG && op->index == X86_NO_REG
               ? X86I_EA_BASE : X86I_EA_ANY;
}

static inline uint64_t x86i_ea_fast(const X86Cpu *cpu, const X86Operand *op, int form,
                                    unsigned addrsize)
{
    if (form == X86I_EA_BASE) {
        return ((uint64_t)op->disp + cpu->regs[op->base]) & x86_mask(addrsize);
    }
    return x86_ea_inline(cpu, op, addrsize);
}

/* The defined (non-reserved) EFLAGS bits. */
#define X86I_EFLAGS_VALID 0x3f7fd5u

#define X86I_LIKELY(x) __builtin_expect(!!(x), 1)
#define X86I_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Raise and report: `return x86i_exc(cpu, X86_EXC_GP, 0, true);` */
static inline int x86i_exc(X86Cpu *cpu, int vector, uint32_t error_code, bool has_error)
{
    x86_raise(cpu, vector, error_code, has_error);
    return X86_R_EXC;
}

static inline int x86i_ud(X86Cpu *cpu)
{
    return x86i_exc(cpu, X86_EXC_UD, 0, false);
}

static inline int x86i_gp0(X86Cpu *cpu)
{
    return x86i_exc(cpu, X86_EXC_GP, 0, true);
}

/* 64-bit mode (long mode with a 64-bit code segment); inline copy of the
 * test in x86_code_size() for the hot paths. */
static inline bool x86i_mode64(const X86Cpu *cpu)
{
    return (cpu->efer & X86_EFER_LMA) && (cpu->segs[S_CS].attr & X86_SEGA_L);
}

static inline bool x86i_pe(const X86Cpu *cpu)
{
    return (cpu->cr0 & X86_CR0_PE) != 0;
}

static inline bool x86i_vm86(const X86Cpu *cpu)
{
    return (cpu->eflags & X86_VM) != 0;
}

static inline unsigned x86i_iopl(const X86Cpu *cpu)
{
    return (cpu->eflags >> 12) & 3;
}

/* Protected mode (not virtual-8086): descriptor instructions are valid. */
static inline bool x86i_pmode(const X86Cpu *cpu)
{
    return x86i_pe(cpu) && !x86i_vm86(cpu);
}

/*
 * Size of a stack operand of near branches, PUSH/POP, ENTER/LEAVE: in
 * 64-bit mode 8 unless a 66h prefix made it 2 (REX.W or not); elsewhere the
 * operand size.
 */
static inline unsigned x86i_stack_opsize(const X86Cpu *cpu, unsigned opsize)
{
    if (x86i_mode64(cpu)) {
        return opsize == 2 ? 2 : 8;
    }
    return opsize == 4 ? 4 : 2;
}

/* Linear address of seg:off without checks (after x86_check_seg). */
static inline uint64_t x86i_linear(const X86Cpu *cpu, unsigned seg, uint64_t off)
{
    if (x86i_mode64(cpu)) {
        return (seg == S_FS || seg == S_GS) ? cpu->segs[seg].base + off : off;
    }
    return (uint32_t)(cpu->segs[seg].base + off);
}

/*
 * The instruction's raw prefixes, re-read from its bytes. X86Insn does not
 * record the 66h prefix or REX.W where capstone reports an operand size of
 * its own (far pointers, LGDT/LIDT, segment-register PUSH/POP), nor which
 * segment override an operand-less instruction (XLAT) carries, nor AAM/AAD's
 * immediate. Only rare instructions use this.
 */
typedef struct X86RawInsn {
    bool opsize;      /* 66h */
    bool addrsize;    /* 67h */
    bool rexw;
    uint8_t seg;      /* last segment override, or S_NONE */
    uint8_t last;     /* last byte of the instruction (AAM/AAD imm8) */
} X86RawInsn;

bool x86i_raw(X86Cpu *cpu, const X86Insn *in, X86RawInsn *out);

/* Operand size with the prefixes as the hardware applies them to
 * instructions whose default is 16/32 (far pointers, segment pushes):
 * REX.W -> 8, 66h flips 16/32. */
unsigned x86i_real_opsize(X86Cpu *cpu, const X86Insn *in);

/* Soft interrupt (INT n, INT3, INTO): delivered by the loop with the
 * return address next_rip. */
static inline int x86i_soft_int(X86Cpu *cpu, int vector)
{
    cpu->exc = (X86PendingExc){ vector, 0, false, true };
    return X86_R_EXC;
}

/* LOCK is valid only on the lockable instructions with a memory destination. */
static inline bool x86i_lock_bad(const X86Insn *in)
{
    return X86I_UNLIKELY(in->prefixes & X86_PFX_LOCK) && in->op[0].kind != X86_OPK_MEM;
}

static inline bool x86i_has_lock(const X86Insn *in)
{
    return X86I_UNLIKELY(in->prefixes & X86_PFX_LOCK);
}

/* First line of a handler of a non-lockable instruction. */
#define X86I_NO_LOCK(cpu, in)              \
    do {                                   \
        if (x86i_has_lock(in)) {           \
            return x86i_ud(cpu);           \
        }                                  \
    } while (0)

/* Near jump within CS to `target`, truncated to 16 bits for a 16-bit operand
 * size outside 64-bit mode. */
static inline int x86i_branch(X86Cpu *cpu, unsigned opsize, uint64_t target)
{
    if (opsize == 2 && !x86i_mode64(cpu)) {
        target &= 0xffff;
    }
    return x86_jump(cpu, target) ? X86_R_JUMP : X86_R_EXC;
}

/* Current privilege level as the privilege checks see it: 0 in real mode,
 * 3 in virtual-8086 mode. */
static inline unsigned x86i_cpl(const X86Cpu *cpu)
{
    if (!x86i_pe(cpu)) {
        return 0;
    }
    return x86i_vm86(cpu) ? 3 : cpu->cpl;
}

/* Load a segment register the way the current mode does (real and
 * virtual-8086 mode: base = selector * 16; protected mode: descriptor). */
static inline bool x86i_load_seg(X86Cpu *cpu, unsigned seg, uint16_t sel)
{
    if (!x86i_pmode(cpu)) {
        x86_load_seg_real(cpu, seg, sel);
        return true;
    }
    return x86_load_seg(cpu, seg, sel);
}

/* MOV to/from control and debug registers (x86_insn_sys.c). */
int x86i_mov_cr(X86Cpu *cpu, const X86Insn *in);
int x86i_mov_dr(X86Cpu *cpu, const X86Insn *in);

/* #NM / #UD for the x87, MMX and SSE instructions the CPU does not model. */
int x86i_fpu_absent(X86Cpu *cpu, const X86Insn *in);
int x86i_sse_absent(X86Cpu *cpu, const X86Insn *in);

#endif
