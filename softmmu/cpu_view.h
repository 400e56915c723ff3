/*
 * Per-CPU views (§3): each CPU's root region and its address space.
 *
 *   cpuN root (container, size of the global map)
 *     +-- alias of the global machine map   prio 0  (shared by all CPUs)
 *     +-- alias of SMRAM                    prio 1  (enabled while N sees SMRAM)
 *     +-- N's local APIC page               prio 2  (enabled with N's APIC, at N's base)
 *
 * The global map is rendered once for everyone; a CPU view adds only its two
 * overlays, so creating a CPU or changing one CPU's overlay costs
 * O(overlays), and never touches another CPU's dispatch.
 */
#ifndef MMUSIM_SOFTMMU_CPU_VIEW_H
#define MMUSIM_SOFTMMU_CPU_VIEW_H

#include "softmmu/address_space.h"

typedef struct CpuView CpuView;

enum { CPU_VIEW_PRIO_GLOBAL = 0, CPU_VIEW_PRIO_SMRAM = 1, CPU_VIEW_PRIO_APIC = 2 };

typedef struct CpuViewConfig {
    unsigned cpu_index;
    MemRegion *global_map;  /* required: the machine map every CPU shares */
    MemRegion *smram;       /* optional: what the SMRAM window shows, from its offset 0
                             * (pass an alias to show part of a larger region) */
    uint64_t smram_addr;    /* where the window sits, e.g. 0xa0000 */
    uint64_t smram_size;    /* 0: all of `smram` */
    MemRegion *apic;        /* optional: this CPU's APIC page. On success the view takes
                             * over the caller's reference; on failure the caller keeps it */
    uint64_t apic_base;     /* e.g. 0xfee00000 */
} CpuViewConfig;

CpuView *cpu_view_new(const CpuViewConfig *cfg, GError **err);
void cpu_view_free(CpuView *cv);

unsigned cpu_view_index(const CpuView *cv);
AddressSpace *cpu_view_as(const CpuView *cv);
MemRegion *cpu_view_root(const CpuView *cv);

/* SMRAM overlay on or off for this CPU only (the chipset logic that decides
 * when lives with the SMM model). */
void cpu_view_set_smram_visible(CpuView *cv, bool visible);
bool cpu_view_smram_visible(const CpuView *cv);

/* Move this CPU's APIC page; nobody else's view changes. The base is
 * clipped to the root like any address: a guest can't crash us with it. */
void cpu_view_set_apic_base(CpuView *cv, uint64_t base);
uint64_t cpu_view_apic_base(const CpuView *cv);
void cpu_view_set_apic_enabled(CpuView *cv, bool enabled);
bool cpu_view_apic_enabled(const CpuView *cv);

#endif
