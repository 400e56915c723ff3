; modes: a 64 KiB ROM image for --bios (like bios_rm), run from the reset
; vector, through every operating mode and back (SDM Vol. 3A chapter 9):
;   real mode -> protected mode with 16-bit code -> 32-bit code
;   -> IA-32e mode (compatibility mode) -> 64-bit mode
;   -> compatibility mode -> protected mode (paging and LME off)
;   -> 16-bit code -> real mode (CR0.PE cleared, far jump)
; Each step prints the mode's state (CS, CR0.PE, EFER) and takes a #UD
; (UD2, a fault: the saved CS:IP points at the UD2) through the mode's
; table: the IVT in real mode (20.1.4), 32-bit IDT gates in protected mode
; (from 16-bit code too: the 32-bit gate pushes a 32-bit frame and IRETD
; returns to the 16-bit segment), 16-byte IDT gates in IA-32e mode (6.14;
; from compatibility mode too, with IRETQ back to it). In 32-bit protected
; mode a #GP whose gate is not present becomes #NP, which is contributory
; during a contributory exception: #DF(0) through vector 8 (6.15, table 6-5).
; Leaving IA-32e mode follows 9.8.5.4, returning to real mode 9.9.2.
; Code runs from the ROM's alias at 0xf0000 (segment F000); the IDTs and
; page tables are built in RAM. Failures exit with 0x60-0x6f.

        bits 16
        org 0                           ; offsets within segment F000

%include "lib64.inc"

ROM_SEG    equ 0xf000
ROM_BASE   equ 0xf0000
COM1       equ 0x3f8
STACK      equ 0x7000

SEL_CODE16 equ 0x08                     ; 16-bit code, base 0xf0000, limit 0xffff
SEL_DATA16 equ 0x10                     ; 16-bit data, base 0xf0000 (the ROM's strings)
SEL_CODE32 equ 0x18                     ; flat 32-bit code
SEL_DATA32 equ 0x20                     ; flat data
SEL_CODE64 equ 0x28                     ; 64-bit code
SEL_REAL   equ 0x30                     ; 16-bit data, base 0, limit 0xffff (9.9.2)

IDT32      equ 0x20000
IDT64      equ 0x21000
PML4       equ 0x30000
PDPT       equ 0x31000
PD         equ 0x32000

MSR_EFER   equ 0xc0000080

; --- printing in each mode ---

; 16-bit code (real mode, or protected mode with DS = SEL_DATA16).
%macro PRINT16 1
        jmp %%after
%%str:  db %1, 0
%%after:
        push si
        mov si, %%str
        call puts16
        pop si
%endmacro
%macro PRINTLN16 1
        PRINT16 %1
        call newline16
%endmacro
%macro FAIL16 2
        PRINT16 "FAIL: "
        PRINTLN16 %2
        mov al, %1
        out 0xf4, al
%%stop: hlt
        jmp %%stop
%endmacro

; 32-bit code (flat DS).
%macro PRINT32 1
        jmp %%after
%%str:  db %1, 0
%%after:
        push esi
        mov esi, ROM_BASE + %%str
        call puts32
        pop esi
%endmacro
%macro PRINTLN32 1
        PRINT32 %1
        call newline32
%endmacro
%macro FAIL32 2
        PRINT32 "FAIL: "
        PRINTLN32 %2
        mov al, %1
        out 0xf4, al
%%stop: hlt
        jmp %%stop
%endmacro

; PUSHSIZE16/32: print " push=N", N the bytes a PUSH of the default operand
; size takes: the code segment's D bit (and SS's B bit for the stack pointer).
%macro PUSHSIZE16 0
        push bx
        mov bx, sp
        push ax
        sub bx, sp
        pop ax
        PRINT16 " push="
        push ax
        mov al, bl
        call bit16
        pop ax
        pop bx
%endmacro
%macro PUSHSIZE32 0
        push ebx
        mov ebx, esp
        push eax
        sub ebx, esp
        pop eax
        PRINT32 " push="
        push eax
        mov al, bl
        add al, '0'
        call putc32
        pop eax
        pop ebx
%endmacro

; Gates pointing into the ROM (offsets made absolute: ROM_BASE + offset).
%macro GATE32 2
        dw ((%1 - $$) + ROM_BASE) & 0xffff
        dw SEL_CODE32
        db 0, %2
        dw ((%1 - $$) + ROM_BASE) >> 16
%endmacro
%macro GATE64 2
        dw ((%1 - $$) + ROM_BASE) & 0xffff
        dw SEL_CODE64
        db 0, %2
        dw ((%1 - $$) + ROM_BASE) >> 16
        dd 0, 0
%endmacro

; ===========================================================================
; Real mode.
start:
        cli
        cld
        xor ax, ax
        mov ss, ax
        mov sp, STACK
        mov es, ax
        mov ax, cs
        mov ds, ax
        PRINT16 "real mode: cs="
        mov ax, cs
        call hex16
        PUSHSIZE16
        PRINT16 " cr0.pe="
        mov eax, cr0
        and eax, 1
        call bit16
        call newline16
        test eax, eax
        jz .real
        FAIL16 0x60, "CR0.PE set at reset"
.real:
        mov word [es:6 * 4], ud_real
        mov word [es:6 * 4 + 2], ROM_SEG
        ud2
        PRINTLN16 "after #UD in real mode"

        ; The IDTs, from their templates.
        mov ax, IDT32 >> 4
        mov es, ax
        xor di, di
        mov si, idt32_tmpl
        mov cx, idt32_tmpl_end - idt32_tmpl
        rep movsb
        mov ax, IDT64 >> 4
        mov es, ax
        xor di, di
        mov si, idt64_tmpl
        mov cx, idt64_tmpl_end - idt64_tmpl
        rep movsb

        ; Protected mode, still running 16-bit code (9.9.1).
        o32 lgdt [gdt_desc]
        o32 lidt [idt32_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp SEL_CODE16:pm16

pm16:
        mov ax, SEL_DATA16
        mov ds, ax
        mov ax, SEL_REAL
        mov ss, ax
        mov es, ax
        PRINT16 "protected mode, 16-bit code: cs="
        mov ax, cs
        call hex16
        PUSHSIZE16
        PRINT16 " cr0.pe="
        mov eax, cr0
        and eax, 1
        call bit16
        call newline16
        cmp eax, 1
        je .pe
        FAIL16 0x61, "CR0.PE clear after setting it"
.pe:    ud2
        PRINTLN16 "after #UD in 16-bit protected mode"
        jmp dword SEL_CODE32:(ROM_BASE + pm32)

; #UD in real mode: the IVT frame is IP, CS, FLAGS.
ud_real:
        push bp
        push bx
        push ax
        push ds
        mov bp, sp                      ; [bp + 8] IP, [bp + 10] CS
        lds bx, [bp + 8]                ; DS:BX = the saved CS:IP
        cmp word [bx], 0x0b0f           ; UD2
        pop ds
        je .at
        FAIL16 0x62, "real-mode #UD: saved CS:IP is not the UD2"
.at:    add word [bp + 8], 2
        PRINT16 "#UD through the IVT from cs="
        mov ax, [bp + 10]
        call hex16
        PRINTLN16 ": saved ip points at ud2"
        pop ax
        pop bx
        pop bp
        iret

; putc16: al on COM1.
putc16:
        push dx
        push ax
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        pop ax
        mov dx, COM1
        out dx, al
        pop dx
        ret

; puts16: the string at DS:SI.
puts16:
        push ax
        push si
.next:  mov al, [si]
        test al, al
        jz .done
        call putc16
        inc si
        jmp .next
.done:  pop si
        pop ax
        ret

newline16:
        push ax
        mov al, 10
        call putc16
        pop ax
        ret

; bit16: al (0 or 1) as a digit.
bit16:
        push ax
        add al, '0'
        call putc16
        pop ax
        ret

; hex16: ax as 0x%04x.
hex16:
        push eax
        push cx
        push dx
        mov dx, ax
        mov al, '0'
        call putc16
        mov al, 'x'
        call putc16
        mov cx, 4
.digit: rol dx, 4
        mov al, dl
        and al, 0x0f
        cmp al, 10
        jb .num
        add al, 'a' - 10 - '0'
.num:   add al, '0'
        call putc16
        dec cx
        jnz .digit
        pop dx
        pop cx
        pop eax
        ret

; ===========================================================================
; 32-bit protected mode.
        bits 32
pm32:
        mov ax, SEL_DATA32
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, STACK
        PRINT32 "protected mode, 32-bit code: cs="
        mov ax, cs
        call hex16_32
        PUSHSIZE32
        call newline32
        ud2
        PRINTLN32 "after #UD in 32-bit protected mode"

        ; #GP with a not-present gate: #NP during #GP -> #DF.
        and byte [IDT32 + 13 * 8 + 5], 0x7f
        PRINTLN32 "#GP (selector beyond the GDT limit) with the #GP gate not present:"
        mov ax, 0xfff8
        mov ds, ax
        FAIL32 0x63, "no #GP for a selector beyond the GDT limit"
df_resume:
        or byte [IDT32 + 13 * 8 + 5], 0x80

        ; IA-32e mode: identity map of the first GiB with 2 MiB pages.
        mov edi, PML4
        xor eax, eax
        mov ecx, 3 * 4096 / 4
        rep stosd
        mov dword [PML4], PDPT | 3
        mov dword [PDPT], PD | 3
        mov edi, PD
        mov eax, 0x83                   ; present, writable, 2 MiB
        mov ecx, 512
.fill:  mov [edi], eax
        add eax, 0x200000
        add edi, 8
        loop .fill
        mov eax, cr4
        or eax, 0x20                    ; PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, MSR_EFER
        rdmsr
        or eax, 0x100                   ; LME
        wrmsr
        mov eax, cr0
        or eax, 0x80000000              ; PG: IA-32e mode active
        mov cr0, eax
        rdmsr
        PRINT32 "paging on with EFER.LME: efer="
        call hex32_32
        call newline32
        cmp eax, 0x500
        je .lma
        FAIL32 0x64, "EFER.LMA not set"
.lma:   lidt [ROM_BASE + idt64_desc]
        jmp SEL_CODE64:(ROM_BASE + lm64)

; #UD through a 32-bit gate (from 16-bit or 32-bit code): EIP, CS, EFLAGS.
ud_pm32:
        push ds
        push eax
        push ebx
        mov ax, SEL_DATA32
        mov ds, ax
        mov ebx, [esp + 12]
        movzx eax, word [esp + 16]
        cmp ax, SEL_CODE16
        jne .flat
        add ebx, ROM_BASE               ; the 16-bit segment's base
.flat:  cmp word [ebx], 0x0b0f
        je .at
        FAIL32 0x65, "protected-mode #UD: saved CS:EIP is not the UD2"
.at:    PRINT32 "#UD through a 32-bit IDT gate from cs="
        call hex16_32
        PRINTLN32 ": saved eip points at ud2"
        add dword [esp + 12], 2
        pop ebx
        pop eax
        pop ds
        iretd

; #DF: an abort; the error code is 0 and CS:EIP are not defined.
df_pm32:
        mov eax, [esp]
        PRINT32 "#DF through vector 8: error code="
        call hex32_32
        call newline32
        test eax, eax
        jz .zero
        FAIL32 0x66, "#DF error code is not 0"
.zero:  mov esp, STACK
        jmp df_resume

; #GP (used only when the test wants a #DF: its gate is then not present).
gp_pm32:
        FAIL32 0x67, "#GP delivered through a not-present gate"

; puts32: the string at DS:ESI (flat).
putc32:
        push edx
        push eax
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        pop eax
        mov dx, COM1
        out dx, al
        pop edx
        ret

puts32:
        push eax
        push esi
.next:  mov al, [esi]
        test al, al
        jz .done
        call putc32
        inc esi
        jmp .next
.done:  pop esi
        pop eax
        ret

newline32:
        push eax
        mov al, 10
        call putc32
        pop eax
        ret

; hexn32: the low ecx digits of eax, as 0x...
hexn32:
        push eax
        push ebx
        push ecx
        push edx
        mov edx, eax
        mov ebx, ecx
        mov ecx, 8
        sub ecx, ebx
        shl ecx, 2
        shl edx, cl
        mov al, '0'
        call putc32
        mov al, 'x'
        call putc32
.digit: rol edx, 4
        mov al, dl
        and al, 0x0f
        cmp al, 10
        jb .num
        add al, 'a' - 10 - '0'
.num:   add al, '0'
        call putc32
        dec ebx
        jnz .digit
        pop edx
        pop ecx
        pop ebx
        pop eax
        ret

hex32_32:
        push ecx
        mov ecx, 8
        call hexn32
        pop ecx
        ret

hex16_32:
        push ecx
        mov ecx, 4
        call hexn32
        pop ecx
        ret

; ===========================================================================
; 64-bit mode.
        bits 64
lm64:
        PRINT64 "64-bit mode: cs="
        mov ax, cs
        call print_hex16_64
        PRINT64 " push="
        mov rbx, rsp
        push rax
        sub rbx, rsp
        pop rax
        mov rax, rbx
        call print_dec64
        call newline64
        ud2
        PRINTLN64 "after #UD in 64-bit mode"
        jmp dword far [rel to_compat]   ; m16:32 (no REX.W): to 32-bit code, compatibility mode

; #UD through a 64-bit gate: RIP, CS, RFLAGS, RSP, SS.
ud_lm64:
        push rax
        push rbx
        mov rbx, [rsp + 16]
        cmp word [rbx], 0x0b0f
        je .at
        FAIL64 0x68, "IA-32e #UD: saved RIP is not the UD2"
.at:    PRINT64 "#UD through a 64-bit IDT gate from cs="
        mov rax, [rsp + 24]
        call print_hex16_64
        PRINTLN64 ": saved rip points at ud2"
        add qword [rsp + 16], 2
        pop rbx
        pop rax
        iretq

to_compat:
        dd ROM_BASE + compat32
        dw SEL_CODE32

        LIB64_CODE

; ===========================================================================
; Compatibility mode, then out of IA-32e mode (9.8.5.4).
        bits 32
compat32:
        PRINT32 "compatibility mode: cs="
        mov ax, cs
        call hex16_32
        PUSHSIZE32
        mov ecx, MSR_EFER
        rdmsr
        PRINT32 " efer="
        call hex32_32
        call newline32
        cmp eax, 0x500
        je .lma
        FAIL32 0x69, "EFER.LMA clear in compatibility mode"
.lma:   ud2
        PRINTLN32 "after #UD in compatibility mode"

        mov eax, cr0
        and eax, 0x7fffffff             ; paging off: IA-32e mode no longer active
        mov cr0, eax
        mov ecx, MSR_EFER
        rdmsr
        and eax, ~0x100                 ; LME off
        wrmsr
        lidt [ROM_BASE + idt32_desc]
        rdmsr
        PRINT32 "protected mode, 32-bit code, paging off: efer="
        call hex32_32
        call newline32
        test eax, eax
        jz .legacy
        FAIL32 0x6a, "EFER not clear after leaving IA-32e mode"
.legacy:
        ud2
        PRINTLN32 "after #UD in 32-bit protected mode"
        ; Back to real mode (9.9.2): a 16-bit code segment of 64 KiB first.
        jmp SEL_CODE16:pm16_back

        bits 16
pm16_back:
        mov ax, SEL_REAL                ; 64 KiB, byte granular, expand-up, writable
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        o32 lidt [cs:ivt_desc]
        mov eax, cr0
        and al, 0xfe
        mov cr0, eax
        jmp ROM_SEG:real_again
real_again:
        xor ax, ax
        mov ss, ax
        mov sp, STACK
        mov es, ax
        mov ax, cs
        mov ds, ax
        PRINT16 "real mode again: cs="
        mov ax, cs
        call hex16
        PUSHSIZE16
        PRINT16 " cr0.pe="
        mov eax, cr0
        and eax, 1
        call bit16
        call newline16
        test eax, eax
        jz .real
        FAIL16 0x6b, "CR0.PE still set"
.real:  ud2
        PRINTLN16 "after #UD in real mode"
        PRINTLN16 "modes done"
        mov al, 0x10
        out 0xf4, al
.stop:  hlt
        jmp .stop

; ===========================================================================
; Tables in ROM (descriptors with their accessed bits already set: the ROM
; cannot be written).
        align 8
gdt:    dq 0
        dq 0x00009b0f0000ffff           ; 0x08 16-bit code, base 0xf0000
        dq 0x0000930f0000ffff           ; 0x10 16-bit data, base 0xf0000
        dq 0x00cf9b000000ffff           ; 0x18 flat 32-bit code
        dq 0x00cf93000000ffff           ; 0x20 flat data
        dq 0x00af9b000000ffff           ; 0x28 64-bit code
        dq 0x000093000000ffff           ; 0x30 16-bit data, base 0
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd ROM_BASE + gdt
idt32_desc:
        dw idt32_tmpl_end - idt32_tmpl - 1
        dd IDT32
idt64_desc:
        dw idt64_tmpl_end - idt64_tmpl - 1
        dq IDT64
ivt_desc:
        dw 0x3ff
        dd 0

        align 8
idt32_tmpl:                             ; copied to IDT32 (vectors 0-13)
        times 6 dq 0
        GATE32 ud_pm32, 0x8e            ; 6: #UD
        dq 0
        GATE32 df_pm32, 0x8e            ; 8: #DF
        times 4 dq 0
        GATE32 gp_pm32, 0x8e            ; 13: #GP
idt32_tmpl_end:
idt64_tmpl:                             ; copied to IDT64 (vectors 0-6)
        times 6 dq 0, 0
        GATE64 ud_lm64, 0x8e            ; 6: #UD
idt64_tmpl_end:

        times 0xfff0 - ($ - $$) db 0xff
        bits 16
reset_vector:                           ; linear 0xfffffff0, CS base 0xffff0000
        jmp ROM_SEG:start
        times 0x10000 - ($ - $$) db 0xff
