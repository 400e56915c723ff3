/* The debug-exit device (debug_exit.h). */
#include "devices/debug_exit.h"

struct DebugExit {
    MemRegion *mr;
    DebugExitFn fn;
    void *opaque;
    bool requested;
    int64_t status;
};

static MemResult debug_exit_read(G_GNUC_UNUSED void *opaque, G_GNUC_UNUSED uint64_t offset,
                                 uint64_t *value, G_GNUC_UNUSED unsigned size,
                                 G_GNUC_UNUSED MemAttrs attrs)
{
    *value = 0;
    return MEM_OK;
}

static MemResult debug_exit_write(void *opaque, G_GNUC_UNUSED uint64_t offset, uint64_t value,
                                  G_GNUC_UNUSED unsigned size, MemAttrs attrs)
{
    DebugExit *d = opaque;
    int64_t status = (int64_t)((value << 1) | 1u);

    if (attrs.debug) {
        return MEM_OK;  /* a debugger poking the port does not end the run */
    }
    if (!d->requested) {
        d->requested = true;
        d->status = status;
    }
    if (d->fn) {
        d->fn(d->opaque, value, status, attrs);
    }
    return MEM_OK;
}

static const MemRegionOps debug_exit_ops = {
    .read = debug_exit_read,
    .write = debug_exit_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 4, .unaligned = true },
};

DebugExit *debug_exit_new(const char *name, unsigned size, DebugExitFn fn, void *opaque,
                          GError **err)
{
    if (size != 1 && size != 2 && size != 4) {
        g_set_error(err, MEM_ERROR, MEM_ERROR_INVALID_ARGUMENT,
                    "debug-exit: size %u, must be 1, 2 or 4 bytes", size);
        return NULL;
    }
    DebugExit *d = g_new0(DebugExit, 1);

    d->fn = fn;
    d->opaque = opaque;
    d->mr = mr_new_mmio(name ? name : "debug-exit", size, &debug_exit_ops, d, err);
    if (!d->mr) {
        g_free(d);
        return NULL;
    }
    return d;
}

void debug_exit_free(DebugExit *d)
{
    if (d) {
        mr_unref(d->mr);
        g_free(d);
    }
}

MemRegion *debug_exit_region(DebugExit *d)
{
    return d->mr;
}

bool debug_exit_requested(const DebugExit *d, int64_t *status)
{
    if (d->requested && status) {
        *status = d->status;
    }
    return d->requested;
}

void debug_exit_clear(DebugExit *d)
{
    d->requested = false;
    d->status = 0;
}
