; taskswitch: hardware task switches with 32-bit TSSs (SDM Vol. 3A ch. 7):
; a far JMP to a TSS and back, a far CALL through a task gate and IRET back
; (NT, the previous-task link and the busy bits read from the GDT), INT n
; through a task gate in the IDT, faults whose IDT entries are task gates
; (#GP with its error code on the handler task's stack and the faulting EIP
; saved in the old TSS), a JMP to a busy TSS (#GP(selector)), a TSS whose
; limit is too small (#TS(selector)), a #DF delivered through a task
; gate (#GP whose IDT gate is not present), a far CALL to a task with a
; 16-bit TSS and its IRET back (SDM 7.6: the registers' upper halves kept,
; the 16-bit state saved as words), and a JMP to a task whose TSS has the
; T flag set (#DB before its first instruction, DR6.BT set).
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
TSS_T           equ 0x64
TSS_SIZE        equ 104

; The 16-bit TSS (SDM 7.6, figure 7-10).
T16_LINK        equ 0
T16_IP          equ 14
T16_FLAGS       equ 16
T16_AX          equ 18
T16_SP          equ 26
T16_ES          equ 34
T16_CS          equ 36
T16_SS          equ 38
T16_DS          equ 40
T16_SIZE        equ 44

SEL_MAIN        equ 0x18            ; the boot task's TSS
SEL_A           equ 0x20            ; task A: far JMP target
SEL_B           equ 0x28            ; task B: reached through the gate 0x30
SEL_GATE_B      equ 0x30            ; task gate (GDT) -> task B
SEL_C           equ 0x38            ; task C: fault handler task
SEL_SMALL       equ 0x40            ; TSS with limit 0x50 (< 0x67): #TS
SEL_D           equ 0x48            ; task D: int 0x40 handler task
SEL_T16         equ 0x50            ; task T16: 16-bit TSS, far CALL target
SEL_CODE_T16    equ 0x58            ; T16's code: base task16, 4 GiB, 32-bit
SEL_STACK_T16   equ 0x60            ; T16's stack: base stack_t16, 64 KiB, 16-bit
SEL_TT          equ 0x68            ; task TT: T flag set

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
        mov edi, gdt + SEL_TT
        mov eax, tss_tt
        mov ecx, TSS_SIZE - 1
        call make_tss_desc
        mov edi, gdt + SEL_T16
        mov eax, tss_t16
        mov ecx, T16_SIZE - 1
        call make_tss_desc
        mov byte [gdt + SEL_T16 + 5], 0x81      ; available 16-bit TSS
        ; T16 runs from a code segment based at task16 (IP is 16 bits),
        ; on a 16-bit stack (the upper half of ESP is the previous task's).
        mov edi, gdt + SEL_CODE_T16
        mov eax, task16
        mov ebx, 0xcf9b                 ; 4 GiB, 32-bit, code, present
        call make_seg_desc
        mov edi, gdt + SEL_STACK_T16
        mov eax, stack_t16
        mov ebx, 0x0093                 ; 64 KiB, 16-bit, data, present
        call make_seg_desc

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
        mov edi, tss_tt
        mov eax, task_tt
        mov ebx, stack_tt_top
        call init_tss
        mov byte [tss_tt + TSS_T], 1
        mov word [tss_t16 + T16_FLAGS], 2
        mov word [tss_t16 + T16_AX], 0x1616
        mov word [tss_t16 + T16_SP], 0x1000
        mov word [tss_t16 + T16_ES], 0x10
        mov word [tss_t16 + T16_CS], SEL_CODE_T16
        mov word [tss_t16 + T16_SS], SEL_STACK_T16
        mov word [tss_t16 + T16_DS], 0x10

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
        call print_nt
        PRINT " B.eax="
        mov eax, [tss_b + TSS_EAX]
        call print_hex
        PRINT " B.NT="
        mov eax, [tss_b + TSS_EFLAGS]
        call print_nt_eax
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

        ; --- 8. far CALL to a task with a 16-bit TSS, which returns with IRET.
        mov eax, 0xabcd0000
        mov [main_esp], esp
        call SEL_T16:0
after_call_t16:
        CHECKV eax, 0xabcd0000, 0x29, "eax after the 16-bit task"
        PRINT "16-bit task: eax="
        mov eax, [t16_eax]
        call print_hex
        PRINT " tr="
        mov eax, [t16_tr]
        call print_hex
        PRINT " NT="
        mov eax, [t16_flags]
        call print_nt_eax
        PRINT " T16="
        mov eax, [t16_busy]
        call print_hex
        call newline
        PRINT "iret from 16-bit task: T16="
        movzx eax, byte [gdt + SEL_T16 + 5]
        call print_hex
        PRINT " link="
        movzx eax, word [tss_t16 + T16_LINK]
        call print_hex
        PRINT " FLAGS.NT="
        movzx eax, word [tss_t16 + T16_FLAGS]
        call print_nt_eax
        call newline
        CHECKV word [tss_t16 + T16_IP], task16_back - task16, 0x2a, "the 16-bit task's saved IP"
        CHECKV word [t16_esp], 0x1000, 0x2b, "SP in the 16-bit task"
        mov eax, [t16_esp]
        mov edx, [main_esp]
        shr eax, 16
        shr edx, 16
        CHECKV eax, edx, 0x2c, "upper half of ESP in the 16-bit task"

        ; --- 9. JMP to a task whose TSS has T = 1: #DB (an interrupt gate)
        ; is taken in the new task before its first instruction.
        mov eax, 1
        mov ebx, db_handler
        mov cl, INT_GATE
        call set_gate
        jmp SEL_TT:0
after_tt:
        PRINT "T flag: #DB count="
        mov eax, [db_count]
        call print_dec
        PRINT " before task TT ran="
        mov eax, [tt_saw_db]
        call print_dec
        PRINT " DR6.BT="
        mov eax, [db_dr6]
        shr eax, 15
        and eax, 1
        call print_dec
        PRINT " tr="
        mov eax, [db_tr]
        call print_hex
        call newline
        CHECKV dword [db_eip], task_tt, 0x2d, "#DB return EIP: task TT's first instruction"
        mov eax, 0xffff0ff0
        mov dr6, eax

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
        call print_nt
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
        call print_nt
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
        call print_nt
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

; --- Task T16 (16-bit TSS): entered by far CALL, leaves by IRET. Its code
; segment starts at task16; it runs 32-bit code with DS flat.
task16:
        mov [t16_eax], eax
        str ax
        movzx eax, ax
        mov [t16_tr], eax
        pushfd
        pop eax
        mov [t16_flags], eax
        mov [t16_esp], esp
        movzx eax, byte [gdt + SEL_T16 + 5]
        mov [t16_busy], eax
        iret
task16_back:
        FAILV 0x35, "task T16 resumed"

; --- Task TT (T = 1): #DB came first; back to main by far JMP.
task_tt:
        mov eax, [db_count]
        mov [tt_saw_db], eax
        jmp SEL_MAIN:0
        FAILV 0x36, "task TT resumed"

; #DB handler (interrupt gate): records the return EIP, DR6 and TR.
db_handler:
        push eax
        mov eax, [esp + 4]
        mov [db_eip], eax
        mov eax, dr6
        mov [db_dr6], eax
        str ax
        movzx eax, ax
        mov [db_tr], eax
        inc dword [db_count]
        pop eax
        iret

; Print EFLAGS.NT as 0 or 1; print_nt_eax: the NT bit of the EFLAGS image
; in eax. Both clobber eax, like print_dec.
print_nt:
        pushfd
        pop eax
print_nt_eax:
        shr eax, 14
        and eax, 1
        jmp print_dec

; make_seg_desc: the GDT entry at edi becomes a segment with base eax,
; limit 15:0 = 0xffff, access byte bl, flags and limit 19:16 in bh.
make_seg_desc:
        push eax
        mov word [edi], 0xffff
        mov [edi + 2], ax
        shr eax, 16
        mov [edi + 4], al
        mov [edi + 5], bl
        mov [edi + 6], bh
        mov [edi + 7], ah
        pop eax
        ret

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
        dq 0                            ; 0x50: 16-bit TSS T16
        dq 0                            ; 0x58: T16's code
        dq 0                            ; 0x60: T16's stack
        dq 0                            ; 0x68: TSS TT (T = 1)
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dd gdt

        align 4
resume_eip:     dd 0
got_err:        dd 0
got_eip:        dd 0
got_link:       dd 0
main_esp:       dd 0
t16_eax:        dd 0
t16_tr:         dd 0
t16_flags:      dd 0
t16_esp:        dd 0
t16_busy:       dd 0
db_count:       dd 0
db_eip:         dd 0
db_dr6:         dd 0
db_tr:          dd 0
tt_saw_db:      dd 0

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
tss_tt:         resb TSS_SIZE
        alignb 16
tss_t16:        resb T16_SIZE
        alignb 16
        resb 4096
stack_a_top:
        resb 4096
stack_b_top:
        resb 4096
stack_c_top:
        resb 4096
stack_d_top:
        resb 4096
stack_tt_top:
stack_t16:
        resb 4096
bss_end:
