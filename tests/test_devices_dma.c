/*
 * The reference IOMMU (devices/iommu_ref.h) and the DMA engine
 * (devices/dma_engine.h) together.
 *
 * The world: "sys" is a system address space with 1 MiB of RAM at 0 and
 * the registers of both devices at REGS (IOMMU) and REGS + 0x1000 (DMA),
 * which the tests program with CPU accesses through "sys". "dev" is the
 * DMA engine's address space: its root holds the IOMMU region at 0, so a
 * device address is an IOVA. The IOMMU walks its tables in "sys" (a root
 * table at ROOT_PT, one leaf table at LEAF_PT covering IOVA 0-4 MiB) and
 * sends translated accesses to "sys".
 */
#include "tests/test_util.h"

#include "devices/dma_engine.h"
#include "devices/iommu_ref.h"

#define RAM_SIZE 0x100000ull
#define ROOT_PT 0x80000ull
#define LEAF_PT 0x81000ull
#define REGS 0x10000000ull
#define DMA_REGS (REGS + 0x1000)
#define DEV_ID 7u

typedef struct World {
    MemRegion *sys_root;
    MemRegion *ram;
    MemRegion *dev_root;
    AddressSpace *sys;
    AddressSpace *dev;
    IommuRef *iommu;
    DmaEngine *dma;
    bool irq;
    unsigned irq_changes;
} World;

static World W;

static void h_irq(void *opaque, bool level)
{
    ck_assert_ptr_eq(opaque, &W);
    ck_assert_int_ne(level, W.irq);
    W.irq = level;
    W.irq_changes++;
}

static const DmaEngineHost dma_host = { .raise_irq = h_irq, .requester = DEV_ID };

static uint8_t *ram(void)
{
    return mr_ram_ptr(W.ram);
}

static void wr32(uint64_t addr, uint32_t v)
{
    ck_assert_int_eq(as_write_val(W.sys, addr, mem_attrs_cpu(0), 4, MEM_LITTLE_ENDIAN, v),
                     MEM_OK);
}

static uint32_t rd32(uint64_t addr)
{
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(W.sys, addr, mem_attrs_cpu(0), 4, MEM_LITTLE_ENDIAN, &v),
                     MEM_OK);
    return (uint32_t)v;
}

static void pt_set(uint64_t table, uint64_t index, uint32_t v)
{
    uint8_t *p = ram() + table + index * 4;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Map one IOVA page (below 4 MiB) to `pa` with PTE flags. */
static void map(uint64_t iova, uint64_t pa, uint32_t flags)
{
    ck_assert_uint_lt(iova, 0x400000);
    pt_set(ROOT_PT, 0, (uint32_t)LEAF_PT | IOMMU_REF_PTE_VALID);
    pt_set(LEAF_PT, (iova >> 12) & 0x3ff, (uint32_t)pa | flags | IOMMU_REF_PTE_VALID);
}

static void unmap(uint64_t iova)
{
    pt_set(LEAF_PT, (iova >> 12) & 0x3ff, 0);
}

#define RW (IOMMU_REF_PTE_READ | IOMMU_REF_PTE_WRITE)

static void setup(void)
{
    GError *err = NULL;

    tu_setup();
    memset(&W, 0, sizeof(W));
    W.sys_root = tu_container("sys", MEM_SIZE_FULL);
    W.ram = tu_ram("ram", RAM_SIZE, 0);
    ck_assert(mr_add_subregion(W.sys_root, 0, W.ram, &err));
    W.sys = as_new("sys", W.sys_root, &err);
    TU_ASSERT_NO_ERROR(err);

    W.iommu = iommu_ref_new(W.sys, W.sys, &err);
    TU_ASSERT_NO_ERROR(err);
    W.dev_root = tu_container("dev", MEM_SIZE_FULL);
    ck_assert(mr_add_subregion(W.dev_root, 0, iommu_ref_region(W.iommu), &err));
    W.dev = as_new("dev", W.dev_root, &err);
    TU_ASSERT_NO_ERROR(err);

    W.dma = dma_engine_new(W.dev, &dma_host, &W, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert(mr_add_subregion(W.sys_root, REGS, iommu_ref_regs(W.iommu), &err));
    ck_assert(mr_add_subregion(W.sys_root, DMA_REGS, dma_engine_regs(W.dma), &err));
    TU_ASSERT_NO_ERROR(err);

    /* Translation on, an empty root table. */
    wr32(REGS + IOMMU_REF_ROOT_LO, (uint32_t)ROOT_PT);
    wr32(REGS + IOMMU_REF_ROOT_HI, 0);
    wr32(REGS + IOMMU_REF_ENABLE, IOMMU_REF_ENABLE_ON);
}

static void teardown(void)
{
    as_free(W.dev);
    as_free(W.sys);
    mr_unref(W.dev_root);
    mr_unref(W.sys_root);
    mr_unref(W.ram);
    dma_engine_free(W.dma);
    iommu_ref_free(W.iommu);
    tu_teardown();
}

/* Program and start a copy; returns STATUS. */
static uint32_t copy(uint64_t src, uint64_t dst, uint32_t len, bool irq_en)
{
    uint64_t v = 0;
    ck_assert_int_eq(as_write_val(W.sys, DMA_REGS + DMA_ENGINE_SRC_LO, mem_attrs_cpu(0), 8,
                                  MEM_LITTLE_ENDIAN, src), MEM_OK);
    ck_assert_int_eq(as_read_val(W.sys, DMA_REGS + DMA_ENGINE_SRC_LO, mem_attrs_cpu(0), 8,
                                 MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, src);
    wr32(DMA_REGS + DMA_ENGINE_DST_LO, (uint32_t)dst);
    wr32(DMA_REGS + DMA_ENGINE_DST_HI, (uint32_t)(dst >> 32));
    wr32(DMA_REGS + DMA_ENGINE_LEN, len);
    wr32(DMA_REGS + DMA_ENGINE_CTRL, DMA_ENGINE_CTRL_GO | (irq_en ? DMA_ENGINE_CTRL_IRQ_EN : 0));
    return rd32(DMA_REGS + DMA_ENGINE_STATUS);
}

static void fill(uint64_t pa, uint64_t len, uint8_t seed)
{
    for (uint64_t i = 0; i < len; i++) {
        ram()[pa + i] = tu_pattern_byte(i, seed);
    }
}

static void check_pattern(uint64_t pa, uint64_t len, uint8_t seed)
{
    for (uint64_t i = 0; i < len; i++) {
        ck_assert_msg(ram()[pa + i] == tu_pattern_byte(i, seed), "byte %#" PRIx64 " of %#" PRIx64,
                      i, pa);
    }
}

START_TEST(test_translated_copy)
{
    /* IOVA 0x1000-0x2fff -> PA 0x20000, 0x35000 (not contiguous);
     * IOVA 0x5000-0x6fff -> PA 0x41000, 0x30000. */
    map(0x1000, 0x20000, IOMMU_REF_PTE_READ);
    map(0x2000, 0x35000, IOMMU_REF_PTE_READ);
    map(0x5000, 0x41000, RW);
    map(0x6000, 0x30000, RW);
    fill(0x20000, 0x1000, 1);
    fill(0x35000, 0x1000, 2);

    /* Unaligned: 0x1800..0x27ff -> 0x5400..0x63ff. */
    uint32_t st = copy(0x1800, 0x5400, 0x1000, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_XFERRED), 0x1000);
    for (uint64_t i = 0; i < 0x1000; i++) {
        uint64_t src_iova = 0x1800 + i, dst_iova = 0x5400 + i;
        uint64_t src_pa = (src_iova < 0x2000 ? 0x20000 : 0x35000) + (src_iova & 0xfff);
        uint64_t dst_pa = (dst_iova < 0x6000 ? 0x41000 : 0x30000) + (dst_iova & 0xfff);
        ck_assert_uint_eq(ram()[dst_pa], ram()[src_pa]);
    }
    ck_assert_uint_eq(ram()[0x41000 + 0x3ff], 0);  /* before the destination */
    ck_assert_uint_eq(ram()[0x30000 + 0x400], 0);  /* after it */
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);
    ck_assert_uint_eq(W.irq_changes, 0);

    /* Write-1-to-clear DONE. */
    wr32(DMA_REGS + DMA_ENGINE_STATUS, DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_STATUS), 0);
    ck_assert_int_eq(tu_num_reports(), 0);
}
END_TEST

START_TEST(test_unmapped_iova_faults)
{
    map(0x1000, 0x20000, RW);
    map(0x2000, 0x21000, RW);
    map(0x8000, 0x50000, RW);  /* destination: 0x8000-0x8fff only */
    fill(0x20000, 0x2000, 3);

    /* Destination page 0x9000 is not mapped: the second page fails. */
    uint32_t st = copy(0x1000, 0x8000, 0x2000, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR |
                              (MEM_DECODE_ERROR << DMA_ENGINE_STATUS_CODE_SHIFT));
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_XFERRED), 0x1000);
    check_pattern(0x50000, 0x1000, 3);

    uint32_t fs = rd32(REGS + IOMMU_REF_FAULT_STATUS);
    ck_assert_uint_eq(fs, IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_WRITE);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x9000);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_HI), 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_REQUESTER), DEV_ID);

    /* A second fault (unmapped source, root entry absent) while latched:
     * OVERFLOW, the record stays. */
    st = copy(0x7000000, 0x8000, 0x10, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR |
                              (MEM_DECODE_ERROR << DMA_ENGINE_STATUS_CODE_SHIFT));
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_XFERRED), 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS),
                      IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_WRITE | IOMMU_REF_FAULT_OVERFLOW);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x9000);

    /* Acknowledge; the next fault is recorded. */
    wr32(REGS + IOMMU_REF_FAULT_STATUS, IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_OVERFLOW);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0);
    st = copy(0x7000010, 0x8000, 0x10, false);
    ck_assert(st & DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), IOMMU_REF_FAULT_VALID);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x7000010);

    /* Clearing ERROR clears the code too. */
    wr32(DMA_REGS + DMA_ENGINE_STATUS, DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_STATUS), DMA_ENGINE_STATUS_DONE);
}
END_TEST

START_TEST(test_readonly_page_write_faults)
{
    map(0x1000, 0x20000, RW);
    map(0x3000, 0x60000, IOMMU_REF_PTE_READ);
    fill(0x20000, 0x1000, 4);
    memset(ram() + 0x60000, 0xee, 0x1000);

    uint32_t st = copy(0x1000, 0x3100, 0x20, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR |
                              (MEM_ACCESS_ERROR << DMA_ENGINE_STATUS_CODE_SHIFT));
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_XFERRED), 0);
    for (unsigned i = 0; i < 0x1000; i++) {
        ck_assert_uint_eq(ram()[0x60000 + i], 0xee);
    }
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS),
                      IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_WRITE | IOMMU_REF_FAULT_PERM);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x3100);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_REQUESTER), DEV_ID);

    /* Reading from the read-only page is fine. */
    wr32(REGS + IOMMU_REF_FAULT_STATUS, IOMMU_REF_FAULT_VALID);
    st = copy(0x3000, 0x1000, 0x10, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(ram()[0x20000], 0xee);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);

    /* A write-only page refuses reads. */
    map(0x4000, 0x61000, IOMMU_REF_PTE_WRITE);
    st = copy(0x4008, 0x1000, 0x10, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR |
                              (MEM_ACCESS_ERROR << DMA_ENGINE_STATUS_CODE_SHIFT));
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS),
                      IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_PERM);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x4008);
}
END_TEST

static unsigned notified;
static uint64_t notified_addr, notified_mask;

static void h_notify(void *opaque, MemRegion *iommu, uint64_t addr, uint64_t mask)
{
    notified++;
    notified_addr = addr;
    notified_mask = mask;
}

START_TEST(test_invalidate)
{
    map(0x1000, 0x20000, RW);
    map(0x2000, 0x21000, RW);
    memset(ram() + 0x20000, 0x11, 0x1000);
    memset(ram() + 0x22000, 0x22, 0x1000);
    mr_iommu_add_notifier(iommu_ref_region(W.iommu), h_notify, NULL);

    ck_assert_uint_eq(copy(0x1000, 0x2000, 0x100, false), DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(ram()[0x21000], 0x11);
    uint64_t walks = iommu_ref_walks(W.iommu);

    /* Remap IOVA 0x1000 to PA 0x22000. The IOTLB still holds the old
     * translation (as hardware may) until INVALIDATE. */
    map(0x1000, 0x22000, RW);
    ck_assert_uint_eq(copy(0x1000, 0x2000, 0x100, false), DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(ram()[0x21000], 0x11);
    ck_assert_uint_eq(iommu_ref_walks(W.iommu), walks);

    wr32(REGS + IOMMU_REF_INVALIDATE, 0x1234);
    ck_assert_uint_eq(notified, 1);
    ck_assert_uint_eq(notified_addr, 0x1000);
    ck_assert_uint_eq(notified_mask, 0xfff);
    ck_assert_uint_eq(copy(0x1000, 0x2000, 0x100, false), DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(ram()[0x21000], 0x22);
    ck_assert_uint_eq(ram()[0x210ff], 0x22);
    ck_assert_uint_eq(iommu_ref_walks(W.iommu), walks + 1);  /* only the changed page */

    /* Unmap the destination, invalidate all: the copy faults. */
    unmap(0x2000);
    wr32(REGS + IOMMU_REF_INVALIDATE, IOMMU_REF_INVALIDATE_ALL);
    ck_assert_uint_eq(notified, 2);
    ck_assert_uint_eq(notified_addr, 0);
    ck_assert_uint_eq(notified_mask, UINT64_MAX);
    uint32_t st = copy(0x1000, 0x2000, 0x100, false);
    ck_assert(st & DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x2000);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_INVALIDATE), 0);
    mr_iommu_remove_notifier(iommu_ref_region(W.iommu), h_notify, NULL);
}
END_TEST

START_TEST(test_completion_irq)
{
    map(0x1000, 0x20000, RW);
    map(0x2000, 0x21000, RW);

    /* Without IRQ_EN: no interrupt. */
    ck_assert_uint_eq(copy(0x1000, 0x2000, 8, false), DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(W.irq_changes, 0);

    /* With IRQ_EN: raised on completion, lowered by clearing DONE. */
    ck_assert_uint_eq(copy(0x1000, 0x2000, 8, true), DMA_ENGINE_STATUS_DONE);
    ck_assert(W.irq);
    ck_assert(dma_engine_irq_level(W.dma));
    ck_assert_uint_eq(W.irq_changes, 1);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_CTRL), DMA_ENGINE_CTRL_IRQ_EN);
    wr32(DMA_REGS + DMA_ENGINE_STATUS, DMA_ENGINE_STATUS_DONE);
    ck_assert(!W.irq);
    ck_assert_uint_eq(W.irq_changes, 2);

    /* A failing transfer completes too: DONE | ERROR, interrupt raised. */
    ck_assert(copy(0x9000, 0x2000, 8, true) & DMA_ENGINE_STATUS_ERROR);
    ck_assert(W.irq);
    /* Masking lowers the line. */
    wr32(DMA_REGS + DMA_ENGINE_CTRL, 0);
    ck_assert(!W.irq);
    ck_assert_uint_eq(W.irq_changes, 4);

    /* Zero length: done at once. */
    ck_assert_uint_eq(copy(0x9000, 0x9000, 0, true), DMA_ENGINE_STATUS_DONE);
    ck_assert(W.irq);
}
END_TEST

START_TEST(test_passthrough_when_disabled)
{
    wr32(REGS + IOMMU_REF_ENABLE, 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_ENABLE), 0);
    fill(0x20000, 0x3000, 5);
    /* Nothing is mapped in the tables: device addresses are physical. */
    uint32_t st = copy(0x20000, 0x70000, 0x3000, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE);
    check_pattern(0x70000, 0x3000, 5);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);
    ck_assert_uint_eq(iommu_ref_walks(W.iommu), 0);

    /* Beyond RAM: a plain decode error, no IOMMU fault. */
    st = copy(0x200000, 0x70000, 0x10, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE | DMA_ENGINE_STATUS_ERROR |
                              (MEM_DECODE_ERROR << DMA_ENGINE_STATUS_CODE_SHIFT));
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);

    /* Turning translation on applies the (empty) tables at once. */
    wr32(REGS + IOMMU_REF_ENABLE, IOMMU_REF_ENABLE_ON);
    st = copy(0x20000, 0x70000, 0x10, false);
    ck_assert(st & DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), IOMMU_REF_FAULT_VALID);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0x20000);
}
END_TEST

START_TEST(test_registers)
{
    uint64_t v = 0;

    /* ROOT as one 64-bit access; low 12 bits read 0. */
    ck_assert_int_eq(as_write_val(W.sys, REGS + IOMMU_REF_ROOT_LO, mem_attrs_cpu(0), 8,
                                  MEM_LITTLE_ENDIAN, 0x123456789abcdefull), MEM_OK);
    ck_assert_int_eq(as_read_val(W.sys, REGS + IOMMU_REF_ROOT_LO, mem_attrs_cpu(0), 8,
                                 MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x123456789abc000ull);
    /* A root table outside memory: walk fault. */
    map(0x1000, 0x20000, RW);
    ck_assert(copy(0x1000, 0x1000, 4, false) & DMA_ENGINE_STATUS_ERROR);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS),
                      IOMMU_REF_FAULT_VALID | IOMMU_REF_FAULT_WALK);
    /* Byte accesses are refused. */
    ck_assert_int_eq(as_read_val(W.sys, REGS, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v),
                     MEM_ACCESS_ERROR);
    ck_assert_int_eq(as_write_val(W.sys, DMA_REGS + 2, mem_attrs_cpu(0), 2, MEM_LITTLE_ENDIAN, 1),
                     MEM_ACCESS_ERROR);
    /* Read-only registers ignore writes. */
    wr32(DMA_REGS + DMA_ENGINE_XFERRED, 0x55);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_XFERRED), 0);
    wr32(REGS + IOMMU_REF_FAULT_STATUS, IOMMU_REF_FAULT_VALID);
    wr32(REGS + IOMMU_REF_FAULT_ADDR_LO, 0x55);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0);

    /* A debug access through the IOMMU fails without latching a fault. */
    wr32(REGS + IOMMU_REF_FAULT_STATUS, IOMMU_REF_FAULT_VALID);
    MemAttrs dbg = mem_attrs_device(1);
    dbg.debug = true;
    ck_assert_int_eq(as_read_val(W.dev, 0x5000, dbg, 4, MEM_LITTLE_ENDIAN, &v), MEM_DECODE_ERROR);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);
}
END_TEST

/* The engine copying into its own registers: GO while busy is ignored. */
/* Reset: translation off (identity again), ROOT 0, the fault log and the
 * IOTLB cleared; the DMA engine's registers back to 0. */
START_TEST(test_reset)
{
    map(0x1000, 0x3000, RW);
    map(0x2000, 0x4000, RW);
    ram()[0x3000] = 0x5a;
    ram()[0x5000] = 0xa5;
    ck_assert_uint_eq(copy(0x1000, 0x2000, 1, false), DMA_ENGINE_STATUS_DONE);   /* cached */
    copy(0x9000, 0x2000, 1, false);                                               /* faults */
    ck_assert_uint_ne(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);
    iommu_ref_reset(W.iommu);
    dma_engine_reset(W.dma);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_ENABLE), 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_ROOT_LO), 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_STATUS), 0);
    ck_assert_uint_eq(rd32(REGS + IOMMU_REF_FAULT_ADDR_LO), 0);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_LEN), 0);
    ck_assert_uint_eq(rd32(DMA_REGS + DMA_ENGINE_STATUS), 0);
    /* Identity now: IOVA 0x5000 is physical 0x5000, not a stale translation. */
    ck_assert_uint_eq(copy(0x5000, 0x6000, 1, false), DMA_ENGINE_STATUS_DONE);
    ck_assert_uint_eq(ram()[0x6000], 0xa5);
    /* On again with the old tables: the IOTLB was dropped, the walk is fresh. */
    unmap(0x1000);
    wr32(REGS + IOMMU_REF_ROOT_LO, (uint32_t)ROOT_PT);
    wr32(REGS + IOMMU_REF_ENABLE, IOMMU_REF_ENABLE_ON);
    ck_assert_uint_ne(copy(0x1000, 0x2000, 1, false) & DMA_ENGINE_STATUS_ERROR, 0);
}
END_TEST

START_TEST(test_dma_into_own_registers)
{
    wr32(REGS + IOMMU_REF_ENABLE, 0);
    /* A CTRL image (GO) at PA 0x1000; copy it onto CTRL through the
     * passthrough IOMMU (the device's view reaches "sys"). */
    pt_set(0x1000, 0, DMA_ENGINE_CTRL_GO);
    uint32_t st = copy(0x1000, DMA_REGS + DMA_ENGINE_CTRL, 4, false);
    ck_assert_uint_eq(st, DMA_ENGINE_STATUS_DONE);
    ck_assert_int_eq(tu_num_reports(), 1);
}
END_TEST

static Suite *devices_dma_suite(void)
{
    Suite *s = suite_create("devices_dma");
    TCase *tc = tcase_create("iommu_dma");

    tcase_add_checked_fixture(tc, setup, teardown);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_translated_copy);
    tcase_add_test(tc, test_unmapped_iova_faults);
    tcase_add_test(tc, test_readonly_page_write_faults);
    tcase_add_test(tc, test_invalidate);
    tcase_add_test(tc, test_completion_irq);
    tcase_add_test(tc, test_passthrough_when_disabled);
    tcase_add_test(tc, test_registers);
    tcase_add_test(tc, test_dma_into_own_registers);
    tcase_add_test(tc, test_reset);
    return s;
}

int main(void)
{
    return tu_run(devices_dma_suite());
}
