; apic_relocate: per-CPU IA32_APIC_BASE (run with --smp 3 or more).
;
; RAM at NEW_BASE + 0x20 holds a marker. CPU 2 moves its APIC page there
; with WRMSR: it then reads its own APIC ID at the new base and nothing
; (all-ones) at 0xfee00000, while every other CPU still reads its own APIC
; at 0xfee00000 and the RAM marker at the new base. CPU 2 then disables its
; APIC through the MSR (the RAM shows through, CPUID.1:EDX.APIC reads 0)
; and enables it again at the default base. The BSP sequences the steps:
; each CPU acts only when `turn` holds its APIC ID, so the output order is
; fixed.
%include "lib32.inc"
%include "smp.inc"

NEW_BASE        equ 0x00800000          ; 8 MiB: plain RAM
MARKER          equ 0x5a5a5a5a
A_LOOK          equ 0
A_RELOCATE      equ 1
A_DISABLE       equ 2
A_REENABLE      equ 3

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        mov ax, 5                       ; FW_CFG_NB_CPUS
        call fw_cfg_select
        call fw_cfg_read16
        mov [ncpus], eax
        PRINT "fw_cfg: "
        call print_dec
        PRINTLN " CPUs"
        cmp eax, 3
        jae .enough
        FAIL "apic_relocate needs --smp 3 or more"
.enough:
        cmp eax, SMP_MAX_APS + 1
        jbe .count_ok
        FAIL "more CPUs than this image has AP stacks"
.count_ok:
        mov dword [NEW_BASE + APIC_ID], MARKER
        mov dword [turn], -1
        call start_aps
.wait:  pause
        mov eax, [arrived]
        inc eax
        cmp eax, [ncpus]
        jne .wait

        mov eax, A_RELOCATE
        mov ebx, 2
        call run_on
        xor ebx, ebx                    ; the BSP looks itself
        call act_look
        mov ebx, 1
.others:
        cmp ebx, 2
        je .next
        mov eax, A_LOOK
        call run_on
.next:  inc ebx
        cmp ebx, [ncpus]
        jb .others
        mov eax, A_DISABLE
        mov ebx, 2
        call run_on
        mov eax, A_REENABLE
        call run_on
        PRINTLN "apic_relocate done"
        EXIT 0x10

; run_on: have the CPU with APIC ID ebx perform action eax; wait for it.
run_on:
        mov [action], eax
        mov [turn], ebx
.w:     pause
        cmp dword [turn], -1
        jne .w
        ret

ap_main:
        call my_apic_id
        mov ebx, eax                    ; kept: the page may move or vanish
        lock inc dword [arrived]
.wait:  pause
        cmp [turn], ebx
        jne .wait
        mov eax, [action]
        call [actions + eax * 4]
        mov dword [turn], -1
        jmp .wait

actions:
        dd act_look, act_relocate, act_disable, act_reenable

; act_look: "cpuN: [0x00800020]=.. [0xfee00020]=.." (ebx = APIC ID)
act_look:
        PRINT "cpu"
        mov eax, ebx
        call print_dec
        PRINT ": [NEW_BASE+0x20]="
        mov eax, [NEW_BASE + APIC_ID]
        call print_hex
        PRINT " [0xfee00020]="
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        call newline
        ret

; print_apic_msr: " IA32_APIC_BASE 0x.., CPUID.1:EDX.APIC=n"
print_apic_msr:
        PRINT " IA32_APIC_BASE "
        mov ecx, MSR_APIC_BASE
        rdmsr
        call print_hex
        PRINT ", CPUID.1:EDX.APIC="
        mov eax, 1
        cpuid
        mov eax, edx
        shr eax, 9
        and eax, 1
        call print_dec
        call newline
        ret

act_relocate:
        push ebx
        PRINT "cpu2: before:"
        call print_apic_msr
        mov ecx, MSR_APIC_BASE
        mov eax, NEW_BASE | 0x800       ; EN
        xor edx, edx
        wrmsr
        PRINT "cpu2: after WRMSR:"
        call print_apic_msr
        pop ebx
        call act_look
        ret

act_disable:
        push ebx
        mov ecx, MSR_APIC_BASE
        mov eax, NEW_BASE               ; EN clear
        xor edx, edx
        wrmsr
        PRINT "cpu2: disabled:"
        call print_apic_msr
        pop ebx
        call act_look
        ret

act_reenable:
        push ebx
        mov ecx, MSR_APIC_BASE
        mov eax, APIC_BASE | 0x800
        xor edx, edx
        wrmsr
        PRINT "cpu2: enabled again:"
        call print_apic_msr
        pop ebx
        call act_look
        ret

        SMP_CODE
        LIB_CODE
image_end:
        section .bss
        alignb 64
ncpus:  resd 1
arrived: resd 1
turn:   resd 1
action: resd 1
        LIB_BSS
        SMP_BSS
bss_end:
