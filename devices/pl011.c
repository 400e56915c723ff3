/*
 * Arm PrimeCell UART (PL011). Behaviour is described in pl011.h; comments
 * here say why (ARM DDI 0183, cited "TRM").
 */
#include "devices/pl011.h"

#include <errno.h>
#include <string.h>

/* One mem_report() per device and kind. */
enum {
    REP_RESERVED = 1u << 0,
    REP_RO = 1u << 1,
    REP_TX_FULL = 1u << 2,
    REP_OUT_ERROR = 1u << 3,
    REP_WIDTH = 1u << 4,
};

struct Pl011 {
    MemRegion *mr;
    char *name;
    FILE *out;
    void (*tx_cb)(void *opaque, uint8_t byte);
    void *tx_opaque;
    void (*irq_cb)(void *opaque, bool level);
    void *irq_opaque;
    bool tx_always;

    uint8_t rx[PL011_FIFO_DEPTH];
    unsigned rx_head, rx_count;
    uint8_t tx[PL011_FIFO_DEPTH];
    unsigned tx_head, tx_count;
    /* Input not yet in the RX FIFO: bytes [backlog_pos, len). */
    GByteArray *backlog;
    guint backlog_pos;

    uint32_t rsr, ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, ris, dmacr;
    bool irq_level;
    uint64_t tx_total;
    unsigned reported;
};

static const uint8_t pl011_id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

static bool report_once(Pl011 *s, unsigned kind)
{
    if (s->reported & kind) {
        return false;
    }
    s->reported |= kind;
    return true;
}

static unsigned depth(const Pl011 *s)
{
    return (s->lcr_h & PL011_LCRH_FEN) ? PL011_FIFO_DEPTH : 1u;
}

/* FIFO trigger levels, in entries, for UARTIFLS selections 1/8, 1/4,
 * 1/2, 3/4, 7/8 (TRM UARTIFLS); the reserved selections act as 1/2. */
static unsigned fifo_level(unsigned sel)
{
    static const unsigned eighths[5] = { 1, 2, 4, 6, 7 };

    return (sel < 5 ? eighths[sel] : 4u) * PL011_FIFO_DEPTH / 8u;
}

/* TX: the interrupt condition is "at or below" this many entries. Without
 * FIFOs: the holding register is empty (TRM "Interrupts", UARTTXINTR). */
static unsigned tx_trigger(const Pl011 *s)
{
    return (s->lcr_h & PL011_LCRH_FEN) ? fifo_level(s->ifls & 7u) : 0u;
}

/* RX: "at or above" this many entries; without FIFOs: one character. */
static unsigned rx_trigger(const Pl011 *s)
{
    return (s->lcr_h & PL011_LCRH_FEN) ? fifo_level((s->ifls >> 3) & 7u) : 1u;
}

static void update_irq(Pl011 *s)
{
    bool level = (s->ris & s->imsc) != 0;

    if (level != s->irq_level) {
        s->irq_level = level;
        if (s->irq_cb) {
            s->irq_cb(s->irq_opaque, level);
        }
    }
}

static bool rx_enabled(const Pl011 *s)
{
    return (s->cr & (PL011_CR_UARTEN | PL011_CR_RXE)) == (PL011_CR_UARTEN | PL011_CR_RXE);
}

static bool tx_enabled(const Pl011 *s)
{
    return s->tx_always ||
           (s->cr & (PL011_CR_UARTEN | PL011_CR_TXE)) == (PL011_CR_UARTEN | PL011_CR_TXE);
}

/* The receive timeout, set at once in place of "32 bit periods" (see
 * pl011.h): data below the trigger level; gone when the FIFO empties. */
static void rt_update(Pl011 *s)
{
    if (s->rx_count == 0) {
        s->ris &= ~PL011_INT_RT;
    } else if (s->rx_count < rx_trigger(s)) {
        s->ris |= PL011_INT_RT;
    }
}

/* Move input from the backlog into the RX FIFO while there is room. */
static void rx_fill(Pl011 *s)
{
    bool any = false;

    while (rx_enabled(s) && s->backlog_pos < s->backlog->len && s->rx_count < depth(s)) {
        s->rx[(s->rx_head + s->rx_count) % PL011_FIFO_DEPTH] = s->backlog->data[s->backlog_pos++];
        s->rx_count++;
        any = true;
    }
    if (s->backlog_pos == s->backlog->len) {
        g_byte_array_set_size(s->backlog, 0);
        s->backlog_pos = 0;
    } else if (s->backlog_pos > 4096 && s->backlog_pos > s->backlog->len / 2) {
        g_byte_array_remove_range(s->backlog, 0, s->backlog_pos);
        s->backlog_pos = 0;
    }
    if (any) {
        if (s->rx_count >= rx_trigger(s)) {
            s->ris |= PL011_INT_RX;
        }
        rt_update(s);
    }
}

static void emit(Pl011 *s, uint8_t byte)
{
    s->tx_total++;
    if (s->cr & PL011_CR_LBE) {
        /* Loopback: the transmitter's output feeds the receiver (TRM
         * UARTCR.LBE). */
        g_byte_array_append(s->backlog, &byte, 1);
        return;
    }
    if (s->out) {
        if (fputc(byte, s->out) == EOF || (byte == '\n' && fflush(s->out) == EOF)) {
            if (report_once(s, REP_OUT_ERROR)) {
                mem_report("%s: cannot write the output: %s (reported once)", s->name,
                           g_strerror(errno));
            }
        }
    }
    if (s->tx_cb) {
        s->tx_cb(s->tx_opaque, byte);
    }
}

/* Send what the TX FIFO holds, if the transmitter runs. */
static void tx_drain(Pl011 *s)
{
    bool any = false;

    while (s->tx_count && tx_enabled(s)) {
        uint8_t byte = s->tx[s->tx_head];

        s->tx_head = (s->tx_head + 1u) % PL011_FIFO_DEPTH;
        s->tx_count--;
        emit(s, byte);
        any = true;
    }
    /* Draining to the trigger level raises the TX interrupt (TRM UARTTXINTR). */
    if (any && s->tx_count <= tx_trigger(s)) {
        s->ris |= PL011_INT_TX;
    }
    if (any && (s->cr & PL011_CR_LBE)) {
        rx_fill(s);
    }
}

static void write_dr(Pl011 *s, uint8_t byte)
{
    if (s->tx_count >= depth(s)) {
        if (report_once(s, REP_TX_FULL)) {
            mem_report("%s: write to UARTDR with the transmit FIFO full: byte lost "
                       "(reported once; is the UART enabled? UARTCR = 0x%04x)", s->name, s->cr);
        }
        return;
    }
    s->tx[(s->tx_head + s->tx_count) % PL011_FIFO_DEPTH] = byte;
    s->tx_count++;
    /* Filling above the trigger level clears the TX interrupt. */
    if (s->tx_count > tx_trigger(s)) {
        s->ris &= ~PL011_INT_TX;
    }
    tx_drain(s);
}

static uint32_t read_dr(Pl011 *s, bool pop)
{
    uint32_t v;

    if (s->rx_count == 0) {
        return 0;
    }
    v = s->rx[s->rx_head];   /* error bits 11:8 are always 0 here */
    if (!pop) {
        return v;
    }
    s->rx_head = (s->rx_head + 1u) % PL011_FIFO_DEPTH;
    s->rx_count--;
    if (s->rx_count < rx_trigger(s)) {
        s->ris &= ~PL011_INT_RX;
    }
    rx_fill(s);
    rt_update(s);
    return v;
}

static uint32_t read_fr(const Pl011 *s)
{
    uint32_t v = 0;

    if (s->rx_count == 0) {
        v |= PL011_FR_RXFE;
    }
    if (s->rx_count >= depth(s)) {
        v |= PL011_FR_RXFF;
    }
    if (s->tx_count == 0) {
        v |= PL011_FR_TXFE;
    } else {
        v |= PL011_FR_BUSY;   /* set while the TX FIFO is non-empty (TRM UARTFR) */
    }
    if (s->tx_count >= depth(s)) {
        v |= PL011_FR_TXFF;
    }
    return v;
}

static void bad_offset(Pl011 *s, uint64_t offset, bool write)
{
    if (report_once(s, REP_RESERVED)) {
        mem_report("%s: %s of reserved offset 0x%03x: %s (reported once)", s->name,
                   write ? "write" : "read", (unsigned)offset, write ? "ignored" : "reads 0");
    }
}

static uint32_t reg_read(Pl011 *s, unsigned off, bool side_effects)
{
    switch (off) {
    case PL011_DR:
        return read_dr(s, side_effects);
    case PL011_RSR:
        return s->rsr;
    case PL011_FR:
        return read_fr(s);
    case PL011_ILPR:
        return s->ilpr;
    case PL011_IBRD:
        return s->ibrd;
    case PL011_FBRD:
        return s->fbrd;
    case PL011_LCR_H:
        return s->lcr_h;
    case PL011_CR:
        return s->cr;
    case PL011_IFLS:
        return s->ifls;
    case PL011_IMSC:
        return s->imsc;
    case PL011_RIS:
        return s->ris;
    case PL011_MIS:
        return s->ris & s->imsc;
    case PL011_ICR:
        return 0;   /* write-only */
    case PL011_DMACR:
        return s->dmacr;
    default:
        if (off >= PL011_PERIPHID0 && off < PL011_SIZE) {
            return pl011_id[(off - PL011_PERIPHID0) / 4u];
        }
        bad_offset(s, off, false);
        return 0;
    }
}

static void reg_write(Pl011 *s, unsigned off, uint32_t v)
{
    switch (off) {
    case PL011_DR:
        write_dr(s, (uint8_t)v);
        break;
    case PL011_RSR:
        s->rsr = 0;   /* UARTECR: any write clears the error flags */
        break;
    case PL011_ILPR:
        s->ilpr = v & 0xffu;
        break;
    case PL011_IBRD:
        s->ibrd = v & 0xffffu;
        break;
    case PL011_FBRD:
        s->fbrd = v & 0x3fu;
        break;
    case PL011_LCR_H:
        s->lcr_h = v & 0xffu;
        /* FEN on: more room, input may flow in. */
        rx_fill(s);
        tx_drain(s);
        break;
    case PL011_CR:
        s->cr = v & 0xff87u;
        tx_drain(s);
        rx_fill(s);
        break;
    case PL011_IFLS:
        s->ifls = v & 0x3fu;
        break;
    case PL011_IMSC:
        s->imsc = v & PL011_INT_ALL;
        break;
    case PL011_ICR:
        s->ris &= ~(v & PL011_INT_ALL);
        break;
    case PL011_DMACR:
        s->dmacr = v & 0x7u;
        break;
    case PL011_FR:
    case PL011_RIS:
    case PL011_MIS:
        if (report_once(s, REP_RO)) {
            mem_report("%s: write to read-only offset 0x%03x ignored (reported once)", s->name,
                       off);
        }
        return;
    default:
        if (off >= PL011_PERIPHID0 && off < PL011_SIZE) {
            if (report_once(s, REP_RO)) {
                mem_report("%s: write to ID register 0x%03x ignored (reported once)", s->name,
                           off);
            }
            return;
        }
        bad_offset(s, off, true);
        return;
    }
    update_irq(s);
}

static MemResult pl011_mmio_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                                 MemAttrs attrs)
{
    Pl011 *s = opaque;
    unsigned off = (unsigned)offset & (PL011_SIZE - 1u);
    unsigned sh = 8u * (off & 3u);
    /* Only an access at the register's own address pops UARTDR. */
    uint32_t v = reg_read(s, off & ~3u, !attrs.debug && (off & 3u) == 0);

    *value = (v >> sh) & (size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1u);
    update_irq(s);
    return MEM_OK;
}

static MemResult pl011_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                                  G_GNUC_UNUSED MemAttrs attrs)
{
    Pl011 *s = opaque;
    unsigned off = (unsigned)offset & (PL011_SIZE - 1u);

    if (off & 3u) {
        /* A narrow write to the upper bytes of a register: no register
         * here has anything useful there that could be written alone. */
        if (report_once(s, REP_WIDTH)) {
            mem_report("%s: %u-byte write at unaligned register offset 0x%03x ignored "
                       "(reported once)", s->name, size, off);
        }
        return MEM_OK;
    }
    reg_write(s, off, (uint32_t)value);
    return MEM_OK;
}

static const MemRegionOps pl011_ops = {
    .read = pl011_mmio_read,
    .write = pl011_mmio_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = false },
};

void pl011_reset(Pl011 *s)
{
    if (!s) {
        return;
    }
    s->rx_head = s->rx_count = 0;
    s->tx_head = s->tx_count = 0;
    s->rsr = s->ilpr = s->ibrd = s->fbrd = s->lcr_h = 0;
    s->cr = PL011_CR_TXE | PL011_CR_RXE;   /* 0x0300 (TRM UARTCR) */
    s->ifls = 0x12;                       /* 1/2 and 1/2 (TRM UARTIFLS) */
    s->imsc = s->ris = s->dmacr = 0;
    update_irq(s);
}

Pl011 *pl011_new(const Pl011Config *cfg, GError **err)
{
    Pl011 *s = g_new0(Pl011, 1);

    s->name = g_strdup(cfg && cfg->name ? cfg->name : "pl011");
    if (cfg) {
        s->out = cfg->out;
        s->tx_cb = cfg->tx;
        s->tx_opaque = cfg->tx_opaque;
        s->irq_cb = cfg->irq;
        s->irq_opaque = cfg->irq_opaque;
        s->tx_always = cfg->tx_always;
    }
    s->backlog = g_byte_array_new();
    s->mr = mr_new_mmio(s->name, PL011_SIZE, &pl011_ops, s, err);
    if (!s->mr) {
        g_byte_array_unref(s->backlog);
        g_free(s->name);
        g_free(s);
        return NULL;
    }
    pl011_reset(s);
    return s;
}

void pl011_free(Pl011 *s)
{
    if (!s) {
        return;
    }
    if (s->out) {
        fflush(s->out);
    }
    mr_unref(s->mr);
    g_byte_array_unref(s->backlog);
    g_free(s->name);
    g_free(s);
}

MemRegion *pl011_region(Pl011 *s)
{
    return s ? s->mr : NULL;
}

void pl011_push_input(Pl011 *s, const uint8_t *buf, size_t len)
{
    if (!s || !buf || !len) {
        return;
    }
    g_byte_array_append(s->backlog, buf, (guint)MIN(len, (size_t)G_MAXUINT));
    rx_fill(s);
    update_irq(s);
}

size_t pl011_input_backlog(const Pl011 *s)
{
    return s ? s->backlog->len - s->backlog_pos : 0;
}

void pl011_flush(Pl011 *s)
{
    if (s && s->out) {
        fflush(s->out);
    }
}

bool pl011_irq_level(const Pl011 *s)
{
    return s && s->irq_level;
}

uint64_t pl011_tx_count(const Pl011 *s)
{
    return s ? s->tx_total : 0;
}
