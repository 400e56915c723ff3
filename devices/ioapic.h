/*
 * I/O APIC, as the Intel 82093AA datasheet (order 290566) describes it and
 * PC chipsets still provide it at 0xfec00000: 24 interrupt pins, each with
 * a 64-bit redirection-table entry that turns the pin into a message on the
 * APIC bus (apic.h).
 *
 * Registers: two in memory, the rest behind them (datasheet 3.1, 3.2):
 *
 *   offset 0x00  IOREGSEL  bits 7:0 select the indirect register
 *   offset 0x10  IOWIN     reads/writes the selected register
 *
 *   index 0x00       IOAPICID   bits 27:24 read/write (the ID)
 *   index 0x01       IOAPICVER  read-only: 0x00170011 (version 0x11, 24
 *                               entries: maximum redirection entry 0x17)
 *   index 0x02       IOAPICARB  read-only: the arbitration ID, bits 27:24
 *                               (equal to the ID: there is no 3-wire bus)
 *   index 0x10-0x3f  IOREDTBL   entry n: low half at 0x10 + 2n, high half
 *                               at 0x11 + 2n
 *
 * Redirection entry: vector 7:0, delivery mode 10:8 (fixed, lowest
 * priority, SMI, NMI, INIT, ExtINT; 011 and 110 are reserved), destination
 * mode 11, delivery status 12 (read-only, always 0: delivery is
 * instantaneous), polarity 13, remote IRR 14 (read-only), trigger mode 15,
 * mask 16, destination 63:56. Other bits are reserved: writes drop them.
 * After reset every entry is 0x10000 (masked).
 *
 * The region is 4 KiB; it accepts aligned 1- to 4-byte accesses (narrower
 * ones are emulated by the core on 32-bit registers). Offsets other than
 * IOREGSEL and IOWIN, and register indices not listed above, read 0 and
 * ignore writes, reported once through mem_report(); so are writes to the
 * read-only IOAPICVER and IOAPICARB.
 *
 * Pins (ioapic_set_irq): `level` is the asserted state of the input, after
 * the board's wiring; the polarity bit is stored and read back but does not
 * invert anything (not modelled). Edge-triggered entries send a message on
 * each assertion while unmasked; an edge that arrives masked is lost.
 * Level-triggered fixed and lowest-priority entries send while the pin is
 * asserted, unmasked and remote IRR is clear; remote IRR is set when an
 * APIC accepts the message and cleared by the EOI broadcast for its vector
 * (apic_bus_eoi), after which a still-asserted pin sends again. Unmasking
 * an asserted level-triggered pin sends at once. SMI, NMI, INIT and ExtINT
 * entries are always treated as edge-triggered (remote IRR is never set for
 * them: no EOI would ever clear it). Changing an entry to edge-triggered
 * clears its remote IRR.
 *
 * Not modelled: the 82093AA's APIC bus and arbitration, the PCI-era EOI
 * register (version 0x20 and later), polarity inversion.
 */
#ifndef MMUSIM_DEVICES_IOAPIC_H
#define MMUSIM_DEVICES_IOAPIC_H

#include "devices/apic.h"

#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_REGION_SIZE 0x1000u
#define IOAPIC_NUM_PINS 24u
#define IOAPIC_VERSION 0x11u

/* Memory offsets. */
enum { IOAPIC_IOREGSEL = 0x00, IOAPIC_IOWIN = 0x10 };

/* Indirect register indices. */
enum {
    IOAPIC_REG_ID = 0x00,
    IOAPIC_REG_VER = 0x01,
    IOAPIC_REG_ARB = 0x02,
    IOAPIC_REG_REDTBL = 0x10,  /* + 2 * pin (low), + 2 * pin + 1 (high) */
};

/* Redirection-entry fields. */
#define IOAPIC_RTE_VECTOR 0xffull
#define IOAPIC_RTE_DM_SHIFT 8
#define IOAPIC_RTE_LOGICAL (1ull << 11)
#define IOAPIC_RTE_PENDING (1ull << 12)
#define IOAPIC_RTE_POLARITY (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56

typedef struct IoApic IoApic;

/* An I/O APIC sending on `bus` (which must outlive it), with the given
 * 4-bit ID. Errors (MEM_ERROR_INVALID_ARGUMENT): no bus, an ID above 15. */
IoApic *ioapic_new(ApicBus *bus, uint8_t id, GError **err);
/* Leaves the bus's EOI broadcast and drops the creator's region reference
 * (unmap the region first). */
void ioapic_free(IoApic *io);

/* The register block, to map at IOAPIC_DEFAULT_BASE (borrowed). */
MemRegion *ioapic_region(IoApic *io);

/* Every entry masked, IOREGSEL 0, remote IRRs clear; the ID and the pin
 * levels are kept. */
void ioapic_reset(IoApic *io);

/* Input pin `pin` (0..23) is now asserted (true) or not. */
void ioapic_set_irq(IoApic *io, unsigned pin, bool level);
/* EOI for `vector` (the bus calls this for level-triggered EOIs). */
void ioapic_eoi(IoApic *io, uint8_t vector);

/* Introspection. */
uint64_t ioapic_redirection(const IoApic *io, unsigned pin);  /* 0 if no such pin */
bool ioapic_pin_level(const IoApic *io, unsigned pin);
uint8_t ioapic_id(const IoApic *io);

#endif
