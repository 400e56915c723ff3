/*
 * The virt machine's device tree (virt_fdt.h), written with libfdt's
 * sequential-write API: nodes and properties are emitted in order into a
 * buffer, which is grown and the tree rewritten when libfdt runs out of
 * space, then packed.
 */
#include "machines/virt_fdt.h"

#include <inttypes.h>
#include <string.h>

#include <libfdt.h>

G_DEFINE_QUARK(mmusim-virt-fdt-error-quark, virt_fdt_error)

/* arm,gic binding: interrupt types and flags. */
#define GIC_SPI 0u
#define GIC_PPI 1u
#define IRQ_LEVEL_HIGH 4u

/* PSCI function IDs for the PSCI 0.1 properties (Arm DEN 0022: the
 * SMC64 numbers for CPU_SUSPEND, CPU_ON, MIGRATE; CPU_OFF has no 64-bit
 * form). */
#define PSCI_CPU_SUSPEND 0xc4000001u
#define PSCI_CPU_OFF     0x84000002u
#define PSCI_CPU_ON      0xc4000003u
#define PSCI_MIGRATE     0xc4000005u

/* A growing array of big-endian cells, for reg, ranges, interrupt-map. */
typedef struct Cells {
    fdt32_t v[256];
    unsigned n;
} Cells;

static void c32(Cells *c, uint32_t x)
{
    if (c->n < G_N_ELEMENTS(c->v)) {
        c->v[c->n++] = cpu_to_fdt32(x);
    }
}

static void c64(Cells *c, uint64_t x)
{
    c32(c, (uint32_t)(x >> 32));
    c32(c, (uint32_t)x);
}

/* Emitting stops at the first libfdt error; the builder checks `r` once. */
typedef struct Builder {
    void *fdt;
    int r;
} Builder;

static void begin(Builder *b, const char *name)
{
    if (b->r == 0) {
        b->r = fdt_begin_node(b->fdt, name);
    }
}

static void end(Builder *b)
{
    if (b->r == 0) {
        b->r = fdt_end_node(b->fdt);
    }
}

static void prop(Builder *b, const char *name, const void *val, int len)
{
    if (b->r == 0) {
        b->r = fdt_property(b->fdt, name, val, len);
    }
}

static void prop_cells(Builder *b, const char *name, const Cells *c)
{
    prop(b, name, c->v, (int)(c->n * sizeof(fdt32_t)));
}

static void prop_u32(Builder *b, const char *name, uint32_t v)
{
    if (b->r == 0) {
        b->r = fdt_property_u32(b->fdt, name, v);
    }
}

static void prop_u64(Builder *b, const char *name, uint64_t v)
{
    if (b->r == 0) {
        b->r = fdt_property_u64(b->fdt, name, v);
    }
}

static void prop_str(Builder *b, const char *name, const char *s)
{
    prop(b, name, s, (int)strlen(s) + 1);
}

/* A string list: the strings with their NULs, as in "compatible". */
static void prop_strs(Builder *b, const char *name, const char *const *s, unsigned n)
{
    GString *g = g_string_new(NULL);

    for (unsigned i = 0; i < n; i++) {
        g_string_append_len(g, s[i], (gssize)strlen(s[i]) + 1);
    }
    prop(b, name, g->str, (int)g->len);
    g_string_free(g, TRUE);
}

static void prop_empty(Builder *b, const char *name)
{
    prop(b, name, NULL, 0);
}

static void reg2(Builder *b, uint64_t base, uint64_t size)
{
    Cells c = { .n = 0 };

    c64(&c, base);
    c64(&c, size);
    prop_cells(b, "reg", &c);
}

static uint64_t cpu_mpidr(const VirtFdtConfig *c, unsigned i)
{
    return c->mpidr ? c->mpidr[i] : i;
}

static void build(Builder *b, const VirtFdtConfig *c)
{
    char *uart_path = g_strdup_printf("/pl011@%" PRIx64, c->uart_base);
    char name[64];
    Cells cells;

    b->r = fdt_finish_reservemap(b->fdt);
    begin(b, "");
    prop_str(b, "compatible", "linux,dummy-virt");
    prop_str(b, "model", "mmusim virt");
    prop_u32(b, "#address-cells", 2);
    prop_u32(b, "#size-cells", 2);
    prop_u32(b, "interrupt-parent", VIRT_FDT_PHANDLE_GIC);

    /* /chosen (devicetree spec 3.6; Linux's chosen.txt for the initrd). */
    begin(b, "chosen");
    if (c->bootargs) {
        prop_str(b, "bootargs", c->bootargs);
    }
    prop_str(b, "stdout-path", uart_path);
    if (c->initrd_start || c->initrd_end) {
        prop_u64(b, "linux,initrd-start", c->initrd_start);
        prop_u64(b, "linux,initrd-end", c->initrd_end);
    }
    end(b);

    begin(b, "aliases");
    prop_str(b, "serial0", uart_path);
    end(b);

    g_snprintf(name, sizeof(name), "memory@%" PRIx64, c->ram_base);
    begin(b, name);
    prop_str(b, "device_type", "memory");
    reg2(b, c->ram_base, c->ram_size);
    end(b);

    /* /cpus: reg is the MPIDR affinity (arm/cpus.yaml); Aff3 needs a
     * second cell. */
    bool aff3 = false;

    for (unsigned i = 0; i < c->smp; i++) {
        aff3 |= (cpu_mpidr(c, i) & UINT64_C(0xff00000000)) != 0;
    }
    begin(b, "cpus");
    prop_u32(b, "#address-cells", aff3 ? 2 : 1);
    prop_u32(b, "#size-cells", 0);
    for (unsigned i = 0; i < c->smp; i++) {
        uint64_t reg = cpu_mpidr(c, i) & UINT64_C(0xff00ffffff);

        g_snprintf(name, sizeof(name), "cpu@%" PRIx64, reg);
        begin(b, name);
        prop_str(b, "device_type", "cpu");
        prop_str(b, "compatible", "arm,cortex-a57");
        if (aff3) {
            prop_u64(b, "reg", reg);
        } else {
            prop_u32(b, "reg", (uint32_t)reg);
        }
        prop_str(b, "enable-method", "psci");
        end(b);
    }
    end(b);

    /* /psci (arm/psci.yaml). */
    static const char *const psci_compat[] = { "arm,psci-1.0", "arm,psci-0.2", "arm,psci" };

    begin(b, "psci");
    prop_strs(b, "compatible", psci_compat, G_N_ELEMENTS(psci_compat));
    prop_str(b, "method", c->psci_method ? c->psci_method : "hvc");
    prop_u32(b, "cpu_suspend", PSCI_CPU_SUSPEND);
    prop_u32(b, "cpu_off", PSCI_CPU_OFF);
    prop_u32(b, "cpu_on", PSCI_CPU_ON);
    prop_u32(b, "migrate", PSCI_MIGRATE);
    end(b);

    /* The GIC (arm,gic.yaml and arm,gic-v3.yaml). */
    g_snprintf(name, sizeof(name), "intc@%" PRIx64, c->gicd_base);
    begin(b, name);
    cells.n = 0;
    c64(&cells, c->gicd_base);
    c64(&cells, c->gicd_size);
    if (c->gic_version == 2) {
        prop_str(b, "compatible", "arm,cortex-a15-gic");
        c64(&cells, c->gicc_base);
        c64(&cells, c->gicc_size);
    } else {
        prop_str(b, "compatible", "arm,gic-v3");
        prop_u32(b, "#redistributor-regions", 1);
        c64(&cells, c->gicr_base);
        c64(&cells, c->gicr_size);
    }
    prop_cells(b, "reg", &cells);
    prop_u32(b, "#interrupt-cells", 3);
    prop_empty(b, "interrupt-controller");
    prop_u32(b, "#address-cells", 2);
    prop_u32(b, "#size-cells", 2);
    prop_empty(b, "ranges");
    prop_u32(b, "phandle", VIRT_FDT_PHANDLE_GIC);
    end(b);

    /* The generic timer (arm,arch_timer.yaml): secure physical, non-secure
     * physical, virtual, hypervisor PPIs. GICv2 PPI specifiers carry the
     * mask of CPUs the PPI is wired to in flags bits 8..15. */
    uint32_t tflags = IRQ_LEVEL_HIGH;

    if (c->gic_version == 2) {
        tflags |= ((1u << c->smp) - 1) << 8;
    }
    static const unsigned timer_ppi[] = { 13, 14, 11, 10 };

    begin(b, "timer");
    prop_str(b, "compatible", "arm,armv8-timer");
    cells.n = 0;
    for (unsigned i = 0; i < G_N_ELEMENTS(timer_ppi); i++) {
        c32(&cells, GIC_PPI);
        c32(&cells, timer_ppi[i]);
        c32(&cells, tflags);
    }
    prop_cells(b, "interrupts", &cells);
    prop_empty(b, "always-on");
    end(b);

    /* The PL011's clocks (clock/fixed-clock.yaml). */
    begin(b, "apb-pclk");
    prop_str(b, "compatible", "fixed-clock");
    prop_u32(b, "#clock-cells", 0);
    prop_u32(b, "clock-frequency", 24000000);
    prop_str(b, "clock-output-names", "clk24mhz");
    prop_u32(b, "phandle", VIRT_FDT_PHANDLE_CLK);
    end(b);

    /* The UART (serial/arm,pl011.yaml, arm,primecell.yaml). */
    static const char *const uart_compat[] = { "arm,pl011", "arm,primecell" };
    static const char *const uart_clocks[] = { "uartclk", "apb_pclk" };

    begin(b, uart_path + 1);
    prop_strs(b, "compatible", uart_compat, G_N_ELEMENTS(uart_compat));
    reg2(b, c->uart_base, c->uart_size);
    cells.n = 0;
    c32(&cells, GIC_SPI);
    c32(&cells, c->uart_spi);
    c32(&cells, IRQ_LEVEL_HIGH);
    prop_cells(b, "interrupts", &cells);
    cells.n = 0;
    c32(&cells, VIRT_FDT_PHANDLE_CLK);
    c32(&cells, VIRT_FDT_PHANDLE_CLK);
    prop_cells(b, "clocks", &cells);
    prop_strs(b, "clock-names", uart_clocks, G_N_ELEMENTS(uart_clocks));
    end(b);

    /* PCIe (pci/host-generic-pci.yaml, and the PCI bus binding: a child
     * address is 3 cells phys.hi phys.mid phys.lo, phys.hi holding the space
     * code in bits 24..25: 1 I/O, 2 32-bit memory, 3 64-bit memory). */
    if (c->pcie_ecam_size) {
        g_snprintf(name, sizeof(name), "pcie@%" PRIx64, c->pcie_ecam_base);
        begin(b, name);
        prop_str(b, "compatible", "pci-host-ecam-generic");
        prop_str(b, "device_type", "pci");
        prop_u32(b, "#address-cells", 3);
        prop_u32(b, "#size-cells", 2);
        prop_u32(b, "#interrupt-cells", 1);
        cells.n = 0;
        c32(&cells, 0);
        c32(&cells, c->pcie_buses - 1);
        prop_cells(b, "bus-range", &cells);
        prop_u32(b, "linux,pci-domain", 0);
        reg2(b, c->pcie_ecam_base, c->pcie_ecam_size);
        cells.n = 0;
        if (c->pcie_pio_size) {
            /* I/O ports from 0, at CPU address pcie_pio_base. */
            c32(&cells, 0x01000000);
            c64(&cells, 0);
            c64(&cells, c->pcie_pio_base);
            c64(&cells, c->pcie_pio_size);
        }
        c32(&cells, 0x02000000);
        c64(&cells, c->pcie_mmio_base);
        c64(&cells, c->pcie_mmio_base);
        c64(&cells, c->pcie_mmio_size);
        if (c->pcie_mmio64_size) {
            c32(&cells, 0x03000000);
            c64(&cells, c->pcie_mmio64_base);
            c64(&cells, c->pcie_mmio64_base);
            c64(&cells, c->pcie_mmio64_size);
        }
        prop_cells(b, "ranges", &cells);
        prop_empty(b, "dma-coherent");
        /* Device number in phys.hi bits 11..15; pin in the last cell. */
        cells.n = 0;
        c32(&cells, 0x1800);
        c32(&cells, 0);
        c32(&cells, 0);
        c32(&cells, 7);
        prop_cells(b, "interrupt-map-mask", &cells);
        cells.n = 0;
        for (unsigned slot = 0; slot < 4; slot++) {
            for (unsigned pin = 1; pin <= 4; pin++) {
                c32(&cells, slot << 11);
                c64(&cells, 0);
                c32(&cells, pin);
                c32(&cells, VIRT_FDT_PHANDLE_GIC);
                c64(&cells, 0);   /* the GIC's #address-cells = 2 */
                c32(&cells, GIC_SPI);
                c32(&cells, c->pcie_irq_spi_base + (slot + pin - 1) % 4);
                c32(&cells, IRQ_LEVEL_HIGH);
            }
        }
        prop_cells(b, "interrupt-map", &cells);
        end(b);
    }

    if (c->iommu_size) {
        g_snprintf(name, sizeof(name), "iommu@%" PRIx64, c->iommu_base);
        begin(b, name);
        prop_str(b, "compatible", "mmusim,iommu-ref");
        reg2(b, c->iommu_base, c->iommu_size);
        end(b);
    }

    end(b);   /* root */
    if (b->r == 0) {
        b->r = fdt_finish(b->fdt);
    }
    g_free(uart_path);
}

static bool G_GNUC_PRINTF(2, 3) config_error(GError **err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(err, VIRT_FDT_ERROR, VIRT_FDT_ERROR_CONFIG, "device tree: %s", msg);
    g_free(msg);
    return false;
}

static bool check_config(const VirtFdtConfig *c, GError **err)
{
    if (c->smp == 0) {
        return config_error(err, "no CPU");
    }
    if (c->gic_version != 2 && c->gic_version != 3) {
        return config_error(err, "GIC version %u (must be 2 or 3)", c->gic_version);
    }
    if (c->gic_version == 2 && c->smp > 8) {
        return config_error(err, "%u CPUs with a GICv2 (at most 8)", c->smp);
    }
    if (c->smp > 4096) {
        return config_error(err, "%u CPUs (at most 4096)", c->smp);
    }
    if (c->ram_size == 0) {
        return config_error(err, "no RAM");
    }
    if (c->psci_method && strcmp(c->psci_method, "hvc") != 0 &&
        strcmp(c->psci_method, "smc") != 0) {
        return config_error(err, "PSCI method \"%s\" (must be \"hvc\" or \"smc\")",
                            c->psci_method);
    }
    if (c->pcie_ecam_size) {
        if (c->pcie_buses == 0 || c->pcie_buses > 256) {
            return config_error(err, "%u PCI buses (must be 1..256)", c->pcie_buses);
        }
        /* ECAM: 1 MiB of configuration space per bus (PCIe base spec 7.2.2). */
        if (c->pcie_ecam_size < ((uint64_t)c->pcie_buses << 20)) {
            return config_error(err, "ECAM of 0x%" PRIx64 " bytes is too small for %u buses",
                                c->pcie_ecam_size, c->pcie_buses);
        }
        if (c->pcie_mmio_size == 0) {
            return config_error(err, "PCIe without a 32-bit memory window");
        }
    }
    if ((c->initrd_start || c->initrd_end) && c->initrd_end < c->initrd_start) {
        return config_error(err, "initrd end 0x%" PRIx64 " below its start 0x%" PRIx64,
                            c->initrd_end, c->initrd_start);
    }
    return true;
}

void *virt_fdt_build(const VirtFdtConfig *c, size_t *size, GError **err)
{
    if (!check_config(c, err)) {
        return NULL;
    }
    /* Typical trees take a few KiB; bootargs or many CPUs take more. */
    for (int bufsize = 16384; bufsize <= (2 << 20); bufsize *= 2) {
        Builder b = { .fdt = g_malloc0(bufsize), .r = 0 };

        b.r = fdt_create(b.fdt, bufsize);
        if (b.r == 0) {
            build(&b, c);
        }
        if (b.r == -FDT_ERR_NOSPACE) {
            g_free(b.fdt);
            continue;
        }
        if (b.r == 0) {
            b.r = fdt_pack(b.fdt);
        }
        if (b.r == 0) {
            b.r = fdt_check_header(b.fdt);
        }
        if (b.r != 0) {
            g_set_error(err, VIRT_FDT_ERROR, VIRT_FDT_ERROR_LIBFDT, "device tree: libfdt: %s",
                        fdt_strerror(b.r));
            g_free(b.fdt);
            return NULL;
        }
        *size = fdt_totalsize(b.fdt);
        return g_realloc(b.fdt, *size);
    }
    g_set_error(err, VIRT_FDT_ERROR, VIRT_FDT_ERROR_LIBFDT,
                "device tree: larger than 2 MiB (bootargs too long?)");
    return NULL;
}
