; stack: CALL/RET, PUSH/POP, recursion, RET imm16, ENTER/LEAVE frames,
; PUSHAD/POPAD, PUSHFD/POPFD, and an indirect call through a table.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top

        ; Recursive Fibonacci: fib(n) = fib(n-1) + fib(n-2).
        mov eax, 20
        call fib
        PRINT "fib(20)="
        call print_dec
        call newline

        ; stdcall: the callee pops its two arguments (RET 8).
        mov ebp, esp
        push dword 7
        push dword 35
        call sub_stdcall                ; 35 - 7
        CHECK_EQ esp, ebp, "ret imm16 left esp unbalanced"
        PRINT "stdcall 35-7="
        call print_dec
        call newline

        ; A frame with locals: ENTER/LEAVE.
        push dword 6
        call triangle_enter             ; 6+5+...+1 through a local
        add esp, 4
        CHECK_EQ esp, ebp, "enter/leave left esp unbalanced"
        PRINT "enter/leave triangle(6)="
        call print_dec
        call newline

        ; PUSHAD/POPAD keep every register; PUSHFD/POPFD the flags.
        mov eax, 0x11111111
        mov ebx, 0x22222222
        mov ecx, 0x33333333
        mov edx, 0x44444444
        mov esi, 0x55555555
        mov edi, 0x66666666
        pushad
        xor eax, eax
        xor ebx, ebx
        xor ecx, ecx
        xor edx, edx
        xor esi, esi
        xor edi, edi
        popad
        CHECK_EQ eax, 0x11111111, "popad eax"
        CHECK_EQ ebx, 0x22222222, "popad ebx"
        CHECK_EQ ecx, 0x33333333, "popad ecx"
        CHECK_EQ edx, 0x44444444, "popad edx"
        CHECK_EQ esi, 0x55555555, "popad esi"
        CHECK_EQ edi, 0x66666666, "popad edi"
        CHECK_EQ esp, ebp, "pushad/popad esp"
        stc
        pushfd
        clc
        popfd
        jc .cf_ok
        FAIL "popfd did not restore CF"
.cf_ok:
        PRINTLN "pushad/popad/pushfd/popfd ok"

        ; Indirect calls through a table of function pointers.
        xor esi, esi
        xor eax, eax
.each:  call [ops + esi * 4]
        inc esi
        cmp esi, 3
        jb .each
        PRINT "indirect calls="
        call print_dec
        call newline

        ; The stack really is memory: read back what was pushed.
        push dword 0xcafef00d
        mov eax, [esp]
        pop ecx
        CHECK_EQ eax, ecx, "push/pop memory"
        PRINT "top of stack="
        call print_hex
        call newline

        PRINTLN "stack done"
        EXIT 0x10

; fib: eax = n -> eax = fib(n), recursively.
fib:
        cmp eax, 2
        jb .base
        push ebx
        push eax
        dec eax
        call fib
        mov ebx, eax                    ; fib(n-1)
        pop eax
        sub eax, 2
        call fib
        add eax, ebx
        pop ebx
        ret
.base:  ret

; sub_stdcall(a, b) -> eax = a - b (a pushed last), pops its arguments.
sub_stdcall:
        mov eax, [esp + 4]
        sub eax, [esp + 8]
        ret 8

; triangle_enter(n) -> n + (n-1) + ... + 1, with a local on an ENTER frame.
triangle_enter:
        enter 4, 0
        mov dword [ebp - 4], 0
        mov ecx, [ebp + 8]
.add:   add [ebp - 4], ecx
        loop .add
        mov eax, [ebp - 4]
        leave
        ret

op_add1:
        add eax, 1
        ret
op_add10:
        add eax, 10
        ret
op_add100:
        add eax, 100
        ret

        align 4
ops:    dd op_add1, op_add10, op_add100

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
