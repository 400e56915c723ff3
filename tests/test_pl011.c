/*
 * Arm PL011 UART device model (devices/pl011.h).
 *
 * The UART is mapped in an address space; register accesses go through
 * it. Output is captured through the tx callback (and a FILE in one test),
 * the interrupt line through the irq callback.
 */
#include "tests/test_util.h"

#include "devices/pl011.h"

#include <glib/gstdio.h>

#define BASE 0x09000000ull

typedef struct World {
    Pl011 *u;
    MemRegion *root;
    AddressSpace *as;
    GString *out;
    bool irq;
    unsigned irq_changes;
} World;

static World W;

static void h_tx(void *o, uint8_t byte)
{
    ck_assert_ptr_eq(o, &W);
    g_string_append_c(W.out, (char)byte);
}

static void h_irq(void *o, bool level)
{
    ck_assert_ptr_eq(o, &W);
    ck_assert(W.irq != level);
    W.irq = level;
    W.irq_changes++;
}

static void world_init_cfg(Pl011Config *cfg)
{
    GError *err = NULL;

    memset(&W, 0, sizeof(W));
    W.out = g_string_new(NULL);
    cfg->tx = h_tx;
    cfg->tx_opaque = &W;
    cfg->irq = h_irq;
    cfg->irq_opaque = &W;
    W.u = pl011_new(cfg, &err);
    TU_ASSERT_NO_ERROR(err);
    W.root = tu_container("system", 1ull << 32);
    ck_assert(mr_add_subregion(W.root, BASE, pl011_region(W.u), &err));
    W.as = tu_as("sys", W.root);
}

static void world_init(void)
{
    Pl011Config cfg = { 0 };

    world_init_cfg(&cfg);
}

static void world_fini(void)
{
    as_free(W.as);
    mr_unref(W.root);
    pl011_free(W.u);
    g_string_free(W.out, TRUE);
    memset(&W, 0, sizeof(W));
}

static uint32_t rd(uint32_t off)
{
    return (uint32_t)tu_rd(W.as, BASE + off, 4);
}

static void wr(uint32_t off, uint32_t v)
{
    tu_wr(W.as, BASE + off, 4, v);
}

static void push(const char *s)
{
    pl011_push_input(W.u, (const uint8_t *)s, strlen(s));
}

static void enable(void)
{
    wr(PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE);
}

START_TEST(test_ids_reset)
{
    static const uint8_t id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

    world_init();
    for (unsigned i = 0; i < 8; i++) {
        ck_assert_uint_eq(rd(PL011_PERIPHID0 + 4 * i), id[i]);
    }
    ck_assert_uint_eq(rd(PL011_CR), 0x300);
    ck_assert_uint_eq(rd(PL011_IFLS), 0x12);
    ck_assert_uint_eq(rd(PL011_FR), PL011_FR_TXFE | PL011_FR_RXFE);
    ck_assert_uint_eq(rd(PL011_LCR_H), 0);
    ck_assert_uint_eq(rd(PL011_RIS), 0);
    ck_assert_uint_eq(rd(PL011_IMSC), 0);
    /* Plain storage registers, with their widths. */
    wr(PL011_IBRD, 0x12345);
    wr(PL011_FBRD, 0xff);
    wr(PL011_ILPR, 0x1ff);
    wr(PL011_DMACR, 0xff);
    ck_assert_uint_eq(rd(PL011_IBRD), 0x2345);
    ck_assert_uint_eq(rd(PL011_FBRD), 0x3f);
    ck_assert_uint_eq(rd(PL011_ILPR), 0xff);
    ck_assert_uint_eq(rd(PL011_DMACR), 0x7);
    wr(PL011_CR, 0xffff);
    ck_assert_uint_eq(rd(PL011_CR), 0xff87);
    ck_assert_uint_eq(tu_num_reports(), 0);
    /* Reserved offsets: RAZ/WI, reported once. */
    ck_assert_uint_eq(rd(0x008), 0);
    wr(0x100, 5);
    ck_assert_uint_eq(rd(0x100), 0);
    ck_assert_uint_eq(tu_num_reports(), 1);
    /* Read-only registers ignore writes. */
    wr(PL011_FR, 0);
    ck_assert_uint_eq(rd(PL011_FR) & PL011_FR_TXFE, PL011_FR_TXFE);
    /* Reset. */
    pl011_reset(W.u);
    ck_assert_uint_eq(rd(PL011_CR), 0x300);
    ck_assert_uint_eq(rd(PL011_IBRD), 0);
    world_fini();
}
END_TEST

START_TEST(test_tx_enables)
{
    world_init();
    /* Disabled (UARTEN = 0 at reset): bytes wait in the FIFO. */
    wr(PL011_DR, 'a');
    ck_assert_uint_eq(W.out->len, 0);
    ck_assert_uint_eq(rd(PL011_FR) & (PL011_FR_TXFE | PL011_FR_BUSY | PL011_FR_TXFF),
                      PL011_FR_BUSY | PL011_FR_TXFF);   /* 1-deep without FEN: full */
    wr(PL011_DR, 'b');   /* FIFOs off: one entry, 'b' is lost */
    ck_assert_uint_eq(tu_num_reports(), 1);
    enable();
    ck_assert_str_eq(W.out->str, "a");
    ck_assert_uint_eq(rd(PL011_FR) & (PL011_FR_TXFE | PL011_FR_BUSY), PL011_FR_TXFE);
    /* Enabled: everything goes out at once. */
    wr(PL011_DR, 'b');
    tu_wr(W.as, BASE + PL011_DR, 1, 'c');   /* strb works too */
    ck_assert_str_eq(W.out->str, "abc");
    ck_assert_uint_eq(pl011_tx_count(W.u), 3);
    /* TXE off with FEN on: up to 16 wait, then FIFO full. */
    wr(PL011_LCR_H, PL011_LCRH_FEN | 0x60);
    wr(PL011_CR, PL011_CR_UARTEN | PL011_CR_RXE);
    for (unsigned i = 0; i < 16; i++) {
        wr(PL011_DR, 'A' + i);
    }
    ck_assert_uint_eq(rd(PL011_FR) & PL011_FR_TXFF, PL011_FR_TXFF);
    ck_assert_str_eq(W.out->str, "abc");
    enable();
    ck_assert_str_eq(W.out->str, "abcABCDEFGHIJKLMNOP");
    ck_assert_uint_eq(rd(PL011_FR) & PL011_FR_TXFF, 0);
    world_fini();

    /* tx_always: firmware that never enables the UART still prints. */
    Pl011Config cfg = { .tx_always = true };
    world_init_cfg(&cfg);
    wr(PL011_DR, 'x');
    wr(PL011_DR, 'y');
    ck_assert_str_eq(W.out->str, "xy");
    world_fini();
}
END_TEST

START_TEST(test_tx_file)
{
    char *path = NULL;
    int fd = g_file_open_tmp("pl011-XXXXXX", &path, NULL);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    Pl011Config cfg = { .out = f };

    world_init_cfg(&cfg);
    enable();
    for (const char *p = "hello\n"; *p; p++) {
        wr(PL011_DR, (uint8_t)*p);
    }
    pl011_flush(W.u);
    world_fini();
    fclose(f);
    char *contents = NULL;
    ck_assert(g_file_get_contents(path, &contents, NULL, NULL));
    ck_assert_str_eq(contents, "hello\n");
    g_free(contents);
    g_unlink(path);
    g_free(path);
}
END_TEST

START_TEST(test_rx_fifo)
{
    world_init();
    /* Receiver disabled: input waits in the backlog. */
    push("xyz");
    ck_assert_uint_eq(pl011_input_backlog(W.u), 3);
    ck_assert_uint_eq(rd(PL011_FR) & PL011_FR_RXFE, PL011_FR_RXFE);
    enable();
    /* FIFOs off: one holding register. */
    ck_assert_uint_eq(pl011_input_backlog(W.u), 2);
    ck_assert_uint_eq(rd(PL011_FR) & (PL011_FR_RXFE | PL011_FR_RXFF), PL011_FR_RXFF);
    ck_assert_uint_eq(rd(PL011_DR), 'x');
    ck_assert_uint_eq(rd(PL011_RSR), 0);
    /* A byte read of DR pops too; reading another byte of it doesn't. */
    ck_assert_uint_eq(tu_rd(W.as, BASE + PL011_DR + 1, 1), 0);
    ck_assert_uint_eq(tu_rd(W.as, BASE + PL011_DR, 1), 'y');
    ck_assert_uint_eq(rd(PL011_DR), 'z');
    ck_assert_uint_eq(rd(PL011_FR) & (PL011_FR_RXFE | PL011_FR_RXFF), PL011_FR_RXFE);
    ck_assert_uint_eq(rd(PL011_DR), 0);   /* empty */
    /* FIFOs on: 16 deep. */
    wr(PL011_LCR_H, PL011_LCRH_FEN);
    push("0123456789abcdefghij");
    ck_assert_uint_eq(pl011_input_backlog(W.u), 4);
    ck_assert_uint_eq(rd(PL011_FR) & PL011_FR_RXFF, PL011_FR_RXFF);
    GString *got = g_string_new(NULL);
    while (!(rd(PL011_FR) & PL011_FR_RXFE)) {
        g_string_append_c(got, (char)rd(PL011_DR));
    }
    ck_assert_str_eq(got->str, "0123456789abcdefghij");
    g_string_free(got, TRUE);
    /* Loopback. */
    wr(PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE | PL011_CR_LBE);
    wr(PL011_DR, 'q');
    ck_assert_uint_eq(W.out->len, 0);
    ck_assert_uint_eq(rd(PL011_DR), 'q');
    world_fini();
}
END_TEST

START_TEST(test_interrupts)
{
    world_init();
    enable();
    wr(PL011_LCR_H, PL011_LCRH_FEN);
    /* RX trigger at 1/2 (8 of 16). */
    wr(PL011_IMSC, PL011_INT_RX);
    push("1234567");
    ck_assert_uint_eq(rd(PL011_RIS), PL011_INT_RT);   /* below trigger: timeout */
    ck_assert(!W.irq);
    push("8");
    /* The timeout stays until the FIFO empties or ICR clears it. */
    ck_assert_uint_eq(rd(PL011_RIS), PL011_INT_RX | PL011_INT_RT);
    ck_assert_uint_eq(rd(PL011_MIS), PL011_INT_RX);
    ck_assert(W.irq);
    rd(PL011_DR);
    ck_assert(!W.irq);   /* 7 left: below the trigger */
    ck_assert_uint_eq(rd(PL011_RIS), PL011_INT_RT);
    wr(PL011_IMSC, PL011_INT_RX | PL011_INT_RT);
    ck_assert(W.irq);
    ck_assert_uint_eq(rd(PL011_MIS), PL011_INT_RT);
    /* ICR clears the timeout; reading everything clears it for good. */
    wr(PL011_ICR, PL011_INT_RT);
    ck_assert(!W.irq);
    for (unsigned i = 0; i < 7; i++) {
        rd(PL011_DR);
    }
    ck_assert_uint_eq(rd(PL011_RIS), 0);
    ck_assert(!W.irq);
    /* ICR on RX while at the trigger level. */
    push("abcdefgh");
    ck_assert(W.irq);
    wr(PL011_ICR, PL011_INT_ALL);
    ck_assert(!W.irq);
    ck_assert_uint_eq(rd(PL011_RIS), 0);
    for (unsigned i = 0; i < 8; i++) {
        rd(PL011_DR);
    }
    /* RX trigger 1/8 = 2. */
    wr(PL011_IFLS, 0);
    push("a");
    ck_assert_uint_eq(rd(PL011_RIS), PL011_INT_RT);
    push("b");
    ck_assert_uint_eq(rd(PL011_RIS) & PL011_INT_RX, PL011_INT_RX);
    rd(PL011_DR);
    rd(PL011_DR);
    ck_assert_uint_eq(rd(PL011_RIS), 0);

    /* TX: raised when a transmission drains the FIFO, not just by being
     * empty; masked by IMSC; cleared by ICR. */
    wr(PL011_IMSC, PL011_INT_TX);
    ck_assert(!W.irq);
    wr(PL011_DR, '!');
    ck_assert_uint_eq(rd(PL011_RIS), PL011_INT_TX);
    ck_assert(W.irq);
    wr(PL011_ICR, PL011_INT_TX);
    ck_assert(!W.irq);
    /* Transmitter off: filling above the trigger keeps it clear; enabling
     * drains and raises it. */
    wr(PL011_CR, PL011_CR_UARTEN | PL011_CR_RXE);
    for (unsigned i = 0; i < 10; i++) {
        wr(PL011_DR, '0' + i);
    }
    ck_assert(!W.irq);
    enable();
    ck_assert(W.irq);
    ck_assert_str_eq(W.out->str, "!0123456789");
    wr(PL011_IMSC, 0);
    ck_assert(!W.irq);
    /* Non-FIFO mode: RX at one character, no timeout. */
    wr(PL011_LCR_H, 0);
    wr(PL011_ICR, PL011_INT_ALL);
    wr(PL011_IMSC, PL011_INT_RX | PL011_INT_RT);
    push("z");
    ck_assert_uint_eq(rd(PL011_RIS), PL011_INT_RX);
    ck_assert(W.irq);
    ck_assert_uint_eq(rd(PL011_DR), 'z');
    ck_assert(!W.irq);
    world_fini();
}
END_TEST

START_TEST(test_garbage)
{
    GRand *r = g_rand_new_with_seed(11);

    world_init();
    for (unsigned round = 0; round < 20000; round++) {
        unsigned size = 1u << g_rand_int_range(r, 0, 3);
        uint64_t off = (uint64_t)g_rand_int_range(r, 0, PL011_SIZE) & ~(uint64_t)(size - 1);
        uint64_t v = g_rand_int(r);

        if (g_rand_int_range(r, 0, 2) == 0) {
            off = (uint64_t)g_rand_int_range(r, 0, 0x13) * 4;
        }
        if (g_rand_boolean(r)) {
            as_write_val(W.as, BASE + off, mem_attrs_cpu(0), size, MEM_LITTLE_ENDIAN, v);
        } else {
            as_read_val(W.as, BASE + off, mem_attrs_cpu(0), size, MEM_LITTLE_ENDIAN, &v);
        }
        if (round % 9 == 0) {
            uint8_t b = (uint8_t)g_rand_int(r);
            pl011_push_input(W.u, &b, 1);
        }
        ck_assert(pl011_irq_level(W.u) == W.irq);
    }
    g_rand_free(r);
    world_fini();
}
END_TEST

static Suite *pl011_suite(void)
{
    Suite *s = suite_create("pl011");
    TCase *tc = tu_tcase(s, "pl011");

    tcase_add_test(tc, test_ids_reset);
    tcase_add_test(tc, test_tx_enables);
    tcase_add_test(tc, test_tx_file);
    tcase_add_test(tc, test_rx_fifo);
    tcase_add_test(tc, test_interrupts);
    tcase_add_test(tc, test_garbage);
    return s;
}

int main(void)
{
    return tu_run(pl011_suite());
}
