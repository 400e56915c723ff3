; idt: the image's own GDT (LGDT + far jump), an IDT (LIDT), software
; interrupts through an interrupt gate (int 0x80, clears IF) and a trap
; gate (int 0x81, keeps IF), the #BP trap (int3), and IRET back.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        mov ax, cs
        movzx eax, ax
        PRINT "cs="
        call print_hex
        call newline

        mov eax, 0x80
        mov ebx, syscall_handler
        mov cl, INT_GATE
        call set_gate
        mov eax, 0x81
        mov ebx, trap_handler
        mov cl, TRAP_GATE
        call set_gate
        mov eax, 3
        mov ebx, bp_handler
        mov cl, INT_GATE
        call set_gate
        call load_idt

        sti                             ; nothing interrupts: no device raises IRQs
        mov eax, 41
        int 0x80
after_int80:
        PRINT "int 0x80 returned eax="
        call print_dec
        call newline
        pushfd
        pop eax
        test eax, 0x200
        jnz .if_kept
        FAIL "IRET did not restore IF"
.if_kept:
        int 0x81
        int3
after_int3:
        cli
        PRINTLN "idt done"
        EXIT 0x10

; int 0x80: an interrupt gate, so IF is clear inside; returns eax + 1.
syscall_handler:
        PRINT "int 0x80: eax="
        call print_dec
        call newline
        cmp dword [esp], after_int80
        jne .bad_frame
        cmp dword [esp + 4], CODE_SEL
        jne .bad_frame
        test dword [esp + 8], 0x200     ; the interrupted code had IF set
        jz .bad_frame
        push eax
        pushfd
        pop eax
        test eax, 0x200
        pop eax
        jnz .if_set
        PRINTLN "int 0x80: frame ok, IF clear in the handler"
        inc eax
        iret
.if_set:
        FAIL "interrupt gate left IF set"
.bad_frame:
        FAIL "int 0x80 frame (eip, cs, eflags)"

; int 0x81: a trap gate, so IF stays set.
trap_handler:
        push eax
        pushfd
        pop eax
        test eax, 0x200
        pop eax
        jz .if_clear
        PRINTLN "int 0x81: trap gate, IF still set"
        iret
.if_clear:
        FAIL "trap gate cleared IF"

; #BP is a trap: the saved EIP is the instruction after int3.
bp_handler:
        cmp dword [esp], after_int3
        jne .bad
        PRINTLN "#BP: saved eip is after int3"
        iret
.bad:   FAIL "#BP saved eip"

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
