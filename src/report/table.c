/* A tiny aligned-column table: cells are formatted strings collected row
 * by row, printed once all widths are known. */
#include "report/report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct report_table {
    int n_cols;
    char **headers;             /* n_cols, or NULL */
    enum report_align *align;   /* n_cols */
    char **cells;               /* row-major */
    size_t n_cells, cap_cells;
    bool failed;                /* an allocation failed */
};

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

struct report_table *report_table_create(int n_cols, const char *const *headers,
                                         const enum report_align *align)
{
    if (n_cols < 1)
        return NULL;
    struct report_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_cols = n_cols;
    t->align = calloc((size_t)n_cols, sizeof *t->align);
    if (!t->align)
        goto fail;
    if (align)
        memcpy(t->align, align, (size_t)n_cols * sizeof *align);
    if (headers) {
        t->headers = calloc((size_t)n_cols, sizeof *t->headers);
        if (!t->headers)
            goto fail;
        for (int c = 0; c < n_cols; c++)
            if (!(t->headers[c] = copy_string(headers[c] ? headers[c] : "")))
                goto fail;
    }
    return t;
fail:
    report_table_free(t);
    return NULL;
}

void report_table_add(struct report_table *t, const char *fmt, ...)
{
    if (!t || t->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *cell = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!cell)
        goto fail;
    va_start(ap, fmt);
    vsnprintf(cell, (size_t)len + 1, fmt, ap);
    va_end(ap);
    if (t->n_cells == t->cap_cells) {
        size_t cap = t->cap_cells ? 2 * t->cap_cells : 64;
        char **cells = realloc(t->cells, cap * sizeof *cells);
        if (!cells) {
            free(cell);
            goto fail;
        }
        t->cells = cells;
        t->cap_cells = cap;
    }
    t->cells[t->n_cells++] = cell;
    return;
fail:
    t->failed = true;
}

static void print_row(const struct report_table *t, const size_t *width, char *const *row,
                      size_t n, FILE *out)
{
    /* the last non-empty cell decides where the line ends (no trailing spaces) */
    size_t last = 0;
    for (size_t c = 0; c < n; c++)
        if (row[c][0])
            last = c + 1;
    for (size_t c = 0; c < last; c++) {
        size_t len = strlen(row[c]), pad = width[c] - len;
        if (c > 0)
            fputs("  ", out);
        if (t->align[c] == REPORT_ALIGN_RIGHT)
            fprintf(out, "%*s%s", (int)pad, "", row[c]);
        else if (c + 1 < last)
            fprintf(out, "%s%*s", row[c], (int)pad, "");
        else
            fputs(row[c], out);
    }
    fputc('\n', out);
}

enum quanta_status report_table_print(const struct report_table *t, FILE *out)
{
    if (!t)
        return QUANTA_ERR_INTERNAL;
    if (t->failed)
        return QUANTA_ERR_NOMEM;
    size_t n_cols = (size_t)t->n_cols;
    size_t *width = calloc(n_cols, sizeof *width);
    char **row = calloc(n_cols, sizeof *row);
    if (!width || !row) {
        free(width);
        free(row);
        return QUANTA_ERR_NOMEM;
    }
    for (size_t c = 0; c < n_cols; c++)
        if (t->headers)
            width[c] = strlen(t->headers[c]);
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t len = strlen(t->cells[i]);
        if (len > width[i % n_cols])
            width[i % n_cols] = len;
    }
    if (t->headers)
        print_row(t, width, t->headers, n_cols, out);
    static char empty[] = "";
    for (size_t i = 0; i < t->n_cells; i += n_cols) {
        for (size_t c = 0; c < n_cols; c++)
            row[c] = i + c < t->n_cells ? t->cells[i + c] : empty;
        print_row(t, width, row, n_cols, out);
    }
    free(width);
    free(row);
    return QUANTA_OK;
}

void report_table_free(struct report_table *t)
{
    if (!t)
        return;
    if (t->headers)
        for (int c = 0; c < t->n_cols; c++)
            free(t->headers[c]);
    free(t->headers);
    for (size_t i = 0; i < t->n_cells; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->align);
    free(t);
}
