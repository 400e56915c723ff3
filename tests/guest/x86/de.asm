; de: divide errors (#DE, vector 0) are faults: the handler sees the
; faulting DIV/IDIV's address, skips it, and execution goes on. Three
; causes: division by zero, a quotient too large for DIV, and IDIV of
; INT_MIN by -1.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        xor eax, eax
        mov ebx, de_handler
        mov cl, INT_GATE
        call set_gate
        call load_idt

        mov dword [expected_eip], fault1
        mov eax, 1234
        xor edx, edx
        xor ecx, ecx
fault1: div ecx                         ; 2 bytes: f7 f1
        PRINTLN "after division by zero"

        mov dword [expected_eip], fault2
        mov edx, 1                      ; edx:eax = 0x1_00000000
        xor eax, eax
        mov ecx, 1
fault2: div ecx                         ; quotient does not fit in 32 bits
        PRINTLN "after quotient overflow"

        mov dword [expected_eip], fault3
        mov eax, 0x80000000
        cdq
        mov ecx, -1
fault3: idiv ecx                        ; -2^31 / -1 = 2^31 does not fit
        PRINTLN "after idiv overflow"

        ; A division that does not fault, to be sure the handler is not hit.
        mov eax, 100
        xor edx, edx
        mov ecx, 7
        div ecx
        PRINT "100/7="
        call print_dec
        call newline
        mov eax, [de_count]
        PRINT "#DE count="
        call print_dec
        call newline
        EXIT 0x10

de_handler:
        push eax
        inc dword [de_count]
        mov eax, [esp + 4]              ; saved EIP
        cmp eax, [expected_eip]
        jne .bad
        PRINTLN "#DE: saved eip is the faulting division"
        add dword [esp + 4], 2          ; skip the 2-byte DIV/IDIV
        pop eax
        iret
.bad:   PRINT "#DE at unexpected eip "
        call print_hex
        call newline
        FAIL "#DE saved eip"

        align 4
expected_eip: dd 0
de_count:     dd 0

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
