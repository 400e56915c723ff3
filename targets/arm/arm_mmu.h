/*
 * Private to the system half of targets/arm: the stage-1 walk with the
 * extra results AT needs (memory attributes for PAR_EL1), shared by
 * arm_mmu.c and arm_sysreg.c.
 */
#ifndef MMUSIM_TARGETS_ARM_MMU_H
#define MMUSIM_TARGETS_ARM_MMU_H

#include "targets/arm/arm_internal.h"

/* Synchronous external abort on a translation table walk, at `level`
 * (ESR_ELx.DFSC/IFSC 0b0101xx, ARM ARM D13.2.39). */
#define ARM_FSC_WALK_EXTERNAL(l) (0x14u + (l))

typedef struct ArmWalkResult {
    uint64_t paddr;      /* physical address of the VA */
    uint64_t page_size;  /* 4 KiB page, 2 MiB or 1 GiB block */
    unsigned prot;       /* TLB_PROT_* for the regime's privilege (mmu_idx) */
    uint8_t attr;        /* MAIR_EL1 attribute byte of the final descriptor */
    uint8_t sh;          /* shareability, SH[1:0] of the final descriptor */
    bool global;         /* nG = 0 in the final descriptor: valid for every ASID */
    uint32_t fsc;        /* on failure: the DFSC/IFSC value (ARM_FSC_*) */
} ArmWalkResult;

/* Translate `va` for `access` with the permissions of `mmu_idx`
 * (ARM_MMU_*). True: translated and the access is permitted. */
bool arm_mmu_walk(ArmCpu *cpu, uint64_t va, TlbAccess access, unsigned mmu_idx,
                  ArmWalkResult *out);

/* AT S1E1R/W, S1E0R/W: the PAR_EL1 value for translating `va` (ARM ARM
 * D13.2.112 PAR_EL1: F = 0 with PA, SH, ATTR; or F = 1 with FST). */
uint64_t arm_mmu_at_par(ArmCpu *cpu, uint64_t va, bool write, bool el0);

#endif
