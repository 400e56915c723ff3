; smc: self-modifying code. The decoded-code cache must notice stores into
; code it has decoded: a function's immediate rewritten between calls, an
; instruction rewritten just ahead of execution in the same block, and a
; loop that patches its own body on each pass.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top

        ; 1. Patch a function between two calls.
        call get_value
        PRINT "before patch "
        call print_hex
        call newline
        mov dword [get_value + 1], 0x22222222   ; the imm32 of `mov eax, imm32`
        call get_value
        PRINT "after patch "
        call print_hex
        call newline

        ; 2. Patch the very next instruction (same block, already decoded).
        mov byte [patch_next + 1], 0x33
patch_next:
        mov al, 0x44                            ; b0 44: becomes mov al, 0x33
        movzx eax, al
        PRINT "next instruction "
        call print_hex
        call newline

        ; 3. A loop that rewrites the immediate it adds, on every pass.
        xor ebx, ebx
        mov ecx, 1
smc_pass:
        mov [loop_add + 2], cl                  ; 83 c3 ib: add ebx, imm8
loop_add:
        add ebx, 0x7f
        inc ecx
        cmp ecx, 5
        jbe smc_pass
        mov eax, ebx
        PRINT "loop sum "
        call print_dec                          ; 1+2+3+4+5 = 15
        call newline

        ; 4. Code written from scratch into a buffer, run, rewritten, run.
        mov edi, buffer
        mov byte [edi], 0xb8                    ; mov eax, imm32
        mov dword [edi + 1], 0x0badf00d
        mov byte [edi + 5], 0xc3                ; ret
        call buffer
        PRINT "generated "
        call print_hex
        mov dword [buffer + 1], 0x600dc0de
        call buffer
        PRINT " regenerated "
        call print_hex
        call newline
        PRINTLN "smc done"
        EXIT 0x10

get_value:
        mov eax, 0x11111111
        ret

        align 16
buffer: times 16 db 0x90

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
