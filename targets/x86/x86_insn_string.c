/*
 * String instructions and port I/O (SDM Vol. 2): MOVS CMPS STOS LODS SCAS
 * INS OUTS with REP/REPE/REPNE, and IN/OUT.
 *
 * Operands are implicit: source [seg:rSI] (DS unless overridden; capstone
 * reports the override on the rSI operand), destination ES:[rDI] (never
 * overridden); rSI/rDI/rCX are used at the address size, stepping by the
 * element size up or down per DF.
 *
 * REP is interruptible: one call performs at most STR_CHUNK iterations and,
 * if the count is not exhausted, returns X86_R_JUMP with rip unchanged so
 * the loop can take interrupts and end its quantum before the instruction
 * resumes. A faulting iteration leaves rSI/rDI/rCX as the completed
 * iterations left them (restartable, as the SDM describes).
 *
 * Fast path: REP MOVS / REP STOS runs whole stretches that stay in one page
 * of source and destination directly on host memory, when the TLB already
 * maps both for plain RAM access (no MMIO, watchpoint or cached code: the
 * tag flags make those miss and take the per-element path).
 */
#include <string.h>

#include "targets/x86/x86_insn.h"

#define STR_CHUNK 4096

enum { ST_MOVS, ST_CMPS, ST_STOS, ST_LODS, ST_SCAS, ST_INS, ST_OUTS };

static unsigned source_seg(const X86Insn *in)
{
    for (unsigned i = 0; i < in->nops; i++) {
        const X86Operand *op = &in->op[i];
        if (op->kind == X86_OPK_MEM && op->base == R_SI) {
            return op->seg;
        }
    }
    return S_DS;
}

/* Host pointer for [lin, lin+len) if the TLB maps it as plain RAM for this
 * access, else NULL (nothing is raised). */
static uint8_t *host_range(X86Cpu *cpu, uint64_t lin, uint64_t len, bool write)
{
    TlbFast *f = tlb_fast(cpu->tlb);
    TlbEntry *e = tlb_entry(f, x86_mmu_index(cpu, false), lin);
    uint64_t tag = write ? e->addr_write : e->addr_read;
    uint64_t page = lin & f->page_mask;
    if (tag != page || ((lin + len - 1) & f->page_mask) != page) {
        return NULL;
    }
    return (uint8_t *)(uintptr_t)(lin + e->addend);
}

/* How many elements from offset `off` (at linear `lin`) stay within its
 * page and do not wrap the address size, going up or down. */
static uint64_t span(const TlbFast *f, uint64_t lin, uint64_t off, uint64_t amask,
                     unsigned size, bool down)
{
    uint64_t page = lin & f->page_mask, page_last = page + ~f->page_mask;
    if (amask - off < size - 1 || lin + size - 1 > page_last) {
        return 0;  /* the first element wraps the address size or crosses the page */
    }
    if (!down) {
        uint64_t n = (page_last - lin + 1) / size;
        uint64_t room = (amask - off - (size - 1)) / size + 1;
        return MIN(n, room);
    }
    uint64_t n = (lin - page) / size + 1;
    return MIN(n, off / size + 1);
}

/* Segment check without raising: the per-element path reports faults at
 * the exact iteration. */
static bool seg_ok(X86Cpu *cpu, unsigned seg, uint64_t off, uint64_t len, bool write)
{
    if (x86_check_seg(cpu, seg, off, (unsigned)len, write)) {
        return true;
    }
    cpu->exc.vector = -1;
    return false;
}

/* Up to `max` iterations of REP MOVS/STOS on host memory; returns how many
 * were done (0: take the per-element path for the next one). */
static uint64_t fast_chunk(X86Cpu *cpu, int op, unsigned size, unsigned sseg, unsigned as_size,
                           bool down, uint64_t max)
{
    TlbFast *f = tlb_fast(cpu->tlb);
    uint64_t amask = x86_mask(as_size);
    uint64_t di = cpu->regs[R_DI] & amask, si = cpu->regs[R_SI] & amask;
    uint64_t ldi = x86i_linear(cpu, S_ES, di), lsi = 0;
    uint64_t n = MIN(max, span(f, ldi, di, amask, size, down));
    if (op == ST_MOVS) {
        lsi = x86i_linear(cpu, sseg, si);
        n = MIN(n, span(f, lsi, si, amask, size, down));
    }
    if (n < 2) {
        return 0;
    }
    uint64_t len = n * size;
    uint64_t dlo = down ? di - (n - 1) * size : di;
    uint64_t ldlo = down ? ldi - (n - 1) * size : ldi;
    if (!seg_ok(cpu, S_ES, dlo, len, true)) {
        return 0;
    }
    uint8_t *hd = host_range(cpu, ldlo, len, true);
    if (!hd) {
        return 0;
    }
    if (op == ST_STOS) {
        uint64_t v = cpu->regs[R_AX];
        if (size == 1) {
            memset(hd, (int)(v & 0xff), len);
        } else {
            for (uint64_t i = 0; i < n; i++) {
                tlb_host_store(hd + i * size, size, false, v);
            }
        }
    } else {
        uint64_t slo = down ? si - (n - 1) * size : si;
        uint64_t lslo = down ? lsi - (n - 1) * size : lsi;
        if (!seg_ok(cpu, sseg, slo, len, false)) {
            return 0;
        }
        const uint8_t *hs = host_range(cpu, lslo, len, false);
        if (!hs) {
            return 0;
        }
        if (hd + len <= hs || hs + len <= hd) {
            memmove(hd, hs, len);
        } else if (!down) {
            /* Overlap: element by element, as the instruction does. */
            for (uint64_t i = 0; i < n; i++) {
                memmove(hd + i * size, hs + i * size, size);
            }
        } else {
            for (uint64_t i = n; i-- > 0;) {
                memmove(hd + i * size, hs + i * size, size);
            }
        }
        x86_set_reg(cpu, R_SI, as_size, down ? si - len : si + len);
    }
    x86_set_reg(cpu, R_DI, as_size, down ? di - len : di + len);
    x86_set_reg(cpu, R_CX, as_size, (cpu->regs[R_CX] - n) & amask);
    return n;
}

static inline __attribute__((always_inline)) int string_op(X86Cpu *cpu, const X86Insn *in,
                                                          int op, unsigned size)
{
    unsigned as = in->addrsize;
    uint64_t amask = x86_mask(as);
    bool rep = (in->prefixes & (X86_PFX_REP | X86_PFX_REPNE)) != 0;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    uint64_t count = rep ? cpu->regs[R_CX] & amask : 1;
    if (count == 0) {
        return X86_R_NEXT;
    }
    unsigned sseg = source_seg(in);
    bool down = (cpu->eflags & X86_DF) != 0;
    uint64_t step = down ? (uint64_t)0 - size : size;
    uint64_t budget = MIN(count, (uint64_t)STR_CHUNK), done = 0;
    uint16_t port = (uint16_t)cpu->regs[R_DX];

    while (done < budget) {
        if (rep && (op == ST_MOVS || op == ST_STOS) && budget - done >= 2) {
            uint64_t n = fast_chunk(cpu, op, size, sseg, as, down, budget - done);
            if (n) {
                done += n;
                continue;
            }
        }
        uint64_t si = cpu->regs[R_SI] & amask, di = cpu->regs[R_DI] & amask, a, b;
        switch (op) {
        case ST_MOVS:
            if (!x86_read_seg(cpu, sseg, si, size, &a) || !x86_write_seg(cpu, S_ES, di, size, a)) {
                return X86_R_EXC;
            }
            break;
        case ST_CMPS:
            if (!x86_read_seg(cpu, sseg, si, size, &a) || !x86_read_seg(cpu, S_ES, di, size, &b)) {
                return X86_R_EXC;
            }
            x86_cmp(&cpu->lf, size, a, b);
            break;
        case ST_STOS:
            if (!x86_write_seg(cpu, S_ES, di, size, cpu->regs[R_AX] & x86_mask(size))) {
                return X86_R_EXC;
            }
            break;
        case ST_LODS:
            if (!x86_read_seg(cpu, sseg, si, size, &a)) {
                return X86_R_EXC;
            }
            x86_set_reg(cpu, R_AX, size, a);
            break;
        case ST_SCAS:
            if (!x86_read_seg(cpu, S_ES, di, size, &b)) {
                return X86_R_EXC;
            }
            x86_cmp(&cpu->lf, size, cpu->regs[R_AX], b);
            break;
        case ST_INS:
            /* The destination is checked before the (destructive) port read. */
            if (!x86_check_seg(cpu, S_ES, di, size, true) || !x86_io_in(cpu, port, size, &a) ||
                !x86_write_seg(cpu, S_ES, di, size, a)) {
                return X86_R_EXC;
            }
            break;
        default: /* ST_OUTS */
            if (!x86_read_seg(cpu, sseg, si, size, &a) || !x86_io_out(cpu, port, size, a)) {
                return X86_R_EXC;
            }
            break;
        }
        if (op == ST_MOVS || op == ST_CMPS || op == ST_LODS || op == ST_OUTS) {
            x86_set_reg(cpu, R_SI, as, si + step);
        }
        if (op != ST_LODS && op != ST_OUTS) {
            x86_set_reg(cpu, R_DI, as, di + step);
        }
        done++;
        if (!rep) {
            return X86_R_NEXT;
        }
        x86_set_reg(cpu, R_CX, as, (cpu->regs[R_CX] - 1) & amask);
        if (op == ST_CMPS || op == ST_SCAS) {
            /* REPE stops on ZF = 0, REPNE on ZF = 1. */
            bool zf = x86_cond(&cpu->lf, X86_COND_E);
            if ((in->prefixes & X86_PFX_REP) ? !zf : zf) {
                return X86_R_NEXT;
            }
        }
    }
    if (done == count) {
        return X86_R_NEXT;
    }
    return X86_R_JUMP;  /* more to do: resume at this instruction */
}

/*
 * Element size of the word/doubleword forms. Capstone 4 ignores a 66h
 * prefix that comes before F2h/F3h in 32- and 64-bit code (GNU as emits
 * "66 F3 AB" for REP STOSW): it reports the doubleword form. When the
 * instruction has more bytes than its known prefixes explain, the prefixes
 * are re-read (rare: only then).
 */
static unsigned str_size(X86Cpu *cpu, const X86Insn *in, unsigned nominal)
{
    if (nominal != 4) {
        return nominal;
    }
    unsigned cs = x86_code_size(cpu);
    if (cs == 2) {
        return nominal;
    }
    unsigned known = 1 + ((in->prefixes & (X86_PFX_REP | X86_PFX_REPNE)) != 0) +
                     ((in->prefixes & X86_PFX_SEG) != 0) + (in->addrsize != cs);
    if (in->len <= known) {
        return nominal;
    }
    return x86i_real_opsize(cpu, in);
}

static inline __attribute__((always_inline)) int string_sized(X86Cpu *cpu, const X86Insn *in,
                                                              int op, unsigned nominal)
{
    switch (str_size(cpu, in, nominal)) {
    case 2: return string_op(cpu, in, op, 2);
    case 8: return string_op(cpu, in, op, 8);
    default: return string_op(cpu, in, op, 4);
    }
}

#define STR(name, op, size) \
    static int h_##name(X86Cpu *cpu, const X86Insn *in) { return string_op(cpu, in, op, size); }
#define STRD(name, op) \
    static int h_##name(X86Cpu *cpu, const X86Insn *in) { return string_sized(cpu, in, op, 4); }
STR(movsb, ST_MOVS, 1)
STR(movsw, ST_MOVS, 2)
STR(movsq, ST_MOVS, 8)
STR(cmpsb, ST_CMPS, 1)
STR(cmpsw, ST_CMPS, 2)
STR(cmpsq, ST_CMPS, 8)
STR(stosb, ST_STOS, 1)
STR(stosw, ST_STOS, 2)
STRD(stosd, ST_STOS)
STR(stosq, ST_STOS, 8)
STR(lodsb, ST_LODS, 1)
STR(lodsw, ST_LODS, 2)
STRD(lodsd, ST_LODS)
STR(lodsq, ST_LODS, 8)
STR(scasb, ST_SCAS, 1)
STR(scasw, ST_SCAS, 2)
STRD(scasd, ST_SCAS)
STR(scasq, ST_SCAS, 8)
STR(insb, ST_INS, 1)
STR(insw, ST_INS, 2)
STRD(insd, ST_INS)
STR(outsb, ST_OUTS, 1)
STR(outsw, ST_OUTS, 2)
STRD(outsd, ST_OUTS)

/* X86_INS_MOVSD and X86_INS_CMPSD are also SSE2's MOVSD/CMPSD (F2 0F ..). */
static int h_movsd(X86Cpu *cpu, const X86Insn *in)
{
    if (in->opcode != 0xa5) {
        return x86i_sse_absent(cpu, in);
    }
    return string_sized(cpu, in, ST_MOVS, 4);
}

static int h_cmpsd(X86Cpu *cpu, const X86Insn *in)
{
    if (in->opcode != 0xa7) {
        return x86i_sse_absent(cpu, in);
    }
    return string_sized(cpu, in, ST_CMPS, 4);
}

/* --- IN / OUT --- */

static int h_in(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *d = &in->op[0], *p = &in->op[1];
    uint16_t port = p->kind == X86_OPK_IMM ? (uint16_t)(p->disp & 0xff) : (uint16_t)cpu->regs[R_DX];
    uint64_t v;
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    if (!x86_io_in(cpu, port, d->size, &v)) {
        return X86_R_EXC;
    }
    x86_set_reg(cpu, R_AX, d->size, v);
    return X86_R_NEXT;
}

static int h_out(X86Cpu *cpu, const X86Insn *in)
{
    const X86Operand *p = &in->op[0], *s = &in->op[1];
    uint16_t port = p->kind == X86_OPK_IMM ? (uint16_t)(p->disp & 0xff) : (uint16_t)cpu->regs[R_DX];
    if (x86i_has_lock(in)) {
        return x86i_ud(cpu);
    }
    return x86_io_out(cpu, port, s->size, cpu->regs[R_AX] & x86_mask(s->size)) ? X86_R_NEXT
                                                                               : X86_R_EXC;
}

void x86_insn_register_string(void)
{
    static const struct { unsigned id; X86Handler fn; } table[] = {
        { X86_INS_MOVSB, h_movsb }, { X86_INS_MOVSW, h_movsw }, { X86_INS_MOVSD, h_movsd },
        { X86_INS_MOVSQ, h_movsq },
        { X86_INS_CMPSB, h_cmpsb }, { X86_INS_CMPSW, h_cmpsw }, { X86_INS_CMPSD, h_cmpsd },
        { X86_INS_CMPSQ, h_cmpsq },
        { X86_INS_STOSB, h_stosb }, { X86_INS_STOSW, h_stosw }, { X86_INS_STOSD, h_stosd },
        { X86_INS_STOSQ, h_stosq },
        { X86_INS_LODSB, h_lodsb }, { X86_INS_LODSW, h_lodsw }, { X86_INS_LODSD, h_lodsd },
        { X86_INS_LODSQ, h_lodsq },
        { X86_INS_SCASB, h_scasb }, { X86_INS_SCASW, h_scasw }, { X86_INS_SCASD, h_scasd },
        { X86_INS_SCASQ, h_scasq },
        { X86_INS_INSB, h_insb }, { X86_INS_INSW, h_insw }, { X86_INS_INSD, h_insd },
        { X86_INS_OUTSB, h_outsb }, { X86_INS_OUTSW, h_outsw }, { X86_INS_OUTSD, h_outsd },
        { X86_INS_IN, h_in }, { X86_INS_OUT, h_out },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        x86_register_handler(table[i].id, table[i].fn);
    }
}
