/*
 * Decoding: capstone 4 (with detail) picks the group, the group decoders
 * (a64_exec_*.c) extract the fields from the encoding.
 *
 * Why the split: capstone's instruction id says what an instruction is
 * (and capstone rejects what it does not know, which we treat as
 * UNDEFINED), but its ARM64 operand detail in version 4 is lossy: aliases
 * (mov, cmp, tst, lsl, ubfx, cset, cinc, neg, mvn, ...) report the alias's
 * operands, not the encoding's, and pre- versus post-indexed addressing
 * cannot be told apart reliably. So the id selects the handler group and
 * the group's decoder reads the encoding's own fields (ARM ARM C4.1, the
 * A64 encoding index), which are exact.
 *
 * Capstone 4 predates ARMv8.1: the LSE atomics (LDADD... SWP, CAS, CASP)
 * and LDAPR are rejected by it and decoded here by hand (a64_dec_lse).
 *
 * Decoding happens once per instruction per cached block; capstone handles
 * are not thread-safe, so one handle is shared under a lock.
 */
#include <capstone/capstone.h>
#include <string.h>

#include "targets/arm/a64_decode.h"

enum { G_DP = 0, G_BRANCH_SYS, G_LDST, G_SIMD };

static csh handle;
static GMutex decode_lock;
static bool decode_ready;
static uint8_t *group_of_id;      /* capstone id -> G_* */
static uint16_t cond_masks[16];
static GHashTable *reported;       /* capstone ids already reported as unimplemented */

/* --- Conditions (ARM ARM C1.2.4) --- */

static bool cond_eval(unsigned cond, unsigned nzcv)
{
    bool n = nzcv & 8, z = nzcv & 4, c = nzcv & 2, v = nzcv & 1;
    bool r;
    switch (cond >> 1) {
    case 0: r = z; break;               /* EQ */
    case 1: r = c; break;               /* CS */
    case 2: r = n; break;               /* MI */
    case 3: r = v; break;               /* VS */
    case 4: r = c && !z; break;         /* HI */
    case 5: r = n == v; break;          /* GE */
    case 6: r = n == v && !z; break;    /* GT */
    default: r = true; break;           /* AL */
    }
    /* Odd conditions invert, except 1111 (NV) which is "always" too. */
    if ((cond & 1) && cond != 15) {
        r = !r;
    }
    return r;
}

uint16_t a64_cond_mask(unsigned cond)
{
    return cond_masks[cond & 15];
}

/* --- DecodeBitMasks (ARM ARM J1.1.3, aarch64/instrs/integer/bitmasks) --- */

static uint64_t ones(unsigned n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

static uint64_t ror_e(uint64_t v, unsigned r, unsigned esize)
{
    r %= esize;
    if (r == 0) {
        return v;
    }
    return ((v >> r) | (v << (esize - r))) & ones(esize);
}

static uint64_t replicate(uint64_t elem, unsigned esize, unsigned datasize)
{
    uint64_t out = 0;
    for (unsigned i = 0; i < datasize; i += esize) {
        out |= elem << i;
    }
    return out;
}

bool a64_decode_bit_masks(unsigned n, unsigned imms, unsigned immr, bool immediate,
                          unsigned datasize, uint64_t *wmask, uint64_t *tmask)
{
    unsigned v = (n << 6) | (~imms & 0x3f);
    if (v == 0) {
        return false;
    }
    int len = 31 - __builtin_clz(v);
    if (len < 1) {
        return false;
    }
    unsigned esize = 1u << len;
    if (esize > datasize) {
        return false;
    }
    unsigned levels = (unsigned)ones((unsigned)len);
    if (immediate && (imms & levels) == levels) {
        return false;
    }
    unsigned s = imms & levels, r = immr & levels;
    unsigned d = (s - r) & levels;
    uint64_t welem = ones(s + 1), telem = ones(d + 1);
    *wmask = replicate(ror_e(welem, r, esize), esize, datasize);
    *tmask = replicate(telem, esize, datasize);
    return true;
}

/* --- Shared handlers --- */

ArmResult a64_h_undef(ArmCpu *cpu, const A64Insn *in)
{
    (void)in;
    arm_undefined(cpu);
    return ARM_R_EXC;
}

ArmResult a64_h_nop(ArmCpu *cpu, const A64Insn *in)
{
    (void)cpu;
    (void)in;
    return ARM_R_NEXT;
}

/* Valid but not modelled: UNDEFINED, reported once per mnemonic. */
ArmResult a64_h_unimpl(ArmCpu *cpu, const A64Insn *in)
{
    bool first;
    g_mutex_lock(&decode_lock);
    if (!reported) {
        reported = g_hash_table_new(NULL, NULL);
    }
    first = g_hash_table_add(reported, GUINT_TO_POINTER((guint)in->id + 1));
    g_mutex_unlock(&decode_lock);
    if (first) {
        char text[96];
        a64_disasm(in->raw, cpu->pc, text, sizeof(text));
        fprintf(stderr, "mmusim: arm: instruction not implemented, UNDEFINED (reported once): "
                "%08x %s at 0x%" G_GINT64_MODIFIER "x\n", in->raw, text, cpu->pc);
    }
    arm_undefined(cpu);
    return ARM_R_EXC;
}

/* --- Capstone --- */

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(name, *list) == 0) {
            return true;
        }
    }
    return false;
}

static bool decode_init(void)
{
    if (decode_ready) {
        return true;
    }
    if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &handle) != CS_ERR_OK) {
        return false;
    }
    cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
    /* Group of each capstone id, from its name: branches, exception
     * generation and system instructions; loads and stores; the rest is
     * data processing (integer or, by capstone's FP/NEON groups, SIMD). */
    static const char *const sys_names[] = {
        "b", "bl", "br", "blr", "ret", "cbz", "cbnz", "tbz", "tbnz", "eret", "drps",
        "svc", "hvc", "smc", "brk", "hlt", "dcps1", "dcps2", "dcps3",
        "mrs", "msr", "sys", "sysl", "hint", "nop", "yield", "wfe", "wfi", "sev", "sevl",
        "dsb", "dmb", "isb", "clrex", "tlbi", "dc", "ic", "at", NULL,
    };
    group_of_id = g_new0(uint8_t, ARM64_INS_ENDING);
    for (unsigned id = 1; id < ARM64_INS_ENDING; id++) {
        const char *name = cs_insn_name(handle, id);
        if (!name) {
            continue;
        }
        if (name_in(name, sys_names)) {
            group_of_id[id] = G_BRANCH_SYS;
        } else if (strncmp(name, "ld", 2) == 0 || strncmp(name, "st", 2) == 0 ||
                   strncmp(name, "prf", 3) == 0) {
            group_of_id[id] = G_LDST;
        }
    }
    for (unsigned c = 0; c < 16; c++) {
        uint16_t m = 0;
        for (unsigned f = 0; f < 16; f++) {
            m |= (uint16_t)(cond_eval(c, f) << f);
        }
        cond_masks[c] = m;
    }
    decode_ready = true;
    return true;
}

static bool in_group(const cs_insn *ci, uint8_t g)
{
    for (uint8_t i = 0; i < ci->detail->groups_count; i++) {
        if (ci->detail->groups[i] == g) {
            return true;
        }
    }
    return false;
}

void a64_decode(uint32_t raw, A64Insn *out)
{
    memset(out, 0, sizeof(*out));
    out->raw = raw;
    out->fn = a64_h_undef;
    g_mutex_lock(&decode_lock);
    if (!decode_init()) {
        g_mutex_unlock(&decode_lock);
        return;
    }
    uint8_t bytes[4] = { (uint8_t)raw, (uint8_t)(raw >> 8), (uint8_t)(raw >> 16),
                         (uint8_t)(raw >> 24) };
    cs_insn *ci = NULL;
    size_t n = cs_disasm(handle, bytes, 4, 0, 1, &ci);
    int group = -1;
    if (n == 1) {
        out->id = (uint16_t)ci->id;
        if (ci->id < ARM64_INS_ENDING) {
            group = group_of_id[ci->id];
        }
        if (group == G_DP && (in_group(ci, ARM64_GRP_FPARMV8) || in_group(ci, ARM64_GRP_NEON) ||
                              in_group(ci, ARM64_GRP_CRYPTO))) {
            group = G_SIMD;
        }
        cs_free(ci, n);
    }
    g_mutex_unlock(&decode_lock);

    bool ok = false;
    switch (group) {
    case -1:
        /* Capstone rejects it: ARMv8.1+ instructions we model, else UNDEFINED. */
        if (a64_dec_lse(raw, out)) {
            out->id = 0;
        } else {
            out->fn = a64_h_undef;
        }
        return;
    case G_BRANCH_SYS:
        ok = a64_dec_branch_sys(raw, out);
        break;
    case G_LDST:
        /* Advanced SIMD structure loads/stores (C4.1.x "Advanced SIMD load/
         * store multiple structures": op0 0x00, bits 29:23 0011000/1) have a
         * layout of their own. */
        if ((raw & 0xbf000000u) == 0x0c000000u) {
            ok = a64_dec_simd_ldst(raw, out);
        } else {
            ok = a64_dec_ldst(raw, out);
        }
        break;
    case G_SIMD:
        ok = a64_dec_simd_dp(raw, out);
        break;
    default:
        /* Data processing: immediate (bits 28:26 = 100) or register (C4.1). */
        if (a64_bits(raw, 28, 26) == 4) {
            ok = a64_dec_dp_imm(raw, out);
        } else {
            ok = a64_dec_dp_reg(raw, out);
        }
        break;
    }
    if (!ok) {
        out->fn = a64_h_unimpl;
        out->flags = 0;
    }
}

void a64_disasm(uint32_t raw, uint64_t pc, char *buf, size_t bufsize)
{
    uint8_t bytes[4] = { (uint8_t)raw, (uint8_t)(raw >> 8), (uint8_t)(raw >> 16),
                         (uint8_t)(raw >> 24) };
    g_mutex_lock(&decode_lock);
    cs_insn *ci = NULL;
    size_t n = decode_init() ? cs_disasm(handle, bytes, 4, pc, 1, &ci) : 0;
    if (n == 1) {
        g_snprintf(buf, bufsize, "%s %s", ci->mnemonic, ci->op_str);
        cs_free(ci, n);
    } else {
        g_snprintf(buf, bufsize, ".inst 0x%08x", raw);
    }
    g_mutex_unlock(&decode_lock);
}
