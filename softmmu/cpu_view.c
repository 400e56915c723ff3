/*
 * Per-CPU views: a root container per CPU with the shared global map at the
 * bottom and that CPU's SMRAM and APIC overlays above it (§3).
 *
 * Because the global map is an alias at address 0 and the lowest priority,
 * the CPU's address space is layered (address_space.c): the global map is
 * rendered once for all CPUs, and this CPU's dispatch holds only its
 * overlays. Toggling SMRAM or moving the APIC marks only this CPU's root.
 */
#include "softmmu/cpu_view.h"

struct CpuView {
    unsigned index;
    MemRegion *root;
    MemRegion *global_alias;
    MemRegion *smram_alias;  /* NULL without SMRAM */
    MemRegion *apic;         /* NULL without an APIC */
    AddressSpace *as;
};

CpuView *cpu_view_new(const CpuViewConfig *cfg, GError **err)
{
    if (!cfg || !cfg->global_map) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "cpu view: no global map given");
        return NULL;
    }
    if (cfg->apic && mr_parent(cfg->apic)) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_HAS_PARENT,
                    "cpu view %u: APIC region '%s' already belongs to '%s'", cfg->cpu_index,
                    mr_name(cfg->apic), mr_name(mr_parent(cfg->apic)));
        return NULL;
    }
    uint64_t size = mr_size(cfg->global_map);
    CpuView *cv = g_new0(CpuView, 1);
    cv->index = cfg->cpu_index;

    g_autofree char *root_name = g_strdup_printf("cpu%u-root", cfg->cpu_index);
    g_autofree char *global_name = g_strdup_printf("cpu%u-global", cfg->cpu_index);
    g_autofree char *smram_name = g_strdup_printf("cpu%u-smram", cfg->cpu_index);
    g_autofree char *as_name = g_strdup_printf("cpu%u", cfg->cpu_index);

    mem_transaction_begin();
    bool ok = (cv->root = mr_new_container(root_name, size, err)) &&
              (cv->global_alias = mr_new_alias(global_name, cfg->global_map, 0, size, err)) &&
              mr_add_subregion_overlap(cv->root, 0, cv->global_alias, CPU_VIEW_PRIO_GLOBAL, err);
    if (ok && cfg->smram) {
        uint64_t ssize = cfg->smram_size ? cfg->smram_size : mr_size(cfg->smram);
        ok = (cv->smram_alias = mr_new_alias(smram_name, cfg->smram, 0, ssize, err)) != NULL;
        if (ok) {
            mr_set_enabled(cv->smram_alias, false);
            ok = mr_add_subregion_overlap(cv->root, cfg->smram_addr, cv->smram_alias,
                                          CPU_VIEW_PRIO_SMRAM, err);
        }
    }
    if (ok && cfg->apic) {
        ok = mr_add_subregion_overlap(cv->root, cfg->apic_base, cfg->apic, CPU_VIEW_PRIO_APIC, err);
        if (ok) {
            cv->apic = cfg->apic; /* the caller's reference is ours from here on */
        }
    }
    if (ok) {
        cv->as = as_new(as_name, cv->root, err);
        ok = cv->as != NULL;
    }
    mem_transaction_commit();
    if (!ok) {
        cpu_view_free(cv);
        return NULL;
    }
    return cv;
}

void cpu_view_free(CpuView *cv)
{
    if (!cv) {
        return;
    }
    as_free(cv->as);
    /* The root owns its children; dropping it releases the aliases and the
     * APIC's place in it, then our own references go. */
    mr_unref(cv->root);
    mr_unref(cv->global_alias);
    mr_unref(cv->smram_alias);
    mr_unref(cv->apic);
    g_free(cv);
}

unsigned cpu_view_index(const CpuView *cv) { return cv->index; }
AddressSpace *cpu_view_as(const CpuView *cv) { return cv->as; }
MemRegion *cpu_view_root(const CpuView *cv) { return cv->root; }

void cpu_view_set_smram_visible(CpuView *cv, bool visible)
{
    if (cv->smram_alias) {
        mr_set_enabled(cv->smram_alias, visible);
    }
}

bool cpu_view_smram_visible(const CpuView *cv)
{
    return cv->smram_alias && mr_enabled(cv->smram_alias);
}

void cpu_view_set_apic_base(CpuView *cv, uint64_t base)
{
    if (cv->apic) {
        mr_set_address(cv->apic, base);
    }
}

uint64_t cpu_view_apic_base(const CpuView *cv)
{
    return cv->apic ? mr_addr(cv->apic) : 0;
}

void cpu_view_set_apic_enabled(CpuView *cv, bool enabled)
{
    if (cv->apic) {
        mr_set_enabled(cv->apic, enabled);
    }
}

bool cpu_view_apic_enabled(const CpuView *cv)
{
    return cv->apic && mr_enabled(cv->apic);
}
