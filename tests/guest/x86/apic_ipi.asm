; apic_ipi: interprocessor interrupts, TPR and the APIC timer (run with
; --smp 3 or more; the counts printed are for every CPU).
;
; Intel SDM Vol. 3A chapter 10 (numbered as in devices/apic.h):
;  - 10.6.1 ICR: a fixed IPI, physical destination mode, to APIC ID 1 only;
;    the "all excluding self" shorthand (10.6.1, destination shorthand
;    11b) reaches every AP and not the sender.
;  - 10.6.2.2 logical destination mode, flat model (DFR 0xffffffff): each
;    CPU's LDR holds bit (APIC ID) (10.6.2.2 figure 10-13): an MDA of 0x04
;    reaches CPU 2 only, 0x06 CPUs 1 and 2, 0x07 the sender too.
;  - 10.8.3.1 task priority: with TPR = 0x50 a fixed interrupt of class 5
;    (vector 0x55) is not dispatched (its class is not above PPR's): it
;    stays in IRR (10.8.4) while one of class 6 (0x65) is taken; lowering
;    TPR to 0x40 dispatches 0x55. 10.8.5 EOI: every handler ends with an
;    EOI; without it the repeated same-class IPIs would stay blocked by ISR.
;  - 10.5.4 APIC timer: one-shot and periodic, with the divide
;    configuration register. The pc machine's timer clock is 100 MHz (one
;    tick every 10 ns) and RDTSC reads the virtual clock (1 ns per
;    instruction, time skipped while all CPUs halt), so with the other CPUs
;    parked the periods measured with RDTSC between timer interrupts are
;    exact.
; Handlers count per vector and per CPU in `counts` (the CPU from its own
; APIC ID register).
%include "lib32.inc"
%include "check32.inc"
%include "smp.inc"
%include "smp_turn.inc"

MAXCPU          equ 64
APIC_TPR        equ 0x080
APIC_PPR        equ 0x0a0
APIC_EOI        equ 0x0b0
APIC_LDR        equ 0x0d0
APIC_DFR        equ 0x0e0
APIC_IRR        equ 0x200
APIC_ISR        equ 0x100
ICR_LOGICAL     equ 0x800
ICR_ALL_BUT_SELF equ 0xc0000
LVT_PERIODIC    equ 0x20000
LVT_MASKED      equ 0x10000
V_FIXED         equ 0x40            ; slot 0
V_BCAST         equ 0x41            ; slot 1
V_LOGICAL       equ 0x42            ; slot 2
V_LOW           equ 0x55            ; slot 3 (class 5)
V_HIGH          equ 0x65            ; slot 4 (class 6)
V_TIMER         equ 0x50
NSLOTS          equ 5
WAIT_LOOPS      equ 2000000         ; bound on every wait (virtual ns: far more than needed)
NTICKS          equ 6

A_TPR_RAISE     equ 0
A_TPR_LOWER     equ 1
A_PARK          equ 2

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        call setup_idt
        call load_idt
        mov eax, 3
        call read_ncpus
        call apic_setup
        call start_aps
        call wait_arrived
        sti

        ; --- fixed, physical destination 1 ---
        mov dword [APIC_BASE + APIC_ICR_HI], 1 << 24
        mov dword [APIC_BASE + APIC_ICR_LO], V_FIXED
        mov eax, 0
        mov ebx, 1
        mov ecx, 1
        call wait_count
        PRINT "fixed 0x40 to APIC ID 1:"
        mov eax, 0
        call print_counts
        mov eax, 0
        mov ecx, 2                      ; CPU 1 only
        call check_counts_mask
        CHECKV eax, 1, 0x20, "fixed physical IPI: wrong receivers"

        ; --- all excluding self ---
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_ALL_BUT_SELF | V_BCAST
        mov ebx, 1
.bc:    mov eax, 1
        mov ecx, 1
        call wait_count
        inc ebx
        cmp ebx, [ncpus]
        jb .bc
        PRINT "0x41 to all excluding self:"
        mov eax, 1
        call print_counts
        mov eax, 1
        mov ecx, -2                     ; every CPU but 0
        call check_counts_mask
        CHECKV eax, 1, 0x21, "all-excluding-self IPI: wrong receivers"

        ; --- logical, flat model ---
        PRINT "cpu0: DFR="
        mov eax, [APIC_BASE + APIC_DFR]
        call print_hex
        PRINT " LDR="
        mov eax, [APIC_BASE + APIC_LDR]
        call print_hex
        call newline
        mov dword [APIC_BASE + APIC_ICR_HI], 0x04 << 24
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_LOGICAL | V_LOGICAL
        mov eax, 2
        mov ebx, 2
        mov ecx, 1
        call wait_count
        mov dword [APIC_BASE + APIC_ICR_HI], 0x06 << 24
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_LOGICAL | V_LOGICAL
        mov eax, 2
        mov ebx, 2
        mov ecx, 2
        call wait_count
        mov dword [APIC_BASE + APIC_ICR_HI], 0x07 << 24
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_LOGICAL | V_LOGICAL
        mov eax, 2
        mov ebx, 2
        mov ecx, 3
        call wait_count
        mov eax, 2
        xor ebx, ebx
        mov ecx, 1
        call wait_count
        PRINT "0x42 logical to MDA 0x04, 0x06, 0x07:"
        mov eax, 2
        call print_counts
        CHECKV dword [counts + (2 * MAXCPU + 0) * 4], 1, 0x22, "logical IPI: cpu0 count"
        CHECKV dword [counts + (2 * MAXCPU + 1) * 4], 2, 0x22, "logical IPI: cpu1 count"
        CHECKV dword [counts + (2 * MAXCPU + 2) * 4], 3, 0x22, "logical IPI: cpu2 count"
        mov ebx, 3
.lz:    cmp ebx, [ncpus]
        jae .lz_done
        CHECKV dword [counts + (2 * MAXCPU) * 4 + ebx * 4], 0, 0x22, "logical IPI: a CPU outside the MDA got it"
        inc ebx
        jmp .lz
.lz_done:

        ; --- TPR holds a class <= TPR in IRR ---
        mov eax, A_TPR_RAISE
        mov ebx, 1
        call run_on
        mov dword [APIC_BASE + APIC_ICR_HI], 1 << 24
        mov dword [APIC_BASE + APIC_ICR_LO], V_LOW
        mov dword [APIC_BASE + APIC_ICR_LO], V_HIGH
        mov eax, 4
        mov ebx, 1
        mov ecx, 1
        call wait_count                 ; 0x65 is taken
        PRINT "TPR 0x50 on cpu1: 0x55 taken "
        mov eax, [counts + (3 * MAXCPU + 1) * 4]
        call print_dec
        PRINT "x, 0x65 taken "
        mov eax, [counts + (4 * MAXCPU + 1) * 4]
        call print_dec
        PRINTLN "x"
        CHECKV dword [counts + (3 * MAXCPU + 1) * 4], 0, 0x23, "vector 0x55 was dispatched with TPR 0x50"
        mov eax, A_TPR_LOWER
        mov ebx, 1
        call run_on

        ; --- the APs are done: park them, then the timer on the BSP alone ---
        mov ebx, 1
.park:  mov eax, A_PARK
        call run_on
        inc ebx
        cmp ebx, [ncpus]
        jb .park
        call timer_tests
        PRINTLN "apic_ipi done"
        EXIT 0x10

; apic_setup: software-enable this CPU's APIC, flat logical model, LDR bit
; = APIC ID (IDs 0-7 only; the others get LDR 0).
apic_setup:
        push eax
        push ecx
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        mov dword [APIC_BASE + APIC_DFR], 0xffffffff
        call my_apic_id
        xor ecx, ecx
        cmp eax, 8
        jae .set
        mov cl, al
        mov eax, 1
        shl eax, cl
        shl eax, 24
        mov ecx, eax
.set:   mov [APIC_BASE + APIC_LDR], ecx
        pop ecx
        pop eax
        ret

ap_main:
        call load_idt
        call apic_setup
        call my_apic_id
        mov ebx, eax
        sti
        jmp ap_serve

actions:
        dd act_tpr_raise, act_tpr_lower, act_park

act_tpr_raise:
        mov dword [APIC_BASE + APIC_TPR], 0x50
        PRINT "cpu1: TPR="
        mov eax, [APIC_BASE + APIC_TPR]
        call print_hex
        PRINT " PPR="
        mov eax, [APIC_BASE + APIC_PPR]
        call print_hex
        call newline
        ret

; IRR bit of vector v: register APIC_IRR + (v / 32) * 0x10, bit v % 32.
act_tpr_lower:
        PRINT "cpu1: IRR bit 0x55="
        mov eax, [APIC_BASE + APIC_IRR + (V_LOW / 32) * 0x10]
        shr eax, V_LOW % 32
        and eax, 1
        call print_dec
        call newline
        CHECKV eax, 1, 0x24, "vector 0x55 is not held in IRR under TPR 0x50"
        mov dword [APIC_BASE + APIC_TPR], 0x40
        mov eax, 3
        mov ebx, 1
        mov ecx, 1
        call wait_count
        PRINT "cpu1: TPR=0x40: 0x55 taken "
        mov eax, [counts + (3 * MAXCPU + 1) * 4]
        call print_dec
        PRINT "x, IRR bit 0x55="
        mov eax, [APIC_BASE + APIC_IRR + (V_LOW / 32) * 0x10]
        shr eax, V_LOW % 32
        and eax, 1
        call print_dec
        PRINT ", ISR bit 0x55="
        mov eax, [APIC_BASE + APIC_ISR + (V_LOW / 32) * 0x10]
        shr eax, V_LOW % 32
        and eax, 1
        call print_dec
        call newline
        CHECKV eax, 0, 0x25, "EOI left vector 0x55 in ISR"
        ret

act_park:
        cli
        mov dword [turn], -1
.h:     hlt
        jmp .h

; wait_count: until counts[slot eax][cpu ebx] >= ecx (FAILV 0x2f after
; WAIT_LOOPS tries).
wait_count:
        push edx
        push esi
        mov esi, eax
        shl esi, 6                      ; * MAXCPU
        add esi, ebx
        mov edx, WAIT_LOOPS
.w:     cmp [counts + esi * 4], ecx
        jae .ok
        pause
        dec edx
        jnz .w
        FAILV 0x2f, "an expected interrupt never arrived"
.ok:    pop esi
        pop edx
        ret

; print_counts: " cpu0=n cpu1=n ..." and a newline, for slot eax.
print_counts:
        pushad
        mov esi, eax
        shl esi, 6
        xor ebx, ebx
.n:     PRINT " cpu"
        mov eax, ebx
        call print_dec
        PRINT "="
        mov eax, [counts + esi * 4]
        call print_dec
        inc esi
        inc ebx
        cmp ebx, [ncpus]
        jb .n
        call newline
        popad
        ret

; check_counts_mask: eax = 1 if, for slot eax, exactly the CPUs of bit
; mask ecx (bit n = CPU n; bits beyond 31 as bit 31) have count 1 and the
; others 0; else 0.
check_counts_mask:
        push ebx
        push edx
        push esi
        mov esi, eax
        shl esi, 6
        xor ebx, ebx
.n:     xor edx, edx
        push ecx
        cmp ebx, 31
        jbe .bit
        mov ebx, 31
.bit:   bt ecx, ebx
        pop ecx
        adc edx, 0                      ; expected count
        cmp [counts + esi * 4], edx
        jne .bad
        inc esi
        inc ebx
        mov eax, esi
        and eax, MAXCPU - 1
        cmp eax, [ncpus]
        jb .n
        mov eax, 1
        jmp .out
.bad:   xor eax, eax
.out:   pop esi
        pop edx
        pop ebx
        ret

; --- timer (BSP only; every AP parked with interrupts off) ---
timer_tests:
        ; one-shot, divide by 2 (divide configuration 0000b), count 1000:
        ; 1000 * 2 * 10 ns = 20000 ns.
        mov dword [ticks], 0
        mov dword [APIC_BASE + APIC_TIMER_DIV], 0x0
        mov dword [APIC_BASE + APIC_LVT_TIMER], V_TIMER
        rdtsc
        mov [tsc_start], eax
        mov dword [APIC_BASE + APIC_TIMER_INIT], 1000
.os:    hlt                             ; IF=1: the timer interrupt wakes it
        cmp dword [ticks], 1
        jb .os
        ; wait 3 more periods by the TSC: no second tick.
        rdtsc
        mov ecx, eax
.spin:  rdtsc
        sub eax, ecx
        cmp eax, 60000
        jb .spin
        PRINT "one-shot, divide by 2, count 1000: "
        mov eax, [ticks]
        call print_dec
        PRINT " tick after "
        mov eax, [tsc_log]
        sub eax, [tsc_start]
        call print_dec
        PRINT " ns (expected 20000 + entry), current count "
        mov eax, [APIC_BASE + APIC_TIMER_CUR]
        call print_dec
        call newline
        CHECKV dword [ticks], 1, 0x26, "one-shot timer fired more than once"
        CHECKV dword [APIC_BASE + APIC_TIMER_CUR], 0, 0x27, "one-shot current count not 0 after expiry"
        mov eax, [tsc_log]
        sub eax, [tsc_start]
        sub eax, 20000
        cmp eax, 100                    ; a few instructions of delivery
        jb .os_ok
        FAILV 0x28, "one-shot timer: wrong expiry time"
.os_ok:
        ; periodic, divide by 8 (0010b), count 250: 250 * 8 * 10 ns = 20000 ns.
        mov dword [ticks], 0
        mov dword [APIC_BASE + APIC_TIMER_DIV], 0x2
        mov dword [APIC_BASE + APIC_LVT_TIMER], LVT_PERIODIC | V_TIMER
        mov dword [APIC_BASE + APIC_TIMER_INIT], 250
.per:   hlt
        cmp dword [ticks], NTICKS
        jb .per
        mov dword [APIC_BASE + APIC_LVT_TIMER], LVT_MASKED | V_TIMER
        mov dword [APIC_BASE + APIC_TIMER_INIT], 0      ; stop
        PRINT "periodic, divide by 8, count 250: periods"
        mov ebx, 1
        xor edi, edi                    ; mismatches
.p:     PRINT " "
        mov eax, [tsc_log + ebx * 4]
        sub eax, [tsc_log + ebx * 4 - 4]
        call print_dec
        cmp eax, 20000
        je .p_ok
        inc edi
.p_ok:  inc ebx
        cmp ebx, NTICKS
        jb .p
        PRINTLN " ns (expected 20000)"
        CHECKV edi, 0, 0x29, "periodic timer: a period is not 20000 ns"
        ret

; --- handlers ---
%macro COUNTER 2                        ; vector, slot
isr_%1:
        push eax
        push ebx
        mov ebx, [APIC_BASE + APIC_ID]
        shr ebx, 24
        lock inc dword [counts + (%2 * MAXCPU) * 4 + ebx * 4]
        mov dword [APIC_BASE + APIC_EOI], 0
        pop ebx
        pop eax
        iretd
%endmacro
        COUNTER V_FIXED, 0
        COUNTER V_BCAST, 1
        COUNTER V_LOGICAL, 2
        COUNTER V_LOW, 3
        COUNTER V_HIGH, 4

isr_timer:
        push eax
        push edx
        push ebx
        rdtsc
        mov ebx, [ticks]
        cmp ebx, NTICKS
        jae .skip
        mov [tsc_log + ebx * 4], eax
.skip:  inc dword [ticks]
        mov dword [APIC_BASE + APIC_EOI], 0
        pop ebx
        pop edx
        pop eax
        iretd

setup_idt:
        mov cl, INT_GATE
        mov eax, V_FIXED
        mov ebx, isr_ %+ V_FIXED
        call set_gate
        mov eax, V_BCAST
        mov ebx, isr_ %+ V_BCAST
        call set_gate
        mov eax, V_LOGICAL
        mov ebx, isr_ %+ V_LOGICAL
        call set_gate
        mov eax, V_LOW
        mov ebx, isr_ %+ V_LOW
        call set_gate
        mov eax, V_HIGH
        mov ebx, isr_ %+ V_HIGH
        call set_gate
        mov eax, V_TIMER
        mov ebx, isr_timer
        call set_gate
        ret

        TURN_CODE
        SMP_CODE
        LIB_CODE
image_end:
        section .bss
        TURN_BSS
        alignb 64
counts: resd NSLOTS * MAXCPU
ticks:  resd 1
tsc_start: resd 1
tsc_log: resd NTICKS
        LIB_BSS
        SMP_BSS
bss_end:
