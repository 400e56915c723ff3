/*
 * The 8254 interval timer and port 0x61 (pit8254.h).
 *
 * Written from the Intel 8254 data sheet; section titles are quoted in the
 * comments ("8254, <section>").
 *
 * Model. Time is counted in PIT clocks ("ticks"): tick k is the k-th clock
 * edge, at pit_ticks_to_ns(k). A counter's state describes its whole
 * future until the next register access or GATE change, so values and OUT
 * levels at any tick are computed, never stepped:
 *
 * - `load` is the tick at which the count register is transferred into
 *   the counting element (the clock after the count is written or after a
 *   trigger: "8254, Operation Common to All Modes"). Before it, the counter
 *   shows pre_value and pre_out; NEVER: no load is due (no count written
 *   since the control word, or modes 1/5 waiting for a trigger).
 * - From `ref` (>= load) on:
 *   modes 0, 1, 4, 5: the counting element holds `value` at `ref` (the
 *   count N, 1..M, at the load) and counts down by one per tick while
 *   `counting`, wrapping modulo M (65536, or 10000 in BCD); terminal count
 *   is at ref + value unless tc_done (it already happened before `ref`);
 *   modes 2, 3: periodic with period `n` (1..M): the position in the
 *   period at tick T is (T - ref + off) mod n; `off` lets mode 3 start in
 *   its low half. While not `counting` (GATE low) the element holds
 *   `value` and OUT is high. A count written while counting is applied at
 *   the next reload (mode 2) or half-cycle end (mode 3): tick `next_at`.
 */
#include "devices/pit8254.h"

#define NS_PER_S 1000000000ull
#define NEVER UINT64_MAX

/* Things reported once per PIT. */
enum {
    REP_COUNT1 = 1u << 0,
    REP_BAD_BCD = 1u << 1,
    REP_SPEAKER = 1u << 2,
};

typedef struct PitCounter {
    unsigned index;
    uint8_t cw;          /* control word bits 5-0 (RW, M, BCD), for the status byte */
    uint8_t mode;        /* 0..5 (6 and 7 are 2 and 3) */
    uint8_t rw;          /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    bool gate;

    /* Write side (8254, "Write Operations"). */
    uint16_t cr;         /* count register: the last complete count */
    bool cr_written;     /* a complete count was written since the control word */
    bool write_msb;      /* RW 3: the MSB comes next */
    uint8_t write_lsb;

    /* Read side (8254, "Read Operations"). */
    bool read_msb;       /* RW 3: the MSB comes next */
    bool count_latched;  /* output latch holds `latch` */
    uint16_t latch;
    bool status_latched;
    uint8_t status;

    /* Counting element (see the top of the file). */
    uint64_t load;
    uint32_t pre_value;
    bool pre_out;
    uint64_t ref;
    uint32_t value;
    uint32_t n;
    uint32_t off;
    bool counting;
    bool tc_done;
    bool next_valid;
    bool next_fall;      /* mode 3: the switch ends a high half */
    uint32_t next_n;
    uint64_t next_at;
    uint64_t nc_until;   /* NULL COUNT while the tick is below this */
} PitCounter;

struct Pit {
    PitCounter c[PIT_NUM_COUNTERS];
    MemRegion *mr;
    MemRegion *mr61;
    const PitHost *host;
    void *opaque;
    uint8_t p61;         /* port 0x61 bits 3-0 */
    bool irq_level;      /* what host->set_irq0 was last told */
    uint64_t irq_tick;   /* OUT0 edges are reported up to this tick */
    bool timer_armed;
    uint64_t timer_deadline;   /* ns */
    uint64_t timer_tick;       /* the tick it stands for */
    unsigned reported;
};

static bool report_once(Pit *p, unsigned kind)
{
    if (p->reported & kind) {
        return false;
    }
    p->reported |= kind;
    return true;
}

/* ------------------------------------------------------------------ */
/* Time. */

uint64_t pit_ns_to_ticks(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_S);
}

uint64_t pit_ticks_to_ns(uint64_t ticks)
{
    unsigned __int128 ns = ((unsigned __int128)ticks * NS_PER_S + PIT_HZ - 1) / PIT_HZ;

    return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static uint64_t now_ticks(const Pit *p)
{
    return p->host && p->host->clock_ns ? pit_ns_to_ticks(p->host->clock_ns(p->opaque)) : 0;
}

/* ------------------------------------------------------------------ */
/* Counts: binary or BCD (8254, "Control Word Format", BCD bit). */

static uint32_t modulus(const PitCounter *c)
{
    return c->bcd ? 10000u : 65536u;
}

/* The count N a register value stands for: 1..M (0 is M). */
static uint32_t count_of(Pit *p, const PitCounter *c, uint16_t raw)
{
    if (!c->bcd) {
        return raw ? raw : 65536u;
    }
    uint32_t n = 0;
    bool bad = false;

    for (int shift = 12; shift >= 0; shift -= 4) {
        unsigned digit = (raw >> shift) & 0xfu;

        bad |= digit > 9;
        n = n * 10 + digit;
    }
    if (bad && report_once(p, REP_BAD_BCD)) {
        mem_report("pit: counter %u: BCD count 0x%04x has a digit above 9: each digit is "
                   "taken at its value, modulo 10000 (reported once)", c->index, raw);
    }
    n %= 10000u;
    return n ? n : 10000u;
}

/* A counting element value (0..M-1) as the counter shows it. */
static uint16_t encode(const PitCounter *c, uint32_t v)
{
    if (!c->bcd) {
        return (uint16_t)v;
    }
    v %= 10000u;
    return (uint16_t)((v / 1000u) << 12 | (v / 100u % 10u) << 8 | (v / 10u % 10u) << 4 |
                      (v % 10u));
}

static bool periodic(const PitCounter *c)
{
    return c->mode == 2 || c->mode == 3;
}

/* Mode 3: clocks in the high half (8254, "Mode 3"). */
static uint32_t high_half(uint32_t n)
{
    return (n + 1u) / 2u;
}

/* ------------------------------------------------------------------ */
/* Evaluation at a tick (no side effects). */

typedef struct Period {
    uint64_t ref;
    uint32_t n;
    uint32_t off;
} Period;

/* Modes 2 and 3: the period in force at tick t (a pending new count takes
 * over at next_at). */
static Period period_at(const PitCounter *c, uint64_t t)
{
    if (c->next_valid && t >= c->next_at) {
        return (Period){
            .ref = c->next_at,
            .n = c->next_n,
            .off = c->next_fall ? high_half(c->next_n) : 0,
        };
    }
    return (Period){ .ref = c->ref, .n = c->n, .off = c->off };
}

static uint32_t phase(Period pd, uint64_t t)
{
    int64_t d = (int64_t)(t - pd.ref) + (int64_t)pd.off;  /* t >= ref in practice */
    int64_t r = d % (int64_t)pd.n;

    return (uint32_t)(r < 0 ? r + pd.n : r);
}

/* The counting element at tick t, 0..M-1. */
static uint32_t value_at(const PitCounter *c, uint64_t t)
{
    uint32_t m = modulus(c);

    if (t < c->load) {
        return c->pre_value % m;
    }
    if (!c->counting) {
        return c->value % m;
    }
    if (periodic(c)) {
        Period pd = period_at(c, t);
        uint32_t ph = phase(pd, t);

        if (c->mode == 2) {
            return (pd.n - ph) % m;   /* N, N-1, ..., 1 */
        }
        /* Mode 3: by twos from N (even) or N - 1 (odd), in each half. */
        uint32_t h = high_half(pd.n);
        uint32_t top = pd.n & ~1u;

        return (ph < h ? top - 2u * ph : top - 2u * (ph - h)) % m;
    }
    uint64_t d = t - c->ref;

    return (uint32_t)((c->value % m + m - d % m) % m);
}

/* OUT at tick t (8254, "Mode Definitions"). */
static bool out_at(const PitCounter *c, uint64_t t)
{
    if (t < c->load) {
        return c->pre_out;
    }
    uint64_t tc = c->ref + c->value;

    switch (c->mode) {
    case 0:
        return c->tc_done || (c->counting && t >= tc);
    case 1:
        return !(c->counting && !c->tc_done && t < tc);
    case 4:
    case 5:
        return !(c->counting && !c->tc_done && t == tc);
    default: {
        if (!c->counting) {
            return true;  /* GATE low forces OUT high (modes 2, 3) */
        }
        Period pd = period_at(c, t);
        uint32_t ph = phase(pd, t);

        return c->mode == 2 ? ph != pd.n - 1u : ph < high_half(pd.n);
    }
    }
}

/* The first tick after `a` at which OUT may change, or NEVER. */
static uint64_t next_change(const PitCounter *c, uint64_t a)
{
    if (c->load == NEVER) {
        return NEVER;
    }
    if (a < c->load) {
        if (out_at(c, c->load) != c->pre_out) {
            return c->load;
        }
        a = c->load;
    }
    uint64_t tc = c->ref + c->value;

    switch (c->mode) {
    case 0:
    case 1:
        if (!c->counting || c->tc_done) {
            return NEVER;
        }
        return tc > a ? tc : NEVER;
    case 4:
    case 5:
        if (!c->counting || c->tc_done) {
            return NEVER;
        }
        return tc > a ? tc : tc == a ? tc + 1 : NEVER;
    default: {
        if (!c->counting) {
            return NEVER;
        }
        Period pd = period_at(c, a);

        if (pd.n == 1) {  /* OUT constant (see count 1 in pit8254.h) */
            return c->next_valid && a < c->next_at ? c->next_at : NEVER;
        }
        uint32_t ph = phase(pd, a);
        uint64_t d;

        if (c->mode == 2) {
            d = ph < pd.n - 1u ? pd.n - 1u - ph : 1u;
        } else {
            uint32_t h = high_half(pd.n);

            d = ph < h ? h - ph : pd.n - ph;
        }
        return a + d;
    }
    }
}

/* Did OUT rise at some tick in (a, b]? OUT alternates, so two steps do. */
static bool rose_between(const PitCounter *c, uint64_t a, uint64_t b)
{
    uint64_t t = next_change(c, a);

    if (t > b) {
        return false;
    }
    if (out_at(c, t)) {
        return true;
    }
    t = next_change(c, t);
    return t <= b && out_at(c, t);
}

/* ------------------------------------------------------------------ */
/* State changes at tick w. */

/* Apply a pending periodic count whose time has come. */
static void commit(PitCounter *c, uint64_t w)
{
    if (c->next_valid && w >= c->next_at) {
        Period pd = period_at(c, w);

        c->ref = pd.ref;
        c->n = pd.n;
        c->off = pd.off;
        c->next_valid = false;
    }
}

/* Modes 0, 1, 4, 5 while counting: move `ref` to w (for GATE changes). */
static void rebase(PitCounter *c, uint64_t w)
{
    uint64_t tc = c->ref + c->value;

    if (tc < w || (tc == w && (c->mode == 0 || c->mode == 1))) {
        c->tc_done = true;
    }
    c->value = value_at(c, w);
    c->ref = w;
}

/* A count was loaded or a trigger happened at w: the element gets the
 * count register on the next clock. Modes 1, 2, 3, 5 (trigger). */
static void trigger(Pit *p, PitCounter *c, uint64_t w)
{
    uint32_t n = count_of(p, c, c->cr);

    c->pre_value = value_at(c, w);
    c->pre_out = out_at(c, w);
    c->load = w + 1;
    c->ref = c->load;
    c->value = n;
    c->n = n;
    c->off = 0;
    c->counting = true;
    c->tc_done = false;
    c->next_valid = false;
    c->nc_until = c->load;
}

static void check_count1(Pit *p, const PitCounter *c, uint32_t n)
{
    if (periodic(c) && n == 1 && report_once(p, REP_COUNT1)) {
        mem_report("pit: counter %u: count 1 in mode %u has no %s half: OUT stays %s "
                   "(reported once)", c->index, c->mode, c->mode == 2 ? "high" : "low",
                   c->mode == 2 ? "low" : "high");
    }
}

/* A complete count was written (8254, "Write Operations" and the mode
 * definitions: when a new count takes effect). */
static void load_count(Pit *p, PitCounter *c, uint16_t raw, uint64_t w)
{
    c->cr = raw;
    c->cr_written = true;
    uint32_t n = count_of(p, c, raw);

    check_count1(p, c, n);
    switch (c->mode) {
    case 0:
    case 4:
        /* Loaded on the next clock, counting from there (a count written
         * while counting restarts it). */
        c->pre_value = value_at(c, w);
        c->pre_out = c->mode == 0 ? false : out_at(c, w);
        c->load = w + 1;
        c->ref = c->load;
        c->value = n;
        c->counting = c->gate;
        c->tc_done = false;
        c->nc_until = c->load;
        break;
    case 1:
    case 5:
        /* Used at the next trigger; the current one-shot goes on. */
        c->nc_until = NEVER;
        break;
    default:
        if (c->load == NEVER || w < c->load) {
            /* The first count after the control word. */
            if (c->load == NEVER) {
                c->pre_value = value_at(c, w);
                c->pre_out = true;
                c->load = w + 1;
            }
            c->ref = c->load;
            c->n = n;
            c->off = 0;
            c->value = n;
            c->counting = c->gate;
            c->next_valid = false;
            c->nc_until = c->load;
        } else if (c->counting) {
            /* At the end of the period (mode 2) or half-cycle (mode 3). */
            Period pd = period_at(c, w);
            uint32_t ph = phase(pd, w);

            if (c->mode == 3 && ph < high_half(pd.n)) {
                c->next_at = w + (high_half(pd.n) - ph);
                c->next_fall = true;
            } else {
                c->next_at = w + (pd.n - ph);
                c->next_fall = false;
            }
            c->next_n = n;
            c->next_valid = true;
            c->nc_until = c->next_at;
        } else {
            c->nc_until = NEVER;  /* loaded by the next GATE rising edge */
        }
        break;
    }
}

/* The control word for one counter (8254, "Control Word Format"): the
 * counter's control logic is reset and OUT takes its initial state. */
static void set_mode(PitCounter *c, uint8_t cw, uint64_t w)
{
    uint32_t v = value_at(c, w);
    uint8_t mode = (cw >> PIT_CW_MODE_SHIFT) & 7u;

    c->cw = cw & 0x3fu;
    c->mode = mode >= 6 ? mode - 4 : mode;
    c->rw = (cw >> PIT_CW_RW_SHIFT) & 3u;
    c->bcd = (cw & PIT_CW_BCD) != 0;
    c->pre_value = v % modulus(c);
    c->pre_out = c->mode != 0;
    c->load = NEVER;
    c->ref = 0;
    c->value = 0;
    c->n = 1;
    c->off = 0;
    c->counting = false;
    c->tc_done = false;
    c->next_valid = false;
    c->cr_written = false;
    c->write_msb = false;
    c->read_msb = false;
    c->count_latched = false;
    c->status_latched = false;
    c->nc_until = NEVER;
}

static void set_gate(Pit *p, PitCounter *c, bool level, uint64_t w)
{
    if (level == c->gate) {
        return;
    }
    c->gate = level;
    switch (c->mode) {
    case 0:
    case 4:
        /* GATE enables counting; OUT unaffected (8254, "Gate"). */
        if (!level) {
            if (c->load != NEVER && w >= c->load && c->counting) {
                rebase(c, w);
            }
            c->counting = false;
        } else {
            if (c->load != NEVER && w >= c->load) {
                c->ref = w;
            }
            c->counting = true;
        }
        break;
    case 1:
    case 5:
        /* A rising edge triggers (retriggers). */
        if (level && c->cr_written) {
            trigger(p, c, w);
        }
        break;
    default:
        /* Low: stop, OUT high at once; rising: reload on the next clock. */
        if (!level) {
            if (c->load != NEVER && w >= c->load && c->counting) {
                c->value = value_at(c, w);
            }
            c->counting = false;
            if (c->next_valid) {
                c->next_valid = false;
                c->nc_until = NEVER;
            }
        } else if (c->cr_written) {
            trigger(p, c, w);
        }
        break;
    }
}

/* ------------------------------------------------------------------ */
/* OUT0 to the host. */

static void set_irq0(Pit *p, bool level)
{
    p->irq_level = level;
    if (p->host && p->host->set_irq0) {
        p->host->set_irq0(p->opaque, level);
    }
}

/* Report OUT0 up to tick w: any rising edge since the last report, then
 * the level. */
static void irq_sync(Pit *p, uint64_t w)
{
    const PitCounter *c = &p->c[0];
    bool rose = w > p->irq_tick && rose_between(c, p->irq_tick, w);
    bool level = out_at(c, w);

    if (w > p->irq_tick) {
        p->irq_tick = w;
    }
    if (rose) {
        if (p->irq_level) {
            set_irq0(p, false);
        }
        set_irq0(p, true);
    }
    if (level != p->irq_level) {
        set_irq0(p, level);
    }
}

static void rearm(Pit *p, uint64_t w)
{
    uint64_t t = next_change(&p->c[0], w);

    if (t == NEVER) {
        if (p->timer_armed) {
            p->timer_armed = false;
            if (p->host && p->host->timer_cancel) {
                p->host->timer_cancel(p->opaque);
            }
        }
        return;
    }
    uint64_t deadline = pit_ticks_to_ns(t);

    if (!p->timer_armed || deadline != p->timer_deadline) {
        p->timer_armed = true;
        p->timer_deadline = deadline;
        p->timer_tick = t;
        if (p->host && p->host->timer_set) {
            p->host->timer_set(p->opaque, deadline);
        }
    }
}

/* Around every state change: catch up before, report and re-arm after. */
static uint64_t begin(Pit *p)
{
    uint64_t w = now_ticks(p);

    /* Report first: the evaluation of past ticks needs the period a
     * pending count replaces. */
    irq_sync(p, w);
    for (unsigned i = 0; i < PIT_NUM_COUNTERS; i++) {
        commit(&p->c[i], w);
    }
    return w;
}

static void end(Pit *p, uint64_t w)
{
    irq_sync(p, w);
    rearm(p, w);
}

/* ------------------------------------------------------------------ */
/* Registers. */

static void latch_count(PitCounter *c, uint64_t w)
{
    /* A second latch before the first is read is ignored (8254, "Counter
     * Latch Command"). */
    if (!c->count_latched) {
        c->count_latched = true;
        c->latch = encode(c, value_at(c, w));
    }
}

static void latch_status(PitCounter *c, uint64_t w)
{
    if (!c->status_latched) {
        c->status_latched = true;
        c->status = (uint8_t)((out_at(c, w) ? PIT_STATUS_OUT : 0) |
                              (w < c->nc_until ? PIT_STATUS_NULL_COUNT : 0) | c->cw);
    }
}

static void write_control(Pit *p, uint8_t v, uint64_t w)
{
    unsigned sc = v >> PIT_CW_SC_SHIFT;

    if (sc == 3) {
        /* Read-back (8254, "Read-Back Command"). */
        for (unsigned i = 0; i < PIT_NUM_COUNTERS; i++) {
            if (v & PIT_RB_CNT(i)) {
                if (!(v & PIT_RB_NO_COUNT)) {
                    latch_count(&p->c[i], w);
                }
                if (!(v & PIT_RB_NO_STATUS)) {
                    latch_status(&p->c[i], w);
                }
            }
        }
        return;
    }
    if ((v & 0x30u) == PIT_CW_RW_LATCH) {
        latch_count(&p->c[sc], w);
        return;
    }
    set_mode(&p->c[sc], v, w);
}

static void write_counter(Pit *p, PitCounter *c, uint8_t v, uint64_t w)
{
    switch (c->rw) {
    case 1:
        load_count(p, c, v, w);
        break;
    case 2:
        load_count(p, c, (uint16_t)(v << 8), w);
        break;
    default:
        if (!c->write_msb) {
            c->write_lsb = v;
            c->write_msb = true;
            if (c->mode == 0) {
                /* Mode 0: the first byte stops the count, OUT low at once. */
                c->pre_value = value_at(c, w);
                c->pre_out = false;
                c->load = NEVER;
                c->counting = false;
                c->nc_until = NEVER;
            }
        } else {
            c->write_msb = false;
            load_count(p, c, (uint16_t)(c->write_lsb | v << 8), w);
        }
        break;
    }
}

static uint8_t read_counter(PitCounter *c, uint64_t w, bool effects)
{
    if (c->status_latched) {
        if (effects) {
            c->status_latched = false;
        }
        return c->status;
    }
    uint16_t v = c->count_latched ? c->latch : encode(c, value_at(c, w));
    bool msb;

    switch (c->rw) {
    case 1:
        msb = false;
        break;
    case 2:
        msb = true;
        break;
    default:
        msb = c->read_msb;
        break;
    }
    if (effects) {
        if (c->rw == 3) {
            c->read_msb = !c->read_msb;
        }
        if (c->rw != 3 || msb) {
            c->count_latched = false;  /* the latch is read out */
        }
    }
    return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

static MemResult pit_read(void *opaque, uint64_t offset, uint64_t *value,
                          G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    Pit *p = opaque;

    if (offset == 3) {
        *value = 0xff;  /* the control word register cannot be read */
        return MEM_OK;
    }
    if (attrs.debug) {
        *value = read_counter(&p->c[offset], now_ticks(p), false);
        return MEM_OK;
    }
    uint64_t w = begin(p);

    *value = read_counter(&p->c[offset], w, true);
    end(p, w);
    return MEM_OK;
}

static MemResult pit_write(void *opaque, uint64_t offset, uint64_t value,
                           G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    Pit *p = opaque;
    uint64_t w = begin(p);

    if (offset == 3) {
        write_control(p, (uint8_t)value, w);
    } else {
        write_counter(p, &p->c[offset], (uint8_t)value, w);
    }
    end(p, w);
    return MEM_OK;
}

/* Port 0x61 (ICH NMI_SC; PC/AT port B). */
static MemResult p61_read(void *opaque, G_GNUC_UNUSED uint64_t offset, uint64_t *value,
                          G_GNUC_UNUSED unsigned size, G_GNUC_UNUSED MemAttrs attrs)
{
    Pit *p = opaque;
    uint64_t w = now_ticks(p);
    uint8_t v = p->p61 & PIT_P61_WRITABLE;

    if ((w / PIT_REFRESH_CLOCKS) & 1u) {
        v |= PIT_P61_REFRESH;
    }
    if (out_at(&p->c[2], w)) {
        v |= PIT_P61_OUT2;
    }
    *value = v;
    return MEM_OK;
}

static MemResult p61_write(void *opaque, G_GNUC_UNUSED uint64_t offset, uint64_t value,
                           G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    Pit *p = opaque;
    uint8_t v = (uint8_t)value & PIT_P61_WRITABLE;

    p->p61 = v;
    if ((v & (PIT_P61_GATE2 | PIT_P61_SPEAKER)) == (PIT_P61_GATE2 | PIT_P61_SPEAKER) &&
        !attrs.debug && report_once(p, REP_SPEAKER)) {
        mem_report("pit: the speaker is enabled (port 0x61 = 0x%02x): no sound is "
                   "produced (reported once)", v);
    }
    pit_set_gate(p, 2, (v & PIT_P61_GATE2) != 0);
    return MEM_OK;
}

static const MemRegionOps pit_ops = {
    .read = pit_read,
    .write = pit_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

static const MemRegionOps p61_ops = {
    .read = p61_read,
    .write = p61_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 1 },
    .impl = { .min_access_size = 1, .max_access_size = 1 },
};

/* ------------------------------------------------------------------ */
/* Lifecycle and the machine's side. */

/* Power-up state (pit8254.h): as after control word 0x36, CE 0. */
static void reset_state(Pit *p)
{
    p->p61 = 0;
    for (unsigned i = 0; i < PIT_NUM_COUNTERS; i++) {
        PitCounter *c = &p->c[i];

        *c = (PitCounter){ .index = i, .load = NEVER, .gate = i != 2 };
        set_mode(c, PIT_CW_RW_LSB_MSB | 3u << PIT_CW_MODE_SHIFT, 0);
        c->pre_value = 0;
    }
}

Pit *pit_new(const PitHost *host, void *opaque, GError **err)
{
    Pit *p = g_new0(Pit, 1);

    p->host = host;
    p->opaque = opaque;
    reset_state(p);
    p->irq_level = true;
    p->mr = mr_new_mmio("pit", PIT_REGION_SIZE, &pit_ops, p, err);
    if (!p->mr) {
        goto fail;
    }
    p->mr61 = mr_new_mmio("pit.port61", 1, &p61_ops, p, err);
    if (!p->mr61) {
        goto fail;
    }
    return p;

fail:
    pit_free(p);
    return NULL;
}

void pit_free(Pit *p)
{
    if (!p) {
        return;
    }
    if (p->mr) {
        mr_unref(p->mr);
    }
    if (p->mr61) {
        mr_unref(p->mr61);
    }
    g_free(p);
}

MemRegion *pit_region(Pit *p)
{
    return p->mr;
}

MemRegion *pit_port61_region(Pit *p)
{
    return p->mr61;
}

void pit_reset(Pit *p)
{
    uint64_t w = now_ticks(p);

    reset_state(p);
    p->irq_tick = w;
    if (!p->irq_level) {
        set_irq0(p, true);
    }
    rearm(p, w);
}

void pit_setup_pc_bios(Pit *p)
{
    uint64_t w = begin(p);

    write_control(p, 0x36, w);            /* counter 0: mode 3, LSB then MSB */
    write_counter(p, &p->c[0], 0, w);
    write_counter(p, &p->c[0], 0, w);     /* count 65536: 18.2 Hz */
    write_control(p, 0x54, w);            /* counter 1: mode 2, LSB only */
    write_counter(p, &p->c[1], PIT_REFRESH_CLOCKS, w);
    end(p, w);
}

void pit_timer_fire(Pit *p)
{
    uint64_t w = begin(p);

    /* The request is used up once its time has come; rearm() renews it.
     * An early call leaves it in place. */
    if (p->timer_armed && w >= p->timer_tick) {
        p->timer_armed = false;
    }
    end(p, w);
}

bool pit_timer_deadline(const Pit *p, uint64_t *deadline_ns)
{
    if (p->timer_armed && deadline_ns) {
        *deadline_ns = p->timer_deadline;
    }
    return p->timer_armed;
}

void pit_set_gate(Pit *p, unsigned counter, bool level)
{
    if (counter >= PIT_NUM_COUNTERS) {
        return;
    }
    uint64_t w = begin(p);

    set_gate(p, &p->c[counter], level, w);
    end(p, w);
}

bool pit_get_out(Pit *p, unsigned counter)
{
    return counter < PIT_NUM_COUNTERS && out_at(&p->c[counter], now_ticks(p));
}

uint16_t pit_peek_count(Pit *p, unsigned counter)
{
    if (counter >= PIT_NUM_COUNTERS) {
        return 0;
    }
    const PitCounter *c = &p->c[counter];

    return encode(c, value_at(c, now_ticks(p)));
}
