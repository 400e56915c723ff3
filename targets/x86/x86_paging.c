/*
 * x86 page-table walker (Intel SDM Vol. 3A chapter 4). See x86_paging.h for
 * the interface and the choices made; section numbers below are the SDM's.
 *
 * Structure: a mode-specific part follows the paging structures down to the
 * final entry, checking P and reserved bits at each level and remembering
 * every entry it used; a common part then applies the access rights of 4.6
 * to the combined flags, and only when the access is allowed sets the
 * accessed/dirty flags (4.8) in the entries it remembered.
 */
#include "targets/x86/x86_paging.h"

#include <string.h>

#include "tlb/tlb.h"

/* Entries whose accessed flag the walk sets: at most one per level. */
#define WALK_MAX_ENTRIES 5

typedef enum WalkStatus {
    WALK_OK,
    WALK_NOT_PRESENT, /* an entry had P = 0: error code P = 0 */
    WALK_RESERVED,    /* a present entry had a reserved bit set: P = 1, RSVD = 1 */
} WalkStatus;

typedef struct WalkEntry {
    uint64_t addr; /* guest-physical address of the entry */
    uint64_t val;  /* its value as read (updated as A/D are set) */
} WalkEntry;

typedef struct Walk {
    AddressSpace *as;
    AsRamCache *ram_cache;  /* optional (X86PagingState.ram_cache) */
    MemAttrs attrs;
    unsigned entry_size; /* 4 (32-bit paging) or 8 */
    bool nxe;            /* XD is a valid bit: EFER.NXE under PAE or 4/5-level paging */
    unsigned maxphy;     /* MAXPHYADDR */
    WalkEntry used[WALK_MAX_ENTRIES];
    unsigned n_used;
    /* Access rights combined over the levels used (4.6). */
    bool all_user;       /* U/S = 1 in every entry: a user-mode address */
    bool all_writable;   /* R/W = 1 in every entry */
    bool any_xd;         /* XD = 1 in some entry (only when nxe) */
    /* The translation. */
    uint64_t paddr;
    uint64_t page_size;
} Walk;

/* Bits hi..lo inclusive (empty when hi < lo). */
static inline uint64_t bit_range(unsigned hi, unsigned lo)
{
    if (hi < lo || lo > 63) {
        return 0;
    }
    uint64_t upto_hi = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return upto_hi & ~((1ull << lo) - 1);
}

static unsigned maxphyaddr_of(unsigned m)
{
    if (m == 0) {
        return X86_MAXPHYADDR_DEFAULT;
    }
    return m < 32 ? 32 : m > 52 ? 52 : m;
}

/*
 * Read one paging-structure entry. Whatever the memory system returns is
 * used, as the hardware would: unassigned memory reads as the address
 * space's fill byte (0xff by default, an all-ones entry), a device that
 * refuses gives what the memory core gives (currently 0: not present).
 */
static uint64_t read_entry(Walk *w, uint64_t addr)
{
    uint64_t v = 0;
    const void *p = w->ram_cache ? as_ram_read_ptr(w->as, w->ram_cache, addr, w->entry_size)
                                 : NULL;
    if (p) {
        /* Plain RAM: the bytes, little-endian (the host is too). */
        if (w->entry_size == 4) {
            uint32_t x;
            memcpy(&x, p, 4);
            v = GUINT32_FROM_LE(x);
        } else {
            memcpy(&v, p, 8);
            v = GUINT64_FROM_LE(v);
        }
        return v;
    }
    (void)as_read_val(w->as, addr, w->attrs, w->entry_size, MEM_LITTLE_ENDIAN, &v);
    return v;
}

/* Record an entry the translation uses (its A flag is set on success) and
 * fold its access-right bits into the walk's (4.6: every level counts). */
static void use_entry(Walk *w, uint64_t addr, uint64_t val)
{
    if (w->n_used < WALK_MAX_ENTRIES) {
        w->used[w->n_used++] = (WalkEntry){ addr, val };
    }
    w->all_user = w->all_user && (val & X86_PTE_US);
    w->all_writable = w->all_writable && (val & X86_PTE_RW);
    if (w->nxe && (val & X86_PTE_XD)) {
        w->any_xd = true;
    }
}

/* ------------------------------------------------------------------ */
/* 32-bit paging (4.3): 4-byte entries, PD then PT, or a 4 MiB PDE.    */

static WalkStatus walk_32bit(Walk *w, const X86PagingState *st, uint32_t va)
{
    /* CR3[31:12] locates the page directory (4.3, CR3 format). */
    uint64_t pde_addr = ((uint32_t)st->cr3 & 0xfffff000u) + ((uint64_t)(va >> 22) << 2);
    uint64_t pde = read_entry(w, pde_addr);
    if (!(pde & X86_PTE_P)) {
        return WALK_NOT_PRESENT;
    }
    if ((st->cr4 & X86_CR4_PSE) && (pde & X86_PTE_PS)) {
        /*
         * 4 MiB page (4.3, 4-MByte PDE format): bits 31:22 are physical
         * address bits 31:22; with PSE-36, PDE bits 20:13 are physical
         * address bits 39:32, limited to M = min(MAXPHYADDR, 40). Bit 21 and
         * the PSE-36 bits at or above M are reserved (bits 21:(M-19), 4.7).
         */
        unsigned m = w->maxphy < 40 ? w->maxphy : 40;
        if (pde & bit_range(21, m - 19)) {
            return WALK_RESERVED;
        }
        use_entry(w, pde_addr, pde);
        w->page_size = X86_PAGE_4M;
        w->paddr = (pde & 0xffc00000u) | (((pde >> 13) & 0xff) << 32) | (va & 0x3fffffu);
        return WALK_OK;
    }
    /* PDE referencing a page table (4.3): no reserved bits; PS is ignored
     * when CR4.PSE = 0. */
    use_entry(w, pde_addr, pde);
    uint64_t pte_addr = (pde & 0xfffff000u) + (((va >> 12) & 0x3ffu) << 2);
    uint64_t pte = read_entry(w, pte_addr);
    if (!(pte & X86_PTE_P)) {
        return WALK_NOT_PRESENT;
    }
    /* 4 KiB PTE (4.3): no reserved bits (bit 7 is PAT). */
    use_entry(w, pte_addr, pte);
    w->page_size = X86_PAGE_4K;
    w->paddr = (pte & 0xfffff000u) | (va & 0xfffu);
    return WALK_OK;
}

/* ------------------------------------------------------------------ */
/* 8-byte entries: PAE paging below the PDPTEs, and 4/5-level paging.  */

/*
 * Walk from `table` at level `top` (5 = PML5, 4 = PML4, 3 = PDPT,
 * 2 = PD, 1 = PT) down to the final entry. `rsvd` is the reserved-bit mask
 * common to every entry at these levels (the address bits above MAXPHYADDR,
 * XD when NXE = 0). PS is reserved at levels 4 and 5 (4.5); PS = 1 maps a
 * 1 GiB page at level 3 (4-level only: PAE enters at level 2) and a 2 MiB
 * page at level 2, whose address bits below the page size (bits 29:13 or
 * 20:13; bit 12 is PAT) are reserved (4.4.2, 4.5, 4.7).
 */
static WalkStatus walk_levels(Walk *w, uint64_t table, uint64_t va, int top, uint64_t rsvd)
{
    uint64_t addr_mask = bit_range(w->maxphy - 1, 12);
    for (int level = top; level >= 1; level--) {
        unsigned shift = 12 + 9 * (unsigned)(level - 1);
        uint64_t ea = table + (((va >> shift) & 0x1ff) << 3);
        uint64_t e = read_entry(w, ea);
        if (!(e & X86_PTE_P)) {
            return WALK_NOT_PRESENT; /* reserved bits are not checked when P = 0 (4.7) */
        }
        uint64_t level_rsvd = rsvd;
        bool final = level == 1;
        if (level >= 4) {
            level_rsvd |= X86_PTE_PS;
        } else if (level >= 2 && (e & X86_PTE_PS)) {
            final = true;
            level_rsvd |= bit_range(shift - 1, 13);
        }
        if (e & level_rsvd) {
            return WALK_RESERVED;
        }
        use_entry(w, ea, e);
        if (final) {
            uint64_t size = 1ull << shift;
            w->page_size = size;
            w->paddr = (e & addr_mask & ~(size - 1)) | (va & (size - 1));
            return WALK_OK;
        }
        table = e & addr_mask;
    }
    return WALK_NOT_PRESENT; /* not reached */
}

/* Reserved bits of a PAE PDPTE (4.4.1): 2:1, 8:5, 63:MAXPHYADDR. */
static uint64_t pae_pdpte_rsvd(unsigned maxphy)
{
    return bit_range(2, 1) | bit_range(8, 5) | bit_range(63, maxphy);
}

/*
 * PAE paging (4.4.2). The PDPTE comes from the caller's PDPTE registers
 * when it keeps them (as the hardware does, 4.4.1), else from memory now.
 * PDPTEs have no U/S, R/W, XD or A flags: they take no part in access
 * rights and are never written back.
 */
static WalkStatus walk_pae(Walk *w, const X86PagingState *st, uint32_t va)
{
    unsigned i = va >> 30;
    uint64_t pdpte;
    if (st->pae_pdptes) {
        pdpte = st->pae_pdptes[i];
    } else {
        pdpte = read_entry(w, ((uint32_t)st->cr3 & ~0x1fu) + 8u * i);
    }
    if (!(pdpte & X86_PTE_P)) {
        return WALK_NOT_PRESENT;
    }
    if (pdpte & pae_pdpte_rsvd(w->maxphy)) {
        return WALK_RESERVED; /* only possible when read at walk time */
    }
    /* PAE PDEs and PTEs: bits 62:MAXPHYADDR reserved, and 63 when NXE = 0. */
    uint64_t rsvd = bit_range(62, w->maxphy) | (w->nxe ? 0 : X86_PTE_XD);
    return walk_levels(w, pdpte & bit_range(w->maxphy - 1, 12), va, 2, rsvd);
}

/* 4-level and 5-level paging (4.5). */
static WalkStatus walk_long(Walk *w, const X86PagingState *st, uint64_t va, int levels)
{
    /* Bits 51:MAXPHYADDR reserved (62:52 are ignored), 63 when NXE = 0.
     * CR3[MAXPHYADDR-1:12] locates the PML4/PML5 table; its low bits
     * (PWT/PCD or the PCID) and any high bits are not address bits. */
    uint64_t rsvd = bit_range(51, w->maxphy) | (w->nxe ? 0 : X86_PTE_XD);
    return walk_levels(w, st->cr3 & bit_range(w->maxphy - 1, 12), va, levels, rsvd);
}

/* ------------------------------------------------------------------ */

X86PagingMode x86_paging_mode(const X86PagingState *st)
{
    if (!(st->cr0 & X86_CR0_PG)) {
        return X86_PAGING_OFF;
    }
    if (st->efer & X86_EFER_LMA) {
        return (st->cr4 & X86_CR4_LA57) ? X86_PAGING_5LEVEL : X86_PAGING_4LEVEL;
    }
    return (st->cr4 & X86_CR4_PAE) ? X86_PAGING_PAE : X86_PAGING_32;
}

/* Is va canonical for `bits` linear-address bits (48 or 57)? (4.5, 3.3.7.1) */
static bool is_canonical(uint64_t va, unsigned bits)
{
    unsigned unused = 64 - bits;
    return (uint64_t)((int64_t)(va << unused) >> unused) == va;
}

/*
 * The access rights of 4.6 for `user` or supervisor privilege, as TLB_PROT
 * bits. This is exactly the set of access kinds that would not fault, so
 * the access itself is allowed iff its kind is in the set.
 *
 * User-mode access (4.6.1): needs a user-mode address (U/S = 1 at every
 * level); writes also need R/W = 1 at every level (CR0.WP does not matter);
 * fetches need XD = 0 at every level when XD is enabled.
 *
 * Supervisor-mode access:
 *  - data reads: any address, except user-mode addresses when CR4.SMAP = 1
 *    and no override (EFLAGS.AC = 1 at CPL < 3);
 *  - data writes: with CR0.WP = 0 any address, with WP = 1 only addresses
 *    with R/W = 1 at every level; the same SMAP rule as reads;
 *  - fetches: XD = 0 at every level when XD is enabled, and not from a
 *    user-mode address when CR4.SMEP = 1 (SMAP does not apply to fetches).
 */
static unsigned access_rights(const Walk *w, const X86PagingState *st, bool user)
{
    unsigned prot;
    if (user) {
        if (!w->all_user) {
            return 0;
        }
        prot = TLB_PROT_READ | TLB_PROT_EXEC;
        if (w->all_writable) {
            prot |= TLB_PROT_WRITE;
        }
    } else {
        prot = TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC;
        if ((st->cr0 & X86_CR0_WP) && !w->all_writable) {
            prot &= ~(unsigned)TLB_PROT_WRITE;
        }
        if (w->all_user && (st->cr4 & X86_CR4_SMEP)) {
            prot &= ~(unsigned)TLB_PROT_EXEC;
        }
        if (w->all_user && (st->cr4 & X86_CR4_SMAP) && !st->smap_override) {
            prot &= ~(unsigned)(TLB_PROT_READ | TLB_PROT_WRITE);
        }
    }
    if (w->any_xd) {
        prot &= ~(unsigned)TLB_PROT_EXEC;
    }
    return prot;
}

/*
 * Accessed and dirty flags (4.8): A in every paging-structure entry used,
 * D in the final entry on a write. Written back only when a flag changes,
 * with the entry's own size. The same entry may be used at several levels
 * (self-referencing tables): each later use starts from the value the
 * earlier one wrote. Failed writes (read-only or absent memory) are ignored.
 */
static void set_accessed_dirty(Walk *w, bool write)
{
    for (unsigned i = 0; i < w->n_used; i++) {
        uint64_t want = X86_PTE_A | ((write && i == w->n_used - 1) ? X86_PTE_D : 0);
        uint64_t cur = w->used[i].val;
        for (unsigned j = 0; j < i; j++) {
            if (w->used[j].addr == w->used[i].addr) {
                cur = w->used[j].val;
            }
        }
        if ((cur & want) != want) {
            cur |= want;
            (void)as_write_val(w->as, w->used[i].addr, w->attrs, w->entry_size,
                               MEM_LITTLE_ENDIAN, cur);
        }
        w->used[i].val = cur;
    }
}

bool x86_page_walk(AddressSpace *as, MemAttrs attrs, const X86PagingState *st, uint64_t vaddr,
                   X86AccessKind kind, bool user, X86WalkResult *out)
{
    *out = (X86WalkResult){ 0 };
    X86PagingMode mode = x86_paging_mode(st);
    bool write = kind == X86_ACC_WRITE;
    bool fetch = kind == X86_ACC_FETCH;

    if (mode == X86_PAGING_OFF) {
        /* No paging: linear = physical (4.1.1), 32-bit outside long mode. */
        out->paddr = (st->efer & X86_EFER_LMA) ? vaddr : (vaddr & 0xffffffffu);
        out->prot = TLB_PROT_READ | TLB_PROT_WRITE | TLB_PROT_EXEC;
        out->page_size = X86_PAGE_4K;
        return true;
    }

    /* Field by field rather than with an initializer: zeroing used[] (only
     * its first n_used entries are ever read) cost a `rep stos` per walk, a
     * measurable part of a TLB miss. */
    Walk w;
    w.as = as;
    w.ram_cache = st->ram_cache;
    w.attrs = attrs;
    w.entry_size = mode == X86_PAGING_32 ? 4 : 8;
    w.nxe = mode != X86_PAGING_32 && (st->efer & X86_EFER_NXE);
    w.maxphy = maxphyaddr_of(st->maxphyaddr);
    w.n_used = 0;
    w.all_user = true;
    w.all_writable = true;
    w.any_xd = false;
    w.paddr = 0;
    w.page_size = 0;

    /* Error code (4.7): W/R and U/S describe the access; I/D is reported
     * for fetches when SMEP = 1 or (PAE = 1 and NXE = 1). */
    uint32_t ec = (write ? X86_PF_W : 0) | (user ? X86_PF_U : 0);
    if (fetch && ((st->cr4 & X86_CR4_SMEP) || w.nxe)) {
        ec |= X86_PF_ID;
    }

    WalkStatus ws;
    switch (mode) {
    case X86_PAGING_32:
        ws = walk_32bit(&w, st, (uint32_t)vaddr);
        break;
    case X86_PAGING_PAE:
        ws = walk_pae(&w, st, (uint32_t)vaddr);
        break;
    default: {
        int levels = mode == X86_PAGING_5LEVEL ? 5 : 4;
        if (!is_canonical(vaddr, levels == 5 ? 57 : 48)) {
            /* Not a paging fault at all: #GP(0), or #SS(0) for stack
             * references (3.3.7.1); the caller chooses. */
            out->fault_is_gp = true;
            return false;
        }
        ws = walk_long(&w, st, vaddr, levels);
        break;
    }
    }

    if (ws == WALK_NOT_PRESENT) {
        out->error_code = ec;
        return false;
    }
    if (ws == WALK_RESERVED) {
        out->error_code = ec | X86_PF_P | X86_PF_RSVD;
        return false;
    }

    unsigned prot = access_rights(&w, st, user);
    unsigned need = write ? TLB_PROT_WRITE : fetch ? TLB_PROT_EXEC : TLB_PROT_READ;
    if (!(prot & need)) {
        out->error_code = ec | X86_PF_P;
        return false;
    }

    if (!attrs.debug) {
        set_accessed_dirty(&w, write);
    }
    /* A clean final entry must not give the TLB write permission: the
     * first write has to walk again so that it sets D (4.8). */
    if (!(w.used[w.n_used - 1].val & X86_PTE_D)) {
        prot &= ~(unsigned)TLB_PROT_WRITE;
    }

    out->paddr = w.paddr;
    out->prot = prot;
    out->page_size = w.page_size;
    /* G counts only in the entry that maps the page, and only with
     * CR4.PGE (SDM Vol. 3A 4.10.2.4). */
    out->global = (st->cr4 & X86_CR4_PGE) && (w.used[w.n_used - 1].val & X86_PTE_G);
    return true;
}

bool x86_pae_load_pdptes(AddressSpace *as, MemAttrs attrs, uint64_t cr3, unsigned maxphyaddr,
                         uint64_t pdpte[4])
{
    uint64_t rsvd = pae_pdpte_rsvd(maxphyaddr_of(maxphyaddr));
    uint64_t base = (uint32_t)cr3 & ~0x1fu;
    bool ok = true;
    for (unsigned i = 0; i < 4; i++) {
        pdpte[i] = 0;
        (void)as_read_val(as, base + 8u * i, attrs, 8, MEM_LITTLE_ENDIAN, &pdpte[i]);
        if ((pdpte[i] & X86_PTE_P) && (pdpte[i] & rsvd)) {
            ok = false;
        }
    }
    return ok;
}
