/*
 * System Management Mode, the CPU side (targets/x86/x86_smm.c): SMI entry,
 * the AMD64 save-state map, RSM, SMBASE relocation, latching, and that no
 * translation made in one mode serves the other.
 *
 * A tiny machine, built in-process: 16 MiB of RAM at 0; VGA RAM (0x20000
 * bytes) at 0xa0000 over it at priority 1, holding "VGA"; SMRAM = an alias
 * of the RAM under the VGA window (holding "SMR"), shown at 0xa0000 by each
 * CPU view's SMRAM overlay. The fake machine's smm_changed toggles that
 * CPU's overlay (cpu_view_set_smram_visible), as a chipset with G_SMRAME
 * set and D_OPEN clear would. Port 0xb2 is an "APM control port" whose
 * writes raise an SMI on a chosen CPU. Two CPUs share a code cache.
 *
 * Programs are machine code assembled with GNU as (Intel syntax) and listed
 * with their disassembly; L_ labels used by the checks are #defined. SMI
 * handlers are 16-bit code placed at SMBASE + 0x8000 (0x38000 for the
 * default SMBASE 0x30000; their listings show the offset in CS); they
 * record what they read at 0x5000 and count their runs at 0x5010.
 *
 * Memory map: 0 IVT, 0x600 last vector (stubs at 0x3000 + 16 v store v
 * there and halt), 0x800 GDT, 0x4000 real-mode results, 0x5000 handler
 * results, 0x7000 real-mode code, 0x10000 protected/long-mode code,
 * 0x20000 their results, 0x30000 SMBASE (handler 0x38000, save map
 * 0x3fe00), 0x100000+ page tables, "RAM" at 0x400000 and 0x401000, "PGD"
 * at 0x600000. Paging identity-maps the low 4 MiB and maps linear 0x400000
 * to the VGA window (0xa0000) and 0x401000 to 0x600000; SMM runs with
 * paging off, where both linear addresses are the RAM behind them.
 */
#include <check.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "softmmu/address_space.h"
#include "softmmu/cpu_view.h"
#include "softmmu/region.h"
#include "targets/x86/x86_cpu.h"

#define RAM_SIZE 0x1000000u
#define VGA_BASE 0xa0000u
#define VGA_SIZE 0x20000u
#define VEC 0x600u
#define GDT 0x800u
#define STUBS 0x3000u
#define SMBASE0 0x30000u
#define MAP(base, off) ((base) + (off))   /* a save-state field at SMBASE + off */

#define VGA_WORD 0x00414756u   /* "VGA\0" */
#define SMR_WORD 0x00524d53u   /* "SMR\0" */
#define RAM_WORD 0x004d4152u   /* "RAM\0", at physical 0x400000 and 0x401000 */
#define PGD_WORD 0x00444750u   /* "PGD\0", at physical 0x600000: linear 0x401000 when paged */

/* ------------------------------------------------------------------ */
/* Programs: bytes assembled with GNU as (Intel syntax), each instruction listed with its
 * disassembly at its load address (handlers: at their offset in CS). */

/* real_main: 16-bit code at 0x7000 */
#define REAL_MAIN_smi 0x7037
static const uint8_t real_main[] = {
    0xb8, 0x00, 0xa0,                        /* 07000: mov ax,0xa000 */
    0x8e, 0xc0,                              /* 07003: mov es,ax */
    0x26, 0x66, 0xa1, 0x00, 0x00,            /* 07005: mov eax,es:0x0 */
    0x66, 0xa3, 0x00, 0x40,                  /* 0700a: mov ds:0x4000,eax */
    0x66, 0xbb, 0x44, 0x33, 0x22, 0x11,      /* 0700e: mov ebx,0x11223344 */
    0x66, 0xb9, 0x88, 0x77, 0x66, 0x55,      /* 07014: mov ecx,0x55667788 */
    0x66, 0xbe, 0xcc, 0xbb, 0xaa, 0x99,      /* 0701a: mov esi,0x99aabbcc */
    0x66, 0xbf, 0x00, 0xff, 0xee, 0xdd,      /* 07020: mov edi,0xddeeff00 */
    0x66, 0xbd, 0x34, 0x12, 0x00, 0x00,      /* 07026: mov ebp,0x1234 */
    0x66, 0xb8, 0xf0, 0xff, 0xff, 0xff,      /* 0702c: mov eax,0xfffffff0 */
    0x66, 0x83, 0xc0, 0x20,                  /* 07032: add eax,0x20 */
    0xfd,                                    /* 07036: std */
    0x90,                                    /* 07037: nop */
    0x90,                                    /* 07038: nop */
    0x26, 0x66, 0xa1, 0x00, 0x00,            /* 07039: mov eax,es:0x0 */
    0x66, 0xa3, 0x04, 0x40,                  /* 0703e: mov ds:0x4004,eax */
    0xf4,                                    /* 07042: hlt */
};

/* smm_read: 16-bit code at 0x8000 */
static const uint8_t smm_read[] = {
    0x67, 0x66, 0xa1, 0x00, 0x00, 0x0a, 0x00, /* 08000: addr32 mov eax,ds:0xa0000 */
    0x66, 0xa3, 0x00, 0x50,                  /* 08007: mov ds:0x5000,eax */
    0xff, 0x06, 0x10, 0x50,                  /* 0800b: inc WORD PTR ds:0x5010 */
    0x0f, 0xaa,                              /* 0800f: rsm */
};

/* smm_read_paged: 16-bit code at 0x8000 */
static const uint8_t smm_read_paged[] = {
    0x67, 0x66, 0xa1, 0x00, 0x10, 0x40, 0x00, /* 08000: addr32 mov eax,ds:0x401000 */
    0x66, 0xa3, 0x0c, 0x50,                  /* 08007: mov ds:0x500c,eax */
    0x67, 0x66, 0xa1, 0x00, 0x00, 0x40, 0x00, /* 0800b: addr32 mov eax,ds:0x400000 */
    0x66, 0xa3, 0x08, 0x50,                  /* 08012: mov ds:0x5008,eax */
    0x67, 0x66, 0xa1, 0x00, 0x00, 0x0a, 0x00, /* 08016: addr32 mov eax,ds:0xa0000 */
    0x66, 0xa3, 0x00, 0x50,                  /* 0801d: mov ds:0x5000,eax */
    0xff, 0x06, 0x10, 0x50,                  /* 08021: inc WORD PTR ds:0x5010 */
    0x0f, 0xaa,                              /* 08025: rsm */
};

/* smm_relocate: 16-bit code at 0x8000 */
static const uint8_t smm_relocate[] = {
    /* 08000: mov DWORD PTR cs:0xff00,0xa0000 */
    0x2e, 0x66, 0xc7, 0x06, 0x00, 0xff, 0x00, 0x00, 0x0a, 0x00,
    0xff, 0x06, 0x12, 0x50,                  /* 0800a: inc WORD PTR ds:0x5012 */
    0x0f, 0xaa,                              /* 0800e: rsm */
};

/* smm_bad_cr0: 16-bit code at 0x8000 */
static const uint8_t smm_bad_cr0[] = {
    /* 08000: mov DWORD PTR cs:0xff58,0x80000000 */
    0x2e, 0x66, 0xc7, 0x06, 0x58, 0xff, 0x00, 0x00, 0x00, 0x80,
    0x0f, 0xaa,                              /* 0800a: rsm */
};

/* smm_unhalt: 16-bit code at 0x8000 */
static const uint8_t smm_unhalt[] = {
    0x2e, 0xc6, 0x06, 0xc9, 0xfe, 0x00,      /* 08000: mov BYTE PTR cs:0xfec9,0x0 */
    0x0f, 0xaa,                              /* 08006: rsm */
};

/* smm_smram_write: 16-bit code at 0x8000 */
static const uint8_t smm_smram_write[] = {
    0x67, 0x66, 0xa1, 0x00, 0x00, 0x0a, 0x00, /* 08000: addr32 mov eax,ds:0xa0000 */
    0x66, 0xa3, 0x00, 0x50,                  /* 08007: mov ds:0x5000,eax */
    0x67, 0xc6, 0x05, 0x04, 0x00, 0x0a, 0x00, 0x21, /* 0800b: addr32 mov BYTE PTR ds:0xa0004,0x21 */
    0x67, 0x66, 0xa1, 0x04, 0x00, 0x0a, 0x00, /* 08013: addr32 mov eax,ds:0xa0004 */
    0x66, 0xa3, 0x04, 0x50,                  /* 0801a: mov ds:0x5004,eax */
    0x0f, 0xaa,                              /* 0801e: rsm */
};

/* real_apm: 16-bit code at 0x7000 */
static const uint8_t real_apm[] = {
    0xb0, 0x01,                              /* 07000: mov al,0x1 */
    0xe6, 0xb2,                              /* 07002: out 0xb2,al */
    0x66, 0x8b, 0x1e, 0x00, 0x50,            /* 07004: mov ebx,DWORD PTR ds:0x5000 */
    0xf4,                                    /* 07009: hlt */
};

/* real_hlt: 16-bit code at 0x7000 */
static const uint8_t real_hlt[] = {
    0xf4,                                    /* 07000: hlt */
    0xc7, 0x06, 0x08, 0x40, 0x34, 0x12,      /* 07001: mov WORD PTR ds:0x4008,0x1234 */
    0xf4,                                    /* 07007: hlt */
};

/* real_rsm: 16-bit code at 0x7000 */
static const uint8_t real_rsm[] = {
    0x0f, 0xaa,                              /* 07000: rsm */
    0xf4,                                    /* 07002: hlt */
};

/* real_cpu0_loop: 16-bit code at 0x7000 */
#define REAL_CPU0_LOOP_top 0x7000
static const uint8_t real_cpu0_loop[] = {
    0x26, 0x66, 0xa1, 0x00, 0x00,            /* 07000: mov eax,es:0x0 */
    0x66, 0xa3, 0x00, 0x41,                  /* 07005: mov ds:0x4100,eax */
    0x26, 0xa0, 0x04, 0x00,                  /* 07009: mov al,es:0x4 */
    0xa2, 0x04, 0x41,                        /* 0700d: mov ds:0x4104,al */
    0xeb, 0xee,                              /* 07010: jmp 0x7000 */
};

/* real_spin: 16-bit code at 0x7800 */
#define REAL_SPIN_spin 0x7800
static const uint8_t real_spin[] = {
    0xff, 0x06, 0x00, 0x42,                  /* 07800: inc WORD PTR ds:0x4200 */
    0xeb, 0xfa,                              /* 07804: jmp 0x7800 */
};

/* real_vga_call: 16-bit code at 0x7000 */
#define REAL_VGA_CALL_smi 0x700a
static const uint8_t real_vga_call[] = {
    0x9a, 0x00, 0x00, 0x00, 0xa8,            /* 07000: call 0xa800:0x0 */
    0x9a, 0x00, 0x00, 0x00, 0xa8,            /* 07005: call 0xa800:0x0 */
    0x90,                                    /* 0700a: nop */
    0xc7, 0x06, 0x10, 0x40, 0x00, 0x00,      /* 0700b: mov WORD PTR ds:0x4010,0x0 */
    0x9a, 0x00, 0x00, 0x00, 0xa8,            /* 07011: call 0xa800:0x0 */
    0xf4,                                    /* 07016: hlt */
};

/* vga_code: 16-bit code at 0x0 */
static const uint8_t vga_code[] = {
    0xc7, 0x06, 0x10, 0x40, 0x11, 0x11,      /* 00000: mov WORD PTR ds:0x4010,0x1111 */
    0xcb,                                    /* 00006: retf */
};

/* pm_main: 32-bit code at 0x10000 */
#define PM_MAIN_smi 0x10035
static const uint8_t pm_main[] = {
    0xa1, 0x00, 0x00, 0x40, 0x00,            /* 10000: mov eax,ds:0x400000 */
    0xa3, 0x00, 0x00, 0x02, 0x00,            /* 10005: mov ds:0x20000,eax */
    0xa1, 0x00, 0x10, 0x40, 0x00,            /* 1000a: mov eax,ds:0x401000 */
    0xa3, 0x0c, 0x00, 0x02, 0x00,            /* 1000f: mov ds:0x2000c,eax */
    0xbb, 0x44, 0x33, 0x22, 0x11,            /* 10014: mov ebx,0x11223344 */
    0xb9, 0x88, 0x77, 0x66, 0x55,            /* 10019: mov ecx,0x55667788 */
    0xbe, 0xcc, 0xbb, 0xaa, 0x99,            /* 1001e: mov esi,0x99aabbcc */
    0xbf, 0x00, 0xff, 0xee, 0xdd,            /* 10023: mov edi,0xddeeff00 */
    0xbd, 0x34, 0x12, 0x00, 0x00,            /* 10028: mov ebp,0x1234 */
    0xb8, 0xf0, 0xff, 0xff, 0x7f,            /* 1002d: mov eax,0x7ffffff0 */
    0x83, 0xc0, 0x20,                        /* 10032: add eax,0x20 */
    0x90,                                    /* 10035: nop */
    0x90,                                    /* 10036: nop */
    0xa1, 0x00, 0x00, 0x40, 0x00,            /* 10037: mov eax,ds:0x400000 */
    0xa3, 0x04, 0x00, 0x02, 0x00,            /* 1003c: mov ds:0x20004,eax */
    0xa1, 0x00, 0x00, 0x0a, 0x00,            /* 10041: mov eax,ds:0xa0000 */
    0xa3, 0x08, 0x00, 0x02, 0x00,            /* 10046: mov ds:0x20008,eax */
    0xa1, 0x00, 0x10, 0x40, 0x00,            /* 1004b: mov eax,ds:0x401000 */
    0xa3, 0x10, 0x00, 0x02, 0x00,            /* 10050: mov ds:0x20010,eax */
    0xf4,                                    /* 10055: hlt */
};

/* lm_main: 64-bit code at 0x10000 */
#define LM_MAIN_smi 0x10045
static const uint8_t lm_main[] = {
    0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, /* 10000: mov eax,DWORD PTR ds:0x400000 */
    0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, /* 10007: mov DWORD PTR ds:0x20000,eax */
    0x8b, 0x04, 0x25, 0x00, 0x10, 0x40, 0x00, /* 1000e: mov eax,DWORD PTR ds:0x401000 */
    0x89, 0x04, 0x25, 0x0c, 0x00, 0x02, 0x00, /* 10015: mov DWORD PTR ds:0x2000c,eax */
    /* 1001c: movabs r8,0x1122334455667788 */
    0x49, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
    /* 10026: movabs r15,0x8877665544332211 */
    0x49, 0xbf, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
    /* 10030: movabs rbx,0xdeadbeefcafebabe */
    0x48, 0xbb, 0xbe, 0xba, 0xfe, 0xca, 0xef, 0xbe, 0xad, 0xde,
    0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, /* 1003a: mov rax,0xffffffffffffffff */
    0x48, 0x83, 0xc0, 0x02,                  /* 10041: add rax,0x2 */
    0x90,                                    /* 10045: nop */
    0x90,                                    /* 10046: nop */
    0x8b, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, /* 10047: mov eax,DWORD PTR ds:0x400000 */
    0x89, 0x04, 0x25, 0x04, 0x00, 0x02, 0x00, /* 1004e: mov DWORD PTR ds:0x20004,eax */
    0x8b, 0x04, 0x25, 0x00, 0x10, 0x40, 0x00, /* 10055: mov eax,DWORD PTR ds:0x401000 */
    0x89, 0x04, 0x25, 0x10, 0x00, 0x02, 0x00, /* 1005c: mov DWORD PTR ds:0x20010,eax */
    0xf4,                                    /* 10063: hlt */
};

/* ------------------------------------------------------------------ */
/* The machine. */

#define NCPU 2

typedef struct Tm {
    MemRegion *global, *ram, *vga, *smram, *io_root;
    CpuView *view[NCPU];
    AddressSpace *io_as;
    CodeCache *cc;
    X86Cpu *cpu[NCPU];
    uint8_t *mem, *vgamem;
    unsigned entries[NCPU], exits[NCPU];  /* smm_changed(true / false) calls */
    bool map_written_early[NCPU];         /* the save map existed before smm_changed(true) */
    unsigned apm_target;                  /* the CPU port 0xb2 sends its SMI to */
} Tm;

static Tm tm;

static uint32_t r32(uint64_t a) { uint32_t v; memcpy(&v, tm.mem + a, 4); return v; }
static uint64_t r64(uint64_t a) { uint64_t v; memcpy(&v, tm.mem + a, 8); return v; }
static uint16_t r16(uint64_t a) { uint16_t v; memcpy(&v, tm.mem + a, 2); return v; }

/* The chipset: SMRAM is shown to a CPU exactly while it is in SMM. */
static void fake_smm_changed(void *machine, X86Cpu *cpu, bool in_smm)
{
    Tm *m = machine;
    ck_assert(cpu->in_smm == in_smm);
    if (in_smm) {
        m->entries[cpu->index]++;
        /* The map is written after this call: the revision field is not there yet
         * (the tests clear it before each SMI). */
        m->map_written_early[cpu->index] |= r32(MAP(cpu->smbase, 0xfefc)) != 0 &&
                                            cpu->smbase < VGA_BASE;
    } else {
        m->exits[cpu->index]++;
    }
    cpu_view_set_smram_visible(cpu->view, in_smm);
}

static const X86MachineOps fake_mops = { .smm_changed = fake_smm_changed };

static MemResult apm_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                          MemAttrs attrs)
{
    *value = 0;
    return MEM_OK;
}

static MemResult apm_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                           MemAttrs attrs)
{
    Tm *m = opaque;
    x86_cpu_raise_smi(m->cpu[m->apm_target]);
    return MEM_OK;
}

static const MemRegionOps apm_ops = {
    .read = apm_read,
    .write = apm_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { 1, 1, false },
    .impl = { 1, 1, false },
};

static void machine_new(void)
{
    GError *err = NULL;
    memset(&tm, 0, sizeof(tm));
    tm.global = mr_new_container("global", MEM_SIZE_FULL, &err);
    ck_assert_ptr_nonnull(tm.global);
    tm.ram = mr_new_ram("ram", RAM_SIZE, &err);
    ck_assert_ptr_nonnull(tm.ram);
    ck_assert(mr_add_subregion(tm.global, 0, tm.ram, &err));
    tm.vga = mr_new_ram("vga", VGA_SIZE, &err);
    ck_assert_ptr_nonnull(tm.vga);
    ck_assert(mr_add_subregion_overlap(tm.global, VGA_BASE, tm.vga, 1, &err));
    tm.smram = mr_new_alias("smram", tm.ram, VGA_BASE, VGA_SIZE, &err);
    ck_assert_ptr_nonnull(tm.smram);
    tm.mem = mr_ram_ptr(tm.ram);
    tm.vgamem = mr_ram_ptr(tm.vga);
    memset(tm.mem, 0, RAM_SIZE);
    memset(tm.vgamem, 0, VGA_SIZE);
    memcpy(tm.vgamem, "VGA", 4);
    memcpy(tm.mem + VGA_BASE, "SMR", 4);
    memcpy(tm.mem + 0x400000, "RAM", 4);
    memcpy(tm.mem + 0x401000, "RAM", 4);
    memcpy(tm.mem + 0x600000, "PGD", 4);

    tm.io_root = mr_new_container("io", 0x10000, &err);
    MemRegion *apm = mr_new_mmio("apm", 1, &apm_ops, &tm, &err);
    ck_assert_ptr_nonnull(apm);
    ck_assert(mr_add_subregion(tm.io_root, 0xb2, apm, &err));
    mr_unref(apm);
    tm.io_as = as_new("io", tm.io_root, &err);
    ck_assert_ptr_nonnull(tm.io_as);
    tm.cc = code_cache_new();
    for (unsigned i = 0; i < NCPU; i++) {
        CpuViewConfig cfg = {
            .cpu_index = i,
            .global_map = tm.global,
            .smram = tm.smram,
            .smram_addr = VGA_BASE,
        };
        tm.view[i] = cpu_view_new(&cfg, &err);
        ck_assert_msg(tm.view[i] != NULL, "cpu_view_new: %s", err ? err->message : "?");
        tm.cpu[i] = x86_cpu_new(i, tm.view[i], tm.io_as, tm.cc, &fake_mops, &tm, &err);
        ck_assert_msg(tm.cpu[i] != NULL, "x86_cpu_new: %s", err ? err->message : "?");
    }
}

static void machine_free(void)
{
    for (unsigned i = 0; i < NCPU; i++) {
        x86_cpu_free(tm.cpu[i]);
        cpu_view_free(tm.view[i]);
    }
    code_cache_free(tm.cc);
    as_free(tm.io_as);
    mr_unref(tm.io_root);
    mr_unref(tm.smram);
    mr_unref(tm.vga);
    mr_unref(tm.ram);
    mr_unref(tm.global);
}

/* Guest memory, written like a device would (code caches are told). */
static void put(uint64_t addr, const void *p, size_t len)
{
    ck_assert(addr + len <= RAM_SIZE);
    mr_note_write(tm.ram, addr, len);
    memcpy(tm.mem + addr, p, len);
}

static void w16(uint64_t a, uint16_t v) { put(a, &v, 2); }
static void w32(uint64_t a, uint32_t v) { put(a, &v, 4); }
static void w64(uint64_t a, uint64_t v) { put(a, &v, 8); }

#define LOAD(addr, prog) put((addr), (prog), sizeof(prog))

/* VGA RAM at its offset `off`. */
static void put_vga(uint64_t off, const void *p, size_t len)
{
    mr_note_write(tm.vga, off, len);
    memcpy(tm.vgamem + off, p, len);
}

#define CK_EQ(got, want)                                                                     \
    do {                                                                                     \
        uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                                \
        ck_assert_msg(g_ == w_, "%s: got 0x%" G_GINT64_MODIFIER "x, want 0x%"                \
                      G_GINT64_MODIFIER "x", #got, g_, w_);                                  \
    } while (0)

static X86Exit run(unsigned c, uint64_t n)
{
    return x86_cpu_run(tm.cpu[c], n);
}

static void run_to_hlt(unsigned c, uint64_t budget)
{
    X86Cpu *cpu = tm.cpu[c];
    X86Exit e = x86_cpu_run(cpu, budget);
    ck_assert_msg(e == X86_EXIT_HALTED, "cpu%u: exit %d at %04x:%" G_GINT64_MODIFIER
                  "x, icount %" G_GINT64_MODIFIER "u", c, (int)e, cpu->segs[S_CS].selector,
                  cpu->rip, cpu->icount);
}

/* Everything RSM must give back. */
typedef struct Snap {
    uint64_t regs[16], rip, cr0, cr2, cr3, cr4, cr8, efer, dr6, dr7, pdptes[4];
    uint32_t eflags;
    unsigned cpl;
    X86Seg segs[6], ldtr, tr;
    X86Table gdtr, idtr;
} Snap;

static void snap(unsigned c, Snap *s)
{
    X86Cpu *cpu = tm.cpu[c];
    memset(s, 0, sizeof(*s));
    memcpy(s->regs, cpu->regs, sizeof(s->regs));
    s->rip = cpu->rip;
    s->cr0 = cpu->cr0;
    s->cr2 = cpu->cr2;
    s->cr3 = cpu->cr3;
    s->cr4 = cpu->cr4;
    s->cr8 = cpu->cr8;
    s->efer = cpu->efer;
    s->dr6 = cpu->dr[6];
    s->dr7 = cpu->dr[7];
    memcpy(s->pdptes, cpu->pdptes, sizeof(s->pdptes));
    s->eflags = x86_get_eflags(cpu);
    s->cpl = cpu->cpl;
    memcpy(s->segs, cpu->segs, sizeof(s->segs));
    s->ldtr = cpu->ldtr;
    s->tr = cpu->tr;
    s->gdtr = cpu->gdtr;
    s->idtr = cpu->idtr;
}

static void ck_seg(const char *what, const X86Seg *got, const X86Seg *want)
{
    ck_assert_msg(got->selector == want->selector && got->base == want->base &&
                  got->limit == want->limit && got->attr == want->attr,
                  "%s: got %04x base %" G_GINT64_MODIFIER "x limit %x attr %x, want %04x base %"
                  G_GINT64_MODIFIER "x limit %x attr %x", what, got->selector, got->base,
                  got->limit, got->attr, want->selector, want->base, want->limit, want->attr);
}

/* The CPU state equals the snapshot, every field. */
static void ck_same(unsigned c, const Snap *want)
{
    static const char *const sn[6] = { "ES", "CS", "SS", "DS", "FS", "GS" };
    Snap got;
    snap(c, &got);
    for (unsigned r = 0; r < 16; r++) {
        ck_assert_msg(got.regs[r] == want->regs[r], "reg %u: got 0x%" G_GINT64_MODIFIER
                      "x, want 0x%" G_GINT64_MODIFIER "x", r, got.regs[r], want->regs[r]);
    }
    CK_EQ(got.rip, want->rip);
    CK_EQ(got.eflags, want->eflags);
    CK_EQ(got.cr0, want->cr0);
    CK_EQ(got.cr2, want->cr2);
    CK_EQ(got.cr3, want->cr3);
    CK_EQ(got.cr4, want->cr4);
    CK_EQ(got.cr8, want->cr8);
    CK_EQ(got.efer, want->efer);
    CK_EQ(got.dr6, want->dr6);
    CK_EQ(got.dr7, want->dr7);
    CK_EQ(got.cpl, want->cpl);
    for (unsigned i = 0; i < 4; i++) {
        CK_EQ(got.pdptes[i], want->pdptes[i]);
    }
    for (unsigned s = 0; s < 6; s++) {
        ck_seg(sn[s], &got.segs[s], &want->segs[s]);
    }
    ck_seg("LDTR", &got.ldtr, &want->ldtr);
    ck_seg("TR", &got.tr, &want->tr);
    CK_EQ(got.gdtr.base, want->gdtr.base);
    CK_EQ(got.gdtr.limit, want->gdtr.limit);
    CK_EQ(got.idtr.base, want->idtr.base);
    CK_EQ(got.idtr.limit, want->idtr.limit);
}

/* The SMM entry state (AMD64 APM 10.3; SDM "Processor Register Initialization
 * in SMM"), with RIP already moved on to `rip` by the handler's first
 * instructions. */
static void ck_entry_state(unsigned c, uint64_t smbase, uint64_t rip)
{
    X86Cpu *cpu = tm.cpu[c];
    ck_assert(cpu->in_smm);
    ck_assert(cpu_view_smram_visible(tm.view[c]));
    CK_EQ(cpu->segs[S_CS].selector, smbase >> 4);
    CK_EQ(cpu->segs[S_CS].base, smbase);
    CK_EQ(cpu->segs[S_CS].limit, 0xffffffffu);
    for (unsigned s = 0; s < 6; s++) {
        if (s != S_CS) {
            CK_EQ(cpu->segs[s].selector, 0);
            CK_EQ(cpu->segs[s].base, 0);
            CK_EQ(cpu->segs[s].limit, 0xffffffffu);
        }
    }
    CK_EQ(cpu->rip, rip);
    CK_EQ(x86_get_eflags(cpu) & ~0x8d5u, 2);  /* the handler's first instruction may set flags */
    CK_EQ(cpu->cr0 & (X86_CR0_PE | X86_CR0_EM | X86_CR0_TS | X86_CR0_PG), 0);
    CK_EQ(cpu->cr4, 0);
    CK_EQ(cpu->efer, 0);
    CK_EQ(cpu->dr[7], 0x400);
    CK_EQ(cpu->cpl, 0);
    CK_EQ(x86_code_size(cpu), 2);
}

/* The save map's header fields and the registers every test can check. */
static void ck_map_common(uint64_t smbase, const Snap *s)
{
    CK_EQ(r32(MAP(smbase, 0xfefc)), 0x00020064);
    CK_EQ(r32(MAP(smbase, 0xff00)), smbase);
    CK_EQ(r64(MAP(smbase, 0xff78)), s->rip);
    CK_EQ(r64(MAP(smbase, 0xff70)), s->eflags);
    CK_EQ(r64(MAP(smbase, 0xff58)), s->cr0);
    CK_EQ(r64(MAP(smbase, 0xff50)), s->cr3);
    CK_EQ(r64(MAP(smbase, 0xff48)), s->cr4);
    CK_EQ(r64(MAP(smbase, 0xff60)), s->dr7);
    CK_EQ(r64(MAP(smbase, 0xff68)), s->dr6);
    CK_EQ(r64(MAP(smbase, 0xfed0)), s->efer);
    /* GPRs: RAX at FFF8h down to R15 at FF80h. */
    for (unsigned r = 0; r < 16; r++) {
        ck_assert_msg(r64(MAP(smbase, 0xfff8 - 8 * r)) == s->regs[r], "map gpr %u", r);
    }
    /* Segments at FE00h + 16 n in ES, CS, SS, DS, FS, GS order. */
    for (unsigned n = 0; n < 6; n++) {
        uint64_t f = MAP(smbase, 0xfe00 + 16 * n);
        uint32_t a = s->segs[n].attr;
        CK_EQ(r16(f), s->segs[n].selector);
        CK_EQ(r16(f + 2), (a & 0xff) | ((a >> 4) & 0xf00));
        CK_EQ(r32(f + 4), s->segs[n].limit);
        CK_EQ(r64(f + 8), s->segs[n].base);
    }
    CK_EQ(r16(MAP(smbase, 0xfe64)), s->gdtr.limit);
    CK_EQ(r64(MAP(smbase, 0xfe68)), s->gdtr.base);
    CK_EQ(r16(MAP(smbase, 0xfe84)), s->idtr.limit);
    CK_EQ(r64(MAP(smbase, 0xfe88)), s->idtr.base);
    CK_EQ(r16(MAP(smbase, 0xfe70)), s->ldtr.selector);
    CK_EQ(r16(MAP(smbase, 0xfe90)), s->tr.selector);
    CK_EQ(r64(MAP(smbase, 0xfe98)), s->tr.base);
}

/* ------------------------------------------------------------------ */
/* Modes. */

static void write_stubs(void)
{
    for (unsigned v = 0; v < 256; v++) {
        const uint8_t s[] = { 0xc7, 0x06, VEC & 0xff, VEC >> 8, (uint8_t)v, 0, 0xf4 };
        put(STUBS + 16 * v, s, sizeof(s));  /* mov word [VEC], v; hlt */
        w16(4 * v, (uint16_t)(STUBS + 16 * v));
        w16(4 * v + 2, 0);
    }
    w16(VEC, 0xffff);
}

static void setup_real(unsigned c)
{
    X86Cpu *cpu = tm.cpu[c];
    x86_cpu_reset(cpu);
    for (int s = 0; s < 6; s++) {
        cpu->segs[s] = (X86Seg){ 0, 0, 0xffff, X86_SEGA_P | X86_SEGA_S | 0x3 };
    }
    cpu->segs[S_CS].attr = X86_SEGA_P | X86_SEGA_S | 0xb;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = 0x9000;
    cpu->rip = 0x7000;
    cpu->idtr = (X86Table){ 0, 0x3ff };
    cpu->cr0 = X86_CR0_ET | X86_CR0_NE;
    write_stubs();
}

static const uint64_t gdt[] = {
    0,
    0x00cf9b000000ffffull, /* 0x08 code32 DPL0 */
    0x00cf93000000ffffull, /* 0x10 data DPL0 */
    0,
    0x00af9b000000ffffull, /* 0x20 code64 DPL0 */
    0x0000890040000067ull, /* 0x28 TSS (32-bit available), base 0x4000 */
    0,                     /* (64-bit TSS: upper half) */
};

/* The segment cache a descriptor load gives (descriptor bits 55:40 as attr). */
static X86Seg flat(uint16_t sel, uint32_t attr)
{
    return (X86Seg){ sel, 0, 0xffffffffu, attr };
}

#define PT32 0x101000u   /* 32-bit page table: linear 0x400000 -> VGA */
#define PT64 0x107000u   /* PAE/long-mode page table: linear 0x400000 -> VGA */

/* Protected mode with paging: 32-bit (4 MiB identity page + PT32) or PAE. */
static void setup_pm32(unsigned c, bool pae)
{
    X86Cpu *cpu = tm.cpu[c];
    x86_cpu_reset(cpu);
    put(GDT, gdt, sizeof(gdt));
    cpu->gdtr = (X86Table){ GDT, sizeof(gdt) - 1 };
    cpu->idtr = (X86Table){ 0x1000, 0x7ff };
    cpu->segs[S_CS] = flat(0x08, 0xcf9b);
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = flat(0x10, 0xcf93);
        }
    }
    cpu->tr = (X86Seg){ 0x28, 0x4000, 0x67, 0x8b };
    cpu->cpl = 0;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = 0x80000;
    cpu->rip = 0x10000;
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
    cpu->cr2 = 0xc2c2c2c2u;
    if (!pae) {
        w32(0x100000, 0x83);                /* PDE 0: 4 MiB identity */
        w32(0x100004, PT32 | 3);            /* PDE 1: 0x400000 -> PT32 */
        w32(PT32, VGA_BASE | 3);
        w32(PT32 + 4, 0x600000 | 3);        /* 0x401000 -> 0x600000 */
        cpu->cr3 = 0x100000;
        cpu->cr4 = X86_CR4_PSE;
    } else {
        w64(0x102000, 0x103000 | 1);        /* PDPTE 0 */
        w64(0x103000, 0x83);                /* 2 MiB identity */
        w64(0x103008, 0x200000 | 0x83);
        w64(0x103010, PT64 | 3);            /* 0x400000 -> PT64 */
        w64(PT64, VGA_BASE | 3);
        w64(PT64 + 8, 0x600000 | 3);        /* 0x401000 -> 0x600000 */
        cpu->cr3 = 0x102000;
        cpu->cr4 = X86_CR4_PAE | X86_CR4_PGE;
        MemAttrs attrs = mem_attrs_cpu(c);
        ck_assert(x86_pae_load_pdptes(cpu->mem_as, attrs, cpu->cr3, 40, cpu->pdptes));
    }
    x86_paging_changed(cpu, false);
}

#define LM_CODE_HIGH 0xffff800000000000ull  /* PML4 slot 256 maps the low memory too */

static void setup_lm64(unsigned c)
{
    X86Cpu *cpu = tm.cpu[c];
    x86_cpu_reset(cpu);
    put(GDT, gdt, sizeof(gdt));
    w64(0x104000, 0x105000 | 3);            /* PML4[0] */
    w64(0x104000 + 8 * 256, 0x105000 | 3);  /* PML4[256] */
    w64(0x105000, 0x106000 | 3);            /* PDPT[0] */
    w64(0x106000, 0x83);                    /* 2 MiB identity */
    w64(0x106008, 0x200000 | 0x83);
    w64(0x106010, PT64 | 3);                /* 0x400000 -> PT64 */
    w64(PT64, VGA_BASE | 3);
    w64(PT64 + 8, 0x600000 | 3);            /* 0x401000 -> 0x600000 */
    cpu->gdtr = (X86Table){ LM_CODE_HIGH + GDT, sizeof(gdt) - 1 };
    cpu->idtr = (X86Table){ LM_CODE_HIGH + 0x1000, 0xfff };
    cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
    cpu->cr4 = X86_CR4_PAE;
    cpu->cr3 = 0x104000;
    cpu->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | 1 /* SCE */;
    cpu->segs[S_CS] = flat(0x20, 0xaf9b);
    for (int s = 0; s < 6; s++) {
        if (s != S_CS) {
            cpu->segs[s] = flat(0x10, 0xcf93);
        }
    }
    cpu->segs[S_FS].base = 0x123456789abcull;
    cpu->segs[S_GS].base = 0xffff800012345678ull;
    cpu->tr = (X86Seg){ 0x28, LM_CODE_HIGH + 0x4000, 0x67, 0x8b };
    cpu->cpl = 0;
    memset(cpu->regs, 0, sizeof(cpu->regs));
    cpu->regs[R_SP] = LM_CODE_HIGH + 0x80000;
    for (unsigned r = 8; r < 16; r++) {
        cpu->regs[r] = 0x0101010101010101ull * r;
    }
    cpu->rip = LM_CODE_HIGH + 0x10000;
    x86_paging_changed(cpu, false);
}

/* Take an SMI now and run `n` handler instructions. */
static void smi_and_run(unsigned c, uint64_t n)
{
    w32(MAP(tm.cpu[c]->smbase, 0xfefc), 0);  /* see fake_smm_changed */
    x86_cpu_raise_smi(tm.cpu[c]);
    CK_EQ(run(c, n), X86_EXIT_QUANTUM);
}

static void setup(void)
{
    machine_new();
}

static void teardown(void)
{
    machine_free();
}

/* ------------------------------------------------------------------ */
/* SMI from real mode: SMRAM in SMM only, and an exact return. */

START_TEST(test_smi_real_mode)
{
    setup_real(0);
    LOAD(0x7000, real_main);
    LOAD(SMBASE0 + 0x8000, smm_read);
    /* Up to the SMI point: 12 instructions (the first read of 0xa0000 among them). */
    CK_EQ(run(0, 12), X86_EXIT_QUANTUM);
    CK_EQ(tm.cpu[0]->rip, REAL_MAIN_smi);
    CK_EQ(r32(0x4000), VGA_WORD);
    Snap before;
    snap(0, &before);
    ck_assert(!tm.cpu[0]->in_smm);

    /* SMI, then one handler instruction: the read of 0xa0000 sees SMRAM. */
    smi_and_run(0, 1);
    ck_entry_state(0, SMBASE0, 0x8007);
    CK_EQ(tm.cpu[0]->regs[R_AX] & 0xffffffffu, SMR_WORD);
    ck_assert(!tm.map_written_early[0]);
    CK_EQ(tm.entries[0], 1);
    CK_EQ(tm.exits[0], 0);
    /* The save map (in RAM at 0x3fe00: SMBASE 0x30000 is not in SMRAM here). */
    ck_map_common(SMBASE0, &before);
    CK_EQ(r16(MAP(SMBASE0, 0xfe00)), 0xa000);          /* ES selector */
    CK_EQ(r64(MAP(SMBASE0, 0xfe08)), 0xa0000);         /* ES base */
    CK_EQ(r16(MAP(SMBASE0, 0xfe12)), 0x9b);            /* CS attributes */
    CK_EQ(tm.mem[MAP(SMBASE0, 0xfec9)], 0);            /* not halted */
    /* The other CPU never sees SMRAM. */
    ck_assert(!cpu_view_smram_visible(tm.view[1]));

    /* The rest of the handler: store, count, RSM. */
    CK_EQ(run(0, 3), X86_EXIT_QUANTUM);
    ck_assert(!tm.cpu[0]->in_smm);
    ck_assert(!cpu_view_smram_visible(tm.view[0]));
    CK_EQ(tm.exits[0], 1);
    CK_EQ(r32(0x5000), SMR_WORD);
    CK_EQ(r16(0x5010), 1);
    ck_same(0, &before);
    CK_EQ(tm.cpu[0]->smbase, SMBASE0);

    /* Back where it was: the same linear address reads VGA again. */
    run_to_hlt(0, 100);
    CK_EQ(r32(0x4004), VGA_WORD);
    CK_EQ(tm.cpu[0]->regs[R_BX], 0x11223344);
    CK_EQ(tm.entries[0], 1);
}
END_TEST

/* SMI from 32-bit protected mode with paging (non-PAE and PAE). */
START_TEST(test_smi_pm32_paging)
{
    for (int pae = 0; pae < 2; pae++) {
        setup_pm32(0, pae);
        LOAD(0x10000, pm_main);
        LOAD(SMBASE0 + 0x8000, smm_read_paged);
        w16(0x5010, 0);
        CK_EQ(run(0, 11), X86_EXIT_QUANTUM);
        CK_EQ(tm.cpu[0]->rip, PM_MAIN_smi);
        CK_EQ(r32(0x20000), VGA_WORD);   /* linear 0x400000 -> VGA, now in the TLB */
        CK_EQ(r32(0x2000c), PGD_WORD);   /* linear 0x401000 -> 0x600000, too */
        Snap before;
        snap(0, &before);

        /* Paging is off in SMM: linear 0x401000 is RAM there, whatever the TLB
         * held for it a moment ago (outside the SMRAM window, so only the
         * flush at entry can drop that translation). */
        smi_and_run(0, 1);
        ck_entry_state(0, SMBASE0, 0x8007);
        CK_EQ(tm.cpu[0]->regs[R_AX] & 0xffffffffu, RAM_WORD);
        ck_map_common(SMBASE0, &before);
        CK_EQ(r16(MAP(SMBASE0, 0xfe12)), 0xc9b);  /* CS: G, D, P, S, code */
        CK_EQ(r16(MAP(SMBASE0, 0xfe92)), 0x8b);   /* TR: busy 32-bit TSS */
        CK_EQ(tm.cpu[0]->cr2, 0xc2c2c2c2u);       /* CR2 is neither saved nor changed */

        CK_EQ(run(0, 7), X86_EXIT_QUANTUM);
        ck_assert(!tm.cpu[0]->in_smm);
        ck_same(0, &before);
        CK_EQ(r16(0x5010), 1);
        CK_EQ(r32(0x5000), SMR_WORD);
        CK_EQ(r32(0x5008), RAM_WORD);
        /* Paged and identity reads of the window: VGA, never SMRAM, nor the
         * RAM SMM saw at linear 0x400000. */
        run_to_hlt(0, 100);
        CK_EQ(r32(0x20004), VGA_WORD);
        CK_EQ(r32(0x20008), VGA_WORD);
        CK_EQ(r32(0x20010), PGD_WORD);
    }
    CK_EQ(tm.entries[0], 2);
    CK_EQ(tm.exits[0], 2);
}
END_TEST

/* SMI from 64-bit mode: EFER.LMA, CR3, a 64-bit RIP and R8-R15 round-trip. */
START_TEST(test_smi_long_mode)
{
    setup_lm64(0);
    LOAD(0x10000, lm_main);
    LOAD(SMBASE0 + 0x8000, smm_read_paged);
    CK_EQ(run(0, 9), X86_EXIT_QUANTUM);
    CK_EQ(tm.cpu[0]->rip, LM_CODE_HIGH + LM_MAIN_smi);
    CK_EQ(r32(0x20000), VGA_WORD);
    CK_EQ(r32(0x2000c), PGD_WORD);
    Snap before;
    snap(0, &before);
    CK_EQ(before.regs[R_AX], 1);

    smi_and_run(0, 1);
    ck_entry_state(0, SMBASE0, 0x8007);
    CK_EQ(tm.cpu[0]->regs[R_AX] & 0xffffffffu, RAM_WORD);
    ck_map_common(SMBASE0, &before);
    CK_EQ(r64(MAP(SMBASE0, 0xfed0)), X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | 1);
    CK_EQ(r64(MAP(SMBASE0, 0xff50)), 0x104000);
    CK_EQ(r64(MAP(SMBASE0, 0xff78)), LM_CODE_HIGH + LM_MAIN_smi);
    CK_EQ(r64(MAP(SMBASE0, 0xffb8)), 0x1122334455667788ull);  /* R8 */
    CK_EQ(r64(MAP(SMBASE0, 0xff80)), 0x8877665544332211ull);  /* R15 */
    CK_EQ(r16(MAP(SMBASE0, 0xfe12)), 0xa9b);                  /* CS: G, L, P, S, code */
    CK_EQ(r64(MAP(SMBASE0, 0xfe48)), 0x123456789abcull);      /* FS base */
    CK_EQ(r64(MAP(SMBASE0, 0xfe58)), 0xffff800012345678ull);  /* GS base */
    CK_EQ(r64(MAP(SMBASE0, 0xfe68)), LM_CODE_HIGH + GDT);     /* GDTR base */

    CK_EQ(run(0, 7), X86_EXIT_QUANTUM);
    ck_assert(!tm.cpu[0]->in_smm);
    ck_same(0, &before);
    CK_EQ(r32(0x5000), SMR_WORD);
    CK_EQ(r32(0x5008), RAM_WORD);
    CK_EQ(x86_code_size(tm.cpu[0]), 8);
    run_to_hlt(0, 100);
    CK_EQ(r32(0x20004), VGA_WORD);
    CK_EQ(r32(0x20010), PGD_WORD);
    CK_EQ(tm.cpu[0]->regs[8], 0x1122334455667788ull);
}
END_TEST

/* SMBASE relocation: the first handler writes a new SMBASE at 0xFF00; the
 * next SMI enters at the new base, in SMRAM, and saves its map there. */
START_TEST(test_smbase_relocation)
{
    setup_real(0);
    LOAD(0x7000, real_main);
    LOAD(SMBASE0 + 0x8000, smm_relocate);
    LOAD(VGA_BASE + 0x8000, smm_read);   /* in SMRAM: RAM under the VGA window */
    CK_EQ(run(0, 12), X86_EXIT_QUANTUM);
    Snap before;
    snap(0, &before);

    smi_and_run(0, 3);
    ck_assert(!tm.cpu[0]->in_smm);
    CK_EQ(tm.cpu[0]->smbase, VGA_BASE);
    CK_EQ(r16(0x5012), 1);
    ck_same(0, &before);

    /* The next SMI: CS = 0xa000, code and save map in SMRAM. */
    memset(tm.mem + VGA_BASE + 0xfe00, 0, 0x200);
    smi_and_run(0, 1);
    ck_entry_state(0, VGA_BASE, 0x8007);   /* the code came from SMRAM, not VGA (zeros) */
    ck_map_common(VGA_BASE, &before);
    for (unsigned i = 0xfe00; i < 0x10000; i++) {
        ck_assert_msg(tm.vgamem[i] == 0, "VGA byte 0x%x written", i);
    }
    CK_EQ(run(0, 3), X86_EXIT_QUANTUM);
    ck_assert(!tm.cpu[0]->in_smm);
    CK_EQ(tm.cpu[0]->smbase, VGA_BASE);
    CK_EQ(r32(0x5000), SMR_WORD);
    CK_EQ(r16(0x5010), 1);
    ck_same(0, &before);
    run_to_hlt(0, 100);
    CK_EQ(r32(0x4004), VGA_WORD);

    /* INIT keeps SMBASE; RESET restores the default. */
    x86_cpu_init(tm.cpu[0]);
    CK_EQ(tm.cpu[0]->smbase, VGA_BASE);
    x86_cpu_reset(tm.cpu[0]);
    CK_EQ(tm.cpu[0]->smbase, SMBASE0);
}
END_TEST

/* Code at one linear address, VGA outside SMM and SMRAM inside: neither the
 * TLB nor the jump cache (keyed by linear PC, code size and MMU index) lets
 * one mode run the other's code. */
START_TEST(test_smm_code_not_served_from_vga)
{
    setup_real(0);
    tm.cpu[0]->smbase = VGA_BASE;             /* as if relocated: entry at 0xa8000 */
    LOAD(0x7000, real_vga_call);
    put_vga(0x8000, vga_code, sizeof(vga_code));
    LOAD(VGA_BASE + 0x8000, smm_read);        /* SMRAM */
    /* Far calls to a800:0000 (VGA) and back, twice: the second finds its block
     * in the code cache and leaves it in the jump cache. */
    CK_EQ(run(0, 6), X86_EXIT_QUANTUM);
    CK_EQ(tm.cpu[0]->rip, REAL_VGA_CALL_smi);
    CK_EQ(r16(0x4010), 0x1111);
    Snap before;
    snap(0, &before);

    /* No memory write between the two (smi_and_run's would reset the jump cache). */
    x86_cpu_raise_smi(tm.cpu[0]);
    CK_EQ(run(0, 1), X86_EXIT_QUANTUM);       /* a800:8000 -> 0xa8000: SMRAM's code */
    ck_entry_state(0, VGA_BASE, 0x8007);
    CK_EQ(run(0, 3), X86_EXIT_QUANTUM);
    ck_assert(!tm.cpu[0]->in_smm);
    ck_same(0, &before);
    CK_EQ(r16(0x5010), 1);

    run_to_hlt(0, 100);                       /* and VGA's code again outside SMM */
    CK_EQ(r16(0x4010), 0x1111);
    CK_EQ(r16(0x5010), 1);
}
END_TEST

/* An SMI raised in SMM is latched and taken right after RSM, once. */
START_TEST(test_smi_latched_in_smm)
{
    setup_real(0);
    LOAD(0x7000, real_main);
    LOAD(SMBASE0 + 0x8000, smm_read);
    CK_EQ(run(0, 12), X86_EXIT_QUANTUM);
    Snap before;
    snap(0, &before);

    smi_and_run(0, 1);
    x86_cpu_raise_smi(tm.cpu[0]);          /* while in SMM */
    CK_EQ(run(0, 1), X86_EXIT_QUANTUM);    /* the handler goes on */
    ck_assert(tm.cpu[0]->in_smm);
    ck_assert(tm.cpu[0]->smi_pending);
    CK_EQ(tm.cpu[0]->rip, 0x800b);
    CK_EQ(tm.entries[0], 1);
    CK_EQ(run(0, 2), X86_EXIT_QUANTUM);    /* INC, RSM */
    ck_assert(!tm.cpu[0]->in_smm);
    ck_assert(tm.cpu[0]->smi_pending);
    ck_same(0, &before);

    /* The next boundary takes it: no instruction of the program runs first. */
    w32(MAP(SMBASE0, 0xff78), 0);
    CK_EQ(run(0, 1), X86_EXIT_QUANTUM);
    ck_entry_state(0, SMBASE0, 0x8007);
    ck_assert(!tm.cpu[0]->smi_pending);
    CK_EQ(r64(MAP(SMBASE0, 0xff78)), REAL_MAIN_smi);
    CK_EQ(run(0, 3), X86_EXIT_QUANTUM);
    ck_assert(!tm.cpu[0]->in_smm);
    ck_same(0, &before);
    CK_EQ(r16(0x5010), 2);
    run_to_hlt(0, 100);
    CK_EQ(tm.entries[0], 2);
    CK_EQ(tm.exits[0], 2);
    CK_EQ(r16(0x5010), 2);
}
END_TEST

/* NMIs are held in SMM and delivered after RSM. */
START_TEST(test_nmi_blocked_in_smm)
{
    setup_real(0);
    LOAD(0x7000, real_main);
    LOAD(SMBASE0 + 0x8000, smm_read);
    CK_EQ(run(0, 12), X86_EXIT_QUANTUM);
    smi_and_run(0, 1);
    tm.cpu[0]->nmi_pending = true;
    CK_EQ(run(0, 2), X86_EXIT_QUANTUM);
    ck_assert(tm.cpu[0]->in_smm);
    ck_assert(tm.cpu[0]->nmi_pending);
    CK_EQ(r16(VEC), 0xffff);
    CK_EQ(run(0, 1), X86_EXIT_QUANTUM);    /* RSM */
    ck_assert(!tm.cpu[0]->in_smm);
    run_to_hlt(0, 100);                    /* NMI at once: the vector 2 stub halts */
    CK_EQ(r16(VEC), 2);
    CK_EQ(r16(0x9000 - 6), REAL_MAIN_smi); /* the NMI frame's IP: the interrupted program */
}
END_TEST

START_TEST(test_rsm_outside_smm_is_ud)
{
    setup_real(0);
    LOAD(0x7000, real_rsm);
    run_to_hlt(0, 100);
    CK_EQ(r16(VEC), 6);
    ck_assert(!tm.cpu[0]->in_smm);
    CK_EQ(tm.entries[0] + tm.exits[0], 0);
}
END_TEST

/* An invalid saved state (CR0.PG without PE) shuts the CPU down at RSM. */
START_TEST(test_rsm_invalid_state_shutdown)
{
    setup_real(0);
    LOAD(0x7000, real_main);
    LOAD(SMBASE0 + 0x8000, smm_bad_cr0);
    CK_EQ(run(0, 12), X86_EXIT_QUANTUM);
    x86_cpu_raise_smi(tm.cpu[0]);
    CK_EQ(run(0, 10), X86_EXIT_SHUTDOWN);
    ck_assert(tm.cpu[0]->in_smm);
    CK_EQ(tm.cpu[0]->rip, 0x800a);         /* at the RSM */
    CK_EQ(tm.exits[0], 0);
    /* RESET takes the CPU out of SMM and hides SMRAM again. */
    x86_cpu_reset(tm.cpu[0]);
    ck_assert(!tm.cpu[0]->in_smm);
    ck_assert(!cpu_view_smram_visible(tm.view[0]));
    CK_EQ(tm.exits[0], 1);
}
END_TEST

/* An SMI wakes a halted CPU; RSM halts again unless the handler clears the
 * auto-halt restart byte (FEC9h), in which case it resumes after the HLT. */
START_TEST(test_smi_wakes_hlt)
{
    setup_real(0);
    LOAD(0x7000, real_hlt);
    LOAD(SMBASE0 + 0x8000, smm_read);
    run_to_hlt(0, 10);
    CK_EQ(tm.cpu[0]->rip, 0x7001);
    x86_cpu_raise_smi(tm.cpu[0]);
    CK_EQ(run(0, 10), X86_EXIT_HALTED);    /* SMM, handler, RSM, halted again */
    ck_assert(tm.cpu[0]->halted);
    ck_assert(!tm.cpu[0]->in_smm);
    CK_EQ(tm.cpu[0]->rip, 0x7001);
    CK_EQ(tm.mem[MAP(SMBASE0, 0xfec9)], 1);
    CK_EQ(r16(0x5010), 1);
    CK_EQ(r16(0x4008), 0);

    LOAD(SMBASE0 + 0x8000, smm_unhalt);
    x86_cpu_raise_smi(tm.cpu[0]);
    CK_EQ(run(0, 10), X86_EXIT_HALTED);    /* ... RSM resumes after the first HLT */
    CK_EQ(r16(0x4008), 0x1234);
    CK_EQ(tm.cpu[0]->rip, 0x7008);
    CK_EQ(tm.entries[0], 2);
}
END_TEST

/* A write to the APM port: SMM before the next instruction. */
START_TEST(test_apm_port_smi_is_synchronous)
{
    setup_real(0);
    LOAD(0x7000, real_apm);
    LOAD(SMBASE0 + 0x8000, smm_read);
    tm.apm_target = 0;
    run_to_hlt(0, 100);
    CK_EQ(tm.cpu[0]->regs[R_BX] & 0xffffffffu, SMR_WORD);  /* read after the handler ran */
    CK_EQ(r64(MAP(SMBASE0, 0xff78)), 0x7004);              /* right after the OUT */
    CK_EQ(r16(0x5010), 1);
    CK_EQ(tm.entries[0], 1);
}
END_TEST

/* CPU 0 sends an SMI to CPU 1 (as an APIC IPI would): CPU 1 takes it on its
 * next turn, CPU 0 never enters SMM. */
START_TEST(test_smi_to_other_cpu)
{
    setup_real(0);
    setup_real(1);
    LOAD(0x7000, real_apm);
    LOAD(0x7800, real_spin);
    LOAD(SMBASE0 + 0x8000, smm_read);
    tm.cpu[1]->rip = 0x7800;
    tm.apm_target = 1;
    run_to_hlt(0, 100);
    CK_EQ(tm.cpu[0]->regs[R_BX], 0);       /* no handler ran on CPU 0 */
    CK_EQ(tm.entries[0], 0);
    ck_assert(tm.cpu[1]->smi_pending);
    CK_EQ(run(1, 1), X86_EXIT_QUANTUM);
    ck_entry_state(1, SMBASE0, 0x8007);
    CK_EQ(run(1, 3), X86_EXIT_QUANTUM);
    ck_assert(!tm.cpu[1]->in_smm);
    CK_EQ(tm.cpu[1]->rip, 0x7800);
    CK_EQ(r16(0x5010), 1);
}
END_TEST

/* Two CPUs, round-robin: CPU 1 in SMM reads and writes SMRAM at 0xa0000
 * while CPU 0, at the same moment, reads VGA there. */
START_TEST(test_two_cpus_see_their_own_memory)
{
    setup_real(0);
    setup_real(1);
    LOAD(0x7000, real_cpu0_loop);
    LOAD(0x7800, real_spin);
    LOAD(SMBASE0 + 0x8000, smm_smram_write);
    tm.cpu[0]->segs[S_ES] = (X86Seg){ 0xa000, 0xa0000, 0xffff, X86_SEGA_P | X86_SEGA_S | 0x3 };
    tm.cpu[1]->rip = 0x7800;

    CK_EQ(run(0, 4), X86_EXIT_QUANTUM);
    CK_EQ(r32(0x4100), VGA_WORD);
    CK_EQ(run(1, 2), X86_EXIT_QUANTUM);    /* CPU 1 spins once */
    CK_EQ(r16(0x4200), 1);

    smi_and_run(1, 2);                     /* CPU 1: SMM, reads 0xa0000, stores */
    ck_assert(tm.cpu[1]->in_smm);
    CK_EQ(r32(0x5000), SMR_WORD);
    w32(0x4100, 0);
    CK_EQ(run(0, 5), X86_EXIT_QUANTUM);    /* CPU 0: VGA */
    CK_EQ(r32(0x4100), VGA_WORD);
    ck_assert(!cpu_view_smram_visible(tm.view[0]));
    ck_assert(cpu_view_smram_visible(tm.view[1]));

    CK_EQ(run(1, 1), X86_EXIT_QUANTUM);    /* CPU 1 writes SMRAM + 4 */
    CK_EQ(tm.mem[VGA_BASE + 4], 0x21);
    CK_EQ(tm.vgamem[4], 0);
    tm.mem[0x4104] = 0x77;
    CK_EQ(run(0, 5), X86_EXIT_QUANTUM);    /* CPU 0 reads VGA + 4 */
    CK_EQ(tm.mem[0x4104], 0);

    CK_EQ(run(1, 3), X86_EXIT_QUANTUM);    /* CPU 1 reads it back, RSM */
    CK_EQ(r32(0x5004) & 0xff, 0x21);
    ck_assert(!tm.cpu[1]->in_smm);
    ck_assert(!cpu_view_smram_visible(tm.view[1]));
    CK_EQ(tm.cpu[1]->rip, 0x7800);
    CK_EQ(run(1, 2), X86_EXIT_QUANTUM);
    CK_EQ(r16(0x4200), 2);
    CK_EQ(tm.entries[0] + tm.exits[0], 0);
    CK_EQ(tm.entries[1], 1);
    CK_EQ(tm.exits[1], 1);
}
END_TEST

static Suite *x86_smm_suite(void)
{
    Suite *s = suite_create("x86_smm");
    TCase *tc = tcase_create("smm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_smi_real_mode);
    tcase_add_test(tc, test_smi_pm32_paging);
    tcase_add_test(tc, test_smi_long_mode);
    tcase_add_test(tc, test_smbase_relocation);
    tcase_add_test(tc, test_smm_code_not_served_from_vga);
    tcase_add_test(tc, test_smi_latched_in_smm);
    tcase_add_test(tc, test_nmi_blocked_in_smm);
    tcase_add_test(tc, test_rsm_outside_smm_is_ud);
    tcase_add_test(tc, test_rsm_invalid_state_shutdown);
    tcase_add_test(tc, test_smi_wakes_hlt);
    tcase_add_test(tc, test_apm_port_smi_is_synchronous);
    tcase_add_test(tc, test_smi_to_other_cpu);
    tcase_add_test(tc, test_two_cpus_see_their_own_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    Suite *s = x86_smm_suite();
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
