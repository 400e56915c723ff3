; smm: the i440FX SMRAM control register, the APM port and SMM with SMRAM
; over the VGA window (run with --smp 2: the AP, waiting for SIPI, takes no
; SMI).
;
; The host bridge is found through PCI configuration mechanism #1. With
; D_OPEN (and G_SMRAME) the BSP sees SMRAM at 0xa0000 outside SMM: it
; leaves a marker there and copies a second SMI handler to 0xa8000. With
; D_OPEN closed the VGA window is back. A write to the APM control port
; (0xb2) raises an SMI: the first handler, at the default SMBASE + 0x8000
; (0x38000, plain RAM), reads 0xa0000 (SMRAM, since it runs in SMM), the
; save-state revision and SMBASE, the APM command, and relocates SMBASE to
; 0xa0000. After RSM 0xa0000 is the VGA window again. The second SMI runs
; the handler in SMRAM at 0xa8000. D_LCK then keeps D_OPEN from opening
; SMRAM again, while SMM still sees it.
%include "lib32.inc"

PCI_ADDR        equ 0xcf8
PCI_DATA        equ 0xcfc
SMRAM_REG       equ 0x72
G_SMRAME        equ 0x08
D_LCK           equ 0x10
D_OPEN          equ 0x40
APM_CNT         equ 0xb2
APM_STS         equ 0xb3
VGA_MARK        equ 0x21414756          ; "VGA!"
SMRAM_MARK      equ 0x41524d53          ; "SMRA"
RES             equ 0x6000              ; what the handlers leave (low RAM)
RES_SEEN1       equ RES + 0x00
RES_REV         equ RES + 0x04
RES_SMBASE      equ RES + 0x08
RES_APMC        equ RES + 0x0c
RES_COUNT1      equ RES + 0x10
RES_SEEN2       equ RES + 0x14
RES_CS2         equ RES + 0x18
RES_COUNT2      equ RES + 0x1c

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt
        cld
        xor eax, eax
        mov edi, RES
        mov ecx, 8
        rep stosd

        PRINT "host bridge 0:0.0 id="
        mov eax, 0x80000000
        call pci_read32
        call print_hex
        PRINT ", 0:1.0 id="
        mov eax, 0x80000800
        call pci_read32
        call print_hex
        call newline
        call print_smram

        mov dword [0xa0000], VGA_MARK
        PRINTLN "open SMRAM (G_SMRAME|D_OPEN):"
        mov al, G_SMRAME | D_OPEN
        call smram_write
        call print_smram
        call print_a0000
        mov dword [0xa0000], SMRAM_MARK
        mov esi, handler2
        mov edi, 0xa8000
        mov ecx, handler2_end - handler2
        rep movsb
        call print_a0000
        PRINTLN "close SMRAM (G_SMRAME):"
        mov al, G_SMRAME
        call smram_write
        call print_smram
        call print_a0000

        mov esi, handler1
        mov edi, 0x38000
        mov ecx, handler1_end - handler1
        rep movsb
        PRINTLN "SMI through APM control (0xb2):"
        mov al, 0x5a
        out APM_CNT, al
        PRINT "handler 1 ran "
        mov eax, [RES_COUNT1]
        call print_dec
        PRINT "x: 0xa0000 in SMM="
        mov eax, [RES_SEEN1]
        call print_hex
        PRINT " revision="
        mov eax, [RES_REV]
        call print_hex
        PRINT " SMBASE="
        mov eax, [RES_SMBASE]
        call print_hex
        PRINT " APMC="
        mov eax, [RES_APMC]
        call print_hex
        call newline
        PRINT "after RSM: "
        call print_a0000

        PRINTLN "second SMI (SMBASE now 0xa0000, handler in SMRAM):"
        mov al, 0x5b
        out APM_CNT, al
        call print_handler2
        PRINT "after RSM: "
        call print_a0000

        PRINTLN "lock (G_SMRAME|D_LCK), then try D_OPEN:"
        mov al, G_SMRAME | D_LCK
        call smram_write
        call print_smram
        mov al, G_SMRAME | D_OPEN
        call smram_write
        call print_smram
        call print_a0000
        mov al, 0x5c
        out APM_CNT, al
        call print_handler2

        mov al, 0xa5
        out APM_STS, al
        in al, APM_STS
        movzx eax, al
        PRINT "APM status (0xb3) reads "
        call print_hex
        call newline
        PRINTLN "smm done"
        EXIT 0x10

; pci_read32: eax = CONFIG_ADDRESS in, the dword read out.
pci_read32:
        push edx
        mov dx, PCI_ADDR
        out dx, eax
        mov dx, PCI_DATA
        in eax, dx
        pop edx
        ret

; smram_write: al -> host bridge offset 0x72 (a byte at 0xcfe).
smram_write:
        push edx
        push eax
        mov eax, 0x80000000 | (SMRAM_REG & 0xfc)
        mov dx, PCI_ADDR
        out dx, eax
        pop eax
        mov dx, PCI_DATA + (SMRAM_REG & 3)
        out dx, al
        pop edx
        ret

print_smram:
        push eax
        push edx
        mov eax, 0x80000000 | (SMRAM_REG & 0xfc)
        mov dx, PCI_ADDR
        out dx, eax
        mov dx, PCI_DATA + (SMRAM_REG & 3)
        xor eax, eax
        in al, dx
        PRINT "SMRAM control="
        call print_hex
        call newline
        pop edx
        pop eax
        ret

print_a0000:
        push eax
        PRINT "0xa0000 reads "
        mov eax, [0xa0000]
        call print_hex
        call newline
        pop eax
        ret

print_handler2:
        PRINT "handler 2 ran "
        mov eax, [RES_COUNT2]
        call print_dec
        PRINT "x: cs="
        mov eax, [RES_CS2]
        call print_hex
        PRINT " 0xa0000 in SMM="
        mov eax, [RES_SEEN2]
        call print_hex
        call newline
        ret

; SMI handlers: 16-bit code in SMM's big-real-mode state (CS = SMBASE >> 4,
; data segments base 0, 4 GiB limits), copied to SMBASE + 0x8000.
        bits 16
handler1:
        mov eax, [dword 0xa0000]
        mov [dword RES_SEEN1], eax
        mov eax, [dword 0x30000 + 0xfefc]       ; SMM revision identifier
        mov [dword RES_REV], eax
        mov eax, [dword 0x30000 + 0xff00]       ; SMBASE
        mov [dword RES_SMBASE], eax
        in al, APM_CNT
        movzx eax, al
        mov [dword RES_APMC], eax
        inc dword [dword RES_COUNT1]
        mov dword [dword 0x30000 + 0xff00], 0xa0000   ; relocate SMBASE
        rsm
handler1_end:

handler2:
        mov eax, [dword 0xa0000]
        mov [dword RES_SEEN2], eax
        xor eax, eax
        mov ax, cs
        mov [dword RES_CS2], eax
        inc dword [dword RES_COUNT2]
        rsm
handler2_end:
        bits 32

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
