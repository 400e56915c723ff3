; smc2: self-modifying code in its hardest forms (SDM Vol. 3A 11.6: a
; write to an instruction that is already fetched or decoded must take
; effect before it executes). smc.asm has the common cases; these are the
; ones a decoded-code cache gets wrong most easily:
;  1. stores to code just ahead in the same block: an opcode byte (the
;     next instruction becomes another one), a doubleword spanning two
;     instructions, read-modify-write (ADD, XCHG), STOSB, a PUSH whose
;     stack is the code itself, an instruction three ahead; and an
;     instruction that straddles a page boundary, patched in either page;
;  2. REP MOVSB copying new code over the tail of the loop that runs it
;     (in a buffer just written as data, and through a paging alias), and
;     REP STOSB turning the next instructions into NOPs;
;  3. paging aliases: one physical page mapped at two linear addresses
;     (W = 0x80000000, X = 0x80001000): code written through W runs at X;
;     patched through W or through its identity address, X runs the new
;     code; the same bytes run at W, X and the identity address each see
;     their own EIP (relative CALL); a store through W to the next
;     instruction at X, in the same block; X remapped to another frame
;     (INVLPG) runs that frame, and mapped back (MOV CR3) the first one.
; The SDM promises cross-alias modifications only after a serializing
; instruction (11.6); the alias tests serialize with CPUID where a program
; on hardware must, except the same-block one, which mmusim's physical
; tracking also covers. Failures exit with 0x70-0x7f.
%include "lib32.inc"
%include "check32.inc"

        MULTIBOOT_AOUT

PG_P    equ 1
PG_RW   equ 2
PG_PS   equ 0x80
CR4_PSE equ 0x10
W_VA    equ 0x80000000
X_VA    equ 0x80001000

start:
        mov esp, stack_top
        call load_gdt
        mov eax, 3
        mov ebx, stale_int3
        mov cl, INT_GATE
        call set_gate
        mov eax, 6
        mov ebx, unexpected_ud
        call set_gate
        mov eax, 14
        mov ebx, unexpected_pf
        call set_gate
        call load_idt

        ; --- 1. Stores to code just ahead, in the same block ---
        xor eax, eax
        mov byte [p_op], 0x48           ; 40 inc eax -> 48 dec eax
p_op:   inc eax
        PRINT "next opcode rewritten (inc -> dec): eax="
        call print_hex
        call newline
        CHECKV eax, -1, 0x70, "stale opcode executed"

        xor eax, eax
        xor ebx, ebx
        mov dword [p_two], 0x90909090   ; b0 01 b3 02 -> four NOPs
p_two:  mov al, 1
        mov bl, 2
        or eax, ebx
        PRINT "dword store over the next two instructions: al|bl="
        call print_hex
        call newline
        CHECKV eax, 0, 0x71, "stale instructions after a dword store"

        add byte [p_rmw + 1], 1
p_rmw:  mov cl, 5
        mov dl, 9
        xchg [p_xchg + 1], dl
p_xchg: mov dh, 3
        mov edi, p_stos + 1
        mov al, 0x77
        stosb
p_stos: mov ch, 0x11
        PRINT "add: cl="
        movzx eax, cl
        call print_hex
        PRINT " xchg: dh="
        movzx eax, dh
        call print_hex
        PRINT " stosb: ch="
        movzx eax, ch
        call print_hex
        call newline
        CHECKV cl, 6, 0x72, "ADD to the next instruction"
        CHECKV dh, 9, 0x72, "XCHG with the next instruction"
        CHECKV dl, 3, 0x72, "XCHG did not read the old immediate"
        CHECKV ch, 0x77, 0x72, "STOSB to the next instruction"

        xor eax, eax
        xor ebx, ebx
        mov [saved_esp], esp
        mov esp, p_push + 4
        push dword 0x90909090           ; the stack is the next instruction
p_push: mov al, 1
        mov bl, 2
        mov esp, [saved_esp]
        or eax, ebx
        PRINT "push over the next instructions: al|bl="
        call print_hex
        call newline
        CHECKV eax, 0, 0x73, "stale instructions after a PUSH over them"

        mov byte [p_far + 1], 0x42
        nop
        xor eax, eax
        nop
p_far:  mov al, 0x24
        PRINT "three instructions ahead: al="
        call print_hex
        call newline
        CHECKV eax, 0x42, 0x74, "stale instruction three ahead"

        call straddle
        PRINT "page-straddling instruction: "
        call print_hex
        mov byte [straddle + 4], 0x22   ; imm byte in the second page
        call straddle
        PRINT " "
        call print_hex
        mov byte [straddle + 1], 0x33   ; imm byte in the first page
        call straddle
        PRINT " "
        call print_hex
        call newline
        CHECKV eax, 0x22111133, 0x75, "patched page-straddling instruction"

        ; --- 2. REP MOVSB over the running loop's tail; REP STOSB NOPs ---
        mov esi, rep_tmpl
        mov edi, buffer
        mov ecx, rep_tmpl_end - rep_tmpl
        rep movsb                       ; the page is written as data first
        call buffer
        PRINT "rep movsb over the loop tail (fresh buffer): ebx="
        mov eax, ebx
        call print_hex
        call newline
        CHECKV ebx, 0x300, 0x76, "REP MOVSB over the running loop's tail"

        mov edi, p_sled
        mov ecx, 8
        mov al, 0x90
        rep stosb
p_sled: jmp short .stale                ; 2 bytes, then 6 of int3
        times 6 db 0xcc
        jmp .nops
.stale: FAILV 0x7d, "REP STOSB: stale instruction executed"
.nops:  PRINTLN "rep stosb turned the next instructions into nops"

        ; --- 3. Paging aliases ---
        mov dword [page_dir + 0 * 4], 0x000000 | PG_P | PG_RW | PG_PS
        mov dword [page_dir + 1 * 4], 0x400000 | PG_P | PG_RW | PG_PS
        mov dword [page_dir + (W_VA >> 22) * 4], pt_alias + (PG_P | PG_RW)
        mov dword [pt_alias + 0 * 4], code_frame + (PG_P | PG_RW)       ; W
        mov dword [pt_alias + 1 * 4], code_frame + (PG_P | PG_RW)       ; X
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, page_dir
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax

        mov byte [W_VA], 0xb8           ; mov eax, imm32; ret
        mov dword [W_VA + 1], 0x11111111
        mov byte [W_VA + 5], 0xc3
        call serialize
        call X_VA
        PRINT "written at W, run at X: "
        call print_hex
        mov dword [W_VA + 1], 0x22222222
        call serialize
        call X_VA
        PRINT " patched at W: "
        call print_hex
        call newline
        CHECKV eax, 0x22222222, 0x77, "X ran stale code after a write through W"
        mov dword [code_frame + 1], 0x33333333
        call serialize
        call X_VA
        PRINT "patched at the physical address: X "
        call print_hex
        mov ebx, eax
        call code_frame
        PRINT ", identity "
        call print_hex
        call newline
        CHECKV ebx, 0x33333333, 0x78, "X ran stale code after a write through the identity map"

        ; The same bytes at three addresses: each CALL sees its own EIP.
        mov esi, whereami_tmpl
        mov edi, W_VA + 0x100
        mov ecx, whereami_tmpl_end - whereami_tmpl
        rep movsb
        call serialize
        call X_VA + 0x100
        PRINT "eip seen at X "
        call print_hex
        mov ebx, eax
        call W_VA + 0x100
        PRINT ", at W "
        call print_hex
        mov edx, eax
        call code_frame + 0x100
        sub eax, code_frame
        PRINT ", at identity frame+"
        call print_hex
        call newline
        CHECKV ebx, X_VA + 0x100, 0x79, "EIP of code run through X"
        CHECKV edx, W_VA + 0x100, 0x79, "EIP of code run through W"
        CHECKV eax, 0x100, 0x79, "EIP of code run through the identity map"

        ; A store through W to the next instruction, executing at X.
        mov esi, alias_tmpl
        mov edi, W_VA + 0x200
        mov ecx, alias_tmpl_end - alias_tmpl
        rep movsb
        call serialize
        call X_VA + 0x200
        movzx ebx, al
        mov byte [code_frame + 0x200 + (alias_mov_al - alias_tmpl) + 1], 0x55
        call serialize
        call X_VA + 0x200               ; now from a block decoded before
        movzx eax, al
        PRINT "store through W to the next instruction at X: al="
        call print_hex
        PRINT ", again "
        call print_hex
        call newline
        CHECKV ebx, 0x77, 0x7a, "stale next instruction after a store through another alias"
        CHECKV eax, 0x77, 0x7a, "stale next instruction after a store through another alias (again)"

        ; REP MOVSB over the loop's tail, run through an alias.
        mov esi, rep_tmpl
        mov edi, W_VA + 0x400
        mov ecx, rep_tmpl_end - rep_tmpl
        rep movsb
        call serialize
        call X_VA + 0x400
        PRINT "rep movsb over the loop tail at X: ebx="
        mov eax, ebx
        call print_hex
        call newline
        CHECKV ebx, 0x300, 0x7b, "REP MOVSB over the running loop's tail, through an alias"

        ; X remapped to another frame.
        mov byte [code_frame2], 0xb8
        mov dword [code_frame2 + 1], 0x44444444
        mov byte [code_frame2 + 5], 0xc3
        mov dword [pt_alias + 1 * 4], code_frame2 + (PG_P | PG_RW)
        invlpg [X_VA]
        call X_VA
        PRINT "X remapped to another frame: "
        call print_hex
        call newline
        CHECKV eax, 0x44444444, 0x7c, "X still ran the old frame after remapping"
        mov dword [pt_alias + 1 * 4], code_frame + (PG_P | PG_RW)
        mov eax, cr3
        mov cr3, eax
        call X_VA
        PRINT "X mapped back, CR3 reloaded: "
        call print_hex
        call newline
        CHECKV eax, 0x33333333, 0x7c, "X still ran the other frame after MOV CR3"

        PRINTLN "smc2 done"
        EXIT 0x10

serialize:                              ; CPUID serializes (SDM 8.3, 11.6)
        pushad
        xor eax, eax
        cpuid
        popad
        ret

stale_int3:
        PRINT "FAIL: int3 (a stale 0xcc) at eip="
        mov eax, [esp]
        call print_hex
        call newline
        EXIT 0x7e

unexpected_ud:
        PRINT "FAIL: #UD at eip="
        mov eax, [esp]
        call print_hex
        call newline
        EXIT 0x7f

unexpected_pf:
        PRINT "FAIL: #PF cr2="
        mov eax, cr2
        call print_hex
        call newline
        EXIT 0x7f

; Templates, copied before they run (position-independent).

; The loop: REP MOVSB rewrites `add ebx, 1` + 3 NOPs (the loop's tail,
; just after the REP MOVSB) into `add ebx, 0x100`: 3 passes give 0x300.
rep_tmpl:
        push ebp
        push esi
        push edi
        push edx
        call .base
.base:  pop ebp
        xor ebx, ebx
        mov edx, 3
.top:   lea esi, [ebp + (.new_tail - .base)]
        lea edi, [ebp + (.tail - .base)]
        mov ecx, .new_tail_end - .new_tail
        rep movsb
.tail:  add ebx, 1
        nop
        nop
        nop
        dec edx
        jnz .top
        pop edx
        pop edi
        pop esi
        pop ebp
        ret
.new_tail:
        add ebx, strict dword 0x100
.new_tail_end:
rep_tmpl_end:
        ; (the new tail must be exactly as long as the old one: 6 bytes)
        times -((rep_tmpl.new_tail_end - rep_tmpl.new_tail) != 6) db 0

; Returns the address it runs at.
whereami_tmpl:
        call .next
.next:  pop eax
        sub eax, .next - whereami_tmpl
        ret
whereami_tmpl_end:

; Run at X + 0x200: stores 0x77 through W into the immediate of the next
; instruction.
alias_tmpl:
        mov byte [W_VA + 0x200 + (alias_mov_al - alias_tmpl) + 1], 0x77
alias_mov_al:
        mov al, 0x55
        ret
alias_tmpl_end:

        align 4
saved_esp: dd 0

; mov eax, 0x11111111 at the last two bytes of a page: the opcode and the
; immediate's low byte in one page, its other three bytes in the next.
        times (4096 + 4094 - (($ - $$) % 4096)) % 4096 db 0xcc
straddle:
        mov eax, 0x11111111
        ret

        LIB_CODE
image_end:
        section .bss align=4096
        alignb 4096
page_dir:    resb 4096
pt_alias:    resb 4096
code_frame:  resb 4096
code_frame2: resb 4096
buffer:      resb 4096
        LIB_BSS
bss_end:
