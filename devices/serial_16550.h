/*
 * A 16550A UART (National Semiconductor PC16550D data sheet), as PCs have
 * at I/O ports 0x3f8 (COM1, IRQ 4), 0x2f8, ...
 *
 * The device is an 8-byte MMIO region meant for a machine's I/O address
 * space; it accepts 1-byte accesses only (wider ones fail with
 * MEM_ACCESS_ERROR, as the core does for anything outside `valid`).
 *
 *   offset  DLAB=0 read / write         DLAB=1
 *   0       RBR (receive) / THR (send)  DLL (divisor latch, low)
 *   1       IER                         DLM (divisor latch, high)
 *   2       IIR / FCR
 *   3       LCR (bit 7: DLAB)
 *   4       MCR (bit 4: loopback)
 *   5       LSR
 *   6       MSR
 *   7       SCR
 *
 * Every register is modelled. Timing is not: a byte written to THR is sent
 * at once, so LSR.THRE and LSR.TEMT always read 1, and the "THR empty"
 * interrupt condition is raised again right after each write. Received
 * bytes go to a 16-byte FIFO (one holding byte with FIFOs off); a byte
 * arriving while it is full sets LSR.OE and is lost. With FIFOs on, fewer
 * bytes than the trigger level give the character-timeout indication
 * (IIR 0xc) at once, since no time passes between characters here.
 *
 * Output goes to a FILE* (stdout, a file, or nowhere). Input comes from a
 * file descriptor that is polled without blocking (never made O_NONBLOCK,
 * so a shared terminal is left as it was), or from nowhere.
 *
 * Interrupt line: the level (an interrupt is identified in IIR and MCR.OUT2
 * gates it onto the bus, as on PCs) is reported through an optional
 * callback whenever it changes. Machines without an interrupt controller
 * pass none.
 *
 * Anything surprising (a write to the read-only LSR or MSR, a failing
 * output stream, an input error) is reported once through mem_report().
 */
#ifndef MMUSIM_DEVICES_SERIAL_16550_H
#define MMUSIM_DEVICES_SERIAL_16550_H

#include <stdio.h>

#include "softmmu/region.h"

#define SERIAL_16550_SIZE 8u
#define SERIAL_16550_FIFO_SIZE 16u

/* Register offsets. */
enum {
    UART_RBR = 0, UART_THR = 0, UART_DLL = 0,
    UART_IER = 1, UART_DLM = 1,
    UART_IIR = 2, UART_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

/* Register bits. */
#define UART_IER_ERBFI 0x01u  /* received data available */
#define UART_IER_ETBEI 0x02u  /* transmitter holding register empty */
#define UART_IER_ELSI  0x04u  /* receiver line status */
#define UART_IER_EDSSI 0x08u  /* modem status */

#define UART_IIR_NO_INT 0x01u
#define UART_IIR_MSI    0x00u
#define UART_IIR_THRI   0x02u
#define UART_IIR_RDI    0x04u
#define UART_IIR_RLSI   0x06u
#define UART_IIR_CTI    0x0cu
#define UART_IIR_FIFO   0xc0u  /* both bits set while FIFOs are enabled */

#define UART_FCR_ENABLE   0x01u
#define UART_FCR_CLEAR_RX 0x02u
#define UART_FCR_CLEAR_TX 0x04u
#define UART_FCR_DMA      0x08u
#define UART_FCR_TRIGGER  0xc0u

#define UART_LCR_DLAB 0x80u

#define UART_MCR_DTR  0x01u
#define UART_MCR_RTS  0x02u
#define UART_MCR_OUT1 0x04u
#define UART_MCR_OUT2 0x08u
#define UART_MCR_LOOP 0x10u

#define UART_LSR_DR   0x01u
#define UART_LSR_OE   0x02u
#define UART_LSR_PE   0x04u
#define UART_LSR_FE   0x08u
#define UART_LSR_BI   0x10u
#define UART_LSR_THRE 0x20u
#define UART_LSR_TEMT 0x40u
#define UART_LSR_FIFOE 0x80u

#define UART_MSR_DCTS 0x01u
#define UART_MSR_DDSR 0x02u
#define UART_MSR_TERI 0x04u
#define UART_MSR_DDCD 0x08u
#define UART_MSR_CTS  0x10u
#define UART_MSR_DSR  0x20u
#define UART_MSR_RI   0x40u
#define UART_MSR_DCD  0x80u

typedef struct Serial16550 Serial16550;

typedef struct Serial16550Config {
    const char *name;     /* region name; default "serial" */
    FILE *out;            /* transmitted bytes; NULL: discarded */
    bool close_out;       /* fclose(out) when the device is freed */
    int in_fd;            /* received bytes, polled without blocking; -1: none */
    /* Interrupt line level changes (optional). */
    void (*irq)(void *opaque, bool level);
    void *irq_opaque;
} Serial16550Config;

Serial16550 *serial16550_new(const Serial16550Config *cfg, GError **err);
/* Flushes and (with close_out) closes the output; drops the region reference. */
void serial16550_free(Serial16550 *s);

/* The 8-byte register block, to map at the port base (borrowed). */
MemRegion *serial16550_region(Serial16550 *s);

/* Pull whatever input is available into the receive FIFO (never blocks).
 * Register reads do this too; a machine may call it between time slices
 * so that the interrupt line follows the input. */
void serial16550_poll(Serial16550 *s);
/* Feed bytes as if they had arrived on the line (tests, other backends). */
void serial16550_receive(Serial16550 *s, const uint8_t *buf, size_t len);
/* Flush the output stream. */
void serial16550_flush(Serial16550 *s);

/* Current interrupt line level. */
bool serial16550_irq_level(const Serial16550 *s);
/* Bytes transmitted (to the output or, in loopback, to the receiver). */
uint64_t serial16550_tx_count(const Serial16550 *s);

#endif
