/*
 * Reading image files for the loaders (image_file.h).
 */
#include "machines/image_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

static bool fail(GError **err, GQuark domain, int code, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static bool fail(GError **err, GQuark domain, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(err, domain, code, msg);
    g_free(msg);
    return false;
}

bool image_file_read(const char *path, uint64_t max_size, uint8_t **data, size_t *len,
                     GQuark domain, int io_code, GError **err)
{
    struct stat st;
    int fd = open(path, O_RDONLY);

    *data = NULL;
    *len = 0;
    if (fd < 0) {
        return fail(err, domain, io_code, "%s: cannot open: %s", path, g_strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, domain, io_code, "%s: cannot stat: %s", path, g_strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return fail(err, domain, io_code, "%s: is a directory, not a file", path);
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_size) {
        close(fd);
        return fail(err, domain, io_code, "%s: too large (%" PRIu64 " bytes, at most %" PRIu64 ")",
                    path, (uint64_t)st.st_size, max_size);
    }
    /* Read to the end (the size of a pipe or device is not known ahead). */
    GByteArray *buf = g_byte_array_new();
    uint8_t chunk[65536];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            g_byte_array_free(buf, TRUE);
            return fail(err, domain, io_code, "%s: cannot read: %s", path, g_strerror(e));
        }
        if (n == 0) {
            break;
        }
        if (buf->len + (uint64_t)n > max_size) {
            close(fd);
            g_byte_array_free(buf, TRUE);
            return fail(err, domain, io_code, "%s: too large (more than %" PRIu64 " bytes)", path,
                        max_size);
        }
        g_byte_array_append(buf, chunk, (guint)n);
    }
    close(fd);
    *len = buf->len;
    *data = g_byte_array_free(buf, FALSE);
    return true;
}
