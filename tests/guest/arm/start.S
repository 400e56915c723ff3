/*
 * Entry points and exception vectors shared by the AArch64 guest images.
 *
 * Boot state (machines/virt.h, as QEMU's virt with -kernel): CPU 0 enters
 * _start at EL1h with the MMU off, DAIF masked and x0 = the DTB address.
 * Secondary CPUs enter secondary_entry through PSCI CPU_ON in the same
 * state (DEN 0022D 5.6: caller's EL, MMU off) with x0 = the context_id,
 * which lib.c makes the address of a {function, argument} pair.
 *
 * Stacks: one STACK_SIZE stack per CPU, indexed by Aff1 * 16 + Aff0 of
 * MPIDR_EL1. virt.h numbers CPU i as Aff0 = i % 8, Aff1 = i / 8 with
 * GICv2 (at most 8 CPUs, so Aff1 = 0) and Aff0 = i % 16, Aff1 = i / 16
 * with GICv3 (at most 64): Aff1 * 16 + Aff0 is unique and below 64 in both.
 */
#include "asm.h"

    .section .text.boot, "ax"
    .global _start
_start:
    mov     x19, x0                 /* the DTB address, for main */
    mrs     x1, mpidr_el1
    bl      set_cpu_stack           /* sp = this CPU's stack (no stores yet) */

    /* Zero .bss before any C code runs: the ELF loader zero-fills it
     * already (p_memsz > p_filesz), but a SYSTEM_RESET reboot reloads the
     * image and must see the same state. The stacks are in .bss; nothing
     * has been pushed yet. */
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:
    bl      install_vectors
    mov     x0, x19
    bl      main
    /* main returned: success. */
    bl      psci_system_off
3:  wfi
    b       3b

/* PSCI CPU_ON entry: x0 = context_id = address of a struct start_info
 * (lib.h): { void (*fn)(uint64_t), uint64_t arg }. */
    .text
    .global secondary_entry
secondary_entry:
    mov     x19, x0
    mrs     x1, mpidr_el1
    bl      set_cpu_stack
    bl      install_vectors
    ldr     x1, [x19]               /* fn */
    ldr     x0, [x19, #8]           /* arg */
    blr     x1
    /* fn returned: power this CPU off (PSCI CPU_OFF does not return). */
    bl      psci_cpu_off
4:  wfi
    b       4b

/* sp = top of the stack of the CPU whose MPIDR_EL1 is in x1. Uses x1-x4;
 * makes no memory access, so it is safe before .bss is cleared. */
set_cpu_stack:
    and     x2, x1, #0xff           /* Aff0 */
    ubfx    x3, x1, #8, #8          /* Aff1 */
    add     x2, x2, x3, lsl #4
    cmp     x2, #MAX_CPUS
    b.hs    5f                      /* more CPUs than stacks: park */
    adrp    x3, cpu_stacks
    add     x3, x3, :lo12:cpu_stacks
    add     x2, x2, #1
    mov     x4, #STACK_SIZE
    madd    x3, x2, x4, x3          /* the top of stack number x2 - 1 */
    mov     sp, x3
    ret
5:  wfi
    b       5b

install_vectors:
    adrp    x1, vectors
    add     x1, x1, :lo12:vectors
    msr     vbar_el1, x1
    isb
    ret

/*
 * The vector table (DDI 0487 D1.10.2 "Exception vectors"): 16 entries of
 * 0x80 bytes, VBAR_EL1 2 KiB aligned (its bits 10:0 are RES0). The groups
 * of four are: current EL with SP_EL0, current EL with SP_ELx, lower EL
 * using AArch64, lower EL using AArch32; in each, synchronous, IRQ, FIQ,
 * SError. Every entry saves x0/x1, puts its number (the `kind` of lib.h)
 * in x0 and joins the common path, which saves the rest of the frame and
 * calls exception_dispatch(kind, esr, far, elr, frame). The C side may
 * change the saved registers, ELR, SPSR and SP_EL0 in the frame; they are
 * restored from it before ERET.
 */
.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       vector_common
.endm

    .balign 0x800
    .global vectors
vectors:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    VECTOR 4
    VECTOR 5
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

vector_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x3, elr_el1
    stp     x30, x3, [sp, #FRAME_X30]
    mrs     x4, spsr_el1
    mrs     x5, sp_el0
    stp     x4, x5, [sp, #FRAME_SPSR]
    mrs     x1, esr_el1
    mrs     x2, far_el1
    mov     x4, sp
    bl      exception_dispatch
    ldp     x4, x5, [sp, #FRAME_SPSR]
    msr     spsr_el1, x4
    msr     sp_el0, x5
    ldr     x3, [sp, #FRAME_ELR]
    msr     elr_el1, x3
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #FRAME_X30]
    add     sp, sp, #FRAME_SIZE
    eret

    .bss
    .balign 16
    .global cpu_stacks
cpu_stacks:
    .space  MAX_CPUS * STACK_SIZE

/*
 * uint64_t enter_el0(void (*fn)(uint64_t), uint64_t arg, uint64_t stack_top)
 *
 * ERET to EL0t (SPSR M[3:0] = 0, DAIF masked: DDI 0487 C5.2.18) at fn with
 * x0 = arg and SP_EL0 = stack_top. The callee-saved registers stay on this
 * stack; SP_EL1 is left pointing at them, so an exception from EL0 builds
 * its frame below them, and return_from_el0 (lib.c) ERETs to el0_return
 * at EL1h with SP_EL1 back at this value.
 */
    .text
    .global enter_el0
    .global el0_return
enter_el0:
    stp     x29, x30, [sp, #-96]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    msr     sp_el0, x2
    msr     elr_el1, x0
    mov     x3, #0x3c0              /* EL0t, D, A, I, F masked */
    msr     spsr_el1, x3
    mov     x0, x1
    isb
    eret
el0_return:
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret
