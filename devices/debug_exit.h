/*
 * The debug-exit device: QEMU's "isa-debug-exit" convention, which test
 * guests use to end a run with a status of their choosing.
 *
 * An I/O region of 1, 2 or 4 bytes (PCs put it at port 0xf4). A write of
 * value v, of any accepted size (1 to 4 bytes) at any offset in the region,
 * asks for the run to end with exit status (v << 1) | 1: the status is
 * always odd, so a guest can never fake a plain "success" (0). As a process
 * exit status only its low 8 bits survive: v = 0x10 gives 0x21 (33).
 * Reads return 0 and do nothing.
 *
 * The device only records the request (debug_exit_requested()) and calls
 * the machine's callback, which stops the CPU that wrote; it never exits
 * the process itself, so the machine can flush, trace and free first.
 */
#ifndef MMUSIM_DEVICES_DEBUG_EXIT_H
#define MMUSIM_DEVICES_DEBUG_EXIT_H

#include "softmmu/region.h"

#define DEBUG_EXIT_PC_PORT 0xf4u

typedef struct DebugExit DebugExit;

/* Called on each write, with the status the run should end with. */
typedef void (*DebugExitFn)(void *opaque, uint64_t value, int64_t status, MemAttrs attrs);

/* name NULL: "debug-exit". size: 1, 2 or 4 bytes of I/O space. */
DebugExit *debug_exit_new(const char *name, unsigned size, DebugExitFn fn, void *opaque,
                          GError **err);
void debug_exit_free(DebugExit *d);

/* The region to map at the port (borrowed). */
MemRegion *debug_exit_region(DebugExit *d);

/* Has the guest asked to exit? If so, *status (if non-NULL) is
 * (v << 1) | 1 for the first value v written. */
bool debug_exit_requested(const DebugExit *d, int64_t *status);
/* Forget a request (a machine that keeps running after one). */
void debug_exit_clear(DebugExit *d);

#endif
