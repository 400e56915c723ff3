; pae: PAE paging (SDM Vol. 3A 4.4): a 4-entry PDPT, page directories with
; 2 MiB pages and page tables with 4 KiB pages (8-byte entries). Checks:
;  - a 2 MiB page and a 4 KiB page translate to the right physical bytes;
;  - XD (bit 63) with EFER.NXE = 0 is a reserved bit: #PF with RSVD
;    (4.4.2, table 4-11; error code 4.7: P=1 RSVD=1);
;  - with NXE = 1: the page reads, a fetch from it is #PF with I/D = 1
;    (4.6, 4.7); once XD is cleared the code runs; XD set again (and
;    INVLPG, 4.10.4.1) makes the same code fault again;
;  - reserved bits: a PTE address bit above MAXPHYADDR, bit 13 of a 2 MiB
;    PDE (4.4.2: bits 20:13 of a 2 MiB PDE are reserved) -> RSVD = 1;
;  - CR0.WP = 1: a supervisor write to a read-only page is #PF (P=1 W=1);
;    WP = 0: the write succeeds and sets the dirty bit (4.6.1, 4.8);
;  - the PDPTEs are loaded by MOV CR3 (4.4.1): a PDPTE made present in
;    memory is not used until CR3 is reloaded;
;  - MOV CR3 with a present PDPTE that sets a reserved bit (R/W is
;    reserved in a PAE PDPTE) is #GP(0) and changes nothing (4.4.1).
; The fault handlers print CR2 and the error code, check the saved EIP
; and resume after the faulting instruction. Failures exit with 0x40-0x4f.
%include "lib32.inc"
%include "check32.inc"

        MULTIBOOT_AOUT

PG_P     equ 1
PG_RW    equ 2
PG_A     equ 0x20
PG_D     equ 0x40
PG_PS    equ 0x80
XD_HI    equ 0x80000000                 ; bit 63, in the entry's high dword
CR0_PG   equ 0x80000000
CR0_WP   equ 0x00010000
CR4_PAE  equ 0x20
MSR_EFER equ 0xc0000080
EFER_NXE equ 0x800

VA_2M    equ 0x40000000                 ; pd1[0]: 2 MiB page at physical 4 MiB
VA_4K    equ 0x40200000                 ; pd1[1] -> pt1, 4 KiB pages:
VA_NX    equ VA_4K + 0x1000             ;   pt1[1] code_frame, XD
VA_RSVD  equ VA_4K + 0x2000             ;   pt1[2] bit 45 set (above MAXPHYADDR)
VA_RO    equ VA_4K + 0x3000             ;   pt1[3] read-only
VA_XD0   equ VA_4K + 0x4000             ;   pt1[4] XD, tried with NXE = 0 first
VA_BIG_RSVD equ 0x40400000              ; pd1[2]: 2 MiB page with bit 13 set
VA_LATE  equ 0x80000000                 ; PDPT[2], made present after MOV CR3
PHYS_2M  equ 0x00400000

start:
        mov esp, stack_top
        call load_gdt
        mov eax, 13
        mov ebx, gp_handler
        mov cl, INT_GATE
        call set_gate
        mov eax, 14
        mov ebx, pf_handler
        call set_gate
        call load_idt

        ; Identity map of 0-8 MiB with 2 MiB pages.
        mov dword [pd0 + 0 * 8], 0x000000 | PG_P | PG_RW | PG_PS
        mov dword [pd0 + 1 * 8], 0x200000 | PG_P | PG_RW | PG_PS
        mov dword [pd0 + 2 * 8], 0x400000 | PG_P | PG_RW | PG_PS
        mov dword [pd0 + 3 * 8], 0x600000 | PG_P | PG_RW | PG_PS
        mov dword [pd1 + 0 * 8], PHYS_2M | PG_P | PG_RW | PG_PS
        mov dword [pd1 + 1 * 8], pt1 + (PG_P | PG_RW)
        mov dword [pd1 + 2 * 8], 0x600000 | PG_P | PG_RW | PG_PS | (1 << 13)
        mov dword [pt1 + 0 * 8], frame_a + (PG_P | PG_RW)
        mov dword [pt1 + 1 * 8], code_frame + (PG_P | PG_RW)
        mov dword [pt1 + 1 * 8 + 4], XD_HI
        mov dword [pt1 + 2 * 8], frame_b + (PG_P | PG_RW)
        mov dword [pt1 + 2 * 8 + 4], 1 << (45 - 32)
        mov dword [pt1 + 3 * 8], frame_c + PG_P
        mov dword [pt1 + 4 * 8], frame_d + (PG_P | PG_RW)
        mov dword [pt1 + 4 * 8 + 4], XD_HI
        mov dword [pdpt + 0 * 8], pd0 + PG_P
        mov dword [pdpt + 1 * 8], pd1 + PG_P

        ; mov eax, 0x600dc0de; ret -- in the NX page.
        mov byte [code_frame], 0xb8
        mov dword [code_frame + 1], 0x600dc0de
        mov byte [code_frame + 5], 0xc3

        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, pdpt
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG | CR0_WP
        mov cr0, eax
        PRINTLN "PAE paging on"

        ; A 2 MiB page and a 4 KiB page.
        mov dword [VA_2M + 0x12344], 0xa5a5a5a5
        mov eax, [PHYS_2M + 0x12344]
        PRINT "2M page: 0x40012344 -> 0x00412344 reads "
        call print_hex
        call newline
        CHECKV eax, 0xa5a5a5a5, 0x40, "2 MiB page translation"
        mov dword [VA_4K + 0x20], 0x5a5a5a5a
        mov eax, [frame_a + 0x20]
        PRINT "4K page: 0x40200020 -> frame + 0x20 reads "
        call print_hex
        call newline
        CHECKV eax, 0x5a5a5a5a, 0x41, "4 KiB page translation"

        ; XD set while EFER.NXE = 0: reserved.
        PRINTLN "read with XD set and EFER.NXE=0:"
        EXPECT_FAULT xd0_at, xd0_done
xd0_at: mov eax, [VA_XD0]
        FAILV 0x42, "no #PF for XD with NXE=0"
xd0_done:

        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        mov eax, [VA_XD0]
        PRINTLN "EFER.NXE=1: the same page reads"

        ; A fetch from an XD page.
        PRINTLN "call into an XD page:"
        EXPECT_FAULT VA_NX, nx_done
        call VA_NX
        FAILV 0x43, "executed code in an XD page"
nx_done:
        add esp, 4                      ; the CALL completed: its return address
        movzx eax, byte [VA_NX]
        PRINT "the XD page reads "
        call print_hex
        call newline
        CHECKV eax, 0xb8, 0x44, "data read of an XD page"
        and dword [pt1 + 1 * 8 + 4], ~XD_HI
        invlpg [VA_NX]
        call VA_NX
        PRINT "XD cleared: call returns "
        call print_hex
        call newline
        CHECKV eax, 0x600dc0de, 0x45, "code in the page once XD is clear"
        or dword [pt1 + 1 * 8 + 4], XD_HI
        invlpg [VA_NX]
        PRINTLN "XD set again (INVLPG), call the code that just ran:"
        EXPECT_FAULT VA_NX, nx_again_done
        call VA_NX
        FAILV 0x45, "code ran from a page made XD again"
nx_again_done:
        add esp, 4

        ; Reserved bits.
        PRINTLN "read through a PTE with bit 45 set:"
        EXPECT_FAULT rsvd_at, rsvd_done
rsvd_at: mov eax, [VA_RSVD]
        FAILV 0x46, "no #PF for a reserved PTE bit"
rsvd_done:
        PRINTLN "write through a 2M PDE with bit 13 set:"
        EXPECT_FAULT big_at, big_done
big_at: mov dword [VA_BIG_RSVD], 1
        FAILV 0x47, "no #PF for a reserved 2 MiB PDE bit"
big_done:

        ; CR0.WP.
        PRINTLN "supervisor write to a read-only page, CR0.WP=1:"
        EXPECT_FAULT wp_at, wp_done
wp_at:  mov dword [VA_RO], 0x1234
        FAILV 0x48, "CR0.WP=1 let ring 0 write a read-only page"
wp_done:
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        mov dword [VA_RO], 0x1234
        mov eax, [frame_c]
        PRINT "CR0.WP=0: the write lands: "
        call print_hex
        mov eax, [pt1 + 3 * 8]
        and eax, PG_A | PG_D
        PRINT " pte A/D="
        call print_hex
        call newline
        CHECKV dword [frame_c], 0x1234, 0x49, "supervisor write with WP=0"
        CHECKV eax, PG_A | PG_D, 0x4a, "accessed/dirty after the write"

        ; The PDPTE registers.
        mov dword [pdpt + 2 * 8], pd1 + PG_P
        PRINTLN "PDPT[2] made present in memory, CR3 not reloaded:"
        EXPECT_FAULT late_at, late_done
late_at: mov eax, [VA_LATE + 0x12344]
        FAILV 0x4b, "a PDPTE was used before MOV CR3 loaded it"
late_done:
        mov eax, cr3
        mov cr3, eax
        mov eax, [VA_LATE + 0x12344]
        PRINT "after MOV CR3: 0x80012344 reads "
        call print_hex
        call newline
        CHECKV eax, 0xa5a5a5a5, 0x4c, "the PDPTE loaded by MOV CR3"

        ; A PDPT whose present entry sets a reserved bit: MOV CR3 is #GP(0).
        mov esi, pdpt
        mov edi, pdpt_bad
        mov ecx, 8
        rep movsd
        or dword [pdpt_bad], PG_RW
        PRINTLN "MOV CR3 with a PDPTE that sets R/W (reserved):"
        EXPECT_FAULT cr3_at, cr3_done
        mov eax, pdpt_bad
cr3_at: mov cr3, eax
        FAILV 0x4d, "MOV CR3 accepted a reserved PDPTE bit"
cr3_done:
        mov eax, cr3
        CHECKV eax, pdpt, 0x4e, "the failed MOV CR3 changed CR3"
        mov eax, [VA_2M + 0x12344]
        CHECKV eax, 0xa5a5a5a5, 0x4e, "translation after the failed MOV CR3"
        PRINTLN "CR3 unchanged"
        PRINTLN "pae done"
        EXIT 0x10

; The expected faults: print, check the saved EIP, resume.
pf_handler:
        pushad
        PRINT "#PF cr2="
        mov eax, cr2
        call print_hex
        PRINT " err="
        mov eax, [esp + 32]
        call print_hex
        call newline
        mov eax, [esp + 36]
        CHECKV eax, [fault_eip], 0x4f, "#PF: saved EIP is not the faulting instruction"
        mov eax, [resume_eip]
        mov [esp + 36], eax
        popad
        add esp, 4
        iret

gp_handler:
        pushad
        PRINT "#GP err="
        mov eax, [esp + 32]
        call print_hex
        call newline
        mov eax, [esp + 36]
        CHECKV eax, [fault_eip], 0x4f, "#GP: saved EIP is not the faulting instruction"
        mov eax, [resume_eip]
        mov [esp + 36], eax
        popad
        add esp, 4
        iret

        align 4
fault_eip:  dd 0
resume_eip: dd 0

        LIB_CODE
image_end:
        section .bss align=4096
        alignb 4096
pdpt:       resb 32                     ; PAE: CR3 points at a 32-byte aligned PDPT
pdpt_bad:   resb 32
        alignb 4096
pd0:        resb 4096
pd1:        resb 4096
pt1:        resb 4096
frame_a:    resb 4096
code_frame: resb 4096
frame_b:    resb 4096
frame_c:    resb 4096
frame_d:    resb 4096
        LIB_BSS
bss_end:
