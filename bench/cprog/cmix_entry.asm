; c-mix's guest entry (nasm -f elf32), linked first at the image's base
; (bench/cprog/cmix.cmake): guest-bench starts the CPU at the base with
; ECX = iterations and EDI = the work buffer's guest address, and expects
; EAX = cmix_run(ECX, EDI) at the hlt, which is at base + 13 (checked by
; guest-bench against the image: fc bc at +0, f4 at +13).
bits 32

%ifndef STACK_TOP
%define STACK_TOP 0x00300000
%endif

global _start
global memset
global memcpy
extern cmix_run

section .text

_start:
    cld                     ; fc (the ABI's DF = 0)         +0
    mov esp, STACK_TOP      ; bc imm32                      +1
    push edi                ; work                          +6
    push ecx                ; iters                         +7
    call cmix_run           ; e8 rel32                      +8
    hlt                     ; f4                            +13

; gcc may emit calls to these even with -ffreestanding (it turns some loops
; into them); cmix.c is written not to need them, but a different compiler
; version could, and the link must not then fail.
memset:                     ; void *memset(void *d, int c, size_t n)
    push edi
    mov edi, [esp + 8]
    mov eax, [esp + 12]
    mov ecx, [esp + 16]
    mov edx, edi
    rep stosb
    mov eax, edx
    pop edi
    ret

memcpy:                     ; void *memcpy(void *d, const void *s, size_t n)
    push esi
    push edi
    mov edi, [esp + 12]
    mov esi, [esp + 16]
    mov ecx, [esp + 20]
    mov eax, edi
    rep movsb
    pop edi
    pop esi
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
