/* SPDX-License-Identifier: MIT */
/* tool.h -- what the command-line tools share: input, exit codes, version */
#ifndef E2_TOOL_H
#define E2_TOOL_H

#include "email2.h"

/* Largest document or password file a tool reads (bytes). */
#define TOOL_MAX_INPUT (16u * 1024 * 1024)

/*
 * Reads path ("-" is standard input) whole into a NUL-terminated buffer, at
 * most max bytes. Caller frees *buf_out. Errors: E2_EINVAL (cannot open or
 * read, too large, naming the path and the reason), E2_ENOMEM.
 */
enum e2_status tool_read_file(const char *path, size_t max, char **buf_out,
			      size_t *len_out, struct e2_err *err);

/* Prints "NAME (email2) VERSION" to stdout. */
void tool_print_version(const char *name);

/* Prints "NAME: MSG" to stderr for a failed err. */
void tool_print_error(const char *name, const struct e2_err *err);

#endif /* E2_TOOL_H */
