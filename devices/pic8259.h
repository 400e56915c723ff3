/*
 * The PC's pair of cascaded 8259A programmable interrupt controllers, with
 * the edge/level control registers (ELCR) of PC chipsets.
 *
 * Sources: the Intel 8259A Programmable Interrupt Controller data sheet,
 * cited as "8259A" with its section titles ("Interrupt Sequence",
 * "Initialization Command Words", "Operation Command Words", "Fully Nested
 * Mode", "End of Interrupt", "Automatic End of Interrupt Mode", "Automatic
 * Rotation", "Specific Rotation", "Special Mask Mode", "Poll Command",
 * "Reading the 8259A Status", "Edge and Level Triggered Modes", "The Special
 * Fully Nested Mode", "Cascade Mode"); for the ELCR, the Intel PIIX4 and
 * ICH I/O controller data sheets (ELCR1/ELCR2, the master's and slave's
 * edge/level control registers at ports 0x4d0/0x4d1), cited as "ICH".
 *
 * Wiring (PC/AT): the master is at I/O ports 0x20/0x21 and drives the CPU's
 * INTR (on APIC machines, the BSP's LINT0 in ExtINT mode); the slave is at
 * 0xa0/0xa1 and its INT output drives the master's IR2. IRQ n is the
 * master's IR n for n < 8, the slave's IR (n - 8) otherwise. ELCR1 at
 * 0x4d0 covers IRQ0-7, ELCR2 at 0x4d1 IRQ8-15.
 *
 * Each region accepts 1-byte accesses only (wider ones fail with
 * MEM_ACCESS_ERROR). Reads with attrs.debug have no side effects (a pending
 * poll is neither performed nor consumed).
 *
 * What is modelled (8259A): the whole ICW1-ICW4 initialization sequence
 * (ICW3 only when ICW1.SNGL = 0, ICW4 only when ICW1.IC4 = 1); OCW1 (IMR);
 * OCW2: non-specific and specific EOI, rotate on non-specific/specific
 * EOI, set priority, set/clear rotate in automatic EOI mode; OCW3: read
 * IRR/ISR, poll, special mask mode; automatic EOI (master and slave, as
 * 8259As dated 1985 and later allow); special fully nested mode on the
 * master; edge- and level-triggered inputs (ICW1.LTIM for a whole chip, or
 * per IRQ through the ELCR); cascading through IR2; priority rotation.
 *
 * INTA cycle (pic_acknowledge): the master resolves its highest-priority
 * unmasked request that is not blocked by an in-service level; if it is
 * the cascade input (ICW3 bit set, SNGL = 0), the slave answers with its
 * own vector. The in-service bit is set at that time (or not at all in
 * AEOI mode), the request is cleared, and the vector is ICW2 & 0xf8 | IR
 * ("8086 mode": ICW2 bits 7-3, IR in bits 2-0).
 *
 * Spurious interrupts (8259A, "Edge and Level Triggered Modes"): an INTA
 * with no request left to serve (the request went away, or was masked,
 * after INTR was raised) returns the chip's IR7 vector without setting any
 * ISR bit. If the master selected the cascade input but the slave has no
 * request, the master's ISR bit 2 is set (as for any cascade acknowledge)
 * and the slave answers with its IR7 vector, setting nothing: the
 * "spurious IRQ15" case, after which software sends an EOI to the master
 * only.
 *
 * Edge-triggered inputs: a low-to-high transition sets the request (IRR)
 * bit; it stays set until the interrupt is acknowledged (INTA or poll) or
 * the chip is re-initialized (ICW1 resets the edge sense circuit, so an
 * input that is already high must go low and high again). Difference from
 * the data sheet: on the 8259A the input must stay high until the first
 * INTA, and an edge request whose input falls earlier is dropped (leading
 * to a default IR7). Here the edge is remembered: the virtual clock and the
 * CPU's sampling of INTR are not cycle-exact, so whether a short high
 * phase (an 8254 square wave while the CPU runs with IF = 0) survives
 * until INTA would depend on simulator timing rather than on the guest.
 * A guest that leaves interrupts off for longer than a pulse thus gets
 * the interrupt late, where hardware might drop it. Level-triggered inputs: IRR
 * follows the input, so a request that goes away before INTA gives the
 * spurious IR7 described above, and one still high after EOI is served
 * again.
 *
 * The slave's INT output is the master's IR2 input. In an INTA cycle that
 * goes to the slave, that input is seen as low for the cycle itself, so a
 * slave that still has a request to deliver afterwards (another one, in
 * AEOI mode) raises a fresh edge rather than being lost. (Polling the
 * master does not do this: the slave's INT stays up until it is polled.)
 *
 * Poll (8259A, "Poll Command"): after OCW3 with P = 1, the next read of
 * either port of that chip returns 0x80 | IR of the request the chip would
 * serve (masked and blocked requests are not seen, as for INTA) and
 * acknowledges it like an INTA (ISR set, or AEOI); 0x00 when there is
 * none. A poll of the master that finds the cascade input does not touch
 * the slave: software polls the slave next.
 *
 * Choices where the data sheet is silent:
 * - After reset (power-up) both chips are uninitialized: IRR, ISR, IMR,
 *   ELCR and the vector bases are 0, reads return IRR (OCW3 default), and
 *   INTR stays low whatever is requested until an initialization sequence
 *   has completed. INTR is also held low while an initialization sequence
 *   is in progress (between ICW1 and the last ICW).
 * - ICW1 does what 8259A lists (edge sense reset, IMR cleared, IR7 lowest
 *   priority, slave address 7, special mask mode off, read IRR, and ICW4
 *   fields zero when IC4 = 0) and also clears ISR and any pending poll.
 * - A non-specific EOI with nothing in service does nothing.
 * - In special mask mode an in-service level blocks lower levels only while
 *   it is not masked; a non-specific EOI skips in-service levels that are
 *   masked (8259A, "End of Interrupt", note on special mask mode).
 * - Buffered mode (ICW4.BUF, M/S) only affects the SP/EN pin: stored, no
 *   effect. Whether a chip is the master or the slave is fixed by wiring.
 *
 * Not modelled (reported once through mem_report() where the guest can
 * reach it, then behaving as stated):
 * - MCS-80/85 mode (ICW4.uPM = 0, which also results from IC4 = 0): the
 *   CALL-instruction INTA sequence and ICW1.ADI/A7-A5 are not modelled;
 *   the chip answers with 8086-style vectors from ICW2.
 * - pic_set_irq() on IRQ 2: that input is the cascade (ISA IRQ2 devices
 *   are on IRQ9 on PCs); ignored. IRQs above 15 are ignored.
 * - ELCR bits that the chipset reserves (IRQ0, 1, 2, 8, 13: ICH) read 0 and
 *   setting them is ignored.
 * - A master whose ICW3 declares a slave on an input other than IR2: the
 *   only slave is wired to IR2, so an acknowledge of that input gets no
 *   answer from a slave and returns 0xff (the floating data bus).
 *
 * Threading: none. Everything runs on the machine's thread. The host
 * callback may call back into the PIC; the PIC's state is consistent
 * whenever it calls the host.
 */
#ifndef MMUSIM_DEVICES_PIC8259_H
#define MMUSIM_DEVICES_PIC8259_H

#include "softmmu/region.h"

#define PIC_MASTER_PORT 0x20u
#define PIC_SLAVE_PORT 0xa0u
#define PIC_ELCR_PORT 0x4d0u
#define PIC_REGION_SIZE 2u       /* each of master, slave and ELCR */
#define PIC_NUM_IRQS 16u
#define PIC_CASCADE_IRQ 2u

/* ICW1 (written at offset 0 with bit 4 set). */
#define PIC_ICW1_IC4 0x01u      /* ICW4 follows */
#define PIC_ICW1_SNGL 0x02u     /* single chip: no ICW3 */
#define PIC_ICW1_ADI 0x04u      /* call address interval (MCS-80/85) */
#define PIC_ICW1_LTIM 0x08u     /* level-triggered inputs */
#define PIC_ICW1_INIT 0x10u
/* ICW4. */
#define PIC_ICW4_UPM 0x01u      /* 8086/8088 mode */
#define PIC_ICW4_AEOI 0x02u
#define PIC_ICW4_MS 0x04u       /* buffered mode: master */
#define PIC_ICW4_BUF 0x08u
#define PIC_ICW4_SFNM 0x10u     /* special fully nested mode */
/* OCW2 (offset 0, bits 4-3 = 00): R, SL, EOI in bits 7-5, level in 2-0. */
#define PIC_OCW2_EOI 0x20u
#define PIC_OCW2_SL 0x40u
#define PIC_OCW2_R 0x80u
#define PIC_OCW2_NONSPECIFIC_EOI 0x20u
#define PIC_OCW2_SPECIFIC_EOI 0x60u
#define PIC_OCW2_ROTATE_NONSPECIFIC_EOI 0xa0u
#define PIC_OCW2_SET_ROTATE_AEOI 0x80u
#define PIC_OCW2_CLEAR_ROTATE_AEOI 0x00u
#define PIC_OCW2_ROTATE_SPECIFIC_EOI 0xe0u
#define PIC_OCW2_SET_PRIORITY 0xc0u
/* OCW3 (offset 0, bits 4-3 = 01). */
#define PIC_OCW3 0x08u
#define PIC_OCW3_READ_IRR 0x0au
#define PIC_OCW3_READ_ISR 0x0bu
#define PIC_OCW3_POLL 0x0cu
#define PIC_OCW3_SET_SMM 0x68u
#define PIC_OCW3_CLEAR_SMM 0x48u

/* ELCR bits the chipset reserves (always 0): IRQ0-2 and IRQ8, IRQ13. */
#define PIC_ELCR1_MASK 0xf8u
#define PIC_ELCR2_MASK 0xdeu

typedef struct PicPair PicPair;

typedef struct PicHost {
    /* The master's INT output (the CPU's INTR, or LINT0) changed. */
    void (*set_intr)(void *opaque, bool level);
} PicHost;

/* Both chips in their reset state. `host` (may be NULL) must outlive the
 * PIC. Fails only if a region cannot be created. */
PicPair *pic_new(const PicHost *host, void *opaque, GError **err);
/* Drops the creator's region references. No host callback is made. */
void pic_free(PicPair *p);

/* The register blocks (borrowed), to map in the I/O address space at
 * PIC_MASTER_PORT, PIC_SLAVE_PORT and PIC_ELCR_PORT. */
MemRegion *pic_region_master(PicPair *p);
MemRegion *pic_region_slave(PicPair *p);
MemRegion *pic_region_elcr(PicPair *p);

/* Power-up state (see above); reports INTR going low if it was high. The
 * input levels are kept: they belong to the devices driving them. */
void pic_reset(PicPair *p);
/* What a PC BIOS leaves: master ICW1-4 = 0x11, 0x08, 0x04, 0x01 (vectors
 * 0x08-0x0f), slave 0x11, 0x70, 0x02, 0x01 (vectors 0x70-0x77), every IRQ
 * masked except the cascade (IMR 0xfb / 0xff), ELCR 0. Optional. */
void pic_setup_pc_bios(PicPair *p);

/* An interrupt input, 0..15 (`level` = asserted). */
void pic_set_irq(PicPair *p, unsigned irq, bool level);
/* The master's INT output. */
bool pic_intr_pending(PicPair *p);
/* The INTA cycle: the vector the CPU takes (see above for cascade and
 * spurious interrupts). Always returns 0..255. */
int pic_acknowledge(PicPair *p);

/* Introspection for tests and debuggers (no side effects): chip 0 is the
 * master, 1 the slave. */
uint8_t pic_peek_irr(PicPair *p, unsigned chip);
uint8_t pic_peek_isr(PicPair *p, unsigned chip);
uint8_t pic_peek_imr(PicPair *p, unsigned chip);
uint8_t pic_peek_elcr(PicPair *p, unsigned chip);

#endif
