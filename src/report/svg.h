/* A growing text buffer and the inline SVG charts of quanta report, drawn
 * here (no library): a histogram with the clipping range marked, and a bar
 * chart in a given order. Coordinates are printed with one decimal, so the
 * same numbers always give the same bytes. */
#ifndef QUANTA_REPORT_SVG_H
#define QUANTA_REPORT_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include "report/detail.h"

struct report_buf {
    char *data;
    size_t len, cap;
    bool nomem;                 /* an append failed; the text is cut short */
};

void report_buf_printf(struct report_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s with & < > " escaped, for HTML text and attribute values. */
void report_buf_escape(struct report_buf *b, const char *s);
void report_buf_free(struct report_buf *b);

/* <svg class="chart hist KIND">: one <rect class="bar"> per non-empty bin
 * (height by log(1 + count)) and, when h has a clipping range, two <line
 * class="clip">. title names the chart for screen readers and tooltips. */
void report_svg_hist(struct report_buf *b, const struct report_hist *h, const char *kind,
                     const char *title);

/* <svg class="chart bars KIND">: one <rect class="bar"> per value, in
 * order, each linked to #PREFIX-i with a tooltip of its label and value.
 * +inf draws a full bar of class "bar inf", NaN an empty one of class "bar
 * nan". */
void report_svg_bars(struct report_buf *b, int n, const char *const *labels,
                     const double *values, const char *unit, const char *kind,
                     const char *prefix);

#endif
