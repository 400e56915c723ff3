/*
 * The PCI host (devices/pci.h), its functions (devices/pci_devices.h) and
 * bus-master address spaces.
 *
 * The world: "system" (the global machine map: 1 MiB RAM at 0, a marker
 * RAM page at HIGH_RAM) and a CPU view of it with an APIC-like page and an
 * SMRAM overlay (cpu_view.h), so the tests can show that DMA never sees a
 * CPU's private regions. The host's PCI memory space is shown to CPUs by a
 * window at WIN_CPU (bus address WIN_BUS: a bridge that translates), and
 * bus masters reach system memory below the BARs at priority 0.
 */
#include "tests/test_util.h"

#include "devices/iommu_ref.h"
#include "devices/pci_devices.h"
#include "softmmu/cpu_view.h"
#include "softmmu/dma.h"

#define RAM_SIZE 0x100000ull
#define HIGH_RAM 0xfee00000ull     /* where the CPU's APIC page also is */
#define WIN_CPU 0x40000000ull      /* CPU side of the host window */
#define WIN_BUS 0x80000000ull      /* ... and its bus side */
#define WIN_SIZE 0x10000000ull
#define BAR_A 0x80000000ull        /* bus addresses the tests program */
#define BAR_B 0x80100000ull
#define DEV_DMA 4u
#define DEV_TD 5u

typedef struct World {
    MemRegion *system, *ram, *high, *apic, *smram;
    AddressSpace *sys;
    CpuView *cpu;
    PciHost *host;
    PciDma *dma;
    PciTestdev *td;
    unsigned intx_calls;
    bool intx[PCI_MAX_DEVICES];
} World;

static World W;

static void h_intx(void *opaque, unsigned dev, unsigned pin, bool level)
{
    ck_assert_ptr_eq(opaque, &W);
    ck_assert_uint_lt(dev, PCI_MAX_DEVICES);
    ck_assert_uint_eq(pin, 0);
    W.intx[dev] = level;
    W.intx_calls++;
}

static void build(bool with_iommu_slot)
{
    (void)with_iommu_slot;
    GError *err = NULL;
    memset(&W, 0, sizeof(W));
    W.system = tu_container("system", MEM_SIZE_FULL);
    W.ram = tu_ram_pattern("ram", RAM_SIZE, 1);
    tu_add_keep(W.system, 0, W.ram, 0);
    W.high = tu_ram("high", 0x1000, 0x5a);
    tu_add_keep(W.system, HIGH_RAM, W.high, 0);
    W.sys = tu_as("sys", W.system);
    W.apic = tu_ram("apic", 0x1000, 0xaa);
    W.smram = tu_ram("smram", 0x20000, 0xcc);
    CpuViewConfig vc = {
        .cpu_index = 0, .global_map = W.system,
        .smram = W.smram, .smram_addr = 0xa0000,
        .apic = W.apic, .apic_base = HIGH_RAM,
    };
    mr_ref(W.apic);
    W.cpu = cpu_view_new(&vc, &err);
    TU_ASSERT_NO_ERROR(err);
    cpu_view_set_smram_visible(W.cpu, true);
    cpu_view_set_apic_enabled(W.cpu, true);

    PciHostConfig hc = {
        .name = "pci", .mem_size = 0x100000000ull, .upstream = W.system,
        .set_intx = h_intx, .opaque = &W,
    };
    W.host = pci_host_new(&hc, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(pci_host_add_window(W.host, W.system, WIN_CPU, WIN_BUS, WIN_SIZE, -1,
                                              &err));
    TU_ASSERT_NO_ERROR(err);
}

static void add_devices(void)
{
    GError *err = NULL;
    W.dma = pci_dma_new(W.host, DEV_DMA, &err);
    TU_ASSERT_NO_ERROR(err);
    W.td = pci_testdev_new(W.host, DEV_TD, &err);
    TU_ASSERT_NO_ERROR(err);
}

static void setup(void)
{
    tu_setup();
    build(false);
    add_devices();
}

static void teardown(void)
{
    pci_host_free(W.host);
    pci_dma_free(W.dma);
    pci_testdev_free(W.td);
    cpu_view_free(W.cpu);
    as_free(W.sys);
    mr_unref(W.system);
    mr_unref(W.ram);
    mr_unref(W.high);
    mr_unref(W.apic);
    mr_unref(W.smram);
    tu_teardown();
}

static uint32_t cfg_rd(unsigned dev, unsigned off, unsigned size)
{
    return pci_config_read(W.host, 0, dev, 0, off, size);
}

static void cfg_wr(unsigned dev, unsigned off, unsigned size, uint32_t v)
{
    pci_config_write(W.host, 0, dev, 0, off, size, v);
}

/* Program BAR n (32-bit) and enable memory decoding and bus mastering. */
static void enable(unsigned dev, unsigned n, uint32_t addr)
{
    cfg_wr(dev, PCI_BAR0 + 4 * n, 4, addr);
    cfg_wr(dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* A CPU address for bus address `bus` through the host window. */
static uint64_t cpu_addr(uint64_t bus)
{
    return bus - WIN_BUS + WIN_CPU;
}

/* --- Configuration space --- */

START_TEST(config_ids_and_absent_functions)
{
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_VENDOR_ID, 2), MMUSIM_PCI_VENDOR);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_DEVICE_ID, 2), PCI_DMA_DEVICE_ID);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, 0, 4), (PCI_DMA_DEVICE_ID << 16) | MMUSIM_PCI_VENDOR);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, 0x08, 4) >> 8, 0x088000);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_INTERRUPT_PIN, 1), 1);
    ck_assert_uint_eq(cfg_rd(DEV_TD, PCI_DEVICE_ID, 2), PCI_TESTDEV_DEVICE_ID);
    /* Absent: all-ones at every size; writes dropped without effect. */
    ck_assert_uint_eq(cfg_rd(9, 0, 4), 0xffffffffu);
    ck_assert_uint_eq(cfg_rd(9, 0, 2), 0xffff);
    ck_assert_uint_eq(cfg_rd(9, 0, 1), 0xff);
    ck_assert_uint_eq(pci_config_read(W.host, 1, DEV_DMA, 0, 0, 4), 0xffffffffu);
    ck_assert_uint_eq(pci_config_read(W.host, 0, DEV_DMA, 1, 0, 4), 0xffffffffu);
    cfg_wr(9, PCI_COMMAND, 2, 0xffff);
    /* Malformed accesses from a guest-controlled mechanism: refused cleanly. */
    ck_assert_uint_eq(cfg_rd(DEV_DMA, 255, 4), 0xffffffffu);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, 1, 2), 0xffff);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, 300, 1), 0xff);
    /* Read-only registers ignore writes; COMMAND keeps only its modelled bits. */
    cfg_wr(DEV_DMA, PCI_VENDOR_ID, 4, 0);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_VENDOR_ID, 2), MMUSIM_PCI_VENDOR);
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, 0xffff);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_COMMAND, 2),
                      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                          PCI_COMMAND_INTX_DISABLE);
    cfg_wr(DEV_DMA, PCI_INTERRUPT_LINE, 1, 11);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_INTERRUPT_LINE, 1), 11);
}
END_TEST

START_TEST(config_bar_sizing)
{
    /* 32-bit BAR of 4 KiB: all-ones reads back the size mask. */
    cfg_wr(DEV_DMA, PCI_BAR0, 4, 0xffffffffu);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_BAR0, 4), 0xfffff000u);
    /* 64 KiB container BAR and the 64-bit prefetchable 128 KiB one. */
    cfg_wr(DEV_TD, PCI_BAR0, 4, 0xffffffffu);
    ck_assert_uint_eq(cfg_rd(DEV_TD, PCI_BAR0, 4), 0xffff0000u);
    cfg_wr(DEV_TD, PCI_BAR0 + 8, 4, 0xffffffffu);
    cfg_wr(DEV_TD, PCI_BAR0 + 12, 4, 0xffffffffu);
    ck_assert_uint_eq(cfg_rd(DEV_TD, PCI_BAR0 + 8, 4), 0xfffe0000u | PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    ck_assert_uint_eq(cfg_rd(DEV_TD, PCI_BAR0 + 12, 4), 0xffffffffu);
    /* Unimplemented BARs read 0 whatever is written. */
    cfg_wr(DEV_TD, PCI_BAR0 + 4, 4, 0xffffffffu);
    ck_assert_uint_eq(cfg_rd(DEV_TD, PCI_BAR0 + 4, 4), 0);
    /* The sizing pattern is not decoded even with MEM on. */
    cfg_wr(DEV_DMA, PCI_BAR0, 4, 0xffffffffu);
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ck_assert_uint_eq(pci_device_bar_addr(pci_dma_device(W.dma), 0), UINT64_MAX);
    /* Address 0 is "not programmed". */
    cfg_wr(DEV_DMA, PCI_BAR0, 4, 0);
    ck_assert_uint_eq(pci_device_bar_addr(pci_dma_device(W.dma), 0), UINT64_MAX);
}
END_TEST

START_TEST(bad_device_parameters_are_refused)
{
    GError *err = NULL;
    PciDeviceInfo info = { .name = "bad" };
    ck_assert_ptr_null(pci_host_add_device(W.host, 0, &info, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    g_clear_error(&err);
    ck_assert_ptr_null(pci_host_add_device(W.host, DEV_DMA, &info, &err));   /* taken */
    g_clear_error(&err);
    MemRegion *odd = tu_ram("odd", 0x3000, 0);
    info.bars[0] = (PciBarInfo){ .mr = odd, .kind = PCI_BAR_MEM32 };
    ck_assert_ptr_null(pci_host_add_device(W.host, 9, &info, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert(strstr(err->message, "BAR 0") != NULL);
    g_clear_error(&err);
    mr_unref(odd);
    ck_assert_ptr_null(pci_host_ecam(W.host, 0, &err));
    g_clear_error(&err);
}
END_TEST

START_TEST(ecam_reaches_config_space)
{
    GError *err = NULL;
    MemRegion *ecam = pci_host_ecam(W.host, 1, &err);
    TU_ASSERT_NO_ERROR(err);
    tu_add_keep(W.system, 0x30000000, ecam, 0);
    uint64_t base = 0x30000000 + ((uint64_t)DEV_DMA << 15);
    ck_assert_uint_eq(tu_rd(W.sys, base, 4), (PCI_DMA_DEVICE_ID << 16) | MMUSIM_PCI_VENDOR);
    ck_assert_uint_eq(tu_rd(W.sys, base + 2, 2), PCI_DMA_DEVICE_ID);
    tu_wr(W.sys, base + PCI_BAR0, 4, BAR_A);
    tu_wr(W.sys, base + PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ck_assert_uint_eq(pci_device_bar_addr(pci_dma_device(W.dma), 0), BAR_A);
    ck_assert_uint_eq(tu_rd(W.sys, 0x30000000 + (9u << 15), 4), 0xffffffffu);
    tu_del(W.system, ecam);
}
END_TEST

/* --- BARs in the memory space --- */

START_TEST(bar_enable_move_disable)
{
    AddressSpace *cpu = cpu_view_as(W.cpu);
    uint8_t *vram = mr_ram_ptr(pci_testdev_vram(W.td));
    vram[0x10] = 0x77;
    /* Not decoded yet: the window shows an unassigned hole. */
    uint64_t v;
    ck_assert_int_eq(as_read_val(cpu, cpu_addr(BAR_A) + 0x10, mem_attrs_cpu(0), 1,
                                 MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    enable(DEV_TD, 0, BAR_A);
    ck_assert_uint_eq(pci_device_bar_addr(pci_testdev_device(W.td), 0), BAR_A);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_A) + 0x10, 1), 0x77);
    /* The register page inside the BAR container. */
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_A) + PCI_TESTDEV_REGS, 4), 0x6d6d0002u);
    /* Bank switching re-points the RAM window inside the BAR. */
    vram[PCI_TESTDEV_WINDOW_SIZE * 2 + 0x10] = 0x22;
    tu_wr(cpu, cpu_addr(BAR_A) + PCI_TESTDEV_REGS + PCI_TESTDEV_BANK, 4, 2);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_A) + 0x10, 1), 0x22);
    /* Move. */
    cfg_wr(DEV_TD, PCI_BAR0, 4, (uint32_t)(BAR_A + 0x200000));
    ck_assert_int_eq(as_read_val(cpu, cpu_addr(BAR_A) + 0x10, mem_attrs_cpu(0), 1,
                                 MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_A + 0x200000) + 0x10, 1), 0x22);
    /* Memory decoding off: gone; on again: back at the programmed address. */
    cfg_wr(DEV_TD, PCI_COMMAND, 2, 0);
    ck_assert_uint_eq(pci_device_bar_addr(pci_testdev_device(W.td), 0), UINT64_MAX);
    ck_assert_int_eq(as_read_val(cpu, cpu_addr(BAR_A + 0x200000) + 0x10, mem_attrs_cpu(0), 1,
                                 MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    cfg_wr(DEV_TD, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_A + 0x200000) + 0x10, 1), 0x22);
}
END_TEST

START_TEST(bar_64bit_above_4g_window)
{
    /* A 64-bit BAR programmed above the 4 GiB PCI space is refused (not
     * decoded), below it it works, high dword included. */
    cfg_wr(DEV_TD, PCI_BAR0 + 8, 4, 0);
    cfg_wr(DEV_TD, PCI_BAR0 + 12, 4, 1);
    cfg_wr(DEV_TD, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    ck_assert_uint_eq(pci_device_bar_addr(pci_testdev_device(W.td), 2), UINT64_MAX);
    cfg_wr(DEV_TD, PCI_BAR0 + 12, 4, 0);
    cfg_wr(DEV_TD, PCI_BAR0 + 8, 4, (uint32_t)BAR_B);
    ck_assert_uint_eq(pci_device_bar_addr(pci_testdev_device(W.td), 2), BAR_B);
    ((uint8_t *)mr_ram_ptr(pci_testdev_vram(W.td)))[0x1ffff] = 0x99;
    ck_assert_uint_eq(tu_rd(cpu_view_as(W.cpu), cpu_addr(BAR_B) + 0x1ffff, 1), 0x99);
}
END_TEST

START_TEST(bar_over_bar_and_back_restores)
{
    AddressSpace *cpu = cpu_view_as(W.cpu);
    enable(DEV_DMA, 0, (uint32_t)BAR_B);
    enable(DEV_TD, 0, (uint32_t)BAR_A);
    ((uint8_t *)mr_ram_ptr(pci_testdev_vram(W.td)))[0] = 0x11;
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_B) + DMA_ENGINE_LEN, 4), 0);
    tu_wr(cpu, cpu_addr(BAR_B) + DMA_ENGINE_LEN, 4, 0x1234);
    /* The testdev's BAR moved over the engine's: the newest placement wins. */
    cfg_wr(DEV_TD, PCI_BAR0, 4, (uint32_t)BAR_B);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_B), 1), 0x11);
    /* Meanwhile the hidden engine's register changes (through the API). */
    MemRegion *regs = dma_engine_regs(pci_dma_engine(W.dma));
    uint64_t len = 0;
    ck_assert_int_eq(mr_ops(regs)->write(mr_opaque(regs), DMA_ENGINE_LEN, 0x4321, 4,
                                         mem_attrs_cpu(0)), MEM_OK);
    (void)len;
    /* Moving it back away restores the engine, with the change. */
    cfg_wr(DEV_TD, PCI_BAR0, 4, (uint32_t)BAR_A);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_B) + DMA_ENGINE_LEN, 4), 0x4321);
    ck_assert_uint_eq(tu_rd(cpu, cpu_addr(BAR_A), 1), 0x11);
}
END_TEST

/* Gleb's example (memory-semantics.md §2) with a real PCI memory space:
 * the host's space shown at 0 over RAM 0-0x1ffff. */
START_TEST(bar_overlapping_ram_follows_priorities)
{
    GError *err = NULL;
    for (int pci_prio = 1; pci_prio >= -1; pci_prio -= 2) {
        MemRegion *sysc = tu_container("gleb", 0x100000000ull);
        MemRegion *ram = tu_ram("gleb.ram", 0x20000, 0x33);
        tu_add_keep(sysc, 0, ram, 0);
        PciHostConfig hc = { .name = "gleb-pci", .mem_size = 0x100000, .upstream = sysc };
        PciHost *h = pci_host_new(&hc, &err);
        TU_ASSERT_NO_ERROR(err);
        ck_assert_ptr_nonnull(pci_host_add_window(h, sysc, 0, 0, 0x30000, pci_prio, &err));
        PciTestdev *a = pci_testdev_new(h, 1, &err);
        PciDma *b = pci_dma_new(h, 2, &err);
        TU_ASSERT_NO_ERROR(err);
        pci_config_write(h, 0, 1, 0, PCI_BAR0, 4, 0x10000);     /* 64 KiB: 0x10000-0x1ffff */
        pci_config_write(h, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        pci_config_write(h, 0, 2, 0, PCI_BAR0, 4, 0x20000);     /* 0x20000-0x20fff */
        pci_config_write(h, 0, 2, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
        ((uint8_t *)mr_ram_ptr(pci_testdev_vram(a)))[0] = 0x44;
        AddressSpace *as = tu_as("gleb", sysc);
        ck_assert_uint_eq(tu_rd(as, 0x0, 1), 0x33);                 /* RAM either way */
        ck_assert_uint_eq(tu_rd(as, 0x10000, 1), pci_prio > 0 ? 0x44 : 0x33);
        ck_assert_uint_eq(tu_rd(as, 0x20000 + DMA_ENGINE_LEN, 4), 0);   /* BAR B, above RAM */
        as_free(as);
        pci_host_free(h);
        pci_testdev_free(a);
        pci_dma_free(b);
        mr_unref(ram);
        mr_unref(sysc);
    }
}
END_TEST

/* --- Bus masters --- */

START_TEST(dma_sees_bus_view_not_cpu_private_regions)
{
    AddressSpace *dev = pci_device_dma_as(pci_dma_device(W.dma));
    uint64_t v = 0;
    /* Bus mastering off: the master cannot start cycles. */
    ck_assert_int_eq(dma_read_val(dev, 0x10, 1, MEM_LITTLE_ENDIAN, mem_attrs_device(32), &v),
                     MEM_DECODE_ERROR);
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    ck_assert_int_eq(dma_read_val(dev, 0x10, 1, MEM_LITTLE_ENDIAN, mem_attrs_device(32), &v),
                     MEM_OK);
    ck_assert_uint_eq(v, tu_pattern_byte(0x10, 1));
    /* The CPU sees its APIC page at HIGH_RAM, the device the system's RAM. */
    ck_assert_uint_eq(tu_rd(cpu_view_as(W.cpu), HIGH_RAM, 1), 0xaa);
    ck_assert_int_eq(dma_read_val(dev, HIGH_RAM, 1, MEM_LITTLE_ENDIAN, mem_attrs_device(32), &v),
                     MEM_OK);
    ck_assert_uint_eq(v, 0x5a);
    /* SMRAM: the CPU sees it at 0xa0000, the device sees plain RAM. */
    ck_assert_uint_eq(tu_rd(cpu_view_as(W.cpu), 0xa0000, 1), 0xcc);
    ck_assert_int_eq(dma_read_val(dev, 0xa0000, 1, MEM_LITTLE_ENDIAN, mem_attrs_device(32), &v),
                     MEM_OK);
    ck_assert_uint_eq(v, tu_pattern_byte(0xa0000, 1));
}
END_TEST

START_TEST(bridge_window_and_inbound_offset_translate)
{
    GError *err = NULL;
    /* Outbound: CPU WIN_CPU + x is bus WIN_BUS + x. */
    enable(DEV_TD, 0, (uint32_t)(WIN_BUS + 0x30000));
    ((uint8_t *)mr_ram_ptr(pci_testdev_vram(W.td)))[5] = 0x5e;
    ck_assert_uint_eq(tu_rd(W.sys, WIN_CPU + 0x30005, 1), 0x5e);
    /* Inbound: a host whose bus address X reaches system X + 0x80000. */
    MemRegion *sysc = tu_container("in", MEM_SIZE_FULL);
    MemRegion *ram = tu_ram_pattern("in.ram", 0x100000, 9);
    tu_add_keep(sysc, 0, ram, 0);
    PciHostConfig hc = { .name = "in-pci", .mem_size = 0x100000000ull, .upstream = sysc,
                         .inbound_offset = 0x80000 };
    PciHost *h = pci_host_new(&hc, &err);
    TU_ASSERT_NO_ERROR(err);
    PciDma *d = pci_dma_new(h, 1, &err);
    TU_ASSERT_NO_ERROR(err);
    pci_config_write(h, 0, 1, 0, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    uint64_t v = 0;
    ck_assert_int_eq(dma_read_val(pci_device_dma_as(pci_dma_device(d)), 0x100, 1,
                                  MEM_LITTLE_ENDIAN, mem_attrs_device(8), &v), MEM_OK);
    ck_assert_uint_eq(v, tu_pattern_byte(0x80100, 9));
    pci_host_free(h);
    pci_dma_free(d);
    mr_unref(ram);
    mr_unref(sysc);
}
END_TEST

START_TEST(peer_to_peer_dma_reaches_the_bar)
{
    AddressSpace *dev = pci_device_dma_as(pci_dma_device(W.dma));
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    /* A BAR placed at bus address 0x40000 hides the RAM there for masters
     * (the CPU's window is elsewhere; only the bus sees it at 0x40000). */
    enable(DEV_TD, 0, 0x40000);
    uint8_t buf[4] = { 1, 2, 3, 4 };
    ck_assert_int_eq(dma_write(dev, 0x40000, buf, 4, mem_attrs_device(32)), MEM_OK);
    ck_assert_int_eq(memcmp(mr_ram_ptr(pci_testdev_vram(W.td)), buf, 4), 0);
    ck_assert_uint_eq(((uint8_t *)mr_ram_ptr(W.ram))[0x40000], tu_pattern_byte(0x40000, 1));
}
END_TEST

typedef struct Revoke {
    unsigned calls;
} Revoke;

static void on_revoke(DmaMapping *m, void *opaque)
{
    (void)m;
    ((Revoke *)opaque)->calls++;
}

START_TEST(bar_move_during_mapped_dma_revokes)
{
    AddressSpace *dev = pci_device_dma_as(pci_dma_device(W.dma));
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    enable(DEV_TD, 2 /* 64-bit LFB */, (uint32_t)BAR_B);
    cfg_wr(DEV_TD, PCI_BAR0 + 12, 4, 0);
    Revoke r = { 0 };
    DmaMapping *m = NULL;
    uint64_t len = 0x1000;
    uint8_t *p = dma_map(dev, BAR_B + 0x2000, &len, true, mem_attrs_device(32), on_revoke, &r, &m);
    ck_assert_ptr_nonnull(p);
    ck_assert(dma_mapping_is_direct(m));
    ck_assert_ptr_eq(p, (uint8_t *)mr_ram_ptr(pci_testdev_vram(W.td)) + 0x2000);
    /* Unrelated changes (the other function's BAR) revoke nothing. */
    enable(DEV_DMA, 0, (uint32_t)BAR_A);
    ck_assert_uint_eq(r.calls, 0);
    /* The guest moves the BAR away: the mapping no longer reflects the map. */
    cfg_wr(DEV_TD, PCI_BAR0 + 8, 4, (uint32_t)(BAR_B + 0x100000));
    ck_assert_uint_eq(r.calls, 1);
    ck_assert(dma_mapping_revoked(m));
    p[0] = 0xab;   /* still valid memory: the region is referenced until unmap */
    ck_assert_int_eq(dma_unmap(m, 1), MEM_OK);
    /* Bank switching (an alias offset change) under a BAR0 mapping, too. */
    enable(DEV_TD, 0, (uint32_t)(BAR_A + 0x100000));
    Revoke r2 = { 0 };
    len = 0x100;
    p = dma_map(dev, BAR_A + 0x100000, &len, false, mem_attrs_device(32), on_revoke, &r2, &m);
    ck_assert_ptr_nonnull(p);
    tu_wr(cpu_view_as(W.cpu), cpu_addr(BAR_A + 0x100000) + PCI_TESTDEV_REGS + PCI_TESTDEV_BANK,
          4, 1);
    ck_assert_uint_eq(r2.calls, 1);
    dma_unmap(m, 0);
}
END_TEST

START_TEST(dma_engine_copies_and_interrupts_through_pci)
{
    AddressSpace *cpu = cpu_view_as(W.cpu);
    uint8_t *ram = mr_ram_ptr(W.ram);
    enable(DEV_DMA, 0, (uint32_t)BAR_A);
    uint64_t regs = cpu_addr(BAR_A);
    tu_wr(cpu, regs + DMA_ENGINE_SRC_LO, 4, 0x1000);
    tu_wr(cpu, regs + DMA_ENGINE_DST_LO, 4, 0x9000);
    tu_wr(cpu, regs + DMA_ENGINE_LEN, 4, 0x2345);
    tu_wr(cpu, regs + DMA_ENGINE_CTRL, 4, DMA_ENGINE_CTRL_GO | DMA_ENGINE_CTRL_IRQ_EN);
    ck_assert_uint_eq(tu_rd(cpu, regs + DMA_ENGINE_STATUS, 4), DMA_ENGINE_STATUS_DONE);
    ck_assert_int_eq(memcmp(ram + 0x9000, ram + 0x1000, 0x2345), 0);
    ck_assert(W.intx[DEV_DMA]);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    /* INTx disable masks the pin but STATUS still shows it. */
    cfg_wr(DEV_DMA, PCI_COMMAND, 2,
           PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    ck_assert(!W.intx[DEV_DMA]);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    tu_wr(cpu, regs + DMA_ENGINE_STATUS, 4, DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(cfg_rd(DEV_DMA, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
    /* Without bus mastering the copy fails: the device reports it. */
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    tu_wr(cpu, regs + DMA_ENGINE_CTRL, 4, DMA_ENGINE_CTRL_GO);
    uint32_t st = (uint32_t)tu_rd(cpu, regs + DMA_ENGINE_STATUS, 4);
    ck_assert_uint_eq(st & (DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR),
                      DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq((st & DMA_ENGINE_STATUS_CODE_MASK) >> DMA_ENGINE_STATUS_CODE_SHIFT,
                      MEM_DECODE_ERROR);
}
END_TEST

/* The whole chain: a bus master behind the reference IOMMU. */
START_TEST(iommu_translates_every_bus_master)
{
    GError *err = NULL;
    /* Rebuild with an IOMMU before the devices. */
    pci_host_free(W.host);
    pci_dma_free(W.dma);
    pci_testdev_free(W.td);
    PciHostConfig hc = { .name = "pci", .mem_size = 0x100000000ull, .upstream = W.system,
                         .set_intx = h_intx, .opaque = &W };
    W.host = pci_host_new(&hc, &err);
    TU_ASSERT_NO_ERROR(err);
    IommuRef *iommu = iommu_ref_new(W.sys, pci_host_bus_as(W.host), &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert(pci_host_set_iommu(W.host, iommu_ref_region(iommu), &err));
    add_devices();
    ck_assert(!pci_host_set_iommu(W.host, NULL, &err));   /* too late: devices exist */
    g_clear_error(&err);
    tu_add_keep(W.system, 0x20000000, iommu_ref_regs(iommu), 0);

    /* Tables in RAM: IOVA 0x400000 -> 0x3000 (rw), 0x401000 -> 0x5000 (ro). */
    uint8_t *ram = mr_ram_ptr(W.ram);
    uint32_t root_e = 0x81000 | 1, l0 = 0x3000 | 7, l1 = 0x5000 | 3;
    memcpy(ram + 0x80000 + 4 * 1, &root_e, 4);
    memcpy(ram + 0x81000 + 0, &l0, 4);
    memcpy(ram + 0x81000 + 4, &l1, 4);
    tu_wr(W.sys, 0x20000000 + IOMMU_REF_ROOT_LO, 4, 0x80000);
    tu_wr(W.sys, 0x20000000 + IOMMU_REF_ENABLE, 4, 1);

    AddressSpace *dev = pci_device_dma_as(pci_dma_device(W.dma));
    cfg_wr(DEV_DMA, PCI_COMMAND, 2, PCI_COMMAND_MASTER);
    uint64_t v = 0;
    ck_assert_int_eq(dma_read_val(dev, 0x400010, 1, MEM_LITTLE_ENDIAN,
                                  mem_attrs_device(DEV_DMA << 3), &v), MEM_OK);
    ck_assert_uint_eq(v, tu_pattern_byte(0x3010, 1));
    /* Write to the read-only page: denied, logged with the requester ID. */
    ck_assert_int_eq(dma_write_val(dev, 0x401008, 4, MEM_LITTLE_ENDIAN,
                                   mem_attrs_device(DEV_DMA << 3), 1), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(tu_rd(W.sys, 0x20000000 + IOMMU_REF_FAULT_STATUS, 4) & 7, 7);
    ck_assert_uint_eq(tu_rd(W.sys, 0x20000000 + IOMMU_REF_FAULT_ADDR_LO, 4), 0x401008);
    ck_assert_uint_eq(tu_rd(W.sys, 0x20000000 + IOMMU_REF_FAULT_REQUESTER, 4), DEV_DMA << 3);
    /* Through the IOMMU, a translated address may land in a BAR (peer). */
    enable(DEV_TD, 0, 0x40000);
    uint32_t l2 = 0x40000 | 7;
    memcpy(ram + 0x81000 + 8, &l2, 4);
    ((uint8_t *)mr_ram_ptr(pci_testdev_vram(W.td)))[4] = 0x3c;
    ck_assert_int_eq(dma_read_val(dev, 0x402004, 1, MEM_LITTLE_ENDIAN,
                                  mem_attrs_device(DEV_DMA << 3), &v), MEM_OK);
    ck_assert_uint_eq(v, 0x3c);
    tu_del(W.system, iommu_ref_regs(iommu));
    pci_host_free(W.host);
    W.host = NULL;
    iommu_ref_free(iommu);
    /* teardown frees the rest (pci_host_free(NULL) is a no-op). */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("pci");
    TCase *tc = tcase_create("pci");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, config_ids_and_absent_functions);
    tcase_add_test(tc, config_bar_sizing);
    tcase_add_test(tc, bad_device_parameters_are_refused);
    tcase_add_test(tc, ecam_reaches_config_space);
    tcase_add_test(tc, bar_enable_move_disable);
    tcase_add_test(tc, bar_64bit_above_4g_window);
    tcase_add_test(tc, bar_over_bar_and_back_restores);
    tcase_add_test(tc, bar_overlapping_ram_follows_priorities);
    tcase_add_test(tc, dma_sees_bus_view_not_cpu_private_regions);
    tcase_add_test(tc, bridge_window_and_inbound_offset_translate);
    tcase_add_test(tc, peer_to_peer_dma_reaches_the_bar);
    tcase_add_test(tc, bar_move_during_mapped_dma_revokes);
    tcase_add_test(tc, dma_engine_copies_and_interrupts_through_pci);
    tcase_add_test(tc, iommu_translates_every_bus_master);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
