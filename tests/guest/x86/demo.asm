; demo: per-CPU views on the pc machine (run with --smp 4, and --trace tlb
; to see each CPU's TLB statistics at exit).
;
; The BSP starts the APs (INIT-SIPI-SIPI, smp.inc) and sequences the steps
; (smp_turn.inc), so the serial output has a fixed order:
;  1. each CPU prints its APIC ID, read at 0xfee00020;
;  2. CPU 2 moves its APIC page to 0xfed00000 (IA32_APIC_BASE): it reads
;     its APIC ID at 0xfed00020 and what lies beneath at 0xfee00020, while
;     CPU 0 still reads its own APIC at 0xfee00020;
;  3. CPU 1 takes an SMI (an SMI IPI by physical APIC ID) with its handler
;     at the default SMBASE 0x30000 + 0x8000; in SMM it reads SMRAM at
;     0xa0000 while CPU 0, at the same time, reads the VGA window there;
;     after RSM CPU 1 reads the VGA window again.
; SMRAM is set up through the i440FX SMRAM register (PCI 0:0.0 offset
; 0x72): G_SMRAME|D_OPEN to write the SMRAM marker, then G_SMRAME alone
; (closed) before the SMI.
%include "lib32.inc"
%include "check32.inc"
%include "smp.inc"
%include "smp_turn.inc"

NEW_BASE        equ 0xfed00000
PCI_ADDR        equ 0xcf8
PCI_DATA        equ 0xcfc
SMRAM_REG       equ 0x72
G_SMRAME        equ 0x08
D_OPEN          equ 0x40
VGA_MARK        equ 0x21414756          ; "VGA!"
SMRAM_MARK      equ 0x41524d53          ; "SMRA"
SMI_ENTRY       equ 0x30000 + 0x8000
ICR_SMI         equ 0x200
WAIT_LOOPS      equ 1000000
A_ID            equ 0
A_RELOCATE      equ 1
A_LOOK_VGA      equ 2

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        cld
        mov eax, 4
        call read_ncpus
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        mov esi, handler
        mov edi, SMI_ENTRY
        mov ecx, handler_end - handler
        rep movsb
        mov dword [0xa0000], VGA_MARK   ; closed: the VGA window
        mov al, G_SMRAME | D_OPEN
        call smram_write
        mov dword [0xa0000], SMRAM_MARK ; open: SMRAM
        mov al, G_SMRAME
        call smram_write
        PRINT "SMRAM control="
        call smram_read
        call print_hex
        call newline
        CHECKV eax, G_SMRAME | 2, 0x20, "SMRAM register not closed"
        call start_aps
        call wait_arrived
        PRINTLN "APs up"

        ; --- 1. every CPU's APIC ID ---
        xor ebx, ebx
        call act_id
        mov ebx, 1
.ids:   mov eax, A_ID
        call run_on
        inc ebx
        cmp ebx, [ncpus]
        jb .ids

        ; --- 2. CPU 2 relocates its APIC ---
        mov eax, A_RELOCATE
        mov ebx, 2
        call run_on
        CHECKV dword [reloc_new], 0x02000000, 0x21, "cpu2 does not see its APIC at 0xfed00000"
        CHECKV dword [reloc_old], 0xffffffff, 0x22, "cpu2 still sees an APIC at 0xfee00000"
        PRINT "cpu0: 0xfee00020 still reads "
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        call newline
        CHECKV eax, 0, 0x23, "cpu0 lost its APIC at 0xfee00000"

        ; --- 3. SMI on CPU 1 while CPU 0 reads the VGA window ---
        PRINTLN "SMI IPI to cpu1:"
        mov dword [APIC_BASE + APIC_ICR_HI], 1 << 24
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_SMI
        mov ecx, WAIT_LOOPS
.w:     cmp dword [cpu1_in_smm], 0
        jne .look
        pause
        dec ecx
        jnz .w
        FAILV 0x24, "cpu1 did not enter SMM"
.look:  mov eax, [0xa0000]
        mov [seen_other], eax
        mov dword [looked], 1
        mov ecx, WAIT_LOOPS
.w2:    cmp dword [smi_count], 0
        jne .out
        pause
        dec ecx
        jnz .w2
        FAILV 0x25, "cpu1 did not leave SMM"
.out:   PRINT "cpu1: in SMM 0xa0000 reads "
        mov eax, [seen_smm]
        call print_hex
        call newline
        PRINT "cpu0: at the same time 0xa0000 reads "
        mov eax, [seen_other]
        call print_hex
        call newline
        CHECKV dword [seen_smm], SMRAM_MARK, 0x26, "cpu1 in SMM does not see SMRAM"
        CHECKV dword [seen_other], VGA_MARK, 0x27, "cpu1's SMM opened SMRAM to cpu0"
        CHECKV dword [cpu1_waited], 1, 0x28, "cpu0 did not look while cpu1 was in SMM"
        CHECKV dword [smi_count], 1, 0x29, "the SMI handler ran more than once"
        mov eax, A_LOOK_VGA
        mov ebx, 1
        call run_on
        CHECKV dword [after_rsm], VGA_MARK, 0x2a, "cpu1 still sees SMRAM after RSM"
        PRINTLN "demo done"
        EXIT 0x10

ap_main:
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        call my_apic_id
        mov ebx, eax
        jmp ap_serve

actions:
        dd act_id, act_relocate, act_look_vga

; act_id: "cpuN: APIC ID at 0xfee00020 = ..."
act_id:
        PRINT "cpu"
        mov eax, ebx
        call print_dec
        PRINT ": APIC ID at 0xfee00020 = "
        mov eax, [APIC_BASE + APIC_ID]
        call print_hex
        call newline
        shr eax, 24
        CHECKV eax, ebx, 0x2b, "an APIC ID differs from the CPU's number"
        ret

act_relocate:
        mov ecx, MSR_APIC_BASE
        mov eax, NEW_BASE | 0x800       ; EN
        xor edx, edx
        wrmsr
        mov eax, [NEW_BASE + APIC_ID]
        mov [reloc_new], eax
        mov eax, [APIC_BASE + APIC_ID]
        mov [reloc_old], eax
        PRINT "cpu2: APIC moved to 0xfed00000: 0xfed00020 reads "
        mov eax, [reloc_new]
        call print_hex
        PRINT ", 0xfee00020 reads "
        mov eax, [reloc_old]
        call print_hex
        call newline
        ret

act_look_vga:
        mov eax, [0xa0000]
        mov [after_rsm], eax
        PRINT "cpu1: after RSM 0xa0000 reads "
        call print_hex
        call newline
        ret

smram_write:
        push edx
        push eax
        mov eax, 0x80000000 | (SMRAM_REG & 0xfc)
        mov dx, PCI_ADDR
        out dx, eax
        pop eax
        mov dx, PCI_DATA + (SMRAM_REG & 3)
        out dx, al
        pop edx
        ret

; smram_read: eax = the SMRAM register
smram_read:
        push edx
        mov eax, 0x80000000 | (SMRAM_REG & 0xfc)
        mov dx, PCI_ADDR
        out dx, eax
        mov dx, PCI_DATA + (SMRAM_REG & 3)
        xor eax, eax
        in al, dx
        pop edx
        ret

; The SMI handler at 0x38000 (16-bit, SMM big-real-mode state): CPU 1 only.
        bits 16
handler:
        mov ecx, [dword 0xa0000]
        mov [dword seen_smm], ecx
        mov dword [dword cpu1_in_smm], 1   ; cpu0 looks now
        mov edx, WAIT_LOOPS
.w:     cmp dword [dword looked], 0
        jne .seen
        pause
        dec edx
        jnz .w
        jmp .out
.seen:  mov dword [dword cpu1_waited], 1
.out:   mov dword [dword cpu1_in_smm], 0
        lock inc dword [dword smi_count]
        rsm
handler_end:
        bits 32

        TURN_CODE
        SMP_CODE
        LIB_CODE
image_end:
        section .bss
        TURN_BSS
        alignb 64
cpu1_in_smm: resd 1
looked: resd 1
cpu1_waited: resd 1
seen_other: resd 1
seen_smm: resd 1
smi_count: resd 1
reloc_new: resd 1
reloc_old: resd 1
after_rsm: resd 1
        LIB_BSS
        SMP_BSS
bss_end:
