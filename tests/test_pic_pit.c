/*
 * The 8259A pair (devices/pic8259.h) and the 8254 PIT with port 0x61
 * (devices/pit8254.h).
 *
 * A fake machine: a 64 KiB I/O address space with the PIC (0x20, 0xa0,
 * ELCR 0x4d0), the PIT (0x40-0x43) and port 0x61 mapped, a virtual clock
 * the tests set, a fake PIC host recording INTR, and a fake PIT host
 * recording every OUT0 change with its virtual time and keeping one timer
 * that run_to() fires on its deadline. OUT0 can be wired to the PIC's IRQ0
 * as on a PC. Every register access goes through the address space, one
 * byte at a time, as a CPU's IN/OUT would.
 */
#include "tests/test_util.h"

#include "devices/pic8259.h"
#include "devices/pit8254.h"

typedef struct Edge {
    uint64_t ns;
    bool level;
} Edge;

typedef struct World {
    uint64_t now;
    MemRegion *io;
    AddressSpace *as;
    PicPair *pic;
    Pit *pit;
    bool intr;
    unsigned intr_changes;
    bool irq0_to_pic;
    GArray *irq0;            /* Edge: every set_irq0 call */
    bool timer_armed;
    uint64_t deadline;
    unsigned timer_sets;
    unsigned timer_cancels;
} World;

static World W;

/* --- Fake hosts. --- */

static void h_set_intr(void *o, bool level)
{
    (void)o;
    ck_assert_msg(level != W.intr, "set_intr(%d) without a change", level);
    W.intr = level;
    W.intr_changes++;
}

static const PicHost pic_host = { .set_intr = h_set_intr };

static uint64_t h_clock(void *o)
{
    (void)o;
    return W.now;
}

static void h_set_irq0(void *o, bool level)
{
    (void)o;
    Edge e = { W.now, level };

    g_array_append_val(W.irq0, e);
    if (W.irq0_to_pic) {
        pic_set_irq(W.pic, 0, level);
    }
}

static void h_timer_set(void *o, uint64_t deadline)
{
    (void)o;
    ck_assert_msg(deadline > W.now, "timer deadline %" PRIu64 " not after now %" PRIu64,
                  deadline, W.now);
    W.timer_armed = true;
    W.deadline = deadline;
    W.timer_sets++;
}

static void h_timer_cancel(void *o)
{
    (void)o;
    W.timer_armed = false;
    W.timer_cancels++;
}

static const PitHost pit_host = {
    .clock_ns = h_clock,
    .set_irq0 = h_set_irq0,
    .timer_set = h_timer_set,
    .timer_cancel = h_timer_cancel,
};

/* Run the virtual clock to `t`, firing the PIT's timer on its deadlines. */
static void run_to(uint64_t t)
{
    while (W.timer_armed && W.deadline <= t) {
        W.now = W.deadline;
        W.timer_armed = false;
        pit_timer_fire(W.pit);
    }
    W.now = t;
}

/* Run until the next timer deadline (which must exist) and fire it. */
static void run_next(void)
{
    ck_assert(W.timer_armed);
    run_to(W.deadline);
}

/* --- World set-up. --- */

static void world_init(void)
{
    GError *err = NULL;

    memset(&W, 0, sizeof(W));
    W.irq0 = g_array_new(FALSE, FALSE, sizeof(Edge));
    W.io = tu_container("io", 0x10000);
    W.pic = pic_new(&pic_host, &W, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(W.pic);
    W.pit = pit_new(&pit_host, &W, &err);
    TU_ASSERT_NO_ERROR(err);
    ck_assert_ptr_nonnull(W.pit);
    tu_add_keep(W.io, PIC_MASTER_PORT, pic_region_master(W.pic), 0);
    tu_add_keep(W.io, PIC_SLAVE_PORT, pic_region_slave(W.pic), 0);
    tu_add_keep(W.io, PIC_ELCR_PORT, pic_region_elcr(W.pic), 0);
    tu_add_keep(W.io, PIT_PORT, pit_region(W.pit), 0);
    tu_add_keep(W.io, PIT_PORT61, pit_port61_region(W.pit), 0);
    W.as = tu_as("io", W.io);
}

static void world_fini(void)
{
    as_free(W.as);
    mr_unref(W.io);
    pic_free(W.pic);
    pit_free(W.pit);
    g_array_free(W.irq0, TRUE);
    memset(&W, 0, sizeof(W));
}

/* --- Port I/O. --- */

static void outb(uint16_t port, uint8_t v)
{
    MemResult r = as_write_val(W.as, port, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, v);

    ck_assert_msg(r == MEM_OK, "outb 0x%x: %s", port, mem_result_name(r));
}

static uint8_t inb(uint16_t port)
{
    uint64_t v = 0;
    MemResult r = as_read_val(W.as, port, mem_attrs_cpu(0), 1, MEM_LITTLE_ENDIAN, &v);

    ck_assert_msg(r == MEM_OK, "inb 0x%x: %s", port, mem_result_name(r));
    return (uint8_t)v;
}

static uint8_t inb_debug(uint16_t port)
{
    uint64_t v = 0;
    MemAttrs a = mem_attrs_cpu(0);

    a.debug = true;
    ck_assert_int_eq(as_read_val(W.as, port, a, 1, MEM_LITTLE_ENDIAN, &v), MEM_OK);
    return (uint8_t)v;
}

/* --- PIC helpers, as bare-metal code writes them. --- */

/* The usual remap (OSDev/Linux order: the two chips interleaved). */
static void pic_init(uint8_t mbase, uint8_t sbase, uint8_t icw4)
{
    outb(0x20, 0x11);   /* ICW1: edge, cascade, ICW4 needed */
    outb(0xa0, 0x11);
    outb(0x21, mbase);  /* ICW2: vector base */
    outb(0xa1, sbase);
    outb(0x21, 0x04);   /* ICW3: slave on IR2 */
    outb(0xa1, 0x02);   /* ICW3: slave ID 2 */
    outb(0x21, icw4);   /* ICW4 */
    outb(0xa1, icw4);
    outb(0x21, 0x00);   /* OCW1: nothing masked */
    outb(0xa1, 0x00);
}

static uint8_t read_irr(uint16_t base)
{
    outb(base, PIC_OCW3_READ_IRR);
    return inb(base);
}

static uint8_t read_isr(uint16_t base)
{
    outb(base, PIC_OCW3_READ_ISR);
    return inb(base);
}

static void eoi(uint16_t base)
{
    outb(base, PIC_OCW2_NONSPECIFIC_EOI);
}

static void pulse(unsigned irq)
{
    pic_set_irq(W.pic, irq, true);
    pic_set_irq(W.pic, irq, false);
}

/* --- PIT helpers. --- */

static uint64_t ticks(void)
{
    return pit_ns_to_ticks(W.now);
}

static uint64_t tns(uint64_t k)
{
    return pit_ticks_to_ns(k);
}

/* Control word (LSB then MSB, binary) and the count. */
static void pit_program(unsigned ctr, unsigned mode, uint16_t count)
{
    outb(0x43, (uint8_t)(ctr << 6 | PIT_CW_RW_LSB_MSB | mode << 1));
    outb((uint16_t)(0x40 + ctr), (uint8_t)count);
    outb((uint16_t)(0x40 + ctr), (uint8_t)(count >> 8));
}

/* Counter latch command, then both bytes. */
static uint16_t pit_latched(unsigned ctr)
{
    outb(0x43, (uint8_t)(ctr << 6));
    uint8_t lo = inb((uint16_t)(0x40 + ctr));
    uint8_t hi = inb((uint16_t)(0x40 + ctr));

    return (uint16_t)(lo | hi << 8);
}

/* Read-back of the status byte only. */
static uint8_t pit_status(unsigned ctr)
{
    outb(0x43, (uint8_t)(PIT_CW_READBACK | PIT_RB_NO_COUNT | PIT_RB_CNT(ctr)));
    return inb((uint16_t)(0x40 + ctr));
}

static Edge edge(guint i)
{
    ck_assert_uint_lt(i, W.irq0->len);
    return g_array_index(W.irq0, Edge, i);
}

/* ================================================================== */
/* PIC */

START_TEST(test_pic_reset_state)
{
    world_init();
    /* Power-up: IRR (the default read), IMR, ELCR all 0; nothing on INTR. */
    ck_assert_uint_eq(inb(0x20), 0);
    ck_assert_uint_eq(inb(0x21), 0);
    ck_assert_uint_eq(inb(0xa0), 0);
    ck_assert_uint_eq(inb(0xa1), 0);
    ck_assert_uint_eq(inb(0x4d0), 0);
    ck_assert_uint_eq(inb(0x4d1), 0);
    pic_set_irq(W.pic, 1, true);
    ck_assert_uint_eq(inb(0x20), 0x02);   /* requested ... */
    ck_assert(!pic_intr_pending(W.pic));  /* ... but not initialized */
    ck_assert_uint_eq(W.intr_changes, 0);

    /* ICW1 resets the edge sense: IRQ1, still high, is no request. */
    pic_init(0x20, 0x28, 0x01);
    ck_assert_uint_eq(read_irr(0x20), 0);
    ck_assert(!W.intr);
    pic_set_irq(W.pic, 1, false);
    pic_set_irq(W.pic, 1, true);
    ck_assert(W.intr);
    ck_assert(pic_intr_pending(W.pic));
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x21);
    ck_assert(!W.intr);
    eoi(0x20);
    pic_set_irq(W.pic, 1, false);

    /* INTR stays low during an initialization sequence. */
    outb(0x4d0, 0x20);                    /* IRQ5 level-triggered */
    pic_set_irq(W.pic, 5, true);
    ck_assert(W.intr);
    outb(0x20, 0x11);
    ck_assert(!W.intr);
    ck_assert_uint_eq(inb(0x20), 0x20);   /* IRR still shows the level */
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    ck_assert(!W.intr);
    outb(0x21, 0x01);                     /* ICW4: done, IMR was cleared */
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);
    eoi(0x20);
    ck_assert(W.intr);                    /* level still high */

    /* pic_reset: INTR drops; back to the power-up state. */
    unsigned changes = W.intr_changes;

    outb(0x21, 0x5a);
    pic_reset(W.pic);
    ck_assert(!W.intr);
    ck_assert_uint_eq(W.intr_changes, changes + 1);
    ck_assert_uint_eq(inb(0x21), 0);
    ck_assert_uint_eq(inb(0x4d0), 0);
    ck_assert_uint_eq(pic_peek_isr(W.pic, 0), 0);
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

START_TEST(test_pic_remap_vectors)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    for (unsigned irq = 0; irq < 16; irq++) {
        if (irq == 2) {
            continue;
        }
        pic_set_irq(W.pic, irq, true);
        ck_assert_msg(W.intr, "IRQ%u", irq);
        ck_assert_int_eq(pic_acknowledge(W.pic), (irq < 8 ? 0x20 : 0x28 - 8) + (int)irq);
        ck_assert(!W.intr);
        if (irq < 8) {
            ck_assert_uint_eq(read_isr(0x20), 1u << irq);
            ck_assert_uint_eq(read_isr(0xa0), 0);
        } else {
            ck_assert_uint_eq(read_isr(0x20), 0x04);
            ck_assert_uint_eq(read_isr(0xa0), 1u << (irq - 8));
            eoi(0xa0);
        }
        eoi(0x20);
        ck_assert_uint_eq(read_isr(0x20), 0);
        ck_assert_uint_eq(read_isr(0xa0), 0);
        pic_set_irq(W.pic, irq, false);
    }
    /* A BIOS-style layout: 0x08 and 0x70, all masked but the cascade. */
    pic_setup_pc_bios(W.pic);
    ck_assert_uint_eq(inb(0x21), 0xfb);
    ck_assert_uint_eq(inb(0xa1), 0xff);
    outb(0x21, 0xfa);
    pulse(0);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x08);
    eoi(0x20);
    outb(0xa1, 0xfe);
    pulse(8);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x70);
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

START_TEST(test_pic_masking)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    ck_assert_uint_eq(inb(0x21), 0xff);
    pulse(0);
    pulse(6);
    ck_assert(!W.intr);
    ck_assert_uint_eq(read_irr(0x20), 0x41);  /* requests wait in IRR */
    outb(0x21, 0xbf);                          /* unmask IRQ6 */
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x26);
    eoi(0x20);
    ck_assert(!W.intr);
    outb(0x21, 0xbe);                          /* unmask IRQ0 */
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    eoi(0x20);

    /* Slave: its own mask and the master's IR2 mask. */
    pulse(12);
    ck_assert(!W.intr);
    ck_assert_uint_eq(read_irr(0xa0), 0x10);
    outb(0xa1, 0xef);                          /* slave unmasks IRQ12 */
    ck_assert(!W.intr);                        /* master IR2 still masked */
    ck_assert_uint_eq(read_irr(0x20), 0x04);   /* slave INT visible in IRR */
    outb(0x21, 0xba);
    ck_assert(W.intr);
    /* Masking again before the acknowledge withdraws INTR. */
    outb(0x21, 0xff);
    ck_assert(!W.intr);
    outb(0x21, 0x00);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2c);
    eoi(0xa0);
    eoi(0x20);
    ck_assert(!W.intr);
    world_fini();
}
END_TEST

START_TEST(test_pic_priority_nesting)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    pulse(3);
    pulse(1);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x21);   /* IRQ1 beats IRQ3 */
    ck_assert(!W.intr);                               /* IRQ3 blocked by IRQ1 */
    pulse(0);
    ck_assert(W.intr);                                /* IRQ0 nests */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    ck_assert_uint_eq(read_isr(0x20), 0x03);
    eoi(0x20);                                        /* clears IRQ0, the highest */
    ck_assert_uint_eq(read_isr(0x20), 0x02);
    ck_assert(!W.intr);
    eoi(0x20);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    /* Specific EOI. */
    outb(0x20, PIC_OCW2_SPECIFIC_EOI | 3);
    ck_assert_uint_eq(read_isr(0x20), 0);
    /* A non-specific EOI with nothing in service does nothing. */
    eoi(0x20);
    ck_assert_uint_eq(read_isr(0x20), 0);

    /* Slave inputs sit at IR2's priority: above IRQ3, below IRQ1. */
    pulse(3);
    pulse(14);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2e);
    ck_assert(!W.intr);
    pulse(1);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x21);
    eoi(0x20);
    eoi(0xa0);
    eoi(0x20);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    eoi(0x20);
    ck_assert(!W.intr);
    world_fini();
}
END_TEST

START_TEST(test_pic_rotation)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    /* Rotate on non-specific EOI: equal-priority devices take turns. */
    pulse(1);
    pulse(5);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x21);
    outb(0x20, PIC_OCW2_ROTATE_NONSPECIFIC_EOI);   /* IR1 becomes lowest */
    pulse(1);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);  /* 5 now outranks 1 */
    outb(0x20, PIC_OCW2_ROTATE_NONSPECIFIC_EOI);     /* IR5 lowest: 6,7,0,1,... */
    pulse(0);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);  /* 0 before 1 */
    outb(0x20, PIC_OCW2_ROTATE_SPECIFIC_EOI | 0);     /* IR0 lowest */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x21);
    eoi(0x20);
    ck_assert_uint_eq(read_isr(0x20), 0);
    /* Set priority: IR4 lowest, so IR5 is the highest. */
    outb(0x20, PIC_OCW2_SET_PRIORITY | 4);
    pulse(0);
    pulse(4);
    pulse(5);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);
    ck_assert(!W.intr);                               /* 0 and 4 are below 5 */
    eoi(0x20);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    eoi(0x20);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x24);
    eoi(0x20);
    /* No-operation OCW2. */
    outb(0x20, 0x40);
    ck_assert(!W.intr);
    world_fini();
}
END_TEST

START_TEST(test_pic_cascade)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    /* Fully nested: a higher slave request waits for the master's EOI. */
    pulse(10);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2a);
    ck_assert_uint_eq(read_isr(0x20), 0x04);
    ck_assert_uint_eq(read_isr(0xa0), 0x04);
    pulse(8);
    ck_assert_uint_eq(read_irr(0xa0), 0x01);
    ck_assert(!W.intr);
    eoi(0xa0);
    ck_assert(!W.intr);
    eoi(0x20);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x28);
    eoi(0xa0);
    eoi(0x20);
    ck_assert(!W.intr);

    /* Special fully nested mode on the master (ICW4 = 0x11). */
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, PIC_ICW4_SFNM | PIC_ICW4_UPM);
    pulse(10);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2a);
    pulse(12);
    ck_assert(!W.intr);            /* lower slave level: blocked by the slave */
    pulse(8);
    ck_assert(W.intr);             /* higher slave level gets through */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x28);
    ck_assert_uint_eq(read_isr(0x20), 0x04);
    ck_assert_uint_eq(read_isr(0xa0), 0x05);
    /* The SFNM exit sequence: EOI the slave, check its ISR, EOI the master
     * only when the slave has nothing left in service. */
    eoi(0xa0);
    ck_assert_uint_eq(read_isr(0xa0), 0x04);
    eoi(0xa0);
    ck_assert_uint_eq(read_isr(0xa0), 0x00);
    ck_assert(W.intr);             /* IRQ12 now */
    eoi(0x20);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2c);
    eoi(0xa0);
    eoi(0x20);
    ck_assert(!W.intr);

    /* A master that expects a slave on another input gets no answer: the
     * floating bus (0xff), reported once. */
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x08);              /* "slave on IR3" */
    outb(0x21, 0x01);
    pic_set_irq(W.pic, 3, true);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0xff);
    ck_assert_uint_eq(tu_num_reports(), 1);
    world_fini();
}
END_TEST

START_TEST(test_pic_edge_level_elcr)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    outb(0x4d0, 0x20);             /* IRQ5 level */
    outb(0x4d1, 0x04);             /* IRQ10 level */
    ck_assert_uint_eq(inb(0x4d0), 0x20);
    ck_assert_uint_eq(inb(0x4d1), 0x04);
    ck_assert_uint_eq(pic_peek_elcr(W.pic, 1), 0x04);

    /* Level: served again after EOI while still asserted. */
    pic_set_irq(W.pic, 5, true);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);
    ck_assert_uint_eq(read_irr(0x20), 0x20);
    eoi(0x20);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);
    pic_set_irq(W.pic, 5, false);
    ck_assert_uint_eq(read_irr(0x20), 0x00);
    eoi(0x20);
    ck_assert(!W.intr);

    /* Edge: one interrupt per rising edge. */
    pic_set_irq(W.pic, 3, true);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    eoi(0x20);
    ck_assert(!W.intr);
    ck_assert_uint_eq(read_irr(0x20), 0x00);
    pic_set_irq(W.pic, 3, true);   /* no change: nothing */
    ck_assert(!W.intr);
    pic_set_irq(W.pic, 3, false);
    pic_set_irq(W.pic, 3, true);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    eoi(0x20);
    pic_set_irq(W.pic, 3, false);
    /* The edge is remembered after the input falls (pic8259.h). */
    pulse(4);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x24);
    eoi(0x20);

    /* Slave level input. */
    pic_set_irq(W.pic, 10, true);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2a);
    eoi(0xa0);
    eoi(0x20);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2a);
    pic_set_irq(W.pic, 10, false);
    eoi(0xa0);
    eoi(0x20);
    ck_assert(!W.intr);

    /* Switching an input to edge needs a new rising edge. */
    pic_set_irq(W.pic, 5, true);
    ck_assert(W.intr);
    outb(0x4d0, 0x00);
    ck_assert(!W.intr);
    pic_set_irq(W.pic, 5, false);

    /* ICW1.LTIM: every input of that chip level-triggered. */
    outb(0x20, 0x19);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    pic_set_irq(W.pic, 6, true);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x26);
    eoi(0x20);
    ck_assert(W.intr);
    pic_set_irq(W.pic, 6, false);
    ck_assert(!W.intr);

    /* Reserved ELCR bits (IRQ0-2, 8, 13) stay 0; reported once. */
    ck_assert_uint_eq(tu_num_reports(), 0);
    outb(0x4d0, 0xff);
    outb(0x4d1, 0xff);
    ck_assert_uint_eq(inb(0x4d0), PIC_ELCR1_MASK);
    ck_assert_uint_eq(inb(0x4d1), PIC_ELCR2_MASK);
    ck_assert_uint_eq(tu_num_reports(), 1);
    world_fini();
}
END_TEST

START_TEST(test_pic_auto_eoi)
{
    world_init();
    pic_init(0x20, 0x28, PIC_ICW4_AEOI | PIC_ICW4_UPM);
    pulse(3);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    ck_assert_uint_eq(read_isr(0x20), 0);   /* no ISR bit in AEOI */
    pulse(5);
    ck_assert(W.intr);                       /* not blocked by IRQ3 */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);

    /* Slave in AEOI too; two slave requests back to back. */
    pulse(9);
    pulse(11);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x29);
    ck_assert_uint_eq(read_isr(0x20), 0);
    ck_assert_uint_eq(read_isr(0xa0), 0);
    ck_assert(W.intr);                       /* the slave's next request */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2b);
    ck_assert(!W.intr);

    /* Rotate in AEOI mode: the served level becomes the lowest. */
    outb(0x20, PIC_OCW2_SET_ROTATE_AEOI);
    pulse(0);
    pulse(1);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    pulse(0);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x21);  /* IR0 is lowest now */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    outb(0x20, PIC_OCW2_CLEAR_ROTATE_AEOI);
    pulse(0);
    pulse(7);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x27);  /* IR1 lowest: 2..7 first */
    pulse(7);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x27);  /* no rotation any more */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    world_fini();
}
END_TEST

START_TEST(test_pic_spurious)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    /* INTA with nothing requested: IR7, no ISR bit. */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x27);
    ck_assert_uint_eq(read_isr(0x20), 0);

    /* A level request withdrawn between INTR and INTA. */
    outb(0x4d0, 0x10);
    pic_set_irq(W.pic, 4, true);
    ck_assert(W.intr);
    pic_set_irq(W.pic, 4, false);
    ck_assert(!W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x27);
    ck_assert_uint_eq(read_isr(0x20), 0);

    /* A real IRQ7 is told apart by ISR bit 7. */
    pulse(7);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x27);
    ck_assert_uint_eq(read_isr(0x20), 0x80);
    eoi(0x20);

    /* Spurious IRQ15: a level slave request withdrawn after the master
     * latched the slave's INT edge. Master ISR2 is set, the slave's not. */
    outb(0x4d1, 0x08);                       /* IRQ11 level */
    pic_set_irq(W.pic, 11, true);
    pic_set_irq(W.pic, 11, false);
    ck_assert_uint_eq(read_irr(0xa0), 0);
    ck_assert(W.intr);                       /* the master's IR2 edge */
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x2f);
    ck_assert_uint_eq(read_isr(0x20), 0x04);
    ck_assert_uint_eq(read_isr(0xa0), 0x00);
    eoi(0x20);                               /* the master only */
    ck_assert_uint_eq(read_isr(0x20), 0);
    ck_assert(!W.intr);
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

START_TEST(test_pic_poll)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    pulse(4);
    pulse(6);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb_debug(0x20), 0x84);   /* a debugger sees it, no effect */
    ck_assert_uint_eq(inb(0x20), 0x84);
    ck_assert_uint_eq(read_isr(0x20), 0x10);
    ck_assert_uint_eq(read_irr(0x20), 0x40);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0x20), 0x00);         /* 6 is below 4 in service */
    eoi(0x20);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0x20), 0x86);
    eoi(0x20);
    /* The poll lasts one read; then reads are IRR again. */
    ck_assert_uint_eq(inb(0x20), 0x00);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0x21), 0x00);         /* either address */
    /* Masked requests do not reach the priority resolver. */
    outb(0x21, 0x08);
    pulse(3);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0x20), 0x00);
    outb(0x21, 0x00);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0x20), 0x83);
    eoi(0x20);

    /* Through the cascade: the master says IR2, then poll the slave. */
    pulse(13);
    outb(0x20, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0x20), 0x82);
    outb(0xa0, PIC_OCW3_POLL);
    ck_assert_uint_eq(inb(0xa0), 0x85);
    ck_assert_uint_eq(read_isr(0x20), 0x04);
    ck_assert_uint_eq(read_isr(0xa0), 0x20);
    eoi(0xa0);
    eoi(0x20);

    /* Poll has priority over a read-register command in the same OCW3,
     * which still selects the register for later reads. */
    pulse(1);
    outb(0x20, PIC_OCW3_POLL | PIC_OCW3_READ_ISR);
    ck_assert_uint_eq(inb(0x20), 0x81);
    ck_assert_uint_eq(inb(0x20), 0x02);         /* ISR */
    eoi(0x20);
    ck_assert(!W.intr);
    world_fini();
}
END_TEST

START_TEST(test_pic_irr_isr_reads)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    outb(0x21, 0xff);
    pulse(3);
    pulse(6);
    ck_assert_uint_eq(read_irr(0x20), 0x48);
    ck_assert_uint_eq(inb(0x20), 0x48);         /* the selection stays */
    ck_assert_uint_eq(inb(0x21), 0xff);         /* A0 = 1: IMR */
    ck_assert_uint_eq(read_isr(0x20), 0x00);
    outb(0x21, 0x00);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    ck_assert_uint_eq(inb(0x20), 0x08);         /* still ISR */
    outb(0x20, PIC_OCW3);                       /* OCW3 without RR: no change */
    ck_assert_uint_eq(inb(0x20), 0x08);
    ck_assert_uint_eq(read_irr(0x20), 0x40);
    ck_assert_uint_eq(pic_peek_irr(W.pic, 0), 0x40);
    ck_assert_uint_eq(pic_peek_isr(W.pic, 0), 0x08);
    ck_assert_uint_eq(pic_peek_imr(W.pic, 0), 0x00);
    /* ICW1 selects IRR again. */
    outb(0x20, PIC_OCW3_READ_ISR);
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    ck_assert_uint_eq(inb(0x20), 0x00);         /* IRR, edge sense reset */
    ck_assert_uint_eq(pic_peek_isr(W.pic, 0), 0x00);
    world_fini();
}
END_TEST

START_TEST(test_pic_special_mask)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    pulse(3);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x23);
    pulse(5);
    ck_assert(!W.intr);
    /* The IRQ3 handler masks itself and enters special mask mode. */
    outb(0x21, 0x08);
    outb(0x20, PIC_OCW3_SET_SMM);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x25);
    ck_assert_uint_eq(read_isr(0x20), 0x28);
    /* A non-specific EOI skips the masked in-service level 3. */
    eoi(0x20);
    ck_assert_uint_eq(read_isr(0x20), 0x08);
    outb(0x20, PIC_OCW3_CLEAR_SMM);
    outb(0x21, 0x00);
    pulse(6);
    ck_assert(!W.intr);                         /* IRQ3 blocks again */
    outb(0x20, PIC_OCW2_SPECIFIC_EOI | 3);
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x26);
    eoi(0x20);
    world_fini();
}
END_TEST

START_TEST(test_pic_reports_and_access)
{
    world_init();
    pic_init(0x20, 0x28, 0x01);
    pic_set_irq(W.pic, 2, true);
    pic_set_irq(W.pic, 2, true);
    ck_assert(!W.intr);
    ck_assert_uint_eq(tu_num_reports(), 1);
    pic_set_irq(W.pic, 16, true);
    ck_assert_uint_eq(tu_num_reports(), 2);
    /* ICW1 without IC4: MCS-80/85 mode, reported, 8086 vectors anyway. */
    outb(0x20, 0x10);
    outb(0x21, 0x40);
    outb(0x21, 0x04);
    ck_assert_uint_eq(tu_num_reports(), 3);
    pulse(1);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x41);
    /* Single chip (SNGL): no ICW3; IR2 is then an ordinary input. */
    outb(0x20, 0x13);
    outb(0x21, 0x50);
    outb(0x21, 0x01);
    outb(0xa1, 0x00);
    pulse(9);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x52);
    /* 1-byte accesses only. */
    uint64_t v;

    ck_assert_int_eq(as_read_val(W.as, 0x20, mem_attrs_cpu(0), 2, MEM_LITTLE_ENDIAN, &v),
                     MEM_ACCESS_ERROR);
    ck_assert_int_eq(as_write_val(W.as, 0xa0, mem_attrs_cpu(0), 2, MEM_LITTLE_ENDIAN, 0),
                     MEM_ACCESS_ERROR);
    ck_assert_int_eq(as_write_val(W.as, 0x4d0, mem_attrs_cpu(0), 2, MEM_LITTLE_ENDIAN, 0),
                     MEM_ACCESS_ERROR);
    world_fini();
}
END_TEST

/* ================================================================== */
/* PIT */

START_TEST(test_pit_reset_state)
{
    world_init();
    W.now = 0;
    for (unsigned i = 0; i < 3; i++) {
        ck_assert_uint_eq(pit_status(i), PIT_STATUS_OUT | PIT_STATUS_NULL_COUNT | 0x36);
        ck_assert(pit_get_out(W.pit, i));
        ck_assert_uint_eq(pit_peek_count(W.pit, i), 0);
    }
    ck_assert(!W.timer_armed);
    ck_assert_uint_eq(W.irq0->len, 0);
    ck_assert_uint_eq(inb(0x61), PIT_P61_OUT2);
    ck_assert_uint_eq(inb(0x43), 0xff);
    /* Idle counters do not move. */
    W.now = 1000000000;
    ck_assert_uint_eq(pit_peek_count(W.pit, 0), 0);
    ck_assert(!W.timer_armed);

    /* After use, pit_reset returns OUT0 high and cancels the timer. */
    pit_program(0, 0, 1000);
    ck_assert_uint_eq(W.irq0->len, 1);
    ck_assert(!edge(0).level);
    ck_assert(W.timer_armed);
    outb(0x61, 0x0d);
    pit_reset(W.pit);
    ck_assert_uint_eq(W.irq0->len, 2);
    ck_assert(edge(1).level);
    ck_assert(!W.timer_armed);
    ck_assert_uint_eq(W.timer_cancels, 1);
    ck_assert_uint_eq(pit_status(0), 0xf6);
    ck_assert_uint_eq(inb(0x61) & 0x2f, PIT_P61_OUT2);
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

START_TEST(test_pit_time_conversion)
{
    ck_assert_uint_eq(pit_ns_to_ticks(0), 0);
    ck_assert_uint_eq(pit_ns_to_ticks(1000000000ull), PIT_HZ);
    ck_assert_uint_eq(pit_ns_to_ticks(838), 0);
    ck_assert_uint_eq(pit_ns_to_ticks(839), 1);      /* 1 tick = 838.095 ns */
    ck_assert_uint_eq(pit_ticks_to_ns(1), 839);
    ck_assert_uint_eq(pit_ticks_to_ns(PIT_HZ), 1000000000ull);
    for (uint64_t k = 0; k < 100000; k += 7) {
        uint64_t t = pit_ticks_to_ns(k);

        ck_assert_uint_eq(pit_ns_to_ticks(t), k);
        if (t) {
            ck_assert_uint_eq(pit_ns_to_ticks(t - 1), k - 1);
        }
    }
    /* Large times: 128-bit intermediate, no overflow. */
    uint64_t big = 10000000000000000000ull;

    ck_assert_uint_eq(pit_ns_to_ticks(big), (uint64_t)((unsigned __int128)big * PIT_HZ /
                                                       1000000000u));
    ck_assert_uint_eq(pit_ns_to_ticks(pit_ticks_to_ns(pit_ns_to_ticks(big))),
                      pit_ns_to_ticks(big));
}
END_TEST

START_TEST(test_pit_mode2_periodic)
{
    const uint16_t n = 11932;  /* ~100 Hz */

    world_init();
    W.now = 12345;
    pit_program(0, 2, n);
    uint64_t load = ticks() + 1;

    ck_assert_uint_eq(W.irq0->len, 0);          /* OUT0 stays high */
    ck_assert(W.timer_armed);
    ck_assert_uint_eq(W.deadline, tns(load + n - 1));
    uint64_t end = tns(load) + 105000000ull;    /* 105 ms */

    run_to(end);
    unsigned k = 0;

    for (guint i = 0; i < W.irq0->len; i += 2) {
        k++;
        ck_assert_uint_eq(edge(i).ns, tns(load + (uint64_t)k * n - 1));
        ck_assert(!edge(i).level);
        ck_assert_uint_eq(edge(i + 1).ns, tns(load + (uint64_t)k * n));
        ck_assert(edge(i + 1).level);
    }
    ck_assert_uint_eq(k, 10);
    ck_assert_uint_eq(W.irq0->len, 20);
    /* The counting element: N, N-1, ..., 1, N, ... */
    W.now = tns(load + 10 * n + 1234);
    ck_assert_uint_eq(pit_latched(0), n - 1234);
    W.now = tns(load + 11 * n - 1);
    ck_assert_uint_eq(pit_latched(0), 1);
    ck_assert(!pit_get_out(W.pit, 0));
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

/* Mode 2 IRQ0 through the PIC at the right virtual times, bare-metal
 * style: remap, unmask IRQ0, program 1 kHz, take and EOI each tick. */
START_TEST(test_pit_irq0_through_pic)
{
    const uint16_t n = 1193;

    world_init();
    W.irq0_to_pic = true;
    pic_init(0x20, 0x28, 0x01);
    outb(0x21, 0xfe);
    outb(0xa1, 0xff);
    W.now = 5000;
    outb(0x43, 0x34);
    outb(0x40, n & 0xff);
    outb(0x40, n >> 8);
    uint64_t load = ticks() + 1;

    ck_assert(!W.intr);
    for (unsigned k = 1; k <= 50; k++) {
        while (!W.intr) {
            run_next();
        }
        ck_assert_uint_eq(W.now, tns(load + (uint64_t)k * n));
        ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
        eoi(0x20);
        ck_assert(!W.intr);
    }
    /* A CPU that does not take the interrupt for several periods gets one
     * (the edge is latched, later edges coalesce). */
    run_to(W.now + 5 * tns(n));
    ck_assert(W.intr);
    ck_assert_int_eq(pic_acknowledge(W.pic), 0x20);
    ck_assert(!W.intr);
    eoi(0x20);
    ck_assert(!W.intr);
    world_fini();
}
END_TEST

START_TEST(test_pit_mode3_square_wave)
{
    world_init();
    /* Even count: 500 high, 500 low. */
    W.now = 777;
    pit_program(0, 3, 1000);
    uint64_t load = ticks() + 1;

    ck_assert_uint_eq(W.irq0->len, 0);
    run_to(tns(load + 3000));
    ck_assert_uint_eq(W.irq0->len, 6);
    for (unsigned k = 0; k < 3; k++) {
        ck_assert_uint_eq(edge(2 * k).ns, tns(load + 1000 * k + 500));
        ck_assert(!edge(2 * k).level);
        ck_assert_uint_eq(edge(2 * k + 1).ns, tns(load + 1000 * (k + 1)));
        ck_assert(edge(2 * k + 1).level);
    }
    /* Counting by twos in each half. */
    static const struct { uint64_t at; uint16_t v; bool out; } even[] = {
        { 0, 1000, true }, { 1, 998, true }, { 499, 2, true }, { 500, 1000, false },
        { 501, 998, false }, { 999, 2, false }, { 1000, 1000, true },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(even); i++) {
        W.now = tns(load + 3000 + even[i].at);
        ck_assert_uint_eq(pit_latched(0), even[i].v);
        ck_assert(pit_get_out(W.pit, 0) == even[i].out);
    }

    /* Odd count: 501 high, 500 low; N - 1 loaded. */
    run_to(tns(load + 5000) + 100);           /* OUT high: start of a period */
    g_array_set_size(W.irq0, 0);
    pit_program(0, 3, 1001);
    load = ticks() + 1;
    run_to(tns(load + 2002));
    ck_assert_uint_eq(W.irq0->len, 4);
    ck_assert_uint_eq(edge(0).ns, tns(load + 501));
    ck_assert_uint_eq(edge(1).ns, tns(load + 1001));
    ck_assert_uint_eq(edge(2).ns, tns(load + 1001 + 501));
    ck_assert_uint_eq(edge(3).ns, tns(load + 2002));
    static const struct { uint64_t at; uint16_t v; bool out; } odd[] = {
        { 0, 1000, true }, { 1, 998, true }, { 500, 0, true }, { 501, 1000, false },
        { 1000, 2, false }, { 1001, 1000, true },
    };
    for (unsigned i = 0; i < G_N_ELEMENTS(odd); i++) {
        W.now = tns(load + 2002 + odd[i].at);
        ck_assert_uint_eq(pit_latched(0), odd[i].v);
        ck_assert(pit_get_out(W.pit, 0) == odd[i].out);
    }
    ck_assert_uint_eq(tu_num_reports(), 0);
    world_fini();
}
END_TEST

START_TEST(test_pit_mode0_oneshot)
{
    world_init();
    W.now = 5000;
    outb(0x43, 0x30);                      /* counter 0, LSB then MSB, mode 0 */
    ck_assert_uint_eq(W.irq0->len, 1);     /* OUT low at once */
    ck_assert(!edge(0).level);
    ck_assert_uint_eq(edge(0).ns, 5000);
    ck_assert(!W.timer_armed);             /* no count yet */
    W.now = 6000;
    outb(0x40, 1000 & 0xff);
    outb(0x40, 1000 >> 8);
    uint64_t w = ticks();

    ck_assert(W.timer_armed);
    ck_assert_uint_eq(W.deadline, tns(w + 1001));   /* N + 1 clocks */
    W.now = tns(w + 1);
    ck_assert_uint_eq(pit_latched(0), 1000);
    W.now = tns(w + 1000);
    ck_assert_uint_eq(pit_latched(0), 1);
    ck_assert(!pit_get_out(W.pit, 0));
    run_to(10000000);
    ck_assert_uint_eq(W.irq0->len, 2);
    ck_assert(edge(1).level);
    ck_assert_uint_eq(edge(1).ns, tns(w + 1001));
    ck_assert(!W.timer_armed);             /* one shot */
    /* The element wraps and keeps counting; OUT stays high. */
    W.now = tns(w + 1001 + 5);
    ck_assert_uint_eq(pit_latched(0), 0xfffb);
    ck_assert(pit_get_out(W.pit, 0));
    ck_assert_uint_eq(pit_status(0) & PIT_STATUS_OUT, PIT_STATUS_OUT);

    /* Rewriting: the first byte stops the count with OUT low, the second
     * starts the new count. */
    W.now = tns(w + 5000);
    outb(0x40, 100);
    ck_assert_uint_eq(W.irq0->len, 3);
    ck_assert(!edge(2).level);
    ck_assert(!W.timer_armed);
    W.now = tns(w + 6000);
    outb(0x40, 0);
    ck_assert_uint_eq(W.deadline, tns(w + 6000 + 101));
    run_to(tns(w + 7000));
    ck_assert_uint_eq(W.irq0->len, 4);
    ck_assert_uint_eq(edge(3).ns, tns(w + 6101));
    world_fini();
}
END_TEST

START_TEST(test_pit_latch_and_direct_read)
{
    world_init();
    W.now = 1000;
    pit_program(0, 2, 50000);
    uint64_t load = ticks() + 1;

    W.now = tns(load + 12345);
    outb(0x43, 0x00);                           /* latch counter 0 */
    W.now = tns(load + 20000);
    outb(0x43, 0x00);                           /* ignored: not yet read */
    ck_assert_uint_eq(inb(0x40), (50000 - 12345) & 0xff);
    ck_assert_uint_eq(inb(0x40), (50000 - 12345) >> 8);
    /* Unlatched: each byte is the element at the time of its read. */
    ck_assert_uint_eq(inb(0x40), (50000 - 20000) & 0xff);
    W.now = tns(load + 20000 + 256);
    ck_assert_uint_eq(inb(0x40), (50000 - 20256) >> 8);
    /* A new latch now. */
    ck_assert_uint_eq(pit_latched(0), 50000 - 20256);
    /* The latch survives a count write until it is read. */
    outb(0x43, 0x00);
    outb(0x40, 0x10);
    outb(0x40, 0x00);
    ck_assert_uint_eq(inb(0x40), (50000 - 20256) & 0xff);
    ck_assert_uint_eq(inb(0x40), (50000 - 20256) >> 8);
    /* A debugger read changes nothing. */
    W.now = tns(load + 30000);
    outb(0x43, 0x00);
    ck_assert_uint_eq(inb_debug(0x40), (50000 - 30000) & 0xff);
    ck_assert_uint_eq(inb(0x40), (50000 - 30000) & 0xff);
    ck_assert_uint_eq(inb(0x40), (50000 - 30000) >> 8);
    world_fini();
}
END_TEST

START_TEST(test_pit_readback)
{
    world_init();
    W.now = 2000;
    pit_program(0, 2, 1000);
    uint64_t load = ticks() + 1;

    /* NULL COUNT until the count reaches the counting element. */
    ck_assert_uint_eq(pit_status(0), PIT_STATUS_OUT | PIT_STATUS_NULL_COUNT | 0x34);
    W.now = tns(load);
    ck_assert_uint_eq(pit_status(0), PIT_STATUS_OUT | 0x34);
    /* Count and status of counters 0 and 2: status first, then count. */
    pit_program(2, 0, 300);                     /* gate low: not counting */
    W.now = tns(load + 100);
    outb(0x43, PIT_CW_READBACK | PIT_RB_CNT(0) | PIT_RB_CNT(2));
    W.now = tns(load + 500);
    ck_assert_uint_eq(inb(0x40), PIT_STATUS_OUT | 0x34);
    ck_assert_uint_eq(inb(0x40), 900 & 0xff);
    ck_assert_uint_eq(inb(0x40), 900 >> 8);
    ck_assert_uint_eq(inb(0x42), 0x30);         /* OUT low, loaded, mode 0 */
    ck_assert_uint_eq(inb(0x42), 300 & 0xff);
    ck_assert_uint_eq(inb(0x42), 300 >> 8);
    /* Count only. */
    outb(0x43, PIT_CW_READBACK | PIT_RB_NO_STATUS | PIT_RB_CNT(0));
    ck_assert_uint_eq(inb(0x40), 500 & 0xff);
    ck_assert_uint_eq(inb(0x40), 500 >> 8);
    /* A second status latch before the first is read is ignored. */
    outb(0x43, PIT_CW_READBACK | PIT_RB_NO_COUNT | PIT_RB_CNT(0));
    outb(0x43, 0x36);                           /* reprogram: latches cleared */
    ck_assert_uint_eq(pit_status(0), PIT_STATUS_OUT | PIT_STATUS_NULL_COUNT | 0x36);

    /* Mode 2: a new count written while counting waits for the reload. */
    W.now = tns(load + 2000);
    pit_program(0, 2, 1000);
    load = ticks() + 1;
    W.now = tns(load + 300);
    run_to(W.now);
    g_array_set_size(W.irq0, 0);
    outb(0x40, 500 & 0xff);
    outb(0x40, 500 >> 8);
    ck_assert_uint_eq(pit_status(0) & PIT_STATUS_NULL_COUNT, PIT_STATUS_NULL_COUNT);
    ck_assert_uint_eq(pit_latched(0), 700);     /* old count goes on */
    run_to(tns(load + 2000));
    ck_assert_uint_eq(pit_status(0) & PIT_STATUS_NULL_COUNT, 0);
    ck_assert_uint_eq(W.irq0->len, 6);
    ck_assert_uint_eq(edge(1).ns, tns(load + 1000));   /* end of the old period */
    ck_assert_uint_eq(edge(3).ns, tns(load + 1500));
    ck_assert_uint_eq(edge(5).ns, tns(load + 2000));
    world_fini();
}
END_TEST

START_TEST(test_pit_access_modes)
{
    world_init();
    /* LSB only (counter 1, mode 2): MSB is 0; reads give the LSB. */
    W.now = 3000;
    outb(0x43, 0x54);
    outb(0x41, 0x80);
    uint64_t load = ticks() + 1;

    W.now = tns(load + 28);
    ck_assert_uint_eq(inb(0x41), 100);
    ck_assert_uint_eq(inb(0x41), 100);
    outb(0x43, 0x40);
    W.now = tns(load + 30);
    ck_assert_uint_eq(inb(0x41), 100);          /* latched */
    ck_assert_uint_eq(inb(0x41), 98);           /* released after one read */
    ck_assert_uint_eq(pit_status(1), PIT_STATUS_OUT | 0x14);

    /* MSB only: count 0x0200. */
    outb(0x43, 0x64);
    outb(0x41, 0x02);
    load = ticks() + 1;
    W.now = tns(load + 12);
    ck_assert_uint_eq(inb(0x41), 500 >> 8);
    ck_assert_uint_eq(pit_peek_count(W.pit, 1), 500);

    /* Modes 6 and 7 are modes 2 and 3; the status shows what was written. */
    outb(0x43, 0x7c);                           /* counter 1, LSB/MSB, mode 6 */
    outb(0x41, 10);
    outb(0x41, 0);
    load = ticks() + 1;
    W.now = tns(load + 9);
    ck_assert(!pit_get_out(W.pit, 1));          /* mode 2's one-clock low */
    ck_assert_uint_eq(pit_status(1) & 0x3f, 0x3c);

    /* BCD: count 0x1000 is 1000; the element reads in BCD. */
    W.now = tns(load + 100);
    outb(0x43, 0x35);
    outb(0x40, 0x00);
    outb(0x40, 0x10);
    load = ticks() + 1;
    W.now = tns(load + 1);
    ck_assert_uint_eq(pit_latched(0), 0x0999);
    W.now = tns(load + 501);
    ck_assert_uint_eq(pit_latched(0), 0x0499);
    g_array_set_size(W.irq0, 0);
    run_to(tns(load + 2000));
    ck_assert_uint_eq(W.irq0->len, 4);
    ck_assert_uint_eq(edge(1).ns, tns(load + 1000));
    ck_assert_uint_eq(edge(3).ns, tns(load + 2000));
    /* BCD 0 is 10000. */
    outb(0x43, 0x31);                           /* mode 0, BCD */
    outb(0x40, 0);
    outb(0x40, 0);
    load = ticks() + 1;
    W.now = tns(load + 1);
    ck_assert_uint_eq(pit_latched(0), 0x9999);
    ck_assert_uint_eq(W.deadline, tns(load + 10000));
    ck_assert_uint_eq(tu_num_reports(), 0);
    /* A BCD digit above 9: reported once. */
    outb(0x43, 0x31);
    outb(0x40, 0xa0);
    outb(0x40, 0x00);
    ck_assert_uint_eq(tu_num_reports(), 1);
    load = ticks() + 1;
    ck_assert_uint_eq(W.deadline, tns(load + 100));
    world_fini();
}
END_TEST

/* The classic TSC/loop calibration: counter 2 in mode 0 gated by port
 * 0x61 bit 0, polling OUT2 at bit 5. */
START_TEST(test_pit_counter2_calibration)
{
    world_init();
    W.now = 1000000;
    uint8_t v = inb(0x61);

    outb(0x61, (uint8_t)((v & ~PIT_P61_SPEAKER) | PIT_P61_GATE2));
    ck_assert_uint_eq(inb(0x61) & 0x0f, PIT_P61_GATE2);
    outb(0x43, 0xb0);                 /* counter 2, LSB then MSB, mode 0 */
    outb(0x42, 11931 & 0xff);         /* 10 ms */
    outb(0x42, 11931 >> 8);
    uint64_t w = ticks();
    unsigned loops = 0;

    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    while (!(inb(0x61) & PIT_P61_OUT2)) {
        W.now += 1000;
        loops++;
        ck_assert_uint_lt(loops, 20000);
    }
    ck_assert_uint_ge(ticks(), w + 11932);
    ck_assert_uint_lt(pit_ns_to_ticks(W.now - 1000), w + 11932);
    ck_assert_uint_eq(W.now - 1000000, ((tns(w + 11932) - 1000000 + 999) / 1000) * 1000);
    ck_assert_uint_eq(W.irq0->len, 0);  /* counter 2 is not IRQ0 */
    ck_assert(!W.timer_armed);

    /* Gate low pauses mode 0; high resumes. */
    outb(0x43, 0xb0);
    outb(0x42, 1000 & 0xff);
    outb(0x42, 1000 >> 8);
    w = ticks();
    W.now = tns(w + 301);
    outb(0x61, 0x00);
    ck_assert_uint_eq(pit_peek_count(W.pit, 2), 700);
    W.now = tns(w + 5000);
    ck_assert_uint_eq(pit_peek_count(W.pit, 2), 700);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    outb(0x61, 0x01);
    uint64_t g = ticks();

    W.now = tns(g + 699);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    W.now = tns(g + 700);
    ck_assert(inb(0x61) & PIT_P61_OUT2);

    /* Mode 2 on counter 2: gate low forces OUT2 high and stops it; the
     * rising edge restarts the count. */
    pit_program(2, 2, 100);
    w = ticks();
    W.now = tns(w + 100);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    outb(0x61, 0x00);
    ck_assert(inb(0x61) & PIT_P61_OUT2);
    ck_assert_uint_eq(pit_peek_count(W.pit, 2), 1);
    W.now += 100000;
    outb(0x61, 0x01);
    g = ticks();
    W.now = tns(g + 1);
    ck_assert_uint_eq(pit_peek_count(W.pit, 2), 100);
    W.now = tns(g + 100);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));

    /* Mode 1 (one-shot) triggered by the gate. */
    outb(0x61, 0x00);
    pit_program(2, 1, 50);
    W.now += 10000;
    ck_assert(inb(0x61) & PIT_P61_OUT2);
    ck_assert_uint_eq(pit_status(2) & PIT_STATUS_NULL_COUNT, PIT_STATUS_NULL_COUNT);
    outb(0x61, 0x01);
    g = ticks();
    ck_assert(inb(0x61) & PIT_P61_OUT2);
    W.now = tns(g + 1);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    ck_assert_uint_eq(pit_status(2) & PIT_STATUS_NULL_COUNT, 0);
    W.now = tns(g + 50);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    W.now = tns(g + 51);
    ck_assert(inb(0x61) & PIT_P61_OUT2);
    /* Retrigger. */
    outb(0x61, 0x00);
    outb(0x61, 0x01);
    g = ticks();
    W.now = tns(g + 1);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    W.now = tns(g + 51);
    ck_assert(inb(0x61) & PIT_P61_OUT2);

    /* Mode 5: a one-clock strobe N + 1 clocks after the trigger. */
    outb(0x61, 0x00);
    pit_program(2, 5, 20);
    outb(0x61, 0x01);
    g = ticks();
    W.now = tns(g + 20);
    ck_assert(inb(0x61) & PIT_P61_OUT2);
    W.now = tns(g + 21);
    ck_assert(!(inb(0x61) & PIT_P61_OUT2));
    W.now = tns(g + 22);
    ck_assert(inb(0x61) & PIT_P61_OUT2);
    ck_assert_uint_eq(tu_num_reports(), 0);

    /* Speaker on: reported once. */
    outb(0x61, 0x03);
    outb(0x61, 0x03);
    ck_assert_uint_eq(tu_num_reports(), 1);
    world_fini();
}
END_TEST

START_TEST(test_pit_port61_refresh)
{
    world_init();
    for (uint64_t k = 0; k < 200; k++) {
        W.now = tns(k);
        bool bit = (inb(0x61) & PIT_P61_REFRESH) != 0;

        ck_assert(bit == (((k / 18) & 1) != 0));
    }
    /* Bits 6-7 read 0, bits 4-7 are not writable. */
    outb(0x61, 0xfc);
    ck_assert_uint_eq(inb(0x61) & 0xcf, 0x0c);
    world_fini();
}
END_TEST

START_TEST(test_pit_mode4_and_new_counts)
{
    world_init();
    /* Mode 4 on counter 0: one strobe, N + 1 clocks after the write. */
    W.now = 4000;
    pit_program(0, 4, 100);
    uint64_t w = ticks();

    run_to(tns(w + 100000));
    ck_assert_uint_eq(W.irq0->len, 2);
    ck_assert_uint_eq(edge(0).ns, tns(w + 101));
    ck_assert(!edge(0).level);
    ck_assert_uint_eq(edge(1).ns, tns(w + 102));
    ck_assert(edge(1).level);
    ck_assert(!W.timer_armed);

    /* Mode 3: a new count takes effect at the end of the half-cycle. */
    g_array_set_size(W.irq0, 0);
    pit_program(0, 3, 1000);
    uint64_t load = ticks() + 1;

    W.now = tns(load + 200);
    outb(0x40, 600 & 0xff);
    outb(0x40, 600 >> 8);
    run_to(tns(load + 1400));
    ck_assert_uint_eq(W.irq0->len, 4);
    ck_assert_uint_eq(edge(0).ns, tns(load + 500));   /* old high half ends */
    ck_assert_uint_eq(edge(1).ns, tns(load + 800));   /* new low half: 300 */
    ck_assert_uint_eq(edge(2).ns, tns(load + 1100));  /* new high half: 300 */
    ck_assert_uint_eq(edge(3).ns, tns(load + 1400));

    /* Written in the low half: applies at the end of it (the reload). */
    g_array_set_size(W.irq0, 0);
    pit_program(0, 3, 1000);
    load = ticks() + 1;
    run_to(tns(load + 700));
    outb(0x40, 400 & 0xff);
    outb(0x40, 400 >> 8);
    run_to(tns(load + 1400));
    ck_assert_uint_eq(W.irq0->len, 4);
    ck_assert_uint_eq(edge(0).ns, tns(load + 500));
    ck_assert_uint_eq(edge(1).ns, tns(load + 1000));
    ck_assert_uint_eq(edge(2).ns, tns(load + 1200));
    ck_assert_uint_eq(edge(3).ns, tns(load + 1400));

    /* A late timer across a pending count: one edge, then the new period. */
    g_array_set_size(W.irq0, 0);
    pit_program(0, 2, 1000);
    load = ticks() + 1;
    W.now = tns(load + 300);
    outb(0x40, 500 & 0xff);
    outb(0x40, 500 >> 8);
    W.timer_armed = false;
    W.now = tns(load + 2600);
    pit_timer_fire(W.pit);
    ck_assert_uint_eq(W.irq0->len, 2);
    ck_assert(edge(1).level);
    ck_assert_uint_eq(W.deadline, tns(load + 2999));
    ck_assert_uint_eq(pit_latched(0), 500 - 100);

    /* Late timer: ten missed periods of mode 2 coalesce into one edge. */
    g_array_set_size(W.irq0, 0);
    pit_program(0, 2, 100);
    load = ticks() + 1;
    W.timer_armed = false;                /* the machine "forgets" */
    W.now = tns(load + 1050);
    pit_timer_fire(W.pit);
    ck_assert_uint_eq(W.irq0->len, 2);
    ck_assert(!edge(0).level);
    ck_assert(edge(1).level);
    ck_assert(W.timer_armed);
    ck_assert_uint_eq(W.deadline, tns(load + 1099));
    /* Also across a register access instead of a timer. */
    g_array_set_size(W.irq0, 0);
    W.timer_armed = false;
    W.now = tns(load + 1350);
    (void)inb(0x41);
    ck_assert_uint_eq(W.irq0->len, 2);

    /* Count 1 in mode 2: reported; OUT low, no timer storm. */
    pit_program(0, 2, 1);
    ck_assert_uint_eq(tu_num_reports(), 1);
    run_to(W.now + 1000);
    ck_assert(!pit_get_out(W.pit, 0));
    ck_assert(!W.timer_armed);
    /* An early (spurious) fire keeps the request. */
    pit_program(0, 2, 1000);
    ck_assert(W.timer_armed);
    pit_timer_fire(W.pit);
    ck_assert(W.timer_armed);
    ck_assert(pit_timer_deadline(W.pit, NULL));
    world_fini();
}
END_TEST

START_TEST(test_pit_bios_setup)
{
    world_init();
    W.now = 100;
    pit_setup_pc_bios(W.pit);
    uint64_t load = ticks() + 1;

    ck_assert_uint_eq(pit_status(0), PIT_STATUS_OUT | 0x36 | PIT_STATUS_NULL_COUNT);
    ck_assert_uint_eq(pit_status(1) & 0x3f, 0x14);
    run_to(tns(load + 65536));
    ck_assert_uint_eq(W.irq0->len, 2);
    ck_assert_uint_eq(edge(0).ns, tns(load + 32768));
    ck_assert_uint_eq(edge(1).ns, tns(load + 65536));
    W.now = tns(load + 5);
    ck_assert_uint_eq(pit_peek_count(W.pit, 1), 13);
    world_fini();
}
END_TEST

/* Random port traffic and time: nothing breaks, deadlines stay ahead. */
START_TEST(test_garbage)
{
    static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1,
                                      0x40, 0x41, 0x42, 0x43, 0x61 };
    GRand *r = g_rand_new_with_seed(8259);

    world_init();
    W.irq0_to_pic = true;
    for (unsigned round = 0; round < 50000; round++) {
        uint16_t port = ports[g_rand_int_range(r, 0, G_N_ELEMENTS(ports))];

        switch (g_rand_int_range(r, 0, 6)) {
        case 0:
        case 1:
            outb(port, (uint8_t)g_rand_int(r));
            break;
        case 2:
            (void)inb(port);
            break;
        case 3:
            pic_set_irq(W.pic, (unsigned)g_rand_int_range(r, 0, 16), g_rand_boolean(r));
            break;
        case 4:
            if (W.intr) {
                int v = pic_acknowledge(W.pic);

                ck_assert(v >= 0 && v <= 255);
            }
            break;
        default:
            run_to(W.now + (uint64_t)g_rand_int_range(r, 0, 200000));
            break;
        }
        ck_assert(W.intr == pic_intr_pending(W.pic));
        uint64_t dl;

        if (pit_timer_deadline(W.pit, &dl)) {
            ck_assert_uint_gt(dl, W.now);
        }
    }
    g_rand_free(r);
    world_fini();
}
END_TEST

static Suite *pic_pit_suite(void)
{
    Suite *s = suite_create("pic_pit");
    TCase *tc = tu_tcase(s, "pic");

    tcase_add_test(tc, test_pic_reset_state);
    tcase_add_test(tc, test_pic_remap_vectors);
    tcase_add_test(tc, test_pic_masking);
    tcase_add_test(tc, test_pic_priority_nesting);
    tcase_add_test(tc, test_pic_rotation);
    tcase_add_test(tc, test_pic_cascade);
    tcase_add_test(tc, test_pic_edge_level_elcr);
    tcase_add_test(tc, test_pic_auto_eoi);
    tcase_add_test(tc, test_pic_spurious);
    tcase_add_test(tc, test_pic_poll);
    tcase_add_test(tc, test_pic_irr_isr_reads);
    tcase_add_test(tc, test_pic_special_mask);
    tcase_add_test(tc, test_pic_reports_and_access);
    tc = tu_tcase(s, "pit");
    tcase_add_test(tc, test_pit_reset_state);
    tcase_add_test(tc, test_pit_time_conversion);
    tcase_add_test(tc, test_pit_mode2_periodic);
    tcase_add_test(tc, test_pit_irq0_through_pic);
    tcase_add_test(tc, test_pit_mode3_square_wave);
    tcase_add_test(tc, test_pit_mode0_oneshot);
    tcase_add_test(tc, test_pit_latch_and_direct_read);
    tcase_add_test(tc, test_pit_readback);
    tcase_add_test(tc, test_pit_access_modes);
    tcase_add_test(tc, test_pit_counter2_calibration);
    tcase_add_test(tc, test_pit_port61_refresh);
    tcase_add_test(tc, test_pit_mode4_and_new_counts);
    tcase_add_test(tc, test_pit_bios_setup);
    tc = tu_tcase(s, "robustness");
    tcase_add_test(tc, test_garbage);
    return s;
}

int main(void)
{
    return tu_run(pic_pit_suite());
}
