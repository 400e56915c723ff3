/*
 * Running the mmusim binary from guest-level tests (test_guest_x86.c,
 * test_guest_arm.c): capture stdout, stderr and the exit status, and the
 * assertions on them. Include after <check.h>; MMUSIM_BINARY names the
 * binary.
 */
#ifndef MMUSIM_TESTS_GUEST_RUN_H
#define MMUSIM_TESTS_GUEST_RUN_H

#include <check.h>
#include <string.h>
#include <sys/wait.h>

#include <glib.h>

#ifndef MMUSIM_BINARY
#error "MMUSIM_BINARY must name the mmusim binary"
#endif

typedef struct Run {
    char *out;
    char *err;
    int status;  /* exit status, or -1 if it did not exit normally */
} Run;

/* Run MMUSIM_BINARY with the arguments of `prefix` then those of `args`
 * (both NULL-terminated; a later option of the same name wins). */
static inline Run guest_run(const char *const *prefix, const char *const *args)
{
    GPtrArray *argv = g_ptr_array_new();
    GError *error = NULL;
    Run r = { NULL, NULL, -1 };
    int wait_status = 0;

    g_ptr_array_add(argv, (char *)MMUSIM_BINARY);
    for (const char *const *a = prefix; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    for (const char *const *a = args; *a; a++) {
        g_ptr_array_add(argv, (char *)*a);
    }
    g_ptr_array_add(argv, NULL);
    gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_STDIN_FROM_DEV_NULL,
                               NULL, NULL, &r.out, &r.err, &wait_status, &error);
    ck_assert_msg(ok, "cannot run %s: %s", MMUSIM_BINARY, error ? error->message : "?");
    g_ptr_array_free(argv, TRUE);
    if (WIFEXITED(wait_status)) {
        r.status = WEXITSTATUS(wait_status);
    }
    return r;
}

static inline void run_clear(Run *r)
{
    g_free(r->out);
    g_free(r->err);
}

/* Outputs in messages are cut short: Check refuses very long messages. */
#define ASSERT_HAS(text, needle)                                                        \
    ck_assert_msg(strstr((text), (needle)) != NULL, "expected \"%s\" in:\n%.3000s",      \
                  (needle), (text))
#define ASSERT_STATUS(r, want)                                                          \
    ck_assert_msg((r).status == (want),                                                 \
                  "exit status %d (0x%x), want %d\nstdout:\n%.3000s\nstderr:\n%.2000s",  \
                  (r).status, (unsigned)(r).status, (want), (r).out, (r).err)
#define ASSERT_OUT(r, want)                                                             \
    ck_assert_msg(strcmp((r).out, (want)) == 0,                                         \
                  "console output differs (status %d).\nwant:\n%s\ngot:\n%.3000s\n"     \
                  "stderr:\n%.2000s",                                                   \
                  (r).status, (want), (r).out, (r).err)

#endif
