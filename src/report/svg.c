/* Text buffer and the report's SVG charts. */
#include "report/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(struct report_buf *b, size_t more)
{
    if (b->nomem)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->nomem = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void report_buf_printf(struct report_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void report_buf_escape(struct report_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': report_buf_printf(b, "&amp;"); break;
        case '<': report_buf_printf(b, "&lt;"); break;
        case '>': report_buf_printf(b, "&gt;"); break;
        case '"': report_buf_printf(b, "&quot;"); break;
        default: report_buf_printf(b, "%c", *s); break;
        }
    }
}

void report_buf_free(struct report_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Plot area inside a chart of W x H pixels. */
enum { HW = 380, HH = 150, HX0 = 8, HX1 = 372, HY0 = 8, HY1 = 118 };

void report_svg_hist(struct report_buf *b, const struct report_hist *h, const char *kind,
                     const char *title)
{
    report_buf_printf(b, "<svg class=\"chart hist %s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                      "height=\"%d\" role=\"img\"><title>", kind, HW, HH, HW, HH);
    report_buf_escape(b, title);
    report_buf_printf(b, "</title><rect class=\"frame\" x=\"%d\" y=\"%d\" width=\"%d\" "
                      "height=\"%d\"/>", HX0, HY0, HX1 - HX0, HY1 - HY0);
    if (h->has_range && h->count > 0) {
        double top = 0.0;
        for (int i = 0; i < REPORT_HIST_BINS; i++)
            top = fmax(top, log1p((double)h->bins[i]));
        double bw = (double)(HX1 - HX0) / REPORT_HIST_BINS;
        for (int i = 0; i < REPORT_HIST_BINS; i++) {
            if (h->bins[i] == 0)
                continue;
            double y = (HY1 - HY0) * log1p((double)h->bins[i]) / top;
            double x0 = h->lo + (h->hi - h->lo) * i / REPORT_HIST_BINS;
            report_buf_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"%.1f\"><title>from %.4g: %lld</title></rect>",
                              HX0 + bw * i, HY1 - y, bw, y, x0, (long long)h->bins[i]);
        }
        if (h->has_clip) {
            double c[2] = {h->clip_lo, h->clip_hi};
            for (int k = 0; k < 2; k++) {
                double x = HX0 + (HX1 - HX0) * (c[k] - h->lo) / (h->hi - h->lo);
                report_buf_printf(b, "<line class=\"clip\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
                                  "y2=\"%d\"><title>int8 %s %.4g</title></line>", x, HY0 - 4,
                                  x, HY1 + 4, k ? "max" : "min", c[k]);
            }
        }
    }
    report_buf_printf(b, "<text x=\"%d\" y=\"%d\">%.4g</text>"
                      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>"
                      "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", HX0, HY1 + 16,
                      h->has_range ? h->lo : 0.0, HX1, HY1 + 16, h->has_range ? h->hi : 0.0,
                      (HX0 + HX1) / 2, HY1 + 30);
    report_buf_escape(b, title);
    report_buf_printf(b, "</text></svg>\n");
}

enum { BW = 900, BH = 220, BX0 = 40, BX1 = 892, BY0 = 10, BY1 = 190 };

void report_svg_bars(struct report_buf *b, int n, const char *const *labels,
                     const double *values, const char *unit, const char *kind,
                     const char *prefix)
{
    double top = 0.0, bottom = 0.0;
    for (int i = 0; i < n; i++)
        if (isfinite(values[i])) {
            top = fmax(top, values[i]);
            bottom = fmin(bottom, values[i]);
        }
    if (!(top > bottom))
        top = bottom + 1.0;
    double span = top - bottom, w = n > 0 ? (double)(BX1 - BX0) / n : 0.0;
    double zero = BY1 - (BY1 - BY0) * (0.0 - bottom) / span;
    report_buf_printf(b, "<svg class=\"chart bars %s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                      "height=\"%d\" role=\"img\"><title>%s by layer in graph order</title>"
                      "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                      "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>"
                      "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">0</text>", kind, BW, BH,
                      BW, BH, unit, BX0, zero, BX1, zero, BX0 - 4, BY0 + 8, top, BX0 - 4,
                      zero + 4);
    for (int i = 0; i < n; i++) {
        double v = values[i], y0 = zero, y1 = zero;
        const char *cls = "bar";
        if (isnan(v)) {
            cls = "bar nan";
        } else if (isinf(v)) {
            cls = "bar inf";
            y1 = v > 0 ? BY0 : BY1;
        } else {
            y1 = BY1 - (BY1 - BY0) * (v - bottom) / span;
        }
        double y = fmin(y0, y1), h = fabs(y1 - y0);
        report_buf_printf(b, "<a href=\"#%s-%d\"><rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" "
                          "width=\"%.1f\" height=\"%.1f\"><title>%d ", prefix, i, cls,
                          BX0 + w * i + w * 0.1, y, w * 0.8, h, i + 1);
        report_buf_escape(b, labels[i]);
        report_buf_printf(b, ": %.4g %s</title></rect></a>", v, unit);
        if (n <= 40)
            report_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>",
                              BX0 + w * (i + 0.5), BY1 + 14, i + 1);
    }
    report_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">layers in graph "
                      "order (%s)</text></svg>\n", (BX0 + BX1) / 2, BY1 + 28, unit);
}
