; control: one image, several endings, chosen by the first letter of the
; kernel command line (--append), for the machine's stop conditions (and
; the serial input):
;   halt     cli; hlt                       -> all CPUs halted (status 0)
;   idle     sti; hlt                       -> halted waiting for an interrupt (10)
;   loop     jmp $ forever                  -> --max-insns (4) or --timeout (6)
;   triple   an IDT of limit 0, then int    -> triple fault (8)
;   count    a 1000-iteration loop, then exit 0x10 (33)
;   xit      debug-exit with 0x2a, one byte (status 0x55)
;   wide     debug-exit with 0x12345678 as a 4-byte OUT (status 0xf1: low 8 bits)
;   echo     copy COM1 input to COM1 output, bracketed, up to a '.', then exit 0x10
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        mov esi, [ebx + 16]             ; the command line
        mov al, [esi]
        cmp al, 'h'
        je do_halt
        cmp al, 'i'
        je do_idle
        cmp al, 'l'
        je do_loop
        cmp al, 't'
        je do_triple
        cmp al, 'c'
        je do_count
        cmp al, 'x'
        je do_exit
        cmp al, 'w'
        je do_wide
        cmp al, 'e'
        je do_echo
        FAIL "unknown command line"

do_halt:
        PRINTLN "halting with interrupts off"
        cli
.again: hlt
        jmp .again

do_idle:
        PRINTLN "waiting for an interrupt"
        sti
.again: hlt
        jmp .again

do_loop:
        PRINTLN "looping forever"
.again: jmp .again

do_triple:
        PRINTLN "triple fault next"
        lidt [empty_idt]
        int 0x80                        ; #GP (beyond the IDT limit), then #DF, then shutdown
        FAIL "survived a triple fault"

do_count:
        mov ecx, 1000
.again: dec ecx
        jnz .again
        PRINTLN "counted"
        EXIT 0x10

do_exit:
        PRINTLN "exit 0x2a"
        EXIT 0x2a

do_wide:
        PRINTLN "exit 0x12345678"
        mov eax, 0x12345678
        out DEBUG_EXIT, eax
        FAIL "still running after a 4-byte debug-exit write"

do_echo:
        mov al, '['
        call putc
.again: mov dx, COM1_LSR
.wait:  in al, dx
        test al, 1                      ; data ready
        jz .wait
        mov dx, COM1
        in al, dx
        cmp al, '.'
        je .done
        call putc
        jmp .again
.done:  PRINTLN "]"
        EXIT 0x10

empty_idt:
        dw 0
        dd 0

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
