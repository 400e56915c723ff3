; smm_smp: SMBASE relocation on every CPU, then SMIs on all CPUs at once
; (run with --smp 2 or more).
;
; Intel SDM Vol. 3C 34.11 "SMBASE Relocation": each CPU's first SMI runs
; at the default SMBASE 0x30000 (+ 0x8000) and writes a new SMBASE into
; the SMBASE field of its state-save map; RSM loads it, and the next SMI
; runs at the new SMBASE. (AMD64 APM Vol. 2 10.2: the map at SMBASE +
; 0xFE00, SMBASE field at offset 0xFF00.) Since every CPU starts with the
; same SMBASE, the relocating SMIs go to one CPU at a time, with an SMI
; IPI (SDM Vol. 3A 10.6.1: ICR delivery mode 010b, vector field 0) to
; APIC ID n, the BSP included (physical destination = its own ID).
; CPU n moves to SMBASE 0x400000 + n * 0x10000 (plain RAM: 64 KiB apart,
; so no two handlers or save maps overlap). Each relocated area gets its
; own copy of the second handler, with its SMBASE patched in; it reads the
; SMBASE field of its own save map, counts itself, and meets the other
; CPUs: it waits (bounded) until every CPU is in SMM at the same time.
; A write to the APM control port (0xb2) raises SMI# on every CPU (the
; i440fx/PIIX APMC); done twice. Afterwards every AP serves a turn again,
; with the register it kept its APIC ID in intact (RSM restored it).
%include "lib32.inc"
%include "check32.inc"
%include "smp.inc"
%include "smp_turn.inc"

MAXCPU          equ 64
SMBASE_DEFAULT  equ 0x30000
SMBASE_NEW      equ 0x400000
SMBASE_STEP     equ 0x10000
SMM_ENTRY       equ 0x8000
MAP_SMBASE      equ 0xff00
ICR_SMI         equ 0x200
MEET_LOOPS      equ 1000000
A_ALIVE         equ 0

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        cld
        mov eax, 2
        call read_ncpus
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        ; the relocation handler at the default entry point
        mov esi, reloc_handler
        mov edi, SMBASE_DEFAULT + SMM_ENTRY
        mov ecx, reloc_handler_end - reloc_handler
        rep movsb
        ; each CPU's relocated handler, its SMBASE patched in
        xor ebx, ebx
.copy:  mov edi, ebx
        shl edi, 16
        add edi, SMBASE_NEW + SMM_ENTRY
        mov esi, smi_handler
        mov ecx, smi_handler_end - smi_handler
        rep movsb
        mov eax, ebx
        shl eax, 16
        add eax, SMBASE_NEW
        mov [eax + SMM_ENTRY + (smi_slot - smi_handler)], eax
        inc ebx
        cmp ebx, [ncpus]
        jb .copy
        call start_aps
        call wait_arrived

        ; --- relocation, one CPU at a time ---
        xor ebx, ebx
.reloc: mov eax, ebx
        shl eax, 24
        mov [APIC_BASE + APIC_ICR_HI], eax
        mov dword [APIC_BASE + APIC_ICR_LO], ICR_SMI
        mov edx, MEET_LOOPS
.rw:    cmp dword [reloc_count + ebx * 4], 0
        jne .rdone
        pause
        dec edx
        jnz .rw
        FAILV 0x20, "an SMI IPI was not taken"
.rdone: PRINT "cpu"
        mov eax, ebx
        call print_dec
        PRINT ": SMI IPI: SMBASE "
        mov eax, [reloc_old + ebx * 4]
        call print_hex
        PRINT " -> "
        mov eax, [reloc_new + ebx * 4]
        call print_hex
        PRINT ", "
        mov eax, [reloc_count + ebx * 4]
        call print_dec
        PRINTLN " SMI"
        CHECKV dword [reloc_old + ebx * 4], SMBASE_DEFAULT, 0x21, "the first SMI did not run at SMBASE 0x30000"
        CHECKV dword [reloc_count + ebx * 4], 1, 0x22, "the relocation SMI ran more than once"
        inc ebx
        cmp ebx, [ncpus]
        jb .reloc

        ; --- SMIs to every CPU at once through APM control, twice ---
        mov dword [round], 1
        call apm_round
        mov dword [round], 2
        call apm_round
        CHECKV dword [reloc_count], 1, 0x23, "the default-SMBASE handler ran again after relocation"

        ; --- every AP still runs, its registers intact ---
        mov ebx, 1
.alive: mov eax, A_ALIVE
        call run_on
        inc ebx
        cmp ebx, [ncpus]
        jb .alive
        PRINTLN "smm_smp done"
        EXIT 0x10

; apm_round: one APM SMI to all; then a line per CPU.
apm_round:
        mov eax, [round]
        imul eax, [ncpus]
        mov [meet_target], eax
        PRINT "APM SMI round "
        mov eax, [round]
        call print_dec
        PRINTLN ":"
        mov al, 0x40
        add al, [round]
        out 0xb2, al
        mov edx, MEET_LOOPS
.w:     mov eax, [smi_out]
        cmp eax, [meet_target]
        jae .all
        pause
        dec edx
        jnz .w
        FAILV 0x24, "not every CPU left its SMI handler"
.all:   xor ebx, ebx
.cpu:   PRINT "  cpu"
        mov eax, ebx
        call print_dec
        PRINT ": handler at SMBASE "
        mov eax, [smi_slot_seen + ebx * 4]
        call print_hex
        PRINT ", map SMBASE "
        mov eax, [smi_map_smbase + ebx * 4]
        call print_hex
        PRINT ", APMC "
        mov eax, [smi_apmc + ebx * 4]
        call print_hex
        PRINT ", SMIs "
        mov eax, [smi_count + ebx * 4]
        call print_dec
        PRINT ", met "
        mov eax, [smi_met + ebx * 4]
        call print_dec
        PRINTLN " CPUs in SMM"
        mov eax, ebx
        shl eax, 16
        add eax, SMBASE_NEW
        CHECKV [smi_slot_seen + ebx * 4], eax, 0x25, "an SMI ran another CPU's handler"
        CHECKV [smi_map_smbase + ebx * 4], eax, 0x26, "the save map's SMBASE is not the relocated one"
        mov eax, [round]
        CHECKV [smi_count + ebx * 4], eax, 0x27, "a CPU missed the APM SMI or took it twice"
        mov eax, [ncpus]
        cmp [smi_met + ebx * 4], eax
        jae .met
        FAILV 0x28, "the CPUs were not in SMM at the same time"
.met:   inc ebx
        cmp ebx, [ncpus]
        jb .cpu
        ret

ap_main:
        mov dword [APIC_BASE + APIC_SVR], 0x1ff
        call my_apic_id
        mov ebx, eax
        mov esi, 0x5eed0000
        add esi, eax                    ; esi, edi, ebp: kept across SMIs
        mov edi, esi
        not edi
        mov ebp, 0x12345678
        jmp ap_serve_regs

; ap_serve_regs: like ap_serve, but keeps esi/edi/ebp for the check
ap_serve_regs:
        lock inc dword [arrived]
.wait:  pause
        cmp [turn], ebx
        jne .wait
        PRINT "cpu"
        mov eax, ebx
        call print_dec
        PRINT ": running after the SMIs, registers "
        mov eax, esi
        sub eax, ebx
        cmp eax, 0x5eed0000
        jne .bad
        mov eax, esi
        not eax
        cmp eax, edi
        jne .bad
        cmp ebp, 0x12345678
        jne .bad
        mov eax, cr0
        test al, 1
        jz .bad
        PRINTLN "intact, protected mode"
        mov dword [turn], -1
        jmp .wait
.bad:   PRINTLN "CHANGED"
        FAILV 0x29, "an AP's state was not restored by RSM"

actions:
        dd 0

; --- SMI handlers: 16-bit code, SMM's big-real-mode state (CS base =
; SMBASE, data segments base 0, 4 GiB limits) ---
        bits 16
reloc_handler:
        mov eax, [dword APIC_BASE + APIC_ID]
        shr eax, 24
        mov ecx, [dword SMBASE_DEFAULT + MAP_SMBASE]
        mov [dword reloc_old + eax * 4], ecx
        mov ecx, eax
        shl ecx, 16
        add ecx, SMBASE_NEW
        mov [dword SMBASE_DEFAULT + MAP_SMBASE], ecx   ; relocate (SDM 34.11)
        mov [dword reloc_new + eax * 4], ecx
        lock inc dword [dword reloc_count + eax * 4]
        rsm
reloc_handler_end:

smi_handler:
        mov ebx, [cs:SMM_ENTRY + smi_slot - smi_handler]   ; this copy's SMBASE
        mov eax, [dword APIC_BASE + APIC_ID]
        shr eax, 24
        mov [dword smi_slot_seen + eax * 4], ebx
        mov ecx, [dword ebx + MAP_SMBASE]
        mov [dword smi_map_smbase + eax * 4], ecx
        xor ecx, ecx
        in al, 0xb2
        mov cl, al
        mov eax, [dword APIC_BASE + APIC_ID]
        shr eax, 24
        mov [dword smi_apmc + eax * 4], ecx
        lock inc dword [dword smi_count + eax * 4]
        lock inc dword [dword smi_in]
        mov edx, MEET_LOOPS             ; wait for every CPU to be in SMM
.meet:  mov ecx, [dword smi_in]
        cmp ecx, [dword meet_target]
        jae .met
        pause
        dec edx
        jnz .meet
.met:   sub ecx, [dword meet_target]
        add ecx, [dword ncpus]          ; how many were in (ncpus when all)
        mov [dword smi_met + eax * 4], ecx
        lock inc dword [dword smi_out]
        rsm
        align 4
smi_slot: dd 0
smi_handler_end:
        bits 32

        TURN_CODE
        SMP_CODE
        LIB_CODE
image_end:
        section .bss
        TURN_BSS
        alignb 64
round:  resd 1
meet_target: resd 1
smi_in: resd 1
smi_out: resd 1
reloc_old: resd MAXCPU
reloc_new: resd MAXCPU
reloc_count: resd MAXCPU
smi_slot_seen: resd MAXCPU
smi_map_smbase: resd MAXCPU
smi_apmc: resd MAXCPU
smi_count: resd MAXCPU
smi_met: resd MAXCPU
        LIB_BSS
        SMP_BSS
bss_end:
