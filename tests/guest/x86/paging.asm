; paging: 32-bit paging with 4 KiB pages. The first 8 MiB are identity
; mapped; 0x50000000 is mapped read-only (CR0.WP set, so even ring 0 may
; not write it). The #PF handler prints CR2 and the error code, then fixes
; the cause (maps a fresh zeroed frame for a not-present page, makes a
; read-only page writable) and returns to retry the access. Also checks
; the accessed and dirty bits the walker sets, and that INVLPG forgets a
; translation.
%include "lib32.inc"

        MULTIBOOT_AOUT

PTE_P   equ 1
PTE_RW  equ 2
PTE_A   equ 0x20
PTE_D   equ 0x40
RO_VA   equ 0x50000000
NEW_VA  equ 0x40000000

start:
        mov esp, stack_top
        call load_gdt
        mov eax, 14
        mov ebx, pf_handler
        mov cl, INT_GATE
        call set_gate
        call load_idt

        ; Identity map 0-8 MiB: two page tables, 2048 entries.
        mov edi, pt_identity
        mov eax, PTE_P | PTE_RW
        mov ecx, 2048
.fill:  mov [edi], eax
        add eax, 4096
        add edi, 4
        loop .fill
        mov eax, pt_identity + (PTE_P | PTE_RW)
        mov [page_dir], eax
        add eax, 4096
        mov [page_dir + 4], eax
        ; RO_VA -> ro_frame, present but read-only.
        mov dword [page_dir + (RO_VA >> 22) * 4], pt_ro + (PTE_P | PTE_RW)
        mov dword [pt_ro], ro_frame + PTE_P
        mov eax, page_dir
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80010000              ; PG | WP
        mov cr0, eax
        PRINTLN "paging on"

        ; A write to an unmapped page: not-present #PF (err W=1).
        mov dword [NEW_VA], 0x12345678
        mov eax, [NEW_VA]
        PRINT "read "
        call print_hex
        mov eax, [last_frame]           ; the same bytes through the identity map
        mov eax, [eax]
        PRINT " phys "
        call print_hex
        call newline

        ; A read of the next page: the page table exists now, the entry does not.
        mov eax, [NEW_VA + 0x1000]
        PRINT "read "
        call print_hex
        call newline

        ; A write to the read-only page: protection #PF (err P=1 W=1).
        mov dword [RO_VA], 0xabcdef01
        mov eax, [RO_VA]
        PRINT "write ok, read "
        call print_hex
        call newline
        mov eax, [pt_ro]
        and eax, PTE_A | PTE_D
        CHECK_EQ eax, PTE_A | PTE_D, "accessed/dirty bits of the written page"
        PRINTLN "accessed and dirty set"

        ; Unmap NEW_VA and INVLPG it: the next access faults again.
        mov eax, [page_dir + (NEW_VA >> 22) * 4]
        and eax, 0xfffff000
        mov dword [eax], 0
        invlpg [NEW_VA]
        mov eax, [NEW_VA]
        PRINT "after invlpg read "
        call print_hex
        call newline
        PRINTLN "paging done"
        EXIT 0x10

; #PF: error code on the stack, CR2 holds the linear address.
pf_handler:
        pushad
        mov eax, cr2
        PRINT "#PF cr2="
        call print_hex
        mov eax, [esp + 32]             ; the error code, above the 8 saved registers
        PRINT " err="
        call print_hex
        call newline
        mov ebx, cr2
        ; The page directory entry: give it a page table if it has none.
        mov edx, ebx
        shr edx, 22
        lea esi, [page_dir + edx * 4]
        test dword [esi], PTE_P
        jnz .have_pt
        mov eax, [next_pt]
        add dword [next_pt], 4096
        or eax, PTE_P | PTE_RW
        mov [esi], eax
.have_pt:
        mov esi, [esi]
        and esi, 0xfffff000
        mov edx, ebx
        shr edx, 12
        and edx, 0x3ff
        lea esi, [esi + edx * 4]        ; the page table entry
        test dword [esp + 32], 1
        jnz .protection
        mov eax, [next_frame]
        add dword [next_frame], 4096
        mov [last_frame], eax
        or eax, PTE_P | PTE_RW
        mov [esi], eax
        jmp .done
.protection:
        or dword [esi], PTE_RW
.done:  invlpg [ebx]
        popad
        add esp, 4                      ; drop the error code
        iret

        align 4
next_pt:    dd pt_pool
next_frame: dd frames
last_frame: dd 0

        LIB_CODE
image_end:
        section .bss align=4096
        alignb 4096
page_dir:    resb 4096
pt_identity: resb 2 * 4096
pt_ro:       resb 4096
pt_pool:     resb 4 * 4096
frames:      resb 4 * 4096
ro_frame:    resb 4096
        LIB_BSS
bss_end:
