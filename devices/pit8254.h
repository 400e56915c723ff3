/*
 * The PC's 8254 programmable interval timer (I/O ports 0x40-0x43) and the
 * timer-related bits of system control port B (port 0x61).
 *
 * Sources: the Intel 8254 Programmable Interval Timer data sheet, cited as
 * "8254" with its section titles ("Control Word Format", "Write
 * Operations", "Read Operations", "Counter Latch Command", "Read-Back
 * Command", "Status Byte", "Mode Definitions" with Mode 0-5, "Operation
 * Common to All Modes", "Gate", "Counter"); for port 0x61, the PC/AT
 * technical reference and the PIIX4/ICH data sheets (NMI status and
 * control register, "NMI_SC"), cited as "ICH".
 *
 * Wiring (PC): three counters clocked at 1.193182 MHz (PIT_HZ). Counter 0
 * OUT is IRQ0 (host->set_irq0); counter 1 was the DRAM refresh timer;
 * counter 2 OUT drives the speaker and is readable at port 0x61 bit 5.
 * The GATE inputs of counters 0 and 1 are tied high; counter 2's GATE is
 * port 0x61 bit 0.
 *
 * Port 0x61 (ICH NMI_SC): read: bit 0 counter 2 gate, bit 1 speaker data
 * enable, bit 2 parity check (SERR#) enable, bit 3 IOCHK enable (bits 0-3
 * read back as written), bit 4 refresh toggle, bit 5 counter 2 OUT, bits
 * 6-7 (IOCHK/SERR status) 0. Writes set bits 0-3; bits 4-7 are read-only.
 * The refresh toggle flips every 18 PIT clocks (15.085 us), the refresh
 * period a BIOS programs into counter 1; it is computed from the virtual
 * clock alone, whatever counter 1 does.
 *
 * Time: the counters advance with host->clock_ns() (the machine's
 * deterministic virtual clock): the number of PIT clocks that have
 * occurred at time t ns is floor(t * 1193182 / 10^9), computed exactly in
 * 128 bits. Nothing runs between accesses: counts, OUT levels and status
 * are computed from the clock when read. For counter 0 the PIT asks for a
 * wake-up at the exact virtual time of the next OUT transition
 * (host->timer_set; host->timer_cancel when none is due) and the machine
 * calls pit_timer_fire() then. A late call is fine: if OUT0 had a rising
 * edge since the last report, the host sees set_irq0(false) (if it was
 * high), set_irq0(true), then the current level, so a missed period is
 * coalesced into one edge, never lost. Every access to ports 0x40-0x43
 * and every GATE change does the same catch-up first.
 *
 * Counter behaviour (8254, "Mode Definitions"): a count written to the
 * count register is loaded into the counting element on the next clock;
 * "N" below is the count (0 means 65536 in binary, 10000 in BCD).
 * - Mode 0, interrupt on terminal count: OUT low from the control word (and
 *   from each new count); high N + 1 clocks after the count is written,
 *   and it stays high. GATE
 *   low pauses counting. Writing the first byte of a 2-byte count stops
 *   the count (OUT low); the second byte starts the new count.
 * - Mode 1, hardware retriggerable one-shot: a GATE rising edge loads the
 *   count on the next clock and OUT is low for N clocks from there.
 * - Mode 2, rate generator: OUT low for one clock every N clocks (periodic
 *   IRQ0 at 1193182 / N Hz, rising edge at the end of each period). A new
 *   count takes effect at the next reload. GATE low forces OUT high and
 *   stops counting; GATE rising restarts with the count.
 * - Mode 3, square wave: OUT high for ceil(N / 2) clocks and low for
 *   floor(N / 2); the count decrements by two (odd counts as the 8254
 *   describes: N - 1 loaded, OUT changes one clock after terminal count in
 *   the high half). A new count takes effect at the end of the current
 *   half-cycle. GATE as in mode 2.
 * - Mode 4, software-triggered strobe: OUT low for one clock N + 1 clocks
 *   after the count is written. GATE low pauses counting.
 * - Mode 5, hardware-triggered strobe: as mode 4, started by a GATE rising
 *   edge.
 * In modes 0, 1, 4 and 5 the counting element keeps counting down
 * (wrapping) after terminal count; OUT changes only once per count.
 * Modes 6 and 7 in a control word are modes 2 and 3. BCD counting is
 * supported (counts and latched values in BCD, 0 = 10000).
 *
 * Reads (8254, "Read Operations"): direct reads of the counting element
 * (each byte computed when read, as on the chip), the counter latch
 * command, and the read-back command latching count and/or status of any
 * set of counters (the status byte first if both are latched). The status
 * byte is OUT (bit 7), NULL COUNT (bit 6: a count was written and not yet
 * loaded into the counting element) and the control word's bits 5-0.
 * Reading port 0x43 returns 0xff (the control register cannot be read).
 *
 * Choices where the data sheet says "undefined":
 * - After reset (power-up) every counter is as after the control word
 *   0x36 | counter << 6 (mode 3, LSB then MSB, binary) with no count
 *   written: idle, OUT high, NULL COUNT set, counting element 0. OUT0 is
 *   thus high from the start: the machine's IRQ0 input may start low; the
 *   first rising edge then comes from the first period, and no interrupt
 *   appears when the guest programs the counter.
 * - The counting element before its first load reads 0 after reset, and
 *   keeps the value it had when a new control word is written.
 *
 * Not modelled (reported once through mem_report(), then as stated):
 * - A count of 1 in modes 2 and 3 (illegal in mode 2; no low half in mode
 *   3): mode 2 then holds OUT low, mode 3 holds it high.
 * - BCD counts with digits above 9: each digit is taken at its value
 *   (0xa0 counts as 100).
 * - The speaker: sound is not produced (reported when the guest enables
 *   it with port 0x61 bits 0 and 1 both set). Parity and IOCHK NMIs are
 *   never raised, so bits 6-7 read 0.
 * - Reading a counter between the two bytes of a 2-byte write, or writing
 *   between the two bytes of a 2-byte read (8254 forbids both): each
 *   flip-flop simply goes on independently.
 *
 * Threading: none. Everything runs on the machine's thread. Host
 * callbacks may call back into the PIT (its state is consistent whenever it
 * calls the host).
 */
#ifndef MMUSIM_DEVICES_PIT8254_H
#define MMUSIM_DEVICES_PIT8254_H

#include "softmmu/region.h"

#define PIT_HZ 1193182ull
#define PIT_PORT 0x40u
#define PIT_REGION_SIZE 4u
#define PIT_PORT61 0x61u
#define PIT_NUM_COUNTERS 3u
/* The refresh toggle at port 0x61 bit 4 flips every this many PIT clocks. */
#define PIT_REFRESH_CLOCKS 18u

/* Control word (port 0x43): SC in bits 7-6, RW in 5-4, M in 3-1, BCD in 0. */
#define PIT_CW_SC_SHIFT 6
#define PIT_CW_READBACK 0xc0u      /* SC = 11 */
#define PIT_CW_RW_SHIFT 4
#define PIT_CW_RW_LATCH 0x00u      /* RW = 00: counter latch command */
#define PIT_CW_RW_LSB 0x10u
#define PIT_CW_RW_MSB 0x20u
#define PIT_CW_RW_LSB_MSB 0x30u
#define PIT_CW_MODE_SHIFT 1
#define PIT_CW_BCD 0x01u
/* Read-back command bits (active low COUNT/STATUS). */
#define PIT_RB_NO_COUNT 0x20u
#define PIT_RB_NO_STATUS 0x10u
#define PIT_RB_CNT(n) (0x02u << (n))
/* Status byte. */
#define PIT_STATUS_OUT 0x80u
#define PIT_STATUS_NULL_COUNT 0x40u

/* Port 0x61 bits. */
#define PIT_P61_GATE2 0x01u
#define PIT_P61_SPEAKER 0x02u
#define PIT_P61_PARITY_EN 0x04u
#define PIT_P61_IOCHK_EN 0x08u
#define PIT_P61_REFRESH 0x10u
#define PIT_P61_OUT2 0x20u
#define PIT_P61_WRITABLE 0x0fu

typedef struct Pit Pit;

/* What the machine provides; all optional (a missing clock reads 0: the
 * counters never move; a missing timer_set: OUT0 edges are reported only
 * when the PIT is accessed or pit_timer_fire() is called). */
typedef struct PitHost {
    /* The virtual clock in nanoseconds; must never go backwards. */
    uint64_t (*clock_ns)(void *opaque);
    /* OUT0 (IRQ0) changed level. */
    void (*set_irq0)(void *opaque, bool level);
    /* Call pit_timer_fire() when clock_ns() reaches deadline_ns (replaces
     * any earlier request), or never (cancel). */
    void (*timer_set)(void *opaque, uint64_t deadline_ns);
    void (*timer_cancel)(void *opaque);
} PitHost;

/* The PIT in its reset state. `host` (may be NULL) must outlive it. No host
 * callback is made. Fails only if a region cannot be created. */
Pit *pit_new(const PitHost *host, void *opaque, GError **err);
/* Drops the creator's region references. No host callback is made: have the
 * host forget any pending timer request. */
void pit_free(Pit *p);

/* Ports 0x40-0x43 (4 bytes) and port 0x61 (1 byte), 1-byte accesses only
 * (borrowed). */
MemRegion *pit_region(Pit *p);
MemRegion *pit_port61_region(Pit *p);

/* Power-up state (see above): reports OUT0 going high if it was low and
 * cancels the timer. Port 0x61 reads 0 apart from bit 4 and bit 5. */
void pit_reset(Pit *p);
/* What a PC BIOS leaves: counter 0 in mode 3 with count 0 (18.2 Hz IRQ0),
 * counter 1 in mode 2 with count 18 (refresh). Optional. */
void pit_setup_pc_bios(Pit *p);

/* The machine's timer callback (see host->timer_set); harmless at any time. */
void pit_timer_fire(Pit *p);
/* The deadline last requested through host->timer_set, if one is armed. */
bool pit_timer_deadline(const Pit *p, uint64_t *deadline_ns);

/* A counter's GATE input (counter 2's is also port 0x61 bit 0). */
void pit_set_gate(Pit *p, unsigned counter, bool level);
/* A counter's OUT now, and its counting element (binary, or BCD digits in
 * BCD mode), without side effects. */
bool pit_get_out(Pit *p, unsigned counter);
uint16_t pit_peek_count(Pit *p, unsigned counter);

/* PIT clocks that have occurred at `ns`, and the first time at which
 * `ticks` clocks have occurred (exact). */
uint64_t pit_ns_to_ticks(uint64_t ns);
uint64_t pit_ticks_to_ns(uint64_t ticks);

#endif
