/*
 * Unit tests of the x86 segmentation, exception and system-register code
 * (targets/x86/x86_seg.c, x86_excp.c, x86_sys.c), on a real X86Cpu over
 * 16 MiB of RAM. No instruction is executed: each test builds descriptor
 * tables, a TSS, an IDT and page tables in RAM by hand, sets the CPU state,
 * calls the helper and checks registers and memory against the SDM.
 *
 * Memory layout (physical = linear; identity paging where paging is on):
 *   0x1000 GDT (see the selectors below)    0x2000 IDT (8- or 16-byte gates)
 *   0x3000 32-bit TSS (ESP0 0x9000, SS0 K_DS)
 *   0x3100 64-bit TSS (RSP0 0x9008, IST1 0xa008)
 *   0x7000-0x8000 ring-3 / same-level stacks   0x9000 ring-0 stack
 *   0x10000 PML4, 0x11000 PDPT, 0x12000 PD (one 2 MiB user page at 0)
 */
#include "tlb_test_util.h"

#include "targets/x86/x86_codecache.h"
#include "targets/x86/x86_internal.h"

#define RAM_SIZE (16ull << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define TSS32 0x3000u
#define TSS64 0x3100u

/* GDT selectors. */
enum {
    K_CS = 0x08,     /* 1: 32-bit code, DPL 0, 4 GiB */
    K_DS = 0x10,     /* 2: data, DPL 0 */
    U_CS = 0x1b,     /* 3: 32-bit code, DPL 3 */
    U_DS = 0x23,     /* 4: data, DPL 3 */
    TSS_SEL = 0x28,  /* 5: 32-bit TSS (available) */
    K_CS64 = 0x30,   /* 6: 64-bit code, DPL 0 */
    U_CS64 = 0x3b,   /* 7: 64-bit code, DPL 3 */
    CALLG = 0x43,    /* 8: 32-bit call gate, DPL 3 -> K_CS:0x5000, 2 parameters */
    NP_DS = 0x48,    /* 9: data, not present */
    CONF_CS = 0x50,  /* 10: conforming code, DPL 0 */
    TSS64_SEL = 0x58,/* 11-12: 64-bit TSS */
    K_CS16 = 0x68,   /* 13: 16-bit code, DPL 0, limit 0xffff */
    LIM_DS = 0x70,   /* 14: 32-bit data, DPL 0, limit 0x8fff */
    GDT_ENTRIES = 15,
};

typedef struct M {
    MemRegion *global, *io_root;
    MemRegion *ram;
    CpuView *view;
    AddressSpace *io_as;
    CodeCache *cc;
    X86Cpu *cpu;
    uint8_t *mem;
} M;

static M m;

static void m_setup(void)
{
    GError *err = NULL;
    tt_setup();
    memset(&m, 0, sizeof(m));
    m.global = tt_container("global", 1ull << 32);
    m.ram = tt_put(m.global, 0, tt_ram("ram", RAM_SIZE, 0), 0);
    m.mem = mr_ram_ptr(m.ram);
    memset(m.mem, 0, RAM_SIZE);
    CpuViewConfig cfg = { .cpu_index = 0, .global_map = m.global };
    m.view = cpu_view_new(&cfg, &err);
    TT_NO_ERROR(err);
    m.io_root = tt_container("io", 0x10000);
    m.io_as = tt_as("io", m.io_root);
    m.cc = code_cache_new();
    m.cpu = x86_cpu_new(0, m.view, m.io_as, m.cc, NULL, NULL, &err);
    TT_NO_ERROR(err);
    ck_assert_ptr_nonnull(m.cpu);
}

static void m_teardown(void)
{
    x86_cpu_free(m.cpu);
    code_cache_free(m.cc);
    cpu_view_free(m.view);
    as_free(m.io_as);
    mr_unref(m.io_root);
    mr_unref(m.global);
    tt_teardown();
}

/* --- memory --- */

static void w64(uint64_t a, uint64_t v) { memcpy(m.mem + a, &v, 8); }
static void w32(uint64_t a, uint32_t v) { memcpy(m.mem + a, &v, 4); }
static void w16(uint64_t a, uint16_t v) { memcpy(m.mem + a, &v, 2); }
static uint64_t r64(uint64_t a) { uint64_t v; memcpy(&v, m.mem + a, 8); return v; }
static uint32_t r32(uint64_t a) { uint32_t v; memcpy(&v, m.mem + a, 4); return v; }
static uint16_t r16(uint64_t a) { uint16_t v; memcpy(&v, m.mem + a, 2); return v; }

/* --- descriptors (SDM 3.4.5, 5.8.3, 6.11, 6.14.1) --- */

#define ACC(type, s, dpl, p) ((unsigned)(type) | (unsigned)(s) << 4 | (unsigned)(dpl) << 5 | \
                              (unsigned)(p) << 7)
enum { FL_L = 2, FL_DB = 4, FL_G = 8 };

static uint64_t desc(uint32_t base, uint32_t limit20, unsigned access, unsigned flags)
{
    return (limit20 & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)access << 40) |
           ((uint64_t)((limit20 >> 16) & 0xf) << 48) | ((uint64_t)(flags & 0xf) << 52) |
           ((uint64_t)(base >> 24) << 56);
}

/* Legacy gate; `count` is the parameter count (call gates) or IST (64-bit). */
static uint64_t gate(uint16_t sel, uint32_t off, unsigned type, unsigned dpl, unsigned count)
{
    return (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)count << 32) |
           ((uint64_t)ACC(type, 0, dpl, 1) << 40) | ((uint64_t)(off >> 16) << 48);
}

static void set_idt32(unsigned v, uint64_t g) { w64(IDT + 8 * v, g); }

static void set_idt64(unsigned v, uint16_t sel, uint64_t off, unsigned type, unsigned dpl,
                      unsigned ist)
{
    w64(IDT + 16 * v, gate(sel, (uint32_t)off, type, dpl, ist));
    w64(IDT + 16 * v + 8, off >> 32);
}

static void write_gdt(void)
{
    uint64_t g[GDT_ENTRIES] = { 0 };
    g[1] = desc(0, 0xfffff, ACC(0xa, 1, 0, 1), FL_DB | FL_G);
    g[2] = desc(0, 0xfffff, ACC(0x2, 1, 0, 1), FL_DB | FL_G);
    g[3] = desc(0, 0xfffff, ACC(0xa, 1, 3, 1), FL_DB | FL_G);
    g[4] = desc(0, 0xfffff, ACC(0x2, 1, 3, 1), FL_DB | FL_G);
    g[5] = desc(TSS32, 0x67, ACC(0x9, 0, 0, 1), 0);
    g[6] = desc(0, 0xfffff, ACC(0xa, 1, 0, 1), FL_L | FL_G);
    g[7] = desc(0, 0xfffff, ACC(0xa, 1, 3, 1), FL_L | FL_G);
    g[8] = gate(K_CS, 0x5000, 0xc, 3, 2);
    g[9] = desc(0, 0xfffff, ACC(0x2, 1, 0, 0), FL_DB | FL_G);
    g[10] = desc(0, 0xfffff, ACC(0xe, 1, 0, 1), FL_DB | FL_G);
    g[11] = desc(TSS64, 0x67, ACC(0x9, 0, 0, 1), 0);
    g[12] = 0;  /* upper half of the 64-bit TSS: base 63:32 = 0 */
    g[13] = desc(0, 0xffff, ACC(0xa, 1, 0, 1), 0);
    g[14] = desc(0, 0x8fff, ACC(0x2, 1, 0, 1), FL_DB);
    for (unsigned i = 0; i < GDT_ENTRIES; i++) {
        w64(GDT + 8 * i, g[i]);
    }
}

/* Load a segment register's cache straight from the GDT (no checks). */
static void set_seg(unsigned seg, uint16_t sel)
{
    x86_seg_from_descriptor(&m.cpu->segs[seg], sel, r64(GDT + (sel & ~7u)), 0);
}

static void expect_exc(int vector, uint32_t err)
{
    ck_assert_int_eq(m.cpu->exc.vector, vector);
    ck_assert_uint_eq(m.cpu->exc.error_code, err);
    m.cpu->exc.vector = -1;
}

/* 32-bit protected mode at CPL 0: flat segments, TSS, empty IDT. */
static void pm_setup(void)
{
    X86Cpu *c = m.cpu;
    write_gdt();
    w32(TSS32 + 4, 0x9000);
    w16(TSS32 + 8, K_DS);
    c->gdtr = (X86Table){ GDT, GDT_ENTRIES * 8 - 1 };
    c->idtr = (X86Table){ IDT, 256 * 8 - 1 };
    c->cr0 = X86_CR0_PE | X86_CR0_ET;
    set_seg(S_CS, K_CS);
    set_seg(S_SS, K_DS);
    set_seg(S_DS, K_DS);
    set_seg(S_ES, K_DS);
    x86_seg_from_descriptor(&c->tr, TSS_SEL, r64(GDT + 0x28), 0);
    c->ldtr = (X86Seg){ 0, 0, 0, 0 };
    x86_update_mode(c);
    c->regs[R_SP] = 0x7000;
    c->rip = 0x1000;
    c->next_rip = 0x1002;
    ck_assert_uint_eq(c->cpl, 0);
}

/* Switch the pm_setup CPU to CPL 3 (flat ring-3 segments). */
static void to_ring3(void)
{
    set_seg(S_CS, U_CS);
    set_seg(S_SS, U_DS);
    set_seg(S_DS, U_DS);
    set_seg(S_ES, U_DS);
    x86_update_mode(m.cpu);
    m.cpu->regs[R_SP] = 0x8000;
    ck_assert_uint_eq(m.cpu->cpl, 3);
}

/* IA-32e mode with identity paging of the first 2 MiB (user, writable),
 * the 64-bit TSS, CS = 64-bit ring 0. */
static void long_setup(void)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    w64(0x10000, 0x11000 | 7);
    w64(0x11000, 0x12000 | 7);
    w64(0x12000, 0x0 | 0x87);  /* 2 MiB page, P RW US PS */
    w64(TSS64 + 4, 0x9008);    /* RSP0 (unaligned: delivery aligns) */
    w64(TSS64 + 0x24, 0xa008); /* IST1 */
    c->cr3 = 0x10000;
    c->cr4 = X86_CR4_PAE;
    c->efer = X86_EFER_LME | X86_EFER_LMA;
    c->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
    c->idtr = (X86Table){ IDT, 256 * 16 - 1 };
    memset(m.mem + IDT, 0, 0x1000);
    x86_seg_from_descriptor(&c->tr, TSS64_SEL, r64(GDT + 0x58), r64(GDT + 0x60));
    set_seg(S_CS, K_CS64);
    x86_update_mode(c);
    x86_paging_changed(c, false);
    ck_assert_uint_eq(x86_code_size(c), 8);
}

/* ------------------------------------------------------------------ */
/* Descriptors                                                         */

START_TEST(test_descriptor_decode)
{
    X86Seg s;
    x86_seg_from_descriptor(&s, 0x10, desc(0x12345678, 0xfffff, ACC(0x3, 1, 2, 1), FL_DB | FL_G), 0);
    ck_assert_uint_eq(s.base, 0x12345678);
    ck_assert_uint_eq(s.limit, 0xffffffffu);
    ck_assert_uint_eq(X86_SEGA_TYPE(s.attr), 3);
    ck_assert_uint_eq(X86_SEGA_DPL(s.attr), 2);
    ck_assert(s.attr & X86_SEGA_P);
    ck_assert(s.attr & X86_SEGA_DB);
    ck_assert(s.attr & X86_SEGA_G);
    ck_assert(!(s.attr & X86_SEGA_L));
    x86_seg_from_descriptor(&s, 0x10, desc(0xabc, 0x1234, ACC(0xb, 1, 0, 1), FL_L), 0);
    ck_assert_uint_eq(s.limit, 0x1234);
    ck_assert_uint_eq(s.base, 0xabc);
    ck_assert(s.attr & X86_SEGA_L);
    /* A system descriptor takes base 63:32 from the upper half. */
    x86_seg_from_descriptor(&s, 0x58, desc(0x00401000, 0x67, ACC(0x9, 0, 0, 1), 0),
                            0xffff8000u);
    ck_assert_uint_eq(s.base, 0xffff800000401000ull);
    /* ...a code/data descriptor never does. */
    x86_seg_from_descriptor(&s, 0x10, desc(0x1000, 0xff, ACC(0x3, 1, 0, 1), 0), 0xffff8000u);
    ck_assert_uint_eq(s.base, 0x1000);
}
END_TEST

START_TEST(test_read_descriptor)
{
    uint64_t lo, hi;
    bool bad;
    pm_setup();
    ck_assert(x86_read_descriptor(m.cpu, K_DS | 3, &lo, &hi, &bad));
    ck_assert_uint_eq(lo, r64(GDT + 0x10));
    ck_assert_uint_eq(hi, 0);
    /* Beyond the GDT limit: bad_index, nothing raised. */
    ck_assert(!x86_read_descriptor(m.cpu, GDT_ENTRIES * 8, &lo, &hi, &bad));
    ck_assert(bad);
    ck_assert_int_eq(m.cpu->exc.vector, -1);
    /* The last byte of the descriptor must be within the limit. */
    m.cpu->gdtr.limit = 0x14;
    ck_assert(!x86_read_descriptor(m.cpu, K_DS, &lo, &hi, &bad));
    ck_assert(bad);
    m.cpu->gdtr.limit = GDT_ENTRIES * 8 - 1;
    /* TI = 1 with a null LDTR. */
    ck_assert(!x86_read_descriptor(m.cpu, 0x04, &lo, &hi, &bad));
    ck_assert(bad);
    /* An LDT: selector 0x0c is its entry 1. */
    w64(0x4008, desc(0x5000, 0xff, ACC(0x3, 1, 3, 1), 0));
    m.cpu->ldtr = (X86Seg){ 0x40, 0x4000, 0xf, ACC(0x2, 0, 0, 1) };
    ck_assert(x86_read_descriptor(m.cpu, 0x0f, &lo, &hi, &bad));
    ck_assert_uint_eq(lo, r64(0x4008));
    ck_assert(!x86_read_descriptor(m.cpu, 0x14, &lo, &hi, &bad));
    ck_assert(bad);
}
END_TEST

START_TEST(test_read_descriptor_long_system)
{
    uint64_t lo, hi;
    bool bad;
    long_setup();
    w64(GDT + 0x60, 0x12345678);
    ck_assert(x86_read_descriptor(m.cpu, TSS64_SEL, &lo, &hi, &bad));
    ck_assert_uint_eq(hi, 0x12345678);
    /* 16 bytes must fit: the upper half beyond the limit is a bad index. */
    m.cpu->gdtr.limit = 0x5f;
    ck_assert(!x86_read_descriptor(m.cpu, TSS64_SEL, &lo, &hi, &bad));
    ck_assert(bad);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Segment loads                                                       */

START_TEST(test_load_seg_protected)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    /* Descriptors start with the accessed bit clear. */
    ck_assert(!(r64(GDT + 0x10) & (1ull << 40)));
    ck_assert(x86_load_seg(c, S_DS, K_DS));
    ck_assert_uint_eq(c->segs[S_DS].selector, K_DS);
    ck_assert_uint_eq(c->segs[S_DS].limit, 0xffffffffu);
    ck_assert(r64(GDT + 0x10) & (1ull << 40));
    /* Null selectors: fine for data registers, #GP(0) for SS. */
    ck_assert(x86_load_seg(c, S_ES, 0x0003));
    ck_assert_uint_eq(c->segs[S_ES].selector, 3);
    ck_assert(!(c->segs[S_ES].attr & X86_SEGA_P));
    ck_assert(!x86_load_seg(c, S_SS, 0));
    expect_exc(X86_EXC_GP, 0);
    /* SS: RPL and DPL must equal CPL. */
    ck_assert(!x86_load_seg(c, S_SS, U_DS));
    expect_exc(X86_EXC_GP, U_DS & ~3);
    ck_assert(!x86_load_seg(c, S_SS, K_DS | 1));
    expect_exc(X86_EXC_GP, K_DS);
    /* SS must be writable data. */
    ck_assert(!x86_load_seg(c, S_SS, K_CS));
    expect_exc(X86_EXC_GP, K_CS);
    c->irq_shadow = false;
    ck_assert(x86_load_seg(c, S_SS, K_DS));
    ck_assert(c->irq_shadow);
    /* Not present: #NP for data, #SS for SS. */
    ck_assert(!x86_load_seg(c, S_FS, NP_DS));
    expect_exc(X86_EXC_NP, NP_DS);
    ck_assert(!x86_load_seg(c, S_SS, NP_DS));
    expect_exc(X86_EXC_SS, NP_DS);
    /* Beyond the table. */
    ck_assert(!x86_load_seg(c, S_GS, 0x200));
    expect_exc(X86_EXC_GP, 0x200);
    /* Readable code is loadable into a data register; system segments are not. */
    ck_assert(x86_load_seg(c, S_GS, U_CS));
    ck_assert(!x86_load_seg(c, S_GS, TSS_SEL));
    expect_exc(X86_EXC_GP, TSS_SEL);
    /* Failed loads left the registers alone. */
    ck_assert_uint_eq(c->segs[S_SS].selector, K_DS);
    ck_assert_uint_eq(c->segs[S_FS].selector, 0);
    /* At CPL 3 a DPL 0 data segment is out of reach (also with RPL 0). */
    to_ring3();
    ck_assert(!x86_load_seg(c, S_DS, K_DS));
    expect_exc(X86_EXC_GP, K_DS);
    /* ...but a conforming code segment is readable from anywhere. */
    ck_assert(x86_load_seg(c, S_DS, CONF_CS | 3));
}
END_TEST

START_TEST(test_load_seg_null_ss_64)
{
    X86Cpu *c = m.cpu;
    long_setup();
    ck_assert(x86_load_seg(c, S_SS, 0));
    ck_assert_uint_eq(c->segs[S_SS].selector, 0);
    /* RPL != CPL: #GP(0). */
    ck_assert(!x86_load_seg(c, S_SS, 2));
    expect_exc(X86_EXC_GP, 0);
    set_seg(S_CS, U_CS64);
    x86_update_mode(c);
    ck_assert(!x86_load_seg(c, S_SS, 3));
    expect_exc(X86_EXC_GP, 0);
}
END_TEST

START_TEST(test_load_seg_real_and_v86)
{
    X86Cpu *c = m.cpu;
    /* Reset state: real mode. "Unreal" limits survive a real-mode load. */
    c->segs[S_DS].limit = 0xffffffffu;
    ck_assert(x86_load_seg(c, S_DS, 0x1234));
    ck_assert_uint_eq(c->segs[S_DS].base, 0x12340);
    ck_assert_uint_eq(c->segs[S_DS].selector, 0x1234);
    ck_assert_uint_eq(c->segs[S_DS].limit, 0xffffffffu);
    c->irq_shadow = false;
    ck_assert(x86_load_seg(c, S_SS, 0x2000));
    ck_assert(c->irq_shadow);
    /* Virtual-8086 mode: 64 KiB, DPL 3. */
    pm_setup();
    c->eflags |= X86_VM;
    c->cpl = 3;
    ck_assert(x86_load_seg(c, S_ES, 0xb800));
    ck_assert_uint_eq(c->segs[S_ES].base, 0xb8000);
    ck_assert_uint_eq(c->segs[S_ES].limit, 0xffff);
    ck_assert_uint_eq(X86_SEGA_DPL(c->segs[S_ES].attr), 3);
    ck_assert(!(c->segs[S_ES].attr & X86_SEGA_DB));
}
END_TEST

/* ------------------------------------------------------------------ */
/* Far transfers                                                       */

START_TEST(test_far_call_ret_real)
{
    X86Cpu *c = m.cpu;
    x86_load_seg_real(c, S_CS, 0);
    x86_load_seg_real(c, S_SS, 0);
    c->regs[R_SP] = 0xabcd8000;  /* SP = 0x8000; the upper half is kept */
    c->rip = 0x100;
    c->next_rip = 0x105;
    ck_assert(x86_far_call(c, 0x1000, 0x20, 2));
    ck_assert_uint_eq(c->segs[S_CS].base, 0x10000);
    ck_assert_uint_eq(c->rip, 0x20);
    ck_assert_uint_eq(c->regs[R_SP], 0xabcd7ffc);
    ck_assert_uint_eq(r16(0x7ffe), 0);
    ck_assert_uint_eq(r16(0x7ffc), 0x105);
    ck_assert(x86_far_ret(c, 2, 4));
    ck_assert_uint_eq(c->segs[S_CS].selector, 0);
    ck_assert_uint_eq(c->rip, 0x105);
    ck_assert_uint_eq(c->regs[R_SP], 0xabcd8004);
    /* Beyond the CS limit: #GP(0), nothing changed. */
    ck_assert(!x86_far_jump(c, 0x2000, 0x12345, 4));
    expect_exc(X86_EXC_GP, 0);
    ck_assert_uint_eq(c->segs[S_CS].selector, 0);
    ck_assert(x86_far_jump(c, 0x2000, 0x1234, 2));
    ck_assert_uint_eq(c->segs[S_CS].base, 0x20000);
    ck_assert_uint_eq(c->rip, 0x1234);
}
END_TEST

START_TEST(test_far_jump_protected)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    ck_assert(x86_far_jump(c, K_CS16, 0x1234, 4));
    ck_assert_uint_eq(c->segs[S_CS].selector, K_CS16);
    ck_assert_uint_eq(x86_code_size(c), 2);
    ck_assert_uint_eq(c->rip, 0x1234);
    ck_assert(r64(GDT + K_CS16) & (1ull << 40));
    /* Beyond the new limit. */
    ck_assert(!x86_far_jump(c, K_CS16, 0x10000, 4));
    expect_exc(X86_EXC_GP, 0);
    /* Non-conforming code of another DPL. */
    ck_assert(!x86_far_jump(c, U_CS, 0x1000, 4));
    expect_exc(X86_EXC_GP, U_CS & ~3);
    /* RPL > CPL on non-conforming code. */
    ck_assert(!x86_far_jump(c, K_CS | 3, 0x1000, 4));
    expect_exc(X86_EXC_GP, K_CS);
    /* Data segment, null selector. */
    ck_assert(!x86_far_jump(c, K_DS, 0x1000, 4));
    expect_exc(X86_EXC_GP, K_DS);
    ck_assert(!x86_far_jump(c, 0, 0x1000, 4));
    expect_exc(X86_EXC_GP, 0);
    /* A busy TSS (the running task's): #GP(selector), nothing reported. */
    w64(GDT + TSS_SEL, desc(TSS32, 0x67, ACC(0xb, 0, 0, 1), 0));
    guint reports = tt_num_reports();
    ck_assert(!x86_far_jump(c, TSS_SEL, 0, 4));
    expect_exc(X86_EXC_GP, TSS_SEL);
    ck_assert_uint_eq(tt_num_reports(), reports);
    /* Conforming DPL-0 code from CPL 3: CPL stays 3. */
    to_ring3();
    ck_assert(x86_far_jump(c, CONF_CS, 0x4444, 4));
    ck_assert_uint_eq(c->segs[S_CS].selector, CONF_CS | 3);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->rip, 0x4444);
}
END_TEST

START_TEST(test_call_gate_inner_and_retf_outer)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    to_ring3();
    /* Two parameters on the caller's stack: p1 (last pushed) at ESP. */
    w32(0x7ff8, 0x1111);
    w32(0x7ffc, 0x2222);
    c->regs[R_SP] = 0x7ff8;
    c->next_rip = 0x1007;
    ck_assert(x86_far_call(c, CALLG, 0xdead, 4));
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->segs[S_CS].selector, K_CS);
    ck_assert_uint_eq(c->segs[S_SS].selector, K_DS);
    ck_assert_uint_eq(c->rip, 0x5000);
    ck_assert_uint_eq(c->regs[R_SP], 0x8fe8);
    ck_assert_uint_eq(r32(0x8ffc), U_DS);
    ck_assert_uint_eq(r32(0x8ff8), 0x7ff8);
    ck_assert_uint_eq(r32(0x8ff4), 0x2222);
    ck_assert_uint_eq(r32(0x8ff0), 0x1111);
    ck_assert_uint_eq(r32(0x8fec), U_CS);
    ck_assert_uint_eq(r32(0x8fe8), 0x1007);
    /* The callee loads a DPL-0 data segment, then RETF 8 to ring 3. */
    ck_assert(x86_load_seg(c, S_ES, K_DS));
    ck_assert(x86_far_ret(c, 4, 8));
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->segs[S_CS].selector, U_CS);
    ck_assert_uint_eq(c->segs[S_SS].selector, U_DS);
    ck_assert_uint_eq(c->rip, 0x1007);
    ck_assert_uint_eq(c->regs[R_SP], 0x8000);  /* parameters released on both stacks */
    ck_assert_uint_eq(c->segs[S_ES].selector, 0);  /* DPL 0 < CPL 3: nulled */
    ck_assert_uint_eq(c->segs[S_DS].selector, U_DS);
}
END_TEST

START_TEST(test_call_gate_checks)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    to_ring3();
    /* Gate DPL < CPL. */
    w64(GDT + 0x40, gate(K_CS, 0x5000, 0xc, 0, 0));
    ck_assert(!x86_far_call(c, CALLG, 0, 4));
    expect_exc(X86_EXC_GP, CALLG & ~3);
    /* Not present. */
    w64(GDT + 0x40, gate(K_CS, 0x5000, 0xc, 3, 0) & ~(1ull << 47));
    ck_assert(!x86_far_call(c, CALLG, 0, 4));
    expect_exc(X86_EXC_NP, CALLG & ~3);
    /* Target not code. */
    w64(GDT + 0x40, gate(K_DS, 0x5000, 0xc, 3, 0));
    ck_assert(!x86_far_call(c, CALLG, 0, 4));
    expect_exc(X86_EXC_GP, K_DS);
    /* The TSS's SS0 is bad: #TS(SS0). */
    w64(GDT + 0x40, gate(K_CS, 0x5000, 0xc, 3, 0));
    w16(TSS32 + 8, U_DS);
    ck_assert(!x86_far_call(c, CALLG, 0, 4));
    expect_exc(X86_EXC_TS, U_DS & ~3);
    /* JMP through a gate may not change privilege. */
    ck_assert(!x86_far_jump(c, CALLG, 0, 4));
    expect_exc(X86_EXC_GP, K_CS);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->regs[R_SP], 0x8000);
}
END_TEST

START_TEST(test_retf_outer_bad_ss)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    c->regs[R_SP] = 0x6ff0;
    w32(0x6ff0, 0x2000);  /* EIP */
    w32(0x6ff4, U_CS);
    w32(0x6ff8, 0x7000);  /* ESP */
    w32(0x6ffc, K_DS);    /* SS with DPL 0 for a CPL-3 return */
    ck_assert(!x86_far_ret(c, 4, 0));
    expect_exc(X86_EXC_GP, K_DS);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->regs[R_SP], 0x6ff0);
    ck_assert_uint_eq(c->segs[S_CS].selector, K_CS);
    /* Returning to a more privileged level is refused. */
    to_ring3();
    c->regs[R_SP] = 0x6ff0;
    w32(0x6ff4, K_CS);
    ck_assert(!x86_far_ret(c, 4, 0));
    expect_exc(X86_EXC_GP, K_CS);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Delivery                                                            */

START_TEST(test_deliver_real_and_iret)
{
    X86Cpu *c = m.cpu;
    x86_load_seg_real(c, S_CS, 0x0700);
    x86_load_seg_real(c, S_SS, 0);
    c->regs[R_SP] = 0x8000;
    c->idtr = (X86Table){ 0, 0x3ff };
    w32(0x10 * 4, 0x20000300);  /* 2000:0300 */
    x86_set_eflags(c, X86_IF | X86_TF | 1, X86_IF | X86_TF | 1);
    c->rip = 0x1230;
    x86_deliver(c, 0x10, 0, false, true, 0x1232);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->segs[S_CS].selector, 0x2000);
    ck_assert_uint_eq(c->segs[S_CS].base, 0x20000);
    ck_assert_uint_eq(c->rip, 0x300);
    ck_assert_uint_eq(c->regs[R_SP], 0x7ffa);
    ck_assert_uint_eq(r16(0x7ffe) & (X86_IF | X86_TF | 1), X86_IF | X86_TF | 1);
    ck_assert_uint_eq(r16(0x7ffc), 0x0700);
    ck_assert_uint_eq(r16(0x7ffa), 0x1232);
    ck_assert(!(c->eflags & (X86_IF | X86_TF)));
    ck_assert(x86_iret(c, 2));
    ck_assert_uint_eq(c->segs[S_CS].selector, 0x0700);
    ck_assert_uint_eq(c->rip, 0x1232);
    ck_assert_uint_eq(c->regs[R_SP], 0x8000);
    ck_assert(c->eflags & X86_IF);
    ck_assert_uint_eq(x86_get_eflags(c) & 1, 1);
}
END_TEST

START_TEST(test_deliver_real_ivt_limit_triple_fault)
{
    X86Cpu *c = m.cpu;
    x86_load_seg_real(c, S_SS, 0);
    c->regs[R_SP] = 0x8000;
    c->idtr = (X86Table){ 0, 0 };  /* the classic reboot: no IVT at all */
    c->rip = 0x1000;
    x86_deliver(c, X86_EXC_UD, 0, false, false, 0x1000);
    ck_assert(c->exit_request);
    ck_assert_int_eq(c->exit_reason, X86_EXIT_SHUTDOWN);
    ck_assert_uint_eq(c->rip, 0x1000);
    ck_assert_uint_eq(c->regs[R_SP], 0x8000);
}
END_TEST

START_TEST(test_deliver_protected_same_level)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    set_idt32(X86_EXC_GP, gate(K_CS, 0x4000, 0xe, 0, 0));
    x86_set_eflags(c, X86_IF | X86_NT, X86_IF | X86_NT);
    x86_deliver(c, X86_EXC_GP, 0x28, true, false, 0x1000);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(c->regs[R_SP], 0x6ff0);
    ck_assert(r32(0x6ffc) & X86_IF);
    ck_assert_uint_eq(r32(0x6ff8), K_CS);
    ck_assert_uint_eq(r32(0x6ff4), 0x1000);
    ck_assert_uint_eq(r32(0x6ff0), 0x28);
    ck_assert(!(c->eflags & (X86_IF | X86_NT)));
    /* The handler pops the error code and returns. */
    c->regs[R_SP] = 0x6ff4;
    ck_assert(x86_iret(c, 4));
    ck_assert_uint_eq(c->rip, 0x1000);
    ck_assert_uint_eq(c->regs[R_SP], 0x7000);
    ck_assert(c->eflags & X86_IF);
    ck_assert_uint_eq(c->cpl, 0);
}
END_TEST

START_TEST(test_deliver_protected_inner_and_iret_outer)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    to_ring3();
    set_idt32(0x80, gate(K_CS, 0x4100, 0xf, 3, 0));  /* trap gate, DPL 3 */
    x86_set_eflags(c, X86_IF, X86_IF);
    c->rip = 0x1000;
    x86_deliver(c, 0x80, 0, false, true, 0x1002);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->segs[S_SS].selector, K_DS);
    ck_assert_uint_eq(c->regs[R_SP], 0x9000 - 20);
    ck_assert_uint_eq(r32(0x8ffc), U_DS);
    ck_assert_uint_eq(r32(0x8ff8), 0x8000);
    ck_assert(r32(0x8ff4) & X86_IF);
    ck_assert_uint_eq(r32(0x8ff0), U_CS);
    ck_assert_uint_eq(r32(0x8fec), 0x1002);
    ck_assert(c->eflags & X86_IF);  /* trap gate keeps IF */
    ck_assert_uint_eq(c->rip, 0x4100);
    /* Back to ring 3; a DPL-0 data segment left in FS is nulled. */
    ck_assert(x86_load_seg(c, S_FS, K_DS));
    ck_assert(x86_iret(c, 4));
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->segs[S_SS].selector, U_DS);
    ck_assert_uint_eq(c->regs[R_SP], 0x8000);
    ck_assert_uint_eq(c->rip, 0x1002);
    ck_assert_uint_eq(c->segs[S_FS].selector, 0);
    ck_assert_uint_eq(c->segs[S_DS].selector, U_DS);
}
END_TEST

START_TEST(test_iret_flag_privileges)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    to_ring3();
    /* CPL 3, IOPL 0: IF and IOPL in the image are ignored. */
    c->regs[R_SP] = 0x7000;
    w32(0x7000, 0x1234);
    w32(0x7004, U_CS);
    w32(0x7008, X86_IF | X86_IOPL | X86_DF | 1);
    ck_assert(x86_iret(c, 4));
    ck_assert(!(c->eflags & X86_IF));
    ck_assert(!(c->eflags & X86_IOPL));
    ck_assert(c->eflags & X86_DF);
    ck_assert_uint_eq(x86_get_eflags(c) & 1, 1);
    ck_assert_uint_eq(c->rip, 0x1234);
}
END_TEST

START_TEST(test_soft_int_gate_dpl)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    to_ring3();
    set_idt32(0x30, gate(K_CS, 0x4200, 0xe, 0, 0));  /* DPL 0: not for INT n at CPL 3 */
    set_idt32(X86_EXC_GP, gate(K_CS, 0x4000, 0xe, 0, 0));
    c->rip = 0x1000;
    x86_deliver(c, 0x30, 0, false, true, 0x1002);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(c->cpl, 0);
    /* #GP(0x30 * 8 + 2), EXT = 0; it reports the INT instruction itself. */
    uint32_t sp = (uint32_t)c->regs[R_SP];
    ck_assert_uint_eq(r32(sp), 0x30 * 8 + 2);
    ck_assert_uint_eq(r32(sp + 4), 0x1000);
    ck_assert_uint_eq(r32(sp + 8), U_CS);
}
END_TEST

START_TEST(test_double_fault)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    /* #PF whose gate is absent -> #NP (contributory after #PF) -> #DF. */
    set_idt32(X86_EXC_PF, gate(K_CS, 0x4000, 0xe, 0, 0) & ~(1ull << 47));
    set_idt32(X86_EXC_DF, gate(K_CS, 0x4800, 0xe, 0, 0));
    x86_deliver(c, X86_EXC_PF, 2, true, false, 0x1000);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert(!c->exit_request);
    ck_assert_uint_eq(c->rip, 0x4800);
    ck_assert_uint_eq(c->regs[R_SP], 0x7000 - 16);
    ck_assert_uint_eq(r32(0x7000 - 16), 0);      /* #DF error code */
    ck_assert_uint_eq(r32(0x7000 - 12), 0x1000); /* the faulting instruction */
}
END_TEST

START_TEST(test_benign_serial)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    /* An external interrupt through an absent gate: #NP(vector*8+2+EXT),
     * delivered on its own (an interrupt is benign). */
    set_idt32(0x20, gate(K_CS, 0x4000, 0xe, 0, 0) & ~(1ull << 47));
    set_idt32(X86_EXC_NP, gate(K_CS, 0x4400, 0xe, 0, 0));
    x86_deliver(c, 0x20, 0, false, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x4400);
    ck_assert_uint_eq(r32(0x7000 - 16), 0x20 * 8 + 2 + 1);
    /* An IRQ on vector 8 (real-mode PIC layout) is not a #DF. */
    pm_setup();
    set_idt32(8, gate(K_CS, 0x4800, 0xe, 0, 0));
    x86_deliver(c, 8, 0, false, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x4800);
    ck_assert_uint_eq(c->regs[R_SP], 0x7000 - 12);  /* no error code */
}
END_TEST

START_TEST(test_triple_fault)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    c->idtr.limit = 0;
    c->rip = 0x1234;
    /* The INT trace says which rule stopped the CPU: #GP -> #GP gives #DF,
     * the fault delivering #DF shuts down (not the recurrence guard). */
    char *trace = NULL;
    size_t trace_len = 0;
    c->trace_out = open_memstream(&trace, &trace_len);
    c->trace = X86_TRACE_INT;
    x86_deliver(c, X86_EXC_GP, 0, true, false, 0x1234);
    fclose(c->trace_out);
    c->trace_out = stderr;
    c->trace = 0;
    ck_assert_ptr_nonnull(strstr(trace, "#GP(0x6b) while delivering #GP(0x0)"));
    ck_assert_ptr_nonnull(strstr(trace, "#GP(0x43) while delivering #DF(0x0)"));
    ck_assert_ptr_nonnull(strstr(trace, "triple fault: the double-fault handler could not be reached"));
    free(trace);
    ck_assert(c->exit_request);
    ck_assert_int_eq(c->exit_reason, X86_EXIT_SHUTDOWN);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->rip, 0x1234);
    ck_assert_uint_eq(c->regs[R_SP], 0x7000);
    ck_assert_uint_eq(c->segs[S_CS].selector, K_CS);
}
END_TEST

START_TEST(test_deliver_stack_fault_no_commit)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    /* Inner-level delivery whose new stack is too small: #SS(SS0 | EXT)
     * (serially, after an interrupt), again #SS while delivering it -> #DF,
     * on the same bad stack -> shutdown; the interrupted state is
     * untouched. */
    to_ring3();
    set_idt32(0x20, gate(K_CS, 0x4000, 0xe, 0, 0));
    set_idt32(X86_EXC_SS, gate(K_CS, 0x4400, 0xe, 0, 0));
    set_idt32(X86_EXC_DF, gate(K_CS, 0x4800, 0xe, 0, 0));
    w32(TSS32 + 4, 8);  /* ESP0 = 8: room for two dwords only */
    w16(TSS32 + 8, LIM_DS);
    x86_deliver(c, 0x20, 0, false, false, 0x1000);
    ck_assert(c->exit_request);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->regs[R_SP], 0x8000);
    ck_assert_uint_eq(c->segs[S_SS].selector, U_DS);
}
END_TEST

/* A second 32-bit TSS for the task-switch tests: GDT entry 15, at 0x3200,
 * starting at K_CS:0x4000 on the stack 0x8800 with EAX = 0xaaaa. */
#define TSS2 0x3200u
#define TSS2_SEL 0x78u

static void task_setup(uint16_t ds)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    /* The running task's TSS is busy; the GDT grows by the new TSS. */
    w64(GDT + TSS_SEL, desc(TSS32, 0x67, ACC(0xb, 0, 0, 1), 0));
    x86_seg_from_descriptor(&c->tr, TSS_SEL, r64(GDT + TSS_SEL), 0);
    w64(GDT + TSS2_SEL, desc(TSS2, 0x67, ACC(0x9, 0, 0, 1), 0));
    c->gdtr.limit = TSS2_SEL + 7;
    memset(m.mem + TSS2, 0, 0x68);
    w32(TSS2 + 0x20, 0x4000);              /* EIP */
    w32(TSS2 + 0x24, 2 | X86_IF);          /* EFLAGS */
    w32(TSS2 + 0x28, 0xaaaa);              /* EAX */
    w32(TSS2 + 0x38, 0x8800);              /* ESP */
    w16(TSS2 + 0x48, K_DS);                /* ES CS SS DS */
    w16(TSS2 + 0x4c, K_CS);
    w16(TSS2 + 0x50, K_DS);
    w16(TSS2 + 0x54, ds);
    c->regs[R_BX] = 0x5555;
}

/* #GP through an IDT task gate (SDM 7.3, 6.12.2): the outgoing state in
 * the old TSS, the link, busy bits, NT, CR0.TS, the error code on the new
 * stack; IRET with NT = 1 goes back and frees the handler task. */
START_TEST(test_task_gate_and_return)
{
    X86Cpu *c = m.cpu;
    task_setup(K_DS);
    set_idt32(X86_EXC_GP, gate(TSS2_SEL, 0, 0x5, 0, 0));
    x86_deliver(c, X86_EXC_GP, 0x1234, true, false, 0x1000);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(c->tr.selector, TSS2_SEL);
    ck_assert_uint_eq(c->regs[R_AX], 0xaaaa);
    ck_assert_uint_eq(c->regs[R_SP], 0x87fc);
    ck_assert_uint_eq(r32(0x87fc), 0x1234);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1000);   /* saved EIP: the fault's */
    ck_assert_uint_eq(r32(TSS32 + 0x34), 0x5555);   /* saved EBX */
    ck_assert_uint_eq(r16(TSS2), TSS_SEL);           /* previous-task link */
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x8b);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);
    ck_assert(c->eflags & X86_NT);
    ck_assert(c->eflags & X86_IF);
    ck_assert(c->cr0 & X86_CR0_TS);
    /* The handler task returns. */
    c->next_rip = 0x4002;
    ck_assert(x86_iret(c, 4));
    ck_assert_uint_eq(c->rip, 0x1000);
    ck_assert_uint_eq(c->tr.selector, TSS_SEL);
    ck_assert_uint_eq(c->regs[R_BX], 0x5555);
    ck_assert_uint_eq(c->regs[R_SP], 0x7000);
    ck_assert_uint_eq(c->segs[S_CS].selector, K_CS);
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x89);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);
    ck_assert_uint_eq(r32(TSS2 + 0x20), 0x4002);
    ck_assert(!(r32(TSS2 + 0x24) & X86_NT));         /* IRET saves NT clear */
    ck_assert(!(c->eflags & X86_NT));
    /* Again: the handler task is available, and resumes after its IRET. */
    x86_deliver(c, X86_EXC_GP, 0, true, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x4002);
    /* A task gate to a busy TSS: #GP(TSS selector | EXT). */
    c->next_rip = 0x4004;
    ck_assert(x86_iret(c, 4));
    w64(GDT + TSS2_SEL, desc(TSS2, 0x67, ACC(0xb, 0, 0, 1), 0));
    set_idt32(X86_EXC_GP, gate(K_CS, 0x6000, 0xe, 0, 0));
    set_idt32(0x40, gate(TSS2_SEL, 0, 0x5, 0, 0));
    x86_deliver(c, 0x40, 0, false, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x6000);
    ck_assert_uint_eq(r32(c->regs[R_SP]), TSS2_SEL | 1);
}
END_TEST

/* Table 7-1: a new TSS below 0x67 bytes is #TS(selector); a fault after the
 * commit point is delivered in the new task, at its EIP. */
START_TEST(test_task_switch_faults)
{
    X86Cpu *c = m.cpu;
    task_setup(NP_DS);
    w64(GDT + TSS2_SEL, desc(TSS2, 0x50, ACC(0x9, 0, 0, 1), 0));
    ck_assert(!x86_far_jump(c, TSS2_SEL, 0, 4));
    expect_exc(X86_EXC_TS, TSS2_SEL);
    ck_assert_uint_eq(c->tr.selector, TSS_SEL);
    ck_assert_uint_eq(c->regs[R_BX], 0x5555);
    w64(GDT + TSS2_SEL, desc(TSS2, 0x67, ACC(0x9, 0, 0, 1), 0));
    /* DS not present in the new task: #NP(DS | EXT) after the commit. */
    set_idt32(0x40, gate(TSS2_SEL, 0, 0x5, 0, 0));
    set_idt32(X86_EXC_NP, gate(K_CS, 0x6000, 0xe, 0, 0));
    x86_deliver(c, 0x40, 0, false, false, 0x1000);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->tr.selector, TSS2_SEL);
    ck_assert_uint_eq(c->rip, 0x6000);
    ck_assert_uint_eq(c->regs[R_SP], 0x8800 - 16);
    ck_assert_uint_eq(r32(0x8800 - 16), NP_DS | 1);
    ck_assert_uint_eq(r32(0x8800 - 12), 0x4000);
    ck_assert_uint_eq(c->segs[S_DS].selector, NP_DS);
    /* JMP: outgoing TSS freed, NT kept in the saved image (SDM Vol. 3A 7.3
     * step 6: only IRET clears it; table 7-2), and the new task's own NT. */
    task_setup(K_DS);
    c->eflags |= X86_NT;
    ck_assert(x86_far_jump(c, TSS2_SEL, 0, 4));
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x89);
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x8b);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1002);
    ck_assert(r32(TSS32 + 0x24) & X86_NT);
    ck_assert(!(c->eflags & X86_NT));
    ck_assert_uint_eq(r16(TSS2), 0);                 /* no link for JMP */
}
END_TEST

/* A 16-bit TSS for the task-switch tests (SDM 7.6, figure 7-10): GDT entry
 * 16, at 0x3300, limit 0x2b, starting at K_CS:0x4100 on K_DS:0x8400 with
 * AX = 0xbbbb, CX = 0x0c0c, FLAGS = IF | CF, ES null. The bytes after it
 * are 0xee, to show that nothing beyond the 16-bit format is written. */
#define TSS3 0x3300u
#define TSS3_SEL 0x80u
/* 16-bit TSS offsets: IP, FLAGS, AX CX DX BX SP BP SI DI, ES CS SS DS, LDT. */
enum { T16_SP0 = 0x02, T16_SS0 = 0x04, T16_IP = 0x0e, T16_FLAGS = 0x10, T16_AX = 0x12,
       T16_BX = 0x18, T16_SP = 0x1a, T16_SI = 0x1e, T16_ES = 0x22, T16_CS = 0x24,
       T16_SS = 0x26, T16_DS = 0x28, T16_LDT = 0x2a };

static void task16_setup(void)
{
    task_setup(K_DS);
    w64(GDT + TSS3_SEL, desc(TSS3, 0x2b, ACC(0x1, 0, 0, 1), 0));
    m.cpu->gdtr.limit = TSS3_SEL + 7;
    memset(m.mem + TSS3, 0, 0x2c);
    memset(m.mem + TSS3 + 0x2c, 0xee, 0x40);
    w16(TSS3 + T16_IP, 0x4100);
    w16(TSS3 + T16_FLAGS, 2 | X86_IF | X86_CF);
    w16(TSS3 + T16_AX, 0xbbbb);
    w16(TSS3 + T16_AX + 2, 0x0c0c);      /* CX */
    w16(TSS3 + T16_SP, 0x8400);
    w16(TSS3 + T16_CS, K_CS);
    w16(TSS3 + T16_SS, K_DS);
    w16(TSS3 + T16_DS, K_DS);
}

/* JMP, CALL and IRET between a 32-bit and a 16-bit task (SDM 7.3, 7.6):
 * the 16-bit image loaded (EIP and EFLAGS zero-extended, the registers'
 * upper halves kept, FS and GS null), each task saved in its own TSS's
 * format, the busy bits (type 3 when busy), the link and NT for CALL. */
START_TEST(test_task16_jmp_call_iret)
{
    X86Cpu *c = m.cpu;
    task16_setup();
    set_seg(S_FS, K_DS);
    c->regs[R_AX] = 0x12345678;
    c->regs[R_DX] = 0xdead0000;
    c->eflags |= X86_AC;
    ck_assert(x86_far_jump(c, TSS3_SEL, 0, 4));
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->tr.selector, TSS3_SEL);
    ck_assert_uint_eq(X86_SEGA_TYPE(c->tr.attr), 3);
    ck_assert_uint_eq(c->rip, 0x4100);
    ck_assert_uint_eq(c->regs[R_AX], 0x1234bbbb);
    ck_assert_uint_eq(c->regs[R_CX], 0x0c0c);
    ck_assert_uint_eq(c->regs[R_DX], 0xdead0000);
    ck_assert_uint_eq(c->regs[R_SP], 0x8400);
    ck_assert_uint_eq(x86_get_eflags(c), 2 | X86_IF | X86_CF);   /* AC gone */
    ck_assert_uint_eq(c->segs[S_CS].selector, K_CS);
    ck_assert_uint_eq(c->segs[S_CS].limit, 0xffffffffu);
    ck_assert_uint_eq(c->segs[S_SS].selector, K_DS);
    ck_assert_uint_eq(c->segs[S_DS].limit, 0xffffffffu);
    ck_assert_uint_eq(c->segs[S_ES].selector, 0);
    ck_assert_uint_eq(c->segs[S_FS].selector, 0);
    ck_assert(!(c->segs[S_FS].attr & X86_SEGA_P));
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert(c->cr0 & X86_CR0_TS);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x83);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x89);
    ck_assert_uint_eq(r16(TSS3), 0);                  /* JMP: no link */
    /* The 32-bit task was saved in the 32-bit format. */
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1002);
    ck_assert_uint_eq(r32(TSS32 + 0x24) & X86_AC, X86_AC);
    ck_assert_uint_eq(r32(TSS32 + 0x28), 0x12345678);
    ck_assert_uint_eq(r16(TSS32 + 0x58), K_DS);       /* FS */

    /* JMP back: the 16-bit task is saved as words, nothing past 0x2b. */
    c->regs[R_AX] = 0x9abc1111;
    c->regs[R_SI] = 0x00015555;
    c->next_rip = 0x4107;
    ck_assert(x86_far_jump(c, TSS_SEL, 0, 4));
    ck_assert_uint_eq(c->tr.selector, TSS_SEL);
    ck_assert_uint_eq(c->rip, 0x1002);
    ck_assert_uint_eq(c->regs[R_AX], 0x12345678);
    ck_assert_uint_eq(c->regs[R_SI], 0);
    ck_assert_uint_eq(c->segs[S_FS].selector, K_DS);
    ck_assert(c->eflags & X86_AC);
    ck_assert_uint_eq(r16(TSS3 + T16_IP), 0x4107);
    ck_assert_uint_eq(r16(TSS3 + T16_FLAGS), 2 | X86_IF | X86_CF);
    ck_assert_uint_eq(r16(TSS3 + T16_AX), 0x1111);
    ck_assert_uint_eq(r16(TSS3 + T16_SI), 0x5555);
    ck_assert_uint_eq(r16(TSS3 + T16_ES), 0);
    ck_assert_uint_eq(r16(TSS3 + T16_CS), K_CS);
    ck_assert_uint_eq(r16(TSS3 + T16_DS), K_DS);
    ck_assert_uint_eq(r32(TSS3 + 0x2c), 0xeeeeeeeeu);
    ck_assert_uint_eq(r32(TSS3 + 0x40), 0xeeeeeeeeu);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x81);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);

    /* CALL: nested, the link in the 16-bit TSS; it resumes where it left. */
    c->next_rip = 0x1009;
    ck_assert(x86_far_call(c, TSS3_SEL, 0, 4));
    ck_assert_uint_eq(c->rip, 0x4107);
    ck_assert_uint_eq(c->regs[R_AX], 0x12341111);
    ck_assert_uint_eq(r16(TSS3), TSS_SEL);
    ck_assert(c->eflags & X86_NT);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x83);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1009);

    /* IRET with NT = 1 back to the 32-bit task: the 16-bit one is saved
     * with NT clear and freed. */
    c->next_rip = 0x4108;
    ck_assert(x86_iret(c, 2));
    ck_assert_uint_eq(c->tr.selector, TSS_SEL);
    ck_assert_uint_eq(c->rip, 0x1009);
    ck_assert_uint_eq(c->regs[R_AX], 0x12345678);
    ck_assert(!(c->eflags & X86_NT));
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x81);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);
    ck_assert_uint_eq(r16(TSS3 + T16_IP), 0x4108);
    ck_assert_uint_eq(r16(TSS3 + T16_FLAGS), 2 | X86_IF | X86_CF);
}
END_TEST

/* From a 16-bit task to a 32-bit one through an IDT task gate and IRET
 * back, with paging on: a 32-bit TSS loads CR3 and all 32 bits of the
 * registers, a 16-bit one leaves CR3 alone and only the low halves; the
 * 16-bit task is saved as words and linked to; the error code is pushed
 * as a doubleword on the 32-bit task's stack. */
START_TEST(test_task16_to_32_and_back)
{
    X86Cpu *c = m.cpu;
    task16_setup();
    /* 32-bit paging: two page directories, each mapping the first 4 MiB. */
    w32(0x10000, 0x87);
    w32(0x11000, 0x87);
    c->cr4 = X86_CR4_PSE;
    c->cr3 = 0x10000;
    c->cr0 |= X86_CR0_PG;
    x86_paging_changed(c, false);
    w32(TSS2 + 0x1c, 0x11000);       /* CR3 */
    w32(TSS2 + 0x34, 0xbeef0000);    /* EBX */
    ck_assert(x86_far_jump(c, TSS3_SEL, 0, 4));
    ck_assert_uint_eq(c->tr.selector, TSS3_SEL);
    ck_assert_uint_eq(c->cr3, 0x10000);
    c->regs[R_BX] = 0x00001234;
    set_idt32(X86_EXC_GP, gate(TSS2_SEL, 0, 0x5, 0, 0));
    x86_deliver(c, X86_EXC_GP, 0x10, true, false, 0x4100);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->tr.selector, TSS2_SEL);
    ck_assert_uint_eq(c->cr3, 0x11000);
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(c->regs[R_AX], 0xaaaa);
    ck_assert_uint_eq(c->regs[R_BX], 0xbeef0000);
    ck_assert_uint_eq(c->regs[R_SP], 0x87fc);
    ck_assert_uint_eq(r32(0x87fc), 0x10);
    ck_assert(c->eflags & X86_NT);
    ck_assert_uint_eq(r16(TSS2), TSS3_SEL);
    ck_assert_uint_eq(r16(TSS3 + T16_IP), 0x4100);
    ck_assert_uint_eq(r16(TSS3 + T16_BX), 0x1234);
    ck_assert_uint_eq(r32(TSS3 + 0x2c), 0xeeeeeeeeu);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x83);
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x8b);
    /* IRET back to the 16-bit task. */
    c->regs[R_BX] = 0xbeef0042;
    c->next_rip = 0x4002;
    ck_assert(x86_iret(c, 4));
    ck_assert_uint_eq(c->tr.selector, TSS3_SEL);
    ck_assert_uint_eq(c->cr3, 0x11000);
    ck_assert_uint_eq(c->rip, 0x4100);
    ck_assert_uint_eq(c->regs[R_BX], 0xbeef1234);
    ck_assert(!(c->eflags & X86_NT));
    ck_assert_uint_eq(r32(TSS2 + 0x20), 0x4002);
    ck_assert_uint_eq(r32(TSS2 + 0x34), 0xbeef0042);
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x89);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x83);
}
END_TEST

/* An exception through a task gate to a 16-bit TSS pushes its error code
 * as a word; an interrupt to ring 0 while the current TSS is 16-bit takes
 * its stack from SS0:SP0 at offsets 4 and 2 (SDM Vol. 2 INT n: "TSS is
 * 16-bit"). */
START_TEST(test_task16_gate_and_ring_stack)
{
    X86Cpu *c = m.cpu;
    task16_setup();
    /* The 16-bit task runs at CPL 3. */
    w16(TSS3 + T16_CS, U_CS);
    w16(TSS3 + T16_SS, U_DS);
    w16(TSS3 + T16_DS, U_DS);
    w16(TSS3 + T16_SP0, 0x9100);
    w16(TSS3 + T16_SS0, K_DS);
    w16(TSS3 + 0x06, 0x1111);        /* SP1, SS1: not used */
    w16(TSS3 + 0x08, U_DS);
    set_idt32(X86_EXC_NP, gate(TSS3_SEL, 0, 0x5, 0, 0));
    x86_deliver(c, X86_EXC_NP, 0x48, true, false, 0x1000);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->tr.selector, TSS3_SEL);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->rip, 0x4100);
    ck_assert_uint_eq(c->regs[R_SP], 0x83fe);
    ck_assert_uint_eq(r16(0x83fe), 0x48);
    ck_assert_uint_eq(r16(0x8400), 0);
    ck_assert_uint_eq(r16(TSS3), TSS_SEL);
    ck_assert(c->eflags & X86_NT);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1000);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x83);
    /* An external interrupt to a ring-0 handler: SS0:SP0 from the 16-bit
     * TSS, the usual 32-bit frame on it. */
    set_idt32(0x20, gate(K_CS, 0x5000, 0xe, 0, 0));
    x86_deliver(c, 0x20, 0, false, false, 0x4100);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->rip, 0x5000);
    ck_assert_uint_eq(c->segs[S_SS].selector, K_DS);
    ck_assert_uint_eq(c->regs[R_SP], 0x9100 - 20);
    ck_assert_uint_eq(r32(0x9100 - 4), U_DS);
    ck_assert_uint_eq(r32(0x9100 - 8), 0x83fe);
    ck_assert_uint_eq(r32(0x9100 - 16), U_CS);
    ck_assert_uint_eq(r32(0x9100 - 20), 0x4100);
}
END_TEST

/* Table 7-1: a 16-bit TSS needs a limit >= 0x2b, a 32-bit one >= 0x67
 * (#TS(new TSS), before the commit point: nothing changes); a current
 * 16-bit TSS too small for the outgoing state is #TS(TR). */
START_TEST(test_task16_limits)
{
    X86Cpu *c = m.cpu;
    task16_setup();
    w64(GDT + TSS3_SEL, desc(TSS3, 0x2a, ACC(0x1, 0, 0, 1), 0));
    ck_assert(!x86_far_jump(c, TSS3_SEL, 0, 4));
    expect_exc(X86_EXC_TS, TSS3_SEL);
    ck_assert_uint_eq(c->tr.selector, TSS_SEL);
    ck_assert_uint_eq(c->rip, 0x1000);
    ck_assert_uint_eq(c->regs[R_BX], 0x5555);
    ck_assert_uint_eq(m.mem[GDT + TSS3_SEL + 5], 0x81);
    ck_assert_uint_eq(m.mem[GDT + TSS_SEL + 5], 0x8b);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0);
    /* Through an IDT task gate: EXT set. */
    set_idt32(0x41, gate(TSS3_SEL, 0, 0x5, 0, 0));
    set_idt32(X86_EXC_TS, gate(K_CS, 0x6000, 0xe, 0, 0));
    x86_deliver(c, 0x41, 0, false, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x6000);
    ck_assert_uint_eq(c->tr.selector, TSS_SEL);
    ck_assert_uint_eq(r32(c->regs[R_SP]), TSS3_SEL | 1);
    /* A 32-bit TSS with the 16-bit minimum is still too small. */
    task16_setup();
    w64(GDT + TSS2_SEL, desc(TSS2, 0x2b, ACC(0x9, 0, 0, 1), 0));
    ck_assert(!x86_far_jump(c, TSS2_SEL, 0, 4));
    expect_exc(X86_EXC_TS, TSS2_SEL);
    /* The current task's 16-bit TSS must reach DS (offset 0x29). */
    task16_setup();
    w64(GDT + TSS3_SEL, desc(TSS3, 0x28, ACC(0x3, 0, 0, 1), 0));
    x86_seg_from_descriptor(&c->tr, TSS3_SEL, r64(GDT + TSS3_SEL), 0);
    ck_assert(!x86_far_jump(c, TSS2_SEL, 0, 4));
    expect_exc(X86_EXC_TS, TSS3_SEL);
    ck_assert_uint_eq(c->tr.selector, TSS3_SEL);
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x89);
}
END_TEST

/* The T flag of a 32-bit TSS (SDM 7.2.1, Vol. 3B 17.3.1.5): after the
 * switch, #DB (no error code) with DR6.BT set, delivered in the new task
 * with its first EIP as the return address (a trap). */
START_TEST(test_task_debug_trap)
{
    X86Cpu *c = m.cpu;
    task_setup(K_DS);
    w16(TSS2 + 0x64, 1);
    set_idt32(X86_EXC_DB, gate(K_CS, 0x6000, 0xe, 0, 0));
    c->dr[6] = 0xffff0ff0;
    /* JMP: the switch completes, then #DB is raised with the new task
     * loaded; the run loop delivers it at cpu->rip. */
    ck_assert(!x86_far_jump(c, TSS2_SEL, 0, 4));
    ck_assert_int_eq(c->exc.vector, X86_EXC_DB);
    ck_assert(!c->exc.has_error);
    ck_assert_uint_eq(c->tr.selector, TSS2_SEL);
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(c->regs[R_AX], 0xaaaa);
    ck_assert_uint_eq(c->dr[6], 0xffff8ff0u);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1002);
    ck_assert_uint_eq(m.mem[GDT + TSS2_SEL + 5], 0x8b);
    c->exc.vector = -1;
    x86_deliver(c, X86_EXC_DB, 0, false, false, c->rip);
    ck_assert_uint_eq(c->rip, 0x6000);
    ck_assert_uint_eq(c->regs[R_SP], 0x8800 - 12);
    ck_assert_uint_eq(r32(0x8800 - 12), 0x4000);
    ck_assert_uint_eq(r32(0x8800 - 8), K_CS);
    /* Through an IDT task gate, with an error code: the switch pushes it,
     * then x86_deliver delivers the #DB in the new task. */
    task_setup(K_DS);
    w16(TSS2 + 0x64, 1);
    c->dr[6] = 0xffff0ff0;
    set_idt32(X86_EXC_GP, gate(TSS2_SEL, 0, 0x5, 0, 0));
    x86_deliver(c, X86_EXC_GP, 0x1234, true, false, 0x1000);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->tr.selector, TSS2_SEL);
    ck_assert_uint_eq(c->rip, 0x6000);
    ck_assert_uint_eq(c->dr[6], 0xffff8ff0u);
    ck_assert_uint_eq(c->regs[R_SP], 0x8800 - 16);
    ck_assert_uint_eq(r32(0x8800 - 4), 0x1234);        /* #GP's error code */
    ck_assert_uint_eq(r32(0x8800 - 8) & X86_NT, X86_NT); /* EFLAGS of the new task */
    ck_assert_uint_eq(r32(0x8800 - 16), 0x4000);
    ck_assert_uint_eq(r32(TSS32 + 0x20), 0x1000);
    /* T = 0: no #DB. */
    task_setup(K_DS);
    c->dr[6] = 0xffff0ff0;
    ck_assert(x86_far_jump(c, TSS2_SEL, 0, 4));
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->dr[6], 0xffff0ff0u);
}
END_TEST

/* Descriptors for the check-order tests: entry 17 not-present code, 18 a
 * not-present LDT, 19 not-present data of DPL 3. */
enum { NP_CS = 0x88, NP_LDT = 0x90, NP_DS3 = 0x98 };

/* JMP to TSS2 with these selectors: the switch commits, then the first
 * failing row of table 7-1 is raised in the new task. */
static void order_case(uint16_t cs, uint16_t ss, uint16_t ds, uint16_t gs, uint16_t ldt,
                       int vector, uint32_t err)
{
    X86Cpu *c = m.cpu;
    task_setup(K_DS);
    w64(GDT + NP_CS, desc(0, 0xfffff, ACC(0xa, 1, 0, 0), FL_DB | FL_G));
    w64(GDT + NP_LDT, desc(0x5000, 0xff, ACC(0x2, 0, 0, 0), 0));
    w64(GDT + NP_DS3, desc(0, 0xfffff, ACC(0x2, 1, 3, 0), FL_DB | FL_G));
    c->gdtr.limit = NP_DS3 + 7;
    w16(TSS2 + 0x4c, cs);
    w16(TSS2 + 0x50, ss);
    w16(TSS2 + 0x54, ds);
    w16(TSS2 + 0x5c, gs);
    w16(TSS2 + 0x60, ldt);
    ck_assert(!x86_far_jump(c, TSS2_SEL, 0, 4));
    ck_assert_uint_eq(c->tr.selector, TSS2_SEL);
    ck_assert_uint_eq(c->rip, 0x4000);
    expect_exc(vector, err);
}

/* Table 7-1 after the commit point, in its row order: when two conditions
 * fail, the earlier row is reported. */
START_TEST(test_task_switch_check_order)
{
    X86Cpu *c = m.cpu;
    /* SS DPL != CPL (row 10) before CS not present (row 13). */
    order_case(NP_CS, U_DS & ~3, K_DS, 0, 0, X86_EXC_TS, U_DS & ~3);
    ck_assert_uint_eq(c->segs[S_CS].limit, 0);      /* nothing loaded */
    /* SS not present (row 9) before the LDT not present (row 11); the
     * absent LDT is not left usable. */
    order_case(K_CS, NP_DS, K_DS, 0, NP_LDT, X86_EXC_SS, NP_DS);
    ck_assert_uint_eq(c->ldtr.selector, NP_LDT);
    ck_assert(!(c->ldtr.attr & X86_SEGA_P));
    /* SS not present (row 9) before its DPL (row 10). */
    order_case(K_CS, NP_DS3, K_DS, 0, 0, X86_EXC_SS, NP_DS3);
    /* CS DPL != RPL (row 7) before an SS that is no writable data (row 8). */
    order_case(U_CS & ~3, K_CS, K_DS, 0, 0, X86_EXC_TS, U_CS & ~3);
    /* The LDT not present (row 11) before CS not present (row 13). */
    order_case(NP_CS, K_DS, K_DS, 0, NP_LDT, X86_EXC_TS, NP_LDT);
    /* An LDT selector that selects no LDT (row 6) comes first of all. */
    order_case(NP_CS, NP_DS, K_DS, 0, K_DS, X86_EXC_TS, K_DS);
    /* GS beyond the GDT (row 15) before DS not present (row 17); CS and
     * SS passed their rows and are loaded, DS..GS are not. */
    order_case(K_CS, K_DS, NP_DS, 0x3f8, 0, X86_EXC_TS, 0x3f8);
    ck_assert_uint_eq(c->segs[S_CS].limit, 0xffffffffu);
    ck_assert_uint_eq(c->segs[S_SS].limit, 0xffffffffu);
    ck_assert(!(c->segs[S_DS].attr & X86_SEGA_P));
    ck_assert_uint_eq(c->segs[S_GS].selector, 0x3f8);
    /* DS not present (row 17) alone: #NP. */
    order_case(K_CS, K_DS, NP_DS, 0, 0, X86_EXC_NP, NP_DS);
    /* A system descriptor in GS (row 15) before DS not present (row 17). */
    order_case(K_CS, K_DS, NP_DS, TSS_SEL, 0, X86_EXC_TS, TSS_SEL);
}
END_TEST

START_TEST(test_deliver_v86)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    set_idt32(X86_EXC_GP, gate(K_CS, 0x4000, 0xe, 0, 0));
    /* Enter V86 by IRETD from CPL 0 with VM = 1 in the image. */
    c->regs[R_SP] = 0x6fdc;
    uint32_t frame[9] = { 0x0100, 0x1000, X86_VM | X86_IF | 2, 0x0800, 0x2000, 0x3000,
                          0x4000, 0x5000, 0x6000 };
    for (unsigned i = 0; i < 9; i++) {
        w32(0x6fdc + 4 * i, frame[i]);
    }
    ck_assert(x86_iret(c, 4));
    ck_assert(c->eflags & X86_VM);
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->segs[S_CS].base, 0x10000);
    ck_assert_uint_eq(c->rip, 0x100);
    ck_assert_uint_eq(c->segs[S_SS].selector, 0x2000);
    ck_assert_uint_eq(c->regs[R_SP], 0x800);
    ck_assert_uint_eq(c->segs[S_ES].selector, 0x3000);
    ck_assert_uint_eq(c->segs[S_GS].base, 0x60000);
    /* A fault in V86 goes to ring 0 with the data segments saved. */
    x86_deliver(c, X86_EXC_GP, 0, true, false, 0x100);
    ck_assert(!(c->eflags & X86_VM));
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(c->regs[R_SP], 0x9000 - 40);
    ck_assert_uint_eq(r32(0x8ffc), 0x6000);  /* GS */
    ck_assert_uint_eq(r32(0x8ff0), 0x3000);  /* ES */
    ck_assert_uint_eq(r32(0x8fec), 0x2000);  /* SS */
    ck_assert_uint_eq(r32(0x8fe8), 0x800);   /* ESP */
    ck_assert(r32(0x8fe4) & X86_VM);
    ck_assert_uint_eq(r32(0x8fe0), 0x1000);  /* CS */
    ck_assert_uint_eq(r32(0x8fdc), 0x100);   /* EIP */
    ck_assert_uint_eq(r32(0x8fd8), 0);       /* error code */
    ck_assert_uint_eq(c->segs[S_DS].selector, 0);
}
END_TEST

START_TEST(test_deliver_long_and_iretq)
{
    X86Cpu *c = m.cpu;
    long_setup();
    set_seg(S_CS, U_CS64);
    set_seg(S_SS, U_DS);
    x86_update_mode(c);
    ck_assert_uint_eq(c->cpl, 3);
    c->regs[R_SP] = 0x8008;
    x86_set_eflags(c, X86_IF, X86_IF);
    set_idt64(0x80, K_CS64, 0x4000, 0xe, 3, 0);
    c->rip = 0x1000;
    x86_deliver(c, 0x80, 0, false, true, 0x1002);
    ck_assert_int_eq(c->exc.vector, -1);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert_uint_eq(c->segs[S_SS].selector, 0);  /* null, RPL = new CPL */
    ck_assert_uint_eq(c->regs[R_SP], 0x9000 - 40); /* RSP0 aligned to 16 */
    ck_assert_uint_eq(r64(0x8ff8), U_DS);
    ck_assert_uint_eq(r64(0x8ff0), 0x8008);
    ck_assert(r64(0x8fe8) & X86_IF);
    ck_assert_uint_eq(r64(0x8fe0), U_CS64);
    ck_assert_uint_eq(r64(0x8fd8), 0x1002);
    ck_assert(!(c->eflags & X86_IF));
    ck_assert_uint_eq(c->rip, 0x4000);
    ck_assert_uint_eq(x86_code_size(c), 8);
    ck_assert(x86_iret(c, 8));
    ck_assert_uint_eq(c->cpl, 3);
    ck_assert_uint_eq(c->segs[S_CS].selector, U_CS64);
    ck_assert_uint_eq(c->segs[S_SS].selector, U_DS);
    ck_assert_uint_eq(c->regs[R_SP], 0x8008);
    ck_assert_uint_eq(c->rip, 0x1002);
    ck_assert(c->eflags & X86_IF);
}
END_TEST

START_TEST(test_deliver_long_ist_same_level)
{
    X86Cpu *c = m.cpu;
    long_setup();
    c->regs[R_SP] = 0x7777;
    set_idt64(X86_EXC_NMI, K_CS64, 0x4400, 0xe, 0, 1);
    set_idt64(X86_EXC_GP, K_CS64, 0x4800, 0xf, 0, 0);
    x86_deliver(c, X86_EXC_NMI, 0, false, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x4400);
    ck_assert_uint_eq(c->regs[R_SP], 0xa000 - 40);  /* IST1, aligned */
    ck_assert_uint_eq(r64(0xa000 - 8), K_DS);       /* SS always pushed */
    ck_assert_uint_eq(r64(0xa000 - 16), 0x7777);
    ck_assert_uint_eq(c->segs[S_SS].selector, K_DS);
    /* Same level without IST: the current stack, aligned, 6 quadwords. */
    c->regs[R_SP] = 0x7777;
    x86_deliver(c, X86_EXC_GP, 0x10, true, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x4800);
    ck_assert_uint_eq(c->regs[R_SP], 0x7770 - 48);
    ck_assert_uint_eq(r64(0x7770 - 48), 0x10);
    /* IRETQ at the same level pops SS:RSP too. */
    c->regs[R_SP] += 8;
    ck_assert(x86_iret(c, 8));
    ck_assert_uint_eq(c->regs[R_SP], 0x7777);
    ck_assert_uint_eq(c->rip, 0x1000);
    /* A 32-bit gate type in the 64-bit IDT is #GP(vector * 8 + 2 + EXT). */
    w64(IDT + 16 * 0x21, gate(K_CS64, 0x4000, 0x6, 0, 0));
    x86_deliver(c, 0x21, 0, false, false, 0x1000);
    ck_assert_uint_eq(c->rip, 0x4800);
    ck_assert_uint_eq(r64(c->regs[R_SP]), 0x21 * 8 + 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Control registers, MSRs, CPUID                                      */

START_TEST(test_write_cr0_cr4)
{
    X86Cpu *c = m.cpu;
    /* Reset: real mode, CD NW ET. */
    ck_assert(!x86_write_cr(c, 0, X86_CR0_PG | X86_CR0_ET));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!x86_write_cr(c, 0, X86_CR0_NW));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!x86_write_cr(c, 0, 1ull << 32));
    expect_exc(X86_EXC_GP, 0);
    /* Reserved low bits are ignored; ET reads as 1. */
    ck_assert(x86_write_cr(c, 0, X86_CR0_PE | (1u << 8)));
    ck_assert_uint_eq(c->cr0, X86_CR0_PE | X86_CR0_ET);
    ck_assert_uint_eq(c->cpl, 0);
    ck_assert(!x86_write_cr(c, 4, X86_CR4_OSFXSR));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!x86_write_cr(c, 4, X86_CR4_PCIDE));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(x86_write_cr(c, 4, X86_CR4_PSE | X86_CR4_PGE | X86_CR4_SMEP));
    ck_assert(!x86_write_cr(c, 8, 1));  /* CR8 only in 64-bit mode */
    expect_exc(X86_EXC_UD, 0);
}
END_TEST

START_TEST(test_enter_leave_long_mode)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    w64(0x10000, 0x11000 | 7);
    w64(0x11000, 0x12000 | 7);
    w64(0x12000, 0x87);
    ck_assert(x86_write_cr(c, 3, 0x10000));
    ck_assert(x86_wrmsr(c, 0xc0000080u, X86_EFER_LME));
    /* LME + PG without PAE: #GP(0). */
    ck_assert(!x86_write_cr(c, 0, c->cr0 | X86_CR0_PG));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(x86_write_cr(c, 4, X86_CR4_PAE));
    ck_assert(x86_write_cr(c, 0, c->cr0 | X86_CR0_PG));
    ck_assert(c->efer & X86_EFER_LMA);
    ck_assert(x86_long_mode(c));
    /* LME cannot change while paging is on; PAE cannot be cleared. */
    ck_assert(!x86_wrmsr(c, 0xc0000080u, 0));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!x86_write_cr(c, 4, 0));
    expect_exc(X86_EXC_GP, 0);
    /* Reserved CR3 bits in long mode. */
    ck_assert(!x86_write_cr(c, 3, 1ull << 45));
    expect_exc(X86_EXC_GP, 0);
    /* From 64-bit code, paging cannot be turned off... */
    set_seg(S_CS, K_CS64);
    x86_update_mode(c);
    ck_assert(!x86_write_cr(c, 0, c->cr0 & ~X86_CR0_PG));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(x86_write_cr(c, 8, 5));
    ck_assert_uint_eq(c->cr8, 5);
    ck_assert(!x86_write_cr(c, 8, 16));
    expect_exc(X86_EXC_GP, 0);
    /* ...from compatibility mode it can, and IA-32e mode ends. */
    set_seg(S_CS, K_CS);
    x86_update_mode(c);
    ck_assert(x86_write_cr(c, 0, c->cr0 & ~X86_CR0_PG));
    ck_assert(!(c->efer & X86_EFER_LMA));
}
END_TEST

START_TEST(test_pae_pdptes)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    ck_assert(x86_write_cr(c, 4, X86_CR4_PAE));
    w64(0x13000, 0x14000 | 1);
    w64(0x13008, 0x15000 | 1 | (1u << 5));  /* reserved bit 5 */
    ck_assert(x86_write_cr(c, 3, 0x13000));
    ck_assert(!x86_write_cr(c, 0, c->cr0 | X86_CR0_PG));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!(c->cr0 & X86_CR0_PG));
    w64(0x13008, 0x15000 | 1);
    ck_assert(x86_write_cr(c, 0, c->cr0 | X86_CR0_PG));
    ck_assert_uint_eq(c->pdptes[0], 0x14001);
    ck_assert_uint_eq(c->pdptes[1], 0x15001);
    /* MOV CR3 reloads them, and refuses a bad set. */
    w64(0x16000, 0x17000 | 1 | (1ull << 50));
    ck_assert(!x86_write_cr(c, 3, 0x16000));
    expect_exc(X86_EXC_GP, 0);
    ck_assert_uint_eq(c->cr3, 0x13000);
}
END_TEST

START_TEST(test_write_cr_cpl)
{
    X86Cpu *c = m.cpu;
    pm_setup();
    to_ring3();
    ck_assert(!x86_write_cr(c, 0, c->cr0));
    expect_exc(X86_EXC_GP, 0);
    uint64_t v;
    ck_assert(!x86_rdmsr(c, 0x10, &v));
    expect_exc(X86_EXC_GP, 0);
}
END_TEST

static bool fake_rdmsr(void *machine, X86Cpu *cpu, uint32_t msr, uint64_t *val)
{
    (void)machine;
    (void)cpu;
    if (msr == 0x1b) {
        *val = 0xfee00900;
        return true;
    }
    return false;
}

static bool fake_wrmsr(void *machine, X86Cpu *cpu, uint32_t msr, uint64_t val)
{
    (void)machine;
    (void)cpu;
    (void)val;
    return msr == 0x1b;
}

START_TEST(test_msrs)
{
    X86Cpu *c = m.cpu;
    uint64_t v;
    c->icount = 50;
    ck_assert(x86_wrmsr(c, 0x10, 1000));
    c->icount = 60;
    ck_assert(x86_rdmsr(c, 0x10, &v));
    ck_assert_uint_eq(v, 1010);
    /* FS/GS base are the segment bases; non-canonical is #GP(0). */
    ck_assert(x86_wrmsr(c, 0xc0000100u, 0xffff800000001000ull));
    ck_assert_uint_eq(c->segs[S_FS].base, 0xffff800000001000ull);
    ck_assert(!x86_wrmsr(c, 0xc0000101u, 0x0000800000000000ull));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!x86_wrmsr(c, 0xc0000082u, 0x0001000000000000ull));
    expect_exc(X86_EXC_GP, 0);
    /* EFER: reserved bits. */
    ck_assert(!x86_wrmsr(c, 0xc0000080u, 1u << 2));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(x86_wrmsr(c, 0xc0000080u, X86_EFER_NXE | X86_EFER_SCE));
    ck_assert(x86_rdmsr(c, 0xc0000080u, &v));
    ck_assert_uint_eq(v, X86_EFER_NXE | X86_EFER_SCE);
    /* PAT types. */
    ck_assert(!x86_wrmsr(c, 0x277, 0x0007040600070402ull));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(x86_wrmsr(c, 0x277, 0x0007010600070106ull));
    /* MTRRs: 0, writes accepted. */
    ck_assert(x86_wrmsr(c, 0x2ff, 0xc06));
    ck_assert(x86_rdmsr(c, 0x2ff, &v));
    ck_assert_uint_eq(v, 0);
    /* Unknown MSR without a machine: #GP(0), reported once. */
    guint reports = tt_num_reports();
    ck_assert(!x86_rdmsr(c, 0x1b, &v));
    expect_exc(X86_EXC_GP, 0);
    ck_assert(!x86_rdmsr(c, 0x1b, &v));
    expect_exc(X86_EXC_GP, 0);
    ck_assert_uint_eq(tt_num_reports(), reports + 1);
    /* The machine's MSRs. */
    static const X86MachineOps ops = { .rdmsr = fake_rdmsr, .wrmsr = fake_wrmsr };
    c->mops = &ops;
    ck_assert(x86_rdmsr(c, 0x1b, &v));
    ck_assert_uint_eq(v, 0xfee00900);
    ck_assert(x86_wrmsr(c, 0x1b, 0xfee00800));
    ck_assert(!x86_wrmsr(c, 0x1234, 0));
    expect_exc(X86_EXC_GP, 0);
}
END_TEST

START_TEST(test_cpuid)
{
    X86Cpu *c = m.cpu;
    uint32_t o[4];
    x86_cpuid(c, 0, 0, o);
    ck_assert_uint_eq(o[0], 0xd);
    char vendor[13] = { 0 };
    memcpy(vendor, &o[1], 4);
    memcpy(vendor + 4, &o[3], 4);
    memcpy(vendor + 8, &o[2], 4);
    ck_assert_str_eq(vendor, "GenuineIntel");
    c->index = 5;
    x86_cpuid(c, 1, 0, o);
    ck_assert_uint_eq(o[1] >> 24, 5);
    ck_assert_uint_eq((o[0] >> 8) & 0xf, 6);
    ck_assert(!(o[3] & 1));          /* no x87 */
    ck_assert(o[3] & (1u << 6));     /* PAE */
    ck_assert(!(o[3] & (1u << 25))); /* no SSE */
    x86_cpuid(c, 0x80000000u, 0, o);
    ck_assert_uint_eq(o[0], 0x80000008u);
    x86_cpuid(c, 0x80000001u, 0, o);
    ck_assert(o[3] & (1u << 29));    /* LM */
    ck_assert(o[3] & (1u << 20));    /* NX */
    x86_cpuid(c, 0x80000008u, 0, o);
    ck_assert_uint_eq(o[0] & 0xffff, 0x3028);
    x86_cpuid(c, 0x80000002u, 0, o);
    ck_assert(memcmp(o, "mmusim", 6) == 0);
    x86_cpuid(c, 0x40000000u, 0, o);
    ck_assert_uint_eq(o[0] | o[1] | o[2] | o[3], 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("x86_excp");
    struct { const char *name; const TTest *t; } tests[] = {
        { "descriptor_decode", test_descriptor_decode },
        { "read_descriptor", test_read_descriptor },
        { "read_descriptor_long_system", test_read_descriptor_long_system },
        { "load_seg_protected", test_load_seg_protected },
        { "load_seg_null_ss_64", test_load_seg_null_ss_64 },
        { "load_seg_real_and_v86", test_load_seg_real_and_v86 },
        { "far_call_ret_real", test_far_call_ret_real },
        { "far_jump_protected", test_far_jump_protected },
        { "call_gate_inner_and_retf_outer", test_call_gate_inner_and_retf_outer },
        { "call_gate_checks", test_call_gate_checks },
        { "retf_outer_bad_ss", test_retf_outer_bad_ss },
        { "deliver_real_and_iret", test_deliver_real_and_iret },
        { "deliver_real_ivt_limit_triple_fault", test_deliver_real_ivt_limit_triple_fault },
        { "deliver_protected_same_level", test_deliver_protected_same_level },
        { "deliver_protected_inner_and_iret_outer", test_deliver_protected_inner_and_iret_outer },
        { "iret_flag_privileges", test_iret_flag_privileges },
        { "soft_int_gate_dpl", test_soft_int_gate_dpl },
        { "double_fault", test_double_fault },
        { "benign_serial", test_benign_serial },
        { "triple_fault", test_triple_fault },
        { "deliver_stack_fault_no_commit", test_deliver_stack_fault_no_commit },
        { "task_gate_and_return", test_task_gate_and_return },
        { "task_switch_faults", test_task_switch_faults },
        { "task16_jmp_call_iret", test_task16_jmp_call_iret },
        { "task16_to_32_and_back", test_task16_to_32_and_back },
        { "task16_gate_and_ring_stack", test_task16_gate_and_ring_stack },
        { "task16_limits", test_task16_limits },
        { "task_debug_trap", test_task_debug_trap },
        { "task_switch_check_order", test_task_switch_check_order },
        { "deliver_v86", test_deliver_v86 },
        { "deliver_long_and_iretq", test_deliver_long_and_iretq },
        { "deliver_long_ist_same_level", test_deliver_long_ist_same_level },
        { "write_cr0_cr4", test_write_cr0_cr4 },
        { "enter_leave_long_mode", test_enter_leave_long_mode },
        { "pae_pdptes", test_pae_pdptes },
        { "write_cr_cpl", test_write_cr_cpl },
        { "msrs", test_msrs },
        { "cpuid", test_cpuid },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(tests); i++) {
        TCase *tc = tcase_create(tests[i].name);
        tcase_add_checked_fixture(tc, m_setup, m_teardown);
        tcase_add_test(tc, tests[i].t);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    return tt_run(suite());
}
