/*
 * Local APIC and I/O APIC device models (devices/apic.h, devices/ioapic.h).
 *
 * A fake machine: N CPU views on a 4 GiB global map (with RAM pages where
 * the APIC page sits by default and where the tests relocate it, so what
 * shows through is visible), one APIC per CPU on a bus, an I/O APIC in the
 * global map, and a fake ApicHost that records INTR levels, NMI/SMI/INIT/
 * SIPI, timer requests and page moves, with a virtual clock the tests set.
 * Register accesses go through each CPU's own view, as a CPU's would.
 */
#include "tests/test_util.h"

#include "devices/apic.h"
#include "devices/ioapic.h"

#define MAX_CPUS 8
#define RELOC_BASE 0xfed00000ull
#define RAM_FILL_DEFAULT 0xab
#define RAM_FILL_RELOC 0xcd

typedef struct FakeCpu {
    bool intr;
    unsigned intr_changes;
    unsigned nmi, smi, init, sipi;
    uint8_t sipi_vector;
    bool timer_armed;
    uint64_t deadline;
    unsigned timer_sets, timer_cancels;
    unsigned mmio_changes;
    uint64_t mmio_base;
    bool mmio_enabled;
    int extint_vector;
    unsigned extint_acks;
} FakeCpu;

typedef struct World {
    uint64_t now;
    ApicBus *bus;
    unsigned n;
    Apic *apic[MAX_CPUS];
    FakeCpu cpu[MAX_CPUS];
    CpuView *view[MAX_CPUS];
    MemRegion *global;
    IoApic *ioapic;
} World;

static World W;

/* --- The fake host. --- */

static void h_set_intr(void *o, unsigned cpu, bool level)
{
    (void)o;
    W.cpu[cpu].intr = level;
    W.cpu[cpu].intr_changes++;
}

static void h_nmi(void *o, unsigned cpu)
{
    (void)o;
    W.cpu[cpu].nmi++;
}

static void h_smi(void *o, unsigned cpu)
{
    (void)o;
    W.cpu[cpu].smi++;
}

static void h_init(void *o, unsigned cpu)
{
    (void)o;
    W.cpu[cpu].init++;
}

static void h_sipi(void *o, unsigned cpu, uint8_t vector)
{
    (void)o;
    W.cpu[cpu].sipi++;
    W.cpu[cpu].sipi_vector = vector;
}

static int h_extint_ack(void *o, unsigned cpu)
{
    (void)o;
    W.cpu[cpu].extint_acks++;
    return W.cpu[cpu].extint_vector;
}

static uint64_t h_clock(void *o)
{
    (void)o;
    return W.now;
}

static void h_timer_set(void *o, unsigned cpu, uint64_t deadline)
{
    (void)o;
    ck_assert_msg(deadline > W.now, "timer deadline %" PRIu64 " not after now %" PRIu64,
                  deadline, W.now);
    W.cpu[cpu].timer_armed = true;
    W.cpu[cpu].deadline = deadline;
    W.cpu[cpu].timer_sets++;
}

static void h_timer_cancel(void *o, unsigned cpu)
{
    (void)o;
    W.cpu[cpu].timer_armed = false;
    W.cpu[cpu].timer_cancels++;
}

static void h_mmio_changed(void *o, unsigned cpu, uint64_t base, bool enabled)
{
    (void)o;
    W.cpu[cpu].mmio_changes++;
    W.cpu[cpu].mmio_base = base;
    W.cpu[cpu].mmio_enabled = enabled;
    if (W.view[cpu]) {
        cpu_view_set_apic_base(W.view[cpu], base);
        cpu_view_set_apic_enabled(W.view[cpu], enabled);
    }
}

static const ApicHost fake_host = {
    .set_intr = h_set_intr,
    .nmi = h_nmi,
    .smi = h_smi,
    .init = h_init,
    .sipi = h_sipi,
    .extint_ack = h_extint_ack,
    .clock_ns = h_clock,
    .timer_set = h_timer_set,
    .timer_cancel = h_timer_cancel,
    .mmio_changed = h_mmio_changed,
};

/* Run the virtual clock to `t`, firing every timer on its deadline. */
static void run_to(uint64_t t)
{
    for (;;) {
        int best = -1;

        for (unsigned i = 0; i < W.n; i++) {
            if (W.cpu[i].timer_armed && W.cpu[i].deadline <= t &&
                (best < 0 || W.cpu[i].deadline < W.cpu[best].deadline)) {
                best = (int)i;
            }
        }
        if (best < 0) {
            break;
        }
        W.now = W.cpu[best].deadline;
        W.cpu[best].timer_armed = false;
        apic_timer_fire(W.apic[best]);
    }
    W.now = t;
}

/* --- World set-up. --- */

/* n CPUs with APIC IDs ids[i] (NULL: i), CPU 0 the BSP. */
static void world_init_ids(unsigned n, const uint32_t *ids, bool x2apic)
{
    GError *err = NULL;

    memset(&W, 0, sizeof(W));
    W.n = n;
    W.bus = apic_bus_new();
    W.global = tu_container("system", 1ull << 32);
    tu_put(W.global, APIC_DEFAULT_BASE, tu_ram("ram.fee", 0x1000, RAM_FILL_DEFAULT), 0);
    tu_put(W.global, RELOC_BASE, tu_ram("ram.fed", 0x1000, RAM_FILL_RELOC), 0);
    W.ioapic = ioapic_new(W.bus, 8, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert(mr_add_subregion(W.global, IOAPIC_DEFAULT_BASE, ioapic_region(W.ioapic), &err));
    for (unsigned i = 0; i < n; i++) {
        ApicConfig cfg = {
            .cpu_index = i,
            .apic_id = ids ? ids[i] : i,
            .bsp = i == 0,
            .x2apic = x2apic,
            .host = &fake_host,
            .host_opaque = &W,
        };
        W.apic[i] = apic_new(W.bus, &cfg, &err);
        TU_ASSERT_NO_ERROR(err);
        ck_assert_ptr_nonnull(W.apic[i]);
        mr_ref(apic_region(W.apic[i]));
        CpuViewConfig vc = {
            .cpu_index = i,
            .global_map = W.global,
            .apic = apic_region(W.apic[i]),
            .apic_base = APIC_DEFAULT_BASE,
        };
        W.view[i] = cpu_view_new(&vc, &err);
        TU_ASSERT_NO_ERROR(err);
        ck_assert_ptr_nonnull(W.view[i]);
    }
}

static void world_init(unsigned n)
{
    world_init_ids(n, NULL, false);
}

static void world_fini(void)
{
    for (unsigned i = 0; i < W.n; i++) {
        cpu_view_free(W.view[i]);
        W.view[i] = NULL;
    }
    mr_unref(W.global);
    ioapic_free(W.ioapic);
    for (unsigned i = 0; i < W.n; i++) {
        apic_free(W.apic[i]);
    }
    apic_bus_free(W.bus);
    memset(&W, 0, sizeof(W));
}

static AddressSpace *as_of(unsigned cpu)
{
    return cpu_view_as(W.view[cpu]);
}

/* Register accesses through the CPU's own view, at its APIC's base. */
static uint32_t rd(unsigned cpu, uint32_t off)
{
    return (uint32_t)tu_rd(as_of(cpu), apic_mmio_base(W.apic[cpu]) + off, 4);
}

static void wr(unsigned cpu, uint32_t off, uint32_t v)
{
    tu_wr(as_of(cpu), apic_mmio_base(W.apic[cpu]) + off, 4, v);
}

static bool irr_has(unsigned cpu, unsigned v)
{
    return (rd(cpu, APIC_REG_IRR + (v / 32) * 0x10) >> (v % 32)) & 1u;
}

static bool isr_has(unsigned cpu, unsigned v)
{
    return (rd(cpu, APIC_REG_ISR + (v / 32) * 0x10) >> (v % 32)) & 1u;
}

static bool tmr_has(unsigned cpu, unsigned v)
{
    return (rd(cpu, APIC_REG_TMR + (v / 32) * 0x10) >> (v % 32)) & 1u;
}

/* IRR bit through apic_peek (works in x2APIC mode too). */
static bool irr_peek(unsigned cpu, unsigned v)
{
    return (apic_peek(W.apic[cpu], APIC_REG_IRR + (v / 32) * 0x10) >> (v % 32)) & 1u;
}

static void sw_enable(unsigned cpu)
{
    wr(cpu, APIC_REG_SVR, APIC_SVR_ENABLE | 0xff);
}

static void sw_enable_all(void)
{
    for (unsigned i = 0; i < W.n; i++) {
        sw_enable(i);
    }
}

/* Send an IPI from `cpu` through its ICR. */
static void ipi(unsigned cpu, uint8_t dest, uint32_t lo)
{
    wr(cpu, APIC_REG_ICR_HI, (uint32_t)dest << 24);
    wr(cpu, APIC_REG_ICR_LO, lo);
}

static uint32_t icr(unsigned vector, unsigned dm, bool logical, unsigned sh)
{
    return vector | dm << APIC_ICR_DM_SHIFT | (logical ? APIC_ICR_LOGICAL : 0) |
           APIC_ICR_ASSERT | sh << APIC_ICR_SH_SHIFT;
}

/* Bitmask of the CPUs whose IRR holds `v`. */
static unsigned irr_set(unsigned v)
{
    unsigned m = 0;

    for (unsigned i = 0; i < W.n; i++) {
        m |= irr_peek(i, v) ? 1u << i : 0;
    }
    return m;
}

/* Take and EOI everything pending on `cpu`. */
static void drain(unsigned cpu)
{
    int v;

    while ((v = apic_take_interrupt(W.apic[cpu])) >= 0) {
        wr(cpu, APIC_REG_EOI, 0);
    }
}

static void drain_all(void)
{
    for (unsigned i = 0; i < W.n; i++) {
        drain(i);
    }
}

static ApicMessage fixed_msg(uint8_t vector, uint8_t dest, bool level)
{
    return (ApicMessage){ .vector = vector, .delivery_mode = APIC_DM_FIXED, .dest = dest,
                          .level = level };
}

static bool has_report(const char *needle)
{
    for (guint i = 0; i < tu_num_reports(); i++) {
        if (strstr(tu_report(i), needle)) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ */

START_TEST(test_id_version_reset)
{
    static const uint32_t ids[3] = { 0, 5, 0x2a };

    world_init_ids(3, ids, false);
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_eq(rd(i, APIC_REG_ID), ids[i] << 24);
        ck_assert_uint_eq(apic_id(W.apic[i]), ids[i]);
        ck_assert_uint_eq(rd(i, APIC_REG_VERSION), 0x00050014u);
        /* 10.4.7.1 power-up values. */
        ck_assert_uint_eq(rd(i, APIC_REG_SVR), 0xff);
        ck_assert_uint_eq(rd(i, APIC_REG_DFR), 0xffffffffu);
        ck_assert_uint_eq(rd(i, APIC_REG_LDR), 0);
        ck_assert_uint_eq(rd(i, APIC_REG_TPR), 0);
        ck_assert_uint_eq(rd(i, APIC_REG_ESR), 0);
        ck_assert_uint_eq(rd(i, APIC_REG_ICR_LO), 0);
        ck_assert_uint_eq(rd(i, APIC_REG_TIMER_INIT), 0);
        ck_assert_uint_eq(rd(i, APIC_REG_TIMER_CUR), 0);
        ck_assert_uint_eq(rd(i, APIC_REG_TIMER_DIV), 0);
        for (uint32_t off = APIC_REG_LVT_TIMER; off <= APIC_REG_LVT_ERROR; off += 0x10) {
            ck_assert_uint_eq(rd(i, off), APIC_LVT_MASKED);
        }
        for (unsigned k = 0; k < 8; k++) {
            ck_assert_uint_eq(rd(i, APIC_REG_IRR + k * 0x10), 0);
            ck_assert_uint_eq(rd(i, APIC_REG_ISR + k * 0x10), 0);
            ck_assert_uint_eq(rd(i, APIC_REG_TMR + k * 0x10), 0);
        }
    }
    ck_assert_uint_eq(apic_get_base_msr(W.apic[0]), 0xfee00900ull);  /* BSP | EN */
    ck_assert_uint_eq(apic_get_base_msr(W.apic[1]), 0xfee00800ull);
    /* Creating the APICs moved nothing. */
    ck_assert_uint_eq(W.cpu[0].mmio_changes, 0);

    /* The xAPIC ID is writable (bits 31:24); the version is not. */
    wr(1, APIC_REG_ID, 0x07123456);
    ck_assert_uint_eq(rd(1, APIC_REG_ID), 0x07000000u);
    ck_assert_uint_eq(apic_id(W.apic[1]), 7);
    wr(1, APIC_REG_VERSION, 0);
    ck_assert_uint_eq(rd(1, APIC_REG_VERSION), 0x00050014u);
    ck_assert(has_report("read-only"));
    /* INIT keeps the ID; RESET restores the initial one. */
    wr(1, APIC_REG_TPR, 0x40);
    apic_init_reset(W.apic[1]);
    ck_assert_uint_eq(apic_id(W.apic[1]), 7);
    ck_assert_uint_eq(rd(1, APIC_REG_TPR), 0);
    apic_reset(W.apic[1]);
    ck_assert_uint_eq(apic_id(W.apic[1]), 5);

    /* Duplicate IDs and CPU indices are refused. */
    GError *err = NULL;
    ApicConfig dup = { .cpu_index = 7, .apic_id = 5 };
    ck_assert_ptr_null(apic_new(W.bus, &dup, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    ApicConfig bad = { .cpu_index = 7, .apic_id = 0xff };
    ck_assert_ptr_null(apic_new(W.bus, &bad, &err));
    TU_ASSERT_MEM_ERROR(err, MEM_ERROR_INVALID_ARGUMENT);
    world_fini();
}
END_TEST

START_TEST(test_tpr_ppr)
{
    world_init(1);
    sw_enable(0);
    Apic *a = W.apic[0];

    wr(0, APIC_REG_TPR, 0xffffff35u);  /* bits 31:8 reserved */
    ck_assert_uint_eq(rd(0, APIC_REG_TPR), 0x35);
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x35);  /* ISR empty: PPR = TPR */
    ck_assert_uint_eq(apic_get_tpr(a), 0x35);

    /* Vector 0x52 in service: its class (0x50) is above TPR's class. */
    wr(0, APIC_REG_TPR, 0);
    ApicMessage m = fixed_msg(0x52, 0, false);
    ck_assert(apic_deliver(a, &m));
    ck_assert_int_eq(apic_take_interrupt(a), 0x52);
    wr(0, APIC_REG_TPR, 0x35);
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x50);
    wr(0, APIC_REG_TPR, 0x5f);  /* same class, TPR wins with its subclass */
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x5f);
    wr(0, APIC_REG_TPR, 0x61);
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x61);
    apic_set_tpr(a, 0x20);  /* CR8 path */
    ck_assert_uint_eq(rd(0, APIC_REG_TPR), 0x20);
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x50);
    /* APR: ISR class 0x50 above TPR class: the highest class. */
    ck_assert_uint_eq(rd(0, APIC_REG_APR), 0x50);
    wr(0, APIC_REG_EOI, 0);
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x20);
    ck_assert_uint_eq(rd(0, APIC_REG_APR), 0x20);
    world_fini();
}
END_TEST

START_TEST(test_irr_isr_eoi_priorities)
{
    world_init(1);
    sw_enable(0);
    Apic *a = W.apic[0];
    ApicMessage m;

    ck_assert(!W.cpu[0].intr);
    m = fixed_msg(0x40, 0, false);
    apic_deliver(a, &m);
    ck_assert(W.cpu[0].intr);
    ck_assert(irr_has(0, 0x40));
    ck_assert_int_eq(apic_pending_vector(a), 0x40);
    apic_ack(a, 0x40);
    ck_assert(!irr_has(0, 0x40));
    ck_assert(isr_has(0, 0x40));
    ck_assert(!W.cpu[0].intr);

    /* Same class: waits for the EOI. */
    m = fixed_msg(0x45, 0, false);
    apic_deliver(a, &m);
    ck_assert(irr_has(0, 0x45));
    ck_assert_int_eq(apic_pending_vector(a), -1);
    ck_assert(!W.cpu[0].intr);
    /* Lower class: waits too. */
    m = fixed_msg(0x32, 0, false);
    apic_deliver(a, &m);
    ck_assert_int_eq(apic_pending_vector(a), -1);
    /* Higher class preempts. */
    m = fixed_msg(0x80, 0, false);
    apic_deliver(a, &m);
    ck_assert(W.cpu[0].intr);
    ck_assert_int_eq(apic_take_interrupt(a), 0x80);
    ck_assert(isr_has(0, 0x80) && isr_has(0, 0x40));
    ck_assert_uint_eq(rd(0, APIC_REG_PPR), 0x80);

    /* EOI retires the highest in-service vector first. */
    wr(0, APIC_REG_EOI, 0);
    ck_assert(!isr_has(0, 0x80));
    ck_assert(isr_has(0, 0x40));
    ck_assert_int_eq(apic_pending_vector(a), -1);
    wr(0, APIC_REG_EOI, 0);
    ck_assert(!isr_has(0, 0x40));
    ck_assert_int_eq(apic_pending_vector(a), 0x45);  /* highest waiting one */
    ck_assert(W.cpu[0].intr);

    /* TPR holds back classes at or below its own. */
    wr(0, APIC_REG_TPR, 0x40);
    ck_assert_int_eq(apic_pending_vector(a), -1);
    ck_assert(!W.cpu[0].intr);
    wr(0, APIC_REG_TPR, 0x3f);
    ck_assert_int_eq(apic_take_interrupt(a), 0x45);
    wr(0, APIC_REG_TPR, 0);
    ck_assert_int_eq(apic_take_interrupt(a), -1);  /* 0x32 is below 0x45 in service */
    wr(0, APIC_REG_EOI, 0);
    ck_assert_int_eq(apic_take_interrupt(a), 0x32);
    wr(0, APIC_REG_EOI, 0);
    ck_assert_int_eq(apic_take_interrupt(a), -1);
    ck_assert(!W.cpu[0].intr);
    world_fini();
}
END_TEST

START_TEST(test_ipi_destinations)
{
    world_init(4);
    sw_enable_all();

    /* Physical, to ID 2. */
    ipi(0, 2, icr(0x30, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x30), 1u << 2);
    ck_assert_uint_eq(rd(0, APIC_REG_ICR_LO) & APIC_ICR_BUSY, 0);  /* idle */
    ck_assert_uint_eq(rd(0, APIC_REG_ICR_HI), 2u << 24);
    ck_assert(!tmr_has(2, 0x30));
    drain_all();
    /* A level-triggered IPI goes out edge-triggered (Table 10-3 note 2). */
    ipi(0, 2, icr(0x31, APIC_DM_FIXED, false, APIC_SH_NONE) | APIC_ICR_LEVEL);
    ck_assert_uint_eq(irr_set(0x31), 1u << 2);
    ck_assert(!tmr_has(2, 0x31));
    drain_all();
    /* Physical broadcast. */
    ipi(3, 0xff, icr(0x32, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x32), 0xf);
    drain_all();
    /* No such ID: nobody. */
    ipi(3, 9, icr(0x33, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x33), 0);

    /* Logical, flat model: one LDR bit per CPU. */
    for (unsigned i = 0; i < 4; i++) {
        wr(i, APIC_REG_DFR, APIC_DFR_FLAT);
        wr(i, APIC_REG_LDR, (1u << i) << 24 | 0x00ffffff);  /* low bits reserved */
        ck_assert_uint_eq(rd(i, APIC_REG_LDR), (1u << i) << 24);
    }
    ipi(0, 0x05, icr(0x34, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x34), 0x5);
    ipi(0, 0xff, icr(0x35, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x35), 0xf);
    ipi(0, 0x30, icr(0x36, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x36), 0);
    drain_all();

    /* Logical, cluster model: cluster 1 = CPUs 0,1; cluster 2 = CPUs 2,3. */
    static const uint8_t ldr[4] = { 0x11, 0x12, 0x21, 0x22 };
    for (unsigned i = 0; i < 4; i++) {
        wr(i, APIC_REG_DFR, APIC_DFR_CLUSTER);
        ck_assert_uint_eq(rd(i, APIC_REG_DFR), APIC_DFR_CLUSTER);
        wr(i, APIC_REG_LDR, (uint32_t)ldr[i] << 24);
    }
    ipi(0, 0x13, icr(0x40, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x40), 0x3);
    ipi(0, 0x22, icr(0x41, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x41), 0x8);
    ipi(0, 0x31, icr(0x42, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x42), 0);
    ipi(0, 0xff, icr(0x43, APIC_DM_FIXED, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x43), 0xf);
    drain_all();

    /* Shorthands ignore the destination. */
    ipi(1, 0, icr(0x50, APIC_DM_FIXED, false, APIC_SH_SELF));
    ck_assert_uint_eq(irr_set(0x50), 0x2);
    ipi(1, 0, icr(0x51, APIC_DM_FIXED, false, APIC_SH_ALL));
    ck_assert_uint_eq(irr_set(0x51), 0xf);
    ipi(1, 1, icr(0x52, APIC_DM_FIXED, true, APIC_SH_ALL_BUT_SELF));
    ck_assert_uint_eq(irr_set(0x52), 0xd);
    drain_all();

    /* Invalid combination (Table 10-3): NMI to self is not sent. */
    ipi(1, 0, icr(0, APIC_DM_NMI, false, APIC_SH_SELF));
    ck_assert_uint_eq(W.cpu[1].nmi, 0);
    ck_assert(has_report("invalid"));
    /* A globally disabled APIC is not on the bus. */
    ck_assert(apic_set_base_msr(W.apic[3], APIC_DEFAULT_BASE));
    W.cpu[3].nmi = 0;
    ipi(0, 0xff, icr(0x53, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x53), 0x7);
    ipi(0, 3, icr(0, APIC_DM_NMI, false, APIC_SH_NONE));
    ck_assert_uint_eq(W.cpu[3].nmi, 0);
    world_fini();
}
END_TEST

START_TEST(test_lowest_priority)
{
    world_init(4);
    sw_enable_all();
    for (unsigned i = 0; i < 4; i++) {
        wr(i, APIC_REG_LDR, (1u << i) << 24);  /* flat model (DFR reset value) */
    }
    wr(0, APIC_REG_TPR, 0x20);
    wr(1, APIC_REG_TPR, 0x10);
    wr(2, APIC_REG_TPR, 0x10);
    wr(3, APIC_REG_TPR, 0x30);

    /* Lowest TPR; between equals, the lowest APIC ID. */
    ipi(0, 0x0f, icr(0x60, APIC_DM_LOWEST, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x60), 0x2);
    wr(1, APIC_REG_TPR, 0x40);
    ipi(0, 0x0f, icr(0x61, APIC_DM_LOWEST, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x61), 0x4);
    /* Only among the destination. */
    ipi(0, 0x0a, icr(0x62, APIC_DM_LOWEST, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x62), 0x8);  /* CPUs 1 (0x40) and 3 (0x30) */
    /* Software-disabled APICs take no part. */
    wr(2, APIC_REG_SVR, 0xff);
    ipi(0, 0x0f, icr(0x63, APIC_DM_LOWEST, true, APIC_SH_NONE));
    ck_assert_uint_eq(irr_set(0x63), 0x1);
    /* All excluding self: never the sender. */
    ipi(0, 0, icr(0x64, APIC_DM_LOWEST, false, APIC_SH_ALL_BUT_SELF));
    ck_assert_uint_eq(irr_set(0x64), 0x8);
    /* From an I/O APIC-style message: physical broadcast, lowest priority. */
    ApicMessage m = { .vector = 0x65, .delivery_mode = APIC_DM_LOWEST, .dest = 0xff };
    ck_assert_uint_eq(apic_bus_send(W.bus, &m, NULL), 1);
    ck_assert_uint_eq(irr_set(0x65), 0x1);
    world_fini();
}
END_TEST

START_TEST(test_nmi_smi_init_sipi)
{
    world_init(4);
    sw_enable_all();

    ipi(0, 1, icr(0, APIC_DM_NMI, false, APIC_SH_NONE));
    ipi(0, 2, icr(0, APIC_DM_SMI, false, APIC_SH_NONE));
    ipi(0, 3, icr(0, APIC_DM_INIT, false, APIC_SH_NONE) | APIC_ICR_LEVEL);
    ck_assert_uint_eq(W.cpu[1].nmi, 1);
    ck_assert_uint_eq(W.cpu[2].smi, 1);
    ck_assert_uint_eq(W.cpu[3].init, 1);
    ck_assert_uint_eq(W.cpu[0].nmi + W.cpu[0].smi + W.cpu[0].init, 0);
    ck_assert_uint_eq(W.cpu[1].smi + W.cpu[1].init + W.cpu[2].nmi + W.cpu[3].nmi, 0);

    /* INIT level de-assert: dropped (not supported since Pentium 4). */
    ipi(0, 3, (APIC_DM_INIT << APIC_ICR_DM_SHIFT) | APIC_ICR_LEVEL);
    ck_assert_uint_eq(W.cpu[3].init, 1);

    /* The classic INIT-SIPI-SIPI to all APs. */
    wr(0, APIC_REG_ICR_LO, icr(0, APIC_DM_INIT, false, APIC_SH_ALL_BUT_SELF));
    wr(0, APIC_REG_ICR_LO, icr(0x9a, APIC_DM_STARTUP, false, APIC_SH_ALL_BUT_SELF));
    for (unsigned i = 1; i < 4; i++) {
        ck_assert_uint_eq(W.cpu[i].sipi, 1);
        ck_assert_uint_eq(W.cpu[i].sipi_vector, 0x9a);
    }
    ck_assert_uint_eq(W.cpu[0].sipi + W.cpu[0].init, 0);
    ck_assert_uint_eq(W.cpu[2].init, 1);

    /* Software-disabled: INIT, NMI, SMI and SIPI still arrive (10.4.7.2);
     * fixed interrupts do not. */
    wr(2, APIC_REG_SVR, 0xff);
    ipi(0, 2, icr(0, APIC_DM_NMI, false, APIC_SH_NONE));
    ipi(0, 2, icr(0x10, APIC_DM_STARTUP, false, APIC_SH_NONE));
    ipi(0, 2, icr(0x70, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert_uint_eq(W.cpu[2].nmi, 1);
    ck_assert_uint_eq(W.cpu[2].sipi, 2);
    ck_assert_uint_eq(W.cpu[2].sipi_vector, 0x10);
    ck_assert(!irr_has(2, 0x70));

    /* Messages from the bus directly (I/O APIC side). */
    ApicMessage m = { .delivery_mode = APIC_DM_SMI, .dest = 1 };
    ck_assert_uint_eq(apic_bus_send(W.bus, &m, NULL), 1);
    ck_assert_uint_eq(W.cpu[1].smi, 1);
    world_fini();
}
END_TEST

START_TEST(test_timer_oneshot)
{
    world_init(1);
    sw_enable(0);
    Apic *a = W.apic[0];

    W.now = 1000;
    wr(0, APIC_REG_LVT_TIMER, 0x40);  /* one-shot, unmasked */
    wr(0, APIC_REG_TIMER_DIV, 0x0);   /* divide by 2: 20 ns per count at 100 MHz */
    wr(0, APIC_REG_TIMER_INIT, 100);
    ck_assert(W.cpu[0].timer_armed);
    ck_assert_uint_eq(W.cpu[0].deadline, 1000 + 100 * 20);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 100);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_INIT), 100);
    run_to(1500);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 75);
    run_to(2999);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 1);
    ck_assert(!irr_has(0, 0x40));
    run_to(3000);
    ck_assert(irr_has(0, 0x40));
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 0);
    ck_assert(!W.cpu[0].timer_armed);
    run_to(100000);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 0);  /* stays at 0 */
    drain(0);

    /* Divide by 1 (0xb): 10 ns per count. */
    wr(0, APIC_REG_TIMER_DIV, 0xb);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_DIV), 0xb);
    wr(0, APIC_REG_TIMER_INIT, 7);
    ck_assert_uint_eq(W.cpu[0].deadline, 100000 + 70);
    run_to(100069);
    ck_assert(!irr_has(0, 0x40));
    run_to(100070);
    ck_assert(irr_has(0, 0x40));
    drain(0);

    /* Divide by 128 (0xa): 1280 ns per count; reserved bits dropped. */
    wr(0, APIC_REG_TIMER_DIV, 0xfffffff6u | 0x8u);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_DIV), 0xa);
    wr(0, APIC_REG_TIMER_INIT, 3);
    ck_assert_uint_eq(W.cpu[0].deadline, 100070 + 3 * 1280);
    run_to(100070 + 1280);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 2);

    /* Changing the divisor mid-count keeps the count: 2 counts left at
     * 160 ns (divide by 16, 0x3) each. */
    wr(0, APIC_REG_TIMER_DIV, 0x3);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 2);
    ck_assert_uint_eq(W.cpu[0].deadline, 100070 + 1280 + 2 * 160);

    /* Writing 0 stops it. */
    wr(0, APIC_REG_TIMER_INIT, 0);
    ck_assert(!W.cpu[0].timer_armed);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 0);
    run_to(200000);
    ck_assert(!irr_has(0, 0x40));

    /* Masked: counts down and expires, no interrupt. */
    wr(0, APIC_REG_LVT_TIMER, APIC_LVT_MASKED | 0x40);
    wr(0, APIC_REG_TIMER_INIT, 10);
    run_to(200000 + 5 * 160);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 5);
    run_to(300000);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 0);
    ck_assert(!irr_has(0, 0x40));

    /* An early host callback does nothing but re-arm. */
    wr(0, APIC_REG_LVT_TIMER, 0x40);
    wr(0, APIC_REG_TIMER_INIT, 10);
    uint64_t d = W.cpu[0].deadline;
    W.now += 10;
    apic_timer_fire(a);
    ck_assert(!irr_has(0, 0x40));
    ck_assert(W.cpu[0].timer_armed);
    ck_assert_uint_eq(W.cpu[0].deadline, d);
    uint64_t got = 0;
    ck_assert(apic_timer_deadline(a, &got));
    ck_assert_uint_eq(got, d);
    world_fini();
}
END_TEST

START_TEST(test_timer_periodic)
{
    world_init(2);
    sw_enable_all();

    /* Divide by 4 (0x1): 40 ns per count; 50 counts: a 2000 ns period. */
    wr(0, APIC_REG_LVT_TIMER, APIC_LVT_PERIODIC | 0x41);
    wr(0, APIC_REG_TIMER_DIV, 0x1);
    wr(0, APIC_REG_TIMER_INIT, 50);
    ck_assert_uint_eq(W.cpu[0].deadline, 2000);
    unsigned fired = 0;

    for (uint64_t t = 100; t <= 10000; t += 100) {
        run_to(t);
        if (irr_has(0, 0x41)) {
            ck_assert_uint_eq(t % 2000, 0);  /* only at the period boundaries */
            fired++;
            drain(0);
        }
        if (t % 2000 == 1000) {
            ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 25);
        }
        if (t % 2000 == 0) {
            ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 50);  /* reloaded */
        }
    }
    ck_assert_uint_eq(fired, 5);
    ck_assert_uint_eq(W.cpu[0].deadline, 12000);

    /* A late host: missed periods coalesce into one interrupt, and the next
     * deadline is the next boundary after now. */
    W.now = 20500;
    W.cpu[0].timer_armed = false;
    apic_timer_fire(W.apic[0]);
    ck_assert(irr_has(0, 0x41));
    ck_assert_uint_eq(W.cpu[0].deadline, 22000);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 50 - 500 / 40);
    drain(0);

    /* Periodic -> one-shot mid-period: counts down the rest, then stops. */
    run_to(21000);  /* 1000 ns into the period: 25 counts left */
    wr(0, APIC_REG_LVT_TIMER, 0x41);
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 25);
    ck_assert_uint_eq(W.cpu[0].deadline, 22000);
    run_to(22000);
    ck_assert(irr_has(0, 0x41));
    drain(0);
    run_to(30000);
    ck_assert(!irr_has(0, 0x41));
    ck_assert_uint_eq(rd(0, APIC_REG_TIMER_CUR), 0);

    /* Two APICs' timers are independent. */
    wr(0, APIC_REG_LVT_TIMER, APIC_LVT_PERIODIC | 0x41);
    wr(0, APIC_REG_TIMER_INIT, 10);  /* 400 ns */
    wr(1, APIC_REG_LVT_TIMER, 0x42);
    wr(1, APIC_REG_TIMER_DIV, 0xb);
    wr(1, APIC_REG_TIMER_INIT, 30);  /* 300 ns */
    run_to(30300);
    ck_assert(!irr_has(0, 0x41));
    ck_assert(irr_has(1, 0x42));
    run_to(30400);
    ck_assert(irr_has(0, 0x41));
    world_fini();
}
END_TEST

START_TEST(test_svr_disable)
{
    world_init(2);
    sw_enable_all();

    wr(0, APIC_REG_LVT_LINT0, 0x30);
    wr(0, APIC_REG_LVT_TIMER, 0x31);
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_LINT0), 0x30);
    ApicMessage m = fixed_msg(0x90, 0, false);
    apic_deliver(W.apic[0], &m);

    wr(0, APIC_REG_SVR, 0x1ff & ~APIC_SVR_ENABLE);
    ck_assert(!apic_sw_enabled(W.apic[0]));
    for (uint32_t off = APIC_REG_LVT_TIMER; off <= APIC_REG_LVT_ERROR; off += 0x10) {
        ck_assert(rd(0, off) & APIC_LVT_MASKED);
    }
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_LINT0), 0x30 | APIC_LVT_MASKED);
    /* Masks cannot be cleared while disabled. */
    wr(0, APIC_REG_LVT_LINT0, 0x35);
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_LINT0), 0x35 | APIC_LVT_MASKED);
    apic_set_lint(W.apic[0], 0, true);
    ck_assert(!irr_has(0, 0x35));
    /* IRR is held and still reaches the CPU. */
    ck_assert_int_eq(apic_pending_vector(W.apic[0]), 0x90);
    /* New fixed interrupts are refused, NMIs are not. */
    ck_assert(!apic_deliver(W.apic[0], &m));
    ipi(1, 0, icr(0x91, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert(!irr_has(0, 0x91));
    ipi(1, 0, icr(0, APIC_DM_NMI, false, APIC_SH_NONE));
    ck_assert_uint_eq(W.cpu[0].nmi, 1);
    /* Timer expiries are masked. */
    wr(0, APIC_REG_TIMER_INIT, 1);
    run_to(1000);
    ck_assert(!irr_has(0, 0x31));

    /* Re-enabling leaves the LVTs masked until written. */
    sw_enable(0);
    ck_assert(rd(0, APIC_REG_LVT_LINT0) & APIC_LVT_MASKED);
    wr(0, APIC_REG_LVT_LINT0, 0x35);
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_LINT0), 0x35);
    apic_set_lint(W.apic[0], 0, false);
    apic_set_lint(W.apic[0], 0, true);
    ck_assert(irr_has(0, 0x35));
    world_fini();
}
END_TEST

START_TEST(test_esr)
{
    world_init(2);
    sw_enable_all();
    uint64_t v = 0;

    /* Send illegal vector: not sent, seen after the next ESR write. */
    ipi(0, 1, icr(0x05, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert(!irr_has(1, 0x05));
    ck_assert_uint_eq(rd(0, APIC_REG_ESR), 0);
    wr(0, APIC_REG_ESR, 0);
    ck_assert_uint_eq(rd(0, APIC_REG_ESR), APIC_ESR_SEND_ILLEGAL_VECTOR);
    wr(0, APIC_REG_ESR, 0);
    ck_assert_uint_eq(rd(0, APIC_REG_ESR), 0);

    /* Receive illegal vector. */
    ApicMessage m = fixed_msg(0x0e, 1, false);
    ck_assert(!apic_deliver(W.apic[1], &m));
    ck_assert(!irr_has(1, 0x0e));
    wr(1, APIC_REG_ESR, 0);
    ck_assert_uint_eq(rd(1, APIC_REG_ESR), APIC_ESR_RECV_ILLEGAL_VECTOR);

    /* Illegal register address: reads 0, writes ignored, reported once. */
    tu_clear_reports();
    ck_assert_uint_eq(rd(0, 0x040), 0);
    wr(0, 0x2f0, 0x12345678);        /* CMCI: not offered (max LVT 5) */
    ck_assert_uint_eq(rd(0, 0x024), 0);  /* not on a 16-byte boundary */
    ck_assert_uint_eq(rd(0, APIC_REG_SELF_IPI), 0);  /* x2APIC only */
    ck_assert_uint_eq(tu_num_reports(), 1);
    wr(0, APIC_REG_ESR, 0);
    ck_assert_uint_eq(rd(0, APIC_REG_ESR), APIC_ESR_ILLEGAL_REGISTER);
    /* Debug reads set nothing. */
    wr(0, APIC_REG_ESR, 0);
    MemAttrs dbg = mem_attrs_cpu(0);
    dbg.debug = true;
    ck_assert_int_eq(as_read_val(as_of(0), APIC_DEFAULT_BASE + 0x040, dbg, 4, MEM_LITTLE_ENDIAN,
                                 &v), MEM_OK);
    wr(0, APIC_REG_ESR, 0);
    ck_assert_uint_eq(rd(0, APIC_REG_ESR), 0);

    /* The error interrupt: once, until the ESR write rearms it. */
    wr(0, APIC_REG_LVT_ERROR, 0xe0);
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_ERROR), 0xe0);
    rd(0, 0x050);
    ck_assert(irr_has(0, 0xe0));
    drain(0);
    rd(0, 0x050);
    ck_assert(!irr_has(0, 0xe0));
    wr(0, APIC_REG_ESR, 0);
    rd(0, 0x050);
    ck_assert(irr_has(0, 0xe0));
    drain(0);

    /* Only aligned 4-byte accesses (10.4.1). */
    ck_assert_int_eq(as_read_val(as_of(0), APIC_DEFAULT_BASE + APIC_REG_ID, mem_attrs_cpu(0), 1,
                                 MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(as_read_val(as_of(0), APIC_DEFAULT_BASE + APIC_REG_ID, mem_attrs_cpu(0), 8,
                                 MEM_LITTLE_ENDIAN, &v), MEM_ACCESS_ERROR);
    ck_assert_int_eq(as_write_val(as_of(0), APIC_DEFAULT_BASE + APIC_REG_TPR + 2,
                                  mem_attrs_cpu(0), 2, MEM_LITTLE_ENDIAN, 0x55), MEM_ACCESS_ERROR);
    ck_assert_uint_eq(rd(0, APIC_REG_TPR), 0);
    world_fini();
}
END_TEST

START_TEST(test_base_msr)
{
    world_init(2);
    Apic *a = W.apic[0];
    uint64_t v;

    ck_assert(apic_is_apic_msr(APIC_MSR_APIC_BASE));
    ck_assert(apic_msr_read(a, APIC_MSR_APIC_BASE, &v));
    ck_assert_uint_eq(v, 0xfee00900ull);
    ck_assert_uint_eq(tu_rd(as_of(0), APIC_DEFAULT_BASE + APIC_REG_VERSION, 4), 0x00050014u);

    /* Relocate CPU 0's page: its view changes, CPU 1's does not. */
    ck_assert(apic_msr_write(a, APIC_MSR_APIC_BASE, RELOC_BASE | APIC_BASE_EN));
    ck_assert_uint_eq(apic_get_base_msr(a), RELOC_BASE | APIC_BASE_EN | APIC_BASE_BSP);
    ck_assert_uint_eq(W.cpu[0].mmio_changes, 1);
    ck_assert_uint_eq(W.cpu[0].mmio_base, RELOC_BASE);
    ck_assert(W.cpu[0].mmio_enabled);
    ck_assert_uint_eq(tu_rd(as_of(0), RELOC_BASE + APIC_REG_VERSION, 4), 0x00050014u);
    ck_assert_uint_eq(tu_rd(as_of(0), APIC_DEFAULT_BASE + APIC_REG_VERSION, 4),
                      0xabababab);  /* what was under the page */
    ck_assert_uint_eq(tu_rd(as_of(1), APIC_DEFAULT_BASE + APIC_REG_ID, 4), 1u << 24);
    ck_assert_uint_eq(tu_rd(as_of(1), RELOC_BASE, 4), 0xcdcdcdcd);
    ck_assert_uint_eq(W.cpu[1].mmio_changes, 0);

    /* Reserved bits: bits 7:0, bit 9, above MAXPHYADDR; EXTD without
     * x2APIC support. Nothing changes. */
    ck_assert(!apic_set_base_msr(a, RELOC_BASE | APIC_BASE_EN | 1));
    ck_assert(!apic_set_base_msr(a, RELOC_BASE | APIC_BASE_EN | (1ull << 9)));
    ck_assert(!apic_set_base_msr(a, RELOC_BASE | APIC_BASE_EN | (1ull << 40)));
    ck_assert(!apic_set_base_msr(a, RELOC_BASE | APIC_BASE_EN | APIC_BASE_EXTD));
    ck_assert_uint_eq(apic_get_base_msr(a), RELOC_BASE | APIC_BASE_EN | APIC_BASE_BSP);
    /* BSP is the platform's: writes do not change it. */
    ck_assert(apic_set_base_msr(W.apic[1], APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_BSP));
    ck_assert_uint_eq(apic_get_base_msr(W.apic[1]), APIC_DEFAULT_BASE | APIC_BASE_EN);

    /* Global disable: the page goes, the state returns to power-up. */
    sw_enable(0);
    wr(0, APIC_REG_TPR, 0x50);
    ck_assert(apic_set_base_msr(a, RELOC_BASE));
    ck_assert(!apic_hw_enabled(a));
    ck_assert(!W.cpu[0].mmio_enabled);
    ck_assert(!cpu_view_apic_enabled(W.view[0]));
    ck_assert_uint_eq(tu_rd(as_of(0), RELOC_BASE, 4), 0xcdcdcdcd);
    /* While disabled: no messages; LINT0 is INTR, LINT1 is NMI. */
    ipi(1, 0, icr(0x70, APIC_DM_FIXED, false, APIC_SH_NONE));
    ipi(1, 0, icr(0, APIC_DM_NMI, false, APIC_SH_NONE));
    ck_assert_uint_eq(W.cpu[0].nmi, 0);
    apic_set_lint(a, 0, true);
    ck_assert(W.cpu[0].intr);
    W.cpu[0].extint_vector = 0x08;
    ck_assert_int_eq(apic_take_interrupt(a), 0x08);
    apic_set_lint(a, 0, false);
    ck_assert(!W.cpu[0].intr);
    apic_set_lint(a, 1, true);
    ck_assert_uint_eq(W.cpu[0].nmi, 1);
    apic_set_lint(a, 1, false);

    /* Enabled again, at the default base: power-up state. */
    ck_assert(apic_set_base_msr(a, APIC_DEFAULT_BASE | APIC_BASE_EN));
    ck_assert(W.cpu[0].mmio_enabled);
    ck_assert_uint_eq(W.cpu[0].mmio_base, APIC_DEFAULT_BASE);
    ck_assert_uint_eq(rd(0, APIC_REG_TPR), 0);
    ck_assert_uint_eq(rd(0, APIC_REG_SVR), 0xff);
    ck_assert(!irr_has(0, 0x70));
    /* RESET puts everything back. */
    ck_assert(apic_set_base_msr(a, RELOC_BASE | APIC_BASE_EN));
    apic_reset(a);
    ck_assert_uint_eq(apic_get_base_msr(a), 0xfee00900ull);
    ck_assert_uint_eq(W.cpu[0].mmio_base, APIC_DEFAULT_BASE);
    world_fini();
}
END_TEST

START_TEST(test_x2apic)
{
    static const uint32_t ids[4] = { 0, 1, 0x13, 0x14 };
    uint64_t v = 0;

    world_init_ids(4, ids, true);
    Apic *a = W.apic[0];

    /* Outside x2APIC mode the x2APIC MSRs are #GP. */
    ck_assert(!apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_ID), &v));
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TPR), 0));
    /* Disabled -> x2APIC directly is illegal. */
    ck_assert(apic_set_base_msr(W.apic[3], APIC_DEFAULT_BASE));
    ck_assert(!apic_set_base_msr(W.apic[3], APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD));
    /* EXTD without EN is invalid. */
    ck_assert(!apic_set_base_msr(W.apic[3], APIC_DEFAULT_BASE | APIC_BASE_EXTD));
    ck_assert(apic_set_base_msr(W.apic[3], APIC_DEFAULT_BASE | APIC_BASE_EN));

    for (unsigned i = 0; i < 4; i++) {
        sw_enable(i);
        ck_assert(apic_set_base_msr(W.apic[i], APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD));
        ck_assert(apic_x2apic_mode(W.apic[i]));
        /* The MMIO page is gone from the view: RAM shows through. */
        ck_assert(!W.cpu[i].mmio_enabled);
        ck_assert(!cpu_view_apic_enabled(W.view[i]));
        ck_assert_uint_eq(tu_rd(as_of(i), APIC_DEFAULT_BASE + APIC_REG_ID, 4), 0xabababab);
    }
    /* The page's callbacks, if reached anyway, refuse. */
    const MemRegionOps *ops = mr_ops(apic_region(a));
    ck_assert_int_eq(ops->read(mr_opaque(apic_region(a)), APIC_REG_ID, &v, 4, mem_attrs_cpu(0)),
                     MEM_DECODE_ERROR);

    /* ID, version, LDR derived from the ID (10.12.10.2). */
    ck_assert(apic_msr_read(W.apic[2], APIC_MSR_X2APIC(APIC_REG_ID), &v));
    ck_assert_uint_eq(v, 0x13);
    ck_assert(apic_msr_read(W.apic[2], APIC_MSR_X2APIC(APIC_REG_VERSION), &v));
    ck_assert_uint_eq(v, 0x00050014u);
    ck_assert(apic_msr_read(W.apic[2], APIC_MSR_X2APIC(APIC_REG_LDR), &v));
    ck_assert_uint_eq(v, (1u << 16) | (1u << 3));
    ck_assert(apic_msr_read(W.apic[1], APIC_MSR_X2APIC(APIC_REG_LDR), &v));
    ck_assert_uint_eq(v, 1u << 1);
    ck_assert(apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_SVR), &v));
    ck_assert_uint_eq(v, 0x1ff);  /* state carried over from xAPIC mode */

    /* #GP cases (10.12.1.2, 10.12.1.3). */
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ID), 5));          /* R/O */
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_LDR), 5));         /* R/O */
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TPR), 0x100));     /* reserved bits */
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_EOI), 1));         /* non-zero EOI */
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ESR), 1));         /* non-zero ESR */
    ck_assert(!apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_EOI), &v));         /* W/O */
    ck_assert(!apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_SELF_IPI), &v));    /* W/O */
    ck_assert(!apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_DFR), &v));         /* no DFR */
    ck_assert(!apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_ICR_HI), &v));      /* one ICR */
    ck_assert(!apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_APR), &v));
    ck_assert(!apic_msr_read(a, 0x8ff, &v));
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_LVT_TIMER), 1u << 18));  /* TSC dl */
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_SVR), 0x1ff | (1u << 12)));
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TPR), 1ull << 32));
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ICR_LO), 0x30 | (1u << 12)));
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ESR), 0));
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TPR), 0x20));
    ck_assert(apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_PPR), &v));
    ck_assert_uint_eq(v, 0x20);
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TPR), 0));

    /* SELF IPI. */
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_SELF_IPI), 0x55));
    ck_assert(irr_peek(0, 0x55));
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_SELF_IPI), 0x155));
    ck_assert_int_eq(apic_take_interrupt(a), 0x55);
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_EOI), 0));
    ck_assert(!((apic_peek(a, APIC_REG_ISR + 0x20) >> (0x55 - 64)) & 1u));

    /* 64-bit ICR: physical to x2APIC ID 0x13, logical cluster 1 bits 3|4,
     * broadcast. */
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ICR_LO), 0x13ull << 32 | 0x60));
    ck_assert_uint_eq(irr_set(0x60), 0x4);
    ck_assert(apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_ICR_LO), &v));
    ck_assert_uint_eq(v, 0x13ull << 32 | 0x60);
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ICR_LO),
                             (1ull << 16 | 0x18) << 32 | APIC_ICR_LOGICAL | 0x61));
    ck_assert_uint_eq(irr_set(0x61), 0xc);
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ICR_LO),
                             (0ull << 16 | 0x2) << 32 | APIC_ICR_LOGICAL | 0x62));
    ck_assert_uint_eq(irr_set(0x62), 0x2);
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_ICR_LO), 0xffffffffull << 32 | 0x63));
    ck_assert_uint_eq(irr_set(0x63), 0xf);
    /* An I/O APIC's 8-bit broadcast reaches x2APIC-mode APICs too. */
    ApicMessage m = fixed_msg(0x64, 0xff, false);
    ck_assert_uint_eq(apic_bus_send(W.bus, &m, NULL), 4);

    /* Timer through MSRs. */
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_LVT_TIMER), 0x70));
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TIMER_DIV), 0xb));
    ck_assert(apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TIMER_INIT), 5));
    run_to(20);
    ck_assert(apic_msr_read(a, APIC_MSR_X2APIC(APIC_REG_TIMER_CUR), &v));
    ck_assert_uint_eq(v, 3);
    ck_assert(!apic_msr_write(a, APIC_MSR_X2APIC(APIC_REG_TIMER_CUR), 1));
    run_to(50);
    ck_assert(irr_peek(0, 0x70));

    /* x2APIC -> xAPIC is illegal; -> disabled -> xAPIC is the way back. */
    ck_assert(!apic_set_base_msr(a, APIC_DEFAULT_BASE | APIC_BASE_EN));
    ck_assert(apic_x2apic_mode(a));
    ck_assert(apic_set_base_msr(a, APIC_DEFAULT_BASE));
    ck_assert(apic_set_base_msr(a, APIC_DEFAULT_BASE | APIC_BASE_EN));
    ck_assert(W.cpu[0].mmio_enabled);
    ck_assert_uint_eq(rd(0, APIC_REG_ID), 0);
    ck_assert_uint_eq(rd(0, APIC_REG_LDR), 0);

    /* INIT in x2APIC mode keeps the mode, the ID and the derived LDR. */
    apic_init_reset(W.apic[2]);
    ck_assert(apic_x2apic_mode(W.apic[2]));
    ck_assert(apic_msr_read(W.apic[2], APIC_MSR_X2APIC(APIC_REG_LDR), &v));
    ck_assert_uint_eq(v, (1u << 16) | (1u << 3));
    world_fini();
}
END_TEST

START_TEST(test_lint_and_extint)
{
    world_init(1);
    Apic *a = W.apic[0];

    /* Power-up: LINT0 masked, the 8259 cannot reach the CPU. */
    apic_set_lint(a, 0, true);
    ck_assert(!W.cpu[0].intr);
    apic_set_lint(a, 0, false);
    /* Virtual wire, as a BIOS leaves it. */
    apic_setup_virtual_wire(a);
    ck_assert_uint_eq(rd(0, APIC_REG_SVR), 0x1ff);
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_LINT0), 0x700);
    ck_assert_uint_eq(rd(0, APIC_REG_LVT_LINT1), 0x400);
    apic_set_lint(a, 0, true);
    ck_assert(W.cpu[0].intr);
    ck_assert(apic_extint_pending(a));
    W.cpu[0].extint_vector = 0x21;
    ck_assert_int_eq(apic_take_interrupt(a), 0x21);
    ck_assert_uint_eq(W.cpu[0].extint_acks, 1);
    apic_set_lint(a, 0, false);
    ck_assert(!W.cpu[0].intr);
    apic_set_lint(a, 1, true);
    apic_set_lint(a, 1, true);  /* no new edge */
    ck_assert_uint_eq(W.cpu[0].nmi, 1);
    apic_set_lint(a, 1, false);

    /* LINT0 level-triggered fixed: remote IRR until EOI. */
    wr(0, APIC_REG_LVT_LINT0, APIC_LVT_LEVEL | 0x38);
    apic_set_lint(a, 0, true);
    ck_assert(irr_has(0, 0x38));
    ck_assert(tmr_has(0, 0x38));
    ck_assert(rd(0, APIC_REG_LVT_LINT0) & APIC_LVT_REMOTE_IRR);
    ck_assert_int_eq(apic_take_interrupt(a), 0x38);
    ck_assert(!irr_has(0, 0x38));
    wr(0, APIC_REG_EOI, 0);  /* still asserted: again */
    ck_assert(irr_has(0, 0x38));
    ck_assert(rd(0, APIC_REG_LVT_LINT0) & APIC_LVT_REMOTE_IRR);
    ck_assert_int_eq(apic_take_interrupt(a), 0x38);
    apic_set_lint(a, 0, false);
    wr(0, APIC_REG_EOI, 0);
    ck_assert(!irr_has(0, 0x38));
    ck_assert(!(rd(0, APIC_REG_LVT_LINT0) & APIC_LVT_REMOTE_IRR));

    /* LINT1 in SMI and INIT modes, edge. */
    wr(0, APIC_REG_LVT_LINT1, APIC_DM_SMI << APIC_LVT_DM_SHIFT);
    apic_set_lint(a, 1, true);
    apic_set_lint(a, 1, false);
    ck_assert_uint_eq(W.cpu[0].smi, 1);
    wr(0, APIC_REG_LVT_LINT1, APIC_DM_INIT << APIC_LVT_DM_SHIFT);
    apic_set_lint(a, 1, true);
    ck_assert_uint_eq(W.cpu[0].init, 1);
    /* Thermal and perf sources. */
    wr(0, APIC_REG_LVT_PERF, 0x4a);
    apic_lvt_event(a, APIC_LVT_PERF);
    ck_assert(irr_has(0, 0x4a));
    wr(0, APIC_REG_LVT_THERMAL, APIC_DM_NMI << APIC_LVT_DM_SHIFT);
    apic_lvt_event(a, APIC_LVT_THERMAL);
    ck_assert_uint_eq(W.cpu[0].nmi, 2);
    world_fini();
}
END_TEST

/* I/O APIC indirect register access through CPU 0's view. */
static uint32_t io_rd(uint8_t index)
{
    tu_wr(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4, index);
    return (uint32_t)tu_rd(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4);
}

static void io_wr(uint8_t index, uint32_t v)
{
    tu_wr(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4, index);
    tu_wr(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4, v);
}

static void io_rte(unsigned pin, uint64_t e)
{
    io_wr((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin + 1), (uint32_t)(e >> 32));
    io_wr((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin), (uint32_t)e);
}

START_TEST(test_ioapic_registers)
{
    world_init(1);

    ck_assert_uint_eq(io_rd(IOAPIC_REG_VER), 0x00170011u);
    ck_assert_uint_eq(io_rd(IOAPIC_REG_ID), 8u << 24);
    io_wr(IOAPIC_REG_ID, 0xfa000000u);
    ck_assert_uint_eq(io_rd(IOAPIC_REG_ID), 0x0a000000u);
    ck_assert_uint_eq(io_rd(IOAPIC_REG_ARB), 0x0a000000u);
    ck_assert_uint_eq(ioapic_id(W.ioapic), 0xa);
    ck_assert_uint_eq(tu_rd(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 4), IOAPIC_REG_ARB);
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        ck_assert_uint_eq(io_rd((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin)), 0x00010000u);
        ck_assert_uint_eq(io_rd((uint8_t)(IOAPIC_REG_REDTBL + 2 * pin + 1)), 0);
    }
    /* Read-only bits and reserved bits of an entry. */
    io_wr(IOAPIC_REG_REDTBL + 4, 0xffffffffu);
    io_wr(IOAPIC_REG_REDTBL + 5, 0xffffffffu);
    ck_assert_uint_eq(io_rd(IOAPIC_REG_REDTBL + 4), 0x0001afffu);
    ck_assert_uint_eq(io_rd(IOAPIC_REG_REDTBL + 5), 0xff000000u);
    ck_assert_uint_eq(ioapic_redirection(W.ioapic, 2), 0xff0000000001afffull);
    /* The version is read-only; unknown indices and offsets read 0. */
    io_wr(IOAPIC_REG_VER, 0);
    ck_assert_uint_eq(io_rd(IOAPIC_REG_VER), 0x00170011u);
    ck_assert_uint_eq(io_rd(0x03), 0);
    ck_assert_uint_eq(io_rd(0x40), 0);
    ck_assert_uint_eq(tu_rd(as_of(0), IOAPIC_DEFAULT_BASE + 0x20, 4), 0);
    ck_assert(has_report("ioapic"));
    /* Byte access to IOREGSEL. */
    tu_wr(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOREGSEL, 1, IOAPIC_REG_VER);
    ck_assert_uint_eq(tu_rd(as_of(0), IOAPIC_DEFAULT_BASE + IOAPIC_IOWIN, 4), 0x00170011u);
    ioapic_reset(W.ioapic);
    ck_assert_uint_eq(ioapic_redirection(W.ioapic, 2), IOAPIC_RTE_MASKED);
    world_fini();
}
END_TEST

START_TEST(test_ioapic_redirection)
{
    world_init(2);
    sw_enable_all();
    for (unsigned i = 0; i < 2; i++) {
        wr(i, APIC_REG_LDR, (1u << i) << 24);
    }

    /* Edge, physical to APIC 1. */
    io_rte(3, 1ull << IOAPIC_RTE_DEST_SHIFT | 0x31);
    ioapic_set_irq(W.ioapic, 3, true);
    ck_assert_uint_eq(irr_set(0x31), 0x2);
    ck_assert(!tmr_has(1, 0x31));
    drain(1);
    ioapic_set_irq(W.ioapic, 3, true);  /* no edge */
    ck_assert_uint_eq(irr_set(0x31), 0);
    ioapic_set_irq(W.ioapic, 3, false);
    ioapic_set_irq(W.ioapic, 3, true);
    ck_assert_uint_eq(irr_set(0x31), 0x2);
    drain(1);
    /* Masked: the edge is lost, unmasking does not bring it back. */
    ioapic_set_irq(W.ioapic, 3, false);
    io_rte(3, 1ull << IOAPIC_RTE_DEST_SHIFT | IOAPIC_RTE_MASKED | 0x31);
    ioapic_set_irq(W.ioapic, 3, true);
    ck_assert_uint_eq(irr_set(0x31), 0);
    io_rte(3, 1ull << IOAPIC_RTE_DEST_SHIFT | 0x31);
    ck_assert_uint_eq(irr_set(0x31), 0);

    /* Level, logical flat to CPU 0: remote IRR until the EOI. */
    io_rte(5, 1ull << IOAPIC_RTE_DEST_SHIFT | IOAPIC_RTE_LEVEL | IOAPIC_RTE_LOGICAL | 0x52);
    ioapic_set_irq(W.ioapic, 5, true);
    ck_assert_uint_eq(irr_set(0x52), 0x1);
    ck_assert(tmr_has(0, 0x52));
    ck_assert(io_rd(IOAPIC_REG_REDTBL + 10) & IOAPIC_RTE_REMOTE_IRR);
    ck_assert_int_eq(apic_take_interrupt(W.apic[0]), 0x52);
    ioapic_set_irq(W.ioapic, 5, true);  /* still asserted: nothing while remote IRR */
    ck_assert_uint_eq(irr_set(0x52), 0);
    wr(0, APIC_REG_EOI, 0);  /* level EOI -> broadcast -> redelivered */
    ck_assert_uint_eq(irr_set(0x52), 0x1);
    ck_assert(io_rd(IOAPIC_REG_REDTBL + 10) & IOAPIC_RTE_REMOTE_IRR);
    ck_assert_int_eq(apic_take_interrupt(W.apic[0]), 0x52);
    ioapic_set_irq(W.ioapic, 5, false);
    wr(0, APIC_REG_EOI, 0);
    ck_assert_uint_eq(irr_set(0x52), 0);
    ck_assert(!(io_rd(IOAPIC_REG_REDTBL + 10) & IOAPIC_RTE_REMOTE_IRR));

    /* Level, masked while asserted: unmasking delivers. */
    io_rte(7, IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED | 0x57);
    ioapic_set_irq(W.ioapic, 7, true);
    ck_assert_uint_eq(irr_set(0x57), 0);
    io_rte(7, IOAPIC_RTE_LEVEL | 0x57);  /* physical to APIC 0 */
    ck_assert_uint_eq(irr_set(0x57), 0x1);
    /* An edge-triggered EOI does not clear the remote IRR. */
    ApicMessage m = fixed_msg(0x40, 0, false);
    apic_deliver(W.apic[0], &m);
    ck_assert_int_eq(apic_take_interrupt(W.apic[0]), 0x57);
    ck_assert_int_eq(apic_take_interrupt(W.apic[0]), -1);  /* 0x40 below 0x57's class */
    wr(0, APIC_REG_EOI, 0);  /* retires 0x57 */
    ck_assert(io_rd(IOAPIC_REG_REDTBL + 14) & IOAPIC_RTE_REMOTE_IRR);  /* redelivered */
    ck_assert_uint_eq(irr_set(0x57), 0x1);
    ioapic_set_irq(W.ioapic, 7, false);
    drain(0);
    ck_assert(!(io_rd(IOAPIC_REG_REDTBL + 14) & IOAPIC_RTE_REMOTE_IRR));

    /* Lowest priority and NMI entries. */
    wr(0, APIC_REG_TPR, 0x30);
    io_rte(9, 0x3ull << IOAPIC_RTE_DEST_SHIFT | IOAPIC_RTE_LOGICAL |
                  (uint64_t)APIC_DM_LOWEST << IOAPIC_RTE_DM_SHIFT | 0x69);
    ioapic_set_irq(W.ioapic, 9, true);
    ck_assert_uint_eq(irr_set(0x69), 0x2);
    io_rte(10, IOAPIC_RTE_LEVEL | (uint64_t)APIC_DM_NMI << IOAPIC_RTE_DM_SHIFT);
    ioapic_set_irq(W.ioapic, 10, true);
    ck_assert_uint_eq(W.cpu[0].nmi, 1);
    ck_assert(!(io_rd(IOAPIC_REG_REDTBL + 20) & IOAPIC_RTE_REMOTE_IRR));
    /* No such pin: reported, ignored. */
    ioapic_set_irq(W.ioapic, 24, true);
    ck_assert(has_report("pin 24"));
    /* A level interrupt nobody accepts sets no remote IRR. */
    io_rte(11, 9ull << IOAPIC_RTE_DEST_SHIFT | IOAPIC_RTE_LEVEL | 0x71);
    ioapic_set_irq(W.ioapic, 11, true);
    ck_assert(!(io_rd(IOAPIC_REG_REDTBL + 22) & IOAPIC_RTE_REMOTE_IRR));
    world_fini();
}
END_TEST

/* Any guest value, anywhere: no crash, and the machine keeps working. */
START_TEST(test_garbage)
{
    world_init(3);
    GRand *r = g_rand_new_with_seed(1234);

    for (unsigned round = 0; round < 20000; round++) {
        unsigned cpu = g_rand_int_range(r, 0, 3);
        uint32_t off = (uint32_t)g_rand_int_range(r, 0, 0x400) & ~3u;
        uint32_t val = g_rand_int(r);

        if (!apic_mmio_enabled(W.apic[cpu])) {
            ck_assert(apic_set_base_msr(W.apic[cpu], APIC_DEFAULT_BASE | APIC_BASE_EN));
        }
        if (g_rand_boolean(r)) {
            as_write_val(as_of(cpu), APIC_DEFAULT_BASE + off, mem_attrs_cpu(cpu), 4,
                         MEM_LITTLE_ENDIAN, val);
        } else {
            uint64_t v;
            as_read_val(as_of(cpu), APIC_DEFAULT_BASE + off, mem_attrs_cpu(cpu), 4,
                        MEM_LITTLE_ENDIAN, &v);
        }
        if (round % 7 == 0) {
            apic_set_base_msr(W.apic[cpu], ((uint64_t)g_rand_int(r) << 32 | g_rand_int(r)));
        }
        if (round % 5 == 0) {
            io_wr((uint8_t)g_rand_int(r), g_rand_int(r));
            ioapic_set_irq(W.ioapic, g_rand_int_range(r, 0, 30), g_rand_boolean(r));
        }
        if (round % 3 == 0) {
            apic_take_interrupt(W.apic[cpu]);
            apic_set_lint(W.apic[cpu], g_rand_int_range(r, 0, 3), g_rand_boolean(r));
        }
        run_to(W.now + g_rand_int_range(r, 0, 5000));
    }
    /* x2APIC MSRs with random values. */
    world_fini();
    world_init_ids(2, NULL, true);
    ck_assert(apic_set_base_msr(W.apic[0], APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD));
    for (unsigned round = 0; round < 20000; round++) {
        uint32_t msr = 0x800 + (uint32_t)g_rand_int_range(r, 0, 0x100);
        uint64_t v = (uint64_t)g_rand_int(r) << 32 | g_rand_int(r);

        if (g_rand_boolean(r)) {
            v &= 0xffffffffu;
        }
        if (g_rand_boolean(r)) {
            apic_msr_write(W.apic[0], msr, v);
        } else {
            apic_msr_read(W.apic[0], msr, &v);
        }
        apic_take_interrupt(W.apic[0]);
        run_to(W.now + g_rand_int_range(r, 0, 5000));
    }
    g_rand_free(r);
    world_fini();

    /* Still a working APIC pair afterwards. */
    world_init(2);
    sw_enable_all();
    ipi(0, 1, icr(0x44, APIC_DM_FIXED, false, APIC_SH_NONE));
    ck_assert(irr_has(1, 0x44));
    world_fini();
}
END_TEST

static Suite *apic_suite(void)
{
    Suite *s = suite_create("apic");
    TCase *tc = tu_tcase(s, "lapic");

    tcase_add_test(tc, test_id_version_reset);
    tcase_add_test(tc, test_tpr_ppr);
    tcase_add_test(tc, test_irr_isr_eoi_priorities);
    tcase_add_test(tc, test_ipi_destinations);
    tcase_add_test(tc, test_lowest_priority);
    tcase_add_test(tc, test_nmi_smi_init_sipi);
    tcase_add_test(tc, test_svr_disable);
    tcase_add_test(tc, test_esr);
    tcase_add_test(tc, test_base_msr);
    tcase_add_test(tc, test_lint_and_extint);
    tc = tu_tcase(s, "timer");
    tcase_add_test(tc, test_timer_oneshot);
    tcase_add_test(tc, test_timer_periodic);
    tc = tu_tcase(s, "x2apic");
    tcase_add_test(tc, test_x2apic);
    tc = tu_tcase(s, "ioapic");
    tcase_add_test(tc, test_ioapic_registers);
    tcase_add_test(tc, test_ioapic_redirection);
    tc = tu_tcase(s, "robustness");
    tcase_add_test(tc, test_garbage);
    return s;
}

int main(void)
{
    return tu_run(apic_suite());
}
