/*
 * A small x86-PC-like sample machine, for introspection (mtree, explain,
 * demo) and for tests of the per-CPU views. It has no CPUs that execute and
 * its devices are stubs: it exists to show how the memory core resolves
 * addresses, not to boot anything.
 *
 * Global map "system" (container, whole 64-bit space):
 *   pc.ram      RAM 128 MiB at 0                         prio 0
 *   vga.lowmem  RAM 0x20000 at 0xa0000, "VGA" pattern    prio 1 (over pc.ram)
 *   isa-bios    alias of pc.bios at 0xe0000              prio 1 (over pc.ram)
 *   ioapic      MMIO 0x1000 at 0xfec00000                prio 0
 *   pc.bios     ROM 128 KiB at 0xfffe0000                prio 0
 *   pci         container 0x40000000 at 0xc0000000       prio -1 (never hides the above)
 *     pci.bar0  MMIO 0x1000 at 0xfebf0000 (absolute)
 *     pci.bar1  MMIO 0x1000 at 0xfee00000 (absolute): where every CPU has its
 *               APIC. CPUs see their APIC there, DMA sees the BAR (L7771).
 *
 * SMRAM: "smram", an alias of pc.ram at offset 0xa0000, size 0x20000, whose
 * bytes hold an "SMRAM" pattern. Each CPU view shows it at 0xa0000 while that
 * CPU sees SMRAM.
 *
 * Per CPU i: a CpuView whose APIC page "apic.cpu<i>" (MMIO, 0x1000) answers
 * the ID register (offset 0x20: i << 24) and the version register (0x30:
 * 0x00050014); every other register, and every write, fails with
 * MEM_DEVICE_ERROR and is reported once through mem_report().
 *
 * Device accesses go through the "dma" address space: a root "dma-root" with
 * an alias "dma-system" of the whole global map, so it shares the global map's
 * rendering with the CPUs and never sees an APIC or SMRAM.
 */
#ifndef MMUSIM_SOFTMMU_SAMPLE_MACHINE_H
#define MMUSIM_SOFTMMU_SAMPLE_MACHINE_H

#include "softmmu/cpu_view.h"

#define SAMPLE_MACHINE_MAX_SMP 256u

#define SAMPLE_RAM_SIZE        (UINT64_C(128) << 20)
#define SAMPLE_VGA_BASE        UINT64_C(0xa0000)
#define SAMPLE_VGA_SIZE        UINT64_C(0x20000)
#define SAMPLE_SMRAM_BASE      UINT64_C(0xa0000)
#define SAMPLE_SMRAM_SIZE      UINT64_C(0x20000)
#define SAMPLE_ISA_BIOS_BASE   UINT64_C(0xe0000)
#define SAMPLE_BIOS_BASE       UINT64_C(0xfffe0000)
#define SAMPLE_BIOS_SIZE       UINT64_C(0x20000)
#define SAMPLE_PCI_BASE        UINT64_C(0xc0000000)
#define SAMPLE_PCI_SIZE        UINT64_C(0x40000000)
#define SAMPLE_BAR0_BASE       UINT64_C(0xfebf0000)
#define SAMPLE_BAR1_BASE       UINT64_C(0xfee00000)
#define SAMPLE_IOAPIC_BASE     UINT64_C(0xfec00000)
#define SAMPLE_APIC_BASE       UINT64_C(0xfee00000)
#define SAMPLE_MMIO_PAGE       UINT64_C(0x1000)

#define SAMPLE_APIC_REG_ID      0x20u
#define SAMPLE_APIC_REG_VERSION 0x30u
#define SAMPLE_APIC_VERSION     0x00050014u

/* What a 4-byte read of pci.bar<n> at `offset` returns (so DMA and CPUs
 * can tell a BAR from an APIC). */
#define SAMPLE_BAR_VALUE(n, offset) (0xba000000u | ((uint32_t)(n) << 16) | ((uint32_t)(offset) & 0xffffu))

typedef struct SampleMachine SampleMachine;

/* smp: 1..SAMPLE_MACHINE_MAX_SMP, else NULL with a MEM_ERROR_INVALID_ARGUMENT error. */
SampleMachine *sample_machine_new(unsigned smp, GError **err);
void sample_machine_free(SampleMachine *sm);

unsigned sample_machine_smp(const SampleMachine *sm);
/* NULL if i >= smp. */
CpuView *sample_machine_cpu(const SampleMachine *sm, unsigned i);
AddressSpace *sample_machine_dma(const SampleMachine *sm);
/* The global map shared by every CPU and by DMA. */
MemRegion *sample_machine_system(const SampleMachine *sm);

#endif
