/*
 * The 16550A UART (serial_16550.h).
 *
 * Register behaviour follows the PC16550D data sheet; what timing would
 * decide (when a byte has left the shift register, the character timeout)
 * happens at once here, as described in the header.
 */
#include "devices/serial_16550.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

/* Register reads that poll the input: every read of RBR, and one in this
 * many reads of LSR/IIR (guests poll LSR for every byte they send; a system
 * call each time would make output slow for nothing). */
#define POLL_EVERY 32u

struct Serial16550 {
    MemRegion *mr;
    FILE *out;
    bool close_out;
    int in_fd;
    bool in_eof;
    void (*irq)(void *opaque, bool level);
    void *irq_opaque;
    bool irq_level;

    uint8_t ier;
    uint8_t lcr;
    uint8_t mcr;
    uint8_t scr;
    uint8_t fcr;            /* ENABLE, DMA and TRIGGER bits as last written */
    uint16_t divisor;
    bool overrun;           /* LSR.OE, cleared by reading LSR */
    bool thr_int;           /* "THR empty" interrupt condition pending */
    uint8_t msr_status;     /* MSR bits 7..4 */
    uint8_t msr_delta;      /* MSR bits 3..0, cleared by reading MSR */
    uint8_t rx[SERIAL_16550_FIFO_SIZE];
    unsigned rx_head;
    unsigned rx_count;
    uint8_t last_rx;        /* what RBR reads when nothing is waiting */
    unsigned poll_skip;
    uint64_t tx_count;

    bool reported_lsr_write;
    bool reported_msr_write;
    bool reported_out_error;
    bool reported_in_error;
    char *name;
};

/* --- Derived state. --- */

static bool fifo_enabled(const Serial16550 *s)
{
    return (s->fcr & UART_FCR_ENABLE) != 0;
}

static unsigned rx_capacity(const Serial16550 *s)
{
    return fifo_enabled(s) ? SERIAL_16550_FIFO_SIZE : 1u;
}

static unsigned rx_trigger(const Serial16550 *s)
{
    static const unsigned level[4] = { 1, 4, 8, 14 };

    return level[(s->fcr & UART_FCR_TRIGGER) >> 6];
}

/* The highest-priority pending interrupt, as IIR bits 3..0. */
static uint8_t iir_ident(const Serial16550 *s)
{
    if ((s->ier & UART_IER_ELSI) && s->overrun) {
        return UART_IIR_RLSI;
    }
    if ((s->ier & UART_IER_ERBFI) && s->rx_count) {
        if (fifo_enabled(s) && s->rx_count < rx_trigger(s)) {
            return UART_IIR_CTI;
        }
        return UART_IIR_RDI;
    }
    if ((s->ier & UART_IER_ETBEI) && s->thr_int) {
        return UART_IIR_THRI;
    }
    if ((s->ier & UART_IER_EDSSI) && s->msr_delta) {
        return UART_IIR_MSI;
    }
    return UART_IIR_NO_INT;
}

static void update_irq(Serial16550 *s)
{
    /* On PCs, OUT2 gates the UART's interrupt onto the bus. */
    bool level = iir_ident(s) != UART_IIR_NO_INT && (s->mcr & UART_MCR_OUT2);

    if (level != s->irq_level) {
        s->irq_level = level;
        if (s->irq) {
            s->irq(s->irq_opaque, level);
        }
    }
}

/* Modem status lines: wired to MCR in loopback, else a connected terminal
 * (carrier, data set ready, clear to send; no ring). */
static void update_msr(Serial16550 *s)
{
    uint8_t st;

    if (s->mcr & UART_MCR_LOOP) {
        st = (uint8_t)(((s->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
                       ((s->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
                       ((s->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
                       ((s->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
    } else {
        st = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    }
    uint8_t changed = st ^ s->msr_status;

    if (changed & UART_MSR_CTS) {
        s->msr_delta |= UART_MSR_DCTS;
    }
    if (changed & UART_MSR_DSR) {
        s->msr_delta |= UART_MSR_DDSR;
    }
    if ((s->msr_status & UART_MSR_RI) && !(st & UART_MSR_RI)) {
        s->msr_delta |= UART_MSR_TERI;  /* trailing edge of ring indicator */
    }
    if (changed & UART_MSR_DCD) {
        s->msr_delta |= UART_MSR_DDCD;
    }
    s->msr_status = st;
}

/* --- Receive FIFO. --- */

static void rx_push(Serial16550 *s, uint8_t byte)
{
    if (s->rx_count >= rx_capacity(s)) {
        s->overrun = true;  /* the new byte is lost */
        return;
    }
    s->rx[(s->rx_head + s->rx_count) % SERIAL_16550_FIFO_SIZE] = byte;
    s->rx_count++;
}

static uint8_t rx_pop(Serial16550 *s)
{
    if (!s->rx_count) {
        return s->last_rx;
    }
    s->last_rx = s->rx[s->rx_head];
    s->rx_head = (s->rx_head + 1) % SERIAL_16550_FIFO_SIZE;
    s->rx_count--;
    return s->last_rx;
}

static void rx_clear(Serial16550 *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
}

/* Read what fits in the FIFO from the input, without blocking. */
static void poll_input(Serial16550 *s)
{
    /* In loopback the receiver is disconnected from the line: input waits. */
    if (s->in_fd < 0 || s->in_eof || (s->mcr & UART_MCR_LOOP)) {
        return;
    }
    while (s->rx_count < rx_capacity(s)) {
        struct pollfd pfd = { .fd = s->in_fd, .events = POLLIN };
        uint8_t buf[SERIAL_16550_FIFO_SIZE];
        int ready = poll(&pfd, 1, 0);

        if (ready < 0 && errno == EINTR) {
            continue;
        }
        if (ready <= 0) {
            return;
        }
        ssize_t n = read(s->in_fd, buf, rx_capacity(s) - s->rx_count);
        if (n == 0) {
            s->in_eof = true;
            return;
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            if (!s->reported_in_error) {
                s->reported_in_error = true;
                mem_report("%s: input error, no more input: %s", s->name, g_strerror(errno));
            }
            s->in_eof = true;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            rx_push(s, buf[i]);
        }
    }
}

static void poll_sometimes(Serial16550 *s)
{
    if (++s->poll_skip >= POLL_EVERY) {
        s->poll_skip = 0;
        poll_input(s);
    }
}

/* --- Transmit. --- */

static void transmit(Serial16550 *s, uint8_t byte)
{
    s->tx_count++;
    if (s->mcr & UART_MCR_LOOP) {
        rx_push(s, byte);
    } else if (s->out) {
        if (fputc(byte, s->out) == EOF || (byte == '\n' && fflush(s->out) == EOF)) {
            if (!s->reported_out_error) {
                s->reported_out_error = true;
                mem_report("%s: cannot write the output: %s", s->name, g_strerror(errno));
            }
        }
    }
    /* Sent at once: the holding register is empty again. */
    s->thr_int = true;
}

/* --- Registers. --- */

static MemResult serial_read(void *opaque, uint64_t offset, uint64_t *value,
                             G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    Serial16550 *s = opaque;
    bool dlab = (s->lcr & UART_LCR_DLAB) != 0;
    bool effects = !attrs.debug;  /* debugger reads change nothing */
    uint8_t v = 0;

    switch (offset) {
    case UART_RBR:
        if (dlab) {
            v = (uint8_t)s->divisor;
        } else if (effects) {
            v = rx_pop(s);
            poll_input(s);
        } else {
            v = s->rx_count ? s->rx[s->rx_head] : s->last_rx;
        }
        break;
    case UART_IER:
        v = dlab ? (uint8_t)(s->divisor >> 8) : s->ier;
        break;
    case UART_IIR: {
        if (effects) {
            poll_sometimes(s);
        }
        uint8_t id = iir_ident(s);

        v = (uint8_t)(id | (fifo_enabled(s) ? UART_IIR_FIFO : 0));
        if (id == UART_IIR_THRI && effects) {
            s->thr_int = false;  /* reading IIR acknowledges "THR empty" */
        }
        break;
    }
    case UART_LCR:
        v = s->lcr;
        break;
    case UART_MCR:
        v = s->mcr;
        break;
    case UART_LSR:
        if (effects) {
            poll_sometimes(s);
        }
        v = UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0) |
            (s->overrun ? UART_LSR_OE : 0);
        if (effects) {
            s->overrun = false;
        }
        break;
    case UART_MSR:
        v = s->msr_status | s->msr_delta;
        if (effects) {
            s->msr_delta = 0;
        }
        break;
    case UART_SCR:
        v = s->scr;
        break;
    default:
        break;  /* not reached: the region is 8 bytes */
    }
    *value = v;
    if (effects) {
        update_irq(s);
    }
    return MEM_OK;
}

static MemResult serial_write(void *opaque, uint64_t offset, uint64_t value,
                              G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    Serial16550 *s = opaque;
    bool dlab = (s->lcr & UART_LCR_DLAB) != 0;
    uint8_t v = (uint8_t)value;

    switch (offset) {
    case UART_THR:
        if (dlab) {
            s->divisor = (uint16_t)((s->divisor & 0xff00u) | v);
        } else {
            transmit(s, v);
        }
        break;
    case UART_IER:
        if (dlab) {
            s->divisor = (uint16_t)((s->divisor & 0x00ffu) | (uint16_t)(v << 8));
        } else {
            uint8_t old = s->ier;

            s->ier = v & 0x0fu;
            /* Enabling the "THR empty" interrupt while THR is empty (it
             * always is here) raises it. */
            if ((s->ier & UART_IER_ETBEI) && !(old & UART_IER_ETBEI)) {
                s->thr_int = true;
            }
        }
        break;
    case UART_FCR:
        /* Turning the FIFOs on or off empties them. */
        if ((v ^ s->fcr) & UART_FCR_ENABLE) {
            rx_clear(s);
        }
        if (v & UART_FCR_CLEAR_RX) {
            rx_clear(s);
        }
        if (v & UART_FCR_CLEAR_TX) {
            s->thr_int = true;  /* the transmitter is empty anyway */
        }
        s->fcr = v & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER);
        poll_input(s);  /* capacity may have grown */
        break;
    case UART_LCR:
        s->lcr = v;
        break;
    case UART_MCR:
        s->mcr = v & 0x1fu;
        update_msr(s);
        poll_input(s);  /* leaving loopback reconnects the input */
        break;
    case UART_LSR:
        /* Factory test register on some parts; read-only on the 16550A. */
        if (!s->reported_lsr_write) {
            s->reported_lsr_write = true;
            mem_report("%s: write of 0x%02x to the read-only LSR ignored", s->name, v);
        }
        break;
    case UART_MSR:
        if (!s->reported_msr_write) {
            s->reported_msr_write = true;
            mem_report("%s: write of 0x%02x to the read-only MSR ignored", s->name, v);
        }
        break;
    case UART_SCR:
        s->scr = v;
        break;
    default:
        break;
    }
    update_irq(s);
    return MEM_OK;
}

static const MemRegionOps serial_ops = {
    .read = serial_read,
    .write = serial_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1, .unaligned = false },
    .impl = { .min_access_size = 1, .max_access_size = 1, .unaligned = false },
};

/* --- Lifecycle. --- */

Serial16550 *serial16550_new(const Serial16550Config *cfg, GError **err)
{
    Serial16550 *s = g_new0(Serial16550, 1);
    const char *name = cfg && cfg->name ? cfg->name : "serial";

    s->name = g_strdup(name);
    s->out = cfg ? cfg->out : NULL;
    s->close_out = cfg && cfg->close_out;
    s->in_fd = cfg ? cfg->in_fd : -1;
    s->irq = cfg ? cfg->irq : NULL;
    s->irq_opaque = cfg ? cfg->irq_opaque : NULL;
    /* Power-on values (data sheet table II): everything 0 except
     * IIR = 0x01 (derived), LSR = 0x60 (derived), divisor undefined (0 here). */
    update_msr(s);
    s->msr_delta = 0;
    s->mr = mr_new_mmio(name, SERIAL_16550_SIZE, &serial_ops, s, err);
    if (!s->mr) {
        s->close_out = false;  /* the caller keeps its stream on failure */
        serial16550_free(s);
        return NULL;
    }
    return s;
}

void serial16550_free(Serial16550 *s)
{
    if (!s) {
        return;
    }
    if (s->out) {
        if (s->close_out) {
            fclose(s->out);
        } else {
            fflush(s->out);
        }
    }
    mr_unref(s->mr);
    g_free(s->name);
    g_free(s);
}

MemRegion *serial16550_region(Serial16550 *s)
{
    return s->mr;
}

void serial16550_poll(Serial16550 *s)
{
    poll_input(s);
    update_irq(s);
}

void serial16550_receive(Serial16550 *s, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        rx_push(s, buf[i]);
    }
    update_irq(s);
}

void serial16550_flush(Serial16550 *s)
{
    if (s->out) {
        fflush(s->out);
    }
}

bool serial16550_irq_level(const Serial16550 *s)
{
    return s->irq_level;
}

uint64_t serial16550_tx_count(const Serial16550 *s)
{
    return s->tx_count;
}
