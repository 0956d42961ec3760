/* The progress line (progress.h). Plain stdio: \r to rewrite, spaces to
 * erase what a longer line left, no terminal escape sequences. */
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "base/progress.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool progress_wanted(FILE *stream, bool quiet)
{
    return !quiet && stream && isatty(fileno(stream));
}

void progress_init(struct progress *p, FILE *out)
{
    p->out = out;
    p->label[0] = '\0';
    p->last = -1.0;
    p->width = 0;
}

void progress_label(struct progress *p, const char *fmt, ...)
{
    if (!p || !p->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->label, sizeof p->label, fmt, ap);
    va_end(ap);
    p->last = -1.0;
}

void progress_show(struct progress *p, int64_t done, int64_t total)
{
    if (!p || !p->out)
        return;
    double t = now_seconds();
    if (p->last >= 0.0 && t - p->last < 1.0 / PROGRESS_HZ)
        return;
    p->last = t;
    char line[192];
    int n;
    if (total > 0)
        n = snprintf(line, sizeof line, "%s: %lld/%lld (%d%%)", p->label, (long long)done,
                     (long long)total, (int)(100 * done / total));
    else
        n = snprintf(line, sizeof line, "%s: %lld", p->label, (long long)done);
    if (n < 0)
        return;
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    /* pad with spaces over the rest of a longer previous line */
    fprintf(p->out, "\r%s%*s", line, p->width > n ? p->width - n : 0, "");
    fflush(p->out);
    p->width = n;
}

void progress_clear(struct progress *p)
{
    if (!p || !p->out || p->width == 0)
        return;
    fprintf(p->out, "\r%*s\r", p->width, "");
    fflush(p->out);
    p->width = 0;
    p->last = -1.0;
}
