/*
 * Reading image files (kernels, initrds, ROMs, modules) for the machines'
 * loaders: the whole file into memory, bounded, with messages that name
 * the file and the problem.
 */
#ifndef MMUSIM_MACHINES_IMAGE_FILE_H
#define MMUSIM_MACHINES_IMAGE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* Read all of `path` (a regular file, or a pipe/device read to its end) if
 * it holds at most max_size bytes. On failure, an error in `domain` with
 * code `io_code`: "PATH: cannot open: ...", "PATH: is a directory, not a
 * file", "PATH: too large (...)", "PATH: cannot read: ...". *data is
 * g_malloc'd (NULL and *len 0 on failure). */
bool image_file_read(const char *path, uint64_t max_size, uint8_t **data, size_t *len,
                     GQuark domain, int io_code, GError **err);

#endif
