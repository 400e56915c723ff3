; mbinfo: print the machine state and multiboot information the loader
; handed over (spec 0.6.96 sections 3.2 and 3.3): EAX, the info flags,
; memory sizes, command line, boot loader name, modules (string, page
; alignment, contents) and the memory map, the segment registers, EFLAGS
; and CR0 at entry.
%include "lib32.inc"

        MULTIBOOT_AOUT

start:
        mov esp, stack_top              ; changes no flag
        pushfd
        pop dword [entry_eflags]
        mov [entry_eax], eax
        mov [entry_ebx], ebx

        mov eax, [entry_eax]
        PRINT "magic="
        call print_hex
        call newline
        mov ebx, [entry_ebx]
        mov eax, [ebx]
        PRINT "flags="
        call print_hex
        call newline
        mov eax, [ebx + 4]
        PRINT "mem_lower="
        call print_dec
        mov eax, [ebx + 8]
        PRINT " mem_upper="
        call print_dec
        call newline
        PRINT 'cmdline="'
        mov esi, [ebx + 16]
        call puts
        PRINTLN '"'
        PRINT 'loader="'
        mov esi, [ebx + 64]
        call puts
        PRINTLN '"'

        ; Modules: start, end, string, reserved.
        mov ecx, [ebx + 20]
        mov eax, ecx
        PRINT "mods="
        call print_dec
        call newline
        mov edi, [ebx + 24]
        test ecx, ecx
        jz .mods_done
.mod:   PRINT "mod "
        mov esi, [edi + 8]
        call puts
        mov eax, [edi]
        test eax, 0xfff
        jz .aligned
        PRINT " unaligned"
.aligned:
        mov eax, [edi + 4]
        sub eax, [edi]
        PRINT " size="
        call print_dec
        PRINT ' data="'
        mov esi, [edi]
        mov edx, [edi + 4]
.byte:  cmp esi, edx
        jae .bytes_done
        mov al, [esi]
        call putc
        inc esi
        jmp .byte
.bytes_done:
        PRINTLN '"'
        add edi, 16
        dec ecx
        jnz .mod
.mods_done:

        ; Memory map: entries of `size` bytes plus the size field itself.
        mov esi, [ebx + 48]
        mov edx, esi
        add edx, [ebx + 44]
.entry: cmp esi, edx
        jae .mmap_done
        PRINT "mmap base="
        mov eax, [esi + 8]
        call print_hex
        mov eax, [esi + 4]
        PRINT ":"
        call print_hex
        PRINT " len="
        mov eax, [esi + 16]
        call print_hex
        PRINT ":"
        mov eax, [esi + 12]
        call print_hex
        PRINT " type="
        mov eax, [esi + 20]
        call print_dec
        call newline
        add esi, [esi]
        add esi, 4
        jmp .entry
.mmap_done:

        ; Segments, EFLAGS and CR0 as the kernel found them.
        PRINT "cs="
        mov ax, cs
        call print_sel
        PRINT " ds="
        mov ax, ds
        call print_sel
        PRINT " es="
        mov ax, es
        call print_sel
        PRINT " fs="
        mov ax, fs
        call print_sel
        PRINT " gs="
        mov ax, gs
        call print_sel
        PRINT " ss="
        mov ax, ss
        call print_sel
        call newline
        PRINT "eflags="
        mov eax, [entry_eflags]
        call print_hex
        PRINT " cr0="
        mov eax, cr0
        and eax, 0x8000003f              ; PG and the low bits (the rest is CPU model detail)
        call print_hex
        call newline
        EXIT 0x10

print_sel:
        movzx eax, ax
        jmp print_hex

        align 4
entry_eflags: dd 0
entry_eax:    dd 0
entry_ebx:    dd 0

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
