; elf: an ELF32 multiboot kernel, ELF headers written by hand (no linker
; needed). The multiboot header does NOT set flag bit 16, so the loader
; must use the program headers:
;   segment 0: the code, file offset 0, physical 0x100000, but virtual
;              0xc0100000 (linked "high", loaded low); e_entry is virtual,
;              so the loader must translate it to a physical address;
;   segment 1: data at physical 0x200000: 16 bytes from the file, then
;              4 KiB of bss (p_memsz > p_filesz) that must read as zero.
; Output: "Hello from an ELF kernel", the data check, the bss check.

        bits 32

CODE_PHYS   equ 0x100000
CODE_VIRT   equ 0xc0100000
DATA_PHYS   equ 0x200000
BSS_SIZE    equ 4096
COM1        equ 0x3f8
MB_MAGIC    equ 0x1BADB002
MB_FLAGS    equ 0x00000003          ; page-aligned modules, memory info; no a.out kludge

        section .text vstart=CODE_PHYS
elf_header:
        db 0x7f, "ELF", 1, 1, 1, 0  ; ELFCLASS32, little-endian, version 1, SysV
        times 8 db 0
        dw 2                        ; e_type: ET_EXEC
        dw 3                        ; e_machine: EM_386
        dd 1                        ; e_version
        dd start - CODE_PHYS + CODE_VIRT    ; e_entry: virtual
        dd program_headers - elf_header     ; e_phoff
        dd 0                        ; e_shoff: no sections
        dd 0                        ; e_flags
        dw 52                       ; e_ehsize
        dw 32                       ; e_phentsize
        dw 2                        ; e_phnum
        dw 40                       ; e_shentsize
        dw 0                        ; e_shnum
        dw 0                        ; e_shstrndx

program_headers:
        ; Segment 0: headers and code.
        dd 1                        ; PT_LOAD
        dd 0                        ; p_offset
        dd CODE_VIRT                ; p_vaddr
        dd CODE_PHYS                ; p_paddr
        dd code_end - elf_header    ; p_filesz
        dd code_end - elf_header    ; p_memsz
        dd 5                        ; p_flags: R X
        dd 0x1000                   ; p_align
        ; Segment 1: data and bss.
        dd 1                        ; PT_LOAD
        dd code_end - elf_header    ; p_offset: the data follows the code in the file
        dd DATA_PHYS                ; p_vaddr
        dd DATA_PHYS                ; p_paddr
        dd data_end - data_start    ; p_filesz
        dd data_end - data_start + BSS_SIZE ; p_memsz
        dd 6                        ; p_flags: R W
        dd 0x1000                   ; p_align

        align 4
mb_header:
        dd MB_MAGIC
        dd MB_FLAGS
        dd -(MB_MAGIC + MB_FLAGS)

start:
        mov esp, 0x300000           ; a stack of our own, in free RAM
        mov esi, hello
        call puts
        ; The data segment arrived at its physical address.
        mov esi, DATA_PHYS
        call puts
        ; And its bss is zero.
        mov edi, data_end
        mov ecx, BSS_SIZE / 4
        xor eax, eax
.scan:  or eax, [edi]
        add edi, 4
        dec ecx
        jnz .scan
        test eax, eax
        jnz .dirty
        mov esi, bss_ok
        call puts
        mov al, 0x10
        out 0xf4, al
.dirty: mov esi, bss_bad
        call puts
        mov al, 0x11
        out 0xf4, al

puts:   mov dx, COM1
.next:  mov al, [esi]
        test al, al
        jz .done
        out dx, al
        inc esi
        jmp .next
.done:  ret

hello:  db "Hello from an ELF kernel", 10, 0
bss_ok: db "bss is zero", 10, 0
bss_bad: db "FAIL: bss is not zero", 10, 0
        align 16
code_end:

        section .data vstart=DATA_PHYS follows=.text
data_start:
        db "data segment ok", 10, 0
        align 16, db 0
data_end:
