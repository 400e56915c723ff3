/*
 * Basic types shared by every part of the memory core: access results,
 * access attributes, endianness, and the error domain for API misuse.
 */
#ifndef MMUSIM_SOFTMMU_MEM_TYPES_H
#define MMUSIM_SOFTMMU_MEM_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/*
 * The outcome of one guest-visible access (memory-semantics.md §4).
 * The memory core never turns these into faults itself: the target (or a
 * device doing DMA) decides what the real machine does with each.
 */
typedef enum MemResult {
    MEM_OK = 0,
    MEM_DECODE_ERROR,  /* nothing is mapped at the address */
    MEM_DEVICE_ERROR,  /* a device callback refused the access */
    MEM_ACCESS_ERROR,  /* size, alignment or permission (ROM write) not accepted */
} MemResult;

const char *mem_result_name(MemResult r);

typedef enum MemRequesterType {
    MEM_REQ_CPU = 0,
    MEM_REQ_DEVICE = 1,
} MemRequesterType;

/* Who is accessing, and how. Passed by value on every access. */
typedef struct MemAttrs {
    uint32_t requester;      /* CPU index or device id */
    uint8_t requester_type;  /* MemRequesterType */
    bool smm;                /* x86 System Management Mode */
    bool secure;             /* Arm secure state */
    bool debug;              /* debugger/introspection access: no side effects wanted */
} MemAttrs;

static inline MemAttrs mem_attrs_cpu(uint32_t cpu)
{
    return (MemAttrs){ .requester = cpu, .requester_type = MEM_REQ_CPU };
}

static inline MemAttrs mem_attrs_device(uint32_t dev)
{
    return (MemAttrs){ .requester = dev, .requester_type = MEM_REQ_DEVICE };
}

/*
 * Byte order. MEM_TARGET_ENDIAN in a device's ops means "the order of the
 * target CPU"; it is resolved through the address space the access came
 * from (as_set_target_endian()).
 */
typedef enum MemEndian {
    MEM_LITTLE_ENDIAN = 0,
    MEM_BIG_ENDIAN = 1,
    MEM_TARGET_ENDIAN = 2,
} MemEndian;

/* Error domain for API misuse (never for guest-controlled values). */
#define MEM_ERROR (mem_error_quark())
GQuark mem_error_quark(void);

typedef enum MemErrorCode {
    MEM_ERROR_INVALID_ARGUMENT,  /* zero or overflowing size, bad kind for the call */
    MEM_ERROR_HAS_PARENT,        /* region already belongs to a container */
    MEM_ERROR_CYCLE,             /* would make a region its own ancestor */
    MEM_ERROR_NOT_CHILD,         /* region is not a child of that container */
    MEM_ERROR_NO_MEMORY,         /* host allocation failed */
} MemErrorCode;

/*
 * Sizes are 64-bit; the value MEM_SIZE_FULL (UINT64_MAX) means 2^64, the
 * whole address space. A region of exactly 2^64 - 1 bytes cannot be
 * expressed, as in QEMU.
 */
#define MEM_SIZE_FULL UINT64_MAX

/*
 * Reports: overlaps, dropped ROM writes and similar "clip, report, go on"
 * events (memory-semantics.md §2). The default handler logs with
 * g_message() under the "mmusim" domain; tests install their own.
 */
typedef void (*MemReportFn)(const char *message, void *opaque);
/* fn == NULL restores the default handler. */
void mem_set_report_handler(MemReportFn fn, void *opaque);
void mem_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif
