; bios_rm: a 64 KiB ROM image for --bios, run from the reset vector.
; The machine maps it at 0xffff0000-0xffffffff and, through the isa-bios
; alias, at 0xf0000-0xfffff. The CPU starts in real mode at F000:FFF0
; (linear 0xfffffff0); the jump there lands in segment F000 (0xf0000).
; The code prints through port I/O in real mode, checks real-mode segment
; arithmetic, takes a software interrupt through the IVT, switches to
; protected mode (LGDT, CR0.PE, far jump), prints again and exits through
; the debug-exit port with 0x10 (status 33).

        bits 16
        org 0                           ; offsets within segment F000

ROM_SEG   equ 0xf000
ROM_BASE  equ 0xf0000
COM1      equ 0x3f8

start:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        mov ax, cs
        mov ds, ax                      ; strings are in the ROM
        mov si, msg_real
        call puts16

        ; 0000:0510 and 0050:0010 are the same byte.
        xor ax, ax
        mov es, ax
        mov word [es:0x0510], 0x1234
        mov ax, 0x0050
        mov fs, ax
        cmp word [fs:0x0010], 0x1234
        jne fail16
        mov si, msg_seg
        call puts16

        ; INT 0x21 through the real-mode interrupt vector table at 0.
        mov word [es:0x21 * 4], int21
        mov word [es:0x21 * 4 + 2], cs
        int 0x21

        ; Into protected mode.
        o32 lgdt [cs:gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp dword 0x08:(ROM_BASE + pm_entry)

fail16:
        mov si, msg_fail
        call puts16
        mov al, 0x11
        out 0xf4, al
.stop:  hlt
        jmp .stop

int21:
        push si
        mov si, msg_int
        call puts16
        pop si
        iret

puts16:
        push ax
        push dx
        push si
        mov dx, COM1
.next:  mov al, [si]
        test al, al
        jz .done
        out dx, al
        inc si
        jmp .next
.done:  pop si
        pop dx
        pop ax
        ret

        bits 32
pm_entry:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x7000
        mov esi, ROM_BASE + msg_pm
        mov dx, COM1
.next:  mov al, [esi]
        test al, al
        jz .done
        out dx, al
        inc esi
        jmp .next
.done:  mov al, 0x10
        out 0xf4, al
.stop:  hlt
        jmp .stop

msg_real: db "real mode", 10, 0
msg_seg:  db "segments ok", 10, 0
msg_int:  db "int 0x21 in real mode", 10, 0
msg_pm:   db "protected mode", 10, 0
msg_fail: db "FAIL: real-mode segments", 10, 0

        align 8
gdt:    dq 0
        dq 0x00cf9b000000ffff           ; 0x08: flat 32-bit code
        dq 0x00cf93000000ffff           ; 0x10: flat data
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd ROM_BASE + gdt

        times 0xfff0 - ($ - $$) db 0xff
        bits 16
reset_vector:                           ; linear 0xfffffff0, CS base 0xffff0000
        jmp ROM_SEG:start
        times 0x10000 - ($ - $$) db 0xff
