/*
 * The local APIC and the APIC bus (apic.h).
 *
 * Section numbers are the Intel SDM Vol. 3A, chapter 10. The register
 * behaviour is described in the header; this file keeps the comments to
 * the why.
 */
#include "devices/apic.h"

#include <string.h>

#define NS_PER_S 1000000000ull

/* One mem_report() per APIC and kind. */
enum {
    REP_RESERVED_REG = 1u << 0,
    REP_RO_WRITE = 1u << 1,
    REP_MMIO_OFF = 1u << 2,
    REP_DFR_MODEL = 1u << 3,
    REP_BAD_IPI = 1u << 4,
    REP_BAD_LVT_DM = 1u << 5,
    REP_NO_EXTINT_ACK = 1u << 6,
    REP_BAD_MESSAGE = 1u << 7,
    REP_BAD_PIN = 1u << 8,
    REP_BAD_ACK = 1u << 9,
    REP_BAD_LVT_EVENT = 1u << 10,
};

/* ICR low half: what software can write (bit 12, delivery status, is
 * read-only; bits 13, 16-17 and 20-31 are reserved) (Figure 10-12). */
#define ICR_LO_WRITABLE 0x000ccfffu

/* Writable bits of each LVT (Figure 10-8): no delivery mode in the timer
 * and error entries; no TSC-deadline mode (bit 18); polarity and trigger
 * mode only in LINT0/1. Delivery status (12) and remote IRR (14) are
 * read-only. */
static const uint32_t lvt_writable[APIC_LVT_COUNT] = {
    [APIC_LVT_TIMER] = 0x000300ffu,
    [APIC_LVT_THERMAL] = 0x000107ffu,
    [APIC_LVT_PERF] = 0x000107ffu,
    [APIC_LVT_LINT0] = 0x0001a7ffu,
    [APIC_LVT_LINT1] = 0x0001a7ffu,
    [APIC_LVT_ERROR] = 0x000100ffu,
};

typedef struct EoiListener {
    ApicEoiFn fn;
    void *opaque;
} EoiListener;

struct ApicBus {
    GPtrArray *apics;   /* Apic *, creation order */
    GArray *eoi;        /* EoiListener */
};

struct Apic {
    ApicBus *bus;
    MemRegion *mr;
    char *name;
    unsigned cpu_index;
    uint32_t initial_id;
    bool bsp;
    bool x2apic_supported;
    uint64_t timer_hz;
    unsigned phys_bits;
    const ApicHost *host;
    void *host_opaque;

    uint64_t base_msr;
    uint32_t id;            /* 8-bit xAPIC ID or 32-bit x2APIC ID */
    uint8_t tpr;
    uint32_t ldr;
    uint32_t dfr;           /* bits 31:28 significant; 27:0 kept as 1s */
    uint32_t svr;
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t esr;           /* what reads return */
    uint32_t esr_pending;   /* errors since the last ESR write */
    bool error_armed;       /* the error interrupt may fire (rearmed by ESR writes) */
    uint32_t icr_lo, icr_hi;
    uint32_t lvt[APIC_LVT_COUNT];
    bool lint_level[2];
    bool extint_msg;        /* an ExtINT message waits for the CPU */
    bool intr_level;        /* what host->set_intr was last told */

    /* Timer (10.5.4). The count runs from timer_start_count at
     * timer_start_ns, one count per divisor ticks of timer_hz; expiries
     * happen when the counts elapsed since the start reach timer_next. */
    uint32_t timer_initial;
    uint32_t timer_dcr;
    bool timer_running;
    uint64_t timer_start_ns;
    uint32_t timer_start_count;
    uint64_t timer_next;
    bool timer_armed;
    uint64_t timer_deadline;

    uint64_t mmio_base_seen;   /* what host->mmio_changed was last told */
    bool mmio_enabled_seen;
    unsigned reported;
};

typedef enum RegStatus {
    REG_OK,
    REG_RESERVED,   /* no such register: ESR bit 7 (xAPIC) or #GP (x2APIC) */
    REG_GP,         /* x2APIC: wrong direction or reserved bits: #GP */
} RegStatus;

/* ------------------------------------------------------------------ */
/* Small helpers. */

static bool report_once(Apic *a, unsigned kind)
{
    if (a->reported & kind) {
        return false;
    }
    a->reported |= kind;
    return true;
}

static uint64_t now_ns(const Apic *a)
{
    return a->host && a->host->clock_ns ? a->host->clock_ns(a->host_opaque) : 0;
}

#define HOST_CALL(a, fn, ...)                                                   \
    do {                                                                        \
        if ((a)->host && (a)->host->fn) {                                       \
            (a)->host->fn((a)->host_opaque, (a)->cpu_index, ##__VA_ARGS__);     \
        }                                                                       \
    } while (0)

static int vec_highest(const uint32_t r[8])
{
    for (int i = 7; i >= 0; i--) {
        if (r[i]) {
            return i * 32 + 31 - __builtin_clz(r[i]);
        }
    }
    return -1;
}

static bool vec_test(const uint32_t r[8], unsigned v)
{
    return (r[(v >> 5) & 7] >> (v & 31)) & 1u;
}

static void vec_set(uint32_t r[8], unsigned v)
{
    r[(v >> 5) & 7] |= 1u << (v & 31);
}

static void vec_clear(uint32_t r[8], unsigned v)
{
    r[(v >> 5) & 7] &= ~(1u << (v & 31));
}

static unsigned lvt_dm(uint32_t lvt)
{
    return (lvt >> APIC_LVT_DM_SHIFT) & 7u;
}

/* The logical x2APIC ID (10.12.10.2). */
static uint32_t x2apic_ldr(uint32_t id)
{
    return ((id >> 4) << 16) | (1u << (id & 0xfu));
}

/* ------------------------------------------------------------------ */
/* State queries. */

bool apic_hw_enabled(const Apic *a)
{
    return (a->base_msr & APIC_BASE_EN) != 0;
}

bool apic_sw_enabled(const Apic *a)
{
    return (a->svr & APIC_SVR_ENABLE) != 0;
}

bool apic_x2apic_mode(const Apic *a)
{
    return apic_hw_enabled(a) && (a->base_msr & APIC_BASE_EXTD);
}

uint64_t apic_mmio_base(const Apic *a)
{
    uint64_t mask = a->phys_bits >= 64 ? UINT64_MAX : (1ull << a->phys_bits) - 1;

    return a->base_msr & mask & ~(uint64_t)(APIC_PAGE_SIZE - 1);
}

bool apic_mmio_enabled(const Apic *a)
{
    return apic_hw_enabled(a) && !(a->base_msr & APIC_BASE_EXTD);
}

uint64_t apic_get_base_msr(const Apic *a)
{
    return a->base_msr;
}

MemRegion *apic_region(Apic *a)
{
    return a->mr;
}

unsigned apic_cpu_index(const Apic *a)
{
    return a->cpu_index;
}

uint32_t apic_id(const Apic *a)
{
    return a->id;
}

/* PPR (10.8.3.1): TPR if its class is at least ISRV's, else ISRV's class. */
static uint8_t compute_ppr(const Apic *a)
{
    int isrv = vec_highest(a->isr);
    unsigned isr_class = isrv < 0 ? 0 : ((unsigned)isrv & 0xf0u);

    return (a->tpr & 0xf0u) >= isr_class ? a->tpr : (uint8_t)isr_class;
}

/* APR (10.6.2.4). */
static uint8_t compute_apr(const Apic *a)
{
    int isrv = vec_highest(a->isr), irrv = vec_highest(a->irr);
    unsigned tpr_c = a->tpr & 0xf0u;
    unsigned isr_c = isrv < 0 ? 0 : ((unsigned)isrv & 0xf0u);
    unsigned irr_c = irrv < 0 ? 0 : ((unsigned)irrv & 0xf0u);

    if (tpr_c >= irr_c && tpr_c > isr_c) {
        return a->tpr;
    }
    return (uint8_t)MAX(tpr_c, MAX(isr_c, irr_c));
}

int apic_pending_vector(const Apic *a)
{
    if (!apic_hw_enabled(a)) {
        return -1;
    }
    int irrv = vec_highest(a->irr);

    /* Only a priority class above PPR's reaches the CPU (10.8.3.1). */
    if (irrv < 0 || ((unsigned)irrv & 0xf0u) <= (compute_ppr(a) & 0xf0u)) {
        return -1;
    }
    return irrv;
}

bool apic_extint_pending(const Apic *a)
{
    if (!apic_hw_enabled(a)) {
        return a->lint_level[0];  /* LINT0 is INTR without an APIC (10.4.3) */
    }
    if (a->extint_msg) {
        return true;
    }
    for (unsigned pin = 0; pin < 2; pin++) {
        uint32_t lvt = a->lvt[APIC_LVT_LINT0 + pin];

        /* ExtINT is always level-sensitive (10.5.1). */
        if (a->lint_level[pin] && !(lvt & APIC_LVT_MASKED) && lvt_dm(lvt) == APIC_DM_EXTINT) {
            return true;
        }
    }
    return false;
}

static void update_intr(Apic *a)
{
    bool level = apic_extint_pending(a) || apic_pending_vector(a) >= 0;

    if (level != a->intr_level) {
        a->intr_level = level;
        HOST_CALL(a, set_intr, level);
    }
}

static void notify_mmio(Apic *a)
{
    uint64_t base = apic_mmio_base(a);
    bool enabled = apic_mmio_enabled(a);

    if (base == a->mmio_base_seen && enabled == a->mmio_enabled_seen) {
        return;
    }
    a->mmio_base_seen = base;
    a->mmio_enabled_seen = enabled;
    HOST_CALL(a, mmio_changed, base, enabled);
}

/* ------------------------------------------------------------------ */
/* Accepting interrupts. */

static bool accept_fixed(Apic *a, unsigned vector, bool level);

/* Record errors (10.5.3) and raise the error interrupt once per arming. */
static void apic_error(Apic *a, uint32_t bits)
{
    a->esr_pending |= bits;
    if (!a->error_armed || (a->lvt[APIC_LVT_ERROR] & APIC_LVT_MASKED)) {
        return;
    }
    a->error_armed = false;
    unsigned vector = a->lvt[APIC_LVT_ERROR] & APIC_LVT_VECTOR;

    if (vector < 16) {
        a->esr_pending |= APIC_ESR_RECV_ILLEGAL_VECTOR;  /* and no interrupt */
        return;
    }
    accept_fixed(a, vector, false);
}

/* A fixed interrupt into IRR; TMR records its trigger mode (10.8.4).
 * Vectors 0-15 are never accepted (10.5.2). */
static bool accept_fixed(Apic *a, unsigned vector, bool level)
{
    vector &= 0xffu;
    if (vector < 16) {
        apic_error(a, APIC_ESR_RECV_ILLEGAL_VECTOR);
        return false;
    }
    vec_set(a->irr, vector);
    if (level) {
        vec_set(a->tmr, vector);
    } else {
        vec_clear(a->tmr, vector);
    }
    update_intr(a);
    return true;
}

/* An interrupt from the timer, thermal, perf or error LVT (always edge). */
static void lvt_local(Apic *a, ApicLvt l)
{
    uint32_t lvt = a->lvt[l];

    if (lvt & APIC_LVT_MASKED) {
        return;
    }
    unsigned dm = (l == APIC_LVT_TIMER || l == APIC_LVT_ERROR) ? APIC_DM_FIXED : lvt_dm(lvt);

    switch (dm) {
    case APIC_DM_FIXED:
        accept_fixed(a, lvt & APIC_LVT_VECTOR, false);
        break;
    case APIC_DM_SMI:
        HOST_CALL(a, smi);
        break;
    case APIC_DM_NMI:
        HOST_CALL(a, nmi);
        break;
    default:
        /* INIT and ExtINT are not allowed here, the rest are reserved. */
        if (report_once(a, REP_BAD_LVT_DM)) {
            mem_report("%s: LVT %u with unsupported delivery mode %u: interrupt dropped "
                       "(reported once)", a->name, (unsigned)l, dm);
        }
        break;
    }
}

/* Re-evaluate a LINT pin (10.5.1): `rising` is an assertion edge. */
static void lint_eval(Apic *a, unsigned pin, bool rising)
{
    ApicLvt l = (ApicLvt)(APIC_LVT_LINT0 + pin);
    uint32_t lvt = a->lvt[l];

    if (!(lvt & APIC_LVT_MASKED)) {
        switch (lvt_dm(lvt)) {
        case APIC_DM_FIXED:
            if (lvt & APIC_LVT_LEVEL) {
                /* Level: accepted while asserted, once per EOI (remote IRR). */
                if (a->lint_level[pin] && !(lvt & APIC_LVT_REMOTE_IRR) &&
                    accept_fixed(a, lvt & APIC_LVT_VECTOR, true)) {
                    a->lvt[l] |= APIC_LVT_REMOTE_IRR;
                }
            } else if (rising) {
                accept_fixed(a, lvt & APIC_LVT_VECTOR, false);
            }
            break;
        /* NMI, SMI and INIT are always edge-sensitive. */
        case APIC_DM_NMI:
            if (rising) {
                HOST_CALL(a, nmi);
            }
            break;
        case APIC_DM_SMI:
            if (rising) {
                HOST_CALL(a, smi);
            }
            break;
        case APIC_DM_INIT:
            if (rising) {
                HOST_CALL(a, init);
            }
            break;
        case APIC_DM_EXTINT:
            break;  /* level: apic_extint_pending() follows the pin */
        default:
            if (rising && report_once(a, REP_BAD_LVT_DM)) {
                mem_report("%s: LINT%u with reserved delivery mode %u: interrupt dropped "
                           "(reported once)", a->name, pin, lvt_dm(lvt));
            }
            break;
        }
    }
    update_intr(a);
}

bool apic_deliver(Apic *a, const ApicMessage *m)
{
    if (!a || !m || !apic_hw_enabled(a)) {
        return false;
    }
    switch (m->delivery_mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        /* A software-disabled APIC answers INIT, NMI, SMI and SIPI only
         * (10.4.7.2). */
        if (!apic_sw_enabled(a)) {
            return false;
        }
        return accept_fixed(a, m->vector, m->level);
    case APIC_DM_SMI:
        HOST_CALL(a, smi);
        return true;
    case APIC_DM_NMI:
        HOST_CALL(a, nmi);
        return true;
    case APIC_DM_INIT:
        if (m->deassert) {
            return false;  /* INIT level de-assert: not supported since Pentium 4 */
        }
        HOST_CALL(a, init);
        return true;
    case APIC_DM_STARTUP:
        HOST_CALL(a, sipi, m->vector);
        return true;
    case APIC_DM_EXTINT:
        if (!apic_sw_enabled(a)) {
            return false;
        }
        a->extint_msg = true;
        update_intr(a);
        return true;
    default:
        if (report_once(a, REP_BAD_MESSAGE)) {
            mem_report("%s: message with reserved delivery mode %u dropped (reported once)",
                       a->name, (unsigned)m->delivery_mode);
        }
        return false;
    }
}

/* ------------------------------------------------------------------ */
/* The bus. */

ApicBus *apic_bus_new(void)
{
    ApicBus *bus = g_new0(ApicBus, 1);

    bus->apics = g_ptr_array_new();
    bus->eoi = g_array_new(FALSE, TRUE, sizeof(EoiListener));
    return bus;
}

void apic_bus_free(ApicBus *bus)
{
    if (!bus) {
        return;
    }
    /* APICs still on it stay usable, just alone. */
    for (guint i = 0; i < bus->apics->len; i++) {
        ((Apic *)g_ptr_array_index(bus->apics, i))->bus = NULL;
    }
    g_ptr_array_unref(bus->apics);
    g_array_unref(bus->eoi);
    g_free(bus);
}

guint apic_bus_count(const ApicBus *bus)
{
    return bus ? bus->apics->len : 0;
}

Apic *apic_bus_nth(const ApicBus *bus, guint i)
{
    return bus && i < bus->apics->len ? g_ptr_array_index(bus->apics, i) : NULL;
}

Apic *apic_bus_find_cpu(const ApicBus *bus, unsigned cpu_index)
{
    for (guint i = 0; i < apic_bus_count(bus); i++) {
        Apic *a = g_ptr_array_index(bus->apics, i);

        if (a->cpu_index == cpu_index) {
            return a;
        }
    }
    return NULL;
}

void apic_bus_add_eoi_listener(ApicBus *bus, ApicEoiFn fn, void *opaque)
{
    EoiListener l = { .fn = fn, .opaque = opaque };

    if (bus && fn) {
        g_array_append_val(bus->eoi, l);
    }
}

void apic_bus_remove_eoi_listener(ApicBus *bus, ApicEoiFn fn, void *opaque)
{
    for (guint i = 0; bus && i < bus->eoi->len; i++) {
        EoiListener *l = &g_array_index(bus->eoi, EoiListener, i);

        if (l->fn == fn && l->opaque == opaque) {
            g_array_remove_index(bus->eoi, i);
            return;
        }
    }
}

void apic_bus_eoi(ApicBus *bus, uint8_t vector)
{
    /* Indexed loop: a listener may deliver (and so re-enter) but the list
     * itself only changes when devices are created or freed. */
    for (guint i = 0; bus && i < bus->eoi->len; i++) {
        EoiListener l = g_array_index(bus->eoi, EoiListener, i);

        l.fn(l.opaque, vector);
    }
}

/* Does `a` belong to the message's destination (10.6.2, 10.12.10)? */
static bool match_dest(const Apic *a, const ApicMessage *m)
{
    uint32_t d = m->x2apic_dest ? m->dest : (m->dest & 0xffu);
    bool x2 = apic_x2apic_mode(a);

    if (m->x2apic_dest ? d == 0xffffffffu : d == 0xffu) {
        return true;  /* broadcast, physical or logical */
    }
    if (!m->logical) {
        return x2 ? a->id == d : (a->id & 0xffu) == d;
    }
    if (x2) {
        /* Cluster ID in 31:16, member bitmask in 15:0. */
        return (d >> 16) == (a->ldr >> 16) && (d & a->ldr & 0xffffu) != 0;
    }
    if (d > 0xffu) {
        return false;
    }
    uint32_t ldr = a->ldr >> 24;

    if ((a->dfr >> 28) == 0) {
        /* Cluster model: cluster address, then member bits. */
        return (d >> 4) == (ldr >> 4) && (d & ldr & 0xfu) != 0;
    }
    return (d & ldr) != 0;  /* flat model */
}

unsigned apic_bus_send(ApicBus *bus, const ApicMessage *m, Apic *source)
{
    Apic *chosen = NULL;
    unsigned accepted = 0;

    if (!bus || !m) {
        return 0;
    }
    for (guint i = 0; i < bus->apics->len; i++) {
        Apic *t = g_ptr_array_index(bus->apics, i);
        bool selected;

        if (!apic_hw_enabled(t)) {
            continue;  /* a globally disabled APIC is not on the bus */
        }
        switch (m->shorthand & 3u) {
        case APIC_SH_SELF: selected = t == source; break;
        case APIC_SH_ALL: selected = true; break;
        case APIC_SH_ALL_BUT_SELF: selected = t != source; break;
        default: selected = match_dest(t, m); break;
        }
        if (!selected) {
            continue;
        }
        if (m->delivery_mode == APIC_DM_LOWEST) {
            /* Lowest TPR wins, then the lowest APIC ID (deterministic). */
            if (apic_sw_enabled(t) &&
                (!chosen || t->tpr < chosen->tpr || (t->tpr == chosen->tpr && t->id < chosen->id))) {
                chosen = t;
            }
            continue;
        }
        accepted += apic_deliver(t, m) ? 1u : 0u;
    }
    if (chosen) {
        accepted += apic_deliver(chosen, m) ? 1u : 0u;
    }
    return accepted;
}

/* Send what the ICR holds (10.6.1, Table 10-3). */
static void send_ipi(Apic *a, uint32_t lo, uint32_t dest, bool x2)
{
    unsigned dm = (lo >> APIC_ICR_DM_SHIFT) & 7u;
    unsigned sh = (lo >> APIC_ICR_SH_SHIFT) & 3u;
    unsigned vector = lo & APIC_ICR_VECTOR;

    if (dm == APIC_DM_INIT && (lo & APIC_ICR_LEVEL) && !(lo & APIC_ICR_ASSERT)) {
        return;  /* INIT level de-assert: not supported on Pentium 4 and later */
    }
    bool bad = dm == 3 || dm == APIC_DM_EXTINT ||
               ((sh == APIC_SH_SELF || sh == APIC_SH_ALL) && dm != APIC_DM_FIXED);
    if (bad) {
        if (report_once(a, REP_BAD_IPI)) {
            mem_report("%s: IPI with delivery mode %u and shorthand %u is invalid (SDM Table "
                       "10-3): not sent (reported once)", a->name, dm, sh);
        }
        return;
    }
    if ((dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST) && vector < 16) {
        apic_error(a, APIC_ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    ApicMessage m = {
        .vector = (uint8_t)vector,
        .delivery_mode = (uint8_t)dm,
        .shorthand = (uint8_t)sh,
        .logical = (lo & APIC_ICR_LOGICAL) != 0,
        .level = false,  /* the xAPIC sends every IPI edge-triggered */
        .x2apic_dest = x2,
        .dest = dest,
    };

    if (a->bus) {
        apic_bus_send(a->bus, &m, a);
    } else if (sh != APIC_SH_ALL_BUT_SELF && (sh != APIC_SH_NONE || match_dest(a, &m))) {
        apic_deliver(a, &m);  /* alone: only ourselves to reach */
    }
}

/* ------------------------------------------------------------------ */
/* Timer (10.5.4). */

static unsigned timer_divisor(const Apic *a)
{
    unsigned code = (a->timer_dcr & 3u) | ((a->timer_dcr >> 1) & 4u);

    return code == 7 ? 1u : 2u << code;
}

/* Counts elapsed since the start at `now`. */
static uint64_t timer_counts(const Apic *a, uint64_t now)
{
    if (now <= a->timer_start_ns) {
        return 0;
    }
    unsigned __int128 n = (unsigned __int128)(now - a->timer_start_ns) * a->timer_hz;

    n /= (unsigned __int128)NS_PER_S * timer_divisor(a);
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

/* The first virtual time at which `counts` have elapsed. */
static uint64_t timer_time_of(const Apic *a, uint64_t counts)
{
    unsigned __int128 n = (unsigned __int128)counts * timer_divisor(a) * NS_PER_S;

    n = (n + a->timer_hz - 1) / a->timer_hz + a->timer_start_ns;
    return n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
}

static bool timer_periodic(const Apic *a)
{
    return (a->lvt[APIC_LVT_TIMER] & APIC_LVT_PERIODIC) && a->timer_initial;
}

static uint32_t timer_current(const Apic *a, uint64_t now)
{
    if (!a->timer_running) {
        return 0;
    }
    uint64_t c = timer_counts(a, now);

    if (c < a->timer_start_count) {
        return a->timer_start_count - (uint32_t)c;
    }
    if (!timer_periodic(a)) {
        return 0;
    }
    /* Reloaded from the initial count at every zero. */
    return a->timer_initial - (uint32_t)((c - a->timer_start_count) % a->timer_initial);
}

static void timer_disarm(Apic *a)
{
    if (a->timer_armed) {
        a->timer_armed = false;
        HOST_CALL(a, timer_cancel);
    }
}

static void timer_arm(Apic *a)
{
    if (!a->timer_running) {
        timer_disarm(a);
        return;
    }
    a->timer_deadline = timer_time_of(a, a->timer_next);
    a->timer_armed = true;
    HOST_CALL(a, timer_set, a->timer_deadline);
}

/* Deliver the expiry due by `now`, if any (missed periods coalesce). */
static void timer_catch_up(Apic *a, uint64_t now)
{
    if (!a->timer_running) {
        return;
    }
    uint64_t c = timer_counts(a, now);

    if (c < a->timer_next) {
        return;
    }
    if (timer_periodic(a)) {
        unsigned __int128 k = (c - a->timer_start_count) / a->timer_initial + 1;
        unsigned __int128 next = a->timer_start_count + k * a->timer_initial;

        a->timer_next = next > UINT64_MAX ? UINT64_MAX : (uint64_t)next;
    } else {
        a->timer_running = false;  /* one-shot: stays at 0 */
    }
    lvt_local(a, APIC_LVT_TIMER);
}

/* Go on counting from the current count, from now (mode or divisor
 * change). Call after timer_catch_up(a, now). */
static void timer_rebase(Apic *a, uint64_t now)
{
    if (!a->timer_running) {
        return;
    }
    uint32_t cur = timer_current(a, now);

    a->timer_start_ns = now;
    a->timer_start_count = cur;
    a->timer_next = cur;
}

static void timer_write_initial(Apic *a, uint32_t value)
{
    uint64_t now = now_ns(a);

    timer_catch_up(a, now);
    a->timer_initial = value;
    if (!value) {
        a->timer_running = false;  /* a zero initial count stops the timer */
        timer_disarm(a);
        return;
    }
    a->timer_running = true;
    a->timer_start_ns = now;
    a->timer_start_count = value;
    a->timer_next = value;
    timer_arm(a);
}

static void timer_write_divide(Apic *a, uint32_t value)
{
    uint64_t now = now_ns(a);

    if (value == a->timer_dcr) {
        return;
    }
    timer_catch_up(a, now);
    timer_rebase(a, now);
    a->timer_dcr = value;
    timer_arm(a);
}

void apic_timer_fire(Apic *a)
{
    if (!a) {
        return;
    }
    a->timer_armed = false;  /* the host's request is used up */
    timer_catch_up(a, now_ns(a));
    if (a->timer_running) {
        timer_arm(a);
    }
}

bool apic_timer_deadline(const Apic *a, uint64_t *deadline_ns)
{
    if (a->timer_armed && deadline_ns) {
        *deadline_ns = a->timer_deadline;
    }
    return a->timer_armed;
}

/* ------------------------------------------------------------------ */
/* Register writes with effects. */

static void apic_eoi(Apic *a)
{
    int v = vec_highest(a->isr);

    if (v < 0) {
        return;
    }
    vec_clear(a->isr, (unsigned)v);
    update_intr(a);
    if (!vec_test(a->tmr, (unsigned)v)) {
        return;
    }
    /* Level-triggered: clear a LINT's remote IRR, tell the I/O APICs. */
    for (unsigned pin = 0; pin < 2; pin++) {
        uint32_t *lvt = &a->lvt[APIC_LVT_LINT0 + pin];

        if ((*lvt & APIC_LVT_REMOTE_IRR) && (*lvt & APIC_LVT_VECTOR) == (unsigned)v) {
            *lvt &= ~APIC_LVT_REMOTE_IRR;
            lint_eval(a, pin, false);
        }
    }
    apic_bus_eoi(a->bus, (uint8_t)v);
}

static void write_svr(Apic *a, uint32_t value)
{
    a->svr = value & 0x1ffu;
    if (!apic_sw_enabled(a)) {
        /* 10.4.7.2: every LVT masked, and kept masked. */
        for (unsigned i = 0; i < APIC_LVT_COUNT; i++) {
            a->lvt[i] |= APIC_LVT_MASKED;
        }
    }
    update_intr(a);
}

static void write_lvt(Apic *a, ApicLvt l, uint32_t value)
{
    uint32_t old = a->lvt[l];
    uint32_t nv = value & lvt_writable[l];

    if (!apic_sw_enabled(a)) {
        nv |= APIC_LVT_MASKED;
    }
    if (l == APIC_LVT_LINT0 || l == APIC_LVT_LINT1) {
        if (nv & APIC_LVT_LEVEL) {
            nv |= old & APIC_LVT_REMOTE_IRR;  /* only an EOI clears it */
        }
        a->lvt[l] = nv;
        lint_eval(a, l - APIC_LVT_LINT0, false);
        return;
    }
    if (l == APIC_LVT_TIMER && ((old ^ nv) & APIC_LVT_PERIODIC)) {
        /* A mode change does not restart the count (10.5.4). */
        uint64_t now = now_ns(a);

        timer_catch_up(a, now);
        timer_rebase(a, now);
        a->lvt[l] = nv;
        if (a->timer_running) {
            timer_arm(a);
        }
        return;
    }
    a->lvt[l] = nv;
}

static RegStatus write_read_only(Apic *a, unsigned idx, bool x2)
{
    if (x2) {
        return REG_GP;
    }
    if (report_once(a, REP_RO_WRITE)) {
        mem_report("%s: write to read-only register 0x%03x ignored (reported once)", a->name,
                   idx << 4);
    }
    return REG_OK;
}

/* ------------------------------------------------------------------ */
/* Register file, shared by MMIO (x2 = false) and the x2APIC MSRs. */

static RegStatus reg_read(Apic *a, unsigned idx, uint64_t *out, bool x2)
{
    uint64_t v;

    switch (idx) {
    case 0x02: v = x2 ? a->id : (uint64_t)(a->id & 0xffu) << 24; break;
    case 0x03: v = APIC_VERSION_VALUE; break;
    case 0x08: v = a->tpr; break;
    case 0x09:
        if (x2) {
            return REG_RESERVED;
        }
        v = compute_apr(a);
        break;
    case 0x0a: v = compute_ppr(a); break;
    case 0x0b:
        if (x2) {
            return REG_GP;  /* write-only */
        }
        v = 0;
        break;
    case 0x0c:
        if (x2) {
            return REG_RESERVED;
        }
        v = 0;  /* remote read: not supported on Pentium 4 and later */
        break;
    case 0x0d: v = a->ldr; break;
    case 0x0e:
        if (x2) {
            return REG_RESERVED;  /* no DFR in x2APIC mode */
        }
        v = a->dfr | 0x0fffffffu;
        break;
    case 0x0f: v = a->svr; break;
    case 0x10 ... 0x17: v = a->isr[idx - 0x10]; break;
    case 0x18 ... 0x1f: v = a->tmr[idx - 0x18]; break;
    case 0x20 ... 0x27: v = a->irr[idx - 0x20]; break;
    case 0x28: v = a->esr; break;
    case 0x30: v = x2 ? ((uint64_t)a->icr_hi << 32 | a->icr_lo) : a->icr_lo; break;
    case 0x31:
        if (x2) {
            return REG_RESERVED;
        }
        v = a->icr_hi;
        break;
    case 0x32 ... 0x37: v = a->lvt[idx - 0x32]; break;
    case 0x38: v = a->timer_initial; break;
    case 0x39: v = timer_current(a, now_ns(a)); break;
    case 0x3e: v = a->timer_dcr; break;
    case 0x3f: return x2 ? REG_GP : REG_RESERVED;  /* SELF IPI: write-only */
    default: return REG_RESERVED;
    }
    *out = v;
    return REG_OK;
}

static RegStatus reg_write(Apic *a, unsigned idx, uint64_t value, bool x2)
{
    uint32_t v = (uint32_t)value;

    /* Only the x2APIC ICR is 64 bits wide. */
    if (x2 && idx != 0x30 && (value >> 32)) {
        return REG_GP;
    }
    switch (idx) {
    case 0x02:
        if (x2) {
            return REG_GP;  /* the x2APIC ID is read-only */
        }
        a->id = v >> 24;  /* writable xAPIC ID: model specific (10.4.6) */
        return REG_OK;
    case 0x03:
    case 0x0a:
    case 0x10 ... 0x27:
    case 0x39:
        return write_read_only(a, idx, x2);
    case 0x08:
        if (x2 && (v & ~0xffu)) {
            return REG_GP;
        }
        a->tpr = (uint8_t)v;
        update_intr(a);
        return REG_OK;
    case 0x09:
    case 0x0c:
        return x2 ? REG_RESERVED : write_read_only(a, idx, x2);
    case 0x0b:
        if (x2 && v) {
            return REG_GP;  /* 10.12.1.2: a non-zero EOI write is #GP */
        }
        apic_eoi(a);
        return REG_OK;
    case 0x0d:
        if (x2) {
            return REG_GP;  /* derived from the x2APIC ID */
        }
        a->ldr = v & 0xff000000u;
        return REG_OK;
    case 0x0e:
        if (x2) {
            return REG_RESERVED;
        }
        a->dfr = v | 0x0fffffffu;
        if ((v >> 28) != 0xfu && (v >> 28) != 0 && report_once(a, REP_DFR_MODEL)) {
            mem_report("%s: DFR model 0x%x is neither flat (0xf) nor cluster (0x0): treated "
                       "as flat (reported once)", a->name, v >> 28);
        }
        return REG_OK;
    case 0x0f:
        if (x2 && (v & ~0x1ffu)) {
            return REG_GP;  /* focus checking, EOI suppression: not offered */
        }
        write_svr(a, v);
        return REG_OK;
    case 0x28:
        if (x2 && v) {
            return REG_GP;
        }
        /* Write-to-update: latch what happened since the last write. */
        a->esr = a->esr_pending;
        a->esr_pending = 0;
        a->error_armed = true;
        return REG_OK;
    case 0x30:
        if (x2) {
            if ((uint32_t)value & ~ICR_LO_WRITABLE) {
                return REG_GP;
            }
            a->icr_lo = v;
            a->icr_hi = (uint32_t)(value >> 32);
            send_ipi(a, a->icr_lo, a->icr_hi, true);
        } else {
            a->icr_lo = v & ICR_LO_WRITABLE;
            send_ipi(a, a->icr_lo, a->icr_hi >> 24, false);
        }
        return REG_OK;
    case 0x31:
        if (x2) {
            return REG_RESERVED;
        }
        a->icr_hi = v & 0xff000000u;
        return REG_OK;
    case 0x32 ... 0x37: {
        ApicLvt l = (ApicLvt)(idx - 0x32);
        /* Delivery status and remote IRR are read-only, not reserved:
         * writing back what was read is fine. */
        uint32_t ro = APIC_LVT_PENDING |
                      (l == APIC_LVT_LINT0 || l == APIC_LVT_LINT1 ? APIC_LVT_REMOTE_IRR : 0);

        if (x2 && (v & ~(lvt_writable[l] | ro))) {
            return REG_GP;
        }
        write_lvt(a, l, v);
        return REG_OK;
    }
    case 0x38:
        timer_write_initial(a, v);
        return REG_OK;
    case 0x3e:
        if (x2 && (v & ~0xbu)) {
            return REG_GP;
        }
        timer_write_divide(a, v & 0xbu);
        return REG_OK;
    case 0x3f:
        if (!x2) {
            return REG_RESERVED;
        }
        if (v & ~0xffu) {
            return REG_GP;
        }
        /* Same as an ICR self IPI, fixed, edge (10.12.11). */
        send_ipi(a, v | ((uint32_t)APIC_SH_SELF << APIC_ICR_SH_SHIFT), 0, true);
        return REG_OK;
    default:
        return REG_RESERVED;
    }
}

/* ------------------------------------------------------------------ */
/* MMIO (xAPIC mode). */

static void bad_register(Apic *a, uint64_t offset, bool write, MemAttrs attrs)
{
    if (!attrs.debug) {
        apic_error(a, APIC_ESR_ILLEGAL_REGISTER);
    }
    if (report_once(a, REP_RESERVED_REG)) {
        mem_report("%s: %s of reserved register offset 0x%03" G_GINT64_MODIFIER "x: %s, ESR "
                   "illegal register address set (reported once)", a->name,
                   write ? "write" : "read", offset, write ? "ignored" : "reads 0");
    }
}

static bool mmio_off(Apic *a)
{
    if (apic_mmio_enabled(a)) {
        return false;
    }
    if (report_once(a, REP_MMIO_OFF)) {
        mem_report("%s: register page accessed while its MMIO interface is off (%s): the "
                   "machine should have unmapped it (reported once)", a->name,
                   apic_hw_enabled(a) ? "x2APIC mode" : "globally disabled");
    }
    return true;
}

static MemResult apic_mmio_read(void *opaque, uint64_t offset, uint64_t *value,
                                G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    Apic *a = opaque;
    uint64_t v = 0;

    *value = 0;
    if (mmio_off(a)) {
        return MEM_DECODE_ERROR;
    }
    if ((offset & 0xfu) || reg_read(a, (unsigned)(offset >> 4), &v, false) != REG_OK) {
        bad_register(a, offset, false, attrs);
        return MEM_OK;
    }
    *value = (uint32_t)v;
    return MEM_OK;
}

static MemResult apic_mmio_write(void *opaque, uint64_t offset, uint64_t value,
                                 G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    Apic *a = opaque;

    if (mmio_off(a)) {
        return MEM_DECODE_ERROR;
    }
    if ((offset & 0xfu) ||
        reg_write(a, (unsigned)(offset >> 4), (uint32_t)value, false) != REG_OK) {
        bad_register(a, offset, true, attrs);
    }
    return MEM_OK;
}

/* 10.4.1: 32-bit registers on 16-byte boundaries, accessed with aligned
 * 32-bit loads and stores. */
static const MemRegionOps apic_ops = {
    .read = apic_mmio_read,
    .write = apic_mmio_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
    .impl = { .min_access_size = 4, .max_access_size = 4, .unaligned = false },
};

uint32_t apic_peek(Apic *a, uint32_t offset)
{
    uint64_t v = 0;

    if ((offset & 0xfu) || offset >= APIC_PAGE_SIZE ||
        reg_read(a, offset >> 4, &v, apic_x2apic_mode(a)) != REG_OK) {
        return 0;
    }
    return (uint32_t)v;
}

/* ------------------------------------------------------------------ */
/* MSRs. */

bool apic_is_apic_msr(uint32_t msr)
{
    return msr == APIC_MSR_APIC_BASE ||
           (msr >= APIC_MSR_X2APIC_FIRST && msr <= APIC_MSR_X2APIC_LAST);
}

bool apic_msr_read(Apic *a, uint32_t msr, uint64_t *value)
{
    uint64_t v = 0;

    if (msr == APIC_MSR_APIC_BASE) {
        *value = a->base_msr;
        return true;
    }
    if (msr < APIC_MSR_X2APIC_FIRST || msr > APIC_MSR_X2APIC_LAST || !apic_x2apic_mode(a) ||
        reg_read(a, msr - APIC_MSR_X2APIC_FIRST, &v, true) != REG_OK) {
        return false;
    }
    *value = v;
    return true;
}

bool apic_msr_write(Apic *a, uint32_t msr, uint64_t value)
{
    if (msr == APIC_MSR_APIC_BASE) {
        return apic_set_base_msr(a, value);
    }
    if (msr < APIC_MSR_X2APIC_FIRST || msr > APIC_MSR_X2APIC_LAST || !apic_x2apic_mode(a)) {
        return false;
    }
    return reg_write(a, msr - APIC_MSR_X2APIC_FIRST, value, true) == REG_OK;
}

/* ------------------------------------------------------------------ */
/* Reset, INIT, IA32_APIC_BASE. */

/* 10.4.7.1 (and 10.12.5.1 for x2APIC mode). */
static void reset_registers(Apic *a, bool keep_id)
{
    a->timer_running = false;
    timer_disarm(a);
    a->timer_initial = 0;
    a->timer_dcr = 0;
    memset(a->irr, 0, sizeof(a->irr));
    memset(a->isr, 0, sizeof(a->isr));
    memset(a->tmr, 0, sizeof(a->tmr));
    a->tpr = 0;
    a->ldr = 0;
    a->dfr = 0xffffffffu;
    a->svr = 0xffu;
    a->esr = 0;
    a->esr_pending = 0;
    a->error_armed = true;
    a->icr_lo = 0;
    a->icr_hi = 0;
    for (unsigned i = 0; i < APIC_LVT_COUNT; i++) {
        a->lvt[i] = APIC_LVT_MASKED;
    }
    a->extint_msg = false;
    if (!keep_id) {
        a->id = a->initial_id;
    }
    if (apic_x2apic_mode(a)) {
        a->ldr = x2apic_ldr(a->id);
    }
    update_intr(a);
}

void apic_reset(Apic *a)
{
    a->base_msr = APIC_DEFAULT_BASE | APIC_BASE_EN | (a->bsp ? APIC_BASE_BSP : 0);
    reset_registers(a, false);
    notify_mmio(a);
}

void apic_init_reset(Apic *a)
{
    reset_registers(a, true);
}

void apic_setup_virtual_wire(Apic *a)
{
    write_svr(a, APIC_SVR_ENABLE | 0xffu);
    write_lvt(a, APIC_LVT_LINT0, (uint32_t)APIC_DM_EXTINT << APIC_LVT_DM_SHIFT);
    write_lvt(a, APIC_LVT_LINT1, (uint32_t)APIC_DM_NMI << APIC_LVT_DM_SHIFT);
}

bool apic_set_base_msr(Apic *a, uint64_t value)
{
    uint64_t reserved = 0xffull | (1ull << 9);

    if (a->phys_bits < 64) {
        reserved |= ~((1ull << a->phys_bits) - 1);
    }
    if (!a->x2apic_supported) {
        reserved |= APIC_BASE_EXTD;
    }
    if (value & reserved) {
        return false;
    }
    bool en = (value & APIC_BASE_EN) != 0;
    bool extd = (value & APIC_BASE_EXTD) != 0;
    bool was_en = apic_hw_enabled(a);
    bool was_x2 = apic_x2apic_mode(a);

    /* 10.12.5: EXTD without EN is invalid; x2APIC -> xAPIC and
     * disabled -> x2APIC are illegal transitions. */
    if ((extd && !en) || (was_x2 && en && !extd) || (!was_en && en && extd)) {
        return false;
    }
    a->base_msr = (value & ~APIC_BASE_BSP) | (a->base_msr & APIC_BASE_BSP);
    if (was_en && !en) {
        reset_registers(a, false);  /* 10.4.3: back to the power-up state */
    } else if (!was_x2 && extd) {
        /* Into x2APIC mode: the x2APIC ID is the hardware's; the logical
         * ID is derived from it (10.12.5.1). */
        a->id = a->initial_id;
        a->ldr = x2apic_ldr(a->id);
    }
    update_intr(a);  /* LINT0 passes through while disabled */
    notify_mmio(a);
    return true;
}

/* ------------------------------------------------------------------ */
/* The CPU side and inputs. */

uint8_t apic_get_tpr(const Apic *a)
{
    return a->tpr;
}

void apic_set_tpr(Apic *a, uint8_t tpr)
{
    a->tpr = tpr;
    update_intr(a);
}

void apic_ack(Apic *a, int vector)
{
    if (vector < 16 || vector > 255 || !vec_test(a->irr, (unsigned)vector)) {
        if (report_once(a, REP_BAD_ACK)) {
            mem_report("%s: acknowledge of vector %d, which is not requested: ignored "
                       "(reported once)", a->name, vector);
        }
        return;
    }
    vec_clear(a->irr, (unsigned)vector);
    vec_set(a->isr, (unsigned)vector);
    update_intr(a);
}

int apic_take_interrupt(Apic *a)
{
    if (apic_extint_pending(a)) {
        int v = -1;

        a->extint_msg = false;
        if (a->host && a->host->extint_ack) {
            v = a->host->extint_ack(a->host_opaque, a->cpu_index);
        } else if (report_once(a, REP_NO_EXTINT_ACK)) {
            mem_report("%s: ExtINT with no 8259 to acknowledge it: ignored (reported once)",
                       a->name);
        }
        update_intr(a);
        if (v >= 0) {
            return v & 0xff;
        }
    }
    int v = apic_pending_vector(a);

    if (v >= 0) {
        apic_ack(a, v);
    }
    return v;
}

void apic_set_lint(Apic *a, unsigned pin, bool level)
{
    if (pin > 1) {
        if (report_once(a, REP_BAD_PIN)) {
            mem_report("%s: LINT%u does not exist (reported once)", a->name, pin);
        }
        return;
    }
    bool rising = level && !a->lint_level[pin];

    a->lint_level[pin] = level;
    if (!apic_hw_enabled(a)) {
        /* No APIC: LINT0 is INTR, LINT1 is NMI (10.4.3). */
        if (pin == 1 && rising) {
            HOST_CALL(a, nmi);
        }
        update_intr(a);
        return;
    }
    lint_eval(a, pin, rising);
}

void apic_lvt_event(Apic *a, ApicLvt lvt)
{
    if (lvt != APIC_LVT_THERMAL && lvt != APIC_LVT_PERF) {
        if (report_once(a, REP_BAD_LVT_EVENT)) {
            mem_report("%s: apic_lvt_event() is for the thermal and perf LVTs only (got %u)",
                       a->name, (unsigned)lvt);
        }
        return;
    }
    if (apic_hw_enabled(a)) {
        lvt_local(a, lvt);
    }
}

/* ------------------------------------------------------------------ */
/* Lifecycle. */

Apic *apic_new(ApicBus *bus, const ApicConfig *cfg, GError **err)
{
    if (!bus || !cfg) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT, "apic_new: no %s",
                    bus ? "config" : "bus");
        return NULL;
    }
    if (cfg->apic_id >= 0xffu) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "apic_new: APIC ID %u out of range (0..254)", cfg->apic_id);
        return NULL;
    }
    unsigned phys_bits = cfg->phys_bits ? cfg->phys_bits : APIC_DEFAULT_PHYS_BITS;

    if (phys_bits < 32 || phys_bits > 52) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "apic_new: phys_bits %u out of range (32..52)", phys_bits);
        return NULL;
    }
    for (guint i = 0; i < bus->apics->len; i++) {
        Apic *o = g_ptr_array_index(bus->apics, i);

        if (o->cpu_index == cfg->cpu_index || o->initial_id == cfg->apic_id) {
            g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                        "apic_new: CPU %u / APIC ID %u already on the bus", cfg->cpu_index,
                        cfg->apic_id);
            return NULL;
        }
    }
    Apic *a = g_new0(Apic, 1);

    a->cpu_index = cfg->cpu_index;
    a->initial_id = cfg->apic_id;
    a->bsp = cfg->bsp;
    a->x2apic_supported = cfg->x2apic;
    a->timer_hz = cfg->timer_hz ? cfg->timer_hz : APIC_DEFAULT_TIMER_HZ;
    a->phys_bits = phys_bits;
    a->host = cfg->host;
    a->host_opaque = cfg->host_opaque;
    a->name = g_strdup_printf("apic.cpu%u", cfg->cpu_index);
    a->mr = mr_new_mmio(a->name, APIC_PAGE_SIZE, &apic_ops, a, err);
    if (!a->mr) {
        g_free(a->name);
        g_free(a);
        return NULL;
    }
    /* The page starts where apic_reset() puts it: no mmio_changed call. */
    a->mmio_base_seen = APIC_DEFAULT_BASE;
    a->mmio_enabled_seen = true;
    apic_reset(a);
    a->bus = bus;
    g_ptr_array_add(bus->apics, a);
    return a;
}

void apic_free(Apic *a)
{
    if (!a) {
        return;
    }
    if (a->bus) {
        g_ptr_array_remove(a->bus->apics, a);
    }
    mr_unref(a->mr);
    g_free(a->name);
    g_free(a);
}
