/* quanta report's page: one self-contained HTML file (styles, script and
 * SVG charts inline, nothing fetched) comparing a float model with its
 * int8 copy after report_run. Every number is in static HTML tables; the
 * script only sorts them. */
#ifndef QUANTA_REPORT_HTML_H
#define QUANTA_REPORT_HTML_H

#include "report/eval_run.h"

struct report_html_options {
    bool latency;               /* show milliseconds per sample (they vary run to run) */
};

/* Writes the page for r (two models, run with per_layer, histograms and
 * changes) to path through a temporary file renamed into place. The same
 * run gives the same bytes, except the latency when o->latency. */
enum quanta_status report_html_write(const struct report_run *r, const char *path,
                                     const struct report_html_options *o,
                                     struct quanta_error *err);

#endif
