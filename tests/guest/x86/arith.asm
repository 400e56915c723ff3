; arith: 32-bit protected-mode arithmetic, logic, shifts, flags and loops.
; Each line printed is checked exactly by the test; a wrong flag or result
; prints "FAIL: ..." and exits with 0x11 instead of 0x10.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top

        ; A counted loop: 1 + 2 + ... + 100.
        xor eax, eax
        mov ecx, 100
.sum:   add eax, ecx
        dec ecx
        jnz .sum
        PRINT "sum(1..100)="
        call print_dec
        call newline

        ; The same with LOOP.
        xor eax, eax
        mov ecx, 10
.sq:    mov edx, ecx
        imul edx, ecx
        add eax, edx
        loop .sq
        PRINT "sum of squares(1..10)="
        call print_dec
        call newline

        ; 10! with MUL (edx:eax result).
        mov eax, 1
        mov ecx, 1
.fact:  mul ecx
        inc ecx
        cmp ecx, 10
        jbe .fact
        PRINT "10!="
        call print_dec
        call newline

        ; 64-bit product of two 32-bit numbers.
        mov eax, 0xdeadbeef
        mov ecx, 0x12345678
        mul ecx
        PRINT "0xdeadbeef*0x12345678=edx:"
        xchg eax, edx
        call print_hex
        PRINT " eax:"
        mov eax, edx
        call print_hex
        call newline

        ; Unsigned and signed division.
        mov eax, 1000000007
        xor edx, edx
        mov ecx, 12345
        div ecx
        PRINT "1000000007/12345="
        call print_dec
        PRINT " rem "
        mov eax, edx
        call print_dec
        call newline

        mov eax, -100
        cdq
        mov ecx, 7
        idiv ecx
        PRINT "-100/7="
        call print_sdec
        PRINT " rem "
        mov eax, edx
        call print_sdec
        call newline

        ; Logic and shifts.
        mov eax, 0xdeadbeef
        xor eax, 0x12345678
        PRINT "xor="
        call print_hex
        mov eax, 0xf0f0f0f0
        and eax, 0x3c3c3c3c
        or eax, 0x01000001
        PRINT " and/or="
        call print_hex
        mov eax, 0x12345678
        rol eax, 8
        PRINT " rol="
        call print_hex
        mov eax, 0x80000000
        sar eax, 4
        PRINT " sar="
        call print_hex
        mov eax, 0x80000000
        shr eax, 4
        PRINT " shr="
        call print_hex
        mov eax, 1
        mov cl, 31
        shl eax, cl
        not eax
        PRINT " not="
        call print_hex
        call newline

        ; 64-bit addition and subtraction with carry.
        mov eax, 0xffffffff             ; low
        mov edx, 0x00000001             ; high: 0x1_ffffffff
        add eax, 1
        adc edx, 0                      ; 0x2_00000000
        CHECK_EQ eax, 0, "add carry low"
        CHECK_EQ edx, 2, "adc high"
        sub eax, 1
        sbb edx, 0                      ; back to 0x1_ffffffff
        CHECK_EQ eax, 0xffffffff, "sub borrow low"
        CHECK_EQ edx, 1, "sbb high"
        PRINTLN "carry chain ok"

        ; Flags: signed overflow, zero, sign, compare outcomes.
        mov eax, 0x7fffffff
        add eax, 1
        jno .bad_of
        js .of_ok
.bad_of:
        FAIL "overflow/sign after 0x7fffffff+1"
.of_ok:
        mov eax, 5
        cmp eax, 7
        jae .bad_cmp                    ; 5 < 7 unsigned
        jge .bad_cmp                    ; 5 < 7 signed
        mov eax, -1
        cmp eax, 1
        jbe .bad_cmp                    ; 0xffffffff > 1 unsigned
        jge .bad_cmp                    ; -1 < 1 signed
        sub eax, eax
        jnz .bad_cmp
        setz bl
        CHECK_EQ bl, 1, "setz"
        mov eax, 3
        mov ecx, 9
        cmp eax, ecx
        cmovb eax, ecx                  ; max(3, 9)
        CHECK_EQ eax, 9, "cmovb"
        PRINTLN "flags ok"
        jmp .flags_done
.bad_cmp:
        FAIL "compare flags"
.flags_done:

        ; Memory operands, scaled index addressing, byte and word sizes.
        mov dword [table], 1
        mov ecx, 1
.fib:   mov eax, [table + ecx * 4 - 4]
        cmp ecx, 1
        je .first
        add eax, [table + ecx * 4 - 8]
        jmp .store
.first: mov eax, 1
.store: mov [table + ecx * 4], eax
        inc ecx
        cmp ecx, 20
        jb .fib
        mov eax, [table + 19 * 4]
        PRINT "fib table[19]="
        call print_dec
        movzx eax, byte [table + 19 * 4 + 1]
        PRINT " byte1="
        call print_hex
        movsx eax, word [negword]
        PRINT " movsx="
        call print_hex
        call newline

        PRINTLN "arith done"
        EXIT 0x10

negword:
        dw 0x8001

        LIB_CODE
image_end:
        section .bss
        alignb 4
table:  resd 32
        LIB_BSS
bss_end:
