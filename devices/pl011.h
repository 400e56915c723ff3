/*
 * Arm PrimeCell UART (PL011), after the PrimeCell UART (PL011) Technical
 * Reference Manual (ARM DDI 0183, cited "TRM" with the register or section name).
 *
 * A 4 KiB MMIO region (pl011_region()). Registers (TRM "Summary of registers"):
 *
 *   0x000 UARTDR     write: send a byte; read: receive (bits 11:8 are the
 *                    OE/BE/PE/FE flags of that character: always 0 here)
 *   0x004 UARTRSR/ECR read: error status (always 0 here); write: clear
 *   0x018 UARTFR     RO: TXFE, RXFF, TXFF, RXFE; BUSY, CTS, DSR, DCD, RI 0
 *   0x020 UARTILPR   R/W bits 7:0 (IrDA low-power divisor: stored only)
 *   0x024 UARTIBRD   R/W bits 15:0 (baud divisor: stored only)
 *   0x028 UARTFBRD   R/W bits 5:0
 *   0x02C UARTLCR_H  R/W bits 7:0; FEN (bit 4) selects 16-deep FIFOs or a
 *                    one-character holding register. Changing FEN empties
 *                    neither FIFO (TRM leaves it to software)
 *   0x030 UARTCR     R/W bits 15:0 except 3-6 (reserved), reset 0x0300
 *   0x034 UARTIFLS   R/W bits 5:0, reset 0x12 (both triggers at 1/2)
 *   0x038 UARTIMSC   R/W bits 10:0
 *   0x03C UARTRIS    RO
 *   0x040 UARTMIS    RO: RIS & IMSC
 *   0x044 UARTICR    WO: write 1 to clear
 *   0x048 UARTDMACR  R/W bits 2:0 (stored only: no DMA)
 *   0xFE0-0xFFC      UARTPeriphID0-3 = 0x11 0x10 0x14 0x00 (revision field 1,
 *                    16-deep FIFOs: Linux derives the FIFO depth from the
 *                    revision), UARTPCellID0-3 = 0x0d 0xf0 0x05 0xb1
 *
 * Reserved offsets read 0 and ignore writes (reported once through
 * mem_report()). Accesses of 1, 2 or 4 bytes, aligned; a narrow access
 * reaches the low bits of the register it starts in (a read of UARTDR's
 * low byte pops the FIFO; reads of its other bytes do not).
 *
 * --- Enables (TRM UARTCR) ---
 *
 * Faithful by default: bytes written to UARTDR always enter the transmit
 * FIFO, but leave it (to the output) only while UARTEN and TXE are both
 * set; when the FIFO is full, further writes are lost (a real PL011 does
 * the same; software is meant to poll TXFF). Enabling the transmitter
 * sends whatever waits. The receiver takes characters only while UARTEN
 * and RXE are set: input pushed meanwhile waits in the host-side backlog.
 * Firmware written for emulators that ignore the enables (QEMU does) and
 * never sets UARTCR: set Pl011Config.tx_always and the transmitter sends
 * regardless of UARTEN/TXE.
 *
 * --- Timing ---
 *
 * Transmission is instantaneous, so with the transmitter enabled the TX
 * FIFO is always empty: TXFE reads 1, TXFF 0, BUSY 0. Received bytes pass
 * from an unbounded host backlog (pl011_push_input) into the RX FIFO (16
 * entries with FEN, 1 without) whenever there is room, so no character is
 * ever lost and the overrun error is never raised (OE stays 0): the host
 * side provides flow control a real line would not.
 *
 * --- Interrupts (TRM "Interrupts") ---
 *
 * One combined output, UARTINTR = any bit of UARTMIS, reported through
 * the irq callback on change.
 *   TXRIS  set each time the transmitter empties the FIFO to at or below
 *          the TX trigger level (every transmitted byte here, since the
 *          FIFO drains at once); cleared by UARTICR or by a UARTDR write
 *          that leaves the FIFO above the trigger (only while the
 *          transmitter is disabled). As on the real device it is not set
 *          merely because the FIFO is empty: software primes it by
 *          writing a byte.
 *   RXRIS  set when the RX FIFO fills to the RX trigger level (with FIFOs
 *          off: when the holding register fills); cleared when reads take
 *          it below the level, or by UARTICR.
 *   RTRIS  receive timeout. The real one fires after 32 bit periods with
 *          data below the trigger level and no new character; no time
 *          passes here, so it is set at once whenever the RX FIFO holds
 *          data below the trigger level (after a character arrives or is
 *          read), and cleared when the FIFO empties or by UARTICR.
 *   Modem (RI/CTS/DCD/DSR) and error (FE/PE/BE/OE) interrupts: their RIS
 *          bits exist but nothing sets them.
 *
 * Loopback (UARTCR.LBE): transmitted bytes go to the receive side instead
 * of the output.
 *
 * Not modelled: baud rate and line timing, IrDA, break, parity/framing
 * errors and overrun, modem lines (CTS/DSR/DCD/RI read 0; RTS/DTR are
 * stored), DMA (UARTDMACR stored, no requests), test registers.
 *
 * Threading: none; everything runs on the machine's thread. The callbacks
 * may call back into the device.
 */
#ifndef MMUSIM_DEVICES_PL011_H
#define MMUSIM_DEVICES_PL011_H

#include <stdio.h>

#include "softmmu/region.h"

#define PL011_SIZE 0x1000u
#define PL011_FIFO_DEPTH 16u

/* Register offsets (TRM "Summary of registers"). */
enum {
    PL011_DR = 0x000,
    PL011_RSR = 0x004,   /* read: UARTRSR; write: UARTECR */
    PL011_FR = 0x018,
    PL011_ILPR = 0x020,
    PL011_IBRD = 0x024,
    PL011_FBRD = 0x028,
    PL011_LCR_H = 0x02c,
    PL011_CR = 0x030,
    PL011_IFLS = 0x034,
    PL011_IMSC = 0x038,
    PL011_RIS = 0x03c,
    PL011_MIS = 0x040,
    PL011_ICR = 0x044,
    PL011_DMACR = 0x048,
    PL011_PERIPHID0 = 0xfe0,
    PL011_PCELLID0 = 0xff0,
};

/* UARTFR (TRM UARTFR). */
#define PL011_FR_CTS (1u << 0)
#define PL011_FR_DSR (1u << 1)
#define PL011_FR_DCD (1u << 2)
#define PL011_FR_BUSY (1u << 3)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)
#define PL011_FR_RXFF (1u << 6)
#define PL011_FR_TXFE (1u << 7)
#define PL011_FR_RI (1u << 8)

/* UARTLCR_H (TRM UARTLCR_H). */
#define PL011_LCRH_FEN (1u << 4)

/* UARTCR (TRM UARTCR). */
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_LBE (1u << 7)
#define PL011_CR_TXE (1u << 8)
#define PL011_CR_RXE (1u << 9)

/* Interrupt bits of UARTIMSC/RIS/MIS/ICR (TRM UARTIMSC, UARTRIS, UARTMIS, UARTICR). */
#define PL011_INT_RI (1u << 0)
#define PL011_INT_CTS (1u << 1)
#define PL011_INT_DCD (1u << 2)
#define PL011_INT_DSR (1u << 3)
#define PL011_INT_RX (1u << 4)
#define PL011_INT_TX (1u << 5)
#define PL011_INT_RT (1u << 6)
#define PL011_INT_FE (1u << 7)
#define PL011_INT_PE (1u << 8)
#define PL011_INT_BE (1u << 9)
#define PL011_INT_OE (1u << 10)
#define PL011_INT_ALL 0x7ffu

typedef struct Pl011 Pl011;

typedef struct Pl011Config {
    const char *name;      /* region name; default "pl011" */
    FILE *out;             /* transmitted bytes; NULL: none. Flushed at each newline */
    /* Transmitted bytes, one at a time (optional; in addition to `out`). */
    void (*tx)(void *opaque, uint8_t byte);
    void *tx_opaque;
    /* UARTINTR level changes (optional). */
    void (*irq)(void *opaque, bool level);
    void *irq_opaque;
    /* Send even while UARTEN or TXE is clear (see "Enables"). */
    bool tx_always;
} Pl011Config;

Pl011 *pl011_new(const Pl011Config *cfg, GError **err);
/* Flushes the output (never closes it); drops the region reference. */
void pl011_free(Pl011 *s);
/* Registers to their reset values; FIFOs emptied (the input backlog is
 * kept: it is the outside world). The interrupt output drops. */
void pl011_reset(Pl011 *s);

/* The register block (borrowed; mr_ref() to keep). */
MemRegion *pl011_region(Pl011 *s);

/* Characters arriving on the line, in order. They enter the RX FIFO as
 * soon as it has room and the receiver is enabled. */
void pl011_push_input(Pl011 *s, const uint8_t *buf, size_t len);
/* Characters waiting in the host backlog (not yet in the RX FIFO). */
size_t pl011_input_backlog(const Pl011 *s);

/* Flush the output stream. */
void pl011_flush(Pl011 *s);

bool pl011_irq_level(const Pl011 *s);
/* Bytes sent to the output (or looped back). */
uint64_t pl011_tx_count(const Pl011 *s);

#endif
