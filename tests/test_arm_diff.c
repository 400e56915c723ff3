/*
 * Differential test of the A64 interpreter (targets/arm) against Unicorn
 * 2.0.1 (QEMU 5.0 TCG).
 *
 * Random sequences of integer A64 instructions, encoded here from their
 * fields (ARM ARM C4.1 encoding index), run on both from the same initial
 * state: random X0..X30 and NZCV, an 8 KiB data buffer of random bytes.
 * After each sequence X0..X30, SP, NZCV and the buffer are compared.
 *
 * Instructions: ADD/SUB/ADDS/SUBS (immediate, shifted and extended
 * register), ADC/SBC(S), logical (shifted register and immediate, with
 * random valid bitmask immediates), MOVZ/MOVN/MOVK, SBFM/UBFM/BFM (random
 * valid fields, so every alias), EXTR, LSLV/LSRV/ASRV/RORV, CLZ/CLS/RBIT/
 * REV/REV16/REV32, CSEL/CSINC/CSINV/CSNEG, CCMP/CCMN (immediate and
 * register), MADD/MSUB/SMADDL/UMADDL/SMSUBL/UMSUBL/SMULH/UMULH, UDIV/SDIV
 * (zero divisors included), loads and stores of every size and sign
 * extension in unsigned-offset, unscaled, pre/post-index, unprivileged and
 * register-offset forms, LDP/STP/LDPSW in offset/pre/post forms, and
 * forward B.cond/CBZ/CBNZ/TBZ/TBNZ over one instruction; 32- and 64-bit
 * forms alike.
 *
 * Reserved registers: x28 points in the middle of the buffer and x26/x27
 * are the address/index registers each memory unit sets up first; they are
 * never random destinations (SP is never used).
 *
 * Seeds are fixed (printed with any mismatch). Environment knobs:
 *   MMUSIM_ARM_DIFF_N=n     sequences (default 20000)
 *   MMUSIM_ARM_DIFF_SEED=s  run that one seed, verbosely
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
#define MMUSIM_HAVE_UNICORN 0
#endif

#if MMUSIM_HAVE_UNICORN

#include <unicorn/unicorn.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "targets/arm/arm_cpu.h"
#include "targets/arm/a64_decode.h"

#define RAM_SIZE 0x100000u
#define CODE 0x10000u
#define DATA 0x40000u
#define DATA_SIZE 0x2000u
#define MID (DATA + 0x1000u)
#define MAX_INSNS 400

typedef struct Gen {
    uint64_t s;
    uint32_t code[MAX_INSNS];
    unsigned n;
} Gen;

static uint64_t rnd(Gen *g)
{
    /* splitmix64 */
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned rn(Gen *g, unsigned n)
{
    return (unsigned)(rnd(g) % n);
}

static void emit(Gen *g, uint32_t w)
{
    if (g->n < MAX_INSNS) {
        g->code[g->n++] = w;
    }
}

/* A random register that may be written: x0..x25, x29, x30 (and, where
 * the form reads it as the zero register, 31 when zr is true). */
static unsigned rreg(Gen *g, bool zr)
{
    unsigned r = rn(g, zr ? 29 : 28);
    if (r == 26 || r == 27) {
        r += 3;            /* 29, 30 */
    } else if (r == 28) {
        r = 31;            /* only reachable when zr */
    }
    return r;
}

/* Any register to read (the reserved ones included, they hold addresses). */
static unsigned sreg(Gen *g)
{
    return rn(g, 32);
}

/* DecodeBitMasks validity for logical immediates (ARM ARM J1). */
static bool valid_bitmask(unsigned sf, unsigned n, unsigned immr, unsigned imms)
{
    (void)immr;
    if (!sf && n) {
        return false;
    }
    unsigned v = (n << 6) | (~imms & 0x3f);
    if (!v) {
        return false;
    }
    int len = 31 - __builtin_clz(v);
    if (len < 1) {
        return false;
    }
    unsigned levels = (1u << len) - 1;
    return (imms & levels) != levels;
}

static void gen_dp(Gen *g)
{
    unsigned sf = rn(g, 2), rd = rreg(g, true), rnn = sreg(g), rm = sreg(g);
    switch (rn(g, 17)) {
    case 0: {  /* ADD/SUB(S) immediate; Rd/Rn 31 = SP: avoided */
        unsigned s = rn(g, 2);
        unsigned d = s ? rd : rreg(g, false);
        unsigned n = rreg(g, false);
        emit(g, 0x11000000u | sf << 31 | rn(g, 2) << 30 | s << 29 | rn(g, 2) << 22 |
                rn(g, 4096) << 10 | n << 5 | d);
        break;
    }
    case 1: {  /* ADD/SUB(S) shifted register */
        unsigned amt = rn(g, sf ? 64 : 32);
        emit(g, 0x0b000000u | sf << 31 | rn(g, 2) << 30 | rn(g, 2) << 29 | rn(g, 3) << 22 |
                rm << 16 | (rn(g, 3) ? 0 : amt) << 10 | rnn << 5 | rd);
        break;
    }
    case 2: {  /* logical shifted register */
        unsigned amt = rn(g, sf ? 64 : 32);
        emit(g, 0x0a000000u | sf << 31 | rn(g, 4) << 29 | rn(g, 4) << 22 | rn(g, 2) << 21 |
                rm << 16 | (rn(g, 3) ? 0 : amt) << 10 | rnn << 5 | rd);
        break;
    }
    case 3: {  /* ADD/SUB(S) extended register; Rn = SP avoided, Rd = SP avoided */
        unsigned s = rn(g, 2);
        unsigned d = s ? rd : rreg(g, false);
        emit(g, 0x0b200000u | sf << 31 | rn(g, 2) << 30 | s << 29 | rm << 16 | rn(g, 8) << 13 |
                rn(g, 5) << 10 | rreg(g, false) << 5 | d);
        break;
    }
    case 4: {  /* logical immediate */
        unsigned n, immr, imms, opc = rn(g, 4);
        do {
            n = sf ? rn(g, 2) : 0;
            immr = rn(g, sf ? 64 : 32);
            imms = rn(g, sf ? 64 : 32);
        } while (!valid_bitmask(sf, n, immr, imms));
        unsigned d = opc == 3 ? rd : rreg(g, false);
        emit(g, 0x12000000u | sf << 31 | opc << 29 | n << 22 | immr << 16 | imms << 10 |
                rnn << 5 | d);
        break;
    }
    case 5: {  /* move wide */
        static const unsigned opcs[3] = { 0, 2, 3 };
        emit(g, 0x12800000u | sf << 31 | opcs[rn(g, 3)] << 29 | rn(g, sf ? 4 : 2) << 21 |
                rn(g, 65536) << 5 | rd);
        break;
    }
    case 6: {  /* bitfield */
        unsigned w = sf ? 64 : 32;
        emit(g, 0x13000000u | sf << 31 | rn(g, 3) << 29 | sf << 22 | rn(g, w) << 16 |
                rn(g, w) << 10 | rnn << 5 | rd);
        break;
    }
    case 7:    /* EXTR */
        emit(g, 0x13800000u | sf << 31 | sf << 22 | rm << 16 | rn(g, sf ? 64 : 32) << 10 |
                rnn << 5 | rd);
        break;
    case 8: {  /* two-source: UDIV SDIV LSLV LSRV ASRV RORV */
        static const unsigned ops[6] = { 2, 3, 8, 9, 10, 11 };
        emit(g, 0x1ac00000u | sf << 31 | rm << 16 | ops[rn(g, 6)] << 10 | rnn << 5 | rd);
        break;
    }
    case 9: {  /* one-source */
        unsigned op = rn(g, sf ? 6 : 5);
        if (!sf && op == 3) {
            op = 2;
        }
        emit(g, 0x5ac00000u | sf << 31 | op << 10 | rnn << 5 | rd);
        break;
    }
    case 10: { /* three-source */
        unsigned op31 = 0, o0 = rn(g, 2), ra = sreg(g);
        if (sf) {
            static const unsigned ops[5] = { 0, 1, 2, 5, 6 };
            op31 = ops[rn(g, 5)];
            if (op31 == 2 || op31 == 6) {
                o0 = 0;
                ra = 31;
            }
        }
        emit(g, 0x1b000000u | sf << 31 | op31 << 21 | rm << 16 | o0 << 15 | ra << 10 |
                rnn << 5 | rd);
        break;
    }
    case 11:   /* ADC/SBC(S) */
        emit(g, 0x1a000000u | sf << 31 | rn(g, 2) << 30 | rn(g, 2) << 29 | rm << 16 |
                rnn << 5 | rd);
        break;
    case 12: { /* CCMP/CCMN register or immediate */
        unsigned imm = rn(g, 2);
        emit(g, 0x3a400000u | sf << 31 | rn(g, 2) << 30 | (imm ? rn(g, 32) : rm) << 16 |
                rn(g, 16) << 12 | imm << 11 | rnn << 5 | rn(g, 16));
        break;
    }
    case 13:   /* conditional select */
        emit(g, 0x1a800000u | sf << 31 | rn(g, 2) << 30 | rm << 16 | rn(g, 16) << 12 |
                rn(g, 2) << 10 | rnn << 5 | rd);
        break;
    case 14: { /* forward conditional branches over one instruction */
        unsigned k = rn(g, 5), t = sreg(g);
        switch (k) {
        case 0: emit(g, 0x54000040u | rn(g, 15)); break;               /* b.cond +8 */
        case 1: emit(g, 0x34000040u | sf << 31 | t); break;            /* cbz +8 */
        case 2: emit(g, 0x35000040u | sf << 31 | t); break;            /* cbnz +8 */
        default: {
            unsigned b = rn(g, 64);
            emit(g, 0x36000040u | (k == 4) << 24 | (b >> 5) << 31 | (b & 31) << 19 | t);
            break;
        }
        }
        emit(g, 0x91000400u | rd << 0 | rd << 5 | (rd == 31 ? 0 : 0));  /* add xd, xd, #1 */
        if (rd == 31) {
            g->code[g->n - 1] = 0xd503201fu;  /* nop */
        }
        break;
    }
    default: { /* CMP / ADDS-heavy: flag edge cases with registers near limits */
        emit(g, 0x6b000000u | sf << 31 | rm << 16 | rnn << 5 | 31);     /* cmp */
        break;
    }
    }
}

/* add x26, x28, #off (off >= 0) or sub x26, x28, #-off */
static void set_x26(Gen *g, int off)
{
    if (off >= 0) {
        emit(g, 0x91000000u | (unsigned)off << 10 | 28 << 5 | 26);
    } else {
        emit(g, 0xd1000000u | (unsigned)-off << 10 | 28 << 5 | 26);
    }
}

static void gen_mem(Gen *g)
{
    unsigned size = rn(g, 4), opc = rn(g, 4), rt = rreg(g, true);
    if (opc == 2 && size == 3) {
        opc = 1;           /* PRFM: not a load */
    }
    if (opc == 3 && size >= 2) {
        opc = 2;
    }
    if (opc == 2 && size == 3) {
        opc = 1;
    }
    if (opc == 0) {
        rt = sreg(g);      /* stores may store anything, reserved ones too */
    }
    set_x26(g, (int)rn(g, 0x600) - 0x300);
    switch (rn(g, 4)) {
    case 0:    /* unsigned offset */
        emit(g, 0x39000000u | size << 30 | opc << 22 | rn(g, 64) << 10 | 26 << 5 | rt);
        break;
    case 1: {  /* unscaled / post / unprivileged / pre */
        unsigned form = rn(g, 4), imm9 = (unsigned)((int)rn(g, 128) - 64) & 0x1ff;
        if (form != 0 && form != 2 && rt == 26) {
            rt = 0;
        }
        emit(g, 0x38000000u | size << 30 | opc << 22 | imm9 << 12 | form << 10 | 26 << 5 | rt);
        break;
    }
    case 2: {  /* register offset, index x27 = 0..100 */
        static const unsigned options[4] = { 2, 3, 6, 7 };
        emit(g, 0xd2800000u | rn(g, 101) << 5 | 27);   /* movz x27, #k */
        emit(g, 0x38200800u | size << 30 | opc << 22 | 27 << 16 | options[rn(g, 4)] << 13 |
                rn(g, 2) << 12 | 26 << 5 | rt);
        break;
    }
    default: { /* pairs */
        unsigned kind = rn(g, 3), l = rn(g, 2), mode = 1 + rn(g, 3);  /* post, off, pre */
        unsigned popc = kind == 0 ? 0 : kind == 1 ? 2 : 1;
        if (popc == 1) {
            l = 1;         /* LDPSW */
        }
        unsigned t1 = l ? rreg(g, true) : sreg(g), t2 = l ? rreg(g, true) : sreg(g);
        if (l && t1 == t2) {
            t2 = t1 == 0 ? 1 : 0;
        }
        if (!l && mode != 2) {
            t1 = t1 == 26 ? 0 : t1;
            t2 = t2 == 26 ? 0 : t2;
        }
        unsigned imm7 = (unsigned)((int)rn(g, 32) - 16) & 0x7f;
        emit(g, 0x28000000u | popc << 30 | mode << 23 | l << 22 | imm7 << 15 | t2 << 10 |
                26 << 5 | t1);
        break;
    }
    }
}

static void generate(Gen *g, uint64_t seed, unsigned units)
{
    g->s = seed * 0x2545f4914f6cdd1dull + 1;
    g->n = 0;
    for (unsigned u = 0; u < units && g->n < MAX_INSNS - 8; u++) {
        if (rn(g, 3) == 0) {
            gen_mem(g);
        } else {
            gen_dp(g);
        }
    }
}

/* ------------------------------------------------------------------ */

typedef struct State {
    uint64_t x[31];
    uint32_t nzcv;
    uint8_t data[DATA_SIZE];
} State;

static void init_state(State *st, uint64_t seed)
{
    Gen g = { .s = seed ^ 0x5deece66dull };
    static const uint64_t edge[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, ~0ull,
                                     0x8000000000000000ull, 0x7fffffffffffffffull, 63, 64 };
    for (int i = 0; i < 31; i++) {
        st->x[i] = rn(&g, 3) == 0 ? edge[rn(&g, G_N_ELEMENTS(edge))] : rnd(&g);
    }
    st->x[28] = MID;
    st->nzcv = (uint32_t)(rn(&g, 16) << 28);
    for (unsigned i = 0; i < DATA_SIZE; i += 8) {
        uint64_t v = rnd(&g);
        memcpy(st->data + i, &v, 8);
    }
}

typedef struct Mm {
    MemRegion *global, *ram;
    uint8_t *mem;
    CpuView *view;
    CodeCache *cc;
    ArmCpu *cpu;
    uc_engine *uc;
} Mm;

static Mm mm;

static bool mm_hvc(void *machine, ArmCpu *cpu, bool smc, uint16_t imm)
{
    cpu->exit_request = true;
    cpu->exit_reason = ARM_EXIT_REQUEST;
    return true;
}

static const ArmMachineOps mm_ops = { .hvc_smc = mm_hvc };

static void machines_new(void)
{
    GError *err = NULL;
    mm.global = mr_new_container("global", MEM_SIZE_FULL, &err);
    mm.ram = mr_new_ram("ram", RAM_SIZE, &err);
    ck_assert(mr_add_subregion(mm.global, 0, mm.ram, &err));
    mm.mem = mr_ram_ptr(mm.ram);
    CpuViewConfig cfg = { .cpu_index = 0, .global_map = mm.global };
    mm.view = cpu_view_new(&cfg, &err);
    mm.cc = code_cache_new();
    mm.cpu = arm_cpu_new(0, mm.view, mm.cc, &mm_ops, &mm, &err);
    ck_assert_ptr_nonnull(mm.cpu);
    ck_assert_int_eq(uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &mm.uc), UC_ERR_OK);
    ck_assert_int_eq(uc_mem_map(mm.uc, 0, RAM_SIZE, UC_PROT_ALL), UC_ERR_OK);
}

static void machines_free(void)
{
    uc_close(mm.uc);
    arm_cpu_free(mm.cpu);
    code_cache_free(mm.cc);
    cpu_view_free(mm.view);
    mr_unref(mm.ram);
    mr_unref(mm.global);
}

static const int uc_x[31] = {
    UC_ARM64_REG_X0, UC_ARM64_REG_X1, UC_ARM64_REG_X2, UC_ARM64_REG_X3, UC_ARM64_REG_X4,
    UC_ARM64_REG_X5, UC_ARM64_REG_X6, UC_ARM64_REG_X7, UC_ARM64_REG_X8, UC_ARM64_REG_X9,
    UC_ARM64_REG_X10, UC_ARM64_REG_X11, UC_ARM64_REG_X12, UC_ARM64_REG_X13, UC_ARM64_REG_X14,
    UC_ARM64_REG_X15, UC_ARM64_REG_X16, UC_ARM64_REG_X17, UC_ARM64_REG_X18, UC_ARM64_REG_X19,
    UC_ARM64_REG_X20, UC_ARM64_REG_X21, UC_ARM64_REG_X22, UC_ARM64_REG_X23, UC_ARM64_REG_X24,
    UC_ARM64_REG_X25, UC_ARM64_REG_X26, UC_ARM64_REG_X27, UC_ARM64_REG_X28, UC_ARM64_REG_X29,
    UC_ARM64_REG_X30,
};

static void dump_code(const Gen *g)
{
    for (unsigned i = 0; i < g->n; i++) {
        char text[96];
        a64_disasm(g->code[i], CODE + 4 * i, text, sizeof(text));
        fprintf(stderr, "  %05x: %08x  %s\n", CODE + 4 * i, g->code[i], text);
    }
}

/* Run one seed on both; true if they agree. */
static bool run_seed(uint64_t seed, bool verbose)
{
    static Gen g;
    static State st;
    generate(&g, seed, 40);
    init_state(&st, seed);
    uint32_t hvc = 0xd4000002u;
    /* mmusim */
    mr_note_write(mm.ram, CODE, 4 * g.n + 4);
    memcpy(mm.mem + CODE, g.code, 4 * g.n);
    memcpy(mm.mem + CODE + 4 * g.n, &hvc, 4);
    mr_note_write(mm.ram, DATA, DATA_SIZE);
    memcpy(mm.mem + DATA, st.data, DATA_SIZE);
    ArmCpu *cpu = mm.cpu;
    arm_cpu_reset(cpu, CODE);
    memcpy(cpu->x, st.x, sizeof(st.x));
    cpu->nzcv = st.nzcv;
    arm_set_sp(cpu, 0x80000);
    ArmExit e = arm_cpu_run(cpu, 10000);
    /* unicorn */
    uc_engine *uc = mm.uc;
    uc_mem_write(uc, CODE, g.code, 4 * g.n);
    uc_ctl_remove_cache(uc, CODE, CODE + 4 * MAX_INSNS);
    uc_mem_write(uc, DATA, st.data, DATA_SIZE);
    for (int i = 0; i < 31; i++) {
        uc_reg_write(uc, uc_x[i], &st.x[i]);
    }
    uint64_t v = st.nzcv, sp = 0x80000;
    uc_reg_write(uc, UC_ARM64_REG_NZCV, &v);
    uc_reg_write(uc, UC_ARM64_REG_SP, &sp);
    uc_err ue = uc_emu_start(uc, CODE, CODE + 4 * g.n, 0, 0);

    bool ok = e == ARM_EXIT_REQUEST && ue == UC_ERR_OK;
    GString *diff = g_string_new(NULL);
    if (!ok) {
        g_string_append_printf(diff, "  run: mmusim exit %d pc 0x%" PRIx64 " esr 0x%" PRIx64
                               ", unicorn err %d\n", (int)e, cpu->pc, cpu->esr_el1, (int)ue);
    }
    for (int i = 0; i < 31; i++) {
        uint64_t u;
        uc_reg_read(uc, uc_x[i], &u);
        if (u != cpu->x[i]) {
            ok = false;
            g_string_append_printf(diff, "  x%d: mmusim 0x%016" PRIx64 " unicorn 0x%016" PRIx64
                                   "\n", i, cpu->x[i], u);
        }
    }
    uc_reg_read(uc, UC_ARM64_REG_NZCV, &v);
    if ((uint32_t)(v & 0xf0000000u) != cpu->nzcv) {
        ok = false;
        g_string_append_printf(diff, "  nzcv: mmusim %x unicorn %x\n", cpu->nzcv >> 28,
                               (unsigned)(v >> 28) & 0xf);
    }
    uc_reg_read(uc, UC_ARM64_REG_SP, &sp);
    if (sp != arm_get_sp(cpu)) {
        ok = false;
        g_string_append_printf(diff, "  sp differs\n");
    }
    static uint8_t ud[DATA_SIZE];
    uc_mem_read(uc, DATA, ud, DATA_SIZE);
    for (unsigned i = 0; i < DATA_SIZE; i += 8) {
        if (memcmp(ud + i, mm.mem + DATA + i, 8)) {
            uint64_t a, b;
            memcpy(&a, mm.mem + DATA + i, 8);
            memcpy(&b, ud + i, 8);
            ok = false;
            g_string_append_printf(diff, "  mem 0x%x: mmusim 0x%016" PRIx64 " unicorn 0x%016"
                                   PRIx64 "\n", DATA + i, a, b);
        }
    }
    if (!ok || verbose) {
        fprintf(stderr, "seed %" PRIu64 ": %s\n%s", seed, ok ? "agree" : "MISMATCH", diff->str);
        dump_code(&g);
    }
    g_string_free(diff, TRUE);
    return ok;
}

START_TEST(test_diff)
{
    machines_new();
    const char *one = getenv("MMUSIM_ARM_DIFF_SEED");
    if (one) {
        ck_assert(run_seed(strtoull(one, NULL, 0), true));
        machines_free();
        return;
    }
    const char *ns = getenv("MMUSIM_ARM_DIFF_N");
    unsigned n = ns ? (unsigned)strtoul(ns, NULL, 0) : 20000;
    unsigned bad = 0;
    for (unsigned s = 1; s <= n && bad < 3; s++) {
        if (!run_seed(s, false)) {
            bad++;
        }
    }
    machines_free();
    ck_assert_msg(bad == 0, "%u sequence(s) differ (seeds printed above)", bad);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arm_diff");
    TCase *tc = tcase_create("diff");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_diff);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#else

int main(void)
{
    printf("test_arm_diff: built without Unicorn: skipped\n");
    return 77;
}

#endif
