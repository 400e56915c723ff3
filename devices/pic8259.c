/*
 * The cascaded 8259A pair and the ELCR (pic8259.h).
 *
 * Written from the Intel 8259A data sheet; section titles are quoted in
 * the comments ("8259A, <section>"). ELCR layout from the PIIX4/ICH data
 * sheets ("ICH").
 */
#include "devices/pic8259.h"

enum { CHIP_MASTER = 0, CHIP_SLAVE = 1 };

/* Things reported once per PIC pair. */
enum {
    REP_MCS80 = 1u << 0,
    REP_IRQ2 = 1u << 1,
    REP_BAD_IRQ = 1u << 2,
    REP_ELCR_RESERVED = 1u << 3,
    REP_NO_SLAVE = 1u << 4,
};

typedef struct Pic8259 {
    const char *name;
    bool master;
    uint8_t level;       /* current input levels */
    uint8_t edge;        /* edge sense latches (edge-triggered requests) */
    uint8_t imr;
    uint8_t isr;
    uint8_t elcr;        /* level-triggered inputs (ELCR) */
    uint8_t elcr_mask;   /* ELCR bits that exist */
    uint8_t icw1, icw2, icw3, icw4;
    unsigned init_step;  /* 0: operational; 2, 3, 4: the ICW expected next */
    bool ready;          /* an initialization sequence has completed */
    uint8_t lowest;      /* the IR with the lowest priority */
    bool read_isr;       /* OCW3 RIS: reads at offset 0 return ISR */
    bool poll;           /* OCW3 P: the next read is a poll */
    bool smm;            /* special mask mode */
    bool rotate_aeoi;    /* rotate in automatic EOI mode */
    bool intr;           /* INT output */
} Pic8259;

struct PicPair {
    Pic8259 chip[2];
    MemRegion *mr_master;
    MemRegion *mr_slave;
    MemRegion *mr_elcr;
    const PicHost *host;
    void *opaque;
    bool intr_seen;      /* what host->set_intr was last told */
    unsigned reported;
};

static bool report_once(PicPair *p, unsigned kind)
{
    if (p->reported & kind) {
        return false;
    }
    p->reported |= kind;
    return true;
}

/* ------------------------------------------------------------------ */
/* Priority resolution (8259A, "Fully Nested Mode", "Automatic Rotation"). */

/* 0 is the highest priority, 7 the lowest. */
static unsigned prio(const Pic8259 *c, unsigned ir)
{
    return (ir - c->lowest - 1u) & 7u;
}

/* The IR of the highest-priority bit in `bits`, or -1. */
static int highest(const Pic8259 *c, uint8_t bits)
{
    for (unsigned k = 0; k < 8; k++) {
        unsigned ir = (c->lowest + 1u + k) & 7u;

        if (bits & (1u << ir)) {
            return (int)ir;
        }
    }
    return -1;
}

/* Level-triggered inputs: ICW1.LTIM for the whole chip, else the ELCR
 * ("8259A, Edge and Level Triggered Modes"; ICH ELCR). */
static uint8_t level_mask(const Pic8259 *c)
{
    return (c->icw1 & PIC_ICW1_LTIM) ? 0xffu : c->elcr;
}

/* IRR: edge latches for edge-triggered inputs, the input level for
 * level-triggered ones. */
static uint8_t irr(const Pic8259 *c)
{
    uint8_t lm = level_mask(c);

    return (uint8_t)((c->level & lm) | (c->edge & ~lm));
}

/* Is IR `ir` a slave's INT (cascade mode, 8259A "Cascade Mode")? Only the
 * master has slaves; SNGL = 1 means there are none. */
static bool is_cascade_input(const Pic8259 *c, unsigned ir)
{
    return c->master && !(c->icw1 & PIC_ICW1_SNGL) && (c->icw3 & (1u << ir));
}

/*
 * The request the chip would serve now, or -1: the highest-priority
 * unmasked request, if its priority is above every in-service level that
 * blocks it. In special mask mode, masked in-service levels do not block
 * ("8259A, Special Mask Mode"). In special fully nested mode (master), a
 * cascade input is not blocked by its own in-service bit, so a slave's
 * higher-priority request gets through ("8259A, The Special Fully Nested
 * Mode").
 */
static int resolve(const Pic8259 *c)
{
    uint8_t req = irr(c) & (uint8_t)~c->imr;
    int p = highest(c, req);

    if (p < 0) {
        return -1;
    }
    uint8_t blocking = c->smm ? (uint8_t)(c->isr & ~c->imr) : c->isr;
    int s = highest(c, blocking);

    if (s < 0 || prio(c, (unsigned)p) < prio(c, (unsigned)s)) {
        return p;
    }
    if (p == s && (c->icw4 & PIC_ICW4_SFNM) && is_cascade_input(c, (unsigned)p)) {
        return p;
    }
    return -1;
}

static uint8_t vector_base(const Pic8259 *c)
{
    return c->icw2 & 0xf8u;
}

/* ------------------------------------------------------------------ */
/* Outputs. */

/* One chip's input changed level (rising edges set the edge latch). */
static void chip_input(Pic8259 *c, unsigned ir, bool level)
{
    uint8_t bit = (uint8_t)(1u << ir);

    if (level) {
        if (!(c->level & bit)) {
            c->edge |= bit;
        }
        c->level |= bit;
    } else {
        c->level &= (uint8_t)~bit;
    }
}

static bool chip_int(const Pic8259 *c)
{
    return c->ready && c->init_step == 0 && resolve(c) >= 0;
}

/* Propagate: slave INT -> master IR2, master INT -> host. */
static void update(PicPair *p)
{
    Pic8259 *m = &p->chip[CHIP_MASTER];
    Pic8259 *s = &p->chip[CHIP_SLAVE];

    s->intr = chip_int(s);
    chip_input(m, PIC_CASCADE_IRQ, s->intr);
    m->intr = chip_int(m);
    if (m->intr != p->intr_seen) {
        p->intr_seen = m->intr;
        if (p->host && p->host->set_intr) {
            p->host->set_intr(p->opaque, m->intr);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Acknowledge and EOI. */

/* The chip serves `ir` (INTA or poll): the request is taken, the
 * in-service bit set, unless in AEOI mode, where the EOI happens at once
 * (with rotation if "rotate in AEOI" is on: 8259A, "Automatic Rotation"). */
static void chip_ack(Pic8259 *c, unsigned ir)
{
    uint8_t bit = (uint8_t)(1u << ir);

    c->edge &= (uint8_t)~bit;
    if (c->icw4 & PIC_ICW4_AEOI) {
        if (c->rotate_aeoi) {
            c->lowest = (uint8_t)ir;
        }
    } else {
        c->isr |= bit;
    }
}

static void check_mcs80(PicPair *p, const Pic8259 *c)
{
    if (!(c->icw4 & PIC_ICW4_UPM) && report_once(p, REP_MCS80)) {
        mem_report("%s: MCS-80/85 mode (ICW4.uPM = 0) is not modelled: the chip answers "
                   "INTA with 8086-style vectors (reported once)", c->name);
    }
}

int pic_acknowledge(PicPair *p)
{
    Pic8259 *m = &p->chip[CHIP_MASTER];
    Pic8259 *s = &p->chip[CHIP_SLAVE];
    int ir = resolve(m);
    int vector;

    if (ir < 0) {
        /* Nothing to serve: the default IR7, no ISR bit (8259A, "Edge and
         * Level Triggered Modes"). */
        vector = vector_base(m) | 7;
    } else if (is_cascade_input(m, (unsigned)ir)) {
        chip_ack(m, (unsigned)ir);
        if (ir == PIC_CASCADE_IRQ) {
            /* The slave's INT is seen low for this INTA cycle: if the slave
             * still has a request after it, that is a new edge (update()).
             * A poll of the master does not do this: the slave is polled
             * by a separate read, and its INT stays up until then. */
            m->level &= (uint8_t)~(1u << PIC_CASCADE_IRQ);
        }
        /* The master puts the IR on CAS0-2; the slave whose ICW3 ID matches
         * (or one not in cascade mode) drives the vector (8259A, "Cascade
         * Mode"). */
        if (ir == PIC_CASCADE_IRQ &&
            ((s->icw1 & PIC_ICW1_SNGL) || (s->icw3 & 7u) == PIC_CASCADE_IRQ)) {
            int sir = resolve(s);

            if (sir < 0) {
                vector = vector_base(s) | 7;  /* spurious IRQ15 */
            } else {
                chip_ack(s, (unsigned)sir);
                vector = vector_base(s) | sir;
            }
        } else {
            if (report_once(p, REP_NO_SLAVE)) {
                mem_report("%s: INTA for a slave on IR%d, but the slave is wired to IR2 "
                           "with ID %u: nothing drives the bus, vector 0xff (reported once)",
                           m->name, ir, s->icw3 & 7u);
            }
            vector = 0xff;
        }
    } else {
        chip_ack(m, (unsigned)ir);
        vector = vector_base(m) | ir;
    }
    update(p);
    return vector;
}

/* Non-specific EOI: the highest-priority in-service level; in special mask
 * mode, masked levels are skipped (8259A, "End of Interrupt"). -1: none. */
static int eoi_target(const Pic8259 *c)
{
    return highest(c, c->smm ? (uint8_t)(c->isr & ~c->imr) : c->isr);
}

/* OCW2 (8259A, "Operation Command Words", OCW2 table). */
static void write_ocw2(Pic8259 *c, uint8_t v)
{
    unsigned level = v & 7u;
    int ir;

    switch (v & 0xe0u) {
    case PIC_OCW2_NONSPECIFIC_EOI:
        ir = eoi_target(c);
        if (ir >= 0) {
            c->isr &= (uint8_t)~(1u << ir);
        }
        break;
    case PIC_OCW2_SPECIFIC_EOI:
        c->isr &= (uint8_t)~(1u << level);
        break;
    case PIC_OCW2_ROTATE_NONSPECIFIC_EOI:
        ir = eoi_target(c);
        if (ir >= 0) {
            c->isr &= (uint8_t)~(1u << ir);
            c->lowest = (uint8_t)ir;  /* the served level becomes lowest */
        }
        break;
    case PIC_OCW2_SET_ROTATE_AEOI:
        c->rotate_aeoi = true;
        break;
    case PIC_OCW2_CLEAR_ROTATE_AEOI:
        c->rotate_aeoi = false;
        break;
    case PIC_OCW2_ROTATE_SPECIFIC_EOI:
        c->isr &= (uint8_t)~(1u << level);
        c->lowest = (uint8_t)level;
        break;
    case PIC_OCW2_SET_PRIORITY:
        c->lowest = (uint8_t)level;
        break;
    default:  /* 0x40: no operation */
        break;
    }
}

/* OCW3 (8259A, "Operation Command Words", OCW3; "Reading the 8259A
 * Status"; "Poll Command"; "Special Mask Mode"). */
static void write_ocw3(Pic8259 *c, uint8_t v)
{
    if ((v & 0x60u) == 0x60u) {
        c->smm = true;
    } else if ((v & 0x60u) == 0x40u) {
        c->smm = false;
    }
    if (v & 0x04u) {
        c->poll = true;  /* takes precedence over RR/RIS for the next read */
    }
    if (v & 0x02u) {
        c->read_isr = (v & 0x01u) != 0;
    }
}

/* ICW1: start of initialization (8259A, "Initialization Command Words"). */
static void write_icw1(Pic8259 *c, uint8_t v)
{
    c->icw1 = v;
    c->init_step = 2;
    c->edge = 0;          /* a. the edge sense circuit is reset */
    c->imr = 0;           /* b. IMR cleared */
    c->lowest = 7;        /* c. IR7 lowest priority */
    if (!c->master) {
        c->icw3 = 7;      /* d. slave mode address 7 */
    }
    c->smm = false;       /* e. special mask mode cleared, read IRR */
    c->read_isr = false;
    if (!(v & PIC_ICW1_IC4)) {
        c->icw4 = 0;      /* f. ICW4 functions zero */
    }
    c->isr = 0;           /* not in the list: see pic8259.h */
    c->poll = false;
    c->rotate_aeoi = false;
}

/* The byte after ICW1 (ICW2, ICW3, ICW4), or OCW1. */
static void write_data(PicPair *p, Pic8259 *c, uint8_t v)
{
    switch (c->init_step) {
    case 2:
        c->icw2 = v;
        if (!(c->icw1 & PIC_ICW1_SNGL)) {
            c->init_step = 3;
        } else if (c->icw1 & PIC_ICW1_IC4) {
            c->init_step = 4;
        } else {
            c->init_step = 0;
        }
        break;
    case 3:
        c->icw3 = v;
        c->init_step = (c->icw1 & PIC_ICW1_IC4) ? 4 : 0;
        break;
    case 4:
        c->icw4 = v;
        c->init_step = 0;
        break;
    default:
        c->imr = v;  /* OCW1 */
        return;
    }
    if (c->init_step == 0) {
        c->ready = true;
        check_mcs80(p, c);
    }
}

/* ------------------------------------------------------------------ */
/* Registers. */

static MemResult chip_read(PicPair *p, Pic8259 *c, uint64_t offset, uint64_t *value,
                           MemAttrs attrs)
{
    uint8_t v;

    if (c->poll) {
        /* Poll word: bit 7 = a request is being served, bits 2-0 its IR.
         * The read acts as the acknowledge (8259A, "Poll Command"). */
        int ir = resolve(c);

        v = ir >= 0 ? (uint8_t)(0x80u | (unsigned)ir) : 0;
        if (!attrs.debug) {
            c->poll = false;
            if (ir >= 0) {
                chip_ack(c, (unsigned)ir);
            }
            update(p);
        }
    } else if (offset == 0) {
        v = c->read_isr ? c->isr : irr(c);
    } else {
        v = c->imr;
    }
    *value = v;
    return MEM_OK;
}

static MemResult chip_write(PicPair *p, Pic8259 *c, uint64_t offset, uint64_t value)
{
    uint8_t v = (uint8_t)value;

    if (offset == 1) {
        write_data(p, c, v);
    } else if (v & PIC_ICW1_INIT) {
        write_icw1(c, v);
    } else if (v & PIC_OCW3) {
        write_ocw3(c, v);
    } else {
        write_ocw2(c, v);
    }
    update(p);
    return MEM_OK;
}

static MemResult master_read(void *opaque, uint64_t offset, uint64_t *value,
                             G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    PicPair *p = opaque;

    return chip_read(p, &p->chip[CHIP_MASTER], offset, value, attrs);
}

static MemResult master_write(void *opaque, uint64_t offset, uint64_t value,
                              G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    PicPair *p = opaque;

    return chip_write(p, &p->chip[CHIP_MASTER], offset, value);
}

static MemResult slave_read(void *opaque, uint64_t offset, uint64_t *value,
                            G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    PicPair *p = opaque;

    return chip_read(p, &p->chip[CHIP_SLAVE], offset, value, attrs);
}

static MemResult slave_write(void *opaque, uint64_t offset, uint64_t value,
                             G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    PicPair *p = opaque;

    return chip_write(p, &p->chip[CHIP_SLAVE], offset, value);
}

/* ELCR1 (offset 0, IRQ0-7) and ELCR2 (offset 1, IRQ8-15): ICH. */
static MemResult elcr_read(void *opaque, uint64_t offset, uint64_t *value,
                           G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    PicPair *p = opaque;

    *value = p->chip[offset & 1u].elcr;
    return MEM_OK;
}

static MemResult elcr_write(void *opaque, uint64_t offset, uint64_t value,
                            G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    PicPair *p = opaque;
    Pic8259 *c = &p->chip[offset & 1u];
    uint8_t v = (uint8_t)value;

    if ((v & ~c->elcr_mask) && report_once(p, REP_ELCR_RESERVED)) {
        mem_report("pic.elcr: ELCR%u = 0x%02x sets reserved bits (IRQ0-2, 8 and 13 are "
                   "always edge-triggered): ignored (reported once)",
                   (unsigned)(offset & 1u) + 1u, v);
    }
    v &= c->elcr_mask;
    /* Inputs becoming edge-triggered start with a clear edge latch: only a
     * new rising edge makes a request. */
    c->edge &= (uint8_t)~(v ^ c->elcr);
    c->elcr = v;
    update(p);
    return MEM_OK;
}

static const MemRegionOps master_ops = {
    .read = master_read,
    .write = master_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static const MemRegionOps slave_ops = {
    .read = slave_read,
    .write = slave_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static const MemRegionOps elcr_ops = {
    .read = elcr_read,
    .write = elcr_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

/* ------------------------------------------------------------------ */
/* Lifecycle. */

static void chip_reset(Pic8259 *c)
{
    uint8_t level = c->level;
    const char *name = c->name;
    bool master = c->master;

    *c = (Pic8259){
        .name = name,
        .master = master,
        .level = level,
        .elcr_mask = master ? PIC_ELCR1_MASK : PIC_ELCR2_MASK,
        .lowest = 7,
        .icw4 = PIC_ICW4_UPM,
    };
}

void pic_reset(PicPair *p)
{
    chip_reset(&p->chip[CHIP_MASTER]);
    chip_reset(&p->chip[CHIP_SLAVE]);
    update(p);
}

PicPair *pic_new(const PicHost *host, void *opaque, GError **err)
{
    PicPair *p = g_new0(PicPair, 1);

    p->host = host;
    p->opaque = opaque;
    p->chip[CHIP_MASTER].name = "pic.master";
    p->chip[CHIP_MASTER].master = true;
    p->chip[CHIP_SLAVE].name = "pic.slave";
    pic_reset(p);
    p->mr_master = mr_new_mmio("pic.master", PIC_REGION_SIZE, &master_ops, p, err);
    if (!p->mr_master) {
        goto fail;
    }
    p->mr_slave = mr_new_mmio("pic.slave", PIC_REGION_SIZE, &slave_ops, p, err);
    if (!p->mr_slave) {
        goto fail;
    }
    p->mr_elcr = mr_new_mmio("pic.elcr", PIC_REGION_SIZE, &elcr_ops, p, err);
    if (!p->mr_elcr) {
        goto fail;
    }
    return p;

fail:
    pic_free(p);
    return NULL;
}

void pic_free(PicPair *p)
{
    if (!p) {
        return;
    }
    if (p->mr_master) {
        mr_unref(p->mr_master);
    }
    if (p->mr_slave) {
        mr_unref(p->mr_slave);
    }
    if (p->mr_elcr) {
        mr_unref(p->mr_elcr);
    }
    g_free(p);
}

MemRegion *pic_region_master(PicPair *p)
{
    return p->mr_master;
}

MemRegion *pic_region_slave(PicPair *p)
{
    return p->mr_slave;
}

MemRegion *pic_region_elcr(PicPair *p)
{
    return p->mr_elcr;
}

static void chip_program(PicPair *p, Pic8259 *c, uint8_t icw2, uint8_t icw3, uint8_t imr)
{
    chip_write(p, c, 0, PIC_ICW1_INIT | PIC_ICW1_IC4);
    chip_write(p, c, 1, icw2);
    chip_write(p, c, 1, icw3);
    chip_write(p, c, 1, PIC_ICW4_UPM);
    chip_write(p, c, 1, imr);
}

void pic_setup_pc_bios(PicPair *p)
{
    chip_program(p, &p->chip[CHIP_MASTER], 0x08, 1u << PIC_CASCADE_IRQ,
                 (uint8_t)~(1u << PIC_CASCADE_IRQ));
    chip_program(p, &p->chip[CHIP_SLAVE], 0x70, PIC_CASCADE_IRQ, 0xff);
    p->chip[CHIP_MASTER].elcr = 0;
    p->chip[CHIP_SLAVE].elcr = 0;
    update(p);
}

/* ------------------------------------------------------------------ */
/* Inputs and introspection. */

void pic_set_irq(PicPair *p, unsigned irq, bool level)
{
    if (irq >= PIC_NUM_IRQS) {
        if (report_once(p, REP_BAD_IRQ)) {
            mem_report("pic: IRQ %u does not exist (0-15): ignored (reported once)", irq);
        }
        return;
    }
    if (irq == PIC_CASCADE_IRQ) {
        if (report_once(p, REP_IRQ2)) {
            mem_report("pic: IRQ 2 is the cascade input (ISA IRQ2 is IRQ9 on PCs): "
                       "ignored (reported once)");
        }
        return;
    }
    chip_input(&p->chip[irq >> 3], irq & 7u, level);
    update(p);
}

bool pic_intr_pending(PicPair *p)
{
    return p->chip[CHIP_MASTER].intr;
}

uint8_t pic_peek_irr(PicPair *p, unsigned chip)
{
    return irr(&p->chip[chip & 1u]);
}

uint8_t pic_peek_isr(PicPair *p, unsigned chip)
{
    return p->chip[chip & 1u].isr;
}

uint8_t pic_peek_imr(PicPair *p, unsigned chip)
{
    return p->chip[chip & 1u].imr;
}

uint8_t pic_peek_elcr(PicPair *p, unsigned chip)
{
    return p->chip[chip & 1u].elcr;
}
