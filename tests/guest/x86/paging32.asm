; paging32: 32-bit paging with 4 MiB pages (CR4.PSE, SDM Vol. 3A 4.3) and
; user/supervisor protection (4.6), with a 32-bit TSS for the stack switch.
; Page directory (every entry a 4 MiB page):
;   0-4 MiB    identity, user, writable (kernel and user code, stacks)
;   4-8 MiB    identity, supervisor only
;   8-12 MiB   identity, user, read-only
;   0x80000000 supervisor alias of 0-4 MiB
; Checks:
;  - a 4 MiB page translates bits 21:0 of the address (4.3) and the walk
;    sets A and D in the PDE that maps it (4.8);
;  - ring 0 writes a read-only user page while CR0.WP = 0 (4.6.1);
;  - IRET to CPL 3 (Vol. 2 IRET, return to outer privilege level): CS and
;    SS from the frame, DS/ES holding a DPL 0 segment become null;
;  - CPL 3 accesses: a supervisor page faults on read (err P|U = 0x5) and
;    write (0x7), a read-only user page faults on write (0x7) even with
;    WP = 0, and reads; code ring 0 ran in a supervisor page faults when
;    ring 3 calls it (0x5: no I/D bit without PAE+NXE or SMEP, 4.7); the
;    #PF handler runs on the TSS's SS0:ESP0;
;  - INT 0x80 from CPL 3 through a DPL 3 trap gate: stack switch to
;    SS0:ESP0 (6.12.1), the frame holds the user SS:ESP;
;  - back to ring 0 through a DPL 3 call gate (5.8.3-5.8.5): CPL 0, the
;    stack switched again, the caller's CS:EIP and SS:ESP on it;
;  - CR0.WP = 1: ring 0 can no longer write the read-only user page.
; Failures exit with 0x50-0x5f.
%include "lib32.inc"
%include "check32.inc"

        MULTIBOOT_AOUT

K_CODE   equ 0x08
K_DATA   equ 0x10
U_CODE   equ 0x18
U_DATA   equ 0x20
TSS_SEL  equ 0x28
GATE_SEL equ 0x30

PG_P     equ 1
PG_RW    equ 2
PG_US    equ 4
PG_A     equ 0x20
PG_D     equ 0x40
PG_PS    equ 0x80
CR0_PG   equ 0x80000000
CR0_WP   equ 0x00010000
CR4_PSE  equ 0x10

SUPER_VA equ 0x00400000
RO_VA    equ 0x00800000
ALIAS_VA equ 0x80000000

start:
        mov esp, stack_top
        lgdt [gdt_desc]
        jmp K_CODE:.reload
.reload:
        mov ax, K_DATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax

        ; The TSS: SS0:ESP0, no I/O bitmap (IOPL 3 lets ring 3 print).
        mov dword [tss + 4], kstack_top
        mov dword [tss + 8], K_DATA
        mov word [tss + 0x66], 104
        mov eax, tss
        mov word [gdt_tss], 103
        mov [gdt_tss + 2], ax
        shr eax, 16
        mov [gdt_tss + 4], al
        mov byte [gdt_tss + 5], 0x89    ; present, DPL 0, 32-bit TSS (available)
        mov byte [gdt_tss + 6], 0
        mov [gdt_tss + 7], ah
        ; The call gate: DPL 3, to K_CODE:gate_entry, no parameters.
        mov eax, gate_entry
        mov [gdt_gate], ax
        mov word [gdt_gate + 2], K_CODE
        mov byte [gdt_gate + 4], 0
        mov byte [gdt_gate + 5], 0xec   ; present, DPL 3, 32-bit call gate
        shr eax, 16
        mov [gdt_gate + 6], ax
        mov ax, TSS_SEL
        ltr ax

        mov eax, 14
        mov ebx, pf_handler
        mov cl, INT_GATE
        call set_gate
        mov eax, 0x80
        mov ebx, int80_handler
        mov cl, 0xef                    ; present, DPL 3, 32-bit trap gate
        call set_gate
        call load_idt

        mov dword [page_dir + 0 * 4], 0x000000 | PG_P | PG_RW | PG_US | PG_PS
        mov dword [page_dir + 1 * 4], SUPER_VA | PG_P | PG_RW | PG_PS
        mov dword [page_dir + 2 * 4], RO_VA | PG_P | PG_US | PG_PS
        mov dword [page_dir + (ALIAS_VA >> 22) * 4], 0x000000 | PG_P | PG_RW | PG_PS
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, page_dir
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        PRINTLN "32-bit paging with 4 MiB pages on"

        ; The 4 MiB alias.
        mov eax, [ALIAS_VA + marker]
        PRINT "0x80000000 + marker reads "
        call print_hex
        call newline
        CHECKV eax, [marker], 0x50, "4 MiB page translation"
        mov dword [ALIAS_VA + marker], 0x44444444
        CHECKV dword [marker], 0x44444444, 0x50, "write through the 4 MiB alias"
        mov eax, [page_dir + (ALIAS_VA >> 22) * 4]
        and eax, PG_A | PG_D
        PRINT "4 MiB PDE A/D="
        call print_hex
        call newline
        CHECKV eax, PG_A | PG_D, 0x51, "accessed/dirty in the 4 MiB PDE"

        ; Ring 0 runs code in the supervisor page (ring 3 tries the same later).
        mov byte [SUPER_VA], 0xc3       ; ret
        call SUPER_VA
        PRINTLN "ring 0 ran code in the supervisor page"

        ; Ring 0 writes a read-only user page: CR0.WP = 0.
        mov dword [RO_VA], 0x77
        PRINTLN "ring 0 wrote the read-only user page (CR0.WP=0)"

        ; To CPL 3 with IOPL 3, IF clear.
        push dword U_DATA | 3
        push dword ustack_top
        push dword 0x3002
        push dword U_CODE | 3
        push dword user_entry
        iret

; ---------------------------------------------------------------------------
; CPL 3.
user_entry:
        mov bx, ds
        mov cx, es
        mov ax, U_DATA | 3
        mov ds, ax
        mov es, ax
        PRINT "ring 3: cs="
        mov ax, cs
        movzx eax, ax
        call print_hex
        PRINT " ss="
        mov ax, ss
        call print_hex
        PRINT " ds,es after iret="
        movzx eax, bx
        call print_hex
        PRINT ","
        movzx eax, cx
        call print_hex
        call newline
        CHECKV bx, 0, 0x52, "IRET to CPL 3 kept a DPL 0 data segment in DS"
        CHECKV cx, 0, 0x52, "IRET to CPL 3 kept a DPL 0 data segment in ES"

        PRINTLN "ring 3 reads a supervisor page:"
        EXPECT_FAULT u_read_at, u_read_done
u_read_at:
        mov eax, [SUPER_VA]
        FAILV 0x53, "ring 3 read a supervisor page"
u_read_done:
        PRINTLN "ring 3 writes a supervisor page:"
        EXPECT_FAULT u_write_at, u_write_done
u_write_at:
        mov dword [SUPER_VA], 1
        FAILV 0x54, "ring 3 wrote a supervisor page"
u_write_done:
        PRINTLN "ring 3 writes a read-only user page:"
        EXPECT_FAULT u_ro_at, u_ro_done
u_ro_at:
        mov dword [RO_VA], 1
        FAILV 0x55, "ring 3 wrote a read-only page"
u_ro_done:
        PRINTLN "ring 3 calls the code ring 0 ran in the supervisor page:"
        EXPECT_FAULT SUPER_VA, u_exec_done
        call SUPER_VA
        FAILV 0x5e, "ring 3 ran code in a supervisor page"
u_exec_done:
        add esp, 4                      ; the CALL's return address
        mov eax, [RO_VA]
        PRINT "ring 3 reads the read-only user page: "
        call print_hex
        call newline
        CHECKV eax, 0x77, 0x56, "ring 3 read of a read-only user page"

        mov [user_esp], esp
        mov eax, 41
        int 0x80
        PRINT "int 0x80 returned "
        call print_dec
        call newline
        CHECKV eax, 42, 0x57, "int 0x80 result"

        call (GATE_SEL | 3):0
user_after_gate:
        FAILV 0x58, "the call gate returned to ring 3"

; ---------------------------------------------------------------------------
; #PF: on SS0:ESP0 when the fault comes from ring 3.
pf_handler:
        pushad
        PRINT "#PF cr2="
        mov eax, cr2
        call print_hex
        PRINT " err="
        mov eax, [esp + 32]
        call print_hex
        PRINT " from cs="
        mov eax, [esp + 40]
        call print_hex
        test al, 3
        jz .same_level
        PRINT ", handler esp=esp0-"     ; a privilege change: on SS0:ESP0
        mov eax, kstack_top
        sub eax, esp
        sub eax, 32                     ; without pushad
        call print_dec
.same_level:
        call newline
        mov eax, [esp + 36]
        CHECKV eax, [fault_eip], 0x59, "#PF: saved EIP is not the faulting instruction"
        mov eax, [resume_eip]
        mov [esp + 36], eax
        popad
        add esp, 4
        iret

; INT 0x80 (DPL 3 trap gate). Frame: EIP, CS, EFLAGS, ESP, SS.
int80_handler:
        mov [h_esp], esp
        mov [h_ss], ss
        push eax
        PRINT "int 0x80 at cpl 0: ss="
        movzx eax, word [h_ss]
        call print_hex
        PRINT " esp=esp0-"
        mov eax, kstack_top
        sub eax, [h_esp]
        call print_dec
        PRINT ", saved ss="
        mov eax, [esp + 4 + 16]
        call print_hex
        PRINT " esp="
        mov eax, [esp + 4 + 12]
        cmp eax, [user_esp]
        jne .bad_esp
        PRINT "user esp, cs="
        mov eax, [esp + 4 + 4]
        call print_hex
        call newline
        pop eax
        CHECKV word [h_ss], K_DATA, 0x5a, "int 0x80 handler SS is not SS0"
        CHECKV dword [h_esp], kstack_top - 20, 0x5a, "int 0x80 handler ESP is not ESP0 - 20"
        CHECKV dword [esp + 16], U_DATA | 3, 0x5a, "saved SS"
        CHECKV dword [esp + 4], U_CODE | 3, 0x5a, "saved CS"
        inc eax
        iret
.bad_esp:
        FAILV 0x5b, "int 0x80 frame: saved ESP is not the user's"

; The call gate's target: CPL 0 on SS0:ESP0. Frame: EIP, CS, ESP, SS.
gate_entry:
        mov [h_esp], esp
        mov [h_ss], ss
        PRINT "call gate: cs="
        mov ax, cs
        movzx eax, ax
        call print_hex
        PRINT " ss="
        movzx eax, word [h_ss]
        call print_hex
        PRINT " esp=esp0-"
        mov eax, kstack_top
        sub eax, [h_esp]
        call print_dec
        PRINT ", caller cs="
        mov eax, [esp + 4]
        call print_hex
        PRINT " ss="
        mov eax, [esp + 12]
        call print_hex
        call newline
        CHECKV dword [esp], user_after_gate, 0x5c, "call gate frame EIP"
        mov eax, [user_esp]
        CHECKV [esp + 8], eax, 0x5c, "call gate frame ESP"
        CHECKV dword [h_esp], kstack_top - 16, 0x5c, "call gate stack is not ESP0 - 16"

        ; Ring 0 for good.
        mov ax, K_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, stack_top
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        PRINTLN "ring 0 writes the read-only user page, CR0.WP=1:"
        EXPECT_FAULT k_ro_at, k_ro_done
k_ro_at:
        mov dword [RO_VA], 2
        FAILV 0x5d, "CR0.WP=1 let ring 0 write a read-only page"
k_ro_done:
        PRINTLN "paging32 done"
        EXIT 0x10

        align 4
marker:     dd 0x4d41524b
fault_eip:  dd 0
resume_eip: dd 0
user_esp:   dd 0
h_esp:      dd 0
h_ss:       dd 0

        align 8
gdt:    dq 0
        dq 0x00cf9b000000ffff           ; 0x08 kernel code
        dq 0x00cf93000000ffff           ; 0x10 kernel data
        dq 0x00cffb000000ffff           ; 0x18 user code (DPL 3)
        dq 0x00cff3000000ffff           ; 0x20 user data (DPL 3)
gdt_tss:  dq 0                          ; 0x28 TSS (filled at run time)
gdt_gate: dq 0                          ; 0x30 call gate (filled at run time)
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

        LIB_CODE
image_end:
        section .bss align=4096
        alignb 4096
page_dir:   resb 4096
tss:        resb 104
        alignb 16
        resb 4096
kstack_top:
        resb 4096
ustack_top:
        LIB_BSS
bss_end:
