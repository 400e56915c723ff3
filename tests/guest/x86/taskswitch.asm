; taskswitch: hardware task switches with 32-bit TSSs (SDM Vol. 3A ch. 7):
; a far JMP to a TSS and back, a far CALL through a task gate and IRET back
; (NT, the previous-task link and the busy bits read from the GDT), INT n
; through a task gate in the IDT, faults whose IDT entries are task gates
; (#GP with its error code on the handler task's stack and the faulting EIP
; saved in the old TSS), a JMP to a busy TSS (#GP(selector)), a TSS whose
; limit is too small (#TS(selector)), and a #DF delivered through a task
; gate (#GP whose IDT gate is not present).
%include "lib32.inc"
%include "check32.inc"

TSS_LINK        equ 0x00
TSS_CR3         equ 0x1c
TSS_EIP         equ 0x20
TSS_EFLAGS      equ 0x24
TSS_EAX         equ 0x28
TSS_ESP         equ 0x38
TSS_ES          equ 0x48
TSS_IOMAP       equ 0x66
TSS_SIZE        equ 104

SEL_MAIN        equ 0x18            ; the boot task's TSS
SEL_A           equ 0x20            ; task A: far JMP target
SEL_B           equ 0x28            ; task B: reached through the gate 0x30
SEL_GATE_B      equ 0x30            ; task gate (GDT) -> task B
SEL_C           equ 0x38            ; task C: fault handler task
SEL_SMALL       equ 0x40            ; TSS with limit 0x50 (< 0x67): #TS
SEL_D           equ 0x48            ; task D: int 0x40 handler task

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        lgdt [gdt_desc]
        jmp 0x08:.reload
.reload:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax

        ; TSS descriptors (available 32-bit TSS, type 9).
        mov edi, gdt + SEL_MAIN
        mov eax, tss_main
        mov ecx, TSS_SIZE - 1
        call make_tss_desc
        mov edi, gdt + SEL_A
        mov eax, tss_a
        call make_tss_desc
        mov edi, gdt + SEL_B
        mov eax, tss_b
        call make_tss_desc
        mov edi, gdt + SEL_C
        mov eax, tss_c
        call make_tss_desc
        mov edi, gdt + SEL_D
        mov eax, tss_d
        call make_tss_desc
        mov edi, gdt + SEL_SMALL
        mov eax, tss_small
        mov ecx, 0x50
        call make_tss_desc

        ; The tasks' initial states.
        mov edi, tss_a
        mov eax, task_a
        mov ebx, stack_a_top
        call init_tss
        mov dword [tss_a + TSS_EAX], 0x1111
        mov edi, tss_b
        mov eax, task_b
        mov ebx, stack_b_top
        call init_tss
        mov edi, tss_c
        mov eax, task_c
        mov ebx, stack_c_top
        call init_tss
        mov edi, tss_d
        mov eax, task_d
        mov ebx, stack_d_top
        call init_tss

        ; IDT: #DF, #TS and #GP go to task C; int 0x40 to task D.
        mov eax, 8
        mov ebx, SEL_C
        call set_task_gate
        mov eax, 10
        call set_task_gate
        mov eax, 13
        call set_task_gate
        mov eax, 0x40
        mov ebx, SEL_D
        call set_task_gate
        call load_idt

        mov ax, SEL_MAIN
        ltr ax
        mov esi, 0x12345678             ; must survive every switch

        ; --- 1. far JMP to task A, which jumps back.
        mov ebx, 0x5a5a
        jmp SEL_A:0
after_jmp_a:
        CHECKV ebx, 0x5a5a, 0x20, "ebx after the round trip"
        PRINT "back in main: ebx="
        mov eax, ebx
        call print_hex
        PRINT " main="
        movzx eax, byte [gdt + SEL_MAIN + 5]
        call print_hex
        PRINT " A="
        movzx eax, byte [gdt + SEL_A + 5]
        call print_hex
        call newline
        CHECKV dword [tss_a + TSS_EIP], task_a_back, 0x21, "task A's saved EIP"
        clts

        ; --- 2. far CALL through a task gate; task B returns with IRET.
        call SEL_GATE_B:0
after_call_b:
        PRINT "iret back: main="
        movzx eax, byte [gdt + SEL_MAIN + 5]
        call print_hex
        PRINT " B="
        movzx eax, byte [gdt + SEL_B + 5]
        call print_hex
        PRINT " NT="
        pushfd
        pop eax
        shr eax, 14
        and eax, 1
        call print_dec
        PRINT " B.eax="
        mov eax, [tss_b + TSS_EAX]
        call print_hex
        PRINT " B.NT="
        mov eax, [tss_b + TSS_EFLAGS]
        shr eax, 14
        and eax, 1
        call print_dec
        call newline
        CHECKV dword [tss_b + TSS_EIP], task_b_back, 0x22, "task B's saved EIP"

        ; --- 3. int 0x40 through a task gate in the IDT.
        mov dword [tss_d + TSS_EAX], 0
        int 0x40
after_int40:
        PRINT "int 0x40 via task gate: link="
        movzx eax, word [tss_d + TSS_LINK]
        call print_hex
        PRINT " D="
        movzx eax, byte [gdt + SEL_D + 5]
        call print_hex
        call newline
        CHECKV dword [tss_main + TSS_EIP], after_int40, 0x23, "EIP saved by int 0x40"

        ; --- 4. #GP whose IDT entry is a task gate: error code on task C's stack.
        mov dword [resume_eip], after_gp
        mov ax, 0x0ff8                  ; beyond the GDT: #GP(0x0ff8)
gp_insn:
        mov ds, ax
after_gp:
        PRINT "#GP via task gate: err="
        mov eax, [got_err]
        call print_hex
        PRINT " link="
        mov eax, [got_link]
        call print_hex
        call newline
        CHECKV dword [got_eip], gp_insn, 0x24, "EIP saved by #GP"

        ; --- 5. JMP to the busy TSS of the running task: #GP(0x18).
        mov dword [resume_eip], after_busy
busy_insn:
        jmp SEL_MAIN:0
after_busy:
        PRINT "busy TSS: err="
        mov eax, [got_err]
        call print_hex
        call newline
        CHECKV dword [got_eip], busy_insn, 0x25, "EIP saved by #GP (busy)"

        ; --- 6. JMP to a TSS whose limit is 0x50: #TS(0x40).
        mov dword [resume_eip], after_small
small_insn:
        jmp SEL_SMALL:0
after_small:
        PRINT "small TSS: err="
        mov eax, [got_err]
        call print_hex
        PRINT " small="
        movzx eax, byte [gdt + SEL_SMALL + 5]
        call print_hex
        call newline
        CHECKV dword [got_eip], small_insn, 0x26, "EIP saved by #TS"

        ; --- 7. #GP with a not-present IDT gate: #NP during its delivery
        ; makes #DF(0), delivered through the task gate at vector 8.
        mov dword [lib_idt + 13 * 8 + 4], 0x00000e00    ; P = 0
        mov dword [resume_eip], after_df
        mov ax, 0x0ff8
df_insn:
        mov ds, ax
after_df:
        PRINT "#DF via task gate: err="
        mov eax, [got_err]
        call print_hex
        call newline
        CHECKV dword [got_eip], df_insn, 0x27, "EIP saved by #DF"

        CHECKV esi, 0x12345678, 0x28, "esi across task switches"
        PRINT "esi kept="
        mov eax, esi
        call print_hex
        call newline
        PRINT "tr="
        str ax
        movzx eax, ax
        call print_hex
        call newline
        clts
        PRINTLN "taskswitch done"
        EXIT 0x10

; --- Task A: entered by far JMP (not nested), leaves by far JMP.
task_a:
        mov ebp, eax
        PRINT "task A: eax="
        mov eax, ebp
        call print_hex
        PRINT " tr="
        str ax
        movzx eax, ax
        call print_hex
        PRINT " main="
        movzx eax, byte [gdt + SEL_MAIN + 5]
        call print_hex
        PRINT " A="
        movzx eax, byte [gdt + SEL_A + 5]
        call print_hex
        PRINT " NT="
        pushfd
        pop eax
        shr eax, 14
        and eax, 1
        call print_dec
        PRINT " TS="
        mov eax, cr0
        shr eax, 3
        and eax, 1
        call print_dec
        call newline
        CHECKV dword [tss_main + TSS_EIP], after_jmp_a, 0x30, "main's saved EIP (JMP)"
        CHECKV dword [tss_main + TSS_EAX + 3 * 4], 0x5a5a, 0x31, "main's saved EBX"
        jmp SEL_MAIN:0
task_a_back:
        FAILV 0x32, "task A resumed"

; --- Task B: entered by far CALL through a task gate (nested), leaves by IRET.
task_b:
        PRINT "task B: NT="
        pushfd
        pop eax
        shr eax, 14
        and eax, 1
        call print_dec
        PRINT " link="
        movzx eax, word [tss_b + TSS_LINK]
        call print_hex
        PRINT " main="
        movzx eax, byte [gdt + SEL_MAIN + 5]
        call print_hex
        PRINT " B="
        movzx eax, byte [gdt + SEL_B + 5]
        call print_hex
        call newline
        CHECKV dword [tss_main + TSS_EIP], after_call_b, 0x33, "main's saved EIP (CALL)"
        mov eax, 0xbbbb
        iret
task_b_back:
        FAILV 0x34, "task B resumed"

; --- Task D: int 0x40's task; each IRET leaves it ready to run again.
task_d:
        PRINT "task D: NT="
        pushfd
        pop eax
        shr eax, 14
        and eax, 1
        call print_dec
        call newline
        iret
        jmp task_d

; --- Task C: the fault handler task. Records the error code (on its
; stack), the interrupted task's saved EIP and the link, then makes the
; interrupted task resume at resume_eip.
task_c:
        pop eax
        mov [got_err], eax
        movzx eax, word [tss_c + TSS_LINK]
        mov [got_link], eax
        mov eax, [tss_main + TSS_EIP]
        mov [got_eip], eax
        mov eax, [resume_eip]
        mov [tss_main + TSS_EIP], eax
        iret
        jmp task_c

; make_tss_desc: the GDT entry at edi becomes an available 32-bit TSS
; (type 9, present, DPL 0, byte granular) with base eax, limit cx.
make_tss_desc:
        push eax
        mov [edi], cx
        mov [edi + 2], ax
        shr eax, 16
        mov [edi + 4], al
        mov byte [edi + 5], 0x89
        mov byte [edi + 6], 0
        mov [edi + 7], ah
        pop eax
        ret

; init_tss: the TSS at edi starts at eax with esp = ebx, flat segments,
; EFLAGS = 2, no LDT, CR3 = 0 (paging is off).
init_tss:
        push eax
        push ecx
        push edi
        push eax
        xor eax, eax
        mov ecx, TSS_SIZE / 4
        rep stosd
        pop eax
        pop edi
        mov [edi + TSS_EIP], eax
        mov dword [edi + TSS_EFLAGS], 2
        mov [edi + TSS_ESP], ebx
        mov dword [edi + TSS_ES], 0x10
        mov dword [edi + TSS_ES + 4], 0x08
        mov dword [edi + TSS_ES + 8], 0x10
        mov dword [edi + TSS_ES + 12], 0x10
        mov dword [edi + TSS_ES + 16], 0x10
        mov dword [edi + TSS_ES + 20], 0x10
        mov word [edi + TSS_IOMAP], TSS_SIZE
        pop ecx
        pop eax
        ret

; set_task_gate: IDT entry eax -> task gate (present, DPL 0) for TSS bx.
set_task_gate:
        push edx
        movzx edx, bx
        shl edx, 16
        mov [lib_idt + eax * 8], edx
        mov dword [lib_idt + eax * 8 + 4], 0x00008500
        pop edx
        ret

        align 8
gdt:
        dq 0
        dq 0x00cf9b000000ffff           ; 0x08: code, flat, 32-bit
        dq 0x00cf93000000ffff           ; 0x10: data, flat
        dq 0                            ; 0x18: TSS main (made at run time)
        dq 0                            ; 0x20: TSS A
        dq 0                            ; 0x28: TSS B
        dd SEL_B << 16, 0x00008500      ; 0x30: task gate -> B
        dq 0                            ; 0x38: TSS C
        dq 0                            ; 0x40: TSS with a small limit
        dq 0                            ; 0x48: TSS D
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

        align 4
resume_eip:     dd 0
got_err:        dd 0
got_eip:        dd 0
got_link:       dd 0

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
        alignb 16
tss_main:       resb TSS_SIZE
        alignb 16
tss_a:          resb TSS_SIZE
        alignb 16
tss_b:          resb TSS_SIZE
        alignb 16
tss_c:          resb TSS_SIZE
        alignb 16
tss_d:          resb TSS_SIZE
        alignb 16
tss_small:      resb TSS_SIZE
        alignb 16
        resb 4096
stack_a_top:
        resb 4096
stack_b_top:
        resb 4096
stack_c_top:
        resb 4096
stack_d_top:
bss_end:
