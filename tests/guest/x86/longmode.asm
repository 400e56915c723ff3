; longmode: 64-bit code in a multiboot (a.out kludge) image.
;
; From the multiboot 32-bit protected-mode state: the image's GDT, identity
; 4-level page tables for the first GiB (2 MiB pages), CR4.PAE, CR3,
; EFER.LME by WRMSR, CR0.PG (IA-32e mode is active, still in compatibility
; mode), then a far jump to a 64-bit code segment (SDM Vol. 3A 9.8.5).
; In 64-bit mode:
;  - 64-bit arithmetic: REX.W, r8-r15, the zero-extension of 32-bit results
;    (Vol. 1 3.4.1.1), MUL/IMUL/DIV with 128-bit halves, MOVSXD;
;  - RIP-relative addressing, also with an immediate after the displacement
;    (RIP is the next instruction's address, Vol. 2 2.2.1.6);
;  - a 64-bit IDT (16-byte gates, Vol. 3A 6.14.1): #PF on an unmapped
;    address (CR2, error code), mapped by the handler and retried without
;    INVLPG (4.10.4.3: not-present entries are never cached);
;  - #GP(0) from a non-canonical address, #SS(0) from a non-canonical
;    stack reference (3.3.7.1);
;  - 4-level paging (4.5): a 1 GiB page; reserved bits (PS in a PML4E,
;    bit 13 of a 1 GiB PDPTE) give RSVD = 1; with EFER.NXE a fetch from an
;    XD page gives I/D = 1 and a read works (4.6, 4.7); a CPL 3 read of a
;    supervisor page gives U/S = 1, delivered on RSP0 with a null SS
;    (6.14.4) and the user's SS:RSP in the frame;
;  - INT3 through a gate with IST 1 (6.14.5): the IST pointer is
;    deliberately misaligned; the CPU aligns RSP to 16 before pushing the
;    frame (6.14.2) and pushes SS:RSP even without a privilege change;
;  - SWAPGS with IA32_KERNEL_GS_BASE;
;  - SYSRET to CPL 3 and SYSCALL back (STAR, LSTAR, SFMASK; Vol. 2 SYSCALL,
;    SYSRET): segment selectors, RCX/R11, the masked flags, RSP untouched;
;  - CPUID 0x80000001: EDX.LM (bit 29).
; Failures exit with 0x12-0x18 and 0x20-0x3f.
%include "lib32.inc"
%include "check32.inc"
%include "lib64.inc"

        MULTIBOOT_AOUT

K_CODE32 equ 0x08
K_DATA   equ 0x10
K_CODE64 equ 0x18
K_STACK  equ 0x20                       ; SYSCALL's SS: STAR[47:32] + 8
U_CODE32 equ 0x28                       ; STAR[63:48]: SYSRET's base selector
U_DATA   equ 0x30                       ; SYSRET's SS: base + 8
U_CODE64 equ 0x38                       ; SYSRET's 64-bit CS: base + 16
TSS_SEL  equ 0x40

PG_P     equ 1
PG_RW    equ 2
PG_US    equ 4
PG_PS    equ 0x80

CR0_PG   equ 0x80000000
CR4_PAE  equ 0x20
MSR_EFER equ 0xc0000080
MSR_STAR equ 0xc0000081
MSR_LSTAR equ 0xc0000082
MSR_SFMASK equ 0xc0000084
MSR_GS_BASE equ 0xc0000101
MSR_KERNEL_GS_BASE equ 0xc0000102
EFER_SCE equ 0x001
EFER_LME equ 0x100
EFER_NXE equ 0x800

HIGH_VA  equ 0x00007f8000001234         ; PML4 entry 255: not mapped at first
RSVD_PML4_VA equ 0x0000008000000000     ; PML4[1]: PS set (reserved in a PML4E)
GIG_VA   equ 0x0000010000000000         ; PML4[2] -> pdpt2[0]: 1 GiB, supervisor
GIG_NX_VA equ 0x0000010040000000        ; pdpt2[1]: 1 GiB, user, XD
GIG_RSVD_VA equ 0x0000010080000000      ; pdpt2[2]: 1 GiB with bit 13 set (reserved)
HIGH_PHYS equ 0x00600000                ; the 2 MiB page the #PF handler maps there
USER_MAGIC equ 0x1111222233334444
KERN_MAGIC equ 0xaaaabbbbccccdddd
SFMASK_VALUE equ 0x600                  ; IF and DF

start:
        mov esp, stack_top
        lgdt [gdt_desc]
        jmp K_CODE32:.reload
.reload:
        mov ax, K_DATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        PRINTLN "32-bit protected mode"

        ; Identity map of the first GiB: PML4[0] -> PDPT[0] -> 512 2 MiB pages.
        ; U/S = 1 everywhere: the user-mode part runs in this image too.
        mov edi, pd
        mov eax, PG_P | PG_RW | PG_US | PG_PS
        mov ecx, 512
.fill:  mov [edi], eax
        mov dword [edi + 4], 0
        add eax, 0x200000
        add edi, 8
        loop .fill
        mov dword [pdpt], pd + (PG_P | PG_RW | PG_US)
        mov dword [pml4], pdpt + (PG_P | PG_RW | PG_US)
        ; 1 GiB pages of physical 0 at 1 TiB (SDM 4.5; CPUID offers them).
        mov dword [pml4 + 1 * 8], pdpt + (PG_P | PG_RW | PG_PS)
        mov dword [pml4 + 2 * 8], pdpt2 + (PG_P | PG_RW | PG_US)
        mov dword [pdpt2 + 0 * 8], PG_P | PG_RW | PG_PS
        mov dword [pdpt2 + 1 * 8], PG_P | PG_RW | PG_US | PG_PS
        mov dword [pdpt2 + 1 * 8 + 4], 0x80000000
        mov dword [pdpt2 + 2 * 8], PG_P | PG_RW | PG_PS | (1 << 13)

        ; The 64-bit TSS descriptor (16 bytes, type 9): base tss64, limit 103.
        mov eax, tss64
        mov word [gdt_tss], 103
        mov [gdt_tss + 2], ax
        shr eax, 16
        mov [gdt_tss + 4], al
        mov byte [gdt_tss + 5], 0x89
        mov byte [gdt_tss + 6], 0
        mov [gdt_tss + 7], ah

        ; SDM 9.8.5: PAE, CR3, EFER.LME, then paging.
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, pml4
        mov cr3, eax
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_LME
        wrmsr
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax
        ; IA-32e mode is active; CS is still the 32-bit segment.
        mov ecx, MSR_EFER
        rdmsr
        PRINT "compatibility mode: efer="
        call print_hex
        call newline
        CHECKV eax, 0x500, 0x20, "EFER.LMA not set by enabling paging with LME"
        jmp K_CODE64:long_entry

; ---------------------------------------------------------------------------
        bits 64
long_entry:
        mov ax, K_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov rsp, stack_top
        PRINT64 "64-bit mode: cs="
        mov ax, cs
        call print_hex16_64
        PRINT64 " call pushes "
        mov rbx, rsp
        call .probe
        jmp .probed
.probe: mov rax, rbx
        sub rax, rsp
        call print_dec64
        ret
.probed:
        PRINTLN64 " bytes"

        ; --- 64-bit arithmetic ---
        mov r8, 0x123456789abcdef0
        mov r9, 0x0fedcba987654321
        add r8, r9
        PRINT64 "add r8, r9 = "
        mov rax, r8
        call print_hex64
        call newline64
        mov rbx, 0x2222222222222211
        CHECK64 r8, rbx, 0x21, "64-bit add"

        mov rax, 0xfedcba9876543210
        mov r11, 0x10
        mul r11
        PRINT64 "mul: rdx="
        push rax
        mov rax, rdx
        call print_hex64
        pop rax
        PRINT64 " rax="
        call print_hex64
        call newline64

        mov r12, -3
        mov r13, 0x7fffffffffffffff
        imul r12, r13
        mov rdx, 0x0000000000000005
        mov rax, 0x123456789abcdef0
        mov r14, 0x0000001234567890
        div r14
        mov r15, rdx
        PRINT64 "imul r12, r13 = "
        xchg rax, r12
        call print_hex64
        xchg rax, r12
        PRINT64 " div: q="
        call print_hex64
        PRINT64 " r="
        mov rax, r15
        call print_hex64
        call newline64

        mov rax, -1
        mov eax, 0x89abcdef             ; a 32-bit result clears bits 63:32
        mov rbx, rax
        mov rcx, -1
        mov cx, 0x1234                  ; a 16-bit result leaves them
        mov edx, 0x80000000
        movsxd rdx, edx
        mov sil, 0x5a                   ; REX: SIL, not DH
        mov r10b, sil
        mov r10, 0x0102030405060708
        bswap r10
        mov r9, 1
        shl r9, 63
        sar r9, 62                      ; -2
        PRINT64 "mov eax: "
        call print_hex64
        PRINT64 " mov cx: "
        mov rax, rcx
        call print_hex64
        call newline64
        PRINT64 "movsxd: "
        mov rax, rdx
        call print_hex64
        PRINT64 " bswap: "
        mov rax, r10
        call print_hex64
        PRINT64 " sar: "
        mov rax, r9
        call print_hex64
        call newline64
        mov eax, 0x89abcdef
        CHECK64 rbx, rax, 0x22, "32-bit mov did not zero-extend"

        ; --- RIP-relative addressing ---
        lea rax, [rel rip_here]
rip_here:
        mov rbx, rip_here
        CHECK64 rax, rbx, 0x23, "lea [rel] is not the next instruction's address"
        mov rax, [rel rip_data]
        mov rbx, 0x1122334455667788
        CHECK64 rax, rbx, 0x24, "mov rax, [rel rip_data]"
        mov dword [rel rip_data], 0xcafef00d    ; C7 05 disp32 imm32: RIP after the imm32
        add byte [rel rip_data + 4], 0x11       ; 80 05 disp32 imm8
        mov rax, [abs rip_data]
        PRINT64 "rip-relative: "
        call print_hex64
        call newline64
        mov rbx, 0x11223344_cafef00d + 0x11_00000000
        CHECK64 rax, rbx, 0x25, "rip-relative store with an immediate"

        ; --- the IDT ---
        mov eax, 3
        lea rbx, [rel bp_handler]
        mov ecx, 0x018e                 ; interrupt gate, IST 1
        call set_gate64
        mov eax, 6
        lea rbx, [rel ud_handler]
        mov ecx, 0x008e
        call set_gate64
        mov eax, 8
        lea rbx, [rel df_handler]
        call set_gate64
        mov eax, 12
        lea rbx, [rel ss_handler]
        call set_gate64
        mov eax, 13
        lea rbx, [rel gp_handler]
        call set_gate64
        mov eax, 14
        lea rbx, [rel pf_handler]
        call set_gate64
        lidt [rel idt64_desc]

        ; --- #PF: a write to an unmapped address above 4 GiB ---
        mov rbx, HIGH_VA
        mov dword [rbx], 0x600dd00d
        mov eax, [HIGH_PHYS + (HIGH_VA & 0x1fffff)]
        PRINT64 "after #PF: physical "
        call print_hex32_64
        call newline64
        CHECK64 eax, 0x600dd00d, 0x26, "the retried write did not land in the mapped page"

        ; --- #GP: non-canonical data address ---
        lea rax, [rel gp_at]
        mov [rel fault_rip], rax
        lea rax, [rel gp_resume]
        mov [rel resume_rip], rax
        mov rbx, 0x8000000000000000
gp_at:  mov rax, [rbx]
        FAIL64 0x27, "no #GP for a non-canonical address"
gp_resume:

        ; --- #SS: non-canonical address through RBP (SS segment) ---
        lea rax, [rel ss_at]
        mov [rel fault_rip], rax
        lea rax, [rel ss_resume]
        mov [rel resume_rip], rax
        mov rbp, 0xffff000000000000
ss_at:  mov rax, [rbp + 8]
        FAIL64 0x28, "no #SS for a non-canonical stack reference"
ss_resume:

        ; --- 4-level paging: 1 GiB pages, reserved bits, XD ---
        mov eax, 14
        lea rbx, [rel pf_expected]
        mov ecx, 0x008e
        call set_gate64
        mov rax, GIG_VA + marker
        mov rax, [rax]
        PRINT64 "1 GiB page: 0x10000000000 + marker reads "
        call print_hex64
        call newline64
        CHECK64 rax, [rel marker], 0x12, "1 GiB page translation"
        PRINTLN64 "read through a PML4E with PS set:"
        lea rax, [rel rsvd1_at]
        mov [rel fault_rip], rax
        lea rax, [rel rsvd1_done]
        mov [rel resume_rip], rax
        mov rbx, RSVD_PML4_VA
rsvd1_at:
        mov rax, [rbx]
        FAIL64 0x13, "no #PF for PS in a PML4E"
rsvd1_done:
        PRINTLN64 "write to a 1 GiB page with bit 13 set:"
        lea rax, [rel rsvd2_at]
        mov [rel fault_rip], rax
        lea rax, [rel rsvd2_done]
        mov [rel resume_rip], rax
        mov rbx, GIG_RSVD_VA
rsvd2_at:
        mov qword [rbx], 1
        FAIL64 0x14, "no #PF for a reserved bit of a 1 GiB PDPTE"
rsvd2_done:
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        PRINTLN64 "call into an XD page (EFER.NXE=1):"
        mov rbx, GIG_NX_VA + mb_header  ; the fetch faults: the bytes do not matter
        mov [rel fault_rip], rbx
        lea rax, [rel nx_done]
        mov [rel resume_rip], rax
        call rbx
        FAIL64 0x15, "executed code in an XD page"
nx_done:
        add rsp, 8                      ; the CALL's return address
        mov eax, [rbx]
        PRINT64 "the XD page reads "
        call print_hex32_64
        call newline64
        CHECK64 eax, MB_MAGIC, 0x16, "data read of the XD page"

        ; --- INT3 through a gate with IST 1 ---
        mov rax, ist1_top - 8           ; misaligned on purpose
        mov [rel tss64 + 0x24], rax     ; IST1
        mov ax, TSS_SEL
        ltr ax
        mov rbp, rsp
        and rsp, -16
        sub rsp, 8                      ; the interrupted stack is misaligned too
        mov [rel bp_old_rsp], rsp
        int3
bp_after:
        mov rsp, rbp
        PRINTLN64 "int3 returned"

        ; --- SWAPGS ---
        mov ecx, MSR_GS_BASE
        mov eax, user_tls
        xor edx, edx
        wrmsr
        mov ecx, MSR_KERNEL_GS_BASE
        mov eax, percpu
        wrmsr
        mov rax, [gs:0]
        mov rbx, USER_MAGIC
        CHECK64 rax, rbx, 0x29, "GS_BASE write"
        swapgs
        mov rax, [gs:0]
        mov rbx, KERN_MAGIC
        CHECK64 rax, rbx, 0x2a, "swapgs did not load KERNEL_GS_BASE"
        mov ecx, MSR_KERNEL_GS_BASE
        rdmsr
        CHECK64 eax, user_tls, 0x2b, "swapgs did not save GS_BASE in KERNEL_GS_BASE"
        swapgs
        mov rax, [gs:0]
        mov rbx, USER_MAGIC
        CHECK64 rax, rbx, 0x2c, "second swapgs"
        PRINTLN64 "swapgs exchanged GS_BASE and KERNEL_GS_BASE"

        ; --- SYSRET to CPL 3, SYSCALL back ---
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_SCE
        wrmsr
        mov ecx, MSR_STAR
        xor eax, eax
        mov edx, (U_CODE32 << 16) | K_CODE64
        wrmsr
        mov ecx, MSR_LSTAR
        lea rax, [rel syscall_entry]
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, MSR_SFMASK
        mov eax, SFMASK_VALUE
        xor edx, edx
        wrmsr
        ; GS_BASE = user_tls, KERNEL_GS_BASE = percpu (as set above).
        mov rax, stack_top
        mov [rel percpu + 16], rax      ; the kernel stack the entry switches to
        mov rax, rsp0_top
        mov [rel tss64 + 4], rax        ; RSP0: interrupts from CPL 3
        lea rcx, [rel user_entry]
        mov r11d, 0x3202                ; IOPL 3 (the user part prints), IF
        mov rsp, ustack_top
        o64 sysret

; ---------------------------------------------------------------------------
; CPL 3.
user_entry:
        pushfq
        pop rbx
        PRINT64 "user mode: cs="
        mov ax, cs
        call print_hex16_64
        PRINT64 " ss="
        mov ax, ss
        call print_hex16_64
        PRINT64 " rflags="
        mov rax, rbx
        call print_hex32_64
        call newline64
        mov ax, cs
        CHECK64 ax, U_CODE64 | 3, 0x2d, "SYSRET CS"
        mov ax, ss
        CHECK64 ax, U_DATA | 3, 0x2e, "SYSRET SS"
        CHECK64 rbx, 0x3202, 0x2f, "SYSRET RFLAGS from R11"
        mov rax, [gs:0]
        mov rbx, USER_MAGIC
        CHECK64 rax, rbx, 0x30, "user GS base"
        PRINTLN64 "user mode reads a supervisor 1 GiB page:"
        lea rax, [rel user_pf_at]
        mov [rel fault_rip], rax
        lea rax, [rel user_pf_done]
        mov [rel resume_rip], rax
        mov [rel user_rsp], rsp
        mov rbx, GIG_VA + mb_header
user_pf_at:
        mov rax, [rbx]
        FAIL64 0x17, "user mode read a supervisor page"
user_pf_done:
        std
        mov [rel user_rsp], rsp
        mov eax, 1
        mov edi, 41
        syscall
user_ret:
        pushfq
        pop rbx
        cld
        PRINT64 "back in user mode: rax="
        call print_dec64
        call newline64
        CHECK64 rax, 42, 0x31, "syscall result"
        test ebx, 0x400
        jnz .df
        FAIL64 0x32, "SYSRET did not restore DF from R11"
.df:    mov eax, 2
        syscall
        FAIL64 0x33, "the second syscall returned"

; ---------------------------------------------------------------------------
; LSTAR: CPL 0, on the user's stack until it switches.
syscall_entry:
        swapgs
        mov [gs:8], rsp
        mov rsp, [gs:16]
        push rcx
        push r11
        pushfq
        pop r11
        cmp eax, 2
        je back_to_kernel
        PRINT64 "syscall: cs="
        push rax
        mov ax, cs
        call print_hex16_64
        PRINT64 " ss="
        mov ax, ss
        call print_hex16_64
        PRINT64 " rflags="
        mov rax, r11
        call print_hex32_64
        PRINT64 " r11="
        mov rax, [rsp + 8]
        call print_hex32_64
        call newline64
        pop rax
        mov bx, cs
        CHECK64 bx, K_CODE64, 0x34, "SYSCALL CS"
        mov bx, ss
        CHECK64 bx, K_STACK, 0x35, "SYSCALL SS"
        test r11d, SFMASK_VALUE
        jz .masked
        FAIL64 0x36, "SFMASK did not clear IF/DF"
.masked:
        mov rbx, [rsp]                  ; R11: the user's RFLAGS
        and ebx, SFMASK_VALUE
        CHECK64 ebx, SFMASK_VALUE, 0x37, "R11 is not the user's RFLAGS"
        lea rbx, [rel user_ret]
        CHECK64 [rsp + 8], rbx, 0x38, "RCX is not the return address"
        mov rbx, [gs:8]
        CHECK64 rbx, [rel user_rsp], 0x39, "SYSCALL changed RSP"
        mov rbx, [gs:0]
        mov rcx, KERN_MAGIC
        CHECK64 rbx, rcx, 0x3a, "swapgs in the syscall entry"
        PRINTLN64 "syscall: rcx=return address, r11=user rflags, rsp kept, gs=kernel"
        lea rax, [rdi + 1]
        pop r11
        pop rcx
        mov rsp, [gs:8]
        swapgs
        o64 sysret

back_to_kernel:
        mov ax, cs
        PRINT64 "back in the kernel for good: cs="
        call print_hex16_64
        call newline64

        ; --- CPUID ---
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jae .ext
        FAIL64 0x3b, "CPUID has no leaf 0x80000001"
.ext:   mov eax, 0x80000001
        cpuid
        PRINT64 "cpuid 0x80000001: edx.lm="
        mov eax, edx
        shr eax, 29
        and eax, 1
        call print_dec64
        call newline64
        CHECK64 eax, 1, 0x3c, "CPUID.80000001H:EDX.LM is clear"
        PRINTLN64 "long mode done"
        EXIT64 0x10

; ---------------------------------------------------------------------------
; set_gate64: IDT entry eax -> handler rbx; cl = type/DPL/P, ch = IST.
set_gate64:
        push rax
        push rdx
        push rdi
        mov edi, eax
        shl edi, 4
        add rdi, idt64
        mov edx, ebx
        and edx, 0xffff
        or edx, K_CODE64 << 16
        mov [rdi], edx
        mov edx, ebx
        and edx, 0xffff0000
        mov dh, cl
        mov dl, ch
        mov [rdi + 4], edx
        mov rdx, rbx
        shr rdx, 32
        mov [rdi + 8], edx
        mov dword [rdi + 12], 0
        pop rdi
        pop rdx
        pop rax
        ret

; #PF: map HIGH_VA's 2 MiB page and retry.
pf_handler:
        push rax
        push rbx
        PRINT64 "#PF cr2="
        mov rax, cr2
        call print_hex64
        PRINT64 " err="
        mov rax, [rsp + 16]
        call print_hex32_64
        call newline64
        mov rax, cr2
        mov rbx, HIGH_VA
        CHECK64 rax, rbx, 0x3d, "#PF at an unexpected address"
        mov qword [rel pd_hi], HIGH_PHYS | PG_P | PG_RW | PG_PS
        mov qword [rel pdpt_hi], pd_hi + (PG_P | PG_RW)
        mov qword [rel pml4 + ((HIGH_VA >> 39) & 511) * 8], pdpt_hi + (PG_P | PG_RW)
        pop rbx
        pop rax
        add rsp, 8                      ; the error code
        iretq

; #PF, expected: CR2, error code; from CPL 3 also the stack switch
; (6.14.4: RSP from RSP0, SS a null selector with RPL 0; the frame holds
; the user's SS:RSP). Then as EXPECTED_FAULT.
pf_expected:
        push rax
        PRINT64 "#PF cr2="
        mov rax, cr2
        call print_hex64
        PRINT64 " err="
        mov rax, [rsp + 8]
        call print_hex32_64
        test byte [rsp + 24], 3         ; the saved CS
        jz .same_level
        PRINT64 " from cpl 3: handler ss="
        mov ax, ss
        call print_hex16_64
        PRINT64 " rsp=rsp0-"
        mov rax, rsp0_top - 8           ; without the push rax
        sub rax, rsp
        call print_dec64
        PRINT64 " saved ss="
        mov rax, [rsp + 48]
        call print_hex16_64
        mov ax, ss
        CHECK64 ax, 0, 0x18, "SS not null after a privilege change in IA-32e mode"
        mov rax, [rsp + 40]
        CHECK64 rax, [rel user_rsp], 0x18, "saved RSP is not the user's"
.same_level:
        call newline64
        mov rax, [rsp + 16]
        cmp rax, [rel fault_rip]
        je .at
        FAIL64 0x3e, "#PF: saved RIP is not the faulting instruction"
.at:    mov rax, [rel resume_rip]
        mov [rsp + 16], rax
        pop rax
        add rsp, 8
        iretq

; Expected faults: print the error code, check the saved RIP, resume.
%macro EXPECTED_FAULT 2
        push rax
        PRINT64 %2
        mov rax, [rsp + 8]
        call print_hex32_64
        mov rax, [rsp + 16]
        cmp rax, [rel fault_rip]
        je %%at
        FAIL64 0x3e, "saved RIP is not the faulting instruction"
%%at:   PRINTLN64 ", saved rip = the faulting instruction"
        mov rax, [rel resume_rip]
        mov [rsp + 16], rax
        pop rax
        add rsp, 8
        iretq
%endmacro

gp_handler:
        EXPECTED_FAULT gp, "#GP err="
ss_handler:
        EXPECTED_FAULT ss, "#SS err="

; #BP on IST 1. Frame: RIP, CS, RFLAGS, RSP, SS.
bp_handler:
        mov [rel bp_rsp], rsp
        PRINT64 "int3 on IST1: ist1-rsp="
        mov rax, ist1_top - 8
        sub rax, [rel bp_rsp]
        call print_dec64
        PRINT64 " rsp%16="
        mov rax, [rel bp_rsp]
        and eax, 15
        call print_dec64
        PRINT64 " ss="
        mov rax, [rsp + 32]
        call print_hex16_64
        call newline64
        mov rax, ist1_top - 16 - 40     ; (IST1 & ~15) minus the 5-slot frame
        CHECK64 [rel bp_rsp], rax, 0x3f, "IST stack not aligned to 16 before the frame"
        lea rax, [rel bp_after]
        CHECK64 [rsp], rax, 0x3f, "int3 frame RIP"
        CHECK64 qword [rsp + 8], K_CODE64, 0x3f, "int3 frame CS"
        mov rax, [rel bp_old_rsp]
        CHECK64 [rsp + 24], rax, 0x3f, "int3 frame RSP"
        CHECK64 qword [rsp + 32], K_DATA, 0x3f, "int3 frame SS"
        PRINTLN64 "int3 frame: rip after int3, cs, old rsp, ss"
        iretq

ud_handler:
        PRINT64 "unexpected #UD at rip="
        mov rax, [rsp]
        call print_hex64
        call newline64
        EXIT64 0x3f

df_handler:
        PRINTLN64 "unexpected #DF"
        EXIT64 0x3f

        LIB64_CODE

        bits 32
        LIB_CODE

        align 8
rip_data:   dq 0x1122334455667788
marker:     dq 0x4d41524b4d41524b
fault_rip:  dq 0
resume_rip: dq 0
user_rsp:   dq 0
bp_rsp:     dq 0
bp_old_rsp: dq 0
percpu:     dq KERN_MAGIC
            dq 0                        ; +8: the user's RSP during a syscall
            dq 0                        ; +16: the kernel stack
user_tls:   dq USER_MAGIC

        align 16
gdt:    dq 0
        dq 0x00cf9b000000ffff           ; 0x08 kernel code, 32-bit
        dq 0x00cf93000000ffff           ; 0x10 kernel data
        dq 0x00af9b000000ffff           ; 0x18 kernel code, 64-bit (L = 1, D = 0)
        dq 0x00cf93000000ffff           ; 0x20 kernel stack (SYSCALL)
        dq 0x00cffb000000ffff           ; 0x28 user code, 32-bit
        dq 0x00cff3000000ffff           ; 0x30 user data
        dq 0x00affb000000ffff           ; 0x38 user code, 64-bit
gdt_tss: dq 0, 0                        ; 0x40 64-bit TSS (filled at run time)
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dq gdt
idt64_desc:
        dw 256 * 16 - 1
        dq idt64

image_end:
        section .bss align=4096
        alignb 4096
pml4:    resb 4096
pdpt:    resb 4096
pd:      resb 4096
pdpt_hi: resb 4096
pdpt2:   resb 4096
pd_hi:   resb 4096
idt64:   resb 256 * 16
        alignb 16
tss64:   resb 104
        alignb 16
        resb 4096
ist1_top:
        resb 64
        alignb 16
        resb 8192
ustack_top:
        resb 4096
rsp0_top:
        LIB_BSS
bss_end:
