/*
 * Arm GIC device model (devices/gic.h), GICv2 and GICv3.
 *
 * A fake machine: N CPU views on a 4 GiB global map with the Distributor
 * (and GICv3 Redistributors) mapped globally and, for GICv2, each CPU's own
 * CPU-interface region as that CPU's overlay at the same address (the
 * "apic" slot of CpuViewConfig), as the virt machine does. Every access
 * goes through the accessing CPU's view with that CPU's attributes;
 * recording set_irq/set_fiq callbacks give the output levels.
 */
#include "tests/test_util.h"

#include "devices/gic.h"

#define MAX_CPUS 20
#define DIST_BASE 0x08000000ull
#define CPUIF_BASE 0x08010000ull
#define REDIST_BASE 0x080a0000ull

typedef struct World {
    Gic *gic;
    unsigned n;
    CpuView *view[MAX_CPUS];
    MemRegion *global;
    bool irq[MAX_CPUS], fiq[MAX_CPUS];
    unsigned irq_changes[MAX_CPUS], fiq_changes[MAX_CPUS];
} World;

static World W;

static void h_irq(void *o, unsigned cpu, bool level)
{
    ck_assert_ptr_eq(o, &W);
    ck_assert_uint_lt(cpu, W.n);
    ck_assert_msg(W.irq[cpu] != level, "set_irq(%u, %d) without a change", cpu, level);
    W.irq[cpu] = level;
    W.irq_changes[cpu]++;
}

static void h_fiq(void *o, unsigned cpu, bool level)
{
    ck_assert_ptr_eq(o, &W);
    ck_assert_uint_lt(cpu, W.n);
    ck_assert_msg(W.fiq[cpu] != level, "set_fiq(%u, %d) without a change", cpu, level);
    W.fiq[cpu] = level;
    W.fiq_changes[cpu]++;
}

static void world_init(unsigned version, unsigned n, unsigned nirqs)
{
    GError *err = NULL;
    GicConfig cfg = {
        .version = version,
        .ncpus = n,
        .nirqs = nirqs,
        .set_irq = h_irq,
        .set_fiq = h_fiq,
        .opaque = &W,
    };

    memset(&W, 0, sizeof(W));
    W.n = n;
    W.gic = gic_new(&cfg, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(W.gic);
    W.global = tu_container("system", 1ull << 32);
    ck_assert(mr_add_subregion(W.global, DIST_BASE, gic_dist_region(W.gic), &err));
    if (version == 3) {
        ck_assert_ptr_null(gic_cpuif_region(W.gic, 0));
        ck_assert(mr_add_subregion(W.global, REDIST_BASE, gic_redist_region(W.gic), &err));
    } else {
        ck_assert_ptr_null(gic_redist_region(W.gic));
    }
    for (unsigned i = 0; i < n; i++) {
        CpuViewConfig vc = {
            .cpu_index = i,
            .global_map = W.global,
        };
        if (version == 2) {
            vc.apic = gic_cpuif_region(W.gic, i);
            vc.apic_base = CPUIF_BASE;
            mr_ref(vc.apic);
        }
        W.view[i] = cpu_view_new(&vc, &err);
        TU_ASSERT_NO_ERROR(err);
    }
}

static void world_fini(void)
{
    for (unsigned i = 0; i < W.n; i++) {
        cpu_view_free(W.view[i]);
    }
    mr_unref(W.global);
    gic_free(W.gic);
    memset(&W, 0, sizeof(W));
}

static uint64_t rd_as(unsigned cpu, uint64_t addr, unsigned size, MemAttrs attrs)
{
    uint64_t v = 0xdeadbeefull;
    MemResult r = as_read_val(cpu_view_as(W.view[cpu]), addr, attrs, size, MEM_LITTLE_ENDIAN, &v);

    ck_assert_msg(r == MEM_OK, "read at 0x%" PRIx64 " gave %s", addr, mem_result_name(r));
    return v;
}

static void wr_as(unsigned cpu, uint64_t addr, unsigned size, uint64_t v, MemAttrs attrs)
{
    MemResult r = as_write_val(cpu_view_as(W.view[cpu]), addr, attrs, size, MEM_LITTLE_ENDIAN, v);

    ck_assert_msg(r == MEM_OK, "write at 0x%" PRIx64 " gave %s", addr, mem_result_name(r));
}

/* Distributor, CPU interface (v2) and Redistributor (v3) as CPU `cpu`. */
static uint32_t drd(unsigned cpu, uint32_t off)
{
    return (uint32_t)rd_as(cpu, DIST_BASE + off, 4, mem_attrs_cpu(cpu));
}

static void dwr(unsigned cpu, uint32_t off, uint32_t v)
{
    wr_as(cpu, DIST_BASE + off, 4, v, mem_attrs_cpu(cpu));
}

static void dwr8(unsigned cpu, uint32_t off, uint8_t v)
{
    wr_as(cpu, DIST_BASE + off, 1, v, mem_attrs_cpu(cpu));
}

static uint32_t crd(unsigned cpu, uint32_t off)
{
    return (uint32_t)rd_as(cpu, CPUIF_BASE + off, 4, mem_attrs_cpu(cpu));
}

static void cwr(unsigned cpu, uint32_t off, uint32_t v)
{
    wr_as(cpu, CPUIF_BASE + off, 4, v, mem_attrs_cpu(cpu));
}

static uint64_t rrd(unsigned cpu, uint32_t off, unsigned size)
{
    return rd_as(cpu, REDIST_BASE + off, size, mem_attrs_cpu(cpu));
}

static void rwr(unsigned cpu, uint32_t off, unsigned size, uint64_t v)
{
    wr_as(cpu, REDIST_BASE + off, size, v, mem_attrs_cpu(cpu));
}

/* CPU `cpu`'s own Redistributor, SGI_base frame. */
static uint32_t sgi_off(unsigned cpu, uint32_t off)
{
    return cpu * GIC_REDIST_STRIDE + GIC_SGI_BASE_OFFSET + off;
}

static uint64_t icc_rd(unsigned cpu, uint32_t enc)
{
    uint64_t v = 0xdeadbeefull;

    ck_assert_msg(gic_icc_read(W.gic, cpu, enc, &v), "ICC read 0x%x refused", enc);
    return v;
}

static void icc_wr(unsigned cpu, uint32_t enc, uint64_t v)
{
    ck_assert_msg(gic_icc_write(W.gic, cpu, enc, v), "ICC write 0x%x refused", enc);
}

static void bit_set(unsigned cpu, uint32_t base, unsigned irq)
{
    dwr(cpu, base + (irq / 32) * 4, 1u << (irq % 32));
}

static bool bit_get(unsigned cpu, uint32_t base, unsigned irq)
{
    return (drd(cpu, base + (irq / 32) * 4) >> (irq % 32)) & 1u;
}

/* --- GICv2 set-up helpers. --- */

static void v2_enable_all(void)
{
    dwr(0, GICD_CTLR, GICD_CTLR_ENABLE_GRP0 | GICD_CTLR_ENABLE_GRP1);
    for (unsigned i = 0; i < W.n; i++) {
        cwr(i, GICC_CTLR, GICC_CTLR_ENABLE_GRP0);
        cwr(i, GICC_PMR, 0xff);
    }
}

static void v2_spi(unsigned irq, uint8_t prio, uint8_t targets, bool edge)
{
    dwr8(0, GICD_IPRIORITYR + irq, prio);
    dwr8(0, GICD_ITARGETSR + irq, targets);
    uint32_t off = GICD_ICFGR + (irq / 16) * 4;
    uint32_t cfg = drd(0, off);
    uint32_t bit = 2u << (2 * (irq % 16));
    dwr(0, off, edge ? cfg | bit : cfg & ~bit);
    bit_set(0, GICD_ISENABLER, irq);
}

static void pulse(unsigned irq)
{
    gic_set_spi(W.gic, irq, true);
    gic_set_spi(W.gic, irq, false);
}

/* ------------------------------------------------------------------ */
/* GICv2 */

START_TEST(test_v2_ids_reset)
{
    world_init(2, 4, 128);
    ck_assert_uint_eq(gic_version(W.gic), 2);
    ck_assert_uint_eq(gic_nirqs(W.gic), 128);
    /* ITLinesNumber = 128/32 - 1, CPUNumber = 4 - 1, no Security Extensions. */
    ck_assert_uint_eq(drd(0, GICD_TYPER), 3u | (3u << 5));
    ck_assert_uint_eq(drd(0, GICD_IIDR), GICD_V2_IIDR_VALUE);
    ck_assert_uint_eq((drd(0, GICD_V2_PIDR2) >> 4) & 0xf, 2);
    ck_assert_uint_eq(drd(0, 0xff0), 0x0d);
    ck_assert_uint_eq(drd(0, 0xffc), 0xb1);
    ck_assert_uint_eq(drd(0, GICD_CTLR), 0);
    ck_assert_uint_eq(crd(0, GICC_IIDR), 0x0002043B);
    ck_assert_uint_eq(crd(1, GICC_CTLR), 0);
    ck_assert_uint_eq(crd(1, GICC_PMR), 0);
    ck_assert_uint_eq(crd(1, GICC_BPR), 0);
    ck_assert_uint_eq(crd(1, GICC_ABPR), 1);
    ck_assert_uint_eq(crd(1, GICC_RPR), 0xff);
    ck_assert_uint_eq(crd(1, GICC_IAR), GIC_SPURIOUS);
    ck_assert_uint_eq(crd(1, GICC_HPPIR), GIC_SPURIOUS);
    /* SGIs always edge-triggered: ICFGR0 fixed. */
    ck_assert_uint_eq(drd(0, GICD_ICFGR), 0xaaaaaaaau);
    dwr(0, GICD_ICFGR, 0);
    ck_assert_uint_eq(drd(0, GICD_ICFGR), 0xaaaaaaaau);
    /* Registers beyond nirqs: RAZ/WI. */
    dwr(0, GICD_ISENABLER + 4 * 4, 0xffffffffu);
    ck_assert_uint_eq(drd(0, GICD_ISENABLER + 4 * 4), 0);
    /* Full priority width. */
    dwr8(0, GICD_IPRIORITYR + 40, 0xa5);
    ck_assert_uint_eq(drd(0, GICD_IPRIORITYR + 40) & 0xff, 0xa5);
    ck_assert_uint_eq((uint32_t)rd_as(0, DIST_BASE + GICD_IPRIORITYR + 40, 1, mem_attrs_cpu(0)),
                      0xa5);
    /* Reset clears it again. */
    gic_reset(W.gic);
    ck_assert_uint_eq(drd(0, GICD_IPRIORITYR + 40), 0);
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();

    /* Bad configurations. */
    GError *err = NULL;
    GicConfig bad = { .version = 2, .ncpus = 9, .nirqs = 64 };
    ck_assert_ptr_null(gic_new(&bad, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    bad.ncpus = 1;
    bad.nirqs = 48;
    ck_assert_ptr_null(gic_new(&bad, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    bad.nirqs = 1024;
    ck_assert_ptr_null(gic_new(&bad, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    bad.version = 4;
    bad.nirqs = 64;
    ck_assert_ptr_null(gic_new(&bad, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    bad.version = 2;
    bad.nirqs = 1020;
    Gic *g = gic_new(&bad, &err);
    TU_ASSERT_NO_ERROR(err);
    gic_free(g);
}
END_TEST

START_TEST(test_v2_level_flow)
{
    world_init(2, 2, 64);
    v2_enable_all();
    v2_spi(40, 0x80, 0x1, false);
    ck_assert(!W.irq[0]);
    gic_set_spi(W.gic, 40, true);
    ck_assert(W.irq[0]);
    ck_assert(!W.irq[1]);
    ck_assert(bit_get(0, GICD_ISPENDR, 40));
    ck_assert_uint_eq(crd(0, GICC_HPPIR), 40);
    /* A debug read of IAR does not acknowledge. */
    ck_assert_uint_eq((uint32_t)rd_as(0, CPUIF_BASE + GICC_IAR, 4,
                                      (MemAttrs){ .requester = 0, .debug = true }), 40);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 40);
    ck_assert(!W.irq[0]);
    ck_assert(bit_get(0, GICD_ISACTIVER, 40));
    /* Level, line still high: active and pending. */
    ck_assert(bit_get(0, GICD_ISPENDR, 40));
    ck_assert_uint_eq(crd(0, GICC_RPR), 0x80);
    ck_assert_uint_eq(crd(0, GICC_APR0 + 8), 1u);   /* level 0x80 >> 1 = 64 */
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    /* EOI with the line high: pending again at once. */
    cwr(0, GICC_EOIR, 40);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_RPR), 0xff);
    ck_assert_uint_eq(crd(0, GICC_IAR), 40);
    gic_set_spi(W.gic, 40, false);
    ck_assert(!bit_get(0, GICD_ISPENDR, 40));
    cwr(0, GICC_EOIR, 40);
    ck_assert(!W.irq[0]);
    ck_assert(!bit_get(0, GICD_ISACTIVER, 40));
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);

    /* ISPENDR on a level interrupt latches; ICPENDR clears the latch. */
    bit_set(0, GICD_ISPENDR, 40);
    ck_assert(W.irq[0]);
    bit_set(0, GICD_ICPENDR, 40);
    ck_assert(!W.irq[0]);
    /* ... but not a high line. */
    gic_set_spi(W.gic, 40, true);
    bit_set(0, GICD_ICPENDR, 40);
    ck_assert(W.irq[0]);
    gic_set_spi(W.gic, 40, false);
    ck_assert(!W.irq[0]);

    /* Disabling the interrupt, the Distributor or the CPU interface hides it. */
    gic_set_spi(W.gic, 40, true);
    ck_assert(W.irq[0]);
    bit_set(0, GICD_ICENABLER, 40);
    ck_assert(!W.irq[0]);
    ck_assert(!bit_get(0, GICD_ISENABLER, 40));
    bit_set(0, GICD_ISENABLER, 40);
    ck_assert(W.irq[0]);
    dwr(0, GICD_CTLR, 0);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    dwr(0, GICD_CTLR, 1);
    ck_assert(W.irq[0]);
    cwr(0, GICC_CTLR, 0);
    ck_assert(!W.irq[0]);
    cwr(0, GICC_CTLR, 1);
    ck_assert(W.irq[0]);
    /* EOI of something not active: ignored, reported. */
    cwr(0, GICC_EOIR, 41);
    ck_assert_uint_eq(tu_num_reports(), 1);
    world_fini();
}
END_TEST

START_TEST(test_v2_edge_flow)
{
    world_init(2, 1, 64);
    v2_enable_all();
    v2_spi(33, 0x10, 0, true);   /* uniprocessor: targets RAZ/WI, goes to CPU 0 */
    ck_assert_uint_eq(drd(0, GICD_ITARGETSR + 32), 0);
    ck_assert_uint_eq((drd(0, GICD_ICFGR + 8) >> 2) & 3, 2);
    gic_set_spi(W.gic, 33, true);
    ck_assert(W.irq[0]);
    /* Edge: staying high doesn't re-pend after the acknowledge. */
    ck_assert_uint_eq(crd(0, GICC_IAR), 33);
    ck_assert(!bit_get(0, GICD_ISPENDR, 33));
    cwr(0, GICC_EOIR, 33);
    ck_assert(!W.irq[0]);
    gic_set_spi(W.gic, 33, false);
    /* Two edges while active: one pending interrupt afterwards. */
    ck_assert(!W.irq[0]);
    pulse(33);
    ck_assert_uint_eq(crd(0, GICC_IAR), 33);
    pulse(33);
    pulse(33);
    ck_assert(bit_get(0, GICD_ISPENDR, 33) && bit_get(0, GICD_ISACTIVER, 33));
    ck_assert(!W.irq[0]);
    cwr(0, GICC_EOIR, 33);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 33);
    cwr(0, GICC_EOIR, 33);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    /* ISACTIVER / ICACTIVER. */
    bit_set(0, GICD_ISACTIVER, 33);
    ck_assert(bit_get(0, GICD_ISACTIVER, 33));
    pulse(33);
    ck_assert(!W.irq[0]);
    bit_set(0, GICD_ICACTIVER, 33);
    ck_assert(W.irq[0]);
    world_fini();
}
END_TEST

START_TEST(test_v2_sgi)
{
    world_init(2, 4, 64);
    v2_enable_all();
    /* Each CPU enables SGIs 0-15 in its own bank. */
    for (unsigned i = 0; i < 4; i++) {
        dwr(i, GICD_ISENABLER, 0xffff);
    }
    /* CPU 0 -> CPU 2, SGI 5, by target list. */
    dwr(0, GICD_SGIR, (0u << 24) | (0x4u << 16) | 5);
    ck_assert(W.irq[2]);
    ck_assert(!W.irq[0] && !W.irq[1] && !W.irq[3]);
    ck_assert_uint_eq(drd(2, GICD_SPENDSGIR + 4) >> 8 & 0xff, 0x1);   /* SGI 5, source 0 */
    ck_assert(bit_get(2, GICD_ISPENDR, 5));
    ck_assert(!bit_get(1, GICD_ISPENDR, 5));
    /* CPU 3 sends the same SGI to CPU 2: pending per source. */
    dwr(3, GICD_SGIR, (0x4u << 16) | 5);
    ck_assert_uint_eq(drd(2, GICD_SPENDSGIR + 4) >> 8 & 0xff, 0x9);
    ck_assert_uint_eq(crd(2, GICC_HPPIR), 5u);
    uint32_t iar = crd(2, GICC_IAR);
    ck_assert_uint_eq(iar, 5u | (0u << 10));
    /* The other source stays pending (active and pending). */
    ck_assert(bit_get(2, GICD_ISPENDR, 5));
    ck_assert(!W.irq[2]);
    cwr(2, GICC_EOIR, iar);
    ck_assert(W.irq[2]);
    ck_assert_uint_eq(crd(2, GICC_IAR), 5u | (3u << 10));
    cwr(2, GICC_EOIR, 5u | (3u << 10));
    ck_assert(!W.irq[2]);
    ck_assert(!bit_get(2, GICD_ISPENDR, 5));

    /* Filter 1: everyone but the sender. */
    dwr(1, GICD_SGIR, (1u << 24) | 7);
    ck_assert(W.irq[0] && !W.irq[1] && W.irq[2] && W.irq[3]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 7u | (1u << 10));
    ck_assert_uint_eq(crd(3, GICC_IAR), 7u | (1u << 10));
    ck_assert_uint_eq(crd(2, GICC_IAR), 7u | (1u << 10));
    for (unsigned i = 0; i < 4; i++) {
        if (i != 1) {
            cwr(i, GICC_EOIR, 7u | (1u << 10));
        }
        ck_assert(!W.irq[i]);
    }
    /* Filter 2: self only (the target list is ignored). */
    dwr(3, GICD_SGIR, (2u << 24) | (0x1u << 16) | 2);
    ck_assert(!W.irq[0] && W.irq[3]);
    ck_assert_uint_eq(crd(3, GICC_IAR), 2u | (3u << 10));
    cwr(3, GICC_EOIR, 2u | (3u << 10));
    /* Filter 3: reserved, nothing sent (reported). */
    dwr(0, GICD_SGIR, (3u << 24) | (0xfu << 16) | 1);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert(!W.irq[i]);
    }
    ck_assert_uint_eq(tu_num_reports(), 1);
    /* SPENDSGIR / CPENDSGIR (byte-accessible), banked by the accessor. */
    dwr8(1, GICD_SPENDSGIR + 9, 0x6);   /* SGI 9 from CPUs 1 and 2 */
    ck_assert(W.irq[1]);
    ck_assert_uint_eq(drd(1, GICD_CPENDSGIR + 8), 0x6u << 8);
    ck_assert_uint_eq(drd(0, GICD_CPENDSGIR + 8), 0);
    dwr8(1, GICD_CPENDSGIR + 9, 0x2);
    ck_assert_uint_eq(crd(1, GICC_IAR), 9u | (2u << 10));
    cwr(1, GICC_EOIR, 9u | (2u << 10));
    ck_assert(!W.irq[1]);
    /* ISPENDR/ICPENDR don't touch SGIs on GICv2. */
    dwr(1, GICD_ISPENDR, 0x1);
    ck_assert(!W.irq[1]);
    /* A disabled SGI stays pending but is not signalled. */
    dwr(0, GICD_ICENABLER, 1u << 4);
    dwr(1, GICD_SGIR, (0x1u << 16) | 4);
    ck_assert(!W.irq[0]);
    ck_assert(bit_get(0, GICD_ISPENDR, 4));
    dwr(0, GICD_ISENABLER, 1u << 4);
    ck_assert(W.irq[0]);
    world_fini();
}
END_TEST

START_TEST(test_v2_banked)
{
    world_init(2, 2, 96);
    dwr(0, GICD_ISENABLER, 0x00000003u);
    dwr(1, GICD_ISENABLER, 0x00010000u);
    ck_assert_uint_eq(drd(0, GICD_ISENABLER), 0x3u);
    ck_assert_uint_eq(drd(1, GICD_ISENABLER), 0x10000u);
    ck_assert_uint_eq(drd(1, GICD_ICENABLER), 0x10000u);
    dwr8(0, GICD_IPRIORITYR + 1, 0x40);
    dwr8(1, GICD_IPRIORITYR + 1, 0xc0);
    ck_assert_uint_eq(drd(0, GICD_IPRIORITYR), 0x4000u);
    ck_assert_uint_eq(drd(1, GICD_IPRIORITYR), 0xc000u);
    dwr(0, GICD_IGROUPR, 0xffff0000u);
    ck_assert_uint_eq(drd(0, GICD_IGROUPR), 0xffff0000u);
    ck_assert_uint_eq(drd(1, GICD_IGROUPR), 0);
    /* ITARGETSR0-7: read-only, the reader's own bit. */
    ck_assert_uint_eq(drd(0, GICD_ITARGETSR), 0x01010101u);
    ck_assert_uint_eq(drd(1, GICD_ITARGETSR + 28), 0x02020202u);
    dwr(1, GICD_ITARGETSR + 28, 0);
    ck_assert_uint_eq(drd(1, GICD_ITARGETSR + 28), 0x02020202u);
    /* ICFGR1 (PPIs) banked too. */
    dwr(1, GICD_ICFGR + 4, 0x80000000u);
    ck_assert_uint_eq(drd(1, GICD_ICFGR + 4), 0x80000000u);
    ck_assert_uint_eq(drd(0, GICD_ICFGR + 4), 0);
    /* Shared registers are shared. */
    dwr(1, GICD_ISENABLER + 4, 0x10);
    ck_assert_uint_eq(drd(0, GICD_ISENABLER + 4), 0x10);
    /* Word and halfword reads of byte registers; wide writes of bytes. */
    wr_as(0, DIST_BASE + GICD_IPRIORITYR + 34, 2, 0x2010, mem_attrs_cpu(0));
    ck_assert_uint_eq(drd(1, GICD_IPRIORITYR + 32), 0x20100000u);
    ck_assert_uint_eq(rd_as(0, DIST_BASE + GICD_IPRIORITYR + 34, 2, mem_attrs_cpu(1)), 0x2010);
    /* A narrow write to a word-only register is ignored (reported). */
    wr_as(0, DIST_BASE + GICD_ISENABLER + 4, 1, 0xff, mem_attrs_cpu(0));
    ck_assert_uint_eq(drd(0, GICD_ISENABLER + 4), 0x10);
    ck_assert_uint_eq(tu_num_reports(), 1);
    /* A device (or out-of-range CPU) reaching the banked registers: RAZ/WI. */
    ck_assert_uint_eq(rd_as(0, DIST_BASE + GICD_ISENABLER, 4, mem_attrs_device(0)), 0);
    wr_as(0, DIST_BASE + GICD_ISENABLER, 4, 0xffff, mem_attrs_cpu(7));
    ck_assert_uint_eq(drd(0, GICD_ISENABLER), 0x3u);
    ck_assert_uint_eq(drd(1, GICD_ISENABLER), 0x10000u);
    ck_assert_uint_eq(tu_num_reports(), 2);
    world_fini();
}
END_TEST

START_TEST(test_v2_priority_preemption)
{
    world_init(2, 1, 64);
    v2_enable_all();
    v2_spi(40, 0x80, 1, true);
    v2_spi(41, 0x40, 1, true);
    v2_spi(42, 0x40, 1, true);
    v2_spi(43, 0x81, 1, true);
    /* Highest priority first; equal priorities: lowest ID first. */
    pulse(42);
    pulse(41);
    pulse(40);
    ck_assert_uint_eq(crd(0, GICC_HPPIR), 41);
    ck_assert_uint_eq(crd(0, GICC_IAR), 41);
    ck_assert_uint_eq(crd(0, GICC_RPR), 0x40);
    /* 42 has the same priority: can't preempt 41. */
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_HPPIR), 42);
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    cwr(0, GICC_EOIR, 41);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 42);
    cwr(0, GICC_EOIR, 42);
    /* Now 40 (0x80) runs; 41 arriving (0x40) preempts it. */
    ck_assert_uint_eq(crd(0, GICC_IAR), 40);
    ck_assert(!W.irq[0]);
    pulse(41);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 41);
    ck_assert_uint_eq(crd(0, GICC_RPR), 0x40);
    ck_assert_uint_eq(crd(0, GICC_APR0 + 4), 1u);      /* 0x40 >> 1 = 32 */
    ck_assert_uint_eq(crd(0, GICC_APR0 + 8), 1u);      /* 0x80 >> 1 = 64 */
    /* 43 (0x81) is in 40's group with BPR 0 only if ... it's not: [7:1]
     * of 0x81 is 0x80, equal to the running 0x80 once 41 is done. */
    pulse(43);
    cwr(0, GICC_EOIR, 41);
    ck_assert_uint_eq(crd(0, GICC_RPR), 0x80);
    ck_assert(!W.irq[0]);
    cwr(0, GICC_EOIR, 40);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 43);
    cwr(0, GICC_EOIR, 43);
    ck_assert(!W.irq[0]);

    /* Binary point: with BPR 7 there is no preemption at all. */
    cwr(0, GICC_BPR, 7);
    pulse(40);
    ck_assert_uint_eq(crd(0, GICC_IAR), 40);
    ck_assert_uint_eq(crd(0, GICC_RPR), 0);
    pulse(41);
    ck_assert(!W.irq[0]);
    cwr(0, GICC_EOIR, 40);
    ck_assert_uint_eq(crd(0, GICC_IAR), 41);
    cwr(0, GICC_EOIR, 41);
    /* BPR 6: group priority [7:7]: 0x40 can't preempt 0x00-0x7f, can 0x80. */
    cwr(0, GICC_BPR, 6);
    pulse(40);
    ck_assert_uint_eq(crd(0, GICC_IAR), 40);
    pulse(41);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 41);
    cwr(0, GICC_EOIR, 41);
    cwr(0, GICC_EOIR, 40);
    cwr(0, GICC_BPR, 0);

    /* Priority mask: only strictly higher priorities pass. */
    cwr(0, GICC_PMR, 0x40);
    pulse(41);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    ck_assert_uint_eq(crd(0, GICC_HPPIR), 41);   /* HPPIR ignores the mask */
    cwr(0, GICC_PMR, 0x41);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(crd(0, GICC_IAR), 41);
    cwr(0, GICC_EOIR, 41);
    /* Spurious when nothing is pending. */
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    world_fini();
}
END_TEST

START_TEST(test_v2_ppi_and_targets)
{
    world_init(2, 3, 64);
    v2_enable_all();
    for (unsigned i = 0; i < 3; i++) {
        dwr(i, GICD_ISENABLER, 1u << 27);
        dwr8(i, GICD_IPRIORITYR + 27, 0x20);
    }
    /* A PPI reaches only its own CPU. */
    gic_set_ppi(W.gic, 1, 27, true);
    ck_assert(!W.irq[0] && W.irq[1] && !W.irq[2]);
    ck_assert(bit_get(1, GICD_ISPENDR, 27));
    ck_assert(!bit_get(0, GICD_ISPENDR, 27));
    ck_assert_uint_eq(crd(1, GICC_IAR), 27);
    gic_set_ppi(W.gic, 1, 27, false);
    cwr(1, GICC_EOIR, 27);
    ck_assert(!W.irq[1]);
    /* Bad inputs: ignored, reported once. */
    gic_set_ppi(W.gic, 3, 27, true);
    gic_set_ppi(W.gic, 0, 15, true);
    gic_set_spi(W.gic, 64, true);
    gic_set_spi(W.gic, 31, true);
    ck_assert_uint_eq(tu_num_reports(), 1);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert(!W.irq[i]);
    }

    /* SPI targets. */
    v2_spi(50, 0x80, 0x2, false);
    gic_set_spi(W.gic, 50, true);
    ck_assert(!W.irq[0] && W.irq[1] && !W.irq[2]);
    dwr8(0, GICD_ITARGETSR + 50, 0x5);
    ck_assert(W.irq[0] && !W.irq[1] && W.irq[2]);
    ck_assert_uint_eq(drd(2, GICD_ITARGETSR + 48) >> 16 & 0xff, 0x5);
    /* Targets beyond the CPUs are not stored. */
    dwr8(0, GICD_ITARGETSR + 51, 0xff);
    ck_assert_uint_eq(drd(2, GICD_ITARGETSR + 48) >> 24, 0x7);
    /* 1-N: CPU 2 takes it, CPU 0 loses it. */
    ck_assert_uint_eq(crd(2, GICC_IAR), 50);
    ck_assert(!W.irq[0] && !W.irq[2]);
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_SPURIOUS);
    gic_set_spi(W.gic, 50, false);
    cwr(2, GICC_EOIR, 50);
    ck_assert(!W.irq[0] && !W.irq[2]);
    /* No target: pending, not signalled anywhere. */
    dwr8(0, GICD_ITARGETSR + 50, 0);
    gic_set_spi(W.gic, 50, true);
    ck_assert(bit_get(0, GICD_ISPENDR, 50));
    for (unsigned i = 0; i < 3; i++) {
        ck_assert(!W.irq[i]);
    }
    world_fini();
}
END_TEST

START_TEST(test_v2_groups_fiq)
{
    world_init(2, 1, 64);
    v2_enable_all();
    v2_spi(40, 0x80, 1, false);
    v2_spi(41, 0x40, 1, false);
    dwr(0, GICD_IGROUPR + 4, 1u << 8);   /* 40 in group 1 */
    gic_set_spi(W.gic, 40, true);
    /* Group 1 not enabled in the CPU interface yet. */
    ck_assert(!W.irq[0]);
    cwr(0, GICC_CTLR, GICC_CTLR_ENABLE_GRP0 | GICC_CTLR_ENABLE_GRP1);
    ck_assert(W.irq[0]);
    /* AckCtl = 0: GICC_IAR answers 1022, the alias acknowledges. */
    ck_assert_uint_eq(crd(0, GICC_HPPIR), GIC_GROUP1_PENDING);
    ck_assert_uint_eq(crd(0, GICC_IAR), GIC_GROUP1_PENDING);
    ck_assert_uint_eq(crd(0, GICC_AHPPIR), 40);
    ck_assert_uint_eq(crd(0, GICC_AIAR), 40);
    ck_assert_uint_eq(crd(0, GICC_NSAPR0 + 8), 1u);
    ck_assert_uint_eq(crd(0, GICC_APR0 + 8), 0u);
    gic_set_spi(W.gic, 40, false);
    cwr(0, GICC_AEOIR, 40);
    ck_assert_uint_eq(crd(0, GICC_NSAPR0 + 8), 0u);
    /* AckCtl = 1: GICC_IAR takes group 1 too. */
    cwr(0, GICC_CTLR, GICC_CTLR_ENABLE_GRP0 | GICC_CTLR_ENABLE_GRP1 | GICC_CTLR_ACKCTL);
    gic_set_spi(W.gic, 40, true);
    ck_assert_uint_eq(crd(0, GICC_IAR), 40);
    gic_set_spi(W.gic, 40, false);
    cwr(0, GICC_EOIR, 40);
    /* Group 0 goes to FIQ with FIQEn. */
    cwr(0, GICC_CTLR, GICC_CTLR_ENABLE_GRP0 | GICC_CTLR_ENABLE_GRP1 | GICC_CTLR_FIQEN);
    gic_set_spi(W.gic, 41, true);
    ck_assert(W.fiq[0] && !W.irq[0]);
    /* AIAR doesn't take group 0. */
    ck_assert_uint_eq(crd(0, GICC_AIAR), GIC_SPURIOUS);
    ck_assert_uint_eq(crd(0, GICC_IAR), 41);
    ck_assert(!W.fiq[0]);
    /* 40 (group 1, lower priority) pending: IRQ only after 41 ends. */
    gic_set_spi(W.gic, 40, true);
    ck_assert(!W.irq[0]);
    gic_set_spi(W.gic, 41, false);
    cwr(0, GICC_EOIR, 41);
    ck_assert(W.irq[0] && !W.fiq[0]);
    /* GICD EnableGrp1 off hides group 1 only. */
    dwr(0, GICD_CTLR, GICD_CTLR_ENABLE_GRP0);
    ck_assert(!W.irq[0]);
    world_fini();
}
END_TEST

START_TEST(test_v2_cpuif_per_cpu_eoimode)
{
    world_init(2, 2, 64);
    v2_enable_all();
    cwr(0, GICC_PMR, 0xf0);
    cwr(1, GICC_PMR, 0x30);
    cwr(1, GICC_BPR, 3);
    ck_assert_uint_eq(crd(0, GICC_PMR), 0xf0);
    ck_assert_uint_eq(crd(1, GICC_PMR), 0x30);
    ck_assert_uint_eq(crd(0, GICC_BPR), 0);
    ck_assert_uint_eq(crd(1, GICC_BPR), 3);
    /* The region itself is per CPU: whatever attrs the access carries. */
    uint64_t v = 0;
    ck_assert_int_eq(as_read_val(cpu_view_as(W.view[1]), CPUIF_BASE + GICC_PMR, mem_attrs_cpu(0),
                                 4, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    ck_assert_uint_eq(v, 0x30);
    /* ABPR minimum 1; narrow accesses refused by the core. */
    cwr(0, GICC_ABPR, 0);
    ck_assert_uint_eq(crd(0, GICC_ABPR), 1);
    ck_assert_int_eq(as_read_val(cpu_view_as(W.view[0]), CPUIF_BASE + GICC_PMR, mem_attrs_cpu(0),
                                 1, MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);

    /* EOImode 1: EOIR only drops the priority; GICC_DIR deactivates. */
    cwr(0, GICC_CTLR, GICC_CTLR_ENABLE_GRP0 | GICC_CTLR_EOIMODE);
    v2_spi(45, 0x50, 1, true);
    pulse(45);
    ck_assert_uint_eq(crd(0, GICC_IAR), 45);
    cwr(0, GICC_EOIR, 45);
    ck_assert_uint_eq(crd(0, GICC_RPR), 0xff);
    ck_assert(bit_get(0, GICD_ISACTIVER, 45));
    pulse(45);
    ck_assert(!W.irq[0]);   /* still active */
    cwr(0, GICC_DIR, 45);
    ck_assert(!bit_get(0, GICD_ISACTIVER, 45));
    ck_assert(W.irq[0]);
    /* Reserved CPU-interface offset: RAZ/WI, reported. */
    ck_assert_uint_eq(crd(0, 0x40), 0);
    cwr(0, 0x40, 1);
    ck_assert_uint_ge(tu_num_reports(), 1);
    world_fini();
}
END_TEST

START_TEST(test_v2_garbage)
{
    GRand *r = g_rand_new_with_seed(0x61c);

    world_init(2, 4, 256);
    for (unsigned round = 0; round < 40000; round++) {
        unsigned cpu = (unsigned)g_rand_int_range(r, 0, 4);
        unsigned size = 1u << g_rand_int_range(r, 0, 3);
        bool cpuif = g_rand_int_range(r, 0, 4) == 0;
        uint64_t off = (uint64_t)g_rand_int_range(r, 0, cpuif ? GIC_CPUIF_SIZE : GIC_DIST_SIZE);
        uint64_t v = g_rand_int(r);
        MemAttrs a = g_rand_int_range(r, 0, 8) == 0 ? mem_attrs_device(3)
                                                     : mem_attrs_cpu((uint32_t)g_rand_int_range(r, 0, 6));
        AddressSpace *as = cpu_view_as(W.view[cpu]);

        if (g_rand_int_range(r, 0, 3) == 0) {
            off = (off & ~0x3ffull) | (g_rand_int_range(r, 0, 0x40) * 4);  /* hit registers */
        }
        off &= ~(uint64_t)(size - 1);
        if (g_rand_boolean(r)) {
            as_write_val(as, (cpuif ? CPUIF_BASE : DIST_BASE) + off, a, size, MEM_LITTLE_ENDIAN, v);
        } else {
            as_read_val(as, (cpuif ? CPUIF_BASE : DIST_BASE) + off, a, size, MEM_LITTLE_ENDIAN, &v);
        }
        if (round % 7 == 0) {
            gic_set_spi(W.gic, (unsigned)g_rand_int_range(r, 0, 300), g_rand_boolean(r));
            gic_set_ppi(W.gic, (unsigned)g_rand_int_range(r, 0, 5),
                        (unsigned)g_rand_int_range(r, 0, 40), g_rand_boolean(r));
        }
        /* The output always equals what the callbacks were told. */
        ck_assert(gic_irq_level(W.gic, cpu) == W.irq[cpu]);
    }
    g_rand_free(r);
    /* After a reset, a clean flow works. */
    gic_reset(W.gic);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert(!W.irq[i] && !W.fiq[i]);
    }
    /* Reset keeps the input lines (they are outside the GIC). */
    gic_set_spi(W.gic, 200, false);
    v2_enable_all();
    v2_spi(200, 0x10, 0x8, true);
    pulse(200);
    ck_assert(W.irq[3]);
    ck_assert_uint_eq(crd(3, GICC_IAR), 200);
    world_fini();
}
END_TEST

/* ------------------------------------------------------------------ */
/* GICv3 */

static void v3_wake(unsigned cpu)
{
    rwr(cpu, cpu * GIC_REDIST_STRIDE + GICR_WAKER, 4, 0);
}

static void v3_enable_all(bool group1)
{
    dwr(0, GICD_CTLR, GICD_CTLR_ENABLE_GRP0 | GICD_CTLR_ENABLE_GRP1);
    for (unsigned i = 0; i < W.n; i++) {
        v3_wake(i);
        icc_wr(i, ICC_PMR_EL1, 0xff);
        icc_wr(i, group1 ? ICC_IGRPEN1_EL1 : ICC_IGRPEN0_EL1, 1);
        if (group1) {
            rwr(i, sgi_off(i, GICR_IGROUPR0), 4, 0xffffffffu);
        }
        rwr(i, sgi_off(i, GICR_ISENABLER0), 4, 0xffff);   /* SGIs */
    }
}

static void v3_spi(unsigned irq, uint8_t prio, bool group1, uint64_t route)
{
    dwr8(0, GICD_IPRIORITYR + irq, prio);
    /* SPIs 52 and up are edge-triggered in these tests. */
    if (irq >= 52) {
        uint32_t off = GICD_ICFGR + (irq / 16) * 4;
        dwr(0, off, drd(0, off) | 2u << (2 * (irq % 16)));
    }
    if (group1) {
        bit_set(0, GICD_IGROUPR, irq);
    }
    wr_as(0, DIST_BASE + GICD_IROUTER + irq * 8, 8, route, mem_attrs_cpu(0));
    bit_set(0, GICD_ISENABLER, irq);
}

START_TEST(test_v3_ids_redist)
{
    world_init(3, 4, 128);
    ck_assert_ptr_null(gic_cpuif_region(W.gic, 0));
    ck_assert_uint_eq(mr_size(gic_redist_region(W.gic)), 4 * GIC_REDIST_STRIDE);
    ck_assert_uint_eq((drd(0, GICD_V3_PIDR2) >> 4) & 0xf, 3);
    ck_assert_uint_eq(drd(0, GICD_CTLR), GICD_CTLR_ARE | GICD_CTLR_DS);
    dwr(0, GICD_CTLR, 0);
    ck_assert_uint_eq(drd(0, GICD_CTLR), GICD_CTLR_ARE | GICD_CTLR_DS);
    uint32_t typer = drd(0, GICD_TYPER);
    ck_assert_uint_eq(typer & 0x1f, 3);
    ck_assert_uint_eq((typer >> 19) & 0x1f, 9);
    ck_assert_uint_eq(typer & (1u << 10), 0);   /* one security state */
    for (unsigned i = 0; i < 4; i++) {
        uint64_t t = rrd(0, i * GIC_REDIST_STRIDE + GICR_TYPER, 8);
        ck_assert_uint_eq((t >> 8) & 0xffff, i);
        ck_assert_uint_eq((t & GICR_TYPER_LAST) != 0, i == 3);
        ck_assert_uint_eq(t >> 32, gic_cpu_affinity(W.gic, i));
        ck_assert_uint_eq(rrd(0, i * GIC_REDIST_STRIDE + GICR_TYPER + 4, 4), t >> 32);
        ck_assert_uint_eq((rrd(0, i * GIC_REDIST_STRIDE + GICR_PIDR2, 4) >> 4) & 0xf, 3);
        ck_assert_uint_eq(rrd(0, i * GIC_REDIST_STRIDE + GICR_IIDR, 4), GICR_IIDR_VALUE);
    }
    /* Private registers in the Distributor are RAZ/WI with ARE. */
    dwr(0, GICD_ISENABLER, 0xffffffffu);
    ck_assert_uint_eq(drd(0, GICD_ISENABLER), 0);
    dwr8(0, GICD_IPRIORITYR + 3, 0x80);
    ck_assert_uint_eq(drd(0, GICD_IPRIORITYR), 0);
    /* 5 priority bits. */
    dwr8(0, GICD_IPRIORITYR + 40, 0xff);
    ck_assert_uint_eq(drd(0, GICD_IPRIORITYR + 40) & 0xff, 0xf8);
    /* Redistributor banks are separate. */
    rwr(0, sgi_off(1, GICR_ISENABLER0), 4, 0x8000001);
    rwr(0, sgi_off(2, GICR_IPRIORITYR + 4), 1, 0x90);
    ck_assert_uint_eq(rrd(0, sgi_off(1, GICR_ISENABLER0), 4), 0x8000001);
    ck_assert_uint_eq(rrd(0, sgi_off(0, GICR_ISENABLER0), 4), 0);
    ck_assert_uint_eq(rrd(3, sgi_off(2, GICR_IPRIORITYR + 4), 4), 0x90);
    ck_assert_uint_eq(rrd(3, sgi_off(1, GICR_IPRIORITYR + 4), 4), 0);
    ck_assert_uint_eq(rrd(0, sgi_off(0, GICR_ICFGR0), 4), 0xaaaaaaaau);
    rwr(0, sgi_off(0, GICR_ICFGR1), 4, 0x2u << 22);
    ck_assert_uint_eq(rrd(0, sgi_off(0, GICR_ICFGR1), 4), 0x2u << 22);
    /* ICC basics. */
    ck_assert_uint_eq(icc_rd(0, ICC_SRE_EL1), 7);
    ck_assert_uint_eq((icc_rd(0, ICC_CTLR_EL1) >> 8) & 7, 4);
    ck_assert_uint_eq(icc_rd(0, ICC_BPR0_EL1), 2);
    ck_assert_uint_eq(icc_rd(0, ICC_BPR1_EL1), 3);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0xff);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), GIC_SPURIOUS);
    uint64_t v;
    ck_assert(!gic_icc_read(W.gic, 0, GIC_SYSREG(3, 0, 12, 9, 1), &v));   /* AP1R1: 5 bits */
    ck_assert(!gic_icc_read(W.gic, 0, ICC_EOIR1_EL1, &v));
    ck_assert(!gic_icc_write(W.gic, 0, ICC_IAR1_EL1, 0));
    ck_assert(!gic_icc_read(W.gic, 4, ICC_PMR_EL1, &v));
    ck_assert(!gic_icc_read(W.gic, 0, GIC_SYSREG(3, 0, 1, 0, 0), &v));
    /* Outside the redistributors' frames. */
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

START_TEST(test_v3_waker_routing)
{
    world_init(3, 4, 64);
    ck_assert_uint_eq(rrd(0, 2 * GIC_REDIST_STRIDE + GICR_WAKER, 4),
                      GICR_WAKER_PROCESSOR_SLEEP | GICR_WAKER_CHILDREN_ASLEEP);
    dwr(0, GICD_CTLR, GICD_CTLR_ENABLE_GRP1);
    for (unsigned i = 0; i < 4; i++) {
        icc_wr(i, ICC_PMR_EL1, 0xff);
        icc_wr(i, ICC_IGRPEN1_EL1, 1);
    }
    v3_spi(40, 0x80, true, gic_cpu_affinity(W.gic, 2));
    ck_assert_uint_eq(rd_as(0, DIST_BASE + GICD_IROUTER + 40 * 8, 8, mem_attrs_cpu(0)), 2);
    gic_set_spi(W.gic, 40, true);
    /* CPU 2 is asleep: nothing signalled until it wakes. */
    ck_assert(!W.irq[2]);
    rwr(0, 2 * GIC_REDIST_STRIDE + GICR_WAKER, 4, 0);
    ck_assert_uint_eq(rrd(0, 2 * GIC_REDIST_STRIDE + GICR_WAKER, 4), 0);
    ck_assert(W.irq[2]);
    ck_assert(!W.irq[0] && !W.irq[1] && !W.irq[3]);
    rwr(0, 2 * GIC_REDIST_STRIDE + GICR_WAKER, 4, GICR_WAKER_PROCESSOR_SLEEP);
    ck_assert_uint_eq(rrd(0, 2 * GIC_REDIST_STRIDE + GICR_WAKER, 4), 0x6);
    ck_assert(!W.irq[2]);
    for (unsigned i = 0; i < 4; i++) {
        v3_wake(i);
    }
    ck_assert(W.irq[2]);
    /* Route to CPU 3 with a 32-bit write of the low half. */
    dwr(0, GICD_IROUTER + 40 * 8, 3);
    ck_assert(!W.irq[2] && W.irq[3]);
    ck_assert_uint_eq(icc_rd(3, ICC_HPPIR1_EL1), 40);
    /* An affinity nobody has: nowhere. */
    dwr(0, GICD_IROUTER + 40 * 8 + 4, 1);   /* Aff3 = 1 */
    for (unsigned i = 0; i < 4; i++) {
        ck_assert(!W.irq[i]);
    }
    /* 1-of-N: everyone is offered it; the first to acknowledge takes it. */
    wr_as(0, DIST_BASE + GICD_IROUTER + 40 * 8, 8, GICD_IROUTER_IRM, mem_attrs_cpu(0));
    for (unsigned i = 0; i < 4; i++) {
        ck_assert(W.irq[i]);
    }
    ck_assert_uint_eq(icc_rd(1, ICC_IAR1_EL1), 40);
    for (unsigned i = 0; i < 4; i++) {
        ck_assert(!W.irq[i]);
    }
    gic_set_spi(W.gic, 40, false);
    icc_wr(1, ICC_EOIR1_EL1, 40);
    ck_assert_uint_eq(icc_rd(1, ICC_RPR_EL1), 0xff);
    /* RES0 bits of IROUTER are not kept. */
    wr_as(0, DIST_BASE + GICD_IROUTER + 40 * 8, 8, ~0ull, mem_attrs_cpu(0));
    ck_assert_uint_eq(rd_as(0, DIST_BASE + GICD_IROUTER + 40 * 8, 8, mem_attrs_cpu(0)),
                      0xff80ffffffull);
    world_fini();
}
END_TEST

START_TEST(test_v3_icc_flow)
{
    world_init(3, 2, 64);
    v3_enable_all(true);
    v3_spi(50, 0x80, true, 0);
    v3_spi(51, 0x40, false, 0);   /* group 0: FIQ */
    gic_set_spi(W.gic, 50, true);
    ck_assert(W.irq[0] && !W.fiq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_HPPIR1_EL1), 50);
    ck_assert_uint_eq(icc_rd(0, ICC_HPPIR0_EL1), GIC_SPURIOUS);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR0_EL1), GIC_SPURIOUS);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), 50);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0x80);
    ck_assert_uint_eq(icc_rd(0, ICC_AP1R0_EL1), 1u << (0x80 >> 3));
    /* Group 0 not enabled on the CPU interface yet. */
    gic_set_spi(W.gic, 51, true);
    ck_assert(!W.fiq[0]);
    icc_wr(0, ICC_IGRPEN0_EL1, 1);
    ck_assert(W.fiq[0] && !W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), GIC_SPURIOUS);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR0_EL1), 51);
    ck_assert(!W.fiq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0x40);
    ck_assert_uint_eq(icc_rd(0, ICC_AP0R0_EL1), 1u << (0x40 >> 3));
    gic_set_spi(W.gic, 51, false);
    icc_wr(0, ICC_EOIR0_EL1, 51);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0x80);
    /* Level 50 still high: pending again after its EOI. */
    icc_wr(0, ICC_EOIR1_EL1, 50);
    ck_assert(W.irq[0]);
    gic_set_spi(W.gic, 50, false);
    ck_assert(!W.irq[0]);

    /* PMR masking and preemption via BPR1. */
    rwr(0, sgi_off(0, GICR_IPRIORITYR + 20), 1, 0x60);   /* PPI 20 */
    rwr(0, sgi_off(0, GICR_ISENABLER0), 4, 1u << 20);
    icc_wr(0, ICC_PMR_EL1, 0x60);
    gic_set_ppi(W.gic, 0, 20, true);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), GIC_SPURIOUS);
    icc_wr(0, ICC_PMR_EL1, 0x68);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_PMR_EL1), 0x68);
    /* Acknowledged with BPR1 = 6 ([7:6]): its group priority is 0x40, so
     * a 0x40 interrupt is in the same group and can't preempt it. */
    icc_wr(0, ICC_BPR1_EL1, 6);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), 20);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0x40);
    icc_wr(0, ICC_PMR_EL1, 0xff);
    v3_spi(52, 0x40, true, 0);
    pulse(52);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), GIC_SPURIOUS);
    gic_set_ppi(W.gic, 0, 20, false);
    icc_wr(0, ICC_EOIR1_EL1, 20);
    ck_assert(W.irq[0]);
    /* With BPR1 = 3 ([7:3]) 0x40 preempts a running 0x60. */
    icc_wr(0, ICC_BPR1_EL1, 3);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), 52);
    icc_wr(0, ICC_EOIR1_EL1, 52);
    gic_set_ppi(W.gic, 0, 20, true);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), 20);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0x60);
    pulse(52);
    ck_assert(W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), 52);
    ck_assert_uint_eq(icc_rd(0, ICC_AP1R0_EL1), (1u << 8) | (1u << 12));
    icc_wr(0, ICC_EOIR1_EL1, 52);
    gic_set_ppi(W.gic, 0, 20, false);
    icc_wr(0, ICC_EOIR1_EL1, 20);
    ck_assert(!W.irq[0]);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0xff);
    /* CBPR: BPR1 reads BPR0 + 1 and ignores writes. */
    icc_wr(0, ICC_CTLR_EL1, ICC_CTLR_CBPR);
    icc_wr(0, ICC_BPR0_EL1, 4);
    icc_wr(0, ICC_BPR1_EL1, 7);
    ck_assert_uint_eq(icc_rd(0, ICC_BPR1_EL1), 5);
    icc_wr(0, ICC_CTLR_EL1, 0);
    ck_assert_uint_eq(icc_rd(0, ICC_BPR1_EL1), 3);

    /* EOImode 1 and ICC_DIR_EL1. */
    icc_wr(0, ICC_CTLR_EL1, ICC_CTLR_EOIMODE);
    ck_assert_uint_eq(icc_rd(0, ICC_CTLR_EL1) & 3, ICC_CTLR_EOIMODE);
    pulse(52);
    ck_assert_uint_eq(icc_rd(0, ICC_IAR1_EL1), 52);
    icc_wr(0, ICC_EOIR1_EL1, 52);
    ck_assert_uint_eq(icc_rd(0, ICC_RPR_EL1), 0xff);
    pulse(52);
    ck_assert(!W.irq[0]);
    icc_wr(0, ICC_DIR_EL1, 52);
    ck_assert(W.irq[0]);
    world_fini();
}
END_TEST

START_TEST(test_v3_sgi1r)
{
    world_init(3, 18, 64);   /* CPUs 16 and 17 are Aff1 = 1 */
    v3_enable_all(true);
    ck_assert_uint_eq(gic_cpu_affinity(W.gic, 17), 0x101);
    /* Target list in cluster 0: CPUs 1 and 3, SGI 6. */
    icc_wr(0, ICC_SGI1R_EL1, (6ull << ICC_SGIR_INTID_SHIFT) | 0xa);
    for (unsigned i = 0; i < 18; i++) {
        ck_assert_msg(W.irq[i] == (i == 1 || i == 3), "cpu %u", i);
    }
    ck_assert_uint_eq(icc_rd(3, ICC_IAR1_EL1), 6);   /* no source ID on GICv3 */
    icc_wr(3, ICC_EOIR1_EL1, 6);
    ck_assert_uint_eq(icc_rd(1, ICC_IAR1_EL1), 6);
    icc_wr(1, ICC_EOIR1_EL1, 6);
    /* Cluster 1, Aff0 1: CPU 17. */
    icc_wr(0, ICC_SGI1R_EL1, (2ull << ICC_SGIR_INTID_SHIFT) | (1ull << ICC_SGIR_AFF1_SHIFT) | 0x2);
    for (unsigned i = 0; i < 18; i++) {
        ck_assert_msg(W.irq[i] == (i == 17), "cpu %u", i);
    }
    ck_assert_uint_eq(rrd(0, sgi_off(17, GICR_ISPENDR0), 4), 1u << 2);
    rwr(0, sgi_off(17, GICR_ICPENDR0), 4, 1u << 2);
    ck_assert(!W.irq[17]);
    /* IRM: everyone but self. */
    icc_wr(5, ICC_SGI1R_EL1, (9ull << ICC_SGIR_INTID_SHIFT) | ICC_SGIR_IRM);
    for (unsigned i = 0; i < 18; i++) {
        ck_assert_msg(W.irq[i] == (i != 5), "cpu %u", i);
        if (i != 5) {
            ck_assert_uint_eq(icc_rd(i, ICC_IAR1_EL1), 9);
            icc_wr(i, ICC_EOIR1_EL1, 9);
        }
    }
    /* Group mismatch: a group-1 SGI to a group-0 SGI is not forwarded. */
    rwr(0, sgi_off(4, GICR_IGROUPR0), 4, 0xffffffffu & ~(1u << 3));
    icc_wr(0, ICC_SGI1R_EL1, (3ull << ICC_SGIR_INTID_SHIFT) | 0x10);
    ck_assert(!W.irq[4] && !W.fiq[4]);
    ck_assert_uint_eq(tu_num_reports(), 1);
    icc_wr(4, ICC_IGRPEN0_EL1, 1);
    icc_wr(0, ICC_SGI0R_EL1, (3ull << ICC_SGIR_INTID_SHIFT) | 0x10);
    ck_assert(W.fiq[4] && !W.irq[4]);
    ck_assert_uint_eq(icc_rd(4, ICC_IAR0_EL1), 3);
    icc_wr(4, ICC_EOIR0_EL1, 3);
    ck_assert(!W.fiq[4]);
    /* Redistributor ISPENDR0 sets SGIs on GICv3. */
    rwr(0, sgi_off(7, GICR_ISPENDR0), 4, 1u << 1);
    ck_assert(W.irq[7]);
    world_fini();
}
END_TEST

START_TEST(test_v3_garbage)
{
    GRand *r = g_rand_new_with_seed(0x3c3);

    world_init(3, 3, 160);
    for (unsigned round = 0; round < 40000; round++) {
        unsigned cpu = (unsigned)g_rand_int_range(r, 0, 3);
        unsigned size = 1u << g_rand_int_range(r, 0, 4);
        int where = g_rand_int_range(r, 0, 3);
        uint64_t v = (uint64_t)g_rand_int(r) << 32 | g_rand_int(r);

        if (where == 2) {
            uint32_t enc = GIC_SYSREG(3, 0, 12, (unsigned)g_rand_int_range(r, 8, 13),
                                      (unsigned)g_rand_int_range(r, 0, 8));
            if (g_rand_int_range(r, 0, 10) == 0) {
                enc = g_rand_int(r) & 0xffff;
            }
            if (g_rand_boolean(r)) {
                gic_icc_write(W.gic, cpu, enc, v);
            } else {
                gic_icc_read(W.gic, cpu, enc, &v);
            }
        } else {
            uint64_t base = where ? REDIST_BASE : DIST_BASE;
            uint64_t span = where ? 3 * GIC_REDIST_STRIDE : GIC_DIST_SIZE;
            uint64_t off = (uint64_t)g_rand_int_range(r, 0, (gint32)span) & ~(uint64_t)(size - 1);
            AddressSpace *as = cpu_view_as(W.view[cpu]);

            if (g_rand_boolean(r)) {
                as_write_val(as, base + off, mem_attrs_cpu(cpu), size, MEM_LITTLE_ENDIAN, v);
            } else {
                as_read_val(as, base + off, mem_attrs_cpu(cpu), size, MEM_LITTLE_ENDIAN, &v);
            }
        }
        if (round % 5 == 0) {
            gic_set_spi(W.gic, (unsigned)g_rand_int_range(r, 0, 200), g_rand_boolean(r));
        }
        ck_assert(gic_irq_level(W.gic, cpu) == W.irq[cpu]);
        ck_assert(gic_fiq_level(W.gic, cpu) == W.fiq[cpu]);
    }
    g_rand_free(r);
    gic_reset(W.gic);
    gic_set_spi(W.gic, 100, false);
    v3_enable_all(true);
    v3_spi(100, 0x10, true, 1);
    pulse(100);
    ck_assert(W.irq[1]);
    ck_assert_uint_eq(icc_rd(1, ICC_IAR1_EL1), 100);
    world_fini();
}
END_TEST

static Suite *gic_suite(void)
{
    Suite *s = suite_create("gic");
    TCase *tc = tu_tcase(s, "v2");

    tcase_add_test(tc, test_v2_ids_reset);
    tcase_add_test(tc, test_v2_level_flow);
    tcase_add_test(tc, test_v2_edge_flow);
    tcase_add_test(tc, test_v2_sgi);
    tcase_add_test(tc, test_v2_banked);
    tcase_add_test(tc, test_v2_priority_preemption);
    tcase_add_test(tc, test_v2_ppi_and_targets);
    tcase_add_test(tc, test_v2_groups_fiq);
    tcase_add_test(tc, test_v2_cpuif_per_cpu_eoimode);
    tcase_add_test(tc, test_v2_garbage);
    tc = tu_tcase(s, "v3");
    tcase_add_test(tc, test_v3_ids_redist);
    tcase_add_test(tc, test_v3_waker_routing);
    tcase_add_test(tc, test_v3_icc_flow);
    tcase_add_test(tc, test_v3_sgi1r);
    tcase_add_test(tc, test_v3_garbage);
    return s;
}

int main(void)
{
    return tu_run(gic_suite());
}
