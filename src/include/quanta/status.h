/* Status codes and the caller-owned error buffer.
 *
 * The library never prints and never exits: every fallible function returns
 * an enum quanta_status and, on failure, fills a struct quanta_error with a
 * one-line message (lowercase, no full stop, naming the file or node and the
 * rule that was broken). The CLI maps the status to the process exit code,
 * so the numeric values below ARE the documented exit codes (man quanta(1)).
 */
#ifndef QUANTA_STATUS_H
#define QUANTA_STATUS_H

#include <stddef.h>

#include "quanta/quanta_types.h" /* enum quanta_status, struct quanta_error */

/* Short description of a status ("invalid input file"). */
const char *quanta_status_string(enum quanta_status status);

/* Records status and a printf-style message in err (which may be NULL) and
 * returns status, so callers can write `return quanta_fail(err, ...);`.
 * A message already recorded is replaced. */
enum quanta_status quanta_fail(struct quanta_error *err, enum quanta_status status,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with "prefix: " (for context such as
 * a file name added by an outer layer). Returns err->status. */
enum quanta_status quanta_error_prefix(struct quanta_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void quanta_error_clear(struct quanta_error *err);

#endif
