/*
 * The pc machine in process: per-CPU local APICs in each CPU's own view,
 * IA32_APIC_BASE relocation and disable, what DMA sees, the i440FX SMRAM
 * control rules, the APM port, PCI configuration mechanism #1, fw_cfg,
 * INIT/SIPI bring-up, the scheduler's wake-up rules and the virtual clock
 * (exact APIC timer deadlines, idle time skipped), COM1 -> I/O APIC pin 4,
 * the 8254 -> 8259 / I/O APIC pin 2 -> CPU path, CR8 <-> TPR, x2APIC.
 *
 * Small real-mode programs are written straight into RAM as machine code
 * (assembled with nasm -f bin, bits 16; the source is beside each array).
 */
#include <check.h>
#include <string.h>

#include "devices/serial_16550.h"
#include "machines/pc.h"
#include "targets/x86/x86_internal.h"   /* x86_write_cr, x86_cpuid */

#define SMP 4
#define MARKS 0x7000u   /* where the test programs leave their results */

/* --- Helpers. --- */

static PcMachine *new_pc(unsigned smp)
{
    PcConfig cfg = { .smp = smp, .serial = PC_SERIAL_NONE };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);

    ck_assert_msg(pc != NULL, "%s", err ? err->message : "?");
    return pc;
}

static AddressSpace *cpu_as(PcMachine *pc, unsigned i)
{
    return cpu_view_as(pc_machine_cpu(pc, i)->view);
}

static const char *served_by(AddressSpace *as, uint64_t addr)
{
    Dispatch *d = as_dispatch(as);
    const MemSection *s = dispatch_section(d, dispatch_lookup(d, addr, NULL));

    return s && s->mr ? mr_name(s->mr) : "unassigned";
}

static uint64_t rd(AddressSpace *as, uint64_t addr, unsigned size, unsigned cpu)
{
    uint64_t v = 0;

    as_read_val(as, addr, mem_attrs_cpu(cpu), size, MEM_LITTLE_ENDIAN, &v);
    return v;
}

static MemResult wr(AddressSpace *as, uint64_t addr, unsigned size, uint64_t v, unsigned cpu)
{
    return as_write_val(as, addr, mem_attrs_cpu(cpu), size, MEM_LITTLE_ENDIAN, v);
}

static uint32_t cpu_rd32(PcMachine *pc, unsigned cpu, uint64_t addr)
{
    return (uint32_t)rd(cpu_as(pc, cpu), addr, 4, cpu);
}

static void io_w(PcMachine *pc, uint16_t port, unsigned size, uint64_t v)
{
    ck_assert_int_eq(wr(pc_machine_io(pc), port, size, v, 0), MEM_OK);
}

static uint64_t io_r(PcMachine *pc, uint16_t port, unsigned size)
{
    return rd(pc_machine_io(pc), port, size, 0);
}

/* Host bridge configuration space through mechanism #1. */
static void pci_w8(PcMachine *pc, unsigned off, uint8_t v)
{
    io_w(pc, 0xcf8, 4, PCI_CONFIG_ENABLE | (off & 0xfc));
    io_w(pc, (uint16_t)(0xcfc + (off & 3)), 1, v);
}

static uint8_t pci_r8(PcMachine *pc, unsigned off)
{
    io_w(pc, 0xcf8, 4, PCI_CONFIG_ENABLE | (off & 0xfc));
    return (uint8_t)io_r(pc, (uint16_t)(0xcfc + (off & 3)), 1);
}

static uint32_t pci_r32(PcMachine *pc, unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    io_w(pc, 0xcf8, 4, PCI_CONFIG_ENABLE | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
    return (uint32_t)io_r(pc, 0xcfc, 4);
}

static void smram_w(PcMachine *pc, uint8_t v)
{
    pci_w8(pc, I440FX_SMRAM_OFFSET, v);
}

/* Write bytes into RAM (through the DMA view: the global map). */
static void poke(PcMachine *pc, uint64_t addr, const void *data, size_t len)
{
    ck_assert_int_eq(as_write(pc_machine_dma(pc), addr, mem_attrs_device(0), data, len), MEM_OK);
}

static uint32_t peek32(PcMachine *pc, uint64_t addr)
{
    return (uint32_t)rd(pc_machine_dma(pc), addr, 4, 0);
}

/* Send an IPI from CPU `from` by writing its own APIC page's ICR. */
static void send_ipi(PcMachine *pc, unsigned from, uint32_t dest_id, uint32_t icr_lo)
{
    AddressSpace *as = cpu_as(pc, from);

    ck_assert_int_eq(wr(as, APIC_DEFAULT_BASE + APIC_REG_ICR_HI, 4, dest_id << 24, from), MEM_OK);
    ck_assert_int_eq(wr(as, APIC_DEFAULT_BASE + APIC_REG_ICR_LO, 4, icr_lo, from), MEM_OK);
}

#define ICR_DM(m) ((uint32_t)(m) << APIC_ICR_DM_SHIFT)
#define ICR_SH(s) ((uint32_t)(s) << APIC_ICR_SH_SHIFT)

/* Point CPU i at real-mode code at 0000:ip, running. */
static void start_real_mode(PcMachine *pc, unsigned i, uint16_t ip)
{
    X86Cpu *cpu = pc_machine_cpu(pc, i);

    cpu->segs[S_CS].selector = 0;
    cpu->segs[S_CS].base = 0;
    cpu->rip = ip;
    cpu->halted = false;
}

static uint64_t msr_read(X86Cpu *cpu, uint32_t msr, bool *ok)
{
    uint64_t v = 0;

    *ok = cpu->mops->rdmsr(cpu->machine, cpu, msr, &v);
    return v;
}

static bool msr_write(X86Cpu *cpu, uint32_t msr, uint64_t v)
{
    return cpu->mops->wrmsr(cpu->machine, cpu, msr, v);
}

static int run(PcMachine *pc)
{
    PcRunLimits lim = { .max_insns = 50000000, .timeout = 60 };

    return pc_machine_run(pc, &lim);
}

/* --- Per-CPU APICs. --- */

START_TEST(test_apic_per_cpu)
{
    PcMachine *pc = new_pc(SMP);

    for (unsigned i = 0; i < SMP; i++) {
        char name[32];

        g_snprintf(name, sizeof(name), "apic.cpu%u", i);
        ck_assert_str_eq(served_by(cpu_as(pc, i), APIC_DEFAULT_BASE), name);
        ck_assert_uint_eq(cpu_rd32(pc, i, APIC_DEFAULT_BASE + APIC_REG_ID), i << 24);
        ck_assert_uint_eq(cpu_rd32(pc, i, APIC_DEFAULT_BASE + APIC_REG_VERSION),
                          APIC_VERSION_VALUE);
        ck_assert_uint_eq(apic_id(pc_machine_apic(pc, i)), i);
        /* The BSP flag is CPU 0's alone. */
        bool ok;
        uint64_t base = msr_read(pc_machine_cpu(pc, i), APIC_MSR_APIC_BASE, &ok);
        ck_assert(ok);
        ck_assert_uint_eq(base, APIC_DEFAULT_BASE | APIC_BASE_EN | (i == 0 ? APIC_BASE_BSP : 0));
    }
    ck_assert_ptr_null(pc_machine_apic(pc, SMP));
    /* A write to one CPU's TPR through its page changes that APIC only. */
    ck_assert_int_eq(wr(cpu_as(pc, 1), APIC_DEFAULT_BASE + APIC_REG_TPR, 4, 0x20, 1), MEM_OK);
    ck_assert_uint_eq(cpu_rd32(pc, 1, APIC_DEFAULT_BASE + APIC_REG_TPR), 0x20);
    ck_assert_uint_eq(cpu_rd32(pc, 0, APIC_DEFAULT_BASE + APIC_REG_TPR), 0);
    ck_assert_uint_eq(cpu_rd32(pc, 2, APIC_DEFAULT_BASE + APIC_REG_TPR), 0);
    /* The I/O APIC is in the global map, for everyone. */
    ck_assert_str_eq(served_by(cpu_as(pc, 3), PC_IOAPIC_BASE), "ioapic");
    ck_assert_str_eq(served_by(pc_machine_dma(pc), PC_IOAPIC_BASE), "ioapic");
    ck_assert_ptr_nonnull(pc_machine_ioapic(pc));
    /* MSRs that are not the APIC's are not the machine's either: #GP. */
    bool ok;
    msr_read(pc_machine_cpu(pc, 0), 0x3a, &ok);
    ck_assert(!ok);
    ck_assert(!msr_write(pc_machine_cpu(pc, 0), 0x3a, 0));
    /* x2APIC registers outside x2APIC mode: #GP. */
    msr_read(pc_machine_cpu(pc, 0), APIC_MSR_X2APIC(APIC_REG_ID), &ok);
    ck_assert(!ok);
    pc_machine_free(pc);
}
END_TEST

START_TEST(test_apic_relocate_and_disable)
{
    PcMachine *pc = new_pc(SMP);
    X86Cpu *c2 = pc_machine_cpu(pc, 2);
    const uint64_t nb = 0x200000;   /* RAM, 2 MiB */
    bool ok;

    /* A marker in RAM at the new base + 0x20 (the ID register's offset). */
    ck_assert_int_eq(wr(cpu_as(pc, 0), nb + APIC_REG_ID, 4, 0x5a5a5a5a, 0), MEM_OK);
    uint64_t gen0 = dispatch_generation(as_dispatch(cpu_as(pc, 0)));

    ck_assert(msr_write(c2, APIC_MSR_APIC_BASE, nb | APIC_BASE_EN));
    ck_assert_uint_eq(msr_read(c2, APIC_MSR_APIC_BASE, &ok), nb | APIC_BASE_EN);
    /* CPU 2: its APIC at the new base, nothing at the old one. */
    ck_assert_str_eq(served_by(cpu_as(pc, 2), nb), "apic.cpu2");
    ck_assert_uint_eq(cpu_rd32(pc, 2, nb + APIC_REG_ID), 2u << 24);
    ck_assert_str_eq(served_by(cpu_as(pc, 2), APIC_DEFAULT_BASE), "unassigned");
    ck_assert_uint_eq(cpu_rd32(pc, 2, APIC_DEFAULT_BASE + APIC_REG_ID), 0xffffffffu);
    /* The others: unchanged, and RAM at CPU 2's new base. */
    for (unsigned i = 0; i < SMP; i++) {
        if (i == 2) {
            continue;
        }
        ck_assert_str_eq(served_by(cpu_as(pc, i), nb), "pc.ram");
        ck_assert_uint_eq(cpu_rd32(pc, i, nb + APIC_REG_ID), 0x5a5a5a5a);
        ck_assert_uint_eq(cpu_rd32(pc, i, APIC_DEFAULT_BASE + APIC_REG_ID), i << 24);
    }
    /* Only CPU 2's dispatch changed. */
    ck_assert_uint_eq(dispatch_generation(as_dispatch(cpu_as(pc, 0))), gen0);
    /* CPU 0 writes RAM at 0x200000 and reads it back. */
    ck_assert_int_eq(wr(cpu_as(pc, 0), nb + 0x100, 4, 0x600dcafe, 0), MEM_OK);
    ck_assert_uint_eq(cpu_rd32(pc, 0, nb + 0x100), 0x600dcafe);

    /* Reserved bits are refused (#GP), nothing moves. */
    ck_assert(!msr_write(c2, APIC_MSR_APIC_BASE, nb | APIC_BASE_EN | 1));
    ck_assert_str_eq(served_by(cpu_as(pc, 2), nb), "apic.cpu2");

    /* Disabled through the MSR: what lies beneath shows, at both bases. */
    ck_assert(msr_write(c2, APIC_MSR_APIC_BASE, nb));
    ck_assert_str_eq(served_by(cpu_as(pc, 2), nb), "pc.ram");
    ck_assert_uint_eq(cpu_rd32(pc, 2, nb + APIC_REG_ID), 0x5a5a5a5a);
    ck_assert_str_eq(served_by(cpu_as(pc, 2), APIC_DEFAULT_BASE), "unassigned");
    ck_assert(!cpu_view_apic_enabled(c2->view));

    /* Enabled again at the default base. */
    ck_assert(msr_write(c2, APIC_MSR_APIC_BASE, APIC_DEFAULT_BASE | APIC_BASE_EN));
    ck_assert_uint_eq(cpu_rd32(pc, 2, APIC_DEFAULT_BASE + APIC_REG_ID), 2u << 24);
    ck_assert_uint_eq(cpu_rd32(pc, 2, nb + APIC_REG_ID), 0x5a5a5a5a);

    /* A machine reset puts a relocated page back for the BSP too. */
    ck_assert(msr_write(pc_machine_cpu(pc, 0), APIC_MSR_APIC_BASE,
                        nb | APIC_BASE_EN | APIC_BASE_BSP));
    ck_assert_str_eq(served_by(cpu_as(pc, 0), nb), "apic.cpu0");
    pc_machine_reset(pc);
    ck_assert_str_eq(served_by(cpu_as(pc, 0), nb), "pc.ram");
    ck_assert_str_eq(served_by(cpu_as(pc, 0), APIC_DEFAULT_BASE), "apic.cpu0");
    pc_machine_free(pc);
}
END_TEST

/* --- What devices see. --- */

START_TEST(test_dma_sees_no_apic_or_smram)
{
    PcMachine *pc = new_pc(2);
    AddressSpace *dma = pc_machine_dma(pc);

    ck_assert_str_eq(served_by(dma, APIC_DEFAULT_BASE), "unassigned");
    ck_assert_uint_eq(rd(dma, APIC_DEFAULT_BASE + APIC_REG_ID, 4, 0), 0xffffffffu);
    ck_assert_str_eq(served_by(dma, I440FX_SMRAM_BASE), "vga.lowmem");
    /* SMRAM open to every CPU: still the VGA window for devices. */
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN);
    ck_assert_str_eq(served_by(cpu_as(pc, 0), I440FX_SMRAM_BASE), "pc.ram");
    ck_assert_str_eq(served_by(cpu_as(pc, 1), I440FX_SMRAM_BASE + 0x1ffff), "pc.ram");
    ck_assert_str_eq(served_by(dma, I440FX_SMRAM_BASE), "vga.lowmem");
    ck_assert_str_eq(served_by(dma, I440FX_SMRAM_BASE + 0x1ffff), "vga.lowmem");
    /* A relocated APIC is not visible to devices at its new base either. */
    ck_assert(msr_write(pc_machine_cpu(pc, 1), APIC_MSR_APIC_BASE, 0x300000 | APIC_BASE_EN));
    ck_assert_str_eq(served_by(dma, 0x300000), "pc.ram");
    pc_machine_free(pc);
}
END_TEST

/* --- SMRAM control. --- */

static void check_smram_seen(PcMachine *pc, unsigned cpu, bool smram)
{
    const char *want = smram ? "pc.ram" : "vga.lowmem";

    ck_assert_msg(strcmp(served_by(cpu_as(pc, cpu), I440FX_SMRAM_BASE), want) == 0,
                  "cpu%u sees %s at 0xa0000, want %s (SMRAM reg 0x%02x)", cpu,
                  served_by(cpu_as(pc, cpu), I440FX_SMRAM_BASE), want,
                  i440fx_smram(pc_machine_chipset(pc)));
    ck_assert_uint_eq(cpu_view_smram_visible(pc_machine_cpu(pc, cpu)->view), smram);
}

START_TEST(test_smram_register_rules)
{
    PcMachine *pc = new_pc(2);
    I440fx *c = pc_machine_chipset(pc);

    /* The two memories behind 0xa0000: VGA and SMRAM (pc.ram's bytes). */
    ck_assert_int_eq(wr(cpu_as(pc, 0), I440FX_SMRAM_BASE, 4, 0x21414756, 0), MEM_OK); /* "VGA!" */
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), I440FX_SMRAM_DEFAULT);
    check_smram_seen(pc, 0, false);

    /* G_SMRAME alone: only SMM accesses would see SMRAM. */
    smram_w(pc, I440FX_SMRAM_G_SMRAME);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x0a);
    check_smram_seen(pc, 0, false);
    check_smram_seen(pc, 1, false);

    /* D_OPEN with G_SMRAME: visible to non-SMM accesses, every CPU. */
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x4a);
    check_smram_seen(pc, 0, true);
    check_smram_seen(pc, 1, true);
    ck_assert_int_eq(wr(cpu_as(pc, 1), I440FX_SMRAM_BASE, 4, 0x41524d53, 1), MEM_OK); /* "SMRA" */
    ck_assert_uint_eq(cpu_rd32(pc, 0, I440FX_SMRAM_BASE), 0x41524d53);
    ck_assert_uint_eq(peek32(pc, I440FX_SMRAM_BASE), 0x21414756);  /* devices: VGA */

    /* D_OPEN alone opens SMRAM to everyone (memory-semantics.md §3: "D_OPEN
     * makes it visible to everyone"). */
    smram_w(pc, I440FX_SMRAM_D_OPEN);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x42);
    check_smram_seen(pc, 0, true);
    ck_assert_uint_eq(cpu_rd32(pc, 0, I440FX_SMRAM_BASE), 0x41524d53);

    /* Reserved bit 7 and C_BASE_SEG cannot be written; D_CLS is stored. */
    smram_w(pc, 0x80 | I440FX_SMRAM_D_CLS | I440FX_SMRAM_G_SMRAME | 0x05);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x2a);

    /* D_LCK: D_OPEN is cleared even when written together with it, and
     * neither can be changed until reset; G_SMRAME stays writable. */
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN | I440FX_SMRAM_D_LCK);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x1a);
    check_smram_seen(pc, 0, false);
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x1a);
    check_smram_seen(pc, 0, false);
    check_smram_seen(pc, 1, false);
    smram_w(pc, 0);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x12);   /* D_LCK stays */
    i440fx_smram_write(c, 0x4a);
    ck_assert_uint_eq(i440fx_smram(c), 0x1a);

    /* Only a (power-on) reset unlocks. */
    pc_machine_reset(pc);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), I440FX_SMRAM_DEFAULT);
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN);
    ck_assert_uint_eq(pci_r8(pc, I440FX_SMRAM_OFFSET), 0x4a);
    check_smram_seen(pc, 0, true);
    ck_assert_uint_eq(cpu_rd32(pc, 0, I440FX_SMRAM_BASE), 0x41524d53);  /* RAM kept */

    /* The rule itself. */
    ck_assert(!i440fx_smram_visible(0x02, true));
    ck_assert(i440fx_smram_visible(0x0a, true));
    ck_assert(!i440fx_smram_visible(0x0a, false));
    ck_assert(i440fx_smram_visible(0x4a, false));
    ck_assert(i440fx_smram_visible(0x42, false));  /* D_OPEN alone */
    ck_assert(!i440fx_smram_visible(0x02, false));
    ck_assert(i440fx_smram_visible(0x2a, true));   /* D_CLS: not expressible, see the header */
    pc_machine_free(pc);
}
END_TEST

/* An SMI through the APIC (ICR delivery mode SMI) and through the APM port;
 * the CPU in SMM sees SMRAM, the other CPU does not, at the same time. The
 * halted CPU has IF=0 (the built-in ROM's cli; hlt): a pending SMI must
 * still give it a turn. */
START_TEST(test_smi_sources_and_smm_view)
{
    PcMachine *pc = new_pc(2);
    /* At SMBASE + 0x8000 = 0x38000 (bits 16, DS base 0 in SMM):
     *   mov dword [0x7010], 0x11223344 ; inc byte [0x7014] ; hlt  */
    static const uint8_t smi_hlt[] = { 0x66, 0xc7, 0x06, 0x10, 0x70, 0x44, 0x33, 0x22, 0x11,
                                       0xfe, 0x06, 0x14, 0x70, 0xf4 };
    /* The same ending with rsm (0f aa) instead of hlt. */
    static const uint8_t smi_rsm[] = { 0x66, 0xc7, 0x06, 0x10, 0x70, 0x44, 0x33, 0x22, 0x11,
                                       0xfe, 0x06, 0x14, 0x70, 0x0f, 0xaa };
    X86Cpu *c0 = pc_machine_cpu(pc, 0), *c1 = pc_machine_cpu(pc, 1);

    smram_w(pc, I440FX_SMRAM_G_SMRAME);
    /* CPU 0 runs the built-in ROM: cli; hlt. */
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert(c0->halted);
    ck_assert_uint_eq(c0->eflags & X86_IF, 0);

    /* SMI IPI from CPU 0's APIC to itself by physical destination. */
    poke(pc, 0x38000, smi_hlt, sizeof(smi_hlt));
    send_ipi(pc, 0, 0, ICR_DM(APIC_DM_SMI));
    ck_assert(c0->smi_pending);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS + 0x10), 0x11223344);
    ck_assert_uint_eq(peek32(pc, MARKS + 0x14) & 0xff, 1);
    /* Halted inside SMM: SMRAM for CPU 0, VGA for CPU 1, at once. */
    ck_assert(c0->in_smm);
    check_smram_seen(pc, 0, true);
    check_smram_seen(pc, 1, false);
    ck_assert_str_eq(served_by(pc_machine_dma(pc), I440FX_SMRAM_BASE), "vga.lowmem");
    /* A write to SMRAM from SMM does not reach VGA. */
    ck_assert_int_eq(wr(cpu_as(pc, 0), I440FX_SMRAM_BASE, 4, 0x11111111, 0), MEM_OK);
    ck_assert_uint_eq(cpu_rd32(pc, 1, I440FX_SMRAM_BASE), 0);

    /* A CPU waiting for SIPI takes no SMI. */
    send_ipi(pc, 0, 1, ICR_DM(APIC_DM_SMI));
    ck_assert(!c1->smi_pending);

    /* APM control: every CPU not waiting for SIPI. Reset first (out of SMM). */
    pc_machine_reset(pc);
    ck_assert(!c0->in_smm);
    check_smram_seen(pc, 0, false);
    smram_w(pc, I440FX_SMRAM_G_SMRAME);
    poke(pc, 0x38000, smi_rsm, sizeof(smi_rsm));
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    io_w(pc, 0xb2, 1, 0x42);
    ck_assert(c0->smi_pending);
    ck_assert(!c1->smi_pending);
    ck_assert_uint_eq(io_r(pc, 0xb2, 1), 0x42);
    ck_assert_uint_eq(i440fx_apm_control(pc_machine_chipset(pc)), 0x42);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS + 0x14) & 0xff, 2);
    /* RSM back to the halted state (auto-halt restart), out of SMM. */
    ck_assert(!c0->in_smm);
    ck_assert(c0->halted);
    check_smram_seen(pc, 0, false);
    /* APM status: a scratch register. */
    io_w(pc, 0xb3, 1, 0x5a);
    ck_assert_uint_eq(io_r(pc, 0xb3, 1), 0x5a);
    ck_assert_uint_eq(i440fx_apm_status(pc_machine_chipset(pc)), 0x5a);
    ck_assert(!c0->smi_pending);
    pc_machine_free(pc);
}
END_TEST

/* --- Regression case 10: TLB accounting across view switches. --- */

/* The pages each CPU's TLB is warmed with (flat mode: identity, MMU index
 * KERNEL_NOSMAP, no collisions in a 64..4096-entry table): plain RAM, the
 * two pages of the SMRAM window's ends, the APIC page and RAM at CPU 2's
 * future APIC base. */
#define TLB_IDX X86_MMU_KERNEL_NOSMAP
#define TLB_NB  0x230000u   /* CPU 2's new APIC base: RAM for everyone else */
static const uint64_t tlb_ram_pages[] = { 0x110000, 0x111000, 0x112000, 0x113000,
                                          0x114000, 0x115000, 0x116000, 0x117000,
                                          0x9f000 /* just below SMRAM */ };
static const uint64_t tlb_smram_pages[] = { 0xa0000, 0xbf000 };

static void tlb_stats_all(PcMachine *pc, TlbStats *out)
{
    for (unsigned i = 0; i < SMP; i++) {
        tlb_get_stats(pc_machine_cpu(pc, i)->tlb, TLB_IDX, &out[i]);
    }
}

/* Read one word from each page through CPU i's TLB; returns the misses. */
static uint64_t tlb_touch(PcMachine *pc, unsigned i, const uint64_t *pages, size_t n)
{
    CpuTlb *t = pc_machine_cpu(pc, i)->tlb;
    TlbStats before, after;

    tlb_get_stats(t, TLB_IDX, &before);
    for (size_t k = 0; k < n; k++) {
        uint64_t v;

        ck_assert_msg(tlb_load(t, pages[k] + 0x20, 4, TLB_IDX, 0, &v), "cpu%u: load 0x%llx", i,
                      (unsigned long long)pages[k]);
    }
    tlb_get_stats(t, TLB_IDX, &after);
    ck_assert_uint_eq(after.hits + after.misses - before.hits - before.misses, n);
    return after.misses - before.misses;
}

static uint64_t tlb_touch_one(PcMachine *pc, unsigned i, uint64_t page)
{
    return tlb_touch(pc, i, &page, 1);
}

#define N_RAM G_N_ELEMENTS(tlb_ram_pages)
#define N_SMRAM G_N_ELEMENTS(tlb_smram_pages)

/* Flush counters of CPU i moved by exactly (all, range) since `was`. */
static void check_flushes(PcMachine *pc, const TlbStats *was, unsigned i, uint64_t all,
                          uint64_t range)
{
    TlbStats now;

    tlb_get_stats(pc_machine_cpu(pc, i)->tlb, TLB_IDX, &now);
    ck_assert_msg(now.flush_all - was[i].flush_all == all &&
                  now.flush_range - was[i].flush_range == range &&
                  now.flush_page == was[i].flush_page && now.flush_mmuidx == was[i].flush_mmuidx,
                  "cpu%u: flush_all +%llu flush_range +%llu flush_page +%llu flush_mmuidx +%llu, "
                  "want +%llu +%llu +0 +0", i,
                  (unsigned long long)(now.flush_all - was[i].flush_all),
                  (unsigned long long)(now.flush_range - was[i].flush_range),
                  (unsigned long long)(now.flush_page - was[i].flush_page),
                  (unsigned long long)(now.flush_mmuidx - was[i].flush_mmuidx),
                  (unsigned long long)all, (unsigned long long)range);
}

/* Every counter of CPU i unchanged since `was`. */
static void check_untouched(PcMachine *pc, const TlbStats *was, unsigned i)
{
    TlbStats now;

    tlb_get_stats(pc_machine_cpu(pc, i)->tlb, TLB_IDX, &now);
    ck_assert_msg(memcmp(&now, &was[i], sizeof(now)) == 0,
                  "cpu%u's TLB counters changed (hits %llu->%llu misses %llu->%llu "
                  "flush_all %llu->%llu flush_range %llu->%llu)", i,
                  (unsigned long long)was[i].hits, (unsigned long long)now.hits,
                  (unsigned long long)was[i].misses, (unsigned long long)now.misses,
                  (unsigned long long)was[i].flush_all, (unsigned long long)now.flush_all,
                  (unsigned long long)was[i].flush_range, (unsigned long long)now.flush_range);
}

static void tlb_warm_all(PcMachine *pc)
{
    for (unsigned i = 0; i < SMP; i++) {
        tlb_touch(pc, i, tlb_ram_pages, N_RAM);
        tlb_touch(pc, i, tlb_smram_pages, N_SMRAM);
        tlb_touch_one(pc, i, APIC_DEFAULT_BASE);
        tlb_touch_one(pc, i, TLB_NB);
        /* Warm now: a second round hits everywhere. */
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), 0);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_smram_pages, N_SMRAM), 0);
        ck_assert_uint_eq(tlb_touch_one(pc, i, APIC_DEFAULT_BASE), 0);
        ck_assert_uint_eq(tlb_touch_one(pc, i, TLB_NB), 0);
    }
}

/* Regression case 10: "TLB accounting: after each switch, the CPUs that
 * should miss do, and the others do not". A per-CPU view change (APIC
 * relocation, SMM entry/exit) invalidates that CPU's TLB precisely (one
 * flush_range per MMU index, entries only where an overlay was or is);
 * no other CPU's counters move. A change every CPU sees invalidates every
 * CPU: SMRAM's D_OPEN (each view's overlay: precise), a region added to
 * the global map (the shared base: a full flush). */
START_TEST(test_tlb_accounting_view_switches)
{
    PcMachine *pc = new_pc(SMP);
    X86Cpu *c1 = pc_machine_cpu(pc, 1), *c2 = pc_machine_cpu(pc, 2);
    TlbStats s[SMP];

    smram_w(pc, I440FX_SMRAM_G_SMRAME);
    tlb_warm_all(pc);

    /* (a) CPU 2 moves its APIC page through the machine's WRMSR path. */
    tlb_stats_all(pc, s);
    ck_assert(msr_write(c2, APIC_MSR_APIC_BASE, TLB_NB | APIC_BASE_EN));
    for (unsigned i = 0; i < SMP; i++) {
        if (i == 2) {
            check_flushes(pc, s, i, 0, 1);   /* precise: one range invalidation */
        } else {
            check_untouched(pc, s, i);
        }
    }
    tlb_stats_all(pc, s);
    for (unsigned i = 0; i < SMP; i++) {
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), 0);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_smram_pages, N_SMRAM), 0);
        /* Only CPU 2 misses, and only on its old and new APIC pages. */
        ck_assert_uint_eq(tlb_touch_one(pc, i, APIC_DEFAULT_BASE), i == 2);
        ck_assert_uint_eq(tlb_touch_one(pc, i, TLB_NB), i == 2);
        check_flushes(pc, s, i, 0, 0);
    }
    ck_assert_uint_eq(cpu_rd32(pc, 2, TLB_NB + APIC_REG_ID), 2u << 24);

    /* (b) CPU 1 enters SMM and leaves it again, through the machine's SMM
     * path (what x86_smm_enter and RSM call: the view follows the chipset
     * rule). SMRAM shows for CPU 1 only. */
    tlb_stats_all(pc, s);
    c1->in_smm = true;
    c1->mops->smm_changed(c1->machine, c1, true);
    check_smram_seen(pc, 1, true);
    check_smram_seen(pc, 0, false);
    for (unsigned i = 0; i < SMP; i++) {
        if (i == 1) {
            check_flushes(pc, s, i, 0, 1);
        } else {
            check_untouched(pc, s, i);
        }
    }
    ck_assert_uint_eq(tlb_touch(pc, 1, tlb_ram_pages, N_RAM), 0);          /* still hit */
    ck_assert_uint_eq(tlb_touch(pc, 1, tlb_smram_pages, N_SMRAM), N_SMRAM); /* SMRAM: miss */
    /* The APIC page is an overlay of the view too: under an overlay range,
     * so dropped by the precise invalidation as well. */
    ck_assert_uint_eq(tlb_touch_one(pc, 1, APIC_DEFAULT_BASE), 1);
    tlb_stats_all(pc, s);
    c1->in_smm = false;
    c1->mops->smm_changed(c1->machine, c1, false);
    check_smram_seen(pc, 1, false);
    for (unsigned i = 0; i < SMP; i++) {
        if (i == 1) {
            check_flushes(pc, s, i, 0, 1);
        } else {
            check_untouched(pc, s, i);
        }
    }
    tlb_stats_all(pc, s);
    for (unsigned i = 0; i < SMP; i++) {
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), 0);
        /* CPU 1's SMRAM entries went again at RSM (back to VGA). */
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_smram_pages, N_SMRAM), i == 1 ? N_SMRAM : 0);
        ck_assert_uint_eq(tlb_touch_one(pc, i, APIC_DEFAULT_BASE), i == 1);
        check_flushes(pc, s, i, 0, 0);
    }

    /* (c1) D_OPEN: every CPU's view changes (SMRAM over the VGA window for
     * all): every CPU invalidates, precisely. */
    tlb_stats_all(pc, s);
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN);
    for (unsigned i = 0; i < SMP; i++) {
        check_smram_seen(pc, i, true);
        check_flushes(pc, s, i, 0, 1);
    }
    for (unsigned i = 0; i < SMP; i++) {
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), 0);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_smram_pages, N_SMRAM), N_SMRAM);
    }
    /* Closed again: the same, back. */
    tlb_stats_all(pc, s);
    smram_w(pc, I440FX_SMRAM_G_SMRAME);
    for (unsigned i = 0; i < SMP; i++) {
        check_smram_seen(pc, i, false);
        check_flushes(pc, s, i, 0, 1);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), 0);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_smram_pages, N_SMRAM), N_SMRAM);
    }

    /* (c2) A region added to the global map (the shared base): every CPU
     * flushes everything; every warm page misses once, then hits. */
    MemRegion *extra = mr_new_ram("tlb.extra", 0x1000, NULL);
    tlb_stats_all(pc, s);
    ck_assert(mr_add_subregion(pc_machine_system(pc), 0xd0000000u, extra, NULL));
    for (unsigned i = 0; i < SMP; i++) {
        check_flushes(pc, s, i, 1, 0);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), N_RAM);
        ck_assert_uint_eq(tlb_touch(pc, i, tlb_ram_pages, N_RAM), 0);
    }
    ck_assert(mr_del_subregion(pc_machine_system(pc), extra, NULL));
    mr_unref(extra);
    pc_machine_free(pc);
}
END_TEST

/* --- PCI configuration mechanism #1. --- */

START_TEST(test_pci_config)
{
    PcMachine *pc = new_pc(1);

    ck_assert_uint_eq(pci_r32(pc, 0, 0, 0, 0), 0x12378086);
    ck_assert_uint_eq(pci_r32(pc, 0, 0, 0, 8) >> 8, 0x060000);  /* host bridge class */
    ck_assert_uint_eq(pci_r32(pc, 0, 0, 0, 0x40), 0);
    ck_assert_uint_eq(pci_r32(pc, 0, 0, 0, 0x70) >> 16 & 0xff, I440FX_SMRAM_DEFAULT);
    /* 16-bit read at an odd data port: configuration offset 2. */
    io_w(pc, 0xcf8, 4, PCI_CONFIG_ENABLE);
    ck_assert_uint_eq(io_r(pc, 0xcfe, 2), 0x1237);
    /* Absent devices and functions: all-ones; writes to them are dropped. */
    ck_assert_uint_eq(pci_r32(pc, 0, 1, 0, 0), 0xffffffffu);
    ck_assert_uint_eq(pci_r32(pc, 0, 0, 1, 0), 0xffffffffu);
    ck_assert_uint_eq(pci_r32(pc, 1, 0, 0, 0), 0xffffffffu);
    /* The ID registers are read-only. */
    io_w(pc, 0xcf8, 4, PCI_CONFIG_ENABLE);
    io_w(pc, 0xcfc, 4, 0);
    ck_assert_uint_eq(pci_r32(pc, 0, 0, 0, 0), 0x12378086);
    /* A dword write at 0x70 reaches the SMRAM register in its byte 2. */
    io_w(pc, 0xcf8, 4, PCI_CONFIG_ENABLE | 0x70);
    io_w(pc, 0xcfc, 4, 0x00080000);
    ck_assert_uint_eq(i440fx_smram(pc_machine_chipset(pc)), 0x0a);
    /* Without the enable bit there is no configuration cycle. */
    io_w(pc, 0xcf8, 4, 0);
    ck_assert_uint_eq(io_r(pc, 0xcfc, 4), 0xffffffffu);
    /* CONFIG_ADDRESS: reserved bits read 0; only dword accesses reach it. */
    io_w(pc, 0xcf8, 4, 0xffffffff);
    ck_assert_uint_eq(io_r(pc, 0xcf8, 4), 0x80fffffc);
    ck_assert_uint_eq(i440fx_config_address(pc_machine_chipset(pc)), 0x80fffffc);
    ck_assert_uint_eq(io_r(pc, 0xcf9, 1), 0xff);
    io_w(pc, 0xcf8, 1, 0);
    ck_assert_uint_eq(io_r(pc, 0xcf8, 4), 0x80fffffc);
    /* The direct interface. */
    ck_assert_uint_eq(i440fx_config_read(pc_machine_chipset(pc), 0, 0, 0, 2, 2), 0x1237);
    ck_assert_uint_eq(i440fx_config_read(pc_machine_chipset(pc), 0, 3, 0, 0, 2), 0xffff);
    pc_machine_free(pc);
}
END_TEST

/* --- fw_cfg. --- */

static void fw_select(PcMachine *pc, uint16_t key)
{
    io_w(pc, FW_CFG_IO_BASE, 2, key);
}

static uint64_t fw_read(PcMachine *pc, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v |= io_r(pc, FW_CFG_IO_BASE + 1, 1) << (8 * i);
    }
    return v;
}

START_TEST(test_fw_cfg)
{
    PcConfig cfg = { .smp = 3, .ram_size = UINT64_C(0xf0000000), .serial = PC_SERIAL_NONE };
    GError *err = NULL;
    PcMachine *pc = pc_machine_new(&cfg, &err);
    char sig[5] = { 0 };

    ck_assert_msg(pc != NULL, "%s", err ? err->message : "?");
    fw_select(pc, FW_CFG_SIGNATURE);
    for (unsigned i = 0; i < 4; i++) {
        sig[i] = (char)io_r(pc, FW_CFG_IO_BASE + 1, 1);
    }
    ck_assert_str_eq(sig, "QEMU");
    ck_assert_uint_eq(fw_read(pc, 4), 0);    /* past the end: 0 */
    fw_select(pc, FW_CFG_ID);
    ck_assert_uint_eq(fw_read(pc, 4), FW_CFG_ID_TRADITIONAL);
    fw_select(pc, FW_CFG_NB_CPUS);
    ck_assert_uint_eq(fw_read(pc, 2), 3);
    fw_select(pc, FW_CFG_MAX_CPUS);
    ck_assert_uint_eq(fw_read(pc, 2), 3);
    fw_select(pc, FW_CFG_RAM_SIZE);
    ck_assert_uint_eq(fw_read(pc, 8), UINT64_C(0xf0000000));
    /* Reselecting starts over. */
    fw_select(pc, FW_CFG_RAM_SIZE);
    ck_assert_uint_eq(fw_read(pc, 4), 0xf0000000u);
    /* Unknown keys (the file directory too) read 0. */
    fw_select(pc, 0x1234);
    ck_assert_uint_eq(fw_read(pc, 8), 0);
    fw_select(pc, FW_CFG_FILE_DIR);
    ck_assert_uint_eq(fw_read(pc, 4), 0);
    /* The selector reads 0; a byte write to it is ignored; so are data writes. */
    fw_select(pc, FW_CFG_NB_CPUS);
    ck_assert_uint_eq(io_r(pc, FW_CFG_IO_BASE, 2), 0);
    io_w(pc, FW_CFG_IO_BASE, 1, 0);
    io_w(pc, FW_CFG_IO_BASE + 1, 1, 0x77);
    ck_assert_uint_eq(fw_cfg_selector(pc_machine_fw_cfg(pc)), FW_CFG_NB_CPUS);
    ck_assert_uint_eq(fw_read(pc, 2), 3);
    /* Nothing at the DMA interface's ports (not offered). */
    ck_assert_uint_eq(io_r(pc, 0x514, 4), 0xffffffffu);
    pc_machine_free(pc);
}
END_TEST

/* --- INIT/SIPI. --- */

/* At 0x8000, run by an AP from SIPI vector 8 (CS=0x0800, IP=0):
 *   xor ax,ax; mov ds,ax; lock inc word [0x7000]; mov byte [0x7002],0x5a;
 *   cli; .h: hlt; jmp .h  */
static const uint8_t ap_code[] = { 0x31, 0xc0, 0x8e, 0xd8, 0xf0, 0xff, 0x06, 0x00, 0x70,
                                   0xc6, 0x06, 0x02, 0x70, 0x5a, 0xfa, 0xf4, 0xeb, 0xfd };

START_TEST(test_init_sipi_bringup)
{
    PcMachine *pc = new_pc(SMP);
    X86Cpu *c1 = pc_machine_cpu(pc, 1);

    poke(pc, 0x8000, ap_code, sizeof(ap_code));
    for (unsigned i = 1; i < SMP; i++) {
        ck_assert(pc_machine_cpu_waiting_sipi(pc, i));
        ck_assert(pc_machine_cpu(pc, i)->halted);
    }
    ck_assert(!pc_machine_cpu_waiting_sipi(pc, 0));

    /* A SIPI alone starts a CPU waiting for one (as after power-on). But
     * first: INIT, then SIPI vector 8, to CPU 1 by physical destination. */
    send_ipi(pc, 0, 1, ICR_DM(APIC_DM_INIT) | APIC_ICR_ASSERT);
    ck_assert(pc_machine_cpu_waiting_sipi(pc, 1));
    send_ipi(pc, 0, 1, ICR_DM(APIC_DM_STARTUP) | 0x08);
    ck_assert(!pc_machine_cpu_waiting_sipi(pc, 1));
    ck_assert_uint_eq(c1->segs[S_CS].selector, 0x0800);
    ck_assert_uint_eq(c1->segs[S_CS].base, 0x8000);
    ck_assert_uint_eq(c1->rip, 0);
    /* A second SIPI to a started CPU is ignored. */
    send_ipi(pc, 0, 1, ICR_DM(APIC_DM_STARTUP) | 0x09);
    ck_assert_uint_eq(c1->segs[S_CS].base, 0x8000);

    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS), 0x005a0001);
    ck_assert(pc_machine_cpu_waiting_sipi(pc, 2));
    ck_assert(pc_machine_cpu_waiting_sipi(pc, 3));

    /* INIT and SIPI to all but self: CPU 1 again (INIT puts it back in
     * wait-for-SIPI), 2 and 3 for the first time. */
    send_ipi(pc, 0, 0, ICR_DM(APIC_DM_INIT) | APIC_ICR_ASSERT | ICR_SH(APIC_SH_ALL_BUT_SELF));
    for (unsigned i = 1; i < SMP; i++) {
        ck_assert(pc_machine_cpu_waiting_sipi(pc, i));
    }
    ck_assert(!pc_machine_cpu_waiting_sipi(pc, 0));
    send_ipi(pc, 0, 0, ICR_DM(APIC_DM_STARTUP) | 0x08 | ICR_SH(APIC_SH_ALL_BUT_SELF));
    send_ipi(pc, 0, 0, ICR_DM(APIC_DM_STARTUP) | 0x08 | ICR_SH(APIC_SH_ALL_BUT_SELF));
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS) & 0xffff, 4);

    /* INIT to the BSP (from CPU 1's APIC): back to the reset vector. */
    X86Cpu *c0 = pc_machine_cpu(pc, 0);
    c0->rip = 0x1234;
    send_ipi(pc, 1, 0, ICR_DM(APIC_DM_INIT) | APIC_ICR_ASSERT);
    ck_assert(!pc_machine_cpu_waiting_sipi(pc, 0));
    ck_assert(!c0->halted);
    ck_assert_uint_eq(c0->segs[S_CS].base + c0->rip, 0xfffffff0u);
    /* The APIC ID survives INIT. */
    ck_assert_uint_eq(cpu_rd32(pc, 0, APIC_DEFAULT_BASE + APIC_REG_ID), 0);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    pc_machine_free(pc);
}
END_TEST

/* A CPU sending INIT to itself: the ICR write completes, nothing after it
 * runs, and the AP waits for SIPI again. */
START_TEST(test_init_self)
{
    PcMachine *pc = new_pc(2);
    /* At 0x8000, CPU 1 with its APIC moved to 0x20000 (reachable in real
     * mode):
     *   mov ax,0x2000; mov ds,ax; mov dword [0x310],0x01000000;
     *   mov dword [0x300],0x4500 (INIT, assert, to APIC ID 1: itself);
     *   xor ax,ax; mov ds,ax; mov byte [0x7008],0x77; cli; .h: hlt; jmp .h */
    static const uint8_t self_init[] = {
        0xb8, 0x00, 0x20, 0x8e, 0xd8, 0x66, 0xc7, 0x06, 0x10, 0x03, 0x00, 0x00, 0x00, 0x01,
        0x66, 0xc7, 0x06, 0x00, 0x03, 0x00, 0x45, 0x00, 0x00, 0x31, 0xc0, 0x8e, 0xd8, 0xc6,
        0x06, 0x08, 0x70, 0x77, 0xfa, 0xf4, 0xeb, 0xfd,
    };
    X86Cpu *c1 = pc_machine_cpu(pc, 1);

    poke(pc, 0x8000, self_init, sizeof(self_init));
    ck_assert(msr_write(c1, APIC_MSR_APIC_BASE, 0x20000 | APIC_BASE_EN));
    send_ipi(pc, 0, 1, ICR_DM(APIC_DM_STARTUP) | 0x08);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert(pc_machine_cpu_waiting_sipi(pc, 1));
    ck_assert_uint_eq(peek32(pc, MARKS + 8), 0);
    /* Four instructions ran on CPU 1 (the fourth sent the INIT). */
    ck_assert_uint_eq(c1->icount, 4);
    /* INIT kept IA32_APIC_BASE: the page is still at 0x20000. */
    ck_assert_str_eq(served_by(cpu_as(pc, 1), 0x20000), "apic.cpu1");
    pc_machine_free(pc);
}
END_TEST

/* --- Time: exact APIC timer deadlines, idle skipping, stop rules. --- */

/* IVT vector 0x40 -> 0000:7d00:
 *   rdtsc; mov [0x7000], eax; inc word [0x7004]; cli; .h: hlt; jmp .h */
static const uint8_t timer_handler[] = { 0x0f, 0x31, 0x66, 0xa3, 0x00, 0x70, 0xff, 0x06,
                                         0x04, 0x70, 0xfa, 0xf4, 0xeb, 0xfd };
/* xor ax,ax; mov ds,ax; sti; .l: jmp .l */
static const uint8_t spin_sti[] = { 0x31, 0xc0, 0x8e, 0xd8, 0xfb, 0xeb, 0xfe };
/* xor ax,ax; mov ds,ax; sti; .h: hlt; jmp .h */
static const uint8_t idle_sti[] = { 0x31, 0xc0, 0x8e, 0xd8, 0xfb, 0xf4, 0xeb, 0xfd };

static void setup_timer_guest(PcMachine *pc, const uint8_t *main, size_t len)
{
    uint32_t ivt = 0x7d00;

    poke(pc, 0x7c00, main, len);
    poke(pc, 0x7d00, timer_handler, sizeof(timer_handler));
    poke(pc, 0x40 * 4, &ivt, 4);
    start_real_mode(pc, 0, 0x7c00);
}

/* Program CPU 0's APIC timer: one-shot, vector 0x40, divide by 1. */
static void arm_timer(PcMachine *pc, uint32_t lvt, uint32_t count)
{
    AddressSpace *as = cpu_as(pc, 0);

    wr(as, APIC_DEFAULT_BASE + APIC_REG_SVR, 4, APIC_SVR_ENABLE | 0xff, 0);
    wr(as, APIC_DEFAULT_BASE + APIC_REG_TIMER_DIV, 4, 0xb, 0);
    wr(as, APIC_DEFAULT_BASE + APIC_REG_LVT_TIMER, 4, lvt, 0);
    wr(as, APIC_DEFAULT_BASE + APIC_REG_TIMER_INIT, 4, count, 0);
}

START_TEST(test_timer_exact_deadline)
{
    PcMachine *pc = new_pc(2);

    setup_timer_guest(pc, spin_sti, sizeof(spin_sti));
    ck_assert_uint_eq(pc_machine_clock_ns(pc), 0);
    /* 777 ticks of the 100 MHz timer clock: 7770 ns = 7770 instructions. */
    arm_timer(pc, 0x40, 777);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 1);
    /* The interrupt came exactly at the deadline: RDTSC (the virtual clock)
     * in the handler's first instruction reads 7770. */
    ck_assert_uint_eq(peek32(pc, MARKS), 7770);
    /* 7770 before the interrupt, then rdtsc, mov, inc, cli, hlt. */
    ck_assert_uint_eq(pc_machine_icount(pc), 7770 + 5);
    pc_machine_free(pc);

    /* The same with a tiny quantum: still exact. */
    pc = new_pc(1);
    setup_timer_guest(pc, spin_sti, sizeof(spin_sti));
    arm_timer(pc, 0x40, 1001);
    PcRunLimits lim = { .quantum = 333 };
    ck_assert_int_eq(pc_machine_run(pc, &lim), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS), 10010);
    pc_machine_free(pc);
}
END_TEST

START_TEST(test_timer_wakes_idle_cpu)
{
    PcMachine *pc = new_pc(2);

    setup_timer_guest(pc, idle_sti, sizeof(idle_sti));
    /* 100000 ticks: 1 ms of virtual time while the CPU sleeps in HLT. */
    arm_timer(pc, 0x40, 100000);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 1);
    ck_assert_uint_eq(peek32(pc, MARKS), 1000000);
    ck_assert_uint_ge(pc_machine_clock_ns(pc), 1000000);
    ck_assert_uint_lt(pc_machine_icount(pc), 100);
    pc_machine_free(pc);
}
END_TEST

START_TEST(test_idle_stop_rules)
{
    /* sti; hlt with nothing armed: idle, at once. */
    PcMachine *pc = new_pc(2);

    setup_timer_guest(pc, idle_sti, sizeof(idle_sti));
    ck_assert_int_eq(run(pc), PC_EXIT_IDLE);
    ck_assert_int_eq(pc_machine_stop_reason(pc), PC_STOP_IDLE);
    pc_machine_free(pc);

    /* A masked periodic timer can wake nobody: idle too, not a hang. */
    pc = new_pc(1);
    setup_timer_guest(pc, idle_sti, sizeof(idle_sti));
    arm_timer(pc, 0x40 | APIC_LVT_MASKED | APIC_LVT_PERIODIC, 10);
    ck_assert_int_eq(run(pc), PC_EXIT_IDLE);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 0);
    pc_machine_free(pc);

    /* A periodic timer while the CPU spins: interrupts keep coming. The
     * handler halts with IF=0 after the first one: halted. */
    pc = new_pc(1);
    setup_timer_guest(pc, spin_sti, sizeof(spin_sti));
    arm_timer(pc, 0x40 | APIC_LVT_PERIODIC, 50);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS), 500);
    pc_machine_free(pc);

    /* An NMI wakes a CPU halted with IF=0 (the built-in ROM). */
    pc = new_pc(1);
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    uint64_t before = pc_machine_icount(pc);
    send_ipi(pc, 0, 0, ICR_DM(APIC_DM_NMI));
    ck_assert(pc_machine_cpu(pc, 0)->nmi_pending);
    /* The NMI goes through the real-mode IVT (vector 2 -> 0000:0000 in
     * zeroed RAM: add [bx+si], al...); a limit keeps it short. */
    PcRunLimits lim = { .max_insns = before + 100 };
    pc_machine_run(pc, &lim);
    ck_assert(!pc_machine_cpu(pc, 0)->nmi_pending);
    ck_assert_uint_gt(pc_machine_icount(pc), before);
    pc_machine_free(pc);
}
END_TEST

/* A periodic timer with a handler that sends EOI (through CPU 0's APIC
 * moved to 0x20000, reachable in real mode) and returns to HLT: five
 * interrupts at exactly 1, 2, ... 5 periods of virtual time, all skipped
 * idle time. Without the EOI the in-service vector blocks the next ones
 * (PPR): nothing can wake the CPU, the run stops idle instead of spinning
 * through timer expiries forever. */
START_TEST(test_periodic_timer_idle)
{
    /* push ds; push ax; mov ax,0x2000; mov ds,ax; mov dword [0xb0],0 (EOI);
     * xor ax,ax; mov ds,ax; inc word [0x7004]; cmp word [0x7004],5; jb .ret;
     * rdtsc; mov [0x7000],eax; cli; .h: hlt; jmp .h; .ret: pop ax; pop ds;
     * iret */
    static const uint8_t eoi_handler[] = {
        0x1e, 0x50, 0xb8, 0x00, 0x20, 0x8e, 0xd8, 0x66, 0xc7, 0x06, 0xb0, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x31, 0xc0, 0x8e, 0xd8, 0xff, 0x06, 0x04, 0x70, 0x83, 0x3e, 0x04, 0x70,
        0x05, 0x72, 0x0a, 0x0f, 0x31, 0x66, 0xa3, 0x00, 0x70, 0xfa, 0xf4, 0xeb, 0xfd, 0x58,
        0x1f, 0xcf,
    };
    /* inc word [0x7004]; iret */
    static const uint8_t no_eoi_handler[] = { 0xff, 0x06, 0x04, 0x70, 0xcf };
    PcMachine *pc = new_pc(2);
    X86Cpu *c0 = pc_machine_cpu(pc, 0);

    setup_timer_guest(pc, idle_sti, sizeof(idle_sti));
    poke(pc, 0x7d00, eoi_handler, sizeof(eoi_handler));
    arm_timer(pc, 0x40 | APIC_LVT_PERIODIC, 2000);   /* 20 us */
    ck_assert(msr_write(c0, APIC_MSR_APIC_BASE, 0x20000 | APIC_BASE_EN | APIC_BASE_BSP));
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 5);
    /* The fifth interrupt at 5 periods; RDTSC is the handler's 11th
     * instruction. */
    ck_assert_uint_eq(peek32(pc, MARKS), 5 * 20000 + 10);
    pc_machine_free(pc);

    pc = new_pc(1);
    setup_timer_guest(pc, idle_sti, sizeof(idle_sti));
    poke(pc, 0x7d00, no_eoi_handler, sizeof(no_eoi_handler));
    arm_timer(pc, 0x40 | APIC_LVT_PERIODIC, 2000);
    ck_assert_int_eq(run(pc), PC_EXIT_IDLE);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 1);
    /* An instruction limit with a timer still able to wake the CPU: the
     * limit is what stopped it. */
    pc_machine_free(pc);
    pc = new_pc(1);
    setup_timer_guest(pc, idle_sti, sizeof(idle_sti));
    poke(pc, 0x7d00, eoi_handler, sizeof(eoi_handler));
    arm_timer(pc, 0x40 | APIC_LVT_PERIODIC, 2000);
    ck_assert(msr_write(pc_machine_cpu(pc, 0), APIC_MSR_APIC_BASE,
                        0x20000 | APIC_BASE_EN | APIC_BASE_BSP));
    PcRunLimits lim = { .max_insns = 30 };
    ck_assert_int_eq(pc_machine_run(pc, &lim), PC_EXIT_MAX_INSNS);
    ck_assert_uint_eq(pc_machine_icount(pc), 30);
    pc_machine_free(pc);
}
END_TEST

/* --- COM1 -> I/O APIC pin 4 -> a local APIC. --- */

START_TEST(test_com1_irq_to_ioapic)
{
    PcMachine *pc = new_pc(2);
    AddressSpace *g = pc_machine_dma(pc);
    Apic *a1 = pc_machine_apic(pc, 1);

    /* CPU 1's APIC software-enabled; redirection entry 4: vector 0x34,
     * fixed, edge, physical destination 1. */
    wr(cpu_as(pc, 1), APIC_DEFAULT_BASE + APIC_REG_SVR, 4, APIC_SVR_ENABLE | 0xff, 1);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL + 2 * 4 + 1, 0);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOWIN, 4, 1u << 24, 0);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL + 2 * 4, 0);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOWIN, 4, 0x34, 0);
    ck_assert_int_eq(apic_pending_vector(a1), -1);
    /* THR-empty interrupt enabled, OUT2 gates it onto the bus. */
    io_w(pc, PC_COM1_BASE + UART_IER, 1, UART_IER_ETBEI);
    ck_assert(!ioapic_pin_level(pc_machine_ioapic(pc), PC_COM1_IRQ));
    io_w(pc, PC_COM1_BASE + UART_MCR, 1, UART_MCR_OUT2);
    ck_assert(ioapic_pin_level(pc_machine_ioapic(pc), PC_COM1_IRQ));
    ck_assert_int_eq(apic_pending_vector(a1), 0x34);
    ck_assert_int_eq(apic_pending_vector(pc_machine_apic(pc, 0)), -1);
    pc_machine_free(pc);
}
END_TEST

/* --- The 8254 and the 8259 pair. --- */

/* IVT vector 0x20 -> 0000:7d00 (ds = 0 in the interrupted code):
 *   rdtsc; mov bx,[0x7004]; shl bx,2; mov [bx+0x7010],eax; inc word [0x7004]
 *   mov al,0x20; out 0x20,al            ; non-specific EOI to the master
 *   push ds; mov ax,0x2000; mov ds,ax; mov dword [0xb0],0; pop ds
 *                                       ; EOI to the APIC, moved to 0x20000
 *   cmp word [0x7004],5; jb .ret; cli; .h: hlt; jmp .h; .ret: iret */
static const uint8_t tick_handler[] = {
    0x0f, 0x31, 0x8b, 0x1e, 0x04, 0x70, 0xc1, 0xe3, 0x02, 0x66, 0x89, 0x87, 0x10, 0x70,
    0xff, 0x06, 0x04, 0x70, 0xb0, 0x20, 0xe6, 0x20, 0x1e, 0xb8, 0x00, 0x20, 0x8e, 0xd8,
    0x66, 0xc7, 0x06, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x83, 0x3e, 0x04, 0x70,
    0x05, 0x72, 0x04, 0xfa, 0xf4, 0xeb, 0xfd, 0xcf,
};
#define TICKS 0x7010u    /* the handler's RDTSC values, 4 bytes each */
#define PIT_1KHZ 1193u   /* 1193182 / 1193: 1000.15 Hz */

/* Initialize the 8259 pair as a PC OS does: master vectors 0x20-0x27,
 * slave 0x28-0x2f, cascade on IR2, 8086 mode; then the masks. */
static void pic_program(PcMachine *pc, uint8_t master_imr, uint8_t slave_imr)
{
    io_w(pc, 0x20, 1, 0x11);
    io_w(pc, 0x21, 1, 0x20);
    io_w(pc, 0x21, 1, 0x04);
    io_w(pc, 0x21, 1, 0x01);
    io_w(pc, 0xa0, 1, 0x11);
    io_w(pc, 0xa1, 1, 0x28);
    io_w(pc, 0xa1, 1, 0x02);
    io_w(pc, 0xa1, 1, 0x01);
    io_w(pc, 0x21, 1, master_imr);
    io_w(pc, 0xa1, 1, slave_imr);
}

/* Counter 0, mode 2 (rate generator), LSB then MSB. */
static void pit_program_mode2(PcMachine *pc, uint16_t count)
{
    io_w(pc, 0x43, 1, 0x34);
    io_w(pc, 0x40, 1, count & 0xff);
    io_w(pc, 0x40, 1, count >> 8);
}

/* CPU 0 idles in `sti; hlt` with the tick handler at vector 0x20 and its
 * APIC page at 0x20000 (reachable from real mode, for the EOI). */
static void setup_tick_guest(PcMachine *pc)
{
    uint32_t ivt = 0x7d00;

    poke(pc, 0x7c00, idle_sti, sizeof(idle_sti));
    poke(pc, 0x7d00, tick_handler, sizeof(tick_handler));
    poke(pc, 0x20 * 4, &ivt, 4);
    start_real_mode(pc, 0, 0x7c00);
    ck_assert(msr_write(pc_machine_cpu(pc, 0), APIC_MSR_APIC_BASE,
                        0x20000 | APIC_BASE_EN | APIC_BASE_BSP));
}

/* Five ticks, each taken at exactly the virtual time of an OUT0 rising
 * edge: the count is loaded on the first PIT clock after it is written
 * (at time 0), and OUT0 rises at the end of every period of N clocks. */
static void check_ticks(PcMachine *pc)
{
    ck_assert_int_eq(run(pc), PC_EXIT_HALTED);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 5);
    for (unsigned k = 0; k < 5; k++) {
        uint64_t edge = pit_ticks_to_ns(1 + (uint64_t)(k + 1) * PIT_1KHZ);

        ck_assert_uint_eq(peek32(pc, TICKS + 4 * k), edge);
    }
    /* About 1 ms apart, all of it idle time. */
    ck_assert_uint_eq(peek32(pc, TICKS + 4) - peek32(pc, TICKS),
                      pit_ticks_to_ns(1 + 2 * PIT_1KHZ) - pit_ticks_to_ns(1 + PIT_1KHZ));
    ck_assert_uint_ge(pc_machine_clock_ns(pc), 5 * 999000);
    ck_assert_uint_lt(pc_machine_icount(pc), 200);
}

START_TEST(test_pit_irq0_through_pic)
{
    PcMachine *pc = new_pc(2);
    PicPair *pic = pc_machine_pic(pc);
    Apic *a0 = pc_machine_apic(pc, 0);

    ck_assert_ptr_nonnull(pic);
    ck_assert_ptr_nonnull(pc_machine_pit(pc));
    ck_assert_str_eq(served_by(pc_machine_io(pc), 0x20), "pic.master");
    ck_assert_str_eq(served_by(pc_machine_io(pc), 0xa1), "pic.slave");
    ck_assert_str_eq(served_by(pc_machine_io(pc), 0x4d0), "pic.elcr");
    ck_assert_str_eq(served_by(pc_machine_io(pc), 0x43), "pit");
    ck_assert_str_eq(served_by(pc_machine_io(pc), 0x61), "pit.port61");
    /* The BSP's APIC is in virtual wire mode; the APs' are not. */
    ck_assert_uint_eq(apic_peek(a0, APIC_REG_SVR) & 0x1ff, 0x1ff);
    ck_assert_uint_eq(apic_peek(a0, APIC_REG_LVT_LINT0),
                      (uint32_t)APIC_DM_EXTINT << APIC_LVT_DM_SHIFT);
    ck_assert_uint_eq(apic_peek(pc_machine_apic(pc, 1), APIC_REG_LVT_LINT0) & APIC_LVT_MASKED,
                      APIC_LVT_MASKED);

    /* In process first: an edge on IRQ0 raises INTR -> LINT0 (ExtINT),
     * and the CPU's acknowledge is the 8259's INTA: vector 0x20. */
    pic_program(pc, 0xfe, 0xff);
    ck_assert(!apic_extint_pending(a0));
    pit_program_mode2(pc, PIT_1KHZ);
    uint64_t dl;
    ck_assert(pit_timer_deadline(pc_machine_pit(pc), &dl));
    ck_assert_uint_le(dl, pit_ticks_to_ns(1 + PIT_1KHZ));
    X86Cpu *c0 = pc_machine_cpu(pc, 0);
    c0->eflags |= X86_IF;
    /* Nothing yet at time 0. */
    ck_assert_int_eq(c0->mops->pending_irq(c0->machine, c0), -1);
    pc_machine_free(pc);

    /* A guest taking five ticks through the PIC. */
    pc = new_pc(2);
    pic_program(pc, 0xfe, 0xff);
    pit_program_mode2(pc, PIT_1KHZ);
    setup_tick_guest(pc);
    check_ticks(pc);
    /* Every tick was acknowledged and EOIed. */
    ck_assert_uint_eq(pic_peek_isr(pc_machine_pic(pc), 0), 0);
    pc_machine_free(pc);
}
END_TEST

START_TEST(test_pit_irq0_through_ioapic)
{
    PcMachine *pc = new_pc(2);
    AddressSpace *g = pc_machine_dma(pc);

    /* The 8259 initialized and fully masked; I/O APIC pin 2 (GSI 2, ISA
     * IRQ0): vector 0x20, fixed, edge, physical destination 0. */
    pic_program(pc, 0xff, 0xff);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL + 2 * PC_PIT_GSI + 1, 0);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOWIN, 4, 0, 0);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL + 2 * PC_PIT_GSI, 0);
    wr(g, PC_IOAPIC_BASE + IOAPIC_IOWIN, 4, 0x20, 0);
    pit_program_mode2(pc, PIT_1KHZ);
    setup_tick_guest(pc);
    check_ticks(pc);
    /* The 8259 saw the edges (IRR) but, masked, raised nothing. */
    ck_assert_uint_eq(pic_peek_isr(pc_machine_pic(pc), 0), 0);
    ck_assert_uint_eq(pic_peek_irr(pc_machine_pic(pc), 0) & 1, 1);
    ck_assert(!apic_extint_pending(pc_machine_apic(pc, 0)));
    pc_machine_free(pc);

    /* Both paths masked: the PIT can wake nobody; the run stops idle
     * instead of skipping from one PIT period to the next forever. */
    pc = new_pc(1);
    pic_program(pc, 0xff, 0xff);
    pit_program_mode2(pc, PIT_1KHZ);
    setup_tick_guest(pc);
    ck_assert_int_eq(run(pc), PC_EXIT_IDLE);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 0);
    pc_machine_free(pc);

    /* Unmasked at the 8259 but LINT0 masked: tried twice, then idle. */
    pc = new_pc(1);
    pic_program(pc, 0xfe, 0xff);
    pit_program_mode2(pc, PIT_1KHZ);
    setup_tick_guest(pc);
    ck_assert_int_eq(wr(cpu_as(pc, 0), 0x20000 + APIC_REG_LVT_LINT0, 4,
                        APIC_LVT_MASKED | (uint32_t)APIC_DM_EXTINT << APIC_LVT_DM_SHIFT, 0),
                     MEM_OK);
    ck_assert_int_eq(run(pc), PC_EXIT_IDLE);
    ck_assert_uint_eq(peek32(pc, MARKS + 4) & 0xffff, 0);
    pc_machine_free(pc);
}
END_TEST

/* Make CPU 0 look as if it ran 64-bit code at CPL 0 (MOV CR8 needs it). */
static void fake_64bit(X86Cpu *cpu)
{
    cpu->efer |= X86_EFER_LMA | X86_EFER_LME;
    cpu->cr0 |= X86_CR0_PE | X86_CR0_PG;
    cpu->cr4 |= X86_CR4_PAE;
    cpu->segs[S_CS].attr |= X86_SEGA_L;
    cpu->cpl = 0;
}

START_TEST(test_cr8_is_tpr)
{
    PcMachine *pc = new_pc(2);
    X86Cpu *c0 = pc_machine_cpu(pc, 0);
    Apic *a0 = pc_machine_apic(pc, 0);
    ApicMessage m = { .vector = 0x45, .delivery_mode = APIC_DM_FIXED, .dest = 0 };

    fake_64bit(c0);
    /* MOV CR8, 5: TPR = 0x50. */
    ck_assert(x86_write_cr(c0, 8, 5));
    ck_assert_uint_eq(apic_get_tpr(a0), 0x50);
    ck_assert_uint_eq(cpu_rd32(pc, 0, APIC_DEFAULT_BASE + APIC_REG_TPR), 0x50);
    ck_assert_uint_eq(c0->cr8, 5);
    ck_assert_uint_eq(c0->mops->get_tpr(c0->machine, c0), 0x50);
    /* Only CPU 0's APIC. */
    ck_assert_uint_eq(apic_get_tpr(pc_machine_apic(pc, 1)), 0);
    /* PPR: a vector of class 4 waits below TPR class 5; class 6 is taken. */
    ck_assert(apic_deliver(a0, &m));
    ck_assert_uint_eq(apic_peek(a0, APIC_REG_PPR), 0x50);
    ck_assert_int_eq(apic_pending_vector(a0), -1);
    c0->eflags |= X86_IF;
    ck_assert_int_eq(c0->mops->pending_irq(c0->machine, c0), -1);
    m.vector = 0x65;
    ck_assert(apic_deliver(a0, &m));
    ck_assert_int_eq(c0->mops->pending_irq(c0->machine, c0), 0x65);
    /* MOV CR8, 0 lets the class-4 vector through. */
    ck_assert(x86_write_cr(c0, 8, 0));
    ck_assert_uint_eq(apic_get_tpr(a0), 0);
    ck_assert_int_eq(apic_pending_vector(a0), -1);   /* 0x65 in service: PPR 0x60 */
    ck_assert_int_eq(wr(cpu_as(pc, 0), APIC_DEFAULT_BASE + APIC_REG_EOI, 4, 0, 0), MEM_OK);
    ck_assert_int_eq(apic_pending_vector(a0), 0x45);
    /* Reserved CR8 bits: #GP, TPR unchanged. */
    ck_assert(!x86_write_cr(c0, 8, 0x10));
    c0->exc.vector = -1;
    ck_assert_uint_eq(apic_get_tpr(a0), 0);
    /* The other way: TPR written through the page or the x2APIC MSR, CR8
     * (what MOV from CR8 reads) follows. */
    ck_assert_int_eq(wr(cpu_as(pc, 0), APIC_DEFAULT_BASE + APIC_REG_TPR, 4, 0xa7, 0), MEM_OK);
    ck_assert_uint_eq(c0->cr8, 0xa);
    ck_assert(msr_write(c0, APIC_MSR_APIC_BASE,
                        APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_EXTD | APIC_BASE_BSP));
    ck_assert(msr_write(c0, APIC_MSR_X2APIC(APIC_REG_TPR), 0x30));
    ck_assert_uint_eq(c0->cr8, 3);
    ck_assert(x86_write_cr(c0, 8, 0xf));
    bool ok;
    ck_assert_uint_eq(msr_read(c0, APIC_MSR_X2APIC(APIC_REG_TPR), &ok), 0xf0);
    ck_assert(ok);
    /* Machine reset: TPR and CR8 back to 0. */
    pc_machine_reset(pc);
    ck_assert_uint_eq(apic_get_tpr(a0), 0);
    ck_assert_uint_eq(c0->cr8, 0);
    pc_machine_free(pc);
}
END_TEST

START_TEST(test_x2apic)
{
    PcMachine *pc = new_pc(2);
    X86Cpu *c1 = pc_machine_cpu(pc, 1);
    uint32_t r[4];
    bool ok;

    /* CPUID.01H: x2APIC offered (ECX[21]), APIC present (EDX[9]). */
    x86_cpuid(c1, 1, 0, r);
    ck_assert_uint_eq(r[2] & (1u << 21), 1u << 21);
    ck_assert_uint_eq(r[3] & (1u << 9), 1u << 9);
    /* CPU 1 into x2APIC mode: its page leaves its view (what lies beneath
     * shows: nothing, in the global map), CPU 0 keeps its own. */
    ck_assert_str_eq(served_by(cpu_as(pc, 1), APIC_DEFAULT_BASE), "apic.cpu1");
    ck_assert(msr_write(c1, APIC_MSR_APIC_BASE, APIC_DEFAULT_BASE | APIC_BASE_EN |
                        APIC_BASE_EXTD));
    ck_assert(apic_x2apic_mode(pc_machine_apic(pc, 1)));
    ck_assert_str_eq(served_by(cpu_as(pc, 1), APIC_DEFAULT_BASE), "unassigned");
    ck_assert_uint_eq(cpu_rd32(pc, 1, APIC_DEFAULT_BASE + APIC_REG_ID), 0xffffffff);
    ck_assert_str_eq(served_by(cpu_as(pc, 0), APIC_DEFAULT_BASE), "apic.cpu0");
    /* RDMSR 0x802: the 32-bit x2APIC ID. */
    ck_assert_uint_eq(msr_read(c1, 0x802, &ok), 1);
    ck_assert(ok);
    /* The APIC bit stays: the APIC is still hardware-enabled. */
    x86_cpuid(c1, 1, 0, r);
    ck_assert_uint_eq(r[3] & (1u << 9), 1u << 9);
    ck_assert_uint_eq(r[2] & (1u << 21), 1u << 21);
    /* Globally disabled (x2APIC -> disabled is a legal transition): the
     * APIC bit goes, x2APIC availability stays. */
    ck_assert(msr_write(c1, APIC_MSR_APIC_BASE, APIC_DEFAULT_BASE));
    x86_cpuid(c1, 1, 0, r);
    ck_assert_uint_eq(r[3] & (1u << 9), 0);
    ck_assert_uint_eq(r[2] & (1u << 21), 1u << 21);
    msr_read(c1, 0x802, &ok);
    ck_assert(!ok);
    pc_machine_free(pc);
}
END_TEST


/*
 * D_CLS (440FX SMRAM control bit 5): in SMM, data references do not see
 * SMRAM while code references still do, so an SMI handler living in SMRAM
 * can reach the VGA frame buffer at the same addresses. The handler here
 * sits in SMRAM (SMBASE 0xa0000, entry 0xa8000) and copies the dword at
 * 0xa0000 to MARKS: with D_CLS it must copy the VGA bytes (while its own
 * code still came from SMRAM), without D_CLS the SMRAM bytes.
 */
static uint32_t run_smram_handler(PcMachine *pc, uint8_t smram_reg)
{
    X86Cpu *cpu = pc_machine_cpu(pc, 0);
    /* 16-bit SMM entry code: mov eax,[dword 0xa0000]; mov [dword MARKS],eax; rsm */
    static const uint8_t handler[] = {
        0x67, 0x66, 0xa1, 0x00, 0x00, 0x0a, 0x00,
        0x67, 0x66, 0xa3, MARKS & 0xff, (MARKS >> 8) & 0xff, 0x00, 0x00,
        0x0f, 0xaa,
    };
    /* Write SMRAM (marker and handler) with D_OPEN, VGA with it closed. */
    smram_w(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_OPEN);
    ck_assert_int_eq(wr(cpu_as(pc, 0), 0xa0000, 4, 0x41524d53, 0), MEM_OK); /* "SMRA" */
    for (unsigned i = 0; i < sizeof(handler); i++) {
        ck_assert_int_eq(wr(cpu_as(pc, 0), 0xa8000 + i, 1, handler[i], 0), MEM_OK);
    }
    smram_w(pc, I440FX_SMRAM_G_SMRAME);
    ck_assert_int_eq(wr(cpu_as(pc, 0), 0xa0000, 4, 0x21414756, 0), MEM_OK); /* "VGA!" */
    ck_assert_int_eq(wr(cpu_as(pc, 0), MARKS, 4, 0, 0), MEM_OK);
    smram_w(pc, smram_reg);

    /* The CPU halts in a loop outside SMM; the SMI runs the handler. */
    static const uint8_t idle[] = { 0xf4, 0xeb, 0xfd }; /* hlt; jmp $-1 */
    for (unsigned i = 0; i < sizeof(idle); i++) {
        ck_assert_int_eq(wr(cpu_as(pc, 0), 0x8000 + i, 1, idle[i], 0), MEM_OK);
    }
    cpu->smbase = 0xa0000;
    cpu->halted = false;
    cpu->eflags &= ~X86_IF;
    cpu->segs[S_CS] = (X86Seg){ 0x800, 0x8000, 0xffff, X86_SEGA_P | X86_SEGA_S | 0xb };
    cpu->rip = 0;
    x86_cpu_raise_smi(cpu);
    for (int i = 0; i < 8 && !(cpu->halted && !cpu->in_smm && cpu->rip != 0); i++) {
        x86_cpu_run(cpu, 64);
    }
    ck_assert(!cpu->in_smm);
    return cpu_rd32(pc, 0, MARKS);
}

START_TEST(test_smram_d_cls_data_sees_vga)
{
    PcMachine *pc = new_pc(1);
    /* Without D_CLS the handler's data read sees SMRAM. */
    ck_assert_uint_eq(run_smram_handler(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_DEFAULT),
                      0x41524d53);
    pc_machine_free(pc);

    pc = new_pc(1);
    /* With D_CLS it sees the VGA window; the code still came from SMRAM
     * (VGA holds no handler: executing it would not have returned by RSM). */
    ck_assert_uint_eq(run_smram_handler(pc, I440FX_SMRAM_G_SMRAME | I440FX_SMRAM_D_CLS |
                                                I440FX_SMRAM_DEFAULT),
                      0x21414756);
    /* Outside SMM, with D_CLS and G_SMRAME, SMRAM stays invisible. */
    ck_assert_uint_eq(cpu_rd32(pc, 0, 0xa0000), 0x21414756);
    pc_machine_free(pc);
}
END_TEST

static Suite *pc_suite(void)
{
    Suite *s = suite_create("pc_machine");
    TCase *tc = tcase_create("apic");

    tcase_add_test(tc, test_apic_per_cpu);
    tcase_add_test(tc, test_apic_relocate_and_disable);
    tcase_add_test(tc, test_dma_sees_no_apic_or_smram);
    tcase_add_test(tc, test_init_sipi_bringup);
    tcase_add_test(tc, test_init_self);
    tcase_add_test(tc, test_com1_irq_to_ioapic);
    tcase_add_test(tc, test_cr8_is_tpr);
    tcase_add_test(tc, test_x2apic);
    suite_add_tcase(s, tc);

    tc = tcase_create("smm");
    tcase_add_test(tc, test_smram_register_rules);
    tcase_add_test(tc, test_smi_sources_and_smm_view);
    tcase_add_test(tc, test_tlb_accounting_view_switches);
    tcase_add_test(tc, test_smram_d_cls_data_sees_vga);
    tcase_add_test(tc, test_pci_config);
    suite_add_tcase(s, tc);

    tc = tcase_create("fw_cfg");
    tcase_add_test(tc, test_fw_cfg);
    suite_add_tcase(s, tc);

    tc = tcase_create("time");
    tcase_add_test(tc, test_timer_exact_deadline);
    tcase_add_test(tc, test_timer_wakes_idle_cpu);
    tcase_add_test(tc, test_idle_stop_rules);
    tcase_add_test(tc, test_periodic_timer_idle);
    tcase_add_test(tc, test_pit_irq0_through_pic);
    tcase_add_test(tc, test_pit_irq0_through_ioapic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pc_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
