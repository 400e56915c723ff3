/*
 * x86 linear-to-physical translation: the page-table walker the x86 CPU's
 * TLB fill callback calls (docs/tlb.md §4).
 *
 * References are to the Intel SDM Vol. 3A, chapter 4 ("Paging"):
 *   4.1   paging modes and modifiers (CR0.PG/WP, CR4.PSE/PAE/LA57/SMEP/SMAP,
 *         IA32_EFER.LME/LMA/NXE)
 *   4.3   32-bit paging (4 KiB pages; 4 MiB pages with CR4.PSE, PSE-36)
 *   4.4   PAE paging (4.4.1 the PDPTE registers, 4.4.2 the walk)
 *   4.5   4-level and 5-level paging
 *   4.6   access rights (U/S, R/W, WP, XD, SMEP, SMAP)
 *   4.7   page-fault exceptions and their error code
 *   4.8   accessed and dirty flags
 *
 * The walker reads (and, for A/D, writes) guest page tables through an
 * AddressSpace with as_read_val/as_write_val in little-endian order. It is
 * self-contained: it knows nothing of the CPU or the TLB beyond the
 * TLB_PROT_* bits it returns.
 *
 * Choices (see x86_paging.c for the details):
 *  - PAE PDPTEs: real CPUs load the four PDPTEs into internal registers on
 *    MOV to CR3 (and to CR0/CR4 when that enables PAE paging), faulting with
 *    #GP(0) there if a present PDPTE has a reserved bit set (4.4.1). The
 *    walker uses X86PagingState.pae_pdptes when the caller keeps such
 *    registers (x86_pae_load_pdptes() loads and checks them); when it is
 *    NULL it reads the PDPTEs from memory at every walk, and a present PDPTE
 *    with a reserved bit then gives a #PF with P=1|RSVD.
 *  - MAXPHYADDR: X86PagingState.maxphyaddr, 0 meaning 40.
 *  - Page tables in unassigned memory or MMIO: the entry is whatever the
 *    address space returns (unassigned reads give the fill byte, 0xff by
 *    default, so an all-ones entry: present with reserved bits set, hence a
 *    RSVD #PF in PAE/4-level paging and for a 4 MiB PDE; under 32-bit paging
 *    without CR4.PSE an all-ones PDE points to a page table at 0xfffff000).
 *    A/D write-backs that fail (ROM, MMIO refusing) are ignored.
 *  - MemAttrs.debug walks (debuggers) never write A/D bits.
 *  - 1 GiB pages are supported (CPUID.80000001H:EDX.Page1GB = 1), and so
 *    are PSE-36 and 5-level paging (CR4.LA57).
 *  - Protection keys (CR4.PKE/PKS), HLAT, LAM and CET shadow-stack pages
 *    are not modelled: bits 62:59 of final entries are ignored.
 *
 * The prot returned depends on CR0.WP, CR4.SMEP/SMAP, EFER.NXE and
 * smap_override as well as on the tables: the CPU must flush its TLB when
 * it writes CR0 (PG, WP), CR3, CR4 (PSE, PAE, LA57, SMEP, SMAP, PGE...) or
 * EFER.NXE, as the SDM requires of software or does itself (4.10.4).
 */
#ifndef MMUSIM_TARGETS_X86_X86_PAGING_H
#define MMUSIM_TARGETS_X86_X86_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "softmmu/address_space.h"

/* Control-register and EFER bits the walker looks at. */
#define X86_CR0_WP    (1ull << 16)
#define X86_CR0_PG    (1ull << 31)
#define X86_CR4_PSE   (1ull << 4)
#define X86_CR4_PAE   (1ull << 5)
#define X86_CR4_PGE   (1ull << 7)
#define X86_CR4_LA57  (1ull << 12)
#define X86_CR4_SMEP  (1ull << 20)
#define X86_CR4_SMAP  (1ull << 21)
#define X86_EFER_LME  (1ull << 8)
#define X86_EFER_LMA  (1ull << 10)
#define X86_EFER_NXE  (1ull << 11)

/* Paging-structure entry bits (4.3, 4.4.2, 4.5). */
#define X86_PTE_P     (1ull << 0)
#define X86_PTE_RW    (1ull << 1)
#define X86_PTE_US    (1ull << 2)
#define X86_PTE_PWT   (1ull << 3)
#define X86_PTE_PCD   (1ull << 4)
#define X86_PTE_A     (1ull << 5)
#define X86_PTE_D     (1ull << 6)
#define X86_PTE_PS    (1ull << 7)
#define X86_PTE_G     (1ull << 8)
#define X86_PTE_XD    (1ull << 63)

/* #PF error code bits (4.7). */
#define X86_PF_P      (1u << 0)  /* 1: protection violation; 0: not present */
#define X86_PF_W      (1u << 1)  /* 1: the access was a write */
#define X86_PF_U      (1u << 2)  /* 1: user-mode access */
#define X86_PF_RSVD   (1u << 3)  /* a reserved bit was set in an entry */
#define X86_PF_ID     (1u << 4)  /* instruction fetch (see x86_page_walk) */

#define X86_PAGE_4K   (1ull << 12)
#define X86_PAGE_2M   (1ull << 21)
#define X86_PAGE_4M   (1ull << 22)
#define X86_PAGE_1G   (1ull << 30)

#define X86_MAXPHYADDR_DEFAULT 40

typedef struct X86PagingState {
    uint64_t cr0, cr3, cr4, efer;   /* as the guest set them; EFER.LMA as the CPU keeps it */
    /*
     * SMAP override for a supervisor data access (4.6.1). Per the SDM it is
     * CPL < 3 && EFLAGS.AC == 1: explicit supervisor accesses at CPL < 3 use
     * AC, and so do implicit supervisor accesses (GDT, IDT, TSS...) made at
     * CPL < 3, while implicit supervisor accesses made at CPL 3 behave as if
     * AC = 0 (so they must pass false). Ignored for user accesses, fetches,
     * and when CR4.SMAP = 0.
     * The returned prot depends on it: the TLB must not share supervisor
     * entries between override and no-override (give them separate MMU
     * indexes, or flush on a change of AC when CR4.SMAP = 1).
     */
    bool smap_override;
    /* MAXPHYADDR (CPUID.80000008H:EAX[7:0]), 32..52; 0 means 40. */
    uint8_t maxphyaddr;
    /* Optional: where the walk may keep the RAM run its entries came from
     * (read through a host pointer; A/D updates still go through the
     * address space). NULL: every entry is read with as_read_val. */
    AsRamCache *ram_cache;
    /* PAE paging only: the four PDPTE registers loaded at MOV CR3 time
     * (x86_pae_load_pdptes), or NULL to read the PDPTEs at walk time. */
    const uint64_t *pae_pdptes;
} X86PagingState;

typedef enum X86AccessKind { X86_ACC_READ, X86_ACC_WRITE, X86_ACC_FETCH } X86AccessKind;

typedef struct X86WalkResult {
    uint64_t paddr;        /* physical address of vaddr */
    unsigned prot;         /* TLB_PROT_READ/WRITE/EXEC for THIS privilege as the TLB may cache it */
    uint64_t page_size;    /* 4 KiB, 2 MiB, 4 MiB, 1 GiB */
    bool global;           /* G in the final entry with CR4.PGE: kept over CR3 loads (4.10.2.4) */
    uint32_t error_code;   /* on fault: the exact #PF error code (X86_PF_*) */
    bool fault_is_gp;      /* non-canonical address in long mode: #GP(0) (or #SS for stack) rather than #PF */
} X86WalkResult;

typedef enum X86PagingMode {
    X86_PAGING_OFF,     /* CR0.PG = 0 */
    X86_PAGING_32,      /* 4.3 */
    X86_PAGING_PAE,     /* 4.4 */
    X86_PAGING_4LEVEL,  /* 4.5, CR4.LA57 = 0 */
    X86_PAGING_5LEVEL,  /* 4.5, CR4.LA57 = 1 */
} X86PagingMode;

/* The paging mode st selects (4.1.1): CR0.PG, then EFER.LMA (long mode,
 * which architecturally implies CR4.PAE), then CR4.PAE. */
X86PagingMode x86_paging_mode(const X86PagingState *st);

/*
 * Translate `vaddr` for an access of `kind` at user (CPL 3, not an implicit
 * supervisor access) or supervisor privilege.
 *
 * true: translated; out->paddr, out->prot, out->page_size filled,
 * error_code 0. A/D flags were set as the access requires (4.8).
 * false: fault; either out->fault_is_gp (non-canonical linear address in
 * 4/5-level paging; error_code 0) or out->error_code is the #PF error code.
 * Setting CR2 = vaddr and raising the exception is the caller's job.
 * Nothing is written to guest memory when the walk faults.
 *
 * Paging off (CR0.PG = 0): identity, paddr = vaddr truncated to 32 bits
 * (EFER.LMA cannot be 1 with PG = 0; if the caller's state says so anyway,
 * the address is not truncated), prot RWX, page_size 4 KiB.
 * 32-bit and PAE paging: vaddr is truncated to 32 bits.
 *
 * prot is what the TLB may cache for this privilege: the permissions of
 * 4.6 combined over every level (U/S and R/W the most restrictive, XD if
 * any level sets it and NXE = 1), CR0.WP, SMEP, SMAP (with smap_override).
 * TLB_PROT_WRITE is withheld when the final entry's dirty flag is clear
 * after this walk (a read or fetch of a clean writable page): the first
 * write then misses in the TLB and walks again, which sets D.
 *
 * The error code's I/D bit is set for fetches only when CR4.SMEP = 1, or
 * CR4.PAE = 1 and EFER.NXE = 1 (4.7): a fetch fault under 32-bit paging
 * with SMEP = 0 reports I/D = 0 even if EFER.NXE = 1.
 */
bool x86_page_walk(AddressSpace *as, MemAttrs attrs, const X86PagingState *st, uint64_t vaddr,
                   X86AccessKind kind, bool user, X86WalkResult *out);

/*
 * Load the four PAE PDPTEs from (cr3 & 0xffffffe0) as MOV to CR3 does
 * under PAE paging (4.4.1). Returns false if a PDPTE with P = 1 has a
 * reserved bit set (bits 2:1, 8:5, 63:MAXPHYADDR): the MOV must then raise
 * #GP(0) and leave CR3 and the PDPTE registers unchanged. maxphyaddr 0
 * means 40. pdpte[] is filled in either case.
 */
bool x86_pae_load_pdptes(AddressSpace *as, MemAttrs attrs, uint64_t cr3, unsigned maxphyaddr,
                         uint64_t pdpte[4]);

#endif
