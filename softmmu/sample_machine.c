/*
 * The sample machine (sample_machine.h).
 *
 * This is a sample machine for introspection only: the regions sit where a
 * PC puts them so that `mmusim mtree`, `mmusim explain` and `mmusim demo`
 * have something realistic to show, but the devices are stubs (a handful of
 * APIC registers, constant BAR contents) and nothing here emulates a PC.
 */
#include "softmmu/sample_machine.h"

#include <inttypes.h>
#include <string.h>

/* Registers of the APIC page are 16 bytes apart. */
#define APIC_NUM_REGS (SAMPLE_MMIO_PAGE / 16)

typedef struct SampleApic {
    unsigned cpu;
    /* Unmodelled registers already reported, one bit per register. */
    uint8_t reported_read[APIC_NUM_REGS / 8];
    uint8_t reported_write[APIC_NUM_REGS / 8];
} SampleApic;

typedef struct SampleBar {
    unsigned index;
} SampleBar;

typedef struct SampleIoapic {
    uint32_t regsel;
} SampleIoapic;

struct SampleMachine {
    unsigned smp;
    MemRegion *system;
    MemRegion *pc_ram;
    MemRegion *vga;
    MemRegion *smram;
    MemRegion *bios;
    MemRegion *isa_bios;
    MemRegion *pci;
    MemRegion *bar[2];
    MemRegion *ioapic;
    MemRegion *dma_root;
    MemRegion *dma_system;
    AddressSpace *dma;
    SampleBar bar_state[2];
    SampleIoapic ioapic_state;
    SampleApic *apics;   /* smp entries */
    CpuView **cpus;      /* smp entries */
};

/* --- APIC: ID and version registers only. --- */

static bool apic_first_report(uint8_t *bits, uint64_t offset)
{
    unsigned reg = (unsigned)((offset & (SAMPLE_MMIO_PAGE - 1)) / 16);
    uint8_t mask = (uint8_t)(1u << (reg % 8));
    bool first = !(bits[reg / 8] & mask);

    bits[reg / 8] |= mask;
    return first;
}

static MemResult sample_apic_read(void *opaque, uint64_t offset, uint64_t *value,
                                  G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    SampleApic *apic = opaque;

    switch (offset) {
    case SAMPLE_APIC_REG_ID:
        *value = (uint64_t)apic->cpu << 24;
        return MEM_OK;
    case SAMPLE_APIC_REG_VERSION:
        *value = SAMPLE_APIC_VERSION;
        return MEM_OK;
    default:
        if (apic_first_report(apic->reported_read, offset)) {
            mem_report("sample apic: register 0x%03" PRIx64 " not modelled (read, cpu %u)",
                       offset, apic->cpu);
        }
        *value = 0;
        return MEM_DEVICE_ERROR;
    }
}

static MemResult sample_apic_write(void *opaque, uint64_t offset,
                                   G_GNUC_UNUSED uint64_t value, G_GNUC_UNUSED unsigned size,
                                   G_GNUC_UNUSED MemAttrs attrs)
{
    SampleApic *apic = opaque;

    if (apic_first_report(apic->reported_write, offset)) {
        mem_report("sample apic: register 0x%03" PRIx64 " not modelled (write, cpu %u)",
                   offset, apic->cpu);
    }
    return MEM_DEVICE_ERROR;
}

static const MemRegionOps sample_apic_ops = {
    .read = sample_apic_read,
    .write = sample_apic_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
};

/* --- PCI BARs: constant, recognizable contents; writes are ignored. --- */

static MemResult sample_bar_read(void *opaque, uint64_t offset, uint64_t *value,
                                 unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    SampleBar *bar = opaque;

    *value = SAMPLE_BAR_VALUE(bar->index, offset);
    if (size < 8) {
        *value &= (1ull << (size * 8)) - 1;
    }
    return MEM_OK;
}

static MemResult sample_bar_write(G_GNUC_UNUSED void *opaque, G_GNUC_UNUSED uint64_t offset,
                                  G_GNUC_UNUSED uint64_t value, G_GNUC_UNUSED unsigned size,
                                  G_GNUC_UNUSED MemAttrs attrs)
{
    return MEM_OK;
}

static const MemRegionOps sample_bar_ops = {
    .read = sample_bar_read,
    .write = sample_bar_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
};

/* --- I/O APIC: index/data pair; ID and version only. --- */

static MemResult sample_ioapic_read(void *opaque, uint64_t offset, uint64_t *value,
                                    G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    SampleIoapic *io = opaque;

    switch (offset) {
    case 0x00:
        *value = io->regsel;
        return MEM_OK;
    case 0x10:
        *value = io->regsel == 1 ? 0x00170011u : 0;  /* version 0x11, 24 pins */
        return MEM_OK;
    default:
        *value = 0;
        return MEM_OK;
    }
}

static MemResult sample_ioapic_write(void *opaque, uint64_t offset, uint64_t value,
                                     G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    SampleIoapic *io = opaque;

    if (offset == 0x00) {
        io->regsel = (uint32_t)value & 0xff;
    }
    return MEM_OK;
}

static const MemRegionOps sample_ioapic_ops = {
    .read = sample_ioapic_read,
    .write = sample_ioapic_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
};

/* --- Construction. --- */

static void fill_pattern(uint8_t *dst, uint64_t len, const char *pattern)
{
    size_t plen = strlen(pattern);

    for (uint64_t i = 0; i < len; i++) {
        dst[i] = (uint8_t)pattern[i % plen];
    }
}

static bool build_global_map(SampleMachine *sm, GError **err)
{
    sm->system = mr_new_container("system", MEM_SIZE_FULL, err);
    if (!sm->system) {
        return false;
    }

    sm->pc_ram = mr_new_ram("pc.ram", SAMPLE_RAM_SIZE, err);
    if (!sm->pc_ram || !mr_add_subregion(sm->system, 0, sm->pc_ram, err)) {
        return false;
    }

    sm->vga = mr_new_ram("vga.lowmem", SAMPLE_VGA_SIZE, err);
    if (!sm->vga || !mr_add_subregion_overlap(sm->system, SAMPLE_VGA_BASE, sm->vga, 1, err)) {
        return false;
    }
    fill_pattern(mr_ram_ptr(sm->vga), SAMPLE_VGA_SIZE, "VGA");

    /* SMRAM is the RAM the VGA window hides; only SMM views show it. */
    sm->smram = mr_new_alias("smram", sm->pc_ram, SAMPLE_SMRAM_BASE, SAMPLE_SMRAM_SIZE, err);
    if (!sm->smram) {
        return false;
    }
    fill_pattern((uint8_t *)mr_ram_ptr(sm->pc_ram) + SAMPLE_SMRAM_BASE, SAMPLE_SMRAM_SIZE,
                 "SMRAM");

    sm->bios = mr_new_rom("pc.bios", SAMPLE_BIOS_SIZE, err);
    if (!sm->bios) {
        return false;
    }
    {
        static const char sig[] = "mmusim sample BIOS";
        /* jmp far f000:e05b at the reset vector, as a real BIOS has. */
        static const uint8_t reset[] = { 0xea, 0x5b, 0xe0, 0x00, 0xf0 };
        uint8_t *rom = mr_ram_ptr(sm->bios);

        memset(rom, 0xff, SAMPLE_BIOS_SIZE);
        memcpy(rom, sig, sizeof(sig));
        memcpy(rom + SAMPLE_BIOS_SIZE - 16, reset, sizeof(reset));
    }
    if (!mr_add_subregion(sm->system, SAMPLE_BIOS_BASE, sm->bios, err)) {
        return false;
    }
    sm->isa_bios = mr_new_alias("isa-bios", sm->bios, 0, SAMPLE_BIOS_SIZE, err);
    if (!sm->isa_bios ||
        !mr_add_subregion_overlap(sm->system, SAMPLE_ISA_BIOS_BASE, sm->isa_bios, 1, err)) {
        return false;
    }

    sm->ioapic = mr_new_mmio("ioapic", SAMPLE_MMIO_PAGE, &sample_ioapic_ops, &sm->ioapic_state,
                             err);
    if (!sm->ioapic || !mr_add_subregion(sm->system, SAMPLE_IOAPIC_BASE, sm->ioapic, err)) {
        return false;
    }

    /* The PCI hole sits below everything else in the global map. */
    sm->pci = mr_new_container("pci", SAMPLE_PCI_SIZE, err);
    if (!sm->pci || !mr_add_subregion_overlap(sm->system, SAMPLE_PCI_BASE, sm->pci, -1, err)) {
        return false;
    }
    static const uint64_t bar_base[2] = { SAMPLE_BAR0_BASE, SAMPLE_BAR1_BASE };
    for (unsigned i = 0; i < 2; i++) {
        char name[16];

        g_snprintf(name, sizeof(name), "pci.bar%u", i);
        sm->bar_state[i].index = i;
        sm->bar[i] = mr_new_mmio(name, SAMPLE_MMIO_PAGE, &sample_bar_ops, &sm->bar_state[i],
                                 err);
        if (!sm->bar[i] ||
            !mr_add_subregion(sm->pci, bar_base[i] - SAMPLE_PCI_BASE, sm->bar[i], err)) {
            return false;
        }
    }
    return true;
}

static bool build_cpus(SampleMachine *sm, GError **err)
{
    sm->apics = g_new0(SampleApic, sm->smp);
    sm->cpus = g_new0(CpuView *, sm->smp);

    for (unsigned i = 0; i < sm->smp; i++) {
        char name[32];
        MemRegion *apic;

        sm->apics[i].cpu = i;
        g_snprintf(name, sizeof(name), "apic.cpu%u", i);
        apic = mr_new_mmio(name, SAMPLE_MMIO_PAGE, &sample_apic_ops, &sm->apics[i], err);
        if (!apic) {
            return false;
        }
        CpuViewConfig cfg = {
            .cpu_index = i,
            .global_map = sm->system,
            .smram = sm->smram,
            .smram_addr = SAMPLE_SMRAM_BASE,
            .smram_size = 0,
            .apic = apic,  /* the view owns it from here on */
            .apic_base = SAMPLE_APIC_BASE,
        };
        sm->cpus[i] = cpu_view_new(&cfg, err);
        if (!sm->cpus[i]) {
            return false;
        }
    }
    return true;
}

static bool build_dma(SampleMachine *sm, GError **err)
{
    sm->dma_root = mr_new_container("dma-root", MEM_SIZE_FULL, err);
    if (!sm->dma_root) {
        return false;
    }
    sm->dma_system = mr_new_alias("dma-system", sm->system, 0, MEM_SIZE_FULL, err);
    if (!sm->dma_system || !mr_add_subregion(sm->dma_root, 0, sm->dma_system, err)) {
        return false;
    }
    sm->dma = as_new("dma", sm->dma_root, err);
    return sm->dma != NULL;
}

SampleMachine *sample_machine_new(unsigned smp, GError **err)
{
    SampleMachine *sm;
    bool ok;

    if (smp < 1 || smp > SAMPLE_MACHINE_MAX_SMP) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "sample machine: %u CPUs requested, must be between 1 and %u", smp,
                    SAMPLE_MACHINE_MAX_SMP);
        return NULL;
    }

    sm = g_new0(SampleMachine, 1);
    sm->smp = smp;

    /* One transaction: the global map renders once, each CPU adds overlays. */
    mem_transaction_begin();
    ok = build_global_map(sm, err) && build_cpus(sm, err) && build_dma(sm, err);
    mem_transaction_commit();

    if (!ok) {
        sample_machine_free(sm);
        return NULL;
    }
    return sm;
}

void sample_machine_free(SampleMachine *sm)
{
    if (!sm) {
        return;
    }
    if (sm->cpus) {
        for (unsigned i = 0; i < sm->smp; i++) {
            if (sm->cpus[i]) {
                cpu_view_free(sm->cpus[i]);
            }
        }
    }
    if (sm->dma) {
        as_free(sm->dma);
    }

    MemRegion **owned[] = {
        &sm->dma_system, &sm->dma_root, &sm->bar[0], &sm->bar[1], &sm->pci,
        &sm->ioapic, &sm->isa_bios, &sm->bios, &sm->smram, &sm->vga, &sm->pc_ram,
        &sm->system,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(owned); i++) {
        if (*owned[i]) {
            mr_unref(*owned[i]);
            *owned[i] = NULL;
        }
    }
    g_free(sm->cpus);
    g_free(sm->apics);
    g_free(sm);
}

unsigned sample_machine_smp(const SampleMachine *sm)
{
    return sm->smp;
}

CpuView *sample_machine_cpu(const SampleMachine *sm, unsigned i)
{
    return i < sm->smp ? sm->cpus[i] : NULL;
}

AddressSpace *sample_machine_dma(const SampleMachine *sm)
{
    return sm->dma;
}

MemRegion *sample_machine_system(const SampleMachine *sm)
{
    return sm->system;
}
