/* Result names, the error domain and the report channel. */
#include <stdarg.h>
#include <stdio.h>

#include "softmmu/mem_types.h"

G_DEFINE_QUARK(mmusim-memory-error-quark, mem_error)

const char *mem_result_name(MemResult r)
{
    switch (r) {
    case MEM_OK: return "ok";
    case MEM_DECODE_ERROR: return "decode error";
    case MEM_DEVICE_ERROR: return "device error";
    case MEM_ACCESS_ERROR: return "access error";
    }
    return "invalid result";
}

static void default_report(const char *message, void *opaque)
{
    g_log("mmusim", G_LOG_LEVEL_MESSAGE, "%s", message);
}

static MemReportFn report_fn = default_report;
static void *report_opaque;

void mem_set_report_handler(MemReportFn fn, void *opaque)
{
    report_fn = fn ? fn : default_report;
    report_opaque = fn ? opaque : NULL;
}

void mem_report(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    report_fn(msg, report_opaque);
    g_free(msg);
}
