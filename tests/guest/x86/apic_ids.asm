; apic_ids: SMP bring-up and per-CPU local APIC pages (run with --smp N).
;
; The BSP reads the CPU count from fw_cfg (QEMU's interface at 0x510),
; starts the APs with INIT-SIPI-SIPI through a real-mode trampoline at
; 0x8000 (smp.inc), and every CPU reports, one line each under a spinlock:
; the APIC ID register it reads at 0xfee00020 (the same address on every
; CPU, each reaching its own APIC page), the initial APIC ID from CPUID
; leaf 1, whether IA32_APIC_BASE says BSP, and the MSR itself. The BSP waits
; until every AP has reported, then exits with 0x10. The APs' lines come in
; whatever order the scheduler gives them.
%include "lib32.inc"
%include "smp.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        ; fw_cfg: the signature, then the CPU count.
        xor eax, eax                    ; FW_CFG_SIGNATURE
        call fw_cfg_select
        mov dx, FW_CFG_DATA
        mov ecx, 4
        mov edi, signature
.sig:   in al, dx
        stosb
        loop .sig
        cmp dword [signature], 'QEMU'
        je .sig_ok
        FAIL "no QEMU signature at fw_cfg key 0"
.sig_ok:
        mov ax, 5                       ; FW_CFG_NB_CPUS
        call fw_cfg_select
        call fw_cfg_read16
        mov [ncpus], eax
        PRINT "fw_cfg: QEMU, "
        call print_dec
        PRINTLN " CPUs"
        cmp eax, SMP_MAX_APS + 1
        jbe .count_ok
        FAIL "more CPUs than this image has AP stacks"
.count_ok:
        mov dword [APIC_BASE + APIC_SVR], 0x1ff   ; software-enable the BSP's APIC
        call report
        cmp dword [ncpus], 1
        je .all
        call start_aps
.wait:  pause
        mov eax, [arrived]
        inc eax
        cmp eax, [ncpus]
        jne .wait
.all:   PRINT "all "
        mov eax, [ncpus]
        call print_dec
        PRINTLN " CPUs reported"
        EXIT 0x10

; Each AP, in protected mode on its own stack.
ap_main:
        call report
        lock inc dword [arrived]
        ret

; report: "APIC ID n: ID register 0x.., CPUID initial ID n, BSP|AP,
; IA32_APIC_BASE 0x.."
report:
        pushad
        call lock_print
        PRINT "APIC ID "
        call my_apic_id
        call print_dec
        PRINT ": ID register "
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        PRINT ", CPUID initial ID "
        mov eax, 1
        cpuid
        mov eax, ebx
        shr eax, 24
        call print_dec
        mov ecx, MSR_APIC_BASE
        rdmsr
        mov ebx, eax
        test eax, 0x100                 ; IA32_APIC_BASE.BSP
        jz .ap
        PRINT ", BSP"
        jmp .msr
.ap:    PRINT ", AP"
.msr:   PRINT ", IA32_APIC_BASE "
        mov eax, ebx
        call print_hex
        call newline
        call unlock_print
        popad
        ret

        SMP_CODE
        LIB_CODE
image_end:
        section .bss
        alignb 64
signature: resd 1
ncpus:  resd 1
arrived: resd 1
        LIB_BSS
        SMP_BSS
bss_end:
