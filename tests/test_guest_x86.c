/*
 * Guest-level tests of the x86 pc machine and `mmusim run`.
 *
 *  - "guests": the images of tests/guest/x86 (assembled at build time into
 *    MMUSIM_GUEST_DIR) run by the mmusim binary (MMUSIM_BINARY); exact
 *    serial output (stdout) and exit status. These are the CPU's
 *    specification: one that fails names what the CPU does not do yet.
 *  - "machine": stop conditions (halt, idle, limits, triple fault,
 *    debug-exit widths), SMP, serial backends, tracing, usage errors.
 *  - "loader": malformed kernels are refused with a message naming the file
 *    and the problem; in process, truncated and mutated images never crash
 *    the loader, and the multiboot information is laid out as specified.
 *  - "devices": the 16550A and debug-exit registers, in process.
 *  - "map": the pc machine's memory and I/O maps, in process (no execution).
 */
#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tests/guest_run.h"

#include "devices/debug_exit.h"
#include "devices/serial_16550.h"
#include "machines/multiboot.h"
#include "machines/pc.h"

#ifndef MMUSIM_BINARY
#error "MMUSIM_BINARY must name the mmusim binary"
#endif
#ifndef MMUSIM_GUEST_DIR
#error "MMUSIM_GUEST_DIR must name the directory of the assembled guest images"
#endif

/* Status of a guest that wrote v to the debug-exit port. */
#define DEBUG_STATUS(v) ((((v) << 1) | 1) & 0xff)
#define GUEST_OK DEBUG_STATUS(0x10)   /* 33: what every test image exits with */

/* --- Running the binary (tests/guest_run.h). --- */

/* `mmusim run --timeout 60 ARGS...` (a later --timeout wins). */
static const char *const run_prefix[] = { "run", "--timeout", "60", NULL };
#define RUN(...) guest_run(run_prefix, (const char *const[]){ __VA_ARGS__, NULL })

static char *image(const char *name)
{
    return g_build_filename(MMUSIM_GUEST_DIR, name, NULL);
}

/* Run a test image (a multiboot kernel) and check its exact output. */
static void check_guest(const char *name, const char *want)
{
    g_autofree char *path = image(name);
    Run r = RUN("--kernel", path);

    ASSERT_OUT(r, want);
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
}

/* --- The guest images. --- */

/* Issue 7: a guest programs the PCI DMA engine and the IOMMU. */
START_TEST(test_dma_iommu)
{
    check_guest("dma_iommu.bin",
                "pci-dma at 0:04.0\n"
                "BAR0 4 KiB at 0xe0010000\n"
                "copy without IOMMU: ok\n"
                "copy through IOMMU: ok\n"
                "permission fault: logged\n"
                "translation fault: logged\n"
                "IOTLB invalidation: ok\n"
                "completion interrupt: ok\n"
                "bus master disabled: copy refused\n"
                "dma_iommu done\n");
}
END_TEST

/* Global pages survive MOV CR3; INVLPG and a CR4.PGE toggle drop them. */
START_TEST(test_global_pages)
{
    check_guest("global.bin",
                "MOV CR3 keeps global pages\n"
                "INVLPG drops them\n"
                "CR4.PGE toggle flushes everything\n");
}
END_TEST

/* --mtree: each CPU's APIC page in its own root, SMRAM windows, the PCI
 * bus masters behind the IOMMU; nothing runs. */
START_TEST(test_mtree)
{
    Run r = RUN("--smp", "2", "--mtree");
    ASSERT_STATUS(r, 0);
    ASSERT_HAS(r.out, "(prio 2, mmio): apic.cpu1");
    ASSERT_HAS(r.out, "cpu1-smram @smram");
    ASSERT_HAS(r.out, "pci-testdev.bus-master @iommu-ref");
    ASSERT_HAS(r.out, "address-space: io");
    ck_assert_msg(strstr(r.err, "built-in ROM") == NULL, "no run, no ROM warning: %s", r.err);
    run_clear(&r);
}
END_TEST

START_TEST(test_hello)
{
    check_guest("hello.bin", "Hello from mmusim\n");
}
END_TEST

START_TEST(test_arith)
{
    check_guest("arith.bin",
                "sum(1..100)=5050\n"
                "sum of squares(1..10)=385\n"
                "10!=3628800\n"
                "0xdeadbeef*0x12345678=edx:0x0fd5bdee eax:0x5621ca08\n"
                "1000000007/12345=81004 rem 5627\n"
                "-100/7=-14 rem -2\n"
                "xor=0xcc99e897 and/or=0x31303031 rol=0x34567812 sar=0xf8000000 shr=0x08000000 "
                "not=0x7fffffff\n"
                "carry chain ok\n"
                "flags ok\n"
                "fib table[19]=6765 byte1=0x0000001a movsx=0xffff8001\n"
                "arith done\n");
}
END_TEST

START_TEST(test_stack)
{
    check_guest("stack.bin",
                "fib(20)=6765\n"
                "stdcall 35-7=28\n"
                "enter/leave triangle(6)=21\n"
                "pushad/popad/pushfd/popfd ok\n"
                "indirect calls=111\n"
                "top of stack=0xcafef00d\n"
                "stack done\n");
}
END_TEST

START_TEST(test_idt)
{
    check_guest("idt.bin",
                "cs=0x00000008\n"
                "int 0x80: eax=41\n"
                "int 0x80: frame ok, IF clear in the handler\n"
                "int 0x80 returned eax=42\n"
                "int 0x81: trap gate, IF still set\n"
                "#BP: saved eip is after int3\n"
                "idt done\n");
}
END_TEST

/* Hardware task switches (SDM Vol. 3A ch. 7): JMP to a TSS and back, CALL
 * through a task gate and IRET (NT, link, busy bits), INT n and faults
 * through IDT task gates (error code on the new stack, EIP saved in the old
 * TSS), busy TSS (#GP), small TSS (#TS), #DF through a task gate, CALL to
 * a 16-bit TSS and IRET back, the T flag's #DB. */
START_TEST(test_taskswitch)
{
    check_guest("taskswitch.bin",
                "task A: eax=0x00001111 tr=0x00000020 main=0x00000089 A=0x0000008b NT=0 TS=1\n"
                "back in main: ebx=0x00005a5a main=0x0000008b A=0x00000089\n"
                "task B: NT=1 link=0x00000018 main=0x0000008b B=0x0000008b\n"
                "iret back: main=0x0000008b B=0x00000089 NT=0 B.eax=0x0000bbbb B.NT=0\n"
                "task D: NT=1\n"
                "int 0x40 via task gate: link=0x00000018 D=0x00000089\n"
                "#GP via task gate: err=0x00000ff8 link=0x00000018\n"
                "busy TSS: err=0x00000018\n"
                "small TSS: err=0x00000040 small=0x00000089\n"
                "#DF via task gate: err=0x00000000\n"
                "16-bit task: eax=0xabcd1616 tr=0x00000050 NT=1 T16=0x00000083\n"
                "iret from 16-bit task: T16=0x00000081 link=0x00000018 FLAGS.NT=0\n"
                "T flag: #DB count=1 before task TT ran=1 DR6.BT=1 tr=0x00000068\n"
                "esi kept=0x12345678\n"
                "tr=0x00000018\n"
                "taskswitch done\n");
}
END_TEST

START_TEST(test_divide_error)
{
    check_guest("de.bin",
                "#DE: saved eip is the faulting division\n"
                "after division by zero\n"
                "#DE: saved eip is the faulting division\n"
                "after quotient overflow\n"
                "#DE: saved eip is the faulting division\n"
                "after idiv overflow\n"
                "100/7=14\n"
                "#DE count=3\n");
}
END_TEST

START_TEST(test_paging)
{
    check_guest("paging.bin",
                "paging on\n"
                "#PF cr2=0x40000000 err=0x00000002\n"
                "read 0x12345678 phys 0x12345678\n"
                "#PF cr2=0x40001000 err=0x00000000\n"
                "read 0x00000000\n"
                "#PF cr2=0x50000000 err=0x00000003\n"
                "write ok, read 0xabcdef01\n"
                "accessed and dirty set\n"
                "#PF cr2=0x40000000 err=0x00000000\n"
                "after invlpg read 0x00000000\n"
                "paging done\n");
}
END_TEST

START_TEST(test_self_modifying_code)
{
    check_guest("smc.bin",
                "before patch 0x11111111\n"
                "after patch 0x22222222\n"
                "next instruction 0x00000033\n"
                "loop sum 15\n"
                "generated 0x0badf00d regenerated 0x600dc0de\n"
                "smc done\n");
}
END_TEST

START_TEST(test_elf_kernel)
{
    check_guest("elf.bin",
                "Hello from an ELF kernel\n"
                "data segment ok\n"
                "bss is zero\n");
}
END_TEST

START_TEST(test_bios_real_mode)
{
    g_autofree char *rom = image("bios_rm.bin");
    Run r = RUN("--bios", rom);

    ASSERT_OUT(r, "real mode\n"
                  "segments ok\n"
                  "int 0x21 in real mode\n"
                  "protected mode\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
}
END_TEST

/* 64-bit mode from the multiboot state: arithmetic, RIP-relative operands,
 * the 64-bit IDT (#PF, #GP, #SS, INT3 on an IST stack), 4-level paging
 * faults, SWAPGS, SYSRET/SYSCALL, CPUID's LM bit. */
START_TEST(test_long_mode)
{
    check_guest("longmode.bin",
                "32-bit protected mode\n"
                "compatibility mode: efer=0x00000500\n"
                "64-bit mode: cs=0x0018 call pushes 8 bytes\n"
                "add r8, r9 = 0x2222222222222211\n"
                "mul: rdx=0x000000000000000f rax=0xedcba98765432100\n"
                "imul r12, r13 = 0x8000000000000003 div: q=0x0000000047500000 "
                "r=0x00000002fdbcdef0\n"
                "mov eax: 0x0000000089abcdef mov cx: 0xffffffffffff1234\n"
                "movsxd: 0xffffffff80000000 bswap: 0x0807060504030201 sar: 0xfffffffffffffffe\n"
                "rip-relative: 0x11223355cafef00d\n"
                "#PF cr2=0x00007f8000001234 err=0x00000002\n"
                "after #PF: physical 0x600dd00d\n"
                "#GP err=0x00000000, saved rip = the faulting instruction\n"
                "#SS err=0x00000000, saved rip = the faulting instruction\n"
                "1 GiB page: 0x10000000000 + marker reads 0x4d41524b4d41524b\n"
                "read through a PML4E with PS set:\n"
                "#PF cr2=0x0000008000000000 err=0x00000009\n"
                "write to a 1 GiB page with bit 13 set:\n"
                "#PF cr2=0x0000010080000000 err=0x0000000b\n"
                "call into an XD page (EFER.NXE=1):\n"
                "#PF cr2=0x0000010040100000 err=0x00000011\n"
                "the XD page reads 0x1badb002\n"
                "int3 on IST1: ist1-rsp=48 rsp%16=8 ss=0x0010\n"
                "int3 frame: rip after int3, cs, old rsp, ss\n"
                "int3 returned\n"
                "swapgs exchanged GS_BASE and KERNEL_GS_BASE\n"
                "user mode: cs=0x003b ss=0x0033 rflags=0x00003202\n"
                "user mode reads a supervisor 1 GiB page:\n"
                "#PF cr2=0x0000010000100000 err=0x00000005 from cpl 3: handler ss=0x0000 "
                "rsp=rsp0-48 saved ss=0x0033\n"
                "syscall: cs=0x0018 ss=0x0020 rflags=0x00003002 r11=0x00003602\n"
                "syscall: rcx=return address, r11=user rflags, rsp kept, gs=kernel\n"
                "back in user mode: rax=42\n"
                "back in the kernel for good: cs=0x0018\n"
                "cpuid 0x80000001: edx.lm=1\n"
                "long mode done\n");
}
END_TEST

/* PAE paging: 2 MiB and 4 KiB pages, XD (reserved without EFER.NXE, I/D in
 * the error code with it), reserved bits, CR0.WP, the PDPTE registers. */
START_TEST(test_pae_paging)
{
    check_guest("pae.bin",
                "PAE paging on\n"
                "2M page: 0x40012344 -> 0x00412344 reads 0xa5a5a5a5\n"
                "4K page: 0x40200020 -> frame + 0x20 reads 0x5a5a5a5a\n"
                "read with XD set and EFER.NXE=0:\n"
                "#PF cr2=0x40204000 err=0x00000009\n"
                "EFER.NXE=1: the same page reads\n"
                "call into an XD page:\n"
                "#PF cr2=0x40201000 err=0x00000011\n"
                "the XD page reads 0x000000b8\n"
                "XD cleared: call returns 0x600dc0de\n"
                "XD set again (INVLPG), call the code that just ran:\n"
                "#PF cr2=0x40201000 err=0x00000011\n"
                "read through a PTE with bit 45 set:\n"
                "#PF cr2=0x40202000 err=0x00000009\n"
                "write through a 2M PDE with bit 13 set:\n"
                "#PF cr2=0x40400000 err=0x0000000b\n"
                "supervisor write to a read-only page, CR0.WP=1:\n"
                "#PF cr2=0x40203000 err=0x00000003\n"
                "CR0.WP=0: the write lands: 0x00001234 pte A/D=0x00000060\n"
                "PDPT[2] made present in memory, CR3 not reloaded:\n"
                "#PF cr2=0x80012344 err=0x00000000\n"
                "after MOV CR3: 0x80012344 reads 0xa5a5a5a5\n"
                "MOV CR3 with a PDPTE that sets R/W (reserved):\n"
                "#GP err=0x00000000\n"
                "CR3 unchanged\n"
                "pae done\n");
}
END_TEST

/* 32-bit paging with 4 MiB pages; CPL 3 through IRET with a TSS: U/S
 * faults, INT 0x80 on a DPL 3 trap gate, back to ring 0 by a call gate. */
START_TEST(test_paging32_user)
{
    check_guest("paging32.bin",
                "32-bit paging with 4 MiB pages on\n"
                "0x80000000 + marker reads 0x4d41524b\n"
                "4 MiB PDE A/D=0x00000060\n"
                "ring 0 ran code in the supervisor page\n"
                "ring 0 wrote the read-only user page (CR0.WP=0)\n"
                "ring 3: cs=0x0000001b ss=0x00000023 ds,es after iret=0x00000000,0x00000000\n"
                "ring 3 reads a supervisor page:\n"
                "#PF cr2=0x00400000 err=0x00000005 from cs=0x0000001b, handler esp=esp0-24\n"
                "ring 3 writes a supervisor page:\n"
                "#PF cr2=0x00400000 err=0x00000007 from cs=0x0000001b, handler esp=esp0-24\n"
                "ring 3 writes a read-only user page:\n"
                "#PF cr2=0x00800000 err=0x00000007 from cs=0x0000001b, handler esp=esp0-24\n"
                "ring 3 calls the code ring 0 ran in the supervisor page:\n"
                "#PF cr2=0x00400000 err=0x00000005 from cs=0x0000001b, handler esp=esp0-24\n"
                "ring 3 reads the read-only user page: 0x00000077\n"
                "int 0x80 at cpl 0: ss=0x00000010 esp=esp0-20, saved ss=0x00000023 esp=user esp, "
                "cs=0x0000001b\n"
                "int 0x80 returned 42\n"
                "call gate: cs=0x00000008 ss=0x00000010 esp=esp0-16, caller cs=0x0000001b "
                "ss=0x00000023\n"
                "ring 0 writes the read-only user page, CR0.WP=1:\n"
                "#PF cr2=0x00800000 err=0x00000003 from cs=0x00000008\n"
                "paging32 done\n");
}
END_TEST

/* From the reset vector through every mode and back to real mode, a #UD
 * in each (IVT, 32-bit IDT, 64-bit IDT) and a #DF in protected mode. */
START_TEST(test_bios_modes)
{
    g_autofree char *rom = image("modes.bin");
    Run r = RUN("--bios", rom);

    ASSERT_OUT(r, "real mode: cs=0xf000 push=2 cr0.pe=0\n"
                  "#UD through the IVT from cs=0xf000: saved ip points at ud2\n"
                  "after #UD in real mode\n"
                  "protected mode, 16-bit code: cs=0x0008 push=2 cr0.pe=1\n"
                  "#UD through a 32-bit IDT gate from cs=0x0008: saved eip points at ud2\n"
                  "after #UD in 16-bit protected mode\n"
                  "protected mode, 32-bit code: cs=0x0018 push=4\n"
                  "#UD through a 32-bit IDT gate from cs=0x0018: saved eip points at ud2\n"
                  "after #UD in 32-bit protected mode\n"
                  "#GP (selector beyond the GDT limit) with the #GP gate not present:\n"
                  "#DF through vector 8: error code=0x00000000\n"
                  "paging on with EFER.LME: efer=0x00000500\n"
                  "64-bit mode: cs=0x0028 push=8\n"
                  "#UD through a 64-bit IDT gate from cs=0x0028: saved rip points at ud2\n"
                  "after #UD in 64-bit mode\n"
                  "compatibility mode: cs=0x0018 push=4 efer=0x00000500\n"
                  "#UD through a 64-bit IDT gate from cs=0x0018: saved rip points at ud2\n"
                  "after #UD in compatibility mode\n"
                  "protected mode, 32-bit code, paging off: efer=0x00000000\n"
                  "#UD through a 32-bit IDT gate from cs=0x0018: saved eip points at ud2\n"
                  "after #UD in 32-bit protected mode\n"
                  "real mode again: cs=0xf000 push=2 cr0.pe=0\n"
                  "#UD through the IVT from cs=0xf000: saved ip points at ud2\n"
                  "after #UD in real mode\n"
                  "modes done\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
}
END_TEST

/* Self-modifying code: stores just ahead in the same block, a
 * page-straddling instruction, REP MOVSB over a running loop, paging
 * aliases of one physical page. */
START_TEST(test_self_modifying_code_hard)
{
    check_guest("smc2.bin",
                "next opcode rewritten (inc -> dec): eax=0xffffffff\n"
                "dword store over the next two instructions: al|bl=0x00000000\n"
                "add: cl=0x00000006 xchg: dh=0x00000009 stosb: ch=0x00000077\n"
                "push over the next instructions: al|bl=0x00000000\n"
                "three instructions ahead: al=0x00000042\n"
                "page-straddling instruction: 0x11111111 0x22111111 0x22111133\n"
                "rep movsb over the loop tail (fresh buffer): ebx=0x00000300\n"
                "rep stosb turned the next instructions into nops\n"
                "written at W, run at X: 0x11111111 patched at W: 0x22222222\n"
                "patched at the physical address: X 0x33333333, identity 0x33333333\n"
                "eip seen at X 0x80001100, at W 0x80000100, at identity frame+0x00000100\n"
                "store through W to the next instruction at X: al=0x00000077, again 0x00000077\n"
                "rep movsb over the loop tail at X: ebx=0x00000300\n"
                "X remapped to another frame: 0x44444444\n"
                "X mapped back, CR3 reloaded: 0x33333333\n"
                "smc2 done\n");
}
END_TEST

/* --- SMP, per-CPU APICs, SMM (the pc machine's APIC and chipset). --- */

/* apic_ids with --smp n: the fw_cfg line, the BSP's line, one line per AP
 * in any order (they race for the print lock), then the BSP's summary. */
static void check_apic_ids(unsigned n)
{
    g_autofree char *path = image("apic_ids.bin");
    g_autofree char *smp = g_strdup_printf("%u", n);
    Run r = RUN("--kernel", path, "--smp", smp);
    g_auto(GStrv) lines = g_strsplit(r.out, "\n", -1);
    guint count = g_strv_length(lines);
    g_autofree char *first = g_strdup_printf("fw_cfg: QEMU, %u CPUs", n);
    g_autofree char *last = g_strdup_printf("all %u CPUs reported", n);

    ASSERT_STATUS(r, GUEST_OK);
    /* n + 2 lines, then the empty string after the last newline. */
    ck_assert_msg(count == n + 3 && !*lines[count - 1], "want %u lines, got:\n%.3000s",
                  n + 2, r.out);
    ck_assert_str_eq(lines[0], first);
    ck_assert_str_eq(lines[1], "APIC ID 0: ID register 0x00000000, CPUID initial ID 0, BSP, "
                               "IA32_APIC_BASE 0xfee00900");
    ck_assert_str_eq(lines[n + 1], last);
    /* Each AP's line once among the n - 1 lines in between. */
    for (unsigned i = 1; i < n; i++) {
        g_autofree char *want = g_strdup_printf(
            "APIC ID %u: ID register 0x%08x, CPUID initial ID %u, AP, IA32_APIC_BASE 0xfee00800",
            i, i << 24, i);
        bool found = false;

        for (unsigned j = 2; j <= n; j++) {
            found |= strcmp(lines[j], want) == 0;
        }
        ck_assert_msg(found, "missing \"%s\" in:\n%.3000s", want, r.out);
    }
    run_clear(&r);
}

/* INIT-SIPI-SIPI through a real-mode trampoline; every CPU reads its own
 * APIC at 0xfee00020; fw_cfg gives the CPU count. */
START_TEST(test_apic_ids)
{
    check_apic_ids(4);
    check_apic_ids(8);
    check_apic_ids(1);
    check_apic_ids(2);
    check_apic_ids(13);
}
END_TEST

/* One CPU moves, disables and re-enables its APIC page; the others keep
 * theirs and see RAM where CPU 2's page went. */
START_TEST(test_apic_relocate)
{
    g_autofree char *path = image("apic_relocate.bin");
    Run r = RUN("--kernel", path, "--smp", "4");

    ASSERT_OUT(r, "fw_cfg: 4 CPUs\n"
                  "cpu2: before: IA32_APIC_BASE 0xfee00800, CPUID.1:EDX.APIC=1\n"
                  "cpu2: after WRMSR: IA32_APIC_BASE 0x00800800, CPUID.1:EDX.APIC=1\n"
                  "cpu2: [NEW_BASE+0x20]=0x02000000 [0xfee00020]=0xffffffff\n"
                  "cpu0: [NEW_BASE+0x20]=0x5a5a5a5a [0xfee00020]=0x00000000\n"
                  "cpu1: [NEW_BASE+0x20]=0x5a5a5a5a [0xfee00020]=0x01000000\n"
                  "cpu3: [NEW_BASE+0x20]=0x5a5a5a5a [0xfee00020]=0x03000000\n"
                  "cpu2: disabled: IA32_APIC_BASE 0x00800000, CPUID.1:EDX.APIC=0\n"
                  "cpu2: [NEW_BASE+0x20]=0x5a5a5a5a [0xfee00020]=0xffffffff\n"
                  "cpu2: enabled again: IA32_APIC_BASE 0xfee00800, CPUID.1:EDX.APIC=1\n"
                  "cpu2: [NEW_BASE+0x20]=0x5a5a5a5a [0xfee00020]=0x02000000\n"
                  "apic_relocate done\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);

    /* Too few CPUs: the image says so. */
    r = RUN("--kernel", path, "--smp", "2");
    ASSERT_HAS(r.out, "FAIL: apic_relocate needs --smp 3 or more");
    ASSERT_STATUS(r, DEBUG_STATUS(0x11));
    run_clear(&r);
}
END_TEST

/* SMRAM control (G_SMRAME, D_OPEN, D_LCK), SMIs from the APM port, SMRAM
 * over the VGA window in SMM only, SMBASE relocated into SMRAM. */
START_TEST(test_smm)
{
    g_autofree char *path = image("smm.bin");
    static const char *smps[] = { "1", "2" };

    for (size_t i = 0; i < G_N_ELEMENTS(smps); i++) {
        Run r = RUN("--kernel", path, "--smp", smps[i]);

        ASSERT_OUT(r, "host bridge 0:0.0 id=0x12378086, 0:1.0 id=0xffffffff\n"
                      "SMRAM control=0x00000002\n"
                      "open SMRAM (G_SMRAME|D_OPEN):\n"
                      "SMRAM control=0x0000004a\n"
                      "0xa0000 reads 0x00000000\n"
                      "0xa0000 reads 0x41524d53\n"
                      "close SMRAM (G_SMRAME):\n"
                      "SMRAM control=0x0000000a\n"
                      "0xa0000 reads 0x21414756\n"
                      "SMI through APM control (0xb2):\n"
                      "handler 1 ran 1x: 0xa0000 in SMM=0x41524d53 revision=0x00020064 "
                      "SMBASE=0x00030000 APMC=0x0000005a\n"
                      "after RSM: 0xa0000 reads 0x21414756\n"
                      "second SMI (SMBASE now 0xa0000, handler in SMRAM):\n"
                      "handler 2 ran 1x: cs=0x0000a000 0xa0000 in SMM=0x41524d53\n"
                      "after RSM: 0xa0000 reads 0x21414756\n"
                      "lock (G_SMRAME|D_LCK), then try D_OPEN:\n"
                      "SMRAM control=0x0000001a\n"
                      "SMRAM control=0x0000001a\n"
                      "0xa0000 reads 0x21414756\n"
                      "handler 2 ran 2x: cs=0x0000a000 0xa0000 in SMM=0x41524d53\n"
                      "APM status (0xb3) reads 0x000000a5\n"
                      "smm done\n");
        ASSERT_STATUS(r, GUEST_OK);
        run_clear(&r);
    }
}
END_TEST

/* Run a multi-CPU image with --smp n: exact output, exit status 33. */
static void check_guest_smp(const char *name, unsigned n, const char *want)
{
    g_autofree char *path = image(name);
    g_autofree char *smp = g_strdup_printf("%u", n);
    Run r = RUN("--kernel", path, "--smp", smp);

    ASSERT_OUT(r, want);
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
}

/* The image refuses to run with too few CPUs, and says so. */
static void check_guest_too_few(const char *name, const char *smp)
{
    g_autofree char *path = image(name);
    Run r = RUN("--kernel", path, "--smp", smp);

    ASSERT_HAS(r.out, "FAIL: not enough CPUs for this image (see its --smp)");
    ASSERT_STATUS(r, DEBUG_STATUS(0x11));
    run_clear(&r);
}

/* One CPU clears IA32_APIC_BASE.EN: 0xfee00000 is unassigned for it
 * (all-ones, writes vanish) while the others keep their APIC; EN again
 * brings the page back in its power-up state (SVR 0xff). */
START_TEST(test_apic_disable)
{
    check_guest_smp("apic_disable.bin", 3,
                    "fw_cfg: 3 CPUs\n"
                    "cpu0: [0xfee00020]=0x00000000\n"
                    "cpu1: disabled: IA32_APIC_BASE 0xfee00000, CPUID.1:EDX.APIC=0\n"
                    "cpu1: [0xfee00020]=0xffffffff [0xfee000f0]=0xffffffff\n"
                    "cpu1: wrote 0x12345678 to 0xfee00080, reads 0xffffffff\n"
                    "cpu0: [0xfee00020]=0x00000000\n"
                    "cpu2: [0xfee00020]=0x02000000\n"
                    "cpu1: enabled again: IA32_APIC_BASE 0xfee00800, CPUID.1:EDX.APIC=1\n"
                    "cpu1: [0xfee00020]=0x01000000 SVR=0x000000ff TPR=0x00000000\n"
                    "cpu0: [0xfee00020]=0x00000000\n"
                    "apic_disable done\n");
    check_guest_too_few("apic_disable.bin", "2");
}
END_TEST

/* Fixed physical, all-excluding-self and logical flat IPIs with EOI, TPR
 * holding a class in IRR, one-shot and periodic APIC timer measured with
 * RDTSC on the virtual clock (exact periods). */
static const char apic_ipi_tail[] =
    "cpu1: TPR=0x00000050 PPR=0x00000050\n"
    "TPR 0x50 on cpu1: 0x55 taken 0x, 0x65 taken 1x\n"
    "cpu1: IRR bit 0x55=1\n"
    "cpu1: TPR=0x40: 0x55 taken 1x, IRR bit 0x55=0, ISR bit 0x55=0\n"
    "one-shot, divide by 2, count 1000: 1 tick after 20005 ns (expected 20000 + entry), "
    "current count 0\n"
    "periodic, divide by 8, count 250: periods 20000 20000 20000 20000 20000 ns "
    "(expected 20000)\n"
    "apic_ipi done\n";

START_TEST(test_apic_ipi)
{
    g_autofree char *want3 = g_strconcat(
        "fw_cfg: 3 CPUs\n"
        "fixed 0x40 to APIC ID 1: cpu0=0 cpu1=1 cpu2=0\n"
        "0x41 to all excluding self: cpu0=0 cpu1=1 cpu2=1\n"
        "cpu0: DFR=0xffffffff LDR=0x01000000\n"
        "0x42 logical to MDA 0x04, 0x06, 0x07: cpu0=1 cpu1=2 cpu2=3\n",
        apic_ipi_tail, NULL);
    g_autofree char *want4 = g_strconcat(
        "fw_cfg: 4 CPUs\n"
        "fixed 0x40 to APIC ID 1: cpu0=0 cpu1=1 cpu2=0 cpu3=0\n"
        "0x41 to all excluding self: cpu0=0 cpu1=1 cpu2=1 cpu3=1\n"
        "cpu0: DFR=0xffffffff LDR=0x01000000\n"
        "0x42 logical to MDA 0x04, 0x06, 0x07: cpu0=1 cpu1=2 cpu2=3 cpu3=0\n",
        apic_ipi_tail, NULL);

    check_guest_smp("apic_ipi.bin", 3, want3);
    check_guest_smp("apic_ipi.bin", 4, want4);
    check_guest_too_few("apic_ipi.bin", "2");
}
END_TEST

/* SMBASE relocation on each CPU (SMI IPIs, one at a time), then two APM
 * SMIs that every CPU takes at once in its own relocated handler; the APs
 * run on afterwards with their registers intact. */
static char *smm_smp_want(unsigned n)
{
    GString *w = g_string_new(NULL);

    g_string_append_printf(w, "fw_cfg: %u CPUs\n", n);
    for (unsigned i = 0; i < n; i++) {
        g_string_append_printf(w, "cpu%u: SMI IPI: SMBASE 0x00030000 -> 0x%08x, 1 SMI\n", i,
                               0x400000u + i * 0x10000u);
    }
    for (unsigned round = 1; round <= 2; round++) {
        g_string_append_printf(w, "APM SMI round %u:\n", round);
        for (unsigned i = 0; i < n; i++) {
            unsigned base = 0x400000u + i * 0x10000u;

            g_string_append_printf(w,
                                   "  cpu%u: handler at SMBASE 0x%08x, map SMBASE 0x%08x, "
                                   "APMC 0x%08x, SMIs %u, met %u CPUs in SMM\n",
                                   i, base, base, 0x40u + round, round, n);
        }
    }
    for (unsigned i = 1; i < n; i++) {
        g_string_append_printf(w, "cpu%u: running after the SMIs, registers intact, "
                                  "protected mode\n", i);
    }
    g_string_append(w, "smm_smp done\n");
    return g_string_free(w, FALSE);
}

START_TEST(test_smm_smp)
{
    static const unsigned smps[] = { 2, 3, 4 };

    for (size_t i = 0; i < G_N_ELEMENTS(smps); i++) {
        g_autofree char *want = smm_smp_want(smps[i]);

        check_guest_smp("smm_smp.bin", smps[i], want);
    }
    check_guest_too_few("smm_smp.bin", "1");
}
END_TEST

/* SMRAM visibility per CPU: D_OPEN shows SMRAM to every CPU; closed, only
 * a CPU in SMM sees it (another CPU at the same time sees VGA); D_LCK
 * keeps D_OPEN (and itself) from being changed. */
static char *smram_smp_want(unsigned n)
{
    GString *w = g_string_new(NULL);
    const char *vga = "0x21414756", *smram = "0x41524d53";

#define LOOKS(what)                                                              \
    for (unsigned i = 0; i < n; i++) {                                           \
        g_string_append_printf(w, "  cpu%u reads %s\n", i, (what));              \
    }
#define SMIS()                                                                   \
    for (unsigned i = 0; i < n; i++) {                                           \
        g_string_append_printf(w, "  SMI on cpu%u: 0xa0000 in SMM reads %s\n", i, smram); \
    }
    g_string_append_printf(w, "fw_cfg: %u CPUs\n", n);
    g_string_append(w, "SMRAM control=0x00000002\n"
                       "open (G_SMRAME|D_OPEN), write the SMRAM marker:\n"
                       "SMRAM control=0x0000004a\n");
    LOOKS(smram);
    g_string_append(w, "close (G_SMRAME):\n"
                       "SMRAM control=0x0000000a\n");
    LOOKS(vga);
    SMIS();
    g_string_append(w, "SMI to cpu0 while cpu1 looks:\n"
                       "  cpu0 in SMM saw 0x41524d53, cpu1 at the same time saw 0x21414756\n"
                       "lock (G_SMRAME|D_LCK), then G_SMRAME|D_OPEN|D_LCK, then G_SMRAME:\n"
                       "SMRAM control=0x0000001a\n"
                       "SMRAM control=0x0000001a\n"
                       "SMRAM control=0x0000001a\n");
    LOOKS(vga);
    SMIS();
#undef LOOKS
#undef SMIS
    g_string_append(w, "smram_smp done\n");
    return g_string_free(w, FALSE);
}

START_TEST(test_smram_smp)
{
    static const unsigned smps[] = { 2, 3 };

    for (size_t i = 0; i < G_N_ELEMENTS(smps); i++) {
        g_autofree char *want = smram_smp_want(smps[i]);

        check_guest_smp("smram_smp.bin", smps[i], want);
    }
    check_guest_too_few("smram_smp.bin", "1");
}
END_TEST

/* The demo: APs started, each CPU's APIC ID, CPU 2's APIC relocated (both
 * views), an SMI on CPU 1 reading SMRAM while CPU 0 reads the VGA window;
 * --trace tlb prints every CPU's TLB statistics at exit (stderr). */
START_TEST(test_demo)
{
    g_autofree char *path = image("demo.bin");
    Run r = RUN("--smp", "4", "--kernel", path, "--trace", "tlb");
    unsigned tlbs = 0;

    ASSERT_OUT(r, "fw_cfg: 4 CPUs\n"
                  "SMRAM control=0x0000000a\n"
                  "APs up\n"
                  "cpu0: APIC ID at 0xfee00020 = 0x00000000\n"
                  "cpu1: APIC ID at 0xfee00020 = 0x01000000\n"
                  "cpu2: APIC ID at 0xfee00020 = 0x02000000\n"
                  "cpu3: APIC ID at 0xfee00020 = 0x03000000\n"
                  "cpu2: APIC moved to 0xfed00000: 0xfed00020 reads 0x02000000, "
                  "0xfee00020 reads 0xffffffff\n"
                  "cpu0: 0xfee00020 still reads 0x00000000\n"
                  "SMI IPI to cpu1:\n"
                  "cpu1: in SMM 0xa0000 reads 0x41524d53\n"
                  "cpu0: at the same time 0xa0000 reads 0x21414756\n"
                  "cpu1: after RSM 0xa0000 reads 0x21414756\n"
                  "demo done\n");
    ASSERT_STATUS(r, GUEST_OK);
    for (const char *p = r.err; (p = strstr(p, "TLB:")) != NULL; p += 4) {
        tlbs++;
    }
    ck_assert_msg(tlbs == 4, "%u TLB dumps on stderr, want 4 (one per CPU):\n%.3000s", tlbs,
                  r.err);
    for (unsigned i = 0; i < 4; i++) {
        g_autofree char *hdr = g_strdup_printf("-- cpu%u --", i);

        ASSERT_HAS(r.err, hdr);
    }
    run_clear(&r);
}
END_TEST

/* Write `len` bytes to a new file in dir; returns its path. */
static char *write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(dir, name, NULL);
    GError *err = NULL;

    ck_assert_msg(g_file_set_contents(path, data, (gssize)len, &err), "%s",
                  err ? err->message : "?");
    return path;
}

static char *make_tmpdir(void)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("mmusim-guest-XXXXXX", &err);

    ck_assert_msg(dir != NULL, "%s", err ? err->message : "?");
    return dir;
}

static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            remove_tree(p);
        } else {
            g_unlink(p);
        }
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(dir);
}

START_TEST(test_multiboot_info)
{
    g_autofree char *kernel = image("mbinfo.bin");
    g_autofree char *dir = make_tmpdir();
    g_autofree char *m1 = write_file(dir, "first.mod", "first module", 12);
    g_autofree char *m2 = write_file(dir, "second.mod", "second", 6);
    g_autofree char *mods = g_strdup_printf("%s,%s", m1, m2);
    g_autofree char *want = g_strdup_printf(
        "magic=0x2badb002\n"
        "flags=0x0000024d\n"
        "mem_lower=640 mem_upper=64512\n"
        "cmdline=\"console=ttyS0 answer=42\"\n"
        "loader=\"mmusim\"\n"
        "mods=2\n"
        "mod %s size=12 data=\"first module\"\n"
        "mod %s size=6 data=\"second\"\n"
        "mmap base=0x00000000:0x00000000 len=0x00000000:0x000a0000 type=1\n"
        "mmap base=0x00000000:0x000e0000 len=0x00000000:0x00020000 type=2\n"
        "mmap base=0x00000000:0x00100000 len=0x00000000:0x03f00000 type=1\n"
        "cs=0x00000010 ds=0x00000018 es=0x00000018 fs=0x00000018 gs=0x00000018 ss=0x00000018\n"
        "eflags=0x00000002 cr0=0x00000011\n",
        m1, m2);
    Run r = RUN("--kernel", kernel, "--memory", "64M", "--append", "console=ttyS0 answer=42",
                "--initrd", mods);

    ASSERT_OUT(r, want);
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);

    /* No --append, no modules: an empty command line, mods=0. */
    r = RUN("--kernel", kernel);
    ASSERT_HAS(r.out, "cmdline=\"\"\nloader=\"mmusim\"\nmods=0\n");
    ASSERT_HAS(r.out, "mem_lower=640 mem_upper=130048\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);

    /* Above 3.5 GiB the RAM is split around the PCI hole. */
    r = RUN("--kernel", kernel, "--memory", "4G");
    ASSERT_HAS(r.out, "mmap base=0x00000000:0x00100000 len=0x00000000:0xdff00000 type=1\n");
    ASSERT_HAS(r.out, "mmap base=0x00000001:0x00000000 len=0x00000000:0x20000000 type=1\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
    remove_tree(dir);
}
END_TEST

/* --- Machine: stop conditions, SMP, serial, tracing, usage. --- */

static Run run_control(const char *cmd, const char *extra1, const char *extra2)
{
    g_autofree char *kernel = image("control.bin");
    const char *args[] = { "--kernel", kernel, "--append", cmd, extra1, extra2, NULL };

    return guest_run(run_prefix, args);
}

START_TEST(test_stop_halted)
{
    Run r = run_control("halt", NULL, NULL);

    ASSERT_OUT(r, "halting with interrupts off\n");
    ASSERT_STATUS(r, PC_EXIT_HALTED);
    ASSERT_HAS(r.err, "all CPUs halted");
    run_clear(&r);
}
END_TEST

START_TEST(test_stop_idle)
{
    Run r = run_control("idle", NULL, NULL);

    ASSERT_OUT(r, "waiting for an interrupt\n");
    ASSERT_STATUS(r, PC_EXIT_IDLE);
    ASSERT_HAS(r.err, "waiting for an interrupt");
    run_clear(&r);
}
END_TEST

START_TEST(test_stop_max_insns)
{
    Run r = run_control("loop", "--max-insns", "100000");

    ASSERT_OUT(r, "looping forever\n");
    ASSERT_STATUS(r, PC_EXIT_MAX_INSNS);
    ASSERT_HAS(r.err, "instruction limit reached: 100000 instructions");
    run_clear(&r);

    /* A limit the guest stays under does not matter. */
    r = run_control("count", "--max-insns", "1000000");
    ASSERT_OUT(r, "counted\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);

    /* One it does not: the counting loop alone is 2000 instructions. */
    r = run_control("count", "--max-insns", "1500");
    ASSERT_OUT(r, "");
    ASSERT_STATUS(r, PC_EXIT_MAX_INSNS);
    run_clear(&r);
}
END_TEST

START_TEST(test_stop_timeout)
{
    gint64 t0 = g_get_monotonic_time();
    Run r = run_control("loop", "--timeout", "0.5");
    gint64 elapsed = g_get_monotonic_time() - t0;

    ASSERT_OUT(r, "looping forever\n");
    ASSERT_STATUS(r, PC_EXIT_TIMEOUT);
    ASSERT_HAS(r.err, "timeout");
    ck_assert_msg(elapsed < 20 * G_USEC_PER_SEC, "0.5 s timeout took %" G_GINT64_FORMAT " us",
                  elapsed);
    run_clear(&r);
}
END_TEST

START_TEST(test_stop_triple_fault)
{
    Run r = run_control("triple", NULL, NULL);

    ASSERT_OUT(r, "triple fault next\n");
    ASSERT_STATUS(r, PC_EXIT_TRIPLE_FAULT);
    ASSERT_HAS(r.err, "triple fault on cpu0");
    run_clear(&r);
}
END_TEST

START_TEST(test_debug_exit_values)
{
    Run r = run_control("x", NULL, NULL);

    ASSERT_OUT(r, "exit 0x2a\n");
    ASSERT_STATUS(r, DEBUG_STATUS(0x2a));
    ASSERT_HAS(r.err, "debug-exit");
    run_clear(&r);

    /* A 4-byte write: the whole value counts, the process keeps 8 bits. */
    r = run_control("w", NULL, NULL);
    ASSERT_OUT(r, "exit 0x12345678\n");
    ASSERT_STATUS(r, DEBUG_STATUS(0x12345678u));
    ASSERT_HAS(r.err, "0x12345678");
    run_clear(&r);
}
END_TEST

START_TEST(test_smp)
{
    g_autofree char *hello = image("hello.bin");
    static const char *counts[] = { "2", "4", "64" };

    for (size_t i = 0; i < G_N_ELEMENTS(counts); i++) {
        Run r = RUN("--kernel", hello, "--smp", counts[i]);

        ASSERT_OUT(r, "Hello from mmusim\n");
        ASSERT_STATUS(r, GUEST_OK);
        run_clear(&r);
    }
    /* The APs wait for INIT/SIPI: CPU 0 halting ends the run. */
    Run r = run_control("halt", "--smp", "8");
    ASSERT_STATUS(r, PC_EXIT_HALTED);
    run_clear(&r);
}
END_TEST

START_TEST(test_builtin_rom)
{
    Run r = RUN("--smp", "2");

    ASSERT_OUT(r, "");
    ASSERT_STATUS(r, PC_EXIT_HALTED);
    ASSERT_HAS(r.err, "built-in ROM");
    ASSERT_HAS(r.err, "all CPUs halted");
    run_clear(&r);
}
END_TEST

START_TEST(test_serial_backends)
{
    g_autofree char *hello = image("hello.bin");
    g_autofree char *dir = make_tmpdir();
    g_autofree char *out = g_build_filename(dir, "com1.txt", NULL);
    g_autofree char *spec = g_strdup_printf("file:%s", out);
    g_autofree char *text = NULL;

    Run r = RUN("--kernel", hello, "--serial", "none");
    ASSERT_OUT(r, "");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);

    r = RUN("--kernel", hello, "--serial", spec);
    ASSERT_OUT(r, "");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
    ck_assert(g_file_get_contents(out, &text, NULL, NULL));
    ck_assert_str_eq(text, "Hello from mmusim\n");

    g_autofree char *bad = g_strdup_printf("file:%s/no/such/dir/x", dir);
    r = RUN("--kernel", hello, "--serial", bad);
    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ASSERT_HAS(r.err, "/no/such/dir/x");
    run_clear(&r);
    remove_tree(dir);
}
END_TEST

/* Serial input from stdin: the guest echoes what it reads until a '.'. */
START_TEST(test_serial_input)
{
    g_autofree char *kernel = image("control.bin");
    g_autofree char *dir = make_tmpdir();
    g_autofree char *in = write_file(dir, "input.txt", "typed text.ignored", 18);
    g_autofree char *qk = g_shell_quote(kernel);
    g_autofree char *qin = g_shell_quote(in);
    g_autofree char *cmd = g_strdup_printf("exec %s run --timeout 60 --kernel %s --append echo "
                                           "< %s", MMUSIM_BINARY, qk, qin);
    const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
    Run r = { NULL, NULL, -1 };
    int wait_status = 0;

    ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r.out,
                           &r.err, &wait_status, NULL));
    r.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
    ASSERT_OUT(r, "[typed text]\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
    remove_tree(dir);
}
END_TEST

START_TEST(test_trace)
{
    g_autofree char *hello = image("hello.bin");
    g_autofree char *dir = make_tmpdir();
    g_autofree char *tf = g_build_filename(dir, "trace.txt", NULL);
    g_autofree char *text = NULL;

    Run r = RUN("--kernel", hello, "--trace", "in_asm,int,tlb", "--trace-file", tf);
    ASSERT_OUT(r, "Hello from mmusim\n");
    ASSERT_STATUS(r, GUEST_OK);
    run_clear(&r);
    ck_assert(g_file_get_contents(tf, &text, NULL, NULL));
    ASSERT_HAS(text, "cpu0");
    ASSERT_HAS(text, "out");       /* the instructions, disassembled */
    ASSERT_HAS(text, "-- cpu0 --"); /* the TLB at exit */
    ASSERT_HAS(text, "TLB:");
    remove_tree(dir);
}
END_TEST

START_TEST(test_usage_errors)
{
    g_autofree char *hello = image("hello.bin");
    static const struct {
        const char *args[4];
        const char *msg;
    } cases[] = {
        { { "--smp", "0" }, "--smp 0: must be between 1 and 64" },
        { { "--smp", "65" }, "--smp 65: must be between 1 and 64" },
        { { "--smp", "two" }, "--smp 'two'" },
        { { "--memory", "1K" }, "--memory 1K" },
        { { "--memory", "lots" }, "--memory 'lots'" },
        { { "--memory", "2T" }, "--memory 2T" },
        { { "--serial", "tcp:1234" }, "--serial 'tcp:1234'" },
        { { "--trace", "in_asm,bogus" }, "unknown item 'bogus'" },
        { { "--max-insns", "0" }, "--max-insns 0" },
        { { "--timeout", "-1" }, "--timeout '-1'" },
        { { "--timeout", "soon" }, "--timeout 'soon'" },
        { { "--machine", "sample" }, "--machine 'sample'" },
        { { "--initrd", "x" }, "--initrd needs --kernel" },
        { { "stray" }, "unexpected argument 'stray'" },
        { { "--bogus" }, "--bogus" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *const *a = cases[i].args;
        const char *args[6] = { a[0], a[1], a[2], a[3], NULL, NULL };
        Run r = guest_run(run_prefix, args);

        ck_assert_msg(r.status == 2, "case %zu (%s): exit status %d, want 2\n%s", i, a[0],
                      r.status, r.err);
        ck_assert_msg(strstr(r.err, cases[i].msg), "case %zu: expected \"%s\" in stderr:\n%s",
                      i, cases[i].msg, r.err);
        run_clear(&r);
    }
    /* Sizes with suffixes, and the MiB default. */
    static const char *sizes[] = { "64M", "65536K", "64", "0x40M" };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        Run r = RUN("--kernel", hello, "--memory", sizes[i]);

        ASSERT_STATUS(r, GUEST_OK);
        run_clear(&r);
    }
    /* --help documents the exit statuses. */
    const char *help[] = { "--help", NULL };
    Run r = guest_run(run_prefix, help);
    ASSERT_STATUS(r, 0);
    ASSERT_HAS(r.out, "Exit status");
    ASSERT_HAS(r.out, "triple fault");
    ASSERT_HAS(r.out, "(v<<1)|1");
    run_clear(&r);
}
END_TEST

/* --- Loader: malformed images, through the binary. --- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* A kernel with the a.out kludge: header at offset 0, loaded at 1 MiB,
 * `len` bytes of hlt; fields as given. */
static GByteArray *kludge_image(uint32_t flags, uint32_t load_end, uint32_t bss_end,
                                uint32_t entry, size_t len)
{
    GByteArray *b = g_byte_array_sized_new((guint)len);

    g_byte_array_set_size(b, (guint)len);
    memset(b->data, 0xf4, len);
    flags |= MB_FLAG_AOUT_KLUDGE;
    put32(b->data + 0, MB_HEADER_MAGIC);
    put32(b->data + 4, flags);
    put32(b->data + 8, (uint32_t)-(MB_HEADER_MAGIC + flags));
    put32(b->data + 12, 0x100000);
    put32(b->data + 16, 0x100000);
    put32(b->data + 20, load_end);
    put32(b->data + 24, bss_end);
    put32(b->data + 28, entry);
    return b;
}

/* An ELF kernel: header, one PT_LOAD of the whole 4 KiB file at paddr,
 * multiboot header (no kludge) at 0x100. */
static GByteArray *elf_image(uint8_t cls, uint16_t machine, uint32_t paddr, uint32_t entry)
{
    GByteArray *b = g_byte_array_sized_new(4096);

    g_byte_array_set_size(b, 4096);
    memset(b->data, 0xf4, 4096);
    memcpy(b->data, "\x7f" "ELF", 4);
    b->data[4] = cls;
    b->data[5] = 1;
    b->data[6] = 1;
    memset(b->data + 7, 0, 9);
    put16(b->data + 16, 2);
    put16(b->data + 18, machine);
    put32(b->data + 20, 1);
    put32(b->data + 24, entry);
    put32(b->data + 28, 52);
    put32(b->data + 32, 0);
    put32(b->data + 36, 0);
    put16(b->data + 40, 52);
    put16(b->data + 42, 32);
    put16(b->data + 44, 1);
    put16(b->data + 46, 40);
    put16(b->data + 48, 0);
    put16(b->data + 50, 0);
    uint8_t *ph = b->data + 52;
    put32(ph + 0, 1);
    put32(ph + 4, 0);
    put32(ph + 8, paddr);
    put32(ph + 12, paddr);
    put32(ph + 16, 4096);
    put32(ph + 20, 4096);
    put32(ph + 24, 5);
    put32(ph + 28, 4096);
    put32(b->data + 0x100, MB_HEADER_MAGIC);
    put32(b->data + 0x104, 0);
    put32(b->data + 0x108, (uint32_t)-MB_HEADER_MAGIC);
    return b;
}

static void expect_refused(const char *dir, const char *name, GByteArray *img,
                           const char *problem)
{
    g_autofree char *path = write_file(dir, name, img->data, img->len);
    Run r = RUN("--kernel", path);

    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ck_assert_msg(strstr(r.err, path), "%s: the message does not name the file:\n%s", name,
                  r.err);
    ck_assert_msg(strstr(r.err, problem), "%s: expected \"%s\" in:\n%s", name, problem, r.err);
    ASSERT_OUT(r, "");
    run_clear(&r);
    g_byte_array_free(img, TRUE);
}

START_TEST(test_malformed_kernels)
{
    g_autofree char *dir = make_tmpdir();
    GByteArray *b;

    expect_refused(dir, "empty", g_byte_array_new(), "empty file");

    b = g_byte_array_new();
    g_byte_array_set_size(b, 10000);
    for (guint i = 0; i < b->len; i++) {
        b->data[i] = (uint8_t)(i * 7 + 3);
    }
    expect_refused(dir, "garbage", b, "no multiboot header");

    b = kludge_image(0, 0, 0, 0x100020, 64);
    b->data[8] ^= 1;
    expect_refused(dir, "bad-checksum", b, "bad checksum");

    b = g_byte_array_new();
    g_byte_array_set_size(b, 8);
    put32(b->data, 0);
    put32(b->data + 4, MB_HEADER_MAGIC);
    expect_refused(dir, "truncated-header", b, "truncated multiboot header");

    b = kludge_image(0, 0, 0, 0x100020, 64);
    g_byte_array_set_size(b, 24);  /* the kludge fields cut off */
    expect_refused(dir, "truncated-kludge", b, "truncated multiboot header");

    b = kludge_image(0, 0x100000 + 4096, 0, 0x100020, 64);
    expect_refused(dir, "truncated-load-end", b, "truncated");

    b = kludge_image(0, 0, 0, 0x200000, 64);
    expect_refused(dir, "entry-outside", b, "entry_addr");

    b = kludge_image(1u << 3, 0, 0, 0x100020, 64);
    expect_refused(dir, "unsupported-flag", b, "requires features");

    b = kludge_image(0, 0x100040, 0x100020, 0x100020, 64);
    expect_refused(dir, "bss-below-data", b, "bss_end_addr");

    b = elf_image(1, 3, 0x100000, 0x100200);
    g_byte_array_set_size(b, 0x10c);  /* header found, segment data cut */
    expect_refused(dir, "truncated-elf", b, "truncated ELF");

    b = elf_image(1, 3, 0x100000, 0x100200);
    put32(b->data + 28, 4080);  /* program headers past the end */
    expect_refused(dir, "truncated-phdrs", b, "truncated ELF");

    b = elf_image(2, 62, 0x100000, 0x100200);
    expect_refused(dir, "elf64", b, "64-bit ELF");

    b = elf_image(1, 62, 0x100000, 0x100200);
    expect_refused(dir, "not-i386", b, "not i386");

    b = elf_image(1, 3, 0x100000, 0x100200);
    memcpy(b->data, "\x7f" "ELG", 4);
    expect_refused(dir, "not-elf", b, "not an ELF file");

    b = elf_image(1, 3, 0x10000000, 0x10000200);  /* 256 MiB, RAM is 128 MiB */
    expect_refused(dir, "outside-ram", b, "outside RAM");

    b = elf_image(1, 3, 0xa0000, 0xa0200);  /* the VGA window is not RAM */
    expect_refused(dir, "in-vga", b, "outside RAM");

    b = elf_image(1, 3, 0x9000, 0x9200);
    expect_refused(dir, "on-info", b, "overlaps the multiboot information");

    b = elf_image(1, 3, 0x100000, 0x300000);
    expect_refused(dir, "elf-entry-outside", b, "entry point");

    /* Files that cannot be read. */
    g_autofree char *missing = g_build_filename(dir, "missing", NULL);
    Run r = RUN("--kernel", missing);
    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ASSERT_HAS(r.err, missing);
    ASSERT_HAS(r.err, "cannot open");
    run_clear(&r);

    r = RUN("--kernel", dir);
    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ASSERT_HAS(r.err, "is a directory");
    run_clear(&r);

    g_autofree char *hello = image("hello.bin");
    g_autofree char *mods = g_strdup_printf("%s,%s", hello, missing);
    r = RUN("--kernel", hello, "--initrd", mods);
    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ASSERT_HAS(r.err, missing);
    run_clear(&r);

    r = RUN("--kernel", hello, "--initrd", "a,,b");
    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ASSERT_HAS(r.err, "empty file name");
    run_clear(&r);

    /* A BIOS image must be a multiple of 64 KiB. */
    g_autofree char *small = write_file(dir, "small.rom", "\xf4\xf4\xf4\xf4", 4);
    r = RUN("--bios", small);
    ASSERT_STATUS(r, PC_EXIT_ERROR);
    ASSERT_HAS(r.err, small);
    ASSERT_HAS(r.err, "multiple of 64 KiB");
    run_clear(&r);
    remove_tree(dir);
}
END_TEST

/* --- Loader, in process. --- */

#define FUZZ_RAM (8u << 20)

typedef struct FuzzMachine {
    uint8_t *ram;
    MbRamRange ranges[2];
    MbMemMapEntry mmap[2];
    MultibootConfig cfg;
} FuzzMachine;

static void fuzz_machine_init(FuzzMachine *m)
{
    m->ram = g_malloc0(FUZZ_RAM);
    m->ranges[0] = (MbRamRange){ 0, 0xa0000, m->ram };
    m->ranges[1] = (MbRamRange){ 0x100000, FUZZ_RAM - 0x100000, m->ram + 0x100000 };
    m->mmap[0] = (MbMemMapEntry){ 0, 0xa0000, MB_MMAP_AVAILABLE };
    m->mmap[1] = (MbMemMapEntry){ 0x100000, FUZZ_RAM - 0x100000, MB_MMAP_AVAILABLE };
    m->cfg = (MultibootConfig){ .ram = m->ranges, .n_ram = 2, .mmap = m->mmap, .n_mmap = 2,
                                .mem_lower_kib = 640,
                                .mem_upper_kib = (FUZZ_RAM - 0x100000) / 1024,
                                .cmdline = "a b c" };
}

static uint8_t *read_image(const char *name, size_t *len)
{
    g_autofree char *path = image(name);
    uint8_t *data;
    GError *err = NULL;

    ck_assert_msg(multiboot_read_file(path, 1u << 24, &data, len, &err), "%s",
                  err ? err->message : "?");
    return data;
}

/* Every prefix of a valid image, and random corruptions: refused or loaded,
 * never a crash (the sanitizer build checks the "never" part). */
START_TEST(test_loader_fuzz)
{
    static const char *images[] = { "hello.bin", "elf.bin", "mbinfo.bin" };
    FuzzMachine m;
    GRand *rnd = g_rand_new_with_seed(0x6d6d7573);
    static const uint8_t mod_data[] = "module";
    MultibootModule mods[] = { { "m0", mod_data, sizeof(mod_data) } };

    fuzz_machine_init(&m);
    for (size_t k = 0; k < G_N_ELEMENTS(images); k++) {
        size_t len;
        uint8_t *img = read_image(images[k], &len);
        uint8_t *copy = g_malloc(len);
        unsigned loaded = 0;

        for (size_t cut = 0; cut <= len; cut++) {
            MultibootBoot boot;
            GError *err = NULL;
            /* An exact-size heap copy, so reading past `cut` is caught. */
            uint8_t *part = g_memdup2(img, cut);

            if (multiboot_load_image("fuzz", part, cut, &m.cfg, mods, 1, &boot, &err)) {
                loaded++;
            } else {
                ck_assert_ptr_nonnull(err);
                ck_assert_msg(g_str_has_prefix(err->message, "fuzz: "), "%s", err->message);
                g_error_free(err);
            }
            g_free(part);
        }
        /* Only the complete image (and, without load_end, nothing else) loads. */
        ck_assert_uint_ge(loaded, 1);
        for (int iter = 0; iter < 3000; iter++) {
            MultibootBoot boot;
            GError *err = NULL;
            unsigned flips = (unsigned)g_rand_int_range(rnd, 1, 8);

            memcpy(copy, img, len);
            for (unsigned f = 0; f < flips; f++) {
                /* Mostly the headers, where the fields are. */
                size_t at = g_rand_boolean(rnd) ? (size_t)g_rand_int_range(rnd, 0, (gint32)MIN(len, 0x140))
                                                : (size_t)g_rand_int_range(rnd, 0, (gint32)len);
                copy[at] = (uint8_t)g_rand_int(rnd);
            }
            if (multiboot_load_image("fuzz", copy, len, &m.cfg, mods, 1, &boot, &err)) {
                ck_assert_uint_ge(boot.entry, boot.kernel_start);
                ck_assert_uint_lt(boot.entry, boot.kernel_end);
            } else {
                ck_assert_ptr_nonnull(err);
                g_error_free(err);
            }
        }
        g_free(copy);
        g_free(img);
    }
    g_rand_free(rnd);
    g_free(m.ram);
}
END_TEST

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

START_TEST(test_loader_info_layout)
{
    FuzzMachine m;
    size_t len;
    uint8_t *img = read_image("hello.bin", &len);
    static const uint8_t d0[] = "zero", d1[] = "one!";
    MultibootModule mods[] = { { "mod-zero", d0, 4 }, { "mod-one", d1, 4 } };
    MultibootBoot boot;
    GError *err = NULL;

    fuzz_machine_init(&m);
    ck_assert_msg(multiboot_load_image("hello", img, len, &m.cfg, mods, 2, &boot, &err), "%s",
                  err ? err->message : "");
    ck_assert(boot.aout_kludge);
    ck_assert_uint_eq(boot.entry, 0x100020);
    ck_assert_uint_eq(boot.kernel_start, 0x100000);
    ck_assert_uint_eq(boot.info_addr, MB_INFO_BASE + MB_GDT_SIZE);
    ck_assert_uint_eq(boot.gdt_addr, MB_INFO_BASE);
    ck_assert_int_eq(memcmp(m.ram + 0x100000, img, len), 0);

    const uint8_t *info = m.ram + boot.info_addr;
    ck_assert_uint_eq(get32(info + MBI_FLAGS), 0x24d);
    ck_assert_uint_eq(get32(info + MBI_MEM_LOWER), 640);
    ck_assert_uint_eq(get32(info + MBI_MEM_UPPER), (FUZZ_RAM - 0x100000) / 1024);
    ck_assert_str_eq((const char *)m.ram + get32(info + MBI_CMDLINE), "a b c");
    ck_assert_str_eq((const char *)m.ram + get32(info + MBI_LOADER_NAME), "mmusim");
    ck_assert_uint_eq(get32(info + MBI_MODS_COUNT), 2);
    const uint8_t *mod = m.ram + get32(info + MBI_MODS_ADDR);
    uint32_t start0 = get32(mod), end0 = get32(mod + 4), start1 = get32(mod + 16);
    ck_assert_uint_eq(start0 % 4096, 0);
    ck_assert_uint_ge(start0, boot.kernel_end);
    ck_assert_uint_eq(end0 - start0, 4);
    ck_assert_uint_eq(start1 % 4096, 0);
    ck_assert_uint_gt(start1, start0);
    ck_assert_int_eq(memcmp(m.ram + start0, "zero", 4), 0);
    ck_assert_int_eq(memcmp(m.ram + start1, "one!", 4), 0);
    ck_assert_str_eq((const char *)m.ram + get32(mod + 8), "mod-zero");
    ck_assert_str_eq((const char *)m.ram + get32(mod + 24), "mod-one");
    ck_assert_uint_eq(get32(info + MBI_MMAP_LENGTH), 2 * 24);
    const uint8_t *mm = m.ram + get32(info + MBI_MMAP_ADDR);
    ck_assert_uint_eq(get32(mm), 20);
    ck_assert_uint_eq(get32(mm + 24 + 4), 0x100000);
    ck_assert_uint_eq(get32(mm + 24 + 20), MB_MMAP_AVAILABLE);
    /* The GDT's code and data descriptors. */
    ck_assert_uint_eq(get32(m.ram + MB_INFO_BASE + MB_CODE_SEL + 4), 0x00cf9b00);
    ck_assert_uint_eq(get32(m.ram + MB_INFO_BASE + MB_DATA_SEL + 4), 0x00cf9300);
    ck_assert_uint_le(boot.info_end, MB_INFO_LIMIT);

    /* A module that does not fit in RAM is refused, naming it. */
    MultibootModule big = { "huge-module", d0, FUZZ_RAM };
    ck_assert(!multiboot_load_image("hello", img, len, &m.cfg, &big, 1, &boot, &err));
    ck_assert_msg(strstr(err->message, "huge-module"), "%s", err->message);
    g_clear_error(&err);

    /* A command line too long for the information area. */
    char *longline = g_strnfill(MB_INFO_LIMIT, 'x');
    m.cfg.cmdline = longline;
    ck_assert(!multiboot_load_image("hello", img, len, &m.cfg, NULL, 0, &boot, &err));
    ck_assert_msg(strstr(err->message, "multiboot information"), "%s", err->message);
    g_clear_error(&err);
    g_free(longline);
    g_free(img);
    g_free(m.ram);
}
END_TEST

/* --- Devices, in process. --- */

typedef struct IoBench {
    MemRegion *root;
    AddressSpace *as;
} IoBench;

static void io_bench_init(IoBench *b, MemRegion *dev, uint64_t base)
{
    b->root = mr_new_container("io-test", 0x10000, NULL);
    ck_assert(mr_add_subregion(b->root, base, dev, NULL));
    b->as = as_new("io-test", b->root, NULL);
    ck_assert_ptr_nonnull(b->as);
}

static void io_bench_free(IoBench *b)
{
    as_free(b->as);
    mr_unref(b->root);
}

static uint8_t inb(IoBench *b, uint16_t port)
{
    uint64_t v = 0;

    ck_assert_int_eq(as_read_val(b->as, port, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v),
                     MEM_OK);
    return (uint8_t)v;
}

static void outb(IoBench *b, uint16_t port, uint8_t v)
{
    ck_assert_int_eq(as_write_val(b->as, port, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, v),
                     MEM_OK);
}

static void irq_changed(void *opaque, bool level)
{
    int *count = opaque;

    count[level ? 1 : 0]++;
}

static void count_any_report(const char *message, void *opaque)
{
    (void)message;
    (*(unsigned *)opaque)++;
}

START_TEST(test_serial_registers)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    int irqs[2] = { 0, 0 };
    unsigned reports = 0;
    Serial16550Config cfg = { .name = "com1", .out = out, .in_fd = -1, .irq = irq_changed,
                              .irq_opaque = irqs };
    Serial16550 *s = serial16550_new(&cfg, NULL);
    IoBench b;
    const uint16_t base = 0x3f8;

    mem_set_report_handler(count_any_report, &reports);
    io_bench_init(&b, serial16550_region(s), base);

    /* Reset values. */
    ck_assert_uint_eq(inb(&b, base + UART_IER), 0);
    ck_assert_uint_eq(inb(&b, base + UART_IIR), UART_IIR_NO_INT);
    ck_assert_uint_eq(inb(&b, base + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
    ck_assert_uint_eq(inb(&b, base + UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);

    /* Scratch and divisor latch. */
    outb(&b, base + UART_SCR, 0xa5);
    ck_assert_uint_eq(inb(&b, base + UART_SCR), 0xa5);
    outb(&b, base + UART_LCR, UART_LCR_DLAB | 0x03);
    outb(&b, base + UART_DLL, 0x01);
    outb(&b, base + UART_DLM, 0x02);
    ck_assert_uint_eq(inb(&b, base + UART_DLL), 0x01);
    ck_assert_uint_eq(inb(&b, base + UART_DLM), 0x02);
    outb(&b, base + UART_LCR, 0x03);
    ck_assert_uint_eq(inb(&b, base + UART_LCR), 0x03);
    ck_assert_uint_eq(inb(&b, base + UART_IER), 0);  /* DLM was not IER */

    /* Transmit. */
    outb(&b, base + UART_THR, 'o');
    outb(&b, base + UART_THR, 'k');
    outb(&b, base + UART_THR, '\n');
    fflush(out);
    ck_assert_uint_eq(size, 3);
    ck_assert_int_eq(memcmp(buf, "ok\n", 3), 0);
    ck_assert_uint_eq(serial16550_tx_count(s), 3);

    /* THR-empty interrupt: raised by enabling it, acknowledged by reading IIR,
     * raised again by the next byte sent; gated by OUT2. */
    outb(&b, base + UART_IER, UART_IER_ETBEI);
    ck_assert_uint_eq(inb(&b, base + UART_IIR), UART_IIR_THRI);
    ck_assert_uint_eq(inb(&b, base + UART_IIR), UART_IIR_NO_INT);
    outb(&b, base + UART_MCR, UART_MCR_OUT2);
    ck_assert(!serial16550_irq_level(s));
    outb(&b, base + UART_THR, 'x');
    ck_assert(serial16550_irq_level(s));
    ck_assert_int_eq(irqs[1], 1);
    ck_assert_uint_eq(inb(&b, base + UART_IIR), UART_IIR_THRI);
    ck_assert(!serial16550_irq_level(s));
    ck_assert_int_eq(irqs[0], 1);

    /* Receive: data ready, RBR, the received-data interrupt. */
    outb(&b, base + UART_IER, UART_IER_ERBFI);
    serial16550_receive(s, (const uint8_t *)"A", 1);
    ck_assert_uint_eq(inb(&b, base + UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    ck_assert_uint_eq(inb(&b, base + UART_IIR), UART_IIR_RDI);
    ck_assert(serial16550_irq_level(s));
    ck_assert_uint_eq(inb(&b, base + UART_RBR), 'A');
    ck_assert_uint_eq(inb(&b, base + UART_LSR) & UART_LSR_DR, 0);
    ck_assert(!serial16550_irq_level(s));

    /* Without FIFOs one byte fits: the second overruns (LSR.OE, cleared by reading). */
    serial16550_receive(s, (const uint8_t *)"BC", 2);
    ck_assert_uint_eq(inb(&b, base + UART_LSR) & (UART_LSR_DR | UART_LSR_OE),
                      UART_LSR_DR | UART_LSR_OE);
    ck_assert_uint_eq(inb(&b, base + UART_LSR) & UART_LSR_OE, 0);
    ck_assert_uint_eq(inb(&b, base + UART_RBR), 'B');

    /* FIFOs on: IIR bits 7:6 set, 16 bytes fit, trigger level 4. */
    outb(&b, base + UART_FCR, UART_FCR_ENABLE | 0x40);
    ck_assert_uint_eq(inb(&b, base + UART_IIR) & UART_IIR_FIFO, UART_IIR_FIFO);
    serial16550_receive(s, (const uint8_t *)"12", 2);
    ck_assert_uint_eq(inb(&b, base + UART_IIR) & 0x0f, UART_IIR_CTI);  /* below the trigger */
    serial16550_receive(s, (const uint8_t *)"3456789abcdefg", 14);
    ck_assert_uint_eq(inb(&b, base + UART_IIR) & 0x0f, UART_IIR_RDI);
    char got[17] = { 0 };
    for (int i = 0; i < 16; i++) {
        got[i] = (char)inb(&b, base + UART_RBR);
    }
    ck_assert_str_eq(got, "123456789abcdefg");
    outb(&b, base + UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
    outb(&b, base + UART_FCR, 0);
    ck_assert_uint_eq(inb(&b, base + UART_IIR) & UART_IIR_FIFO, 0);

    /* Loopback: what is sent is received; MSR follows MCR, with deltas. */
    outb(&b, base + UART_IER, 0);
    inb(&b, base + UART_MSR);
    outb(&b, base + UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT1);
    uint8_t msr = inb(&b, base + UART_MSR);
    ck_assert_uint_eq(msr & 0xf0, UART_MSR_CTS | UART_MSR_RI);
    ck_assert_uint_eq(msr & UART_MSR_DDSR, UART_MSR_DDSR);   /* DSR dropped */
    ck_assert_uint_eq(inb(&b, base + UART_MSR) & 0x0f, 0);  /* deltas cleared by the read */
    fflush(out);
    size_t before = size;
    outb(&b, base + UART_THR, 'L');
    fflush(out);
    ck_assert_uint_eq(size, before);                        /* not on the line */
    ck_assert_uint_eq(inb(&b, base + UART_RBR), 'L');
    outb(&b, base + UART_MCR, UART_MCR_LOOP);
    ck_assert_uint_eq(inb(&b, base + UART_MSR) & UART_MSR_TERI, UART_MSR_TERI);
    outb(&b, base + UART_MCR, 0);

    /* Only byte accesses; read-only registers report once. */
    uint64_t v;
    ck_assert_int_eq(as_read_val(b.as, base, mem_attrs_cpu(0), 2, MEM_LITTLE_ENDIAN, &v),
                     MEM_ACCESS_ERROR);
    reports = 0;
    outb(&b, base + UART_LSR, 0);
    outb(&b, base + UART_LSR, 0);
    ck_assert_uint_eq(reports, 1);

    io_bench_free(&b);
    serial16550_free(s);
    fclose(out);
    free(buf);
    mem_set_report_handler(NULL, NULL);
}
END_TEST

START_TEST(test_serial_input_fd)
{
    int fds[2];
    Serial16550Config cfg = { .in_fd = -1 };
    IoBench b;

    ck_assert_int_eq(pipe(fds), 0);
    cfg.in_fd = fds[0];
    Serial16550 *s = serial16550_new(&cfg, NULL);
    io_bench_init(&b, serial16550_region(s), 0);

    serial16550_poll(s);
    ck_assert_uint_eq(inb(&b, UART_LSR) & UART_LSR_DR, 0);  /* nothing yet: no blocking */
    ck_assert_int_eq(write(fds[1], "hi", 2), 2);
    serial16550_poll(s);
    ck_assert_uint_eq(inb(&b, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
    ck_assert_uint_eq(inb(&b, UART_RBR), 'h');
    ck_assert_uint_eq(inb(&b, UART_RBR), 'i');  /* refilled on the RBR read */
    ck_assert_uint_eq(inb(&b, UART_LSR) & UART_LSR_DR, 0);
    close(fds[1]);
    serial16550_poll(s);                         /* end of input: no error */
    ck_assert_uint_eq(inb(&b, UART_LSR) & UART_LSR_DR, 0);

    io_bench_free(&b);
    serial16550_free(s);
    close(fds[0]);
}
END_TEST

typedef struct ExitSeen {
    int calls;
    uint64_t value;
    int64_t status;
} ExitSeen;

static void exit_seen(void *opaque, uint64_t value, int64_t status, MemAttrs attrs)
{
    ExitSeen *e = opaque;

    (void)attrs;
    e->calls++;
    e->value = value;
    e->status = status;
}

START_TEST(test_debug_exit_device)
{
    ExitSeen seen = { 0 };
    DebugExit *d = debug_exit_new(NULL, 4, exit_seen, &seen, NULL);
    IoBench b;
    int64_t status = 0;
    uint64_t v = 1;
    MemAttrs dbg = mem_attrs_cpu(0);

    ck_assert_ptr_null(debug_exit_new(NULL, 3, NULL, NULL, NULL));
    io_bench_init(&b, debug_exit_region(d), 0xf4);
    ck_assert(!debug_exit_requested(d, &status));
    ck_assert_int_eq(as_read_val(b.as, 0xf4, mem_attrs_cpu(0), 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0);
    dbg.debug = true;
    ck_assert_int_eq(as_write_val(b.as, 0xf4, dbg, 1, MEM_LITTLE_ENDIAN, 5), MEM_OK);
    ck_assert(!debug_exit_requested(d, NULL));  /* debugger writes do not end the run */
    outb(&b, 0xf4, 0x10);
    ck_assert(debug_exit_requested(d, &status));
    ck_assert_int_eq(status, 0x21);
    ck_assert_int_eq(seen.calls, 1);
    ck_assert_uint_eq(seen.value, 0x10);
    debug_exit_clear(d);
    ck_assert_int_eq(as_write_val(b.as, 0xf4, mem_attrs_cpu(0), 4, MEM_LITTLE_ENDIAN,
                                  0x12345678), MEM_OK);
    ck_assert(debug_exit_requested(d, &status));
    ck_assert_int_eq(status, 0x2468acf1);
    io_bench_free(&b);
    debug_exit_free(d);
}
END_TEST

/* --- The pc machine's maps, in process (nothing executes). --- */

static const char *served_by(AddressSpace *as, uint64_t addr)
{
    Dispatch *d = as_dispatch(as);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, NULL));

    return s && s->mr ? mr_name(s->mr) : "unassigned";
}

START_TEST(test_pc_map)
{
    PcConfig cfg = { .smp = 3, .serial = PC_SERIAL_NONE };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);
    uint64_t v = 0;

    ck_assert_msg(pc != NULL, "%s", err ? err->message : "");
    ck_assert_uint_eq(pc_machine_smp(pc), 3);
    AddressSpace *as = cpu_view_as(pc_machine_cpu(pc, 2)->view);
    ck_assert_str_eq(served_by(as, 0), "pc.ram");
    ck_assert_str_eq(served_by(as, 0x9ffff), "pc.ram");
    ck_assert_str_eq(served_by(as, 0xa0000), "vga.lowmem");
    ck_assert_str_eq(served_by(as, 0xbffff), "vga.lowmem");
    ck_assert_str_eq(served_by(as, 0xc0000), "pc.ram");
    ck_assert_str_eq(served_by(as, 0xe0000), "pc.bios");  /* through isa-bios */
    ck_assert_str_eq(served_by(as, 0x100000), "pc.ram");
    ck_assert_str_eq(served_by(as, PC_DEFAULT_RAM), "unassigned");
    ck_assert_str_eq(served_by(as, 0xfffe0000), "pc.bios");
    /* The built-in reset vector: cli; hlt; jmp back to the hlt. */
    ck_assert_int_eq(as_read_val(as, 0xfffffff0, mem_attrs_cpu(2), 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_OK);
    ck_assert_uint_eq(v, 0xfdebf4fa);
    ck_assert_int_eq(as_read_val(as, 0xffff0, mem_attrs_cpu(2), 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_OK);
    ck_assert_uint_eq(v, 0xfdebf4fa);
    /* Unassigned memory reads all-ones. */
    as_read_val(as, 0xe0000000, mem_attrs_cpu(2), 4, MEM_LITTLE_ENDIAN, &v);
    ck_assert_uint_eq(v, 0xffffffff);

    /* CPU 0 at the reset vector; the APs halted with interrupts off. */
    X86Cpu *c0 = pc_machine_cpu(pc, 0);
    ck_assert_uint_eq(c0->segs[S_CS].base + c0->rip, 0xfffffff0);
    ck_assert(!c0->halted);
    for (unsigned i = 1; i < 3; i++) {
        ck_assert(pc_machine_cpu(pc, i)->halted);
        ck_assert_uint_eq(pc_machine_cpu(pc, i)->eflags & X86_IF, 0);
    }
    ck_assert_ptr_null(pc_machine_cpu(pc, 3));
    ck_assert_ptr_null(pc_machine_boot(pc));

    /* I/O: the UART, debug-exit, the PIT's port 0x61, the stubs, and all-ones elsewhere. */
    AddressSpace *io = pc_machine_io(pc);
    ck_assert_str_eq(served_by(io, 0x3f8), "serial.com1");
    ck_assert_str_eq(served_by(io, 0xf4), "debug-exit");
    ck_assert_str_eq(served_by(io, 0x80), "stub.port80");
    ck_assert_str_eq(served_by(io, 0x61), "pit.port61");
    ck_assert_str_eq(served_by(io, 0x64), "stub.port64");
    as_read_val(io, 0x3fd, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v);
    ck_assert_uint_eq(v, UART_LSR_THRE | UART_LSR_TEMT);
    ck_assert_int_eq(as_read_val(io, 0x80, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(as_write_val(io, 0x80, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, 0x55),
                     MEM_OK);
    as_read_val(io, 0x70, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v);
    ck_assert_uint_eq(v, 0xff);
    pc_machine_free(pc);

    /* Bad configurations. */
    cfg = (PcConfig){ .smp = 65, .serial = PC_SERIAL_NONE };
    ck_assert_ptr_null(pc_machine_new(&cfg, &err));
    g_clear_error(&err);
    cfg = (PcConfig){ .ram_size = 1 << 20, .serial = PC_SERIAL_NONE };
    ck_assert_ptr_null(pc_machine_new(&cfg, &err));
    g_clear_error(&err);
}
END_TEST

START_TEST(test_pc_split_ram)
{
    /* 3.75 GiB: 3.5 GiB below the PCI hole, 256 MiB from 4 GiB. */
    PcConfig cfg = { .ram_size = UINT64_C(0xf0000000), .serial = PC_SERIAL_NONE };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);
    uint64_t v = 0;

    ck_assert_msg(pc != NULL, "%s", err ? err->message : "");
    AddressSpace *as = cpu_view_as(pc_machine_cpu(pc, 0)->view);
    ck_assert_str_eq(served_by(as, 0xdfffffff), "pc.ram");
    ck_assert_str_eq(served_by(as, 0xe0000000), "unassigned");
    ck_assert_str_eq(served_by(as, UINT64_C(0x100000000)), "pc.ram");
    ck_assert_str_eq(served_by(as, UINT64_C(0x10fffffff)), "pc.ram");
    ck_assert_str_eq(served_by(as, UINT64_C(0x110000000)), "unassigned");
    /* 4 GiB is the RAM block's byte 0xe0000000. */
    ck_assert_int_eq(as_write_val(as, UINT64_C(0x100000000), mem_attrs_cpu(0), 4,
                                  MEM_LITTLE_ENDIAN, 0x600dcafe), MEM_OK);
    ck_assert_int_eq(as_read_val(as, UINT64_C(0x100000000), mem_attrs_cpu(0), 4,
                                 MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x600dcafe);
    pc_machine_free(pc);
}
END_TEST

static Suite *guest_suite(void)
{
    Suite *s = suite_create("guest_x86");
    TCase *tc = tcase_create("guests");

    tcase_add_test(tc, test_hello);
    tcase_add_test(tc, test_dma_iommu);
    tcase_add_test(tc, test_global_pages);
    tcase_add_test(tc, test_mtree);
    tcase_add_test(tc, test_arith);
    tcase_add_test(tc, test_stack);
    tcase_add_test(tc, test_idt);
    tcase_add_test(tc, test_taskswitch);
    tcase_add_test(tc, test_divide_error);
    tcase_add_test(tc, test_paging);
    tcase_add_test(tc, test_self_modifying_code);
    tcase_add_test(tc, test_elf_kernel);
    tcase_add_test(tc, test_bios_real_mode);
    tcase_add_test(tc, test_long_mode);
    tcase_add_test(tc, test_pae_paging);
    tcase_add_test(tc, test_paging32_user);
    tcase_add_test(tc, test_bios_modes);
    tcase_add_test(tc, test_self_modifying_code_hard);
    tcase_add_test(tc, test_multiboot_info);
    tcase_add_test(tc, test_apic_ids);
    tcase_add_test(tc, test_apic_relocate);
    tcase_add_test(tc, test_smm);
    tcase_add_test(tc, test_apic_disable);
    tcase_add_test(tc, test_apic_ipi);
    tcase_add_test(tc, test_smm_smp);
    tcase_add_test(tc, test_smram_smp);
    tcase_add_test(tc, test_demo);
    suite_add_tcase(s, tc);

    tc = tcase_create("machine");
    tcase_add_test(tc, test_stop_halted);
    tcase_add_test(tc, test_stop_idle);
    tcase_add_test(tc, test_stop_max_insns);
    tcase_add_test(tc, test_stop_timeout);
    tcase_add_test(tc, test_stop_triple_fault);
    tcase_add_test(tc, test_debug_exit_values);
    tcase_add_test(tc, test_smp);
    tcase_add_test(tc, test_builtin_rom);
    tcase_add_test(tc, test_serial_backends);
    tcase_add_test(tc, test_serial_input);
    tcase_add_test(tc, test_trace);
    tcase_add_test(tc, test_usage_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("loader");
    tcase_add_test(tc, test_malformed_kernels);
    tcase_add_test(tc, test_loader_fuzz);
    tcase_add_test(tc, test_loader_info_layout);
    suite_add_tcase(s, tc);

    tc = tcase_create("devices");
    tcase_add_test(tc, test_serial_registers);
    tcase_add_test(tc, test_serial_input_fd);
    tcase_add_test(tc, test_debug_exit_device);
    suite_add_tcase(s, tc);

    tc = tcase_create("map");
    tcase_add_test(tc, test_pc_map);
    tcase_add_test(tc, test_pc_split_ram);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(guest_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
