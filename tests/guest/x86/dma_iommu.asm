; dma_iommu: a guest driving the pc machine's PCI DMA engine through the
; reference IOMMU (machines/pc.h, devices/pci_devices.h, devices/iommu_ref.h).
;
; It finds pci-dma by scanning bus 0 with configuration mechanism #1, sizes
; and programs its BAR, turns on memory decoding and bus mastering, and:
;   1. copies with the IOMMU off (identity) and checks the bytes;
;   2. builds IOMMU tables (a root table and one leaf table), turns
;      translation on, copies IOVA -> IOVA and checks where the bytes went;
;   3. writes to a read-only IOVA page: the engine reports an access error,
;      the IOMMU's fault log holds VALID|WRITE|PERM, the IOVA and the
;      requester ID 0:04.0 (0x20);
;   4. reads an unmapped IOVA: a decode error, fault log VALID only;
;   5. changes a leaf entry: the IOTLB keeps the old translation until the
;      page is invalidated, then the new one is used;
;   6. checks the interrupt status bit in PCI STATUS after a copy with the
;      completion interrupt enabled, and that acknowledging clears it;
;   7. turns bus mastering off: the copy fails with a decode error.
; Every step prints one line; any mismatch exits with its own status.
%include "lib32.inc"
%include "check32.inc"

CFG_ADDR        equ 0xcf8
CFG_DATA        equ 0xcfc
VENDOR_DEV      equ 0x00016d6d              ; 6d6d:0001 pci-dma
BAR_ADDR        equ 0xe0010000
IOMMU           equ 0xfed90000
SRC             equ 0x00200000
DST             equ 0x00300000
ROOT_PT         equ 0x00400000
LEAF_PT         equ 0x00401000
T_DST           equ 0x00500000              ; translated destination
T_DST2          equ 0x00600000
STALE_A         equ 0x00700000
STALE_B         equ 0x00710000
IOVA_SRC        equ 0x10000000              ; 3 pages, read-only -> SRC
IOVA_DST        equ 0x10010000              ; 3 pages, read/write -> T_DST
IOVA_STALE      equ 0x10024000              ; 1 page, read/write -> STALE_A, then STALE_B
IOVA_NONE       equ 0x20000000              ; root entry not valid
LEN             equ 0x3000

; DMA engine registers (devices/dma_engine.h)
D_SRC           equ 0x00
D_DST           equ 0x08
D_LEN           equ 0x10
D_CTRL          equ 0x14
D_STATUS        equ 0x18
D_XFERRED       equ 0x1c
GO              equ 1
IRQ_EN          equ 2
DONE            equ 2
ERROR           equ 4
; MemResult codes in STATUS[11:8]
DECODE_ERROR    equ 1
ACCESS_ERROR    equ 3

; IOMMU registers (devices/iommu_ref.h)
I_ROOT_LO       equ 0x00
I_ENABLE        equ 0x08
I_FSTATUS       equ 0x0c
I_FADDR         equ 0x10
I_FREQ          equ 0x18
I_INVAL         equ 0x1c

        MULTIBOOT_AOUT

start:
        mov esp, stack_top
        call load_gdt

        ; --- find pci-dma on bus 0 ---
        xor ebx, ebx                    ; device number
.scan:  mov eax, ebx
        shl eax, 11
        or eax, 0x80000000
        mov dx, CFG_ADDR
        out dx, eax
        mov dx, CFG_DATA
        in eax, dx
        cmp eax, VENDOR_DEV
        je .found
        inc ebx
        cmp ebx, 32
        jb .scan
        FAILV 0x20, "pci-dma not found"
.found: mov [devno], ebx
        PRINT "pci-dma at 0:0"
        mov eax, ebx
        call print_dec
        PRINTLN ".0"

        ; --- size and program BAR0, enable memory + bus master ---
        mov eax, 0x10
        mov ecx, 0xffffffff
        call cfg_write
        mov eax, 0x10
        call cfg_read
        CHECKV eax, 0xfffff000, 0x21, "BAR0 size mask"
        mov eax, 0x10
        mov ecx, BAR_ADDR
        call cfg_write
        mov eax, 0x04
        mov ecx, 6                      ; MEM | BME
        call cfg_write
        PRINTLN "BAR0 4 KiB at 0xe0010000"

        ; --- 1. identity copy ---
        mov edi, SRC
        xor ecx, ecx
.fill:  mov eax, ecx
        imul eax, eax, 7
        add eax, 3
        mov [edi + ecx], al
        inc ecx
        cmp ecx, LEN
        jb .fill
        mov eax, SRC
        mov ebx, DST
        mov ecx, LEN
        xor edx, edx
        call dma_copy
        CHECKV eax, DONE, 0x22, "identity copy status"
        mov eax, [BAR_ADDR + D_XFERRED]
        CHECKV eax, LEN, 0x23, "identity copy length"
        mov esi, SRC
        mov edi, DST
        mov ecx, LEN
        call compare
        CHECKV eax, 0, 0x24, "identity copy data"
        PRINTLN "copy without IOMMU: ok"

        ; --- 2. tables and a translated copy ---
        mov dword [ROOT_PT + (IOVA_SRC >> 22) * 4], LEAF_PT | 1
        xor ecx, ecx
.map:   mov ebx, ecx
        shl ebx, 12                      ; page offset
        lea eax, [ebx + SRC + 3]         ; valid, read
        mov [LEAF_PT + ((IOVA_SRC >> 12) & 0x3ff) * 4 + ecx * 4], eax
        lea eax, [ebx + T_DST + 7]       ; valid, read, write
        mov [LEAF_PT + ((IOVA_DST >> 12) & 0x3ff) * 4 + ecx * 4], eax
        inc ecx
        cmp ecx, 3
        jb .map
        mov dword [LEAF_PT + ((IOVA_STALE >> 12) & 0x3ff) * 4], STALE_A | 7
        mov dword [IOMMU + I_ROOT_LO], ROOT_PT
        mov dword [IOMMU + I_ENABLE], 1
        mov eax, IOVA_SRC
        mov ebx, IOVA_DST
        mov ecx, LEN
        xor edx, edx
        call dma_copy
        CHECKV eax, DONE, 0x25, "translated copy status"
        mov esi, SRC
        mov edi, T_DST
        mov ecx, LEN
        call compare
        CHECKV eax, 0, 0x26, "translated copy data"
        mov eax, [IOMMU + I_FSTATUS]
        CHECKV eax, 0, 0x27, "no fault after a good copy"
        PRINTLN "copy through IOMMU: ok"

        ; --- 3. write to a read-only page ---
        mov eax, IOVA_DST
        mov ebx, IOVA_SRC + 0x10
        mov ecx, 0x100
        xor edx, edx
        call dma_copy
        CHECKV eax, DONE | ERROR | (ACCESS_ERROR << 8), 0x28, "read-only write status"
        mov eax, [IOMMU + I_FSTATUS]
        CHECKV eax, 7, 0x29, "fault status VALID|WRITE|PERM"
        mov eax, [IOMMU + I_FADDR]
        CHECKV eax, IOVA_SRC + 0x10, 0x2a, "fault address"
        mov eax, [IOMMU + I_FREQ]
        mov ebx, [devno]
        shl ebx, 3
        CHECKV eax, ebx, 0x2b, "fault requester"
        mov dword [IOMMU + I_FSTATUS], 1
        mov eax, [IOMMU + I_FSTATUS]
        CHECKV eax, 0, 0x2c, "fault acknowledged"
        PRINTLN "permission fault: logged"

        ; --- 4. unmapped IOVA ---
        mov eax, IOVA_NONE
        mov ebx, IOVA_DST
        mov ecx, 0x10
        xor edx, edx
        call dma_copy
        CHECKV eax, DONE | ERROR | (DECODE_ERROR << 8), 0x2d, "unmapped read status"
        mov eax, [IOMMU + I_FSTATUS]
        CHECKV eax, 1, 0x2e, "fault status VALID (not present, read)"
        mov eax, [IOMMU + I_FADDR]
        CHECKV eax, IOVA_NONE, 0x2f, "unmapped fault address"
        mov dword [IOMMU + I_FSTATUS], 1
        PRINTLN "translation fault: logged"

        ; --- 5. IOTLB: stale until invalidated ---
        mov eax, IOVA_SRC
        mov ebx, IOVA_STALE
        mov ecx, 0x100
        xor edx, edx
        call dma_copy                   ; caches IOVA_STALE -> STALE_A
        CHECKV eax, DONE, 0x30, "stale copy 1 status"
        mov dword [LEAF_PT + ((IOVA_STALE >> 12) & 0x3ff) * 4], STALE_B | 7
        mov eax, IOVA_SRC + 0x100
        mov ebx, IOVA_STALE + 0x100
        mov ecx, 0x100
        xor edx, edx
        call dma_copy                   ; still STALE_A: not invalidated
        CHECKV eax, DONE, 0x31, "stale copy 2 status"
        mov esi, SRC + 0x100
        mov edi, STALE_A + 0x100
        mov ecx, 0x100
        call compare
        CHECKV eax, 0, 0x32, "old translation used before invalidation"
        mov dword [IOMMU + I_INVAL], IOVA_STALE
        mov eax, IOVA_SRC + 0x200
        mov ebx, IOVA_STALE + 0x200
        mov ecx, 0x100
        xor edx, edx
        call dma_copy
        mov esi, SRC + 0x200
        mov edi, STALE_B + 0x200
        mov ecx, 0x100
        call compare
        CHECKV eax, 0, 0x33, "new translation used after invalidation"
        mov eax, [STALE_A + 0x200]
        CHECKV eax, 0, 0x34, "nothing written to the old page"
        PRINTLN "IOTLB invalidation: ok"

        ; --- 6. completion interrupt in PCI STATUS ---
        mov eax, IOVA_SRC
        mov ebx, IOVA_DST
        mov ecx, 0x40
        mov edx, IRQ_EN
        call dma_copy
        CHECKV eax, DONE, 0x35, "irq copy status"
        mov eax, 0x04
        call cfg_read
        shr eax, 16
        and eax, 8
        CHECKV eax, 8, 0x36, "PCI STATUS.INTERRUPT set"
        mov dword [BAR_ADDR + D_STATUS], DONE
        mov eax, 0x04
        call cfg_read
        shr eax, 16
        and eax, 8
        CHECKV eax, 0, 0x37, "PCI STATUS.INTERRUPT cleared"
        PRINTLN "completion interrupt: ok"

        ; --- 7. bus mastering off ---
        mov eax, 0x04
        mov ecx, 2                      ; MEM only
        call cfg_write
        mov eax, IOVA_SRC
        mov ebx, IOVA_DST
        mov ecx, 0x10
        xor edx, edx
        call dma_copy
        CHECKV eax, DONE | ERROR | (DECODE_ERROR << 8), 0x38, "copy without bus mastering"
        PRINTLN "bus master disabled: copy refused"
        PRINTLN "dma_iommu done"
        EXIT 0x10

; cfg_read: eax = register of pci-dma -> eax = its 32-bit value.
cfg_read:
        push edx
        push eax
        mov eax, [devno]
        shl eax, 11
        or eax, [esp]
        or eax, 0x80000000
        mov dx, CFG_ADDR
        out dx, eax
        mov dx, CFG_DATA
        in eax, dx
        add esp, 4
        pop edx
        ret

; cfg_write: eax = register, ecx = value.
cfg_write:
        push edx
        push eax
        mov eax, [devno]
        shl eax, 11
        or eax, [esp]
        or eax, 0x80000000
        mov dx, CFG_ADDR
        out dx, eax
        mov dx, CFG_DATA
        mov eax, ecx
        out dx, eax
        pop eax
        pop edx
        ret

; dma_copy: eax = source, ebx = destination, ecx = length, edx = extra CTRL
; bits; returns eax = STATUS (DONE/ERROR and the code), the copy having run
; synchronously. Acknowledges nothing.
dma_copy:
        mov dword [BAR_ADDR + D_STATUS], DONE | ERROR
        mov [BAR_ADDR + D_SRC], eax
        mov dword [BAR_ADDR + D_SRC + 4], 0
        mov [BAR_ADDR + D_DST], ebx
        mov dword [BAR_ADDR + D_DST + 4], 0
        mov [BAR_ADDR + D_LEN], ecx
        or edx, GO
        mov [BAR_ADDR + D_CTRL], edx
        mov eax, [BAR_ADDR + D_STATUS]
        ret

; compare: esi, edi, ecx -> eax = 0 if the ecx bytes are equal, else 1.
compare:
        push esi
        push edi
        push ecx
        cld
        repe cmpsb
        setne al
        movzx eax, al
        pop ecx
        pop edi
        pop esi
        ret

devno:  dd 0
fault_eip: dd 0
resume_eip: dd 0

        LIB_CODE
image_end:
        section .bss
        LIB_BSS
bss_end:
