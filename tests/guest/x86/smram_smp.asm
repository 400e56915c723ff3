; smram_smp: SMRAM visibility per CPU under the i440FX SMRAM control
; register (run with --smp 2 or more).
;
; Intel 82441FX (i440FX) PMC datasheet, register SMRAM (0:0.0 offset 72h),
; as devices/i440fx_smram.h describes it: SMRAM (DRAM at 0xa0000-0xbffff)
; shows for a CPU when G_SMRAME && (D_OPEN || that CPU is in SMM), the VGA
; window otherwise; D_LCK clears D_OPEN and makes D_OPEN and D_LCK read-only
; until a power-on reset (the guest cannot reset this machine: 0xcf9 is
; absent, so "until reset" is not testable here). D_CLS is stored only
; (one view per CPU serves code and data: it cannot hide data alone) and
; is not tested. SDM Vol. 3C 34.4 "SMRAM": the chipset decides, per access,
; whether SMRAM is seen; an SMI to one CPU does not open SMRAM to another.
;
; The SMIs here go to one CPU at a time (an SMI IPI, SDM Vol. 3A 10.6.1,
; delivery mode 010b): every CPU still has the default SMBASE 0x30000, so
; two at once would share one save map. The handler at 0x38000 records,
; per CPU, what 0xa0000 reads in SMM. While CPU 0 is in SMM, CPU 1 reads
; 0xa0000 (outside SMM: the VGA window).
%include "lib32.inc"
%include "check32.inc"
%include "smp.inc"
%include "smp_turn.inc"

MAXCPU          equ 64
PCI_ADDR        equ 0xcf8
PCI_DATA        equ 0xcfc
SMRAM_REG       equ 0x72
G_SMRAME        equ 0x08
D_LCK           equ 0x10
D_OPEN          equ 0x40
VGA_MARK        equ 0x21414756          ; "VGA!"
SMRAM_MARK      equ 0x41524d53          ; "SMRA"
ICR_SMI         equ 0x200
WAIT_LOOPS      equ 1000000
A_LOOK          equ 0
A_LOOK_IN_SMM   equ 1                   ; CPU 1 while CPU 0 is in SMM

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        cld
        mov eax, 2
        call read_ncpus
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        mov esi, handler
        mov edi, 0x38000
        mov ecx, handler_end - handler
        rep movsb
        call start_aps
        call wait_arrived

        mov dword [0xa0000], VGA_MARK
        call print_smram
        PRINTLN "open (G_SMRAME|D_OPEN), write the SMRAM marker:"
        mov al, G_SMRAME | D_OPEN
        call smram_write
        call print_smram
        mov dword [0xa0000], SMRAM_MARK
        call look_all
        mov eax, SMRAM_MARK
        call check_all
        CHECKV eax, 1, 0x20, "D_OPEN does not show SMRAM to every CPU"

        PRINTLN "close (G_SMRAME):"
        mov al, G_SMRAME
        call smram_write
        call print_smram
        call look_all
        mov eax, VGA_MARK
        call check_all
        CHECKV eax, 1, 0x21, "with D_OPEN clear a CPU outside SMM does not see the VGA window"
        call smi_each
        PRINTLN "SMI to cpu0 while cpu1 looks:"
        mov dword [turn_action], A_LOOK_IN_SMM
        mov dword [turn], 1
        mov dword [meet], 1
        call smi_to_ebx0
        call wait_turn
        mov dword [meet], 0
        PRINT "  cpu0 in SMM saw "
        mov eax, [seen_smm]
        call print_hex
        PRINT ", cpu1 at the same time saw "
        mov eax, [seen_other]
        call print_hex
        call newline
        CHECKV dword [seen_smm], SMRAM_MARK, 0x22, "cpu0 in SMM does not see SMRAM"
        CHECKV dword [seen_other], VGA_MARK, 0x23, "another CPU's SMM opened SMRAM to cpu1"
        CHECKV dword [cpu0_waited], 1, 0x24, "cpu1 did not look while cpu0 was in SMM"

        PRINTLN "lock (G_SMRAME|D_LCK), then G_SMRAME|D_OPEN|D_LCK, then G_SMRAME:"
        mov al, G_SMRAME | D_LCK
        call smram_write
        call print_smram
        mov al, G_SMRAME | D_LCK | D_OPEN
        call smram_write
        call print_smram
        CHECKV al, G_SMRAME | D_LCK | 2, 0x25, "D_OPEN could be set under D_LCK"
        mov al, G_SMRAME
        call smram_write
        call print_smram
        CHECKV al, G_SMRAME | D_LCK | 2, 0x26, "D_LCK could be cleared"
        call look_all
        mov eax, VGA_MARK
        call check_all
        CHECKV eax, 1, 0x27, "SMRAM visible outside SMM after D_LCK"
        call smi_each
        PRINTLN "smram_smp done"
        EXIT 0x10

; smi_each: an SMI IPI to each CPU in turn; each handler's view of 0xa0000.
smi_each:
        xor ebx, ebx
.n:     call smi_to_ebx
        PRINT "  SMI on cpu"
        mov eax, ebx
        call print_dec
        PRINT ": 0xa0000 in SMM reads "
        mov eax, [seen_smm + ebx * 4]
        call print_hex
        call newline
        CHECKV dword [seen_smm + ebx * 4], SMRAM_MARK, 0x28, "a CPU in SMM does not see SMRAM"
        inc ebx
        cmp ebx, [ncpus]
        jb .n
        ret

smi_to_ebx0:
        xor ebx, ebx
; smi_to_ebx: SMI IPI to APIC ID ebx; wait until its handler ran.
smi_to_ebx:
        push eax
        push edx
        mov edx, [smi_count + ebx * 4]
        inc edx
        mov eax, ebx
        shl eax, 24
        mov [APIC_BASE + APIC_ICR_HI], eax
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_SMI
        mov eax, WAIT_LOOPS
.w:     cmp [smi_count + ebx * 4], edx
        jae .ok
        pause
        dec eax
        jnz .w
        FAILV 0x29, "an SMI IPI was not taken"
.ok:    pop edx
        pop eax
        ret

wait_turn:
.w:     pause
        cmp dword [turn], -1
        jne .w
        ret

; look_all: every CPU (outside SMM) prints what 0xa0000 reads.
look_all:
        push ebx
        xor ebx, ebx
        call act_look
        inc ebx
.n:     mov eax, A_LOOK
        call run_on
        inc ebx
        cmp ebx, [ncpus]
        jb .n
        pop ebx
        ret

; check_all: eax = 1 if every CPU's last look read eax, else 0.
check_all:
        push ebx
        xor ebx, ebx
.n:     cmp [seen_look + ebx * 4], eax
        jne .bad
        inc ebx
        cmp ebx, [ncpus]
        jb .n
        mov eax, 1
        pop ebx
        ret
.bad:   xor eax, eax
        pop ebx
        ret

ap_main:
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        call my_apic_id
        mov ebx, eax
        jmp ap_serve

actions:
        dd act_look, act_look_in_smm

act_look:
        PRINT "  cpu"
        mov eax, ebx
        call print_dec
        PRINT " reads "
        mov eax, [0xa0000]
        mov [seen_look + ebx * 4], eax
        call print_hex
        call newline
        ret

; CPU 1: wait until CPU 0's handler says it is in SMM, look, tell it.
act_look_in_smm:
        mov ecx, WAIT_LOOPS
.w:     cmp dword [cpu0_in_smm], 0
        jne .look
        pause
        dec ecx
        jnz .w
.look:  mov eax, [0xa0000]
        mov [seen_other], eax
        mov dword [looked], 1
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

; print_smram: "SMRAM control=0x.."; al = the register
print_smram:
        push edx
        mov eax, 0x80000000 | (SMRAM_REG & 0xfc)
        mov dx, PCI_ADDR
        out dx, eax
        mov dx, PCI_DATA + (SMRAM_REG & 3)
        xor eax, eax
        in al, dx
        PRINT "SMRAM control="
        call print_hex
        call newline
        pop edx
        ret

; The SMI handler at 0x30000 + 0x8000 (16-bit, SMM big-real-mode state).
        bits 16
handler:
        mov eax, [dword APIC_BASE + APIC_ID]
        shr eax, 24
        mov ecx, [dword 0xa0000]
        mov [dword seen_smm + eax * 4], ecx
        test eax, eax
        jnz .done
        cmp dword [dword meet], 0
        je .done
        mov dword [dword cpu0_in_smm], 1   ; cpu1 looks now
        mov edx, WAIT_LOOPS
.w:     cmp dword [dword looked], 0
        jne .seen
        pause
        dec edx
        jnz .w
        jmp .out
.seen:  mov dword [dword cpu0_waited], 1
.out:   mov dword [dword cpu0_in_smm], 0
.done:  lock inc dword [dword smi_count + eax * 4]
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
meet:   resd 1
cpu0_in_smm: resd 1
looked: resd 1
cpu0_waited: resd 1
seen_other: resd 1
seen_smm: resd MAXCPU
seen_look: resd MAXCPU
smi_count: resd MAXCPU
        LIB_BSS
        SMP_BSS
bss_end:
