#include "quanta/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *quanta_status_string(enum quanta_status status)
{
    switch (status) {
#define QUANTA_STATUS_CASE(name, code, text) \
    case name:                               \
        return text;
        QUANTA_STATUS_LIST(QUANTA_STATUS_CASE)
#undef QUANTA_STATUS_CASE
    }
    return "unknown status";
}

enum quanta_status quanta_fail(struct quanta_error *err, enum quanta_status status,
                               const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

enum quanta_status quanta_error_prefix(struct quanta_error *err, const char *fmt, ...)
{
    if (!err)
        return QUANTA_ERR_INTERNAL;
    char prefix[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* truncation is acceptable: messages are one line for a human */
    char joined[2 * QUANTA_ERROR_MESSAGE_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->message);
    size_t n = strlen(joined);
    if (n >= sizeof err->message)
        n = sizeof err->message - 1;
    memcpy(err->message, joined, n);
    err->message[n] = '\0';
    return err->status;
}

void quanta_error_clear(struct quanta_error *err)
{
    if (err) {
        err->status = QUANTA_OK;
        err->message[0] = '\0';
    }
}
