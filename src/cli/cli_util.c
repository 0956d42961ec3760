#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int cli_report(const struct quanta_error *err)
{
    fprintf(stderr, "quanta: %s\n", err->message[0] ? err->message : quanta_status_string(err->status));
    return err->status == QUANTA_OK ? QUANTA_ERR_INTERNAL : (int)err->status;
}

int cli_usage_error(const char *command, const char *usage, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "quanta %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return QUANTA_ERR_USAGE;
}

int cli_help(const char *help)
{
    fputs(help, stdout);
    return 0;
}

bool cli_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_double(const char *text, double *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}
