/*
 * Devices the benchmarks share. A "filler" is an MMIO region that only makes
 * a machine map bigger: reads return the offset, writes are ignored, every
 * size from 1 to 8 bytes is taken natively.
 */
#ifndef MMUSIM_BENCH_DEVICES_H
#define MMUSIM_BENCH_DEVICES_H

#include "softmmu/region.h"

static inline MemResult bench_filler_read(void *opaque, uint64_t offset, uint64_t *value,
                                          unsigned size, MemAttrs attrs)
{
    (void)opaque;
    (void)size;
    (void)attrs;
    *value = offset;
    return MEM_OK;
}

static inline MemResult bench_filler_write(void *opaque, uint64_t offset, uint64_t value,
                                           unsigned size, MemAttrs attrs)
{
    (void)opaque;
    (void)offset;
    (void)value;
    (void)size;
    (void)attrs;
    return MEM_OK;
}

static const MemRegionOps bench_filler_ops = {
    .read = bench_filler_read,
    .write = bench_filler_write,
    .endianness = MEM_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
    .impl = { .min_access_size = 1, .max_access_size = 8 },
};

#endif
