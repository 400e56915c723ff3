; global: global pages (CR4.PGE and the G bit, SDM Vol. 3A 4.10.2.4 and
; 4.10.4.1). 32-bit paging with 4 MiB pages:
;   0-4 MiB   identity (code, data, stack), not global
;   VA_G      -> PHYS_A, global
;   VA_N      -> PHYS_A, not global
; After both are read (so the TLB holds them), both PDEs are re-pointed to
; PHYS_B without INVLPG, and CR3 is reloaded with the same value:
;   - the global translation survives the CR3 load (reads PHYS_A's marker);
;   - the non-global one is gone (reads PHYS_B's marker);
;   - INVLPG of VA_G drops the global translation too;
;   - toggling CR4.PGE flushes every translation, global ones included.
; Failures exit with 0x60-0x6f.
%include "lib32.inc"
%include "check32.inc"

        MULTIBOOT_AOUT

PG_P     equ 1
PG_RW    equ 2
PG_PS    equ 0x80
PG_G     equ 0x100
CR0_PG   equ 0x80000000
CR4_PSE  equ 0x10
CR4_PGE  equ 0x80

VA_G     equ 0x40000000
VA_N     equ 0x40400000
PHYS_A   equ 0x00400000
PHYS_B   equ 0x00800000
MARK_A   equ 0xaaaa0001
MARK_B   equ 0xbbbb0002

start:
        mov esp, stack_top
        call load_gdt
        mov dword [PHYS_A], MARK_A
        mov dword [PHYS_B], MARK_B
        ; page directory (4 KiB aligned, in .bss)
        mov edi, page_dir
        mov dword [edi], 0 | PG_P | PG_RW | PG_PS
        mov dword [edi + (VA_G >> 22) * 4], PHYS_A | PG_P | PG_RW | PG_PS | PG_G
        mov dword [edi + (VA_N >> 22) * 4], PHYS_A | PG_P | PG_RW | PG_PS
        mov eax, page_dir
        mov cr3, eax
        mov eax, CR4_PSE | CR4_PGE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax

        mov eax, [VA_G]
        CHECKV eax, MARK_A, 0x60, "global page before the change"
        mov eax, [VA_N]
        CHECKV eax, MARK_A, 0x61, "non-global page before the change"
        ; re-point both without invalidating, then reload CR3
        mov dword [page_dir + (VA_G >> 22) * 4], PHYS_B | PG_P | PG_RW | PG_PS | PG_G
        mov dword [page_dir + (VA_N >> 22) * 4], PHYS_B | PG_P | PG_RW | PG_PS
        mov eax, cr3
        mov cr3, eax
        mov eax, [VA_N]
        CHECKV eax, MARK_B, 0x62, "non-global translation flushed by MOV CR3"
        mov eax, [VA_G]
        CHECKV eax, MARK_A, 0x63, "global translation kept over MOV CR3"
        PRINTLN "MOV CR3 keeps global pages"
        invlpg [VA_G]
        mov eax, [VA_G]
        CHECKV eax, MARK_B, 0x64, "INVLPG drops a global translation"
        PRINTLN "INVLPG drops them"

        ; back to PHYS_A for the global page, cached again; then CR4.PGE off/on
        mov dword [page_dir + (VA_G >> 22) * 4], PHYS_A | PG_P | PG_RW | PG_PS | PG_G
        invlpg [VA_G]
        mov eax, [VA_G]
        CHECKV eax, MARK_A, 0x65, "global page re-read"
        mov dword [page_dir + (VA_G >> 22) * 4], PHYS_B | PG_P | PG_RW | PG_PS | PG_G
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        or eax, CR4_PGE
        mov cr4, eax
        mov eax, [VA_G]
        CHECKV eax, MARK_B, 0x66, "toggling CR4.PGE flushes global pages"
        PRINTLN "CR4.PGE toggle flushes everything"
        EXIT 0x10

fault_eip: dd 0
resume_eip: dd 0

        LIB_CODE
image_end:
        section .bss
        alignb 4096
page_dir: resb 4096
        LIB_BSS
bss_end:
