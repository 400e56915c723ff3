; apic_disable: one CPU globally disables its local APIC through
; IA32_APIC_BASE (run with --smp 3 or more).
;
; Intel SDM Vol. 3A 10.4.3 "Enabling or Disabling the Local APIC": clearing
; IA32_APIC_BASE[11] (EN) disables the APIC; its register page is gone, so
; 0xfee00000 shows what the platform has beneath it. The pc machine's global
; map has nothing at 0xfee00000 (the IOAPIC is at 0xfec00000): an
; unassigned address, reads all-ones, writes vanish. CPUID.1:EDX[9] follows
; EN (10.4.3). Every other CPU keeps its own APIC page at 0xfee00000 (each
; CPU's APIC is private to it, 10.4.1). Setting EN again brings the page
; back; 10.4.3 lets a cleared EN return the APIC to its power-up state, so
; the re-enabled APIC has SVR = 0xff (software-disabled, 10.4.7.1) and its
; own APIC ID again. CPU 1 is the one disabled; the BSP sequences the steps.
%include "lib32.inc"
%include "check32.inc"
%include "smp.inc"
%include "smp_turn.inc"

A_LOOK          equ 0
A_DISABLE       equ 1
A_REENABLE      equ 2
APIC_TPR        equ 0x080

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        mov eax, 3
        call read_ncpus
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        call start_aps
        call wait_arrived

        xor ebx, ebx
        call act_look                   ; the BSP looks itself
        mov eax, A_DISABLE
        mov ebx, 1
        call run_on
        xor ebx, ebx
        call act_look
        mov ebx, 2
.others:
        mov eax, A_LOOK
        call run_on
        inc ebx
        cmp ebx, [ncpus]
        jb .others
        mov eax, A_REENABLE
        mov ebx, 1
        call run_on
        xor ebx, ebx
        call act_look
        PRINTLN "apic_disable done"
        EXIT 0x10

ap_main:
        mov dword [APIC_BASE + APIC_SVR], 0x1ff   ; software-enabled
        call my_apic_id
        mov ebx, eax
        jmp ap_serve

actions:
        dd act_look, act_disable, act_reenable

; act_look: "cpuN: [0xfee00020]=.." (ebx = APIC ID)
act_look:
        PRINT "cpu"
        mov eax, ebx
        call print_dec
        PRINT ": [0xfee00020]="
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        call newline
        mov eax, ebx
        shl eax, 24
        CHECKV [APIC_BASE + APIC_ID], eax, 0x20, "an enabled APIC does not show its ID"
        ret

; print_apic_msr: " IA32_APIC_BASE 0x.., CPUID.1:EDX.APIC=n"; eax = the MSR
; (CPUID clobbers ebx: kept on the stack)
print_apic_msr:
        push ebx
        push esi
        PRINT " IA32_APIC_BASE "
        mov ecx, MSR_APIC_BASE
        rdmsr
        mov esi, eax
        call print_hex
        PRINT ", CPUID.1:EDX.APIC="
        mov eax, 1
        cpuid
        mov eax, edx
        shr eax, 9
        and eax, 1
        call print_dec
        call newline
        mov eax, esi
        pop esi
        pop ebx
        ret

act_disable:
        mov ecx, MSR_APIC_BASE
        mov eax, APIC_BASE              ; EN (bit 11) clear, same base
        xor edx, edx
        wrmsr
        PRINT "cpu1: disabled:"
        call print_apic_msr
        CHECKV eax, APIC_BASE, 0x21, "IA32_APIC_BASE does not read back EN=0"
        mov eax, 1
        cpuid
        test edx, 1 << 9
        jz .cpuid_ok
        FAILV 0x22, "CPUID.1:EDX.APIC still 1 with EN=0"
.cpuid_ok:
        PRINT "cpu1: [0xfee00020]="
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        PRINT " [0xfee000f0]="
        mov eax, [APIC_BASE + APIC_SVR]
        call print_hex
        call newline
        CHECKV dword [APIC_BASE + APIC_ID], -1, 0x23, "0xfee00020 is not unassigned (all-ones) with the APIC disabled"
        CHECKV dword [APIC_BASE + APIC_SVR], -1, 0x24, "0xfee000f0 is not unassigned (all-ones) with the APIC disabled"
        mov dword [APIC_BASE + APIC_TPR], 0x12345678
        PRINT "cpu1: wrote 0x12345678 to 0xfee00080, reads "
        mov eax, [APIC_BASE + APIC_TPR]
        call print_hex
        call newline
        CHECKV dword [APIC_BASE + APIC_TPR], -1, 0x25, "a write to the unassigned 0xfee00080 stuck"
        ret

act_reenable:
        mov ecx, MSR_APIC_BASE
        mov eax, APIC_BASE | 0x800      ; EN
        xor edx, edx
        wrmsr
        PRINT "cpu1: enabled again:"
        call print_apic_msr
        CHECKV eax, APIC_BASE | 0x800, 0x26, "IA32_APIC_BASE does not read back EN=1"
        PRINT "cpu1: [0xfee00020]="
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        PRINT " SVR="
        mov eax, [APIC_BASE + APIC_SVR]
        call print_hex
        PRINT " TPR="
        mov eax, [APIC_BASE + APIC_TPR]
        call print_hex
        call newline
        CHECKV dword [APIC_BASE + APIC_ID], 0x01000000, 0x27, "the re-enabled APIC lost its ID"
        CHECKV dword [APIC_BASE + APIC_SVR], 0xff, 0x28, "the re-enabled APIC is not in its power-up state (SVR 0xff)"
        CHECKV dword [APIC_BASE + APIC_TPR], 0, 0x29, "the TPR write went to the APIC while it was disabled"
        ret

        TURN_CODE
        SMP_CODE
        LIB_CODE
image_end:
        section .bss
        TURN_BSS
        LIB_BSS
        SMP_BSS
bss_end:
