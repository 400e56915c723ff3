/*
 * The I/O APIC (ioapic.h): 82093AA registers, redirection to the APIC bus.
 */
#include "devices/ioapic.h"

/* Writable bits of an entry's low half: vector, delivery mode, destination
 * mode, polarity, trigger mode, mask. Delivery status and remote IRR are
 * read-only; bits 31:17 are reserved. */
#define RTE_LO_WRITABLE 0x0001afffu

enum {
    REP_BAD_OFFSET = 1u << 0,
    REP_BAD_INDEX = 1u << 1,
    REP_RO_WRITE = 1u << 2,
    REP_BAD_PIN = 1u << 3,
    REP_BAD_DM = 1u << 4,
};

struct IoApic {
    ApicBus *bus;
    MemRegion *mr;
    uint8_t id;
    uint8_t regsel;
    uint32_t lines;                       /* asserted pins */
    uint64_t rte[IOAPIC_NUM_PINS];
    unsigned reported;
};

static bool report_once(IoApic *io, unsigned kind)
{
    if (io->reported & kind) {
        return false;
    }
    io->reported |= kind;
    return true;
}

static unsigned rte_dm(uint64_t e)
{
    return (unsigned)(e >> IOAPIC_RTE_DM_SHIFT) & 7u;
}

/* Level semantics (remote IRR) apply to fixed and lowest-priority entries. */
static bool rte_level(uint64_t e)
{
    unsigned dm = rte_dm(e);

    return (e & IOAPIC_RTE_LEVEL) && (dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST);
}

/* Send pin's message; true if some local APIC accepted it. */
static bool send(IoApic *io, unsigned pin)
{
    uint64_t e = io->rte[pin];
    unsigned dm = rte_dm(e);

    if (dm == 3 || dm == APIC_DM_STARTUP) {
        if (report_once(io, REP_BAD_DM)) {
            mem_report("ioapic: pin %u has reserved delivery mode %u: interrupt dropped "
                       "(reported once)", pin, dm);
        }
        return false;
    }
    ApicMessage m = {
        .vector = (uint8_t)(e & IOAPIC_RTE_VECTOR),
        .delivery_mode = (uint8_t)dm,
        .shorthand = APIC_SH_NONE,
        .logical = (e & IOAPIC_RTE_LOGICAL) != 0,
        .level = rte_level(e),
        .x2apic_dest = false,
        .dest = (uint32_t)(e >> IOAPIC_RTE_DEST_SHIFT),
    };

    return apic_bus_send(io->bus, &m, NULL) > 0;
}

/* Deliver what the pin's state asks for; `edge` = it was just asserted. */
static void service(IoApic *io, unsigned pin, bool edge)
{
    uint64_t e = io->rte[pin];

    if ((e & IOAPIC_RTE_MASKED) || !(io->lines & (1u << pin))) {
        return;
    }
    if (rte_level(e)) {
        if (!(e & IOAPIC_RTE_REMOTE_IRR) && send(io, pin)) {
            io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
        }
    } else if (edge) {
        send(io, pin);
    }
}

void ioapic_set_irq(IoApic *io, unsigned pin, bool level)
{
    if (pin >= IOAPIC_NUM_PINS) {
        if (report_once(io, REP_BAD_PIN)) {
            mem_report("ioapic: pin %u does not exist (reported once)", pin);
        }
        return;
    }
    bool was = (io->lines >> pin) & 1u;

    if (level) {
        io->lines |= 1u << pin;
    } else {
        io->lines &= ~(1u << pin);
    }
    service(io, pin, level && !was);
}

void ioapic_eoi(IoApic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        uint64_t e = io->rte[pin];

        if ((e & IOAPIC_RTE_REMOTE_IRR) && (e & IOAPIC_RTE_VECTOR) == vector) {
            io->rte[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
            service(io, pin, false);  /* still asserted: again */
        }
    }
}

static void eoi_listener(void *opaque, uint8_t vector)
{
    ioapic_eoi(opaque, vector);
}

/* --- Indirect registers. --- */

static uint32_t reg_read(IoApic *io, uint8_t index)
{
    switch (index) {
    case IOAPIC_REG_ID:
    case IOAPIC_REG_ARB:
        return (uint32_t)io->id << 24;
    case IOAPIC_REG_VER:
        return ((IOAPIC_NUM_PINS - 1) << 16) | IOAPIC_VERSION;
    default:
        break;
    }
    if (index >= IOAPIC_REG_REDTBL && index < IOAPIC_REG_REDTBL + 2 * IOAPIC_NUM_PINS) {
        unsigned pin = (index - IOAPIC_REG_REDTBL) / 2;

        return (index & 1) ? (uint32_t)(io->rte[pin] >> 32) : (uint32_t)io->rte[pin];
    }
    if (report_once(io, REP_BAD_INDEX)) {
        mem_report("ioapic: read of register index 0x%02x, which does not exist: reads 0 "
                   "(reported once)", index);
    }
    return 0;
}

static void reg_write(IoApic *io, uint8_t index, uint32_t v)
{
    switch (index) {
    case IOAPIC_REG_ID:
        io->id = (v >> 24) & 0xfu;
        return;
    case IOAPIC_REG_VER:
    case IOAPIC_REG_ARB:
        if (report_once(io, REP_RO_WRITE)) {
            mem_report("ioapic: write of 0x%08x to read-only register index 0x%02x ignored "
                       "(reported once)", v, index);
        }
        return;
    default:
        break;
    }
    if (index < IOAPIC_REG_REDTBL || index >= IOAPIC_REG_REDTBL + 2 * IOAPIC_NUM_PINS) {
        if (report_once(io, REP_BAD_INDEX)) {
            mem_report("ioapic: write of 0x%08x to register index 0x%02x, which does not "
                       "exist: ignored (reported once)", v, index);
        }
        return;
    }
    unsigned pin = (index - IOAPIC_REG_REDTBL) / 2;
    uint64_t e = io->rte[pin];

    if (index & 1) {
        e = (e & 0xffffffffull) | ((uint64_t)(v & 0xff000000u) << 32);
    } else {
        e = (e & ~0xffffffffull) | (v & RTE_LO_WRITABLE) |
            (e & (IOAPIC_RTE_PENDING | IOAPIC_RTE_REMOTE_IRR));
        if (!rte_level(e)) {
            e &= ~IOAPIC_RTE_REMOTE_IRR;  /* meaningful for level entries only */
        }
    }
    io->rte[pin] = e;
    service(io, pin, false);  /* an unmasked, asserted level pin sends now */
}

/* --- MMIO. --- */

static void bad_offset(uint64_t offset, bool write, IoApic *io)
{
    if (report_once(io, REP_BAD_OFFSET)) {
        mem_report("ioapic: %s at offset 0x%03" G_GINT64_MODIFIER "x, which is neither "
                   "IOREGSEL nor IOWIN: %s (reported once)", write ? "write" : "read", offset,
                   write ? "ignored" : "reads 0");
    }
}

static MemResult ioapic_mmio_read(void *opaque, uint64_t offset, uint64_t *value,
                                  G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    IoApic *io = opaque;

    switch (offset) {
    case IOAPIC_IOREGSEL:
        *value = io->regsel;
        break;
    case IOAPIC_IOWIN:
        *value = reg_read(io, io->regsel);
        break;
    default:
        *value = 0;
        bad_offset(offset, false, io);
        break;
    }
    return MEM_OK;
}

static MemResult ioapic_mmio_write(void *opaque, uint64_t offset, uint64_t value,
                                   G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    IoApic *io = opaque;

    switch (offset) {
    case IOAPIC_IOREGSEL:
        io->regsel = (uint8_t)value;
        break;
    case IOAPIC_IOWIN:
        reg_write(io, io->regsel, (uint32_t)value);
        break;
    default:
        bad_offset(offset, true, io);
        break;
    }
    return MEM_OK;
}

static const MemRegionOps ioapic_ops = {
    .read = ioapic_mmio_read,
    .write = ioapic_mmio_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
};

/* --- Lifecycle. --- */

void ioapic_reset(IoApic *io)
{
    io->regsel = 0;
    for (unsigned pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
        io->rte[pin] = IOAPIC_RTE_MASKED;
    }
}

IoApic *ioapic_new(ApicBus *bus, uint8_t id, GError **err)
{
    if (!bus) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "ioapic_new: no bus");
        return NULL;
    }
    if (id > 0xfu) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "ioapic_new: ID %u out of range (0..15)", id);
        return NULL;
    }
    IoApic *io = g_new0(IoApic, 1);

    io->bus = bus;
    io->id = id;
    io->mr = mr_new_mmio("ioapic", IOAPIC_REGION_SIZE, &ioapic_ops, io, err);
    if (!io->mr) {
        g_free(io);
        return NULL;
    }
    ioapic_reset(io);
    apic_bus_add_eoi_listener(bus, eoi_listener, io);
    return io;
}

void ioapic_free(IoApic *io)
{
    if (!io) {
        return;
    }
    apic_bus_remove_eoi_listener(io->bus, eoi_listener, io);
    mr_unref(io->mr);
    g_free(io);
}

MemRegion *ioapic_region(IoApic *io)
{
    return io->mr;
}

uint64_t ioapic_redirection(const IoApic *io, unsigned pin)
{
    return pin < IOAPIC_NUM_PINS ? io->rte[pin] : 0;
}

bool ioapic_pin_level(const IoApic *io, unsigned pin)
{
    return pin < IOAPIC_NUM_PINS && ((io->lines >> pin) & 1u);
}

uint8_t ioapic_id(const IoApic *io)
{
    return io->id;
}
