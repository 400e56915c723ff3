; hello: print "Hello from mmusim" on COM1, then exit through the debug-exit
; port with 0x10 (exit status 0x21). The smallest useful guest: no stack,
; no calls, a handful of instructions.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esi, message
        mov dx, COM1
.next:  mov al, [esi]
        test al, al
        jz .done
        out dx, al
        inc esi
        jmp .next
.done:  EXIT 0x10

message:
        db "Hello from mmusim", 10, 0

image_end:
        section .bss
bss_end:
