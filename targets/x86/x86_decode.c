/*
 * Decoding: capstone (with detail) -> X86Insn.
 *
 * Decoding happens once per instruction per cached block, so capstone's
 * cost (~5 M instructions/s here) is paid on first execution only.
 * Capstone handles are not thread-safe: one set per process, under a lock.
 *
 * Facts recorded, and the capstone 4 pitfalls handled here:
 * - default segments: capstone leaves mem.segment INVALID unless an
 *   override prefix is present; we apply SS for (E/R)SP/(E/R)BP bases and
 *   DS otherwise (SDM Vol. 1 3.7.4);
 * - relative branch targets: capstone gives absolute targets computed from
 *   the pc we pass; we store them relative to the next instruction, so a
 *   cached block is valid at any linear address it is executed from;
 * - operand access flags are never used;
 * - anything capstone rejects decodes as "invalid": the CPU raises #UD.
 */
#include <capstone/capstone.h>
#include <string.h>

#include "targets/x86/x86_cpu.h"
#include "targets/x86/x86_decode.h"

static csh handles[3];  /* 16, 32, 64 */
static GMutex decode_lock;
static bool decode_ready;

static X86Handler *handler_table;

void x86_register_handler(unsigned cs_id, X86Handler fn)
{
    if (!handler_table) {
        handler_table = g_new0(X86Handler, X86_INS_ENDING);
    }
    if (cs_id < X86_INS_ENDING) {
        handler_table[cs_id] = fn;
    }
}

X86Handler x86_handler_for(unsigned cs_id)
{
    return handler_table && cs_id < X86_INS_ENDING ? handler_table[cs_id] : NULL;
}

static bool decode_init(void)
{
    if (decode_ready) {
        return true;
    }
    static const cs_mode modes[3] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };
    for (int i = 0; i < 3; i++) {
        if (cs_open(CS_ARCH_X86, modes[i], &handles[i]) != CS_ERR_OK) {
            return false;
        }
        cs_option(handles[i], CS_OPT_DETAIL, CS_OPT_ON);
    }
    x86_insn_register_all();
    decode_ready = true;
    return true;
}

static csh handle_for(unsigned code_size)
{
    return handles[code_size == 2 ? 0 : code_size == 4 ? 1 : 2];
}

/* capstone register -> (our index, size, kind). */
typedef struct RegInfo {
    uint8_t kind, reg, size;
} RegInfo;

static RegInfo reg_info(x86_reg r)
{
#define G(name, idx, sz) case X86_REG_##name: return (RegInfo){ X86_OPK_REG, idx, sz }
    switch (r) {
    G(AL, R_AX, 1); G(CL, R_CX, 1); G(DL, R_DX, 1); G(BL, R_BX, 1);
    G(SPL, R_SP, 1); G(BPL, R_BP, 1); G(SIL, R_SI, 1); G(DIL, R_DI, 1);
    G(AX, R_AX, 2); G(CX, R_CX, 2); G(DX, R_DX, 2); G(BX, R_BX, 2);
    G(SP, R_SP, 2); G(BP, R_BP, 2); G(SI, R_SI, 2); G(DI, R_DI, 2);
    G(EAX, R_AX, 4); G(ECX, R_CX, 4); G(EDX, R_DX, 4); G(EBX, R_BX, 4);
    G(ESP, R_SP, 4); G(EBP, R_BP, 4); G(ESI, R_SI, 4); G(EDI, R_DI, 4);
    G(RAX, R_AX, 8); G(RCX, R_CX, 8); G(RDX, R_DX, 8); G(RBX, R_BX, 8);
    G(RSP, R_SP, 8); G(RBP, R_BP, 8); G(RSI, R_SI, 8); G(RDI, R_DI, 8);
    G(R8B, 8, 1); G(R9B, 9, 1); G(R10B, 10, 1); G(R11B, 11, 1);
    G(R12B, 12, 1); G(R13B, 13, 1); G(R14B, 14, 1); G(R15B, 15, 1);
    G(R8W, 8, 2); G(R9W, 9, 2); G(R10W, 10, 2); G(R11W, 11, 2);
    G(R12W, 12, 2); G(R13W, 13, 2); G(R14W, 14, 2); G(R15W, 15, 2);
    G(R8D, 8, 4); G(R9D, 9, 4); G(R10D, 10, 4); G(R11D, 11, 4);
    G(R12D, 12, 4); G(R13D, 13, 4); G(R14D, 14, 4); G(R15D, 15, 4);
    G(R8, 8, 8); G(R9, 9, 8); G(R10, 10, 8); G(R11, 11, 8);
    G(R12, 12, 8); G(R13, 13, 8); G(R14, 14, 8); G(R15, 15, 8);
#undef G
    case X86_REG_AH: return (RegInfo){ X86_OPK_REG8H, R_AX, 1 };
    case X86_REG_CH: return (RegInfo){ X86_OPK_REG8H, R_CX, 1 };
    case X86_REG_DH: return (RegInfo){ X86_OPK_REG8H, R_DX, 1 };
    case X86_REG_BH: return (RegInfo){ X86_OPK_REG8H, R_BX, 1 };
    case X86_REG_ES: return (RegInfo){ X86_OPK_SREG, S_ES, 2 };
    case X86_REG_CS: return (RegInfo){ X86_OPK_SREG, S_CS, 2 };
    case X86_REG_SS: return (RegInfo){ X86_OPK_SREG, S_SS, 2 };
    case X86_REG_DS: return (RegInfo){ X86_OPK_SREG, S_DS, 2 };
    case X86_REG_FS: return (RegInfo){ X86_OPK_SREG, S_FS, 2 };
    case X86_REG_GS: return (RegInfo){ X86_OPK_SREG, S_GS, 2 };
    case X86_REG_RIP: case X86_REG_EIP: case X86_REG_IP:
        return (RegInfo){ X86_OPK_REG, X86_RIP_REG, 8 };
    default:
        break;
    }
    if (r >= X86_REG_CR0 && r <= X86_REG_CR15) {
        return (RegInfo){ X86_OPK_CREG, (uint8_t)(r - X86_REG_CR0), 8 };
    }
    if (r >= X86_REG_DR0 && r <= X86_REG_DR15) {
        return (RegInfo){ X86_OPK_DREG, (uint8_t)(r - X86_REG_DR0), 8 };
    }
    return (RegInfo){ X86_OPK_NONE, X86_NO_REG, 0 };
}

static uint8_t seg_of_prefix(uint8_t p)
{
    switch (p) {
    case 0x26: return S_ES;
    case 0x2e: return S_CS;
    case 0x36: return S_SS;
    case 0x3e: return S_DS;
    case 0x64: return S_FS;
    case 0x65: return S_GS;
    }
    return S_NONE;
}

static bool is_stack_base(x86_reg r)
{
    return r == X86_REG_SP || r == X86_REG_BP || r == X86_REG_ESP || r == X86_REG_EBP ||
           r == X86_REG_RSP || r == X86_REG_RBP;
}

static bool in_group(const cs_insn *ci, uint8_t group)
{
    for (uint8_t i = 0; i < ci->detail->groups_count; i++) {
        if (ci->detail->groups[i] == group) {
            return true;
        }
    }
    return false;
}

/* Instructions after which the block ends: control transfers, and anything
 * that may change how the following bytes decode or are fetched. */
static bool ends_block(const cs_insn *ci)
{
    if (in_group(ci, X86_GRP_JUMP) || in_group(ci, X86_GRP_CALL) || in_group(ci, X86_GRP_RET) ||
        in_group(ci, X86_GRP_INT) || in_group(ci, X86_GRP_IRET) ||
        in_group(ci, X86_GRP_PRIVILEGE)) {
        return true;
    }
    switch (ci->id) {
    case X86_INS_HLT: case X86_INS_STI: case X86_INS_POPF: case X86_INS_POPFD:
    case X86_INS_POPFQ: case X86_INS_SYSCALL: case X86_INS_SYSRET: case X86_INS_SYSENTER:
    case X86_INS_SYSEXIT: case X86_INS_RSM: case X86_INS_LSS: case X86_INS_POP:
    case X86_INS_MOV: case X86_INS_CPUID: case X86_INS_UD2: case X86_INS_INT3:
    case X86_INS_INTO: case X86_INS_INT: case X86_INS_WRMSR: case X86_INS_INVLPG:
        /* POP/MOV end a block only when they load SS (checked below). */
        return ci->id != X86_INS_POP && ci->id != X86_INS_MOV;
    default:
        return false;
    }
}

bool x86_decode(const uint8_t *bytes, unsigned avail, unsigned code_size, uint64_t pc,
                X86Insn *out, bool *need_more)
{
    *need_more = false;
    memset(out, 0, sizeof(*out));
    g_mutex_lock(&decode_lock);
    if (!decode_init()) {
        g_mutex_unlock(&decode_lock);
        return false;
    }
    csh h = handle_for(code_size);
    cs_insn *ci = NULL;
    size_t n = cs_disasm(h, bytes, avail, pc, 1, &ci);
    if (n != 1) {
        /* Maybe the instruction runs past `avail` (a page end): up to 15 bytes. */
        *need_more = avail < 15;
        g_mutex_unlock(&decode_lock);
        return false;
    }
    const cs_x86 *x = &ci->detail->x86;
    out->len = (uint8_t)ci->size;
    out->id = (uint16_t)ci->id;
    out->addrsize = x->addr_size ? x->addr_size : (uint8_t)code_size;
    out->opcode = x->opcode[0];
    out->opcode2 = x->opcode[0] == 0x0f ? x->opcode[1] : 0;
    out->modrm = x->modrm;
    if (x->prefix[0] == X86_PREFIX_REP) {
        out->prefixes |= X86_PFX_REP;
    } else if (x->prefix[0] == X86_PREFIX_REPNE) {
        out->prefixes |= X86_PFX_REPNE;
    } else if (x->prefix[0] == X86_PREFIX_LOCK) {
        out->prefixes |= X86_PFX_LOCK;
    }
    uint8_t override = seg_of_prefix(x->prefix[1]);
    out->seg_override = override;
    if (override != S_NONE) {
        out->prefixes |= X86_PFX_SEG;
    }
    out->rex = code_size == 8 ? x->rex : 0;
    if (x->prefix[2] == X86_PREFIX_OPSIZE) {
        out->prefixes |= X86_PFX_OPSIZE;
    }
    if (x->prefix[3] == X86_PREFIX_ADDRSIZE) {
        out->prefixes |= X86_PFX_ADDRSIZE;
    }

    /* Operand size when no operand says it: REX.W, 66h and the mode. */
    bool opsz_prefix = x->prefix[2] == X86_PREFIX_OPSIZE;
    if (code_size == 8 && (x->rex & 8)) {
        out->opsize = 8;
    } else if (code_size == 2) {
        out->opsize = opsz_prefix ? 4 : 2;
    } else {
        out->opsize = opsz_prefix ? 2 : 4;
    }

    bool relative = in_group(ci, X86_GRP_BRANCH_RELATIVE);
    if (ends_block(ci)) {
        out->flags |= X86_INSN_ENDS_BLOCK;
    }
    /* Loading SS (or any segment, or a control register) ends the block:
     * the next instruction may run with an interrupt shadow or a new mode. */
    if ((ci->id == X86_INS_MOV || ci->id == X86_INS_POP) && x->op_count > 0 &&
        x->operands[0].type == X86_OP_REG &&
        (reg_info(x->operands[0].reg).kind == X86_OPK_SREG ||
         reg_info(x->operands[0].reg).kind == X86_OPK_CREG)) {
        out->flags |= X86_INSN_ENDS_BLOCK;
    }
    /* Segment loads that do not end a block by themselves, and instructions
     * changing CR0.PE, EFLAGS.AC or a segment base in place. */
    switch (ci->id) {
    case X86_INS_LDS: case X86_INS_LES: case X86_INS_LFS: case X86_INS_LGS:
    case X86_INS_LSS: case X86_INS_SWAPGS: case X86_INS_WRFSBASE: case X86_INS_WRGSBASE:
    case X86_INS_STAC: case X86_INS_CLAC: case X86_INS_LMSW: case X86_INS_CLTS:
        out->flags |= X86_INSN_ENDS_BLOCK;
        break;
    default:
        break;
    }
    /* Everything that ends a block may change what the data fast path is
     * derived from (x86_cpu.h, segwin), except the near branches and a few
     * instructions known to leave it alone. */
    if (out->flags & X86_INSN_ENDS_BLOCK) {
        switch (ci->id) {
        case X86_INS_JO: case X86_INS_JNO: case X86_INS_JB: case X86_INS_JAE:
        case X86_INS_JE: case X86_INS_JNE: case X86_INS_JBE: case X86_INS_JA:
        case X86_INS_JS: case X86_INS_JNS: case X86_INS_JP: case X86_INS_JNP:
        case X86_INS_JL: case X86_INS_JGE: case X86_INS_JLE: case X86_INS_JG:
        case X86_INS_JMP: case X86_INS_CALL: case X86_INS_RET:
        case X86_INS_LOOP: case X86_INS_LOOPE: case X86_INS_LOOPNE:
        case X86_INS_JCXZ: case X86_INS_JECXZ: case X86_INS_JRCXZ:
        case X86_INS_HLT: case X86_INS_CPUID:
            break;
        default:
            out->flags |= X86_INSN_SEGW;
            break;
        }
    }
    out->nops = x->op_count > 3 ? 3 : x->op_count;
    for (unsigned i = 0; i < out->nops; i++) {
        const cs_x86_op *co = &x->operands[i];
        X86Operand *op = &out->op[i];
        op->size = co->size;
        switch (co->type) {
        case X86_OP_REG: {
            RegInfo ri = reg_info(co->reg);
            op->kind = ri.kind;
            op->reg = ri.reg;
            if (!op->size) {
                op->size = ri.size;
            }
            break;
        }
        case X86_OP_IMM:
            op->kind = X86_OPK_IMM;
            op->disp = relative ? (int64_t)((uint64_t)co->imm - (pc + ci->size)) : co->imm;
            break;
        case X86_OP_MEM: {
            op->kind = X86_OPK_MEM;
            RegInfo b = reg_info(co->mem.base), ix = reg_info(co->mem.index);
            op->base = co->mem.base == X86_REG_INVALID ? X86_NO_REG : b.reg;
            op->index = co->mem.index == X86_REG_INVALID ? X86_NO_REG : ix.reg;
            op->scale = co->mem.scale ? (uint8_t)co->mem.scale : 1;
            op->disp = co->mem.disp;
            if (co->mem.segment != X86_REG_INVALID) {
                op->seg = reg_info(co->mem.segment).reg;
            } else {
                op->seg = is_stack_base(co->mem.base) ? S_SS : S_DS;
            }
            break;
        }
        default:
            op->kind = X86_OPK_NONE;
            break;
        }
    }
    /* The first sized operand decides the operand size where there is one. */
    for (unsigned i = 0; i < out->nops; i++) {
        if (out->op[i].kind != X86_OPK_IMM && out->op[i].size) {
            out->opsize = out->op[i].size;
            break;
        }
    }
    out->fn = x86_handler_for(ci->id);
    if (out->fn) {
        X86Handler fast = x86_insn_specialise(out, code_size);
        if (fast) {
            out->fn = fast;
            bool regonly = true;
            for (unsigned i = 0; i < out->nops; i++) {
                regonly &= out->op[i].kind == X86_OPK_REG || out->op[i].kind == X86_OPK_IMM;
            }
            if (regonly) {
                out->flags |= X86_INSN_REGONLY;
            }
        }
    }
    cs_free(ci, 1);
    g_mutex_unlock(&decode_lock);
    return true;
}

void x86_disasm(const uint8_t *bytes, unsigned len, unsigned code_size, uint64_t pc, char *buf,
                size_t bufsize)
{
    g_mutex_lock(&decode_lock);
    cs_insn *ci = NULL;
    if (decode_init() && cs_disasm(handle_for(code_size), bytes, len, pc, 1, &ci) == 1) {
        g_snprintf(buf, bufsize, "%s %s", ci->mnemonic, ci->op_str);
        cs_free(ci, 1);
    } else {
        g_snprintf(buf, bufsize, "(bad)");
    }
    g_mutex_unlock(&decode_lock);
}
