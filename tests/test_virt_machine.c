/*
 * The virt machine through its API (machines/virt.h): the per-CPU banked
 * GICv2 CPU interface, the PCI DMA engine behind the IOMMU reached through
 * ECAM, INTx to the GIC, PSCI from a CPU's point of view, and the device
 * tree address in x0. Guest-level runs are in test_guest_arm.c.
 */
#include <check.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>

#include "devices/dma_engine.h"
#include "devices/iommu_ref.h"
#include "devices/pci.h"
#include "machines/virt.h"
#include "softmmu/region.h"

static char *tmpdir;
static char *image;

/* A raw image: `wfi; b .-4` at 0x40080000 (a raw binary loads there). */
static void write_image(void)
{
    static const uint32_t words[] = { 0xd503207f, 0x17ffffff };
    GError *err = NULL;
    /* Outside any test: failures here abort the program with the reason. */
    tmpdir = g_dir_make_tmp("mmusim-virt-XXXXXX", &err);
    if (!tmpdir) {
        g_error("cannot make a temporary directory: %s", err->message);
    }
    image = g_build_filename(tmpdir, "wfi.bin", NULL);
    if (!g_file_set_contents(image, (const char *)words, sizeof(words), &err)) {
        g_error("cannot write %s: %s", image, err->message);
    }
}

static void remove_image(void)
{
    g_unlink(image);
    g_rmdir(tmpdir);
    g_free(image);
    g_free(tmpdir);
}

static VirtMachine *make(unsigned smp, unsigned gic)
{
    GError *err = NULL;
    VirtConfig c = { .smp = smp, .kernel = image, .gic_version = gic,
                     .serial = VIRT_SERIAL_NONE };
    VirtMachine *vm = virt_machine_new(&c, &err);
    ck_assert_msg(vm != NULL, "virt_machine_new: %s", err ? err->message : "?");
    return vm;
}

static AddressSpace *cpu_as(VirtMachine *vm, unsigned i)
{
    return virt_machine_cpu(vm, i)->mem_as;
}

static uint64_t rd(AddressSpace *as, unsigned cpu, uint64_t addr, unsigned size)
{
    uint64_t v = 0;
    MemResult r = as_read_val(as, addr, mem_attrs_cpu(cpu), size, MEM_LITTLE_ENDIAN, &v);
    ck_assert_msg(r == MEM_OK, "read at 0x%" PRIx64 ": %s", addr, mem_result_name(r));
    return v;
}

static void wr(AddressSpace *as, unsigned cpu, uint64_t addr, unsigned size, uint64_t v)
{
    MemResult r = as_write_val(as, addr, mem_attrs_cpu(cpu), size, MEM_LITTLE_ENDIAN, v);
    ck_assert_msg(r == MEM_OK, "write at 0x%" PRIx64 ": %s", addr, mem_result_name(r));
}

START_TEST(boot_state)
{
    VirtMachine *vm = make(4, 2);
    ArmCpu *c0 = virt_machine_cpu(vm, 0);
    ck_assert_uint_eq(c0->pc, VIRT_RAM_BASE + 0x80000);
    ck_assert_uint_eq(c0->el, 1);
    ck_assert_uint_eq(c0->x[0], virt_machine_dtb_addr(vm));
    ck_assert(!c0->powered_off);
    for (unsigned i = 1; i < 4; i++) {
        ck_assert(virt_machine_cpu(vm, i)->powered_off);
        ck_assert_uint_eq(virt_machine_cpu(vm, i)->mpidr_el1 & 0xffffff, i);
    }
    /* The DTB is in RAM, big-endian magic 0xd00dfeed. */
    ck_assert_uint_eq(rd(cpu_as(vm, 0), 0, virt_machine_dtb_addr(vm), 4), 0xedfe0dd0u);
    virt_machine_free(vm);
}
END_TEST

/* GICv2: one address, a different CPU interface per CPU. */
START_TEST(gicc_banked_per_cpu)
{
    VirtMachine *vm = make(4, 2);
    for (unsigned i = 0; i < 4; i++) {
        wr(cpu_as(vm, i), i, VIRT_GICC_BASE + 0x4 /* GICC_PMR */, 4, 0x10 * (i + 1));
    }
    for (unsigned i = 0; i < 4; i++) {
        ck_assert_uint_eq(rd(cpu_as(vm, i), i, VIRT_GICC_BASE + 0x4, 4), 0x10 * (i + 1));
    }
    /* Banked distributor register: each CPU's SGI/PPI enables. */
    wr(cpu_as(vm, 1), 1, VIRT_GICD_BASE + 0x100, 4, 1u << 27);
    ck_assert_uint_eq(rd(cpu_as(vm, 1), 1, VIRT_GICD_BASE + 0x100, 4) & (1u << 27), 1u << 27);
    ck_assert_uint_eq(rd(cpu_as(vm, 0), 0, VIRT_GICD_BASE + 0x100, 4) & (1u << 27), 0);
    virt_machine_free(vm);
}
END_TEST

/* The pci-dma function on virt, through ECAM, behind the IOMMU, its INTx
 * an SPI at the GIC. */
START_TEST(pci_dma_through_iommu)
{
    VirtMachine *vm = make(1, 2);
    AddressSpace *as = cpu_as(vm, 0);
    uint64_t cfg = VIRT_PCIE_ECAM_BASE + ((uint64_t)VIRT_PCI_DMA_DEV << 15);
    ck_assert_uint_eq(rd(as, 0, cfg, 4), 0x00016d6du);
    ck_assert_uint_eq(rd(as, 0, VIRT_PCIE_ECAM_BASE + (9u << 15), 4), 0xffffffffu);
    const uint64_t bar = VIRT_PCIE_MMIO_BASE + 0x100000;
    wr(as, 0, cfg + PCI_BAR0, 4, bar);
    wr(as, 0, cfg + PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    /* IOMMU tables in RAM: IOVA 0x1000 -> 0x40200000 (r), 0x2000 -> 0x40300000 (rw). */
    const uint64_t root = VIRT_RAM_BASE + 0x400000, leaf = root + 0x1000;
    wr(as, 0, root, 4, (uint32_t)leaf | 1);
    wr(as, 0, leaf + 4, 4, 0x40200000u | 3);
    wr(as, 0, leaf + 8, 4, 0x40300000u | 7);
    for (unsigned i = 0; i < 64; i += 8) {
        wr(as, 0, 0x40200000 + i, 8, 0x0123456789abcdefull + i);
    }
    wr(as, 0, VIRT_IOMMU_BASE + IOMMU_REF_ROOT_LO, 4, (uint32_t)root);
    wr(as, 0, VIRT_IOMMU_BASE + IOMMU_REF_ENABLE, 4, 1);
    wr(as, 0, bar + DMA_ENGINE_SRC_LO, 4, 0x1000);
    wr(as, 0, bar + DMA_ENGINE_DST_LO, 4, 0x2000);
    wr(as, 0, bar + DMA_ENGINE_LEN, 4, 64);
    wr(as, 0, bar + DMA_ENGINE_CTRL, 4, DMA_ENGINE_CTRL_GO | DMA_ENGINE_CTRL_IRQ_EN);
    ck_assert_uint_eq(rd(as, 0, bar + DMA_ENGINE_STATUS, 4), DMA_ENGINE_STATUS_DONE);
    for (unsigned i = 0; i < 64; i += 8) {
        ck_assert_uint_eq(rd(as, 0, 0x40300000 + i, 8), 0x0123456789abcdefull + i);
    }
    /* INTA of device 1 is SPI 3 + ((1 + 0) & 3) = SPI 4, INTID 36: pending
     * at the distributor (GICD_ISPENDR1 bit 4). */
    ck_assert_uint_eq(rd(as, 0, VIRT_GICD_BASE + 0x204, 4) & (1u << 4), 1u << 4);
    /* A write to the read-only page: the IOMMU logs it. */
    wr(as, 0, bar + DMA_ENGINE_SRC_LO, 4, 0x2000);
    wr(as, 0, bar + DMA_ENGINE_DST_LO, 4, 0x1000);
    wr(as, 0, bar + DMA_ENGINE_CTRL, 4, DMA_ENGINE_CTRL_GO);
    ck_assert_uint_eq(rd(as, 0, bar + DMA_ENGINE_STATUS, 4) & DMA_ENGINE_STATUS_ERROR,
                      DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq(rd(as, 0, VIRT_IOMMU_BASE + IOMMU_REF_FAULT_STATUS, 4) & 7, 7);
    ck_assert_uint_eq(rd(as, 0, VIRT_IOMMU_BASE + IOMMU_REF_FAULT_REQUESTER, 4),
                      VIRT_PCI_DMA_DEV << 3);
    virt_machine_free(vm);
}
END_TEST

/* The image only waits: with nothing to wake it the run ends idle. */
START_TEST(idle_run_ends)
{
    VirtMachine *vm = make(2, 3);
    VirtRunLimits lim = { .max_insns = 100000 };
    ck_assert_int_eq(virt_machine_run(vm, &lim), VIRT_EXIT_IDLE);
    ck_assert_int_eq(virt_machine_stop_reason(vm), VIRT_STOP_IDLE);
    virt_machine_free(vm);
}
END_TEST

START_TEST(bad_configurations)
{
    GError *err = NULL;
    VirtConfig c = { .smp = 9, .kernel = image, .gic_version = 2 };
    ck_assert_ptr_null(virt_machine_new(&c, &err));
    ck_assert(strstr(err->message, "GICv2") != NULL);
    g_clear_error(&err);
    c = (VirtConfig){ .kernel = image, .gic_version = 4 };
    ck_assert_ptr_null(virt_machine_new(&c, &err));
    g_clear_error(&err);
    c = (VirtConfig){ .gic_version = 2 };
    ck_assert_ptr_null(virt_machine_new(&c, &err));
    ck_assert(strstr(err->message, "--kernel") != NULL);
    g_clear_error(&err);
    c = (VirtConfig){ .kernel = "/nonexistent/image", .gic_version = 2 };
    ck_assert_ptr_null(virt_machine_new(&c, &err));
    ck_assert(strstr(err->message, "/nonexistent/image") != NULL);
    g_clear_error(&err);
}
END_TEST

int main(void)
{
    write_image();
    Suite *s = suite_create("virt_machine");
    TCase *tc = tcase_create("virt");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, boot_state);
    tcase_add_test(tc, gicc_banked_per_cpu);
    tcase_add_test(tc, pci_dma_through_iommu);
    tcase_add_test(tc, idle_run_ends);
    tcase_add_test(tc, bad_configurations);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_image();
    return failed ? 1 : 0;
}
