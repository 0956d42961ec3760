/* A one-line progress display for long runs (calibration, eval, the mixed-
 * precision search): "label: done/total samples (P%)" rewritten in place
 * with \r on a terminal, at most PROGRESS_HZ times a second, and erased at
 * the end, so a later message starts on a clean line. The CLI decides
 * whether to show it (progress_wanted: stderr is a terminal and no
 * --quiet); a progress whose stream is NULL does nothing, so the library
 * can advance it unconditionally. */
#ifndef QUANTA_BASE_PROGRESS_H
#define QUANTA_BASE_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_HZ 10

struct progress {
    FILE *out;                  /* NULL: silent */
    char label[128];
    double last;                /* monotonic seconds of the last line, < 0: none yet */
    int width;                  /* characters of the line on screen */
};

/* True when a progress line belongs on stream: a terminal, and not quiet. */
bool progress_wanted(FILE *stream, bool quiet);
/* out NULL: a silent progress. */
void progress_init(struct progress *p, FILE *out);
/* Names what the next progress_show calls count (printf-style); the next
 * show is drawn at once whatever the rate limit. p may be NULL. */
void progress_label(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shows done of total (total <= 0: no percentage), rate-limited. p may be NULL. */
void progress_show(struct progress *p, int64_t done, int64_t total);
/* Erases the line (if one is shown). p may be NULL. */
void progress_clear(struct progress *p);

#endif
